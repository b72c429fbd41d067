//! Checkpoints: a full snapshot of the state at an LSN, in one file
//! `<dir>/checkpoints/<lsn, 20 digits>.ckpt`, written to a temporary file,
//! synced, renamed into place, and the directory synced.
//!
//! ```text
//! header, 92 bytes:
//! offset  size  field
//! 0       8     magic "MMSBCKP1"
//! 8       8     lsn u64: the state after every record up to this LSN
//! 16      8     next_page_id u64
//! 24      8     page_count u64
//! 32      8     directory_len u64
//! 40      8     data_len u64
//! 48      32    state_hash (BLAKE3, state_hash.rs)
//! 80      4     directory_crc (crc32c)
//! 84      4     data_crc (crc32c)
//! 88      4     header_crc (crc32c of bytes 0..88)
//! directory, per page in id order:
//!   id u64 | size u32 | location u8 | epoch u64 | metadata_count u32
//!   | (key_len u32 | key | value_len u32 | value) × metadata_count
//! data: every page's bytes, in directory order, back to back
//! ```
//!
//! Page data is one sequential region, so loading is a streaming read
//! straight into each page's memory with no per-byte work but the checksum.

use std::io::Read;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::metadata::Metadata;
use crate::page::{validate_size, Location, Page, PageId};
use crate::page_bytes::PageBytes;
use crate::state::State;
use crate::storage::FileSystem;

const MAGIC: &[u8; 8] = b"MMSBCKP1";
const HEADER_BYTES: usize = 92;
const SUFFIX: &str = ".ckpt";

pub fn checkpoint_name(lsn: u64) -> String {
    format!("{lsn:020}{SUFFIX}")
}

pub fn parse_checkpoint_name(name: &str) -> Option<u64> {
    let digits = name.strip_suffix(SUFFIX)?;
    (digits.len() == 20 && digits.bytes().all(|byte| byte.is_ascii_digit())).then(|| digits.parse().ok())?
}

/// What a written checkpoint holds.
#[derive(Clone, Debug)]
pub struct CheckpointInfo {
    pub lsn: u64,
    pub path: PathBuf,
    pub bytes: u64,
    pub pages: u64,
    pub state_hash: crate::StateHash,
}

/// Writes the checkpoint of `state` at `lsn` atomically.
pub fn write_checkpoint(fs: &dyn FileSystem, dir: &Path, state: &State, lsn: u64) -> Result<CheckpointInfo> {
    let mut directory = Vec::new();
    let mut data_crc = 0u32;
    let mut data_len = 0u64;
    let mut pages = 0u64;
    for (id, page) in state.pages() {
        directory.extend_from_slice(&id.to_le_bytes());
        directory.extend_from_slice(&(page.size() as u32).to_le_bytes());
        directory.push(page.location() as u8);
        directory.extend_from_slice(&page.epoch().to_le_bytes());
        directory.extend_from_slice(&(page.metadata().len() as u32).to_le_bytes());
        for (key, value) in page.metadata().iter() {
            directory.extend_from_slice(&(key.len() as u32).to_le_bytes());
            directory.extend_from_slice(key.as_bytes());
            directory.extend_from_slice(&(value.len() as u32).to_le_bytes());
            directory.extend_from_slice(value);
        }
        data_crc = crc32c::crc32c_append(data_crc, page.data());
        data_len += page.size();
        pages += 1;
    }
    let state_hash = state.state_hash();
    let mut header = [0u8; HEADER_BYTES];
    header[0..8].copy_from_slice(MAGIC);
    header[8..16].copy_from_slice(&lsn.to_le_bytes());
    header[16..24].copy_from_slice(&state.next_page_id().to_le_bytes());
    header[24..32].copy_from_slice(&pages.to_le_bytes());
    header[32..40].copy_from_slice(&(directory.len() as u64).to_le_bytes());
    header[40..48].copy_from_slice(&data_len.to_le_bytes());
    header[48..80].copy_from_slice(&state_hash.0);
    header[80..84].copy_from_slice(&crc32c::crc32c(&directory).to_le_bytes());
    header[84..88].copy_from_slice(&data_crc.to_le_bytes());
    let header_crc = crc32c::crc32c(&header[..88]);
    header[88..92].copy_from_slice(&header_crc.to_le_bytes());

    let path = dir.join(checkpoint_name(lsn));
    let temporary = dir.join(format!("{}.tmp", checkpoint_name(lsn)));
    let io = |doing: &str, error: std::io::Error| Error::io(doing, &temporary, &error);
    // A leftover from an interrupted attempt is not a checkpoint; start afresh.
    let _ = fs.remove(&temporary);
    let file = fs
        .open_append(&temporary)
        .map_err(|error| io("creating checkpoint", error))?;
    file.append(&[&header, &directory])
        .map_err(|error| io("writing checkpoint", error))?;
    const CHUNK_BYTES: usize = 8 << 20;
    let mut chunk: Vec<&[u8]> = Vec::new();
    let mut chunk_bytes = 0usize;
    for (_, page) in state.pages() {
        chunk.push(page.data());
        chunk_bytes += page.data().len();
        if chunk_bytes >= CHUNK_BYTES {
            file.append(&chunk).map_err(|error| io("writing checkpoint", error))?;
            chunk.clear();
            chunk_bytes = 0;
        }
    }
    file.append(&chunk).map_err(|error| io("writing checkpoint", error))?;
    file.sync().map_err(|error| io("syncing checkpoint", error))?;
    drop(file);
    fs.rename(&temporary, &path)
        .map_err(|error| io("renaming checkpoint", error))?;
    fs.sync_dir(dir)
        .map_err(|error| Error::io("syncing directory", dir, &error))?;
    Ok(CheckpointInfo {
        lsn,
        path,
        bytes: (HEADER_BYTES + directory.len()) as u64 + data_len,
        pages,
        state_hash,
    })
}

/// Loads a checkpoint, checking every checksum and length. Returns the state
/// and its LSN, or `CHECKPOINT_CORRUPT` naming the file and the fault.
pub fn load_checkpoint(fs: &dyn FileSystem, path: &Path) -> Result<(State, u64)> {
    let corrupt = |what: String| -> Error {
        Error::new(
            crate::ErrorCode::CheckpointCorrupt,
            format!("checkpoint {}: {what}", path.display()),
        )
    };
    let file_len = fs
        .len(path)
        .map_err(|error| Error::io("reading checkpoint", path, &error))?;
    let mut reader = fs
        .open_read(path)
        .map_err(|error| Error::io("reading checkpoint", path, &error))?;
    let mut header = [0u8; HEADER_BYTES];
    reader
        .read_exact(&mut header)
        .map_err(|_| corrupt(format!("shorter than its {HEADER_BYTES}-byte header")))?;
    let field = |offset: usize| u64::from_le_bytes(header[offset..offset + 8].try_into().expect("8 bytes"));
    let crc_at = |offset: usize| u32::from_le_bytes(header[offset..offset + 4].try_into().expect("4 bytes"));
    if &header[0..8] != MAGIC {
        return Err(corrupt("wrong magic (not a version 1 checkpoint)".to_owned()));
    }
    if crc32c::crc32c(&header[..88]) != crc_at(88) {
        return Err(corrupt("header checksum mismatch".to_owned()));
    }
    let (lsn, next_page_id, page_count, directory_len, data_len) =
        (field(8), field(16), field(24), field(32), field(40));
    let expected_len = (HEADER_BYTES as u64)
        .checked_add(directory_len)
        .and_then(|len| len.checked_add(data_len));
    if expected_len != Some(file_len) {
        return Err(corrupt(format!(
            "file is {file_len} bytes; its header describes {}",
            expected_len.map_or("more than 2^64".to_owned(), |len| len.to_string())
        )));
    }
    let mut directory = vec![0u8; directory_len as usize];
    reader
        .read_exact(&mut directory)
        .map_err(|error| corrupt(format!("reading directory: {error}")))?;
    if crc32c::crc32c(&directory) != crc_at(80) {
        return Err(corrupt("directory checksum mismatch".to_owned()));
    }
    let entries = parse_directory(&directory, page_count, next_page_id).map_err(corrupt)?;
    let described: u64 = entries.iter().map(|entry| entry.size).sum();
    if described != data_len {
        return Err(corrupt(format!(
            "pages total {described} bytes, data section is {data_len}"
        )));
    }
    let mut data_crc = 0u32;
    let mut pages = Vec::with_capacity(entries.len());
    for entry in entries {
        let mut data = PageBytes::zeroed(entry.size as usize);
        reader
            .read_exact(data.bytes_mut())
            .map_err(|error| corrupt(format!("reading page {}: {error}", entry.id)))?;
        data_crc = crc32c::crc32c_append(data_crc, data.as_slice());
        pages.push((
            entry.id,
            Page::restore(data, entry.epoch, entry.location, entry.metadata),
        ));
    }
    if data_crc != crc_at(84) {
        return Err(corrupt("page data checksum mismatch".to_owned()));
    }
    Ok((State::restore(pages, next_page_id), lsn))
}

/// The stored state hash of a checkpoint (for `verify`), without loading pages.
pub fn stored_state_hash(fs: &dyn FileSystem, path: &Path) -> Result<[u8; 32]> {
    let mut header = [0u8; HEADER_BYTES];
    let mut reader = fs
        .open_read(path)
        .map_err(|error| Error::io("reading checkpoint", path, &error))?;
    reader
        .read_exact(&mut header)
        .map_err(|error| Error::io("reading checkpoint", path, &error))?;
    Ok(header[48..80].try_into().expect("32 bytes"))
}

struct Entry {
    id: PageId,
    size: u64,
    location: Location,
    epoch: u64,
    metadata: Metadata,
}

fn parse_directory(bytes: &[u8], page_count: u64, next_page_id: PageId) -> std::result::Result<Vec<Entry>, String> {
    let mut cursor = 0usize;
    let mut take = |len: usize| -> std::result::Result<&[u8], String> {
        let slice = bytes
            .get(cursor..)
            .and_then(|rest| rest.get(..len))
            .ok_or_else(|| format!("directory truncated at byte {cursor}"))?;
        cursor += len;
        Ok(slice)
    };
    let mut entries = Vec::new();
    let mut previous_id = 0;
    for _ in 0..page_count {
        let id = u64::from_le_bytes(take(8)?.try_into().expect("8 bytes"));
        let size = u64::from(u32::from_le_bytes(take(4)?.try_into().expect("4 bytes")));
        let location = match take(1)?[0] {
            0 => Location::Cpu,
            1 => Location::Gpu,
            2 => Location::Unified,
            other => return Err(format!("page {id} has unknown location {other}")),
        };
        let epoch = u64::from_le_bytes(take(8)?.try_into().expect("8 bytes"));
        let metadata_count = u32::from_le_bytes(take(4)?.try_into().expect("4 bytes"));
        if id <= previous_id || id >= next_page_id {
            return Err(format!("page id {id} out of order or not below next id {next_page_id}"));
        }
        validate_size(size).map_err(|error| error.message)?;
        let mut metadata = Metadata::default();
        for _ in 0..metadata_count {
            let key_len = u32::from_le_bytes(take(4)?.try_into().expect("4 bytes")) as usize;
            let key = std::str::from_utf8(take(key_len)?).map_err(|_| format!("page {id} has a non-UTF-8 key"))?;
            let key = key.to_owned();
            let value_len = u32::from_le_bytes(take(4)?.try_into().expect("4 bytes")) as usize;
            metadata
                .set(&key, Some(take(value_len)?))
                .map_err(|error| error.message)?;
        }
        entries.push(Entry {
            id,
            size,
            location,
            epoch,
            metadata,
        });
        previous_id = id;
    }
    if cursor != bytes.len() {
        return Err(format!("{} trailing directory bytes", bytes.len() - cursor));
    }
    Ok(entries)
}
