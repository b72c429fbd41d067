//! Hash maps and sets keyed by page id. Ids are small, dense integers chosen
//! by the bus, not by an adversary, so a multiplicative hash (Fibonacci
//! hashing) spreads them well at a fraction of SipHash's cost; the maps sit
//! on the hot paths of batches, graphs and waves.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};

use crate::page::PageId;

#[derive(Default, Clone, Copy)]
pub struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(byte)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        }
    }

    fn write_u64(&mut self, id: u64) {
        self.0 = id.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
}

pub type IdMap<V> = HashMap<PageId, V, BuildHasherDefault<IdHasher>>;
pub type IdSet = HashSet<PageId, BuildHasherDefault<IdHasher>>;
