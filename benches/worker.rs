//! Storm worker path benchmarks: a constant spout → null bolt topology with
//! tuples of 3 small fields (two integers and a short string).
//!
//! * `one worker`: spout and bolt in one worker, rings only;
//! * `two workers`: spout in worker 0, bolt in worker 1, over loopback TCP,
//!   unthrottled (throughput);
//! * `two workers @ rate`: the same, with the spout held to a fixed rate
//!   (default 3 M tuples/s), reporting emit → execute latency percentiles.
//!
//! `cargo bench --bench worker [-- --secs 3 --rate 3000000]`. Figures are
//! printed, not asserted.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use ringmq::worker::{
    Bolt, Collector, Config, LatencyHistogram, LocalCluster, Spout, TopologyBuilder, Tuple, Value,
};

fn epoch() -> Instant {
    static E: OnceLock<Instant> = OnceLock::new();
    *E.get_or_init(Instant::now)
}

fn now_us() -> i64 {
    epoch().elapsed().as_micros() as i64
}

struct ConstSpout {
    seq: i64,
    ts: i64,
    rate: f64,
    start: Instant,
}

impl Spout for ConstSpout {
    fn open(&mut self, _: &ringmq::worker::TaskContext) {
        self.start = Instant::now();
    }

    fn next_tuple(&mut self, out: &mut Collector) {
        if self.rate > 0.0 && self.seq % 64 == 0 {
            let due = (self.start.elapsed().as_secs_f64() * self.rate) as i64;
            if self.seq >= due {
                return;
            }
        }
        if self.seq % 16 == 0 {
            self.ts = now_us();
        }
        self.seq += 1;
        out.emit([
            Value::I64(self.seq),
            Value::I64(self.ts),
            Value::from("const"),
        ]);
    }
}

struct NullBolt {
    n: u64,
    executed: Arc<AtomicU64>,
    latency: Arc<LatencyHistogram>,
}

impl Bolt for NullBolt {
    fn execute(&mut self, t: &Tuple, _: &mut Collector) {
        self.n += 1;
        if self.n % 64 == 0 {
            if let Some(ts) = t.get(1).and_then(Value::as_i64) {
                self.latency.record_us((now_us() - ts).max(0) as u64);
            }
            self.executed.fetch_add(64, Ordering::Relaxed);
        }
    }
}

struct Run {
    tuples_per_s: f64,
    p50_ms: f64,
    p99_ms: f64,
    p999_ms: f64,
    remote_msgs: u64,
}

fn run(workers: usize, rate: f64, secs: f64) -> Run {
    let executed = Arc::new(AtomicU64::new(0));
    let latency = Arc::new(LatencyHistogram::new());
    let mut b = TopologyBuilder::new();
    b.set_spout("const", 1, move |_| ConstSpout {
        seq: 0,
        ts: 0,
        rate,
        start: Instant::now(),
    })
    .output_fields(&["seq", "emitted_us", "payload"]);
    let (e, l) = (executed.clone(), latency.clone());
    b.set_bolt("null", 1, move |_| NullBolt {
        n: 0,
        executed: e.clone(),
        latency: l.clone(),
    })
    .shuffle_grouping("const");
    let config = Config {
        base_port: 0,
        metrics_interval: None,
        ..Config::default()
    };
    let cluster = LocalCluster::start(b.build().unwrap(), workers, config).unwrap();
    // Warm up, then measure a window.
    std::thread::sleep(Duration::from_millis(500));
    latency.reset();
    let (t0, c0) = (Instant::now(), executed.load(Ordering::Relaxed));
    std::thread::sleep(Duration::from_secs_f64(secs));
    let (t1, c1) = (Instant::now(), executed.load(Ordering::Relaxed));
    let p = |q| latency.percentile_us(q) as f64 / 1000.0;
    let (p50_ms, p99_ms, p999_ms) = (p(50.0), p(99.0), p(99.9));
    let m = cluster.shutdown().unwrap();
    Run {
        tuples_per_s: (c1 - c0) as f64 / (t1 - t0).as_secs_f64(),
        p50_ms,
        p99_ms,
        p999_ms,
        remote_msgs: m.iter().map(|m| m.messages_sent).sum(),
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let num = |name: &str, d: f64| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(d)
    };
    let secs = num("--secs", 3.0);
    let rate = num("--rate", 3_000_000.0);
    let only = args
        .iter()
        .position(|a| a == "--only")
        .and_then(|i| args.get(i + 1))
        .cloned();
    let want = |k: &str| only.as_deref().is_none_or(|o| o == k);
    println!("constant spout -> null bolt, 3 small fields, {secs} s windows");
    if want("one") {
        let r = run(1, 0.0, secs);
        println!(
            "one worker (rings only):    {:>8.2} M tuples/s  p50 {:.3} ms  p99 {:.3} ms  (socket msgs {})",
            r.tuples_per_s / 1e6,
            r.p50_ms,
            r.p99_ms,
            r.remote_msgs
        );
    }
    if want("two") {
        let r = run(2, 0.0, secs);
        println!(
            "two workers (TCP), max:     {:>8.2} M tuples/s  p50 {:.3} ms  p99 {:.3} ms",
            r.tuples_per_s / 1e6,
            r.p50_ms,
            r.p99_ms
        );
    }
    if want("rate") {
        let r = run(2, rate, secs);
        println!(
            "two workers (TCP) @ {:.1} M/s: {:>8.2} M tuples/s  p50 {:.3} ms  p99 {:.3} ms  p99.9 {:.3} ms",
            rate / 1e6,
            r.tuples_per_s / 1e6,
            r.p50_ms,
            r.p99_ms,
            r.p999_ms
        );
    }
}
