//! The napi binding of mmsb-core: declares the functions @mmsb/bus calls and
//! converts types, nothing more. Every core error crosses as a JS `Error`
//! whose `code` is the core's stable code string. One module per concern;
//! `NativeState`'s methods are spread over them by what they touch.

mod convert;
// Public: their free `#[napi]` functions are reached only through napi's
// registration, which the lib test build leaves out, so private modules
// would read as dead code there.
pub mod deltas;
mod graph;
pub mod inspect;
mod pages;
mod propagation;
mod state;
mod sync;

use mmsb_core::ErrorCode;
use napi_derive::napi;

/// The stable error codes of the core, in declaration order.
#[napi]
pub fn error_codes() -> Vec<String> {
    ErrorCode::ALL.iter().map(|code| code.as_str().to_owned()).collect()
}
