//! The mapped backend: each page is a file that another process can map
//! (the ZeroMQ bridge, Julia), shared with this process by `MAP_SHARED`.
//!
//! Files and lifetime:
//! - `<dir>/<page id, 20 digits>.page`, mode 0600, in a directory of mode
//!   0700: `<data dir>/pages/` for the live state of a data directory, else a
//!   private directory `mmsb-pages-<pid>-<n>` of the system temp directory,
//!   made on the first mapped page and removed with the state.
//! - The file holds exactly the page's bytes, live: every applied delta is in
//!   it as soon as the call returns. It is no durable state (never synced;
//!   the log and checkpoints are the durable copy).
//! - Its blocks are reserved at creation (`posix_fallocate`), so a full disk
//!   refuses the page (`DISK_FULL`) rather than faulting a later write.
//! - The file is removed when the page is released, moved to another backend,
//!   or the state is dropped (the bus closes). A process that mapped it keeps
//!   its mapping of the last bytes. Files left by a crash are removed when the
//!   data directory is opened again (`remove_leftovers`).

use std::fs::{DirBuilder, File, OpenOptions};
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use super::{Backend, MemoryConfig, PageMemory, Repr};
use crate::error::{Error, Result};
use crate::page::PageId;
use crate::storage::numbered_name;

const SUFFIX: &str = ".page";

/// A shared mapping of a page file, unmapped when the page and its views are gone.
pub struct Mapping {
    first: NonNull<u8>,
    len: usize,
}

// Safety: the mapping is plain memory; who writes which bytes when is ruled
// by the page memory invariants (mod.rs).
unsafe impl Send for Mapping {}
unsafe impl Sync for Mapping {}

impl Mapping {
    /// Maps the first `len` bytes of `file` (which has at least that many),
    /// shared with every other mapping of the file; writable or read-only.
    pub(crate) fn map(file: &File, len: usize, writable: bool) -> io::Result<Mapping> {
        let protection = if writable {
            libc::PROT_READ | libc::PROT_WRITE
        } else {
            libc::PROT_READ
        };
        // Safety: maps `len` bytes of an open file that has at least that many.
        let first = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                protection,
                libc::MAP_SHARED,
                file.as_raw_fd(),
                0,
            )
        };
        if first == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let first = NonNull::new(first.cast::<u8>()).expect("mmap does not return null on success");
        Ok(Mapping { first, len })
    }

    pub(crate) fn first(&self) -> *mut u8 {
        self.first.as_ptr()
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // Safety: mapped in `map_file` with this length; nothing refers to it any more.
        unsafe { libc::munmap(self.first.as_ptr().cast(), self.len) };
    }
}

/// A mapped page's memory: the mapping and the file, removed when the page lets go.
pub(super) struct MappedPage {
    pub(super) mapping: Arc<Mapping>,
    pub(super) path: PathBuf,
}

impl Drop for MappedPage {
    fn drop(&mut self) {
        // Best effort: a file that cannot be removed now is a leftover, which
        // the next open of the data directory removes.
        let _ = std::fs::remove_file(&self.path);
    }
}

pub(super) struct MappedFiles {
    config: MemoryConfig,
    /// The directory once made (a private one) or checked (a data directory's).
    dir: Option<PathBuf>,
}

impl MappedFiles {
    pub(super) fn new(config: &MemoryConfig) -> MappedFiles {
        MappedFiles {
            config: config.clone(),
            dir: None,
        }
    }

    fn dir(&mut self) -> Result<&Path> {
        if self.dir.is_none() {
            let dir = match &self.config {
                MemoryConfig::Directory(dir) => {
                    make_private_dir(dir)
                        .or_else(|error| match error.kind() {
                            io::ErrorKind::AlreadyExists => {
                                std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
                            }
                            _ => Err(error),
                        })
                        .map_err(|error| Error::io("creating page directory", dir, &error))?;
                    dir.clone()
                }
                MemoryConfig::Private => private_temp_dir()?,
            };
            self.dir = Some(dir);
        }
        Ok(self.dir.as_deref().expect("set above"))
    }
}

impl Drop for MappedFiles {
    fn drop(&mut self) {
        if let (MemoryConfig::Private, Some(dir)) = (&self.config, &self.dir) {
            // Best effort: the pages removed their files already.
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

impl Backend for MappedFiles {
    fn allocate(&mut self, id: PageId, size: usize) -> Result<PageMemory> {
        let path = self.dir()?.join(numbered_name(id, SUFFIX));
        let file = match create(&path) {
            Err(error) if error.kind() == io::ErrorKind::AlreadyExists => {
                // A leftover of this page id: its page is gone, so is its use.
                std::fs::remove_file(&path).and_then(|()| create(&path))
            }
            other => other,
        }
        .map_err(|error| Error::io("creating mapped page file", &path, &error))?;
        match map_file(&file, size) {
            Ok(mapping) => Ok(PageMemory(Repr::Mapped(Box::new(MappedPage {
                mapping: Arc::new(mapping),
                path,
            })))),
            Err(error) => {
                let _ = std::fs::remove_file(&path);
                Err(Error::io("mapping page file", &path, &error))
            }
        }
    }
}

fn create(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
}

fn make_private_dir(dir: &Path) -> io::Result<()> {
    DirBuilder::new().mode(0o700).create(dir)
}

/// Reserves `size` bytes of the file and maps them shared.
fn map_file(file: &File, size: usize) -> io::Result<Mapping> {
    let len = libc::off_t::try_from(size).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    // Safety: a valid descriptor and length.
    match unsafe { libc::posix_fallocate(file.as_raw_fd(), 0, len) } {
        0 => {}
        // File systems without allocation: a sparse file of the same length.
        libc::EOPNOTSUPP | libc::EINVAL => file.set_len(size as u64)?,
        code => return Err(io::Error::from_raw_os_error(code)),
    }
    Mapping::map(file, size, true)
}

/// Removes the private page directories of processes that no longer run
/// (a crash or kill skips the removal at close). Best effort: a directory
/// that cannot be removed is left for the next sweep.
fn remove_orphans(base: &Path) {
    let Ok(entries) = std::fs::read_dir(base) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|name| name.strip_prefix("mmsb-pages-"))
            .and_then(|rest| rest.split('-').next())
            .and_then(|pid| pid.parse::<libc::pid_t>().ok())
        else {
            continue;
        };
        // Safety: signal 0 only asks whether the process exists.
        let gone =
            unsafe { libc::kill(pid, 0) } == -1 && io::Error::last_os_error().raw_os_error() == Some(libc::ESRCH);
        if gone {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// Makes a new private directory in the system temp directory.
fn private_temp_dir() -> Result<PathBuf> {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    static SWEPT: std::sync::Once = std::sync::Once::new();
    let base = std::env::temp_dir();
    SWEPT.call_once(|| remove_orphans(&base));
    loop {
        let name = format!(
            "mmsb-pages-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let dir = base.join(name);
        match make_private_dir(&dir) {
            Ok(()) => return Ok(dir),
            // Left by an earlier process with this pid: take the next name.
            Err(error) if error.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(error) => return Err(Error::io("creating page directory", &dir, &error)),
        }
    }
}

/// Removes the page files a crashed process left in `dir` (a data
/// directory's `pages/`); a missing directory has none.
pub fn remove_leftovers(dir: &Path) -> Result<()> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(error) => return Err(Error::io("listing", dir, &error)),
    };
    for entry in entries {
        let entry = entry.map_err(|error| Error::io("listing", dir, &error))?;
        if entry.file_name().to_string_lossy().ends_with(SUFFIX) {
            let path = entry.path();
            std::fs::remove_file(&path).map_err(|error| Error::io("removing", &path, &error))?;
        }
    }
    Ok(())
}
