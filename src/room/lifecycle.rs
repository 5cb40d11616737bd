//! A member's way through a room and the room's own life: join, PIN entry,
//! admission, the start when the first moderator arrives, leave, kick,
//! hangups, the end, and the timers (linger, name recording, PIN timeout)
//! that move them along.

use super::*;

impl Room {
    /// A caller arrives. Checks run in the documented order: PIN, lock, size.
    pub fn join(&mut self, mut spec: MemberSpec, now_ms: u64) -> Result<MemberId, Refusal> {
        self.now_ms = now_ms;
        // The leg this room's cascade dialled skips the PIN: no caller can
        // present a `to` that is a URI.
        let dialled = self.cascade_claims(&spec.to);
        spec.bridge |= dialled;
        spec.ghost |= spec.bridge;
        if spec.bridge && spec.jitter_frames.is_none() {
            spec.jitter_frames = Some(self.settings.bridge_jitter_frames);
        }
        if self.ended {
            return Err(Refusal {
                cause: cause::NORMAL_CLEARING,
                reason: "the conference has ended",
            });
        }
        if self.members.len() >= 1000 + 16 {
            return Err(Refusal {
                cause: cause::NO_CIRCUIT,
                reason: "too many callers are waiting to enter",
            });
        }
        let id = self.next_id;
        self.next_id += 1;
        let settings = &self.settings;
        let vad = Vad::new(settings.vad, settings.interval_ms);
        let depth = spec.jitter_frames.unwrap_or(settings.jitter_frames);
        let needs_pin = (settings.pin.is_some() || settings.host_pin.is_some()) && !dialled;
        let member = Member {
            id,
            tag: Arc::new(crate::room::events::MemberTag {
                call_id: spec.call_id.clone(),
                from: spec.from.clone(),
                to: spec.to.clone(),
                label: spec.label.clone(),
            }),
            joined_at_ms: now_ms,
            admitted: false,
            moderator: spec.moderator,
            muted: spec.muted,
            deaf: spec.deaf,
            hold: spec.hold,
            coaching: Vec::new(),
            input: Input::new(
                self.frame,
                depth,
                vad,
                if spec.bridge {
                    Pacing::BRIDGE
                } else {
                    Pacing::PHONE
                },
            ),
            in_gain_db: 0.0,
            out_gain_db: 0.0,
            energy_dbov: settings.vad.threshold_dbov,
            // Until the member's first frame shows its format: what the app args
            // said, else L16 at the room rate. Opus goes out at 48 kHz unless the
            // room rate is one Opus has; G.711 has only 8 kHz.
            out_format: match spec.out_codec {
                Some(codec @ (crate::room::io::Codec::Pcmu | crate::room::io::Codec::Pcma)) => {
                    Format {
                        codec,
                        rate: crate::audio::g711::RATE,
                    }
                }
                Some(crate::room::io::Codec::Opus) => Format {
                    codec: crate::room::io::Codec::Opus,
                    rate: if crate::audio::opus::OPUS_RATES.contains(&settings.rate) {
                        settings.rate
                    } else {
                        48_000
                    },
                },
                _ => Format {
                    codec: crate::room::io::Codec::L16,
                    rate: settings.rate,
                },
            },
            limiter: Limiter::new(settings.rate),
            out: out_stream::OutStream::new(),
            contributing: false,
            in_speech: false,
            prompts: VecDeque::new(),
            hold_music: spec.wait_music.clone(),
            hold_pos: 0,
            pin: None,
            counters: MemberCounters::default(),
            decode_log: LogLimit::new(),
            no_hear: Vec::new(),
            leaving_at_ms: None,
            naming_until_ms: None,
            name_buf: Vec::new(),
            name_clip: None,
            spec,
        };
        self.members.push(member);
        if needs_pin {
            if self.pin_rate_limited(now_ms) {
                log::warn!(target: "huddle::pin", "room {}: PIN attempt refused, {} failures in the last minute",
                    self.settings.name, self.settings.pin_failures_per_minute);
                self.remove_silently(id);
                self.emit_refusal("pin-rate-limited", None);
                return Err(Refusal {
                    cause: cause::CALL_REJECTED,
                    reason: "too many PIN failures in the last minute",
                });
            }
            let presented = self.member_mut(id).and_then(|m| m.spec.pin.clone());
            match presented {
                Some(pin) => {
                    if let Some(m) = self.member_mut(id) {
                        m.pin = Some(PinEntry {
                            digits: pin,
                            tries: 0,
                            deadline_ms: now_ms,
                        });
                    }
                    return match self.finish_pin(id, now_ms) {
                        // Refused at the door (locked, full, out of tries):
                        // the caller must not stay behind as a member.
                        Some(refusal) => {
                            self.remove_silently(id);
                            Err(refusal)
                        }
                        None if self.members.iter().any(|m| m.id == id) => Ok(id),
                        None => Err(Refusal {
                            cause: cause::CALL_REJECTED,
                            reason: "wrong PIN",
                        }),
                    };
                }
                None => {
                    let first = self.settings.pin_first_digit_timeout_ms;
                    let prompt = self.settings.sounds.pin.clone();
                    if let Some(m) = self.member_mut(id) {
                        m.pin = Some(PinEntry {
                            digits: String::new(),
                            tries: 0,
                            deadline_ms: now_ms + first,
                        });
                        m.queue_prompt(&prompt);
                    }
                    return Ok(id);
                }
            }
        }
        match self.admit(id, now_ms) {
            Ok(()) => {
                if dialled {
                    let to = self.member_ref(id).map(|m| m.spec.to.clone());
                    self.cascade_joined(id, to.as_deref().unwrap_or_default());
                }
                Ok(id)
            }
            Err(refusal) => {
                self.remove_silently(id);
                Err(refusal)
            }
        }
    }

    /// A digit typed during PIN entry. Returns false when the member is not
    /// entering a PIN (the digit is then a caller control).
    pub fn pin_digit(&mut self, id: MemberId, digit: char, now_ms: u64) -> bool {
        self.now_ms = now_ms;
        let inter = self.settings.pin_inter_digit_timeout_ms;
        let Some(m) = self.member_mut(id) else {
            return false;
        };
        let Some(entry) = m.pin.as_mut() else {
            return false;
        };
        if digit == '#' {
            entry.deadline_ms = now_ms;
            self.finish_pin_or_hangup(id, now_ms);
        } else if entry.digits.len() < 20 {
            entry.digits.push(digit);
            entry.deadline_ms = now_ms + inter;
            // A prompt stops when the caller starts typing.
            m.prompts.clear();
        } else {
            // Longer than any PIN can be: check now rather than buffer more.
            entry.deadline_ms = now_ms;
            self.finish_pin_or_hangup(id, now_ms);
        }
        true
    }

    /// The room's wrong-PIN budget for the last minute is spent
    /// (`pin_failures_per_minute`; 0 = no limit).
    pub(super) fn pin_rate_limited(&mut self, now_ms: u64) -> bool {
        let limit = self.settings.pin_failures_per_minute as usize;
        limit > 0 && self.failures.count(now_ms) >= limit
    }

    pub(super) fn finish_pin_or_hangup(&mut self, id: MemberId, now_ms: u64) {
        if let Some(refusal) = self.finish_pin(id, now_ms) {
            self.hang_up(id, refusal.cause, refusal.reason);
        }
    }

    /// Checks a finished entry. Returns a refusal when the caller must go.
    pub(super) fn finish_pin(&mut self, id: MemberId, now_ms: u64) -> Option<Refusal> {
        let (pin, host_pin) = (self.settings.pin.clone(), self.settings.host_pin.clone());
        let max_tries = self.settings.pin_tries.max(1);
        let first = self.settings.pin_first_digit_timeout_ms;
        let bad_pin = self.settings.sounds.bad_pin.clone();
        // Checked per attempt, not only at the door: callers who all reach
        // the prompt first would otherwise each get their own tries, and the
        // room's budget would not bound the guesses.
        if self.member_ref(id)?.pin.is_some() && self.pin_rate_limited(now_ms) {
            log::warn!(target: "huddle::pin", "room {}: PIN attempt refused unchecked, {} failures in the last minute",
                self.settings.name, self.settings.pin_failures_per_minute);
            self.emit_refusal("pin-rate-limited", Some(id));
            return Some(Refusal {
                cause: cause::CALL_REJECTED,
                reason: "too many PIN failures in the last minute",
            });
        }
        let m = self.member_mut(id)?;
        let entry = m.pin.as_mut()?;
        let digits = std::mem::take(&mut entry.digits);
        match check_pin(&digits, pin.as_deref(), host_pin.as_deref()) {
            PinCheck::Host | PinCheck::Room => {
                let host =
                    check_pin(&digits, pin.as_deref(), host_pin.as_deref()) == PinCheck::Host;
                m.pin = None;
                m.prompts.clear();
                if host {
                    m.moderator = true;
                    m.spec.start_on_enter = true;
                }
                self.admit(id, now_ms).err()
            }
            PinCheck::Wrong => {
                entry.tries += 1;
                let tries = entry.tries;
                entry.deadline_ms = now_ms + first;
                m.queue_prompt(&bad_pin);
                self.failures.record(now_ms);
                self.last_failure_ms = Some(now_ms);
                let call_id = self
                    .member_ref(id)
                    .map(|m| m.spec.call_id.clone())
                    .unwrap_or_default();
                log::info!(target: "huddle::pin", "room {}: wrong PIN from call {} (try {tries} of {max_tries})",
                    self.settings.name, call_id);
                self.emit_for(
                    "pin-failed",
                    id,
                    vec![
                        ("Attempt", tries.to_string()),
                        ("MaxAttempts", max_tries.to_string()),
                    ],
                );
                if tries >= max_tries {
                    return Some(Refusal {
                        cause: cause::CALL_REJECTED,
                        reason: "wrong PIN",
                    });
                }
                if self.pin_rate_limited(now_ms) {
                    log::warn!(target: "huddle::pin", "room {}: PIN entry locked out, {} failures in the last minute",
                        self.settings.name, self.settings.pin_failures_per_minute);
                    return Some(Refusal {
                        cause: cause::CALL_REJECTED,
                        reason: "too many PIN failures in the last minute",
                    });
                }
                None
            }
        }
    }

    pub(super) fn admit(&mut self, id: MemberId, now_ms: u64) -> Result<(), Refusal> {
        if self.locked {
            self.emit_refusal("locked", Some(id));
            return Err(Refusal {
                cause: cause::CALL_REJECTED,
                reason: "the conference is locked",
            });
        }
        let limit = self
            .member_ref(id)
            .and_then(|m| m.spec.max_participants)
            .map_or(self.settings.max_members, |mp| {
                mp.min(self.settings.max_members)
            });
        if self.member_count() >= limit as usize {
            self.emit_refusal("full", Some(id));
            return Err(Refusal {
                cause: cause::NO_CIRCUIT,
                reason: "the conference is full",
            });
        }
        // `coach=<CallSid>` names one call; the API may set more later.
        let coach_target = self.member_ref(id).and_then(|m| m.spec.coach.clone());
        let coaching = match coach_target {
            Some(call_id) => match self
                .members
                .iter()
                .find(|m| m.admitted && m.spec.call_id == call_id)
            {
                Some(target) => Some(vec![target.id]),
                None => {
                    log::warn!(target: "huddle::room", "room {}: coach refused, call {call_id} is not in the room",
                        self.settings.name);
                    self.emit_refusal("coach-target-absent", Some(id));
                    return Err(Refusal {
                        cause: cause::CALL_REJECTED,
                        reason: "the call to coach is not in the room",
                    });
                }
            },
            None => None,
        };
        let announce_name = self
            .member_ref(id)
            .and_then(|m| m.spec.announce_name)
            .unwrap_or(self.settings.announce_caller_name);
        if announce_name {
            let prompt = self.settings.sounds.name_prompt.clone();
            let rate = u64::from(self.settings.rate);
            let name_len = (NAME_MS * rate / 1000) as usize;
            if let Some(m) = self
                .member_mut(id)
                .filter(|m| m.name_clip.is_none() && !m.spec.ghost)
            {
                if m.naming_until_ms.is_none() {
                    // First the caller says their name after the tone; the join
                    // completes when that time is up (see `names_done`).
                    m.queue_prompt(&prompt);
                    let prompt_ms = prompt.as_ref().map_or(0, |p| p.len() as u64 * 1000 / rate);
                    m.naming_until_ms = Some(now_ms + prompt_ms + NAME_MS);
                    m.name_buf = Vec::with_capacity(name_len);
                    return Ok(());
                }
            }
        }
        let mute_on_entry = self.settings.mute_on_entry;
        let wait_for_host = self.settings.wait_for_host;
        let mute_nm = self.mute_non_moderators;
        let first_time_setter = self
            .member_ref(id)
            .map(|m| m.spec.first_setter.clone())
            .unwrap_or_default();
        self.adopt_first_setter(first_time_setter);
        let Some(m) = self.member_mut(id) else {
            return Err(Refusal {
                cause: cause::NORMAL_CLEARING,
                reason: "the caller left",
            });
        };
        m.admitted = true;
        m.joined_at_ms = now_ms;
        if let Some(targets) = coaching {
            m.coaching = targets;
        }
        let coaching = !m.coaching.is_empty();
        if !m.moderator && !m.spec.bridge && (mute_on_entry || mute_nm) {
            m.muted = true;
        }
        if wait_for_host && !m.moderator {
            m.spec.start_on_enter = false;
        }
        let (beep, ghost) = (m.spec.beep, m.spec.ghost);
        self.end_below_two |= m.spec.min_two;
        self.ever_admitted = true;
        self.last_joined = Some(id);
        let first_admitted = self.member_count() == 1;
        if first_admitted && (self.settings.auto_record) && self.settings.recording_enabled {
            self.start_recording(None, "auto-start");
        }
        self.emit_for("participant-join", id, vec![]);
        if coaching {
            self.emit_for("participant-coach", id, vec![]);
        }
        let was_started = self.started;
        self.check_start(now_ms);
        // A join that starts the conference is announced too when the caller
        // recorded a name: the members who waited must hear who arrived.
        let name = self
            .member_ref(id)
            .and_then(|m| m.name_clip.clone())
            .filter(|n| !n.is_empty());
        if self.announce
            && beep.on_enter()
            && self.started
            && !ghost
            && (was_started || name.is_some())
        {
            let tone = self
                .member_ref(id)
                .and_then(|m| m.spec.enter_sound.clone())
                .or_else(|| self.settings.sounds.enter.clone());
            self.play_room(then(tone, name), Some(id));
        }
        if !self.started && self.member_count() == 1 && !ghost {
            let alone = self.settings.sounds.alone.clone();
            if let Some(m) = self.member_mut(id) {
                m.queue_prompt(&alone);
            }
        }
        Ok(())
    }

    pub(super) fn adopt_first_setter(&mut self, offered: FirstSetter) {
        // The status callback is in every event's shared strings.
        self.event_tag = None;
        let f = &mut self.first;
        if f.status_callback.is_none() && offered.status_callback.is_some() {
            f.status_callback = offered.status_callback;
            f.status_callback_method = offered.status_callback_method;
        }
        if f.recording_status_callback.is_none() && offered.recording_status_callback.is_some() {
            f.recording_status_callback = offered.recording_status_callback;
            f.recording_status_callback_method = offered.recording_status_callback_method;
        }
        fn keep_first<T>(slot: &mut Option<T>, offered: Option<T>) {
            if slot.is_none() {
                *slot = offered;
            }
        }
        keep_first(&mut f.status_callback_event, offered.status_callback_event);
        keep_first(
            &mut f.recording_status_callback_event,
            offered.recording_status_callback_event,
        );
        keep_first(&mut f.record_from_start, offered.record_from_start);
        keep_first(&mut f.trim_silence, offered.trim_silence);
        keep_first(&mut f.event_callback_url, offered.event_callback_url);
        keep_first(&mut f.record_beep, offered.record_beep);
        keep_first(&mut f.recording_timeout_ms, offered.recording_timeout_ms);
    }

    /// The conference starts once two members are in and one of them may start it.
    pub(super) fn check_start(&mut self, now_ms: u64) {
        if self.started || self.ended {
            return;
        }
        let admitted: Vec<&Member> = self
            .members
            .iter()
            .filter(|m| m.admitted && !m.spec.ghost)
            .collect();
        if admitted.len() >= 2 && admitted.iter().any(|m| m.spec.start_on_enter) {
            self.started = true;
            self.started_ms = Some(now_ms);
            for m in self.members.iter_mut() {
                m.prompts.clear();
            }
            self.emit("conference-start", vec![]);
            if self.first.record_from_start == Some(true) && self.settings.recording_enabled {
                self.start_recording(None, "record-from-start");
            }
        }
    }

    pub(super) fn start_recording(&mut self, path: Option<String>, source: &str) -> bool {
        if self.recording != RecordingState::Off || !self.settings.recording_enabled {
            return false;
        }
        self.recording = RecordingState::Running;
        self.last_heard_ms = self.now_ms;
        self.outputs
            .push_back(Output::Recording(RecordingCommand::Start {
                path,
                source: source.to_string(),
            }));
        if self.first.record_beep.unwrap_or(self.settings.record_beep) {
            let beep = self.settings.sounds.record_beep.clone();
            self.play_room(beep, None);
        }
        true
    }

    pub(super) fn stop_recording(&mut self, reason: &str) {
        if self.recording != RecordingState::Off {
            self.recording = RecordingState::Off;
            self.outputs
                .push_back(Output::Recording(RecordingCommand::Stop {
                    reason: reason.to_string(),
                }));
        }
    }

    /// The runtime says the recording stopped by itself (disk error, timeout).
    pub fn recording_ended(&mut self) {
        self.recording = RecordingState::Off;
    }

    /// The host says the leg is gone.
    pub fn hangup(&mut self, id: MemberId, now_ms: u64) {
        self.now_ms = now_ms;
        self.leave(id, "hangup");
    }

    pub(super) fn leave(&mut self, id: MemberId, reason: &str) {
        let Some(idx) = self.members.iter().position(|m| m.id == id) else {
            return;
        };
        let was_admitted = self.members[idx].admitted;
        if was_admitted {
            if std::mem::take(&mut self.members[idx].in_speech) {
                self.emit_for("participant-speech-stop", id, vec![]);
            }
            let (beep, ghost) = (self.members[idx].spec.beep, self.members[idx].spec.ghost);
            self.emit_for(
                "participant-leave",
                id,
                vec![("Reason", reason.to_string())],
            );
            if self.announce && beep.on_exit() && self.started && !ghost {
                let tone = self.members[idx]
                    .spec
                    .exit_sound
                    .clone()
                    .or_else(|| self.settings.sounds.exit.clone());
                let name = self.members[idx].name_clip.clone();
                self.play_room(then(tone, name), Some(id));
            }
        }
        let end_on_exit = self.members[idx].spec.end_on_exit && was_admitted;
        let call_id = self.members[idx].spec.call_id.clone();
        self.members.remove(idx);
        for m in self.members.iter_mut() {
            m.no_hear.retain(|x| *x != id);
            m.coaching.retain(|x| *x != id);
        }
        self.players.retain(|p| p.only != Some(id));
        self.cascade_left(id);
        if end_on_exit && !self.ended {
            self.end("participant-with-end-conference-on-exit-left", call_id);
        } else if was_admitted && self.member_count() == 0 && !self.ended {
            self.end("last-participant-left", call_id);
        } else if was_admitted && self.end_below_two && self.member_count() < 2 && !self.ended {
            self.end("fewer-than-two-participants", call_id);
        } else if self.members.is_empty() && !self.ended {
            // Only callers who never got in: no conference to end, just go,
            // unless recent wrong PINs must be remembered (see `linger_over`).
            self.linger_over(self.now_ms);
        }
    }

    /// A room nobody got into stays while its PIN failure window holds
    /// failures: ending it would forget them, and a guesser calling into an
    /// empty room again and again would meet a fresh limit every time.
    pub(super) fn linger_over(&mut self, now_ms: u64) {
        if self.members.is_empty()
            && !self.started
            && !self.ended
            && self.failures.count(now_ms) == 0
        {
            self.ended = true;
        }
    }

    /// Ends the conference: every remaining leg is hung up.
    /// The kicked member hears the kicked prompt, is no longer heard, and is
    /// hung up when the prompt ends (at once when there is no prompt).
    pub(super) fn kick(&mut self, id: MemberId) {
        let now = self.now_ms;
        let (sound, rate) = (
            self.settings.sounds.kicked.clone(),
            u64::from(self.settings.rate),
        );
        match (sound, self.member_mut(id)) {
            (Some(sound), Some(m)) => {
                m.prompts.clear();
                m.queue_prompt(&Some(sound.clone()));
                m.leaving_at_ms = Some(now + sound.len() as u64 * 1000 / rate.max(1));
                m.input.reset_vad();
                if std::mem::take(&mut m.in_speech) {
                    self.emit_for("participant-speech-stop", id, vec![]);
                }
            }
            _ => self.hang_up(id, cause::NORMAL_CLEARING, "kicked"),
        }
    }

    /// Keeps what a naming member says; completes their join when time is up.
    pub(super) fn names_done(&mut self, now_ms: u64) {
        let rate = self.settings.rate;
        let mut due = Vec::new();
        for m in self.members.iter_mut() {
            let Some(until) = m.naming_until_ms else {
                continue;
            };
            if m.prompts.is_empty() && m.name_buf.len() < m.name_buf.capacity() {
                let room = m.name_buf.capacity() - m.name_buf.len();
                let take = room.min(m.input.pcm.len());
                // A quiet frame's pcm is not filled in: it is a pause.
                if m.input.has_audio {
                    m.name_buf.extend_from_slice(&m.input.pcm[..take]);
                } else {
                    m.name_buf.resize(m.name_buf.len() + take, 0);
                }
            }
            if now_ms >= until {
                let kept = crate::audio::wav::trim_silence(&m.name_buf, NAME_SILENCE_DBOV, rate);
                let clip: Arc<[i16]> = m.name_buf[kept].into();
                // Said nothing: an empty name, so they are not asked again.
                m.name_clip = Some(clip);
                m.name_buf = Vec::new();
                m.naming_until_ms = None;
                due.push(m.id);
            }
        }
        for id in due {
            if let Err(refusal) = self.admit(id, now_ms) {
                self.hang_up(id, refusal.cause, refusal.reason);
            }
        }
    }

    /// Stops a recording nobody has been heard in for `recording_timeout_s`.
    pub(super) fn recording_timeout(&mut self, now_ms: u64, heard: bool) {
        if heard {
            self.last_heard_ms = now_ms;
        }
        let timeout = self
            .first
            .recording_timeout_ms
            .unwrap_or(self.settings.recording_timeout_ms);
        if timeout > 0
            && self.recording == RecordingState::Running
            && now_ms.saturating_sub(self.last_heard_ms) >= timeout
        {
            log::info!(target: "huddle::recording", "room {}: nobody heard for {} s, recording stops",
                self.settings.name, timeout / 1000);
            self.stop_recording("timeout");
        }
    }

    /// Hangs up kicked members whose prompt has played (called by the tick).
    pub(super) fn kicked_done(&mut self, now_ms: u64) {
        let due: Vec<MemberId> = self
            .members
            .iter()
            .filter(|m| m.leaving_at_ms.is_some_and(|t| now_ms >= t))
            .map(|m| m.id)
            .collect();
        for id in due {
            self.hang_up(id, cause::NORMAL_CLEARING, "kicked");
        }
    }

    pub(super) fn end(&mut self, reason: &str, ended_by: String) {
        self.stop_recording("conference-end");
        self.ended = true;
        let ids: Vec<MemberId> = self.members.iter().map(|m| m.id).collect();
        for id in ids {
            self.hang_up(id, cause::NORMAL_CLEARING, reason);
        }
        // A room nobody ever got into had no conference to end.
        if self.ever_admitted {
            // Whole seconds from conference-start (0 if it never started).
            let duration_s = self
                .started_ms
                .map_or(0, |t| self.now_ms.saturating_sub(t) / 1000);
            // Always present, so a receiver can rely on the keys; empty when
            // no call ended it (the API's `end`).
            let mut fields = vec![
                ("ReasonConferenceEnded", reason.to_string()),
                ("CallSidEndingConference", ended_by.clone()),
                ("CallSidLegacy", ended_by),
                ("ConferenceDuration", duration_s.to_string()),
            ];
            if let Some(url) = &self.first.event_callback_url {
                fields.push(("EventCallbackUrl", url.clone()));
            }
            self.emit("conference-end", fields);
        }
    }

    /// Removes a member huddle decided to drop and tells the host to hang up.
    pub(super) fn hang_up(&mut self, id: MemberId, cause: u32, reason: &str) {
        let Some(m) = self.member_ref(id) else { return };
        let channel = m.spec.channel.clone();
        let ending = self.ended;
        if ending {
            // The conference is already over: say who left, without starting another end.
            if let Some(idx) = self.members.iter().position(|m| m.id == id) {
                if self.members[idx].admitted {
                    if std::mem::take(&mut self.members[idx].in_speech) {
                        self.emit_for("participant-speech-stop", id, vec![]);
                    }
                    self.emit_for(
                        "participant-leave",
                        id,
                        vec![("Reason", reason.to_string())],
                    );
                }
                self.members.remove(idx);
            }
        } else {
            self.leave(id, reason);
        }
        self.outputs.push_back(Output::Hangup {
            member: id,
            channel,
            cause,
        });
    }

    pub(super) fn remove_silently(&mut self, id: MemberId) {
        self.members.retain(|m| m.id != id);
        if self.members.is_empty() && !self.started && self.seq == 0 {
            self.ended = true;
        }
    }

    /// PIN-entry timeouts: called by the tick.
    pub(super) fn pin_timeouts(&mut self, now_ms: u64) {
        let due: Vec<MemberId> = self
            .members
            .iter()
            .filter(|m| m.pin.as_ref().is_some_and(|p| now_ms >= p.deadline_ms))
            .map(|m| m.id)
            .collect();
        for id in due {
            self.finish_pin_or_hangup(id, now_ms);
        }
        if self.members.is_empty() {
            self.linger_over(now_ms);
        }
    }
}
