//! Property tests of the delta algebra: merge, the equivalence of the three
//! forms, and the sparse kernel against a byte-at-a-time reference.

use mmsb_core::delta::{apply_payload, merge};
use mmsb_core::{Payload, RangeWrite};
use proptest::prelude::*;

/// A change: which bytes of a page are written, and with what.
#[derive(Clone, Debug)]
struct Change {
    written: Vec<Option<u8>>,
}

impl Change {
    fn sparse(&self) -> Payload<Vec<u8>> {
        let mut mask = vec![0u8; self.written.len().div_ceil(8)];
        let mut packed = Vec::new();
        for (index, byte) in self.written.iter().enumerate() {
            if let Some(byte) = byte {
                mask[index / 8] |= 1 << (index % 8);
                packed.push(*byte);
            }
        }
        Payload::Sparse { mask, packed }
    }

    fn ranges(&self) -> Payload<Vec<u8>> {
        let mut writes: Vec<RangeWrite<Vec<u8>>> = Vec::new();
        for (index, byte) in self.written.iter().enumerate() {
            let Some(byte) = byte else { continue };
            match writes.last_mut() {
                Some(last) if last.offset as usize + last.bytes.len() == index => last.bytes.push(*byte),
                _ => writes.push(RangeWrite {
                    offset: index as u64,
                    bytes: vec![*byte],
                }),
            }
        }
        Payload::Ranges(writes)
    }

    fn dense_over(&self, base: &[u8]) -> Payload<Vec<u8>> {
        Payload::Dense(self.reference_apply(base))
    }

    fn reference_apply(&self, base: &[u8]) -> Vec<u8> {
        base.iter()
            .zip(&self.written)
            .map(|(old, new)| new.unwrap_or(*old))
            .collect()
    }
}

/// Densities from empty to full, so the kernel's empty-word and
/// full-word paths are both taken.
fn change(size: usize) -> impl Strategy<Value = Change> {
    (0u8..=100).prop_flat_map(move |percent| {
        prop::collection::vec((0u8..100, any::<u8>()), size).prop_map(move |rolls| Change {
            written: rolls
                .into_iter()
                .map(|(roll, byte)| (roll < percent).then_some(byte))
                .collect(),
        })
    })
}

fn payload_of(change: &Change, form: u8, base: &[u8]) -> Payload<Vec<u8>> {
    match form {
        0 => change.dense_over(base),
        1 => change.sparse(),
        _ => change.ranges(),
    }
}

fn applied(base: &[u8], payload: &Payload<Vec<u8>>) -> Vec<u8> {
    payload
        .validate(1, base.len() as u64)
        .expect("generated payloads are valid");
    let mut page = base.to_vec();
    apply_payload(&mut page, &payload.as_borrowed());
    page
}

fn page_and_two_changes() -> impl Strategy<Value = (Vec<u8>, Change, Change, u8, u8)> {
    (1usize..300).prop_flat_map(|size| {
        (
            prop::collection::vec(any::<u8>(), size),
            change(size),
            change(size),
            0u8..3,
            0u8..3,
        )
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn applying_a_merge_equals_applying_both_in_order(
        (base, first, second, first_form, second_form) in page_and_two_changes(),
    ) {
        let a = payload_of(&first, first_form, &base);
        let after_a = applied(&base, &a);
        let b = payload_of(&second, second_form, &after_a);
        let sequential = applied(&after_a, &b);
        let merged = merge(1, base.len() as u64, &a, &b).unwrap();
        prop_assert_eq!(applied(&base, &merged), sequential);
    }

    #[test]
    fn dense_sparse_and_ranges_forms_of_one_change_agree((base, change, _, _, _) in page_and_two_changes()) {
        let expected = change.reference_apply(&base);
        prop_assert_eq!(&applied(&base, &change.dense_over(&base)), &expected);
        prop_assert_eq!(&applied(&base, &change.sparse()), &expected);
        prop_assert_eq!(&applied(&base, &change.ranges()), &expected);
    }

    #[test]
    fn merge_is_associative_in_effect(
        (base, first, second, first_form, second_form) in page_and_two_changes(),
        third_seed in any::<u64>(),
    ) {
        let size = base.len() as u64;
        let a = payload_of(&first, first_form, &base);
        let b = payload_of(&second, second_form, &base);
        let written = (0..base.len()).map(|i| (third_seed.rotate_left(i as u32) & 1 == 1).then_some(i as u8));
        let c = Change { written: written.collect() }.sparse();
        let left = merge(1, size, &merge(1, size, &a, &b).unwrap(), &c).unwrap();
        let right = merge(1, size, &a, &merge(1, size, &b, &c).unwrap()).unwrap();
        prop_assert_eq!(applied(&base, &left), applied(&base, &right));
    }
}

#[test]
fn merge_rejects_a_payload_that_does_not_fit() {
    let dense: Payload<Vec<u8>> = Payload::Dense(vec![0; 4]);
    let short: Payload<Vec<u8>> = Payload::Dense(vec![0; 3]);
    let error = merge(9, 4, &dense, &short).unwrap_err();
    assert_eq!(error.code, mmsb_core::ErrorCode::DeltaSizeMismatch);
    assert!(error.message.contains("page 9"), "{}", error.message);
}
