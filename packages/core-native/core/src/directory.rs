//! A data directory: its paths, its lock, and the numbered files in it, as
//! opening a store, time travel and the inspection tools all see them.
//!
//! ```text
//! <dir>/LOCK                         held (flock) while a store has it open
//! <dir>/log/<first lsn>.log          segments (log/segment.rs)
//! <dir>/checkpoints/<lsn>.ckpt       checkpoints (checkpoint.rs)
//! <dir>/pages/<page id>.page         files of mapped pages (page_memory/mapped.rs)
//! <dir>/salvage/, <dir>/salvage-*/   what recovery and repair kept aside
//! ```

use std::fs::File;
use std::path::{Path, PathBuf};

use crate::checkpoint::parse_checkpoint_name;
use crate::error::{fail, Error, Result};
use crate::log::segment::parse_segment_name;
use crate::storage::FileSystem;

/// The paths of one data directory.
#[derive(Clone, Debug)]
pub struct DataDirectory {
    root: PathBuf,
    log: PathBuf,
    checkpoints: PathBuf,
}

/// The segments and checkpoints of a data directory, ascending.
pub struct DirectoryFiles {
    /// First LSNs of the log segments.
    pub segments: Vec<u64>,
    /// LSNs of the checkpoints.
    pub checkpoints: Vec<u64>,
}

impl DirectoryFiles {
    /// The first LSN of the oldest segment (1 for a log with no segment yet).
    pub fn log_first_lsn(&self) -> u64 {
        self.segments.first().copied().unwrap_or(1)
    }
}

impl DataDirectory {
    pub fn at(root: &Path) -> DataDirectory {
        DataDirectory {
            root: root.to_owned(),
            log: root.join("log"),
            checkpoints: root.join("checkpoints"),
        }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn log_dir(&self) -> &Path {
        &self.log
    }

    pub fn checkpoint_dir(&self) -> &Path {
        &self.checkpoints
    }

    pub fn pages_dir(&self) -> PathBuf {
        self.root.join("pages")
    }

    /// Creates the directory and its subdirectories where missing.
    pub fn create(&self, fs: &dyn FileSystem) -> Result<()> {
        for path in [&self.root, &self.log, &self.checkpoints] {
            fs.create_dir_all(path)
                .map_err(|error| Error::io("creating", path, &error))?;
        }
        Ok(())
    }

    /// Takes the directory's lock, held while the returned file lives.
    pub fn lock(&self) -> Result<File> {
        let path = self.root.join("LOCK");
        let file = File::create(&path).map_err(|error| Error::io("creating", &path, &error))?;
        match file.try_lock() {
            Ok(()) => Ok(file),
            Err(std::fs::TryLockError::WouldBlock) => {
                fail!(
                    DirectoryLocked,
                    "data directory {} is open in another bus or process",
                    self.root.display()
                )
            }
            Err(std::fs::TryLockError::Error(error)) => Err(Error::io("locking", &path, &error)),
        }
    }

    /// The segments and checkpoints on disk.
    pub fn files(&self, fs: &dyn FileSystem) -> Result<DirectoryFiles> {
        Ok(DirectoryFiles {
            segments: numbered(fs, &self.log, parse_segment_name)?,
            checkpoints: numbered(fs, &self.checkpoints, parse_checkpoint_name)?,
        })
    }

    /// Removes leftover temporary files of interrupted checkpoints.
    pub fn remove_temporaries(&self, fs: &dyn FileSystem) -> Result<()> {
        let dir = &self.checkpoints;
        for name in fs.list(dir).map_err(|error| Error::io("listing", dir, &error))? {
            if name.ends_with(".tmp") {
                let path = dir.join(&name);
                fs.remove(&path).map_err(|error| Error::io("removing", &path, &error))?;
            }
        }
        Ok(())
    }
}

/// The first of `name(1)`, `name(2)`, ... that no entry of `dir` has: what
/// is kept aside is never written over.
pub fn unused_name(fs: &dyn FileSystem, dir: &Path, name: impl Fn(u32) -> String) -> Result<String> {
    let taken = fs.list(dir).map_err(|error| Error::io("listing", dir, &error))?;
    Ok((1..)
        .map(name)
        .find(|candidate| !taken.contains(candidate))
        .expect("an unused name"))
}

/// The numbers of the files in `dir` that `parse` recognises, ascending.
fn numbered(fs: &dyn FileSystem, dir: &Path, parse: fn(&str) -> Option<u64>) -> Result<Vec<u64>> {
    let names = fs.list(dir).map_err(|error| Error::io("listing", dir, &error))?;
    let mut numbers: Vec<u64> = names.iter().filter_map(|name| parse(name)).collect();
    numbers.sort_unstable();
    Ok(numbers)
}
