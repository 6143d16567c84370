//! Runs the face detector on binary PGM (P5) luma images and prints boxes and timing.
//!
//! `[MIN_FACE_PX=40] cargo run --release --example detect_pgm -- frame1.pgm frame2.pgm ...`
//! (e.g. frames extracted with `ffmpeg -i clip.mp4 -vf format=gray f_%03d.pgm`).

use std::time::Instant;
use twitchwatch::test_support::{DetectorParams, FaceDetector};

fn read_pgm(path: &str) -> std::io::Result<(Vec<u8>, u32, u32)> {
    let data = std::fs::read(path)?;
    // Header: "P5" width height maxval, whitespace separated, then one whitespace byte.
    let mut fields = Vec::new();
    let mut i = 0;
    while fields.len() < 4 {
        while data[i].is_ascii_whitespace() {
            i += 1;
        }
        if data[i] == b'#' {
            while data[i] != b'\n' {
                i += 1;
            }
            continue;
        }
        let start = i;
        while !data[i].is_ascii_whitespace() {
            i += 1;
        }
        fields.push(String::from_utf8_lossy(&data[start..i]).into_owned());
    }
    assert_eq!(fields[0], "P5", "{path}: not a binary PGM");
    let w: u32 = fields[1].parse().unwrap();
    let h: u32 = fields[2].parse().unwrap();
    let pix = data[i + 1..i + 1 + (w * h) as usize].to_vec();
    Ok((pix, w, h))
}

fn main() -> std::io::Result<()> {
    // Optional: MIN_FACE_PX=40 to try another smallest face size (pixels of the shrunk image).
    let mut params = DetectorParams::default();
    if let Some(v) = std::env::var("MIN_FACE_PX")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        params.min_face_px = v;
    }
    let mut det = FaceDetector::new(params);
    let mut total = 0.0;
    let mut n = 0;
    for path in std::env::args().skip(1) {
        let (pix, w, h) = read_pgm(&path)?;
        let t = Instant::now();
        let faces = det.detect(&pix, w, h);
        let ms = t.elapsed().as_secs_f64() * 1e3;
        total += ms;
        n += 1;
        let best = faces
            .first()
            .map(|f| {
                format!(
                    "{:.0},{:.0} {:.0}x{:.0} score {:.1}",
                    f.x, f.y, f.width, f.height, f.score
                )
            })
            .unwrap_or_else(|| "none".into());
        println!(
            "{path}: {w}x{h} {} face(s), best {best}, {ms:.1} ms",
            faces.len()
        );
    }
    if n > 0 {
        println!("mean {:.1} ms over {n} frames", total / n as f64);
    }
    Ok(())
}
