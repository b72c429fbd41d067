//! The batch encoding (`MDB1`, delta/encoding.rs) that crosses napi and is
//! stored as delta records: decoding never panics, and what decodes
//! re-encodes to a batch that decodes to the same deltas.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mmsb_core::delta::encoding::{decode_batch, encode_batch_header, encode_delta};

fuzz_target!(|bytes: &[u8]| {
    let Ok(deltas) = decode_batch(bytes) else {
        return;
    };
    let mut encoded = Vec::new();
    encode_batch_header(deltas.len() as u32, &mut encoded);
    for delta in &deltas {
        encode_delta(delta, &mut encoded);
    }
    let again = decode_batch(&encoded).expect("an encoded batch decodes");
    assert_eq!(again, deltas);
});
