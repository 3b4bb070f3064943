//! Time-based one-time passwords (RFC 6238, HOTP of RFC 4226 over 30-second steps), the second
//! factor of the "something you have" kind that authenticator apps provide, and the single-use
//! recovery codes that stand in for a lost device.
//!
//! Verification answers the time step that matched, so that the store can refuse a step it has
//! already accepted (a replayed code) inside the login's transaction.

use hmac::{Hmac, KeyInit, Mac};
use rand::RngCore;

/// The hash of the HMAC. Authenticator apps assume SHA-1; the others are for the RFC's vectors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    Sha1,
    Sha256,
    Sha512,
}

/// A TOTP generator: secret, digits and step length.
#[derive(Clone)]
pub struct Totp {
    secret: Vec<u8>,
    pub digits: u32,
    pub step_seconds: u64,
    pub algorithm: Algorithm,
}

impl std::fmt::Debug for Totp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Totp").field("digits", &self.digits).field("step_seconds", &self.step_seconds).finish_non_exhaustive()
    }
}

/// Steps before and after the current one that are still accepted, for clocks a little apart.
pub const SKEW_STEPS: u64 = 1;

impl Totp {
    /// The form every authenticator app understands: SHA-1, 6 digits, 30 seconds.
    pub fn standard(secret: Vec<u8>) -> Totp {
        Totp { secret, digits: 6, step_seconds: 30, algorithm: Algorithm::Sha1 }
    }

    /// A standard generator from a stored base32 secret.
    pub fn from_base32(secret: &str) -> Option<Totp> {
        base32_decode(secret).filter(|s| s.len() >= 10).map(Totp::standard)
    }

    /// A new random 160-bit secret (RFC 4226 recommends 160 bits).
    pub fn generate() -> Totp {
        let mut secret = vec![0u8; 20];
        rand::rng().fill_bytes(&mut secret);
        Totp::standard(secret)
    }

    pub fn secret_base32(&self) -> String {
        base32_encode(&self.secret)
    }

    /// The time step a Unix time falls in.
    pub fn step_of(&self, unix_seconds: u64) -> u64 {
        unix_seconds / self.step_seconds
    }

    /// The code of one time step (RFC 4226 dynamic truncation).
    pub fn code_at_step(&self, step: u64) -> String {
        let msg = step.to_be_bytes();
        let mac = match self.algorithm {
            Algorithm::Sha1 => hmac_of::<sha1::Sha1>(&self.secret, &msg),
            Algorithm::Sha256 => hmac_of::<sha2::Sha256>(&self.secret, &msg),
            Algorithm::Sha512 => hmac_of::<sha2::Sha512>(&self.secret, &msg),
        };
        let offset = (mac[mac.len() - 1] & 0x0f) as usize;
        let bin = u32::from_be_bytes([mac[offset] & 0x7f, mac[offset + 1], mac[offset + 2], mac[offset + 3]]);
        let modulus = 10u32.pow(self.digits);
        format!("{:0width$}", bin % modulus, width = self.digits as usize)
    }

    /// The code at a Unix time.
    pub fn code_at(&self, unix_seconds: u64) -> String {
        self.code_at_step(self.step_of(unix_seconds))
    }

    /// The step whose code `code` is, among the current step and its neighbours; `None` when it
    /// matches none. Whether the step was used before is the caller's question.
    pub fn verify(&self, code: &str, unix_seconds: u64) -> Option<u64> {
        let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
        if code.len() != self.digits as usize || !code.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let now = self.step_of(unix_seconds);
        (now.saturating_sub(SKEW_STEPS)..=now + SKEW_STEPS).find(|step| crate::same(&self.code_at_step(*step), &code))
    }

    /// The `otpauth://` URI an authenticator app reads from the QR code.
    pub fn otpauth_uri(&self, issuer: &str, account: &str) -> String {
        let enc = |s: &str| {
            s.bytes()
                .map(|b| if b.is_ascii_alphanumeric() || b"-._~".contains(&b) { (b as char).to_string() } else { format!("%{b:02X}") })
                .collect::<String>()
        };
        format!(
            "otpauth://totp/{}:{}?secret={}&issuer={}&algorithm=SHA1&digits={}&period={}",
            enc(issuer),
            enc(account),
            self.secret_base32(),
            enc(issuer),
            self.digits,
            self.step_seconds
        )
    }
}

fn hmac_of<D: hmac::EagerHash>(key: &[u8], msg: &[u8]) -> Vec<u8>
where
    Hmac<D>: KeyInit + Mac,
{
    // HMAC takes keys of any length, so this cannot fail.
    let mut mac = <Hmac<D> as KeyInit>::new_from_slice(key).unwrap_or_else(|_| unreachable!("hmac accepts any key length"));
    mac.update(msg);
    mac.finalize().into_bytes().to_vec()
}

const BASE32: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// RFC 4648 base32 without padding, as authenticator apps expect secrets.
pub fn base32_encode(data: &[u8]) -> String {
    let mut out = String::with_capacity(data.len().div_ceil(5) * 8);
    for chunk in data.chunks(5) {
        let mut buf = [0u8; 5];
        buf[..chunk.len()].copy_from_slice(chunk);
        let n = u64::from_be_bytes([0, 0, 0, buf[0], buf[1], buf[2], buf[3], buf[4]]);
        let chars = (chunk.len() * 8).div_ceil(5);
        for i in 0..chars {
            out.push(BASE32[((n >> (35 - i * 5)) & 31) as usize] as char);
        }
    }
    out
}

/// Decodes base32, ignoring case, spaces and padding; `None` on any other character.
pub fn base32_decode(text: &str) -> Option<Vec<u8>> {
    let mut bits = 0u64;
    let mut count = 0u32;
    let mut out = Vec::new();
    for c in text.chars().filter(|c| !c.is_whitespace() && *c != '=') {
        let v = BASE32.iter().position(|b| *b as char == c.to_ascii_uppercase())? as u64;
        bits = (bits << 5) | v;
        count += 5;
        if count >= 8 {
            count -= 8;
            out.push((bits >> count) as u8);
            bits &= (1 << count) - 1;
        }
    }
    Some(out)
}

/// How many recovery codes an enrolment hands out.
pub const RECOVERY_CODES: usize = 10;

/// New single-use recovery codes (`xxxx-xxxx-xxxx`, 60 random bits each) and their stored hashes.
/// The codes are random enough that a plain SHA-256 cannot be reversed by guessing.
pub fn recovery_codes() -> Vec<(String, String)> {
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";
    let mut rng = rand::rng();
    (0..RECOVERY_CODES)
        .map(|_| {
            let raw: String = (0..12).map(|_| ALPHABET[(rng.next_u32() as usize) % ALPHABET.len()] as char).collect();
            let code = format!("{}-{}-{}", &raw[0..4], &raw[4..8], &raw[8..12]);
            let hash = recovery_hash(&code);
            (code, hash)
        })
        .collect()
}

/// The stored form of a recovery code as typed: case, spaces and hyphens do not matter.
pub fn recovery_hash(typed: &str) -> String {
    let normal: String = typed.chars().filter(|c| c.is_ascii_alphanumeric()).map(|c| c.to_ascii_lowercase()).collect();
    crate::token::hash_token(&format!("recovery:{normal}"))
}

/// Whether what was typed looks like a recovery code rather than a TOTP code.
pub fn looks_like_recovery_code(typed: &str) -> bool {
    typed.chars().filter(|c| c.is_ascii_alphanumeric()).count() == 12
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 Appendix B: the seeds are the ASCII digits "1234567890" repeated to the hash's size.
    fn rfc(algorithm: Algorithm) -> Totp {
        let seed: &[u8] = match algorithm {
            Algorithm::Sha1 => b"12345678901234567890",
            Algorithm::Sha256 => b"12345678901234567890123456789012",
            Algorithm::Sha512 => b"1234567890123456789012345678901234567890123456789012345678901234",
        };
        Totp { secret: seed.to_vec(), digits: 8, step_seconds: 30, algorithm }
    }

    #[test]
    fn rfc_6238_test_vectors() {
        let vectors: [(u64, &str, &str, &str); 6] = [
            (59, "94287082", "46119246", "90693936"),
            (1111111109, "07081804", "68084774", "25091201"),
            (1111111111, "14050471", "67062674", "99943326"),
            (1234567890, "89005924", "91819424", "93441116"),
            (2000000000, "69279037", "90698825", "38618901"),
            (20000000000, "65353130", "77737706", "47863826"),
        ];
        for (t, sha1, sha256, sha512) in vectors {
            assert_eq!(rfc(Algorithm::Sha1).code_at(t), sha1, "SHA1 at {t}");
            assert_eq!(rfc(Algorithm::Sha256).code_at(t), sha256, "SHA256 at {t}");
            assert_eq!(rfc(Algorithm::Sha512).code_at(t), sha512, "SHA512 at {t}");
        }
    }

    #[test]
    fn verify_accepts_neighbouring_steps_and_answers_the_step() {
        let t = rfc(Algorithm::Sha1);
        assert_eq!(t.verify("07081804", 1111111109), Some(37037036));
        assert_eq!(t.verify("0708 1804", 1111111109 + 30), Some(37037036), "one step late");
        assert_eq!(t.verify("07081804", 1111111109 + 90), None, "three steps late");
        assert_eq!(t.verify("0708180x", 1111111109), None);
        assert_eq!(t.verify("", 1111111109), None);
    }

    #[test]
    fn base32_round_trips_and_matches_rfc_4648() {
        assert_eq!(base32_encode(b"foobar"), "MZXW6YTBOI");
        assert_eq!(base32_decode("MZXW6YTBOI======"), Some(b"foobar".to_vec()));
        assert_eq!(base32_decode("mzxw 6ytb oi"), Some(b"foobar".to_vec()));
        assert_eq!(base32_decode("MZ1"), None);
        let t = Totp::generate();
        assert_eq!(Totp::from_base32(&t.secret_base32()).map(|u| u.code_at(1_700_000_000)), Some(t.code_at(1_700_000_000)));
        assert!(t.otpauth_uri("kiroku 病院", "dr.sato").starts_with("otpauth://totp/kiroku%20%E7%97%85%E9%99%A2:dr.sato?secret="));
    }

    #[test]
    fn recovery_codes_are_distinct_and_hash_as_typed() {
        let codes = recovery_codes();
        assert_eq!(codes.len(), RECOVERY_CODES);
        let (code, hash) = &codes[0];
        assert!(looks_like_recovery_code(code));
        assert_eq!(&recovery_hash(&code.to_uppercase().replace('-', " ")), hash);
        assert!(!looks_like_recovery_code("123456"));
    }
}
