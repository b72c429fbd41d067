//! EIO and ENOSPC from the file layer: the failing write is rejected with a
//! typed error, the state is unchanged, nothing after it is acknowledged, and
//! reopening recovers every acknowledged change.

mod support;

use std::io::ErrorKind;
use std::sync::Arc;

use mmsb_core::{ErrorCode, Location, Store, StoreOptions};
use support::{dense, FaultPoint, Faulty, FaultyFileSystem, Scratch};

fn open_faulty(scratch: &Scratch, faults: &Arc<FaultyFileSystem>) -> Store {
    Store::open(
        Arc::new(Faulty(Arc::clone(faults))),
        scratch.path(),
        StoreOptions::default(),
    )
    .unwrap()
}

#[test]
fn a_failed_append_rejects_the_write_and_every_later_one() {
    for kind in [ErrorKind::Other, ErrorKind::StorageFull] {
        let scratch = Scratch::new("append-fault");
        let faults = FaultyFileSystem::new(FaultPoint::Append, kind);
        let mut store = open_faulty(&scratch, &faults);
        let id = store.create_page(8, Location::Cpu, &[]).unwrap();
        store.apply(&dense(id, vec![1; 8])).unwrap();
        let acknowledged = store.sync_job().unwrap().run().unwrap();
        let hash = store.state_hash();
        faults.arm(0);
        let error = store.apply(&dense(id, vec![2; 8])).unwrap_err();
        assert_eq!(error.code, ErrorCode::IoError, "{}", error.message);
        assert!(error.message.contains("injected fault"), "{}", error.message);
        assert_eq!(store.state_hash(), hash, "a rejected write changes nothing");
        faults.armed.store(false, std::sync::atomic::Ordering::SeqCst);
        let later = store.apply(&dense(id, vec![3; 8])).unwrap_err();
        assert_eq!(later.code, ErrorCode::LogFailed, "nothing after a failure is accepted");
        assert_eq!(store.sync_job().unwrap().run().unwrap_err().code, ErrorCode::LogFailed);
        drop(store);
        let reopened = support::open(scratch.path()).unwrap();
        assert_eq!(reopened.state_hash(), hash);
        assert_eq!(reopened.last_lsn(), acknowledged);
    }
}

#[test]
fn a_failed_sync_acknowledges_nothing_after_it() {
    let scratch = Scratch::new("sync-fault");
    let faults = FaultyFileSystem::new(FaultPoint::Sync, ErrorKind::Other);
    let mut store = open_faulty(&scratch, &faults);
    let id = store.create_page(8, Location::Cpu, &[]).unwrap();
    let acknowledged = store.sync_job().unwrap().run().unwrap();
    store.apply(&dense(id, vec![1; 8])).unwrap();
    faults.arm(0);
    let error = store.sync_job().unwrap().run().unwrap_err();
    assert_eq!(error.code, ErrorCode::IoError);
    assert_eq!(
        store.durable_lsn(),
        acknowledged,
        "the unsynced delta is not acknowledged"
    );
    faults.armed.store(false, std::sync::atomic::Ordering::SeqCst);
    assert_eq!(store.sync_job().unwrap().run().unwrap_err().code, ErrorCode::LogFailed);
    assert_eq!(
        store.apply(&dense(id, vec![2; 8])).unwrap_err().code,
        ErrorCode::LogFailed
    );
    assert_eq!(store.durable_lsn(), acknowledged);
}

#[test]
fn a_failed_checkpoint_write_leaves_the_store_usable_and_the_old_state_recoverable() {
    let scratch = Scratch::new("checkpoint-fault");
    let faults = FaultyFileSystem::new(FaultPoint::Sync, ErrorKind::StorageFull);
    let mut store = open_faulty(&scratch, &faults);
    let id = store.create_page(8, Location::Cpu, &[]).unwrap();
    store.apply(&dense(id, vec![5; 8])).unwrap();
    store.sync_job().unwrap().run().unwrap();
    faults.arm(0);
    assert_eq!(store.checkpoint(false).unwrap_err().code, ErrorCode::IoError);
    faults.armed.store(false, std::sync::atomic::Ordering::SeqCst);
    store.apply(&dense(id, vec![6; 8])).unwrap();
    store.sync_job().unwrap().run().unwrap();
    let hash = store.state_hash();
    drop(store);
    let reopened = support::open(scratch.path()).unwrap();
    assert_eq!(reopened.state_hash(), hash);
    assert_eq!(
        std::fs::read_dir(scratch.path().join("checkpoints")).unwrap().count(),
        0,
        "no partial checkpoint remains"
    );
}
