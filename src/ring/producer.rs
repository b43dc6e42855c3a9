//! The producer handles: [`Producer`] (single producer, with the in-place
//! [`WriteClaim`] API) and [`MpProducer`] (cloneable, multi-producer).

use std::fmt;

use super::error::{PushError, PushTimeoutError};
use super::shared::{mark_full, mark_hole, Core, Ring};
use super::wait::{Backoff, Deadline, Step, ThreadNotify};
use super::{Notify, RingStats};
use crate::sync::{thread, Arc, Duration, Ordering, StdArc};

/// Retries `attempt` per the ring's wait strategy until it succeeds, the
/// consumer is gone, or the deadline passes. Parking registers a space
/// waiter for `needed` slots, so the consumer's next release unparks us.
fn wait_push<P: ?Sized, V>(
    p: &mut P,
    core_of: impl Fn(&P) -> &Core,
    needed: usize,
    mut deadline: Deadline,
    mut value: V,
    mut attempt: impl FnMut(&mut P, V) -> Result<(), PushError<V>>,
) -> Result<(), PushTimeoutError<V>> {
    // The handle is borrowed, not reference-counted: a waiting push touches
    // no shared counter while it spins.
    let mut backoff = Backoff::new(core_of(p).strategy);
    let mut waiter: Option<StdArc<dyn Notify>> = None;
    let mut registered = false;
    let result = loop {
        match attempt(p, value) {
            Ok(()) => break Ok(()),
            Err(PushError::Disconnected(v)) => break Err(PushTimeoutError::Disconnected(v)),
            Err(PushError::Full(v)) => value = v,
        }
        if backoff.clock_due() && deadline.expired() {
            break Err(PushTimeoutError::Timeout(value));
        }
        if let Step::Park = backoff.step() {
            let w = waiter.get_or_insert_with(|| StdArc::new(ThreadNotify(thread::current())));
            if core_of(p).register_space_waiter(StdArc::clone(w), needed) {
                registered = true;
                deadline.park();
            }
        }
    };
    if registered {
        if let Some(w) = &waiter {
            core_of(p).unregister_space_waiter(w);
        }
    }
    result
}

/// Maps the result of an unbounded wait (which cannot time out).
fn unbounded<V>(r: Result<(), PushTimeoutError<V>>) -> Result<(), PushError<V>> {
    match r {
        Ok(()) => Ok(()),
        Err(PushTimeoutError::Disconnected(v)) => Err(PushError::Disconnected(v)),
        // Not reachable with `Deadline::never()`; reported as `Full` rather
        // than panicking.
        Err(PushTimeoutError::Timeout(v)) => Err(PushError::Full(v)),
    }
}

/// The producing end of a single-producer ring ([`spsc`](super::spsc)).
///
/// `Send` but not `Clone`: exactly one thread produces. It keeps its own
/// copy of the publish cursor and a cached copy of the consumer's cursor, so
/// a push touches shared memory only to publish (one release store) and to
/// check the consumer's sleep announcement (one fence, one load); it reloads
/// the consumer's cursor only when its cache says the ring is full.
pub struct Producer<T> {
    ring: Arc<Ring<T>>,
    core: Arc<Core>,
    /// Next sequence to publish; equal to the shared `tail` between calls.
    tail: u64,
    /// Items written from `tail` on by [`stage`](Self::stage) and not yet
    /// published.
    staged: usize,
    /// A lower bound of the consumer's `head`.
    cached_head: u64,
}

impl<T> fmt::Debug for Producer<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Producer")
            .field("len", &self.len())
            .field("capacity", &self.capacity())
            .finish()
    }
}

impl<T> Producer<T> {
    pub(crate) fn new(ring: Arc<Ring<T>>) -> Self {
        let core = Arc::clone(&ring.core);
        Producer {
            ring,
            core,
            tail: 0,
            staged: 0,
            cached_head: 0,
        }
    }

    /// Free slots according to the cache (never more than the truth).
    #[inline(always)]
    fn cached_free(&self) -> usize {
        self.core.capacity - (self.tail - self.cached_head) as usize
    }

    /// Makes sure `n` slots are free, reloading the consumer's cursor only
    /// if the cache says otherwise. Returns the free slots known.
    #[inline(always)]
    fn reserve(&mut self, n: usize) -> usize {
        // Every write path starts at `tail`: staged items go out first.
        self.publish_staged();
        let free = self.cached_free();
        if free >= n {
            return free;
        }
        // Acquire: pairs with the consumer's release of `head`, ordering its
        // reads of the slots before our writes to them.
        self.cached_head = self.core.head.load(Ordering::Acquire);
        self.cached_free()
    }

    /// Publishes everything below `new_tail` with one release store.
    #[inline(always)]
    fn publish(&mut self, new_tail: u64) {
        self.tail = new_tail;
        // Release: the slot writes before this store are visible to a
        // consumer that loads `tail` with acquire.
        self.core.prod.tail.store(new_tail, Ordering::Release);
        self.core.after_publish();
    }

    /// Writes `item` into the next free slot without publishing it: the
    /// consumer sees it, with everything staged before it, at the next
    /// [`publish_staged`](Self::publish_staged), at the next push of any
    /// other kind, or when this producer is dropped. A producer that emits
    /// items one by one stages them and publishes once per batch, paying
    /// one cursor store (and one wake-up check) per batch and writing each
    /// item straight into its slot. [`len`](Self::len),
    /// [`is_full`](Self::is_full) and [`free_slots`](Self::free_slots) count
    /// published items only. Publish before waiting for room by other means
    /// ([`register_space_waiter`](Self::register_space_waiter)): the
    /// consumer cannot free slots for items it does not see.
    ///
    /// ```
    /// use ringmq::ring::{self, PushError};
    /// let (mut tx, mut rx) = ring::spsc::<u32>(2).unwrap();
    /// tx.stage(1).unwrap();
    /// tx.stage(2).unwrap();
    /// assert!(rx.try_pop().is_err()); // nothing published yet
    /// assert!(matches!(tx.stage(3), Err(PushError::Full(3))));
    /// tx.publish_staged();
    /// assert_eq!(rx.try_pop(), Ok(1));
    /// ```
    #[inline]
    pub fn stage(&mut self, item: T) -> Result<(), PushError<T>> {
        if self.core.consumer_gone() {
            return Err(PushError::Disconnected(item));
        }
        if self.cached_free() <= self.staged {
            // Acquire: as in `reserve`.
            self.cached_head = self.core.head.load(Ordering::Acquire);
            if self.cached_free() <= self.staged {
                return Err(PushError::Full(item));
            }
        }
        let seq = self.tail + self.staged as u64;
        self.ring
            .prefetch_ahead(seq, 1, self.cached_free() - self.staged);
        // SAFETY: the slot `tail + staged` is free (the cache, refreshed
        // with an acquire load of `head` when in doubt, says more than
        // `staged` slots from `tail` are) and unpublished, so only this
        // producer touches it.
        unsafe { self.ring.write(seq, item) };
        self.staged += 1;
        Ok(())
    }

    /// Items staged and not yet published.
    #[inline]
    pub fn staged(&self) -> usize {
        self.staged
    }

    /// Publishes every staged item (one release store); nothing happens if
    /// none is staged.
    #[inline(always)]
    pub fn publish_staged(&mut self) {
        if self.staged != 0 {
            let end = self.tail + self.staged as u64;
            self.staged = 0;
            self.publish(end);
        }
    }

    /// Pushes one item if there is room, without waiting.
    ///
    /// ```
    /// use ringmq::ring::{self, PushError};
    /// let (mut tx, mut rx) = ring::spsc::<u32>(2).unwrap();
    /// tx.try_push(1).unwrap();
    /// tx.try_push(2).unwrap();
    /// assert!(matches!(tx.try_push(3), Err(PushError::Full(3))));
    /// assert_eq!(rx.try_pop(), Ok(1));
    /// ```
    #[inline]
    pub fn try_push(&mut self, item: T) -> Result<(), PushError<T>> {
        if self.core.consumer_gone() {
            return Err(PushError::Disconnected(item));
        }
        let free = self.reserve(1);
        if free == 0 {
            return Err(PushError::Full(item));
        }
        self.ring.prefetch_ahead(self.tail, 1, free);
        // SAFETY: the slot of `tail` is free (checked just above against an
        // acquire load of `head`) and only this producer writes unpublished
        // slots.
        unsafe { self.ring.write(self.tail, item) };
        self.publish(self.tail + 1);
        Ok(())
    }

    /// The next free slot, if there is one, to be written with
    /// [`Vacant::write`]: [`try_push`](Self::try_push) in two steps, for a
    /// caller that wants to keep its item when the ring is full or its
    /// consumer gone without getting it back through a `Result` (the item
    /// then goes from where it is built straight into the slot).
    ///
    /// ```
    /// use ringmq::ring::{self, PushError};
    /// let (mut tx, mut rx) = ring::spsc::<u32>(2).unwrap();
    /// tx.vacant().unwrap().write(1);
    /// tx.vacant().unwrap().write(2);
    /// assert!(matches!(tx.vacant(), Err(PushError::Full(()))));
    /// assert_eq!(rx.try_pop(), Ok(1));
    /// drop(rx);
    /// assert!(matches!(tx.vacant(), Err(PushError::Disconnected(()))));
    /// ```
    #[inline]
    pub fn vacant(&mut self) -> Result<Vacant<'_, T>, PushError<()>> {
        if self.core.consumer_gone() {
            return Err(PushError::Disconnected(()));
        }
        let free = self.reserve(1);
        if free == 0 {
            return Err(PushError::Full(()));
        }
        Ok(Vacant {
            producer: self,
            free,
        })
    }

    /// Pushes one item, waiting for room per the ring's wait strategy. Fails
    /// only with `Disconnected`.
    #[inline]
    pub fn push(&mut self, item: T) -> Result<(), PushError<T>> {
        match self.try_push(item) {
            Err(PushError::Full(v)) => unbounded(self.push_wait(v, Deadline::never())),
            r => r,
        }
    }

    /// Pushes one item, waiting at most `timeout` for room.
    pub fn push_timeout(&mut self, item: T, timeout: Duration) -> Result<(), PushTimeoutError<T>> {
        match self.try_push(item) {
            Ok(()) => Ok(()),
            Err(PushError::Disconnected(v)) => Err(PushTimeoutError::Disconnected(v)),
            Err(PushError::Full(v)) => self.push_wait(v, Deadline::after(timeout)),
        }
    }

    fn push_wait(&mut self, item: T, deadline: Deadline) -> Result<(), PushTimeoutError<T>> {
        wait_push(self, |p| &p.core, 1, deadline, item, |p, v| p.try_push(v))
    }

    /// Pushes a whole batch, or nothing.
    ///
    /// If `items.len()` slots are free, the items go into contiguous slots
    /// and are published together with one release store; otherwise
    /// `Full(items)` comes back with nothing taken from the iterator. A
    /// batch longer than [`capacity`](Self::capacity) can never fit: it
    /// always gets `Full`. An empty batch succeeds. If the iterator yields
    /// fewer items than it announced, what it yielded is published; items
    /// beyond its announced length are left in it.
    ///
    /// ```
    /// let (mut tx, mut rx) = ringmq::ring::spsc::<u32>(8).unwrap();
    /// tx.try_push_batch([1, 2, 3].into_iter()).unwrap();
    /// assert!(tx.try_push_batch(0..6).is_err()); // 3 + 6 > 8: nothing pushed
    /// assert_eq!(rx.try_pop_batch(8).unwrap().collect::<Vec<_>>(), [1, 2, 3]);
    /// ```
    #[inline]
    pub fn try_push_batch<I: ExactSizeIterator<Item = T>>(
        &mut self,
        mut items: I,
    ) -> Result<(), PushError<I>> {
        if self.core.consumer_gone() {
            return Err(PushError::Disconnected(items));
        }
        let n = items.len();
        if n == 0 {
            return Ok(());
        }
        if n > self.core.capacity {
            return Err(PushError::Full(items));
        }
        let free = self.reserve(n);
        if free < n {
            return Err(PushError::Full(items));
        }
        self.ring.prefetch_ahead(self.tail, n, free);
        let mut claim = WriteClaim {
            start: self.tail,
            limit: n,
            written: 0,
            producer: self,
        };
        for item in items.by_ref().take(n) {
            claim.write_next(item);
        }
        drop(claim);
        Ok(())
    }

    /// Pushes a whole batch, waiting for room for all of it. A batch longer
    /// than [`capacity`](Self::capacity) fails at once with `Full(items)`
    /// (it could never fit); otherwise this fails only with `Disconnected`.
    pub fn push_batch<I: ExactSizeIterator<Item = T>>(
        &mut self,
        items: I,
    ) -> Result<(), PushError<I>> {
        let n = items.len();
        match self.try_push_batch(items) {
            Err(PushError::Full(it)) if n <= self.core.capacity => unbounded(wait_push(
                self,
                |p| &p.core,
                n,
                Deadline::never(),
                it,
                |p, v| p.try_push_batch(v),
            )),
            r => r,
        }
    }

    /// Pushes a whole batch, waiting at most `timeout` for room for all of
    /// it. A batch longer than [`capacity`](Self::capacity) gets
    /// `Timeout(items)` at once.
    pub fn push_batch_timeout<I: ExactSizeIterator<Item = T>>(
        &mut self,
        items: I,
        timeout: Duration,
    ) -> Result<(), PushTimeoutError<I>> {
        let n = items.len();
        match self.try_push_batch(items) {
            Ok(()) => Ok(()),
            Err(PushError::Disconnected(it)) => Err(PushTimeoutError::Disconnected(it)),
            Err(PushError::Full(it)) if n > self.core.capacity => {
                Err(PushTimeoutError::Timeout(it))
            }
            Err(PushError::Full(it)) => wait_push(
                self,
                |p| &p.core,
                n,
                Deadline::after(timeout),
                it,
                |p, v| p.try_push_batch(v),
            ),
        }
    }

    /// Claims up to `max` free slots (possibly none: check
    /// [`WriteClaim::remaining`]) to fill in place. What is written is
    /// published, with one release store, when the claim is committed or
    /// dropped. A disconnected ring gives an empty claim.
    ///
    /// ```
    /// let (mut tx, mut rx) = ringmq::ring::spsc::<u64>(4).unwrap();
    /// let mut claim = tx.claim(8);
    /// assert_eq!(claim.remaining(), 4);
    /// for i in 0..3 {
    ///     claim.push(i).unwrap();
    /// }
    /// claim.commit();
    /// assert_eq!(rx.len(), 3);
    /// ```
    pub fn claim(&mut self, max: usize) -> WriteClaim<'_, T> {
        let limit = if self.core.consumer_gone() {
            0
        } else {
            let want = max.min(self.core.capacity);
            let free = self.reserve(want);
            let limit = free.min(want);
            if limit > 0 {
                self.ring.prefetch_ahead(self.tail, limit, free);
            }
            limit
        };
        WriteClaim {
            start: self.tail,
            limit,
            written: 0,
            producer: self,
        }
    }

    /// Items in the ring (published, not yet released by the consumer).
    pub fn len(&self) -> usize {
        self.core.len()
    }

    /// The ring's capacity.
    pub fn capacity(&self) -> usize {
        self.core.capacity
    }

    /// True if the ring holds no item.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// True if the ring has no free slot.
    pub fn is_full(&self) -> bool {
        self.free_slots() == 0
    }

    /// Free slots now.
    pub fn free_slots(&self) -> usize {
        self.core.free_now()
    }

    /// A metrics handle on this ring.
    pub fn stats(&self) -> RingStats {
        RingStats::new(Arc::clone(&self.core))
    }

    /// Asks to be told when there is room: returns false (registering
    /// nothing) if the ring already has a free slot or the consumer is
    /// gone; otherwise the consumer calls `n.notify()` once, after its next
    /// release of slots (or when it is dropped). No wake-up is lost.
    /// Only [`WaitStrategy::Park`](super::WaitStrategy::Park) rings take
    /// waiters: on `BusySpin` and `Yield` rings this always returns false.
    pub fn register_space_waiter(&self, n: StdArc<dyn Notify>) -> bool {
        self.core.register_space_waiter(n, 1)
    }

    /// [`register_space_waiter`](Self::register_space_waiter) in two steps,
    /// for a producer that waits for room on several rings and pays the
    /// handshake's barrier once: this records `n` without a barrier
    /// (false, recording nothing, if there is room already or the consumer
    /// is gone); then [`sleep_barrier`](super::sleep_barrier) once, then
    /// [`confirm_space_wait`](Self::confirm_space_wait) on each ring.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use ringmq::ring::{self, Builder, Notify};
    /// let (mut tx, mut rx) = Builder::new(2).asymmetric_wakeups(true).spsc::<u8>().unwrap();
    /// tx.try_push_batch([1, 2].into_iter()).unwrap();
    /// let n: Arc<dyn Notify> = Arc::new(|| {});
    /// assert!(tx.announce_space_wait(&n));
    /// assert!(ring::sleep_barrier());
    /// assert!(tx.confirm_space_wait(&n)); // still full: wait for the notice
    /// assert_eq!(rx.try_pop(), Ok(1)); // frees a slot and notifies `n`
    /// ```
    pub fn announce_space_wait(&self, n: &StdArc<dyn Notify>) -> bool {
        self.core.register_space_waiter_unfenced(n, 1)
    }

    /// The last step of a wait begun with
    /// [`announce_space_wait`](Self::announce_space_wait), after
    /// [`sleep_barrier`](super::sleep_barrier) returned true: true if `n`
    /// waits and will be notified, false (withdrawn) if there is room or
    /// the consumer is gone, as `register_space_waiter` would have said.
    pub fn confirm_space_wait(&self, n: &StdArc<dyn Notify>) -> bool {
        self.core.confirm_space_waiter(n, 1)
    }

    /// Withdraws a wait recorded with
    /// [`announce_space_wait`](Self::announce_space_wait) (true if it was
    /// still recorded).
    pub fn cancel_space_wait(&self, n: &StdArc<dyn Notify>) -> bool {
        self.core.unregister_space_waiter(n)
    }

    /// True once the consumer has been dropped.
    pub fn is_disconnected(&self) -> bool {
        self.core.consumer_gone()
    }
}

impl<T> Drop for Producer<T> {
    fn drop(&mut self) {
        self.publish_staged();
        self.core.drop_producer();
    }
}

/// Slots claimed by [`Producer::claim`], filled in place. What was pushed is
/// published with one release store on [`commit`](Self::commit) or drop.
pub struct WriteClaim<'a, T> {
    producer: &'a mut Producer<T>,
    start: u64,
    limit: usize,
    written: usize,
}

impl<T> fmt::Debug for WriteClaim<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WriteClaim")
            .field("len", &self.written)
            .field("remaining", &self.remaining())
            .finish()
    }
}

impl<T> WriteClaim<'_, T> {
    #[inline(always)]
    fn write_next(&mut self, item: T) {
        debug_assert!(self.written < self.limit);
        // SAFETY: the slot `start + written` lies in the range the producer
        // found free (`limit` slots from `start`, checked against an acquire
        // load of `head`); it is unpublished, so only this producer touches
        // it.
        unsafe {
            self.producer
                .ring
                .write(self.start + self.written as u64, item)
        };
        self.written += 1;
    }

    /// Writes `item` into the next claimed slot, or hands it back if the
    /// claim is used up.
    #[inline]
    pub fn push(&mut self, item: T) -> Result<(), T> {
        if self.written == self.limit {
            return Err(item);
        }
        self.write_next(item);
        Ok(())
    }

    /// Writes items from `iter` into the claimed slots until the claim or
    /// the iterator runs out; returns how many were written. Contiguous runs
    /// of slots are filled in a tight loop. (If the iterator panics, the
    /// items it produced in the current run are leaked, never published.)
    ///
    /// ```
    /// let (mut tx, mut rx) = ringmq::ring::spsc::<u64>(8).unwrap();
    /// let mut claim = tx.claim(8);
    /// assert_eq!(claim.fill_from_iter(0..5), 5);
    /// claim.commit();
    /// assert_eq!(rx.try_pop_batch(8).unwrap().collect::<Vec<_>>(), [0, 1, 2, 3, 4]);
    /// ```
    #[inline]
    pub fn fill_from_iter<I: IntoIterator<Item = T>>(&mut self, iter: I) -> usize {
        let mut it = iter.into_iter();
        let before = self.written;
        #[cfg(not(loom))]
        {
            let cap = self.producer.core.slots();
            let mask = self.producer.core.mask;
            while self.written < self.limit {
                let seq = self.start + self.written as u64;
                let run = (self.limit - self.written).min(cap - (seq & mask) as usize);
                let base = self.producer.ring.slot_ptr(seq);
                let mut k = 0;
                while k < run {
                    let Some(v) = it.next() else { break };
                    // SAFETY: slots `seq..seq + run` lie in the range this
                    // claim found free and do not wrap (`run` stops at the
                    // end of the array); they are unpublished, so only this
                    // producer touches them; writing never drops an old
                    // value.
                    unsafe { base.add(k).write(v) };
                    k += 1;
                }
                self.written += k;
                if k < run {
                    break;
                }
            }
        }
        #[cfg(loom)]
        while self.written < self.limit {
            let Some(v) = it.next() else { break };
            self.write_next(v);
        }
        self.written - before
    }

    /// Items written so far.
    pub fn len(&self) -> usize {
        self.written
    }

    /// True if nothing has been written.
    pub fn is_empty(&self) -> bool {
        self.written == 0
    }

    /// Slots still claimed and unwritten.
    pub fn remaining(&self) -> usize {
        self.limit - self.written
    }

    /// Publishes what was written (same as dropping the claim).
    pub fn commit(self) {}
}

impl<T> Drop for WriteClaim<'_, T> {
    fn drop(&mut self) {
        if self.written > 0 {
            let end = self.start + self.written as u64;
            self.producer.publish(end);
        }
    }
}

/// A free slot found by [`Producer::vacant`]; [`write`](Self::write) fills
/// and publishes it. Dropping it unwritten leaves the ring as it was.
pub struct Vacant<'a, T> {
    producer: &'a mut Producer<T>,
    /// Free slots known when it was found (at least 1).
    free: usize,
}

impl<T> fmt::Debug for Vacant<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Vacant").finish_non_exhaustive()
    }
}

impl<T> Vacant<'_, T> {
    /// Writes `item` into the slot and publishes it.
    #[inline]
    pub fn write(self, item: T) {
        let p = self.producer;
        p.ring.prefetch_ahead(p.tail, 1, self.free);
        // SAFETY: the slot of `tail` was free when `vacant` checked it
        // against an acquire load of `head` (the consumer never takes back
        // room it released), and the `&mut` borrow held since kept every
        // other write path of this producer away from it.
        unsafe { p.ring.write(p.tail, item) };
        p.publish(p.tail + 1);
    }
}

/// A producing end of a multi-producer ring ([`mpsc`](super::mpsc)):
/// `Send + Sync + Clone`, so many threads can push at once.
///
/// A push claims its slots with one compare-and-swap on the shared claim
/// cursor (a batch claims its whole range at once, so no other producer's
/// item lands inside it), writes them, and marks each slot published.
pub struct MpProducer<T> {
    ring: Arc<Ring<T>>,
}

impl<T> fmt::Debug for MpProducer<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MpProducer")
            .field("len", &self.len())
            .field("capacity", &self.capacity())
            .finish()
    }
}

impl<T> Clone for MpProducer<T> {
    fn clone(&self) -> Self {
        self.ring.core.ctl.producers.fetch_add(1, Ordering::Relaxed);
        MpProducer {
            ring: Arc::clone(&self.ring),
        }
    }
}

/// Marks a claimed MPSC range: items as written, the rest (if the batch
/// iterator ran short or panicked) as holes, then runs the wake check.
struct MpPublish<'a, T> {
    ring: &'a Ring<T>,
    next: u64,
    end: u64,
}

impl<T> MpPublish<'_, T> {
    #[inline(always)]
    fn write_next(&mut self, item: T) {
        // SAFETY: `next` lies in the range this producer claimed with its
        // CAS, whose slots were free (checked against an acquire of `head`);
        // nobody else writes a claimed slot and the consumer does not read
        // it before its mark says so.
        unsafe { self.ring.write(self.next, item) };
        // Release: the write above is visible to the consumer that loads the
        // mark with acquire.
        self.ring
            .core
            .mark(self.next)
            .store(mark_full(self.next), Ordering::Release);
        self.next += 1;
    }
}

impl<T> Drop for MpPublish<'_, T> {
    fn drop(&mut self) {
        let core = &*self.ring.core;
        while self.next < self.end {
            core.mark(self.next)
                .store(mark_hole(self.next), Ordering::Release);
            self.next += 1;
        }
        core.after_publish();
    }
}

impl<T> MpProducer<T> {
    pub(crate) fn new(ring: Arc<Ring<T>>) -> Self {
        MpProducer { ring }
    }

    /// Claims `n` (`1..=capacity`) contiguous slots; returns the first
    /// sequence, or `None` if they are not all free.
    #[inline]
    fn claim(&self, n: usize) -> Option<u64> {
        let core = &*self.ring.core;
        let cap = core.capacity as u64;
        let n = n as u64;
        let mut cur = core.prod.tail.load(Ordering::Relaxed);
        loop {
            // Acquire (and the release below): whoever trusts the cached
            // value synchronises with the consumer's release of `head`.
            let mut head = core.prod.cached_head.load(Ordering::Acquire);
            if cur + n > head + cap {
                head = core.head.load(Ordering::Acquire);
                core.prod.cached_head.store(head, Ordering::Release);
                if cur + n > head + cap {
                    return None;
                }
            }
            // Relaxed: the claim carries no data (the marks publish it), and
            // a successful CAS proves `cur` was current, so the room check
            // above holds for the range.
            match core.prod.tail.compare_exchange_weak(
                cur,
                cur + n,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => return Some(cur),
                Err(actual) => cur = actual,
            }
        }
    }

    /// Pushes one item if there is room, without waiting.
    ///
    /// ```
    /// let (tx, mut rx) = ringmq::ring::mpsc::<u32>(4).unwrap();
    /// let tx2 = tx.clone();
    /// tx.try_push(1).unwrap();
    /// tx2.try_push(2).unwrap();
    /// assert_eq!(rx.try_pop(), Ok(1));
    /// assert_eq!(rx.try_pop(), Ok(2));
    /// ```
    #[inline]
    pub fn try_push(&self, item: T) -> Result<(), PushError<T>> {
        if self.ring.core.consumer_gone() {
            return Err(PushError::Disconnected(item));
        }
        let Some(seq) = self.claim(1) else {
            return Err(PushError::Full(item));
        };
        let mut p = MpPublish {
            ring: &self.ring,
            next: seq,
            end: seq + 1,
        };
        p.write_next(item);
        Ok(())
    }

    /// Pushes one item, waiting for room per the ring's wait strategy. Fails
    /// only with `Disconnected`.
    #[inline]
    pub fn push(&self, item: T) -> Result<(), PushError<T>> {
        match self.try_push(item) {
            Err(PushError::Full(v)) => unbounded(wait_push(
                &mut &*self,
                |p| &p.ring.core,
                1,
                Deadline::never(),
                v,
                |p, v| p.try_push(v),
            )),
            r => r,
        }
    }

    /// Pushes one item, waiting at most `timeout` for room.
    pub fn push_timeout(&self, item: T, timeout: Duration) -> Result<(), PushTimeoutError<T>> {
        match self.try_push(item) {
            Ok(()) => Ok(()),
            Err(PushError::Disconnected(v)) => Err(PushTimeoutError::Disconnected(v)),
            Err(PushError::Full(v)) => wait_push(
                &mut &*self,
                |p| &p.ring.core,
                1,
                Deadline::after(timeout),
                v,
                |p, v| p.try_push(v),
            ),
        }
    }

    /// Pushes a whole batch into contiguous slots, or nothing.
    ///
    /// The range is claimed with one compare-and-swap, so the batch's items
    /// are never interleaved with another producer's (multipart messages
    /// rely on this). Without room for all of `items.len()`, `Full(items)`
    /// comes back untouched; a batch longer than
    /// [`capacity`](Self::capacity) always gets `Full`. If the iterator
    /// yields fewer items than it announced, the unfilled slots are skipped
    /// by the consumer; items beyond its announced length are left in it.
    #[inline]
    pub fn try_push_batch<I: ExactSizeIterator<Item = T>>(
        &self,
        mut items: I,
    ) -> Result<(), PushError<I>> {
        if self.ring.core.consumer_gone() {
            return Err(PushError::Disconnected(items));
        }
        let n = items.len();
        if n == 0 {
            return Ok(());
        }
        if n > self.ring.core.capacity {
            return Err(PushError::Full(items));
        }
        let Some(seq) = self.claim(n) else {
            return Err(PushError::Full(items));
        };
        let mut p = MpPublish {
            ring: &self.ring,
            next: seq,
            end: seq + n as u64,
        };
        for item in items.by_ref().take(n) {
            p.write_next(item);
        }
        Ok(())
    }

    /// Pushes a whole batch, waiting for room for all of it. A batch longer
    /// than [`capacity`](Self::capacity) fails at once with `Full(items)`;
    /// otherwise this fails only with `Disconnected`.
    pub fn push_batch<I: ExactSizeIterator<Item = T>>(&self, items: I) -> Result<(), PushError<I>> {
        let n = items.len();
        match self.try_push_batch(items) {
            Err(PushError::Full(it)) if n <= self.ring.core.capacity => unbounded(wait_push(
                &mut &*self,
                |p| &p.ring.core,
                n,
                Deadline::never(),
                it,
                |p, v| p.try_push_batch(v),
            )),
            r => r,
        }
    }

    /// Pushes a whole batch, waiting at most `timeout` for room for all of
    /// it. A batch longer than [`capacity`](Self::capacity) gets
    /// `Timeout(items)` at once.
    pub fn push_batch_timeout<I: ExactSizeIterator<Item = T>>(
        &self,
        items: I,
        timeout: Duration,
    ) -> Result<(), PushTimeoutError<I>> {
        let n = items.len();
        match self.try_push_batch(items) {
            Ok(()) => Ok(()),
            Err(PushError::Disconnected(it)) => Err(PushTimeoutError::Disconnected(it)),
            Err(PushError::Full(it)) if n > self.ring.core.capacity => {
                Err(PushTimeoutError::Timeout(it))
            }
            Err(PushError::Full(it)) => wait_push(
                &mut &*self,
                |p| &p.ring.core,
                n,
                Deadline::after(timeout),
                it,
                |p, v| p.try_push_batch(v),
            ),
        }
    }

    /// Items in the ring (claimed, not yet released by the consumer).
    pub fn len(&self) -> usize {
        self.ring.core.len()
    }

    /// The ring's capacity.
    pub fn capacity(&self) -> usize {
        self.ring.core.capacity
    }

    /// True if the ring holds no item.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// True if the ring has no free slot.
    pub fn is_full(&self) -> bool {
        self.free_slots() == 0
    }

    /// Free slots now.
    pub fn free_slots(&self) -> usize {
        self.ring.core.free_now()
    }

    /// A metrics handle on this ring.
    pub fn stats(&self) -> RingStats {
        RingStats::new(Arc::clone(&self.ring.core))
    }

    /// Asks to be told when there is room; see
    /// [`Producer::register_space_waiter`].
    pub fn register_space_waiter(&self, n: StdArc<dyn Notify>) -> bool {
        self.ring.core.register_space_waiter(n, 1)
    }

    /// True once the consumer has been dropped.
    pub fn is_disconnected(&self) -> bool {
        self.ring.core.consumer_gone()
    }
}

impl<T> Drop for MpProducer<T> {
    fn drop(&mut self) {
        self.ring.core.drop_producer();
    }
}
