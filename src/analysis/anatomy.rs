//! Sides and regions of the face, always from the person's point of view.
//!
//! Input: none (vocabulary shared by every stage). Output: `Side`, `RegionKind`.

use serde::{Deserialize, Serialize};
use std::fmt;

/// The person's side: their left eye is on the image's right in an unmirrored view.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    Left,
    Right,
}

impl Side {
    pub const BOTH: [Side; 2] = [Side::Left, Side::Right];

    pub fn other(self) -> Side {
        match self {
            Side::Left => Side::Right,
            Side::Right => Side::Left,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Side::Left => "left",
            Side::Right => "right",
        }
    }

    /// Index for per-side arrays: left = 0, right = 1.
    pub fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for Side {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A facial region watched on each side. HFS usually starts at the eye and spreads downwards.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum RegionKind {
    /// Periocular: upper and lower lid (orbicularis oculi).
    Eye,
    /// Cheek below the eye (zygomaticus).
    Cheek,
    /// Mouth corner (orbicularis oris, risorius).
    Mouth,
}

impl RegionKind {
    pub const ALL: [RegionKind; 3] = [RegionKind::Eye, RegionKind::Cheek, RegionKind::Mouth];

    pub fn as_str(self) -> &'static str {
        match self {
            RegionKind::Eye => "eye",
            RegionKind::Cheek => "cheek",
            RegionKind::Mouth => "mouth",
        }
    }

    pub fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for RegionKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
