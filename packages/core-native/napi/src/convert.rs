//! Conversions at the boundary: JS numbers to exact integers, core errors
//! to JS errors that carry the core's code.
//!
//! Numbers cross as f64 and are checked to be exact non-negative integers
//! (≤ 2^53) here, because napi's own integer conversion truncates silently.

use mmsb_core::{ErrorCode, PageId, Source};

/// A core error code as napi's error status, which becomes the JS `code`.
pub struct Code(&'static str);

impl AsRef<str> for Code {
    fn as_ref(&self) -> &str {
        self.0
    }
}

pub(crate) type Result<T> = std::result::Result<T, napi::Error<Code>>;

pub(crate) fn fail(error: mmsb_core::Error) -> napi::Error<Code> {
    napi::Error::new(Code(error.code.as_str()), error.message)
}

pub(crate) fn invalid(message: String) -> napi::Error<Code> {
    napi::Error::new(Code(ErrorCode::InvalidArgument.as_str()), message)
}

pub(crate) fn napi_failure(error: napi::Error) -> napi::Error<Code> {
    invalid(error.reason)
}

/// The largest integer a JS number holds exactly.
pub(crate) const SAFE_INTEGER_MAX: f64 = 9_007_199_254_740_991.0;

pub(crate) fn to_u64(value: f64, what: &str) -> Result<u64> {
    if value.fract() != 0.0 || !(0.0..=SAFE_INTEGER_MAX).contains(&value) {
        return Err(invalid(format!(
            "{what} must be a non-negative safe integer, got {value}"
        )));
    }
    Ok(value as u64)
}

pub(crate) fn to_page_ids(ids: &[f64]) -> Result<Vec<PageId>> {
    ids.iter().map(|&id| to_u64(id, "page id")).collect()
}

pub(crate) fn to_source(value: u32) -> Result<Source> {
    u8::try_from(value)
        .ok()
        .and_then(Source::from_u8)
        .ok_or_else(|| invalid(format!("unknown delta source {value}")))
}

pub(crate) fn to_expect_epoch(value: Option<f64>) -> Result<Option<u64>> {
    value.map(|epoch| to_u64(epoch, "expectEpoch")).transpose()
}

pub(crate) fn option_u64(value: Option<f64>, what: &str, default: u64) -> Result<u64> {
    value.map_or(Ok(default), |value| to_u64(value, what))
}
