//! ZeroMQ for the bridge server's request socket: libzmq loaded at run time
//! ([`library`]) and a ROUTER that one thread drives without blocking ([`router`]).

pub mod library;
pub mod router;
