//! Waves: built-in recomputes run whole in the core, and the plan a
//! JavaScript wave follows.

use mmsb_core::propagation::{self, Transform};
use mmsb_core::PageId;
use napi::bindgen_prelude::{Float64Array, Uint8Array, Uint8ArraySlice};
use napi_derive::napi;

use crate::convert::{fail, invalid, to_page_ids, to_u64, Result};
use crate::state::NativeState;

/// What a native wave did.
#[napi(object)]
pub struct WaveInfo {
    pub recomputed: f64,
    pub cut_off: f64,
    /// The height of the deepest page the wave visited.
    pub max_height: f64,
    pub changed_count: f64,
    /// The pages the wave changed, in wave order, when asked for.
    pub changed_pages: Option<Vec<f64>>,
}

#[napi]
impl NativeState {
    /// Sets a page's built-in recompute (`copy`, `concat`, `xor`), or removes it with `null`.
    #[napi]
    pub fn set_transform(&mut self, child: f64, transform: Option<String>) -> Result<()> {
        let transform = transform
            .map(|name| Transform::parse(&name))
            .transpose()
            .map_err(fail)?;
        self.store
            .set_transform(to_u64(child, "page id")?, transform)
            .map_err(fail)
    }

    /// Runs a wave through the built-in recomputes only and applies it;
    /// `list_pages` asks for the changed pages (a million-page wave need not
    /// build a million-element array nobody reads).
    #[napi]
    pub fn propagate(&mut self, changed: Float64Array, list_pages: bool) -> Result<WaveInfo> {
        let changed = to_page_ids(&changed)?;
        let outcome = self.store.propagate(&changed).map_err(fail)?;
        Ok(WaveInfo {
            recomputed: outcome.recomputed as f64,
            cut_off: outcome.cut_off as f64,
            max_height: f64::from(outcome.max_height),
            changed_count: outcome.outputs.len() as f64,
            changed_pages: list_pages.then(|| outcome.outputs.iter().map(|(page, _)| *page as f64).collect()),
        })
    }

    /// The plan of a wave, packed for one crossing: per descendant in order,
    /// `child, transform (0 none, 1 copy, 2 concat, 3 xor), parent count`, then
    /// per parent `parent id, where`: `where` is the parent's position in this
    /// plan, -2 for a page the commit changed, or -1 for a page the wave does
    /// not change. Positions spare the JavaScript loop any id lookups.
    #[napi]
    pub fn plan_wave(&self, changed: Float64Array) -> Result<Float64Array> {
        let changed = to_page_ids(&changed)?;
        let graph = self.store.graph();
        let order = propagation::plan(graph, &changed);
        let mut position = vec![u32::MAX; graph.id_bound()];
        for (index, &child) in order.iter().enumerate() {
            position[child as usize] = index as u32;
        }
        let roots: std::collections::HashSet<PageId> = changed.iter().copied().collect();
        let mut packed = Vec::new();
        for &child in &order {
            let parents = graph.parents(child);
            let transform = match self.store.transform(child) {
                None => 0.0,
                Some(Transform::Copy) => 1.0,
                Some(Transform::Concat) => 2.0,
                Some(Transform::Xor) => 3.0,
            };
            packed.extend([child as f64, transform, parents.len() as f64]);
            for &(parent, _) in parents {
                let place = match position[parent as usize] {
                    u32::MAX if roots.contains(&parent) => -2.0,
                    u32::MAX => -1.0,
                    index => f64::from(index),
                };
                packed.extend([parent as f64, place]);
            }
        }
        Ok(packed.into())
    }

    /// Computes a page's built-in recompute from the given parent bytes.
    #[napi]
    pub fn compute_transform(&self, child: f64, inputs: Vec<Uint8ArraySlice>) -> Result<Uint8Array> {
        let child = to_u64(child, "page id")?;
        let size = self.store.page(child).map_err(fail)?.size() as usize;
        let Some(transform) = self.store.transform(child) else {
            return Err(invalid(format!("page {child} has no built-in recompute")));
        };
        let inputs: Vec<&[u8]> = inputs.iter().map(|input| input.as_ref()).collect();
        let mut output = vec![0u8; size];
        transform.compute(child, &inputs, &mut output).map_err(fail)?;
        Ok(output.into())
    }
}
