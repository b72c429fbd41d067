//! The store's counters: one block of plain atomic cells that the store
//! updates as it works and that readers take without a call into it.
//!
//! Each cell holds an `f64` (as its bits), exact for integers up to 2^53, so
//! a binding can hand the block to JavaScript as one `Float64Array` over the
//! same memory: the bus reads the LSN a mutation got, whether a checkpoint is
//! due, and every statistic straight from it, and a metrics scrape costs no
//! call per operation. Cells are written atomically (the log's sync counters
//! from the thread that syncs); a reader sees each cell whole, never torn,
//! though not a consistent snapshot across cells.
//!
//! The order of `Counter` is the layout: a cell's index is its discriminant.
//! Adding a counter appends a variant and its name; none is ever reordered.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// One counter of the block; its discriminant is its cell's index.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(usize)]
pub enum Counter {
    /// The LSN of the last change (0 before any).
    Lsn,
    /// 1 when the log grew past `checkpoint_every_bytes` since the last checkpoint.
    CheckpointDue,
    /// The highest LSN known durable.
    DurableLsn,
    /// Live pages, and the bytes they hold.
    PagesLive,
    PageBytes,
    /// Deltas applied, by payload form (batches and waves count each delta).
    DeltasDense,
    DeltasSparse,
    DeltasRanges,
    /// Records appended to the log, and their stored bytes.
    LogAppends,
    LogBytes,
    /// Syncs of the log that completed, and the time they took.
    LogSyncs,
    LogSyncNanos,
    /// Checkpoints written, the bytes of the last one and the time they took in all.
    Checkpoints,
    CheckpointLastBytes,
    CheckpointNanos,
    /// Records replayed by recovery on open, and the time it took.
    RecoveryRecords,
    RecoveryNanos,
}

impl Counter {
    /// Every counter, in layout order.
    pub const ALL: [Counter; 17] = [
        Counter::Lsn,
        Counter::CheckpointDue,
        Counter::DurableLsn,
        Counter::PagesLive,
        Counter::PageBytes,
        Counter::DeltasDense,
        Counter::DeltasSparse,
        Counter::DeltasRanges,
        Counter::LogAppends,
        Counter::LogBytes,
        Counter::LogSyncs,
        Counter::LogSyncNanos,
        Counter::Checkpoints,
        Counter::CheckpointLastBytes,
        Counter::CheckpointNanos,
        Counter::RecoveryRecords,
        Counter::RecoveryNanos,
    ];

    /// The name bindings expose (camelCase, as the TypeScript API spells it).
    pub const fn name(self) -> &'static str {
        match self {
            Counter::Lsn => "lsn",
            Counter::CheckpointDue => "checkpointDue",
            Counter::DurableLsn => "durableLsn",
            Counter::PagesLive => "pagesLive",
            Counter::PageBytes => "pageBytes",
            Counter::DeltasDense => "deltasDense",
            Counter::DeltasSparse => "deltasSparse",
            Counter::DeltasRanges => "deltasRanges",
            Counter::LogAppends => "logAppends",
            Counter::LogBytes => "logBytes",
            Counter::LogSyncs => "logSyncs",
            Counter::LogSyncNanos => "logSyncNanos",
            Counter::Checkpoints => "checkpoints",
            Counter::CheckpointLastBytes => "checkpointLastBytes",
            Counter::CheckpointNanos => "checkpointNanos",
            Counter::RecoveryRecords => "recoveryRecords",
            Counter::RecoveryNanos => "recoveryNanos",
        }
    }
}

const _: () = {
    let mut index = 0;
    while index < Counter::ALL.len() {
        assert!(Counter::ALL[index] as usize == index, "Counter::ALL is in layout order");
        index += 1;
    }
};

/// The shared block of counters; clones share the cells.
#[derive(Clone)]
pub struct Counters(Arc<[AtomicU64; Counter::ALL.len()]>);

impl Default for Counters {
    fn default() -> Counters {
        Counters(Arc::new(std::array::from_fn(|_| AtomicU64::new(0f64.to_bits()))))
    }
}

impl Counters {
    pub fn get(&self, counter: Counter) -> f64 {
        f64::from_bits(self.0[counter as usize].load(Ordering::Relaxed))
    }

    pub fn set(&self, counter: Counter, value: f64) {
        self.0[counter as usize].store(value.to_bits(), Ordering::Relaxed);
    }

    /// Adds `amount` atomically (a worker's sync and the JavaScript thread's
    /// may count at once).
    pub fn add(&self, counter: Counter, amount: f64) {
        let cell = &self.0[counter as usize];
        let _ = cell.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |bits| {
            Some((f64::from_bits(bits) + amount).to_bits())
        });
    }

    /// Raises a non-negative counter to `value` unless it is higher already:
    /// the bits of non-negative `f64`s order as their values do.
    pub fn raise(&self, counter: Counter, value: f64) {
        self.0[counter as usize].fetch_max(value.to_bits(), Ordering::Relaxed);
    }

    /// Every counter with its name, in layout order.
    pub fn snapshot(&self) -> Vec<(&'static str, f64)> {
        Counter::ALL
            .iter()
            .map(|&counter| (counter.name(), self.get(counter)))
            .collect()
    }

    /// The cells' memory: `Counter::ALL.len()` little-endian `f64`s, valid
    /// while any clone of `self` lives.
    pub fn as_ptr(&self) -> *mut u8 {
        self.0.as_ptr().cast::<u8>().cast_mut()
    }

    pub const BYTES: usize = Counter::ALL.len() * 8;
}

impl crate::names::Named for Counter {
    const ALL: &'static [Counter] = &Counter::ALL;
    const WHAT: &'static str = "counter";

    fn name(self) -> &'static str {
        Counter::name(self)
    }
}
