//! [`RecvPool`], a bounded pool of large receive buffers that return to it
//! when the message made from them is dropped.
//!
//! An I/O thread takes a buffer of at least a frame's size from its pool
//! ([`RecvPool::take`]), reads the frame's body straight into it and turns
//! it into the message's [`Bytes`] without a copy ([`PoolBuf::freeze`]).
//! When the last reference to those bytes is dropped, on whatever thread,
//! the buffer goes back to the pool through a multi-producer ring (rings are
//! the crate's only channel between threads), already initialised: the next
//! frame is read into it without zero-filling it first and without the
//! kernel having to fault in fresh pages.
//!
//! Buffers come in power-of-two size classes from [`MIN_CLASS`] to
//! [`MAX_CLASS`]; larger requests get a buffer of their own that is freed as
//! usual. The idle buffers of all classes together stay under the pool's
//! limit (by default [`DEFAULT_POOL_BYTES`]), and each class's ring has a
//! fixed capacity: a buffer coming back over the limit, to a full ring, or
//! to a pool that has been dropped is simply freed. Buffers in use (as
//! messages) are not the pool's: they are bounded by the queues that hold
//! them.
//!
//! The pool does no I/O and holds no locks; the only shared state is the
//! return rings, one count of idle bytes and the reference counts.

use std::fmt;

use bytes::Bytes;

use crate::ring::{Builder, Consumer, MpProducer, WaitStrategy};
use crate::sync::{AtomicUsize, Ordering, StdArc};

/// The smallest size class, in bytes.
pub(crate) const MIN_CLASS: usize = 32 * 1024;
/// The largest size class, in bytes; larger buffers are not pooled.
pub(crate) const MAX_CLASS: usize = 4 * 1024 * 1024;
/// The number of size classes (`MIN_CLASS << i` for `i` below it).
const CLASSES: usize = (MAX_CLASS / MIN_CLASS).trailing_zeros() as usize + 1;
/// The default number of bytes a pool keeps for reuse, over all classes.
pub(crate) const DEFAULT_POOL_BYTES: usize = 32 * 1024 * 1024;
/// The most buffers one class keeps.
const MAX_CLASS_SLOTS: usize = 1024;

/// What every buffer of a pool shares: the bound on idle bytes.
struct Shared {
    /// Bytes of the buffers waiting in the rings, plus those of returns in
    /// progress (reserved before the push, so it never exceeds `limit`).
    idle: AtomicUsize,
    limit: usize,
}

/// The return side of one size class, shared by every buffer taken from it.
struct Home {
    tx: MpProducer<Box<[u8]>>,
    shared: StdArc<Shared>,
}

/// One size class: the buffers waiting for reuse, and the way back.
struct Class {
    /// Buffers returned and not yet moved to `hot`.
    free: Consumer<Box<[u8]>>,
    /// Returned buffers, the most recently returned last: taken from the
    /// end, so the buffer reused is the one most likely still in cache.
    hot: Vec<Box<[u8]>>,
    home: StdArc<Home>,
}

/// A bounded pool of large receive buffers, owned by one thread (the one
/// that takes buffers); buffers may be returned from any thread.
pub(crate) struct RecvPool {
    classes: [Option<Class>; CLASSES],
    shared: StdArc<Shared>,
    /// Buffers allocated because the class had none to reuse.
    fresh: u64,
    /// Buffers handed out again after coming back.
    reused: u64,
}

impl fmt::Debug for RecvPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecvPool")
            .field("cached", &self.cached())
            .field("idle_bytes", &self.shared.idle.load(Ordering::Relaxed))
            .field("limit", &self.shared.limit)
            .field("fresh", &self.fresh)
            .field("reused", &self.reused)
            .finish()
    }
}

impl Default for RecvPool {
    fn default() -> Self {
        RecvPool::new()
    }
}

impl RecvPool {
    /// A pool that keeps up to [`DEFAULT_POOL_BYTES`] of buffers for reuse.
    /// Nothing is allocated until a buffer is taken.
    pub(crate) fn new() -> RecvPool {
        RecvPool::with_limit(DEFAULT_POOL_BYTES)
    }

    /// A pool that keeps up to `bytes` of buffers for reuse, over all
    /// classes (a class keeps at most `MAX_CLASS_SLOTS` buffers).
    pub(crate) fn with_limit(bytes: usize) -> RecvPool {
        RecvPool {
            classes: std::array::from_fn(|_| None),
            shared: StdArc::new(Shared {
                idle: AtomicUsize::new(0),
                limit: bytes,
            }),
            fresh: 0,
            reused: 0,
        }
    }

    /// Whether a buffer of `len` bytes would come from a size class (and go
    /// back to it).
    pub(crate) fn is_pooled(len: usize) -> bool {
        len <= MAX_CLASS
    }

    /// A buffer of exactly `len` initialised bytes (their contents are
    /// unspecified: zeros or an earlier message's bytes). It comes from the
    /// smallest class that holds `len` when one has a buffer to reuse, else
    /// it is allocated (zeroed); above [`MAX_CLASS`] it is allocated to size
    /// and never pooled.
    pub(crate) fn take(&mut self, len: usize) -> PoolBuf {
        let Some(i) = class_index(len) else {
            self.fresh += 1;
            return PoolBuf {
                buf: vec![0u8; len].into_boxed_slice(),
                len,
                home: None,
            };
        };
        let shared = &self.shared;
        let class = self.classes[i].get_or_insert_with(|| {
            let (tx, free) = Builder::new(class_slots(i, shared.limit))
                .wait_strategy(WaitStrategy::BusySpin)
                .mpsc()
                .expect("a power-of-two capacity below the ring's maximum");
            Class {
                free,
                hot: Vec::new(),
                home: StdArc::new(Home {
                    tx,
                    shared: shared.clone(),
                }),
            }
        });
        while let Ok(buf) = class.free.try_pop() {
            class.hot.push(buf);
        }
        let buf = match class.hot.pop() {
            Some(buf) => {
                // Relaxed: the count is only a bound; the buffer itself came
                // through the ring.
                shared.idle.fetch_sub(buf.len(), Ordering::Relaxed);
                self.reused += 1;
                buf
            }
            None => {
                self.fresh += 1;
                vec![0u8; class_size(i)].into_boxed_slice()
            }
        };
        PoolBuf {
            buf,
            len,
            home: Some(class.home.clone()),
        }
    }

    /// Buffers waiting in the pool for reuse, over all classes.
    pub(crate) fn cached(&self) -> usize {
        self.classes
            .iter()
            .flatten()
            .map(|c| c.free.len() + c.hot.len())
            .sum()
    }

    /// Bytes of the buffers waiting in the pool for reuse.
    #[cfg(test)]
    pub(crate) fn idle_bytes(&self) -> usize {
        self.shared.idle.load(Ordering::Relaxed)
    }

    /// How many buffers were allocated because none could be reused.
    #[cfg(test)]
    pub(crate) fn fresh(&self) -> u64 {
        self.fresh
    }

    /// How many buffers were reused.
    #[cfg(test)]
    pub(crate) fn reused(&self) -> u64 {
        self.reused
    }
}

/// How many buffers class `i` keeps at most in a pool of `limit` bytes: the
/// ring's capacity, a power of two.
fn class_slots(i: usize, limit: usize) -> usize {
    let n = (limit / class_size(i)).clamp(1, MAX_CLASS_SLOTS);
    1 << (usize::BITS - 1 - n.leading_zeros())
}

/// The size of class `i`.
fn class_size(i: usize) -> usize {
    MIN_CLASS << i
}

/// The class that holds `len` bytes, `None` above [`MAX_CLASS`].
fn class_index(len: usize) -> Option<usize> {
    if len > MAX_CLASS {
        return None;
    }
    let size = len.max(MIN_CLASS).next_power_of_two();
    Some((size / MIN_CLASS).trailing_zeros() as usize)
}

/// A buffer from a [`RecvPool`]: `len` initialised bytes to read into, then
/// frozen into [`Bytes`]. Dropped (frozen or not), it goes back to its pool
/// if its class has room there, else it is freed.
pub(crate) struct PoolBuf {
    buf: Box<[u8]>,
    len: usize,
    home: Option<StdArc<Home>>,
}

impl fmt::Debug for PoolBuf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PoolBuf")
            .field("len", &self.len)
            .field("capacity", &self.buf.len())
            .field("pooled", &self.home.is_some())
            .finish()
    }
}

impl PoolBuf {
    /// The buffer's length (what was asked of [`RecvPool::take`]).
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// The buffer's bytes, to read into.
    pub(crate) fn as_mut_slice(&mut self) -> &mut [u8] {
        &mut self.buf[..self.len]
    }

    /// The buffer as `Bytes`, without a copy. The buffer returns to its pool
    /// when the last clone or slice of the result is dropped.
    pub(crate) fn freeze(self) -> Bytes {
        Bytes::from_owner(self)
    }
}

impl AsRef<[u8]> for PoolBuf {
    fn as_ref(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

impl Drop for PoolBuf {
    fn drop(&mut self) {
        let Some(home) = self.home.take() else {
            return;
        };
        // Room under the pool's limit is reserved first, so the idle bytes
        // never exceed it. Over the limit, with the class's ring full, or
        // with the pool gone, the buffer is freed here.
        let size = self.buf.len();
        let shared = &home.shared;
        // Relaxed: the count is only a bound; the buffer itself goes
        // through the ring.
        if shared.idle.fetch_add(size, Ordering::Relaxed) + size > shared.limit {
            shared.idle.fetch_sub(size, Ordering::Relaxed);
            return;
        }
        if home.tx.try_push(std::mem::take(&mut self.buf)).is_err() {
            shared.idle.fetch_sub(size, Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::msg::Msg;

    #[test]
    fn classes_cover_the_range() {
        assert_eq!(CLASSES, 8);
        assert_eq!(class_index(1), Some(0));
        assert_eq!(class_index(MIN_CLASS), Some(0));
        assert_eq!(class_index(MIN_CLASS + 1), Some(1));
        assert_eq!(class_index(65536), Some(1));
        assert_eq!(class_index(MAX_CLASS), Some(CLASSES - 1));
        assert_eq!(class_index(MAX_CLASS + 1), None);
        assert_eq!(class_size(CLASSES - 1), MAX_CLASS);
        assert_eq!(class_slots(0, DEFAULT_POOL_BYTES), 1024);
        assert_eq!(class_slots(1, DEFAULT_POOL_BYTES), 512);
        assert_eq!(class_slots(CLASSES - 1, DEFAULT_POOL_BYTES), 8);
        assert_eq!(class_slots(1, 3 * 65536), 2);
        assert_eq!(class_slots(CLASSES - 1, 1), 1);
    }

    #[test]
    fn buffers_come_back_and_are_reused() {
        let mut pool = RecvPool::new();
        let mut b = pool.take(65536);
        assert_eq!(b.len(), 65536);
        b.as_mut_slice().fill(7);
        let addr = b.as_ref().as_ptr();
        let bytes = b.freeze();
        assert_eq!(bytes.len(), 65536);
        assert_eq!(bytes.as_ptr(), addr, "frozen without a copy");
        let half = bytes.slice(100..200);
        drop(bytes);
        assert_eq!(pool.cached(), 0, "a slice still holds the buffer");
        drop(half);
        assert_eq!(pool.cached(), 1);
        assert_eq!(pool.idle_bytes(), 65536);
        // Same class, smaller length: the same memory, contents as left.
        let b = pool.take(40_000);
        assert_eq!(b.len(), 40_000);
        assert_eq!(b.as_ref().as_ptr(), addr);
        assert!(b.as_ref().iter().all(|&x| x == 7));
        assert_eq!((pool.fresh(), pool.reused()), (1, 1));
        assert_eq!((pool.cached(), pool.idle_bytes()), (0, 0));
        drop(b);
        assert_eq!(pool.cached(), 1, "an unfrozen buffer comes back too");
    }

    #[test]
    fn the_last_buffer_returned_is_reused_first() {
        let mut pool = RecvPool::new();
        let a = pool.take(65536);
        let b = pool.take(65536);
        let c = pool.take(65536);
        let (pa, pb, pc) = (
            a.as_ref().as_ptr(),
            b.as_ref().as_ptr(),
            c.as_ref().as_ptr(),
        );
        drop(a);
        drop(b);
        let again_b = pool.take(65536);
        assert_eq!(again_b.as_ref().as_ptr(), pb);
        drop(c);
        let again_c = pool.take(65536);
        assert_eq!(again_c.as_ref().as_ptr(), pc);
        let again_a = pool.take(65536);
        assert_eq!(again_a.as_ref().as_ptr(), pa);
        assert_eq!((pool.fresh(), pool.reused()), (3, 3));
    }

    #[test]
    fn returns_from_other_threads() {
        let mut pool = RecvPool::new();
        let msgs: Vec<Msg> = (0..8u8)
            .map(|i| {
                let mut b = pool.take(MIN_CLASS + 1);
                b.as_mut_slice().fill(i);
                Msg::from(b.freeze())
            })
            .collect();
        std::thread::spawn(move || {
            for (i, m) in msgs.into_iter().enumerate() {
                assert_eq!(m.len(), MIN_CLASS + 1);
                assert!(m.iter().all(|&x| usize::from(x) == i));
            }
        })
        .join()
        .unwrap();
        assert_eq!(pool.cached(), 8);
        for _ in 0..8 {
            drop(pool.take(2 * MIN_CLASS));
        }
        assert_eq!((pool.fresh(), pool.reused()), (8, 8));
    }

    #[test]
    fn the_pool_keeps_at_most_its_limit() {
        let mut pool = RecvPool::with_limit(4 * 65536);
        let big: Vec<Bytes> = (0..10).map(|_| pool.take(65536).freeze()).collect();
        drop(big);
        assert_eq!((pool.cached(), pool.idle_bytes()), (4, 4 * 65536));
        // The limit is shared by the classes: no room left for small ones.
        let small: Vec<PoolBuf> = (0..20).map(|_| pool.take(100)).collect();
        drop(small);
        assert_eq!(pool.cached(), 4);
        // Once the large ones are taken again, small ones fill the room,
        // up to their ring's capacity.
        let big: Vec<PoolBuf> = (0..4).map(|_| pool.take(65536)).collect();
        assert_eq!((pool.cached(), pool.idle_bytes()), (0, 0));
        let small: Vec<PoolBuf> = (0..20).map(|_| pool.take(100)).collect();
        drop(small);
        assert_eq!((pool.cached(), pool.idle_bytes()), (8, 8 * MIN_CLASS));
        assert_eq!((pool.fresh(), pool.reused()), (50, 4));
        drop(big);
        assert_eq!(pool.cached(), 8, "still full");
    }

    #[test]
    fn a_full_ring_frees() {
        // Room under the limit, but the class's ring is full.
        let mut pool = RecvPool::with_limit(3 * 65536);
        assert_eq!(class_slots(1, 3 * 65536), 2);
        let bufs: Vec<PoolBuf> = (0..3).map(|_| pool.take(65536)).collect();
        drop(bufs);
        assert_eq!((pool.cached(), pool.idle_bytes()), (2, 2 * 65536));
    }

    #[test]
    fn large_buffers_bypass_the_pool() {
        let mut pool = RecvPool::new();
        let mut b = pool.take(MAX_CLASS + 5);
        b.as_mut_slice()[MAX_CLASS + 4] = 1;
        let bytes = b.freeze();
        assert_eq!(bytes.len(), MAX_CLASS + 5);
        assert_eq!(bytes[MAX_CLASS + 4], 1);
        drop(bytes);
        assert_eq!(pool.cached(), 0);
        assert!(!RecvPool::is_pooled(MAX_CLASS + 1));
        assert!(RecvPool::is_pooled(MAX_CLASS));
    }

    #[test]
    fn messages_outlive_the_pool() {
        let mut pool = RecvPool::new();
        let mut b = pool.take(100_000);
        b.as_mut_slice().fill(3);
        let m = Msg::from(b.freeze()).with_more(true);
        let unfrozen = pool.take(100_000);
        let cached = pool.take(100_000);
        drop(cached);
        assert_eq!(pool.cached(), 1);
        drop(pool);
        assert_eq!(m.len(), 100_000);
        assert!(m.iter().all(|&x| x == 3) && m.more());
        let copy = m.clone();
        drop(m);
        drop(unfrozen);
        assert_eq!(copy.len(), 100_000);
        drop(copy);
    }
}
