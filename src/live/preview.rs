//! Live preview: draws the frame, the tracked face box and regions, per-side motion bars and
//! the latest events into a pixel buffer, and shows it in a window (minifb) when there is a
//! display.
//!
//! Input: the current frame, its signals and detector activity. Output: an RGB buffer
//! (`Overlay`, testable without a window) and a window (`PreviewWindow`). Thread: analysis.

use crate::analysis::anatomy::{RegionKind, Side};
use crate::analysis::bursts::Activity;
use crate::analysis::face::regions::RegionLayout;
use crate::analysis::face::track::FacePose;
use crate::analysis::measure::motion::FrameSignals;
use crate::source::Frame;
use ab_glyph::FontRef;
use image::{Rgb, RgbImage};
use imageproc::drawing::{draw_filled_rect_mut, draw_line_segment_mut, draw_text_mut};
use imageproc::rect::Rect;
use std::time::{Duration, Instant};

/// The canvas is at least this high, so that the panel has room for a few events.
pub const MIN_H: u32 = 400;
/// Width of the side panel (bars, events, status) right of the frame, in pixels.
pub const PANEL_W: u32 = 250;
pub const FACE_BOX: Rgb<u8> = Rgb([255, 210, 0]);
/// The person's left side is drawn in cyan, their right in magenta; a side that is twitching
/// right now in red.
pub const LEFT: Rgb<u8> = Rgb([0, 200, 255]);
pub const RIGHT: Rgb<u8> = Rgb([255, 80, 200]);
pub const ACTIVE: Rgb<u8> = Rgb([255, 40, 40]);
pub const PANEL_BG: Rgb<u8> = Rgb([24, 24, 24]);
pub const BAR_BG: Rgb<u8> = Rgb([60, 60, 60]);
const TEXT: Rgb<u8> = Rgb([230, 230, 230]);
const DIM: Rgb<u8> = Rgb([150, 150, 150]);

/// Motion bars show the larger of two fractions: the eye's squeeze beyond the other eye's
/// (what bursts are held on) against `BAR_FULL_SQUEEZE` (% of face width), and the
/// strongest region's robust z-score of motion against `BAR_FULL_Z`.
pub const BAR_FULL_SQUEEZE: f32 = 3.0;
pub const BAR_FULL_Z: f32 = 10.0;
/// Bar geometry in panel coordinates.
pub const BAR_TOP: u32 = 44;
pub const BAR_H: u32 = 150;
pub const BAR_W: u32 = 36;
/// Horizontal offset (from the panel's left edge) of the person's left and right bars.
pub const BAR_X: [u32; 2] = [40, 130];

/// One line of the "latest events" list.
#[derive(Debug, Clone, PartialEq)]
pub struct RecentEvent {
    pub side: Option<Side>,
    pub text: String,
}

/// Everything the overlay shows for one frame.
pub struct View<'a> {
    pub frame: &'a Frame,
    pub signals: &'a FrameSignals,
    pub activity: &'a Activity,
    pub layout: &'a RegionLayout,
    /// Newest last.
    pub recent: &'a [RecentEvent],
    pub status: &'a str,
}

fn side_colour(side: Side) -> Rgb<u8> {
    match side {
        Side::Left => LEFT,
        Side::Right => RIGHT,
    }
}

/// Renders views into a reusable RGB canvas (frame on the left, panel on the right).
pub struct Overlay {
    font: Option<FontRef<'static>>,
    canvas: RgbImage,
}

impl Default for Overlay {
    fn default() -> Self {
        Self::new()
    }
}

impl Overlay {
    pub fn new() -> Self {
        Self {
            font: FontRef::try_from_slice(dejavu::sans::regular()).ok(),
            canvas: RgbImage::new(1, 1),
        }
    }

    pub fn canvas(&self) -> &RgbImage {
        &self.canvas
    }

    /// Draws `v` and returns the canvas (`frame width + PANEL_W` by the frame's height,
    /// at least `MIN_H` pixels high so the panel fits).
    pub fn render(&mut self, v: &View) -> &RgbImage {
        let (fw, fh) = (v.frame.width, v.frame.height);
        let (w, h) = (fw + PANEL_W, fh.max(MIN_H));
        if self.canvas.dimensions() != (w, h) {
            self.canvas = RgbImage::new(w, h);
        }
        self.draw_frame(v.frame);
        if let Some(pose) = &v.signals.face {
            self.draw_face(pose, v.layout, v.activity);
        }
        self.draw_panel(fw, v);
        &self.canvas
    }

    /// The frame's grey levels on the left, panel background elsewhere; row by row, in
    /// loops the compiler vectorises (this runs up to 15 times a second).
    fn draw_frame(&mut self, f: &Frame) {
        let fw = f.width as usize;
        let stride = self.canvas.width() as usize * 3;
        let mut rows = f.luma.chunks_exact(fw.max(1));
        for row in self.canvas.chunks_exact_mut(stride) {
            let luma = rows.next().unwrap_or(&[]);
            let (left, rest) = row.split_at_mut((3 * luma.len()).min(stride));
            for (px, &l) in left.chunks_exact_mut(3).zip(luma) {
                px.copy_from_slice(&[l, l, l]);
            }
            for px in rest.chunks_exact_mut(3) {
                px.copy_from_slice(&PANEL_BG.0);
            }
        }
    }

    /// A crop-space rectangle drawn through the face pose (so it turns with the head).
    fn quad(&mut self, pose: &FacePose, crop_px: usize, r: [f32; 4], c: Rgb<u8>, thick: bool) {
        let [x0, y0, x1, y1] = r;
        let corners = [(x0, y0), (x1, y0), (x1, y1), (x0, y1)]
            .map(|(x, y)| pose.to_frame(crop_px, x - 0.5, y - 0.5));
        let offsets: &[(f32, f32)] = if thick {
            &[(0.0, 0.0), (1.0, 0.0), (0.0, 1.0)]
        } else {
            &[(0.0, 0.0)]
        };
        for i in 0..4 {
            let (a, b) = (corners[i], corners[(i + 1) % 4]);
            for &(dx, dy) in offsets {
                draw_line_segment_mut(
                    &mut self.canvas,
                    (a.0 + dx, a.1 + dy),
                    (b.0 + dx, b.1 + dy),
                    c,
                );
            }
        }
    }

    fn draw_face(&mut self, pose: &FacePose, layout: &RegionLayout, act: &Activity) {
        let n = layout.crop_px;
        self.quad(pose, n, [0.0, 0.0, n as f32, n as f32], FACE_BOX, true);
        for side in Side::BOTH {
            let flagged = act.flagged[side.index()];
            let colour = if flagged { ACTIVE } else { side_colour(side) };
            for region in RegionKind::ALL {
                let r = layout.rect(side, region);
                self.quad(pose, n, [r.x0, r.y0, r.x1, r.y1], colour, flagged);
            }
        }
    }

    fn text(&mut self, x: u32, y: u32, size: f32, c: Rgb<u8>, s: &str) {
        if let Some(font) = &self.font {
            draw_text_mut(&mut self.canvas, c, x as i32, y as i32, size, font, s);
        }
    }

    fn draw_panel(&mut self, x0: u32, v: &View) {
        let h = self.canvas.height();
        draw_filled_rect_mut(
            &mut self.canvas,
            Rect::at(x0 as i32, 0).of_size(PANEL_W, h),
            PANEL_BG,
        );
        self.text(x0 + 12, 8, 17.0, TEXT, "motion (person's side)");
        for side in Side::BOTH {
            let i = side.index();
            let bx = x0 + BAR_X[i];
            draw_filled_rect_mut(
                &mut self.canvas,
                Rect::at(bx as i32, BAR_TOP as i32).of_size(BAR_W, BAR_H),
                BAR_BG,
            );
            let z = v.activity.z[i].iter().copied().fold(0.0f32, f32::max);
            let level = (z / BAR_FULL_Z).max(v.activity.one_sided[i] / BAR_FULL_SQUEEZE);
            let frac = if v.signals.face.is_some() && level.is_finite() {
                level.clamp(0.0, 1.0)
            } else {
                0.0
            };
            let fill = (frac * BAR_H as f32).round() as u32;
            if fill > 0 {
                let colour = if v.activity.flagged[i] {
                    ACTIVE
                } else {
                    side_colour(side)
                };
                draw_filled_rect_mut(
                    &mut self.canvas,
                    Rect::at(bx as i32, (BAR_TOP + BAR_H - fill) as i32).of_size(BAR_W, fill),
                    colour,
                );
            }
            let label = match side {
                Side::Left => "left",
                Side::Right => "right",
            };
            self.text(bx, BAR_TOP + BAR_H + 4, 16.0, side_colour(side), label);
        }
        let mut y = BAR_TOP + BAR_H + 34;
        self.text(x0 + 12, y, 16.0, TEXT, "latest events");
        y += 22;
        if v.recent.is_empty() {
            self.text(x0 + 12, y, 14.0, DIM, "none yet");
        }
        // Newest first, as many as fit above the status lines.
        for ev in v.recent.iter().rev() {
            if y + 18 > h.saturating_sub(44) {
                break;
            }
            let c = ev.side.map_or(TEXT, side_colour);
            self.text(x0 + 12, y, 14.0, c, &ev.text);
            y += 18;
        }
        let face = if v.signals.face.is_some() {
            "face tracked"
        } else {
            "no face"
        };
        self.text(x0 + 12, h.saturating_sub(42), 14.0, DIM, face);
        self.text(x0 + 12, h.saturating_sub(22), 14.0, DIM, v.status);
    }
}

/// Packs an RGB image into minifb's 0RGB `u32` pixels, reusing `out`.
pub fn to_0rgb(img: &RgbImage, out: &mut Vec<u32>) {
    let raw: &[u8] = img.as_raw();
    out.resize(raw.len() / 3, 0);
    for (o, p) in out.iter_mut().zip(raw.chunks_exact(3)) {
        *o = (u32::from(p[0]) << 16) | (u32::from(p[1]) << 8) | u32::from(p[2]);
    }
}

/// Why there is no window: no display, or the window system refused.
pub fn display_available() -> Result<(), String> {
    #[cfg(all(unix, not(target_os = "macos")))]
    {
        let set = |k: &str| std::env::var_os(k).is_some_and(|v| !v.is_empty());
        if !set("DISPLAY") && !set("WAYLAND_DISPLAY") {
            return Err("no display (DISPLAY is not set)".into());
        }
    }
    Ok(())
}

/// The preview window. Redraws at most `max_fps` times a second to keep its cost low.
pub struct PreviewWindow {
    window: minifb::Window,
    overlay: Overlay,
    argb: Vec<u32>,
    min_interval: Duration,
    last_draw: Option<Instant>,
    /// Frames handed to the window so far.
    drawn: u64,
}

impl PreviewWindow {
    pub fn open(width: u32, height: u32, max_fps: f64) -> Result<Self, String> {
        display_available()?;
        let (w, h) = ((width + PANEL_W) as usize, height.max(MIN_H) as usize);
        let mut window = minifb::Window::new(
            "twitchwatch live (close or Esc to stop)",
            w,
            h,
            minifb::WindowOptions::default(),
        )
        .map_err(|e| crate::source::one_line(&e.to_string()))?;
        // Input is polled when the buffer is pushed; no need to spin faster.
        window.set_target_fps(0);
        Ok(Self {
            window,
            overlay: Overlay::new(),
            argb: Vec::new(),
            min_interval: Duration::from_secs_f64(1.0 / max_fps.max(1.0)),
            last_draw: None,
            drawn: 0,
        })
    }

    /// False once the user closed the window or pressed Esc.
    pub fn is_open(&self) -> bool {
        self.window.is_open() && !self.window.is_key_down(minifb::Key::Escape)
    }

    /// Draws `v` if the last draw is old enough. Returns false when the window was closed.
    pub fn show(&mut self, v: &View) -> bool {
        let due = self
            .last_draw
            .is_none_or(|t| t.elapsed() >= self.min_interval);
        if due {
            self.last_draw = Some(Instant::now());
            let img = self.overlay.render(v);
            let (w, h) = (img.width() as usize, img.height() as usize);
            to_0rgb(img, &mut self.argb);
            match self.window.update_with_buffer(&self.argb, w, h) {
                Ok(()) => self.drawn += 1,
                Err(e) => tracing::warn!("preview: {e}"),
            }
        }
        self.is_open()
    }

    /// Frames drawn in the window so far (at most `max_fps` a second).
    pub fn drawn(&self) -> u64 {
        self.drawn
    }

    /// Keeps the window responsive while no frames come (camera away). False when closed.
    pub fn idle(&mut self) -> bool {
        self.window.update();
        self.is_open()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view_parts(flag_left: bool) -> (Frame, FrameSignals, Activity, RegionLayout) {
        let frame = Frame {
            index: 0,
            pts_s: 0.0,
            width: 320,
            height: 240,
            luma: vec![100; 320 * 240],
        };
        let signals = FrameSignals {
            face: Some(FacePose {
                cx: 160.0,
                cy: 120.0,
                size: 150.0,
                angle: 0.0,
            }),
            ..FrameSignals::default()
        };
        let mut activity = Activity::default();
        activity.z[0] = [5.0, 1.0, 0.0];
        activity.z[1] = [1.0, 0.0, 0.0];
        activity.flagged[0] = flag_left;
        (frame, signals, activity, RegionLayout::new(96, false))
    }

    #[test]
    fn overlay_draws_frame_face_box_bars_and_panel() {
        let (frame, signals, activity, layout) = view_parts(true);
        let recent = vec![RecentEvent {
            side: Some(Side::Left),
            text: "12:00:01 left clonic".into(),
        }];
        let mut o = Overlay::new();
        let img = o
            .render(&View {
                frame: &frame,
                signals: &signals,
                activity: &activity,
                layout: &layout,
                recent: &recent,
                status: "0 dropped",
            })
            .clone();
        // To look at it: TWITCHWATCH_OVERLAY_PNG=/tmp/overlay.png cargo test --lib preview
        if let Some(p) = std::env::var_os("TWITCHWATCH_OVERLAY_PNG") {
            img.save(p).expect("save the overlay");
        }
        assert_eq!(img.dimensions(), (320 + PANEL_W, MIN_H));
        // Frame pixels away from the face are the grey luma.
        assert_eq!(*img.get_pixel(5, 5), Rgb([100, 100, 100]));
        // The face box: 150 px square centred at (160, 120) -> top edge at y = 45.
        let top = (45..=46).any(|y| *img.get_pixel(160, y) == FACE_BOX);
        assert!(top, "face box top edge missing");
        // Below the frame (rows 240..400) and the panel are panel background.
        assert_eq!(*img.get_pixel(5, 280), PANEL_BG);
        // Left bar: z = 5 of 10 -> lower half filled, in the twitching colour.
        let lx = 320 + BAR_X[0] + BAR_W / 2;
        assert_eq!(*img.get_pixel(lx, BAR_TOP + BAR_H - 2), ACTIVE);
        assert_eq!(*img.get_pixel(lx, BAR_TOP + 2), BAR_BG);
        // Right bar: z = 1 -> 15 px, in the right side's colour.
        let rx = 320 + BAR_X[1] + BAR_W / 2;
        assert_eq!(*img.get_pixel(rx, BAR_TOP + BAR_H - 2), RIGHT);
        assert_eq!(*img.get_pixel(rx, BAR_TOP + BAR_H - 20), BAR_BG);
        // Flagged side's regions are red; the person's left is on the image's right here.
        let eye_l = layout.rect(Side::Left, RegionKind::Eye);
        let pose = signals.face.unwrap_or(FacePose {
            cx: 0.0,
            cy: 0.0,
            size: 1.0,
            angle: 0.0,
        });
        let (x, _) = pose.to_frame(96, eye_l.x0 - 0.5, eye_l.y0 - 0.5);
        assert!(x > 160.0);
        let red_right_half = (0..240u32)
            .flat_map(|y| (160..320u32).map(move |x| (x, y)))
            .any(|(x, y)| *img.get_pixel(x, y) == ACTIVE);
        let red_left_half = (0..240u32)
            .flat_map(|y| (0..160u32).map(move |x| (x, y)))
            .any(|(x, y)| *img.get_pixel(x, y) == ACTIVE);
        assert!(red_right_half && !red_left_half);
        // Some event text was drawn in the left side's colour (anti-aliased: any pixel
        // close to it).
        let texty = (BAR_TOP + BAR_H + 56..BAR_TOP + BAR_H + 74)
            .flat_map(|y| (320..320 + PANEL_W).map(move |x| (x, y)))
            .filter(|&(x, y)| *img.get_pixel(x, y) == LEFT)
            .count();
        assert!(texty > 5, "event text missing");
    }

    #[test]
    fn without_a_face_no_box_and_empty_bars() {
        let (frame, mut signals, activity, layout) = view_parts(false);
        signals.face = None;
        let mut o = Overlay::new();
        let img = o
            .render(&View {
                frame: &frame,
                signals: &signals,
                activity: &activity,
                layout: &layout,
                recent: &[],
                status: "",
            })
            .clone();
        assert!(
            (0..240u32)
                .flat_map(|y| (0..320u32).map(move |x| (x, y)))
                .all(|(x, y)| *img.get_pixel(x, y) == Rgb([100, 100, 100]))
        );
        let lx = 320 + BAR_X[0] + BAR_W / 2;
        assert_eq!(*img.get_pixel(lx, BAR_TOP + BAR_H - 2), BAR_BG);
    }

    #[test]
    fn a_one_sided_squeeze_fills_its_bar() {
        let (frame, signals, mut activity, layout) = view_parts(false);
        activity.z = [[0.0; 3]; 2];
        activity.one_sided = [-1.5, BAR_FULL_SQUEEZE / 2.0];
        let mut o = Overlay::new();
        let img = o.render(&View {
            frame: &frame,
            signals: &signals,
            activity: &activity,
            layout: &layout,
            recent: &[],
            status: "",
        });
        let (lx, rx) = (320 + BAR_X[0] + 2, 320 + BAR_X[1] + 2);
        assert_eq!(*img.get_pixel(lx, BAR_TOP + BAR_H - 2), BAR_BG);
        assert_eq!(*img.get_pixel(rx, BAR_TOP + BAR_H / 2 + 2), RIGHT);
        assert_eq!(*img.get_pixel(rx, BAR_TOP + BAR_H / 2 - 2), BAR_BG);
    }

    #[test]
    fn packs_pixels_as_0rgb() {
        let mut img = RgbImage::new(2, 1);
        img.put_pixel(1, 0, Rgb([1, 2, 3]));
        let mut out = vec![];
        to_0rgb(&img, &mut out);
        assert_eq!(out, vec![0, 0x010203]);
    }
}
