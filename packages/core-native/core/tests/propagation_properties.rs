//! The wave engine against a naive evaluator on random DAGs with random
//! mixes of built-in and embedding (script) recomputes: every wave gives the
//! evaluator's bytes, runs each script recompute once and after the script
//! recomputes of its parents, counts what the evaluator counts, and logs a
//! record that replays to the same state. And the wave limit: a wave that
//! visits more pages than the limit is refused before anything is recomputed
//! and changes nothing; at or under the limit it runs.

mod support;

use std::collections::HashSet;

use mmsb_core::graph::{Edge, EdgeKind};
use mmsb_core::propagation::{run_phase, Recompute, Transform, WaveStep, WaveSummary};
use mmsb_core::{ErrorCode, Location, PageId, Result, Store};
use proptest::prelude::*;
use support::Scratch;

const SIZE: usize = 8;

/// What a page's recompute is, as generated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Script,
    Copy,
    Xor,
}

/// Which recomputes a case may register.
#[derive(Clone, Copy, Debug)]
enum Mix {
    Builtins,
    Scripts,
    Mixed,
}

/// A case: pages `0..pages`, edges from lower to higher index (so index order
/// is topological), a kind per page, and commits of (page, bytes).
#[derive(Clone, Debug)]
struct Case {
    pages: usize,
    edges: Vec<(usize, usize)>,
    kinds: Vec<Kind>,
    commits: Vec<(usize, [u8; SIZE])>,
}

fn case(mix: Mix) -> impl Strategy<Value = Case> {
    (3usize..14).prop_flat_map(move |pages| {
        let edges = prop::collection::hash_set((0..pages, 0..pages), 0..pages * 3)
            .prop_map(|edges| edges.into_iter().filter(|(from, to)| from < to).collect::<Vec<_>>());
        let kinds = prop::collection::vec(
            match mix {
                Mix::Builtins => prop_oneof![Just(Kind::Copy), Just(Kind::Xor)].boxed(),
                Mix::Scripts => Just(Kind::Script).boxed(),
                Mix::Mixed => prop_oneof![Just(Kind::Script), Just(Kind::Copy), Just(Kind::Xor)].boxed(),
            },
            pages,
        );
        let commits = prop::collection::vec((0..pages, any::<[u8; SIZE]>()), 1..8);
        (Just(pages), edges, kinds, commits).prop_map(|(pages, mut edges, mut kinds, commits)| {
            edges.sort_unstable();
            let parents = |child: usize| edges.iter().filter(|(_, to)| *to == child).count();
            // A copy needs exactly one parent; xor stands in for it elsewhere.
            for (child, kind) in kinds.iter_mut().enumerate() {
                if *kind == Kind::Copy && parents(child) != 1 {
                    *kind = Kind::Xor;
                }
            }
            Case {
                pages,
                edges,
                kinds,
                commits,
            }
        })
    })
}

impl Case {
    fn parents(&self, child: usize) -> Vec<usize> {
        self.edges
            .iter()
            .filter(|(_, to)| *to == child)
            .map(|(from, _)| *from)
            .collect()
    }

    /// The pages the wave of `root` visits.
    fn descendants(&self, root: usize) -> usize {
        let mut seen = HashSet::new();
        let mut stack = vec![root];
        while let Some(page) = stack.pop() {
            for &(from, to) in &self.edges {
                if from == page && seen.insert(to) {
                    stack.push(to);
                }
            }
        }
        seen.len()
    }

    /// A store holding the case's pages (ids `first..`), edges and recomputes.
    fn store(&self, store: &mut Store) -> PageId {
        let first = store
            .create_pages(self.pages as u64, SIZE as u64, Location::Cpu)
            .unwrap();
        for &(from, to) in &self.edges {
            store
                .add_edge(Edge {
                    parent: first + from as u64,
                    child: first + to as u64,
                    kind: EdgeKind::Data,
                })
                .unwrap();
        }
        for (index, kind) in self.kinds.iter().enumerate() {
            if self.parents(index).is_empty() {
                continue;
            }
            let recompute = match kind {
                Kind::Script => Recompute::Script,
                Kind::Copy => Recompute::Builtin(Transform::Copy),
                Kind::Xor => Recompute::Builtin(Transform::Xor),
            };
            store.set_recompute(first + index as u64, Some(recompute)).unwrap();
        }
        first
    }
}

/// The script recompute of page `index`: a coarse mix of its parents, so that
/// different inputs often give equal outputs (cutoff).
fn mixer(index: usize, parents: &[&[u8]], out: &mut [u8]) {
    out.fill(0);
    for parent in parents {
        for (byte, input) in out.iter_mut().zip(parent.iter()) {
            *byte = byte.wrapping_add(input.wrapping_mul(index as u8 + 1));
        }
    }
    for byte in out.iter_mut() {
        *byte &= 0xf0;
    }
}

/// Runs the wave of `root` as an embedding does, its script phases through
/// `run_phase`; `calls` gets the script recomputes in the order they ran.
fn wave(store: &mut Store, first: PageId, root: PageId, limit: usize, calls: &mut Vec<PageId>) -> Result<WaveSummary> {
    let mut memory = Vec::new();
    let mut step = store.begin_wave(&[root], limit, Some(&mut memory), true)?;
    loop {
        match step {
            WaveStep::Done(summary) => return Ok(summary),
            WaveStep::NeedMemory { bytes } => memory.resize(bytes, 0),
            WaveStep::Script { phase } => {
                let plan = std::sync::Arc::clone(store.propagation().pending_plan().unwrap());
                run_phase(&plan, &plan.phases()[phase], store.state(), &mut memory, |step, out| {
                    assert_eq!(step.recompute, Recompute::Script);
                    calls.push(step.child);
                    mixer((step.child - first) as usize, step.parents, out);
                    Ok(())
                })?;
            }
        }
        step = store.resume_wave(Some(&mut memory))?;
    }
}

/// The naive evaluator: every page in index order, recomputed when a parent
/// changed; returns the script recomputes it ran and the counts.
fn evaluate(case: &Case, model: &mut [[u8; SIZE]], root: usize) -> (Vec<usize>, u64, u64) {
    let mut changed = HashSet::from([root]);
    let (mut calls, mut recomputed, mut changes) = (Vec::new(), 0, 0);
    for index in 0..case.pages {
        let parents = case.parents(index);
        if parents.is_empty() || !parents.iter().any(|parent| changed.contains(parent)) {
            continue;
        }
        let inputs: Vec<&[u8]> = parents.iter().map(|&parent| &model[parent][..]).collect();
        let mut out = [0u8; SIZE];
        match case.kinds[index] {
            Kind::Script => {
                calls.push(index);
                mixer(index, &inputs, &mut out);
            }
            Kind::Copy => out.copy_from_slice(inputs[0]),
            Kind::Xor => {
                for input in &inputs {
                    out.iter_mut()
                        .zip(input.iter())
                        .for_each(|(byte, other)| *byte ^= other);
                }
            }
        }
        recomputed += 1;
        if out != model[index] {
            model[index] = out;
            changed.insert(index);
            changes += 1;
        }
    }
    (calls, recomputed, changes)
}

fn apply(store: &mut Store, page: PageId, bytes: [u8; SIZE]) {
    store.apply(&support::dense(page, bytes.to_vec())).unwrap();
}

fn check_against_evaluator(case: Case, durable: bool) {
    let scratch = Scratch::new("waves");
    let mut store = if durable {
        support::open(scratch.path()).unwrap()
    } else {
        Store::memory()
    };
    let first = case.store(&mut store);
    let mut model = vec![[0u8; SIZE]; case.pages];
    for &(root, bytes) in &case.commits {
        apply(&mut store, first + root as u64, bytes);
        model[root] = bytes;
        let mut calls = Vec::new();
        let summary = wave(&mut store, first, first + root as u64, usize::MAX, &mut calls).unwrap();
        let (expected_calls, recomputed, changed) = evaluate(&case, &mut model, root);
        let expected_calls: Vec<PageId> = expected_calls.iter().map(|&index| first + index as u64).collect();
        let mut sorted = calls.clone();
        sorted.sort_unstable();
        assert_eq!(
            sorted, expected_calls,
            "each script recompute once, exactly those the evaluator ran"
        );
        for (position, &child) in calls.iter().enumerate() {
            for parent in case.parents((child - first) as usize) {
                if let Some(parent_call) = calls.iter().position(|&call| call == first + parent as u64) {
                    assert!(parent_call < position, "page {child} ran before its parent");
                }
            }
        }
        assert_eq!((summary.tally.recomputed, summary.tally.changed), (recomputed, changed));
        assert_eq!(summary.changed_pages.map(|pages| pages.len() as u64), Some(changed));
        for (index, bytes) in model.iter().enumerate() {
            assert_eq!(
                store.read(first + index as u64, 0, SIZE as u64).unwrap(),
                bytes,
                "page index {index}"
            );
        }
    }
    if durable {
        let hash = store.state_hash();
        drop(store);
        assert_eq!(
            support::open(scratch.path()).unwrap().state_hash(),
            hash,
            "the logged waves replay"
        );
    }
}

fn check_limit(case: Case, limit: usize) {
    let mut store = Store::memory();
    let first = case.store(&mut store);
    let (root, bytes) = case.commits[0];
    apply(&mut store, first + root as u64, bytes);
    let before = store.state_hash();
    let stats = store.propagation().stats();
    let mut calls = Vec::new();
    let result = wave(&mut store, first, first + root as u64, limit, &mut calls);
    if case.descendants(root) > limit {
        assert_eq!(result.unwrap_err().code, ErrorCode::WaveLimit);
        assert!(calls.is_empty(), "nothing was recomputed");
        assert_eq!(store.state_hash(), before, "nothing changed");
        assert_eq!(store.propagation().stats().failed, stats.failed + 1);
        assert_eq!(store.propagation().stats().recomputed, stats.recomputed);
    } else {
        assert_eq!(result.unwrap().visited, case.descendants(root));
        assert_eq!(store.propagation().stats().waves, stats.waves + 1);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(150))]

    #[test]
    fn mixed_waves_equal_the_naive_evaluator(case in case(Mix::Mixed), durable in any::<bool>()) {
        check_against_evaluator(case, durable);
    }

    #[test]
    fn builtin_and_script_waves_equal_the_naive_evaluator(builtins in case(Mix::Builtins), scripts in case(Mix::Scripts)) {
        check_against_evaluator(builtins, false);
        check_against_evaluator(scripts, false);
    }

    #[test]
    fn the_wave_limit_holds_for_every_mix(
        builtins in case(Mix::Builtins),
        scripts in case(Mix::Scripts),
        mixed in case(Mix::Mixed),
        limit in 1usize..14,
    ) {
        check_limit(builtins, limit);
        check_limit(scripts, limit);
        check_limit(mixed, limit);
    }
}

/// Three pages `first → first + 1 → first + 2` (or as given), with recomputes.
fn chain(store: &mut Store, edges: &[(u64, u64)], recomputes: &[(u64, Recompute)]) -> PageId {
    let first = store.create_pages(3, SIZE as u64, Location::Cpu).unwrap();
    for &(parent, child) in edges {
        let edge = Edge {
            parent: first + parent,
            child: first + child,
            kind: EdgeKind::Data,
        };
        store.add_edge(edge).unwrap();
    }
    for &(child, recompute) in recomputes {
        store.set_recompute(first + child, Some(recompute)).unwrap();
    }
    first
}

/// Starts the wave of `root` and runs it to its first script phase; returns the plan's id.
fn plan_of_wave(store: &mut Store, root: PageId, memory: &mut Vec<u8>) -> u64 {
    if let WaveStep::NeedMemory { bytes } = store.begin_wave(&[root], usize::MAX, None, false).unwrap() {
        memory.resize(bytes, 0);
    }
    assert!(matches!(
        store.resume_wave(Some(memory)).unwrap(),
        WaveStep::Script { .. }
    ));
    store.propagation().pending_plan().unwrap().id()
}

#[test]
fn a_plan_is_reused_until_the_graph_or_a_registration_changes() {
    let mut store = Store::memory();
    let copy = Recompute::Builtin(Transform::Copy);
    let first = chain(&mut store, &[(0, 1), (1, 2)], &[(1, copy), (2, Recompute::Script)]);
    let mut memory = Vec::new();
    let plan = plan_of_wave(&mut store, first, &mut memory);
    store.resume_wave(Some(&mut memory)).unwrap();
    assert_eq!(
        plan_of_wave(&mut store, first, &mut memory),
        plan,
        "the same commit shape, the same plan"
    );
    store.abort_wave();
    store.set_recompute(first + 2, Some(Recompute::Script)).unwrap();
    let replanned = plan_of_wave(&mut store, first, &mut memory);
    assert_ne!(replanned, plan, "a registration drops the plans");
    store.abort_wave();
    store
        .add_edge(Edge {
            parent: first,
            child: first + 2,
            kind: EdgeKind::Data,
        })
        .unwrap();
    assert_ne!(
        plan_of_wave(&mut store, first, &mut memory),
        replanned,
        "so does an edge"
    );
    store.abort_wave();
    // A wave of pages without descendants is a wave too, and changes nothing.
    let summary = store.propagate(&[first + 2], usize::MAX).unwrap();
    assert_eq!((summary.visited, summary.tally.recomputed), (0, 0));
}

#[test]
fn a_failed_script_phase_applies_nothing_and_a_running_wave_refuses_another() {
    let mut store = Store::memory();
    let copy = Recompute::Builtin(Transform::Copy);
    let first = chain(&mut store, &[(0, 1), (1, 2)], &[(1, copy), (2, Recompute::Script)]);
    apply(&mut store, first, [5; SIZE]);
    let before = store.state_hash();
    let mut memory = Vec::new();
    // The built-in phase runs (page 1's copy is staged), then the wave pauses at the script.
    plan_of_wave(&mut store, first, &mut memory);
    let error = store
        .begin_wave(&[first + 1], usize::MAX, Some(&mut memory), false)
        .unwrap_err();
    assert_eq!(error.code, ErrorCode::InvalidArgument, "{}", error.message);
    store.abort_wave();
    assert_eq!(store.state_hash(), before, "the staged copy is not applied");
    assert_eq!(store.read(first + 1, 0, SIZE as u64).unwrap(), [0; SIZE]);
    assert_eq!(store.propagation().stats().failed, 2);
    let error = store.propagate(&[first], usize::MAX).unwrap_err();
    assert!(error.message.contains("begin_wave"), "{}", error.message);
    assert_eq!(store.state_hash(), before);
    assert!(store.resume_wave(None).is_err(), "no wave is running");
}
