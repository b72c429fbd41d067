//! The sparse kernel: scatter packed bytes to the positions of a bit mask.
//!
//! The mask is read 64 bits at a time, one word per 64 page bytes. With
//! AVX-512 VBMI2 (detected at run time) a word is one `vpexpandb`: load the
//! word's packed bytes, expand them to the set positions, blend with the page.
//! Elsewhere an empty word skips 64 bytes, a full word is one copy, and a
//! mixed word visits only its set bits.

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
/// byte per set bit, and no bit is set past the page end.
pub fn scatter(page: &mut [u8], mask: &[u8], packed: &[u8]) {
    debug_assert_eq!(mask.len(), page.len().div_ceil(8));
    debug_assert_eq!(count_ones(mask), packed.len() as u64);
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx512vbmi2") && std::arch::is_x86_feature_detected!("avx512bw") {
        // Safety: the features are present, checked just above.
        let (words_done, next) = unsafe { expand_words_avx512(page, mask, packed) };
        scatter_scalar(page, mask, packed, words_done, next);
        return;
    }
    scatter_scalar(page, mask, packed, 0, 0);
}

/// The portable kernel, from mask word `first_word` and packed byte `next` on.
fn scatter_scalar(page: &mut [u8], mask: &[u8], packed: &[u8], first_word: usize, mut next: usize) {
    let (words, tail) = mask.as_chunks::<8>();
    for (word_index, word) in words.iter().enumerate().skip(first_word) {
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

/// Expands every whole 64-byte block of the page; returns how many mask
/// words it consumed and how many packed bytes.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512vbmi2,popcnt")]
unsafe fn expand_words_avx512(page: &mut [u8], mask: &[u8], packed: &[u8]) -> (usize, usize) {
    use std::arch::x86_64::{
        __m512i, _mm512_loadu_si512, _mm512_mask_expand_epi8, _mm512_maskz_loadu_epi8, _mm512_storeu_si512,
    };
    let blocks = page.len() / 64;
    let mut next = 0usize;
    for block in 0..blocks {
        let bits = u64::from_le_bytes(mask[block * 8..block * 8 + 8].try_into().expect("8 mask bytes"));
        let count = bits.count_ones() as usize;
        // No branch on empty words: at low densities their mispredictions
        // cost more than the expand itself. A full 64-byte load is used while
        // it stays inside `packed`; near its end the load is masked.
        // Safety: the loads touch only bytes inside `packed` (validation
        // guarantees `count` bytes remain from `next`); the block is a whole
        // 64 bytes inside `page`.
        unsafe {
            let from = packed.as_ptr().add(next).cast();
            let source = if next + 64 <= packed.len() {
                _mm512_loadu_si512(from)
            } else {
                let load_mask = if count == 0 { 0 } else { u64::MAX >> (64 - count) };
                _mm512_maskz_loadu_epi8(load_mask, from.cast())
            };
            let target = page.as_mut_ptr().add(block * 64).cast::<__m512i>();
            let merged = _mm512_mask_expand_epi8(_mm512_loadu_si512(target), bits, source);
            _mm512_storeu_si512(target, merged);
        }
        next += count;
    }
    (blocks, next)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reference(page: &[u8], mask: &[u8], packed: &[u8]) -> Vec<u8> {
        let mut out = page.to_vec();
        let mut next = 0;
        for (index, byte) in out.iter_mut().enumerate() {
            if mask[index / 8] >> (index % 8) & 1 == 1 {
                *byte = packed[next];
                next += 1;
            }
        }
        out
    }

    /// Deterministic pseudo-random bytes.
    fn noise(len: usize, state: u64) -> Vec<u8> {
        crate::test_rng::Rng(state).bytes(len)
    }

    #[test]
    fn both_kernels_match_the_reference_at_every_density_and_size() {
        for size in [1, 7, 63, 64, 65, 127, 128, 129, 1000, 4099] {
            for density in [0u8, 1, 40, 128, 250, 255] {
                let page = noise(size, size as u64 + 1);
                let mut mask: Vec<u8> = vec![0; size.div_ceil(8)];
                for (index, roll) in noise(size, u64::from(density) + 7).iter().enumerate() {
                    if *roll < density || density == 255 {
                        mask[index / 8] |= 1 << (index % 8);
                    }
                }
                let packed = noise(count_ones(&mask) as usize, 99);
                let expected = reference(&page, &mask, &packed);
                let mut dispatched = page.clone();
                scatter(&mut dispatched, &mask, &packed);
                assert_eq!(
                    dispatched, expected,
                    "dispatched kernel, size {size}, density {density}"
                );
                let mut portable = page.clone();
                scatter_scalar(&mut portable, &mask, &packed, 0, 0);
                assert_eq!(portable, expected, "portable kernel, size {size}, density {density}");
            }
        }
    }
}
