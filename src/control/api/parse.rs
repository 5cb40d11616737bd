//! From one operator line to an `ApiRequest`: the tokenizer (quotes,
//! refused separators), both word orders, and each command's arguments.

use std::fmt;

use crate::control::{excerpt, validate_account, validate_pin, validate_room_name};
use crate::room::Relation;

use super::help::COMMANDS;
use super::*;

fn bad(cmd: &str, msg: impl fmt::Display) -> ApiError {
    let usage = COMMANDS
        .iter()
        .find(|c| c.0 == cmd)
        .map(|c| c.1)
        .unwrap_or(cmd);
    ApiError::new(
        ApiErrorCode::BadArguments,
        format!("{cmd}: {msg} (usage: {usage})"),
    )
}

/// Words are separated by ASCII spaces and tabs only. Any other control or
/// separator character (a newline, U+3000 IDEOGRAPHIC SPACE, a no-break
/// space) is refused rather than guessed at: a separator that one reader
/// splits on and another does not would let `kick r\u{3000}all` mean
/// something else than what the operator's screen shows.
fn is_separator(c: char) -> bool {
    c == ' ' || c == '\t'
}

fn check_characters(line: &str) -> Result<(), ApiError> {
    match line
        .chars()
        .find(|&c| !is_separator(c) && (crate::control::is_line_breaking(c) || c.is_whitespace()))
    {
        Some(c) => Err(ApiError::new(
            ApiErrorCode::BadArguments,
            format!(
                "command contains the control or separator character U+{:04X} \
                 (words are separated by spaces or tabs only)",
                u32::from(c)
            ),
        )),
        None => Ok(()),
    }
}

fn tokenize(line: &str) -> Result<Vec<String>, ApiError> {
    check_characters(line)?;
    let mut out = Vec::new();
    let mut chars = line.chars().peekable();
    loop {
        while chars.peek().is_some_and(|&c| is_separator(c)) {
            chars.next();
        }
        let Some(&first) = chars.peek() else {
            return Ok(out);
        };
        let mut tok = String::new();
        if first == '"' {
            chars.next();
            let mut closed = false;
            while let Some(c) = chars.next() {
                match c {
                    '"' => {
                        closed = true;
                        break;
                    }
                    '\\' => match chars.next() {
                        Some(n) => tok.push(n),
                        None => break,
                    },
                    _ => tok.push(c),
                }
            }
            if !closed {
                return Err(ApiError::new(
                    ApiErrorCode::BadArguments,
                    format!("unterminated double quote in \"{}\"", excerpt(line, 80)),
                ));
            }
            if chars.peek().is_some_and(|&c| !is_separator(c)) {
                return Err(ApiError::new(
                    ApiErrorCode::BadArguments,
                    format!(
                        "text right after closing quote of \"{}\"",
                        excerpt(&tok, 40)
                    ),
                ));
            }
        } else {
            while let Some(&c) = chars.peek() {
                if is_separator(c) {
                    break;
                }
                tok.push(c);
                chars.next();
            }
        }
        out.push(tok);
    }
}

fn is_command(word: &str) -> bool {
    COMMANDS.iter().any(|c| c.0 == word)
}

/// Commands whose first argument is a room, so the FreeSWITCH order
/// `<room> <command>` can be rewritten to ours.
fn takes_room_first(word: &str) -> bool {
    is_command(word) && !matches!(word, "reload" | "help")
}

pub fn parse_api(line: &str) -> Result<ApiRequest, ApiError> {
    if line.len() > MAX_API_LINE_LEN {
        return Err(ApiError::new(
            ApiErrorCode::TooLong,
            format!(
                "command is {} bytes, longer than {MAX_API_LINE_LEN}: \"{}\"",
                line.len(),
                excerpt(line, 40)
            ),
        ));
    }
    let mut toks = tokenize(line)?;
    if toks.first().is_some_and(|t| t == "conference") {
        toks.remove(0);
    }
    let mut json = false;
    if toks.first().is_some_and(|t| t == "json") {
        json = true;
        toks.remove(0);
    }
    if toks.is_empty() {
        return Err(ApiError::new(
            ApiErrorCode::UnknownCommand,
            "no command given (try 'conference help')",
        ));
    }
    if !is_command(&toks[0]) && toks.len() >= 2 && takes_room_first(&toks[1]) {
        toks.swap(0, 1);
    }
    if let Some(t) = toks.iter().find(|t| t.len() > MAX_ARG_LEN) {
        return Err(ApiError::new(
            ApiErrorCode::TooLong,
            format!(
                "argument longer than {MAX_ARG_LEN} bytes: \"{}\"",
                excerpt(t, 40)
            ),
        ));
    }
    let cmd_name = toks[0].as_str();
    if !is_command(cmd_name) {
        return Err(ApiError::new(
            ApiErrorCode::UnknownCommand,
            format!(
                "unknown command '{}' (try 'conference help')",
                excerpt(cmd_name, 40)
            ),
        ));
    }
    let args: Vec<&str> = toks[1..].iter().map(String::as_str).collect();
    let cmd = parse_command(cmd_name, &args)?;
    Ok(ApiRequest { json, cmd })
}

fn arity(cmd: &str, args: &[&str], min: usize, max: usize) -> Result<(), ApiError> {
    if args.len() < min || args.len() > max {
        let want = if min == max {
            format!("{min}")
        } else {
            format!("{min}-{max}")
        };
        return Err(bad(
            cmd,
            format!("takes {want} argument(s), got {}", args.len()),
        ));
    }
    Ok(())
}

pub fn parse_room_ref(s: &str) -> Result<RoomRef, String> {
    match s.split_once('/') {
        Some((account, name)) => {
            validate_account(account)?;
            validate_room_name(name)?;
            Ok(RoomRef {
                account: Some(account.to_string()),
                name: name.to_string(),
            })
        }
        None => {
            validate_room_name(s)?;
            Ok(RoomRef {
                account: None,
                name: s.to_string(),
            })
        }
    }
}

fn room(cmd: &str, s: &str) -> Result<RoomRef, ApiError> {
    parse_room_ref(s).map_err(|e| bad(cmd, format!("bad room '{}': {e}", excerpt(s, 70))))
}

fn member_id(cmd: &str, s: &str) -> Result<u32, ApiError> {
    match s.parse::<u32>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(bad(
            cmd,
            format!(
                "bad member id '{}' (expected a number >= 1)",
                excerpt(s, 30)
            ),
        )),
    }
}

fn target(cmd: &str, s: &str) -> Result<MemberTarget, ApiError> {
    match s {
        "all" => Ok(MemberTarget::All),
        "last" => Ok(MemberTarget::Last),
        "non_moderator" | "non-moderator" => Ok(MemberTarget::NonModerator),
        _ => member_id(cmd, s).map(MemberTarget::Id).map_err(|_| {
            bad(
                cmd,
                format!(
                    "bad target '{}' (expected member-id, all, last or non_moderator)",
                    excerpt(s, 30)
                ),
            )
        }),
    }
}

fn level(cmd: &str, s: &str, lo: f32, hi: f32) -> Result<Level, ApiError> {
    match s {
        "up" => Ok(Level::Up),
        "down" => Ok(Level::Down),
        _ => match s.parse::<f32>() {
            Ok(v) if v.is_finite() && (lo..=hi).contains(&v) => Ok(Level::Set(v)),
            _ => Err(bad(
                cmd,
                format!(
                    "bad level '{}' (expected up, down or a number {lo}..{hi})",
                    excerpt(s, 30)
                ),
            )),
        },
    }
}

fn pin_arg(cmd: &str, s: &str) -> Result<Option<String>, ApiError> {
    if s == "none" {
        return Ok(None);
    }
    validate_pin(s).map_err(|e| bad(cmd, format!("bad PIN '{}': {e}", excerpt(s, 30))))?;
    Ok(Some(s.to_string()))
}

fn param(cmd: &str, s: &str) -> Result<RoomParam, ApiError> {
    [
        RoomParam::MaxMembers,
        RoomParam::Pin,
        RoomParam::HostPin,
        RoomParam::Locked,
        RoomParam::Moh,
    ]
    .into_iter()
    .find(|p| p.name() == s)
    .ok_or_else(|| {
        bad(
            cmd,
            format!(
                "unknown parameter '{}' (expected max_members, pin, host_pin, locked or moh)",
                excerpt(s, 30)
            ),
        )
    })
}

fn ids(cmd: &str, s: &str) -> Result<Vec<u32>, ApiError> {
    let mut out = Vec::new();
    for part in s.split(',') {
        let id = member_id(cmd, part)?;
        if !out.contains(&id) {
            out.push(id);
        }
        if out.len() > MAX_RELATE_IDS {
            return Err(bad(
                cmd,
                format!("more than {MAX_RELATE_IDS} ids in one list"),
            ));
        }
    }
    Ok(out)
}

fn parse_command(c: &str, a: &[&str]) -> Result<ApiCommand, ApiError> {
    use ApiCommand as C;
    let opt_room = |a: &[&str]| -> Result<Option<RoomRef>, ApiError> {
        arity(c, a, 0, 1)?;
        a.first().map(|s| room(c, s)).transpose()
    };
    let room_target = |a: &[&str]| -> Result<(RoomRef, MemberTarget), ApiError> {
        arity(c, a, 2, 2)?;
        Ok((room(c, a[0])?, target(c, a[1])?))
    };
    let only_room = |a: &[&str]| -> Result<RoomRef, ApiError> {
        arity(c, a, 1, 1)?;
        room(c, a[0])
    };
    Ok(match c {
        "list" => C::List { room: opt_room(a)? },
        "count" => C::Count { room: opt_room(a)? },
        "kick" | "hup" | "mute" | "unmute" | "tmute" | "deaf" | "undeaf" | "unhold" => {
            let (room, target) = room_target(a)?;
            match c {
                "kick" => C::Kick { room, target },
                "hup" => C::Hup { room, target },
                "mute" => C::Mute { room, target },
                "unmute" => C::Unmute { room, target },
                "tmute" => C::Tmute { room, target },
                "deaf" => C::Deaf { room, target },
                "undeaf" => C::Undeaf { room, target },
                _ => C::Unhold { room, target },
            }
        }
        "hold" => {
            arity(c, a, 2, 3)?;
            C::Hold {
                room: room(c, a[0])?,
                target: target(c, a[1])?,
                file: a.get(2).map(|s| s.to_string()),
            }
        }
        "coach" => {
            arity(c, a, 3, 3)?;
            // The same id lists as `relate`: comma-separated, bounded.
            let (coach, members) = (member_id(c, a[1])?, ids(c, a[2])?);
            if members.contains(&coach) {
                return Err(bad(c, format!("member {coach} cannot coach itself")));
            }
            C::Coach {
                room: room(c, a[0])?,
                coach,
                members,
            }
        }
        "uncoach" => {
            arity(c, a, 2, 2)?;
            C::Uncoach {
                room: room(c, a[0])?,
                coach: member_id(c, a[1])?,
            }
        }
        "lock" => C::Lock {
            room: only_room(a)?,
        },
        "unlock" => C::Unlock {
            room: only_room(a)?,
        },
        "volume_in" | "volume_out" | "energy" => {
            arity(c, a, 3, 3)?;
            let room = room(c, a[0])?;
            let target = target(c, a[1])?;
            match c {
                "volume_in" => C::VolumeIn {
                    room,
                    target,
                    level: level(c, a[2], -24.0, 24.0)?,
                },
                "volume_out" => C::VolumeOut {
                    room,
                    target,
                    level: level(c, a[2], -24.0, 24.0)?,
                },
                _ => C::Energy {
                    room,
                    target,
                    level: level(c, a[2], -96.0, 0.0)?,
                },
            }
        }
        "play" => {
            arity(c, a, 2, 3)?;
            if a[1].is_empty() {
                return Err(bad(c, "empty file name"));
            }
            C::Play {
                room: room(c, a[0])?,
                file: a[1].to_string(),
                member: a.get(2).map(|s| member_id(c, s)).transpose()?,
            }
        }
        "stop" => {
            arity(c, a, 1, 2)?;
            C::Stop {
                room: room(c, a[0])?,
                member: a.get(1).map(|s| member_id(c, s)).transpose()?,
            }
        }
        "record" => {
            arity(c, a, 2, 3)?;
            let action = match a[1] {
                "start" => RecordAction::Start,
                "stop" => RecordAction::Stop,
                "pause" => RecordAction::Pause,
                "resume" => RecordAction::Resume,
                other => {
                    return Err(bad(
                        c,
                        format!(
                            "bad action '{}' (expected start, stop, pause or resume)",
                            excerpt(other, 30)
                        ),
                    ))
                }
            };
            if a.len() == 3 && action != RecordAction::Start {
                return Err(bad(c, "a path is only accepted with 'start'"));
            }
            C::Record {
                room: room(c, a[0])?,
                action,
                path: a.get(2).map(|s| s.to_string()),
            }
        }
        "dial" => {
            arity(c, a, 2, 2)?;
            if a[1].is_empty() {
                return Err(bad(c, "empty destination"));
            }
            C::Dial {
                room: room(c, a[0])?,
                destination: a[1].to_string(),
            }
        }
        "cascade" => {
            arity(c, a, 2, 2)?;
            C::Cascade {
                room: room(c, a[0])?,
                uri: a[1].to_string(),
            }
        }
        "uncascade" => {
            arity(c, a, 1, 2)?;
            C::Uncascade {
                room: room(c, a[0])?,
                uri: a.get(1).map(|u| u.to_string()),
            }
        }
        "end" => C::End {
            room: only_room(a)?,
        },
        "pin" | "hostpin" => {
            arity(c, a, 2, 2)?;
            let room = room(c, a[0])?;
            let pin = pin_arg(c, a[1])?;
            if c == "pin" {
                C::Pin { room, pin }
            } else {
                C::HostPin { room, pin }
            }
        }
        "set" => {
            arity(c, a, 3, 3)?;
            let room = room(c, a[0])?;
            let v = a[2];
            let setting = match param(c, a[1])? {
                RoomParam::MaxMembers => match v.parse::<u32>() {
                    Ok(n) if (2..=1000).contains(&n) => RoomSetting::MaxMembers(n),
                    _ => {
                        return Err(bad(
                            c,
                            format!("max_members must be 2..1000, not '{}'", excerpt(v, 30)),
                        ))
                    }
                },
                RoomParam::Pin => RoomSetting::Pin(pin_arg(c, v)?),
                RoomParam::HostPin => RoomSetting::HostPin(pin_arg(c, v)?),
                RoomParam::Locked => RoomSetting::Locked(match v {
                    "true" | "on" | "yes" => true,
                    "false" | "off" | "no" => false,
                    _ => {
                        return Err(bad(
                            c,
                            format!("locked must be true or false, not '{}'", excerpt(v, 30)),
                        ))
                    }
                }),
                RoomParam::Moh => RoomSetting::Moh(match v {
                    "none" | "" => None,
                    f => Some(f.to_string()),
                }),
            };
            C::Set { room, setting }
        }
        "get" => {
            arity(c, a, 2, 2)?;
            C::Get {
                room: room(c, a[0])?,
                param: param(c, a[1])?,
            }
        }
        "relate" => {
            arity(c, a, 4, 4)?;
            let relation = match a[3] {
                "nohear" => Relation::NoHear,
                "nospeak" => Relation::NoSpeak,
                "clear" => Relation::Clear,
                other => {
                    return Err(bad(
                        c,
                        format!(
                            "bad relation '{}' (expected nohear, nospeak or clear)",
                            excerpt(other, 30)
                        ),
                    ))
                }
            };
            C::Relate {
                room: room(c, a[0])?,
                from: ids(c, a[1])?,
                to: ids(c, a[2])?,
                relation,
            }
        }
        "stats" => C::Stats {
            room: only_room(a)?,
        },
        "reload" => {
            arity(c, a, 0, 1)?;
            match a.first() {
                None => C::Reload { apply_live: false },
                Some(&"apply-live") => C::Reload { apply_live: true },
                Some(other) => {
                    return Err(bad(
                        c,
                        format!(
                            "unknown option '{}' (expected apply-live)",
                            excerpt(other, 30)
                        ),
                    ))
                }
            }
        }
        "help" => {
            arity(c, a, 0, 0)?;
            C::Help
        }
        other => {
            return Err(ApiError::new(
                ApiErrorCode::Internal,
                format!("command '{other}' listed but not parsed"),
            ))
        }
    })
}
