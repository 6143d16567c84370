//! Command line: parses arguments and runs `analyze`, `live`, `synth` and `eval`.
//!
//! Input: argv. Output: files and a short report on stderr/stdout. Thread: main.

use crate::analysis::anatomy::Side;
use crate::analysis::pipeline;
use crate::analysis::pipeline::{AnalyzeOptions, FrameObserver, RunSummary, TraceWriter};
use crate::commands::batch;
use crate::devtools::{eval, forest_cv};
use crate::outputs::events::{Event, EventSink, JsonlSink};
use crate::outputs::saved_clips::SaveFramesParams;
use crate::source::open_clip_oriented;
use anyhow::{Context, Result, bail};
use clap::{Args, Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::num::NonZeroUsize;
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
    Live(crate::commands::live::LiveArgs),
    /// Render synthetic clips with ground-truth labels (twitches and distractors).
    Synth(crate::devtools::synth::SynthArgs),
    /// Score event logs against labels: precision, recall, F1, side accuracy, onset error.
    Eval(EvalArgs),
    /// Therapist report of event logs: HTML with plots (and CSV), each session and pooled.
    Report(crate::outputs::report::ReportArgs),
    /// Compare event logs from before and after a treatment: HTML (and CSV).
    Compare(crate::outputs::report::CompareArgs),
    /// A treatment course over weeks: spasm rate by day and side, treatment days, and per
    /// cycle the baseline, effect-window ratio and wearing-off day: HTML (and CSV).
    Course(crate::outputs::report::course::CourseArgs),
    /// Measure speed and memory against the project's targets (per-frame analysis, whole
    /// clips against decoding alone and against ffmpeg, peak memory at 1080p).
    Bench(crate::commands::bench::BenchArgs),
    /// Print a shell completion script (for the packages).
    #[command(hide = true)]
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page, roff (for the packages).
    #[command(hide = true)]
    Man,
}

/// A command line that parses but cannot run as given (e.g. `--events` with several clips):
/// exits with status 2 like clap's own usage errors.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

#[derive(Debug, Args)]
pub struct AnalyzeArgs {
    /// Clips, or folders of clips (a folder: its .mp4 .mov .m4v .mkv .webm .avi .y4m files,
    /// not recursing). H.264 MP4/MOV or Y4M built in; other formats need ffmpeg on PATH.
    #[arg(required = true, value_name = "CLIP|FOLDER")]
    pub clips: Vec<PathBuf>,
    /// Event log to write, for a single clip [default: CLIP's name with .events.jsonl, in the
    /// current folder or --out-dir].
    #[arg(long, value_name = "OUT.jsonl", conflicts_with = "out_dir")]
    pub events: Option<PathBuf>,
    /// Also write the twitches as CSV (a single clip).
    #[arg(long, value_name = "OUT.csv", conflicts_with = "csv_each")]
    pub csv: Option<PathBuf>,
    /// Also write each clip's twitches as CSV beside its log (NAME.events.csv).
    #[arg(long)]
    pub csv_each: bool,
    /// Folder for the event logs (created if missing) [default: the current folder].
    #[arg(long, value_name = "DIR")]
    pub out_dir: Option<PathBuf>,
    /// Clips analysed at once [default: one per core].
    #[arg(long, short, value_name = "N")]
    pub jobs: Option<NonZeroUsize>,
    /// The clips are selfie-mirrored views (the person's left eye on the image's left), as
    /// a viewer sees them: front-camera videos that keep the preview's mirror, and screen
    /// recordings of a call window showing your own (mirrored) picture.
    #[arg(long)]
    pub mirrored: bool,
    /// Turn the pictures by this many degrees clockwise to make the face upright, instead
    /// of by the rotation the file records (phone clips record it; use 0 to ignore it).
    #[arg(long, value_name = "DEGREES", value_parser = ["0", "90", "180", "270"])]
    pub rotate: Option<String>,
    /// Write every frame's signals as CSV, to see why the detector fired (or did not); a
    /// single clip.
    #[arg(long, value_name = "FILE")]
    pub debug_trace: Option<PathBuf>,
    /// Save a short video of each twitch (from 1 s before to 1 s after it) in DIR, as
    /// CLIP-twitch-NNNN-START-SIDE.mp4, owner-only. Off by default: no frame is ever
    /// written unless asked.
    #[arg(long, value_name = "DIR")]
    pub save_frames: Option<PathBuf>,
    /// When the clip was recorded (YYYY-MM-DD, YYYY-MM-DD HH:MM, or RFC 3339), written on
    /// the log's session line [default: the MP4/MOV creation time]. Overrides the
    /// container's date (e.g. a re-encode's).
    #[arg(long, value_name = "DATE")]
    pub recorded: Option<String>,
    /// No progress bar and no summary: only errors and warnings, one line each (for job logs).
    #[arg(long, short)]
    pub quiet: bool,
    /// Keep each clip's analysis on about one core (for workflow engines that give a job one
    /// core): its face searches run on the decoding thread, and clips go one at a time.
    /// Decoding and measuring still overlap on two threads. The same events.
    #[arg(long, conflicts_with = "jobs")]
    pub one_core: bool,
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
    /// In folder mode, score the folder nine times, with the face track moved off the
    /// detected face by 0 and by 0.2-0.3 % of the face (half a pixel or so) in eight
    /// directions: one row per offset and their mean. Shows how much the results hang on the
    /// track's exact position (a result that only one offset gives is luck).
    #[arg(long, requires = "dir")]
    pub offsets: bool,
    /// In folder mode, fit the confidence model: analyse every clip with the onset rules
    /// relaxed (candidates), match the candidates to the labels (same side), fit, and write
    /// the model as JSON to FILE (the shipped one is src/analysis/confidence_model.json).
    #[arg(
        long,
        value_name = "FILE",
        requires = "dir",
        conflicts_with = "offsets"
    )]
    pub fit_confidence: Option<PathBuf>,
    /// In folder mode, fit the rescue forest on the same candidates and write it to FILE
    /// (the shipped one is src/analysis/confidence_forest.bin); with --fit-confidence, one
    /// pass fits both.
    #[arg(
        long,
        value_name = "FILE",
        requires = "dir",
        conflicts_with = "offsets"
    )]
    pub fit_forest: Option<PathBuf>,
    /// With --fit-forest: also cross-validate it in this many folds (clips of one synthetic
    /// seed or one real clip stay together) and print, per threshold, what the detector
    /// would find and falsely report if the forest rescued candidates at it; 0: no
    /// cross-validation. Analyses every clip a second time, with the forest off.
    #[arg(long, value_name = "K", default_value_t = 5, requires = "fit_forest")]
    pub folds: usize,
    /// In folder mode, print reliability tables of the shipped confidence model and
    /// forest: per confidence bin, the share of candidates, and of reported twitches, that
    /// were real.
    #[arg(long, requires = "dir", conflicts_with_all = ["offsets", "fit_confidence", "fit_forest"])]
    pub reliability: bool,
    /// Sensitivity curve: recall per bin of this label field (closure, amplitude or
    /// lid_travel_pct), per pattern, and false alarms per observed minute on clips without
    /// labelled events; matches need the same side. With --csv, writes this table instead.
    #[arg(long, value_name = "FIELD", conflicts_with = "offsets")]
    pub by: Option<String>,
    /// Bin edges for --by, ascending and comma-separated (default: one bin per level when
    /// there are at most 12 levels, else 10 equal bins).
    #[arg(long, value_name = "EDGES", requires = "by")]
    pub bins: Option<String>,
    /// In folder mode, score the logs X.events.jsonl in this folder (e.g. kept by an earlier
    /// --keep-events) instead of analysing the clips.
    #[arg(
        long,
        value_name = "DIR",
        requires = "dir",
        conflicts_with = "keep_events"
    )]
    pub events_from: Option<PathBuf>,
}

/// The track offsets of `eval --offsets` (shares of the face box).
pub const EVAL_OFFSETS: [[f32; 2]; 9] = [
    [0.0, 0.0],
    [0.003, 0.0],
    [-0.003, 0.0],
    [0.0, 0.003],
    [0.0, -0.003],
    [0.002, 0.002],
    [-0.002, 0.002],
    [0.002, -0.002],
    [-0.002, -0.002],
];

/// Runs the parsed command. Errors come back once, to be printed by `main`.
pub fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Analyze(a) => analyze(&a),
        Command::Live(l) => crate::commands::live::run(&l),
        Command::Synth(s) => crate::devtools::synth::run(&s),
        Command::Eval(e) => run_eval(&e),
        Command::Report(r) => crate::outputs::report::run_report(&r),
        Command::Compare(c) => crate::outputs::report::run_compare(&c),
        Command::Course(c) => crate::outputs::report::course::run_course(&c),
        Command::Bench(b) => crate::commands::bench::run(&b),
        Command::Completions { shell } => {
            use clap::CommandFactory;
            let mut cmd = Cli::command();
            clap_complete::generate(shell, &mut cmd, "twitchwatch", &mut std::io::stdout());
            Ok(())
        }
        Command::Man => {
            use clap::CommandFactory;
            clap_mangen::Man::new(Cli::command())
                .render(&mut std::io::stdout())
                .context("writing the man page")
        }
    }
}

fn default_events_path(clip: &Path) -> PathBuf {
    batch::log_path(clip, None)
}

fn analyze(a: &AnalyzeArgs) -> Result<()> {
    let clips = batch::collect_clips(&a.clips)?;
    match clips.as_slice() {
        [clip] => analyze_one(a, clip),
        _ => analyze_batch(a, &clips),
    }
}

/// One clip, with the options that name one file (`--events`, `--csv`, `--debug-trace`).
fn analyze_one(a: &AnalyzeArgs, clip: &Path) -> Result<()> {
    let events = a
        .events
        .clone()
        .unwrap_or_else(|| batch::log_path(clip, a.out_dir.as_deref()));
    let csv = match &a.csv {
        Some(c) => Some(c.clone()),
        None => a.csv_each.then(|| batch::csv_beside(&events)),
    };
    let job = batch::ClipJob {
        clip: clip.to_path_buf(),
        events,
        csv,
    };
    if let Some(d) = &a.out_dir {
        batch::create_out_dir(d)?;
    }
    batch::check_outputs(&job)?;
    let opts = clip_options(a)?;
    let summary = batch::analyze_clip(
        &job,
        &opts,
        |info| {
            let trace = match &a.debug_trace {
                Some(p) => Some(TraceWriter::new(std::io::BufWriter::new(
                    std::fs::File::create(p)
                        .with_context(|| format!("{}: cannot create the trace", p.display()))?,
                ))),
                None => None,
            };
            Ok(Observers {
                progress: ProgressObserver {
                    bar: progress_bar(!a.quiet, info.frame_count, clip),
                },
                trace,
            })
        },
        |o| {
            o.progress.bar.finish_and_clear();
            match o.trace {
                Some(t) => t.finish().context("writing the debug trace"),
                None => Ok(()),
            }
        },
    )?;
    if !a.quiet {
        print_summary(clip, &summary, &job.events, a.recorded.is_some());
    } else {
        warn_gaps(&batch::clip_name(clip), &summary);
    }
    Ok(())
}

/// Several clips on a pool of worker threads, one log each; a clip's failure does not stop
/// the others but makes the exit status non-zero.
fn analyze_batch(a: &AnalyzeArgs, clips: &[PathBuf]) -> Result<()> {
    let n = clips.len();
    // These name one file each: with several clips they would be overwritten clip by clip.
    if a.events.is_some() {
        return Err(UsageError(format!(
            "--events names one file, but {n} clips were given: leave it out (each log is named after its clip) or use --out-dir DIR"
        ))
        .into());
    }
    if a.csv.is_some() {
        return Err(UsageError(format!(
            "--csv names one file, but {n} clips were given: use --csv-each for a CSV beside each log"
        ))
        .into());
    }
    if a.debug_trace.is_some() {
        return Err(UsageError(format!(
            "--debug-trace writes one clip's trace, but {n} clips were given: trace one clip"
        ))
        .into());
    }
    let jobs = batch::plan(clips, a.out_dir.as_deref(), a.csv_each)?;
    if let Some(d) = &a.out_dir {
        batch::create_out_dir(d)?;
    }
    for job in &jobs {
        batch::check_outputs(job)?;
    }
    let opts = clip_options(a)?;
    let progress = batch::Progress::new(!a.quiet, n);
    let workers = if a.one_core {
        1
    } else {
        batch::pool_size(a.jobs, n)
    };
    let outcomes = batch::run(&jobs, workers, &opts, &progress)?;
    progress.finish();
    let failed = outcomes.iter().filter(|r| r.is_err()).count();
    if !a.quiet {
        for (job, r) in jobs.iter().zip(&outcomes) {
            if let Ok(summary) = r {
                print_summary(&job.clip, summary, &job.events, a.recorded.is_some());
            }
        }
        eprintln!("{n} clips analysed, {failed} failed");
    } else {
        for (job, r) in jobs.iter().zip(&outcomes) {
            if let Ok(summary) = r {
                warn_gaps(&batch::clip_name(&job.clip), summary);
            }
        }
    }
    if failed > 0 {
        // Each failure was printed as it happened; this is the exit status's reason.
        bail!("{failed} of {n} clips failed");
    }
    Ok(())
}

/// `analyze`'s flags as analysis options (`--save-frames`: its folder checked now, before
/// any clip starts; each clip's videos are named after it in `batch::analyze_clip`).
fn clip_options(a: &AnalyzeArgs) -> Result<AnalyzeOptions> {
    let mut opts = analyze_options(a.mirrored);
    opts.rotate = a.rotate.as_deref().and_then(|r| r.parse().ok());
    opts.recorded = a
        .recorded
        .as_deref()
        .map(crate::outputs::course::parse_when)
        .transpose()
        .map_err(|e| anyhow::anyhow!("--recorded: {e}"))?;
    // For one clip at a time (`batch::run` takes it down for several).
    opts.look_ahead = batch::LOOK_AHEAD;
    opts.search_on_capture = a.one_core || batch::search_on_capture(1);
    opts.save_frames = a
        .save_frames
        .as_deref()
        .map(|dir| SaveFramesParams::from_flag(dir, crate::analysis::capture::Backpressure::Block))
        .transpose()?;
    Ok(opts)
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

/// One line per clip; it says so when the log has no recording date (and why).
fn print_summary(clip: &Path, s: &RunSummary, events: &Path, dated_by_flag: bool) {
    let name = batch::clip_name(clip);
    warn_gaps(&name, s);
    let per_min = |side: Side| s.per_minute(side);
    let undated = match dated_by_flag {
        true => String::new(),
        false => batch::recording_date(clip).err().map_or(String::new(), |why| {
            format!("; no recording date ({why}): give --recorded DATE, or date the log in a sheet for `course`")
        }),
    };
    eprintln!(
        "{name}: {:.1} s analysed ({:.1} s with a face), twitches: left {} ({:.1}/min), right {} ({:.1}/min). Events: {}{undated}",
        s.duration_s,
        s.observed_s,
        s.twitches[0],
        per_min(Side::Left),
        s.twitches[1],
        per_min(Side::Right),
        events.display()
    );
}

/// A damaged recording was analysed around what could not be decoded: said even with `-q`.
fn warn_gaps(name: &str, s: &RunSummary) {
    if s.decode_gaps.is_empty() {
        return;
    }
    let lost: f64 = s.decode_gaps.iter().map(|g| g[1] - g[0]).sum();
    let list: Vec<String> = s
        .decode_gaps
        .iter()
        .map(|g| format!("{:.1}-{:.1} s", g[0], g[1]))
        .collect();
    eprintln!(
        "warning: {name}: damaged recording, {lost:.1} s could not be decoded ({}); analysed around it, logged as decode_gap",
        list.join(", ")
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
    fn frame(
        &mut self,
        _: &crate::analysis::measure::motion::FrameSignals,
        _: &crate::analysis::bursts::Activity,
    ) {
        self.bar.inc(1);
    }
}

struct Observers<W: std::io::Write> {
    progress: ProgressObserver,
    trace: Option<TraceWriter<W>>,
}

impl<W: std::io::Write> FrameObserver for Observers<W> {
    fn frame(
        &mut self,
        s: &crate::analysis::measure::motion::FrameSignals,
        a: &crate::analysis::bursts::Activity,
    ) {
        self.progress.frame(s, a);
        if let Some(t) = self.trace.as_mut() {
            t.frame(s, a);
        }
    }
}

fn run_eval(e: &EvalArgs) -> Result<()> {
    let params = eval::EvalParams::default();
    let by =
        e.by.as_deref()
            .map(crate::devtools::sensitivity::StrengthField::parse)
            .transpose()?;
    let edges = e
        .bins
        .as_deref()
        .map(crate::devtools::sensitivity::parse_edges)
        .transpose()?;
    let mut scored: Vec<(
        crate::devtools::labels::Labels,
        Vec<crate::outputs::events::Event>,
    )> = vec![];
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
        if e.offsets {
            return eval_offsets(&pairs, &params);
        }
        if e.fit_confidence.is_some() || e.fit_forest.is_some() || e.reliability {
            return eval_confidence(&pairs, &params, e);
        }
        for (clip, labels_path) in pairs {
            let labels = eval::load_labels(&labels_path)?;
            let events = match &e.events_from {
                Some(d) => read_events(
                    &d.join(
                        eval::default_events_path(&clip)
                            .file_name()
                            .context("clip has no file name")?,
                    ),
                )?,
                None => analyze_to_memory(&clip, labels.mirrored, e.keep_events.as_deref())?,
            };
            scores.push(eval::score(&labels, &events, &params));
            if by.is_some() {
                scored.push((labels, events));
            }
        }
    } else if let (Some(l), Some(ev)) = (&e.labels, &e.events) {
        let labels = eval::load_labels(l)?;
        let events = read_events(ev)?;
        scores.push(eval::score(&labels, &events, &params));
        scored.push((labels, events));
    }
    let total = (scores.len() > 1).then(|| eval::pool(&scores));
    print!("{}", eval::format_table(&scores, total.as_ref()));
    if let Some(field) = by {
        let s =
            crate::devtools::sensitivity::sensitivity(&scored, field, edges.as_deref(), &params);
        print!("\n{}", s.format());
        if let Some(csv) = &e.csv {
            std::fs::write(csv, s.to_csv())
                .with_context(|| format!("{}: cannot write", csv.display()))?;
        }
        return Ok(());
    }
    if let Some(csv) = &e.csv {
        let mut rows = scores.clone();
        rows.extend(total);
        std::fs::write(csv, eval::to_csv(&rows))
            .with_context(|| format!("{}: cannot write", csv.display()))?;
    }
    Ok(())
}

/// `eval --dir --fit-confidence FILE`, `--fit-forest FILE` and `eval --dir --reliability`.
fn eval_confidence(
    pairs: &[(PathBuf, PathBuf)],
    params: &eval::EvalParams,
    e: &EvalArgs,
) -> Result<()> {
    use crate::analysis::confidence::{Forest, Model, reliability};
    let twitches = |events: Vec<Event>| -> Vec<crate::outputs::events::Twitch> {
        events
            .into_iter()
            .filter_map(|ev| match ev {
                Event::Twitch(t) => Some(t),
                _ => None,
            })
            .collect()
    };
    let (mut samples, mut candidates, mut reported) = (vec![], vec![], vec![]);
    let mut forest_candidates = vec![];
    let mut runs = vec![];
    let cross_validate = e.fit_forest.is_some() && e.folds > 0;
    for (clip, labels_path) in pairs {
        let labels = eval::load_labels(labels_path)?;
        let mut opts = analyze_options(labels.mirrored);
        opts.bursts.candidates = true;
        let mut run_candidates = vec![];
        for t in twitches(analyze_with(clip, &opts, None)?) {
            let real = eval::is_real(&t, &labels.events, params.tolerance_s);
            if let Some(c) = &t.candidate {
                samples.push((c.features, real, 1.0));
                candidates.push((Model::builtin().probability(&c.features), real));
                if let Some(p) = c.forest {
                    forest_candidates.push((p, real));
                }
                if cross_validate {
                    run_candidates.push((t.clone(), c.features));
                }
            }
        }
        if e.reliability {
            for t in twitches(analyze_with(clip, &analyze_options(labels.mirrored), None)?) {
                reported.push((
                    t.confidence,
                    eval::is_real(&t, &labels.events, params.tolerance_s),
                ));
            }
        }
        if cross_validate {
            let mut opts = analyze_options(labels.mirrored);
            opts.bursts.rescue_forest = f64::INFINITY;
            let stem = clip.file_stem().unwrap_or_default().to_string_lossy();
            runs.push(forest_cv::ClipRun {
                group: forest_cv::group_of(&stem, &labels),
                reported: twitches(analyze_with(clip, &opts, None)?),
                candidates: run_candidates,
                labels,
            });
        }
    }
    let real = samples.iter().filter(|s| s.1).count();
    println!(
        "{} clips, {} candidates ({real} real, {} false)",
        pairs.len(),
        samples.len(),
        samples.len() - real
    );
    let print_table = |title: &str, pairs: &[(f64, bool)]| {
        println!("{title}\nconfidence  count  mean_conf  share_real");
        for b in reliability(pairs, 10) {
            if b.count > 0 {
                println!(
                    "{:.1}-{:.1}  {:>7}  {:>9.3}  {:>10.3}",
                    b.lo, b.hi, b.count, b.mean_confidence, b.share_real
                );
            }
        }
    };
    if let Some(out) = &e.fit_confidence {
        let mut model = Model::fit(&samples, 1.0)?;
        model.fitted_on = format!(
            "twitchwatch eval --fit-confidence: {} clips, {} candidates ({real} real)",
            pairs.len(),
            samples.len()
        );
        let json = serde_json::to_string_pretty(&model)? + "\n";
        std::fs::write(out, json).with_context(|| format!("{}: cannot write", out.display()))?;
        let fitted: Vec<(f64, bool)> = samples
            .iter()
            .map(|(f, r, _)| (model.probability(f), *r))
            .collect();
        print_table(
            "candidates, with the model just fitted (the data it saw):",
            &fitted,
        );
        println!("model written to {}", out.display());
    }
    if let Some(out) = &e.fit_forest {
        let forest = Forest::fit(&samples, Forest::TREES, Forest::SAMPLES, 0)?;
        std::fs::write(out, forest.to_bytes())
            .with_context(|| format!("{}: cannot write", out.display()))?;
        println!(
            "forest of {} trees ({} candidates each) fitted on {} candidates ({real} real), \
             written to {}",
            Forest::TREES,
            Forest::SAMPLES,
            samples.len(),
            out.display()
        );
    }
    if cross_validate {
        print_cross_validation(&runs, e.folds, params.tolerance_s)?;
    }
    if e.reliability {
        print_table("candidates, shipped model:", &candidates);
        print_table("candidates, shipped forest:", &forest_candidates);
        print_table("reported twitches:", &reported);
    }
    Ok(())
}

/// `eval --fit-forest FILE --folds K`: the out-of-fold table (`devtools::forest_cv`).
fn print_cross_validation(runs: &[forest_cv::ClipRun], folds: usize, tol: f64) -> Result<()> {
    let p = forest_cv::out_of_fold(runs, folds, tol)?;
    let minutes = forest_cv::negative_minutes(runs);
    println!(
        "cross-validated in {folds} folds: the forest off, then rescuing candidates at each \
         threshold with a forest that never saw their clip's group"
    );
    let rows: Vec<_> = [1.1, 0.95, 0.9, 0.85, 0.8, 0.75, 0.7]
        .into_iter()
        .map(|th| forest_cv::score(runs, &p, th, tol))
        .collect();
    let levels: Vec<String> = rows[0]
        .by_closure
        .iter()
        .map(|(c, _, n)| format!("{c}/{n}"))
        .collect();
    println!(
        "threshold  found  labelled  false  on_negatives  per_min  by_closure({})",
        levels.join(" ")
    );
    for r in rows {
        let per_min = if minutes > 0.0 {
            format!("{:.3}", r.false_on_negatives as f64 / minutes)
        } else {
            "-".into()
        };
        let by: Vec<String> = r.by_closure.iter().map(|(_, f, _)| f.to_string()).collect();
        println!(
            "{:>9}  {:>5}  {:>8}  {:>5}  {:>12}  {:>7}  {}",
            if r.threshold > 1.0 {
                "off".to_string()
            } else {
                format!("{:.2}", r.threshold)
            },
            r.found,
            r.labelled,
            r.false_events,
            r.false_on_negatives,
            per_min,
            by.join(" ")
        );
    }
    println!("distractor-only minutes: {minutes:.1}");
    Ok(())
}

/// Reads an event log, printing its warnings.
fn read_events(path: &Path) -> Result<Vec<crate::outputs::events::Event>> {
    let log =
        crate::outputs::events::read_log(path).with_context(|| format!("{}", path.display()))?;
    for w in &log.warnings {
        eprintln!("warning: {}: {w}", path.display());
    }
    Ok(log.events)
}

/// `eval --dir --offsets`: the folder pooled at each of `EVAL_OFFSETS`, and the mean.
fn eval_offsets(pairs: &[(PathBuf, PathBuf)], params: &eval::EvalParams) -> Result<()> {
    let labelled = pairs
        .iter()
        .map(|(clip, labels_path)| Ok((clip, eval::load_labels(labels_path)?)))
        .collect::<Result<Vec<_>>>()?;
    let mut rows = vec![];
    for offset in EVAL_OFFSETS {
        let mut scores = vec![];
        for (clip, labels) in &labelled {
            let mut opts = analyze_options(labels.mirrored);
            opts.motion.track_offset = offset;
            let events = analyze_with(clip, &opts, None)?;
            scores.push(eval::score(labels, &events, params));
        }
        let mut pooled = eval::pool(&scores);
        pooled.clip = format!("offset {:+.3},{:+.3}", offset[0], offset[1]);
        rows.push(pooled);
    }
    print!("{}", eval::format_table(&rows, None));
    let n = rows.len() as f64;
    let mean = |f: &dyn Fn(&eval::Scores) -> f64| rows.iter().map(f).sum::<f64>() / n;
    println!(
        "mean over {} offsets: tp {:.2}, fp {:.2}, duplicates {:.2}, F1 {:.3} (lowest {:.3}, highest {:.3})",
        rows.len(),
        mean(&|r| r.tp as f64),
        mean(&|r| r.fp as f64),
        mean(&|r| r.duplicates as f64),
        mean(&|r| r.f1),
        rows.iter().map(|r| r.f1).fold(f64::INFINITY, f64::min),
        rows.iter().map(|r| r.f1).fold(f64::NEG_INFINITY, f64::max),
    );
    Ok(())
}

/// Runs the analysis on one clip, keeping the events in memory (and on disk if asked).
pub fn analyze_to_memory(
    clip: &Path,
    mirrored: bool,
    keep_dir: Option<&Path>,
) -> Result<Vec<Event>> {
    analyze_with(clip, &analyze_options(mirrored), keep_dir)
}

/// `analyze_to_memory` with the given options.
fn analyze_with(clip: &Path, opts: &AnalyzeOptions, keep_dir: Option<&Path>) -> Result<Vec<Event>> {
    let source = open_clip_oriented(clip, opts.rotate)?;
    // One clip at a time here.
    let opts = &AnalyzeOptions {
        look_ahead: batch::LOOK_AHEAD,
        search_on_capture: batch::search_on_capture(1),
        ..opts.clone()
    };
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
    pipeline::run(source, &name, opts, &mut emit, &mut ())?;
    if let Some(s) = file_sink.as_mut() {
        s.finish()?;
    }
    Ok(events)
}
