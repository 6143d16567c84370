//! Video of each twitch, kept only when asked (`--save-frames DIR`): frames of a face are
//! health data, so by default none is ever written.
//!
//! Input: every analysed frame (handed over once the analysis is done with it) and each
//! closed twitch. Output: per twitch one H.264 MP4 in DIR, from `margin_s` before its start to
//! `margin_s` after its end, created owner-only (DIR itself 0o700). Thread: frames are kept on
//! the analysis thread; encoding and writing run on `twitchwatch-frames`.

use crate::analysis::anatomy::Side;
use crate::analysis::capture::Backpressure;
use crate::outputs::encode::ClipWriter;
use crate::outputs::events::Twitch;
use crate::source::Frame;
use crossbeam_channel::{Sender, TrySendError};
use std::collections::VecDeque;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;

/// Where and how much to keep.
#[derive(Debug, Clone)]
pub struct SaveFramesParams {
    /// Folder for the clips (created, owner-only, if missing).
    pub dir: PathBuf,
    /// Start of every file name, e.g. the source clip's name and a dash.
    pub prefix: String,
    /// Seconds of video kept before each twitch's start and after its end.
    pub margin_s: f64,
    /// Longest stretch of recent frames held in memory, seconds: a twitch longer than this
    /// minus the margins is saved from part-way through.
    pub keep_s: f64,
    /// Memory cap for the held frames, bytes (1080p: 2 MB a frame).
    pub max_bytes: usize,
    /// `Block` waits for the writer (clips: nothing lost); `DropOldest` skips a twitch's
    /// video with a warning when the writer is behind (live: the analysis never stalls).
    pub backpressure: Backpressure,
}

impl SaveFramesParams {
    pub fn new(dir: PathBuf, prefix: String, backpressure: Backpressure) -> Self {
        Self {
            dir,
            prefix,
            margin_s: 1.0,
            keep_s: 12.0,
            max_bytes: 256 << 20,
            backpressure,
        }
    }

    /// `--save-frames DIR` from the command line: the folder is made ready and checked
    /// before any run starts (the error names it); file names are filled in per clip or
    /// session.
    pub fn from_flag(dir: &Path, backpressure: Backpressure) -> anyhow::Result<Self> {
        use anyhow::Context;
        prepare_dir(dir).with_context(|| format!("{}: cannot save frames there", dir.display()))?;
        Ok(Self::new(dir.to_path_buf(), String::new(), backpressure))
    }
}

/// Creates `dir` (owner-only) if needed and makes sure a file can be written in it: run
/// before a long analysis so a bad folder fails at once.
fn prepare_dir(dir: &Path) -> io::Result<()> {
    crate::outputs::events::create_dir_private(dir)?;
    crate::outputs::events::check_writable(&dir.join(".twitchwatch-frames-check"))
}

/// A twitch waiting for the frames after its end.
struct Pending {
    number: u64,
    start_s: f64,
    end_s: f64,
    side: Side,
}

/// One clip for the writer thread.
struct ClipJob {
    path: PathBuf,
    start_s: f64,
    frames: Vec<Arc<Frame>>,
}

/// What the writer thread has done so far. Only the first failure is ever reported (saving
/// stops there), so a count and one message hold all of it: the writer never waits to hand
/// over a result, and the analysis thread never has to drain a queue of them.
#[derive(Debug, Default)]
struct WriterOutcome {
    saved: u64,
    /// The first failure not yet read by the analysis thread.
    failed: Option<String>,
}

/// What the saver has to say, for the event log.
#[derive(Debug, Default, PartialEq)]
pub struct SaveReport {
    pub saved: u64,
    /// Warnings: clips skipped or failed.
    pub notes: Vec<String>,
}

pub struct FrameSaver {
    params: SaveFramesParams,
    ring: VecDeque<Arc<Frame>>,
    ring_bytes: usize,
    pending: Vec<Pending>,
    twitches: u64,
    tx_clips: Option<Sender<ClipJob>>,
    outcome: Arc<Mutex<WriterOutcome>>,
    thread: Option<JoinHandle<()>>,
    /// After a write error no more frames are kept (the disk is full, or the folder gone).
    stopped: bool,
    report: SaveReport,
}

impl FrameSaver {
    /// Makes sure the folder exists and starts the writer thread. (Whether it can be written
    /// was checked once before the runs, by `SaveFramesParams::from_flag`; a write that fails later is a
    /// warning.)
    pub fn start(params: SaveFramesParams) -> io::Result<Self> {
        crate::outputs::events::create_dir_private(&params.dir)?;
        let (tx_clips, rx_clips) = crossbeam_channel::bounded::<ClipJob>(4);
        let outcome = Arc::new(Mutex::new(WriterOutcome::default()));
        let shared = Arc::clone(&outcome);
        let thread = std::thread::Builder::new()
            .name("twitchwatch-frames".into())
            .spawn(move || {
                for job in rx_clips {
                    let r = write_clip(&job).map_err(|e| {
                        not_saved(job.start_s, &format!(" ({}): {e:#}", job.path.display()))
                    });
                    let mut o = shared.lock().unwrap_or_else(PoisonError::into_inner);
                    match r {
                        Ok(()) => o.saved += 1,
                        Err(e) => {
                            o.failed.get_or_insert(e);
                        }
                    }
                }
            })?;
        Ok(Self {
            params,
            ring: VecDeque::new(),
            ring_bytes: 0,
            pending: vec![],
            twitches: 0,
            tx_clips: Some(tx_clips),
            outcome,
            thread: Some(thread),
            stopped: false,
            report: SaveReport::default(),
        })
    }

    /// A twitch has closed: its clip goes out once the frames after its end are in.
    pub fn twitch(&mut self, tw: &Twitch) {
        self.twitches += 1;
        if !self.stopped {
            self.pending.push(Pending {
                number: self.twitches,
                start_s: tw.start_s,
                end_s: tw.end_s,
                side: tw.side,
            });
        }
    }

    /// Keeps one analysed frame; sends the clips that are complete. Returns warnings to log.
    pub fn push(&mut self, frame: Frame) -> Vec<String> {
        let mut notes = self.collect();
        if self.stopped {
            return notes;
        }
        let t = frame.pts_s;
        self.ring_bytes += frame.luma.len();
        self.ring.push_back(Arc::new(frame));
        let margin = self.params.margin_s;
        let ready: Vec<_> = self
            .pending
            .extract_if(.., |p| p.end_s + margin <= t)
            .collect();
        for p in ready {
            notes.extend(self.send(&p));
        }
        // Oldest frames go once nothing pending needs them and they are older than keep_s,
        // or at once when over the memory cap.
        let needed_from = self
            .pending
            .iter()
            .map(|p| p.start_s - margin)
            .fold(t - self.params.keep_s, f64::min);
        while let Some(front) = self.ring.front() {
            let too_old = front.pts_s < needed_from;
            let over = self.ring_bytes > self.params.max_bytes && self.ring.len() > 1;
            if !(too_old || over) {
                break;
            }
            self.ring_bytes -= front.luma.len();
            self.ring.pop_front();
        }
        notes
    }

    /// Sends the twitches still waiting with the frames there are, waits for the writer and
    /// says what happened.
    pub fn finish(mut self) -> SaveReport {
        let mut notes = vec![];
        for p in std::mem::take(&mut self.pending) {
            notes.extend(self.send(&p));
        }
        self.tx_clips = None;
        if let Some(h) = self.thread.take()
            && h.join().is_err()
        {
            notes.push("the frame writer stopped unexpectedly; some videos may be missing".into());
        }
        notes.splice(0..0, self.collect());
        let mut report = std::mem::take(&mut self.report);
        report.notes.extend(notes);
        report
    }

    fn send(&mut self, p: &Pending) -> Option<String> {
        if self.stopped {
            return None;
        }
        let margin = self.params.margin_s;
        let frames: Vec<_> = self
            .ring
            .iter()
            .filter(|f| f.pts_s >= p.start_s - margin && f.pts_s <= p.end_s + margin)
            .cloned()
            .collect();
        if frames.is_empty() {
            return Some(not_saved(p.start_s, ": its frames were no longer held"));
        }
        let name = format!(
            "{}twitch-{:04}-{:.2}s-{}.mp4",
            self.params.prefix,
            p.number,
            p.start_s,
            p.side.as_str()
        );
        let job = ClipJob {
            path: self.params.dir.join(name),
            start_s: p.start_s,
            frames,
        };
        let tx = self.tx_clips.as_ref()?;
        let sent = match self.params.backpressure {
            Backpressure::Block => tx.send(job).is_ok(),
            Backpressure::DropOldest => match tx.try_send(job) {
                Ok(()) => true,
                Err(TrySendError::Full(_)) => {
                    return Some(not_saved(p.start_s, ": the writer is behind"));
                }
                Err(TrySendError::Disconnected(_)) => false,
            },
        };
        if sent {
            return None;
        }
        self.stop();
        Some("saving frames stopped: the frame writer is gone".into())
    }

    /// Results from the writer so far: counts the clips saved, turns a failure into a note.
    fn collect(&mut self) -> Vec<String> {
        let mut notes = vec![];
        let failed = {
            let mut o = self.outcome.lock().unwrap_or_else(PoisonError::into_inner);
            self.report.saved = o.saved;
            o.failed.take()
        };
        if let Some(e) = failed
            && !self.stopped
        {
            notes.push(format!("{e}; no more frames are saved in this run"));
            self.stop();
        }
        notes
    }

    fn stop(&mut self) {
        self.stopped = true;
        self.ring.clear();
        self.ring_bytes = 0;
        self.pending.clear();
    }
}

impl Drop for FrameSaver {
    fn drop(&mut self) {
        self.tx_clips = None;
        if let Some(h) = self.thread.take() {
            let _ = h.join();
        }
    }
}

/// The warning for a twitch whose video is missing; `why` goes after the time.
fn not_saved(start_s: f64, why: &str) -> String {
    format!("the video of the twitch at {start_s:.2} s was not saved{why}")
}

/// Encodes one clip; frames of another size than the last one (a size change) are left out,
/// odd sizes lose their last row or column (H.264 needs even ones).
fn write_clip(job: &ClipJob) -> anyhow::Result<()> {
    let Some(last) = job.frames.last() else {
        return Ok(());
    };
    let (w, h) = (last.width, last.height);
    let frames: Vec<_> = job
        .frames
        .iter()
        .filter(|f| (f.width, f.height) == (w, h))
        .collect();
    let (ew, eh) = (w & !1, h & !1);
    anyhow::ensure!(ew > 0 && eh > 0, "frame size {w}x{h} is too small");
    let span = frames.last().map_or(0.0, |l| l.pts_s) - frames.first().map_or(0.0, |f| f.pts_s);
    let fps = if frames.len() > 1 && span > 0.0 {
        ((frames.len() - 1) as f64 / span).clamp(1.0, 240.0)
    } else {
        30.0
    };
    // About 0.15 bits a pixel: faces stay sharp enough to see a lid move.
    let bitrate = ((ew * eh) as f64 * fps * 0.15).clamp(2e5, 2e7) as u32;
    let mut out = ClipWriter::create_for_viewing(&job.path, ew, eh, fps, bitrate)?;
    for f in frames {
        if (ew, eh) == (w, h) {
            out.write(f)?;
        } else {
            out.write(&even_crop(f, ew, eh))?;
        }
    }
    out.finish()?;
    Ok(())
}

fn even_crop(f: &Frame, ew: u32, eh: u32) -> Frame {
    let mut luma = Vec::with_capacity((ew * eh) as usize);
    for row in f.luma.chunks_exact(f.width as usize).take(eh as usize) {
        luma.extend_from_slice(&row[..ew as usize]);
    }
    Frame {
        index: f.index,
        pts_s: f.pts_s,
        width: ew,
        height: eh,
        luma,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::open_clip;

    fn frame(i: u64, w: u32, h: u32) -> Frame {
        Frame {
            index: i,
            pts_s: i as f64 / 30.0,
            width: w,
            height: h,
            luma: (0..w * h)
                .map(|p| ((p + i as u32 * 3) % 251) as u8)
                .collect(),
        }
    }

    fn twitch(start_s: f64, end_s: f64) -> Twitch {
        crate::test_support::twitch(Side::Left, start_s, end_s)
    }

    /// One twitch from 1.0 to 1.5 s at 30 fps: the clip holds 0.0..=2.5 s, 76 frames, and
    /// decodes back at the size it was written (odd sizes cropped to even).
    #[test]
    fn saves_the_margins_around_a_twitch() {
        let dir = tempfile::tempdir().unwrap();
        let mut p =
            SaveFramesParams::new(dir.path().join("frames"), "t-".into(), Backpressure::Block);
        p.margin_s = 1.0;
        let mut saver = FrameSaver::start(p).unwrap();
        let mut notes = vec![];
        for i in 0..120 {
            if i == 60 {
                saver.twitch(&twitch(1.0, 1.5));
            }
            notes.extend(saver.push(frame(i, 65, 49)));
        }
        let report = saver.finish();
        assert!(
            notes.is_empty() && report.notes.is_empty(),
            "{notes:?} {report:?}"
        );
        assert_eq!(report.saved, 1);
        let path = dir.path().join("frames/t-twitch-0001-1.00s-left.mp4");
        let mut src = open_clip(&path).unwrap();
        let mut n = 0;
        while let Some(f) = src.next_frame().unwrap() {
            assert_eq!((f.width, f.height), (64, 48));
            n += 1;
        }
        assert_eq!(n, 76);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode(&path), 0o600);
            assert_eq!(mode(&dir.path().join("frames")), 0o700);
        }
    }

    /// Without twitches nothing is written and memory stays within keep_s.
    #[test]
    fn holds_only_keep_s_of_frames() {
        let dir = tempfile::tempdir().unwrap();
        let mut p =
            SaveFramesParams::new(dir.path().to_path_buf(), String::new(), Backpressure::Block);
        p.keep_s = 2.0;
        let mut saver = FrameSaver::start(p).unwrap();
        for i in 0..300 {
            saver.push(frame(i, 16, 16));
            assert!(saver.ring.len() <= 62, "{}", saver.ring.len());
        }
        assert_eq!(saver.finish(), SaveReport::default());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    /// A twitch still open at the end is saved with the frames there are.
    #[test]
    fn finish_saves_what_is_pending() {
        let dir = tempfile::tempdir().unwrap();
        let p = SaveFramesParams::new(dir.path().to_path_buf(), String::new(), Backpressure::Block);
        let mut saver = FrameSaver::start(p).unwrap();
        for i in 0..40 {
            saver.push(frame(i, 32, 32));
        }
        saver.twitch(&twitch(1.0, 1.3));
        let report = saver.finish();
        assert_eq!(report.saved, 1, "{report:?}");
    }

    /// A write that fails mid-run (here the folder is gone; a full disk is the same) is one
    /// note, and nothing more is kept.
    #[test]
    fn a_failed_write_is_one_note_and_saving_stops() {
        let dir = tempfile::tempdir().unwrap();
        let videos = dir.path().join("v");
        let p = SaveFramesParams::new(videos.clone(), String::new(), Backpressure::Block);
        let mut saver = FrameSaver::start(p).unwrap();
        std::fs::remove_dir(&videos).unwrap();
        let mut notes = vec![];
        for i in 0..300 {
            if i == 60 || i == 150 {
                saver.twitch(&twitch(i as f64 / 30.0 - 0.5, i as f64 / 30.0 - 0.2));
            }
            notes.extend(saver.push(frame(i, 32, 32)));
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        notes.extend(saver.finish().notes);
        assert_eq!(notes.len(), 1, "{notes:?}");
        assert!(
            notes[0].contains("was not saved") && notes[0].contains("no more frames"),
            "{notes:?}"
        );
    }

    /// A folder that cannot be written fails at the start.
    #[test]
    fn unwritable_folder_fails_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("a-file");
        std::fs::write(&file, b"x").unwrap();
        let p = SaveFramesParams::new(file.join("frames"), String::new(), Backpressure::Block);
        assert!(FrameSaver::start(p).is_err());
    }
}
