//! One worker of the word-count topology as its own process, so the
//! topology spans processes or machines.
//!
//! ```text
//! # two processes on one host (start them in any order):
//! cargo run --release --example storm_worker -- --worker-index 0 --workers 127.0.0.1:6700,127.0.0.1:6701
//! cargo run --release --example storm_worker -- --worker-index 1 --workers 127.0.0.1:6700,127.0.0.1:6701
//! ```
//!
//! Every process must get the same `--workers` list and topology flags
//! (`--spouts`, `--splits`, `--counts`, `--rate`); the tasks are assigned
//! round robin over the list and worker `i` listens on entry `i` (or on
//! `--bind tcp://0.0.0.0:port`). Each runs its spouts for `--duration`
//! seconds, then drains: it exits once every tuple bound for its bolts has
//! been counted, which needs the other workers to finish too. It prints what
//! its spouts emitted and its count bolts counted; summed over all workers
//! the two agree exactly.

#[path = "support/wordcount.rs"]
mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use ringmq::worker::{Assignment, Config, Worker};
use ringmq::Context;
use support::{secs, Args, Ledger};

fn main() {
    let args = Args::from_env();
    let (Some(index), Some(list)) = (args.get("worker-index"), args.get("workers")) else {
        eprintln!("usage: storm_worker --worker-index <i> --workers host:port,host:port[,...] [--duration 10] [--spouts 2] [--splits 2] [--counts 2] [--rate 0] [--bind tcp://0.0.0.0:port]");
        std::process::exit(2);
    };
    let Ok(index) = index.parse::<usize>() else {
        eprintln!("--worker-index must be a number");
        std::process::exit(2);
    };
    let workers: Vec<&str> = list.split(',').collect();
    let duration = secs(args.num("duration", 10.0));
    let ledger = Arc::new(Ledger::default());
    let topology = support::topology(
        &ledger,
        args.num("spouts", 2),
        args.num("splits", 2),
        args.num("counts", 2),
        args.num("rate", 0.0),
    );
    let assignment = match Assignment::round_robin(&topology, &workers) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    if index >= assignment.workers() {
        eprintln!(
            "--worker-index {index} but only {} workers",
            assignment.workers()
        );
        std::process::exit(2);
    }
    let config = Config {
        metrics_interval: Some(Duration::from_secs(5)),
        shutdown_timeout: secs(args.num("join-timeout", 60.0)),
        ..Config::default()
    };
    let ctx = Context::new();
    let bind = args
        .get("bind")
        .map(str::to_owned)
        .unwrap_or_else(|| assignment.endpoint(index).to_owned());
    let worker = Worker::bind(&ctx, &bind, &config).and_then(|(pull, ep)| {
        println!(
            "worker {index} listening on {ep}, tasks {:?}",
            assignment.tasks_of(index)
        );
        Worker::start_with_socket(&ctx, topology, assignment, index, config.clone(), pull)
    });
    let worker = match worker {
        Ok(w) => w,
        Err(e) => {
            eprintln!("cannot start worker {index}: {e}");
            std::process::exit(1);
        }
    };
    let start = Instant::now();
    while start.elapsed() < duration {
        std::thread::sleep(Duration::from_secs(1).min(duration.saturating_sub(start.elapsed())));
        let m = worker.metrics();
        let counted: u64 = m
            .executors
            .iter()
            .filter(|e| e.component == "count")
            .map(|e| e.executed)
            .sum();
        println!(
            "[{:>5.1}s] worker {index}: words counted {counted}, tuples sent {} received {}",
            start.elapsed().as_secs_f64(),
            m.tuples_sent_remote,
            m.tuples_received
        );
    }
    worker.stop_spouts();
    println!("spouts stopped; draining (waits for the other workers)");
    match worker.join(config.shutdown_timeout) {
        Ok(m) => print!("{m}"),
        Err(e) => {
            eprintln!("worker {index} did not drain: {e}");
            std::process::exit(1);
        }
    }
    let emitted: u64 = ledger.expected().values().sum();
    let counted: u64 = ledger.counted.lock().unwrap().values().sum();
    println!(
        "worker={index} emitted_words={emitted} counted_words={counted} p99_latency_ms={:.3}",
        ledger.latency.percentile_us(99.0) as f64 / 1000.0
    );
}
