//! Converts a clip into a frames file for the emulated webcam (see `frames_file.rs`).
//!
//! Usage: fake-v4l2-frames CLIP OUT [yuyv|nv12|mjpeg] [MAX_FRAMES]
//! Input: any clip twitchwatch reads. Output: OUT. Thread: main.
//!
//! The clip is decoded by twitchwatch's own decoders, which give luma; chroma is written
//! neutral (grey), which is all the analysis reads anyway.

#[path = "../frames_file.rs"]
#[allow(dead_code)]
mod frames_file;

use frames_file::{Header, fourcc};
use std::io::{BufWriter, Seek, SeekFrom, Write};
use std::path::Path;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 3 {
        eprintln!("usage: fake-v4l2-frames CLIP OUT [yuyv|nv12|mjpeg] [MAX_FRAMES]");
        std::process::exit(2);
    }
    let format = args.get(3).map_or("yuyv", String::as_str);
    let max = args.get(4).and_then(|s| s.parse().ok()).unwrap_or(u32::MAX);
    if let Err(e) = convert(Path::new(&args[1]), Path::new(&args[2]), format, max) {
        eprintln!("fake-v4l2-frames: {e}");
        std::process::exit(1);
    }
}

fn convert(clip: &Path, out: &Path, format: &str, max: u32) -> Result<(), String> {
    let mut src = twitchwatch::source::open_clip(clip).map_err(|e| e.to_string())?;
    let info = src.info().clone();
    let (w, h) = (info.width, info.height);
    if w % 2 != 0 || h % 2 != 0 {
        return Err(format!("{w}x{h}: width and height must be even"));
    }
    let fps = info
        .fps
        .filter(|f| f.is_finite() && *f > 0.0)
        .unwrap_or(30.0);
    // As a rational with a millisecond-ish precision (30000/1001 stays exact).
    let (fps_num, fps_den) = ((fps * 1001.0).round() as u32, 1001);
    let n = (w * h) as usize;
    let (code, payload) = match format {
        "yuyv" => (fourcc(b"YUYV"), 2 * n),
        "nv12" => (fourcc(b"NV12"), n + n / 2),
        // Baseline JPEG of the luma is at most about the raw size; padded to it.
        "mjpeg" => (fourcc(b"MJPG"), n + 4096),
        other => return Err(format!("unknown format {other:?} (yuyv, nv12 or mjpeg)")),
    };
    let file = std::fs::File::create(out).map_err(|e| format!("{}: {e}", out.display()))?;
    let mut wr = BufWriter::with_capacity(1 << 20, file);
    let mut header = Header {
        fourcc: code,
        width: w,
        height: h,
        fps_num,
        fps_den,
        payload: payload as u32,
        count: 0,
    };
    let io = |e: std::io::Error| format!("{}: {e}", out.display());
    wr.write_all(&header.to_bytes()).map_err(io)?;
    let mut buf = vec![0u8; payload];
    while header.count < max {
        let Some(frame) = src.next_frame().map_err(|e| e.to_string())? else {
            break;
        };
        let used = match format {
            "yuyv" => {
                for (i, y) in frame.luma.iter().enumerate() {
                    buf[2 * i] = *y;
                    buf[2 * i + 1] = 128;
                }
                2 * n
            }
            "nv12" => {
                buf[..n].copy_from_slice(&frame.luma);
                buf[n..].fill(128);
                n + n / 2
            }
            _ => {
                let mut jpeg = Vec::with_capacity(n);
                let enc = jpeg_encoder::Encoder::new(&mut jpeg, 85);
                enc.encode(
                    &frame.luma,
                    w as u16,
                    h as u16,
                    jpeg_encoder::ColorType::Luma,
                )
                .map_err(|e| format!("encoding a JPEG: {e}"))?;
                if jpeg.len() > payload {
                    return Err(format!(
                        "a JPEG of {} bytes is larger than a raw frame",
                        jpeg.len()
                    ));
                }
                buf[..jpeg.len()].copy_from_slice(&jpeg);
                buf[jpeg.len()..].fill(0);
                jpeg.len()
            }
        };
        let us = (frame.pts_s * 1e6).round().max(0.0) as u64;
        wr.write_all(&us.to_le_bytes()).map_err(io)?;
        wr.write_all(&(used as u32).to_le_bytes()).map_err(io)?;
        wr.write_all(&buf).map_err(io)?;
        header.count += 1;
    }
    if header.count == 0 {
        return Err(format!("{}: no frames", clip.display()));
    }
    let mut file = wr.into_inner().map_err(|e| io(e.into_error()))?;
    file.seek(SeekFrom::Start(0)).map_err(io)?;
    file.write_all(&header.to_bytes()).map_err(io)?;
    Ok(())
}
