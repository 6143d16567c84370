//! MP4/MOV (ISO base media) clips. H.264 (`avc1`) is decoded in-process: the `mp4` crate parses
//! the movie header, our own checked sample table locates the samples, and `openh264` decodes
//! them after AVCC → Annex B conversion. Other codecs (HEVC, AV1, VP9, ...) and fragmented
//! files go to ffmpeg.
//!
//! Frames come as stored (the display matrix is read here and applied by `Oriented`), timed by
//! the sample table with the edit list applied (time 0 = the first frame shown).
//!
//! Defensive against hostile files: the header is parsed from an in-memory copy of the `moov`
//! box with an operation budget (the `mp4` crate can loop forever on zero-sized boxes) and
//! behind `catch_unwind`; sample sizes are capped. Damaged recordings keep going: openh264
//! conceals damaged pictures; samples that give no picture, and samples past the end of a
//! cut file, become decode gaps (`FrameSource::take_gap`), never the end of the clip.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::fs::File;
use std::io::{self, Cursor, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use openh264::OpenH264API;
use openh264::decoder::{DecodedYUV, Decoder, DecoderConfig, Flush};
use openh264::formats::YUVSource;

use super::ffmpeg::{self, INSTALL_HINT};
use super::{DecodeGap, Frame, FrameSource, Media, Orientation, SourceError, SourceInfo, describe};

/// No sample of a sane clip comes near this; a bigger one means a lying header.
pub(crate) const MAX_SAMPLE_BYTES: u32 = 64 << 20;
/// Largest `moov` box we load into memory.
const MAX_MOOV_BYTES: u64 = 256 << 20;
/// Samples fed at open time while waiting for the first picture.
const PRIME_SAMPLES: usize = 64;

/// Opens an ISO-BMFF file: H.264 in-process, anything else through ffmpeg.
pub(crate) fn open(
    path: &Path,
    ffmpeg: Option<&Path>,
) -> Result<Box<dyn FrameSource>, SourceError> {
    let mut file = File::open(path).map_err(|e| SourceError::io(path, &e))?;
    let file_len = file
        .metadata()
        .map_err(|e| SourceError::io(path, &e))?
        .len();
    let top = scan_top_level(&mut file, file_len).map_err(|e| SourceError::io(path, &e))?;
    let container = if top.brand == Some(*b"qt  ") {
        "MOV"
    } else {
        "MP4"
    };

    let (moov_off, moov_len) = match top.moov {
        Some(m) => m,
        None if top.moov_cut => {
            return Err(SourceError::corrupt(
                path,
                format!("truncated {container}: the moov box (movie header) is cut short"),
            ));
        }
        None => {
            return Err(SourceError::corrupt(
                path,
                format!(
                    "truncated or incomplete {container}: no moov box (movie header) found{}",
                    if top.cut {
                        ", the file ends inside a box"
                    } else {
                        ""
                    }
                ),
            ));
        }
    };
    if moov_len > MAX_MOOV_BYTES {
        return Err(SourceError::corrupt(
            path,
            format!("implausible moov box of {moov_len} bytes"),
        ));
    }
    let mut moov = vec![0u8; moov_len as usize];
    file.seek(SeekFrom::Start(moov_off))
        .and_then(|_| file.read_exact(&mut moov))
        .map_err(|e| SourceError::io(path, &e))?;

    let payload = box_payload(&moov).unwrap_or_default();
    let Some(entry) = video_sample_entry(payload) else {
        return Err(SourceError::unsupported(
            path,
            format!("{container} file without a video track"),
        ));
    };
    let codec = codec_name(&entry);
    let fragmented = top.has_moof || find_box(payload, b"mvex").is_some();
    let what = if fragmented {
        format!("{codec} in fragmented {container}")
    } else {
        format!("{codec} in {container}")
    };
    let meta = track_meta(payload);
    // ffmpeg reads the same display matrix; this one is ours (it also sees mirroring).
    let through_ffmpeg = |exe: &Path| -> Result<Box<dyn FrameSource>, SourceError> {
        let mut src = ffmpeg::FfmpegSource::open(path, exe, &what)?;
        src.set_container_meta(meta.display, meta.video_tracks, meta.capture_fps);
        Ok(Box::new(src))
    };
    if &entry != b"avc1" || fragmented {
        return match ffmpeg {
            Some(exe) => through_ffmpeg(exe),
            None => ffmpeg::open_or_explain(path, None, &what),
        };
    }

    match H264Source::open(path, file, file_len, &moov, container, &meta) {
        Ok(src) => Ok(Box::new(src)),
        Err(OpenFailure::Fatal(e)) => Err(e),
        Err(OpenFailure::Undecodable(reason)) => match ffmpeg {
            Some(exe) => through_ffmpeg(exe),
            None => Err(SourceError::unsupported(
                path,
                format!("{what}: {reason}; to decode it, {INSTALL_HINT}"),
            )),
        },
    }
}

/// What the first video track's boxes say beyond the samples: display matrix, edit list,
/// capture rate; and how many video tracks there are.
#[derive(Debug, Clone, Default)]
pub(crate) struct TrackMeta {
    pub(crate) display: Orientation,
    pub(crate) video_tracks: u32,
    /// The first edit that shows media: its start and (if it is the only one) length, in the
    /// track's timescale. Frames outside it are not shown.
    pub(crate) edit: Option<(i64, Option<i64>)>,
    pub(crate) capture_fps: Option<f64>,
}

fn be_u32(b: &[u8], at: usize) -> Option<u32> {
    let x = b.get(at..at + 4)?;
    Some(u32::from_be_bytes([x[0], x[1], x[2], x[3]]))
}

fn be_u64(b: &[u8], at: usize) -> Option<u64> {
    let x = b.get(at..at + 8)?;
    let mut a = [0u8; 8];
    a.copy_from_slice(x);
    Some(u64::from_be_bytes(a))
}

/// Timescale of an mvhd or mdhd payload (the same layout up to it).
fn header_timescale(p: &[u8]) -> Option<u32> {
    if *p.first()? == 1 {
        be_u32(p, 20)
    } else {
        be_u32(p, 12)
    }
}

fn track_meta(moov_payload: &[u8]) -> TrackMeta {
    let mut meta = TrackMeta::default();
    let movie_scale = find_box(moov_payload, b"mvhd").and_then(header_timescale);
    for (t, trak) in boxes(moov_payload) {
        if &t != b"trak" {
            continue;
        }
        let Some(mdia) = find_box(trak, b"mdia") else {
            continue;
        };
        if find_box(mdia, b"hdlr").and_then(|h| h.get(8..12)) != Some(b"vide") {
            continue;
        }
        meta.video_tracks += 1;
        if meta.video_tracks > 1 {
            continue;
        }
        if let Some(tkhd) = find_box(trak, b"tkhd") {
            let at = 4 + if tkhd.first() == Some(&1) { 32 } else { 20 } + 16;
            let m = |k: usize| be_u32(tkhd, at + 4 * k).map(|v| v as i32 as f64);
            if let (Some(a), Some(b), Some(c), Some(d)) = (m(0), m(1), m(3), m(4)) {
                meta.display = Orientation::from_matrix(a, b, c, d);
            }
        }
        let media_scale = find_box(mdia, b"mdhd").and_then(header_timescale);
        meta.edit = find_box(trak, b"edts")
            .and_then(|e| find_box(e, b"elst"))
            .and_then(|elst| first_edit(elst, movie_scale?, media_scale?));
    }
    meta.capture_fps = capture_fps(moov_payload);
    meta
}

/// The first edit of an elst payload that shows media (empty edits before it only delay
/// the start, and time 0 is the first frame shown): `(media_time, length)` in media ticks.
fn first_edit(elst: &[u8], movie_scale: u32, media_scale: u32) -> Option<(i64, Option<i64>)> {
    let v1 = *elst.first()? == 1;
    let n = be_u32(elst, 4)? as usize;
    let size = if v1 { 20 } else { 12 };
    let mut shown = Vec::new();
    for k in 0..n.min(1024) {
        let at = 8 + k * size;
        let (dur, media_time) = if v1 {
            (be_u64(elst, at)?, be_u64(elst, at + 8)? as i64)
        } else {
            (
                be_u32(elst, at)? as u64,
                be_u32(elst, at + 4)? as i32 as i64,
            )
        };
        if media_time >= 0 {
            shown.push((dur, media_time));
        }
    }
    let &(dur, start) = shown.first()?;
    if movie_scale == 0 {
        return Some((start, None));
    }
    let len = (shown.len() == 1 && dur > 0).then(|| {
        (dur as u128 * media_scale as u128 / movie_scale as u128).min(i64::MAX as u128) as i64
    });
    Some((start, len))
}

/// Keys under which phones record the capture frame rate in the moov's `meta` (`keys` +
/// `ilst`): Android's, and the names tools give Apple's.
const CAPTURE_FPS_KEYS: [&[u8]; 3] = [
    b"com.android.capture.fps",
    b"com.apple.quicktime.capture-fps",
    b"com.apple.quicktime.capture.fps",
];

/// The capture frame rate a phone records for slow-motion clips (one of
/// `CAPTURE_FPS_KEYS` in the moov's `meta`): a float as phones write it, or a number as text
/// or integer (ffmpeg's `-movflags use_metadata_tags` writes text).
fn capture_fps(moov_payload: &[u8]) -> Option<f64> {
    let meta = find_box(moov_payload, b"meta")
        .or_else(|| find_box(find_box(moov_payload, b"udta")?, b"meta"))?;
    // QuickTime `meta` has no version field; ISO's has four bytes of it.
    let inner = if meta.get(4..8) == Some(b"hdlr") {
        meta
    } else {
        meta.get(4..)?
    };
    let keys = find_box(inner, b"keys")?;
    let n = be_u32(keys, 4)? as usize;
    let mut at = 8;
    let mut index = None;
    for k in 0..n.min(256) {
        let size = be_u32(keys, at)? as usize;
        if size < 8 {
            return None;
        }
        if let Some(name) = keys.get(at + 8..at + size)
            && CAPTURE_FPS_KEYS.contains(&name)
        {
            index = Some(k as u32 + 1);
        }
        at += size;
    }
    let index = index?;
    let ilst = find_box(inner, b"ilst")?;
    let (_, item) = boxes(ilst).find(|(t, _)| u32::from_be_bytes(*t) == index)?;
    let data = find_box(item, b"data")?;
    let kind = be_u32(data, 0)? & 0xff_ffff;
    let bytes = data.get(8..)?;
    let int = |signed: bool| -> Option<f64> {
        if bytes.is_empty() || bytes.len() > 8 {
            return None;
        }
        let mut v: u64 = 0;
        for b in bytes {
            v = (v << 8) | *b as u64;
        }
        let bits = bytes.len() as u32 * 8;
        Some(if signed && bits < 64 && v >> (bits - 1) == 1 {
            (v as i64 - (1i64 << bits)) as f64
        } else if signed {
            v as i64 as f64
        } else {
            v as f64
        })
    };
    let value = match kind {
        1 => std::str::from_utf8(bytes)
            .ok()?
            .trim()
            .parse::<f64>()
            .ok()?,
        21 => int(true)?,
        22 => int(false)?,
        23 => f32::from_bits(be_u32(data, 8)?) as f64,
        24 => f64::from_bits(be_u64(data, 8)?),
        _ => return None,
    };
    (value.is_finite() && value > 0.0).then_some(value)
}

/// Seconds from the ISO-BMFF epoch (1904-01-01 UTC) to the Unix epoch.
const MP4_EPOCH_TO_UNIX_S: i64 = 2_082_844_800;

/// The movie header's (mvhd) creation time as Unix seconds, UTC, as the file states it:
/// `None` when the file has no complete moov box or mvhd, or the field is zero (unset).
/// Plausibility (before 2000, in the future) is the caller's judgement.
pub(crate) fn creation_time(path: &Path) -> Result<Option<i64>, SourceError> {
    let mut file = File::open(path).map_err(|e| SourceError::io(path, &e))?;
    let len = file
        .metadata()
        .map_err(|e| SourceError::io(path, &e))?
        .len();
    let top = scan_top_level(&mut file, len).map_err(|e| SourceError::io(path, &e))?;
    let Some((off, size)) = top.moov.filter(|&(_, size)| size <= MAX_MOOV_BYTES) else {
        return Ok(None);
    };
    let mut moov = vec![0u8; size as usize];
    file.seek(SeekFrom::Start(off))
        .and_then(|_| file.read_exact(&mut moov))
        .map_err(|e| SourceError::io(path, &e))?;
    // The `mp4` crate's movie header first; when it cannot parse the whole moov (codecs
    // it does not know), the field itself: version (1 byte), flags (3), then the creation
    // time as u32 (version 0) or u64 (version 1).
    let created = match parse_moov(&moov) {
        Ok(m) => Some(m.mvhd.creation_time),
        Err(_) => box_payload(&moov)
            .and_then(|p| find_box(p, b"mvhd"))
            .and_then(|m| match m.first()? {
                0 => Some(u32::from_be_bytes(m.get(4..8)?.try_into().ok()?) as u64),
                1 => Some(u64::from_be_bytes(m.get(4..12)?.try_into().ok()?)),
                _ => None,
            }),
    };
    Ok(created
        .filter(|&t| t > 0)
        .and_then(|t| i64::try_from(t).ok())
        .map(|t| t - MP4_EPOCH_TO_UNIX_S))
}

// ---------------------------------------------------------------------------------------------
// Raw box walking (bounds-checked, for the top level and for routing by codec).

struct TopLevel {
    brand: Option<[u8; 4]>,
    /// Offset and total size of the moov box, when complete.
    moov: Option<(u64, u64)>,
    /// A moov box starts but is cut off by the end of the file.
    moov_cut: bool,
    /// Some box runs past the end of the file (typically a cut mdat).
    cut: bool,
    has_moof: bool,
}

fn scan_top_level(file: &mut File, len: u64) -> io::Result<TopLevel> {
    let mut top = TopLevel {
        brand: None,
        moov: None,
        moov_cut: false,
        cut: false,
        has_moof: false,
    };
    let mut pos = 0u64;
    while len.saturating_sub(pos) >= 8 {
        let mut hdr = [0u8; 16];
        file.seek(SeekFrom::Start(pos))?;
        let avail = len.saturating_sub(pos).min(16) as usize;
        file.read_exact(&mut hdr[..avail])?;
        let size32 = u32::from_be_bytes([hdr[0], hdr[1], hdr[2], hdr[3]]) as u64;
        let typ = [hdr[4], hdr[5], hdr[6], hdr[7]];
        let (size, hlen) = match size32 {
            0 => (len - pos, 8),
            1 if avail >= 16 => (
                u64::from_be_bytes([
                    hdr[8], hdr[9], hdr[10], hdr[11], hdr[12], hdr[13], hdr[14], hdr[15],
                ]),
                16,
            ),
            1 => {
                top.cut = true;
                break;
            }
            s => (s, 8),
        };
        if size < hlen {
            break; // garbage after the last box; whatever we found so far stands
        }
        let end = pos.saturating_add(size);
        match &typ {
            b"ftyp" if avail >= 12 => top.brand = Some([hdr[8], hdr[9], hdr[10], hdr[11]]),
            b"moov" if end <= len && top.moov.is_none() => top.moov = Some((pos, size)),
            b"moov" => top.moov_cut = true,
            b"moof" => top.has_moof = true,
            _ => {}
        }
        if end > len {
            top.cut = true;
            break;
        }
        pos = end;
    }
    Ok(top)
}

/// Iterates `(type, payload)` over the boxes packed in `data`; stops at the first malformed one.
fn boxes(data: &[u8]) -> impl Iterator<Item = ([u8; 4], &[u8])> {
    let mut rest = data;
    std::iter::from_fn(move || {
        let hdr = rest.get(..8)?;
        let size32 = u32::from_be_bytes([hdr[0], hdr[1], hdr[2], hdr[3]]) as u64;
        let typ = [hdr[4], hdr[5], hdr[6], hdr[7]];
        let (size, hlen) = match size32 {
            0 => (rest.len() as u64, 8usize),
            1 => {
                let b = rest.get(8..16)?;
                (
                    u64::from_be_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]),
                    16,
                )
            }
            s => (s, 8),
        };
        if size < hlen as u64 || size > rest.len() as u64 {
            rest = &[];
            return None;
        }
        let (this, tail) = rest.split_at(size as usize);
        rest = tail;
        Some((typ, this.get(hlen..)?))
    })
}

fn find_box<'a>(data: &'a [u8], typ: &[u8; 4]) -> Option<&'a [u8]> {
    boxes(data).find(|(t, _)| t == typ).map(|(_, p)| p)
}

/// Payload of the single box that `data` holds.
fn box_payload(data: &[u8]) -> Option<&[u8]> {
    boxes(data).next().map(|(_, p)| p)
}

/// Four-character code of the first sample entry of the first video track.
fn video_sample_entry(moov_payload: &[u8]) -> Option<[u8; 4]> {
    boxes(moov_payload)
        .filter(|(t, _)| t == b"trak")
        .find_map(|(_, trak)| {
            let mdia = find_box(trak, b"mdia")?;
            let hdlr = find_box(mdia, b"hdlr")?;
            if hdlr.get(8..12)? != b"vide" {
                return None;
            }
            let stbl = find_box(find_box(mdia, b"minf")?, b"stbl")?;
            let stsd = find_box(stbl, b"stsd")?;
            let e = stsd.get(12..16)?;
            Some([e[0], e[1], e[2], e[3]])
        })
}

fn codec_name(entry: &[u8; 4]) -> String {
    match entry {
        b"avc1" | b"avc2" | b"avc3" | b"avc4" => "H.264".into(),
        b"hvc1" | b"hev1" => "H.265/HEVC".into(),
        b"av01" => "AV1".into(),
        b"vp09" => "VP9".into(),
        b"vp08" => "VP8".into(),
        b"mp4v" => "MPEG-4 Part 2".into(),
        b"jpeg" | b"mjpa" | b"mjpb" => "Motion JPEG".into(),
        b"s263" | b"h263" => "H.263".into(),
        [b'a', b'p', ..] => "Apple ProRes".into(),
        other => format!("'{}' video", String::from_utf8_lossy(other)),
    }
}

fn profile_name(profile_idc: u8, compat: u8) -> String {
    match profile_idc {
        66 if compat & 0x40 != 0 => "Constrained Baseline".into(),
        66 => "Baseline".into(),
        77 => "Main".into(),
        88 => "Extended".into(),
        100 => "High".into(),
        110 => "High 10".into(),
        122 => "High 4:2:2".into(),
        244 => "High 4:4:4".into(),
        p => format!("profile {p}"),
    }
}

// ---------------------------------------------------------------------------------------------
// Guarded parsing of the movie header with the `mp4` crate.

/// `Read + Seek` that fails after a fixed number of operations: turns the `mp4` crate's
/// endless loops on malformed boxes into an error.
struct Budget<R> {
    inner: R,
    left: u64,
}

impl<R> Budget<R> {
    fn spend(&mut self) -> io::Result<()> {
        self.left = self
            .left
            .checked_sub(1)
            .ok_or_else(|| io::Error::other("box structure loops"))?;
        Ok(())
    }
}

impl<R: Read> Read for Budget<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.spend()?;
        self.inner.read(buf)
    }
}

impl<R: Seek> Seek for Budget<R> {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        self.spend()?;
        self.inner.seek(pos)
    }
}

fn parse_moov(moov: &[u8]) -> Result<mp4::MoovBox, String> {
    // The crate insists on an ftyp box first; the real one is irrelevant here.
    let mut buf = Vec::with_capacity(moov.len() + 16);
    buf.extend_from_slice(&[0, 0, 0, 16]);
    buf.extend_from_slice(b"ftypisom");
    buf.extend_from_slice(&[0, 0, 0, 0]);
    buf.extend_from_slice(moov);
    let len = buf.len() as u64;
    let reader = Budget {
        inner: Cursor::new(buf),
        left: 4 * len + 100_000,
    };
    let parsed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        mp4::Mp4Reader::read_header(reader, len)
    }));
    match parsed {
        Ok(Ok(r)) => Ok(r.moov),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err("the MP4 parser gave up on a malformed box".into()),
    }
}

/// One coded picture in the file.
#[derive(Debug, Clone, Copy)]
struct Sample {
    offset: u64,
    size: u32,
    /// Composition time in track timescale units.
    cts: i64,
}

/// The sample tables of a track, copied out of the `mp4` crate's (unnameable) box types.
struct Tables<'a> {
    /// stsz: constant size (0 = per-sample sizes follow), count, per-sample sizes.
    sample_size: u32,
    sample_count: u32,
    sample_sizes: &'a [u32],
    /// stco or co64.
    chunk_offsets: Option<Vec<u64>>,
    /// stsc: (first_chunk, samples_per_chunk).
    stsc: Vec<(u32, u32)>,
    /// stts: (sample_count, sample_delta).
    stts: Vec<(u32, u32)>,
    /// ctts: (sample_count, sample_offset).
    ctts: Vec<(u32, i32)>,
}

/// Flattens stsz/stsc/stco/stts/ctts into one entry per sample, with checked arithmetic.
/// Returns the samples and the total decode duration (sum of stts deltas).
fn sample_table(t: &Tables<'_>) -> Result<(Vec<Sample>, u64), String> {
    let declared = t.sample_count as usize;
    let n = if t.sample_size == 0 {
        declared.min(t.sample_sizes.len())
    } else {
        declared
    };
    let size_of = |i: usize| -> u32 {
        if t.sample_size != 0 {
            t.sample_size
        } else {
            t.sample_sizes.get(i).copied().unwrap_or(0)
        }
    };
    if t.sample_size > MAX_SAMPLE_BYTES {
        return Err(format!("samples claim {} bytes each", t.sample_size));
    }
    if let Some((i, s)) = t
        .sample_sizes
        .iter()
        .enumerate()
        .find(|(_, s)| **s > MAX_SAMPLE_BYTES)
    {
        return Err(format!("sample {i} claims {s} bytes"));
    }
    let Some(chunk_offsets) = &t.chunk_offsets else {
        return Err("no chunk offset table (stco/co64)".into());
    };
    let num_chunks = chunk_offsets.len() as u64;

    let mut samples: Vec<Sample> =
        Vec::with_capacity(n.min(chunk_offsets.len().saturating_mul(64)).min(1 << 20));
    let entries = &t.stsc;
    'outer: for (k, &(first_chunk, per_chunk)) in entries.iter().enumerate() {
        let next_first = entries.get(k + 1).map_or(num_chunks + 1, |x| x.0 as u64);
        let first = (first_chunk as u64).max(1);
        let last = next_first.min(num_chunks + 1);
        for chunk in first..last {
            let Some(&chunk_off) = chunk_offsets.get((chunk - 1) as usize) else {
                break 'outer;
            };
            let mut off = chunk_off;
            for _ in 0..per_chunk {
                if samples.len() >= n {
                    break 'outer;
                }
                let size = size_of(samples.len());
                samples.push(Sample {
                    offset: off,
                    size,
                    cts: 0,
                });
                off = off.saturating_add(size as u64);
            }
        }
    }

    // Decode times from stts; samples it does not cover keep the last delta.
    let mut dts: u64 = 0;
    let mut i = 0usize;
    let mut last_delta = 1u64;
    for &(count, delta) in &t.stts {
        last_delta = delta as u64;
        let take = (count as usize).min(samples.len() - i);
        for s in &mut samples[i..i + take] {
            s.cts = dts.min(i64::MAX as u64 / 2) as i64;
            dts = dts.saturating_add(last_delta);
        }
        i += take;
        if i >= samples.len() {
            break;
        }
    }
    for s in &mut samples[i..] {
        s.cts = dts.min(i64::MAX as u64 / 2) as i64;
        dts = dts.saturating_add(last_delta);
    }
    // Composition offsets.
    let mut i = 0usize;
    for &(count, offset) in &t.ctts {
        let take = (count as usize).min(samples.len() - i);
        for s in &mut samples[i..i + take] {
            s.cts = s.cts.saturating_add(offset as i64);
        }
        i += take;
        if i >= samples.len() {
            break;
        }
    }
    Ok((samples, dts))
}

// ---------------------------------------------------------------------------------------------
// The H.264 source.

enum OpenFailure {
    /// A plain error to report.
    Fatal(SourceError),
    /// openh264 cannot decode this stream; ffmpeg may.
    Undecodable(String),
}

pub(crate) struct H264Source {
    path: PathBuf,
    info: SourceInfo,
    file: File,
    file_len: u64,
    samples: Vec<Sample>,
    /// Sync (key) samples, 0-based and ascending; `None`: every sample is one.
    sync: Option<Vec<u32>>,
    timescale: f64,
    /// Composition time shown as 0: the edit list's start, else the earliest sample's.
    cts0: i64,
    /// Pictures at or after this composition time are not shown (the edit list's end).
    cts_end: i64,
    /// NAL length field size from avcC (1, 2 or 4).
    len_size: usize,
    /// SPS and PPS from avcC in Annex B form, fed before the first sample.
    param_sets: Vec<u8>,
    profile: String,
    decoder: Decoder,
    next_sample: usize,
    sample_buf: Vec<u8>,
    annexb: Vec<u8>,
    /// Composition times of samples fed but not yet output (smallest first).
    pending_pts: BinaryHeap<Reverse<i64>>,
    ready: VecDeque<Frame>,
    pending_error: Option<SourceError>,
    /// The last decoder error, when decoding failed.
    decode_failure: Option<String>,
    /// Damage seen since the last picture: the reason of a gap not yet placed.
    open_gap: Option<String>,
    /// Gaps placed before the frame of the given index (in `ready` order).
    gaps: VecDeque<(u64, DecodeGap)>,
    /// The gap to hand out with `take_gap`.
    gap_out: Option<DecodeGap>,
    /// Samples skipped as damaged.
    skipped: u64,
    next_index: u64,
    finished: bool,
}

impl H264Source {
    fn open(
        path: &Path,
        file: File,
        file_len: u64,
        moov: &[u8],
        container: &str,
        meta: &TrackMeta,
    ) -> Result<Self, OpenFailure> {
        let corrupt = |m: String| OpenFailure::Fatal(SourceError::corrupt(path, m));
        let moov = parse_moov(moov).map_err(|e| corrupt(format!("bad {container} header: {e}")))?;
        let trak = moov
            .traks
            .iter()
            .find(|t| {
                &t.mdia.hdlr.handler_type.value == b"vide" && t.mdia.minf.stbl.stsd.avc1.is_some()
            })
            .ok_or_else(|| corrupt(format!("bad {container} header: no H.264 video track")))?;
        let Some(avc1) = &trak.mdia.minf.stbl.stsd.avc1 else {
            return Err(corrupt("no avc1 sample entry".into()));
        };
        let avcc = &avc1.avcc;
        let len_size = avcc.length_size_minus_one as usize + 1;
        if len_size == 3 {
            return Err(corrupt("invalid NAL length size 3 in avcC".into()));
        }
        let mut param_sets = Vec::new();
        for nal in avcc
            .sequence_parameter_sets
            .iter()
            .chain(&avcc.picture_parameter_sets)
        {
            if !nal.bytes.is_empty() {
                param_sets.extend_from_slice(&[0, 0, 0, 1]);
                param_sets.extend_from_slice(&nal.bytes);
            }
        }
        let profile = profile_name(avcc.avc_profile_indication, avcc.profile_compatibility);
        let timescale = trak.mdia.mdhd.timescale;
        if timescale == 0 {
            return Err(corrupt("track timescale is 0".into()));
        }
        let stbl = &trak.mdia.minf.stbl;
        let tables = Tables {
            sample_size: stbl.stsz.sample_size,
            sample_count: stbl.stsz.sample_count,
            sample_sizes: &stbl.stsz.sample_sizes,
            chunk_offsets: match (&stbl.stco, &stbl.co64) {
                (Some(stco), _) => Some(stco.entries.iter().map(|&o| o as u64).collect()),
                (None, Some(co64)) => Some(co64.entries.clone()),
                (None, None) => None,
            },
            stsc: stbl
                .stsc
                .entries
                .iter()
                .map(|e| (e.first_chunk, e.samples_per_chunk))
                .collect(),
            stts: stbl
                .stts
                .entries
                .iter()
                .map(|e| (e.sample_count, e.sample_delta))
                .collect(),
            ctts: stbl
                .ctts
                .as_ref()
                .map(|c| {
                    c.entries
                        .iter()
                        .map(|e| (e.sample_count, e.sample_offset))
                        .collect()
                })
                .unwrap_or_default(),
        };
        let (samples, total_ticks) =
            sample_table(&tables).map_err(|e| corrupt(format!("bad sample table: {e}")))?;
        if samples.is_empty() {
            return Err(corrupt(format!(
                "the {container} video track has no samples"
            )));
        }
        let sync = stbl.stss.as_ref().map(|s| {
            let mut v: Vec<u32> = s.entries.iter().filter_map(|&n| n.checked_sub(1)).collect();
            v.sort_unstable();
            v
        });
        let earliest = samples.iter().map(|s| s.cts).min().unwrap_or(0);
        let (cts0, cts_end) = match meta.edit {
            Some((start, len)) => (start, len.map_or(i64::MAX, |l| start.saturating_add(l))),
            None => (earliest, i64::MAX),
        };
        let shown = samples
            .iter()
            .filter(|s| s.cts >= cts0 && s.cts < cts_end)
            .count();
        let timescale = timescale as f64;
        // From the first shown picture to the end of the last one (an average interval).
        let mean_delta = total_ticks as i64 / samples.len() as i64;
        let last_shown = samples
            .iter()
            .map(|s| s.cts)
            .filter(|&c| c >= cts0 && c < cts_end)
            .max()
            .unwrap_or(cts0);
        let end_ticks = last_shown.saturating_add(mean_delta).min(cts_end);
        let duration_s =
            (end_ticks > cts0).then(|| end_ticks.saturating_sub(cts0) as f64 / timescale);
        let fps = duration_s
            .map(|d| shown as f64 / d)
            .filter(|f| f.is_finite() && *f > 0.0);
        let (w, h) = (avc1.width as u32, avc1.height as u32);
        let info = SourceInfo {
            description: describe(&format!("H.264 in {container}"), w, h, fps),
            width: w,
            height: h,
            fps,
            frame_count: Some(shown as u64),
            duration_s,
            media: Media {
                capture_fps: super::slow_motion(meta.capture_fps, fps),
                video_streams: (meta.video_tracks > 1).then_some(meta.video_tracks),
                ..Media::default()
            },
            display: meta.display,
        };
        // No flush after each decode: flushing mid-stream breaks B-frame reordering (Main/High
        // profile). Pictures the decoder holds back are drained by `flush_remaining` at the end.
        let config = DecoderConfig::new().flush_after_decode(Flush::NoFlush);
        let mut decoder =
            Decoder::with_api_config(OpenH264API::from_source(), config).map_err(|e| {
                OpenFailure::Fatal(SourceError::unsupported(path, format!("openh264: {e}")))
            })?;
        enable_concealment(&mut decoder);
        let mut src = H264Source {
            path: path.to_path_buf(),
            info,
            file,
            file_len,
            samples,
            sync,
            timescale,
            cts0,
            cts_end,
            len_size,
            param_sets,
            profile,
            decoder,
            next_sample: 0,
            sample_buf: Vec::new(),
            annexb: Vec::new(),
            pending_pts: BinaryHeap::new(),
            ready: VecDeque::new(),
            pending_error: None,
            decode_failure: None,
            open_gap: None,
            gaps: VecDeque::new(),
            gap_out: None,
            skipped: 0,
            next_index: 0,
            finished: false,
        };
        // Decode up to the first picture now, so an undecodable stream is known at open. A
        // damaged start is skipped like damage anywhere, up to a bound.
        let limit = |src: &Self| {
            let n = if src.skipped > 0 {
                PRIME_SAMPLES * 16
            } else {
                PRIME_SAMPLES
            };
            n.min(src.samples.len())
        };
        while src.ready.is_empty()
            && src.pending_error.is_none()
            && !src.finished
            && src.next_sample < limit(&src)
        {
            src.feed_next();
        }
        if src.ready.is_empty()
            && src.next_sample >= src.samples.len()
            && src.pending_error.is_none()
        {
            src.flush();
        }
        if src.ready.is_empty() {
            if let Some(reason) = src.decode_failure.take() {
                return Err(OpenFailure::Undecodable(format!(
                    "the built-in decoder (openh264) could not decode this {} profile stream ({reason})",
                    src.profile
                )));
            }
            if src.pending_error.is_none() && src.next_sample >= limit(&src) {
                return Err(OpenFailure::Undecodable(format!(
                    "the built-in decoder (openh264) produced no picture from the first {} samples of this {} profile stream",
                    src.next_sample, src.profile
                )));
            }
            if src.pending_error.is_none() && src.open_gap.is_some() {
                return Err(OpenFailure::Fatal(SourceError::corrupt(
                    path,
                    format!(
                        "nothing decodable: {}",
                        src.open_gap.take().unwrap_or_default()
                    ),
                )));
            }
        }
        Ok(src)
    }

    /// The first sync sample after sample `i` (the end when there is none).
    fn next_sync_after(&self, i: usize) -> usize {
        match &self.sync {
            None => i + 1,
            Some(sync) => {
                let k = sync.partition_point(|&s| (s as usize) <= i);
                sync.get(k).map_or(self.samples.len(), |&s| s as usize)
            }
        }
    }

    /// Feeds one sample to the decoder; pictures go to `ready`, damage to `skip_damage`,
    /// read failures to `pending_error`.
    fn feed_next(&mut self) {
        let i = self.next_sample;
        let Some(&s) = self.samples.get(i) else {
            return;
        };
        self.next_sample += 1;
        let total = self.samples.len();
        let end = s.offset.checked_add(s.size as u64);
        if end.is_none_or(|e| e > self.file_len) || s.size as u64 > self.file_len {
            self.skip_damage(
                i,
                format!(
                    "truncated at frame {i} of {total}: sample data ends past the end of the file"
                ),
            );
            return;
        }
        self.sample_buf.resize(s.size as usize, 0);
        let read = self
            .file
            .seek(SeekFrom::Start(s.offset))
            .and_then(|_| self.file.read_exact(&mut self.sample_buf));
        if let Err(e) = read {
            if e.kind() == io::ErrorKind::UnexpectedEof {
                self.skip_damage(i, format!("truncated at frame {i} of {total}"));
            } else {
                self.fail(SourceError::io(&self.path, &e));
            }
            return;
        }
        self.annexb.clear();
        if i == 0 || self.open_gap.is_some() {
            // Also after damage: the parameter sets may have been in what was skipped.
            self.annexb.extend_from_slice(&self.param_sets);
        }
        let before = self.annexb.len();
        if let Err(m) = avcc_to_annexb(&self.sample_buf, self.len_size, &mut self.annexb) {
            tracing::debug!("{}: frame {i}: {m}", self.path.display());
            if self.annexb.len() == before {
                // Not one whole NAL unit: the sample is lost.
                self.open_gap.get_or_insert(format!("frame {i}: {m}"));
                return;
            }
            // The whole NAL units before the bad length are decoded (and concealed).
        }
        self.pending_pts.push(Reverse(s.cts));
        let (state, pic) = decode_concealed(&mut self.decoder, &self.annexb);
        if let Some(pic) = pic {
            // Possibly concealed (damaged parts copied from earlier pictures): kept.
            self.push_picture(Some(pic));
            return;
        }
        if state & !DS_FRAME_PENDING == 0 {
            return; // held back for reordering, or more data needed
        }
        // Nothing came of this sample: its time goes, and a gap is placed before the next
        // picture. The decoder conceals what follows on its own.
        let mut left: Vec<Reverse<i64>> = std::mem::take(&mut self.pending_pts).into_vec();
        if let Some(k) = left.iter().position(|c| c.0 == s.cts) {
            left.swap_remove(k);
        }
        self.pending_pts = left.into();
        let reason = format!("decoding state {state:#x}");
        self.skipped += 1;
        self.decode_failure = Some(reason.clone());
        self.open_gap.get_or_insert(format!(
            "H.264 decode error at frame {i} ({} profile): {reason}",
            self.profile
        ));
    }

    /// A damaged or missing sample `i`: the pictures the decoder holds are delivered, the
    /// samples up to the next sync sample are skipped (the decoder resynchronises there),
    /// and a gap is placed before the next picture.
    fn skip_damage(&mut self, i: usize, reason: String) {
        self.drain_held();
        self.pending_pts.clear();
        let next = self.next_sync_after(i).max(self.next_sample);
        self.skipped += (next - i) as u64;
        self.next_sample = next;
        tracing::debug!(
            "{}: {reason}; skipping to sample {next}",
            self.path.display()
        );
        self.open_gap.get_or_insert(reason);
    }

    /// Delivers the pictures the decoder holds back, without ending the stream.
    fn drain_held(&mut self) {
        let pics: Vec<_> = match self.decoder.flush_remaining() {
            Ok(list) => list.iter().map(picture).collect(),
            Err(_) => Vec::new(),
        };
        for p in pics {
            self.push_picture(p);
        }
    }

    fn push_picture(&mut self, pic: Option<(u32, u32, Vec<u8>)>) {
        let cts = self.pending_pts.pop().map_or(self.cts0, |Reverse(c)| c);
        let Some((width, height, luma)) = pic else {
            self.open_gap
                .get_or_insert_with(|| "the decoder returned a malformed picture".into());
            return;
        };
        // Outside the edit list: decoded (it may be a reference), not shown.
        if cts < self.cts0 || cts >= self.cts_end {
            return;
        }
        if let Some(reason) = self.open_gap.take() {
            self.gaps.push_back((
                self.next_index,
                DecodeGap {
                    reason,
                    until_s: None,
                },
            ));
        }
        let pts_s = (cts.saturating_sub(self.cts0)) as f64 / self.timescale;
        self.ready.push_back(Frame {
            index: self.next_index,
            pts_s,
            width,
            height,
            luma,
        });
        self.next_index += 1;
    }

    /// Records an error, after first draining the pictures the decoder still holds.
    fn fail(&mut self, err: SourceError) {
        self.flush();
        if self.pending_error.is_none() {
            self.pending_error = Some(err);
        }
        self.next_sample = self.samples.len();
    }

    fn flush(&mut self) {
        if self.finished {
            return;
        }
        self.finished = true;
        self.drain_held();
    }
}

/// openh264's "frame pending" decoding state: not an error.
const DS_FRAME_PENDING: i32 = 1;
/// openh264's error concealment that copies lost slices (and their motion) from earlier
/// pictures and keeps going across key frames (`ERROR_CON_SLICE_MV_COPY_CROSS_IDR`). Not
/// the `_FREEZE_RES_CHANGE` variant: that one also withholds every picture after a damaged
/// key frame until the next one (a whole group of pictures lost, where ffmpeg conceals);
/// a change of picture size is handled by the analysis (the face is searched afresh).
const ERROR_CONCEALMENT: i32 = 6;

/// Turns on openh264's error concealment (the `openh264` crate sets it off and has no
/// setting for it), so that damaged pictures come out concealed instead of lost.
fn enable_concealment(decoder: &mut Decoder) {
    let mut ec: i32 = ERROR_CONCEALMENT;
    // SAFETY: a documented decoder option, given a pointer to an int as it expects.
    unsafe {
        decoder.raw_api().set_option(
            openh264_sys2::DECODER_OPTION_ERROR_CON_IDC,
            (&raw mut ec).cast(),
        );
    }
}

/// Decodes one Annex B access unit through the raw API: the `openh264` crate turns any
/// non-zero decoding state into an error and drops the picture, which with concealment on
/// is often there. Returns the state and the picture's luma, if one came out.
fn decode_concealed(decoder: &mut Decoder, packet: &[u8]) -> (i32, Option<(u32, u32, Vec<u8>)>) {
    let mut dst = [std::ptr::null_mut::<u8>(); 3];
    let mut info = openh264_sys2::SBufferInfo::default();
    let Ok(len) = i32::try_from(packet.len()) else {
        return (openh264_sys2::dsBitstreamError, None);
    };
    // SAFETY: `packet` outlives the call; `dst` and `info` are what DecodeFrameNoDelay
    // fills. The planes it points `dst` at stay valid until the next decode call, and are
    // copied out before it.
    unsafe {
        let state = decoder.raw_api().decode_frame_no_delay(
            packet.as_ptr(),
            len,
            dst.as_mut_ptr(),
            &raw mut info,
        );
        if info.iBufferStatus != 1 || dst[0].is_null() {
            return (state, None);
        }
        let sys = info.UsrData.sSystemBuffer;
        let (w, h, stride) = (sys.iWidth, sys.iHeight, sys.iStride[0]);
        if w <= 0 || h <= 0 || stride < w {
            return (state, None);
        }
        let (w, h, stride) = (w as usize, h as usize, stride as usize);
        let plane = std::slice::from_raw_parts(dst[0], stride * h);
        let mut luma = Vec::with_capacity(w * h);
        for row in plane.chunks_exact(stride) {
            luma.extend_from_slice(&row[..w]);
        }
        (state, Some((w as u32, h as u32, luma)))
    }
}

/// Copies the luma plane of a decoded picture row by row (the decoder pads its rows).
fn picture(yuv: &DecodedYUV<'_>) -> Option<(u32, u32, Vec<u8>)> {
    let (w, h) = yuv.dimensions();
    let stride = yuv.strides().0;
    let y = yuv.y();
    if w == 0 || h == 0 || stride < w {
        return None;
    }
    let mut out = Vec::with_capacity(w.checked_mul(h)?);
    for row in 0..h {
        let start = row.checked_mul(stride)?;
        out.extend_from_slice(y.get(start..start.checked_add(w)?)?);
    }
    Some((u32::try_from(w).ok()?, u32::try_from(h).ok()?, out))
}

/// Appends the NAL units of an AVCC sample (big-endian length prefixes) to `out` in Annex B
/// form. Zero-length NAL units are skipped.
pub(crate) fn avcc_to_annexb(
    sample: &[u8],
    len_size: usize,
    out: &mut Vec<u8>,
) -> Result<(), String> {
    let mut rest = sample;
    while !rest.is_empty() {
        let Some((len_bytes, tail)) = rest.split_at_checked(len_size) else {
            return Err(format!(
                "{} stray bytes at the end of the sample",
                rest.len()
            ));
        };
        let n = len_bytes
            .iter()
            .fold(0usize, |acc, &b| (acc << 8) | b as usize);
        let Some((nal, tail)) = tail.split_at_checked(n) else {
            return Err(format!(
                "NAL unit of {n} bytes overruns the sample ({} left)",
                tail.len()
            ));
        };
        if !nal.is_empty() {
            out.extend_from_slice(&[0, 0, 0, 1]);
            out.extend_from_slice(nal);
        }
        rest = tail;
    }
    Ok(())
}

impl FrameSource for H264Source {
    fn info(&self) -> &SourceInfo {
        &self.info
    }

    fn next_frame(&mut self) -> Result<Option<Frame>, SourceError> {
        loop {
            if let Some(f) = self.ready.pop_front() {
                if self.gaps.front().is_some_and(|(at, _)| *at == f.index) {
                    self.gap_out = self.gaps.pop_front().map(|(_, g)| g);
                }
                return Ok(Some(f));
            }
            if let Some(e) = self.pending_error.take() {
                self.finished = true;
                self.next_sample = self.samples.len();
                return Err(e);
            }
            if self.next_sample >= self.samples.len() {
                if self.finished {
                    if let Some(reason) = self.open_gap.take() {
                        if self.next_index == 0 {
                            return Err(SourceError::corrupt(
                                &self.path,
                                format!("nothing decodable: {reason}"),
                            ));
                        }
                        // Damage up to the end: the gap runs to the clip's declared end.
                        self.gap_out = Some(DecodeGap {
                            reason,
                            until_s: self.info.duration_s,
                        });
                    }
                    return Ok(None);
                }
                self.flush();
                continue;
            }
            self.feed_next();
        }
    }

    fn take_gap(&mut self) -> Option<DecodeGap> {
        self.gap_out.take()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn annexb_skips_empty_nals_and_rejects_overruns() {
        let mut out = Vec::new();
        let sample = [0, 0, 0, 2, 0x65, 0x88, 0, 0, 0, 0, 0, 0, 0, 1, 0x41];
        avcc_to_annexb(&sample, 4, &mut out).unwrap();
        assert_eq!(out, [0, 0, 0, 1, 0x65, 0x88, 0, 0, 0, 1, 0x41]);
        out.clear();
        assert!(avcc_to_annexb(&[0, 0, 0, 9, 1, 2], 4, &mut out).is_err());
        assert!(avcc_to_annexb(&[0, 0], 4, &mut out).is_err());
        out.clear();
        avcc_to_annexb(&[0, 1, 0x67], 2, &mut out).unwrap();
        assert_eq!(out, [0, 0, 0, 1, 0x67]);
    }

    #[test]
    fn boxes_stop_at_malformed_sizes() {
        let data = [
            0, 0, 0, 9, b'a', b'b', b'c', b'd', 7, 0, 0, 0, 4, b'x', b'x', b'x', b'x',
        ];
        let v: Vec<_> = boxes(&data).collect();
        assert_eq!(v.len(), 1);
        assert_eq!(&v[0].0, b"abcd");
        assert_eq!(v[0].1, &[7]);
    }
}
