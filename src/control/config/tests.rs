use super::*;
use crate::control::dtmf::DtmfAction;
use crate::control::testutil::Rng;

fn parse(text: &str) -> Result<Config, ConfigError> {
    parse_config(text, Path::new("/etc/huddle/huddle.conf"))
}

fn err(text: &str) -> ConfigError {
    parse(text).expect_err(text)
}

#[test]
fn webhook_and_wait_url_prefixes_are_checked() {
    let e = err("[webhooks]\nenabled = true\n");
    assert_eq!(e.key.as_deref(), Some("webhooks.allow"), "{e}");
    let c = parse("[webhooks]\nallow = [\"http://a/\", \"https://b/\"]\n").unwrap();
    assert_eq!(c.webhooks.allow, ["http://a/", "https://b/"]);
    let e = err("[webhooks]\nallow = [\"http://a/\", \"https://\"]\n");
    assert_eq!(e.line, Some(2), "{e}");
    assert!(e.problem.contains("https://<host>"), "{e}");
    let e = err("[module]\nwait_url_allow = [\"http://\"]\n");
    assert!(e.problem.contains("http://<host>"), "{e}");
    let e = err("[module]\nwait_url_allow = [\"ftp://a/\"]\n");
    assert!(e.problem.contains("http://<host>"), "{e}");
    let e = err("[webhooks]\nqueue = 0\n");
    assert_eq!(e.key.as_deref(), Some("webhooks.queue"), "{e}");
    let e = err("[webhooks]\nretries = 3\n");
    assert!(e.to_string().contains("retries"), "{e}");
}

#[test]
fn a_tls_ca_file_must_hold_ca_certificates() {
    let dir = std::env::temp_dir().join(format!("huddle-ca-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let conf = |file: &str| {
        format!(
            "\n[module]\ntls_ca_file = \"{}\"\n",
            dir.join(file).display()
        )
    };
    let e = err(&conf("missing.pem"));
    assert_eq!(
        (e.line, e.key.as_deref()),
        (Some(3), Some("module.tls_ca_file")),
        "{e}"
    );
    assert!(e.problem.contains("missing.pem"), "{e}");
    std::fs::write(dir.join("empty.pem"), "not a certificate\n").unwrap();
    let e = err(&conf("empty.pem"));
    assert!(e.problem.contains("no PEM certificate"), "{e}");
    std::fs::write(
        dir.join("garbage.pem"),
        "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
    )
    .unwrap();
    let e = err(&conf("garbage.pem"));
    assert!(e.problem.contains("not a usable CA"), "{e}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn shipped_config_loads() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("conf/huddle.conf");
    let c = load_config(&path).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(c.profile("default").unwrap().rate, 16000);
    assert_eq!(c.profile("default").unwrap().interval_ms, 20);
    assert_eq!(c.profile("wideband").unwrap().rate, 48000);
    assert_eq!(c.profile("narrowband").unwrap().rate, 8000);
    for name in [
        "meeting",
        "webinar",
        "training",
        "confidential",
        "openline",
        "demo",
    ] {
        assert!(c.room("any", name).is_some(), "{name}");
    }
    let demo = c.room("", "demo").unwrap();
    assert_eq!(demo.pin.as_deref(), Some("1234"));
    assert_eq!(demo.host_pin.as_deref(), Some("4321"));
    assert!(demo.wait_for_host && demo.recording_enabled);
    let webinar = c.room("", "webinar").unwrap();
    assert_eq!(webinar.max_participants, 1000);
    assert!(webinar.auto_record && webinar.wait_for_host);
    assert!(c.room("", "training").unwrap().mute_on_entry);
    assert!(c.room("", "meeting").unwrap().pin.is_none());
    let conf_dir = path.parent().unwrap();
    assert_eq!(
        c.module.sounds_dir,
        std::path::absolute(conf_dir.join("sounds")).unwrap()
    );
    let moh = c
        .room("", "meeting")
        .unwrap()
        .music_on_hold
        .clone()
        .unwrap();
    assert!(
        moh.is_absolute() && moh.ends_with("sounds/hold.wav"),
        "{moh:?}"
    );
    let wb = c.profile("wideband").unwrap();
    assert_eq!(wb.controls.lookup("*0"), Some(DtmfAction::Leave));
    assert_eq!(wb.controls.lookup("*92"), Some(DtmfAction::Lock));
    assert_eq!(wb.controls.lookup("#"), None);
}

#[test]
fn empty_config_has_default_profile() {
    let c = parse("").unwrap();
    let p = c.profile("default").unwrap();
    assert_eq!(
        (p.rate, p.max_members, p.comfort_noise_dbov),
        (16000, 25, None)
    );
    assert_eq!(c.module.timer, Timer::Realtime);
    assert_eq!(c.module.sounds_dir, Path::new("/etc/huddle/sounds"));
    assert_eq!(
        p.sounds.pin.as_deref(),
        Some(Path::new("/etc/huddle/sounds/pin.wav"))
    );
    assert_eq!(p.sounds.enter, None);
    assert_eq!(
        p.controls.lookup("*91"),
        Some(DtmfAction::MuteAllNonModerators)
    );
}

#[test]
fn account_room_wins_over_global() {
    let c = parse(
        "[[rooms]]\nname = \"r\"\nmax_participants = 5\n\
         [[rooms]]\nname = \"r\"\naccount = \"AC1\"\nmax_participants = 7\n",
    )
    .unwrap();
    assert_eq!(c.room("AC1", "r").unwrap().max_participants, 7);
    assert_eq!(c.room("AC2", "r").unwrap().max_participants, 5);
    assert!(c.room("AC1", "x").is_none());
}

#[test]
fn unknown_key_names_line_and_key() {
    let e = err("[module]\ntimer = \"manual\"\n\n[profiles.default]\nrate = 16000\nratee = 8000\n");
    assert_eq!(e.line, Some(6), "{e}");
    assert!(e.problem.contains("ratee"), "{e}");
    assert_eq!(e.key.as_deref(), Some("profiles.default.ratee"), "{e}");
    assert!(
        e.to_string()
            .starts_with("/etc/huddle/huddle.conf:6: key 'profiles.default.ratee': "),
        "{e}"
    );
    let e = err("[[rooms]]\nname = \"a\"\nwait_for_hots = true\n");
    assert_eq!(e.line, Some(3), "{e}");
    assert!(e.to_string().contains("wait_for_hots"), "{e}");
}

#[test]
fn out_of_range_names_file_line_key() {
    let e = err("[profiles.default]\ninterval_ms = 20\nrate = 44100\n");
    assert_eq!(
        e.to_string(),
        "/etc/huddle/huddle.conf:3: key 'profiles.default.rate': 44100 is not a supported rate \
         (expected 8000, 16000, 24000, 32000 or 48000)"
    );
    let e = err("[profiles.x]\nmax_members = 1001\n");
    assert_eq!(
        (e.line, e.key.as_deref()),
        (Some(2), Some("profiles.x.max_members"))
    );
    let e = err("[profiles.x]\ncomfort_noise_dbov = -20.0\n");
    assert_eq!(e.line, Some(2));
    let e = err("[profiles.x]\nenergy_threshold_dbov = nan\n");
    assert_eq!(e.line, Some(2), "{e}");
    let e = err("[profiles.x]\nmax_members = 10\ntop_n = 11\n");
    assert_eq!(e.key.as_deref(), Some("profiles.x.top_n"));
    let e = err("[module]\nlog_level = \"loud\"\n");
    assert_eq!(
        (e.line, e.key.as_deref()),
        (Some(2), Some("module.log_level"))
    );
    let e = err("[module]\nsuppress_events = [\"join\", \"explode\"]\n");
    assert!(e.to_string().contains("explode"), "{e}");
    let e = err("[profiles.x]\nrecord_template = \"${room}-${rom}.wav\"\n");
    assert!(e.problem.contains("${rom}"), "{e}");
    let e = err("[profiles.x]\nrate = \"fast\"\n");
    assert_eq!(
        (e.line, e.key.as_deref()),
        (Some(2), Some("profiles.x.rate")),
        "{e}"
    );
}

#[test]
fn room_rules() {
    let e = err("[[rooms]]\nname = \"a\"\n\n[[rooms]]\nname = \"b\"\nhost_pin = \"99\"\n");
    assert_eq!(e.line, Some(6), "{e}");
    assert_eq!(e.key.as_deref(), Some("rooms[1].host_pin"));
    assert!(e.problem.contains("requires pin"));
    let e = err("[[rooms]]\nname = \"b\"\npin = \"12x\"\n");
    assert_eq!(e.line, Some(3));
    let e = err("[[rooms]]\nname = \"b\"\npin = \"123456789012345678901\"\n");
    assert!(e.problem.contains("1-20"));
    let e = err("[[rooms]]\nname = \"b\"\npin = \"1\"\nhost_pin = \"1\"\n");
    assert!(e.problem.contains("differ"));
    let e = err("[[rooms]]\nname = \"a/b\"\n");
    assert_eq!(e.key.as_deref(), Some("rooms[0].name"));
    let e = err("[[rooms]]\nname = \"a\"\n[[rooms]]\nname = \"a\"\n");
    assert_eq!(e.line, Some(4), "{e}");
    let e = err("[[rooms]]\nname = \"a\"\nprofile = \"hd\"\n");
    assert!(e.problem.contains("'hd'") && e.line == Some(3), "{e}");
    let e = err("[[rooms]]\nname = \"a\"\nmax_participants = 1\n");
    assert_eq!(e.line, Some(3));
    let e = err("[[rooms]]\nname = \"a\"\nrecording_enabled = false\nauto_record = true\n");
    assert_eq!(e.key.as_deref(), Some("rooms[0].auto_record"));
    let e = err("[[rooms]]\npin = \"1\"\n");
    assert!(e.problem.contains("name"), "{e}");
}

#[test]
fn bad_digit_maps() {
    let e = err("[profiles.default.caller_controls]\n\"*1\" = \"toggle-mute\"\n\"*2\" = \"self-destruct\"\n");
    assert_eq!(e.line, Some(3), "{e}");
    assert_eq!(
        e.key.as_deref(),
        Some("profiles.default.caller_controls.*2")
    );
    assert!(e.problem.contains("self-destruct"), "{e}");
    let e = err("[profiles.default.caller_controls]\n\"*x\" = \"mute\"\n");
    assert_eq!(e.line, Some(2), "{e}");
    let e = err("[profiles.default]\ncaller_controls = \"fancy\"\n");
    assert_eq!(e.line, Some(2));
    let e = err("[profiles.default.moderator_controls]\n\"*1\" = \"lock\"\n");
    assert!(e.problem.contains("both"), "{e}");
    let c =
        parse("[profiles.default]\ncaller_controls = \"none\"\nmoderator_controls = \"none\"\n")
            .unwrap();
    assert!(c.profile("default").unwrap().controls.is_empty());
}

#[test]
fn syntax_error_and_missing_file() {
    let e = err("[module]\ntimer = \n");
    assert_eq!(e.line, Some(2), "{e}");
    let e = load_config(Path::new("/nonexistent/huddle.conf")).unwrap_err();
    assert!(
        e.to_string()
            .starts_with("/nonexistent/huddle.conf: cannot read"),
        "{e}"
    );
}

#[test]
fn mutated_configs_never_panic() {
    let text =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("conf/huddle.conf"))
            .unwrap();
    let mut rng = Rng::new(3);
    let alphabet: Vec<char> = "[]=\"\n#.abc019*- {}".chars().collect();
    for _ in 0..300 {
        let s = rng.mutate(&text, &alphabet);
        if let Err(e) = parse(&s) {
            assert!(!e.problem.is_empty());
        }
    }
    for _ in 0..300 {
        let _ = parse(&rng.string(&alphabet, 80));
    }
}

#[test]
fn opus_encoder_keys_are_profile_settings_and_checked() {
    let c = parse(
        "[profiles.x]\nopus_bitrate = 24000\nopus_complexity = 10\nopus_fec = true\n\
         opus_dtx = true\nopus_packet_loss_pct = 15\n",
    )
    .expect("valid");
    let o = c.profile("x").expect("profile x").opus;
    assert_eq!(
        (o.bitrate, o.complexity, o.fec, o.dtx, o.packet_loss_pct),
        (24000, 10, true, true, 15)
    );
    let d = parse("[profiles.y]\n")
        .expect("valid")
        .profile("y")
        .expect("y")
        .opus;
    assert_eq!(
        (d.bitrate, d.complexity, d.fec, d.dtx),
        (32000, 8, false, false)
    );
    let e = err("[profiles.x]\nrate = 16000\nopus_complexity = 11\n");
    assert_eq!(
        e.to_string(),
        "/etc/huddle/huddle.conf:3: key 'profiles.x.opus_complexity': 11 is out of range 0..10"
    );
    for (text, key) in [
        (
            "[profiles.x]\nopus_bitrate = 5999\n",
            "profiles.x.opus_bitrate",
        ),
        (
            "[profiles.x]\nopus_packet_loss_pct = 101\n",
            "profiles.x.opus_packet_loss_pct",
        ),
    ] {
        let e = err(text);
        assert_eq!((e.line, e.key.as_deref()), (Some(2), Some(key)), "{e}");
    }
    let e = err("[profiles.x]\nopus_fec = \"yes\"\n");
    assert_eq!(e.line, Some(2), "{e}");
}
