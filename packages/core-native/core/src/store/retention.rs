//! Retention and incremental-change tracking: which checkpoints and log
//! segments a data directory keeps, what time travel can reach, and what
//! changed since the newest checkpoint (the next incremental one's pages).

use std::collections::HashSet;

use super::journal::Durable;
use crate::checkpoint::checkpoint_name;
use crate::error::{Error, Result};
use crate::log::segment::segment_name;
use crate::page::PageId;
use crate::state::State;

/// Incremental checkpoints on top of one full checkpoint before the next is full.
pub(super) const INCREMENTAL_CHAIN_MAX: usize = 8;

/// The changes since the newest checkpoint.
pub(super) struct ChangesSince {
    pub(super) base_lsn: u64,
    /// Pages at or above this id were created since the base.
    pub(super) base_next_page_id: PageId,
    /// Incremental checkpoints between the base's full checkpoint and the base.
    pub(super) chain_length: usize,
    /// Pages below `base_next_page_id` changed since the base.
    pub(super) changed: HashSet<PageId>,
    /// Pages below `base_next_page_id` released since the base.
    pub(super) released: Vec<PageId>,
}

impl Durable {
    /// Records the writer's segment when an append or a checkpoint started a new one.
    pub(super) fn note_new_segment(&mut self) {
        let first_lsn = self.writer.segment_first_lsn();
        if self.segments.last() != Some(&first_lsn) {
            self.segments.push(first_lsn);
        }
    }

    /// The newest `checkpoints_retained` checkpoints: the window of time travel.
    pub(super) fn retained_window(&self) -> &[(u64, u64)] {
        let retained = self.options.checkpoints_retained.max(1);
        &self.checkpoints[self.checkpoints.len().saturating_sub(retained)..]
    }

    pub(super) fn log_first_lsn(&self) -> u64 {
        self.segments.first().copied().unwrap_or(1)
    }

    /// The base of the checkpoint at `lsn`, when the checkpoint is on disk.
    pub(super) fn base_of(&self, lsn: u64) -> Option<u64> {
        self.checkpoints
            .iter()
            .find(|&&(checkpoint, _)| checkpoint == lsn)
            .map(|&(_, base)| base)
    }

    /// The checkpoint at `lsn` and every base it needs, down to its full one;
    /// `None` when one of them is not on disk, or when a base is not older
    /// than the checkpoint that names it (damaged names would loop).
    pub(super) fn chain(&self, lsn: u64) -> Option<Vec<u64>> {
        let mut chain = vec![lsn];
        let mut newest = lsn;
        let mut base = self.base_of(lsn)?;
        while base != 0 {
            if base >= newest {
                return None;
            }
            chain.push(base);
            newest = base;
            base = self.base_of(base)?;
        }
        Some(chain)
    }

    /// The oldest LSN `state_at` can serve: 0 while the log starts at LSN 1,
    /// else the oldest checkpoint whose chain is on disk and whose log
    /// follows it. It depends on the files alone, not on the options.
    pub(super) fn oldest_reachable_lsn(&self, last_lsn: u64) -> u64 {
        let log_first = self.log_first_lsn();
        if log_first == 1 {
            return 0;
        }
        self.checkpoints
            .iter()
            .map(|&(lsn, _)| lsn)
            .find(|&lsn| lsn + 1 >= log_first && self.chain(lsn).is_some())
            .unwrap_or(last_lsn)
    }

    /// Deletes what retention no longer needs. Kept: the newest
    /// `checkpoints_retained` checkpoints with the bases they need, and the
    /// newest full checkpoint older than all of those (the fallback), with the
    /// log back to it. So any one damaged checkpoint file is survivable: a
    /// damaged increment falls back to an older link, a damaged base to the
    /// fallback and the log. Until a fallback exists, the whole log is kept.
    pub(super) fn retain(&mut self) -> Result<()> {
        let fs = self.fs.as_ref();
        let mut keep: HashSet<u64> = HashSet::new();
        for &(lsn, _) in self.retained_window() {
            keep.extend(self.chain(lsn).unwrap_or_else(|| vec![lsn]));
        }
        let oldest_kept = keep.iter().copied().min().unwrap_or(0);
        let fallback = self
            .checkpoints
            .iter()
            .rev()
            .find(|&&(lsn, base)| base == 0 && lsn < oldest_kept)
            .map(|&(lsn, _)| lsn);
        keep.extend(fallback);
        for &(lsn, _) in self.checkpoints.iter().filter(|(lsn, _)| !keep.contains(lsn)) {
            let path = self.checkpoint_dir.join(checkpoint_name(lsn));
            fs.remove(&path)
                .map_err(|error| Error::io("removing checkpoint", &path, &error))?;
        }
        self.checkpoints.retain(|(lsn, _)| keep.contains(lsn));
        if let Some(log_from) = fallback {
            while self.segments.len() > 1 && self.segments[1] <= log_from + 1 {
                let path = self.log_dir.join(segment_name(self.segments[0]));
                fs.remove(&path)
                    .map_err(|error| Error::io("removing segment", &path, &error))?;
                self.segments.remove(0);
            }
        }
        for dir in [&self.checkpoint_dir, &self.log_dir] {
            fs.sync_dir(dir)
                .map_err(|error| Error::io("syncing directory", dir, &error))?;
        }
        Ok(())
    }

    /// Notes a change for the next incremental checkpoint.
    pub(super) fn note_changed(&mut self, id: PageId) {
        if let Some(since) = self.since.as_mut().filter(|since| id < since.base_next_page_id) {
            since.changed.insert(id);
        }
    }

    pub(super) fn note_released(&mut self, id: PageId) {
        if let Some(since) = self.since.as_mut().filter(|since| id < since.base_next_page_id) {
            since.changed.remove(&id);
            since.released.push(id);
        }
    }
}

/// True when the pages an incremental checkpoint would hold are at most half
/// of the state's bytes (else a full checkpoint costs little more) and the
/// log written since the newest full checkpoint is smaller than the state.
pub(super) fn increment_pays(state: &State, since: &ChangesSince, log_bytes_since_full: u64) -> bool {
    let mut changed_bytes = 0u64;
    let mut total_bytes = 0u64;
    for (id, page) in state.pages() {
        total_bytes += page.size();
        if id >= since.base_next_page_id || since.changed.contains(&id) {
            changed_bytes += page.size();
        }
    }
    changed_bytes * 2 <= total_bytes && log_bytes_since_full < total_bytes
}
