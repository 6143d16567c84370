//! The command line's verbs: `cli` (arguments, one config per command), `batch` (analyze of
//! several clips), `live` (the live command), `bench` (speed and memory). Thread: main.

pub(crate) mod batch;
pub(crate) mod bench;
pub mod cli;
pub(crate) mod live;
