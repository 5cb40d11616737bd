//! Operator-named files stay inside the directory configured for them:
//! sounds played by the API, recordings, wait-URL files.

use std::path::{Component, Path, PathBuf};

/// A file an operator names must stay inside the configured directory.
pub fn confined(base: &Path, name: &str) -> Result<PathBuf, String> {
    let p = Path::new(name);
    if p.is_absolute() {
        let canon_base = base
            .canonicalize()
            .map_err(|e| format!("{}: {e}", base.display()))?;
        let canon = p.canonicalize().map_err(|e| format!("{name}: {e}"))?;
        return if canon.starts_with(&canon_base) {
            Ok(canon)
        } else {
            Err(format!("{name} is outside {}", base.display()))
        };
    }
    if p.components()
        .any(|c| !matches!(c, Component::Normal(_) | Component::CurDir))
    {
        return Err(format!("{name}: '..' is not allowed"));
    }
    let joined = base.join(p);
    if let Ok(cb) = base.canonicalize() {
        // The deepest part of the path that exists must resolve inside base,
        // also when the file itself is not there yet: a recording created
        // under a linked directory, or through a dangling link, would
        // otherwise be written wherever the link points.
        let mut existing = joined.as_path();
        while existing.symlink_metadata().is_err() {
            match existing.parent() {
                Some(up) => existing = up,
                None => break,
            }
        }
        if !existing.canonicalize().is_ok_and(|c| c.starts_with(&cb)) {
            return Err(format!(
                "{name} leads outside {} (symbolic link)",
                base.display()
            ));
        }
    }
    Ok(joined)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn confinement_refuses_escapes() {
        let dir = std::env::temp_dir().join(format!("huddle-confine-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        assert!(confined(&dir, "ok.wav").is_ok());
        assert!(confined(&dir, "sub/ok.wav").is_ok());
        assert!(confined(&dir, "../x.wav").is_err());
        assert!(confined(&dir, "a/../../x.wav").is_err());
        assert!(confined(&dir, "/etc/passwd").is_err());
        #[cfg(unix)]
        {
            let link = dir.join("out");
            let _ = std::fs::remove_file(&link);
            std::os::unix::fs::symlink("/etc", &link).expect("symlink");
            assert!(confined(&dir, "out/passwd").is_err());
            // Not there yet, but under a link to outside, or a dangling link.
            assert!(confined(&dir, "out/new-file.wav").is_err());
            assert!(confined(&dir, "out/new-dir/new-file.wav").is_err());
            let dangling = dir.join("dangling.wav");
            let _ = std::fs::remove_file(&dangling);
            std::os::unix::fs::symlink("/tmp/huddle-nowhere/x.wav", &dangling).expect("symlink");
            assert!(confined(&dir, "dangling.wav").is_err());
            // A link that stays inside is fine.
            std::fs::create_dir_all(dir.join("real")).expect("dir");
            let inner = dir.join("inner");
            let _ = std::fs::remove_file(&inner);
            std::os::unix::fs::symlink(dir.join("real"), &inner).expect("symlink");
            assert!(confined(&dir, "inner/new.wav").is_ok());
            assert!(confined(&dir, "new-dir/new.wav").is_ok());
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}
