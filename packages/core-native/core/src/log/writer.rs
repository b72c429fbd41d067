//! Appending records, rolling segments, and syncing them (group commit).
//!
//! The writer appends on the caller's thread; a `SyncJob` syncs on any
//! thread and covers every record appended before it was taken, so all
//! writers waiting at that moment share one sync.
//!
//! The newest segment is preallocated: zeros are written ahead of the
//! records, a few MiB at a time, so most syncs overwrite blocks the file
//! already has and the file system need not commit a new size (measured
//! about 1.4× faster syncs here than appending). Recovery reads an all-zero
//! tail as the clean end of the log; a sealed segment is cut to its records.
//!
//! Invariants:
//! - LSNs are appended in order without gaps, starting at the segment's first LSN.
//! - After any failed append or sync the writer is failed: it appends nothing
//!   more and no later sync reports success, so nothing after a failure is
//!   ever acknowledged (the bus must be reopened, which recovers what is durable).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use super::record::{header, RecordKind};
use super::segment::{segment_header, segment_name};
use crate::error::{Error, ErrorCode, Result};
use crate::storage::{AppendFile, FileSystem};

/// What the appending and syncing sides share.
struct Shared {
    /// The highest LSN known durable.
    durable_lsn: AtomicU64,
    /// The first failure, after which nothing is acknowledged.
    failure: Mutex<Option<Error>>,
}

impl Shared {
    fn fail(&self, error: Error) -> Error {
        let mut failure = self.failure.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        failure.get_or_insert(error).clone()
    }

    fn check(&self) -> Result<()> {
        let failure = self.failure.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        match &*failure {
            Some(error) => Err(Error::new(
                ErrorCode::LogFailed,
                format!("the log failed earlier and takes no more writes until reopened: {error}"),
            )),
            None => Ok(()),
        }
    }
}

pub struct LogWriter {
    fs: Arc<dyn FileSystem>,
    log_dir: PathBuf,
    segment: Arc<dyn AppendFile>,
    segment_path: PathBuf,
    segment_first_lsn: u64,
    /// Where the records end.
    segment_len: u64,
    /// The file's length: the records and the zeros written ahead of them.
    allocated_len: u64,
    segment_bytes_max: u64,
    next_lsn: u64,
    shared: Arc<Shared>,
}

impl LogWriter {
    /// Continues the segment starting at `segment_first_lsn`, whose records
    /// end at `segment_len` in a file of `allocated_len` bytes, with
    /// `next_lsn`. Every record before it is durable.
    pub fn resume(
        fs: Arc<dyn FileSystem>,
        log_dir: &Path,
        segment_first_lsn: u64,
        segment_len: u64,
        allocated_len: u64,
        next_lsn: u64,
        segment_bytes_max: u64,
    ) -> Result<LogWriter> {
        let segment_path = log_dir.join(segment_name(segment_first_lsn));
        let segment = fs
            .open_append(&segment_path)
            .map_err(|error| Error::io("opening log segment", &segment_path, &error))?;
        Ok(LogWriter {
            fs,
            log_dir: log_dir.to_owned(),
            segment,
            segment_path,
            segment_first_lsn,
            segment_len,
            allocated_len: allocated_len.max(segment_len),
            segment_bytes_max,
            next_lsn,
            shared: Arc::new(Shared {
                durable_lsn: AtomicU64::new(next_lsn - 1),
                failure: Mutex::new(None),
            }),
        })
    }

    /// Creates a new segment starting at `first_lsn`, synced with its directory.
    pub fn create_segment(fs: &dyn FileSystem, log_dir: &Path, first_lsn: u64) -> Result<()> {
        let path = log_dir.join(segment_name(first_lsn));
        let segment = fs
            .open_append(&path)
            .map_err(|error| Error::io("creating log segment", &path, &error))?;
        segment
            .append(&[&segment_header(first_lsn)])
            .and_then(|()| segment.sync())
            .and_then(|()| fs.sync_dir(log_dir))
            .map_err(|error| Error::io("writing log segment header", &path, &error))
    }

    pub fn next_lsn(&self) -> u64 {
        self.next_lsn
    }

    pub fn durable_lsn(&self) -> u64 {
        self.shared.durable_lsn.load(Ordering::Acquire)
    }

    /// The first LSN of the segment being appended to.
    pub fn segment_first_lsn(&self) -> u64 {
        self.segment_first_lsn
    }

    /// Appends one record whose stored body is `body_parts` concatenated
    /// (`compressed`: one zstd frame); returns its LSN. The record is
    /// written, not yet durable.
    pub fn append(&mut self, kind: RecordKind, compressed: bool, body_parts: &[&[u8]]) -> Result<u64> {
        self.shared.check()?;
        if self.segment_len >= self.segment_bytes_max {
            self.roll()?;
        }
        let lsn = self.next_lsn;
        let header = header(lsn, kind, compressed, body_parts)?;
        let mut parts: Vec<&[u8]> = Vec::with_capacity(body_parts.len() + 1);
        parts.push(&header);
        parts.extend_from_slice(body_parts);
        let record_len: u64 = parts.iter().map(|part| part.len() as u64).sum();
        let end = self.segment_len + record_len;
        if end > self.allocated_len {
            if let Err(error) = self.preallocate(end) {
                return Err(self.shared.fail(Error::io("preallocating", &self.segment_path, &error)));
            }
        }
        if let Err(error) = self.segment.write_at(self.segment_len, &parts) {
            // Best effort: cut the partial record. Recovery would truncate
            // it as a torn tail anyway, and the writer is failed either way.
            let _ = self.segment.truncate(self.segment_len);
            return Err(self.shared.fail(Error::io("appending to", &self.segment_path, &error)));
        }
        self.segment_len += record_len;
        self.next_lsn += 1;
        Ok(lsn)
    }

    /// Writes zeros from the allocated end to at least `end`, a chunk ahead.
    fn preallocate(&mut self, end: u64) -> std::io::Result<()> {
        const CHUNK_BYTES: u64 = 4 << 20;
        static ZEROS: [u8; 1 << 16] = [0; 1 << 16];
        let target = end.max(self.allocated_len + CHUNK_BYTES);
        while self.allocated_len < target {
            let len = (target - self.allocated_len).min(ZEROS.len() as u64) as usize;
            self.segment.write_at(self.allocated_len, &[&ZEROS[..len]])?;
            self.allocated_len += len as u64;
        }
        Ok(())
    }

    /// A sync covering every record appended so far, to run on any thread.
    pub fn sync_job(&self) -> SyncJob {
        SyncJob {
            segment: Arc::clone(&self.segment),
            segment_path: self.segment_path.clone(),
            lsn: self.next_lsn - 1,
            shared: Arc::clone(&self.shared),
        }
    }

    /// Seals the current segment (synced) and starts the next one; returns
    /// false, doing nothing, when the current segment holds no record yet.
    pub fn roll(&mut self) -> Result<bool> {
        if self.segment_len <= super::segment::SEGMENT_HEADER_BYTES as u64 {
            return Ok(false);
        }
        // A sealed segment ends at its last record: only the newest may have a zero tail.
        if let Err(error) = self.segment.truncate(self.segment_len) {
            return Err(self.shared.fail(Error::io("sealing", &self.segment_path, &error)));
        }
        self.allocated_len = self.segment_len;
        self.sync_job().run()?;
        LogWriter::create_segment(self.fs.as_ref(), &self.log_dir, self.next_lsn)
            .map_err(|error| self.shared.fail(error))?;
        let path = self.log_dir.join(segment_name(self.next_lsn));
        self.segment = self
            .fs
            .open_append(&path)
            .map_err(|error| self.shared.fail(Error::io("opening log segment", &path, &error)))?;
        self.segment_path = path;
        self.segment_first_lsn = self.next_lsn;
        self.segment_len = super::segment::SEGMENT_HEADER_BYTES as u64;
        self.allocated_len = self.segment_len;
        Ok(true)
    }
}

/// One sync of the log, detached from the writer.
pub struct SyncJob {
    segment: Arc<dyn AppendFile>,
    segment_path: PathBuf,
    lsn: u64,
    shared: Arc<Shared>,
}

impl SyncJob {
    /// Syncs; returns the LSN now durable. A failure fails the writer.
    pub fn run(self) -> Result<u64> {
        self.shared.check()?;
        if self.shared.durable_lsn.load(Ordering::Acquire) >= self.lsn {
            return Ok(self.shared.durable_lsn.load(Ordering::Acquire));
        }
        if let Err(error) = self.segment.sync() {
            return Err(self.shared.fail(Error::io("syncing", &self.segment_path, &error)));
        }
        self.shared.check()?;
        self.shared.durable_lsn.fetch_max(self.lsn, Ordering::AcqRel);
        Ok(self.lsn)
    }
}
