//! Writes a generated six-month treatment course as event logs, one per session, each dated
//! on its session line: the demonstration input of `twitchwatch course` (docs/course.md,
//! docs/course.png). Two injections (2026-02-02 and 2026-05-05); the detector's settings
//! change on 2026-04-01 so that the page shows its marker.
//!
//! `cargo run --example course_demo -- DIR`, then
//! `twitchwatch course DIR --treatment 2026-02-02=first --treatment 2026-05-05=second`.

use std::path::PathBuf;
use twitchwatch::outputs::course::simulate::{SimParams, generate};
use twitchwatch::outputs::course::{day_number, rfc3339_local};
use twitchwatch::outputs::events::{EventSink, JsonlSink, create_dir_private};

fn main() -> anyhow::Result<()> {
    let dir = PathBuf::from(
        std::env::args()
            .nth(1)
            .ok_or_else(|| anyhow::anyhow!("usage: course_demo DIR"))?,
    );
    create_dir_private(&dir)?;
    let first = day_number(jiff::civil::date(2026, 1, 5));
    let change = day_number(jiff::civil::date(2026, 4, 1));
    let p = SimParams::default();
    let sim = generate(&p, first, 7);
    for s in &sim.sessions {
        // The civil start as an instant in the local zone of this machine.
        let local = s.start_local_s as i64;
        let day = local.div_euclid(86_400);
        let dt = jiff::Timestamp::from_second(local)?
            .to_zoned_datetime(jiff::tz::TimeZone::UTC)
            .datetime();
        let instant = dt
            .to_zoned_datetime(jiff::tz::TimeZone::system())?
            .timestamp()
            .as_second();
        let recorded = rfc3339_local(instant);
        let name = format!("call-{}.events.jsonl", dt.strftime("%Y%m%d-%H%M"));
        let mut sink = JsonlSink::create(&dir.join(name))?;
        for e in &s.events {
            let mut e = e.clone();
            if let twitchwatch::outputs::events::Event::Session {
                recorded: r,
                settings,
                source,
                ..
            } = &mut e
            {
                *r = recorded.clone();
                *source = "video call (generated)".to_string();
                *settings = serde_json::json!({ "grid_step": if day >= change { 6 } else { 8 } });
            }
            sink.write(&e)?;
        }
        sink.finish()?;
    }
    eprintln!("{} logs in {}", sim.sessions.len(), dir.display());
    Ok(())
}
