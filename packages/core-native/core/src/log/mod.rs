//! The transaction log: segmented, append-only, one record per state change.

pub mod body;
pub mod read_ahead;
pub mod record;
pub mod scan;
pub mod segment;
pub mod wave_body;
pub mod writer;
