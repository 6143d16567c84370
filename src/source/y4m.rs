//! YUV4MPEG2 clips through the `y4m` crate: the Y plane only; 9-16 bit samples shifted to 8 bits.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use super::{Frame, FrameSource, SourceError, SourceInfo, describe};

/// Largest width or height accepted from a Y4M header (guards the size arithmetic).
const MAX_DIM: usize = 16_384;
/// Largest frame buffer the decoder may allocate.
const MAX_FRAME_BYTES: usize = 256 << 20;

/// Counts the bytes the `y4m` crate consumes, to tell a clean end from a cut-off frame
/// (the crate reports both as `EOF`).
struct Counting<R> {
    inner: R,
    consumed: Arc<AtomicU64>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.consumed.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

pub(crate) struct Y4mSource {
    path: PathBuf,
    info: SourceInfo,
    dec: y4m::Decoder<Counting<BufReader<File>>>,
    consumed: Arc<AtomicU64>,
    /// Bytes consumed when the last complete frame had been read.
    frame_end: u64,
    width: usize,
    height: usize,
    /// Bits to drop per sample (0 for 8-bit), and bytes per sample.
    shift: usize,
    bytes_per_sample: usize,
    fps: f64,
    next_index: u64,
    done: bool,
}

/// Reads `W` and `H` from the header line ourselves before the `y4m` crate multiplies them.
fn header_dims(path: &Path) -> Result<(usize, usize), SourceError> {
    let mut head = Vec::with_capacity(1024);
    File::open(path)
        .and_then(|f| f.take(1024).read_to_end(&mut head))
        .map_err(|e| SourceError::io(path, &e))?;
    let line_end = head
        .iter()
        .position(|&b| b == b'\n')
        .ok_or_else(|| SourceError::corrupt(path, "Y4M header line is missing or too long"))?;
    let line = head.get(..line_end).unwrap_or_default();
    let mut w = None;
    let mut h = None;
    for tok in line.split(|&b| b == b' ').skip(1) {
        let num = || -> Option<usize> { std::str::from_utf8(tok.get(1..)?).ok()?.parse().ok() };
        match tok.first() {
            Some(b'W') => w = num(),
            Some(b'H') => h = num(),
            _ => {}
        }
    }
    match (w, h) {
        (Some(w), Some(h)) if (1..=MAX_DIM).contains(&w) && (1..=MAX_DIM).contains(&h) => {
            Ok((w, h))
        }
        (Some(w), Some(h)) => Err(SourceError::corrupt(
            path,
            format!("Y4M header gives an impossible frame size {w}x{h}"),
        )),
        _ => Err(SourceError::corrupt(
            path,
            "Y4M header lacks a valid W or H",
        )),
    }
}

impl Y4mSource {
    pub(crate) fn open(path: &Path) -> Result<Self, SourceError> {
        header_dims(path)?;
        let file = File::open(path).map_err(|e| SourceError::io(path, &e))?;
        let file_len = file
            .metadata()
            .map_err(|e| SourceError::io(path, &e))?
            .len();
        let limit = MAX_FRAME_BYTES.min(usize::try_from(file_len).unwrap_or(usize::MAX));
        let consumed = Arc::new(AtomicU64::new(0));
        let reader = Counting {
            inner: BufReader::new(file),
            consumed: Arc::clone(&consumed),
        };
        let dec = y4m::Decoder::new_with_limits(reader, y4m::Limits { bytes: limit }).map_err(
            |e| match e {
                y4m::Error::OutOfMemory => SourceError::corrupt(
                    path,
                    "Y4M header announces frames bigger than the file (truncated or bad header)",
                ),
                y4m::Error::UnknownColorspace => {
                    SourceError::unsupported(path, "Y4M with an unsupported colour space")
                }
                other => SourceError::corrupt(path, format!("bad Y4M header: {other}")),
            },
        )?;
        let (width, height) = (dec.get_width(), dec.get_height());
        let bit_depth = dec.get_bit_depth();
        let bytes_per_sample = dec.get_bytes_per_sample();
        let rate = dec.get_framerate();
        let fps = (rate.num > 0 && rate.den > 0).then(|| rate.num as f64 / rate.den as f64);
        let container = if bit_depth > 8 {
            format!("Y4M {bit_depth}-bit")
        } else {
            "Y4M".to_string()
        };
        let (w32, h32) = (width as u32, height as u32);
        let info = SourceInfo {
            description: describe(&container, w32, h32, fps),
            width: w32,
            height: h32,
            fps,
            frame_count: None,
            duration_s: None,
            ..SourceInfo::default()
        };
        Ok(Y4mSource {
            path: path.to_path_buf(),
            info,
            dec,
            frame_end: consumed.load(Ordering::Relaxed),
            consumed,
            width,
            height,
            shift: bit_depth.saturating_sub(8),
            bytes_per_sample,
            fps: fps.unwrap_or(25.0),
            next_index: 0,
            done: false,
        })
    }
}

impl FrameSource for Y4mSource {
    fn info(&self) -> &SourceInfo {
        &self.info
    }

    fn next_frame(&mut self) -> Result<Option<Frame>, SourceError> {
        if self.done {
            return Ok(None);
        }
        let index = self.next_index;
        let n = self.width * self.height;
        let luma = match self.dec.read_frame() {
            Ok(frame) => {
                let y = frame.get_y_plane();
                if self.bytes_per_sample == 1 {
                    y.get(..n).map(<[u8]>::to_vec)
                } else {
                    // Little-endian 16-bit containers holding `8 + shift` significant bits.
                    y.get(..2 * n).map(|y| {
                        y.chunks_exact(2)
                            .map(|p| {
                                let v = u16::from_le_bytes([p[0], p[1]]) >> self.shift;
                                v.min(255) as u8
                            })
                            .collect()
                    })
                }
            }
            Err(y4m::Error::EOF) if self.consumed.load(Ordering::Relaxed) == self.frame_end => {
                self.done = true;
                return Ok(None);
            }
            Err(y4m::Error::EOF) => {
                self.done = true;
                return Err(SourceError::corrupt(
                    &self.path,
                    format!("truncated at frame {index} (the last frame is cut short)"),
                ));
            }
            Err(e) => {
                self.done = true;
                return Err(SourceError::corrupt(
                    &self.path,
                    format!("bad Y4M data at frame {index}: {e}"),
                ));
            }
        };
        let Some(luma) = luma else {
            self.done = true;
            return Err(SourceError::corrupt(
                &self.path,
                format!("short Y plane at frame {index}"),
            ));
        };
        self.next_index += 1;
        self.frame_end = self.consumed.load(Ordering::Relaxed);
        Ok(Some(Frame {
            index,
            pts_s: index as f64 / self.fps,
            width: self.width as u32,
            height: self.height as u32,
            luma,
        }))
    }
}
