//! XPUB (and the engine of PUB): fan-out to the peers whose subscriptions
//! match, with the subscriptions themselves readable by the application.
//!
//! Peers' subscriptions arrive as messages `0x01 + topic` (subscribe) and
//! `0x00 + topic` (cancel) — the engine turns ZMTP 3.1 SUBSCRIBE/CANCEL
//! commands into that form, and inproc peers write it directly. They go into
//! a prefix [`Trie`] keyed by pipe (a set per topic, as libzmq's mtrie:
//! subscribing twice from one peer is one subscription). A send walks the
//! trie once with the message's first frame and writes a copy to each
//! matching pipe; a pipe at its high-water mark misses the message (it is
//! dropped for that subscriber only, the send never waits). With
//! `XPUB_NODROP` a send instead waits (or fails with `WouldBlock`) until
//! every matching subscriber has room. With `INVERT_MATCHING` a message goes
//! to the peers whose subscriptions do *not* match it instead.
//!
//! With `XPUB_MANUAL` an XPUB applies no subscription itself: it hands every
//! one to the application, which decides with `subscribe`/`unsubscribe`,
//! acting for the peer of the last message it received.
//!
//! XPUB hands the application a subscription the first time any peer makes
//! it, and a cancel when the last peer drops it (including peers that go
//! away) or when a peer cancels what it never subscribed to, as libzmq
//! does. With `XPUB_VERBOSE` every subscribe is passed on; with
//! `XPUB_VERBOSER` every cancel too, a peer's going away passing on one per
//! topic it held. Other messages from peers (an XSUB may send some) are
//! passed on as they are.

use std::collections::VecDeque;

use super::pipes::Pipes;
use super::trie::{Removal, Trie};
use super::Routed;
use crate::msg::Msg;
use crate::pipe::{Payload, PipeId};

/// The state of a PUB or XPUB socket.
#[derive(Default)]
pub(super) struct XPub {
    subs: Trie,
    /// PUB: subscriptions are only used for filtering, never read.
    is_pub: bool,
    /// Scratch list of matching pipes.
    matched: Vec<PipeId>,
    /// `XPUB_MANUAL`: the peer of the last message handed to the
    /// application, whom `subscribe`/`unsubscribe` act for.
    last_pipe: Option<PipeId>,
}

impl XPub {
    /// A PUB (`is_pub`) or XPUB socket's state.
    pub(super) fn new(is_pub: bool) -> XPub {
        XPub {
            is_pub,
            ..XPub::default()
        }
    }

    /// A message from a peer. With `manual` (XPUB only) subscriptions are
    /// all handed to the application and none is applied; `verbose` passes
    /// on every subscribe, `verbose_unsubs` every cancel.
    pub(super) fn on_msg(
        &mut self,
        pipe: PipeId,
        payload: Payload,
        (verbose, verbose_unsubs): (bool, bool),
        manual: bool,
        inbox: &mut VecDeque<(PipeId, Payload)>,
    ) {
        if manual && !self.is_pub {
            inbox.push_back((pipe, payload));
            return;
        }
        if let Payload::One(m) = &payload {
            if let Some((&kind @ (0 | 1), topic)) = m.split_first() {
                let pass = if kind == 1 {
                    let new = self.subs.add(topic, pipe, false);
                    new || verbose
                } else {
                    // Passed on unless other peers still hold the topic (a
                    // cancel of nothing is passed on too, as libzmq does).
                    self.subs.remove(topic, pipe, false) != Removal::Remain || verbose_unsubs
                };
                if pass && !self.is_pub {
                    inbox.push_back((pipe, payload));
                }
                return;
            }
        }
        if !self.is_pub {
            inbox.push_back((pipe, payload));
        }
    }

    /// A message from `pipe` was handed to the application.
    pub(super) fn delivered(&mut self, pipe: PipeId) {
        self.last_pipe = Some(pipe);
    }

    /// `XPUB_MANUAL`: subscribes (or unsubscribes) the peer of the last
    /// message received. False when there is none (or it has gone).
    pub(super) fn manual(&mut self, subscribe: bool, topic: &[u8]) -> bool {
        let Some(pipe) = self.last_pipe else {
            return false;
        };
        if subscribe {
            self.subs.add(topic, pipe, false);
        } else {
            self.subs.rm(topic, pipe, false);
        }
        true
    }

    /// A peer went away: its subscriptions go, and XPUB reports the topics
    /// nobody subscribes to any more (with `verbose_unsubs`, every topic the
    /// peer held).
    pub(super) fn on_detach(
        &mut self,
        pipe: PipeId,
        verbose_unsubs: bool,
        inbox: &mut VecDeque<(PipeId, Payload)>,
    ) {
        if self.last_pipe == Some(pipe) {
            self.last_pipe = None;
        }
        let is_pub = self.is_pub;
        self.subs.rm_key(pipe, |topic, last| {
            if !is_pub && (last || verbose_unsubs) {
                let mut v = Vec::with_capacity(topic.len() + 1);
                v.push(0);
                v.extend_from_slice(topic);
                inbox.push_back((pipe, Payload::One(Msg::from(v))));
            }
        });
    }

    /// Sends to every matching subscriber (with `invert`, to every peer
    /// that does not match), dropping for those that are full; with
    /// `nodrop` (`ZMQ_XPUB_NODROP`), sends to none of them while one is
    /// full, and says which.
    pub(super) fn send(
        &mut self,
        pipes: &mut Pipes,
        payload: Payload,
        nodrop: bool,
        invert: bool,
    ) -> Routed {
        if self.subs.is_empty() && !invert {
            return Routed::Sent;
        }
        self.matched.clear();
        let matched = &mut self.matched;
        self.subs.matches(payload.first(), |k| matched.push(k));
        if self.matched.is_empty() && !invert {
            return Routed::Sent;
        }
        self.matched.sort_unstable();
        self.matched.dedup();
        let matched = &self.matched;
        let target = |id: PipeId| matched.binary_search(&id).is_ok() != invert;
        if nodrop {
            // Room only grows while this thread is not writing, so every
            // pipe found with room here still has it below.
            let full = pipes
                .iter()
                .find(|(id, e)| target(*id) && !e.writer.has_room())
                .map(|(id, _)| id);
            if let Some(full) = full {
                return Routed::FullAt(full, payload);
            }
        }
        pipes.send_dist(payload, |id, _| target(id));
        Routed::Sent
    }
}
