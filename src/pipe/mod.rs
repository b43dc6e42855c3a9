//! Pipes: the rings between a socket and one of its peers.
//!
//! A pipe is a pair of single-producer rings, one each way, whatever the
//! transport, as in libzmq: every peer has its own queue and its own
//! high-water mark, and the receiving socket fair-queues among them.
//!
//! Towards each peer the socket holds a [`PipeWriter`]: the producer side of
//! a ring drained by the peer's engine on an I/O thread (TCP, IPC) or by the
//! peer socket itself (inproc). From each peer the socket holds the consumer
//! side of a ring, handed over when the peer attaches ([`Attach::reader`],
//! [`Inbound::Connected`]), and drains them in turns. A message thus costs
//! its writer no atomic read-modify-write: an engine stages each decoded
//! message straight into its slot and publishes a run of them with one
//! store, and the inproc rings run asymmetric wake-up handshakes (see
//! [`ring::Builder::asymmetric_wakeups`]), so a publish is a plain store.
//!
//! Besides, a socket owns one multi-producer **in-ring** of [`Inbound`]
//! notices: pipes attached, connections made and lost, peers gone. Every
//! engine feeding the socket and every inproc peer holds a producer handle
//! of it. A notice that a pipe's messages end (a disconnection, a detach)
//! follows every message the pipe's ring got, so the socket drains that
//! ring before it acts on the notice.
//!
//! A ring element is a whole message ([`Payload`]): the frames of a multipart
//! message travel together, so a message is delivered entirely or not at all.
//! Single-frame messages (the common case) are stored in the slot itself and
//! cost no allocation.
//!
//! This module owns no thread and does no I/O; it is shared by `reactor` and
//! `socket`, which is why it sits below both.

#![forbid(unsafe_code)]

use std::sync::{Arc, Mutex};

use crate::msg::Msg;
use crate::ring::{self, Consumer, MpProducer, Notify, PopError, PushError};
use crate::zmtp::PeerInfo;

/// Identifies one pipe within its socket. Allocated by the socket (or by an
/// I/O thread on the socket's behalf) from a per-socket counter.
pub(crate) type PipeId = u64;

static EMPTY_FRAME: Msg = Msg::new();

/// One whole message: a single frame inline, or several frames.
#[derive(Debug, Clone)]
pub(crate) enum Payload {
    /// A single-frame message (its MORE flag is clear).
    One(Msg),
    /// A multipart message; every frame but the last has MORE set.
    Multi(Vec<Msg>),
}

impl From<Msg> for Payload {
    #[inline(always)]
    fn from(m: Msg) -> Payload {
        Payload::One(m)
    }
}

impl Payload {
    /// Builds a payload from frames, fixing up the MORE flags so that all but
    /// the last frame carry it. An empty list becomes one empty frame.
    pub(crate) fn from_frames(mut frames: Vec<Msg>) -> Payload {
        match frames.len() {
            0 => Payload::One(Msg::new()),
            1 => {
                let mut m = frames.pop().unwrap_or_default();
                m.set_more(false);
                Payload::One(m)
            }
            n => {
                for (i, f) in frames.iter_mut().enumerate() {
                    f.set_more(i + 1 < n);
                }
                Payload::Multi(frames)
            }
        }
    }

    /// The first frame.
    pub(crate) fn first(&self) -> &Msg {
        match self {
            Payload::One(m) => m,
            Payload::Multi(v) => v.first().unwrap_or(&EMPTY_FRAME),
        }
    }

    /// The frames of the message, in order.
    pub(crate) fn into_frames(self) -> Vec<Msg> {
        match self {
            Payload::One(m) => vec![m],
            Payload::Multi(v) => v,
        }
    }
}

/// What arrives in a socket's in-ring: notices about its pipes.
pub(crate) enum Inbound {
    /// A new peer finished its handshake on a listener of this socket: here is
    /// the writer towards it.
    Attached(Box<Attach>),
    /// A connection made by `connect` (whose pipe the socket already holds)
    /// finished its handshake.
    Connected {
        /// The connect pipe.
        pipe: PipeId,
        /// What the peer told us about itself.
        peer: Box<PeerInfo>,
        /// The ring this connection's messages arrive on.
        reader: Consumer<Payload>,
        /// For a conflating socket, where the newest message waits (the
        /// ring then carries only tokens).
        latest: Option<ring::LatestReader<Payload>>,
    },
    /// The connection behind a connect pipe was lost; the I/O thread is
    /// reconnecting and the pipe stays (messages keep queueing in it). The
    /// connection's reader ends: what it holds is still delivered.
    Disconnected {
        /// The connect pipe.
        pipe: PipeId,
    },
    /// An inproc connect made before the bind (whose pipe the socket
    /// already holds, writing and reading) was wired up by the bind: here
    /// is the binding socket.
    Wired {
        /// The connect pipe.
        pipe: PipeId,
        /// The binding socket.
        peer: Box<PeerInfo>,
    },
    /// The peer behind `pipe` is gone for good; forget the pipe.
    Detached {
        /// The pipe.
        pipe: PipeId,
    },
}

/// A newly attached peer.
pub(crate) struct Attach {
    /// Its pipe id.
    pub(crate) pipe: PipeId,
    /// Where to write messages for it.
    pub(crate) writer: PipeWriter,
    /// What the peer told us about itself.
    pub(crate) peer: PeerInfo,
    /// The ring its messages for us arrive on (the socket drains it with
    /// its other pipes' rings).
    pub(crate) reader: Consumer<Payload>,
    /// For a conflating socket, where the newest message waits (the ring
    /// then carries only tokens).
    pub(crate) latest: Option<ring::LatestReader<Payload>>,
}

/// The socket's side of a pipe: where messages for one peer are written.
pub(crate) enum PipeWriter {
    /// The ring drained by the peer's engine on an I/O thread.
    Engine(ring::Producer<Payload>),
    /// The ring drained by an inproc peer socket.
    Inproc(InprocWriter),
    /// A conflating pipe (`ZMQ_CONFLATE`), drained by the peer's engine or
    /// an inproc peer socket: only the newest message waits.
    Conflate(ConflateWriter),
}

/// The writing end of a conflating pipe. A write replaces the message the
/// reader (an engine, or an inproc peer socket) has not taken yet and posts
/// a token on a one-slot ring unless one is waiting already; the reader
/// frees the token's slot before it takes the message, so the newest
/// message is never left without a token (see [`ring::LatestWriter::put`]).
/// A write never waits and never finds the pipe full: the high-water mark
/// does not apply.
pub(crate) struct ConflateWriter {
    /// Tokens for the reader (its wake-ups and sleeps run on this ring).
    pub(crate) tokens: ring::Producer<Payload>,
    /// Where the newest message waits.
    pub(crate) latest: ring::LatestWriter<Payload>,
    /// For an inproc pipe, where the detach notice goes (`None` towards an
    /// engine).
    pub(crate) peer: Option<PeerLink>,
}

impl ConflateWriter {
    /// Replaces the waiting message with `payload`; `Disconnected` (with
    /// the payload) if the reader is gone.
    fn write(&mut self, payload: Payload) -> Result<(), PushError<Payload>> {
        if self.tokens.is_disconnected() {
            return Err(PushError::Disconnected(payload));
        }
        put_latest(&mut self.tokens, &mut self.latest, payload);
        Ok(())
    }
}

/// Writes to a conflating pipe: `payload` replaces the message not taken
/// yet, and a token follows on the one-slot ring unless one is waiting
/// already (see [`ring::LatestWriter::put`]). Never waits.
pub(crate) fn put_latest(
    tokens: &mut ring::Producer<Payload>,
    latest: &mut ring::LatestWriter<Payload>,
    payload: Payload,
) {
    drop(latest.put(payload));
    // The token is an empty multipart payload, which allocates nothing.
    // Full: a token is waiting already and will find this message.
    // Disconnected: the reader went away just now; the pipe is dropped
    // with the message, as a ring's unsent messages are (its owner learns
    // of it otherwise).
    let _ = tokens.try_push(Payload::Multi(Vec::new()));
}

/// The next message of a conflating pipe. Its ring carries a token after
/// each message put; a token's slot is handed back before the message is
/// taken, so that the writer, checking the ring after its put, either sees
/// room and posts a new token or is seen by this take (see
/// [`ring::LatestWriter::put`]). Once the writer is gone and the tokens
/// are drained, the message it put last is still returned.
pub(crate) fn pop_latest(
    ring: &mut Consumer<Payload>,
    latest: &mut ring::LatestReader<Payload>,
) -> Result<Payload, PopError> {
    loop {
        match ring.try_pop() {
            Ok(_token) => {
                ring.release_now();
                if let Some(p) = latest.take() {
                    return Ok(p);
                }
            }
            Err(PopError::Empty) => return Err(PopError::Empty),
            Err(PopError::Disconnected) => {
                return latest.take().ok_or(PopError::Disconnected);
            }
        }
    }
}

/// Builds the two ends of one direction of a conflating pipe: the writer
/// (its peer link unset), and the reader's token ring with the reader of
/// the newest message.
pub(crate) fn conflate_pipe() -> Result<
    (
        ConflateWriter,
        Consumer<Payload>,
        ring::LatestReader<Payload>,
    ),
    ring::CapacityError,
> {
    let (tokens, rx) = engine_out_ring(1)?;
    let (latest, reader) = ring::latest();
    Ok((
        ConflateWriter {
            tokens,
            latest,
            peer: None,
        },
        rx,
        reader,
    ))
}

/// Whether a socket of type `kind` with `ZMQ_CONFLATE` set conflates what
/// arrives from its peers (SUB, PULL, DEALER; a PUB's or XPUB's incoming
/// subscriptions are never conflated).
pub(crate) fn conflates_in(kind: crate::SocketType, conflate: bool) -> bool {
    use crate::SocketType::*;
    conflate && matches!(kind, Sub | Pull | Dealer)
}

/// Whether a socket of type `kind` with `ZMQ_CONFLATE` set conflates what
/// it sends to its peers (PUSH, PUB, DEALER; a SUB's subscriptions are
/// never conflated).
pub(crate) fn conflates_out(kind: crate::SocketType, conflate: bool) -> bool {
    use crate::SocketType::*;
    conflate && matches!(kind, Push | Pub | Dealer)
}

/// The writing end of an inproc pipe.
pub(crate) struct InprocWriter {
    /// The ring the peer socket drains.
    pub(crate) ring: ring::Producer<Payload>,
    /// Where the detach notice goes.
    pub(crate) peer: PeerLink,
}

/// Where a connect made before the bind learns the binding socket's
/// in-ring and the pipe's id there (filled in by the bind).
pub(crate) type LateLink = Arc<Mutex<Option<(MpProducer<Inbound>, PipeId)>>>;

/// The peer socket's in-ring and this pipe's id there, for the detach
/// notice.
pub(crate) enum PeerLink {
    /// Known from the start (the peer was bound when the pipe was built).
    Known(MpProducer<Inbound>, PipeId),
    /// A connect made before the bind: filled in by the bind. Until then
    /// nobody reads the pipe, so there is nobody to tell.
    Pending(LateLink),
}

impl PeerLink {
    /// Tells the peer socket this side is gone. The notice follows every
    /// message written so far, so the peer drains the pipe before it drops
    /// it.
    pub(crate) fn detach(&self) {
        let notify = |tx: &MpProducer<Inbound>, pipe: PipeId| {
            let _ = tx.try_push(Inbound::Detached { pipe });
        };
        match self {
            PeerLink::Known(tx, pipe) => notify(tx, *pipe),
            PeerLink::Pending(link) => {
                if let Some((tx, pipe)) = link.lock().unwrap_or_else(|e| e.into_inner()).as_ref() {
                    notify(tx, *pipe);
                }
            }
        }
    }
}

impl PipeWriter {
    /// The ring this pipe writes messages to (none for a conflating pipe,
    /// which always has room).
    #[inline]
    fn ring(&self) -> Option<&ring::Producer<Payload>> {
        match self {
            PipeWriter::Engine(p) => Some(p),
            PipeWriter::Inproc(w) => Some(&w.ring),
            PipeWriter::Conflate(_) => None,
        }
    }

    /// The pipe's next free slot, if it has room (see
    /// [`ring::Producer::vacant`]). A conflating pipe has no slots: it says
    /// `Full` while its reader is there; write to it with
    /// [`write_conflated`](Self::write_conflated).
    #[inline(always)]
    pub(crate) fn vacant(&mut self) -> Result<ring::Vacant<'_, Payload>, PushError<()>> {
        match self {
            PipeWriter::Engine(p) => p.vacant(),
            PipeWriter::Inproc(w) => w.ring.vacant(),
            PipeWriter::Conflate(c) => Err(if c.tokens.is_disconnected() {
                PushError::Disconnected(())
            } else {
                PushError::Full(())
            }),
        }
    }

    /// Writes to a conflating pipe (replacing the message not yet taken);
    /// nothing happens on any other.
    #[cold]
    #[inline(never)]
    pub(crate) fn write_conflated(&mut self, payload: Payload) {
        if let PipeWriter::Conflate(c) = self {
            let _ = c.write(payload);
        }
    }

    /// Whether this is a conflating pipe (see [`ConflateWriter`]).
    #[inline(always)]
    pub(crate) fn is_conflating(&self) -> bool {
        matches!(self, PipeWriter::Conflate(_))
    }

    /// Writes a whole message if the pipe has room. On failure the payload is
    /// handed back with the reason.
    #[inline]
    pub(crate) fn try_write(&mut self, payload: Payload) -> Result<(), PushError<Payload>> {
        match self {
            PipeWriter::Engine(p) => p.try_push(payload),
            PipeWriter::Inproc(w) => w.ring.try_push(payload),
            PipeWriter::Conflate(c) => c.write(payload),
        }
    }

    /// Whether a write would find room now.
    pub(crate) fn has_room(&self) -> bool {
        self.ring().is_none_or(|r| !r.is_full())
    }

    /// Asks to be notified once the pipe has room again. Returns `false` (and
    /// registers nothing) when it already has room.
    pub(crate) fn register_space_waiter(&self, n: Arc<dyn Notify>) -> bool {
        self.ring().is_some_and(|r| r.register_space_waiter(n))
    }

    /// [`register_space_waiter`](Self::register_space_waiter) in steps, with
    /// the barrier left to the caller (see
    /// [`ring::Producer::announce_space_wait`]).
    pub(crate) fn announce_space_wait(&self, n: &Arc<dyn Notify>) -> bool {
        self.ring().is_some_and(|r| r.announce_space_wait(n))
    }

    /// See [`ring::Producer::confirm_space_wait`].
    pub(crate) fn confirm_space_wait(&self, n: &Arc<dyn Notify>) -> bool {
        self.ring().is_some_and(|r| r.confirm_space_wait(n))
    }

    /// See [`ring::Producer::cancel_space_wait`].
    pub(crate) fn cancel_space_wait(&self, n: &Arc<dyn Notify>) {
        if let Some(r) = self.ring() {
            r.cancel_space_wait(n);
        }
    }

    /// Whether the pipe leads to an inproc peer socket (not an engine).
    pub(crate) fn is_inproc(&self) -> bool {
        match self {
            PipeWriter::Engine(_) => false,
            PipeWriter::Inproc(_) => true,
            PipeWriter::Conflate(c) => c.peer.is_some(),
        }
    }

    /// For an inproc pipe, tells the peer socket this side is gone (see
    /// [`PeerLink::detach`]); engines learn it from the dropped ring.
    pub(crate) fn detach(&self) {
        match self {
            PipeWriter::Inproc(w) => w.peer.detach(),
            PipeWriter::Conflate(ConflateWriter {
                peer: Some(peer), ..
            }) => peer.detach(),
            _ => {}
        }
    }
}

/// The writing end of one direction of an inproc pipe, before it knows
/// where its detach notice goes.
pub(crate) enum InprocWriteEnd {
    /// A ring holding up to the pipe's mark.
    Ring(ring::Producer<Payload>),
    /// A conflating pipe: only the newest message waits.
    Conflate(ConflateWriter),
}

impl InprocWriteEnd {
    /// The socket's writer, telling `peer` when it goes.
    pub(crate) fn into_writer(self, peer: PeerLink) -> PipeWriter {
        match self {
            InprocWriteEnd::Ring(ring) => PipeWriter::Inproc(InprocWriter { ring, peer }),
            InprocWriteEnd::Conflate(mut w) => {
                w.peer = Some(peer);
                PipeWriter::Conflate(w)
            }
        }
    }
}

/// The reading end of one direction of an inproc pipe: its ring, and for a
/// conflating pipe where the newest message waits (the ring then carries
/// tokens).
pub(crate) type InprocReadEnd = (Consumer<Payload>, Option<ring::LatestReader<Payload>>);

/// Builds one direction of an inproc pipe: a ring holding `hwm` messages
/// (see [`inproc_ring`]), or with `conflate` a one-value channel and a
/// one-slot token ring.
pub(crate) fn inproc_one_way(
    hwm: i32,
    limit: usize,
    conflate: bool,
) -> Result<(InprocWriteEnd, InprocReadEnd), ring::CapacityError> {
    if conflate {
        let (w, rx, r) = conflate_pipe()?;
        Ok((InprocWriteEnd::Conflate(w), (rx, Some(r))))
    } else {
        let (tx, rx) = inproc_ring(hwm, limit)?;
        Ok((InprocWriteEnd::Ring(tx), (rx, None)))
    }
}

/// Builds the two rings of an inproc pipe between sockets A and B: A's
/// writer and B's reader, holding `hwm` messages exactly, as libzmq's
/// inproc pipes do (over a slot array of the next power of two). The rings
/// run asymmetric wake-up handshakes: both sides poll before they sleep.
pub(crate) fn inproc_ring(
    hwm: i32,
    limit: usize,
) -> Result<(ring::Producer<Payload>, Consumer<Payload>), ring::CapacityError> {
    let capacity = ring_capacity_for_hwm(hwm, limit);
    ring::Builder::new(capacity)
        .limit(ring_limit_for_hwm(hwm, capacity))
        .asymmetric_wakeups(true)
        .spsc::<Payload>()
}

/// Builds the ring a socket writes one connection's messages to, drained by
/// the connection's engine, sized for `capacity` messages (from SNDHWM).
/// The socket publishes each message with a plain store (asymmetric
/// wake-up handshakes); the engine's I/O thread polls the ring while it
/// spins and, before it blocks, announces its sleep on all its idle
/// out-rings with one process-wide barrier.
pub(crate) fn engine_out_ring(
    capacity: usize,
) -> Result<(ring::Producer<Payload>, Consumer<Payload>), ring::CapacityError> {
    ring::Builder::new(capacity)
        .asymmetric_wakeups(true)
        .spsc::<Payload>()
}

/// Builds the ring an engine delivers one connection's messages on, with
/// `capacity` from the receiving socket's RCVHWM. When it is full the engine
/// stops reading, and TCP flow control pushes back on the peer. The engine
/// publishes a run of messages at a time, so the ring keeps the plain
/// (fenced) wake-up handshakes: the socket's checks before it sleeps cost it
/// a fence per pipe, not a process-wide barrier per pipe, and it releases
/// slots in groups.
pub(crate) fn engine_in_ring(
    capacity: usize,
) -> Result<(ring::Producer<Payload>, Consumer<Payload>), ring::CapacityError> {
    let (tx, mut rx) = ring::Builder::new(capacity).spsc::<Payload>()?;
    rx.set_release_every(ENGINE_RELEASE_EVERY);
    Ok((tx, rx))
}

/// An engine's receive ring hands slots back to it in groups of this many
/// single pops (and whenever the socket finds it empty or waits): one
/// fenced release per group instead of one per message.
const ENGINE_RELEASE_EVERY: usize = 32;

/// The mark of an inproc pipe, as libzmq sets it: the writer's SNDHWM plus
/// the reader's RCVHWM, or no limit (0) if either is unlimited.
pub(crate) fn inproc_hwm(sndhwm: i32, rcvhwm: i32) -> i32 {
    if sndhwm <= 0 || rcvhwm <= 0 {
        0
    } else {
        sndhwm.saturating_add(rcvhwm)
    }
}

/// The ring capacity for a high-water mark: the next power of two at or
/// above it, at least 2 and at most `limit`. A mark of 0 (libzmq's "no
/// limit") maps to `limit`, so memory stays bounded whatever the option says.
pub(crate) fn ring_capacity_for_hwm(hwm: i32, limit: usize) -> usize {
    if hwm <= 0 {
        return limit;
    }
    (hwm as usize).max(2).next_power_of_two().min(limit)
}

/// The messages a ring of `capacity` slots holds for a high-water mark:
/// the mark itself (at least 1, at most `capacity`), or `capacity` for "no
/// limit" (0).
pub(crate) fn ring_limit_for_hwm(hwm: i32, capacity: usize) -> usize {
    if hwm <= 0 {
        capacity
    } else {
        (hwm as usize).clamp(1, capacity)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limit_is_the_mark_within_the_capacity() {
        assert_eq!(ring_limit_for_hwm(2000, 2048), 2000);
        assert_eq!(ring_limit_for_hwm(1, 2), 1);
        assert_eq!(ring_limit_for_hwm(0, 1 << 16), 1 << 16);
        assert_eq!(ring_limit_for_hwm(i32::MAX, 1 << 17), 1 << 17);
    }

    #[test]
    fn capacity_rounds_up_to_power_of_two() {
        assert_eq!(ring_capacity_for_hwm(1000, 1 << 16), 1024);
        assert_eq!(ring_capacity_for_hwm(1024, 1 << 16), 1024);
        assert_eq!(ring_capacity_for_hwm(1, 1 << 16), 2);
        assert_eq!(ring_capacity_for_hwm(0, 1 << 16), 1 << 16);
        assert_eq!(ring_capacity_for_hwm(-5, 1 << 10), 1 << 10);
        assert_eq!(ring_capacity_for_hwm(i32::MAX, 1 << 20), 1 << 20);
    }

    #[test]
    fn inproc_mark_adds_both_sides() {
        assert_eq!(inproc_hwm(1000, 1000), 2000);
        assert_eq!(inproc_hwm(0, 1000), 0);
        assert_eq!(inproc_hwm(1000, -1), 0);
        assert_eq!(inproc_hwm(i32::MAX, 5), i32::MAX);
        // Exactly the mark, over 2048 slots.
        let (tx, rx) = inproc_ring(inproc_hwm(1000, 1000), 1 << 17).unwrap();
        assert_eq!(tx.capacity(), 2000);
        assert_eq!(rx.capacity(), 2000);
    }

    #[test]
    fn payload_from_frames_sets_more_flags() {
        let p = Payload::from_frames(vec![Msg::from("a"), Msg::from("b"), Msg::from("c")]);
        let frames = p.into_frames();
        let more: Vec<bool> = frames.iter().map(|m| m.more()).collect();
        assert_eq!(more, vec![true, true, false]);
        let p = Payload::from_frames(vec![Msg::from("x").with_more(true)]);
        assert!(matches!(p, Payload::One(ref m) if !m.more() && &m[..] == b"x"));
        assert_eq!(Payload::from_frames(vec![]).into_frames().len(), 1);
    }
}
