//! One member of a room: flags, and the input pipeline that turns received
//! frames into one room-rate PCM frame per tick.

use std::collections::VecDeque;
use std::sync::Arc;

use crate::audio::g711::{self, Law};
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
    /// G.711 runs at 8 kHz only.
    G711Rate(u32),
    Length {
        codec: Codec,
        expected: usize,
        got: usize,
    },
    /// `samples` disagrees with the payload's length.
    Samples {
        codec: Codec,
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
            FrameError::G711Rate(r) => write!(f, "G.711 frame at {r} Hz; G.711 is 8000 Hz"),
            FrameError::Length {
                codec,
                expected,
                got,
            } => {
                write!(
                    f,
                    "{} frame of {got} bytes, expected {expected} for one interval",
                    codec.name()
                )
            }
            FrameError::Samples {
                codec,
                declared,
                len,
            } => write!(
                f,
                "{} frame declares {declared} samples but holds {len} bytes ({} expected)",
                codec.name(),
                if *codec == Codec::L16 {
                    "samples * 2"
                } else {
                    "one a sample"
                }
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
        Codec::L16 | Codec::Pcmu | Codec::Pcma => {
            let width = if frame.codec == Codec::L16 { 2 } else { 1 };
            if frame.codec != Codec::L16 && frame.rate != g711::RATE {
                return Err(FrameError::G711Rate(frame.rate));
            }
            let expected = crate::audio::frame_samples(frame.rate, interval_ms) * width;
            if len != expected {
                return Err(FrameError::Length {
                    codec: frame.codec,
                    expected,
                    got: len,
                });
            }
            // A host that fills `samples` from one source and `len` from
            // another has a bug: refuse rather than guess which is right.
            if usize::try_from(frame.samples)
                .ok()
                .and_then(|s| s.checked_mul(width))
                != Some(len)
            {
                return Err(FrameError::Samples {
                    codec: frame.codec,
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
    /// Every frame the jitter buffer threw away unplayed: the sum of the
    /// three reasons below.
    pub dropped: u64,
    /// At or before the last frame played (a duplicate of it, or overtaken
    /// by a later one): playing it would put audio out of order.
    pub dropped_late: u64,
    /// The same sequence number is already queued.
    pub dropped_duplicate: u64,
    /// Past the buffer's bound (a flood, or a stall longer than
    /// `LATE_TICK_FRAMES` ticks): the oldest go.
    pub dropped_overflow: u64,
    /// Frames arriving after their slot was concealed, played a tick late
    /// (nothing lost; the buffer's target grows by one).
    pub played_late: u64,
    /// Quiet frames the buffer skipped to bring a standing excess (frames
    /// left over from a burst after skipped ticks, a sender's fast clock)
    /// back to its target depth: frames the mixing gate would not have let
    /// through, so nothing audible. A bridge sheds its backlog the same way,
    /// sooner (`Input::trim_bridge_backlog`).
    pub trimmed: u64,
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
    /// The configured depth: the least the target shrinks back to.
    depth: usize,
    /// The level the buffer is kept at and playing (re)starts at: the depth, plus up to
    /// JITTER_SLACK frames while packets have been arriving after their
    /// slot (grown on each, shrunk by one after every `SHRINK_TICKS` calm
    /// ticks).
    target: usize,
    /// Ticks since the target last changed or a frame came after its slot.
    calm_ticks: u32,
    /// The lowest level seen at a tick in this window, and the window's
    /// ticks so far: a level that stayed above the target for a whole
    /// window is standing latency, not jitter.
    low_water: usize,
    window_ticks: u32,
    /// Quiet frames to skip, one per tick at most, to bring the level back
    /// to the target.
    trim_due: usize,
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
    pacing: Pacing,
}

/// How a leg's jitter buffer holds its latency down: the part that differs
/// between a phone and a cascade's bridge. Everything else (ordering, loss,
/// the late-tick room, which frames may be trimmed) is the same for both.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Pacing {
    /// A packet arriving after its slot grows the target a frame (up to
    /// `JITTER_SLACK`), so the next one held up as long finds its slot
    /// waiting. A bridge's frames come paced by the far node's mixer and its
    /// depth is its latency budget: the tick its late frame added is trimmed
    /// back instead.
    grows_on_late: bool,
    /// Ticks the level must stay above the target before the excess counts
    /// as standing latency, not jitter, and is trimmed.
    trim_window_ticks: u32,
}

impl Pacing {
    /// A phone: its own clock and the network's jitter; a window of a
    /// second at 20 ms.
    pub(crate) const PHONE: Pacing = Pacing {
        grows_on_late: true,
        trim_window_ticks: 50,
    };
    /// A bridge: a backlog is trimmed after half a second, the far room's
    /// voices being a tick late for everyone here until then.
    pub(crate) const BRIDGE: Pacing = Pacing {
        grows_on_late: false,
        trim_window_ticks: 25,
    };
}

/// Spent payload buffers a member keeps for reuse; more are freed.
pub const SPARE_BUFFERS: usize = 2;

/// A sequence jump up to this many packets is loss; more is a new stream.
const MAX_GAP: u16 = 5;

/// A packet up to this many behind the last one played is a duplicate or
/// overtaken, and is dropped; further back is a new stream.
const MAX_LATE: u16 = 32;

/// Frames of arrival jitter held above the target before they count as
/// standing latency; also how far the target grows above the depth.
pub const JITTER_SLACK: usize = 2;

/// Frames a late tick may find waiting above the target and slack, all
/// kept: a mixer that waited for a core for up to this many ticks (320 ms
/// at 20 ms), with the sender's packets arriving meanwhile, loses none.
/// As many as the runtime's hand-off queue holds. Beyond it the sender is
/// flooding and the oldest go.
pub const LATE_TICK_FRAMES: usize = 16;

/// Ticks with no frame arriving after its slot before the target shrinks
/// back one frame toward the depth (ten seconds at 20 ms).
const SHRINK_TICKS: u32 = 500;

impl Input {
    pub fn new(frame: usize, depth: usize, vad: Vad, pacing: Pacing) -> Input {
        Input {
            // Grows to the depth with the member's first frames, more after a
            // late tick; a member that never sends (a listener) holds none.
            jitter: VecDeque::new(),
            depth: depth.clamp(1, 10),
            target: depth.clamp(1, 10),
            calm_ticks: 0,
            low_water: usize::MAX,
            window_ticks: 0,
            trim_due: 0,
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
            pacing,
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

    /// Queues a frame in sequence order, counting in `counters` any frame
    /// dropped (and why) or arriving after its slot.
    pub fn push(&mut self, frame: InFrame, counters: &mut MemberCounters) {
        if let Some(seq) = frame.sequence {
            // At or before the last packet played (a duplicate, or overtaken
            // by a later packet), or queued already: playing it would put
            // audio out of order or twice. A packet late for a slot that was
            // concealed is still taken: it plays a tick late, the buffer
            // holds one frame more from then on, and its target grows so the
            // next such packet finds its slot waiting. A jump further back is
            // a new stream and is taken too.
            let stale = self.playing
                && self
                    .last_played
                    .is_some_and(|last| last.wrapping_sub(seq) < MAX_LATE);
            if stale {
                counters.dropped_late += 1;
                counters.dropped += 1;
                self.spend(frame);
                return;
            }
            if self.jitter.iter().any(|f| f.sequence == Some(seq)) {
                counters.dropped_duplicate += 1;
                counters.dropped += 1;
                self.spend(frame);
                return;
            }
            if self.playing
                && self
                    .last_seq
                    .is_some_and(|last| last.wrapping_sub(seq) < MAX_LATE)
            {
                counters.played_late += 1;
                if self.pacing.grows_on_late {
                    self.target = (self.target + 1).min(self.depth + JITTER_SLACK);
                }
                self.calm_ticks = 0;
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
        while self.jitter.len() > self.target + JITTER_SLACK + LATE_TICK_FRAMES {
            if let Some(old) = self.jitter.pop_front() {
                // Its slot is given up, as if played: otherwise the next
                // tick would conceal the hole it leaves, keeping the buffer
                // full, and every later arrival would push the next oldest
                // out the same way, for good.
                self.pass(&old);
                self.spend(old);
            }
            counters.dropped_overflow += 1;
            counters.dropped += 1;
        }
    }

    /// Moves the play position past `frame`, taken off the front unplayed.
    fn pass(&mut self, frame: &InFrame) {
        if let Some(seq) = frame.sequence {
            if self.last_seq.is_none_or(|last| seq_before(last, seq)) {
                self.last_seq = Some(seq);
                self.last_played = Some(seq);
            }
        }
    }

    /// Watches the level at each tick: the target shrinks back after calm
    /// ticks, and a level that stayed above it for a whole window is trimmed.
    fn watch_level(&mut self) {
        self.calm_ticks += 1;
        if self.calm_ticks >= SHRINK_TICKS && self.target > self.depth {
            self.target -= 1;
            self.calm_ticks = 0;
        }
        self.low_water = self.low_water.min(self.jitter.len());
        self.window_ticks += 1;
        if self.window_ticks >= self.pacing.trim_window_ticks {
            // A trim still owed for skipped ticks stays owed.
            self.trim_due = self
                .trim_due
                .max(self.low_water.saturating_sub(self.target));
            self.low_water = usize::MAX;
            self.window_ticks = 0;
        }
    }

    /// `ticks` ticks were skipped: as many frames as arrived for them are
    /// standing latency, to trim in quiet frames without waiting a window.
    pub fn ticks_skipped(&mut self, ticks: usize) {
        if self.playing {
            self.trim_due = (self.trim_due + ticks).min(LATE_TICK_FRAMES);
        }
    }

    /// Skips the front frame when latency is to be trimmed and nobody would
    /// hear it go: the room would not have mixed it or the frame played
    /// before it (`previous_heard`), so a pause is 20 ms shorter and no sound
    /// is cut. The frame behind it must be the next in sequence, so no slot
    /// is concealed for it.
    fn trim(&mut self, gate_dbov: f32, previous_heard: bool, counters: &mut MemberCounters) {
        if self.trim_due == 0
            || previous_heard
            || self.jitter.len() <= self.target
            || self.missing_next()
        {
            return;
        }
        let (Some(front), Some(behind)) = (self.jitter.front(), self.jitter.get(1)) else {
            return;
        };
        let consecutive = match (front.sequence, behind.sequence) {
            (Some(a), Some(b)) => b == a.wrapping_add(1),
            (None, None) => true,
            _ => false,
        };
        // libopus clears its voice-activity bit on steady sounds (a held
        // note) after a moment: while talking it does not say quiet.
        let only_voice_bit =
            front.codec == Codec::Opus && front.audio_level.is_none() && !front.data.is_empty();
        if !consecutive
            || (only_voice_bit && self.vad.talking())
            || queued_level(front, &mut self.scratch).is_none_or(|level| level >= gate_dbov)
        {
            return;
        }
        let Some(frame) = self.jitter.pop_front() else {
            return;
        };
        self.trim_due -= 1;
        counters.trimmed += 1;
        self.pass(&frame);
        self.keep_as_primer(frame);
    }

    /// The level of a frame the mixing gate would refuse (not decoded, not
    /// mixed), or None for one to decode.
    fn quiet_level(&self, frame: &InFrame, skip_below_dbov: f32) -> Option<f32> {
        match (frame.audio_level, frame.codec) {
            // Judged quiet where it arrived and sent on without its
            // payload (see `Member::door_threshold_dbov`).
            (level, _) if frame.data.is_empty() => {
                Some(level.map_or(SILENCE_DBOV, rfc6464_to_dbov))
            }
            (Some(level), _) if !self.vad.talking() && rfc6464_to_dbov(level) < skip_below_dbov => {
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
        }
    }

    /// Keeps a skipped Opus frame to prime the decoder before the next one
    /// decoded; any other frame's buffer goes back for reuse.
    fn keep_as_primer(&mut self, frame: InFrame) {
        if frame.codec == Codec::Opus && !frame.data.is_empty() {
            // Kept, not copied: the previous primer's buffer is the one
            // handed back for reuse.
            let old = std::mem::replace(&mut self.primer, frame.data);
            self.recycle(old);
        } else {
            self.spend(frame);
        }
    }

    /// Produces this tick's pcm. `gate_dbov` is the member's mixing gate:
    /// frames below it may be trimmed, and with `skip_quiet` they are not
    /// decoded either, so silent senders cost nothing.
    pub fn pull(
        &mut self,
        room_rate: u32,
        gate_dbov: f32,
        skip_quiet: bool,
        counters: &mut MemberCounters,
    ) -> Option<VadChange> {
        let previous_heard = self.has_audio && self.level_dbov >= gate_dbov;
        let skip_below_dbov = if skip_quiet {
            gate_dbov
        } else {
            f32::NEG_INFINITY
        };
        self.has_audio = false;
        self.bad = None;
        if !self.playing {
            if self.jitter.len() < self.target {
                return self.vad.update(-127.0);
            }
            self.playing = true;
        }
        self.watch_level();
        self.trim(gate_dbov, previous_heard, counters);
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
                let skip = self.quiet_level(&frame, skip_below_dbov);
                if let Some(level) = skip {
                    counters.decodes_skipped += 1;
                    // pcm is left as it is: without has_audio nothing reads
                    // it, and zeroing it for every silent member each tick
                    // was a fifth of a large Opus room's memory traffic.
                    self.fade_from = None;
                    self.level_dbov = level;
                    self.keep_as_primer(frame);
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
            Codec::L16 | Codec::Pcmu | Codec::Pcma => {
                let law = frame.codec.g711();
                let n = if law.is_some() {
                    frame.data.len()
                } else {
                    frame.data.len() / 2
                };
                // At the room rate, straight into this tick's pcm.
                let dst = if frame.rate == room_rate && n == self.pcm.len() {
                    &mut self.pcm[..]
                } else {
                    if self.scratch.len() < n {
                        self.scratch.resize(n, 0);
                    }
                    &mut self.scratch[..n]
                };
                match law {
                    Some(law) => g711::decode(law, &frame.data, dst),
                    None => crate::audio::pcm::samples_from_bytes(&frame.data[..2 * n], dst),
                }
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

/// A queued frame's level without decoding it, when it can be known: a level
/// header, an L16 or G.711 payload's RMS, or an Opus packet its encoder
/// marked as without voice. `None`: an Opus packet that may be speech.
fn queued_level(frame: &InFrame, scratch: &mut Vec<i16>) -> Option<f32> {
    if let Some(level) = frame.audio_level {
        return Some(rfc6464_to_dbov(level));
    }
    match frame.codec {
        _ if frame.data.is_empty() => Some(SILENCE_DBOV),
        Codec::L16 => {
            let n = frame.data.len() / 2;
            if scratch.len() < n {
                scratch.resize(n, 0);
            }
            crate::audio::pcm::samples_from_bytes(&frame.data[..2 * n], &mut scratch[..n]);
            Some(rms_dbov(&scratch[..n]))
        }
        Codec::Opus => (silk_voice_activity(&frame.data) == Some(false)).then_some(SILENCE_DBOV),
        Codec::Pcmu => Some(g711::level_dbov(Law::Mu, &frame.data)),
        Codec::Pcma => Some(g711::level_dbov(Law::A, &frame.data)),
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
        self.input.push(frame, &mut self.counters);
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
    use crate::room::sim::{self, Sim};
    use std::collections::HashMap;

    /// A talker with RTP sequence numbers and a listener in a room whose
    /// jitter buffers are 2 frames deep, on a tick count of our own. Loud
    /// frames carry a constant value (1000, 1001, ...) the listener hears
    /// back exactly (one talker, no gain), so each frame's delay from
    /// arrival to the listener's ear is measured; quiet ones are digital
    /// silence, with the level the runtime's door would measure (127) or,
    /// for a host that sends every payload, without.
    struct Stream {
        sim: Sim,
        quiet_header: bool,
        talker: MemberId,
        listener: MemberId,
        seq: u16,
        next_value: i16,
        arrived_at: HashMap<i16, u64>,
        heard_at: HashMap<i16, u64>,
        heard: Vec<i16>,
        tick: u64,
    }

    impl Stream {
        fn new() -> Stream {
            Stream::in_room(true, true)
        }

        /// `skip_quiet`: the room skips decoding quiet inputs (else it
        /// decodes every one); `quiet_header`: quiet frames carry a level.
        fn in_room(skip_quiet: bool, quiet_header: bool) -> Stream {
            let mut settings = sim::settings("jb");
            settings.jitter_frames = 2;
            settings.skip_quiet_inputs = skip_quiet;
            let mut sim = Sim::new(settings);
            let talker = sim.join(sim::member("a"));
            let listener = sim.join(sim::member("b"));
            Stream {
                sim,
                quiet_header,
                talker,
                listener,
                seq: 65_500, // wraps during the tests
                next_value: 1000,
                arrived_at: HashMap::new(),
                heard_at: HashMap::new(),
                heard: Vec::new(),
                tick: 0,
            }
        }

        /// The talker's next packet.
        fn packet(&mut self, loud: bool) -> InFrame {
            let value = if loud { self.next_value } else { 0 };
            self.next_value += i16::from(loud);
            self.seq = self.seq.wrapping_add(1);
            InFrame {
                codec: Codec::L16,
                rate: sim::RATE,
                samples: sim::FRAME as u32,
                data: std::iter::repeat_n(value.to_ne_bytes(), sim::FRAME)
                    .flatten()
                    .collect(),
                audio_level: (!loud && self.quiet_header).then_some(127),
                sequence: Some(self.seq),
            }
        }

        /// `packets` reach the room, then it mixes, `skipped` ticks late.
        fn tick(&mut self, packets: Vec<InFrame>, skipped: u64) {
            self.tick += skipped;
            for p in &packets {
                let value = i16::from_ne_bytes([p.data[0], p.data[1]]);
                if value != 0 {
                    self.arrived_at.insert(value, self.tick);
                }
            }
            self.sim
                .room
                .exchange_frames(self.talker, packets.into_iter(), drop);
            self.sim.now_ms = self.tick * u64::from(sim::INTERVAL_MS);
            let frames = self.sim.heard.frames.entry(self.listener).or_default();
            let before = frames.len();
            self.sim.room.tick(self.sim.now_ms, &mut self.sim.heard);
            for f in &self.sim.heard.frames[&self.listener][before..] {
                if f[0] >= 1000 && f.iter().all(|s| *s == f[0]) {
                    self.heard.push(f[0]);
                    self.heard_at.insert(f[0], self.tick);
                }
            }
            self.tick += 1;
        }

        /// `ticks` ticks of one packet each, on time.
        fn steady(&mut self, ticks: usize, loud: bool) {
            for _ in 0..ticks {
                let p = self.packet(loud);
                self.tick(vec![p], 0);
            }
        }

        /// Ticks from the loud frame's arrival to its playing.
        fn delay(&self, value: i16) -> Option<u64> {
            Some(self.heard_at.get(&value)? - self.arrived_at.get(&value)?)
        }

        fn counters(&self) -> MemberCounters {
            let m = self.sim.room.members.iter().find(|m| m.id == self.talker);
            m.expect("the talker is in the room").counters
        }

        /// Every loud frame sent was heard once, in order (the last one
        /// sent needs a tick more to play: a quiet one is sent for it).
        fn all_heard(&mut self) {
            self.steady(1, false);
            let expected: Vec<i16> = (1000..self.next_value).collect();
            assert_eq!(self.heard, expected, "every loud frame, once, in order");
        }
    }

    /// The mixer waits for a core: six ticks are skipped (the realtime pool
    /// gives up catching up when it is too far behind) while the talker's
    /// six packets of that time wait, and they all arrive at the late tick.
    /// None is dropped: the listener hears every one, in order, six ticks
    /// later than before. The next second of quiet frames is trimmed back
    /// to the configured depth, so speech after it is as prompt as before
    /// the stall, and nothing audible was skipped.
    #[test]
    fn a_burst_after_skipped_ticks_loses_nothing_and_latency_trims_back_in_silence() {
        stall_then_quiet(Stream::new());
    }

    /// The same where nothing says a frame is quiet but its payload: plain
    /// L16 from a host that sends every frame, in a room that decodes every
    /// input. The silence is measured in the queue, so it trims as well.
    #[test]
    fn latency_trims_back_in_measured_silence_in_a_room_that_decodes_every_input() {
        stall_then_quiet(Stream::in_room(false, false));
    }

    fn stall_then_quiet(mut s: Stream) {
        s.steady(50, true);
        let level_before = s.sim.room.queued_frames(s.talker);
        // The late tick: the six packets of the skipped ticks and its own.
        let burst = (0..7).map(|_| s.packet(true)).collect();
        s.tick(burst, 6);
        let after_stall = s.next_value;
        s.steady(49, true);
        s.steady(150, false);
        let last = s.next_value;
        s.steady(50, true);
        s.all_heard();
        // Before the stall a frame plays one tick after it arrives (the
        // second of a depth of two); after it, seven; after the quiet
        // second, one again.
        assert_eq!(
            (s.delay(1000), s.delay(after_stall), s.delay(last)),
            (Some(1), Some(7), Some(1)),
            "frame delays before the stall, after it, after the quiet"
        );
        let c = s.counters();
        assert_eq!(
            (c.dropped, c.concealed, c.trimmed),
            (0, 0, 6),
            "nothing dropped or concealed; six quiet frames trimmed"
        );
        assert_eq!(s.sim.room.queued_frames(s.talker), level_before);
    }

    /// A packet a tick late for its slot: the slot is concealed and the
    /// packet still plays, a tick late, and the buffer keeps that tick of
    /// margin (quiet frames are not trimmed into it), so the next packet
    /// held up as long finds its slot waiting. After ten calm seconds the
    /// margin is given back in a quiet frame: speech is as prompt as at
    /// the start.
    #[test]
    fn a_late_packet_grows_the_buffer_by_a_tick_which_shrinks_back_after_calm() {
        let mut s = Stream::new();
        s.steady(50, true);
        let held = s.packet(true);
        s.tick(Vec::new(), 0);
        let next = s.packet(true);
        s.tick(vec![next], 0);
        let after = s.packet(true);
        s.tick(vec![held, after], 0);
        let c = s.counters();
        assert_eq!(
            (c.concealed, c.played_late),
            (1, 1),
            "one slot concealed, its packet played late"
        );
        s.steady(50, true);
        s.steady(100, false);
        let second = s.next_value;
        s.steady(20, true);
        let held = s.packet(true);
        s.tick(Vec::new(), 0);
        let next = s.packet(true);
        s.tick(vec![held, next], 0);
        s.steady(20, true);
        // Twelve seconds of quiet: the target shrinks ten seconds after the
        // late packet, and the next window trims the margin.
        s.steady(600, false);
        let last = s.next_value;
        s.steady(50, true);
        s.all_heard();
        assert_eq!(
            (s.delay(1000), s.delay(second), s.delay(last)),
            (Some(1), Some(2), Some(1)),
            "delays at the start, after the late packet, after the calm"
        );
        let c = s.counters();
        assert_eq!(
            (c.dropped, c.concealed, c.played_late, c.trimmed),
            (0, 1, 1, 1),
            "the packet held up again cost nothing; one quiet frame trimmed"
        );
    }

    #[test]
    fn sequence_order_wraps() {
        assert!(seq_before(1, 2));
        assert!(seq_before(65535, 0));
        assert!(!seq_before(2, 1));
        assert!(!seq_before(5, 5));
    }
}
