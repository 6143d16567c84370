//! Fallback decoder: an `ffmpeg` executable on PATH, driven through `ffmpeg-sidecar`, writing
//! raw 8-bit `gray` frames to its stdout. Used for everything not decoded in-process
//! (H.265, VP8/VP9/AV1 in WebM/Matroska, MJPEG in AVI, Main/High H.264 openh264 rejects, ...).

use std::path::{Path, PathBuf};

use ffmpeg_sidecar::child::FfmpegChild;
use ffmpeg_sidecar::command::FfmpegCommand;
use ffmpeg_sidecar::event::{FfmpegEvent, LogLevel};
use ffmpeg_sidecar::iter::FfmpegIterator;

use super::{Frame, FrameSource, SourceError, SourceInfo, describe, one_line, probe};

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

/// Frames decoded by an ffmpeg child process.
pub(crate) struct FfmpegSource {
    path: PathBuf,
    info: SourceInfo,
    child: FfmpegChild,
    iter: FfmpegIterator,
    fps: f64,
    next_index: u64,
    last_error: Option<String>,
    done: bool,
}

impl FfmpegSource {
    pub(crate) fn open(path: &Path, exe: &Path, what: &str) -> Result<Self, SourceError> {
        let mut cmd = FfmpegCommand::new_with_path(exe);
        cmd.hide_banner()
            .arg("-nostdin")
            .input(path)
            .args(["-map", "0:v:0", "-an", "-sn", "-dn"])
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
        let meta = match iter.collect_metadata() {
            Ok(m) => m,
            Err(e) => {
                let _ = child.kill();
                let _ = child.wait();
                let msg = one_line(&e.to_string());
                let msg = msg
                    .strip_prefix("Iterator ran out before metadata was gathered. The following errors occurred: ")
                    .unwrap_or(&msg)
                    .to_string();
                return Err(SourceError::unsupported(
                    path,
                    format!("{what}: ffmpeg could not decode it: {msg}"),
                ));
            }
        };
        let out = meta.output_streams.iter().find_map(|s| s.video_data());
        let input = meta.input_streams.iter().find_map(|s| s.video_data());
        let Some(out) = out else {
            let _ = child.kill();
            let _ = child.wait();
            return Err(SourceError::unsupported(
                path,
                format!("{what}: ffmpeg found no video stream"),
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
        };
        Ok(FfmpegSource {
            path: path.to_path_buf(),
            info,
            child,
            iter,
            fps: fps.unwrap_or(30.0),
            next_index: 0,
            last_error: None,
            done: false,
        })
    }

    fn finish(&mut self) -> Result<Option<Frame>, SourceError> {
        self.done = true;
        let status = self.child.wait();
        let failed = !matches!(status, Ok(s) if s.success());
        if failed || (self.next_index == 0 && self.last_error.is_some()) {
            let detail = self.last_error.take().unwrap_or_else(|| match status {
                Ok(s) => format!("ffmpeg exited with {s}"),
                Err(e) => format!("ffmpeg: {e}"),
            });
            return Err(SourceError::corrupt(
                &self.path,
                format!("decoding failed after {} frames: {detail}", self.next_index),
            ));
        }
        Ok(None)
    }
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
            match self.iter.next() {
                Some(FfmpegEvent::OutputFrame(f)) => {
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
                    let index = self.next_index;
                    self.next_index += 1;
                    return Ok(Some(Frame {
                        index,
                        pts_s: f.frame_num as f64 / self.fps,
                        width: f.width,
                        height: f.height,
                        luma: f.data,
                    }));
                }
                Some(FfmpegEvent::Error(e))
                | Some(FfmpegEvent::Log(LogLevel::Error | LogLevel::Fatal, e)) => {
                    self.last_error = Some(one_line(&e));
                }
                // `Done` (stdout closed) may precede the last log lines: drain until the channel
                // closes so ffmpeg never blocks writing to stderr.
                None => return self.finish(),
                Some(_) => {}
            }
        }
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
