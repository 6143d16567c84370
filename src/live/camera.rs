//! Real webcams through nokhwa (cargo feature `camera`): lists cameras, opens one at the
//! asked resolution and rate preferring YUYV/NV12 (luma is taken directly, no decoding),
//! falling back to MJPEG (decoded straight to luma with zune-jpeg).
//!
//! Input: a camera index or name and the wanted format. Output: luma `Frame`s.
//! Thread: the capture thread (the camera is opened there).

use super::reconnect::{CameraError, CameraOpener};

/// Which camera: its index in `--list-cameras`, or (part of) its name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CameraSelector {
    Index(u32),
    Name(String),
}

impl std::str::FromStr for CameraSelector {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s.trim().parse::<u32>() {
            Ok(i) => CameraSelector::Index(i),
            Err(_) => CameraSelector::Name(s.trim().to_string()),
        })
    }
}

impl std::fmt::Display for CameraSelector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CameraSelector::Index(i) => write!(f, "camera {i}"),
            CameraSelector::Name(n) => write!(f, "camera \"{n}\""),
        }
    }
}

/// What to ask the camera for.
#[derive(Debug, Clone, PartialEq)]
pub struct CameraRequest {
    pub camera: CameraSelector,
    pub width: u32,
    pub height: u32,
    pub fps: u32,
}

/// Without the `camera` feature: what to do instead.
#[cfg(not(feature = "camera"))]
const NO_FEATURE: &str = "this build has no camera support: rebuild with `cargo build --release \
--features camera` (on Linux this needs libclang, e.g. `sudo apt-get install libclang1-14`), \
or try live mode without a webcam with --simulate CLIP";

/// One line per camera: index, name, description.
#[cfg(not(feature = "camera"))]
pub fn list_cameras() -> Result<Vec<String>, CameraError> {
    Err(CameraError::Failed(NO_FEATURE.into()))
}

/// Opens the requested camera each time it is called.
#[cfg(not(feature = "camera"))]
pub fn opener(_req: CameraRequest) -> Box<dyn CameraOpener> {
    Box::new(|| Err(CameraError::Failed(NO_FEATURE.into())))
}

#[cfg(feature = "camera")]
pub use imp::{list_cameras, opener};

#[cfg(feature = "camera")]
mod imp {
    use super::{CameraError, CameraOpener, CameraRequest, CameraSelector};
    use crate::source::{Frame, FrameSource, SourceError, SourceInfo};
    use nokhwa::Camera;
    use nokhwa::utils::{
        ApiBackend, CameraFormat, CameraIndex, CameraInfo, FrameFormat, RequestedFormat,
        RequestedFormatType, Resolution,
    };
    use std::path::PathBuf;

    fn init() {
        #[cfg(target_os = "macos")]
        nokhwa::nokhwa_initialize(|granted| {
            if !granted {
                tracing::error!("camera access was not granted");
            }
        });
    }

    fn query() -> Result<Vec<CameraInfo>, CameraError> {
        init();
        nokhwa::query(ApiBackend::Auto).map_err(|e| CameraError::classify(&e.to_string()))
    }

    pub fn list_cameras() -> Result<Vec<String>, CameraError> {
        Ok(query()?
            .iter()
            .map(|c| {
                let idx = match c.index() {
                    CameraIndex::Index(i) => i.to_string(),
                    CameraIndex::String(s) => s.clone(),
                };
                format!("{idx}: {} ({})", c.human_name(), c.description())
            })
            .collect())
    }

    fn resolve(sel: &CameraSelector) -> Result<CameraIndex, CameraError> {
        match sel {
            CameraSelector::Index(i) => Ok(CameraIndex::Index(*i)),
            CameraSelector::Name(name) => {
                let cams = query()?;
                let want = name.to_lowercase();
                cams.iter()
                    .find(|c| c.human_name().to_lowercase().contains(&want))
                    .map(|c| c.index().clone())
                    .ok_or_else(|| {
                        CameraError::NotFound(format!(
                            "none named like \"{name}\"; --list-cameras shows them"
                        ))
                    })
            }
        }
    }

    /// Formats to try, best first: luma straight from YUYV / NV12 / GRAY, then MJPEG.
    const PREFERRED: [FrameFormat; 4] = [
        FrameFormat::YUYV,
        FrameFormat::NV12,
        FrameFormat::GRAY,
        FrameFormat::MJPEG,
    ];

    fn open(req: &CameraRequest) -> Result<Box<dyn FrameSource>, CameraError> {
        init();
        let index = resolve(&req.camera)?;
        let mut last_err = None;
        for fmt in PREFERRED {
            let wanted = CameraFormat::new(Resolution::new(req.width, req.height), fmt, req.fps);
            let formats = [fmt];
            let request =
                RequestedFormat::with_formats(RequestedFormatType::Closest(wanted), &formats);
            let mut cam = match Camera::new(index.clone(), request) {
                Ok(c) => c,
                Err(e) => {
                    let err = CameraError::classify(&e.to_string());
                    // A missing or busy device will not get better with another format.
                    if !matches!(err, CameraError::Failed(_)) {
                        return Err(err);
                    }
                    last_err = Some(err);
                    continue;
                }
            };
            if let Err(e) = cam.open_stream() {
                let err = CameraError::classify(&e.to_string());
                if !matches!(err, CameraError::Failed(_)) {
                    return Err(err);
                }
                last_err = Some(err);
                continue;
            }
            let f = cam.camera_format();
            let info = SourceInfo {
                description: format!(
                    "{} ({} {}x{} {} fps)",
                    cam.info().human_name(),
                    f.format(),
                    f.width(),
                    f.height(),
                    f.frame_rate()
                ),
                width: f.width(),
                height: f.height(),
                fps: Some(f64::from(f.frame_rate())),
                ..SourceInfo::default()
            };
            return Ok(Box::new(NokhwaSource { cam, info }));
        }
        Err(last_err.unwrap_or_else(|| CameraError::Failed("no usable format".into())))
    }

    pub fn opener(req: CameraRequest) -> Box<dyn CameraOpener> {
        Box::new(move || open(&req))
    }

    struct NokhwaSource {
        cam: Camera,
        info: SourceInfo,
    }

    fn err(message: impl Into<String>) -> SourceError {
        SourceError::Io {
            path: PathBuf::from("camera"),
            message: crate::source::one_line(&message.into()),
        }
    }

    impl FrameSource for NokhwaSource {
        fn info(&self) -> &SourceInfo {
            &self.info
        }

        fn next_frame(&mut self) -> Result<Option<Frame>, SourceError> {
            let buf = self.cam.frame().map_err(|e| err(e.to_string()))?;
            let (w, h) = (buf.resolution().width(), buf.resolution().height());
            let n = w as usize * h as usize;
            let data = buf.buffer();
            let short = || err(format!("short frame: {} bytes for {w}x{h}", data.len()));
            let luma = match buf.source_frame_format() {
                // Y0 U Y1 V: every other byte is luma.
                FrameFormat::YUYV => {
                    if data.len() < 2 * n {
                        return Err(short());
                    }
                    data.iter().step_by(2).take(n).copied().collect()
                }
                // The luma plane comes first.
                FrameFormat::NV12 | FrameFormat::GRAY => data.get(..n).ok_or_else(short)?.to_vec(),
                FrameFormat::MJPEG => {
                    use zune_core::{
                        bytestream::ZCursor, colorspace::ColorSpace, options::DecoderOptions,
                    };
                    let opts = DecoderOptions::default().jpeg_set_out_colorspace(ColorSpace::Luma);
                    let mut dec =
                        zune_jpeg::JpegDecoder::new_with_options(ZCursor::new(data), opts);
                    let luma = dec
                        .decode()
                        .map_err(|e| err(format!("bad MJPEG frame: {e:?}")))?;
                    let (dw, dh) = dec.dimensions().unwrap_or((0, 0));
                    if (dw, dh) != (w as usize, h as usize) || luma.len() != n {
                        return Err(err(format!(
                            "MJPEG frame is {dw}x{dh}, the camera said {w}x{h}"
                        )));
                    }
                    luma
                }
                fmt @ (FrameFormat::RAWRGB | FrameFormat::RAWBGR) => {
                    if data.len() < 3 * n {
                        return Err(short());
                    }
                    // BT.601 weights in 1/256ths; red and blue swap places for BGR.
                    let (wr, wb) = if fmt == FrameFormat::RAWRGB {
                        (77, 29)
                    } else {
                        (29, 77)
                    };
                    data.chunks_exact(3)
                        .take(n)
                        .map(|p| {
                            ((u32::from(p[0]) * wr + u32::from(p[1]) * 150 + u32::from(p[2]) * wb)
                                >> 8) as u8
                        })
                        .collect()
                }
            };
            Ok(Some(Frame {
                index: 0,
                // The driver's capture time when it gives one (see `Reconnecting::stamp`).
                pts_s: buf.capture_timestamp().map_or(0.0, |d| d.as_secs_f64()),
                width: w,
                height: h,
                luma,
            }))
        }
    }
}
