//! Metadata entries (metadata.rs): a key and a msgpack value, both the
//! caller's bytes, validated before anything is stored. The first byte is
//! the key's length.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mmsb_core::metadata::validate_entry;

fuzz_target!(|input: &[u8]| {
    let Some((&key_len, rest)) = input.split_first() else {
        return;
    };
    let (key, value) = rest.split_at((key_len as usize).min(rest.len()));
    let Ok(key) = std::str::from_utf8(key) else {
        return;
    };
    let _ = validate_entry(key, Some(value));
    let _ = validate_entry(key, None);
});
