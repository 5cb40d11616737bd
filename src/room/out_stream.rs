//! One listener format's output: room-rate PCM resampled and encoded for
//! what the listener takes, keeping resampler and encoder state between
//! ticks.

use crate::audio::g711::Law;
use crate::audio::limiter::Limiter;
use crate::audio::opus::{EncoderSettings, OpusEncoder};
use crate::audio::resample::Resampler;
use crate::room::io::Codec;

/// What a member sends and receives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Format {
    pub codec: Codec,
    pub rate: u32,
}

/// Turns room-rate PCM into what one listener format needs, keeping the
/// resampler and encoder state between ticks.
pub(crate) struct OutStream {
    format: Option<(Format, Option<EncoderSettings>)>,
    resampler: Option<Resampler>,
    encoder: Option<OpusEncoder>,
    /// The resampled mix before `limiter`.
    wide: Vec<i32>,
    /// After the resampler: the room's limiter holds the mix at -1 dBFS, but
    /// a band-limiting filter rings past a limited peak (to -0.75 dBFS going
    /// 16 to 8 kHz); this one takes the overshoot back, and is a plain copy
    /// while there is none.
    limiter: Limiter,
    conv: Vec<i16>,
    pub bytes: Vec<u8>,
    pub samples: u32,
    /// The tick this stream last rendered, so a shared stream renders once.
    pub rendered_tick: u64,
}

/// G.711 costs a table look-up a sample: shared by every listener of the
/// mix, like an Opus encode, instead of once per channel in the host.
fn encode_g711(law: Law, pcm: &[i16], bytes: &mut Vec<u8>) -> bool {
    bytes.resize(pcm.len(), 0);
    crate::audio::g711::encode(law, pcm, bytes);
    true
}

/// Largest output frame: 60 ms at 48 kHz.
const MAX_FRAME: usize = 2880;
/// Opus's own ceiling for one packet.
const MAX_PACKET: usize = 1275;

impl OutStream {
    pub fn new() -> OutStream {
        OutStream {
            format: None,
            resampler: None,
            encoder: None,
            wide: Vec::new(),
            limiter: Limiter::new(0),
            conv: Vec::new(),
            bytes: Vec::new(),
            samples: 0,
            rendered_tick: u64::MAX,
        }
    }

    /// Renders `pcm` (room rate) for `format`; returns false when the encoder
    /// or resampler could not be set up (the listener then hears nothing this
    /// tick, and the log says why once).
    pub(super) fn render(
        &mut self,
        pcm: &[i16],
        room_rate: u32,
        format: Format,
        opus: &EncoderSettings,
        encodes: &mut u64,
    ) -> bool {
        let settings = (format.codec == Codec::Opus).then_some(*opus);
        if self.format != Some((format, settings)) {
            self.setup(pcm.len(), room_rate, format, settings);
        }
        let out_len = pcm.len() * format.rate as usize / room_rate as usize;
        let converted: &[i16] = match self.resampler.as_mut() {
            Some(r) => {
                if r.process_wide(pcm, &mut self.wide[..out_len]).is_err() {
                    return false;
                }
                self.limiter
                    .process(&self.wide[..out_len], &mut self.conv[..out_len]);
                &self.conv[..out_len]
            }
            None => pcm,
        };
        self.samples = converted.len() as u32;
        match format.codec {
            Codec::L16 => {
                self.bytes.resize(converted.len() * 2, 0);
                crate::audio::pcm::bytes_from_samples(converted, &mut self.bytes);
                true
            }
            Codec::Pcmu => encode_g711(Law::Mu, converted, &mut self.bytes),
            Codec::Pcma => encode_g711(Law::A, converted, &mut self.bytes),
            Codec::Opus => {
                let Some(enc) = self.encoder.as_mut() else {
                    return false;
                };
                self.bytes.resize(MAX_PACKET, 0);
                *encodes += 1;
                match enc.encode(converted, &mut self.bytes) {
                    Ok(n) => {
                        self.bytes.truncate(n);
                        true
                    }
                    Err(e) => {
                        log::debug!(target: "huddle::mixer", "opus encode failed: {e}");
                        false
                    }
                }
            }
        }
    }

    /// Allocates for a new format: happens when a member's format first shows
    /// up or changes, never on an ordinary tick.
    fn setup(
        &mut self,
        room_frame: usize,
        room_rate: u32,
        format: Format,
        settings: Option<EncoderSettings>,
    ) {
        self.resampler = if format.rate == room_rate {
            None
        } else {
            match Resampler::new(room_rate, format.rate, room_frame) {
                Ok(r) => Some(r),
                Err(e) => {
                    log::warn!(target: "huddle::mixer", "no resampler {room_rate} -> {}: {e}", format.rate);
                    None
                }
            }
        };
        self.encoder = match &settings {
            Some(s) => match OpusEncoder::new(format.rate, *s) {
                Ok(e) => Some(e),
                Err(e) => {
                    log::warn!(target: "huddle::mixer", "no Opus encoder at {} Hz: {e}", format.rate);
                    None
                }
            },
            None => None,
        };
        // Sized for this format's frame, not the largest there is: a 16 kHz
        // L16 listener in a 16 kHz room needs 640 bytes, not 11 KiB.
        let out_len =
            (room_frame * format.rate as usize / room_rate.max(1) as usize).min(MAX_FRAME);
        (self.conv, self.wide) = if self.resampler.is_some() {
            (vec![0; out_len], vec![0; out_len])
        } else {
            (Vec::new(), Vec::new())
        };
        self.limiter = Limiter::new(format.rate);
        self.bytes = Vec::with_capacity(match format.codec {
            Codec::L16 => out_len * 2,
            Codec::Pcmu | Codec::Pcma => out_len,
            Codec::Opus => MAX_PACKET,
        });
        self.format = Some((format, settings));
    }
}
