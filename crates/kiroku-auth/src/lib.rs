//! Authentication building blocks: Argon2id password hashes, the password policy, and session tokens.
//! Decisions that need stored state (lockout, history, sessions) are made by the store's engine.

pub mod password;
pub mod policy;
pub mod token;

pub use policy::{Limits as PolicyLimits, PasswordPolicy, PolicyContext, PolicyViolation};
