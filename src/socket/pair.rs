//! PAIR: one peer, both directions (RFC 31).
//!
//! A second peer is refused while the first is attached. At the peer's
//! high-water mark a send waits, as PUSH does.

use super::pipes::Pipes;
use crate::pipe::Payload;

/// Routes one message to the single peer.
pub(super) fn send(pipes: &mut Pipes, payload: Payload, immediate: bool) -> Result<(), Payload> {
    pipes.send_lb(payload, immediate).map(|_| ())
}
