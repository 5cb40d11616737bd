//! The C harness: each program under `tests/c/` is compiled with `cc` (C11,
//! warnings as errors, pedantic) into `CARGO_TARGET_TMPDIR`, then run as a
//! host that `dlopen`s the `libhuddle.so` cargo built for this test run.
//! A program prints `PASS <name>` and exits 0; anything else fails here with
//! its whole output. What each program checks is in its opening comment.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::sync::OnceLock;
use std::time::Duration;

const CFLAGS: &[&str] = &["-std=c11", "-Wall", "-Wextra", "-Werror", "-pedantic"];
const CXXFLAGS: &[&str] = &["-std=c++17", "-Wall", "-Wextra", "-Werror", "-pedantic"];

/// A program that has not finished by then is killed; each one also arms its
/// own watchdog alarm, so this is the second line of defence.
const RUN_LIMIT: Duration = Duration::from_secs(300);

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// `libhuddle.so` of this build. The crate type includes `cdylib`, so the
/// rustc run that built the rlib this test links also wrote
/// `<target>/<profile>/deps/libhuddle.so` (cargo only copies it up to
/// `<target>/<profile>/` for `cargo build`). Prefer `deps/`: it is always the
/// copy from this build, while the copied-up one may be older. If neither is
/// there (an unusual cargo layout), build it with `cargo build --lib`.
fn library() -> &'static Path {
    static LIB: OnceLock<PathBuf> = OnceLock::new();
    LIB.get_or_init(|| {
        let exe = std::env::current_exe().expect("the test binary's path");
        let deps = exe.parent().expect("the test binary's directory");
        let profile_dir = deps.parent().expect("the profile directory");
        let candidates = [deps.join("libhuddle.so"), profile_dir.join("libhuddle.so")];
        if let Some(found) = candidates.iter().find(|p| p.is_file()) {
            return found.clone();
        }
        let mut cargo = Command::new(option_env!("CARGO").unwrap_or("cargo"));
        cargo
            .args(["build", "--lib", "--manifest-path"])
            .arg(root().join("Cargo.toml"));
        if profile_dir.file_name().is_some_and(|n| n == "release") {
            cargo.arg("--release");
        }
        let status = cargo.status().expect("could not run cargo build --lib");
        assert!(status.success(), "cargo build --lib failed");
        candidates
            .iter()
            .find(|p| p.is_file())
            .unwrap_or_else(|| panic!("no libhuddle.so at {candidates:?} after cargo build --lib"))
            .clone()
    })
}

/// A fresh scratch directory for one program.
fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("c-harness")
        .join(format!("{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create the scratch directory");
    dir
}

/// Runs `cmd`, killing it after RUN_LIMIT; returns its output.
fn run_bounded(mut cmd: Command, what: &str) -> Output {
    let child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("could not start {what}: {e}"));
    let pid = child.id();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(RUN_LIMIT) {
        Ok(output) => output.unwrap_or_else(|e| panic!("waiting for {what}: {e}")),
        Err(_) => {
            let _ = Command::new("kill").arg("-9").arg(pid.to_string()).status();
            panic!("{what} did not finish within {RUN_LIMIT:?} (killed)");
        }
    }
}

/// The SONAME in `lib`'s dynamic section, as `readelf -d` prints it.
fn soname(lib: &Path) -> String {
    let mut readelf = Command::new("readelf");
    readelf.arg("-d").arg(lib);
    let output = run_bounded(readelf, "readelf -d");
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .find(|l| l.contains("(SONAME)"))
        .and_then(|l| Some(l.split_once('[')?.1.split_once(']')?.0.to_string()))
        .unwrap_or_else(|| panic!("{} has no SONAME\n{}", lib.display(), text(&output)))
}

fn text(output: &Output) -> String {
    format!(
        "--- stdout\n{}--- stderr\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

fn compile(compiler: &str, flags: &[&str], sources: &[PathBuf], out: &Path, libs: &[String]) {
    let mut cmd = Command::new(compiler);
    cmd.args(flags)
        .arg("-I")
        .arg(root().join("include"))
        .arg("-I")
        .arg(root().join("ffi"))
        .arg("-o")
        .arg(out)
        .args(sources)
        .args(libs);
    let output = run_bounded(cmd, compiler);
    assert!(
        output.status.success(),
        "{compiler} failed for {sources:?}\n{}",
        text(&output)
    );
}

/// Compiles `tests/c/<name>.c` with the fake host and runs it with the
/// library, a scratch directory and `args`; returns its stdout.
fn run_c(name: &str, args: &[&str]) -> String {
    run_c_in(Mode::Plain, name, args)
}

/// How a C program is built.
#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Plain,
    /// AddressSanitizer + UndefinedBehaviorSanitizer on the host program.
    /// libhuddle.so itself is not instrumented, but its allocations go
    /// through ASan's allocator, so a use-after-free of memory huddle
    /// handed out, an overflow into a host buffer, or a leak at exit
    /// (LeakSanitizer) fails the program.
    Sanitized,
}

const SANITIZE: &[&str] = &[
    "-g",
    "-fno-omit-frame-pointer",
    "-fsanitize=address,undefined",
    "-fno-sanitize-recover=undefined",
];

fn run_c_in(mode: Mode, name: &str, args: &[&str]) -> String {
    let c = root().join("tests/c");
    let tag = if mode == Mode::Sanitized { "asan-" } else { "" };
    let exe = scratch(&format!("bin-{tag}{name}")).join(name);
    let mut flags = CFLAGS.to_vec();
    if mode == Mode::Sanitized {
        flags.extend_from_slice(SANITIZE);
    }
    compile(
        "cc",
        &flags,
        &[c.join(format!("{name}.c")), c.join("fake_host.c")],
        &exe,
        &["-ldl".into(), "-lpthread".into(), "-lm".into()],
    );
    let mut cmd = Command::new(&exe);
    cmd.arg(library())
        .arg(scratch(&format!("{tag}{name}")))
        .args(args);
    if mode == Mode::Sanitized {
        cmd.env(
            "ASAN_OPTIONS",
            "detect_leaks=1:halt_on_error=1:abort_on_error=0",
        )
        .env("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1");
    }
    let output = run_bounded(cmd, name);
    let all = text(&output);
    // Shown with --nocapture, and on failure.
    println!("{all}");
    assert!(
        output.status.success(),
        "{name} exited with {}\n{all}",
        output.status
    );
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        stdout.lines().any(|l| l == format!("PASS {name}")),
        "{name} did not print PASS {name}\n{all}"
    );
    assert!(!stdout.contains("FAIL"), "{name} reported a failure\n{all}");
    stdout
}

#[test]
fn abi_mismatch_and_config_errors() {
    run_c("abi_config", &[]);
}

#[test]
fn lifecycle_no_thread_or_fd_growth() {
    let out = run_c("lifecycle", &["200"]);
    assert!(out.contains("ok manual: 200 load/shutdown"), "{out}");
    assert!(out.contains("ok realtime: 200 load/shutdown"), "{out}");
}

#[test]
fn null_stale_utf8_and_long_arguments() {
    run_c("null_args", &[]);
}

#[test]
fn two_instances_side_by_side() {
    run_c("two_instances", &[]);
}

#[test]
fn basic_call_tones_and_events() {
    run_c("basic_call", &[]);
}

#[test]
fn reentrant_event_callback() {
    run_c("reentrant", &[]);
}

#[test]
fn shutdown_while_frames_arrive() {
    run_c("shutdown_race", &[]);
}

#[test]
fn log_level_filters_what_reaches_host_log() {
    let out = run_c("log_level", &[]);
    assert!(out.contains("ok log_level warn "), "{out}");
    assert!(out.contains("ok reload to error"), "{out}");
}

// The same programs under ASan + UBSan (with LeakSanitizer at exit).

#[test]
fn asan_abi_mismatch_and_config_errors() {
    run_c_in(Mode::Sanitized, "abi_config", &[]);
}

#[test]
fn asan_lifecycle_no_leaks() {
    let out = run_c_in(Mode::Sanitized, "lifecycle", &["50"]);
    assert!(out.contains("ok manual: 50 load/shutdown"), "{out}");
    assert!(out.contains("ok realtime: 50 load/shutdown"), "{out}");
}

#[test]
fn asan_null_stale_utf8_and_long_arguments() {
    run_c_in(Mode::Sanitized, "null_args", &[]);
}

#[test]
fn asan_two_instances_side_by_side() {
    run_c_in(Mode::Sanitized, "two_instances", &[]);
}

#[test]
fn asan_basic_call_tones_and_events() {
    run_c_in(Mode::Sanitized, "basic_call", &[]);
}

#[test]
fn asan_reentrant_event_callback() {
    run_c_in(Mode::Sanitized, "reentrant", &[]);
}

#[test]
fn asan_shutdown_while_frames_arrive() {
    run_c_in(Mode::Sanitized, "shutdown_race", &[]);
}

/// Both headers compile as C++17 with warnings as errors, and a C++ program
/// that links libhuddle.so directly (no dlopen) can use the table.
#[test]
fn headers_compile_as_cpp() {
    let lib = library();
    // The program records the library's SONAME (build.rs sets it) and the
    // loader looks for that name, so link through a directory holding both.
    let lib_dir = scratch("lib-cpp_headers");
    for name in ["libhuddle.so".to_string(), soname(lib)] {
        std::os::unix::fs::symlink(lib, lib_dir.join(&name))
            .unwrap_or_else(|e| panic!("link {name} to {}: {e}", lib.display()));
    }
    let exe = scratch("bin-cpp_headers").join("cpp_headers");
    compile(
        "g++",
        CXXFLAGS,
        &[root().join("tests/c/cpp_headers.cpp")],
        &exe,
        &[
            format!("-L{}", lib_dir.display()),
            "-lhuddle".into(),
            format!("-Wl,-rpath,{}", lib_dir.display()),
        ],
    );
    let output = run_bounded(Command::new(&exe), "cpp_headers");
    let all = text(&output);
    assert!(output.status.success(), "cpp_headers failed\n{all}");
    assert!(all.contains("PASS cpp_headers"), "{all}");
}
