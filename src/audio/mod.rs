//! Audio building blocks for the mixer: pure functions and small stateful
//! processors that know nothing about rooms. Everything that runs once per
//! mixer tick works on caller-provided buffers sized at construction, so the
//! tick never touches the allocator.

pub mod g711;
pub mod level;
pub mod limiter;
pub mod mix;
pub mod opus;
pub mod opus_packet;
pub mod pcm;
pub mod resample;
#[cfg(test)]
pub(crate) mod test_signal;
pub mod tone;
pub mod vad;
pub mod wav;

pub use level::{rfc6464_to_dbov, rms_dbov};
pub use limiter::Limiter;
pub use opus_packet::silk_voice_activity;
pub use resample::{ResampleError, Resampler};
pub use tone::ToneKind;
pub use vad::{Vad, VadChange, VadConfig};
pub use wav::{load_sound, repair_wav, trim_silence, RepairReport, SoundError, WavRecorder};

/// Sample rates a room may run at. All are multiples of 8 kHz, which keeps
/// every conversion between them an exact small-integer ratio.
pub const ROOM_RATES: [u32; 5] = [8000, 16000, 24000, 32000, 48000];

/// Samples in one mono frame of `interval_ms` at `rate`.
///
/// Computed in 64 bits so odd combinations cannot overflow; fractional
/// samples are truncated (never happens for room rates and whole-ms frames).
pub fn frame_samples(rate: u32, interval_ms: u32) -> usize {
    let n = u64::from(rate) * u64::from(interval_ms) / 1000;
    usize::try_from(n).unwrap_or(usize::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_sizes_for_common_intervals() {
        assert_eq!(frame_samples(8000, 20), 160);
        assert_eq!(frame_samples(16000, 10), 160);
        assert_eq!(frame_samples(24000, 20), 480);
        assert_eq!(frame_samples(32000, 40), 1280);
        assert_eq!(frame_samples(48000, 60), 2880);
        assert_eq!(frame_samples(48000, 0), 0);
    }
}
