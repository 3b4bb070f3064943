//! Signed checkpoints in the C2SP `tlog-checkpoint` / signed-note form:
//!
//! ```text
//! <origin>
//! <tree size>
//! <base64 root hash>
//! [extension lines, e.g. "time 2026-11-25T09:00:00Z"]
//!
//! — <key name> <base64(key id ‖ Ed25519 signature)>
//! ```
//!
//! The key id is the first four bytes of SHA-256(key name ‖ "\n" ‖ 0x01 ‖ public key), as in Go's
//! `golang.org/x/mod/sumdb/note`, so standard witness tooling can check kiroku's checkpoints.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use sha2::{Digest, Sha256};

use crate::tree::Hash;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckpointError {
    #[error("malformed checkpoint: {0}")]
    Malformed(&'static str),
    #[error("no signature by the key {0}")]
    NoSignature(String),
    #[error("the signature does not verify")]
    BadSignature,
    #[error("malformed key: {0}")]
    BadKey(&'static str),
}

/// A tree head with its time, before or after signing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    pub origin: String,
    pub size: u64,
    pub root: Hash,
    /// Signed lines after the root (C2SP extension lines); kiroku puts the signing time here.
    pub extensions: Vec<String>,
}

impl Checkpoint {
    /// The signed body of the note (ends with a newline).
    pub fn body(&self) -> String {
        let mut body = format!("{}\n{}\n{}\n", self.origin, self.size, STANDARD.encode(self.root));
        for line in &self.extensions {
            body.push_str(line);
            body.push('\n');
        }
        body
    }

    fn parse_body(body: &str) -> Result<Checkpoint, CheckpointError> {
        let mut lines = body.split('\n');
        let origin = lines.next().filter(|l| !l.is_empty()).ok_or(CheckpointError::Malformed("origin"))?.to_string();
        let size = lines.next().and_then(|l| l.parse().ok()).ok_or(CheckpointError::Malformed("size"))?;
        let root_b64 = lines.next().ok_or(CheckpointError::Malformed("root"))?;
        let root: Hash = STANDARD.decode(root_b64).ok().and_then(|v| v.try_into().ok()).ok_or(CheckpointError::Malformed("root"))?;
        let extensions = lines.filter(|l| !l.is_empty()).map(str::to_string).collect();
        Ok(Checkpoint { origin, size, root, extensions })
    }
}

fn key_id(name: &str, public: &VerifyingKey) -> [u8; 4] {
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update(b"\n\x01");
    h.update(public.as_bytes());
    let d = h.finalize();
    [d[0], d[1], d[2], d[3]]
}

/// The log's signing key.
pub struct LogKey {
    name: String,
    key: SigningKey,
}

impl LogKey {
    pub fn from_seed(name: &str, seed: [u8; 32]) -> LogKey {
        LogKey { name: name.to_string(), key: SigningKey::from_bytes(&seed) }
    }

    /// The log's name in its checkpoints.
    pub fn origin(&self) -> &str {
        &self.name
    }

    pub fn verifier(&self) -> LogVerifier {
        LogVerifier { name: self.name.clone(), key: self.key.verifying_key() }
    }

    /// The signed note for `checkpoint`.
    pub fn sign(&self, checkpoint: &Checkpoint) -> String {
        self.sign_note(&checkpoint.body())
    }

    /// A signed note (C2SP signed-note) over any `body` ending in a newline. Other kinds of note
    /// (a backup's manifest digest) must not parse as a checkpoint: their second line is not a number.
    pub fn sign_note(&self, body: &str) -> String {
        let sig = self.key.sign(body.as_bytes());
        let mut blob = key_id(&self.name, &self.key.verifying_key()).to_vec();
        blob.extend_from_slice(&sig.to_bytes());
        format!("{body}\n\u{2014} {} {}\n", self.name, STANDARD.encode(blob))
    }
}

/// A public key that checks checkpoints, written `name+keyid+base64(0x01 ‖ key)` like a Go note
/// verifier key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogVerifier {
    name: String,
    key: VerifyingKey,
}

impl LogVerifier {
    pub fn encode(&self) -> String {
        let mut blob = vec![1u8];
        blob.extend_from_slice(self.key.as_bytes());
        format!("{}+{}+{}", self.name, hex::encode(key_id(&self.name, &self.key)), STANDARD.encode(blob))
    }

    pub fn parse(text: &str) -> Result<LogVerifier, CheckpointError> {
        let mut parts = text.trim().splitn(3, '+');
        let name = parts.next().filter(|n| !n.is_empty()).ok_or(CheckpointError::BadKey("name"))?;
        let id = parts.next().and_then(|h| hex::decode(h).ok()).ok_or(CheckpointError::BadKey("key id"))?;
        let blob = parts.next().and_then(|b| STANDARD.decode(b).ok()).ok_or(CheckpointError::BadKey("key"))?;
        let (alg, key) = blob.split_first().ok_or(CheckpointError::BadKey("key"))?;
        if *alg != 1 {
            return Err(CheckpointError::BadKey("only Ed25519 keys are supported"));
        }
        let key: [u8; 32] = key.try_into().map_err(|_| CheckpointError::BadKey("key length"))?;
        let key = VerifyingKey::from_bytes(&key).map_err(|_| CheckpointError::BadKey("not an Ed25519 point"))?;
        let v = LogVerifier { name: name.to_string(), key };
        if id != key_id(name, &key) {
            return Err(CheckpointError::BadKey("key id does not match"));
        }
        Ok(v)
    }

    /// Checks a signed note and returns its checkpoint.
    pub fn verify(&self, note: &str) -> Result<Checkpoint, CheckpointError> {
        let body = note.split_once("\n\n").ok_or(CheckpointError::Malformed("no signature block"))?.0;
        let checkpoint = Checkpoint::parse_body(&format!("{body}\n"))?;
        self.open_note(note).map(|_| checkpoint)
    }

    /// Checks a signed note of any kind and returns its body (ending in a newline).
    pub fn open_note(&self, note: &str) -> Result<String, CheckpointError> {
        let (body, sigs) = note.split_once("\n\n").ok_or(CheckpointError::Malformed("no signature block"))?;
        let body = format!("{body}\n");
        let want = key_id(&self.name, &self.key);
        for line in sigs.lines() {
            let Some(rest) = line.strip_prefix("\u{2014} ") else { continue };
            let Some((name, b64)) = rest.split_once(' ') else { continue };
            if name != self.name {
                continue;
            }
            let blob = STANDARD.decode(b64).map_err(|_| CheckpointError::Malformed("signature encoding"))?;
            if blob.len() != 68 || blob[..4] != want {
                continue;
            }
            let sig = Signature::from_slice(&blob[4..]).map_err(|_| CheckpointError::BadSignature)?;
            return self.key.verify(body.as_bytes(), &sig).map(|()| body).map_err(|_| CheckpointError::BadSignature);
        }
        Err(CheckpointError::NoSignature(self.name.clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_verify_and_tamper() {
        let key = LogKey::from_seed("kiroku.example/log", [7u8; 32]);
        let cp = Checkpoint {
            origin: "kiroku.example/log".into(),
            size: 42,
            root: [9u8; 32],
            extensions: vec!["time 2026-11-25T00:00:00Z".into()],
        };
        let note = key.sign(&cp);
        let verifier = LogVerifier::parse(&key.verifier().encode()).expect("key round trip");
        assert_eq!(verifier.verify(&note), Ok(cp));
        let tampered = note.replace("\n42\n", "\n43\n");
        assert_eq!(verifier.verify(&tampered), Err(CheckpointError::BadSignature));
        let retimed = note.replace("time 2026-11-25", "time 2026-11-26");
        assert_eq!(verifier.verify(&retimed), Err(CheckpointError::BadSignature), "the time is signed too");
        let other = LogKey::from_seed("kiroku.example/log", [8u8; 32]).verifier();
        assert!(other.verify(&note).is_err(), "another key's verifier refuses it");
        assert!(LogVerifier::parse("x+00000000+AQ==").is_err());
    }
}
