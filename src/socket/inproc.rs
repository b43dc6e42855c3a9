//! The `inproc://` namespace of a context.
//!
//! An inproc connection needs no I/O thread: binding records the socket's
//! in-ring under the name, and connecting builds two single-producer rings,
//! one each way, and hands each side the writer of one and the reader of the
//! other (announced with [`Inbound::Attached`]). A connect made before the
//! bind gets its pipe at once, as libzmq's does: the connecting socket
//! writes (and would read) its rings straight away, while their other ends
//! wait in the registry until the bind hands them to the binding socket
//! and tells the connecting one who it is ([`Inbound::Wired`]).
//!
//! The registry only builds the pipes; the notices go out once its lock is
//! released ([`Wiring`]): the calling socket applies its own at once (it
//! could not wait for room in its own in-ring), and the other side's is
//! pushed into that socket's in-ring, which may wait while that ring is
//! full, without holding up other binds and connects.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use bytes::Bytes;

use super::options::UNLIMITED_PIPE;
use crate::error::{Error, Result};
use crate::pipe::{
    self, Attach, Inbound, InprocReadEnd, InprocWriteEnd, LateLink, Payload, PeerLink, PipeId,
    PipeWriter,
};
use crate::ring::{Consumer, LatestReader, MpProducer};
use crate::sync::{AtomicU64, Ordering};
use crate::zmtp::{Metadata, PeerInfo, SocketType};

/// One side of an inproc connection, as the registry knows it.
#[derive(Clone)]
pub(crate) struct InprocPeer {
    pub(crate) socket_id: u64,
    pub(crate) socket_type: SocketType,
    pub(crate) in_tx: MpProducer<Inbound>,
    pub(crate) next_pipe: Arc<AtomicU64>,
    pub(crate) routing_id: Option<Bytes>,
    /// SNDHWM when it bound or connected.
    pub(crate) sndhwm: i32,
    /// RCVHWM when it bound or connected.
    pub(crate) rcvhwm: i32,
    /// `ZMQ_CONFLATE` when it bound or connected.
    pub(crate) conflate: bool,
}

impl InprocPeer {
    fn info(&self) -> PeerInfo {
        PeerInfo {
            socket_type: self.socket_type,
            identity: self.routing_id.clone(),
            properties: Metadata::new(),
            minor_version: 1,
            user_id: None,
            peer_address: None,
        }
    }
}

/// A connect made before the bind: the binding socket's ends of the pipe
/// the connecting socket already uses.
pub(crate) struct PendingConnect {
    peer: InprocPeer,
    /// The pipe's id at the connecting socket.
    pipe: PipeId,
    /// Where the binding socket will write to the connecting one.
    to_peer: InprocWriteEnd,
    /// What the connecting socket writes, to be read by the binding one.
    from_peer: InprocReadEnd,
    /// Where the connecting socket's writer learns the binding socket's
    /// in-ring, for its detach notice.
    link: LateLink,
}

/// The connecting socket's side of a connect made before the bind.
pub(crate) struct EarlyPipe {
    /// Its id at the connecting socket.
    pub(crate) pipe: PipeId,
    /// Where to write.
    pub(crate) writer: PipeWriter,
    /// What to read.
    pub(crate) reader: Consumer<Payload>,
    /// For a conflating pipe, where the newest message waits.
    pub(crate) latest: Option<LatestReader<Payload>>,
}

/// What a connect got: the notices of a pipe to a bound socket, or a pipe
/// of its own while the name waits for its bind.
#[must_use = "the pipe is not the socket's until it takes it"]
pub(crate) enum Connected {
    /// The name was bound: the pipe is wired up.
    Now(Wiring),
    /// Not bound yet.
    Early(EarlyPipe),
}

/// Bound names and connects waiting for a bind.
#[derive(Default)]
pub(crate) struct InprocRegistry {
    bound: HashMap<String, InprocPeer>,
    pending: HashMap<String, Vec<PendingConnect>>,
}

impl InprocRegistry {
    /// Binds `name` to a socket, wiring up the connects that were waiting.
    pub(crate) fn bind(&mut self, name: &str, me: InprocPeer) -> Result<Wiring> {
        if self.bound.contains_key(name) {
            return Err(Error::AddrInUse(format!("inproc://{name}")));
        }
        let mut wiring = Wiring::default();
        if let Some(waiting) = self.pending.remove(name) {
            for c in waiting {
                if me.socket_type.is_compatible(c.peer.socket_type) {
                    wire_early(&me, c, &mut wiring);
                } else {
                    // Dropping the binding socket's ends tells the
                    // connecting socket its pipe is dead.
                    tracing::warn!(
                        name,
                        binder = me.socket_type.as_str(),
                        connecter = c.peer.socket_type.as_str(),
                        "inproc connect from an incompatible socket type ignored"
                    );
                }
            }
        }
        self.bound.insert(name.to_owned(), me);
        Ok(wiring)
    }

    /// Connects a socket to `name`: wired up now if it is bound, else a
    /// pipe the socket uses at once and the bind completes.
    pub(crate) fn connect(&mut self, name: &str, me: InprocPeer) -> Result<Connected> {
        if let Some(b) = self.bound.get(name) {
            if !me.socket_type.is_compatible(b.socket_type) {
                return Err(Error::IncompatiblePeer(format!(
                    "{} cannot connect to {} at inproc://{name}",
                    me.socket_type.as_str(),
                    b.socket_type.as_str()
                )));
            }
            let mut wiring = Wiring::default();
            wire(&me, b, &mut wiring);
            return Ok(Connected::Now(wiring));
        }
        // Sized from the connecting socket's marks alone, as libzmq sizes a
        // pipe made before the bind, and conflating as the connecting
        // socket's ZMQ_CONFLATE says (the binder's is not known yet).
        let one_way = |conflate| {
            pipe::inproc_one_way(
                pipe::inproc_hwm(me.sndhwm, me.rcvhwm),
                UNLIMITED_PIPE,
                conflate,
            )
            .map_err(|e| Error::Io(std::io::Error::other(e.to_string())))
        };
        let (to_binder, from_peer) = one_way(pipe::conflates_out(me.socket_type, me.conflate))?;
        let (to_peer, (from_binder, latest)) =
            one_way(pipe::conflates_in(me.socket_type, me.conflate))?;
        let link = Arc::new(Mutex::new(None));
        let pipe = me.next_pipe.fetch_add(1, Ordering::Relaxed);
        self.pending
            .entry(name.to_owned())
            .or_default()
            .push(PendingConnect {
                peer: me,
                pipe,
                to_peer,
                from_peer,
                link: link.clone(),
            });
        Ok(Connected::Early(EarlyPipe {
            pipe,
            writer: to_binder.into_writer(PeerLink::Pending(link)),
            reader: from_binder,
            latest,
        }))
    }

    /// Removes a binding made by `socket`. Returns whether there was one.
    pub(crate) fn unbind(&mut self, name: &str, socket: u64) -> bool {
        match self.bound.get(name) {
            Some(b) if b.socket_id == socket => {
                self.bound.remove(name);
                true
            }
            _ => false,
        }
    }

    /// Forgets everything a closed socket registered.
    pub(crate) fn remove_socket(&mut self, socket: u64) {
        self.bound.retain(|_, b| b.socket_id != socket);
        for v in self.pending.values_mut() {
            v.retain(|c| c.peer.socket_id != socket);
        }
        self.pending.retain(|_, v| !v.is_empty());
    }
}

/// The attach notices of the pipes a bind or connect built, to deliver
/// after the registry's lock is released.
#[derive(Default)]
#[must_use = "the pipes are not attached until the notices are delivered"]
pub(crate) struct Wiring {
    /// For the socket that called bind or connect.
    pub(crate) mine: Vec<Inbound>,
    /// For the other sockets, through their in-rings.
    pub(crate) theirs: Vec<(MpProducer<Inbound>, Inbound)>,
}

impl Wiring {
    /// Pushes the other sockets' notices into their in-rings (waiting while
    /// one is full; failing only for a closed socket) and hands back the
    /// calling socket's, for it to apply.
    pub(crate) fn deliver(self) -> Vec<Inbound> {
        for (tx, item) in self.theirs {
            let _ = tx.push(item);
        }
        self.mine
    }
}

/// Gives two sockets a pipe to each other: a ring each way, sized from the
/// writer's SNDHWM plus the reader's RCVHWM (as libzmq sizes inproc pipes),
/// or a conflating channel where the writer conflates what it sends or the
/// reader what it receives. `me` is the socket that called bind or connect.
fn wire(me: &InprocPeer, other: &InprocPeer, wiring: &mut Wiring) {
    let ring = |from: &InprocPeer, to: &InprocPeer| {
        pipe::inproc_one_way(
            pipe::inproc_hwm(from.sndhwm, to.rcvhwm),
            UNLIMITED_PIPE,
            pipe::conflates_out(from.socket_type, from.conflate)
                || pipe::conflates_in(to.socket_type, to.conflate),
        )
    };
    let (Ok((to_other, other_from_me)), Ok((to_me, me_from_other))) =
        (ring(me, other), ring(other, me))
    else {
        // Capacities come from `ring_capacity_for_hwm`, always valid.
        tracing::error!("inproc pipe rings could not be built");
        return;
    };
    let id_me = me.next_pipe.fetch_add(1, Ordering::Relaxed);
    let id_other = other.next_pipe.fetch_add(1, Ordering::Relaxed);
    wiring
        .mine
        .push(attached(id_me, to_other, (other, id_other), me_from_other));
    wiring.theirs.push((
        other.in_tx.clone(),
        attached(id_other, to_me, (me, id_me), other_from_me),
    ));
}

/// Completes a connect made before the bind: the binding socket `me` gets
/// the pipe's other ends, the connecting socket learns who bound.
fn wire_early(me: &InprocPeer, c: PendingConnect, wiring: &mut Wiring) {
    let id_me = me.next_pipe.fetch_add(1, Ordering::Relaxed);
    *c.link.lock().unwrap_or_else(|e| e.into_inner()) = Some((me.in_tx.clone(), id_me));
    wiring
        .mine
        .push(attached(id_me, c.to_peer, (&c.peer, c.pipe), c.from_peer));
    wiring.theirs.push((
        c.peer.in_tx.clone(),
        Inbound::Wired {
            pipe: c.pipe,
            peer: Box::new(me.info()),
        },
    ));
}

/// The notice attaching `pipe` to a socket: it writes `ring` and reads
/// `reader`, and its peer is `peer`, where the pipe's id is the second
/// member.
fn attached(
    pipe: PipeId,
    write: InprocWriteEnd,
    peer: (&InprocPeer, PipeId),
    read: InprocReadEnd,
) -> Inbound {
    let (peer, id_at_peer) = peer;
    let (reader, latest) = read;
    Inbound::Attached(Box::new(Attach {
        pipe,
        writer: write.into_writer(PeerLink::Known(peer.in_tx.clone(), id_at_peer)),
        peer: peer.info(),
        reader,
        latest,
    }))
}
