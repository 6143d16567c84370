//! Eight `f32` lanes for the Lucas–Kanade kernel (`wide` or AVX), with lane sums in one
//! fixed order so both paths give the same bits. Thread: analysis.

use super::*;

/// Sum of 8 lanes in a fixed order (pairwise, as vector code reduces).
#[inline]
pub(super) fn lane_sum(v: &[f32; 8]) -> f32 {
    ((v[0] + v[4]) + (v[1] + v[5])) + ((v[2] + v[6]) + (v[3] + v[7]))
}

/// `lane_sum` of a vector: the library's own reduction may add in another order.
#[inline]
pub(super) fn lane_sum8(v: f32x8) -> f32 {
    lane_sum(&v.to_array())
}

/// `lane_sum8` of two vectors at once, in vector registers: the same additions in the same
/// order, so the same bits as two `lane_sum8`.
#[cfg(target_arch = "x86_64")]
#[inline]
pub(super) fn lane_sums2(u: f32x8, v: f32x8) -> (f32, f32) {
    use std::arch::x86_64::*;
    // SAFETY: SSE is part of the x86-64 baseline, and nothing here touches memory.
    unsafe {
        let (u, v) = (u.to_array(), v.to_array());
        let half = |a: &[f32; 8], i: usize| _mm_setr_ps(a[i], a[i + 1], a[i + 2], a[i + 3]);
        // a = [u0+u4, u1+u5, u2+u6, u3+u7], b likewise for v.
        let a = _mm_add_ps(half(&u, 0), half(&u, 4));
        let b = _mm_add_ps(half(&v, 0), half(&v, 4));
        reduce_halves(a, b)
    }
}

/// The rest of `lane_sums2` from `a = [u0+u4, u1+u5, u2+u6, u3+u7]` and `b` likewise.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
pub(super) fn reduce_halves(
    a: std::arch::x86_64::__m128,
    b: std::arch::x86_64::__m128,
) -> (f32, f32) {
    use std::arch::x86_64::*;
    // SAFETY: SSE is part of the x86-64 baseline, and nothing here touches memory.
    unsafe {
        // s = [a0+a1, a2+a3, b0+b1, b2+b3]
        let s = _mm_add_ps(
            _mm_shuffle_ps::<0b10_00_10_00>(a, b),
            _mm_shuffle_ps::<0b11_01_11_01>(a, b),
        );
        // t = [s0+s1, _, s2+s3, _]
        let t = _mm_add_ps(s, _mm_shuffle_ps::<0b10_11_00_01>(s, s));
        (_mm_cvtss_f32(t), _mm_cvtss_f32(_mm_movehl_ps(t, t)))
    }
}

#[cfg(not(target_arch = "x86_64"))]
#[inline]
pub(super) fn lane_sums2(u: f32x8, v: f32x8) -> (f32, f32) {
    (lane_sum8(u), lane_sum8(v))
}

/// Whether this CPU runs AVX instructions.
pub(super) fn has_avx() -> bool {
    #[cfg(target_arch = "x86_64")]
    return std::arch::is_x86_feature_detected!("avx");
    #[cfg(not(target_arch = "x86_64"))]
    false
}

/// Eight `f32` lanes as the Lucas–Kanade kernel uses them: `wide::f32x8` (two SSE registers
/// on plain x86-64) or `avx::Avx8` (one AVX register). The same IEEE operation in every
/// lane and the same order of the lane sums, so both give the same bits.
pub(super) trait Lanes8:
    Copy
    + std::ops::Add<Output = Self>
    + std::ops::Sub<Output = Self>
    + std::ops::Mul<Output = Self>
    + std::ops::AddAssign
{
    fn zero() -> Self;
    fn splat(v: f32) -> Self;
    fn from_array(a: [f32; 8]) -> Self;
    /// # Safety
    /// `p..p + 8` must be readable.
    unsafe fn load(p: *const f32) -> Self;
    /// `lane_sum` of each of two vectors.
    fn sums2(u: Self, v: Self) -> (f32, f32);
    /// `lane_sum` of the lanes.
    fn sum(self) -> f32;
}

impl Lanes8 for f32x8 {
    #[inline(always)]
    fn zero() -> Self {
        f32x8::ZERO
    }
    #[inline(always)]
    fn splat(v: f32) -> Self {
        f32x8::splat(v)
    }
    #[inline(always)]
    fn from_array(a: [f32; 8]) -> Self {
        f32x8::new(a)
    }
    #[inline(always)]
    unsafe fn load(p: *const f32) -> Self {
        // SAFETY: the caller guarantees 8 readable values.
        f32x8::new(unsafe { std::ptr::read_unaligned(p.cast()) })
    }
    #[inline(always)]
    fn sums2(u: Self, v: Self) -> (f32, f32) {
        lane_sums2(u, v)
    }
    #[inline(always)]
    fn sum(self) -> f32 {
        lane_sum8(self)
    }
}

/// One AVX register as `Lanes8`. Its operations are AVX instructions: it is only ever made
/// inside `LucasKanade::track_level_avx`, which runs once the CPU is known to have AVX, and
/// everything that touches it is inlined into that function.
#[cfg(target_arch = "x86_64")]
pub(super) mod avx {
    use super::{Lanes8, lane_sum, reduce_halves};
    use std::arch::x86_64::*;

    #[derive(Clone, Copy)]
    pub(in crate::analysis::flow) struct Avx8(__m256);

    // SAFETY (every block below): AVX is available wherever an `Avx8` exists (above), and
    // no block reads memory except `load`, whose caller vouches for it.
    impl std::ops::Add for Avx8 {
        type Output = Self;
        #[inline(always)]
        fn add(self, o: Self) -> Self {
            Self(unsafe { _mm256_add_ps(self.0, o.0) })
        }
    }
    impl std::ops::Sub for Avx8 {
        type Output = Self;
        #[inline(always)]
        fn sub(self, o: Self) -> Self {
            Self(unsafe { _mm256_sub_ps(self.0, o.0) })
        }
    }
    impl std::ops::Mul for Avx8 {
        type Output = Self;
        #[inline(always)]
        fn mul(self, o: Self) -> Self {
            Self(unsafe { _mm256_mul_ps(self.0, o.0) })
        }
    }
    impl std::ops::AddAssign for Avx8 {
        #[inline(always)]
        fn add_assign(&mut self, o: Self) {
            *self = *self + o;
        }
    }
    impl Lanes8 for Avx8 {
        #[inline(always)]
        fn zero() -> Self {
            Self(unsafe { _mm256_setzero_ps() })
        }
        #[inline(always)]
        fn splat(v: f32) -> Self {
            Self(unsafe { _mm256_set1_ps(v) })
        }
        #[inline(always)]
        fn from_array(a: [f32; 8]) -> Self {
            Self(unsafe { _mm256_loadu_ps(a.as_ptr()) })
        }
        #[inline(always)]
        unsafe fn load(p: *const f32) -> Self {
            Self(unsafe { _mm256_loadu_ps(p) })
        }
        #[inline(always)]
        fn sums2(u: Self, v: Self) -> (f32, f32) {
            // The same additions as `lane_sums2`: lanes i and i + 4 first.
            let (a, b) = unsafe {
                (
                    _mm_add_ps(_mm256_castps256_ps128(u.0), _mm256_extractf128_ps::<1>(u.0)),
                    _mm_add_ps(_mm256_castps256_ps128(v.0), _mm256_extractf128_ps::<1>(v.0)),
                )
            };
            reduce_halves(a, b)
        }
        #[inline(always)]
        fn sum(self) -> f32 {
            let mut a = [0.0f32; 8];
            unsafe { _mm256_storeu_ps(a.as_mut_ptr(), self.0) };
            lane_sum(&a)
        }
    }
}
