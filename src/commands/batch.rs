//! Batch analysis: several clips (or folders of clips) analysed side by side.
//!
//! Input: clip and folder paths from `analyze`. Output: one event log (and CSV if asked) per
//! clip, a combined progress display, each clip's outcome. Thread: called on main; clips run
//! on a fixed pool of `twitchwatch-batch-N` threads, each running `pipeline::run` (which owns
//! that clip's capture thread).

use crate::analysis::pipeline::{self, AnalyzeOptions, FrameObserver, RunError, RunSummary};
use crate::outputs::events::{CsvSink, Event, EventSink, JsonlSink, check_writable};
use crate::source::{SourceInfo, open_clip_oriented};
use anyhow::{Context, Result, anyhow, bail};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::collections::HashMap;
use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};
use std::sync::Once;
use std::sync::atomic::{AtomicUsize, Ordering};

/// File extensions taken from a folder (compared without regard to case). Only for picking
/// files out of a folder: the decoder is still chosen from each file's content.
pub const VIDEO_EXTENSIONS: &[&str] = &["mp4", "mov", "m4v", "mkv", "webm", "avi", "y4m"];

/// One clip and where its outputs go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClipJob {
    pub clip: PathBuf,
    pub events: PathBuf,
    pub csv: Option<PathBuf>,
}

/// The clip's file name, as the session line and the summary name it.
pub fn clip_name(clip: &Path) -> String {
    clip.file_name()
        .map_or_else(String::new, |n| n.to_string_lossy().into_owned())
}

/// `<stem>.events.jsonl`, in `out_dir` if given (else relative: the current folder).
pub fn log_path(clip: &Path, out_dir: Option<&Path>) -> PathBuf {
    let stem = clip
        .file_stem()
        .map_or_else(|| "clip".into(), |s| s.to_string_lossy().into_owned());
    let name = PathBuf::from(format!("{stem}.events.jsonl"));
    match out_dir {
        Some(d) => d.join(name),
        None => name,
    }
}

/// The CSV written beside a log: `x.events.jsonl` → `x.events.csv`.
pub fn csv_beside(log: &Path) -> PathBuf {
    log.with_extension("csv")
}

fn is_video_file_name(path: &Path) -> bool {
    let name = path.file_name().map(|n| n.to_string_lossy());
    // Hidden files are skipped: e.g. macOS leaves `._clip.mp4` metadata beside clips on
    // shared drives, which would only fail as "not a video".
    if name.is_none_or(|n| n.starts_with('.')) {
        return false;
    }
    path.extension().is_some_and(|e| {
        let e = e.to_string_lossy().to_ascii_lowercase();
        VIDEO_EXTENSIONS.contains(&e.as_str())
    })
}

/// Expands the command line's arguments into clips: a folder gives its video files (not
/// recursing, sorted by name), anything else is taken as a clip (a missing one fails later,
/// as that clip's error). A folder without video files is an error.
pub fn collect_clips(args: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut clips = vec![];
    for arg in args {
        if !arg.is_dir() {
            clips.push(arg.clone());
            continue;
        }
        let mut found = vec![];
        let entries =
            std::fs::read_dir(arg).with_context(|| format!("{}: cannot list", arg.display()))?;
        for entry in entries {
            let path = entry
                .with_context(|| format!("{}: cannot list", arg.display()))?
                .path();
            if is_video_file_name(&path) && path.is_file() {
                found.push(path);
            }
        }
        if found.is_empty() {
            bail!(
                "{}: no video files in this folder (looked for .{})",
                arg.display(),
                VIDEO_EXTENSIONS.join(", .")
            );
        }
        found.sort_by(|a, b| a.file_name().cmp(&b.file_name()));
        clips.extend(found);
    }
    Ok(clips)
}

/// Names each clip's outputs. Two clips whose logs would get the same name are an error
/// (one would overwrite the other), found before anything runs.
pub fn plan(clips: &[PathBuf], out_dir: Option<&Path>, csv_each: bool) -> Result<Vec<ClipJob>> {
    // Compared ignoring case: on macOS and Windows `A.events.jsonl` and `a.events.jsonl` are
    // one file.
    let mut seen: HashMap<String, &Path> = HashMap::new();
    let mut jobs = vec![];
    for clip in clips {
        let events = log_path(clip, out_dir);
        let key = events.to_string_lossy().to_lowercase();
        if let Some(first) = seen.get(&key) {
            let same = match (std::fs::canonicalize(first), std::fs::canonicalize(clip)) {
                (Ok(a), Ok(b)) => a == b,
                _ => first == clip,
            };
            if same && *first == clip.as_path() {
                bail!("{}: the same clip is given twice", clip.display());
            }
            if same {
                bail!(
                    "{}: the same clip is given twice (also as {})",
                    clip.display(),
                    first.display()
                );
            }
            bail!(
                "{} and {} would both write {}: rename one, or analyse them in separate runs with different --out-dir",
                first.display(),
                clip.display(),
                events.display()
            );
        }
        seen.insert(key, clip);
        let csv = csv_each.then(|| csv_beside(&events));
        jobs.push(ClipJob {
            clip: clip.clone(),
            events,
            csv,
        });
    }
    Ok(jobs)
}

/// Creates the output folder if it is missing.
pub fn create_out_dir(dir: &Path) -> Result<()> {
    // Logs are health data: a folder made for them is the owner's alone.
    crate::outputs::events::create_dir_private(dir)
        .with_context(|| format!("{}: cannot create the output folder", dir.display()))
}

/// Fails before a long run, not after it: every output must be writable.
pub fn check_outputs(job: &ClipJob) -> Result<()> {
    check_writable(&job.events)
        .with_context(|| format!("{}: cannot write the event log", job.events.display()))?;
    if let Some(csv) = &job.csv {
        check_writable(csv).with_context(|| format!("{}: cannot write the CSV", csv.display()))?;
    }
    Ok(())
}

/// Worker threads: `--jobs` if given, else one per core; never more than there are clips.
pub fn pool_size(requested: Option<NonZeroUsize>, clips: usize) -> usize {
    let n = requested.map_or_else(
        || std::thread::available_parallelism().map_or(1, NonZeroUsize::get),
        NonZeroUsize::get,
    );
    n.min(clips).max(1)
}

/// Whether the face confirmations searched ahead for a clip analysed while `workers` clips
/// run at once go to its capture thread (`AnalyzeOptions::search_on_capture`): unless every
/// worker has three cores (its decoder, its measuring and its searches ahead each get one).
/// With fewer, a thread of their own takes turns with the decoder, which then delivers
/// frames later; the capture thread only searches while it would otherwise wait.
pub fn search_on_capture(workers: usize) -> bool {
    let cores = std::thread::available_parallelism().map_or(1, NonZeroUsize::get);
    cores < 3 * workers.max(1)
}

/// Frames read ahead for clips (`AnalyzeOptions::look_ahead`). A face confirmation costs
/// some 4 to 7 frames' worth of measuring, so 6 frames ahead it is mostly done when its
/// frame comes up; further ahead, the face has more often moved off the search square.
pub const LOOK_AHEAD: usize = 6;

/// Analyses one clip into its event log (and CSV): the same steps whether the clip runs alone
/// or in a batch. `start` builds the per-frame observer once the clip is open (its frame
/// count is known then); `end` gets it back right after the run, before errors are sorted.
pub fn analyze_clip<O: FrameObserver>(
    job: &ClipJob,
    opts: &AnalyzeOptions,
    start: impl FnOnce(&SourceInfo) -> Result<O>,
    end: impl FnOnce(O) -> Result<()>,
) -> Result<RunSummary> {
    // Opened before the log is created: a clip that cannot be read leaves nothing behind.
    let source = open_clip_oriented(&job.clip, opts.rotate)?;
    let info = source.info().clone();
    let mut sinks: Vec<Box<dyn EventSink + Send>> = vec![Box::new(
        JsonlSink::create(&job.events)
            .with_context(|| format!("{}: cannot create", job.events.display()))?,
    )];
    if let Some(csv) = &job.csv {
        sinks.push(Box::new(
            CsvSink::create(csv).with_context(|| format!("{}: cannot create", csv.display()))?,
        ));
    }
    let mut emit = |e: &Event| sinks.iter_mut().try_for_each(|s| s.write(e));
    let mut observer = start(&info)?;
    // Saved videos are named after their clip, so clips can share a folder.
    let mut opts = opts.clone();
    if opts.recorded.is_none() {
        // Why there is none is told in the clip's summary line (`cli`).
        opts.recorded = recording_date(&job.clip).ok();
    }
    if let Some(p) = opts.save_frames.as_mut() {
        let stem = job.clip.file_stem().map(|s| s.to_string_lossy());
        p.prefix = format!("{}-", stem.as_deref().unwrap_or("clip"));
    }
    let result = pipeline::run(
        source,
        &format!("{} ({})", clip_name(&job.clip), info.description),
        &opts,
        &mut emit,
        &mut observer,
    );
    let ended = end(observer);
    let finish_errors: Vec<_> = sinks.iter_mut().filter_map(|s| s.finish().err()).collect();
    ended?;
    let summary = match result {
        Ok(s) => s,
        Err(RunError::Source(e)) => bail!(
            "{e} (events detected before the error are kept in {})",
            job.events.display()
        ),
        Err(e @ RunError::Panicked { .. }) => bail!(
            "{}: {e} (events detected before it are kept in {})",
            job.clip.display(),
            job.events.display()
        ),
        Err(e) => return Err(e).with_context(|| format!("{}", job.events.display())),
    };
    if let Some(e) = finish_errors.into_iter().next() {
        return Err(e).with_context(|| format!("{}: closing the event log", job.events.display()));
    }
    Ok(summary)
}

/// The clip's recording date from its container (RFC 3339, local time), or why there is
/// none (missing, zero, before 2000, in the future).
pub fn recording_date(clip: &Path) -> Result<String, String> {
    let created = match crate::source::container_created(clip) {
        Ok(c) => c,
        Err(e) => {
            tracing::debug!("{e}");
            None
        }
    };
    let now = jiff::Timestamp::now().as_second();
    let t = crate::outputs::course::judge_container_date(created, now)?;
    crate::outputs::course::rfc3339_local(t)
        .ok_or_else(|| "the container's date is out of range".into())
}

/// The combined progress display: a total bar over all clips' frames and one line per clip
/// in progress. Shared by the workers (indicatif's bars are thread-safe).
pub struct Progress {
    multi: MultiProgress,
    total: ProgressBar,
    total_drawn: Once,
    clips: usize,
    done: AtomicUsize,
    failed: AtomicUsize,
}

impl Progress {
    /// `enabled`: drawn at all (off with `-q`); never drawn when stderr is not a terminal.
    pub fn new(enabled: bool, clips: usize) -> Self {
        use std::io::IsTerminal;
        let target = if enabled && std::io::stderr().is_terminal() {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        };
        let multi = MultiProgress::with_draw_target(target);
        // Its length grows as clips are opened (a frame count is known only once a clip is
        // open), so it shows no ETA: the clips' own lines do.
        let total = multi.add(ProgressBar::new(0));
        // No bar until a clip is open: an empty length would draw as a full bar.
        total.set_style(style("all clips: {msg}"));
        let p = Self {
            multi,
            total,
            total_drawn: Once::new(),
            clips,
            done: AtomicUsize::new(0),
            failed: AtomicUsize::new(0),
        };
        p.update_message();
        p
    }

    fn update_message(&self) {
        let done = self.done.load(Ordering::Relaxed);
        let failed = self.failed.load(Ordering::Relaxed);
        let mut msg = format!("{done} of {} clips done", self.clips);
        if failed > 0 {
            msg.push_str(&format!(", {failed} failed"));
        }
        self.total.set_message(msg);
    }

    /// A line for a clip that has just been opened.
    fn clip_started(&self, clip: &Path, info: &SourceInfo) -> ClipProgress {
        let bar = match info.frame_count {
            Some(n) => {
                self.total.inc_length(n);
                self.total_drawn.call_once(|| {
                    self.total.set_style(style(
                        "all clips [{bar:30}] {pos}/{len} frames, {msg}, {elapsed}",
                    ));
                });
                let bar = ProgressBar::new(n);
                bar.set_style(style(
                    "  {msg} [{bar:30}] {pos}/{len} frames ({percent}%), eta {eta}",
                ));
                bar
            }
            None => {
                let bar = ProgressBar::new_spinner();
                bar.set_style(style("  {msg} {spinner} {pos} frames"));
                bar
            }
        };
        let bar = self.multi.add(bar);
        bar.set_message(clip_name(clip));
        ClipProgress {
            bar,
            total: self.total.clone(),
            expected: info.frame_count,
            frames: 0,
        }
    }

    /// Removes a clip's line, and squares the total with the frames the clip really had (a
    /// clip cut short has fewer than its header said).
    fn clip_ended(&self, p: ClipProgress) {
        p.bar.finish_and_clear();
        self.multi.remove(&p.bar);
        if let Some(n) = p.expected {
            if p.frames < n {
                self.total.dec_length(n - p.frames);
            } else {
                self.total.inc_length(p.frames - n);
            }
        }
    }

    fn clip_done(&self, ok: bool) {
        self.done.fetch_add(1, Ordering::Relaxed);
        if !ok {
            self.failed.fetch_add(1, Ordering::Relaxed);
        }
        self.update_message();
    }

    /// Prints a line above the bars without tearing them.
    pub fn eprintln(&self, line: &str) {
        self.multi.suspend(|| eprintln!("{line}"));
    }

    /// Takes the display off the screen, before the summaries are printed.
    pub fn finish(&self) {
        self.total.finish_and_clear();
        // Nothing is lost if clearing fails: the summaries follow on new lines.
        let _ = self.multi.clear();
    }
}

fn style(template: &str) -> ProgressStyle {
    ProgressStyle::with_template(template)
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ")
}

/// Counts one clip's frames on its own line and on the total.
struct ClipProgress {
    bar: ProgressBar,
    total: ProgressBar,
    expected: Option<u64>,
    frames: u64,
}

impl FrameObserver for ClipProgress {
    fn frame(
        &mut self,
        _: &crate::analysis::measure::motion::FrameSignals,
        _: &crate::analysis::bursts::Activity,
    ) {
        self.frames += 1;
        if self.expected.is_none() {
            // Unknown length: the total grows with the frames, so it never runs past 100 %.
            self.total.inc_length(1);
        }
        self.total.inc(1);
        self.bar.inc(1);
    }
}

/// The error as one line that names the clip (source errors already do).
pub fn error_line(clip: &Path, e: &anyhow::Error) -> String {
    let msg = format!("{e:#}");
    let shown = clip.display().to_string();
    if msg.contains(&shown) {
        msg
    } else {
        format!("{shown}: {msg}")
    }
}

/// Runs every job on `threads` workers and returns each clip's outcome, in the jobs' order.
/// A clip's failure is printed (once, one line) as it happens and does not stop the others.
pub fn run(
    jobs: &[ClipJob],
    threads: usize,
    opts: &AnalyzeOptions,
    progress: &Progress,
) -> Result<Vec<Result<RunSummary>>> {
    // Bounded by the number of clips: every job is queued before a worker starts and each
    // worker sends at most one outcome per job, so neither send can ever wait (the outcomes
    // are read only once every worker has ended).
    let capacity = jobs.len().max(1);
    let (job_tx, job_rx) = crossbeam_channel::bounded::<usize>(capacity);
    for i in 0..jobs.len() {
        job_tx
            .send(i)
            .map_err(|_| anyhow!("queueing the clips failed"))?;
    }
    // Closed now, so that workers stop when the queue is empty.
    drop(job_tx);
    let (done_tx, done_rx) = crossbeam_channel::bounded::<(usize, Result<RunSummary>)>(capacity);
    let opts = &AnalyzeOptions {
        // `--one-core` asks for it whatever the cores.
        search_on_capture: opts.search_on_capture || search_on_capture(threads),
        ..opts.clone()
    };
    let spawn_error = std::thread::scope(|s| {
        let mut handles = vec![];
        let mut spawn_error = None;
        for n in 1..=threads.max(1) {
            let rx = job_rx.clone();
            let tx = done_tx.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("twitchwatch-batch-{n}"))
                .spawn_scoped(s, move || worker(&rx, &tx, jobs, opts, progress));
            match spawned {
                Ok(h) => handles.push(h),
                Err(e) => {
                    // Fewer workers still finish the queue; none at all is an error.
                    spawn_error = Some(e);
                    break;
                }
            }
        }
        let none_started = handles.is_empty();
        // Joined here, so that a worker's panic costs only its clip (reported below), not the
        // whole batch.
        for h in handles {
            let _ = h.join();
        }
        spawn_error.filter(|_| none_started)
    });
    drop(done_tx);
    if let Some(e) = spawn_error {
        return Err(e).context("starting the worker threads");
    }
    let mut outcomes: Vec<Option<Result<RunSummary>>> = jobs.iter().map(|_| None).collect();
    for (i, r) in done_rx.iter() {
        outcomes[i] = Some(r);
    }
    Ok(outcomes
        .into_iter()
        .zip(jobs)
        .map(|(r, job)| {
            r.unwrap_or_else(|| {
                let e = anyhow!("the analysis stopped unexpectedly (an internal error)");
                progress.eprintln(&format!(
                    "twitchwatch: error: {}",
                    error_line(&job.clip, &e)
                ));
                Err(e)
            })
        })
        .collect())
}

fn worker(
    rx: &crossbeam_channel::Receiver<usize>,
    tx: &crossbeam_channel::Sender<(usize, Result<RunSummary>)>,
    jobs: &[ClipJob],
    opts: &AnalyzeOptions,
    progress: &Progress,
) {
    for i in rx.iter() {
        let job = &jobs[i];
        let result = analyze_clip(
            job,
            opts,
            |info| Ok(progress.clip_started(&job.clip, info)),
            |p| {
                progress.clip_ended(p);
                Ok(())
            },
        );
        if let Err(e) = &result {
            progress.eprintln(&format!("twitchwatch: error: {}", error_line(&job.clip, e)));
        }
        progress.clip_done(result.is_ok());
        if tx.send((i, result)).is_err() {
            break;
        }
    }
}
