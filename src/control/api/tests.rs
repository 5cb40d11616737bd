use super::help::COMMANDS;
use super::*;
use crate::control::testutil::Rng;

fn r(name: &str) -> RoomRef {
    RoomRef {
        account: None,
        name: name.into(),
    }
}

fn cmd(line: &str) -> ApiCommand {
    parse_api(line)
        .unwrap_or_else(|e| panic!("{line}: {e}"))
        .cmd
}

fn err(line: &str) -> ApiError {
    parse_api(line).expect_err(line)
}

#[test]
fn prefix_and_json() {
    let req = parse_api("conference json list").unwrap();
    assert!(req.json);
    assert_eq!(req.cmd, ApiCommand::List { room: None });
    let req = parse_api("  list   standup ").unwrap();
    assert!(!req.json);
    assert_eq!(
        req.cmd,
        ApiCommand::List {
            room: Some(r("standup"))
        }
    );
    assert_eq!(cmd("json count"), ApiCommand::Count { room: None });
}

#[test]
fn member_commands() {
    assert_eq!(
        cmd("kick 3000 5"),
        ApiCommand::Kick {
            room: r("3000"),
            target: MemberTarget::Id(5)
        }
    );
    assert_eq!(
        cmd("hup 3000 all"),
        ApiCommand::Hup {
            room: r("3000"),
            target: MemberTarget::All
        }
    );
    assert_eq!(
        cmd("mute 3000 last"),
        ApiCommand::Mute {
            room: r("3000"),
            target: MemberTarget::Last
        }
    );
    assert_eq!(
        cmd("unmute 3000 non_moderator"),
        ApiCommand::Unmute {
            room: r("3000"),
            target: MemberTarget::NonModerator
        }
    );
    assert!(matches!(cmd("tmute 3000 1"), ApiCommand::Tmute { .. }));
    assert!(matches!(cmd("deaf 3000 1"), ApiCommand::Deaf { .. }));
    assert!(matches!(cmd("undeaf 3000 1"), ApiCommand::Undeaf { .. }));
    assert!(matches!(cmd("unhold 3000 1"), ApiCommand::Unhold { .. }));
    assert_eq!(
        cmd(r#"hold 3000 2 "/tmp/my hold.wav""#),
        ApiCommand::Hold {
            room: r("3000"),
            target: MemberTarget::Id(2),
            file: Some("/tmp/my hold.wav".into())
        }
    );
    assert_eq!(
        cmd("coach 3000 1 2"),
        ApiCommand::Coach {
            room: r("3000"),
            coach: 1,
            members: vec![2]
        }
    );
    assert_eq!(
        cmd("coach 3000 1 2,4,2"),
        ApiCommand::Coach {
            room: r("3000"),
            coach: 1,
            members: vec![2, 4]
        }
    );
    assert_eq!(
        cmd("uncoach 3000 1"),
        ApiCommand::Uncoach {
            room: r("3000"),
            coach: 1
        }
    );
}

#[test]
fn account_rooms_and_quoted_names() {
    let acct = RoomRef {
        account: Some("AC1".into()),
        name: "Room 1".into(),
    };
    assert_eq!(
        cmd(r#"lock "AC1/Room 1""#),
        ApiCommand::Lock { room: acct.clone() }
    );
    assert_eq!(acct.to_string(), "AC1/Room 1");
    assert_eq!(cmd("unlock x"), ApiCommand::Unlock { room: r("x") });
    assert_eq!(err("lock a/b/c").code, ApiErrorCode::BadArguments);
    assert_eq!(err("lock /b").code, ApiErrorCode::BadArguments);
}

#[test]
fn freeswitch_order() {
    assert_eq!(
        cmd("conference 3000 kick 5"),
        ApiCommand::Kick {
            room: r("3000"),
            target: MemberTarget::Id(5)
        }
    );
    assert_eq!(
        cmd("3000 list"),
        ApiCommand::List {
            room: Some(r("3000"))
        }
    );
}

#[test]
fn levels() {
    assert_eq!(
        cmd("volume_in r 1 +6"),
        ApiCommand::VolumeIn {
            room: r("r"),
            target: MemberTarget::Id(1),
            level: Level::Set(6.0)
        }
    );
    assert_eq!(
        cmd("volume_out r all down"),
        ApiCommand::VolumeOut {
            room: r("r"),
            target: MemberTarget::All,
            level: Level::Down
        }
    );
    assert_eq!(
        cmd("energy r 1 -45.5"),
        ApiCommand::Energy {
            room: r("r"),
            target: MemberTarget::Id(1),
            level: Level::Set(-45.5)
        }
    );
    assert!(err("volume_in r 1 25").message.contains("'25'"));
    assert!(err("energy r 1 1").message.contains("-96"));
    assert!(err("energy r 1 NaN").message.contains("NaN"));
}

#[test]
fn room_commands() {
    assert_eq!(
        cmd("play r hello.wav 3"),
        ApiCommand::Play {
            room: r("r"),
            file: "hello.wav".into(),
            member: Some(3)
        }
    );
    assert_eq!(
        cmd("stop r"),
        ApiCommand::Stop {
            room: r("r"),
            member: None
        }
    );
    assert_eq!(
        cmd("record r start /rec/x.wav"),
        ApiCommand::Record {
            room: r("r"),
            action: RecordAction::Start,
            path: Some("/rec/x.wav".into())
        }
    );
    assert_eq!(
        cmd("record r pause"),
        ApiCommand::Record {
            room: r("r"),
            action: RecordAction::Pause,
            path: None
        }
    );
    assert_eq!(
        cmd("dial r sip:bob@x"),
        ApiCommand::Dial {
            room: r("r"),
            destination: "sip:bob@x".into()
        }
    );
    assert_eq!(
        cmd("cascade r sip:r@node-b:5060"),
        ApiCommand::Cascade {
            room: r("r"),
            uri: "sip:r@node-b:5060".into()
        }
    );
    assert_eq!(
        cmd("uncascade r"),
        ApiCommand::Uncascade {
            room: r("r"),
            uri: None
        }
    );
    assert_eq!(
        cmd("uncascade r sip:r@b"),
        ApiCommand::Uncascade {
            room: r("r"),
            uri: Some("sip:r@b".into())
        }
    );
    assert_eq!(cmd("end r"), ApiCommand::End { room: r("r") });
    assert_eq!(
        cmd("pin r 1234"),
        ApiCommand::Pin {
            room: r("r"),
            pin: Some("1234".into())
        }
    );
    assert_eq!(
        cmd("hostpin r none"),
        ApiCommand::HostPin {
            room: r("r"),
            pin: None
        }
    );
    assert_eq!(
        cmd("set r max_members 10"),
        ApiCommand::Set {
            room: r("r"),
            setting: RoomSetting::MaxMembers(10)
        }
    );
    assert_eq!(
        cmd("set r locked on"),
        ApiCommand::Set {
            room: r("r"),
            setting: RoomSetting::Locked(true)
        }
    );
    assert_eq!(
        cmd("set r moh none"),
        ApiCommand::Set {
            room: r("r"),
            setting: RoomSetting::Moh(None)
        }
    );
    assert_eq!(
        cmd("set r host_pin 99"),
        ApiCommand::Set {
            room: r("r"),
            setting: RoomSetting::HostPin(Some("99".into()))
        }
    );
    assert_eq!(
        cmd("get r pin"),
        ApiCommand::Get {
            room: r("r"),
            param: RoomParam::Pin
        }
    );
    assert_eq!(
        cmd("relate r 1,2 3 nohear"),
        ApiCommand::Relate {
            room: r("r"),
            from: vec![1, 2],
            to: vec![3],
            relation: Relation::NoHear
        }
    );
    assert_eq!(cmd("stats r"), ApiCommand::Stats { room: r("r") });
    assert_eq!(cmd("reload"), ApiCommand::Reload { apply_live: false });
    assert_eq!(
        cmd("reload apply-live"),
        ApiCommand::Reload { apply_live: true }
    );
    assert_eq!(cmd("help"), ApiCommand::Help);
}

#[test]
fn errors_name_command_and_problem() {
    let e = err("frobnicate r");
    assert_eq!(e.code, ApiErrorCode::UnknownCommand);
    assert!(e.message.contains("frobnicate"));
    let e = err("kick r");
    assert_eq!(e.code, ApiErrorCode::BadArguments);
    assert!(e.message.starts_with("kick: takes 2"), "{}", e.message);
    let e = err("kick r abc");
    assert!(e.message.contains("'abc'"));
    assert!(err("kick r 0").message.contains("'0'"));
    assert!(err("mute r 99999999999").message.contains("99999999999"));
    assert!(err("record r rewind").message.contains("rewind"));
    assert!(err("record r stop x.wav").message.contains("start"));
    assert!(err("set r max_members 1").message.contains("max_members"));
    assert!(err("set r colour red").message.contains("colour"));
    assert!(err("pin r 12ab").message.contains("12ab"));
    assert!(err("relate r 1,x 2 clear").message.contains("'x'"));
    assert!(err("relate r 1 2 ignore").message.contains("ignore"));
    assert!(err("coach r 3 3").message.contains("itself"));
    assert!(err("coach r 3 1,3").message.contains("itself"));
    assert!(err("coach r 3 1,x").message.contains("'x'"));
    assert!(err("uncoach r").message.contains("uncoach"));
    assert!(err("reload now").message.contains("now"));
    assert!(err("help me").message.starts_with("help:"));
    assert!(err(r#"play r "unterminated"#)
        .message
        .contains("unterminated"));
    assert_eq!(err("").code, ApiErrorCode::UnknownCommand);
    assert_eq!(err("conference json").code, ApiErrorCode::UnknownCommand);
    let e = err(&format!("list {}", "x".repeat(5000)));
    assert_eq!(e.code, ApiErrorCode::TooLong);
    assert!(e.to_string().starts_with("-ERR too-long (102): "));
    assert!(err(&format!("list {}", "x".repeat(65)))
        .message
        .contains("64"));
}

#[test]
fn codes_are_stable_and_distinct() {
    let all = ApiErrorCode::ALL;
    let mut nums: Vec<u32> = all.iter().map(|c| c.code()).collect();
    nums.sort();
    nums.dedup();
    assert_eq!(nums.len(), all.len());
    assert_eq!(ApiError::unknown_member(&r("r"), 4).code.code(), 201);
    assert!(ApiError::unknown_room(&r("r")).message.contains("'r'"));
}

#[test]
fn help_lists_every_command() {
    for (name, _, _) in COMMANDS {
        assert!(
            help_text().lines().any(|l| l.starts_with(name)),
            "{name} missing from help"
        );
    }
    // Every listed command must parse with its documented example.
    let examples = [
        "list",
        "count",
        "kick r 1",
        "hup r 1",
        "mute r 1",
        "unmute r 1",
        "tmute r 1",
        "deaf r 1",
        "undeaf r 1",
        "hold r 1",
        "unhold r 1",
        "coach r 1 2",
        "uncoach r 1",
        "lock r",
        "unlock r",
        "volume_in r 1 up",
        "volume_out r 1 up",
        "energy r 1 up",
        "play r f",
        "stop r",
        "record r start",
        "dial r d",
        "cascade r sip:r@b",
        "uncascade r",
        "end r",
        "pin r none",
        "hostpin r none",
        "set r pin none",
        "get r pin",
        "relate r 1 2 clear",
        "stats r",
        "reload",
        "help",
    ];
    assert_eq!(examples.len(), COMMANDS.len());
    for e in examples {
        cmd(e);
    }
}

#[test]
fn random_and_mutated_lines_never_panic() {
    let mut rng = Rng::new(99);
    let alphabet: Vec<char> = "abcdeijklmnoprstuvy_-/\"\\ ,0123456789+.é\t"
        .chars()
        .collect();
    let seeds = [
        "conference json list r",
        r#"hold "AC1/Room 1" all "/tmp/a b.wav""#,
        "relate r 1,2,3 4 nospeak",
        "volume_in r 1 -6",
        "set r max_members 10",
    ];
    for i in 0..5000 {
        let s = if i % 2 == 0 {
            rng.string(&alphabet, 50)
        } else {
            let seed = seeds[rng.below(seeds.len())];
            rng.mutate(seed, &alphabet)
        };
        if let Err(e) = parse_api(&s) {
            assert!(!e.message.is_empty());
        }
    }
}
