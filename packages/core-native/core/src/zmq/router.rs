//! The bridge's request socket: a ROUTER that a single thread drives without
//! blocking. The binding polls [`Router::fd`] in the JavaScript event loop
//! and, whenever [`Router::readable`], takes every waiting message in one
//! [`Router::receive_batch`]; replies go out with [`Router::send`] from the
//! same thread. ZeroMQ's cost per message is then a few calls into libzmq,
//! instead of a promise per receive and per send (docs/ARCHITECTURE.md,
//! "Bridge transport").
//!
//! ZeroMQ's file descriptor is edge-triggered: it signals that the socket's
//! state may have changed, and a send can consume that signal while messages
//! wait. So [`Router::readable`] asks libzmq, and the binding asks it after
//! every receive, send and `ready`, not only when the descriptor fires. Every libzmq
//! call that a signal can interrupt (`EINTR`) is made again.

use std::ffi::{c_int, c_void, CString};

use super::library::{self, Library, Message};
use crate::error::{Error, ErrorCode, Result};

/// A message's frames, the peer's routing id first.
pub type Frames = Vec<Vec<u8>>;

pub struct RouterOptions {
    /// Larger messages are refused by ZeroMQ, which drops the connection.
    pub max_message_bytes: i64,
    /// Replies queued for one peer beyond this are dropped.
    pub send_high_water_mark: c_int,
    /// How long closing lets queued replies leave, in milliseconds.
    pub linger_ms: c_int,
}

const FD: c_int = 14;
const EVENTS: c_int = 15;

/// Called once a closed router's context has ended (its replies have left,
/// or the linger is over).
type Closed = Box<dyn FnOnce() + Send>;

/// A bound ROUTER socket and its own context. Closing (or dropping) it lets
/// queued replies leave in the background for up to the linger.
pub struct Router {
    zmq: &'static Library,
    context: *mut c_void,
    socket: *mut c_void,
    endpoint: String,
    closed: Option<Closed>,
}

/// Whether the router can run here: `None`, or why not (no libzmq).
pub fn unavailable() -> Option<&'static str> {
    library::library().err()
}

fn failure(zmq: &Library, doing: &str) -> Error {
    let (_, message) = zmq.last_error();
    Error::new(ErrorCode::IoError, format!("{doing}: {message}"))
}

impl Router {
    /// Creates the socket and binds `endpoint`.
    pub fn bind(endpoint: &str, options: &RouterOptions) -> Result<Router> {
        let zmq = library::library().map_err(|why| Error::new(ErrorCode::IoError, why))?;
        let address = CString::new(endpoint)
            .map_err(|_| Error::new(ErrorCode::InvalidArgument, "an endpoint cannot hold a NUL byte"))?;
        // Safety: zmq_ctx_new has no preconditions.
        let context = unsafe { (zmq.ctx_new)() };
        if context.is_null() {
            return Err(failure(zmq, "cannot create a ZeroMQ context"));
        }
        // Safety: the context is live.
        let socket = unsafe { (zmq.socket)(context, library::ROUTER) };
        let mut router = Router {
            zmq,
            context,
            socket,
            endpoint: endpoint.to_owned(),
            closed: None,
        };
        if socket.is_null() {
            return Err(failure(zmq, "cannot create a ROUTER socket"));
        }
        router.set(library::MAXMSGSIZE, options.max_message_bytes)?;
        router.set(library::SNDHWM, options.send_high_water_mark)?;
        // The receive high-water mark stays libzmq's default (1,000 messages per peer): a
        // server that stops taking batches then slows its clients down instead of growing.
        router.set(library::LINGER, options.linger_ms)?;
        // Safety: the socket is live and the address a NUL-terminated string.
        if router.retried(|| unsafe { (zmq.bind)(socket, address.as_ptr()) }) != 0 {
            return Err(failure(zmq, &format!("cannot bind {endpoint}")));
        }
        if let Some(bound) = router.last_endpoint() {
            router.endpoint = bound;
        }
        Ok(router)
    }

    /// Closes the socket now (it unbinds) and calls `closed` from another
    /// thread once the context has ended: queued replies have left, or the
    /// linger is over.
    pub fn close(mut self, closed: impl FnOnce() + Send + 'static) {
        self.closed = Some(Box::new(closed));
    }

    /// The endpoint as bound (a `*` port resolved).
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// The descriptor that becomes readable when the socket's state may
    /// have changed (edge-triggered; see the module's note).
    pub fn fd(&self) -> Result<c_int> {
        let mut fd: c_int = -1;
        self.get(FD, &mut fd)?;
        Ok(fd)
    }

    /// Whether a message is waiting.
    pub fn readable(&self) -> bool {
        let mut events: c_int = 0;
        self.get(EVENTS, &mut events).is_ok() && events & c_int::from(library::POLLIN) != 0
    }

    /// Every waiting message, up to `most`, in arrival order.
    pub fn receive_batch(&self, most: usize) -> Vec<Frames> {
        let mut batch = Vec::new();
        while batch.len() < most {
            match self.receive() {
                Some(frames) => batch.push(frames),
                None => break,
            }
        }
        batch
    }

    /// Sends one message (routing id first) without waiting. A peer that is
    /// gone or over its high-water mark loses it, as a ROUTER drops what it
    /// cannot route.
    pub fn send(&self, frames: &[&[u8]]) {
        let zmq = self.zmq;
        for (index, frame) in frames.iter().enumerate() {
            let flags = library::DONTWAIT | if index + 1 < frames.len() { library::SNDMORE } else { 0 };
            let mut message = Message::empty();
            // Safety: message is a zmq_msg_t of the frame's size, filled
            // before the send, which takes it (or it is closed on failure).
            unsafe {
                if (zmq.msg_init_size)(&mut message, frame.len()) != 0 {
                    return;
                }
                std::ptr::copy_nonoverlapping(frame.as_ptr(), (zmq.msg_data)(&mut message).cast::<u8>(), frame.len());
                if self.retried(|| (zmq.msg_send)(&mut message, self.socket, flags)) < 0 {
                    (zmq.msg_close)(&mut message);
                    return;
                }
            }
        }
    }

    /// Runs a libzmq call again while a signal interrupts it (EINTR): a
    /// profiler's or a child's signal must not lose a message or the
    /// descriptor's edge.
    fn retried(&self, mut call: impl FnMut() -> c_int) -> c_int {
        loop {
            let status = call();
            // Safety: zmq_errno has no preconditions.
            if status >= 0 || unsafe { (self.zmq.errno)() } != library::EINTR {
                return status;
            }
        }
    }

    fn set<T>(&self, option: c_int, value: T) -> Result<()> {
        // Safety: the socket is live; value is the option's C type, read for its size.
        let status = self.retried(|| unsafe {
            (self.zmq.setsockopt)(self.socket, option, (&value as *const T).cast(), size_of::<T>())
        });
        if status != 0 {
            return Err(failure(self.zmq, &format!("cannot set socket option {option}")));
        }
        Ok(())
    }

    fn get(&self, option: c_int, value: &mut c_int) -> Result<()> {
        let status = self.retried(|| {
            let mut length = size_of::<c_int>();
            // Safety: the socket is live; value and its length match.
            unsafe { (self.zmq.getsockopt)(self.socket, option, (value as *mut c_int).cast(), &mut length) }
        });
        if status != 0 {
            return Err(failure(self.zmq, &format!("cannot read socket option {option}")));
        }
        Ok(())
    }

    fn last_endpoint(&self) -> Option<String> {
        let mut buffer = [0u8; 256];
        let mut length = buffer.len();
        // Safety: the socket is live; the buffer and its length match.
        let status = unsafe {
            (self.zmq.getsockopt)(
                self.socket,
                library::LAST_ENDPOINT,
                buffer.as_mut_ptr().cast(),
                &mut length,
            )
        };
        if status != 0 {
            return None;
        }
        let text = &buffer[..length.min(buffer.len())];
        String::from_utf8(text.strip_suffix(&[0]).unwrap_or(text).to_vec()).ok()
    }

    /// One frame and whether more follow, or None when none is waiting
    /// (with DONTWAIT) or on error.
    fn receive_frame(&self, flags: c_int) -> Option<(Vec<u8>, bool)> {
        let zmq = self.zmq;
        let mut message = Message::empty();
        // Safety: message is a zmq_msg_t for libzmq to initialise, fill and close.
        let bytes = unsafe {
            (zmq.msg_init)(&mut message);
            if self.retried(|| (zmq.msg_recv)(&mut message, self.socket, flags)) < 0 {
                (zmq.msg_close)(&mut message);
                return None;
            }
            let size = (zmq.msg_size)(&message);
            let bytes = std::slice::from_raw_parts((zmq.msg_data)(&mut message).cast::<u8>(), size).to_vec();
            (zmq.msg_close)(&mut message);
            bytes
        };
        let mut more: c_int = 0;
        let more = self.get(library::RCVMORE, &mut more).is_ok() && more != 0;
        Some((bytes, more))
    }

    /// A whole message, or None when none is waiting.
    fn receive(&self) -> Option<Frames> {
        let (first, mut more) = self.receive_frame(library::DONTWAIT)?;
        let mut frames = vec![first];
        // The rest of a multipart message arrives with its first frame.
        while more {
            let (frame, next) = self.receive_frame(0)?;
            frames.push(frame);
            more = next;
        }
        Some(frames)
    }
}

impl Drop for Router {
    fn drop(&mut self) {
        // Safety: the socket is live and this is its last use.
        unsafe { (self.zmq.close)(self.socket) };
        // zmq_ctx_term waits out the linger while queued replies leave; a
        // thread of its own keeps the caller from waiting too.
        let (zmq, context, closed) = (self.zmq, self.context as usize, self.closed.take());
        std::thread::spawn(move || {
            // Safety: the context's one socket is closed and nothing else uses
            // it; zmq_ctx_term is restarted when a signal interrupts it.
            while unsafe { (zmq.ctx_term)(context as *mut c_void) } != 0 && unsafe { (zmq.errno)() } == library::EINTR {
            }
            if let Some(closed) = closed {
                closed();
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A DEALER on the router's endpoint, driven with blocking calls.
    struct Dealer {
        zmq: &'static Library,
        context: *mut c_void,
        socket: *mut c_void,
    }

    impl Dealer {
        fn connect(endpoint: &str) -> Dealer {
            let zmq = library::library().expect("libzmq is installed by the project's set-up");
            let address = CString::new(endpoint).unwrap();
            // Safety: plain libzmq calls on handles made here.
            unsafe {
                let context = (zmq.ctx_new)();
                let socket = (zmq.socket)(context, library::DEALER);
                assert_eq!((zmq.connect)(socket, address.as_ptr()), 0);
                Dealer { zmq, context, socket }
            }
        }

        fn send(&self, body: &[u8]) {
            // Safety: the socket is live; the buffer and its length match.
            assert!(unsafe { (self.zmq.send)(self.socket, body.as_ptr().cast(), body.len(), 0) } >= 0);
        }

        fn receive(&self) -> Vec<u8> {
            let mut buffer = vec![0u8; 1024];
            // Safety: the socket is live; the buffer and its length match.
            let length = unsafe { (self.zmq.recv)(self.socket, buffer.as_mut_ptr().cast(), buffer.len(), 0) };
            assert!(length >= 0);
            buffer.truncate(length as usize);
            buffer
        }
    }

    impl Drop for Dealer {
        fn drop(&mut self) {
            let linger: c_int = 0;
            // Safety: the handles are live and this is their last use.
            unsafe {
                (self.zmq.setsockopt)(
                    self.socket,
                    library::LINGER,
                    (&linger as *const c_int).cast(),
                    size_of::<c_int>(),
                );
                (self.zmq.close)(self.socket);
                (self.zmq.ctx_term)(self.context);
            }
        }
    }

    fn options() -> RouterOptions {
        RouterOptions {
            max_message_bytes: 1 << 20,
            send_high_water_mark: 1000,
            linger_ms: 0,
        }
    }

    /// Waits (the router never blocks) until `count` messages have arrived.
    fn receive(router: &Router, count: usize) -> Vec<Frames> {
        let mut received = Vec::new();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while received.len() < count {
            assert!(
                std::time::Instant::now() < deadline,
                "only {} of {count} messages arrived",
                received.len()
            );
            received.extend(router.receive_batch(count - received.len()));
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        received
    }

    #[test]
    fn takes_waiting_messages_in_order_and_routes_replies_to_their_peer() {
        let router = Router::bind("tcp://127.0.0.1:*", &options()).unwrap();
        assert!(router.endpoint().starts_with("tcp://127.0.0.1:") && !router.endpoint().ends_with('*'));
        let (first, second) = (Dealer::connect(router.endpoint()), Dealer::connect(router.endpoint()));
        for round in 0..3u8 {
            first.send(&[1, round]);
        }
        second.send(&[2]);
        let received = receive(&router, 4);
        let from_first: Vec<&Frames> = received.iter().filter(|frames| frames[1][0] == 1).collect();
        assert_eq!(
            from_first.iter().map(|frames| frames[1][1]).collect::<Vec<_>>(),
            [0, 1, 2]
        );
        assert!(received.iter().all(|frames| frames.len() == 2));
        let second_id = received.iter().find(|frames| frames[1] == [2]).unwrap()[0].clone();
        assert_ne!(from_first[0][0], second_id);
        assert!(!router.readable());
        assert!(router.receive_batch(10).is_empty());
        router.send(&[&second_id, b"to two"]);
        router.send(&[&from_first[0][0], b"to one"]);
        assert_eq!(second.receive(), b"to two");
        assert_eq!(first.receive(), b"to one");
    }

    #[test]
    fn a_batch_stops_at_its_limit_and_the_rest_waits() {
        let router = Router::bind("tcp://127.0.0.1:*", &options()).unwrap();
        let peer = Dealer::connect(router.endpoint());
        for index in 0..5u8 {
            peer.send(&[index]);
        }
        let first = receive(&router, 2);
        assert_eq!(first.len(), 2);
        let rest = receive(&router, 3);
        let order: Vec<u8> = first.iter().chain(&rest).map(|frames| frames[1][0]).collect();
        assert_eq!(order, [0, 1, 2, 3, 4]);
    }

    #[test]
    fn a_bad_endpoint_is_an_io_error_that_names_it() {
        let error = Router::bind("tcp://no-such-interface-here:1", &options())
            .err()
            .unwrap();
        assert_eq!(error.code, ErrorCode::IoError);
        assert!(
            error.message.contains("cannot bind tcp://no-such-interface-here:1"),
            "{}",
            error.message
        );
        let error = Router::bind("ipc://a\0b", &options()).err().unwrap();
        assert_eq!(error.code, ErrorCode::InvalidArgument);
    }
}
