//! What the fuzz targets share: files held in memory behind the core's
//! `FileSystem` trait, the real file system with small files, and checksum
//! repair, so that mutated inputs reach the parsers behind the checksums
//! instead of stopping at them.

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use mmsb_core::storage::{AppendFile, FileSystem};

// The core tests' delegating file system, which uses nothing but std and
// mmsb_core: one place for "the real file system with a hook".
#[path = "../../core/tests/support/delegating.rs"]
mod delegating;

pub use delegating::{Delegating, Hook, Operation};

/// Read-only files in memory; every write fails.
#[derive(Default)]
pub struct MemoryFiles(pub Mutex<BTreeMap<PathBuf, Vec<u8>>>);

impl MemoryFiles {
    pub fn with(files: impl IntoIterator<Item = (PathBuf, Vec<u8>)>) -> MemoryFiles {
        MemoryFiles(Mutex::new(files.into_iter().collect()))
    }

    fn get(&self, path: &Path) -> io::Result<Vec<u8>> {
        let files = self.0.lock().expect("not poisoned");
        files
            .get(path)
            .cloned()
            .ok_or_else(|| io::Error::from(io::ErrorKind::NotFound))
    }
}

fn read_only() -> io::Error {
    io::Error::new(io::ErrorKind::PermissionDenied, "read-only")
}

impl FileSystem for MemoryFiles {
    fn create_dir_all(&self, _: &Path) -> io::Result<()> {
        Ok(())
    }
    fn list(&self, dir: &Path) -> io::Result<Vec<String>> {
        let files = self.0.lock().expect("not poisoned");
        Ok(files
            .keys()
            .filter(|path| path.parent() == Some(dir))
            .filter_map(|path| path.file_name()?.to_str().map(str::to_owned))
            .collect())
    }
    fn read_all(&self, path: &Path) -> io::Result<Vec<u8>> {
        self.get(path)
    }
    fn open_read(&self, path: &Path) -> io::Result<Box<dyn io::Read + Send>> {
        Ok(Box::new(io::Cursor::new(self.get(path)?)))
    }
    fn len(&self, path: &Path) -> io::Result<u64> {
        Ok(self.get(path)?.len() as u64)
    }
    fn open_append(&self, _: &Path) -> io::Result<Arc<dyn AppendFile>> {
        Err(read_only())
    }
    fn truncate(&self, _: &Path, _: u64) -> io::Result<()> {
        Err(read_only())
    }
    fn rename(&self, _: &Path, _: &Path) -> io::Result<()> {
        Err(read_only())
    }
    fn remove(&self, _: &Path) -> io::Result<()> {
        Err(read_only())
    }
    fn sync_dir(&self, _: &Path) -> io::Result<()> {
        Err(read_only())
    }
}

fn u32_at(bytes: &[u8], offset: usize) -> Option<u32> {
    Some(u32::from_le_bytes(bytes.get(offset..offset + 4)?.try_into().ok()?))
}

fn u64_at(bytes: &[u8], offset: usize) -> Option<u64> {
    Some(u64::from_le_bytes(bytes.get(offset..offset + 8)?.try_into().ok()?))
}

/// Rewrites the checksum of the segment header and of every record frame
/// (log/record.rs: crc32c at 0..4 over the rest of the 18-byte header and
/// the body whose length is at 4..8), walking frames as a reader would.
pub fn fix_segment_checksums(bytes: &mut [u8]) {
    const SEGMENT_HEADER_BYTES: usize = 20;
    const RECORD_HEADER_BYTES: usize = 18;
    if bytes.len() < SEGMENT_HEADER_BYTES {
        return;
    }
    let crc = crc32c::crc32c(&bytes[..16]);
    bytes[16..20].copy_from_slice(&crc.to_le_bytes());
    let mut offset = SEGMENT_HEADER_BYTES;
    while let Some(body_len) = u32_at(bytes, offset + 4) {
        let end = offset + RECORD_HEADER_BYTES + body_len as usize;
        if end > bytes.len() {
            return;
        }
        let crc = crc32c::crc32c(&bytes[offset + 4..end]);
        bytes[offset..offset + 4].copy_from_slice(&crc.to_le_bytes());
        offset = end;
    }
}

/// Rewrites a checkpoint's three checksums (checkpoint.rs: the directory's
/// at 96, the page data's at 100, the header's at 104 over bytes 0..104),
/// taking the section lengths from the header as a reader would.
pub fn fix_checkpoint_checksums(bytes: &mut [u8]) {
    const HEADER_BYTES: usize = 108;
    if bytes.len() < HEADER_BYTES {
        return;
    }
    let directory_len = u64_at(bytes, 48).unwrap_or(0).min(bytes.len() as u64) as usize;
    let directory_end = (HEADER_BYTES + directory_len).min(bytes.len());
    let directory_crc = crc32c::crc32c(&bytes[HEADER_BYTES..directory_end]);
    let data_crc = crc32c::crc32c(&bytes[directory_end..]);
    bytes[96..100].copy_from_slice(&directory_crc.to_le_bytes());
    bytes[100..104].copy_from_slice(&data_crc.to_le_bytes());
    let header_crc = crc32c::crc32c(&bytes[..104]);
    bytes[104..108].copy_from_slice(&header_crc.to_le_bytes());
}

/// True when replaying `change` would allocate more than a fuzz run should
/// (a 4 GiB page is a valid record, but not one to zero per input) or make
/// files (mapped page memory).
pub fn too_costly_to_apply(change: &mmsb_core::log::body::Change<'_>) -> bool {
    use mmsb_core::log::body::Change;
    use mmsb_core::MemoryKind;
    const BYTES_MAX: u64 = 1 << 24;
    match change {
        Change::PageCreate { size, memory, .. } => *size > BYTES_MAX || *memory == MemoryKind::Mapped,
        Change::PagesCreate {
            count, size, memory, ..
        } => count.saturating_mul(*size) > BYTES_MAX || *count > 1 << 16 || *memory == MemoryKind::Mapped,
        Change::PageMove { memory, .. } => *memory == MemoryKind::Mapped,
        _ => false,
    }
}

/// A hook for `Delegating` that keeps files to at most `FILE_BYTES_MAX`
/// bytes: writes past it fail with ENOSPC, so the log preallocates only what
/// each record needs (its nearly-full path) instead of 4 MiB per segment,
/// which would cost more than the rest of a fuzz run together.
pub struct SmallFiles;

const FILE_BYTES_MAX: u64 = 64 << 10;

impl Hook for SmallFiles {
    fn before(&self, operation: Operation<'_>) -> io::Result<()> {
        match operation {
            Operation::WriteAt { offset, len, .. } if offset + len > FILE_BYTES_MAX => {
                Err(io::Error::from_raw_os_error(28))
            }
            _ => Ok(()),
        }
    }
}
