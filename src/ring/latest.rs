//! [`latest`]: a one-value channel whose writer overwrites the value the
//! reader has not taken yet, for queues that keep only the newest message
//! (`ZMQ_CONFLATE`).
//!
//! It is a triple buffer: three preallocated slots, one owned by the
//! writer, one by the reader, and one in the middle, named (with a flag
//! saying whether it holds an unread value) by a single atomic word. A
//! write fills the writer's slot and swaps it into the middle; a read swaps
//! its own, empty, slot into the middle and takes what it got. Both are one
//! read-modify-write on that word: no lock, no allocation, and no wait on
//! either side. Values move in and out; the reader never sees a value older
//! than one it already took.
//!
//! There is no wake-up machinery here: a user pairs it with a ring that
//! carries a token after each write (see [`LatestWriter::put`]).

use std::fmt;
use std::marker::PhantomData;

use crate::sync::{Arc, AtomicU32, Ordering, UnsafeCell};

/// The middle slot's index (low two bits) and whether it holds a value the
/// reader has not taken.
const INDEX: u32 = 0b11;
const FRESH: u32 = 0b100;

struct Shared<T> {
    slots: [UnsafeCell<Option<T>>; 3],
    middle: AtomicU32,
}

// SAFETY: each slot is reached by one side at a time: the writer's and the
// reader's by their owners alone, the middle one by nobody until a swap on
// `middle` hands it over (AcqRel, so what one side wrote to a slot is seen
// by the side that receives it). Values of `T` cross threads, hence
// `T: Send`; no `&T` is ever shared, so `T: Sync` is not needed.
unsafe impl<T: Send> Send for Shared<T> {}
// SAFETY: as above: the only shared access is through the atomic.
unsafe impl<T: Send> Sync for Shared<T> {}

/// A new channel, empty.
///
/// ```
/// let (mut w, mut r) = ringmq::ring::latest::<u32>();
/// assert_eq!(r.take(), None);
/// assert_eq!(w.put(1), None);
/// assert_eq!(w.put(2), Some(1)); // 1 was never read: it comes back
/// assert_eq!(r.take(), Some(2));
/// assert_eq!(r.take(), None);
/// ```
pub fn latest<T: Send>() -> (LatestWriter<T>, LatestReader<T>) {
    let shared = Arc::new(Shared {
        slots: [
            UnsafeCell::new(None),
            UnsafeCell::new(None),
            UnsafeCell::new(None),
        ],
        middle: AtomicU32::new(1),
    });
    (
        LatestWriter {
            shared: Arc::clone(&shared),
            back: 0,
            _not_sync: PhantomData,
        },
        LatestReader {
            shared,
            front: 2,
            _not_sync: PhantomData,
        },
    )
}

/// The writing half of a [`latest`] channel.
pub struct LatestWriter<T> {
    shared: Arc<Shared<T>>,
    /// The slot this side owns.
    back: u32,
    _not_sync: PhantomData<std::cell::Cell<()>>,
}

/// The reading half of a [`latest`] channel.
pub struct LatestReader<T> {
    shared: Arc<Shared<T>>,
    /// The slot this side owns.
    front: u32,
    _not_sync: PhantomData<std::cell::Cell<()>>,
}

impl<T> fmt::Debug for LatestWriter<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LatestWriter").finish_non_exhaustive()
    }
}

impl<T> fmt::Debug for LatestReader<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LatestReader")
            .field("fresh", &self.is_fresh())
            .finish()
    }
}

impl<T> LatestWriter<T> {
    /// Makes `v` the value a read takes next, and returns the value it
    /// replaced if the reader had not taken it.
    ///
    /// The swap that publishes `v` is a read-modify-write, so a writer that
    /// then checks a ring the reader drains before it reads (to decide
    /// whether to post a wake-up token) cannot miss a read that found
    /// nothing: either that read came after this swap, and takes `v`, or it
    /// came before, and everything the reader did first is visible here.
    pub fn put(&mut self, v: T) -> Option<T> {
        let back = self.back as usize;
        // SAFETY: `back` is this writer's slot: no other side touches it
        // until the swap below hands it over.
        let old = self.shared.slots[back].with_mut(|p| unsafe { (*p).replace(v) });
        debug_assert!(
            old.is_none(),
            "the writer's slot is emptied when it is handed back"
        );
        drop(old);
        // AcqRel: release our write of the slot to the reader that swaps it
        // out; acquire the slot we get back (the reader emptied it, or it
        // holds the value we wrote before, unread).
        let prev = self.shared.middle.swap(self.back | FRESH, Ordering::AcqRel);
        self.back = prev & INDEX;
        if prev & FRESH == 0 {
            return None;
        }
        let back = self.back as usize;
        // SAFETY: the swap made `back` this writer's slot.
        self.shared.slots[back].with_mut(|p| unsafe { (*p).take() })
    }
}

impl<T> LatestReader<T> {
    /// Takes the newest value written since the last take, if any.
    pub fn take(&mut self) -> Option<T> {
        // AcqRel: acquire the writer's value in the slot we get; release
        // our emptying of the slot we give up. A swap even when nothing is
        // fresh: as a read-modify-write it orders this read with the
        // writer's next swap (see `LatestWriter::put`).
        let prev = self.shared.middle.swap(self.front, Ordering::AcqRel);
        self.front = prev & INDEX;
        if prev & FRESH == 0 {
            return None;
        }
        let front = self.front as usize;
        // SAFETY: the swap made `front` this reader's slot.
        self.shared.slots[front].with_mut(|p| unsafe { (*p).take() })
    }

    /// Whether a value is waiting (a hint: the writer may add one at once).
    pub fn is_fresh(&self) -> bool {
        self.shared.middle.load(Ordering::Acquire) & FRESH != 0
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    struct Counted(std::sync::Arc<AtomicUsize>, u64);

    impl Drop for Counted {
        fn drop(&mut self) {
            self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
    }

    #[test]
    fn newest_wins_and_nothing_leaks() {
        let drops = std::sync::Arc::new(AtomicUsize::new(0));
        let (mut w, mut r) = latest::<Counted>();
        assert!(r.take().is_none());
        for round in 0..10u64 {
            // Several writes between reads: each replaced one comes back.
            for k in 0..round {
                if let Some(old) = w.put(Counted(drops.clone(), round * 100 + k)) {
                    assert_eq!(old.1, round * 100 + k - 1);
                }
            }
            if round > 0 {
                assert!(r.is_fresh());
                assert_eq!(r.take().map(|c| c.1), Some(round * 100 + round - 1));
            }
            assert!(!r.is_fresh());
            assert!(r.take().is_none());
        }
        let written: u64 = (0..10).sum();
        assert_eq!(
            drops.load(std::sync::atomic::Ordering::SeqCst),
            written as usize
        );
        // A value left unread is dropped with the channel.
        w.put(Counted(drops.clone(), 7));
        drop((w, r));
        assert_eq!(
            drops.load(std::sync::atomic::Ordering::SeqCst),
            written as usize + 1
        );
    }

    #[test]
    fn a_reader_on_another_thread_sees_values_in_order() {
        let n: u64 = if cfg!(miri) { 200 } else { 20_000 };
        let (mut w, mut r) = latest::<u64>();
        let t = std::thread::spawn(move || {
            for v in 1..=n {
                w.put(v);
            }
        });
        let mut last = 0;
        while last < n {
            if let Some(v) = r.take() {
                assert!(v > last, "{v} after {last}");
                last = v;
            }
        }
        t.join().unwrap();
        assert_eq!(r.take(), None);
    }
}
