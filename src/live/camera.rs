//! Real webcams through nokhwa (V4L2 on Linux, AVFoundation on macOS, Media Foundation on
//! Windows; always built in): lists cameras, opens one at the
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

pub use imp::{list_cameras, opener};

mod imp {
    use super::{CameraError, CameraOpener, CameraRequest, CameraSelector};
    use crate::source::{Frame, FrameSource, SourceError, SourceInfo};
    use nokhwa::Camera;
    use nokhwa::utils::{
        ApiBackend, CameraFormat, CameraIndex, CameraInfo, FrameFormat, RequestedFormat,
        RequestedFormatType,
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

    /// Formats read, best first: luma straight from YUYV / NV12 / GRAY, then MJPEG.
    const PREFERRED: [FrameFormat; 4] = [
        FrameFormat::YUYV,
        FrameFormat::NV12,
        FrameFormat::GRAY,
        FrameFormat::MJPEG,
    ];

    /// The offered format closest to the request: nearest resolution, then nearest rate,
    /// then the format that needs the least work (`PREFERRED` order). nokhwa's own
    /// "closest" request finds no rate unless the exact resolution is offered, so the
    /// choice is made here.
    pub(super) fn choose(offered: &[CameraFormat], want: (u32, u32, u32)) -> Option<CameraFormat> {
        let (w, h, fps) = want;
        offered
            .iter()
            .filter_map(|f| {
                let rank = PREFERRED.iter().position(|p| *p == f.format())?;
                let dx = i64::from(f.width()) - i64::from(w);
                let dy = i64::from(f.height()) - i64::from(h);
                let dr = (i64::from(f.frame_rate()) - i64::from(fps)).abs();
                Some(((dx * dx + dy * dy, dr, rank), *f))
            })
            .min_by_key(|(key, _)| *key)
            .map(|(_, f)| f)
    }

    fn open(req: &CameraRequest) -> Result<Box<dyn FrameSource>, CameraError> {
        init();
        let index = resolve(&req.camera)?;
        let classify = |e: nokhwa::NokhwaError| CameraError::classify(&e.to_string());
        let request = RequestedFormat::with_formats(RequestedFormatType::None, &PREFERRED);
        let mut cam = Camera::new(index, request).map_err(classify)?;
        let offered = cam.compatible_camera_formats().map_err(classify)?;
        let chosen = choose(&offered, (req.width, req.height, req.fps)).ok_or_else(|| {
            let list: Vec<String> = offered.iter().map(ToString::to_string).collect();
            CameraError::Failed(format!(
                "the camera offers none of YUYV, NV12, GRAY or MJPEG (it offers: {})",
                list.join(", ")
            ))
        })?;
        if cam.camera_format() != chosen {
            let exact = [chosen.format()];
            cam.set_camera_requset(RequestedFormat::with_formats(
                RequestedFormatType::Exact(chosen),
                &exact,
            ))
            .map_err(classify)?;
        }
        cam.open_stream().map_err(classify)?;
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
        Ok(Box::new(NokhwaSource {
            cam,
            info,
            format: f,
            first_timestamp: None,
        }))
    }

    pub fn opener(req: CameraRequest) -> Box<dyn CameraOpener> {
        Box::new(move || open(&req))
    }

    struct NokhwaSource {
        cam: Camera,
        info: SourceInfo,
        /// The format the stream was opened with.
        format: CameraFormat,
        /// The driver's timestamp of the first frame: times are counted from it, in whole
        /// nanoseconds, so that they are exact (the driver's clock is hours since boot, whose
        /// differences in `f64` seconds are not).
        first_timestamp: Option<std::time::Duration>,
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
            let (w, h) = (self.format.width(), self.format.height());
            // Linux: straight from the driver's mapped buffer (no copy before the luma is
            // taken), its timestamp kept beside it by the vendored backend.
            #[cfg(target_os = "linux")]
            let (luma, stamp) = {
                let data = self.cam.frame_raw().map_err(|e| err(e.to_string()))?;
                (
                    luma_of(&data, self.format.format(), w, h)?,
                    nokhwa_bindings_linux::last_raw_frame_timestamp(),
                )
            };
            #[cfg(not(target_os = "linux"))]
            let (luma, stamp) = {
                let buf = self.cam.frame().map_err(|e| err(e.to_string()))?;
                (
                    luma_of(buf.buffer(), buf.source_frame_format(), w, h)?,
                    buf.capture_timestamp(),
                )
            };
            // The driver's capture time since this stream's first frame, when it gives one
            // (see `Reconnecting::stamp`).
            let pts_s = stamp.map_or(0.0, |d| {
                let first = *self.first_timestamp.get_or_insert(d);
                d.saturating_sub(first).as_secs_f64()
            });
            Ok(Some(Frame {
                index: 0,
                pts_s,
                width: w,
                height: h,
                luma,
            }))
        }
    }

    /// The luma of one `w` x `h` frame in `format`.
    fn luma_of(data: &[u8], format: FrameFormat, w: u32, h: u32) -> Result<Vec<u8>, SourceError> {
        let n = w as usize * h as usize;
        let short = || err(format!("short frame: {} bytes for {w}x{h}", data.len()));
        Ok(match format {
            // Y0 U Y1 V: every other byte is luma. Pairs, not `step_by(2)`: this form is
            // vectorised (0.06 against 0.5 ms a frame at 640x480).
            FrameFormat::YUYV => data
                .get(..2 * n)
                .ok_or_else(short)?
                .chunks_exact(2)
                .map(|p| p[0])
                .collect(),
            // The luma plane comes first.
            FrameFormat::NV12 | FrameFormat::GRAY => data.get(..n).ok_or_else(short)?.to_vec(),
            FrameFormat::MJPEG => {
                use zune_core::{
                    bytestream::ZCursor, colorspace::ColorSpace, options::DecoderOptions,
                };
                let opts = DecoderOptions::default().jpeg_set_out_colorspace(ColorSpace::Luma);
                let mut dec = zune_jpeg::JpegDecoder::new_with_options(ZCursor::new(data), opts);
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
                        ((u32::from(p[0]) * wr + u32::from(p[1]) * 150 + u32::from(p[2]) * wb) >> 8)
                            as u8
                    })
                    .collect()
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::imp::choose;
    use nokhwa::utils::{CameraFormat, FrameFormat, Resolution};

    fn f(w: u32, h: u32, fmt: FrameFormat, fps: u32) -> CameraFormat {
        CameraFormat::new(Resolution::new(w, h), fmt, fps)
    }

    #[test]
    fn the_closest_format_wins_and_yuyv_before_mjpeg() {
        let offered = [
            f(1280, 720, FrameFormat::MJPEG, 30),
            f(640, 480, FrameFormat::MJPEG, 30),
            f(640, 480, FrameFormat::YUYV, 30),
            f(640, 480, FrameFormat::YUYV, 15),
            f(1280, 720, FrameFormat::YUYV, 10),
        ];
        assert_eq!(choose(&offered, (640, 480, 30)), Some(offered[2]));
        // A resolution the camera lacks: the nearest it has.
        assert_eq!(choose(&offered, (1920, 1080, 30)), Some(offered[0]));
        // Formats that cannot be read are never chosen.
        assert_eq!(
            choose(&[f(640, 480, FrameFormat::RAWRGB, 30)], (640, 480, 30)),
            None
        );
    }
}
