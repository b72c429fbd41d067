//! The binary encoding of a delta batch: how many deltas cross napi in one
//! call (and, later, how a delta sits in a log record). Specified byte by byte
//! in docs/formats.md; all integers little-endian.
//!
//! ```text
//! batch  := "MDB1" | count u32 | delta × count
//! delta  := page_id u64 | kind u8 | source u8 | flags u8 | reserved u8 (= 0)
//!           | expect_epoch u64 (only when flags bit 0 is set) | body
//! body   := dense  (kind 1): len u32 | bytes
//!         | sparse (kind 2): mask_len u32 | mask | packed_len u32 | packed
//!         | ranges (kind 3): count u32 | (offset u32 | len u32 | bytes) × count
//! ```
//!
//! Decoding trusts nothing: every length is checked against the buffer and a
//! failure names the byte offset. Decoded deltas borrow the input bytes.

use super::{Delta, Payload, RangeWrite, Source};
use crate::error::{fail, Result};

pub const BATCH_MAGIC: [u8; 4] = *b"MDB1";
const KIND_DENSE: u8 = 1;
const KIND_SPARSE: u8 = 2;
const KIND_RANGES: u8 = 3;
const FLAG_EXPECT_EPOCH: u8 = 1;

/// Decodes a whole batch; fails on any malformed or trailing byte.
pub fn decode_batch(bytes: &[u8]) -> Result<Vec<Delta<&[u8]>>> {
    let mut reader = Reader { bytes, cursor: 0 };
    if reader.take(4)? != BATCH_MAGIC {
        return fail!(EncodingInvalid, "delta batch does not start with \"MDB1\"");
    }
    let count = reader.u32()? as usize;
    // Each delta takes at least 17 bytes, which bounds a hostile count.
    if count > bytes.len() / 17 {
        return fail!(
            EncodingInvalid,
            "delta batch claims {count} deltas in {} bytes",
            bytes.len()
        );
    }
    let mut deltas = Vec::with_capacity(count);
    for _ in 0..count {
        deltas.push(reader.delta()?);
    }
    if reader.cursor != bytes.len() {
        return fail!(
            EncodingInvalid,
            "{} trailing bytes after the delta batch",
            bytes.len() - reader.cursor
        );
    }
    Ok(deltas)
}

/// Appends a batch header for `count` deltas.
pub fn encode_batch_header(count: u32, out: &mut Vec<u8>) {
    out.extend_from_slice(&BATCH_MAGIC);
    out.extend_from_slice(&count.to_le_bytes());
}

/// Appends one delta. Lengths above u32 cannot occur for valid pages
/// (`PAGE_SIZE_MAX`), so they are asserted.
pub fn encode_delta<B: AsRef<[u8]>>(delta: &Delta<B>, out: &mut Vec<u8>) {
    out.extend_from_slice(&delta.page_id.to_le_bytes());
    let kind = match delta.payload {
        Payload::Dense(_) => KIND_DENSE,
        Payload::Sparse { .. } => KIND_SPARSE,
        Payload::Ranges(_) => KIND_RANGES,
    };
    let flags = if delta.expect_epoch.is_some() {
        FLAG_EXPECT_EPOCH
    } else {
        0
    };
    out.extend_from_slice(&[kind, delta.source as u8, flags, 0]);
    if let Some(epoch) = delta.expect_epoch {
        out.extend_from_slice(&epoch.to_le_bytes());
    }
    match &delta.payload {
        Payload::Dense(bytes) => put_bytes(bytes.as_ref(), out),
        Payload::Sparse { mask, packed } => {
            put_bytes(mask.as_ref(), out);
            put_bytes(packed.as_ref(), out);
        }
        Payload::Ranges(writes) => {
            put_u32(writes.len(), out);
            for write in writes {
                put_u32(usize::try_from(write.offset).expect("range offset fits usize"), out);
                put_bytes(write.bytes.as_ref(), out);
            }
        }
    }
}

fn put_u32(value: usize, out: &mut Vec<u8>) {
    let value = u32::try_from(value).expect("encoded lengths fit u32 (PAGE_SIZE_MAX)");
    out.extend_from_slice(&value.to_le_bytes());
}

fn put_bytes(bytes: &[u8], out: &mut Vec<u8>) {
    put_u32(bytes.len(), out);
    out.extend_from_slice(bytes);
}

struct Reader<'a> {
    bytes: &'a [u8],
    cursor: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, len: usize) -> Result<&'a [u8]> {
        let Some(slice) = self.bytes.get(self.cursor..).and_then(|rest| rest.get(..len)) else {
            return fail!(
                EncodingInvalid,
                "delta batch is truncated at byte {}: {len} more bytes expected",
                self.cursor
            );
        };
        self.cursor += len;
        Ok(slice)
    }

    fn u8(&mut self) -> Result<u8> {
        Ok(self.take(1)?[0])
    }

    fn u32(&mut self) -> Result<u32> {
        Ok(u32::from_le_bytes(self.take(4)?.try_into().expect("4 bytes")))
    }

    fn u64(&mut self) -> Result<u64> {
        Ok(u64::from_le_bytes(self.take(8)?.try_into().expect("8 bytes")))
    }

    fn counted_bytes(&mut self) -> Result<&'a [u8]> {
        let len = self.u32()? as usize;
        self.take(len)
    }

    fn delta(&mut self) -> Result<Delta<&'a [u8]>> {
        let start = self.cursor;
        let page_id = self.u64()?;
        let kind = self.u8()?;
        let source_byte = self.u8()?;
        let flags = self.u8()?;
        let reserved = self.u8()?;
        let Some(source) = Source::from_u8(source_byte) else {
            return fail!(
                EncodingInvalid,
                "delta at byte {start} has unknown source {source_byte}"
            );
        };
        if flags & !FLAG_EXPECT_EPOCH != 0 || reserved != 0 {
            return fail!(
                EncodingInvalid,
                "delta at byte {start} has unknown flags {flags:#x} or reserved {reserved:#x}"
            );
        }
        let expect_epoch = if flags & FLAG_EXPECT_EPOCH != 0 {
            Some(self.u64()?)
        } else {
            None
        };
        let payload = match kind {
            KIND_DENSE => Payload::Dense(self.counted_bytes()?),
            KIND_SPARSE => {
                let mask = self.counted_bytes()?;
                let packed = self.counted_bytes()?;
                Payload::Sparse { mask, packed }
            }
            KIND_RANGES => {
                let count = self.u32()? as usize;
                if count > (self.bytes.len() - self.cursor) / 8 {
                    return fail!(
                        EncodingInvalid,
                        "delta at byte {start} claims {count} ranges past the buffer end"
                    );
                }
                let mut writes = Vec::with_capacity(count);
                for _ in 0..count {
                    let offset = u64::from(self.u32()?);
                    let bytes = self.counted_bytes()?;
                    writes.push(RangeWrite { offset, bytes });
                }
                Payload::Ranges(writes)
            }
            _ => return fail!(EncodingInvalid, "delta at byte {start} has unknown kind {kind}"),
        };
        Ok(Delta {
            page_id,
            payload,
            source,
            expect_epoch,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;

    fn sample() -> Vec<Delta<Vec<u8>>> {
        vec![
            Delta {
                page_id: 7,
                payload: Payload::Dense(vec![1, 2, 3]),
                source: Source::User,
                expect_epoch: Some(4),
            },
            Delta {
                page_id: u64::MAX,
                payload: Payload::Sparse {
                    mask: vec![0b101],
                    packed: vec![9, 8],
                },
                source: Source::Propagation,
                expect_epoch: None,
            },
            Delta {
                page_id: 1,
                payload: Payload::Ranges(vec![RangeWrite {
                    offset: 2,
                    bytes: vec![5],
                }]),
                source: Source::Bridge,
                expect_epoch: None,
            },
        ]
    }

    fn encode(deltas: &[Delta<Vec<u8>>]) -> Vec<u8> {
        let mut out = Vec::new();
        encode_batch_header(deltas.len() as u32, &mut out);
        for delta in deltas {
            encode_delta(delta, &mut out);
        }
        out
    }

    #[test]
    fn batch_round_trips() {
        let deltas = sample();
        let bytes = encode(&deltas);
        let decoded = decode_batch(&bytes).unwrap();
        let owned: Vec<Delta<Vec<u8>>> = decoded
            .iter()
            .map(|delta| Delta {
                page_id: delta.page_id,
                payload: match &delta.payload {
                    Payload::Dense(bytes) => Payload::Dense(bytes.to_vec()),
                    Payload::Sparse { mask, packed } => Payload::Sparse {
                        mask: mask.to_vec(),
                        packed: packed.to_vec(),
                    },
                    Payload::Ranges(writes) => Payload::Ranges(
                        writes
                            .iter()
                            .map(|write| RangeWrite {
                                offset: write.offset,
                                bytes: write.bytes.to_vec(),
                            })
                            .collect(),
                    ),
                },
                source: delta.source,
                expect_epoch: delta.expect_epoch,
            })
            .collect();
        assert_eq!(owned, deltas);
    }

    #[test]
    fn every_truncation_is_rejected_without_panic() {
        let bytes = encode(&sample());
        for len in 0..bytes.len() {
            let error = decode_batch(&bytes[..len]).unwrap_err();
            assert_eq!(error.code, ErrorCode::EncodingInvalid, "prefix of {len} bytes");
        }
    }

    #[test]
    fn trailing_bytes_and_unknown_kinds_are_rejected() {
        let mut bytes = encode(&sample());
        bytes.push(0);
        assert_eq!(decode_batch(&bytes).unwrap_err().code, ErrorCode::EncodingInvalid);
        let mut bytes = encode(&sample()[..1]);
        bytes[16] = 9;
        assert!(decode_batch(&bytes).unwrap_err().message.contains("unknown kind 9"));
    }
}
