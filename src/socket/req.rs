//! REQ: sends a request (round robin, with an empty delimiter frame in
//! front), then receives exactly one reply, from the peer the request went
//! to; strict alternation (RFC 28).
//!
//! Sending twice is [`Error::WrongState`], unless `REQ_RELAXED` is set: then
//! a new request may be sent at any time and a late reply to an earlier one
//! is discarded (reliably so with `REQ_CORRELATE`, which puts a 4-byte
//! request id, in host byte order as libzmq writes it, before the
//! delimiter and drops replies carrying another id). Receiving before
//! sending is [`Error::WrongState`]. Replies without the delimiter, or from
//! another peer, are dropped.

use super::pipes::Pipes;
use super::Routed;
use crate::error::Error;
use crate::msg::Msg;
use crate::pipe::{Payload, PipeId};

/// A REQ socket's state.
pub(super) struct Req {
    /// The pipe the outstanding request went to.
    reply_pipe: Option<PipeId>,
    request_id: u32,
}

impl Req {
    pub(super) fn new() -> Req {
        Req {
            reply_pipe: None,
            request_id: super::random_u32(),
        }
    }

    /// Whether a send is allowed now.
    pub(super) fn check_send(&self, relaxed: bool) -> Result<(), Error> {
        if self.reply_pipe.is_some() && !relaxed {
            return Err(Error::WrongState(
                "a REQ socket must receive the reply before sending another request",
            ));
        }
        Ok(())
    }

    /// Whether a receive is allowed now.
    pub(super) fn check_recv(&self) -> Result<(), Error> {
        if self.reply_pipe.is_none() {
            return Err(Error::WrongState(
                "a REQ socket must send a request before receiving",
            ));
        }
        Ok(())
    }

    /// Sends a request with its envelope.
    pub(super) fn send(
        &mut self,
        pipes: &mut Pipes,
        payload: Payload,
        immediate: bool,
        correlate: bool,
    ) -> Routed {
        let id = self.request_id.wrapping_add(1);
        let mut frames = Vec::with_capacity(3);
        if correlate {
            frames.push(Msg::from_slice(&id.to_ne_bytes()).with_more(true));
        }
        frames.push(Msg::new().with_more(true));
        let envelope = frames.len();
        match payload {
            Payload::One(m) => frames.push(m),
            Payload::Multi(v) => frames.extend(v),
        }
        match pipes.send_lb(Payload::from_frames(frames), immediate) {
            Ok(pipe) => {
                self.reply_pipe = Some(pipe);
                self.request_id = id;
                Routed::Sent
            }
            Err(p) => {
                let body: Vec<Msg> = p.into_frames().into_iter().skip(envelope).collect();
                Routed::Full(Payload::from_frames(body))
            }
        }
    }

    /// Whether a message from `pipe` could be the reply (without taking it).
    pub(super) fn accepts(&self, pipe: PipeId) -> bool {
        self.reply_pipe == Some(pipe)
    }

    /// Takes a received message: the reply (envelope stripped), or `None`
    /// to drop it.
    pub(super) fn deliver(
        &mut self,
        pipe: PipeId,
        payload: Payload,
        correlate: bool,
    ) -> Option<Payload> {
        if self.reply_pipe != Some(pipe) {
            return None;
        }
        let frames = payload.into_frames();
        let mut it = frames.into_iter();
        if correlate {
            let id = it.next()?;
            if id[..] != self.request_id.to_ne_bytes() {
                return None;
            }
        }
        if !it.next()?.is_empty() {
            return None;
        }
        let body: Vec<Msg> = it.collect();
        if body.is_empty() {
            return None;
        }
        self.reply_pipe = None;
        Some(Payload::from_frames(body))
    }
}
