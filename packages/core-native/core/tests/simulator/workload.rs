//! The seeded workload: random valid operations on a store (page creation
//! alone and in bulk, deltas of every form, batches, metadata, releases,
//! edges, moves between page memories, checkpoints full and incremental,
//! syncs), recording the state hash after every LSN and the highest LSN a
//! sync acknowledged. An operation that fails must leave the state as it was.

use std::collections::BTreeMap;

use mmsb_core::graph::{Edge, EdgeKind};
use mmsb_core::{Delta, ErrorCode, Location, MemoryKind, PageId, Payload, RangeWrite, Source, StateHash, Store};

use super::Rng;

/// What the store reached and what it acknowledged.
pub struct History {
    /// The state hash after each LSN.
    pub hashes: BTreeMap<u64, StateHash>,
    /// The highest LSN a sync (or a checkpoint) acknowledged as durable.
    pub acknowledged_lsn: u64,
    /// The LSN of a change the power went out under: its call never
    /// returned (whatever the simulator saw), so recovery may hold it or not.
    pub in_doubt: Option<u64>,
}

impl History {
    pub fn new() -> History {
        History {
            hashes: BTreeMap::from([(0, Store::memory().state_hash())]),
            acknowledged_lsn: 0,
            in_doubt: None,
        }
    }

    /// Forgets the LSNs after `lsn`: the store recovered there and numbers
    /// its next records from it.
    pub fn rewind(&mut self, lsn: u64) {
        self.hashes.split_off(&(lsn + 1));
        self.acknowledged_lsn = self.acknowledged_lsn.min(lsn);
        self.in_doubt = None;
    }

    pub fn last_lsn(&self) -> u64 {
        self.hashes.keys().next_back().copied().unwrap_or(0)
    }
}

fn pages(store: &Store) -> Vec<(PageId, u64)> {
    store.state().pages().map(|(id, page)| (id, page.size())).collect()
}

fn payload(rng: &mut Rng, size: u64) -> Payload<Vec<u8>> {
    match rng.below(3) {
        0 => Payload::Dense(rng.bytes(size as usize)),
        1 => {
            let mut mask = rng.bytes(size.div_ceil(8) as usize);
            if !size.is_multiple_of(8) {
                *mask.last_mut().expect("a mask byte") &= (1u8 << (size % 8)) - 1;
            }
            let set: u32 = mask.iter().map(|byte| byte.count_ones()).sum();
            Payload::Sparse {
                mask,
                packed: rng.bytes(set as usize),
            }
        }
        _ => {
            let mut cuts: Vec<u64> = (0..rng.between(1, 6)).map(|_| rng.below(size + 1)).collect();
            cuts.sort_unstable();
            cuts.dedup();
            let ranges = cuts
                .chunks(2)
                .filter(|pair| pair.len() == 2)
                .map(|pair| RangeWrite {
                    offset: pair[0],
                    bytes: rng.bytes((pair[1] - pair[0]) as usize),
                })
                .collect();
            Payload::Ranges(ranges)
        }
    }
}

fn delta(rng: &mut Rng, (page_id, size): (PageId, u64)) -> Delta<Vec<u8>> {
    Delta {
        page_id,
        payload: payload(rng, size),
        source: Source::User,
        expect_epoch: None,
    }
}

fn page_size(rng: &mut Rng) -> u64 {
    match rng.below(10) {
        0 => rng.between(2049, 6000),
        1 | 2 => rng.between(257, 2048),
        _ => rng.between(1, 256),
    }
}

/// Runs one random operation; returns an error message when the store broke
/// a rule (a failed operation that changed the state, an unexpected error).
pub fn step(store: &mut Store, rng: &mut Rng, history: &mut History) -> Result<String, String> {
    let live = pages(store);
    let before = (store.last_lsn(), store.state_hash());
    let pick = |rng: &mut Rng| live[rng.below(live.len() as u64) as usize];
    // A sync, or a move to where the page is, logs nothing.
    let mut unchanged = false;
    let choice = if live.is_empty() { 0 } else { rng.below(100) };
    let (what, result): (String, mmsb_core::Result<()>) = match choice {
        0..=11 => {
            let size = page_size(rng);
            let metadata: &[(&str, &[u8])] = if rng.percent(30) { &[("k", &[0x2a])] } else { &[] };
            (
                format!("create page of {size} bytes"),
                store.create_page(size, Location::Cpu, metadata).map(drop),
            )
        }
        12..=15 => {
            let (count, size) = (rng.between(1, 4), rng.between(1, 128));
            (
                format!("create {count} pages of {size} bytes"),
                store.create_pages(count, size, Location::Cpu).map(drop),
            )
        }
        16..=49 => {
            let page = pick(rng);
            let delta = delta(rng, page);
            (
                format!("apply a delta to page {}", delta.page_id),
                store.apply(&delta).map(drop),
            )
        }
        50..=55 => {
            let deltas: Vec<Delta<Vec<u8>>> = (0..rng.between(2, 3))
                .map(|_| {
                    let page = pick(rng);
                    delta(rng, page)
                })
                .collect();
            (format!("apply a batch of {}", deltas.len()), store.apply_batch(&deltas))
        }
        56..=60 => {
            let (id, _) = pick(rng);
            let value = rng.percent(70).then_some(&[0x07u8][..]);
            (format!("set metadata of page {id}"), store.set_metadata(id, "m", value))
        }
        61..=64 => {
            let (id, _) = pick(rng);
            (format!("release page {id}"), store.release_page(id))
        }
        65..=68 => {
            let (first, second) = (pick(rng).0, pick(rng).0);
            let edge = Edge {
                parent: first.min(second),
                child: first.max(second),
                kind: EdgeKind::Data,
            };
            (
                format!("add edge {} -> {}", edge.parent, edge.child),
                store.add_edge(edge),
            )
        }
        69..=71 => {
            let (id, size) = pick(rng);
            let memory = if size <= 4096 && rng.percent(50) {
                MemoryKind::Arena
            } else {
                MemoryKind::Heap
            };
            let result = store.move_page(id, memory).map(|moved| unchanged = !moved);
            (format!("move page {id} to {memory:?}"), result)
        }
        72..=77 => {
            let full = rng.percent(30);
            let result = store.checkpoint(full).map(|info| {
                history.acknowledged_lsn = history.acknowledged_lsn.max(info.lsn);
            });
            (format!("checkpoint (full: {full})"), result)
        }
        _ => {
            let result = store.sync_job().expect("a durable store").run().map(|lsn| {
                history.acknowledged_lsn = history.acknowledged_lsn.max(lsn);
            });
            unchanged = true;
            ("sync".to_owned(), result)
        }
    };
    let after = (store.last_lsn(), store.state_hash());
    match result {
        Ok(()) => {
            if !unchanged && after.0 != before.0 + 1 {
                return Err(format!("{what}: LSN went from {} to {}", before.0, after.0));
            }
            if unchanged && after != before {
                return Err(format!("{what}: changed the state"));
            }
            if history.acknowledged_lsn > after.0 {
                return Err(format!(
                    "{what}: acknowledged LSN {} past the last LSN {}",
                    history.acknowledged_lsn, after.0
                ));
            }
            history.hashes.insert(after.0, after.1);
            Ok(what)
        }
        Err(error) => {
            let expected = matches!(
                error.code,
                ErrorCode::IoError
                    | ErrorCode::DiskFull
                    | ErrorCode::LogFailed
                    | ErrorCode::DurabilityUnknown
                    | ErrorCode::EdgeExists
                    | ErrorCode::GraphCycle
                    | ErrorCode::MemoryUnsuitable
            );
            if !expected {
                return Err(format!("{what}: unexpected error {error}"));
            }
            if after != before {
                return Err(format!("{what}: failed ({error}) but changed the state"));
            }
            Ok(format!("{what}: {:?}", error.code))
        }
    }
}
