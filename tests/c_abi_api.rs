//! The operator API (issue 6) through the C ABI: every `conference`
//! command is given by the C reference host (ffi/refhost) to
//! `huddle_module_api` at a point in a scenario, on the manual timer, and
//! checked by what it did: to what the legs heard, to the events, to the
//! hangups and originates the host got. Replies are checked as well.
//!
//! Every leg talks with its own sine (-20 dBFS); the hold music, the file
//! played and the kicked prompt are WAVs of other frequencies the test
//! writes. Tones and windows are multiples of 10 Hz and 100 ms, so a
//! Goertzel filter over a window sees whole cycles.
mod api_commands;
mod refhost;
use refhost::{
    amplitude_db, audible, call_id, field, sounds, talker, time, Run, Scene, A, B, C, D, FILE_TONE,
    MODULE, MOH, PIN_PROMPT, SOUND_AMPLITUDE,
};

/// The sound the test gives the profile besides the hold music and the PIN
/// prompt, and beside the file operators play (Hz).
const KICKED: f64 = 2100.0;

/// The profile's prompts: the test's own tones, or none.
fn prompts() -> String {
    sounds(&[
        ("moh", "moh.wav"),
        ("pin", "pin.wav"),
        ("kicked", "kicked.wav"),
    ])
}

fn config(rooms: &str) -> String {
    format!("{MODULE}\n{}\n{rooms}", prompts())
}

fn scene(tag: &str) -> Scene {
    let s = Scene::new(tag);
    s.tone_wav("moh.wav", MOH, 2.0, SOUND_AMPLITUDE)
        .tone_wav("file.wav", FILE_TONE, 2.0, SOUND_AMPLITUDE)
        .tone_wav("kicked.wav", KICKED, 0.5, SOUND_AMPLITUDE)
        .tone_wav("pin.wav", PIN_PROMPT, 0.5, SOUND_AMPLITUDE);
    s
}

fn play(tag: &str, scenario: &str) -> Run {
    let run = scene(tag).run(&config(""), scenario);
    run.assert_clean();
    run
}

/// Legs a, b, c (member ids 1, 2, 3) in room r from the start, each saying
/// its tone until `until`; then `rest`.
fn three(until: f64, rest: &str) -> String {
    let secs = until - 0.5;
    format!(
        "leg a\nleg b\nleg c\nat 0 a dial r\nat 0 b dial r\nat 0 c dial r\n\
         at 0.5 a tone 440 {secs}\nat 0.5 b tone 700 {secs}\nat 0.5 c tone 1000 {secs}\nat {until} end\n{rest}"
    )
}

fn ok(run: &Run, cmd: &str) -> String {
    let r = run.reply(cmd);
    assert!(r.starts_with("+OK"), "{cmd} -> {r}");
    r
}

/// Legs (by name) of the events of one name, in order.
fn legs_of<'a>(run: &'a Run, name: &str) -> Vec<&'a str> {
    run.named(name)
        .into_iter()
        .map(|e| e["leg"].as_str().unwrap_or("?"))
        .collect()
}

#[test]
fn list_count_and_json_list_describe_the_room() {
    let run = play(
        "list",
        r#"
leg a name="Ann" from=+15550001
leg b name="Bob" from=+15550002
leg c name="Cy"  from=+15550003
at 0   a dial r
at 0   b dial r
at 0   c dial r
at 0.5 a tone 440 4
at 2   api count
at 2   api count r
at 2   api conference r count
at 2   api list
at 2   api mute r 2
at 2   api hold r 3
at 3   api list r
at 3   api json list r
at 3   api json list
"#,
    );
    assert_eq!(run.reply("count"), "+OK 3");
    assert_eq!(run.reply("count r"), "+OK 3");
    assert_eq!(run.reply("conference r count"), "+OK 3");
    let list = run.reply("list");
    let lines: Vec<&str> = list.lines().collect();
    assert_eq!(lines[0], "+OK 1 room(s)");
    assert_eq!(
        lines[1],
        "r members=3 started=yes locked=no recording=off rate=16000 runtime=2s"
    );
    // One line per member: id;channel;call_sid;from;name;flags;in;out;energy;codec/rate.
    let room = run.reply("list r");
    let lines: Vec<&str> = room.lines().collect();
    assert_eq!(lines.len(), 4, "{room}");
    assert!(lines[0].starts_with("+OK r members=3 started=yes locked=no"));
    assert_eq!(
        lines[1],
        format!(
            "1;refhost/a;{};+15550001;Ann;hear|speak|talking;+0;+0;-45;L16/16000",
            call_id(0, "a")
        )
    );
    assert_eq!(
        lines[2],
        format!(
            "2;refhost/b;{};+15550002;Bob;hear;+0;+0;-45;L16/16000",
            call_id(1, "b")
        )
    );
    assert_eq!(
        lines[3],
        format!(
            "3;refhost/c;{};+15550003;Cy;hold;+0;+0;-45;L16/16000",
            call_id(2, "c")
        )
    );
    // The snapshot carries the last SequenceNumber delivered before it.
    let v = run.json("json list r");
    assert_eq!(v["ok"], true);
    let r = &v["result"];
    let sid = field(run.named("conference-start")[0], "ConferenceSid");
    assert_eq!(r["conference_sid"], sid);
    let last: u64 = run
        .before_reply("json list r")
        .iter()
        .filter(|e| e["source"] == "huddle" && field(e, "ConferenceSid") == sid)
        .map(|e| field(e, "SequenceNumber").parse::<u64>().unwrap())
        .max()
        .unwrap();
    assert_eq!(r["last_sequence_number"], last);
    assert_eq!(r["members"], 3);
    assert_eq!(r["started"], true);
    assert_eq!(r["recording"], "off");
    let members = r["member_list"].as_array().unwrap();
    assert_eq!(members.len(), 3);
    assert_eq!(members[1]["call_sid"], call_id(1, "b"));
    assert_eq!(members[1]["muted"], true);
    assert_eq!(members[2]["hold"], true);
    assert_eq!(members[0]["muted"], false);
    let all = run.json("json list");
    assert_eq!(all["result"].as_array().unwrap().len(), 1);
    assert_eq!(all["result"][0]["name"], "r");
}

#[test]
fn kick_hup_and_the_all_last_and_non_moderator_targets() {
    let run = play(
        "targets",
        r#"
leg m
leg a
leg b
leg c
leg d
at 0   m dial r+flags{moderator}
at 0   a dial r
at 0   b dial r
at 0   c dial r
at 0   d dial r
at 0.5 m tone 1700 13
at 0.5 a tone 440 13
at 0.5 b tone 700 13
at 0.5 c tone 1000 13
at 0.5 d tone 1300 13
at 2   api mute r non_moderator
at 4   api unmute r all
at 5   api mute r last
at 6   api kick r last
at 8   api hup r 4
at 10  api kick r non_moderator
at 12  api count r
"#,
    );
    // mute non_moderator: the four callers, not the moderator.
    assert_eq!(legs_of(&run, "participant-mute")[..4], ["a", "b", "c", "d"]);
    assert!(run.of("participant-mute", "m").is_empty());
    for hz in [A, B, C, D] {
        assert!(run.silent("m", hz, 2.5, 3.9));
    }
    assert!(run.hears("a", 1700.0, 2.5, 3.9), "the moderator speaks");
    // unmute all
    assert_eq!(legs_of(&run, "participant-unmute"), ["a", "b", "c", "d"]);
    assert!(run.hears("m", A, 4.2, 4.9) && run.hears("m", D, 4.2, 4.9));
    // mute last: d, the last to join.
    assert_eq!(legs_of(&run, "participant-mute")[4..], ["d"]);
    assert!(run.silent("m", D, 5.2, 5.9) && run.hears("m", C, 5.2, 5.9));
    // kick last: d hears the kicked prompt, then is hung up.
    assert_eq!(legs_of(&run, "participant-kick")[0], "d");
    assert!(run.tone("d", KICKED, 6.0, 6.5) > SOUND_AMPLITUDE / 3.0);
    assert_eq!(run.hangups("d"), [16]);
    let hung = run.notes("host-hangup-by-module");
    assert!(
        time(hung[0]) >= 6.4,
        "hung up after the prompt: {}",
        hung[0]
    );
    // hup 4 (c): hung up at once, no kick event.
    assert_eq!(run.hangups("c"), [16]);
    assert!(run.of("participant-kick", "c").is_empty());
    assert_eq!(run.of("participant-leave", "c").len(), 1);
    assert_eq!(time(run.of("participant-leave", "c")[0]), 8.0);
    assert!(run.hears("m", C, 7.0, 7.9) && run.silent("m", C, 8.5, 9.9));
    // kick non_moderator: a and b go, m stays.
    assert_eq!(legs_of(&run, "participant-kick"), ["d", "a", "b"]);
    assert_eq!(run.hangups("a"), [16]);
    assert_eq!(run.hangups("b"), [16]);
    assert!(run.hangups("m").is_empty());
    assert_eq!(run.reply("count r"), "+OK 1");
    assert!(run.silent("m", A, 11.0, 12.0) && run.silent("m", B, 11.0, 12.0));
}

#[test]
fn mute_unmute_and_tmute_change_who_is_heard() {
    let run = play(
        "mute",
        &three(
            9.0,
            "at 1 api mute r 1\nat 3 api unmute r 1\nat 5 api tmute r 1\nat 7 api tmute r 1\n",
        ),
    );
    for cmd in ["mute r 1", "unmute r 1"] {
        ok(&run, cmd);
    }
    assert!(run.silent("b", A, 1.5, 2.9) && run.hears("b", C, 1.5, 2.9));
    assert!(run.hears("b", A, 3.5, 4.9));
    assert!(run.silent("b", A, 5.5, 6.9) && run.silent("c", A, 5.5, 6.9));
    assert!(run.hears("b", A, 7.5, 8.9));
    let times = |name| -> Vec<f64> { run.of(name, "a").iter().map(|e| time(e)).collect() };
    assert_eq!(times("participant-mute"), [1.0, 5.0]);
    assert_eq!(times("participant-unmute"), [3.0, 7.0]);
}

#[test]
fn deaf_and_undeaf() {
    let run = play(
        "deaf",
        &three(5.0, "at 1 api deaf r 2\nat 3 api undeaf r 2\n"),
    );
    assert_eq!(run.rms("b", 1.5, 2.9), 0.0, "deaf b hears nothing");
    assert!(run.hears("a", B, 1.5, 2.9), "and is still heard");
    assert!(run.hears("b", A, 3.5, 4.5) && run.hears("b", C, 3.5, 4.5));
    assert_eq!(run.of("participant-deaf", "b").len(), 1);
    assert_eq!(run.of("participant-undeaf", "b").len(), 1);
}

#[test]
fn hold_with_the_room_music_or_a_file_and_unhold() {
    let run = play(
        "hold",
        &three(
            5.0,
            "at 1 api hold r 2\nat 1 api hold r 3 file.wav\nat 1 api hold r 1 ../x.wav\n\
             at 3 api unhold r 2\nat 3 api unhold r 3\n",
        ),
    );
    assert!(run.hears("b", MOH, 1.5, 2.9) && run.silent("b", A, 1.5, 2.9));
    assert!(run.hears("c", FILE_TONE, 1.5, 2.9) && run.silent("c", MOH, 1.5, 2.9));
    assert!(run.silent("a", B, 1.5, 2.9) && run.silent("a", C, 1.5, 2.9));
    assert!(run.silent("a", MOH, 1.5, 2.9));
    assert!(run.hears("a", B, 3.5, 4.5) && run.hears("a", C, 3.5, 4.5));
    assert!(run.hears("b", A, 3.5, 4.5) && run.silent("b", MOH, 3.5, 4.5));
    assert_eq!(legs_of(&run, "participant-hold"), ["b", "c"]);
    assert_eq!(legs_of(&run, "participant-unhold"), ["b", "c"]);
    assert!(run
        .reply("hold r 1 ../x.wav")
        .starts_with("-ERR refused (300)"));
    assert!(run.of("participant-hold", "a").is_empty());
}

#[test]
fn coach_makes_a_member_heard_only_by_the_coached() {
    let run = play("coach", &three(4.0, "at 1 api coach r 3 1\n"));
    ok(&run, "coach r 3 1");
    let coach = run.of("participant-coach", "c");
    assert_eq!(coach.len(), 1);
    assert_eq!(field(coach[0], "CallSidToCoach"), call_id(0, "a"));
    assert!(run.hears("a", C, 1.5, 3.5), "the coached member hears c");
    assert!(run.silent("b", C, 1.5, 3.5), "nobody else does");
    assert!(run.hears("c", A, 1.5, 3.5) && run.hears("c", B, 1.5, 3.5));
    assert!(run.hears("b", C, 0.6, 0.9), "before, everyone heard c");
}

#[test]
fn lock_and_unlock() {
    let run = play(
        "lock",
        &three(
            4.0,
            "leg d\nleg e\nat 1 api lock r\nat 1.5 d dial r\nat 2 api unlock r\nat 2.5 e dial r\n",
        ),
    );
    ok(&run, "lock r");
    assert_eq!(run.named("conference-lock").len(), 1);
    assert_eq!(run.hangups("d"), [21]);
    assert_eq!(field(run.of("join-refused", "d")[0], "Reason"), "locked");
    assert_eq!(run.named("conference-unlock").len(), 1);
    assert_eq!(run.of("participant-join", "e").len(), 1);
    assert!(run.hears("e", A, 3.0, 3.9));
}

#[test]
fn volume_in_and_volume_out_change_levels_by_the_given_db() {
    let run = play(
        "volume",
        r#"
leg a
leg b
leg c
at 0   a dial r
at 0   b dial r
at 0   c dial {muted=true}r
at 0.5 a tone 440 8
at 2   api volume_in r 1 -6
at 4   api volume_in r 1 0
at 4   api volume_out r 2 -12
at 6   api volume_out r 2 up
at 7   api list r
"#,
    );
    let base = run.tone("b", A, 1.0, 2.0);
    assert!(
        amplitude_db(base, talker()).abs() < 0.5,
        "unity gain: {base:.0}"
    );
    let change = amplitude_db(run.tone("b", A, 2.5, 3.5), base);
    assert!(
        (change + 6.0).abs() < 0.5,
        "volume_in -6 gave {change:.2} dB"
    );
    let change = amplitude_db(run.tone("c", A, 2.5, 3.5), base);
    assert!(
        (change + 6.0).abs() < 0.5,
        "for every listener: {change:.2} dB"
    );
    let change = amplitude_db(run.tone("b", A, 4.5, 5.5), base);
    assert!(
        (change + 12.0).abs() < 0.5,
        "volume_out -12 gave {change:.2} dB"
    );
    let change = amplitude_db(run.tone("c", A, 4.5, 5.5), base);
    assert!(change.abs() < 0.5, "others keep theirs: {change:.2} dB");
    // up: one 3 dB step.
    let change = amplitude_db(run.tone("b", A, 6.5, 7.5), base);
    assert!(
        (change + 9.0).abs() < 0.5,
        "up from -12 gave {change:.2} dB"
    );
    let list = run.reply("list r");
    let b: Vec<&str> = list.lines().nth(2).unwrap().split(';').collect();
    assert_eq!((b[6], b[7]), ("+0", "-9"), "{list}");
}

#[test]
fn energy_sets_the_talk_threshold_and_steps_up_and_down() {
    // a's tone (-20 dBFS peak) is -23 dBov (RMS against a full-scale
    // square). A member is mixed while talking or within 15 dB of its
    // threshold (README, Audio), so a is dropped only above -8 dBov.
    let run = play(
        "energy",
        &three(
            13.0,
            "at 1 api energy r 1 0\nat 3.5 api energy r 1 -30\nat 5.5 api list r\n\
             at 6 api energy r 1 up\nat 6 api energy r 1 up\nat 6 api energy r 1 up\n\
             at 8.4 api list r\nat 8.5 api energy r 1 up\nat 10.5 api energy r 1 down\n",
        ),
    );
    let a_line = |i: usize| -> Vec<String> {
        let list = &run.replies("list r")[i];
        let line = list.lines().nth(1).unwrap();
        line.split(';').map(str::to_string).collect()
    };
    assert!(run.silent("b", A, 2.0, 3.4), "0 dBov gates a");
    assert!(run.hears("b", C, 2.0, 3.4), "others are not gated");
    assert!(run.hears("b", A, 4.5, 5.9), "-30 lets it through");
    assert_eq!(
        (a_line(0)[5].as_str(), a_line(0)[8].as_str()),
        ("hear|speak|talking", "-30")
    );
    // Three steps up: -12, above a's level (not talking) but within 15 dB.
    assert!(run.hears("b", A, 7.2, 8.3));
    assert_eq!(
        (a_line(1)[5].as_str(), a_line(1)[8].as_str()),
        ("hear|speak", "-12")
    );
    assert!(run.silent("b", A, 9.5, 10.4), "one more: -6 drops a");
    assert!(run.hears("b", A, 11.5, 12.4), "one down: -12 again");
    assert_eq!(run.replies("energy r 1 up").len(), 4);
}

#[test]
fn play_to_the_room_or_one_member_and_stop() {
    let run = play(
        "play",
        &three(
            6.0,
            "at 1 api play r file.wav\nat 2 api stop r\nat 3 api play r file.wav 2\n\
             at 4 api stop r 2\nat 4 api play r ../x.wav\nat 4 api play r missing.wav\n",
        ),
    );
    for leg in ["a", "b", "c"] {
        assert!(run.hears(leg, FILE_TONE, 1.2, 1.9), "{leg} hears the file");
        assert!(run.silent(leg, FILE_TONE, 2.2, 2.9), "{leg}: stopped");
    }
    assert!(run.hears("b", FILE_TONE, 3.2, 3.9));
    assert!(run.silent("a", FILE_TONE, 3.2, 3.9) && run.silent("c", FILE_TONE, 3.2, 3.9));
    assert!(run.silent("b", FILE_TONE, 4.2, 4.9));
    assert!(run
        .reply("play r ../x.wav")
        .starts_with("-ERR refused (300)"));
    assert!(run
        .reply("play r missing.wav")
        .starts_with("-ERR bad-arguments (101)"));
}

#[test]
fn record_start_pause_resume_stop() {
    let run = play(
        "record",
        &three(
            6.0,
            "at 1 api record r start\nat 1.5 api json list r\nat 2 api record r pause\n\
             at 2.5 api json list r\nat 3.5 api record r resume\nat 4.5 api record r stop\n\
             at 5 api json list r\nat 5 api record r stop\n",
        ),
    );
    let states: Vec<String> = run
        .replies("json list r")
        .iter()
        .map(|r| {
            serde_json::from_str::<serde_json::Value>(r).unwrap()["result"]["recording"].to_string()
        })
        .collect();
    assert_eq!(states, ["\"on\"", "\"paused\"", "\"off\""]);
    assert_eq!(run.named("recording-in-progress").len(), 1);
    let done = run.named("recording-completed");
    assert_eq!(done.len(), 1);
    let paused: f64 = field(done[0], "RecordingPausedMs").parse().unwrap();
    assert!((paused - 1500.0).abs() <= 40.0, "paused {paused} ms");
    // The file: 1 s before the pause and 1 s after the resume, the mix of
    // all three talkers.
    let (pcm, rate) = run.recording();
    let secs = pcm.len() as f64 / rate as f64;
    assert!((secs - 2.0).abs() < 0.1, "the recording is {secs:.2} s");
    let mid = &pcm[pcm.len() / 4..pcm.len() * 3 / 4];
    for hz in [A, B, C] {
        let amp = refhost::tone_amplitude(mid, hz, rate);
        assert!(amp > audible(), "{hz} Hz in the recording: {amp:.0}");
    }
    let stops = run.replies("record r stop");
    assert!(stops[0].starts_with("+OK"), "{stops:?}");
    assert!(
        stops[1].starts_with("-ERR bad-arguments (101)"),
        "{stops:?}"
    );
}

#[test]
fn dial_asks_the_host_to_originate() {
    let run = play("dial", &three(2.0, "at 1 api dial r +15551234567\n"));
    // The request is queued for the host: the reply does not wait for it.
    ok(&run, "dial r +15551234567");
    let notes = run.notes("host-originate-refused");
    assert_eq!(notes.len(), 1);
    assert_eq!(field(notes[0], "Dial"), "+15551234567 -> r");
    assert_eq!(time(notes[0]), 1.0);
    // The reference host has no trunk and refuses; huddle logs that.
    assert!(
        run.module_log
            .lines()
            .any(|l| l.contains("WARN") && l.contains("+15551234567") && l.contains("failed")),
        "{}",
        run.module_log
    );
}

#[test]
fn end_hangs_up_everyone() {
    let run = play("end", &three(4.0, "at 2 api end r\nat 3 api end r\n"));
    assert_eq!(run.hung_up_legs(), ["a", "b", "c"]);
    for leg in ["a", "b", "c"] {
        assert_eq!(run.hangups(leg), [16]);
        assert_eq!(run.rms(leg, 2.2, 4.0), 0.0);
    }
    let end = run.named("conference-end");
    assert_eq!(end.len(), 1);
    assert_eq!(field(end[0], "ReasonConferenceEnded"), "ended-via-api");
    assert_eq!(time(end[0]), 2.0);
    let replies = run.replies("end r");
    assert!(
        replies[1].starts_with("-ERR unknown-room (200)"),
        "{replies:?}"
    );
}

#[test]
fn pin_and_hostpin_guard_the_next_callers() {
    let run = play(
        "pin",
        &three(
            11.0,
            "leg d\nleg e\nleg f\n\
             at 1 api hostpin r 9999\nat 1.1 api pin r 1234\nat 1.2 api hostpin r 9999\n\
             at 1.3 api get r pin\nat 1.3 api get r host_pin\n\
             at 2 d dial r\nat 3 api count r\nat 3.5 d dtmf 1234#\n\
             at 5 e dial r\nat 5.5 e dtmf 9999#\nat 7 e dtmf *91\n\
             at 9 api hostpin r none\nat 9 api pin r none\nat 9 api get r pin\nat 9.5 f dial r\n",
        ),
    );
    let replies = run.replies("hostpin r 9999");
    assert!(
        replies[0].starts_with("-ERR bad-arguments (101)"),
        "a host PIN needs a PIN: {replies:?}"
    );
    assert!(replies[1].starts_with("+OK"), "{replies:?}");
    assert_eq!(run.replies("get r pin")[0], "+OK pin set");
    assert_eq!(run.reply("get r host_pin"), "+OK host_pin set");
    // d is asked for the PIN and gets in once it is typed.
    assert!(run.tone("d", PIN_PROMPT, 2.1, 2.5) > SOUND_AMPLITUDE / 3.0);
    assert_eq!(run.reply("count r"), "+OK 3");
    let join = run.of("participant-join", "d");
    assert!((3.8..4.1).contains(&time(join[0])), "{}", join[0]);
    assert!(run.hears("d", A, 4.5, 4.9));
    // e typed the host PIN: a moderator, whose *91 mutes the others.
    assert_eq!(legs_of(&run, "participant-mute"), ["a", "b", "c", "d"]);
    assert!(run.silent("e", A, 7.8, 8.9));
    // No PIN any more: f is in at once.
    assert_eq!(run.replies("get r pin")[1], "+OK pin none");
    assert_eq!(time(run.of("participant-join", "f")[0]), 9.5);
}

#[test]
fn set_and_get_room_parameters() {
    let run = play(
        "set",
        &three(
            8.0,
            "leg d\nleg e\nleg f\n\
             at 0.5 api get r max_members\nat 1 api set r max_members 3\nat 1 api get r max_members\n\
             at 1.5 d dial r\nat 2 api set r max_members 10\nat 2 api set r locked true\n\
             at 2 api get r locked\nat 2.5 e dial r\nat 3 api set r locked false\nat 3.5 f dial r\n\
             at 4 api set r moh file.wav\nat 4 api get r moh\nat 4 api hold r 1\n\
             at 6 api set r moh none\nat 6 api get r moh\nat 6 api set r max_members 1\n",
        ),
    );
    assert_eq!(run.replies("get r max_members")[0], "+OK max_members 25");
    assert_eq!(run.replies("get r max_members")[1], "+OK max_members 3");
    assert_eq!(run.hangups("d"), [34], "full at 3");
    assert_eq!(run.reply("get r locked"), "+OK locked true");
    assert_eq!(run.hangups("e"), [21], "locked");
    assert_eq!(field(run.of("join-refused", "e")[0], "Reason"), "locked");
    assert_eq!(run.of("participant-join", "f").len(), 1);
    // The music set by the operator is what a held member hears; none: silence.
    assert_eq!(run.replies("get r moh")[0], "+OK moh set");
    assert!(run.hears("a", FILE_TONE, 4.5, 5.9) && run.silent("a", MOH, 4.5, 5.9));
    assert_eq!(run.replies("get r moh")[1], "+OK moh none");
    assert_eq!(run.rms("a", 6.5, 7.9), 0.0);
    assert!(run
        .reply("set r max_members 1")
        .starts_with("-ERR bad-arguments (101)"));
}

#[test]
fn relate_nohear_nospeak_and_clear() {
    let run = play(
        "relate",
        &three(
            7.0,
            "at 1 api relate r 1 2 nohear\nat 3 api relate r 1 2 clear\n\
             at 3 api relate r 1 3 nospeak\nat 5 api relate r 1 3 clear\n",
        ),
    );
    // a does not hear b; everyone else is as before.
    assert!(run.silent("a", B, 1.5, 2.9) && run.hears("a", C, 1.5, 2.9));
    assert!(run.hears("c", B, 1.5, 2.9) && run.hears("b", A, 1.5, 2.9));
    // c does not hear a.
    assert!(run.silent("c", A, 3.5, 4.9) && run.hears("b", A, 3.5, 4.9));
    assert!(run.hears("a", B, 3.5, 4.9) && run.hears("a", C, 3.5, 4.9));
    assert!(run.hears("c", A, 5.5, 6.9));
}

#[test]
fn stats_count_ticks_and_frames() {
    let run = play(
        "stats",
        &three(
            3.0,
            "at 1 api json stats r\nat 2 api json stats r\nat 2 api stats r\n",
        ),
    );
    let s: Vec<serde_json::Value> = run
        .replies("json stats r")
        .iter()
        .map(|r| serde_json::from_str::<serde_json::Value>(r).unwrap()["result"].clone())
        .collect();
    let n = |v: &serde_json::Value| v.as_u64().unwrap();
    // One second of 20 ms ticks and frames.
    assert_eq!(n(&s[1]["ticks"]) - n(&s[0]["ticks"]), 50);
    let (before, after) = (&s[0]["members"], &s[1]["members"]);
    assert_eq!(after.as_array().unwrap().len(), 3);
    for (i, (m0, m1)) in before
        .as_array()
        .unwrap()
        .iter()
        .zip(after.as_array().unwrap())
        .enumerate()
    {
        assert_eq!(n(&m1["frames_in"]) - n(&m0["frames_in"]), 50, "member {i}");
        assert_eq!(
            n(&m1["frames_out"]) - n(&m0["frames_out"]),
            50,
            "member {i}"
        );
        assert_eq!(n(&m1["dropped"]), 0);
    }
    let text = ok(&run, "stats r");
    for id in 1..=3 {
        assert!(text.contains(&format!("member {id} in=")), "{text}");
    }
}

#[test]
fn reload_takes_new_rooms_and_apply_live_takes_running_ones() {
    let scene = scene("reload");
    let rooms = "[[rooms]]\nname = \"live\"\nmax_participants = 5\n";
    // The next config: the room gets a PIN and a lower limit, and the
    // profile a rate a running room must not take.
    let next = format!(
        "{MODULE}\n[profiles.default]\nrate = 8000\n{}\n\
         [[rooms]]\nname = \"live\"\nmax_participants = 4\npin = \"4321\"\n",
        prompts()
    );
    let bad = next.replace(
        "recordings_dir = \"recordings\"\n",
        "recordings_dir = \"recordings\"\nbogus = 1\n",
    );
    let bogus_line = bad.lines().position(|l| l.starts_with("bogus")).unwrap() + 1;
    scene.file("next.conf", &next).file("bad.conf", &bad);
    let run = scene.run(
        &config(rooms),
        r#"
leg a
leg b
leg c
leg d
leg e
leg f
leg g
at 0   a dial live
at 0   b dial live
at 0.5 a tone 440 9
at 1   config next.conf
at 1.5 api reload
at 1.6 reload
at 2   c dial live
at 2.5 api get live max_members
at 3   api reload apply-live
at 3.5 api get live max_members
at 3.5 api get live pin
at 4   d dial live
at 4.5 d dtmf 4321#
at 6   e dial live+4321
at 6.5 f dial fresh
at 7   api list
at 7.5 config bad.conf
at 7.5 reload
at 8   api reload
at 8.5 g dial live
at 9   api count live
"#,
    );
    // The refused reload is logged as an error, the one refhost counts.
    let errors = run.error_lines();
    assert_eq!(errors.len(), 1, "{}", run.module_log);
    assert!(errors[0].contains("reload refused"), "{}", errors[0]);
    assert_eq!(run.status, Some(1), "{}", run.stderr);
    // A plain reload leaves the running room alone: no PIN, limit 5.
    assert_eq!(time(run.of("participant-join", "c")[0]), 2.0);
    assert_eq!(run.replies("get live max_members")[0], "+OK max_members 5");
    assert_eq!(
        run.reply("reload apply-live"),
        "+OK reloaded, applied to 1 live room(s)"
    );
    assert_eq!(run.replies("get live max_members")[1], "+OK max_members 4");
    assert_eq!(run.reply("get live pin"), "+OK pin set");
    // Now callers need the PIN, and the fourth is the last one in. The
    // prompt, decoded again at reload, keeps its pitch in the 16 kHz room.
    assert!(run.tone("d", PIN_PROMPT, 4.0, 4.4) > SOUND_AMPLITUDE / 3.0);
    let join = run.of("participant-join", "d");
    assert!((4.8..5.1).contains(&time(join[0])), "{}", join[0]);
    assert!(run.hears("d", A, 5.5, 5.9));
    assert_eq!(run.hangups("e"), [34]);
    // The running room kept its rate; a new room takes the new profile's.
    let list = run.reply("list");
    assert!(
        list.contains("\nlive members=4 started=yes locked=no recording=off rate=16000 "),
        "{list}"
    );
    assert!(
        list.contains("\nfresh members=1 started=no locked=no recording=off rate=8000 "),
        "{list}"
    );
    // huddle_module_reload: fine with the good file, refused with the bad.
    let status: Vec<&str> = run
        .notes("host-reload")
        .iter()
        .map(|n| field(n, "Status"))
        .collect();
    assert_eq!(status.len(), 2);
    assert_eq!(status[0], "ok");
    assert!(status[1].contains("configuration"), "{status:?}");
    let replies = run.replies("reload");
    assert_eq!(replies[0], "+OK reloaded");
    // A bad file: refused naming file:line:key (the host's copy of the
    // file keeps its lines), and the config in force stays: g is asked
    // for next.conf's PIN.
    let reply = &replies[1];
    assert!(reply.starts_with("-ERR refused (300)"), "{reply}");
    let want = format!(".conf:{bogus_line}: key 'module.bogus'");
    assert!(reply.contains(&want), "{reply} lacks {want}");
    assert!(run.tone("g", PIN_PROMPT, 8.5, 8.9) > SOUND_AMPLITUDE / 3.0);
    assert_eq!(run.reply("count live"), "+OK 4");
}

#[test]
fn help_lists_every_command() {
    let run = play("help", "at 0.1 api help\n");
    api_commands::assert_help_lists_every_command(&ok(&run, "help"));
}

#[test]
fn errors_have_stable_codes_and_change_nothing() {
    let run = play(
        "errors",
        &three(
            3.0,
            "at 1 api frobnicate r\nat 1 api kick r\nat 1 api mute nowhere 1\n\
             at 1 api mute r 42\nat 1 api json mute r 42\nat 1 api volume_in r 1 99\nat 2 api count r\n",
        ),
    );
    assert!(run
        .reply("frobnicate r")
        .starts_with("-ERR unknown-command (100)"));
    assert!(run.reply("kick r").starts_with("-ERR bad-arguments (101)"));
    assert!(run
        .reply("mute nowhere 1")
        .starts_with("-ERR unknown-room (200)"));
    assert!(run
        .reply("mute r 42")
        .starts_with("-ERR unknown-member (201)"));
    assert!(run
        .reply("volume_in r 1 99")
        .starts_with("-ERR bad-arguments (101)"));
    let v = run.json("json mute r 42");
    assert_eq!(
        (v["ok"].clone(), v["error"]["code"].clone()),
        (false.into(), 201.into())
    );
    assert_eq!(run.reply("count r"), "+OK 3");
    assert!(run.named("participant-mute").is_empty());
    assert!(run.hung_up_legs().is_empty());
    assert!(run.hears("b", A, 1.5, 2.5));
}
