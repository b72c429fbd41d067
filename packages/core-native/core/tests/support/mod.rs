//! Helpers shared by the durability tests: scratch directories, a store
//! opened on them, the real file system with a hook (delegating.rs), and
//! `WriteFaults`, the hook that injects write and sync faults.
#![allow(dead_code)]

pub mod delegating;

use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use mmsb_core::storage::OsFileSystem;
use mmsb_core::{Delta, Payload, Source, Store, StoreOptions};

use delegating::{Hook, Operation};

/// A directory under the system temp dir, removed when dropped.
pub struct Scratch(pub PathBuf);

impl Scratch {
    pub fn new(name: &str) -> Scratch {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let unique = format!(
            "mmsb-{name}-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let path = std::env::temp_dir().join(unique);
        let _ = std::fs::remove_dir_all(&path);
        Scratch(path)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    /// The newest log segment's path.
    pub fn last_segment(&self) -> PathBuf {
        let mut names: Vec<String> = std::fs::read_dir(self.0.join("log"))
            .unwrap()
            .map(|entry| entry.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        self.0.join("log").join(names.last().unwrap())
    }
}

/// The segment files of a data directory, in order.
pub fn segments(dir: &Path) -> Vec<PathBuf> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir.join("log"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .collect();
    paths.sort();
    paths
}

/// The bytes of log records in a data directory (segment files also hold
/// preallocated zeros, which this leaves out).
pub fn log_record_bytes(dir: &Path) -> u64 {
    let listing = mmsb_core::inspect::list(&OsFileSystem, dir).unwrap();
    let count = listing.segments.len();
    listing
        .segments
        .iter()
        .enumerate()
        .map(|(index, file)| {
            mmsb_core::inspect::scan(&OsFileSystem, &file.path, file.number, index + 1 == count)
                .unwrap()
                .valid_end
        })
        .sum()
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub fn open(dir: &Path) -> mmsb_core::Result<Store> {
    open_with(dir, StoreOptions::default())
}

pub fn open_with(dir: &Path, options: StoreOptions) -> mmsb_core::Result<Store> {
    Store::open(Arc::new(OsFileSystem), dir, options)
}

pub fn dense(page_id: u64, bytes: Vec<u8>) -> Delta<Vec<u8>> {
    Delta {
        page_id,
        payload: Payload::Dense(bytes),
        source: Source::User,
        expect_epoch: None,
    }
}

/// Which operation a fault hits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultPoint {
    Append,
    Sync,
    SyncDir,
}

/// A hook for `Delegating`: the `after`-th append or sync (counted from 0
/// once armed) and every later one fails with `kind`.
pub struct WriteFaults {
    pub point: FaultPoint,
    pub kind: io::ErrorKind,
    pub after: AtomicUsize,
    pub armed: std::sync::atomic::AtomicBool,
    /// A simulated disk size: a write reaching past this offset of any file
    /// fails with ENOSPC (`u64::MAX`: no limit).
    pub capacity: std::sync::atomic::AtomicU64,
}

impl WriteFaults {
    pub fn new(point: FaultPoint, kind: io::ErrorKind) -> Arc<WriteFaults> {
        Arc::new(WriteFaults {
            point,
            kind,
            after: AtomicUsize::new(0),
            armed: false.into(),
            capacity: u64::MAX.into(),
        })
    }

    pub fn set_capacity(&self, bytes: u64) {
        self.capacity.store(bytes, Ordering::SeqCst);
    }

    fn check_room(&self, end: u64) -> io::Result<()> {
        if end > self.capacity.load(Ordering::SeqCst) {
            return Err(io::Error::from_raw_os_error(28));
        }
        Ok(())
    }

    /// Starts counting: the `after`-th operation from now fails.
    pub fn arm(&self, after: usize) {
        self.after.store(after, Ordering::SeqCst);
        self.armed.store(true, Ordering::SeqCst);
    }

    fn hit(&self, point: FaultPoint) -> io::Result<()> {
        if point != self.point || !self.armed.load(Ordering::SeqCst) {
            return Ok(());
        }
        let remaining = self.after.load(Ordering::SeqCst);
        if remaining == 0 {
            return Err(io::Error::new(self.kind, "injected fault"));
        }
        self.after.store(remaining - 1, Ordering::SeqCst);
        Ok(())
    }
}

impl Hook for WriteFaults {
    fn before(&self, operation: Operation<'_>) -> io::Result<()> {
        match operation {
            Operation::Append(_) => self.hit(FaultPoint::Append),
            Operation::WriteAt { offset, len, .. } => {
                self.hit(FaultPoint::Append)?;
                self.check_room(offset + len)
            }
            Operation::Sync(_) => self.hit(FaultPoint::Sync),
            Operation::SyncDir(_) => self.hit(FaultPoint::SyncDir),
            Operation::ReadAll(_) | Operation::MapWhole(_) | Operation::ReadStream(_) => Ok(()),
        }
    }
}

/// Copies the directory tree `from` to `to`.
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// A small deterministic generator (xorshift64*), so that a failure replays.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    pub fn below(&mut self, bound: u64) -> u64 {
        self.next() % bound
    }

    pub fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next() as u8).collect()
    }
}
