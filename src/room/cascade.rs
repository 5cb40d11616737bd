//! Cascade: one room spread over two nodes. `cascade <room> <sip-uri>` has
//! the host dial the other node's room; the leg that comes back into this
//! room (its `to` is that URI) is the bridge member. N-1 mixing does the
//! rest: the bridge hears this room minus itself and the other node sends
//! its room minus the bridge, so no voice comes back to where it started.
//!
//! A bridge is a ghost (not counted, not announced, starts nothing) that
//! also sends no events and is not muted on entry; before the conference
//! starts it hears silence, not the wait music. Its jitter buffer is
//! 2 frames unless the app args say otherwise. When it is lost it is
//! dialled again after 1 s, then 2, 4, ... up to 30 s; a bridge that stayed
//! up 10 s starts the back-off over, and a dial not answered in 15 s counts
//! as lost. One cascade per room; the room's end ends it.

use super::*;

const BACKOFF_FIRST_MS: u64 = 1_000;
const BACKOFF_MAX_MS: u64 = 30_000;
/// A dial whose leg has not joined by then is given up and dialled again.
const ANSWER_WITHIN_MS: u64 = 15_000;
/// A bridge up this long was healthy: its loss waits the first back-off.
const STABLE_MS: u64 = 10_000;
const URI_MAX: usize = 200;
/// The bridge's jitter buffer: its audio is paced by the other node's
/// mixer, not by a phone over the internet, and every frame buffered here
/// is latency added to everything said on the other node. One frame
/// slipped (a frame dropped and one concealed) on a loaded 2-core test
/// machine; two did not.
pub(super) const BRIDGE_JITTER_FRAMES: usize = 2;

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
        if let Some(c) = &self.cascade {
            return Err(CommandError::Invalid(format!(
                "already cascading to {}; uncascade first",
                c.uri
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
        self.cascade = Some(Cascade {
            uri,
            leg: Leg::Dialling {
                since_ms: self.now_ms,
            },
            backoff_ms: BACKOFF_FIRST_MS,
        });
        Ok(reply)
    }

    pub(super) fn cascade_stop(&mut self) -> Result<String, CommandError> {
        let Some(c) = self.cascade.take() else {
            return Err(CommandError::Invalid("no cascade in this room".to_string()));
        };
        if let Leg::Up { member, .. } = c.leg {
            self.hang_up(member, cause::NORMAL_CLEARING, "uncascade");
        }
        Ok(format!("cascade to {} stopped", c.uri))
    }

    /// Whether a joining leg is the one this room dialled: its `to` is the
    /// cascade URI (a caller's `to` is a number, never a URI) and no bridge
    /// is up.
    pub(super) fn cascade_claims(&self, to: &str) -> bool {
        self.cascade
            .as_ref()
            .is_some_and(|c| c.uri == to && !matches!(c.leg, Leg::Up { .. }))
    }

    pub(super) fn cascade_joined(&mut self, member: MemberId) {
        let now = self.now_ms;
        if let Some(c) = self.cascade.as_mut() {
            c.leg = Leg::Up {
                member,
                since_ms: now,
            };
            log::info!(target: "huddle::cascade", "room {}: bridge to {} up (member {member})",
                self.settings.name, c.uri);
        }
    }

    /// A member left: when it was the bridge, wait and dial again.
    pub(super) fn cascade_left(&mut self, member: MemberId) {
        let now = self.now_ms;
        let Some(c) = self.cascade.as_mut() else {
            return;
        };
        if let Leg::Up {
            member: m,
            since_ms,
        } = c.leg
        {
            if m == member {
                if now.saturating_sub(since_ms) >= STABLE_MS {
                    c.backoff_ms = BACKOFF_FIRST_MS;
                }
                self.cascade_wait(now, "lost");
            }
        }
    }

    fn cascade_wait(&mut self, now_ms: u64, why: &str) {
        let name = self.settings.name.clone();
        if let Some(c) = self.cascade.as_mut() {
            let wait = c.backoff_ms;
            c.backoff_ms = (wait * 2).min(BACKOFF_MAX_MS);
            c.leg = Leg::Waiting {
                until_ms: now_ms + wait,
            };
            log::warn!(target: "huddle::cascade", "room {name}: bridge to {} {why}; dialling again in {wait} ms", c.uri);
        }
    }

    /// Every tick: dials that were never answered, and waits that are over.
    pub(super) fn cascade_tick(&mut self, now_ms: u64) {
        let Some(c) = self.cascade.as_mut() else {
            return;
        };
        match c.leg {
            Leg::Dialling { since_ms } if now_ms >= since_ms + ANSWER_WITHIN_MS => {
                self.cascade_wait(now_ms, "not answered");
            }
            Leg::Waiting { until_ms } if now_ms >= until_ms && !self.ended => {
                c.leg = Leg::Dialling { since_ms: now_ms };
                let destination = c.uri.clone();
                self.outputs.push_back(Output::Originate { destination });
            }
            _ => {}
        }
    }
}
