//! The ShadowPageGraph: typed dependency edges `parent → child` between pages.
//!
//! Invariants:
//! - The graph is acyclic: an edge that would close a cycle is refused with
//!   `GRAPH_CYCLE`, naming the cycle, and the graph is left unchanged.
//! - `height(child) > height(parent)` for every edge, so heights order the
//!   pages topologically. Heights are raised incrementally when an edge is
//!   added (only the new child and the descendants whose order it breaks are
//!   visited) and never lowered when one is removed: they stay a valid order,
//!   not necessarily the shortest one.
//! - A child's parents keep the order their edges were added in; built-in
//!   transforms such as concatenation read them in that order.
//! - Every page in the graph is live: releasing a page removes its edges.

use crate::id_map::{IdMap, IdSet};

use crate::error::{fail, Result};
use crate::page::PageId;

/// What an edge means to the application; the engine treats all kinds alike.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum EdgeKind {
    Data = 0,
    Control = 1,
    GpuSync = 2,
    Compiler = 3,
}

impl crate::names::Named for EdgeKind {
    const ALL: &'static [EdgeKind] = &[EdgeKind::Data, EdgeKind::Control, EdgeKind::GpuSync, EdgeKind::Compiler];
    const WHAT: &'static str = "edge kind";

    fn name(self) -> &'static str {
        self.as_str()
    }
}

impl EdgeKind {
    pub fn from_u8(value: u8) -> Option<EdgeKind> {
        Some(match value {
            0 => EdgeKind::Data,
            1 => EdgeKind::Control,
            2 => EdgeKind::GpuSync,
            3 => EdgeKind::Compiler,
            _ => return None,
        })
    }

    pub fn parse(name: &str) -> Result<EdgeKind> {
        crate::names::parse(name, crate::ErrorCode::InvalidArgument)
    }

    pub const fn as_str(self) -> &'static str {
        match self {
            EdgeKind::Data => "data",
            EdgeKind::Control => "control",
            EdgeKind::GpuSync => "gpu_sync",
            EdgeKind::Compiler => "compiler",
        }
    }
}

/// One edge.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Edge {
    pub parent: PageId,
    pub child: PageId,
    pub kind: EdgeKind,
}

/// Adjacency and heights are vectors indexed by page id (ids are dense), grown
/// to the highest id that has an edge: lookups on the wave's hot path are
/// array reads, not hash probes. A page below that id without edges costs an
/// empty slot (52 bytes); a bus without edges costs nothing.
#[derive(Clone, Default)]
pub struct Graph {
    /// Each child's parents, in the order their edges were added.
    parents: Vec<Vec<(PageId, EdgeKind)>>,
    children: Vec<Vec<PageId>>,
    /// Heights; a page without a parent is at height 0.
    heights: Vec<u32>,
    edge_count: usize,
}

impl Graph {
    pub fn edge_count(&self) -> usize {
        self.edge_count
    }

    pub fn height(&self, page: PageId) -> u32 {
        self.heights.get(page as usize).copied().unwrap_or(0)
    }

    pub fn parents(&self, child: PageId) -> &[(PageId, EdgeKind)] {
        self.parents.get(child as usize).map_or(&[], Vec::as_slice)
    }

    pub fn children(&self, parent: PageId) -> &[PageId] {
        self.children.get(parent as usize).map_or(&[], Vec::as_slice)
    }

    /// One past the highest page id that has (or had) an edge.
    pub fn id_bound(&self) -> usize {
        self.heights.len()
    }

    /// Every edge: children in increasing id, each child's parents in their
    /// order. The same graph always lists the same way (hash, checkpoints).
    pub fn edges(&self) -> Vec<Edge> {
        self.parents
            .iter()
            .enumerate()
            .flat_map(|(child, parents)| {
                parents.iter().map(move |&(parent, kind)| Edge {
                    parent,
                    child: child as PageId,
                    kind,
                })
            })
            .collect()
    }

    /// Checks that `parent → child` may be added: not a self-edge, not a
    /// duplicate, and closing no cycle (the error names the cycle).
    pub fn check_add(&self, parent: PageId, child: PageId) -> Result<()> {
        if parent == child {
            return fail!(
                GraphCycle,
                "edge {parent} → {child} is a self-edge (a cycle of one page)"
            );
        }
        if self.parents(child).iter().any(|&(existing, _)| existing == parent) {
            return fail!(EdgeExists, "edge {parent} → {child} already exists");
        }
        if let Some(path) = self.path(child, parent) {
            let cycle: Vec<String> = std::iter::once(parent)
                .chain(path)
                .map(|page| page.to_string())
                .collect();
            return fail!(
                GraphCycle,
                "edge {parent} → {child} would close the cycle {}",
                cycle.join(" → ")
            );
        }
        Ok(())
    }

    /// Adds an edge that `check_add` accepted, raising heights as needed.
    pub fn add(&mut self, edge: Edge) {
        debug_assert!(self.check_add(edge.parent, edge.child).is_ok());
        let bound = edge.parent.max(edge.child) as usize + 1;
        if self.heights.len() < bound {
            self.parents.resize_with(bound, Vec::new);
            self.children.resize_with(bound, Vec::new);
            self.heights.resize(bound, 0);
        }
        self.parents[edge.child as usize].push((edge.parent, edge.kind));
        self.children[edge.parent as usize].push(edge.child);
        self.edge_count += 1;
        let mut raised = vec![(edge.parent, edge.child)];
        while let Some((above, below)) = raised.pop() {
            let needed = self.height(above) + 1;
            if self.height(below) < needed {
                self.heights[below as usize] = needed;
                raised.extend(self.children(below).iter().map(|&grandchild| (below, grandchild)));
            }
        }
    }

    pub fn check_remove(&self, parent: PageId, child: PageId) -> Result<()> {
        if !self.parents(child).iter().any(|&(existing, _)| existing == parent) {
            return fail!(EdgeNotFound, "there is no edge {parent} → {child}");
        }
        Ok(())
    }

    /// Removes an edge that `check_remove` accepted.
    pub fn remove(&mut self, parent: PageId, child: PageId) {
        self.parents[child as usize].retain(|&(existing, _)| existing != parent);
        self.children[parent as usize].retain(|&existing| existing != child);
        self.edge_count -= 1;
        if self.parents[child as usize].is_empty() {
            self.heights[child as usize] = 0;
        }
    }

    /// Removes every edge of a page (it is being released).
    pub fn remove_page(&mut self, page: PageId) {
        for (parent, _) in self.parents(page).to_vec() {
            self.remove(parent, page);
        }
        for child in self.children(page).to_vec() {
            self.remove(page, child);
        }
    }

    /// A path `from → … → to` along edges, if there is one. Only pages
    /// below `to`'s height can lie on it, which bounds the search.
    fn path(&self, from: PageId, to: PageId) -> Option<Vec<PageId>> {
        let limit = self.height(to);
        let mut came_from: IdMap<PageId> = IdMap::default();
        let mut seen: IdSet = IdSet::default();
        seen.insert(from);
        let mut stack = vec![from];
        while let Some(page) = stack.pop() {
            if page == to {
                let mut path = vec![to];
                let mut step = to;
                while let Some(&previous) = came_from.get(&step) {
                    path.push(previous);
                    step = previous;
                }
                path.reverse();
                return Some(path);
            }
            for &child in self.children(page) {
                if (child == to || self.height(child) < limit) && seen.insert(child) {
                    came_from.insert(child, page);
                    stack.push(child);
                }
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn edge(parent: PageId, child: PageId) -> Edge {
        Edge {
            parent,
            child,
            kind: EdgeKind::Data,
        }
    }

    #[test]
    fn a_cycle_is_refused_naming_it() {
        let mut graph = Graph::default();
        graph.add(edge(1, 2));
        graph.add(edge(2, 3));
        let error = graph.check_add(3, 1).unwrap_err();
        assert_eq!(error.code, crate::ErrorCode::GraphCycle);
        assert!(error.message.contains("3 → 1 → 2 → 3"), "{}", error.message);
        assert_eq!(graph.check_add(2, 2).unwrap_err().code, crate::ErrorCode::GraphCycle);
        assert_eq!(graph.check_add(1, 2).unwrap_err().code, crate::ErrorCode::EdgeExists);
    }

    #[test]
    fn heights_rise_along_new_edges_and_removal_keeps_them_ordered() {
        let mut graph = Graph::default();
        graph.add(edge(2, 3));
        graph.add(edge(3, 4));
        graph.add(edge(1, 2));
        assert_eq!(
            (graph.height(1), graph.height(2), graph.height(3), graph.height(4)),
            (0, 1, 2, 3)
        );
        graph.remove(1, 2);
        assert_eq!(graph.height(2), 0, "a page without parents is at height 0");
        assert!(graph.height(4) > graph.height(3) && graph.height(3) > graph.height(2));
        graph.remove_page(3);
        assert_eq!(graph.edge_count(), 0);
    }
}
