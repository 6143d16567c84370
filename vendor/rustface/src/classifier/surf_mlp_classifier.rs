// This file is part of the open-source port of SeetaFace engine, which originally includes three modules:
//      SeetaFace Detection, SeetaFace Alignment, and SeetaFace Identification.
//
// This file is part of the SeetaFace Detection module, containing codes implementing the face detection method described in the following paper:
//
//      Funnel-structured cascade for multi-view face detection with alignment awareness,
//      Shuzhe Wu, Meina Kan, Zhenliang He, Shiguang Shan, Xilin Chen.
//      In Neurocomputing (under review)
//
// Copyright (C) 2016, Visual Information Processing and Learning (VIPL) group,
// Institute of Computing Technology, Chinese Academy of Sciences, Beijing, China.
//
// As an open-source face recognition engine: you can redistribute SeetaFace source codes
// and/or modify it under the terms of the BSD 2-Clause License.
//
// You should have received a copy of the BSD 2-Clause License along with the software.
// If not, see < https://opensource.org/licenses/BSD-2-Clause>.

use super::Score;
use crate::feat::SurfMlpFeatureMap;
use crate::math;
use crate::Rectangle;
use std::mem;

use wide::f32x8;

struct TwoWayBuffer {
    input: Vec<f32>,
    output: Vec<f32>,
}

impl TwoWayBuffer {
    #[inline]
    fn new() -> Self {
        TwoWayBuffer {
            input: Vec::new(),
            output: Vec::new(),
        }
    }

    #[inline]
    fn get_buffers(&mut self) -> (&mut Vec<f32>, &mut Vec<f32>) {
        (&mut self.input, &mut self.output)
    }

    #[inline]
    fn get_input(&mut self) -> &mut Vec<f32> {
        &mut self.input
    }

    #[inline]
    fn swap(&mut self) {
        mem::swap(&mut self.input, &mut self.output);
    }
}

pub struct SurfMlpBuffers {
    input: Vec<f32>,
    output: Vec<f32>,
    layers: TwoWayBuffer,
}

impl SurfMlpBuffers {
    #[inline]
    pub fn new() -> Self {
        SurfMlpBuffers {
            input: Vec::new(),
            output: Vec::new(),
            layers: TwoWayBuffer::new(),
        }
    }
}

#[derive(Clone)]
pub struct SurfMlpClassifier {
    feature_ids: Vec<i32>,
    thresh: f32,
    layers: Vec<Layer>,
}

impl SurfMlpClassifier {
    #[inline]
    pub fn new() -> Self {
        SurfMlpClassifier {
            feature_ids: Vec::new(),
            thresh: 0.0,
            layers: Vec::new(),
        }
    }

    #[inline]
    pub fn add_feature_id(&mut self, feature_id: i32) {
        self.feature_ids.push(feature_id);
    }

    #[inline]
    pub fn set_threshold(&mut self, thresh: f32) {
        self.thresh = thresh;
    }

    pub fn add_layer(
        &mut self,
        input_dim: usize,
        output_dim: usize,
        weights: Vec<f32>,
        biases: Vec<f32>,
    ) {
        self.layers.push(Layer::new(
            input_dim,
            output_dim,
            weights,
            biases,
            Self::relu,
        ))
    }

    pub fn add_output_layer(
        &mut self,
        input_dim: usize,
        output_dim: usize,
        weights: Vec<f32>,
        biases: Vec<f32>,
    ) {
        self.layers.push(Layer::new(
            input_dim,
            output_dim,
            weights,
            biases,
            Self::sigmoid,
        ))
    }

    #[inline]
    fn relu(x: f32) -> f32 {
        if x > 0.0 {
            x
        } else {
            0.0
        }
    }

    #[inline]
    fn sigmoid(x: f32) -> f32 {
        1.0 / (1.0 + (-x).exp())
    }

    fn compute_internal(&self, bufs: &mut SurfMlpBuffers) {
        bufs.layers
            .get_input()
            .resize(self.layers[0].output_size(), 0.0);
        self.layers[0].compute(&bufs.input, bufs.layers.get_input());

        for i in 1..(self.layers.len() - 1) {
            {
                let layer = &self.layers[i];
                let (input_buf, output_buf) = bufs.layers.get_buffers();
                output_buf.resize(layer.output_size(), 0.0);
                layer.compute(input_buf, output_buf);
            }
            bufs.layers.swap();
        }

        let last_layer = &self.layers[self.layers.len() - 1];
        last_layer.compute(bufs.layers.get_input(), &mut bufs.output);
    }
}

#[derive(Clone)]
struct Layer {
    input_dim: usize,
    output_dim: usize,
    weights: Vec<f32>,
    /// `weights` regrouped for `compute`: for each block of 8 outputs, for each input, the 8
    /// outputs' weights (zero past `output_dim`).
    weights_by_block: Vec<f32x8>,
    biases: Vec<f32>,
    act_func: fn(f32) -> f32,
    /// `compute` on AVX registers: the CPU has them (checked once, in `new`).
    #[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
    avx: bool,
}

impl Layer {
    fn new(
        input_dim: usize,
        output_dim: usize,
        weights: Vec<f32>,
        biases: Vec<f32>,
        act_func: fn(f32) -> f32,
    ) -> Self {
        let blocks = (output_dim + 7) / 8;
        let mut weights_by_block = vec![f32x8::ZERO; blocks * input_dim];
        for b in 0..blocks {
            for i in 0..input_dim {
                let mut lanes = [0.0f32; 8];
                for (lane, w) in lanes.iter_mut().enumerate() {
                    let o = b * 8 + lane;
                    if o < output_dim {
                        *w = weights.get(o * input_dim + i).copied().unwrap_or(0.0);
                    }
                }
                weights_by_block[b * input_dim + i] = f32x8::new(lanes);
            }
        }
        #[cfg(target_arch = "x86_64")]
        let avx = std::arch::is_x86_feature_detected!("avx");
        #[cfg(not(target_arch = "x86_64"))]
        let avx = false;
        Layer {
            input_dim,
            output_dim,
            weights,
            weights_by_block,
            biases,
            act_func,
            avx,
        }
    }

    /// Each output is `act(sum_i(input[i] * w[o][i]) + bias[o])`, summed in input order
    /// from -0.0 as `Iterator::sum` does, but eight outputs at once, one per vector lane:
    /// each lane does the same multiplications and additions in the same order as the
    /// one-output-at-a-time loop (`compute_reference`), so the results are identical to
    /// the bit.
    ///
    /// With AVX (checked at run time, once per layer) each block of eight is one 256-bit register instead of
    /// two SSE ones: the same operations per lane, so the same bits again.
    fn compute(&self, input: &[f32], output: &mut [f32]) {
        #[cfg(target_arch = "x86_64")]
        if self.avx {
            // SAFETY: `avx` is only set where the CPU has AVX (`new`).
            return unsafe { self.compute_avx(input, output) };
        }
        self.compute_sse(input, output)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx")]
    fn compute_avx(&self, input: &[f32], output: &mut [f32]) {
        use std::arch::x86_64::*;
        let n = self.input_dim.min(input.len());
        for (b, (bias8, out8)) in self.biases.chunks(8).zip(output.chunks_mut(8)).enumerate() {
            let w = &self.weights_by_block[b * self.input_dim..b * self.input_dim + n];
            let mut acc = _mm256_set1_ps(-0.0);
            for (&x, w8) in input[..n].iter().zip(w) {
                // SAFETY: an `f32x8` is eight contiguous `f32`s.
                let w8 = unsafe { _mm256_loadu_ps((w8 as *const f32x8).cast::<f32>()) };
                acc = _mm256_add_ps(acc, _mm256_mul_ps(_mm256_set1_ps(x), w8));
            }
            let mut lanes = [0.0f32; 8];
            // SAFETY: `lanes` holds eight `f32`s.
            unsafe { _mm256_storeu_ps(lanes.as_mut_ptr(), acc) };
            for ((o, &bias), &a) in out8.iter_mut().zip(bias8).zip(&lanes) {
                *o = (self.act_func)(a + bias);
            }
        }
    }

    fn compute_sse(&self, input: &[f32], output: &mut [f32]) {
        let n = self.input_dim.min(input.len());
        for (b, (bias8, out8)) in self.biases.chunks(8).zip(output.chunks_mut(8)).enumerate() {
            let w = &self.weights_by_block[b * self.input_dim..b * self.input_dim + n];
            let mut acc = f32x8::splat(-0.0);
            for (&x, &w8) in input[..n].iter().zip(w) {
                acc += f32x8::splat(x) * w8;
            }
            let acc = acc.to_array();
            for ((o, &bias), &a) in out8.iter_mut().zip(bias8).zip(&acc) {
                *o = (self.act_func)(a + bias);
            }
        }
    }

    #[cfg(test)]
    fn compute_reference(&self, input: &[f32], output: &mut [f32]) {
        self.weights
            .chunks(self.input_dim)
            .zip(&self.biases)
            .zip(output)
            .for_each(|((weights, bias), output)| {
                let x = math::vector_inner_product(input, weights) + bias;
                *output = (self.act_func)(x);
            });
    }

    #[inline]
    fn input_size(&self) -> usize {
        self.input_dim
    }

    #[inline]
    fn output_size(&self) -> usize {
        self.output_dim
    }
}

impl SurfMlpClassifier {
    pub fn classify(
        &self,
        output: Option<&mut Vec<f32>>,
        bufs: &mut SurfMlpBuffers,
        feature_map: &mut SurfMlpFeatureMap,
        roi: Rectangle,
    ) -> Score {
        let input_layer = self.layers.get(0).expect("No layers");
        bufs.input.resize(input_layer.input_size(), 0.0);

        let num_layers = self.layers.len();
        let output_layer = self.layers.get(num_layers - 1).expect("No layers");
        bufs.output.resize(output_layer.output_size(), 0.0);

        {
            let mut dest = bufs.input.as_mut_ptr();
            unsafe {
                for &feature_id in &self.feature_ids[..] {
                    feature_map.get_feature_vector((feature_id - 1) as usize, dest, roi);
                    let offset = feature_map.get_feature_vector_dim(feature_id as usize);
                    dest = dest.offset(offset as isize);
                }
            }
        }

        self.compute_internal(bufs);

        let score = *bufs.output.get(0).expect("No score");
        let score = Score {
            positive: score > self.thresh,
            score,
        };

        if let Some(output) = output {
            output.clear();
            output.extend_from_slice(&bufs.output);
        }

        score
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocked_layer_matches_reference_to_the_bit() {
        let mut next = math::test_rng(7);
        // Uniform in [-1, 1).
        let mut lcg = || ((next() >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0;
        for &(input_dim, output_dim) in &[(1, 1), (3, 5), (8, 8), (17, 9), (64, 24), (200, 13)] {
            for act in [
                SurfMlpClassifier::relu as fn(f32) -> f32,
                SurfMlpClassifier::sigmoid,
            ] {
                let weights: Vec<f32> = (0..input_dim * output_dim).map(|_| lcg()).collect();
                let biases: Vec<f32> = (0..output_dim).map(|_| lcg()).collect();
                let layer = Layer::new(input_dim, output_dim, weights, biases, act);
                let mut input: Vec<f32> = (0..input_dim).map(|_| 100.0 * lcg()).collect();
                input[0] = -0.0;
                let (mut a, mut b) = (vec![0.0; output_dim], vec![0.0; output_dim]);
                layer.compute(&input, &mut a);
                layer.compute_reference(&input, &mut b);
                let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                assert_eq!(bits(&a), bits(&b), "{input_dim}x{output_dim}");
                // `compute` takes the AVX path where the CPU has it: the SSE one too.
                layer.compute_sse(&input, &mut a);
                assert_eq!(bits(&a), bits(&b), "{input_dim}x{output_dim}, SSE");
            }
        }
    }
}
