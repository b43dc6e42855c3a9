//! The `inproc://` namespace of a context.
//!
//! An inproc connection needs no I/O thread: binding records the socket's
//! in-ring under the name, and connecting builds two single-producer rings,
//! one each way, and hands each side the writer of one and the reader of the
//! other (announced with [`Inbound::Attached`]). A connect made before the
//! bind waits in the registry and is wired up by the bind.
//!
//! The registry only builds the pipes; the notices go out once its lock is
//! released ([`Wiring`]): the calling socket applies its own at once (it
//! could not wait for room in its own in-ring), and the other side's is
//! pushed into that socket's in-ring, which may wait while that ring is
//! full, without holding up other binds and connects.

use std::collections::HashMap;
use std::sync::Arc;

use bytes::Bytes;

use super::options::UNLIMITED_PIPE;
use crate::error::{Error, Result};
use crate::pipe::{self, Attach, Inbound, InprocWriter, PipeWriter};
use crate::ring::MpProducer;
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
}

impl InprocPeer {
    fn info(&self) -> PeerInfo {
        PeerInfo {
            socket_type: self.socket_type,
            identity: self.routing_id.clone(),
            properties: Metadata::new(),
            minor_version: 1,
            user_id: None,
        }
    }
}

/// Bound names and connects waiting for a bind.
#[derive(Default)]
pub(crate) struct InprocRegistry {
    bound: HashMap<String, InprocPeer>,
    pending: HashMap<String, Vec<InprocPeer>>,
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
                if me.socket_type.is_compatible(c.socket_type) {
                    wire(&me, &c, &mut wiring);
                } else {
                    tracing::warn!(
                        name,
                        binder = me.socket_type.as_str(),
                        connecter = c.socket_type.as_str(),
                        "inproc connect from an incompatible socket type ignored"
                    );
                }
            }
        }
        self.bound.insert(name.to_owned(), me);
        Ok(wiring)
    }

    /// Connects a socket to `name`, now if it is bound, else when it is.
    pub(crate) fn connect(&mut self, name: &str, me: InprocPeer) -> Result<Wiring> {
        let mut wiring = Wiring::default();
        match self.bound.get(name) {
            Some(b) => {
                if !me.socket_type.is_compatible(b.socket_type) {
                    return Err(Error::IncompatiblePeer(format!(
                        "{} cannot connect to {} at inproc://{name}",
                        me.socket_type.as_str(),
                        b.socket_type.as_str()
                    )));
                }
                wire(&me, b, &mut wiring);
            }
            None => self.pending.entry(name.to_owned()).or_default().push(me),
        }
        Ok(wiring)
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
            v.retain(|c| c.socket_id != socket);
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
/// writer's SNDHWM plus the reader's RCVHWM (as libzmq sizes inproc pipes).
/// `me` is the socket that called bind or connect.
fn wire(me: &InprocPeer, other: &InprocPeer, wiring: &mut Wiring) {
    let ring = |from: &InprocPeer, to: &InprocPeer| {
        pipe::inproc_ring(pipe::inproc_hwm(from.sndhwm, to.rcvhwm), UNLIMITED_PIPE)
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
    wiring.mine.push(Inbound::Attached(Box::new(Attach {
        pipe: id_me,
        writer: PipeWriter::Inproc(InprocWriter {
            ring: to_other,
            peer: other.in_tx.clone(),
            id_at_peer: id_other,
        }),
        peer: other.info(),
        reader: me_from_other,
    })));
    wiring.theirs.push((
        other.in_tx.clone(),
        Inbound::Attached(Box::new(Attach {
            pipe: id_other,
            writer: PipeWriter::Inproc(InprocWriter {
                ring: to_me,
                peer: me.in_tx.clone(),
                id_at_peer: id_me,
            }),
            peer: me.info(),
            reader: other_from_me,
        })),
    ));
}
