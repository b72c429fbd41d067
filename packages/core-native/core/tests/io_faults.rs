//! EIO and ENOSPC from the file layer: the failing write is rejected with a
//! typed error that says whether it was applied, the state is unchanged by a
//! rejected write, nothing after a failure is acknowledged, and reopening
//! recovers every acknowledged change.

mod support;

use std::io::ErrorKind;
use std::sync::Arc;

use mmsb_core::{ErrorCode, Location, Store, StoreOptions};
use support::delegating::Delegating;
use support::{dense, FaultPoint, Scratch, WriteFaults};

fn open_faulty(scratch: &Scratch, faults: &Arc<WriteFaults>) -> Store {
    Store::open(
        Arc::new(Delegating(Arc::clone(faults))),
        scratch.path(),
        StoreOptions::default(),
    )
    .unwrap()
}

#[test]
fn a_failed_append_rejects_the_write_and_every_later_one() {
    for kind in [ErrorKind::Other, ErrorKind::StorageFull] {
        let scratch = Scratch::new("append-fault");
        let faults = WriteFaults::new(FaultPoint::Append, kind);
        let mut store = open_faulty(&scratch, &faults);
        let id = store.create_page(8, Location::Cpu, &[]).unwrap();
        store.apply(&dense(id, vec![1; 8])).unwrap();
        let acknowledged = store.sync_job().unwrap().run().unwrap();
        let hash = store.state_hash();
        faults.arm(0);
        let error = store.apply(&dense(id, vec![2; 8])).unwrap_err();
        let expected = match kind {
            ErrorKind::StorageFull => ErrorCode::DiskFull,
            _ => ErrorCode::IoError,
        };
        assert_eq!(error.code, expected, "{}", error.message);
        assert!(error.message.contains("injected fault"), "{}", error.message);
        assert_eq!(store.state_hash(), hash, "a rejected write changes nothing");
        faults.armed.store(false, std::sync::atomic::Ordering::SeqCst);
        let later = store.apply(&dense(id, vec![3; 8])).unwrap_err();
        assert_eq!(later.code, ErrorCode::LogFailed, "nothing after a failure is accepted");
        assert_eq!(
            store.sync_job().unwrap().run().unwrap_err().code,
            ErrorCode::DurabilityUnknown,
            "no sync succeeds after a failure"
        );
        drop(store);
        let reopened = support::open(scratch.path()).unwrap();
        assert_eq!(reopened.state_hash(), hash);
        assert_eq!(reopened.last_lsn(), acknowledged);
    }
}

#[test]
fn a_failed_sync_acknowledges_nothing_after_it() {
    let scratch = Scratch::new("sync-fault");
    let faults = WriteFaults::new(FaultPoint::Sync, ErrorKind::Other);
    let mut store = open_faulty(&scratch, &faults);
    let id = store.create_page(8, Location::Cpu, &[]).unwrap();
    let acknowledged = store.sync_job().unwrap().run().unwrap();
    store.apply(&dense(id, vec![1; 8])).unwrap();
    faults.arm(0);
    let error = store.sync_job().unwrap().run().unwrap_err();
    assert_eq!(error.code, ErrorCode::DurabilityUnknown, "{}", error.message);
    assert_eq!(
        store.durable_lsn(),
        acknowledged,
        "the unsynced delta is not acknowledged"
    );
    faults.armed.store(false, std::sync::atomic::Ordering::SeqCst);
    assert_eq!(
        store.sync_job().unwrap().run().unwrap_err().code,
        ErrorCode::DurabilityUnknown
    );
    assert_eq!(
        store.apply(&dense(id, vec![2; 8])).unwrap_err().code,
        ErrorCode::LogFailed
    );
    assert_eq!(store.durable_lsn(), acknowledged);
}

#[test]
fn a_failed_checkpoint_write_leaves_the_store_usable_and_the_old_state_recoverable() {
    let scratch = Scratch::new("checkpoint-fault");
    let faults = WriteFaults::new(FaultPoint::Sync, ErrorKind::StorageFull);
    let mut store = open_faulty(&scratch, &faults);
    let id = store.create_page(8, Location::Cpu, &[]).unwrap();
    store.apply(&dense(id, vec![5; 8])).unwrap();
    store.sync_job().unwrap().run().unwrap();
    faults.arm(0);
    assert_eq!(store.checkpoint(false).unwrap_err().code, ErrorCode::DiskFull);
    // Regression: the failed checkpoint's temporary file stayed behind until the next open.
    assert_eq!(
        std::fs::read_dir(scratch.path().join("checkpoints")).unwrap().count(),
        0,
        "the temporary file is removed at once"
    );
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

/// Regression: on ENOSPC the writer failed for good and writes appended before
/// the failing 4 MiB preallocation were rejected although applied; the log
/// could not be written at all with less than a full preallocation free.
/// Now the preallocation shrinks to what fits, a write that does not fit is
/// refused with DISK_FULL without being applied, and the log takes writes
/// again once space is freed.
#[test]
fn a_full_disk_refuses_only_what_does_not_fit_and_the_log_goes_on_after_space_is_freed() {
    let scratch = Scratch::new("disk-full");
    let faults = WriteFaults::new(FaultPoint::Append, ErrorKind::Other);
    let mut store = open_faulty(&scratch, &faults);
    faults.set_capacity(6000);
    let id = store.create_page(4096, Location::Cpu, &[]).unwrap();
    for value in 1..=4u8 {
        let fits = store.apply(&dense(id, vec![value; 4096]));
        if value == 1 {
            fits.unwrap();
            continue;
        }
        let error = fits.unwrap_err();
        assert_eq!(error.code, ErrorCode::DiskFull, "{}", error.message);
    }
    assert_eq!(store.page(id).unwrap().data()[0], 1, "refused writes are not applied");
    let durable = store.sync_job().unwrap().run().unwrap();
    faults.set_capacity(u64::MAX);
    store.apply(&dense(id, vec![9; 4096])).unwrap();
    let acknowledged = store.sync_job().unwrap().run().unwrap();
    assert_eq!(acknowledged, durable + 1);
    let hash = store.state_hash();
    drop(store);
    let reopened = support::open(scratch.path()).unwrap();
    assert_eq!(reopened.state_hash(), hash);
    assert_eq!(reopened.last_lsn(), acknowledged);
}
