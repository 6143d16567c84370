//! Criterion benchmarks of each stage: flow per crop size, per-frame analysis at 640x480 and
//! 1280x720, decoding per format, face detection at the sizes used.
//!
//! `cargo bench --bench analysis` (add a filter such as `flow` to run one group). The same
//! measurements against the project's targets, as a table: `twitchwatch bench`.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use std::time::Duration;
use twitchwatch::test_support::FaceDetector;
use twitchwatch::test_support::analyze_options;
use twitchwatch::test_support::texture;
use twitchwatch::test_support::{FlowParams, FlowVec, LucasKanade, Plane, Pyramid};
use twitchwatch::test_support::{decode_only, synth_frames, time_frames};

fn flow(c: &mut Criterion) {
    let mut g = c.benchmark_group("flow");
    for size in [48usize, 96, 128] {
        let a = Plane::from_shape_fn((size, size), |(y, x)| texture(x as f32, y as f32));
        let b = Plane::from_shape_fn((size, size), |(y, x)| {
            texture(x as f32 - 1.3, y as f32 + 0.6)
        });
        let margin = size * 4 / 100;
        let points: Vec<(f32, f32)> = (margin..size - margin)
            .step_by(3)
            .flat_map(|y| {
                (margin..size - margin)
                    .step_by(3)
                    .map(move |x| (x as f32, y as f32))
            })
            .collect();
        let params = FlowParams::default();
        let (mut pa, mut pb) = (Pyramid::default(), Pyramid::default());
        let mut lk = LucasKanade::new(params.clone());
        let mut out = vec![FlowVec::default(); points.len()];
        g.throughput(Throughput::Elements(points.len() as u64));
        g.bench_function(format!("crop {size}px, {} points", points.len()), |bench| {
            bench.iter(|| {
                pa.build_with_gradients(&a, params.levels);
                pb.build_with_gradients(&b, params.levels);
                lk.track(&pa, &pb, &points, &mut out);
                black_box(&out);
            })
        });
    }
    g.finish();
}

fn per_frame(c: &mut Criterion) {
    let mut g = c.benchmark_group("frame");
    g.sample_size(10).measurement_time(Duration::from_secs(8));
    let opts = analyze_options(false);
    for (w, h, face) in [(640u32, 480u32, 200.0f32), (1280, 720, 400.0)] {
        let mut frames = synth_frames(w, h, face, 150, 1);
        g.throughput(Throughput::Elements(frames.len() as u64));
        g.bench_function(format!("{w}x{h} face {face}px"), |bench| {
            bench.iter(|| black_box(time_frames(&mut frames, &opts).1))
        });
    }
    g.finish();
}

fn decoding(c: &mut Criterion) {
    let mut g = c.benchmark_group("decode");
    g.sample_size(10).measurement_time(Duration::from_secs(8));
    let dir = tempfile::tempdir().expect("temporary folder");
    let h264 =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("sample_videos/clonic_left.mp4");
    let y4m = dir.path().join("clip.y4m");
    let scenario = twitchwatch::devtools::synth::plan(&twitchwatch::devtools::synth::SynthParams {
        duration_s: 5.0,
        ..Default::default()
    });
    twitchwatch::devtools::synth::write_clip(&scenario, &y4m).expect("rendering a Y4M clip");
    for (name, clip) in [("H.264 MP4 640x480", h264), ("Y4M 640x480", y4m)] {
        let frames = decode_only(&clip).expect("decoding").1;
        g.throughput(Throughput::Elements(frames));
        g.bench_function(name, |bench| {
            bench.iter(|| decode_only(&clip).expect("decoding"))
        });
    }
    g.finish();
}

fn face_detection(c: &mut Criterion) {
    let mut g = c.benchmark_group("face");
    g.sample_size(20);
    let mut det = FaceDetector::default();
    for (w, h, face) in [(640u32, 480u32, 200.0f32), (1280, 720, 400.0)] {
        let frame = synth_frames(w, h, face, 1, 1).remove(0);
        g.bench_function(format!("whole frame {w}x{h}"), |bench| {
            bench.iter(|| black_box(det.detect(&frame.luma, w, h)))
        });
        let (cx, cy) = (w as f32 * 0.5, h as f32 * 0.45);
        g.bench_function(
            format!("near the tracked face {w}x{h}, face {face}px"),
            |bench| bench.iter(|| black_box(det.detect_near(&frame.luma, w, h, cx, cy, face))),
        );
    }
    g.finish();
}

criterion_group! {
    name = benches;
    // No HTML plots: they need system fonts, and the numbers are what we read.
    config = Criterion::default().without_plots();
    targets = flow, per_frame, decoding, face_detection
}
criterion_main!(benches);
