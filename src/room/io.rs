//! What goes in and out of a room, in the host's terms: call leg ids,
//! codecs, frames to send, structured events and hangup causes. The room
//! core produces these; the runtime hands them to the host
//! (`runtime/host.rs`).

use std::ffi::CString;
use std::fmt;

use crate::audio::g711::Law;

/// A host call leg id, kept NUL-terminated so audio out needs no allocation.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Channel(CString);

impl Channel {
    /// Interior NULs cannot reach here from C; from Rust they are replaced so a
    /// channel name never truncates silently.
    pub fn new(name: &str) -> Channel {
        let clean: String = name
            .chars()
            .map(|c| if c == '\0' { '?' } else { c })
            .collect();
        Channel(CString::new(clean).unwrap_or_default())
    }

    pub fn as_c_str(&self) -> &std::ffi::CStr {
        &self.0
    }

    pub fn as_str(&self) -> &str {
        self.0.to_str().unwrap_or("")
    }
}

impl fmt::Debug for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.as_str())
    }
}

impl fmt::Display for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Audio codec of a frame, as numbered in `huddle_codec`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Codec {
    L16 = 1,
    Opus = 2,
    /// G.711 mu-law at 8 kHz, one octet a sample.
    Pcmu = 3,
    /// G.711 A-law at 8 kHz, one octet a sample.
    Pcma = 4,
}

impl Codec {
    pub fn from_u32(v: u32) -> Option<Codec> {
        match v {
            1 => Some(Codec::L16),
            2 => Some(Codec::Opus),
            3 => Some(Codec::Pcmu),
            4 => Some(Codec::Pcma),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Codec::L16 => "L16",
            Codec::Opus => "opus",
            Codec::Pcmu => "PCMU",
            Codec::Pcma => "PCMA",
        }
    }

    /// The G.711 law of a PCMU or PCMA frame.
    pub fn g711(self) -> Option<Law> {
        match self {
            Codec::Pcmu => Some(Law::Mu),
            Codec::Pcma => Some(Law::A),
            Codec::L16 | Codec::Opus => None,
        }
    }
}

/// One frame of audio going to a member. `data` is L16 bytes in host order,
/// one Opus packet, or G.711 octets.
#[derive(Debug, Clone, Copy)]
pub struct OutFrame<'a> {
    pub codec: Codec,
    pub rate: u32,
    pub samples: u32,
    pub data: &'a [u8],
}

/// A structured event, in the shape `<Conference>` status callbacks have.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub name: String,
    pub fields: Vec<(&'static str, String)>,
}

impl Event {
    pub fn get(&self, key: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// Q.850 causes huddle hands to `hangup`.
pub mod cause {
    pub const NORMAL_CLEARING: u32 = 16;
    /// Refused: bad app data, wrong PIN, locked room.
    pub const CALL_REJECTED: u32 = 21;
    /// The room is full or a limit was reached.
    pub const NO_CIRCUIT: u32 = 34;
    /// The room does not exist and may not be created.
    pub const UNALLOCATED_NUMBER: u32 = 1;
}
