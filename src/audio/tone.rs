//! Announcement tones generated in code, so rooms need no sound files and
//! every room rate gets a tone rendered natively at that rate.

/// The cue a tone signals. Each has a distinct shape so members learn them:
/// enter rises, exit falls, record is three quick high beeps, refuse is two
/// low beeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ToneKind {
    Enter,
    Exit,
    Record,
    Refuse,
}

/// Peak amplitude of a sine whose RMS is -12 dBov:
/// `32767 * 10^(-12/20) * sqrt(2)`.
pub const TONE_AMPLITUDE: i16 = 11_640;

/// Fade-in/out length per beep; long enough that the on/off edges do not
/// click, short enough not to blur the beep.
pub const FADE_MS: u32 = 5;

/// (frequency Hz, duration ms); a frequency of 0 is a gap.
fn segments(kind: ToneKind) -> &'static [(f32, u32)] {
    match kind {
        ToneKind::Enter => &[(523.25, 130), (783.99, 130)],
        ToneKind::Exit => &[(783.99, 130), (523.25, 130)],
        ToneKind::Record => &[
            (1000.0, 80),
            (0.0, 60),
            (1000.0, 80),
            (0.0, 60),
            (1000.0, 80),
        ],
        ToneKind::Refuse => &[(350.0, 120), (0.0, 80), (350.0, 120)],
    }
}

/// Renders `kind` as mono samples at `rate` Hz (0 is treated as 8 kHz).
/// Tones last 260-360 ms; each beep is a -12 dBov sine with 5 ms
/// raised-cosine fades at both ends.
pub fn render(kind: ToneKind, rate: u32) -> Vec<i16> {
    let rate = if rate == 0 { 8000 } else { rate };
    let segs = segments(kind);
    let total: usize = segs
        .iter()
        .map(|&(_, ms)| super::frame_samples(rate, ms))
        .sum();
    let mut out = vec![0i16; total];
    let fade = super::frame_samples(rate, FADE_MS).max(1);
    let mut pos = 0;
    for &(freq, ms) in segs {
        let n = super::frame_samples(rate, ms);
        let seg = &mut out[pos..pos + n];
        if freq > 0.0 {
            let mut phase = 0.0;
            sine(freq, rate, n, TONE_AMPLITUDE, &mut phase, seg);
            apply_fades(seg, fade);
        }
        pos += n;
    }
    out
}

fn apply_fades(seg: &mut [i16], fade: usize) {
    let n = seg.len();
    let fade = fade.min(n / 2);
    for k in 0..fade {
        // Raised cosine from 0 to just under 1, mirrored at the end.
        let w = 0.5 - 0.5 * (std::f64::consts::PI * k as f64 / fade as f64).cos();
        seg[k] = (f64::from(seg[k]) * w).round() as i16;
        let j = n - 1 - k;
        seg[j] = (f64::from(seg[j]) * w).round() as i16;
    }
}

/// Writes `min(samples, out.len())` samples of a sine at `freq` Hz and peak
/// `amplitude`, continuing from `phase` (radians) and leaving it where the
/// next call should resume, so consecutive frames join without a seam.
pub fn sine(
    freq: f32,
    rate: u32,
    samples: usize,
    amplitude: i16,
    phase: &mut f64,
    out: &mut [i16],
) {
    let rate = if rate == 0 { 8000 } else { rate };
    let step = std::f64::consts::TAU * f64::from(freq) / f64::from(rate);
    let amp = f64::from(amplitude);
    for s in out.iter_mut().take(samples) {
        *s = (amp * phase.sin()).round().clamp(-32768.0, 32767.0) as i16;
        *phase += step;
        if *phase >= std::f64::consts::TAU {
            *phase -= std::f64::consts::TAU;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audio::test_signal::goertzel_amp;

    fn rms_db(x: &[i16]) -> f64 {
        let e: f64 = x.iter().map(|&v| f64::from(v).powi(2)).sum::<f64>() / x.len() as f64;
        10.0 * (e / (32767.0f64 * 32767.0)).log10()
    }

    fn ms(rate: u32, m: u32) -> usize {
        (rate * m / 1000) as usize
    }

    #[test]
    fn sine_continues_phase_across_calls() {
        let mut phase = 0.0;
        let mut a = [0i16; 40];
        sine(1000.0, 8000, 40, 10000, &mut phase, &mut a);
        // 1 kHz at 8 kHz: period 8, samples at 0, 45, 90, 135 degrees...
        assert_eq!(&a[..4], &[0, 7071, 10000, 7071]);
        let mut whole = [0i16; 80];
        let mut p2 = 0.0;
        sine(1000.0, 8000, 80, 10000, &mut p2, &mut whole);
        let mut b = [0i16; 40];
        sine(1000.0, 8000, 40, 10000, &mut phase, &mut b);
        assert_eq!(&whole[..40], &a);
        assert_eq!(&whole[40..], &b);
        // `samples` smaller than the buffer leaves the rest alone.
        let mut c = [5i16; 4];
        sine(1000.0, 8000, 2, 10000, &mut 0.0, &mut c);
        assert_eq!(c, [0, 7071, 5, 5]);
    }

    #[test]
    fn tones_have_their_frequencies_in_order() {
        for &rate in &crate::audio::ROOM_RATES {
            let r = f64::from(rate);
            let enter = render(ToneKind::Enter, rate);
            let exit = render(ToneKind::Exit, rate);
            let (lo, hi) = (523.25, 783.99);
            let first = &enter[ms(rate, 10)..ms(rate, 120)];
            let second = &enter[ms(rate, 140)..ms(rate, 250)];
            assert!(goertzel_amp(first, lo, r) > 10.0 * goertzel_amp(first, hi, r));
            assert!(goertzel_amp(second, hi, r) > 10.0 * goertzel_amp(second, lo, r));
            let first = &exit[ms(rate, 10)..ms(rate, 120)];
            assert!(goertzel_amp(first, hi, r) > 10.0 * goertzel_amp(first, lo, r));

            let rec = render(ToneKind::Record, rate);
            // Beeps at 0-80, 140-220, 280-360 ms; gaps silent.
            for start in [0, 140, 280] {
                let beep = &rec[ms(rate, start + 10)..ms(rate, start + 70)];
                let a = goertzel_amp(beep, 1000.0, r);
                assert!((a - f64::from(TONE_AMPLITUDE)).abs() < 300.0, "{a}");
            }
            assert!(rec[ms(rate, 80)..ms(rate, 140)].iter().all(|&s| s == 0));

            let refuse = render(ToneKind::Refuse, rate);
            let beep = &refuse[ms(rate, 10)..ms(rate, 110)];
            assert!(goertzel_amp(beep, 350.0, r) > 10_000.0);
            assert!(refuse[ms(rate, 120)..ms(rate, 200)].iter().all(|&s| s == 0));
        }
    }

    #[test]
    fn durations_levels_and_fades() {
        for &rate in &crate::audio::ROOM_RATES {
            for kind in [
                ToneKind::Enter,
                ToneKind::Exit,
                ToneKind::Record,
                ToneKind::Refuse,
            ] {
                let t = render(kind, rate);
                let dur_ms = t.len() as f64 * 1000.0 / f64::from(rate);
                assert!((200.0..=400.0).contains(&dur_ms), "{kind:?} {dur_ms}");
                // Steady part of the first beep is at -12 dBov within 0.5 dB.
                let steady = &t[ms(rate, 10)..ms(rate, 70)];
                assert!(
                    (rms_db(steady) + 12.0).abs() < 0.5,
                    "{kind:?} {}",
                    rms_db(steady)
                );
                // Starts and ends at (near) zero: no click.
                assert!(t[0] == 0 && t[t.len() - 1] == 0, "{kind:?}");
                // No step larger than the steepest slope of a 1 kHz sine at
                // this amplitude (A * 2*pi*f/rate), plus rounding.
                let max_step = f64::from(TONE_AMPLITUDE) * 2.0 * std::f64::consts::PI * 1000.0
                    / f64::from(rate)
                    + 2.0;
                for w in t.windows(2) {
                    let d = (i32::from(w[1]) - i32::from(w[0])).abs();
                    assert!(f64::from(d) <= max_step, "{kind:?} step {d} > {max_step}");
                }
            }
        }
    }

    #[test]
    fn kinds_are_distinct() {
        let all: Vec<Vec<i16>> = [
            ToneKind::Enter,
            ToneKind::Exit,
            ToneKind::Record,
            ToneKind::Refuse,
        ]
        .iter()
        .map(|&k| render(k, 16000))
        .collect();
        for i in 0..all.len() {
            for j in i + 1..all.len() {
                assert_ne!(all[i], all[j]);
            }
        }
    }
}
