//! Cascade: one room spread over several nodes. `cascade <room> <sip-uri>`
//! has the host dial another node's room; the leg that comes back into this
//! room (its `to` is that URI) is a bridge member. N-1 mixing does the
//! rest: a bridge hears this room minus itself (its other bridges
//! included, so a star of nodes all hear each other through the hub) and
//! the other node sends its room minus its bridge, so no voice comes back
//! to where it started. The nodes and bridges must form a tree: a ring
//! would carry every voice round it again.
//!
//! A bridge is a ghost (not counted, not announced, starts nothing) that
//! also sends no events and is not muted on entry; before the conference
//! starts it hears silence, not the wait music. Its frames come paced by
//! the other node's mixer, so its jitter buffer is the profile's
//! `bridge_jitter_frames` (1: a frame is mixed in the first tick after it
//! arrives) unless the app args say otherwise, and a backlog left by a
//! late frame is trimmed again after half a second (`Pacing::BRIDGE`). When a bridge is
//! lost it is dialled again after 1 s, then 2, 4, ... up to 30 s; a bridge
//! that stayed up 10 s starts the back-off over, and a dial not answered in
//! 15 s counts as lost. A room's end ends its cascades.

use super::*;

const BACKOFF_FIRST_MS: u64 = 1_000;
const BACKOFF_MAX_MS: u64 = 30_000;
/// A dial whose leg has not joined by then is given up and dialled again.
const ANSWER_WITHIN_MS: u64 = 15_000;
/// A bridge up this long was healthy: its loss waits the first back-off.
const STABLE_MS: u64 = 10_000;
const URI_MAX: usize = 200;
/// Bridges one room may have (a hub of a star, or a node in a tree).
pub(super) const MAX_CASCADES: usize = 16;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Leg {
    Dialling { since_ms: u64 },
    Up { member: MemberId, since_ms: u64 },
    Waiting { until_ms: u64 },
}

#[derive(Debug)]
pub(super) struct Cascade {
    uri: String,
    leg: Leg,
    /// The wait before the next dial after a loss.
    backoff_ms: u64,
}

impl Room {
    pub(super) fn cascade_start(&mut self, uri: String) -> Result<String, CommandError> {
        let valid = uri.len() > "sip:".len()
            && uri.len() <= URI_MAX
            && uri.starts_with("sip:")
            && !uri.chars().any(|c| c.is_whitespace() || c.is_control());
        if !valid {
            return Err(CommandError::Invalid(format!(
                "'{uri}' is not a sip: URI of at most {URI_MAX} bytes"
            )));
        }
        if self.cascades.iter().any(|c| c.uri == uri) {
            return Err(CommandError::Invalid(format!(
                "already cascading to {uri}; uncascade it first"
            )));
        }
        if self.cascades.len() >= MAX_CASCADES {
            return Err(CommandError::Invalid(format!(
                "already cascading to {MAX_CASCADES} nodes, the most a room may"
            )));
        }
        if self.member_count() == 0 {
            return Err(CommandError::Invalid(
                "nobody is in the room to cascade".to_string(),
            ));
        }
        self.outputs.push_back(Output::Originate {
            destination: uri.clone(),
        });
        log::info!(target: "huddle::cascade", "room {}: cascading to {uri}", self.settings.name);
        let reply = format!("cascading to {uri}");
        self.cascades.push(Cascade {
            uri,
            leg: Leg::Dialling {
                since_ms: self.now_ms,
            },
            backoff_ms: BACKOFF_FIRST_MS,
        });
        Ok(reply)
    }

    /// Stops the cascade to `uri`, or every one when `None`.
    pub(super) fn cascade_stop(&mut self, uri: Option<String>) -> Result<String, CommandError> {
        if self.cascades.is_empty() {
            return Err(CommandError::Invalid("no cascade in this room".to_string()));
        }
        let stopped: Vec<Cascade> = match uri {
            Some(uri) => {
                let Some(i) = self.cascades.iter().position(|c| c.uri == uri) else {
                    let to: Vec<&str> = self.cascades.iter().map(|c| c.uri.as_str()).collect();
                    return Err(CommandError::Invalid(format!(
                        "no cascade to {uri} in this room (it cascades to {})",
                        to.join(", ")
                    )));
                };
                vec![self.cascades.remove(i)]
            }
            None => std::mem::take(&mut self.cascades),
        };
        let mut uris = Vec::with_capacity(stopped.len());
        for c in stopped {
            if let Leg::Up { member, .. } = c.leg {
                self.hang_up(member, cause::NORMAL_CLEARING, "uncascade");
            }
            uris.push(c.uri);
        }
        Ok(format!("cascade to {} stopped", uris.join(", ")))
    }

    /// Whether a joining leg is one this room dialled: its `to` is a
    /// cascade's URI (a caller's `to` is a number, never a URI) whose bridge
    /// is not up.
    pub(super) fn cascade_claims(&self, to: &str) -> bool {
        self.cascades
            .iter()
            .any(|c| c.uri == to && !matches!(c.leg, Leg::Up { .. }))
    }

    pub(super) fn cascade_joined(&mut self, member: MemberId, to: &str) {
        let now = self.now_ms;
        let name = &self.settings.name;
        if let Some(c) = self
            .cascades
            .iter_mut()
            .find(|c| c.uri == to && !matches!(c.leg, Leg::Up { .. }))
        {
            c.leg = Leg::Up {
                member,
                since_ms: now,
            };
            log::info!(target: "huddle::cascade", "room {name}: bridge to {} up (member {member})", c.uri);
        }
    }

    /// A member left: when it was a bridge, wait and dial again.
    pub(super) fn cascade_left(&mut self, member: MemberId) {
        let now = self.now_ms;
        let Some(i) = self
            .cascades
            .iter()
            .position(|c| matches!(c.leg, Leg::Up { member: m, .. } if m == member))
        else {
            return;
        };
        let c = &mut self.cascades[i];
        if let Leg::Up { since_ms, .. } = c.leg {
            if now.saturating_sub(since_ms) >= STABLE_MS {
                c.backoff_ms = BACKOFF_FIRST_MS;
            }
        }
        self.cascade_wait(i, now, "lost");
    }

    fn cascade_wait(&mut self, i: usize, now_ms: u64, why: &str) {
        let name = &self.settings.name;
        let c = &mut self.cascades[i];
        let wait = c.backoff_ms;
        c.backoff_ms = (wait * 2).min(BACKOFF_MAX_MS);
        c.leg = Leg::Waiting {
            until_ms: now_ms + wait,
        };
        log::warn!(target: "huddle::cascade", "room {name}: bridge to {} {why}; dialling again in {wait} ms", c.uri);
    }

    /// Every tick: dials that were never answered, and waits that are over.
    pub(super) fn cascade_tick(&mut self, now_ms: u64) {
        for i in 0..self.cascades.len() {
            match self.cascades[i].leg {
                Leg::Dialling { since_ms } if now_ms >= since_ms + ANSWER_WITHIN_MS => {
                    self.cascade_wait(i, now_ms, "not answered");
                }
                Leg::Waiting { until_ms } if now_ms >= until_ms && !self.ended => {
                    let c = &mut self.cascades[i];
                    c.leg = Leg::Dialling { since_ms: now_ms };
                    let destination = c.uri.clone();
                    self.outputs.push_back(Output::Originate { destination });
                }
                _ => {}
            }
        }
    }
}
