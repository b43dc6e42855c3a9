//! The consuming end, [`Consumer`], and the [`Batch`] it reads through.

use std::fmt;
use std::iter::FusedIterator;

use super::error::{PopError, PopTimeoutError};
use super::shared::{mark_full, mark_hole, Core, Ring, SLEEP_NOTIFY, SLEEP_PARK};
use super::wait::{Backoff, Deadline, Step};
use super::{Notify, RingStats};
use crate::sync::{Arc, Duration, Ordering, StdArc};

/// The consuming end of a ring (single consumer; `Send`, not `Clone`).
///
/// It keeps its own copy of the release cursor and of how far items are
/// known to be published, so it reads the producers' shared state only when
/// it has used up what it already knows about.
pub struct Consumer<T> {
    ring: Arc<Ring<T>>,
    core: Arc<Core>,
    /// Next sequence to read. Ahead of the shared `head` only while a batch
    /// is out (or after a batch was leaked with `mem::forget`).
    head: u64,
    /// Every sequence in `head..avail` is known to hold an item.
    avail: u64,
    /// The last value stored to the shared `head`.
    released: u64,
    /// Single pops release their slots once this many are pending (1:
    /// release every pop).
    release_every: u64,
}

impl<T> fmt::Debug for Consumer<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Consumer")
            .field("len", &self.len())
            .field("capacity", &self.capacity())
            .finish()
    }
}

impl<T> Consumer<T> {
    pub(crate) fn new(ring: Arc<Ring<T>>) -> Self {
        let core = Arc::clone(&ring.core);
        Consumer {
            ring,
            core,
            head: 0,
            avail: 0,
            released: 0,
            release_every: 1,
        }
    }

    /// Makes single pops ([`try_pop`](Self::try_pop) and friends) hand their
    /// slots back to the producers in groups of up to `n` (clamped to
    /// `1..=capacity/2`) instead of one release per pop: fewer stores to the
    /// line the producers read, at the price of producers seeing the room a
    /// little later. Pending slots are always released when a pop finds the
    /// ring empty, before any wait or sleep announcement, and by
    /// [`release_now`](Self::release_now). A consumer that may block on
    /// something else while holding pending slots (say, a send into another
    /// ring whose consumer waits for room here) calls `release_now` first.
    ///
    /// ```
    /// let (mut tx, mut rx) = ringmq::ring::spsc::<u32>(8).unwrap();
    /// rx.set_release_every(4);
    /// tx.try_push_batch(0..8).unwrap();
    /// assert_eq!(rx.try_pop(), Ok(0));
    /// assert_eq!(tx.free_slots(), 0); // not handed back yet
    /// rx.release_now();
    /// assert_eq!(tx.free_slots(), 1);
    /// ```
    pub fn set_release_every(&mut self, n: usize) {
        let max = (self.core.capacity / 2).max(1);
        self.release_every = n.clamp(1, max) as u64;
    }

    /// Hands every slot already popped back to the producers now.
    #[inline]
    pub fn release_now(&mut self) {
        if self.head != self.released {
            self.release();
        }
    }

    /// Items known to be ready, refreshing from shared state if fewer than
    /// `want` are known.
    #[inline(always)]
    fn ready(&mut self, want: usize) -> usize {
        let known = (self.avail - self.head) as usize;
        if known >= want {
            return known;
        }
        self.refresh(want)
    }

    #[inline]
    fn refresh(&mut self, want: usize) -> usize {
        let core = &*self.core;
        if !core.multi {
            // Acquire: pairs with the producer's release of `tail`, so the
            // slot writes below it are visible.
            self.avail = core.prod.tail.load(Ordering::Acquire);
        } else {
            self.scan(want);
        }
        (self.avail - self.head) as usize
    }

    /// MPSC: extends `avail` over the slots whose marks say published,
    /// stopping at the first unpublished slot or after `want` items. Holes
    /// at the front are skipped (and released).
    fn scan(&mut self, want: usize) {
        let core = &*self.core;
        let mut skipped = false;
        let mut s = self.avail;
        let limit = self.head + core.capacity as u64;
        while s < limit && ((s - self.head) as usize) < want {
            // Acquire: pairs with the producer's release store of the mark,
            // so its write of the slot is visible.
            let m = core.mark(s).load(Ordering::Acquire);
            if m == mark_full(s) {
                s += 1;
            } else if m == mark_hole(s) && s == self.head {
                self.head += 1;
                s += 1;
                skipped = true;
            } else {
                break;
            }
        }
        self.avail = s;
        if skipped {
            self.release();
        }
    }

    /// Releases every slot below `self.head` to the producers: one release
    /// store, then the room handshake (one fence, one load).
    #[inline(always)]
    fn release(&mut self) {
        self.released = self.head;
        // Release: our reads of the released slots happen-before a
        // producer's acquire of `head` and so before its next writes.
        self.core.head.store(self.head, Ordering::Release);
        self.core.after_release();
    }

    /// Empty or Disconnected, once nothing is ready.
    #[cold]
    fn empty_error(&mut self) -> PopError {
        if self.core.producers_gone() && self.refresh(1) == 0 {
            PopError::Disconnected
        } else {
            PopError::Empty
        }
    }

    /// Pops one item if one is published, without waiting.
    ///
    /// ```
    /// use ringmq::ring::{self, PopError};
    /// let (mut tx, mut rx) = ring::spsc::<&str>(4).unwrap();
    /// assert_eq!(rx.try_pop(), Err(PopError::Empty));
    /// tx.try_push("a").unwrap();
    /// assert_eq!(rx.try_pop(), Ok("a"));
    /// drop(tx);
    /// assert_eq!(rx.try_pop(), Err(PopError::Disconnected));
    /// ```
    #[inline]
    pub fn try_pop(&mut self) -> Result<T, PopError> {
        if self.ready(1) == 0 {
            self.release_now();
            return Err(self.empty_error());
        }
        // SAFETY: `ready(1)` found `head < avail`.
        Ok(unsafe { self.take_one() })
    }

    /// Reads the item at `head` and moves past it, releasing slots per
    /// [`set_release_every`](Self::set_release_every).
    ///
    /// # Safety
    /// `head < avail`: the slot is published (seen through an acquire load)
    /// and not yet read.
    #[inline(always)]
    unsafe fn take_one(&mut self) -> T {
        // SAFETY: per this function's contract the slot holds a published,
        // unread item; we are the only reader.
        let item = unsafe { self.ring.read(self.head) };
        self.head += 1;
        if self.head - self.released >= self.release_every {
            self.release();
        }
        item
    }

    /// Pops one item, waiting per the ring's wait strategy. Fails only with
    /// `Disconnected` (every producer gone and the ring drained).
    #[inline]
    pub fn pop(&mut self) -> Result<T, PopError> {
        if self.ready(1) == 0 {
            self.wait_ready(Deadline::never())
                .map_err(|_| PopError::Disconnected)?;
        }
        // SAFETY: `ready(1)` (or `wait_ready`, which returns `Ok` only then)
        // found `head < avail`.
        Ok(unsafe { self.take_one() })
    }

    /// Pops one item, waiting at most `timeout`.
    pub fn pop_timeout(&mut self, timeout: Duration) -> Result<T, PopTimeoutError> {
        if self.ready(1) == 0 {
            self.wait_ready(Deadline::after(timeout))?;
        }
        // SAFETY: `ready(1)` (or `wait_ready`, which returns `Ok` only then)
        // found `head < avail`.
        Ok(unsafe { self.take_one() })
    }

    /// Takes everything published so far, up to `max` items, as a [`Batch`].
    /// The batch releases the slots it yielded with one store when dropped;
    /// items it did not yield stay in the ring. `max == 0` or an empty ring
    /// gives `Err(Empty)` (or `Disconnected`).
    ///
    /// ```
    /// let (mut tx, mut rx) = ringmq::ring::spsc::<u32>(8).unwrap();
    /// tx.try_push_batch(0..5).unwrap();
    /// let mut batch = rx.try_pop_batch(3).unwrap();
    /// assert_eq!(batch.len(), 3);
    /// assert_eq!(batch.peek(), Some(&0));
    /// assert_eq!(batch.next(), Some(0));
    /// drop(batch); // releases one slot; 1 and 2 stay in the ring
    /// assert_eq!(rx.try_pop_batch(8).unwrap().collect::<Vec<_>>(), [1, 2, 3, 4]);
    /// ```
    #[inline]
    pub fn try_pop_batch(&mut self, max: usize) -> Result<Batch<'_, T>, PopError> {
        if max == 0 {
            return Err(PopError::Empty);
        }
        let n = self.ready(max).min(max);
        if n == 0 {
            return Err(self.empty_error());
        }
        let end = self.head + n as u64;
        Ok(Batch {
            end,
            consumer: self,
        })
    }

    /// Like [`try_pop_batch`](Self::try_pop_batch) but waits until at least
    /// one item is there. Fails only with `Disconnected` (or `Empty` if
    /// `max == 0`).
    pub fn pop_batch(&mut self, max: usize) -> Result<Batch<'_, T>, PopError> {
        if max == 0 {
            return Err(PopError::Empty);
        }
        if self.ready(1) == 0 {
            self.wait_ready(Deadline::never())
                .map_err(|_| PopError::Disconnected)?;
        }
        self.try_pop_batch(max)
    }

    /// Like [`pop_batch`](Self::pop_batch), waiting at most `timeout`
    /// (`max == 0` gives `Timeout` at once).
    pub fn pop_batch_timeout(
        &mut self,
        max: usize,
        timeout: Duration,
    ) -> Result<Batch<'_, T>, PopTimeoutError> {
        if max == 0 {
            return Err(PopTimeoutError::Timeout);
        }
        if self.ready(1) == 0 {
            self.wait_ready(Deadline::after(timeout))?;
        }
        self.try_pop_batch(max).map_err(|e| match e {
            PopError::Empty => PopTimeoutError::Timeout,
            PopError::Disconnected => PopTimeoutError::Disconnected,
        })
    }

    /// Moves up to `max` ready items to the end of `out` (one batch, one
    /// release); returns how many. Never waits.
    pub fn drain_into(&mut self, out: &mut Vec<T>, max: usize) -> usize {
        match self.try_pop_batch(max) {
            Ok(batch) => {
                let n = batch.len();
                out.reserve(n);
                out.extend(batch);
                n
            }
            Err(_) => 0,
        }
    }

    /// Waits until an item is ready (`Ok`), or every producer is gone with
    /// the ring drained, or the deadline passes.
    fn wait_ready(&mut self, mut deadline: Deadline) -> Result<(), PopTimeoutError> {
        self.release_now();
        let mut backoff = Backoff::new(self.core.strategy);
        let mut thread_set = false;
        loop {
            if self.ready(1) > 0 {
                return Ok(());
            }
            if self.core.producers_gone() {
                return if self.refresh(1) > 0 {
                    Ok(())
                } else {
                    Err(PopTimeoutError::Disconnected)
                };
            }
            if backoff.clock_due() && deadline.expired() {
                return Err(PopTimeoutError::Timeout);
            }
            if let Step::Park = backoff.step() {
                if !thread_set {
                    self.core.set_consumer_thread();
                    thread_set = true;
                }
                if self.announce(SLEEP_PARK) {
                    deadline.park();
                    self.core.cancel_sleep();
                }
            }
        }
    }

    /// The sleep handshake: true if the announcement `how` stands (nothing
    /// published, producers alive), false (withdrawn) otherwise.
    fn announce(&self, how: u32) -> bool {
        self.core.announce_sleep(how, || self.ready_after_barrier())
    }

    /// The handshake's check, after the barrier: anything published before
    /// a producer's own barrier is seen here, or that producer sees the
    /// announcement.
    fn ready_after_barrier(&self) -> bool {
        let core = &*self.core;
        let head = self.head;
        let published = if core.multi {
            let m = core.mark(head).load(Ordering::Relaxed);
            m == mark_full(head) || m == mark_hole(head)
        } else {
            core.prod.tail.load(Ordering::Relaxed) > head
        };
        published || core.ctl.producers.load(Ordering::Relaxed) == 0
    }

    /// [`prepare_sleep`](Self::prepare_sleep) in two steps, for an event
    /// loop that sleeps on many rings and pays the handshake's barrier once
    /// for all of them: this records the announcement without a barrier;
    /// the loop then calls [`sleep_barrier`](super::sleep_barrier) once and
    /// [`confirm_sleep`](Self::confirm_sleep) on each ring. Until then the
    /// announcement promises nothing. Returns false (nothing recorded) on a
    /// ring that cannot sleep (`BusySpin`, `Yield`).
    ///
    /// ```
    /// use ringmq::ring::{self, Builder};
    /// let b = Builder::new(8).asymmetric_wakeups(true);
    /// let (mut tx1, mut rx1) = b.spsc::<u32>().unwrap();
    /// let (_tx2, mut rx2) = b.spsc::<u32>().unwrap();
    /// tx1.try_push(7).unwrap();
    /// assert!(rx1.announce_sleep() && rx2.announce_sleep());
    /// assert!(ring::sleep_barrier());
    /// assert!(!rx1.confirm_sleep()); // rx1 holds an item: withdrawn
    /// assert!(rx2.confirm_sleep()); // rx2 may sleep: its producer will notify
    /// ```
    pub fn announce_sleep(&mut self) -> bool {
        self.release_now();
        self.core.announce_sleep_unfenced(SLEEP_NOTIFY)
    }

    /// The last step of a sleep begun with
    /// [`announce_sleep`](Self::announce_sleep), after
    /// [`sleep_barrier`](super::sleep_barrier) returned true: true if the
    /// announcement stands (sleeping is safe), false (withdrawn) if items
    /// are there or every producer is gone, exactly as
    /// [`prepare_sleep`](Self::prepare_sleep) would have said.
    pub fn confirm_sleep(&mut self) -> bool {
        if self.ready_after_barrier() {
            self.core.cancel_sleep();
            false
        } else {
            true
        }
    }

    /// Announces "I am going to sleep" for an event loop. Returns false if
    /// items are already available or every producer is gone (then do not
    /// sleep). While the announcement stands, the first producer to publish
    /// (or the last producer to be dropped) calls the notifier set with
    /// [`set_notifier`](Self::set_notifier) exactly once and clears the
    /// announcement; producers never call it otherwise. No wake-up is lost.
    ///
    /// Only [`WaitStrategy::Park`](super::WaitStrategy::Park) rings support
    /// sleeping: on `BusySpin` and `Yield` rings this always returns false.
    ///
    /// ```
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    /// use std::sync::Arc;
    /// let (mut tx, mut rx) = ringmq::ring::spsc::<u32>(64).unwrap();
    /// let calls = Arc::new(AtomicUsize::new(0));
    /// let c = calls.clone();
    /// rx.set_notifier(Some(Arc::new(move || {
    ///     c.fetch_add(1, Ordering::SeqCst);
    /// })));
    /// tx.try_push(1).unwrap();
    /// assert!(!rx.prepare_sleep()); // an item is there: do not sleep
    /// rx.try_pop().unwrap();
    /// assert!(rx.prepare_sleep()); // empty: safe to sleep
    /// for i in 0..10 {
    ///     tx.try_push(i).unwrap();
    /// }
    /// assert_eq!(calls.load(Ordering::SeqCst), 1); // one wake for ten items
    /// ```
    pub fn prepare_sleep(&mut self) -> bool {
        self.release_now();
        self.announce(SLEEP_NOTIFY)
    }

    /// Withdraws an announcement made with
    /// [`prepare_sleep`](Self::prepare_sleep) (a producer may already have
    /// taken it and called the notifier).
    pub fn cancel_sleep(&self) {
        self.core.cancel_sleep();
    }

    /// Sets (or clears) the notifier called on a sleep-announced
    /// empty-to-non-empty transition, e.g. one that wakes an event loop.
    pub fn set_notifier(&mut self, n: Option<StdArc<dyn Notify>>) {
        self.core.set_notifier(n);
    }

    /// Items published and not yet taken (a snapshot).
    pub fn len(&self) -> usize {
        let tail = self.core.prod.tail.load(Ordering::Acquire);
        (tail.saturating_sub(self.head) as usize).min(self.core.capacity)
    }

    /// The ring's capacity.
    pub fn capacity(&self) -> usize {
        self.core.capacity
    }

    /// True if no item is there.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A metrics handle on this ring.
    pub fn stats(&self) -> RingStats {
        RingStats::new(Arc::clone(&self.core))
    }

    /// True once every producer is gone (items may still be in the ring;
    /// pops return `Disconnected` only after they are drained).
    pub fn is_disconnected(&self) -> bool {
        self.core.producers_gone()
    }
}

impl<T> Drop for Consumer<T> {
    fn drop(&mut self) {
        if self.core.head.load(Ordering::Relaxed) != self.head {
            // A leaked batch moved items out without releasing them.
            self.core.head.store(self.head, Ordering::Release);
        }
        self.core.disconnect_consumer();
    }
}

/// Items taken from the ring by [`Consumer::try_pop_batch`] and friends.
///
/// Iterating moves items out; dropping the batch releases the slots of the
/// yielded items with one store. Items not yielded stay in the ring for the
/// next pop. (Leaking the batch with `mem::forget` loses nothing either: the
/// slots are released by the consumer's next release.)
pub struct Batch<'a, T> {
    consumer: &'a mut Consumer<T>,
    end: u64,
}

impl<T> fmt::Debug for Batch<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Batch").field("len", &self.len()).finish()
    }
}

impl<T: Copy> Batch<'_, T> {
    /// The items not yet taken, in order, borrowed in place as at most two
    /// slices (the second is non-empty when the batch wraps around the end
    /// of the ring). For `Copy` items, so that reading them by reference
    /// leaves nothing to drop; [`consume`](Self::consume) then takes them
    /// all. (Not under loom, whose cells are not laid out like `T`.)
    ///
    /// ```
    /// let (mut tx, mut rx) = ringmq::ring::spsc::<u32>(4).unwrap();
    /// tx.try_push_batch(0..3).unwrap();
    /// rx.try_pop_batch(3).unwrap().consume();
    /// tx.try_push_batch(3..7).unwrap(); // wraps around the end
    /// let batch = rx.try_pop_batch(8).unwrap();
    /// let (a, b) = batch.as_slices();
    /// assert_eq!((a, b), (&[3][..], &[4, 5, 6][..]));
    /// batch.consume();
    /// assert!(rx.is_empty());
    /// ```
    #[cfg(not(loom))]
    pub fn as_slices(&self) -> (&[T], &[T]) {
        let head = self.consumer.head;
        let n = (self.end - head) as usize;
        let first = n.min(self.consumer.core.slots() - (head & self.consumer.core.mask) as usize);
        // SAFETY: `head..end` is published (`end <= avail`, seen with
        // acquire) and unread; the two ranges split it at the end of the
        // slot array, so neither wraps; the slots are released only when
        // this batch (which the slices borrow) is dropped.
        unsafe {
            (
                self.consumer.ring.slice(head, first),
                self.consumer.ring.slice(head + first as u64, n - first),
            )
        }
    }

    /// Takes every item of the batch without moving it out (after reading
    /// them through [`as_slices`](Self::as_slices)); the slots are released
    /// with one store.
    pub fn consume(self) {
        self.consumer.head = self.end;
    }
}

impl<T> Batch<'_, T> {
    /// The next item, without taking it.
    pub fn peek(&self) -> Option<&T> {
        self.get(0)
    }

    /// The `i`-th item not yet yielded, without taking it.
    pub fn get(&self, i: usize) -> Option<&T> {
        let seq = self.consumer.head.checked_add(i as u64)?;
        if seq >= self.end {
            return None;
        }
        // SAFETY: `head <= seq < end <= avail`: published, not yet read; the
        // batch borrows the consumer mutably, so it cannot be read or
        // released while this borrow of `self` lives.
        Some(unsafe { self.consumer.ring.get(seq) })
    }
}

impl<T> Iterator for Batch<'_, T> {
    type Item = T;

    #[inline]
    fn next(&mut self) -> Option<T> {
        let seq = self.consumer.head;
        if seq == self.end {
            return None;
        }
        // SAFETY: `seq < end <= avail`: published (acquire) and not yet read
        // (the consumer's `head` moves past it right here, so it is read
        // once).
        let item = unsafe { self.consumer.ring.read(seq) };
        self.consumer.head = seq + 1;
        Some(item)
    }

    #[inline]
    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = (self.end - self.consumer.head) as usize;
        (n, Some(n))
    }
}

impl<T> ExactSizeIterator for Batch<'_, T> {}

impl<T> FusedIterator for Batch<'_, T> {}

impl<T> Drop for Batch<'_, T> {
    fn drop(&mut self) {
        self.consumer.release_now();
    }
}
