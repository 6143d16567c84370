//! Dumps pairs of consecutive face-aligned crops from a clip together with our Lucas–Kanade
//! flow between them and how long that flow took, for comparing with another optical flow
//! (`scripts/flow_vs_dis.py` compares it with OpenCV's DIS).
//!
//! `cargo run --release --example flow_dump -- CLIP OUT.bin [--max-pairs N] [--shift DX,DY]`
//!
//! The clip is analysed frame by frame with `MotionAnalyzer` (default `MotionParams`). After
//! each frame the analyser's latest aligned crop (`MotionAnalyzer::crop`) is copied; for every
//! two consecutive frames that both have a face, the second not a discontinuity (face
//! reacquired or jumped), our flow from the first crop to the second is computed with the
//! library's public API as the pipeline configures it: `Pyramid::build_with_gradients` on the
//! previous crop, `Pyramid::build` on the current one, `LucasKanade::track` with
//! `MotionParams::flow` on the pipeline's grid (`grid_step` apart, a margin of 4 % of
//! `crop_px`). Only that step (both pyramid builds and the track) is timed, on this thread,
//! with one untimed warm-up before the first pair.
//!
//! With `--shift DX,DY` each pair's current crop is instead the previous crop moved by a known
//! (DX, DY) crop pixels (what was at (x, y) is then at (x + DX, y + DY); bilinear, edges
//! replicated): a case with a known answer, for checking a reader's conventions.
//!
//! Note that the crop `MotionAnalyzer::crop` returns is sampled with the pose already moved
//! by this frame's head motion, so the flow between two such crops is mostly the face's own
//! (residual) motion; the pipeline itself tracks the previous crop against the current frame
//! sampled with the previous pose.
//!
//! OUT.bin, all little-endian:
//!
//! ```text
//! header   magic  8 bytes  b"TWFLOW01"
//!          u32    crop height H (rows)
//!          u32    crop width W (columns)
//!          u32    number of grid points P
//!          u32    number of pairs N
//! points   P x (f32 x, f32 y)          x = column, y = row, crop pixels
//! N pairs, each:
//!          u64    index of the pair's first frame in the clip
//!          f32    H*W previous crop, row-major (grey levels, about 0..255, not clamped)
//!          f32    H*W current crop, row-major
//!          P x (f32 dx, f32 dy, f32 weight)   flow from previous to current crop;
//!                                             weight 0 = not trusted
//!          u64    our flow time for the pair, nanoseconds
//! ```

use std::fs::File;
use std::io::{BufWriter, Seek, SeekFrom, Write};
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use clap::Parser;
use twitchwatch::source::open_clip;
use twitchwatch::test_support::{FlowParams, FlowVec, LucasKanade, Plane, Pyramid};
use twitchwatch::test_support::{MotionAnalyzer, MotionParams};

const MAGIC: &[u8; 8] = b"TWFLOW01";

#[derive(Parser)]
#[command(about = "Dump face-crop pairs with our optical flow and its timing")]
struct Args {
    /// Clip to analyse (anything `twitchwatch analyze` reads).
    clip: PathBuf,
    /// Output file (binary layout in this example's source header).
    out: PathBuf,
    /// Stop after this many pairs.
    #[arg(long, default_value_t = 300)]
    max_pairs: u32,
    /// Replace each current crop by the previous one moved by DX,DY crop pixels.
    #[arg(long, value_parser = parse_shift, allow_hyphen_values = true)]
    shift: Option<(f32, f32)>,
}

fn parse_shift(s: &str) -> Result<(f32, f32), String> {
    let bad = || format!("expected DX,DY in crop pixels, got {s:?}");
    let (a, b) = s.split_once(',').ok_or_else(bad)?;
    let dx: f32 = a.trim().parse().map_err(|_| bad())?;
    let dy: f32 = b.trim().parse().map_err(|_| bad())?;
    if !(dx.is_finite() && dy.is_finite()) {
        return Err(bad());
    }
    Ok((dx, dy))
}

/// `p` moved by (dx, dy): out(x, y) = p(x - dx, y - dy), bilinear, edges replicated.
fn shifted(p: &Plane, dx: f32, dy: f32) -> Plane {
    let (h, w) = p.dim();
    let at = |r: isize, c: isize| {
        p[[
            r.clamp(0, h as isize - 1) as usize,
            c.clamp(0, w as isize - 1) as usize,
        ]]
    };
    Plane::from_shape_fn((h, w), |(r, c)| {
        let (x, y) = (c as f32 - dx, r as f32 - dy);
        let (x0, y0) = (x.floor(), y.floor());
        let (fx, fy) = (x - x0, y - y0);
        let (x0, y0) = (x0 as isize, y0 as isize);
        let top = at(y0, x0) + fx * (at(y0, x0 + 1) - at(y0, x0));
        let bottom = at(y0 + 1, x0) + fx * (at(y0 + 1, x0 + 1) - at(y0 + 1, x0));
        top + fy * (bottom - top)
    })
}

/// The flow grid exactly as `MotionAnalyzer::new` lays it out.
fn grid(params: &MotionParams) -> Vec<(f32, f32)> {
    let n = params.crop_px;
    let step = params.grid_step.max(1);
    let margin = (n as f32 * 0.04) as usize;
    let mut points = vec![];
    for y in (margin..n - margin).step_by(step) {
        for x in (margin..n - margin).step_by(step) {
            points.push((x as f32, y as f32));
        }
    }
    points
}

/// Our flow step: what is timed.
struct OurFlow {
    prev: Pyramid,
    cur: Pyramid,
    lk: LucasKanade,
    levels: usize,
}

impl OurFlow {
    fn new(params: &FlowParams) -> Self {
        Self {
            prev: Pyramid::default(),
            cur: Pyramid::default(),
            lk: LucasKanade::new(params.clone()),
            levels: params.levels,
        }
    }

    fn run(&mut self, a: &Plane, b: &Plane, points: &[(f32, f32)], out: &mut [FlowVec]) {
        self.prev.build_with_gradients(a, self.levels);
        self.cur.build(b, self.levels);
        self.lk.track(&self.prev, &self.cur, points, out);
    }
}

fn write_plane(w: &mut impl Write, p: &Plane) -> std::io::Result<()> {
    // `iter` walks in logical (row-major) order whatever the memory layout.
    for v in p.iter() {
        w.write_all(&v.to_le_bytes())?;
    }
    Ok(())
}

fn run(args: &Args, created: &mut bool) -> Result<u32> {
    let params = MotionParams::default();
    let n = params.crop_px;
    let points = grid(&params);
    let mut source = open_clip(&args.clip)?;
    let mut analyzer = MotionAnalyzer::new(params.clone());
    let mut flow = OurFlow::new(&params.flow);
    let mut flows = vec![FlowVec::default(); points.len()];

    let file = File::create(&args.out).with_context(|| format!("{}", args.out.display()))?;
    *created = true;
    let mut w = BufWriter::new(file);
    let io = |e: std::io::Error| anyhow::anyhow!("{}: {e}", args.out.display());
    w.write_all(MAGIC).map_err(io)?;
    for v in [n as u32, n as u32, points.len() as u32, 0] {
        w.write_all(&v.to_le_bytes()).map_err(io)?;
    }
    for &(x, y) in &points {
        w.write_all(&x.to_le_bytes()).map_err(io)?;
        w.write_all(&y.to_le_bytes()).map_err(io)?;
    }

    let mut prev: Option<(u64, Plane)> = None;
    let mut pairs = 0u32;
    let mut warmed = false;
    while pairs < args.max_pairs {
        let Some(frame) = source.next_frame()? else {
            break;
        };
        let signals = analyzer.process(&frame, false);
        if signals.face.is_none() {
            prev = None;
            continue;
        }
        let crop = analyzer.crop().clone();
        if crop.dim() != (n, n) {
            bail!("crop is {:?}, expected {n}x{n}", crop.dim());
        }
        if let Some((index, before)) = prev.take()
            && !signals.discontinuity
        {
            let crop = match args.shift {
                Some((dx, dy)) => shifted(&before, dx, dy),
                None => crop.clone(),
            };
            if !warmed {
                flow.run(&before, &crop, &points, &mut flows);
                warmed = true;
            }
            let t = Instant::now();
            flow.run(&before, &crop, &points, &mut flows);
            let ns = t.elapsed().as_nanos() as u64;
            w.write_all(&index.to_le_bytes()).map_err(io)?;
            write_plane(&mut w, &before).map_err(io)?;
            write_plane(&mut w, &crop).map_err(io)?;
            for f in &flows {
                for v in [f.dx, f.dy, f.weight] {
                    w.write_all(&v.to_le_bytes()).map_err(io)?;
                }
            }
            w.write_all(&ns.to_le_bytes()).map_err(io)?;
            pairs += 1;
        }
        prev = Some((frame.index, crop));
    }

    // Patch the pair count into the header.
    let mut file = w.into_inner().map_err(|e| io(e.into_error()))?;
    file.seek(SeekFrom::Start(8 + 12)).map_err(io)?;
    file.write_all(&pairs.to_le_bytes()).map_err(io)?;
    file.flush().map_err(io)?;
    Ok(pairs)
}

fn main() {
    let args = Args::parse();
    let mut created = false;
    match run(&args, &mut created) {
        Ok(pairs) => eprintln!(
            "flow_dump: {}: {pairs} pairs written to {}",
            args.clip.display(),
            args.out.display()
        ),
        Err(e) => {
            eprintln!("flow_dump: {e:#}");
            // A half-written dump must not be mistaken for a complete one.
            if created {
                let _ = std::fs::remove_file(&args.out);
            }
            std::process::exit(1);
        }
    }
}
