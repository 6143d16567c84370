//! Face confirmations searched ahead, on a thread of their own: the analysis reads a few
//! frames ahead of the one it measures, and when a frame due for a confirmation comes in,
//! its search square around the face as tracked now is handed to this thread. When the
//! analysis reaches that frame and its square (snapped to a coarse grid) is still the same,
//! it takes the answer instead of searching itself: the same faces, found while it was
//! measuring the frames in between. Otherwise it searches as it always would, so the
//! results never depend on this thread.
//!
//! Input: a frame index, a `NearSquare` and its pixels. Output: the faces in it. Thread:
//! `twitchwatch-confirm`, owned by `MotionAnalyzer` (for clips, with three cores or more per
//! clip: `batch::look_ahead_for`).

use crate::face::detector::{DetectorParams, FaceBox, FaceDetector, NearSquare};
use crossbeam_channel::{Receiver, Sender, TryRecvError, bounded};
use std::thread::JoinHandle;

struct Job {
    square: NearSquare,
    roi: Vec<u8>,
}

/// How often the answers searched ahead were used.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct AheadCounts {
    /// Confirmations answered from a search ahead.
    pub used: u64,
    /// Searches ahead whose frame's square had moved (or whose frame was not confirmed).
    pub wasted: u64,
}

pub struct ConfirmAhead {
    tx_job: Option<Sender<Job>>,
    rx_done: Receiver<Vec<FaceBox>>,
    thread: Option<JoinHandle<()>>,
    /// The frame and square of the search out on the thread (answered or not).
    pending: Option<(u64, NearSquare)>,
    counts: AheadCounts,
}

impl ConfirmAhead {
    /// Starts the thread with a detector of its own.
    pub fn spawn(params: DetectorParams) -> std::io::Result<Self> {
        // One search is ever out: capacity 1 each way.
        let (tx_job, rx_job) = bounded::<Job>(1);
        let (tx_done, rx_done) = bounded::<Vec<FaceBox>>(1);
        let thread = std::thread::Builder::new()
            .name("twitchwatch-confirm".into())
            .spawn(move || {
                let mut detector = FaceDetector::new(params);
                for job in rx_job {
                    let faces = detector.detect_in(&job.square, &job.roi);
                    if tx_done.send(faces).is_err() {
                        break;
                    }
                }
            })?;
        Ok(Self {
            tx_job: Some(tx_job),
            rx_done,
            thread: Some(thread),
            pending: None,
            counts: AheadCounts::default(),
        })
    }

    /// Searches `square` (pixels `roi`) of frame `index` ahead, unless the previous search
    /// is still running (then this frame is confirmed the usual way).
    pub fn start(&mut self, index: u64, square: NearSquare, roi: Vec<u8>) {
        if self.pending.is_some() {
            // An answer nobody took (its frame's square had moved): drop it if it is in.
            match self.rx_done.try_recv() {
                Ok(_) => {
                    self.pending = None;
                    self.counts.wasted += 1;
                }
                Err(TryRecvError::Empty) => return,
                Err(TryRecvError::Disconnected) => return self.stop(),
            }
        }
        let Some(tx) = &self.tx_job else {
            return;
        };
        // Never blocks: the thread has answered everything it was given.
        if tx.send(Job { square, roi }).is_ok() {
            self.pending = Some((index, square));
        } else {
            self.stop();
        }
    }

    /// The faces in `square` of frame `index` if they were searched ahead (waiting for the
    /// answer if need be); `None` if not, and then the caller searches.
    pub fn take(&mut self, index: u64, square: &NearSquare) -> Option<Vec<FaceBox>> {
        if self.pending != Some((index, *square)) {
            return None;
        }
        self.pending = None;
        match self.rx_done.recv() {
            Ok(faces) => {
                self.counts.used += 1;
                Some(faces)
            }
            Err(_) => {
                // The thread died (a bug in the detector): from now on, no searches ahead.
                self.stop();
                None
            }
        }
    }

    pub fn counts(&self) -> AheadCounts {
        self.counts
    }

    fn stop(&mut self) {
        self.tx_job = None;
        self.pending = None;
    }
}

impl Drop for ConfirmAhead {
    /// Shutdown: closing the job channel ends the thread's loop (after the search it is
    /// on, if any); then it is joined.
    fn drop(&mut self) {
        self.tx_job = None;
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
