//! Page metadata: string keys mapped to msgpack-encoded values.
//!
//! Keys iterate in byte order, which the state hash relies on. Most pages
//! carry none; `Page` keeps the map out of line (see `page.rs`).

use std::collections::BTreeMap;

use crate::error::{fail, Result};
use crate::msgpack::validate_single_value;

/// The longest key, in UTF-8 bytes.
pub const METADATA_KEY_BYTES_MAX: usize = 256;
/// The largest encoded value, in bytes.
pub const METADATA_VALUE_BYTES_MAX: usize = 64 * 1024;

#[derive(Clone, Default, Debug, PartialEq, Eq)]
pub struct Metadata(BTreeMap<String, Box<[u8]>>);

/// The metadata of every page that has none.
pub static EMPTY_METADATA: Metadata = Metadata(BTreeMap::new());

impl Metadata {
    pub fn get(&self, key: &str) -> Option<&[u8]> {
        self.0.get(key).map(|value| &**value)
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Entries in key byte order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &[u8])> {
        self.0.iter().map(|(key, value)| (key.as_str(), &**value))
    }

    /// Sets `key` to a validated msgpack value, or removes it for `None`.
    pub fn set(&mut self, key: &str, value: Option<&[u8]>) -> Result<()> {
        validate_entry(key, value)?;
        match value {
            Some(value) => self.0.insert(key.to_owned(), value.into()),
            None => self.0.remove(key),
        };
        Ok(())
    }
}

/// Checks one entry without changing anything, so batches can validate first.
pub fn validate_entry(key: &str, value: Option<&[u8]>) -> Result<()> {
    if key.is_empty() || key.len() > METADATA_KEY_BYTES_MAX {
        return fail!(
            MetadataInvalid,
            "metadata key {key:?} must be 1..={METADATA_KEY_BYTES_MAX} bytes"
        );
    }
    if let Some(value) = value {
        if value.len() > METADATA_VALUE_BYTES_MAX {
            return fail!(
                MetadataInvalid,
                "metadata value for {key:?} is {} bytes, above {METADATA_VALUE_BYTES_MAX}",
                value.len()
            );
        }
        validate_single_value(value)
            .map_err(|error| crate::error::Error::new(error.code, format!("metadata {key:?}: {}", error.message)))?;
    }
    Ok(())
}
