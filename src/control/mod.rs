//! Control layer: parsers for everything textual a user hands the module
//! (dialplan application data, the operator API, the config file and DTMF
//! digit maps). Pure code so the room core can call it from any thread.

pub mod api;
pub mod app_args;
pub mod config;
pub mod dtmf;

pub use api::{
    help_text, parse_api, ApiCommand, ApiError, ApiErrorCode, ApiRequest, Level, MemberTarget,
    RecordAction, RoomParam, RoomRef, RoomSetting,
};
pub use app_args::{
    parse_app_args, AppArgs, AppArgsError, Beep, Codec, HttpMethod, JitterBufferSize, JoinOptions,
    RecordMode, RecordingEvent, StatusEvent, Trim,
};
pub use config::{
    load_config, parse_config, Config, ConfigError, ModuleConfig, Profile, RoomConfig, Sounds,
    Timer, TrustAppFlags,
};
pub use dtmf::{
    default_caller_map, default_moderator_map, DigitMap, DtmfAction, DtmfError, DtmfMatcher,
    DtmfOutcome,
};

pub const MAX_ROOM_NAME_LEN: usize = 64;
pub const MAX_PIN_LEN: usize = 20;

/// Room names travel through dialplans, API lines and file names
/// (recording templates), so they are kept to a conservative alphabet;
/// `/` is reserved for `account/name` addressing.
pub fn validate_room_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("room name is empty".into());
    }
    if name.chars().count() > MAX_ROOM_NAME_LEN {
        return Err(format!(
            "room name longer than {MAX_ROOM_NAME_LEN} characters"
        ));
    }
    if name.trim() != name {
        return Err("room name has leading or trailing spaces".into());
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, ' ' | '-' | '_' | '.')))
    {
        return Err(format!(
            "room name contains '{}' (allowed: letters, digits, space, - _ .)",
            c.escape_default()
        ));
    }
    Ok(())
}

/// Accounts are identifiers (tenant ids, SIDs), so no spaces.
pub fn validate_account(account: &str) -> Result<(), String> {
    if account.is_empty() {
        return Err("account is empty".into());
    }
    if account.len() > MAX_ROOM_NAME_LEN {
        return Err(format!(
            "account longer than {MAX_ROOM_NAME_LEN} characters"
        ));
    }
    if let Some(c) = account
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
    {
        return Err(format!(
            "account contains '{}' (allowed: letters, digits, - _ .)",
            c.escape_default()
        ));
    }
    Ok(())
}

pub fn validate_pin(pin: &str) -> Result<(), String> {
    if pin.is_empty() || pin.len() > MAX_PIN_LEN {
        return Err(format!("PIN must be 1-{MAX_PIN_LEN} digits"));
    }
    if !pin.bytes().all(|b| b.is_ascii_digit()) {
        return Err("PIN must contain only digits 0-9".into());
    }
    Ok(())
}

/// What a PIN is replaced with in logs and error messages.
pub const PIN_MASK: &str = "****";

/// Conference app data with any PIN in it masked, for logs and error
/// messages: `3000+1234+flags{x}` -> `3000+****+flags{x}`,
/// `{pin=1234,muted=true}R` -> `{pin=****,muted=true}R`.
pub fn redact_app_data(s: &str) -> String {
    if s.trim_start().starts_with('{') {
        // Only the leading {...} attribute block holds keys.
        let end = s.find('}').map_or(s.len(), |i| i + 1);
        let (attrs, tail) = s.split_at(end);
        let items: Vec<String> = attrs
            .split(',')
            .map(|item| match item.split_once('=') {
                Some((k, v)) if k.trim_start_matches('{').trim().eq_ignore_ascii_case("pin") => {
                    let close = if v.ends_with('}') { "}" } else { "" };
                    format!("{k}={PIN_MASK}{close}")
                }
                _ => item.to_string(),
            })
            .collect();
        items.join(",") + tail
    } else {
        let mut parts = s.split('+');
        let mut out = parts.next().unwrap_or_default().to_string();
        for part in parts {
            out.push('+');
            if part.starts_with("flags{") {
                out.push_str(part);
            } else {
                out.push_str(PIN_MASK);
            }
        }
        out
    }
}

/// The PIN values in an operator command line: `pin room 1234`,
/// `hostpin room 1234`, `set room pin|host_pin 1234` (with or without
/// `json`).
pub fn api_line_pins(line: &str) -> Vec<&str> {
    let words: Vec<&str> = line.split_whitespace().collect();
    let is_pin = |w: &str| {
        let w = w.trim_matches('"').to_ascii_lowercase();
        matches!(w.as_str(), "pin" | "hostpin" | "host_pin")
    };
    let Some(k) = words.iter().position(|w| is_pin(w)) else {
        return Vec::new();
    };
    // As the command (`[json] pin <room> <digits>`) the value follows the
    // room; as a parameter (`set <room> pin <digits>`) it follows the key.
    let command_position = words[..k].iter().all(|w| *w == "json");
    let keep = if command_position { k + 2 } else { k + 1 };
    words.into_iter().skip(keep).collect()
}

/// `text` with every PIN of `line` (see `api_line_pins`) masked: for
/// logging a command and the error it got.
pub fn redact_api_text(line: &str, text: &str) -> String {
    api_line_pins(line)
        .into_iter()
        .fold(text.to_string(), |t, pin| t.replace(pin, PIN_MASK))
}

/// Whether `c` may split or disguise a line of text output: control
/// characters, and the Unicode line/paragraph separators that some
/// terminals and log viewers also break on.
pub fn is_line_breaking(c: char) -> bool {
    c.is_control() || matches!(c, '\u{2028}' | '\u{2029}' | '\u{85}')
}

/// `s` with every control character written as a visible escape (`\n`,
/// `\u{1b}`), so a value from a caller or operator can neither start a new
/// line in a log or a reply nor send a terminal escape sequence. A `\` is
/// doubled so an escape in the output always came from here.
pub fn escape_controls(s: &str) -> std::borrow::Cow<'_, str> {
    if !s.chars().any(|c| is_line_breaking(c) || c == '\\') {
        return std::borrow::Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            c if is_line_breaking(c) => out.extend(c.escape_default()),
            c => out.push(c),
        }
    }
    std::borrow::Cow::Owned(out)
}

/// Cuts user input for inclusion in an error message, so a 4 KiB line
/// doesn't get echoed back whole.
pub(crate) fn excerpt(s: &str, max_chars: usize) -> String {
    if s.chars().count() <= max_chars {
        s.to_string()
    } else {
        let mut out: String = s.chars().take(max_chars).collect();
        out.push('…');
        out
    }
}

#[cfg(test)]
pub(crate) mod testutil {
    /// xorshift64*: deterministic so a failing fuzz case reproduces, and
    /// dependency-free.
    pub struct Rng(u64);

    impl Rng {
        pub fn new(seed: u64) -> Self {
            Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
        }
        pub fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
        }
        pub fn below(&mut self, n: usize) -> usize {
            if n == 0 {
                0
            } else {
                (self.next() % n as u64) as usize
            }
        }
        pub fn string(&mut self, alphabet: &[char], max_len: usize) -> String {
            let len = self.below(max_len + 1);
            (0..len)
                .map(|_| alphabet[self.below(alphabet.len())])
                .collect()
        }
        /// Deletes, duplicates, or replaces a few characters of a valid
        /// input: finds edge cases that fully random strings rarely reach.
        pub fn mutate(&mut self, s: &str, alphabet: &[char]) -> String {
            let mut chars: Vec<char> = s.chars().collect();
            for _ in 0..=self.below(4) {
                let i = self.below(chars.len() + 1);
                match self.below(3) {
                    0 if i < chars.len() => {
                        chars.remove(i);
                    }
                    1 => chars.insert(i, alphabet[self.below(alphabet.len())]),
                    _ if i < chars.len() => chars[i] = alphabet[self.below(alphabet.len())],
                    _ => {}
                }
            }
            chars.into_iter().collect()
        }
    }

    #[test]
    fn validators() {
        use super::*;
        assert!(validate_room_name("Room 1234").is_ok());
        assert!(validate_room_name("a/b").unwrap_err().contains("'/'"));
        assert!(validate_room_name(&"x".repeat(65)).is_err());
        assert!(validate_room_name(" x").is_err());
        assert!(validate_pin("12a").is_err());
        assert!(validate_pin(&"1".repeat(21)).is_err());
        assert!(validate_pin("").is_err());
        assert!(validate_account("AC1 2").is_err());
        assert_eq!(excerpt("abcdef", 3), "abc…");
    }
}

#[cfg(test)]
mod redact_tests {
    use super::*;

    #[test]
    fn pins_are_masked_in_app_data() {
        for (input, want) in [
            ("3000", "3000"),
            ("3000+1234", "3000+****"),
            (
                "3000@wide+1234+flags{moderator}",
                "3000@wide+****+flags{moderator}",
            ),
            ("3000+12ab", "3000+****"),
            ("{pin=1234,muted=true}R", "{pin=****,muted=true}R"),
            ("{muted=true,pin=1234}R", "{muted=true,pin=****}R"),
            ("{ PIN = 1234 }Room 7", "{ PIN =****}Room 7"),
            ("{label=a+1234}R", "{label=a+1234}R"),
        ] {
            assert_eq!(redact_app_data(input), want, "{input}");
        }
    }

    #[test]
    fn pins_are_masked_in_api_lines() {
        for (input, want) in [
            ("list", "list"),
            ("pin room 1234", "pin room ****"),
            ("json hostpin acme/room 1234", "json hostpin acme/room ****"),
            ("set room pin 1234", "set room pin ****"),
            ("set room host_pin 1234", "set room host_pin ****"),
            ("get room pin", "get room pin"),
            ("pin room", "pin room"),
        ] {
            assert_eq!(redact_api_text(input, input), want, "{input}");
        }
    }
}
