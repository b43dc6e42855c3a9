//! The wake-up a socket's thread sleeps on while a blocking call waits.
//!
//! A socket registers its [`Signal`] as the notifier of its in-ring and as the
//! space waiter of full pipes, so a producer (an I/O thread or an inproc peer)
//! wakes it only when it announced it is going to sleep.

use std::sync::{Arc, Mutex};

use crate::sync::{AtomicBool, Ordering};
use std::thread::{self, Thread};
use std::time::Instant;

use crate::ring::Notify;

/// Who is woken when the signal is raised.
enum Waiter {
    /// A thread blocked in one of the socket's calls.
    Thread(Thread),
    /// A [`Poller`](super::Poller) waiting on many sockets.
    Forward(Arc<dyn Notify>),
}

/// A one-shot flag plus the waiter to wake when it is raised.
#[derive(Default)]
pub(crate) struct Signal {
    raised: AtomicBool,
    waiter: Mutex<Option<Waiter>>,
}

impl std::fmt::Debug for Signal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signal")
            .field("raised", &self.raised.load(Ordering::Relaxed))
            .finish()
    }
}

impl Signal {
    /// Records the calling thread as the one to wake. Call before announcing
    /// sleep on the rings, then [`Signal::wait`].
    pub(crate) fn arm(&self) {
        let mut w = self.waiter.lock().unwrap_or_else(|e| e.into_inner());
        let me = thread::current();
        match w.as_ref() {
            Some(Waiter::Thread(t)) if t.id() == me.id() => {}
            _ => *w = Some(Waiter::Thread(me)),
        }
    }

    /// Makes a raise wake `n` instead of a thread (a poller's wake-up).
    pub(crate) fn arm_forward(&self, n: Arc<dyn Notify>) {
        *self.waiter.lock().unwrap_or_else(|e| e.into_inner()) = Some(Waiter::Forward(n));
    }

    /// Whether the signal is raised (a wake-up came since it was last
    /// lowered).
    pub(crate) fn is_raised(&self) -> bool {
        self.raised.load(Ordering::Acquire)
    }

    /// Lowers the signal without waiting.
    pub(crate) fn clear(&self) {
        self.raised.store(false, Ordering::Release);
    }

    /// Sleeps until the signal is raised or the deadline passes. Returns
    /// whether it was raised (and lowers it).
    pub(crate) fn wait(&self, deadline: Option<Instant>) -> bool {
        loop {
            if self.raised.swap(false, Ordering::AcqRel) {
                return true;
            }
            match deadline {
                None => thread::park(),
                Some(d) => {
                    let now = Instant::now();
                    if now >= d {
                        return self.raised.swap(false, Ordering::AcqRel);
                    }
                    thread::park_timeout(d - now);
                }
            }
        }
    }

    /// Raises the signal and wakes the waiting thread.
    pub(crate) fn notify_all(&self) {
        self.raised.store(true, Ordering::Release);
        let w = self.waiter.lock().unwrap_or_else(|e| e.into_inner());
        match w.as_ref() {
            Some(Waiter::Thread(t)) => t.unpark(),
            Some(Waiter::Forward(n)) => n.notify(),
            None => {}
        }
    }
}

impl Notify for Signal {
    fn notify(&self) {
        self.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn raised_before_wait_returns_at_once() {
        let s = Signal::default();
        s.arm();
        s.notify_all();
        assert!(s.wait(None));
        // Lowered again: a bounded wait now times out.
        assert!(!s.wait(Some(Instant::now() + Duration::from_millis(5))));
    }

    #[test]
    fn wakes_a_waiting_thread() {
        let s = Arc::new(Signal::default());
        let s2 = s.clone();
        let h = thread::spawn(move || {
            s2.arm();
            s2.wait(None)
        });
        // Keep raising until the waiter has armed and consumed it.
        while !h.is_finished() {
            s.notify_all();
            thread::yield_now();
        }
        assert!(h.join().unwrap());
    }
}
