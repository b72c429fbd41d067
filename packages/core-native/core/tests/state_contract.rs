//! The state machine's contract: ids, epochs, validation before change, and
//! errors that leave the state hash untouched.

use mmsb_core::{Delta, ErrorCode, Location, Payload, RangeWrite, Source, Store};

fn dense(page_id: u64, bytes: Vec<u8>) -> Delta<Vec<u8>> {
    Delta {
        page_id,
        payload: Payload::Dense(bytes),
        source: Source::User,
        expect_epoch: None,
    }
}

/// Runs a call that must fail with `code` and checks that the state hash is unchanged.
fn assert_rejected<T: std::fmt::Debug>(
    state: &mut Store,
    call: impl FnOnce(&mut Store) -> mmsb_core::Result<T>,
    code: ErrorCode,
) {
    let before = state.state_hash();
    let error = call(state).unwrap_err();
    assert_eq!(error.code, code, "{}", error.message);
    assert_eq!(state.state_hash(), before);
}

#[test]
fn ids_are_monotonic_and_never_reused() {
    let mut state = Store::memory();
    let first = state.create_page(8, Location::Cpu, &[]).unwrap();
    let second = state.create_page(8, Location::Cpu, &[]).unwrap();
    state.release_page(first).unwrap();
    state.release_page(second).unwrap();
    let third = state.create_page(8, Location::Cpu, &[]).unwrap();
    assert_eq!((first, second, third), (1, 2, 3));
    assert_eq!(state.page(first).err().map(|e| e.code), Some(ErrorCode::PageReleased));
    assert_eq!(state.page(99).err().map(|e| e.code), Some(ErrorCode::PageNotFound));
    assert_eq!(state.page(0).err().map(|e| e.code), Some(ErrorCode::PageNotFound));
}

#[test]
fn a_released_page_in_the_middle_stays_released() {
    let mut state = Store::memory();
    let first = state.create_pages(3, 4, Location::Cpu).unwrap();
    state.release_page(first + 1).unwrap();
    assert_eq!(
        state.page(first + 1).err().map(|e| e.code),
        Some(ErrorCode::PageReleased)
    );
    state.release_page(first).unwrap();
    assert_eq!(
        state.page(first + 1).err().map(|e| e.code),
        Some(ErrorCode::PageReleased)
    );
    assert_eq!(state.page(first + 2).unwrap().size(), 4);
    assert_eq!(state.live_page_count(), 1);
}

#[test]
fn epochs_count_applied_deltas_and_expect_epoch_guards() {
    let mut state = Store::memory();
    let id = state.create_page(4, Location::Cpu, &[]).unwrap();
    assert_eq!(state.apply(&dense(id, vec![1; 4])).unwrap(), 1);
    let mut guarded = dense(id, vec![2; 4]);
    guarded.expect_epoch = Some(0);
    assert_rejected(&mut state, |state| state.apply(&guarded), ErrorCode::EpochConflict);
    guarded.expect_epoch = Some(1);
    assert_eq!(state.apply(&guarded).unwrap(), 2);
    assert_eq!(state.page(id).unwrap().data(), &[2; 4]);
}

#[test]
fn every_bad_delta_is_rejected_and_changes_nothing() {
    let mut state = Store::memory();
    let id = state.create_page(10, Location::Cpu, &[]).unwrap();
    let released = state.create_page(10, Location::Cpu, &[]).unwrap();
    state.release_page(released).unwrap();
    state.apply(&dense(id, vec![7; 10])).unwrap();
    let cases: Vec<(Delta<Vec<u8>>, ErrorCode)> = vec![
        (dense(42, vec![0; 10]), ErrorCode::PageNotFound),
        (dense(released, vec![0; 10]), ErrorCode::PageReleased),
        (dense(id, vec![0; 9]), ErrorCode::DeltaSizeMismatch),
        (
            Delta {
                payload: Payload::Sparse {
                    mask: vec![1],
                    packed: vec![1],
                },
                ..dense(id, vec![])
            },
            ErrorCode::DeltaSizeMismatch,
        ),
        (
            Delta {
                payload: Payload::Sparse {
                    mask: vec![1, 0b100],
                    packed: vec![1],
                },
                ..dense(id, vec![])
            },
            ErrorCode::DeltaSizeMismatch,
        ),
        (
            Delta {
                payload: Payload::Sparse {
                    mask: vec![3, 0],
                    packed: vec![1],
                },
                ..dense(id, vec![])
            },
            ErrorCode::DeltaSizeMismatch,
        ),
        (
            Delta {
                payload: Payload::Ranges(vec![RangeWrite {
                    offset: 8,
                    bytes: vec![1; 3],
                }]),
                ..dense(id, vec![])
            },
            ErrorCode::RangeOutOfBounds,
        ),
        (
            Delta {
                payload: Payload::Ranges(vec![RangeWrite {
                    offset: u64::MAX,
                    bytes: vec![1],
                }]),
                ..dense(id, vec![])
            },
            ErrorCode::RangeOutOfBounds,
        ),
        (
            Delta {
                payload: Payload::Ranges(vec![
                    RangeWrite {
                        offset: 4,
                        bytes: vec![1; 2],
                    },
                    RangeWrite {
                        offset: 5,
                        bytes: vec![1],
                    },
                ]),
                ..dense(id, vec![])
            },
            ErrorCode::RangeOverlap,
        ),
        (
            Delta {
                expect_epoch: Some(0),
                ..dense(id, vec![0; 10])
            },
            ErrorCode::EpochConflict,
        ),
    ];
    for (delta, code) in cases {
        let before = state.state_hash();
        let error = state.apply(&delta).unwrap_err();
        assert_eq!(error.code, code, "{delta:?}: {}", error.message);
        assert_eq!(state.state_hash(), before);
        let error = state.apply_batch(&[dense(id, vec![1; 10]), delta.clone()]).unwrap_err();
        assert_eq!(error.code, code, "in a batch: {delta:?}");
        assert!(error.message.starts_with("batch delta 1:"), "{}", error.message);
        assert_eq!(state.state_hash(), before, "a failed batch applies nothing");
    }
}

#[test]
fn a_batch_checks_expect_epoch_against_earlier_deltas_in_the_batch() {
    let mut state = Store::memory();
    let id = state.create_page(2, Location::Cpu, &[]).unwrap();
    let at = |epoch| Delta {
        expect_epoch: Some(epoch),
        ..dense(id, vec![epoch as u8; 2])
    };
    state.apply_batch(&[at(0), at(1), at(2)]).unwrap();
    assert_eq!(state.page(id).unwrap().epoch(), 3);
    assert_eq!(
        state.apply_batch(&[at(3), at(3)]).unwrap_err().code,
        ErrorCode::EpochConflict
    );
    assert_eq!(state.page(id).unwrap().epoch(), 3);
}

#[test]
fn bad_pages_and_reads_are_rejected() {
    let mut state = Store::memory();
    let id = state.create_page(4, Location::Cpu, &[]).unwrap();
    assert_rejected(
        &mut state,
        |state| state.read(id, 2, 3).map(<[u8]>::to_vec),
        ErrorCode::RangeOutOfBounds,
    );
    assert_rejected(
        &mut state,
        |state| state.read(id, u64::MAX, 2).map(<[u8]>::to_vec),
        ErrorCode::RangeOutOfBounds,
    );
    let before = state.state_hash();
    assert_eq!(
        state.create_page(0, Location::Cpu, &[]).unwrap_err().code,
        ErrorCode::PageSizeInvalid
    );
    assert_eq!(
        state.create_page(1 << 33, Location::Cpu, &[]).unwrap_err().code,
        ErrorCode::PageSizeInvalid
    );
    assert_eq!(
        state.create_page(4, Location::Gpu, &[]).unwrap_err().code,
        ErrorCode::CudaUnavailable
    );
    assert_eq!(
        state.create_pages(0, 4, Location::Cpu).unwrap_err().code,
        ErrorCode::InvalidArgument
    );
    assert_eq!(
        state.create_page(4, Location::Cpu, &[("", &[0xc0])]).unwrap_err().code,
        ErrorCode::MetadataInvalid
    );
    assert_eq!(
        state.create_page(4, Location::Cpu, &[("k", &[0xc1])]).unwrap_err().code,
        ErrorCode::MetadataInvalid
    );
    assert_eq!(Location::parse("tpu").unwrap_err().code, ErrorCode::LocationUnknown);
    assert_eq!(state.state_hash(), before, "failed creates assign no id");
    assert_eq!(state.next_page_id(), id + 1);
}

#[test]
fn metadata_is_set_replaced_and_removed() {
    let mut state = Store::memory();
    let id = state
        .create_page(1, Location::Cpu, &[("b", &[0x02]), ("a", &[0x01])])
        .unwrap();
    let keys: Vec<&str> = state.page(id).unwrap().metadata().iter().map(|(key, _)| key).collect();
    assert_eq!(keys, ["a", "b"]);
    state.set_metadata(id, "a", Some(&[0x03])).unwrap();
    state.set_metadata(id, "b", None).unwrap();
    assert_eq!(state.page(id).unwrap().metadata().get("a"), Some(&[0x03][..]));
    assert_eq!(state.page(id).unwrap().metadata().len(), 1);
    assert_eq!(
        state.set_metadata(id, "a", Some(&[0x92])).unwrap_err().code,
        ErrorCode::MetadataInvalid
    );
}
