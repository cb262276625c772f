//! The Merkle tree of RFC 9162 §2.1 (Certificate Transparency v2), over SHA-256: leaf
//! hashes `SHA-256(0x00 ‖ data)`, interior nodes `SHA-256(0x01 ‖ left ‖ right)`, the
//! tree of `n` leaves split at the largest power of two smaller than `n`.
//!
//! The audit log keeps one tree per region. [`Frontier`] is its compact state: the roots
//! of the perfect subtrees the leaves so far decompose into (one per set bit of the
//! size), so a leaf is appended in O(log n) hashes and the root is known at once without
//! reading old leaves. Inclusion and consistency proofs (§2.1.3, §2.1.4) are built from a
//! slice of leaf hashes and verified with the RFC's algorithms.

use sha2::{Digest, Sha256};

/// A SHA-256 digest: a leaf, an interior node or a root.
pub type Hash = [u8; 32];

/// `SHA-256(0x00 ‖ data)`: the hash of a leaf (RFC 9162 §2.1.1).
pub fn leaf_hash(data: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([0u8]);
    h.update(data);
    h.finalize().into()
}

/// `SHA-256(0x01 ‖ left ‖ right)`: the hash of an interior node.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([1u8]);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

/// The root of the empty tree: `SHA-256()` of nothing.
pub fn empty_root() -> Hash {
    Sha256::digest([]).into()
}

/// The largest power of two smaller than `n` (`n > 1`).
fn split(n: usize) -> usize {
    debug_assert!(n > 1);
    1 << (usize::BITS - 1 - (n - 1).leading_zeros())
}

/// MTH(D[n]) over leaf hashes, by the RFC's recursive definition.
pub fn root_of(leaves: &[Hash]) -> Hash {
    match leaves.len() {
        0 => empty_root(),
        1 => leaves[0],
        n => {
            let k = split(n);
            node_hash(&root_of(&leaves[..k]), &root_of(&leaves[k..]))
        }
    }
}

/// The compact state of a growing tree: its size and the roots of its perfect subtrees,
/// largest (leftmost) first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Frontier {
    size: u64,
    nodes: Vec<Hash>,
}

impl Frontier {
    /// Number of leaves appended.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Appends a leaf hash: O(log n) node hashes.
    pub fn push(&mut self, leaf: Hash) {
        let mut node = leaf;
        let mut s = self.size;
        while s & 1 == 1 {
            let left = self.nodes.pop().expect("a subtree per set bit");
            node = node_hash(&left, &node);
            s >>= 1;
        }
        self.nodes.push(node);
        self.size += 1;
    }

    /// The tree head: MTH of every leaf appended so far.
    pub fn root(&self) -> Hash {
        let mut it = self.nodes.iter().rev();
        let Some(last) = it.next() else {
            return empty_root();
        };
        it.fold(*last, |acc, left| node_hash(left, &acc))
    }

    /// The stored form: the size, then each subtree root in hex, separated by spaces.
    pub fn encode(&self) -> String {
        let mut out = self.size.to_string();
        for n in &self.nodes {
            out.push(' ');
            out.push_str(&hex::encode(n));
        }
        out
    }

    /// Reads [`Frontier::encode`]'s form back; `None` when it is not one.
    pub fn decode(text: &str) -> Option<Self> {
        let mut parts = text.split(' ');
        let size: u64 = parts.next()?.parse().ok()?;
        let nodes = parts.map(parse_hash).collect::<Option<Vec<_>>>()?;
        (nodes.len() == size.count_ones() as usize).then_some(Frontier { size, nodes })
    }
}

/// A hash from 64 hex digits.
pub fn parse_hash(text: &str) -> Option<Hash> {
    let bytes = hex::decode(text).ok()?;
    bytes.try_into().ok()
}

/// The audit path of leaf `index` in the tree of `leaves` (RFC 9162 §2.1.3.1, PATH).
pub fn inclusion_proof(leaves: &[Hash], index: usize) -> Vec<Hash> {
    assert!(index < leaves.len(), "leaf index beyond the tree");
    let mut out = Vec::new();
    path(index, leaves, &mut out);
    out
}

fn path(m: usize, d: &[Hash], out: &mut Vec<Hash>) {
    let n = d.len();
    if n <= 1 {
        return;
    }
    let k = split(n);
    if m < k {
        path(m, &d[..k], out);
        out.push(root_of(&d[k..]));
    } else {
        path(m - k, &d[k..], out);
        out.push(root_of(&d[..k]));
    }
}

/// Checks an audit path (RFC 9162 §2.1.3.2): that `leaf` is leaf `index` of the tree of
/// `size` leaves whose head is `root`.
pub fn verify_inclusion(index: u64, size: u64, leaf: &Hash, proof: &[Hash], root: &Hash) -> bool {
    if index >= size {
        return false;
    }
    let (mut f, mut s) = (index, size - 1);
    let mut r = *leaf;
    for p in proof {
        if s == 0 {
            return false;
        }
        if f & 1 == 1 || f == s {
            r = node_hash(p, &r);
            while f & 1 == 0 && f != 0 {
                f >>= 1;
                s >>= 1;
            }
        } else {
            r = node_hash(&r, p);
        }
        f >>= 1;
        s >>= 1;
    }
    s == 0 && r == *root
}

/// The consistency proof between the first `m` leaves and all of `leaves` (RFC 9162
/// §2.1.4.1, PROOF).
pub fn consistency_proof(leaves: &[Hash], m: usize) -> Vec<Hash> {
    assert!(m <= leaves.len(), "old size beyond the tree");
    let mut out = Vec::new();
    if m > 0 && m < leaves.len() {
        subproof(m, leaves, true, &mut out);
    }
    out
}

fn subproof(m: usize, d: &[Hash], complete: bool, out: &mut Vec<Hash>) {
    let n = d.len();
    if m == n {
        if !complete {
            out.push(root_of(d));
        }
        return;
    }
    let k = split(n);
    if m <= k {
        subproof(m, &d[..k], complete, out);
        out.push(root_of(&d[k..]));
    } else {
        subproof(m - k, &d[k..], false, out);
        out.push(root_of(&d[..k]));
    }
}

/// Checks a consistency proof (RFC 9162 §2.1.4.2): that the tree of `first` leaves with
/// head `first_root` is a prefix of the tree of `second` leaves with head `second_root`.
pub fn verify_consistency(
    first: u64,
    second: u64,
    first_root: &Hash,
    second_root: &Hash,
    proof: &[Hash],
) -> bool {
    if first > second {
        return false;
    }
    if first == second {
        return proof.is_empty() && first_root == second_root;
    }
    if first == 0 {
        return proof.is_empty();
    }
    if proof.is_empty() {
        return false;
    }
    let mut path: Vec<Hash> = Vec::with_capacity(proof.len() + 1);
    if first.is_power_of_two() {
        path.push(*first_root);
    }
    path.extend_from_slice(proof);
    let (mut f, mut s) = (first - 1, second - 1);
    while f & 1 == 1 {
        f >>= 1;
        s >>= 1;
    }
    let (mut fr, mut sr) = (path[0], path[0]);
    for c in &path[1..] {
        if s == 0 {
            return false;
        }
        if f & 1 == 1 || f == s {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            while f & 1 == 0 && f != 0 {
                f >>= 1;
                s >>= 1;
            }
        } else {
            sr = node_hash(&sr, c);
        }
        f >>= 1;
        s >>= 1;
    }
    fr == *first_root && sr == *second_root && s == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The leaf inputs of the Certificate Transparency reference tests (RFC 6962's
    /// reference implementation, unchanged by RFC 9162).
    const CT_LEAVES: [&str; 8] = [
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    ];

    /// Their tree heads for sizes 0..=8.
    const CT_ROOTS: [&str; 9] = [
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    ];

    fn h(s: &str) -> Hash {
        parse_hash(s).unwrap()
    }

    fn ct_leaves() -> Vec<Hash> {
        CT_LEAVES
            .iter()
            .map(|l| leaf_hash(&hex::decode(l).unwrap()))
            .collect()
    }

    #[test]
    fn tree_heads_match_the_certificate_transparency_vectors() {
        let leaves = ct_leaves();
        let mut f = Frontier::default();
        assert_eq!(f.root(), h(CT_ROOTS[0]));
        assert_eq!(root_of(&[]), h(CT_ROOTS[0]));
        for n in 1..=8 {
            f.push(leaves[n - 1]);
            assert_eq!(root_of(&leaves[..n]), h(CT_ROOTS[n]), "MTH size {n}");
            assert_eq!(f.root(), h(CT_ROOTS[n]), "frontier size {n}");
        }
    }

    #[test]
    fn inclusion_proofs_match_the_certificate_transparency_vectors() {
        let leaves = ct_leaves();
        // (leaf index, tree size, audit path)
        let vectors: [(usize, usize, &[&str]); 4] = [
            (
                0,
                8,
                &[
                    "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                    "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                    "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
                ],
            ),
            (
                5,
                8,
                &[
                    "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
                    "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
                ],
            ),
            (
                2,
                3,
                &["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"],
            ),
            (
                1,
                5,
                &[
                    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
                    "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                    "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
                ],
            ),
        ];
        for (index, size, expected) in vectors {
            let proof = inclusion_proof(&leaves[..size], index);
            let expected: Vec<Hash> = expected.iter().map(|s| h(s)).collect();
            assert_eq!(proof, expected, "path of leaf {index} in size {size}");
            assert!(verify_inclusion(
                index as u64,
                size as u64,
                &leaves[index],
                &proof,
                &h(CT_ROOTS[size])
            ));
        }
    }

    #[test]
    fn consistency_proofs_match_the_certificate_transparency_vectors() {
        let leaves = ct_leaves();
        let vectors: [(usize, usize, &[&str]); 4] = [
            (1, 1, &[]),
            (
                1,
                8,
                &[
                    "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                    "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                    "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
                ],
            ),
            (
                6,
                8,
                &[
                    "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
                    "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
                ],
            ),
            (
                2,
                5,
                &[
                    "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                    "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
                ],
            ),
        ];
        for (m, n, expected) in vectors {
            let proof = consistency_proof(&leaves[..n], m);
            let expected: Vec<Hash> = expected.iter().map(|s| h(s)).collect();
            assert_eq!(proof, expected, "consistency {m} → {n}");
            assert!(verify_consistency(
                m as u64,
                n as u64,
                &h(CT_ROOTS[m]),
                &h(CT_ROOTS[n]),
                &proof
            ));
        }
    }

    #[test]
    fn frontier_round_trips_through_its_stored_form() {
        let mut f = Frontier::default();
        assert_eq!(Frontier::decode(&f.encode()), Some(f.clone()));
        for l in ct_leaves() {
            f.push(l);
            assert_eq!(Frontier::decode(&f.encode()), Some(f.clone()));
        }
        assert_eq!(Frontier::decode("3 00"), None, "one node for two set bits");
        assert_eq!(Frontier::decode("x"), None);
    }

    fn leaves_strategy(max: usize) -> impl Strategy<Value = Vec<Hash>> {
        prop::collection::vec(any::<[u8; 32]>(), 0..max)
    }

    proptest! {
        #[test]
        fn the_frontier_root_is_the_recursive_tree_head(leaves in leaves_strategy(70)) {
            let mut f = Frontier::default();
            for (i, l) in leaves.iter().enumerate() {
                f.push(*l);
                prop_assert_eq!(f.size(), i as u64 + 1);
                prop_assert_eq!(f.root(), root_of(&leaves[..=i]));
            }
        }

        #[test]
        fn every_inclusion_proof_verifies_and_a_changed_leaf_does_not(
            leaves in leaves_strategy(40).prop_filter("non-empty", |l| !l.is_empty()),
            flip in any::<u8>(),
        ) {
            let n = leaves.len();
            let root = root_of(&leaves);
            for i in 0..n {
                let proof = inclusion_proof(&leaves, i);
                prop_assert!(verify_inclusion(i as u64, n as u64, &leaves[i], &proof, &root));
                let mut bad = leaves[i];
                bad[usize::from(flip) % 32] ^= 1;
                prop_assert!(!verify_inclusion(i as u64, n as u64, &bad, &proof, &root));
                if n > 1 {
                    let other = (i + 1) % n;
                    prop_assert!(
                        leaves[other] == leaves[i]
                            || !verify_inclusion(other as u64, n as u64, &leaves[i], &proof, &root)
                    );
                }
            }
        }

        #[test]
        fn every_consistency_proof_verifies_and_a_rewritten_prefix_does_not(
            leaves in leaves_strategy(40).prop_filter("non-empty", |l| !l.is_empty()),
            at in any::<prop::sample::Index>(),
        ) {
            let n = leaves.len();
            let root = root_of(&leaves);
            for m in 0..=n {
                let proof = consistency_proof(&leaves, m);
                let old = root_of(&leaves[..m]);
                prop_assert!(verify_consistency(m as u64, n as u64, &old, &root, &proof));
                if m > 0 {
                    // The same history with one early leaf changed is not consistent.
                    let mut forged = leaves.clone();
                    let i = at.index(m);
                    forged[i][0] ^= 0x80;
                    let forged_root = root_of(&forged);
                    prop_assert!(!verify_consistency(m as u64, n as u64, &old, &forged_root, &proof));
                    let forged_proof = consistency_proof(&forged, m);
                    prop_assert!(!verify_consistency(m as u64, n as u64, &old, &forged_root, &forged_proof));
                }
            }
        }
    }
}
