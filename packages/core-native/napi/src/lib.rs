//! The napi binding of mmsb-core: declares the functions @mmsb/bus calls and
//! converts types, nothing more. Every core error crosses as a JS `Error`
//! whose `code` is the core's stable code string. One module per concern;
//! `NativeState`'s methods are spread over them by what they touch.

// Public: their free `#[napi]` functions are reached only through napi's
// registration, which the lib test build leaves out, so private modules
// would read as dead code there.
pub mod convert;
pub mod cuda;
pub mod deltas;
pub mod direct_calls;
pub mod exported;
pub mod graph;
pub mod inspect;
pub mod pages;
#[cfg(feature = "planted-addon-bugs")]
pub mod planted;
pub mod propagation;
pub mod router;
pub mod shared_file;
pub mod state;
pub mod sync;

use mmsb_core::counters::{Counter, Histogram};
use mmsb_core::graph::EdgeKind;
use mmsb_core::names::Named;
use mmsb_core::page_memory::MemoryKind;
use mmsb_core::propagation::Transform;
use mmsb_core::recovery::RecoveryMode;
use mmsb_core::ErrorCode;
use mmsb_core::{Location, Source};
use napi_derive::napi;

/// The stable error codes of the core, in declaration order.
#[napi]
pub fn error_codes() -> Vec<String> {
    ErrorCode::ALL.iter().map(|code| code.as_str().to_owned()).collect()
}

/// The wire names of the core's enums, each list in declaration order: the
/// bus validates strings against these before they cross, so a name is
/// defined once, in the core.
#[napi(object)]
pub struct Names {
    pub locations: Vec<String>,
    pub edge_kinds: Vec<String>,
    pub transforms: Vec<String>,
    pub memories: Vec<String>,
    pub sources: Vec<String>,
    pub recovery_modes: Vec<String>,
    /// The counters, in the order of `NativeState.counters()`'s cells.
    pub counters: Vec<String>,
    /// The histograms that follow the counters in those cells.
    pub histograms: Vec<HistogramLayout>,
}

/// Where a histogram's cells lie in `NativeState.counters()`: from `offset`,
/// one count per bucket (`bounds`, then +Inf; not cumulative), then the sum.
#[napi(object)]
pub struct HistogramLayout {
    pub name: String,
    pub bounds: Vec<f64>,
    pub offset: u32,
}

#[napi]
pub fn names() -> Names {
    fn owned<T: Named>() -> Vec<String> {
        T::names().into_iter().map(str::to_owned).collect()
    }
    Names {
        locations: owned::<Location>(),
        edge_kinds: owned::<EdgeKind>(),
        transforms: owned::<Transform>(),
        memories: owned::<MemoryKind>(),
        sources: owned::<Source>(),
        recovery_modes: owned::<RecoveryMode>(),
        counters: owned::<Counter>(),
        histograms: Histogram::ALL
            .iter()
            .map(|&histogram| HistogramLayout {
                name: histogram.name().to_owned(),
                bounds: histogram.bounds().to_vec(),
                offset: histogram.offset() as u32,
            })
            .collect(),
    }
}
