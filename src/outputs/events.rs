//! Event log: the typed events the detector emits and the sinks that write them.
//!
//! Input: `Event`s from the analysis thread. Output: JSON Lines (flushed per event) and
//! optional CSV, created owner-readable only. Thread: the analysis thread.

use crate::analysis::anatomy::{RegionKind, Side};
use serde::{Deserialize, Serialize};
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// Clonic = short repeated jerks; tonic = a sustained squeeze.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Pattern {
    Clonic,
    Tonic,
}

/// Per-region evidence behind a twitch: peak normalised activity on each side.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RegionEvidence {
    pub region: RegionKind,
    pub left: f64,
    pub right: f64,
}

/// One detected one-sided twitch (a burst), in media seconds from the clip's start.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Twitch {
    pub start_s: f64,
    pub end_s: f64,
    /// The person's side.
    pub side: Side,
    /// Regions that took part, eye first.
    pub regions: Vec<RegionKind>,
    /// Peak normalised activity on the twitching side (robust z-score units).
    pub peak: f64,
    /// (active - other) / (active + other) at the peak, 0..1.
    pub asymmetry: f64,
    pub pattern: Pattern,
    /// 0..1: the probability that this is a real one-sided twitch (`confidence::Model`).
    pub confidence: f64,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub evidence: Vec<RegionEvidence>,
    /// Wall-clock times (RFC 3339), only for live sessions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wall_start: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wall_end: Option<String>,
    /// The lids were judged by the eyes' look, not by optical flow: glasses were seen, and
    /// their rims hide the lids from the flow. Written only when true.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub glasses: bool,
    /// Only in candidate mode (`eval --fit-confidence`): what the confidence model is fitted
    /// on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub candidate: Option<Candidate>,
}

/// A twitch found in candidate mode (`BurstParams::candidates`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Candidate {
    /// The detector's rules (onset rate, blink tests) would have kept it.
    pub rules_ok: bool,
    pub features: crate::analysis::confidence::Features,
    /// The rescue forest's probability (`confidence::Forest`); absent when the features
    /// could not be measured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forest: Option<f64>,
}

/// Version of the log format written on the `session` line (`docs/log-format.md`). A log
/// whose `session` line has no `format` is format 1.
pub const FORMAT: u32 = 2;

fn format_1() -> u32 {
    1
}

/// Every line of the log is one of these, tagged by `"kind"`. Readers skip unknown kinds.
/// `docs/log-format.md` documents every kind and field.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Event {
    /// First line of a session: what produced the log.
    Session {
        /// Log format (`FORMAT`); 1 when absent.
        #[serde(default = "format_1")]
        format: u32,
        /// twitchwatch's version.
        version: String,
        /// The detector's revision (`detect::VERSION`); absent in format 1. Its parameters
        /// are `settings.detect`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        detector_version: Option<u32>,
        source: String,
        mirrored: bool,
        #[serde(default)]
        settings: serde_json::Value,
        /// Clips: how the frames were read (orientation applied, capture rate, streams).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        media: Option<Media>,
        /// When the recording started (RFC 3339 with the local UTC offset): the wall clock
        /// for live sessions; the clip's container date or `analyze --recorded`. Absent when
        /// unknown (logs written before dates were recorded, clips without a usable date).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        recorded: Option<String>,
    },
    Twitch(Twitch),
    /// An interval with no face: no twitch can be seen, and it is not observed time.
    FaceLost {
        start_s: f64,
        end_s: f64,
    },
    /// An interval with no frames from the camera (unplugged, busy): not observed time.
    CameraGap {
        start_s: f64,
        end_s: f64,
    },
    /// An interval the decoder could not read (a damaged recording): frames were skipped
    /// up to the next readable one. Not observed time; no twitch straddles it.
    DecodeGap {
        start_s: f64,
        end_s: f64,
    },
    /// Something odd in the input that the user should know about.
    Warning {
        t_s: f64,
        message: String,
    },
    /// Closure severity over one minute of media time (`severity`): written when the
    /// minute ends, and for the part-minute before the `summary`. Independent of the
    /// twitch detector and its threshold.
    Minute(Minute),
    /// Last line of a session.
    Summary {
        duration_s: f64,
        observed_s: f64,
        frames: u64,
        twitches_left: u64,
        twitches_right: u64,
        per_minute_left: f64,
        per_minute_right: f64,
        /// Live sessions: frames the camera delivered that the analysis had to skip
        /// because it fell behind.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        frames_dropped: Option<u64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<String>,
        /// Damaged recordings: the `decode_gap` intervals, `[start_s, end_s]` each.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        decode_gaps: Vec<[f64; 2]>,
    },
}

/// How a clip's frames were read, for the `session` line.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Media {
    /// Clockwise rotation applied to the decoded pictures so that they are upright as a
    /// viewer sees them, degrees (0, 90, 180, 270).
    pub rotation: u16,
    /// Where that rotation came from: `"container"` (the display matrix) or `"--rotate"`.
    pub rotation_from: String,
    /// The container's display matrix is mirrored and the pictures were flipped left-right
    /// as a viewer sees them. Written only when true.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub flipped: bool,
    /// Frame rate the camera captured at, when the container records one different from
    /// the playback rate (slow motion): times are presentation times, so stretched.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capture_fps: Option<f64>,
    /// Video streams in the file, when more than one (the first is analysed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub video_streams: Option<u32>,
}

impl Event {
    /// The `session` line this build writes: format, versions, what was analysed and how.
    pub fn session(
        source: String,
        mirrored: bool,
        settings: serde_json::Value,
        media: Option<Media>,
    ) -> Event {
        Event::Session {
            format: FORMAT,
            version: env!("CARGO_PKG_VERSION").to_string(),
            detector_version: Some(crate::analysis::bursts::VERSION),
            source,
            mirrored,
            settings,
            media,
            recorded: None,
        }
    }

    /// The same event with the recording's start (RFC 3339) if it is a `session` line.
    pub fn with_recorded(mut self, when: Option<String>) -> Event {
        if let Event::Session { recorded, .. } = &mut self {
            *recorded = when;
        }
        self
    }

    /// The `"kind"` tag of every variant this version understands.
    pub const KINDS: [&'static str; 8] = [
        "session",
        "twitch",
        "face_lost",
        "camera_gap",
        "decode_gap",
        "warning",
        "minute",
        "summary",
    ];

    /// The `"kind"` tag this event is written with.
    pub fn kind(&self) -> &'static str {
        match self {
            Event::Session { .. } => "session",
            Event::Twitch(_) => "twitch",
            Event::FaceLost { .. } => "face_lost",
            Event::CameraGap { .. } => "camera_gap",
            Event::DecodeGap { .. } => "decode_gap",
            Event::Warning { .. } => "warning",
            Event::Minute(_) => "minute",
            Event::Summary { .. } => "summary",
        }
    }

    /// The interval of a gap in observation (no face, no camera, or undecodable video), if
    /// this is one. Every kind of gap is listed here and in `gap_mut`, and nowhere else:
    /// readers take observed time from `observed::Observation`.
    pub fn gap(&self) -> Option<(f64, f64)> {
        match self {
            Event::FaceLost { start_s, end_s }
            | Event::CameraGap { start_s, end_s }
            | Event::DecodeGap { start_s, end_s } => Some((*start_s, *end_s)),
            _ => None,
        }
    }

    /// The start and end of a gap, to move it (pooling sessions end to end).
    pub fn gap_mut(&mut self) -> Option<(&mut f64, &mut f64)> {
        match self {
            Event::FaceLost { start_s, end_s }
            | Event::CameraGap { start_s, end_s }
            | Event::DecodeGap { start_s, end_s } => Some((start_s, end_s)),
            _ => None,
        }
    }

    pub fn as_twitch(&self) -> Option<&Twitch> {
        match self {
            Event::Twitch(t) => Some(t),
            _ => None,
        }
    }
}

/// One minute's closure severity (docs/severity.md). Closures are fractions of each eye's
/// own open aperture (0 open .. 1 shut); `asymmetry` is left minus right (positive: the
/// left eye more closed). Means and shares are over `measured_s`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Minute {
    /// The minute: `[start_s, end_s)` of media time, on a grid of whole minutes.
    pub start_s: f64,
    pub end_s: f64,
    /// Seconds with the face in view (as the summary counts them).
    pub observed_s: f64,
    /// Seconds of that with both eyes' closure measured (trackable, open reference known).
    pub measured_s: f64,
    /// Mean closure of each eye, fraction of its open aperture.
    pub closure_left: f64,
    pub closure_right: f64,
    /// Mean signed closure asymmetry, left minus right, fraction of aperture.
    pub asymmetry: f64,
    /// Share of measured time with the left eye more closed than the right by more than
    /// 0.10, 0.25 and 0.50 of aperture (`severity::THRESHOLDS`); and the same for the right.
    pub beyond_left: [f64; 3],
    pub beyond_right: [f64; 3],
}

impl Twitch {
    pub fn duration_s(&self) -> f64 {
        self.end_s - self.start_s
    }

    /// The regions as one word, e.g. `eye+cheek` (CSV and reports).
    pub fn regions_joined(&self) -> String {
        let regions: Vec<&str> = self.regions.iter().map(|r| r.as_str()).collect();
        regions.join("+")
    }
}

// ---------------------------------------------------------------------------------------------
// Sinks
// ---------------------------------------------------------------------------------------------

/// Where events go. One trait for every output format; `finish` is called once at the end.
pub trait EventSink {
    fn write(&mut self, event: &Event) -> io::Result<()>;
    fn finish(&mut self) -> io::Result<()>;
}

/// A closure is a sink that needs no finishing (tests, counters, adapters).
impl<F: FnMut(&Event) -> io::Result<()>> EventSink for F {
    fn write(&mut self, event: &Event) -> io::Result<()> {
        self(event)
    }
    fn finish(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// How a log file is opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OpenMode {
    /// Truncate an existing file (reprocessing a clip).
    Truncate,
    /// Never truncate; add to the end (live sessions).
    Append,
}

/// Opens (creating if needed) a file for writing events. A file created here is owner-only
/// (0o600) on Unix; the permissions of a file that already existed are left as they are.
/// Returns the file and whether it was created by this call.
fn open_log_file(path: &Path, mode: OpenMode) -> io::Result<(File, bool)> {
    let options = |create_new: bool| {
        let mut o = OpenOptions::new();
        o.write(true);
        if create_new {
            o.create_new(true);
        } else if mode == OpenMode::Append {
            o.append(true).create(true);
        } else {
            o.truncate(true).create(true);
        }
        if mode == OpenMode::Append {
            o.append(true);
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            o.mode(0o600);
        }
        o
    };
    // create_new first: tells race-free whether we made the file.
    let (file, created) = match options(true).open(path) {
        Ok(f) => (f, true),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => (options(false).open(path)?, false),
        Err(e) => return Err(e),
    };
    if created {
        restrict_permissions(&file)?;
    }
    Ok((file, created))
}

/// Creates (or truncates) a file for writing; a file created here is owner-only.
pub fn create_private(path: &Path) -> io::Result<File> {
    open_log_file(path, OpenMode::Truncate).map(|(file, _)| file)
}

/// Creates a folder (and its missing parents) readable by its owner only (0o700 on Unix);
/// an existing folder keeps its permissions.
pub fn create_dir_private(dir: &Path) -> io::Result<()> {
    let mut b = std::fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        b.mode(0o700);
    }
    b.create(dir)
}

/// Makes a file owner-only (the mode given at creation is subject to the umask and to the
/// file system; this makes sure).
#[cfg(unix)]
fn restrict_permissions(file: &File) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    file.set_permissions(std::fs::Permissions::from_mode(0o600))
}

#[cfg(not(unix))]
fn restrict_permissions(_file: &File) -> io::Result<()> {
    Ok(())
}

enum Target {
    File(File),
    Writer(Box<dyn Write + Send>),
}

impl Target {
    /// One `write_all` of a whole line, then flush: a crash can at worst leave the last line
    /// half-written, and loses nothing already written.
    fn write_line(&mut self, line: &[u8]) -> io::Result<()> {
        match self {
            Target::File(f) => {
                f.write_all(line)?;
                f.flush()
            }
            Target::Writer(w) => {
                w.write_all(line)?;
                w.flush()
            }
        }
    }

    fn finish(&mut self) -> io::Result<()> {
        match self {
            Target::File(f) => {
                f.flush()?;
                f.sync_all()
            }
            Target::Writer(w) => w.flush(),
        }
    }
}

/// JSON Lines: one event object per line, written whole and flushed per event.
pub struct JsonlSink {
    target: Target,
}

impl JsonlSink {
    /// Creates or truncates `path` (for `analyze`, which reprocesses a clip from scratch).
    pub fn create(path: &Path) -> io::Result<Self> {
        let (file, _) = open_log_file(path, OpenMode::Truncate)?;
        Ok(Self {
            target: Target::File(file),
        })
    }

    /// Opens `path` for appending, creating it if needed; never truncates (live sessions).
    pub fn append(path: &Path) -> io::Result<Self> {
        let (file, _) = open_log_file(path, OpenMode::Append)?;
        Ok(Self {
            target: Target::File(file),
        })
    }

    /// Writes to any writer (e.g. stdout); `finish` only flushes.
    pub fn to_writer(writer: Box<dyn Write + Send>) -> Self {
        Self {
            target: Target::Writer(writer),
        }
    }
}

/// The exact bytes `JsonlSink` writes for one event: compact JSON plus `\n`.
pub fn event_line(event: &Event) -> io::Result<Vec<u8>> {
    let mut line = serde_json::to_vec(event).map_err(|e| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("cannot encode {} event: {e}", event.kind()),
        )
    })?;
    line.push(b'\n');
    Ok(line)
}

impl EventSink for JsonlSink {
    fn write(&mut self, event: &Event) -> io::Result<()> {
        let line = event_line(event)?;
        self.target.write_line(&line)
    }

    fn finish(&mut self) -> io::Result<()> {
        self.target.finish()
    }
}

/// The CSV header `CsvSink` writes. The evidence columns are always present (a fixed schema
/// is easier on spreadsheets); their cells are empty when a twitch carries no evidence for
/// that region.
pub const CSV_HEADER: &str = "start_s,end_s,duration_s,side,regions,peak,asymmetry,pattern,confidence,\
eye_left,eye_right,cheek_left,cheek_right,mouth_left,mouth_right";

/// CSV of twitch events only, one row each, numbers with 3 decimals, regions joined with `+`.
/// Other event kinds are ignored. Rows are written whole and flushed per event.
pub struct CsvSink {
    target: Target,
    header_written: bool,
}

impl CsvSink {
    /// Creates or truncates `path` and writes the header.
    pub fn create(path: &Path) -> io::Result<Self> {
        let (file, _) = open_log_file(path, OpenMode::Truncate)?;
        let mut sink = Self {
            target: Target::File(file),
            header_written: false,
        };
        sink.write_header()?;
        Ok(sink)
    }

    /// Appends to `path` (creating it if needed); writes the header only if the file is empty.
    pub fn append(path: &Path) -> io::Result<Self> {
        let (file, _) = open_log_file(path, OpenMode::Append)?;
        let empty = file.metadata()?.len() == 0;
        let mut sink = Self {
            target: Target::File(file),
            header_written: !empty,
        };
        if empty {
            sink.write_header()?;
        }
        Ok(sink)
    }

    /// Writes to any writer (e.g. stdout), header first.
    pub fn to_writer(writer: Box<dyn Write + Send>) -> io::Result<Self> {
        let mut sink = Self {
            target: Target::Writer(writer),
            header_written: false,
        };
        sink.write_header()?;
        Ok(sink)
    }

    fn write_header(&mut self) -> io::Result<()> {
        if !self.header_written {
            self.target
                .write_line(format!("{CSV_HEADER}\n").as_bytes())?;
            self.header_written = true;
        }
        Ok(())
    }
}

/// One CSV row (with trailing `\n`) for a twitch, matching `CSV_HEADER`.
pub fn csv_row(t: &Twitch) -> String {
    let num = |x: f64| {
        if x.is_finite() {
            format!("{x:.3}")
        } else {
            String::new()
        }
    };
    let pattern = match t.pattern {
        Pattern::Clonic => "clonic",
        Pattern::Tonic => "tonic",
    };
    let mut cells = vec![
        num(t.start_s),
        num(t.end_s),
        num(t.duration_s()),
        t.side.as_str().to_string(),
        t.regions_joined(),
        num(t.peak),
        num(t.asymmetry),
        pattern.to_string(),
        num(t.confidence),
    ];
    for region in RegionKind::ALL {
        match t.evidence.iter().find(|e| e.region == region) {
            Some(e) => {
                cells.push(num(e.left));
                cells.push(num(e.right));
            }
            None => {
                cells.push(String::new());
                cells.push(String::new());
            }
        }
    }
    let mut row = cells.join(",");
    row.push('\n');
    row
}

impl EventSink for CsvSink {
    fn write(&mut self, event: &Event) -> io::Result<()> {
        match event {
            Event::Twitch(t) => self.target.write_line(csv_row(t).as_bytes()),
            _ => Ok(()),
        }
    }

    fn finish(&mut self) -> io::Result<()> {
        self.target.finish()
    }
}

/// Fan-out to several sinks. Every sink gets every event even if another fails; the first
/// error is returned.
pub struct MultiSink(pub Vec<Box<dyn EventSink + Send>>);

impl EventSink for MultiSink {
    fn write(&mut self, event: &Event) -> io::Result<()> {
        let mut first_err = None;
        for sink in &mut self.0 {
            if let Err(e) = sink.write(event) {
                first_err.get_or_insert(e);
            }
        }
        first_err.map_or(Ok(()), Err)
    }

    fn finish(&mut self) -> io::Result<()> {
        let mut first_err = None;
        for sink in &mut self.0 {
            if let Err(e) = sink.finish() {
                first_err.get_or_insert(e);
            }
        }
        first_err.map_or(Ok(()), Err)
    }
}

/// Keeps events in memory (tests, and callers that want the events afterwards).
#[derive(Debug, Default, Clone)]
pub struct MemorySink {
    pub events: Vec<Event>,
    pub finished: bool,
}

impl EventSink for MemorySink {
    fn write(&mut self, event: &Event) -> io::Result<()> {
        self.events.push(event.clone());
        Ok(())
    }

    fn finish(&mut self) -> io::Result<()> {
        self.finished = true;
        Ok(())
    }
}

/// Fails fast, before a long run, if `path` cannot be written: an existing file must open
/// for appending (it is not truncated); otherwise its directory must exist and accept a new
/// file (a temporary file is created beside it and removed). Errors do not name the path:
/// the caller adds it.
pub fn check_writable(path: &Path) -> io::Result<()> {
    match std::fs::metadata(path) {
        Ok(meta) if meta.is_dir() => {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "is a directory, not a file",
            ));
        }
        Ok(_) => {
            OpenOptions::new().append(true).open(path)?;
            return Ok(());
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    match std::fs::metadata(&parent) {
        Ok(meta) if meta.is_dir() => {}
        Ok(_) => {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                "its parent is not a directory",
            ));
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                "its directory does not exist",
            ));
        }
        Err(e) => return Err(e),
    }
    let probe = parent.join(format!(".twitchwatch-write-check-{}", std::process::id()));
    let mut o = OpenOptions::new();
    o.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(0o600);
    }
    match o.open(&probe) {
        Ok(file) => {
            drop(file);
            // Best effort: the check succeeded even if the probe lingers.
            let _ = std::fs::remove_file(&probe);
            Ok(())
        }
        Err(e) => Err(io::Error::new(
            e.kind(),
            format!("its directory is not writable: {e}"),
        )),
    }
}

// ---------------------------------------------------------------------------------------------
// Reader
// ---------------------------------------------------------------------------------------------

/// What a log held: the events this version understands, and what was wrong with the rest.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LogContents {
    pub events: Vec<Event>,
    /// One line each, with 1-based line numbers. Unknown kinds are not warned about.
    pub warnings: Vec<String>,
}

impl LogContents {
    pub fn twitches(&self) -> impl Iterator<Item = &Twitch> {
        self.events.iter().filter_map(Event::as_twitch)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("cannot read event log {}: {source}", path.display())]
    Io { path: PathBuf, source: io::Error },
}

/// Reads a JSON Lines event log. Bad lines become warnings, never errors; only failing to
/// read the file at all is an error.
pub fn read_log(path: &Path) -> Result<LogContents, ReadError> {
    let bytes = std::fs::read(path).map_err(|source| ReadError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    Ok(read_log_bytes(&bytes))
}

pub fn read_log_str(text: &str) -> LogContents {
    read_log_bytes(text.as_bytes())
}

/// Parses log bytes line by line. Never panics.
///
/// - blank lines are ignored;
/// - a line whose `"kind"` this version does not know is skipped silently;
/// - a known kind that does not parse, a line that is not JSON or has no `"kind"`, and
///   invalid UTF-8 each give a warning and are skipped;
/// - a last line without a trailing newline that is not valid JSON is reported as incomplete
///   (the writer was interrupted mid-line).
pub fn read_log_bytes(bytes: &[u8]) -> LogContents {
    let mut out = LogContents::default();
    let ends_with_newline = bytes.last() == Some(&b'\n');
    let mut lines: Vec<&[u8]> = bytes.split(|&b| b == b'\n').collect();
    if ends_with_newline || bytes.is_empty() {
        // split leaves an empty piece after the final newline
        lines.pop();
    }
    let count = lines.len();
    for (i, raw) in lines.into_iter().enumerate() {
        let n = i + 1;
        let is_unterminated_last = n == count && !ends_with_newline;
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        let text = match std::str::from_utf8(raw) {
            Ok(t) => t,
            Err(_) => {
                if is_unterminated_last {
                    out.warnings.push(format!(
                        "line {n} is incomplete (the writer was interrupted?)"
                    ));
                } else {
                    out.warnings
                        .push(format!("line {n} is not valid UTF-8; skipped"));
                }
                continue;
            }
        };
        if text.trim().is_empty() {
            continue;
        }
        let value: serde_json::Value = match serde_json::from_str(text) {
            Ok(v) => v,
            Err(e) => {
                if is_unterminated_last {
                    out.warnings.push(format!(
                        "line {n} is incomplete (the writer was interrupted?)"
                    ));
                } else {
                    out.warnings
                        .push(format!("line {n} is not valid JSON ({e}); skipped"));
                }
                continue;
            }
        };
        let kind = match value.get("kind").and_then(|k| k.as_str()) {
            Some(k) => k.to_string(),
            None => {
                out.warnings
                    .push(format!("line {n} has no \"kind\"; skipped"));
                continue;
            }
        };
        if !Event::KINDS.contains(&kind.as_str()) {
            continue; // written by a newer version: skip silently
        }
        match serde_json::from_value::<Event>(value) {
            Ok(ev) => out.events.push(ev),
            Err(e) => out
                .warnings
                .push(format!("line {n}: invalid \"{kind}\" event ({e}); skipped")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kind_matches_serialized_tag() {
        let events = [
            Event::session("s".into(), true, serde_json::Value::Null, None),
            Event::DecodeGap {
                start_s: 2.0,
                end_s: 3.0,
            },
            Event::FaceLost {
                start_s: 0.0,
                end_s: 1.0,
            },
            Event::CameraGap {
                start_s: 1.0,
                end_s: 2.0,
            },
            Event::Warning {
                t_s: 0.0,
                message: "m".into(),
            },
        ];
        for e in &events {
            let v = serde_json::to_value(e).unwrap_or_default();
            assert_eq!(v.get("kind").and_then(|k| k.as_str()), Some(e.kind()));
            assert!(Event::KINDS.contains(&e.kind()));
        }
    }

    #[test]
    fn session_lines_say_their_format_and_older_ones_read_as_format_1() {
        let line = event_line(&Event::session(
            "s".into(),
            false,
            serde_json::json!({}),
            None,
        ));
        let v: serde_json::Value = serde_json::from_slice(&line.unwrap_or_default()).unwrap();
        assert_eq!(v["format"], FORMAT);
        assert_eq!(v["detector_version"], crate::analysis::bursts::VERSION);
        let old = r#"{"kind":"session","version":"0.1.0","source":"a.mp4","mirrored":false}"#;
        let read = read_log_str(&format!("{old}\n"));
        assert!(read.warnings.is_empty(), "{:?}", read.warnings);
        match read.events.first() {
            Some(Event::Session {
                format,
                detector_version,
                ..
            }) => assert_eq!((*format, *detector_version), (1, None)),
            other => panic!("not a session: {other:?}"),
        }
    }
}
