//! Issue 19: what reaches the application through events and `<Conference>`
//! attributes, on the manual clock. Each test names the defect it guards.
mod common;
use common::*;

#[test]
fn suppress_events_drops_words_and_event_names() {
    let h = Harness::with_config(&format!(
        "{MODULE_MANUAL}suppress_events = [\"join\", \"speaker\", \"pin-failed\"]\n\
         [[rooms]]\nname = \"p\"\npin = \"1234\"\n"
    ));
    let a = h.join("a", "{beep=false}r").unwrap();
    h.join("b", "{beep=false}r").unwrap();
    h.api("mute r 1");
    h.talk(&[(&a, A)], 2000);
    let p = h.join("c", "p").unwrap();
    h.dtmf(&p, "1111#");
    h.advance(100);
    let names = h.event_names();
    for gone in [
        "participant-join",
        "participant-speech-start",
        "participant-speech-while-muted",
        "pin-failed",
    ] {
        assert!(!names.iter().any(|n| n == gone), "{gone} in {names:?}");
    }
    assert!(names.iter().any(|n| n == "conference-start"), "{names:?}");
    assert!(names.iter().any(|n| n == "participant-mute"), "{names:?}");
}

#[test]
fn an_unknown_suppress_word_names_its_line() {
    let dir = scratch_dir("suppress");
    let path = dir.join("huddle.conf");
    std::fs::write(
        &path,
        format!("{MODULE_MANUAL}suppress_events = [\"start\", \"talking\"]\n"),
    )
    .unwrap();
    let host = std::sync::Arc::new(FakeHost::default());
    let err = match huddle::runtime::Module::load(host, &path) {
        Ok(_) => panic!("a config with an unknown event loaded"),
        Err(e) => e.to_string(),
    };
    // MODULE_MANUAL is 6 lines after its leading newline: the key is on line 7.
    assert!(err.contains("huddle.conf:7"), "{err}");
    assert!(err.contains("talking"), "{err}");
}

/// Joins `channel` to a naming room and has it say its name (a tone at
/// `voice`), then lets the naming time (prompt tone + 2 s) run out.
fn join_and_name(h: &Harness, channel: &str, app: &str, pin: Option<&str>, voice: f64) {
    let p = h.join(channel, app).unwrap();
    if let Some(pin) = pin {
        h.dtmf(&p, &format!("{pin}#"));
    }
    h.talk(&[(&p, voice)], 2000);
    h.advance(600);
}

#[test]
fn a_name_is_heard_when_its_join_starts_the_conference() {
    let h = Harness::new("[[rooms]]\nname = \"named\"\nannounce_caller_name = true\n");
    join_and_name(&h, "a", "named", None, A);
    assert!(!h.event_names().contains(&"conference-start".to_string()));
    h.clear_heard();
    join_and_name(&h, "b", "named", None, D);
    assert!(h.event_names().contains(&"conference-start".to_string()));
    h.advance(1500);
    assert!(
        h.hears("a", D, 2000) > AUDIBLE / 4.0,
        "the waiting member hears the name of the caller who started the conference"
    );
}

#[test]
fn a_name_is_heard_after_pin_and_host_pin_when_waiting_ends() {
    let h = Harness::new(
        "[[rooms]]\nname = \"named\"\nannounce_caller_name = true\npin = \"1234\"\n\
         host_pin = \"9999\"\nwait_for_host = true\n",
    );
    join_and_name(&h, "a", "named", Some("1234"), A);
    join_and_name(&h, "b", "named", Some("1234"), B);
    assert!(
        !h.event_names().contains(&"conference-start".to_string()),
        "attendees wait for the host"
    );
    h.clear_heard();
    join_and_name(&h, "host", "named", Some("9999"), D);
    assert!(h.event_names().contains(&"conference-start".to_string()));
    h.advance(1500);
    for who in ["a", "b"] {
        assert!(
            h.hears(who, D, 2000) > AUDIBLE / 4.0,
            "{who} hears the host's name when waiting ends"
        );
    }
    assert!(h.hears("host", D, 2000) < SILENT, "not its own name");
}

fn conference_end(h: &Harness) -> huddle::room::io::Event {
    let ends = h.events_named("conference-end");
    assert_eq!(ends.len(), 1, "{:?}", h.event_names());
    ends[0].clone()
}

#[test]
fn conference_end_names_the_last_leaver_and_the_duration() {
    let h = Harness::new("");
    let a = h.join("a", "{beep=false}r").unwrap();
    let b = h.join("b", "{beep=false}r").unwrap();
    h.advance(7_300);
    h.hangup(&a);
    h.advance(1_000);
    h.hangup(&b);
    let end = conference_end(&h);
    assert_eq!(
        field(&end, "ReasonConferenceEnded"),
        Some("last-participant-left")
    );
    assert_eq!(field(&end, "CallSidEndingConference"), Some("CA-b"));
    assert_eq!(field(&end, "CallSidLegacy"), Some("CA-b"));
    // Started when b joined; ended 8.3 s later: whole seconds.
    assert_eq!(field(&end, "ConferenceDuration"), Some("8"));
}

#[test]
fn conference_end_names_the_end_on_exit_caller_and_is_empty_for_the_api() {
    let h = Harness::new("");
    let a = h.join("a", "{endConferenceOnExit=true}r").unwrap();
    h.join("b", "r").unwrap();
    h.advance(2_000);
    h.hangup(&a);
    let end = conference_end(&h);
    assert_eq!(field(&end, "CallSidEndingConference"), Some("CA-a"));
    assert_eq!(field(&end, "ConferenceDuration"), Some("2"));

    let h = Harness::new("");
    h.join("a", "r").unwrap();
    h.join("b", "r").unwrap();
    assert!(h.api("end r").starts_with("+OK"));
    let end = conference_end(&h);
    assert_eq!(field(&end, "CallSidEndingConference"), Some(""));
    assert_eq!(field(&end, "ConferenceDuration"), Some("0"));
}

#[test]
fn participant_events_carry_call_sid_legacy() {
    let h = Harness::new("");
    h.join("a", "r").unwrap();
    let join = &h.events_named("participant-join")[0];
    assert_eq!(field(join, "CallSidLegacy"), Some("CA-a"));
}

#[test]
fn event_callback_url_is_a_call_attribute_the_first_participant_sets() {
    let h = Harness::new("");
    let a = h
        .join("a", "{eventCallbackUrl=http://127.0.0.1:9/first}r")
        .expect("eventCallbackUrl is accepted");
    let b = h
        .join("b", "{eventCallbackUrl=http://127.0.0.1:9/second}r")
        .unwrap();
    h.hangup(&a);
    h.hangup(&b);
    let end = conference_end(&h);
    assert_eq!(
        field(&end, "EventCallbackUrl"),
        Some("http://127.0.0.1:9/first")
    );
    // Only conference-end carries it (the attribute is about the end).
    let join = &h.events_named("participant-join")[0];
    assert_eq!(field(join, "EventCallbackUrl"), None);
}

/// RMS of what `a` hears in the 600 ms after `record r start`.
fn beep_after_record_start(profile: &str, first_app: &str) -> f64 {
    let h = Harness::new(profile);
    h.join("a", first_app).unwrap();
    h.join("b", "{beep=false}r").unwrap();
    h.advance(200);
    h.clear_heard();
    assert!(h.api("record r start").starts_with("+OK"));
    h.advance(600);
    rms(&h.heard("a").pcm)
}

#[test]
fn record_beep_is_a_call_attribute_that_overrides_the_profile() {
    assert_eq!(
        beep_after_record_start("", "{beep=false,recordBeep=false}r"),
        0.0,
        "recordBeep=false silences the default beep"
    );
    assert!(
        beep_after_record_start(
            "[profiles.default]\nrecord_beep = false\n",
            "{beep=false,recordBeep=true}r"
        ) > 500.0,
        "recordBeep=true beeps although the profile is off"
    );
    assert!(
        beep_after_record_start("", "{beep=false}r") > 500.0,
        "no attribute: the profile decides"
    );
}

#[test]
fn recording_timeout_is_a_call_attribute() {
    let h = Harness::new("");
    let a = h.join("a", "{beep=false,recordingTimeout=2}r").unwrap();
    h.join("b", "{beep=false,recordingTimeout=60}r").unwrap();
    assert!(h.api("record r start").starts_with("+OK"));
    // Speech keeps it going; then 2 s of quiet stop it (the first setter's
    // value, not the second caller's 60 s nor the profile's "never").
    h.talk(&[(&a, A)], 1_000);
    h.advance(1_900);
    assert!(h.events_named("recording-completed").is_empty());
    h.advance(300);
    assert_eq!(
        h.events_named("recording-completed").len(),
        1,
        "{:?}",
        h.event_names()
    );
}

#[test]
fn bad_values_of_the_new_attributes_are_refused() {
    let h = Harness::new("");
    for app in [
        "{recordBeep=maybe}r",
        "{recordingTimeout=-1}r",
        "{recordingTimeout=86401}r",
        "{eventCallbackUrl=}r",
    ] {
        assert!(h.join("x", app).is_err(), "{app} was accepted");
    }
}

const IDLE_ROOMS: &str = r#"
[[rooms]]
name = "board"
pin = "1234"

[[rooms]]
name = "sales"
account = "acme"
"#;

#[test]
fn configured_rooms_are_listed_idle_before_anyone_calls() {
    let h = Harness::new(IDLE_ROOMS);
    assert_eq!(
        h.api("list"),
        "+OK 2 room(s)\n\
         board members=0 started=no locked=no recording=off rate=16000 runtime=0s idle=yes\n\
         acme/sales members=0 started=no locked=no recording=off rate=16000 runtime=0s idle=yes\n"
    );
    let v: serde_json::Value = serde_json::from_str(&h.api("json list board")).unwrap();
    assert_eq!(v["result"]["idle"], true, "{v}");
    assert_eq!(h.api("count board"), "+OK 0");
    assert_eq!(h.api("get board pin"), "+OK pin set");
    // Once a conference runs there, the room is listed once, live.
    let _a = h.join("a", "board+1234").unwrap();
    let list = h.api("list");
    assert!(
        list.contains("board members=1 started=no locked=no"),
        "{list}"
    );
    assert_eq!(list.matches("board").count(), 1, "{list}");
    // Member commands on an idle room say what is wrong.
    let kick = h.api("kick acme/sales all");
    assert!(
        kick.starts_with("-ERR unknown-room (200)") && kick.contains("idle"),
        "{kick}"
    );
    assert!(h
        .api("get nowhere pin")
        .starts_with("-ERR unknown-room (200)"));
}

#[test]
fn an_idle_room_prepared_by_the_operator_keeps_it_for_its_first_caller() {
    let h = Harness::new(IDLE_ROOMS);
    assert!(h.api("lock board").starts_with("+OK"));
    assert_eq!(h.api("get board locked"), "+OK locked true");
    assert!(h
        .api("list")
        .contains("board members=0 started=no locked=yes"));
    // The prepared lock holds the first caller out, without events of its own.
    assert!(h.join("a", "board+1234").is_err());
    assert!(h.join("a2", "board+1234").is_err(), "and the next one");
    assert_eq!(h.events_named("conference-lock").len(), 0);
    assert!(h.api("unlock board").starts_with("+OK"));
    // A new PIN prepared before anyone calls is the one asked for.
    assert!(h.api("pin board 777").starts_with("+OK"));
    assert!(h.api("set board max_members 2").starts_with("+OK"));
    assert_eq!(h.api("get board max_members"), "+OK max_members 2");
    h.join("old", "board+1234").ok();
    assert!(
        h.events_named("participant-join").is_empty(),
        "the old PIN does not admit"
    );
    assert!(
        h.events_named("pin-failed").len() == 1,
        "{:?}",
        h.event_names()
    );
    let _a = h.join("a", "board+777").unwrap();
    let _b = h.join("b", "board+777").unwrap();
    assert!(
        h.join("c", "board+777").is_err(),
        "the prepared limit holds"
    );
    assert_eq!(h.api("get board max_members"), "+OK max_members 2");
    // The room's own rules judge a prepared change too.
    assert!(h
        .api("hostpin acme/sales 99")
        .starts_with("-ERR bad-arguments"));
    // A reload makes the file the authority again.
    assert!(h.api("set acme/sales max_members 3").starts_with("+OK"));
    assert!(h.api("reload").starts_with("+OK"));
    assert_eq!(h.api("get acme/sales max_members"), "+OK max_members 25");
}

#[test]
fn announce_caller_name_is_a_per_call_choice() {
    // The room does not announce names; this caller asks to be announced.
    let h = Harness::new("");
    let a = h.join("a", "{beep=false}r").unwrap();
    let b = h.join("b", "{beep=false}r").unwrap();
    h.talk(&[(&a, A), (&b, B)], 200);
    let c = h.join("c", "{announceCallerName=true}r").unwrap();
    assert_eq!(
        h.events_named("participant-join").len(),
        2,
        "c is saying its name first"
    );
    h.talk(&[(&c, D)], 2_000);
    h.advance(600);
    assert_eq!(h.events_named("participant-join").len(), 3);
    h.clear_heard();
    h.advance(1_500);
    assert!(
        h.hears("a", D, 1_500) > AUDIBLE / 4.0,
        "the room hears c's name"
    );

    // The room announces names; this caller opts out and is in at once.
    let h = Harness::new("[[rooms]]\nname = \"named\"\nannounce_caller_name = true\n");
    h.join("a", "{announceCallerName=false}named").unwrap();
    assert_eq!(h.events_named("participant-join").len(), 1);
}

#[test]
fn enter_and_exit_sounds_are_per_call_choices() {
    let h = Harness::new("");
    write_tone_wav(&h.dir.join("sounds/in.wav"), RATE, FILE_TONE, 0.5, 8000.0);
    write_tone_wav(&h.dir.join("sounds/out.wav"), RATE, D, 0.5, 8000.0);
    h.join("a", "{beep=false}r").unwrap();
    h.join("b", "{beep=false}r").unwrap();
    h.advance(200);
    h.clear_heard();
    let c = h
        .join("c", "{enterSound=in.wav,exitSound=out.wav}r")
        .unwrap();
    h.advance(600);
    assert!(
        h.hears("a", FILE_TONE, 600) > AUDIBLE / 4.0,
        "c's own enter sound"
    );
    h.clear_heard();
    h.hangup(&c);
    h.advance(600);
    assert!(h.hears("a", D, 600) > AUDIBLE / 4.0, "c's own exit sound");
    assert!(h.hears("a", FILE_TONE, 600) < SILENT);
    // A file outside the sounds directory, or none at all, refuses the call.
    for app in ["{enterSound=../huddle.conf}r", "{exitSound=missing.wav}r"] {
        assert!(h.join("x", app).is_err(), "{app} was accepted");
    }
    assert!(
        h.logs().iter().any(|l| l.contains("missing.wav")),
        "the log names the file"
    );
}
