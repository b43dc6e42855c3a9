//! ROUTER: fair-queued in with the sender's routing id prepended as the first
//! frame; out, the first frame names the peer to route the rest to.
//!
//! A peer's routing id is the one this socket gave it
//! (`ZMQ_CONNECT_ROUTING_ID` before the `connect`), else the `Identity` it
//! sent in its handshake (`ZMQ_ROUTING_ID` on its side), else (none sent,
//! or one already in use here) an id generated as libzmq does: 5 bytes, a
//! zero byte then a 32-bit big-endian counter started at a random value.
//! With
//! `ZMQ_ROUTER_HANDOVER` a peer asking for an id in use takes it over and
//! the connection that had it is closed, as in libzmq; without it, libzmq
//! ignores such a peer until the id is free, where ringmq gives it a
//! generated id (so its messages are not lost). A message for an
//! unknown peer, or for one at its high-water mark, is dropped silently;
//! with `ROUTER_MANDATORY` the send fails with [`Error::HostUnreachable`]
//! for an unknown peer and waits (or times out) for a full one.

use std::collections::{HashMap, VecDeque};

use bytes::Bytes;

use super::pipes::Pipes;
use super::Routed;
use crate::error::Error;
use crate::msg::Msg;
use crate::pipe::{Payload, PipeId};
use crate::ring::PushError;

/// A ROUTER socket's state: the routing ids of its peers.
pub(super) struct Router {
    by_id: HashMap<Bytes, PipeId>,
    by_pipe: HashMap<PipeId, Bytes>,
    next_id: u32,
}

impl Router {
    pub(super) fn new() -> Router {
        Router {
            by_id: HashMap::new(),
            by_pipe: HashMap::new(),
            next_id: super::random_u32(),
        }
    }

    fn generate(&mut self) -> Bytes {
        loop {
            let n = self.next_id;
            self.next_id = self.next_id.wrapping_add(1);
            let mut id = [0u8; 5];
            id[1..].copy_from_slice(&n.to_be_bytes());
            let id = Bytes::copy_from_slice(&id);
            if !self.by_id.contains_key(&id) {
                return id;
            }
        }
    }

    /// A peer attached or reconnected: give it a routing id. With
    /// `handover`, a peer asking for an id in use takes it, and the pipe
    /// that had it (given a generated id meanwhile) is returned, to be
    /// ended.
    pub(super) fn on_attach(
        &mut self,
        pipes: &Pipes,
        pipe: PipeId,
        handover: bool,
    ) -> Option<PipeId> {
        self.on_detach(pipe);
        let wanted = pipes
            .iter()
            .find(|(id, _)| *id == pipe)
            .and_then(|(_, e)| {
                e.assigned_id
                    .clone()
                    .or_else(|| e.peer.as_ref().and_then(|p| p.identity.clone()))
            })
            .filter(|i| !i.is_empty());
        let mut evicted = None;
        let id = match wanted {
            Some(i) => match self.by_id.get(&i).copied() {
                None => i,
                Some(old) if handover => {
                    tracing::debug!(id = ?i, "routing id handed over to a new peer");
                    let other = self.generate();
                    self.by_id.insert(other.clone(), old);
                    self.by_pipe.insert(old, other);
                    evicted = Some(old);
                    i
                }
                Some(_) => {
                    tracing::debug!(id = ?i, "routing id already in use; generating one");
                    self.generate()
                }
            },
            None => self.generate(),
        };
        self.by_id.insert(id.clone(), pipe);
        self.by_pipe.insert(pipe, id);
        evicted
    }

    /// A peer went away.
    pub(super) fn on_detach(&mut self, pipe: PipeId) {
        if let Some(id) = self.by_pipe.remove(&pipe) {
            self.by_id.remove(&id);
        }
    }

    /// A message from a peer: its routing id goes in front.
    pub(super) fn on_msg(
        &mut self,
        pipe: PipeId,
        payload: Payload,
        inbox: &mut VecDeque<(PipeId, Payload)>,
    ) {
        let Some(id) = self.by_pipe.get(&pipe) else {
            return;
        };
        let mut frames = Vec::with_capacity(2);
        frames.push(Msg::from_shared(id).with_more(true));
        match payload {
            Payload::One(m) => frames.push(m),
            Payload::Multi(v) => frames.extend(v),
        }
        inbox.push_back((pipe, Payload::from_frames(frames)));
    }

    /// Routes a message by its first frame.
    pub(super) fn send(&mut self, pipes: &mut Pipes, payload: Payload, mandatory: bool) -> Routed {
        let mut frames = payload.into_frames();
        if frames.len() < 2 {
            // A routing id with nothing to route: dropped, as libzmq does.
            return Routed::Sent;
        }
        let Some(&pipe) = self.by_id.get(&frames[0][..]) else {
            return if mandatory {
                Routed::Failed(Error::HostUnreachable, Payload::from_frames(frames))
            } else {
                Routed::Sent
            };
        };
        let id = frames.remove(0);
        match pipes.write_to(pipe, Payload::from_frames(frames)) {
            Ok(()) => Routed::Sent,
            Err(PushError::Full(p)) if mandatory => {
                let mut frames = p.into_frames();
                frames.insert(0, id);
                Routed::FullAt(pipe, Payload::from_frames(frames))
            }
            Err(PushError::Disconnected(p)) if mandatory => {
                self.on_detach(pipe);
                let mut frames = p.into_frames();
                frames.insert(0, id);
                Routed::Failed(Error::HostUnreachable, Payload::from_frames(frames))
            }
            Err(_) => Routed::Sent,
        }
    }

    /// Whether a routing id is known (for `ROUTER_MANDATORY` checks on the
    /// first frame).
    pub(super) fn knows(&self, id: &[u8]) -> bool {
        self.by_id.contains_key(id)
    }
}
