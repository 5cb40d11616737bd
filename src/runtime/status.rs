//! The one status enum of the C ABI.

/// Result of every huddle entry point.
///
/// Values are stable: a number, once given out, is never reused for another
/// meaning. Errors start at 1000 so they cannot be confused with a host's own
/// small integers or with `errno`. `huddle_strerror` names each one.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// The call did what it says.
    Ok = 0,
    /// A required pointer argument was NULL.
    NullArgument = 1000,
    /// A handle was never issued, or was already released (shut down, hung up).
    StaleHandle = 1001,
    /// A string argument was not valid UTF-8.
    InvalidUtf8 = 1002,
    /// A string or buffer argument was longer than huddle accepts.
    TooLong = 1003,
    /// An argument was out of range or malformed (the log line says which).
    InvalidArgument = 1004,
    /// The host was built for another ABI version.
    AbiMismatch = 1005,
    /// The configuration file is missing or invalid (the log line names file:line).
    Config = 1006,
    /// huddle hit an internal bug; it was caught and logged, the process goes on.
    Panic = 1007,
    /// The caller was refused (bad app data, wrong PIN, locked, full); the host's
    /// hangup callback received the cause.
    Refused = 1008,
    /// The call needs the other timer mode (e.g. advancing time with `timer = realtime`).
    WrongTimer = 1009,
    /// The frame was malformed (length, rate or codec); it was dropped and counted.
    BadFrame = 1010,
    /// The member has left the room; release the handle with `huddle_member_hangup`.
    MemberGone = 1011,
    /// A resource limit was reached (rooms, members, queue space).
    Limit = 1012,
    /// Called from inside `send_audio`, while huddle is delivering a tick's
    /// frames (on the manual timer, inside `huddle_module_advance`): the
    /// call could deadlock or reorder that delivery, so it was refused and
    /// did nothing. Call again after the callback returns.
    InsideCallback = 1013,
}

impl Status {
    /// Static, NUL-terminated description for `huddle_strerror`.
    pub(crate) fn message(self) -> &'static str {
        match self {
            Status::Ok => "ok\0",
            Status::NullArgument => "a required pointer argument was NULL\0",
            Status::StaleHandle => "the handle is unknown or was already released\0",
            Status::InvalidUtf8 => "a string argument is not valid UTF-8\0",
            Status::TooLong => "a string or buffer argument is too long\0",
            Status::InvalidArgument => "an argument is out of range or malformed\0",
            Status::AbiMismatch => "the host was built for another huddle ABI version\0",
            Status::Config => "the configuration is missing or invalid\0",
            Status::Panic => "internal error (caught; see the log)\0",
            Status::Refused => "the caller was refused; the hangup callback got the cause\0",
            Status::WrongTimer => "not available with this timer mode\0",
            Status::BadFrame => "the audio frame is malformed and was dropped\0",
            Status::MemberGone => "the member has left the room\0",
            Status::Limit => "a resource limit was reached\0",
            Status::InsideCallback => "called from inside send_audio; refused, nothing done\0",
        }
    }

    pub(crate) const ALL: [Status; 15] = [
        Status::Ok,
        Status::NullArgument,
        Status::StaleHandle,
        Status::InvalidUtf8,
        Status::TooLong,
        Status::InvalidArgument,
        Status::AbiMismatch,
        Status::Config,
        Status::Panic,
        Status::Refused,
        Status::WrongTimer,
        Status::BadFrame,
        Status::MemberGone,
        Status::Limit,
        Status::InsideCallback,
    ];

    pub(crate) fn from_u32(v: u32) -> Option<Status> {
        Status::ALL.iter().copied().find(|s| *s as u32 == v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_message_is_nul_terminated_and_distinct() {
        let mut seen = std::collections::HashSet::new();
        for s in Status::ALL {
            let m = s.message();
            assert!(m.ends_with('\0'), "{s:?}");
            assert_eq!(m.matches('\0').count(), 1, "{s:?}");
            assert!(seen.insert(m), "duplicate message for {s:?}");
            assert_eq!(Status::from_u32(s as u32), Some(s));
        }
        assert_eq!(Status::from_u32(999), None);
    }
}
