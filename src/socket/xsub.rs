//! XSUB (and the engine of SUB): receives from every publisher, and sends
//! subscriptions upstream.
//!
//! The application (XSUB) or `subscribe`/`unsubscribe` (SUB) writes
//! subscriptions as messages `0x01 + topic` / `0x00 + topic`; they are
//! counted locally (subscribing twice needs two unsubscribes), and sent to
//! every publisher: a subscribe each time, a cancel when the count drops to
//! zero. Each engine turns them into SUBSCRIBE/CANCEL commands for ZMTP 3.1
//! peers (the message form stays for 3.0 peers). A new or reconnected
//! publisher gets the whole current set: a connect pipe when it is made
//! (delivered on its first connection) and again after each reconnect, an
//! accepted one when it attaches. Nothing is written to a connect pipe while
//! its connection is lost (if a connection drops with a subscription still
//! queued, the publisher may see it twice: harmless, as a publisher keeps
//! one subscription per topic and peer). Other messages an XSUB sends go to
//! every publisher the same way.
//!
//! SUB re-filters what arrives against its own subscriptions (a publisher
//! may not filter, or may still be sending what was cancelled); XSUB passes
//! everything.

use std::collections::VecDeque;

use super::pipes::Pipes;
use super::trie::Trie;
use crate::msg::Msg;
use crate::pipe::{Payload, PipeId};

/// The state of a SUB or XSUB socket.
#[derive(Default)]
pub(super) struct XSub {
    subs: Trie,
    /// SUB: drop what matches no subscription.
    filter: bool,
}

fn sub_msg(kind: u8, topic: &[u8]) -> Msg {
    let mut v = Vec::with_capacity(topic.len() + 1);
    v.push(kind);
    v.extend_from_slice(topic);
    Msg::from(v)
}

impl XSub {
    /// A SUB (`filter`) or XSUB socket's state.
    pub(super) fn new(filter: bool) -> XSub {
        XSub {
            filter,
            ..XSub::default()
        }
    }

    /// A message from a publisher (with `invert`, a SUB keeps what matches
    /// none of its subscriptions instead).
    pub(super) fn on_msg(
        &mut self,
        pipe: PipeId,
        payload: Payload,
        invert: bool,
        inbox: &mut VecDeque<(PipeId, Payload)>,
    ) {
        if !self.filter || self.subs.matches_any(payload.first()) != invert {
            inbox.push_back((pipe, payload));
        }
    }

    /// A publisher (re)connected: send it every current subscription.
    pub(super) fn on_attach(&mut self, pipes: &mut Pipes, pipe: PipeId) {
        let mut out = Vec::new();
        self.subs
            .for_each_prefix(|topic| out.push(Payload::One(sub_msg(1, topic))));
        for p in out {
            // A publisher's pipe holds only subscriptions; if it is full the
            // replay is cut short, as libzmq's is.
            if pipes.write_to(pipe, p).is_err() {
                break;
            }
        }
    }

    /// Sends a message upstream: subscriptions update the local set first.
    pub(super) fn send(&mut self, pipes: &mut Pipes, payload: Payload) {
        if let Payload::One(m) = &payload {
            match m.split_first() {
                Some((1, topic)) => {
                    self.subs.add(topic, 0, true);
                }
                // Only the last unsubscribe of a topic goes upstream.
                Some((0, topic)) if !self.subs.rm(topic, 0, true) => return,
                _ => {}
            }
        }
        // Not to a connect pipe whose connection was lost: it gets the
        // whole set when it reconnects. (A pipe not connected yet queues
        // them for its first connection.)
        pipes.send_dist(payload, |_, e| e.connected || !e.was_up);
    }

    /// SUB's `subscribe`.
    pub(super) fn subscribe(&mut self, pipes: &mut Pipes, topic: &[u8]) {
        self.send(pipes, Payload::One(sub_msg(1, topic)));
    }

    /// SUB's `unsubscribe`.
    pub(super) fn unsubscribe(&mut self, pipes: &mut Pipes, topic: &[u8]) {
        self.send(pipes, Payload::One(sub_msg(0, topic)));
    }
}
