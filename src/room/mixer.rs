//! The tick: inputs → one sum → the fewest distinct mixes → encoded once each.
//!
//! Listeners who hear exactly "everyone" (the usual case: silent listeners)
//! share one limited mix, and, per output format, one resample and one encode.
//! Only members whose mix differs get their own: a talker (the sum minus
//! itself), someone being coached, someone with relations, prompts or a gain.
//! Cost so grows with talkers and distinct formats, not with members.

use std::sync::Arc;

use crate::audio::limiter::Limiter;
use crate::audio::mix::{accumulate, accumulate_scaled, apply_gain_i16, db_to_q12, subtract};
use crate::audio::opus::EncoderSettings;
use crate::audio::vad::VadChange;

use crate::room::io::{Codec, OutFrame};

use super::log_limit::BAD_FRAME_LOG_EVERY_MS;
use super::member::{Member, MemberId, GATE_MARGIN_DB};
use super::out_stream::{Format, OutStream};
use super::{Room, TickSink};

/// A sound playing into the room (tones, `play`), or to one member.
pub(crate) struct Player {
    pub sound: Arc<[i16]>,
    pub pos: usize,
    /// The member who caused it and must not hear it (their own enter beep).
    pub except: Option<MemberId>,
    pub only: Option<MemberId>,
}

/// What a listener hears this tick.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Source {
    Silence,
    Moh,
    Everyone,
    Own,
}

/// A shared output: one source rendered for one format.
struct SharedOut {
    source: Source,
    key: (Format, Option<EncoderSettings>),
    stream: OutStream,
}

pub(crate) struct MixScratch {
    /// Samples per tick at the room rate.
    frame: usize,
    sum: Vec<i32>,
    everyone: Vec<i16>,
    everyone_tick: u64,
    everyone_limiter: Limiter,
    moh: Vec<i16>,
    moh_pos: usize,
    silence: Vec<i16>,
    contributors: Vec<usize>,
    /// (coached member, coach index) for whispers heard this tick, sorted by
    /// member: whether a listener is coached, and by whom, is a binary
    /// search, never a scan over the members or the whispers.
    whispers: Vec<(MemberId, usize)>,
    changes: Vec<(MemberId, VadChange, bool)>,
    shared: Vec<SharedOut>,
    tmp_i32: Vec<i32>,
    /// One listener's own mix and its limited output, reused for each member
    /// whose mix is theirs alone (they render one after another).
    own_mix: Vec<i32>,
    own_out: Vec<i16>,
    own_music: Vec<i16>,
    rng: u64,
}

impl MixScratch {
    /// The frame-sized buffers start empty: a tick borrows its thread's
    /// (see `TickBuffers`), so a room holds none of them between ticks.
    pub fn new(frame: usize, rate: u32, seed: u64) -> MixScratch {
        MixScratch {
            frame,
            sum: Vec::new(),
            everyone: Vec::new(),
            everyone_tick: u64::MAX,
            everyone_limiter: Limiter::new(rate),
            moh: Vec::new(),
            moh_pos: 0,
            silence: Vec::new(),
            contributors: Vec::new(),
            whispers: Vec::new(),
            changes: Vec::new(),
            shared: Vec::new(),
            tmp_i32: Vec::new(),
            own_mix: Vec::new(),
            own_out: Vec::new(),
            own_music: Vec::new(),
            rng: seed | 1,
        }
    }

    /// Trades the frame-sized buffers with `b`: once to lend them for a
    /// tick, once more to give them back.
    fn swap_buffers(&mut self, b: &mut TickBuffers) {
        std::mem::swap(&mut self.sum, &mut b.sum);
        std::mem::swap(&mut self.everyone, &mut b.everyone);
        std::mem::swap(&mut self.moh, &mut b.moh);
        std::mem::swap(&mut self.silence, &mut b.silence);
        std::mem::swap(&mut self.contributors, &mut b.contributors);
        std::mem::swap(&mut self.tmp_i32, &mut b.tmp_i32);
        std::mem::swap(&mut self.own_mix, &mut b.own_mix);
        std::mem::swap(&mut self.own_out, &mut b.own_out);
        std::mem::swap(&mut self.own_music, &mut b.own_music);
    }
}

/// The buffers a tick fills and forgets, one set per mixer thread instead
/// of one per room: 9 frames (7.5 KiB at 16 kHz, 22 KiB at 48 kHz) that
/// 10,000 rooms each held while only one room per thread mixes at a time.
/// A thread's set grows to the largest frame it has mixed and stays there,
/// so a tick allocates only the first time its thread meets a larger room
/// frame; in steady state, nothing.
#[derive(Default)]
struct TickBuffers {
    sum: Vec<i32>,
    everyone: Vec<i16>,
    moh: Vec<i16>,
    silence: Vec<i16>,
    contributors: Vec<usize>,
    tmp_i32: Vec<i32>,
    own_mix: Vec<i32>,
    own_out: Vec<i16>,
    own_music: Vec<i16>,
}

impl TickBuffers {
    /// Makes every buffer `frame` long; `silence` stays all zeros because
    /// nothing writes it and growing it fills with zeros.
    fn fit(&mut self, frame: usize) {
        self.sum.resize(frame, 0);
        self.everyone.resize(frame, 0);
        self.moh.resize(frame, 0);
        self.silence.resize(frame, 0);
        self.tmp_i32.resize(frame, 0);
        self.own_mix.resize(frame, 0);
        self.own_out.resize(frame, 0);
        self.own_music.resize(frame, 0);
        if self.contributors.capacity() < 64 {
            self.contributors.reserve(64);
        }
    }
}

thread_local! {
    static TICK_BUFFERS: std::cell::Cell<TickBuffers> = std::cell::Cell::new(TickBuffers::default());
}

/// The whispers `member` hears this tick: a slice of the sorted list.
fn whispers_to(whispers: &[(MemberId, usize)], member: MemberId) -> &[(MemberId, usize)] {
    let start = whispers.partition_point(|&(t, _)| t < member);
    let end = start + whispers[start..].partition_point(|&(t, _)| t == member);
    &whispers[start..end]
}

/// Copies the next `out.len()` samples of a looping sound.
fn loop_into(sound: &[i16], pos: &mut usize, out: &mut [i16]) {
    if sound.is_empty() {
        out.fill(0);
        return;
    }
    for s in out.iter_mut() {
        *s = sound[*pos % sound.len()];
        *pos = (*pos + 1) % sound.len();
    }
}

/// Adds (`sign` 1) or takes away (-1) the chunk of a one-shot sound that
/// plays this tick.
fn add_once(sound: &[i16], pos: usize, out: &mut [i32], sign: i32) {
    let end = (pos + out.len()).min(sound.len());
    if pos >= end {
        return;
    }
    for (o, s) in out.iter_mut().zip(&sound[pos..end]) {
        *o += sign * i32::from(*s);
    }
}

impl Room {
    /// One mixer tick at `now_ms`: the caller runs it every interval.
    pub fn tick(&mut self, now_ms: u64, sink: &mut dyn TickSink) {
        let mut buffers = TICK_BUFFERS.with(|b| b.take());
        buffers.fit(self.scratch.frame);
        self.scratch.swap_buffers(&mut buffers);
        self.tick_with_buffers(now_ms, sink);
        self.scratch.swap_buffers(&mut buffers);
        TICK_BUFFERS.with(|b| b.set(buffers));
    }

    fn tick_with_buffers(&mut self, now_ms: u64, sink: &mut dyn TickSink) {
        self.now_ms = now_ms;
        // Ticks the scheduler skipped (too far behind to catch up) took no
        // frame from anyone: each member's buffer holds that many more.
        let interval = u64::from(self.settings.interval_ms.max(1));
        if let Some(last) = self.last_tick_ms.replace(now_ms) {
            let skipped = now_ms.saturating_sub(last) / interval;
            if skipped > 1 {
                for m in self.members.iter_mut() {
                    m.input.ticks_skipped(skipped as usize - 1);
                }
            }
        }
        self.counters.ticks += 1;
        let tick = self.counters.ticks;
        self.pin_timeouts(now_ms);
        self.cascade_tick(now_ms);
        self.kicked_done(now_ms);
        if self.ended {
            return;
        }
        let rate = self.settings.rate;
        let started = self.started;

        // 1. Inputs: decode (or skip) one frame per member, run talk detection.
        let mut changes = std::mem::take(&mut self.scratch.changes);
        changes.clear();
        let skip_quiet = self.settings.skip_quiet_inputs;
        for m in self.members.iter_mut() {
            // Skipped and trimmed frames are exactly those the mixing gate
            // would refuse.
            let gate_dbov = m.energy_dbov - GATE_MARGIN_DB;
            let before = (m.counters.decodes, m.counters.decodes_skipped);
            if let Some(change) = m.input.pull(rate, gate_dbov, skip_quiet, &mut m.counters) {
                // Detection runs on everyone; events only follow members in
                // the conference's ears (not entering a PIN, on hold or being
                // shown out), and a stop only ends a start that was sent.
                let report = match change {
                    VadChange::Started => m.admitted && !m.hold && m.leaving_at_ms.is_none(),
                    VadChange::Stopped => m.in_speech,
                };
                if report {
                    m.in_speech = change == VadChange::Started;
                    changes.push((m.id, change, m.muted));
                }
            }
            self.counters.opus_decodes += m.counters.decodes - before.0;
            self.counters.decodes_skipped += m.counters.decodes_skipped - before.1;
            if let Some(e) = m.input.bad {
                if let Some(held) = m.decode_log.allow(now_ms, BAD_FRAME_LOG_EVERY_MS) {
                    log::warn!(target: "huddle::audio", "room {}: member {} ({}): frame not decoded: {e} ({} bad frames so far, {held} not logged since the last line)",
                        self.settings.name, m.id, m.spec.channel, m.counters.bad_frames);
                }
            }
        }
        self.names_done(now_ms);
        for &(id, change, muted) in &changes {
            let name = match (change, muted) {
                (VadChange::Started, false) => "participant-speech-start",
                (VadChange::Started, true) => "participant-speech-while-muted",
                (VadChange::Stopped, _) => "participant-speech-stop",
            };
            self.emit_for(name, id, vec![]);
        }
        self.scratch.changes = changes;

        // 2. Who is heard: audible and either talking or near the talk
        // threshold right now. Mixing does not wait for the detector's
        // hysteresis, so the frames that trigger it (the first syllable) are
        // mixed in the tick they arrive: no pre-roll delay is added to anyone.
        let scratch = &mut self.scratch;
        scratch.contributors.clear();
        for (i, m) in self.members.iter_mut().enumerate() {
            m.contributing = false;
            let audible = m.admitted
                && started
                && !m.muted
                && !m.hold
                && m.coaching.is_empty()
                && m.leaving_at_ms.is_none();
            let gate = m.input.has_audio
                && (m.talking() || m.input.level_dbov >= m.energy_dbov - GATE_MARGIN_DB);
            if audible && gate {
                scratch.contributors.push(i);
            }
        }
        let top_n = self.settings.top_n;
        if top_n > 0 && scratch.contributors.len() > top_n {
            let members = &self.members;
            scratch.contributors.sort_by(|a, b| {
                members[*b]
                    .input
                    .level_dbov
                    .total_cmp(&members[*a].input.level_dbov)
            });
            scratch.contributors.truncate(top_n);
        }
        for &i in &scratch.contributors {
            self.members[i].contributing = true;
        }
        // One entry per (coached, coach) pair of coaches heard this tick: the
        // cost follows the whispers, not the members they are whispered to.
        scratch.whispers.clear();
        for (i, c) in self.members.iter().enumerate() {
            if !c.coaching.is_empty()
                && c.admitted
                && c.input.has_audio
                && !c.muted
                && !c.hold
                && c.leaving_at_ms.is_none()
            {
                scratch
                    .whispers
                    .extend(c.coaching.iter().map(|&target| (target, i)));
            }
        }
        // In place: no allocation once the vector has grown to the room's
        // whisper count.
        scratch.whispers.sort_unstable();

        // 3. One sum of everything the room hears.
        scratch.sum.fill(0);
        for &i in &scratch.contributors {
            let m = &self.members[i];
            if m.in_gain_db == 0.0 {
                accumulate(&mut scratch.sum, &m.input.pcm);
            } else {
                accumulate_scaled(&mut scratch.sum, &m.input.pcm, db_to_q12(m.in_gain_db));
            }
        }
        for p in self.players.iter().filter(|p| p.only.is_none()) {
            add_once(&p.sound, p.pos, &mut scratch.sum, 1);
        }

        // 4. Each listener's source; shared ones render once per format.
        let frame = self.frame;
        let any_moh = self
            .members
            .iter()
            .any(|m| m.admitted && !m.deaf && (m.hold || !started) && m.hold_music.is_none());
        if any_moh {
            match &self.settings.sounds.moh {
                Some(music) => loop_into(music, &mut scratch.moh_pos, &mut scratch.moh),
                None => scratch.moh.fill(0),
            }
        }
        let mut encodes = 0u64;
        let members_len = self.members.len();
        for idx in 0..members_len {
            let source = {
                let m = &self.members[idx];
                let contributes = m.contributing;
                // Entering a PIN or being shown out: only their own prompts.
                if !m.admitted || m.leaving_at_ms.is_some() {
                    if m.prompts.is_empty() {
                        Source::Silence
                    } else {
                        Source::Own
                    }
                } else if m.deaf || (m.spec.bridge && !started) {
                    // The other node's room must not hear this one's music.
                    Source::Silence
                } else if m.hold || !started {
                    if m.prompts.is_empty() && m.hold_music.is_none() {
                        Source::Moh
                    } else {
                        Source::Own
                    }
                } else {
                    let coached = whispers_to(&self.scratch.whispers, m.id)
                        .iter()
                        .any(|&(_, ci)| ci != idx);
                    let related = m.no_hear.iter().any(|s| {
                        self.members
                            .binary_search_by_key(s, |o| o.id)
                            .is_ok_and(|i| self.members[i].contributing)
                    });
                    let excluded = self
                        .players
                        .iter()
                        .any(|p| p.except == Some(m.id) || p.only == Some(m.id));
                    if contributes
                        || coached
                        || related
                        || excluded
                        || !m.prompts.is_empty()
                        || m.out_gain_db != 0.0
                    {
                        Source::Own
                    } else {
                        Source::Everyone
                    }
                }
            };
            if source == Source::Own {
                self.render_own(idx, &mut encodes, sink);
                continue;
            }
            let scratch = &mut self.scratch;
            if source == Source::Everyone && scratch.everyone_tick != tick {
                if self.settings.limiter {
                    scratch
                        .everyone_limiter
                        .process(&scratch.sum, &mut scratch.everyone);
                } else {
                    for (o, s) in scratch.everyone.iter_mut().zip(&scratch.sum) {
                        *o = (*s).clamp(-32768, 32767) as i16;
                    }
                }
                comfort_noise(
                    &mut scratch.everyone,
                    self.settings.comfort_noise_dbov,
                    &mut scratch.rng,
                );
                scratch.everyone_tick = tick;
            }
            let m = &mut self.members[idx];
            let pcm: &[i16] = match source {
                Source::Silence => &scratch.silence,
                Source::Moh => &scratch.moh,
                _ => &scratch.everyone,
            };
            let settings = &m.spec.opus;
            if !self.settings.share_encodes {
                if m.out
                    .render(pcm, rate, m.out_format, settings, &mut encodes)
                {
                    m.counters.frames_out += 1;
                    send(sink, m, &m.out);
                }
                continue;
            }
            let key = (
                m.out_format,
                (m.out_format.codec == Codec::Opus).then_some(*settings),
            );
            let pos = match scratch
                .shared
                .iter()
                .position(|s| s.source == source && s.key == key)
            {
                Some(p) => p,
                None => {
                    // One more, not the next power of two: an output is
                    // ~0.5 KiB, and most rooms have one format.
                    scratch.shared.reserve_exact(1);
                    scratch.shared.push(SharedOut {
                        source,
                        key,
                        stream: OutStream::new(),
                    });
                    scratch.shared.len() - 1
                }
            };
            let shared = &mut scratch.shared[pos];
            if shared.stream.rendered_tick != tick {
                let ok = shared
                    .stream
                    .render(pcm, rate, m.out_format, settings, &mut encodes);
                shared.stream.rendered_tick = if ok { tick } else { u64::MAX - 1 };
            }
            if shared.stream.rendered_tick == tick {
                m.counters.frames_out += 1;
                send(sink, m, &shared.stream);
            }
        }
        // Formats nobody uses any more stop costing memory.
        if tick % 500 == 0 {
            self.scratch.shared.retain(|s| {
                s.stream.rendered_tick != u64::MAX && tick - s.stream.rendered_tick.min(tick) < 500
            });
        }
        let heard = !self.scratch.contributors.is_empty();
        self.recording_timeout(now_ms, heard);
        self.counters.opus_encodes += encodes;
        self.counters.last_tick_encodes = encodes as u32;
        self.counters.mixes += 1;

        // 5. The recording hears the room: talkers and room sounds, never hold music.
        if self.recording == super::RecordingState::Running {
            let scratch = &mut self.scratch;
            if scratch.everyone_tick != tick {
                scratch
                    .everyone_limiter
                    .process(&scratch.sum, &mut scratch.everyone);
                scratch.everyone_tick = tick;
            }
            sink.record(&scratch.everyone, !scratch.contributors.is_empty());
            if self.settings.multitrack {
                for m in self.members.iter().filter(|m| m.admitted) {
                    sink.record_member(
                        m.id,
                        if m.contributing {
                            &m.input.pcm
                        } else {
                            &scratch.silence
                        },
                    );
                }
            }
        }

        // 6. Advance sounds.
        for p in self.players.iter_mut() {
            p.pos += frame;
        }
        self.players.retain(|p| p.pos < p.sound.len());
        for m in self.members.iter_mut() {
            if let Some((sound, pos)) = m.prompts.front_mut() {
                *pos += frame;
                if *pos >= sound.len() {
                    m.prompts.pop_front();
                }
            }
        }
    }

    /// A listener whose mix is theirs alone.
    fn render_own(&mut self, idx: usize, encodes: &mut u64, sink: &mut dyn TickSink) {
        let started = self.started;
        let rate = self.settings.rate;
        let (before, after) = self.members.split_at_mut(idx);
        let (m, after) = after.split_first_mut().expect("idx < len");
        let scratch = &mut self.scratch;
        let mix = &mut scratch.own_mix;
        let waiting = !m.admitted || m.hold || !started;
        if !m.admitted || m.leaving_at_ms.is_some() {
            mix.fill(0);
        } else if waiting {
            match m
                .hold_music
                .clone()
                .or_else(|| self.settings.sounds.moh.clone())
            {
                Some(music) if m.hold_music.is_some() => {
                    loop_into(&music, &mut m.hold_pos, &mut scratch.own_music);
                    for (o, s) in mix.iter_mut().zip(&scratch.own_music) {
                        *o = i32::from(*s);
                    }
                }
                Some(_) => {
                    for (o, s) in mix.iter_mut().zip(&scratch.moh) {
                        *o = i32::from(*s);
                    }
                }
                None => mix.fill(0),
            }
        } else {
            if m.contributing {
                let own_scaled = m.in_gain_db != 0.0;
                if own_scaled {
                    scratch.tmp_i32.fill(0);
                    accumulate_scaled(&mut scratch.tmp_i32, &m.input.pcm, db_to_q12(m.in_gain_db));
                    for ((o, s), own) in mix.iter_mut().zip(&scratch.sum).zip(&scratch.tmp_i32) {
                        *o = s - own;
                    }
                } else {
                    subtract(&scratch.sum, &m.input.pcm, mix);
                }
            } else {
                mix.copy_from_slice(&scratch.sum);
            }
            for &(_, ci) in whispers_to(&scratch.whispers, m.id) {
                if ci == idx {
                    continue;
                }
                let o = if ci < idx {
                    &before[ci]
                } else {
                    &after[ci - idx - 1]
                };
                if m.no_hear.contains(&o.id) {
                    continue;
                }
                if o.in_gain_db == 0.0 {
                    accumulate(mix, &o.input.pcm);
                } else {
                    accumulate_scaled(mix, &o.input.pcm, db_to_q12(o.in_gain_db));
                }
            }
            for s in &m.no_hear {
                // Members are in id order: a binary search on each side.
                let other = match before.binary_search_by_key(s, |o| o.id) {
                    Ok(i) => Some(&before[i]),
                    Err(_) => after
                        .binary_search_by_key(s, |o| o.id)
                        .ok()
                        .map(|i| &after[i]),
                };
                if let Some(o) = other.filter(|o| o.contributing) {
                    scratch.tmp_i32.fill(0);
                    accumulate_scaled(&mut scratch.tmp_i32, &o.input.pcm, db_to_q12(o.in_gain_db));
                    for (x, v) in mix.iter_mut().zip(&scratch.tmp_i32) {
                        *x -= *v;
                    }
                }
            }
            for p in self.players.iter() {
                if p.except == Some(m.id) {
                    add_once(&p.sound, p.pos, mix, -1);
                }
            }
        }
        if let Some((sound, pos)) = m.prompts.front() {
            add_once(sound, *pos, mix, 1);
        }
        let out = &mut scratch.own_out;
        if self.settings.limiter {
            m.limiter.process(mix, out);
        } else {
            for (o, s) in out.iter_mut().zip(mix.iter()) {
                *o = (*s).clamp(-32768, 32767) as i16;
            }
        }
        if m.out_gain_db != 0.0 {
            apply_gain_i16(out, db_to_q12(m.out_gain_db));
        }
        if m.admitted && started && !m.hold {
            comfort_noise(out, self.settings.comfort_noise_dbov, &mut scratch.rng);
        }
        let format = m.out_format;
        let ok = m.out.render(out, rate, format, &m.spec.opus, encodes);
        if ok {
            m.counters.frames_out += 1;
            send(sink, m, &m.out);
        }
    }
}

fn send(sink: &mut dyn TickSink, m: &Member, stream: &OutStream) {
    let frame = OutFrame {
        codec: m.out_format.codec,
        rate: m.out_format.rate,
        samples: stream.samples,
        data: &stream.bytes,
    };
    sink.send_audio(m.id, &m.spec.channel, &frame);
}

/// Low-level white noise so a silent line does not sound dead. `level_dbov`
/// 0 means off. Seeded xorshift: reproducible, no allocation.
fn comfort_noise(buf: &mut [i16], level_dbov: f32, rng: &mut u64) {
    if level_dbov >= 0.0 {
        return;
    }
    // The level module's dBov is RMS against 32767; uniform noise in [-a, a]
    // has an RMS of a/sqrt(3).
    let rms = 32767.0 * 10f32.powf(level_dbov / 20.0);
    let amplitude = (rms * 3f32.sqrt()) as i32;
    if amplitude == 0 {
        return;
    }
    for s in buf.iter_mut() {
        *rng ^= *rng << 13;
        *rng ^= *rng >> 7;
        *rng ^= *rng << 17;
        let n = (*rng % (2 * amplitude as u64 + 1)) as i32 - amplitude;
        *s = (i32::from(*s) + n).clamp(-32768, 32767) as i16;
    }
}
