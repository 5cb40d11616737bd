//! Event names and fields in the shape `<Conference>` status callbacks use.

use crate::room::io::Event;

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

/// Whether `token` belongs to the `suppress_events` vocabulary: a
/// subscription word (drops every event that word selects) or an event name
/// from the catalogue (drops exactly that event, also one that is otherwise
/// always delivered).
pub fn is_suppress_token(token: &str) -> bool {
    SUBSCRIPTION_WORDS.contains(&token) || CATALOGUE.iter().any(|(n, _)| *n == token)
}

/// Whether the `suppress_events` tokens drop the event `name`.
pub fn suppressed(name: &str, tokens: &[String]) -> bool {
    let word = word_of(name);
    tokens
        .iter()
        .any(|t| t == name || word.is_some_and(|w| w == t))
}

pub fn event(name: &str, fields: Vec<(&'static str, String)>) -> Event {
    Event {
        name: name.to_string(),
        fields,
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
        assert!(is_suppress_token("speaker") && is_suppress_token("recording-completed"));
        assert!(!is_suppress_token("explode") && !is_suppress_token("Join"));
    }
}
