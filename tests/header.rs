//! The committed `include/huddle.h` must be exactly what the pinned cbindgen
//! generates from the current sources, and its version macros must match
//! `Cargo.toml`.
//!
//! How the fresh header is obtained: build.rs already runs cbindgen (pinned
//! `=0.29.0`, `cbindgen.toml`, the version defines) into `OUT_DIR/huddle.h`
//! on every build, and cargo sets `OUT_DIR` when compiling *every* target of a
//! package that has a build script — integration tests included. So this test
//! embeds that file with `include_str!`: no second copy of the generation
//! logic, no second cbindgen build, no nested `cargo build`. `include_str!`
//! makes the file a dependency of this test, so when build.rs regenerates it
//! (it reruns on any change under `src/`, to `cbindgen.toml` or to the
//! version) this test is recompiled with the new text.

use std::path::Path;

const GENERATED: &str = include_str!(concat!(env!("OUT_DIR"), "/huddle.h"));

fn committed() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("include/huddle.h");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The value of `#define <name> <value>` in a header.
fn define<'a>(header: &'a str, name: &str) -> Option<&'a str> {
    header.lines().find_map(|line| {
        let mut words = line.split_whitespace();
        (words.next() == Some("#define") && words.next() == Some(name))
            .then(|| words.next())
            .flatten()
    })
}

fn expected_version_number() -> u32 {
    let mut parts = env!("CARGO_PKG_VERSION")
        .split(['.', '-', '+'])
        .map(|p| p.parse::<u32>().expect("numeric version part"));
    let (major, minor, patch) = (
        parts.next().unwrap(),
        parts.next().unwrap(),
        parts.next().unwrap(),
    );
    assert!(minor < 256 && patch < 256, "minor/patch must fit in a byte");
    (major << 16) | (minor << 8) | patch
}

#[test]
fn committed_header_is_fresh() {
    let committed = committed();
    if committed == GENERATED {
        return;
    }
    let first_diff = committed
        .lines()
        .zip(GENERATED.lines())
        .position(|(a, b)| a != b)
        .unwrap_or_else(|| committed.lines().count().min(GENERATED.lines().count()));
    let show = |text: &str| {
        text.lines()
            .skip(first_diff.saturating_sub(2))
            .take(6)
            .collect::<Vec<_>>()
            .join("\n")
    };
    panic!(
        "include/huddle.h is stale (first difference at line {}).\n\
         --- committed\n{}\n--- generated\n{}\n\
         Regenerate it with: HUDDLE_WRITE_HEADER=1 cargo build",
        first_diff + 1,
        show(&committed),
        show(GENERATED)
    );
}

#[test]
fn version_macros_come_from_cargo_toml() {
    let version = env!("CARGO_PKG_VERSION");
    for (which, header) in [("committed", committed()), ("generated", GENERATED.into())] {
        let number: u32 = define(&header, "HUDDLE_VERSION_NUMBER")
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("{which} header has no numeric HUDDLE_VERSION_NUMBER"));
        assert_eq!(
            number,
            expected_version_number(),
            "{which} HUDDLE_VERSION_NUMBER for version {version}"
        );
        assert_eq!(
            define(&header, "HUDDLE_VERSION_STRING"),
            Some(format!("\"{version}\"").as_str()),
            "{which} HUDDLE_VERSION_STRING"
        );
        let parts: Vec<&str> = version.split(['.', '-', '+']).take(3).collect();
        for (name, part) in ["MAJOR", "MINOR", "PATCH"].iter().zip(parts) {
            assert_eq!(
                define(&header, &format!("HUDDLE_VERSION_{name}")),
                Some(part),
                "{which} HUDDLE_VERSION_{name}"
            );
        }
    }
}

#[test]
fn version_function_matches_cargo_toml() {
    let ptr = huddle::abi::exports::huddle_version();
    // SAFETY: huddle_version returns a pointer to a static NUL-terminated string.
    let got = unsafe { std::ffi::CStr::from_ptr(ptr) };
    assert_eq!(got.to_str().unwrap(), env!("CARGO_PKG_VERSION"));
    // The interface table carries the same function.
    let table_version = (huddle::abi::exports::huddle_module_interface.version)();
    assert_eq!(table_version, ptr);
}

mod refhost;

/// The names the committed header declares: its `huddle_*` functions and the
/// interface table.
fn declared_symbols(header: &str) -> std::collections::BTreeSet<String> {
    let mut names = std::collections::BTreeSet::new();
    for line in header
        .lines()
        .filter(|l| !l.starts_with([' ', '*', '/', '#']))
    {
        if let Some(at) = line.find("huddle_module_interface;") {
            names.insert(line[at..at + "huddle_module_interface".len()].to_string());
        }
        if let Some(open) = line.find('(') {
            let name = line[..open].rsplit([' ', '*']).next().unwrap_or("");
            if name.starts_with("huddle_") {
                names.insert(name.to_string());
            }
        }
    }
    names
}

/// What a host can `dlsym` is exactly what the header declares: the
/// interface table and the `huddle_` functions, nothing of Rust's or of the
/// crates'. (scripts/test.sh checks the release library the same way.)
#[test]
fn library_exports_exactly_what_the_header_declares() {
    let lib = refhost::libhuddle();
    let out = std::process::Command::new("nm")
        .args(["-D", "--defined-only"])
        .arg(&lib)
        .output()
        .expect("nm (binutils) runs");
    assert!(out.status.success(), "nm {}", lib.display());
    let exported: std::collections::BTreeSet<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().nth(2).map(str::to_string))
        .collect();
    let declared = declared_symbols(&committed());
    assert!(declared.contains("huddle_module_interface") && declared.len() >= 13);
    assert_eq!(exported, declared, "exports of {}", lib.display());
}
