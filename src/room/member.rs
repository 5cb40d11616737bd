//! One member of a room: flags, and the input pipeline that turns received
//! frames into one room-rate PCM frame per tick.

use std::collections::VecDeque;
use std::sync::Arc;

use crate::audio::level::{rfc6464_to_dbov, rms_dbov, SILENCE_DBOV};
use crate::audio::limiter::Limiter;
use crate::audio::opus::{OpusDecoder, OpusError, OPUS_RATES};
use crate::audio::opus_packet::{silk_has_fec, silk_voice_activity};
use crate::audio::resample::Resampler;
use crate::audio::vad::{Vad, VadChange};
use crate::room::io::Codec;

use super::out_stream::{Format, OutStream};
use super::settings::MemberSpec;

/// Per-room member number, shown by `conference list` and used by the API.
pub type MemberId = u32;

/// Most members one coach whispers to at once (the API's id-list bound).
pub const MAX_COACHED: usize = 64;

/// A frame as the host handed it, before decoding.
#[derive(Debug, Clone)]
pub struct InFrame {
    pub codec: Codec,
    pub rate: u32,
    pub samples: u32,
    pub data: Vec<u8>,
    pub audio_level: Option<u8>,
    pub sequence: Option<u16>,
}

/// Why a frame was refused at the door.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FrameError {
    Rate(u32),
    Length {
        expected: usize,
        got: usize,
    },
    /// `samples` disagrees with the L16 payload's length.
    Samples {
        declared: u32,
        len: usize,
    },
    Empty,
}

impl std::fmt::Display for FrameError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FrameError::Rate(r) => write!(
                f,
                "sample rate {r} is not one of 8000/16000/24000/32000/48000"
            ),
            FrameError::Length { expected, got } => {
                write!(
                    f,
                    "L16 frame of {got} bytes, expected {expected} for one interval"
                )
            }
            FrameError::Samples { declared, len } => write!(
                f,
                "L16 frame declares {declared} samples but holds {len} bytes (samples * 2 expected)"
            ),
            FrameError::Empty => write!(f, "empty Opus packet"),
        }
    }
}

/// Why a frame that passed the door could not be played: counted in
/// `bad_frames` and logged (rate-limited) by the tick.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecodeError {
    /// libopus refused the packet (corrupt, or longer than 120 ms).
    Opus(OpusError),
    /// It decoded, but not to one interval of audio.
    Duration { got: usize, expected: usize },
    /// No resampler from the frame's rate to the room's.
    Resample { from: u32, to: u32 },
}

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DecodeError::Opus(e) => write!(f, "{e}"),
            DecodeError::Duration { got, expected } => {
                write!(f, "frame holds {got} samples, one interval is {expected}")
            }
            DecodeError::Resample { from, to } => {
                write!(f, "cannot resample {from} Hz to {to} Hz")
            }
        }
    }
}

/// Checks what can be checked without decoding, on the host thread; `len` is
/// the payload's length (the payload itself may still be the host's).
pub fn validate_frame(frame: &InFrame, len: usize, interval_ms: u32) -> Result<(), FrameError> {
    if !crate::audio::ROOM_RATES.contains(&frame.rate) {
        return Err(FrameError::Rate(frame.rate));
    }
    match frame.codec {
        Codec::L16 => {
            let expected = crate::audio::frame_samples(frame.rate, interval_ms) * 2;
            if len != expected {
                return Err(FrameError::Length { expected, got: len });
            }
            // A host that fills `samples` from one source and `len` from
            // another has a bug: refuse rather than guess which is right.
            if usize::try_from(frame.samples)
                .ok()
                .and_then(|s| s.checked_mul(2))
                != Some(len)
            {
                return Err(FrameError::Samples {
                    declared: frame.samples,
                    len,
                });
            }
        }
        Codec::Opus => {
            if len == 0 {
                return Err(FrameError::Empty);
            }
        }
    }
    Ok(())
}

#[derive(Debug, Default, Clone, Copy)]
pub struct MemberCounters {
    pub frames_in: u64,
    pub frames_out: u64,
    pub dropped: u64,
    pub concealed: u64,
    /// Lost Opus frames rebuilt from the next packet's FEC.
    pub fec_recovered: u64,
    pub decodes: u64,
    pub decodes_skipped: u64,
    pub encodes: u64,
    pub bad_frames: u64,
}

/// The mixing gate opens this far below the talk threshold, so soft onsets
/// are heard while an open microphone's noise floor (-65 dBov and below at the
/// default -45 dBov threshold) stays out of the mix.
pub(crate) const GATE_MARGIN_DB: f32 = 15.0;

pub(crate) struct Input {
    jitter: VecDeque<InFrame>,
    depth: usize,
    playing: bool,
    decoder: Option<OpusDecoder>,
    /// The last Opus packet skipped as silent, decoded just before the next
    /// packet that is not: a decoder that has not seen the packet before a
    /// talk spurt (a fresh one, or one last fed a spurt ago) decodes the
    /// spurt's first frames against the wrong gains and band energies, up to
    /// 17 dB loud. One extra decode per spurt puts it where a continuously
    /// decoding one would be.
    primer: Vec<u8>,
    resampler: Option<(u32, Resampler)>,
    scratch: Vec<i16>,
    /// This tick's audio at the room rate.
    pub pcm: Vec<i16>,
    /// The last real frame, faded out over the next one when L16 frames go missing.
    fade_from: Option<usize>,
    pub level_dbov: f32,
    pub vad: Vad,
    /// True when this tick's pcm holds sound (not skipped, not absent).
    pub has_audio: bool,
    /// Why this tick's frame could not be played, for the tick to log.
    pub bad: Option<DecodeError>,
    /// RTP sequence of the last slot played (a packet, or concealment in
    /// its place), to find lost packets.
    last_seq: Option<u16>,
    /// RTP sequence of the last packet actually played.
    last_played: Option<u16>,
    /// Payload buffers of frames played or dropped, for the host side to
    /// refill: a steady stream then allocates nothing per frame.
    spent: Vec<Vec<u8>>,
}

/// Spent payload buffers a member keeps for reuse; more are freed.
pub const SPARE_BUFFERS: usize = 2;

/// A sequence jump up to this many packets is loss; more is a new stream.
const MAX_GAP: u16 = 5;

/// A packet up to this many behind the last one played is a duplicate or
/// overtaken, and is dropped; further back is a new stream.
const MAX_LATE: u16 = 32;

/// Frames beyond this many waiting are flooding; the oldest go.
pub const JITTER_SLACK: usize = 2;

impl Input {
    pub fn new(frame: usize, depth: usize, vad: Vad) -> Input {
        Input {
            // Grows to depth + slack with the member's first frames and stays
            // there; a member that never sends (a listener) holds none.
            jitter: VecDeque::new(),
            depth: depth.clamp(1, 10),
            playing: false,
            decoder: None,
            primer: Vec::new(),
            resampler: None,
            // Sized when first needed: only members whose input is resampled.
            scratch: Vec::new(),
            pcm: vec![0; frame],
            fade_from: None,
            level_dbov: -127.0,
            vad,
            has_audio: false,
            bad: None,
            last_seq: None,
            last_played: None,
            spent: Vec::new(),
        }
    }

    /// Frames waiting in the jitter buffer.
    pub fn queued(&self) -> usize {
        self.jitter.len()
    }

    fn spend(&mut self, frame: InFrame) {
        self.recycle(frame.data);
    }

    fn recycle(&mut self, data: Vec<u8>) {
        if self.spent.len() < SPARE_BUFFERS && data.capacity() > 0 {
            self.spent.push(data);
        }
    }

    /// Hands back the payload buffers spent since the last call.
    pub fn take_spent(&mut self) -> impl Iterator<Item = Vec<u8>> + '_ {
        self.spent.drain(..)
    }

    /// Queues a frame in sequence order; returns how many were dropped to
    /// keep the buffer bounded, or because they came too late to play.
    pub fn push(&mut self, frame: InFrame) -> u64 {
        if let Some(seq) = frame.sequence {
            // At or before the last packet played (a duplicate, or overtaken
            // by a later packet), or queued already: playing it would put
            // audio out of order or twice. A packet late for a slot that was
            // concealed is still taken: it plays a tick late, and the buffer
            // holds one frame more from then on. A jump further back is a new
            // stream and is taken too.
            let stale = self.playing
                && self
                    .last_played
                    .is_some_and(|last| last.wrapping_sub(seq) < MAX_LATE);
            if stale || self.jitter.iter().any(|f| f.sequence == Some(seq)) {
                self.spend(frame);
                return 1;
            }
        }
        let pos = match frame.sequence {
            Some(seq) => self
                .jitter
                .iter()
                .rposition(|f| f.sequence.is_none_or(|s| seq_before(s, seq)))
                .map_or(0, |i| i + 1),
            None => self.jitter.len(),
        };
        self.jitter.insert(pos, frame);
        let mut dropped = 0;
        while self.jitter.len() > self.depth + JITTER_SLACK {
            if let Some(old) = self.jitter.pop_front() {
                // Its slot is given up, as if played: otherwise the next
                // tick would conceal the hole it leaves, keeping the buffer
                // full, and every later arrival would push the next oldest
                // out the same way, for good.
                if let Some(seq) = old.sequence {
                    if self.last_seq.is_none_or(|last| seq_before(last, seq)) {
                        self.last_seq = Some(seq);
                        self.last_played = Some(seq);
                    }
                }
                self.spend(old);
            }
            dropped += 1;
        }
        dropped
    }

    /// Produces this tick's pcm. `skip_below_dbov` lets silent senders cost
    /// nothing: their frames are not decoded; -inf decodes every frame.
    pub fn pull(
        &mut self,
        room_rate: u32,
        skip_below_dbov: f32,
        counters: &mut MemberCounters,
    ) -> Option<VadChange> {
        self.has_audio = false;
        self.bad = None;
        if !self.playing {
            if self.jitter.len() < self.depth {
                return self.vad.update(-127.0);
            }
            self.playing = true;
        }
        let frame_len = self.pcm.len();
        if self.missing_next() {
            // A packet was lost and the one after it is here: rebuild the lost
            // frame from its in-band FEC (Opus), else conceal; keep the packet
            // for the next tick.
            counters.concealed += 1;
            self.last_seq = self.last_seq.map(|s| s.wrapping_add(1));
            if self.recover_from_next(room_rate) {
                counters.fec_recovered += 1;
            } else {
                self.conceal(frame_len);
            }
            self.level_dbov = if self.has_audio {
                rms_dbov(&self.pcm)
            } else {
                -127.0
            };
            return self.vad.update(self.level_dbov);
        }
        let popped = self.jitter.pop_front();
        if let Some(seq) = popped.as_ref().and_then(|f| f.sequence) {
            self.last_seq = Some(seq);
            self.last_played = Some(seq);
        }
        match popped {
            Some(frame) => {
                // A talking member's quiet frames are the tail of a word, which
                // the gate keeps open for: those are decoded.
                let skip = match (frame.audio_level, frame.codec) {
                    // Judged quiet where it arrived and sent on without its
                    // payload (see `Member::door_threshold_dbov`).
                    (level, _) if frame.data.is_empty() => {
                        Some(level.map_or(SILENCE_DBOV, rfc6464_to_dbov))
                    }
                    (Some(level), _)
                        if !self.vad.talking() && rfc6464_to_dbov(level) < skip_below_dbov =>
                    {
                        Some(rfc6464_to_dbov(level))
                    }
                    // The sender's own VAD bit only opens the door: libopus clears it
                    // on steady sounds (a held note, a tone) after a moment, so once a
                    // member is talking every frame is decoded until the hangover ends.
                    // (A room that decodes every input passes -inf: no door.)
                    (_, Codec::Opus)
                        if skip_below_dbov > f32::NEG_INFINITY
                            && !self.vad.talking()
                            && silk_voice_activity(&frame.data) == Some(false) =>
                    {
                        Some(-127.0)
                    }
                    _ => None,
                };
                if let Some(level) = skip {
                    counters.decodes_skipped += 1;
                    // pcm is left as it is: without has_audio nothing reads
                    // it, and zeroing it for every silent member each tick
                    // was a fifth of a large Opus room's memory traffic.
                    self.fade_from = None;
                    self.level_dbov = level;
                    if frame.codec == Codec::Opus && !frame.data.is_empty() {
                        // Kept, not copied: the previous primer's buffer is
                        // the one handed back for reuse.
                        let old = std::mem::replace(&mut self.primer, frame.data);
                        self.recycle(old);
                    } else {
                        self.spend(frame);
                    }
                    return self.vad.update(level);
                }
                match self.decode(&frame, room_rate, counters) {
                    Ok(()) => {
                        self.has_audio = true;
                        self.fade_from = Some(0);
                    }
                    Err(e) => {
                        counters.bad_frames += 1;
                        self.bad = Some(e);
                        self.pcm.fill(0);
                    }
                }
                self.spend(frame);
            }
            None => {
                counters.concealed += 1;
                // This slot is played (concealed): the packet that was due is
                // late or lost, and a late one must not be played after it.
                self.last_seq = self.last_seq.map(|s| s.wrapping_add(1));
                self.conceal(frame_len);
                if self.jitter.is_empty() && !self.has_audio {
                    // Starved: wait for the buffer to refill before playing again.
                    self.playing = false;
                }
            }
        }
        self.level_dbov = if self.has_audio {
            rms_dbov(&self.pcm)
        } else {
            -127.0
        };
        self.vad.update(self.level_dbov)
    }

    fn decode(
        &mut self,
        frame: &InFrame,
        room_rate: u32,
        counters: &mut MemberCounters,
    ) -> Result<(), DecodeError> {
        match frame.codec {
            Codec::Opus => {
                // libopus has no 32 kHz: such rooms decode at 48 kHz and resample.
                let decode_rate = if OPUS_RATES.contains(&room_rate) {
                    room_rate
                } else {
                    48_000
                };
                let decoder = match self.decoder.as_mut() {
                    Some(d) => d,
                    None => self
                        .decoder
                        .insert(OpusDecoder::new(decode_rate).map_err(DecodeError::Opus)?),
                };
                counters.decodes += 1;
                let n = self.pcm.len() * decode_rate as usize / room_rate as usize;
                let out = if decode_rate == room_rate {
                    &mut self.pcm[..]
                } else {
                    if self.scratch.len() < n {
                        self.scratch.resize(n, 0);
                    }
                    &mut self.scratch[..n]
                };
                if !self.primer.is_empty() {
                    // Its audio is overwritten below; only the decoder's state
                    // matters. A primer that does not decode (another
                    // duration) leaves the state as it was, no worse.
                    counters.decodes += 1;
                    let _ = decoder.decode(&self.primer, out);
                    self.primer.clear();
                }
                let got = decoder
                    .decode(&frame.data, out)
                    .map_err(DecodeError::Opus)?;
                if got != n {
                    return Err(DecodeError::Duration { got, expected: n });
                }
                if decode_rate == room_rate {
                    return Ok(());
                }
                self.convert(decode_rate, room_rate, n)
            }
            Codec::L16 => {
                let n = frame.data.len() / 2;
                // At the room rate, straight into this tick's pcm.
                let dst = if frame.rate == room_rate && n == self.pcm.len() {
                    &mut self.pcm[..]
                } else {
                    if self.scratch.len() < n {
                        self.scratch.resize(n, 0);
                    }
                    &mut self.scratch[..n]
                };
                crate::audio::pcm::samples_from_bytes(&frame.data[..2 * n], dst);
                if frame.rate == room_rate {
                    return if n == self.pcm.len() {
                        Ok(())
                    } else {
                        Err(DecodeError::Duration {
                            got: n,
                            expected: self.pcm.len(),
                        })
                    };
                }
                self.convert(frame.rate, room_rate, n)
            }
        }
    }

    /// Resamples `scratch[..n]` at `from` into this tick's pcm. The resampler
    /// is made when a member's rate first shows up or changes, not per tick.
    fn convert(&mut self, from: u32, room_rate: u32, n: usize) -> Result<(), DecodeError> {
        let failed = DecodeError::Resample {
            from,
            to: room_rate,
        };
        if self.resampler.as_ref().is_none_or(|(r, _)| *r != from) {
            match Resampler::new(from, room_rate, n) {
                Ok(r) => self.resampler = Some((from, r)),
                Err(_) => return Err(failed),
            }
        }
        match self.resampler.as_mut() {
            Some((_, r)) => r
                .process(&self.scratch[..n], &mut self.pcm)
                .map_err(|_| failed),
            None => Err(failed),
        }
    }

    /// Whether the next queued packet is not the one due: a gap of a few
    /// packets in the RTP sequence. A larger jump is a new stream: no gap.
    fn missing_next(&self) -> bool {
        match (self.last_seq, self.jitter.front().and_then(|f| f.sequence)) {
            (Some(last), Some(next)) => {
                let gap = next.wrapping_sub(last);
                (2..=MAX_GAP).contains(&gap)
            }
            _ => false,
        }
    }

    /// Decodes the lost frame from the FEC data of the packet after it.
    fn recover_from_next(&mut self, room_rate: u32) -> bool {
        let Some(next) = self.jitter.front() else {
            return false;
        };
        // Only a packet that carries LBRR data rebuilds anything; without it
        // libopus would quietly run the same concealment as `conceal`.
        if next.codec != Codec::Opus
            || !OPUS_RATES.contains(&room_rate)
            || silk_has_fec(&next.data) != Some(true)
        {
            return false;
        }
        let Some(decoder) = self.decoder.as_mut() else {
            return false;
        };
        let ok =
            matches!(decoder.decode_fec(&next.data, &mut self.pcm), Ok(n) if n == self.pcm.len());
        self.has_audio = ok;
        ok
    }

    /// Opus: packet loss concealment. L16: the last frame fades to silence.
    fn conceal(&mut self, frame_len: usize) {
        if let Some(decoder) = self.decoder.as_mut() {
            if decoder.decode_lost(&mut self.pcm).is_ok() {
                self.has_audio = self.fade_from.is_some();
                self.fade_from = None;
                return;
            }
        }
        match self.fade_from.take() {
            Some(_) => {
                let n = frame_len.max(1) as i32;
                for (i, s) in self.pcm.iter_mut().enumerate() {
                    *s = ((*s as i32 * (n - i as i32)) / n) as i16;
                }
                self.has_audio = true;
            }
            None => self.pcm.fill(0),
        }
    }

    pub fn reset_vad(&mut self) -> bool {
        let was = self.vad.talking();
        self.vad.reset();
        was
    }
}

/// RFC 3550 sequence comparison with wrap-around.
fn seq_before(a: u16, b: u16) -> bool {
    a != b && b.wrapping_sub(a) < 0x8000
}

pub(crate) struct Member {
    pub id: MemberId,
    /// The spec's strings that events repeat, shared with the events.
    pub tag: Arc<crate::room::events::MemberTag>,
    pub spec: MemberSpec,
    pub joined_at_ms: u64,
    pub admitted: bool,
    pub moderator: bool,
    pub muted: bool,
    pub deaf: bool,
    pub hold: bool,
    /// Members this one whispers to (coach): heard only by them. Empty when
    /// not coaching; at most [`MAX_COACHED`].
    pub coaching: Vec<MemberId>,
    pub input: Input,
    pub in_gain_db: f32,
    pub out_gain_db: f32,
    pub energy_dbov: f32,
    pub out_format: Format,
    pub limiter: Limiter,
    pub out: OutStream,
    /// Heard in this tick's sum.
    pub contributing: bool,
    /// A `participant-speech-start` (or `-while-muted`) went out and its
    /// `-stop` has not: a leave, kick or hold sends the stop.
    pub in_speech: bool,
    pub prompts: VecDeque<(Arc<[i16]>, usize)>,
    pub hold_music: Option<Arc<[i16]>>,
    pub hold_pos: usize,
    pub pin: Option<super::admission::PinEntry>,
    pub counters: MemberCounters,
    /// One log line per interval for frames that fail to decode.
    pub decode_log: super::log_limit::LogLimit,
    /// Members this one must not hear (relations).
    pub no_hear: Vec<MemberId>,
    /// Saying their name for announce-caller-name, until this time.
    pub naming_until_ms: Option<u64>,
    pub name_buf: Vec<i16>,
    /// Their recorded name, played to the room on entry and exit.
    pub name_clip: Option<Arc<[i16]>>,
    /// Kicked: hears the kicked prompt, then is hung up at this time.
    pub leaving_at_ms: Option<u64>,
}

impl Member {
    pub fn talking(&self) -> bool {
        self.input.vad.talking()
    }

    /// Frames measured quieter than this (dBov) may arrive without their
    /// payload: this tick would not decode or mix them. A talking member's
    /// quiet frames are the ends of words, which are mixed: none qualify.
    pub fn door_threshold_dbov(&self) -> f32 {
        if self.talking() {
            f32::NEG_INFINITY
        } else {
            self.energy_dbov - GATE_MARGIN_DB
        }
    }

    pub fn push_frame(&mut self, frame: InFrame) {
        self.counters.frames_in += 1;
        // A member hears what it sends. An Opus sender's rate is a hint; the
        // encoder needs one libopus supports.
        let rate = match frame.codec {
            Codec::Opus if !OPUS_RATES.contains(&frame.rate) => 48_000,
            _ => frame.rate,
        };
        self.out_format = Format {
            codec: frame.codec,
            rate,
        };
        self.counters.dropped += self.input.push(frame);
    }

    /// Plays a prompt to this member only, after any already queued. Bounded:
    /// a member never has more than a few prompts waiting.
    pub fn queue_prompt(&mut self, sound: &Option<Arc<[i16]>>) {
        if let Some(s) = sound {
            if self.prompts.len() < 4 {
                self.prompts.push_back((s.clone(), 0));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequence_order_wraps() {
        assert!(seq_before(1, 2));
        assert!(seq_before(65535, 0));
        assert!(!seq_before(2, 1));
        assert!(!seq_before(5, 5));
    }
}
