//! Hashing (RFC 9162 §2.1.1) and the right edge of a growing tree.

use sha2::{Digest, Sha256};

pub type Hash = [u8; 32];

/// The hash of a leaf: SHA-256(0x00 ‖ data).
pub fn leaf_hash(data: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([0u8]);
    h.update(data);
    h.finalize().into()
}

/// The hash of an interior node: SHA-256(0x01 ‖ left ‖ right).
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([1u8]);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

/// The largest power of two strictly smaller than `n` (n ≥ 2).
pub(crate) fn split_point(n: u64) -> u64 {
    debug_assert!(n >= 2);
    1 << (63 - (n - 1).leading_zeros())
}

/// MTH over leaves `[start, end)`, built from stored perfect subtrees via `node(level, index)`.
/// Ranges that RFC 9162 asks for are always aligned, so every perfect piece exists in storage.
pub fn range_hash<E>(start: u64, end: u64, node: &mut impl FnMut(u32, u64) -> Result<Hash, E>) -> Result<Hash, E> {
    let n = end - start;
    if n.is_power_of_two() && start.is_multiple_of(n) {
        let level = n.trailing_zeros();
        return node(level, start >> level);
    }
    let k = split_point(n);
    let left = range_hash(start, start + k, node)?;
    let right = range_hash(start + k, end, node)?;
    Ok(node_hash(&left, &right))
}

/// MTH over a list of leaf hashes, computed directly; the reference for tests and for
/// verification that recomputes everything.
pub fn root_from_leaves(leaves: &[Hash]) -> Hash {
    match leaves.len() {
        0 => Sha256::digest([]).into(),
        1 => leaves[0],
        n => {
            let k = split_point(n as u64) as usize;
            node_hash(&root_from_leaves(&leaves[..k]), &root_from_leaves(&leaves[k..]))
        }
    }
}

/// The perfect subtrees on the right edge of a tree: enough to append a leaf and to compute the
/// tree head without reading anything else. One entry per set bit of the size, largest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Frontier {
    size: u64,
    /// (level, hash) with strictly decreasing levels.
    edge: Vec<(u32, Hash)>,
}

impl Frontier {
    pub fn empty() -> Self {
        Frontier::default()
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    /// The nodes a frontier of `size` consists of, as (level, index), largest first.
    pub fn positions(size: u64) -> Vec<(u32, u64)> {
        let mut out = Vec::new();
        let mut covered = 0u64;
        for level in (0..64u32).rev() {
            if size & (1 << level) != 0 {
                out.push((level, covered >> level));
                covered += 1 << level;
            }
        }
        out
    }

    /// Rebuilds a frontier from the stored nodes at [`Frontier::positions`].
    pub fn from_nodes(size: u64, nodes: Vec<Hash>) -> Option<Self> {
        let positions = Self::positions(size);
        (positions.len() == nodes.len()).then(|| Frontier { size, edge: positions.iter().map(|p| p.0).zip(nodes).collect() })
    }

    /// Appends a leaf hash; returns the perfect subtrees this completes, as (level, index, hash),
    /// the leaf itself first (level 0).
    pub fn append(&mut self, leaf: Hash) -> Vec<(u32, u64, Hash)> {
        let index = self.size;
        let mut created = vec![(0, index, leaf)];
        let mut carry = (0u32, leaf);
        while let Some(&(level, left)) = self.edge.last() {
            if level != carry.0 {
                break;
            }
            self.edge.pop();
            let merged = node_hash(&left, &carry.1);
            let new_level = level + 1;
            created.push((new_level, index >> new_level, merged));
            carry = (new_level, merged);
        }
        self.edge.push(carry);
        self.size += 1;
        created
    }

    /// The tree head (RFC 9162 MTH) of the current size.
    pub fn root(&self) -> Hash {
        let mut iter = self.edge.iter().rev();
        match iter.next() {
            None => Sha256::digest([]).into(),
            Some(&(_, last)) => iter.fold(last, |acc, (_, left)| node_hash(left, &acc)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn leaves(n: usize) -> Vec<Hash> {
        (0..n).map(|i| leaf_hash(format!("leaf {i}").as_bytes())).collect()
    }

    #[test]
    fn frontier_matches_the_recursive_definition_at_every_size() {
        let all = leaves(70);
        let mut f = Frontier::empty();
        let mut store: HashMap<(u32, u64), Hash> = HashMap::new();
        assert_eq!(f.root(), root_from_leaves(&[]));
        for (i, leaf) in all.iter().enumerate() {
            for (level, index, hash) in f.append(*leaf) {
                assert!(store.insert((level, index), hash).is_none(), "each node is created once");
            }
            let size = i as u64 + 1;
            assert_eq!(f.root(), root_from_leaves(&all[..=i]), "size {size}");
            let from_store = range_hash(0, size, &mut |l, x| store.get(&(l, x)).copied().ok_or(())).expect("all pieces stored");
            assert_eq!(from_store, f.root());
            let nodes = Frontier::positions(size).iter().map(|p| store[p]).collect();
            assert_eq!(Frontier::from_nodes(size, nodes).as_ref(), Some(&f));
        }
    }

    #[test]
    fn empty_tree_is_the_hash_of_nothing() {
        assert_eq!(hex::encode(root_from_leaves(&[])), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    }
}
