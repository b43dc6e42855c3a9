//! DEALER: round robin out (load balancing over the peers with room),
//! fair-queued in. At every peer's high-water mark a send waits: DEALER never
//! drops (RFC 28). No envelope handling: the application sees and writes
//! every frame.

use super::pipes::Pipes;
use crate::pipe::Payload;

/// Routes one message: load balancing over the pipes.
pub(super) fn send(pipes: &mut Pipes, payload: Payload, immediate: bool) -> Result<(), Payload> {
    pipes.send_lb(payload, immediate).map(|_| ())
}
