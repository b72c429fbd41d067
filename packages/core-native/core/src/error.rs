//! Errors a caller can cause, each with a stable code.
//!
//! The code strings are part of the public contract: they cross napi as the
//! `code` of a thrown `Error`, and the bridge sends them in error responses.
//! A code is never renamed or reused for another meaning.

use std::fmt;

/// The stable identity of a failure. `as_str` gives the wire spelling.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// No page ever had this id.
    PageNotFound,
    /// The page existed and was released; its id is never reused.
    PageReleased,
    /// A page size of zero or above `PAGE_SIZE_MAX`.
    PageSizeInvalid,
    /// A location name that is not `cpu`, `gpu` or `unified`.
    LocationUnknown,
    /// A `gpu` or `unified` page was asked for and no CUDA driver is loaded.
    CudaUnavailable,
    /// A payload, mask or packed-byte count that does not fit the page.
    DeltaSizeMismatch,
    /// A range write that reaches past the end of the page.
    RangeOutOfBounds,
    /// Range writes that overlap or are out of offset order.
    RangeOverlap,
    /// `expectEpoch` differs from the page's epoch.
    EpochConflict,
    /// A metadata key or value that breaks the metadata rules.
    MetadataInvalid,
    /// An encoded delta batch whose bytes do not follow docs/formats.md.
    EncodingInvalid,
    /// An argument of the wrong type or out of its domain.
    InvalidArgument,
    /// The operating system failed a read, write or sync; the message has its error.
    IoError,
    /// A log record is damaged and valid records follow it; names segment and offset.
    LogCorrupt,
    /// A checkpoint file fails its checks and no older one can stand in.
    CheckpointCorrupt,
    /// An earlier write or sync of the log failed; the bus takes no more writes.
    LogFailed,
    /// Another process has the data directory open.
    DirectoryLocked,
    /// An LSN before the oldest retained checkpoint or after the last record.
    LsnOutOfRange,
    /// An edge that would close a cycle (a self-edge included); names the cycle.
    GraphCycle,
    /// An edge that is already in the graph.
    EdgeExists,
    /// An edge that is not in the graph.
    EdgeNotFound,
    /// The disk has no room for the change (ENOSPC); the change was not applied
    /// and the log still takes writes once space is freed.
    DiskFull,
    /// The change was applied and written, but the sync that would make it durable
    /// failed: it may or may not survive a crash. The log takes no more writes
    /// until the bus is reopened (PostgreSQL's rule after a failed fsync).
    DurabilityUnknown,
    /// The page memory asked for cannot hold the page (an arena page above
    /// `ARENA_PAGE_MAX` bytes); another memory can.
    MemoryUnsuitable,
    /// A wave would visit more pages than the wave limit; it was refused
    /// before anything was recomputed (the commit that started it stays).
    WaveLimit,
    /// A device ordinal that no CUDA device has.
    DeviceNotFound,
    /// The device (or its pinned host staging) has no room for the page.
    DeviceOutOfMemory,
    /// A CUDA call failed (a lost device, a failed kernel); the message names the call.
    DeviceFailed,
}

impl ErrorCode {
    /// Every code, in declaration order; the TypeScript layer checks its copy against this.
    pub const ALL: [ErrorCode; 28] = [
        ErrorCode::PageNotFound,
        ErrorCode::PageReleased,
        ErrorCode::PageSizeInvalid,
        ErrorCode::LocationUnknown,
        ErrorCode::CudaUnavailable,
        ErrorCode::DeltaSizeMismatch,
        ErrorCode::RangeOutOfBounds,
        ErrorCode::RangeOverlap,
        ErrorCode::EpochConflict,
        ErrorCode::MetadataInvalid,
        ErrorCode::EncodingInvalid,
        ErrorCode::InvalidArgument,
        ErrorCode::IoError,
        ErrorCode::LogCorrupt,
        ErrorCode::CheckpointCorrupt,
        ErrorCode::LogFailed,
        ErrorCode::DirectoryLocked,
        ErrorCode::LsnOutOfRange,
        ErrorCode::GraphCycle,
        ErrorCode::EdgeExists,
        ErrorCode::EdgeNotFound,
        ErrorCode::DiskFull,
        ErrorCode::DurabilityUnknown,
        ErrorCode::MemoryUnsuitable,
        ErrorCode::WaveLimit,
        ErrorCode::DeviceNotFound,
        ErrorCode::DeviceOutOfMemory,
        ErrorCode::DeviceFailed,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            ErrorCode::PageNotFound => "PAGE_NOT_FOUND",
            ErrorCode::PageReleased => "PAGE_RELEASED",
            ErrorCode::PageSizeInvalid => "PAGE_SIZE_INVALID",
            ErrorCode::LocationUnknown => "LOCATION_UNKNOWN",
            ErrorCode::CudaUnavailable => "CUDA_UNAVAILABLE",
            ErrorCode::DeltaSizeMismatch => "DELTA_SIZE_MISMATCH",
            ErrorCode::RangeOutOfBounds => "RANGE_OUT_OF_BOUNDS",
            ErrorCode::RangeOverlap => "RANGE_OVERLAP",
            ErrorCode::EpochConflict => "EPOCH_CONFLICT",
            ErrorCode::MetadataInvalid => "METADATA_INVALID",
            ErrorCode::EncodingInvalid => "ENCODING_INVALID",
            ErrorCode::InvalidArgument => "INVALID_ARGUMENT",
            ErrorCode::IoError => "IO_ERROR",
            ErrorCode::LogCorrupt => "LOG_CORRUPT",
            ErrorCode::CheckpointCorrupt => "CHECKPOINT_CORRUPT",
            ErrorCode::LogFailed => "LOG_FAILED",
            ErrorCode::DirectoryLocked => "DIRECTORY_LOCKED",
            ErrorCode::LsnOutOfRange => "LSN_OUT_OF_RANGE",
            ErrorCode::GraphCycle => "GRAPH_CYCLE",
            ErrorCode::EdgeExists => "EDGE_EXISTS",
            ErrorCode::EdgeNotFound => "EDGE_NOT_FOUND",
            ErrorCode::DiskFull => "DISK_FULL",
            ErrorCode::DurabilityUnknown => "DURABILITY_UNKNOWN",
            ErrorCode::MemoryUnsuitable => "MEMORY_UNSUITABLE",
            ErrorCode::WaveLimit => "WAVE_LIMIT",
            ErrorCode::DeviceNotFound => "DEVICE_NOT_FOUND",
            ErrorCode::DeviceOutOfMemory => "DEVICE_OUT_OF_MEMORY",
            ErrorCode::DeviceFailed => "DEVICE_FAILED",
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A failure with its code and a message that names the object involved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error {
    pub code: ErrorCode,
    pub message: String,
}

impl Error {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Error {
        Error {
            code,
            message: message.into(),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for Error {}

pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// An I/O failure, with what was being done and where: `DISK_FULL` when
    /// the disk had no room, `IO_ERROR` otherwise.
    pub fn io(doing: &str, path: &std::path::Path, error: &std::io::Error) -> Error {
        let code = if is_disk_full(error) {
            ErrorCode::DiskFull
        } else {
            ErrorCode::IoError
        };
        Error::new(code, format!("{doing} {}: {error}", path.display()))
    }
}

/// True for ENOSPC (and EDQUOT, a full quota, which callers meet the same way).
pub fn is_disk_full(error: &std::io::Error) -> bool {
    const ENOSPC: i32 = 28;
    const EDQUOT: i32 = 122;
    error.kind() == std::io::ErrorKind::StorageFull
        || error.kind() == std::io::ErrorKind::QuotaExceeded
        || matches!(error.raw_os_error(), Some(ENOSPC | EDQUOT))
}

/// Builds an `Err(Error)` with a formatted message.
macro_rules! fail {
    ($code:ident, $($arg:tt)*) => {
        Err($crate::error::Error::new($crate::error::ErrorCode::$code, format!($($arg)*)))
    };
}
pub(crate) use fail;
