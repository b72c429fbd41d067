//! The napi binding of mmsb-core: declares the functions @mmsb/bus calls and
//! converts types, nothing more. Every core error crosses as a JS `Error`
//! whose `code` is the core's stable code string. One module per concern;
//! `NativeState`'s methods are spread over them by what they touch.

pub mod convert;
pub mod deltas;
pub mod graph;
pub mod inspect;
pub mod pages;
pub mod propagation;
pub mod state;
pub mod sync;

use mmsb_core::ErrorCode;
use napi_derive::napi;

/// The stable error codes of the core, in declaration order.
#[napi]
pub fn error_codes() -> Vec<String> {
    ErrorCode::ALL.iter().map(|code| code.as_str().to_owned()).collect()
}
