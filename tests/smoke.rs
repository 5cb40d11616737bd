//! Two callers in a dynamic room: each hears the other's tone, not its own.
mod common;
use common::*;

#[test]
fn two_members_hear_each_other_not_themselves() {
    let h = Harness::new("");
    let a = h.join("a", "smoke").unwrap();
    let b = h.join("b", "smoke").unwrap();
    let n = frame(16000, 20);
    let (mut pa, mut pb) = (0.0, 0.0);
    for _ in 0..50 {
        h.send_l16(&a, &sine(440.0, 16000, n, 8000.0, &mut pa), 16000);
        h.send_l16(&b, &sine(1000.0, 16000, n, 8000.0, &mut pb), 16000);
        h.advance(20);
    }
    let heard_a = h.heard("a").pcm;
    let heard_b = h.heard("b").pcm;
    let tail = |v: &Vec<i16>| v[v.len() - 16000..].to_vec();
    let (ta, tb) = (tail(&heard_a), tail(&heard_b));
    assert!(
        db(goertzel(&ta, 1000.0, 16000), goertzel(&ta, 440.0, 16000)) > 40.0,
        "a hears b over itself"
    );
    assert!(
        db(goertzel(&tb, 440.0, 16000), goertzel(&tb, 1000.0, 16000)) > 40.0,
        "b hears a over itself"
    );
    assert_eq!(
        h.event_names()[..3],
        ["participant-join", "participant-join", "conference-start"]
    );
}
