//! The crate's one integration-test binary.

mod catalogue;
mod oscal;
mod regulation;
