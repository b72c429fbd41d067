//! The simulated disk: files and directories in memory behind the core's
//! `FileSystem` trait, with the faults of the fault model in
//! docs/ARCHITECTURE.md injected by seed.
//!
//! Each file keeps what was written (what reads see), what was synced (what
//! survives a crash) and the writes in between, in order. A crash keeps, per
//! file, the synced bytes plus any prefix of the later writes, the first
//! write left out possibly torn at any byte; directory entries (creations,
//! renames, removals) survive only once their directory was synced, again
//! with any prefix of the later changes kept. On top of that a run may turn
//! on: a lost power at the N-th write or sync (every later call fails, as in
//! a dead process), EIO or ENOSPC at one write or sync (a failed write having
//! written any prefix of its bytes), a disk size past which writes fail with
//! ENOSPC, misdirected writes (stored at another offset than asked), and
//! bit flips in data as it is written and in synced data at a crash. The
//! last two are corruption: recovery must detect them, not survive them.

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use mmsb_core::storage::{AppendFile, FileSystem};

use super::Rng;

/// The faults a run injects, chosen from its seed.
#[derive(Clone, Debug)]
pub struct Faults {
    /// The power is lost at this write or sync (counted over the disk's life, from 1).
    pub crash_at: Option<u64>,
    /// This write or sync fails with the error.
    pub error_at: Option<(u64, InjectedError)>,
    /// Chance, in percent, that a write is stored at another offset than asked.
    pub misdirect_percent: u64,
    /// Chance, in percent, that a write is stored with one bit flipped.
    pub flip_written_percent: u64,
    /// Chance, in percent, that a crash flips one bit of a synced file.
    pub flip_synced_percent: u64,
    /// The disk's size: the bytes of all files together may not exceed it.
    pub capacity_bytes: u64,
}

#[derive(Clone, Copy, Debug)]
pub enum InjectedError {
    Eio,
    Enospc,
}

impl InjectedError {
    fn error(self) -> io::Error {
        match self {
            InjectedError::Eio => io::Error::from_raw_os_error(libc::EIO),
            InjectedError::Enospc => io::Error::from_raw_os_error(libc::ENOSPC),
        }
    }
}

enum Pending {
    Write { offset: u64, bytes: Vec<u8> },
    Truncate(u64),
}

impl Pending {
    fn apply(&self, image: &mut Vec<u8>) {
        match self {
            Pending::Write { offset, bytes } => write_into(image, *offset, bytes),
            Pending::Truncate(len) => resize(image, *len as usize),
        }
    }
}

/// Writes `bytes` at `offset`, extending the file (with zeros up to
/// `offset`) as needed. Built from whole-slice copies: element loops are
/// slow in the unoptimised test build.
fn write_into(image: &mut Vec<u8>, offset: u64, bytes: &[u8]) {
    let offset = offset as usize;
    resize(image, image.len().max(offset));
    let inside = (image.len() - offset).min(bytes.len());
    image[offset..offset + inside].copy_from_slice(&bytes[..inside]);
    image.extend_from_slice(&bytes[inside..]);
}

fn resize(image: &mut Vec<u8>, len: usize) {
    if len <= image.len() {
        image.truncate(len);
    } else {
        image.extend_from_slice(&vec![0; len - image.len()]);
    }
}

/// A file's contents.
struct Inode {
    /// The path it was created at, for the event log.
    name: String,
    /// False once removed or renamed over: its bytes no longer take room.
    linked: bool,
    data: Vec<u8>,
    durable: Vec<u8>,
    pending: Vec<Pending>,
}

/// An entry of a directory: a file, or a subdirectory.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Entry {
    File(u64),
    Directory,
}

enum DirectoryChange {
    Link(String, Entry),
    Unlink(String),
    Rename { from: String, to: String, entry: Entry },
}

impl DirectoryChange {
    fn apply(&self, entries: &mut BTreeMap<String, Entry>) {
        match self {
            DirectoryChange::Link(name, entry) => {
                entries.insert(name.clone(), *entry);
            }
            DirectoryChange::Unlink(name) => {
                entries.remove(name);
            }
            DirectoryChange::Rename { from, to, entry } => {
                entries.remove(from);
                entries.insert(to.clone(), *entry);
            }
        }
    }
}

#[derive(Default)]
struct Directory {
    entries: BTreeMap<String, Entry>,
    durable: BTreeMap<String, Entry>,
    pending: Vec<DirectoryChange>,
}

struct Disk {
    rng: Rng,
    faults: Faults,
    inodes: BTreeMap<u64, Inode>,
    next_inode: u64,
    directories: BTreeMap<PathBuf, Directory>,
    /// Writes and syncs so far.
    operations: u64,
    powered_off: bool,
    /// True once a fault damaged bytes (misdirected write, bit flip).
    corrupted: bool,
    events: Vec<String>,
}

/// What a crash keeps of the unsynced changes of each file and directory.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Keep {
    /// Any prefix, the first change left out possibly torn.
    Random,
    Nothing,
    AllButLast,
}

impl Keep {
    fn kept(self, rng: &mut Rng, count: u64) -> usize {
        match self {
            Keep::Random => rng.below(count + 1) as usize,
            Keep::Nothing => 0,
            Keep::AllButLast => count.saturating_sub(1) as usize,
        }
    }
}

/// The simulated disk, shared by the store under test and the checks.
#[derive(Clone)]
pub struct SimulatedDisk(Arc<Mutex<Disk>>);

fn not_found(path: &Path) -> io::Error {
    io::Error::new(io::ErrorKind::NotFound, format!("{} not found", path.display()))
}

fn split(path: &Path) -> io::Result<(PathBuf, String)> {
    let parent = path.parent().ok_or_else(|| not_found(path))?;
    let name = path
        .file_name()
        .and_then(|name| name.to_str())
        .ok_or_else(|| not_found(path))?;
    Ok((parent.to_owned(), name.to_owned()))
}

impl SimulatedDisk {
    pub fn new(rng: Rng, faults: Faults) -> SimulatedDisk {
        SimulatedDisk(Arc::new(Mutex::new(Disk {
            rng,
            faults,
            inodes: BTreeMap::new(),
            next_inode: 1,
            directories: BTreeMap::new(),
            operations: 0,
            powered_off: false,
            corrupted: false,
            events: Vec::new(),
        })))
    }

    fn disk(&self) -> MutexGuard<'_, Disk> {
        self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn operations(&self) -> u64 {
        self.disk().operations
    }

    pub fn faults(&self) -> Faults {
        self.disk().faults.clone()
    }

    pub fn set_faults(&self, faults: Faults) {
        self.disk().faults = faults;
    }

    pub fn powered_off(&self) -> bool {
        self.disk().powered_off
    }

    pub fn corrupted(&self) -> bool {
        self.disk().corrupted
    }

    pub fn events(&self) -> Vec<String> {
        self.disk().events.clone()
    }

    pub fn note(&self, event: String) {
        self.disk().events.push(event);
    }

    /// Loses the power (if it was still on) and brings the disk back as a
    /// crash leaves it (module comment).
    pub fn crash(&self) {
        self.disk().crash(Keep::Random);
    }

    /// A crash that keeps nothing unsynced: no write, no directory change.
    pub fn crash_losing_everything_unsynced(&self) {
        self.disk().crash(Keep::Nothing);
    }

    /// A crash that keeps every unsynced change but the last of each file
    /// and directory.
    pub fn crash_losing_the_last_changes(&self) {
        self.disk().crash(Keep::AllButLast);
    }
}

impl Disk {
    fn lookup(&self, path: &Path) -> io::Result<u64> {
        let (parent, name) = split(path)?;
        match self
            .directories
            .get(&parent)
            .and_then(|directory| directory.entries.get(&name))
        {
            Some(Entry::File(inode)) => Ok(*inode),
            Some(Entry::Directory) => Err(io::Error::new(io::ErrorKind::IsADirectory, "a directory")),
            None => Err(not_found(path)),
        }
    }

    fn check_power(&self) -> io::Result<()> {
        if self.powered_off {
            return Err(io::Error::other("the power is off"));
        }
        Ok(())
    }

    /// Counts a write or sync; fails it when the power goes now, or returns
    /// the error to inject into it.
    fn gate(&mut self, what: &str, inode: u64) -> io::Result<Option<InjectedError>> {
        self.check_power()?;
        self.operations += 1;
        let operation = self.operations;
        let name = self
            .inodes
            .get(&inode)
            .map_or("a directory", |inode| inode.name.as_str())
            .to_owned();
        if self.faults.crash_at == Some(operation) {
            self.powered_off = true;
            self.events
                .push(format!("op {operation}: power lost at a {what} of {name}"));
            return Err(io::Error::other("the power is off"));
        }
        match self.faults.error_at {
            Some((at, error)) if at == operation => {
                self.events
                    .push(format!("op {operation}: {error:?} injected into a {what} of {name}"));
                Ok(Some(error))
            }
            _ => Ok(None),
        }
    }

    fn used_bytes(&self) -> u64 {
        self.inodes
            .values()
            .filter(|inode| inode.linked)
            .map(|inode| inode.data.len() as u64)
            .sum()
    }

    fn write(&mut self, inode: u64, offset: u64, parts: &[&[u8]]) -> io::Result<()> {
        let injected = self.gate("write", inode)?;
        let mut bytes = parts.concat();
        let mut result = Ok(());
        if let Some(error) = injected {
            bytes.truncate(self.rng.below(bytes.len() as u64 + 1) as usize);
            result = Err(error.error());
        }
        let len = self.inodes[&inode].data.len() as u64;
        let room_end = len + self.faults.capacity_bytes.saturating_sub(self.used_bytes());
        if offset + bytes.len() as u64 > room_end {
            bytes.truncate(room_end.saturating_sub(offset) as usize);
            result = Err(InjectedError::Enospc.error());
        }
        let mut offset = offset;
        let operation = self.operations;
        let name = self.inodes[&inode].name.clone();
        // Fill (one byte repeated) is not misdirected: a lost preallocation
        // over acknowledged records followed by a crash is undetectable by design.
        if self.rng.percent(self.faults.misdirect_percent) && bytes.iter().any(|&byte| byte != bytes[0]) {
            // Whole 512-byte sectors away, either way: a write the drive put elsewhere.
            let sectors = self.rng.between(1, 8) * 512;
            let moved = if self.rng.percent(50) {
                offset + sectors
            } else {
                offset.saturating_sub(sectors)
            };
            self.events.push(format!(
                "op {operation}: write of {} bytes to {name} offset {offset} misdirected to {moved}",
                bytes.len()
            ));
            offset = moved;
            self.corrupted = true;
        }
        if !bytes.is_empty() && self.rng.percent(self.faults.flip_written_percent) {
            let bit = self.rng.below(bytes.len() as u64 * 8);
            bytes[(bit / 8) as usize] ^= 1 << (bit % 8);
            self.events.push(format!(
                "op {operation}: bit flipped at {name} offset {} as written",
                offset + bit / 8
            ));
            self.corrupted = true;
        }
        let file = self.inodes.get_mut(&inode).expect("an open file");
        write_into(&mut file.data, offset, &bytes);
        file.pending.push(Pending::Write { offset, bytes });
        result
    }

    fn truncate(&mut self, inode: u64, len: u64) -> io::Result<()> {
        if let Some(error) = self.gate("truncate", inode)? {
            return Err(error.error());
        }
        let file = self.inodes.get_mut(&inode).expect("an open file");
        resize(&mut file.data, len as usize);
        file.pending.push(Pending::Truncate(len));
        Ok(())
    }

    fn sync(&mut self, inode: u64) -> io::Result<()> {
        if let Some(error) = self.gate("sync", inode)? {
            return Err(error.error());
        }
        let file = self.inodes.get_mut(&inode).expect("an open file");
        for pending in file.pending.drain(..) {
            pending.apply(&mut file.durable);
        }
        debug_assert!(file.durable == file.data);
        Ok(())
    }

    fn crash(&mut self, keep: Keep) {
        self.powered_off = false;
        for (id, inode) in self.inodes.iter_mut() {
            let count = inode.pending.len() as u64;
            let kept = keep.kept(&mut self.rng, count);
            let mut image = std::mem::take(&mut inode.durable);
            for pending in &inode.pending[..kept] {
                pending.apply(&mut image);
            }
            let mut torn = false;
            if let Some(Pending::Write { offset, bytes }) = inode.pending.get(kept) {
                if keep == Keep::Random && self.rng.percent(50) {
                    let part = self.rng.below(bytes.len() as u64) as usize;
                    write_into(&mut image, *offset, &bytes[..part]);
                    torn = part > 0;
                }
            }
            if (kept as u64) < count {
                self.events.push(format!(
                    "crash: {} (inode {id}) keeps {kept} of {count} unsynced writes{}",
                    inode.name,
                    if torn { ", the next one torn" } else { "" }
                ));
            }
            inode.pending.clear();
            inode.data = image.clone();
            inode.durable = image;
        }
        for (path, directory) in self.directories.iter_mut() {
            let count = directory.pending.len() as u64;
            let kept = keep.kept(&mut self.rng, count);
            let mut entries = std::mem::take(&mut directory.durable);
            for change in &directory.pending[..kept] {
                change.apply(&mut entries);
            }
            if (kept as u64) < count {
                self.events.push(format!(
                    "crash: directory {} keeps {kept} of {count} unsynced changes",
                    path.display()
                ));
            }
            directory.pending.clear();
            directory.entries = entries.clone();
            directory.durable = entries;
        }
        let reachable: Vec<u64> = self
            .directories
            .values()
            .flat_map(|directory| directory.entries.values())
            .filter_map(|entry| match entry {
                Entry::File(inode) => Some(*inode),
                Entry::Directory => None,
            })
            .collect();
        self.inodes.retain(|id, _| reachable.contains(id));
        for inode in self.inodes.values_mut() {
            inode.linked = true;
        }
        let candidates: Vec<u64> = self
            .inodes
            .iter()
            .filter(|(_, inode)| !inode.data.is_empty())
            .map(|(id, _)| *id)
            .collect();
        if !candidates.is_empty() && self.rng.percent(self.faults.flip_synced_percent) {
            let id = candidates[self.rng.below(candidates.len() as u64) as usize];
            let inode = self.inodes.get_mut(&id).expect("a file");
            let bit = self.rng.below(inode.data.len() as u64 * 8);
            inode.data[(bit / 8) as usize] ^= 1 << (bit % 8);
            inode.durable = inode.data.clone();
            self.events.push(format!(
                "crash: bit flipped at {} offset {} (synced)",
                inode.name,
                bit / 8
            ));
            self.corrupted = true;
        }
    }

    fn create(&mut self, path: &Path) -> io::Result<u64> {
        let (parent, name) = split(path)?;
        let directory = self.directories.get_mut(&parent).ok_or_else(|| not_found(path))?;
        let inode = self.next_inode;
        self.next_inode += 1;
        directory.entries.insert(name.clone(), Entry::File(inode));
        directory.pending.push(DirectoryChange::Link(name, Entry::File(inode)));
        self.inodes.insert(
            inode,
            Inode {
                name: path
                    .file_name()
                    .map(|name| name.to_string_lossy().into_owned())
                    .unwrap_or_default(),
                linked: true,
                data: Vec::new(),
                durable: Vec::new(),
                pending: Vec::new(),
            },
        );
        Ok(inode)
    }
}

/// A file of the simulated disk opened for writing.
struct SimulatedFile {
    disk: SimulatedDisk,
    inode: u64,
}

impl AppendFile for SimulatedFile {
    fn append(&self, parts: &[&[u8]]) -> io::Result<()> {
        let mut disk = self.disk.disk();
        let len = disk.inodes.get(&self.inode).map_or(0, |inode| inode.data.len() as u64);
        disk.write(self.inode, len, parts)
    }

    fn write_at(&self, offset: u64, parts: &[&[u8]]) -> io::Result<()> {
        self.disk.disk().write(self.inode, offset, parts)
    }

    fn sync(&self) -> io::Result<()> {
        self.disk.disk().sync(self.inode)
    }

    fn truncate(&self, len: u64) -> io::Result<()> {
        self.disk.disk().truncate(self.inode, len)
    }
}

impl FileSystem for SimulatedDisk {
    fn create_dir_all(&self, dir: &Path) -> io::Result<()> {
        let mut disk = self.disk();
        disk.check_power()?;
        for ancestor in dir.ancestors() {
            disk.directories.entry(ancestor.to_owned()).or_default();
            if let (Some(parent), Some(name)) = (ancestor.parent(), ancestor.file_name()) {
                let parent = disk.directories.entry(parent.to_owned()).or_default();
                let name = name.to_string_lossy().into_owned();
                parent.entries.insert(name.clone(), Entry::Directory);
                parent.durable.insert(name, Entry::Directory);
            }
        }
        Ok(())
    }

    fn list(&self, dir: &Path) -> io::Result<Vec<String>> {
        let disk = self.disk();
        disk.check_power()?;
        let directory = disk.directories.get(dir).ok_or_else(|| not_found(dir))?;
        Ok(directory.entries.keys().cloned().collect())
    }

    fn read_all(&self, path: &Path) -> io::Result<Vec<u8>> {
        let disk = self.disk();
        disk.check_power()?;
        let inode = disk.lookup(path)?;
        Ok(disk.inodes[&inode].data.clone())
    }

    fn open_read(&self, path: &Path) -> io::Result<Box<dyn io::Read + Send>> {
        Ok(Box::new(io::Cursor::new(self.read_all(path)?)))
    }

    fn len(&self, path: &Path) -> io::Result<u64> {
        let disk = self.disk();
        disk.check_power()?;
        let inode = disk.lookup(path)?;
        Ok(disk.inodes[&inode].data.len() as u64)
    }

    fn open_append(&self, path: &Path) -> io::Result<Arc<dyn AppendFile>> {
        let mut disk = self.disk();
        disk.check_power()?;
        let inode = match disk.lookup(path) {
            Ok(inode) => inode,
            Err(error) if error.kind() == io::ErrorKind::NotFound => disk.create(path)?,
            Err(error) => return Err(error),
        };
        Ok(Arc::new(SimulatedFile {
            disk: self.clone(),
            inode,
        }))
    }

    fn truncate(&self, path: &Path, len: u64) -> io::Result<()> {
        let mut disk = self.disk();
        disk.check_power()?;
        let inode = disk.lookup(path)?;
        disk.truncate(inode, len)?;
        disk.sync(inode)
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        let mut disk = self.disk();
        disk.check_power()?;
        let inode = disk.lookup(from)?;
        let ((from_dir, from_name), (to_dir, to_name)) = (split(from)?, split(to)?);
        let entry = Entry::File(inode);
        if !disk.directories.contains_key(&to_dir) {
            return Err(not_found(to));
        }
        let replaced = if from_dir == to_dir {
            let directory = disk.directories.get_mut(&from_dir).expect("the directory of a file");
            directory.entries.remove(&from_name);
            let replaced = directory.entries.insert(to_name.clone(), entry);
            directory.pending.push(DirectoryChange::Rename {
                from: from_name,
                to: to_name,
                entry,
            });
            replaced
        } else {
            // Between directories: two changes, each durable with its own directory.
            let source = disk.directories.get_mut(&from_dir).expect("the directory of a file");
            source.entries.remove(&from_name);
            source.pending.push(DirectoryChange::Unlink(from_name));
            let target = disk.directories.get_mut(&to_dir).expect("checked above");
            target.pending.push(DirectoryChange::Link(to_name.clone(), entry));
            target.entries.insert(to_name, entry)
        };
        if let Some(Entry::File(replaced)) = replaced {
            disk.inodes.get_mut(&replaced).expect("a file").linked = false;
        }
        Ok(())
    }

    fn remove(&self, path: &Path) -> io::Result<()> {
        let mut disk = self.disk();
        disk.check_power()?;
        let inode = disk.lookup(path)?;
        disk.inodes.get_mut(&inode).expect("a file").linked = false;
        let (parent, name) = split(path)?;
        let directory = disk.directories.get_mut(&parent).expect("the directory of a file");
        directory.entries.remove(&name);
        directory.pending.push(DirectoryChange::Unlink(name));
        Ok(())
    }

    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        let mut disk = self.disk();
        if let Some(error) = disk.gate("directory sync", 0)? {
            return Err(error.error());
        }
        let directory = disk.directories.get_mut(dir).ok_or_else(|| not_found(dir))?;
        for change in directory.pending.drain(..) {
            change.apply(&mut directory.durable);
        }
        Ok(())
    }
}
