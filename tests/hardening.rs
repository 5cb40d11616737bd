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

/// `line` gets a one-line `-ERR bad-arguments (101)` that says `why`.
fn assert_bad_arguments(h: &Harness, line: &str, why: &str) {
    let reply = h.api(line);
    assert!(
        reply.starts_with("-ERR bad-arguments (101):") && reply.contains(why),
        "{line:?}: {reply}"
    );
    assert_one_line("an -ERR reply", &reply);
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
        assert_bad_arguments(&h, line, "U+");
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

fn moderators(h: &Harness, room: &str) -> Vec<String> {
    let v: serde_json::Value = serde_json::from_str(&h.api(&format!("json list {room}"))).unwrap();
    v["result"]["member_list"]
        .as_array()
        .unwrap_or_else(|| panic!("{v}"))
        .iter()
        .filter(|m| m["moderator"] == true)
        .map(|m| m["channel"].as_str().unwrap().to_string())
        .collect()
}

/// In a room with a host PIN, app data asking for a moderator (in either
/// grammar, before or after the PIN) makes none: only the host PIN does,
/// unless the profile trusts app data. A PIN equal to the host PIN is
/// refused by the API as by the config.
#[test]
fn app_data_makes_no_moderator_where_a_host_pin_rules() {
    let h = Harness::new(
        r#"
[profiles.trusting]
trust_app_flags = "always"

[profiles.strict]
trust_app_flags = "never"

[[rooms]]
name = "sec"
pin = "1111"
host_pin = "2222"

[[rooms]]
name = "trusted"
profile = "trusting"
pin = "1111"
host_pin = "2222"
"#,
    );
    let _a = h.join("a", "sec+1111+flags{moderator}").unwrap();
    let _b = h.join("b", "{pin=1111,moderator=true}sec").unwrap();
    let _c = h.join("c", "sec+flags{moderator}+1111").unwrap();
    let _host = h.join("host", "sec+2222").unwrap();
    assert_eq!(moderators(&h, "sec"), ["host"]);
    assert!(h.logged("not granted in room sec"));
    // The operator said so: this profile takes the dialplan's word.
    let _t = h.join("t", "trusted+1111+flags{moderator}").unwrap();
    assert_eq!(moderators(&h, "trusted"), ["t"]);
    // No host PIN: the dialplan's flag is the only way, and it holds,
    // unless the profile says never.
    let _d = h.join("d", "open+flags{moderator}").unwrap();
    assert_eq!(moderators(&h, "open"), ["d"]);
    let _s = h.join("s", "shut@strict+flags{moderator}").unwrap();
    assert!(moderators(&h, "shut").is_empty());

    for line in [
        "hostpin sec 1111",
        "pin sec 2222",
        "set sec pin 2222",
        "set sec host_pin 1111",
    ] {
        assert_bad_arguments(&h, line, "must differ");
    }
    // Still the old PINs: a room-PIN caller is no moderator.
    let _e = h.join("e", "sec+1111").unwrap();
    assert_eq!(moderators(&h, "sec"), ["host"]);
}

fn originated(h: &Harness) -> Vec<String> {
    h.host
        .originates
        .lock()
        .unwrap()
        .iter()
        .map(|(d, _, _)| d.clone())
        .collect()
}

/// `*8` invites: moderators only by default; a waiting caller never
/// dials; a member and a room get a bounded number a minute; the profile's
/// patterns bound the numbers.
#[test]
fn invites_are_for_moderators_and_rate_limited() {
    let h = Harness::new(
        r#"
[profiles.open]
invite = "anyone"
invites_per_minute_member = 2
invites_per_minute_room = 3
invite_destinations = ["2XXX", "1555XXXXXXX"]
"#,
    );
    // Default profile: a caller cannot dial, a moderator can, three a minute.
    let caller = h.join("a", "{beep=false}r").unwrap();
    let host = h.join("m", "{beep=false,moderator=true}r").unwrap();
    for _ in 0..100 {
        h.dtmf(&caller, "*82000#");
    }
    assert!(originated(&h).is_empty());
    for n in 0..5 {
        h.dtmf(&host, &format!("*8200{n}#"));
    }
    assert_eq!(originated(&h), ["2000", "2001", "2002"]);
    h.advance(60_000);
    h.dtmf(&host, "*82009#");
    assert_eq!(originated(&h).len(), 4, "a minute later, one more");

    // `anyone`: but not a caller still waiting for the conference to start.
    let before = originated(&h).len();
    let w = h
        .join(
            "w",
            "{beep=false,profile=open,startConferenceOnEnter=false}o",
        )
        .unwrap();
    h.dtmf(&w, "*82000#");
    assert_eq!(originated(&h).len(), before, "a waiting caller dialled");
    let x = h.join("x", "{beep=false,profile=open}o").unwrap();
    let y = h.join("y", "{beep=false,profile=open}o").unwrap();
    h.dtmf(&x, "*89000#"); // matches no pattern
    h.dtmf(&x, "*815551234567#");
    h.dtmf(&x, "*82001#");
    h.dtmf(&x, "*82002#"); // over the member's 2
    h.dtmf(&y, "*82003#");
    h.dtmf(&y, "*82004#"); // over the room's 3
    assert_eq!(originated(&h)[before..], ["15551234567", "2001", "2003"]);
    drop(w);
}

/// A dangling link planted under the name of a recording's in-progress
/// marker does not make huddle write where it points.
#[test]
fn the_in_progress_marker_never_follows_a_link() {
    use std::os::unix::fs::symlink;
    let outside = scratch_dir("marker-outside");
    let h = Harness::new("[profiles.default]\nrecord_beep = false\n");
    let target = outside.join("planted");
    symlink(&target, h.dir.join("recordings/x.wav.inprogress")).unwrap();
    h.join("a", "{beep=false}r").unwrap();
    h.join("b", "{beep=false}r").unwrap();
    h.api("record r start x.wav");
    h.advance(200);
    h.api("record r stop");
    h.advance(200);
    assert!(
        target.symlink_metadata().is_err(),
        "huddle wrote {} through the link",
        target.display()
    );
    let _ = std::fs::remove_dir_all(&outside);
}

/// Recordings and the folders made for them get 0640 / 0750 (or the
/// configured bits) whatever the umask.
#[test]
fn recordings_get_fixed_modes_whatever_the_umask() {
    use std::os::unix::fs::PermissionsExt;
    // SAFETY: umask only changes the process' file creation mask.
    let old = unsafe { libc::umask(0) };
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    for (extra, file, dir) in [
        ("", 0o640, 0o750),
        (
            "recording_file_mode = \"0600\"\nrecording_dir_mode = \"0700\"\n",
            0o600,
            0o700,
        ),
    ] {
        let h = Harness::with_config(&format!(
            "{MODULE_MANUAL}{extra}\n[profiles.default]\nrecord_beep = false\n"
        ));
        h.join("a", "{beep=false}r").unwrap();
        h.join("b", "{beep=false}r").unwrap();
        let reply = h.api("record r start deep/er/x.wav");
        assert!(reply.starts_with("+OK"), "{reply}");
        h.advance(200);
        h.api("record r stop");
        h.advance(200);
        let recs = h.dir.join("recordings");
        assert_eq!(mode(&recs.join("deep/er/x.wav")), file, "{extra}");
        assert_eq!(mode(&recs.join("deep")), dir, "{extra}");
        assert_eq!(mode(&recs.join("deep/er")), dir, "{extra}");
    }
    // SAFETY: as above.
    unsafe { libc::umask(old) };
}

/// `waitUrl` is confined to sounds_dir like `play`: an absolute path, a
/// `..` or a link out refuse the leg, and no sound file named in the
/// config leaves sounds_dir unless the config allows its folder.
#[test]
fn wait_url_and_config_sounds_stay_in_their_folder() {
    use std::os::unix::fs::symlink;
    let h = Harness::new("");
    let outside = h.dir.join("recordings/acct/secret.wav");
    std::fs::create_dir_all(outside.parent().unwrap()).unwrap();
    write_tone_wav(&outside, 16000, 440.0, 1.0, 8000.0);
    write_tone_wav(&h.dir.join("sounds/ok.wav"), 16000, 440.0, 1.0, 8000.0);
    symlink(&outside, h.dir.join("sounds/link.wav")).unwrap();
    for url in [
        outside.display().to_string(),
        "../recordings/acct/secret.wav".to_string(),
        "link.wav".to_string(),
    ] {
        assert!(
            h.join("a", &format!("{{waitUrl={url}}}r")).is_err(),
            "{url}"
        );
    }
    assert!(h.events_named("participant-join").is_empty());
    assert!(h.join("b", "{waitUrl=ok.wav}r").is_ok());

    let dir = scratch_dir("sound-paths");
    let conf = dir.join("huddle.conf");
    for (sound, want) in [
        ("../x.wav", "contains '..'"),
        ("/usr/share/sounds/x.wav", "allowed_sound_dirs"),
    ] {
        for where_ in [
            "[profiles.default.sounds]\nmoh",
            "[[rooms]]\nname = \"r\"\nmusic_on_hold",
        ] {
            std::fs::write(&conf, format!("{MODULE_MANUAL}\n{where_} = \"{sound}\"\n")).unwrap();
            let err = huddle::control::load_config(&conf).unwrap_err().to_string();
            assert!(err.contains(want), "{sound}: {err}");
        }
    }
    std::fs::write(
        &conf,
        format!(
            "{MODULE_MANUAL}allowed_sound_dirs = [\"/usr/share/sounds\"]\n\
             [profiles.default.sounds]\nmoh = \"/usr/share/sounds/x.wav\"\n"
        ),
    )
    .unwrap();
    let c = huddle::control::load_config(&conf).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        c.profile("default").unwrap().sounds.moh.as_deref(),
        Some(std::path::Path::new("/usr/share/sounds/x.wav"))
    );
    let _ = std::fs::remove_dir_all(&dir);
}
