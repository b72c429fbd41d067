//! Reading a checkpoint's page bytes with several threads. Most of the time
//! an open spends on large host pages is the kernel's copy out of the page
//! cache and the first-touch faults of the new page memory (perf: about 40 %
//! faults for an 84 MiB checkpoint), and both go as many times faster as
//! there are cores to share them. Each part is read straight into its page
//! and checksummed there, so the bytes checked are the bytes kept.

use std::io;
use std::path::Path;

use crate::storage::FileSystem;

/// Bytes one read covers: large enough that a read's cost is small against
/// its copy, small enough that a few large pages keep every thread busy.
const CHUNK: usize = 8 << 20;
/// Threads at most: copying out of the page cache is bound by memory
/// bandwidth well before this.
const THREADS_MAX: usize = 8;

/// One part of a file's page data: where it starts in the file and where its
/// bytes go (`None`: only read, for the checksum, as a page a newer
/// checkpoint holds).
pub struct Part<'a> {
    pub offset: u64,
    pub len: usize,
    pub target: Option<&'a mut [u8]>,
}

/// Whether `len` bytes of page data are worth more than one thread here.
pub fn worth_threads(len: u64) -> bool {
    threads() > 1 && len >= 2 * CHUNK as u64
}

/// Reads every part of `path` into its target, several threads at once, and
/// returns the CRC32C of all the parts' bytes in order; an error names the
/// part (its index) that failed.
pub fn read_parts(fs: &dyn FileSystem, path: &Path, parts: Vec<Part<'_>>) -> Result<u32, (usize, io::Error)> {
    let mut tasks: Vec<Task<'_>> = Vec::new();
    for (part, Part { offset, len, target }) in parts.into_iter().enumerate() {
        match target {
            Some(target) => {
                for (index, slice) in target.chunks_mut(CHUNK).enumerate() {
                    let at = offset + (index * CHUNK) as u64;
                    tasks.push(Task {
                        part,
                        at,
                        len: slice.len(),
                        target: Some(slice),
                    });
                }
            }
            None => {
                for start in (0..len).step_by(CHUNK) {
                    let piece = CHUNK.min(len - start);
                    tasks.push(Task {
                        part,
                        at: offset + start as u64,
                        len: piece,
                        target: None,
                    });
                }
            }
        }
    }
    let lens: Vec<usize> = tasks.iter().map(|task| task.len).collect();
    let threads = threads().min(tasks.len()).max(1);
    let mut shares: Vec<Vec<(usize, Task<'_>)>> = (0..threads).map(|_| Vec::new()).collect();
    for (index, task) in tasks.into_iter().enumerate() {
        shares[index % threads].push((index, task));
    }
    let results: Vec<ShareResult> = std::thread::scope(|scope| {
        let workers: Vec<_> = shares
            .into_iter()
            .map(|share| scope.spawn(move || read_share(fs, path, share)))
            .collect();
        workers
            .into_iter()
            .map(|worker| worker.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)))
            .collect()
    });
    let mut crcs = vec![0u32; lens.len()];
    for result in results {
        for (index, crc) in result? {
            crcs[index] = crc;
        }
    }
    Ok(crcs
        .into_iter()
        .zip(lens)
        .fold(0, |whole, (crc, len)| crate::crc::combine(whole, crc, len)))
}

/// What a share of the reading gives: each task's index and checksum, or the
/// failed part's index and its error.
type ShareResult = Result<Vec<(usize, u32)>, (usize, io::Error)>;

struct Task<'a> {
    part: usize,
    at: u64,
    len: usize,
    target: Option<&'a mut [u8]>,
}

/// One thread's tasks: each read into its target (or a scratch buffer) and checksummed there.
fn read_share(
    fs: &dyn FileSystem,
    path: &Path,
    share: Vec<(usize, Task<'_>)>,
) -> Result<Vec<(usize, u32)>, (usize, io::Error)> {
    let mut scratch = Vec::new();
    let mut crcs = Vec::with_capacity(share.len());
    for (index, task) in share {
        let bytes: &mut [u8] = match task.target {
            Some(target) => target,
            None => {
                scratch.resize(task.len, 0);
                &mut scratch[..]
            }
        };
        fs.read_exact_at(path, task.at, bytes)
            .map_err(|error| (task.part, error))?;
        crcs.push((index, crc32c::crc32c(bytes)));
    }
    Ok(crcs)
}

fn threads() -> usize {
    std::thread::available_parallelism().map_or(1, |cores| cores.get().min(THREADS_MAX))
}
