//! Unit and randomized tests of the rings (small under miri).

use std::sync::atomic::{AtomicUsize, Ordering as O};
use std::sync::Arc as SArc;
use std::thread;
use std::time::Duration;

use super::*;

const STRATEGIES: [WaitStrategy; 3] = [
    WaitStrategy::BusySpin,
    WaitStrategy::Yield,
    WaitStrategy::Park,
];

/// Every wait strategy, plus `Park` with asymmetric wake-ups.
const CONFIGS: [(WaitStrategy, bool); 4] = [
    (WaitStrategy::BusySpin, false),
    (WaitStrategy::Yield, false),
    (WaitStrategy::Park, false),
    (WaitStrategy::Park, true),
];

/// A ring builder for one of [`CONFIGS`].
fn builder(cap: usize, (s, asymmetric): (WaitStrategy, bool)) -> Builder {
    Builder::new(cap)
        .wait_strategy(s)
        .asymmetric_wakeups(asymmetric)
}

/// Scales iteration counts down under miri.
fn n(normal: u64, miri: u64) -> u64 {
    if cfg!(miri) {
        miri
    } else {
        normal
    }
}

/// A tiny xorshift64* generator.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Counts drops of values of this type in a shared counter.
#[derive(Debug)]
struct Counted(SArc<AtomicUsize>, #[allow(dead_code)] u64);

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.fetch_add(1, O::SeqCst);
    }
}

/// Counts notify calls.
#[derive(Default)]
struct CountNotify(AtomicUsize);

impl Notify for CountNotify {
    fn notify(&self) {
        self.0.fetch_add(1, O::SeqCst);
    }
}

fn counter() -> (SArc<CountNotify>, SArc<dyn Notify>) {
    let c = SArc::new(CountNotify::default());
    let d: SArc<dyn Notify> = c.clone();
    (c, d)
}

/// An iterator that announces more items than it yields.
struct ShortIter {
    next: u64,
    yields: u64,
    claims: usize,
}

impl Iterator for ShortIter {
    type Item = u64;
    fn next(&mut self) -> Option<u64> {
        if self.next < self.yields {
            self.next += 1;
            Some(self.next - 1)
        } else {
            None
        }
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.claims, Some(self.claims))
    }
}
impl ExactSizeIterator for ShortIter {}

#[test]
fn capacity_is_checked_not_rounded() {
    for bad in [0usize, 3, 6, 1000, MAX_CAPACITY + 1, MAX_CAPACITY * 2] {
        let e = spsc::<u8>(bad).unwrap_err();
        assert_eq!(e.requested(), bad);
        assert!(e.to_string().contains(&bad.to_string()), "{e}");
        assert!(mpsc::<u8>(bad).is_err());
    }
    assert!(spsc::<u8>(0)
        .unwrap_err()
        .to_string()
        .contains("at least 1"));
    assert!(spsc::<u8>(3)
        .unwrap_err()
        .to_string()
        .contains("power of two"));
    for good in [1usize, 2, 64] {
        let (tx, rx) = spsc::<u8>(good).unwrap();
        assert_eq!((tx.capacity(), rx.capacity()), (good, good));
        let (tx, _rx) = mpsc::<u8>(good).unwrap();
        assert_eq!(tx.capacity(), good);
    }
}

#[test]
fn spsc_fifo_full_empty_wraparound() {
    let (mut tx, mut rx) = spsc::<u64>(4).unwrap();
    assert!(tx.is_empty() && rx.is_empty());
    assert_eq!(rx.try_pop(), Err(PopError::Empty));
    let mut next_in = 0;
    let mut next_out = 0;
    for round in 0..10 {
        let k = 1 + round % 4;
        for _ in 0..k {
            tx.try_push(next_in).unwrap();
            next_in += 1;
        }
        assert_eq!(tx.len(), k as usize);
        if k == 4 {
            assert!(tx.is_full());
            assert_eq!(tx.free_slots(), 0);
            assert!(matches!(tx.try_push(99), Err(PushError::Full(99))));
        }
        for _ in 0..k {
            assert_eq!(rx.try_pop(), Ok(next_out));
            next_out += 1;
        }
        assert_eq!(rx.try_pop(), Err(PopError::Empty));
    }
    let s = tx.stats();
    assert_eq!(
        (s.total_pushed(), s.total_popped(), s.len()),
        (next_in, next_in, 0)
    );
}

#[test]
fn vacant_slots_across_wraparound_and_disconnect() {
    let drops = SArc::new(AtomicUsize::new(0));
    let (mut tx, mut rx) = spsc::<Counted>(4).unwrap();
    let mut next_in = 0;
    let mut next_out = 0;
    for round in 0..7 {
        // A slot found and left unwritten changes nothing.
        let _unused = tx.vacant().unwrap();
        assert_eq!(tx.len(), 0);
        let k = 1 + round % 4;
        for _ in 0..k {
            tx.vacant().unwrap().write(Counted(drops.clone(), next_in));
            next_in += 1;
        }
        if k == 4 {
            assert!(matches!(tx.vacant(), Err(PushError::Full(()))));
        }
        for _ in 0..k {
            assert_eq!(rx.try_pop().unwrap().1, next_out);
            next_out += 1;
        }
    }
    assert_eq!(drops.load(O::SeqCst), next_in as usize);
    // Staged items go out before the slot a vacant write fills.
    tx.stage(Counted(drops.clone(), 100)).unwrap();
    tx.vacant().unwrap().write(Counted(drops.clone(), 101));
    assert_eq!(rx.try_pop().unwrap().1, 100);
    assert_eq!(rx.try_pop().unwrap().1, 101);
    tx.vacant().unwrap().write(Counted(drops.clone(), 102));
    drop(rx);
    assert!(matches!(tx.vacant(), Err(PushError::Disconnected(()))));
    drop(tx);
    // Every item, including the one left in the ring, dropped once.
    assert_eq!(drops.load(O::SeqCst), next_in as usize + 3);
}

#[test]
fn capacity_one_ring() {
    for multi in [false, true] {
        let (mut push, mut rx): (Box<dyn FnMut(u8) -> bool>, Consumer<u8>) = if multi {
            let (tx, rx) = mpsc::<u8>(1).unwrap();
            (Box::new(move |v| tx.try_push(v).is_ok()), rx)
        } else {
            let (mut tx, rx) = spsc::<u8>(1).unwrap();
            (Box::new(move |v| tx.try_push(v).is_ok()), rx)
        };
        for i in 0..5 {
            assert!(push(i));
            assert!(!push(100));
            assert_eq!(rx.try_pop(), Ok(i));
        }
    }
}

#[test]
fn batch_push_is_all_or_nothing() {
    let (mut tx, mut rx) = spsc::<u64>(8).unwrap();
    tx.try_push_batch(r(0..5)).unwrap();
    // 5 + 4 > 8: nothing taken from the iterator.
    let back = tx.try_push_batch(r(5..9)).unwrap_err();
    assert!(back.is_full());
    assert_eq!(back.into_inner().collect::<Vec<_>>(), [5, 6, 7, 8]);
    assert_eq!(tx.len(), 5);
    tx.try_push_batch(r(5..8)).unwrap();
    assert!(tx.is_full());
    // Longer than the capacity: Full forever, and the blocking forms fail at once.
    let (mut tx2, _rx2) = spsc::<u64>(4).unwrap();
    assert!(tx2.try_push_batch(r(0..5)).unwrap_err().is_full());
    assert!(tx2.push_batch(r(0..5)).unwrap_err().is_full());
    assert!(matches!(
        tx2.push_batch_timeout(r(0..5), Duration::from_secs(100)),
        Err(PushTimeoutError::Timeout(_))
    ));
    tx2.try_push_batch(std::iter::empty()).unwrap();
    assert_eq!(tx2.len(), 0);
    assert_eq!(
        rx.try_pop_batch(100).unwrap().collect::<Vec<_>>(),
        (0..8).collect::<Vec<_>>()
    );

    let (tx, mut rx) = mpsc::<u64>(8).unwrap();
    tx.try_push_batch(r(0..5)).unwrap();
    assert_eq!(
        tx.try_push_batch(r(5..9)).unwrap_err().into_inner().len(),
        4
    );
    assert!(tx.push_batch(r(0..9)).unwrap_err().is_full());
    tx.try_push_batch(r(5..8)).unwrap();
    assert!(tx.is_full());
    assert_eq!(
        rx.try_pop_batch(100).unwrap().collect::<Vec<_>>(),
        (0..8).collect::<Vec<_>>()
    );
}

#[test]
fn write_claim_publishes_on_commit_or_drop() {
    let (mut tx, mut rx) = spsc::<u64>(8).unwrap();
    {
        let mut c = tx.claim(3);
        assert_eq!((c.len(), c.remaining()), (0, 3));
        c.push(1).unwrap();
        c.push(2).unwrap();
        assert_eq!((c.len(), c.remaining()), (2, 1));
        assert_eq!(rx.try_pop(), Err(PopError::Empty)); // not published yet
        c.push(3).unwrap();
        assert_eq!(c.push(4), Err(4));
    } // drop publishes
    assert_eq!(rx.len(), 3);
    let mut c = tx.claim(100);
    assert_eq!(c.remaining(), 5);
    c.push(10).unwrap();
    c.commit();
    tx.try_push_batch(r(11..15)).unwrap();
    assert_eq!(tx.claim(1).remaining(), 0);
    let got: Vec<_> = rx.try_pop_batch(100).unwrap().collect();
    assert_eq!(got, [1, 2, 3, 10, 11, 12, 13, 14]);
    // An empty claim publishes nothing.
    drop(tx.claim(0));
    assert_eq!(rx.try_pop(), Err(PopError::Empty));
}

#[test]
fn batch_pop_leaves_unyielded_items() {
    let (mut tx, mut rx) = spsc::<u64>(8).unwrap();
    tx.try_push_batch(r(0..6)).unwrap();
    {
        let mut b = rx.try_pop_batch(4).unwrap();
        assert_eq!(b.len(), 4);
        assert_eq!((b.peek(), b.get(3), b.get(4)), (Some(&0), Some(&3), None));
        assert_eq!(b.next(), Some(0));
        assert_eq!(b.next(), Some(1));
        assert_eq!(b.len(), 2);
        assert_eq!(b.peek(), Some(&2));
    }
    assert_eq!(tx.len(), 4);
    assert_eq!(tx.free_slots(), 4);
    assert!(rx.try_pop_batch(0).is_err());
    let mut out = Vec::new();
    assert_eq!(rx.drain_into(&mut out, 3), 3);
    assert_eq!(rx.drain_into(&mut out, 10), 1);
    assert_eq!(rx.drain_into(&mut out, 10), 0);
    assert_eq!(out, [2, 3, 4, 5]);
}

#[test]
fn leaked_batch_neither_rereads_nor_loses_slots() {
    let drops = SArc::new(AtomicUsize::new(0));
    let (mut tx, mut rx) = spsc::<Counted>(4).unwrap();
    for i in 0..4 {
        tx.try_push(Counted(drops.clone(), i)).unwrap();
    }
    let mut b = rx.try_pop_batch(4).unwrap();
    drop(b.next());
    drop(b.next());
    std::mem::forget(b);
    assert_eq!(drops.load(O::SeqCst), 2);
    // The two yielded items are not read again.
    let rest: Vec<_> = rx.try_pop_batch(4).unwrap().map(|c| c.1).collect();
    assert_eq!(rest, [2, 3]);
    assert_eq!(drops.load(O::SeqCst), 4);
    assert_eq!(tx.free_slots(), 4);
}

#[test]
fn items_left_at_teardown_are_dropped_once() {
    for multi in [false, true] {
        for consumer_first in [false, true] {
            let drops = SArc::new(AtomicUsize::new(0));
            let mut made = 0u64;
            let mut popped = 0usize;
            let (push, mut rx): (Box<dyn FnMut(Counted)>, Consumer<Counted>) = if multi {
                let (tx, rx) = mpsc::<Counted>(8).unwrap();
                (Box::new(move |c| tx.try_push(c).unwrap()), rx)
            } else {
                let (mut tx, rx) = spsc::<Counted>(8).unwrap();
                (Box::new(move |c| tx.try_push(c).unwrap()), rx)
            };
            let mut push = push;
            // Wrap around a few times, then leave some items behind and a
            // partially consumed batch.
            for _ in 0..3 {
                for _ in 0..6 {
                    push(Counted(drops.clone(), made));
                    made += 1;
                }
                popped += rx.try_pop_batch(6).unwrap().count();
            }
            for _ in 0..7 {
                push(Counted(drops.clone(), made));
                made += 1;
            }
            {
                let mut b = rx.try_pop_batch(5).unwrap();
                drop(b.next());
                drop(b.next());
                popped += 2;
            }
            assert_eq!(drops.load(O::SeqCst), popped);
            if consumer_first {
                drop(rx);
                assert_eq!(drops.load(O::SeqCst), popped);
                drop(push);
            } else {
                drop(push);
                assert_eq!(drops.load(O::SeqCst), popped);
                drop(rx);
            }
            assert_eq!(drops.load(O::SeqCst), made as usize, "multi={multi}");
        }
    }
}

#[test]
fn short_iterators_are_handled() {
    // SPSC: what the iterator yields is published.
    let (mut tx, mut rx) = spsc::<u64>(8).unwrap();
    tx.try_push_batch(ShortIter {
        next: 0,
        yields: 2,
        claims: 5,
    })
    .unwrap();
    assert_eq!(rx.try_pop_batch(8).unwrap().collect::<Vec<_>>(), [0, 1]);
    // MPSC: unfilled claimed slots become holes the consumer skips.
    let (tx, mut rx) = mpsc::<u64>(8).unwrap();
    tx.try_push_batch(ShortIter {
        next: 0,
        yields: 2,
        claims: 5,
    })
    .unwrap();
    tx.try_push(7).unwrap();
    tx.try_push_batch(ShortIter {
        next: 0,
        yields: 0,
        claims: 2,
    })
    .unwrap();
    assert_eq!(rx.try_pop_batch(8).unwrap().collect::<Vec<_>>(), [0, 1]);
    assert_eq!(rx.try_pop(), Ok(7));
    assert_eq!(rx.try_pop(), Err(PopError::Empty));
    // All slots are usable again.
    assert_eq!(tx.free_slots(), 8);
    tx.try_push_batch(r(10..18)).unwrap();
    assert_eq!(rx.try_pop_batch(8).unwrap().count(), 8);
}

#[test]
fn panicking_iterator_leaves_the_ring_usable() {
    let drops = SArc::new(AtomicUsize::new(0));
    let (tx, mut rx) = mpsc::<Counted>(8).unwrap();
    let d = drops.clone();
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let it = (0..4usize).map(|i| {
            let i = i as u64;
            if i == 2 {
                panic!("iterator failed");
            }
            Counted(d.clone(), i)
        });
        let _ = tx.try_push_batch(it);
    }));
    assert!(r.is_err());
    tx.try_push(Counted(drops.clone(), 9)).unwrap();
    let got: Vec<u64> = rx.try_pop_batch(8).unwrap().map(|c| c.1).collect();
    assert_eq!(got, [0, 1]);
    assert_eq!(rx.try_pop().map(|c| c.1), Ok(9));
    drop((tx, rx));
    assert_eq!(drops.load(O::SeqCst), 3);

    let (mut tx, mut rx) = spsc::<u64>(8).unwrap();
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let it = (0..4usize).map(|i| {
            if i == 3 {
                panic!("iterator failed")
            } else {
                i as u64
            }
        });
        let _ = tx.try_push_batch(it);
    }));
    assert!(r.is_err());
    assert_eq!(rx.try_pop_batch(8).unwrap().collect::<Vec<_>>(), [0, 1, 2]);
}

#[test]
fn producer_drop_disconnects_after_drain() {
    let (mut tx, mut rx) = spsc::<u64>(4).unwrap();
    tx.try_push_batch(r(0..3)).unwrap();
    assert!(!rx.is_disconnected());
    drop(tx);
    assert!(rx.is_disconnected());
    assert_eq!(rx.try_pop(), Ok(0));
    assert_eq!(rx.pop(), Ok(1));
    assert_eq!(rx.pop_timeout(Duration::from_millis(1)), Ok(2));
    assert_eq!(rx.try_pop(), Err(PopError::Disconnected));
    assert_eq!(rx.pop(), Err(PopError::Disconnected));
    assert!(matches!(rx.pop_batch(4), Err(PopError::Disconnected)));
    assert!(matches!(
        rx.pop_batch_timeout(4, Duration::from_secs(100)),
        Err(PopTimeoutError::Disconnected)
    ));
    assert!(!rx.prepare_sleep());

    let (tx, mut rx) = mpsc::<u64>(4).unwrap();
    let tx2 = tx.clone();
    tx.try_push(1).unwrap();
    drop(tx);
    assert!(!rx.is_disconnected());
    tx2.try_push(2).unwrap();
    drop(tx2);
    assert_eq!(rx.pop_batch(4).unwrap().collect::<Vec<_>>(), [1, 2]);
    assert_eq!(rx.pop(), Err(PopError::Disconnected));
}

#[test]
fn consumer_drop_disconnects_producers() {
    let (mut tx, rx) = spsc::<String>(4).unwrap();
    drop(rx);
    assert!(tx.is_disconnected());
    assert_eq!(
        tx.try_push("a".into()),
        Err(PushError::Disconnected("a".to_string()))
    );
    assert!(matches!(tx.push("b".into()), Err(PushError::Disconnected(s)) if s == "b"));
    assert!(matches!(
        tx.push_timeout("c".into(), Duration::from_secs(100)),
        Err(PushTimeoutError::Disconnected(_))
    ));
    let strings = vec!["x".to_string()];
    assert!(tx
        .try_push_batch(strings.into_iter())
        .unwrap_err()
        .is_disconnected());
    assert_eq!(tx.claim(4).remaining(), 0);
    let (n, d) = counter();
    assert!(!tx.register_space_waiter(d));
    assert_eq!(n.0.load(O::SeqCst), 0);

    let (tx, rx) = mpsc::<u64>(4).unwrap();
    drop(rx);
    assert!(tx.try_push_batch(r(0..2)).unwrap_err().is_disconnected());
    assert!(tx.push(1).unwrap_err().is_disconnected());
}

#[test]
fn spsc_batch_disconnected_hands_back_iterator() {
    let (mut tx, rx) = spsc::<u64>(4).unwrap();
    drop(rx);
    let e = tx.try_push_batch(r(0..2)).unwrap_err();
    assert!(e.is_disconnected());
    assert_eq!(e.into_inner().collect::<Vec<_>>(), [0, 1]);
}

#[test]
fn timeouts_expire() {
    for s in STRATEGIES {
        let (mut tx, mut rx) = Builder::new(2).wait_strategy(s).spsc::<u64>().unwrap();
        let t = Duration::from_millis(2);
        assert_eq!(rx.pop_timeout(t), Err(PopTimeoutError::Timeout));
        assert!(matches!(
            rx.pop_batch_timeout(4, t),
            Err(PopTimeoutError::Timeout)
        ));
        tx.try_push_batch(r(0..2)).unwrap();
        assert_eq!(tx.push_timeout(5, t), Err(PushTimeoutError::Timeout(5)));
        assert!(matches!(
            tx.push_batch_timeout(r(5..6), t),
            Err(PushTimeoutError::Timeout(_))
        ));
        assert_eq!(rx.pop_timeout(t), Ok(0));
        tx.push_timeout(2, t).unwrap();

        let (tx, mut rx) = Builder::new(2).wait_strategy(s).mpsc::<u64>().unwrap();
        assert_eq!(rx.pop_timeout(t), Err(PopTimeoutError::Timeout));
        tx.push_batch_timeout(r(0..2), t).unwrap();
        assert_eq!(tx.push_timeout(5, t), Err(PushTimeoutError::Timeout(5)));
        assert!(matches!(
            tx.push_batch_timeout(r(5..6), t),
            Err(PushTimeoutError::Timeout(_))
        ));
        assert_eq!(rx.pop_batch_timeout(8, t).unwrap().count(), 2);

        // A zero timeout gives up at once (within a few spins) when it would
        // have to wait, and succeeds when it need not.
        let (mut tx, mut rx) = Builder::new(1).wait_strategy(s).spsc::<u64>().unwrap();
        assert_eq!(
            rx.pop_timeout(Duration::ZERO),
            Err(PopTimeoutError::Timeout)
        );
        tx.push_timeout(1, Duration::ZERO).unwrap();
        assert_eq!(
            tx.push_timeout(2, Duration::ZERO),
            Err(PushTimeoutError::Timeout(2))
        );
        assert_eq!(rx.pop_timeout(Duration::ZERO), Ok(1));
        // A timeout too large to represent waits like no timeout at all.
        let h = thread::spawn(move || {
            thread::sleep(Duration::from_millis(if cfg!(miri) { 1 } else { 5 }));
            tx.push(3).unwrap();
        });
        assert_eq!(rx.pop_timeout(Duration::MAX), Ok(3));
        h.join().unwrap();
    }
}

#[test]
fn notifier_only_on_announced_transitions() {
    let (mut tx, mut rx) = spsc::<u64>(64).unwrap();
    let (n, d) = counter();
    rx.set_notifier(Some(d));
    // No announcement: never notified.
    for i in 0..n_u(10_000, 200) {
        tx.try_push(i).unwrap();
        assert_eq!(rx.try_pop(), Ok(i));
    }
    assert_eq!(n.0.load(O::SeqCst), 0);
    // Announce, push 100 (in pieces, draining as we go): exactly one call.
    assert!(rx.prepare_sleep());
    for i in 0..100 {
        tx.try_push(i).unwrap();
        if i % 10 == 9 {
            assert_eq!(rx.try_pop_batch(64).unwrap().count(), 10);
        }
    }
    assert_eq!(n.0.load(O::SeqCst), 1);
    // An announcement with items present is refused, and not notified.
    tx.try_push(1).unwrap();
    assert!(!rx.prepare_sleep());
    tx.try_push(2).unwrap();
    assert_eq!(n.0.load(O::SeqCst), 1);
    rx.try_pop_batch(64).unwrap().for_each(drop);
    // Cancelled announcement: no call.
    assert!(rx.prepare_sleep());
    rx.cancel_sleep();
    tx.try_push_batch(r(0..5)).unwrap();
    assert_eq!(n.0.load(O::SeqCst), 1);
    rx.try_pop_batch(64).unwrap().for_each(drop);
    // A batch is one transition.
    assert!(rx.prepare_sleep());
    tx.try_push_batch(r(0..5)).unwrap();
    tx.try_push_batch(r(0..5)).unwrap();
    assert_eq!(n.0.load(O::SeqCst), 2);
    rx.try_pop_batch(64).unwrap().for_each(drop);
    // The last producer's drop wakes an announced sleeper.
    assert!(rx.prepare_sleep());
    drop(tx);
    assert_eq!(n.0.load(O::SeqCst), 3);
    assert_eq!(rx.try_pop(), Err(PopError::Disconnected));
}

fn r(range: std::ops::Range<u64>) -> impl ExactSizeIterator<Item = u64> {
    (range.start as usize..range.end as usize).map(|x| x as u64)
}

fn n_u(normal: u64, miri: u64) -> u64 {
    n(normal, miri)
}

#[test]
fn mpsc_notifier_counts() {
    let (tx, mut rx) = mpsc::<u64>(64).unwrap();
    let tx2 = tx.clone();
    let (n, d) = counter();
    rx.set_notifier(Some(d));
    for i in 0..n_u(10_000, 200) {
        tx.try_push(i).unwrap();
        tx2.try_push_batch(r(0..2)).unwrap();
        assert_eq!(rx.try_pop_batch(8).unwrap().count(), 3);
    }
    assert_eq!(n.0.load(O::SeqCst), 0);
    assert!(rx.prepare_sleep());
    for i in 0..50 {
        tx.try_push(i).unwrap();
        tx2.try_push(i).unwrap();
        if i % 10 == 9 {
            assert_eq!(rx.try_pop_batch(64).unwrap().count(), 20);
        }
    }
    assert_eq!(n.0.load(O::SeqCst), 1);
    assert!(rx.prepare_sleep());
    drop(tx);
    assert_eq!(n.0.load(O::SeqCst), 1); // one producer is still alive
    drop(tx2);
    assert_eq!(n.0.load(O::SeqCst), 2);
}

#[test]
fn space_waiter_is_notified_once_after_release() {
    let (mut tx, mut rx) = spsc::<u64>(2).unwrap();
    let (n, d) = counter();
    assert!(!tx.register_space_waiter(d.clone())); // room: not registered
    tx.try_push_batch(r(0..2)).unwrap();
    assert!(tx.register_space_waiter(d.clone()));
    assert_eq!(n.0.load(O::SeqCst), 0);
    assert_eq!(rx.try_pop(), Ok(0));
    assert_eq!(n.0.load(O::SeqCst), 1);
    assert_eq!(rx.try_pop(), Ok(1));
    assert_eq!(n.0.load(O::SeqCst), 1); // once per registration
                                        // Consumer drop notifies waiters.
    tx.try_push_batch(r(0..2)).unwrap();
    assert!(tx.register_space_waiter(d.clone()));
    drop(rx);
    assert_eq!(n.0.load(O::SeqCst), 2);

    let (tx, mut rx) = mpsc::<u64>(2).unwrap();
    let tx2 = tx.clone();
    let (n1, d1) = counter();
    let (n2, d2) = counter();
    tx.try_push_batch(r(0..2)).unwrap();
    assert!(tx.register_space_waiter(d1));
    assert!(tx2.register_space_waiter(d2));
    rx.try_pop_batch(2).unwrap().for_each(drop);
    assert_eq!((n1.0.load(O::SeqCst), n2.0.load(O::SeqCst)), (1, 1));
}

#[test]
fn stats_follow_the_sequences() {
    let (tx, mut rx) = mpsc::<u64>(16).unwrap();
    let s = rx.stats();
    let s2 = s.clone();
    assert_eq!((s.capacity(), s.len(), s.total_pushed()), (16, 0, 0));
    for i in 0..20 {
        tx.try_push(i).unwrap();
        if i % 2 == 1 {
            rx.try_pop().unwrap();
        }
    }
    assert_eq!(
        (s2.total_pushed(), s2.total_popped(), s2.len()),
        (20, 10, 10)
    );
    assert!(!s.is_empty());
    let text = format!("{s:?}");
    assert!(text.contains("total_pushed: 20"), "{text}");
}

#[test]
fn blocked_consumer_wakes_on_push_and_on_disconnect() {
    for s in CONFIGS {
        let (mut tx, mut rx) = builder(4, s).spsc::<u64>().unwrap();
        let h = thread::spawn(move || {
            let mut got = Vec::new();
            while let Ok(v) = rx.pop() {
                got.push(v);
            }
            got
        });
        for i in 0..n_u(200, 20) {
            tx.push(i).unwrap();
            if i % 50 == 0 {
                thread::yield_now();
            }
        }
        drop(tx);
        assert_eq!(h.join().unwrap(), (0..n_u(200, 20)).collect::<Vec<_>>());
    }
}

#[test]
fn blocked_producer_wakes_on_pop_and_on_disconnect() {
    for s in CONFIGS {
        let (mut tx, rx) = builder(2, s).spsc::<u64>().unwrap();
        tx.try_push_batch(r(0..2)).unwrap();
        let h = thread::spawn(move || {
            // Blocks until the consumer goes away.
            tx.push_batch(r(0..2)).map_err(|e| e.is_disconnected())
        });
        thread::sleep(Duration::from_millis(5));
        drop(rx);
        assert_eq!(h.join().unwrap(), Err(true));

        let (tx, mut rx) = builder(2, s).mpsc::<u64>().unwrap();
        let total = n_u(300, 30);
        let h = thread::spawn(move || {
            for i in 0..total {
                tx.push(i).unwrap();
            }
        });
        assert_eq!(pop_in_order(&mut rx), total);
        h.join().unwrap();
    }
}

/// Pops until disconnected, checking the items are 0, 1, 2, …; returns how
/// many there were.
fn pop_in_order(rx: &mut Consumer<u64>) -> u64 {
    let mut expect = 0;
    while let Ok(v) = rx.pop() {
        assert_eq!(v, expect);
        expect += 1;
    }
    expect
}

#[test]
fn randomized_spsc_threads() {
    let rounds = n(3, 1);
    for (k, s) in CONFIGS.into_iter().enumerate() {
        for round in 0..rounds {
            let cap = 1usize << (1 + (round + k as u64) % 5);
            let total = n(20_000, 300);
            let (mut tx, mut rx) = builder(cap, s).spsc::<u64>().unwrap();
            let seed = 17 + round * 31 + k as u64;
            let h = thread::spawn(move || {
                let mut rng = Rng::new(seed);
                let mut i = 0;
                while i < total {
                    let len = (1 + rng.below(cap as u64 + 2)).min(total - i);
                    match rng.below(4) {
                        0 => {
                            tx.push(i).unwrap();
                            i += 1;
                        }
                        1 => {
                            let mut c = tx.claim(len as usize);
                            while c.remaining() > 0 && i < total {
                                c.push(i).unwrap();
                                i += 1;
                            }
                        }
                        2 => {
                            if len as usize <= cap {
                                tx.push_batch(r(i..i + len)).unwrap();
                                i += len;
                            }
                        }
                        _ => {
                            if tx.try_push_batch(r(i..i + len)).is_ok() {
                                i += len;
                            } else if rng.below(8) == 0 {
                                thread::yield_now();
                            }
                        }
                    }
                }
            });
            let mut rng = Rng::new(seed ^ 0xABCD);
            let mut expect = 0u64;
            loop {
                let max = 1 + rng.below(cap as u64 * 2) as usize;
                let got = match rng.below(3) {
                    0 => rx.pop().map(|v| vec![v]),
                    1 => rx.pop_batch(max).map(|b| {
                        let take = 1 + rng.below(b.len() as u64) as usize;
                        b.take(take).collect::<Vec<_>>()
                    }),
                    _ => match rx.try_pop_batch(max) {
                        Ok(b) => Ok(b.collect()),
                        Err(PopError::Empty) => Ok(Vec::new()),
                        Err(e) => Err(e),
                    },
                };
                match got {
                    Ok(v) => {
                        for x in v {
                            assert_eq!(x, expect, "strategy {s:?} cap {cap}");
                            expect += 1;
                        }
                    }
                    Err(e) => {
                        assert_eq!(e, PopError::Disconnected);
                        break;
                    }
                }
            }
            h.join().unwrap();
            assert_eq!(expect, total);
        }
    }
}

/// An MPSC item: producer id, batch id, index in batch, batch length, and
/// the producer's running sequence.
type Tagged = (u8, u32, u16, u16, u64);

#[test]
fn randomized_mpsc_threads() {
    for (k, s) in CONFIGS.into_iter().enumerate() {
        let producers = 2 + k % 3; // 2..=4
        let cap = if k == 1 { 8 } else { 16 };
        let per = n(5_000, 100);
        let (tx, mut rx) = builder(cap, s).mpsc::<Tagged>().unwrap();
        let hs: Vec<_> = (0..producers)
            .map(|p| {
                let tx = tx.clone();
                thread::spawn(move || {
                    let mut rng = Rng::new(p as u64 * 7919 + 3);
                    let mut seq = 0u64;
                    let mut batch = 0u32;
                    while seq < per {
                        let len = (1 + rng.below(cap as u64)).min(per - seq) as u16;
                        let items = (0..len).map(|j| (p as u8, batch, j, len, seq + j as u64));
                        if rng.below(2) == 0 {
                            tx.push_batch(items).unwrap();
                        } else {
                            let mut it = items;
                            loop {
                                match tx.try_push_batch(it) {
                                    Ok(()) => break,
                                    Err(e) => {
                                        it = e.into_inner();
                                        thread::yield_now();
                                    }
                                }
                            }
                        }
                        seq += len as u64;
                        batch += 1;
                    }
                })
            })
            .collect();
        drop(tx);
        let mut next = vec![0u64; producers];
        let mut rng = Rng::new(99 + k as u64);
        // The batch currently being read: (producer, batch id, next index, len).
        let mut open: Option<(u8, u32, u16, u16)> = None;
        let mut count = 0;
        loop {
            let max = 1 + rng.below(cap as u64 * 2) as usize;
            let b = match rx.pop_batch(max) {
                Ok(b) => b,
                Err(e) => {
                    assert_eq!(e, PopError::Disconnected);
                    break;
                }
            };
            for (p, bid, j, len, seq) in b {
                count += 1;
                assert_eq!(seq, next[p as usize], "per-producer FIFO");
                next[p as usize] += 1;
                match open {
                    Some((op, ob, oj, ol)) => {
                        assert_eq!((p, bid, j, len), (op, ob, oj, ol), "batch interleaved");
                    }
                    None => assert_eq!(j, 0, "batch starts mid-way"),
                }
                open = if j + 1 < len {
                    Some((p, bid, j + 1, len))
                } else {
                    None
                };
            }
        }
        assert!(open.is_none());
        for h in hs {
            h.join().unwrap();
        }
        assert_eq!(count, per * producers as u64);
        assert!(next.iter().all(|&x| x == per));
    }
}

#[test]
fn spinning_rings_refuse_sleep_and_waiters() {
    for s in [WaitStrategy::BusySpin, WaitStrategy::Yield] {
        let (mut tx, mut rx) = Builder::new(2).wait_strategy(s).spsc::<u64>().unwrap();
        let (n, d) = counter();
        rx.set_notifier(Some(d.clone()));
        assert!(!rx.prepare_sleep());
        tx.try_push_batch(r(0..2)).unwrap();
        assert!(!tx.register_space_waiter(d));
        assert_eq!(rx.try_pop(), Ok(0));
        assert_eq!(n.0.load(O::SeqCst), 0);
    }
}

#[test]
fn deferred_release_hands_slots_back_in_groups_and_when_empty() {
    let (mut tx, mut rx) = spsc::<u32>(8).unwrap();
    rx.set_release_every(3);
    tx.try_push_batch(0..8).unwrap();
    assert_eq!(rx.try_pop(), Ok(0));
    assert_eq!(rx.try_pop(), Ok(1));
    assert_eq!(tx.free_slots(), 0, "two pops pending, not handed back");
    assert_eq!(rx.try_pop(), Ok(2));
    assert_eq!(tx.free_slots(), 3, "the third pop releases the group");
    for i in 3..8 {
        assert_eq!(rx.try_pop(), Ok(i));
    }
    assert_eq!(rx.len(), 0);
    assert_eq!(rx.try_pop(), Err(PopError::Empty));
    assert_eq!(tx.free_slots(), 8, "an empty pop releases what is pending");
    tx.try_push(9).unwrap();
    assert_eq!(rx.try_pop(), Ok(9));
    assert!(rx.prepare_sleep(), "nothing left: may sleep");
    assert_eq!(tx.free_slots(), 8, "announcing sleep releases first");
    assert_eq!(rx.stats().total_popped(), 9);
}

#[test]
fn batch_slices_borrow_items_in_place_across_wraparound() {
    let (mut tx, mut rx) = spsc::<u64>(8).unwrap();
    let mut next = 0u64;
    let mut expect = 0u64;
    for round in 0..20u64 {
        let n = (round % 7) + 1;
        let items: Vec<u64> = (next..next + n).collect();
        tx.try_push_batch(items.into_iter()).unwrap();
        next += n;
        let batch = rx.try_pop_batch(8).unwrap();
        let (a, b) = batch.as_slices();
        assert_eq!(a.len() + b.len(), n as usize);
        for &v in a.iter().chain(b) {
            assert_eq!(v, expect);
            expect += 1;
        }
        batch.consume();
        assert!(rx.is_empty());
        assert_eq!(tx.free_slots(), 8);
    }
}

#[test]
fn claim_fill_from_iter_wraps_and_stops_at_either_end() {
    let (mut tx, mut rx) = spsc::<String>(4).unwrap();
    let mut next = 0u32;
    for round in 0..10u32 {
        let want = (round % 4) as usize + 1;
        let mut claim = tx.claim(4);
        let written = claim.fill_from_iter((next..next + want as u32).map(|i| i.to_string()));
        assert_eq!(written, want, "the iterator ran out first");
        claim.commit();
        let got: Vec<String> = rx.try_pop_batch(4).unwrap().collect();
        let expect: Vec<String> = (next..next + want as u32).map(|i| i.to_string()).collect();
        assert_eq!(got, expect);
        next += want as u32;
    }
    // The claim runs out first: the rest stays in the iterator.
    let mut it = (0..10).map(|i: u32| i.to_string());
    let mut claim = tx.claim(3);
    assert_eq!(claim.fill_from_iter(&mut it), 3);
    drop(claim);
    assert_eq!(it.next().as_deref(), Some("3"));
    assert_eq!(rx.len(), 3);
}

#[test]
fn staged_items_are_published_in_order_by_any_push_and_on_drop() {
    let (mut tx, mut rx) = Builder::new(4).spsc::<u64>().unwrap();
    tx.stage(1).unwrap();
    tx.stage(2).unwrap();
    assert_eq!(tx.staged(), 2);
    assert_eq!(rx.try_pop(), Err(PopError::Empty), "staged is not visible");
    // Another kind of push publishes the staged items first, in order.
    tx.try_push(3).unwrap();
    assert_eq!(tx.staged(), 0);
    assert_eq!(rx.try_pop_batch(8).unwrap().collect::<Vec<_>>(), [1, 2, 3]);
    // Staging stops at the ring's capacity, counting staged items.
    for i in 0..4 {
        tx.stage(10 + i).unwrap();
    }
    assert!(matches!(tx.stage(99), Err(PushError::Full(99))));
    tx.publish_staged();
    assert_eq!(rx.try_pop(), Ok(10));
    // Room freed by the consumer is seen (the cache refreshes).
    tx.stage(14).unwrap();
    // Dropping the producer publishes what is staged, then disconnects.
    drop(tx);
    assert_eq!(
        std::iter::from_fn(|| rx.pop().ok()).collect::<Vec<_>>(),
        [11, 12, 13, 14]
    );
    assert_eq!(rx.try_pop(), Err(PopError::Disconnected));

    let (mut tx, rx) = Builder::new(2).spsc::<u64>().unwrap();
    drop(rx);
    assert!(matches!(tx.stage(1), Err(PushError::Disconnected(1))));
}

#[test]
fn staged_items_cross_threads_in_order() {
    for s in STRATEGIES {
        let total = n(20_000, 200);
        let (mut tx, mut rx) = Builder::new(8).wait_strategy(s).spsc::<u64>().unwrap();
        let h = thread::spawn(move || {
            let mut rng = Rng::new(5);
            for i in 0..total {
                match tx.stage(i) {
                    Ok(()) => {}
                    Err(PushError::Full(v)) => tx.push(v).unwrap(),
                    Err(e) => panic!("{e:?}"),
                }
                if rng.below(5) == 0 {
                    tx.publish_staged();
                }
            }
        });
        assert_eq!(pop_in_order(&mut rx), total);
        h.join().unwrap();
    }
}

/// A limit below the slot count bounds the items in flight exactly, for
/// every way of pushing, while indexing, wraparound, in-place slices and
/// in-place fills follow the slot array; FIFO order holds across many laps.
#[test]
fn limit_bounds_items_in_flight_below_the_slot_count() {
    assert!(Builder::new(8).limit(0).spsc::<u8>().is_err());
    assert!(Builder::new(8).limit(9).mpsc::<u8>().is_err());
    let (mut tx, mut rx) = Builder::new(8).limit(5).spsc::<u32>().unwrap();
    assert_eq!((tx.capacity(), rx.capacity()), (5, 5));
    let mut next = 0u32;
    let mut expect = 0u32;
    for round in 0..40u32 {
        // Fill to the limit in a way that changes with the round.
        match round % 3 {
            0 => {
                while tx.try_push(next).is_ok() {
                    next += 1;
                }
            }
            1 => {
                let mut claim = tx.claim(8);
                assert_eq!(claim.remaining(), 5 - (next - expect) as usize);
                next += claim.fill_from_iter(next..) as u32;
            }
            _ => {
                let free = 5 - (next - expect) as usize;
                tx.try_push_batch(next..next + free as u32).unwrap();
                next += free as u32;
            }
        }
        assert_eq!(next - expect, 5, "round {round}: filled to the limit");
        assert!(matches!(tx.try_push(99), Err(PushError::Full(99))));
        assert_eq!(tx.free_slots(), 0);
        // Take a varying part, through slices that may wrap the array.
        let take = (round % 5) as usize + 1;
        let batch = rx.try_pop_batch(take).unwrap();
        let (a, b) = batch.as_slices();
        let got: Vec<u32> = a.iter().chain(b).copied().collect();
        assert_eq!(got, (expect..expect + take as u32).collect::<Vec<_>>());
        batch.consume();
        expect += take as u32;
    }
    // The MPSC claim honours the limit too.
    let (mtx, mut mrx) = Builder::new(4).limit(3).mpsc::<u32>().unwrap();
    for lap in 0..10u32 {
        mtx.try_push_batch(lap * 3..lap * 3 + 3).unwrap();
        assert!(matches!(mtx.try_push(99), Err(PushError::Full(99))));
        let got: Vec<u32> = mrx.try_pop_batch(8).unwrap().collect();
        assert_eq!(got, (lap * 3..lap * 3 + 3).collect::<Vec<_>>());
    }
}
