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
//!         | sparse with a run-length coded mask (kind 4):
//!           runs_len u32 | runs | mask_len u32 | packed_len u32 | packed
//! runs   := (count varint ≥ 1 | byte) …   the mask is each byte repeated count times
//! ```
//!
//! Kind 4 is what the log writes for sparse deltas whose masks shrink by
//! half or more (masks of contiguous regions); readers accept it anywhere.
//! Decoding trusts nothing: every length is checked against the buffer and a
//! failure names the byte offset. Decoded deltas borrow the input bytes,
//! except run-length coded masks, which are expanded: by `EncodedBatch`, one
//! at a time as its deltas are read.

use std::borrow::Cow;

use super::{Delta, Payload, RangeWrite, Source};
use crate::error::{fail, Result};
use crate::varint;

pub const BATCH_MAGIC: [u8; 4] = *b"MDB1";
/// The magic and the delta count.
const BATCH_HEADER_BYTES: usize = 8;
const KIND_DENSE: u8 = 1;
const KIND_SPARSE: u8 = 2;
const KIND_RANGES: u8 = 3;
const KIND_SPARSE_RUNS: u8 = 4;
/// The largest mask a run-length coded delta may expand to (a 4 GiB page's).
const MASK_BYTES_MAX: usize = 1 << 29;
/// Masks shorter than this are always written plain.
const RUNS_WORTH_MASK_BYTES_MIN: usize = 64;
const FLAG_EXPECT_EPOCH: u8 = 1;
/// The most bytes a mask run length takes: readers since kind 4 existed
/// refuse a seventh as overlong, so a longer one must stay refused.
const MASK_RUN_BYTES_MAX: usize = 6;

/// Decodes a whole batch; fails on any malformed or trailing byte.
pub fn decode_batch(bytes: &[u8]) -> Result<Vec<Delta<Cow<'_, [u8]>>>> {
    let mut reader = Reader {
        bytes,
        cursor: 0,
        expand: true,
    };
    let count = reader.batch_header()?;
    let mut deltas = Vec::with_capacity(count);
    for _ in 0..count {
        deltas.push(reader.delta()?);
    }
    reader.batch_end()?;
    Ok(deltas)
}

/// A batch whose every byte `parse` checked, decoded delta by delta as
/// `iter` reads it. A run-length coded mask is expanded only when its delta
/// is read, so a batch read this way holds one expanded mask at a time: a few
/// bytes of runs claim up to 512 MiB, and a forged batch claiming thousands
/// must not be expanded whole before any delta is checked against its page.
#[derive(Clone, Copy, Debug)]
pub struct EncodedBatch<'a> {
    bytes: &'a [u8],
    count: usize,
    expects_epochs: bool,
}

impl<'a> EncodedBatch<'a> {
    /// Checks the magic, every length against the buffer, the kinds, sources,
    /// flags, mask runs and that no byte trails the last delta.
    pub fn parse(bytes: &'a [u8]) -> Result<EncodedBatch<'a>> {
        let mut reader = Reader {
            bytes,
            cursor: 0,
            expand: false,
        };
        let count = reader.batch_header()?;
        let mut expects_epochs = false;
        for _ in 0..count {
            expects_epochs |= reader.delta()?.expect_epoch.is_some();
        }
        reader.batch_end()?;
        Ok(EncodedBatch {
            bytes,
            count,
            expects_epochs,
        })
    }

    /// True when some delta expects an epoch.
    pub fn expects_epochs(&self) -> bool {
        self.expects_epochs
    }

    /// The deltas in order, each decoded (its mask expanded) as it is read.
    pub fn iter(&self) -> impl Iterator<Item = Delta<Cow<'a, [u8]>>> + 'a {
        let mut reader = Reader {
            bytes: self.bytes,
            cursor: BATCH_HEADER_BYTES,
            expand: true,
        };
        (0..self.count).map(move |_| reader.delta().expect("checked by parse"))
    }
}

/// Appends a batch header for `count` deltas.
pub fn encode_batch_header(count: u32, out: &mut Vec<u8>) {
    out.extend_from_slice(&BATCH_MAGIC);
    out.extend_from_slice(&count.to_le_bytes());
}

/// True when some sparse mask among `deltas` shrinks by half or more with
/// run-length coding, so that `encode_for_log` writes it as kind 4.
pub fn has_runs_worth_coding<B: AsRef<[u8]>>(deltas: &[Delta<B>]) -> bool {
    deltas.iter().any(|delta| match &delta.payload {
        Payload::Sparse { mask, .. } => runs_if_worth(mask.as_ref()).is_some(),
        _ => false,
    })
}

/// Encodes `deltas` as a batch for the log: sparse masks that run-length
/// coding shrinks by half or more are written as kind 4, the rest as given.
pub fn encode_for_log<B: AsRef<[u8]>>(deltas: &[Delta<B>]) -> Vec<u8> {
    let mut out = Vec::new();
    encode_batch_header(deltas.len() as u32, &mut out);
    for delta in deltas {
        encode_delta_with_runs(delta, true, &mut out);
    }
    out
}

/// Appends one delta. Lengths above u32 cannot occur for valid pages
/// (`PAGE_SIZE_MAX`), so they are asserted.
pub fn encode_delta<B: AsRef<[u8]>>(delta: &Delta<B>, out: &mut Vec<u8>) {
    encode_delta_with_runs(delta, false, out);
}

fn encode_delta_with_runs<B: AsRef<[u8]>>(delta: &Delta<B>, use_runs: bool, out: &mut Vec<u8>) {
    let runs = match &delta.payload {
        Payload::Sparse { mask, .. } if use_runs => runs_if_worth(mask.as_ref()),
        _ => None,
    };
    out.extend_from_slice(&delta.page_id.to_le_bytes());
    let kind = match delta.payload {
        Payload::Dense(_) => KIND_DENSE,
        Payload::Sparse { .. } if runs.is_some() => KIND_SPARSE_RUNS,
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
            match &runs {
                Some(runs) => {
                    put_bytes(runs, out);
                    put_u32(mask.as_ref().len(), out);
                }
                None => put_bytes(mask.as_ref(), out),
            }
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

/// The run-length coding of `mask`, when it is at most half as long.
fn runs_if_worth(mask: &[u8]) -> Option<Vec<u8>> {
    if mask.len() < RUNS_WORTH_MASK_BYTES_MIN {
        return None;
    }
    let limit = mask.len() / 2;
    let mut runs = Vec::new();
    for run in mask.chunk_by(|left, right| left == right) {
        varint::put(run.len() as u64, &mut runs);
        runs.push(run[0]);
        if runs.len() > limit {
            return None;
        }
    }
    Some(runs)
}

/// Expands run-length coded mask bytes to exactly `mask_len` bytes.
fn expand_runs(runs: &[u8], mask_len: usize, at: usize) -> Result<Vec<u8>> {
    check_mask_len(mask_len, at)?;
    let mut mask = Vec::with_capacity(mask_len);
    for_each_run(runs, mask_len, at, |count, value| {
        mask.resize(mask.len() + count, value)
    })?;
    Ok(mask)
}

/// Checks that run-length coded mask bytes expand to exactly `mask_len`
/// bytes, without expanding them.
fn check_runs(runs: &[u8], mask_len: usize, at: usize) -> Result<()> {
    check_mask_len(mask_len, at)?;
    for_each_run(runs, mask_len, at, |_, _| ())
}

fn check_mask_len(mask_len: usize, at: usize) -> Result<()> {
    if mask_len > MASK_BYTES_MAX {
        return fail!(EncodingInvalid, "delta at byte {at} claims a mask of {mask_len} bytes");
    }
    Ok(())
}

/// Reads the runs of a run-length coded mask in order, giving each run's
/// count and byte to `run`; fails unless they add up to exactly `mask_len`.
fn for_each_run(runs: &[u8], mask_len: usize, at: usize, mut run: impl FnMut(usize, u8)) -> Result<()> {
    let (mut cursor, mut expanded) = (0, 0usize);
    while cursor < runs.len() {
        let start = cursor;
        let count = match varint::read(runs, &mut cursor) {
            Ok(count) if cursor - start <= MASK_RUN_BYTES_MAX => count,
            Err(varint::Malformed::Truncated) => {
                return fail!(EncodingInvalid, "delta at byte {at} has a truncated mask run")
            }
            Ok(_) | Err(varint::Malformed::Overlong) => {
                return fail!(EncodingInvalid, "delta at byte {at} has an overlong mask run length")
            }
        };
        let Some(&value) = runs.get(cursor) else {
            return fail!(EncodingInvalid, "delta at byte {at} has a mask run without its byte");
        };
        cursor += 1;
        if count == 0 || count > (mask_len - expanded) as u64 {
            return fail!(
                EncodingInvalid,
                "delta at byte {at} has mask runs that do not add up to {mask_len} bytes"
            );
        }
        run(count as usize, value);
        expanded += count as usize;
    }
    if expanded != mask_len {
        return fail!(
            EncodingInvalid,
            "delta at byte {at} has mask runs that do not add up to {mask_len} bytes"
        );
    }
    Ok(())
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
    /// Whether run-length coded masks are expanded (else only checked, and
    /// decoded as an empty mask).
    expand: bool,
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

    /// Reads the magic and the delta count, bounded by the bytes there are.
    fn batch_header(&mut self) -> Result<usize> {
        if self.take(4)? != BATCH_MAGIC {
            return fail!(EncodingInvalid, "delta batch does not start with \"MDB1\"");
        }
        let count = self.u32()? as usize;
        // Each delta takes at least 17 bytes, which bounds a hostile count.
        // Planted (Cargo.toml): a hostile count trusted.
        if count > self.bytes.len() / 17 && !cfg!(feature = "planted-fuzz-bugs") {
            return fail!(
                EncodingInvalid,
                "delta batch claims {count} deltas in {} bytes",
                self.bytes.len()
            );
        }
        Ok(count)
    }

    /// Checks that no byte trails the last delta.
    fn batch_end(&self) -> Result<()> {
        if self.cursor != self.bytes.len() {
            return fail!(
                EncodingInvalid,
                "{} trailing bytes after the delta batch",
                self.bytes.len() - self.cursor
            );
        }
        Ok(())
    }

    fn delta(&mut self) -> Result<Delta<Cow<'a, [u8]>>> {
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
            KIND_DENSE => Payload::Dense(Cow::Borrowed(self.counted_bytes()?)),
            KIND_SPARSE => {
                let mask = Cow::Borrowed(self.counted_bytes()?);
                let packed = Cow::Borrowed(self.counted_bytes()?);
                Payload::Sparse { mask, packed }
            }
            KIND_SPARSE_RUNS => {
                let runs = self.counted_bytes()?;
                let mask_len = self.u32()? as usize;
                let mask = if self.expand {
                    Cow::Owned(expand_runs(runs, mask_len, start)?)
                } else {
                    check_runs(runs, mask_len, start)?;
                    Cow::Borrowed(&[][..])
                };
                let packed = Cow::Borrowed(self.counted_bytes()?);
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
                    let bytes = Cow::Borrowed(self.counted_bytes()?);
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
    fn run_length_coded_masks_round_trip_and_shrink() {
        let mut mask = vec![0u8; 4096];
        mask[100..300].fill(0xff);
        let packed = vec![7u8; 200 * 8];
        let delta = Delta {
            page_id: 3,
            payload: Payload::Sparse {
                mask: mask.clone(),
                packed: packed.clone(),
            },
            source: Source::User,
            expect_epoch: None,
        };
        assert!(has_runs_worth_coding(std::slice::from_ref(&delta)));
        let encoded = encode_for_log(std::slice::from_ref(&delta));
        assert!(encoded.len() < 200 * 8 + 100, "{} bytes", encoded.len());
        let decoded = decode_batch(&encoded).unwrap();
        let Payload::Sparse {
            mask: decoded_mask,
            packed: decoded_packed,
        } = &decoded[0].payload
        else {
            panic!("not sparse")
        };
        assert_eq!(
            (decoded_mask.as_ref(), decoded_packed.as_ref()),
            (&mask[..], &packed[..])
        );
        let noisy: Vec<u8> = (0..4096u32)
            .map(|index| (index.wrapping_mul(2_654_435_761) >> 24) as u8)
            .collect();
        let noisy_delta = Delta {
            payload: Payload::Sparse {
                mask: noisy,
                packed: vec![],
            },
            ..delta
        };
        assert!(
            !has_runs_worth_coding(&[noisy_delta]),
            "a mask that does not shrink is logged as it is"
        );
    }

    #[test]
    fn malformed_mask_runs_are_rejected() {
        let mut out = Vec::new();
        encode_batch_header(1, &mut out);
        out.extend_from_slice(&1u64.to_le_bytes());
        out.extend_from_slice(&[KIND_SPARSE_RUNS, 0, 0, 0]);
        let runs = [0x05u8, 0xff, 0x00, 0x01];
        out.extend_from_slice(&(runs.len() as u32).to_le_bytes());
        out.extend_from_slice(&runs);
        out.extend_from_slice(&8u32.to_le_bytes());
        out.extend_from_slice(&0u32.to_le_bytes());
        let error = decode_batch(&out).unwrap_err();
        assert_eq!(error.code, ErrorCode::EncodingInvalid);
    }

    /// A kind-4 delta of page 1 whose mask of 8 bytes is the given runs.
    fn with_runs(runs: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        encode_batch_header(1, &mut out);
        out.extend_from_slice(&1u64.to_le_bytes());
        out.extend_from_slice(&[KIND_SPARSE_RUNS, 0, 0, 0]);
        out.extend_from_slice(&(runs.len() as u32).to_le_bytes());
        out.extend_from_slice(runs);
        out.extend_from_slice(&8u32.to_le_bytes());
        out.extend_from_slice(&0u32.to_le_bytes());
        out
    }

    #[test]
    fn mask_run_lengths_keep_their_six_byte_limit() {
        // Run length 8 padded to six bytes: accepted since kind 4 existed.
        let six = with_runs(&[0x88, 0x80, 0x80, 0x80, 0x80, 0x00, 0x00]);
        let Payload::Sparse { mask, .. } = &decode_batch(&six).unwrap()[0].payload else {
            panic!("not sparse")
        };
        assert_eq!(mask.as_ref(), &[0u8; 8]);
        // Padded to seven or ten bytes: refused as overlong since kind 4 existed.
        for padding in [6, 9] {
            let mut runs = vec![0x88];
            runs.extend(std::iter::repeat_n(0x80, padding - 1));
            runs.extend([0x00, 0x00]);
            let error = decode_batch(&with_runs(&runs)).unwrap_err();
            assert_eq!(error.code, ErrorCode::EncodingInvalid, "{} bytes", padding + 1);
            assert!(error.message.contains("overlong"), "{}", error.message);
        }
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
