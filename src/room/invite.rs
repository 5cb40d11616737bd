//! Who may make the host dial out (`*8` invite), how often, and where to.
//!
//! An invite costs the host an outgoing call, so a caller's keypad must not
//! be a way to place calls at will: by default only moderators invite, a
//! member and a room each get a few invites a minute, and the profile may
//! restrict the numbers dialled.

use std::collections::VecDeque;

use super::member::MemberId;

/// Who may use the invite control.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum InvitePolicy {
    #[default]
    Moderators,
    Anyone,
    Nobody,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InviteRules {
    pub who: InvitePolicy,
    /// Invites one member may place in any minute.
    pub per_member_per_minute: u32,
    /// Invites the whole room may place in any minute.
    pub per_room_per_minute: u32,
    /// Patterns a number must match (see [`pattern_matches`]); empty = any.
    pub destinations: Vec<String>,
}

impl Default for InviteRules {
    fn default() -> Self {
        InviteRules {
            who: InvitePolicy::Moderators,
            per_member_per_minute: 3,
            per_room_per_minute: 10,
            destinations: Vec::new(),
        }
    }
}

impl InviteRules {
    pub fn destination_allowed(&self, number: &str) -> bool {
        self.destinations.is_empty() || self.destinations.iter().any(|p| pattern_matches(p, number))
    }
}

/// A digit, `*` or `#` matches itself, `X` any digit, `N` a digit 2-9, and
/// a final `.` one or more of anything: `1555XXXXXXX`, `2XXX`, `9.`.
pub fn pattern_matches(pattern: &str, number: &str) -> bool {
    let mut n = number.chars();
    let mut p = pattern.chars().peekable();
    while let Some(pc) = p.next() {
        if pc == '.' && p.peek().is_none() {
            return n.next().is_some();
        }
        let Some(nc) = n.next() else {
            return false;
        };
        let ok = match pc {
            'X' | 'x' => nc.is_ascii_digit(),
            'N' | 'n' => ('2'..='9').contains(&nc),
            c => c == nc,
        };
        if !ok {
            return false;
        }
    }
    n.next().is_none()
}

/// Why a pattern is not one, for the config error.
pub fn check_pattern(p: &str) -> Result<(), String> {
    if p.is_empty() || p.len() > 64 {
        return Err("a pattern is 1-64 characters".into());
    }
    let body = p.strip_suffix('.').unwrap_or(p);
    match body
        .chars()
        .find(|c| !(c.is_ascii_digit() || matches!(c, '*' | '#' | 'X' | 'x' | 'N' | 'n')))
    {
        Some(c) => Err(format!(
            "'{}' is not a pattern character (digits, * #, X = any digit, N = 2-9, a final . = the rest)",
            c.escape_default()
        )),
        None => Ok(()),
    }
}

const MINUTE_MS: u64 = 60_000;

/// Invites placed in the last minute, per room and per member. Bounded: a
/// window never holds more entries than its limit.
#[derive(Debug, Default)]
pub struct InviteLog {
    room: VecDeque<u64>,
    members: Vec<(MemberId, VecDeque<u64>)>,
}

impl InviteLog {
    /// Records an invite at `now_ms` if both windows have room; otherwise
    /// says which limit it hit.
    pub fn admit(
        &mut self,
        rules: &InviteRules,
        member: MemberId,
        now_ms: u64,
    ) -> Result<(), &'static str> {
        let fresh = |w: &mut VecDeque<u64>| {
            while w
                .front()
                .is_some_and(|t| now_ms.saturating_sub(*t) >= MINUTE_MS)
            {
                w.pop_front();
            }
        };
        fresh(&mut self.room);
        self.members.retain_mut(|(_, w)| {
            fresh(w);
            !w.is_empty()
        });
        if self.room.len() >= rules.per_room_per_minute as usize {
            return Err("the room's invites per minute are used up");
        }
        let mine = match self.members.iter().position(|(m, _)| *m == member) {
            Some(i) => i,
            None => {
                self.members.push((member, VecDeque::new()));
                self.members.len() - 1
            }
        };
        if self.members[mine].1.len() >= rules.per_member_per_minute as usize {
            return Err("this member's invites per minute are used up");
        }
        self.members[mine].1.push_back(now_ms);
        self.room.push_back(now_ms);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_match_whole_numbers() {
        assert!(pattern_matches("1555XXXXXXX", "15551234567"));
        assert!(!pattern_matches("1555XXXXXXX", "1555123456"));
        assert!(!pattern_matches("1555XXXXXXX", "155512345678"));
        assert!(!pattern_matches("1555XXXXXXX", "19001234567"));
        assert!(pattern_matches("NXXX", "2000"));
        assert!(!pattern_matches("NXXX", "1000"));
        assert!(pattern_matches("9.", "9011"));
        assert!(!pattern_matches("9.", "9"));
        assert!(check_pattern("1555XXX.").is_ok());
        assert!(check_pattern("1.5").is_err());
        assert!(check_pattern("").is_err());
        let rules = InviteRules::default();
        assert!(rules.destination_allowed("anything"));
    }

    #[test]
    fn windows_limit_members_and_rooms_and_forget_after_a_minute() {
        let rules = InviteRules {
            who: InvitePolicy::Anyone,
            per_member_per_minute: 2,
            per_room_per_minute: 3,
            destinations: Vec::new(),
        };
        let mut log = InviteLog::default();
        assert!(log.admit(&rules, 1, 0).is_ok());
        assert!(log.admit(&rules, 1, 10).is_ok());
        assert!(log.admit(&rules, 1, 20).unwrap_err().contains("member"));
        assert!(log.admit(&rules, 2, 30).is_ok());
        assert!(log.admit(&rules, 3, 40).unwrap_err().contains("room"));
        assert!(log.admit(&rules, 1, 60_000).is_ok());
        assert!(log.admit(&rules, 1, 60_010).is_ok());
    }
}
