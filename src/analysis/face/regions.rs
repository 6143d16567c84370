//! Facial regions on each of the person's sides, placed in the face-aligned crop.
//!
//! Input: crop size and whether the view is mirrored. Output: for each (side, region) a
//! rectangle of crop pixels and the grid points inside it. Thread: analysis.

use crate::analysis::anatomy::{RegionKind, Side};

/// A rectangle in crop pixels: [x0, x1) x [y0, y1).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rect {
    pub x0: f32,
    pub y0: f32,
    pub x1: f32,
    pub y1: f32,
}

impl Rect {
    pub fn contains(&self, x: f32, y: f32) -> bool {
        x >= self.x0 && x < self.x1 && y >= self.y0 && y < self.y1
    }
}

/// How much larger than the detector's face box the crop is, per side length. The margin
/// keeps cheeks and mouth corners inside the crop and gives the head-motion fit a rim.
pub const CROP_EXPAND: f32 = 1.3;

/// Region rectangles as fractions of the detector's face box, for the face half on the
/// IMAGE's left (u from 0 = box left edge to 1 = box right edge; v from top to bottom).
/// The image-right half is the mirror image.
const IMAGE_LEFT_HALF: [(RegionKind, [f32; 4]); 3] = [
    // Periocular: brow to lower lid and the skin just below it.
    (RegionKind::Eye, [0.08, 0.16, 0.46, 0.50]),
    // Cheek: below the lower lid, beside the nose.
    (RegionKind::Cheek, [0.04, 0.50, 0.38, 0.74]),
    // Mouth corner and the skin lateral to it.
    (RegionKind::Mouth, [0.10, 0.72, 0.44, 0.98]),
];

/// The rectangles of all six regions in a crop of `crop_px` pixels.
#[derive(Debug, Clone, PartialEq)]
pub struct RegionLayout {
    /// Indexed `[side.index()][region.index()]`, sides being the PERSON's.
    pub rects: [[Rect; 3]; 2],
    pub crop_px: usize,
    pub mirrored: bool,
}

impl RegionLayout {
    /// In an unmirrored view the person faces the camera, so their right side is on the
    /// image's left. In a mirrored (selfie) view it is the other way round.
    pub fn new(crop_px: usize, mirrored: bool) -> Self {
        let n = crop_px as f32;
        let to_crop = |f: f32| (0.5 + (f - 0.5) / CROP_EXPAND) * n;
        let mut rects = [[Rect {
            x0: 0.0,
            y0: 0.0,
            x1: 0.0,
            y1: 0.0,
        }; 3]; 2];
        let image_left_side = if mirrored { Side::Left } else { Side::Right };
        for (kind, [u0, v0, u1, v1]) in IMAGE_LEFT_HALF {
            let left = Rect {
                x0: to_crop(u0),
                y0: to_crop(v0),
                x1: to_crop(u1),
                y1: to_crop(v1),
            };
            let right = Rect {
                x0: n - left.x1,
                y0: left.y0,
                x1: n - left.x0,
                y1: left.y1,
            };
            rects[image_left_side.index()][kind.index()] = left;
            rects[image_left_side.other().index()][kind.index()] = right;
        }
        Self {
            rects,
            crop_px,
            mirrored,
        }
    }

    pub fn rect(&self, side: Side, region: RegionKind) -> Rect {
        self.rects[side.index()][region.index()]
    }

    /// Which (side, region) a crop point belongs to, if any.
    pub fn locate(&self, x: f32, y: f32) -> Option<(Side, RegionKind)> {
        for side in Side::BOTH {
            for region in RegionKind::ALL {
                if self.rect(side, region).contains(x, y) {
                    return Some((side, region));
                }
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn persons_left_eye_is_on_the_image_right_unless_mirrored() {
        let l = RegionLayout::new(100, false);
        assert!(l.rect(Side::Left, RegionKind::Eye).x0 > 50.0);
        assert!(l.rect(Side::Right, RegionKind::Eye).x1 < 50.0);
        let m = RegionLayout::new(100, true);
        assert!(m.rect(Side::Left, RegionKind::Eye).x1 < 50.0);
        assert!(m.rect(Side::Right, RegionKind::Eye).x0 > 50.0);
    }

    #[test]
    fn regions_do_not_overlap_across_sides() {
        let l = RegionLayout::new(96, false);
        for r in RegionKind::ALL {
            assert!(l.rect(Side::Right, r).x1 <= l.rect(Side::Left, r).x0);
        }
    }
}
