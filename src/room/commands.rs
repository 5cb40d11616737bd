//! Commands on a live room, from the operator API or a member's DTMF:
//! mute, deaf, volume, kick, lock, relate, hold, record, invite. Each checks
//! who may run it and answers with a typed result.

use super::*;

/// Who a command applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    Id(MemberId),
    All,
    Last,
    NonModerator,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Adjust {
    To(f32),
    Up,
    Down,
    Reset,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Relation {
    NoHear,
    NoSpeak,
    Clear,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    Mute(Target),
    Unmute(Target),
    ToggleMute(Target),
    Deaf(Target),
    Undeaf(Target),
    ToggleDeaf(Target),
    Hold(Target, Option<Arc<[i16]>>),
    Unhold(Target),
    Kick(Target),
    Hup(Target),
    /// `coach` whispers to `members` (replacing whom it whispered to before).
    Coach {
        coach: MemberId,
        members: Vec<MemberId>,
    },
    /// `coach` stops whispering and is heard by the room again.
    Uncoach {
        coach: MemberId,
    },
    Lock,
    Unlock,
    VolumeIn(Target, Adjust),
    VolumeOut(Target, Adjust),
    Energy(Target, Adjust),
    Play {
        sound: Arc<[i16]>,
        member: Option<MemberId>,
    },
    Stop {
        member: Option<MemberId>,
    },
    SetMaxMembers(u32),
    SetPin(Option<String>),
    SetHostPin(Option<String>),
    SetMusic(Option<Arc<[i16]>>),
    Relate {
        a: Vec<MemberId>,
        b: Vec<MemberId>,
        relation: Relation,
    },
    MuteAllNonModerators,
    UnmuteAllNonModerators,
    Announce(bool),
    Invite(String),
    /// Operator only: bridge this room to another node's (a `sip:` URI).
    Cascade(String),
    /// One cascade by its URI, or every one.
    Uncascade(Option<String>),
    Record(RecordingCommand),
    Leave,
    End,
}

impl Command {
    /// Moderator-only when a member sends it by DTMF.
    pub fn needs_moderator(&self) -> bool {
        !matches!(
            self,
            Command::ToggleMute(Target::Id(_))
                | Command::Mute(Target::Id(_))
                | Command::Unmute(Target::Id(_))
                | Command::ToggleDeaf(Target::Id(_))
                | Command::VolumeIn(Target::Id(_), _)
                | Command::VolumeOut(Target::Id(_), _)
                | Command::Energy(Target::Id(_), _)
                | Command::Invite(_)
                | Command::Leave
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommandError {
    UnknownMember(MemberId),
    NoMembers,
    Refused(String),
    Invalid(String),
}

impl std::fmt::Display for CommandError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CommandError::UnknownMember(id) => write!(f, "no member {id} in this room"),
            CommandError::NoMembers => write!(f, "no member matches"),
            CommandError::Refused(why) => write!(f, "refused: {why}"),
            CommandError::Invalid(why) => write!(f, "{why}"),
        }
    }
}

impl Room {
    /// Runs a command from the operator (`actor` None) or from a member's
    /// DTMF (`actor` Some), which may not use moderator commands unless it is one.
    pub fn command(
        &mut self,
        actor: Option<MemberId>,
        cmd: Command,
        now_ms: u64,
    ) -> Result<String, CommandError> {
        self.now_ms = now_ms;
        if let Some(a) = actor {
            let is_mod = self
                .member_ref(a)
                .ok_or(CommandError::UnknownMember(a))?
                .moderator;
            if cmd.needs_moderator() && !is_mod {
                let refuse = self.settings.sounds.refused.clone();
                if let Some(m) = self.member_mut(a) {
                    m.queue_prompt(&refuse);
                }
                return Err(CommandError::Refused("a moderator control".to_string()));
            }
        }
        match cmd {
            Command::Mute(t) => self.each(t, |room, id| room.set_muted(id, true, actor)),
            Command::Unmute(t) => self.each(t, |room, id| room.set_muted(id, false, actor)),
            Command::ToggleMute(t) => self.each(t, |room, id| {
                let muted = room.member_ref(id).is_some_and(|m| m.muted);
                room.set_muted(id, !muted, actor)
            }),
            Command::Deaf(t) => self.each(t, |room, id| room.set_deaf(id, true)),
            Command::Undeaf(t) => self.each(t, |room, id| room.set_deaf(id, false)),
            Command::ToggleDeaf(t) => self.each(t, |room, id| {
                let deaf = room.member_ref(id).is_some_and(|m| m.deaf);
                room.set_deaf(id, !deaf)
            }),
            Command::Hold(t, music) => {
                self.each(t, |room, id| room.set_hold(id, true, music.clone()))
            }
            Command::Unhold(t) => self.each(t, |room, id| room.set_hold(id, false, None)),
            Command::Kick(t) => self.each(t, |room, id| {
                room.emit_for("participant-kick", id, vec![]);
                room.kick(id);
                Ok(())
            }),
            Command::Hup(t) => self.each(t, |room, id| {
                room.hang_up(id, cause::NORMAL_CLEARING, "hangup-by-operator");
                Ok(())
            }),
            Command::Coach { coach, mut members } => {
                if members.contains(&coach) {
                    return Err(invalid("a member cannot coach itself"));
                }
                let mut seen = Vec::with_capacity(members.len());
                members.retain(|id| {
                    let first = !seen.contains(id);
                    seen.push(*id);
                    first
                });
                if members.is_empty() || members.len() > member::MAX_COACHED {
                    return Err(CommandError::Invalid(format!(
                        "a coach whispers to 1 to {} members",
                        member::MAX_COACHED
                    )));
                }
                for &id in &members {
                    self.member_ref(id)
                        .filter(|m| m.admitted)
                        .ok_or(CommandError::UnknownMember(id))?;
                }
                let c = self
                    .member_mut(coach)
                    .ok_or(CommandError::UnknownMember(coach))?;
                // The app-arg target no longer applies: at admission (a coach
                // still entering a PIN) the list set here stands.
                c.spec.coach = None;
                let list = members
                    .iter()
                    .map(|id| id.to_string())
                    .collect::<Vec<_>>()
                    .join(", ");
                let plural = if members.len() == 1 { "" } else { "s" };
                c.coaching = members;
                self.emit_for("participant-coach", coach, vec![]);
                Ok(format!("member {coach} now coaches member{plural} {list}"))
            }
            Command::Uncoach { coach } => {
                let c = self
                    .member_mut(coach)
                    .ok_or(CommandError::UnknownMember(coach))?;
                if c.coaching.is_empty() {
                    return Err(CommandError::Invalid(format!(
                        "member {coach} is not coaching"
                    )));
                }
                c.coaching.clear();
                c.spec.coach = None;
                // Coaching=false and no CallSidToCoach: the whisper is over.
                self.emit_for("participant-coach", coach, vec![]);
                Ok(format!("member {coach} no longer coaches"))
            }
            Command::Lock => {
                self.locked = true;
                self.emit("conference-lock", vec![]);
                Ok("locked".to_string())
            }
            Command::Unlock => {
                self.locked = false;
                self.emit("conference-unlock", vec![]);
                Ok("unlocked".to_string())
            }
            Command::VolumeIn(t, adj) => self.each(t, |room, id| {
                let m = room.member_mut(id).ok_or(CommandError::UnknownMember(id))?;
                m.in_gain_db = adjust(m.in_gain_db, adj, 0.0, VOLUME_STEP_DB, -24.0, 24.0);
                Ok(())
            }),
            Command::VolumeOut(t, adj) => self.each(t, |room, id| {
                let m = room.member_mut(id).ok_or(CommandError::UnknownMember(id))?;
                m.out_gain_db = adjust(m.out_gain_db, adj, 0.0, VOLUME_STEP_DB, -24.0, 24.0);
                Ok(())
            }),
            Command::Energy(t, adj) => self.each(t, |room, id| {
                let default = room.settings.vad.threshold_dbov;
                let m = room.member_mut(id).ok_or(CommandError::UnknownMember(id))?;
                m.energy_dbov = adjust(m.energy_dbov, adj, default, ENERGY_STEP_DB, -96.0, 0.0);
                m.input.vad.set_threshold(m.energy_dbov);
                Ok(())
            }),
            Command::Play { sound, member } => {
                match member {
                    Some(id) => {
                        let m = self.member_mut(id).ok_or(CommandError::UnknownMember(id))?;
                        m.queue_prompt(&Some(sound));
                    }
                    None => self.play_room(Some(sound), None),
                }
                Ok("playing".to_string())
            }
            Command::Stop { member } => {
                match member {
                    Some(id) => self
                        .member_mut(id)
                        .ok_or(CommandError::UnknownMember(id))?
                        .prompts
                        .clear(),
                    None => self.players.clear(),
                }
                Ok("stopped".to_string())
            }
            Command::SetMaxMembers(n) => {
                if !(2..=1000).contains(&n) {
                    return Err(CommandError::Invalid(format!(
                        "max members {n} is not in 2..1000"
                    )));
                }
                self.settings.max_members = n;
                Ok(format!("max members {n}"))
            }
            Command::SetPin(pin) => {
                if pin.is_some() && pin == self.settings.host_pin {
                    return Err(invalid("the PIN must differ from the host PIN, or every caller would be a moderator"));
                }
                if pin.is_none() && self.settings.host_pin.is_some() {
                    return Err(invalid(
                        "remove the host PIN first: a host PIN needs a room PIN",
                    ));
                }
                self.settings.pin = pin;
                Ok("pin set".to_string())
            }
            Command::SetHostPin(pin) => {
                if pin.is_some() && pin == self.settings.pin {
                    return Err(invalid("the host PIN must differ from the PIN, or every caller would be a moderator"));
                }
                if pin.is_some() && self.settings.pin.is_none() {
                    return Err(invalid("a host PIN needs a room PIN"));
                }
                self.settings.host_pin = pin;
                Ok("host pin set".to_string())
            }
            Command::SetMusic(music) => {
                self.settings.sounds.moh = music;
                Ok("music set".to_string())
            }
            Command::Relate { a, b, relation } => {
                for id in a.iter().chain(b.iter()) {
                    self.member_ref(*id)
                        .ok_or(CommandError::UnknownMember(*id))?;
                }
                for &x in &a {
                    for &y in &b {
                        if x == y {
                            continue;
                        }
                        match relation {
                            // x does not hear y
                            Relation::NoHear => self.relate(x, y, true),
                            // x is not heard by y
                            Relation::NoSpeak => self.relate(y, x, true),
                            Relation::Clear => {
                                self.relate(x, y, false);
                                self.relate(y, x, false);
                            }
                        }
                    }
                }
                Ok("relation set".to_string())
            }
            Command::MuteAllNonModerators | Command::UnmuteAllNonModerators => {
                let mute = matches!(cmd, Command::MuteAllNonModerators);
                self.mute_non_moderators = mute;
                // A room with no non-moderators has nothing to change, but
                // the room flag still holds for those who join later.
                match self.each(Target::NonModerator, |room, id| {
                    room.set_muted(id, mute, None)
                }) {
                    Ok(_) | Err(CommandError::NoMembers) => {}
                    Err(e) => return Err(e),
                }
                Ok(format!(
                    "{} all non-moderators",
                    if mute { "muted" } else { "unmuted" }
                ))
            }
            Command::Announce(on) => {
                self.announce = on;
                Ok(format!(
                    "join/leave announcements {}",
                    if on { "on" } else { "off" }
                ))
            }
            Command::Invite(destination) => {
                if destination.is_empty() || destination.len() > 64 {
                    return Err(invalid("no number to dial"));
                }
                // A member's keypad (not the operator's API) is held to the
                // profile's rules.
                if let Some(id) = actor {
                    if let Err(why) = self.may_invite(id, &destination, now_ms) {
                        let refuse = self.settings.sounds.refused.clone();
                        if let Some(m) = self.member_mut(id) {
                            m.queue_prompt(&refuse);
                        }
                        return Err(CommandError::Refused(why.to_string()));
                    }
                }
                self.outputs.push_back(Output::Originate {
                    destination: destination.clone(),
                });
                Ok(format!("dialling {destination}"))
            }
            Command::Cascade(uri) => self.cascade_start(uri),
            Command::Uncascade(uri) => self.cascade_stop(uri),
            Command::Record(rc) => self.record_command(rc),
            Command::Leave => {
                let id = actor.ok_or(invalid("leave needs a member"))?;
                self.hang_up(id, cause::NORMAL_CLEARING, "left");
                Ok("left".to_string())
            }
            Command::End => {
                if self.ended {
                    return Err(invalid("the conference has already ended"));
                }
                self.end("ended-via-api", String::new());
                Ok("ended".to_string())
            }
        }
    }

    pub(super) fn may_invite(
        &mut self,
        id: MemberId,
        number: &str,
        now_ms: u64,
    ) -> Result<(), &'static str> {
        let (admitted, moderator) = self
            .member_ref(id)
            .map_or((false, false), |m| (m.admitted, m.moderator));
        let rules = &self.settings.invite;
        match rules.who {
            invite::InvitePolicy::Nobody => return Err("invites are off in this profile"),
            invite::InvitePolicy::Moderators if !moderator => {
                return Err("only moderators may invite")
            }
            _ => {}
        }
        // A caller still waiting (PIN entry, or for the conference to
        // start) has not been let in and dials nobody.
        if !admitted || (!self.started && !moderator) {
            return Err("a waiting caller may not invite");
        }
        if !rules.destination_allowed(number) {
            return Err("the number matches no invite_destinations pattern");
        }
        self.invites.admit(rules, id, now_ms)
    }

    pub(super) fn record_command(&mut self, rc: RecordingCommand) -> Result<String, CommandError> {
        match rc {
            RecordingCommand::Start { path, source } => {
                if !self.settings.recording_enabled {
                    return Err(CommandError::Refused(
                        "recording is not enabled for this room".to_string(),
                    ));
                }
                if !self.start_recording(path, &source) {
                    return Err(invalid("a recording is already running"));
                }
                Ok("recording started".to_string())
            }
            RecordingCommand::Pause => {
                if self.recording != RecordingState::Running {
                    return Err(invalid("no running recording to pause"));
                }
                self.recording = RecordingState::Paused;
                self.outputs
                    .push_back(Output::Recording(RecordingCommand::Pause));
                Ok("recording paused".to_string())
            }
            RecordingCommand::Resume => {
                if self.recording != RecordingState::Paused {
                    return Err(invalid("no paused recording to resume"));
                }
                self.recording = RecordingState::Running;
                self.outputs
                    .push_back(Output::Recording(RecordingCommand::Resume));
                Ok("recording resumed".to_string())
            }
            RecordingCommand::Stop { reason } => {
                if self.recording == RecordingState::Off {
                    return Err(invalid("no recording to stop"));
                }
                self.stop_recording(&reason);
                Ok("recording stopped".to_string())
            }
        }
    }

    pub(super) fn relate(&mut self, listener: MemberId, speaker: MemberId, on: bool) {
        if let Some(m) = self.member_mut(listener) {
            if on {
                if !m.no_hear.contains(&speaker) && m.no_hear.len() < 1000 {
                    m.no_hear.push(speaker);
                }
            } else {
                m.no_hear.retain(|x| *x != speaker);
            }
        }
    }

    pub(super) fn set_muted(
        &mut self,
        id: MemberId,
        muted: bool,
        actor: Option<MemberId>,
    ) -> Result<(), CommandError> {
        let mute_nm = self.mute_non_moderators;
        let (muted_prompt, unmuted_prompt, refused_prompt) = (
            self.settings.sounds.muted.clone(),
            self.settings.sounds.unmuted.clone(),
            self.settings.sounds.refused.clone(),
        );
        let m = self.member_mut(id).ok_or(CommandError::UnknownMember(id))?;
        if !muted && mute_nm && !m.moderator && actor == Some(id) {
            // The caller pressed a key: tell them it did nothing.
            m.queue_prompt(&refused_prompt);
            return Err(CommandError::Refused(
                "mute-non-moderators is on: only a moderator can unmute you".to_string(),
            ));
        }
        if m.muted == muted {
            return Ok(());
        }
        m.muted = muted;
        m.queue_prompt(if muted {
            &muted_prompt
        } else {
            &unmuted_prompt
        });
        self.emit_for(
            if muted {
                "participant-mute"
            } else {
                "participant-unmute"
            },
            id,
            vec![],
        );
        Ok(())
    }

    pub(super) fn set_deaf(&mut self, id: MemberId, deaf: bool) -> Result<(), CommandError> {
        let m = self.member_mut(id).ok_or(CommandError::UnknownMember(id))?;
        if m.deaf == deaf {
            return Ok(());
        }
        m.deaf = deaf;
        self.emit_for(
            if deaf {
                "participant-deaf"
            } else {
                "participant-undeaf"
            },
            id,
            vec![],
        );
        Ok(())
    }

    pub(super) fn set_hold(
        &mut self,
        id: MemberId,
        hold: bool,
        music: Option<Arc<[i16]>>,
    ) -> Result<(), CommandError> {
        let m = self.member_mut(id).ok_or(CommandError::UnknownMember(id))?;
        if music.is_some() {
            m.hold_music = music;
            m.hold_pos = 0;
        }
        if m.hold == hold {
            return Ok(());
        }
        m.hold = hold;
        if hold {
            m.input.reset_vad();
        }
        let stop_talking = hold && std::mem::take(&mut m.in_speech);
        // Back from hold while talking: the room hears them from now on.
        let start_talking = !hold && m.talking();
        let muted = m.muted;
        if start_talking {
            m.in_speech = true;
        }
        if stop_talking {
            self.emit_for("participant-speech-stop", id, vec![]);
        }
        self.emit_for(
            if hold {
                "participant-hold"
            } else {
                "participant-unhold"
            },
            id,
            vec![],
        );
        if start_talking {
            let name = if muted {
                "participant-speech-while-muted"
            } else {
                "participant-speech-start"
            };
            self.emit_for(name, id, vec![]);
        }
        Ok(())
    }

    /// Applies `f` to every admitted member the target names.
    pub(super) fn each(
        &mut self,
        target: Target,
        mut f: impl FnMut(&mut Room, MemberId) -> Result<(), CommandError>,
    ) -> Result<String, CommandError> {
        let ids: Vec<MemberId> = match target {
            Target::Id(id) => {
                self.member_ref(id)
                    .filter(|m| m.admitted)
                    .ok_or(CommandError::UnknownMember(id))?;
                vec![id]
            }
            // A cascade's bridge is only ever addressed by its id: `mute
            // all` must not silence the other node's room.
            Target::All => self
                .members
                .iter()
                .filter(|m| m.admitted && !m.spec.bridge)
                .map(|m| m.id)
                .collect(),
            Target::NonModerator => self
                .members
                .iter()
                .filter(|m| m.admitted && !m.moderator && !m.spec.bridge)
                .map(|m| m.id)
                .collect(),
            Target::Last => self
                .members
                .iter()
                .filter(|m| m.admitted && !m.spec.bridge)
                .max_by_key(|m| (m.joined_at_ms, m.id))
                .map(|m| m.id)
                .into_iter()
                .collect(),
        };
        if ids.is_empty() {
            return Err(CommandError::NoMembers);
        }
        for id in &ids {
            f(self, *id)?;
        }
        Ok(format!(
            "{} member{}",
            ids.len(),
            if ids.len() == 1 { "" } else { "s" }
        ))
    }

    pub(super) fn play_room(&mut self, sound: Option<Arc<[i16]>>, except: Option<MemberId>) {
        if let Some(s) = sound {
            if self.players.len() < 8 {
                self.players.push(Player {
                    sound: s,
                    pos: 0,
                    except,
                    only: None,
                });
            }
        }
    }
}

fn adjust(current: f32, adj: Adjust, default: f32, step: f32, lo: f32, hi: f32) -> f32 {
    match adj {
        Adjust::To(v) => v,
        Adjust::Up => current + step,
        Adjust::Down => current - step,
        Adjust::Reset => default,
    }
    .clamp(lo, hi)
}

/// A command refused for a reason the caller can read.
fn invalid(why: &str) -> CommandError {
    CommandError::Invalid(why.to_string())
}
