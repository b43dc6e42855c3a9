//! Disruptor-style ring queues: the only channel between threads in ringmq.
//!
//! This module owns the bounded, lock-free rings that every other part of the
//! library hands items through (socket pipes, the reactor's mailbox, the
//! Storm worker path):
//!
//! * a preallocated power-of-two array of slots addressed by `u64`
//!   sequences, with the producer and consumer cursors on separate cache
//!   lines and each side caching the other's position;
//! * single-producer ([`spsc`]) and multi-producer ([`mpsc`]) variants, both
//!   single-consumer; multi-producer pushes claim their slots with one
//!   compare-and-swap and mark each slot published, Disruptor-style;
//! * batch append ([`Producer::try_push_batch`], [`Producer::claim`]) and
//!   batch consume ([`Consumer::try_pop_batch`]): a batch costs one publish
//!   and one release, not one per item;
//! * per-ring [`WaitStrategy`] (spin, yield, park) with try, blocking and
//!   timeout variants on both sides;
//! * wake-ups only on announced sleep ([`Consumer::prepare_sleep`],
//!   [`Producer::register_space_waiter`]): no syscall per item, and with
//!   [`Builder::asymmetric_wakeups`] no fence per item either (the sleeping
//!   side pays a process-wide barrier instead);
//! * single-producer writes prefetch their slots' cache lines about 1 KiB
//!   ahead, so a producer that publishes item by item does not stall on
//!   each line coming back from the consumer's core;
//! * disconnection both ways, and metrics through [`RingStats`];
//! * beside the rings, [`latest`]: a one-value channel whose writer
//!   overwrites what the reader has not taken (conflating queues).
//!
//! It must not do I/O or allocate on the hot path (allocation happens at
//! construction and when a waiter registers). It is one of the three modules
//! allowed `unsafe`; every block says why it is sound, the memory orderings
//! are documented where they are used, and the module is model-checked with
//! loom (`tests/loom_ring.rs`) and run under miri.
//!
//! ```
//! use std::thread;
//!
//! let (mut tx, mut rx) = ringmq::ring::spsc::<u64>(1024).unwrap();
//! let producer = thread::spawn(move || {
//!     for chunk in (0..10_000u64).collect::<Vec<_>>().chunks(64) {
//!         tx.push_batch(chunk.iter().copied()).unwrap();
//!     }
//! });
//! let mut sum = 0;
//! while let Ok(batch) = rx.pop_batch(256) {
//!     sum += batch.sum::<u64>();
//! }
//! producer.join().unwrap();
//! assert_eq!(sum, (0..10_000u64).sum());
//! ```

mod barrier;
mod consumer;
mod error;
mod latest;
mod pad;
mod producer;
mod shared;
mod stats;
mod wait;

#[cfg(test)]
mod tests;

pub use consumer::{Batch, Consumer};
pub use error::{CapacityError, PopError, PopTimeoutError, PushError, PushTimeoutError};
pub use latest::{latest, LatestReader, LatestWriter};
pub use producer::{MpProducer, Producer, Vacant, WriteClaim};
pub use stats::RingStats;

/// The barrier of a sleep announced on many rings at once (see
/// [`Consumer::announce_sleep`]): a full fence, and on Linux, where rings
/// run asymmetric wake-ups, the process-wide barrier those need. Returns
/// false if that barrier failed; the caller must then not sleep on an
/// asymmetric ring (it polls instead).
pub fn sleep_barrier() -> bool {
    barrier::heavy(barrier::asymmetric_available())
}

use shared::Ring;

/// The largest capacity a ring accepts (2^30 slots).
pub const MAX_CAPACITY: usize = 1 << 30;

/// How a blocked push or pop waits. Chosen per ring with
/// [`Builder::wait_strategy`].
///
/// Only [`Park`](WaitStrategy::Park) rings (the default) run the wake-up
/// handshakes that let a side sleep without losing a wake-up: each publish
/// and each release then costs one `SeqCst` fence and one load (or only the
/// load, with [`Builder::asymmetric_wakeups`]). `BusySpin`
/// and `Yield` rings are for threads that never sleep on the ring: they skip
/// that fence (a publish is one release store, as in a spinning Disruptor),
/// and in exchange [`Consumer::prepare_sleep`] always returns false and
/// [`Producer::register_space_waiter`] always returns false (callers keep
/// polling). Use `Park` for anything driven by an event loop.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum WaitStrategy {
    /// Spin on the CPU: lowest latency, burns a core while waiting.
    BusySpin,
    /// Spin briefly, then `thread::yield_now` in a loop.
    Yield,
    /// Spin briefly, then park the thread until the other side wakes it
    /// (through the sleep-announcement protocol): no CPU while idle.
    #[default]
    Park,
}

/// Something that wakes a waiter: a thread unpark, an event loop's waker.
/// Called at most once per registration or sleep announcement, from the
/// thread that made the awaited transition.
///
/// Closures implement it:
///
/// ```
/// use ringmq::ring::Notify;
/// let n: std::sync::Arc<dyn Notify> = std::sync::Arc::new(|| println!("wake"));
/// n.notify();
/// ```
pub trait Notify: Send + Sync {
    /// Wakes the waiter. Must not block for long, and must not push to or
    /// pop from the ring that calls it.
    fn notify(&self);
}

impl<F: Fn() + Send + Sync> Notify for F {
    fn notify(&self) {
        self()
    }
}

/// Configures a ring: capacity (a power of two) and wait strategy.
///
/// ```
/// use ringmq::ring::{Builder, WaitStrategy};
/// let (mut tx, mut rx) = Builder::new(256)
///     .wait_strategy(WaitStrategy::BusySpin)
///     .spsc::<u32>()
///     .unwrap();
/// tx.push(7).unwrap();
/// assert_eq!(rx.pop(), Ok(7));
/// assert!(Builder::new(100).spsc::<u32>().is_err()); // not a power of two
/// ```
#[derive(Clone, Copy, Debug)]
pub struct Builder {
    capacity: usize,
    limit: Option<usize>,
    wait: WaitStrategy,
    asymmetric: bool,
}

impl Builder {
    /// A ring of `capacity` slots (checked when the ring is built) with the
    /// default [`WaitStrategy::Park`].
    pub fn new(capacity: usize) -> Self {
        Builder {
            capacity,
            limit: None,
            wait: WaitStrategy::default(),
            asymmetric: false,
        }
    }

    /// Holds at most `limit` items at a time (`1..=capacity`, checked when
    /// the ring is built) over the `capacity` slots: a bound that is not a
    /// power of two, such as a high-water mark of 1000, kept exactly.
    /// [`Producer::capacity`] and the free-slot counts then report the
    /// limit.
    ///
    /// ```
    /// use ringmq::ring::{Builder, PushError};
    /// let (mut tx, _rx) = Builder::new(4).limit(3).spsc::<u8>().unwrap();
    /// assert_eq!(tx.capacity(), 3);
    /// tx.try_push_batch(0..3).unwrap();
    /// assert!(matches!(tx.try_push(3), Err(PushError::Full(3))));
    /// assert!(Builder::new(4).limit(5).spsc::<u8>().is_err());
    /// ```
    pub fn limit(self, limit: usize) -> Self {
        Builder {
            limit: Some(limit),
            ..self
        }
    }

    /// Sets how blocked pushes and pops wait.
    pub fn wait_strategy(self, w: WaitStrategy) -> Self {
        Builder { wait: w, ..self }
    }

    /// Moves the cost of the wake-up handshakes of a
    /// [`Park`](WaitStrategy::Park) ring from every publish and release to
    /// the rare moments when a side goes to sleep.
    ///
    /// By default each publish and each release on a `Park` ring runs a
    /// `SeqCst` fence, which on x86 waits until the cursor store has reached
    /// the other core. With this set they run no fence at all, and instead
    /// each sleep announcement ([`Consumer::prepare_sleep`], a blocking pop
    /// about to park) and each space-waiter registration (a blocking push,
    /// [`Producer::register_space_waiter`]) runs a process-wide barrier:
    /// Linux `membarrier`, about a microsecond plus an interrupt of the
    /// process's other running threads. Choose it for rings whose sides
    /// spin or poll before they sleep, so sleeping is rare compared with
    /// publishing. Where the kernel refuses `membarrier` (not Linux, a
    /// kernel before 4.14, a seccomp filter), the ring keeps the fences;
    /// behaviour is the same either way.
    ///
    /// ```
    /// use ringmq::ring::Builder;
    /// let (mut tx, mut rx) = Builder::new(64).asymmetric_wakeups(true).spsc::<u32>().unwrap();
    /// assert!(rx.prepare_sleep()); // empty: safe to sleep
    /// tx.push(1).unwrap();
    /// assert!(!rx.prepare_sleep());
    /// assert_eq!(rx.pop(), Ok(1));
    /// ```
    pub fn asymmetric_wakeups(self, on: bool) -> Self {
        Builder {
            asymmetric: on,
            ..self
        }
    }

    /// Builds a single-producer, single-consumer ring.
    pub fn spsc<T: Send>(self) -> Result<(Producer<T>, Consumer<T>), CapacityError> {
        let ring = Ring::new(self.capacity, self.limit, false, self.wait, self.asymmetric)?;
        Ok((Producer::new(ring.clone()), Consumer::new(ring)))
    }

    /// Builds a multi-producer, single-consumer ring.
    pub fn mpsc<T: Send>(self) -> Result<(MpProducer<T>, Consumer<T>), CapacityError> {
        let ring = Ring::new(self.capacity, self.limit, true, self.wait, self.asymmetric)?;
        Ok((MpProducer::new(ring.clone()), Consumer::new(ring)))
    }
}

/// A single-producer, single-consumer ring of `capacity` slots (a power of
/// two, never rounded) with the [`WaitStrategy::Park`] strategy.
pub fn spsc<T: Send>(capacity: usize) -> Result<(Producer<T>, Consumer<T>), CapacityError> {
    Builder::new(capacity).spsc()
}

/// A multi-producer, single-consumer ring of `capacity` slots (a power of
/// two, never rounded) with the [`WaitStrategy::Park`] strategy.
pub fn mpsc<T: Send>(capacity: usize) -> Result<(MpProducer<T>, Consumer<T>), CapacityError> {
    Builder::new(capacity).mpsc()
}
