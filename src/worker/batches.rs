//! Recycling of the vectors that carry tuple batches into executors'
//! incoming rings.
//!
//! A batch is filled by one thread (an executor's send thread or the
//! worker's receive thread) and emptied by another (a bolt). Handed back to
//! the allocator on the bolt's thread, a large batch's memory tends to be
//! returned to the system and faulted in again, page by page, when the
//! filling thread allocates its next batch. Instead every filling thread
//! owns a small ring of spare vectors ([`Spares`]), and the bolt hands each
//! emptied vector back to the ring of the thread that filled it
//! ([`BatchHomes::give_back`]). Both rings are bounded: a full spare ring
//! frees the vector, an empty one allocates.

use super::tuple::Tuple;
use crate::ring::{self, Consumer, MpProducer};

/// Spare vectors kept per filling thread (at most 16 × 1024 tuples of
/// idle capacity each).
const SPARES: usize = 16;

/// Identifies the thread a batch came from.
pub(crate) type Home = u32;

/// The return addresses of every filling thread of a worker, shared by its
/// bolts.
pub(crate) struct BatchHomes {
    homes: Vec<MpProducer<Vec<Tuple>>>,
}

/// One filling thread's spare vectors.
pub(crate) struct Spares {
    home: Home,
    rx: Consumer<Vec<Tuple>>,
}

impl BatchHomes {
    /// Return addresses for `n` filling threads, and each thread's spares,
    /// in the same order.
    pub(crate) fn new(n: usize) -> (BatchHomes, Vec<Spares>) {
        let mut homes = Vec::with_capacity(n);
        let mut spares = Vec::with_capacity(n);
        for home in 0..n {
            let (tx, rx) = ring::Builder::new(SPARES)
                .mpsc::<Vec<Tuple>>()
                .expect("SPARES is a power of two");
            homes.push(tx);
            spares.push(Spares {
                home: home as Home,
                rx,
            });
        }
        (BatchHomes { homes }, spares)
    }

    /// Empties `batch` (dropping its tuples here) and hands the vector back
    /// to the thread that filled it, or frees it if that thread has spares
    /// enough (or is gone, or `home` is unknown).
    pub(crate) fn give_back(&self, home: Home, mut batch: Vec<Tuple>) {
        batch.clear();
        if let Some(tx) = self.homes.get(home as usize) {
            let _ = tx.try_push(batch);
        }
    }
}

impl Spares {
    /// The home to tag this thread's batches with.
    pub(crate) fn home(&self) -> Home {
        self.home
    }

    /// Takes the filled `group` (to hand over as a batch), leaving in its
    /// place an empty vector for the next one: a spare if there is one,
    /// else a new one as large as `group` was.
    pub(crate) fn swap_out(&mut self, group: &mut Vec<Tuple>) -> Vec<Tuple> {
        let next = self.take(group.capacity());
        std::mem::replace(group, next)
    }

    /// An empty vector for the next batch: a spare one if there is one,
    /// else a new one with room for `capacity` tuples.
    fn take(&mut self, capacity: usize) -> Vec<Tuple> {
        match self.rx.try_pop() {
            Ok(v) => v,
            Err(_) => Vec::with_capacity(capacity),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::worker::tuple::{StreamId, Value};

    fn tuple(i: i64) -> Tuple {
        Tuple::new(0, StreamId::DEFAULT, [Value::I64(i)])
    }

    #[test]
    fn vectors_go_back_to_the_thread_that_filled_them() {
        let (homes, mut spares) = BatchHomes::new(2);
        let mut b = spares[1].take(8);
        assert!(b.capacity() >= 8);
        b.push(tuple(1));
        let ptr = b.as_ptr();
        let home = spares[1].home();
        std::thread::scope(|s| {
            s.spawn(|| homes.give_back(home, b));
        });
        // Not the other thread's: its spares stay empty.
        assert_eq!(spares[0].take(0).capacity(), 0);
        let again = spares[1].take(0);
        assert!(again.is_empty(), "given back emptied");
        assert_eq!(again.as_ptr(), ptr, "the same allocation comes back");
    }

    #[test]
    fn spares_are_bounded_and_unknown_homes_are_freed() {
        let (homes, mut spares) = BatchHomes::new(1);
        for _ in 0..SPARES + 10 {
            homes.give_back(0, Vec::with_capacity(4));
        }
        homes.give_back(7, Vec::with_capacity(4));
        let mut kept = 0;
        while spares[0].rx.try_pop().is_ok() {
            kept += 1;
        }
        assert_eq!(kept, SPARES);
        // Empty again: a new vector.
        assert!(spares[0].take(3).capacity() >= 3);
    }
}
