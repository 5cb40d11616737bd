//! The operator `conference` API command, FreeSWITCH style:
//! `[conference] [json] <command> <room> [args...]`. The FreeSWITCH order
//! `<room> <command> [args...]` is accepted too, so existing operator
//! scripts keep working. Arguments are whitespace-separated; a
//! double-quoted argument may contain spaces (`\"` and `\\` escape inside
//! quotes).

use std::fmt;

use crate::room::Relation;
mod help;
mod parse;
#[cfg(test)]
mod tests;

pub use help::help_text;
pub use parse::{parse_api, parse_room_ref};

pub const MAX_API_LINE_LEN: usize = 4096;
/// Bound on ids in one list (`relate`, `coach`) so a typo can't create a huge
/// relation or whisper set.
pub const MAX_RELATE_IDS: usize = 64;
pub const MAX_ARG_LEN: usize = 1024;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ApiErrorCode {
    UnknownCommand,
    BadArguments,
    TooLong,
    UnknownRoom,
    UnknownMember,
    Refused,
    Internal,
}

impl ApiErrorCode {
    pub const ALL: [ApiErrorCode; 7] = [
        ApiErrorCode::UnknownCommand,
        ApiErrorCode::BadArguments,
        ApiErrorCode::TooLong,
        ApiErrorCode::UnknownRoom,
        ApiErrorCode::UnknownMember,
        ApiErrorCode::Refused,
        ApiErrorCode::Internal,
    ];

    /// Stable numeric code for scripts; never renumber.
    pub fn code(&self) -> u32 {
        match self {
            ApiErrorCode::UnknownCommand => 100,
            ApiErrorCode::BadArguments => 101,
            ApiErrorCode::TooLong => 102,
            ApiErrorCode::UnknownRoom => 200,
            ApiErrorCode::UnknownMember => 201,
            ApiErrorCode::Refused => 300,
            ApiErrorCode::Internal => 500,
        }
    }

    /// Stable short name (used in JSON replies and `-ERR` lines).
    pub fn name(&self) -> &'static str {
        match self {
            ApiErrorCode::UnknownCommand => "unknown-command",
            ApiErrorCode::BadArguments => "bad-arguments",
            ApiErrorCode::TooLong => "too-long",
            ApiErrorCode::UnknownRoom => "unknown-room",
            ApiErrorCode::UnknownMember => "unknown-member",
            ApiErrorCode::Refused => "refused",
            ApiErrorCode::Internal => "internal",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiError {
    pub code: ApiErrorCode,
    pub message: String,
}

impl ApiError {
    pub fn new(code: ApiErrorCode, message: impl Into<String>) -> Self {
        ApiError {
            code,
            message: message.into(),
        }
    }

    pub fn unknown_room(room: &RoomRef) -> Self {
        ApiError::new(ApiErrorCode::UnknownRoom, format!("no such room '{room}'"))
    }

    pub fn unknown_member(room: &RoomRef, id: u32) -> Self {
        ApiError::new(
            ApiErrorCode::UnknownMember,
            format!("no member {id} in room '{room}'"),
        )
    }

    pub fn refused(message: impl Into<String>) -> Self {
        ApiError::new(ApiErrorCode::Refused, message)
    }

    pub fn internal(message: impl Into<String>) -> Self {
        ApiError::new(ApiErrorCode::Internal, message)
    }
}

impl fmt::Display for ApiError {
    /// FreeSWITCH API replies start with `-ERR`, so this is printable as is.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "-ERR {} ({}): {}",
            self.code.name(),
            self.code.code(),
            // A reply is one line: an operator's newline must not split it.
            super::escape_controls(&self.message)
        )
    }
}

impl std::error::Error for ApiError {}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct RoomRef {
    pub account: Option<String>,
    pub name: String,
}

impl fmt::Display for RoomRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.account {
            Some(a) => write!(f, "{a}/{}", self.name),
            None => f.write_str(&self.name),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MemberTarget {
    Id(u32),
    All,
    Last,
    NonModerator,
}

/// A level argument: relative step or absolute value (dB / dBov).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Level {
    Up,
    Down,
    Set(f32),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecordAction {
    Start,
    Stop,
    Pause,
    Resume,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RoomParam {
    MaxMembers,
    Pin,
    HostPin,
    Locked,
    Moh,
}

impl RoomParam {
    pub fn name(self) -> &'static str {
        match self {
            RoomParam::MaxMembers => "max_members",
            RoomParam::Pin => "pin",
            RoomParam::HostPin => "host_pin",
            RoomParam::Locked => "locked",
            RoomParam::Moh => "moh",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RoomSetting {
    MaxMembers(u32),
    /// `None` clears the PIN.
    Pin(Option<String>),
    HostPin(Option<String>),
    Locked(bool),
    /// Music-on-hold file; `None` turns it off.
    Moh(Option<String>),
}

impl RoomSetting {
    pub fn param(&self) -> RoomParam {
        match self {
            RoomSetting::MaxMembers(_) => RoomParam::MaxMembers,
            RoomSetting::Pin(_) => RoomParam::Pin,
            RoomSetting::HostPin(_) => RoomParam::HostPin,
            RoomSetting::Locked(_) => RoomParam::Locked,
            RoomSetting::Moh(_) => RoomParam::Moh,
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum ApiCommand {
    List {
        room: Option<RoomRef>,
    },
    Count {
        room: Option<RoomRef>,
    },
    Kick {
        room: RoomRef,
        target: MemberTarget,
    },
    Hup {
        room: RoomRef,
        target: MemberTarget,
    },
    Mute {
        room: RoomRef,
        target: MemberTarget,
    },
    Unmute {
        room: RoomRef,
        target: MemberTarget,
    },
    Tmute {
        room: RoomRef,
        target: MemberTarget,
    },
    Deaf {
        room: RoomRef,
        target: MemberTarget,
    },
    Undeaf {
        room: RoomRef,
        target: MemberTarget,
    },
    Hold {
        room: RoomRef,
        target: MemberTarget,
        file: Option<String>,
    },
    Unhold {
        room: RoomRef,
        target: MemberTarget,
    },
    /// The coach whispers to these members (one or more, comma-separated).
    Coach {
        room: RoomRef,
        coach: u32,
        members: Vec<u32>,
    },
    Uncoach {
        room: RoomRef,
        coach: u32,
    },
    Lock {
        room: RoomRef,
    },
    Unlock {
        room: RoomRef,
    },
    /// dB, -24..+24.
    VolumeIn {
        room: RoomRef,
        target: MemberTarget,
        level: Level,
    },
    VolumeOut {
        room: RoomRef,
        target: MemberTarget,
        level: Level,
    },
    /// dBov, -96..0.
    Energy {
        room: RoomRef,
        target: MemberTarget,
        level: Level,
    },
    Play {
        room: RoomRef,
        file: String,
        member: Option<u32>,
    },
    Stop {
        room: RoomRef,
        member: Option<u32>,
    },
    Record {
        room: RoomRef,
        action: RecordAction,
        path: Option<String>,
    },
    Dial {
        room: RoomRef,
        destination: String,
    },
    Cascade {
        room: RoomRef,
        uri: String,
    },
    Uncascade {
        room: RoomRef,
        /// `None`: every cascade of the room.
        uri: Option<String>,
    },
    End {
        room: RoomRef,
    },
    Pin {
        room: RoomRef,
        pin: Option<String>,
    },
    HostPin {
        room: RoomRef,
        pin: Option<String>,
    },
    Set {
        room: RoomRef,
        setting: RoomSetting,
    },
    Get {
        room: RoomRef,
        param: RoomParam,
    },
    Relate {
        room: RoomRef,
        from: Vec<u32>,
        to: Vec<u32>,
        relation: Relation,
    },
    Stats {
        room: RoomRef,
    },
    Reload {
        apply_live: bool,
    },
    Help,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ApiRequest {
    pub json: bool,
    pub cmd: ApiCommand,
}
