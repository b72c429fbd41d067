//! The counters move as the store works: what a binding reads without a call.

mod support;

use mmsb_core::counters::{Counter, Counters, Histogram};
use mmsb_core::page_memory::MemoryKind;
use mmsb_core::store::APPLY_TIMING_PERIOD;
use mmsb_core::{Delta, Location, Payload, RangeWrite, Source};
use support::{dense, Scratch};

#[test]
fn counters_follow_lsns_pages_deltas_syncs_and_checkpoints() {
    let scratch = Scratch::new("counters");
    let mut store = support::open(scratch.path()).unwrap();
    let counters = store.counters().clone();
    let page = store.create_page(64, Location::Cpu, &[]).unwrap();
    store.create_pages(3, 16, Location::Cpu).unwrap();
    assert_eq!(counters.get(Counter::PagesLive), 4.0);
    assert_eq!(counters.get(Counter::PageBytes), 112.0);
    store.apply(&dense(page, vec![1; 64])).unwrap();
    let ranges = Delta {
        page_id: page,
        payload: Payload::Ranges(vec![RangeWrite {
            offset: 0,
            bytes: vec![2u8; 4],
        }]),
        source: Source::User,
        expect_epoch: None,
    };
    let sparse = Delta {
        page_id: page,
        payload: Payload::Sparse {
            mask: vec![1u8; 8],
            packed: vec![3u8; 8],
        },
        source: Source::User,
        expect_epoch: None,
    };
    store.apply_batch(&[ranges, sparse]).unwrap();
    assert_eq!(counters.get(Counter::DeltasDense), 1.0);
    assert_eq!(counters.get(Counter::DeltasRanges), 1.0);
    assert_eq!(counters.get(Counter::DeltasSparse), 1.0);
    assert_eq!(counters.get(Counter::Lsn), store.last_lsn() as f64);
    assert_eq!(counters.get(Counter::LogAppends), store.last_lsn() as f64);
    let refused = store.apply(&dense(page, vec![1; 3]));
    assert!(refused.is_err());
    assert_eq!(
        counters.get(Counter::DeltasDense),
        1.0,
        "a refused delta is not counted"
    );
    let durable = store.sync_job().unwrap().run().unwrap();
    assert_eq!(counters.get(Counter::DurableLsn), durable as f64);
    assert!(counters.get(Counter::LogSyncs) >= 1.0);
    store.release_page(page).unwrap();
    assert_eq!(counters.get(Counter::PagesLive), 3.0);
    assert_eq!(counters.get(Counter::PageBytes), 48.0);
    let info = store.checkpoint(false).unwrap();
    assert_eq!(counters.get(Counter::Checkpoints), 1.0);
    assert_eq!(counters.get(Counter::CheckpointLastBytes), info.bytes as f64);
    assert_eq!(
        counters.get(Counter::Lsn),
        store.last_lsn() as f64,
        "the checkpoint marker"
    );
    let stats = store.stats();
    assert_eq!(stats.len(), Counter::ALL.len());
    assert_eq!(stats[0], ("lsn", store.last_lsn() as f64));
    drop(store);
    let reopened = support::open(scratch.path()).unwrap();
    let counters = reopened.counters();
    assert_eq!(counters.get(Counter::PagesLive), 3.0, "set from the recovered state");
    assert_eq!(counters.get(Counter::Lsn), reopened.last_lsn() as f64);
    assert_eq!(
        counters.get(Counter::RecoveryRecords),
        1.0,
        "the checkpoint covers all but its marker"
    );
}

/// The observations of a histogram: its buckets' counts summed.
fn observations(counters: &Counters, histogram: Histogram) -> f64 {
    counters.histogram(histogram).0.iter().sum()
}

#[test]
fn histograms_count_applies_syncs_and_checkpoints_and_pages_are_counted_by_memory() {
    let scratch = Scratch::new("histograms");
    let mut store = support::open(scratch.path()).unwrap();
    let counters = store.counters().clone();
    assert_eq!(counters.get(Counter::LogSegments), 1.0);
    let page = store.create_page(64, Location::Cpu, &[]).unwrap();
    store.create_pages_in(MemoryKind::Arena, 2, 16, Location::Cpu).unwrap();
    for value in 0..32 {
        store.apply(&dense(page, vec![value; 64])).unwrap();
    }
    store
        .apply_batch(&[dense(page, vec![9; 64]), dense(page, vec![8; 64])])
        .unwrap();
    assert_eq!(APPLY_TIMING_PERIOD, 16);
    assert_eq!(
        observations(&counters, Histogram::ApplySeconds),
        3.0,
        "apply calls 1, 17 and 33 (the batch) are timed"
    );
    let (_, apply_seconds) = counters.histogram(Histogram::ApplySeconds);
    assert!(apply_seconds > 0.0);
    store.sync_job().unwrap().run().unwrap();
    let syncs = counters.get(Counter::LogSyncs);
    assert_eq!(observations(&counters, Histogram::LogSyncSeconds), syncs);
    let (records, records_sum) = counters.histogram(Histogram::LogSyncRecords);
    assert_eq!(records.iter().sum::<f64>(), syncs);
    assert_eq!(
        records_sum,
        store.last_lsn() as f64,
        "every record was made durable by one sync"
    );
    assert_eq!(counters.get(Counter::PagesArena), 2.0);
    assert_eq!(counters.get(Counter::PageBytesArena), 32.0);
    assert_eq!(counters.get(Counter::PagesHeap), 1.0);
    store.move_page(page, MemoryKind::Mapped).unwrap();
    assert_eq!(
        (counters.get(Counter::PagesHeap), counters.get(Counter::PagesMapped)),
        (0.0, 1.0)
    );
    assert_eq!(counters.get(Counter::PageBytesMapped), 64.0);
    store.release_page(page).unwrap();
    assert_eq!(
        (
            counters.get(Counter::PagesMapped),
            counters.get(Counter::PageBytesMapped)
        ),
        (0.0, 0.0)
    );
    let info = store.checkpoint(true).unwrap();
    assert_eq!(observations(&counters, Histogram::CheckpointSeconds), 1.0);
    assert_eq!(counters.get(Counter::CheckpointBytes), info.bytes as f64);
    assert_eq!(
        counters.get(Counter::LogSegments),
        2.0,
        "the checkpoint started a segment"
    );
    counters.set_timed(false);
    let untimed = store.create_page(8, Location::Cpu, &[]).unwrap();
    for value in 0..16 {
        store.apply(&dense(untimed, vec![value; 8])).unwrap();
    }
    assert_eq!(
        observations(&counters, Histogram::ApplySeconds),
        3.0,
        "untimed applies are not observed"
    );
    assert_eq!(counters.get(Counter::DeltasDense), 50.0, "but still counted");
    drop(store);
    let reopened = support::open(scratch.path()).unwrap();
    let counters = reopened.counters();
    assert_eq!(counters.get(Counter::PagesArena), 2.0, "set from the recovered state");
    assert_eq!(counters.get(Counter::PagesHeap), 1.0);
}

#[test]
fn an_observation_falls_in_the_first_bucket_whose_bound_is_not_below_it() {
    let counters = Counters::default();
    for value in [1.0, 2.0, 3.0, 1e9] {
        counters.observe(Histogram::LogSyncRecords, value);
    }
    let (buckets, sum) = counters.histogram(Histogram::LogSyncRecords);
    assert_eq!(&buckets[..3], &[1.0, 1.0, 1.0]);
    assert_eq!(buckets.last(), Some(&1.0), "+Inf");
    assert_eq!(buckets.len(), Histogram::LogSyncRecords.bounds().len() + 1);
    assert_eq!(sum, 1e9 + 6.0);
}
