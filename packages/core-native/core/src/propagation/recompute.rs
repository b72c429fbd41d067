//! Which pages are recomputed, and by what: the registrations of a store.

use crate::page::PageId;

use super::transform::Transform;

/// How a page is recomputed when one of its parents changes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Recompute {
    /// A built-in, run in Rust within the wave.
    Builtin(Transform),
    /// A recompute of the embedding (a JavaScript callback of `@mmsb/bus`):
    /// the wave pauses before the phase that holds it, the embedding runs the
    /// phase into the wave's memory, and resumes the wave (`WaveStep::Script`).
    Script,
}

/// The recompute of each page, indexed by page id (ids are dense).
#[derive(Clone, Default)]
pub struct Recomputes(Vec<Option<Recompute>>);

impl Recomputes {
    /// The recompute registered for `page`, if any.
    pub fn get(&self, page: PageId) -> Option<Recompute> {
        self.0.get(page as usize).copied().flatten()
    }

    /// Registers (`None`: removes) the recompute of `page`.
    pub fn set(&mut self, page: PageId, recompute: Option<Recompute>) {
        let index = page as usize;
        if index >= self.0.len() {
            if recompute.is_none() {
                return;
            }
            self.0.resize(index + 1, None);
        }
        self.0[index] = recompute;
    }
}
