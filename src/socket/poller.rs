//! `Poller`: waits until any of several sockets (and raw file descriptors)
//! is readable or writable, like `zmq_poll`.
//!
//! Sockets are checked by looking at their rings, never by a file
//! descriptor. To sleep, the poller points each socket's wake-up signal at
//! itself and announces the sleep on the socket's in-ring (and, for
//! writability, on its full pipes), so a producer wakes it only on a
//! transition, exactly as for a blocking `recv`; nothing busy-waits. With no
//! raw descriptors the poller parks its thread; with some it sleeps in a mio
//! `Poll` (epoll) holding the descriptors and a `Waker` the sockets' signals
//! fire.

use std::os::fd::RawFd;
use std::sync::Arc;
use std::thread::{self, Thread};
use std::time::{Duration, Instant};

use mio::unix::SourceFd;
use mio::{Events, Interest, Token, Waker};

use super::Socket;
use crate::error::{Error, Result};
use crate::ring::Notify;
use crate::sync::{AtomicBool, Ordering};

/// What to wait for on one item.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PollFlags {
    /// A message can be received (`ZMQ_POLLIN`); for a descriptor, data can
    /// be read.
    pub readable: bool,
    /// A message can be sent without waiting (`ZMQ_POLLOUT`).
    pub writable: bool,
}

impl PollFlags {
    /// Readable only.
    pub const IN: PollFlags = PollFlags {
        readable: true,
        writable: false,
    };
    /// Writable only.
    pub const OUT: PollFlags = PollFlags {
        readable: false,
        writable: true,
    };
    /// Both.
    pub const BOTH: PollFlags = PollFlags {
        readable: true,
        writable: true,
    };
}

/// One ready item: its index (the order of `add_*` calls) and what it is
/// ready for, within what was asked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PollEvent {
    /// The item's index.
    pub index: usize,
    /// Ready for receiving/reading.
    pub readable: bool,
    /// Ready for sending/writing.
    pub writable: bool,
}

enum Target<'a> {
    Socket(&'a Socket),
    Fd(RawFd),
}

struct Item<'a> {
    target: Target<'a>,
    flags: PollFlags,
}

/// The wake-up a poll sleeps on.
struct PollWake {
    raised: AtomicBool,
    thread: Thread,
    waker: Option<Arc<Waker>>,
}

impl Notify for PollWake {
    fn notify(&self) {
        self.raised.store(true, Ordering::Release);
        match &self.waker {
            Some(w) => {
                let _ = w.wake();
            }
            None => self.thread.unpark(),
        }
    }
}

const WAKER: Token = Token(usize::MAX);

/// Waits on many sockets and descriptors at once.
///
/// ```
/// use std::time::Duration;
/// use ringmq::{Context, PollFlags, Poller, SocketType};
/// let ctx = Context::new();
/// let a = ctx.socket(SocketType::Pull)?;
/// a.bind("inproc://doc-poller")?;
/// let b = ctx.socket(SocketType::Push)?;
/// b.connect("inproc://doc-poller")?;
/// let mut poller = Poller::new();
/// let ia = poller.add_socket(&a, PollFlags::IN);
/// assert!(poller.poll(Some(Duration::from_millis(10)))?.is_empty());
/// b.send("wake up")?;
/// let ready = poller.poll(Some(Duration::from_secs(5)))?;
/// assert_eq!(ready[0].index, ia);
/// assert_eq!(&a.try_recv()?[..], b"wake up");
/// # Ok::<(), ringmq::Error>(())
/// ```
pub struct Poller<'a> {
    items: Vec<Item<'a>>,
    fds: Option<(mio::Poll, Arc<Waker>, Events)>,
    ready: Vec<PollEvent>,
}

impl Default for Poller<'_> {
    fn default() -> Self {
        Poller::new()
    }
}

impl std::fmt::Debug for Poller<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Poller")
            .field("items", &self.items.len())
            .finish()
    }
}

impl<'a> Poller<'a> {
    /// An empty poller.
    pub fn new() -> Poller<'a> {
        Poller {
            items: Vec::new(),
            fds: None,
            ready: Vec::new(),
        }
    }

    /// Adds a socket; returns its index.
    pub fn add_socket(&mut self, socket: &'a Socket, flags: PollFlags) -> usize {
        self.items.push(Item {
            target: Target::Socket(socket),
            flags,
        });
        self.items.len() - 1
    }

    /// Adds a raw file descriptor (which must stay open while it is in the
    /// poller); returns its index.
    pub fn add_fd(&mut self, fd: RawFd, flags: PollFlags) -> Result<usize> {
        if self.fds.is_none() {
            let poll = mio::Poll::new()?;
            let waker = Arc::new(Waker::new(poll.registry(), WAKER)?);
            self.fds = Some((poll, waker, Events::with_capacity(64)));
        }
        let index = self.items.len();
        if let (Some((poll, _, _)), Some(interest)) = (&self.fds, interest(flags)) {
            poll.registry()
                .register(&mut SourceFd(&fd), Token(index), interest)?;
        }
        self.items.push(Item {
            target: Target::Fd(fd),
            flags,
        });
        Ok(index)
    }

    /// Waits until at least one item is ready or `timeout` passes (`None`:
    /// no limit; zero: just check). Returns the ready items (empty on
    /// timeout). A socket whose context was shut down makes it fail with
    /// [`Error::ContextTerminated`].
    pub fn poll(&mut self, timeout: Option<Duration>) -> Result<&[PollEvent]> {
        let deadline = timeout.map(|t| Instant::now() + t);
        let wake = Arc::new(PollWake {
            raised: AtomicBool::new(false),
            thread: thread::current(),
            waker: self.fds.as_ref().map(|(_, w, _)| w.clone()),
        });
        let notify: Arc<dyn Notify> = wake.clone();
        // Level-triggered view of the descriptors: re-arm them so epoll
        // reports the ones that are ready now.
        self.rearm_fds()?;
        let mut fd_ready: Vec<(usize, bool, bool)> = Vec::new();
        let mut first = true;
        loop {
            if !first || self.fds.is_some() {
                self.wait_fds(Some(Duration::ZERO), &mut fd_ready)?;
            }
            first = false;
            self.check(&fd_ready)?;
            if !self.ready.is_empty() {
                break;
            }
            let now = Instant::now();
            if deadline.is_some_and(|d| now >= d) {
                break;
            }
            // Announce the sleep on every socket.
            let mut all_quiet = true;
            let mut armed = Vec::new();
            for item in &self.items {
                if let Target::Socket(s) = item.target {
                    let mut core = s.core.borrow_mut();
                    armed.push(s);
                    if !core.prepare_poll(item.flags.writable, &notify) {
                        all_quiet = false;
                        break;
                    }
                }
            }
            if all_quiet && !wake.raised.load(Ordering::Acquire) {
                let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
                if self.fds.is_some() {
                    self.wait_fds(left, &mut fd_ready)?;
                } else {
                    match left {
                        Some(d) => thread::park_timeout(d),
                        None => thread::park(),
                    }
                }
            }
            wake.raised.store(false, Ordering::Release);
            for s in armed {
                s.core.borrow_mut().finish_poll();
            }
        }
        Ok(&self.ready)
    }

    fn rearm_fds(&mut self) -> Result<()> {
        let Some((poll, _, _)) = &self.fds else {
            return Ok(());
        };
        for (i, item) in self.items.iter().enumerate() {
            if let (Target::Fd(fd), Some(interest)) = (&item.target, interest(item.flags)) {
                poll.registry()
                    .reregister(&mut SourceFd(fd), Token(i), interest)?;
            }
        }
        Ok(())
    }

    fn wait_fds(
        &mut self,
        timeout: Option<Duration>,
        out: &mut Vec<(usize, bool, bool)>,
    ) -> Result<()> {
        let Some((poll, _, events)) = &mut self.fds else {
            return Ok(());
        };
        match poll.poll(events, timeout) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => return Ok(()),
            Err(e) => return Err(Error::Io(e)),
        }
        for ev in events.iter() {
            if ev.token() == WAKER {
                continue;
            }
            let r = ev.is_readable() || ev.is_read_closed() || ev.is_error();
            let w = ev.is_writable() || ev.is_write_closed() || ev.is_error();
            match out.iter_mut().find(|(i, _, _)| *i == ev.token().0) {
                Some(e) => {
                    e.1 |= r;
                    e.2 |= w;
                }
                None => out.push((ev.token().0, r, w)),
            }
        }
        Ok(())
    }

    fn check(&mut self, fd_ready: &[(usize, bool, bool)]) -> Result<()> {
        self.ready.clear();
        for (index, item) in self.items.iter().enumerate() {
            let (r, w) = match item.target {
                Target::Socket(s) => s.core.borrow_mut().readiness()?,
                Target::Fd(_) => fd_ready
                    .iter()
                    .find(|(i, _, _)| *i == index)
                    .map_or((false, false), |&(_, r, w)| (r, w)),
            };
            let readable = r && item.flags.readable;
            let writable = w && item.flags.writable;
            if readable || writable {
                self.ready.push(PollEvent {
                    index,
                    readable,
                    writable,
                });
            }
        }
        Ok(())
    }
}

fn interest(flags: PollFlags) -> Option<Interest> {
    match (flags.readable, flags.writable) {
        (true, true) => Some(Interest::READABLE | Interest::WRITABLE),
        (true, false) => Some(Interest::READABLE),
        (false, true) => Some(Interest::WRITABLE),
        (false, false) => None,
    }
}
