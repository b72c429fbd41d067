//! The graph against a naive model: random edge additions and removals are
//! accepted or refused exactly as a plain reachability search says, a refused
//! change leaves the graph as it was, heights order every edge, and the graph
//! survives checkpoints and reopening.

mod support;

use std::collections::HashSet;

use mmsb_core::graph::{Edge, EdgeKind};
use mmsb_core::{ErrorCode, Location, Store};
use proptest::prelude::*;
use support::Scratch;

const PAGES: u64 = 8;

fn reaches(edges: &[(u64, u64)], from: u64, to: u64) -> bool {
    let mut seen = HashSet::new();
    let mut stack = vec![from];
    while let Some(page) = stack.pop() {
        if page == to {
            return true;
        }
        if seen.insert(page) {
            stack.extend(
                edges
                    .iter()
                    .filter(|(parent, _)| *parent == page)
                    .map(|(_, child)| *child),
            );
        }
    }
    false
}

fn edge(parent: u64, child: u64) -> Edge {
    Edge {
        parent,
        child,
        kind: EdgeKind::Data,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn edges_are_accepted_and_refused_as_the_model_says(
        operations in prop::collection::vec((any::<bool>(), 1..=PAGES, 1..=PAGES), 1..60),
        checkpoint_at in 0usize..60,
    ) {
        let scratch = Scratch::new("graph");
        let mut store = support::open(scratch.path()).unwrap();
        store.create_pages(PAGES, 8, Location::Cpu).unwrap();
        let mut model: Vec<(u64, u64)> = Vec::new();
        for (index, (add, parent, child)) in operations.into_iter().enumerate() {
            if index == checkpoint_at {
                store.checkpoint(false).unwrap();
            }
            let before = (store.state_hash(), store.graph().edges());
            let exists = model.contains(&(parent, child));
            let refused = if add {
                let result = store.add_edge(edge(parent, child));
                if exists {
                    Some((result.unwrap_err().code, ErrorCode::EdgeExists))
                } else if parent == child || reaches(&model, child, parent) {
                    Some((result.unwrap_err().code, ErrorCode::GraphCycle))
                } else {
                    result.unwrap();
                    model.push((parent, child));
                    None
                }
            } else {
                let result = store.remove_edge(parent, child);
                if exists {
                    result.unwrap();
                    model.retain(|&existing| existing != (parent, child));
                    None
                } else {
                    Some((result.unwrap_err().code, ErrorCode::EdgeNotFound))
                }
            };
            if let Some((code, expected)) = refused {
                prop_assert_eq!(code, expected);
                prop_assert_eq!((store.state_hash(), store.graph().edges()), before, "a refused change leaves the graph as it was");
            }
            for &(parent, child) in &model {
                prop_assert!(store.graph().height(child) > store.graph().height(parent));
            }
        }
        let hash = store.state_hash();
        let edges = store.graph().edges();
        store.sync_job().unwrap().run().unwrap();
        drop(store);
        let reopened = support::open(scratch.path()).unwrap();
        prop_assert_eq!(reopened.state_hash(), hash);
        prop_assert_eq!(reopened.graph().edges(), edges);
    }
}

#[test]
fn edges_to_unknown_or_released_pages_are_refused_and_release_drops_edges() {
    let mut store = Store::memory();
    let first = store.create_pages(3, 8, Location::Cpu).unwrap();
    assert_eq!(
        store.add_edge(edge(first, 99)).unwrap_err().code,
        ErrorCode::PageNotFound
    );
    store.add_edge(edge(first, first + 1)).unwrap();
    store.add_edge(edge(first + 1, first + 2)).unwrap();
    store.release_page(first + 1).unwrap();
    assert_eq!(store.graph().edge_count(), 0);
    assert_eq!(
        store.add_edge(edge(first, first + 1)).unwrap_err().code,
        ErrorCode::PageReleased
    );
    assert_eq!(
        store.remove_edge(first, first + 2).unwrap_err().code,
        ErrorCode::EdgeNotFound
    );
}
