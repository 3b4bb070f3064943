//! Cross-checks the tree hashing and proofs against an independent implementation: a short Python
//! program written from RFC 9162 §2.1, run by the test.

use std::process::Command;

use kiroku_log::{Frontier, consistency_proof, inclusion_proof, leaf_hash, root_from_leaves};

const REFERENCE: &str = r#"
import hashlib, json, sys
def h(b): return hashlib.sha256(b).digest()
def mth(d):
    n = len(d)
    if n == 0: return h(b"")
    if n == 1: return h(b"\x00" + d[0])
    k = 1
    while k * 2 < n: k *= 2
    return h(b"\x01" + mth(d[:k]) + mth(d[k:]))
def path(m, d):
    n = len(d)
    if n <= 1: return []
    k = 1
    while k * 2 < n: k *= 2
    if m < k: return path(m, d[:k]) + [mth(d[k:])]
    return path(m - k, d[k:]) + [mth(d[:k])]
def subproof(m, d, b):
    n = len(d)
    if m == n: return [] if b else [mth(d)]
    k = 1
    while k * 2 < n: k *= 2
    if m <= k: return subproof(m, d[:k], b) + [mth(d[k:])]
    return subproof(m - k, d[k:], False) + [mth(d[:k])]
d = [("kiroku-%d" % i).encode() for i in range(int(sys.argv[1]))]
out = {"roots": [mth(d[:n]).hex() for n in range(len(d) + 1)],
       "path_5_of_23": [x.hex() for x in path(5, d[:23])],
       "path_22_of_23": [x.hex() for x in path(22, d[:23])],
       "consistency_7_23": [x.hex() for x in subproof(7, d[:23], True)],
       "consistency_16_37": [x.hex() for x in subproof(16, d[:37], True)]}
print(json.dumps(out))
"#;

fn hexes(v: &[[u8; 32]]) -> Vec<String> {
    v.iter().map(hex::encode).collect()
}

#[test]
fn matches_an_independent_python_implementation() {
    let out = match Command::new("python3").arg("-c").arg(REFERENCE).arg("37").output() {
        Ok(out) if out.status.success() => out,
        _ => {
            kiroku_testkit::missing_peer("python3", "install python3 to cross-check RFC 9162 hashing");
            return;
        }
    };
    let reference: serde_json::Value = serde_json::from_slice(&out.stdout).expect("python output");
    let data: Vec<Vec<u8>> = (0..37).map(|i| format!("kiroku-{i}").into_bytes()).collect();
    let leaves: Vec<[u8; 32]> = data.iter().map(|d| leaf_hash(d)).collect();
    let mut store = std::collections::HashMap::new();
    let mut frontier = Frontier::empty();
    for n in 0..=37usize {
        assert_eq!(reference["roots"][n], hex::encode(root_from_leaves(&leaves[..n])), "root of {n}");
        assert_eq!(reference["roots"][n], hex::encode(frontier.root()), "frontier root of {n}");
        if n < 37 {
            for (level, index, hash) in frontier.append(leaves[n]) {
                store.insert((level, index), hash);
            }
        }
    }
    let mut node = |l: u32, i: u64| store.get(&(l, i)).copied().ok_or(());
    let p = |v: Result<Result<Vec<[u8; 32]>, _>, ()>| hexes(&v.expect("nodes").expect("range"));
    assert_eq!(serde_json::json!(p(inclusion_proof(5, 23, &mut node))), reference["path_5_of_23"]);
    assert_eq!(serde_json::json!(p(inclusion_proof(22, 23, &mut node))), reference["path_22_of_23"]);
    assert_eq!(serde_json::json!(p(consistency_proof(7, 23, &mut node))), reference["consistency_7_23"]);
    assert_eq!(serde_json::json!(p(consistency_proof(16, 37, &mut node))), reference["consistency_16_37"]);
}
