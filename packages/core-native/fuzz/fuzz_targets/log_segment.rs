//! A log segment as recovery reads it: the scan's decision for every byte
//! (log/scan.rs), each record's body decompressed and decoded, and the
//! change applied to a state. The first input byte chooses whether the
//! checksums are repaired first (to reach the body decoders) and whether the
//! segment is the newest one.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mmsb_core::log::body::decode;
use mmsb_core::log::scan::scan_segment;
use mmsb_core::log::segment::read_segment_header;
use mmsb_core::State;

fuzz_target!(|input: &[u8]| {
    let Some((&mode, rest)) = input.split_first() else {
        return;
    };
    let mut bytes = rest.to_vec();
    if mode & 1 == 0 {
        mmsb_fuzz::fix_segment_checksums(&mut bytes);
    }
    let is_last = mode & 2 == 0;
    let first_lsn = read_segment_header(&bytes).map_or(1, |header| header.first_lsn);
    let Ok(scanned) = scan_segment("fuzz.log", &bytes, first_lsn, is_last) else {
        return;
    };
    assert!(scanned.valid_end <= bytes.len());
    assert!(scanned.torn_end <= bytes.len());
    assert!(is_last || !scanned.is_torn(), "only the newest segment may be torn");
    let mut state = State::new();
    for (index, (record, offset)) in scanned.records.iter().enumerate() {
        assert_eq!(record.lsn, first_lsn + index as u64);
        assert!(*offset < scanned.valid_end);
        let Ok(body) = record.body() else {
            continue;
        };
        let Ok(change) = decode(record.kind, &body) else {
            continue;
        };
        if !mmsb_fuzz::too_costly_to_apply(&change) {
            let _ = state.apply_change(&change);
        }
    }
    let _ = state.state_hash();
});
