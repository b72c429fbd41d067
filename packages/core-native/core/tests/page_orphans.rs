//! Regression: the private page directories of in-memory stores outlived a
//! crashed or killed process for good. The first mapped page of a process
//! now removes those of processes that no longer run. (A test binary of its
//! own: the sweep runs once per process.)

use mmsb_core::page_memory::MemoryKind;
use mmsb_core::{Location, Store};

#[test]
fn page_directories_of_dead_processes_are_removed() {
    let mut child = std::process::Command::new("true").spawn().unwrap();
    let dead = child.id();
    child.wait().unwrap();
    let orphan = std::env::temp_dir().join(format!("mmsb-pages-{dead}-0"));
    std::fs::create_dir_all(&orphan).unwrap();
    std::fs::write(orphan.join("00000000000000000001.page"), [1, 2, 3]).unwrap();
    let alive = std::env::temp_dir().join(format!("mmsb-pages-{}-999", std::process::id()));
    std::fs::create_dir_all(&alive).unwrap();
    let mut store = Store::memory();
    store
        .create_page_in(MemoryKind::Mapped, 64, Location::Cpu, &[])
        .unwrap();
    assert!(!orphan.exists(), "a dead process's directory is removed");
    assert!(alive.exists(), "a live process's directory is kept");
    std::fs::remove_dir_all(alive).unwrap();
}
