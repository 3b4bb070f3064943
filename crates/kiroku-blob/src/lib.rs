//! Content-addressed blob store on the filesystem.
//!
//! A blob is named by the SHA-256 of its bytes and stored at `blobs/ab/cd/abcd…`. Writing goes to a
//! temporary file in the same directory tree, is fsynced, renamed into place and the directory fsynced,
//! so a blob is either absent or complete. An existing blob is never overwritten: the same bytes
//! already have the same name.

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    #[error("the file is larger than the limit of {limit} bytes")]
    TooLarge { limit: u64 },
    #[error("not a blob hash: {0}")]
    BadHash(String),
    #[error("blob store io error at {path}: {source}")]
    Io { path: PathBuf, source: io::Error },
}

fn io_at(path: &Path) -> impl FnOnce(io::Error) -> BlobError + '_ {
    move |source| BlobError::Io { path: path.to_path_buf(), source }
}

/// A stored blob: its hash and size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    pub hash: String,
    pub size: u64,
}

/// The result of re-hashing one blob.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fixity {
    Intact,
    Altered,
    Missing,
}

#[derive(Debug, Clone)]
pub struct BlobStore {
    root: PathBuf,
}

impl BlobStore {
    /// Opens the store under `root`, creating it if needed.
    pub fn open(root: impl Into<PathBuf>) -> Result<Self, BlobError> {
        let root = root.into();
        fs::create_dir_all(root.join("tmp")).map_err(io_at(&root))?;
        Ok(BlobStore { root })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where the blob with `hash` lives; refuses anything but 64 lowercase hex digits, so that a
    /// hash can never name a path outside the store.
    pub fn path_of(&self, hash: &str) -> Result<PathBuf, BlobError> {
        if hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
            return Err(BlobError::BadHash(hash.chars().take(80).collect()));
        }
        Ok(self.root.join(&hash[0..2]).join(&hash[2..4]).join(hash))
    }

    /// Stores the bytes read from `reader`, refusing more than `limit` bytes. Blocking: call from a
    /// blocking thread.
    pub fn put(&self, reader: &mut dyn Read, limit: u64) -> Result<Stored, BlobError> {
        let tmp_path = self.root.join("tmp").join(uuid::Uuid::new_v4().to_string());
        let result = self.write_tmp(reader, limit, &tmp_path).and_then(|stored| self.publish(&tmp_path, stored));
        if result.is_err() {
            let _ = fs::remove_file(&tmp_path);
        }
        result
    }

    /// Stores a byte slice.
    pub fn put_bytes(&self, bytes: &[u8], limit: u64) -> Result<Stored, BlobError> {
        self.put(&mut &bytes[..], limit)
    }

    fn write_tmp(&self, reader: &mut dyn Read, limit: u64, tmp_path: &Path) -> Result<Stored, BlobError> {
        let mut file = File::create(tmp_path).map_err(io_at(tmp_path))?;
        let mut hasher = Sha256::new();
        let mut size = 0u64;
        let mut buf = vec![0u8; 256 * 1024];
        loop {
            let n = reader.read(&mut buf).map_err(io_at(tmp_path))?;
            if n == 0 {
                break;
            }
            size += n as u64;
            if size > limit {
                return Err(BlobError::TooLarge { limit });
            }
            hasher.update(&buf[..n]);
            file.write_all(&buf[..n]).map_err(io_at(tmp_path))?;
        }
        file.sync_all().map_err(io_at(tmp_path))?;
        Ok(Stored { hash: hex::encode(hasher.finalize()), size })
    }

    fn publish(&self, tmp_path: &Path, stored: Stored) -> Result<Stored, BlobError> {
        let dest = self.path_of(&stored.hash)?;
        if dest.exists() {
            // Same name, same bytes: keep the one already there and never overwrite it.
            fs::remove_file(tmp_path).map_err(io_at(tmp_path))?;
            return Ok(stored);
        }
        let dir = dest.parent().unwrap_or(&self.root);
        fs::create_dir_all(dir).map_err(io_at(dir))?;
        fs::rename(tmp_path, &dest).map_err(io_at(&dest))?;
        File::open(dir).and_then(|d| d.sync_all()).map_err(io_at(dir))?;
        Ok(stored)
    }

    /// Opens a blob for reading.
    pub fn open_blob(&self, hash: &str) -> Result<File, BlobError> {
        let path = self.path_of(hash)?;
        File::open(&path).map_err(io_at(&path))
    }

    /// Reads a whole blob into memory.
    pub fn get(&self, hash: &str) -> Result<Vec<u8>, BlobError> {
        let path = self.path_of(hash)?;
        fs::read(&path).map_err(io_at(&path))
    }

    /// Checks that a file can be written, synced and removed here (the health monitor's probe).
    pub fn probe_writable(&self) -> Result<(), BlobError> {
        let path = self.root.join("tmp").join(format!(".probe-{}", std::process::id()));
        let written = File::create(&path).and_then(|mut f| f.write_all(b"kiroku").and_then(|()| f.sync_all()));
        let removed = fs::remove_file(&path);
        written.and(removed).map_err(io_at(&path))
    }

    /// Bytes and number of the blobs present.
    pub fn usage(&self) -> Result<(u64, u64), BlobError> {
        let hashes = self.list()?;
        let mut bytes = 0;
        for hash in &hashes {
            let path = self.path_of(hash)?;
            bytes += fs::metadata(&path).map_err(io_at(&path))?.len();
        }
        Ok((bytes, hashes.len() as u64))
    }

    /// The hashes of every blob present, found by walking the two levels of directories.
    pub fn list(&self) -> Result<Vec<String>, BlobError> {
        let mut out = Vec::new();
        let level = |dir: &Path| -> Result<Vec<PathBuf>, BlobError> {
            let mut dirs = Vec::new();
            for entry in fs::read_dir(dir).map_err(io_at(dir))? {
                let entry = entry.map_err(io_at(dir))?;
                let name = entry.file_name();
                if name.len() == 2 && entry.path().is_dir() && name.to_str().is_some_and(|n| n.bytes().all(|b| b.is_ascii_hexdigit())) {
                    dirs.push(entry.path());
                }
            }
            Ok(dirs)
        };
        for first in level(&self.root)? {
            for second in level(&first)? {
                for entry in fs::read_dir(&second).map_err(io_at(&second))? {
                    let name = entry.map_err(io_at(&second))?.file_name();
                    if let Some(hash) = name.to_str().filter(|n| self.path_of(n).is_ok()) {
                        out.push(hash.to_string());
                    }
                }
            }
        }
        out.sort();
        Ok(out)
    }

    /// Re-hashes a blob and compares with its name.
    pub fn check(&self, hash: &str) -> Fixity {
        let Ok(path) = self.path_of(hash) else { return Fixity::Missing };
        let Ok(mut file) = File::open(&path) else { return Fixity::Missing };
        let mut hasher = Sha256::new();
        if io::copy(&mut file, &mut HashWriter(&mut hasher)).is_err() {
            return Fixity::Altered;
        }
        if hex::encode(hasher.finalize()) == hash { Fixity::Intact } else { Fixity::Altered }
    }
}

struct HashWriter<'a>(&'a mut Sha256);

impl Write for HashWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.update(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn put_get_and_check() {
        let dir = tempfile::tempdir().expect("tmp");
        let store = BlobStore::open(dir.path()).expect("open");
        let stored = store.put_bytes(b"abc", 10).expect("put");
        assert_eq!(stored.hash, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        assert_eq!(store.get(&stored.hash).expect("get"), b"abc");
        assert_eq!(store.check(&stored.hash), Fixity::Intact);
        assert_eq!(store.list().expect("list"), vec![stored.hash.clone()]);
        // Same bytes again: same name, nothing overwritten.
        assert_eq!(store.put_bytes(b"abc", 10).expect("put").hash, stored.hash);
        fs::write(store.path_of(&stored.hash).expect("path"), b"abd").expect("tamper");
        assert_eq!(store.check(&stored.hash), Fixity::Altered);
        fs::remove_file(store.path_of(&stored.hash).expect("path")).expect("rm");
        assert_eq!(store.check(&stored.hash), Fixity::Missing);
    }

    #[test]
    fn limits_and_bad_names_are_refused_without_leftovers() {
        let dir = tempfile::tempdir().expect("tmp");
        let store = BlobStore::open(dir.path()).expect("open");
        assert!(matches!(store.put_bytes(&[0u8; 11], 10), Err(BlobError::TooLarge { limit: 10 })));
        assert_eq!(fs::read_dir(dir.path().join("tmp")).expect("tmp dir").count(), 0, "no temp file left behind");
        for bad in ["../../etc/passwd", "ABC", &"g".repeat(64), &"A".repeat(64)] {
            assert!(store.path_of(bad).is_err(), "{bad}");
        }
    }
}
