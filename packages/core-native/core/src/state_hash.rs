//! The state hash: BLAKE3 over a canonical encoding of the whole state.
//!
//! Version 2 encoding, all integers little-endian (docs/formats.md):
//!
//! ```text
//! "MMSB-STATE-HASH-2"          17 bytes, domain separation
//! next_page_id u64             ids released or not yet assigned are implied
//! live_page_count u64
//! per live page, in id order:
//!   id u64 | size u64 | location u8 | epoch u64
//!   metadata_count u32
//!   per entry, in key byte order: key_len u32 | key | value_len u32 | value
//!   data (size bytes)
//! edge_count u64
//! per edge, children in id order, each child's parents in their order:
//!   parent u64 | child u64 | kind u8
//! ```
//!
//! Equal states give equal hashes on every machine: nothing in the encoding
//! depends on memory layout, allocation or insertion order.

use std::fmt;

use crate::graph::Graph;
use crate::page_table::PageTable;

const DOMAIN: &[u8] = b"MMSB-STATE-HASH-2";

#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct StateHash(pub [u8; 32]);

impl StateHash {
    pub fn to_hex(&self) -> String {
        self.0.iter().map(|byte| format!("{byte:02x}")).collect()
    }
}

impl fmt::Debug for StateHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "StateHash({})", self.to_hex())
    }
}

pub fn hash_state(pages: &PageTable, graph: &Graph) -> StateHash {
    let mut hasher = blake3::Hasher::new();
    hasher.update(DOMAIN);
    hasher.update(&pages.next_page_id().to_le_bytes());
    hasher.update(&(pages.live_count() as u64).to_le_bytes());
    for (id, page) in pages.iter() {
        hasher.update(&id.to_le_bytes());
        hasher.update(&page.size().to_le_bytes());
        hasher.update(&[page.location() as u8]);
        hasher.update(&page.epoch().to_le_bytes());
        hasher.update(&(page.metadata().len() as u32).to_le_bytes());
        for (key, value) in page.metadata().iter() {
            hasher.update(&(key.len() as u32).to_le_bytes());
            hasher.update(key.as_bytes());
            hasher.update(&(value.len() as u32).to_le_bytes());
            hasher.update(value);
        }
        hasher.update(page.data());
    }
    hasher.update(&(graph.edge_count() as u64).to_le_bytes());
    for edge in graph.edges() {
        hasher.update(&edge.parent.to_le_bytes());
        hasher.update(&edge.child.to_le_bytes());
        hasher.update(&[edge.kind as u8]);
    }
    StateHash(*hasher.finalize().as_bytes())
}
