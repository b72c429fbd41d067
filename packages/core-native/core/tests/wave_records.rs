//! Forged wave records (kind 11) whose frame and checksum hold but whose
//! body is hostile: opening refuses each with `LOG_CORRUPT` naming the
//! record, never panics, and applies none of its outputs.

mod support;

use mmsb_core::graph::{Edge, EdgeKind};
use mmsb_core::propagation::{Recompute, Transform};
use mmsb_core::varint;
use mmsb_core::{ErrorCode, Location, StateHash};
use support::{dense, open, Scratch};

const SIZE: u64 = 8;
const WAVE: u8 = 11;

/// Pages 1 → 2 (copy) and page 3 released; one logged wave. Returns the
/// state hash, the last LSN and where the records end in the last segment.
fn logged_wave(scratch: &Scratch) -> (StateHash, u64, usize) {
    let mut store = open(scratch.path()).unwrap();
    let first = store.create_pages(3, SIZE, Location::Cpu).unwrap();
    assert_eq!(first, 1);
    store
        .add_edge(Edge {
            parent: 1,
            child: 2,
            kind: EdgeKind::Data,
        })
        .unwrap();
    store
        .set_recompute(2, Some(Recompute::Builtin(Transform::Copy)))
        .unwrap();
    store.apply(&dense(1, vec![9; SIZE as usize])).unwrap();
    store.propagate(&[1], usize::MAX).unwrap();
    assert_eq!(store.read(2, 0, SIZE).unwrap(), [9; SIZE as usize]);
    store.release_page(3).unwrap();
    store.sync_job().unwrap().run().unwrap();
    let segment = scratch.last_segment();
    let first_lsn: u64 = segment.file_stem().unwrap().to_str().unwrap().parse().unwrap();
    let scanned = mmsb_core::inspect::scan(&mmsb_core::storage::OsFileSystem, &segment, first_lsn, true).unwrap();
    (store.state_hash(), store.last_lsn(), scanned.valid_end as usize)
}

/// A record frame with a valid checksum.
fn frame(lsn: u64, kind: u8, flags: u8, body: &[u8]) -> Vec<u8> {
    let mut bytes = vec![0; 4];
    bytes.extend_from_slice(&(body.len() as u32).to_le_bytes());
    bytes.extend_from_slice(&lsn.to_le_bytes());
    bytes.extend_from_slice(&[kind, flags]);
    bytes.extend_from_slice(body);
    let crc = crc32c::crc32c(&bytes[4..]);
    bytes[..4].copy_from_slice(&crc.to_le_bytes());
    bytes
}

fn zigzag(value: i64) -> u64 {
    ((value << 1) ^ (value >> 63)) as u64
}

/// A wave body of outputs given as (id step, claimed length, bytes).
fn body(count: u32, outputs: &[(i64, u64, &[u8])]) -> Vec<u8> {
    let mut body = count.to_le_bytes().to_vec();
    for &(step, len, bytes) in outputs {
        varint::put(zigzag(step), &mut body);
        varint::put(len, &mut body);
        body.extend_from_slice(bytes);
    }
    body
}

/// Writes `record` after the last record and opens the directory.
fn open_with_record(record: &[u8]) -> (mmsb_core::Result<mmsb_core::Store>, StateHash) {
    let scratch = Scratch::new("wave-forged");
    let (hash, _, end) = logged_wave(&scratch);
    let segment = scratch.last_segment();
    let mut bytes = std::fs::read(&segment).unwrap();
    bytes.truncate(end);
    bytes.extend_from_slice(record);
    std::fs::write(&segment, &bytes).unwrap();
    (open(scratch.path()), hash)
}

fn refused(name: &str, body: &[u8]) {
    let scratch = Scratch::new("wave-lsn");
    let (_, last_lsn, _) = logged_wave(&scratch);
    drop(scratch);
    let (opened, _) = open_with_record(&frame(last_lsn + 1, WAVE, 0, body));
    let error = opened.err().unwrap_or_else(|| panic!("{name}: opened"));
    assert_eq!(error.code, ErrorCode::LogCorrupt, "{name}: {}", error.message);
    assert!(error.message.contains("offset"), "{name}: {}", error.message);
}

#[test]
fn hostile_wave_bodies_are_log_corrupt() {
    let eight = [7u8; SIZE as usize];
    refused("huge count", &body(u32::MAX, &[(1, SIZE, &eight)]));
    refused("count past the outputs", &body(2, &[(1, SIZE, &eight)]));
    refused("page 0", &body(1, &[(0, SIZE, &eight)]));
    refused("page 0 by wrapping", &body(2, &[(2, SIZE, &eight), (-2, SIZE, &eight)]));
    refused("page 2^64 - 1", &body(1, &[(-1, SIZE, &eight)]));
    refused("page never assigned", &body(1, &[(4, SIZE, &eight)]));
    refused("released page", &body(1, &[(3, SIZE, &eight)]));
    refused("short output", &body(1, &[(2, SIZE - 1, &eight[1..])]));
    refused("long output", &body(1, &[(2, SIZE + 1, &[7; 9])]));
    refused("length past the body", &body(1, &[(2, SIZE + 1, &eight)]));
    refused("length 2^64 - 1", &body(1, &[(2, u64::MAX, &eight)]));
    refused("trailing byte", &[body(1, &[(2, SIZE, &eight)]), vec![0]].concat());
    let mut overlong = 1u32.to_le_bytes().to_vec();
    overlong.extend_from_slice(&[0x84, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00]);
    refused("overlong step", &overlong);
    refused("empty", &[]);
    refused("count cut short", &[1, 0]);
    // The first output is valid: the second, bad one, must keep it from applying too.
    refused(
        "valid output before a released one",
        &body(2, &[(2, SIZE, &eight), (1, SIZE, &eight)]),
    );
}

#[test]
fn a_wave_record_that_applies_matches_a_live_wave() {
    let scratch = Scratch::new("wave-lsn");
    let (_, last_lsn, _) = logged_wave(&scratch);
    drop(scratch);
    let (opened, _) = open_with_record(&frame(last_lsn + 1, WAVE, 0, &body(1, &[(2, SIZE, &[5; 8])])));
    let store = opened.unwrap();
    assert_eq!(store.read(2, 0, SIZE).unwrap(), [5; SIZE as usize]);
}
