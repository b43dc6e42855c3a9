//! Word count across workers on loopback TCP: the main demo.
//!
//! ```text
//! cargo run --release --example wordcount -- [--duration 10] [--workers 2]
//!     [--spouts 2] [--splits 2] [--counts 2] [--rate 0] [--max-pending 1000]
//!     [--base-port 6700]
//! ```
//!
//! `--max-pending N` keeps at most N sentences between the spouts' emit and
//! the split bolts (Storm's `topology.max.spout.pending` idea, counted here
//! without acking since the whole cluster is in one process): it bounds the
//! queueing delay without costing throughput. `--max-pending 0` runs the
//! spouts unthrottled: every ring fills up and the latency printed is then
//! the time tuples wait in full queues. `--rate` caps sentences/s instead.
//!
//! A sentence spout → split bolt (shuffle) → count bolt (fields on the word)
//! topology runs on a `LocalCluster` (each worker its own port, context and
//! threads). It prints a progress line every second, the queue metrics at
//! the end, and as its last line
//! `verified words=<n> exact=true throughput_tuples_per_s=<f> p99_latency_ms=<f>`
//! where throughput is words counted per second while the spouts ran and
//! latency is spout emit → count bolt execute. It exits with status 1 if a
//! word was lost or counted twice.

#[path = "support/wordcount.rs"]
mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use ringmq::worker::{Config, LocalCluster, WorkerMetrics};
use support::{secs, Args, Ledger};

fn counted(ms: &[WorkerMetrics]) -> u64 {
    ms.iter()
        .flat_map(|m| &m.executors)
        .filter(|e| e.component == "count")
        .map(|e| e.executed)
        .sum()
}

fn main() {
    let args = Args::from_env();
    if args.has("help") {
        println!(
            "{}",
            include_str!("wordcount.rs")
                .lines()
                .take(8)
                .collect::<Vec<_>>()
                .join("\n")
        );
        return;
    }
    let duration = secs(args.num("duration", 10.0));
    let workers: usize = args.num("workers", 2);
    let spouts: usize = args.num("spouts", 2);
    let splits: usize = args.num("splits", 2);
    let counts: usize = args.num("counts", 2);
    let rate: f64 = args.num("rate", 0.0);
    let base_port: u16 = args.num("base-port", 6700);
    let max_pending: u64 = args.num("max-pending", 1000);

    let ledger = Arc::new(Ledger::default());
    ledger
        .max_pending
        .store(max_pending, std::sync::atomic::Ordering::Relaxed);
    let topology = support::topology(&ledger, spouts, splits, counts, rate);
    let config = Config {
        base_port,
        metrics_interval: None,
        ..Config::default()
    };
    let cluster = match LocalCluster::start(topology, workers, config) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("cannot start the cluster: {e}");
            std::process::exit(2);
        }
    };
    println!(
        "wordcount: {workers} workers ({}), spouts {spouts}, splits {splits}, counts {counts}, max pending {max_pending}, {:.0} s{}",
        (0..workers)
            .map(|w| cluster.assignment().endpoint(w).to_owned())
            .collect::<Vec<_>>()
            .join(" "),
        duration.as_secs_f64(),
        if rate > 0.0 {
            format!(", {rate:.0} sentences/s")
        } else {
            String::new()
        }
    );
    let start = Instant::now();
    let mut last = (start, 0u64);
    let mut tick = 1;
    while start.elapsed() < duration {
        let next = start + Duration::from_secs(tick).min(duration);
        std::thread::sleep(next.saturating_duration_since(Instant::now()));
        tick += 1;
        let now = Instant::now();
        let c = counted(&cluster.metrics());
        let dt = now.duration_since(last.0).as_secs_f64();
        println!(
            "[{:>5.1}s] words counted {:>12}  {:>12.0} tuples/s",
            now.duration_since(start).as_secs_f64(),
            c,
            (c - last.1) as f64 / dt.max(1e-9),
        );
        last = (now, c);
    }
    let ran = start.elapsed().as_secs_f64();
    let at_stop = counted(&cluster.metrics());
    let metrics = match cluster.shutdown() {
        Ok(m) => m,
        Err(e) => {
            eprintln!("shutdown failed: {e}");
            println!("verified words=0 exact=false throughput_tuples_per_s=0 p99_latency_ms=0");
            std::process::exit(1);
        }
    };
    println!("\nqueue metrics (final):");
    for m in &metrics {
        print!("{m}");
    }
    let expected = ledger.expected();
    let got = ledger.counted.lock().unwrap().clone();
    let total_expected: u64 = expected.values().sum();
    let total_got: u64 = got.values().sum();
    let exact = expected == got && total_expected == total_got;
    if !exact {
        let mut diffs: Vec<_> = expected
            .iter()
            .filter(|(w, n)| got.get(*w) != Some(n))
            .map(|(w, n)| (w.clone(), *n, got.get(w).copied().unwrap_or(0)))
            .collect();
        diffs.sort();
        eprintln!(
            "MISMATCH: expected {total_expected} words, counted {total_got}; first differences (word, expected, counted): {:?}",
            &diffs[..diffs.len().min(10)]
        );
    }
    let p99_ms = ledger.latency.percentile_us(99.0) as f64 / 1000.0;
    println!(
        "\nsentences emitted {}, words counted {total_got} ({} after the spouts stopped), p50 {:.3} ms, p99 {p99_ms:.3} ms, p99.9 {:.3} ms",
        ledger.sentences.load(std::sync::atomic::Ordering::Relaxed),
        total_got.saturating_sub(at_stop),
        ledger.latency.percentile_us(50.0) as f64 / 1000.0,
        ledger.latency.percentile_us(99.9) as f64 / 1000.0,
    );
    println!(
        "verified words={total_got} exact={exact} throughput_tuples_per_s={:.1} p99_latency_ms={p99_ms:.3}",
        at_stop as f64 / ran
    );
    if !exact {
        std::process::exit(1);
    }
}
