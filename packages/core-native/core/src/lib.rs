//! mmsb-core: the deterministic heart of MMSB, with no JavaScript in it.
//!
//! - [`page`] and [`page_table`]: pages, their ids and invariants;
//! - [`page_memory`]: where page bytes live (heap, arena, mapped files, CUDA);
//! - [`cuda`]: the CUDA driver, loaded at run time, and the delta kernels;
//! - [`delta`]: the three delta forms, validation, apply, merge, and the
//!   batch encoding;
//! - [`graph`]: the ShadowPageGraph of dependency edges;
//! - [`state`]: the state machine every change passes through;
//! - [`state_hash`]: the canonical hash of a state;
//! - [`directory`]: a data directory's paths, lock and files;
//! - [`store`]: a state with its transaction log ([`log`]) and
//!   [`checkpoint`]s, [`recovery`] and time travel, over [`storage`];
//! - `crc`: joining the checksums of adjacent byte ranges;
//! - [`counters`]: the store's statistics, one block readers take without a call;
//! - [`error`]: the stable error codes shared with TypeScript;
//! - [`names`]: the wire names of every enum a caller spells as a string;
//! - [`zmq`]: the bridge's request socket, libzmq loaded at run time.

pub mod checkpoint;
pub mod counters;
mod crc;
pub mod cuda;
pub mod delta;
pub mod directory;
pub mod error;
pub mod graph;
mod id_map;
pub mod inspect;
pub mod log;
pub mod metadata;
mod msgpack;
pub mod names;
pub mod page;
pub mod page_memory;
mod page_reads;
pub mod page_table;
pub mod propagation;
pub mod recovery;
pub mod shared_file;
pub mod state;
pub mod state_hash;
pub mod storage;
pub mod store;
#[cfg(test)]
mod test_rng;
pub mod varint;
pub mod zmq;

pub use delta::{Delta, Payload, RangeWrite, Source};
pub use error::{Error, ErrorCode, Result};
pub use page::{Location, PageId};
pub use page_memory::MemoryKind;
pub use state::State;
pub use state_hash::StateHash;
pub use store::{Store, StoreOptions};
