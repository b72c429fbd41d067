//! Log segments: files named `<first_lsn, 20 digits>.log` in `<dir>/log/`,
//! each a header followed by records with consecutive LSNs.
//!
//! ```text
//! offset  size  field
//! 0       8     magic "MMSBLOG1"
//! 8       8     first_lsn u64: the LSN of the segment's first record
//! 16      4     crc32c of bytes 0..16
//! 20      …     records (record.rs)
//! ```

use crate::storage::{numbered_name, parse_numbered_name};

pub const SEGMENT_HEADER_BYTES: usize = 20;
const MAGIC: &[u8; 8] = b"MMSBLOG1";
const SUFFIX: &str = ".log";

pub fn segment_name(first_lsn: u64) -> String {
    numbered_name(first_lsn, SUFFIX)
}

/// The first LSN of a segment file name, or `None` for other files.
pub fn parse_segment_name(name: &str) -> Option<u64> {
    parse_numbered_name(name, SUFFIX)
}

pub fn segment_header(first_lsn: u64) -> [u8; SEGMENT_HEADER_BYTES] {
    let mut header = [0u8; SEGMENT_HEADER_BYTES];
    header[..8].copy_from_slice(MAGIC);
    header[8..16].copy_from_slice(&first_lsn.to_le_bytes());
    let crc = crc32c::crc32c(&header[..16]);
    header[16..].copy_from_slice(&crc.to_le_bytes());
    header
}

/// The first LSN a valid header records, or `None`.
pub fn read_segment_header(bytes: &[u8]) -> Option<u64> {
    let header = bytes.get(..SEGMENT_HEADER_BYTES)?;
    let crc = u32::from_le_bytes(header[16..].try_into().expect("4 bytes"));
    (&header[..8] == MAGIC && crc32c::crc32c(&header[..16]) == crc)
        .then(|| u64::from_le_bytes(header[8..16].try_into().expect("8 bytes")))
}
