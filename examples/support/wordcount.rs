//! The word-count topology shared by the `wordcount` and `storm_worker`
//! examples: sentence spout → split bolt (shuffle) → count bolt (fields on
//! the word). Spouts remember what they emitted and count bolts what they
//! counted, so the run can check that every word was counted exactly once.

#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use ringmq::worker::{
    Bolt, Collector, LatencyHistogram, Spout, Str, TaskContext, Topology, TopologyBuilder, Tuple,
    Value,
};

pub const SENTENCES: [&str; 8] = [
    "the cow jumped over the moon",
    "an apple a day keeps the doctor away",
    "four score and seven years ago",
    "snow white and the seven dwarfs",
    "i am at two with nature",
    "the quick brown fox jumps over the lazy dog",
    "ring queues hand batches between threads",
    "storm workers move tuples through rings and sockets",
];

/// Microseconds since the Unix epoch (comparable across processes on one
/// host).
pub fn now_us() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as i64)
        .unwrap_or(0)
}

/// What the spouts emitted and the count bolts counted.
#[derive(Default)]
pub struct Ledger {
    /// Per sentence index: how many times the spouts emitted it.
    pub emitted: Mutex<Vec<u64>>,
    /// Per word: how many times the count bolts counted it.
    pub counted: Mutex<HashMap<String, u64>>,
    /// Spout emit → count execute latency, µs.
    pub latency: LatencyHistogram,
    /// Sentences emitted (final, summed when the spouts close).
    pub sentences: AtomicU64,
    /// Sentences emitted so far (live).
    pub emitted_live: AtomicU64,
    /// Sentences split so far (live).
    pub split_live: AtomicU64,
    /// Sentences allowed between emit and split (0: no limit), like
    /// Storm's `topology.max.spout.pending`.
    pub max_pending: AtomicU64,
}

impl Ledger {
    /// Words the spouts emitted, per word.
    pub fn expected(&self) -> HashMap<String, u64> {
        let mut m = HashMap::new();
        for (i, &n) in self.emitted.lock().unwrap().iter().enumerate() {
            if n == 0 {
                continue;
            }
            for w in SENTENCES[i].split(' ') {
                *m.entry(w.to_owned()).or_default() += n;
            }
        }
        m
    }
}

pub struct SentenceSpout {
    next: usize,
    emitted: Vec<u64>,
    ledger: Arc<Ledger>,
    /// Sentences per second for this task (0 = as fast as possible).
    rate: f64,
    start: Instant,
    sent: u64,
}

impl Spout for SentenceSpout {
    fn open(&mut self, ctx: &TaskContext) {
        self.next = ctx.task_index();
        self.start = Instant::now();
    }

    fn next_tuple(&mut self, out: &mut Collector) {
        let max = self.ledger.max_pending.load(Ordering::Relaxed);
        if max > 0 {
            let done = self.ledger.split_live.load(Ordering::Relaxed);
            if self.ledger.emitted_live.load(Ordering::Relaxed) >= done + max {
                return;
            }
        }
        if self.rate > 0.0 {
            let due = (self.start.elapsed().as_secs_f64() * self.rate) as u64;
            if self.sent >= due {
                return;
            }
        }
        let i = self.next % SENTENCES.len();
        self.next += 1;
        self.sent += 1;
        self.emitted[i] += 1;
        self.ledger.emitted_live.fetch_add(1, Ordering::Relaxed);
        out.emit([Value::from(SENTENCES[i]), Value::I64(now_us())]);
    }

    fn close(&mut self) {
        let mut e = self.ledger.emitted.lock().unwrap();
        for (a, b) in e.iter_mut().zip(&self.emitted) {
            *a += b;
        }
        self.ledger
            .sentences
            .fetch_add(self.sent, Ordering::Relaxed);
    }
}

pub struct SplitBolt(pub Arc<Ledger>);

impl Bolt for SplitBolt {
    fn execute(&mut self, t: &Tuple, out: &mut Collector) {
        self.0.split_live.fetch_add(1, Ordering::Relaxed);
        let (Some(s), Some(ts)) = (
            t.get(0).and_then(Value::as_str),
            t.get(1).and_then(Value::as_i64),
        ) else {
            return;
        };
        for w in s.split(' ') {
            out.emit([Value::Str(Str::from(w)), Value::I64(ts)]);
        }
    }
}

pub struct CountBolt {
    counts: HashMap<Str, u64>,
    latency: LatencyHistogram,
    ledger: Arc<Ledger>,
    n: u64,
}

impl Bolt for CountBolt {
    fn execute(&mut self, t: &Tuple, _out: &mut Collector) {
        let Some(Value::Str(w)) = t.get(0) else {
            return;
        };
        match self.counts.get_mut(w) {
            Some(c) => *c += 1,
            None => {
                self.counts.insert(w.clone(), 1);
            }
        }
        // Latency of one tuple in 8 (reading the clock costs ~20 ns).
        self.n += 1;
        if self.n % 8 == 0 {
            if let Some(ts) = t.get(1).and_then(Value::as_i64) {
                self.latency.record_us((now_us() - ts).max(0) as u64);
            }
        }
    }

    fn cleanup(&mut self) {
        let mut c = self.ledger.counted.lock().unwrap();
        for (w, n) in self.counts.drain() {
            *c.entry(w.as_str().to_owned()).or_default() += n;
        }
        self.ledger.latency.merge(&self.latency);
    }
}

/// Builds the topology; `rate` is sentences/s over all spout tasks (0:
/// unthrottled).
pub fn topology(
    ledger: &Arc<Ledger>,
    spouts: usize,
    splits: usize,
    counts: usize,
    rate: f64,
) -> Arc<Topology> {
    *ledger.emitted.lock().unwrap() = vec![0; SENTENCES.len()];
    let mut b = TopologyBuilder::new();
    let l = ledger.clone();
    let per_task = rate / spouts as f64;
    b.set_spout("sentence", spouts, move |_| SentenceSpout {
        next: 0,
        emitted: vec![0; SENTENCES.len()],
        ledger: l.clone(),
        rate: per_task,
        start: Instant::now(),
        sent: 0,
    })
    .output_fields(&["sentence", "emitted_us"]);
    let l = ledger.clone();
    b.set_bolt("split", splits, move |_| SplitBolt(l.clone()))
        .shuffle_grouping("sentence")
        .output_fields(&["word", "emitted_us"]);
    let l = ledger.clone();
    b.set_bolt("count", counts, move |_| CountBolt {
        counts: HashMap::new(),
        latency: LatencyHistogram::new(),
        ledger: l.clone(),
        n: 0,
    })
    .fields_grouping("split", ["word"]);
    b.build().expect("the word-count topology is valid")
}

/// Parses `--name value` flags.
pub struct Args(Vec<String>);

impl Args {
    pub fn from_env() -> Args {
        Args(std::env::args().skip(1).collect())
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        let flag = format!("--{name}");
        self.0
            .iter()
            .position(|a| *a == flag)
            .and_then(|i| self.0.get(i + 1))
            .map(String::as_str)
    }

    pub fn num<T: std::str::FromStr>(&self, name: &str, default: T) -> T {
        match self.get(name) {
            Some(v) => v.parse().unwrap_or_else(|_| {
                eprintln!("--{name}: cannot parse {v:?}");
                std::process::exit(2)
            }),
            None => default,
        }
    }

    pub fn has(&self, name: &str) -> bool {
        let flag = format!("--{name}");
        self.0.contains(&flag)
    }
}

pub fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s.max(0.0))
}
