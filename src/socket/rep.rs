//! REP: receives a request (fair-queued), keeps its envelope (every frame up
//! to and including the empty delimiter: routing ids added by ROUTERs on the
//! way, and REQ's delimiter), and sends the reply back to the requester with
//! that envelope in front. Strict alternation: receiving twice or replying
//! without a request is [`Error::WrongState`]. A reply to a peer that is gone
//! or at its high-water mark is dropped silently, as libzmq does. Requests
//! without a delimiter are dropped.

use super::pipes::Pipes;
use crate::error::Error;
use crate::msg::Msg;
use crate::pipe::{Payload, PipeId};

/// A REP socket's state.
#[derive(Default)]
pub(super) struct Rep {
    /// The request being answered: its pipe and envelope.
    pending: Option<(PipeId, Vec<Msg>)>,
}

impl Rep {
    /// Whether a send is allowed now.
    pub(super) fn check_send(&self) -> Result<(), Error> {
        if self.pending.is_none() {
            return Err(Error::WrongState(
                "a REP socket must receive a request before replying",
            ));
        }
        Ok(())
    }

    /// Whether a receive is allowed now.
    pub(super) fn check_recv(&self) -> Result<(), Error> {
        if self.pending.is_some() {
            return Err(Error::WrongState(
                "a REP socket must send the reply before receiving again",
            ));
        }
        Ok(())
    }

    /// Takes a received request: its body, the envelope kept for the reply.
    pub(super) fn deliver(&mut self, pipe: PipeId, payload: Payload) -> Option<Payload> {
        let mut frames = payload.into_frames();
        let delim = frames.iter().position(|f| f.is_empty())?;
        let body = frames.split_off(delim + 1);
        if body.is_empty() {
            return None;
        }
        self.pending = Some((pipe, frames));
        Some(Payload::from_frames(body))
    }

    /// Sends the reply to the requester.
    pub(super) fn send(&mut self, pipes: &mut Pipes, payload: Payload) {
        let Some((pipe, mut frames)) = self.pending.take() else {
            return;
        };
        match payload {
            Payload::One(m) => frames.push(m),
            Payload::Multi(v) => frames.extend(v),
        }
        let _ = pipes.write_to(pipe, Payload::from_frames(frames));
    }
}
