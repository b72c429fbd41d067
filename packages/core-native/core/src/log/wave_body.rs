//! The body of a wave record: the outputs of one propagation wave, each a
//! whole-page dense delta of source `propagation` without an expected epoch,
//! applied all or none like a deltas record. A deltas record spends 24 bytes
//! on an 8-byte output (page id, kind, source, flags, length); here the page
//! id is a step from the previous output's (a wave visits pages in nearly
//! increasing id order, so most steps take one byte) and the length a varint:
//! 10 bytes for the same output, which is what a million-page wave writes.
//!
//! ```text
//! count u32 | count × (id step: zigzag varint of id − previous id, previous 0 at first
//!                      | len varint | len bytes)
//! ```

use crate::page::PageId;
use crate::varint;

/// The fewest bytes an output takes (a one-byte step and length).
const OUTPUT_BYTES_MIN: usize = 2;

/// Writes the wave body of `count` outputs into `body` (cleared first).
pub fn encode<'a>(count: usize, outputs: impl Iterator<Item = (PageId, &'a [u8])>, body: &mut Vec<u8>) {
    body.clear();
    body.extend_from_slice(
        &u32::try_from(count)
            .expect("a wave visits fewer than 2^32 pages")
            .to_le_bytes(),
    );
    let mut previous: PageId = 0;
    for (page_id, bytes) in outputs {
        varint::put(zigzag(page_id.wrapping_sub(previous) as i64), body);
        varint::put(bytes.len() as u64, body);
        body.extend_from_slice(bytes);
        previous = page_id;
    }
}

/// The outputs of a wave body that `decode` checked, read from the body on
/// each pass: replay checks them all, then applies them, and holds nothing
/// per output (a decoded delta is 80 bytes, so a 100 KB zstd frame of a
/// 1 GiB body of 2-byte outputs would claim 43 GB).
#[derive(Clone, Copy, Debug)]
pub struct WaveOutputs<'a> {
    body: &'a [u8],
    count: usize,
}

impl<'a> WaveOutputs<'a> {
    pub fn len(&self) -> usize {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Each output's page id and bytes, in the body's order.
    pub fn iter(&self) -> impl Iterator<Item = (PageId, &'a [u8])> + 'a {
        let body = self.body;
        let (mut cursor, mut previous) = (4, 0);
        (0..self.count).map(move |_| {
            let output = next_output(body, &mut cursor, previous).expect("checked by decode");
            previous = output.0;
            output
        })
    }
}

/// Checks a wave body, outputs of source `propagation` without an expected
/// epoch; the error describes the first malformed byte for a `LOG_CORRUPT`
/// message.
pub fn decode(body: &[u8]) -> Result<WaveOutputs<'_>, String> {
    let count_bytes = body.get(..4).ok_or("wave body truncated at byte 0")?;
    let count = u32::from_le_bytes(count_bytes.try_into().expect("4 bytes")) as usize;
    if count > (body.len() - 4) / OUTPUT_BYTES_MIN {
        return Err(format!("wave body of {} bytes claims {count} outputs", body.len()));
    }
    let mut cursor = 4;
    let mut previous: PageId = 0;
    for _ in 0..count {
        previous = next_output(body, &mut cursor, previous)?.0;
    }
    if cursor != body.len() {
        return Err(format!("{} trailing bytes in a wave body", body.len() - cursor));
    }
    Ok(WaveOutputs { body, count })
}

/// Reads the output at `*cursor`, whose id steps from `previous`.
fn next_output<'a>(body: &'a [u8], cursor: &mut usize, previous: PageId) -> Result<(PageId, &'a [u8]), String> {
    let at = *cursor;
    let step = varint::read(body, cursor).map_err(|malformed| describe(malformed, at))?;
    let page_id = previous.wrapping_add(unzigzag(step) as u64);
    // The step is a difference of u64 ids taken modulo 2^64: any id is one step away.
    if page_id == 0 {
        return Err(format!("wave output at byte {at} names page 0"));
    }
    let len = varint::read(body, cursor).map_err(|malformed| describe(malformed, at))?;
    let bytes = usize::try_from(len)
        .ok()
        .and_then(|len| body.get(*cursor..)?.get(..len))
        .ok_or_else(|| format!("wave output at byte {at} claims {len} bytes past the body's end"))?;
    *cursor += bytes.len();
    Ok((page_id, bytes))
}

fn describe(malformed: varint::Malformed, at: usize) -> String {
    match malformed {
        varint::Malformed::Truncated => format!("wave output at byte {at} is truncated"),
        varint::Malformed::Overlong => format!("wave output at byte {at} has an overlong varint"),
    }
}

fn zigzag(value: i64) -> u64 {
    ((value << 1) ^ (value >> 63)) as u64
}

fn unzigzag(value: u64) -> i64 {
    ((value >> 1) as i64) ^ -((value & 1) as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encoded(outputs: &[(PageId, &[u8])]) -> Vec<u8> {
        let mut body = vec![0xee; 3];
        encode(outputs.len(), outputs.iter().copied(), &mut body);
        body
    }

    #[test]
    fn outputs_round_trip_in_any_id_order() {
        let outputs: Vec<(PageId, &[u8])> = vec![
            (5, &[1; 8]),
            (6, &[2; 8]),
            (3, &[3; 4096]),
            (u64::MAX, &[]),
            (1, &[4]),
            (u64::MAX - 1, &[5; 3]),
        ];
        let body = encoded(&outputs);
        let decoded = decode(&body).unwrap();
        assert_eq!(decoded.len(), outputs.len());
        assert_eq!(decoded.iter().collect::<Vec<_>>(), outputs);
    }

    #[test]
    fn consecutive_small_outputs_take_ten_bytes() {
        let outputs: Vec<(PageId, &[u8])> = (1..=1000).map(|id| (id, &[7u8; 8][..])).collect();
        assert_eq!(encoded(&outputs).len(), 4 + 1000 * 10);
    }

    #[test]
    fn malformed_bodies_are_refused_without_panic() {
        let body = encoded(&[(9, &[1; 8]), (10, &[2; 300])]);
        for len in 0..body.len() {
            assert!(decode(&body[..len]).is_err(), "truncated to {len} bytes");
        }
        let mut trailing = body.clone();
        trailing.push(0);
        assert!(decode(&trailing).unwrap_err().contains("trailing"));
        let mut huge_count = body.clone();
        huge_count[..4].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(decode(&huge_count).unwrap_err().contains("claims"));
        let page_zero = encoded(&[(0, &[1])]);
        assert!(decode(&page_zero).unwrap_err().contains("page 0"));
        let mut huge_len = vec![1, 0, 0, 0, 2];
        varint::put(u64::MAX, &mut huge_len);
        assert!(decode(&huge_len).unwrap_err().contains("past the body's end"));
    }
}
