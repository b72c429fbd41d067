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

/// The descendants of `changed`, each once, in increasing height (within a
/// height, in the order the search met them: deterministic for a graph).
pub fn plan(graph: &Graph, changed: &[PageId]) -> Vec<PageId> {
    // A flag per page id below the graph's bound: a large zeroed allocation
    // is mapped lazily, so a small wave in a large graph touches little of it.
    let mut seen = vec![false; graph.id_bound()];
    let mut stack: Vec<PageId> = changed.to_vec();
    let mut found: Vec<PageId> = Vec::new();
    let mut height_max = 0;
    while let Some(page) = stack.pop() {
        for &child in graph.children(page) {
            if !std::mem::replace(&mut seen[child as usize], true) {
                height_max = height_max.max(graph.height(child));
                found.push(child);
                stack.push(child);
            }
        }
    }
    // A counting sort by height: heights are small, waves can be millions.
    let mut starts = vec![0usize; height_max as usize + 2];
    for &page in &found {
        starts[graph.height(page) as usize + 1] += 1;
    }
    for height in 1..starts.len() {
        starts[height] += starts[height - 1];
    }
    let mut order = vec![0; found.len()];
    for page in found {
        let slot = &mut starts[graph.height(page) as usize];
        order[*slot] = page;
        *slot += 1;
    }
    order
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

/// The built-in recompute of each page, indexed by page id.
#[derive(Clone, Default)]
pub struct Transforms(Vec<Option<Transform>>);

impl Transforms {
    pub fn get(&self, page: PageId) -> Option<Transform> {
        self.0.get(page as usize).copied().flatten()
    }

    pub fn set(&mut self, page: PageId, transform: Option<Transform>) {
        let index = page as usize;
        if index >= self.0.len() {
            if transform.is_none() {
                return;
            }
            self.0.resize(index + 1, None);
        }
        self.0[index] = transform;
    }
}

/// Parents read without an allocation per recompute, up to this many.
const INLINE_PARENTS: usize = 8;

/// Runs a wave in which every recomputed child has a built-in transform
/// (children without one are not recomputed and do not propagate).
pub fn run_native(state: &State, changed: &[PageId], transforms: &Transforms) -> Result<WaveOutcome> {
    let graph = state.graph();
    let order = plan(graph, changed);
    let mut outcome = WaveOutcome {
        max_height: order.last().map_or(0, |&page| graph.height(page)),
        ..WaveOutcome::default()
    };
    // Per page id: whether it changed in this wave, and 1 + the index of its
    // staged output (0: none).
    let bound = graph.id_bound();
    let mut changed_now = vec![false; bound];
    for &page in changed.iter().filter(|&&page| (page as usize) < bound) {
        changed_now[page as usize] = true;
    }
    let mut staged = vec![0u32; bound];
    let mut scratch: Vec<u8> = Vec::new();
    for child in order {
        let Some(transform) = transforms.get(child) else {
            continue;
        };
        let parents = graph.parents(child);
        if !parents.iter().any(|(parent, _)| changed_now[*parent as usize]) {
            continue;
        }
        let current = state.page(child)?.data();
        scratch.clear();
        scratch.resize(current.len(), 0);
        let input = |parent: PageId| match staged[parent as usize] {
            0 => state.page(parent).map(|page| page.data()),
            index => Ok(&outcome.staged_bytes[outcome.outputs[index as usize - 1].1.clone()]),
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
        changed_now[child as usize] = true;
        outcome.outputs.push((child, range));
        staged[child as usize] = outcome.outputs.len() as u32;
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
