//! Writes luma frames as H.264 in MP4 (openh264 encoder + `mp4::Mp4Writer`) or as Y4M.
//!
//! Input: `Frame`s of one size. Output: a file, created owner-only (it may show a face).
//! Chroma is constant 128 (grey), YUV 4:2:0. Thread: the caller's.

use crate::source::Frame;
use anyhow::{Context, bail};
use mp4::{
    AvcConfig, Bytes, FourCC, MediaConfig, Mp4Config, Mp4Sample, Mp4Writer, TrackConfig, TrackType,
};
use openh264::OpenH264API;
use openh264::encoder::{
    BitRate, Encoder, EncoderConfig, FrameRate, FrameType, IntraFramePeriod, RateControlMode,
};
use openh264::formats::YUVBuffer;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

/// Writes all `frames` to `path`: `.y4m` → raw Y4M, anything else → H.264 in MP4 at
/// `bitrate_bps` bits per second. Returns the number of frames written.
pub fn write_frames(
    path: &Path,
    width: u32,
    height: u32,
    fps: f64,
    bitrate_bps: u32,
    frames: impl IntoIterator<Item = Frame>,
) -> anyhow::Result<u64> {
    let mut w = ClipWriter::create(path, width, height, fps, bitrate_bps)?;
    for f in frames {
        w.write(&f)?;
    }
    w.finish()
}

enum Sink {
    Y4m(BufWriter<File>),
    Mp4(Box<Mp4Sink>),
}

struct Mp4Sink {
    encoder: Encoder,
    writer: Option<Mp4Writer<BufWriter<File>>>,
    /// Ticks per frame in the track timescale.
    frame_ticks: u32,
    timescale: u32,
    /// Sample waiting for its duration (a skipped frame extends it).
    pending: Option<Mp4Sample>,
}

/// Streaming clip writer. Call `write` per frame, then `finish`.
pub struct ClipWriter {
    path: std::path::PathBuf,
    width: u32,
    height: u32,
    frames: u64,
    sink: Sink,
}

impl ClipWriter {
    /// Every frame encoded (test clips: each frame must be there to be analysed).
    pub fn create(
        path: &Path,
        width: u32,
        height: u32,
        fps: f64,
        bitrate_bps: u32,
    ) -> anyhow::Result<Self> {
        Self::create_with(path, width, height, fps, bitrate_bps, false)
    }

    /// For watching: the rate control may skip a frame (the one before stays on screen
    /// longer), which also keeps the encoder from warning on the terminal.
    pub fn create_for_viewing(
        path: &Path,
        width: u32,
        height: u32,
        fps: f64,
        bitrate_bps: u32,
    ) -> anyhow::Result<Self> {
        Self::create_with(path, width, height, fps, bitrate_bps, true)
    }

    fn create_with(
        path: &Path,
        width: u32,
        height: u32,
        fps: f64,
        bitrate_bps: u32,
        skip_frames: bool,
    ) -> anyhow::Result<Self> {
        if !width.is_multiple_of(2) || !height.is_multiple_of(2) || width == 0 || height == 0 {
            bail!(
                "{}: frame size {width}x{height} must be even",
                path.display()
            );
        }
        if fps.is_nan() || fps <= 0.0 {
            bail!("{}: fps must be positive", path.display());
        }
        let file = crate::outputs::events::create_private(path)
            .with_context(|| format!("creating {}", path.display()))?;
        let mut out = BufWriter::new(file);
        let is_y4m = path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("y4m"));
        let sink = if is_y4m {
            let (num, den) = fps_ratio(fps);
            writeln!(
                out,
                "YUV4MPEG2 W{width} H{height} F{num}:{den} Ip A1:1 C420jpeg"
            )?;
            Sink::Y4m(out)
        } else {
            // Timescale: 1000 ticks per frame keeps fractional rates (29.97) exact enough.
            let (num, den) = fps_ratio(fps);
            let (timescale, frame_ticks) = (num * 1000 / den.max(1), 1000);
            let cfg = EncoderConfig::new()
                .bitrate(BitRate::from_bps(bitrate_bps))
                .max_frame_rate(FrameRate::from_hz(fps as f32))
                .rate_control_mode(RateControlMode::Bitrate)
                .skip_frames(skip_frames)
                .intra_frame_period(IntraFramePeriod::from_num_frames(
                    (fps * 2.0).round().max(1.0) as u32,
                ));
            let encoder = Encoder::with_api_config(OpenH264API::from_source(), cfg)
                .context("creating the H.264 encoder")?;
            let writer = Mp4Writer::write_start(
                out,
                &Mp4Config {
                    major_brand: FourCC::from(*b"isom"),
                    minor_version: 512,
                    compatible_brands: vec![
                        FourCC::from(*b"isom"),
                        FourCC::from(*b"iso2"),
                        FourCC::from(*b"avc1"),
                        FourCC::from(*b"mp41"),
                    ],
                    timescale: 1000,
                },
            )?;
            Sink::Mp4(Box::new(Mp4Sink {
                encoder,
                writer: Some(writer),
                frame_ticks,
                timescale,
                pending: None,
            }))
        };
        Ok(ClipWriter {
            path: path.to_path_buf(),
            width,
            height,
            frames: 0,
            sink,
        })
    }

    pub fn write(&mut self, frame: &Frame) -> anyhow::Result<()> {
        if frame.width != self.width || frame.height != self.height {
            bail!(
                "{}: frame {}x{} differs from the clip's {}x{}",
                self.path.display(),
                frame.width,
                frame.height,
                self.width,
                self.height
            );
        }
        let (w, h) = (self.width as usize, self.height as usize);
        let chroma = (w / 2) * (h / 2);
        match &mut self.sink {
            Sink::Y4m(out) => {
                out.write_all(b"FRAME\n")?;
                out.write_all(&frame.luma)?;
                let grey = vec![128u8; chroma];
                out.write_all(&grey)?;
                out.write_all(&grey)?;
            }
            Sink::Mp4(m) => {
                let mut yuv = Vec::with_capacity(w * h + 2 * chroma);
                yuv.extend_from_slice(&frame.luma);
                yuv.resize(w * h + 2 * chroma, 128);
                let buf = YUVBuffer::from_vec(yuv, w, h);
                let bs = m.encoder.encode(&buf).context("H.264 encoding")?;
                let is_idr = matches!(bs.frame_type(), FrameType::IDR);
                let mut sample = Vec::new();
                let (mut sps, mut pps) = (None, None);
                for li in 0..bs.num_layers() {
                    let layer = bs.layer(li).expect("layer index in range");
                    for ni in 0..layer.nal_count() {
                        let nal = strip_start_code(layer.nal_unit(ni).expect("nal index in range"));
                        if nal.is_empty() {
                            continue;
                        }
                        match nal[0] & 0x1f {
                            7 => sps = Some(nal.to_vec()),
                            8 => pps = Some(nal.to_vec()),
                            _ => {
                                sample.extend_from_slice(&(nal.len() as u32).to_be_bytes());
                                sample.extend_from_slice(nal);
                            }
                        }
                    }
                }
                let writer = m.writer.as_mut().expect("writer open until finish");
                if self.frames == 0 {
                    let (Some(sps), Some(pps)) = (sps, pps) else {
                        bail!(
                            "{}: the encoder's first frame carries no SPS/PPS",
                            self.path.display()
                        );
                    };
                    writer.add_track(&TrackConfig {
                        track_type: TrackType::Video,
                        timescale: m.timescale,
                        language: "und".to_string(),
                        media_conf: MediaConfig::AvcConfig(AvcConfig {
                            width: self.width as u16,
                            height: self.height as u16,
                            seq_param_set: sps,
                            pic_param_set: pps,
                        }),
                    })?;
                }
                let start = self.frames * m.frame_ticks as u64;
                if sample.is_empty() {
                    // Skipped frame: the previous picture stays on screen longer.
                    if let Some(p) = m.pending.as_mut() {
                        p.duration += m.frame_ticks;
                    }
                } else {
                    if let Some(p) = m.pending.take() {
                        writer.write_sample(1, &p)?;
                    }
                    m.pending = Some(Mp4Sample {
                        start_time: start,
                        duration: m.frame_ticks,
                        rendering_offset: 0,
                        is_sync: is_idr,
                        bytes: Bytes::from(sample),
                    });
                }
            }
        }
        self.frames += 1;
        Ok(())
    }

    /// Flushes and closes the file. Returns the number of frames written.
    pub fn finish(mut self) -> anyhow::Result<u64> {
        match &mut self.sink {
            Sink::Y4m(out) => out.flush()?,
            Sink::Mp4(m) => {
                let mut writer = m.writer.take().expect("finish once");
                if let Some(p) = m.pending.take() {
                    writer.write_sample(1, &p)?;
                }
                writer.write_end()?;
                writer.into_writer().flush()?;
            }
        }
        Ok(self.frames)
    }
}

fn strip_start_code(nal: &[u8]) -> &[u8] {
    if nal.starts_with(&[0, 0, 0, 1]) {
        &nal[4..]
    } else if nal.starts_with(&[0, 0, 1]) {
        &nal[3..]
    } else {
        nal
    }
}

/// Frame rate as a ratio: integers exactly, NTSC-style rates as n*1000/1001.
fn fps_ratio(fps: f64) -> (u32, u32) {
    if (fps - fps.round()).abs() < 1e-6 {
        (fps.round() as u32, 1)
    } else if ((fps * 1001.0 / 1000.0) - (fps * 1001.0 / 1000.0).round()).abs() < 1e-3 {
        ((fps * 1001.0 / 1000.0).round() as u32 * 1000, 1001)
    } else {
        ((fps * 1000.0).round() as u32, 1000)
    }
}
