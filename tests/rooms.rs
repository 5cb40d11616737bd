//! Room behaviour (issue 3), driven on the manual clock: admission, PINs,
//! waiting for the host, start/end rules, member flags, DTMF controls and
//! event numbering. Audibility is checked with a tone per member and a
//! Goertzel filter on what each channel heard.
mod common;
mod rng;
use common::*;
use rng::Rng;

use std::collections::HashMap;

fn pinroom() -> String {
    pin_room("pinroom", "1234", "host_pin = \"9999\"")
}

fn with_moh(config: &str) -> Harness {
    let h = Harness::new(config);
    write_tone_wav(&h.dir.join("sounds/hold.wav"), RATE, MOH, 2.0, 6000.0);
    h
}

fn json_list(h: &Harness, room: &str) -> serde_json::Value {
    let v: serde_json::Value = serde_json::from_str(&h.api(&format!("json list {room}"))).unwrap();
    assert_eq!(v["ok"], true, "{v}");
    v["result"].clone()
}

fn member_json(h: &Harness, room: &str, channel: &str) -> serde_json::Value {
    json_list(h, room)["member_list"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["channel"] == channel)
        .cloned()
        .unwrap_or_else(|| panic!("{channel} not listed in {room}"))
}

#[test]
fn right_pin_admits() {
    let h = Harness::new(&pinroom());
    let a = h.join("a", "pinroom").unwrap();
    assert!(h.events_named("participant-join").is_empty());
    assert_eq!(member_json(&h, "pinroom", "a")["admitted"], false);
    h.dtmf(&a, "1234#");
    assert_eq!(h.events_named("participant-join").len(), 1);
    let m = member_json(&h, "pinroom", "a");
    assert_eq!(m["admitted"], true);
    assert_eq!(m["moderator"], false);
    assert!(h.hangups().is_empty());
}

#[test]
fn three_wrong_pins_hang_up_with_cause_21() {
    let h = Harness::new(&pinroom());
    let a = h.join("a", "pinroom").unwrap();
    for _ in 0..3 {
        h.dtmf(&a, "1111#");
    }
    let failed = h.events_named("pin-failed");
    let attempts: Vec<&str> = failed
        .iter()
        .map(|e| field(e, "Attempt").unwrap())
        .collect();
    assert_eq!(attempts, ["1", "2", "3"]);
    assert!(failed
        .iter()
        .all(|e| field(e, "CallSid") == Some("CA-a") && field(e, "MaxAttempts") == Some("3")));
    assert_eq!(h.hangups(), [("a".to_string(), 21)]);
    assert!(h.events_named("participant-join").is_empty());
}

#[test]
fn host_pin_makes_a_moderator() {
    let h = Harness::new(&pinroom());
    let a = h.join("a", "pinroom").unwrap();
    h.dtmf(&a, "9999#");
    let m = member_json(&h, "pinroom", "a");
    assert_eq!(m["admitted"], true);
    assert_eq!(m["moderator"], true);
}

#[test]
fn pin_first_digit_timeout_counts_as_a_failed_try() {
    let h = Harness::new(&pinroom());
    let _a = h.join("a", "pinroom").unwrap();
    // pin_first_digit_timeout_ms defaults to 10 s.
    h.advance(9_900);
    assert!(h.events_named("pin-failed").is_empty());
    h.advance(200);
    assert_eq!(h.events_named("pin-failed").len(), 1);
    h.advance(20_100);
    assert_eq!(h.events_named("pin-failed").len(), 3);
    assert_eq!(h.hangups(), [("a".to_string(), 21)]);
}

#[test]
fn pin_inter_digit_timeout_checks_what_was_typed() {
    let h = Harness::new(&pinroom());
    let a = h.join("a", "pinroom").unwrap();
    // Typed without '#': checked once the 5 s inter-digit timeout runs out.
    h.dtmf(&a, "1234");
    h.advance(4_900);
    assert!(h.events_named("participant-join").is_empty());
    h.advance(200);
    assert_eq!(h.events_named("participant-join").len(), 1);

    let b = h.join("b", "pinroom").unwrap();
    h.dtmf(&b, "12");
    h.advance(5_100);
    let failed = h.events_named("pin-failed");
    assert_eq!(failed.len(), 1);
    assert_eq!(field(&failed[0], "CallSid"), Some("CA-b"));
}

#[test]
fn pin_failures_per_minute_refuse_further_attempts() {
    let h = Harness::new(&guarded_pin_room("guarded", 3, 3, "1234", ""));
    // A guesser calls into the empty room: three wrong PINs.
    let a = h.join("a", "guarded").unwrap();
    h.dtmf(&a, "1111#2222#3333#");
    assert_eq!(h.hangups(), [("a".to_string(), 21)]);
    // The next attempt within the minute is refused before any PIN is asked.
    assert!(h.join("b", "guarded").is_err());
    assert_eq!(h.hangups().last(), Some(&("b".to_string(), 21)));
    let refused = h.events_named("join-refused");
    assert_eq!(refused.len(), 1, "{:?}", h.event_names());
    assert_eq!(field(&refused[0], "Reason"), Some("pin-rate-limited"));
    assert!(h.logged("PIN attempt refused"), "{:?}", h.logs());
    // Even with the right PIN presented up front.
    assert!(h.join("c", "guarded+1234").is_err());
    // A minute later PINs are accepted again.
    h.advance(60_000);
    let d = h.join("d", "guarded").unwrap();
    h.dtmf(&d, "1234#");
    assert_eq!(h.events_named("participant-join").len(), 1);
}

/// `pin_failures_per_minute = 0` means no limit (conf/huddle.conf), not
/// "refuse every PIN caller".
#[test]
fn zero_failures_per_minute_means_unlimited() {
    let h = Harness::new(&guarded_pin_room("open", 0, 10, "1234", ""));
    let a = h
        .join("a", "open")
        .expect("a PIN caller is asked for the PIN");
    h.dtmf(&a, "1111#2222#3333#4444#1234#");
    assert_eq!(h.events_named("pin-failed").len(), 4);
    assert_eq!(
        h.events_named("participant-join").len(),
        1,
        "{:?}",
        h.event_names()
    );
    assert!(h.join("b", "open+1234").is_ok());
}

/// Guessers who all reach the PIN prompt first and then type at once still
/// get no more wrong tries per minute than the room allows; the rest are
/// refused without their PIN being checked, even the right one.
#[test]
fn parallel_guessers_share_the_rooms_failure_budget() {
    let h = Harness::new(&guarded_pin_room("guarded", 3, 3, "48151623", ""));
    let guessers: Vec<_> = (0..6)
        .map(|i| h.join(&format!("g{i}"), "guarded").unwrap())
        .collect();
    for (i, g) in guessers.iter().enumerate() {
        h.dtmf(g, &format!("{:08}#", 11_111_111 * (i as u32 % 9 + 1)));
    }
    let failed = h.events_named("pin-failed").len();
    assert!(
        failed <= 3,
        "{failed} wrong PINs were checked within a minute"
    );
    // The right PIN from one more caller inside the minute: refused too.
    let late = h.join("late", "guarded");
    if let Ok(p) = &late {
        h.dtmf(p, "48151623#");
    }
    assert!(
        h.events_named("participant-join").is_empty(),
        "{:?}",
        h.event_names()
    );
    // After the minute, the right PIN works.
    h.advance(61_000);
    let ok = h.join("ok", "guarded").unwrap();
    h.dtmf(&ok, "48151623#");
    assert_eq!(h.events_named("participant-join").len(), 1);
}

#[test]
fn callers_wait_for_the_host_hearing_music_and_unheard() {
    let h = with_moh(
        r#"
[[rooms]]
name = "lobby"
wait_for_host = true
"#,
    );
    let a = h.join("a", "lobby").unwrap();
    let b = h.join("b", "lobby").unwrap();
    h.talk(&[(&a, A), (&b, B)], 1000);
    assert!(!h.event_names().contains(&"conference-start".to_string()));
    for (ch, other) in [("a", B), ("b", A)] {
        assert!(h.hears(ch, MOH, 500) > AUDIBLE, "{ch} hears the hold music");
        assert!(
            h.hears(ch, other, 500) < SILENT,
            "{ch} does not hear the other caller"
        );
    }
    let host = h.join("host", "lobby+flags{moderator}").unwrap();
    let names = h.event_names();
    let host_join = names.iter().rposition(|n| n == "participant-join").unwrap();
    assert_eq!(names[host_join + 1], "conference-start", "{names:?}");
    assert_eq!(h.events_named("participant-join").len(), 3);
    h.talk(&[(&a, A), (&b, B), (&host, C)], 1000);
    assert!(h.hears("a", B, 500) > AUDIBLE);
    assert!(h.hears("a", C, 500) > AUDIBLE);
    assert!(h.hears("a", MOH, 500) < SILENT);
    assert!(h.hears("host", A, 500) > AUDIBLE);
    assert!(h.hears("host", B, 500) > AUDIBLE);
}

#[test]
fn a_conference_needs_two_members_to_start() {
    let h = with_moh("");
    let a = h.join("a", "solo").unwrap();
    h.talk(&[(&a, A)], 600);
    assert!(!h.event_names().contains(&"conference-start".to_string()));
    assert!(h.hears("a", MOH, 400) > AUDIBLE, "alone: hold music");
    let b = h.join("b", "solo").unwrap();
    assert_eq!(h.event_names().last().unwrap(), "conference-start");
    h.talk(&[(&a, A), (&b, B)], 600);
    assert!(h.hears("a", B, 400) > AUDIBLE);
    assert!(h.hears("b", A, 400) > AUDIBLE);
}

#[test]
fn end_conference_on_exit_hangs_everyone_up() {
    let h = Harness::new("");
    let a = h.join("a", "{endConferenceOnExit=true}r").unwrap();
    let _b = h.join("b", "r").unwrap();
    let _c = h.join("c", "r").unwrap();
    h.advance(100);
    h.hangup(&a);
    let hung = h.hangups_sorted();
    assert_eq!(hung, [("b".to_string(), 16), ("c".to_string(), 16)]);
    let end = h.events_named("conference-end");
    assert_eq!(end.len(), 1);
    assert_eq!(
        field(&end[0], "ReasonConferenceEnded"),
        Some("participant-with-end-conference-on-exit-left")
    );
    assert_eq!(field(&end[0], "CallSidEndingConference"), Some("CA-a"));
    assert_eq!(h.events_named("participant-leave").len(), 3);
    assert_eq!(h.event_names().last().unwrap(), "conference-end");
    assert_eq!(h.api("count"), "+OK 0");
}

#[test]
fn the_conference_ends_when_the_last_member_leaves() {
    let h = Harness::new("");
    let a = h.join("a", "r").unwrap();
    let b = h.join("b", "r").unwrap();
    h.advance(100);
    h.hangup(&a);
    assert!(h.events_named("conference-end").is_empty());
    h.hangup(&b);
    let end = h.events_named("conference-end");
    assert_eq!(end.len(), 1);
    assert_eq!(
        field(&end[0], "ReasonConferenceEnded"),
        Some("last-participant-left")
    );
    // The host hung these legs up itself: huddle hangs up nobody.
    assert!(h.hangups().is_empty());
    assert!(h.api("list r").starts_with("-ERR unknown-room"));
}

#[test]
fn a_locked_room_refuses_even_a_moderator() {
    let h = Harness::new(&pinroom());
    let m = h.join("m", "pinroom").unwrap();
    h.dtmf(&m, "9999#");
    let _b = h.join("b", "pinroom+1234").unwrap();
    h.dtmf(&m, "*92");
    h.advance(2_100);
    assert_eq!(h.events_named("conference-lock").len(), 1);
    assert!(h.join("c", "pinroom+9999").is_err());
    let refused = h.events_named("join-refused");
    assert_eq!(refused.len(), 1);
    assert_eq!(field(&refused[0], "Reason"), Some("locked"));
    assert_eq!(field(&refused[0], "CallSid"), Some("CA-c"));
    assert_eq!(h.hangups(), [("c".to_string(), 21)]);
    assert_eq!(h.api("count pinroom"), "+OK 2");
}

#[test]
fn max_participants_refuses_the_next_caller_with_cause_34() {
    let h = Harness::new(
        r#"
[[rooms]]
name = "small"
max_participants = 2
"#,
    );
    h.join("a", "small").unwrap();
    h.join("b", "small").unwrap();
    assert!(h.join("c", "small").is_err());
    assert_eq!(h.hangups(), [("c".to_string(), 34)]);
    let refused = h.events_named("join-refused");
    assert_eq!(field(&refused[0], "Reason"), Some("full"));
}

#[test]
fn muted_is_not_heard_deaf_hears_nothing_hold_hears_music() {
    let h = with_moh("");
    let a = h.join("a", "flags+flags{mute}").unwrap();
    let b = h.join("b", "{deaf=true}flags").unwrap();
    let c = h.join("c", "{hold=true}flags").unwrap();
    let d = h.join("d", "flags").unwrap();
    h.talk(&[(&a, A), (&b, B), (&c, C), (&d, D)], 1000);
    // Muted a: nobody hears it; it hears the others.
    for ch in ["b", "d"] {
        assert!(h.hears(ch, A, 500) < SILENT, "{ch} hears muted a");
    }
    assert!(h.hears("a", B, 500) > AUDIBLE);
    assert!(h.hears("a", D, 500) > AUDIBLE);
    // Deaf b: hears silence, is heard.
    assert!(rms(&h.tail("b", 500)) < 1.0, "deaf b hears something");
    assert!(h.hears("d", B, 500) > AUDIBLE);
    // Held c: hears the hold music only, is not heard.
    assert!(h.hears("c", MOH, 500) > AUDIBLE);
    assert!(h.hears("c", D, 500) < SILENT);
    assert!(h.hears("d", C, 500) < SILENT);
    assert!(h.hears("a", C, 500) < SILENT);
    assert!(h.hears("d", MOH, 500) < SILENT);
}

#[test]
fn a_coach_is_heard_only_by_the_coached_member_and_hears_everyone() {
    let h = Harness::new("");
    let a = h.join("a", "coached").unwrap();
    let b = h.join("b", "coached").unwrap();
    let c = h.join("c", "{coach=CA-b}coached").unwrap();
    let ev = h.events_named("participant-coach");
    assert_eq!(field(&ev[0], "CallSidToCoach"), Some("CA-b"));
    h.talk(&[(&a, A), (&b, B), (&c, C)], 1000);
    assert!(
        h.hears("b", C, 500) > AUDIBLE,
        "the coached member hears the coach"
    );
    assert!(h.hears("b", A, 500) > AUDIBLE);
    assert!(
        h.hears("a", C, 500) < SILENT,
        "others do not hear the coach"
    );
    assert!(h.hears("a", B, 500) > AUDIBLE);
    assert!(h.hears("c", A, 500) > AUDIBLE, "the coach hears everyone");
    assert!(h.hears("c", B, 500) > AUDIBLE);
}

#[test]
fn coaching_an_absent_call_is_refused() {
    let h = Harness::new("");
    h.join("a", "coached").unwrap();
    assert!(h.join("c", "{coach=CA-nobody}coached").is_err());
    let refused = h.events_named("join-refused");
    assert_eq!(field(&refused[0], "Reason"), Some("coach-target-absent"));
    assert_eq!(h.hangups(), [("c".to_string(), 21)]);
    assert_eq!(h.api("count coached"), "+OK 1");
}

#[test]
fn moderator_mutes_and_unmutes_all_non_moderators() {
    let h = Harness::new("");
    let m = h.join("m", "mods+flags{moderator}").unwrap();
    let a = h.join("a", "mods").unwrap();
    let b = h.join("b", "mods").unwrap();
    h.dtmf(&m, "*91");
    h.advance(2_100);
    assert_eq!(h.events_named("participant-mute").len(), 2);
    assert_eq!(member_json(&h, "mods", "m")["muted"], false);
    h.talk(&[(&m, C), (&a, A), (&b, B)], 1000);
    assert!(h.hears("m", A, 500) < SILENT);
    assert!(h.hears("m", B, 500) < SILENT);
    assert!(h.hears("a", C, 500) > AUDIBLE, "the moderator still speaks");
    // A non-moderator cannot unmute itself while mute-non-moderators is on,
    // and hears the refusal tone (350 Hz) saying so.
    h.clear_heard();
    h.dtmf(&a, "0");
    h.advance(2_100);
    assert!(h.events_named("participant-unmute").is_empty());
    assert!(
        tone_amplitude(&h.heard("a").pcm, 350.0, RATE) > 100.0,
        "a hears the refusal"
    );
    assert!(tone_amplitude(&h.heard("b").pcm, 350.0, RATE) < 10.0);
    h.talk(&[(&a, A)], 600);
    assert!(h.hears("m", A, 400) < SILENT);
    h.dtmf(&m, "*90");
    h.advance(2_100);
    assert_eq!(h.events_named("participant-unmute").len(), 2);
    h.talk(&[(&m, C), (&a, A), (&b, B)], 1000);
    assert!(h.hears("m", A, 500) > AUDIBLE);
    assert!(h.hears("m", B, 500) > AUDIBLE);
    // And now a member may mute and unmute itself again.
    h.dtmf(&a, "0");
    h.advance(2_100);
    h.dtmf(&a, "0");
    h.advance(2_100);
    assert_eq!(h.member_events("participant-unmute", 2).len(), 2);
}

#[test]
fn a_non_moderator_cannot_lock() {
    let h = Harness::new("");
    let a = h.join("a", "nolock").unwrap();
    h.join("b", "nolock").unwrap();
    h.dtmf(&a, "*92");
    h.advance(2_100);
    assert!(h.events_named("conference-lock").is_empty());
    assert_eq!(h.api("get nolock locked"), "+OK locked false");
    assert!(h.join("c", "nolock").is_ok());
    assert!(h.logged("a moderator control"), "{:?}", h.logs());
}

#[test]
fn accounts_with_the_same_room_name_are_separate_rooms() {
    let h = Harness::new("");
    let a = h.join_as(Harness::caller_in("a", "AC1"), "same").unwrap();
    let a2 = h.join_as(Harness::caller_in("a2", "AC1"), "same").unwrap();
    let b = h.join_as(Harness::caller_in("b", "AC2"), "same").unwrap();
    let b2 = h.join_as(Harness::caller_in("b2", "AC2"), "same").unwrap();
    h.talk(&[(&a, A), (&a2, B), (&b, C), (&b2, D)], 1000);
    assert!(h.hears("a", B, 500) > AUDIBLE);
    assert!(h.hears("a", C, 500) < SILENT);
    assert!(h.hears("a", D, 500) < SILENT);
    assert!(h.hears("b", D, 500) > AUDIBLE);
    assert!(h.hears("b", A, 500) < SILENT);
    assert!(h.hears("b", B, 500) < SILENT);
    let starts = h.events_named("conference-start");
    assert_eq!(starts.len(), 2);
    assert_ne!(
        field(&starts[0], "ConferenceSid"),
        field(&starts[1], "ConferenceSid")
    );
    let accounts: Vec<&str> = starts
        .iter()
        .map(|e| field(e, "AccountSid").unwrap())
        .collect();
    assert!(accounts.contains(&"AC1") && accounts.contains(&"AC2"));
    assert_eq!(h.api("count AC1/same"), "+OK 2");
    assert_eq!(h.api("count AC2/same"), "+OK 2");
}

#[test]
fn sequence_numbers_increase_without_gaps_over_random_operations() {
    let h = with_moh(
        r#"
[[rooms]]
name = "busy"
pin = "1234"
host_pin = "9999"
"#,
    );
    let mut rng = Rng(0x5eed_1234_abcd_0001);
    let mut live: Vec<(String, std::sync::Arc<huddle::runtime::MemberPort>)> = Vec::new();
    let mut next = 0u32;
    let n = frame(RATE, 20);
    for _ in 0..10_000 {
        let op = rng.below(100);
        match op {
            0..=14 if live.len() < 12 => {
                next += 1;
                let ch = format!("m{next}");
                let app = match rng.below(4) {
                    0 => "busy+9999",
                    1 => "busy+1234",
                    2 => "busy",
                    _ => "{endConferenceOnExit=false}busy+1234",
                };
                if let Ok(p) = h.join(&ch, app) {
                    live.push((ch, p));
                }
            }
            15..=24 if !live.is_empty() => {
                let i = rng.below(live.len());
                let (_, p) = live.swap_remove(i);
                h.hangup(&p);
            }
            25..=49 if !live.is_empty() => {
                let i = rng.below(live.len());
                let digits = [
                    "1234#", "9999#", "0", "*2", "*91", "*90", "*92", "*93", "5#", "*94", "*95",
                ];
                let d = rng.pick(&digits);
                h.dtmf(&live[i].1, d);
            }
            50..=69 => {
                let id = rng.below(14) + 1;
                let cmds = [
                    "mute", "unmute", "tmute", "deaf", "undeaf", "hold", "unhold", "kick",
                ];
                let c = rng.pick(&cmds);
                let target = if rng.below(5) == 0 {
                    "all".to_string()
                } else {
                    id.to_string()
                };
                h.api(&format!("{c} busy {target}"));
            }
            70..=74 => {
                let cmds = [
                    "lock busy",
                    "unlock busy",
                    "list busy",
                    "json list busy",
                    "record busy start",
                    "record busy stop",
                ];
                h.api(rng.pick(&cmds));
            }
            _ => {
                for (_, p) in &live {
                    if rng.below(2) == 0 {
                        let mut phase = rng.below(100) as f64;
                        h.send_l16(p, &sine(A, RATE, n, 8000.0, &mut phase), RATE);
                    }
                }
                h.advance(20 * (1 + rng.below(3) as u64));
            }
        }
        // Members huddle hung up are gone for the test too.
        let hung: Vec<String> = h.hangups().into_iter().map(|(c, _)| c).collect();
        live.retain(|(c, _)| !hung.contains(c));
    }
    for (_, p) in &live {
        h.hangup(p);
    }
    let mut per_room: HashMap<String, Vec<u64>> = HashMap::new();
    for e in h.events() {
        let sid = field(&e, "ConferenceSid").unwrap().to_string();
        let seq: u64 = field(&e, "SequenceNumber").unwrap().parse().unwrap();
        per_room.entry(sid).or_default().push(seq);
    }
    let total: usize = per_room.values().map(Vec::len).sum();
    assert!(total > 2_000, "only {total} events: the run did too little");
    for (sid, seqs) in per_room {
        let want: Vec<u64> = (1..=seqs.len() as u64).collect();
        assert_eq!(seqs, want, "conference {sid}");
    }
}

#[test]
fn status_callback_settings_come_from_the_first_participant() {
    let h = Harness::new("");
    let a = h
        .join(
            "a",
            "{statusCallback=https://example.com/a,statusCallbackEvent=join end}cb",
        )
        .unwrap();
    let _b = h
        .join(
            "b",
            "{statusCallback=https://example.com/b,statusCallbackEvent=mute start leave}cb",
        )
        .unwrap();
    h.api("mute cb 2");
    h.advance(100);
    h.hangup(&a);
    h.api("end cb");
    let names = h.event_names();
    assert_eq!(
        names,
        ["participant-join", "participant-join", "conference-end"],
        "only join and end were subscribed by the first participant"
    );
    for e in h.events() {
        assert_eq!(field(&e, "StatusCallback"), Some("https://example.com/a"));
        assert_eq!(field(&e, "StatusCallbackMethod"), Some("POST"));
    }
}

/// Enter tone: 523.25 Hz then 783.99 Hz; exit the other way round.
const BEEP_LOW: f64 = 523.25;

#[test]
fn the_enter_beep_is_heard_by_others_not_the_joiner_and_announce_off_silences_it() {
    let h = Harness::new("");
    let _m = h.join("m", "beeps+flags{moderator}").unwrap();
    let _a = h.join("a", "beeps").unwrap();
    h.advance(1000);
    h.clear_heard();
    let c = h.join("c", "beeps").unwrap();
    h.advance(400);
    let beep = |ch: &str| tone_amplitude(&h.heard(ch).pcm, BEEP_LOW, RATE);
    assert!(beep("m") > 300.0, "m hears the enter beep: {}", beep("m"));
    assert!(beep("a") > 300.0, "a hears the enter beep");
    assert!(
        beep("c") < 10.0,
        "the joiner does not hear its own beep: {}",
        beep("c")
    );
    h.clear_heard();
    h.hangup(&c);
    h.advance(400);
    assert!(beep("m") > 300.0, "m hears the exit beep");
    assert!(beep("a") > 300.0, "a hears the exit beep");
    // A member with beep=false joins and leaves silently.
    h.clear_heard();
    let q = h.join("q", "{beep=false}beeps").unwrap();
    h.advance(400);
    h.hangup(&q);
    h.advance(400);
    assert!(beep("m") < 10.0, "beep=false: {}", beep("m"));
    // *94: announcements off.
    let m_port = h.join("m2", "beeps+flags{moderator}").unwrap();
    h.advance(400);
    h.dtmf(&m_port, "*94");
    h.advance(2_100);
    h.clear_heard();
    let _d = h.join("d", "beeps").unwrap();
    h.advance(400);
    assert!(beep("m") < 10.0, "announcements are off: {}", beep("m"));
    assert!(beep("a") < 10.0);
}

#[test]
fn a_room_whose_only_caller_was_refused_goes_away() {
    let h = Harness::new("");
    assert!(h.join("c", "{coach=CA-nobody}ghost").is_err());
    h.advance(40);
    assert!(
        h.api("list").starts_with("+OK 0 room(s)"),
        "{}",
        h.api("list")
    );
    assert!(h.api("list ghost").starts_with("-ERR unknown-room (200)"));
}

#[test]
fn a_guarded_room_nobody_entered_is_forgotten_once_its_failures_expire() {
    let h = Harness::new(&pinroom());
    let a = h.join("a", "pinroom").unwrap();
    h.dtmf(&a, "1#2#3#");
    assert_eq!(h.hangups(), [("a".to_string(), 21)]);
    // Still there, remembering the failures...
    let list = h.api("list");
    assert!(
        list.starts_with("+OK 1 room(s)") && !list.contains("idle"),
        "{list}"
    );
    h.advance(60_100);
    // ...and gone once they are older than a minute: only the configured,
    // idle room is listed.
    assert_eq!(
        h.api("list"),
        "+OK 1 room(s)\npinroom members=0 started=no locked=no recording=off rate=16000 runtime=0s idle=yes\n"
    );
}

#[test]
fn mintwo_ends_the_room_when_fewer_than_two_remain() {
    let h = Harness::new("");
    let _a = h.join("a", "pair+flags{mintwo}").unwrap();
    let b = h.join("b", "pair").unwrap();
    let c = h.join("c", "pair").unwrap();
    h.hangup(&c);
    assert!(h.events_named("conference-end").is_empty(), "two remain");
    h.hangup(&b);
    let end = h.events_named("conference-end");
    assert_eq!(end.len(), 1);
    assert_eq!(
        field(&end[0], "ReasonConferenceEnded"),
        Some("fewer-than-two-participants")
    );
    assert_eq!(h.hangups(), [("a".to_string(), 16)]);
}

#[test]
fn a_ghost_is_not_counted_and_not_announced() {
    let h = Harness::new("");
    let a = h.join("a", "r").unwrap();
    let g = h.join("g", "r+flags{ghost}").unwrap();
    assert!(
        !h.event_names().contains(&"conference-start".to_string()),
        "a ghost does not make the second member"
    );
    let b = h.join("b", "r").unwrap();
    assert!(h.event_names().contains(&"conference-start".to_string()));
    assert_eq!(json_list(&h, "r")["members"], 2, "the ghost is not counted");
    h.talk(&[(&a, A), (&g, B)], 400);
    assert!(
        h.hears("b", B, 200) > AUDIBLE,
        "a ghost still talks and is heard"
    );
    h.clear_heard();
    h.hangup(&g);
    h.talk(&[(&a, A)], 400);
    // The exit tone (784 Hz) is not played for a ghost.
    assert!(
        h.hears("b", 784.0, 400) < SILENT,
        "no exit beep for a ghost"
    );
    let _ = b;
}

#[test]
fn kick_plays_the_kicked_prompt_then_hangs_up() {
    let h = Harness::new("[profiles.default.sounds]\nkicked = \"kicked.wav\"\n");
    write_tone_wav(&h.dir.join("sounds/kicked.wav"), RATE, D, 0.5, 6000.0);
    let a = h.join("a", "{beep=false}r").unwrap();
    let b = h.join("b", "{beep=false}r").unwrap();
    h.talk(&[(&a, A), (&b, B)], 200);
    assert!(h.api("kick r 2").starts_with("+OK"));
    assert_eq!(h.events_named("participant-kick").len(), 1);
    assert!(h.hangups().is_empty(), "not yet: the prompt plays first");
    h.clear_heard();
    h.talk(&[(&a, A), (&b, B)], 300);
    assert!(
        h.hears("b", D, 300) > AUDIBLE,
        "the kicked member hears the prompt"
    );
    assert!(h.hears("b", A, 300) < SILENT, "and no longer the room");
    assert!(h.hears("a", B, 300) < SILENT, "and is no longer heard");
    h.talk(&[(&a, A)], 300);
    assert_eq!(
        h.hangups(),
        [("b".to_string(), 16)],
        "hung up once the prompt ended"
    );
    let leave = h.events_named("participant-leave");
    assert_eq!(leave.last().unwrap().get("Reason"), Some("kicked"));
}

#[test]
fn a_room_nobody_entered_reports_no_conference_end() {
    let h = Harness::new(&pinroom());
    let p = h.join("a", "pinroom").unwrap();
    h.dtmf(&p, "0000#");
    h.hangup(&p);
    h.shutdown();
    let names = h.event_names();
    assert!(names.contains(&"pin-failed".to_string()));
    assert!(!names.contains(&"conference-end".to_string()), "{names:?}");
}

#[test]
fn announce_caller_name_plays_the_recorded_name_on_entry_and_exit() {
    let h = Harness::new("[[rooms]]\nname = \"named\"\nannounce_caller_name = true\n");
    let a = h.join("a", "named").unwrap();
    // While naming, a caller is not in yet.
    assert!(h.events_named("participant-join").is_empty());
    h.talk(&[(&a, A)], 3000);
    assert_eq!(
        h.events_named("participant-join").len(),
        1,
        "in after saying a name"
    );
    let b = h.join("b", "named").unwrap();
    h.talk(&[(&b, B)], 3000);
    assert!(h.event_names().contains(&"conference-start".to_string()));
    // C says its name (a 1300 Hz "voice") while A and B are quiet.
    let c = h.join("c", "named").unwrap();
    h.clear_heard();
    h.talk(&[(&c, D)], 2000);
    assert!(
        h.hears("a", D, 2000) < SILENT,
        "a name being recorded is not heard by the room"
    );
    // The naming time (the tone, then two seconds) runs out; C stays quiet.
    h.advance(600);
    assert_eq!(h.events_named("participant-join").len(), 3);
    // Its join played the enter tone and then the name to the others.
    h.advance(1500);
    assert!(
        h.hears("a", D, 2000) > AUDIBLE / 4.0,
        "the room hears C's name on entry"
    );
    assert!(
        h.hears("c", D, 2000) < SILENT,
        "C does not hear its own name"
    );
    h.hangup(&c);
    h.clear_heard();
    h.advance(1500);
    assert!(h.hears("b", D, 1500) > AUDIBLE / 4.0, "and again on exit");
}

#[test]
fn a_recording_nobody_speaks_in_times_out() {
    let h = Harness::new("[profiles.default]\nrecording_timeout_s = 2\n");
    let a = h.join("a", "{beep=false}r").unwrap();
    h.join("b", "{beep=false}r").unwrap();
    assert!(h.api("record r start").starts_with("+OK"));
    h.talk(&[(&a, A)], 3000);
    assert!(
        h.events_named("recording-completed").is_empty(),
        "speech keeps it going"
    );
    h.advance(1900);
    assert!(h.events_named("recording-completed").is_empty());
    h.advance(200);
    assert_eq!(
        h.events_named("recording-completed").len(),
        1,
        "{:?}",
        h.event_names()
    );
    assert_eq!(json_list(&h, "r")["recording"], "off");
}

#[test]
fn record_beep_can_be_switched_off() {
    let h = Harness::new("[profiles.default]\nrecord_beep = false\n");
    h.join("a", "{beep=false}r").unwrap();
    h.join("b", "{beep=false}r").unwrap();
    h.advance(200);
    h.clear_heard();
    h.api("record r start");
    h.advance(600);
    assert_eq!(rms(&h.heard("a").pcm), 0.0, "no beep");
    let h2 = Harness::new("");
    h2.join("a", "{beep=false}r").unwrap();
    h2.join("b", "{beep=false}r").unwrap();
    h2.advance(200);
    h2.clear_heard();
    h2.api("record r start");
    h2.advance(600);
    assert!(rms(&h2.heard("a").pcm) > 500.0, "the default beeps");
}

#[test]
fn star_eight_invites_a_number_through_the_host() {
    let h = Harness::new("");
    // Moderators invite by default; see tests/hardening.rs for the rules.
    let a = h.join("a", "{beep=false,moderator=true}r").unwrap();
    h.join("b", "{beep=false}r").unwrap();
    h.dtmf(&a, "*815551234567#");
    let calls = h.host.originates.lock().unwrap().clone();
    assert_eq!(
        calls,
        [("15551234567".to_string(), "r".to_string(), String::new())]
    );
}

#[test]
fn without_dynamic_rooms_an_unknown_room_is_refused_with_unallocated_number() {
    let h = Harness::new(
        r#"
[profiles.default]
allow_dynamic_rooms = false

[[rooms]]
name = "known"
"#,
    );
    assert!(h.join("a", "unknown").is_err());
    // Q.850 cause 1, "unallocated number": no such destination.
    assert_eq!(h.hangups(), [("a".to_string(), 1)]);
    assert!(
        h.logs()
            .iter()
            .any(|l| l.contains("call a") && l.contains("'unknown'")),
        "the log names the call and the room: {:?}",
        h.logs()
    );
    assert!(h.events().is_empty(), "no room, no events");
    let list = h.api("list");
    assert!(
        list.starts_with("+OK 1 room(s)\nknown ") && list.contains("idle=yes"),
        "only the configured room, idle: {list}"
    );
    let b = h.join("b", "known").unwrap();
    let c = h.join("c", "known").unwrap();
    h.talk(&[(&b, B), (&c, C)], 600);
    assert!(h.hears("b", C, 400) > AUDIBLE, "a room in the config works");
}

#[test]
fn a_caller_refused_with_a_presented_pin_leaves_nothing_behind() {
    let h = Harness::new(&pinroom());
    let m = h.join("m", "pinroom+9999").unwrap();
    let _b = h.join("b", "pinroom+1234").unwrap();
    h.dtmf(&m, "*92");
    h.advance(2_100);
    // Refused at the door with the host PIN in the dial string.
    assert!(h.join("c", "pinroom+9999").is_err());
    assert_eq!(h.hangups(), [("c".to_string(), 21)]);
    let listed = h.api("list pinroom");
    assert_eq!(listed.lines().count(), 3, "only m and b: {listed}");
    assert!(!listed.contains(";c;"), "{listed}");
    ok_end(&h);
    let hung = h.hangups_sorted();
    assert_eq!(
        hung,
        [
            ("b".to_string(), 16),
            ("c".to_string(), 21),
            ("m".to_string(), 16)
        ],
        "c is not hung up a second time"
    );
}

fn ok_end(h: &Harness) {
    let r = h.api("end pinroom");
    assert!(r.starts_with("+OK"), "{r}");
}

#[test]
fn a_wrong_presented_pin_with_one_try_refuses_and_leaves_nothing_behind() {
    let h = Harness::new(
        r#"
[profiles.strict]
pin_tries = 1

[[rooms]]
name = "strict"
profile = "strict"
pin = "1111"
"#,
    );
    let a = h.join("a", "strict+1111").unwrap();
    assert!(h.join("d", "strict+2222").is_err());
    assert_eq!(h.hangups(), [("d".to_string(), 21)]);
    assert_eq!(h.events_named("pin-failed").len(), 1);
    assert_eq!(h.api("list strict").lines().count(), 2, "only a");
    h.hangup(&a);
    assert_eq!(
        h.events_named("conference-end").len(),
        1,
        "the room ends with a"
    );
    assert_eq!(h.hangups().len(), 1, "d is not hung up again");
}
