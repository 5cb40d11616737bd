//! Cascade (issue 20): `cascade <room> <sip-uri>` has the host dial another
//! node's room; the leg that comes back is a bridge member: heard like any
//! member and hearing the room minus itself, but not counted, not in the
//! events, not starting the conference, marked `bridge` in `list`, and
//! dialled again with a growing back-off when it is lost. Manual clock.
mod common;
use common::*;
use huddle::runtime::CallerInfo;

const URI: &str = "sip:cascade-r@node-b.example";

fn bridge_leg(channel: &str) -> CallerInfo {
    CallerInfo {
        to: URI.to_string(),
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
