//! The crate-wide error type.
//!
//! One enum for everything a user-facing call can fail with. Each variant says
//! who is at fault: the caller (bad endpoint, bad option, wrong state, not
//! supported), the peer (protocol violation, incompatible peer), the
//! environment (I/O, address in use), or a normal flow condition (would block,
//! timed out, context terminated). Lower layers (`ring`, `zmtp`) keep their own
//! small error types and convert into this one at the socket boundary.

use std::fmt;
use std::io;

/// Result alias used across the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything a ringmq call can fail with.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// A non-blocking call could not complete now (libzmq's `EAGAIN`).
    WouldBlock,
    /// A bounded wait ran out of time (a send/receive timeout expired).
    Timeout,
    /// The endpoint string is malformed or names an unknown transport.
    /// Caller's fault.
    InvalidEndpoint {
        /// The endpoint as given.
        endpoint: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// An option value is out of range, or the option does not apply.
    /// Caller's fault.
    InvalidOption {
        /// The option's name, as libzmq spells it.
        option: &'static str,
        /// What is wrong with the value.
        reason: &'static str,
    },
    /// The address is already bound by another socket or process.
    AddrInUse(String),
    /// No peer is known under the routing id (ROUTER with `ROUTER_MANDATORY`).
    HostUnreachable,
    /// The call is not allowed in the socket's current state (for example a
    /// REQ socket sending twice without receiving). Caller's fault.
    WrongState(&'static str),
    /// The operation is not supported by this socket type (for example
    /// receiving on PUSH). Caller's fault.
    NotSupported(&'static str),
    /// A message is larger than the configured maximum.
    MessageTooLarge {
        /// The size of the message in bytes.
        size: u64,
        /// The configured limit in bytes.
        max: u64,
    },
    /// The peer broke the wire protocol. Peer's fault; the connection is dropped.
    Protocol(String),
    /// The peer is of a socket type this socket cannot talk to, or speaks a
    /// protocol version or security mechanism we do not. Peer's fault.
    IncompatiblePeer(String),
    /// The context was terminated; the socket can no longer be used.
    ContextTerminated,
    /// An operating-system I/O error.
    Io(io::Error),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::WouldBlock => f.write_str("operation would block"),
            Error::Timeout => f.write_str("operation timed out"),
            Error::InvalidEndpoint { endpoint, reason } => {
                write!(f, "invalid endpoint {endpoint:?}: {reason}")
            }
            Error::InvalidOption { option, reason } => {
                write!(f, "invalid value for option {option}: {reason}")
            }
            Error::AddrInUse(addr) => write!(f, "address already in use: {addr}"),
            Error::HostUnreachable => f.write_str("no peer with that routing id"),
            Error::WrongState(what) => write!(f, "not allowed in this state: {what}"),
            Error::NotSupported(what) => write!(f, "not supported by this socket type: {what}"),
            Error::MessageTooLarge { size, max } => {
                write!(
                    f,
                    "message of {size} bytes exceeds the limit of {max} bytes"
                )
            }
            Error::Protocol(what) => write!(f, "peer violated the protocol: {what}"),
            Error::IncompatiblePeer(what) => write!(f, "incompatible peer: {what}"),
            Error::ContextTerminated => f.write_str("context terminated"),
            Error::Io(e) => write!(f, "I/O error: {e}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io(e) => Some(e),
            _ => None,
        }
    }
}

impl From<io::Error> for Error {
    fn from(e: io::Error) -> Self {
        match e.kind() {
            io::ErrorKind::WouldBlock => Error::WouldBlock,
            io::ErrorKind::TimedOut => Error::Timeout,
            _ => Error::Io(e),
        }
    }
}
