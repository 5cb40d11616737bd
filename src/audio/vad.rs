//! Energy-based talk detection with hysteresis.
//!
//! Levels come either from [`crate::audio::rms_dbov`] on decoded audio or
//! from an RFC 6464 header, one value per frame. A member starts talking
//! after `start_ms` of consecutive frames at or above the threshold (so a
//! cough or click does not light them up) and stops after `stop_ms` of
//! consecutive frames below it (so pauses between words do not flap).

/// Talk detector tuning.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VadConfig {
    /// Frames at or above this level count as speech.
    pub threshold_dbov: f32,
    /// Speech needed before `Started`, rounded up to whole frames.
    pub start_ms: u32,
    /// Silence needed before `Stopped`, rounded up to whole frames.
    pub stop_ms: u32,
}

impl Default for VadConfig {
    fn default() -> Self {
        VadConfig {
            threshold_dbov: -45.0,
            start_ms: 40,
            stop_ms: 600,
        }
    }
}

/// A talk-state transition reported by [`Vad::update`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VadChange {
    Started,
    Stopped,
}

/// Per-member talk detector state.
#[derive(Debug, Clone)]
pub struct Vad {
    threshold_dbov: f32,
    start_frames: u32,
    stop_frames: u32,
    talking: bool,
    run: u32,
}

/// `ceil(ms / frame_ms)`, at least one frame: a zero duration still needs
/// one frame of evidence.
pub(crate) fn frames_for(ms: u32, frame_ms: u32) -> u32 {
    let frame_ms = frame_ms.max(1);
    ms.div_ceil(frame_ms).max(1)
}

impl Vad {
    /// A detector fed one level per `frame_ms` frame (0 is treated as 1).
    pub fn new(cfg: VadConfig, frame_ms: u32) -> Self {
        Vad {
            threshold_dbov: cfg.threshold_dbov,
            start_frames: frames_for(cfg.start_ms, frame_ms),
            stop_frames: frames_for(cfg.stop_ms, frame_ms),
            talking: false,
            run: 0,
        }
    }

    /// Consecutive loud frames needed to start talking.
    pub fn start_frames(&self) -> u32 {
        self.start_frames
    }

    /// Feeds one frame's level; returns the transition it caused, if any.
    /// NaN counts as silence.
    pub fn update(&mut self, level_dbov: f32) -> Option<VadChange> {
        let loud = level_dbov >= self.threshold_dbov;
        // `run` counts consecutive frames that argue for leaving the current
        // state; a frame agreeing with the state resets it.
        if loud == self.talking {
            self.run = 0;
            return None;
        }
        self.run += 1;
        let needed = if self.talking {
            self.stop_frames
        } else {
            self.start_frames
        };
        if self.run < needed {
            return None;
        }
        self.run = 0;
        self.talking = !self.talking;
        Some(if self.talking {
            VadChange::Started
        } else {
            VadChange::Stopped
        })
    }

    /// Per-member energy level (DTMF and API `energy`); keeps the current state.
    pub fn set_threshold(&mut self, threshold_dbov: f32) {
        self.threshold_dbov = threshold_dbov;
    }

    pub fn talking(&self) -> bool {
        self.talking
    }

    /// Back to not talking with no history, e.g. on mute or re-join.
    pub fn reset(&mut self) {
        self.talking = false;
        self.run = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `levels` and returns (frame index, change) for every transition.
    fn events(vad: &mut Vad, levels: &[f32]) -> Vec<(usize, VadChange)> {
        levels
            .iter()
            .enumerate()
            .filter_map(|(i, &l)| vad.update(l).map(|c| (i, c)))
            .collect()
    }

    fn pattern(loud: usize, quiet: usize) -> Vec<f32> {
        let mut v = vec![-20.0; loud];
        v.extend(std::iter::repeat_n(-70.0, quiet));
        v
    }

    #[test]
    fn ten_ms_frames() {
        // 40 ms = 4 frames -> Started on index 3; 600 ms = 60 frames of
        // quiet starting at index 10 -> Stopped on index 69.
        let mut vad = Vad::new(VadConfig::default(), 10);
        let ev = events(&mut vad, &pattern(10, 80));
        assert_eq!(ev, vec![(3, VadChange::Started), (69, VadChange::Stopped)]);
    }

    #[test]
    fn twenty_ms_frames() {
        // 2 frames to start -> index 1; 30 frames to stop from index 10 -> 39.
        let mut vad = Vad::new(VadConfig::default(), 20);
        let ev = events(&mut vad, &pattern(10, 40));
        assert_eq!(ev, vec![(1, VadChange::Started), (39, VadChange::Stopped)]);
        assert!(!vad.talking());
    }

    #[test]
    fn start_rounds_up_partial_frames() {
        // ceil(40/30) = 2 frames, ceil(40/60) = 1 frame.
        assert_eq!(Vad::new(VadConfig::default(), 30).start_frames(), 2);
        assert_eq!(Vad::new(VadConfig::default(), 60).start_frames(), 1);
        let mut vad = Vad::new(VadConfig::default(), 60);
        assert_eq!(vad.update(-10.0), Some(VadChange::Started));
    }

    #[test]
    fn short_blips_and_pauses_do_not_toggle() {
        let mut vad = Vad::new(VadConfig::default(), 20);
        // Single loud frames separated by quiet: never two in a row.
        let blips: Vec<f32> = (0..20)
            .map(|i| if i % 2 == 0 { -30.0 } else { -60.0 })
            .collect();
        assert!(events(&mut vad, &blips).is_empty());
        // Start, then a 29-frame pause (one short of stopping), then speech.
        let mut levels = vec![-30.0, -30.0];
        levels.extend(std::iter::repeat_n(-60.0, 29));
        levels.push(-30.0);
        levels.extend(std::iter::repeat_n(-60.0, 30));
        let ev = events(&mut vad, &levels);
        assert_eq!(ev, vec![(1, VadChange::Started), (61, VadChange::Stopped)]);
    }

    #[test]
    fn threshold_is_inclusive_and_nan_is_quiet() {
        let cfg = VadConfig {
            threshold_dbov: -40.0,
            start_ms: 10,
            stop_ms: 10,
        };
        let mut vad = Vad::new(cfg, 10);
        assert_eq!(vad.update(f32::NAN), None);
        assert_eq!(vad.update(-40.0), Some(VadChange::Started));
        assert_eq!(vad.update(-40.01), Some(VadChange::Stopped));
    }

    #[test]
    fn reset_forgets_state() {
        let mut vad = Vad::new(VadConfig::default(), 20);
        vad.update(-10.0);
        vad.update(-10.0);
        assert!(vad.talking());
        vad.reset();
        assert!(!vad.talking());
        // Needs the full start run again.
        assert_eq!(vad.update(-10.0), None);
        assert_eq!(vad.update(-10.0), Some(VadChange::Started));
    }
}
