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

use std::cmp;

#[derive(Debug)]
pub struct ImageData<'a> {
    data: &'a [u8],
    width: u32,
    height: u32,
    num_channels: u32,
}

impl<'a> ImageData<'a> {
    #[inline]
    pub fn new(data: &'a [u8], width: u32, height: u32) -> Self {
        assert_eq!(data.len(), width as usize * height as usize);
        ImageData {
            data,
            width,
            height,
            num_channels: 1,
        }
    }

    #[inline]
    pub fn width(&self) -> u32 {
        self.width
    }

    #[inline]
    pub fn height(&self) -> u32 {
        self.height
    }

    #[inline]
    pub fn num_channels(&self) -> u32 {
        self.num_channels
    }

    #[inline]
    pub fn data(&self) -> &'a [u8] {
        self.data
    }
}

pub struct ImagePyramid {
    max_scale: f32,
    min_scale: f32,
    scale_factor: f32,
    scale_step: f32,
    width1x: u32,
    height1x: u32,
    width_scaled: u32,
    height_scaled: u32,
    img_buf: Vec<u8>,
    img_buf_scaled: Vec<u8>,
    img_buf_scaled_width: u32,
    img_buf_scaled_height: u32,
}

impl ImagePyramid {
    pub fn new() -> Self {
        let img_buf_scaled_width: u32 = 2;
        let img_buf_scaled_height: u32 = 2;

        ImagePyramid {
            max_scale: 1.0,
            min_scale: 1.0,
            scale_factor: 1.0,
            scale_step: 0.8,
            width1x: 0,
            height1x: 0,
            width_scaled: 0,
            height_scaled: 0,
            img_buf: Vec::new(),
            img_buf_scaled: Vec::with_capacity(
                (img_buf_scaled_width * img_buf_scaled_height) as usize,
            ),
            img_buf_scaled_width,
            img_buf_scaled_height,
        }
    }

    #[allow(dead_code)]
    pub fn set_max_scale(&mut self, max_scale: f32) {
        self.max_scale = max_scale;
        self.scale_factor = max_scale;
        self.update_buf_scaled();
    }

    #[inline]
    pub fn set_min_scale(&mut self, min_scale: f32) {
        self.min_scale = min_scale;
    }

    pub fn set_scale_step(&mut self, scale_step: f32) {
        if scale_step > 0.0 && scale_step <= 1.0 {
            self.scale_step = scale_step;
        }
    }

    #[inline]
    pub fn get_image_1x(&self) -> ImageData {
        ImageData::new(&self.img_buf, self.width1x, self.height1x)
    }

    pub fn set_image_1x(&mut self, img_data: &[u8], width: u32, height: u32) {
        self.width1x = width;
        self.height1x = height;

        self.img_buf.clear();
        self.img_buf.extend_from_slice(img_data);

        self.scale_factor = self.max_scale;
        self.update_buf_scaled();
    }

    fn update_buf_scaled(&mut self) {
        if self.width1x == 0 || self.height1x == 0 {
            return;
        }

        let max_width = (self.width1x as f32 * self.max_scale + 0.5) as u32;
        let max_height = (self.height1x as f32 * self.max_scale + 0.5) as u32;

        if max_width > self.img_buf_scaled_width || max_height > self.img_buf_scaled_height {
            self.img_buf_scaled_width = max_width;
            self.img_buf_scaled_height = max_height;
            self.img_buf_scaled = Vec::with_capacity((max_width * max_height) as usize);
        }
    }

    pub fn get_next_scale_image(&mut self) -> Option<(ImageData, f32)> {
        if self.scale_factor < self.min_scale {
            return None;
        }

        let scale_factor = self.scale_factor;
        self.width_scaled = (self.width1x as f32 * scale_factor) as u32;
        self.height_scaled = (self.height1x as f32 * scale_factor) as u32;

        let src = ImageData::new(&self.img_buf, self.width1x, self.height1x);
        resize_image(
            &src,
            &mut self.img_buf_scaled,
            self.width_scaled,
            self.height_scaled,
        );
        let img_scaled =
            ImageData::new(&self.img_buf_scaled, self.width_scaled, self.height_scaled);
        self.scale_factor *= self.scale_step;

        Some((img_scaled, scale_factor))
    }
}

/// Bilinear resize (SeetaFace's). The source coordinates and weights of each output column
/// and row are computed once, not per pixel, and each output row blends two source rows
/// interpolated across once: the same f64 operations in the same order as
/// `resize_image_reference`, so the same bytes, at a fraction of the cost.
pub fn resize_image(src: &ImageData, dest: &mut Vec<u8>, width: u32, height: u32) {
    dest.clear();

    if src.width() == width && src.height() == height {
        dest.extend_from_slice(src.data());
        return;
    }
    let (sw, sh) = (src.width() as usize, src.height() as usize);
    let (w, h) = (width as usize, height as usize);
    dest.resize(w * h, 0);
    if sw < 2 || sh < 2 || w == 0 || h == 0 {
        // The original reads past the image here; nothing sensible to reproduce.
        return;
    }
    let data = src.data();

    let lf_x_scl = f64::from(src.width()) / f64::from(width);
    let lf_y_scl = f64::from(src.height()) / f64::from(height);
    // Per output column: the left source column and the weights of it and its neighbour.
    let cols: Vec<(usize, f64, f64)> = (0..width)
        .map(|x| {
            let lf_x_s = lf_x_scl * f64::from(x);
            let n_x_s = cmp::min(lf_x_s as u32, src.width() - 2);
            let wx = lf_x_s - f64::from(n_x_s);
            (n_x_s as usize, 1.0 - wx, wx)
        })
        .collect();
    let across = |row: usize, out: &mut [f64]| {
        let r = &data[row * sw..(row + 1) * sw];
        for (o, &(c, w0, w1)) in out.iter_mut().zip(&cols) {
            debug_assert!(c + 1 < r.len());
            // SAFETY: c <= sw - 2 (the `min` above), so c and c + 1 are inside the row;
            // the two bounds checks per pixel were a third of the resize's instructions.
            let (a, b) = unsafe { (*r.get_unchecked(c), *r.get_unchecked(c + 1)) };
            *o = w0 * f64::from(a) + w1 * f64::from(b);
        }
    };
    let (mut top, mut bottom) = (vec![0.0f64; w], vec![0.0f64; w]);
    let mut have: Option<usize> = None;
    for (y, out) in dest.chunks_exact_mut(w).enumerate() {
        let lf_y_s = lf_y_scl * y as f64;
        let n_y_s = cmp::min(lf_y_s as u32, src.height() - 2) as usize;
        let wy = lf_y_s - n_y_s as f64;
        if have != Some(n_y_s) {
            if have == Some(n_y_s.wrapping_sub(1)) {
                std::mem::swap(&mut top, &mut bottom);
            } else {
                across(n_y_s, &mut top);
            }
            across(n_y_s + 1, &mut bottom);
            have = Some(n_y_s);
        }
        for ((o, &t), &b) in out.iter_mut().zip(&top).zip(&bottom) {
            *o = saturate_u8((1.0 - wy) * t + wy * b);
        }
    }
}

/// `v as u8` (NaN and below 0 to 0, above 255 to 255, else truncated), without the
/// branches of the general conversion: clamp, then truncate a value known to fit.
#[inline]
fn saturate_u8(v: f64) -> u8 {
    // `max` returns the other operand for NaN, so NaN becomes 0 as with `as`.
    let c = v.max(0.0).min(255.0);
    // SAFETY: c is finite and in [0, 255], so its truncation fits in a u8.
    unsafe { c.to_int_unchecked::<u8>() }
}

/// The original per-pixel loop, kept as the reference `resize_image` is tested against.
#[cfg(test)]
pub fn resize_image_reference(src: &ImageData, dest: &mut Vec<u8>, width: u32, height: u32) {
    dest.clear();

    if src.width() == width && src.height() == height {
        dest.extend_from_slice(src.data());
        return;
    }
    dest.resize(width as usize * height as usize, 0);
    let src_data = src.data();

    let lf_x_scl = f64::from(src.width()) / f64::from(width);
    let lf_y_scl = f64::from(src.height()) / f64::from(height);

    for y in 0..height {
        for x in 0..width {
            let lf_x_s = lf_x_scl * f64::from(x);
            let lf_y_s = lf_y_scl * f64::from(y);

            let n_x_s = cmp::min(lf_x_s as u32, src.width() - 2);
            let n_y_s = cmp::min(lf_y_s as u32, src.height() - 2);

            let lf_weight_x = lf_x_s - f64::from(n_x_s);
            let lf_weight_y = lf_y_s - f64::from(n_y_s);

            let at = |yy: u32, xx: u32| f64::from(src_data[(yy * src.width() + xx) as usize]);
            let d1 = at(n_y_s, n_x_s);
            let d2 = at(n_y_s, n_x_s + 1);
            let d3 = at(n_y_s + 1, n_x_s);
            let d4 = at(n_y_s + 1, n_x_s + 1);

            let dest_val = (1.0 - lf_weight_y) * ((1.0 - lf_weight_x) * d1 + lf_weight_x * d2)
                + lf_weight_y * ((1.0 - lf_weight_x) * d3 + lf_weight_x * d4);

            dest[(y * width + x) as usize] = dest_val as u8;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saturate_u8_is_as_u8() {
        for v in [
            f64::NAN,
            f64::NEG_INFINITY,
            -1e9,
            -0.5,
            -0.0,
            0.0,
            0.4,
            1.0,
            254.99,
            255.0,
            255.2,
            256.0,
            1e12,
            f64::INFINITY,
        ] {
            assert_eq!(saturate_u8(v), v as u8, "{v}");
        }
        for i in 0..100_000 {
            let v = -300.0 + i as f64 * 0.00731;
            assert_eq!(saturate_u8(v), v as u8, "{v}");
        }
    }

    #[test]
    fn resize_matches_reference_to_the_byte() {
        let mut rng = crate::math::test_rng(11);
        let mut next = || (rng() >> 33) as u32;
        for _ in 0..300 {
            let (sw, sh) = (2 + next() % 200, 2 + next() % 200);
            let (dw, dh) = (1 + next() % 220, 1 + next() % 220);
            let img: Vec<u8> = (0..sw * sh).map(|_| next() as u8).collect();
            let src = ImageData::new(&img, sw, sh);
            let (mut a, mut b) = (Vec::new(), Vec::new());
            resize_image(&src, &mut a, dw, dh);
            resize_image_reference(&src, &mut b, dw, dh);
            assert_eq!(a, b, "{sw}x{sh} -> {dw}x{dh}");
        }
    }
}
