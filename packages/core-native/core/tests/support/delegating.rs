//! The real file system with a hook: every method goes to `OsFileSystem`,
//! but a hook sees the reads, writes and syncs first and may fail them,
//! panic or record them, so that a test states only what it changes.
//!
//! The fuzz crate includes this file too (fuzz/src/lib.rs), so it uses
//! nothing but std and `mmsb_core`.

use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use mmsb_core::storage::{AppendFile, FileBytes, FileSystem, OsFileSystem};

/// An operation as a hook sees it, before it runs. Those not listed
/// (listing, opening, renaming, removing, truncating) are never hooked.
#[derive(Clone, Copy, Debug)]
pub enum Operation<'a> {
    /// `FileSystem::read_all`.
    ReadAll(&'a Path),
    /// `FileSystem::map_whole`.
    MapWhole(&'a Path),
    /// One read from a stream opened by `open_read` or `open_prefix` (the
    /// opening itself succeeds as it would on the real file system).
    ReadStream(&'a Path),
    /// `AppendFile::append`.
    Append(&'a Path),
    /// `AppendFile::write_at` of `len` bytes at `offset`.
    WriteAt { path: &'a Path, offset: u64, len: u64 },
    /// `AppendFile::sync`.
    Sync(&'a Path),
    /// `FileSystem::sync_dir`.
    SyncDir(&'a Path),
}

/// What a test changes about the real file system: an error from `before`
/// is returned in place of the operation, which then does not run.
pub trait Hook: Send + Sync + 'static {
    fn before(&self, operation: Operation<'_>) -> io::Result<()>;
}

/// A closure is a hook (annotate its argument as `Operation<'_>`).
impl<F> Hook for F
where
    F: Fn(Operation<'_>) -> io::Result<()> + Send + Sync + 'static,
{
    fn before(&self, operation: Operation<'_>) -> io::Result<()> {
        self(operation)
    }
}

/// `OsFileSystem` with `H` called before each hooked operation; the hook is
/// shared so that a test can keep a handle on it (to arm it, to read what
/// it counted).
pub struct Delegating<H>(pub Arc<H>);

impl<H: Hook> Delegating<H> {
    pub fn new(hook: H) -> Delegating<H> {
        Delegating(Arc::new(hook))
    }

    fn reader(&self, path: &Path, inner: Box<dyn Read + Send>) -> Box<dyn Read + Send> {
        Box::new(HookedReader {
            inner,
            path: path.to_owned(),
            hook: Arc::clone(&self.0),
        })
    }
}

impl<H: Hook> FileSystem for Delegating<H> {
    fn create_dir_all(&self, dir: &Path) -> io::Result<()> {
        OsFileSystem.create_dir_all(dir)
    }
    fn list(&self, dir: &Path) -> io::Result<Vec<String>> {
        OsFileSystem.list(dir)
    }
    fn read_all(&self, path: &Path) -> io::Result<Vec<u8>> {
        self.0.before(Operation::ReadAll(path))?;
        OsFileSystem.read_all(path)
    }
    fn map_whole(&self, path: &Path) -> io::Result<FileBytes> {
        self.0.before(Operation::MapWhole(path))?;
        OsFileSystem.map_whole(path)
    }
    fn open_read(&self, path: &Path) -> io::Result<Box<dyn Read + Send>> {
        Ok(self.reader(path, OsFileSystem.open_read(path)?))
    }
    fn open_prefix(&self, path: &Path, len: usize) -> io::Result<Box<dyn Read + Send>> {
        Ok(self.reader(path, OsFileSystem.open_prefix(path, len)?))
    }
    fn len(&self, path: &Path) -> io::Result<u64> {
        OsFileSystem.len(path)
    }
    fn open_append(&self, path: &Path) -> io::Result<Arc<dyn AppendFile>> {
        Ok(Arc::new(HookedFile {
            inner: OsFileSystem.open_append(path)?,
            path: path.to_owned(),
            hook: Arc::clone(&self.0),
        }))
    }
    fn truncate(&self, path: &Path, len: u64) -> io::Result<()> {
        OsFileSystem.truncate(path, len)
    }
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        OsFileSystem.rename(from, to)
    }
    fn remove(&self, path: &Path) -> io::Result<()> {
        OsFileSystem.remove(path)
    }
    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        self.0.before(Operation::SyncDir(dir))?;
        OsFileSystem.sync_dir(dir)
    }
}

struct HookedReader<H> {
    inner: Box<dyn Read + Send>,
    path: PathBuf,
    hook: Arc<H>,
}

impl<H: Hook> Read for HookedReader<H> {
    fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
        self.hook.before(Operation::ReadStream(&self.path))?;
        self.inner.read(buffer)
    }
}

struct HookedFile<H> {
    inner: Arc<dyn AppendFile>,
    path: PathBuf,
    hook: Arc<H>,
}

impl<H: Hook> AppendFile for HookedFile<H> {
    fn append(&self, parts: &[&[u8]]) -> io::Result<()> {
        self.hook.before(Operation::Append(&self.path))?;
        self.inner.append(parts)
    }
    fn write_at(&self, offset: u64, parts: &[&[u8]]) -> io::Result<()> {
        let len = parts.iter().map(|part| part.len() as u64).sum();
        self.hook.before(Operation::WriteAt {
            path: &self.path,
            offset,
            len,
        })?;
        self.inner.write_at(offset, parts)
    }
    fn sync(&self) -> io::Result<()> {
        self.hook.before(Operation::Sync(&self.path))?;
        self.inner.sync()
    }
    fn truncate(&self, len: u64) -> io::Result<()> {
        self.inner.truncate(len)
    }
}
