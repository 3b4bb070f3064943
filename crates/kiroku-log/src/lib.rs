//! The append-only Merkle log (RFC 9162, section 2.1): every record of kiroku's history (audit
//! events, document versions, attestations, attachments) is a leaf. From the leaves follow the tree
//! head at any size, inclusion proofs ("this record is in the log") and consistency proofs ("this log
//! only grew"); checkpoints sign a tree head so that a rewrite of history is detectable by anyone
//! holding an earlier checkpoint.
//!
//! Nodes are addressed as (level, index): the node covering leaves `[index << level, (index + 1) << level)`.
//! Only perfect subtrees are stored; every hash the RFC needs decomposes into them.

pub mod checkpoint;
mod proof;
mod tree;

pub use checkpoint::{Checkpoint, CheckpointError, LogKey, LogVerifier};
pub use proof::{ProofError, consistency_proof, inclusion_proof, verify_consistency, verify_inclusion};
pub use tree::{Frontier, Hash, leaf_hash, node_hash, range_hash, root_from_leaves};
