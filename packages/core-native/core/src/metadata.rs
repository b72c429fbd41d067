//! Page metadata: string keys mapped to msgpack-encoded values.
//!
//! Most pages carry none, so the map sits behind an `Option<Box<_>>` and an
//! empty map costs one pointer per page. Keys iterate in byte order, which
//! the state hash relies on.

use std::collections::BTreeMap;

use crate::error::{fail, Result};
use crate::msgpack::validate_single_value;

/// The longest key, in UTF-8 bytes.
pub const METADATA_KEY_BYTES_MAX: usize = 256;
/// The largest encoded value, in bytes.
pub const METADATA_VALUE_BYTES_MAX: usize = 64 * 1024;

// The box is deliberate: an empty `BTreeMap` is 24 bytes inline, a `None`
// box is 8, and a million pages mostly carry no metadata.
#[allow(clippy::box_collection)]
#[derive(Clone, Default, Debug, PartialEq, Eq)]
pub struct Metadata(Option<Box<BTreeMap<String, Box<[u8]>>>>);

impl Metadata {
    pub fn get(&self, key: &str) -> Option<&[u8]> {
        self.0.as_ref()?.get(key).map(|value| &**value)
    }

    pub fn len(&self) -> usize {
        self.0.as_ref().map_or(0, |map| map.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Entries in key byte order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &[u8])> {
        self.0
            .iter()
            .flat_map(|map| map.iter().map(|(key, value)| (key.as_str(), &**value)))
    }

    /// Sets `key` to a validated msgpack value, or removes it for `None`.
    pub fn set(&mut self, key: &str, value: Option<&[u8]>) -> Result<()> {
        validate_entry(key, value)?;
        match value {
            Some(value) => {
                self.0
                    .get_or_insert_with(Default::default)
                    .insert(key.to_owned(), value.into());
            }
            None => {
                if let Some(map) = self.0.as_mut() {
                    map.remove(key);
                    if map.is_empty() {
                        self.0 = None;
                    }
                }
            }
        }
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
