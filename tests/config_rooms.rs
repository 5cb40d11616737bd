//! The sample `conf/huddle.conf` (issue 6): it loads, and each seed room
//! behaves as its comment promises when callers join it. The copy runs on
//! the manual timer; its sound files don't exist, which the module logs and
//! goes on without.
mod common;
use common::*;

/// The config file shipped in conf/.
const SAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/conf/huddle.conf");

fn sample() -> Harness {
    let text = std::fs::read_to_string(SAMPLE).unwrap();
    assert!(text.contains("timer = \"realtime\""));
    let text = text.replace("timer = \"realtime\"", "timer = \"manual\"");
    Harness::in_dir(scratch_dir("sample"), &text)
}

fn member<'a>(v: &'a serde_json::Value, channel: &str) -> &'a serde_json::Value {
    v["result"]["member_list"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["channel"] == channel)
        .unwrap()
}

fn json(h: &Harness, cmd: &str) -> serde_json::Value {
    serde_json::from_str(&h.api(cmd)).unwrap()
}

#[test]
fn the_sample_config_loads() {
    let h = sample();
    assert!(h.logged("loaded"), "{:?}", h.logs());
    // The running module lists every room the file names (read here with
    // toml_edit, not huddle's parser), each idle.
    let text = std::fs::read_to_string(SAMPLE).unwrap();
    let doc: toml_edit::DocumentMut = text.parse().unwrap();
    let names: Vec<&str> = doc["rooms"]
        .as_array_of_tables()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    let list = h.api("list");
    assert!(
        names.len() >= 6 && list.starts_with(&format!("+OK {} room(s)\n", names.len())),
        "{names:?}\n{list}"
    );
    for name in names {
        assert!(
            list.lines()
                .any(|l| l.starts_with(&format!("{name} ")) && l.contains("idle=yes")),
            "{name} is not listed idle:\n{list}"
        );
    }
}

#[test]
fn meeting_needs_no_pin_and_announces_joins() {
    let h = sample();
    let a = h.join("a", "meeting").unwrap();
    let b = h.join("b", "meeting").unwrap();
    assert_eq!(h.event_names().last().unwrap(), "conference-start");
    h.talk(&[(&a, A), (&b, B)], 600);
    assert!(h.hears("a", B, 400) > AUDIBLE);
    assert!(h.hears("b", A, 400) > AUDIBLE);
    h.clear_heard();
    let _c = h.join("c", "meeting").unwrap();
    h.advance(400);
    // The generated enter tone (the sample's enter sound is "").
    assert!(tone_amplitude(&h.heard("a").pcm, 523.25, RATE) > 300.0);
}

#[test]
fn webinar_waits_for_the_host_and_records() {
    let h = sample();
    // wideband: 48 kHz room; members send 16 kHz and are answered at 16 kHz.
    let a = h.join("a", "webinar").unwrap();
    assert_eq!(h.api("count webinar"), "+OK 0", "a PIN is asked");
    h.dtmf(&a, "2468#");
    let b = h.join("b", "webinar+2468").unwrap();
    assert!(h
        .events_named("recording-in-progress")
        .iter()
        .any(|e| field(e, "FriendlyName") == Some("webinar")));
    assert_eq!(json(&h, "json list webinar")["result"]["recording"], "on");
    h.talk(&[(&a, A), (&b, B)], 600);
    assert!(!h.event_names().contains(&"conference-start".to_string()));
    assert!(
        h.hears("a", B, 400) < SILENT,
        "attendees are not heard before the host"
    );
    let host = h.join("host", "webinar+8642").unwrap();
    assert_eq!(h.event_names().last().unwrap(), "conference-start");
    let v = json(&h, "json list webinar");
    assert_eq!(member(&v, "host")["moderator"], true);
    // mute_non_moderators: attendees stay muted, the host speaks.
    assert_eq!(member(&v, "a")["muted"], true);
    h.talk(&[(&a, A), (&b, B), (&host, C)], 600);
    assert!(h.hears("a", C, 400) > AUDIBLE);
    assert!(h.hears("host", A, 400) < SILENT);
}

#[test]
fn training_mutes_attendees_on_entry() {
    let h = sample();
    let a = h.join("a", "training+1357").unwrap();
    let t = h.join("t", "training+7531").unwrap();
    let joins = h.events_named("participant-join");
    assert_eq!(field(&joins[0], "Muted"), Some("true"));
    assert_eq!(field(&joins[1], "Muted"), Some("false"));
    assert_eq!(h.events_named("recording-in-progress").len(), 1);
    h.talk(&[(&a, A), (&t, C)], 600);
    assert!(h.hears("t", A, 400) < SILENT);
    assert!(h.hears("a", C, 400) > AUDIBLE);
    // The trainer may let an attendee speak.
    h.api("unmute training 1");
    h.talk(&[(&a, A), (&t, C)], 600);
    assert!(h.hears("t", A, 400) > AUDIBLE);
}

#[test]
fn confidential_needs_pin_and_host_and_never_records() {
    let h = sample();
    // Another room's PIN up front: a failed try, then the caller is asked.
    let x = h.join("x", "confidential+1357").unwrap();
    assert_eq!(h.events_named("pin-failed").len(), 1);
    assert_eq!(h.api("count confidential"), "+OK 0");
    h.hangup(&x);
    let a = h.join("a", "confidential").unwrap();
    h.dtmf(&a, "482916#");
    let b = h.join("b", "confidential+482916").unwrap();
    // The room announces callers by name: each first says it (tone + 2 s).
    h.talk(&[(&a, A), (&b, B)], 2600);
    assert_eq!(h.events_named("participant-join").len(), 2);
    h.talk(&[(&a, A), (&b, B)], 600);
    assert!(
        h.hears("a", B, 400) < SILENT,
        "nobody talks before the host"
    );
    assert!(!h.event_names().contains(&"conference-start".to_string()));
    let host = h.join("host", "confidential+619284").unwrap();
    h.talk(&[(&host, C)], 2600);
    let names = h.event_names();
    let start = names
        .iter()
        .position(|e| e == "conference-start")
        .expect("the host starts it");
    assert_eq!(
        names[start - 1],
        "participant-join",
        "right after the host got in"
    );
    h.talk(&[(&a, A), (&b, B), (&host, C)], 600);
    assert!(h.hears("a", B, 400) > AUDIBLE);
    assert!(h.hears("a", C, 400) > AUDIBLE);
    let r = h.api("record confidential start");
    assert!(r.starts_with("-ERR refused (300)"), "{r}");
    assert!(h.events_named("recording-in-progress").is_empty());
}

#[test]
fn openline_needs_no_pin() {
    let h = sample();
    let a = h.join("a", "openline").unwrap();
    let b = h.join("b", "openline").unwrap();
    assert_eq!(h.api("count openline"), "+OK 2");
    assert_eq!(h.event_names().last().unwrap(), "conference-start");
    // narrowband: an 8 kHz room; 16 kHz callers are heard through it.
    h.talk(&[(&a, A), (&b, B)], 600);
    assert!(h.hears("a", B, 400) > AUDIBLE);
    assert!(h.hears("b", A, 400) > AUDIBLE);
    assert!(h.events_named("recording-in-progress").is_empty());
}

#[test]
fn openline_plays_no_join_tones() {
    // Joins are announced in meeting and not in openline
    // (announce_join_leave = false): with nobody talking, what the others
    // hear while a third caller joins is a beep or nothing at all.
    let h = sample();
    for room in ["meeting", "openline"] {
        h.join(&format!("{room}-a"), room).unwrap();
        h.join(&format!("{room}-b"), room).unwrap();
    }
    h.advance(1000);
    h.clear_heard();
    for room in ["meeting", "openline"] {
        h.join(&format!("{room}-c"), room).unwrap();
    }
    h.advance(600);
    assert!(rms(&h.heard("meeting-a").pcm) > 100.0, "meeting beeps");
    for ch in ["openline-a", "openline-b"] {
        let heard = h.heard(ch);
        assert!(heard.frames > 0, "{ch} got audio");
        assert_eq!(rms(&heard.pcm), 0.0, "{ch} hears no join tone");
    }
}

#[test]
fn confidential_plays_a_callers_recorded_name_to_the_room_on_entry() {
    const NAME: f64 = 1300.0;
    let h = sample();
    // The host and one caller, each naming themselves first (a tone, then
    // two seconds); the host's arrival starts the conference.
    let a = h.join("a", "confidential+482916").unwrap();
    h.talk(&[(&a, A)], 3000);
    let host = h.join("host", "confidential+619284").unwrap();
    h.talk(&[(&host, C)], 3000);
    assert!(h.event_names().contains(&"conference-start".to_string()));
    // A late caller says its name (a 1300 Hz "voice"), then is quiet.
    let late = h.join("late", "confidential+482916").unwrap();
    h.talk(&[(&late, NAME)], 2000);
    let mut waited = 0;
    while h.events_named("participant-join").len() < 3 && waited < 5000 {
        h.advance(20);
        waited += 20;
    }
    assert_eq!(h.events_named("participant-join").len(), 3, "late got in");
    h.clear_heard();
    h.advance(2500);
    for ch in ["a", "host"] {
        assert!(
            h.hears(ch, NAME, 2500) > AUDIBLE / 4.0,
            "{ch} hears the late caller's name on entry"
        );
    }
    assert!(
        h.hears("late", NAME, 2500) < SILENT,
        "the caller does not hear its own name"
    );
}

#[test]
fn training_host_pin_makes_a_moderator() {
    let h = sample();
    let a = h.join("a", "training+1357").unwrap();
    let t = h.join("t", "training+7531").unwrap();
    let v = json(&h, "json list training");
    assert_eq!(member(&v, "t")["moderator"], true);
    assert_eq!(member(&v, "a")["moderator"], false);
    // Shown by what the keys do: the attendee's *92 is refused, the
    // trainer's locks the room against the next caller.
    h.dtmf(&a, "*92");
    h.advance(2_100);
    assert!(h.events_named("conference-lock").is_empty());
    h.dtmf(&t, "*92");
    h.advance(2_100);
    assert_eq!(h.events_named("conference-lock").len(), 1);
    assert!(h.join("x", "training+1357").is_err());
    assert_eq!(h.hangups(), [("x".to_string(), 21)]);
}
