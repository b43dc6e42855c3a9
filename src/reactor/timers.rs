//! A timer queue for the I/O thread: reconnect backoff, handshake deadlines,
//! heartbeats and linger, keyed by (entry, generation) so a timer for an
//! entry that has since been replaced is recognised and ignored.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::{Duration, Instant};

/// What a timer is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum TimerKind {
    /// Try to connect again.
    Reconnect,
    /// A connect in progress has taken `ZMQ_CONNECT_TIMEOUT`: give it up.
    ConnectTimeout,
    /// Check the protocol's own timers (handshake deadline, heartbeats).
    Protocol,
    /// The socket's linger period is over: drop what is still queued.
    Linger,
}

/// One pending timer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Timer {
    pub(crate) at: Instant,
    pub(crate) seq: u64,
    pub(crate) token: usize,
    pub(crate) generation: u64,
    pub(crate) kind: TimerKind,
}

/// Timers ordered by deadline.
#[derive(Default)]
pub(crate) struct Timers {
    heap: BinaryHeap<Reverse<Timer>>,
    seq: u64,
}

impl Timers {
    /// Schedules a timer.
    pub(crate) fn add(&mut self, at: Instant, token: usize, generation: u64, kind: TimerKind) {
        self.seq += 1;
        self.heap.push(Reverse(Timer {
            at,
            seq: self.seq,
            token,
            generation,
            kind,
        }));
    }

    /// How long until the next timer, if any (zero when one is due).
    pub(crate) fn next_timeout(&self, now: Instant) -> Option<Duration> {
        self.heap
            .peek()
            .map(|Reverse(t)| t.at.saturating_duration_since(now))
    }

    /// Removes and returns the next timer that is due at `now`.
    pub(crate) fn pop_due(&mut self, now: Instant) -> Option<Timer> {
        match self.heap.peek() {
            Some(Reverse(t)) if t.at <= now => self.heap.pop().map(|Reverse(t)| t),
            _ => None,
        }
    }
}

/// A small xorshift generator for reconnect jitter (not for anything that
/// needs real randomness).
pub(crate) struct Jitter(u64);

impl Jitter {
    /// Seeds from the clock and an address on the stack.
    pub(crate) fn new() -> Jitter {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0x9E37_79B9_7F4A_7C15);
        let local = 0u8;
        Jitter(t ^ (&local as *const u8 as u64).rotate_left(32) | 1)
    }

    /// A value in `0..n` (0 when `n` is 0).
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        if n == 0 {
            0
        } else {
            x % n
        }
    }
}

/// The wait before reconnect attempt number `attempt` (0 = first), libzmq's
/// way: with no maximum (or a maximum below the interval) a constant interval
/// plus up to one interval of random jitter; with a maximum the interval
/// doubles per attempt up to it, without jitter.
pub(crate) fn reconnect_delay(
    ivl: Duration,
    ivl_max: Duration,
    attempt: u32,
    jitter: &mut Jitter,
) -> Duration {
    if ivl_max > ivl {
        let factor = 1u32.checked_shl(attempt.min(30)).unwrap_or(u32::MAX);
        ivl.saturating_mul(factor).min(ivl_max)
    } else {
        let ms = ivl.as_millis().min(u64::MAX as u128) as u64;
        ivl + Duration::from_millis(jitter.below(ms))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timers_pop_in_deadline_order() {
        let now = Instant::now();
        let mut t = Timers::default();
        t.add(now + Duration::from_millis(30), 3, 0, TimerKind::Reconnect);
        t.add(now + Duration::from_millis(10), 1, 0, TimerKind::Protocol);
        t.add(now + Duration::from_millis(20), 2, 0, TimerKind::Linger);
        assert_eq!(t.next_timeout(now), Some(Duration::from_millis(10)));
        assert!(t.pop_due(now).is_none());
        let later = now + Duration::from_millis(25);
        assert_eq!(t.pop_due(later).unwrap().token, 1);
        assert_eq!(t.pop_due(later).unwrap().token, 2);
        assert!(t.pop_due(later).is_none());
    }

    #[test]
    fn backoff_doubles_up_to_max_and_jitters_without_max() {
        let mut j = Jitter::new();
        let ivl = Duration::from_millis(100);
        let max = Duration::from_millis(1000);
        let d: Vec<u128> = (0..6)
            .map(|a| reconnect_delay(ivl, max, a, &mut j).as_millis())
            .collect();
        assert_eq!(d, vec![100, 200, 400, 800, 1000, 1000]);
        for a in 0..50 {
            let d = reconnect_delay(ivl, Duration::ZERO, a, &mut j);
            assert!(d >= ivl && d < ivl * 2, "{d:?}");
        }
    }
}
