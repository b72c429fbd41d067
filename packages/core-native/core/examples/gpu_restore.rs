//! The GPU benchmark's native side (tools/bench/gpu/run.sh drives it on a
//! GPU machine and puts its JSON beside the Python peers' figures):
//! `gpu_restore <dir> make` writes the seed's 84 MiB case (gpu pages of 4, 16
//! and 64 MiB, random bytes, a full checkpoint, the log before it dropped by
//! retention, as a saved model's directory would be) and the raw bytes to
//! `<dir>/raw.bin` for the peers; `gpu_restore <dir> <warm|cold> <runs>`
//! times opening the directory until every page is current on the device,
//! with the CUDA context made before the timer, and prints one JSON line;
//! with the time of the copy path alone (the checkpoint file mapped and
//! copied to the device by `Device::upload_parallel`, without the store),
//! and of its mapping alone.
//! Cold runs drop the page cache first (root on Linux).

use std::time::Instant;

use mmsb_core::storage::{FileSystem, OsFileSystem};
use mmsb_core::{cuda, Delta, Location, Payload, Source, Store, StoreOptions};

fn open(dir: &str) -> Store {
    let options = StoreOptions {
        checkpoints_retained: 1,
        ..StoreOptions::default()
    };
    Store::open(std::sync::Arc::new(OsFileSystem), dir.as_ref(), options).expect("opening the store")
}

fn make(dir: &str) {
    let mut store = open(dir);
    let mut raw = Vec::new();
    let mut state = 0x2545_f491_4f6c_dd1du64;
    for size in [4usize << 20, 16 << 20, 64 << 20] {
        let id = store.create_page(size as u64, Location::Gpu, &[]).expect("a gpu page");
        let bytes: Vec<u8> = (0..size)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state as u8
            })
            .collect();
        let delta = Delta {
            page_id: id,
            payload: Payload::Dense(bytes.as_slice()),
            source: Source::User,
            expect_epoch: None,
        };
        store.apply(&delta).expect("a dense write");
        raw.extend_from_slice(&bytes);
    }
    // The second checkpoint retires the first and the log segment of the writes.
    store.checkpoint(true).expect("a checkpoint");
    store.checkpoint(true).expect("a checkpoint");
    std::fs::write(format!("{dir}/raw.bin"), raw).expect("raw bytes");
}

/// Writes dirty pages back first: the kernel drops only clean ones.
fn drop_caches() {
    let synced = std::process::Command::new("sync").status().expect("running sync");
    assert!(synced.success(), "sync failed");
    std::fs::write("/proc/sys/vm/drop_caches", "3").expect("dropping the page cache (root only)");
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let dir = &args[1];
    if args[2] == "make" {
        make(dir);
        return;
    }
    let cold = args[2] == "cold";
    let runs: usize = args[3].parse().expect("a run count");
    let context = Instant::now();
    let device = cuda::device(0).expect("CUDA device 0");
    device.load_kernels().expect("the delta kernels");
    let context_ms = context.elapsed().as_secs_f64() * 1e3;
    let mut times = Vec::new();
    let mut bytes = 0;
    for _ in 0..runs {
        if cold {
            drop_caches();
        }
        let started = Instant::now();
        let mut store = open(dir);
        let ids: Vec<u64> = store.pages().map(|(id, _)| id).collect();
        for &id in &ids {
            store
                .page_memory_of(id)
                .expect("a page")
                .prefetch()
                .expect("a prefetch");
        }
        times.push(started.elapsed().as_secs_f64() * 1e3);
        bytes = ids
            .iter()
            .map(|&id| store.page(id).expect("a page").size())
            .sum::<u64>();
    }
    // The copy path alone, for the split: map the checkpoint file and copy
    // all of it to the device as a restore copies its pages, without the store.
    let checkpoint = std::fs::read_dir(format!("{dir}/checkpoints"))
        .expect("the checkpoints")
        .map(|entry| entry.expect("an entry").path())
        .max()
        .expect("a checkpoint");
    let target = device
        .allocate(std::fs::metadata(&checkpoint).expect("its size").len() as usize)
        .expect("device memory");
    let (mut copies, mut maps) = (Vec::new(), Vec::new());
    for _ in 0..runs {
        if cold {
            drop_caches();
        }
        let started = Instant::now();
        let file = OsFileSystem.map_whole(&checkpoint).expect("the mapped checkpoint");
        maps.push(started.elapsed().as_secs_f64() * 1e3);
        device.upload_parallel(target, &file).expect("the copy");
        copies.push(started.elapsed().as_secs_f64() * 1e3);
    }
    device.free(target);
    copies.sort_by(f64::total_cmp);
    maps.sort_by(f64::total_cmp);
    // Read-back: one delta makes the device copy the only current one, then a
    // host read copies it out. In a directory of its own: these deltas would
    // otherwise be a 320 MiB log tail that every later run replays.
    let readback_dir = format!("{dir}-readback");
    let _ = std::fs::remove_dir_all(&readback_dir);
    let mut store = open(&readback_dir);
    let last = store.create_page(64 << 20, Location::Gpu, &[]).expect("a gpu page");
    let size = store.page(last).expect("a page").size() as usize;
    let mut reads = Vec::new();
    for round in 0..5u8 {
        let delta = Delta {
            page_id: last,
            payload: Payload::Dense(vec![round; size]),
            source: Source::User,
            expect_epoch: None,
        };
        store.apply(&delta).expect("a dense write");
        let started = Instant::now();
        let first = store.page(last).expect("a page").data()[0];
        reads.push(started.elapsed().as_secs_f64());
        assert_eq!(first, round);
    }
    times.sort_by(f64::total_cmp);
    reads.sort_by(f64::total_cmp);
    let read_gbps = size as f64 / reads[reads.len() / 2] / 1e9;
    print!(
        "{{\"mode\":\"{}\",\"bytes\":{bytes},\"runs\":{runs},\"context_ms\":{context_ms:.1},\"median_ms\":{:.2},\"min_ms\":{:.2},",
        args[2],
        times[times.len() / 2],
        times[0]
    );
    print!(
        "\"map_and_copy_median_ms\":{:.2},\"map_median_ms\":{:.2},",
        copies[copies.len() / 2],
        maps[maps.len() / 2]
    );
    println!("\"readback_64mib_gbps\":{read_gbps:.1}}}");
}
