//! Log segments: files named `<first_lsn, 20 digits>.log` in `<dir>/log/`,
//! each a header followed by records with consecutive LSNs.
//!
//! ```text
//! offset  size  field
//! 0       8     magic "MMSBLOG2" (or "MMSBLOG1", still read)
//! 8       8     first_lsn u64: the LSN of the segment's first record
//! 16      4     crc32c of bytes 0..16
//! 20      …     records (record.rs), then, in a sealed segment, one seal frame
//! ```
//!
//! The versions differ only in what fills the space written ahead of the
//! records (preallocation): zeros in version 1, `FILL_V2` bytes in version 2.
//! A non-zero fill tells a range that was zeroed by the disk (a lost or
//! zeroed write) apart from space the writer prepared, so zeroed records are
//! reported as a torn tail instead of read as the clean end of the log.

use crate::storage::{numbered_name, parse_numbered_name};

pub const SEGMENT_HEADER_BYTES: usize = 20;
const MAGIC_V1: &[u8; 8] = b"MMSBLOG1";
const MAGIC_V2: &[u8; 8] = b"MMSBLOG2";
const SUFFIX: &str = ".log";

/// The byte a version-2 segment is preallocated with. A record header read
/// from it announces a body of 2^32 - 1 bytes, which never fits: fill is
/// never mistaken for a record.
pub const FILL_V2: u8 = 0xFF;

/// A segment's header, read and checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SegmentHeader {
    pub first_lsn: u64,
    /// The byte preallocated space holds: 0 in version 1, `FILL_V2` in version 2.
    pub fill: u8,
}

pub fn segment_name(first_lsn: u64) -> String {
    numbered_name(first_lsn, SUFFIX)
}

/// The first LSN of a segment file name, or `None` for other files.
pub fn parse_segment_name(name: &str) -> Option<u64> {
    parse_numbered_name(name, SUFFIX)
}

/// The header of a new (version 2) segment.
pub fn segment_header(first_lsn: u64) -> [u8; SEGMENT_HEADER_BYTES] {
    let mut header = [0u8; SEGMENT_HEADER_BYTES];
    header[..8].copy_from_slice(MAGIC_V2);
    header[8..16].copy_from_slice(&first_lsn.to_le_bytes());
    let crc = crc32c::crc32c(&header[..16]);
    header[16..].copy_from_slice(&crc.to_le_bytes());
    header
}

/// The header a segment's first bytes hold when it is valid, or `None`.
pub fn read_segment_header(bytes: &[u8]) -> Option<SegmentHeader> {
    let header = bytes.get(..SEGMENT_HEADER_BYTES)?;
    let crc = u32::from_le_bytes(header[16..].try_into().expect("4 bytes"));
    let fill = match &header[..8] {
        magic if magic == MAGIC_V1 => 0,
        magic if magic == MAGIC_V2 => FILL_V2,
        _ => return None,
    };
    (crc32c::crc32c(&header[..16]) == crc).then(|| SegmentHeader {
        first_lsn: u64::from_le_bytes(header[8..16].try_into().expect("8 bytes")),
        fill,
    })
}
