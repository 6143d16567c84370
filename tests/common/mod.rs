//! Helpers shared by the integration tests (each test file is its own crate; a file may use
//! only some of these).
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Command;

/// The `twitchwatch` binary built for this test run.
pub fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_twitchwatch"))
}

/// A clip (or its labels) in the bundled `sample_videos/`.
pub fn sample(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("sample_videos")
        .join(name)
}
