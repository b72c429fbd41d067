//! One log record: a frame around the body of one state change.
//!
//! ```text
//! offset  size  field
//! 0       4     crc32c of bytes 4 .. 18 + body_len (everything after this field)
//! 4       4     body_len u32
//! 8       8     lsn u64
//! 16      1     kind (RecordKind)
//! 17      1     flags: bit 0 = body is one zstd frame; other bits 0
//! 18      …     body (as stored: compressed when flag bit 0 is set)
//! ```
//!
//! A record is valid when its header is complete, its body fits the file,
//! and the checksum (over the stored bytes) matches. Bodies are specified in
//! docs/formats.md.
//!
//! A seal is a frame of the same layout with kind `SEAL_KIND`, an empty body
//! and, in the LSN field, the first LSN of the segment that follows. It ends
//! a sealed segment and takes no LSN of its own: it lets recovery see that a
//! successor existed when the newest segment present is sealed.

use std::borrow::Cow;

use crate::error::{fail, Result};

pub const HEADER_BYTES: usize = 18;
const CRC_OFFSET: usize = 0;
const LEN_OFFSET: usize = CRC_OFFSET + 4;
const LSN_OFFSET: usize = LEN_OFFSET + 4;
const KIND_OFFSET: usize = LSN_OFFSET + 8;
const FLAGS_OFFSET: usize = KIND_OFFSET + 1;
const _: () = assert!(FLAGS_OFFSET + 1 == HEADER_BYTES);

/// The largest record body: a dense delta of the largest page, with room for its framing.
pub const BODY_BYTES_MAX: u64 = u32::MAX as u64;
const FLAG_ZSTD: u8 = 1;
/// The kind byte of a seal frame; no `RecordKind` uses it.
const SEAL_KIND: u8 = 9;

/// What a record changes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum RecordKind {
    PageCreate = 1,
    PagesCreate = 2,
    PageRelease = 3,
    Deltas = 4,
    MetadataSet = 5,
    Checkpoint = 6,
    EdgeAdd = 7,
    EdgeRemove = 8,
    // 9 is the seal frame (`SEAL_KIND`), never a record.
    PageMove = 10,
    /// The outputs of a propagation wave, compactly (body.rs).
    Wave = 11,
}

impl RecordKind {
    pub fn from_u8(value: u8) -> Option<RecordKind> {
        Some(match value {
            1 => RecordKind::PageCreate,
            2 => RecordKind::PagesCreate,
            3 => RecordKind::PageRelease,
            4 => RecordKind::Deltas,
            5 => RecordKind::MetadataSet,
            6 => RecordKind::Checkpoint,
            7 => RecordKind::EdgeAdd,
            8 => RecordKind::EdgeRemove,
            10 => RecordKind::PageMove,
            11 => RecordKind::Wave,
            _ => return None,
        })
    }

    pub const fn name(self) -> &'static str {
        match self {
            RecordKind::PageCreate => "page-create",
            RecordKind::PagesCreate => "pages-create",
            RecordKind::PageRelease => "page-release",
            RecordKind::Deltas => "deltas",
            RecordKind::MetadataSet => "metadata-set",
            RecordKind::Checkpoint => "checkpoint",
            RecordKind::EdgeAdd => "edge-add",
            RecordKind::EdgeRemove => "edge-remove",
            RecordKind::PageMove => "page-move",
            RecordKind::Wave => "wave",
        }
    }
}

/// The header of a record whose stored body is `body_parts` concatenated
/// (`compressed`: one zstd frame).
pub fn header(lsn: u64, kind: RecordKind, compressed: bool, body_parts: &[&[u8]]) -> Result<[u8; HEADER_BYTES]> {
    let body_len: usize = body_parts.iter().map(|part| part.len()).sum();
    let Ok(body_len) = u32::try_from(body_len) else {
        return fail!(
            InvalidArgument,
            "a log record body of {body_len} bytes exceeds 2^32 - 1"
        );
    };
    let mut header = [0u8; HEADER_BYTES];
    header[LEN_OFFSET..LSN_OFFSET].copy_from_slice(&body_len.to_le_bytes());
    header[LSN_OFFSET..KIND_OFFSET].copy_from_slice(&lsn.to_le_bytes());
    header[KIND_OFFSET] = kind as u8;
    header[FLAGS_OFFSET] = if compressed { FLAG_ZSTD } else { 0 };
    let mut crc = crc32c::crc32c(&header[LEN_OFFSET..]);
    for part in body_parts {
        crc = crc32c::crc32c_append(crc, part);
    }
    header[CRC_OFFSET..LEN_OFFSET].copy_from_slice(&crc.to_le_bytes());
    Ok(header)
}

/// The seal frame naming `next_lsn`, the first LSN of the following segment.
pub fn seal(next_lsn: u64) -> [u8; HEADER_BYTES] {
    let mut frame = [0u8; HEADER_BYTES];
    frame[LSN_OFFSET..KIND_OFFSET].copy_from_slice(&next_lsn.to_le_bytes());
    frame[KIND_OFFSET] = SEAL_KIND;
    let crc = crc32c::crc32c(&frame[LEN_OFFSET..]);
    frame[CRC_OFFSET..LEN_OFFSET].copy_from_slice(&crc.to_le_bytes());
    frame
}

/// A record read back and checked.
#[derive(Debug, PartialEq, Eq)]
pub struct Record<'a> {
    pub lsn: u64,
    pub kind: RecordKind,
    /// The body as stored; `body()` gives it decompressed.
    pub stored_body: &'a [u8],
    pub compressed: bool,
}

impl<'a> Record<'a> {
    /// The body, decompressed when it was stored compressed. The error
    /// describes a frame that does not decompress to at most `BODY_BYTES_MAX`.
    pub fn body(&self) -> std::result::Result<Cow<'a, [u8]>, String> {
        if !self.compressed {
            return Ok(Cow::Borrowed(self.stored_body));
        }
        let size = zstd::zstd_safe::get_frame_content_size(self.stored_body)
            .map_err(|_| "compressed body is not a zstd frame".to_owned())?
            .ok_or_else(|| "compressed body does not state its size".to_owned())?;
        if size > BODY_BYTES_MAX {
            return Err(format!("compressed body claims {size} bytes"));
        }
        let body = zstd::bulk::decompress(self.stored_body, size as usize)
            .map_err(|error| format!("compressed body does not decompress: {error}"))?;
        if body.len() as u64 != size {
            return Err(format!(
                "compressed body decompresses to {} bytes, not {size}",
                body.len()
            ));
        }
        Ok(Cow::Owned(body))
    }
}

/// What is found at an offset of a segment.
#[derive(Debug, PartialEq, Eq)]
pub enum Frame<'a> {
    /// A valid record, and the offset just after it.
    Valid(Record<'a>, usize),
    /// A valid seal naming the next segment's first LSN, and the offset just after it.
    Seal(u64, usize),
    /// Fewer bytes remain than the header, or than the body it announces.
    Incomplete,
    /// The bytes do not form a valid record (checksum, kind or flags).
    Invalid,
}

/// Reads the record framed at `offset` of `bytes`. Never panics on any input.
pub fn read_frame(bytes: &[u8], offset: usize) -> Frame<'_> {
    let Some(header) = bytes.get(offset..).and_then(|rest| rest.get(..HEADER_BYTES)) else {
        return Frame::Incomplete;
    };
    let body_len = u32::from_le_bytes(header[LEN_OFFSET..LSN_OFFSET].try_into().expect("4 bytes")) as usize;
    let body_start = offset + HEADER_BYTES;
    if cfg!(feature = "planted-fuzz-bugs") {
        // Planted (Cargo.toml): the body length trusted before the bounds check.
        let _ = &bytes[body_start..body_start + body_len];
    }
    let Some(body) = bytes.get(body_start..).and_then(|rest| rest.get(..body_len)) else {
        return Frame::Incomplete;
    };
    let stored_crc = u32::from_le_bytes(header[CRC_OFFSET..LEN_OFFSET].try_into().expect("4 bytes"));
    let crc = crc32c::crc32c_append(crc32c::crc32c(&header[LEN_OFFSET..]), body);
    let lsn = u64::from_le_bytes(header[LSN_OFFSET..KIND_OFFSET].try_into().expect("8 bytes"));
    let flags = header[FLAGS_OFFSET];
    if header[KIND_OFFSET] == SEAL_KIND {
        return if crc == stored_crc && flags == 0 && body_len == 0 {
            Frame::Seal(lsn, body_start)
        } else {
            Frame::Invalid
        };
    }
    let kind = RecordKind::from_u8(header[KIND_OFFSET]);
    match kind {
        Some(kind) if crc == stored_crc && flags & !FLAG_ZSTD == 0 => Frame::Valid(
            Record {
                lsn,
                kind,
                stored_body: body,
                compressed: flags & FLAG_ZSTD != 0,
            },
            body_start + body_len,
        ),
        _ => Frame::Invalid,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn framed(lsn: u64, kind: RecordKind, body: &[u8]) -> Vec<u8> {
        let mut bytes = header(lsn, kind, false, &[body]).unwrap().to_vec();
        bytes.extend_from_slice(body);
        bytes
    }

    #[test]
    fn a_record_reads_back() {
        let bytes = framed(42, RecordKind::Deltas, b"body");
        let Frame::Valid(record, end) = read_frame(&bytes, 0) else {
            panic!("not valid")
        };
        assert_eq!(record.lsn, 42);
        assert_eq!(record.kind, RecordKind::Deltas);
        assert_eq!(record.body().unwrap().as_ref(), b"body");
        assert_eq!(end, bytes.len());
    }

    #[test]
    fn a_compressed_record_reads_back_and_a_bomb_is_refused() {
        let body = vec![9u8; 100_000];
        let stored = zstd::bulk::compress(&body, 1).unwrap();
        let mut bytes = header(1, RecordKind::Deltas, true, &[&stored]).unwrap().to_vec();
        bytes.extend_from_slice(&stored);
        let Frame::Valid(record, _) = read_frame(&bytes, 0) else {
            panic!("not valid")
        };
        assert_eq!(record.body().unwrap().as_ref(), &body[..]);
        let garbage = Record {
            lsn: 1,
            kind: RecordKind::Deltas,
            stored_body: b"not zstd",
            compressed: true,
        };
        assert!(garbage.body().is_err());
    }

    #[test]
    fn a_seal_reads_back_and_no_bit_flip_of_it_passes() {
        let frame = seal(77);
        assert_eq!(read_frame(&frame, 0), Frame::Seal(77, HEADER_BYTES));
        for bit in 0..HEADER_BYTES * 8 {
            let mut flipped = frame;
            flipped[bit / 8] ^= 1 << (bit % 8);
            let read = read_frame(&flipped, 0);
            assert!(
                matches!(read, Frame::Invalid | Frame::Incomplete),
                "bit {bit}: {read:?}"
            );
        }
    }

    #[test]
    fn every_prefix_is_incomplete_and_every_bit_flip_is_invalid() {
        let bytes = framed(7, RecordKind::PageRelease, &[1, 2, 3, 4, 5, 6, 7, 8]);
        for len in 0..bytes.len() {
            assert_eq!(read_frame(&bytes[..len], 0), Frame::Incomplete, "prefix {len}");
        }
        for bit in 0..bytes.len() * 8 {
            let mut flipped = bytes.clone();
            flipped[bit / 8] ^= 1 << (bit % 8);
            let frame = read_frame(&flipped, 0);
            assert!(
                matches!(frame, Frame::Invalid | Frame::Incomplete),
                "bit {bit}: {frame:?}"
            );
        }
    }
}
