//! mmsb-core: the deterministic heart of MMSB, with no JavaScript in it.
//!
//! - [`page`] and [`page_table`]: pages, their ids and invariants;
//! - [`delta`]: the three delta forms, validation, apply, merge, and the
//!   batch encoding;
//! - [`state`]: the state machine every change passes through;
//! - [`state_hash`]: the canonical hash of a state;
//! - [`error`]: the stable error codes shared with TypeScript.

pub mod delta;
pub mod error;
pub mod metadata;
mod msgpack;
pub mod page;
pub mod page_bytes;
pub mod page_table;
pub mod state;
pub mod state_hash;

pub use delta::{Delta, Payload, RangeWrite, Source};
pub use error::{Error, ErrorCode, Result};
pub use page::{Location, PageId};
pub use state::State;
pub use state_hash::StateHash;
