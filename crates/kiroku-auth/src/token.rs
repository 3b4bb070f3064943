//! Session tokens: random bearer secrets of which only the SHA-256 is stored.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use sha2::{Digest, Sha256};

/// `n` random bytes from the operating system's generator (via the thread RNG, reseeded from it).
pub fn random_bytes(n: usize) -> Vec<u8> {
    let mut buf = vec![0u8; n];
    rand::rng().fill_bytes(&mut buf);
    buf
}

/// A random URL-safe token with `bytes` bytes of entropy.
pub fn random_token(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::rng().fill_bytes(&mut buf);
    URL_SAFE_NO_PAD.encode(buf)
}

/// A new bearer token and the hash to store for it.
pub fn new_session_token() -> (String, String) {
    let token = random_token(32);
    let hashed = hash_token(&token);
    (token, hashed)
}

/// The stored form of a token.
pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// A short public session id for audit events; unrelated to the secret token.
pub fn session_id() -> String {
    random_token(9)
}

/// A one-time password that satisfies the default policy: 20 characters with upper and lower case
/// letters, digits and symbols, without look-alike characters.
pub fn one_time_password() -> String {
    const LOWER: &[u8] = b"abcdefghijkmnpqrstuvwxyz";
    const UPPER: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ";
    const DIGIT: &[u8] = b"23456789";
    const SYMBOL: &[u8] = b"!#%+=?@";
    let mut rng = rand::rng();
    let mut pick = |set: &[u8]| set[(rng.next_u32() as usize) % set.len()] as char;
    let mut out: Vec<char> = Vec::with_capacity(20);
    for i in 0..20 {
        let set = match i % 5 {
            0 => UPPER,
            1 | 3 => LOWER,
            2 => DIGIT,
            _ => SYMBOL,
        };
        out.push(pick(set));
    }
    out.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_and_hashed() {
        let (a, ha) = new_session_token();
        let (b, _) = new_session_token();
        assert_ne!(a, b);
        assert_eq!(hash_token(&a), ha);
        assert_eq!(ha.len(), 64);
        assert!(a.len() >= 43);
    }
}
