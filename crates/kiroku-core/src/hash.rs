//! Content hashes: SHA-256 over RFC 8785 canonical JSON for structured content, over raw bytes for files.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fmt;

/// A SHA-256 digest, written as 64 lowercase hex digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ContentHash([u8; 32]);

impl ContentHash {
    pub fn of_bytes(bytes: &[u8]) -> Self {
        ContentHash(Sha256::digest(bytes).into())
    }

    /// Hashes the RFC 8785 canonical form, so that the same content always has the same hash whatever
    /// the key order or number formatting it arrived with.
    pub fn of_json<T: Serialize>(value: &T) -> Self {
        Self::of_bytes(canonical_json(value).as_bytes())
    }

    pub fn from_digest(digest: [u8; 32]) -> Self {
        ContentHash(digest)
    }

    pub fn to_hex(self) -> String {
        hex::encode(self.0)
    }

    pub fn parse_hex(s: &str) -> Option<Self> {
        let mut out = [0u8; 32];
        hex::decode_to_slice(s, &mut out).ok()?;
        Some(ContentHash(out))
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

/// RFC 8785 canonical JSON. Serializing our own types cannot fail; should it ever, the empty string
/// makes every later verification fail loudly instead of passing silently.
pub fn canonical_json<T: Serialize>(value: &T) -> String {
    serde_json_canonicalizer::to_string(value).unwrap_or_default()
}

impl fmt::Display for ContentHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl TryFrom<String> for ContentHash {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        ContentHash::parse_hex(&s).ok_or_else(|| "expected 64 hex digits".to_string())
    }
}

impl From<ContentHash> for String {
    fn from(h: ContentHash) -> String {
        h.to_hex()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn key_order_and_number_spelling_do_not_change_the_hash() {
        let a: serde_json::Value = serde_json::from_str(r#"{"b":1.0,"a":"経過"}"#).expect("json");
        let b: serde_json::Value = serde_json::from_str(r#"{"a":"経過","b":1}"#).expect("json");
        assert_eq!(ContentHash::of_json(&a), ContentHash::of_json(&b));
        assert_eq!(canonical_json(&a), r#"{"a":"経過","b":1}"#);
    }

    #[test]
    fn known_sha256_vector() {
        assert_eq!(ContentHash::of_bytes(b"abc").to_hex(), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        assert_ne!(ContentHash::of_json(&json!("a")), ContentHash::of_json(&json!("b")));
    }
}
