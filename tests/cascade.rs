//! Cascade (issue 20): `cascade <room> <sip-uri>` has the host dial another
//! node's room; the leg that comes back is a bridge member: heard like any
//! member and hearing the room minus itself, but not counted, not in the
//! events, not starting the conference, marked `bridge` in `list`, and
//! dialled again with a growing back-off when it is lost. One room may
//! bridge to several nodes (a star), and a bridge's frames are mixed in the
//! first tick after they arrive. Manual clock.
mod common;
use common::*;
use huddle::runtime::{CallerInfo, MemberPort};
use std::sync::Arc;

const URI: &str = "sip:cascade-r@node-b.example";
const URI_C: &str = "sip:cascade-r@node-c.example";

fn bridge_leg(channel: &str) -> CallerInfo {
    leg_to(channel, URI)
}

/// The leg the host dialled for the cascade to `uri`, joining back.
fn leg_to(channel: &str, uri: &str) -> CallerInfo {
    CallerInfo {
        to: uri.to_string(),
        from: "huddle".to_string(),
        ..Harness::caller(channel)
    }
}

fn list(h: &Harness) -> serde_json::Value {
    let v: serde_json::Value = serde_json::from_str(&h.api("json list r")).unwrap();
    assert_eq!(v["ok"], true, "{v}");
    v["result"].clone()
}

/// Each member's channel and whether `json list` says `key` is true.
fn each(h: &Harness, key: &str) -> Vec<(String, bool)> {
    list(h)["member_list"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["channel"].as_str().unwrap().to_string(), m[key] == true))
        .collect()
}

fn dials(h: &Harness) -> usize {
    h.host.originates.lock().unwrap().len()
}

#[test]
fn the_bridge_is_heard_but_hidden_and_starts_nothing() {
    let h = Harness::new("");
    write_tone_wav(&h.dir.join("sounds/hold.wav"), RATE, MOH, 2.0, 6000.0);
    let a = h.join("a", "r").unwrap();
    let reply = h.api(&format!("cascade r {URI}"));
    assert!(reply.starts_with("+OK"), "{reply}");
    assert_eq!(
        *h.host.originates.lock().unwrap(),
        [(URI.to_string(), "r".to_string(), String::new())]
    );
    let bridge = h.join_as(bridge_leg("br"), "r").unwrap();
    assert!(
        !h.event_names().contains(&"conference-start".to_string()),
        "a bridge does not start the conference"
    );
    assert_eq!(
        h.events_named("participant-join").len(),
        1,
        "no join event for the bridge"
    );
    let l = list(&h);
    assert_eq!(l["members"], 1, "the bridge is not counted");
    assert_eq!(
        each(&h, "bridge"),
        [("a".to_string(), false), ("br".to_string(), true)]
    );
    let text = h.api("list r");
    assert!(
        text.lines()
            .any(|l| l.starts_with(&format!("{};br;", 2)) && l.contains("|bridge")),
        "{text}"
    );
    // Before the conference starts the far room hears nothing from here:
    // no wait music and no prompts go over the bridge.
    h.talk(&[(&a, A)], 400);
    assert!(h.hears("a", MOH, 200) > AUDIBLE, "a waits with music");
    assert!(h.hears("br", MOH, 200) < SILENT);
    assert!(h.hears("br", A, 200) < SILENT);

    let b = h.join("b", "r").unwrap();
    assert!(h.event_names().contains(&"conference-start".to_string()));
    h.clear_heard();
    // N-1: the bridge carries a and b to the far room, and the far room's
    // voice (B) to a and b, never back to itself.
    h.talk(&[(&a, A), (&bridge, B)], 400);
    assert!(h.hears("br", A, 200) > AUDIBLE, "the far room hears a");
    assert!(
        h.hears("br", B, 200) < SILENT,
        "the far room's voice does not come back"
    );
    assert!(h.hears("b", B, 200) > AUDIBLE, "b hears the far room");
    assert!(h.hears("b", A, 200) > AUDIBLE);
    assert!(h.hears("a", B, 200) > AUDIBLE, "a hears the far room");
    let _ = b;
}

#[test]
fn a_lost_bridge_is_dialled_again_with_back_off() {
    let h = Harness::new("");
    let a = h.join("a", "r").unwrap();
    let b = h.join("b", "r").unwrap();
    assert!(h.api(&format!("cascade r {URI}")).starts_with("+OK"));
    let bridge = h.join_as(bridge_leg("br1"), "r").unwrap();
    let events_before = h.events().len();
    h.hangup(&bridge);
    assert_eq!(
        h.events().len(),
        events_before,
        "no leave event for the bridge"
    );
    assert!(
        h.hangups().is_empty(),
        "losing the bridge ends nothing: {:?}",
        h.hangups()
    );
    // First back-off: 1 s.
    h.advance(900);
    assert_eq!(dials(&h), 1);
    h.advance(200);
    assert_eq!(dials(&h), 2, "dialled again 1 s after the loss");
    // That dial is never answered: after 15 s it counts as lost too, and
    // the next wait is 2 s.
    h.advance(15_000);
    assert_eq!(dials(&h), 2);
    h.advance(1_500);
    assert_eq!(dials(&h), 2);
    h.advance(1_000);
    assert_eq!(dials(&h), 3, "then 2 s");
    // Answered and up for 10 s: the back-off starts again at 1 s.
    let bridge = h.join_as(bridge_leg("br2"), "r").unwrap();
    h.advance(10_000);
    h.hangup(&bridge);
    h.advance(1_100);
    assert_eq!(dials(&h), 4, "a bridge that stayed up resets the back-off");
    // uncascade: no more dials; a bridge that is up is hung up.
    let bridge = h.join_as(bridge_leg("br3"), "r").unwrap();
    let reply = h.api("uncascade r");
    assert!(reply.starts_with("+OK"), "{reply}");
    assert_eq!(h.hangups(), [("br3".to_string(), 16)]);
    h.hangup(&bridge);
    h.advance(40_000);
    assert_eq!(dials(&h), 4);
    let _ = (a, b);
}

#[test]
fn the_room_ends_with_its_last_caller_and_takes_the_bridge() {
    let h = Harness::new("");
    let a = h.join("a", "r").unwrap();
    assert!(h.api(&format!("cascade r {URI}")).starts_with("+OK"));
    let _bridge = h.join_as(bridge_leg("br"), "r").unwrap();
    h.hangup(&a);
    assert_eq!(h.hangups(), [("br".to_string(), 16)]);
    h.advance(40_000);
    assert_eq!(dials(&h), 1, "an ended room dials nothing");
}

#[test]
fn the_far_side_marks_its_leg_by_app_flag() {
    // Node B's dialplan gives the cascade leg `+flags{bridge}`.
    let h = Harness::new("");
    let a = h.join("a", "r").unwrap();
    let _leg = h.join("leg", "r+flags{bridge}").unwrap();
    assert_eq!(h.events_named("participant-join").len(), 1);
    assert_eq!(list(&h)["members"], 1);
    assert!(!h.event_names().contains(&"conference-start".to_string()));
    let _ = a;
}

#[test]
fn bad_cascades_are_refused_with_the_reason() {
    let h = Harness::new("");
    for (cmd, want) in [
        ("cascade r sip:x@y", "-ERR unknown-room (200)"),
        ("cascade", "-ERR bad-arguments (101)"),
        ("uncascade", "-ERR bad-arguments (101)"),
    ] {
        let reply = h.api(cmd);
        assert!(reply.starts_with(want), "{cmd}: {reply}");
    }
    let _a = h.join("a", "r").unwrap();
    for (cmd, want) in [
        ("cascade r 5000", "not a sip: URI"),
        ("cascade r sip:", "not a sip: URI"),
        ("uncascade r", "no cascade"),
    ] {
        let reply = h.api(cmd);
        assert!(
            reply.starts_with("-ERR") && reply.contains(want),
            "{cmd}: {reply}"
        );
    }
    assert!(h.api(&format!("cascade r {URI}")).starts_with("+OK"));
    let again = h.api(&format!("cascade r {URI}"));
    assert!(
        again.starts_with("-ERR") && again.contains("already"),
        "{again}"
    );
    assert_eq!(dials(&h), 1);
}

#[test]
fn group_targets_leave_the_bridge_alone() {
    let h = Harness::new("");
    let a = h.join("a", "r").unwrap();
    let b = h.join("b", "r").unwrap();
    assert!(h.api(&format!("cascade r {URI}")).starts_with("+OK"));
    let _bridge = h.join_as(bridge_leg("br"), "r").unwrap();
    for cmd in ["mute r all", "mute r non_moderator", "mute r last"] {
        let reply = h.api(cmd);
        assert!(reply.starts_with("+OK"), "{cmd}: {reply}");
    }
    assert_eq!(
        each(&h, "muted"),
        [
            ("a".to_string(), true),
            ("b".to_string(), true),
            ("br".to_string(), false)
        ]
    );
    // By its id it can be muted and hung up like anyone.
    assert!(h.api("mute r 3").starts_with("+OK"));
    let _ = (a, b);
}

#[test]
fn a_star_of_bridges_carries_each_far_room_to_the_others_never_back() {
    let h = Harness::new("");
    let a = h.join("a", "r").unwrap();
    let b = h.join("b", "r").unwrap();
    for uri in [URI, URI_C] {
        let reply = h.api(&format!("cascade r {uri}"));
        assert!(reply.starts_with("+OK"), "{reply}");
    }
    let to: Vec<String> = h
        .host
        .originates
        .lock()
        .unwrap()
        .iter()
        .map(|o| o.0.clone())
        .collect();
    assert_eq!(to, [URI, URI_C]);
    // Node C's leg answers first: each leg is matched to its own cascade.
    let br_c = h.join_as(leg_to("brc", URI_C), "r").unwrap();
    let br_b = h.join_as(leg_to("brb", URI), "r").unwrap();
    assert_eq!(
        each(&h, "bridge"),
        [
            ("a".to_string(), false),
            ("b".to_string(), false),
            ("brc".to_string(), true),
            ("brb".to_string(), true)
        ]
    );
    assert_eq!(list(&h)["members"], 2, "neither bridge is counted");
    // a says A, node B's room says B, node C's room says C.
    h.talk(&[(&a, A), (&br_b, B), (&br_c, C)], 400);
    for (who, hears, not) in [("brb", [A, C], B), ("brc", [A, B], C), ("a", [B, C], A)] {
        for f in hears {
            assert!(h.hears(who, f, 200) > AUDIBLE, "{who} hears {f} Hz");
        }
        assert!(
            h.hears(who, not, 200) < SILENT,
            "{who} does not hear its own {not} Hz back"
        );
    }
    for f in [A, B, C] {
        assert!(h.hears("b", f, 200) > AUDIBLE, "b hears {f} Hz");
    }

    // Losing one bridge re-dials that one only.
    h.hangup(&br_b);
    h.advance(1_100);
    assert_eq!(dials(&h), 3);
    assert_eq!(h.host.originates.lock().unwrap()[2].0, URI);
    let br_b = h.join_as(leg_to("brb2", URI), "r").unwrap();

    // uncascade by URI stops that one; an unknown URI is named back.
    let reply = h.api("uncascade r sip:cascade-r@node-x.example");
    assert!(
        reply.starts_with("-ERR")
            && reply.contains("no cascade to sip:cascade-r@node-x.example")
            && reply.contains(URI)
            && reply.contains(URI_C),
        "{reply}"
    );
    let reply = h.api(&format!("uncascade r {URI_C}"));
    assert!(reply.starts_with("+OK") && reply.contains(URI_C), "{reply}");
    assert_eq!(h.hangups(), [("brc".to_string(), 16)]);
    h.hangup(&br_c);
    let again = h.api(&format!("cascade r {URI}"));
    assert!(
        again.starts_with("-ERR") && again.contains(&format!("already cascading to {URI}")),
        "{again}"
    );
    // uncascade without a URI stops the rest.
    assert!(h.api("uncascade r").starts_with("+OK"));
    assert_eq!(
        h.hangups(),
        [("brc".to_string(), 16), ("brb2".to_string(), 16)]
    );
    h.hangup(&br_b);
    h.advance(40_000);
    assert_eq!(dials(&h), 3, "no cascade is left to dial");
    let _ = (a, b);
}

/// The room's callers buffer 4 frames here; a bridge only 1.
const DEEP_CALLERS: &str = "[profiles.default]\njitter_buffer_frames = 4";

/// Sends a 20 ms burst of D on `port` (silence on the others), then ticks
/// until `listener` hears it: how many ticks after the one right after
/// the burst (0: mixed in the first tick after it arrived).
fn burst_lag(h: &Harness, port: &MemberPort, others: &[&MemberPort], listener: &str) -> usize {
    let n = frame(RATE, TICK_MS as u32);
    let silence = vec![0i16; n];
    for ticks in 0..6 {
        let mut phase = 0.0;
        let burst = sine(D, RATE, n, TALK_AMPLITUDE, &mut phase);
        h.send_l16(port, if ticks == 0 { &burst } else { &silence }, RATE);
        for o in others {
            h.send_l16(o, &silence, RATE);
        }
        h.advance(TICK_MS);
        if h.hears(listener, D, TICK_MS) > AUDIBLE {
            return ticks;
        }
    }
    panic!("{listener} never heard the burst");
}

/// What `channel` heard, frame by frame: B, C, - (neither) or ? (both).
fn frame_tones(h: &Harness, channel: &str) -> String {
    let n = frame(RATE, TICK_MS as u32);
    h.heard(channel)
        .pcm
        .chunks(n)
        .map(|f| {
            let (b, c) = (tone_amplitude(f, B, RATE), tone_amplitude(f, C, RATE));
            match (b > AUDIBLE, c > AUDIBLE) {
                (true, false) => 'B',
                (false, true) => 'C',
                (false, false) => '-',
                (true, true) => '?',
            }
        })
        .collect()
}

/// A frame of tone `f` (whole cycles in 20 ms: it starts and ends at 0).
fn tone_frame(f: f64) -> Vec<i16> {
    let mut phase = 0.0;
    sine(
        f,
        RATE,
        frame(RATE, TICK_MS as u32),
        TALK_AMPLITUDE,
        &mut phase,
    )
}

/// `ms` of silence on every port, one frame a tick.
fn quiet(h: &Harness, ports: &[&MemberPort], ms: u64) {
    let n = frame(RATE, TICK_MS as u32);
    for _ in 0..ms / TICK_MS {
        for p in ports {
            h.send_l16(p, &vec![0i16; n], RATE);
        }
        h.advance(TICK_MS);
    }
}

/// Callers a and b (4-frame buffers) and a bridge, after 200 ms of quiet.
fn bridged_room() -> (Harness, [Arc<MemberPort>; 3]) {
    let h = Harness::new(DEEP_CALLERS);
    let a = h.join("a", "r").unwrap();
    let b = h.join("b", "r").unwrap();
    assert!(h.api(&format!("cascade r {URI}")).starts_with("+OK"));
    let br = h.join_as(bridge_leg("br"), "r").unwrap();
    quiet(&h, &[&a, &b, &br], 200);
    (h, [a, b, br])
}

#[test]
fn a_bridge_frame_is_mixed_in_the_first_tick_after_it_arrives() {
    let (h, [a, b, br]) = bridged_room();
    assert_eq!(burst_lag(&h, &br, &[&a, &b], "a"), 0, "bridge to a caller");
    quiet(&h, &[&a, &b, &br], 200);
    // A caller's frame waits in its 4-frame buffer; the bridge carries it
    // on in the tick it is mixed.
    assert_eq!(
        burst_lag(&h, &b, &[&a, &br], "br"),
        3,
        "caller to the bridge"
    );
    quiet(&h, &[&a, &b, &br], 200);
    assert_eq!(burst_lag(&h, &b, &[&a, &br], "a"), 3, "caller to a caller");
}

#[test]
fn a_bridge_backlog_is_dropped_at_a_quiet_frame_never_in_speech() {
    let (h, [a, b, br]) = bridged_room();
    // Two frames in one tick (one was late): a frame of backlog.
    let n = frame(RATE, TICK_MS as u32);
    h.send_l16(&br, &vec![0i16; n], RATE);
    quiet(&h, &[&a, &b, &br], 100);
    assert_eq!(burst_lag(&h, &br, &[&a, &b], "a"), 1, "one tick later now");
    // The far room talks on for 2 s, each frame in turn B or C: nothing of
    // it is dropped, so what a hears alternates frame by frame throughout.
    let talk_frames = 100;
    h.clear_heard();
    for k in 0..talk_frames {
        h.send_l16(&br, &tone_frame(if k % 2 == 0 { B } else { C }), RATE);
        h.send_l16(&a, &vec![0i16; n], RATE);
        h.send_l16(&b, &vec![0i16; n], RATE);
        h.advance(TICK_MS);
    }
    let tones = frame_tones(&h, "a");
    assert_eq!(tones.len(), talk_frames);
    // The first frame still plays the backlog's silence.
    let want: String = "-"
        .chars()
        .chain("BC".chars().cycle().take(talk_frames - 1))
        .collect();
    assert_eq!(tones, want, "what a heard, frame by frame");
    // In the quiet after it the backlog goes: the next burst is mixed in
    // the first tick again.
    quiet(&h, &[&a, &b, &br], 1_500);
    assert_eq!(burst_lag(&h, &br, &[&a, &b], "a"), 0, "backlog trimmed");
}

#[test]
fn a_burst_after_the_far_mixer_stalled_is_played_whole_then_trimmed() {
    let (h, [a, b, br]) = bridged_room();
    // The far node's mixer stalled 100 ms: five frames come at once.
    h.clear_heard();
    for k in 0..5 {
        h.send_l16(&br, &tone_frame(if k % 2 == 0 { B } else { C }), RATE);
    }
    quiet(&h, &[&a, &b, &br], 200);
    assert_eq!(
        frame_tones(&h, "a"),
        "BCBCB-----",
        "every frame of the burst"
    );
    // Four frames of backlog, gone within a second and a half of quiet.
    quiet(&h, &[&a, &b, &br], 1_500);
    assert_eq!(burst_lag(&h, &br, &[&a, &b], "a"), 0, "backlog trimmed");
}
