//! Sound files decoded once per (file, rate) and shared by every room.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use crate::audio::tone::{render, ToneKind};
use crate::audio::wav::load_sound;

/// A bound on what the cache holds, so an operator `play`ing many files
/// cannot grow memory without limit: 64 entries, ~1 minute of 48 kHz each.
const MAX_ENTRIES: usize = 64;

type Key = (PathBuf, u32);
type ToneKey = (ToneKind, u32);

#[derive(Default)]
pub struct SoundCache {
    entries: Mutex<HashMap<Key, Arc<[i16]>>>,
    /// Built-in tones by (kind, rate): a handful, so unbounded is bounded.
    /// Rendered once per module, not per room: five of them were 50 KB of
    /// every room at 16 kHz.
    tones: Mutex<HashMap<ToneKey, Arc<[i16]>>>,
}

impl SoundCache {
    /// Loads (or reuses) `path` at `rate`. Errors name the file and the problem.
    pub fn get(&self, path: &Path, rate: u32) -> Result<Arc<[i16]>, String> {
        let key = (path.to_path_buf(), rate);
        if let Some(s) = self
            .entries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&key)
        {
            return Ok(s.clone());
        }
        let samples: Arc<[i16]> = load_sound(path, rate).map_err(|e| e.to_string())?.into();
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= MAX_ENTRIES {
            entries.clear();
        }
        entries.insert(key, samples.clone());
        Ok(samples)
    }

    /// Like `get`, for optional room sounds: a missing or broken file is
    /// logged and the room goes on without it.
    pub fn optional(&self, path: Option<&Path>, rate: u32) -> Option<Arc<[i16]>> {
        let path = path?;
        match self.get(path, rate) {
            Ok(s) => Some(s),
            Err(e) => {
                log::warn!(target: "huddle::sounds", "{e}; going on without it");
                None
            }
        }
    }

    /// A built-in tone at `rate`, shared by every room.
    pub fn tone(&self, kind: ToneKind, rate: u32) -> Arc<[i16]> {
        self.tones
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry((kind, rate))
            .or_insert_with(|| render(kind, rate).into())
            .clone()
    }

    pub fn clear(&self) {
        self.entries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }
}
