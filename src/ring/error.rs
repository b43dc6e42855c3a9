//! The ring's error types. Every failed push hands the item (or the whole
//! batch iterator, untouched) back to the caller.

use std::fmt;

/// The requested capacity is not usable: zero, not a power of two, or larger
/// than [`MAX_CAPACITY`](super::MAX_CAPACITY) (or the slot array could not be
/// allocated). Capacities are never rounded. A misuse of the API.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CapacityError {
    pub(crate) requested: usize,
    pub(crate) reason: &'static str,
}

impl CapacityError {
    /// The capacity that was asked for.
    pub fn requested(&self) -> usize {
        self.requested
    }

    /// Why it was refused.
    pub fn reason(&self) -> &'static str {
        self.reason
    }
}

impl fmt::Display for CapacityError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid ring capacity {}: {}",
            self.requested, self.reason
        )
    }
}

impl std::error::Error for CapacityError {}

/// Why a push did not happen; the value (an item, or a batch's iterator with
/// nothing taken from it) is handed back.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum PushError<T> {
    /// There is not enough free room now (for a batch: for all of it).
    Full(T),
    /// The consumer has been dropped; nothing will ever be read again.
    Disconnected(T),
}

impl<T> PushError<T> {
    /// Gives the value back.
    pub fn into_inner(self) -> T {
        match self {
            PushError::Full(v) | PushError::Disconnected(v) => v,
        }
    }

    /// True for [`PushError::Full`].
    pub fn is_full(&self) -> bool {
        matches!(self, PushError::Full(_))
    }

    /// True for [`PushError::Disconnected`].
    pub fn is_disconnected(&self) -> bool {
        matches!(self, PushError::Disconnected(_))
    }
}

impl<T> fmt::Debug for PushError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PushError::Full(_) => f.write_str("Full(..)"),
            PushError::Disconnected(_) => f.write_str("Disconnected(..)"),
        }
    }
}

impl<T> fmt::Display for PushError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PushError::Full(_) => f.write_str("ring is full"),
            PushError::Disconnected(_) => f.write_str("ring consumer is gone"),
        }
    }
}

impl<T> std::error::Error for PushError<T> {}

/// Why a bounded push did not happen; the value is handed back.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum PushTimeoutError<T> {
    /// No room appeared before the timeout.
    Timeout(T),
    /// The consumer has been dropped.
    Disconnected(T),
}

impl<T> PushTimeoutError<T> {
    /// Gives the value back.
    pub fn into_inner(self) -> T {
        match self {
            PushTimeoutError::Timeout(v) | PushTimeoutError::Disconnected(v) => v,
        }
    }
}

impl<T> fmt::Debug for PushTimeoutError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PushTimeoutError::Timeout(_) => f.write_str("Timeout(..)"),
            PushTimeoutError::Disconnected(_) => f.write_str("Disconnected(..)"),
        }
    }
}

impl<T> fmt::Display for PushTimeoutError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PushTimeoutError::Timeout(_) => f.write_str("timed out waiting for room in the ring"),
            PushTimeoutError::Disconnected(_) => f.write_str("ring consumer is gone"),
        }
    }
}

impl<T> std::error::Error for PushTimeoutError<T> {}

/// Why a pop returned nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PopError {
    /// Nothing is published now; producers are still alive.
    Empty,
    /// Every producer is gone and the ring has been drained.
    Disconnected,
}

impl fmt::Display for PopError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PopError::Empty => f.write_str("ring is empty"),
            PopError::Disconnected => f.write_str("ring is empty and every producer is gone"),
        }
    }
}

impl std::error::Error for PopError {}

/// Why a bounded pop returned nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PopTimeoutError {
    /// Nothing arrived before the timeout.
    Timeout,
    /// Every producer is gone and the ring has been drained.
    Disconnected,
}

impl fmt::Display for PopTimeoutError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PopTimeoutError::Timeout => f.write_str("timed out waiting for an item"),
            PopTimeoutError::Disconnected => {
                f.write_str("ring is empty and every producer is gone")
            }
        }
    }
}

impl std::error::Error for PopTimeoutError {}
