//! Storm-style metrics: per ring (population, capacity, totals, arrival
//! rate, sojourn time), per executor (executed count, execute latency), per
//! worker (tuples kept local versus sent over the network), and a latency
//! histogram for end-to-end measurements.

use std::fmt;

use crate::ring::RingStats;
use crate::sync::{AtomicU64, Ordering};
use crate::sync::{Duration, Instant};

use super::tuple::TaskId;

/// A ring being watched, with the state needed for its arrival rate.
pub(crate) struct RingProbe {
    pub(crate) name: String,
    pub(crate) stats: RingStats,
    /// Tuples in / out when elements are batches (else None: one per slot).
    pub(crate) tuples: Option<(StdCounter, StdCounter)>,
    last_out: AtomicU64,
    last_ns: AtomicU64,
}

/// A shared counter.
pub(crate) type StdCounter = crate::sync::StdArc<AtomicU64>;

impl RingProbe {
    pub(crate) fn new(
        name: String,
        stats: RingStats,
        tuples: Option<(StdCounter, StdCounter)>,
    ) -> RingProbe {
        RingProbe {
            name,
            stats,
            tuples,
            last_out: AtomicU64::new(0),
            last_ns: AtomicU64::new(0),
        }
    }

    pub(crate) fn sample(&self, now_ns: u64) -> QueueMetrics {
        let (tin, tout) = match &self.tuples {
            Some((i, o)) => {
                // Out first, with acquire (pairs with the bolt's release):
                // every tuple counted out was counted in before, so the in
                // count read afterwards is at least as large.
                let out = o.load(Ordering::Acquire);
                (i.load(Ordering::Relaxed), out)
            }
            None => (self.stats.total_pushed(), self.stats.total_popped()),
        };
        let prev_out = self.last_out.swap(tout, Ordering::Relaxed);
        let prev_ns = self.last_ns.swap(now_ns, Ordering::Relaxed);
        let dt = now_ns.saturating_sub(prev_ns) as f64 / 1e9;
        let rate = if dt > 0.0 {
            tout.saturating_sub(prev_out) as f64 / dt
        } else {
            0.0
        };
        let tuple_population = tin.saturating_sub(tout);
        let sojourn = if rate > 0.0 {
            tuple_population as f64 / rate * 1000.0
        } else {
            0.0
        };
        QueueMetrics {
            name: self.name.clone(),
            capacity: self.stats.capacity(),
            population: self.stats.len(),
            tuple_population,
            total_in: tin,
            total_out: tout,
            arrival_rate_secs: rate,
            sojourn_time_ms: sojourn,
        }
    }
}

/// One ring's gauges (Storm's `__receive`, `__sendqueue`, `__transfer`).
#[derive(Clone, Debug, PartialEq)]
pub struct QueueMetrics {
    /// `w<worker>/<ring>`, e.g. `w0/receive[task 3]`.
    pub name: String,
    /// Slots in the ring.
    pub capacity: usize,
    /// Occupied slots (for incoming rings: batches).
    pub population: usize,
    /// Tuples in the ring.
    pub tuple_population: u64,
    /// Tuples ever put in.
    pub total_in: u64,
    /// Tuples ever taken out.
    pub total_out: u64,
    /// Tuples per second taken out since the previous sample (Storm measures
    /// it at dequeue too).
    pub arrival_rate_secs: f64,
    /// Little's law: tuple population ÷ arrival rate, in ms.
    pub sojourn_time_ms: f64,
}

/// One executor's counters.
#[derive(Clone, Debug, PartialEq)]
pub struct ExecutorMetrics {
    /// Its task.
    pub task: TaskId,
    /// Its component.
    pub component: String,
    /// Tuples executed (bolts) or `next_tuple` calls (spouts).
    pub executed: u64,
    /// Tuples emitted.
    pub emitted: u64,
    /// Mean execute latency in µs (measured per incoming batch).
    pub execute_latency_us: f64,
}

/// Counters of one executor, updated by its threads.
#[derive(Debug, Default)]
pub(crate) struct ExecCounters {
    pub(crate) executed: AtomicU64,
    pub(crate) emitted: AtomicU64,
    pub(crate) exec_ns: AtomicU64,
}

/// Worker-wide counters.
#[derive(Debug, Default)]
pub(crate) struct WorkerCounters {
    pub(crate) tuples_local: AtomicU64,
    pub(crate) tuples_remote: AtomicU64,
    pub(crate) messages_sent: AtomicU64,
    pub(crate) bytes_sent: AtomicU64,
    pub(crate) tuples_received: AtomicU64,
    pub(crate) messages_received: AtomicU64,
    pub(crate) decode_errors: AtomicU64,
    pub(crate) misrouted: AtomicU64,
    pub(crate) overflow_episodes: AtomicU64,
    pub(crate) emit_errors: AtomicU64,
}

/// A snapshot of a worker.
#[derive(Clone, Debug, PartialEq)]
pub struct WorkerMetrics {
    /// Worker index.
    pub worker: usize,
    /// Every ring of the worker.
    pub queues: Vec<QueueMetrics>,
    /// Every executor of the worker.
    pub executors: Vec<ExecutorMetrics>,
    /// Tuples handed straight to an executor of this worker (no socket, no
    /// serialisation).
    pub tuples_local: u64,
    /// Tuples serialised and sent to other workers.
    pub tuples_sent_remote: u64,
    /// Network messages sent (batches and control frames).
    pub messages_sent: u64,
    /// Bytes sent.
    pub bytes_sent: u64,
    /// Tuples received from other workers.
    pub tuples_received: u64,
    /// Network messages received.
    pub messages_received: u64,
    /// Frames rejected as malformed (peer's fault; logged and dropped).
    pub decode_errors: u64,
    /// Tuples received for a task this worker does not run (dropped).
    pub misrouted: u64,
    /// Times an executor's incoming ring was full and the receive thread
    /// had to hold tuples back (backpressure episodes).
    pub overflow_episodes: u64,
    /// Emits refused (undeclared stream, bad direct task).
    pub emit_errors: u64,
}

impl fmt::Display for WorkerMetrics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "worker {}: local {} tuples, remote sent {} tuples in {} msgs ({} B), received {} tuples in {} msgs, decode errors {}, overflow episodes {}",
            self.worker,
            self.tuples_local,
            self.tuples_sent_remote,
            self.messages_sent,
            self.bytes_sent,
            self.tuples_received,
            self.messages_received,
            self.decode_errors,
            self.overflow_episodes
        )?;
        writeln!(
            f,
            "  {:<28} {:>8} {:>10} {:>10} {:>12} {:>12} {:>14} {:>10}",
            "queue",
            "capacity",
            "population",
            "tuples",
            "total_in",
            "total_out",
            "arrival/s",
            "sojourn_ms"
        )?;
        for q in &self.queues {
            writeln!(
                f,
                "  {:<28} {:>8} {:>10} {:>10} {:>12} {:>12} {:>14.0} {:>10.3}",
                q.name,
                q.capacity,
                q.population,
                q.tuple_population,
                q.total_in,
                q.total_out,
                q.arrival_rate_secs,
                q.sojourn_time_ms
            )?;
        }
        writeln!(
            f,
            "  {:<28} {:>12} {:>12} {:>16}",
            "executor", "executed", "emitted", "exec_latency_us"
        )?;
        for e in &self.executors {
            writeln!(
                f,
                "  {:<28} {:>12} {:>12} {:>16.3}",
                format!("{}[task {}]", e.component, e.task),
                e.executed,
                e.emitted,
                e.execute_latency_us
            )?;
        }
        Ok(())
    }
}

/// A thread-safe latency histogram in microseconds: exact below 1 ms
/// (1 µs buckets), then 64 buckets per power of two, up to about 70 s.
///
/// ```
/// use ringmq::worker::LatencyHistogram;
/// let h = LatencyHistogram::new();
/// for us in 1..=100 { h.record_us(us); }
/// assert_eq!(h.count(), 100);
/// assert_eq!(h.percentile_us(50.0), 50);
/// assert_eq!(h.percentile_us(99.0), 99);
/// ```
pub struct LatencyHistogram {
    buckets: Vec<AtomicU64>,
    count: AtomicU64,
}

const LINEAR: u64 = 1024;
const SUB: u64 = 64;
const OCTAVES: u64 = 17;

impl Default for LatencyHistogram {
    fn default() -> Self {
        LatencyHistogram::new()
    }
}

impl fmt::Debug for LatencyHistogram {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LatencyHistogram")
            .field("count", &self.count())
            .finish()
    }
}

impl LatencyHistogram {
    /// An empty histogram.
    pub fn new() -> LatencyHistogram {
        let n = (LINEAR + SUB * OCTAVES) as usize;
        LatencyHistogram {
            buckets: (0..n).map(|_| AtomicU64::new(0)).collect(),
            count: AtomicU64::new(0),
        }
    }

    fn index(us: u64) -> usize {
        if us < LINEAR {
            return us as usize;
        }
        let octave = (63 - us.leading_zeros() as u64) - 10; // us >= 2^10
        let octave = octave.min(OCTAVES - 1);
        let base = LINEAR << octave;
        let step = (base / SUB).max(1);
        let sub = ((us.min(base * 2 - 1) - base) / step).min(SUB - 1);
        (LINEAR + octave * SUB + sub) as usize
    }

    fn value(i: usize) -> u64 {
        let i = i as u64;
        if i < LINEAR {
            return i;
        }
        let octave = (i - LINEAR) / SUB;
        let sub = (i - LINEAR) % SUB;
        let base = LINEAR << octave;
        base + sub * (base / SUB) + base / SUB - 1
    }

    /// Records one latency in µs.
    pub fn record_us(&self, us: u64) {
        self.buckets[Self::index(us)].fetch_add(1, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
    }

    /// Records one latency.
    pub fn record(&self, d: Duration) {
        self.record_us(d.as_micros().min(u128::from(u64::MAX)) as u64)
    }

    /// Samples recorded.
    pub fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }

    /// The `p`-th percentile in µs (upper edge of its bucket; 0 if empty).
    pub fn percentile_us(&self, p: f64) -> u64 {
        let total = self.count();
        if total == 0 {
            return 0;
        }
        let rank = ((p / 100.0) * total as f64).ceil().max(1.0) as u64;
        let mut seen = 0;
        for (i, b) in self.buckets.iter().enumerate() {
            seen += b.load(Ordering::Relaxed);
            if seen >= rank {
                return Self::value(i);
            }
        }
        Self::value(self.buckets.len() - 1)
    }

    /// Adds every sample of `other` to this histogram.
    pub fn merge(&self, other: &LatencyHistogram) {
        for (a, b) in self.buckets.iter().zip(&other.buckets) {
            let v = b.load(Ordering::Relaxed);
            if v > 0 {
                a.fetch_add(v, Ordering::Relaxed);
            }
        }
        self.count
            .fetch_add(other.count.load(Ordering::Relaxed), Ordering::Relaxed);
    }

    /// Clears every bucket.
    pub fn reset(&self) {
        for b in &self.buckets {
            b.store(0, Ordering::Relaxed);
        }
        self.count.store(0, Ordering::Relaxed);
    }
}

/// Nanoseconds since `epoch`, for rate computations.
pub(crate) fn since(epoch: Instant) -> u64 {
    epoch.elapsed().as_nanos().min(u128::from(u64::MAX)) as u64
}
