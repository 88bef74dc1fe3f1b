//! Whether the admin socket's directory is one that only the server's user (and root) control,
//! so that no one else could take the socket's place or swap it for a link to another file
//! between its creation and its `chmod`. The rule is OpenSSH's StrictModes, applied to every
//! directory from the socket's up to `/`: each belongs to root or to the owner, and no one else
//! may write it, except a sticky directory (such as `/tmp`), in which no one may rename or remove
//! another user's entry, when the entry on the way down is root's or the owner's. The socket's
//! own directory may not be open to others even when sticky: anyone could bind there first.

use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// One directory on the way from the socket up to `/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Level {
    pub path: PathBuf,
    pub uid: u32,
    pub mode: u32,
}

/// The directory holding `path`, with symlinks, `.` and `..` resolved.
pub fn resolved_dir(path: &Path) -> io::Result<PathBuf> {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    std::fs::canonicalize(dir)
}

/// `dir` (resolved) and every directory above it, each with its owner and mode.
pub fn levels(dir: &Path) -> io::Result<Vec<Level>> {
    dir.ancestors()
        .map(|path| {
            let meta = std::fs::metadata(path)?;
            Ok(Level {
                path: path.to_owned(),
                uid: meta.uid(),
                mode: meta.mode(),
            })
        })
        .collect()
}

/// Why `levels` (from the socket's directory up to `/`) are not controlled by `owner` and root
/// alone; `Ok` when they are.
pub fn check(levels: &[Level], owner: u32) -> Result<(), String> {
    let trusted = |uid: u32| uid == 0 || uid == owner;
    let open = |level: &Level| level.mode & 0o022 != 0;
    let Some(dir) = levels.first() else {
        return Err("no directory".into());
    };
    if open(dir) {
        return Err(format!(
            "{} may be written by other users (mode {:o})",
            dir.path.display(),
            dir.mode & 0o7777
        ));
    }
    for (below, level) in levels.iter().zip(&levels[1..]) {
        if !trusted(below.uid) {
            return Err(format!(
                "{} belongs to uid {}",
                below.path.display(),
                below.uid
            ));
        }
        if open(level) {
            // `below` is trusted (checked above): in a sticky directory no one else may move it.
            if level.mode & 0o1000 == 0 {
                return Err(format!(
                    "{} may be written by other users (mode {:o}), who could have made or replaced {}",
                    level.path.display(),
                    level.mode & 0o7777,
                    below.path.display()
                ));
            }
        }
    }
    let top = levels.last().unwrap_or(dir);
    if !trusted(top.uid) {
        return Err(format!("{} belongs to uid {}", top.path.display(), top.uid));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SERVICE: u32 = 998;
    const STRANGER: u32 = 1001;

    /// Levels from the socket's directory up, as (path, owner, mode).
    fn levels(spec: &[(&str, u32, u32)]) -> Vec<Level> {
        spec.iter()
            .map(|&(path, uid, mode)| Level {
                path: path.into(),
                uid,
                mode,
            })
            .collect()
    }

    #[test]
    fn a_service_directory_made_by_root_is_controlled_by_the_service() {
        let run = levels(&[
            ("/run/sentiment-api", SERVICE, 0o700),
            ("/run", 0, 0o755),
            ("/", 0, 0o755),
        ]);
        assert_eq!(check(&run, SERVICE), Ok(()));
        let err = check(&run, STRANGER).unwrap_err();
        assert!(err.contains("belongs to uid 998"), "{err}");
    }

    #[test]
    fn a_directory_others_may_write_is_never_the_sockets() {
        for mode in [0o777, 0o1777, 0o775] {
            let open = levels(&[("/tmp", 0, mode), ("/", 0, 0o755)]);
            let err = check(&open, 0).unwrap_err();
            assert!(err.contains("may be written by other users"), "{err}");
        }
    }

    #[test]
    fn below_a_sticky_directory_the_entry_must_be_the_owners_or_roots() {
        let made_by = |uid| {
            levels(&[
                ("/tmp/sentiment/sock-dir", uid, 0o700),
                ("/tmp/sentiment", uid, 0o755),
                ("/tmp", 0, 0o1777),
                ("/", 0, 0o755),
            ])
        };
        assert_eq!(check(&made_by(SERVICE), SERVICE), Ok(()));
        assert_eq!(check(&made_by(0), SERVICE), Ok(()));
        // A stranger made /tmp/sentiment first: it could put anything there.
        let err = check(&made_by(STRANGER), SERVICE).unwrap_err();
        assert!(err.contains("belongs to uid 1001"), "{err}");
    }

    #[test]
    fn an_open_directory_without_the_sticky_bit_anywhere_above_is_refused() {
        let shared = levels(&[
            ("/srv/shared/sock-dir", SERVICE, 0o700),
            ("/srv/shared", 0, 0o777),
            ("/srv", 0, 0o755),
            ("/", 0, 0o755),
        ]);
        let err = check(&shared, SERVICE).unwrap_err();
        assert!(err.contains("/srv/shared may be written"), "{err}");
    }

    #[test]
    fn a_strangers_directory_anywhere_above_is_refused() {
        let home = levels(&[
            ("/home/eve/run", SERVICE, 0o700),
            ("/home/eve", STRANGER, 0o755),
            ("/home", 0, 0o755),
            ("/", 0, 0o755),
        ]);
        let err = check(&home, SERVICE).unwrap_err();
        assert!(err.contains("/home/eve belongs to uid 1001"), "{err}");
    }

    #[test]
    fn real_directories_are_read_with_symlinks_resolved() {
        let dir =
            std::env::temp_dir().join(format!("sentiment-api-private-dir-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let link = dir.with_extension("link");
        let _ = std::fs::remove_file(&link);
        std::os::unix::fs::symlink(&dir, &link).unwrap();
        let resolved = resolved_dir(&link.join("admin.sock")).unwrap();
        assert_eq!(resolved, std::fs::canonicalize(&dir).unwrap());
        let found = super::levels(&resolved).unwrap();
        assert_eq!(found.last().unwrap().path, Path::new("/"));
        assert_eq!(found.len(), resolved.ancestors().count());
        std::fs::remove_file(&link).unwrap();
    }
}
