//! Event names and fields in the shape `<Conference>` status callbacks use.

use std::sync::Arc;

use crate::room::io::Event;
use crate::room::member::MemberId;

/// Every event huddle emits, with its `StatusCallbackEvent` name and the
/// subscription word (`statusCallbackEvent`) that selects it. `None` means the
/// event is always delivered (security and refusals must not be filtered out).
pub const CATALOGUE: &[(&str, Option<&str>)] = &[
    ("conference-start", Some("start")),
    ("conference-end", Some("end")),
    ("participant-join", Some("join")),
    ("participant-leave", Some("leave")),
    ("participant-kick", Some("leave")),
    ("participant-mute", Some("mute")),
    ("participant-unmute", Some("mute")),
    ("participant-hold", Some("hold")),
    ("participant-unhold", Some("hold")),
    ("participant-deaf", Some("modify")),
    ("participant-undeaf", Some("modify")),
    ("participant-coach", Some("modify")),
    ("participant-modify", Some("modify")),
    ("participant-speech-start", Some("speaker")),
    ("participant-speech-stop", Some("speaker")),
    ("participant-speech-while-muted", Some("speaker")),
    ("conference-lock", Some("modify")),
    ("conference-unlock", Some("modify")),
    ("announcement", Some("announcement")),
    ("pin-failed", None),
    ("join-refused", None),
    ("recording-in-progress", None),
    ("recording-completed", None),
    ("recording-failed", None),
    ("recording-absent", None),
];

/// The subscription words `statusCallbackEvent` accepts.
pub const SUBSCRIPTION_WORDS: &[&str] = &[
    "start",
    "end",
    "join",
    "leave",
    "mute",
    "hold",
    "modify",
    "speaker",
    "announcement",
];

/// Whether `name` passes a room's subscription (`None` = subscribed to all).
pub fn subscribed(name: &str, subscription: Option<&[String]>) -> bool {
    let Some(words) = subscription else {
        return true;
    };
    match CATALOGUE.iter().find(|(n, _)| *n == name) {
        Some((_, Some(word))) => words.iter().any(|w| w == word),
        _ => true,
    }
}

/// The subscription word that selects `name` (`None`: always delivered or unknown).
fn word_of(name: &str) -> Option<&'static str> {
    CATALOGUE
        .iter()
        .find(|(n, _)| *n == name)
        .and_then(|(_, w)| *w)
}

/// FreeSWITCH `mod_conference` `suppress-events` words that name an event
/// huddle sends, and the events each drops (FreeSWITCH's one word covers
/// both halves of a pair, e.g. `mute-member` mutes and unmutes).
pub const FREESWITCH_WORDS: &[(&str, &[&str])] = &[
    ("add-member", &["participant-join"]),
    ("del-member", &["participant-leave"]),
    ("kick-member", &["participant-kick"]),
    ("start-talking", &["participant-speech-start"]),
    ("stop-talking", &["participant-speech-stop"]),
    ("mute-detect", &["participant-speech-while-muted"]),
    ("mute-member", &["participant-mute", "participant-unmute"]),
    ("deaf-member", &["participant-deaf", "participant-undeaf"]),
    ("hold-member", &["participant-hold", "participant-unhold"]),
    ("lock", &["conference-lock"]),
    ("unlock", &["conference-unlock"]),
    (
        "record",
        &[
            "recording-in-progress",
            "recording-completed",
            "recording-failed",
            "recording-absent",
        ],
    ),
];

/// FreeSWITCH `suppress-events` words for events huddle never sends: a
/// config that names one is refused with that explanation rather than
/// accepted for a suppression that does nothing.
const FREESWITCH_WITHOUT_EVENT: &[&str] = &[
    "energy-level",
    "volume-level",
    "gain-level",
    "dtmf",
    "dtmf-member",
    "energy-level-member",
    "volume-in-member",
    "volume-out-member",
    "play-file",
    "play-file-done",
    "play-file-member",
    "speak-text",
    "speak-text-member",
    "transfer",
    "bgdial-result",
    "floor-change",
    "hup-member",
    "blind-member",
    "set-position-member",
];

/// Checks a `suppress_events` token: a subscription word (drops every event
/// that word selects), a FreeSWITCH word (drops the events in
/// [`FREESWITCH_WORDS`]) or an event name from the catalogue (drops exactly
/// that event, also one that is otherwise always delivered).
pub fn check_suppress_token(token: &str) -> Result<(), String> {
    if SUBSCRIPTION_WORDS.contains(&token)
        || FREESWITCH_WORDS.iter().any(|(w, _)| *w == token)
        || CATALOGUE.iter().any(|(n, _)| *n == token)
    {
        return Ok(());
    }
    if FREESWITCH_WITHOUT_EVENT.contains(&token) {
        return Err(format!(
            "'{token}' is a FreeSWITCH event huddle never sends: there is nothing to suppress"
        ));
    }
    let fs: Vec<&str> = FREESWITCH_WORDS.iter().map(|(w, _)| *w).collect();
    Err(format!(
        "unknown event '{token}' (expected a word: {}; a FreeSWITCH word: {}; or an event name such as participant-join)",
        SUBSCRIPTION_WORDS.join(", "),
        fs.join(", ")
    ))
}

/// Whether the `suppress_events` tokens drop the event `name`.
pub fn suppressed(name: &str, tokens: &[String]) -> bool {
    let word = word_of(name);
    tokens.iter().any(|t| {
        t == name
            || word.is_some_and(|w| w == t)
            || FREESWITCH_WORDS
                .iter()
                .any(|(w, names)| w == t && names.contains(&name))
    })
}

/// The catalogue's own copy of `name`, so a typed event can carry it
/// without allocating; `None` for a name huddle does not emit.
pub fn catalogued(name: &str) -> Option<&'static str> {
    CATALOGUE.iter().find(|(n, _)| *n == name).map(|(n, _)| *n)
}

/// A room's strings that every one of its events repeats. Built once and
/// shared, so an event made inside the tick copies a pointer, not text.
#[derive(Debug, PartialEq)]
pub struct RoomTag {
    pub account: String,
    pub sid: String,
    pub name: String,
    /// `statusCallback` and its method, from the first participant.
    pub status_callback: Option<(String, String)>,
}

/// A member's strings that its events repeat, shared like [`RoomTag`].
#[derive(Debug, PartialEq)]
pub struct MemberTag {
    pub call_id: String,
    pub from: String,
    pub to: String,
    pub label: String,
}

/// What an event says about the member it concerns, as values.
#[derive(Debug, Clone, PartialEq)]
pub struct MemberFacts {
    pub tag: Arc<MemberTag>,
    pub id: MemberId,
    pub muted: bool,
    pub hold: bool,
    pub start_on_enter: bool,
    pub end_on_exit: bool,
    /// The members a coach whispers to, in the order given; `None` when
    /// not coaching.
    pub coached: Option<Vec<Arc<MemberTag>>>,
}

/// An event as the room core makes it: typed values, no formatting. The
/// runtime carries it out of the room lock and [`RoomEvent::format`] turns
/// it into the host's [`Event`] strings on the delivery thread.
#[derive(Debug, Clone, PartialEq)]
pub struct RoomEvent {
    pub name: &'static str,
    pub seq: u64,
    /// Wall-clock time of the event, Unix ms.
    pub unix_ms: u64,
    pub participant_count: usize,
    pub room: Arc<RoomTag>,
    pub member: Option<MemberFacts>,
    /// Fields particular to the event (a refusal's reason, a recording's
    /// file); empty for most, and then not allocated.
    pub extra: Vec<(&'static str, String)>,
}

impl RoomEvent {
    /// The fields in the order `<Conference>` status callbacks list them:
    /// the conference's, then the participant's, then the event's own.
    pub fn format(&self) -> Event {
        let r = &self.room;
        let mut fields = vec![
            ("AccountSid", r.account.clone()),
            ("ConferenceSid", r.sid.clone()),
            ("FriendlyName", r.name.clone()),
            ("StatusCallbackEvent", self.name.to_string()),
            ("SequenceNumber", self.seq.to_string()),
            ("Timestamp", rfc2822(self.unix_ms)),
            ("ParticipantCount", self.participant_count.to_string()),
        ];
        if let Some((url, method)) = &r.status_callback {
            fields.push(("StatusCallback", url.clone()));
            fields.push(("StatusCallbackMethod", method.clone()));
        }
        if let Some(m) = &self.member {
            fields.extend([
                ("CallSid", m.tag.call_id.clone()),
                // The seeds' backward-compatible copy of CallSid; huddle has one id.
                ("CallSidLegacy", m.tag.call_id.clone()),
                ("From", m.tag.from.clone()),
                ("To", m.tag.to.clone()),
                ("ParticipantLabel", m.tag.label.clone()),
                ("Muted", m.muted.to_string()),
                ("Hold", m.hold.to_string()),
                ("Coaching", m.coached.is_some().to_string()),
                ("StartConferenceOnEnter", m.start_on_enter.to_string()),
                ("EndConferenceOnExit", m.end_on_exit.to_string()),
                ("MemberId", m.id.to_string()),
            ]);
            if let Some(coached) = &m.coached {
                // Comma-separated, in the order the coach was given them.
                let calls: Vec<&str> = coached.iter().map(|t| t.call_id.as_str()).collect();
                fields.push(("CallSidToCoach", calls.join(",")));
            }
        }
        fields.extend(self.extra.iter().cloned());
        Event {
            name: self.name.to_string(),
            fields,
        }
    }
}

/// RFC 2822 date in UTC, e.g. "Sun, 22 Nov 2026 02:26:01 +0000", from Unix ms.
/// Hand-written because it is one function and the crate needs no clock.
pub fn rfc2822(unix_ms: u64) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let secs = unix_ms / 1000;
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let (y, m, d) = civil_from_days(days);
    format!(
        "{}, {:02} {} {} {:02}:{:02}:{:02} +0000",
        DAYS[(days.rem_euclid(7)) as usize],
        d,
        MONTHS[(m - 1) as usize],
        y,
        rem / 3600,
        (rem / 60) % 60,
        rem % 60
    )
}

/// Days since 1970-01-01 to (year, month, day) in the proleptic Gregorian
/// calendar (Howard Hinnant's algorithm).
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc2822_known_dates() {
        assert_eq!(rfc2822(0), "Thu, 01 Jan 1970 00:00:00 +0000");
        // 2000-02-29 12:34:56 UTC = 951827696 s (leap day, a Tuesday).
        assert_eq!(rfc2822(951_827_696_000), "Tue, 29 Feb 2000 12:34:56 +0000");
        // 2026-11-22 02:26:01 UTC = 1795314361 s, a Sunday.
        assert_eq!(
            rfc2822(1_795_314_361_000),
            "Sun, 22 Nov 2026 02:26:01 +0000"
        );
    }

    #[test]
    fn subscription_filters_by_word() {
        let subs = vec!["join".to_string(), "end".to_string()];
        assert!(subscribed("participant-join", Some(&subs)));
        assert!(subscribed("conference-end", Some(&subs)));
        assert!(!subscribed("participant-mute", Some(&subs)));
        assert!(subscribed("pin-failed", Some(&subs)));
        assert!(subscribed("participant-mute", None));
    }

    #[test]
    fn suppression_speaks_words_and_event_names() {
        let t = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(suppressed("participant-join", &t(&["join"])));
        assert!(suppressed(
            "participant-speech-while-muted",
            &t(&["speaker"])
        ));
        assert!(suppressed("participant-kick", &t(&["leave"])));
        assert!(!suppressed("participant-leave", &t(&["join"])));
        assert!(suppressed("pin-failed", &t(&["pin-failed"])));
        assert!(!suppressed("participant-leave", &t(&["participant-kick"])));
        assert!(check_suppress_token("speaker").is_ok());
        assert!(check_suppress_token("recording-completed").is_ok());
        assert!(check_suppress_token("explode").is_err() && check_suppress_token("Join").is_err());
        assert!(suppressed("participant-unmute", &t(&["mute-member"])));
        assert!(suppressed("recording-failed", &t(&["record"])));
        assert!(!suppressed("participant-mute", &t(&["deaf-member"])));
        let e = check_suppress_token("dtmf").unwrap_err();
        assert!(e.contains("never sends"), "{e}");
    }

    #[test]
    fn every_freeswitch_word_names_events_of_the_catalogue() {
        for (word, names) in FREESWITCH_WORDS {
            assert!(
                !SUBSCRIPTION_WORDS.contains(word),
                "{word} means two things"
            );
            for n in *names {
                assert!(CATALOGUE.iter().any(|(c, _)| c == n), "{word}: {n}");
            }
        }
    }
}
