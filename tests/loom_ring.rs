//! Loom models of the ring: every interleaving (within a preemption bound)
//! of tiny rings, checking for data races on the slots, lost wake-ups
//! (loom reports a deadlock), lost or duplicated items, and leaks.
//!
//! Run: `RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR=target/loom cargo test --release --test loom_ring`

#![cfg(loom)]

use std::sync::atomic::{AtomicUsize, Ordering as StdOrdering};
use std::sync::Arc as StdArc;

use loom::sync::atomic::{AtomicUsize as LoomAtomicUsize, Ordering};
use loom::thread;
use ringmq::ring::{Builder, Notify, PopError, PushError, WaitStrategy};

fn model(f: impl Fn() + Sync + Send + 'static) {
    let mut b = loom::model::Builder::new();
    if b.preemption_bound.is_none() {
        b.preemption_bound = Some(3);
    }
    b.check(f);
}

/// Spins (yielding to loom) until `f` returns `Some`.
fn spin<R>(mut f: impl FnMut() -> Option<R>) -> R {
    loop {
        if let Some(r) = f() {
            return r;
        }
        thread::yield_now();
    }
}

#[test]
fn spsc_batches_across_wraparound() {
    model(|| {
        let (mut tx, mut rx) = Builder::new(2)
            .wait_strategy(WaitStrategy::BusySpin)
            .spsc::<u32>()
            .unwrap();
        let p = thread::spawn(move || {
            let mut batch = Some([1u32, 2].into_iter());
            spin(|| match tx.try_push_batch(batch.take().unwrap()) {
                Ok(()) => Some(()),
                Err(e) => {
                    batch = Some(e.into_inner());
                    None
                }
            });
            let mut batch = Some([3u32, 4].into_iter());
            spin(|| match tx.try_push_batch(batch.take().unwrap()) {
                Ok(()) => Some(()),
                Err(e) => {
                    batch = Some(e.into_inner());
                    None
                }
            });
        });
        let mut got = Vec::new();
        while got.len() < 4 {
            match rx.try_pop_batch(2) {
                Ok(b) => got.extend(b),
                Err(PopError::Empty) => thread::yield_now(),
                Err(PopError::Disconnected) => break,
            }
        }
        p.join().unwrap();
        assert_eq!(got, [1, 2, 3, 4]);
    });
}

#[test]
fn spsc_claim_and_partial_batch() {
    model(|| {
        let (mut tx, mut rx) = Builder::new(2)
            .wait_strategy(WaitStrategy::BusySpin)
            .spsc::<u32>()
            .unwrap();
        let p = thread::spawn(move || {
            let mut next = 0u32;
            while next < 3 {
                let mut c = tx.claim(2);
                while c.push(next).is_ok() {
                    next += 1;
                    if next == 3 {
                        break;
                    }
                }
                let empty = c.is_empty();
                c.commit();
                if empty {
                    thread::yield_now();
                }
            }
        });
        let mut got = Vec::new();
        while got.len() < 3 {
            match rx.try_pop_batch(2) {
                // Take one item only: the other stays in the ring.
                Ok(mut b) => got.push(b.next().unwrap()),
                Err(_) => thread::yield_now(),
            }
        }
        p.join().unwrap();
        assert_eq!(got, [0, 1, 2]);
    });
}

#[test]
fn vacant_slot_writes_across_wraparound_and_disconnect() {
    model(|| {
        let (mut tx, mut rx) = Builder::new(2)
            .wait_strategy(WaitStrategy::BusySpin)
            .spsc::<StdArc<u32>>()
            .unwrap();
        let p = thread::spawn(move || {
            for v in 0..3u32 {
                spin(|| match tx.vacant() {
                    Ok(slot) => {
                        slot.write(StdArc::new(v));
                        Some(())
                    }
                    Err(PushError::Full(())) => None,
                    Err(PushError::Disconnected(())) => panic!("consumer gone"),
                });
            }
        });
        let mut got = Vec::new();
        loop {
            match rx.try_pop() {
                Ok(v) => got.push(*v),
                Err(PopError::Empty) => thread::yield_now(),
                Err(PopError::Disconnected) => break,
            }
        }
        p.join().unwrap();
        assert_eq!(got, [0, 1, 2]);
    });
}

#[test]
fn latest_with_a_doorbell_ring_never_strands_the_newest_value() {
    // The conflating pipe's protocol: the writer puts a value, then posts a
    // token unless one is already waiting; the reader takes a token (which
    // frees its slot), then the value. The newest value is never left
    // without a token after it.
    model(|| {
        let (mut tx, mut rx) = Builder::new(1)
            .wait_strategy(WaitStrategy::BusySpin)
            .spsc::<()>()
            .unwrap();
        let (mut w, mut r) = ringmq::ring::latest::<u32>();
        let p = thread::spawn(move || {
            for v in 1..=2u32 {
                w.put(v);
                match tx.try_push(()) {
                    Ok(()) | Err(PushError::Full(())) => {}
                    Err(PushError::Disconnected(())) => panic!("reader gone"),
                }
            }
        });
        let mut last = 0;
        loop {
            match rx.try_pop() {
                Ok(()) => {
                    if let Some(v) = r.take() {
                        assert!(v > last, "{v} after {last}");
                        last = v;
                    }
                }
                Err(PopError::Empty) => thread::yield_now(),
                Err(PopError::Disconnected) => break,
            }
        }
        p.join().unwrap();
        assert_eq!(last, 2);
    });
}

#[test]
fn staged_items_across_wraparound_and_a_blocking_push() {
    model(|| {
        let (mut tx, mut rx) = Builder::new(2).spsc::<u32>().unwrap();
        let p = thread::spawn(move || {
            // Stage until the ring is full (counting staged items), publish,
            // then stage across the wraparound; a blocking push publishes
            // what is staged before it waits.
            let mut next = 0u32;
            while next < 3 {
                match tx.stage(next) {
                    Ok(()) => next += 1,
                    Err(PushError::Full(_)) => {
                        tx.publish_staged();
                        thread::yield_now();
                    }
                    Err(e) => panic!("{e:?}"),
                }
            }
            tx.push(3).unwrap();
        });
        let mut got = Vec::new();
        while got.len() < 4 {
            match rx.pop() {
                Ok(v) => got.push(v),
                Err(e) => panic!("{e:?}"),
            }
        }
        p.join().unwrap();
        assert_eq!(got, [0, 1, 2, 3]);
    });
}

#[test]
fn mpsc_two_producers_claim_and_publish() {
    model(|| {
        let (tx, mut rx) = Builder::new(2).mpsc::<u32>().unwrap();
        let tx2 = tx.clone();
        // A batch filling the whole ring and a single item: one of them has
        // to wait for the consumer to release slots (wraparound).
        let a = thread::spawn(move || tx.push_batch([10u32, 11].into_iter()).unwrap());
        let b = thread::spawn(move || tx2.push(20).unwrap());
        let mut got = Vec::new();
        while let Ok(v) = rx.pop() {
            got.push(v);
        }
        a.join().unwrap();
        b.join().unwrap();
        assert_eq!(got.len(), 3);
        // The batch is contiguous and in order.
        let i = got.iter().position(|&v| v == 10).unwrap();
        assert_eq!(got[i + 1], 11);
        assert!(got.contains(&20));
    });
}

#[test]
fn mpsc_try_push_batches_are_never_interleaved() {
    model(|| {
        let (tx, mut rx) = Builder::new(4)
            .wait_strategy(WaitStrategy::BusySpin)
            .mpsc::<u32>()
            .unwrap();
        let tx2 = tx.clone();
        let a = thread::spawn(move || tx.try_push_batch([10u32, 11].into_iter()).unwrap());
        let b = thread::spawn(move || tx2.try_push_batch([20u32, 21].into_iter()).unwrap());
        a.join().unwrap();
        b.join().unwrap();
        let got: Vec<u32> = rx.try_pop_batch(4).unwrap().collect();
        assert!(
            got == [10, 11, 20, 21] || got == [20, 21, 10, 11],
            "{got:?}"
        );
    });
}

/// A notifier that counts calls and unparks the consumer thread.
struct Unpark {
    calls: LoomAtomicUsize,
    thread: thread::Thread,
}

impl Notify for Unpark {
    fn notify(&self) {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.thread.unpark();
    }
}

#[test]
fn prepare_sleep_never_loses_a_wakeup() {
    // Both handshake flavours: under loom the asymmetric ring's barriers are
    // the `SeqCst` fences that stand for the process-wide barrier.
    for asymmetric in [false, true] {
        prepare_sleep_model(asymmetric);
    }
}

fn prepare_sleep_model(asymmetric: bool) {
    model(move || {
        let (mut tx, mut rx) = Builder::new(2)
            .asymmetric_wakeups(asymmetric)
            .spsc::<u32>()
            .unwrap();
        let n = StdArc::new(Unpark {
            calls: LoomAtomicUsize::new(0),
            thread: thread::current(),
        });
        let d: StdArc<dyn Notify> = n.clone();
        rx.set_notifier(Some(d));
        let p = thread::spawn(move || {
            tx.try_push(7).unwrap();
            tx
        });
        if rx.prepare_sleep() {
            // Sleep until notified: a lost wake-up deadlocks the model.
            while n.calls.load(Ordering::SeqCst) == 0 {
                thread::park();
            }
        }
        assert_eq!(rx.try_pop(), Ok(7));
        let tx = p.join().unwrap();
        assert!(n.calls.load(Ordering::SeqCst) <= 1);
        drop(tx);
    });
}

/// A notifier that counts its calls.
struct Count(LoomAtomicUsize);

impl Notify for Count {
    fn notify(&self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn one_barrier_for_sleeps_on_two_rings_never_loses_a_wakeup() {
    // An event loop's sleep on several rings: announce on each, one
    // `sleep_barrier`, confirm on each; a producer on either ring must wake
    // it. Both rings asymmetric (the loop's out-rings) and mixed.
    for asymmetric in [true, false] {
        model(move || {
            let b1 = Builder::new(2).asymmetric_wakeups(true);
            let b2 = Builder::new(2).asymmetric_wakeups(asymmetric);
            let (mut tx1, mut rx1) = b1.spsc::<u32>().unwrap();
            let (mut tx2, mut rx2) = b2.spsc::<u32>().unwrap();
            // Counts wake-ups only: the sleeper waits by yielding to loom
            // (a lost wake-up never ends the wait, which loom reports), and
            // a late wake-up cannot unpark it in the middle of a join.
            let n = StdArc::new(Count(LoomAtomicUsize::new(0)));
            let d: StdArc<dyn Notify> = n.clone();
            rx1.set_notifier(Some(d.clone()));
            rx2.set_notifier(Some(d));
            let p1 = thread::spawn(move || {
                tx1.try_push(1).unwrap();
                tx1
            });
            let p2 = thread::spawn(move || {
                tx2.try_push(2).unwrap();
                tx2
            });
            let mut got = Vec::new();
            while got.len() < 2 {
                let seen = n.0.load(Ordering::SeqCst);
                assert!(rx1.announce_sleep() && rx2.announce_sleep());
                assert!(ringmq::ring::sleep_barrier());
                let s1 = rx1.confirm_sleep();
                let s2 = rx2.confirm_sleep();
                if s1 && s2 {
                    spin(|| (n.0.load(Ordering::SeqCst) != seen).then_some(()));
                }
                rx1.cancel_sleep();
                rx2.cancel_sleep();
                got.extend(rx1.try_pop().ok());
                got.extend(rx2.try_pop().ok());
            }
            got.sort();
            assert_eq!(got, [1, 2]);
            drop((p1.join().unwrap(), p2.join().unwrap()));
        });
    }
}

#[test]
fn one_barrier_for_waits_for_room_on_two_rings_never_loses_a_wakeup() {
    // A writer facing two full rings: it records its wait on each, runs one
    // `sleep_barrier`, confirms each; a consumer freeing a slot on either
    // must wake it.
    model(|| {
        let b = Builder::new(2).asymmetric_wakeups(true);
        let (mut tx1, mut rx1) = b.spsc::<u32>().unwrap();
        let (mut tx2, mut rx2) = b.spsc::<u32>().unwrap();
        tx1.try_push_batch([1, 2].into_iter()).unwrap();
        tx2.try_push_batch([3, 4].into_iter()).unwrap();
        let n = StdArc::new(Count(LoomAtomicUsize::new(0)));
        let d: StdArc<dyn Notify> = n.clone();
        let c1 = thread::spawn(move || {
            assert_eq!(rx1.try_pop(), Ok(1));
            rx1
        });
        let c2 = thread::spawn(move || {
            assert_eq!(rx2.try_pop(), Ok(3));
            rx2
        });
        loop {
            let seen = n.0.load(Ordering::SeqCst);
            if tx1.try_push(5).is_ok() || tx2.try_push(5).is_ok() {
                break;
            }
            if !tx1.announce_space_wait(&d) || !tx2.announce_space_wait(&d) {
                tx1.cancel_space_wait(&d);
                continue;
            }
            assert!(ringmq::ring::sleep_barrier());
            let w1 = tx1.confirm_space_wait(&d);
            let w2 = tx2.confirm_space_wait(&d);
            if w1 && w2 {
                spin(|| (n.0.load(Ordering::SeqCst) != seen).then_some(()));
            }
            tx1.cancel_space_wait(&d);
            tx2.cancel_space_wait(&d);
        }
        drop((c1.join().unwrap(), c2.join().unwrap()));
    });
}

#[test]
fn blocking_pop_parks_and_wakes() {
    model(|| {
        let (mut tx, mut rx) = Builder::new(2).spsc::<u32>().unwrap();
        let p = thread::spawn(move || {
            tx.push(1).unwrap();
            tx.push(2).unwrap();
        });
        assert_eq!(rx.pop(), Ok(1));
        assert_eq!(rx.pop(), Ok(2));
        // The producer's drop wakes the parked consumer.
        assert_eq!(rx.pop(), Err(PopError::Disconnected));
        p.join().unwrap();
    });
}

#[test]
fn blocking_mpsc_pop_with_two_producers() {
    for asymmetric in [false, true] {
        blocking_mpsc_pop_model(asymmetric);
    }
}

fn blocking_mpsc_pop_model(asymmetric: bool) {
    model(move || {
        let (tx, mut rx) = Builder::new(2)
            .asymmetric_wakeups(asymmetric)
            .mpsc::<u32>()
            .unwrap();
        let tx2 = tx.clone();
        let a = thread::spawn(move || tx.push(1).unwrap());
        let b = thread::spawn(move || tx2.push(2).unwrap());
        let mut sum = 0;
        while let Ok(v) = rx.pop() {
            sum += v;
        }
        assert_eq!(sum, 3);
        a.join().unwrap();
        b.join().unwrap();
    });
}

#[test]
fn blocking_push_waits_for_room() {
    for asymmetric in [false, true] {
        blocking_push_model(asymmetric);
    }
}

fn blocking_push_model(asymmetric: bool) {
    model(move || {
        let (mut tx, mut rx) = Builder::new(1)
            .asymmetric_wakeups(asymmetric)
            .spsc::<u32>()
            .unwrap();
        tx.try_push(1).unwrap();
        let p = thread::spawn(move || {
            // Full: parks until the consumer releases the slot.
            tx.push(2).unwrap();
        });
        assert_eq!(rx.pop(), Ok(1));
        assert_eq!(rx.pop(), Ok(2));
        p.join().unwrap();
    });
}

/// Counts drops (std atomics: only read after joins).
struct Counted(StdArc<AtomicUsize>);

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.fetch_add(1, StdOrdering::SeqCst);
    }
}

#[test]
fn consumer_drop_wakes_blocked_producer() {
    model(|| {
        let drops = StdArc::new(AtomicUsize::new(0));
        let (mut tx, rx) = Builder::new(1).spsc::<Counted>().unwrap();
        tx.try_push(Counted(drops.clone())).unwrap();
        let d = drops.clone();
        let p = thread::spawn(move || match tx.push(Counted(d)) {
            // The ring stays full until the consumer is gone, so the push
            // must be refused with the item handed back.
            Err(PushError::Disconnected(item)) => drop(item),
            other => panic!("unexpected {other:?}"),
        });
        drop(rx);
        p.join().unwrap();
        assert_eq!(drops.load(StdOrdering::SeqCst), 2);
    });
}

#[test]
fn producer_drop_disconnects_and_nothing_leaks() {
    model(|| {
        let drops = StdArc::new(AtomicUsize::new(0));
        let (tx, mut rx) = Builder::new(2).mpsc::<Counted>().unwrap();
        let d = drops.clone();
        let p = thread::spawn(move || {
            let _ = tx.try_push(Counted(d.clone()));
            let _ = tx.try_push(Counted(d));
        });
        // Take at most one, then drop the consumer with the rest inside.
        let got = rx.pop().is_ok();
        p.join().unwrap();
        drop(rx);
        let _ = got;
        assert_eq!(drops.load(StdOrdering::SeqCst), 2);
    });
}

#[test]
fn mpsc_last_drop_by_the_other_producer_wakes_consumer() {
    model(|| {
        let (tx, mut rx) = Builder::new(2).mpsc::<u32>().unwrap();
        let tx2 = tx.clone();
        let a = thread::spawn(move || tx.push(1).unwrap());
        let b = thread::spawn(move || drop(tx2));
        assert_eq!(rx.pop(), Ok(1));
        assert_eq!(rx.pop(), Err(PopError::Disconnected));
        a.join().unwrap();
        b.join().unwrap();
    });
}

#[test]
fn deferred_release_never_strands_a_blocked_producer() {
    model(|| {
        let (mut tx, mut rx) = Builder::new(4).spsc::<u32>().unwrap();
        rx.set_release_every(2);
        let p = thread::spawn(move || {
            for i in 0..6 {
                tx.push(i).unwrap();
            }
        });
        // Single pops hand slots back late, but before every wait: the
        // producer blocked on a full ring is always woken.
        for i in 0..6 {
            assert_eq!(rx.pop(), Ok(i));
        }
        p.join().unwrap();
    });
}
