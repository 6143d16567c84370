//! A recorded clip played as if it were a camera: frames are released at the clip's frame
//! rate in real time (for demos and tests without a webcam), optionally looping.
//!
//! Input: a clip path. Output: a `FrameSource` whose frames arrive at camera pace.
//! Thread: the capture thread.

use crate::source::{Frame, FrameSource, SourceError, SourceInfo, open_clip_oriented};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Frame rate used when the clip does not say.
const DEFAULT_FPS: f64 = 30.0;

pub struct SimulatedCamera {
    path: PathBuf,
    clip: Box<dyn FrameSource>,
    info: SourceInfo,
    looping: bool,
    stop: Arc<AtomicBool>,
    frame_dt: Duration,
    /// When the next frame is due.
    due: Option<Instant>,
    /// Media time added to the clip's own after each loop, so time keeps going forward.
    loop_offset: f64,
    last_pts: f64,
}

impl SimulatedCamera {
    pub fn open(path: &Path, looping: bool, stop: Arc<AtomicBool>) -> Result<Self, SourceError> {
        let clip = open_clip_oriented(path, None)?;
        let clip_info = clip.info().clone();
        let fps = clip_info
            .fps
            .filter(|f| f.is_finite() && *f > 0.0)
            .unwrap_or(DEFAULT_FPS);
        let name = path
            .file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
        let info = SourceInfo {
            description: format!(
                "simulated camera: {name} ({}){}",
                clip_info.description,
                if looping { ", looping" } else { "" }
            ),
            fps: Some(fps),
            frame_count: None,
            duration_s: None,
            ..clip_info
        };
        Ok(Self {
            path: path.to_path_buf(),
            clip,
            info,
            looping,
            stop,
            frame_dt: Duration::from_secs_f64(1.0 / fps),
            due: None,
            loop_offset: 0.0,
            last_pts: 0.0,
        })
    }

    /// Waits until the next frame is due, like a camera delivering at its frame rate.
    /// Returns false if the session stops meanwhile.
    fn pace(&mut self) -> bool {
        let now = Instant::now();
        let due = *self.due.get_or_insert(now);
        if due > now {
            let mut left = due - now;
            while !left.is_zero() {
                if self.stop.load(Ordering::Relaxed) {
                    return false;
                }
                let step = left.min(Duration::from_millis(50));
                std::thread::sleep(step);
                left = due.saturating_duration_since(Instant::now());
            }
        }
        // Fell far behind (machine suspended, debugger): restart the schedule instead of
        // releasing a burst of frames.
        let next = due + self.frame_dt;
        self.due = Some(if Instant::now() > next + self.frame_dt * 10 {
            Instant::now() + self.frame_dt
        } else {
            next
        });
        true
    }
}

impl FrameSource for SimulatedCamera {
    fn info(&self) -> &SourceInfo {
        &self.info
    }

    fn next_frame(&mut self) -> Result<Option<Frame>, SourceError> {
        // Decode first, then wait: the frame leaves on time whatever the decoding cost.
        let mut frame = match self.clip.next_frame()? {
            Some(f) => f,
            None if self.looping => {
                self.clip = open_clip_oriented(&self.path, None)?;
                self.loop_offset = self.last_pts + self.frame_dt.as_secs_f64();
                match self.clip.next_frame()? {
                    Some(f) => f,
                    None => return Ok(None),
                }
            }
            None => return Ok(None),
        };
        frame.pts_s += self.loop_offset;
        self.last_pts = frame.pts_s;
        if !self.pace() {
            return Ok(None);
        }
        Ok(Some(frame))
    }
}
