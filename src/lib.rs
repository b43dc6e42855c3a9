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
//! | `pipe` | the rings between a socket and each peer |
//! | `reactor` | the I/O threads (mio event loops) |
//! | [`socket`] | [`Context`], [`Socket`], options, the socket types |
//! | [`worker`] | the Storm worker path: topologies over rings and sockets |
//!
//! ```
//! use ringmq::{Context, SocketType};
//!
//! let ctx = Context::new();
//! let pull = ctx.socket(SocketType::Pull)?;
//! let endpoint = pull.bind("tcp://127.0.0.1:*")?; // the port the system chose
//! let push = ctx.socket(SocketType::Push)?;
//! push.set_sndhwm(10_000)?;
//! push.connect(&endpoint)?;
//! push.send("hello")?;
//! let msg = pull.recv()?;
//! assert_eq!(&msg[..], b"hello");
//! # Ok::<(), ringmq::Error>(())
//! ```

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
pub use socket::{proxy, proxy_steerable};
pub use socket::{
    Context, ContextBuilder, Monitor, MonitorEvent, MonitorEventKind, Options, PollEvent,
    PollFlags, Poller, SendError, Socket,
};
pub use zmtp::SocketType;
