//! Running the phases of a plan over the wave's memory, and reading the
//! outputs a finished wave staged.

use crate::delta::{Delta, Payload, Source};
use crate::error::Result;
use crate::log::wave_body;
use crate::page::PageId;
use crate::state::State;

use super::plan::{Phase, Plan, FLAG_CHANGED, FLAG_SAME};
use super::recompute::Recompute;

/// One recompute of a phase, as its computation sees it.
pub struct Step<'a> {
    /// The child's position in the plan.
    pub position: usize,
    pub child: PageId,
    pub recompute: Recompute,
    /// The parents' bytes in edge order: the staged output of a parent that
    /// changed earlier in this wave, the page's bytes otherwise.
    pub parents: &'a [&'a [u8]],
    /// The child's bytes.
    pub current: &'a [u8],
}

/// Parents read without an allocation per recompute, up to this many.
const INLINE_PARENTS: usize = 8;

/// Runs one phase of `plan` over `memory` (`Plan::memory_bytes` long): every
/// triggered position gets `compute(step, out)` with `out` its slot, then is
/// flagged changed, or same when `out` equals the child's bytes (cutoff).
/// Built-in phases run `Transform::compute`; an embedding written in Rust may
/// run its own recomputes the same way.
pub fn run_phase(
    plan: &Plan,
    phase: &Phase,
    state: &State,
    memory: &mut [u8],
    mut compute: impl FnMut(&Step<'_>, &mut [u8]) -> Result<()>,
) -> Result<()> {
    let (flags, staging) = memory.split_at_mut(plan.staging_at());
    let flags = &mut flags[..plan.len()];
    for &position in plan.steps(phase) {
        let position = position as usize;
        if !plan.triggered(position, flags) {
            continue;
        }
        let Some(recompute) = plan.recompute(position) else {
            continue;
        };
        let child = plan.page(position);
        let slot = plan.slot(position);
        // Slots are laid out in step order, so every parent's lies before this one.
        let (staged, rest) = staging.split_at_mut(slot.start);
        let out = &mut rest[..slot.len()];
        let current = state.page(child)?.data();
        let mut parents = plan.parents(position);
        let single: [&[u8]; 1];
        let mut inline: [&[u8]; INLINE_PARENTS];
        let spilled: Vec<&[u8]>;
        let inputs: &[&[u8]] = match parents.len() {
            // One parent (a copy, a chain) is the common case: no array of empty slices to fill.
            1 => {
                let (page, at) = parents.next().unwrap_or_default();
                single = [plan.input(state, flags, staged, page, at)?];
                &single
            }
            count if count <= INLINE_PARENTS => {
                inline = [&[]; INLINE_PARENTS];
                for (input, (page, at)) in inline.iter_mut().zip(parents) {
                    *input = plan.input(state, flags, staged, page, at)?;
                }
                &inline[..count]
            }
            _ => {
                spilled = parents
                    .map(|(page, at)| plan.input(state, flags, staged, page, at))
                    .collect::<Result<_>>()?;
                &spilled
            }
        };
        let step = Step {
            position,
            child,
            recompute,
            parents: inputs,
            current,
        };
        compute(&step, out)?;
        flags[position] = if same_bytes(out, current) {
            FLAG_SAME
        } else {
            FLAG_CHANGED
        };
    }
    Ok(())
}

/// Pages up to this size are compared in the loop, not through a call to memcmp.
const SMALL_PAGE_BYTES: usize = 32;

fn same_bytes(left: &[u8], right: &[u8]) -> bool {
    if left.len() <= SMALL_PAGE_BYTES {
        left.len() == right.len() && left.iter().zip(right).all(|(left, right)| left == right)
    } else {
        left == right
    }
}

/// What a wave's flags say it did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    /// Recomputes run.
    pub recomputed: u64,
    /// Recomputes whose output differed from their page.
    pub changed: u64,
    /// Recomputes whose output equalled their page.
    pub cut_off: u64,
}

/// Counts the flags of a wave.
pub(crate) fn tally(flags: &[u8]) -> Tally {
    let mut tally = Tally::default();
    for &flag in flags {
        tally.changed += u64::from(flag == FLAG_CHANGED);
        tally.cut_off += u64::from(flag == FLAG_SAME);
    }
    tally.recomputed = tally.changed + tally.cut_off;
    tally
}

/// The outputs a finished wave staged, to apply as one batch.
pub struct Outputs<'a> {
    plan: &'a Plan,
    memory: &'a [u8],
    count: usize,
    checked: bool,
}

impl<'a> Outputs<'a> {
    pub(crate) fn new(plan: &'a Plan, memory: &'a [u8], count: usize, checked: bool) -> Outputs<'a> {
        Outputs {
            plan,
            memory,
            count,
            checked,
        }
    }

    /// True when every output is known to apply to the state as it is: the
    /// wave ran in Rust alone, within this call, after looking up each page it
    /// changed (live) and staging exactly that page's size. Outputs an
    /// embedding staged between calls are checked before they are applied.
    pub fn checked(&self) -> bool {
        self.checked
    }

    /// How many pages the wave changed.
    pub fn count(&self) -> usize {
        self.count
    }

    /// The changed pages and their new bytes, in visit order.
    pub fn iter(&self) -> impl Iterator<Item = (PageId, &'a [u8])> + '_ {
        let (flags, staging) = self.memory.split_at(self.plan.staging_at());
        flags[..self.plan.len()]
            .iter()
            .enumerate()
            .filter(|(_, &flag)| flag == FLAG_CHANGED)
            .map(move |(position, _)| (self.plan.page(position), &staging[self.plan.slot(position)]))
    }

    /// Writes the wave record body of the outputs into `body` (cleared
    /// first), straight from the staged bytes (log/wave_body.rs). The buffer
    /// is kept between waves, so it seldom grows.
    pub fn write_log_body(&self, body: &mut Vec<u8>) {
        wave_body::encode(self.count, self.iter(), body);
    }
}

/// A staged output as the delta that applies it.
pub fn propagated(page_id: PageId, bytes: &[u8]) -> Delta<&[u8]> {
    Delta {
        page_id,
        payload: Payload::Dense(bytes),
        source: Source::Propagation,
        expect_epoch: None,
    }
}
