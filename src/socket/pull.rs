//! PULL: receives from all peers, fair-queued; never sends.
//!
//! Fair queueing comes from the socket's single in-ring: every peer's engine
//! appends whole messages to it as they arrive, so no peer can starve another
//! and the messages of one peer keep their order.
