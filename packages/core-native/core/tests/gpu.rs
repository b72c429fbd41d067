//! CUDA pages (page_memory/device.rs, cuda/).
//!
//! Without CUDA (CI, or `MMSB_CUDA_DISABLE=1`): every device entry gives
//! `CUDA_UNAVAILABLE`, or heap memory where the process opted in.
//!
//! With CUDA (the GPU run recorded in docs/gpu-validation.md) the rest run:
//! the device kernels give exactly the bytes, epochs and state hash of the
//! CPU apply for thousands of random deltas of every form, with reads,
//! evictions and prefetches between them; the 84 MiB case (pages of 4, 16
//! and 64 MiB, full and sparse writes, a checkpoint, release, reopen) comes
//! back byte- and hash-identical, as does a restore larger than the restore
//! threads' pinned slots; and pages live on, and move between, two devices
//! where there are two. Without CUDA these return at once.

mod support;

use mmsb_core::checkpoint::{checkpoint_name, load_checkpoint};
use mmsb_core::delta::apply_payload;
use mmsb_core::page_memory::{cuda_fallbacks, set_cuda_fallback, Residency};
use mmsb_core::storage::OsFileSystem;
use mmsb_core::{cuda, Delta, ErrorCode, Location, MemoryKind, Payload, RangeWrite, Source, Store, StoreOptions};
use support::{Rng, Scratch};

/// A random payload of `form` (0 dense, 1 sparse, 2 ranges) for a page of `size` bytes.
fn payload(rng: &mut Rng, form: u64, size: usize) -> Payload<Vec<u8>> {
    match form {
        0 => Payload::Dense(rng.bytes(size)),
        1 => {
            let mut mask = vec![0u8; size.div_ceil(8)];
            let per_mille = [1, 100, 500, 1000][rng.below(4) as usize];
            let mut packed = Vec::new();
            for byte in 0..size {
                if rng.below(1000) < per_mille {
                    mask[byte / 8] |= 1 << (byte % 8);
                    packed.push(rng.next() as u8);
                }
            }
            Payload::Sparse { mask, packed }
        }
        _ => {
            let mut writes = Vec::new();
            let mut at = rng.below(size as u64 / 4 + 1);
            while at < size as u64 && writes.len() < 64 {
                let len = 1 + rng.below((size as u64 - at).min(100_000));
                writes.push(RangeWrite {
                    offset: at,
                    bytes: rng.bytes(len as usize),
                });
                at += len + rng.below(5000);
            }
            Payload::Ranges(writes)
        }
    }
}

fn delta(page_id: u64, payload: Payload<Vec<u8>>) -> Delta<Vec<u8>> {
    Delta {
        page_id,
        payload,
        source: Source::User,
        expect_epoch: None,
    }
}

fn bytes_of(store: &Store, id: u64) -> Vec<u8> {
    store.page(id).unwrap().data().to_vec()
}

#[test]
fn without_cuda_device_pages_are_refused_or_fall_back_to_the_heap() {
    if cuda::available() {
        return;
    }
    let mut store = Store::memory();
    for location in [Location::Gpu, Location::Unified] {
        let error = store.create_page(64, location, &[]).unwrap_err();
        assert_eq!(error.code, ErrorCode::CudaUnavailable, "{error}");
        assert_eq!(
            store.create_pages(3, 64, location).unwrap_err().code,
            ErrorCode::CudaUnavailable
        );
    }
    for memory in [MemoryKind::Device, MemoryKind::Managed] {
        let error = store.create_page_in(memory, 64, Location::Cpu, &[]).unwrap_err();
        assert_eq!(error.code, ErrorCode::CudaUnavailable);
    }
    let cpu = store.create_page(64, Location::Cpu, &[]).unwrap();
    assert_eq!(
        store.move_page(cpu, MemoryKind::Device).unwrap_err().code,
        ErrorCode::CudaUnavailable
    );
    assert_eq!(store.set_device(0).unwrap_err().code, ErrorCode::CudaUnavailable);
    assert_eq!(cuda::device_count().unwrap_err().code, ErrorCode::CudaUnavailable);
    let memory = store.page_memory_of(cpu).unwrap();
    assert_eq!(memory.prefetch().unwrap_err().code, ErrorCode::MemoryUnsuitable);
    assert_eq!(memory.evict().unwrap_err().code, ErrorCode::MemoryUnsuitable);
    assert_eq!(memory.ipc_handle().unwrap_err().code, ErrorCode::MemoryUnsuitable);

    // Opted in: the page is made, in heap memory, and counted; its location stays.
    let before = cuda_fallbacks();
    set_cuda_fallback(true);
    let gpu = store.create_page(64, Location::Gpu, &[]);
    set_cuda_fallback(false);
    let gpu = gpu.unwrap();
    assert_eq!(cuda_fallbacks(), before + 1);
    let page = store.page(gpu).unwrap();
    assert_eq!((page.location(), page.memory()), (Location::Gpu, MemoryKind::Heap));
    assert_eq!(store.page_memory_of(gpu).unwrap().residency(), None);

    // A directory whose log made a device page opens only with the fallback,
    // and without it says why: CUDA, not a corrupt log.
    let scratch = Scratch::new("gpu-fallback");
    set_cuda_fallback(true);
    let made = support::open(scratch.path()).and_then(|mut store| store.create_page(64, Location::Gpu, &[]));
    set_cuda_fallback(false);
    made.unwrap();
    let error = support::open(scratch.path()).err().expect("no CUDA, no fallback");
    assert_eq!(error.code, ErrorCode::CudaUnavailable, "{error}");
    set_cuda_fallback(true);
    let reopened = support::open(scratch.path());
    set_cuda_fallback(false);
    assert_eq!(reopened.unwrap().page(1).unwrap().memory(), MemoryKind::Heap);
}

#[test]
fn device_apply_equals_cpu_apply_for_random_deltas() {
    if !cuda::available() {
        return;
    }
    let sizes = [1usize, 7, 33, 100, 4096, 65_537, (1 << 20) + 3];
    let kinds = [MemoryKind::Heap, MemoryKind::Device, MemoryKind::Managed];
    let mut stores: Vec<Store> = kinds.iter().map(|_| Store::memory()).collect();
    for (store, &kind) in stores.iter_mut().zip(&kinds) {
        for &size in &sizes {
            store.create_page_in(kind, size as u64, Location::Cpu, &[]).unwrap();
        }
    }
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut reference: Vec<Vec<u8>> = sizes.iter().map(|&size| vec![0; size]).collect();
    let deltas = 3000;
    for step in 0..deltas {
        let index = rng.below(sizes.len() as u64) as usize;
        let id = index as u64 + 1;
        let payload = payload(&mut rng, step % 3, sizes[index]);
        apply_payload(&mut reference[index], &payload.as_borrowed());
        let delta = delta(id, payload);
        for store in &mut stores {
            store.apply(&delta).unwrap();
        }
        // Residency changes between deltas: host reads, evictions, prefetches.
        match rng.below(8) {
            0 => assert_eq!(bytes_of(&stores[1], id), reference[index], "step {step}"),
            1 => stores[1].page_memory_of(id).unwrap().evict().unwrap(),
            2 => stores[1].page_memory_of(id).unwrap().prefetch().unwrap(),
            3 => stores[2].page_memory_of(id).unwrap().evict().unwrap(),
            _ => {}
        }
        if step % 250 == 249 {
            let hash = stores[0].state_hash();
            for store in &stores[1..] {
                assert_eq!(store.state_hash(), hash, "step {step}");
            }
        }
    }
    for (index, expected) in reference.iter().enumerate() {
        let id = index as u64 + 1;
        for store in &stores {
            assert_eq!(
                &bytes_of(store, id),
                expected,
                "page {id} in {:?}",
                store.page(id).unwrap().memory()
            );
            assert_eq!(store.page(id).unwrap().epoch(), stores[0].page(id).unwrap().epoch());
        }
    }
    assert_eq!(stores[1].state_hash(), stores[0].state_hash());
    assert_eq!(stores[2].state_hash(), stores[0].state_hash());
}

/// The seed's 84 MiB case on `gpu` pages, beside a twin whose `gpu` pages
/// are in heap memory: same log, so the same bytes and hash throughout.
#[test]
fn the_84_mib_case_survives_checkpoint_release_and_reopen_on_the_device() {
    if !cuda::available() {
        return;
    }
    let scratch = Scratch::new("gpu-84");
    let twin_scratch = Scratch::new("gpu-84-twin");
    let open = |scratch: &Scratch| support::open_with(scratch.path(), StoreOptions::default()).unwrap();
    let (mut store, mut twin) = (open(&scratch), open(&twin_scratch));
    let sizes = [4usize << 20, 16 << 20, 64 << 20];
    let mut rng = Rng(84);
    let mut ids = Vec::new();
    for &size in &sizes {
        let id = store.create_page(size as u64, Location::Gpu, &[]).unwrap();
        assert_eq!(store.page(id).unwrap().memory(), MemoryKind::Device);
        assert_eq!(
            twin.create_page_in(MemoryKind::Heap, size as u64, Location::Gpu, &[])
                .unwrap(),
            id
        );
        ids.push(id);
    }
    for (&id, &size) in ids.iter().zip(&sizes) {
        for form in [0, 1, 2, 1] {
            let delta = delta(id, payload(&mut rng, form, size));
            store.apply(&delta).unwrap();
            twin.apply(&delta).unwrap();
        }
        assert_eq!(store.page_memory_of(id).unwrap().residency(), Some(Residency::Device));
    }
    let written = store.checkpoint(true).unwrap();
    assert_eq!(written.state_hash, twin.checkpoint(true).unwrap().state_hash);
    let expected: Vec<Vec<u8>> = ids.iter().map(|&id| bytes_of(&twin, id)).collect();
    for (&id, bytes) in ids.iter().zip(&expected) {
        assert_eq!(&bytes_of(&store, id), bytes);
    }
    let hash = store.state_hash();
    assert_eq!(hash, twin.state_hash());
    drop(store);
    let mut store = open(&scratch);
    assert_eq!(store.state_hash(), hash);
    for (&id, bytes) in ids.iter().zip(&expected) {
        assert_eq!(store.page(id).unwrap().memory(), MemoryKind::Device);
        store.page_memory_of(id).unwrap().prefetch().unwrap();
        assert_eq!(&bytes_of(&store, id), bytes, "page {id} after reopen");
    }
    // Deltas after the reload run on the device again, and release frees pages.
    let delta = delta(ids[2], payload(&mut rng, 1, sizes[2]));
    store.apply(&delta).unwrap();
    twin.apply(&delta).unwrap();
    store.release_page(ids[0]).unwrap();
    twin.release_page(ids[0]).unwrap();
    assert_eq!(bytes_of(&store, ids[2]), bytes_of(&twin, ids[2]));
    assert_eq!(store.state_hash(), twin.state_hash());
}

/// A restore larger than all the restore threads' pinned slots (16 threads,
/// two 8 MiB slots each) reuses every slot, waiting for its last copy to the
/// device first; pages of odd sizes, some far smaller than a thread's
/// share, some spanning several shares, all come back byte for byte.
#[test]
fn a_restore_larger_than_the_pinned_slots_keeps_every_byte() {
    if !cuda::available() {
        return;
    }
    let scratch = Scratch::new("gpu-large-restore");
    let mut store = support::open(scratch.path()).unwrap();
    let sizes = [
        3usize,
        (1 << 20) + 1,
        (100 << 20) + 7,
        5000,
        (190 << 20) + 13,
        (70 << 20) - 1,
    ];
    let mut rng = Rng(361);
    let mut pages = Vec::new();
    for &size in &sizes {
        let id = store.create_page(size as u64, Location::Gpu, &[]).unwrap();
        let bytes = rng.bytes(size);
        store.apply(&delta(id, Payload::Dense(bytes.clone()))).unwrap();
        pages.push((id, bytes));
    }
    store.checkpoint(true).unwrap();
    let hash = store.state_hash();
    drop(store);
    let mut store = support::open(scratch.path()).unwrap();
    assert_eq!(store.state_hash(), hash);
    for (id, bytes) in &pages {
        assert_eq!(store.page(*id).unwrap().memory(), MemoryKind::Device);
        store.page_memory_of(*id).unwrap().prefetch().unwrap();
        assert!(
            bytes_of(&store, *id) == *bytes,
            "page {id} ({} bytes) after reopen",
            bytes.len()
        );
    }
}

/// The restore threads checksum what they read: one flipped bit in a device
/// page's bytes in a checkpoint (in its last, partial chunk) refuses the
/// load with `CHECKPOINT_CORRUPT` naming the file, as for host pages.
#[test]
fn a_damaged_checkpoint_of_device_pages_is_refused() {
    if !cuda::available() {
        return;
    }
    let scratch = Scratch::new("gpu-damaged-checkpoint");
    let mut store = support::open(scratch.path()).unwrap();
    let size = (9usize << 20) + 3;
    let id = store.create_page(size as u64, Location::Gpu, &[]).unwrap();
    store.apply(&delta(id, payload(&mut Rng(9), 0, size))).unwrap();
    let lsn = store.checkpoint(true).unwrap().lsn;
    drop(store);
    let dir = scratch.path().join("checkpoints");
    let path = dir.join(checkpoint_name(lsn));
    let intact = load_checkpoint(&OsFileSystem, &dir, lsn).unwrap();
    assert_eq!(intact.page(id).unwrap().memory(), MemoryKind::Device);
    drop(intact);
    let mut bytes = std::fs::read(&path).unwrap();
    let last = bytes.len() - 2;
    bytes[last] ^= 0x10;
    std::fs::write(&path, bytes).unwrap();
    let error = load_checkpoint(&OsFileSystem, &dir, lsn).err().unwrap();
    assert_eq!(error.code, ErrorCode::CheckpointCorrupt);
    assert!(error.message.contains(&checkpoint_name(lsn)), "{}", error.message);
}

#[test]
fn an_ipc_handle_keeps_the_page_current_through_deltas_evictions_and_moves() {
    if !cuda::available() {
        return;
    }
    let mut store = Store::memory();
    let mut twin = Store::memory();
    let mut rng = Rng(11);
    let size = 3 << 20;
    let id = store.create_page(size as u64, Location::Gpu, &[]).unwrap();
    twin.create_page_in(MemoryKind::Heap, size as u64, Location::Gpu, &[])
        .unwrap();
    let managed = store
        .create_page_in(MemoryKind::Managed, 64, Location::Unified, &[])
        .unwrap();
    twin.create_page_in(MemoryKind::Heap, 64, Location::Unified, &[])
        .unwrap();
    let error = store.page_memory_of(managed).unwrap().ipc_handle().unwrap_err();
    assert_eq!(error.code, ErrorCode::MemoryUnsuitable, "{error}");
    let mut handles = Vec::new();
    for step in 0..12u64 {
        let delta = delta(id, payload(&mut rng, step % 3, size));
        store.apply(&delta).unwrap();
        twin.apply(&delta).unwrap();
        let memory = store.page_memory_of(id).unwrap();
        handles.push((memory.ipc_handle().unwrap(), memory.device_ptr().unwrap()));
        match step % 4 {
            1 => memory.evict().unwrap(),
            2 => memory.prefetch().unwrap(),
            _ => {}
        }
        assert_eq!(bytes_of(&store, id), bytes_of(&twin, id), "step {step}");
        assert_eq!(store.state_hash(), twin.state_hash());
    }
    assert!(handles.iter().all(|(handle, _)| handle.iter().any(|&byte| byte != 0)));
    assert_eq!(handles[2].1, handles[3].1, "deltas keep a shareable copy where it is");
    store.move_page(id, MemoryKind::Heap).unwrap();
    assert_eq!(bytes_of(&store, id), bytes_of(&twin, id));
    store.release_page(id).unwrap();
}

#[test]
fn moves_between_host_and_device_memory_keep_bytes_and_hash() {
    if !cuda::available() {
        return;
    }
    let mut store = Store::memory();
    let mut twin = Store::memory();
    let mut rng = Rng(7);
    let size = 100_003;
    let id = store.create_page(size as u64, Location::Cpu, &[]).unwrap();
    twin.create_page(size as u64, Location::Cpu, &[]).unwrap();
    let cycle = [
        MemoryKind::Device,
        MemoryKind::Managed,
        MemoryKind::Heap,
        MemoryKind::Device,
        MemoryKind::Arena,
    ];
    for (step, &memory) in cycle.iter().cycle().take(40).enumerate() {
        let delta = delta(id, payload(&mut rng, step as u64 % 3, size));
        store.apply(&delta).unwrap();
        twin.apply(&delta).unwrap();
        if memory != MemoryKind::Arena {
            store.move_page(id, memory).unwrap();
        }
        assert_eq!(bytes_of(&store, id), bytes_of(&twin, id), "step {step}");
        assert_eq!(store.state_hash(), twin.state_hash());
    }
    store.move_page(id, MemoryKind::Device).unwrap();
    assert_eq!(
        store.export_view(id).err().map(|error| error.code),
        Some(ErrorCode::MemoryUnsuitable)
    );
    store.move_page(id, MemoryKind::Managed).unwrap();
    let view = store.export_view(id).unwrap();
    let delta = delta(id, payload(&mut rng, 0, size));
    store.apply(&delta).unwrap();
    twin.apply(&delta).unwrap();
    assert_eq!(
        view.as_slice(),
        &bytes_of(&twin, id)[..],
        "a managed page's view is live"
    );
}

#[test]
fn pages_live_on_and_move_between_two_devices() {
    if !cuda::available() || cuda::device_count().unwrap() < 2 {
        return;
    }
    let mut store = Store::memory();
    let mut twin = Store::memory();
    let mut rng = Rng(2);
    let size = 3 << 20;
    let mut ids = Vec::new();
    for ordinal in [0, 1] {
        store.set_device(ordinal).unwrap();
        let id = store.create_page(size as u64, Location::Gpu, &[]).unwrap();
        twin.create_page_in(MemoryKind::Heap, size as u64, Location::Gpu, &[])
            .unwrap();
        assert_eq!(store.page_memory_of(id).unwrap().device_ordinal(), Some(ordinal));
        ids.push(id);
    }
    assert_eq!(store.set_device(2).unwrap_err().code, ErrorCode::DeviceNotFound);
    for step in 0..60 {
        let id = ids[step % 2];
        let delta = delta(id, payload(&mut rng, step as u64 % 3, size));
        store.apply(&delta).unwrap();
        twin.apply(&delta).unwrap();
        if step % 10 == 9 {
            let memory = store.page_memory_of(ids[1]).unwrap();
            let to = 1 - memory.device_ordinal().unwrap();
            memory.move_to_device(to).unwrap();
            assert_eq!(memory.device_ordinal(), Some(to));
        }
    }
    for &id in &ids {
        assert_eq!(bytes_of(&store, id), bytes_of(&twin, id));
    }
    assert_eq!(store.state_hash(), twin.state_hash());
}

/// A delta that needs device memory the device does not have (the copy of an
/// evicted page, its payload's scratch) is refused before its change is
/// logged: the batch it is in changes nothing and logs nothing, and it goes
/// through once memory is free again. Before, the change was logged first, so
/// the caller got an error for a change that reopening then applied, and the
/// batch's earlier deltas stayed written.
#[test]
#[ignore = "fills the device, and needs its scratch below 32 MiB: run it in a process of its own (validate.sh: --ignored)"]
fn a_write_without_device_memory_is_refused_before_it_is_logged() {
    if !cuda::available() {
        return;
    }
    let scratch = Scratch::new("gpu-full");
    let mut store = support::open_with(scratch.path(), StoreOptions::default()).unwrap();
    let mut rng = Rng(11);
    let (small, large) = (1usize << 20, 32usize << 20);
    // The device's scratch holds 1 MiB (a dense write of `warm`); the other
    // pages get their bytes without it, so that no refusal below frees memory
    // that a later case could use.
    let warm = store.create_page(small as u64, Location::Gpu, &[]).unwrap();
    store.apply(&delta(warm, payload(&mut rng, 0, small))).unwrap();
    let evicted = store.create_page(large as u64, Location::Cpu, &[]).unwrap();
    store.apply(&delta(evicted, payload(&mut rng, 0, large))).unwrap();
    store.move_page(evicted, MemoryKind::Device).unwrap();
    store.page_memory_of(evicted).unwrap().evict().unwrap();
    let resident = store.create_page(large as u64, Location::Gpu, &[]).unwrap();
    let pages = [warm, evicted, resident];
    let mut expected: Vec<Vec<u8>> = pages.iter().map(|&id| bytes_of(&store, id)).collect();

    // Fill the device with pages, halving their size down to 1 MiB each time one does not fit.
    let mut fillers = Vec::new();
    let mut filler = 2u64 << 30;
    while filler >= small as u64 {
        match store.create_page(filler, Location::Gpu, &[]) {
            Ok(id) => fillers.push(id),
            Err(error) => {
                assert_eq!(error.code, ErrorCode::DeviceOutOfMemory, "{}", error.message);
                filler /= 2;
            }
        }
    }
    let lsn = store.last_lsn();
    let refused = [
        // `warm` fits, `evicted` needs its device copy back.
        vec![
            delta(warm, payload(&mut rng, 0, small)),
            delta(evicted, payload(&mut rng, 1, large)),
        ],
        vec![delta(evicted, payload(&mut rng, 0, large))],
        // 32 MiB of scratch for a dense write of `resident`, which is on the device.
        vec![delta(resident, payload(&mut rng, 0, large))],
    ];
    for (case, batch) in refused.iter().enumerate() {
        let error = store.apply_batch(batch).unwrap_err();
        assert_eq!(
            error.code,
            ErrorCode::DeviceOutOfMemory,
            "case {case}: {}",
            error.message
        );
        assert_eq!(store.last_lsn(), lsn, "case {case}: nothing logged");
        for (&id, bytes) in pages.iter().zip(&expected) {
            assert_eq!(&bytes_of(&store, id), bytes, "case {case}: page {id}");
        }
    }
    let error = store.apply(&refused[1][0]).unwrap_err();
    assert_eq!(error.code, ErrorCode::DeviceOutOfMemory, "{}", error.message);
    assert_eq!(store.last_lsn(), lsn);

    for id in fillers {
        store.release_page(id).unwrap();
    }
    for batch in &refused {
        store.apply_batch(batch).unwrap();
        for delta in batch {
            let at = pages.iter().position(|&id| id == delta.page_id).unwrap();
            apply_payload(&mut expected[at], &delta.payload.as_borrowed());
        }
    }
    // Reopened from a checkpoint: replaying the log from its start would create
    // every filler again, on a device that now also holds the grown scratch.
    store.checkpoint(true).unwrap();
    let (lsn, hash) = (store.last_lsn(), store.state_hash());
    drop(store);
    let store = support::open_with(scratch.path(), StoreOptions::default()).unwrap();
    assert_eq!(store.last_lsn(), lsn);
    assert_eq!(store.state_hash(), hash);
    for (&id, bytes) in pages.iter().zip(&expected) {
        assert_eq!(&bytes_of(&store, id), bytes, "page {id} after reopen");
    }
}
