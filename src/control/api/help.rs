//! The command table behind `help` and the usage hint of every argument
//! error: one list, so the two cannot drift apart.

use std::sync::OnceLock;

/// (name, usage, description) — single source for `help` and for the
/// usage hint in argument errors.
pub(super) const COMMANDS: &[(&str, &str, &str)] = &[
    (
        "list",
        "list [room]",
        "list rooms, or the members of one room",
    ),
    (
        "count",
        "count [room]",
        "count rooms, or the members of one room",
    ),
    (
        "kick",
        "kick <room> <target>",
        "remove member(s), playing the kicked prompt",
    ),
    (
        "hup",
        "hup <room> <target>",
        "hang up member(s) without a prompt",
    ),
    ("mute", "mute <room> <target>", "mute member(s)"),
    ("unmute", "unmute <room> <target>", "unmute member(s)"),
    ("tmute", "tmute <room> <target>", "toggle mute of member(s)"),
    (
        "deaf",
        "deaf <room> <target>",
        "stop member(s) hearing the room",
    ),
    (
        "undeaf",
        "undeaf <room> <target>",
        "let member(s) hear the room again",
    ),
    (
        "hold",
        "hold <room> <target> [file]",
        "put member(s) on hold, optionally with a hold file",
    ),
    (
        "unhold",
        "unhold <room> <target>",
        "take member(s) off hold",
    ),
    (
        "coach",
        "coach <room> <coach-id> <member-id>[,<member-id>...]",
        "make a member coach others (heard only by them; ids comma-separated)",
    ),
    (
        "uncoach",
        "uncoach <room> <coach-id>",
        "stop a coach whispering: the room hears them again",
    ),
    ("lock", "lock <room>", "refuse new members"),
    ("unlock", "unlock <room>", "accept new members again"),
    (
        "volume_in",
        "volume_in <room> <target> <dB|up|down>",
        "set talk volume, -24..+24 dB",
    ),
    (
        "volume_out",
        "volume_out <room> <target> <dB|up|down>",
        "set listen volume, -24..+24 dB",
    ),
    (
        "energy",
        "energy <room> <target> <dBov|up|down>",
        "set talk detection threshold, -96..0 dBov",
    ),
    (
        "play",
        "play <room> <file> [member-id]",
        "play a file to the room or to one member",
    ),
    (
        "stop",
        "stop <room> [member-id]",
        "stop playback in the room or to one member",
    ),
    (
        "record",
        "record <room> start|stop|pause|resume [path]",
        "control the room recording",
    ),
    (
        "dial",
        "dial <room> <destination>",
        "call out and add the callee to the room",
    ),
    (
        "cascade",
        "cascade <room> <sip-uri>",
        "bridge the room to another node's room (a hidden member, re-dialled when lost); \
         one room may bridge to several",
    ),
    (
        "uncascade",
        "uncascade <room> [sip-uri]",
        "stop the room's cascade to that URI, or all of them",
    ),
    ("end", "end <room>", "end the room, disconnecting everyone"),
    (
        "pin",
        "pin <room> <digits|none>",
        "set or clear the room PIN",
    ),
    (
        "hostpin",
        "hostpin <room> <digits|none>",
        "set or clear the host PIN",
    ),
    (
        "set",
        "set <room> max_members|pin|host_pin|locked|moh <value>",
        "change a room parameter",
    ),
    (
        "get",
        "get <room> max_members|pin|host_pin|locked|moh",
        "show a room parameter",
    ),
    (
        "relate",
        "relate <room> <ids> <ids> nohear|nospeak|clear",
        "set who hears whom (ids comma-separated)",
    ),
    (
        "stats",
        "stats <room>",
        "show room mixing and member statistics",
    ),
    (
        "reload",
        "reload [apply-live]",
        "re-read the config; apply-live updates running rooms",
    ),
    ("help", "help", "show this list"),
];

/// Every command with a one-line description, for `help`.
pub fn help_text() -> &'static str {
    // Built once from COMMANDS so help and usage hints can't drift apart.
    static HELP: OnceLock<String> = OnceLock::new();
    HELP.get_or_init(|| {
        let mut out = String::from(
            "Usage: conference [json] <command> [args]\n\
             <room> = name or account/name; <target> = member-id|all|last|non_moderator;\n\
             quote arguments containing spaces with \"...\"\n",
        );
        let width = COMMANDS.iter().map(|c| c.1.len()).max().unwrap_or(0);
        for (_, usage, what) in COMMANDS {
            out.push_str(&format!("{usage:<width$}  {what}\n"));
        }
        out
    })
}
