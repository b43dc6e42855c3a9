//! An engine: one TCP or IPC connection, driven by an I/O thread.
//!
//! It runs a [`zmtp::Connection`] over its stream: large reads are decoded
//! into whole messages, each written straight into its slot of the
//! connection's receive ring and published in runs (notices about the pipe
//! go to the socket's in-ring), and the body of a large frame is read
//! straight into a recycled buffer of its own from the I/O thread's pool,
//! which becomes the message; messages the socket queued in the pipe's
//! out-ring are drained in batches and encoded into one transmit buffer that
//! goes out with one (vectored) write per batch.
//!
//! The engine never blocks. A full receive ring stops reading (the stream's
//! kernel buffer then fills and TCP flow control pushes back on the peer)
//! until the ring's consumer frees room and notifies; an empty out-ring puts
//! the write side to sleep until the socket's next send notifies.

use std::collections::VecDeque;
use std::io::{self, IoSliceMut, Read};
use std::sync::Arc;
use std::time::Instant;

use bytes::BytesMut;
use mio::Registry;

use super::timers::TimerKind;
use super::{Connecter, SocketLink, StepCx, Stream};
use crate::msg::pool::{PoolBuf, RecvPool};
use crate::msg::Msg;
use crate::pipe::{self, Attach, Inbound, Payload, PipeId, PipeWriter};
use crate::ring::{
    self, Consumer, LatestReader, LatestWriter, Notify, PopError, Producer, PushError,
};
use crate::socket::monitor::{MonitorEvent, MonitorEventKind};
use crate::zmtp::{self, Connection, Event};

/// Reads per step before the engine yields to the others.
const READS_PER_STEP: usize = 16;
/// The smallest and largest read, in bytes.
const MIN_READ: usize = 4096;
const MAX_READ: usize = 1 << 20;
/// Frames at least this large (and at most the pool's largest class) are
/// read into a buffer of their own from the I/O thread's pool.
const DIRECT_BODY_MIN: usize = 32 * 1024;
/// How many bytes past the end of such a body are read along with it.
const DIRECT_TAIL: usize = 512;
/// Messages taken from the out-ring per batch.
const OUT_BATCH: usize = 512;
/// Encode no further once this many bytes wait to be written.
const TX_HIGH: usize = 256 * 1024;
/// While full batches keep coming, encode at least this many bytes before
/// a write: each write is a system call plus the stack's work per segment,
/// so small messages go out in large writes.
const TX_WRITE_AT: usize = 64 * 1024;
/// Stop reading while this many notices wait for room in the socket's
/// in-ring. (Reading stops as soon as one decoded message waits for room
/// in the receive ring: what one read held is the most a peer's queue
/// exceeds RCVHWM by before TCP flow control pushes back.)
const PENDING_IN_MAX: usize = 4096;
/// Staged messages are published at least this often while a read is
/// decoded, so the socket starts on them before the whole read is done.
const PUBLISH_EVERY: usize = 64;

/// A large frame's body, read into a pooled buffer of its own.
struct DirectBody {
    /// Exactly the frame's size.
    buf: PoolBuf,
    /// How many bytes of it have arrived.
    filled: usize,
}

/// Where the connection came from.
pub(crate) enum EngineOrigin {
    /// Accepted by a listener.
    Accept {
        link: Arc<SocketLink>,
        /// The listener's endpoint.
        endpoint: String,
    },
    /// Made by a connecter; it goes back to reconnecting when the connection
    /// is lost.
    Connect(Connecter),
}

/// What the loop should do after a step.
pub(crate) enum Step {
    /// Keep the engine.
    Continue,
    /// Close the engine (and reconnect, for a connect pipe).
    Close,
}

/// One connection.
pub(crate) struct Engine {
    stream: Stream,
    conn: Connection,
    link: Arc<SocketLink>,
    origin: EngineOrigin,
    /// The pipe's id once attached (always known for a connect pipe).
    pipe: Option<PipeId>,
    /// Messages from the socket, for an accepted connection once attached.
    accepted_out: Option<Consumer<Payload>>,
    /// For a conflating accepted pipe, where the newest message waits
    /// (`accepted_out` then carries tokens).
    accepted_out_latest: Option<LatestReader<Payload>>,
    notify: Arc<dyn Notify>,
    /// The shared read buffer.
    rx: BytesMut,
    /// The body of a large frame being read into a buffer of its own.
    body: Option<DirectBody>,
    /// Frames of a multipart message being assembled.
    partial: Vec<Msg>,
    /// Notices waiting for room in the socket's in-ring.
    pending_in: VecDeque<Inbound>,
    /// The receive ring of this connection's pipe (once attached).
    in_msgs: Option<Producer<Payload>>,
    /// For a conflating socket (`ZMQ_CONFLATE`), where each message goes,
    /// replacing the one not yet taken; `in_msgs` then carries tokens.
    latest_in: Option<LatestWriter<Payload>>,
    /// Decoded messages waiting for room in the receive ring.
    pending_msgs: VecDeque<Payload>,
    readable: bool,
    writable: bool,
    /// epoll reported the peer's end of the stream: read until it shows
    /// (no new readiness edge comes for a close that arrived with data).
    read_closed: bool,
    /// The size of the next read (adapts to what reads return).
    read_size: usize,
    eof: bool,
    closing: bool,
    /// The socket's side of the out-ring is gone and the ring is drained.
    out_done: bool,
    armed: Option<Instant>,
    peer_label: String,
    /// Why the handshake failed, if it did.
    failure: Option<String>,
    /// The ZAP status of a failed authentication, if that is why.
    auth_status: Option<u16>,
    /// Whether the handshake completed at some point.
    handshook: bool,
    /// Whether the loop watches the out-ring (see `Loop::watched`).
    pub(crate) out_watched: bool,
    /// A SUB/XSUB connection: single-frame messages `0x01/0x00 + topic`
    /// from the socket are subscriptions, sent in the peer's form.
    subscriber: bool,
}

impl Engine {
    pub(crate) fn new(
        stream: Stream,
        origin: EngineOrigin,
        notify: Arc<dyn Notify>,
        now: Instant,
    ) -> Engine {
        let (link, pipe) = match &origin {
            EngineOrigin::Accept { link, .. } => (link.clone(), None),
            EngineOrigin::Connect(c) => (c.link.clone(), Some(c.pipe)),
        };
        let peer_label = stream.peer_label();
        let mut cfg = zmtp::Config::new(link.socket_type);
        cfg.identity = link.options.routing_id.clone();
        cfg.max_msg_size = link.options.maxmsgsize;
        cfg.handshake_timeout = link.options.handshake_ivl;
        cfg.peer_address = Some(peer_label.clone());
        cfg.heartbeat_ivl = link.options.heartbeat_ivl;
        cfg.heartbeat_timeout = link.options.heartbeat_timeout;
        cfg.heartbeat_ttl = link.options.heartbeat_ttl;
        cfg.mechanism = link.options.mechanism.clone();
        cfg.properties = link.options.metadata.clone();
        let conn = Connection::new(cfg, now).expect("socket options were validated when set");
        let mut engine = Engine {
            stream,
            conn,
            link,
            origin,
            pipe,
            accepted_out: None,
            accepted_out_latest: None,
            notify,
            rx: BytesMut::new(),
            body: None,
            partial: Vec::new(),
            pending_in: VecDeque::new(),
            in_msgs: None,
            latest_in: None,
            pending_msgs: VecDeque::new(),
            readable: true,
            writable: true,
            read_closed: false,
            read_size: 16 * 1024,
            eof: false,
            closing: false,
            out_done: false,
            armed: None,
            peer_label,
            subscriber: false,
            failure: None,
            auth_status: None,
            handshook: false,
            out_watched: false,
        };
        engine.subscriber = matches!(
            engine.link.socket_type,
            zmtp::SocketType::Sub | zmtp::SocketType::XSub
        );
        if let EngineOrigin::Connect(c) = &mut engine.origin {
            c.out.set_notifier(Some(engine.notify.clone()));
        }
        engine
    }

    fn endpoint(&self) -> &str {
        match &self.origin {
            EngineOrigin::Accept { endpoint, .. } => endpoint,
            EngineOrigin::Connect(c) => &c.endpoint_str,
        }
    }

    /// Emits the monitor events of a closing connection.
    pub(crate) fn report_close(&self) {
        if !self.conn.is_ready() && !self.handshook {
            let kind = match self.auth_status {
                Some(_) => MonitorEventKind::HandshakeFailedAuth,
                None => MonitorEventKind::HandshakeFailed,
            };
            self.link.monitor.emit(|| {
                MonitorEvent::new(kind, self.endpoint())
                    .with_detail(
                        self.failure
                            .clone()
                            .unwrap_or_else(|| "connection closed during the handshake".into()),
                    )
                    .with_status(self.auth_status)
            });
        }
        self.link
            .event(MonitorEventKind::Disconnected, self.endpoint());
    }

    /// The id of the socket this connection serves.
    pub(crate) fn socket_id(&self) -> u64 {
        self.link.id
    }

    /// Whether this is the connection `socket` made to `endpoint`.
    pub(crate) fn is_connect_to(&self, socket: u64, endpoint: &str) -> bool {
        matches!(&self.origin, EngineOrigin::Connect(c) if c.link.id == socket && c.endpoint_str == endpoint)
    }

    /// Whether this connection serves `socket`'s pipe `pipe`.
    pub(crate) fn serves(&self, socket: u64, pipe: PipeId) -> bool {
        self.link.id == socket && self.pipe == Some(pipe)
    }

    /// Whether this connection was accepted for `socket` by its listener on
    /// `endpoint`.
    pub(crate) fn is_accepted_by(&self, socket: u64, endpoint: &str) -> bool {
        matches!(&self.origin, EngineOrigin::Accept { link, endpoint: e } if link.id == socket && e == endpoint)
    }

    /// The socket was closed: finish writing what it queued, then close.
    pub(crate) fn set_closing(&mut self) {
        self.closing = true;
        if let EngineOrigin::Connect(c) = &mut self.origin {
            c.closing = Some(None);
        }
    }

    /// Takes the stream off the poll.
    pub(crate) fn deregister(&mut self, reg: &Registry) {
        let _ = reg.deregister(&mut self.stream);
    }

    /// For a connect pipe, the connecter to go back to.
    pub(crate) fn into_connecter(mut self) -> Option<Connecter> {
        // What was decoded is published before the notice, which the
        // socket acts on only after draining the ring.
        if let Some(mut tx) = self.in_msgs.take() {
            tx.publish_staged();
        }
        let pipe = self.pipe;
        let in_tx = self.link.in_tx.clone();
        match self.origin {
            EngineOrigin::Connect(c) => {
                if let Some(pipe) = pipe {
                    if self.conn.is_ready() {
                        let _ = in_tx.try_push(Inbound::Disconnected { pipe });
                    }
                }
                Some(c)
            }
            EngineOrigin::Accept { .. } => {
                if let (Some(pipe), true) = (pipe, self.accepted_out.is_some()) {
                    let _ = in_tx.try_push(Inbound::Detached { pipe });
                }
                None
            }
        }
    }

    /// Readiness from epoll; `read_closed` when it reports the peer's end of
    /// the stream (or an error) queued behind whatever data is left.
    pub(crate) fn on_io(
        &mut self,
        readable: bool,
        writable: bool,
        read_closed: bool,
        cx: &mut StepCx<'_>,
    ) -> Step {
        self.readable |= readable;
        self.read_closed |= read_closed;
        self.writable |= writable;
        self.pump(cx)
    }

    /// A ring notified: the out-ring has data or the in-ring has room.
    ///
    /// No read is tried here unless one is due anyway: the loop handles
    /// epoll's readiness before notified engines, so a close from the peer
    /// that arrived before this round is already known, and a probe read
    /// per wake-up would put an extra system call on every request's path.
    pub(crate) fn on_notify(&mut self, cx: &mut StepCx<'_>) -> Step {
        self.pump(cx)
    }

    /// A timer of this engine fired.
    pub(crate) fn on_timer(&mut self, kind: TimerKind, cx: &mut StepCx<'_>) -> Step {
        if kind == TimerKind::Protocol {
            self.armed = None;
            if let Err(e) = self.conn.handle_timeout(cx.now) {
                tracing::info!(peer = %self.peer_label, error = %e, "closing connection");
                self.auth_status = e.auth_status();
                self.failure = Some(e.to_string());
                self.flush_best_effort();
                return Step::Close;
            }
        }
        self.pump(cx)
    }

    /// Whether the watched out-ring has something for this engine to do
    /// (messages, or the socket gone).
    pub(crate) fn out_ready(&self) -> bool {
        let out = match &self.origin {
            EngineOrigin::Connect(c) => Some(&c.out),
            EngineOrigin::Accept { .. } => self.accepted_out.as_ref(),
        };
        out.is_some_and(|out| !out.is_empty() || out.is_disconnected())
    }

    /// Announces a sleep on the out-ring, without the barrier (see
    /// [`Consumer::announce_sleep`]).
    pub(crate) fn out_announce_sleep(&mut self) {
        if let Some(out) = self.out_ring() {
            out.announce_sleep();
        }
    }

    /// Completes the announcement after the loop's barrier: false (and
    /// withdrawn) if the out-ring has work after all.
    pub(crate) fn out_confirm_sleep(&mut self) -> bool {
        self.out_ring().is_none_or(|out| out.confirm_sleep())
    }

    /// Withdraws the announcement (the barrier failed).
    pub(crate) fn out_cancel_sleep(&mut self) {
        if let Some(out) = self.out_ring() {
            out.cancel_sleep();
        }
    }

    fn out_ring(&mut self) -> Option<&mut Consumer<Payload>> {
        match &mut self.origin {
            EngineOrigin::Connect(c) => Some(&mut c.out),
            EngineOrigin::Accept { .. } => self.accepted_out.as_mut(),
        }
    }

    fn pump(&mut self, cx: &mut StepCx<'_>) -> Step {
        loop {
            let mut progress = false;
            match self.deliver_inbound() {
                Ok(p) => progress |= p,
                Err(()) => return self.finish(),
            }
            match self.read(cx.now, cx.pool) {
                Ok(p) => progress |= p,
                Err(()) => return self.finish(),
            }
            match self.write() {
                Ok(p) => progress |= p,
                Err(()) => return Step::Close,
            }
            if self.eof && self.pending_in.is_empty() && self.pending_msgs.is_empty() {
                return self.finish();
            }
            if self.closing && self.out_done && !self.conn.wants_write() {
                return Step::Close;
            }
            if self.closing && !self.conn.is_ready() && self.out_ring().is_none_or(|r| r.is_empty())
            {
                // Closed before the handshake finished, with nothing queued
                // to deliver: no reason to wait for the handshake.
                return Step::Close;
            }
            if !progress {
                break;
            }
        }
        // Idle on the out-ring: the loop watches it (polling it while it
        // spins, announcing a sleep on it before it blocks).
        if self.conn.is_ready()
            && !self.conn.wants_write()
            && !self.out_done
            && self.out_ring().is_some()
        {
            cx.watch_out = true;
        }
        // More to read than one step's share: come back soon.
        if self.readable
            && !self.eof
            && self.pending_in.is_empty()
            && self.pending_msgs.is_empty()
            && self.conn.is_ready()
        {
            self.notify.notify();
        }
        self.arm_timer(cx);
        Step::Continue
    }

    fn arm_timer(&mut self, cx: &mut StepCx<'_>) {
        let next = self.conn.poll_timeout();
        if next.is_some() && next != self.armed {
            self.armed = next;
            if let Some(at) = next {
                cx.timer = Some((at, TimerKind::Protocol));
            }
        }
    }

    /// The connection ends: a connect pipe reconnects.
    fn finish(&mut self) -> Step {
        self.flush_best_effort();
        Step::Close
    }

    fn flush_best_effort(&mut self) {
        for _ in 0..4 {
            if !self.conn.wants_write() {
                break;
            }
            match self.conn.transmit().write_to(&mut self.stream) {
                Ok(n) if n > 0 => {}
                _ => break,
            }
        }
    }

    /// Moves waiting notices into the socket's in-ring and waiting messages
    /// into the receive ring. `Err` when the socket is gone and nothing more
    /// can be delivered (the engine closes unless it still has queued
    /// output).
    fn deliver_inbound(&mut self) -> Result<bool, ()> {
        let progress = self.deliver_notices()?;
        Ok(self.deliver_msgs()? || progress)
    }

    /// Moves decoded messages that found the receive ring full into it.
    fn deliver_msgs(&mut self) -> Result<bool, ()> {
        if self.pending_msgs.is_empty() {
            return Ok(false);
        }
        let Some(tx) = self.in_msgs.as_mut() else {
            self.pending_msgs.clear();
            return Ok(false);
        };
        let mut progress = false;
        while let Some(p) = self.pending_msgs.pop_front() {
            match tx.stage(p) {
                Ok(()) => progress = true,
                Err(PushError::Full(p)) => {
                    self.pending_msgs.push_front(p);
                    tx.publish_staged();
                    // Full: ask to be told when there is room.
                    if tx.register_space_waiter(self.notify.clone()) {
                        return Ok(progress);
                    }
                    if tx.is_disconnected() {
                        self.pending_msgs.clear();
                        return self.socket_gone(progress);
                    }
                }
                Err(PushError::Disconnected(_)) => {
                    self.pending_msgs.clear();
                    return self.socket_gone(progress);
                }
            }
        }
        tx.publish_staged();
        Ok(progress)
    }

    /// The socket no longer takes this pipe's messages: close unless output
    /// is still being written.
    fn socket_gone(&self, progress: bool) -> Result<bool, ()> {
        if self.closing || self.out_done {
            Err(())
        } else {
            Ok(progress)
        }
    }

    /// Moves waiting notices into the socket's in-ring.
    fn deliver_notices(&mut self) -> Result<bool, ()> {
        if self.pending_in.is_empty() {
            return Ok(false);
        }
        let mut progress = false;
        while !self.pending_in.is_empty() {
            let free = self.link.in_tx.free_slots();
            let n = free.min(self.pending_in.len());
            if n == 0 {
                // Full: ask to be told when there is room.
                if self.link.in_tx.register_space_waiter(self.notify.clone()) {
                    return Ok(progress);
                }
                if self.link.in_tx.is_disconnected() {
                    self.pending_in.clear();
                    return self.socket_gone(progress);
                }
                continue;
            }
            let r = if n == 1 {
                let item = self.pending_in.pop_front().expect("non-empty");
                self.link.in_tx.try_push(item).map_err(|e| match e {
                    PushError::Full(i) => (vec![i], false),
                    PushError::Disconnected(i) => (vec![i], true),
                })
            } else {
                let batch = self.pending_in.drain(..n);
                self.link.in_tx.try_push_batch(batch).map_err(|e| match e {
                    PushError::Full(it) => (it.collect::<Vec<_>>(), false),
                    PushError::Disconnected(it) => (it.collect::<Vec<_>>(), true),
                })
            };
            match r {
                Ok(()) => progress = true,
                Err((items, gone)) => {
                    for item in items.into_iter().rev() {
                        self.pending_in.push_front(item);
                    }
                    if gone {
                        self.pending_in.clear();
                        return Err(());
                    }
                    // Lost a race with another producer: retry.
                }
            }
        }
        Ok(progress)
    }

    fn read(&mut self, now: Instant, pool: &mut RecvPool) -> Result<bool, ()> {
        let mut progress = false;
        let mut reads = 0;
        while self.readable
            && !self.eof
            && self.pending_msgs.is_empty()
            && self.pending_in.len() < PENDING_IN_MAX
        {
            if reads == READS_PER_STEP {
                break;
            }
            reads += 1;
            // The shared buffer is zero-filled before each read (safe code
            // cannot read into uninitialised memory), so the size adapts:
            // small while reads come back small (latency), doubling while
            // they fill it (throughput). A large frame partly received asks
            // for the rest of it at once (bounded by the protocol's hint):
            // those bytes are on their way anyway. A large frame's body in
            // its own buffer is read to its end, and up to DIRECT_TAIL bytes
            // of what follows go into the shared buffer in the same call.
            let old = self.rx.len();
            let r = if let Some(body) = &mut self.body {
                self.rx.resize(old + DIRECT_TAIL, 0);
                let rest = &mut body.buf.as_mut_slice()[body.filled..];
                let want = rest.len() + DIRECT_TAIL;
                let mut bufs = [IoSliceMut::new(rest), IoSliceMut::new(&mut self.rx[old..])];
                self.stream.read_vectored(&mut bufs).map(|got| (got, want))
            } else {
                let hint = self.conn.recv_reserve_hint(&self.rx);
                let want = if hint > zmtp::READ_CHUNK {
                    hint
                } else {
                    self.read_size.min(hint)
                };
                self.rx.resize(old + want, 0);
                self.stream.read(&mut self.rx[old..]).map(|got| (got, want))
            };
            let (got, want) = match r {
                Ok(v) => v,
                Err(e) => {
                    self.rx.truncate(old);
                    match e.kind() {
                        io::ErrorKind::WouldBlock => {
                            self.readable = false;
                            break;
                        }
                        io::ErrorKind::Interrupted => continue,
                        _ => {
                            tracing::debug!(peer = %self.peer_label, error = %e, "read failed");
                            return Err(());
                        }
                    }
                }
            };
            if got == 0 {
                self.rx.truncate(old);
                self.eof = true;
                break;
            }
            let into_rx = match &mut self.body {
                Some(body) => {
                    let n = got.min(body.buf.len() - body.filled);
                    body.filled += n;
                    got - n
                }
                None => {
                    if got == want {
                        self.read_size = (self.read_size * 2).min(MAX_READ);
                    } else if got < want / 8 {
                        self.read_size = (self.read_size / 2).max(MIN_READ);
                    }
                    got
                }
            };
            self.rx.truncate(old + into_rx);
            if got < want && !self.read_closed {
                // A short read drained the socket's buffer (epoll(7)): the
                // next edge says when more has arrived. Not so for a close
                // that came with the data: it shows only to the next read.
                self.readable = false;
            }
            progress = true;
            let complete = match &self.body {
                Some(b) if b.filled == b.buf.len() => self.body.take().map(|b| b.buf.freeze()),
                _ => None,
            };
            let mut cx = EventCx {
                pipe: &mut self.pipe,
                partial: &mut self.partial,
                pending_in: &mut self.pending_in,
                in_msgs: &mut self.in_msgs,
                latest_in: &mut self.latest_in,
                pending_msgs: &mut self.pending_msgs,
                accepted_out: &mut self.accepted_out,
                accepted_out_latest: &mut self.accepted_out_latest,
                link: &self.link,
                origin: &self.origin,
                notify: &self.notify,
                peer_label: &self.peer_label,
                handshook: &mut self.handshook,
            };
            let mut r = Ok(());
            if let Some(body) = complete {
                r = self.conn.handle_body_with(body, now, |ev| cx.on_event(ev));
            }
            if r.is_ok() && !self.rx.is_empty() {
                r = self
                    .conn
                    .handle_input_with(&mut self.rx, now, |ev| cx.on_event(ev));
            }
            if let Some(tx) = &mut self.in_msgs {
                tx.publish_staged();
            }
            if let Err(e) = r {
                tracing::info!(peer = %self.peer_label, error = %e, "closing connection");
                self.auth_status = e.auth_status();
                self.failure = Some(e.to_string());
                self.flush_best_effort();
                return Err(());
            }
            if self.body.is_none() {
                self.start_direct_body(pool);
            }
        }
        Ok(progress)
    }

    /// Gives the body of a large frame whose header was just decoded a
    /// buffer of its own from the pool, sized to the frame, and moves the
    /// part of the body already read into it. The rest is then read
    /// straight into it and the buffer becomes the message as it is: no
    /// copy, no zero-filling (a recycled buffer is already initialised), no
    /// fresh pages to fault in, and the shared read buffer stays small and
    /// unshared.
    fn start_direct_body(&mut self, pool: &mut RecvPool) {
        let Some(size) = self.conn.body_in_progress() else {
            return;
        };
        if size < DIRECT_BODY_MIN || !RecvPool::is_pooled(size) {
            return;
        }
        // The decoder stops at the first incomplete frame, so the shared
        // buffer holds only the start of this body (if it somehow held
        // more, the shared buffer simply keeps serving this frame).
        let filled = self.rx.len();
        if filled >= size {
            return;
        }
        let mut buf = pool.take(size);
        buf.as_mut_slice()[..filled].copy_from_slice(&self.rx);
        self.rx.clear();
        self.body = Some(DirectBody { buf, filled });
    }

    /// Encodes queued messages and writes. `Err` on a broken stream.
    fn write(&mut self) -> Result<bool, ()> {
        let mut progress = false;
        loop {
            let mut full_batch = false;
            // Encode a batch while there is room in the transmit buffer.
            // Not once the peer has closed: what is still queued waits in
            // the pipe for the next connection instead of being lost.
            if self.conn.is_ready()
                && !self.out_done
                && !self.eof
                && self.conn.transmit().len() < TX_HIGH
            {
                let (mut out, latest) = match &mut self.origin {
                    EngineOrigin::Connect(c) => (Some(&mut c.out), c.out_latest.as_mut()),
                    EngineOrigin::Accept { .. } => (
                        self.accepted_out.as_mut(),
                        self.accepted_out_latest.as_mut(),
                    ),
                };
                if let (Some(out), Some(latest)) = (&mut out, latest) {
                    // Conflating: the newest message, if it changed. Once
                    // the socket is gone its last message still goes out.
                    let taken = match pipe::pop_latest(out, latest) {
                        Ok(p) => Some(p),
                        Err(PopError::Empty) => None,
                        Err(PopError::Disconnected) => {
                            self.out_done = true;
                            None
                        }
                    };
                    if let Some(p) = taken {
                        progress = true;
                        let r = match &p {
                            Payload::One(m) => self.conn.send_msg(m),
                            Payload::Multi(v) => self.conn.send_multipart(v),
                        };
                        if r.is_err() {
                            return Err(());
                        }
                    }
                } else if let Some(out) = out {
                    match out.try_pop_batch(OUT_BATCH) {
                        Ok(batch) => {
                            full_batch = batch.len() == OUT_BATCH;
                            for p in batch {
                                progress = true;
                                let r = match &p {
                                    Payload::One(m) if self.subscriber => match m.split_first() {
                                        Some((1, t)) => self.conn.send_subscribe(t),
                                        Some((0, t)) => self.conn.send_cancel(t),
                                        _ => self.conn.send_msg(m),
                                    },
                                    Payload::One(m) => self.conn.send_msg(m),
                                    Payload::Multi(v) => self.conn.send_multipart(v),
                                };
                                if r.is_err() {
                                    return Err(());
                                }
                            }
                        }
                        Err(PopError::Empty) => {}
                        Err(PopError::Disconnected) => self.out_done = true,
                    }
                }
            }
            if !self.conn.wants_write() || !self.writable {
                return Ok(progress);
            }
            if full_batch && self.conn.transmit().len() < TX_WRITE_AT {
                // More is queued: encode it too before writing.
                continue;
            }
            match self.conn.transmit().write_to(&mut self.stream) {
                Ok(0) => return Err(()),
                Ok(_) => progress = true,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.writable = false;
                    return Ok(progress);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    tracing::debug!(peer = %self.peer_label, error = %e, "write failed");
                    return Err(());
                }
            }
        }
    }
}

/// What decoding needs of an engine, borrowed field by field so the
/// connection can hand events straight to it while it decodes.
struct EventCx<'a> {
    pipe: &'a mut Option<PipeId>,
    partial: &'a mut Vec<Msg>,
    pending_in: &'a mut VecDeque<Inbound>,
    in_msgs: &'a mut Option<Producer<Payload>>,
    latest_in: &'a mut Option<LatestWriter<Payload>>,
    pending_msgs: &'a mut VecDeque<Payload>,
    accepted_out: &'a mut Option<Consumer<Payload>>,
    accepted_out_latest: &'a mut Option<LatestReader<Payload>>,
    link: &'a Arc<SocketLink>,
    origin: &'a EngineOrigin,
    notify: &'a Arc<dyn Notify>,
    peer_label: &'a str,
    handshook: &'a mut bool,
}

impl EventCx<'_> {
    #[inline]
    fn on_event(&mut self, ev: Event) {
        match ev {
            Event::Message(m) => {
                if m.more() {
                    self.partial.push(m);
                    return;
                }
                let payload = if self.partial.is_empty() {
                    Payload::One(m)
                } else {
                    let mut frames = std::mem::take(self.partial);
                    frames.push(m);
                    Payload::Multi(frames)
                };
                self.queue_msg(payload);
            }
            Event::Ready(peer) => self.attach(peer),
            // Subscriptions reach the publisher socket as messages
            // `0x01 + topic` / `0x00 + topic`, whatever form they had on the
            // wire.
            Event::Subscribe(t) => self.subscription_in(1, &t),
            Event::Cancel(t) => self.subscription_in(0, &t),
        }
    }

    /// Hands a decoded message to the socket: straight into its slot of the
    /// receive ring (published every [`PUBLISH_EVERY`] messages and at the
    /// end of the read), or behind those already waiting for room. Before
    /// the pipe is attached there is nobody to deliver to.
    #[inline]
    fn queue_msg(&mut self, payload: Payload) {
        let Some(tx) = self.in_msgs.as_mut() else {
            return;
        };
        if let Some(latest) = self.latest_in.as_mut() {
            // Conflating: reading never stops for it.
            pipe::put_latest(tx, latest, payload);
            return;
        }
        if self.pending_msgs.is_empty() {
            match tx.stage(payload) {
                Ok(()) => {
                    if tx.staged() >= PUBLISH_EVERY {
                        tx.publish_staged();
                    }
                }
                Err(PushError::Full(p)) => self.pending_msgs.push_back(p),
                // The socket dropped the pipe; `deliver_msgs` acts on it.
                Err(PushError::Disconnected(p)) => self.pending_msgs.push_back(p),
            }
        } else {
            self.pending_msgs.push_back(payload);
        }
    }

    fn subscription_in(&mut self, kind: u8, topic: &[u8]) {
        let mut v = Vec::with_capacity(topic.len() + 1);
        v.push(kind);
        v.extend_from_slice(topic);
        self.queue_msg(Payload::One(Msg::from(v)));
    }

    fn endpoint(&self) -> &str {
        match self.origin {
            EngineOrigin::Accept { endpoint, .. } => endpoint,
            EngineOrigin::Connect(c) => &c.endpoint_str,
        }
    }

    fn attach(&mut self, peer: zmtp::PeerInfo) {
        tracing::debug!(peer = %self.peer_label, socket_type = peer.socket_type.as_str(), "handshake done");
        *self.handshook = true;
        self.link
            .event(MonitorEventKind::HandshakeSucceeded, self.endpoint());
        let conflate = pipe::conflates_in(self.link.socket_type, self.link.options.conflate);
        // A conflating pipe's ring carries tokens, at most one waiting.
        let cap = if conflate {
            1
        } else {
            self.link.options.recv_ring_capacity()
        };
        let Ok((in_tx, reader)) = pipe::engine_in_ring(cap) else {
            return;
        };
        let latest = if conflate {
            let (w, r) = ring::latest();
            *self.latest_in = Some(w);
            Some(r)
        } else {
            None
        };
        match self.origin {
            EngineOrigin::Connect(c) => {
                *self.in_msgs = Some(in_tx);
                self.pending_in.push_back(Inbound::Connected {
                    pipe: c.pipe,
                    peer: Box::new(peer),
                    reader,
                    latest,
                });
            }
            EngineOrigin::Accept { .. } => {
                let (writer, mut rx) =
                    if pipe::conflates_out(self.link.socket_type, self.link.options.conflate) {
                        let Ok((w, rx, latest)) = pipe::conflate_pipe() else {
                            return;
                        };
                        *self.accepted_out_latest = Some(latest);
                        (PipeWriter::Conflate(w), rx)
                    } else {
                        let cap = self.link.options.send_ring_capacity();
                        let Ok((tx, rx)) = pipe::engine_out_ring(cap) else {
                            return;
                        };
                        (PipeWriter::Engine(tx), rx)
                    };
                rx.set_notifier(Some(self.notify.clone()));
                let pipe = self.link.alloc_pipe();
                *self.pipe = Some(pipe);
                *self.accepted_out = Some(rx);
                *self.in_msgs = Some(in_tx);
                self.pending_in
                    .push_back(Inbound::Attached(Box::new(Attach {
                        pipe,
                        writer,
                        peer,
                        reader,
                        latest,
                    })));
            }
        }
    }
}
