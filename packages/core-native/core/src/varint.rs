//! LEB128 variable-length unsigned integers: seven bits a byte, low bits
//! first, the high bit set on every byte but the last. Used where most values
//! are small (mask run lengths, a wave's page id steps and page sizes).

/// The most bytes a u64 takes.
const U64_BYTES_MAX: usize = 10;

/// Appends `value`.
#[inline]
pub fn put(mut value: u64, out: &mut Vec<u8>) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// Why a varint could not be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Malformed {
    /// The bytes ended inside it.
    Truncated,
    /// It runs past ten bytes or past 64 bits.
    Overlong,
}

/// Reads the varint at `*cursor` and moves the cursor past it.
#[inline]
pub fn read(bytes: &[u8], cursor: &mut usize) -> Result<u64, Malformed> {
    let mut value = 0u64;
    for index in 0..U64_BYTES_MAX {
        let &byte = bytes.get(*cursor + index).ok_or(Malformed::Truncated)?;
        let bits = u64::from(byte & 0x7f);
        // The tenth byte holds the top bit of a u64 alone.
        if index == U64_BYTES_MAX - 1 && bits > 1 {
            return Err(Malformed::Overlong);
        }
        value |= bits << (7 * index);
        if byte & 0x80 == 0 {
            *cursor += index + 1;
            return Ok(value);
        }
    }
    Err(Malformed::Overlong)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_round_trip_at_every_length() {
        let values = [
            0,
            1,
            0x7f,
            0x80,
            0x3fff,
            0x4000,
            u64::from(u32::MAX),
            u64::MAX - 1,
            u64::MAX,
        ];
        for value in values {
            let mut bytes = vec![0xaa];
            put(value, &mut bytes);
            let mut cursor = 1;
            assert_eq!(read(&bytes, &mut cursor), Ok(value));
            assert_eq!(cursor, bytes.len());
        }
    }

    #[test]
    fn truncated_and_overlong_are_refused() {
        assert_eq!(read(&[0x80, 0x80], &mut 0), Err(Malformed::Truncated));
        assert_eq!(read(&[], &mut 0), Err(Malformed::Truncated));
        assert_eq!(read(&[0xff; 11], &mut 0), Err(Malformed::Overlong));
        let mut past_64_bits = vec![0xff; 9];
        past_64_bits.push(0x02);
        assert_eq!(read(&past_64_bits, &mut 0), Err(Malformed::Overlong));
    }
}
