//! Encryption of stored objects in the age format (age-encryption.org/v1), so that any copy can
//! also be opened with the standard `age`/`rage` tools.
//!
//! Every object is encrypted to the target's X25519 recipient. With a passphrase, the target keeps
//! its identity (the private key) wrapped by the passphrase (scrypt) in `identity.age`: backups need
//! only the public recipient, so a scheduled backup holds no secret, and only a restore or a check
//! asks for the passphrase. Without a passphrase the facility keeps the identity file offline.

use std::fs::File;
use std::io::{BufReader, Read, Write};
use std::path::Path;
use std::str::FromStr;

use age::secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};

use crate::error::{BackupError, Result};

pub use age::x25519::{Identity, Recipient};

const CHUNK: usize = 1 << 20;

/// Sizes and SHA-256 digests of an object before (plain) and after (stored) encryption.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Digests {
    pub size: u64,
    pub sha256: [u8; 32],
    pub stored_size: u64,
    pub stored_sha256: [u8; 32],
}

pub fn new_identity() -> Identity {
    Identity::generate()
}

pub fn parse_recipient(text: &str) -> Result<Recipient> {
    Recipient::from_str(text.trim()).map_err(|e| BackupError::Key(format!("not an age X25519 recipient (age1…): {e}")))
}

/// Reads an age identity file (`AGE-SECRET-KEY-1…`; `#` comments allowed).
pub fn parse_identity(text: &str) -> Result<Identity> {
    let line = text.lines().map(str::trim).find(|l| !l.is_empty() && !l.starts_with('#'));
    let line = line.ok_or_else(|| BackupError::Key("the identity file holds no key".into()))?;
    Identity::from_str(line).map_err(|_| BackupError::Key("not an age X25519 identity (AGE-SECRET-KEY-1…)".into()))
}

/// The identity as an age identity file, with its public key as a comment.
pub fn identity_file(identity: &Identity) -> String {
    format!("# kiroku backup identity\n# public key: {}\n{}\n", identity.to_public(), identity.to_string().expose_secret())
}

/// The identity wrapped by a passphrase (scrypt), as stored in a target's `identity.age`.
pub fn wrap_identity(identity: &Identity, passphrase: &str) -> Result<Vec<u8>> {
    let encryptor = age::Encryptor::with_user_passphrase(SecretString::from(passphrase.to_owned()));
    let mut out = Vec::new();
    let mut writer = encryptor.wrap_output(&mut out).map_err(|e| BackupError::Key(e.to_string()))?;
    writer.write_all(identity_file(identity).as_bytes()).map_err(|e| BackupError::Key(e.to_string()))?;
    writer.finish().map_err(|e| BackupError::Key(e.to_string()))?;
    Ok(out)
}

pub fn unwrap_identity(wrapped: &[u8], passphrase: &str) -> Result<Identity> {
    let decryptor = age::Decryptor::new(wrapped).map_err(|e| BackupError::Key(format!("identity.age is not an age file: {e}")))?;
    let scrypt = age::scrypt::Identity::new(SecretString::from(passphrase.to_owned()));
    let mut reader = decryptor
        .decrypt(std::iter::once(&scrypt as &dyn age::Identity))
        .map_err(|_| BackupError::Key("the passphrase does not open this target's key".into()))?;
    let mut text = String::new();
    reader.read_to_string(&mut text).map_err(|_| BackupError::Key("the passphrase does not open this target's key".into()))?;
    parse_identity(&text)
}

/// Passes everything written through to `inner`, hashing and counting it.
struct Hashing<W> {
    inner: W,
    hasher: Sha256,
    size: u64,
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.size += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// Encrypts `plain` to `recipient` into the new file `dest`, returning both digests. Durability is
/// the target's business ([`crate::target::Target::flush`] before the manifest): one flush of the
/// whole target costs far less than one fsync per file.
pub fn seal(plain: &mut dyn Read, dest: &Path, recipient: &Recipient) -> Result<Digests> {
    seal_to(plain, dest, recipient)
}

/// Encrypts with a passphrase (scrypt), for the copy of the keys.
pub fn seal_with_passphrase(plain: &mut dyn Read, dest: &Path, passphrase: &str) -> Result<Digests> {
    seal_to(plain, dest, &age::scrypt::Recipient::new(SecretString::from(passphrase.to_owned())))
}

fn seal_to(plain: &mut dyn Read, dest: &Path, recipient: &dyn age::Recipient) -> Result<Digests> {
    let file = File::create(dest).map_err(|e| BackupError::io(format!("cannot create {}", dest.display()), e))?;
    let stored = Hashing { inner: file, hasher: Sha256::new(), size: 0 };
    let encryptor = age::Encryptor::with_recipients(std::iter::once(recipient)).map_err(|e| BackupError::Key(e.to_string()))?;
    let mut writer = encryptor.wrap_output(stored).map_err(|e| BackupError::io(format!("cannot write {}", dest.display()), e))?;
    let mut hasher = Sha256::new();
    let mut size = 0u64;
    let mut buf = vec![0u8; CHUNK];
    loop {
        let n = plain.read(&mut buf).map_err(|e| BackupError::io("cannot read the data to back up", e))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        size += n as u64;
        writer.write_all(&buf[..n]).map_err(|e| BackupError::io(format!("cannot write {}", dest.display()), e))?;
    }
    let stored = writer.finish().map_err(|e| BackupError::io(format!("cannot write {}", dest.display()), e))?;
    Ok(Digests { size, sha256: hasher.finalize().into(), stored_size: stored.size, stored_sha256: stored.hasher.finalize().into() })
}

/// The size and SHA-256 of a stored object as it lies on the target (no key needed).
pub fn stored_digest(path: &Path) -> Result<(u64, [u8; 32])> {
    let mut file = File::open(path).map_err(|e| BackupError::io(format!("cannot read {}", path.display()), e))?;
    let mut hasher = Hashing { inner: std::io::sink(), hasher: Sha256::new(), size: 0 };
    std::io::copy(&mut file, &mut hasher).map_err(|e| BackupError::io(format!("cannot read {}", path.display()), e))?;
    Ok((hasher.size, hasher.hasher.finalize().into()))
}

/// Decrypts the stored object at `src` into `plain` (or only checks it when `None`), returning the
/// plaintext's size and SHA-256. A wrong key or a changed byte is an error: age authenticates every
/// 64 KiB chunk.
pub fn open(src: &Path, plain: Option<&mut dyn Write>, identity: &Identity) -> Result<(u64, [u8; 32])> {
    read_once(src, plain, identity)?.plain
}

/// The key of an object sealed with a passphrase (the copy of the keys).
pub fn passphrase_identity(passphrase: &str) -> age::scrypt::Identity {
    age::scrypt::Identity::new(SecretString::from(passphrase.to_owned()))
}

/// What one read of a stored object tells: its stored size and SHA-256 always, and what it
/// decrypted to (or why it did not).
pub struct ReadOnce {
    pub stored_size: u64,
    pub stored_sha256: [u8; 32],
    pub plain: Result<(u64, [u8; 32])>,
}

/// Hashes everything read through it.
struct HashingReader<R> {
    inner: R,
    hasher: Sha256,
    size: u64,
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.size += n as u64;
        Ok(n)
    }
}

/// Reads the stored object at `src` once: hashing it as stored while decrypting it into `plain`.
/// The error of the outer result is only for a file that cannot be read at all.
pub fn read_once(src: &Path, plain: Option<&mut dyn Write>, identity: &dyn age::Identity) -> Result<ReadOnce> {
    let file = File::open(src).map_err(|e| BackupError::io(format!("cannot read {}", src.display()), e))?;
    let mut stored = HashingReader { inner: file, hasher: Sha256::new(), size: 0 };
    let decrypted = decrypt(&mut stored, plain, identity, src);
    // The rest of a file that failed to decrypt still counts for its stored digest.
    std::io::copy(&mut stored, &mut std::io::sink()).map_err(|e| BackupError::io(format!("cannot read {}", src.display()), e))?;
    Ok(ReadOnce { stored_size: stored.size, stored_sha256: stored.hasher.finalize().into(), plain: decrypted })
}

fn decrypt(stored: &mut dyn Read, plain: Option<&mut dyn Write>, identity: &dyn age::Identity, src: &Path) -> Result<(u64, [u8; 32])> {
    let decryptor = age::Decryptor::new_buffered(BufReader::with_capacity(CHUNK, stored))
        .map_err(|e| BackupError::Crypto(format!("not an age file: {e}")))?;
    let mut reader = decryptor.decrypt(std::iter::once(identity)).map_err(|e| match e {
        age::DecryptError::NoMatchingKeys => BackupError::Crypto("the key does not open this backup (wrong key or passphrase)".into()),
        other => BackupError::Crypto(format!("cannot decrypt: {other}")),
    })?;
    let mut sink = std::io::sink();
    let out: &mut dyn Write = match plain {
        Some(w) => w,
        None => &mut sink,
    };
    let mut hashing = Hashing { inner: out, hasher: Sha256::new(), size: 0 };
    std::io::copy(&mut reader, &mut hashing).map_err(|e| match e.kind() {
        std::io::ErrorKind::InvalidData | std::io::ErrorKind::UnexpectedEof => {
            BackupError::Crypto("the encrypted data is damaged (authentication failed)".into())
        }
        _ => BackupError::io(format!("cannot decrypt {}", src.display()), e),
    })?;
    Ok((hashing.size, hashing.hasher.finalize().into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_open_round_trip_and_damage() {
        let dir = tempfile::tempdir().expect("tempdir");
        let id = new_identity();
        let data = vec![7u8; 200_000];
        let path = dir.path().join("x.age");
        let d = seal(&mut data.as_slice(), &path, &id.to_public()).expect("seal");
        assert_eq!(d.size, 200_000);
        assert_eq!(d.sha256, <[u8; 32]>::from(Sha256::digest(&data)));
        assert_eq!(stored_digest(&path).expect("digest"), (d.stored_size, d.stored_sha256));
        let mut out = Vec::new();
        assert_eq!(open(&path, Some(&mut out), &id).expect("open"), (d.size, d.sha256));
        assert_eq!(out, data);

        let other = new_identity();
        let err = open(&path, None, &other).expect_err("wrong key");
        assert!(err.to_string().contains("wrong key"), "{err}");

        let mut bytes = std::fs::read(&path).expect("read");
        let i = bytes.len() - 100;
        bytes[i] ^= 1;
        std::fs::write(&path, &bytes).expect("write");
        let err = open(&path, None, &id).expect_err("damaged");
        assert!(err.to_string().contains("damaged"), "{err}");
    }

    #[test]
    fn identity_wrapped_by_passphrase() {
        let id = new_identity();
        let wrapped = wrap_identity(&id, "correct horse battery staple").expect("wrap");
        let back = unwrap_identity(&wrapped, "correct horse battery staple").expect("unwrap");
        assert_eq!(back.to_public().to_string(), id.to_public().to_string());
        assert!(unwrap_identity(&wrapped, "wrong").is_err());
        assert!(parse_recipient("age1nope").is_err());
        assert!(parse_identity("# only a comment\n").is_err());
    }
}
