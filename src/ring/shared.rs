//! State shared by the two ends of a ring: the slot array, the cursors, the
//! publish marks (MPSC), and the wake-up machinery.
//!
//! # Sequences and orderings
//!
//! Every item gets a `u64` sequence number (they never wrap in practice: at
//! 10^10 items/s that takes 58 years); its slot is `seq & mask`.
//!
//! * `head` (written by the consumer only): every slot below it has been
//!   read and may be reused. Stored with `Release` after the reads, loaded
//!   with `Acquire` by producers before they overwrite a slot, so a slot's
//!   read happens-before its next write.
//! * `tail`: for SPSC the publish cursor: every slot below it holds an item.
//!   Stored with `Release` after the writes, loaded with `Acquire` by the
//!   consumer before reading. For MPSC the claim cursor: producers take a
//!   range `[t, t + n)` with one compare-and-swap (`Relaxed`: it carries no
//!   data; the data is published by the marks), then write the slots and
//!   store each slot's mark (`Release`), which the consumer loads
//!   (`Acquire`) before reading. A mark holds `seq << 1 | 1` (an item) or
//!   `seq << 1` (a hole: a claimed slot whose batch iterator ran short or
//!   panicked; the consumer skips it). Marks start at `u64::MAX`, which no
//!   reachable sequence produces.
//! * MPSC producers share a cached copy of `head` (`cached_head`). It is
//!   written with `Release` right after an `Acquire` load of `head` and read
//!   with `Acquire`, so a producer that trusts it still synchronises (by
//!   transitivity) with the consumer's release of the slots it will write.
//!
//! # Wake-ups
//!
//! Only `Park` rings sleep, so only they pay for wake-ups; `BusySpin` and
//! `Yield` rings skip both handshakes (their publish and release are a
//! single store) and refuse sleep announcements and space waiters.
//! Both directions use the same Dekker-style handshake, with a barrier on
//! each side: a `SeqCst` fence on both (loom models `fence(SeqCst)` exactly,
//! unlike `SeqCst` accesses), or, on rings built with
//! [`Builder::asymmetric_wakeups`](super::Builder::asymmetric_wakeups), a
//! compiler barrier on the publishing/releasing side and a process-wide
//! barrier on the sleeping/waiting side (see `barrier`):
//!
//! * consumer going to sleep: store the `sleep` announcement, fence, re-check
//!   for items (and for disconnection); producer: publish, fence, load
//!   `sleep`. At least one side sees the other's store, so either the
//!   consumer does not sleep or the producer wakes it. The producer that
//!   wins the `swap` of the announcement back to zero is the only one that
//!   wakes it.
//! * producer waiting for room: register a waiter and set `space`, fence,
//!   re-check `head` (and the consumer's liveness); consumer: store `head`,
//!   fence, load `space`.

use std::mem::MaybeUninit;

use super::barrier;
use super::pad::CachePadded;
use super::{CapacityError, Notify, WaitStrategy, MAX_CAPACITY};
use crate::sync::{
    fence, thread, Arc, AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Mutex, MutexGuard, Ordering,
    StdArc, UnsafeCell,
};

/// Nobody sleeps.
pub(crate) const SLEEP_NONE: u32 = 0;
/// The consumer announced sleep through `prepare_sleep`: call its notifier.
pub(crate) const SLEEP_NOTIFY: u32 = 1;
/// The consumer is parked in a blocking pop: unpark its thread.
pub(crate) const SLEEP_PARK: u32 = 2;

/// The mark of a published item.
#[inline(always)]
pub(crate) const fn mark_full(seq: u64) -> u64 {
    (seq << 1) | 1
}

/// The mark of a claimed slot that holds no item.
#[inline(always)]
pub(crate) const fn mark_hole(seq: u64) -> u64 {
    seq << 1
}

/// Mark value before any publish: no reachable sequence maps to it.
const MARK_INIT: u64 = u64::MAX;

/// Producer-written line.
#[derive(Debug)]
pub(crate) struct ProducerLine {
    /// SPSC: publish cursor. MPSC: claim cursor.
    pub(crate) tail: AtomicU64,
    /// MPSC: last `head` some producer loaded (a lower bound of `head`).
    pub(crate) cached_head: AtomicU64,
}

/// Read-mostly control words: read on every push or release, written only on
/// the slow paths (sleep, waiting for room, disconnect, producer clone).
#[derive(Debug)]
pub(crate) struct Control {
    /// The consumer's sleep announcement (`SLEEP_*`).
    pub(crate) sleep: AtomicU32,
    /// Non-zero while some producer waits for room.
    pub(crate) space: AtomicU32,
    /// Set once the consumer is dropped.
    pub(crate) consumer_gone: AtomicBool,
    /// Live producer handles.
    pub(crate) producers: AtomicUsize,
}

/// Who to wake when the consumer's announcement is taken.
struct WakeSlot {
    notifier: Option<StdArc<dyn Notify>>,
    thread: Option<thread::Thread>,
}

/// The non-generic part of a ring: cursors, marks, wake state. Separate from
/// the slots so that [`RingStats`](super::RingStats) needs no type parameter.
pub(crate) struct Core {
    pub(crate) head: CachePadded<AtomicU64>,
    pub(crate) prod: CachePadded<ProducerLine>,
    pub(crate) ctl: CachePadded<Control>,
    /// Per-slot publish marks; empty for SPSC rings.
    marks: Box<[AtomicU64]>,
    /// The most items the ring holds at a time (at most the slot count).
    pub(crate) capacity: usize,
    /// The slot count minus one (the slot count is a power of two).
    pub(crate) mask: u64,
    pub(crate) multi: bool,
    pub(crate) strategy: WaitStrategy,
    /// True for `Park` rings: only they run the sleep and room handshakes
    /// (a fence and a load per publish and per release). `BusySpin` and
    /// `Yield` rings never sleep, so they skip them and refuse
    /// announcements and waiter registrations.
    pub(crate) wakeups: bool,
    /// The handshakes are asymmetric: publishes and releases run a compiler
    /// barrier, sleep announcements and space-waiter registrations a
    /// process-wide one.
    pub(crate) asymmetric: bool,
    /// The CPU can prefetch a line for writing (see `Ring::prefetch_ahead`).
    prefetch_write: bool,
    wake: Mutex<WakeSlot>,
    space_waiters: Mutex<Vec<StdArc<dyn Notify>>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding one of these locks cannot leave the guarded data
    // inconsistent (single pushes/assignments), so poisoning is ignored.
    match m.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}

impl Core {
    /// The length of the slot array (a power of two, at least `capacity`).
    #[inline(always)]
    pub(crate) fn slots(&self) -> usize {
        self.mask as usize + 1
    }

    /// The mark of the slot holding `seq` (MPSC rings only).
    #[inline(always)]
    pub(crate) fn mark(&self, seq: u64) -> &AtomicU64 {
        debug_assert!(self.multi);
        let i = (seq & self.mask) as usize;
        &self.marks[i]
    }

    /// Whether the consumer is gone (`Relaxed`: an advisory check; the
    /// blocking paths re-check after a fence).
    #[inline(always)]
    pub(crate) fn consumer_gone(&self) -> bool {
        self.ctl.consumer_gone.load(Ordering::Relaxed)
    }

    /// Whether every producer is gone. `Acquire` pairs with the `AcqRel`
    /// decrement of the last producer's drop, so everything it published is
    /// visible afterwards.
    #[inline]
    pub(crate) fn producers_gone(&self) -> bool {
        self.ctl.producers.load(Ordering::Acquire) == 0
    }

    /// Published-or-claimed items not yet released (a snapshot).
    #[inline]
    pub(crate) fn len(&self) -> usize {
        let head = self.head.load(Ordering::Acquire);
        let tail = self.prod.tail.load(Ordering::Acquire);
        (tail.saturating_sub(head) as usize).min(self.capacity)
    }

    /// Free slots as seen now, from the shared cursors.
    #[inline]
    pub(crate) fn free_now(&self) -> usize {
        self.capacity - self.len()
    }

    /// The producer side of the sleep handshake, called after every publish:
    /// one (light) barrier and one load when nobody sleeps.
    #[inline(always)]
    pub(crate) fn after_publish(&self) {
        if !self.wakeups {
            return;
        }
        barrier::light(self.asymmetric);
        if self.ctl.sleep.load(Ordering::Relaxed) != SLEEP_NONE {
            self.wake_consumer();
        }
    }

    /// Takes the consumer's announcement; whoever takes it wakes the
    /// consumer, exactly once.
    #[cold]
    #[inline(never)]
    pub(crate) fn wake_consumer(&self) {
        match self.ctl.sleep.swap(SLEEP_NONE, Ordering::AcqRel) {
            SLEEP_NOTIFY => {
                let n = lock(&self.wake).notifier.clone();
                if let Some(n) = n {
                    n.notify();
                }
            }
            SLEEP_PARK => {
                let t = lock(&self.wake).thread.clone();
                if let Some(t) = t {
                    t.unpark();
                }
            }
            _ => {}
        }
    }

    /// Sets or clears the consumer's notifier.
    pub(crate) fn set_notifier(&self, n: Option<StdArc<dyn Notify>>) {
        lock(&self.wake).notifier = n;
    }

    /// Records the thread a blocking pop parks on.
    pub(crate) fn set_consumer_thread(&self) {
        lock(&self.wake).thread = Some(thread::current());
    }

    /// Consumer side of the sleep handshake: announce `how`, run the (heavy)
    /// barrier, and report whether sleeping is safe (`ready` re-checks for
    /// items or disconnection after it). On `false` the announcement is
    /// withdrawn (a producer may still have taken it: one spurious wake).
    /// Also `false` if the process-wide barrier failed: without it a
    /// publish might go unseen, so the caller polls instead.
    #[inline]
    pub(crate) fn announce_sleep(&self, how: u32, ready: impl FnOnce() -> bool) -> bool {
        if !self.wakeups {
            return false;
        }
        // Read-modify-writes rather than plain stores: they are ordered
        // after any producer's `swap` of an earlier announcement, which
        // keeps loom's (partial) modification order exact here.
        self.ctl.sleep.swap(how, Ordering::Relaxed);
        if !barrier::heavy(self.asymmetric) || ready() {
            self.ctl.sleep.swap(SLEEP_NONE, Ordering::Relaxed);
            false
        } else {
            true
        }
    }

    /// The first half of a sleep handshake whose barrier the caller runs
    /// once for many rings: records the announcement `how` (no barrier).
    /// False, with nothing recorded, on a ring without wake-ups.
    #[inline]
    pub(crate) fn announce_sleep_unfenced(&self, how: u32) -> bool {
        if !self.wakeups {
            return false;
        }
        self.ctl.sleep.swap(how, Ordering::Relaxed);
        true
    }

    /// Withdraws an announcement.
    #[inline]
    pub(crate) fn cancel_sleep(&self) {
        if self.ctl.sleep.load(Ordering::Relaxed) != SLEEP_NONE {
            self.ctl.sleep.swap(SLEEP_NONE, Ordering::AcqRel);
        }
    }

    /// The consumer side of the room handshake, called after every release:
    /// one (light) barrier and one load when nobody waits.
    #[inline(always)]
    pub(crate) fn after_release(&self) {
        if !self.wakeups {
            return;
        }
        barrier::light(self.asymmetric);
        if self.ctl.space.load(Ordering::Relaxed) != 0 {
            self.wake_space_waiters();
        }
    }

    /// Notifies (and unregisters) every producer waiting for room.
    #[cold]
    #[inline(never)]
    pub(crate) fn wake_space_waiters(&self) {
        let waiters = {
            let mut g = lock(&self.space_waiters);
            self.ctl.space.swap(0, Ordering::Relaxed);
            std::mem::take(&mut *g)
        };
        for w in waiters {
            w.notify();
        }
    }

    /// Registers `n` to be notified after the consumer's next release,
    /// unless `needed` slots are already free or the consumer is gone
    /// (then returns false and leaves nothing registered).
    pub(crate) fn register_space_waiter(&self, n: StdArc<dyn Notify>, needed: usize) -> bool {
        if !self.register_space_waiter_unfenced(&n, needed) {
            return false;
        }
        if barrier::heavy(self.asymmetric) {
            self.confirm_space_waiter(&n, needed)
        } else {
            // No barrier, no promise: withdraw (unless the consumer already
            // took the waiter, which it then notifies).
            !self.unregister_space_waiter(&n)
        }
    }

    /// The first half of [`register_space_waiter`](Self::register_space_waiter)
    /// for a caller that runs the barrier once for many rings: records `n`
    /// (no barrier). False, with nothing recorded, if there is room already
    /// or the consumer is gone.
    pub(crate) fn register_space_waiter_unfenced(
        &self,
        n: &StdArc<dyn Notify>,
        needed: usize,
    ) -> bool {
        let needed = needed.clamp(1, self.capacity);
        if !self.wakeups || self.consumer_gone() || self.free_now() >= needed {
            return false;
        }
        let mut g = lock(&self.space_waiters);
        if !g.iter().any(|w| StdArc::ptr_eq(w, n)) {
            g.push(n.clone());
        }
        self.ctl.space.swap(1, Ordering::Relaxed);
        true
    }

    /// The second half, after the barrier: true if `n` waits (it will be
    /// notified), false (withdrawn) if room appeared or the consumer left.
    pub(crate) fn confirm_space_waiter(&self, n: &StdArc<dyn Notify>, needed: usize) -> bool {
        let needed = needed.clamp(1, self.capacity);
        if self.ctl.consumer_gone.load(Ordering::Relaxed) || self.free_now() >= needed {
            // Room appeared meanwhile. If the waiter is still in the list,
            // withdraw it; if the consumer already took it, it is notified,
            // which is what `true` promises.
            return !self.unregister_space_waiter(n);
        }
        true
    }

    /// Removes `n` from the waiters; true if it was there.
    pub(crate) fn unregister_space_waiter(&self, n: &StdArc<dyn Notify>) -> bool {
        let mut g = lock(&self.space_waiters);
        match g.iter().position(|w| StdArc::ptr_eq(w, n)) {
            Some(i) => {
                g.swap_remove(i);
                if g.is_empty() {
                    self.ctl.space.swap(0, Ordering::Relaxed);
                }
                true
            }
            None => false,
        }
    }

    /// Called once when the consumer handle is dropped.
    pub(crate) fn disconnect_consumer(&self) {
        self.ctl.consumer_gone.swap(true, Ordering::Release);
        fence(Ordering::SeqCst);
        self.wake_space_waiters();
    }

    /// Called when a producer handle is dropped; the last one wakes a
    /// sleeping consumer so it can observe the disconnect.
    pub(crate) fn drop_producer(&self) {
        if self.ctl.producers.fetch_sub(1, Ordering::AcqRel) == 1 {
            fence(Ordering::SeqCst);
            if self.ctl.sleep.load(Ordering::Relaxed) != SLEEP_NONE {
                self.wake_consumer();
            }
        }
    }
}

type Slot<T> = UnsafeCell<MaybeUninit<T>>;

/// The slots plus a handle on the core; dropping the last handle drops the
/// items still in the ring, exactly once.
pub(crate) struct Ring<T> {
    pub(crate) core: Arc<Core>,
    slots: Box<[Slot<T>]>,
}

// SAFETY: the ring moves `T`s between threads (so `T: Send` is required) and
// never hands out shared references to one `T` to two threads at once: a slot
// is accessed by the one producer that owns it (between claim and publish) or
// by the consumer (between publish and release), with the acquire/release
// pairs described in the module docs ordering the two.
unsafe impl<T: Send> Send for Ring<T> {}
// SAFETY: as above; `&Ring<T>` only gives access through those protocols.
unsafe impl<T: Send> Sync for Ring<T> {}

impl<T> Ring<T> {
    /// Allocates a ring of `capacity` slots, a power of two in
    /// `1..=MAX_CAPACITY`, holding at most `limit` items at a time
    /// (`1..=capacity`; all of them if `None`).
    pub(crate) fn new(
        capacity: usize,
        limit: Option<usize>,
        multi: bool,
        strategy: WaitStrategy,
        asymmetric: bool,
    ) -> Result<Arc<Ring<T>>, CapacityError> {
        let err = |reason| CapacityError {
            requested: capacity,
            reason,
        };
        if capacity == 0 {
            return Err(err("capacity must be at least 1"));
        }
        if !capacity.is_power_of_two() {
            return Err(err("capacity must be a power of two (it is never rounded)"));
        }
        if capacity > MAX_CAPACITY {
            return Err(err("capacity is larger than ring::MAX_CAPACITY"));
        }
        let limit = limit.unwrap_or(capacity);
        if limit == 0 || limit > capacity {
            return Err(err("the limit must be at least 1 and at most the capacity"));
        }
        let mut slots: Vec<Slot<T>> = Vec::new();
        slots
            .try_reserve_exact(capacity)
            .map_err(|_| err("the slot array could not be allocated"))?;
        slots.extend((0..capacity).map(|_| UnsafeCell::new(MaybeUninit::uninit())));
        let mut marks: Vec<AtomicU64> = Vec::new();
        if multi {
            marks
                .try_reserve_exact(capacity)
                .map_err(|_| err("the publish marks could not be allocated"))?;
            marks.extend((0..capacity).map(|_| AtomicU64::new(MARK_INIT)));
        }
        let core = Arc::new(Core {
            head: CachePadded(AtomicU64::new(0)),
            prod: CachePadded(ProducerLine {
                tail: AtomicU64::new(0),
                cached_head: AtomicU64::new(0),
            }),
            ctl: CachePadded(Control {
                sleep: AtomicU32::new(SLEEP_NONE),
                space: AtomicU32::new(0),
                consumer_gone: AtomicBool::new(false),
                producers: AtomicUsize::new(1),
            }),
            marks: marks.into_boxed_slice(),
            capacity: limit,
            mask: capacity as u64 - 1,
            multi,
            strategy,
            wakeups: strategy == WaitStrategy::Park,
            asymmetric: asymmetric
                && strategy == WaitStrategy::Park
                && barrier::asymmetric_available(),
            prefetch_write: cpu_prefetches_for_write(),
            wake: Mutex::new(WakeSlot {
                notifier: None,
                thread: None,
            }),
            space_waiters: Mutex::new(Vec::new()),
        });
        Ok(Arc::new(Ring {
            core,
            slots: slots.into_boxed_slice(),
        }))
    }

    #[inline(always)]
    fn slot(&self, seq: u64) -> &Slot<T> {
        let i = (seq & self.core.mask) as usize;
        debug_assert!(i < self.slots.len());
        // SAFETY: `mask` is `slots.len() - 1` with `slots.len()` a power of
        // two, so `i < slots.len()`.
        unsafe { self.slots.get_unchecked(i) }
    }

    /// How far ahead of its write position a producer prefetches: about
    /// 1 KiB of slots, at least one.
    const PREFETCH_AHEAD: u64 = {
        let size = std::mem::size_of::<T>();
        if size == 0 || size >= 1024 {
            1
        } else {
            (1024 / size) as u64
        }
    };

    /// A producer about to write the `n` slots from `seq`, with `free`
    /// slots from `seq` on known to be free, asks the CPU to fetch for
    /// writing the lines of the `n` slots [`PREFETCH_AHEAD`](Self::PREFETCH_AHEAD)
    /// further on (at most 64 lines). The consumer's core read those lines
    /// on the previous lap, so each write would otherwise wait for its own
    /// transfer back, and a producer stalls on them one by one once its
    /// store buffer fills. Only a hint: it changes no value, and the slots
    /// are free, so the consumer is not reading them. A no-op where the CPU
    /// lacks the instruction, and under loom and miri.
    #[inline(always)]
    pub(crate) fn prefetch_ahead(&self, seq: u64, n: usize, free: usize) {
        #[cfg(all(not(loom), not(miri), target_arch = "x86_64"))]
        if self.core.prefetch_write && free as u64 >= Self::PREFETCH_AHEAD + n as u64 {
            let size = std::mem::size_of::<T>().max(1);
            let from = seq + Self::PREFETCH_AHEAD;
            // One prefetch per line: slots `step` apart start on different
            // lines; a slot longer than a line also gets its last byte.
            let step = (64 / size).max(1);
            let lines = n.div_ceil(step).min(64);
            for k in 0..lines {
                let first = self.slot_ptr(from + (k * step) as u64).cast::<u8>();
                prefetch_write(first);
                if size > 64 {
                    prefetch_write(first.wrapping_add(size - 1));
                }
            }
            if size <= 64 {
                // The tail of the last slot may start a line of its own.
                let last = self.slot_ptr(from + n as u64 - 1).cast::<u8>();
                prefetch_write(last.wrapping_add(size - 1));
            }
        }
        #[cfg(any(loom, miri, not(target_arch = "x86_64")))]
        let _ = (seq, n, free, self.core.prefetch_write, Self::PREFETCH_AHEAD);
    }

    /// Moves `value` into the slot of `seq`.
    ///
    /// # Safety
    /// The caller owns the slot: it claimed `seq` (the slot is free: its
    /// previous item was released, with the acquire/release pairing of the
    /// module docs) and nobody else writes or reads it until it publishes.
    #[inline(always)]
    pub(crate) unsafe fn write(&self, seq: u64, value: T) {
        self.slot(seq).with_mut(|p| {
            // SAFETY: exclusive access to the slot per this function's
            // contract; writing a `MaybeUninit` never drops an old value.
            unsafe { (*p).write(value) };
        });
    }

    /// A raw pointer to the item storage of the slot of `seq` (not under
    /// loom, whose cells are not laid out like `T`). Writing through it is
    /// subject to the same contract as [`Ring::write`].
    #[cfg(not(loom))]
    #[inline(always)]
    pub(crate) fn slot_ptr(&self, seq: u64) -> *mut T {
        let i = (seq & self.core.mask) as usize;
        debug_assert!(i < self.slots.len());
        // SAFETY: `i < slots.len()` (mask is `len - 1`), so the offset stays
        // inside the array; the result points into an `UnsafeCell`, whose
        // contents may be written through a pointer derived from a shared
        // reference, and `UnsafeCell<MaybeUninit<T>>` is laid out as `T`.
        unsafe { self.slots.as_ptr().add(i).cast::<T>().cast_mut() }
    }

    /// The items of `len` consecutive sequences from `seq`, borrowed in
    /// place.
    ///
    /// # Safety
    /// The caller is the consumer; every sequence in `seq..seq + len` is
    /// published (observed with acquire) and not yet read or released, and
    /// the range does not wrap around the end of the slot array. The slots
    /// must stay unreleased while the slice lives.
    #[cfg(not(loom))]
    #[inline]
    pub(crate) unsafe fn slice(&self, seq: u64, len: usize) -> &[T] {
        let i = (seq & self.core.mask) as usize;
        debug_assert!(i + len <= self.slots.len());
        // SAFETY: a slot is `UnsafeCell<MaybeUninit<T>>`, both wrappers
        // `repr(transparent)`, so `len` slots from `i` are laid out as a
        // `[T; len]`; they lie inside the array (no wrap, per the contract)
        // and hold initialised items that no producer writes until they are
        // released, which the borrow of the consumer prevents meanwhile.
        unsafe { std::slice::from_raw_parts(self.slots.as_ptr().add(i).cast::<T>(), len) }
    }

    /// Moves the item out of the slot of `seq`.
    ///
    /// # Safety
    /// The caller is the consumer, `seq` is published (observed with
    /// acquire) and not yet read; after this the slot counts as empty.
    #[inline(always)]
    pub(crate) unsafe fn read(&self, seq: u64) -> T {
        self.slot(seq).with(|p| {
            // SAFETY: the slot holds an initialised item, published before
            // and read only once (per this function's contract).
            unsafe { (*p).assume_init_read() }
        })
    }

    /// A reference to the item in the slot of `seq`.
    ///
    /// # Safety
    /// As for [`Ring::read`], and the slot must stay unread and unreleased
    /// while the reference lives.
    #[inline(always)]
    pub(crate) unsafe fn get(&self, seq: u64) -> &T {
        self.slot(seq).with(|p| {
            // SAFETY: initialised and published per this function's
            // contract; only the consumer may read it until it is released.
            unsafe { (*p).assume_init_ref() }
        })
    }
}

impl<T> Drop for Ring<T> {
    fn drop(&mut self) {
        if !std::mem::needs_drop::<T>() {
            return;
        }
        // Every handle is gone (this is the last `Arc`), so the cursors are
        // final and every claimed slot was published (producers publish or
        // mark a hole even when unwinding).
        let core = &*self.core;
        let head = core.head.load(Ordering::Acquire);
        let tail = core.prod.tail.load(Ordering::Acquire);
        for seq in head..tail {
            if core.multi && core.mark(seq).load(Ordering::Acquire) != mark_full(seq) {
                continue;
            }
            // SAFETY: `seq` is in the published, unreleased range and no
            // handle remains, so the item is initialised and read only here.
            drop(unsafe { self.read(seq) });
        }
    }
}

/// Asks for the line holding `p` in the exclusive state, ready to write.
#[cfg(all(not(loom), not(miri), target_arch = "x86_64"))]
#[inline(always)]
fn prefetch_write(p: *const u8) {
    // SAFETY: `prefetchw` reads and writes no memory as far as the program
    // can tell and never faults, whatever the address; callers run it only
    // where the CPU implements it (`cpu_prefetches_for_write`).
    unsafe {
        std::arch::asm!(
            "prefetchw [{0}]",
            in(reg) p,
            options(nostack, preserves_flags, readonly)
        );
    }
}

/// Whether this CPU implements `prefetchw` (CPUID 8000_0001h, ECX bit 8, on
/// both AMD and Intel).
fn cpu_prefetches_for_write() -> bool {
    #[cfg(all(not(loom), not(miri), target_arch = "x86_64"))]
    {
        use std::arch::x86_64::__cpuid;
        // SAFETY: CPUID exists on every x86_64 CPU and only reads
        // identification registers; leaf 8000_0001h is read only after leaf
        // 8000_0000h says it exists. (Newer compilers consider `__cpuid`
        // safe, hence the `allow`.)
        #[allow(unused_unsafe)]
        let ecx = unsafe {
            if __cpuid(0x8000_0000).eax < 0x8000_0001 {
                return false;
            }
            __cpuid(0x8000_0001).ecx
        };
        ecx & (1 << 8) != 0
    }
    #[cfg(any(loom, miri, not(target_arch = "x86_64")))]
    false
}
