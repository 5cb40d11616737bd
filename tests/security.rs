//! Security checks that cut across features: PIN guessing, PINs kept out of
//! logs and events, the PIN comparison, path confinement with symlinks,
//! account isolation under random names, and input length limits.
mod common;
use common::*;

use std::collections::HashMap;

/// Three PIN tries a call, three wrong PINs a minute in the room.
fn guarded() -> String {
    guarded_pin_room("guarded", 3, 3, "48151623", "host_pin = \"42424242\"")
}

/// PINs presented in the app data count against the same budget: once it
/// is spent, even the right PIN in the app data is refused.
#[test]
fn app_data_pins_are_rate_limited_too() {
    let h = Harness::new(&guarded());
    for i in 0..3 {
        // A wrong PIN up front counts as a try; the caller is then prompted.
        let _ = h.join(&format!("x{i}"), &format!("guarded+1000000{i}"));
    }
    assert_eq!(
        h.events_named("pin-failed").len(),
        3,
        "{:?}",
        h.event_names()
    );
    assert!(h.join("right", "guarded+48151623").is_err());
    assert!(h.events_named("participant-join").is_empty());
    assert!(h
        .events_named("join-refused")
        .iter()
        .any(|e| field(e, "Reason") == Some("pin-rate-limited")));
}

/// Every PIN that was entered (right and wrong, by DTMF and in app data),
/// configured, or set through the API: none appears in any log line or any
/// event field.
#[test]
fn pins_never_reach_logs_or_events() {
    let h = Harness::new(
        r#"
[[rooms]]
name = "pinroom"
pin = "48151623"
host_pin = "42424242"
"#,
    );
    let pins = [
        "48151623", "42424242", "39393939", "71717171", "73737373", "61616161", "52525252",
        "90909090", "31313131", "27272727", "84848484",
    ];
    let a = h.join("a", "pinroom").unwrap();
    h.dtmf(&a, "39393939#"); // wrong
    h.dtmf(&a, "48151623#"); // right
    let b = h.join("b", "pinroom+42424242").unwrap(); // host PIN in app data
    let _ = h.join("c", "pinroom+71717171"); // wrong in app data
    let _ = h.join("d", "pinroom+31313131+flags{bogus}"); // refused for its flags
    let _ = h.join("e", "{pin=27272727,bogus=1}pinroom"); // refused for a key
    h.api("pin pinroom 73737373");
    h.api("hostpin pinroom 61616161");
    h.api("set pinroom pin 52525252");
    h.api("pin nosuchroom 90909090"); // fails: unknown room
    h.api("json set nosuchroom host_pin 84848484");
    h.api("pin pinroom 12ab");
    let f = h.join("f", "pinroom").unwrap();
    h.dtmf(&f, "52525252#");
    h.advance(1000);
    h.hangup(&a);
    h.hangup(&b);
    h.hangup(&f);
    h.advance(1000);
    h.flush();
    let logs = h.logs();
    assert!(logs.len() > 10);
    let mut leaks = Vec::new();
    for line in &logs {
        for pin in pins {
            if line.contains(pin) {
                leaks.push(format!("log: {line}"));
            }
        }
    }
    for e in h.events() {
        for (k, v) in &e.fields {
            for pin in pins {
                if v.contains(pin) {
                    leaks.push(format!("event {} field {k} = {v}", e.name));
                }
            }
        }
    }
    assert!(leaks.is_empty(), "PINs leaked:\n{}", leaks.join("\n"));
}

/// The PIN comparison looks at every byte whatever the input: no early
/// exit on the first difference or on a length mismatch, always at least
/// COMPARE_WIDTH positions (more than any PIN or PIN entry), the length
/// difference folded in at full width, each step through `black_box` so
/// the optimiser cannot restore the early exit. Checked on the function's
/// source (timing tests are too noisy to be useful here) and on its
/// behaviour (also in the unit tests of src/room/admission.rs).
#[test]
fn pin_comparison_is_constant_time() {
    use huddle::room::admission::{constant_time_eq, COMPARE_WIDTH};
    let src = include_str!("../src/room/admission.rs");
    let start = src.find("pub fn constant_time_eq").unwrap();
    let body = &src[start..start + src[start..].find("\n}\n").unwrap()];
    let code: Vec<&str> = body
        .lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect();
    for early in [
        "return",
        "break",
        "==",
        "!=",
        "starts_with",
        "&&",
        "||",
        "if ",
        "match",
        "while",
        " as ",
        "?",
    ] {
        let hits: Vec<_> = code
            .iter()
            .filter(|l| l.contains(early))
            .filter(|l| !l.contains("black_box(diff) == 0"))
            .collect();
        assert!(hits.is_empty(), "constant_time_eq uses '{early}': {hits:?}");
    }
    for needed in [
        "a.len().max(b.len()).max(COMPARE_WIDTH)",
        "black_box(a.len() ^ b.len())",
        "diff = black_box(",
        "black_box(diff) == 0",
    ] {
        assert!(
            code.iter().any(|l| l.contains(needed)),
            "constant_time_eq lacks `{needed}`"
        );
    }
    // Wider than the longest PIN and the longest PIN entry (src/room/lifecycle.rs
    // keeps at most 20 typed digits).
    const { assert!(COMPARE_WIDTH > huddle::control::MAX_PIN_LEN) };
    let room = include_str!("../src/room/lifecycle.rs");
    assert!(
        room.contains("entry.digits.len() < 20"),
        "PIN entry bound moved"
    );
    // check_pin compares against both PINs unconditionally.
    let check = &src[src.find("pub fn check_pin").unwrap()..];
    let check = &check[..check.find("\n}\n").unwrap()];
    assert!(check.contains("let host =") && check.contains("let room ="));
    for (a, b, eq) in [
        ("1234", "1234", true),
        ("1234", "1235", false),
        ("1234", "0234", false),
        ("123", "1234", false),
        ("12345", "1234", false),
        ("1234\u{0}", "1234", false),
        ("", "", true),
        ("", "0", false),
        ("48151623", "48151623", true),
        (&"1".repeat(300), &"1".repeat(44), false),
        (&"9".repeat(40), &"9".repeat(40), true),
    ] {
        assert_eq!(constant_time_eq(a, b), eq, "{a:?} vs {b:?}");
    }
}

#[cfg(unix)]
#[test]
fn symlinks_do_not_lead_recordings_or_sounds_out_of_their_directories() {
    use std::os::unix::fs::symlink;
    let outside = scratch_dir("outside");
    let h = Harness::new(
        r#"
[profiles.default]
record_beep = false
"#,
    );
    let recs = h.dir.join("recordings");
    symlink(&outside, recs.join("link")).unwrap();
    symlink(outside.join("target.wav"), recs.join("file.wav")).unwrap();
    write_tone_wav(&outside.join("secret.wav"), RATE, 440.0, 1.0, 8000.0);
    symlink(&outside, h.dir.join("sounds/link")).unwrap();
    symlink(outside.join("secret.wav"), h.dir.join("sounds/secret.wav")).unwrap();
    h.join("a", "{beep=false}rec").unwrap();
    h.join("b", "{beep=false}rec").unwrap();
    for path in ["link/escape.wav", "file.wav"] {
        let r = h.api(&format!("record rec start {path}"));
        h.advance(200);
        h.api("record rec stop");
        h.advance(200);
        println!("record start {path}: {r}");
    }
    let escaped: Vec<_> = std::fs::read_dir(&outside)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n != "secret.wav" && n != "sounds" && n != "recordings")
        .collect();
    assert!(
        escaped.is_empty(),
        "recordings written outside: {escaped:?}"
    );
    for path in ["link/secret.wav", "secret.wav"] {
        let r = h.api(&format!("play rec {path}"));
        assert!(!r.starts_with("+OK"), "play {path} through a symlink: {r}");
    }
}

/// Random accounts × random room names: a member only ever lands in (and
/// hears) the room of its own account.
#[test]
fn accounts_never_share_rooms_under_random_names() {
    let h = Harness::new("");
    let mut rng = 0x1234_5678_9abc_def1u64;
    let mut next = || {
        rng ^= rng >> 12;
        rng ^= rng << 25;
        rng ^= rng >> 27;
        rng.wrapping_mul(0x2545_F491_4F6C_DD1D)
    };
    let accounts = ["acme", "globex", "initech", "ACME", "acme.", "acme-"];
    let names = ["3000", "room", "Room", "a b", "x.y", "_"];
    let mut joined: HashMap<(String, String), Vec<String>> = HashMap::new();
    let mut ports = Vec::new();
    for i in 0..120 {
        let account = accounts[(next() % accounts.len() as u64) as usize];
        let name = names[(next() % names.len() as u64) as usize];
        let channel = format!("c{i}");
        let caller = huddle::runtime::CallerInfo {
            account: account.to_string(),
            ..Harness::caller(&channel)
        };
        let p = h
            .join_as(caller, &format!("{{beep=false}}{name}"))
            .unwrap_or_else(|s| panic!("{account}/{name}: {s:?}"));
        joined
            .entry((account.to_string(), name.to_string()))
            .or_default()
            .push(channel);
        ports.push(p);
    }
    // Each (account, room) lists exactly its own members.
    for ((account, name), channels) in &joined {
        let v: serde_json::Value =
            serde_json::from_str(&h.api(&format!("json list \"{account}/{name}\""))).unwrap();
        assert_eq!(v["ok"], true, "{account}/{name}: {v}");
        let mut listed: Vec<String> = v["result"]["member_list"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["channel"].as_str().unwrap().to_string())
            .collect();
        listed.sort();
        let mut want = channels.clone();
        want.sort();
        assert_eq!(listed, want, "{account}/{name}");
    }
    // Events name the account of the member they are about.
    let account_of: HashMap<String, String> = joined
        .iter()
        .flat_map(|((a, _), cs)| cs.iter().map(move |c| (format!("CA-{c}"), a.clone())))
        .collect();
    for e in h.events_named("participant-join") {
        let call = field(&e, "CallSid").unwrap();
        assert_eq!(field(&e, "AccountSid"), Some(account_of[call].as_str()));
    }
    // Audio: one talker per room; nobody hears a tone from another account.
    h.clear_heard();
    let mut phase = 0.0;
    let talker = &ports[0];
    let talker_key = joined
        .iter()
        .find(|(_, cs)| cs.contains(&"c0".to_string()))
        .map(|(k, _)| k.clone())
        .unwrap();
    for _ in 0..25 {
        h.send_l16(
            talker,
            &sine(1000.0, RATE, frame(RATE, 20), 8000.0, &mut phase),
            RATE,
        );
        h.advance(20);
    }
    for ((account, name), channels) in &joined {
        for c in channels {
            let heard = h.hears(c, 1000.0, 200);
            if (account, name) == (&talker_key.0, &talker_key.1) {
                continue;
            }
            assert!(
                heard < 40.0,
                "{c} in {account}/{name} heard {talker_key:?}'s talker ({heard})"
            );
        }
    }
}

/// Over-long inputs are refused, not truncated into something else.
#[test]
fn over_long_inputs_are_refused() {
    let h = Harness::new("");
    let long_room = "r".repeat(65);
    assert!(h.join("a", &long_room).is_err());
    assert!(h.join("a", &format!("room+{}", "1".repeat(21))).is_err());
    let caller = huddle::runtime::CallerInfo {
        account: "a".repeat(65),
        ..Harness::caller("b")
    };
    assert!(h.join_as(caller, "room").is_err());
    let r = h.api(&format!("list {}", "x".repeat(5000)));
    assert!(!r.starts_with("+OK"), "{}", &r[..r.len().min(200)]);
    assert!(
        r.len() < 1024,
        "the error echoes {} bytes of input",
        r.len()
    );
    let big_app = format!("{{label={}}}room", "l".repeat(5000));
    assert!(h.join("c", &big_app).is_err());
}

/// Over-long values in the config file are refused at load, naming the file,
/// line and key, without echoing the value in bulk (or a PIN at all); values
/// at the limit load.
#[test]
fn over_long_config_values_are_refused_at_load() {
    let dir = scratch_dir("long-config");
    let path = dir.join("huddle.conf");
    let load = |text: &str| {
        std::fs::write(&path, text).unwrap();
        huddle::runtime::logging::install();
        let host = std::sync::Arc::new(FakeHost::default());
        huddle::runtime::Module::load(host, &path).map(|m| m.shutdown())
    };
    let with = |rest: &str| format!("{MODULE_MANUAL}\n{rest}");
    let room = |extra: &str| with(&format!("[[rooms]]\nname = \"room\"\n{extra}\n"));
    let name = |value: &str| with(&format!("[[rooms]]\nname = \"{value}\"\n"));
    // At the limits: a 64-character room name and account, 20-digit PINs.
    load(&name(&"r".repeat(64))).expect("a 64-character room name loads");
    load(&room(&format!("account = \"{}\"", "a".repeat(64)))).expect("a 64-character account");
    load(&room(&format!(
        "pin = \"{}\"\nhost_pin = \"{}\"",
        "1".repeat(20),
        "2".repeat(20)
    )))
    .expect("20-digit PINs load");
    let pin = "31415926535897932384"; // 20 digits, and one more below
    let cases = [
        ("room name of 65", name(&"r".repeat(65)), "rooms[0].name", None),
        ("room name of 100 kB", name(&"r".repeat(100_000)), "rooms[0].name", None),
        ("account of 65", room(&format!("account = \"{}\"", "a".repeat(65))), "rooms[0].account", None),
        ("PIN of 21", room(&format!("pin = \"{pin}6\"")), "rooms[0].pin", Some(pin)),
        (
            "host PIN of 21",
            room(&format!("pin = \"1234\"\nhost_pin = \"{pin}6\"")),
            "rooms[0].host_pin",
            Some(pin),
        ),
        ("PIN of 100 kB", room(&format!("pin = \"{}\"", pin.repeat(5000))), "rooms[0].pin", Some(pin)),
        (
            "profile name of 65",
            with(&format!("[profiles.{}]\nrate = 16000\n", "p".repeat(65))),
            "profiles",
            None,
        ),
        (
            "profile name of 100 kB",
            with(&format!("[profiles.{}]\nrate = 16000\n", "p".repeat(100_000))),
            "profiles",
            None,
        ),
        (
            "sounds_dir of 5000",
            format!(
                "[module]\ntimer = \"manual\"\nsounds_dir = \"{}\"\nrecordings_dir = \"recordings\"\n",
                "s".repeat(5000)
            ),
            "module.sounds_dir",
            None,
        ),
        ("a file over 1 MiB", with(&format!("# {}\n", "x".repeat(1 << 20))), "1048576", None),
    ];
    let mut problems = Vec::new();
    for (what, text, key, secret) in cases {
        let err = match load(&text) {
            Ok(()) => {
                problems.push(format!("{what}: loaded"));
                continue;
            }
            Err(e) => e,
        };
        println!("{what}: {}", &err[..err.len().min(200)]);
        if !err.contains("huddle.conf") || !err.contains(key) {
            problems.push(format!("{what}: file or key '{key}' not named: {err:.200}"));
        }
        if err.len() > 512 {
            problems.push(format!("{what}: {} bytes of error", err.len()));
        }
        if secret.is_some_and(|pin| err.contains(&pin[..8])) {
            problems.push(format!("{what}: the PIN is echoed: {err:.200}"));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    let _ = std::fs::remove_dir_all(dir);
}
