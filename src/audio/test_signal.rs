//! Signal measurements shared by the audio unit tests.

/// Goertzel magnitude at `freq`, normalised so a sine of amplitude A gives A.
pub fn goertzel_amp(x: &[i16], freq: f64, rate: f64) -> f64 {
    let w = 2.0 * std::f64::consts::PI * freq / rate;
    let c = 2.0 * w.cos();
    let (mut s1, mut s2) = (0.0, 0.0);
    for &v in x {
        let s0 = f64::from(v) + c * s1 - s2;
        s2 = s1;
        s1 = s0;
    }
    2.0 * (s1 * s1 + s2 * s2 - c * s1 * s2).sqrt() / x.len() as f64
}
