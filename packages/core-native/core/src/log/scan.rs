//! Reading segments back, and the recovery decision for every byte of them.
//!
//! Each position in a segment is reduced to a few facts — is there a complete
//! frame, is it valid, does its LSN follow, do valid records follow it — and
//! each combination maps to one decision:
//!
//! | frame at offset                         | valid records later? | decision            |
//! |-----------------------------------------|----------------------|---------------------|
//! | valid, LSN = expected                    | —                    | replay, go on       |
//! | valid, LSN ≠ expected                    | —                    | corrupt             |
//! | all zeros to the end, last segment       | —                    | clean end (preallocated) |
//! | incomplete or invalid, last segment      | no                   | torn tail: truncate |
//! | incomplete or invalid, last segment      | yes                  | corrupt             |
//! | incomplete or invalid, earlier segment   | —                    | corrupt             |
//!
//! "Valid records later" means a frame that checks out with an LSN just above
//! the expected one, anywhere after the damage; only plausible LSNs are
//! checksummed, so the search stays linear on garbage. Nothing is skipped:
//! the only bytes ever dropped are a torn tail with nothing valid behind it.

use super::record::{read_frame, Frame, Record, HEADER_BYTES};
use super::segment::{read_segment_header, SEGMENT_HEADER_BYTES};
use crate::error::{fail, Result};

/// How far past the expected LSN a frame found after damage may be and still
/// count as a valid later record.
const LATER_LSN_WINDOW: u64 = 1 << 20;

/// The records of one segment and where its valid prefix ends.
pub struct ScannedSegment<'a> {
    pub records: Vec<(Record<'a>, usize)>,
    /// The end of the last valid record; bytes after it are a torn tail, or
    /// zeros written ahead (the newest segment is preallocated).
    pub valid_end: usize,
    /// True when the bytes after `valid_end` are not all zeros.
    pub torn: bool,
}

/// Scans a segment whose records must start at `expected_lsn`. `is_last`
/// says whether it is the newest segment (the only one that may be torn).
pub fn scan_segment<'a>(name: &str, bytes: &'a [u8], expected_lsn: u64, is_last: bool) -> Result<ScannedSegment<'a>> {
    match read_segment_header(bytes) {
        Some(first_lsn) if first_lsn == expected_lsn => {}
        Some(first_lsn) => {
            return fail!(
                LogCorrupt,
                "segment {name} starts at LSN {first_lsn}, expected {expected_lsn} (offset 0)"
            )
        }
        None if is_last && bytes.len() < SEGMENT_HEADER_BYTES => {
            return Ok(ScannedSegment {
                records: Vec::new(),
                valid_end: 0,
                torn: true,
            })
        }
        None => return fail!(LogCorrupt, "segment {name} has a damaged header (offset 0)"),
    }
    let mut records = Vec::new();
    let mut offset = SEGMENT_HEADER_BYTES;
    let mut next_lsn = expected_lsn;
    while offset < bytes.len() {
        match read_frame(bytes, offset) {
            Frame::Valid(record, end) if record.lsn == next_lsn => {
                records.push((record, offset));
                next_lsn += 1;
                offset = end;
            }
            Frame::Valid(record, _) => {
                return fail!(
                    LogCorrupt,
                    "segment {name} offset {offset}: record has LSN {}, expected {next_lsn}",
                    record.lsn
                )
            }
            Frame::Incomplete | Frame::Invalid => {
                if !is_last {
                    return fail!(
                        LogCorrupt,
                        "segment {name} offset {offset}: damaged record (LSN {next_lsn}) in a sealed segment"
                    );
                }
                if bytes[offset..].iter().all(|&byte| byte == 0) {
                    return Ok(ScannedSegment {
                        records,
                        valid_end: offset,
                        torn: false,
                    });
                }
                if let Some(later) = valid_record_after(bytes, offset, next_lsn) {
                    return fail!(
                        LogCorrupt,
                        "segment {name} offset {offset}: damaged record (LSN {next_lsn}) with a valid record after it at offset {later}"
                    );
                }
                return Ok(ScannedSegment {
                    records,
                    valid_end: offset,
                    torn: true,
                });
            }
        }
    }
    Ok(ScannedSegment {
        records,
        valid_end: offset,
        torn: false,
    })
}

/// The offset of a valid frame after `damaged` whose LSN lies in
/// `expected_lsn .. expected_lsn + LATER_LSN_WINDOW`, if any.
fn valid_record_after(bytes: &[u8], damaged: usize, expected_lsn: u64) -> Option<usize> {
    let last_start = bytes.len().checked_sub(HEADER_BYTES)?;
    (damaged + 1..=last_start).find(|&offset| {
        let lsn = u64::from_le_bytes(bytes[offset + 8..offset + 16].try_into().expect("8 bytes"));
        (expected_lsn..expected_lsn + LATER_LSN_WINDOW).contains(&lsn)
            && matches!(read_frame(bytes, offset), Frame::Valid(..))
    })
}
