//! Syncing the log: on the JS thread, or as a job run on a libuv worker so
//! that the state stays writable while the disk syncs (group commit).

use mmsb_core::log::writer::SyncJob;
use napi::bindgen_prelude::AsyncTask;
use napi::{Env, Task};
use napi_derive::napi;

use crate::convert::{fail, Result};
use crate::state::NativeState;

/// The outcome of a sync: the durable LSN, or the error's code and message
/// (an async task's own errors cannot carry a code).
#[napi(object)]
pub struct SyncOutcome {
    pub durable_lsn: Option<f64>,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
}

/// One sync of the log, taken from a `NativeState`.
#[napi]
pub struct NativeSyncJob {
    job: Option<SyncJob>,
    memory_lsn: u64,
}

#[napi]
impl NativeSyncJob {
    /// Runs the sync on a libuv worker thread; a job runs once.
    #[napi(ts_return_type = "Promise<SyncOutcome>")]
    pub fn run(&mut self) -> AsyncTask<SyncTask> {
        AsyncTask::new(SyncTask {
            job: self.job.take(),
            memory_lsn: self.memory_lsn,
        })
    }
}

/// Syncs the log on a libuv worker thread.
pub struct SyncTask {
    job: Option<SyncJob>,
    memory_lsn: u64,
}

impl Task for SyncTask {
    type Output = std::result::Result<u64, mmsb_core::Error>;
    type JsValue = SyncOutcome;

    fn compute(&mut self) -> napi::Result<Self::Output> {
        Ok(self.job.take().map_or(Ok(self.memory_lsn), SyncJob::run))
    }

    fn resolve(&mut self, _env: Env, output: Self::Output) -> napi::Result<SyncOutcome> {
        Ok(match output {
            Ok(lsn) => SyncOutcome {
                durable_lsn: Some(lsn as f64),
                error_code: None,
                error_message: None,
            },
            Err(error) => SyncOutcome {
                durable_lsn: None,
                error_code: Some(error.code.as_str().to_owned()),
                error_message: Some(error.message),
            },
        })
    }
}

#[napi]
impl NativeState {
    /// A sync of every change so far, to run off the JS thread (group
    /// commit: one sync covers all writers waiting on it). It is an object of
    /// its own because a pending task keeps its receiver borrowed, and the
    /// state must stay writable while the sync runs.
    #[napi]
    pub fn sync_job(&self) -> NativeSyncJob {
        NativeSyncJob {
            job: self.store.sync_job(),
            memory_lsn: self.store.last_lsn(),
        }
    }

    /// Syncs every change so far on this thread; returns the durable LSN.
    #[napi]
    pub fn sync(&self) -> Result<f64> {
        match self.store.sync_job() {
            Some(job) => Ok(job.run().map_err(fail)? as f64),
            None => Ok(self.store.last_lsn() as f64),
        }
    }
}
