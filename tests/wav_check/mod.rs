//! One check for every WAV a recording test produces: hound, Python's `wave`
//! module and, where installed, sox each read the whole file, and they must
//! agree with each other and with what the test expected. Python and sox
//! share no code with huddle or hound, so a header huddle got wrong cannot
//! pass by being wrong the same way twice.

use std::fmt::Debug;
use std::ops::RangeBounds;
use std::path::Path;
use std::process::Command;

/// Reads `path` whole with every reader there is and checks that each sees
/// mono 16-bit audio at `rate` with a frame count in `frames`, the same
/// count and the same samples. Returns the samples (hound's view).
pub fn check_wav(path: &Path, rate: u32, frames: impl RangeBounds<u64> + Debug) -> Vec<i16> {
    let what = path.display();
    let mut r = hound::WavReader::open(path).unwrap_or_else(|e| panic!("hound: {what}: {e}"));
    let spec = r.spec();
    let samples: Vec<i16> = r
        .samples::<i16>()
        .collect::<Result<_, _>>()
        .unwrap_or_else(|e| panic!("hound: {what}: {e}"));
    assert_eq!(
        (spec.sample_rate, spec.channels, spec.bits_per_sample),
        (rate, 1, 16),
        "hound: {what}"
    );
    assert_eq!(
        u64::from(r.duration()),
        samples.len() as u64,
        "hound: {what}"
    );
    let n = samples.len() as u64;
    assert!(frames.contains(&n), "{what}: {n} frames, want {frames:?}");
    let sum: i64 = samples.iter().map(|&s| i64::from(s)).sum();
    let abs: i64 = samples.iter().map(|&s| i64::from(s).abs()).sum();

    let python = Command::new("python3")
        .arg("-c")
        .arg(
            "import sys,wave,struct\n\
             w=wave.open(sys.argv[1])\n\
             n=w.getnframes()\n\
             d=w.readframes(n)\n\
             assert len(d)==n*w.getsampwidth()*w.getnchannels(),'short read'\n\
             s=struct.unpack('<%dh'%(len(d)//2),d)\n\
             print(w.getframerate(),w.getnchannels(),w.getsampwidth(),n,sum(s),sum(abs(x) for x in s))",
        )
        .arg(path)
        .output();
    let had_python = python.is_ok();
    if let Ok(out) = python {
        assert!(
            out.status.success(),
            "python wave: {what}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: Vec<i64> = String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .map(|x| x.parse().unwrap())
            .collect();
        assert_eq!(
            v,
            [i64::from(rate), 1, 2, n as i64, sum, abs],
            "python wave disagrees: {what}"
        );
    }

    let has_sox = Command::new("sox")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if has_sox {
        let info = |flag: &str| -> u64 {
            let out = Command::new("sox")
                .args(["--i", flag])
                .arg(path)
                .output()
                .unwrap();
            assert!(out.status.success(), "sox --i {flag}: {what}");
            String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
        };
        assert_eq!(
            (info("-r"), info("-c"), info("-s")),
            (u64::from(rate), 1, n),
            "sox --i disagrees: {what}"
        );
        // Decoded whole by sox, byte for byte what hound read.
        let out = Command::new("sox")
            .arg(path)
            .args(["-t", "raw", "-e", "signed", "-b", "16", "-L", "-"])
            .output()
            .unwrap();
        assert!(out.status.success(), "sox decode: {what}");
        let raw: Vec<u8> = samples.iter().flat_map(|s| s.to_le_bytes()).collect();
        assert!(out.stdout == raw, "sox decodes other samples: {what}");
    }
    assert!(
        had_python || has_sox,
        "no independent WAV reader: install python3 or sox"
    );
    samples
}
