//! The README's "Seed fields and huddle's" table against what huddle sends:
//! a conference that produces every kind of event, and the table parsed from
//! the README, so neither can change without the other.
//!
//! Both directions are checked: every huddle field the table names arrives
//! on the events its "on" column says, a field the table says is not sent
//! never arrives, and every field that arrives is in the table.
mod common;
use common::*;

use std::collections::BTreeSet;

use huddle::room::io::Event;

struct Row {
    seed: String,
    fields: Vec<String>,
    on: String,
}

fn backticked(cell: &str) -> Vec<String> {
    cell.split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect()
}

/// The rows of the table under "### Seed fields and huddle's".
fn readme_rows() -> Vec<Row> {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"))
        .expect("README.md reads");
    let section = readme
        .split("\n### Seed fields and huddle's\n")
        .nth(1)
        .expect("the README has the section");
    let section = section.split("\n#").next().unwrap();
    let rows: Vec<Row> = section
        .lines()
        .filter(|l| l.starts_with('|'))
        .skip(2) // header and separator
        .map(|l| {
            let cells: Vec<&str> = l.trim_matches('|').split('|').map(str::trim).collect();
            assert_eq!(cells.len(), 4, "a row of four cells: {l}");
            let seed_fields = backticked(cells[0]);
            let fields = match cells[1] {
                "the same" => seed_fields,
                c => backticked(c),
            };
            Row {
                seed: cells[0].to_string(),
                fields,
                on: cells[2].to_string(),
            }
        })
        .collect();
    assert!(rows.len() > 10, "the table was found: {} rows", rows.len());
    rows
}

/// Whether `event` is one of those an "on" cell names.
fn is_on(on: &str, event: &Event) -> bool {
    let name = event.name.as_str();
    let mut any = false;
    for class in on.split(", ") {
        let class = class.trim_end_matches(" once set");
        any |= match class {
            "" | "every event" => true,
            "participant events" => name.starts_with("participant-"),
            "recording events" => name.starts_with("recording-"),
            "coaching members' events" => event.get("Coaching") == Some("true"),
            _ => {
                let named = backticked(class);
                assert_eq!(named.len(), 1, "an 'on' cell this test understands: {on}");
                named[0] == name
            }
        };
    }
    any
}

/// One conference that makes every event the table speaks of.
fn events_of_a_full_conference() -> Vec<Event> {
    let h = Harness::new("[[rooms]]\nname = \"pinned\"\npin = \"1234\"\n");
    let cb = "http://127.0.0.1:9";
    let a = h
        .join(
            "a",
            &format!(
                "{{statusCallback={cb}/s,statusCallbackMethod=POST,\
                 recordingStatusCallback={cb}/r,recordingStatusCallbackMethod=POST,\
                 recordingStatusCallbackEvent=in-progress completed failed absent,\
                 eventCallbackUrl={cb}/e,label=host,beep=false}}seed"
            ),
        )
        .unwrap();
    let b = h.join("b", "{beep=false}seed").unwrap();
    let c = h.join("c", "{coach=CA-a,beep=false}seed").unwrap();
    h.api("mute seed 2");
    h.api("hold seed 2");
    h.api("unhold seed 2");
    h.api("record seed start");
    h.talk(&[(&a, A)], 1_000);
    h.api("record seed stop");
    h.api("record seed start ../outside.wav");
    h.api("lock seed");
    assert!(h.join("d", "{beep=false}seed").is_err(), "locked");
    h.api("unlock seed");
    let p = h.join("p", "pinned").unwrap();
    h.dtmf(&p, "9999#");
    h.advance(100);
    h.hangup(&c);
    h.hangup(&b);
    h.hangup(&a);
    h.advance(100);
    h.events()
}

#[test]
fn the_readme_seed_table_matches_the_fields_huddle_sends() {
    let rows = readme_rows();
    let events = events_of_a_full_conference();
    let names: BTreeSet<&str> = events.iter().map(|e| e.name.as_str()).collect();
    for needed in [
        "conference-start",
        "conference-end",
        "participant-join",
        "participant-leave",
        "participant-coach",
        "recording-in-progress",
        "recording-completed",
        "recording-failed",
        "pin-failed",
        "join-refused",
    ] {
        assert!(names.contains(needed), "{needed} not made: {names:?}");
    }

    let mut in_table = BTreeSet::new();
    for row in &rows {
        let not_sent = row.fields.is_empty();
        let fields = if not_sent {
            backticked(&row.seed)
        } else {
            row.fields.clone()
        };
        for field in fields {
            let carrying: Vec<&Event> = events.iter().filter(|e| e.get(&field).is_some()).collect();
            if not_sent {
                assert!(
                    carrying.is_empty(),
                    "the README says {field} is not sent, but {} carries it",
                    carrying[0].name
                );
                continue;
            }
            in_table.insert(field.clone());
            // "once set": on the events of the conference whose first
            // participant set the callbacks (not the PIN room's).
            let due: Vec<&Event> = events
                .iter()
                .filter(|e| is_on(&row.on, e))
                .filter(|e| !row.on.ends_with("once set") || e.get("FriendlyName") == Some("seed"))
                .collect();
            assert!(!due.is_empty(), "no event is '{}' ({field})", row.on);
            // "every event once set": the first participant set them, so
            // every event of the conference has them.
            if row.on.is_empty() {
                assert!(!carrying.is_empty(), "{field} is in no event");
            } else {
                for e in due {
                    assert!(
                        e.get(&field).is_some(),
                        "the README says {field} is on {}, but {} lacks it: {:?}",
                        row.on,
                        e.name,
                        e.fields
                    );
                }
            }
        }
    }
    for e in &events {
        for (key, _) in &e.fields {
            assert!(
                in_table.contains(*key),
                "{} carries {key}, which the README's seed table does not list",
                e.name
            );
        }
    }
}
