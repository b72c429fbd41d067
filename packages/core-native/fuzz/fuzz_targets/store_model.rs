//! Model-based: the input is a sequence of operations (page creation alone
//! and in bulk, dense, sparse and range deltas, batches, metadata, releases,
//! edges, checkpoints full and incremental, a crash and reopen, time travel)
//! run against a store on disk and against a plain map. After each operation
//! the touched page must agree with the model; after a reopen, the whole
//! state must (replay = live); a past state rebuilt by time travel must hash
//! as the live state did at that LSN.
#![no_main]

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use mmsb_core::graph::{Edge, EdgeKind};
use mmsb_core::{Delta, ErrorCode, Location, PageId, Payload, RangeWrite, Source, StateHash, Store, StoreOptions};
use mmsb_fuzz::{Delegating, SmallFiles};

#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct ModelPage {
    bytes: Vec<u8>,
    epoch: u64,
    metadata: BTreeMap<String, Vec<u8>>,
}

#[derive(Default)]
struct Model {
    pages: BTreeMap<PageId, ModelPage>,
    edges: BTreeSet<(PageId, PageId)>,
    next_id: PageId,
}

/// Reads operation arguments from the input; zeros once it runs out.
struct Input<'a>(&'a [u8]);

impl Input<'_> {
    fn byte(&mut self) -> u8 {
        let (&first, rest) = self.0.split_first().unwrap_or((&0, &[]));
        self.0 = rest;
        first
    }

    fn below(&mut self, bound: usize) -> usize {
        if bound == 0 {
            0
        } else {
            usize::from(u16::from_le_bytes([self.byte(), self.byte()])) % bound
        }
    }
}

fn directory() -> PathBuf {
    let base = if std::path::Path::new("/dev/shm").is_dir() {
        "/dev/shm".into()
    } else {
        std::env::temp_dir()
    };
    base.join(format!("mmsb-fuzz-store-model-{}", std::process::id()))
}

fn open(dir: &std::path::Path) -> Store {
    let options = StoreOptions {
        segment_bytes_max: 2048,
        compress_bytes_min: Some(64),
        ..StoreOptions::default()
    };
    Store::open(Arc::new(Delegating::new(SmallFiles)), dir, options).expect("the store opens")
}

/// A payload for a page of `size` bytes and what it writes: (offset, byte) pairs.
fn payload(input: &mut Input, size: usize) -> (Payload<Vec<u8>>, Vec<(usize, u8)>) {
    let seed = input.byte();
    match input.byte() % 3 {
        0 => {
            let bytes: Vec<u8> = (0..size).map(|index| seed.wrapping_add(index as u8)).collect();
            let writes = bytes.iter().copied().enumerate().collect();
            (Payload::Dense(bytes), writes)
        }
        1 => {
            let mut mask: Vec<u8> = (0..size.div_ceil(8)).map(|_| input.byte()).collect();
            if size % 8 != 0 {
                *mask.last_mut().expect("a byte") &= (1u8 << (size % 8)) - 1;
            }
            let offsets: Vec<usize> = (0..size)
                .filter(|index| mask[index / 8] & (1 << (index % 8)) != 0)
                .collect();
            let packed: Vec<u8> = offsets.iter().map(|&offset| seed ^ offset as u8).collect();
            let writes = offsets.into_iter().zip(packed.iter().copied()).collect();
            (Payload::Sparse { mask, packed }, writes)
        }
        _ => {
            let start = input.below(size + 1);
            let len = input.below(size - start + 1);
            let bytes = vec![seed; len];
            let writes = (start..start + len).map(|offset| (offset, seed)).collect();
            (
                Payload::Ranges(vec![RangeWrite {
                    offset: start as u64,
                    bytes,
                }]),
                writes,
            )
        }
    }
}

fn check_page(store: &Store, model: &Model, id: PageId) {
    match (store.state().page(id), model.pages.get(&id)) {
        (Ok(page), Some(expected)) => {
            assert_eq!(page.data(), &expected.bytes[..], "page {id} bytes");
            assert_eq!(page.epoch(), expected.epoch, "page {id} epoch");
            let metadata: BTreeMap<String, Vec<u8>> = page
                .metadata()
                .iter()
                .map(|(key, value)| (key.to_string(), value.to_vec()))
                .collect();
            assert_eq!(metadata, expected.metadata, "page {id} metadata");
        }
        (Err(_), None) => {}
        (found, expected) => panic!("page {id}: store has {}, model {}", found.is_ok(), expected.is_some()),
    }
}

fn check_all(store: &Store, model: &Model) {
    let ids: Vec<PageId> = store.state().pages().map(|(id, _)| id).collect();
    assert_eq!(ids, model.pages.keys().copied().collect::<Vec<_>>(), "live pages");
    for &id in model.pages.keys() {
        check_page(store, model, id);
    }
    assert_eq!(store.state().next_page_id(), model.next_id);
}

fuzz_target!(|bytes: &[u8]| {
    let dir = directory();
    let _ = std::fs::remove_dir_all(&dir);
    let mut store = open(&dir);
    let mut model = Model {
        next_id: 1,
        ..Model::default()
    };
    let mut hashes: BTreeMap<u64, StateHash> = BTreeMap::from([(0, store.state_hash())]);
    let mut input = Input(bytes);
    for _ in 0..64 {
        if input.0.is_empty() {
            break;
        }
        let ids: Vec<PageId> = model.pages.keys().copied().collect();
        let pick = |input: &mut Input| ids[input.below(ids.len())];
        let operation = if ids.is_empty() { 0 } else { input.byte() % 11 };
        let mut touched = None;
        match operation {
            0 => {
                let size = 1 + input.below(300);
                let id = store.create_page(size as u64, Location::Cpu, &[]).expect("created");
                assert_eq!(id, model.next_id);
                model.pages.insert(
                    id,
                    ModelPage {
                        bytes: vec![0; size],
                        ..ModelPage::default()
                    },
                );
                model.next_id += 1;
                touched = Some(id);
            }
            1 => {
                let (count, size) = (1 + input.below(4), 1 + input.below(64));
                let first = store
                    .create_pages(count as u64, size as u64, Location::Cpu)
                    .expect("created");
                assert_eq!(first, model.next_id);
                for id in first..first + count as u64 {
                    model.pages.insert(
                        id,
                        ModelPage {
                            bytes: vec![0; size],
                            ..ModelPage::default()
                        },
                    );
                }
                model.next_id += count as u64;
            }
            2 | 3 => {
                let count = if operation == 2 { 1 } else { 2 + input.below(2) };
                let mut deltas = Vec::new();
                let mut next = model.pages.clone();
                for _ in 0..count {
                    let id = pick(&mut input);
                    let page = next.get_mut(&id).expect("live");
                    let (payload, writes) = payload(&mut input, page.bytes.len());
                    for (offset, byte) in writes {
                        page.bytes[offset] = byte;
                    }
                    page.epoch += 1;
                    deltas.push(Delta {
                        page_id: id,
                        payload,
                        source: Source::User,
                        expect_epoch: None,
                    });
                    touched = Some(id);
                }
                store.apply_batch(&deltas).expect("applied");
                model.pages = next;
            }
            4 => {
                let id = pick(&mut input);
                let key = ["a", "bb", "ccc"][input.below(3)];
                let value = [input.byte() & 0x7f];
                let value = (input.byte() % 3 != 0).then_some(&value[..]);
                store.set_metadata(id, key, value).expect("set");
                let metadata = &mut model.pages.get_mut(&id).expect("live").metadata;
                match value {
                    Some(value) => metadata.insert(key.to_owned(), value.to_vec()),
                    None => metadata.remove(key),
                };
                touched = Some(id);
            }
            5 => {
                let id = pick(&mut input);
                store.release_page(id).expect("released");
                model.pages.remove(&id);
                model.edges.retain(|&(parent, child)| parent != id && child != id);
                touched = Some(id);
            }
            6 => {
                let (first, second) = (pick(&mut input), pick(&mut input));
                let (parent, child) = (first.min(second), first.max(second));
                let result = store.add_edge(Edge {
                    parent,
                    child,
                    kind: EdgeKind::Data,
                });
                match result {
                    Ok(()) => assert!(model.edges.insert((parent, child)), "a second edge {parent} -> {child}"),
                    Err(error) if parent == child => assert_eq!(error.code, ErrorCode::GraphCycle),
                    Err(error) => {
                        assert_eq!(error.code, ErrorCode::EdgeExists);
                        assert!(model.edges.contains(&(parent, child)));
                    }
                }
            }
            7 => {
                store.checkpoint(input.byte() % 2 == 0).expect("checkpoint");
            }
            8 => {
                let lsns: Vec<u64> = hashes.range(store.oldest_lsn()..).map(|(lsn, _)| *lsn).collect();
                let lsn = lsns[input.below(lsns.len())];
                let past = store.state_at(lsn).expect("time travel");
                assert_eq!(past.state_hash(), hashes[&lsn], "state at LSN {lsn}");
            }
            _ => {
                let hash = store.state_hash();
                drop(store);
                store = open(&dir);
                assert_eq!(store.state_hash(), hash, "replay = live");
                check_all(&store, &model);
            }
        }
        if let Some(id) = touched {
            check_page(&store, &model, id);
        }
        hashes.insert(store.last_lsn(), store.state_hash());
    }
    let hash = store.state_hash();
    drop(store);
    let store = open(&dir);
    assert_eq!(store.state_hash(), hash, "replay = live");
    check_all(&store, &model);
    drop(store);
    let _ = std::fs::remove_dir_all(&dir);
});
