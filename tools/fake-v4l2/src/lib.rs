//! An emulated webcam that speaks the kernel's V4L2 interface, loaded with LD_PRELOAD: the
//! process sees `/dev/videoN` (and its `/sys/class/video4linux/videoN/name`), and the real
//! nokhwa and v4l code drive it as they drive a driver: capabilities, format, frame size and
//! interval enumeration, get/set format and rate, mmap buffers (request, query, map, queue,
//! dequeue), stream on/off, and poll (the device's descriptor is an eventfd that is readable
//! while a filled buffer waits, so poll and select need no interception).
//!
//! Input (environment): `FAKE_V4L2_FRAMES` one or more frames files (made beforehand by
//! `fake-v4l2-frames`, one pixel format each, offered in that order, ':'-separated);
//! `FAKE_V4L2_INDEX` (N of /dev/videoN, default 0); `FAKE_V4L2_NAME` (the card name);
//! `FAKE_V4L2_FAULTS`, comma-separated: `busy` (another application streams: S_FMT, REQBUFS
//! and STREAMON fail with EBUSY), `unplug@F` or `unplug@F+MS` (unplugged when frame F is due,
//! plugged back in MS ms later, or never), `stall@F+MS` (no frames for MS ms from frame F),
//! `end=loop|stall|unplug` (what happens after the last frame; loop by default).
//! Output: frames in mmap buffers, paced at the clip's rate, each stamped (CLOCK_MONOTONIC,
//! like a driver) with the time of the first stream-on plus the frame's media time.
//! Thread: the application's threads call in; one named thread ("fake-v4l2") per stream
//! fills queued buffers (a copy per frame) at the clip's pace.
//!
//! Without `FAKE_V4L2_FRAMES` every call goes straight to the C library.

#![allow(clippy::missing_safety_doc)]

#[allow(dead_code)]
mod frames_file;

use frames_file::{HEADER, Header, RECORD_HEAD};
use libc::{c_char, c_int, c_long, c_ulong, c_void, off_t, size_t};
use std::collections::VecDeque;
use std::ffi::{CStr, CString};
use std::path::PathBuf;
use std::sync::atomic::{AtomicI32, AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::Duration;
use v4l2_sys_mit as v;

// ---- the C library's own functions -------------------------------------------------------

macro_rules! real {
    ($name:ident, $sym:literal, $ty:ty) => {
        fn $name() -> $ty {
            static CACHE: AtomicUsize = AtomicUsize::new(0);
            let mut p = CACHE.load(Ordering::Relaxed);
            if p == 0 {
                // SAFETY: dlsym with a NUL-terminated name; RTLD_NEXT finds the C library's.
                p = unsafe { libc::dlsym(libc::RTLD_NEXT, concat!($sym, "\0").as_ptr().cast()) }
                    as usize;
                assert!(p != 0, concat!("fake-v4l2: no ", $sym, " in the C library"));
                CACHE.store(p, Ordering::Relaxed);
            }
            // SAFETY: the symbol has this C signature.
            unsafe { std::mem::transmute::<usize, $ty>(p) }
        }
    };
}

type OpenFn = unsafe extern "C" fn(*const c_char, c_int, libc::mode_t) -> c_int;
type OpenatFn = unsafe extern "C" fn(c_int, *const c_char, c_int, libc::mode_t) -> c_int;
type CloseFn = unsafe extern "C" fn(c_int) -> c_int;
type IoctlFn = unsafe extern "C" fn(c_int, c_ulong, *mut c_void) -> c_int;
type SyscallFn =
    unsafe extern "C" fn(c_long, c_long, c_long, c_long, c_long, c_long, c_long) -> c_long;
type MmapFn = unsafe extern "C" fn(*mut c_void, size_t, c_int, c_int, c_int, off_t) -> *mut c_void;
type MunmapFn = unsafe extern "C" fn(*mut c_void, size_t) -> c_int;
type OpendirFn = unsafe extern "C" fn(*const c_char) -> *mut libc::DIR;

real!(real_open, "open", OpenFn);
real!(real_open64, "open64", OpenFn);
real!(real_openat, "openat", OpenatFn);
real!(real_openat64, "openat64", OpenatFn);
real!(real_close, "close", CloseFn);
real!(real_ioctl, "ioctl", IoctlFn);
real!(real_syscall, "syscall", SyscallFn);
real!(real_mmap, "mmap", MmapFn);
real!(real_mmap64, "mmap64", MmapFn);
real!(real_munmap, "munmap", MunmapFn);
real!(real_opendir, "opendir", OpendirFn);

fn set_errno(e: c_int) {
    // SAFETY: the calling thread's errno.
    unsafe { *libc::__errno_location() = e };
}

// ---- which descriptors and mappings are ours (lock-free: checked on every call) -----------

const MAX_FDS: usize = 16;
static FAKE_FDS: [AtomicI32; MAX_FDS] = [const { AtomicI32::new(-1) }; MAX_FDS];
const MAX_MAPS: usize = 64;
static FAKE_MAPS: [AtomicUsize; MAX_MAPS] = [const { AtomicUsize::new(0) }; MAX_MAPS];

fn is_fake_fd(fd: c_int) -> bool {
    fd >= 0 && FAKE_FDS.iter().any(|f| f.load(Ordering::Relaxed) == fd)
}

// ---- configuration ------------------------------------------------------------------------

struct Frames {
    header: Header,
    data: &'static [u8],
}

impl Frames {
    fn load(path: &str) -> Result<Self, String> {
        let bytes = std::fs::read(path).map_err(|e| format!("{path}: {e}"))?;
        let header = Header::parse(&bytes).ok_or_else(|| format!("{path}: not a frames file"))?;
        if header.count == 0 || bytes.len() < HEADER + header.count as usize * header.record() {
            return Err(format!("{path}: truncated"));
        }
        Ok(Self {
            header,
            data: Box::leak(bytes.into_boxed_slice()),
        })
    }

    /// Media time (µs) and payload of frame `k` of the clip.
    fn frame(&self, k: usize) -> (u64, &[u8]) {
        let r = HEADER + k * self.header.record();
        let rec = &self.data[r..r + self.header.record()];
        let us = u64::from_le_bytes(rec[..8].try_into().unwrap_or_default());
        let used = u32::from_le_bytes(rec[8..12].try_into().unwrap_or_default()) as usize;
        (
            us,
            &rec[RECORD_HEAD..RECORD_HEAD + used.min(self.header.payload as usize)],
        )
    }

    fn interval_us(&self) -> u64 {
        (1e6 * f64::from(self.header.fps_den) / f64::from(self.header.fps_num.max(1))) as u64
    }

    /// The clip's length: a loop starts again this long after the previous one.
    fn period_us(&self) -> u64 {
        self.frame(self.header.count as usize - 1).0 + self.interval_us()
    }

    /// Whole frames per second as V4L2 intervals give them (1/N).
    fn fps(&self) -> u32 {
        (f64::from(self.header.fps_num) / f64::from(self.header.fps_den.max(1))).round() as u32
    }

    fn sizeimage(&self) -> u32 {
        self.header.payload
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum AtEnd {
    Loop,
    Stall,
    Unplug,
}

struct Config {
    index: u32,
    name: String,
    formats: Vec<Frames>,
    busy: bool,
    /// Frame (absolute, counting loops) at which the camera is unplugged, and for how long.
    unplug: Option<(u64, Option<u64>)>,
    stall: Option<(u64, u64)>,
    at_end: AtEnd,
    /// `FAKE_V4L2_VERBOSE`: say on stderr when a frame is lost for want of a buffer.
    verbose: bool,
    /// Where the emulated /dev and /sys entries live.
    dir: PathBuf,
}

fn config() -> Option<&'static Config> {
    static CONFIG: OnceLock<Option<Config>> = OnceLock::new();
    CONFIG
        .get_or_init(|| {
            let files = std::env::var("FAKE_V4L2_FRAMES").ok()?;
            match load_config(&files) {
                Ok(c) => Some(c),
                Err(e) => {
                    eprintln!("fake-v4l2: {e}; no emulated camera");
                    None
                }
            }
        })
        .as_ref()
}

fn load_config(files: &str) -> Result<Config, String> {
    let formats = files
        .split(':')
        .filter(|s| !s.is_empty())
        .map(Frames::load)
        .collect::<Result<Vec<_>, _>>()?;
    if formats.is_empty() {
        return Err("FAKE_V4L2_FRAMES names no file".into());
    }
    let index = std::env::var("FAKE_V4L2_INDEX")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let name = std::env::var("FAKE_V4L2_NAME").unwrap_or_else(|_| "Fake Webcam (fake-v4l2)".into());
    let mut c = Config {
        index,
        name,
        formats,
        busy: false,
        unplug: None,
        stall: None,
        at_end: AtEnd::Loop,
        verbose: std::env::var_os("FAKE_V4L2_VERBOSE").is_some(),
        dir: std::env::temp_dir().join(format!("fake-v4l2-{}", std::process::id())),
    };
    let num = |s: &str| {
        s.parse::<u64>()
            .map_err(|_| format!("FAKE_V4L2_FAULTS: bad number {s:?}"))
    };
    for f in std::env::var("FAKE_V4L2_FAULTS")
        .unwrap_or_default()
        .split(',')
    {
        let f = f.trim();
        if f.is_empty() {
        } else if f == "busy" {
            c.busy = true;
        } else if let Some(rest) = f.strip_prefix("unplug@") {
            c.unplug = Some(match rest.split_once('+') {
                Some((a, b)) => (num(a)?, Some(num(b)?)),
                None => (num(rest)?, None),
            });
        } else if let Some(rest) = f.strip_prefix("stall@") {
            let (a, b) = rest
                .split_once('+')
                .ok_or("FAKE_V4L2_FAULTS: stall@FRAME+MS")?;
            c.stall = Some((num(a)?, num(b)?));
        } else if let Some(rest) = f.strip_prefix("end=") {
            c.at_end = match rest {
                "loop" => AtEnd::Loop,
                "stall" => AtEnd::Stall,
                "unplug" => AtEnd::Unplug,
                _ => {
                    return Err(format!(
                        "FAKE_V4L2_FAULTS: end=loop|stall|unplug, not {rest}"
                    ));
                }
            };
        } else {
            return Err(format!("FAKE_V4L2_FAULTS: unknown fault {f:?}"));
        }
    }
    Ok(c)
}

// ---- device state -------------------------------------------------------------------------

#[derive(Clone, Copy)]
struct Done {
    index: u32,
    bytesused: u32,
    timestamp_us: u64,
    sequence: u32,
}

#[derive(Default)]
struct Buf {
    addr: usize,
    queued: bool,
    done: bool,
    /// Order of queueing: buffers are filled in the order they were queued.
    ticket: u64,
}

struct Open {
    fd: c_int,
    /// The plug epoch the descriptor was opened in: after an unplug it answers ENODEV.
    epoch: u64,
    nonblock: bool,
    format: usize,
    bufs: Vec<Buf>,
    done: VecDeque<Done>,
    streaming: bool,
    /// Bumped at every stream on/off: a driver thread of an older generation ends.
    generation: u64,
    sequence: u32,
    sequence_queued: u64,
}

struct State {
    opens: Vec<Open>,
    /// CLOCK_MONOTONIC (µs) of the first stream-on: the clip's time zero.
    t0_us: Option<u64>,
    epoch: u64,
    /// While unplugged: until when (µs, CLOCK_MONOTONIC), `u64::MAX` for good.
    unplugged_until: Option<u64>,
    /// The unplug fault has happened (it happens once).
    unplug_done: bool,
    format: usize,
}

fn state() -> MutexGuard<'static, State> {
    static STATE: Mutex<State> = Mutex::new(State {
        opens: Vec::new(),
        t0_us: None,
        epoch: 0,
        unplugged_until: None,
        unplug_done: false,
        format: 0,
    });
    STATE.lock().unwrap_or_else(|e| e.into_inner())
}

fn now_us() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: valid pointer.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000 + ts.tv_nsec as u64 / 1000
}

impl State {
    fn plugged(&mut self) -> bool {
        match self.unplugged_until {
            Some(until) if now_us() < until => false,
            Some(_) => {
                self.unplugged_until = None;
                true
            }
            None => true,
        }
    }

    fn unplug(&mut self, for_us: Option<u64>) {
        self.unplugged_until = Some(for_us.map_or(u64::MAX, |d| now_us().saturating_add(d)));
        self.epoch += 1;
        for o in &mut self.opens {
            o.generation += 1;
            wake(o.fd);
        }
    }

    fn open_mut(&mut self, fd: c_int) -> Option<&mut Open> {
        self.opens.iter_mut().find(|o| o.fd == fd)
    }
}

/// Makes the descriptor readable (a buffer is done, or the device is gone).
fn wake(fd: c_int) {
    let one: u64 = 1;
    // SAFETY: writing 8 bytes to an eventfd.
    unsafe { libc::write(fd, (&one as *const u64).cast(), 8) };
}

fn unwake(fd: c_int) {
    let mut n: u64 = 0;
    // SAFETY: reading 8 bytes from a non-blocking semaphore eventfd (takes one).
    unsafe { libc::read(fd, (&mut n as *mut u64).cast(), 8) };
}

// ---- the emulated /dev and /sys entries ---------------------------------------------------

/// Lays out `dir/dev/videoN` (while plugged in) and `dir/sys/videoN/name`; returns the dir.
fn entries(c: &Config, plugged: bool) -> PathBuf {
    let dev = c.dir.join("dev");
    let sys = c.dir.join("sys").join(format!("video{}", c.index));
    let _ = std::fs::create_dir_all(&dev);
    let _ = std::fs::create_dir_all(&sys);
    let _ = std::fs::write(sys.join("name"), format!("{}\n", c.name));
    let node = dev.join(format!("video{}", c.index));
    if plugged {
        let _ = std::fs::write(&node, b"");
    } else {
        let _ = std::fs::remove_file(&node);
    }
    c.dir.clone()
}

enum PathKind {
    Device,
    Redirect(CString),
    Other,
}

fn classify(path: *const c_char) -> PathKind {
    if path.is_null() {
        return PathKind::Other;
    }
    // SAFETY: a NUL-terminated path from the caller.
    let p = unsafe { CStr::from_ptr(path) }.to_bytes();
    if !(p.starts_with(b"/dev/video") || p.starts_with(b"/sys/class/video4linux")) {
        return PathKind::Other;
    }
    let Some(c) = config() else {
        return PathKind::Other;
    };
    let dev = format!("/dev/video{}", c.index);
    if p == dev.as_bytes() {
        return PathKind::Device;
    }
    let sys = format!("/sys/class/video4linux/video{}", c.index);
    if let Some(rest) = p.strip_prefix(sys.as_bytes()) {
        let plugged = state().plugged();
        let dir = entries(c, plugged)
            .join("sys")
            .join(format!("video{}", c.index));
        let mut out = dir.into_os_string().into_encoded_bytes();
        out.extend_from_slice(rest);
        return CString::new(out).map_or(PathKind::Other, PathKind::Redirect);
    }
    PathKind::Other
}

fn open_device(flags: c_int) -> c_int {
    let Some(c) = config() else {
        set_errno(libc::ENOENT);
        return -1;
    };
    let mut st = state();
    if !st.plugged() {
        set_errno(libc::ENOENT);
        return -1;
    }
    // SAFETY: plain eventfd creation.
    let fd = unsafe {
        libc::eventfd(
            0,
            libc::EFD_SEMAPHORE | libc::EFD_NONBLOCK | libc::EFD_CLOEXEC,
        )
    };
    if fd < 0 {
        return -1;
    }
    let Some(slot) = FAKE_FDS.iter().find(|s| {
        s.compare_exchange(-1, fd, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok()
    }) else {
        // SAFETY: our own descriptor.
        unsafe { real_close()(fd) };
        set_errno(libc::EMFILE);
        return -1;
    };
    let _ = slot;
    let epoch = st.epoch;
    let format = st.format.min(c.formats.len() - 1);
    st.opens.push(Open {
        fd,
        epoch,
        nonblock: flags & libc::O_NONBLOCK != 0,
        format,
        bufs: Vec::new(),
        done: VecDeque::new(),
        streaming: false,
        generation: 0,
        sequence: 0,
        sequence_queued: 0,
    });
    fd
}

fn open_common(path: *const c_char, flags: c_int, mode: libc::mode_t, real: OpenFn) -> c_int {
    match classify(path) {
        PathKind::Device => open_device(flags),
        // SAFETY: forwarding the caller's arguments.
        PathKind::Redirect(p) => unsafe { real(p.as_ptr(), flags, mode) },
        PathKind::Other => unsafe { real(path, flags, mode) },
    }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn open(path: *const c_char, flags: c_int, mode: libc::mode_t) -> c_int {
    open_common(path, flags, mode, real_open())
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn open64(path: *const c_char, flags: c_int, mode: libc::mode_t) -> c_int {
    open_common(path, flags, mode, real_open64())
}

fn openat_common(
    dirfd: c_int,
    path: *const c_char,
    flags: c_int,
    mode: libc::mode_t,
    real: OpenatFn,
) -> c_int {
    match classify(path) {
        PathKind::Device => open_device(flags),
        // SAFETY: forwarding the caller's arguments.
        PathKind::Redirect(p) => unsafe { real(dirfd, p.as_ptr(), flags, mode) },
        PathKind::Other => unsafe { real(dirfd, path, flags, mode) },
    }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn openat(
    dirfd: c_int,
    path: *const c_char,
    flags: c_int,
    mode: libc::mode_t,
) -> c_int {
    openat_common(dirfd, path, flags, mode, real_openat())
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn openat64(
    dirfd: c_int,
    path: *const c_char,
    flags: c_int,
    mode: libc::mode_t,
) -> c_int {
    openat_common(dirfd, path, flags, mode, real_openat64())
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn opendir(path: *const c_char) -> *mut libc::DIR {
    if !path.is_null() {
        // SAFETY: a NUL-terminated path from the caller.
        let p = unsafe { CStr::from_ptr(path) }.to_bytes();
        let p = p.strip_suffix(b"/").unwrap_or(p);
        if (p == b"/dev" || p == b"/sys/class/video4linux")
            && let Some(c) = config()
        {
            let plugged = state().plugged();
            let dir = entries(c, plugged).join(if p == b"/dev" { "dev" } else { "sys" });
            if let Ok(d) = CString::new(dir.into_os_string().into_encoded_bytes()) {
                // SAFETY: a NUL-terminated path.
                return unsafe { real_opendir()(d.as_ptr()) };
            }
        }
    }
    // SAFETY: forwarding.
    unsafe { real_opendir()(path) }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn close(fd: c_int) -> c_int {
    if is_fake_fd(fd) {
        let mut st = state();
        st.opens.retain(|o| o.fd != fd);
        for s in &FAKE_FDS {
            let _ = s.compare_exchange(fd, -1, Ordering::SeqCst, Ordering::SeqCst);
        }
    }
    // SAFETY: forwarding.
    unsafe { real_close()(fd) }
}

// ---- ioctl --------------------------------------------------------------------------------

const fn ioc(dir: u32, nr: u32, size: usize) -> u32 {
    (dir << 30) | ((size as u32) << 16) | ((b'V' as u32) << 8) | nr
}
const R: u32 = 2;
const W: u32 = 1;
const RW: u32 = 3;
const QUERYCAP: u32 = ioc(R, 0, size_of::<v::v4l2_capability>());
const ENUM_FMT: u32 = ioc(RW, 2, size_of::<v::v4l2_fmtdesc>());
const G_FMT: u32 = ioc(RW, 4, size_of::<v::v4l2_format>());
const S_FMT: u32 = ioc(RW, 5, size_of::<v::v4l2_format>());
const REQBUFS: u32 = ioc(RW, 8, size_of::<v::v4l2_requestbuffers>());
const QUERYBUF: u32 = ioc(RW, 9, size_of::<v::v4l2_buffer>());
const QBUF: u32 = ioc(RW, 15, size_of::<v::v4l2_buffer>());
const DQBUF: u32 = ioc(RW, 17, size_of::<v::v4l2_buffer>());
const STREAMON: u32 = ioc(W, 18, size_of::<c_int>());
const STREAMOFF: u32 = ioc(W, 19, size_of::<c_int>());
const G_PARM: u32 = ioc(RW, 21, size_of::<v::v4l2_streamparm>());
const S_PARM: u32 = ioc(RW, 22, size_of::<v::v4l2_streamparm>());
const TRY_FMT: u32 = ioc(RW, 64, size_of::<v::v4l2_format>());
const ENUM_FRAMESIZES: u32 = ioc(RW, 74, size_of::<v::v4l2_frmsizeenum>());
const ENUM_FRAMEINTERVALS: u32 = ioc(RW, 75, size_of::<v::v4l2_frmivalenum>());

const CAPTURE: u32 = v::v4l2_buf_type_V4L2_BUF_TYPE_VIDEO_CAPTURE;
const MAX_BUFFERS: u32 = 8;

fn page_align(n: u32) -> u32 {
    n.div_ceil(4096) * 4096
}

fn copy_str(dst: &mut [u8], s: &str) {
    let n = s.len().min(dst.len() - 1);
    dst[..n].copy_from_slice(&s.as_bytes()[..n]);
    dst[n..].fill(0);
}

fn fill_pix(f: &Frames, pix: &mut v::v4l2_pix_format) {
    pix.width = f.header.width;
    pix.height = f.header.height;
    pix.pixelformat = f.header.fourcc;
    pix.field = v::v4l2_field_V4L2_FIELD_NONE;
    pix.bytesperline = f.header.bytesperline();
    pix.sizeimage = f.sizeimage();
    pix.colorspace = v::v4l2_colorspace_V4L2_COLORSPACE_SRGB;
    pix.priv_ = 0;
    pix.flags = 0;
}

fn fourcc_text(code: u32) -> String {
    String::from_utf8_lossy(&code.to_le_bytes()).into_owned()
}

/// Handles one ioctl on an emulated descriptor; returns 0 or an errno.
unsafe fn device_ioctl(fd: c_int, request: u32, arg: *mut c_void) -> c_int {
    let Some(c) = config() else {
        return libc::ENODEV;
    };
    if arg.is_null() {
        return libc::EFAULT;
    }
    let mut st = state();
    let plugged = st.plugged();
    let epoch = st.epoch;
    let Some(o) = st.open_mut(fd) else {
        return libc::EBADF;
    };
    if o.epoch != epoch || !plugged {
        return libc::ENODEV;
    }
    // SAFETY (all casts below): the request number encodes the argument's type and size,
    // exactly as the kernel trusts it.
    match request {
        QUERYCAP => {
            let cap = unsafe { &mut *arg.cast::<v::v4l2_capability>() };
            copy_str(&mut cap.driver, "fake-v4l2");
            copy_str(&mut cap.card, &c.name);
            copy_str(&mut cap.bus_info, "platform:fake-v4l2");
            cap.version = (6 << 16) | (1 << 8);
            cap.device_caps = v::V4L2_CAP_VIDEO_CAPTURE | v::V4L2_CAP_STREAMING;
            cap.capabilities = cap.device_caps | v::V4L2_CAP_DEVICE_CAPS;
            cap.reserved = [0; 3];
            0
        }
        ENUM_FMT => {
            let d = unsafe { &mut *arg.cast::<v::v4l2_fmtdesc>() };
            let Some(f) = c
                .formats
                .get(d.index as usize)
                .filter(|_| d.type_ == CAPTURE)
            else {
                return libc::EINVAL;
            };
            d.flags = if &f.header.fourcc.to_le_bytes() == b"MJPG" {
                v::V4L2_FMT_FLAG_COMPRESSED
            } else {
                0
            };
            copy_str(&mut d.description, &fourcc_text(f.header.fourcc));
            d.pixelformat = f.header.fourcc;
            d.mbus_code = 0;
            0
        }
        G_FMT => {
            let f = unsafe { &mut *arg.cast::<v::v4l2_format>() };
            if f.type_ != CAPTURE {
                return libc::EINVAL;
            }
            fill_pix(&c.formats[o.format], unsafe { &mut f.fmt.pix });
            0
        }
        S_FMT | TRY_FMT => {
            let f = unsafe { &mut *arg.cast::<v::v4l2_format>() };
            if f.type_ != CAPTURE {
                return libc::EINVAL;
            }
            // Like a driver: a format it lacks becomes one it has, at its one size.
            let want = unsafe { f.fmt.pix.pixelformat };
            let pick = c
                .formats
                .iter()
                .position(|x| x.header.fourcc == want)
                .unwrap_or(o.format);
            if request == S_FMT {
                if c.busy {
                    return libc::EBUSY;
                }
                if o.streaming || (!o.bufs.is_empty() && pick != o.format) {
                    return libc::EBUSY;
                }
                o.format = pick;
                st.format = pick;
            }
            fill_pix(&c.formats[pick], unsafe { &mut f.fmt.pix });
            0
        }
        ENUM_FRAMESIZES => {
            let s = unsafe { &mut *arg.cast::<v::v4l2_frmsizeenum>() };
            let Some(f) = c.formats.iter().find(|f| f.header.fourcc == s.pixel_format) else {
                return libc::EINVAL;
            };
            if s.index != 0 {
                return libc::EINVAL;
            }
            s.type_ = v::v4l2_frmsizetypes_V4L2_FRMSIZE_TYPE_DISCRETE;
            s.__bindgen_anon_1.discrete = v::v4l2_frmsize_discrete {
                width: f.header.width,
                height: f.header.height,
            };
            0
        }
        ENUM_FRAMEINTERVALS => {
            let i = unsafe { &mut *arg.cast::<v::v4l2_frmivalenum>() };
            let Some(f) = c.formats.iter().find(|f| {
                f.header.fourcc == i.pixel_format
                    && f.header.width == i.width
                    && f.header.height == i.height
            }) else {
                return libc::EINVAL;
            };
            if i.index != 0 {
                return libc::EINVAL;
            }
            i.type_ = v::v4l2_frmivaltypes_V4L2_FRMIVAL_TYPE_DISCRETE;
            i.__bindgen_anon_1.discrete = v::v4l2_fract {
                numerator: 1,
                denominator: f.fps(),
            };
            0
        }
        G_PARM | S_PARM => {
            let p = unsafe { &mut *arg.cast::<v::v4l2_streamparm>() };
            if p.type_ != CAPTURE {
                return libc::EINVAL;
            }
            // One rate per format: setting any rate gives that one, as drivers round.
            let cap = unsafe { &mut p.parm.capture };
            cap.capability = v::V4L2_CAP_TIMEPERFRAME;
            cap.capturemode = 0;
            cap.timeperframe = v::v4l2_fract {
                numerator: 1,
                denominator: c.formats[o.format].fps(),
            };
            cap.extendedmode = 0;
            cap.readbuffers = 0;
            0
        }
        REQBUFS => {
            let r = unsafe { &mut *arg.cast::<v::v4l2_requestbuffers>() };
            if r.type_ != CAPTURE || r.memory != v::v4l2_memory_V4L2_MEMORY_MMAP {
                return libc::EINVAL;
            }
            if c.busy {
                return libc::EBUSY;
            }
            if o.streaming {
                return libc::EBUSY;
            }
            let n = r.count.min(MAX_BUFFERS);
            let n = if n == 0 { 0 } else { n.max(2) };
            o.bufs = (0..n).map(|_| Buf::default()).collect();
            o.done.clear();
            r.count = n;
            r.capabilities = v::V4L2_BUF_CAP_SUPPORTS_MMAP;
            0
        }
        QUERYBUF | QBUF | DQBUF => {
            let b = unsafe { &mut *arg.cast::<v::v4l2_buffer>() };
            if b.type_ != CAPTURE || b.memory != v::v4l2_memory_V4L2_MEMORY_MMAP {
                return libc::EINVAL;
            }
            let size = c.formats[o.format].sizeimage();
            match request {
                QUERYBUF => {
                    let Some(buf) = o.bufs.get(b.index as usize) else {
                        return libc::EINVAL;
                    };
                    b.length = size;
                    b.m.offset = b.index * page_align(size);
                    b.bytesused = 0;
                    b.flags = v::V4L2_BUF_FLAG_TIMESTAMP_MONOTONIC
                        | if buf.addr != 0 {
                            v::V4L2_BUF_FLAG_MAPPED
                        } else {
                            0
                        }
                        | if buf.queued {
                            v::V4L2_BUF_FLAG_QUEUED
                        } else {
                            0
                        }
                        | if buf.done { v::V4L2_BUF_FLAG_DONE } else { 0 };
                    b.field = v::v4l2_field_V4L2_FIELD_NONE;
                    0
                }
                QBUF => {
                    let Some(buf) = o.bufs.get_mut(b.index as usize) else {
                        return libc::EINVAL;
                    };
                    if buf.queued || buf.done || buf.addr == 0 {
                        return libc::EINVAL;
                    }
                    buf.queued = true;
                    buf.ticket = o.sequence_queued;
                    o.sequence_queued += 1;
                    b.flags |= v::V4L2_BUF_FLAG_QUEUED;
                    0
                }
                _ => {
                    if let Some(d) = o.done.pop_front() {
                        unwake(fd);
                        if let Some(buf) = o.bufs.get_mut(d.index as usize) {
                            buf.done = false;
                        }
                        b.index = d.index;
                        b.bytesused = d.bytesused;
                        b.flags = v::V4L2_BUF_FLAG_MAPPED | v::V4L2_BUF_FLAG_TIMESTAMP_MONOTONIC;
                        b.field = v::v4l2_field_V4L2_FIELD_NONE;
                        b.timestamp = v::timeval {
                            tv_sec: (d.timestamp_us / 1_000_000) as _,
                            tv_usec: (d.timestamp_us % 1_000_000) as _,
                        };
                        b.sequence = d.sequence;
                        b.m.offset = d.index * page_align(size);
                        b.length = size;
                        return 0;
                    }
                    if !o.streaming {
                        return libc::EINVAL;
                    }
                    if o.nonblock {
                        return libc::EAGAIN;
                    }
                    // A blocking descriptor waits for the next buffer, as a driver does.
                    drop(st);
                    let mut p = libc::pollfd {
                        fd,
                        events: libc::POLLIN,
                        revents: 0,
                    };
                    // SAFETY: one valid pollfd; then the same request again.
                    unsafe {
                        libc::poll(&mut p, 1, 100);
                        device_ioctl(fd, DQBUF, arg)
                    }
                }
            }
        }
        STREAMON => {
            if c.busy {
                return libc::EBUSY;
            }
            if o.bufs.is_empty() {
                return libc::EINVAL;
            }
            if o.streaming {
                return 0;
            }
            o.streaming = true;
            o.generation += 1;
            let generation = o.generation;
            let format = o.format;
            let first = st.t0_us.is_none();
            let t0 = *st.t0_us.get_or_insert_with(now_us);
            let spawned = std::thread::Builder::new()
                .name("fake-v4l2".into())
                .spawn(move || drive(fd, generation, format, t0, first));
            if spawned.is_err() {
                return libc::ENOMEM;
            }
            0
        }
        STREAMOFF => {
            o.streaming = false;
            o.generation += 1;
            for b in &mut o.bufs {
                b.queued = false;
                b.done = false;
            }
            while o.done.pop_front().is_some() {
                unwake(fd);
            }
            0
        }
        _ => libc::ENOTTY,
    }
}

/// The "hardware": fills queued buffers with the clip's frames at the clip's pace until the
/// stream stops (its generation changes) or a fault ends it.
fn drive(fd: c_int, generation: u64, format: usize, t0: u64, first: bool) {
    let Some(c) = config() else { return };
    let f = &c.formats[format];
    let count = u64::from(f.header.count);
    let period = f.period_us();
    // Frames are a continuous reality: after a reconnect, the stream goes on with the frame
    // due now (those in between were missed).
    // The first stream starts with the first frame.
    let since = if first {
        0
    } else {
        now_us().saturating_sub(t0)
    };
    let mut k = {
        let loops = since / period;
        let within = since % period;
        let mut i = 0;
        while i < count && f.frame(i as usize).0 < within {
            i += 1;
        }
        loops * count + i
    };
    let mut stall_until: Option<u64> = None;
    loop {
        let (loop_no, i) = (k / count, (k % count) as usize);
        if loop_no > 0 && c.at_end != AtEnd::Loop {
            let mut st = state();
            let current = st
                .opens
                .iter()
                .any(|o| o.fd == fd && o.generation == generation);
            if c.at_end == AtEnd::Unplug && current {
                st.unplug(None);
            }
            return;
        }
        let (pts, payload) = f.frame(i);
        let due = t0 + loop_no * period + pts;
        // Sleep in short steps so that a stopped stream ends its thread promptly.
        loop {
            let now = now_us();
            if now >= due {
                break;
            }
            std::thread::sleep(Duration::from_micros((due - now).min(50_000)));
            let st = state();
            match st.opens.iter().find(|o| o.fd == fd) {
                Some(o) if o.generation == generation => {}
                _ => return,
            }
        }
        let mut st = state();
        if let Some((at, for_ms)) = c.unplug
            && k >= at
            && !st.unplug_done
        {
            st.unplug_done = true;
            st.unplug(for_ms.map(|ms| ms * 1000));
            return;
        }
        if let Some((at, ms)) = c.stall
            && k == at
        {
            stall_until = Some(due + ms * 1000);
        }
        let Some(o) = st.opens.iter_mut().find(|o| o.fd == fd) else {
            return;
        };
        if o.generation != generation {
            return;
        }
        k += 1;
        if stall_until.is_some_and(|u| due < u) {
            continue;
        }
        o.sequence = o.sequence.wrapping_add(1);
        let sequence = o.sequence - 1;
        // The oldest queued buffer gets the frame; with none queued the frame is lost,
        // as with a driver.
        let oldest = o
            .bufs
            .iter()
            .enumerate()
            .filter(|(_, b)| b.queued)
            .min_by_key(|(_, b)| b.ticket)
            .map(|(i, _)| i);
        let Some(index) = oldest else {
            if c.verbose {
                eprintln!("fake-v4l2: frame {k} (sequence {sequence}) lost: no buffer queued");
            }
            continue;
        };
        let buf = &mut o.bufs[index];
        if buf.addr == 0
            || !FAKE_MAPS
                .iter()
                .any(|m| m.load(Ordering::Relaxed) == buf.addr)
        {
            continue;
        }
        // SAFETY: the application mapped this buffer (`mmap` below) and has it queued.
        unsafe {
            std::ptr::copy_nonoverlapping(payload.as_ptr(), buf.addr as *mut u8, payload.len());
        }
        buf.queued = false;
        buf.done = true;
        o.done.push_back(Done {
            index: index as u32,
            bytesused: payload.len() as u32,
            timestamp_us: due,
            sequence,
        });
        wake(fd);
    }
}

unsafe fn ioctl_common(fd: c_int, request: c_ulong, arg: *mut c_void) -> Option<c_int> {
    if !is_fake_fd(fd) {
        return None;
    }
    let e = unsafe { device_ioctl(fd, request as u32, arg) };
    if e == 0 {
        Some(0)
    } else {
        set_errno(e);
        Some(-1)
    }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn ioctl(fd: c_int, request: c_ulong, arg: *mut c_void) -> c_int {
    match unsafe { ioctl_common(fd, request, arg) } {
        Some(r) => r,
        // SAFETY: forwarding.
        None => unsafe { real_ioctl()(fd, request, arg) },
    }
}

/// `syscall(SYS_ioctl, ...)` is how the v4l crate calls ioctl. The variadic arguments are
/// read as the six integer registers they travel in on x86_64 and aarch64 Linux.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn syscall(
    num: c_long,
    a1: c_long,
    a2: c_long,
    a3: c_long,
    a4: c_long,
    a5: c_long,
    a6: c_long,
) -> c_long {
    if num == libc::SYS_ioctl
        && let Some(r) = unsafe { ioctl_common(a1 as c_int, a2 as c_ulong, a3 as *mut c_void) }
    {
        return c_long::from(r);
    }
    // SAFETY: forwarding.
    unsafe { real_syscall()(num, a1, a2, a3, a4, a5, a6) }
}

unsafe fn mmap_common(
    addr: *mut c_void,
    len: size_t,
    prot: c_int,
    flags: c_int,
    fd: c_int,
    off: off_t,
    real: MmapFn,
) -> *mut c_void {
    if !is_fake_fd(fd) {
        // SAFETY: forwarding.
        return unsafe { real(addr, len, prot, flags, fd, off) };
    }
    let Some(c) = config() else {
        set_errno(libc::ENODEV);
        return libc::MAP_FAILED;
    };
    let mut st = state();
    let epoch = st.epoch;
    let Some(o) = st.open_mut(fd) else {
        set_errno(libc::EBADF);
        return libc::MAP_FAILED;
    };
    if o.epoch != epoch {
        set_errno(libc::ENODEV);
        return libc::MAP_FAILED;
    }
    let size = c.formats[o.format].sizeimage();
    let index = (off as u64 / u64::from(page_align(size))) as usize;
    let Some(buf) = o.bufs.get_mut(index).filter(|_| len <= size as usize) else {
        set_errno(libc::EINVAL);
        return libc::MAP_FAILED;
    };
    // The buffer's memory: the application maps it, the "hardware" writes into it.
    // SAFETY: an anonymous shared mapping.
    let p = unsafe {
        real(
            std::ptr::null_mut(),
            len,
            prot,
            libc::MAP_SHARED | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    if p != libc::MAP_FAILED
        && let Some(slot) = FAKE_MAPS.iter().find(|m| {
            m.compare_exchange(0, p as usize, Ordering::SeqCst, Ordering::SeqCst)
                .is_ok()
        })
    {
        let _ = slot;
        buf.addr = p as usize;
    }
    p
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn mmap(
    addr: *mut c_void,
    len: size_t,
    prot: c_int,
    flags: c_int,
    fd: c_int,
    off: off_t,
) -> *mut c_void {
    unsafe { mmap_common(addr, len, prot, flags, fd, off, real_mmap()) }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn mmap64(
    addr: *mut c_void,
    len: size_t,
    prot: c_int,
    flags: c_int,
    fd: c_int,
    off: off_t,
) -> *mut c_void {
    unsafe { mmap_common(addr, len, prot, flags, fd, off, real_mmap64()) }
}

/// Lock-free: the allocator unmaps memory at any time, also while our lock is held.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn munmap(addr: *mut c_void, len: size_t) -> c_int {
    if !addr.is_null() {
        for m in &FAKE_MAPS {
            let _ = m.compare_exchange(addr as usize, 0, Ordering::SeqCst, Ordering::SeqCst);
        }
    }
    // SAFETY: forwarding.
    unsafe { real_munmap()(addr, len) }
}
