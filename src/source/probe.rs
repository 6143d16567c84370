//! Recognises a file's format from its first bytes (magic numbers), never from its name.

use std::fs::File;
use std::io::Read;
use std::path::Path;

use super::SourceError;

/// How many leading bytes `sniff` looks at.
pub(crate) const HEAD_LEN: usize = 4096;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// Zero bytes.
    Empty,
    /// ISO base media file: MP4, MOV, M4V, 3GP (codec decided later from the moov box).
    IsoBmff,
    /// YUV4MPEG2.
    Y4m,
    /// Printable text (a log, JSON, an HTML error page saved as .mp4, ...).
    Text,
    /// A recognised container we only read through ffmpeg; the string says what it is.
    Other(&'static str),
    /// Binary data with no magic we know.
    Unknown,
}

/// Reads up to [`HEAD_LEN`] bytes from the start of the file.
pub(crate) fn read_head(path: &Path) -> Result<Vec<u8>, SourceError> {
    let meta = std::fs::metadata(path).map_err(|e| SourceError::io(path, &e))?;
    if meta.is_dir() {
        return Err(SourceError::unsupported(
            path,
            "is a directory, not a video file",
        ));
    }
    let file = File::open(path).map_err(|e| SourceError::io(path, &e))?;
    let mut head = Vec::with_capacity(HEAD_LEN);
    file.take(HEAD_LEN as u64)
        .read_to_end(&mut head)
        .map_err(|e| SourceError::io(path, &e))?;
    Ok(head)
}

/// ISO BMFF top-level box types that may open a file (QuickTime files need not start with `ftyp`).
const BMFF_FIRST_BOXES: [&[u8; 4]; 8] = [
    b"ftyp", b"moov", b"mdat", b"free", b"skip", b"wide", b"pnot", b"styp",
];

pub(crate) fn sniff(head: &[u8]) -> Kind {
    if head.is_empty() {
        return Kind::Empty;
    }
    if head.starts_with(b"YUV4MPEG2") {
        return Kind::Y4m;
    }
    if let Some(t) = head.get(4..8) {
        let size = head
            .get(0..4)
            .map_or(0, |b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]));
        // size 0 = "to end of file", 1 = 64-bit size follows; otherwise at least a header.
        if BMFF_FIRST_BOXES.iter().any(|b| &b[..] == t) && (size <= 1 || size >= 8) {
            return Kind::IsoBmff;
        }
    }
    if head.starts_with(&[0x1A, 0x45, 0xDF, 0xA3]) {
        let is_webm = head.windows(4).any(|w| w == b"webm");
        return Kind::Other(if is_webm {
            "WebM (Matroska) video"
        } else {
            "Matroska (MKV) video"
        });
    }
    if head.starts_with(b"RIFF") && head.get(8..12) == Some(b"AVI ") {
        return Kind::Other("AVI video");
    }
    if head.starts_with(b"FLV\x01") {
        return Kind::Other("FLV video");
    }
    if head.starts_with(b"OggS") {
        return Kind::Other("Ogg media");
    }
    if head.starts_with(&[0x00, 0x00, 0x01, 0xBA]) {
        return Kind::Other("MPEG program stream video");
    }
    if head.starts_with(&[0x00, 0x00, 0x00, 0x01]) || head.starts_with(&[0x00, 0x00, 0x01]) {
        return Kind::Other("raw H.264/H.265 elementary stream");
    }
    if head.first() == Some(&0x47) && head.get(188) == Some(&0x47) {
        return Kind::Other("MPEG transport stream video");
    }
    if head.starts_with(b"GIF87a") || head.starts_with(b"GIF89a") {
        return Kind::Other("GIF animation");
    }
    if looks_like_text(head) {
        return Kind::Text;
    }
    Kind::Unknown
}

fn looks_like_text(head: &[u8]) -> bool {
    // Valid UTF-8 (allowing a cut multi-byte character at the end) without control bytes
    // other than whitespace.
    let valid = match std::str::from_utf8(head) {
        Ok(s) => s,
        Err(e) if e.error_len().is_none() => {
            // Incomplete trailing character: fine, judge the valid prefix.
            match head.get(..e.valid_up_to()).map(std::str::from_utf8) {
                Some(Ok(s)) => s,
                _ => return false,
            }
        }
        Err(_) => return false,
    };
    !valid.is_empty()
        && valid
            .chars()
            .all(|c| !c.is_control() || matches!(c, '\n' | '\r' | '\t' | '\x0c'))
}

/// First bytes as hex, for "unknown format" messages.
pub(crate) fn hex_prefix(head: &[u8]) -> String {
    head.iter()
        .take(8)
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_magic() {
        assert_eq!(sniff(b""), Kind::Empty);
        assert_eq!(sniff(b"YUV4MPEG2 W2 H2 F1:1\n"), Kind::Y4m);
        assert_eq!(sniff(b"\0\0\0\x20ftypisom\0\0\x02\0"), Kind::IsoBmff);
        assert_eq!(sniff(b"hello, this is not a video\n"), Kind::Text);
        assert_eq!(sniff(&[0xff, 0xfe, 0x00, 0x80, 0x13]), Kind::Unknown);
        assert!(matches!(
            sniff(&[0x1A, 0x45, 0xDF, 0xA3, 0x42, 0x82, 0x84, b'w', b'e', b'b', b'm']),
            Kind::Other(s) if s.contains("WebM")
        ));
        assert!(matches!(sniff(b"RIFF\0\0\0\0AVI LIST"), Kind::Other(s) if s.contains("AVI")));
    }
}
