//! Inputs the fuzz targets (packages/core-native/fuzz) crashed on, replayed
//! as ordinary tests so that they stay fixed. Each test says what broke.

use mmsb_core::log::body::encode_page_release;
use mmsb_core::log::record::{header, RecordKind};
use mmsb_core::log::scan::scan_segment;
use mmsb_core::log::segment::segment_header;
use mmsb_core::ErrorCode;

fn record(lsn: u64) -> Vec<u8> {
    let body = encode_page_release(1);
    let frame = header(lsn, RecordKind::PageRelease, false, &[&body]).unwrap();
    [&frame[..], &body].concat()
}

/// A segment whose header names an LSN near 2^64 overflowed the window of
/// LSNs searched after damage (`expected + 2^20`): a panic in checked
/// builds, a wrong decision in release ones (log_segment target).
#[test]
fn damage_in_a_segment_starting_near_the_largest_lsn_is_judged_without_overflow() {
    let first_lsn = u64::MAX - 3;
    let mut bytes = segment_header(first_lsn).to_vec();
    bytes.extend_from_slice(&[0x5a; 30]);
    bytes.extend_from_slice(&record(u64::MAX - 2));
    let error = scan_segment("near-max.log", &bytes, first_lsn, true)
        .err()
        .expect("refused");
    assert_eq!(error.code, ErrorCode::LogCorrupt);
    assert!(error.message.contains("with a valid record after it"), "{error}");
}

/// A valid record with LSN 2^64 - 1 overflowed the next expected LSN.
#[test]
fn a_record_with_the_largest_lsn_is_refused_without_overflow() {
    let first_lsn = u64::MAX - 1;
    let bytes = [&segment_header(first_lsn)[..], &record(u64::MAX - 1), &record(u64::MAX)].concat();
    let error = scan_segment("max.log", &bytes, first_lsn, true).err().expect("refused");
    assert_eq!(error.code, ErrorCode::LogCorrupt);
    assert!(error.message.contains("offset"), "{error}");
}
