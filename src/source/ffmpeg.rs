//! Fallback decoder: an `ffmpeg` executable on PATH, driven through `ffmpeg-sidecar`, writing
//! raw 8-bit luma planes to its stdout (10-bit video is reduced to 8 bits by ffmpeg) and
//! each frame's presentation time to its log (`showinfo`). Used for everything not decoded in-process
//! (H.265, VP8/VP9/AV1 in WebM/Matroska, MJPEG in AVI, Main/High H.264 openh264 rejects, ...).

use std::path::{Path, PathBuf};

use std::collections::VecDeque;

use ffmpeg_sidecar::child::FfmpegChild;
use ffmpeg_sidecar::command::FfmpegCommand;
use ffmpeg_sidecar::event::{FfmpegEvent, LogLevel, OutputVideoFrame};
use ffmpeg_sidecar::iter::FfmpegIterator;
use ffmpeg_sidecar::metadata::FfmpegMetadata;

use super::{
    DecodeGap, Frame, FrameSource, Media, Orientation, SourceError, SourceInfo, describe, one_line,
    probe,
};

/// The hint appended to every "needs ffmpeg" error.
pub(crate) const INSTALL_HINT: &str =
    "install ffmpeg and put it on PATH, e.g. `sudo apt install ffmpeg`";

/// Looks for an `ffmpeg` executable in the directories of `PATH` (no download, no sidecar).
pub fn find_ffmpeg() -> Option<PathBuf> {
    let paths = std::env::var_os("PATH")?;
    let name = if cfg!(windows) {
        "ffmpeg.exe"
    } else {
        "ffmpeg"
    };
    std::env::split_paths(&paths)
        .filter(|dir| !dir.as_os_str().is_empty())
        .map(|dir| dir.join(name))
        .find(|candidate| is_executable(candidate))
}

#[cfg(unix)]
fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(not(unix))]
fn is_executable(p: &Path) -> bool {
    p.is_file()
}

/// Opens `path` through ffmpeg, or explains what the file is and what to install.
pub(crate) fn open_or_explain(
    path: &Path,
    ffmpeg: Option<&Path>,
    what: &str,
) -> Result<Box<dyn FrameSource>, SourceError> {
    match ffmpeg {
        None => Err(SourceError::unsupported(
            path,
            format!("{what}: decoding it needs ffmpeg; {INSTALL_HINT}"),
        )),
        Some(exe) => Ok(Box::new(FfmpegSource::open(path, exe, what)?)),
    }
}

/// A binary file with no magic we know: ffmpeg may still know it.
pub(crate) fn open_or_explain_unknown(
    path: &Path,
    ffmpeg: Option<&Path>,
    head: &[u8],
) -> Result<Box<dyn FrameSource>, SourceError> {
    let what = format!(
        "unknown file format (starts with {}), not MP4/MOV, Y4M, WebM, MKV or AVI",
        probe::hex_prefix(head)
    );
    match ffmpeg {
        None => Err(SourceError::unsupported(
            path,
            format!("{what}; if it is a video, {INSTALL_HINT}"),
        )),
        Some(exe) => match FfmpegSource::open(path, exe, "video (format found by ffmpeg)") {
            Ok(s) => Ok(Box::new(s)),
            Err(e) => Err(SourceError::unsupported(
                path,
                format!(
                    "{what}; ffmpeg could not read it either ({})",
                    message_of(&e)
                ),
            )),
        },
    }
}

fn message_of(e: &SourceError) -> String {
    match e {
        SourceError::NotFound { .. } => "file not found".into(),
        SourceError::Io { message, .. }
        | SourceError::Unsupported { message, .. }
        | SourceError::Corrupt { message, .. }
        | SourceError::Panicked { message } => message.clone(),
    }
}

/// Frames decoded by an ffmpeg child process, each with its presentation timestamp (from
/// the `showinfo` filter: raw video on a pipe carries none), passed through as decoded
/// (never duplicated or dropped to a constant rate), and not rotated (`-noautorotate`:
/// `Oriented` turns them, once).
pub(crate) struct FfmpegSource {
    path: PathBuf,
    info: SourceInfo,
    child: FfmpegChild,
    iter: FfmpegIterator,
    /// Nominal frame interval (1 / the stream's rate), for frames without a timestamp.
    nominal_dt: f64,
    /// Decoded frames and `showinfo` timestamps not yet paired (they come on two pipes).
    frames: VecDeque<OutputVideoFrame>,
    pts: VecDeque<Option<f64>>,
    /// The first frame's timestamp (time 0) and the previous frame's time.
    pts0: Option<f64>,
    last_t: Option<f64>,
    next_index: u64,
    last_error: Option<String>,
    /// Decoder errors logged since the last frame (damage, unless timestamps run on).
    errors_since_frame: u32,
    gap_out: Option<DecodeGap>,
    done: bool,
}

impl FfmpegSource {
    pub(crate) fn open(path: &Path, exe: &Path, what: &str) -> Result<Self, SourceError> {
        let mut cmd = FfmpegCommand::new_with_path(exe);
        cmd.hide_banner()
            .arg("-nostdin")
            .arg("-noautorotate")
            .input(path)
            .args(["-map", "0:v:0", "-an", "-sn", "-dn"])
            // Every decoded frame once, as it comes (raw video would be made constant-rate).
            .args(["-vsync", "passthrough"])
            // The stored luma plane as it is (limited range, as the built-in decoder gives
            // it; plain `gray` would stretch it to full range), 10-bit reduced to 8.
            .args(["-vf", "showinfo,format=yuv420p,extractplanes=y"])
            .format("rawvideo")
            .pix_fmt("gray")
            .pipe_stdout();
        let mut child = cmd.spawn().map_err(|e| {
            SourceError::unsupported(
                path,
                format!(
                    "{what}: could not run ffmpeg at {} ({e}); {INSTALL_HINT}",
                    exe.display()
                ),
            )
        })?;
        let mut iter = match child.iter() {
            Ok(it) => it,
            Err(e) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(SourceError::unsupported(
                    path,
                    format!("{what}: ffmpeg: {e}"),
                ));
            }
        };
        // The metadata, gathered here rather than by the iterator so that the timestamps of
        // the first frames (logged before the output is described) are kept.
        let mut meta = FfmpegMetadata::new();
        let mut pts = VecDeque::new();
        let mut errors = Vec::new();
        let mut display = Orientation::default();
        while !meta.is_completed() {
            let ev = iter.next();
            let _ = meta.handle_event(&ev);
            match ev {
                None => break,
                Some(FfmpegEvent::Log(level, line)) => {
                    if let Some(t) = showinfo_pts(&line) {
                        pts.push_back(t);
                    } else if let Some(o) = displaymatrix(&line) {
                        display = o;
                    } else if matches!(level, LogLevel::Error | LogLevel::Fatal) {
                        errors.push(one_line(&line));
                    }
                }
                Some(FfmpegEvent::Error(e)) => errors.push(one_line(&e)),
                Some(_) => {}
            }
        }
        let video_streams = meta.input_streams.iter().filter(|s| s.is_video()).count() as u32;
        if !meta.is_completed() {
            let _ = child.kill();
            let _ = child.wait();
            let msg = errors.join(" ");
            if video_streams == 0 && !meta.input_streams.is_empty()
                || msg.contains("matches no streams")
            {
                return Err(SourceError::unsupported(
                    path,
                    format!("{what}: no video stream in this file (audio only?)"),
                ));
            }
            return Err(SourceError::unsupported(
                path,
                format!("{what}: ffmpeg could not decode it: {msg}"),
            ));
        }
        let out = meta.output_streams.iter().find_map(|s| s.video_data());
        let input = meta.input_streams.iter().find_map(|s| s.video_data());
        let Some(out) = out else {
            let _ = child.kill();
            let _ = child.wait();
            return Err(SourceError::unsupported(
                path,
                format!("{what}: no video stream in this file (audio only?)"),
            ));
        };
        let (width, height) = (out.width, out.height);
        let fps_f = input.map_or(out.fps, |v| v.fps) as f64;
        let fps = (fps_f.is_finite() && fps_f > 0.0).then_some(fps_f);
        let codec = meta
            .input_streams
            .iter()
            .find(|s| s.is_video())
            .map(|s| s.format.clone())
            .unwrap_or_default();
        let container = if codec.is_empty() {
            format!("{what} via ffmpeg")
        } else {
            format!("{what} ({codec}) via ffmpeg")
        };
        let info = SourceInfo {
            description: describe(&container, width, height, fps),
            width,
            height,
            fps,
            frame_count: None,
            duration_s: meta.duration().filter(|d| d.is_finite() && *d > 0.0),
            media: Media {
                video_streams: (video_streams > 1).then_some(video_streams),
                ..Media::default()
            },
            display,
        };
        Ok(FfmpegSource {
            path: path.to_path_buf(),
            info,
            child,
            iter,
            nominal_dt: 1.0 / fps.unwrap_or(30.0),
            frames: VecDeque::new(),
            pts,
            pts0: None,
            last_t: None,
            next_index: 0,
            last_error: errors.pop(),
            errors_since_frame: 0,
            gap_out: None,
            done: false,
        })
    }

    /// What an ISO BMFF file's own boxes say (they see a mirrored matrix; ffmpeg's log
    /// gives only the angle): display matrix, video tracks, capture rate.
    pub(crate) fn set_container_meta(
        &mut self,
        display: Orientation,
        video_tracks: u32,
        capture_fps: Option<f64>,
    ) {
        self.info.display = display;
        if video_tracks > 1 {
            self.info.media.video_streams = Some(video_tracks);
        }
        self.info.media.capture_fps = super::slow_motion(capture_fps, self.info.fps);
    }

    fn finish(&mut self) -> Result<Option<Frame>, SourceError> {
        self.done = true;
        let status = self.child.wait();
        let failed = !matches!(status, Ok(s) if s.success());
        if self.next_index == 0 && (failed || self.last_error.is_some()) {
            let detail = self.last_error.take().unwrap_or_else(|| match status {
                Ok(s) => format!("ffmpeg exited with {s}"),
                Err(e) => format!("ffmpeg: {e}"),
            });
            return Err(SourceError::corrupt(
                &self.path,
                format!("nothing decodable: {detail}"),
            ));
        }
        if failed {
            // Frames came, then ffmpeg gave up: the rest of the clip is a gap.
            let reason = self.last_error.take().unwrap_or_else(|| match status {
                Ok(s) => format!("ffmpeg exited with {s}"),
                Err(e) => format!("ffmpeg: {e}"),
            });
            self.gap_out = Some(DecodeGap {
                reason: format!(
                    "decoding stopped after {} frames: {reason}",
                    self.next_index
                ),
                until_s: self.info.duration_s,
            });
        }
        Ok(None)
    }

    /// Pairs the oldest decoded frame with its timestamp.
    fn deliver(&mut self, pts: Option<f64>) -> Result<Option<Frame>, SourceError> {
        let Some(f) = self.frames.pop_front() else {
            return Ok(None);
        };
        let expected = (f.width as usize).checked_mul(f.height as usize);
        if expected != Some(f.data.len()) {
            self.done = true;
            let _ = self.child.kill();
            let _ = self.child.wait();
            return Err(SourceError::corrupt(
                &self.path,
                format!(
                    "ffmpeg frame {} has {} bytes, expected {}x{}",
                    self.next_index,
                    f.data.len(),
                    f.width,
                    f.height
                ),
            ));
        }
        let t = match (pts, self.pts0, self.last_t) {
            (Some(p), None, _) => {
                self.pts0 = Some(p);
                0.0
            }
            (Some(p), Some(p0), _) => p - p0,
            (None, _, Some(last)) => last + self.nominal_dt,
            (None, _, None) => 0.0,
        };
        // Frames ffmpeg could not decode leave a jump in the timestamps, with errors logged.
        if self.errors_since_frame > 0
            && let Some(last) = self.last_t
            && t - last > 1.5 * self.nominal_dt
        {
            self.gap_out = Some(DecodeGap {
                reason: self
                    .last_error
                    .clone()
                    .unwrap_or_else(|| "decode errors".into()),
                until_s: None,
            });
        }
        self.errors_since_frame = 0;
        self.last_t = Some(t);
        let index = self.next_index;
        self.next_index += 1;
        Ok(Some(Frame {
            index,
            pts_s: t,
            width: f.width,
            height: f.height,
            luma: f.data,
        }))
    }
}

/// The `pts_time` of a `showinfo` line (`None` inside: the frame has no timestamp).
fn showinfo_pts(line: &str) -> Option<Option<f64>> {
    if !line.contains("Parsed_showinfo") {
        return None;
    }
    let rest = line.split("pts_time:").nth(1)?;
    let token = rest.split_whitespace().next().unwrap_or("");
    Some(token.parse::<f64>().ok().filter(|t| t.is_finite()))
}

/// The rotation in a "displaymatrix: rotation of -90.00 degrees" line (ffmpeg gives the
/// counter-clockwise angle).
fn displaymatrix(line: &str) -> Option<Orientation> {
    let rest = line.split("displaymatrix: rotation of").nth(1)?;
    let deg: f64 = rest.split_whitespace().next()?.parse().ok()?;
    let quarter = ((-deg / 90.0).round() as i64).rem_euclid(4) as u16;
    Some(Orientation {
        rotation: quarter * 90,
        flip: false,
    })
}

impl FrameSource for FfmpegSource {
    fn info(&self) -> &SourceInfo {
        &self.info
    }

    fn next_frame(&mut self) -> Result<Option<Frame>, SourceError> {
        if self.done {
            return Ok(None);
        }
        loop {
            if !self.frames.is_empty()
                && let Some(p) = self.pts.pop_front()
            {
                return self.deliver(p);
            }
            match self.iter.next() {
                Some(FfmpegEvent::OutputFrame(f)) => self.frames.push_back(f),
                Some(FfmpegEvent::Log(level, line)) => {
                    if let Some(t) = showinfo_pts(&line) {
                        self.pts.push_back(t);
                    } else if matches!(level, LogLevel::Error | LogLevel::Fatal) {
                        self.last_error = Some(one_line(&line));
                        self.errors_since_frame += 1;
                    }
                }
                Some(FfmpegEvent::Error(e)) => {
                    self.last_error = Some(one_line(&e));
                    self.errors_since_frame += 1;
                }
                // `Done` (stdout closed) may precede the last log lines: drain until the channel
                // closes so ffmpeg never blocks writing to stderr.
                None => {
                    if !self.frames.is_empty() {
                        // A frame whose timestamp line never came.
                        return self.deliver(None);
                    }
                    return self.finish();
                }
                Some(_) => {}
            }
        }
    }

    fn take_gap(&mut self) -> Option<DecodeGap> {
        self.gap_out.take()
    }
}

impl Drop for FfmpegSource {
    fn drop(&mut self) {
        if !self.done {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_showinfo_and_displaymatrix_lines() {
        let l = "[Parsed_showinfo_0 @ 0x5581] [info] n:  12 pts:  12288 pts_time:0.4     duration:   1024";
        assert_eq!(showinfo_pts(l), Some(Some(0.4)));
        let l = "[Parsed_showinfo_0 @ 0x5581] [info] n:   0 pts:NOPTS pts_time:NOPTS";
        assert_eq!(showinfo_pts(l), Some(None));
        assert_eq!(showinfo_pts("[h264 @ 0x1] [error] pts_time:3"), None);
        let r = displaymatrix("[info]       displaymatrix: rotation of -90.00 degrees");
        assert_eq!(r.map(|o| o.rotation), Some(90));
        let r = displaymatrix("displaymatrix: rotation of 90.00 degrees");
        assert_eq!(r.map(|o| o.rotation), Some(270));
    }
}
