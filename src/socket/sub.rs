//! SUB: receives, from every publisher, the messages that match its
//! subscriptions; sends nothing but subscriptions.
//!
//! `subscribe(prefix)` / `unsubscribe(prefix)` (libzmq's `ZMQ_SUBSCRIBE`,
//! `ZMQ_UNSUBSCRIBE`; the empty prefix matches everything). Nothing arrives
//! before the first subscription. The subscriptions are re-sent to a
//! publisher after a reconnect. The routing is [`super::xsub`]'s, with
//! filtering on.

use super::xsub::XSub;

/// A SUB socket's state.
pub(super) fn new() -> XSub {
    XSub::new(true)
}
