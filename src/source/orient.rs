//! Turns decoded pictures upright as a viewer sees them: the container's display matrix
//! (quarter-turn rotations, mirroring) or `--rotate`.
//!
//! Input: any `FrameSource` handing over pictures as stored. Output: the same frames turned
//! (width and height swapped for quarter turns). Thread: the source's.

use super::{DecodeGap, Frame, FrameSource, Orientation, SourceError, SourceInfo};

/// Side of the square tiles the quarter turns copy through (both tiles stay in cache).
const TILE: usize = 64;

/// A source whose frames are turned by one fixed [`Orientation`].
pub struct Oriented {
    inner: Box<dyn FrameSource>,
    turn: Orientation,
    info: SourceInfo,
    /// The previous frame's buffer, reused for the next turned picture.
    spare: Vec<u8>,
}

impl Oriented {
    /// `rotate`: clockwise degrees that override the container's matrix (no flip then);
    /// `None`: the container's matrix. The info's `media` says which was applied.
    pub fn new(inner: Box<dyn FrameSource>, rotate: Option<u16>) -> Self {
        let mut info = inner.info().clone();
        let turn = match rotate {
            Some(r) => Orientation {
                rotation: r % 360,
                flip: false,
            },
            None => info.display,
        };
        info.media.rotation = turn.rotation;
        info.media.flipped = turn.flip;
        info.media.rotation_from = if rotate.is_some() {
            "--rotate".into()
        } else {
            "container".into()
        };
        if turn.rotation % 180 == 90 {
            std::mem::swap(&mut info.width, &mut info.height);
            info.description = swap_size(&info.description, info.height, info.width);
        }
        if !turn.is_identity() {
            let how = match (turn.rotation, turn.flip) {
                (0, true) => "flipped left-right".to_string(),
                (r, false) => format!("rotated {r}°"),
                (r, true) => format!("flipped left-right and rotated {r}°"),
            };
            info.description.push_str(&format!(", {how} for display"));
        }
        Self {
            inner,
            turn,
            info,
            spare: Vec::new(),
        }
    }
}

/// "WxH" in a description becomes "HxW" (the size as shown).
fn swap_size(description: &str, stored_w: u32, stored_h: u32) -> String {
    description.replacen(
        &format!("{stored_w}x{stored_h}"),
        &format!("{stored_h}x{stored_w}"),
        1,
    )
}

impl FrameSource for Oriented {
    fn info(&self) -> &SourceInfo {
        &self.info
    }

    fn next_frame(&mut self) -> Result<Option<Frame>, SourceError> {
        let Some(mut frame) = self.inner.next_frame()? else {
            return Ok(None);
        };
        if self.turn.is_identity() {
            return Ok(Some(frame));
        }
        let mut out = std::mem::take(&mut self.spare);
        let (w, h) = orient_into(&frame.luma, frame.width, frame.height, self.turn, &mut out);
        self.spare = std::mem::replace(&mut frame.luma, out);
        frame.width = w;
        frame.height = h;
        Ok(Some(frame))
    }

    fn take_gap(&mut self) -> Option<DecodeGap> {
        self.inner.take_gap()
    }
}

/// Writes `src` (`w` x `h`, stride `w`) turned by `turn` into `dst` (resized); returns the
/// new width and height.
pub fn orient_into(src: &[u8], w: u32, h: u32, turn: Orientation, dst: &mut Vec<u8>) -> (u32, u32) {
    let (wu, hu) = (w as usize, h as usize);
    dst.clear();
    dst.resize(wu * hu, 0);
    if src.len() < wu * hu {
        return (w, h);
    }
    // The stored column shown at output column x' of an upright row (after the flip).
    let col = |x: usize| if turn.flip { wu - 1 - x } else { x };
    match turn.rotation {
        90 | 270 => {
            // Output is h wide, w high.
            let (ow, oh) = (hu, wu);
            for ty in (0..oh).step_by(TILE) {
                for tx in (0..ow).step_by(TILE) {
                    for oy in ty..(ty + TILE).min(oh) {
                        let row = &mut dst[oy * ow..(oy + 1) * ow];
                        let end = (tx + TILE).min(ow);
                        for (ox, out) in row[tx..end].iter_mut().enumerate() {
                            let ox = tx + ox;
                            // 90 clockwise: out(x', y') = in(y', h-1-x');
                            // 270: out(x', y') = in(w-1-y', x').
                            let (x, y) = if turn.rotation == 90 {
                                (oy, hu - 1 - ox)
                            } else {
                                (wu - 1 - oy, ox)
                            };
                            *out = src[y * wu + col(x)];
                        }
                    }
                }
            }
            (h, w)
        }
        180 => {
            for oy in 0..hu {
                let srow = &src[(hu - 1 - oy) * wu..(hu - oy) * wu];
                let drow = &mut dst[oy * wu..(oy + 1) * wu];
                if turn.flip {
                    drow.copy_from_slice(srow);
                } else {
                    for (d, s) in drow.iter_mut().zip(srow.iter().rev()) {
                        *d = *s;
                    }
                }
            }
            (w, h)
        }
        _ => {
            for oy in 0..hu {
                let srow = &src[oy * wu..(oy + 1) * wu];
                let drow = &mut dst[oy * wu..(oy + 1) * wu];
                if turn.flip {
                    for (d, s) in drow.iter_mut().zip(srow.iter().rev()) {
                        *d = *s;
                    }
                } else {
                    drow.copy_from_slice(srow);
                }
            }
            (w, h)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn turn(rotation: u16, flip: bool) -> Orientation {
        Orientation { rotation, flip }
    }

    /// A 3x2 picture: a b c / d e f.
    const PIC: [u8; 6] = [1, 2, 3, 4, 5, 6];

    #[test]
    fn quarter_turns_and_flips() {
        let mut out = Vec::new();
        assert_eq!(orient_into(&PIC, 3, 2, turn(90, false), &mut out), (2, 3));
        assert_eq!(out, [4, 1, 5, 2, 6, 3]);
        assert_eq!(orient_into(&PIC, 3, 2, turn(180, false), &mut out), (3, 2));
        assert_eq!(out, [6, 5, 4, 3, 2, 1]);
        assert_eq!(orient_into(&PIC, 3, 2, turn(270, false), &mut out), (2, 3));
        assert_eq!(out, [3, 6, 2, 5, 1, 4]);
        assert_eq!(orient_into(&PIC, 3, 2, turn(0, true), &mut out), (3, 2));
        assert_eq!(out, [3, 2, 1, 6, 5, 4]);
        // Flip, then a quarter turn clockwise.
        assert_eq!(orient_into(&PIC, 3, 2, turn(90, true), &mut out), (2, 3));
        assert_eq!(out, [6, 3, 5, 2, 4, 1]);
    }

    #[test]
    fn large_turn_matches_the_definition() {
        let (w, h) = (131usize, 77usize);
        let src: Vec<u8> = (0..w * h).map(|i| (i * 31 % 251) as u8).collect();
        let mut out = Vec::new();
        orient_into(&src, w as u32, h as u32, turn(270, false), &mut out);
        for oy in 0..w {
            for ox in 0..h {
                assert_eq!(out[oy * h + ox], src[ox * w + (w - 1 - oy)]);
            }
        }
    }

    #[test]
    fn matrices_give_quarter_turns() {
        let o = |a, b, c, d| Orientation::from_matrix(a, b, c, d);
        assert_eq!(o(1.0, 0.0, 0.0, 1.0), turn(0, false));
        assert_eq!(o(0.0, 1.0, -1.0, 0.0), turn(90, false));
        assert_eq!(o(-1.0, 0.0, 0.0, -1.0), turn(180, false));
        assert_eq!(o(0.0, -1.0, 1.0, 0.0), turn(270, false));
        assert_eq!(o(-1.0, 0.0, 0.0, 1.0), turn(0, true));
        assert_eq!(o(1.0, 0.0, 0.0, -1.0), turn(180, true));
        assert_eq!(o(0.0, 0.0, 0.0, 0.0), turn(0, false));
    }
}
