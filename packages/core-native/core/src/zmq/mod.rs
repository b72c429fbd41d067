//! ZeroMQ for the bridge server's request socket: libzmq loaded at run time
//! ([`library`]) and a ROUTER served by a thread of its own ([`router`]).

pub mod library;
pub mod router;
