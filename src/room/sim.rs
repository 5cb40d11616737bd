//! A room simulator for tests: drives `Room` directly on virtual time with a
//! sink that records what each member was sent. No threads, no runtime, no
//! C ABI, so a minute of conference runs in milliseconds and a failure is
//! reproducible from its inputs.

use std::collections::HashMap;

use crate::audio::vad::VadConfig;
use crate::room::invite::InviteRules;
use crate::room::io::{Channel, Codec, Event, OutFrame};
use crate::room::settings::{Beep, FirstSetter, MemberSpec, RoomSettings, Sounds};
use crate::room::{InFrame, MemberId, Output, Room, TickSink};

pub(crate) const RATE: u32 = 16_000;
pub(crate) const INTERVAL_MS: u32 = 20;
pub(crate) const FRAME: usize = (RATE * INTERVAL_MS / 1000) as usize;

/// A 16 kHz, 20 ms room with no sounds (no beeps, no music), the limiter
/// and the detector at their defaults.
pub(crate) fn settings(name: &str) -> RoomSettings {
    RoomSettings {
        account: String::new(),
        name: name.to_string(),
        profile: "default".to_string(),
        rate: RATE,
        interval_ms: INTERVAL_MS,
        max_members: 25,
        pin: None,
        host_pin: None,
        pin_tries: 3,
        pin_first_digit_timeout_ms: 10_000,
        pin_inter_digit_timeout_ms: 5_000,
        pin_failures_per_minute: 10,
        wait_for_host: false,
        mute_on_entry: false,
        announce_join_leave: false,
        mute_non_moderators: false,
        vad: VadConfig::default(),
        jitter_frames: 1,
        bridge_jitter_frames: 1,
        limiter: true,
        top_n: 0,
        comfort_noise_dbov: 0.0,
        share_encodes: true,
        skip_quiet_inputs: true,
        recording_enabled: true,
        recording_timeout_ms: 0,
        record_beep: false,
        multitrack: false,
        announce_caller_name: false,
        auto_record: false,
        sounds: Sounds::default(),
        wall_epoch_ms: 0,
        suppress_events: Vec::new(),
        seed: 1,
        invite: InviteRules::default(),
        opus: Default::default(),
    }
}

/// A caller on `channel` who sends and takes L16 at the room rate.
pub(crate) fn member(channel: &str) -> MemberSpec {
    MemberSpec {
        channel: Channel::new(channel),
        call_id: format!("CA-{channel}"),
        from: String::new(),
        to: String::new(),
        caller_name: String::new(),
        label: String::new(),
        moderator: false,
        muted: false,
        deaf: false,
        hold: false,
        start_on_enter: true,
        end_on_exit: false,
        min_two: false,
        ghost: false,
        bridge: false,
        beep: Beep::None,
        coach: None,
        pin: None,
        max_participants: None,
        wait_music: None,
        opus: Default::default(),
        jitter_frames: None,
        out_codec: Some(Codec::L16),
        first_setter: FirstSetter::default(),
        announce_name: None,
        enter_sound: None,
        exit_sound: None,
    }
}

/// What the room sent, per member: every frame's samples in order.
#[derive(Default)]
pub(crate) struct Heard {
    pub frames: HashMap<MemberId, Vec<Vec<i16>>>,
}

impl TickSink for Heard {
    fn send_audio(&mut self, member: MemberId, _channel: &Channel, frame: &OutFrame<'_>) {
        assert_eq!(frame.codec, Codec::L16, "the simulator's members take L16");
        let samples = frame
            .data
            .chunks_exact(2)
            .map(|b| i16::from_ne_bytes([b[0], b[1]]))
            .collect();
        self.frames.entry(member).or_default().push(samples);
    }

    fn record(&mut self, _pcm: &[i16], _speech: bool) {}
}

/// A room, its clock and what it sent and said.
pub(crate) struct Sim {
    pub room: Room,
    pub now_ms: u64,
    pub heard: Heard,
    pub outputs: Vec<Output>,
}

impl Sim {
    pub fn new(settings: RoomSettings) -> Sim {
        Sim {
            room: Room::new(settings, "CF-sim".to_string(), 0),
            now_ms: 0,
            heard: Heard::default(),
            outputs: Vec::new(),
        }
    }

    pub fn join(&mut self, spec: MemberSpec) -> MemberId {
        let id = self.room.join(spec, self.now_ms).expect("join refused");
        self.drain();
        id
    }

    /// Runs `ticks` ticks; before each, `talk` gives the frame each listed
    /// member sends (the others send nothing).
    pub fn run(&mut self, ticks: u32, mut talk: impl FnMut(u64) -> Vec<(MemberId, Vec<i16>)>) {
        for _ in 0..ticks {
            for (id, pcm) in talk(self.now_ms) {
                let frame = InFrame {
                    codec: Codec::L16,
                    rate: RATE,
                    samples: pcm.len() as u32,
                    data: pcm.iter().flat_map(|s| s.to_ne_bytes()).collect(),
                    audio_level: None,
                    sequence: None,
                };
                self.room.exchange_frames(id, std::iter::once(frame), drop);
            }
            self.room.tick(self.now_ms, &mut self.heard);
            self.drain();
            self.now_ms += u64::from(INTERVAL_MS);
        }
    }

    fn drain(&mut self) {
        while let Some(out) = self.room.poll_output() {
            self.outputs.push(out);
        }
    }

    /// The events named `name`, as the host receives them.
    pub fn events(&self, name: &str) -> Vec<Event> {
        self.outputs
            .iter()
            .filter_map(|o| match o {
                Output::Event(e) if e.name == name => Some(e.format()),
                _ => None,
            })
            .collect()
    }

    /// RMS of what `id` was sent over its last `frames` frames.
    pub fn heard_rms(&self, id: MemberId, frames: usize) -> f64 {
        let all = self.heard.frames.get(&id).map_or(&[][..], |v| v.as_slice());
        let tail = &all[all.len().saturating_sub(frames)..];
        let samples: Vec<f64> = tail.iter().flatten().map(|&s| f64::from(s)).collect();
        if samples.is_empty() {
            return 0.0;
        }
        (samples.iter().map(|s| s * s).sum::<f64>() / samples.len() as f64).sqrt()
    }
}

/// A 500 Hz tone of amplitude `amp`, one frame, continuing from `n` samples.
pub(crate) fn tone(amp: f64, n: u64) -> Vec<i16> {
    (0..FRAME as u64)
        .map(|i| {
            let t = (n + i) as f64 / f64::from(RATE);
            (amp * (2.0 * std::f64::consts::PI * 500.0 * t).sin()).round() as i16
        })
        .collect()
}

/// Samples before the frame starting at `now_ms`.
pub(crate) fn at(now_ms: u64) -> u64 {
    now_ms * u64::from(RATE) / 1000
}

mod tests {
    use super::*;
    use crate::room::{Command, Target};

    /// A tone of amplitude 6000 has an RMS of 6000/√2 ≈ 4243; the limiter
    /// and the mixer leave a lone talker's level within a few percent.
    const AMP: f64 = 6000.0;
    const TONE_RMS: f64 = AMP / std::f64::consts::SQRT_2;

    #[test]
    fn each_member_hears_the_others_but_not_itself() {
        let mut sim = Sim::new(settings("r"));
        let a = sim.join(member("a"));
        let b = sim.join(member("b"));
        let c = sim.join(member("c"));
        // Two seconds of A talking, 100 ticks: a second of room time per 50.
        sim.run(100, |now| vec![(a, tone(AMP, at(now)))]);
        let (ha, hb, hc) = (
            sim.heard_rms(a, 25),
            sim.heard_rms(b, 25),
            sim.heard_rms(c, 25),
        );
        assert!(ha < 1.0, "A hears itself at RMS {ha:.1}");
        for (who, rms) in [("B", hb), ("C", hc)] {
            assert!(
                (rms - TONE_RMS).abs() < 0.1 * TONE_RMS,
                "{who} hears A at RMS {rms:.0}, expected about {TONE_RMS:.0}"
            );
        }
        assert_eq!(sim.events("participant-join").len(), 3);
        assert_eq!(sim.events("participant-speech-start").len(), 1);
    }

    #[test]
    fn a_muted_talker_is_not_heard_and_is_told_so() {
        let mut sim = Sim::new(settings("r"));
        let a = sim.join(member("a"));
        let b = sim.join(member("b"));
        sim.run(25, |now| vec![(a, tone(AMP, at(now)))]);
        assert!(sim.heard_rms(b, 10) > 0.9 * TONE_RMS);
        sim.room
            .command(None, Command::Mute(Target::Id(a)), sim.now_ms)
            .expect("mute");
        // A pauses (its talk detector lets go), then talks again, muted.
        sim.run(50, |_| Vec::new());
        sim.run(25, |now| vec![(a, tone(AMP, at(now)))]);
        assert!(sim.heard_rms(b, 20) < 1.0, "B still hears muted A");
        assert_eq!(sim.events("participant-mute").len(), 1);
        assert_eq!(sim.events("participant-speech-while-muted").len(), 1);
    }

    #[test]
    fn nobody_hears_anyone_until_the_moderator_arrives() {
        let mut s = settings("r");
        s.wait_for_host = true;
        let mut sim = Sim::new(s);
        let mut waiting = member("a");
        waiting.start_on_enter = false;
        let a = sim.join(waiting);
        let mut second = member("b");
        second.start_on_enter = false;
        let b = sim.join(second);
        sim.run(25, |now| vec![(a, tone(AMP, at(now)))]);
        assert!(sim.heard_rms(b, 20) < 1.0, "B hears A before the start");
        assert!(sim.events("conference-start").is_empty());
        let mut host = member("host");
        host.moderator = true;
        sim.join(host);
        sim.run(25, |now| vec![(a, tone(AMP, at(now)))]);
        assert_eq!(sim.events("conference-start").len(), 1);
        assert!(
            sim.heard_rms(b, 10) > 0.9 * TONE_RMS,
            "B does not hear A after the start"
        );
    }

    #[test]
    fn the_room_ends_when_an_end_on_exit_member_leaves() {
        let mut sim = Sim::new(settings("r"));
        let mut chair = member("chair");
        chair.end_on_exit = true;
        let chair = sim.join(chair);
        let b = sim.join(member("b"));
        sim.run(5, |_| Vec::new());
        sim.room.hangup(chair, sim.now_ms);
        sim.run(1, |_| Vec::new());
        assert!(sim.room.is_over());
        assert_eq!(sim.events("conference-end").len(), 1);
        let hung_up: Vec<MemberId> = sim
            .outputs
            .iter()
            .filter_map(|o| match o {
                Output::Hangup { member, .. } => Some(*member),
                _ => None,
            })
            .collect();
        assert_eq!(
            hung_up,
            [b],
            "the others are hung up, the chair left by itself"
        );
    }

    #[test]
    fn a_wrong_pin_is_refused_and_the_right_one_admits() {
        let mut s = settings("r");
        s.pin = Some("1234".to_string());
        let mut sim = Sim::new(s);
        let a = sim.join(member("a"));
        let b = sim.join(member("b"));
        assert!(sim.room.waiting_for_pin(a) && sim.room.waiting_for_pin(b));
        for d in "1234#".chars() {
            sim.room.pin_digit(a, d, sim.now_ms);
        }
        for d in "9999#".chars() {
            sim.room.pin_digit(b, d, sim.now_ms);
        }
        sim.run(1, |_| Vec::new());
        assert!(!sim.room.waiting_for_pin(a), "the right PIN did not admit");
        assert!(
            sim.room.waiting_for_pin(b),
            "a wrong PIN admitted, or ended the try"
        );
        assert_eq!(sim.events("participant-join").len(), 1);
    }
}
