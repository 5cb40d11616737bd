//! The layer rule of the README's Architecture section, checked on the
//! source: each top-level module of `src/` imports only the layers below it,
//! and `unsafe` is allowed only where `src/lib.rs` says so.
//!
//! abi → runtime → control → room → audio
//!
//! Reads every `crate::` path in `src/` (in `use` statements, grouped ones
//! included, and inline paths) and every `super::` path that climbs out of a
//! layer's folder, and names the file and line of each upward import.

use std::path::{Path, PathBuf};

/// Top-level modules, lowest first: a module may import its own layer and
/// those before it in this list.
const LAYERS: [&str; 5] = ["audio", "room", "control", "runtime", "abi"];

fn rank(layer: &str) -> Option<usize> {
    LAYERS.iter().position(|l| *l == layer)
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    for entry in entries {
        let path = entry.expect("directory entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The module path of a file: `src/room/mod.rs` → [room], `src/room/io.rs`
/// → [room, io].
fn module_path(rel: &Path) -> Vec<String> {
    let mut parts: Vec<String> = rel
        .iter()
        .map(|p| p.to_string_lossy().trim_end_matches(".rs").to_string())
        .collect();
    if parts.last().is_some_and(|p| p == "mod") {
        parts.pop();
    }
    parts
}

/// Code of a line without its `//` comment (string literals with `//` in
/// them are rare enough in `src/` to cut too).
fn code(line: &str) -> &str {
    line.find("//").map_or(line, |i| &line[..i])
}

fn ident_at(s: &str) -> &str {
    let end = s
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(s.len());
    &s[..end]
}

/// First segments of every item in a grouped import `{a::b, c, d::{e}}`
/// (`s` starts after the opening brace).
fn group_heads(s: &str) -> Vec<String> {
    let mut heads = Vec::new();
    let mut depth = 0usize;
    let mut at_item_start = true;
    for (i, c) in s.char_indices() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => break,
            '}' => depth -= 1,
            ',' if depth == 0 => at_item_start = true,
            c if at_item_start && depth == 0 && !c.is_whitespace() => {
                at_item_start = false;
                let id = ident_at(&s[i..]);
                if !id.is_empty() && id != "self" {
                    heads.push(id.to_string());
                }
            }
            _ => {}
        }
    }
    heads
}

/// Top-level modules named by `crate::` paths in `text` (a line, or a whole
/// `use` statement).
fn crate_targets(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for (i, _) in text.match_indices("crate::") {
        let before = &text[..i];
        if before.ends_with(|c: char| c.is_ascii_alphanumeric() || c == '_') {
            continue; // `my_crate::`, `$crate` is handled below as `crate`
        }
        let rest = &text[i + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            out.extend(group_heads(group));
        } else {
            out.push(ident_at(rest).to_string());
        }
    }
    out
}

/// The layer a `super::super::x` path leads to from a file at `module`, when
/// it climbs out of the file's layer; `nested` says the line sits in an
/// inline module (`mod tests { ... }`), one level deeper than the file.
fn super_target(text: &str, module: &[String], nested: bool) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find("super::") {
        let boundary_ok =
            !rest[..i].ends_with(|c: char| c.is_ascii_alphanumeric() || c == '_' || c == ':');
        let mut tail = &rest[i..];
        let mut hops = 0;
        while let Some(t) = tail.strip_prefix("super::") {
            hops += 1;
            tail = t;
        }
        let depth = module.len() + usize::from(nested);
        if boundary_ok && hops >= depth {
            // Climbed to the crate root: the next segment names the layer.
            if let Some(group) = tail.strip_prefix('{') {
                out.extend(group_heads(group));
            } else {
                out.push(ident_at(tail).to_string());
            }
        }
        rest = &rest[i + "super::".len()..];
    }
    out
}

struct Violation {
    at: String,
    text: String,
    why: String,
}

/// A file's code as `(index of first line, text, inside an inline module)`:
/// one entry per line, except that a `use` statement, which runs to its `;`
/// over possibly many lines, is one entry.
fn statements(file: &Path) -> Vec<(usize, String, bool)> {
    let text = std::fs::read_to_string(file).expect("readable source");
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    let mut nested = false;
    let mut i = 0;
    while i < lines.len() {
        let start = i;
        let mut stmt = code(lines[i]).to_string();
        let trimmed = stmt.trim_start();
        let opens_module = ["mod ", "pub mod ", "pub(crate) mod "]
            .iter()
            .any(|p| trimmed.starts_with(p));
        if opens_module && trimmed.trim_end().ends_with('{') {
            nested = true;
        }
        let is_use = ["use ", "pub use ", "pub(crate) use ", "pub(super) use "]
            .iter()
            .any(|p| trimmed.starts_with(p));
        if is_use {
            while !stmt.contains(';') && i + 1 < lines.len() {
                i += 1;
                stmt.push(' ');
                stmt.push_str(code(lines[i]));
            }
        }
        i += 1;
        out.push((start, stmt, nested));
    }
    out
}

fn scan() -> (Vec<Violation>, usize) {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.sort();
    let mut violations = Vec::new();
    let mut imports = 0;
    for file in &files {
        let rel = file.strip_prefix(&src).expect("under src");
        let module = module_path(rel);
        if rel == Path::new("lib.rs") {
            continue; // the crate root declares the layers
        }
        let Some(own) = module.first() else { continue };
        let Some(own_rank) = rank(own) else {
            violations.push(Violation {
                at: format!("src/{}:1", rel.display()),
                text: String::new(),
                why: format!("top-level module `{own}` is in no layer (tests/layers.rs LAYERS)"),
            });
            continue;
        };
        for (start, stmt, nested) in statements(file) {
            let mut targets = crate_targets(&stmt);
            targets.extend(super_target(&stmt, &module, nested));
            for target in targets.into_iter().filter(|t| !t.is_empty()) {
                imports += 1;
                let Some(target_rank) = rank(&target) else {
                    violations.push(Violation {
                        at: format!("src/{}:{}", rel.display(), start + 1),
                        text: stmt.trim().to_string(),
                        why: format!("imports `{target}`, which is in no layer"),
                    });
                    continue;
                };
                if target_rank > own_rank {
                    violations.push(Violation {
                        at: format!("src/{}:{}", rel.display(), start + 1),
                        text: stmt.trim().to_string(),
                        why: format!("`{own}` imports `{target}`, a layer above it"),
                    });
                }
            }
        }
    }
    (violations, imports)
}

#[test]
fn every_import_goes_down_the_layers() {
    let (violations, imports) = scan();
    // The scan must see the crate's real imports, or it checks nothing.
    assert!(imports > 100, "only {imports} crate imports found");
    let report: Vec<String> = violations
        .iter()
        .map(|v| format!("{}: {}\n    {}", v.at, v.why, v.text))
        .collect();
    assert!(
        violations.is_empty(),
        "layers are {}; upward imports:\n{}",
        LAYERS.join(" < "),
        report.join("\n")
    );
}

#[test]
fn the_scanner_reads_grouped_and_climbing_imports() {
    let grouped = "use crate::{room::io::Channel, runtime::{Host, Module}, self};";
    assert_eq!(crate_targets(grouped), ["room", "runtime"]);
    assert_eq!(
        crate_targets("x = $crate::abi::boundary::guard(a);"),
        ["abi"]
    );
    assert!(crate_targets("use my_crate::thing;").is_empty());
    let module = ["room".to_string(), "member".to_string()];
    assert!(super_target("use super::io::Codec;", &module, false).is_empty());
    assert_eq!(
        super_target("use super::super::runtime::Host;", &module, false),
        ["runtime"]
    );
    // In a test module one level deeper, two hops stay inside `room`.
    assert!(super_target("use super::super::io::Codec;", &module, true).is_empty());
}

/// The children of `src/runtime/` that paths in `text` reach, from a file at
/// `module` (`nested`: inside an inline module): `runtime::x::...`,
/// `super::x::...` from `runtime/y.rs`, `super::super::x` from
/// `runtime/y/z.rs`, grouped imports included.
fn runtime_children(text: &str, module: &[String], nested: bool) -> Vec<String> {
    let mut here: Vec<String> = module.to_vec();
    if nested {
        here.push(String::new());
    }
    let mut out = Vec::new();
    let mut from = 0;
    loop {
        let at = [text[from..].find("crate::"), text[from..].find("super::")]
            .into_iter()
            .flatten()
            .min();
        let Some(i) = at.map(|i| from + i) else {
            break;
        };
        from = i + "super::".len();
        let mut tail = &text[i..];
        if text[..i].ends_with(|c: char| c.is_ascii_alphanumeric() || c == '_' || c == ':') {
            continue; // the middle of a path already read, or `my_crate::`
        }
        // Where the path starts, as a module path from the crate root.
        let mut base: Vec<String> = if let Some(t) = tail.strip_prefix("crate::") {
            tail = t;
            Vec::new()
        } else {
            let mut hops = 0;
            while let Some(t) = tail.strip_prefix("super::") {
                hops += 1;
                tail = t;
            }
            here[..here.len().saturating_sub(hops)].to_vec()
        };
        // Walk down to the runtime's level, then name the child(ren).
        while base.len() < 2 {
            let at_runtime = base == ["runtime"];
            if let Some(group) = tail.strip_prefix('{') {
                if at_runtime {
                    out.extend(group_heads(group));
                }
                break;
            }
            let id = ident_at(tail);
            if id.is_empty() || (base.is_empty() && id != "runtime") {
                break;
            }
            base.push(id.to_string());
            tail = tail[id.len()..].strip_prefix("::").unwrap_or("");
        }
        if base.len() >= 2 && base[0] == "runtime" {
            out.push(base[1].clone());
        }
    }
    out
}

/// For each part, the parts it imports and where (the first such import).
type Edges = Vec<Vec<(usize, String)>>;

/// The children of `src/runtime/` (a file, or a folder such as `recorder/`,
/// which counts as one part) and, for each, the children it imports with
/// the file and line of the first import. An item `runtime/mod.rs`
/// re-exports (`crate::runtime::Host`) counts as an import of the child it
/// comes from; the folder's own files reaching each other (`use super::*`)
/// stay inside the part.
fn runtime_imports() -> (Vec<String>, Edges, usize) {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let runtime = src.join("runtime");
    let mut files = Vec::new();
    rust_files(&runtime, &mut files);
    files.sort();
    let part_of = |file: &Path| -> String {
        module_path(file.strip_prefix(&src).expect("under src"))
            .get(1)
            .cloned()
            .unwrap_or_default()
    };
    let mut parts: Vec<String> = files.iter().map(|f| part_of(f)).collect();
    parts.retain(|p| !p.is_empty()); // runtime/mod.rs declares the parts
    parts.dedup();
    let mut reexports = std::collections::HashMap::new();
    for (_, stmt, _) in statements(&runtime.join("mod.rs")) {
        let Some(rest) = stmt.trim().strip_prefix("pub use ") else {
            continue;
        };
        let from = ident_at(rest);
        let Some(after) = rest[from.len()..].strip_prefix("::") else {
            continue;
        };
        if !parts.iter().any(|p| p == from) {
            continue;
        }
        let items = match after.strip_prefix('{') {
            Some(group) => group_heads(group),
            None => vec![ident_at(after).to_string()],
        };
        for item in items {
            reexports.insert(item, from.to_string());
        }
    }
    let mut edges: Edges = vec![Vec::new(); parts.len()];
    let mut paths = 0;
    for file in &files {
        let own = part_of(file);
        let Some(from) = parts.iter().position(|p| *p == own) else {
            continue;
        };
        let rel = file.strip_prefix(&src).expect("under src");
        let module = module_path(rel);
        for (start, stmt, nested) in statements(file) {
            for child in runtime_children(&stmt, &module, nested) {
                let child = reexports.get(&child).cloned().unwrap_or(child);
                let Some(to) = parts.iter().position(|p| *p == child) else {
                    continue; // an item of runtime/mod.rs itself
                };
                paths += 1;
                if to != from && !edges[from].iter().any(|(t, _)| *t == to) {
                    let at = format!("src/{}:{}: {}", rel.display(), start + 1, stmt.trim());
                    edges[from].push((to, at));
                }
            }
        }
    }
    (parts, edges, paths)
}

/// A circle in `edges`, as the indices of its parts in order, if any.
fn find_circle(edges: &[Vec<(usize, String)>]) -> Option<Vec<usize>> {
    // 0: not seen, 1: on the current path, 2: done.
    fn visit(
        n: usize,
        edges: &[Vec<(usize, String)>],
        mark: &mut [u8],
        path: &mut Vec<usize>,
    ) -> Option<Vec<usize>> {
        mark[n] = 1;
        path.push(n);
        for (to, _) in &edges[n] {
            if mark[*to] == 1 {
                let from = path.iter().position(|p| p == to).expect("on the path");
                return Some(path[from..].to_vec());
            }
            if mark[*to] == 0 {
                if let Some(circle) = visit(*to, edges, mark, path) {
                    return Some(circle);
                }
            }
        }
        path.pop();
        mark[n] = 2;
        None
    }
    let mut mark = vec![0u8; edges.len()];
    (0..edges.len()).find_map(|n| {
        if mark[n] == 0 {
            visit(n, edges, &mut mark, &mut Vec::new())
        } else {
            None
        }
    })
}

/// The runtime's parts import each other one way only: `module.rs`, the
/// composition root, builds the runtime from its parts and hands each the
/// narrow thing it needs (a trait the part defines, or the fields it uses);
/// `rooms.rs` hands the recorder a `RecordedRoom` it implements. A part that
/// reached back, by any path, would close an import circle again.
#[test]
fn the_runtime_parts_import_each_other_without_a_circle() {
    let (parts, edges, paths) = runtime_imports();
    // The scan must see the runtime's real imports of each other.
    assert!(paths > 30, "only {paths} paths into runtime/ found");
    assert!(parts.iter().any(|p| p == "recorder") && parts.iter().any(|p| p == "module"));
    if let Some(circle) = find_circle(&edges) {
        let mut steps = Vec::new();
        for (i, &n) in circle.iter().enumerate() {
            let next = circle[(i + 1) % circle.len()];
            let (_, at) = edges[n]
                .iter()
                .find(|(t, _)| *t == next)
                .expect("an edge of the circle");
            steps.push(format!("{} -> {}\n    {at}", parts[n], parts[next]));
        }
        panic!("an import circle in src/runtime/:\n{}", steps.join("\n"));
    }
}

#[test]
fn the_circle_finder_names_the_circle() {
    let edge = |to: usize| (to, String::new());
    // 0 -> 1 -> 2 -> 1, and 3 alone.
    let edges = vec![vec![edge(1)], vec![edge(2)], vec![edge(1)], vec![]];
    assert_eq!(find_circle(&edges), Some(vec![1, 2]));
    let one_way = vec![vec![edge(1), edge(2)], vec![edge(2)], vec![], vec![edge(0)]];
    assert_eq!(find_circle(&one_way), None);
}

#[test]
fn the_runtime_scanner_follows_every_path_to_a_child() {
    let file = ["runtime".to_string(), "pool".to_string()];
    let deep = [
        "runtime".to_string(),
        "recorder".to_string(),
        "session".to_string(),
    ];
    let reach =
        |text: &str, module: &[String], nested: bool| runtime_children(text, module, nested);
    assert_eq!(
        reach("use super::module::Shared;", &file, false),
        ["module"]
    );
    assert_eq!(
        reach("ctx: &super::module::Shared,", &file, false),
        ["module"]
    );
    assert_eq!(
        reach("use super::{logging::Scope, module};", &file, false),
        ["logging", "module"]
    );
    assert_eq!(
        reach("use crate::runtime::module::Shared;", &deep, false),
        ["module"]
    );
    assert_eq!(
        reach("use crate::runtime::{Host, module::X};", &deep, false),
        ["Host", "module"]
    );
    assert_eq!(
        reach("use super::super::module::Shared;", &deep, false),
        ["module"]
    );
    // From a test module inside `pool.rs`, one hop stays in `pool`.
    assert_eq!(reach("use super::module::X;", &file, true), ["pool"]);
    assert_eq!(
        reach("use super::super::module::X;", &file, true),
        ["module"]
    );
    // Not the runtime's: the recorder's own children, other layers, crates.
    assert_eq!(reach("use super::*;", &deep, false), ["recorder"]);
    assert!(reach("use crate::room::module::X;", &file, false).is_empty());
    assert!(reach("use my_crate::runtime::module;", &file, false).is_empty());
}

/// `unsafe` code needs an explicit allowance, and there is exactly one: the
/// C ABI folder.
#[test]
fn unsafe_is_allowed_only_at_the_abi() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let lib = std::fs::read_to_string(src.join("lib.rs")).expect("lib.rs");
    assert!(
        lib.contains("#![deny(unsafe_code)]"),
        "src/lib.rs must deny unsafe_code"
    );
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut allowances = Vec::new();
    for file in &files {
        let rel = file
            .strip_prefix(&src)
            .expect("under src")
            .display()
            .to_string();
        let text = std::fs::read_to_string(file).expect("readable source");
        let lines: Vec<&str> = text.lines().collect();
        for (n, line) in lines.iter().enumerate() {
            let c = code(line);
            if c.contains("allow(unsafe_code)") {
                let next = lines.get(n + 1).map_or("", |l| l.trim());
                allowances.push(format!("src/{rel}: {next}"));
            }
            let uses_unsafe = c
                .split(|ch: char| !(ch.is_ascii_alphanumeric() || ch == '_'))
                .any(|w| w == "unsafe");
            if uses_unsafe && !c.contains("allow(unsafe_code)") {
                assert!(
                    rel.starts_with("abi/"),
                    "src/{rel}:{}: `unsafe` outside src/abi/",
                    n + 1
                );
            }
        }
    }
    allowances.sort();
    assert_eq!(
        allowances,
        ["src/lib.rs: pub mod abi;"],
        "unsafe_code allowances"
    );
}
