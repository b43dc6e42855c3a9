//! PUB: publishes to the subscribers whose subscriptions match (filtering
//! happens here, at the publisher); never receives.
//!
//! A subscriber at its high-water mark misses the messages sent while it is
//! full: PUB drops for that subscriber alone and never blocks or slows the
//! others (RFC 29, as libzmq). The routing itself is [`super::xpub`]'s, with
//! the subscriptions kept from the application.

use super::xpub::XPub;

/// A PUB socket's state.
pub(super) fn new() -> XPub {
    XPub::new(true)
}
