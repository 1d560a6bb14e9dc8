//! Uploaded files on disk, in the data directory (`--data-dir`), each under a random id: no
//! name a client sent is ever part of a path. A file is written to a temporary name, synced,
//! and renamed into place, so a crash leaves either the whole file or none.

use std::io;
use std::path::{Path, PathBuf};

use tokio::io::AsyncWriteExt;

/// The data directory's files.
#[derive(Debug, Clone)]
pub struct FileStore {
    dir: PathBuf,
}

/// Whether `id` is one this store made: 32 lowercase hex digits.
fn valid(id: &str) -> bool {
    id.len() == 32
        && id
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

impl FileStore {
    pub fn new(dir: impl Into<PathBuf>) -> FileStore {
        FileStore { dir: dir.into() }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Makes the directory if needed and checks that files can be written there.
    pub fn check(&self) -> io::Result<()> {
        std::fs::create_dir_all(&self.dir)?;
        // Named for this process: two servers may share a data directory.
        let probe = self.dir.join(format!(
            ".cohort-write-check-{}-{}",
            std::process::id(),
            uuid::Uuid::new_v4().simple()
        ));
        std::fs::write(&probe, b"ok")?;
        std::fs::remove_file(probe)
    }

    fn path(&self, id: &str) -> io::Result<PathBuf> {
        if !valid(id) {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "not a file id"));
        }
        Ok(self.dir.join(id))
    }

    /// Stores `bytes` under a new random id, durably; returns the id.
    pub async fn put(&self, bytes: &[u8]) -> io::Result<String> {
        tokio::fs::create_dir_all(&self.dir).await?;
        let id = uuid::Uuid::new_v4().simple().to_string();
        let path = self.path(&id)?;
        let tmp = self.dir.join(format!(".{id}.part"));
        let mut f = tokio::fs::File::create(&tmp).await?;
        let written = async {
            f.write_all(bytes).await?;
            f.sync_all().await
        }
        .await;
        if let Err(e) = written {
            let _ = tokio::fs::remove_file(&tmp).await;
            return Err(e);
        }
        tokio::fs::rename(&tmp, &path).await?;
        // The rename itself is on disk once the directory is synced.
        if let Ok(d) = tokio::fs::File::open(&self.dir).await {
            let _ = d.sync_all().await;
        }
        Ok(id)
    }

    /// Opens the file `id` for reading.
    pub async fn open(&self, id: &str) -> io::Result<tokio::fs::File> {
        tokio::fs::File::open(self.path(id)?).await
    }

    /// Opens the file `id` for reading, from a blocking thread.
    pub fn open_blocking(&self, id: &str) -> io::Result<std::fs::File> {
        std::fs::File::open(self.path(id)?)
    }

    /// A new scratch file (for an export being built), already unlinked: it is gone with its
    /// handle, and a crash leaves nothing behind.
    pub fn scratch(&self) -> io::Result<std::fs::File> {
        std::fs::create_dir_all(&self.dir)?;
        let path = self
            .dir
            .join(format!(".scratch-{}.part", uuid::Uuid::new_v4().simple()));
        let f = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)?;
        std::fs::remove_file(&path)?;
        Ok(f)
    }

    /// Removes the file `id`; one already gone is not an error.
    pub async fn remove(&self, id: &str) -> io::Result<()> {
        match tokio::fs::remove_file(self.path(id)?).await {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }

    /// Removes files no item holds (left by a crash between writing a file and storing its
    /// item, or by a failed delete) and unfinished uploads, if older than `min_age`.
    pub async fn sweep(&self, held: &[String], min_age: std::time::Duration) -> io::Result<u64> {
        let mut removed = 0;
        let Ok(mut entries) = tokio::fs::read_dir(&self.dir).await else {
            return Ok(0);
        };
        while let Some(e) = entries.next_entry().await? {
            let name = e.file_name().to_string_lossy().into_owned();
            let stray = (valid(&name) && !held.contains(&name))
                || (name.starts_with('.') && name.ends_with(".part"));
            let old = e
                .metadata()
                .await
                .ok()
                .and_then(|m| m.modified().ok())
                .and_then(|t| t.elapsed().ok())
                .is_some_and(|age| age >= min_age);
            if stray && old {
                tokio::fs::remove_file(e.path()).await?;
                removed += 1;
            }
        }
        Ok(removed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn files_go_in_whole_under_random_ids_and_strays_are_swept() {
        let dir =
            std::env::temp_dir().join(format!("cohort-files-{}", uuid::Uuid::new_v4().simple()));
        let store = FileStore::new(&dir);
        store.check().unwrap();
        let id = store.put(b"%PDF-1.7").await.unwrap();
        assert!(valid(&id));
        let mut read = Vec::new();
        tokio::io::AsyncReadExt::read_to_end(&mut store.open(&id).await.unwrap(), &mut read)
            .await
            .unwrap();
        assert_eq!(read, b"%PDF-1.7");
        assert!(store.open("../../etc/passwd").await.is_err());
        assert!(store.open(&id.to_uppercase()).await.is_err());
        let stray = store.put(b"orphan").await.unwrap();
        assert_eq!(
            store
                .sweep(std::slice::from_ref(&id), std::time::Duration::ZERO)
                .await
                .unwrap(),
            1
        );
        assert!(store.open(&stray).await.is_err());
        assert!(store.open(&id).await.is_ok());
        store.remove(&id).await.unwrap();
        store.remove(&id).await.unwrap();
        std::fs::remove_dir_all(dir).unwrap();
    }
}
