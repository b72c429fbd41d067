//! Joining CRC32C checksums of adjacent byte ranges, for checksums taken in
//! pieces by several threads (checkpoint reads, restores to the device).
//!
//! `crc32c::crc32c_combine` raises a 32×32 bit matrix to the length's power
//! on every call: about 35 µs here, and a restore joins one checksum per
//! copy to the device (49 for an 84 MiB checkpoint in 2 MiB copies, 85 in
//! 1 MiB ones: 3 ms). Here the shift by the length is a product of the
//! precomputed powers x^(2^k) mod P, under a microsecond.

/// The CRC32C polynomial, bit-reflected: bit 31 is x^0.
const POLY: u32 = 0x82F6_3B78;

/// `a * b mod P`, for polynomials in the reflected representation.
const fn multiply(a: u32, mut b: u32) -> u32 {
    let mut product = 0;
    let mut bit = 1u32 << 31;
    while bit != 0 {
        if a & bit != 0 {
            product ^= b;
        }
        bit >>= 1;
        b = if b & 1 != 0 { (b >> 1) ^ POLY } else { b >> 1 };
    }
    product
}

/// `POWERS[k]` is x^(2^k) mod P, for the bits of a length in bytes
/// (x^(8n): from k = 3 to 3 + 63).
const POWERS: [u32; 67] = {
    let mut powers = [0u32; 67];
    powers[0] = 1 << 30;
    let mut k = 1;
    while k < 67 {
        powers[k] = multiply(powers[k - 1], powers[k - 1]);
        k += 1;
    }
    powers
};

/// The CRC32C of the bytes of `first` followed by those of `second`, from
/// their checksums and the length of the second.
pub fn combine(first: u32, second: u32, second_len: usize) -> u32 {
    // crc(AB) = crc(A) * x^(8 * len(B)) mod P, xor crc(B): the initial and
    // final inversions cancel out, as for any CRC whose two are equal.
    let mut shift = 1u32 << 31;
    let mut len = second_len as u64;
    let mut k = 3;
    while len != 0 {
        if len & 1 != 0 {
            shift = multiply(POWERS[k], shift);
        }
        len >>= 1;
        k += 1;
    }
    multiply(shift, first) ^ second
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn joins_as_the_checksum_of_the_joined_bytes() {
        let bytes = crate::test_rng::Rng(0x9e37_79b9_7f4a_7c15).bytes(70_000);
        for split in [0, 1, 3, 8, 4095, 4096, 65_537, 69_999, 70_000] {
            let (a, b) = bytes.split_at(split);
            let joined = combine(crc32c::crc32c(a), crc32c::crc32c(b), b.len());
            assert_eq!(joined, crc32c::crc32c(&bytes), "split at {split}");
        }
    }

    #[test]
    fn agrees_with_the_crates_combine_for_large_lengths() {
        // Past 2^61 bytes, where the length in bits no longer fits 64 bits.
        const HUGE: usize = 10_000_000_000_000_000_000;
        for (first, second, len) in [
            (0, 0, 0),
            (1, 2, 1 << 20),
            (0xdead_beef, 7, (8 << 20) + 5),
            (3, 4, 1 << 40),
            (5, 6, HUGE),
        ] {
            assert_eq!(combine(first, second, len), crc32c::crc32c_combine(first, second, len));
        }
    }
}
