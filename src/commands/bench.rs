//! Speed and memory measurements shared by the criterion benches (`benches/`) and the
//! `twitchwatch bench` command, so both measure the same thing.
//!
//! Input: synthetic frames rendered in memory, or clips. Output: timings and memory figures.
//! Thread: the caller's (decode-only passes and `analyze` runs own their usual threads).

use crate::analysis::capture::CaptureMsg;
use crate::analysis::pipeline::{self, AnalyzeOptions, RunState, RunSummary};
use crate::devtools::synth::{self, SynthParams};
use crate::outputs::events::Event;
use crate::source::{Frame, FrameSource, SourceError, SourceInfo, open_clip_oriented};
use std::path::Path;
use std::time::{Duration, Instant};

/// `frames` frames of a synthetic talking, blinking, twitching face, rendered in memory.
pub fn synth_frames(width: u32, height: u32, face_px: f32, frames: u64, seed: u64) -> Vec<Frame> {
    render_synth(&synth_params(width, height, face_px, frames, seed))
}

/// The scenario `synth_frames` renders (30 frames/s), to vary before rendering.
fn synth_params(width: u32, height: u32, face_px: f32, frames: u64, seed: u64) -> SynthParams {
    let fps = 30.0;
    SynthParams {
        seed,
        width,
        height,
        face_width_px: face_px,
        fps,
        duration_s: frames as f64 / fps,
        ..SynthParams::default()
    }
}

fn render_synth(params: &SynthParams) -> Vec<Frame> {
    synth::render_frames(&synth::plan(params)).collect()
}

/// Per-frame analysis (input checks, face detection and tracking, flow, head-motion
/// removal, detector) over frames already in memory, through the loop every run uses
/// (`pipeline::drive`): no decoding, no channel, one thread, no reading ahead. Mutable
/// because the input checks may repair a frame's timestamp.
pub fn time_frames(frames: &mut [Frame], opts: &AnalyzeOptions) -> (Duration, RunSummary) {
    let mut state = RunState::new(opts);
    let mut sink = |_: &Event| Ok(());
    let start = Instant::now();
    let feed = pipeline::FromMemory(frames.iter_mut().map(CaptureMsg::Frame));
    // The sink cannot fail; a bug ends the pass as it ends a run.
    let _ = pipeline::drive(&mut state, feed, 0, &mut sink, &mut (), &mut ());
    let _ = state.finish(&mut sink, None);
    (start.elapsed(), state.summary().clone())
}

/// Decodes every frame of `clip` and throws it away: the floor under any analysis of it.
/// Returns the wall time and the frame count.
pub fn decode_only(clip: &Path) -> Result<(Duration, u64), SourceError> {
    let mut source = open_clip_oriented(clip, None)?;
    let start = Instant::now();
    let mut n = 0u64;
    while let Some(f) = source.next_frame()? {
        std::hint::black_box(&f.luma);
        n += 1;
    }
    Ok((start.elapsed(), n))
}

/// The whole `analyze` of `clip` (decoder on the capture thread, analysis on this one),
/// events kept in memory. Returns the wall time and what the run saw.
pub fn time_clip(
    clip: &Path,
    opts: &AnalyzeOptions,
) -> Result<(Duration, RunSummary), pipeline::RunError> {
    let source = open_clip_oriented(clip, None)?;
    // As `analyze CLIP` runs it.
    let opts = &AnalyzeOptions {
        look_ahead: crate::commands::batch::LOOK_AHEAD,
        search_on_capture: crate::commands::batch::search_on_capture(1),
        ..opts.clone()
    };
    let start = Instant::now();
    let mut sink = |_: &Event| Ok(());
    let summary = pipeline::run(source, "bench", opts, &mut sink, &mut ())?;
    Ok((start.elapsed(), summary))
}

/// A source that replays frames from memory in a loop with steadily increasing timestamps,
/// as fast as it is asked: hours of input in minutes, for memory and backlog checks.
pub struct LoopSource {
    info: SourceInfo,
    /// Shared: the pieces of one long input play the same frames without copies.
    frames: std::sync::Arc<[Frame]>,
    next: u64,
    total: u64,
    dt: f64,
}

impl LoopSource {
    /// Plays `frames` over and over until `total` frames were given, at `fps`.
    pub fn new(frames: impl Into<std::sync::Arc<[Frame]>>, total: u64, fps: f64) -> Self {
        Self::range(frames.into(), 0..total, fps)
    }

    /// Frames `range` of the endless loop (index and time as in the whole): one piece of a
    /// long recording.
    pub fn range(frames: std::sync::Arc<[Frame]>, range: std::ops::Range<u64>, fps: f64) -> Self {
        let total = range.end;
        let (width, height) = frames.first().map_or((0, 0), |f| (f.width, f.height));
        Self {
            info: SourceInfo {
                description: format!("{} frames looped", frames.len()),
                width,
                height,
                fps: Some(fps),
                frame_count: Some(total.saturating_sub(range.start)),
                duration_s: Some(total.saturating_sub(range.start) as f64 / fps),
                ..SourceInfo::default()
            },
            frames,
            next: range.start,
            total,
            dt: 1.0 / fps,
        }
    }
}

impl FrameSource for LoopSource {
    fn info(&self) -> &SourceInfo {
        &self.info
    }

    fn next_frame(&mut self) -> Result<Option<Frame>, SourceError> {
        if self.next >= self.total || self.frames.is_empty() {
            return Ok(None);
        }
        let src = &self.frames[(self.next % self.frames.len() as u64) as usize];
        let frame = Frame {
            index: self.next,
            pts_s: self.next as f64 * self.dt,
            width: src.width,
            height: src.height,
            luma: src.luma.clone(),
        };
        self.next += 1;
        Ok(Some(frame))
    }
}

/// One long run against the same input cut into pieces: what `soak_in_pieces` found.
#[derive(Debug, Clone, Default)]
pub struct PiecesCheck {
    /// Twitches of the one long run.
    pub long: Vec<crate::outputs::events::Twitch>,
    /// Twitches of the piece runs, in time order (none with a single piece: not run).
    pub pieces: Vec<crate::outputs::events::Twitch>,
    /// Twitches compared: those starting at least `settle_s` after a cut (each piece is a
    /// fresh analysis that first has to find the face and learn its noise, as the long run did
    /// at its own start).
    pub compared: usize,
    /// Compared twitches without a twin (same side, start within one frame, end within the
    /// tolerance): each said in words.
    pub mismatches: Vec<String>,
    /// Largest difference in end time between twins, seconds.
    pub max_end_diff_s: f64,
    /// Twins of the long run's compared twitches that are identical: the same end to the
    /// frame, the same pattern and the same regions.
    pub identical: usize,
    /// Of the twins that are not identical: how many differ in end, pattern and regions.
    pub differ_end: usize,
    pub differ_pattern: usize,
    pub differ_regions: usize,
    /// Those twins, each said in words.
    pub differing: Vec<String>,
    /// Twitches of the long run in each loop of the input after the first: all the same
    /// when nothing drifts over the hours.
    pub per_loop: Vec<usize>,
}

/// Analyses `total` frames of `frames` looped, once in one run and once cut into `pieces`
/// runs, and compares their twitches outside the first `settle_s` of each piece: a twin has
/// the same side and start (to the frame) and an end within `end_tolerance_s`.
#[allow(clippy::too_many_arguments)]
pub fn soak_in_pieces(
    frames: Vec<Frame>,
    total: u64,
    fps: f64,
    pieces: u64,
    settle_s: f64,
    end_tolerance_s: f64,
    opts: &AnalyzeOptions,
    long_observer: &mut dyn pipeline::FrameObserver,
) -> Result<PiecesCheck, pipeline::RunError> {
    let loop_len = frames.len();
    let frames: std::sync::Arc<[Frame]> = frames.into();
    let run = |range: std::ops::Range<u64>, observer: &mut dyn pipeline::FrameObserver| {
        let mut out = vec![];
        let mut sink = |e: &Event| {
            if let Some(t) = e.as_twitch() {
                out.push(t.clone());
            }
            Ok(())
        };
        let source = Box::new(LoopSource::range(frames.clone(), range, fps));
        pipeline::run(source, "soak", opts, &mut sink, observer)?;
        Ok::<_, pipeline::RunError>(out)
    };
    let long = run(0..total, long_observer)?;
    let pieces = pieces.clamp(1, total.max(1));
    let cuts: Vec<u64> = (0..=pieces).map(|k| total * k / pieces).collect();
    let dt = 1.0 / fps;
    // Compared: twitches that start `settle_s` or more after a cut and end a second or more
    // before the next (one that runs over a cut is cut short there in the pieces, by
    // construction, and one ending within the merge gap before it might have merged with
    // one after it).
    let settled = |t: &crate::outputs::events::Twitch| {
        cuts.windows(2).any(|w| {
            let (from, to) = (w[0] as f64 * dt, w[1] as f64 * dt);
            t.start_s >= from + settle_s && t.start_s < to && t.end_s < to - 1.0
        })
    };
    // The same twitch: same side and start to the frame. Ends may differ a little: where a
    // slow release crosses the hold threshold moves with the noise statistics learnt so far
    // (loops of the one long run differ the same way).
    fn twin<'a>(
        a: &crate::outputs::events::Twitch,
        other: &'a [crate::outputs::events::Twitch],
        dt: f64,
    ) -> Option<&'a crate::outputs::events::Twitch> {
        other
            .iter()
            .find(|b| b.side == a.side && (b.start_s - a.start_s).abs() <= dt * 1.01)
    }
    let mut check = PiecesCheck::default();
    // One piece is the long run itself: nothing to run again or compare.
    if pieces > 1 {
        let mut split = vec![];
        for w in cuts.windows(2) {
            split.extend(run(w[0]..w[1], &mut ())?);
        }
        check.compared = long.iter().filter(|t| settled(t)).count();
        for t in long.iter().filter(|t| settled(t)) {
            let Some(b) = twin(t, &split, dt) else {
                continue;
            };
            let end = (b.end_s - t.end_s).abs() >= 0.5 * dt;
            let pattern = b.pattern != t.pattern;
            let regions = b.regions != t.regions;
            check.differ_end += usize::from(end);
            check.differ_pattern += usize::from(pattern);
            check.differ_regions += usize::from(regions);
            let differs = end || pattern || regions;
            check.identical += usize::from(!differs);
            if differs {
                check.differing.push(format!(
                    "{} twitch at {:.3}-{:.3} s ({:?}, {}) in the long run, {:.3} s ({:?}, {}) in the pieces",
                    t.side,
                    t.start_s,
                    t.end_s,
                    t.pattern,
                    t.regions_joined(),
                    b.end_s,
                    b.pattern,
                    b.regions_joined(),
                ));
            }
        }
        for (what, these, other) in [
            ("the long run", &long, &split),
            ("the pieces", &split, &long),
        ] {
            for t in these.iter().filter(|t| settled(t)) {
                match twin(t, other, dt).map(|b| (b.end_s - t.end_s).abs()) {
                    Some(d) if d <= end_tolerance_s => {
                        check.max_end_diff_s = check.max_end_diff_s.max(d)
                    }
                    Some(d) => check.mismatches.push(format!(
                        "{} twitch at {:.3}-{:.3} s in {what}: the other's ends {d:.3} s away",
                        t.side, t.start_s, t.end_s
                    )),
                    None => check.mismatches.push(format!(
                        "{} twitch at {:.3}-{:.3} s only in {what}",
                        t.side, t.start_s, t.end_s
                    )),
                }
            }
        }
        check.pieces = split;
    }
    let loop_s = loop_len as f64 * dt;
    let loops = (total as f64 * dt / loop_s).floor() as usize;
    check.per_loop = (1..loops)
        .map(|k| {
            long.iter()
                .filter(|t| t.start_s >= k as f64 * loop_s && t.start_s < (k + 1) as f64 * loop_s)
                .count()
        })
        .collect();
    check.long = long;
    Ok(check)
}

/// This process's resident memory now and at its peak, in bytes (Linux; `None` elsewhere).
pub fn resident_memory() -> Option<(u64, u64)> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .map(|kb| kb * 1024)
    };
    Some((field("VmRSS:")?, field("VmHWM:")?))
}

/// `twitchwatch bench`: speed and memory against the project's targets.
#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    /// Clips for the whole-clip measurements [default: the bundled sample_videos/*.mp4].
    pub clips: Vec<std::path::PathBuf>,
    /// Frames per synthetic per-frame measurement.
    #[arg(long, default_value_t = 300)]
    pub frames: u64,
    /// Repetitions of each timing; the best is reported (the least disturbed by other work).
    #[arg(long, default_value_t = 3)]
    pub repeat: u32,
    /// Skip the 1080p peak-memory measurement (it renders and encodes a 1080p clip first).
    #[arg(long)]
    pub no_memory: bool,
    /// Instead of the tables: play this many minutes of 640x480 input through the whole
    /// pipeline at full speed and report memory along the way (it must stay flat).
    #[arg(long, value_name = "MINUTES")]
    pub soak: Option<f64>,
    /// With --soak: also analyse the same input cut into this many runs and compare their
    /// twitches with the one long run's (1: no comparison).
    #[arg(long, default_value_t = 4, requires = "soak")]
    pub pieces: u64,
    /// With --soak: the person in the input wears glasses (the lids are then measured by
    /// the eyes' look, which has history of its own).
    #[arg(long, requires = "soak")]
    pub glasses: bool,
    /// Frame sizes (WIDTHxHEIGHT, comma-separated) of synthetic 20 s clips rendered for the
    /// whole-clip table after the named or bundled ones: the sizes phones and webcams
    /// record, where decoding costs more than the analysis (whose cost does not grow with
    /// the frame). `none`: no rendered clips. The 1920x1080 one also serves the memory
    /// measurement.
    #[arg(long, value_name = "SIZES", default_value = "1280x720,1920x1080")]
    pub rendered: String,
    /// Internal: analyse CLIP in this process and print its peak memory (used by `bench`).
    #[arg(long, hide = true, value_name = "CLIP")]
    pub peak_memory_of: Option<std::path::PathBuf>,
}

/// Runs `twitchwatch bench` and prints its tables on stdout.
pub fn run(a: &BenchArgs) -> anyhow::Result<()> {
    use anyhow::Context;
    let opts = crate::commands::cli::analyze_options(false);
    if let Some(clip) = &a.peak_memory_of {
        time_clip(clip, &opts).with_context(|| clip.display().to_string())?;
        let (_, peak) = resident_memory().context("no /proc/self/status on this system")?;
        println!("peak_rss_bytes {peak}");
        return Ok(());
    }
    if let Some(minutes) = a.soak {
        return soak(minutes, a.pieces, a.glasses, &opts);
    }
    let repeat = a.repeat.max(1);
    let sizes = parse_sizes(&a.rendered)?;
    println!("## Per-frame analysis (no decoding, one thread, best of {repeat})\n");
    println!("| frame | face | frames/s | ms/frame | target |");
    println!("|---|---|---|---|---|");
    for (w, h, face, target) in [(640, 480, 200.0, 1000.0), (1280, 720, 400.0, 500.0)] {
        let mut frames = synth_frames(w, h, face, a.frames.max(30), 1);
        let best = (0..repeat)
            .map(|_| time_frames(&mut frames, &opts).0)
            .min()
            .unwrap_or_default();
        let fps = frames.len() as f64 / best.as_secs_f64().max(1e-9);
        println!(
            "| {w}x{h} | {face} px | {fps:.0} | {:.3} | >= {target} frames/s {} |",
            1e3 / fps,
            if fps >= target { "(met)" } else { "(NOT met)" }
        );
    }

    println!(
        "\n## Face confirmations searched ahead (in-memory frames through the whole pipeline, best of {repeat})\n"
    );
    println!(
        "| frame | face | searched in line | searched ahead ({ahead} frames) | change |",
        ahead = crate::commands::batch::LOOK_AHEAD
    );
    println!("|---|---|---|---|---|");
    for (w, h, face) in [(640, 480, 200.0), (1280, 720, 400.0)] {
        let frames: std::sync::Arc<[Frame]> = synth_frames(w, h, face, a.frames.max(30), 1).into();
        let mut best = [Duration::MAX; 2];
        for _ in 0..repeat {
            for (b, look_ahead) in best.iter_mut().zip([0, crate::commands::batch::LOOK_AHEAD]) {
                let opts = AnalyzeOptions {
                    look_ahead,
                    ..opts.clone()
                };
                let source = Box::new(LoopSource::new(frames.clone(), frames.len() as u64, 30.0));
                let start = Instant::now();
                pipeline::run(source, "bench", &opts, &mut |_: &Event| Ok(()), &mut ())?;
                *b = (*b).min(start.elapsed());
            }
        }
        let fps = best.map(|d| frames.len() as f64 / d.as_secs_f64().max(1e-9));
        println!(
            "| {w}x{h} | {face} px | {:.0} frames/s | {:.0} frames/s | {:+.0} % |",
            fps[0],
            fps[1],
            (fps[1] / fps[0] - 1.0) * 100.0
        );
    }

    let mut clips = if a.clips.is_empty() {
        default_clips()?
    } else {
        a.clips.clone()
    };
    // Removed (with its clips) when the tables are done, or on an error.
    let rendered = RenderedClips::new()?;
    for &(w, h) in &sizes {
        clips.push(rendered.clip(w, h)?);
    }
    let ffmpeg = crate::source::find_ffmpeg();
    println!("\n## Whole clips (wall time, best of {repeat})\n");
    println!(
        "| clip | frames | decode only | analyze | analyze / decode (<= 1.20) | ffmpeg -threads 1 | analyze / ffmpeg (<= 1.50) |"
    );
    println!("|---|---|---|---|---|---|---|");
    for clip in &clips {
        let name = clip
            .file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
        let mut dec = Duration::MAX;
        let mut frames = 0;
        let mut ana = Duration::MAX;
        let mut ff = None::<Duration>;
        for _ in 0..repeat {
            let (d, n) = decode_only(clip)?;
            dec = dec.min(d);
            frames = n;
            let (t, _) = time_clip(clip, &opts)?;
            ana = ana.min(t);
            if let Some(exe) = &ffmpeg {
                let t = ffmpeg_decode(exe, clip)?;
                ff = Some(ff.map_or(t, |b| b.min(t)));
            }
        }
        let (ffs, ratio) = match ff {
            Some(f) => (
                format!("{:.3} s", f.as_secs_f64()),
                format!("{:.2}", ana.as_secs_f64() / f.as_secs_f64().max(1e-9)),
            ),
            None => ("(no ffmpeg on PATH)".into(), "-".into()),
        };
        println!(
            "| {name} | {frames} | {:.3} s | {:.3} s | {:.2} | {ffs} | {ratio} |",
            dec.as_secs_f64(),
            ana.as_secs_f64(),
            ana.as_secs_f64() / dec.as_secs_f64().max(1e-9)
        );
    }

    if !a.no_memory {
        println!("\n## Peak memory of `analyze` (resident set)\n");
        let (w, h) = (1920u32, 1080u32);
        let clip = rendered.clip(w, h)?;
        let face = rendered_face_px(h);
        let peak = peak_memory(&clip)?;
        println!(
            "{w}x{h}, face {face} px, 20 s clip: {:.1} MB peak (target < 100 MB)",
            peak as f64 / 1e6
        );
    }

    Ok(())
}

/// The face width of `RenderedClips` for a frame `h` pixels high: about half the height,
/// as in a phone or webcam recording of one face, at most 500 px.
fn rendered_face_px(h: u32) -> f32 {
    (h as f32 * 0.55).round().min(500.0)
}

/// Synthetic 20 s clips of a talking, blinking, twitching face rendered for `bench`, in a
/// folder of their own that is removed with them.
struct RenderedClips {
    dir: std::path::PathBuf,
}

impl RenderedClips {
    fn new() -> anyhow::Result<Self> {
        Ok(Self {
            dir: tempfile_dir()?,
        })
    }

    /// The clip of this size, rendered and encoded the first time it is asked for.
    fn clip(&self, w: u32, h: u32) -> anyhow::Result<std::path::PathBuf> {
        let clip = self.dir.join(format!("synthetic_{w}x{h}.mp4"));
        if !clip.exists() {
            let scenario = synth::plan(&SynthParams {
                width: w,
                height: h,
                face_width_px: rendered_face_px(h),
                duration_s: 20.0,
                ..SynthParams::default()
            });
            synth::write_clip(&scenario, &clip)?;
        }
        Ok(clip)
    }
}

impl Drop for RenderedClips {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// `--rendered`: `none`, or comma-separated WIDTHxHEIGHT sizes.
fn parse_sizes(text: &str) -> anyhow::Result<Vec<(u32, u32)>> {
    let text = text.trim();
    if text.is_empty() || text == "none" {
        return Ok(vec![]);
    }
    text.split(',')
        .map(|size| {
            let size = size.trim();
            let parsed = size
                .split_once(['x', 'X'])
                .and_then(|(w, h)| Some((w.parse::<u32>().ok()?, h.parse::<u32>().ok()?)))
                .filter(|&(w, h)| (64..=4096).contains(&w) && (64..=4096).contains(&h));
            parsed.ok_or_else(|| {
                anyhow::anyhow!("--rendered: {size:?} is not a size like 1280x720 (64 to 4096 px)")
            })
        })
        .collect()
}

/// Peak resident memory of a fresh process analysing `clip`, in bytes.
fn peak_memory(clip: &Path) -> anyhow::Result<u64> {
    use anyhow::Context;
    let exe = std::env::current_exe().context("finding this program")?;
    let out = std::process::Command::new(exe)
        .arg("bench")
        .arg("--peak-memory-of")
        .arg(clip)
        .output()
        .context("running the memory probe")?;
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("peak_rss_bytes "))
        .and_then(|v| v.trim().parse::<u64>().ok())
        .with_context(|| {
            format!(
                "memory probe failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            )
        })
}

/// Plays `minutes` of looped 640x480 input through the real pipeline as fast as it goes,
/// and prints resident memory every tenth of the way (it must stay flat), the twitches per
/// loop (they must not drift), and how the same input cut into `pieces` runs compares.
fn soak(minutes: f64, pieces: u64, glasses: bool, opts: &AnalyzeOptions) -> anyhow::Result<()> {
    struct Mem {
        every: u64,
        rows: Vec<(f64, u64)>,
    }
    impl pipeline::FrameObserver for Mem {
        fn frame(
            &mut self,
            s: &crate::analysis::measure::motion::FrameSignals,
            _: &crate::analysis::bursts::Activity,
        ) {
            if s.index.is_multiple_of(self.every)
                && let Some((rss, _)) = resident_memory()
            {
                self.rows.push((s.t_s, rss));
            }
        }
    }
    let fps = 30.0;
    let total = (minutes * 60.0 * fps).round().max(1.0) as u64;
    let frames = render_synth(&SynthParams {
        glasses,
        ..synth_params(640, 480, 200.0, 600, 2)
    });
    let mut obs = Mem {
        every: (total / 10).max(1),
        rows: vec![],
    };
    let start = Instant::now();
    let check = soak_in_pieces(frames, total, fps, pieces.max(1), 10.0, 0.4, opts, &mut obs)?;
    let wall = start.elapsed().as_secs_f64();
    let media = total as f64 / fps;
    let runs = if pieces > 1 { 2.0 } else { 1.0 };
    println!(
        "\n## Soak: {minutes} min of 640x480 input (a 20 s clip{} looped), {:.0}x real time\n",
        if glasses { ", with glasses," } else { "" },
        runs * media / wall.max(1e-9),
    );
    println!("| media time | resident memory |");
    println!("|---|---|");
    for (t, rss) in obs.rows {
        println!("| {:.0} min | {:.1} MB |", t / 60.0, rss as f64 / 1e6);
    }
    let loops = &check.per_loop;
    println!(
        "\nTwitches: {} in the one run; per loop after the first: {} to {} ({}).",
        check.long.len(),
        loops.iter().min().unwrap_or(&0),
        loops.iter().max().unwrap_or(&0),
        if loops.windows(2).all(|w| w[0] == w[1]) {
            "steady"
        } else {
            "NOT steady"
        }
    );
    if glasses {
        println!(
            "{} of them measured by the eyes' look (glasses).",
            check.long.iter().filter(|t| t.glasses).count()
        );
    }
    if pieces > 1 {
        println!(
            "Cut into {pieces} runs: {} twitches; of {} compared (from 10 s after a cut to 1 s before the next), {} without a twin (same side and start, end within 0.4 s; ends up to {:.3} s apart), {} identical (same end to the frame, pattern and regions; of the others, {} differ in end, {} in pattern, {} in regions).",
            check.pieces.len(),
            check.compared,
            check.mismatches.len(),
            check.max_end_diff_s,
            check.identical,
            check.differ_end,
            check.differ_pattern,
            check.differ_regions
        );
        for m in &check.mismatches {
            println!("- {m}");
        }
        for d in &check.differing {
            println!("- not identical: {d}");
        }
    }
    Ok(())
}

fn default_clips() -> anyhow::Result<Vec<std::path::PathBuf>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("sample_videos");
    let mut clips: Vec<_> = std::fs::read_dir(&dir)
        .map_err(|e| anyhow::anyhow!("{}: {e} (name clips to measure)", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "mp4"))
        .collect();
    clips.sort();
    Ok(clips)
}

/// `ffmpeg -threads 1 -i CLIP -f null -`: the single-threaded decoding yardstick.
fn ffmpeg_decode(exe: &Path, clip: &Path) -> anyhow::Result<Duration> {
    let start = Instant::now();
    let status = std::process::Command::new(exe)
        .args(["-nostdin", "-v", "error", "-threads", "1", "-i"])
        .arg(clip)
        .args(["-f", "null", "-"])
        .status()?;
    anyhow::ensure!(status.success(), "ffmpeg failed on {}", clip.display());
    Ok(start.elapsed())
}

fn tempfile_dir() -> anyhow::Result<std::path::PathBuf> {
    let dir = std::env::temp_dir().join(format!("twitchwatch-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rendered_sizes_parse_or_say_what_is_wrong() {
        assert_eq!(
            parse_sizes("1280x720, 1920X1080").unwrap(),
            vec![(1280, 720), (1920, 1080)]
        );
        assert!(parse_sizes("none").unwrap().is_empty());
        for bad in ["720p", "1280x", "12x3", "1280x720,"] {
            let e = parse_sizes(bad).unwrap_err().to_string();
            assert!(e.contains("--rendered"), "{bad}: {e}");
        }
    }
}
