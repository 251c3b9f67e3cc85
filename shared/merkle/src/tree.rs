//! Merkle tree heads and proofs over a list of leaf hashes (RFC 9162 §2.1), and their verification.
//!
//! Generation follows the recursive definitions of RFC 9162 §2.1.1 (MTH), §2.1.3.1 (PATH) and
//! §2.1.4.1 (PROOF / SUBPROOF); verification follows the iterative algorithms of §2.1.3.2 and
//! §2.1.4.2, which need only the proof, the sizes and the two hashes.
//!
//! [`Frontier`] is the compact form of a tree a writer keeps: the roots of the perfect subtrees
//! along the right edge (one per set bit of the size, at most 64 hashes). It is enough to append,
//! to compute the tree head and to produce the inclusion proof of the leaf being appended, without
//! reading any earlier leaf.

use crate::Error;
use crate::hash::{Hash, empty_root, node_hash};

/// The largest power of two strictly smaller than `n` (`n >= 2`).
fn split(n: u64) -> u64 {
    debug_assert!(n >= 2);
    1u64 << (63 - (n - 1).leading_zeros())
}

/// MTH of the leaves (RFC 9162 §2.1.1): the tree head of `leaves.len()` leaf hashes.
pub fn root(leaves: &[Hash]) -> Hash {
    match leaves.len() {
        0 => empty_root(),
        1 => leaves[0],
        n => {
            let k = split(n as u64) as usize;
            node_hash(&root(&leaves[..k]), &root(&leaves[k..]))
        }
    }
}

/// The inclusion proof (audit path) of leaf `index` in the tree of all `leaves` (RFC 9162 §2.1.3.1),
/// from the leaf's sibling up to the child of the root.
pub fn inclusion_proof(leaves: &[Hash], index: u64) -> Result<Vec<Hash>, Error> {
    let n = leaves.len() as u64;
    if index >= n {
        return Err(Error::OutOfRange(format!("leaf index {index} is not in a tree of size {n}")));
    }
    let mut out = Vec::new();
    path(index as usize, leaves, &mut out);
    Ok(out)
}

fn path(m: usize, leaves: &[Hash], out: &mut Vec<Hash>) {
    let n = leaves.len();
    if n <= 1 {
        return;
    }
    let k = split(n as u64) as usize;
    if m < k {
        path(m, &leaves[..k], out);
        out.push(root(&leaves[k..]));
    } else {
        path(m - k, &leaves[k..], out);
        out.push(root(&leaves[..k]));
    }
}

/// The consistency proof between the tree of the first `old_size` leaves and the tree of all
/// `leaves` (RFC 9162 §2.1.4.1). Empty when `old_size` is 0 or equals the new size.
pub fn consistency_proof(leaves: &[Hash], old_size: u64) -> Result<Vec<Hash>, Error> {
    let n = leaves.len() as u64;
    if old_size > n {
        return Err(Error::OutOfRange(format!("old size {old_size} is larger than the new size {n}")));
    }
    let mut out = Vec::new();
    if old_size > 0 && old_size < n {
        subproof(old_size as usize, leaves, true, &mut out);
    }
    Ok(out)
}

fn subproof(m: usize, leaves: &[Hash], whole: bool, out: &mut Vec<Hash>) {
    let n = leaves.len();
    if m == n {
        if !whole {
            out.push(root(leaves));
        }
        return;
    }
    let k = split(n as u64) as usize;
    if m <= k {
        subproof(m, &leaves[..k], whole, out);
        out.push(root(&leaves[k..]));
    } else {
        subproof(m - k, &leaves[k..], false, out);
        out.push(root(&leaves[..k]));
    }
}

/// The tree head an inclusion proof leads to (RFC 9162 §2.1.3.2, steps 1-4).
pub fn root_from_inclusion_proof(index: u64, size: u64, leaf: &Hash, proof: &[Hash]) -> Result<Hash, Error> {
    if index >= size {
        return Err(Error::OutOfRange(format!("leaf index {index} is not in a tree of size {size}")));
    }
    let (mut fnode, mut snode) = (index, size - 1);
    let mut r = *leaf;
    for p in proof {
        if snode == 0 {
            return Err(Error::ProofMismatch(format!("inclusion proof is too long ({} hashes)", proof.len())));
        }
        if fnode & 1 == 1 || fnode == snode {
            r = node_hash(p, &r);
            if fnode & 1 == 0 {
                while fnode & 1 == 0 && fnode != 0 {
                    fnode >>= 1;
                    snode >>= 1;
                }
            }
        } else {
            r = node_hash(&r, p);
        }
        fnode >>= 1;
        snode >>= 1;
    }
    if snode != 0 {
        return Err(Error::ProofMismatch(format!("inclusion proof is too short ({} hashes)", proof.len())));
    }
    Ok(r)
}

/// Check that `leaf` is at `index` in the tree of `size` leaves whose head is `root` (RFC 9162 §2.1.3.2).
pub fn verify_inclusion(index: u64, size: u64, leaf: &Hash, proof: &[Hash], root: &Hash) -> Result<(), Error> {
    let got = root_from_inclusion_proof(index, size, leaf, proof)?;
    if &got != root {
        return Err(Error::ProofMismatch(format!(
            "inclusion proof leads to tree head {got}, the checkpoint says {root}"
        )));
    }
    Ok(())
}

/// Check that the tree of `size1` leaves with head `root1` is a prefix of the tree of `size2`
/// leaves with head `root2` (RFC 9162 §2.1.4.2; equal sizes need equal heads and an empty proof,
/// the empty tree is a prefix of every tree).
pub fn verify_consistency(size1: u64, size2: u64, root1: &Hash, root2: &Hash, proof: &[Hash]) -> Result<(), Error> {
    if size1 > size2 {
        return Err(Error::OutOfRange(format!("old size {size1} is larger than the new size {size2}")));
    }
    if size1 == size2 {
        if !proof.is_empty() {
            return Err(Error::ProofMismatch("trees of equal size need an empty proof".into()));
        }
        if root1 != root2 {
            return Err(Error::ProofMismatch(format!("two different heads for size {size1}: {root1} and {root2}")));
        }
        return Ok(());
    }
    if size1 == 0 {
        if !proof.is_empty() {
            return Err(Error::ProofMismatch("the empty tree needs an empty proof".into()));
        }
        return Ok(());
    }
    // 1. A proof between different non-empty sizes is never empty.
    if proof.is_empty() {
        return Err(Error::ProofMismatch("empty consistency proof between different sizes".into()));
    }
    // 2. If size1 is a power of two, the old head is the first node of the path.
    let mut path: Vec<Hash> = Vec::with_capacity(proof.len() + 1);
    if size1.is_power_of_two() {
        path.push(*root1);
    }
    path.extend_from_slice(proof);
    // 3.-4.
    let (mut fnode, mut snode) = (size1 - 1, size2 - 1);
    while fnode & 1 == 1 {
        fnode >>= 1;
        snode >>= 1;
    }
    // 5.
    let (mut fr, mut sr) = (path[0], path[0]);
    // 6.
    for c in &path[1..] {
        if snode == 0 {
            return Err(Error::ProofMismatch(format!("consistency proof is too long ({} hashes)", proof.len())));
        }
        if fnode & 1 == 1 || fnode == snode {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            if fnode & 1 == 0 {
                while fnode & 1 == 0 && fnode != 0 {
                    fnode >>= 1;
                    snode >>= 1;
                }
            }
        } else {
            sr = node_hash(&sr, c);
        }
        fnode >>= 1;
        snode >>= 1;
    }
    // 7.
    if snode != 0 {
        return Err(Error::ProofMismatch(format!("consistency proof is too short ({} hashes)", proof.len())));
    }
    if &fr != root1 {
        return Err(Error::ProofMismatch(format!(
            "consistency proof leads to old head {fr}, the old checkpoint says {root1}"
        )));
    }
    if &sr != root2 {
        return Err(Error::ProofMismatch(format!(
            "consistency proof leads to new head {sr}, the new checkpoint says {root2}"
        )));
    }
    Ok(())
}

/// The right edge of a tree: the heads of its perfect subtrees, largest (leftmost) first, one per
/// set bit of `size`. What a log writer stores to append in O(log n).
///
/// Deserializing checks the shape (one node per set bit of `size`), as [`Frontier::from_parts`] does.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields, try_from = "FrontierParts")]
pub struct Frontier {
    size: u64,
    nodes: Vec<Hash>,
}

/// The stored form of a [`Frontier`], before its shape is checked.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct FrontierParts {
    size: u64,
    nodes: Vec<Hash>,
}

impl TryFrom<FrontierParts> for Frontier {
    type Error = Error;
    fn try_from(p: FrontierParts) -> Result<Self, Error> {
        Frontier::from_parts(p.size, p.nodes)
    }
}

impl Frontier {
    pub fn new() -> Self {
        Frontier::default()
    }

    /// Rebuild from stored parts; `nodes` must have one hash per set bit of `size`.
    pub fn from_parts(size: u64, nodes: Vec<Hash>) -> Result<Self, Error> {
        if nodes.len() != size.count_ones() as usize {
            return Err(Error::Malformed(format!(
                "a frontier of size {size} has {} nodes, got {}",
                size.count_ones(),
                nodes.len()
            )));
        }
        Ok(Frontier { size, nodes })
    }

    /// The frontier of the tree of all `leaves`.
    pub fn from_leaves(leaves: &[Hash]) -> Self {
        let mut f = Frontier::new();
        for l in leaves {
            f.push(*l);
        }
        f
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    pub fn nodes(&self) -> &[Hash] {
        &self.nodes
    }

    /// Append one leaf hash.
    pub fn push(&mut self, leaf: Hash) {
        let mut carry = leaf;
        let mut s = self.size;
        while s & 1 == 1 {
            let left = self.nodes.pop().expect("one node per set bit");
            carry = node_hash(&left, &carry);
            s >>= 1;
        }
        self.nodes.push(carry);
        self.size += 1;
    }

    /// The tree head (MTH) of the tree.
    pub fn root(&self) -> Hash {
        let mut it = self.nodes.iter().rev();
        match it.next() {
            None => empty_root(),
            Some(last) => it.fold(*last, |acc, left| node_hash(left, &acc)),
        }
    }

    /// The inclusion proof of the next leaf (index `size`) in the tree of `size + 1` leaves: the
    /// subtree heads to its left, smallest first. Valid for whatever leaf is pushed next.
    pub fn next_inclusion_proof(&self) -> Vec<Hash> {
        self.nodes.iter().rev().copied().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::leaf_hash;

    fn leaves(n: u64) -> Vec<Hash> {
        (0..n).map(|i| leaf_hash(format!("leaf {i}").as_bytes())).collect()
    }

    #[test]
    fn split_is_the_largest_power_of_two_below() {
        assert_eq!([2, 3, 4, 5, 8, 9, 1 << 40].map(split), [1, 2, 2, 4, 4, 8, 1 << 39]);
    }

    #[test]
    fn frontier_matches_the_recursive_definition_and_proves_each_append() {
        let all = leaves(300);
        let mut f = Frontier::new();
        assert_eq!(f.root(), empty_root());
        for (i, l) in all.iter().enumerate() {
            let proof = f.next_inclusion_proof();
            f.push(*l);
            let n = i as u64 + 1;
            assert_eq!(f.size(), n);
            assert_eq!(f.nodes().len(), n.count_ones() as usize);
            assert_eq!(f.root(), root(&all[..=i]), "size {n}");
            assert_eq!(proof, inclusion_proof(&all[..=i], i as u64).unwrap(), "size {n}");
            verify_inclusion(i as u64, n, l, &proof, &f.root()).unwrap();
        }
        assert_eq!(Frontier::from_parts(f.size(), f.nodes().to_vec()).unwrap(), f);
        assert!(Frontier::from_parts(f.size(), f.nodes()[1..].to_vec()).is_err());
        // The serialized form round-trips; a stored frontier of the wrong shape does not load.
        let json = serde_json::to_string(&f).unwrap();
        assert_eq!(serde_json::from_str::<Frontier>(&json).unwrap(), f);
        let short = json.replacen(&format!("\"{}\",", f.nodes()[0]), "", 1);
        assert_ne!(short, json);
        assert!(serde_json::from_str::<Frontier>(&short).is_err());
        let bigger = json.replacen(&format!("\"size\":{}", f.size()), &format!("\"size\":{}", f.size() + 1), 1);
        assert_ne!(bigger, json);
        assert!(serde_json::from_str::<Frontier>(&bigger).is_err());
    }

    /// For each hash of the inclusion proof of leaf `m` in a tree of `n` leaves (leaf sibling
    /// first): whether the sibling is on the left. Derived from the recursive PATH of RFC 9162
    /// §2.1.3.1, independently of the iterative verifier.
    fn sides(m: u64, n: u64) -> Vec<bool> {
        if n <= 1 {
            return vec![];
        }
        let k = split(n);
        let mut v = if m < k { sides(m, k) } else { sides(m - k, n - k) };
        v.push(m >= k);
        v
    }

    #[test]
    fn every_generated_proof_verifies_and_no_other_index_or_size_does() {
        let all = leaves(40);
        for n in 1..=all.len() as u64 {
            let head = root(&all[..n as usize]);
            for i in 0..n {
                let p = inclusion_proof(&all[..n as usize], i).unwrap();
                verify_inclusion(i, n, &all[i as usize], &p, &head).unwrap();
                for j in (0..n).filter(|&j| j != i) {
                    assert!(verify_inclusion(j, n, &all[i as usize], &p, &head).is_err(), "n {n} i {i} j {j}");
                }
                // An inclusion proof does not commit to the tree size: the same hashes lead to the
                // same head for every size whose path from leaf i has the same shape (leaf 0 of 3
                // and of 4 leaves, say). The size is bound by the signed checkpoint instead. So the
                // proof must verify under size m exactly when the shapes agree.
                for m in (i + 1..=all.len() as u64 + 8).filter(|&m| m != n) {
                    let same_shape = sides(i, m) == sides(i, n);
                    assert_eq!(
                        verify_inclusion(i, m, &all[i as usize], &p, &head).is_ok(),
                        same_shape,
                        "n {n} i {i} m {m}"
                    );
                }
            }
            for m in 0..=n {
                let p = consistency_proof(&all[..n as usize], m).unwrap();
                let old = root(&all[..m as usize]);
                verify_consistency(m, n, &old, &head, &p).unwrap();
                if m > 0 && m < n {
                    assert!(verify_consistency(m, n, &head, &old, &p).is_err());
                    let other = root(&all[1..=m as usize]);
                    assert!(verify_consistency(m, n, &other, &head, &p).is_err(), "m {m} n {n}");
                }
            }
        }
    }

    #[test]
    fn out_of_range_arguments_are_errors() {
        let all = leaves(5);
        assert!(inclusion_proof(&all, 5).is_err());
        assert!(inclusion_proof(&[], 0).is_err());
        assert!(consistency_proof(&all, 6).is_err());
        assert!(verify_inclusion(0, 0, &all[0], &[], &all[0]).is_err());
        assert!(verify_consistency(3, 2, &all[0], &all[0], &[]).is_err());
    }
}
