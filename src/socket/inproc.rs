//! The `inproc://` namespace of a context.
//!
//! An inproc connection needs no I/O thread: binding records the socket's
//! in-ring under the name, and connecting builds two single-producer rings,
//! one each way, and hands each side the writer of one and the reader of the
//! other (announced with [`Inbound::Attached`] on its in-ring). A connect
//! made before the bind waits in the registry and is wired up by the bind.

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
    pub(crate) fn bind(&mut self, name: &str, me: InprocPeer) -> Result<()> {
        if self.bound.contains_key(name) {
            return Err(Error::AddrInUse(format!("inproc://{name}")));
        }
        if let Some(waiting) = self.pending.remove(name) {
            for c in waiting {
                if me.socket_type.is_compatible(c.socket_type) {
                    wire(&me, &c);
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
        Ok(())
    }

    /// Connects a socket to `name`, now if it is bound, else when it is.
    pub(crate) fn connect(&mut self, name: &str, me: InprocPeer) -> Result<()> {
        match self.bound.get(name) {
            Some(b) => {
                if !me.socket_type.is_compatible(b.socket_type) {
                    return Err(Error::IncompatiblePeer(format!(
                        "{} cannot connect to {} at inproc://{name}",
                        me.socket_type.as_str(),
                        b.socket_type.as_str()
                    )));
                }
                wire(b, &me);
            }
            None => self.pending.entry(name.to_owned()).or_default().push(me),
        }
        Ok(())
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

/// Gives each of two sockets a pipe to the other: a ring each way, sized
/// from the writer's SNDHWM plus the reader's RCVHWM (as libzmq sizes inproc
/// pipes).
fn wire(a: &InprocPeer, b: &InprocPeer) {
    let ring = |from: &InprocPeer, to: &InprocPeer| {
        pipe::inproc_ring(pipe::inproc_hwm(from.sndhwm, to.rcvhwm), UNLIMITED_PIPE)
    };
    let (Ok((a_to_b, b_from_a)), Ok((b_to_a, a_from_b))) = (ring(a, b), ring(b, a)) else {
        // Capacities come from `ring_capacity_for_hwm`, always valid.
        tracing::error!("inproc pipe rings could not be built");
        return;
    };
    let id_a = a.next_pipe.fetch_add(1, Ordering::Relaxed);
    let id_b = b.next_pipe.fetch_add(1, Ordering::Relaxed);
    let to_b = PipeWriter::Inproc(InprocWriter {
        ring: a_to_b,
        peer: b.in_tx.clone(),
        id_at_peer: id_b,
    });
    let to_a = PipeWriter::Inproc(InprocWriter {
        ring: b_to_a,
        peer: a.in_tx.clone(),
        id_at_peer: id_a,
    });
    // These pushes wait only while a socket's receive ring is full of
    // messages it has not read yet; they fail only for a closed socket.
    let _ = a.in_tx.push(Inbound::Attached(Box::new(Attach {
        pipe: id_a,
        writer: to_b,
        peer: b.info(),
        reader: Some(a_from_b),
    })));
    let _ = b.in_tx.push(Inbound::Attached(Box::new(Attach {
        pipe: id_b,
        writer: to_a,
        peer: a.info(),
        reader: Some(b_from_a),
    })));
}
