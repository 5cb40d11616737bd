//! From the raw sections to the typed config: `[module]`, `[webhooks]`,
//! each profile and each room, with every value checked.

use std::path::Component;

use crate::control::dtmf::{default_caller_map, default_moderator_map};
use crate::control::{validate_account, validate_pin};
use crate::room::events;
use crate::room::invite::{check_pattern, InvitePolicy};

use super::raw::*;
use super::validator::clip;
use super::*;

/// A list of `http://` or `https://` URL prefixes (allow-lists of where
/// huddle may connect).
pub(super) fn http_prefixes(
    v: &Validator,
    table: &str,
    key: &str,
    list: &[String],
) -> Result<Vec<String>, ConfigError> {
    for (i, prefix) in list.iter().enumerate() {
        let path = [k(table), k(key), Seg::Index(i)];
        v.text_value(&path, prefix)?;
        let host = prefix
            .strip_prefix("http://")
            .or_else(|| prefix.strip_prefix("https://"));
        // A bare "http://" would allow every host: name one.
        if host.is_none_or(str::is_empty) {
            return Err(v.err(&path, "must be http://<host>[...] or https://<host>[...]"));
        }
    }
    Ok(list.to_vec())
}

/// The certificates of `[module] tls_ca_file` (PEM), checked here so a bad
/// file names its line rather than failing every request later.
fn tls_roots(
    v: &Validator,
    base: &Path,
    file: &str,
) -> Result<Vec<rustls::pki_types::CertificateDer<'static>>, ConfigError> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::CertificateDer;
    let key = [k("module"), k("tls_ca_file")];
    if file.is_empty() {
        return Ok(Vec::new());
    }
    v.text_value(&key, file)?;
    let path = v.resolve_path(base, file);
    let bad = |why: String| v.err(&key, format!("{}: {why}", path.display()));
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&path)
        .map_err(|e| bad(e.to_string()))?
        .collect::<Result<_, _>>()
        .map_err(|e| bad(format!("not a PEM certificate file ({e})")))?;
    if certs.is_empty() {
        return Err(bad(
            "holds no PEM certificate (-----BEGIN CERTIFICATE-----)".into(),
        ));
    }
    let mut store = rustls::RootCertStore::empty();
    for (i, cert) in certs.iter().enumerate() {
        store
            .add(cert.clone())
            .map_err(|e| bad(format!("certificate {} is not a usable CA: {e}", i + 1)))?;
    }
    Ok(certs)
}

pub(super) fn resolve_webhooks(
    v: &Validator,
    w: &RawWebhooks,
) -> Result<WebhookConfig, ConfigError> {
    let p = |key: &str| [k("webhooks"), k(key)];
    let allow = http_prefixes(v, "webhooks", "allow", &w.allow)?;
    if w.enabled && allow.is_empty() {
        return Err(v.err(
            &p("allow"),
            "webhooks are enabled but no URL prefix is allowed",
        ));
    }
    v.text_value(&p("secret"), &w.secret)?;
    Ok(WebhookConfig {
        enabled: w.enabled,
        allow,
        secret: w.secret.clone(),
        timeout_ms: v.int(&p("timeout_ms"), w.timeout_ms, 50, 60_000)? as u64,
        max_attempts: v.int(&p("max_attempts"), w.max_attempts, 1, 10)? as u32,
        retry_base_ms: v.int(&p("retry_base_ms"), w.retry_base_ms, 10, 60_000)? as u64,
        queue: v.int(&p("queue"), w.queue, 1, 100_000)? as usize,
        workers: v.int(&p("workers"), w.workers, 1, 16)? as usize,
    })
}

pub(super) fn resolve_module(
    v: &Validator,
    m: &RawModule,
    base: &Path,
) -> Result<ModuleConfig, ConfigError> {
    let p = |key: &str| [k("module"), k(key)];
    let timer = match m.timer.as_str() {
        "realtime" => Timer::Realtime,
        "manual" => Timer::Manual,
        other => {
            return Err(v.err(
                &p("timer"),
                format!("'{other}' is not a timer (expected realtime or manual)"),
            ))
        }
    };
    let mixer_threads = v.int(&p("mixer_threads"), m.mixer_threads, 0, 256)? as usize;
    let log_level = match m.log_level.as_str() {
        "off" => log::LevelFilter::Off,
        "error" => log::LevelFilter::Error,
        "warn" => log::LevelFilter::Warn,
        "info" => log::LevelFilter::Info,
        "debug" => log::LevelFilter::Debug,
        "trace" => log::LevelFilter::Trace,
        other => {
            return Err(v.err(
                &p("log_level"),
                format!(
                "'{other}' is not a log level (expected off, error, warn, info, debug or trace)"
            ),
            ))
        }
    };
    for key in ["sounds_dir", "recordings_dir"] {
        let val = if key == "sounds_dir" {
            &m.sounds_dir
        } else {
            &m.recordings_dir
        };
        if val.is_empty() {
            return Err(v.err(&p(key), "must not be empty"));
        }
        v.text_value(&p(key), val)?;
    }
    v.text_value(&p("public_recording_url"), &m.public_recording_url)?;
    let public_recording_url = if m.public_recording_url.is_empty() {
        None
    } else if m.public_recording_url.starts_with("http://")
        || m.public_recording_url.starts_with("https://")
    {
        Some(m.public_recording_url.clone())
    } else {
        return Err(v.err(
            &p("public_recording_url"),
            "must start with http:// or https://",
        ));
    };
    let mut suppress_events = Vec::new();
    for (i, name) in m.suppress_events.iter().enumerate() {
        if let Err(why) = events::check_suppress_token(name) {
            return Err(v.err(&[k("module"), k("suppress_events"), Seg::Index(i)], why));
        }
        if !suppress_events.contains(name) {
            suppress_events.push(name.clone());
        }
    }
    let mut allowed_sound_dirs = Vec::new();
    for (i, d) in m.allowed_sound_dirs.iter().enumerate() {
        let key = [k("module"), k("allowed_sound_dirs"), Seg::Index(i)];
        v.text_value(&key, d)?;
        if d.is_empty() || Path::new(d).components().any(|c| c == Component::ParentDir) {
            return Err(v.err(&key, "must be a folder path without '..'"));
        }
        allowed_sound_dirs.push(v.resolve_path(base, d));
    }
    let mode = |key: &str, text: &str| -> Result<u32, ConfigError> {
        let digits = text.strip_prefix("0o").unwrap_or(text);
        let bits = (!digits.is_empty() && digits.len() <= 4)
            .then(|| u32::from_str_radix(digits, 8).ok())
            .flatten()
            .filter(|m| *m <= 0o777);
        bits.ok_or_else(|| {
            v.err(
                &p(key),
                format!(
                    "'{}' is not permission bits in octal, 0000..0777 (e.g. \"0640\")",
                    clip(text)
                ),
            )
        })
    };
    let wait_url_allow = http_prefixes(v, "module", "wait_url_allow", &m.wait_url_allow)?;
    Ok(ModuleConfig {
        wait_url_allow,
        tls_roots: tls_roots(v, base, &m.tls_ca_file)?,
        timer,
        mixer_threads,
        log_level,
        sounds_dir: v.resolve_path(base, &m.sounds_dir),
        recordings_dir: v.resolve_path(base, &m.recordings_dir),
        public_recording_url,
        suppress_events,
        allowed_sound_dirs,
        recording_file_mode: mode("recording_file_mode", &m.recording_file_mode)?,
        recording_dir_mode: mode("recording_dir_mode", &m.recording_dir_mode)?,
    })
}

pub(super) fn check_template(v: &Validator, path: &[Seg], t: &str) -> Result<(), ConfigError> {
    if t.is_empty() {
        return Err(v.err(path, "must not be empty"));
    }
    v.text_value(path, t)?;
    let mut rest = t;
    while let Some(i) = rest.find("${") {
        let after = &rest[i + 2..];
        let Some(end) = after.find('}') else {
            return Err(v.err(path, "unterminated '${' in template"));
        };
        let var = &after[..end];
        if !TEMPLATE_VARS.contains(&var) {
            return Err(v.err(
                path,
                format!(
                    "unknown variable '${{{var}}}' (expected one of: {})",
                    TEMPLATE_VARS.join(", ")
                ),
            ));
        }
        rest = &after[end + 1..];
    }
    // Recordings stay under recordings_dir. Variables expand to safe names
    // (never `..` or `/`), so only the literal text can lead out; say so here
    // rather than at the first recording. The runtime checks again (links).
    if t.starts_with('/') || t.starts_with('\\') {
        return Err(v.err(
            path,
            "is an absolute path; it must be relative to recordings_dir",
        ));
    }
    if t.split(['/', '\\']).any(|c| c == "..") {
        return Err(v.err(
            path,
            "contains '..'; recordings must stay under recordings_dir",
        ));
    }
    Ok(())
}

pub(super) fn resolve_profile(
    v: &Validator,
    name: &str,
    r: &RawProfile,
    module: &ModuleConfig,
) -> Result<Profile, ConfigError> {
    let p = |key: &str| [k("profiles"), k(name), k(key)];
    let rate = r.rate;
    if ![8000, 16000, 24000, 32000, 48000].contains(&rate) {
        return Err(v.err(
            &p("rate"),
            format!("{rate} is not a supported rate (expected 8000, 16000, 24000, 32000 or 48000)"),
        ));
    }
    let interval_ms = r.interval_ms;
    if ![10, 20, 40, 60].contains(&interval_ms) {
        return Err(v.err(
            &p("interval_ms"),
            format!("{interval_ms} is not a supported interval (expected 10, 20, 40 or 60)"),
        ));
    }
    let energy = v.range(
        &p("energy_threshold_dbov"),
        r.energy_threshold_dbov,
        -96.0,
        0.0,
        " dBov",
    )?;
    let comfort_noise_dbov = if r.comfort_noise_dbov == 0.0 {
        None
    } else {
        Some(v.range(
            &p("comfort_noise_dbov"),
            r.comfort_noise_dbov,
            -90.0,
            -30.0,
            " dBov (or 0 = off)",
        )? as f32)
    };
    let max_members = v.int(&p("max_members"), r.max_members, 2, 1000)?;
    let top_n = v.int(&p("top_n"), r.top_n, 0, max_members)?;
    check_template(v, &p("record_template"), &r.record_template)?;
    let caller_controls = v.controls(
        &p("caller_controls"),
        &r.caller_controls,
        default_caller_map,
    )?;
    let moderator_controls = v.controls(
        &p("moderator_controls"),
        &r.moderator_controls,
        default_moderator_map,
    )?;
    let controls = caller_controls
        .merged(&moderator_controls)
        .map_err(|e| v.dtmf_err(&p("moderator_controls"), &e))?;
    let sounds = resolve_sounds(v, &[k("profiles"), k(name), k("sounds")], &r.sounds, module)?;
    Ok(Profile {
        name: name.to_string(),
        rate: rate as u32,
        interval_ms: interval_ms as u32,
        energy_threshold_dbov: energy as f32,
        talk_start_ms: v.int(&p("talk_start_ms"), r.talk_start_ms, 0, 5000)? as u32,
        talk_stop_ms: v.int(&p("talk_stop_ms"), r.talk_stop_ms, 0, 10_000)? as u32,
        jitter_buffer_frames: v.int(&p("jitter_buffer_frames"), r.jitter_buffer_frames, 1, 10)?
            as u32,
        bridge_jitter_frames: v.int(&p("bridge_jitter_frames"), r.bridge_jitter_frames, 1, 10)?
            as u32,
        comfort_noise_dbov,
        max_members: max_members as u32,
        limiter: r.limiter,
        top_n: top_n as u32,
        share_encodes: r.share_encodes,
        skip_quiet_inputs: r.skip_quiet_inputs,
        opus: EncoderSettings {
            bitrate: v.int(&p("opus_bitrate"), r.opus_bitrate, 6000, 510_000)? as i32,
            complexity: v.int(&p("opus_complexity"), r.opus_complexity, 0, 10)? as i32,
            fec: r.opus_fec,
            dtx: r.opus_dtx,
            packet_loss_pct: v.int(&p("opus_packet_loss_pct"), r.opus_packet_loss_pct, 0, 100)?
                as i32,
        },
        record_beep: r.record_beep,
        multitrack: r.multitrack,
        recording_timeout_s: v.int(&p("recording_timeout_s"), r.recording_timeout_s, 0, 86_400)?
            as u32,
        auto_record: r.auto_record,
        record_template: r.record_template.clone(),
        allow_dynamic_rooms: r.allow_dynamic_rooms,
        pin_tries: v.int(&p("pin_tries"), r.pin_tries, 1, 10)? as u32,
        pin_first_digit_timeout_ms: v.int(
            &p("pin_first_digit_timeout_ms"),
            r.pin_first_digit_timeout_ms,
            1000,
            60_000,
        )? as u64,
        pin_inter_digit_timeout_ms: v.int(
            &p("pin_inter_digit_timeout_ms"),
            r.pin_inter_digit_timeout_ms,
            500,
            30_000,
        )? as u64,
        pin_failures_per_minute: v.int(
            &p("pin_failures_per_minute"),
            r.pin_failures_per_minute,
            0,
            1000,
        )? as u32,
        dtmf_inter_digit_timeout_ms: v.int(
            &p("dtmf_inter_digit_timeout_ms"),
            r.dtmf_inter_digit_timeout_ms,
            100,
            10_000,
        )? as u64,
        caller_controls,
        moderator_controls,
        controls,
        sounds,
        trust_app_flags: v.choice(
            &p("trust_app_flags"),
            &r.trust_app_flags,
            &[
                ("always", TrustAppFlags::Always),
                ("no-host-pin", TrustAppFlags::NoHostPin),
                ("never", TrustAppFlags::Never),
            ],
        )?,
        invite: InviteRules {
            who: v.choice(
                &p("invite"),
                &r.invite,
                &[
                    ("moderators", InvitePolicy::Moderators),
                    ("anyone", InvitePolicy::Anyone),
                    ("nobody", InvitePolicy::Nobody),
                ],
            )?,
            per_member_per_minute: v.int(
                &p("invites_per_minute_member"),
                r.invites_per_minute_member,
                0,
                60,
            )? as u32,
            per_room_per_minute: v.int(
                &p("invites_per_minute_room"),
                r.invites_per_minute_room,
                0,
                600,
            )? as u32,
            destinations: {
                let mut out = Vec::new();
                for (i, pat) in r.invite_destinations.iter().enumerate() {
                    check_pattern(pat).map_err(|e| {
                        v.err(
                            &[
                                k("profiles"),
                                k(name),
                                k("invite_destinations"),
                                Seg::Index(i),
                            ],
                            e,
                        )
                    })?;
                    out.push(pat.clone());
                }
                out
            },
        },
    })
}
pub(super) fn resolve_room(
    v: &Validator,
    i: usize,
    r: &RawRoom,
    profiles: &HashMap<String, Profile>,
    module: &ModuleConfig,
) -> Result<RoomConfig, ConfigError> {
    let p = |key: &str| [k("rooms"), Seg::Index(i), k(key)];
    validate_room_name(&r.name)
        .map_err(|e| v.err(&p("name"), format!("'{}': {e}", clip(&r.name))))?;
    let account = if r.account.is_empty() {
        None
    } else {
        validate_account(&r.account)
            .map_err(|e| v.err(&p("account"), format!("'{}': {e}", clip(&r.account))))?;
        Some(r.account.clone())
    };
    let profile_name = r.profile.clone().unwrap_or_else(|| "default".into());
    let Some(profile) = profiles.get(&profile_name) else {
        let mut known: Vec<&str> = profiles.keys().map(String::as_str).collect();
        known.sort();
        return Err(v.err(
            &p("profile"),
            format!(
                "no profile named '{profile_name}' (defined: {})",
                known.join(", ")
            ),
        ));
    };
    let max_participants = match r.max_participants {
        Some(n) => v.int(&p("max_participants"), n, 2, 1000)? as u32,
        None => profile.max_members,
    };
    for (key, pin) in [("pin", &r.pin), ("host_pin", &r.host_pin)] {
        if let Some(pin) = pin {
            // Never the PIN itself: config errors reach the host's log.
            validate_pin(pin)
                .map_err(|e| v.err(&p(key), format!("'{}': {e}", crate::control::PIN_MASK)))?;
        }
    }
    if r.host_pin.is_some() && r.pin.is_none() {
        return Err(v.err(
            &p("host_pin"),
            "host_pin requires pin (otherwise nobody is asked for a PIN)",
        ));
    }
    if r.host_pin.is_some() && r.host_pin == r.pin {
        return Err(v.err(
            &p("host_pin"),
            "host_pin must differ from pin, or hosts can't be told apart",
        ));
    }
    let auto_record = r.auto_record.unwrap_or(profile.auto_record);
    if auto_record && !r.recording_enabled {
        return Err(v.err(
            &p("auto_record"),
            "auto_record needs recording_enabled = true",
        ));
    }
    let sound = |key: &str, over: &Option<String>, inherited: &Option<PathBuf>| match over {
        Some(s) => v.sound(&[k("rooms"), Seg::Index(i)], key, s, module),
        None => Ok(inherited.clone()),
    };
    Ok(RoomConfig {
        name: r.name.clone(),
        account,
        profile: profile_name.clone(),
        max_participants,
        pin: r.pin.clone(),
        host_pin: r.host_pin.clone(),
        wait_for_host: r.wait_for_host,
        mute_on_entry: r.mute_on_entry,
        announce_join_leave: r.announce_join_leave,
        recording_enabled: r.recording_enabled,
        auto_record,
        music_on_hold: sound("music_on_hold", &r.music_on_hold, &profile.sounds.moh)?,
        mute_non_moderators: r.mute_non_moderators,
        announce_caller_name: r.announce_caller_name,
        enter_sound: sound("enter_sound", &r.enter_sound, &profile.sounds.enter)?,
        exit_sound: sound("exit_sound", &r.exit_sound, &profile.sounds.exit)?,
    })
}
