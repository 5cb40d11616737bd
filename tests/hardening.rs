//! Regression tests for an outside review's findings (issue 21, part B):
//! forged `list` lines and log lines, PIN digits in logs, the API
//! tokenizer's separators, replies split by a newline, config files that are
//! not files, `waitUrl` and config sound paths leaving their folder,
//! moderators made without the host PIN, and callers dialling out at will.
mod common;
use common::*;

use huddle::runtime::CallerInfo;

/// Characters that end or disguise a line on a terminal or in a log viewer.
const LINE_BREAKERS: [char; 6] = ['\n', '\r', '\u{1b}', '\u{7}', '\u{2028}', '\u{85}'];

fn assert_one_line(what: &str, text: &str) {
    assert!(
        !text.chars().any(|c| LINE_BREAKERS.contains(&c)),
        "{what} holds a raw control character: {text:?}"
    );
}

fn forger(channel: &str, name: &str) -> CallerInfo {
    CallerInfo {
        caller_name: name.to_string(),
        call_id: format!("CA-{channel}\u{1b}[2J"),
        from: format!("+1555\r{channel}\u{7}"),
        ..Harness::caller(channel)
    }
}

/// A caller name holding a newline and `;` adds no line to `list <room>`
/// and shifts no field; every field still reads back (unescaped) as sent,
/// and `json list` carries the values exactly.
#[test]
fn caller_fields_cannot_forge_list_lines() {
    let h = Harness::new("");
    let fake = "Eve\n2;leg-x;CA-x;+1;Boss;hear|speak|moderator;+0;+0;-45;L16/16000";
    let _a = h.join("a", "r").unwrap();
    let _e = h.join_as(forger("e", fake), "r").unwrap();
    let reply = h.api("list r");
    let lines: Vec<&str> = reply.lines().collect();
    // "+OK" room line, then exactly one line per member.
    assert_eq!(lines.len(), 3, "{reply:?}");
    for line in &lines {
        assert_one_line("a list line", line);
    }
    let eve = lines[2];
    // Split on unescaped ';' only: exactly the ten documented fields.
    let mut fields = vec![String::new()];
    let mut chars = eve.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                fields.last_mut().unwrap().push('\\');
                fields.last_mut().unwrap().extend(chars.next());
            }
            ';' => fields.push(String::new()),
            c => fields.last_mut().unwrap().push(c),
        }
    }
    assert_eq!(fields.len(), 10, "{eve:?}");
    assert_eq!(fields[5], "hear|speak", "{eve:?}");
    assert!(fields[4].starts_with("Eve\\n2\\;leg-x\\;"), "{eve:?}");
    assert_eq!(fields[2], "CA-e\\u{1b}[2J");
    assert_eq!(fields[3], "+1555\\re\\u{7}");

    let json = h.api("json list r");
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    let members = v["result"]["member_list"].as_array().unwrap();
    let eve = members
        .iter()
        .find(|m| m["channel"] == "e")
        .unwrap_or_else(|| panic!("{json}"));
    assert_eq!(eve["caller_name"], fake);
    assert_eq!(eve["call_sid"], "CA-e\u{1b}[2J");
}

/// A channel id or caller field that holds a newline cannot start a log
/// line of its own: every control character reaches `host->log` escaped.
#[test]
fn logged_values_cannot_forge_log_lines() {
    let h = Harness::new("");
    let forged = "CA1\nERROR huddle: PIN accepted for room r\r\u{1b}[31m";
    // Refused for its app data: the refusal logs the channel.
    let _ = h.join_as(forger(forged, forged), "r+flags{bogus}");
    let _ = h.join_as(forger(forged, forged), "{label=x\ny}r");
    h.api("play r \"a\nb.wav\"");
    h.api("kick nosuch\u{1b}room all");
    let logs = h.logs();
    assert!(
        logs.iter().any(|l| l.contains("CA1\\nERROR huddle")),
        "the forged value is logged, escaped: {logs:#?}"
    );
    for l in &logs {
        assert_one_line("a log line", l);
    }
}

/// A PIN with a typo (`97531x`) is refused without its digits reaching
/// any log line, however it is mangled.
#[test]
fn malformed_pins_never_reach_the_log() {
    let h = Harness::new(
        r#"
[[rooms]]
name = "sec"
pin = "97531"
"#,
    );
    for app in [
        "sec+97531x",
        "sec+x97531",
        "sec+975-31",
        "sec+97531+97531",
        "{pin=97531x}sec",
        "{pin=97531,pin=97531}sec",
    ] {
        assert!(h.join("a", app).is_err(), "{app}");
    }
    let long = format!("sec+97531{}", "x".repeat(5000));
    assert!(h.join("b", &long).is_err());
    for l in h.logs() {
        assert!(!l.contains("97531"), "a PIN reached the log: {l}");
        assert!(!l.contains("9753"), "part of a PIN reached the log: {l}");
    }
}

/// Words are split on ASCII space and tab only; another separator or a
/// control character in a command is refused, naming the character, and
/// nothing happens to the room.
#[test]
fn api_splits_on_space_and_tab_only() {
    let h = Harness::new("");
    let _a = h.join("a", "r").unwrap();
    let _b = h.join("b", "r").unwrap();
    for line in [
        "kick r\u{3000}all",
        "kick r\u{a0}all",
        "kick r\u{2028}all",
        "kick r all\n",
        "kick \"r\nx\" all",
        "kick r\u{b}all",
    ] {
        let reply = h.api(line);
        assert!(
            reply.starts_with("-ERR bad-arguments (101):") && reply.contains("U+"),
            "{line:?}: {reply}"
        );
        assert_one_line("an -ERR reply", &reply);
    }
    assert!(h.hangups().is_empty(), "{:?}", h.hangups());
    assert!(h.api("kick\tr\t all").starts_with("+OK"));
}

/// An `-ERR` reply is one line whatever the operator typed into the
/// failing command.
#[test]
fn error_replies_are_one_line() {
    let h = Harness::new("");
    let _a = h.join("a", "r").unwrap();
    for line in [
        "play r \"x\ny.wav\"",
        "\"no\nsuch\" list",
        "kick \"r\r\n-ERR\" all",
        "record r start \"a\u{1b}b.wav\"",
        "frobnicate\u{2028}",
    ] {
        let reply = h.api(line);
        assert!(reply.starts_with("-ERR"), "{line:?}: {reply}");
        assert_one_line("an -ERR reply", &reply);
    }
}

/// The config path is read only if it is a regular file, and never past
/// the 1 MiB limit: `/dev/zero` and a FIFO are refused at once, naming
/// what they are.
#[test]
fn config_that_is_not_a_file_is_refused_quickly() {
    use huddle::control::load_config;
    use std::path::PathBuf;
    use std::sync::mpsc;
    use std::time::Duration;

    let dir = scratch_dir("config-kinds");
    let fifo = dir.join("fifo.conf");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    let cases: [(PathBuf, &str); 3] = [
        (PathBuf::from("/dev/zero"), "character device"),
        (fifo, "FIFO"),
        (dir.clone(), "directory"),
    ];
    for (path, kind) in cases {
        // On a thread with a deadline: a load that blocks or reads forever
        // fails the test instead of hanging it.
        let (tx, rx) = mpsc::channel();
        let p = path.clone();
        std::thread::spawn(move || {
            let _ = tx.send(load_config(&p).map(|_| ()).map_err(|e| e.to_string()));
        });
        let result = rx
            .recv_timeout(Duration::from_secs(5))
            .unwrap_or_else(|_| panic!("{}: load did not return in 5 s", path.display()));
        let err = result.expect_err("not a regular file");
        assert!(
            err.contains("not a regular file") && err.contains(kind),
            "{}: {err}",
            path.display()
        );
    }
    // A regular file one byte over the limit is refused by size.
    let big = dir.join("big.conf");
    let mut text = "#".repeat(huddle::control::config::MAX_CONFIG_BYTES);
    text.push('\n');
    std::fs::write(&big, text).unwrap();
    let err = load_config(&big).unwrap_err().to_string();
    assert!(err.contains("larger than 1048576 bytes"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}
