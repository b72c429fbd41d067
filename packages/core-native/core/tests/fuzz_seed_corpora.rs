//! Writes the seed corpora of the fuzz targets (packages/core-native/fuzz)
//! from real files: a store's log segments and checkpoints (full and
//! incremental) after a workload of every change kind (a wave among them),
//! batch encodings of every delta form, and msgpack metadata values. Run by hand when a format
//! changes (docs/reliability.md):
//! `cargo test -p mmsb-core --test fuzz_seed_corpora -- --ignored`.

mod support;

use std::path::Path;

use mmsb_core::delta::encoding::{encode_batch_header, encode_delta};
use mmsb_core::graph::{Edge, EdgeKind};
use mmsb_core::propagation::{Recompute, Transform};
use mmsb_core::storage::OsFileSystem;
use mmsb_core::{Delta, Location, Payload, RangeWrite, Source, StoreOptions};
use support::{dense, Scratch};

fn write(corpus: &Path, target: &str, name: &str, bytes: &[u8]) {
    let dir = corpus.join(target);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(name), bytes).unwrap();
}

fn deltas(page: u64) -> Vec<Delta<Vec<u8>>> {
    let delta = |payload| Delta {
        page_id: page,
        payload,
        source: Source::User,
        expect_epoch: None,
    };
    vec![
        delta(Payload::Dense(vec![3; 64])),
        delta(Payload::Sparse {
            mask: vec![0b1010_0101; 8],
            packed: vec![9; 32],
        }),
        delta(Payload::Ranges(vec![
            RangeWrite {
                offset: 1,
                bytes: vec![5; 3],
            },
            RangeWrite {
                offset: 40,
                bytes: vec![6; 20],
            },
        ])),
        Delta {
            expect_epoch: Some(3),
            ..delta(Payload::Sparse {
                mask: vec![0xff; 8],
                packed: vec![1; 64],
            })
        },
    ]
}

fn store_files(corpus: &Path) {
    let scratch = Scratch::new("fuzz-corpus");
    let options = StoreOptions {
        segment_bytes_max: 1024,
        compress_bytes_min: Some(64),
        ..StoreOptions::default()
    };
    let mut store = support::open_with(scratch.path(), options).unwrap();
    let big = store
        .create_page(4096, Location::Cpu, &[("name", &[0xa3, b'a', b'b', b'c'])])
        .unwrap();
    let small = store.create_pages(3, 64, Location::Cpu).unwrap();
    store
        .add_edge(Edge {
            parent: big,
            child: small,
            kind: EdgeKind::Data,
        })
        .unwrap();
    store
        .add_edge(Edge {
            parent: small,
            child: small + 1,
            kind: EdgeKind::Data,
        })
        .unwrap();
    store
        .set_recompute(small + 1, Some(Recompute::Builtin(Transform::Copy)))
        .unwrap();
    store.apply(&dense(big, vec![7; 4096])).unwrap();
    store.checkpoint(true).unwrap();
    store.apply_batch(&deltas(small)).unwrap();
    store.propagate(&[small], usize::MAX).unwrap();
    store.set_metadata(small + 1, "k", Some(&[0x92, 0x01, 0xc0])).unwrap();
    store.set_metadata(small + 1, "k", None).unwrap();
    store.checkpoint(false).unwrap();
    store.release_page(small + 2).unwrap();
    store.move_page(small, mmsb_core::MemoryKind::Heap).unwrap();
    store.remove_edge(big, small).unwrap();
    store.sync_job().unwrap().run().unwrap();
    drop(store);
    let listing = mmsb_core::inspect::list(&OsFileSystem, scratch.path()).unwrap();
    let count = listing.segments.len();
    for (index, segment) in listing.segments.iter().enumerate() {
        let scan = mmsb_core::inspect::scan(&OsFileSystem, &segment.path, segment.number, index + 1 == count).unwrap();
        // The newest segment without its megabytes of preallocated fill.
        let mut bytes = std::fs::read(&segment.path).unwrap();
        bytes.truncate(bytes.len().min(scan.valid_end as usize + 64));
        let mode = if index + 1 == count { 0 } else { 2 };
        write(
            corpus,
            "log_segment",
            &format!("segment-{index}"),
            &[&[mode][..], &bytes].concat(),
        );
    }
    let files: Vec<Vec<u8>> = listing
        .checkpoints
        .iter()
        .map(|file| std::fs::read(&file.path).unwrap())
        .collect();
    for (index, loaded) in files.iter().enumerate() {
        let split = (loaded.len() as u32).to_le_bytes();
        let base = if index > 0 { &files[index - 1][..] } else { &[][..] };
        let input = [&[0][..], &split, loaded, base].concat();
        write(corpus, "checkpoint", &format!("checkpoint-{index}"), &input);
    }
}

fn batches(corpus: &Path) {
    let all = deltas(1);
    for (index, chosen) in [&all[..1], &all[1..2], &all[2..3], &all[..]].into_iter().enumerate() {
        let mut encoded = Vec::new();
        encode_batch_header(chosen.len() as u32, &mut encoded);
        for delta in chosen {
            encode_delta(delta, &mut encoded);
        }
        write(corpus, "batch", &format!("batch-{index}"), &encoded);
    }
}

fn metadata(corpus: &Path) {
    let values: [&[u8]; 8] = [
        &[0x2a],
        &[0xa3, b'a', b'b', b'c'],
        &[0xd9, 0x03, b'x', b'y', b'z'],
        &[0x82, 0xa1, b'a', 0x01, 0xa1, b'b', 0x92, 0xc3, 0xc2],
        &[0xc4, 0x02, 0xff, 0x00],
        &[0xcb, 0x40, 0x09, 0x21, 0xfb, 0x54, 0x44, 0x2d, 0x18],
        &[0xd6, 0xff, 0x00, 0x00, 0x00, 0x01],
        &[0xdc, 0x00, 0x02, 0xc0, 0x7f],
    ];
    for (index, value) in values.iter().enumerate() {
        write(
            corpus,
            "metadata",
            &format!("value-{index}"),
            &[&[3][..], b"key", value].concat(),
        );
    }
}

fn store_model(corpus: &Path) {
    for (index, length) in [16usize, 64, 256].into_iter().enumerate() {
        let bytes: Vec<u8> = (0..length).map(|byte| (byte * 37 + index * 11) as u8).collect();
        write(corpus, "store_model", &format!("ops-{index}"), &bytes);
    }
}

#[test]
#[ignore = "writes the fuzz seed corpora; run by hand when a format changes"]
fn writes_the_fuzz_seed_corpora() {
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus");
    store_files(&corpus);
    batches(&corpus);
    metadata(&corpus);
    store_model(&corpus);
}
