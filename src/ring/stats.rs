//! [`RingStats`], a read-only metrics handle.

use std::fmt;

use super::shared::Core;
use crate::sync::{Arc, Ordering};

/// A cheap, cloneable, thread-safe view of a ring's counters for metrics
/// threads. The counters are the ring's own sequences, so reading them costs
/// two loads and keeping them costs nothing.
///
/// ```
/// let (mut tx, mut rx) = ringmq::ring::spsc::<u8>(16).unwrap();
/// let stats = tx.stats();
/// tx.try_push_batch([1, 2, 3].into_iter()).unwrap();
/// rx.try_pop().unwrap();
/// assert_eq!((stats.total_pushed(), stats.total_popped(), stats.len()), (3, 1, 2));
/// ```
#[derive(Clone)]
pub struct RingStats {
    core: Arc<Core>,
}

impl RingStats {
    pub(crate) fn new(core: Arc<Core>) -> Self {
        RingStats { core }
    }

    /// Items in the ring now (pushed or claimed, not yet released).
    pub fn len(&self) -> usize {
        self.core.len()
    }

    /// True if the ring holds no item.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The ring's capacity.
    pub fn capacity(&self) -> usize {
        self.core.capacity
    }

    /// Items pushed since the ring was made (for a multi-producer ring:
    /// slots claimed, which includes pushes still being written).
    pub fn total_pushed(&self) -> u64 {
        self.core.prod.tail.load(Ordering::Relaxed)
    }

    /// Items the consumer has taken and released since the ring was made.
    pub fn total_popped(&self) -> u64 {
        self.core.head.load(Ordering::Relaxed)
    }
}

impl fmt::Debug for RingStats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RingStats")
            .field("len", &self.len())
            .field("capacity", &self.capacity())
            .field("total_pushed", &self.total_pushed())
            .field("total_popped", &self.total_popped())
            .finish()
    }
}
