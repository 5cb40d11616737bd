//! Room behaviour (issue 3) through the C ABI: each test plays a scenario
//! with the C reference host (ffi/refhost), which `dlopen`s libhuddle.so and
//! drives it on the manual timer, then checks the events the host received
//! and who heard whom in each leg's received audio (tests/refhost/mod.rs).
//!
//! Every leg talks with its own sine (-20 dBFS); prompts and music are WAVs
//! of other frequencies written by the test. A Goertzel filter over a window
//! of a leg's heard audio tells whether a tone reached it. Tones and
//! windows are multiples of 10 Hz and 100 ms, so the filters see whole
//! cycles and one tone does not leak into another's measurement.
mod refhost;
mod rng;
use refhost::{
    call_id, field, sounds, time, Run, Scene, A, B, C, D, MODULE, MOH, PIN_PROMPT, SILENT,
    SOUND_AMPLITUDE,
};
use rng::Rng;

use std::collections::HashMap;

/// The sounds the test gives the profile besides the hold music and the
/// PIN prompt (Hz).
const ENTER: f64 = 2300.0;
const BAD_PIN: f64 = 3300.0;
const DENIED: f64 = 1900.0;

/// A config on the manual timer whose prompts are the test's own tones.
fn config(rooms: &str) -> String {
    let prompts = sounds(&[
        ("moh", "moh.wav"),
        ("enter", "enter.wav"),
        ("pin", "pin.wav"),
        ("bad_pin", "bad-pin.wav"),
        ("denied", "denied.wav"),
    ]);
    format!("{MODULE}\n{prompts}{rooms}")
}

fn scene(tag: &str) -> Scene {
    let s = Scene::new(tag);
    s.tone_wav("moh.wav", MOH, 2.0, SOUND_AMPLITUDE)
        .tone_wav("enter.wav", ENTER, 0.3, SOUND_AMPLITUDE)
        .tone_wav("pin.wav", PIN_PROMPT, 0.6, SOUND_AMPLITUDE)
        .tone_wav("bad-pin.wav", BAD_PIN, 0.4, SOUND_AMPLITUDE)
        .tone_wav("denied.wav", DENIED, 0.4, SOUND_AMPLITUDE);
    s
}

fn play(tag: &str, rooms: &str, scenario: &str) -> Run {
    let run = scene(tag).run(&config(rooms), scenario);
    run.assert_clean();
    run
}

/// Eight-digit PINs: longer than a process id, so finding one in the log
/// (which names the scratch directory) means the PIN leaked.
fn pinroom() -> String {
    refhost::pin_room("pinroom", "48151623", "host_pin = \"97531864\"")
}

#[test]
fn pin_admits_three_wrong_pins_hang_up_and_the_host_pin_makes_a_moderator() {
    let run = play(
        "pins",
        &pinroom(),
        r#"
leg a
leg w
leg h
at 0   a dial pinroom
at 1   a dtmf 48151623#
at 2   a tone 440 10
at 0   w dial pinroom
at 1   w dtmf 11112222#
at 2.5 w dtmf 22223333#
at 4   w dtmf 33334444#
at 5   h dial pinroom
at 5.5 h dtmf 97531864#
at 8   h dtmf *91
at 12  end
"#,
    );
    // a hears the PIN prompt while asked, and is admitted once '#' (at
    // 1.8 s, keys 100 ms apart) ends the PIN.
    assert!(run.tone("a", PIN_PROMPT, 0.1, 0.6) > SOUND_AMPLITUDE / 3.0);
    let join = run.of("participant-join", "a");
    assert_eq!(join.len(), 1);
    assert!((1.8..2.0).contains(&time(join[0])), "{}", join[0]);
    assert_eq!(field(join[0], "CallSid"), call_id(0, "a"));
    // w: three failures, counted, then hung up with cause 21; never joins.
    let failed = run.of("pin-failed", "w");
    let attempts: Vec<&str> = failed.iter().map(|e| field(e, "Attempt")).collect();
    assert_eq!(attempts, ["1", "2", "3"]);
    assert!(failed.iter().all(|e| field(e, "MaxAttempts") == "3"));
    assert_eq!(run.named("pin-failed").len(), 3);
    assert_eq!(run.hangups("w"), [21]);
    assert!(time(run.notes("host-hangup-by-module")[0]) >= 4.8);
    assert!(run.of("participant-join", "w").is_empty());
    assert!(
        run.tone("w", BAD_PIN, 1.8, 2.4) > SOUND_AMPLITUDE / 4.0,
        "w hears that the PIN was wrong"
    );
    // No PIN typed reaches an event or the log.
    for pin in ["11112222", "22223333", "33334444", "48151623", "97531864"] {
        assert!(
            run.events().iter().all(|e| !e.to_string().contains(pin)),
            "an event holds {pin}"
        );
        assert!(!run.module_log.contains(pin), "module.log holds {pin}");
    }
    // h typed the host PIN: a moderator, as its *91 shows: a is muted
    // (an event, and h stops hearing a), h itself is not.
    assert_eq!(run.of("participant-join", "h").len(), 1);
    assert!(run.hears("h", A, 6.6, 7.9), "h hears a before *91");
    let muted = run.of("participant-mute", "a");
    assert_eq!(muted.len(), 1);
    assert!((8.2..8.6).contains(&time(muted[0])), "{}", muted[0]);
    assert!(run.of("participant-mute", "h").is_empty());
    assert!(run.silent("h", A, 9.0, 11.0), "h no longer hears a");
    assert!(run.hangups("a").is_empty() && run.hangups("h").is_empty());
}

#[test]
fn callers_wait_for_the_host_with_hold_music_and_it_starts_when_the_host_joins() {
    let run = play(
        "wait",
        "[[rooms]]\nname = \"lobby\"\nwait_for_host = true\n",
        r#"
leg a
leg b
leg host
at 0   a dial lobby
at 0.5 b dial lobby
at 0.5 a tone 440 9
at 0.5 b tone 700 9
at 4   host dial lobby+flags{moderator}
at 4   host tone 1000 5
at 9   end
"#,
    );
    for (leg, other) in [("a", B), ("b", A)] {
        assert!(run.hears(leg, MOH, 1.5, 3.5), "{leg} waits with hold music");
        assert!(
            run.silent(leg, other, 1.5, 3.5),
            "{leg} hears no other caller"
        );
    }
    let starts = run.named("conference-start");
    assert_eq!(starts.len(), 1);
    assert_eq!(time(starts[0]), 4.0, "the host's arrival starts it");
    let names = run.names();
    let start = names.iter().position(|n| *n == "conference-start").unwrap();
    assert_eq!(names[start - 1], "participant-join");
    assert_eq!(run.events()[start - 1]["leg"], "host");
    assert_eq!(field(starts[0], "ParticipantCount"), "3");
    for other in [B, C] {
        assert!(run.hears("a", other, 5.0, 8.0));
    }
    assert!(run.silent("a", MOH, 5.0, 8.0), "the music stops");
    assert!(run.hears("host", A, 5.0, 8.0) && run.hears("host", B, 5.0, 8.0));
}

#[test]
fn a_conference_needs_two_members_to_start_and_later_joiners_beep_to_the_others() {
    let run = play(
        "two",
        "",
        r#"
leg a
leg b
leg c
at 0   a dial solo
at 0.5 a tone 440 5.5
at 3   b dial solo
at 3   b tone 700 3
at 7   c dial solo
at 8   end
"#,
    );
    assert!(run.hears("a", MOH, 0.5, 2.5), "alone, a hears hold music");
    let starts = run.named("conference-start");
    assert_eq!(starts.len(), 1);
    assert_eq!(time(starts[0]), 3.0);
    let names = run.names();
    let start = names.iter().position(|n| *n == "conference-start").unwrap();
    assert_eq!(names[start - 1], "participant-join");
    assert_eq!(run.events()[start - 1]["leg"], "b");
    assert!(run.hears("a", B, 4.0, 7.0) && run.hears("b", A, 4.0, 7.0));
    assert!(run.silent("a", MOH, 4.0, 7.0));
    // Once it runs, a joiner's enter beep goes to the others, never to
    // the joiner.
    assert!(run.tone("a", ENTER, 7.0, 7.6) > SOUND_AMPLITUDE / 4.0);
    assert!(run.tone("b", ENTER, 7.0, 7.6) > SOUND_AMPLITUDE / 4.0);
    assert!(run.tone("c", ENTER, 7.0, 7.6) < SILENT);
}

#[test]
fn end_conference_on_exit_hangs_everyone_up() {
    let run = play(
        "endconf",
        "",
        r#"
leg a
leg b
leg c
at 0   a dial {endConferenceOnExit=true}r
at 0   b dial r
at 0   c dial r
at 0.5 b tone 700 5
at 0.5 c tone 1000 5
at 3   a hangup
at 5   end
"#,
    );
    assert!(run.hears("b", C, 1.0, 2.9));
    assert_eq!(run.hangups("b"), [16]);
    assert_eq!(run.hangups("c"), [16]);
    assert!(run.hangups("a").is_empty(), "a hung up itself");
    let end = run.named("conference-end");
    assert_eq!(end.len(), 1);
    assert_eq!(time(end[0]), 3.0);
    assert_eq!(
        field(end[0], "ReasonConferenceEnded"),
        "participant-with-end-conference-on-exit-left"
    );
    assert_eq!(field(end[0], "CallSidEndingConference"), call_id(0, "a"));
    assert_eq!(run.named("participant-leave").len(), 3);
    assert_eq!(*run.names().last().unwrap(), "conference-end");
    for leg in ["b", "c"] {
        assert_eq!(run.rms(leg, 3.2, 5.0), 0.0, "{leg} hears nothing after");
    }
}

#[test]
fn a_locked_room_refuses_even_a_moderator() {
    let run = play(
        "lock",
        &pinroom(),
        r#"
leg m
leg b
leg c
leg d
at 0   m dial pinroom
at 0.3 m dtmf 97531864#
at 0   b dial pinroom+48151623
at 1   m tone 1000 8
at 1   b tone 700 8
at 2   m dtmf *92
at 4   c dial pinroom+97531864
at 5   api count pinroom
at 5.5 m dtmf *93
at 7   d dial pinroom+48151623
at 8   end
"#,
    );
    let lock = run.named("conference-lock");
    assert_eq!(lock.len(), 1);
    assert!((2.2..2.6).contains(&time(lock[0])));
    let refused = run.named("join-refused");
    assert_eq!(refused.len(), 1);
    assert_eq!(field(refused[0], "Reason"), "locked");
    assert_eq!(field(refused[0], "CallSid"), call_id(2, "c"));
    assert_eq!(run.hangups("c"), [21]);
    assert_eq!(run.notes("host-dial-refused").len(), 1);
    assert!(run.of("participant-join", "c").is_empty());
    assert_eq!(run.reply("count pinroom"), "+OK 2");
    assert!(run.hears("m", B, 3.0, 5.0), "the locked room goes on");
    // *93 unlocks: the next caller gets in.
    assert_eq!(run.named("conference-unlock").len(), 1);
    assert_eq!(run.of("participant-join", "d").len(), 1);
}

#[test]
fn max_participants_refuses_the_next_caller_with_cause_34() {
    let run = play(
        "full",
        "[[rooms]]\nname = \"small\"\nmax_participants = 2\n",
        r#"
leg a
leg b
leg c
leg a2
leg b2
leg c2
at 0   a dial small
at 0   b dial small
at 1   c dial small
at 0   a2 dial {maxParticipants=2}big
at 0   b2 dial big
at 1   c2 dial {maxParticipants=2}big
at 0.5 a tone 440 2
at 0.5 b tone 700 2
at 2   api count small
at 2   api count big
at 3   end
"#,
    );
    for leg in ["c", "c2"] {
        assert_eq!(run.hangups(leg), [34], "{leg}");
        let refused = run.of("join-refused", leg);
        assert_eq!(refused.len(), 1, "{leg}");
        assert_eq!(field(refused[0], "Reason"), "full");
        assert!(run.of("participant-join", leg).is_empty());
    }
    assert_eq!(run.reply("count small"), "+OK 2");
    assert_eq!(run.reply("count big"), "+OK 2");
    assert!(run.hears("a", B, 1.0, 2.0) && run.hears("b", A, 1.0, 2.0));
}

#[test]
fn muted_is_not_heard_deaf_hears_silence_held_hears_music_and_is_not_heard() {
    let run = play(
        "flags",
        "",
        r#"
leg a
leg b
leg c
leg d
at 0   a dial flags+flags{mute}
at 0   b dial {deaf=true}flags
at 0   c dial {hold=true}flags
at 0   d dial flags
at 0.5 a tone 440 5
at 0.5 b tone 700 5
at 0.5 c tone 1000 5
at 0.5 d tone 1300 5
at 6   end
"#,
    );
    let (from, to) = (2.0, 5.0);
    // Muted a: nobody hears it; it hears the others.
    assert_eq!(field(run.of("participant-join", "a")[0], "Muted"), "true");
    assert!(run.silent("d", A, from, to));
    assert!(run.hears("a", B, from, to) && run.hears("a", D, from, to));
    // Deaf b: hears nothing at all, is heard.
    assert_eq!(run.rms("b", from, to), 0.0);
    assert!(run.hears("d", B, from, to));
    // Held c: hears the music and nobody else, is not heard.
    assert_eq!(field(run.of("participant-join", "c")[0], "Hold"), "true");
    assert!(run.hears("c", MOH, from, to));
    assert!(run.silent("c", D, from, to) && run.silent("c", B, from, to));
    assert!(run.silent("d", C, from, to) && run.silent("a", C, from, to));
    assert!(run.silent("d", MOH, from, to), "the music is c's alone");
}

#[test]
fn a_coach_is_heard_only_by_the_coached_member_and_an_absent_target_is_refused() {
    let coached = call_id(1, "b");
    let run = play(
        "coach",
        "",
        &format!(
            r#"
leg a
leg b
leg c
leg x
at 0   a dial coached
at 0   b dial coached
at 0.2 c dial {{coach={coached}}}coached
at 0.3 x dial {{coach=CA00000000000000ffnobody}}coached
at 0.5 a tone 440 5
at 0.5 b tone 700 5
at 0.5 c tone 1000 5
at 6   end
"#
        ),
    );
    let coach = run.of("participant-coach", "c");
    assert_eq!(coach.len(), 1);
    assert_eq!(field(coach[0], "CallSidToCoach"), coached);
    let (from, to) = (2.0, 5.0);
    assert!(run.hears("b", C, from, to), "the coached member hears c");
    assert!(run.silent("a", C, from, to), "nobody else does");
    assert!(run.hears("a", B, from, to));
    assert!(
        run.hears("c", A, from, to) && run.hears("c", B, from, to),
        "the coach hears everyone"
    );
    let refused = run.of("join-refused", "x");
    assert_eq!(refused.len(), 1);
    assert_eq!(field(refused[0], "Reason"), "coach-target-absent");
    assert_eq!(run.hangups("x"), [21]);
}

#[test]
fn star_91_mutes_and_star_90_unmutes_all_non_moderators() {
    let run = play(
        "muteall",
        "",
        r#"
leg m
leg a
leg b
at 0   m dial mods+flags{moderator}
at 0   a dial mods
at 0   b dial mods
at 0.5 m tone 1000 12
at 0.5 a tone 440 12
at 0.5 b tone 700 12
at 2   m dtmf *91
at 5.5 a dtmf 0
at 9   m dtmf *90
at 12.5 end
"#,
    );
    assert!(run.hears("m", A, 1.0, 2.0) && run.hears("m", B, 1.0, 2.0));
    let muted = run.named("participant-mute");
    let who: Vec<&str> = muted.iter().map(|e| e["leg"].as_str().unwrap()).collect();
    assert_eq!(who, ["a", "b"]);
    assert!(muted.iter().all(|e| (2.2..2.6).contains(&time(e))));
    assert!(run.silent("m", A, 3.0, 5.0) && run.silent("m", B, 3.0, 5.0));
    assert!(run.hears("a", C, 3.0, 5.0), "the moderator still speaks");
    // a may not unmute itself while mute-all is on: it hears the refusal,
    // nothing changes.
    assert!(run.tone("a", DENIED, 5.5, 6.5) > SOUND_AMPLITUDE / 4.0);
    assert!(run.tone("b", DENIED, 5.5, 6.5) < SILENT);
    assert!(run.silent("m", A, 7.0, 8.9));
    let unmuted = run.named("participant-unmute");
    let who: Vec<&str> = unmuted.iter().map(|e| e["leg"].as_str().unwrap()).collect();
    assert_eq!(who, ["a", "b"]);
    assert!(unmuted.iter().all(|e| (9.2..9.6).contains(&time(e))));
    assert!(run.hears("m", A, 10.0, 12.0) && run.hears("m", B, 10.0, 12.0));
}

#[test]
fn a_non_moderator_pressing_star_92_hears_the_refusal_and_nothing_locks() {
    let run = play(
        "nolock",
        "",
        r#"
leg a
leg b
leg c
at 0   a dial nolock
at 0   b dial nolock
at 1   a dtmf *92
at 4   api get nolock locked
at 4.5 c dial nolock
at 6   end
"#,
    );
    assert!(run.named("conference-lock").is_empty());
    assert!(run.tone("a", DENIED, 1.0, 2.0) > SOUND_AMPLITUDE / 4.0);
    assert!(run.tone("b", DENIED, 1.0, 2.0) < SILENT);
    assert_eq!(run.reply("get nolock locked"), "+OK locked false");
    assert_eq!(run.of("participant-join", "c").len(), 1);
    assert!(run.hangups("c").is_empty());
}

#[test]
fn two_accounts_with_the_same_room_name_are_separate_rooms() {
    let run = play(
        "accounts",
        "",
        r#"
leg a  account=AC1
leg a2 account=AC1
leg b  account=AC2
leg b2 account=AC2
at 0   a  dial same
at 0   a2 dial same
at 0   b  dial same
at 0   b2 dial same
at 0.5 a  tone 440 4
at 0.5 a2 tone 700 4
at 0.5 b  tone 1000 4
at 0.5 b2 tone 1300 4
at 2   api count AC1/same
at 2   api count AC2/same
at 2   api count same
at 5   end
"#,
    );
    let (from, to) = (1.5, 4.0);
    assert!(run.hears("a", B, from, to));
    assert!(run.silent("a", C, from, to) && run.silent("a", D, from, to));
    assert!(run.hears("b", D, from, to));
    assert!(run.silent("b", A, from, to) && run.silent("b", B, from, to));
    let starts = run.named("conference-start");
    assert_eq!(starts.len(), 2);
    assert_ne!(
        field(starts[0], "ConferenceSid"),
        field(starts[1], "ConferenceSid")
    );
    let mut accounts: Vec<&str> = starts.iter().map(|e| field(e, "AccountSid")).collect();
    accounts.sort();
    assert_eq!(accounts, ["AC1", "AC2"]);
    for (leg, account) in [("a", "AC1"), ("a2", "AC1"), ("b", "AC2"), ("b2", "AC2")] {
        let join = run.of("participant-join", leg);
        assert_eq!(field(join[0], "AccountSid"), account, "{leg}");
    }
    assert_eq!(run.reply("count AC1/same"), "+OK 2");
    assert_eq!(run.reply("count AC2/same"), "+OK 2");
    assert!(
        run.reply("count same")
            .starts_with("-ERR bad-arguments (101)"),
        "an ambiguous name is refused"
    );
}

/// `actions` random but valid actions on 60 legs in two rooms (one with a
/// PIN and a host PIN), generated from a seed: callers arrive all along
/// (a third at the start), press keys, talk, hang up, and an operator
/// mutes, holds, kicks, locks and records, with every kind of target.
fn random_scenario(seed: u64, actions: usize) -> String {
    const LEGS: usize = 60;
    let mut rng = Rng(seed);
    let mut out = String::new();
    for i in 0..LEGS {
        out.push_str(&format!("leg m{i}\n"));
    }
    let mut next_leg = 0;
    let mut t = 0.0f64;
    for n in 0..actions {
        t += [0.0, 0.0, 0.02, 0.02, 0.04][rng.below(5)];
        let at = format!("at {t:.2}");
        let leg = rng.below(next_leg.max(1));
        let arrive = next_leg < LEGS && (next_leg < LEGS / 3 || rng.below(actions / LEGS) == 0);
        let line = if arrive || (n + LEGS >= actions && next_leg < LEGS) {
            let app = rng.pick(&[
                "busy",
                "busy+1234",
                "busy+1234",
                "busy+9999",
                "{muted=true,pin=1234}busy",
                "{endConferenceOnExit=true,pin=1234}busy",
                "open",
                "open",
                "open+flags{moderator}",
                "{hold=true}open",
                "{deaf=true}open",
            ]);
            next_leg += 1;
            format!("{at} m{} dial {app}", next_leg - 1)
        } else {
            match rng.below(1000) {
                0..=249 => {
                    let d = rng.pick(&[
                        "1234#", "9999#", "1111#", "0", "*1", "*2", "*91", "*90", "*92", "*93",
                        "*94", "*95", "1", "3", "4", "6", "7", "9",
                    ]);
                    format!("{at} m{leg} dtmf {d}")
                }
                250..=399 => {
                    let hz = [440, 700, 1000, 1300][rng.below(4)];
                    let secs = 0.2 + rng.below(20) as f64 / 10.0;
                    format!("{at} m{leg} tone {hz} {secs:.1}")
                }
                400..=429 => format!("{at} m{leg} silence"),
                430..=432 => format!("{at} m{leg} hangup"),
                433..=434 => format!("{at} m{leg} dtmf 5#"),
                _ => {
                    let room = rng.pick(&["busy", "open"]);
                    let target = match rng.below(20) {
                        0..=4 => "all".to_string(),
                        5..=8 => "last".to_string(),
                        9..=12 => "non_moderator".to_string(),
                        _ => (rng.below(20) + 1).to_string(),
                    };
                    let one = match rng.below(2) {
                        0 => "last".to_string(),
                        _ => (rng.below(30) + 1).to_string(),
                    };
                    let level = rng.pick(&["up", "down", "-40", "0"]);
                    let cmd = match rng.below(100) {
                        0 => format!("kick {room} {one}"),
                        1 => format!("hup {room} {one}"),
                        2..=4 => format!("lock {room}"),
                        5..=7 => format!("unlock {room}"),
                        8..=11 => {
                            let what = rng.pick(&["start", "stop", "pause", "resume"]);
                            format!("record {room} {what}")
                        }
                        12..=17 => {
                            let what = rng.pick(&["list", "json list", "count", "stats"]);
                            format!("{what} {room}")
                        }
                        18..=20 => {
                            format!("coach {room} {} {}", rng.below(30) + 1, rng.below(30) + 1)
                        }
                        21..=27 => format!("energy {room} {target} {level}"),
                        28..=34 => format!("volume_in {room} {target} {level}"),
                        35..=44 => format!("mute {room} {target}"),
                        45..=54 => format!("unmute {room} {target}"),
                        55..=64 => format!("tmute {room} {target}"),
                        65..=74 => format!("deaf {room} {target}"),
                        75..=84 => format!("undeaf {room} {target}"),
                        85..=91 => format!("hold {room} {target}"),
                        _ => format!("unhold {room} {target}"),
                    };
                    format!("{at} api {cmd}")
                }
            }
        };
        out.push_str(&line);
        out.push('\n');
    }
    out.push_str(&format!("at {:.2} end\n", t + 1.0));
    out
}

#[test]
fn sequence_numbers_increase_without_gaps_over_a_long_random_scenario() {
    let actions = 4_000;
    let scenario = random_scenario(0x5eed_c0de_0000_0003, actions);
    assert_eq!(
        scenario.lines().filter(|l| l.starts_with("at ")).count(),
        actions + 1
    );
    let run = play(
        "random",
        "[[rooms]]\nname = \"busy\"\npin = \"1234\"\nhost_pin = \"9999\"\n",
        &scenario,
    );
    let mut per_conference: HashMap<&str, Vec<u64>> = HashMap::new();
    for e in run.events() {
        for key in [
            "AccountSid",
            "FriendlyName",
            "StatusCallbackEvent",
            "Timestamp",
            "ParticipantCount",
        ] {
            assert!(e.get(key).is_some(), "{key} missing: {e}");
        }
        let sid = field(e, "ConferenceSid");
        assert!(sid.starts_with("CF"), "{e}");
        let seq = field(e, "SequenceNumber")
            .parse()
            .unwrap_or_else(|_| panic!("{e}"));
        per_conference.entry(sid).or_default().push(seq);
    }
    let total: usize = per_conference.values().map(Vec::len).sum();
    assert!(total > 1_000, "only {total} events: the run did too little");
    assert!(
        per_conference.len() >= 3,
        "only {} conferences: rooms never ended and restarted",
        per_conference.len()
    );
    for (sid, seqs) in per_conference {
        // In delivery order: 1, 2, 3, ... with nothing skipped.
        let want: Vec<u64> = (1..=seqs.len() as u64).collect();
        assert_eq!(seqs, want, "conference {sid}");
    }
}
