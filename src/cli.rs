//! Command line: parses arguments and runs `analyze`, `live`, `synth` and `eval`.
//!
//! Input: argv. Output: files and a short report on stderr/stdout. Thread: main.

use crate::anatomy::Side;
use crate::events::{CsvSink, Event, EventSink, JsonlSink, check_writable};
use crate::pipeline::{AnalyzeOptions, FrameObserver, RunError, RunSummary, TraceWriter};
use crate::source::open_clip;
use crate::{eval, pipeline};
use anyhow::{Context, Result, bail};
use clap::{Args, Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

#[derive(Debug, Parser)]
#[command(
    name = "twitchwatch",
    version,
    about = "Logs one-sided facial twitches (hemifacial spasm) from a recorded clip or a webcam"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Analyse a recorded clip and write a timestamped event log (JSON Lines).
    Analyze(AnalyzeArgs),
    /// Watch a webcam (or a clip played as one) and append events to a log until stopped.
    Live(crate::live::command::LiveArgs),
    /// Render synthetic clips with ground-truth labels (twitches and distractors).
    Synth(crate::synth::SynthArgs),
    /// Score event logs against labels: precision, recall, F1, side accuracy, onset error.
    Eval(EvalArgs),
    /// Therapist report of event logs: HTML with plots (and CSV), each session and pooled.
    Report(crate::report::ReportArgs),
    /// Compare event logs from before and after a treatment: HTML (and CSV).
    Compare(crate::report::CompareArgs),
}

#[derive(Debug, Args)]
pub struct AnalyzeArgs {
    /// The clip: H.264 MP4/MOV or Y4M built in; other formats need ffmpeg on PATH.
    pub clip: PathBuf,
    /// Event log to write [default: CLIP's name with .events.jsonl, in the current folder].
    #[arg(long, value_name = "OUT.jsonl")]
    pub events: Option<PathBuf>,
    /// Also write the twitches as CSV.
    #[arg(long, value_name = "OUT.csv")]
    pub csv: Option<PathBuf>,
    /// The clip is a selfie-mirrored view (the person's left eye on the image's left).
    #[arg(long)]
    pub mirrored: bool,
    /// Write every frame's signals as CSV, to see why the detector fired (or did not).
    #[arg(long, value_name = "FILE")]
    pub debug_trace: Option<PathBuf>,
    /// No progress bar and no summary.
    #[arg(long, short)]
    pub quiet: bool,
}

#[derive(Debug, Args)]
pub struct EvalArgs {
    /// Labels file (NAME.labels.json).
    #[arg(long, required_unless_present = "dir", requires = "events")]
    pub labels: Option<PathBuf>,
    /// Event log to score (from `analyze`).
    #[arg(long)]
    pub events: Option<PathBuf>,
    /// Folder mode: analyse every clip X.mp4 that has an X.labels.json beside it, and score.
    #[arg(long, conflicts_with_all = ["labels", "events"])]
    pub dir: Option<PathBuf>,
    /// In folder mode, keep each clip's event log in this folder.
    #[arg(long, value_name = "DIR")]
    pub keep_events: Option<PathBuf>,
    /// Write the scores as CSV too.
    #[arg(long, value_name = "FILE")]
    pub csv: Option<PathBuf>,
}

/// Runs the parsed command. Errors come back once, to be printed by `main`.
pub fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Analyze(a) => analyze(&a),
        Command::Live(l) => crate::live::command::run(&l),
        Command::Synth(s) => crate::synth::run(&s),
        Command::Eval(e) => run_eval(&e),
        Command::Report(r) => crate::report::run_report(&r),
        Command::Compare(c) => crate::report::run_compare(&c),
    }
}

fn default_events_path(clip: &Path) -> PathBuf {
    let stem = clip
        .file_stem()
        .map_or_else(|| "clip".into(), |s| s.to_string_lossy().into_owned());
    PathBuf::from(format!("{stem}.events.jsonl"))
}

fn analyze(a: &AnalyzeArgs) -> Result<()> {
    let events_path = a
        .events
        .clone()
        .unwrap_or_else(|| default_events_path(&a.clip));
    // Fail before a long run, not after it.
    check_writable(&events_path)
        .with_context(|| format!("{}: cannot write the event log", events_path.display()))?;
    if let Some(csv) = &a.csv {
        check_writable(csv).with_context(|| format!("{}: cannot write the CSV", csv.display()))?;
    }
    let source = open_clip(&a.clip)?;
    let info = source.info().clone();
    let opts = analyze_options(a.mirrored);

    let mut sinks: Vec<Box<dyn EventSink + Send>> = vec![Box::new(
        JsonlSink::create(&events_path)
            .with_context(|| format!("{}: cannot create", events_path.display()))?,
    )];
    if let Some(csv) = &a.csv {
        sinks.push(Box::new(
            CsvSink::create(csv).with_context(|| format!("{}: cannot create", csv.display()))?,
        ));
    }
    let mut emit = |e: &Event| sinks.iter_mut().try_for_each(|s| s.write(e));

    let bar = progress_bar(!a.quiet, info.frame_count, &a.clip);
    let mut progress = ProgressObserver { bar: bar.clone() };
    let mut trace = match &a.debug_trace {
        Some(p) => Some(TraceWriter::new(std::io::BufWriter::new(
            std::fs::File::create(p)
                .with_context(|| format!("{}: cannot create the trace", p.display()))?,
        ))),
        None => None,
    };
    let mut observers = Observers {
        progress: &mut progress,
        trace: trace.as_mut(),
    };
    let name = a
        .clip
        .file_name()
        .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
    let result = pipeline::run(
        source,
        &format!("{name} ({})", info.description),
        &opts,
        &mut emit,
        &mut observers,
    );
    bar.finish_and_clear();
    let finish_errors: Vec<_> = sinks.iter_mut().filter_map(|s| s.finish().err()).collect();
    if let Some(t) = trace {
        t.finish().context("writing the debug trace")?;
    }
    let summary = match result {
        Ok(s) => s,
        Err(RunError::Source(e)) => bail!(
            "{e} (events detected before the error are kept in {})",
            events_path.display()
        ),
        Err(e) => return Err(e).with_context(|| format!("{}", events_path.display())),
    };
    if let Some(e) = finish_errors.into_iter().next() {
        return Err(e).with_context(|| format!("{}: closing the event log", events_path.display()));
    }
    if !a.quiet {
        print_summary(&name, &summary, &events_path);
    }
    Ok(())
}

/// The one place where command-line flags become analysis options.
pub fn analyze_options(mirrored: bool) -> AnalyzeOptions {
    let mut opts = AnalyzeOptions {
        channel_capacity: 8,
        ..AnalyzeOptions::default()
    };
    opts.motion.mirrored = mirrored;
    opts
}

fn print_summary(name: &str, s: &RunSummary, events: &Path) {
    let per_min = |side: Side| s.per_minute(side);
    eprintln!(
        "{name}: {:.1} s analysed ({:.1} s with a face), twitches: left {} ({:.1}/min), right {} ({:.1}/min). Events: {}",
        s.duration_s,
        s.observed_s,
        s.twitches[0],
        per_min(Side::Left),
        s.twitches[1],
        per_min(Side::Right),
        events.display()
    );
}

fn progress_bar(enabled: bool, frames: Option<u64>, clip: &Path) -> ProgressBar {
    if !enabled || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = match frames {
        Some(n) => ProgressBar::new(n),
        None => ProgressBar::new_spinner(),
    };
    let style =
        ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len} frames ({percent}%), eta {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ");
    bar.set_style(style);
    bar.set_message(
        clip.file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned()),
    );
    bar
}

struct ProgressObserver {
    bar: ProgressBar,
}

impl FrameObserver for ProgressObserver {
    fn frame(&mut self, _: &crate::motion::FrameSignals, _: &crate::detect::Activity) {
        self.bar.inc(1);
    }
}

struct Observers<'a, W: std::io::Write> {
    progress: &'a mut ProgressObserver,
    trace: Option<&'a mut TraceWriter<W>>,
}

impl<W: std::io::Write> FrameObserver for Observers<'_, W> {
    fn frame(&mut self, s: &crate::motion::FrameSignals, a: &crate::detect::Activity) {
        self.progress.frame(s, a);
        if let Some(t) = self.trace.as_mut() {
            t.frame(s, a);
        }
    }
}

fn run_eval(e: &EvalArgs) -> Result<()> {
    let params = eval::EvalParams::default();
    let mut scores: Vec<eval::Scores> = vec![];
    if let Some(dir) = &e.dir {
        let pairs = eval::pair_folder(dir)?;
        if pairs.is_empty() {
            bail!("{}: no clip with a .labels.json beside it", dir.display());
        }
        if let Some(k) = &e.keep_events {
            std::fs::create_dir_all(k)
                .with_context(|| format!("{}: cannot create", k.display()))?;
        }
        for (clip, labels_path) in pairs {
            let labels = eval::load_labels(&labels_path)?;
            let events = analyze_to_memory(&clip, labels.mirrored, e.keep_events.as_deref())?;
            scores.push(eval::score(&labels, &events, &params));
        }
    } else if let (Some(l), Some(ev)) = (&e.labels, &e.events) {
        let labels = eval::load_labels(l)?;
        let log = crate::events::read_log(ev).with_context(|| format!("{}", ev.display()))?;
        for w in &log.warnings {
            eprintln!("warning: {}: {w}", ev.display());
        }
        scores.push(eval::score(&labels, &log.events, &params));
    }
    let total = (scores.len() > 1).then(|| eval::pool(&scores));
    print!("{}", eval::format_table(&scores, total.as_ref()));
    if let Some(csv) = &e.csv {
        let mut rows = scores.clone();
        rows.extend(total);
        std::fs::write(csv, eval::to_csv(&rows))
            .with_context(|| format!("{}: cannot write", csv.display()))?;
    }
    Ok(())
}

/// Runs the analysis on one clip, keeping the events in memory (and on disk if asked).
pub fn analyze_to_memory(
    clip: &Path,
    mirrored: bool,
    keep_dir: Option<&Path>,
) -> Result<Vec<Event>> {
    let source = open_clip(clip)?;
    let opts = analyze_options(mirrored);
    let mut file_sink = match keep_dir {
        Some(d) => Some(JsonlSink::create(&d.join(default_events_path(clip)))?),
        None => None,
    };
    let mut events = vec![];
    let mut emit = |ev: &Event| {
        events.push(ev.clone());
        match file_sink.as_mut() {
            Some(s) => s.write(ev),
            None => Ok(()),
        }
    };
    let name = clip.display().to_string();
    pipeline::run(source, &name, &opts, &mut emit, &mut ())?;
    if let Some(s) = file_sink.as_mut() {
        s.finish()?;
    }
    Ok(events)
}
