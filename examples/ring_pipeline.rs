//! A four-thread pipeline over ringmq rings: a producer, two transform
//! stages and a sink, each hop a single-producer ring of 1024 slots moved in
//! batches. Runs for `--secs N` seconds (default 3), then checks that every
//! item arrived exactly once, transformed (count and sum), and prints the
//! throughput. Exits non-zero if anything was lost.
//!
//! `cargo run --release --example ring_pipeline -- --secs 3`

use std::process::ExitCode;
use std::thread;
use std::time::{Duration, Instant};

use ringmq::ring::{self, Consumer, Producer};

const CAP: usize = 1024;
const BATCH: usize = 256;

/// Moves batches from `rx` to `tx`, applying `f`; stops when `rx`'s
/// producer is gone and the ring is drained (dropping `tx` passes that on).
fn stage(mut rx: Consumer<u64>, mut tx: Producer<u64>, f: impl Fn(u64) -> u64) {
    let mut buf = Vec::with_capacity(BATCH);
    while let Ok(batch) = rx.pop_batch(BATCH) {
        buf.extend(batch.map(&f));
        if tx.push_batch(buf.drain(..)).is_err() {
            return;
        }
    }
}

fn main() -> ExitCode {
    let mut secs = 3.0f64;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--secs" => match args.next().and_then(|v| v.parse().ok()) {
                Some(v) if v > 0.0 => secs = v,
                _ => {
                    eprintln!("--secs needs a positive number");
                    return ExitCode::from(2);
                }
            },
            other => {
                eprintln!("unknown argument {other:?}; usage: ring_pipeline [--secs N]");
                return ExitCode::from(2);
            }
        }
    }

    let (mut src_tx, s1_rx) = ring::spsc::<u64>(CAP).expect("capacity is a power of two");
    let (s1_tx, s2_rx) = ring::spsc::<u64>(CAP).expect("capacity is a power of two");
    let (s2_tx, mut sink_rx) = ring::spsc::<u64>(CAP).expect("capacity is a power of two");

    let run_for = Duration::from_secs_f64(secs);
    let start = Instant::now();
    let producer = thread::spawn(move || {
        let mut next = 0u64;
        loop {
            // Check the clock once per 64 batches.
            for _ in 0..64 {
                let mut claim = src_tx.claim(BATCH);
                if claim.remaining() == 0 {
                    drop(claim);
                    // Full: wait for room (blocking push of one item).
                    if src_tx.push(next).is_err() {
                        return next;
                    }
                    next += 1;
                    continue;
                }
                while claim.push(next).is_ok() {
                    next += 1;
                }
            }
            if start.elapsed() >= run_for {
                return next;
            }
        }
    });
    let double = thread::spawn(move || stage(s1_rx, s1_tx, |x| x.wrapping_mul(2)));
    let plus_one = thread::spawn(move || stage(s2_rx, s2_tx, |x| x.wrapping_add(1)));

    let mut count = 0u64;
    let mut sum = 0u64;
    while let Ok(batch) = sink_rx.pop_batch(BATCH) {
        count += batch.len() as u64;
        for v in batch {
            sum = sum.wrapping_add(v);
        }
    }
    let elapsed = start.elapsed();
    let produced = producer.join().expect("producer thread panicked");
    double.join().expect("stage thread panicked");
    plus_one.join().expect("stage thread panicked");

    // Items 0..n became 2i + 1, whose sum is n^2.
    let expected = produced.wrapping_mul(produced);
    let rate = count as f64 / elapsed.as_secs_f64();
    println!(
        "ring_pipeline: {count} items through 3 rings in {:.2} s: {:.1} M items/s",
        elapsed.as_secs_f64(),
        rate / 1e6
    );
    if count != produced || sum != expected {
        eprintln!(
            "LOST OR CORRUPTED: produced {produced}, received {count}, sum {sum} != {expected}"
        );
        return ExitCode::FAILURE;
    }
    println!("verified: every item arrived exactly once ({rate:.0} items/s)");
    ExitCode::SUCCESS
}
