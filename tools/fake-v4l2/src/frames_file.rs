//! The frames file the emulated camera streams: a clip converted beforehand to one pixel
//! format, so that streaming costs a copy per frame, like a driver.
//!
//! Layout (little-endian): 40-byte header `FAKEV4L2`, fourcc, width, height, rate numerator,
//! rate denominator (frames per second = num/den), record payload size, frame count; then
//! one fixed-size record per frame: media time in microseconds (u64), bytes used (u32),
//! payload (padded to the payload size; MJPEG frames vary in size).

pub const MAGIC: &[u8; 8] = b"FAKEV4L2";
pub const HEADER: usize = 40;
pub const RECORD_HEAD: usize = 12;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub fourcc: u32,
    pub width: u32,
    pub height: u32,
    pub fps_num: u32,
    pub fps_den: u32,
    pub payload: u32,
    pub count: u32,
}

pub fn fourcc(code: &[u8; 4]) -> u32 {
    u32::from_le_bytes(*code)
}

impl Header {
    pub fn to_bytes(self) -> [u8; HEADER] {
        let mut b = [0u8; HEADER];
        b[..8].copy_from_slice(MAGIC);
        let fields = [
            self.fourcc,
            self.width,
            self.height,
            self.fps_num,
            self.fps_den,
            self.payload,
            self.count,
        ];
        for (i, v) in fields.iter().enumerate() {
            b[8 + 4 * i..12 + 4 * i].copy_from_slice(&v.to_le_bytes());
        }
        b
    }

    pub fn parse(b: &[u8]) -> Option<Self> {
        if b.len() < HEADER || &b[..8] != MAGIC {
            return None;
        }
        let f = |i: usize| {
            u32::from_le_bytes([b[8 + 4 * i], b[9 + 4 * i], b[10 + 4 * i], b[11 + 4 * i]])
        };
        Some(Self {
            fourcc: f(0),
            width: f(1),
            height: f(2),
            fps_num: f(3),
            fps_den: f(4),
            payload: f(5),
            count: f(6),
        })
    }

    pub fn record(&self) -> usize {
        RECORD_HEAD + self.payload as usize
    }

    /// Bytes per line for the format (0 for compressed formats).
    pub fn bytesperline(&self) -> u32 {
        match &self.fourcc.to_le_bytes() {
            b"YUYV" => self.width * 2,
            b"NV12" | b"GREY" => self.width,
            _ => 0,
        }
    }
}
