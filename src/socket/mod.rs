//! Sockets: the public API (`Context`, `Socket`, options, `Poller`,
//! `Monitor`, `proxy`) and the socket types as small routing strategies over
//! a socket's pipes.
//!
//! A socket lives on the application's thread. It sends by writing whole
//! messages into the ring of the pipe its pattern picks, and receives by
//! taking messages from the receive rings of its pipes in turn (written by
//! the engine of a TCP or IPC connection, or by an inproc peer itself); its
//! in-ring brings notices of pipes attached, connected and gone. It never
//! performs network I/O itself: the I/O threads of the `reactor` module do,
//! and inproc peers write straight into rings the other socket reads.
//!
//! Each socket type lives in its own file and only decides where a message
//! goes and what to do with one that arrives: load balancing (`push`,
//! `dealer`, `req`), fair queueing (the pipes' receive rings, in turn),
//! distribution with
//! drop over a prefix trie (`xpub`, `pub_`), subscriptions upstream
//! (`xsub`, `sub`), an identity map (`router`), envelopes and strict
//! alternation (`req`, `rep`), one peer (`pair`). Subscriptions travel
//! through pipes as messages `0x01/0x00 + topic`; the engine turns them into
//! ZMTP SUBSCRIBE/CANCEL commands and back.
//!
//! A blocking call that finds nothing to do re-checks its rings for a short
//! bounded time (yielding the CPU in between) before it parks; see
//! `options::spin_budget`.
//!
//! # Where ringmq differs from libzmq
//!
//! - **Receive high-water mark.** As in libzmq, every peer has a receive
//!   queue of its own, bounded by RCVHWM, and the socket fair-queues among
//!   them. A full queue stops its engine from reading (TCP flow control
//!   pushes back on that sender); nothing is dropped. The mark is taken
//!   when a connection's `bind`/`connect` is made, and must be set before
//!   the first one. An inproc pipe is one ring per direction,
//!   sized, as in libzmq, from the writer's SNDHWM plus the reader's RCVHWM
//!   (taken when each side binds or connects; for a connect made before
//!   the bind, from the connecting socket's two marks). Rings are
//!   allocated whole (72 bytes a slot, pages touched as they are first
//!   used, and kept once touched), so at the default marks a TCP or IPC
//!   connection can come to hold about 150 KB (its send and receive
//!   rings) and an inproc connection about 300 KB, where libzmq's queues
//!   grow and shrink in chunks; lower the marks for sockets with very
//!   many peers.
//! - **Mark granularity.** Pipes are rings of a power-of-two size. An
//!   inproc pipe holds exactly its mark, as libzmq's does (SNDHWM plus
//!   RCVHWM: 2000 messages at the defaults); the rings of a TCP or IPC
//!   connection round SNDHWM and RCVHWM up to a power of two (the kernel's
//!   buffers make those counts inexact in libzmq too). Marks (and "no
//!   limit", 0) are capped at 2^17 messages, which keeps memory bounded
//!   whatever the option says.
//! - **Interface names.** A bind takes a network interface's name
//!   (`tcp://eth0:5555`, Linux), as libzmq does; the source of a connect
//!   (`tcp://source;host:port`) must be an IP address or `*`.
//! - **Message properties** (libzmq's `zmq_msg_gets`: `Socket-Type`,
//!   `Identity`, `User-Id`, `Peer-Address`, `X-` properties) are kept per
//!   connection, not carried by each [`Msg`]: the socket gives those of the
//!   message received last ([`Socket::last_message_property`]).
//! - **Context lifetime.** [`Context`] is a handle; its I/O threads stop
//!   (after the sockets' linger) when the last handle and the last socket are
//!   dropped, rather than on an explicit `zmq_ctx_term`.
//!   [`Context::shutdown`] is libzmq's `zmq_ctx_shutdown`.
//! - **Failed sends hand the message back** ([`SendError`]) instead of
//!   leaving it with the caller by pointer.
//! - **Frames per message.** An incoming message of more than
//!   [`zmtp::MAX_MESSAGE_FRAMES`](crate::zmtp::MAX_MESSAGE_FRAMES) (65 536)
//!   frames is a protocol violation and its peer is disconnected; libzmq
//!   sets no limit, so a peer could grow one message without end. MAXMSGSIZE
//!   applies to each frame, as in libzmq.
//! - **Security.** NULL, PLAIN and, with the `curve` cargo feature, CURVE
//!   ([`Socket::set_mechanism`] with a [`Mechanism`];
//!   libzmq's `ZMQ_CURVE_SERVER`, `_PUBLICKEY`, `_SECRETKEY` and
//!   `_SERVERKEY` are one call, keys in Z85 or as bytes). A PLAIN or CURVE
//!   server checks its clients with a Rust function rather than a ZAP
//!   handler bound at `inproc://zeromq.zap.01`; the user id the function
//!   returns is the messages' `User-Id` property
//!   ([`Socket::last_message_property`]). A CURVE server without a check
//!   admits every client that completes the handshake, as libzmq does
//!   without a ZAP handler. Without the feature a CURVE peer's handshake
//!   fails with a mechanism mismatch.
//! - **Conflation** (`ZMQ_CONFLATE`) keeps only the newest message of each
//!   TCP or IPC connection: the one waiting to be received on a SUB, PULL
//!   or DEALER socket, the one waiting to be sent on a PUSH, PUB or DEALER
//!   socket, and likewise over `inproc://`. Multipart messages are kept
//!   whole (libzmq does not allow them with conflation). Subscriptions are
//!   never conflated.
//! - **Not supported.** STREAM and other raw or draft socket types.

#![forbid(unsafe_code)]

mod context;
mod dealer;
mod event_fd;
mod inproc;
pub(crate) mod monitor;
pub(crate) mod options;
mod pair;
mod pipes;
mod poller;
mod proxy;
mod pub_;
mod pull;
mod push;
mod rep;
mod req;
mod router;
pub(crate) mod signal;
mod sub;
mod trie;
mod xpub;
mod xsub;

use std::cell::RefCell;
use std::collections::VecDeque;
use std::marker::PhantomData;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;

pub use context::{Context, ContextBuilder};
pub use monitor::{Monitor, MonitorEvent, MonitorEventKind};
pub use options::Options;
pub use poller::{PollEvent, PollFlags, Poller};
pub use proxy::{proxy, proxy_steerable};

use crate::error::{Error, Result};
use crate::msg::Msg;
use crate::pipe::{Inbound, Payload, PipeId, PipeWriter};
use crate::reactor::{Command, SocketLink};
use crate::ring::{self, Consumer, MpProducer, Notify};
use crate::sync::AtomicU64;
use crate::transport::{resolve_endpoint_string, transport_error, Endpoint, LocalAddr};
pub use crate::zmtp::SocketType;
use crate::zmtp::{Mechanism, PeerInfo};

use inproc::InprocPeer;
use pipes::{PipeEntry, Pipes, Readers};
use signal::Signal;

/// A failed send, handing the message back.
#[derive(Debug)]
pub struct SendError<T> {
    /// Why it failed.
    pub error: Error,
    /// The message that was not sent.
    pub msg: T,
}

impl<T> From<SendError<T>> for Error {
    fn from(e: SendError<T>) -> Error {
        e.error
    }
}

impl<T: std::fmt::Debug> std::fmt::Display for SendError<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "send failed: {}", self.error)
    }
}

impl<T: std::fmt::Debug> std::error::Error for SendError<T> {}

/// How long a call may wait.
#[derive(Clone, Copy, Debug)]
enum Wait {
    /// Not at all.
    No,
    /// Until this instant (None = forever).
    Until(Option<Instant>),
}

impl Wait {
    #[inline(always)]
    fn from_timeout(t: Option<Duration>) -> Wait {
        match t {
            Some(d) if d.is_zero() => Wait::No,
            Some(d) => Wait::Until(Some(Instant::now() + d)),
            None => Wait::Until(None),
        }
    }
}

/// What a routing strategy did with a message.
pub(crate) enum Routed {
    /// Sent (or dropped, where the pattern drops).
    Sent,
    /// No peer has room now: wait and retry.
    Full(Payload),
    /// The one peer the message is for has no room now: wait for room in
    /// that pipe and retry.
    FullAt(PipeId, Payload),
    /// Failed for good.
    Failed(Error, Payload),
}

/// What a blocked call waits for besides its in-ring's notices.
#[derive(Clone, Copy, Debug)]
enum Space {
    /// Nothing more (a receive also waits for its pipes' rings).
    None,
    /// Room in any pipe.
    AnyPipe,
    /// Room in this pipe.
    Pipe(PipeId),
}

/// A random-ish 32-bit seed (clock and stack address): for generated routing
/// ids and request ids, which need to differ between runs, not secrecy.
pub(crate) fn random_u32() -> u32 {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0x9E37_79B9);
    let local = 0u8;
    let mut x = t ^ (&local as *const u8 as u64).rotate_left(29) ^ 0xA076_1D64_78BD_642F;
    x ^= x >> 33;
    x = x.wrapping_mul(0xFF51_AFD7_ED55_8CCD);
    x ^= x >> 33;
    x as u32
}

/// The per-type routing strategy and its state.
enum Pattern {
    Push,
    Pull,
    Pair,
    Dealer,
    Pub(xpub::XPub),
    XPub(xpub::XPub),
    Sub(xsub::XSub),
    XSub(xsub::XSub),
    Router(router::Router),
    Req(req::Req),
    Rep(rep::Rep),
}

impl Pattern {
    fn new(kind: SocketType) -> Result<Pattern> {
        Ok(match kind {
            SocketType::Push => Pattern::Push,
            SocketType::Pull => Pattern::Pull,
            SocketType::Pair => Pattern::Pair,
            SocketType::Dealer => Pattern::Dealer,
            SocketType::Pub => Pattern::Pub(pub_::new()),
            SocketType::XPub => Pattern::XPub(xpub::XPub::new(false)),
            SocketType::Sub => Pattern::Sub(sub::new()),
            SocketType::XSub => Pattern::XSub(xsub::XSub::new(false)),
            SocketType::Router => Pattern::Router(router::Router::new()),
            SocketType::Req => Pattern::Req(req::Req::new()),
            SocketType::Rep => Pattern::Rep(rep::Rep::default()),
        })
    }

    fn check_send(&self, opts: &Options) -> Result<()> {
        match self {
            Pattern::Pull => Err(Error::NotSupported("a PULL socket cannot send")),
            Pattern::Sub(_) => Err(Error::NotSupported(
                "a SUB socket cannot send (use subscribe/unsubscribe)",
            )),
            Pattern::Req(r) => r.check_send(opts.req_relaxed),
            Pattern::Rep(r) => r.check_send(),
            _ => Ok(()),
        }
    }

    fn check_recv(&self) -> Result<()> {
        match self {
            Pattern::Push => Err(Error::NotSupported("a PUSH socket cannot receive")),
            Pattern::Pub(_) => Err(Error::NotSupported("a PUB socket cannot receive")),
            Pattern::Req(r) => r.check_recv(),
            Pattern::Rep(r) => r.check_recv(),
            _ => Ok(()),
        }
    }

    /// Whether a send would not wait now (poller's "writable").
    fn writable(&self, pipes: &Pipes, opts: &Options) -> bool {
        if self.check_send(opts).is_err() {
            return false;
        }
        match self {
            Pattern::Push | Pattern::Pair | Pattern::Dealer | Pattern::Req(_) => {
                pipes.any_room(opts.immediate)
            }
            Pattern::Router(_) if opts.router_mandatory => pipes.any_room(false),
            _ => true,
        }
    }

    fn send(&mut self, pipes: &mut Pipes, payload: Payload, opts: &Options) -> Routed {
        let lb = |r: std::result::Result<(), Payload>| match r {
            Ok(()) => Routed::Sent,
            Err(p) => Routed::Full(p),
        };
        match self {
            Pattern::Push => lb(push::send(pipes, payload, opts.immediate)),
            Pattern::Pair => lb(pair::send(pipes, payload, opts.immediate)),
            Pattern::Dealer => lb(dealer::send(pipes, payload, opts.immediate)),
            Pattern::Pub(x) | Pattern::XPub(x) => {
                x.send(pipes, payload, opts.xpub_nodrop, opts.invert_matching)
            }
            Pattern::XSub(x) => {
                x.send(pipes, payload);
                Routed::Sent
            }
            Pattern::Router(r) => r.send(pipes, payload, opts.router_mandatory),
            Pattern::Req(r) => r.send(pipes, payload, opts.immediate, opts.req_correlate),
            Pattern::Rep(r) => {
                r.send(pipes, payload);
                Routed::Sent
            }
            Pattern::Pull | Pattern::Sub(_) => {
                Routed::Failed(Error::NotSupported("this socket type cannot send"), payload)
            }
        }
    }

    /// A message arrived from a peer (taken from its pipe's ring).
    fn on_msg(
        &mut self,
        pipe: PipeId,
        payload: Payload,
        opts: &Options,
        inbox: &mut VecDeque<(PipeId, Payload)>,
    ) {
        match self {
            Pattern::Pub(x) | Pattern::XPub(x) => {
                let verbose = (opts.xpub_verbose, opts.xpub_verbose_unsubs);
                x.on_msg(pipe, payload, verbose, opts.xpub_manual, inbox)
            }
            Pattern::Sub(x) | Pattern::XSub(x) => {
                x.on_msg(pipe, payload, opts.invert_matching, inbox)
            }
            Pattern::Router(r) => r.on_msg(pipe, payload, inbox),
            // Messages to a socket that cannot receive are dropped (a peer
            // of a send-only socket has nothing to say).
            Pattern::Push => {}
            _ => inbox.push_back((pipe, payload)),
        }
    }

    /// A pipe attached, or its connection (re)connected (`fresh`: the pipe
    /// holds none of what was queued for it before).
    /// Returns a pipe to end: one whose routing id this pipe's peer took
    /// over (ROUTER with `ZMQ_ROUTER_HANDOVER`).
    fn on_attach(
        &mut self,
        pipes: &mut Pipes,
        pipe: PipeId,
        fresh: bool,
        opts: &Options,
    ) -> Option<PipeId> {
        match self {
            Pattern::Sub(x) | Pattern::XSub(x) if fresh => x.on_attach(pipes, pipe),
            Pattern::Router(r) => return r.on_attach(pipes, pipe, opts.router_handover),
            _ => {}
        }
        None
    }

    /// A pipe's connection was lost (`gone`: for good).
    fn on_detach(
        &mut self,
        pipe: PipeId,
        gone: bool,
        opts: &Options,
        inbox: &mut VecDeque<(PipeId, Payload)>,
    ) {
        match self {
            // The subscriber re-sends its subscriptions when it reconnects.
            Pattern::Pub(x) | Pattern::XPub(x) => {
                x.on_detach(pipe, opts.xpub_verbose_unsubs, inbox)
            }
            Pattern::Router(r) if gone => r.on_detach(pipe),
            _ => {}
        }
    }

    /// Whether a queued message may be handed out (poller readiness).
    fn acceptable(&self, pipe: PipeId) -> bool {
        match self {
            Pattern::Req(r) => r.accepts(pipe),
            _ => true,
        }
    }

    /// Whether messages that arrive steer sending (subscriptions to a
    /// publisher), so a send reads them first.
    #[inline]
    fn hears_while_sending(&self) -> bool {
        matches!(self, Pattern::Pub(_) | Pattern::XPub(_))
    }

    /// Whether a send is plain load balancing (no envelope, state or
    /// routing id).
    #[inline]
    fn plain_send(&self) -> bool {
        matches!(self, Pattern::Push | Pattern::Pair | Pattern::Dealer)
    }

    /// Whether a message that arrives goes to the application as it is
    /// (no envelope, filter or routing id), so the pattern need not see it.
    #[inline]
    fn plain_receive(&self) -> bool {
        matches!(self, Pattern::Pull | Pattern::Pair | Pattern::Dealer)
    }

    /// Hands a message to the application, or `None` to drop it.
    fn deliver(&mut self, pipe: PipeId, payload: Payload, opts: &Options) -> Option<Payload> {
        match self {
            Pattern::Req(r) => r.deliver(pipe, payload, opts.req_correlate),
            Pattern::Rep(r) => r.deliver(pipe, payload),
            Pattern::XPub(x) => {
                x.delivered(pipe);
                Some(payload)
            }
            _ => Some(payload),
        }
    }
}

struct Core {
    ctx: Context,
    id: u64,
    kind: SocketType,
    pattern: Pattern,
    opts: Options,
    in_rx: Consumer<Inbound>,
    in_tx: MpProducer<Inbound>,
    next_pipe: Arc<AtomicU64>,
    pipes: Pipes,
    /// The pipes' receive rings.
    readers: Readers,
    /// Messages taken from the pipes, not yet given to the application.
    inbox: VecDeque<(PipeId, Payload)>,
    /// The remaining frames of a multipart message being received frame by
    /// frame.
    frames: VecDeque<Msg>,
    /// Frames sent with MORE set, waiting for the last one.
    partial: Vec<Msg>,
    signal: Arc<Signal>,
    /// Whether the in-ring is already shared with peers (it is created anew
    /// when RCVHWM changes before the first bind/connect).
    in_shared: bool,
    /// The link handed to I/O threads; rebuilt when options change.
    link: Option<Arc<SocketLink>>,
    /// Bound endpoints: (endpoint, io thread or None for inproc).
    bound: Vec<(String, Option<usize>)>,
    /// Connected endpoints: (endpoint, io thread or None for inproc).
    connected: Vec<(String, Option<usize>)>,
    /// I/O threads that serve something of this socket.
    io_used: Vec<usize>,
    /// Pipes to end, handed over to a newer peer (see `end_evicted`).
    evicted: Vec<PipeId>,
    last_endpoint: Option<String>,
    /// Where monitor events go.
    monitor: Arc<monitor::MonitorSink>,
    /// The descriptor of [`Socket::fd`], once asked for.
    event_fd: Option<event_fd::EventFd>,
    /// Whether [`Socket::events`] left sleeps announced for `event_fd`.
    events_armed: bool,
}

/// A ringmq socket: any of the ZeroMQ socket types (PAIR, PUB, SUB, XPUB,
/// XSUB, PUSH, PULL, REQ, REP, DEALER, ROUTER), over `tcp://`, `ipc://` and
/// `inproc://`, talking to ringmq or libzmq peers.
///
/// A socket is `Send` (it can move to another thread) but not `Sync`: like a
/// libzmq socket, it is used by one thread at a time.
///
/// ```
/// use ringmq::{Context, SocketType};
/// let ctx = Context::new();
/// let pull = ctx.socket(SocketType::Pull)?;
/// let ep = pull.bind("tcp://127.0.0.1:*")?;       // the resolved endpoint
/// let push = ctx.socket(SocketType::Push)?;
/// push.connect(&ep)?;
/// push.send("hello")?;
/// push.send_multipart(["a", "b"])?;
/// assert_eq!(&pull.recv()?[..], b"hello");
/// let parts = pull.recv_multipart()?;
/// assert_eq!(parts.len(), 2);
///
/// // Request/reply: REQ adds the empty delimiter, REP routes the reply back.
/// let rep = ctx.socket(SocketType::Rep)?;
/// let ep = rep.bind("tcp://127.0.0.1:*")?;
/// let req = ctx.socket(SocketType::Req)?;
/// req.connect(&ep)?;
/// req.send("ping")?;
/// assert_eq!(&rep.recv()?[..], b"ping");
/// rep.send("pong")?;
/// assert_eq!(&req.recv()?[..], b"pong");
/// # Ok::<(), ringmq::Error>(())
/// ```
pub struct Socket {
    core: RefCell<Core>,
    _not_sync: PhantomData<std::cell::Cell<()>>,
}

/// Events a monitor queues before it drops new ones.
const MONITOR_CAPACITY: usize = 1024;

/// The largest batch taken from the in-ring or the pipes at once.
const RECV_BATCH: usize = 256;

/// How many times a blocking call re-checks its rings with a pause in
/// between before it turns to yielding the CPU between checks. One: a thread
/// that keeps its core while it waits holds up the peer it waits for when
/// threads outnumber cores (a REQ/REP round trip over TCP runs four busy
/// threads; on two cores, 64 paused checks before the first yield made its
/// p50 49.1 µs against 42.4 µs with one, in alternating runs, and
/// throughput did not change).
const SPIN_CHECKS: u32 = 1;

/// Spins, then polls with yields, until `budget` has passed since `since`
/// (set on the first call). Returns false once the budget is spent.
#[inline]
fn keep_spinning(spins: &mut u32, since: &mut Option<Instant>) -> bool {
    if *spins < SPIN_CHECKS {
        *spins += 1;
        std::hint::spin_loop();
        return true;
    }
    let budget = options::spin_budget();
    if budget.is_zero() {
        return false;
    }
    let now = Instant::now();
    let start = *since.get_or_insert(now);
    if now.duration_since(start) >= budget {
        return false;
    }
    std::thread::yield_now();
    true
}

/// A socket's in-ring of pipe notices, sized from RCVHWM. Its consumer (the
/// socket's user) polls before it sleeps and its producers (engines, inproc
/// peers) retry before they wait for room, so its wake-up handshakes are
/// asymmetric: taking an item costs the socket no fence.
fn in_ring(opts: &Options) -> Result<(MpProducer<Inbound>, Consumer<Inbound>)> {
    ring::Builder::new(opts.recv_ring_capacity())
        .asymmetric_wakeups(true)
        .mpsc::<Inbound>()
        .map_err(|e| Error::Io(std::io::Error::other(e.to_string())))
}

impl Socket {
    pub(crate) fn new(ctx: Context, kind: SocketType) -> Result<Socket> {
        let pattern = Pattern::new(kind)?;
        let opts = Options::default();
        let (in_tx, mut in_rx) = in_ring(&opts)?;
        let signal = Arc::new(Signal::default());
        in_rx.set_notifier(Some(signal.clone() as Arc<dyn Notify>));
        let id = ctx.next_socket_id();
        ctx.inner
            .live
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id, signal.clone());
        Ok(Socket {
            core: RefCell::new(Core {
                ctx,
                id,
                kind,
                pattern,
                opts,
                in_rx,
                in_tx,
                next_pipe: Arc::new(AtomicU64::new(1)),
                pipes: Pipes::default(),
                readers: Readers::new(signal.clone()),
                inbox: VecDeque::new(),
                frames: VecDeque::new(),
                partial: Vec::new(),
                signal,
                in_shared: false,
                link: None,
                bound: Vec::new(),
                connected: Vec::new(),
                io_used: Vec::new(),
                evicted: Vec::new(),
                last_endpoint: None,
                monitor: Arc::new(monitor::MonitorSink::default()),
                event_fd: None,
                events_armed: false,
            }),
            _not_sync: PhantomData,
        })
    }

    /// The socket's type.
    pub fn socket_type(&self) -> SocketType {
        self.core.borrow().kind
    }

    /// Binds to an endpoint and returns it resolved (a `*` port replaced by
    /// the port the system chose).
    pub fn bind(&self, endpoint: &str) -> Result<String> {
        self.core.borrow_mut().bind(endpoint)
    }

    /// Connects to an endpoint. The connection is made (and remade after a
    /// failure) in the background; messages queue for it meanwhile.
    pub fn connect(&self, endpoint: &str) -> Result<()> {
        self.core.borrow_mut().connect(endpoint)
    }

    /// Stops listening on an endpoint given to `bind` (the resolved form or
    /// the form given).
    pub fn unbind(&self, endpoint: &str) -> Result<()> {
        self.core.borrow_mut().unbind(endpoint)
    }

    /// Drops the connection made to an endpoint given to `connect`.
    pub fn disconnect(&self, endpoint: &str) -> Result<()> {
        self.core.borrow_mut().disconnect(endpoint)
    }

    /// Starts monitoring the socket's connections: the returned [`Monitor`]
    /// receives its [`MonitorEvent`]s from now on (a second call replaces
    /// the first monitor). Events come from TCP and IPC endpoints only.
    pub fn monitor(&self) -> Result<Monitor> {
        self.core.borrow().monitor.install(MONITOR_CAPACITY)
    }

    /// The last endpoint bound, resolved (libzmq's `ZMQ_LAST_ENDPOINT`).
    pub fn last_endpoint(&self) -> Option<String> {
        self.core.borrow().last_endpoint.clone()
    }

    /// Sends one frame, waiting up to SNDTIMEO when every peer is at its
    /// high-water mark. A frame with MORE set is held until the last frame
    /// of its message is sent; the message then goes out whole.
    // Inlined into the caller's loop, the message is built straight where
    // the fast path moves it into the ring. Left to the compiler, the call
    // stayed out of line once `Options` grew by a field, and inproc 64 B
    // throughput halved (about 21 to 10 M msg/s).
    #[inline(always)]
    pub fn send(&self, msg: impl Into<Msg>) -> std::result::Result<(), SendError<Msg>> {
        let mut c = self.core.borrow_mut();
        let wait = Wait::from_timeout(c.opts.sndtimeo);
        c.send_frame(msg.into(), wait)
    }

    /// Sends one frame without waiting: [`Error::WouldBlock`] when no peer
    /// has room.
    pub fn try_send(&self, msg: impl Into<Msg>) -> std::result::Result<(), SendError<Msg>> {
        self.core.borrow_mut().send_frame(msg.into(), Wait::No)
    }

    /// Sends one frame, waiting at most `timeout`.
    pub fn send_timeout(
        &self,
        msg: impl Into<Msg>,
        timeout: Duration,
    ) -> std::result::Result<(), SendError<Msg>> {
        self.core
            .borrow_mut()
            .send_frame(msg.into(), Wait::from_timeout(Some(timeout)))
    }

    /// Sends a whole multipart message (waiting up to SNDTIMEO).
    pub fn send_multipart<I, M>(&self, parts: I) -> std::result::Result<(), SendError<Vec<Msg>>>
    where
        I: IntoIterator<Item = M>,
        M: Into<Msg>,
    {
        let mut c = self.core.borrow_mut();
        let wait = Wait::from_timeout(c.opts.sndtimeo);
        let frames: Vec<Msg> = parts.into_iter().map(Into::into).collect();
        c.send_message(frames, wait)
    }

    /// Sends a whole multipart message without waiting.
    pub fn try_send_multipart<I, M>(&self, parts: I) -> std::result::Result<(), SendError<Vec<Msg>>>
    where
        I: IntoIterator<Item = M>,
        M: Into<Msg>,
    {
        let frames: Vec<Msg> = parts.into_iter().map(Into::into).collect();
        self.core.borrow_mut().send_message(frames, Wait::No)
    }

    /// Receives one frame, waiting up to RCVTIMEO. Check [`Msg::more`] for
    /// the frames that follow.
    pub fn recv(&self) -> Result<Msg> {
        let mut c = self.core.borrow_mut();
        let wait = Wait::from_timeout(c.opts.rcvtimeo);
        c.recv_frame(wait)
    }

    /// Receives one frame without waiting: [`Error::WouldBlock`] when none is
    /// queued.
    pub fn try_recv(&self) -> Result<Msg> {
        self.core.borrow_mut().recv_frame(Wait::No)
    }

    /// Receives one frame, waiting at most `timeout` ([`Error::Timeout`]).
    pub fn recv_timeout(&self, timeout: Duration) -> Result<Msg> {
        self.core
            .borrow_mut()
            .recv_frame(Wait::from_timeout(Some(timeout)))
    }

    /// Receives all frames of the next message (waiting up to RCVTIMEO).
    pub fn recv_multipart(&self) -> Result<Vec<Msg>> {
        let mut c = self.core.borrow_mut();
        let wait = Wait::from_timeout(c.opts.rcvtimeo);
        c.recv_message(wait)
    }

    /// Receives all frames of the next message without waiting.
    pub fn try_recv_multipart(&self) -> Result<Vec<Msg>> {
        self.core.borrow_mut().recv_message(Wait::No)
    }

    /// Receives all frames of the next message, waiting at most `timeout`.
    pub fn recv_multipart_timeout(&self, timeout: Duration) -> Result<Vec<Msg>> {
        self.core
            .borrow_mut()
            .recv_message(Wait::from_timeout(Some(timeout)))
    }

    /// What the peer of the message received last said about itself in
    /// its handshake, with what ringmq learned of it (the user id a PLAIN
    /// authenticator returned, its IP address): libzmq's message metadata,
    /// kept per connection rather than per message. `None` before the first
    /// message, and for a message whose connection ended long before it was
    /// received (the peers of the last 16 ended connections are kept).
    pub fn last_message_peer(&self) -> Option<PeerInfo> {
        let c = self.core.borrow();
        let pipe = c.readers.last_from()?;
        c.readers.peer_of(pipe).cloned()
    }

    /// A property of the message received last, as libzmq's `zmq_msg_gets`
    /// reads it: `Socket-Type`; `Identity` (or `Routing-Id`), the routing
    /// id the peer announced; `User-Id`, what a PLAIN authenticator
    /// returned for the peer; `Peer-Address`, the peer's IP address (TCP
    /// only); or any other property the peer sent in its handshake. Names
    /// match whatever their case. `None` where the peer gave no such
    /// property (and as for [`last_message_peer`](Self::last_message_peer)).
    ///
    /// ```
    /// use ringmq::{Context, SocketType};
    ///
    /// let ctx = Context::new();
    /// let pull = ctx.socket(SocketType::Pull)?;
    /// let ep = pull.bind("tcp://127.0.0.1:*")?;
    /// let push = ctx.socket(SocketType::Push)?;
    /// push.connect(&ep)?;
    /// push.send("hello")?;
    /// pull.recv()?;
    /// assert_eq!(pull.last_message_property("socket-type").as_deref(), Some("PUSH"));
    /// assert_eq!(pull.last_message_property("Peer-Address").as_deref(), Some("127.0.0.1"));
    /// assert_eq!(pull.last_message_property("User-Id"), None);
    /// # Ok::<(), ringmq::Error>(())
    /// ```
    pub fn last_message_property(&self, name: &str) -> Option<String> {
        let peer = self.last_message_peer()?;
        let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        if name.eq_ignore_ascii_case("User-Id") {
            return peer.user_id;
        }
        if name.eq_ignore_ascii_case("Peer-Address") {
            return peer.peer_address;
        }
        if name.eq_ignore_ascii_case("Socket-Type") {
            return Some(peer.socket_type.as_str().to_owned());
        }
        if name.eq_ignore_ascii_case("Routing-Id") || name.eq_ignore_ascii_case("Identity") {
            return peer.identity.as_deref().map(text);
        }
        peer.properties.get(name).map(|v| text(v))
    }

    /// Adds `ZMQ_METADATA` property `name` (see [`Options::metadata`]) for
    /// the connections made or accepted after the call, replacing a
    /// property of the same name. As in libzmq the name must start with
    /// `X-` (and follow ZMTP's property-name grammar, at most 255 bytes)
    /// and the value must not be empty; [`Error::InvalidOption`]
    /// otherwise.
    ///
    /// ```
    /// use ringmq::{Context, SocketType};
    ///
    /// let ctx = Context::new();
    /// let pull = ctx.socket(SocketType::Pull)?;
    /// let ep = pull.bind("tcp://127.0.0.1:*")?;
    /// let push = ctx.socket(SocketType::Push)?;
    /// push.set_metadata("X-Service", "billing")?;
    /// assert!(push.set_metadata("Service", "billing").is_err());
    /// push.connect(&ep)?;
    /// push.send("invoice")?;
    /// pull.recv()?;
    /// assert_eq!(pull.last_message_property("x-service").as_deref(), Some("billing"));
    /// # Ok::<(), ringmq::Error>(())
    /// ```
    pub fn set_metadata(&self, name: &str, value: impl Into<Bytes>) -> Result<()> {
        let value = value.into();
        if !name.starts_with("X-") || !crate::zmtp::valid_property_name(name.as_bytes()) {
            return Err(Error::InvalidOption {
                option: "ZMQ_METADATA",
                reason: "names start with `X-` and follow the ZMTP property-name grammar (at most 255 bytes)",
            });
        }
        if value.is_empty() || value.len() > crate::zmtp::MAX_PROPERTY_VALUE {
            return Err(Error::InvalidOption {
                option: "ZMQ_METADATA",
                reason: "values are 1 byte to 1 MiB long",
            });
        }
        self.core
            .borrow_mut()
            .set(|o| o.metadata.insert(name, value))
    }

    /// A descriptor for an external event loop (epoll, mio, an async
    /// runtime's readiness API), as libzmq's `ZMQ_FD`. Like libzmq's, it
    /// does not say what the socket can do: it turns readable when that may
    /// have changed. Wait for it to be readable, then call
    /// [`events`](Self::events), act on what it reports (receive until
    /// [`Error::WouldBlock`], send until a send would wait), and call
    /// `events` again before waiting on the descriptor again; after any
    /// send or receive of your own, call `events` too. The descriptor stays
    /// open while the socket lives; do not close it, and do not use a
    /// [`Poller`] on the same socket meanwhile.
    ///
    /// ```
    /// use ringmq::{Context, SocketType};
    ///
    /// let ctx = Context::new();
    /// let pull = ctx.socket(SocketType::Pull)?;
    /// let ep = pull.bind("tcp://127.0.0.1:*")?;
    /// let fd = pull.fd()?; // register with the event loop (readable)
    /// assert!(!pull.events()?.readable);
    /// let push = ctx.socket(SocketType::Push)?;
    /// push.connect(&ep)?;
    /// push.send("work")?;
    /// // ... the event loop reports `fd` readable ...
    /// # let _ = fd;
    /// # while !pull.events()?.readable { std::thread::yield_now(); }
    /// while let Ok(m) = pull.try_recv() {
    ///     assert_eq!(&m[..], b"work");
    /// }
    /// assert!(!pull.events()?.readable); // re-armed: wait on `fd` again
    /// # Ok::<(), ringmq::Error>(())
    /// ```
    pub fn fd(&self) -> Result<std::os::fd::RawFd> {
        let mut c = self.core.borrow_mut();
        let efd = match &mut c.event_fd {
            Some(efd) => efd,
            slot @ None => {
                let efd = event_fd::EventFd::new().map_err(Error::Io)?;
                // Whatever is there already is news to the loop.
                efd.raise();
                slot.insert(efd)
            }
        };
        Ok(efd.fd())
    }

    /// What the socket can do now, as libzmq's `ZMQ_EVENTS`: `readable` if
    /// a message can be received, `writable` if one can be sent without
    /// waiting. Once [`fd`](Self::fd) was asked for, it also empties that
    /// descriptor and arms it, so that it turns readable when what the
    /// socket can do may change.
    pub fn events(&self) -> Result<PollFlags> {
        let mut c = self.core.borrow_mut();
        if c.events_armed {
            c.events_armed = false;
            c.finish_poll();
        }
        if let Some(efd) = &c.event_fd {
            efd.drain();
        }
        let (readable, writable) = c.readiness()?;
        if let Some(n) = c.event_fd.as_ref().map(|e| e.notifier().clone()) {
            // Room matters only to a socket that may send now.
            let want_out = !writable && c.pattern.check_send(&c.opts).is_ok();
            if c.arm_events(!readable, want_out, &n) {
                c.events_armed = true;
            } else {
                // Something changed while arming: let the loop come back.
                c.finish_poll();
                if let Some(efd) = &c.event_fd {
                    efd.raise();
                }
            }
        }
        Ok(PollFlags { readable, writable })
    }

    /// A copy of the socket's options.
    pub fn options(&self) -> Options {
        self.core.borrow().opts.clone()
    }

    /// Sets `ZMQ_SNDHWM` (0 = no limit). Applies to pipes made after the call.
    pub fn set_sndhwm(&self, v: i32) -> Result<()> {
        let v = options::check_hwm("ZMQ_SNDHWM", v)?;
        self.core.borrow_mut().set(|o| o.sndhwm = v)
    }

    /// `ZMQ_SNDHWM`.
    pub fn sndhwm(&self) -> i32 {
        self.core.borrow().opts.sndhwm
    }

    /// Sets `ZMQ_RCVHWM` (0 = no limit): the size of each peer's receive
    /// ring (and of the socket's ring of pipe notices). It takes effect only
    /// before the first `bind`/`connect` ([`Error::WrongState`] after).
    pub fn set_rcvhwm(&self, v: i32) -> Result<()> {
        let v = options::check_hwm("ZMQ_RCVHWM", v)?;
        let mut c = self.core.borrow_mut();
        if c.in_shared {
            return Err(Error::WrongState(
                "ZMQ_RCVHWM must be set before the first bind or connect",
            ));
        }
        c.set(|o| o.rcvhwm = v)?;
        c.rebuild_in_ring()
    }

    /// `ZMQ_RCVHWM`.
    pub fn rcvhwm(&self) -> i32 {
        self.core.borrow().opts.rcvhwm
    }

    /// Sets `ZMQ_LINGER`: `None` waits forever for queued messages at close,
    /// `Some(Duration::ZERO)` drops them.
    pub fn set_linger(&self, v: Option<Duration>) -> Result<()> {
        self.core.borrow_mut().set(|o| o.linger = v)
    }

    /// `ZMQ_LINGER`.
    pub fn linger(&self) -> Option<Duration> {
        self.core.borrow().opts.linger
    }

    /// Sets `ZMQ_RECONNECT_IVL` (`None` disables reconnection).
    pub fn set_reconnect_ivl(&self, v: Option<Duration>) -> Result<()> {
        self.core.borrow_mut().set(|o| o.reconnect_ivl = v)
    }

    /// `ZMQ_RECONNECT_IVL`.
    pub fn reconnect_ivl(&self) -> Option<Duration> {
        self.core.borrow().opts.reconnect_ivl
    }

    /// Sets `ZMQ_RECONNECT_IVL_MAX` (zero: constant interval with jitter).
    pub fn set_reconnect_ivl_max(&self, v: Duration) -> Result<()> {
        self.core.borrow_mut().set(|o| o.reconnect_ivl_max = v)
    }

    /// `ZMQ_RECONNECT_IVL_MAX`.
    pub fn reconnect_ivl_max(&self) -> Duration {
        self.core.borrow().opts.reconnect_ivl_max
    }

    /// Sets `ZMQ_CONNECT_TIMEOUT` (see [`Options::connect_timeout`]; `None`
    /// = the system's own timeout). Applies to connects started after the
    /// call; a zero duration is an [`Error::InvalidOption`].
    pub fn set_connect_timeout(&self, v: Option<Duration>) -> Result<()> {
        let v = options::check_period(
            "ZMQ_CONNECT_TIMEOUT",
            v,
            Duration::from_nanos(1)..=Duration::MAX,
            "use None for the system's own timeout",
        )?;
        self.core.borrow_mut().set(|o| o.connect_timeout = v)
    }

    /// `ZMQ_CONNECT_TIMEOUT`.
    pub fn connect_timeout(&self) -> Option<Duration> {
        self.core.borrow().opts.connect_timeout
    }

    /// Sets `ZMQ_MAXMSGSIZE` (`None` = no limit).
    pub fn set_maxmsgsize(&self, v: Option<u64>) -> Result<()> {
        self.core.borrow_mut().set(|o| o.maxmsgsize = v)
    }

    /// `ZMQ_MAXMSGSIZE`.
    pub fn maxmsgsize(&self) -> Option<u64> {
        self.core.borrow().opts.maxmsgsize
    }

    /// Sets `ZMQ_SNDTIMEO` (`None` = wait forever).
    pub fn set_sndtimeo(&self, v: Option<Duration>) -> Result<()> {
        self.core.borrow_mut().set(|o| o.sndtimeo = v)
    }

    /// `ZMQ_SNDTIMEO`.
    pub fn sndtimeo(&self) -> Option<Duration> {
        self.core.borrow().opts.sndtimeo
    }

    /// Sets `ZMQ_RCVTIMEO` (`None` = wait forever).
    pub fn set_rcvtimeo(&self, v: Option<Duration>) -> Result<()> {
        self.core.borrow_mut().set(|o| o.rcvtimeo = v)
    }

    /// `ZMQ_RCVTIMEO`.
    pub fn rcvtimeo(&self) -> Option<Duration> {
        self.core.borrow().opts.rcvtimeo
    }

    /// Sets `ZMQ_ROUTING_ID` (1–255 bytes, not starting with a zero byte).
    pub fn set_routing_id(&self, id: impl Into<Bytes>) -> Result<()> {
        let id = id.into();
        options::check_routing_id(&id)?;
        self.core.borrow_mut().set(|o| o.routing_id = Some(id))
    }

    /// `ZMQ_ROUTING_ID`.
    pub fn routing_id(&self) -> Option<Bytes> {
        self.core.borrow().opts.routing_id.clone()
    }

    /// Sets `ZMQ_IMMEDIATE`.
    pub fn set_immediate(&self, v: bool) -> Result<()> {
        self.core.borrow_mut().set(|o| o.immediate = v)
    }

    /// `ZMQ_IMMEDIATE`.
    pub fn immediate(&self) -> bool {
        self.core.borrow().opts.immediate
    }

    /// Sets `ZMQ_TCP_KEEPALIVE` (`None` = OS default).
    pub fn set_tcp_keepalive(&self, v: Option<bool>) -> Result<()> {
        self.core.borrow_mut().set(|o| o.tcp_keepalive = v)
    }

    /// `ZMQ_TCP_KEEPALIVE`.
    pub fn tcp_keepalive(&self) -> Option<bool> {
        self.core.borrow().opts.tcp_keepalive
    }

    /// Sets `ZMQ_TCP_KEEPALIVE_IDLE` in seconds (`None` = OS default).
    pub fn set_tcp_keepalive_idle(&self, v: Option<u32>) -> Result<()> {
        self.core.borrow_mut().set(|o| o.tcp_keepalive_idle = v)
    }

    /// `ZMQ_TCP_KEEPALIVE_IDLE`.
    pub fn tcp_keepalive_idle(&self) -> Option<u32> {
        self.core.borrow().opts.tcp_keepalive_idle
    }

    /// Sets `ZMQ_TCP_KEEPALIVE_CNT` (`None` = OS default).
    pub fn set_tcp_keepalive_cnt(&self, v: Option<u32>) -> Result<()> {
        self.core.borrow_mut().set(|o| o.tcp_keepalive_cnt = v)
    }

    /// `ZMQ_TCP_KEEPALIVE_CNT`.
    pub fn tcp_keepalive_cnt(&self) -> Option<u32> {
        self.core.borrow().opts.tcp_keepalive_cnt
    }

    /// Sets `ZMQ_TCP_KEEPALIVE_INTVL` in seconds (`None` = OS default).
    pub fn set_tcp_keepalive_intvl(&self, v: Option<u32>) -> Result<()> {
        self.core.borrow_mut().set(|o| o.tcp_keepalive_intvl = v)
    }

    /// `ZMQ_TCP_KEEPALIVE_INTVL`.
    pub fn tcp_keepalive_intvl(&self) -> Option<u32> {
        self.core.borrow().opts.tcp_keepalive_intvl
    }

    /// Sets `ZMQ_TOS` (see [`Options::tos`]; `None` = OS default) for
    /// binds and connections made after the call.
    pub fn set_tos(&self, v: Option<u8>) -> Result<()> {
        self.core.borrow_mut().set(|o| o.tos = v)
    }

    /// `ZMQ_TOS`.
    pub fn tos(&self) -> Option<u8> {
        self.core.borrow().opts.tos
    }

    /// Sets `ZMQ_BINDTODEVICE` (see [`Options::bind_to_device`]; `None` =
    /// no device) for TCP binds and connections made after the call: their
    /// packets go through that interface only, as with Linux's
    /// `SO_BINDTODEVICE` (which may need `CAP_NET_RAW`). A name that cannot
    /// be an interface's (empty, over 15 bytes, or with a NUL, `/` or
    /// white space) is an [`Error::InvalidOption`]; a device the system
    /// does not have fails the bind or connect.
    ///
    /// ```
    /// use ringmq::{Context, SocketType};
    ///
    /// let ctx = Context::new();
    /// let pull = ctx.socket(SocketType::Pull)?;
    /// assert!(pull.set_bindtodevice(Some("a/b")).is_err());
    /// pull.set_bindtodevice(Some("lo"))?;
    /// assert_eq!(pull.bindtodevice().as_deref(), Some("lo"));
    /// # Ok::<(), ringmq::Error>(())
    /// ```
    pub fn set_bindtodevice(&self, device: Option<&str>) -> Result<()> {
        if let Some(name) = device {
            let bad = name.is_empty()
                || name.len() > 15
                || name
                    .bytes()
                    .any(|b| b == 0 || b == b'/' || b.is_ascii_whitespace());
            if bad {
                return Err(Error::InvalidOption {
                    option: "ZMQ_BINDTODEVICE",
                    reason: "an interface name is 1 to 15 bytes without NUL, '/' or white space",
                });
            }
        }
        let device = device.map(str::to_owned);
        self.core.borrow_mut().set(|o| o.bind_to_device = device)
    }

    /// `ZMQ_BINDTODEVICE`.
    pub fn bindtodevice(&self) -> Option<String> {
        self.core.borrow().opts.bind_to_device.clone()
    }

    /// Sets `ZMQ_TCP_MAXRT` (see [`Options::tcp_maxrt`]; `None` = OS
    /// default) for connections made after the call. The system counts
    /// whole milliseconds: a value under 1 ms or over `u32::MAX` ms is an
    /// [`Error::InvalidOption`].
    pub fn set_tcp_maxrt(&self, v: Option<Duration>) -> Result<()> {
        let v = options::check_period(
            "ZMQ_TCP_MAXRT",
            v,
            Duration::from_millis(1)..=Duration::from_millis(u32::MAX.into()),
            "must be 1 ms to u32::MAX ms; use None for the OS default",
        )?;
        self.core.borrow_mut().set(|o| o.tcp_maxrt = v)
    }

    /// `ZMQ_TCP_MAXRT`.
    pub fn tcp_maxrt(&self) -> Option<Duration> {
        self.core.borrow().opts.tcp_maxrt
    }

    /// Sets `ZMQ_SNDBUF` in bytes (`None` = OS default).
    pub fn set_sndbuf(&self, v: Option<u32>) -> Result<()> {
        self.core.borrow_mut().set(|o| o.sndbuf = v)
    }

    /// `ZMQ_SNDBUF`.
    pub fn sndbuf(&self) -> Option<u32> {
        self.core.borrow().opts.sndbuf
    }

    /// Sets `ZMQ_RCVBUF` in bytes (`None` = OS default).
    pub fn set_rcvbuf(&self, v: Option<u32>) -> Result<()> {
        self.core.borrow_mut().set(|o| o.rcvbuf = v)
    }

    /// `ZMQ_RCVBUF`.
    pub fn rcvbuf(&self) -> Option<u32> {
        self.core.borrow().opts.rcvbuf
    }

    /// Sets `ZMQ_BACKLOG` (pending connections per listener).
    pub fn set_backlog(&self, v: i32) -> Result<()> {
        if v < 0 {
            return Err(Error::InvalidOption {
                option: "ZMQ_BACKLOG",
                reason: "must not be negative",
            });
        }
        self.core.borrow_mut().set(|o| o.backlog = v)
    }

    /// `ZMQ_BACKLOG`.
    pub fn backlog(&self) -> i32 {
        self.core.borrow().opts.backlog
    }

    /// SUB: subscribes to messages whose first frame starts with `prefix`
    /// (the empty prefix matches everything); libzmq's `ZMQ_SUBSCRIBE`.
    /// Subscriptions are counted: each needs its own `unsubscribe`. They
    /// reach publishers asynchronously (a PUB drops what nobody has
    /// subscribed to yet), and are sent again after a reconnect.
    ///
    /// On an XPUB with `ZMQ_XPUB_MANUAL` ([`Socket::set_xpub_manual`]), it
    /// subscribes the peer of the last message received instead.
    ///
    /// ```
    /// use std::time::Duration;
    /// use ringmq::{Context, SocketType};
    /// let ctx = Context::new();
    /// let publ = ctx.socket(SocketType::Pub)?;
    /// publ.bind("inproc://doc-sub")?;
    /// let sub = ctx.socket(SocketType::Sub)?;
    /// sub.subscribe("weather.")?;
    /// sub.connect("inproc://doc-sub")?;
    /// // Publish until the subscription has arrived.
    /// let first = loop {
    ///     publ.send("sports.1")?;
    ///     publ.send("weather.1")?;
    ///     if let Ok(m) = sub.recv_timeout(Duration::from_millis(10)) {
    ///         break m;
    ///     }
    /// };
    /// assert_eq!(&first[..], b"weather.1");
    /// # Ok::<(), ringmq::Error>(())
    /// ```
    pub fn subscribe(&self, prefix: impl AsRef<[u8]>) -> Result<()> {
        self.core.borrow_mut().subscription(true, prefix.as_ref())
    }

    /// SUB: drops one subscription made with [`Socket::subscribe`]; libzmq's
    /// `ZMQ_UNSUBSCRIBE`. On an XPUB with `ZMQ_XPUB_MANUAL`, drops a
    /// subscription of the peer of the last message received.
    pub fn unsubscribe(&self, prefix: impl AsRef<[u8]>) -> Result<()> {
        self.core.borrow_mut().subscription(false, prefix.as_ref())
    }

    /// Sets `ZMQ_ROUTER_MANDATORY` (see [`Options::router_mandatory`]);
    /// ROUTER only ([`Error::NotSupported`] for the others).
    pub fn set_router_mandatory(&self, v: bool) -> Result<()> {
        self.set_for(
            &[SocketType::Router],
            "ZMQ_ROUTER_MANDATORY (ROUTER only)",
            |o| o.router_mandatory = v,
        )
    }

    /// Sets `ZMQ_REQ_RELAXED` (see [`Options::req_relaxed`]); REQ only
    /// ([`Error::NotSupported`] for the others).
    pub fn set_req_relaxed(&self, v: bool) -> Result<()> {
        self.set_for(&[SocketType::Req], "ZMQ_REQ_RELAXED (REQ only)", |o| {
            o.req_relaxed = v
        })
    }

    /// Sets `ZMQ_REQ_CORRELATE` (see [`Options::req_correlate`]); REQ only
    /// ([`Error::NotSupported`] for the others).
    pub fn set_req_correlate(&self, v: bool) -> Result<()> {
        self.set_for(&[SocketType::Req], "ZMQ_REQ_CORRELATE (REQ only)", |o| {
            o.req_correlate = v
        })
    }

    /// Sets an option that only some socket types have.
    fn set_for(
        &self,
        kinds: &[SocketType],
        option: &'static str,
        f: impl FnOnce(&mut Options),
    ) -> Result<()> {
        let mut c = self.core.borrow_mut();
        if !kinds.contains(&c.kind) {
            return Err(Error::NotSupported(option));
        }
        c.set(f)
    }

    /// Sets `ZMQ_PROBE_ROUTER` (see [`Options::probe_router`]) for the
    /// connections made or accepted after the call. Only ROUTER, DEALER and
    /// REQ sockets have it ([`Error::NotSupported`] for the others).
    ///
    /// ```
    /// use ringmq::{Context, SocketType};
    /// let ctx = Context::new();
    /// let server = ctx.socket(SocketType::Router)?;
    /// server.bind("inproc://doc-probe")?;
    /// let client = ctx.socket(SocketType::Router)?;
    /// client.set_routing_id("client-1")?;
    /// client.set_probe_router(true)?;
    /// client.connect("inproc://doc-probe")?;
    /// // The server hears of the client before the client sends anything.
    /// let probe = server.recv_multipart()?;
    /// assert_eq!(&probe[0][..], b"client-1");
    /// assert!(probe[1].is_empty());
    /// # Ok::<(), ringmq::Error>(())
    /// ```
    pub fn set_probe_router(&self, v: bool) -> Result<()> {
        self.set_for(
            &[SocketType::Router, SocketType::Dealer, SocketType::Req],
            "ZMQ_PROBE_ROUTER (ROUTER, DEALER and REQ only)",
            |o| o.probe_router = v,
        )
    }

    /// Sets `ZMQ_ROUTER_HANDOVER` (see [`Options::router_handover`]); ROUTER
    /// only ([`Error::NotSupported`] for the others).
    pub fn set_router_handover(&self, v: bool) -> Result<()> {
        self.set_for(
            &[SocketType::Router],
            "ZMQ_ROUTER_HANDOVER (ROUTER only)",
            |o| o.router_handover = v,
        )
    }

    /// Sets `ZMQ_XPUB_NODROP` (see [`Options::xpub_nodrop`]); PUB and XPUB
    /// only ([`Error::NotSupported`] for the others).
    ///
    /// ```
    /// use ringmq::{Context, Error, SocketType};
    /// let ctx = Context::new();
    /// let publ = ctx.socket(SocketType::Pub)?;
    /// publ.set_sndhwm(1)?;
    /// publ.set_xpub_nodrop(true)?;
    /// publ.bind("inproc://doc-nodrop")?;
    /// let sub = ctx.socket(SocketType::Sub)?;
    /// sub.set_rcvhwm(1)?;
    /// sub.subscribe("")?;
    /// sub.connect("inproc://doc-nodrop")?;
    /// // Send until the subscriber's pipe is full: the send then fails
    /// // instead of dropping the message.
    /// let mut sent = 0;
    /// let refused = loop {
    ///     match publ.try_send("tick") {
    ///         Ok(()) => sent += 1,
    ///         Err(e) => break e.error,
    ///     }
    /// };
    /// assert!(matches!(refused, Error::WouldBlock));
    /// for _ in 0..sent {
    ///     assert_eq!(&sub.recv()?[..], b"tick");
    /// }
    /// # Ok::<(), ringmq::Error>(())
    /// ```
    pub fn set_xpub_nodrop(&self, v: bool) -> Result<()> {
        self.set_for(
            &[SocketType::Pub, SocketType::XPub],
            "ZMQ_XPUB_NODROP (PUB and XPUB only)",
            |o| o.xpub_nodrop = v,
        )
    }

    /// Sets `ZMQ_XPUB_WELCOME_MSG` (see [`Options::xpub_welcome_msg`]);
    /// `None` sends none. PUB and XPUB only ([`Error::NotSupported`] for
    /// the others).
    ///
    /// ```
    /// use ringmq::{Context, SocketType};
    /// let ctx = Context::new();
    /// let xpub = ctx.socket(SocketType::XPub)?;
    /// xpub.set_xpub_welcome_msg(Some("WELCOME".into()))?;
    /// xpub.bind("inproc://doc-welcome")?;
    /// let sub = ctx.socket(SocketType::Sub)?;
    /// sub.subscribe("WELCOME")?;
    /// sub.connect("inproc://doc-welcome")?;
    /// // The XPUB sees the subscription; the subscriber is greeted.
    /// assert_eq!(&xpub.recv()?[..], b"\x01WELCOME");
    /// assert_eq!(&sub.recv()?[..], b"WELCOME");
    /// # Ok::<(), ringmq::Error>(())
    /// ```
    pub fn set_xpub_welcome_msg(&self, welcome: Option<Bytes>) -> Result<()> {
        self.set_for(
            &[SocketType::Pub, SocketType::XPub],
            "ZMQ_XPUB_WELCOME_MSG (PUB and XPUB only)",
            |o| o.xpub_welcome_msg = welcome.filter(|w| !w.is_empty()),
        )
    }

    /// Sets `ZMQ_INVERT_MATCHING` (see [`Options::invert_matching`]); PUB,
    /// XPUB and SUB only ([`Error::NotSupported`] for the others).
    ///
    /// ```
    /// use std::time::Duration;
    /// use ringmq::{Context, SocketType};
    /// let ctx = Context::new();
    /// let publ = ctx.socket(SocketType::Pub)?;
    /// publ.set_invert_matching(true)?;
    /// publ.bind("inproc://doc-invert")?;
    /// let sub = ctx.socket(SocketType::Sub)?;
    /// sub.set_invert_matching(true)?;
    /// sub.subscribe("debug.")?; // everything but debug messages
    /// sub.connect("inproc://doc-invert")?;
    /// publ.send("debug.x")?;
    /// publ.send("info.y")?;
    /// assert_eq!(&sub.recv_timeout(Duration::from_secs(5))?[..], b"info.y");
    /// # Ok::<(), ringmq::Error>(())
    /// ```
    pub fn set_invert_matching(&self, v: bool) -> Result<()> {
        self.set_for(
            &[SocketType::Pub, SocketType::XPub, SocketType::Sub],
            "ZMQ_INVERT_MATCHING (PUB, XPUB and SUB only)",
            |o| o.invert_matching = v,
        )
    }

    /// Sets `ZMQ_CONNECT_ROUTING_ID` (see
    /// [`Options::connect_routing_id`]): the routing id this ROUTER gives
    /// the peer of its next `connect` (1 to 255 bytes, not starting with a
    /// zero byte). ROUTER only ([`Error::NotSupported`] for the others); a
    /// `connect` fails with [`Error::InvalidOption`] while a peer has the id.
    ///
    /// ```
    /// use ringmq::{Context, SocketType};
    /// let ctx = Context::new();
    /// let server = ctx.socket(SocketType::Router)?;
    /// server.set_routing_id("server")?;
    /// server.bind("inproc://doc-connect-id")?;
    /// let client = ctx.socket(SocketType::Router)?;
    /// client.set_connect_routing_id("the-server")?;
    /// client.connect("inproc://doc-connect-id")?;
    /// // The client names its peer at once, whatever id the peer announces.
    /// client.send_multipart(["the-server", "hello"])?;
    /// let got = server.recv_multipart()?;
    /// assert_eq!(&got[1][..], b"hello");
    /// # Ok::<(), ringmq::Error>(())
    /// ```
    pub fn set_connect_routing_id(&self, id: impl Into<Bytes>) -> Result<()> {
        let id = id.into();
        options::check_routing_id(&id).map_err(|_| Error::InvalidOption {
            option: "ZMQ_CONNECT_ROUTING_ID",
            reason: "must be 1 to 255 bytes long, not starting with a zero byte",
        })?;
        self.set_for(
            &[SocketType::Router],
            "ZMQ_CONNECT_ROUTING_ID (ROUTER only)",
            |o| o.connect_routing_id = Some(id),
        )
    }

    /// Sets `ZMQ_XPUB_MANUAL` (see [`Options::xpub_manual`]); XPUB only
    /// ([`Error::NotSupported`] for the others).
    ///
    /// ```
    /// use std::time::Duration;
    /// use ringmq::{Context, SocketType};
    /// let ctx = Context::new();
    /// let xpub = ctx.socket(SocketType::XPub)?;
    /// xpub.set_xpub_manual(true)?;
    /// xpub.bind("inproc://doc-manual")?;
    /// let sub = ctx.socket(SocketType::Sub)?;
    /// sub.subscribe("prices.")?;
    /// sub.connect("inproc://doc-manual")?;
    /// // The subscription reaches the application, which grants another.
    /// assert_eq!(&xpub.recv()?[..], b"\x01prices.");
    /// xpub.subscribe("prices.eur")?;
    /// xpub.send("prices.usd 1.0")?; // not granted: not sent
    /// xpub.send("prices.eur 0.9")?;
    /// assert_eq!(&sub.recv_timeout(Duration::from_secs(5))?[..], b"prices.eur 0.9");
    /// # Ok::<(), ringmq::Error>(())
    /// ```
    pub fn set_xpub_manual(&self, v: bool) -> Result<()> {
        self.set_for(&[SocketType::XPub], "ZMQ_XPUB_MANUAL (XPUB only)", |o| {
            o.xpub_manual = v
        })
    }

    /// Sets `ZMQ_CONFLATE` (see [`Options::conflate`]) for binds and
    /// connects made after the call: each TCP or IPC connection keeps only
    /// its newest message, inbound on SUB, PULL and DEALER sockets,
    /// outbound on PUSH, PUB and DEALER sockets (whose sends then never
    /// wait: SNDHWM does not apply). Over `inproc://` a direction of a pipe
    /// conflates if its writer conflates what it sends or its reader what
    /// it receives; for a connect made before the bind, the connecting
    /// socket's option decides. Other socket types get
    /// [`Error::NotSupported`].
    ///
    /// ```
    /// use std::time::Duration;
    /// use ringmq::{Context, SocketType};
    ///
    /// let ctx = Context::new();
    /// let sub = ctx.socket(SocketType::Sub)?;
    /// sub.set_conflate(true)?;
    /// sub.subscribe("")?;
    /// let ep = sub.bind("tcp://127.0.0.1:*")?;
    /// let publ = ctx.socket(SocketType::Pub)?;
    /// publ.connect(&ep)?;
    /// // Publish until the subscription is in place, then a last value.
    /// while sub.recv_timeout(Duration::from_millis(10)).is_err() {
    ///     publ.send("warming up")?;
    /// }
    /// for price in ["1.01", "1.02", "1.03"] {
    ///     publ.send(price)?;
    /// }
    /// publ.send("last")?;
    /// // However many arrived before this receive, the newest wins.
    /// loop {
    ///     if &sub.recv_timeout(Duration::from_secs(5))?[..] == b"last" {
    ///         break;
    ///     }
    /// }
    /// # Ok::<(), ringmq::Error>(())
    /// ```
    pub fn set_conflate(&self, v: bool) -> Result<()> {
        self.set_for(
            &[
                SocketType::Sub,
                SocketType::Pull,
                SocketType::Dealer,
                SocketType::Push,
                SocketType::Pub,
            ],
            "ZMQ_CONFLATE (SUB, PULL, DEALER, PUSH, PUB)",
            |o| o.conflate = v,
        )
    }

    /// `ZMQ_CONFLATE`.
    pub fn conflate(&self) -> bool {
        self.core.borrow().opts.conflate
    }

    /// Sets `ZMQ_XPUB_VERBOSE` (see [`Options::xpub_verbose`]); XPUB only
    /// ([`Error::NotSupported`] for the others). As in libzmq, it also turns
    /// off the cancels that [`set_xpub_verboser`](Self::set_xpub_verboser)
    /// turned on.
    pub fn set_xpub_verbose(&self, v: bool) -> Result<()> {
        self.set_for(&[SocketType::XPub], "ZMQ_XPUB_VERBOSE (XPUB only)", |o| {
            o.xpub_verbose = v;
            o.xpub_verbose_unsubs = false;
        })
    }

    /// Sets `ZMQ_XPUB_VERBOSER`: every subscribe and every cancel from a
    /// peer goes to the application (see [`Options::xpub_verbose_unsubs`]);
    /// XPUB only ([`Error::NotSupported`] for the others).
    ///
    /// ```
    /// use std::time::Duration;
    /// use ringmq::{Context, SocketType};
    ///
    /// let ctx = Context::new();
    /// let xpub = ctx.socket(SocketType::XPub)?;
    /// xpub.set_xpub_verboser(true)?;
    /// let ep = xpub.bind("inproc://verboser-doc")?;
    /// let (a, b) = (ctx.socket(SocketType::Sub)?, ctx.socket(SocketType::Sub)?);
    /// for s in [&a, &b] {
    ///     s.connect(&ep)?;
    ///     s.subscribe("t")?;
    ///     assert_eq!(&xpub.recv_timeout(Duration::from_secs(5))?[..], b"\x01t");
    /// }
    /// // `b` still holds "t", yet `a`'s cancel is passed on.
    /// a.unsubscribe("t")?;
    /// assert_eq!(&xpub.recv_timeout(Duration::from_secs(5))?[..], b"\x00t");
    /// # Ok::<(), ringmq::Error>(())
    /// ```
    pub fn set_xpub_verboser(&self, v: bool) -> Result<()> {
        self.set_for(&[SocketType::XPub], "ZMQ_XPUB_VERBOSER (XPUB only)", |o| {
            o.xpub_verbose = v;
            o.xpub_verbose_unsubs = v;
        })
    }

    /// Sets `ZMQ_HEARTBEAT_IVL` (`None` = no heartbeats). Applies to
    /// connections made after the call.
    pub fn set_heartbeat_ivl(&self, v: Option<Duration>) -> Result<()> {
        let v = options::check_period(
            "ZMQ_HEARTBEAT_IVL",
            v,
            Duration::from_nanos(1)..=Duration::MAX,
            "use None to turn heartbeats off",
        )?;
        self.core.borrow_mut().set(|o| o.heartbeat_ivl = v)
    }

    /// Sets `ZMQ_HEARTBEAT_TIMEOUT` (`None` = the heartbeat interval).
    /// Applies to connections made after the call.
    pub fn set_heartbeat_timeout(&self, v: Option<Duration>) -> Result<()> {
        self.core.borrow_mut().set(|o| o.heartbeat_timeout = v)
    }

    /// Sets `ZMQ_HEARTBEAT_TTL` (at most 6553.5 s; `None` = no TTL).
    /// Applies to connections made after the call.
    pub fn set_heartbeat_ttl(&self, v: Option<Duration>) -> Result<()> {
        if v.is_some_and(|d| d > Duration::from_millis(6_553_599)) {
            return Err(Error::InvalidOption {
                option: "ZMQ_HEARTBEAT_TTL",
                reason: "must be at most 6553.599 s",
            });
        }
        self.core.borrow_mut().set(|o| o.heartbeat_ttl = v)
    }

    /// Sets `ZMQ_IPV6` (see [`Options::ipv6`]) for the binds and connects
    /// made after the call.
    pub fn set_ipv6(&self, v: bool) -> Result<()> {
        self.core.borrow_mut().set(|o| o.ipv6 = v)
    }

    /// `ZMQ_IPV6`.
    pub fn ipv6(&self) -> bool {
        self.core.borrow().opts.ipv6
    }

    /// Sets `ZMQ_HANDSHAKE_IVL` (`None` = no limit).
    pub fn set_handshake_ivl(&self, v: Option<Duration>) -> Result<()> {
        self.core.borrow_mut().set(|o| o.handshake_ivl = v)
    }

    /// `ZMQ_HANDSHAKE_IVL`.
    pub fn handshake_ivl(&self) -> Option<Duration> {
        self.core.borrow().opts.handshake_ivl
    }

    /// Sets the security mechanism of the TCP and IPC connections made
    /// after the call (see [`Options::mechanism`]): libzmq's
    /// `ZMQ_PLAIN_SERVER`, `ZMQ_PLAIN_USERNAME` and `ZMQ_PLAIN_PASSWORD`,
    /// and with the `curve` feature its `ZMQ_CURVE_*` options
    /// (`Mechanism::curve_client`, `curve_server`, `curve_server_with`).
    ///
    /// A PLAIN server runs its credential check on the I/O thread during
    /// the handshake, in place of libzmq's ZAP handler: it returns the user
    /// id, or an [`AuthStatus`](crate::zmtp::AuthStatus) to refuse (400:
    /// the client gets an ERROR and the handshake fails; 300: the connection
    /// is closed without one). Keep it short: the thread serves other
    /// connections too. A refused peer shows up as
    /// [`MonitorEventKind::HandshakeFailedAuth`] with the status in
    /// [`MonitorEvent::status`], on both sides. A panic in the check refuses
    /// the peer with status 500.
    ///
    /// A user name or password over 255 bytes is an
    /// [`Error::InvalidOption`].
    ///
    /// ```
    /// use ringmq::zmtp::{AuthStatus, Mechanism};
    /// use ringmq::{Context, SocketType};
    ///
    /// let ctx = Context::new();
    /// let server = ctx.socket(SocketType::Pull)?;
    /// server.set_mechanism(Mechanism::plain_server(|c| {
    ///     if c.username == b"admin" && c.password == b"secret" {
    ///         Ok("admin".to_string())
    ///     } else {
    ///         Err(AuthStatus::DENIED)
    ///     }
    /// }))?;
    /// let ep = server.bind("tcp://127.0.0.1:*")?;
    ///
    /// let client = ctx.socket(SocketType::Push)?;
    /// client.set_mechanism(Mechanism::plain_client("admin", "secret"))?;
    /// client.connect(&ep)?;
    /// client.send("hello")?;
    /// assert_eq!(&server.recv()?[..], b"hello");
    /// # Ok::<(), ringmq::Error>(())
    /// ```
    pub fn set_mechanism(&self, mechanism: Mechanism) -> Result<()> {
        if mechanism.validate().is_err() {
            return Err(Error::InvalidOption {
                option: "ZMQ_PLAIN_USERNAME",
                reason: "PLAIN user name and password must be at most 255 bytes",
            });
        }
        self.core.borrow_mut().set(|o| o.mechanism = mechanism)
    }

    /// The security mechanism (see [`Socket::set_mechanism`]).
    pub fn mechanism(&self) -> Mechanism {
        self.core.borrow().opts.mechanism.clone()
    }
}

impl std::fmt::Debug for Socket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let c = self.core.borrow();
        f.debug_struct("Socket")
            .field("type", &c.kind)
            .field("id", &c.id)
            .field("pipes", &c.pipes.len())
            .finish()
    }
}

impl Drop for Socket {
    fn drop(&mut self) {
        self.core.get_mut().close();
    }
}

impl Core {
    fn set(&mut self, f: impl FnOnce(&mut Options)) -> Result<()> {
        f(&mut self.opts);
        self.link = None;
        Ok(())
    }

    fn subscription(&mut self, subscribe: bool, prefix: &[u8]) -> Result<()> {
        self.check_live()?;
        self.pump_for_send();
        if let Pattern::XPub(x) = &mut self.pattern {
            if !self.opts.xpub_manual {
                return Err(Error::NotSupported(
                    "an XPUB subscribes its peers only with ZMQ_XPUB_MANUAL",
                ));
            }
            if !x.manual(subscribe, prefix) {
                return Err(Error::WrongState(
                    "ZMQ_XPUB_MANUAL: no message received from a peer still connected",
                ));
            }
            return Ok(());
        }
        let Pattern::Sub(x) = &mut self.pattern else {
            return Err(Error::NotSupported(
                "only SUB sockets subscribe (an XSUB sends subscription messages)",
            ));
        };
        if subscribe {
            x.subscribe(&mut self.pipes, prefix);
        } else {
            x.unsubscribe(&mut self.pipes, prefix);
        }
        Ok(())
    }

    #[inline(always)]
    fn check_live(&self) -> Result<()> {
        if self.ctx.is_terminated() {
            Err(Error::ContextTerminated)
        } else {
            Ok(())
        }
    }

    fn rebuild_in_ring(&mut self) -> Result<()> {
        let (tx, mut rx) = in_ring(&self.opts)?;
        rx.set_notifier(Some(self.signal.clone() as Arc<dyn Notify>));
        self.in_tx = tx;
        self.in_rx = rx;
        Ok(())
    }

    fn link(&mut self) -> Arc<SocketLink> {
        self.in_shared = true;
        if let Some(l) = &self.link {
            return l.clone();
        }
        let l = Arc::new(SocketLink {
            id: self.id,
            socket_type: self.kind,
            options: self.opts.clone(),
            in_tx: self.in_tx.clone(),
            next_pipe: self.next_pipe.clone(),
            monitor: self.monitor.clone(),
        });
        self.link = Some(l.clone());
        l
    }

    fn inproc_peer(&mut self) -> InprocPeer {
        self.in_shared = true;
        InprocPeer {
            socket_id: self.id,
            socket_type: self.kind,
            in_tx: self.in_tx.clone(),
            next_pipe: self.next_pipe.clone(),
            routing_id: self.opts.routing_id.clone(),
            sndhwm: self.opts.sndhwm,
            rcvhwm: self.opts.rcvhwm,
            conflate: self.opts.conflate,
        }
    }

    /// Delivers the notices of inproc pipes a bind or connect built (the
    /// registry's lock released): the peers' go to their in-rings, ours is
    /// applied here, since this thread is the one that would have to make
    /// room in our in-ring. A `connect` passes its `endpoint`, recorded on
    /// our new pipes so `disconnect` finds them.
    fn attach_inproc(
        &mut self,
        wiring: inproc::Wiring,
        endpoint: Option<&str>,
        assigned: Option<Bytes>,
    ) {
        for item in wiring.deliver() {
            let pipe = match &item {
                Inbound::Attached(a) => Some(a.pipe),
                _ => None,
            };
            self.apply_item(item);
            let Some(pipe) = pipe else { continue };
            if let (Some(ep), Some(e)) = (endpoint, self.pipes.get_mut(pipe)) {
                e.endpoint = Some(ep.to_owned());
                if assigned.is_some() {
                    e.assigned_id = assigned.clone();
                    let _ = self
                        .pattern
                        .on_attach(&mut self.pipes, pipe, false, &self.opts);
                }
            }
        }
    }

    fn note_io(&mut self, io: usize) {
        if !self.io_used.contains(&io) {
            self.io_used.push(io);
        }
    }

    fn bind(&mut self, endpoint: &str) -> Result<String> {
        self.check_live()?;
        let ep = Endpoint::parse(endpoint)?;
        let resolved = match &ep {
            Endpoint::Inproc(name) => {
                let me = self.inproc_peer();
                let wiring = self
                    .ctx
                    .inner
                    .inproc
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .bind(name, me)?;
                self.attach_inproc(wiring, None, None);
                self.bound.push((endpoint.to_owned(), None));
                endpoint.to_owned()
            }
            Endpoint::Tcp(t) => {
                let (listener, addr) = crate::transport::bind_tcp(t, &self.opts.tcp())
                    .map_err(|e| self.bind_failed(endpoint, transport_error(&ep, e)))?;
                let resolved = resolve_endpoint_string(&ep, &LocalAddr::Tcp(addr));
                self.start_listener(
                    crate::reactor::Listener::Tcp(listener),
                    resolved.clone(),
                    None,
                )
            }
            Endpoint::Ipc(path) => {
                let (listener, guard) = crate::transport::bind_ipc(path)
                    .map_err(|e| self.bind_failed(endpoint, transport_error(&ep, e)))?;
                let resolved =
                    resolve_endpoint_string(&ep, &LocalAddr::Ipc(guard.path().to_path_buf()));
                self.start_listener(
                    crate::reactor::Listener::Unix(listener),
                    resolved.clone(),
                    Some(guard),
                )
            }
        };
        self.last_endpoint = Some(resolved.clone());
        Ok(resolved)
    }

    fn bind_failed(&self, endpoint: &str, e: Error) -> Error {
        self.monitor.emit(|| {
            MonitorEvent::new(MonitorEventKind::BindFailed, endpoint).with_detail(e.to_string())
        });
        e
    }

    fn start_listener(
        &mut self,
        listener: crate::reactor::Listener,
        resolved: String,
        guard: Option<crate::transport::IpcGuard>,
    ) -> String {
        let io = self.ctx.pick_io();
        let link = self.link();
        self.monitor
            .emit(|| MonitorEvent::new(MonitorEventKind::Listening, &resolved));
        self.ctx.send_io(
            io,
            Command::Listen {
                link,
                listener,
                endpoint: resolved.clone(),
                guard,
            },
        );
        self.note_io(io);
        self.bound.push((resolved.clone(), Some(io)));
        resolved
    }

    fn connect(&mut self, endpoint: &str) -> Result<()> {
        self.check_live()?;
        let ep = Endpoint::parse(endpoint)?;
        if self.kind == SocketType::Pair && !self.pipes.is_empty() {
            return Err(Error::WrongState("a PAIR socket has one peer"));
        }
        let assigned = self.opts.connect_routing_id.clone();
        if let (Some(id), Pattern::Router(r)) = (&assigned, &self.pattern) {
            if r.knows(id) {
                return Err(Error::InvalidOption {
                    option: "ZMQ_CONNECT_ROUTING_ID",
                    reason: "a peer already has that routing id",
                });
            }
        }
        // The id names the peer of this connect only, as in libzmq.
        self.opts.connect_routing_id = None;
        match ep {
            Endpoint::Inproc(name) => {
                let me = self.inproc_peer();
                let connected = self
                    .ctx
                    .inner
                    .inproc
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .connect(&name, me)?;
                match connected {
                    inproc::Connected::Now(wiring) => {
                        self.attach_inproc(wiring, Some(endpoint), assigned.clone())
                    }
                    inproc::Connected::Early(early) => {
                        // Not bound yet: messages queue in the pipe (up to
                        // the marks) until the bind, as with libzmq.
                        self.readers
                            .add(early.pipe, early.reader, early.latest, true, None);
                        self.pipes.insert(
                            early.pipe,
                            PipeEntry {
                                writer: early.writer,
                                peer: None,
                                connected: false,
                                endpoint: Some(endpoint.to_owned()),
                                was_up: false,
                                assigned_id: assigned.clone(),
                            },
                        );
                        if assigned.is_some() {
                            // Routable by its assigned id at once.
                            let _ = self.pattern.on_attach(
                                &mut self.pipes,
                                early.pipe,
                                false,
                                &self.opts,
                            );
                        }
                        greet(&mut self.pipes, early.pipe, &self.opts);
                    }
                }
                self.connected.push((endpoint.to_owned(), None));
            }
            ep => {
                let (writer, rx, out_latest) =
                    if crate::pipe::conflates_out(self.kind, self.opts.conflate) {
                        let (w, rx, latest) = crate::pipe::conflate_pipe()
                            .map_err(|e| Error::Io(std::io::Error::other(e.to_string())))?;
                        (PipeWriter::Conflate(w), rx, Some(latest))
                    } else {
                        let (tx, rx) = crate::pipe::engine_out_ring(self.opts.send_ring_capacity())
                            .map_err(|e| Error::Io(std::io::Error::other(e.to_string())))?;
                        (PipeWriter::Engine(tx), rx, None)
                    };
                let link = self.link();
                let pipe = link.alloc_pipe();
                self.pipes.insert(
                    pipe,
                    PipeEntry {
                        writer,
                        peer: None,
                        connected: false,
                        endpoint: Some(endpoint.to_owned()),
                        was_up: false,
                        assigned_id: assigned.clone(),
                    },
                );
                // SUB/XSUB: the subscriptions so far, for the first connection.
                // (No peer yet, and an assigned id is free: nothing to hand
                // over.)
                let _ = self
                    .pattern
                    .on_attach(&mut self.pipes, pipe, true, &self.opts);
                greet(&mut self.pipes, pipe, &self.opts);
                let io = self.ctx.pick_io();
                self.ctx.send_io(
                    io,
                    Command::Connect {
                        link,
                        endpoint: ep,
                        endpoint_str: endpoint.to_owned(),
                        pipe,
                        out: rx,
                        out_latest,
                    },
                );
                self.note_io(io);
                self.connected.push((endpoint.to_owned(), Some(io)));
            }
        }
        Ok(())
    }

    fn unbind(&mut self, endpoint: &str) -> Result<()> {
        let Some(pos) = self.bound.iter().position(|(e, _)| e == endpoint) else {
            return Err(Error::InvalidEndpoint {
                endpoint: endpoint.to_owned(),
                reason: "not bound by this socket",
            });
        };
        let (ep, io) = self.bound.remove(pos);
        match io {
            None => {
                if let Ok(Endpoint::Inproc(name)) = Endpoint::parse(&ep) {
                    self.ctx
                        .inner
                        .inproc
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .unbind(&name, self.id);
                }
            }
            Some(io) => self.ctx.send_io(
                io,
                Command::Unbind {
                    socket: self.id,
                    endpoint: ep,
                },
            ),
        }
        Ok(())
    }

    fn disconnect(&mut self, endpoint: &str) -> Result<()> {
        let Some(pos) = self.connected.iter().position(|(e, _)| e == endpoint) else {
            return Err(Error::InvalidEndpoint {
                endpoint: endpoint.to_owned(),
                reason: "not connected by this socket",
            });
        };
        let (ep, io) = self.connected.remove(pos);
        for id in self.pipes.ids_for_endpoint(&ep) {
            let Some(entry) = self.pipes.remove(id) else {
                continue;
            };
            if entry.writer.is_inproc() {
                // An inproc pipe ends here, both ways, as libzmq ends it:
                // the peer is told, and what it sent that was not read yet
                // is dropped with our end.
                entry.writer.detach();
                self.readers.remove(id, |_, _| {});
            }
            self.pattern
                .on_detach(id, true, &self.opts, &mut self.inbox);
        }
        if let Some(io) = io {
            self.ctx.send_io(
                io,
                Command::Disconnect {
                    socket: self.id,
                    endpoint: ep,
                },
            );
        }
        Ok(())
    }

    fn close(&mut self) {
        self.ctx
            .inner
            .live
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&self.id);
        self.ctx
            .inner
            .inproc
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove_socket(self.id);
        // Inproc peers learn at once that this side is gone (and keep what
        // was written to them: their rings outlive this socket).
        for (_, entry) in self.pipes.iter() {
            entry.writer.detach();
        }
        // Engines keep what is queued for them until linger runs out.
        self.pipes = Pipes::default();
        self.readers.clear();
        // Pipes announced but never taken: dropping their writers tells
        // their engines the socket is gone.
        while let Ok(batch) = self.in_rx.try_pop_batch(RECV_BATCH) {
            batch.for_each(drop);
        }
        for &io in &self.io_used {
            self.ctx.send_io(
                io,
                Command::Close {
                    socket: self.id,
                    linger: self.opts.linger,
                },
            );
        }
    }

    // ----- inbound processing -----

    /// Applies a batch of notices from the in-ring, then moves messages from
    /// the pipes' rings into the inbox. Returns how many items were taken.
    fn fill(&mut self, max: usize) -> usize {
        self.fill_from_ring(max) + self.fill_from_readers(max)
    }

    /// Moves up to `max` messages from the pipes' rings, in turn,
    /// through the pattern into the inbox.
    fn fill_from_readers(&mut self, max: usize) -> usize {
        if self.readers.is_empty() {
            return 0;
        }
        let (pattern, inbox, opts) = (&mut self.pattern, &mut self.inbox, &self.opts);
        let n = self.readers.drain(max, |pipe, payload| {
            pattern.on_msg(pipe, payload, opts, inbox)
        });
        self.reap_gone_readers();
        n
    }

    /// Detaches the pipes whose peer went away (their last ring drained,
    /// its writer dropped), in case the detach notice was lost to a full
    /// in-ring. A pipe already detached by its notice is skipped.
    #[inline(always)]
    fn reap_gone_readers(&mut self) {
        if self.readers.has_gone() {
            self.detach_gone_readers();
        }
    }

    #[cold]
    #[inline(never)]
    fn detach_gone_readers(&mut self) {
        for pipe in self.readers.take_gone() {
            if self.pipes.remove(pipe).is_some() {
                self.pattern
                    .on_detach(pipe, true, &self.opts, &mut self.inbox);
            }
        }
    }

    /// The in-ring, and the parts of the socket its items update.
    fn ring_and_sink(&mut self) -> (&mut Consumer<Inbound>, Sink<'_>) {
        (
            &mut self.in_rx,
            Sink {
                pattern: &mut self.pattern,
                pipes: &mut self.pipes,
                readers: &mut self.readers,
                inbox: &mut self.inbox,
                opts: &self.opts,
                evicted: &mut self.evicted,
            },
        )
    }

    /// Applies one item taken from the in-ring (see [`apply`]).
    fn apply_item(&mut self, item: Inbound) {
        apply(&mut self.ring_and_sink().1, item);
        if !self.evicted.is_empty() {
            self.end_evicted();
        }
    }

    /// Applies a batch of notices from the in-ring.
    fn fill_from_ring(&mut self, max: usize) -> usize {
        let (rx, mut sink) = self.ring_and_sink();
        let Ok(batch) = rx.try_pop_batch(max) else {
            return 0;
        };
        let n = batch.len();
        for item in batch {
            apply(&mut sink, item);
        }
        if !self.evicted.is_empty() {
            self.end_evicted();
        }
        n
    }

    /// Ends the pipes whose routing id a newer peer took over
    /// (`ZMQ_ROUTER_HANDOVER`), as libzmq ends them: what they delivered is
    /// still received (under the id they were given instead), and their
    /// connections are closed.
    #[cold]
    #[inline(never)]
    fn end_evicted(&mut self) {
        for pipe in std::mem::take(&mut self.evicted) {
            let made_by_connect = self
                .pipes
                .iter()
                .any(|(id, e)| id == pipe && e.endpoint.is_some());
            if made_by_connect {
                // A connect keeps its pipe across reconnections; it stays,
                // under the id it was given instead.
                continue;
            }
            let (pattern, inbox, opts) = (&mut self.pattern, &mut self.inbox, &self.opts);
            self.readers.remove(pipe, |pipe, payload| {
                pattern.on_msg(pipe, payload, opts, inbox)
            });
            let Some(entry) = self.pipes.remove(pipe) else {
                continue;
            };
            if entry.writer.is_inproc() {
                entry.writer.detach();
            } else {
                for &io in &self.io_used {
                    self.ctx.send_io(
                        io,
                        Command::ClosePipe {
                            socket: self.id,
                            pipe,
                        },
                    );
                }
            }
            self.pattern
                .on_detach(pipe, true, &self.opts, &mut self.inbox);
        }
    }

    /// While sending: learn about every new and dead pipe announced so far
    /// (so a ROUTER reaches a peer that connected a moment ago, however
    /// many connected with it), without letting the inbox grow past the
    /// receive ring's size.
    ///
    /// A publisher also reads its pipes, where its subscribers'
    /// subscriptions arrive, and routes the message by every subscription
    /// that has arrived so far, as libzmq does: a subscriber with many
    /// topics, or many subscribers at once, would otherwise miss messages
    /// for subscriptions it made long before. A PUB reads all its pipes
    /// hold, a bounded amount: nothing it reads reaches the inbox. An XPUB
    /// hands subscriptions to the application, so it reads as many as its
    /// inbox has room for.
    #[inline]
    fn pump_for_send(&mut self) {
        let room = self.in_rx.capacity().saturating_sub(self.inbox.len());
        if room > 0 && !self.in_rx.is_empty() {
            self.fill_from_ring(room);
        }
        if self.pattern.hears_while_sending() {
            let max = if matches!(self.pattern, Pattern::Pub(_)) {
                usize::MAX
            } else {
                self.in_rx.capacity().saturating_sub(self.inbox.len())
            };
            self.fill_from_readers(max);
        }
    }

    /// Sleeps until a producer signals or the wait runs out. Returns false on
    /// timeout.
    fn sleep(&mut self, wait: Wait, space: Space) -> Result<bool> {
        let Wait::Until(deadline) = wait else {
            return Ok(false);
        };
        self.check_live()?;
        self.signal.arm();
        self.readers.release_all();
        let space_on_pipes = !matches!(space, Space::None);
        let n: Arc<dyn Notify> = self.signal.clone();
        let armed = match space {
            Space::None => true,
            Space::AnyPipe => self.pipes.wait_for_room(&n, self.opts.immediate),
            Space::Pipe(pipe) => self.pipes.wait_for_room_at(pipe, &n),
        };
        if !armed {
            // Room appeared meanwhile: go round again.
            return Ok(true);
        }
        if !self.in_rx.prepare_sleep() {
            return Ok(true);
        }
        // A receive also waits for the pipes' rings; a send only for room
        // and for pipe events, which come through the in-ring.
        let readers = !space_on_pipes;
        if readers && !self.readers.prepare_sleep() {
            self.in_rx.cancel_sleep();
            return Ok(true);
        }
        let woke = self.signal.wait(deadline);
        self.in_rx.cancel_sleep();
        if readers {
            self.readers.cancel_sleep();
        }
        self.check_live()?;
        if !woke {
            if let Some(d) = deadline {
                if Instant::now() >= d {
                    return Ok(false);
                }
            }
        }
        Ok(true)
    }

    // ----- poller support -----

    /// Readiness for a poller: (readable, writable). Takes what the in-ring
    /// and the pipes hold, as a receive would.
    fn readiness(&mut self) -> Result<(bool, bool)> {
        self.check_live()?;
        if self.inbox.is_empty() {
            self.fill(RECV_BATCH);
        }
        while let Some((pipe, _)) = self.inbox.front() {
            if self.pattern.acceptable(*pipe) {
                break;
            }
            self.inbox.pop_front();
        }
        let readable = !self.frames.is_empty()
            || (self.pattern.check_recv().is_ok() && !self.inbox.is_empty());
        let writable = self.pattern.writable(&self.pipes, &self.opts);
        Ok((readable, writable))
    }

    /// Announces a poller's sleep: the socket's wake-ups go to `n`. Returns
    /// false when something changed meanwhile (poll again instead).
    fn prepare_poll(&mut self, want_out: bool, n: &Arc<dyn Notify>) -> bool {
        self.arm_events(true, want_out, n)
    }

    /// Announces sleeps for a poller or [`Socket::events`], with the
    /// socket's wake-ups going to `n`: on the in-ring always (pipe notices
    /// change what the socket can do), on the pipes' rings when nothing can
    /// be received (`want_in`), for room when nothing can be sent
    /// (`want_out`). False, with `n` to be re-checked, if something changed
    /// meanwhile.
    fn arm_events(&mut self, want_in: bool, want_out: bool, n: &Arc<dyn Notify>) -> bool {
        // Slots held back for a group release go back now: the waiter may
        // not come back for a while.
        self.readers.release_all();
        self.signal.arm_forward(n.clone());
        // A wake-up raised before `n` was armed went nowhere (a context
        // shutdown between the caller's check and here, for one): the
        // signal still shows it. One raised after goes to `n`.
        if self.signal.is_raised() {
            return false;
        }
        if want_out {
            let me: Arc<dyn Notify> = self.signal.clone();
            if !self.pipes.wait_for_room(&me, self.opts.immediate) {
                return false;
            }
        }
        if !self.in_rx.prepare_sleep() {
            return false;
        }
        if want_in && !self.readers.prepare_sleep() {
            self.in_rx.cancel_sleep();
            return false;
        }
        true
    }

    /// Ends a poller's sleep.
    fn finish_poll(&mut self) {
        self.in_rx.cancel_sleep();
        self.readers.cancel_sleep();
        self.signal.clear();
    }

    // ----- send -----

    /// Sends one frame. The common case, a single-frame message on a
    /// PUSH, PAIR or DEALER socket whose next pipe has room, goes straight
    /// into that pipe's ring from here, moving the message once.
    #[inline]
    fn send_frame(&mut self, msg: Msg, wait: Wait) -> std::result::Result<(), SendError<Msg>> {
        if !msg.more() && self.partial.is_empty() && self.pattern.plain_send() {
            if let Err(error) = self.check_live() {
                return Err(SendError { error, msg });
            }
            self.pump_for_send();
            return match self.pipes.send_lb(msg, self.opts.immediate) {
                Ok(_) => Ok(()),
                Err(msg) => self.route_frame(Payload::One(msg), wait),
            };
        }
        self.send_frame_slow(msg, wait)
    }

    /// [`Core::send_frame`] for every other case.
    #[inline(never)]
    fn send_frame_slow(&mut self, msg: Msg, wait: Wait) -> std::result::Result<(), SendError<Msg>> {
        if let Err(error) = self.check_send() {
            return Err(SendError { error, msg });
        }
        if msg.more() {
            if self.partial.is_empty() && self.opts.router_mandatory {
                if let Pattern::Router(r) = &self.pattern {
                    if !r.knows(&msg) {
                        self.pump_for_send();
                    }
                }
                if let Pattern::Router(r) = &self.pattern {
                    if !r.knows(&msg) {
                        return Err(SendError {
                            error: Error::HostUnreachable,
                            msg,
                        });
                    }
                }
            }
            self.partial.push(msg);
            return Ok(());
        }
        let payload = if self.partial.is_empty() {
            Payload::One(msg)
        } else {
            let mut frames = std::mem::take(&mut self.partial);
            frames.push(msg);
            Payload::from_frames(frames)
        };
        self.route_frame(payload, wait)
    }

    /// Routes the message completed by the last frame sent, waiting per
    /// `wait`; a failure hands back that last frame.
    #[inline(never)]
    fn route_frame(
        &mut self,
        payload: Payload,
        wait: Wait,
    ) -> std::result::Result<(), SendError<Msg>> {
        self.route(payload, wait).map_err(|(error, p)| {
            // Give back the last frame; earlier frames stay queued so the
            // caller can retry the last frame alone.
            let mut frames = p.into_frames();
            let last = frames.pop().unwrap_or_default();
            let retry = matches!(error, Error::WouldBlock | Error::Timeout);
            if retry && !frames.is_empty() {
                for f in frames.iter_mut() {
                    f.set_more(true);
                }
                self.partial = frames;
            }
            SendError { error, msg: last }
        })
    }

    fn send_message(
        &mut self,
        frames: Vec<Msg>,
        wait: Wait,
    ) -> std::result::Result<(), SendError<Vec<Msg>>> {
        if let Err(error) = self.check_send() {
            return Err(SendError { error, msg: frames });
        }
        if !self.partial.is_empty() {
            return Err(SendError {
                error: Error::WrongState("a multipart message sent frame by frame is unfinished"),
                msg: frames,
            });
        }
        let payload = Payload::from_frames(frames);
        self.route(payload, wait).map_err(|(error, p)| SendError {
            error,
            msg: p.into_frames(),
        })
    }

    fn check_send(&self) -> Result<()> {
        self.check_live()?;
        self.pattern.check_send(&self.opts)
    }

    fn route(
        &mut self,
        mut payload: Payload,
        wait: Wait,
    ) -> std::result::Result<(), (Error, Payload)> {
        let mut spins = 0;
        let mut spin_since = None;
        loop {
            self.pump_for_send();
            let space = match self.pattern.send(&mut self.pipes, payload, &self.opts) {
                Routed::Sent => return Ok(()),
                Routed::Full(p) => {
                    payload = p;
                    Space::AnyPipe
                }
                Routed::FullAt(pipe, p) => {
                    payload = p;
                    Space::Pipe(pipe)
                }
                Routed::Failed(e, p) => return Err((e, p)),
            };
            if !matches!(wait, Wait::No) && keep_spinning(&mut spins, &mut spin_since) {
                continue;
            }
            match self.sleep(wait, space) {
                Ok(true) => continue,
                Ok(false) => {
                    let e = if matches!(wait, Wait::No) {
                        Error::WouldBlock
                    } else {
                        Error::Timeout
                    };
                    return Err((e, payload));
                }
                Err(e) => return Err((e, payload)),
            }
        }
    }

    // ----- receive -----

    fn next_payload(&mut self, wait: Wait) -> Result<Payload> {
        self.check_live()?;
        self.pattern.check_recv()?;
        let mut spins = 0;
        let mut spin_since = None;
        loop {
            if let Some((pipe, payload)) = self.inbox.pop_front() {
                match self.pattern.deliver(pipe, payload, &self.opts) {
                    Some(p) => {
                        self.readers.note_from(pipe);
                        return Ok(p);
                    }
                    None => continue,
                }
            }
            // Plain fair-queueing sockets take messages straight from the
            // pipes' rings; others go through the pattern and the inbox.
            if self.pattern.plain_receive() {
                if let Some(m) = self.take_direct() {
                    return Ok(m);
                }
                if !self.inbox.is_empty() {
                    continue;
                }
            } else if self.fill(RECV_BATCH) > 0 {
                continue;
            }
            if !matches!(wait, Wait::No) && keep_spinning(&mut spins, &mut spin_since) {
                continue;
            }
            match self.sleep(wait, Space::None)? {
                true => continue,
                false => {
                    return Err(if matches!(wait, Wait::No) {
                        Error::WouldBlock
                    } else {
                        Error::Timeout
                    })
                }
            }
        }
    }

    /// Receives one frame. The common case, a PULL, PAIR or DEALER socket
    /// with a message waiting and nothing else to do first, takes it
    /// straight from its ring here.
    ///
    /// This path, down to the ring's pop, is inlined into each receive
    /// call. Out of line, each layer handed the message on through memory,
    /// rebuilt piece by piece and then read back whole; such reads cannot
    /// be served from the pending stores and wait for them to reach the
    /// cache. Inlined, the message goes from its slot to the caller in one
    /// move (inproc 64 B PUSH/PULL, alternating runs: 18.0 -> 24.7 M msg/s).
    #[inline(always)]
    fn recv_frame(&mut self, wait: Wait) -> Result<Msg> {
        if self.frames.is_empty()
            && self.inbox.is_empty()
            && self.pattern.plain_receive()
            && !self.ctx.is_terminated()
        {
            match self.take_direct() {
                Some(Payload::One(m)) => return Ok(m),
                Some(p) => return Ok(self.first_frame(p)),
                None => {}
            }
        }
        self.recv_frame_slow(wait)
    }

    /// For a socket whose messages go to the application as they are
    /// ([`Pattern::plain_receive`]) and whose inbox is empty: the next
    /// message, taken straight from a pipe's ring (see [`Readers::pop_one`]).
    /// Pipe notices waiting in the in-ring are applied first; `None` if
    /// nothing is waiting or a notice left messages in the inbox (the last
    /// ones of a pipe that ended), which go first.
    #[inline(always)]
    fn take_direct(&mut self) -> Option<Payload> {
        // `is_empty` is one load of a cursor written only with notices: much
        // cheaper than a failed `try_pop`.
        if !self.in_rx.is_empty() {
            while let Ok(event) = self.in_rx.try_pop() {
                self.apply_item(event);
                if !self.inbox.is_empty() {
                    return None;
                }
            }
        }
        let m = self.readers.pop_one();
        self.reap_gone_readers();
        m
    }

    /// [`Core::recv_frame`] for every other case.
    #[inline(never)]
    fn recv_frame_slow(&mut self, wait: Wait) -> Result<Msg> {
        if let Some(m) = self.frames.pop_front() {
            return Ok(m);
        }
        let payload = self.next_payload(wait)?;
        match payload {
            Payload::One(m) => Ok(m),
            Payload::Multi(v) => Ok(self.first_of(v)),
        }
    }

    /// The first frame of `payload`; the others wait in `frames`. Out of
    /// line, so that the receive path moves a payload as one block and
    /// never takes a multipart message's vector apart in registers.
    #[inline(never)]
    fn first_frame(&mut self, payload: Payload) -> Msg {
        match payload {
            Payload::One(m) => m,
            Payload::Multi(v) => self.first_of(v),
        }
    }

    /// The first frame of a multipart message; the others wait in `frames`.
    fn first_of(&mut self, frames: Vec<Msg>) -> Msg {
        let mut it = frames.into_iter();
        let first = it.next().unwrap_or_default();
        self.frames.extend(it);
        first
    }

    fn recv_message(&mut self, wait: Wait) -> Result<Vec<Msg>> {
        if !self.frames.is_empty() {
            return Ok(self.frames.drain(..).collect());
        }
        let payload = self.next_payload(wait)?;
        Ok(payload.into_frames())
    }
}

/// The parts of a socket that the items of its in-ring update.
struct Sink<'a> {
    pattern: &'a mut Pattern,
    pipes: &'a mut Pipes,
    readers: &'a mut Readers,
    inbox: &'a mut VecDeque<(PipeId, Payload)>,
    opts: &'a Options,
    evicted: &'a mut Vec<PipeId>,
}

/// The first message in a new pipe: an empty one for `ZMQ_PROBE_ROUTER`,
/// the welcome message for `ZMQ_XPUB_WELCOME_MSG`. The pipe is new, so it
/// has room.
fn greet(pipes: &mut Pipes, pipe: PipeId, opts: &Options) {
    if opts.probe_router {
        let _ = pipes.write_to(pipe, Payload::One(Msg::new()));
    }
    if let Some(welcome) = &opts.xpub_welcome_msg {
        let _ = pipes.write_to(pipe, Payload::One(Msg::from_shared(welcome)));
    }
}

/// Applies one notice from a socket's in-ring: it updates the pipe table
/// and the readers (a pipe that ends is drained first, through the pattern
/// into the inbox). A pipe a ROUTER hands over to a newer peer is noted in
/// `evicted`, for the socket to end.
fn apply(sink: &mut Sink<'_>, item: Inbound) {
    let Sink {
        pattern,
        pipes,
        readers,
        inbox,
        opts,
        evicted,
    } = sink;
    match item {
        Inbound::Attached(a) => {
            let accept = match pattern {
                Pattern::Pair => pipes.is_empty(),
                _ => true,
            };
            if accept {
                let peer = Arc::new(a.peer);
                readers.add(a.pipe, a.reader, a.latest, true, Some(peer.clone()));
                pipes.insert(
                    a.pipe,
                    PipeEntry {
                        writer: a.writer,
                        peer: Some(peer),
                        connected: true,
                        endpoint: None,
                        was_up: true,
                        assigned_id: None,
                    },
                );
                evicted.extend(pattern.on_attach(pipes, a.pipe, true, opts));
                greet(pipes, a.pipe, opts);
            } else {
                tracing::debug!("PAIR socket already has a peer; extra peer refused");
                a.writer.detach();
            }
        }
        Inbound::Connected {
            pipe,
            peer,
            reader,
            latest,
        } => {
            // A ring of an earlier connection whose end was not announced
            // (its notice lost to a full in-ring) is drained first.
            readers.remove(pipe, |pipe, payload| {
                pattern.on_msg(pipe, payload, opts, inbox)
            });
            if let Some(e) = pipes.get_mut(pipe) {
                let peer: Arc<PeerInfo> = Arc::from(peer);
                readers.add(pipe, reader, latest, false, Some(peer.clone()));
                let again = e.was_up;
                e.connected = true;
                e.was_up = true;
                e.peer = Some(peer);
                evicted.extend(pattern.on_attach(pipes, pipe, again, opts));
            }
        }
        Inbound::Wired { pipe, peer } => {
            let peer: Arc<PeerInfo> = Arc::from(peer);
            readers.set_peer(pipe, peer.clone());
            if let Some(e) = pipes.get_mut(pipe) {
                e.connected = true;
                e.was_up = true;
                e.peer = Some(peer);
                // Not fresh: what was queued before the bind (a SUB's
                // subscriptions among it) is in the pipe.
                evicted.extend(pattern.on_attach(pipes, pipe, false, opts));
            }
        }
        Inbound::Disconnected { pipe } => {
            // What arrived before the connection was lost is still delivered.
            readers.remove(pipe, |pipe, payload| {
                pattern.on_msg(pipe, payload, opts, inbox)
            });
            if let Some(e) = pipes.get_mut(pipe) {
                e.connected = false;
                pattern.on_detach(pipe, false, opts, inbox);
            }
        }
        Inbound::Detached { pipe } => {
            // What the peer sent before it left is still delivered.
            readers.remove(pipe, |pipe, payload| {
                pattern.on_msg(pipe, payload, opts, inbox)
            });
            if pipes.remove(pipe).is_some() {
                pattern.on_detach(pipe, true, opts, inbox);
            }
        }
    }
}
