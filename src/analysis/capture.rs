//! Capture thread: pulls frames from a `FrameSource` and sends them over a bounded channel.
//!
//! Input: any `FrameSource` (clip decoder, camera, test double), and optionally chores
//! (`Chore`) to do while the analysis is behind. Output: `CaptureMsg`s on `rx_frames`.
//! Thread: its own, named `twitchwatch-capture`.

use crate::source::{DecodeGap, Frame, FrameSource, SourceError};
use crossbeam_channel::{Receiver, Select, Sender, TrySendError, bounded};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;

/// What to do when the analysis falls behind and the channel is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backpressure {
    /// Wait: nothing is dropped (clips).
    Block,
    /// Drop the oldest queued frame and count it: the source is never stalled (cameras).
    DropOldest,
}

/// Work handed to the capture thread, done while its channel is full (the analysis is
/// behind and the decoder would only wait): a clip's face confirmations searched ahead
/// (`face::ahead`), on machines with no core to spare for them.
pub type Chore = Box<dyn FnOnce() + Send>;

/// What the capture thread sends. `F`: how the frame is held (the capture thread's are
/// owned; `pipeline::drive` also takes frames borrowed from memory).
#[derive(Debug)]
pub enum CaptureMsg<F = Frame> {
    Frame(F),
    /// A damaged stretch of a recording, just before the next `Frame` (or the end).
    Gap(DecodeGap),
    /// The source failed; no more messages follow.
    Failed(SourceError),
}

/// A running capture thread. Dropping it without `shutdown` also stops and joins it.
pub struct Capture {
    rx_frames: Receiver<CaptureMsg>,
    stop: Arc<AtomicBool>,
    dropped: Arc<AtomicU64>,
    handle: Option<JoinHandle<()>>,
}

impl Capture {
    /// Starts the capture thread. `capacity` bounds the frames in flight (memory). With
    /// `Backpressure::Block`, the thread does the `rx_chores` that come while it waits for
    /// room in the channel, or while the channel is at least half full (never while the
    /// analysis waits for a frame).
    pub fn spawn(
        mut source: Box<dyn FrameSource>,
        capacity: usize,
        policy: Backpressure,
        rx_chores: Option<Receiver<Chore>>,
    ) -> std::io::Result<Self> {
        let (tx_frames, rx_frames) = bounded(capacity.max(1));
        let stop = Arc::new(AtomicBool::new(false));
        let dropped = Arc::new(AtomicU64::new(0));
        let handle = {
            let (stop, dropped, rx_own) = (stop.clone(), dropped.clone(), rx_frames.clone());
            std::thread::Builder::new()
                .name("twitchwatch-capture".into())
                .spawn(move || {
                    let ends = Ends {
                        tx_frames,
                        rx_own,
                        rx_chores,
                    };
                    capture_loop(source.as_mut(), ends, policy, &stop, &dropped)
                })?
        };
        Ok(Self {
            rx_frames,
            stop,
            dropped,
            handle: Some(handle),
        })
    }

    pub fn rx_frames(&self) -> &Receiver<CaptureMsg> {
        &self.rx_frames
    }

    /// Frames dropped so far under `DropOldest`.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Asks the thread to stop, drains the channel so it cannot block, and joins it.
    pub fn shutdown(mut self) {
        self.stop_and_join();
    }

    fn stop_and_join(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        while self.rx_frames.try_recv().is_ok() {}
        if let Some(h) = self.handle.take() {
            // Keep draining while the thread finishes its current send.
            while !h.is_finished() {
                while self.rx_frames.try_recv().is_ok() {}
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
            if h.join().is_err() {
                tracing::error!("capture thread panicked");
            }
        }
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        self.stop_and_join();
    }
}

/// The capture thread's channel ends.
struct Ends {
    tx_frames: Sender<CaptureMsg>,
    /// The frames channel's own receiving end, to drop the oldest frame (`DropOldest`).
    rx_own: Receiver<CaptureMsg>,
    rx_chores: Option<Receiver<Chore>>,
}

impl Ends {
    /// Does a waiting chore now if the analysis has half a channel of frames to go on: a
    /// chore done only once the channel is full would often come too late to be used.
    fn chore_if_ahead(&mut self) {
        let Some(rx) = &self.rx_chores else { return };
        let cap = self.tx_frames.capacity().unwrap_or(usize::MAX);
        if self.tx_frames.len() * 2 >= cap {
            match rx.try_recv() {
                Ok(chore) => self.run_chore(chore),
                Err(crossbeam_channel::TryRecvError::Disconnected) => self.rx_chores = None,
                Err(_) => {}
            }
        }
    }

    fn run_chore(&mut self, chore: Chore) {
        // A chore catches its own panics (`face::ahead`); this is a guard, so that a bug in
        // one can never end the capture.
        if std::panic::catch_unwind(std::panic::AssertUnwindSafe(chore)).is_err() {
            tracing::error!("a chore on the capture thread panicked; no more chores");
            self.rx_chores = None;
        }
    }

    /// Sends `msg`, waiting for room; meanwhile does the chores that come. False once the
    /// analysis has hung up.
    fn send_or_do_chores(&mut self, mut msg: CaptureMsg) -> bool {
        loop {
            msg = match self.tx_frames.try_send(msg) {
                Ok(()) => return true,
                Err(TrySendError::Disconnected(_)) => return false,
                Err(TrySendError::Full(m)) => m,
            };
            let Some(rx_chores) = &self.rx_chores else {
                return self.tx_frames.send(msg).is_ok();
            };
            // Room for the frame or a chore, whichever comes first.
            let mut sel = Select::new();
            let send = sel.send(&self.tx_frames);
            sel.recv(rx_chores);
            let op = sel.select();
            if op.index() == send {
                return op.send(&self.tx_frames, msg).is_ok();
            }
            match op.recv(rx_chores) {
                Ok(chore) => self.run_chore(chore),
                // Nobody hands out chores any more.
                Err(_) => self.rx_chores = None,
            }
        }
    }
}

fn capture_loop(
    source: &mut dyn FrameSource,
    mut ends: Ends,
    policy: Backpressure,
    stop: &AtomicBool,
    dropped: &AtomicU64,
) {
    while !stop.load(Ordering::Relaxed) {
        ends.chore_if_ahead();
        // A panic inside a decoder must not look like the end of the clip: it becomes an
        // error, so the run stops with a message, the log keeps what was found, exit non-zero.
        let next = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| source.next_frame()));
        // A gap comes before the frame it precedes (or before the end).
        if let Ok(Ok(_)) = &next
            && let Some(gap) = source.take_gap()
            && !send(&mut ends, CaptureMsg::Gap(gap), policy, dropped)
        {
            return;
        }
        let msg = match next {
            Ok(Ok(Some(f))) => CaptureMsg::Frame(f),
            Ok(Ok(None)) => return,
            Ok(Err(e)) => CaptureMsg::Failed(e),
            Err(panic) => CaptureMsg::Failed(SourceError::Panicked {
                message: panic_message(panic.as_ref()),
            }),
        };
        let last = matches!(msg, CaptureMsg::Failed(_));
        if !send(&mut ends, msg, policy, dropped) || last {
            return;
        }
    }
}

/// Sends one message by the backpressure policy; false once the analysis has hung up.
fn send(ends: &mut Ends, msg: CaptureMsg, policy: Backpressure, dropped: &AtomicU64) -> bool {
    match policy {
        Backpressure::Block => ends.send_or_do_chores(msg),
        Backpressure::DropOldest => {
            let mut msg = msg;
            loop {
                match ends.tx_frames.try_send(msg) {
                    Ok(()) => return true,
                    Err(TrySendError::Disconnected(_)) => return false,
                    Err(TrySendError::Full(m)) => {
                        if let Ok(CaptureMsg::Frame(_)) = ends.rx_own.try_recv() {
                            dropped.fetch_add(1, Ordering::Relaxed);
                        }
                        msg = m;
                    }
                }
            }
        }
    }
}

/// The text a panic was raised with, if it was a string.
pub(crate) fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(no message)".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::SourceInfo;

    /// A test double producing `n` tiny frames, then an optional error.
    struct Counting {
        info: SourceInfo,
        next: u64,
        n: u64,
        fail_at_end: bool,
    }

    impl FrameSource for Counting {
        fn info(&self) -> &SourceInfo {
            &self.info
        }
        fn next_frame(&mut self) -> Result<Option<Frame>, SourceError> {
            if self.next >= self.n {
                if self.fail_at_end {
                    self.fail_at_end = false;
                    return Err(SourceError::Corrupt {
                        path: "fake".into(),
                        message: "cut".into(),
                    });
                }
                return Ok(None);
            }
            self.next += 1;
            Ok(Some(Frame {
                index: self.next - 1,
                pts_s: 0.0,
                width: 1,
                height: 1,
                luma: vec![0],
            }))
        }
    }

    fn counting(n: u64, fail_at_end: bool) -> Box<dyn FrameSource> {
        Box::new(Counting {
            info: SourceInfo::default(),
            next: 0,
            n,
            fail_at_end,
        })
    }

    #[test]
    fn blocking_capture_delivers_every_frame_then_the_error() {
        let cap = Capture::spawn(counting(100, true), 2, Backpressure::Block, None).unwrap();
        let msgs: Vec<_> = cap.rx_frames().iter().collect();
        assert_eq!(msgs.len(), 101);
        assert!(matches!(msgs[100], CaptureMsg::Failed(_)));
        for (i, m) in msgs[..100].iter().enumerate() {
            assert!(matches!(m, CaptureMsg::Frame(f) if f.index == i as u64));
        }
    }

    #[test]
    fn drop_oldest_never_blocks_and_keeps_the_newest() {
        let cap = Capture::spawn(counting(1000, false), 4, Backpressure::DropOldest, None).unwrap();
        // Consume nothing until the source is done.
        std::thread::sleep(std::time::Duration::from_millis(200));
        let got: Vec<u64> = cap
            .rx_frames()
            .iter()
            .filter_map(|m| match m {
                CaptureMsg::Frame(f) => Some(f.index),
                _ => None,
            })
            .collect();
        assert!(got.len() <= 4);
        assert_eq!(got.last(), Some(&999));
        assert_eq!(cap.dropped() + got.len() as u64, 1000);
    }

    #[test]
    fn chores_are_done_while_the_channel_is_full_and_every_frame_still_arrives() {
        let (tx_chores, rx_chores) = bounded::<Chore>(1);
        let cap =
            Capture::spawn(counting(50, false), 2, Backpressure::Block, Some(rx_chores)).unwrap();
        // The consumer is not reading: the channel fills, and the thread takes the chores.
        let (tx_done, rx_done) = bounded(8);
        for i in 0..3 {
            let tx_done = tx_done.clone();
            tx_chores
                .send(Box::new(move || tx_done.send(i).unwrap()))
                .unwrap();
            let got = rx_done.recv_timeout(std::time::Duration::from_secs(10));
            assert_eq!(got, Ok(i), "chore {i} done with the channel full");
        }
        // A panicking chore is caught and ends the chores, not the capture.
        tx_chores.send(Box::new(|| panic!("chore bug"))).unwrap();
        drop(tx_chores);
        let frames = cap
            .rx_frames()
            .iter()
            .filter(|m| matches!(m, CaptureMsg::Frame(_)))
            .count();
        assert_eq!(frames, 50);
    }

    #[test]
    fn a_closed_chores_queue_loses_no_frame() {
        let (tx_chores, rx_chores) = bounded::<Chore>(1);
        drop(tx_chores);
        let cap =
            Capture::spawn(counting(30, true), 1, Backpressure::Block, Some(rx_chores)).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(50));
        let msgs: Vec<_> = cap.rx_frames().iter().collect();
        assert_eq!(msgs.len(), 31);
        assert!(matches!(msgs[30], CaptureMsg::Failed(_)));
    }

    /// A decoder that panics after two frames.
    struct Panicking(SourceInfo, u64);

    impl FrameSource for Panicking {
        fn info(&self) -> &SourceInfo {
            &self.0
        }
        fn next_frame(&mut self) -> Result<Option<Frame>, SourceError> {
            self.1 += 1;
            if self.1 > 2 {
                panic!("decoder bug at frame {}", self.1);
            }
            Ok(Some(Frame {
                index: self.1 - 1,
                pts_s: 0.0,
                width: 1,
                height: 1,
                luma: vec![0],
            }))
        }
    }

    #[test]
    fn a_panicking_decoder_is_an_error_not_the_end_of_the_clip() {
        let src = Box::new(Panicking(SourceInfo::default(), 0));
        let cap = Capture::spawn(src, 2, Backpressure::Block, None).unwrap();
        let msgs: Vec<_> = cap.rx_frames().iter().collect();
        assert_eq!(msgs.len(), 3);
        match &msgs[2] {
            CaptureMsg::Failed(SourceError::Panicked { message }) => {
                assert!(message.contains("decoder bug at frame 3"), "{message}")
            }
            other => panic!("expected a panic error, got {other:?}"),
        }
    }

    #[test]
    fn shutdown_joins_a_blocked_thread() {
        let cap = Capture::spawn(counting(u64::MAX, false), 1, Backpressure::Block, None).unwrap();
        cap.shutdown();
    }
}
