//! Wait strategies: how a blocking push or pop passes the time.

use super::{Notify, WaitStrategy};
use crate::sync::{park_timeout, spin_loop, thread, Duration, Instant};

/// Spins before a `Park` ring parks (loom: keep models small).
const PARK_SPINS: u32 = if cfg!(loom) { 1 } else { 32 };
/// Yields before a `Park` ring parks.
const PARK_YIELDS: u32 = if cfg!(loom) { 0 } else { 4 };
/// Spins before a `Yield` ring starts yielding.
const YIELD_SPINS: u32 = if cfg!(loom) { 1 } else { 64 };

/// What a waiting thread does next.
pub(crate) enum Step {
    Spin,
    Yield,
    Park,
}

/// Escalation from spinning to yielding to parking, per the ring's strategy.
pub(crate) struct Backoff {
    strategy: WaitStrategy,
    /// Steps taken (spins, then yields; wrapping for `BusySpin`, which only
    /// spins): decides the next step and paces the clock reads.
    n: u32,
}

impl Backoff {
    pub(crate) fn new(strategy: WaitStrategy) -> Self {
        Backoff { strategy, n: 0 }
    }

    /// Whether a bounded wait should check its deadline before this step:
    /// on every yield or park, but only on every 16th spin (not before the
    /// first), so a waiting thread's spinning costs no `clock_gettime` per
    /// turn and a wait that ends within 16 spins reads no clock at all (a
    /// deadline is noticed at most 16 short spins late).
    #[inline]
    pub(crate) fn clock_due(&self) -> bool {
        let spinning = match self.strategy {
            WaitStrategy::BusySpin => true,
            WaitStrategy::Yield => self.n < YIELD_SPINS,
            WaitStrategy::Park => self.n < PARK_SPINS,
        };
        // While spinning, `n` counts the steps taken.
        !spinning || (self.n > 0 && self.n % 16 == 0)
    }

    /// The next step; also performs spins and yields itself.
    #[inline]
    pub(crate) fn step(&mut self) -> Step {
        let step = match self.strategy {
            WaitStrategy::BusySpin => {
                self.n = self.n.wrapping_add(1);
                Step::Spin
            }
            WaitStrategy::Yield => {
                if self.n < YIELD_SPINS {
                    self.n += 1;
                    Step::Spin
                } else {
                    Step::Yield
                }
            }
            WaitStrategy::Park => {
                if self.n < PARK_SPINS {
                    self.n += 1;
                    Step::Spin
                } else if self.n < PARK_SPINS + PARK_YIELDS {
                    self.n += 1;
                    Step::Yield
                } else {
                    Step::Park
                }
            }
        };
        match step {
            Step::Spin => spin_loop(),
            Step::Yield => thread::yield_now(),
            Step::Park => {}
        }
        step
    }
}

/// A deadline for bounded waits.
///
/// A bounded wait reads the clock only when it checks its deadline (see
/// [`Backoff::clock_due`]), so a wait that ends while spinning never reads
/// it: the timeout counts from the first check, a few spins into the wait.
#[derive(Clone, Copy)]
pub(crate) enum Deadline {
    /// Waits forever.
    Never,
    /// This long from the first check.
    After(Duration),
    /// Until this instant.
    At(Instant),
}

impl Deadline {
    pub(crate) fn never() -> Self {
        Deadline::Never
    }

    /// `timeout` from the wait's first deadline check (a timeout too large
    /// to represent waits forever).
    pub(crate) fn after(timeout: Duration) -> Self {
        Deadline::After(timeout)
    }

    /// Whether the deadline has passed (the first check starts the clock;
    /// a zero timeout has passed at once).
    #[inline]
    pub(crate) fn expired(&mut self) -> bool {
        match *self {
            Deadline::Never => false,
            Deadline::After(t) => {
                if t.is_zero() {
                    return true;
                }
                *self = match Instant::now().checked_add(t) {
                    Some(at) => Deadline::At(at),
                    None => Deadline::Never,
                };
                false
            }
            Deadline::At(d) => Instant::now() >= d,
        }
    }

    /// Parks until unparked (or spuriously), or until the deadline.
    pub(crate) fn park(&mut self) {
        if let Deadline::After(_) = self {
            self.expired();
        }
        match *self {
            Deadline::At(d) => {
                let now = Instant::now();
                if d > now {
                    park_timeout(d - now);
                }
            }
            // `After` became `At` or `Never` above (or was zero: no wait).
            Deadline::Never => thread::park(),
            Deadline::After(_) => {}
        }
    }
}

/// Wakes a parked thread; the notifier a blocking push registers.
pub(crate) struct ThreadNotify(pub(crate) thread::Thread);

impl Notify for ThreadNotify {
    fn notify(&self) {
        self.0.unpark();
    }
}
