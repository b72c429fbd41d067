//! Record bodies: the state change each record kind carries. Layouts are in
//! docs/formats.md; all integers little-endian, strings UTF-8 with a u32
//! length. Decoding checks every length and returns `LOG_CORRUPT`-ready
//! messages; the caller adds the segment and offset.
//!
//! Page memory (page_memory/) entered the bodies as a trailing `memory u8`
//! of page-create and pages-create, and as the page-move kind. Records
//! written before it end without that byte; they decode to the default
//! memory for their creation, the one a new record of the same call logs.

use super::wave_body::WaveOutputs;
use crate::delta::encoding::EncodedBatch;
use crate::graph::{Edge, EdgeKind};
use crate::page::{Location, PageId};
use crate::page_memory::MemoryKind;

/// One state change, decoded from a record body; borrows the body's bytes.
#[derive(Debug)]
pub enum Change<'a> {
    PageCreate {
        id: PageId,
        size: u64,
        location: Location,
        memory: MemoryKind,
        metadata: Vec<(&'a str, &'a [u8])>,
    },
    PagesCreate {
        first_id: PageId,
        count: u64,
        size: u64,
        location: Location,
        memory: MemoryKind,
    },
    /// A page's bytes moved to another backend.
    PageMove {
        id: PageId,
        memory: MemoryKind,
    },
    PageRelease {
        id: PageId,
    },
    /// One or more deltas applied all or none (an `MDB1` batch, checked,
    /// decoded as it is applied).
    Deltas(EncodedBatch<'a>),
    /// The outputs of a wave record: whole-page dense deltas of source
    /// `propagation`, applied all or none.
    Wave(WaveOutputs<'a>),
    MetadataSet {
        id: PageId,
        key: &'a str,
        value: Option<&'a [u8]>,
    },
    /// A checkpoint at this LSN was written; replay ignores it.
    Checkpoint {
        lsn: u64,
    },
    EdgeAdd(Edge),
    EdgeRemove {
        parent: PageId,
        child: PageId,
    },
}

/// The body of a page-create record.
pub fn encode_page_create(
    id: PageId,
    size: u64,
    location: Location,
    memory: MemoryKind,
    metadata: &[(&str, &[u8])],
) -> Vec<u8> {
    let mut body = Vec::with_capacity(32);
    body.extend_from_slice(&id.to_le_bytes());
    body.extend_from_slice(&(size as u32).to_le_bytes());
    body.push(location as u8);
    body.extend_from_slice(&(metadata.len() as u32).to_le_bytes());
    for (key, value) in metadata {
        put_bytes(&mut body, key.as_bytes());
        put_bytes(&mut body, value);
    }
    body.push(memory as u8);
    body
}

/// The body of a pages-create record.
pub fn encode_pages_create(first_id: PageId, count: u64, size: u64, location: Location, memory: MemoryKind) -> Vec<u8> {
    let mut body = Vec::with_capacity(22);
    body.extend_from_slice(&first_id.to_le_bytes());
    body.extend_from_slice(&count.to_le_bytes());
    body.extend_from_slice(&(size as u32).to_le_bytes());
    body.push(location as u8);
    body.push(memory as u8);
    body
}

/// The body of a page-move record.
pub fn encode_page_move(id: PageId, memory: MemoryKind) -> Vec<u8> {
    let mut body = id.to_le_bytes().to_vec();
    body.push(memory as u8);
    body
}

pub fn encode_page_release(id: PageId) -> Vec<u8> {
    id.to_le_bytes().to_vec()
}

pub fn encode_metadata_set(id: PageId, key: &str, value: Option<&[u8]>) -> Vec<u8> {
    let mut body = Vec::with_capacity(16 + key.len() + value.map_or(0, <[u8]>::len));
    body.extend_from_slice(&id.to_le_bytes());
    put_bytes(&mut body, key.as_bytes());
    match value {
        Some(value) => {
            body.push(1);
            put_bytes(&mut body, value);
        }
        None => body.push(0),
    }
    body
}

pub fn encode_edge_add(edge: Edge) -> Vec<u8> {
    let mut body = Vec::with_capacity(17);
    body.extend_from_slice(&edge.parent.to_le_bytes());
    body.extend_from_slice(&edge.child.to_le_bytes());
    body.push(edge.kind as u8);
    body
}

pub fn encode_edge_remove(parent: PageId, child: PageId) -> Vec<u8> {
    let mut body = Vec::with_capacity(16);
    body.extend_from_slice(&parent.to_le_bytes());
    body.extend_from_slice(&child.to_le_bytes());
    body
}

pub fn encode_checkpoint(lsn: u64) -> Vec<u8> {
    lsn.to_le_bytes().to_vec()
}

fn put_bytes(body: &mut Vec<u8>, bytes: &[u8]) {
    body.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
    body.extend_from_slice(bytes);
}

/// Decodes a body; the error is a description for a `LOG_CORRUPT` message.
pub fn decode(kind: super::record::RecordKind, body: &[u8]) -> Result<Change<'_>, String> {
    use super::record::RecordKind;
    let mut reader = Reader { body, cursor: 0 };
    let change = match kind {
        RecordKind::PageCreate => {
            let id = reader.u64()?;
            let size = u64::from(reader.u32()?);
            let location = reader.location()?;
            let count = reader.u32()? as usize;
            if count > body.len() / 8 {
                return Err(format!("page-create claims {count} metadata entries"));
            }
            let mut metadata = Vec::with_capacity(count);
            for _ in 0..count {
                let key = reader.string()?;
                metadata.push((key, reader.bytes()?));
            }
            let memory = reader.trailing_memory(MemoryKind::default_for_page(location, size))?;
            Change::PageCreate {
                id,
                size,
                location,
                memory,
                metadata,
            }
        }
        RecordKind::PagesCreate => {
            let first_id = reader.u64()?;
            let count = reader.u64()?;
            let size = u64::from(reader.u32()?);
            let location = reader.location()?;
            let memory = reader.trailing_memory(MemoryKind::default_for_pages(location, size))?;
            Change::PagesCreate {
                first_id,
                count,
                size,
                location,
                memory,
            }
        }
        RecordKind::PageMove => Change::PageMove {
            id: reader.u64()?,
            memory: reader.memory()?,
        },
        RecordKind::PageRelease => Change::PageRelease { id: reader.u64()? },
        RecordKind::Deltas => {
            let batch = EncodedBatch::parse(body).map_err(|error| error.message)?;
            reader.cursor = body.len();
            Change::Deltas(batch)
        }
        RecordKind::Wave => {
            let outputs = super::wave_body::decode(body)?;
            reader.cursor = body.len();
            Change::Wave(outputs)
        }
        RecordKind::MetadataSet => {
            let id = reader.u64()?;
            let key = reader.string()?;
            let value = match reader.u8()? {
                0 => None,
                1 => Some(reader.bytes()?),
                other => return Err(format!("metadata-set has value flag {other}")),
            };
            Change::MetadataSet { id, key, value }
        }
        RecordKind::Checkpoint => Change::Checkpoint { lsn: reader.u64()? },
        RecordKind::EdgeAdd => {
            let parent = reader.u64()?;
            let child = reader.u64()?;
            let kind = reader.u8()?;
            let kind = EdgeKind::from_u8(kind).ok_or_else(|| format!("unknown edge kind {kind}"))?;
            Change::EdgeAdd(Edge { parent, child, kind })
        }
        RecordKind::EdgeRemove => Change::EdgeRemove {
            parent: reader.u64()?,
            child: reader.u64()?,
        },
    };
    if reader.cursor != body.len() {
        return Err(format!(
            "{} trailing bytes in a {} body",
            body.len() - reader.cursor,
            kind.name()
        ));
    }
    Ok(change)
}

struct Reader<'a> {
    body: &'a [u8],
    cursor: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, len: usize) -> Result<&'a [u8], String> {
        let slice = self
            .body
            .get(self.cursor..)
            .and_then(|rest| rest.get(..len))
            .ok_or_else(|| format!("body truncated at byte {}", self.cursor))?;
        self.cursor += len;
        Ok(slice)
    }

    fn u8(&mut self) -> Result<u8, String> {
        Ok(self.take(1)?[0])
    }

    fn u32(&mut self) -> Result<u32, String> {
        Ok(u32::from_le_bytes(self.take(4)?.try_into().expect("4 bytes")))
    }

    fn u64(&mut self) -> Result<u64, String> {
        Ok(u64::from_le_bytes(self.take(8)?.try_into().expect("8 bytes")))
    }

    fn bytes(&mut self) -> Result<&'a [u8], String> {
        let len = self.u32()? as usize;
        self.take(len)
    }

    fn string(&mut self) -> Result<&'a str, String> {
        std::str::from_utf8(self.bytes()?).map_err(|_| "a key is not UTF-8".to_owned())
    }

    fn memory(&mut self) -> Result<MemoryKind, String> {
        let value = self.u8()?;
        MemoryKind::from_u8(value).ok_or_else(|| format!("unknown page memory {value}"))
    }

    /// The memory byte that ends a create body, or `default` for a body
    /// written before page memory existed.
    fn trailing_memory(&mut self, default: MemoryKind) -> Result<MemoryKind, String> {
        if self.cursor == self.body.len() {
            return Ok(default);
        }
        self.memory()
    }

    fn location(&mut self) -> Result<Location, String> {
        match self.u8()? {
            0 => Ok(Location::Cpu),
            1 => Ok(Location::Gpu),
            2 => Ok(Location::Unified),
            other => Err(format!("unknown location {other}")),
        }
    }
}
