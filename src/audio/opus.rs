//! Mono Opus encoder and decoder over the `audiopus` crate (safe bindings
//! to the system libopus through `audiopus_sys`), in the shape the room
//! needs: fixed rate, one channel, packet loss and FEC as separate calls,
//! and errors that carry libopus's own code and text.

use audiopus::coder::{Decoder, Encoder};
use audiopus::packet::Packet;
use audiopus::softclip::SoftClip;
use audiopus::{ffi, Application, Bitrate, Channels, MutSignals, SampleRate};
use std::fmt;

/// Rates libopus accepts. 32 kHz rooms must resample to 48 kHz (or 16 kHz)
/// around the codec.
pub const OPUS_RATES: [u32; 5] = [8000, 12000, 16000, 24000, 48000];

/// A libopus failure, carrying libopus's own error code and text. The text
/// is `'static` so building an error never allocates inside the audio tick.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpusError {
    code: i32,
    message: &'static str,
}

impl OpusError {
    fn from_code(code: i32) -> Self {
        // libopus's own `opus_strerror` texts, so logs read as before and as
        // libopus documents them.
        let message = match code {
            ffi::OPUS_OK => "success",
            ffi::OPUS_BAD_ARG => "invalid argument",
            ffi::OPUS_BUFFER_TOO_SMALL => "buffer too small",
            ffi::OPUS_INTERNAL_ERROR => "internal error",
            ffi::OPUS_INVALID_PACKET => "corrupted stream",
            ffi::OPUS_UNIMPLEMENTED => "request not implemented",
            ffi::OPUS_INVALID_STATE => "invalid state",
            ffi::OPUS_ALLOC_FAIL => "memory allocation failed",
            _ => "unknown error",
        };
        OpusError { code, message }
    }

    /// An argument refused before libopus sees it.
    fn bad_arg(message: &'static str) -> Self {
        OpusError {
            code: ffi::OPUS_BAD_ARG,
            message,
        }
    }

    /// libopus error code (negative, e.g. `OPUS_INVALID_PACKET` = -4).
    pub fn code(&self) -> i32 {
        self.code
    }

    pub fn message(&self) -> &'static str {
        self.message
    }
}

impl From<audiopus::Error> for OpusError {
    fn from(e: audiopus::Error) -> Self {
        match e {
            audiopus::Error::Opus(code) => OpusError::from_code(code as i32),
            audiopus::Error::EmptyPacket => OpusError::bad_arg("empty packet"),
            audiopus::Error::PacketTooLarge => OpusError::bad_arg("packet too large"),
            audiopus::Error::SignalsTooLarge => OpusError::bad_arg("buffer too large"),
            _ => OpusError::from_code(ffi::OPUS_BAD_ARG),
        }
    }
}

impl fmt::Display for OpusError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "opus: {} ({})", self.message, self.code)
    }
}

impl std::error::Error for OpusError {}

fn sample_rate(rate: u32) -> Result<SampleRate, OpusError> {
    Ok(match rate {
        8000 => SampleRate::Hz8000,
        12000 => SampleRate::Hz12000,
        16000 => SampleRate::Hz16000,
        24000 => SampleRate::Hz24000,
        48000 => SampleRate::Hz48000,
        _ => {
            return Err(OpusError::bad_arg(
                "sample rate must be 8000, 12000, 16000, 24000 or 48000",
            ))
        }
    })
}

/// Mono Opus decoder at a fixed output rate.
///
/// It decodes to float and converts to 16 bits itself: libopus's own 16-bit
/// decode runs its soft clipper over every frame and converts sample by
/// sample, about a tenth of a decode, though speech almost never leaves
/// [-1, 1]. Here the clipper runs only on a decoded packet that does leave
/// it (or right after one, while the clipper's memory may still shape the
/// start),
/// and the conversion vectorises; the samples are the same as libopus's
/// 16-bit decode, bit for bit (tested below).
#[derive(Debug)]
pub struct OpusDecoder {
    inner: Decoder,
    rate: u32,
    float: Vec<f32>,
    clip: SoftClip,
    /// The last frame left [-1, 1]: the clipper's memory may be non-zero.
    clipped_last: bool,
}

impl OpusDecoder {
    pub fn new(rate: u32) -> Result<Self, OpusError> {
        let inner = Decoder::new(sample_rate(rate)?, Channels::Mono)?;
        Ok(OpusDecoder {
            inner,
            rate,
            float: Vec::new(),
            clip: SoftClip::new(Channels::Mono),
            clipped_last: false,
        })
    }

    pub fn rate(&self) -> u32 {
        self.rate
    }

    fn run(
        &mut self,
        packet: Option<&[u8]>,
        out: &mut [i16],
        fec: bool,
    ) -> Result<usize, OpusError> {
        let soft_clip = packet.is_some() && !fec;
        let packet = packet.map(Packet::try_from).transpose()?;
        if self.float.len() < out.len() {
            self.float.resize(out.len(), 0.0);
        }
        let float = &mut self.float[..out.len()];
        let n = self
            .inner
            .decode_float(packet, MutSignals::try_from(&mut *float)?, fec)?;
        let float = &mut float[..n];
        // libopus soft-clips decoded packets only: concealed and FEC frames
        // are saturated, and leave the clipper's memory as it was.
        if soft_clip {
            let clipped = float.iter().fold(false, |any, x| any | (x.abs() > 1.0));
            if clipped || self.clipped_last {
                self.clip.apply(MutSignals::try_from(&mut *float)?)?;
            }
            self.clipped_last = clipped;
        }
        float_to_i16(float, &mut out[..n]);
        Ok(n)
    }

    /// Decodes one packet into `out`, returning the samples written. `out`
    /// must hold the packet's whole duration (120 ms is always enough). An
    /// empty packet is an error: use [`OpusDecoder::decode_lost`] for loss.
    pub fn decode(&mut self, packet: &[u8], out: &mut [i16]) -> Result<usize, OpusError> {
        if packet.is_empty() {
            return Err(OpusError::bad_arg("empty packet"));
        }
        self.run(Some(packet), out, false)
    }

    /// Packet-loss concealment: fills `out` (whose length must be a multiple
    /// of 2.5 ms) with an extrapolation of the previous audio.
    pub fn decode_lost(&mut self, out: &mut [i16]) -> Result<usize, OpusError> {
        self.run(None, out, false)
    }

    /// Recovers a lost frame from the in-band FEC carried in the packet that
    /// followed it. `out` must be exactly the lost frame's duration; when
    /// `next_packet` carries no FEC, libopus conceals instead.
    pub fn decode_fec(&mut self, next_packet: &[u8], out: &mut [i16]) -> Result<usize, OpusError> {
        if next_packet.is_empty() {
            return self.decode_lost(out);
        }
        self.run(Some(next_packet), out, true)
    }
}

/// libopus's float-to-16-bit conversion (scale, saturate, round half to
/// even), written so the loop vectorises: adding 1.5 * 2^23 leaves the
/// rounded integer in the float's low mantissa bits.
fn float_to_i16(src: &[f32], dst: &mut [i16]) {
    const MAGIC: f32 = 12_582_912.0;
    for (d, &x) in dst.iter_mut().zip(src) {
        let y = (x * 32768.0).clamp(-32768.0, 32767.0);
        *d = ((y + MAGIC).to_bits() as i32 - MAGIC.to_bits() as i32) as i16;
    }
}

/// Encoder knobs. Listeners whose settings compare equal can share one
/// encoded packet, hence `Eq + Hash`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EncoderSettings {
    /// Target bits per second (libopus accepts 500..=512000).
    pub bitrate: i32,
    /// In-band forward error correction (SILK/hybrid modes only).
    pub fec: bool,
    /// Discontinuous transmission: near-empty packets during silence.
    pub dtx: bool,
    /// 0 (fastest) ..= 10 (best).
    pub complexity: i32,
    /// Expected loss, 0..=100; steers how much FEC the encoder spends.
    pub packet_loss_pct: i32,
}

impl Default for EncoderSettings {
    fn default() -> Self {
        EncoderSettings {
            bitrate: 32_000,
            fec: true,
            dtx: false,
            complexity: 5,
            packet_loss_pct: 5,
        }
    }
}

/// Mono Opus encoder (VOIP application) at a fixed input rate.
#[derive(Debug)]
pub struct OpusEncoder {
    inner: Encoder,
    rate: u32,
    settings: EncoderSettings,
}

impl OpusEncoder {
    pub fn new(rate: u32, settings: EncoderSettings) -> Result<Self, OpusError> {
        let inner = Encoder::new(sample_rate(rate)?, Channels::Mono, Application::Voip)?;
        let mut enc = OpusEncoder {
            inner,
            rate,
            settings,
        };
        enc.apply(settings)?;
        Ok(enc)
    }

    /// Changes the settings of a running encoder. The values go to libopus
    /// as given, so libopus alone decides what is out of range.
    pub fn apply(&mut self, s: EncoderSettings) -> Result<(), OpusError> {
        let e = &mut self.inner;
        e.set_bitrate(Bitrate::BitsPerSecond(s.bitrate))?;
        e.set_inband_fec(s.fec)?;
        e.set_dtx(s.dtx)?;
        // The typed setters take u8; a value no u8 holds is outside
        // libopus's range too, and is refused the way libopus would.
        let byte = |v: i32| u8::try_from(v).map_err(|_| OpusError::from_code(ffi::OPUS_BAD_ARG));
        e.set_complexity(byte(s.complexity)?)?;
        e.set_packet_loss_perc(byte(s.packet_loss_pct)?)?;
        self.settings = s;
        Ok(())
    }

    pub fn rate(&self) -> u32 {
        self.rate
    }

    pub fn settings(&self) -> &EncoderSettings {
        &self.settings
    }

    /// Encodes one frame (2.5, 5, 10, 20, 40 or 60 ms of samples) into
    /// `out`, returning the packet length. 1275 bytes always suffice for a
    /// single frame; a 1-2 byte result means DTX silence.
    pub fn encode(&mut self, pcm: &[i16], out: &mut [u8]) -> Result<usize, OpusError> {
        // audiopus passes lengths as i32 unchecked; bound them here.
        if i32::try_from(pcm.len()).is_err() {
            return Err(OpusError::bad_arg("frame too long"));
        }
        let max = out.len().min(i32::MAX as usize);
        Ok(self.inner.encode(pcm, &mut out[..max])?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audio::test_signal::goertzel_amp;
    use std::f64::consts::PI;

    fn tone(rate: u32, n: usize, freq: f64, amp: f64, start: usize) -> Vec<i16> {
        (start..start + n)
            .map(|i| (amp * (2.0 * PI * freq * i as f64 / f64::from(rate)).sin()) as i16)
            .collect()
    }

    /// The float path gives libopus's own 16-bit decode bit for bit, in
    /// speech-like levels and pushed into clipping (the decoder's gain set
    /// to +12 dB over a near-full-scale input), through loss and FEC.
    #[test]
    fn float_decode_equals_libopus_16_bit_decode() -> Result<(), OpusError> {
        let rate = 48_000;
        let frame = 960;
        let settings = EncoderSettings {
            fec: true,
            packet_loss_pct: 20,
            ..EncoderSettings::default()
        };
        for (gain_q8, amp) in [(0, 8_000.0), (12 * 256, 30_000.0)] {
            let mut enc = OpusEncoder::new(rate, settings)?;
            let mut ours = OpusDecoder::new(rate)?;
            ours.inner.set_gain(gain_q8)?;
            let mut reference = Decoder::new(SampleRate::Hz48000, Channels::Mono)?;
            reference.set_gain(gain_q8)?;
            let mut packets = Vec::new();
            for k in 0..150 {
                // A chord that comes and goes, so frames in and out of clipping.
                let a = amp * (0.5 + 0.5 * (k as f64 * 0.3).sin());
                let pcm: Vec<i16> = tone(rate, frame, 440.0, a / 2.0, k * frame)
                    .iter()
                    .zip(tone(rate, frame, 660.0, a / 2.0, k * frame))
                    .map(|(x, y)| x.saturating_add(y))
                    .collect();
                let mut packet = vec![0u8; 1500];
                let len = enc.encode(&pcm, &mut packet)?;
                packet.truncate(len);
                packets.push(packet);
            }
            let (mut a, mut b) = (vec![0i16; frame], vec![0i16; frame]);
            let mut clipped_frames = 0;
            for (k, packet) in packets.iter().enumerate() {
                let lost = k % 9 == 4;
                let fec = k % 9 == 5;
                let n = if lost {
                    let n = ours.decode_lost(&mut a)?;
                    reference.decode(None, MutSignals::try_from(&mut b[..])?, false)?;
                    n
                } else if fec {
                    let n = ours.decode_fec(packet, &mut a)?;
                    reference.decode(
                        Some(Packet::try_from(&packet[..])?),
                        MutSignals::try_from(&mut b[..])?,
                        true,
                    )?;
                    n
                } else {
                    let n = ours.decode(packet, &mut a)?;
                    reference.decode(
                        Some(Packet::try_from(&packet[..])?),
                        MutSignals::try_from(&mut b[..])?,
                        false,
                    )?;
                    n
                };
                assert_eq!(n, frame);
                assert_eq!(a, b, "frame {k} at gain {gain_q8}");
                clipped_frames += usize::from(ours.clipped_last);
            }
            if gain_q8 > 0 {
                assert!(clipped_frames > 20, "only {clipped_frames} frames clipped");
            } else {
                assert_eq!(clipped_frames, 0);
            }
        }
        Ok(())
    }

    #[test]
    fn round_trip_keeps_a_tone() -> Result<(), OpusError> {
        for rate in [8000u32, 16000, 48000] {
            let frame = (rate / 50) as usize;
            let mut enc = OpusEncoder::new(rate, EncoderSettings::default())?;
            let mut dec = OpusDecoder::new(rate)?;
            let mut packet = [0u8; 1275];
            let mut out = vec![0i16; frame * 6];
            let mut decoded = Vec::new();
            for k in 0..25 {
                let pcm = tone(rate, frame, 600.0, 10000.0, k * frame);
                let len = enc.encode(&pcm, &mut packet)?;
                let n = dec.decode(&packet[..len], &mut out)?;
                assert_eq!(n, frame);
                decoded.extend_from_slice(&out[..n]);
            }
            let tail = &decoded[decoded.len() - 10 * frame..];
            let a = goertzel_amp(tail, 600.0, f64::from(rate));
            assert!((a - 10000.0).abs() < 2000.0, "{rate}: amplitude {a}");
        }
        Ok(())
    }

    #[test]
    fn loss_concealment_and_fec_fill_the_frame() -> Result<(), OpusError> {
        let rate = 16000;
        let settings = EncoderSettings {
            packet_loss_pct: 20,
            ..EncoderSettings::default()
        };
        let mut enc = OpusEncoder::new(rate, settings)?;
        let mut dec = OpusDecoder::new(rate)?;
        let mut packet = [0u8; 1275];
        let mut out = [0i16; 320];
        for k in 0..10 {
            let len = enc.encode(&tone(rate, 320, 400.0, 8000.0, k * 320), &mut packet)?;
            dec.decode(&packet[..len], &mut out)?;
        }
        assert_eq!(dec.decode_lost(&mut out), Ok(320));
        let len = enc.encode(&tone(rate, 320, 400.0, 8000.0, 3520), &mut packet)?;
        assert_eq!(dec.decode_fec(&packet[..len], &mut out), Ok(320));
        // Concealed/recovered audio continues the tone rather than silence.
        assert!(goertzel_amp(&out, 400.0, 16000.0) > 1000.0);
        Ok(())
    }

    #[test]
    fn bad_arguments_are_errors() -> Result<(), OpusError> {
        assert!(OpusDecoder::new(44100).is_err());
        assert!(OpusDecoder::new(32000).is_err());
        let bad = EncoderSettings {
            complexity: 42,
            ..EncoderSettings::default()
        };
        let Err(err) = OpusEncoder::new(16000, bad) else {
            panic!("complexity 42 was accepted");
        };
        assert_eq!(err.code(), ffi::OPUS_BAD_ARG);
        assert!(err.to_string().contains("invalid argument"), "{err}");
        let mut enc = OpusEncoder::new(16000, EncoderSettings::default())?;
        // 7 samples is not an Opus frame size.
        assert!(enc.encode(&[0; 7], &mut [0u8; 100]).is_err());
        let mut dec = OpusDecoder::new(16000)?;
        assert!(dec.decode(&[], &mut [0i16; 320]).is_err());
        Ok(())
    }

    #[test]
    fn corrupt_packets_are_errors_not_panics() -> Result<(), OpusError> {
        let mut dec = OpusDecoder::new(48000)?;
        let mut out = vec![0i16; 5760];
        // Code 3 with a frame count of zero.
        assert_eq!(
            dec.decode(&[0x03, 0x00], &mut out).map_err(|e| e.code()),
            Err(ffi::OPUS_INVALID_PACKET)
        );
        // Code 1 (two equal frames) with an odd payload length.
        assert!(dec.decode(&[0x01, 0xaa, 0xbb, 0xcc], &mut out).is_err());
        // Code 2 whose first-frame length runs past the end.
        assert!(dec.decode(&[0x02, 200, 1, 2, 3], &mut out).is_err());
        // Code 3 truncated right after the TOC.
        assert!(dec.decode(&[0x03], &mut out).is_err());
        // A 60 ms SILK packet (config 3, code 0) into a 10 ms buffer.
        let mut small = vec![0i16; 480];
        assert_eq!(
            dec.decode(&[0x18, 0x00, 0x00], &mut small)
                .map_err(|e| e.code()),
            Err(ffi::OPUS_BUFFER_TOO_SMALL)
        );
        // Random bytes: libopus may accept some as valid; it must never
        // write past the buffer or report more samples than it holds.
        let mut x: u32 = 0x1234_5678;
        for len in 1..400usize {
            let packet: Vec<u8> = (0..len)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 17;
                    x ^= x << 5;
                    x as u8
                })
                .collect();
            if let Ok(n) = dec.decode(&packet, &mut out) {
                assert!(n <= out.len());
            }
        }
        Ok(())
    }

    #[test]
    fn settings_are_hashable_keys() {
        use std::collections::HashSet;
        let a = EncoderSettings::default();
        let b = EncoderSettings { dtx: true, ..a };
        let set: HashSet<EncoderSettings> = [a, a, b].into_iter().collect();
        assert_eq!(set.len(), 2);
        fn assert_send<T: Send>() {}
        assert_send::<OpusEncoder>();
        assert_send::<OpusDecoder>();
    }
}
