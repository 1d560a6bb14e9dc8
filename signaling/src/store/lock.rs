//! One Cohort per SQLite file: an advisory lock on `<file>.lock`, held for the process's life.
//!
//! SQLite itself lets two servers open one file; each would then hold its own rooms, limits and
//! in-memory state over the same rows. The lock makes the second one refuse to start, saying
//! which process holds the file. The kernel drops the lock when the holder exits, however it
//! exits, so a crash never leaves a stale lock behind.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::os::fd::AsRawFd;
use std::path::PathBuf;

use crate::error::AppError;

/// The file an `sqlite:` URL names, if it names one (not an in-memory database).
pub fn sqlite_path(url: &str) -> Option<PathBuf> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    if path.is_empty() || path == ":memory:" || query.contains("mode=memory") {
        return None;
    }
    Some(PathBuf::from(path))
}

/// Takes the lock for the database at `url`; `None` for databases that need none (PostgreSQL,
/// in-memory SQLite). Keep the returned file open for as long as the server runs.
pub fn lock_database(url: &str) -> Result<Option<File>, AppError> {
    let Some(db) = sqlite_path(url) else {
        return Ok(None);
    };
    let mut name = db.clone().into_os_string();
    name.push(".lock");
    let path = PathBuf::from(name);
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(|e| {
            AppError::Config(format!("cannot open the lock file {}: {e}", path.display()))
        })?;
    // SAFETY: flock only reads the descriptor, which `file` keeps open.
    let locked = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0;
    if !locked {
        let mut holder = String::new();
        let _ = file.read_to_string(&mut holder);
        let holder = holder.trim();
        let who = if holder.is_empty() {
            "another process".to_owned()
        } else {
            format!("process {holder}")
        };
        return Err(AppError::Config(format!(
            "another Cohort ({who}) is using the database {}; stop it first, or give this \
             server a --db of its own",
            db.display()
        )));
    }
    let _ = file.set_len(0);
    let _ = file.rewind();
    let _ = write!(file, "{}", std::process::id());
    let _ = file.flush();
    Ok(Some(file))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_name_their_files() {
        assert_eq!(sqlite_path("sqlite://cohort.db"), Some("cohort.db".into()));
        assert_eq!(
            sqlite_path("sqlite:///var/lib/cohort/c.db?mode=rwc"),
            Some("/var/lib/cohort/c.db".into())
        );
        assert_eq!(sqlite_path("sqlite::memory:"), None);
        assert_eq!(sqlite_path("sqlite://x.db?mode=memory"), None);
        assert_eq!(sqlite_path("postgres://u@127.0.0.1/c"), None);
    }

    #[test]
    fn a_second_lock_on_one_file_is_refused_and_freed_with_the_first() {
        let dir = std::env::temp_dir().join(format!("cohort-lock-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let url = format!("sqlite://{}/a.db", dir.display());
        let first = lock_database(&url).unwrap().expect("a lock for a file");
        let err = lock_database(&url).unwrap_err().to_string();
        assert!(
            err.contains(&format!("process {}", std::process::id())),
            "{err}"
        );
        drop(first);
        assert!(lock_database(&url).unwrap().is_some());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
