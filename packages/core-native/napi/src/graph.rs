//! The ShadowPageGraph: edges and heights.

use mmsb_core::graph::{Edge, EdgeKind};
use napi_derive::napi;

use crate::convert::{fail, to_u64, Result};
use crate::state::NativeState;

/// An edge seen from its child.
#[napi(object)]
pub struct ParentEdge {
    pub parent: f64,
    pub kind: String,
}

#[napi]
impl NativeState {
    /// Adds the edge `parent → child` of `kind`; a cycle is refused with GRAPH_CYCLE.
    #[napi]
    pub fn add_edge(&mut self, parent: f64, child: f64, kind: String) -> Result<()> {
        let edge = Edge {
            parent: to_u64(parent, "parent")?,
            child: to_u64(child, "child")?,
            kind: EdgeKind::parse(&kind).map_err(fail)?,
        };
        self.store.add_edge(edge).map_err(fail)
    }

    #[napi]
    pub fn remove_edge(&mut self, parent: f64, child: f64) -> Result<()> {
        self.store
            .remove_edge(to_u64(parent, "parent")?, to_u64(child, "child")?)
            .map_err(fail)
    }

    /// A page's parents, in the order their edges were added.
    #[napi]
    pub fn parents(&self, child: f64) -> Result<Vec<ParentEdge>> {
        let child = to_u64(child, "page id")?;
        self.store.page(child).map_err(fail)?;
        Ok(self
            .store
            .graph()
            .parents(child)
            .iter()
            .map(|&(parent, kind)| ParentEdge {
                parent: parent as f64,
                kind: kind.as_str().to_owned(),
            })
            .collect())
    }

    #[napi]
    pub fn children(&self, parent: f64) -> Result<Vec<f64>> {
        let parent = to_u64(parent, "page id")?;
        self.store.page(parent).map_err(fail)?;
        Ok(self
            .store
            .graph()
            .children(parent)
            .iter()
            .map(|&child| child as f64)
            .collect())
    }

    #[napi]
    pub fn edge_count(&self) -> f64 {
        self.store.graph().edge_count() as f64
    }

    #[napi]
    pub fn height(&self, page: f64) -> Result<f64> {
        let page = to_u64(page, "page id")?;
        self.store.page(page).map_err(fail)?;
        Ok(f64::from(self.store.graph().height(page)))
    }
}
