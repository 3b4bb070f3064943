//! Authentication building blocks: Argon2id password hashes, the password policy, session tokens,
//! TOTP second factors and recovery codes.
//! Decisions that need stored state (lockout, history, sessions) are made by the store's engine.

pub mod password;
pub mod policy;
pub mod token;
pub mod totp;

/// Compares two strings without stopping at the first difference.
pub fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

pub use policy::{Limits as PolicyLimits, PasswordPolicy, PolicyContext, PolicyViolation};
