//! The state hash: equal states hash equal, distinct states hash distinct.

use mmsb_core::{Delta, Location, Payload, Source, Store};
use proptest::prelude::*;

#[derive(Clone, Debug)]
enum Operation {
    Create { size: u64, metadata: Vec<(String, u8)> },
    Write { page: usize, byte: u8 },
    Release { page: usize },
    SetMetadata { page: usize, key: String, value: u8 },
}

fn operation() -> impl Strategy<Value = Operation> {
    prop_oneof![
        (1u64..40, prop::collection::vec(("[a-c]{1,2}", 0u8..100), 0..3))
            .prop_map(|(size, metadata)| Operation::Create { size, metadata }),
        (any::<usize>(), any::<u8>()).prop_map(|(page, byte)| Operation::Write { page, byte }),
        any::<usize>().prop_map(|page| Operation::Release { page }),
        (any::<usize>(), "[a-c]{1,2}", 0u8..100).prop_map(|(page, key, value)| Operation::SetMetadata {
            page,
            key,
            value
        }),
    ]
}

/// Runs operations; operations on pages that do not exist are skipped, so
/// every sequence is meaningful. Returns the state and a plain description
/// of it (the model) to compare states without the hash.
/// One live page as plain data: id, size, epoch, metadata, bytes.
type PageModel = (u64, u64, u64, Vec<(String, Vec<u8>)>, Vec<u8>);

fn run(operations: &[Operation]) -> (Store, Vec<PageModel>, u64) {
    let mut state = Store::memory();
    let mut live: Vec<u64> = Vec::new();
    for operation in operations {
        match operation {
            Operation::Create { size, metadata } => {
                let pairs: Vec<(String, [u8; 1])> =
                    metadata.iter().map(|(key, value)| (key.clone(), [*value])).collect();
                let borrowed: Vec<(&str, &[u8])> =
                    pairs.iter().map(|(key, value)| (key.as_str(), &value[..])).collect();
                live.push(state.create_page(*size, Location::Cpu, &borrowed).unwrap());
            }
            Operation::Write { page, byte } if !live.is_empty() => {
                let id = live[page % live.len()];
                let size = state.page(id).unwrap().size() as usize;
                let delta = Delta {
                    page_id: id,
                    payload: Payload::Dense(vec![*byte; size]),
                    source: Source::User,
                    expect_epoch: None,
                };
                state.apply(&delta).unwrap();
            }
            Operation::Release { page } if !live.is_empty() => {
                let id = live.remove(page % live.len());
                state.release_page(id).unwrap();
            }
            Operation::SetMetadata { page, key, value } if !live.is_empty() => {
                let id = live[page % live.len()];
                state.set_metadata(id, key, Some(&[*value])).unwrap();
            }
            _ => {}
        }
    }
    let model = state
        .pages()
        .map(|(id, page)| {
            let metadata = page
                .metadata()
                .iter()
                .map(|(key, value)| (key.to_owned(), value.to_vec()))
                .collect();
            (id, page.size(), page.epoch(), metadata, page.data().to_vec())
        })
        .collect();
    let next = state.next_page_id();
    (state, model, next)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn equal_states_hash_equal(operations in prop::collection::vec(operation(), 0..30)) {
        let (first, _, _) = run(&operations);
        let (second, _, _) = run(&operations);
        prop_assert_eq!(first.state_hash(), second.state_hash());
    }

    #[test]
    fn distinct_states_hash_distinct(
        left in prop::collection::vec(operation(), 0..30),
        right in prop::collection::vec(operation(), 0..30),
    ) {
        let (left_state, left_model, left_next) = run(&left);
        let (right_state, right_model, right_next) = run(&right);
        let same = left_model == right_model && left_next == right_next;
        prop_assert_eq!(same, left_state.state_hash() == right_state.state_hash());
    }
}

#[test]
fn metadata_insertion_order_does_not_change_the_hash() {
    let mut first = Store::memory();
    let mut second = Store::memory();
    first
        .create_page(4, Location::Cpu, &[("x", &[1]), ("y", &[2])])
        .unwrap();
    second.create_page(4, Location::Cpu, &[]).unwrap();
    second.set_metadata(1, "y", Some(&[2])).unwrap();
    second.set_metadata(1, "x", Some(&[1])).unwrap();
    assert_eq!(first.state_hash(), second.state_hash());
}

#[test]
fn the_hash_of_an_empty_state_is_pinned() {
    // Pins the documented encoding: if this changes, the hash version must too.
    let mut encoding = Vec::new();
    encoding.extend_from_slice(b"MMSB-STATE-HASH-2");
    encoding.extend_from_slice(&1u64.to_le_bytes());
    encoding.extend_from_slice(&0u64.to_le_bytes());
    encoding.extend_from_slice(&0u64.to_le_bytes());
    assert_eq!(Store::memory().state_hash().0, *blake3::hash(&encoding).as_bytes());
}
