//! Read-only inspection of a data directory for the `mmsb` tools: listing
//! segments and checkpoints, scanning a segment, checking checkpoints and
//! replayed history against their stored hashes, and salvaging a damaged log.
//! Nothing here takes the directory's lock or changes a file, except `repair`.

use std::path::{Path, PathBuf};

use crate::checkpoint::{checkpoint_name, load_checkpoint, parse_checkpoint_name, read_header, write_checkpoint};
use crate::directory::{unused_name, DataDirectory, DirectoryFiles};
use crate::error::{fail, Error, ErrorCode, Result};
use crate::log::record::{read_frame, Frame, Record};
use crate::log::scan::scan_segment;
use crate::log::segment::{parse_segment_name, read_segment_header, segment_name, SEGMENT_HEADER_BYTES};
use crate::page_memory::MemoryConfig;
use crate::recovery::{apply_record, load_base, recover, replay, SegmentReads};
use crate::state::State;
use crate::storage::{write_synced, FileSystem};
use crate::StateHash;

/// A file of the data directory and its size.
#[derive(Clone, Debug)]
pub struct NumberedFile {
    pub number: u64,
    pub path: PathBuf,
    pub bytes: u64,
}

/// The segments and checkpoints of a data directory, ascending.
pub struct Listing {
    pub segments: Vec<NumberedFile>,
    pub checkpoints: Vec<NumberedFile>,
}

pub fn list(fs: &dyn FileSystem, dir: &Path) -> Result<Listing> {
    let numbered = |sub: &str, parse: fn(&str) -> Option<u64>| -> Result<Vec<NumberedFile>> {
        let sub_dir = dir.join(sub);
        let names = fs
            .list(&sub_dir)
            .map_err(|error| Error::io("listing", &sub_dir, &error))?;
        let mut files = Vec::new();
        for name in names {
            if let Some(number) = parse(&name) {
                let path = sub_dir.join(&name);
                let bytes = fs.len(&path).map_err(|error| Error::io("reading", &path, &error))?;
                files.push(NumberedFile { number, path, bytes });
            }
        }
        files.sort_by_key(|file| file.number);
        Ok(files)
    };
    Ok(Listing {
        segments: numbered("log", parse_segment_name)?,
        checkpoints: numbered("checkpoints", parse_checkpoint_name)?,
    })
}

/// One record as `mmsb log` shows it.
#[derive(Clone, Debug)]
pub struct RecordSummary {
    pub lsn: u64,
    pub kind: &'static str,
    pub offset: u64,
    pub body_bytes: u64,
}

/// What a segment holds.
pub struct SegmentScan {
    pub records: Vec<RecordSummary>,
    pub valid_end: u64,
    /// Bytes after the last valid record that are not preallocated zeros (a
    /// torn tail, if this is the newest segment).
    pub torn_bytes: u64,
}

/// Scans one segment, checking every record's checksum.
pub fn scan(fs: &dyn FileSystem, path: &Path, first_lsn: u64, is_last: bool) -> Result<SegmentScan> {
    let bytes = fs.read_all(path).map_err(|error| Error::io("reading", path, &error))?;
    let name = path
        .file_name()
        .map_or_else(String::new, |name| name.to_string_lossy().into_owned());
    let scanned = scan_segment(&name, &bytes, first_lsn, is_last)?;
    Ok(SegmentScan {
        records: scanned
            .records
            .iter()
            .map(|(record, offset)| RecordSummary {
                lsn: record.lsn,
                kind: record.kind.name(),
                offset: *offset as u64,
                body_bytes: record.stored_body.len() as u64,
            })
            .collect(),
        valid_end: scanned.valid_end as u64,
        torn_bytes: (scanned.torn_end - scanned.valid_end) as u64,
    })
}

/// A checkpoint checked: its stored hash against the hash of the state it
/// loads (with its chain of bases, for an incremental one).
pub struct CheckpointCheck {
    pub lsn: u64,
    /// 0 for a full checkpoint, else the checkpoint it extends.
    pub base_lsn: u64,
    pub pages: u64,
    pub stored: StateHash,
    pub computed: StateHash,
}

pub fn check_checkpoint(fs: &dyn FileSystem, dir: &Path, lsn: u64) -> Result<CheckpointCheck> {
    let header = read_header(fs, &dir.join(checkpoint_name(lsn)))?;
    let state = load_checkpoint(fs, dir, lsn)?;
    Ok(CheckpointCheck {
        lsn,
        base_lsn: header.base_lsn,
        pages: state.live_page_count() as u64,
        stored: StateHash(header.state_hash),
        computed: state.state_hash(),
    })
}

/// A checkpoint's stored hash beside the hash of the replayed log at its LSN.
pub struct HistoryCheck {
    pub lsn: u64,
    pub stored: StateHash,
    pub replayed: StateHash,
}

/// What `check_history` found.
pub struct History {
    /// The checkpoints the log reaches, each compared with the replayed log.
    pub checks: Vec<HistoryCheck>,
    /// The state at the end of the log.
    pub state: State,
    pub last_lsn: u64,
    /// The torn tail the next open would cut: segment, offset and bytes.
    pub torn_tail: Option<(String, u64, u64)>,
    /// Files kept aside by recovery (`salvage/`) and repair (`salvage-<LSN>/`).
    pub salvage_files: Vec<PathBuf>,
    /// Damage to history that opening does not need: a checkpoint the log
    /// announces that is missing, a checkpoint the log no longer follows.
    pub problems: Vec<String>,
}

/// Replays the log from a base below each checkpoint up to it and compares
/// the replayed hash with the checkpoint's stored one (for the checkpoints
/// the log reaches: a base below them with the log after it); then recovers
/// to the end of the log with every cross-check of recovery, changing no file.
pub fn check_history(fs: &dyn FileSystem, dir: &Path) -> Result<History> {
    let files = DataDirectory::at(dir).files(fs)?;
    let log_first = files.log_first_lsn();
    let log_dir = dir.join("log");
    let checkpoint_dir = dir.join("checkpoints");
    let mut checks = Vec::new();
    for (index, &lsn) in files.checkpoints.iter().enumerate() {
        let earlier = &files.checkpoints[..index];
        let reachable = log_first == 1 || earlier.iter().any(|&base| base + 1 >= log_first);
        if !reachable {
            continue;
        }
        let (base, base_lsn) = load_base(fs, &checkpoint_dir, earlier, lsn, log_first, &MemoryConfig::Private)?;
        let replayed = replay(
            fs,
            &log_dir,
            &files.segments,
            base,
            base_lsn,
            Some(lsn),
            SegmentReads::Copied,
        )?;
        let stored = StateHash(read_header(fs, &checkpoint_dir.join(checkpoint_name(lsn)))?.state_hash);
        checks.push(HistoryCheck {
            lsn,
            stored,
            replayed: replayed.state.state_hash(),
        });
    }
    let recovered = recover(fs, dir, &files, &MemoryConfig::Private, SegmentReads::Copied)?;
    let mut problems = unusable_checkpoints(fs, &checkpoint_dir, &files);
    if let Some(&newest) = recovered.checkpoint_markers.last() {
        if files.checkpoints.last().is_none_or(|&lsn| lsn < newest) {
            problems.push(format!(
                "checkpoint {} is missing: the log announces it (the newest checkpoint, always retained)",
                checkpoint_name(newest)
            ));
        }
    }
    let torn_tail = recovered
        .tail
        .as_ref()
        .filter(|tail| tail.torn_bytes() > 0)
        .map(|tail| (segment_name(tail.segment_first_lsn), tail.valid_len, tail.torn_bytes()));
    Ok(History {
        checks,
        state: recovered.state,
        last_lsn: recovered.last_lsn,
        torn_tail,
        salvage_files: salvage_files(fs, dir)?,
        problems,
    })
}

/// The checkpoints nothing can use: neither followed by the log (records
/// between them and the oldest segment are missing) nor a base of one that is.
fn unusable_checkpoints(fs: &dyn FileSystem, checkpoint_dir: &Path, files: &DirectoryFiles) -> Vec<String> {
    let log_first = files.log_first_lsn();
    let followed = files.checkpoints.iter().copied().filter(|&lsn| lsn + 1 >= log_first);
    let needed = with_bases(fs, checkpoint_dir, followed);
    files
        .checkpoints
        .iter()
        .filter(|lsn| !needed.contains(lsn))
        .map(|&lsn| {
            format!(
                "checkpoint {} cannot be used: the log after it starts at LSN {log_first}, so records {} to {} are missing",
                checkpoint_name(lsn),
                lsn + 1,
                log_first - 1
            )
        })
        .collect()
}

/// The files under `<dir>/salvage/` and `<dir>/salvage-<LSN>/`, sorted.
pub fn salvage_files(fs: &dyn FileSystem, dir: &Path) -> Result<Vec<PathBuf>> {
    let names = fs.list(dir).map_err(|error| Error::io("listing", dir, &error))?;
    let mut files = Vec::new();
    for name in names.iter().filter(|name| name.starts_with("salvage")) {
        let sub_dir = dir.join(name);
        if let Ok(inner) = fs.list(&sub_dir) {
            files.extend(inner.into_iter().map(|inner| sub_dir.join(inner)));
        }
    }
    files.sort();
    Ok(files)
}

/// What `repair` did.
pub struct RepairReport {
    /// Where the files it cut or moved are kept, byte for byte; `None` when
    /// it kept nothing aside (the directory already opened cleanly, or only
    /// a checkpoint was written).
    pub salvage_dir: Option<PathBuf>,
    /// The names of the files moved (or, for a cut segment, copied) there.
    pub kept_aside: Vec<String>,
    /// The segment cut and the offset it now ends at, when one was cut.
    pub cut_at: Option<(String, u64)>,
    /// The LSN the directory now opens at.
    pub last_lsn: u64,
    /// The LSN of the full checkpoint repair wrote to stand in for a lost one.
    pub checkpoint_written: Option<u64>,
}

/// The longest run of valid records a segment starts with.
struct SegmentPrefix {
    first_lsn: u64,
    records: u64,
    /// The end of the last valid record.
    end: u64,
    /// Nothing but fill (or a seal naming the next LSN) follows the records.
    whole: bool,
    sealed: bool,
}

/// Whether a record, at an offset of its segment, belongs to the history
/// (repair's replay: it decodes and applies); `Err` when that cannot be known.
type Applies<'a> = dyn FnMut(&Record<'_>, usize) -> Result<bool> + 'a;

/// The valid records `bytes` starts with, from LSN `first_lsn`, up to the
/// first one `applies` refuses: the prefix then ends at that record.
fn segment_prefix(bytes: &[u8], first_lsn: u64, applies: &mut Applies<'_>) -> Result<SegmentPrefix> {
    let header = read_segment_header(bytes).filter(|header| header.first_lsn == first_lsn);
    let mut prefix = SegmentPrefix {
        first_lsn,
        records: 0,
        end: 0,
        whole: false,
        sealed: false,
    };
    let Some(header) = header else {
        return Ok(prefix);
    };
    let mut offset = SEGMENT_HEADER_BYTES;
    loop {
        match read_frame(bytes, offset) {
            Frame::Valid(record, next) if record.lsn == first_lsn + prefix.records => {
                if !applies(&record, offset)? {
                    break;
                }
                prefix.records += 1;
                offset = next;
            }
            Frame::Seal(named, next) if named == first_lsn + prefix.records && next == bytes.len() => {
                prefix.sealed = true;
                prefix.whole = true;
                break;
            }
            _ => {
                prefix.whole = bytes[offset.min(bytes.len())..].iter().all(|&byte| byte == header.fill);
                break;
            }
        }
    }
    prefix.end = offset as u64;
    Ok(prefix)
}

/// A run of segments whose records chain without a gap or damage.
struct Run {
    /// Indexes into the segment list.
    segments: std::ops::Range<usize>,
    first_lsn: u64,
    /// The LSN of the run's last record (`first_lsn - 1` when it has none).
    last_lsn: u64,
}

fn runs(prefixes: &[SegmentPrefix]) -> Vec<Run> {
    let mut runs: Vec<Run> = Vec::new();
    for (index, prefix) in prefixes.iter().enumerate() {
        // Damaged bytes after a segment's records (a broken seal) break the
        // run only when records are missing: the next segment must follow.
        let continues = runs
            .last()
            .is_some_and(|run| run.last_lsn + 1 == prefix.first_lsn && run.segments.end == index && prefix.end > 0);
        if continues {
            let run = runs.last_mut().expect("a run to continue");
            run.segments.end = index + 1;
            run.last_lsn += prefix.records;
        } else if prefix.end > 0 {
            runs.push(Run {
                segments: index..index + 1,
                first_lsn: prefix.first_lsn,
                last_lsn: prefix.first_lsn + prefix.records - 1,
            });
        }
    }
    runs
}

/// The run that holds the records right after `base` (a base's LSN).
fn run_after(runs: &[Run], base: u64) -> Option<&Run> {
    runs.iter()
        .find(|run| run.first_lsn <= base + 1 && base <= run.last_lsn)
}

/// Replays the segments `run` onto `state`, the state at LSN `base`: the
/// prefix of the segment holding the first record that does not decode or
/// apply ends at that record, so the run ends there too.
fn end_where_records_apply(
    fs: &dyn FileSystem,
    segments: &[NumberedFile],
    prefixes: &mut [SegmentPrefix],
    run: std::ops::Range<usize>,
    base: u64,
    mut state: State,
) -> Result<()> {
    for index in run {
        let (file, framed) = (&segments[index], &prefixes[index]);
        if framed.first_lsn + framed.records <= base + 1 {
            continue;
        }
        let bytes = fs
            .read_all(&file.path)
            .map_err(|error| Error::io("reading", &file.path, &error))?;
        let name = segment_name(file.number);
        let applied = segment_prefix(&bytes, file.number, &mut |record, offset| {
            if record.lsn <= base {
                return Ok(true);
            }
            match apply_record(&mut state, record, &name, offset) {
                Ok(_) => Ok(true),
                Err(error) if error.code == ErrorCode::LogCorrupt => Ok(false),
                Err(error) => Err(error),
            }
        })?;
        let cut = applied.records < framed.records;
        prefixes[index] = applied;
        if cut {
            break;
        }
    }
    Ok(())
}

/// Where repair keeps the files it cuts or moves, byte for byte: a new
/// directory, created with the first file kept so that a repair that keeps
/// nothing leaves none.
struct Salvage {
    dir: PathBuf,
    /// The names of the files kept there.
    kept: Vec<String>,
}

impl Salvage {
    /// `<dir>/salvage-<lsn>/`, with a suffix when that name is taken.
    fn at(fs: &dyn FileSystem, dir: &Path, lsn: u64) -> Result<Salvage> {
        let name = unused_name(fs, dir, |attempt| match attempt {
            1 => format!("salvage-{lsn}"),
            _ => format!("salvage-{lsn}-{attempt}"),
        })?;
        Ok(Salvage {
            dir: dir.join(name),
            kept: Vec::new(),
        })
    }

    /// The destination of `path`, creating the directory for the first file.
    fn destination(&mut self, fs: &dyn FileSystem, path: &Path) -> Result<PathBuf> {
        if self.kept.is_empty() {
            fs.create_dir_all(&self.dir)
                .map_err(|error| Error::io("creating", &self.dir, &error))?;
        }
        let name = path.file_name().expect("data files have names");
        self.kept.push(name.to_string_lossy().into_owned());
        Ok(self.dir.join(name))
    }

    fn move_aside(&mut self, fs: &dyn FileSystem, path: &Path) -> Result<()> {
        let destination = self.destination(fs, path)?;
        fs.rename(path, &destination)
            .map_err(|error| Error::io("moving", path, &error))
    }

    /// Copies `path` (synced), for a file that is then cut.
    fn copy_aside(&mut self, fs: &dyn FileSystem, path: &Path) -> Result<()> {
        let bytes = fs.read_all(path).map_err(|error| Error::io("reading", path, &error))?;
        let copy = self.destination(fs, path)?;
        write_synced(fs, &copy, &bytes).map_err(|error| Error::io("writing", &copy, &error))
    }
}

/// Brings a directory that does not open, or that `check_history` finds
/// damaged, back to the longest consistent history it holds, keeping every
/// byte it cuts.
///
/// It looks for the base — the empty state when the log starts at LSN 1,
/// or any checkpoint that loads — and the run of valid log records after it
/// that reach the highest LSN (the earliest such base, to keep the most
/// history). It replays the run from that base: the history ends before the
/// first record that frames correctly but does not decode or apply, as it
/// would at damage. Then, into `<dir>/salvage-<LSN>/`, it moves the segments
/// outside that history and the checkpoints that do not load, lie past its
/// end or that the kept log no longer follows; a segment of the history with
/// bytes after its kept records (a damaged seal, a torn tail, a record that
/// does not apply), or the history's last segment when it is sealed, is
/// copied there and cut to its kept records. The salvage directory is
/// created only when a file is kept there. When no base exists it changes
/// nothing and says why. It takes the directory's lock, so it never runs
/// under an open bus.
pub fn repair(fs: &dyn FileSystem, dir: &Path) -> Result<RepairReport> {
    let _lock = DataDirectory::at(dir).lock()?;
    let listing = list(fs, dir)?;
    let files = DataDirectory::at(dir).files(fs)?;
    if let Ok(last_lsn) = healthy(fs, dir, &listing) {
        return Ok(RepairReport {
            salvage_dir: None,
            kept_aside: Vec::new(),
            cut_at: None,
            last_lsn,
            checkpoint_written: None,
        });
    }
    let mut prefixes = Vec::new();
    for file in &listing.segments {
        let bytes = fs
            .read_all(&file.path)
            .map_err(|error| Error::io("reading", &file.path, &error))?;
        prefixes.push(segment_prefix(&bytes, file.number, &mut |_, _| Ok(true))?);
    }
    let framed = runs(&prefixes);
    let checkpoint_dir = dir.join("checkpoints");
    let loadable: Vec<u64> = files
        .checkpoints
        .iter()
        .copied()
        .filter(|&lsn| load_checkpoint(fs, &checkpoint_dir, lsn).is_ok())
        .collect();
    // Candidates: (the base, the LSN the history after it reaches).
    let mut best: Option<(u64, u64)> = None;
    let bases = framed
        .iter()
        .any(|run| run.first_lsn == 1)
        .then_some(0)
        .into_iter()
        .chain(loadable.iter().copied());
    for base in bases {
        let reaches = run_after(&framed, base).map_or(base, |run| run.last_lsn.max(base));
        if best.is_none_or(|(_, best_reach)| reaches > best_reach) {
            best = Some((base, reaches));
        }
    }
    let Some((base, _)) = best else {
        return fail!(
            LogCorrupt,
            "repair cannot rebuild a consistent state of {}: the log starts at LSN {} and no \
             checkpoint that loads covers the records before it; nothing was changed (restore the \
             missing segments or checkpoints from a backup)",
            dir.display(),
            files.log_first_lsn()
        );
    };
    if let Some(run) = run_after(&framed, base) {
        let state = match base {
            0 => State::with_memory(&MemoryConfig::Private),
            _ => load_checkpoint(fs, &checkpoint_dir, base)?,
        };
        end_where_records_apply(fs, &listing.segments, &mut prefixes, run.segments.clone(), base, state)?;
    }
    let runs = runs(&prefixes);
    let run = run_after(&runs, base);
    let last_lsn = run.map_or(base, |run| run.last_lsn.max(base));
    let kept_segments = run.map_or(0..0, |run| run.segments.clone());
    let log_first = run.map_or(last_lsn + 1, |run| run.first_lsn);
    // Kept: those that load, at most `last_lsn`, followed by the kept log, with their bases.
    let followed = loadable
        .iter()
        .copied()
        .filter(|&lsn| lsn <= last_lsn && lsn + 1 >= log_first);
    let usable = with_bases(fs, &checkpoint_dir, followed);
    let mut salvage = Salvage::at(fs, dir, last_lsn + 1)?;
    let mut cut_at = None;
    for (index, file) in listing.segments.iter().enumerate() {
        let prefix = &prefixes[index];
        if !kept_segments.contains(&index) {
            salvage.move_aside(fs, &file.path)?;
        } else if !prefix.whole || (prefix.sealed && index + 1 == kept_segments.end) {
            salvage.copy_aside(fs, &file.path)?;
            fs.truncate(&file.path, prefix.end)
                .map_err(|error| Error::io("truncating", &file.path, &error))?;
            cut_at = Some((segment_name(file.number), prefix.end));
        }
    }
    for file in listing.checkpoints.iter().filter(|file| !usable.contains(&file.number)) {
        salvage.move_aside(fs, &file.path)?;
    }
    if kept_segments.is_empty() {
        crate::log::writer::LogWriter::create_segment(fs, &dir.join("log"), last_lsn + 1)?;
    }
    let salvage_dir = (!salvage.kept.is_empty()).then_some(salvage.dir);
    let log_dir = dir.join("log");
    for sub in salvage_dir.iter().chain([&log_dir, &checkpoint_dir]) {
        fs.sync_dir(sub)
            .map_err(|error| Error::io("syncing directory", sub, &error))?;
    }
    // What moving files cannot mend (a lost newest checkpoint): a full
    // checkpoint of the recovered state stands in for it.
    let mut checkpoint_written = None;
    if healthy(fs, dir, &list(fs, dir)?).is_err() {
        let files = DataDirectory::at(dir).files(fs)?;
        if let Ok(recovered) = recover(fs, dir, &files, &MemoryConfig::Private, SegmentReads::Copied) {
            write_checkpoint(fs, &checkpoint_dir, &recovered.state, recovered.last_lsn, None)?;
            checkpoint_written = Some(recovered.last_lsn);
        }
    }
    if let Err(reason) = healthy(fs, dir, &list(fs, dir)?) {
        let kept = match &salvage_dir {
            Some(salvage_dir) => format!("moved {} file(s) into {}", salvage.kept.len(), salvage_dir.display()),
            None => "found no file to cut or move aside".to_owned(),
        };
        return fail!(
            LogCorrupt,
            "repair {kept} but the directory still does not check out ({reason}); run `mmsb verify`"
        );
    }
    Ok(RepairReport {
        salvage_dir,
        kept_aside: salvage.kept,
        cut_at,
        last_lsn,
        checkpoint_written,
    })
}

/// The LSN a directory opens at when everything `mmsb verify` checks holds
/// (every segment scans, every checkpoint loads to its stored hash, the
/// history agrees and has no problem, no torn tail); otherwise the first
/// thing that does not.
fn healthy(fs: &dyn FileSystem, dir: &Path, listing: &Listing) -> std::result::Result<u64, String> {
    let last = listing.segments.len().checked_sub(1);
    for (index, file) in listing.segments.iter().enumerate() {
        scan(fs, &file.path, file.number, Some(index) == last).map_err(|error| error.message)?;
    }
    for file in &listing.checkpoints {
        let check = check_checkpoint(fs, &dir.join("checkpoints"), file.number).map_err(|error| error.message)?;
        if check.stored != check.computed {
            return Err(format!(
                "checkpoint {} does not load to its stored hash",
                file.path.display()
            ));
        }
    }
    let history = check_history(fs, dir).map_err(|error| error.message)?;
    if let Some(check) = history.checks.iter().find(|check| check.stored != check.replayed) {
        return Err(format!(
            "the checkpoint at LSN {} disagrees with the log replayed to it",
            check.lsn
        ));
    }
    if let Some(problem) = history.problems.first() {
        return Err(problem.clone());
    }
    if history.torn_tail.is_some() {
        return Err("the newest segment ends in a torn tail".to_owned());
    }
    Ok(history.last_lsn)
}

/// `checkpoints` and every base their chains name (read from their headers).
fn with_bases(fs: &dyn FileSystem, checkpoint_dir: &Path, checkpoints: impl Iterator<Item = u64>) -> Vec<u64> {
    let mut chains = Vec::new();
    for lsn in checkpoints {
        let mut link = lsn;
        while link != 0 && !chains.contains(&link) {
            chains.push(link);
            link = read_header(fs, &checkpoint_dir.join(checkpoint_name(link))).map_or(0, |header| header.base_lsn);
        }
    }
    chains
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::{healthy, list};
    use crate::checkpoint::checkpoint_name;
    use crate::storage::OsFileSystem;
    use crate::{Location, Store, StoreOptions};

    /// `repair` reports why a directory still does not check out with this.
    #[test]
    fn healthy_names_what_does_not_check_out() {
        let dir = std::env::temp_dir().join(format!("mmsb-healthy-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let info = {
            let mut store = Store::open(Arc::new(OsFileSystem), &dir, StoreOptions::default()).unwrap();
            store.create_page(16, Location::Cpu, &[]).unwrap();
            let info = store.checkpoint(true).unwrap();
            store.sync_job().unwrap().run().unwrap();
            info
        };
        assert_eq!(
            healthy(&OsFileSystem, &dir, &list(&OsFileSystem, &dir).unwrap()),
            Ok(info.lsn + 1)
        );
        let checkpoint = dir.join("checkpoints").join(checkpoint_name(info.lsn));
        let mut bytes = std::fs::read(&checkpoint).unwrap();
        bytes[0] ^= 0xff;
        std::fs::write(&checkpoint, bytes).unwrap();
        let reason = healthy(&OsFileSystem, &dir, &list(&OsFileSystem, &dir).unwrap()).unwrap_err();
        assert!(
            reason.contains(&checkpoint_name(info.lsn)) && reason.contains("magic"),
            "{reason}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
