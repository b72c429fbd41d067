//! The page-memory backends are invisible to the state: the same operations
//! on pages in heap, arena or mapped memory (and moved between them) give the
//! same bytes, epochs and state hash, live, after checkpoints and after
//! reopening; and a zero-copy view never aliases another page's memory, even
//! after its page is released or moved and its memory reused. Where CUDA is
//! available the device and managed backends join the first property (the
//! GPU run in docs/gpu-validation.md); device pages have no views.

mod support;

use mmsb_core::page_memory::ARENA_PAGE_MAX;
use mmsb_core::{Delta, ErrorCode, Location, MemoryKind, Payload, RangeWrite, Source, Store, StoreOptions};
use proptest::prelude::*;
use support::{dense, Scratch};

#[derive(Clone, Debug)]
enum Operation {
    Create(u64),
    CreateMany(u64, u64),
    Dense {
        page: usize,
        seed: u8,
    },
    Sparse {
        page: usize,
        seed: u8,
    },
    Ranges {
        page: usize,
        offset: u32,
        len: u8,
        seed: u8,
    },
    Batch {
        pages: Vec<usize>,
        seed: u8,
    },
    Release(usize),
    /// Moves a page to the backend `shift` places after the run's own.
    Move {
        page: usize,
        shift: u8,
    },
    Checkpoint {
        full: bool,
    },
    Reopen,
}

/// The backends a run may use: all of them where CUDA is available.
fn kinds() -> &'static [MemoryKind] {
    if mmsb_core::cuda::available() {
        &MemoryKind::ALL
    } else {
        &MemoryKind::HOST
    }
}

fn operation() -> impl Strategy<Value = Operation> {
    prop_oneof![
        3 => (1u64..600).prop_map(Operation::Create),
        1 => (1u64..5, 1u64..300).prop_map(|(count, size)| Operation::CreateMany(count, size)),
        2 => (any::<usize>(), any::<u8>()).prop_map(|(page, seed)| Operation::Dense { page, seed }),
        2 => (any::<usize>(), any::<u8>()).prop_map(|(page, seed)| Operation::Sparse { page, seed }),
        2 => (any::<usize>(), any::<u32>(), 1u8..40, any::<u8>())
            .prop_map(|(page, offset, len, seed)| Operation::Ranges { page, offset, len, seed }),
        1 => (prop::collection::vec(any::<usize>(), 1..4), any::<u8>())
            .prop_map(|(pages, seed)| Operation::Batch { pages, seed }),
        2 => any::<usize>().prop_map(Operation::Release),
        2 => (any::<usize>(), 1u8..3).prop_map(|(page, shift)| Operation::Move { page, shift }),
        1 => any::<bool>().prop_map(|full| Operation::Checkpoint { full }),
        1 => Just(Operation::Reopen),
    ]
}

fn options() -> StoreOptions {
    StoreOptions {
        segment_bytes_max: 8 << 10,
        ..Default::default()
    }
}

fn bytes(size: u64, seed: u8) -> Vec<u8> {
    (0..size).map(|index| (index as u8).wrapping_mul(31) ^ seed).collect()
}

fn sparse(id: u64, size: u64, seed: u8) -> Delta<Vec<u8>> {
    let mut mask = vec![0u8; size.div_ceil(8) as usize];
    let mut packed = Vec::new();
    for index in (0..size).filter(|index| (index + u64::from(seed)) % 3 == 0) {
        mask[(index / 8) as usize] |= 1 << (index % 8);
        packed.push(seed ^ index as u8);
    }
    Delta {
        page_id: id,
        payload: Payload::Sparse { mask, packed },
        source: Source::User,
        expect_epoch: None,
    }
}

/// One run of the operations with every page created in `home` and moves
/// going `shift` backends further.
struct Run {
    home: usize,
    scratch: Scratch,
    store: Option<Store>,
    live: Vec<u64>,
}

impl Run {
    fn new(home: usize) -> Run {
        let scratch = Scratch::new("page-memory");
        let store = support::open_with(scratch.path(), options()).unwrap();
        Run {
            home,
            scratch,
            store: Some(store),
            live: Vec::new(),
        }
    }

    fn store(&mut self) -> &mut Store {
        self.store.as_mut().unwrap()
    }

    fn kind(&self, shift: usize) -> MemoryKind {
        kinds()[(self.home + shift) % kinds().len()]
    }

    fn page(&self, index: usize) -> Option<u64> {
        (!self.live.is_empty()).then(|| self.live[index % self.live.len()])
    }

    fn size(&mut self, id: u64) -> u64 {
        self.store().page(id).unwrap().size()
    }

    fn run(&mut self, operation: &Operation) {
        match operation {
            Operation::Create(size) => {
                let kind = self.kind(0);
                let id = self.store().create_page_in(kind, *size, Location::Cpu, &[]).unwrap();
                self.live.push(id);
            }
            Operation::CreateMany(count, size) => {
                let kind = self.kind(0);
                let first = self
                    .store()
                    .create_pages_in(kind, *count, *size, Location::Cpu)
                    .unwrap();
                self.live.extend(first..first + count);
            }
            Operation::Dense { page, seed } => {
                if let Some(id) = self.page(*page) {
                    let size = self.size(id);
                    self.store().apply(&dense(id, bytes(size, *seed))).unwrap();
                }
            }
            Operation::Sparse { page, seed } => {
                if let Some(id) = self.page(*page) {
                    let size = self.size(id);
                    self.store().apply(&sparse(id, size, *seed)).unwrap();
                }
            }
            Operation::Ranges {
                page,
                offset,
                len,
                seed,
            } => {
                if let Some(id) = self.page(*page) {
                    let size = self.size(id);
                    let offset = u64::from(*offset) % size;
                    let len = u64::from(*len).min(size - offset);
                    let write = RangeWrite {
                        offset,
                        bytes: bytes(len, *seed),
                    };
                    let delta = Delta {
                        payload: Payload::Ranges(vec![write]),
                        ..dense(id, Vec::new())
                    };
                    self.store().apply(&delta).unwrap();
                }
            }
            Operation::Batch { pages, seed } => {
                if self.live.is_empty() {
                    return;
                }
                let deltas: Vec<Delta<Vec<u8>>> = pages
                    .iter()
                    .map(|&page| {
                        let id = self.page(page).unwrap();
                        let size = self.size(id);
                        if page % 2 == 0 {
                            dense(id, bytes(size, *seed))
                        } else {
                            sparse(id, size, *seed)
                        }
                    })
                    .collect();
                self.store().apply_batch(&deltas).unwrap();
            }
            Operation::Release(page) => {
                if let Some(id) = self.page(*page) {
                    self.live.retain(|&live| live != id);
                    self.store().release_page(id).unwrap();
                }
            }
            Operation::Move { page, shift } => {
                if let Some(id) = self.page(*page) {
                    let kind = self.kind(usize::from(*shift));
                    let size = self.size(id);
                    match self.store().move_page(id, kind) {
                        Ok(_) => assert_eq!(self.store().page(id).unwrap().memory(), kind),
                        Err(error) => {
                            assert_eq!(error.code, ErrorCode::MemoryUnsuitable);
                            assert!(kind == MemoryKind::Arena && size > ARENA_PAGE_MAX);
                        }
                    }
                }
            }
            Operation::Checkpoint { full } => {
                self.store().checkpoint(*full).unwrap();
            }
            Operation::Reopen => {
                let before: Vec<(u64, MemoryKind)> = self.memories();
                self.store = None;
                self.store = Some(support::open_with(self.scratch.path(), options()).unwrap());
                assert_eq!(self.memories(), before, "reopening keeps every page's memory");
            }
        }
    }

    fn memories(&mut self) -> Vec<(u64, MemoryKind)> {
        self.store().pages().map(|(id, page)| (id, page.memory())).collect()
    }

    /// Everything but the memories (and LSNs: a move to its own memory logs
    /// nothing): ids, bytes, epochs, and the hash.
    fn observed(&mut self) -> (Vec<(u64, u64, Vec<u8>)>, String) {
        let store = self.store();
        let pages = store
            .pages()
            .map(|(id, page)| (id, page.epoch(), page.data().to_vec()))
            .collect();
        (pages, store.state_hash().to_hex())
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn every_backend_gives_the_same_state(operations in prop::collection::vec(operation(), 1..40)) {
        let mut runs: Vec<Run> = (0..kinds().len()).map(Run::new).collect();
        for operation in &operations {
            for run in &mut runs {
                run.run(operation);
            }
            let reference = runs[0].observed();
            for run in &mut runs[1..] {
                prop_assert_eq!(&run.observed(), &reference, "after {:?}", operation);
            }
        }
        // Moving every page home to the heap changes nothing either.
        for run in &mut runs {
            let moved_ids: Vec<u64> = run.live.clone();
            for id in moved_ids {
                run.store().move_page(id, MemoryKind::Heap).unwrap();
            }
        }
        let reference = runs[0].observed();
        for run in &mut runs[1..] {
            prop_assert_eq!(&run.observed(), &reference);
        }
    }

    #[test]
    fn views_never_alias_after_release_or_move(
        kind in prop::sample::select(MemoryKind::HOST.to_vec()),
        steps in prop::collection::vec((any::<u8>(), 1u64..200), 1..60),
    ) {
        let mut store = Store::memory();
        let mut live: Vec<u64> = Vec::new();
        // Views of pages that were released or moved, with the bytes they showed then.
        let mut kept: Vec<(mmsb_core::page_memory::ViewBytes, Vec<u8>)> = Vec::new();
        for (step, (choice, size)) in steps.into_iter().enumerate() {
            match choice % 4 {
                0 | 1 => {
                    let id = store.create_page_in(kind, size, Location::Cpu, &[]).unwrap();
                    store.apply(&dense(id, vec![step as u8; size as usize])).unwrap();
                    live.push(id);
                }
                2 if !live.is_empty() => {
                    let id = live.remove(usize::from(choice) % live.len());
                    let view = store.export_view(id).unwrap();
                    let seen = view.as_slice().to_vec();
                    store.release_page(id).unwrap();
                    kept.push((view, seen));
                }
                _ if !live.is_empty() => {
                    let id = live[usize::from(choice) % live.len()];
                    let view = store.export_view(id).unwrap();
                    let seen = view.as_slice().to_vec();
                    let target = MemoryKind::HOST[(kind as usize + 1 + usize::from(choice) % 2) % 3];
                    // A move to its own memory leaves the view live, not kept.
                    if store.move_page(id, target).unwrap() {
                        kept.push((view, seen));
                    }
                }
                _ => {}
            }
            // Later writes to live pages never show through a kept view.
            for &id in &live {
                let size = store.page(id).unwrap().size();
                store.apply(&dense(id, vec![0xee; size as usize])).unwrap();
            }
            for (view, seen) in &kept {
                prop_assert_eq!(view.as_slice(), &seen[..]);
                let view_range = view.as_ptr() as usize..view.as_ptr() as usize + view.len();
                for &id in &live {
                    let data = store.page(id).unwrap().data();
                    let start = data.as_ptr() as usize;
                    prop_assert!(start + data.len() <= view_range.start || view_range.end <= start);
                }
            }
        }
    }
}

#[test]
fn arena_refuses_large_pages_and_a_refusal_changes_nothing() {
    let mut store = Store::memory();
    let id = store.create_page(ARENA_PAGE_MAX + 1, Location::Cpu, &[]).unwrap();
    let hash = store.state_hash();
    let lsn = store.last_lsn();
    for result in [
        store.create_page_in(MemoryKind::Arena, ARENA_PAGE_MAX + 1, Location::Cpu, &[]),
        store.create_pages_in(MemoryKind::Arena, 3, ARENA_PAGE_MAX + 1, Location::Cpu),
        store.move_page(id, MemoryKind::Arena).map(|_| 0),
    ] {
        assert_eq!(result.unwrap_err().code, ErrorCode::MemoryUnsuitable);
    }
    assert_eq!((store.state_hash(), store.last_lsn()), (hash, lsn));
    assert!(
        !store.move_page(id, MemoryKind::Heap).unwrap(),
        "a move to its own memory is no change"
    );
    assert_eq!(store.last_lsn(), lsn);
}

#[test]
fn defaults_put_bulk_small_pages_in_the_arena_and_single_pages_on_the_heap() {
    let mut store = Store::memory();
    let single = store.create_page(64, Location::Cpu, &[]).unwrap();
    let bulk = store.create_pages(3, 64, Location::Cpu).unwrap();
    let large = store.create_pages(2, ARENA_PAGE_MAX + 1, Location::Cpu).unwrap();
    assert_eq!(store.page(single).unwrap().memory(), MemoryKind::Heap);
    assert_eq!(store.page(bulk).unwrap().memory(), MemoryKind::Arena);
    assert_eq!(store.page(large).unwrap().memory(), MemoryKind::Heap);
}

#[test]
fn mapped_files_are_private_live_and_removed_at_release_and_close() {
    use std::os::unix::fs::PermissionsExt;
    let scratch = Scratch::new("mapped-files");
    let mut store = support::open_with(scratch.path(), options()).unwrap();
    let id = store
        .create_page_in(MemoryKind::Mapped, 5000, Location::Cpu, &[])
        .unwrap();
    let path = store.page(id).unwrap().mapped_path().unwrap().to_owned();
    assert_eq!(path.parent().unwrap(), scratch.path().join("pages"));
    let mode = |path: &std::path::Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    assert_eq!((mode(&path), mode(path.parent().unwrap())), (0o600, 0o700));
    store.apply(&dense(id, bytes(5000, 3))).unwrap();
    assert_eq!(
        std::fs::read(&path).unwrap(),
        bytes(5000, 3),
        "the file holds the live bytes"
    );
    store.release_page(id).unwrap();
    assert!(!path.exists(), "released: the file is gone");

    let kept = store
        .create_pages_in(MemoryKind::Mapped, 2, 100, Location::Cpu)
        .unwrap();
    store.checkpoint(true).unwrap();
    let kept_path = store.page(kept).unwrap().mapped_path().unwrap().to_owned();
    store.move_page(kept + 1, MemoryKind::Arena).unwrap();
    drop(store);
    assert!(!kept_path.exists(), "closed: the files are gone");
    // A crash leaves files behind; opening removes them and maps the pages anew.
    std::fs::write(scratch.path().join("pages/00000000000000000099.page"), b"left").unwrap();
    let store = support::open_with(scratch.path(), options()).unwrap();
    let names: Vec<String> = std::fs::read_dir(scratch.path().join("pages"))
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(names, vec![kept_path.file_name().unwrap().to_str().unwrap().to_owned()]);
    assert_eq!(store.page(kept + 1).unwrap().memory(), MemoryKind::Arena);
}

#[test]
fn an_in_memory_state_maps_pages_in_a_private_directory_removed_with_it() {
    let mut store = Store::memory();
    let id = store
        .create_page_in(MemoryKind::Mapped, 10, Location::Cpu, &[])
        .unwrap();
    let dir = store
        .page(id)
        .unwrap()
        .mapped_path()
        .unwrap()
        .parent()
        .unwrap()
        .to_owned();
    assert!(dir.starts_with(std::env::temp_dir()));
    let view = store.export_view(id).unwrap();
    drop(store);
    assert!(!dir.exists());
    assert_eq!(view.as_slice(), &[0u8; 10][..], "a view outlives the file");
}

#[test]
fn new_checkpoints_are_version_2_and_keep_the_memory() {
    let scratch = Scratch::new("checkpoint-v2");
    let mut store = support::open_with(scratch.path(), options()).unwrap();
    store
        .create_page_in(MemoryKind::Mapped, 10, Location::Cpu, &[])
        .unwrap();
    let info = store.checkpoint(true).unwrap();
    assert_eq!(&std::fs::read(&info.path).unwrap()[..8], b"MMSBCKP2");
    let loaded = mmsb_core::checkpoint::load_checkpoint(
        &mmsb_core::storage::OsFileSystem,
        info.path.parent().unwrap(),
        info.lsn,
    )
    .unwrap();
    assert_eq!(loaded.page(1).unwrap().memory(), MemoryKind::Mapped);
}

#[test]
fn memory_follows_the_live_pages_through_create_release_cycles() {
    let mut store = Store::memory();
    let kept = store.create_page(64, Location::Cpu, &[]).unwrap();
    let view_kept = store.create_pages(1, 64, Location::Cpu).unwrap();
    drop(store.export_view(view_kept).unwrap());
    for cycle in 0..50_000u64 {
        let id = store.create_page(64, Location::Cpu, &[]).unwrap();
        store.apply(&dense(id, vec![cycle as u8; 64])).unwrap();
        store.release_page(id).unwrap();
        let bulk = store.create_pages(2, 48, Location::Cpu).unwrap();
        store.release_page(bulk).unwrap();
        store.release_page(bulk + 1).unwrap();
    }
    assert!(store.page_table_blocks() <= 2, "{} blocks", store.page_table_blocks());
    assert!(
        store.page_memory().arena_chunks() <= 2,
        "{} chunks",
        store.page_memory().arena_chunks()
    );
    assert_eq!(store.live_page_count(), 2);
    assert_eq!(store.page(kept).unwrap().epoch(), 0);
}
