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
//! The histograms (`Histogram`) follow the counters: each holds one cell per
//! bucket (observations at most its bound, not cumulative; the last bucket's
//! bound is +Inf) and then the sum of the observations, in base units
//! (seconds, records). Their bounds are fixed, so observing is a comparison
//! walk and two additions, no allocation and no lock.
//!
//! Timing an apply costs two clock reads, so one apply call in sixteen is
//! timed (store/journal.rs); `set_timed(false)` turns that off
//! (for a same-run overhead benchmark, or a user who wants none), leaving
//! every count in place. Syncs, checkpoints and waves were timed before
//! their histograms existed, so theirs are always kept.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use crate::page_memory::MemoryKind;

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
    /// Log segments on disk (0 in memory).
    LogSegments,
    /// The bytes of every checkpoint written, in all.
    CheckpointBytes,
    /// Live pages and their bytes by page memory (heap, arena, mapped, device, managed).
    PagesHeap,
    PagesArena,
    PagesMapped,
    PagesDevice,
    PagesManaged,
    PageBytesHeap,
    PageBytesArena,
    PageBytesMapped,
    PageBytesDevice,
    PageBytesManaged,
}

impl Counter {
    /// Every counter, in layout order.
    pub const ALL: [Counter; 29] = [
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
        Counter::LogSegments,
        Counter::CheckpointBytes,
        Counter::PagesHeap,
        Counter::PagesArena,
        Counter::PagesMapped,
        Counter::PagesDevice,
        Counter::PagesManaged,
        Counter::PageBytesHeap,
        Counter::PageBytesArena,
        Counter::PageBytesMapped,
        Counter::PageBytesDevice,
        Counter::PageBytesManaged,
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
            Counter::LogSegments => "logSegments",
            Counter::CheckpointBytes => "checkpointBytes",
            Counter::PagesHeap => "pagesHeap",
            Counter::PagesArena => "pagesArena",
            Counter::PagesMapped => "pagesMapped",
            Counter::PagesDevice => "pagesDevice",
            Counter::PagesManaged => "pagesManaged",
            Counter::PageBytesHeap => "pageBytesHeap",
            Counter::PageBytesArena => "pageBytesArena",
            Counter::PageBytesMapped => "pageBytesMapped",
            Counter::PageBytesDevice => "pageBytesDevice",
            Counter::PageBytesManaged => "pageBytesManaged",
        }
    }

    /// The live pages, and their bytes, held in `memory`.
    pub const fn pages_in(memory: MemoryKind) -> (Counter, Counter) {
        match memory {
            MemoryKind::Heap => (Counter::PagesHeap, Counter::PageBytesHeap),
            MemoryKind::Arena => (Counter::PagesArena, Counter::PageBytesArena),
            MemoryKind::Mapped => (Counter::PagesMapped, Counter::PageBytesMapped),
            MemoryKind::Device => (Counter::PagesDevice, Counter::PageBytesDevice),
            MemoryKind::Managed => (Counter::PagesManaged, Counter::PageBytesManaged),
        }
    }
}

/// A histogram of the block, with fixed bucket bounds in base units.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(usize)]
pub enum Histogram {
    /// The time of an apply call in the store (one delta, a batch, an encoded
    /// batch), one call in `store::APPLY_TIMING_PERIOD` sampled.
    ApplySeconds,
    /// The time of one sync of the log.
    LogSyncSeconds,
    /// The records one sync made durable: group commit's batch.
    LogSyncRecords,
    /// The time of one checkpoint, from its sync to its retention.
    CheckpointSeconds,
    /// The time of one finished propagation wave, from begin to its end.
    WaveSeconds,
}

/// Latency bounds from a microsecond to ten seconds, about 2.5× apart.
const SECONDS_BOUNDS: [f64; 22] = [
    1e-6, 2.5e-6, 5e-6, 1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 5e-3, 1e-2, 2.5e-2, 5e-2, 0.1, 0.25, 0.5,
    1.0, 2.5, 5.0, 10.0,
];

/// Record counts, powers of two up to 64 Ki.
const RECORDS_BOUNDS: [f64; 17] = [
    1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0, 1024.0, 2048.0, 4096.0, 8192.0, 16384.0, 32768.0,
    65536.0,
];

impl Histogram {
    /// Every histogram, in layout order.
    pub const ALL: [Histogram; 5] = [
        Histogram::ApplySeconds,
        Histogram::LogSyncSeconds,
        Histogram::LogSyncRecords,
        Histogram::CheckpointSeconds,
        Histogram::WaveSeconds,
    ];

    /// The name bindings expose (camelCase).
    pub const fn name(self) -> &'static str {
        match self {
            Histogram::ApplySeconds => "applySeconds",
            Histogram::LogSyncSeconds => "logSyncSeconds",
            Histogram::LogSyncRecords => "logSyncRecords",
            Histogram::CheckpointSeconds => "checkpointSeconds",
            Histogram::WaveSeconds => "waveSeconds",
        }
    }

    /// The finite upper bounds of the buckets, ascending; a last bucket, +Inf, follows.
    pub const fn bounds(self) -> &'static [f64] {
        match self {
            Histogram::LogSyncRecords => &RECORDS_BOUNDS,
            _ => &SECONDS_BOUNDS,
        }
    }

    /// The cells the histogram takes: its buckets (with +Inf) and its sum.
    pub const fn cells(self) -> usize {
        self.bounds().len() + 2
    }

    /// The index of its first cell in the block.
    pub const fn offset(self) -> usize {
        let mut offset = Counter::ALL.len();
        let mut index = 0;
        while index < self as usize {
            offset += Histogram::ALL[index].cells();
            index += 1;
        }
        offset
    }
}

/// The cells of the whole block: counters, then histograms.
const CELLS: usize = Histogram::WaveSeconds.offset() + Histogram::WaveSeconds.cells();

const _: () = {
    let mut index = 0;
    while index < Counter::ALL.len() {
        assert!(Counter::ALL[index] as usize == index, "Counter::ALL is in layout order");
        index += 1;
    }
    let mut index = 0;
    while index < Histogram::ALL.len() {
        assert!(
            Histogram::ALL[index] as usize == index,
            "Histogram::ALL is in layout order"
        );
        index += 1;
    }
};

/// The cells, and whether latencies are timed.
struct Block {
    cells: [AtomicU64; CELLS],
    timed: AtomicBool,
}

/// The shared block of counters; clones share the cells.
#[derive(Clone)]
pub struct Counters(Arc<Block>);

impl Default for Counters {
    fn default() -> Counters {
        Counters(Arc::new(Block {
            cells: std::array::from_fn(|_| AtomicU64::new(0f64.to_bits())),
            timed: AtomicBool::new(true),
        }))
    }
}

impl Counters {
    pub fn get(&self, counter: Counter) -> f64 {
        self.cell(counter as usize)
    }

    pub fn set(&self, counter: Counter, value: f64) {
        self.0.cells[counter as usize].store(value.to_bits(), Ordering::Relaxed);
    }

    /// Adds `amount` atomically (a worker's sync and the JavaScript thread's
    /// may count at once).
    pub fn add(&self, counter: Counter, amount: f64) {
        self.add_cell(counter as usize, amount);
    }

    fn add_cell(&self, index: usize, amount: f64) {
        let _ = self.0.cells[index].fetch_update(Ordering::Relaxed, Ordering::Relaxed, |bits| {
            Some((f64::from_bits(bits) + amount).to_bits())
        });
    }

    fn cell(&self, index: usize) -> f64 {
        f64::from_bits(self.0.cells[index].load(Ordering::Relaxed))
    }

    /// Raises a non-negative counter to `value` unless it is higher already:
    /// the bits of non-negative `f64`s order as their values do.
    pub fn raise(&self, counter: Counter, value: f64) {
        self.0.cells[counter as usize].fetch_max(value.to_bits(), Ordering::Relaxed);
    }

    /// Counts one observation of `value` (base units) in `histogram`.
    pub fn observe(&self, histogram: Histogram, value: f64) {
        let bucket = histogram.bounds().partition_point(|&bound| bound < value);
        let offset = histogram.offset();
        self.add_cell(offset + bucket, 1.0);
        self.add_cell(offset + histogram.cells() - 1, value);
    }

    /// Whether latencies are timed (on unless turned off).
    pub fn timed(&self) -> bool {
        self.0.timed.load(Ordering::Relaxed)
    }

    pub fn set_timed(&self, timed: bool) {
        self.0.timed.store(timed, Ordering::Relaxed);
    }

    /// The start of a timed operation, or `None` when timing is off.
    pub fn start(&self) -> Option<Instant> {
        self.timed().then(Instant::now)
    }

    /// Observes the seconds since `started` in `histogram`, if it was timed.
    pub fn observe_since(&self, histogram: Histogram, started: Option<Instant>) {
        if let Some(started) = started {
            self.observe(histogram, started.elapsed().as_secs_f64());
        }
    }

    /// A histogram's bucket counts (not cumulative, +Inf last) and its sum.
    pub fn histogram(&self, histogram: Histogram) -> (Vec<f64>, f64) {
        let offset = histogram.offset();
        let buckets = (0..=histogram.bounds().len())
            .map(|bucket| self.cell(offset + bucket))
            .collect();
        (buckets, self.cell(offset + histogram.cells() - 1))
    }

    /// Every counter with its name, in layout order.
    pub fn snapshot(&self) -> Vec<(&'static str, f64)> {
        Counter::ALL
            .iter()
            .map(|&counter| (counter.name(), self.get(counter)))
            .collect()
    }

    /// The cells' memory: `BYTES / 8` little-endian `f64`s (the counters,
    /// then the histograms at their `offset`s), valid while any clone of `self` lives.
    pub fn as_ptr(&self) -> *mut u8 {
        self.0.cells.as_ptr().cast::<u8>().cast_mut()
    }

    pub const BYTES: usize = CELLS * 8;
}

impl crate::names::Named for Counter {
    const ALL: &'static [Counter] = &Counter::ALL;
    const WHAT: &'static str = "counter";

    fn name(self) -> &'static str {
        Counter::name(self)
    }
}

impl crate::names::Named for Histogram {
    const ALL: &'static [Histogram] = &Histogram::ALL;
    const WHAT: &'static str = "histogram";

    fn name(self) -> &'static str {
        Histogram::name(self)
    }
}
