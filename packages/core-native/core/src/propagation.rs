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

use std::collections::{HashMap, HashSet};

use crate::error::{fail, Result};
use crate::graph::Graph;
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
    let mut seen: HashSet<PageId> = HashSet::new();
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
    order.sort_by_key(|&page| (graph.height(page), page));
    order
}

/// What a native wave did.
#[derive(Debug, Default)]
pub struct WaveOutcome {
    /// The staged outputs of children that changed, in wave order.
    pub outputs: Vec<(PageId, Vec<u8>)>,
    pub recomputed: u64,
    pub cut_off: u64,
}

/// Runs a wave in which every recomputed child has a built-in transform
/// (children without one are not recomputed and do not propagate).
pub fn run_native(state: &State, changed: &[PageId], transforms: &HashMap<PageId, Transform>) -> Result<WaveOutcome> {
    let graph = state.graph();
    let mut outcome = WaveOutcome::default();
    let mut changed_now: HashSet<PageId> = changed.iter().copied().collect();
    let mut staged: HashMap<PageId, usize> = HashMap::new();
    for child in plan(graph, changed) {
        let Some(&transform) = transforms.get(&child) else {
            continue;
        };
        let parents = graph.parents(child);
        if !parents.iter().any(|(parent, _)| changed_now.contains(parent)) {
            continue;
        }
        let inputs: Vec<&[u8]> = parents
            .iter()
            .map(|(parent, _)| match staged.get(parent) {
                Some(&index) => Ok(outcome.outputs[index].1.as_slice()),
                None => state.page(*parent).map(|page| page.data()),
            })
            .collect::<Result<_>>()?;
        let current = state.page(child)?.data();
        let mut output = vec![0u8; current.len()];
        transform.compute(child, &inputs, &mut output)?;
        outcome.recomputed += 1;
        if output == current {
            outcome.cut_off += 1;
            continue;
        }
        changed_now.insert(child);
        staged.insert(child, outcome.outputs.len());
        outcome.outputs.push((child, output));
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
