//! The propagation engine's native half: planning a wave, and recomputing
//! children whose recompute is a built-in transform.
//!
//! A wave starts from the pages a commit changed. Every descendant is visited
//! once, in increasing height, so all of a child's parents are final before
//! it; a child is recomputed only when one of its parents changed in the
//! wave. A recompute whose output equals the child's bytes changes nothing
//! and stops propagation below it (cutoff). Outputs are staged, not applied:
//! the caller applies them all as one batch, so a wave that fails part-way
//! leaves no derived delta behind.
//!
//! Adding a built-in: a variant of `Transform`, its name in `Transform::parse`,
//! and its computation in `Transform::compute` (with its size rule).

use crate::error::{fail, Result};
use crate::graph::Graph;
use crate::id_map::{IdMap, IdSet};
use crate::page::PageId;
use crate::state::State;

/// A built-in recompute.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transform {
    /// The single parent's bytes.
    Copy,
    /// The parents' bytes end to end, in parent order.
    Concat,
    /// The byte-wise xor of all parents (all of the child's size).
    Xor,
}

impl Transform {
    pub fn parse(name: &str) -> Result<Transform> {
        match name {
            "copy" => Ok(Transform::Copy),
            "concat" => Ok(Transform::Concat),
            "xor" => Ok(Transform::Xor),
            _ => fail!(
                InvalidArgument,
                "unknown transform {name:?}: expected \"copy\", \"concat\" or \"xor\""
            ),
        }
    }

    /// Computes the child's new bytes from its parents' into `out` (the
    /// child's size); the error names the child.
    pub fn compute(self, child: PageId, parents: &[&[u8]], out: &mut [u8]) -> Result<()> {
        let sizes = || {
            parents
                .iter()
                .map(|parent| parent.len().to_string())
                .collect::<Vec<_>>()
                .join(" + ")
        };
        match self {
            Transform::Copy => match parents {
                [parent] if parent.len() == out.len() => out.copy_from_slice(parent),
                _ => {
                    return fail!(
                        DeltaSizeMismatch,
                        "copy into page {child} of {} bytes needs one parent of that size, has {}",
                        out.len(),
                        sizes()
                    )
                }
            },
            Transform::Concat => {
                if parents.iter().map(|parent| parent.len()).sum::<usize>() != out.len() {
                    return fail!(
                        DeltaSizeMismatch,
                        "concat into page {child} of {} bytes has parents of {}",
                        out.len(),
                        sizes()
                    );
                }
                let mut offset = 0;
                for parent in parents {
                    out[offset..offset + parent.len()].copy_from_slice(parent);
                    offset += parent.len();
                }
            }
            Transform::Xor => {
                if parents.is_empty() || parents.iter().any(|parent| parent.len() != out.len()) {
                    return fail!(
                        DeltaSizeMismatch,
                        "xor into page {child} of {} bytes needs parents of that size, has {}",
                        out.len(),
                        sizes()
                    );
                }
                out.copy_from_slice(parents[0]);
                for parent in &parents[1..] {
                    for (byte, other) in out.iter_mut().zip(parent.iter()) {
                        *byte ^= other;
                    }
                }
            }
        }
        Ok(())
    }
}

/// The descendants of `changed`, each once, in increasing height (ties by id).
pub fn plan(graph: &Graph, changed: &[PageId]) -> Vec<PageId> {
    let mut seen = IdSet::default();
    let mut stack: Vec<PageId> = changed.to_vec();
    let mut order = Vec::new();
    while let Some(page) = stack.pop() {
        for &child in graph.children(page) {
            if seen.insert(child) {
                order.push(child);
                stack.push(child);
            }
        }
    }
    let mut keyed: Vec<(u32, PageId)> = order.into_iter().map(|page| (graph.height(page), page)).collect();
    keyed.sort_unstable();
    keyed.into_iter().map(|(_, page)| page).collect()
}

/// What a native wave did.
#[derive(Debug, Default)]
pub struct WaveOutcome {
    /// The children that changed, in wave order, and where their staged
    /// output lies in `staged_bytes`.
    pub outputs: Vec<(PageId, std::ops::Range<usize>)>,
    /// Every staged output, end to end.
    pub staged_bytes: Vec<u8>,
    pub recomputed: u64,
    pub cut_off: u64,
    /// The height of the deepest page the wave visited.
    pub max_height: u32,
}

/// Parents read without an allocation per recompute, up to this many.
const INLINE_PARENTS: usize = 8;

/// Runs a wave in which every recomputed child has a built-in transform
/// (children without one are not recomputed and do not propagate).
pub fn run_native(state: &State, changed: &[PageId], transforms: &IdMap<Transform>) -> Result<WaveOutcome> {
    let graph = state.graph();
    let order = plan(graph, changed);
    let mut outcome = WaveOutcome {
        max_height: order.last().map_or(0, |&page| graph.height(page)),
        ..WaveOutcome::default()
    };
    let mut changed_now: IdSet = IdSet::with_capacity_and_hasher(order.len() + changed.len(), Default::default());
    changed_now.extend(changed.iter().copied());
    let mut staged: IdMap<std::ops::Range<usize>> = IdMap::with_capacity_and_hasher(order.len(), Default::default());
    let mut scratch: Vec<u8> = Vec::new();
    for child in order {
        let Some(&transform) = transforms.get(&child) else {
            continue;
        };
        let parents = graph.parents(child);
        if !parents.iter().any(|(parent, _)| changed_now.contains(parent)) {
            continue;
        }
        let current = state.page(child)?.data();
        scratch.clear();
        scratch.resize(current.len(), 0);
        let input = |parent: PageId| match staged.get(&parent) {
            Some(range) => Ok(&outcome.staged_bytes[range.clone()]),
            None => state.page(parent).map(|page| page.data()),
        };
        if parents.len() <= INLINE_PARENTS {
            let mut inline: [&[u8]; INLINE_PARENTS] = [&[]; INLINE_PARENTS];
            for (slot, (parent, _)) in inline.iter_mut().zip(parents) {
                *slot = input(*parent)?;
            }
            transform.compute(child, &inline[..parents.len()], &mut scratch)?;
        } else {
            let inputs: Vec<&[u8]> = parents
                .iter()
                .map(|(parent, _)| input(*parent))
                .collect::<Result<_>>()?;
            transform.compute(child, &inputs, &mut scratch)?;
        }
        outcome.recomputed += 1;
        if scratch == current {
            outcome.cut_off += 1;
            continue;
        }
        let range = outcome.staged_bytes.len()..outcome.staged_bytes.len() + scratch.len();
        outcome.staged_bytes.extend_from_slice(&scratch);
        changed_now.insert(child);
        staged.insert(child, range.clone());
        outcome.outputs.push((child, range));
    }
    Ok(outcome)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transforms_compute_and_check_sizes() {
        let mut out = [0u8; 4];
        Transform::Concat.compute(9, &[&[1, 2], &[3, 4]], &mut out).unwrap();
        assert_eq!(out, [1, 2, 3, 4]);
        Transform::Xor
            .compute(9, &[&[1, 2, 3, 4], &[1, 0, 1, 0]], &mut out)
            .unwrap();
        assert_eq!(out, [0, 2, 2, 4]);
        let error = Transform::Copy.compute(9, &[&[1, 2]], &mut out).unwrap_err();
        assert!(error.message.contains("page 9"), "{}", error.message);
        assert!(Transform::Xor.compute(9, &[], &mut out).is_err());
    }
}
