//! The operator API (issue 6): every command is checked by what it does to
//! what members hear, to events or to host calls, not only by its reply.
mod api_commands;
mod common;
use common::*;

use std::sync::Arc;

use huddle::runtime::MemberPort;
use serde_json::Value;

/// A dynamic room "r" with members a (id 1), b (id 2), c (id 3), started.
fn three() -> (Harness, [Arc<MemberPort>; 3]) {
    let h = Harness::new("");
    write_tone_wav(&h.dir.join("sounds/hold.wav"), RATE, MOH, 2.0, 6000.0);
    write_tone_wav(&h.dir.join("sounds/file.wav"), RATE, FILE_TONE, 2.0, 6000.0);
    let a = h.join("a", "r").unwrap();
    let b = h.join("b", "r").unwrap();
    let c = h.join("c", "r").unwrap();
    h.advance(400); // past the enter beep
    (h, [a, b, c])
}

fn talk3(h: &Harness, p: &[Arc<MemberPort>; 3], ms: u64) {
    h.talk(&[(&p[0], A), (&p[1], B), (&p[2], C)], ms);
}

fn json(h: &Harness, cmd: &str) -> Value {
    serde_json::from_str(&h.api(cmd)).unwrap_or_else(|e| panic!("{cmd}: {e}"))
}

fn ok(h: &Harness, cmd: &str) -> String {
    let r = h.api(cmd);
    assert!(r.starts_with("+OK"), "{cmd} -> {r}");
    r
}

/// a, b and c, and no one else, were hung up with cause 16 (normal clearing).
fn assert_abc_hung_up(h: &Harness) {
    assert_eq!(
        h.hangups_sorted(),
        [
            ("a".to_string(), 16),
            ("b".to_string(), 16),
            ("c".to_string(), 16)
        ]
    );
}

/// `-ERR <name> (<code>): ...`
fn err_code(reply: &str) -> (String, u32) {
    assert!(reply.starts_with("-ERR "), "{reply}");
    let rest = &reply[5..];
    let (name, rest) = rest.split_once(" (").unwrap();
    let code = rest.split_once(')').unwrap().0.parse().unwrap();
    (name.to_string(), code)
}

#[test]
fn list_and_count_text_formats_are_stable() {
    let (h, _p) = three();
    assert_eq!(h.api("count"), "+OK 3");
    assert_eq!(h.api("count r"), "+OK 3");
    assert_eq!(h.api("conference r count"), "+OK 3", "FreeSWITCH order");
    let list = h.api("list");
    let lines: Vec<&str> = list.lines().collect();
    assert_eq!(lines[0], "+OK 1 room(s)");
    assert_eq!(
        lines[1],
        "r members=3 started=yes locked=no recording=off rate=16000 runtime=0s"
    );
    let room = h.api("list r");
    let lines: Vec<&str> = room.lines().collect();
    assert_eq!(lines.len(), 4);
    assert!(lines[0].starts_with("+OK r members=3 "));
    // id;channel;call_id;from;name;flags;volume_in;volume_out;energy;codec/rate
    assert_eq!(lines[1], "1;a;CA-a;+1555a;a;hear|speak;+0;+0;-45;L16/16000");
    h.api("mute r 2");
    h.api("hold r 3");
    let room = h.api("list r");
    let lines: Vec<&str> = room.lines().collect();
    assert_eq!(lines[2], "2;b;CA-b;+1555b;b;hear;+0;+0;-45;L16/16000");
    assert_eq!(lines[3], "3;c;CA-c;+1555c;c;hold;+0;+0;-45;L16/16000");
}

#[test]
fn json_list_is_a_full_snapshot_with_the_last_sequence_number() {
    let (h, _p) = three();
    h.api("mute r 2");
    let v = json(&h, "json list r");
    assert_eq!(v["ok"], true);
    let r = &v["result"];
    assert_eq!(r["name"], "r");
    assert_eq!(r["account"], "");
    assert_eq!(r["members"], 3);
    assert_eq!(r["started"], true);
    assert_eq!(r["locked"], false);
    assert_eq!(r["recording"], "off");
    assert_eq!(r["rate"], 16000);
    let last_seq: u64 = h
        .events()
        .iter()
        .map(|e| field(e, "SequenceNumber").unwrap().parse::<u64>().unwrap())
        .max()
        .unwrap();
    assert_eq!(r["last_sequence_number"], last_seq);
    let sid = field(&h.events()[0], "ConferenceSid").unwrap().to_string();
    assert_eq!(r["conference_sid"], sid);
    let members = r["member_list"].as_array().unwrap();
    assert_eq!(members.len(), 3);
    assert_eq!(members[1]["id"], 2);
    assert_eq!(members[1]["call_sid"], "CA-b");
    assert_eq!(members[1]["muted"], true);
    assert_eq!(members[0]["muted"], false);
}

#[test]
fn kick_and_hup_hang_up_with_and_without_a_kick_event() {
    let (h, p) = three();
    ok(&h, "kick r 2");
    assert_eq!(h.hangups(), [("b".to_string(), 16)]);
    assert_eq!(h.member_events("participant-kick", 2).len(), 1);
    assert_eq!(h.member_events("participant-leave", 2).len(), 1);
    ok(&h, "hup r 3");
    assert_eq!(h.hangups()[1], ("c".to_string(), 16));
    assert!(h.member_events("participant-kick", 3).is_empty());
    assert_eq!(h.member_events("participant-leave", 3).len(), 1);
    assert_eq!(h.api("count r"), "+OK 1");
    // A kicked member's audio is refused.
    assert_ne!(
        h.send_l16(&p[1], &vec![0; frame(RATE, 20)], RATE),
        huddle::runtime::Status::Ok
    );
}

#[test]
fn mute_unmute_tmute_change_who_is_heard() {
    let (h, p) = three();
    ok(&h, "mute r 1");
    talk3(&h, &p, 600);
    assert!(h.hears("b", A, 400) < SILENT);
    assert!(h.hears("b", C, 400) > AUDIBLE);
    ok(&h, "unmute r 1");
    talk3(&h, &p, 600);
    assert!(h.hears("b", A, 400) > AUDIBLE);
    ok(&h, "tmute r 1");
    talk3(&h, &p, 600);
    assert!(h.hears("b", A, 400) < SILENT);
    ok(&h, "tmute r 1");
    talk3(&h, &p, 600);
    assert!(h.hears("b", A, 400) > AUDIBLE);
    assert_eq!(h.member_events("participant-mute", 1).len(), 2);
    assert_eq!(h.member_events("participant-unmute", 1).len(), 2);
    // all / non_moderator targets
    ok(&h, "mute r all");
    talk3(&h, &p, 600);
    for (ch, f) in [("a", B), ("b", C), ("c", A)] {
        assert!(h.hears(ch, f, 400) < SILENT);
    }
}

#[test]
fn deaf_and_undeaf() {
    let (h, p) = three();
    ok(&h, "deaf r 2");
    talk3(&h, &p, 600);
    assert!(rms(&h.tail("b", 400)) < 1.0);
    assert!(h.hears("a", B, 400) > AUDIBLE, "deaf b is still heard");
    ok(&h, "undeaf r 2");
    talk3(&h, &p, 600);
    assert!(h.hears("b", A, 400) > AUDIBLE);
    assert_eq!(h.events_named("participant-deaf").len(), 1);
    assert_eq!(h.events_named("participant-undeaf").len(), 1);
}

#[test]
fn hold_with_and_without_a_file_and_unhold() {
    let (h, p) = three();
    ok(&h, "hold r 2");
    talk3(&h, &p, 600);
    assert!(h.hears("b", MOH, 400) > AUDIBLE);
    assert!(h.hears("b", A, 400) < SILENT);
    assert!(h.hears("a", B, 400) < SILENT);
    ok(&h, "hold r 3 file.wav");
    talk3(&h, &p, 600);
    assert!(
        h.hears("c", FILE_TONE, 400) > AUDIBLE,
        "c hears its own hold file"
    );
    assert!(h.hears("c", MOH, 400) < SILENT);
    ok(&h, "unhold r 2");
    ok(&h, "unhold r 3");
    talk3(&h, &p, 600);
    assert!(h.hears("b", A, 400) > AUDIBLE);
    assert!(h.hears("a", B, 400) > AUDIBLE);
    assert!(h.hears("a", C, 400) > AUDIBLE);
    assert_eq!(h.events_named("participant-hold").len(), 2);
    assert_eq!(h.events_named("participant-unhold").len(), 2);
    assert_eq!(err_code(&h.api("hold r 2 ../x.wav")).1, 300);
}

#[test]
fn coach_makes_a_member_heard_only_by_the_coached() {
    let (h, p) = three();
    ok(&h, "coach r 3 1");
    talk3(&h, &p, 600);
    assert!(h.hears("a", C, 400) > AUDIBLE);
    assert!(h.hears("b", C, 400) < SILENT);
    assert!(h.hears("c", A, 400) > AUDIBLE);
    assert!(h.hears("c", B, 400) > AUDIBLE);
    assert_eq!(h.member_events("participant-coach", 3).len(), 1);
    assert_eq!(
        err_code(&h.api("coach r 3 9")),
        ("unknown-member".into(), 201)
    );
    assert_eq!(err_code(&h.api("coach r 3 3")).1, 101);
}

#[test]
fn lock_and_unlock() {
    let (h, _p) = three();
    ok(&h, "lock r");
    assert_eq!(h.api("get r locked"), "+OK locked true");
    assert!(h.join("d", "r").is_err());
    assert_eq!(h.hangups(), [("d".to_string(), 21)]);
    ok(&h, "unlock r");
    assert!(h.join("e", "r").is_ok());
    assert_eq!(h.events_named("conference-lock").len(), 1);
    assert_eq!(h.events_named("conference-unlock").len(), 1);
}

#[test]
fn volume_in_and_out_change_levels_by_the_set_db() {
    let (h, p) = three();
    ok(&h, "mute r 3");
    talk3(&h, &p, 400);
    let base = h.hears("b", A, 200);
    ok(&h, "volume_in r 1 -6");
    talk3(&h, &p, 400);
    let quieter = h.hears("b", A, 200);
    let change = amplitude_db(quieter, base);
    assert!(
        (change + 6.0).abs() < 0.5,
        "volume_in -6 gave {change:.2} dB"
    );
    ok(&h, "volume_in r 1 0");
    ok(&h, "volume_out r 2 -12");
    talk3(&h, &p, 400);
    let out = h.hears("b", A, 200);
    let change = amplitude_db(out, base);
    assert!(
        (change + 12.0).abs() < 0.5,
        "volume_out -12 gave {change:.2} dB"
    );
    // Others are untouched.
    assert!(amplitude_db(h.hears("c", A, 200), base).abs() < 0.5);
    let m = &json(&h, "json list r")["result"]["member_list"][1];
    assert_eq!(m["volume_out_db"], -12.0);
    ok(&h, "volume_out r 2 up");
    let m = &json(&h, "json list r")["result"]["member_list"][1];
    assert_eq!(m["volume_out_db"], -9.0);
}

#[test]
fn energy_threshold_gates_a_talker() {
    let (h, p) = three();
    // A tone of amplitude 8000 is about -12 dBov: a 0 dBov threshold drops it.
    ok(&h, "energy r 1 0");
    talk3(&h, &p, 600);
    assert!(h.hears("b", A, 400) < SILENT);
    assert!(h.hears("b", C, 400) > AUDIBLE);
    ok(&h, "energy r 1 -45");
    talk3(&h, &p, 600);
    assert!(h.hears("b", A, 400) > AUDIBLE);
}

#[test]
fn play_to_the_room_or_one_member_and_stop() {
    let (h, _p) = three();
    ok(&h, "play r file.wav");
    h.advance(400);
    for ch in ["a", "b", "c"] {
        assert!(h.hears(ch, FILE_TONE, 300) > AUDIBLE, "{ch} hears the file");
    }
    ok(&h, "stop r");
    h.advance(200);
    assert!(h.hears("a", FILE_TONE, 100) < SILENT);
    ok(&h, "play r file.wav 2");
    h.advance(400);
    assert!(h.hears("b", FILE_TONE, 300) > AUDIBLE);
    assert!(h.hears("a", FILE_TONE, 300) < SILENT);
    ok(&h, "stop r 2");
    h.advance(200);
    assert!(h.hears("b", FILE_TONE, 100) < SILENT);
    // Confined under sounds_dir.
    std::fs::write(h.dir.join("x.wav"), b"not inside sounds").unwrap();
    for bad in [
        "play r ../x.wav",
        "play r sub/../../x.wav",
        "play r /etc/passwd",
    ] {
        assert_eq!(err_code(&h.api(bad)), ("refused".into(), 300), "{bad}");
    }
    assert_eq!(err_code(&h.api("play r missing.wav")).1, 101);
    assert_eq!(err_code(&h.api("play r file.wav 9")).1, 201);
}

#[test]
fn record_start_pause_resume_stop() {
    let (h, p) = three();
    ok(&h, "record r start");
    h.advance(200);
    assert_eq!(json(&h, "json list r")["result"]["recording"], "on");
    assert_eq!(h.events_named("recording-in-progress").len(), 1);
    assert_eq!(err_code(&h.api("record r start")).1, 101);
    ok(&h, "record r pause");
    assert_eq!(json(&h, "json list r")["result"]["recording"], "paused");
    assert_eq!(err_code(&h.api("record r pause")).1, 101);
    ok(&h, "record r resume");
    assert_eq!(json(&h, "json list r")["result"]["recording"], "on");
    talk3(&h, &p, 200);
    ok(&h, "record r stop");
    h.advance(100);
    assert_eq!(json(&h, "json list r")["result"]["recording"], "off");
    assert_eq!(h.events_named("recording-completed").len(), 1);
    assert_eq!(err_code(&h.api("record r stop")).1, 101);
    assert_eq!(err_code(&h.api("record r stop x.wav")).1, 101);
}

#[test]
fn dial_asks_the_host_to_originate() {
    let (h, _p) = three();
    ok(&h, "dial r +15551234567");
    let calls = h.host.originates.lock().unwrap().clone();
    assert_eq!(
        calls,
        [("+15551234567".to_string(), "r".to_string(), String::new())]
    );
}

#[test]
fn end_hangs_up_everyone() {
    let (h, _p) = three();
    ok(&h, "end r");
    assert_abc_hung_up(&h);
    let end = h.events_named("conference-end");
    assert_eq!(
        field(&end[0], "ReasonConferenceEnded"),
        Some("ended-via-api")
    );
    assert_eq!(err_code(&h.api("end r")), ("unknown-room".into(), 200));
}

#[test]
fn pin_and_hostpin_guard_the_next_joiners() {
    let (h, _p) = three();
    assert_eq!(
        err_code(&h.api("hostpin r 9999")).1,
        101,
        "host PIN needs a PIN"
    );
    ok(&h, "pin r 1234");
    ok(&h, "hostpin r 9999");
    assert_eq!(h.api("get r pin"), "+OK pin set");
    assert_eq!(h.api("get r host_pin"), "+OK host_pin set");
    let d = h.join("d", "r").unwrap();
    assert_eq!(h.api("count r"), "+OK 3", "d waits for its PIN");
    h.dtmf(&d, "1234#");
    assert_eq!(h.api("count r"), "+OK 4");
    let e = h.join("e", "r").unwrap();
    h.dtmf(&e, "9999#");
    let v = json(&h, "json list r");
    let e = v["result"]["member_list"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["channel"] == "e")
        .unwrap()
        .clone();
    assert_eq!(e["moderator"], true);
    ok(&h, "hostpin r none");
    ok(&h, "pin r none");
    assert_eq!(h.api("get r pin"), "+OK pin none");
    h.join("f", "r").unwrap();
    assert_eq!(h.api("count r"), "+OK 6");
}

#[test]
fn set_and_get() {
    let (h, _p) = three();
    assert_eq!(h.api("get r max_members"), "+OK max_members 25");
    ok(&h, "set r max_members 3");
    assert_eq!(h.api("get r max_members"), "+OK max_members 3");
    assert!(h.join("d", "r").is_err());
    assert_eq!(h.hangups(), [("d".to_string(), 34)]);
    ok(&h, "set r locked true");
    assert_eq!(h.api("get r locked"), "+OK locked true");
    ok(&h, "set r locked false");
    assert_eq!(h.api("get r moh"), "+OK moh set");
    ok(&h, "set r moh none");
    assert_eq!(h.api("get r moh"), "+OK moh none");
    ok(&h, "set r moh file.wav");
    assert_eq!(h.api("get r moh"), "+OK moh set");
    assert_eq!(err_code(&h.api("set r max_members 1")).1, 101);
    assert_eq!(err_code(&h.api("get r colour")).1, 101);
}

#[test]
fn moh_set_by_api_is_what_held_members_hear() {
    let (h, p) = three();
    ok(&h, "set r moh file.wav");
    ok(&h, "hold r 2");
    talk3(&h, &p, 600);
    assert!(h.hears("b", FILE_TONE, 400) > AUDIBLE);
    assert!(h.hears("b", MOH, 400) < SILENT);
}

#[test]
fn relate_nohear_nospeak_clear() {
    let (h, p) = three();
    // a does not hear b.
    ok(&h, "relate r 1 2 nohear");
    talk3(&h, &p, 600);
    assert!(h.hears("a", B, 400) < SILENT);
    assert!(h.hears("a", C, 400) > AUDIBLE);
    assert!(h.hears("c", B, 400) > AUDIBLE);
    assert!(h.hears("b", A, 400) > AUDIBLE);
    ok(&h, "relate r 1 2 clear");
    // a is not heard by c.
    ok(&h, "relate r 1 3 nospeak");
    talk3(&h, &p, 600);
    assert!(h.hears("a", B, 400) > AUDIBLE);
    assert!(h.hears("c", A, 400) < SILENT);
    assert!(h.hears("b", A, 400) > AUDIBLE);
    assert!(h.hears("a", C, 400) > AUDIBLE);
    ok(&h, "relate r 1 3 clear");
    talk3(&h, &p, 600);
    assert!(h.hears("c", A, 400) > AUDIBLE);
    assert_eq!(err_code(&h.api("relate r 1 7 nohear")).1, 201);
}

#[test]
fn stats_count_frames_and_ticks() {
    let (h, p) = three();
    let before = json(&h, "json stats r")["result"]["ticks"]
        .as_u64()
        .unwrap();
    talk3(&h, &p, 1000);
    let v = json(&h, "json stats r");
    let r = &v["result"];
    assert_eq!(r["ticks"].as_u64().unwrap() - before, 50);
    for m in r["members"].as_array().unwrap() {
        assert_eq!(m["frames_in"], 50);
        assert_eq!(m["dropped"], 0);
    }
    let a_out = r["members"][0]["frames_out"].as_u64().unwrap();
    assert_eq!(a_out as usize, h.heard("a").frames);
    let text = ok(&h, "stats r");
    assert!(text.contains("member 1 in=50 "), "{text}");
}

#[test]
fn reload_takes_a_good_config_and_keeps_the_old_one_on_error() {
    let (h, p) = three();
    let path = h.dir.join("huddle.conf");
    let good = std::fs::read_to_string(&path).unwrap();
    std::fs::write(
        &path,
        format!("{good}\n[[rooms]]\nname = \"fresh\"\npin = \"4242\"\n"),
    )
    .unwrap();
    ok(&h, "reload");
    // The new room's PIN applies to new rooms.
    let f = h.join("f", "fresh").unwrap();
    assert_eq!(h.api("count fresh"), "+OK 0");
    h.dtmf(&f, "4242#");
    assert_eq!(h.api("count fresh"), "+OK 1");
    // A broken config: refused, the old one stays.
    std::fs::write(&path, format!("{good}\n[module]\nbogus = 1\n")).unwrap();
    let r = h.api("reload");
    assert_eq!(err_code(&r), ("refused".into(), 300), "{r}");
    assert!(r.contains("the old configuration stays"));
    talk3(&h, &p, 600);
    assert!(h.hears("a", B, 400) > AUDIBLE, "the room keeps working");
    let g = h.join("g", "fresh").unwrap();
    h.dtmf(&g, "4242#");
    assert_eq!(
        h.api("count fresh"),
        "+OK 2",
        "the config in force still has 'fresh'"
    );
}

#[test]
fn help_lists_every_command() {
    let h = Harness::new("");
    api_commands::assert_help_lists_every_command(&ok(&h, "help"));
}

#[test]
fn errors_have_stable_codes() {
    let (h, _p) = three();
    let long = format!("list {}", "x".repeat(4100));
    assert_eq!(err_code(&h.api(&long)), ("too-long".into(), 102));
    assert_eq!(
        err_code(&h.api("frobnicate r")),
        ("unknown-command".into(), 100)
    );
    assert_eq!(err_code(&h.api("")), ("unknown-command".into(), 100));
    assert_eq!(err_code(&h.api("kick r")), ("bad-arguments".into(), 101));
    assert_eq!(
        err_code(&h.api("kick r 1 2")),
        ("bad-arguments".into(), 101)
    );
    assert_eq!(err_code(&h.api("lock")), ("bad-arguments".into(), 101));
    assert_eq!(
        err_code(&h.api("volume_in r 1 99")),
        ("bad-arguments".into(), 101)
    );
    assert_eq!(
        err_code(&h.api("mute nowhere 1")),
        ("unknown-room".into(), 200)
    );
    assert_eq!(
        err_code(&h.api("list nowhere")),
        ("unknown-room".into(), 200)
    );
    assert_eq!(
        err_code(&h.api("mute r 42")),
        ("unknown-member".into(), 201)
    );
    assert_eq!(
        err_code(&h.api("kick r 42")),
        ("unknown-member".into(), 201)
    );
    let v = json(&h, "json mute r 42");
    assert_eq!(v["ok"], false);
    assert_eq!(v["error"]["code"], 201);
    assert_eq!(v["error"]["name"], "unknown-member");
    let v = json(&h, "json frobnicate");
    assert_eq!(v["error"]["code"], 100);
    // Nothing changed.
    assert_eq!(h.api("count r"), "+OK 3");
    assert!(h.hangups().is_empty());
}

#[test]
fn energy_up_and_down_step_the_threshold_by_6_db() {
    let (h, p) = three();
    // a at amplitude 3277: RMS 2317, -23.0 dBov against a full-scale
    // square. A member is mixed while talking or within 15 dB of its
    // threshold, so a is dropped only above -8 dBov.
    let quiet = 3277.0;
    let energy =
        |h: &Harness| json(h, "json list r")["result"]["member_list"][0]["energy_dbov"].clone();
    let voices = |h: &Harness, ms| h.talk_at(&[(&p[0], A, quiet), (&p[1], B, TALK_AMPLITUDE)], ms);
    ok(&h, "energy r 1 -12");
    voices(&h, 1000);
    assert!(h.hears("b", A, 400) > quiet / 3.0, "-12: a is heard");
    ok(&h, "energy r 1 up");
    assert_eq!(energy(&h), -6.0);
    voices(&h, 1000);
    assert!(h.hears("b", A, 400) < SILENT, "-6: a is dropped");
    ok(&h, "energy r 1 down");
    assert_eq!(energy(&h), -12.0);
    voices(&h, 1000);
    assert!(h.hears("b", A, 400) > quiet / 3.0, "-12 again: heard");
    ok(&h, "energy r 1 down");
    assert_eq!(energy(&h), -18.0);
    // The others keep the profile's threshold.
    assert_eq!(
        json(&h, "json list r")["result"]["member_list"][1]["energy_dbov"],
        -45.0
    );
}

#[test]
fn kick_and_mute_take_last_and_non_moderator_targets() {
    let h = Harness::new("");
    let m = h.join("m", "r+flags{moderator}").unwrap();
    let a = h.join("a", "r").unwrap();
    let b = h.join("b", "r").unwrap();
    let c = h.join("c", "r").unwrap();
    h.advance(400);
    let talk = |ms| h.talk(&[(&m, D), (&a, A), (&b, B), (&c, C)], ms);
    ok(&h, "mute r non_moderator");
    let muted: Vec<String> = h
        .events_named("participant-mute")
        .iter()
        .map(|e| field(e, "CallSid").unwrap().to_string())
        .collect();
    assert_eq!(muted, ["CA-a", "CA-b", "CA-c"]);
    talk(600);
    for f in [A, B, C] {
        assert!(h.hears("m", f, 400) < SILENT);
    }
    assert!(h.hears("a", D, 400) > AUDIBLE, "the moderator is not muted");
    ok(&h, "unmute r all");
    ok(&h, "mute r last");
    assert_eq!(
        h.member_events("participant-mute", 4).len(),
        2,
        "c, the last to join"
    );
    talk(600);
    assert!(h.hears("m", C, 400) < SILENT && h.hears("m", B, 400) > AUDIBLE);
    ok(&h, "kick r last");
    assert_eq!(h.member_events("participant-kick", 4).len(), 1);
    h.advance(2000); // the kicked prompt, then the hangup
    assert_eq!(h.hangups(), [("c".to_string(), 16)]);
    ok(&h, "kick r non_moderator");
    h.advance(2000);
    assert_abc_hung_up(&h);
    assert_eq!(h.api("count r"), "+OK 1");
    assert!(h.member_events("participant-kick", 1).is_empty());
}

#[test]
fn set_locked_true_refuses_the_next_caller() {
    let (h, _p) = three();
    ok(&h, "set r locked true");
    assert!(h.join("d", "r").is_err());
    assert_eq!(h.hangups(), [("d".to_string(), 21)]);
    let refused = h.events_named("join-refused");
    assert_eq!(field(&refused[0], "Reason"), Some("locked"));
    assert_eq!(h.events_named("conference-lock").len(), 1);
    ok(&h, "set r locked false");
    assert!(h.join("e", "r").is_ok());
    assert_eq!(h.api("count r"), "+OK 4");
}

#[test]
fn reload_leaves_live_rooms_alone_and_apply_live_updates_them() {
    const NEW_MOH: f64 = 1100.0;
    let h = Harness::new("[[rooms]]\nname = \"live\"\nmax_participants = 5\n");
    write_tone_wav(
        &h.dir.join("sounds/new-moh.wav"),
        RATE,
        NEW_MOH,
        2.0,
        6000.0,
    );
    let a = h.join("a", "live").unwrap();
    let b = h.join("b", "live").unwrap();
    h.advance(400);
    // The new file: the room gets a PIN, a lower limit and new music; the
    // profile a rate a running room must not take.
    let path = h.dir.join("huddle.conf");
    std::fs::write(
        &path,
        format!(
            "{MODULE_MANUAL}\n[profiles.default]\nrate = 8000\n\n\
             [[rooms]]\nname = \"live\"\nmax_participants = 3\npin = \"4321\"\n\
             music_on_hold = \"new-moh.wav\"\n"
        ),
    )
    .unwrap();
    ok(&h, "reload");
    assert_eq!(h.api("get live max_members"), "+OK max_members 5");
    assert_eq!(h.api("get live pin"), "+OK pin none");
    let _c = h.join("c", "live").unwrap();
    assert_eq!(h.api("count live"), "+OK 3", "no PIN asked yet");
    assert_eq!(
        h.api("reload apply-live"),
        "+OK reloaded, applied to 1 live room(s)"
    );
    assert_eq!(h.api("get live max_members"), "+OK max_members 3");
    assert_eq!(h.api("get live pin"), "+OK pin set");
    assert!(h.join("d", "live+4321").is_err(), "full at 3");
    assert_eq!(h.hangups(), [("d".to_string(), 34)]);
    let _e = h.join("e", "live").unwrap();
    assert_eq!(h.api("count live"), "+OK 3", "e is asked for the PIN");
    // The room keeps its 16 kHz, and its new music plays at the right pitch.
    assert!(h
        .api("list")
        .contains("live members=3 started=yes locked=no recording=off rate=16000 "));
    ok(&h, "hold live 2");
    h.talk(&[(&a, A), (&b, B)], 600);
    assert!(
        h.hears("b", NEW_MOH, 400) > AUDIBLE,
        "b hears the new music"
    );
    // A new room takes the new profile.
    let _f = h.join("f", "fresh").unwrap();
    assert!(h
        .api("list")
        .contains("fresh members=1 started=no locked=no recording=off rate=8000 "));
}

#[test]
fn a_bad_config_at_reload_is_refused_naming_file_line_and_key() {
    let (h, p) = three();
    let path = h.dir.join("huddle.conf");
    let good = std::fs::read_to_string(&path).unwrap();
    let bad = good.replace("timer = \"manual\"\n", "timer = \"manual\"\nbogus = 1\n");
    let line = bad.lines().position(|l| l == "bogus = 1").unwrap() + 1;
    std::fs::write(&path, bad).unwrap();
    let r = h.api("reload");
    assert_eq!(err_code(&r), ("refused".into(), 300), "{r}");
    let want = format!("{}:{line}: key 'module.bogus'", path.display());
    assert!(r.contains(&want), "{r} lacks {want}");
    talk3(&h, &p, 600);
    assert!(h.hears("a", B, 400) > AUDIBLE, "the room goes on");
}
