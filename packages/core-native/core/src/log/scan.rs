//! Reading segments back, and the recovery decision for every byte of them.
//!
//! Each position in a segment is reduced to a few facts — is there a complete
//! frame, is it valid, does its LSN follow, do valid records follow it — and
//! each combination maps to one decision:
//!
//! | frame at offset                            | valid records later? | decision              |
//! |--------------------------------------------|----------------------|-----------------------|
//! | valid record, LSN = expected               | —                    | replay, go on         |
//! | valid record, LSN ≠ expected               | —                    | corrupt               |
//! | seal naming the expected LSN, file ends    | —                    | sealed end            |
//! | seal, LSN ≠ expected or bytes after it     | —                    | corrupt               |
//! | part of the seal naming the expected LSN,  | —                    | sealed end            |
//! | file ends (an interrupted seal write)      |                      |                       |
//! | fill to the end of the file                | —                    | clean end             |
//! | incomplete or invalid, last segment        | no                   | torn tail             |
//! | incomplete or invalid, last segment        | yes                  | corrupt               |
//! | incomplete or invalid, earlier segment     | —                    | corrupt               |
//!
//! "Fill" is the byte the writer preallocates with (segment.rs): zeros in a
//! version-1 segment, `FILL_V2` in a version-2 one, so zeroed records of a
//! version-2 segment are a torn tail, never a clean end. An earlier segment
//! may end in fill too (a crash between starting its successor and cutting
//! it to its records); the next segment's first LSN still has to follow.
//! The writer writes a seal only once the next segment exists and is synced,
//! so a seal cut short by a crash or a failed write (the first bytes of the
//! very seal that was due) ends the segment as a whole seal would: the
//! successor exists, or was lost like the successor of any sealed segment.
//! "Valid records later" means a frame that checks out with an LSN just above
//! the expected one, anywhere after the damage; only plausible LSNs are
//! checksummed, so the search stays linear on garbage. Nothing is skipped:
//! the only bytes ever dropped are a torn tail with nothing valid behind it,
//! and recovery keeps those in a salvage file (or refuses, in strict mode).

use super::record::{read_frame, seal, Frame, Record, HEADER_BYTES};
use super::segment::{read_segment_header, SEGMENT_HEADER_BYTES};
use crate::error::{fail, Result};

/// How far past the expected LSN a frame found after damage may be and still
/// count as a valid later record.
const LATER_LSN_WINDOW: u64 = 1 << 20;

/// The records of one segment and where its valid prefix ends.
pub struct ScannedSegment<'a> {
    pub records: Vec<(Record<'a>, usize)>,
    /// The end of the last valid record (before a seal, if any); bytes after
    /// it are a torn tail, preallocated fill, or the seal.
    pub valid_end: usize,
    /// Where the bytes that are neither records, seal nor fill end: after
    /// `valid_end` only in a torn segment (trailing fill excluded).
    pub torn_end: usize,
    /// The first LSN of the next segment, when this one ends in a seal.
    pub sealed: Option<u64>,
}

impl ScannedSegment<'_> {
    pub fn is_torn(&self) -> bool {
        self.torn_end > self.valid_end
    }

    /// The LSN after the segment's last record.
    pub fn next_lsn(&self, first_lsn: u64) -> u64 {
        first_lsn + self.records.len() as u64
    }
}

/// Scans a segment whose records must start at `expected_lsn`. `is_last`
/// says whether it is the newest segment (the only one that may be torn).
pub fn scan_segment<'a>(name: &str, bytes: &'a [u8], expected_lsn: u64, is_last: bool) -> Result<ScannedSegment<'a>> {
    let fill = match read_segment_header(bytes) {
        Some(header) if header.first_lsn == expected_lsn => header.fill,
        Some(header) => {
            return fail!(
                LogCorrupt,
                "segment {name} starts at LSN {}, expected {expected_lsn} (offset 0)",
                header.first_lsn
            )
        }
        None if is_last && bytes.len() < SEGMENT_HEADER_BYTES => {
            return Ok(ScannedSegment {
                records: Vec::new(),
                valid_end: 0,
                torn_end: bytes.len(),
                sealed: None,
            })
        }
        None => return fail!(LogCorrupt, "segment {name} has a damaged header (offset 0)"),
    };
    let mut records = Vec::new();
    let mut offset = SEGMENT_HEADER_BYTES;
    let mut next_lsn = expected_lsn;
    let ended = |records, offset, torn_end, sealed| {
        Ok(ScannedSegment {
            records,
            valid_end: offset,
            torn_end,
            sealed,
        })
    };
    while offset < bytes.len() {
        match read_frame(bytes, offset) {
            Frame::Valid(record, end) if record.lsn == next_lsn => {
                let Some(following) = next_lsn.checked_add(1) else {
                    return fail!(
                        LogCorrupt,
                        "segment {name} offset {offset}: record LSN {next_lsn} is the largest LSN there is"
                    );
                };
                records.push((record, offset));
                next_lsn = following;
                offset = end;
            }
            Frame::Valid(record, _) => {
                return fail!(
                    LogCorrupt,
                    "segment {name} offset {offset}: record has LSN {}, expected {next_lsn}",
                    record.lsn
                )
            }
            Frame::Seal(named, end) if named == next_lsn && end == bytes.len() => {
                return ended(records, offset, offset, Some(named));
            }
            Frame::Seal(named, end) => {
                return fail!(
                    LogCorrupt,
                    "segment {name} offset {offset}: seal names LSN {named} with {} bytes after it, \
                     expected LSN {next_lsn} at the end of the file",
                    bytes.len() - end
                )
            }
            Frame::Incomplete | Frame::Invalid => {
                let torn_end = end_before_fill(bytes, fill);
                if torn_end <= offset {
                    return ended(records, offset, offset, None);
                }
                if is_torn_seal(&bytes[offset..], next_lsn) {
                    return ended(records, offset, offset, Some(next_lsn));
                }
                if cfg!(feature = "planted-recovery-bug") && is_last {
                    // Planted (Cargo.toml): damage in the newest segment read as the
                    // clean end of the log, so damaged acknowledged records vanish unreported.
                    return ended(records, offset, offset, None);
                }
                if !is_last {
                    return fail!(
                        LogCorrupt,
                        "segment {name} offset {offset}: damaged record (LSN {next_lsn}) in a sealed segment"
                    );
                }
                if let Some(later) = valid_record_after(bytes, offset, next_lsn) {
                    return fail!(
                        LogCorrupt,
                        "segment {name} offset {offset}: damaged record (LSN {next_lsn}) with a valid record after it at offset {later}"
                    );
                }
                return ended(records, offset, torn_end, None);
            }
        }
    }
    ended(records, offset, offset, None)
}

/// The length of `bytes` without its trailing run of `fill`. Every open reads
/// the newest segment's preallocated fill to its end (megabytes), so this
/// compares blocks as words, which the compiler vectorises, before bytes.
fn end_before_fill(bytes: &[u8], fill: u8) -> usize {
    const BLOCK: usize = 256;
    let mut end = bytes.len();
    while end >= BLOCK {
        let block = &bytes[end - BLOCK..end];
        if block.iter().fold(0u8, |differs, &byte| differs | (byte ^ fill)) != 0 {
            break;
        }
        end -= BLOCK;
    }
    bytes[..end]
        .iter()
        .rposition(|&byte| byte != fill)
        .map_or(0, |last| last + 1)
}

/// True when `rest` is the first bytes, not all, of the seal naming `next_lsn`.
fn is_torn_seal(rest: &[u8], next_lsn: u64) -> bool {
    rest.len() < HEADER_BYTES && seal(next_lsn).starts_with(rest)
}

/// The offset of a valid frame after `damaged` whose LSN lies in
/// `expected_lsn .. expected_lsn + LATER_LSN_WINDOW`, if any.
fn valid_record_after(bytes: &[u8], damaged: usize, expected_lsn: u64) -> Option<usize> {
    let last_start = bytes.len().checked_sub(HEADER_BYTES)?;
    (damaged + 1..=last_start).find(|&offset| {
        let lsn = u64::from_le_bytes(bytes[offset + 8..offset + 16].try_into().expect("8 bytes"));
        (expected_lsn..expected_lsn.saturating_add(LATER_LSN_WINDOW)).contains(&lsn)
            && matches!(read_frame(bytes, offset), Frame::Valid(..) | Frame::Seal(..))
    })
}

#[cfg(test)]
mod tests {
    use super::end_before_fill;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn end_before_fill_is_the_last_byte_that_is_not_fill(
            fill in prop_oneof![Just(0u8), Just(0xFFu8), any::<u8>()],
            len in 0usize..2048,
            others in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..4),
        ) {
            let mut bytes = vec![fill; len];
            for (at, byte) in others {
                if len > 0 {
                    bytes[at.index(len)] = byte;
                }
            }
            let expected = bytes.iter().rposition(|&byte| byte != fill).map_or(0, |last| last + 1);
            prop_assert_eq!(end_before_fill(&bytes, fill), expected);
        }
    }
}
