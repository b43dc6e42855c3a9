//! `Context`: the I/O threads, the inproc registry, and the lifetime of both.

use crate::sync::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::error::{Error, Result};
use crate::reactor::{Command, IoThread};
use crate::socket::inproc::InprocRegistry;
use crate::socket::Socket;
use crate::zmtp::SocketType;

/// A ringmq context: the I/O threads that serve its sockets' TCP and IPC
/// connections, and the namespace of its `inproc://` endpoints.
///
/// `Context` is a cheap handle (clone it freely); every socket keeps one. The
/// I/O threads stop, after the sockets' linger periods, when the last handle
/// and the last socket are dropped. [`Context::shutdown`] makes every blocking
/// call on its sockets return [`Error::ContextTerminated`] at once.
///
/// ```
/// let ctx = ringmq::Context::new();
/// let pull = ctx.socket(ringmq::SocketType::Pull)?;
/// let push = ctx.socket(ringmq::SocketType::Push)?;
/// pull.bind("inproc://doc-context")?;
/// push.connect("inproc://doc-context")?;
/// push.send("hello")?;
/// assert_eq!(&pull.recv()?[..], b"hello");
/// # Ok::<(), ringmq::Error>(())
/// ```
#[derive(Clone)]
pub struct Context {
    pub(crate) inner: Arc<ContextInner>,
}

pub(crate) struct ContextInner {
    io: Vec<IoThread>,
    next_io: AtomicUsize,
    next_socket: AtomicU64,
    pub(crate) terminated: AtomicBool,
    pub(crate) inproc: Mutex<InprocRegistry>,
    /// Per socket id, the shutdown signal of each live socket (so `shutdown`
    /// can wake sockets blocked in a call).
    pub(crate) live: Mutex<HashMap<u64, Arc<crate::socket::signal::Signal>>>,
}

/// Builds a [`Context`] with non-default settings.
#[derive(Debug, Clone)]
pub struct ContextBuilder {
    io_threads: usize,
}

impl ContextBuilder {
    /// The number of I/O threads (default 1; at least 1).
    pub fn io_threads(mut self, n: usize) -> Self {
        self.io_threads = n;
        self
    }

    /// Starts the context.
    pub fn build(self) -> Result<Context> {
        if self.io_threads == 0 {
            return Err(Error::InvalidOption {
                option: "ZMQ_IO_THREADS",
                reason: "at least one I/O thread is needed",
            });
        }
        let mut io = Vec::with_capacity(self.io_threads);
        for i in 0..self.io_threads {
            io.push(IoThread::spawn(i)?);
        }
        Ok(Context {
            inner: Arc::new(ContextInner {
                io,
                next_io: AtomicUsize::new(0),
                next_socket: AtomicU64::new(1),
                terminated: AtomicBool::new(false),
                inproc: Mutex::new(InprocRegistry::default()),
                live: Mutex::new(HashMap::new()),
            }),
        })
    }
}

impl Default for Context {
    fn default() -> Self {
        Context::new()
    }
}

impl std::fmt::Debug for Context {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context")
            .field("io_threads", &self.inner.io.len())
            .field("terminated", &self.inner.terminated.load(Ordering::Relaxed))
            .finish()
    }
}

impl Context {
    /// A context with one I/O thread.
    ///
    /// # Panics
    /// If the operating system refuses to create the I/O thread or its epoll
    /// instance; use [`Context::builder`] to get that as an error instead.
    pub fn new() -> Context {
        Context::builder()
            .build()
            .expect("cannot start the ringmq I/O thread")
    }

    /// A builder for a context with other settings.
    pub fn builder() -> ContextBuilder {
        ContextBuilder { io_threads: 1 }
    }

    /// Creates a socket of the given type.
    pub fn socket(&self, kind: SocketType) -> Result<Socket> {
        if self.is_terminated() {
            return Err(Error::ContextTerminated);
        }
        Socket::new(self.clone(), kind)
    }

    /// Makes every blocking call on this context's sockets return
    /// [`Error::ContextTerminated`], now and from then on (libzmq's
    /// `zmq_ctx_shutdown`). The I/O threads keep delivering what the sockets
    /// queued, within their linger, until the sockets are dropped.
    pub fn shutdown(&self) {
        self.inner.terminated.store(true, Ordering::SeqCst);
        let live = self.inner.live.lock().unwrap_or_else(|e| e.into_inner());
        for s in live.values() {
            s.notify_all();
        }
    }

    /// Whether [`Context::shutdown`] was called.
    #[inline]
    pub fn is_terminated(&self) -> bool {
        self.inner.terminated.load(Ordering::SeqCst)
    }

    /// The number of I/O threads.
    pub fn io_threads(&self) -> usize {
        self.inner.io.len()
    }

    pub(crate) fn next_socket_id(&self) -> u64 {
        self.inner.next_socket.fetch_add(1, Ordering::Relaxed)
    }

    /// Picks an I/O thread for a new listener or connection (round robin).
    pub(crate) fn pick_io(&self) -> usize {
        self.inner.next_io.fetch_add(1, Ordering::Relaxed) % self.inner.io.len()
    }

    /// Sends a command to one I/O thread.
    pub(crate) fn send_io(&self, index: usize, cmd: Command) {
        self.inner.io[index].send(cmd);
    }
}
