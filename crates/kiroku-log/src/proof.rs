//! Inclusion and consistency proofs (RFC 9162 §2.1.3 and §2.1.4), generation and verification.

use crate::tree::{Hash, node_hash, range_hash, split_point};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    #[error("index {index} is outside a tree of size {size}")]
    OutOfRange { index: u64, size: u64 },
    #[error("the proof does not lead to the expected root")]
    Mismatch,
    #[error("the proof has the wrong number of hashes")]
    WrongLength,
}

/// The audit path for leaf `index` in a tree of `size` (RFC 9162 PATH), from the leaf upwards.
pub fn inclusion_proof<E>(
    index: u64,
    size: u64,
    node: &mut impl FnMut(u32, u64) -> Result<Hash, E>,
) -> Result<Result<Vec<Hash>, ProofError>, E> {
    if index >= size {
        return Ok(Err(ProofError::OutOfRange { index, size }));
    }
    let mut path = Vec::new();
    path_in(index, 0, size, node, &mut path)?;
    Ok(Ok(path))
}

fn path_in<E>(m: u64, start: u64, end: u64, node: &mut impl FnMut(u32, u64) -> Result<Hash, E>, out: &mut Vec<Hash>) -> Result<(), E> {
    let n = end - start;
    if n <= 1 {
        return Ok(());
    }
    let k = split_point(n);
    if m < k {
        path_in(m, start, start + k, node, out)?;
        out.push(range_hash(start + k, end, node)?);
    } else {
        path_in(m - k, start + k, end, node, out)?;
        out.push(range_hash(start, start + k, node)?);
    }
    Ok(())
}

/// The consistency proof between sizes `old` and `new` (RFC 9162 PROOF).
pub fn consistency_proof<E>(
    old: u64,
    new: u64,
    node: &mut impl FnMut(u32, u64) -> Result<Hash, E>,
) -> Result<Result<Vec<Hash>, ProofError>, E> {
    if old == 0 || old > new {
        return Ok(Err(ProofError::OutOfRange { index: old, size: new }));
    }
    let mut out = Vec::new();
    if old < new {
        subproof(old, 0, new, true, node, &mut out)?;
    }
    Ok(Ok(out))
}

fn subproof<E>(
    m: u64,
    start: u64,
    end: u64,
    complete: bool,
    node: &mut impl FnMut(u32, u64) -> Result<Hash, E>,
    out: &mut Vec<Hash>,
) -> Result<(), E> {
    let n = end - start;
    if m == n {
        if !complete {
            out.push(range_hash(start, end, node)?);
        }
        return Ok(());
    }
    let k = split_point(n);
    if m <= k {
        subproof(m, start, start + k, complete, node, out)?;
        out.push(range_hash(start + k, end, node)?);
    } else {
        subproof(m - k, start + k, end, false, node, out)?;
        out.push(range_hash(start, start + k, node)?);
    }
    Ok(())
}

/// Verifies an inclusion proof (RFC 9162 §2.1.3.2).
pub fn verify_inclusion(leaf: &Hash, index: u64, size: u64, proof: &[Hash], root: &Hash) -> Result<(), ProofError> {
    if index >= size {
        return Err(ProofError::OutOfRange { index, size });
    }
    let (mut fn_, mut sn) = (index, size - 1);
    let mut r = *leaf;
    for p in proof {
        if sn == 0 {
            return Err(ProofError::WrongLength);
        }
        if fn_ & 1 == 1 || fn_ == sn {
            r = node_hash(p, &r);
            while fn_ & 1 == 0 && fn_ != 0 {
                fn_ >>= 1;
                sn >>= 1;
            }
        } else {
            r = node_hash(&r, p);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    if sn != 0 {
        return Err(ProofError::WrongLength);
    }
    if &r == root { Ok(()) } else { Err(ProofError::Mismatch) }
}

/// Verifies a consistency proof (RFC 9162 §2.1.4.2).
pub fn verify_consistency(old: u64, new: u64, old_root: &Hash, new_root: &Hash, proof: &[Hash]) -> Result<(), ProofError> {
    if old == 0 || old > new {
        return Err(ProofError::OutOfRange { index: old, size: new });
    }
    if old == new {
        return if proof.is_empty() && old_root == new_root { Ok(()) } else { Err(ProofError::Mismatch) };
    }
    let mut path: Vec<Hash> = proof.to_vec();
    if old.is_power_of_two() {
        path.insert(0, *old_root);
    }
    let Some((first, rest)) = path.split_first() else { return Err(ProofError::WrongLength) };
    let (mut fn_, mut sn) = (old - 1, new - 1);
    while fn_ & 1 == 1 {
        fn_ >>= 1;
        sn >>= 1;
    }
    let (mut fr, mut sr) = (*first, *first);
    for c in rest {
        if sn == 0 {
            return Err(ProofError::WrongLength);
        }
        if fn_ & 1 == 1 || fn_ == sn {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            while fn_ & 1 == 0 && fn_ != 0 {
                fn_ >>= 1;
                sn >>= 1;
            }
        } else {
            sr = node_hash(&sr, c);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    if sn != 0 {
        return Err(ProofError::WrongLength);
    }
    if &fr == old_root && &sr == new_root { Ok(()) } else { Err(ProofError::Mismatch) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tree::{Frontier, leaf_hash, root_from_leaves};
    use std::collections::HashMap;

    fn build(n: usize) -> (Vec<Hash>, HashMap<(u32, u64), Hash>) {
        let leaves: Vec<Hash> = (0..n).map(|i| leaf_hash(&[i as u8])).collect();
        let mut f = Frontier::empty();
        let mut store = HashMap::new();
        for l in &leaves {
            for (level, index, h) in f.append(*l) {
                store.insert((level, index), h);
            }
        }
        (leaves, store)
    }

    #[test]
    fn every_inclusion_proof_verifies_and_a_wrong_one_does_not() {
        let (leaves, store) = build(33);
        for size in 1..=33u64 {
            let root = root_from_leaves(&leaves[..size as usize]);
            for index in 0..size {
                let proof =
                    inclusion_proof(index, size, &mut |l, i| store.get(&(l, i)).copied().ok_or(())).expect("nodes").expect("in range");
                assert_eq!(verify_inclusion(&leaves[index as usize], index, size, &proof, &root), Ok(()), "leaf {index} of {size}");
                let other = leaf_hash(b"not a leaf");
                assert!(verify_inclusion(&other, index, size, &proof, &root).is_err());
                if size > 1 {
                    assert!(verify_inclusion(&leaves[index as usize], (index + 1) % size, size, &proof, &root).is_err());
                }
            }
        }
    }

    #[test]
    fn every_consistency_proof_verifies_and_a_rewritten_history_does_not() {
        let (leaves, store) = build(33);
        for new in 1..=33u64 {
            let new_root = root_from_leaves(&leaves[..new as usize]);
            for old in 1..=new {
                let old_root = root_from_leaves(&leaves[..old as usize]);
                let proof = consistency_proof(old, new, &mut |l, i| store.get(&(l, i)).copied().ok_or(())).expect("nodes").expect("range");
                assert_eq!(verify_consistency(old, new, &old_root, &new_root, &proof), Ok(()), "{old} -> {new}");
                let forged = leaf_hash(b"forged");
                assert!(verify_consistency(old, new, &forged, &new_root, &proof).is_err());
            }
        }
    }
}
