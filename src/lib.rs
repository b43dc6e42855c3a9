//! # ringmq
//!
//! A pure-Rust, brokerless messaging library that speaks the ZeroMQ wire
//! protocol (ZMTP 3.1, and 3.0 peers), so a ringmq program talks to ZeroMQ
//! peers in any language. Every hand-off between threads goes through one
//! primitive, a lock-free batch-appending ring queue in the style of the LMAX
//! Disruptor ([`ring`]).
//!
//! Layers, each depending only on those before it:
//!
//! | module | owns |
//! |---|---|
//! | `sync` | atomics, cells and parking (loom under `cfg(loom)`) |
//! | [`ring`] | the ring queues |
//! | [`msg`] | [`msg::Msg`], one frame |
//! | [`zmtp`] | the sans-I/O wire protocol |
//! | [`transport`] | endpoints, TCP, IPC, inproc |
//! | [`worker`] | the Storm worker path: topologies over rings and sockets |

#![warn(missing_docs)]

pub(crate) mod sync;

pub mod error;
pub mod msg;
pub(crate) mod pipe;
pub(crate) mod reactor;
pub mod ring;
pub mod socket;
pub mod transport;
pub mod worker;
pub mod zmtp;

#[doc(hidden)]
pub mod fuzzing;

pub use error::{Error, Result};
pub use msg::{Msg, Multipart};
pub use socket::{Context, ContextBuilder, Options, SendError, Socket};
pub use zmtp::SocketType;
