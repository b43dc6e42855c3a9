//! The descriptor an external event loop waits on for a socket (libzmq's
//! `ZMQ_FD`): the reading end of a Unix socket pair whose writing end is the
//! notifier the socket's rings wake.
//!
//! [`Socket::events`](super::Socket::events) empties the descriptor, reads
//! the socket's state and, for what the socket cannot do yet, announces a
//! sleep on its rings with this notifier, so the next change writes a byte
//! and the descriptor turns readable. It owns no thread.

use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::net::UnixStream;
use std::sync::Arc;

use crate::ring::Notify;

/// The writing end: raises the descriptor.
struct Raise(UnixStream);

impl Notify for Raise {
    fn notify(&self) {
        // Non-blocking: a full buffer means the descriptor is readable
        // already, which is all a raise has to achieve.
        let _ = (&self.0).write(&[1]);
    }
}

/// A socket's event descriptor.
pub(crate) struct EventFd {
    rx: UnixStream,
    raise: Arc<dyn Notify>,
}

impl EventFd {
    /// A new pair, both ends non-blocking and close-on-exec (std's
    /// default).
    pub(crate) fn new() -> io::Result<EventFd> {
        let (rx, tx) = UnixStream::pair()?;
        rx.set_nonblocking(true)?;
        tx.set_nonblocking(true)?;
        Ok(EventFd {
            rx,
            raise: Arc::new(Raise(tx)),
        })
    }

    /// The descriptor to wait on for readability.
    pub(crate) fn fd(&self) -> RawFd {
        self.rx.as_raw_fd()
    }

    /// The notifier that makes the descriptor readable.
    pub(crate) fn notifier(&self) -> &Arc<dyn Notify> {
        &self.raise
    }

    /// Makes the descriptor readable now.
    pub(crate) fn raise(&self) {
        self.raise.notify();
    }

    /// Empties the descriptor (it is not readable afterwards until the next
    /// raise).
    pub(crate) fn drain(&self) {
        let mut buf = [0u8; 64];
        while let Ok(n) = (&self.rx).read(&mut buf) {
            if n < buf.len() {
                break;
            }
        }
    }
}
