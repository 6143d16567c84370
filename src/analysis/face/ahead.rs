//! Face confirmations searched ahead: the analysis reads a few frames ahead of the one it
//! measures, and when a frame due for a confirmation comes in, its search square around the
//! face as tracked now is handed out as a job. When the analysis reaches that frame and its
//! square (snapped to a coarse grid) is still the same, it takes the answer instead of
//! searching itself: the same faces, found while it was measuring the frames in between.
//! Otherwise, or if nobody has started the job by then, it searches as it always would, so
//! the results never depend on who searched or when.
//!
//! Input: a frame index, a `NearSquare` and its pixels. Output: the faces in it. Thread:
//! either `twitchwatch-confirm`, owned by this (with three cores or more per clip), or the
//! capture thread, as a `Chore` it does while the analysis has frames enough to go on
//! (`batch::search_on_capture`).

use crate::analysis::capture::Chore;
use crate::analysis::face::detector::{DetectorParams, FaceBox, FaceDetector, NearSquare};
use crossbeam_channel::{Receiver, Sender, TryRecvError, bounded};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

/// How often the answers searched ahead were used.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct AheadCounts {
    /// Confirmations answered from a search ahead.
    pub used: u64,
    /// Searches ahead whose frame's square had moved (or whose frame was not confirmed).
    pub wasted: u64,
    /// Searches nobody had started when their frame came up (the capture thread had no
    /// time to spare): searched in line then.
    pub not_started: u64,
}

/// A search's answer: `None` if the detector panicked (a bug; no more searches ahead).
type Answer = Option<Vec<FaceBox>>;

pub struct ConfirmAhead {
    tx_job: Option<Sender<Chore>>,
    /// The job queue's other end, to take back a job nobody has started.
    rx_job: Receiver<Chore>,
    tx_done: Sender<Answer>,
    rx_done: Receiver<Answer>,
    /// The detector the jobs search with; one job at a time, so never contended.
    detector: Arc<Mutex<FaceDetector>>,
    thread: Option<JoinHandle<()>>,
    /// The frame and square of the search handed out (answered or not).
    pending: Option<(u64, NearSquare)>,
    counts: AheadCounts,
}

impl ConfirmAhead {
    fn new(params: DetectorParams) -> Self {
        // One search is ever out: capacity 1 each way.
        let (tx_job, rx_job) = bounded::<Chore>(1);
        let (tx_done, rx_done) = bounded::<Answer>(1);
        Self {
            tx_job: Some(tx_job),
            rx_job,
            tx_done,
            rx_done,
            detector: Arc::new(Mutex::new(FaceDetector::new(params))),
            thread: None,
            pending: None,
            counts: AheadCounts::default(),
        }
    }

    /// Searches on a thread of its own, with a detector of its own.
    pub fn spawn(params: DetectorParams) -> std::io::Result<Self> {
        let mut me = Self::new(params);
        let rx_job = me.rx_job.clone();
        me.thread = Some(
            std::thread::Builder::new()
                .name("twitchwatch-confirm".into())
                .spawn(move || {
                    for job in rx_job {
                        job();
                    }
                })?,
        );
        Ok(me)
    }

    /// Searches by handing the jobs out on the returned queue (to the capture thread:
    /// `Capture::spawn`), with a detector of its own.
    pub fn with_chores(params: DetectorParams) -> (Self, Receiver<Chore>) {
        let me = Self::new(params);
        let rx = me.rx_job.clone();
        (me, rx)
    }

    /// Hands out the search of `square` (pixels `roi`) in frame `index`, unless the
    /// previous search is still running (then this frame is confirmed the usual way).
    pub fn start(&mut self, index: u64, square: NearSquare, roi: Vec<u8>) {
        if self.pending.is_some() {
            // A search nobody took (its frame's square had moved): drop it if it is done
            // or was never started.
            if self.rx_job.try_recv().is_err() {
                match self.rx_done.try_recv() {
                    Ok(_) => {}
                    Err(TryRecvError::Empty) => return,
                    Err(TryRecvError::Disconnected) => return self.stop(),
                }
            }
            self.pending = None;
            self.counts.wasted += 1;
        }
        let Some(tx) = &self.tx_job else {
            return;
        };
        let (detector, tx_done) = (self.detector.clone(), self.tx_done.clone());
        let job: Chore = Box::new(move || {
            let found = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                // A poisoned lock means an earlier search panicked: no answer.
                detector.lock().ok().map(|mut d| d.detect_in(&square, &roi))
            }));
            let _ = tx_done.send(found.ok().flatten());
        });
        // Never blocks: the queue is empty and every job handed out has been answered.
        if tx.try_send(job).is_ok() {
            self.pending = Some((index, square));
        } else {
            self.stop();
        }
    }

    /// The faces in `square` of frame `index` if they were searched ahead (waiting for the
    /// answer if the search is running); `None` if not, and then the caller searches.
    pub fn take(&mut self, index: u64, square: &NearSquare) -> Option<Vec<FaceBox>> {
        if self.pending != Some((index, *square)) {
            return None;
        }
        self.pending = None;
        if self.rx_job.try_recv().is_ok() {
            // Nobody started it: searching here costs the same as it always did.
            self.counts.not_started += 1;
            return None;
        }
        match self.rx_done.recv() {
            Ok(Some(faces)) => {
                self.counts.used += 1;
                Some(faces)
            }
            _ => {
                // The detector panicked (a bug): from now on, no searches ahead.
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
    /// Shutdown: closing the job queue ends the thread's loop (after the search it is on,
    /// if any); then it is joined. A capture thread sees the queue closed and stops
    /// looking at it.
    fn drop(&mut self) {
        self.tx_job = None;
        // Jobs still queued hold answer senders, not the queue: dropping them is enough.
        while self.rx_job.try_recv().is_ok() {}
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
