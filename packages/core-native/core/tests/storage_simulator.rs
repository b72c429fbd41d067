//! The deterministic storage simulator: thousands of seeded runs of a random
//! workload over a simulated disk that tears, loses, misdirects and flips
//! writes and fails them with EIO and ENOSPC (tests/simulator/), each run
//! crashing and recovering a few times, with the checks of
//! simulator/checks.rs after every recovery.
//!
//! `MMSB_SIM_SEED=<seed>` runs one seed and prints what it did;
//! `MMSB_SIM_SEEDS=<count>` and `MMSB_SIM_FIRST_SEED=<seed>` choose the seeds
//! of a longer run (default: 10,000 seeds from 0). A failure prints each
//! failing seed with the command that replays it.

// The targeted crashes of simulator/disk.rs serve simulator_regressions.rs.
#[allow(dead_code)]
mod simulator;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use mmsb_core::recovery::RecoveryMode;
use mmsb_core::{ErrorCode, Store, StoreOptions};
use simulator::checks::{self, Outcome};
use simulator::disk::{Faults, InjectedError, SimulatedDisk};
use simulator::workload::{step, History};
use simulator::Rng;

/// How many recoveries a run may go through before it fails to open again.
const OPEN_ATTEMPTS_MAX: usize = 4;

fn options(rng: &mut Rng) -> StoreOptions {
    StoreOptions {
        segment_bytes_max: rng.between(300, 4096),
        checkpoints_retained: rng.between(1, 3) as usize,
        compress_bytes_min: rng.percent(30).then(|| rng.between(32, 512)),
        recovery_mode: RecoveryMode::SalvageTail,
        ..StoreOptions::default()
    }
}

/// The faults of the whole run: a disk size and at most one kind of corruption.
fn run_faults(rng: &mut Rng) -> Faults {
    // Mostly a small disk, so that preallocation takes its nearly-full path
    // (and stays cheap); sometimes room for the 4 MiB preallocations.
    let capacity_bytes = if rng.percent(5) {
        64 << 20
    } else {
        rng.between(32 << 10, 256 << 10)
    };
    let mut faults = Faults {
        crash_at: None,
        error_at: None,
        misdirect_percent: 0,
        flip_written_percent: 0,
        flip_synced_percent: 0,
        capacity_bytes,
    };
    match rng.below(10) {
        0 => faults.misdirect_percent = 2,
        1 => faults.flip_written_percent = 2,
        2 => faults.flip_synced_percent = 50,
        _ => {}
    }
    faults
}

/// The faults of one epoch (a life of the store between two crashes).
fn epoch_faults(rng: &mut Rng, disk: &SimulatedDisk) -> Faults {
    let now = disk.operations();
    let mut faults = disk.faults();
    faults.crash_at = rng.percent(60).then(|| now + rng.between(1, 300));
    faults.error_at = rng.percent(25).then(|| {
        let error = if rng.percent(50) {
            InjectedError::Eio
        } else {
            InjectedError::Enospc
        };
        (now + rng.between(1, 300), error)
    });
    faults
}

fn open(disk: &SimulatedDisk, root: &Path, options: &StoreOptions) -> mmsb_core::Result<Store> {
    Store::open(Arc::new(disk.clone()), root, options.clone())
}

/// Opens after a crash, crashing again when the power is lost during
/// recovery, and checks what it finds. `Ok(None)`: a legitimate refusal.
fn recover(
    disk: &SimulatedDisk,
    root: &Path,
    options: &StoreOptions,
    history: &mut History,
) -> Result<Option<(Store, Outcome)>, String> {
    for _ in 0..OPEN_ATTEMPTS_MAX {
        match open(disk, root, options) {
            Ok(store) => {
                let outcome = checks::recovered(&store, history, disk.corrupted())?;
                history.rewind(store.last_lsn());
                return Ok(Some((store, outcome)));
            }
            Err(error) if disk.powered_off() => {
                disk.note(format!("open failed: {error}"));
                disk.crash();
            }
            Err(error) if matches!(error.code, ErrorCode::IoError | ErrorCode::DiskFull) => {
                disk.note(format!("open failed: {error}"));
                let mut faults = disk.faults();
                faults.error_at = None;
                // An operator frees room on a full disk before trying again.
                faults.capacity_bytes = faults.capacity_bytes.saturating_mul(2);
                disk.set_faults(faults);
            }
            Err(error) => {
                checks::refused(&error, disk.corrupted())?;
                disk.note(format!("refused: {error}"));
                checks::repaired(disk, root, history, options)?;
                return Ok(None);
            }
        }
    }
    Err(format!(
        "still failing to open after {OPEN_ATTEMPTS_MAX} attempts; last events:\n    {}",
        disk.events()
            .iter()
            .rev()
            .take(12)
            .rev()
            .cloned()
            .collect::<Vec<_>>()
            .join("\n    ")
    ))
}

/// One seeded run: a few epochs of workload, each ending in a crash, each
/// crash followed by a checked recovery. Returns the worst outcome.
fn run_seed(seed: u64, root: &Path, trace: bool) -> Result<Outcome, String> {
    let mut rng = Rng::new(seed);
    let options = options(&mut rng);
    let disk = SimulatedDisk::new(rng.fork(), run_faults(&mut rng));
    let mut workload = rng.fork();
    let mut history = History::new();
    let result = run_epochs(&mut rng, &mut workload, &disk, root, &options, &mut history, trace);
    if trace {
        eprintln!("disk events:\n  {}", disk.events().join("\n  "));
    }
    result
}

fn run_epochs(
    rng: &mut Rng,
    workload: &mut Rng,
    disk: &SimulatedDisk,
    root: &Path,
    options: &StoreOptions,
    history: &mut History,
    trace: bool,
) -> Result<Outcome, String> {
    let mut worst = Outcome::Intact;
    let epochs = rng.between(1, 4);
    for epoch in 0..=epochs {
        disk.set_faults(epoch_faults(rng, disk));
        let Some((mut store, outcome)) = recover(disk, root, options, history)? else {
            return Ok(Outcome::Refused);
        };
        worst = worst.max(outcome);
        if outcome == Outcome::InDoubt {
            return Ok(worst);
        }
        if trace {
            eprintln!("epoch {epoch}: opened at LSN {} ({outcome:?})", store.last_lsn());
        }
        if epoch == epochs {
            break;
        }
        for _ in 0..rng.between(5, 80) {
            if disk.powered_off() {
                break;
            }
            let next_lsn = store.last_lsn() + 1;
            let done = step(&mut store, workload, history)?;
            if disk.powered_off() {
                history.in_doubt = Some(next_lsn);
            }
            if trace {
                eprintln!("  LSN {}: {done}", store.last_lsn());
            }
        }
        drop(store);
        disk.crash();
    }
    Ok(worst)
}

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name)
        .ok()
        .map(|value| value.parse().unwrap_or_else(|_| panic!("{name} must be a number")))
}

/// A real directory per thread: the store takes its lock file there (the
/// only file outside the simulated disk).
fn lock_root(name: &str) -> PathBuf {
    let root = std::env::temp_dir().join(format!("mmsb-simulator-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&root).expect("a temporary directory");
    root
}

fn replay_command(seed: u64) -> String {
    format!("MMSB_SIM_SEED={seed} cargo test -p mmsb-core --test storage_simulator -- --nocapture")
}

#[test]
fn seeded_crashes_and_disk_faults_never_contradict_an_acknowledged_write() {
    if let Some(seed) = env_u64("MMSB_SIM_SEED") {
        let root = lock_root("one");
        let result = run_seed(seed, &root, true);
        let _ = std::fs::remove_dir_all(&root);
        match result {
            Ok(outcome) => return eprintln!("seed {seed}: {outcome:?}"),
            Err(violation) => panic!("seed {seed}: {violation}"),
        }
    }
    let first = env_u64("MMSB_SIM_FIRST_SEED").unwrap_or(0);
    let count = env_u64("MMSB_SIM_SEEDS").unwrap_or(10_000);
    let next = AtomicU64::new(first);
    let tally: Mutex<BTreeMap<String, u64>> = Mutex::default();
    let failures: Mutex<Vec<String>> = Mutex::default();
    let threads = std::thread::available_parallelism()
        .map_or(2, |count| count.get())
        .min(8);
    std::thread::scope(|scope| {
        for thread in 0..threads {
            let (next, tally, failures) = (&next, &tally, &failures);
            scope.spawn(move || {
                let root = lock_root(&thread.to_string());
                loop {
                    let seed = next.fetch_add(1, Ordering::Relaxed);
                    if seed >= first + count {
                        break;
                    }
                    let outcome = std::panic::catch_unwind(|| run_seed(seed, &root, false))
                        .unwrap_or_else(|panic| Err(format!("panicked: {panic:?}")));
                    match outcome {
                        Ok(outcome) => *tally.lock().unwrap().entry(format!("{outcome:?}")).or_default() += 1,
                        Err(violation) => failures
                            .lock()
                            .unwrap()
                            .push(format!("seed {seed}: {violation}\n  replay: {}", replay_command(seed))),
                    }
                }
                let _ = std::fs::remove_dir_all(&root);
            });
        }
    });
    let failures = failures.into_inner().unwrap();
    eprintln!(
        "storage simulator: seeds {first}..{}: {:?}, {} failed",
        first + count,
        tally.into_inner().unwrap(),
        failures.len()
    );
    assert!(
        failures.is_empty(),
        "{} seeds failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
