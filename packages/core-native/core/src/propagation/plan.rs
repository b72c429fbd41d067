//! Planning a wave: the pages it visits and in what order, which of them run
//! in Rust and which in the embedding (in phases), and where each output is
//! staged in the wave's memory.
//!
//! A plan depends only on the graph, the registrations and the commit's pages,
//! so a store builds it once and keeps it until the graph or a registration
//! changes (`PlanCache`): a wave that repeats a commit's shape pays nothing
//! for planning, and its embedding can keep what it derived from the plan.
//!
//! Phases: a recomputed position runs in the first phase of its kind (even
//! phases run built-ins in Rust, odd ones the embedding's recomputes) that is
//! not before the phase of any recomputed parent. Within a phase positions run
//! in visit order, so every parent runs before its child, and the wave crosses
//! between Rust and the embedding only where a chain of dependencies does.

use std::ops::Range;

use crate::error::{fail, Error, ErrorCode, Result};
use crate::graph::Graph;
use crate::page::PageId;
use crate::state::State;

use super::recompute::{Recompute, Recomputes};

/// A position's flag in the wave's memory: not recomputed (yet) in this wave.
pub const FLAG_IDLE: u8 = 0;
/// Recomputed, and its output (staged in its slot) differs from its page.
pub const FLAG_CHANGED: u8 = 1;
/// Recomputed, and its output equals its page: cut off, nothing staged.
pub const FLAG_SAME: u8 = 2;

/// `parent_positions` of a parent outside the plan (a page no wave changes).
const NOT_IN_PLAN: u32 = u32::MAX;

/// One phase: a run of recomputes of one kind.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Phase {
    /// True for the embedding's recomputes, false for built-ins.
    pub script: bool,
    /// Its positions, as a range of `Plan::steps`.
    pub steps: Range<usize>,
}

/// The plan of a wave. Positions number the visited pages in visit order:
/// increasing height, then increasing id (deterministic, and sequential in
/// memory for pages created together).
///
/// The wave's memory, shared by the engine and the embedding:
///
/// ```text
/// memory  := flags | padding | staging
/// flags   := one byte per position (FLAG_IDLE, FLAG_CHANGED, FLAG_SAME)
/// padding := zero to 7 bytes, so that the staging area starts 8-aligned
/// staging := one slot per recomputed position, of its page's size, in step
///            order, each starting 8-aligned (a recompute may view its slot
///            as f64s, as it may its page)
/// ```
/// The alignment of the staging area and of every slot in it.
const SLOT_ALIGN: usize = 8;

pub struct Plan {
    id: u64,
    pages: Vec<PageId>,
    recomputes: Vec<Option<Recompute>>,
    /// Per position: true when a parent is one of the commit's pages, so the
    /// position is recomputed whatever the wave does before it.
    root_parent: Vec<bool>,
    /// The parents of position `i` are `parent_first[i]..parent_first[i + 1]`
    /// of the two vectors below, in edge order.
    parent_first: Vec<usize>,
    parent_pages: Vec<PageId>,
    parent_positions: Vec<u32>,
    /// Per position: where its slot starts in the staging area, and its size
    /// (0 for a position without a recompute).
    slots: Vec<usize>,
    sizes: Vec<usize>,
    /// Recomputed positions in the order they run, phase after phase.
    steps: Vec<u32>,
    phases: Vec<Phase>,
    staging_bytes: usize,
    height_max: u32,
}

impl Plan {
    /// Plans the wave of a commit that changed `roots` (sorted, without
    /// duplicates). A wave that would visit more than `limit` pages is refused
    /// with `WAVE_LIMIT` as soon as the search finds that many.
    pub(crate) fn build(
        id: u64,
        state: &State,
        recomputes: &Recomputes,
        roots: &[PageId],
        limit: usize,
    ) -> Result<Plan> {
        let graph = state.graph();
        let order = visit_order(graph, roots, limit)?;
        let count = order.len();
        if u32::try_from(count).is_err() {
            return fail!(
                InvalidArgument,
                "a wave of {count} pages has more positions than a plan holds"
            );
        }
        // 1 + position by page id; 0 for pages outside the plan (zeroed memory maps lazily).
        let mut position = vec![0u32; graph.id_bound()];
        for (index, &page) in order.iter().enumerate() {
            position[page as usize] = index as u32 + 1;
        }
        let mut plan = Plan {
            id,
            recomputes: Vec::with_capacity(count),
            root_parent: Vec::with_capacity(count),
            parent_first: Vec::with_capacity(count + 1),
            parent_pages: Vec::new(),
            parent_positions: Vec::new(),
            slots: vec![0; count],
            sizes: Vec::with_capacity(count),
            steps: Vec::new(),
            phases: Vec::new(),
            staging_bytes: 0,
            height_max: order.last().map_or(0, |&page| graph.height(page)),
            pages: order,
        };
        plan.parent_first.push(0);
        // The phase of each recomputed position (u32::MAX: not recomputed).
        let mut phase_of = vec![u32::MAX; count];
        let mut phase_count = 0;
        for index in 0..count {
            let page = plan.pages[index];
            let recompute = recomputes.get(page);
            let mut root_parent = false;
            let mut earliest = 0;
            for &(parent, _) in graph.parents(page) {
                let at = position
                    .get(parent as usize)
                    .map_or(NOT_IN_PLAN, |&at| at.wrapping_sub(1));
                root_parent |= roots.binary_search(&parent).is_ok();
                if let Some(&phase) = phase_of.get(at as usize).filter(|&&phase| phase != u32::MAX) {
                    earliest = earliest.max(phase);
                }
                plan.parent_pages.push(parent);
                plan.parent_positions.push(at);
            }
            plan.parent_first.push(plan.parent_pages.len());
            plan.root_parent.push(root_parent);
            plan.recomputes.push(recompute);
            let size = match recompute {
                Some(recompute) => {
                    let parity = u32::from(recompute == Recompute::Script);
                    let phase = earliest + ((earliest % 2) ^ parity);
                    phase_of[index] = phase;
                    phase_count = phase_count.max(phase as usize + 1);
                    state.page(page)?.size() as usize
                }
                None => 0,
            };
            plan.sizes.push(size);
        }
        // Steps: recomputed positions by phase (a counting sort keeps visit order within one).
        let mut starts = vec![0usize; phase_count + 1];
        for &phase in phase_of.iter().filter(|&&phase| phase != u32::MAX) {
            starts[phase as usize + 1] += 1;
        }
        for phase in 1..starts.len() {
            starts[phase] += starts[phase - 1];
        }
        plan.phases = (0..phase_count)
            .filter(|&phase| starts[phase] < starts[phase + 1])
            .map(|phase| Phase {
                script: phase % 2 == 1,
                steps: starts[phase]..starts[phase + 1],
            })
            .collect();
        plan.steps = vec![0; starts[phase_count]];
        for (index, &phase) in phase_of.iter().enumerate().filter(|(_, &phase)| phase != u32::MAX) {
            let slot = &mut starts[phase as usize];
            plan.steps[*slot] = index as u32;
            *slot += 1;
        }
        // Slots in step order: a parent's slot lies before its child's.
        for &step in &plan.steps {
            plan.staging_bytes = plan.staging_bytes.next_multiple_of(SLOT_ALIGN);
            plan.slots[step as usize] = plan.staging_bytes;
            plan.staging_bytes += plan.sizes[step as usize];
        }
        Ok(plan)
    }

    /// Unique among the plans of one store: an embedding may key what it
    /// derives from a plan by it.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// The number of pages the wave visits.
    pub fn len(&self) -> usize {
        self.pages.len()
    }

    /// True when the wave visits no page (the commit's pages have no children).
    pub fn is_empty(&self) -> bool {
        self.pages.is_empty()
    }

    /// The page at a position.
    #[inline]
    pub fn page(&self, position: usize) -> PageId {
        self.pages[position]
    }

    /// The recompute of the page at a position, when it has one.
    #[inline]
    pub fn recompute(&self, position: usize) -> Option<Recompute> {
        self.recomputes[position]
    }

    /// True when a parent of the position is one of the commit's pages.
    #[inline]
    pub fn root_parent(&self, position: usize) -> bool {
        self.root_parent[position]
    }

    /// The parents of a position in edge order: their pages, and their
    /// positions when the wave visits them.
    #[inline]
    pub fn parents(&self, position: usize) -> impl ExactSizeIterator<Item = (PageId, Option<usize>)> + '_ {
        let edges = self.parent_first[position]..self.parent_first[position + 1];
        self.parent_pages[edges.clone()]
            .iter()
            .zip(&self.parent_positions[edges])
            .map(|(&page, &at)| (page, (at != NOT_IN_PLAN).then_some(at as usize)))
    }

    /// The phases, in the order they run.
    pub fn phases(&self) -> &[Phase] {
        &self.phases
    }

    /// The positions a phase recomputes, in the order they run.
    #[inline]
    pub fn steps(&self, phase: &Phase) -> &[u32] {
        &self.steps[phase.steps.clone()]
    }

    /// Where a position's output is staged, within the staging area.
    #[inline]
    pub fn slot(&self, position: usize) -> Range<usize> {
        self.slots[position]..self.slots[position] + self.sizes[position]
    }

    /// Where the staging area starts in the wave's memory (after the flags, 8-aligned).
    pub fn staging_at(&self) -> usize {
        self.pages.len().next_multiple_of(SLOT_ALIGN)
    }

    /// The bytes of the wave's memory: the flags, padding, then the staging area.
    pub fn memory_bytes(&self) -> usize {
        self.staging_at() + self.staging_bytes
    }

    /// True when some phase is the embedding's.
    pub fn has_script(&self) -> bool {
        self.phases.iter().any(|phase| phase.script)
    }

    /// The height of the deepest page the wave visits.
    pub fn height_max(&self) -> u32 {
        self.height_max
    }

    /// True when the position is to be recomputed: a parent is one of the
    /// commit's pages or changed earlier in this wave (`flags`).
    #[inline]
    pub fn triggered(&self, position: usize, flags: &[u8]) -> bool {
        self.root_parent[position]
            || self.parent_positions[self.parent_first[position]..self.parent_first[position + 1]]
                .iter()
                .any(|&at| at != NOT_IN_PLAN && flags[at as usize] == FLAG_CHANGED)
    }

    /// The bytes a position reads as its parent `parent_page` at parent
    /// position `at`: the staged output when that parent changed in this
    /// wave, its page's bytes otherwise.
    #[inline]
    pub(crate) fn input<'a>(
        &self,
        state: &'a State,
        flags: &[u8],
        staged: &'a [u8],
        parent_page: PageId,
        at: Option<usize>,
    ) -> Result<&'a [u8]> {
        match at {
            Some(at) if flags[at] == FLAG_CHANGED => Ok(&staged[self.slot(at)]),
            _ => state.page(parent_page).map(|page| page.data()),
        }
    }
}

/// The descendants of `roots`, each once, by increasing height then id;
/// `WAVE_LIMIT` once more than `limit` are found.
fn visit_order(graph: &Graph, roots: &[PageId], limit: usize) -> Result<Vec<PageId>> {
    // A flag per page id below the graph's bound: a large zeroed allocation
    // is mapped lazily, so a small wave in a large graph touches little of it.
    let bound = graph.id_bound();
    let mut seen = vec![false; bound];
    let mut stack: Vec<PageId> = roots.to_vec();
    let mut found: Vec<PageId> = Vec::new();
    while let Some(page) = stack.pop() {
        for &child in graph.children(page) {
            if !std::mem::replace(&mut seen[child as usize], true) {
                found.push(child);
                stack.push(child);
            }
        }
        if found.len() > limit {
            return Err(over_limit(roots, None, limit));
        }
    }
    // By id: a scan of the flags when the wave covers much of the graph, else a sort.
    if found.len() >= bound / 16 {
        found.clear();
        found.extend((0..bound as PageId).filter(|&page| seen[page as usize]));
    } else {
        found.sort_unstable();
    }
    // Then a stable counting sort by height: heights are small, waves can be millions.
    let height_max = found.iter().map(|&page| graph.height(page)).max().unwrap_or(0);
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
    Ok(order)
}

/// The refusal of a wave that visits more pages than the limit: `visits`
/// when the plan was complete, else the search stopped past the limit.
pub(crate) fn over_limit(roots: &[PageId], visits: Option<usize>, limit: usize) -> Error {
    let mut pages: Vec<String> = roots.iter().take(8).map(|page| page.to_string()).collect();
    if roots.len() > 8 {
        pages.push("…".to_owned());
    }
    let visits = visits.map_or_else(|| format!("more than {limit}"), |visits| visits.to_string());
    Error::new(
        ErrorCode::WaveLimit,
        format!(
            "the wave of page(s) {} visits {visits} descendants, above the wave limit of {limit}; nothing was recomputed",
            pages.join(", ")
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::{Edge, EdgeKind};
    use crate::page::Location;
    use crate::propagation::Transform;
    use crate::state::nothing;

    /// Pages 1..=5: 1 → 2 → 3 → 4, and 1 → 5.
    fn state() -> State {
        let mut state = State::new();
        state.create_pages(5, 4, Location::Cpu, nothing).unwrap();
        for (parent, child) in [(1, 2), (2, 3), (3, 4), (1, 5)] {
            let edge = Edge {
                parent,
                child,
                kind: EdgeKind::Data,
            };
            state.add_edge(edge, nothing).unwrap();
        }
        state
    }

    #[test]
    fn phases_alternate_only_along_dependencies_and_slots_follow_steps() {
        let state = state();
        let mut recomputes = Recomputes::default();
        let copy = Some(Recompute::Builtin(Transform::Copy));
        for (page, recompute) in [(2, copy), (3, Some(Recompute::Script)), (4, copy), (5, copy)] {
            recomputes.set(page, recompute);
        }
        let plan = Plan::build(1, &state, &recomputes, &[1], 10).unwrap();
        // Visit order: height, then id.
        assert_eq!(
            (0..plan.len()).map(|position| plan.page(position)).collect::<Vec<_>>(),
            [2, 5, 3, 4]
        );
        let phases: Vec<(bool, Vec<u32>)> = plan
            .phases()
            .iter()
            .map(|phase| (phase.script, plan.steps(phase).to_vec()))
            .collect();
        // 5 needs nothing from the script, so it runs with 2 in the first built-in phase.
        assert_eq!(phases, [(false, vec![0, 1]), (true, vec![2]), (false, vec![3])]);
        assert_eq!(
            [plan.slot(0), plan.slot(1), plan.slot(2), plan.slot(3)],
            [0..4, 8..12, 16..20, 24..28],
            "slots follow the steps, each 8-aligned"
        );
        assert_eq!(
            plan.memory_bytes(),
            8 + 28,
            "four flags padded to 8, then the staging area"
        );
        assert!(plan.root_parent(0) && plan.root_parent(1) && !plan.root_parent(2));
        assert_eq!(plan.parents(2).collect::<Vec<_>>(), [(2, Some(0))]);
        let error = Plan::build(2, &state, &recomputes, &[1], 3).err().unwrap();
        assert_eq!(error.code, ErrorCode::WaveLimit);
        assert!(error.message.contains("more than 3"), "{}", error.message);
    }
}
