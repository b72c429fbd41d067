//! The file layer: the few operations the log and checkpoints need, behind a
//! trait so that tests can inject faults (EIO, ENOSPC, torn writes) where
//! the real system would meet them.
//!
//! Assumptions about the disk: a successful `sync` makes every byte written
//! to that file before it durable; `rename` over a file is atomic once the
//! directory is synced; a crash may leave any suffix of unsynced appends
//! missing or partially written (a torn tail), but does not change synced
//! bytes. Bit rot of synced bytes is detected by checksums, not prevented.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read};
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::Arc;

/// A file opened for writing. Methods take `&self` so that one thread can
/// write while another syncs (group commit).
pub trait AppendFile: Send + Sync {
    /// Writes `parts` at the end of the file.
    fn append(&self, parts: &[&[u8]]) -> io::Result<()>;
    /// Writes `parts` starting at `offset` (inside or at the end of the file).
    fn write_at(&self, offset: u64, parts: &[&[u8]]) -> io::Result<()>;
    fn sync(&self) -> io::Result<()>;
    /// Cuts the file to `len` bytes (to undo a failed append).
    fn truncate(&self, len: u64) -> io::Result<()>;
}

/// The directory operations of a data directory.
pub trait FileSystem: Send + Sync {
    fn create_dir_all(&self, dir: &Path) -> io::Result<()>;
    /// File names in `dir` (not paths), unsorted.
    fn list(&self, dir: &Path) -> io::Result<Vec<String>>;
    fn read_all(&self, path: &Path) -> io::Result<Vec<u8>>;
    /// The whole file, mapped read-only where the file layer can (no copy
    /// out of the page cache), read into memory otherwise. Only for files
    /// nothing truncates while the bytes live: the data directory is locked.
    fn map_whole(&self, path: &Path) -> io::Result<FileBytes> {
        self.read_all(path).map(FileBytes::Read)
    }
    /// Opens `path` for streaming reads.
    fn open_read(&self, path: &Path) -> io::Result<Box<dyn Read + Send>>;
    /// Opens `path` for reading its first `len` bytes (fewer when it is
    /// shorter) without the large buffer of `open_read`: for headers. Opening
    /// and reading fail apart, as with `open_read`.
    fn open_prefix(&self, path: &Path, len: usize) -> io::Result<Box<dyn Read + Send>> {
        Ok(Box::new(self.open_read(path)?.take(len as u64)))
    }
    fn len(&self, path: &Path) -> io::Result<u64>;
    /// Reads `buf.len()` bytes of `path` from `offset` (an error when the file
    /// ends first). Several threads may read one file at once.
    fn read_exact_at(&self, path: &Path, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        let mut reader = self.open_read(path)?;
        let skipped = io::copy(&mut reader.by_ref().take(offset), &mut io::sink())?;
        if skipped < offset {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the file ends before the offset",
            ));
        }
        reader.read_exact(buf)
    }
    /// Opens `path` for writing, creating it when missing.
    fn open_append(&self, path: &Path) -> io::Result<Arc<dyn AppendFile>>;
    /// Cuts `path` to `len` bytes and syncs it.
    fn truncate(&self, path: &Path, len: u64) -> io::Result<()>;
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()>;
    fn remove(&self, path: &Path) -> io::Result<()>;
    fn sync_dir(&self, dir: &Path) -> io::Result<()>;
}

/// The real file system.
pub struct OsFileSystem;

struct OsAppendFile(File);

impl AppendFile for OsAppendFile {
    fn append(&self, parts: &[&[u8]]) -> io::Result<()> {
        self.write_at(self.0.metadata()?.len(), parts)
    }

    fn write_at(&self, mut offset: u64, parts: &[&[u8]]) -> io::Result<()> {
        for part in parts {
            self.0.write_all_at(part, offset)?;
            offset += part.len() as u64;
        }
        Ok(())
    }

    fn sync(&self) -> io::Result<()> {
        self.0.sync_data()
    }

    fn truncate(&self, len: u64) -> io::Result<()> {
        self.0.set_len(len)
    }
}

impl FileSystem for OsFileSystem {
    fn create_dir_all(&self, dir: &Path) -> io::Result<()> {
        fs::create_dir_all(dir)
    }

    fn list(&self, dir: &Path) -> io::Result<Vec<String>> {
        let mut names = Vec::new();
        for entry in fs::read_dir(dir)? {
            if let Ok(name) = entry?.file_name().into_string() {
                names.push(name);
            }
        }
        Ok(names)
    }

    fn read_all(&self, path: &Path) -> io::Result<Vec<u8>> {
        fs::read(path)
    }

    fn map_whole(&self, path: &Path) -> io::Result<FileBytes> {
        let file = File::open(path)?;
        let len = usize::try_from(file.metadata()?.len()).map_err(|_| io::Error::from(io::ErrorKind::FileTooLarge))?;
        if len == 0 {
            return Ok(FileBytes::Read(Vec::new()));
        }
        // Asks the kernel to read the whole file ahead in large requests
        // (populating the mapping alone faults it in readahead-window steps,
        // each a round trip to the disk); only advice, so its result is moot.
        // Safety: a plain system call on an open file descriptor.
        unsafe {
            libc::posix_fadvise(
                std::os::fd::AsRawFd::as_raw_fd(&file),
                0,
                len as libc::off_t,
                libc::POSIX_FADV_WILLNEED,
            )
        };
        // Safety: maps `len` bytes of an open file read-only; the mapping is
        // private and the caller's lock keeps the file from being cut under it.
        let first = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ,
                libc::MAP_PRIVATE | libc::MAP_POPULATE,
                std::os::fd::AsRawFd::as_raw_fd(&file),
                0,
            )
        };
        if first == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        Ok(FileBytes::Mapped {
            first: first.cast::<u8>(),
            len,
        })
    }

    fn open_read(&self, path: &Path) -> io::Result<Box<dyn Read + Send>> {
        Ok(Box::new(io::BufReader::with_capacity(1 << 20, File::open(path)?)))
    }

    fn open_prefix(&self, path: &Path, len: usize) -> io::Result<Box<dyn Read + Send>> {
        Ok(Box::new(File::open(path)?.take(len as u64)))
    }

    fn len(&self, path: &Path) -> io::Result<u64> {
        Ok(fs::metadata(path)?.len())
    }

    fn read_exact_at(&self, path: &Path, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        std::os::unix::fs::FileExt::read_exact_at(&File::open(path)?, buf, offset)
    }

    fn open_append(&self, path: &Path) -> io::Result<Arc<dyn AppendFile>> {
        let file = OpenOptions::new().create(true).truncate(false).write(true).open(path)?;
        Ok(Arc::new(OsAppendFile(file)))
    }

    fn truncate(&self, path: &Path, len: u64) -> io::Result<()> {
        let file = OpenOptions::new().write(true).open(path)?;
        file.set_len(len)?;
        file.sync_all()
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        fs::rename(from, to)
    }

    fn remove(&self, path: &Path) -> io::Result<()> {
        fs::remove_file(path)
    }

    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        File::open(dir)?.sync_all()
    }
}

/// Writes `bytes` as the whole of `path` (created or cut to nothing first) and syncs it.
pub fn write_synced(fs: &dyn FileSystem, path: &Path, bytes: &[u8]) -> io::Result<()> {
    let file = fs.open_append(path)?;
    file.truncate(0)?;
    file.append(&[bytes])?;
    file.sync()
}

/// A whole file's bytes: a read-only mapping, or a copy.
pub enum FileBytes {
    Mapped { first: *mut u8, len: usize },
    Read(Vec<u8>),
}

// Safety: a mapping is plain memory, read (and unmapped) from any thread.
unsafe impl Send for FileBytes {}

impl std::ops::Deref for FileBytes {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        match self {
            // Safety: a live mapping of `len` readable bytes, unmapped on drop only.
            FileBytes::Mapped { first, len } => unsafe { std::slice::from_raw_parts(*first, *len) },
            FileBytes::Read(bytes) => bytes,
        }
    }
}

impl Drop for FileBytes {
    fn drop(&mut self) {
        if let FileBytes::Mapped { first, len } = *self {
            // Safety: the mapping made by `map_whole`, unmapped once.
            unsafe { libc::munmap(first.cast(), len) };
        }
    }
}

/// The name of a file numbered by an LSN: 20 digits, then `suffix`, so that
/// names sort as their numbers do.
pub fn numbered_name(number: u64, suffix: &str) -> String {
    format!("{number:020}{suffix}")
}

/// The number of a file named by `numbered_name` with `suffix`, or `None`
/// for any other file.
pub fn parse_numbered_name(name: &str, suffix: &str) -> Option<u64> {
    let digits = name.strip_suffix(suffix)?;
    (digits.len() == 20 && digits.bytes().all(|byte| byte.is_ascii_digit())).then(|| digits.parse().ok())?
}
