//! The operator API's commands, as the tests know them: one list, checked
//! against `help` both in process (tests/api.rs) and through the C ABI
//! (tests/c_abi_api.rs). A command added to huddle is added here, and both
//! tests then ask that `help` describes it.
#![allow(dead_code)]

/// Every `conference` command.
pub const COMMANDS: [&str; 30] = [
    "list",
    "count",
    "kick",
    "hup",
    "mute",
    "unmute",
    "tmute",
    "deaf",
    "undeaf",
    "hold",
    "unhold",
    "coach",
    "lock",
    "unlock",
    "volume_in",
    "volume_out",
    "energy",
    "play",
    "stop",
    "record",
    "dial",
    "end",
    "pin",
    "hostpin",
    "set",
    "get",
    "relate",
    "stats",
    "reload",
    "help",
];

/// Asserts that the reply to `help` has a line for every command: the
/// command alone, or followed by a space and its arguments.
pub fn assert_help_lists_every_command(help: &str) {
    for c in COMMANDS {
        assert!(
            help.lines()
                .any(|l| l.starts_with(&format!("{c} ")) || l == c),
            "help lacks {c}: {help}"
        );
    }
}
