//! Pre-roll: the last few frames a member sent while not yet talking.
//!
//! The talk detector needs `start_ms` of speech before it fires, so the
//! first syllable would be lost if only frames after `Started` were mixed.
//! Each member keeps a `PreRoll`; every frame that is not mixed is
//! [`push`](PreRoll::push)ed into it, and when the detector reports
//! `Started` the mixer drains it oldest-first with
//! [`pop_oldest`](PreRoll::pop_oldest) (one buffered frame per tick, which
//! delays that member by the pre-roll length until they pause) or reads it
//! all at once with [`iter`](PreRoll::iter). All storage is allocated in
//! [`new`](PreRoll::new); nothing afterwards allocates.

use super::vad::{frames_for, VadConfig};

/// Fixed-capacity ring of fixed-size frames.
#[derive(Debug, Clone)]
pub struct PreRoll {
    storage: Vec<i16>,
    frame_len: usize,
    capacity: usize,
    /// Index (in frames) of the oldest stored frame.
    head: usize,
    len: usize,
}

impl PreRoll {
    /// Room for `frames` frames of `frame_len` samples each.
    pub fn new(frames: usize, frame_len: usize) -> Self {
        PreRoll {
            storage: vec![0; frames * frame_len],
            frame_len,
            capacity: frames,
            head: 0,
            len: 0,
        }
    }

    /// Sized to hold exactly the frames a [`super::Vad`] with `cfg` needs to
    /// fire: `ceil(start_ms / frame_ms)`.
    pub fn for_vad(cfg: &VadConfig, frame_ms: u32, frame_len: usize) -> Self {
        Self::new(frames_for(cfg.start_ms, frame_ms) as usize, frame_len)
    }

    pub fn capacity(&self) -> usize {
        self.capacity
    }

    pub fn frame_len(&self) -> usize {
        self.frame_len
    }

    /// Frames currently held.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn clear(&mut self) {
        self.head = 0;
        self.len = 0;
    }

    fn slot(&self, index: usize) -> &[i16] {
        let start = index * self.frame_len;
        &self.storage[start..start + self.frame_len]
    }

    /// Stores a frame, dropping the oldest when full. A shorter frame is
    /// zero-padded and a longer one truncated to `frame_len`, so a host that
    /// sends an odd-sized packet cannot corrupt the ring.
    pub fn push(&mut self, frame: &[i16]) {
        if self.capacity == 0 {
            return;
        }
        let index = (self.head + self.len) % self.capacity;
        let start = index * self.frame_len;
        let dst = &mut self.storage[start..start + self.frame_len];
        let n = frame.len().min(dst.len());
        dst[..n].copy_from_slice(&frame[..n]);
        dst[n..].fill(0);
        if self.len == self.capacity {
            self.head = (self.head + 1) % self.capacity;
        } else {
            self.len += 1;
        }
    }

    /// Moves the oldest frame into `out` (common prefix; rest of `out`
    /// zeroed) and returns true, or returns false when empty.
    pub fn pop_oldest(&mut self, out: &mut [i16]) -> bool {
        if self.len == 0 {
            return false;
        }
        let src = self.slot(self.head);
        let n = src.len().min(out.len());
        out[..n].copy_from_slice(&src[..n]);
        out[n..].fill(0);
        self.head = (self.head + 1) % self.capacity;
        self.len -= 1;
        true
    }

    /// Held frames, oldest first.
    pub fn iter(&self) -> impl Iterator<Item = &[i16]> + '_ {
        (0..self.len).map(move |k| self.slot((self.head + k) % self.capacity))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_last_k_frames_oldest_first() {
        let mut p = PreRoll::new(3, 2);
        for v in 1..=5i16 {
            p.push(&[v, -v]);
        }
        assert_eq!(p.len(), 3);
        let got: Vec<Vec<i16>> = p.iter().map(|f| f.to_vec()).collect();
        assert_eq!(got, vec![vec![3, -3], vec![4, -4], vec![5, -5]]);
        let mut out = [0i16; 2];
        assert!(p.pop_oldest(&mut out));
        assert_eq!(out, [3, -3]);
        p.push(&[6, -6]);
        let got: Vec<Vec<i16>> = p.iter().map(|f| f.to_vec()).collect();
        assert_eq!(got, vec![vec![4, -4], vec![5, -5], vec![6, -6]]);
        assert!(p.pop_oldest(&mut out) && p.pop_oldest(&mut out) && p.pop_oldest(&mut out));
        assert_eq!(out, [6, -6]);
        assert!(!p.pop_oldest(&mut out));
        assert!(p.is_empty());
    }

    #[test]
    fn sized_from_vad_config() {
        let cfg = VadConfig::default();
        assert_eq!(PreRoll::for_vad(&cfg, 20, 320).capacity(), 2);
        assert_eq!(PreRoll::for_vad(&cfg, 10, 160).capacity(), 4);
        assert_eq!(PreRoll::for_vad(&cfg, 30, 240).capacity(), 2);
    }

    #[test]
    fn odd_sized_frames_are_padded_or_truncated() {
        let mut p = PreRoll::new(2, 3);
        p.push(&[1]);
        p.push(&[1, 2, 3, 4, 5]);
        let got: Vec<Vec<i16>> = p.iter().map(|f| f.to_vec()).collect();
        assert_eq!(got, vec![vec![1, 0, 0], vec![1, 2, 3]]);
        let mut big = [9i16; 5];
        p.pop_oldest(&mut big);
        assert_eq!(big, [1, 0, 0, 0, 0]);
        p.clear();
        assert!(p.is_empty());
    }

    #[test]
    fn zero_capacity_is_inert() {
        let mut p = PreRoll::new(0, 160);
        p.push(&[1; 160]);
        assert!(p.is_empty());
        assert_eq!(p.iter().count(), 0);
    }
}
