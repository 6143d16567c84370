//! The `live` command: parses its flags, chooses the source (camera or simulated clip) and
//! the view (window or headless), installs the Ctrl-C/SIGTERM handler and runs a session.
//!
//! Input: `LiveArgs`. Output: an appended event log and a one-line summary on stderr.
//! Thread: main.

use crate::analysis::anatomy::Side;
use crate::live::camera::{self, CameraRequest, CameraSelector};
use crate::live::preview::{PreviewWindow, View};
use crate::live::reconnect::{CameraError, CameraOpener};
use crate::live::simulate::SimulatedCamera;
use crate::live::{Headless, LiveError, LiveOptions, LiveView, run_session};
use crate::outputs::events::{Event, EventSink, JsonlSink, check_writable};
use crate::source::FrameSource;
use anyhow::{Context, Result, bail};
use clap::Args;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

#[derive(Debug, Args)]
pub struct LiveArgs {
    /// Camera to use: its index or (part of) its name, see --list-cameras.
    #[arg(long, value_name = "INDEX|NAME", default_value = "0")]
    pub camera: CameraSelector,
    /// List the cameras and exit.
    #[arg(long)]
    pub list_cameras: bool,
    /// Resolution to ask the camera for (the closest it offers is used).
    #[arg(long, value_name = "WxH", default_value = "640x480", value_parser = parse_size)]
    pub resolution: (u32, u32),
    /// Frame rate to ask the camera for.
    #[arg(long, value_name = "N", default_value_t = 30, value_parser = clap::value_parser!(u32).range(1..=240))]
    pub fps: u32,
    /// Event log, appended to (never truncated), created readable by you only.
    #[arg(long, value_name = "FILE", default_value = "live.events.jsonl")]
    pub events: PathBuf,
    /// The camera shows a selfie-mirrored view (the person's left eye on the image's left).
    /// Most webcams deliver unmirrored frames even when call apps show them mirrored.
    #[arg(long)]
    pub mirrored: bool,
    /// No preview window (runs headless, as it also does when there is no display).
    #[arg(long)]
    pub no_preview: bool,
    /// Play this clip as if it were the camera, at its frame rate (no webcam needed).
    #[arg(long, value_name = "CLIP")]
    pub simulate: Option<PathBuf>,
    /// With --simulate: start the clip again when it ends (until stopped).
    #[arg(long = "loop", requires = "simulate")]
    pub looping: bool,
    /// Save a short video of each twitch (from 1 s before to 1 s after it) in DIR, as
    /// live-SESSIONSTART-twitch-NNNN-START-SIDE.mp4, owner-only. Off by default: no frame
    /// is ever written unless asked. Costs memory (12 s of frames, at most 256 MB).
    #[arg(long, value_name = "DIR")]
    pub save_frames: Option<PathBuf>,
    /// Write every frame's signals as CSV, to see why the detector fired (or did not); the
    /// same columns as `analyze --debug-trace`.
    #[arg(long, value_name = "FILE")]
    pub debug_trace: Option<PathBuf>,
    /// Testing: make the analysis this many milliseconds slower per frame (to see frames
    /// dropped when it falls behind the camera).
    #[arg(long, value_name = "MS", hide = true)]
    pub test_slow_analysis_ms: Option<u64>,
}

fn parse_size(s: &str) -> Result<(u32, u32), String> {
    let (w, h) = s
        .split_once(['x', 'X'])
        .ok_or_else(|| format!("expected WxH, e.g. 640x480, not {s:?}"))?;
    let p = |v: &str| {
        v.trim()
            .parse::<u32>()
            .ok()
            .filter(|n| (16..=8192).contains(n))
            .ok_or_else(|| format!("{v:?} is not a size between 16 and 8192"))
    };
    Ok((p(w)?, p(h)?))
}

/// The preview window, opened at the first frame (when its size is known); headless with a
/// note if there is no display.
struct LazyPreview {
    window: Option<PreviewWindow>,
    failed: bool,
}

impl LiveView for LazyPreview {
    fn show(&mut self, v: &View) -> bool {
        if self.window.is_none() && !self.failed {
            match PreviewWindow::open(v.frame.width, v.frame.height, 15.0) {
                Ok(w) => self.window = Some(w),
                Err(why) => {
                    self.failed = true;
                    eprintln!(
                        "twitchwatch: no preview window ({why}): running headless, events are \
                         still logged. Ctrl-C to stop."
                    );
                }
            }
        }
        self.window.as_mut().is_none_or(|w| w.show(v))
    }

    fn idle(&mut self) -> bool {
        self.window.as_mut().is_none_or(PreviewWindow::idle)
    }

    fn drawn(&self) -> Option<u64> {
        self.window.as_ref().map(PreviewWindow::drawn)
    }
}

pub fn run(a: &LiveArgs) -> Result<()> {
    if a.list_cameras {
        let cams = camera::list_cameras().map_err(anyhow::Error::new)?;
        if cams.is_empty() {
            // An answer, not a failure: scripts can tell "none" from "could not look".
            eprintln!("twitchwatch: {}", CameraError::NotFound(String::new()));
            return Ok(());
        }
        for c in cams {
            println!("{c}");
        }
        return Ok(());
    }
    // Fail before starting, not at the first event.
    check_writable(&a.events)
        .with_context(|| format!("{}: cannot write the event log", a.events.display()))?;

    let stop = Arc::new(AtomicBool::new(false));
    {
        let stop = stop.clone();
        // Ctrl-C, SIGTERM (and SIGHUP) end the session; the log is flushed and summarised.
        if let Err(e) = ctrlc::set_handler(move || stop.store(true, Ordering::Relaxed)) {
            tracing::warn!("cannot catch Ctrl-C: {e}");
        }
    }
    let (w, h) = a.resolution;
    let (opener, what): (Box<dyn CameraOpener>, serde_json::Value) = match &a.simulate {
        Some(clip) => (
            simulated(clip, a.looping, stop.clone())?,
            serde_json::json!({ "simulate": clip.display().to_string(), "loop": a.looping }),
        ),
        None => (
            camera::opener(CameraRequest {
                camera: a.camera.clone(),
                width: w,
                height: h,
                fps: a.fps,
            }),
            serde_json::json!({
                "camera": a.camera.to_string(),
                "resolution": format!("{w}x{h}"),
                "fps": a.fps,
            }),
        ),
    };
    let mut settings = serde_json::json!({ "live": what, "preview": !a.no_preview });
    if let Some(m) = settings.as_object_mut() {
        m.insert("mirrored".into(), a.mirrored.into());
    }
    let mut analyze = crate::commands::cli::analyze_options(a.mirrored);
    // A writer that falls behind skips a video rather than stall the analysis.
    analyze.save_frames = a
        .save_frames
        .as_deref()
        .map(|dir| {
            crate::outputs::saved_clips::SaveFramesParams::from_flag(
                dir,
                crate::analysis::capture::Backpressure::DropOldest,
            )
        })
        .transpose()?;
    let opts = LiveOptions {
        analyze,
        settings,
        debug_trace: a.debug_trace.clone(),
        slow_analysis: std::time::Duration::from_millis(a.test_slow_analysis_ms.unwrap_or(0)),
        ..LiveOptions::default()
    };

    let mut view: Box<dyn LiveView> = if a.no_preview {
        eprintln!("twitchwatch: no preview (--no-preview): running headless. Ctrl-C to stop.");
        Box::new(Headless)
    } else {
        if let Err(why) = crate::live::preview::display_available() {
            eprintln!(
                "twitchwatch: no preview window ({why}): running headless, events are still \
                 logged. Ctrl-C to stop."
            );
        }
        Box::new(LazyPreview {
            window: None,
            failed: crate::live::preview::display_available().is_err(),
        })
    };

    // Opened at the first event, so a camera that cannot start leaves no file behind.
    let mut sink: Option<JsonlSink> = None;
    let events_path = a.events.clone();
    let mut emit = |e: &Event| -> std::io::Result<()> {
        if sink.is_none() {
            sink = Some(JsonlSink::append(&events_path)?);
        }
        match sink.as_mut() {
            Some(s) => s.write(e),
            None => Ok(()),
        }
    };
    let result = run_session(opener, &opts, stop, &mut emit, view.as_mut());
    let closed = sink.as_mut().map(EventSink::finish);
    let summary = match result {
        Ok(s) => s,
        Err(LiveError::Start(e)) => bail!("{e}"),
        Err(LiveError::Analysis(e)) => bail!(
            "{e} (events detected before it are kept in {})",
            a.events.display()
        ),
        Err(LiveError::Source(e)) => bail!(
            "{e} (events detected before the error are kept in {})",
            a.events.display()
        ),
        Err(e) => return Err(e).with_context(|| format!("{}", a.events.display())),
    };
    if let Some(Err(e)) = closed {
        return Err(e).with_context(|| format!("{}: closing the event log", a.events.display()));
    }
    if summary.empty {
        eprintln!("twitchwatch: stopped before the camera delivered a frame; nothing logged");
        return Ok(());
    }
    let r = &summary.run;
    let preview = view
        .drawn()
        .map_or(String::new(), |n| format!(", {n} preview frames drawn"));
    eprintln!(
        "twitchwatch live: {:.1} s ({:.1} s with a face), twitches: left {} ({:.1}/min), right {} \
         ({:.1}/min), {} frames dropped, {} camera gaps{preview}. Events: {}",
        r.duration_s,
        r.observed_s,
        r.twitches[0],
        r.per_minute(Side::Left),
        r.twitches[1],
        r.per_minute(Side::Right),
        summary.frames_dropped,
        summary.camera_gaps,
        a.events.display()
    );
    Ok(())
}

/// Opens the clip now (so a bad path is a plain error before anything starts) and again
/// whenever the reconnecting source asks.
fn simulated(clip: &Path, looping: bool, stop: Arc<AtomicBool>) -> Result<Box<dyn CameraOpener>> {
    let mut first = Some(SimulatedCamera::open(clip, looping, stop.clone())?);
    let clip = clip.to_path_buf();
    Ok(Box::new(
        move || -> Result<Box<dyn FrameSource>, CameraError> {
            match first.take() {
                Some(s) => Ok(Box::new(s)),
                None => SimulatedCamera::open(&clip, looping, stop.clone())
                    .map(|s| Box::new(s) as Box<dyn FrameSource>)
                    .map_err(|e| CameraError::Failed(e.to_string())),
            }
        },
    ))
}
