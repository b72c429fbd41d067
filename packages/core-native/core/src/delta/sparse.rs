//! The sparse kernel: scatter packed bytes to the positions of a bit mask.
//!
//! The mask is read 64 bits at a time: an empty word skips 64 page bytes, a
//! full word is one 64-byte copy, and a mixed word visits only its set bits.

/// Number of set bits in `mask`.
pub fn count_ones(mask: &[u8]) -> u64 {
    let (words, tail) = mask.as_chunks::<8>();
    let from_words: u64 = words
        .iter()
        .map(|word| u64::from(u64::from_le_bytes(*word).count_ones()))
        .sum();
    from_words + tail.iter().map(|byte| u64::from(byte.count_ones())).sum::<u64>()
}

/// Writes `packed[k]` to the page byte of the k-th set bit of `mask`.
/// The caller has validated lengths: `mask` covers `page`, `packed` has one
/// byte per set bit.
pub fn scatter(page: &mut [u8], mask: &[u8], packed: &[u8]) {
    debug_assert_eq!(mask.len(), page.len().div_ceil(8));
    debug_assert_eq!(count_ones(mask), packed.len() as u64);
    let mut next = 0usize;
    let (words, tail) = mask.as_chunks::<8>();
    for (word_index, word) in words.iter().enumerate() {
        let mut bits = u64::from_le_bytes(*word);
        let base = word_index * 64;
        if bits == u64::MAX {
            page[base..base + 64].copy_from_slice(&packed[next..next + 64]);
            next += 64;
            continue;
        }
        while bits != 0 {
            page[base + bits.trailing_zeros() as usize] = packed[next];
            next += 1;
            bits &= bits - 1;
        }
    }
    let tail_base = words.len() * 64;
    for (byte_index, &byte) in tail.iter().enumerate() {
        let mut bits = byte;
        while bits != 0 {
            page[tail_base + byte_index * 8 + bits.trailing_zeros() as usize] = packed[next];
            next += 1;
            bits &= bits - 1;
        }
    }
    debug_assert_eq!(next, packed.len());
}
