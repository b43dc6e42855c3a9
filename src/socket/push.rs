//! PUSH: sends round robin to the peers that have room; never receives.
//!
//! At the high-water mark of every peer a send waits (or returns
//! `WouldBlock` / `Timeout`): PUSH never drops a message (RFC 30).

use super::pipes::Pipes;
use crate::pipe::Payload;

/// Routes one message: load balancing over the pipes.
pub(super) fn send(pipes: &mut Pipes, payload: Payload, immediate: bool) -> Result<(), Payload> {
    pipes.send_lb(payload, immediate).map(|_| ())
}
