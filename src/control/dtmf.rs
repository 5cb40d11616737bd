//! DTMF digit maps: which key sequence triggers which caller or moderator
//! control, and a per-member matcher that turns a stream of digits (with
//! timestamps supplied by the caller, so it stays testable and clock-free)
//! into actions.
//!
//! Default layout (FreeSWITCH keypad layout plus star codes):
//!
//! | sequence        | action                     | who        |
//! |-----------------|----------------------------|------------|
//! | `0`, `*1`       | toggle-mute                | caller     |
//! | `*2`            | toggle-deaf                | caller     |
//! | `1` / `2` / `3` | volume-in down/reset/up    | caller     |
//! | `4` / `5` / `6` | volume-out down/reset/up   | caller     |
//! | `*3`/`*4`/`*5`  | volume-out down/reset/up   | caller     |
//! | `*6` / `*7`     | volume-in down/up          | caller     |
//! | `7` / `8` / `9` | energy down/reset/up       | caller     |
//! | `*8<number>#`   | invite (dial out)          | caller     |
//! | `#`             | leave                      | caller     |
//! | `*90`           | unmute-all-non-moderators  | moderator  |
//! | `*91`           | mute-all-non-moderators    | moderator  |
//! | `*92` / `*93`   | lock / unlock              | moderator  |
//! | `*94` / `*95`   | announce-off / announce-on | moderator  |
//! | `*96`           | record-toggle (start/stop) | moderator  |
//! | `*97`           | record-pause (pause/resume)| moderator  |

use std::fmt;
use std::str::FromStr;

/// Longest bindable sequence; longer ones are almost certainly typos and
/// would make the matcher hold digits for too long.
pub const MAX_SEQUENCE_LEN: usize = 8;
/// Longest number collected after an invite prefix (E.164 is 15 digits;
/// leave room for access codes and extensions).
pub const MAX_INVITE_DIGITS: usize = 32;
pub const DEFAULT_INTER_DIGIT_TIMEOUT_MS: u64 = 2000;
/// Bound on the number of bindings so a hostile config can't make every
/// digit a linear scan over thousands of entries.
pub const MAX_BINDINGS: usize = 256;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DtmfAction {
    ToggleMute,
    Mute,
    Unmute,
    ToggleDeaf,
    /// A prefix: digits after it are collected until `#`.
    Invite,
    VolumeInUp,
    VolumeInDown,
    VolumeInReset,
    VolumeOutUp,
    VolumeOutDown,
    VolumeOutReset,
    EnergyUp,
    EnergyDown,
    EnergyReset,
    Leave,
    UnmuteAllNonModerators,
    MuteAllNonModerators,
    Lock,
    Unlock,
    AnnounceOff,
    AnnounceOn,
    /// Start recording if stopped, stop it if running.
    RecordToggle,
    /// Pause a running recording, resume a paused one.
    RecordPause,
}

impl DtmfAction {
    pub const ALL: [DtmfAction; 23] = [
        DtmfAction::ToggleMute,
        DtmfAction::Mute,
        DtmfAction::Unmute,
        DtmfAction::ToggleDeaf,
        DtmfAction::Invite,
        DtmfAction::VolumeInUp,
        DtmfAction::VolumeInDown,
        DtmfAction::VolumeInReset,
        DtmfAction::VolumeOutUp,
        DtmfAction::VolumeOutDown,
        DtmfAction::VolumeOutReset,
        DtmfAction::EnergyUp,
        DtmfAction::EnergyDown,
        DtmfAction::EnergyReset,
        DtmfAction::Leave,
        DtmfAction::UnmuteAllNonModerators,
        DtmfAction::MuteAllNonModerators,
        DtmfAction::Lock,
        DtmfAction::Unlock,
        DtmfAction::AnnounceOff,
        DtmfAction::AnnounceOn,
        DtmfAction::RecordToggle,
        DtmfAction::RecordPause,
    ];

    /// The name used in config files (`"toggle-mute"`).
    pub fn name(self) -> &'static str {
        match self {
            DtmfAction::ToggleMute => "toggle-mute",
            DtmfAction::Mute => "mute",
            DtmfAction::Unmute => "unmute",
            DtmfAction::ToggleDeaf => "toggle-deaf",
            DtmfAction::Invite => "invite",
            DtmfAction::VolumeInUp => "volume-in-up",
            DtmfAction::VolumeInDown => "volume-in-down",
            DtmfAction::VolumeInReset => "volume-in-reset",
            DtmfAction::VolumeOutUp => "volume-out-up",
            DtmfAction::VolumeOutDown => "volume-out-down",
            DtmfAction::VolumeOutReset => "volume-out-reset",
            DtmfAction::EnergyUp => "energy-up",
            DtmfAction::EnergyDown => "energy-down",
            DtmfAction::EnergyReset => "energy-reset",
            DtmfAction::Leave => "leave",
            DtmfAction::UnmuteAllNonModerators => "unmute-all-non-moderators",
            DtmfAction::MuteAllNonModerators => "mute-all-non-moderators",
            DtmfAction::Lock => "lock",
            DtmfAction::Unlock => "unlock",
            DtmfAction::AnnounceOff => "announce-off",
            DtmfAction::AnnounceOn => "announce-on",
            DtmfAction::RecordToggle => "record-toggle",
            DtmfAction::RecordPause => "record-pause",
        }
    }

    /// Moderator actions are still *recognised* for everyone, so the room
    /// core can play a refusal prompt instead of silently ignoring them.
    pub fn is_moderator_action(self) -> bool {
        matches!(
            self,
            DtmfAction::UnmuteAllNonModerators
                | DtmfAction::MuteAllNonModerators
                | DtmfAction::Lock
                | DtmfAction::Unlock
                | DtmfAction::AnnounceOff
                | DtmfAction::AnnounceOn
                | DtmfAction::RecordToggle
                | DtmfAction::RecordPause
        )
    }

    /// Whether the binding is a prefix that collects a number up to `#`.
    pub fn collects_digits(self) -> bool {
        self == DtmfAction::Invite
    }
}

impl fmt::Display for DtmfAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for DtmfAction {
    type Err = DtmfError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        // FreeSWITCH spells the same controls with underscores and a few
        // different words; accepting them eases porting existing maps.
        let norm = s.trim().to_ascii_lowercase().replace('_', "-");
        let alias = match norm.as_str() {
            "hangup" => Some(DtmfAction::Leave),
            "deaf-mute" => Some(DtmfAction::ToggleDeaf),
            _ => None,
        };
        alias
            .or_else(|| DtmfAction::ALL.iter().copied().find(|a| a.name() == norm))
            .ok_or_else(|| DtmfError {
                sequence: s.to_string(),
                problem: format!(
                    "unknown action (expected one of: {})",
                    DtmfAction::ALL.map(|a| a.name()).join(", ")
                ),
            })
    }
}

/// A digit-map problem; `sequence` is the offending key sequence or action
/// name so a config error can point at it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DtmfError {
    pub sequence: String,
    pub problem: String,
}

impl fmt::Display for DtmfError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "digit map: '{}': {}", self.sequence, self.problem)
    }
}

impl std::error::Error for DtmfError {}

/// Uppercases a-d so maps and key events spelled either way agree.
fn normalize_digit(c: char) -> Option<char> {
    let c = c.to_ascii_uppercase();
    matches!(c, '0'..='9' | '*' | '#' | 'A'..='D').then_some(c)
}

/// A validated set of (sequence, action) bindings.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct DigitMap {
    bindings: Vec<(String, DtmfAction)>,
}

impl DigitMap {
    pub fn empty() -> Self {
        DigitMap::default()
    }

    /// Builds a map, rejecting bad characters, over-long or duplicate
    /// sequences, and invite prefixes that would shadow other bindings
    /// (collection starts as soon as the prefix is complete).
    pub fn new<S: AsRef<str>>(
        bindings: impl IntoIterator<Item = (S, DtmfAction)>,
    ) -> Result<Self, DtmfError> {
        let mut out: Vec<(String, DtmfAction)> = Vec::new();
        for (seq, action) in bindings {
            let raw = seq.as_ref();
            let err = |problem: &str| DtmfError {
                sequence: raw.chars().take(32).collect(),
                problem: problem.to_string(),
            };
            if raw.is_empty() {
                return Err(err("empty sequence"));
            }
            if raw.chars().count() > MAX_SEQUENCE_LEN {
                return Err(err(&format!(
                    "sequence longer than {MAX_SEQUENCE_LEN} digits"
                )));
            }
            let mut norm = String::with_capacity(raw.len());
            for c in raw.chars() {
                match normalize_digit(c) {
                    Some(d) => norm.push(d),
                    None => {
                        return Err(err(&format!("invalid digit '{c}' (allowed: 0-9 * # A-D)")))
                    }
                }
            }
            if out.iter().any(|(s, _)| *s == norm) {
                return Err(err("sequence bound twice"));
            }
            if out.len() >= MAX_BINDINGS {
                return Err(err(&format!("more than {MAX_BINDINGS} bindings")));
            }
            out.push((norm, action));
        }
        for (seq, action) in &out {
            if !action.collects_digits() {
                continue;
            }
            if let Some((other, _)) = out
                .iter()
                .find(|(o, _)| o != seq && o.starts_with(seq.as_str()))
            {
                return Err(DtmfError {
                    sequence: other.clone(),
                    problem: format!("unreachable: '{seq}' starts collecting an invite number"),
                });
            }
        }
        out.sort();
        Ok(DigitMap { bindings: out })
    }

    /// Parses config-style bindings where actions are names such as
    /// `"toggle-mute"`.
    pub fn from_names<S: AsRef<str>, A: AsRef<str>>(
        bindings: impl IntoIterator<Item = (S, A)>,
    ) -> Result<Self, DtmfError> {
        let mut typed = Vec::new();
        for (seq, name) in bindings {
            let action = name.as_ref().parse::<DtmfAction>().map_err(|e| DtmfError {
                sequence: seq.as_ref().to_string(),
                problem: format!("action '{}': {}", name.as_ref(), e.problem),
            })?;
            typed.push((seq.as_ref().to_string(), action));
        }
        DigitMap::new(typed)
    }

    /// Combines a caller map and a moderator map into the single map a
    /// member's matcher runs on; the same sequence bound to two different
    /// actions is an error, the same binding twice is not.
    pub fn merged(&self, other: &DigitMap) -> Result<DigitMap, DtmfError> {
        let mut all = self.bindings.clone();
        for (seq, action) in &other.bindings {
            match all.iter().find(|(s, _)| s == seq) {
                Some((_, a)) if a == action => {}
                Some((_, a)) => {
                    return Err(DtmfError {
                        sequence: seq.clone(),
                        problem: format!("bound to both '{a}' and '{action}'"),
                    })
                }
                None => all.push((seq.clone(), *action)),
            }
        }
        DigitMap::new(all)
    }

    pub fn bindings(&self) -> &[(String, DtmfAction)] {
        &self.bindings
    }

    pub fn is_empty(&self) -> bool {
        self.bindings.is_empty()
    }

    pub fn lookup(&self, seq: &str) -> Option<DtmfAction> {
        self.bindings
            .iter()
            .find(|(s, _)| s == seq)
            .map(|(_, a)| *a)
    }

    fn has_longer(&self, prefix: &str) -> bool {
        self.bindings
            .iter()
            .any(|(s, _)| s.len() > prefix.len() && s.starts_with(prefix))
    }
}

/// Caller controls (see the module docs for the layout).
pub fn default_caller_map() -> DigitMap {
    use DtmfAction::*;
    DigitMap::new([
        ("0", ToggleMute),
        ("*1", ToggleMute),
        ("*2", ToggleDeaf),
        ("1", VolumeInDown),
        ("2", VolumeInReset),
        ("3", VolumeInUp),
        ("4", VolumeOutDown),
        ("5", VolumeOutReset),
        ("6", VolumeOutUp),
        ("*3", VolumeOutDown),
        ("*4", VolumeOutReset),
        ("*5", VolumeOutUp),
        ("*6", VolumeInDown),
        ("*7", VolumeInUp),
        ("7", EnergyDown),
        ("8", EnergyReset),
        ("9", EnergyUp),
        ("*8", Invite),
        ("#", Leave),
    ])
    .expect("default caller map is valid")
}

/// Moderator-only controls, all under `*9` so they never collide with the
/// caller map and merge cleanly with it.
pub fn default_moderator_map() -> DigitMap {
    use DtmfAction::*;
    DigitMap::new([
        ("*90", UnmuteAllNonModerators),
        ("*91", MuteAllNonModerators),
        ("*92", Lock),
        ("*93", Unlock),
        ("*94", AnnounceOff),
        ("*95", AnnounceOn),
        ("*96", RecordToggle),
        ("*97", RecordPause),
    ])
    .expect("default moderator map is valid")
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DtmfOutcome {
    /// Nothing buffered; the member is not in the middle of a sequence.
    Idle,
    /// Digits are buffered and could still complete a binding.
    Pending,
    /// A binding fired; the string is the number collected for `Invite`.
    Action(DtmfAction, Option<String>),
    /// The buffered digits match nothing (or an invite was abandoned); the
    /// string is what was typed, for logging or an error prompt.
    NoMatch(String),
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum State {
    Idle,
    Sequence(String),
    Collecting { prefix: String, number: String },
}

/// Per-member digit matcher. The room core calls `feed` for each digit and
/// `poll` on every tick so sequences that are a prefix of a longer binding
/// fire once the inter-digit timeout passes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DtmfMatcher {
    timeout_ms: u64,
    state: State,
    last_ms: u64,
}

impl Default for DtmfMatcher {
    fn default() -> Self {
        DtmfMatcher::new(DEFAULT_INTER_DIGIT_TIMEOUT_MS)
    }
}

impl DtmfMatcher {
    pub fn new(inter_digit_timeout_ms: u64) -> Self {
        DtmfMatcher {
            timeout_ms: inter_digit_timeout_ms,
            state: State::Idle,
            last_ms: 0,
        }
    }

    pub fn inter_digit_timeout_ms(&self) -> u64 {
        self.timeout_ms
    }

    pub fn is_idle(&self) -> bool {
        self.state == State::Idle
    }

    /// Drops any half-typed sequence (e.g. when the member is moved or a
    /// prompt starts collecting a PIN).
    pub fn reset(&mut self) {
        self.state = State::Idle;
    }

    fn expired(&self, now_ms: u64) -> bool {
        // saturating: a clock that steps backwards must not look like a
        // huge gap and fire stale digits.
        now_ms.saturating_sub(self.last_ms) >= self.timeout_ms
    }

    pub fn feed(&mut self, map: &DigitMap, digit: char, now_ms: u64) -> DtmfOutcome {
        let Some(d) = normalize_digit(digit) else {
            let typed = match std::mem::replace(&mut self.state, State::Idle) {
                State::Idle => String::new(),
                State::Sequence(s) => s,
                State::Collecting { prefix, number } => prefix + &number,
            };
            return DtmfOutcome::NoMatch(format!("{typed}{}", digit.escape_default()));
        };
        // A stale buffer is resolved first; the new digit then starts a new
        // sequence and is resolved by the next poll (which fires a unique
        // match immediately), so no digit is lost.
        if !self.is_idle() && self.expired(now_ms) {
            let stale = self.poll(map, now_ms);
            self.last_ms = now_ms;
            self.state = State::Sequence(d.to_string());
            return stale;
        }
        self.last_ms = now_ms;
        match std::mem::replace(&mut self.state, State::Idle) {
            State::Collecting { prefix, mut number } => {
                if d == '#' {
                    if number.is_empty() {
                        return DtmfOutcome::NoMatch(prefix + "#");
                    }
                    return DtmfOutcome::Action(DtmfAction::Invite, Some(number));
                }
                if !d.is_ascii_digit() || number.len() >= MAX_INVITE_DIGITS {
                    number.push(d);
                    return DtmfOutcome::NoMatch(prefix + &number);
                }
                number.push(d);
                self.state = State::Collecting { prefix, number };
                DtmfOutcome::Pending
            }
            State::Idle => self.advance(map, d.to_string()),
            State::Sequence(mut s) => {
                s.push(d);
                self.advance(map, s)
            }
        }
    }

    fn advance(&mut self, map: &DigitMap, seq: String) -> DtmfOutcome {
        match (map.lookup(&seq), map.has_longer(&seq)) {
            (Some(a), _) if a.collects_digits() => {
                self.state = State::Collecting {
                    prefix: seq,
                    number: String::new(),
                };
                DtmfOutcome::Pending
            }
            (Some(a), false) => DtmfOutcome::Action(a, None),
            (_, true) => {
                self.state = State::Sequence(seq);
                DtmfOutcome::Pending
            }
            (None, false) => DtmfOutcome::NoMatch(seq),
        }
    }

    pub fn poll(&mut self, map: &DigitMap, now_ms: u64) -> DtmfOutcome {
        let expired = self.expired(now_ms);
        match &self.state {
            State::Idle => DtmfOutcome::Idle,
            State::Collecting { prefix, number } => {
                if expired {
                    let typed = format!("{prefix}{number}");
                    self.state = State::Idle;
                    DtmfOutcome::NoMatch(typed)
                } else {
                    DtmfOutcome::Pending
                }
            }
            State::Sequence(seq) => {
                let exact = map.lookup(seq);
                let longer = map.has_longer(seq);
                if !expired && longer {
                    return DtmfOutcome::Pending;
                }
                let seq = seq.clone();
                self.state = State::Idle;
                match exact {
                    Some(a) if a.collects_digits() => {
                        self.state = State::Collecting {
                            prefix: seq,
                            number: String::new(),
                        };
                        DtmfOutcome::Pending
                    }
                    Some(a) => DtmfOutcome::Action(a, None),
                    None => DtmfOutcome::NoMatch(seq),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::control::testutil::Rng;

    fn both() -> DigitMap {
        default_caller_map()
            .merged(&default_moderator_map())
            .unwrap()
    }

    fn feed_all(m: &mut DtmfMatcher, map: &DigitMap, digits: &str, t: u64) -> Vec<DtmfOutcome> {
        digits.chars().map(|c| m.feed(map, c, t)).collect()
    }

    #[test]
    fn defaults_are_valid_and_disjoint() {
        let map = both();
        assert_eq!(map.lookup("*92"), Some(DtmfAction::Lock));
        assert_eq!(map.lookup("0"), Some(DtmfAction::ToggleMute));
        assert!(default_moderator_map()
            .bindings()
            .iter()
            .all(|(_, a)| a.is_moderator_action()));
        assert!(default_caller_map()
            .bindings()
            .iter()
            .all(|(_, a)| !a.is_moderator_action()));
    }

    #[test]
    fn single_digit_fires_immediately() {
        let map = both();
        let mut m = DtmfMatcher::default();
        assert_eq!(
            m.feed(&map, '0', 0),
            DtmfOutcome::Action(DtmfAction::ToggleMute, None)
        );
        assert_eq!(
            m.feed(&map, '#', 10),
            DtmfOutcome::Action(DtmfAction::Leave, None)
        );
        assert!(m.is_idle());
    }

    #[test]
    fn moderator_sequence_recognised() {
        let map = both();
        let mut m = DtmfMatcher::default();
        let out = feed_all(&mut m, &map, "*91", 5);
        assert_eq!(
            out[2],
            DtmfOutcome::Action(DtmfAction::MuteAllNonModerators, None)
        );
        assert!(DtmfAction::MuteAllNonModerators.is_moderator_action());
    }

    #[test]
    fn invite_collects_until_hash() {
        let map = both();
        let mut m = DtmfMatcher::default();
        let out = feed_all(&mut m, &map, "*815551234#", 0);
        assert!(out[..10].iter().all(|o| *o == DtmfOutcome::Pending));
        assert_eq!(
            out[10],
            DtmfOutcome::Action(DtmfAction::Invite, Some("15551234".into()))
        );
        assert_eq!(m.feed(&map, '*', 0), DtmfOutcome::Pending);
        assert_eq!(m.feed(&map, '8', 0), DtmfOutcome::Pending);
        assert_eq!(m.feed(&map, '#', 0), DtmfOutcome::NoMatch("*8#".into()));
    }

    #[test]
    fn invite_abandoned_on_timeout() {
        let map = both();
        let mut m = DtmfMatcher::new(1000);
        feed_all(&mut m, &map, "*812", 0);
        assert_eq!(m.poll(&map, 500), DtmfOutcome::Pending);
        assert_eq!(m.poll(&map, 1000), DtmfOutcome::NoMatch("*812".into()));
        assert_eq!(m.poll(&map, 1001), DtmfOutcome::Idle);
    }

    #[test]
    fn prefix_resolved_by_timeout() {
        let map = DigitMap::new([("*1", DtmfAction::Mute), ("*12", DtmfAction::Unmute)]).unwrap();
        let mut m = DtmfMatcher::new(2000);
        assert_eq!(m.feed(&map, '*', 0), DtmfOutcome::Pending);
        assert_eq!(m.feed(&map, '1', 100), DtmfOutcome::Pending);
        assert_eq!(m.poll(&map, 2000), DtmfOutcome::Pending);
        assert_eq!(
            m.poll(&map, 2100),
            DtmfOutcome::Action(DtmfAction::Mute, None)
        );
        feed_all(&mut m, &map, "*1", 5000);
        assert_eq!(
            m.feed(&map, '2', 5001),
            DtmfOutcome::Action(DtmfAction::Unmute, None)
        );
    }

    #[test]
    fn dead_prefix_discarded() {
        let map = both();
        let mut m = DtmfMatcher::default();
        assert_eq!(m.feed(&map, '*', 0), DtmfOutcome::Pending);
        assert_eq!(m.feed(&map, '9', 1), DtmfOutcome::Pending);
        assert_eq!(m.poll(&map, 3000), DtmfOutcome::NoMatch("*9".into()));
        assert_eq!(m.feed(&map, '*', 3001), DtmfOutcome::Pending);
        assert_eq!(m.feed(&map, '9', 3002), DtmfOutcome::Pending);
        assert_eq!(m.feed(&map, '9', 3003), DtmfOutcome::NoMatch("*99".into()));
    }

    #[test]
    fn stale_buffer_fires_then_new_digit_processed() {
        let map = DigitMap::new([
            ("*1", DtmfAction::Mute),
            ("*12", DtmfAction::Unmute),
            ("#", DtmfAction::Leave),
        ])
        .unwrap();
        let mut m = DtmfMatcher::new(1000);
        feed_all(&mut m, &map, "*1", 0);
        assert_eq!(
            m.feed(&map, '#', 5000),
            DtmfOutcome::Action(DtmfAction::Mute, None)
        );
        assert_eq!(
            m.poll(&map, 5001),
            DtmfOutcome::Action(DtmfAction::Leave, None)
        );
    }

    #[test]
    fn invalid_digit_is_no_match() {
        let map = both();
        let mut m = DtmfMatcher::default();
        m.feed(&map, '*', 0);
        assert_eq!(m.feed(&map, 'x', 1), DtmfOutcome::NoMatch("*x".into()));
        assert!(m.is_idle());
        assert_eq!(m.feed(&map, 'e', 1), DtmfOutcome::NoMatch("e".into()));
    }

    #[test]
    fn lowercase_abcd_accepted() {
        let map = DigitMap::new([("a1", DtmfAction::Lock)]).unwrap();
        let mut m = DtmfMatcher::default();
        m.feed(&map, 'A', 0);
        assert_eq!(
            m.feed(&map, '1', 0),
            DtmfOutcome::Action(DtmfAction::Lock, None)
        );
    }

    #[test]
    fn map_validation_errors() {
        let e = DigitMap::new([("", DtmfAction::Mute)]).unwrap_err();
        assert!(e.problem.contains("empty"));
        let e = DigitMap::new([("*1x", DtmfAction::Mute)]).unwrap_err();
        assert!(e.to_string().contains("'x'"), "{e}");
        let e = DigitMap::new([("123456789", DtmfAction::Mute)]).unwrap_err();
        assert!(e.problem.contains("longer"));
        let e = DigitMap::new([("*1", DtmfAction::Mute), ("*1", DtmfAction::Unmute)]).unwrap_err();
        assert!(e.problem.contains("twice"));
        let e =
            DigitMap::new([("*8", DtmfAction::Invite), ("*81", DtmfAction::Unmute)]).unwrap_err();
        assert_eq!(e.sequence, "*81");
        let e = DigitMap::from_names([("*1", "toggle-mutt")]).unwrap_err();
        assert!(e.problem.contains("toggle-mutt"), "{e}");
        let c = DigitMap::new([("*1", DtmfAction::Mute)]).unwrap();
        let d = DigitMap::new([("*1", DtmfAction::Lock)]).unwrap();
        assert!(c.merged(&d).is_err());
        assert!(c.merged(&c).is_ok());
    }

    #[test]
    fn action_names_round_trip() {
        for a in DtmfAction::ALL {
            assert_eq!(a.name().parse::<DtmfAction>().unwrap(), a);
        }
        assert_eq!(
            "toggle_mute".parse::<DtmfAction>().unwrap(),
            DtmfAction::ToggleMute
        );
        assert_eq!("hangup".parse::<DtmfAction>().unwrap(), DtmfAction::Leave);
        assert!("".parse::<DtmfAction>().is_err());
    }

    #[test]
    fn random_digit_streams_never_panic() {
        let map = both();
        let mut rng = Rng::new(7);
        let alphabet: Vec<char> = "0123456789*#ABCDabcdxyz \u{0}é".chars().collect();
        for _ in 0..200 {
            let mut m = DtmfMatcher::new(rng.below(3000) as u64);
            let mut t = rng.below(1_000_000) as u64;
            for _ in 0..200 {
                let c = alphabet[rng.below(alphabet.len())];
                // Occasionally step the clock backwards to exercise the
                // saturating arithmetic.
                t = if rng.below(20) == 0 {
                    t.saturating_sub(rng.below(5000) as u64)
                } else {
                    t + rng.below(3000) as u64
                };
                let _ = m.feed(&map, c, t);
                let _ = m.poll(&map, t + rng.below(3000) as u64);
            }
        }
        for _ in 0..500 {
            let seq = rng.string(&alphabet, 12);
            let _ = DigitMap::new([(seq, DtmfAction::Mute)]);
        }
    }
}
