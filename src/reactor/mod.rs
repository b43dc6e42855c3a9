//! I/O threads: the event loops that move bytes between sockets' rings and
//! the network.
//!
//! Each I/O thread owns one mio `Poll` (epoll) and, in a `slab`, every
//! listener, connection attempt and connection (engine) given to it. It is
//! driven by three sources:
//! - the **mailbox**: a multi-producer ring of [`Command`]s from sockets
//!   (listen, connect, unbind, close), with a `mio::Waker` as its notifier;
//! - the **ready ring**: tokens of engines whose out-ring got data, or whose
//!   receive ring got room, while the thread was asleep — pushed by the
//!   rings' notifiers, so a wake-up costs one `eventfd` write per transition
//!   from idle, never one per message;
//! - the **watched out-rings** of engines with nothing left to send: the
//!   loop checks them (one load each) while it polls after recent work, and
//!   announces its sleep on all of them with one process-wide barrier
//!   ([`ring::sleep_barrier`]) just before it blocks. Their sockets thus
//!   publish each message with a plain store and no fence;
//! - readiness events from epoll, and the [`timers`] (reconnect backoff,
//!   handshake deadline, heartbeats, linger).
//!
//! This is the only code in the crate that blocks on epoll. It never blocks on
//! a ring: a full receive ring makes the engine stop reading until it is
//! told there is room again.

#![forbid(unsafe_code)]

mod engine;
mod stream;
pub(crate) mod timers;

use crate::sync::{AtomicBool, AtomicU64, Ordering};
use std::io;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use mio::{Events, Interest, Poll, Token, Waker};
use slab::Slab;

use crate::msg::pool::RecvPool;
use crate::pipe::{Inbound, Payload, PipeId};
use crate::ring::{self, Consumer, MpProducer, Notify, PushError};
use crate::socket::monitor::{MonitorEvent, MonitorEventKind, MonitorSink};
use crate::socket::options::Options;
use crate::transport::{Endpoint, IpcGuard};
use crate::zmtp::SocketType;

use engine::{Engine, EngineOrigin, Step};
pub(crate) use stream::{Listener, Stream};
use timers::{reconnect_delay, Jitter, TimerKind, Timers};

const WAKER: Token = Token(usize::MAX);
const MAILBOX_CAPACITY: usize = 1024;
const READY_CAPACITY: usize = 4096;

/// What an I/O thread needs to know about the socket a listener or
/// connection belongs to.
pub(crate) struct SocketLink {
    /// The socket's id within its context.
    pub(crate) id: u64,
    /// Its type (sent in the handshake, checked against the peer's).
    pub(crate) socket_type: SocketType,
    /// Its options when the bind/connect was made.
    pub(crate) options: Options,
    /// Its in-ring.
    pub(crate) in_tx: MpProducer<Inbound>,
    /// Its pipe-id counter.
    pub(crate) next_pipe: Arc<AtomicU64>,
    /// Where its monitor events go.
    pub(crate) monitor: Arc<MonitorSink>,
}

impl SocketLink {
    /// Emits a monitor event (built only when a monitor is installed).
    pub(crate) fn event(&self, kind: MonitorEventKind, endpoint: &str) {
        self.monitor.emit(|| MonitorEvent::new(kind, endpoint));
    }
}

impl SocketLink {
    /// A fresh pipe id for this socket.
    pub(crate) fn alloc_pipe(&self) -> PipeId {
        self.next_pipe.fetch_add(1, Ordering::Relaxed)
    }
}

/// A request from a socket to an I/O thread.
pub(crate) enum Command {
    /// Serve a bound listener.
    Listen {
        link: Arc<SocketLink>,
        listener: Listener,
        /// The resolved endpoint, as `last_endpoint` reports it.
        endpoint: String,
        /// Removes the IPC socket file when the listener goes.
        guard: Option<IpcGuard>,
    },
    /// Connect (and keep reconnecting) to an endpoint, feeding the given pipe.
    Connect {
        link: Arc<SocketLink>,
        endpoint: Endpoint,
        endpoint_str: String,
        pipe: PipeId,
        out: Consumer<Payload>,
        /// For a conflating pipe, where the newest message waits (`out`
        /// then carries tokens).
        out_latest: Option<ring::LatestReader<Payload>>,
    },
    /// Stop listening on an endpoint, and close the connections accepted
    /// there.
    Unbind { socket: u64, endpoint: String },
    /// Close the connection serving one pipe of a socket, for good (a
    /// ROUTER handed the routing id of a connection it accepted to a newer
    /// peer).
    ClosePipe { socket: u64, pipe: PipeId },
    /// Drop the connection (and reconnection) made to an endpoint.
    Disconnect { socket: u64, endpoint: String },
    /// The socket was closed: stop its listeners at once, and close its
    /// connections once their queued messages are written or the linger time
    /// is over.
    Close {
        socket: u64,
        linger: Option<Duration>,
    },
    /// Stop the thread (after the lingering connections are done or timed out).
    Stop,
}

/// The handle to one running I/O thread.
pub(crate) struct IoThread {
    mailbox: MpProducer<Command>,
    stop_now: Arc<AtomicBool>,
    waker: Arc<Waker>,
    join: Option<JoinHandle<()>>,
}

impl IoThread {
    /// Starts an I/O thread.
    pub(crate) fn spawn(index: usize) -> io::Result<IoThread> {
        let poll = Poll::new()?;
        let waker = Arc::new(Waker::new(poll.registry(), WAKER)?);
        let (mailbox, mailbox_rx) =
            ring::mpsc::<Command>(MAILBOX_CAPACITY).map_err(io::Error::other)?;
        let (ready_tx, ready_rx) = ring::mpsc::<usize>(READY_CAPACITY).map_err(io::Error::other)?;
        let stop_now = Arc::new(AtomicBool::new(false));
        let wake: Arc<dyn Notify> = Arc::new(WakerNotify(waker.clone()));
        let mut mailbox_rx = mailbox_rx;
        mailbox_rx.set_notifier(Some(wake.clone()));
        let mut ready_rx = ready_rx;
        ready_rx.set_notifier(Some(wake));
        let rescan = Arc::new(AtomicBool::new(false));
        let mut lp = Loop {
            poll,
            waker: waker.clone(),
            mailbox: mailbox_rx,
            ready_rx,
            ready_tx,
            rescan,
            entries: Slab::new(),
            timers: Timers::default(),
            jitter: Jitter::new(),
            stopping: false,
            stop_now: stop_now.clone(),
            generation: 0,
            pool: RecvPool::new(),
            watched: Vec::new(),
        };
        let join = std::thread::Builder::new()
            .name(format!("ringmq-io-{index}"))
            .spawn(move || lp.run())?;
        Ok(IoThread {
            mailbox,
            stop_now,
            waker,
            join: Some(join),
        })
    }

    /// Sends a command. Blocks only while the mailbox is full.
    pub(crate) fn send(&self, cmd: Command) {
        // The push fails only once the thread has exited, and then there is
        // nothing left to do with the command.
        let _ = self.mailbox.push(cmd);
    }

    /// Asks the thread to stop once its lingering connections are done, and
    /// waits for it. With `force`, lingering connections are dropped at once.
    pub(crate) fn stop(&mut self, force: bool) {
        if force {
            self.stop_now.store(true, Ordering::SeqCst);
            let _ = self.waker.wake();
        }
        self.send(Command::Stop);
        if let Some(j) = self.join.take() {
            let _ = j.join();
        }
    }
}

impl Drop for IoThread {
    fn drop(&mut self) {
        self.stop(false);
    }
}

/// Wakes an I/O thread's `Poll`.
pub(crate) struct WakerNotify(pub(crate) Arc<Waker>);

impl Notify for WakerNotify {
    fn notify(&self) {
        let _ = self.0.wake();
    }
}

/// Tells an I/O thread that one of its engines has work: its out-ring got
/// data, or its socket's in-ring got room.
pub(crate) struct EngineNotify {
    ready: MpProducer<usize>,
    rescan: Arc<AtomicBool>,
    waker: Arc<Waker>,
    token: usize,
}

impl Notify for EngineNotify {
    fn notify(&self) {
        if let Err(PushError::Full(_)) = self.ready.try_push(self.token) {
            // The ready ring overflowed: have the loop look at every engine.
            self.rescan.store(true, Ordering::SeqCst);
            let _ = self.waker.wake();
        }
    }
}

/// Everything the loop keeps per token.
enum Entry {
    Listener(ListenerEntry),
    /// A connect waiting for its next attempt, or for its TCP connect to finish.
    Connecter(Connecter),
    Engine(Box<Engine>),
}

struct ListenerEntry {
    link: Arc<SocketLink>,
    listener: Listener,
    endpoint: String,
    _guard: Option<IpcGuard>,
}

/// A connect pipe between attempts.
pub(crate) struct Connecter {
    pub(crate) link: Arc<SocketLink>,
    pub(crate) endpoint: Endpoint,
    pub(crate) endpoint_str: String,
    pub(crate) pipe: PipeId,
    pub(crate) out: Consumer<Payload>,
    /// For a conflating pipe (`ZMQ_CONFLATE`), where the newest message
    /// waits; `out` then carries tokens.
    pub(crate) out_latest: Option<ring::LatestReader<Payload>>,
    pub(crate) attempt: u32,
    /// A stream whose non-blocking connect is in progress.
    pub(crate) pending: Option<Stream>,
    /// When the connect in progress is given up (`ZMQ_CONNECT_TIMEOUT`).
    pub(crate) connect_deadline: Option<Instant>,
    pub(crate) generation: u64,
    /// The socket was closed; deliver what is queued until this deadline.
    pub(crate) closing: Option<Option<Instant>>,
}

struct Loop {
    poll: Poll,
    waker: Arc<Waker>,
    mailbox: Consumer<Command>,
    ready_rx: Consumer<usize>,
    ready_tx: MpProducer<usize>,
    rescan: Arc<AtomicBool>,
    entries: Slab<(u64, Entry)>,
    timers: Timers,
    jitter: Jitter,
    stopping: bool,
    stop_now: Arc<AtomicBool>,
    generation: u64,
    /// Buffers for the bodies of large frames, shared by this thread's
    /// engines; they come back when the messages are dropped.
    pool: RecvPool,
    /// Engines idle on their out-rings (tokens with generations): polled
    /// while the loop spins, their sleeps announced (with one barrier for
    /// all) before it blocks. Their sockets publish with a plain store.
    watched: Vec<(usize, u64)>,
}

impl Loop {
    /// A fresh generation number for a new entry.
    fn next_generation(&mut self) -> u64 {
        self.generation += 1;
        self.generation
    }

    fn run(&mut self) {
        let mut events = Events::with_capacity(1024);
        let mut tokens: Vec<usize> = Vec::with_capacity(256);
        let spin = crate::socket::options::io_spin_budget();
        let mut last_active: Option<Instant> = None;
        let mut had_io = false;
        loop {
            self.drain_mailbox();
            if self.stop_now.load(Ordering::SeqCst) {
                break;
            }
            if self.stopping && self.entries.is_empty() {
                break;
            }
            let now = Instant::now();
            if had_io || !tokens.is_empty() {
                last_active = Some(now);
            }
            // Right after some work, poll without sleeping (and without
            // announcing a sleep, so producers need not wake us) for a
            // bounded time: see `spin_budget`.
            let spinning =
                !self.stopping && last_active.is_some_and(|t| now.duration_since(t) < spin);
            let mut timeout = self.timers.next_timeout(now);
            let polled = if spinning {
                if self.mailbox.is_empty() && self.ready_rx.is_empty() && !self.any_watched_ready()
                {
                    std::thread::yield_now();
                }
                self.poll.poll(&mut events, Some(Duration::ZERO))
            } else {
                let idle = self.mailbox.prepare_sleep()
                    && self.ready_rx.prepare_sleep()
                    && self.announce_watched_sleep();
                if !idle || self.rescan.load(Ordering::SeqCst) {
                    timeout = Some(Duration::ZERO);
                }
                let r = self.poll.poll(&mut events, timeout);
                self.mailbox.cancel_sleep();
                self.ready_rx.cancel_sleep();
                r
            };
            if let Err(e) = polled {
                if e.kind() != io::ErrorKind::Interrupted {
                    tracing::error!(error = %e, "epoll failed; I/O thread stops");
                    break;
                }
            }
            had_io = false;
            for ev in events.iter() {
                if ev.token() == WAKER {
                    continue;
                }
                had_io = true;
                self.io_event(
                    ev.token().0,
                    ev.is_readable() || ev.is_read_closed() || ev.is_error(),
                    ev.is_writable() || ev.is_write_closed() || ev.is_error(),
                    ev.is_read_closed() || ev.is_error(),
                );
            }
            // Engines that were notified. (Readiness from epoll comes
            // first, so a peer's close seen there is acted on before newly
            // queued messages are written to it.)
            tokens.clear();
            self.take_watched_ready(&mut tokens);
            self.ready_rx.drain_into(&mut tokens, usize::MAX);
            if self.rescan.swap(false, Ordering::SeqCst) {
                tokens.extend(self.entries.iter().map(|(k, _)| k));
            }
            for &t in &tokens {
                self.engine_notified(t);
            }
            self.fire_timers();
        }
        // Closing: dropping the entries closes every stream and listener.
        self.entries.clear();
    }

    /// The watched engine of `(token, generation)`, if it is still there.
    fn watched_engine(&mut self, token: usize, generation: u64) -> Option<&mut Engine> {
        match self.entries.get_mut(token) {
            Some((g, Entry::Engine(e))) if *g == generation => Some(e),
            _ => None,
        }
    }

    /// Whether a watched out-ring has work (one load per ring).
    fn any_watched_ready(&mut self) -> bool {
        let mut i = 0;
        while i < self.watched.len() {
            let (t, g) = self.watched[i];
            match self.watched_engine(t, g) {
                Some(e) if e.out_ready() => return true,
                Some(_) => i += 1,
                None => {
                    self.watched.swap_remove(i);
                }
            }
        }
        false
    }

    /// Moves the watched engines whose out-rings have work to `tokens`
    /// (they are stepped, and watched again if they go idle again).
    fn take_watched_ready(&mut self, tokens: &mut Vec<usize>) {
        let mut i = 0;
        while i < self.watched.len() {
            let (t, g) = self.watched[i];
            match self.watched_engine(t, g) {
                Some(e) if !e.out_ready() => i += 1,
                Some(e) => {
                    e.out_watched = false;
                    tokens.push(t);
                    self.watched.swap_remove(i);
                }
                None => {
                    self.watched.swap_remove(i);
                }
            }
        }
    }

    /// Announces the sleep on every watched out-ring with one barrier for
    /// all. The rings whose announcement stands leave the watch: their
    /// sockets' next message notifies (through the ready ring), so a loop
    /// with many idle connections does not look at them again. False if
    /// one of them has work (it stays watched) or the barrier failed (all
    /// stay, announcements withdrawn): do not block.
    fn announce_watched_sleep(&mut self) -> bool {
        if self.watched.is_empty() {
            return true;
        }
        for i in 0..self.watched.len() {
            let (t, g) = self.watched[i];
            if let Some(e) = self.watched_engine(t, g) {
                e.out_announce_sleep();
            }
        }
        if !ring::sleep_barrier() {
            for i in 0..self.watched.len() {
                let (t, g) = self.watched[i];
                if let Some(e) = self.watched_engine(t, g) {
                    e.out_cancel_sleep();
                }
            }
            return false;
        }
        let mut idle = true;
        let mut i = 0;
        while i < self.watched.len() {
            let (t, g) = self.watched[i];
            let stays = match self.watched_engine(t, g) {
                Some(e) => {
                    let has_work = !e.out_confirm_sleep();
                    if !has_work {
                        e.out_watched = false;
                    }
                    has_work
                }
                None => false,
            };
            if stays {
                idle = false;
                i += 1;
            } else {
                self.watched.swap_remove(i);
            }
        }
        idle
    }

    fn drain_mailbox(&mut self) {
        while let Ok(cmd) = self.mailbox.try_pop() {
            match cmd {
                Command::Listen {
                    link,
                    mut listener,
                    endpoint,
                    guard,
                } => {
                    let generation = self.next_generation();
                    let entry = self.entries.vacant_entry();
                    let token = entry.key();
                    if let Err(e) = self.poll.registry().register(
                        &mut listener,
                        Token(token),
                        Interest::READABLE,
                    ) {
                        tracing::warn!(%endpoint, error = %e, "cannot register listener");
                        continue;
                    }
                    tracing::debug!(%endpoint, "listening");
                    entry.insert((
                        generation,
                        Entry::Listener(ListenerEntry {
                            link,
                            listener,
                            endpoint,
                            _guard: guard,
                        }),
                    ));
                }
                Command::Connect {
                    link,
                    endpoint,
                    endpoint_str,
                    pipe,
                    out,
                    out_latest,
                } => {
                    let c = Connecter {
                        link,
                        endpoint,
                        endpoint_str,
                        pipe,
                        out,
                        out_latest,
                        attempt: 0,
                        pending: None,
                        connect_deadline: None,
                        generation: self.next_generation(),
                        closing: None,
                    };
                    self.start_connect(c);
                }
                Command::Unbind { socket, endpoint } => {
                    // The listener, and the connections it accepted, as
                    // libzmq's unbind ends them (what they delivered stays
                    // in the socket's rings).
                    let keys: Vec<usize> = self
                        .entries
                        .iter()
                        .filter(|(_, (_, e))| match e {
                            Entry::Listener(l) => l.link.id == socket && l.endpoint == endpoint,
                            Entry::Engine(en) => en.is_accepted_by(socket, &endpoint),
                            Entry::Connecter(_) => false,
                        })
                        .map(|(k, _)| k)
                        .collect();
                    for k in keys {
                        self.remove(k);
                    }
                }
                Command::Disconnect { socket, endpoint } => {
                    let keys: Vec<usize> = self
                        .entries
                        .iter()
                        .filter(|(_, (_, e))| match e {
                            Entry::Connecter(c) => {
                                c.link.id == socket && c.endpoint_str == endpoint
                            }
                            Entry::Engine(en) => en.is_connect_to(socket, &endpoint),
                            _ => false,
                        })
                        .map(|(k, _)| k)
                        .collect();
                    for k in keys {
                        self.remove(k);
                    }
                }
                Command::ClosePipe { socket, pipe } => {
                    let key = self.entries.iter().find_map(|(k, (_, e))| match e {
                        Entry::Engine(en) if en.serves(socket, pipe) => Some(k),
                        _ => None,
                    });
                    if let Some((_, Entry::Engine(mut engine))) =
                        key.and_then(|k| self.entries.try_remove(k))
                    {
                        engine.deregister(self.poll.registry());
                        engine.report_close();
                    }
                }
                Command::Close { socket, linger } => self.close_socket(socket, linger),
                Command::Stop => {
                    self.stopping = true;
                }
            }
        }
    }

    fn remove(&mut self, key: usize) {
        if let Some((_, mut entry)) = self.entries.try_remove(key) {
            let reg = self.poll.registry();
            match &mut entry {
                Entry::Listener(l) => {
                    let _ = reg.deregister(&mut l.listener);
                    l.link.event(MonitorEventKind::Closed, &l.endpoint);
                }
                Entry::Connecter(c) => {
                    if let Some(s) = c.pending.as_mut() {
                        let _ = reg.deregister(s);
                    }
                }
                Entry::Engine(e) => e.deregister(reg),
            }
        }
    }

    fn close_socket(&mut self, socket: u64, linger: Option<Duration>) {
        let deadline = linger.map(|d| Instant::now() + d);
        let keys: Vec<usize> = self.entries.iter().map(|(k, _)| k).collect();
        for k in keys {
            let Some((generation, entry)) = self.entries.get_mut(k) else {
                continue;
            };
            let generation = *generation;
            match entry {
                Entry::Listener(l) if l.link.id == socket => self.remove(k),
                Entry::Connecter(c) if c.link.id == socket => {
                    if linger == Some(Duration::ZERO) || c.out.is_empty() {
                        self.remove(k);
                    } else {
                        c.closing = Some(deadline);
                        if let Some(d) = deadline {
                            self.timers.add(d, k, generation, TimerKind::Linger);
                        }
                    }
                }
                Entry::Engine(e) if e.socket_id() == socket => {
                    if linger == Some(Duration::ZERO) {
                        self.remove(k);
                    } else {
                        e.set_closing();
                        if let Some(d) = deadline {
                            self.timers.add(d, k, generation, TimerKind::Linger);
                        }
                        self.engine_notified(k);
                    }
                }
                _ => {}
            }
        }
    }

    fn notifier(&self, token: usize) -> Arc<dyn Notify> {
        Arc::new(EngineNotify {
            ready: self.ready_tx.clone(),
            rescan: self.rescan.clone(),
            waker: self.waker.clone(),
            token,
        })
    }

    fn start_connect(&mut self, mut c: Connecter) {
        let opts = c.link.options.tcp();
        let stream = match &c.endpoint {
            Endpoint::Tcp(t) => crate::transport::connect_tcp(t, &opts).map(Stream::Tcp),
            Endpoint::Ipc(p) => crate::transport::connect_ipc(p).map(Stream::Unix),
            Endpoint::Inproc(_) => Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "inproc is not served by I/O threads",
            )),
        };
        let entry = self.entries.vacant_entry();
        let token = entry.key();
        match stream {
            Ok(mut s) => {
                let interest = Interest::READABLE | Interest::WRITABLE;
                if let Err(e) = self
                    .poll
                    .registry()
                    .register(&mut s, Token(token), interest)
                {
                    tracing::warn!(endpoint = %c.endpoint_str, error = %e, "cannot register stream");
                    c.pending = None;
                } else {
                    c.link
                        .event(MonitorEventKind::ConnectDelayed, &c.endpoint_str);
                    c.pending = Some(s);
                }
            }
            Err(e) => {
                tracing::debug!(endpoint = %c.endpoint_str, error = %e, "connect failed");
                c.pending = None;
            }
        }
        let generation = c.generation;
        let has_pending = c.pending.is_some();
        c.connect_deadline = match c.link.options.connect_timeout {
            Some(d) if has_pending => {
                let at = Instant::now() + d;
                self.timers
                    .add(at, token, generation, TimerKind::ConnectTimeout);
                Some(at)
            }
            _ => None,
        };
        entry.insert((generation, Entry::Connecter(c)));
        if !has_pending {
            self.schedule_reconnect(token);
        }
    }

    /// `ZMQ_CONNECT_TIMEOUT`: a connect still in progress at its deadline
    /// is abandoned and retried after the reconnect interval, as libzmq
    /// does (instead of waiting for the system's own timeout, minutes when
    /// the peer's host does not answer).
    fn connect_timed_out(&mut self, token: usize, now: Instant) {
        let Some((_, Entry::Connecter(c))) = self.entries.get_mut(token) else {
            return;
        };
        // A timer left from an earlier attempt finds a later deadline.
        if c.connect_deadline.is_none_or(|d| d > now) {
            return;
        }
        c.connect_deadline = None;
        let Some(mut s) = c.pending.take() else {
            return;
        };
        tracing::debug!(endpoint = %c.endpoint_str, "connect timed out");
        let _ = self.poll.registry().deregister(&mut s);
        drop(s);
        self.schedule_reconnect(token);
    }

    fn schedule_reconnect(&mut self, token: usize) {
        let Some((generation, Entry::Connecter(c))) = self.entries.get_mut(token) else {
            return;
        };
        let Some(ivl) = c.link.options.reconnect_ivl else {
            tracing::debug!(endpoint = %c.endpoint_str, "reconnect disabled; giving up");
            self.remove(token);
            return;
        };
        let delay = reconnect_delay(
            ivl,
            c.link.options.reconnect_ivl_max,
            c.attempt,
            &mut self.jitter,
        );
        c.attempt = c.attempt.saturating_add(1);
        c.link.monitor.emit(|| {
            MonitorEvent::new(MonitorEventKind::ConnectRetried, &c.endpoint_str)
                .with_interval(delay)
        });
        let generation = *generation;
        self.timers.add(
            Instant::now() + delay,
            token,
            generation,
            TimerKind::Reconnect,
        );
    }

    fn fire_timers(&mut self) {
        let now = Instant::now();
        while let Some(t) = self.timers.pop_due(now) {
            let Some((generation, entry)) = self.entries.get_mut(t.token) else {
                continue;
            };
            if *generation != t.generation {
                continue;
            }
            match (t.kind, entry) {
                (TimerKind::Reconnect, Entry::Connecter(_)) => {
                    let Some((_, Entry::Connecter(c))) = self.entries.try_remove(t.token) else {
                        continue;
                    };
                    self.start_connect(c);
                }
                (TimerKind::Linger, _) => self.remove(t.token),
                (TimerKind::ConnectTimeout, Entry::Connecter(_)) => {
                    self.connect_timed_out(t.token, now);
                }
                (TimerKind::ConnectTimeout, _) => {}
                (_, Entry::Engine(_)) => {
                    self.engine_step(t.token, |e, cx| e.on_timer(t.kind, cx));
                }
                _ => {}
            }
        }
    }

    fn io_event(&mut self, token: usize, readable: bool, writable: bool, read_closed: bool) {
        let Some((_, entry)) = self.entries.get_mut(token) else {
            return;
        };
        match entry {
            Entry::Listener(_) => self.accept_all(token),
            Entry::Connecter(c) => {
                let Some(s) = c.pending.as_ref() else { return };
                let failed = match s.take_error() {
                    Ok(Some(_)) | Err(_) => true,
                    Ok(None) => false,
                };
                if failed || (writable && !s.is_connected()) {
                    if let Some(mut s) = c.pending.take() {
                        let _ = self.poll.registry().deregister(&mut s);
                    }
                    self.schedule_reconnect(token);
                    return;
                }
                if !s.is_connected() {
                    return;
                }
                // Connected: the connecter becomes an engine in place.
                let Some((_, Entry::Connecter(mut c))) = self.entries.try_remove(token) else {
                    return;
                };
                let stream = c.pending.take().expect("checked above");
                if let Err(e) = stream.configure(&c.link.options.tcp()) {
                    tracing::debug!(error = %e, "cannot set TCP options");
                }
                c.attempt = 0;
                c.link.event(MonitorEventKind::Connected, &c.endpoint_str);
                self.insert_engine(stream, EngineOrigin::Connect(c));
            }
            Entry::Engine(_) => {
                self.engine_step(token, |e, cx| e.on_io(readable, writable, read_closed, cx));
            }
        }
    }

    fn accept_all(&mut self, token: usize) {
        loop {
            let Some((_, Entry::Listener(l))) = self.entries.get(token) else {
                return;
            };
            match l.listener.accept() {
                Ok(stream) => {
                    if let Err(e) = stream.configure(&l.link.options.tcp()) {
                        tracing::debug!(error = %e, "cannot set TCP options");
                    }
                    l.link.event(MonitorEventKind::Accepted, &l.endpoint);
                    let origin = EngineOrigin::Accept {
                        link: l.link.clone(),
                        endpoint: l.endpoint.clone(),
                    };
                    self.insert_engine(stream, origin);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    tracing::warn!(endpoint = %l.endpoint, error = %e, "accept failed");
                    l.link.monitor.emit(|| {
                        MonitorEvent::new(MonitorEventKind::AcceptFailed, &l.endpoint)
                            .with_detail(e.to_string())
                    });
                    return;
                }
            }
        }
    }

    fn insert_engine(&mut self, mut stream: Stream, origin: EngineOrigin) {
        let token = self.entries.vacant_key();
        let generation = self.next_generation();
        let interest = Interest::READABLE | Interest::WRITABLE;
        // A stream that was registered as a connecter is re-registered here.
        let reg = self.poll.registry();
        let registered = reg
            .reregister(&mut stream, Token(token), interest)
            .or_else(|_| reg.register(&mut stream, Token(token), interest));
        if let Err(e) = registered {
            tracing::warn!(error = %e, "cannot register connection");
            return;
        }
        let notify = self.notifier(token);
        let now = Instant::now();
        let engine = Engine::new(stream, origin, notify, now);
        let key = self
            .entries
            .insert((generation, Entry::Engine(Box::new(engine))));
        debug_assert_eq!(key, token);
        // Greeting goes out at once.
        self.engine_step(token, |e, cx| e.on_io(true, true, false, cx));
    }

    fn engine_notified(&mut self, token: usize) {
        if let Some((_, Entry::Engine(_))) = self.entries.get(token) {
            self.engine_step(token, |e, cx| e.on_notify(cx));
        } else if let Some((_, Entry::Connecter(c))) = self.entries.get(token) {
            // A closing connecter whose queue has drained can go.
            if c.closing.is_some() && c.out.is_empty() {
                self.remove(token);
            }
        }
    }

    /// Runs one engine step and applies its outcome.
    fn engine_step(&mut self, token: usize, f: impl FnOnce(&mut Engine, &mut StepCx<'_>) -> Step) {
        let Some((generation, Entry::Engine(engine))) = self.entries.get_mut(token) else {
            return;
        };
        let mut cx = StepCx {
            now: Instant::now(),
            timer: None,
            pool: &mut self.pool,
            watch_out: false,
        };
        let step = f(engine, &mut cx);
        let generation = *generation;
        if cx.watch_out && !engine.out_watched {
            engine.out_watched = true;
            self.watched.push((token, generation));
        }
        if let Some((at, kind)) = cx.timer {
            self.timers.add(at, token, generation, kind);
        }
        match step {
            Step::Continue => {}
            Step::Close => {
                let Some((_, Entry::Engine(mut engine))) = self.entries.try_remove(token) else {
                    return;
                };
                engine.deregister(self.poll.registry());
                engine.report_close();
                if let Some(c) = engine.into_connecter() {
                    // Reconnect unless the socket is gone or closing.
                    if c.closing.is_none() && !c.link.in_tx.is_disconnected() {
                        let generation = self.next_generation();
                        let c = Connecter { generation, ..c };
                        let entry = self.entries.vacant_entry();
                        let t = entry.key();
                        entry.insert((generation, Entry::Connecter(c)));
                        self.schedule_reconnect(t);
                    }
                }
            }
        }
    }
}

/// What an engine step may ask of the loop.
pub(crate) struct StepCx<'a> {
    /// The time the step runs at.
    pub(crate) now: Instant,
    /// A timer to set for this engine.
    pub(crate) timer: Option<(Instant, TimerKind)>,
    /// The I/O thread's pool of large receive buffers.
    pub(crate) pool: &'a mut RecvPool,
    /// Set by an engine left idle on its out-ring: the loop watches it.
    pub(crate) watch_out: bool,
}
