//! Safe wrapper over libopus (via `audiopus_sys`): mono encoder and decoder.
//!
//! This is the only place Opus is touched through raw pointers. Each state
//! is created in `new`, owned exclusively by its wrapper, and destroyed in
//! `Drop`; every call passes lengths taken from the Rust slices it reads or
//! writes, so libopus can never run past a buffer.

use audiopus_sys as sys;
use std::ffi::CStr;
use std::fmt;
use std::os::raw::c_int;
use std::ptr::NonNull;

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
    fn from_code(code: c_int) -> Self {
        // SAFETY: opus_strerror accepts any int and returns a pointer to a
        // static, NUL-terminated string that is never freed.
        let text = unsafe { CStr::from_ptr(sys::opus_strerror(code)) };
        OpusError {
            code,
            message: text.to_str().unwrap_or("unknown error"),
        }
    }

    /// An argument this wrapper rejects before calling libopus.
    fn bad_arg(message: &'static str) -> Self {
        OpusError {
            code: sys::OPUS_BAD_ARG,
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

impl fmt::Display for OpusError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "opus: {} ({})", self.message, self.code)
    }
}

impl std::error::Error for OpusError {}

fn check_rate(rate: u32) -> Result<i32, OpusError> {
    if OPUS_RATES.contains(&rate) {
        // Every entry of OPUS_RATES fits in i32.
        Ok(rate as i32)
    } else {
        Err(OpusError::bad_arg(
            "sample rate must be 8000, 12000, 16000, 24000 or 48000",
        ))
    }
}

fn len_i32(len: usize, what: &'static str) -> Result<i32, OpusError> {
    i32::try_from(len).map_err(|_| OpusError::bad_arg(what))
}

/// Turns a libopus return value (count or negative error) into a Result.
fn count(ret: c_int) -> Result<usize, OpusError> {
    usize::try_from(ret).map_err(|_| OpusError::from_code(ret))
}

/// Mono Opus decoder at a fixed output rate.
#[derive(Debug)]
pub struct OpusDecoder {
    st: NonNull<sys::OpusDecoder>,
    rate: u32,
}

// SAFETY: the decoder state is plain heap memory owned solely by this value;
// libopus keeps no thread-local or global references to it, so moving it to
// another thread is sound. Every use goes through `&mut self`.
unsafe impl Send for OpusDecoder {}

impl OpusDecoder {
    pub fn new(rate: u32) -> Result<Self, OpusError> {
        let fs = check_rate(rate)?;
        let mut err: c_int = 0;
        // SAFETY: rate and channel count are valid; `err` is a live local
        // that libopus writes once.
        let raw = unsafe { sys::opus_decoder_create(fs, 1, &mut err) };
        if err != sys::OPUS_OK {
            return Err(OpusError::from_code(err));
        }
        let st = NonNull::new(raw).ok_or(OpusError::from_code(sys::OPUS_ALLOC_FAIL))?;
        Ok(OpusDecoder { st, rate })
    }

    pub fn rate(&self) -> u32 {
        self.rate
    }

    fn run(&mut self, data: Option<&[u8]>, out: &mut [i16], fec: bool) -> Result<usize, OpusError> {
        let frame_size = len_i32(out.len(), "output buffer too large")?;
        let (ptr, len) = match data {
            Some(d) => (d.as_ptr(), len_i32(d.len(), "packet too large")?),
            None => (std::ptr::null(), 0),
        };
        // SAFETY: `st` is a live decoder; `ptr`/`len` describe a readable
        // slice (or NULL/0, libopus's "packet lost"); `out` holds exactly
        // `frame_size` writable samples of one channel.
        let ret = unsafe {
            sys::opus_decode(
                self.st.as_ptr(),
                ptr,
                len,
                out.as_mut_ptr(),
                frame_size,
                c_int::from(fec),
            )
        };
        count(ret)
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

impl Drop for OpusDecoder {
    fn drop(&mut self) {
        // SAFETY: `st` came from opus_decoder_create and is destroyed exactly
        // once, here.
        unsafe { sys::opus_decoder_destroy(self.st.as_ptr()) }
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
    st: NonNull<sys::OpusEncoder>,
    rate: u32,
    settings: EncoderSettings,
}

// SAFETY: as for OpusDecoder, the state is exclusively owned heap memory
// with no thread affinity, and all access is through `&mut self`.
unsafe impl Send for OpusEncoder {}

impl OpusEncoder {
    pub fn new(rate: u32, settings: EncoderSettings) -> Result<Self, OpusError> {
        let fs = check_rate(rate)?;
        let mut err: c_int = 0;
        // SAFETY: valid rate, one channel, a valid application constant and
        // a live `err` for libopus to write.
        let raw = unsafe { sys::opus_encoder_create(fs, 1, sys::OPUS_APPLICATION_VOIP, &mut err) };
        if err != sys::OPUS_OK {
            return Err(OpusError::from_code(err));
        }
        let st = NonNull::new(raw).ok_or(OpusError::from_code(sys::OPUS_ALLOC_FAIL))?;
        // Constructed before the ctls so Drop frees the state if one fails.
        let mut enc = OpusEncoder { st, rate, settings };
        enc.apply(settings)?;
        Ok(enc)
    }

    fn ctl(&mut self, request: c_int, value: i32) -> Result<(), OpusError> {
        // SAFETY: `st` is a live encoder and every request used here is a
        // SET ctl whose single variadic argument is an opus_int32.
        let ret = unsafe { sys::opus_encoder_ctl(self.st.as_ptr(), request, value) };
        if ret == sys::OPUS_OK {
            Ok(())
        } else {
            Err(OpusError::from_code(ret))
        }
    }

    /// Changes the settings of a running encoder.
    pub fn apply(&mut self, s: EncoderSettings) -> Result<(), OpusError> {
        self.ctl(sys::OPUS_SET_BITRATE_REQUEST, s.bitrate)?;
        self.ctl(sys::OPUS_SET_INBAND_FEC_REQUEST, i32::from(s.fec))?;
        self.ctl(sys::OPUS_SET_DTX_REQUEST, i32::from(s.dtx))?;
        self.ctl(sys::OPUS_SET_COMPLEXITY_REQUEST, s.complexity)?;
        self.ctl(sys::OPUS_SET_PACKET_LOSS_PERC_REQUEST, s.packet_loss_pct)?;
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
        let frame_size = len_i32(pcm.len(), "frame too long")?;
        let max = len_i32(out.len(), "output buffer too large").unwrap_or(i32::MAX);
        // SAFETY: `st` is a live encoder; `pcm` holds `frame_size` readable
        // samples of one channel and `out` at least `max` writable bytes.
        let ret = unsafe {
            sys::opus_encode(
                self.st.as_ptr(),
                pcm.as_ptr(),
                frame_size,
                out.as_mut_ptr(),
                max,
            )
        };
        count(ret)
    }
}

impl Drop for OpusEncoder {
    fn drop(&mut self) {
        // SAFETY: `st` came from opus_encoder_create and is destroyed exactly
        // once, here.
        unsafe { sys::opus_encoder_destroy(self.st.as_ptr()) }
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
        assert_eq!(err.code(), sys::OPUS_BAD_ARG);
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
            Err(sys::OPUS_INVALID_PACKET)
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
            Err(sys::OPUS_BUFFER_TOO_SMALL)
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
