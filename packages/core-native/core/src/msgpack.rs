//! A validator for one MessagePack value: metadata values are stored as the
//! caller's msgpack bytes, and must be exactly one well-formed value.
//!
//! It walks the bytes without recursion (a count of values still to read),
//! so hostile nesting cannot exhaust the stack.

use crate::error::{fail, Result};

/// Returns `Ok(())` when `bytes` hold exactly one complete msgpack value.
pub fn validate_single_value(bytes: &[u8]) -> Result<()> {
    let mut cursor = 0usize;
    let mut values_pending: u64 = 1;
    while values_pending > 0 {
        let remaining = (bytes.len() - cursor) as u64;
        if values_pending > remaining {
            return fail!(MetadataInvalid, "msgpack value is truncated at byte {cursor}");
        }
        values_pending -= 1;
        let marker = bytes[cursor];
        cursor += 1;
        let (skip, children) = match marker {
            0x00..=0x7f | 0xe0..=0xff | 0xc0 | 0xc2 | 0xc3 => (0, 0),
            0x80..=0x8f => (0, 2 * u64::from(marker & 0x0f)),
            0x90..=0x9f => (0, u64::from(marker & 0x0f)),
            0xa0..=0xbf => (u64::from(marker & 0x1f), 0),
            0xc4 | 0xd9 => (read_be(bytes, &mut cursor, 1)?, 0),
            0xc5 | 0xda => (read_be(bytes, &mut cursor, 2)?, 0),
            0xc6 | 0xdb => (read_be(bytes, &mut cursor, 4)?, 0),
            0xc7 => (read_be(bytes, &mut cursor, 1)? + 1, 0),
            0xc8 => (read_be(bytes, &mut cursor, 2)? + 1, 0),
            0xc9 => (read_be(bytes, &mut cursor, 4)? + 1, 0),
            0xca => (4, 0),
            0xcb => (8, 0),
            0xcc | 0xd0 => (1, 0),
            0xcd | 0xd1 => (2, 0),
            0xce | 0xd2 => (4, 0),
            0xcf | 0xd3 => (8, 0),
            0xd4 => (2, 0),
            0xd5 => (3, 0),
            0xd6 => (5, 0),
            0xd7 => (9, 0),
            0xd8 => (17, 0),
            0xdc => (0, read_be(bytes, &mut cursor, 2)?),
            0xdd => (0, read_be(bytes, &mut cursor, 4)?),
            0xde => (0, 2 * read_be(bytes, &mut cursor, 2)?),
            0xdf => (0, 2 * read_be(bytes, &mut cursor, 4)?),
            0xc1 => return fail!(MetadataInvalid, "byte 0xc1 at {} is not a msgpack marker", cursor - 1),
        };
        if cfg!(feature = "planted-fuzz-bugs") && marker == 0xd9 {
            // Planted (Cargo.toml): a str 8 length trusted before the bounds check.
            let _ = &bytes[cursor..cursor + skip as usize];
        }
        if skip > (bytes.len() - cursor) as u64 {
            return fail!(MetadataInvalid, "msgpack value is truncated at byte {cursor}");
        }
        cursor += skip as usize;
        values_pending += children;
    }
    if cursor != bytes.len() {
        return fail!(
            MetadataInvalid,
            "{} trailing bytes after the msgpack value",
            bytes.len() - cursor
        );
    }
    Ok(())
}

fn read_be(bytes: &[u8], cursor: &mut usize, width: usize) -> Result<u64> {
    let Some(field) = bytes.get(*cursor..*cursor + width) else {
        return fail!(MetadataInvalid, "msgpack length field is truncated at byte {cursor}");
    };
    *cursor += width;
    Ok(field.iter().fold(0u64, |value, &byte| (value << 8) | u64::from(byte)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_scalars_and_containers() {
        for value in [
            &[0x01][..],
            &[0xc0],
            &[0xa3, b'a', b'b', b'c'],
            &[0x92, 0x01, 0xa1, b'x'],
            &[0x81, 0xa1, b'k', 0xcb, 0, 0, 0, 0, 0, 0, 0, 0],
            &[0xc4, 0x02, 9, 9],
            &[0xcf, 1, 2, 3, 4, 5, 6, 7, 8],
        ] {
            assert_eq!(validate_single_value(value), Ok(()), "{value:?}");
        }
    }

    #[test]
    fn rejects_truncated_trailing_and_reserved() {
        for value in [
            &[][..],
            &[0xa3, b'a'],
            &[0x92, 0x01],
            &[0x01, 0x02],
            &[0xc1],
            &[0xdd, 0xff, 0xff, 0xff, 0xff],
            &[0xc6, 0xff, 0xff],
        ] {
            let error = validate_single_value(value).unwrap_err();
            assert_eq!(error.code, crate::error::ErrorCode::MetadataInvalid, "{value:?}");
        }
    }

    #[test]
    fn deep_nesting_does_not_recurse() {
        let mut value = vec![0x91u8; 1_000_000];
        value.push(0xc0);
        assert_eq!(validate_single_value(&value), Ok(()));
    }
}
