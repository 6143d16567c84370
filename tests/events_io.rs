//! Event sinks and the log reader: round trips, crash tolerance, permissions.

use proptest::prelude::*;
use std::io::Write;
use twitchwatch::analysis::anatomy::{RegionKind, Side};
use twitchwatch::outputs::events::*;

fn twitch(start_s: f64, side: Side, evidence: bool) -> Twitch {
    Twitch {
        start_s,
        end_s: start_s + 0.5,
        side,
        regions: vec![RegionKind::Eye, RegionKind::Cheek],
        peak: 4.25,
        asymmetry: 0.75,
        pattern: Pattern::Clonic,
        confidence: 0.875,
        evidence: if evidence {
            vec![
                RegionEvidence {
                    region: RegionKind::Eye,
                    left: 4.25,
                    right: 0.5,
                },
                RegionEvidence {
                    region: RegionKind::Cheek,
                    left: 2.0,
                    right: 0.25,
                },
            ]
        } else {
            vec![]
        },
        wall_start: None,
        wall_end: None,
        glasses: false,
        candidate: None,
    }
}

fn sample_events() -> Vec<Event> {
    vec![
        Event::Session {
            format: twitchwatch::outputs::events::FORMAT,
            version: "0.1.0".into(),
            detector_version: Some(1),
            source: "clip.mp4".into(),
            mirrored: false,
            settings: serde_json::json!({"threshold": 3.5}),
            media: Some(twitchwatch::outputs::events::Media {
                rotation: 90,
                rotation_from: "container".into(),
                flipped: true,
                capture_fps: Some(240.0),
                video_streams: Some(2),
            }),
            recorded: Some("2025-01-01T09:59:00+01:00".into()),
        },
        Event::Twitch(twitch(1.0, Side::Left, true)),
        Event::DecodeGap {
            start_s: 1.5,
            end_s: 1.75,
        },
        Event::FaceLost {
            start_s: 2.0,
            end_s: 2.5,
        },
        Event::Warning {
            t_s: 3.0,
            message: "frame dropped".into(),
        },
        Event::Twitch(Twitch {
            wall_start: Some("2025-01-01T10:00:00Z".into()),
            wall_end: Some("2025-01-01T10:00:01Z".into()),
            pattern: Pattern::Tonic,
            ..twitch(4.0, Side::Right, false)
        }),
        Event::Summary {
            duration_s: 10.0,
            observed_s: 9.5,
            frames: 300,
            twitches_left: 1,
            twitches_right: 1,
            per_minute_left: 6.0,
            per_minute_right: 6.0,
            frames_dropped: None,
            error: None,
            decode_gaps: Vec::new(),
        },
    ]
}

fn write_all(sink: &mut dyn EventSink, events: &[Event]) {
    for e in events {
        sink.write(e).unwrap();
    }
    sink.finish().unwrap();
}

fn lines_of(events: &[Event]) -> Vec<u8> {
    let mut bytes = Vec::new();
    for e in events {
        bytes.extend_from_slice(&event_line(e).unwrap());
    }
    bytes
}

#[test]
fn jsonl_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("log.jsonl");
    let events = sample_events();
    write_all(&mut JsonlSink::create(&path).unwrap(), &events);
    let text = std::fs::read_to_string(&path).unwrap();
    assert_eq!(text.lines().count(), events.len());
    assert!(text.ends_with('\n'));
    let log = read_log(&path).unwrap();
    assert!(log.warnings.is_empty(), "{:?}", log.warnings);
    assert_eq!(log.events, events);
    assert_eq!(log.twitches().count(), 2);
}

#[test]
fn lines_are_on_disk_before_finish() {
    // A crash before finish must lose nothing already written.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("log.jsonl");
    let mut sink = JsonlSink::create(&path).unwrap();
    let events = sample_events();
    sink.write(&events[0]).unwrap();
    sink.write(&events[1]).unwrap();
    let log = read_log(&path).unwrap();
    assert_eq!(log.events, events[..2].to_vec());
    drop(sink);
}

#[test]
fn create_truncates_and_append_does_not() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("log.jsonl");
    let events = sample_events();
    write_all(&mut JsonlSink::create(&path).unwrap(), &events[..2]);
    write_all(&mut JsonlSink::append(&path).unwrap(), &events[2..4]);
    assert_eq!(read_log(&path).unwrap().events, events[..4].to_vec());
    write_all(&mut JsonlSink::create(&path).unwrap(), &events[4..]);
    assert_eq!(read_log(&path).unwrap().events, events[4..].to_vec());
}

#[cfg(unix)]
#[test]
fn new_files_are_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    let a = dir.path().join("a.jsonl");
    let b = dir.path().join("b.jsonl");
    let c = dir.path().join("c.csv");
    let d = dir.path().join("d.csv");
    JsonlSink::create(&a).unwrap().finish().unwrap();
    JsonlSink::append(&b).unwrap().finish().unwrap();
    CsvSink::create(&c).unwrap().finish().unwrap();
    CsvSink::append(&d).unwrap().finish().unwrap();
    for p in [&a, &b, &c, &d] {
        assert_eq!(mode(p), 0o600, "{}", p.display());
    }
}

#[test]
fn csv_has_header_and_one_row_per_twitch() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("log.csv");
    write_all(&mut CsvSink::create(&path).unwrap(), &sample_events());
    let text = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[0], CSV_HEADER);
    assert!(
        lines[0].starts_with(
            "start_s,end_s,duration_s,side,regions,peak,asymmetry,pattern,confidence,"
        )
    );
    assert_eq!(
        lines[1],
        "1.000,1.500,0.500,left,eye+cheek,4.250,0.750,clonic,0.875,4.250,0.500,2.000,0.250,,"
    );
    assert_eq!(
        lines[2],
        "4.000,4.500,0.500,right,eye+cheek,4.250,0.750,tonic,0.875,,,,,,"
    );
    let columns = lines[0].split(',').count();
    assert!(lines.iter().all(|l| l.split(',').count() == columns));

    // Appending does not repeat the header.
    write_all(&mut CsvSink::append(&path).unwrap(), &sample_events()[1..2]);
    let text = std::fs::read_to_string(&path).unwrap();
    assert_eq!(text.lines().count(), 4);
    assert_eq!(text.matches("start_s").count(), 1);
}

#[test]
fn multi_sink_fans_out() {
    let dir = tempfile::tempdir().unwrap();
    let jsonl = dir.path().join("log.jsonl");
    let csv = dir.path().join("log.csv");
    let mut multi = MultiSink(vec![
        Box::new(JsonlSink::create(&jsonl).unwrap()),
        Box::new(CsvSink::create(&csv).unwrap()),
        Box::new(MemorySink::default()),
    ]);
    write_all(&mut multi, &sample_events());
    assert_eq!(read_log(&jsonl).unwrap().events, sample_events());
    assert_eq!(std::fs::read_to_string(&csv).unwrap().lines().count(), 3);
}

#[test]
fn multi_sink_keeps_going_after_a_failure() {
    struct Failing;
    impl EventSink for Failing {
        fn write(&mut self, _: &Event) -> std::io::Result<()> {
            Err(std::io::Error::other("disk full"))
        }
        fn finish(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let jsonl = dir.path().join("log.jsonl");
    let mut multi = MultiSink(vec![
        Box::new(Failing),
        Box::new(JsonlSink::create(&jsonl).unwrap()),
    ]);
    let err = multi.write(&sample_events()[1]).unwrap_err();
    assert_eq!(err.to_string(), "disk full");
    multi.finish().unwrap();
    assert_eq!(read_log(&jsonl).unwrap().events.len(), 1);
}

#[test]
fn memory_sink_collects() {
    let mut sink = MemorySink::default();
    write_all(&mut sink, &sample_events());
    assert_eq!(sink.events, sample_events());
    assert!(sink.finished);
}

#[test]
fn half_written_last_line_is_skipped_with_warning() {
    let mut bytes = lines_of(&sample_events()[..3]);
    let full = event_line(&sample_events()[3]).unwrap();
    bytes.extend_from_slice(&full[..full.len() / 2]);
    let log = read_log_bytes(&bytes);
    assert_eq!(log.events, sample_events()[..3].to_vec());
    assert_eq!(
        log.warnings,
        vec!["line 4 is incomplete (the writer was interrupted?)".to_string()]
    );
}

#[test]
fn crash_mid_line_on_disk() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("log.jsonl");
    {
        let mut f = std::fs::File::create(&path).unwrap();
        f.write_all(&event_line(&sample_events()[0]).unwrap())
            .unwrap();
        f.write_all(br#"{"kind":"twitch","start_s":1.0,"en"#)
            .unwrap();
    }
    let log = read_log(&path).unwrap();
    assert_eq!(log.events.len(), 1);
    assert_eq!(log.warnings.len(), 1);
    assert!(log.warnings[0].contains("incomplete"));
}

#[test]
fn last_line_without_newline_but_complete_is_kept() {
    let mut bytes = lines_of(&sample_events());
    bytes.pop();
    let log = read_log_bytes(&bytes);
    assert_eq!(log.events, sample_events());
    assert!(log.warnings.is_empty());
}

#[test]
fn unknown_kinds_skipped_silently_bad_known_kinds_warned() {
    let text = concat!(
        "{\"kind\":\"heartbeat\",\"t_s\":1.0}\n",
        "\n",
        "   \n",
        "{\"kind\":\"face_lost\",\"start_s\":1.0,\"end_s\":2.0}\r\n",
        "{\"kind\":\"twitch\",\"start_s\":\"soon\"}\n",
        "not json at all\n",
        "[1,2,3]\n",
        "{\"kind\":\"warning\",\"t_s\":1.5,\"message\":\"m\",\"extra\":true}\n",
    );
    let log = read_log_str(text);
    assert_eq!(
        log.events,
        vec![
            Event::FaceLost {
                start_s: 1.0,
                end_s: 2.0
            },
            Event::Warning {
                t_s: 1.5,
                message: "m".into()
            }
        ]
    );
    assert_eq!(log.warnings.len(), 3, "{:?}", log.warnings);
    assert!(
        log.warnings[0].starts_with("line 5: invalid \"twitch\" event"),
        "{}",
        log.warnings[0]
    );
    assert!(
        log.warnings[1].starts_with("line 6 is not valid JSON"),
        "{}",
        log.warnings[1]
    );
    assert!(
        log.warnings[2].starts_with("line 7 has no \"kind\""),
        "{}",
        log.warnings[2]
    );
}

#[test]
fn invalid_utf8_is_a_warning() {
    let mut bytes = event_line(&sample_events()[2]).unwrap();
    bytes.extend_from_slice(b"{\"kind\":\"warning\",\"message\":\"\xff\xfe\"}\n");
    bytes.extend_from_slice(&event_line(&sample_events()[3]).unwrap());
    let log = read_log_bytes(&bytes);
    assert_eq!(log.events, sample_events()[2..4].to_vec());
    assert_eq!(
        log.warnings,
        vec!["line 2 is not valid UTF-8; skipped".to_string()]
    );
}

#[test]
fn empty_log() {
    assert_eq!(read_log_str(""), LogContents::default());
    assert_eq!(read_log_str("\n\n"), LogContents::default());
}

#[test]
fn missing_log_is_an_error_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nope.jsonl");
    let err = read_log(&path).unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("nope.jsonl"), "{msg}");
    assert!(!msg.contains('\n'));
}

#[test]
fn check_writable_cases() {
    let dir = tempfile::tempdir().unwrap();
    // New file in an existing directory: fine, and nothing is left behind.
    check_writable(&dir.path().join("new.jsonl")).unwrap();
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    // Existing file: fine, and not truncated.
    let existing = dir.path().join("old.jsonl");
    std::fs::write(&existing, "keep\n").unwrap();
    check_writable(&existing).unwrap();
    assert_eq!(std::fs::read_to_string(&existing).unwrap(), "keep\n");
    // Missing directory and a directory as target: errors.
    let err = check_writable(&dir.path().join("missing/log.jsonl")).unwrap_err();
    assert!(err.to_string().contains("does not exist"), "{err}");
    assert!(check_writable(dir.path()).is_err());
}

#[cfg(unix)]
#[test]
fn check_writable_read_only_dir() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let ro = dir.path().join("ro");
    std::fs::create_dir(&ro).unwrap();
    std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o500)).unwrap();
    // Root ignores directory permissions: find out by trying to write there directly.
    let privileged = std::fs::write(ro.join("x"), "x").is_ok();
    let _ = std::fs::remove_file(ro.join("x"));
    let result = check_writable(&ro.join("log.jsonl"));
    std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o700)).unwrap();
    if privileged {
        eprintln!("note: running with privileges that ignore directory permissions; not asserted");
    } else {
        let err = result.unwrap_err();
        assert!(err.to_string().contains("not writable"), "{err}");
    }
}

proptest! {
    #[test]
    fn reader_never_panics_on_strings(s in ".*") {
        let _ = read_log_str(&s);
    }

    #[test]
    fn reader_never_panics_on_bytes(b in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = read_log_bytes(&b);
    }

    #[test]
    fn reader_never_panics_on_mangled_logs(cut in 0usize..2000, junk in "[{}\"\\[\\]:,a-z0-9\n\r ]{0,40}") {
        let mut bytes = lines_of(&sample_events());
        let cut = cut.min(bytes.len());
        bytes.truncate(cut);
        bytes.extend_from_slice(junk.as_bytes());
        let _ = read_log_bytes(&bytes);
    }

    #[test]
    fn any_prefix_keeps_all_complete_lines(cut in 0usize..2000) {
        let mut bytes = Vec::new();
        let mut ends = Vec::new();
        for e in sample_events() {
            bytes.extend_from_slice(&event_line(&e).unwrap());
            ends.push(bytes.len());
        }
        let cut = cut.min(bytes.len());
        let complete = ends.iter().filter(|&&end| end <= cut).count();
        let log = read_log_bytes(&bytes[..cut]);
        prop_assert_eq!(&log.events[..complete], &sample_events()[..complete]);
        prop_assert!(log.events.len() <= complete + 1);
        prop_assert!(log.warnings.len() <= 1);
    }
}
