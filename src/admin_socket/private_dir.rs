//! Whether a socket's directory is one that only its owner (and root) control, so that no one
//! else could have put a socket there or swapped ours for another file. The rule is OpenSSH's
//! StrictModes, applied to every directory from the socket's up to `/`: each belongs to root or
//! to the owner, and no one else may write it, except a sticky directory (such as `/tmp`), in which
//! no one may rename or remove another user's entry, when the entry on the way down is trusted.
//!
//! The server checks its own directory with itself as the owner before it binds; `keys usage`
//! checks a listener's directory with the listener as the owner before it believes it.

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

/// Who may own an entry met in a sticky directory open to all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BelowSticky {
    /// Root only: the client's rule, since a stranger may have made `/tmp/x` first.
    Root,
    /// Root or the owner: the server's rule (an entry it made itself cannot be taken from it).
    RootOrOwner,
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
pub fn check(levels: &[Level], owner: u32, below_sticky: BelowSticky) -> Result<(), String> {
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
            let sticky = level.mode & 0o1000 != 0;
            let below_ok = match below_sticky {
                BelowSticky::Root => below.uid == 0,
                BelowSticky::RootOrOwner => trusted(below.uid),
            };
            if !sticky || !below_ok {
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
        assert_eq!(check(&run, SERVICE, BelowSticky::Root), Ok(()));
        assert_eq!(check(&run, SERVICE, BelowSticky::RootOrOwner), Ok(()));
        let err = check(&run, STRANGER, BelowSticky::Root).unwrap_err();
        assert!(err.contains("belongs to uid 998"), "{err}");
    }

    #[test]
    fn a_directory_others_may_write_is_never_the_sockets() {
        for mode in [0o777, 0o1777, 0o775] {
            let open = levels(&[("/tmp", 0, mode), ("/", 0, 0o755)]);
            let err = check(&open, 0, BelowSticky::RootOrOwner).unwrap_err();
            assert!(err.contains("may be written by other users"), "{err}");
        }
    }

    #[test]
    fn below_a_sticky_directory_the_entry_must_be_roots_for_the_client() {
        let made_by = |uid| {
            levels(&[
                ("/tmp/sentiment/sock-dir", uid, 0o700),
                ("/tmp/sentiment", uid, 0o755),
                ("/tmp", 0, 0o1777),
                ("/", 0, 0o755),
            ])
        };
        // A stranger who made /tmp/sentiment first is believed by no one.
        assert!(check(&made_by(STRANGER), STRANGER, BelowSticky::Root).is_err());
        // The server itself may use a directory it made in /tmp; no other user's client believes
        // it there, while root's made by root is fine for both.
        assert_eq!(
            check(&made_by(SERVICE), SERVICE, BelowSticky::RootOrOwner),
            Ok(())
        );
        assert!(check(&made_by(SERVICE), SERVICE, BelowSticky::Root).is_err());
        assert_eq!(check(&made_by(0), SERVICE, BelowSticky::Root), Ok(()));
    }

    #[test]
    fn an_open_directory_without_the_sticky_bit_anywhere_above_is_refused() {
        let shared = levels(&[
            ("/srv/shared/sock-dir", SERVICE, 0o700),
            ("/srv/shared", 0, 0o777),
            ("/srv", 0, 0o755),
            ("/", 0, 0o755),
        ]);
        let err = check(&shared, SERVICE, BelowSticky::RootOrOwner).unwrap_err();
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
        let err = check(&home, SERVICE, BelowSticky::RootOrOwner).unwrap_err();
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
