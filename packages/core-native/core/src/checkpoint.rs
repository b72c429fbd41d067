//! Checkpoints: a snapshot of the state at an LSN, in one file
//! `<dir>/checkpoints/<lsn, 20 digits>.ckpt`, written to a temporary file,
//! synced, renamed into place, and the directory synced.
//!
//! A checkpoint is *full* (every live page) or *incremental*: only the pages
//! created or changed since its base checkpoint, and the ids released since.
//! An incremental checkpoint is the log's per-page delta merging: however many
//! deltas hit a page between checkpoints, it holds the page once, so the log
//! they cover can be deleted at a cost that follows the changed pages, not the
//! whole state.
//!
//! Version 2 (`MMSBCKP2`, written) adds each page's memory backend to its
//! directory entry; version 1 (`MMSBCKP1`) is still read, its pages taking the
//! default memory of pages created in bulk (page_memory/).
//!
//! ```text
//! header, 108 bytes:
//! offset  size  field
//! 0       8     magic "MMSBCKP2" (or "MMSBCKP1")
//! 8       8     lsn u64: the state after every record up to this LSN
//! 16      8     base_lsn u64: 0 for a full checkpoint, else the checkpoint this one extends
//! 24      8     next_page_id u64
//! 32      8     page_count u64: pages in this file
//! 40      8     released_count u64: ids released since the base (0 when full)
//! 48      8     directory_len u64
//! 56      8     data_len u64
//! 64      32    state_hash of the whole state at lsn (BLAKE3, state_hash.rs)
//! 96      4     directory_crc (crc32c)
//! 100     4     data_crc (crc32c)
//! 104     4     header_crc (crc32c of bytes 0..104)
//! directory: released ids (u64 × released_count), then per page in id order:
//!   id u64 | size u32 | location u8 | memory u8 (version 2 only: 0 heap,
//!   1 arena, 2 mapped, 3 device, 4 managed) | epoch u64 | metadata_count u32
//!   | (key_len u32 | key | value_len u32 | value) × metadata_count,
//!   then the whole graph (also in an incremental checkpoint): edge_count u64
//!   | (parent u64 | child u64 | kind u8) × edge_count, children in id order,
//!   each child's parents in their order
//! data: every page's bytes, in directory order, back to back
//! ```
//!
//! Page data is one sequential region, so loading is a streaming read
//! straight into each page's memory with no per-byte work but the checksum.
//! A chain of checkpoints is loaded newest first: a page that a newer link
//! holds, or released, is read past in older links (for their checksums)
//! without being allocated.

use std::collections::HashSet;
use std::io::Read;
use std::path::{Path, PathBuf};

use crate::error::{Error, ErrorCode, Result};
use crate::graph::{Edge, EdgeKind, Graph};
use crate::metadata::Metadata;
use crate::page::{validate_size, Location, Page, PageId};
use crate::page_memory::{Memory, MemoryConfig, MemoryKind, PageMemory};
use crate::page_reads;
use crate::state::State;
use crate::storage::{numbered_name, parse_numbered_name, FileSystem};

const MAGIC: &[u8; 8] = b"MMSBCKP2";
const MAGIC_V1: &[u8; 8] = b"MMSBCKP1";
const HEADER_BYTES: usize = 108;
const SUFFIX: &str = ".ckpt";
/// The longest chain of incremental checkpoints a load follows.
pub const CHAIN_LENGTH_MAX: usize = 64;

pub fn checkpoint_name(lsn: u64) -> String {
    numbered_name(lsn, SUFFIX)
}

pub fn parse_checkpoint_name(name: &str) -> Option<u64> {
    parse_numbered_name(name, SUFFIX)
}

/// What a written checkpoint holds.
#[derive(Clone, Debug)]
pub struct CheckpointInfo {
    pub lsn: u64,
    /// 0 for a full checkpoint.
    pub base_lsn: u64,
    pub path: PathBuf,
    pub bytes: u64,
    /// Pages stored in this file (all live pages when full).
    pub pages: u64,
    pub state_hash: crate::StateHash,
}

/// What an incremental checkpoint stores: the changes since `base_lsn`.
pub struct Increment<'a> {
    pub base_lsn: u64,
    /// The base's next page id: every page at or above it is new since the base.
    pub base_next_page_id: PageId,
    /// Pages below `base_next_page_id` changed since the base.
    pub changed: &'a HashSet<PageId>,
    /// Pages below `base_next_page_id` released since the base.
    pub released: &'a [PageId],
}

/// The checked header of a checkpoint file.
#[derive(Clone, Copy, Debug)]
pub struct CheckpointHeader {
    pub lsn: u64,
    pub base_lsn: u64,
    pub next_page_id: PageId,
    pub page_count: u64,
    pub released_count: u64,
    pub directory_len: u64,
    pub data_len: u64,
    pub state_hash: [u8; 32],
    /// 1 or 2: whether directory entries carry the page memory.
    pub version: u8,
    directory_crc: u32,
    data_crc: u32,
}

/// Writes the checkpoint of `state` at `lsn` atomically: full, or with
/// `increment` only what changed since its base.
pub fn write_checkpoint(
    fs: &dyn FileSystem,
    dir: &Path,
    state: &State,
    lsn: u64,
    increment: Option<&Increment<'_>>,
) -> Result<CheckpointInfo> {
    let included = |id: PageId| {
        increment.is_none_or(|increment| id >= increment.base_next_page_id || increment.changed.contains(&id))
    };
    let released = increment.map_or(&[][..], |increment| increment.released);
    let mut directory = Vec::new();
    for id in released {
        directory.extend_from_slice(&id.to_le_bytes());
    }
    let mut data_crc = 0u32;
    let mut data_len = 0u64;
    let mut pages = 0u64;
    for (id, page) in state.pages().filter(|(id, _)| included(*id)) {
        directory.extend_from_slice(&id.to_le_bytes());
        directory.extend_from_slice(&(page.size() as u32).to_le_bytes());
        directory.push(page.location() as u8);
        directory.push(page.memory() as u8);
        directory.extend_from_slice(&page.epoch().to_le_bytes());
        directory.extend_from_slice(&(page.metadata().len() as u32).to_le_bytes());
        for (key, value) in page.metadata().iter() {
            directory.extend_from_slice(&(key.len() as u32).to_le_bytes());
            directory.extend_from_slice(key.as_bytes());
            directory.extend_from_slice(&(value.len() as u32).to_le_bytes());
            directory.extend_from_slice(value);
        }
        data_crc = crc32c::crc32c_append(data_crc, page.data());
        data_len += page.size();
        pages += 1;
    }
    let edges = state.graph().edges();
    directory.extend_from_slice(&(edges.len() as u64).to_le_bytes());
    for edge in edges {
        directory.extend_from_slice(&edge.parent.to_le_bytes());
        directory.extend_from_slice(&edge.child.to_le_bytes());
        directory.push(edge.kind as u8);
    }
    let state_hash = state.state_hash();
    let base_lsn = increment.map_or(0, |increment| increment.base_lsn);
    let mut header = [0u8; HEADER_BYTES];
    header[0..8].copy_from_slice(MAGIC);
    for (offset, value) in [
        (8, lsn),
        (16, base_lsn),
        (24, state.next_page_id()),
        (32, pages),
        (40, released.len() as u64),
        (48, directory.len() as u64),
        (56, data_len),
    ] {
        header[offset..offset + 8].copy_from_slice(&value.to_le_bytes());
    }
    header[64..96].copy_from_slice(&state_hash.0);
    header[96..100].copy_from_slice(&crc32c::crc32c(&directory).to_le_bytes());
    header[100..104].copy_from_slice(&data_crc.to_le_bytes());
    let header_crc = crc32c::crc32c(&header[..104]);
    header[104..108].copy_from_slice(&header_crc.to_le_bytes());

    let path = dir.join(checkpoint_name(lsn));
    let temporary = dir.join(format!("{}.tmp", checkpoint_name(lsn)));
    let io = |doing: &str, error: std::io::Error| Error::io(doing, &temporary, &error);
    // A leftover from an interrupted attempt is not a checkpoint; start afresh.
    let _ = fs.remove(&temporary);
    let written = write_file(fs, &temporary, &header, &directory, state, &included);
    if let Err(error) = written {
        // Best effort: a leftover is also removed by the next open.
        let _ = fs.remove(&temporary);
        return Err(error);
    }
    if let Err(error) = fs.rename(&temporary, &path) {
        let _ = fs.remove(&temporary);
        return Err(io("renaming checkpoint", error));
    }
    fs.sync_dir(dir)
        .map_err(|error| Error::io("syncing directory", dir, &error))?;
    Ok(CheckpointInfo {
        lsn,
        base_lsn,
        path,
        bytes: (HEADER_BYTES + directory.len()) as u64 + data_len,
        pages,
        state_hash,
    })
}

/// Writes and syncs a checkpoint's bytes into `temporary`: the header, the
/// directory, then the data of the pages `included` admits, in chunks.
fn write_file(
    fs: &dyn FileSystem,
    temporary: &Path,
    header: &[u8],
    directory: &[u8],
    state: &State,
    included: &dyn Fn(PageId) -> bool,
) -> Result<()> {
    let io = |doing: &str, error: std::io::Error| Error::io(doing, temporary, &error);
    let file = fs
        .open_append(temporary)
        .map_err(|error| io("creating checkpoint", error))?;
    file.append(&[header, directory])
        .map_err(|error| io("writing checkpoint", error))?;
    const CHUNK_BYTES: usize = 8 << 20;
    let mut chunk: Vec<&[u8]> = Vec::new();
    let mut chunk_bytes = 0usize;
    for (_, page) in state.pages().filter(|(id, _)| included(*id)) {
        chunk.push(page.data());
        chunk_bytes += page.data().len();
        if chunk_bytes >= CHUNK_BYTES {
            file.append(&chunk).map_err(|error| io("writing checkpoint", error))?;
            chunk.clear();
            chunk_bytes = 0;
        }
    }
    file.append(&chunk).map_err(|error| io("writing checkpoint", error))?;
    file.sync().map_err(|error| io("syncing checkpoint", error))
}

fn corrupt(path: &Path, what: impl std::fmt::Display) -> Error {
    Error::new(
        ErrorCode::CheckpointCorrupt,
        format!("checkpoint {}: {what}", path.display()),
    )
}

/// Reads and checks a checkpoint's header (its checksum and its length
/// against the file's).
pub fn read_header(fs: &dyn FileSystem, path: &Path) -> Result<CheckpointHeader> {
    let (header, _) = checked_header(fs, path, |path| fs.open_prefix(path, HEADER_BYTES))?;
    Ok(header)
}

/// Opens a checkpoint for reading past its header, which it checks.
fn open_checked(fs: &dyn FileSystem, path: &Path) -> Result<(CheckpointHeader, Box<dyn Read + Send>)> {
    checked_header(fs, path, |path| fs.open_read(path))
}

/// Reads and checks the header through a reader that `open` makes: the
/// file's length or the opening failing is an I/O error; the reading
/// failing (a short file, a bad sector) makes the checkpoint corrupt, as a
/// failed read of any later part does, so that recovery falls back.
fn checked_header(
    fs: &dyn FileSystem,
    path: &Path,
    open: impl FnOnce(&Path) -> std::io::Result<Box<dyn Read + Send>>,
) -> Result<(CheckpointHeader, Box<dyn Read + Send>)> {
    let file_len = fs
        .len(path)
        .map_err(|error| Error::io("reading checkpoint", path, &error))?;
    let mut reader = open(path).map_err(|error| Error::io("reading checkpoint", path, &error))?;
    let mut bytes = [0u8; HEADER_BYTES];
    reader
        .read_exact(&mut bytes)
        .map_err(|_| corrupt(path, format!("shorter than its {HEADER_BYTES}-byte header")))?;
    Ok((parse_header(path, file_len, &bytes)?, reader))
}

fn parse_header(path: &Path, file_len: u64, bytes: &[u8; HEADER_BYTES]) -> Result<CheckpointHeader> {
    let field = |offset: usize| u64::from_le_bytes(bytes[offset..offset + 8].try_into().expect("8 bytes"));
    let crc_at = |offset: usize| u32::from_le_bytes(bytes[offset..offset + 4].try_into().expect("4 bytes"));
    let version = match &bytes[0..8] {
        magic if magic == MAGIC => 2,
        magic if magic == MAGIC_V1 => 1,
        _ => return Err(corrupt(path, "wrong magic (not a version 1 or 2 checkpoint)")),
    };
    if crc32c::crc32c(&bytes[..104]) != crc_at(104) {
        return Err(corrupt(path, "header checksum mismatch"));
    }
    let header = CheckpointHeader {
        lsn: field(8),
        base_lsn: field(16),
        next_page_id: field(24),
        page_count: field(32),
        released_count: field(40),
        directory_len: field(48),
        data_len: field(56),
        state_hash: bytes[64..96].try_into().expect("32 bytes"),
        version,
        directory_crc: crc_at(96),
        data_crc: crc_at(100),
    };
    let expected_len = (HEADER_BYTES as u64)
        .checked_add(header.directory_len)
        .and_then(|len| len.checked_add(header.data_len));
    if expected_len != Some(file_len) {
        return Err(corrupt(
            path,
            format!(
                "file is {file_len} bytes; its header describes {}",
                expected_len.map_or("more than 2^64".to_owned(), |len| len.to_string())
            ),
        ));
    }
    if header.base_lsn >= header.lsn && header.base_lsn != 0 {
        return Err(corrupt(
            path,
            format!("base LSN {} is not below its LSN {}", header.base_lsn, header.lsn),
        ));
    }
    Ok(header)
}

/// Loads the checkpoint at `lsn` in `dir` into a state with private page
/// memory (`load_checkpoint_with`).
pub fn load_checkpoint(fs: &dyn FileSystem, dir: &Path, lsn: u64) -> Result<State> {
    load_checkpoint_with(fs, dir, lsn, &MemoryConfig::Private)
}

/// Loads the checkpoint at `lsn` in `dir`, following incremental ones back
/// to their full base, checking every checksum and length, into a state
/// whose page memory follows `memory`. Returns the state, or
/// `CHECKPOINT_CORRUPT` naming the file and the fault.
pub fn load_checkpoint_with(fs: &dyn FileSystem, dir: &Path, lsn: u64, memory: &MemoryConfig) -> Result<State> {
    let mut chain = vec![lsn];
    let mut base = read_header(fs, &dir.join(checkpoint_name(lsn)))?.base_lsn;
    while base != 0 {
        if chain.len() >= CHAIN_LENGTH_MAX {
            return Err(corrupt(
                &dir.join(checkpoint_name(lsn)),
                "its chain of bases is too long",
            ));
        }
        chain.push(base);
        base = read_header(fs, &dir.join(checkpoint_name(base)))
            .map_err(|error| {
                let missing = error.code == ErrorCode::IoError;
                if missing {
                    corrupt(
                        &dir.join(checkpoint_name(lsn)),
                        format!("its base checkpoint is unreadable: {error}"),
                    )
                } else {
                    error
                }
            })?
            .base_lsn;
    }
    let mut memory = Memory::new(memory);
    let mut pages: Vec<(PageId, Page)> = Vec::new();
    // Ids a newer link holds or released: older links' copies are read past.
    let mut decided: HashSet<PageId> = HashSet::new();
    let mut newest: Option<(PageId, Vec<Edge>)> = None;
    for &link in &chain {
        let path = dir.join(checkpoint_name(link));
        let loaded = load_file(fs, &path, &mut memory, &decided, &mut pages)?;
        if loaded.header.lsn != link {
            return Err(corrupt(
                &path,
                format!("holds LSN {}, its name says {link}", loaded.header.lsn),
            ));
        }
        decided.extend(loaded.ids);
        decided.extend(loaded.released);
        newest.get_or_insert((loaded.header.next_page_id, loaded.edges));
    }
    let (next_page_id, edges) = newest.expect("a chain has a link");
    pages.sort_unstable_by_key(|(id, _)| *id);
    let path = dir.join(checkpoint_name(lsn));
    if pages.last().is_some_and(|(id, _)| *id >= next_page_id) {
        return Err(corrupt(&path, "a page id is not below the next id"));
    }
    let live: HashSet<PageId> = pages.iter().map(|(id, _)| *id).collect();
    let mut graph = Graph::default();
    for edge in edges {
        if !live.contains(&edge.parent) || !live.contains(&edge.child) {
            let what = format!("edge {} → {} names a page it does not hold", edge.parent, edge.child);
            return Err(corrupt(&path, what));
        }
        graph
            .check_add(edge.parent, edge.child)
            .map_err(|error| corrupt(&path, error.message))?;
        graph.add(edge);
    }
    Ok(State::restore(pages, next_page_id, graph, memory))
}

/// One checkpoint file read back.
struct LoadedFile {
    header: CheckpointHeader,
    /// Every page id the file holds, loaded or read past.
    ids: Vec<PageId>,
    released: Vec<PageId>,
    edges: Vec<Edge>,
}

/// Reads and checks one checkpoint file, appending to `pages` the pages it
/// holds that are not in `skip`, their bytes in `memory`.
fn load_file(
    fs: &dyn FileSystem,
    path: &Path,
    memory: &mut Memory,
    skip: &HashSet<PageId>,
    pages: &mut Vec<(PageId, Page)>,
) -> Result<LoadedFile> {
    let (header, mut reader) = open_checked(fs, path)?;
    let mut directory = vec![0u8; header.directory_len as usize];
    reader
        .read_exact(&mut directory)
        .map_err(|error| corrupt(path, format!("reading directory: {error}")))?;
    if crc32c::crc32c(&directory) != header.directory_crc {
        return Err(corrupt(path, "directory checksum mismatch"));
    }
    let (released, entries, edges) = parse_directory(&directory, &header).map_err(|what| corrupt(path, what))?;
    let described: u64 = entries.iter().map(|entry| entry.size).sum();
    if described != header.data_len {
        return Err(corrupt(
            path,
            format!("pages total {described} bytes, data section is {}", header.data_len),
        ));
    }
    let mut data_crc = 0u32;
    let mut ids = Vec::with_capacity(entries.len());
    // Device pages are copied from the mapped file by several threads;
    // other files are read in order.
    let loads_device = entries
        .iter()
        .any(|entry| entry.memory == MemoryKind::Device && !skip.contains(&entry.id));
    if loads_device && crate::cuda::available() {
        let file = fs
            .map_whole(path)
            .map_err(|error| Error::io("reading checkpoint", path, &error))?;
        let mut at = HEADER_BYTES + header.directory_len as usize;
        if file.len() != at + header.data_len as usize {
            return Err(corrupt(path, "changed while it was read"));
        }
        // Each entry's bytes, in file order; those of pages to load are restored below.
        let mut parts = Vec::with_capacity(entries.len());
        let mut restore = Vec::new();
        for entry in &entries {
            ids.push(entry.id);
            let bytes = &file[at..at + entry.size as usize];
            at += bytes.len();
            let loads = !skip.contains(&entry.id);
            if loads {
                restore.push((entry.memory, entry.id, bytes));
            }
            parts.push((loads, bytes));
        }
        let mut restored = memory.restore_many(&restore)?.into_iter();
        for (entry, (loads, bytes)) in entries.into_iter().zip(parts) {
            if !loads {
                data_crc = crc32c::crc32c_append(data_crc, bytes);
                continue;
            }
            let (data, crc) = restored.next().expect("one restored page per page loaded");
            data_crc = crate::crc::combine(data_crc, crc, bytes.len());
            pages.push((entry.id, Page::new(data, entry.epoch, entry.location, entry.metadata)));
        }
        if data_crc != header.data_crc {
            return Err(corrupt(path, "page data checksum mismatch"));
        }
        return Ok(LoadedFile {
            header,
            ids,
            released,
            edges,
        });
    }
    if page_reads::worth_threads(header.data_len) {
        return load_pages_in_parallel(fs, path, &header, entries, memory, skip, pages).map(|ids| LoadedFile {
            header,
            ids,
            released,
            edges,
        });
    }
    let mut scratch = Vec::new();
    for entry in entries {
        let reading = |error: std::io::Error| corrupt(path, format!("reading page {}: {error}", entry.id));
        ids.push(entry.id);
        if skip.contains(&entry.id) {
            data_crc = read_past(&mut reader, entry.size, data_crc, &mut scratch).map_err(reading)?;
            continue;
        }
        let mut data = memory.allocate(entry.memory, entry.id, entry.size)?;
        if let Err(error) = reader.read_exact(data.bytes_mut()) {
            memory.free(data);
            return Err(reading(error));
        }
        data_crc = crc32c::crc32c_append(data_crc, data.as_slice());
        pages.push((entry.id, Page::new(data, entry.epoch, entry.location, entry.metadata)));
    }
    if data_crc != header.data_crc {
        return Err(corrupt(path, "page data checksum mismatch"));
    }
    Ok(LoadedFile {
        header,
        ids,
        released,
        edges,
    })
}

/// The pages of `entries` (those not in `skip`) read by several threads
/// (page_reads.rs) from the data section of the checkpoint at `path`,
/// appended to `pages`; returns every id the file holds. On an error the
/// memory allocated for them is freed.
fn load_pages_in_parallel(
    fs: &dyn FileSystem,
    path: &Path,
    header: &CheckpointHeader,
    entries: Vec<Entry>,
    memory: &mut Memory,
    skip: &HashSet<PageId>,
    pages: &mut Vec<(PageId, Page)>,
) -> Result<Vec<PageId>> {
    // Each entry with the memory it is read into (`None`: read past).
    let mut loaded: Vec<(Entry, Option<PageMemory>)> = Vec::with_capacity(entries.len());
    let read = || -> Result<()> {
        for entry in entries {
            let data = if skip.contains(&entry.id) {
                None
            } else {
                Some(memory.allocate(entry.memory, entry.id, entry.size)?)
            };
            loaded.push((entry, data));
        }
        let mut offset = (HEADER_BYTES + header.directory_len as usize) as u64;
        let mut parts = Vec::with_capacity(loaded.len());
        for (entry, data) in loaded.iter_mut() {
            parts.push(page_reads::Part {
                offset,
                len: entry.size as usize,
                target: data.as_mut().map(PageMemory::bytes_mut),
            });
            offset += entry.size;
        }
        let data_crc = page_reads::read_parts(fs, path, parts)
            .map_err(|(part, error)| corrupt(path, format!("reading page {}: {error}", loaded[part].0.id)))?;
        if data_crc != header.data_crc {
            return Err(corrupt(path, "page data checksum mismatch"));
        }
        Ok(())
    };
    if let Err(error) = read() {
        loaded
            .into_iter()
            .filter_map(|(_, data)| data)
            .for_each(|data| memory.free(data));
        return Err(error);
    }
    let ids = loaded.iter().map(|(entry, _)| entry.id).collect();
    for (entry, data) in loaded {
        if let Some(data) = data {
            pages.push((entry.id, Page::new(data, entry.epoch, entry.location, entry.metadata)));
        }
    }
    Ok(ids)
}

/// Reads `len` bytes that no page needs, for the checksum they extend.
fn read_past(reader: &mut dyn Read, len: u64, mut crc: u32, scratch: &mut Vec<u8>) -> std::io::Result<u32> {
    const PIECE_BYTES: u64 = 64 << 10;
    let mut left = len;
    while left > 0 {
        let piece = left.min(PIECE_BYTES) as usize;
        scratch.resize(piece, 0);
        reader.read_exact(scratch)?;
        crc = crc32c::crc32c_append(crc, scratch);
        left -= piece as u64;
    }
    Ok(crc)
}

struct Entry {
    id: PageId,
    size: u64,
    location: Location,
    memory: MemoryKind,
    epoch: u64,
    metadata: Metadata,
}

/// The released ids, page entries and edges of a directory section.
type Directory = (Vec<PageId>, Vec<Entry>, Vec<Edge>);

fn parse_directory(bytes: &[u8], header: &CheckpointHeader) -> std::result::Result<Directory, String> {
    let (page_count, next_page_id) = (header.page_count, header.next_page_id);
    let mut cursor = 0usize;
    let mut take = |len: usize| -> std::result::Result<&[u8], String> {
        let slice = bytes
            .get(cursor..)
            .and_then(|rest| rest.get(..len))
            .ok_or_else(|| format!("directory truncated at byte {cursor}"))?;
        cursor += len;
        Ok(slice)
    };
    // Planted (Cargo.toml): a hostile released count trusted.
    if header.released_count > (bytes.len() / 8) as u64 && !cfg!(feature = "planted-fuzz-bugs") {
        return Err(format!("claims {} released ids", header.released_count));
    }
    let mut released = Vec::with_capacity(header.released_count as usize);
    for _ in 0..header.released_count {
        released.push(u64::from_le_bytes(take(8)?.try_into().expect("8 bytes")));
    }
    let mut entries = Vec::new();
    let mut previous_id = 0;
    for _ in 0..page_count {
        let id = u64::from_le_bytes(take(8)?.try_into().expect("8 bytes"));
        let size = u64::from(u32::from_le_bytes(take(4)?.try_into().expect("4 bytes")));
        let location = match take(1)?[0] {
            0 => Location::Cpu,
            1 => Location::Gpu,
            2 => Location::Unified,
            other => return Err(format!("page {id} has unknown location {other}")),
        };
        let memory = match header.version {
            1 => MemoryKind::default_for_pages(location, size),
            _ => {
                let value = take(1)?[0];
                MemoryKind::from_u8(value).ok_or_else(|| format!("page {id} has unknown memory {value}"))?
            }
        };
        let epoch = u64::from_le_bytes(take(8)?.try_into().expect("8 bytes"));
        let metadata_count = u32::from_le_bytes(take(4)?.try_into().expect("4 bytes"));
        if id <= previous_id || id >= next_page_id {
            return Err(format!("page id {id} out of order or not below next id {next_page_id}"));
        }
        validate_size(size).map_err(|error| error.message)?;
        memory.check_fits(size).map_err(|error| error.message)?;
        let mut metadata = Metadata::default();
        for _ in 0..metadata_count {
            let key_len = u32::from_le_bytes(take(4)?.try_into().expect("4 bytes")) as usize;
            let key = std::str::from_utf8(take(key_len)?).map_err(|_| format!("page {id} has a non-UTF-8 key"))?;
            let key = key.to_owned();
            let value_len = u32::from_le_bytes(take(4)?.try_into().expect("4 bytes")) as usize;
            metadata
                .set(&key, Some(take(value_len)?))
                .map_err(|error| error.message)?;
        }
        entries.push(Entry {
            id,
            size,
            location,
            memory,
            epoch,
            metadata,
        });
        previous_id = id;
    }
    let edge_count = u64::from_le_bytes(take(8)?.try_into().expect("8 bytes"));
    if edge_count > (bytes.len() / 17) as u64 {
        return Err(format!("claims {edge_count} edges"));
    }
    let mut edges = Vec::with_capacity(edge_count as usize);
    for _ in 0..edge_count {
        let parent = u64::from_le_bytes(take(8)?.try_into().expect("8 bytes"));
        let child = u64::from_le_bytes(take(8)?.try_into().expect("8 bytes"));
        let kind = take(1)?[0];
        let kind = EdgeKind::from_u8(kind).ok_or_else(|| format!("edge {parent} → {child} has unknown kind {kind}"))?;
        edges.push(Edge { parent, child, kind });
    }
    if cursor != bytes.len() {
        return Err(format!("{} trailing directory bytes", bytes.len() - cursor));
    }
    Ok((released, entries, edges))
}
