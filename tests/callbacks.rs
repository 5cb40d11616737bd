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
