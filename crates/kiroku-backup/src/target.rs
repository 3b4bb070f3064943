//! Where backups go. A target stores objects under `/`-separated keys; objects are written once
//! and never changed (a generation that failed half-way is recognised by its missing manifest).
//! [`DirTarget`] is a folder (a local disk, a removable disk, a mounted share); `s3` adds
//! S3-compatible object storage with Object Lock.

use std::path::{Path, PathBuf};

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::error::{BackupError, Result};

/// What happened to an object that was to be deleted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Deleted {
    Yes,
    /// The target refused: the object is write-once until its retention ends.
    Locked(String),
}

#[async_trait]
pub trait Target: Send + Sync {
    /// Where the target is, for reports and the location register; never credentials.
    fn location(&self) -> String;
    /// A fresh folder where objects are prepared before [`Target::put`]; for a folder target it is on
    /// the same filesystem, so that putting is a rename.
    fn staging(&self) -> Result<tempfile::TempDir>;
    /// Stores the finished local file `file` under `key`, write-once until `retain_until` where the
    /// target supports it. The file is consumed.
    async fn put(&self, key: &str, file: &Path, retain_until: Option<OffsetDateTime>) -> Result<()>;
    /// A local path holding the object `key`: the object itself for a folder, a download into
    /// `scratch` otherwise. `None` when there is no such object.
    async fn local_copy(&self, key: &str, scratch: &Path) -> Result<Option<PathBuf>>;
    async fn exists(&self, key: &str) -> Result<bool>;
    /// Every key that starts with `prefix`.
    async fn list(&self, prefix: &str) -> Result<Vec<String>>;
    async fn delete(&self, key: &str) -> Result<Deleted>;
    /// Keeps an object write-once at least until `until`, where the target enforces retention.
    async fn extend_retention(&self, _key: &str, _until: OffsetDateTime) -> Result<()> {
        Ok(())
    }
    /// Makes everything put so far durable. Object stores acknowledge a PUT only once it is stored.
    async fn flush(&self) -> Result<()> {
        Ok(())
    }

    /// Stores small bytes (manifests, descriptors).
    async fn put_bytes(&self, key: &str, bytes: &[u8], retain_until: Option<OffsetDateTime>) -> Result<()> {
        let staging = self.staging()?;
        let path = staging.path().join("object");
        write_synced(&path, bytes)?;
        self.put(key, &path, retain_until).await
    }

    /// Reads a small object whole.
    async fn get_bytes(&self, key: &str) -> Result<Option<Vec<u8>>> {
        let scratch = tempfile::tempdir().map_err(|e| BackupError::io("cannot create a temporary folder", e))?;
        match self.local_copy(key, scratch.path()).await? {
            Some(path) => std::fs::read(&path).map(Some).map_err(|e| BackupError::io(format!("cannot read {key}"), e)),
            None => Ok(None),
        }
    }
}

/// Refuses keys that could leave the target (`..`, absolute paths, empty parts).
pub fn check_key(key: &str) -> Result<()> {
    let ok = !key.is_empty()
        && key.split('/').all(|p| !p.is_empty() && p != "." && p != ".." && !p.contains('\\'))
        && key.bytes().all(|b| b.is_ascii_graphic());
    if ok { Ok(()) } else { Err(BackupError::Format(format!("invalid object name {key:?}"))) }
}

pub fn write_synced(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    let mut f = std::fs::File::create(path).map_err(|e| BackupError::io(format!("cannot create {}", path.display()), e))?;
    f.write_all(bytes).and_then(|()| f.sync_all()).map_err(|e| BackupError::io(format!("cannot write {}", path.display()), e))
}

/// A folder target. Objects are files below the folder, made read-only once written.
pub struct DirTarget {
    root: PathBuf,
}

impl DirTarget {
    /// Opens (creating if needed) the folder `root`.
    pub fn open(root: impl Into<PathBuf>) -> Result<DirTarget> {
        let root = root.into();
        std::fs::create_dir_all(&root).map_err(|e| BackupError::io(format!("cannot create the backup folder {}", root.display()), e))?;
        Ok(DirTarget { root })
    }

    fn path(&self, key: &str) -> Result<PathBuf> {
        check_key(key)?;
        Ok(self.root.join(key))
    }
}

/// Flushes the whole filesystem holding `path` (`sync -f`, syncfs(2)): every file and folder entry
/// written there so far becomes durable at once.
pub fn sync_filesystem(path: &Path) -> Result<()> {
    let status = std::process::Command::new("sync").arg("-f").arg(path).status();
    match status {
        Ok(s) if s.success() => Ok(()),
        _ => Err(BackupError::Target(format!("cannot flush {} to disk (`sync -f` failed)", path.display()))),
    }
}

#[async_trait]
impl Target for DirTarget {
    fn location(&self) -> String {
        self.root.display().to_string()
    }

    fn staging(&self) -> Result<tempfile::TempDir> {
        tempfile::Builder::new()
            .prefix(".staging-")
            .tempdir_in(&self.root)
            .map_err(|e| BackupError::io(format!("cannot write in {}", self.root.display()), e))
    }

    async fn put(&self, key: &str, file: &Path, _retain_until: Option<OffsetDateTime>) -> Result<()> {
        let dest = self.path(key)?;
        let parent = dest.parent().ok_or_else(|| BackupError::Format(format!("invalid object name {key:?}")))?;
        std::fs::create_dir_all(parent).map_err(|e| BackupError::io(format!("cannot create {}", parent.display()), e))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(file, std::fs::Permissions::from_mode(0o400))
                .map_err(|e| BackupError::io(format!("cannot protect {}", file.display()), e))?;
        }
        if dest.exists() {
            // Write-once: an existing object is part of some generation's manifest.
            return Err(BackupError::Target(format!("{key} already exists on the target; objects are never overwritten")));
        }
        if std::fs::rename(file, &dest).is_err() {
            // Another filesystem (the staging folder was elsewhere).
            std::fs::copy(file, &dest).map_err(|e| BackupError::io(format!("cannot write {}", dest.display()), e))?;
        }
        Ok(())
    }

    async fn flush(&self) -> Result<()> {
        sync_filesystem(&self.root)
    }

    async fn local_copy(&self, key: &str, _scratch: &Path) -> Result<Option<PathBuf>> {
        let path = self.path(key)?;
        Ok(path.is_file().then_some(path))
    }

    async fn exists(&self, key: &str) -> Result<bool> {
        Ok(self.path(key)?.is_file())
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>> {
        let mut keys = Vec::new();
        let mut stack = vec![self.root.clone()];
        while let Some(dir) = stack.pop() {
            let entries = std::fs::read_dir(&dir).map_err(|e| BackupError::io(format!("cannot list {}", dir.display()), e))?;
            for entry in entries {
                let entry = entry.map_err(|e| BackupError::io(format!("cannot list {}", dir.display()), e))?;
                let path = entry.path();
                let name = entry.file_name();
                if name.to_string_lossy().starts_with(".staging-") {
                    continue;
                }
                if path.is_dir() {
                    stack.push(path);
                } else if let Ok(rel) = path.strip_prefix(&self.root) {
                    let key = rel.to_string_lossy().replace(std::path::MAIN_SEPARATOR, "/");
                    if key.starts_with(prefix) {
                        keys.push(key);
                    }
                }
            }
        }
        keys.sort();
        Ok(keys)
    }

    async fn delete(&self, key: &str) -> Result<Deleted> {
        let path = self.path(key)?;
        match std::fs::remove_file(&path) {
            Ok(()) => {
                // Leave no empty folders behind; a folder that still holds files stays.
                let mut dir = path.parent();
                while let Some(d) = dir.filter(|d| *d != self.root) {
                    if std::fs::remove_dir(d).is_err() {
                        break;
                    }
                    dir = d.parent();
                }
                Ok(Deleted::Yes)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Deleted::Yes),
            Err(e) => Err(BackupError::io(format!("cannot delete {}", path.display()), e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_stay_inside() {
        for bad in ["", "../x", "a/../b", "/abs", "a//b", "a\\b", "a b"] {
            assert!(check_key(bad).is_err(), "{bad}");
        }
        assert!(check_key("generations/20261125T000000Z/manifest.json").is_ok());
    }

    #[tokio::test]
    async fn folder_target_round_trip() {
        let dir = tempfile::tempdir().expect("tempdir");
        let t = DirTarget::open(dir.path().join("t")).expect("open");
        t.put_bytes("a/b.txt", b"hello", None).await.expect("put");
        assert_eq!(t.get_bytes("a/b.txt").await.expect("get"), Some(b"hello".to_vec()));
        assert_eq!(t.list("a/").await.expect("list"), vec!["a/b.txt".to_string()]);
        assert_eq!(t.delete("a/b.txt").await.expect("delete"), Deleted::Yes);
        assert_eq!(t.get_bytes("a/b.txt").await.expect("get"), None);
    }
}
