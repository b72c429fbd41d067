//! The counters move as the store works: what a binding reads without a call.

mod support;

use mmsb_core::counters::Counter;
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
