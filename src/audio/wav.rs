//! WAV files: loading announcement sounds at a room's rate, recording a
//! room, repairing a recording whose process died, and trimming silence.

use super::resample::{resample_all, MAX_RATE};
use super::ResampleError;
use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Cursor, Read, Seek, SeekFrom, Write};
use std::ops::Range;
use std::path::{Path, PathBuf};

/// Sound files larger than this are refused before reading.
pub const MAX_SOUND_BYTES: u64 = 64 * 1024 * 1024;
/// Sound files longer than this are refused.
pub const MAX_SOUND_SECONDS: u64 = 600;

/// What was wrong with a sound file.
#[derive(Debug, Clone, PartialEq)]
pub enum SoundProblem {
    NotFound,
    Io(String),
    Empty,
    /// No `RIFF....WAVE` header.
    NotWav,
    UnsupportedBits(u16),
    UnsupportedFormat(u16),
    TooLarge(u64),
    TooLong {
        seconds: u64,
    },
    Malformed(String),
    BadTargetRate(u32),
    Resample(ResampleError),
}

/// A sound file that could not be loaded, naming the file.
#[derive(Debug, Clone, PartialEq)]
pub struct SoundError {
    pub path: PathBuf,
    pub problem: SoundProblem,
}

impl fmt::Display for SoundError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: ", self.path.display())?;
        match &self.problem {
            SoundProblem::NotFound => write!(f, "no such file"),
            SoundProblem::Io(e) => write!(f, "cannot read: {e}"),
            SoundProblem::Empty => write!(f, "empty file"),
            SoundProblem::NotWav => write!(f, "not a WAV file (RIFF header missing)"),
            SoundProblem::UnsupportedBits(b) => write!(f, "{b}-bit samples unsupported"),
            SoundProblem::UnsupportedFormat(tag) => write!(
                f,
                "unsupported WAV encoding (format tag {tag:#06x}; only PCM and 32-bit float)"
            ),
            SoundProblem::TooLarge(n) => write!(
                f,
                "file is {n} bytes, over the {} MiB limit for sounds",
                MAX_SOUND_BYTES / (1024 * 1024)
            ),
            SoundProblem::TooLong { seconds } => write!(
                f,
                "sound lasts {seconds} s, over the {} minute limit",
                MAX_SOUND_SECONDS / 60
            ),
            SoundProblem::Malformed(e) => write!(f, "malformed WAV: {e}"),
            SoundProblem::BadTargetRate(r) => write!(f, "cannot convert to {r} Hz"),
            SoundProblem::Resample(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for SoundError {}

const FORMAT_PCM: u16 = 1;
const FORMAT_FLOAT: u16 = 3;
const FORMAT_EXTENSIBLE: u16 = 0xfffe;

fn le16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn le32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

/// Checks the header and the fmt chunk ourselves before hound parses the
/// file, so each unsupported layout gets a message a person can act on.
fn check_format(bytes: &[u8]) -> Result<(), SoundProblem> {
    if bytes.len() < 12 || &bytes[0..4] != b"RIFF" || &bytes[8..12] != b"WAVE" {
        return Err(SoundProblem::NotWav);
    }
    let mut pos = 12usize;
    while let (Some(id), Some(size)) = (bytes.get(pos..pos + 4), le32(bytes, pos + 4)) {
        let body = pos + 8;
        if id == b"fmt " {
            let tag = le16(bytes, body)
                .ok_or_else(|| SoundProblem::Malformed("fmt chunk truncated".into()))?;
            let bits = le16(bytes, body + 14)
                .ok_or_else(|| SoundProblem::Malformed("fmt chunk truncated".into()))?;
            return match tag {
                FORMAT_PCM | FORMAT_EXTENSIBLE if matches!(bits, 8 | 16 | 24 | 32) => Ok(()),
                FORMAT_FLOAT if bits == 32 => Ok(()),
                FORMAT_PCM | FORMAT_EXTENSIBLE | FORMAT_FLOAT => {
                    Err(SoundProblem::UnsupportedBits(bits))
                }
                other => Err(SoundProblem::UnsupportedFormat(other)),
            };
        }
        // Chunks are padded to even sizes.
        pos = body
            .saturating_add(size as usize)
            .saturating_add(size as usize & 1);
    }
    Err(SoundProblem::Malformed("no fmt chunk".into()))
}

/// Loads a WAV file as mono i16 at `rate`.
///
/// Accepts 8/16/24/32-bit integer and 32-bit float PCM at any sample rate
/// and channel count; channels are averaged, and the rate is converted with
/// a band-limited resampler. Files over 64 MiB or 10 minutes are refused.
pub fn load_sound(path: &Path, rate: u32) -> Result<Vec<i16>, SoundError> {
    let fail = |problem| SoundError {
        path: path.to_path_buf(),
        problem,
    };
    if rate == 0 || rate > MAX_RATE {
        return Err(fail(SoundProblem::BadTargetRate(rate)));
    }
    let meta = fs::metadata(path).map_err(|e| {
        fail(if e.kind() == io::ErrorKind::NotFound {
            SoundProblem::NotFound
        } else {
            SoundProblem::Io(e.to_string())
        })
    })?;
    if meta.len() == 0 {
        return Err(fail(SoundProblem::Empty));
    }
    if meta.len() > MAX_SOUND_BYTES {
        return Err(fail(SoundProblem::TooLarge(meta.len())));
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    File::open(path)
        .and_then(|f| f.take(MAX_SOUND_BYTES + 1).read_to_end(&mut bytes))
        .map_err(|e| fail(SoundProblem::Io(e.to_string())))?;
    decode_sound(&bytes, rate, path)
}

/// [`load_sound`] for a WAV already in memory (fetched over HTTP, say);
/// `origin` names it in errors.
pub fn decode_sound(bytes: &[u8], rate: u32, origin: &Path) -> Result<Vec<i16>, SoundError> {
    let fail = |problem| SoundError {
        path: origin.to_path_buf(),
        problem,
    };
    if rate == 0 || rate > MAX_RATE {
        return Err(fail(SoundProblem::BadTargetRate(rate)));
    }
    if bytes.len() as u64 > MAX_SOUND_BYTES {
        return Err(fail(SoundProblem::TooLarge(bytes.len() as u64)));
    }
    check_format(bytes).map_err(fail)?;

    let malformed = |e: hound::Error| SoundProblem::Malformed(e.to_string());
    let reader = hound::WavReader::new(Cursor::new(&bytes)).map_err(|e| fail(malformed(e)))?;
    let spec = reader.spec();
    if spec.sample_rate == 0 || spec.sample_rate > MAX_RATE {
        return Err(fail(SoundProblem::Malformed(format!(
            "sample rate {} Hz",
            spec.sample_rate
        ))));
    }
    let channels = usize::from(spec.channels.max(1));
    let seconds = u64::from(reader.duration()) / u64::from(spec.sample_rate);
    if seconds > MAX_SOUND_SECONDS {
        return Err(fail(SoundProblem::TooLong { seconds }));
    }

    // Everything is brought to i16 scale in f32 before downmixing and
    // resampling, so 24/32-bit and float sources keep their precision
    // until the final rounding.
    let interleaved: Vec<f32> = match spec.sample_format {
        // NaN or infinity would reach the resampler's FFT (which panics
        // on them); a float file's full scale is ±1.
        hound::SampleFormat::Float => reader
            .into_samples::<f32>()
            .map(|s| {
                s.map(|v| {
                    if v.is_finite() {
                        v.clamp(-1.0, 1.0) * 32768.0
                    } else {
                        0.0
                    }
                })
            })
            .collect::<Result<_, _>>(),
        hound::SampleFormat::Int => {
            let scale = 2f32.powi(16 - i32::from(spec.bits_per_sample));
            reader
                .into_samples::<i32>()
                .map(|s| s.map(|v| v as f32 * scale))
                .collect::<Result<_, _>>()
        }
    }
    .map_err(|e| fail(malformed(e)))?;

    let mono: Vec<f32> = interleaved
        .chunks_exact(channels)
        .map(|frame| frame.iter().sum::<f32>() / channels as f32)
        .collect();
    let converted =
        resample_all(&mono, spec.sample_rate, rate).map_err(|e| fail(SoundProblem::Resample(e)))?;
    Ok(converted
        .iter()
        .map(|&v| v.round().clamp(-32768.0, 32767.0) as i16)
        .collect())
}

fn hound_to_io(e: hound::Error) -> io::Error {
    match e {
        hound::Error::IoError(e) => e,
        other => io::Error::other(other.to_string()),
    }
}

/// 16-bit PCM recorder. With one or two channels hound writes the canonical
/// 44-byte header (PCMWAVEFORMAT, RIFF size at byte 4, data size at byte
/// 40); [`repair_wav`] relies on that layout, so more channels are refused.
pub struct WavRecorder {
    writer: hound::WavWriter<BufWriter<File>>,
    path: PathBuf,
    samples: u64,
}

impl fmt::Debug for WavRecorder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WavRecorder")
            .field("path", &self.path)
            .field("samples", &self.samples)
            .finish()
    }
}

/// Opens a new file for writing: `O_EXCL` (an existing file or a dangling
/// link is refused, so nothing is written where a link points) and
/// `O_NOFOLLOW`, then `mode` set explicitly because `open` applies the umask.
pub fn create_exclusive(path: &Path, mode: u32) -> io::Result<File> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .custom_flags(libc::O_NOFOLLOW)
        .mode(mode)
        .open(path)?;
    file.set_permissions(std::fs::Permissions::from_mode(mode))?;
    Ok(file)
}

impl WavRecorder {
    /// Creates a new file; never opens one that exists (`AlreadyExists`), so
    /// two recordings that race for a name cannot overwrite each other.
    /// Creates `path` (never an existing file, never through a symbolic
    /// link) with permission bits `mode`, whatever the process umask is.
    pub fn create(path: &Path, rate: u32, channels: u16, mode: u32) -> io::Result<Self> {
        if !(1..=2).contains(&channels) || rate == 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("recordings are 1 or 2 channels at a non-zero rate, not {channels} at {rate} Hz"),
            ));
        }
        let spec = hound::WavSpec {
            channels,
            sample_rate: rate,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let file = create_exclusive(path, mode)?;
        let writer = hound::WavWriter::new(BufWriter::new(file), spec).map_err(hound_to_io)?;
        Ok(WavRecorder {
            writer,
            path: path.to_path_buf(),
            samples: 0,
        })
    }

    /// Appends interleaved samples. Buffered: nothing is guaranteed on disk
    /// until [`WavRecorder::flush_header`] or [`WavRecorder::finalize`].
    pub fn write(&mut self, samples: &[i16]) -> io::Result<()> {
        for &s in samples {
            self.writer.write_sample(s).map_err(hound_to_io)?;
        }
        self.samples += samples.len() as u64;
        Ok(())
    }

    /// Rewrites the RIFF and data sizes and flushes, so the file on disk is
    /// a valid WAV of everything written so far. Call it periodically so a
    /// crash loses at most the audio since the last call.
    pub fn flush_header(&mut self) -> io::Result<()> {
        self.writer.flush().map_err(hound_to_io)
    }

    /// Individual samples written (all channels counted).
    pub fn samples_written(&self) -> u64 {
        self.samples
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Completes the file and returns its size in bytes.
    pub fn finalize(self) -> io::Result<u64> {
        let path = self.path;
        self.writer.finalize().map_err(hound_to_io)?;
        Ok(fs::metadata(&path)?.len())
    }
}

/// Result of [`repair_wav`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RepairReport {
    /// Individual samples in the repaired data chunk (all channels).
    pub samples: u64,
    pub rate: u32,
    pub channels: u16,
}

const CANONICAL_HEADER: u64 = 44;

fn invalid(msg: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg.to_string())
}

/// Fixes a recording left by a killed process: rewrites the RIFF and data
/// chunk sizes to match the bytes actually present, dropping a trailing
/// partial sample frame. Only the canonical 44-byte PCM header that
/// [`WavRecorder`] writes is handled; anything else is refused untouched.
pub fn repair_wav(path: &Path) -> io::Result<RepairReport> {
    let mut file = OpenOptions::new().read(true).write(true).open(path)?;
    let mut h = [0u8; CANONICAL_HEADER as usize];
    file.read_exact(&mut h)
        .map_err(|_| invalid("shorter than a WAV header"))?;
    let fmt_ok = &h[0..4] == b"RIFF"
        && &h[8..16] == b"WAVEfmt "
        && le32(&h, 16) == Some(16)
        && le16(&h, 20) == Some(FORMAT_PCM)
        && &h[36..40] == b"data";
    if !fmt_ok {
        return Err(invalid("not a canonical 44-byte PCM WAV header"));
    }
    let channels = le16(&h, 22).unwrap_or(0);
    let rate = le32(&h, 24).unwrap_or(0);
    let block_align = u64::from(le16(&h, 32).unwrap_or(0));
    let bits = le16(&h, 34).unwrap_or(0);
    let bytes_per_sample = u64::from(bits / 8);
    if channels == 0
        || bytes_per_sample == 0
        || block_align != bytes_per_sample * u64::from(channels)
    {
        return Err(invalid(
            "inconsistent channel count, sample size or block alignment",
        ));
    }
    let present = file.metadata()?.len() - CANONICAL_HEADER;
    let data = present - present % block_align;
    let data32 = u32::try_from(data).map_err(|_| invalid("data exceeds the 4 GiB WAV limit"))?;
    file.set_len(CANONICAL_HEADER + data)?;
    file.seek(SeekFrom::Start(4))?;
    file.write_all(&(data32 + 36).to_le_bytes())?;
    file.seek(SeekFrom::Start(40))?;
    file.write_all(&data32.to_le_bytes())?;
    file.sync_all()?;
    Ok(RepairReport {
        samples: data / bytes_per_sample,
        rate,
        channels,
    })
}

/// The span of `samples` from the first to the last 10 ms window whose RMS
/// is at or above `threshold_dbov`; an empty range at 0 when none is.
pub fn trim_silence(samples: &[i16], threshold_dbov: f32, rate: u32) -> Range<usize> {
    let window = super::frame_samples(rate, 10).max(1);
    let loud = |w: &[i16]| super::rms_dbov(w) >= threshold_dbov;
    let first = samples.chunks(window).position(loud);
    let last = samples.chunks(window).rposition(loud);
    match (first, last) {
        (Some(a), Some(b)) => a * window..((b + 1) * window).min(samples.len()),
        _ => 0..0,
    }
}

/// A finished mono recording, its silent start and end cut when `trim` says
/// so (windows below `threshold_dbov`, see [`trim_silence`]): the kept part
/// is written to a file beside it with permission bits `mode`, which then
/// replaces it. Returns the samples the file holds afterwards.
pub fn trim_file(
    path: &Path,
    rate: u32,
    threshold_dbov: f32,
    trim: bool,
    mode: u32,
) -> Result<u64, String> {
    let mut reader = hound::WavReader::open(path).map_err(|e| e.to_string())?;
    let samples: Vec<i16> = reader
        .samples::<i16>()
        .collect::<Result<_, _>>()
        .map_err(|e| e.to_string())?;
    let range = trim_silence(&samples, threshold_dbov, rate);
    if !trim || range.is_empty() || (range.start == 0 && range.end == samples.len()) {
        return Ok(samples.len() as u64);
    }
    let tmp = path.with_extension("trim.tmp");
    // Ours, left by a trim that was interrupted.
    let _ = std::fs::remove_file(&tmp);
    let mut w = WavRecorder::create(&tmp, rate, 1, mode).map_err(|e| e.to_string())?;
    w.write(&samples[range.clone()])
        .map_err(|e| e.to_string())?;
    w.finalize().map_err(|e| e.to_string())?;
    std::fs::rename(&tmp, path).map_err(|e| e.to_string())?;
    Ok(range.len() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audio::test_signal::goertzel_amp;
    use std::f64::consts::PI;
    use std::process::Command;

    fn tmp(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("huddle-wav-{}", std::process::id()));
        fs::create_dir_all(&dir).expect("temp dir");
        dir.join(name)
    }

    fn test_writer(
        path: &Path,
        channels: u16,
        sample_rate: u32,
        bits_per_sample: u16,
        sample_format: hound::SampleFormat,
    ) -> hound::WavWriter<std::io::BufWriter<fs::File>> {
        let spec = hound::WavSpec {
            channels,
            sample_rate,
            bits_per_sample,
            sample_format,
        };
        hound::WavWriter::create(path, spec).expect("create")
    }

    /// Asks Python's `wave` module for (channels, rate, sampwidth, frames,
    /// sum of all samples); None when python3 is not installed.
    fn python_view(path: &Path) -> Option<(u32, u32, u32, u64, i64)> {
        let script = "import sys,wave,struct\n\
            w=wave.open(sys.argv[1])\n\
            d=w.readframes(w.getnframes())\n\
            s=sum(struct.unpack('<%dh'%(len(d)//2),d))\n\
            print(w.getnchannels(),w.getframerate(),w.getsampwidth(),w.getnframes(),s)";
        let out = match Command::new("python3")
            .arg("-c")
            .arg(script)
            .arg(path)
            .output()
        {
            Ok(o) => o,
            Err(_) => {
                eprintln!("note: python3 absent, skipping the independent WAV check");
                return None;
            }
        };
        assert!(
            out.status.success(),
            "python: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8(out.stdout).expect("utf8");
        let v: Vec<i64> = text
            .split_whitespace()
            .map(|t| t.parse().expect("number"))
            .collect();
        Some((v[0] as u32, v[1] as u32, v[2] as u32, v[3] as u64, v[4]))
    }

    fn ramp(n: usize) -> Vec<i16> {
        (0..n)
            .map(|i| ((i as i64 * 7919) % 60001 - 30000) as i16)
            .collect()
    }

    #[test]
    fn recorder_round_trip_checked_by_python() {
        let path = tmp("rec.wav");
        let _ = fs::remove_file(&path);
        let mut rec = WavRecorder::create(&path, 16000, 2, 0o640).expect("create");
        let first = ramp(3200);
        rec.write(&first).expect("write");
        rec.flush_header().expect("flush");
        let sum_first: i64 = first.iter().map(|&s| i64::from(s)).sum();
        if let Some(view) = python_view(&path) {
            assert_eq!(view, (2, 16000, 2, 1600, sum_first));
        }
        let second = ramp(1000);
        rec.write(&second).expect("write");
        assert_eq!(rec.samples_written(), 4200);
        let bytes = rec.finalize().expect("finalize");
        assert_eq!(bytes, 44 + 4200 * 2);
        let sum_all = sum_first + second.iter().map(|&s| i64::from(s)).sum::<i64>();
        if let Some(view) = python_view(&path) {
            assert_eq!(view, (2, 16000, 2, 2100, sum_all));
        }
        let back: Vec<i16> = hound::WavReader::open(&path)
            .expect("open")
            .into_samples::<i16>()
            .collect::<Result<_, _>>()
            .expect("samples");
        assert_eq!(&back[..3200], &first[..]);
        assert_eq!(&back[3200..], &second[..]);
    }

    #[test]
    fn repair_fixes_zeroed_sizes_and_trailing_bytes() {
        let path = tmp("crashed.wav");
        let _ = fs::remove_file(&path);
        let mut rec = WavRecorder::create(&path, 8000, 1, 0o640).expect("create");
        let audio = ramp(801);
        rec.write(&audio).expect("write");
        rec.finalize().expect("finalize");
        // Simulate a crash: sizes never written, two whole samples and half
        // of a third made it to disk after the last flush.
        let mut bytes = fs::read(&path).expect("read");
        bytes[4..8].fill(0);
        bytes[40..44].fill(0);
        bytes.extend_from_slice(&[0x10, 0x00, 0xf0, 0xff, 0x7f]);
        fs::write(&path, &bytes).expect("write");

        let report = repair_wav(&path).expect("repair");
        assert_eq!(
            report,
            RepairReport {
                samples: 803,
                rate: 8000,
                channels: 1
            }
        );
        assert_eq!(fs::metadata(&path).expect("meta").len(), 44 + 803 * 2);
        let expected_sum: i64 = audio.iter().map(|&s| i64::from(s)).sum::<i64>() + 16 - 16;
        if let Some(view) = python_view(&path) {
            assert_eq!(view, (1, 8000, 2, 803, expected_sum));
        }
        // Repairing a sound file is idempotent.
        assert_eq!(repair_wav(&path).expect("again"), report);
    }

    #[test]
    fn repair_refuses_non_canonical_files() {
        let path = tmp("not-canonical.wav");
        fs::write(&path, b"hello world, this is not a wav file at all....").expect("write");
        assert_eq!(
            repair_wav(&path).expect_err("text").kind(),
            io::ErrorKind::InvalidData
        );
        assert_eq!(
            fs::read(&path).expect("read"),
            b"hello world, this is not a wav file at all....".to_vec()
        );
    }

    #[test]
    fn loads_8_bit_stereo_22050() {
        let path = tmp("s8.wav");
        let mut w = test_writer(&path, 2, 22050, 8, hound::SampleFormat::Int);
        for i in 0..22050 {
            let v = 100.0 * (2.0 * PI * 440.0 * f64::from(i) / 22050.0).sin();
            // Left carries the tone, right a DC offset of -20 that the
            // average halves.
            w.write_sample(v.round() as i8).expect("l");
            w.write_sample(-20i8).expect("r");
        }
        w.finalize().expect("finalize");

        let pcm = load_sound(&path, 16000).expect("load");
        assert_eq!(pcm.len(), 16000);
        let mid = &pcm[1600..14400];
        // (100 / 2) * 256 = 12800 after averaging and scaling 8 -> 16 bits.
        let a = goertzel_amp(mid, 440.0, 16000.0);
        assert!((20.0 * (a / 12800.0).log10()).abs() < 1.0, "amplitude {a}");
        let mean = mid.iter().map(|&s| f64::from(s)).sum::<f64>() / mid.len() as f64;
        assert!((mean - (-10.0 * 256.0)).abs() < 100.0, "mean {mean}");
    }

    #[test]
    fn loads_24_bit_mono_44100() {
        let path = tmp("s24.wav");
        let mut w = test_writer(&path, 1, 44100, 24, hound::SampleFormat::Int);
        for i in 0..44100 {
            let v = 4_194_304.0 * (2.0 * PI * 1000.0 * f64::from(i) / 44100.0).sin();
            w.write_sample(v.round() as i32).expect("sample");
        }
        w.finalize().expect("finalize");
        for rate in [48000u32, 8000] {
            let pcm = load_sound(&path, rate).expect("load");
            assert_eq!(pcm.len(), rate as usize);
            // 2^22 at 24 bits is half scale: 16384 at 16 bits.
            let mid = &pcm[pcm.len() / 10..pcm.len() * 9 / 10];
            let a = goertzel_amp(mid, 1000.0, f64::from(rate));
            assert!(
                (20.0 * (a / 16384.0).log10()).abs() < 1.0,
                "{rate}: amplitude {a}"
            );
        }
    }

    #[test]
    fn loads_float_at_room_rate() {
        let path = tmp("f32.wav");
        let mut w = test_writer(&path, 1, 16000, 32, hound::SampleFormat::Float);
        for v in [0.0f32, 0.5, -0.5, 1.0, -1.0, 2.0] {
            w.write_sample(v).expect("sample");
        }
        w.finalize().expect("finalize");
        assert_eq!(
            load_sound(&path, 16000).expect("load"),
            vec![0, 16384, -16384, 32767, -32768, 32767]
        );
    }

    #[test]
    fn non_finite_float_samples_load_as_silence() {
        let path = tmp("f32-nan.wav");
        let mut w = test_writer(&path, 1, 16000, 32, hound::SampleFormat::Float);
        for v in [
            0.5f32,
            f32::NAN,
            f32::INFINITY,
            f32::NEG_INFINITY,
            1e38,
            -0.5,
        ] {
            w.write_sample(v).expect("sample");
        }
        w.finalize().expect("finalize");
        assert_eq!(
            load_sound(&path, 16000).expect("load"),
            vec![16384, 0, 0, 0, 32767, -16384]
        );
        // Resampled (the path that panicked inside the FFT on NaN).
        assert!(load_sound(&path, 8000).is_ok());
    }

    fn message(path: &Path) -> String {
        load_sound(path, 16000)
            .expect_err("must refuse")
            .to_string()
    }

    #[test]
    fn refusals_name_file_and_problem() {
        let text = tmp("notes.wav");
        fs::write(&text, "this is a text file\n").expect("write");
        assert_eq!(
            message(&text),
            format!("{}: not a WAV file (RIFF header missing)", text.display())
        );
        let empty = tmp("empty.wav");
        fs::write(&empty, b"").expect("write");
        assert_eq!(message(&empty), format!("{}: empty file", empty.display()));
        let missing = tmp("missing.wav");
        assert_eq!(
            message(&missing),
            format!("{}: no such file", missing.display())
        );
    }

    /// A canonical PCM header with arbitrary fields, for files hound will
    /// not write.
    fn header(bits: u16, rate: u32, data_len: u32) -> Vec<u8> {
        let block = bits.div_ceil(8);
        let mut h = Vec::new();
        h.extend_from_slice(b"RIFF");
        h.extend_from_slice(&(36 + data_len).to_le_bytes());
        h.extend_from_slice(b"WAVEfmt ");
        h.extend_from_slice(&16u32.to_le_bytes());
        h.extend_from_slice(&1u16.to_le_bytes());
        h.extend_from_slice(&1u16.to_le_bytes());
        h.extend_from_slice(&rate.to_le_bytes());
        h.extend_from_slice(&(rate * u32::from(block)).to_le_bytes());
        h.extend_from_slice(&block.to_le_bytes());
        h.extend_from_slice(&bits.to_le_bytes());
        h.extend_from_slice(b"data");
        h.extend_from_slice(&data_len.to_le_bytes());
        h
    }

    #[test]
    fn refuses_odd_bit_depths_and_long_files() {
        let twelve = tmp("twelve.wav");
        let mut f = header(12, 8000, 4);
        f.extend_from_slice(&[0; 4]);
        fs::write(&twelve, f).expect("write");
        assert_eq!(
            message(&twelve),
            format!("{}: 12-bit samples unsupported", twelve.display())
        );
        // Header claims 11 minutes of 8 kHz 16-bit audio.
        let long = tmp("long.wav");
        let mut f = header(16, 8000, 660 * 8000 * 2);
        f.extend_from_slice(&[0; 64]);
        fs::write(&long, f).expect("write");
        let m = message(&long);
        assert!(m.contains("over the 10 minute limit"), "{m}");
    }

    #[test]
    fn recorder_never_overwrites_a_file() {
        let path = tmp("taken.wav");
        fs::write(&path, b"someone else's").expect("write");
        let e =
            WavRecorder::create(&path, 8000, 1, 0o640).expect_err("must not open an existing file");
        assert_eq!(e.kind(), io::ErrorKind::AlreadyExists);
        assert_eq!(fs::read(&path).expect("read"), b"someone else's");
    }

    #[test]
    fn recorder_rejects_many_channels() {
        assert!(WavRecorder::create(&tmp("six.wav"), 48000, 6, 0o640).is_err());
    }

    #[test]
    fn trims_leading_and_trailing_silence() {
        let rate = 8000;
        let mut s = vec![0i16; 800];
        s.extend((0..1600).map(|i| if i % 2 == 0 { 3000 } else { -3000 }));
        s.extend(vec![3i16; 400]);
        // Window = 80 samples; loud windows are 10..=29.
        assert_eq!(trim_silence(&s, -40.0, rate), 800..2400);
        assert_eq!(trim_silence(&[0; 500], -40.0, rate), 0..0);
        assert_eq!(trim_silence(&[], -40.0, rate), 0..0);
    }
}
