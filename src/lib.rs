//! twitchwatch: logs one-sided facial twitches (hemifacial spasm) from a clip or a webcam.
//!
//! The tree follows the frames. `source` decodes clips and `live` opens webcams (frames come
//! in); `analysis` measures them (`capture` thread → `pipeline`, the one per-frame loop →
//! `face` and `flow` → `measure` → `bursts`, where one-sided bursts are decided) and sums
//! `severity`; `outputs` writes what comes out (`events` logs, saved twitch clips, reports
//! and the statistics they draw); `commands` are the command line's verbs; `devtools` holds
//! what tests and accuracy work use (synthetic clips, labels, eval).

pub mod analysis;
pub mod commands;
pub mod devtools;
pub mod live;
pub mod outputs;
pub mod source;

#[doc(hidden)]
pub mod test_support;
