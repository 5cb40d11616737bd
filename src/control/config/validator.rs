//! Key paths, their lines in the file, and the checks every section uses;
//! each error names `file:line: key 'a.b': problem`.

use std::ops::Range;
use std::path::Component;

use toml_edit::{ImDocument, Item, Table, Value};

use crate::control::dtmf::DtmfError;

use super::raw::RawControls;
use super::*;

#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Seg {
    Key(String),
    Index(usize),
}

pub(super) fn k(s: &str) -> Seg {
    Seg::Key(s.to_string())
}

pub(super) fn path_string(path: &[Seg]) -> String {
    let mut out = String::new();
    for seg in path {
        match seg {
            Seg::Key(key) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(&clip(key));
            }
            Seg::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    out
}

#[derive(Clone, Copy)]
pub(super) enum Node<'a> {
    Item(&'a Item),
    Table(&'a Table),
    Value(&'a Value),
}

impl<'a> Node<'a> {
    pub(super) fn span(self) -> Option<Range<usize>> {
        match self {
            Node::Item(i) => i.span(),
            Node::Table(t) => t.span(),
            Node::Value(v) => v.span(),
        }
    }

    pub(super) fn get_key(self, key: &str) -> Option<(Option<Range<usize>>, Node<'a>)> {
        let (kk, item) = match self {
            Node::Item(i) => i.as_table_like()?.get_key_value(key)?,
            Node::Table(t) => t.get_key_value(key)?,
            Node::Value(v) => v.as_inline_table()?.get_key_value(key)?,
        };
        Some((kk.span(), Node::Item(item)))
    }

    pub(super) fn get_index(self, idx: usize) -> Option<Node<'a>> {
        match self {
            Node::Item(i) => {
                if let Some(aot) = i.as_array_of_tables() {
                    aot.get(idx).map(Node::Table)
                } else {
                    i.as_array()?.get(idx).map(Node::Value)
                }
            }
            Node::Value(v) => v.as_array()?.get(idx).map(Node::Value),
            Node::Table(_) => None,
        }
    }

    pub(super) fn keys(self) -> Vec<String> {
        let keys: Vec<&str> = match self {
            Node::Item(i) => match i.as_table_like() {
                Some(t) => t.iter().map(|(k, _)| k).collect(),
                None => Vec::new(),
            },
            Node::Table(t) => t.iter().map(|(k, _)| k).collect(),
            Node::Value(v) => match v.as_inline_table() {
                Some(t) => t.iter().map(|(k, _)| k).collect(),
                None => Vec::new(),
            },
        };
        keys.into_iter().map(str::to_string).collect()
    }

    pub(super) fn len(self) -> usize {
        match self {
            Node::Item(i) => i
                .as_array_of_tables()
                .map(|a| a.len())
                .or_else(|| i.as_array().map(|a| a.len()))
                .unwrap_or(0),
            Node::Value(v) => v.as_array().map_or(0, |a| a.len()),
            Node::Table(_) => 0,
        }
    }
}

pub(super) struct Validator<'t> {
    pub(super) text: &'t str,
    pub(super) file: PathBuf,
    pub(super) doc: Option<ImDocument<&'t str>>,
}

impl Validator<'_> {
    pub(super) fn line_of(&self, offset: usize) -> usize {
        let end = offset.min(self.text.len());
        self.text.as_bytes()[..end]
            .iter()
            .filter(|&&b| b == b'\n')
            .count()
            + 1
    }

    /// Span of the deepest part of `path` present in the file: a defaulted
    /// key isn't in the text, so the error points at its enclosing table.
    pub(super) fn span_of(&self, path: &[Seg]) -> Option<Range<usize>> {
        let doc = self.doc.as_ref()?;
        let mut node = Node::Item(doc.as_item());
        let mut best = None;
        for seg in path {
            match seg {
                Seg::Key(key) => {
                    let Some((kspan, child)) = node.get_key(key) else {
                        break;
                    };
                    best = kspan.or_else(|| child.span()).or(best);
                    node = child;
                }
                Seg::Index(i) => {
                    let Some(child) = node.get_index(*i) else {
                        break;
                    };
                    best = child.span().or(best);
                    node = child;
                }
            }
        }
        best
    }

    pub(super) fn err(&self, path: &[Seg], problem: impl Into<String>) -> ConfigError {
        ConfigError {
            file: self.file.clone(),
            line: self.span_of(path).map(|s| self.line_of(s.start)),
            key: (!path.is_empty()).then(|| path_string(path)),
            problem: problem.into(),
        }
    }

    /// Deepest key whose key or value span holds `offset`: gives serde
    /// errors (which only carry a span) a key name.
    pub(super) fn path_at(&self, offset: usize) -> Option<Vec<Seg>> {
        fn walk(node: Node, offset: usize, path: &mut Vec<Seg>, best: &mut Option<Vec<Seg>>) {
            let contains =
                |r: &Option<Range<usize>>| r.as_ref().is_some_and(|r| r.contains(&offset));
            for key in node.keys() {
                let Some((kspan, child)) = node.get_key(&key) else {
                    continue;
                };
                path.push(Seg::Key(key));
                if (contains(&kspan) || contains(&child.span()))
                    && best.as_ref().is_none_or(|b| b.len() <= path.len())
                {
                    *best = Some(path.clone());
                }
                walk(child, offset, path, best);
                path.pop();
            }
            for i in 0..node.len() {
                let Some(child) = node.get_index(i) else {
                    continue;
                };
                path.push(Seg::Index(i));
                if contains(&child.span()) && best.as_ref().is_none_or(|b| b.len() <= path.len()) {
                    *best = Some(path.clone());
                }
                walk(child, offset, path, best);
                path.pop();
            }
        }
        let doc = self.doc.as_ref()?;
        let mut best = None;
        walk(
            Node::Item(doc.as_item()),
            offset,
            &mut Vec::new(),
            &mut best,
        );
        best
    }

    pub(super) fn range<T: PartialOrd + fmt::Display + Copy>(
        &self,
        path: &[Seg],
        v: T,
        lo: T,
        hi: T,
        what: &str,
    ) -> Result<T, ConfigError> {
        // Written so NaN (which compares false) lands in the error branch.
        let in_range = v >= lo && v <= hi;
        if !in_range {
            return Err(self.err(path, format!("{v} is out of range {lo}..{hi}{what}")));
        }
        Ok(v)
    }

    pub(super) fn int(&self, path: &[Seg], v: i64, lo: i64, hi: i64) -> Result<i64, ConfigError> {
        self.range(path, v, lo, hi, "")
    }

    /// One of a fixed set of words; the error lists them.
    pub(super) fn choice<T: Copy>(
        &self,
        path: &[Seg],
        value: &str,
        options: &[(&str, T)],
    ) -> Result<T, ConfigError> {
        options
            .iter()
            .find(|(word, _)| *word == value)
            .map(|(_, t)| *t)
            .ok_or_else(|| {
                let words: Vec<&str> = options.iter().map(|(w, _)| *w).collect();
                self.err(
                    path,
                    format!(
                        "'{}' is not a choice (expected one of: {})",
                        clip(value),
                        words.join(", ")
                    ),
                )
            })
    }

    pub(super) fn resolve_path(&self, base: &Path, p: &str) -> PathBuf {
        let p = Path::new(p);
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            base.join(p)
        }
    }

    pub(super) fn sound(
        &self,
        base: &[Seg],
        key: &str,
        value: &str,
        module: &ModuleConfig,
    ) -> Result<Option<PathBuf>, ConfigError> {
        if value.is_empty() {
            return Ok(None);
        }
        let mut path = base.to_vec();
        path.push(k(key));
        self.text_value(&path, value)?;
        // Like `play`: under sounds_dir, unless the operator named the
        // folder in `allowed_sound_dirs`.
        let p = Path::new(value);
        if p.components().any(|c| matches!(c, Component::ParentDir)) {
            return Err(self.err(
                &path,
                "contains '..'; sound files stay under sounds_dir or a folder in allowed_sound_dirs",
            ));
        }
        if p.is_absolute() {
            if !module.allowed_sound_dirs.iter().any(|d| p.starts_with(d)) {
                return Err(self.err(
                    &path,
                    format!(
                        "{} is outside sounds_dir; add its folder to [module] allowed_sound_dirs to use it",
                        clip(value)
                    ),
                ));
            }
            return Ok(Some(p.to_path_buf()));
        }
        Ok(Some(module.sounds_dir.join(p)))
    }

    pub(super) fn text_value(&self, path: &[Seg], value: &str) -> Result<(), ConfigError> {
        if value.len() > MAX_TEXT {
            return Err(self.err(path, format!("value longer than {MAX_TEXT} bytes")));
        }
        if value.chars().any(char::is_control) {
            return Err(self.err(path, "value contains control characters"));
        }
        Ok(())
    }

    pub(super) fn controls(
        &self,
        path: &[Seg],
        raw: &RawControls,
        default: fn() -> DigitMap,
    ) -> Result<DigitMap, ConfigError> {
        match raw {
            RawControls::Named(n) if n == "default" => Ok(default()),
            RawControls::Named(n) if n == "none" => Ok(DigitMap::empty()),
            RawControls::Named(n) => Err(self.err(
                path,
                format!("'{n}' is not a control map (expected \"default\", \"none\" or a table of sequence = action)"),
            )),
            RawControls::Table(t) => DigitMap::from_names(t.iter()).map_err(|e| self.dtmf_err(path, &e)),
        }
    }

    pub(super) fn dtmf_err(&self, path: &[Seg], e: &DtmfError) -> ConfigError {
        let mut p = path.to_vec();
        p.push(Seg::Key(e.sequence.clone()));
        if self.span_of(&p) == self.span_of(path) {
            p.pop();
        }
        self.err(&p, e.to_string())
    }
}

/// A value as an error quotes it: at most 64 characters, so an over-long
/// value is not echoed whole into the host's log.
pub(super) fn clip(value: &str) -> String {
    match value.char_indices().nth(64) {
        Some((end, _)) => format!("{}...", &value[..end]),
        None => value.to_string(),
    }
}
