//! Ring queue throughput and latency, side by side with peer crates in one
//! run: `disruptor` (batch publish, busy-spin), `rtrb` (chunk API),
//! `crossbeam-channel` (bounded) and `crossbeam-queue` (`ArrayQueue`). Every
//! queue has capacity 1024 and carries `u64`s; consumers sum what they get
//! and the sum is checked. Each figure is the best of several runs; in the
//! single-producer groups the contenders take turns within each round.
//!
//! In the batch groups the producer publishes 64 items at a time. In
//! `spsc batch-64` the consumer takes at most 64 per batch (ringmq
//! `try_pop_batch(64)`, rtrb `read_chunk(64)` or what there is); the
//! disruptor's batch handler takes what is published, as it always does.
//! In `spsc batch-64, take all` the consumer takes everything published,
//! up to the whole ring.
//!
//! Run: `cargo bench --bench ring` (`-- --quick` for fewer items).

use std::hint::spin_loop;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use ringmq::ring::{Builder, WaitStrategy};

const CAP: usize = 1024;
const BATCH: usize = 64;

fn expected_sum(n: u64) -> u64 {
    n * (n - 1) / 2
}

/// Best time of `reps` runs of `f` (which returns its own elapsed time).
fn best(reps: usize, mut f: impl FnMut() -> Duration) -> Duration {
    (0..reps).map(|_| f()).min().unwrap()
}

/// Best time of each of `fs` over `reps` rounds, the contenders taking
/// turns within each round: a slow spell of the machine then falls on all
/// of them alike instead of on whichever ran its repetitions at that time.
fn best_interleaved(reps: usize, fs: &mut [&mut dyn FnMut() -> Duration]) -> Vec<Duration> {
    let mut bests = vec![Duration::MAX; fs.len()];
    for _ in 0..reps {
        for (b, f) in bests.iter_mut().zip(fs.iter_mut()) {
            *b = (*b).min(f());
        }
    }
    bests
}

fn rate(n: u64, d: Duration) -> f64 {
    n as f64 / d.as_secs_f64() / 1e6
}

// ---------------------------------------------------------------- ringmq

fn ringmq_spsc_item(n: u64) -> Duration {
    ringmq_spsc_item_release(n, 1)
}

/// Per-item pops that hand slots back in groups of `release_every`.
fn ringmq_spsc_item_release(n: u64, release_every: usize) -> Duration {
    let (mut tx, mut rx) = Builder::new(CAP)
        .wait_strategy(WaitStrategy::BusySpin)
        .spsc::<u64>()
        .unwrap();
    rx.set_release_every(release_every);
    let start = Instant::now();
    let p = thread::spawn(move || {
        for i in 0..n {
            tx.push(i).unwrap();
        }
    });
    let mut sum = 0u64;
    for _ in 0..n {
        sum = sum.wrapping_add(rx.pop().unwrap());
    }
    let d = start.elapsed();
    p.join().unwrap();
    assert_eq!(sum, expected_sum(n));
    d
}

/// Batch-64: the producer publishes 64 items at a time; the consumer takes
/// at most `max` per batch (64, or the whole ring to take everything).
fn ringmq_spsc_batch(n: u64, max: usize) -> Duration {
    let (mut tx, mut rx) = Builder::new(CAP)
        .wait_strategy(WaitStrategy::BusySpin)
        .spsc::<u64>()
        .unwrap();
    let start = Instant::now();
    let p = thread::spawn(move || {
        let mut i = 0u64;
        while i < n {
            let mut c = tx.claim(BATCH.min((n - i) as usize));
            if c.remaining() == 0 {
                spin_loop();
                continue;
            }
            i += c.fill_from_iter(i..n) as u64;
        }
    });
    let mut sum = 0u64;
    let mut got = 0u64;
    while got < n {
        if let Ok(b) = rx.try_pop_batch(max) {
            let (x, y) = b.as_slices();
            got += (x.len() + y.len()) as u64;
            for &v in x.iter().chain(y) {
                sum = sum.wrapping_add(v);
            }
            b.consume();
        } else {
            spin_loop();
        }
    }
    let d = start.elapsed();
    p.join().unwrap();
    assert_eq!(sum, expected_sum(n));
    d
}

fn ringmq_mpsc_batch(n: u64) -> Duration {
    let (tx, mut rx) = Builder::new(CAP)
        .wait_strategy(WaitStrategy::BusySpin)
        .mpsc::<u64>()
        .unwrap();
    let start = Instant::now();
    let ps: Vec<_> = (0..2u64)
        .map(|p| {
            let tx = tx.clone();
            thread::spawn(move || {
                // Producer p sends the values i with i % 2 == p, 64 at a time.
                let mut i = p;
                while i < n {
                    let len = BATCH.min((n - i).div_ceil(2) as usize);
                    let items = (0..len).map(|k| i + 2 * k as u64);
                    let mut it = items;
                    loop {
                        match tx.try_push_batch(it) {
                            Ok(()) => break,
                            Err(e) => {
                                it = e.into_inner();
                                spin_loop();
                            }
                        }
                    }
                    i += 2 * len as u64;
                }
            })
        })
        .collect();
    drop(tx);
    let mut sum = 0u64;
    let mut got = 0u64;
    while got < n {
        if let Ok(b) = rx.try_pop_batch(CAP) {
            got += b.len() as u64;
            for v in b {
                sum = sum.wrapping_add(v);
            }
        } else {
            spin_loop();
        }
    }
    let d = start.elapsed();
    ps.into_iter().for_each(|p| p.join().unwrap());
    assert_eq!(sum, expected_sum(n));
    d
}

fn ringmq_mpsc_item(n: u64) -> Duration {
    let (tx, mut rx) = Builder::new(CAP)
        .wait_strategy(WaitStrategy::BusySpin)
        .mpsc::<u64>()
        .unwrap();
    let start = Instant::now();
    let ps: Vec<_> = (0..2u64)
        .map(|p| {
            let tx = tx.clone();
            thread::spawn(move || {
                let mut i = p;
                while i < n {
                    tx.push(i).unwrap();
                    i += 2;
                }
            })
        })
        .collect();
    drop(tx);
    let mut sum = 0u64;
    for _ in 0..n {
        sum = sum.wrapping_add(rx.pop().unwrap());
    }
    let d = start.elapsed();
    ps.into_iter().for_each(|p| p.join().unwrap());
    assert_eq!(sum, expected_sum(n));
    d
}

/// Round trips between two threads over two rings; returns the time for `n`
/// one-way hops.
fn ringmq_pingpong(n: u64) -> Duration {
    let b = Builder::new(CAP).wait_strategy(WaitStrategy::BusySpin);
    let (mut ping_tx, mut ping_rx) = b.spsc::<u64>().unwrap();
    let (mut pong_tx, mut pong_rx) = b.spsc::<u64>().unwrap();
    let e = thread::spawn(move || {
        while let Ok(v) = ping_rx.pop() {
            pong_tx.push(v).unwrap();
        }
    });
    let start = Instant::now();
    for i in 0..n / 2 {
        ping_tx.push(i).unwrap();
        assert_eq!(pong_rx.pop(), Ok(i));
    }
    let d = start.elapsed();
    drop(ping_tx);
    e.join().unwrap();
    d
}

// ---------------------------------------------------------------- rtrb

fn rtrb_item(n: u64) -> Duration {
    let (mut tx, mut rx) = rtrb::RingBuffer::<u64>::new(CAP);
    let start = Instant::now();
    let p = thread::spawn(move || {
        for i in 0..n {
            let mut v = i;
            while let Err(rtrb::PushError::Full(back)) = tx.push(v) {
                v = back;
                spin_loop();
            }
        }
    });
    let mut sum = 0u64;
    let mut got = 0;
    while got < n {
        match rx.pop() {
            Ok(v) => {
                sum = sum.wrapping_add(v);
                got += 1;
            }
            Err(_) => spin_loop(),
        }
    }
    let d = start.elapsed();
    p.join().unwrap();
    assert_eq!(sum, expected_sum(n));
    d
}

/// As [`ringmq_spsc_batch`]: chunks of 64 written, at most `max` read.
fn rtrb_chunks(n: u64, max: usize) -> Duration {
    let (mut tx, mut rx) = rtrb::RingBuffer::<u64>::new(CAP);
    let start = Instant::now();
    let p = thread::spawn(move || {
        let mut i = 0u64;
        while i < n {
            let len = BATCH.min((n - i) as usize);
            match tx.write_chunk_uninit(len) {
                Ok(chunk) => {
                    let written = chunk.fill_from_iter(i..i + len as u64);
                    i += written as u64;
                }
                Err(_) => spin_loop(),
            }
        }
    });
    let mut sum = 0u64;
    let mut got = 0u64;
    while got < n {
        // `read_chunk(max)` reads the producer's cursor only when its cached
        // copy shows fewer than `max` items; short of that, take what is
        // there.
        let chunk = match rx.read_chunk(max) {
            Ok(c) => c,
            Err(rtrb::chunks::ChunkError::TooFewSlots(0)) => {
                spin_loop();
                continue;
            }
            Err(rtrb::chunks::ChunkError::TooFewSlots(k)) => rx.read_chunk(k).unwrap(),
        };
        let (a, b) = chunk.as_slices();
        for &v in a.iter().chain(b) {
            sum = sum.wrapping_add(v);
        }
        got += (a.len() + b.len()) as u64;
        chunk.commit_all();
    }
    let d = start.elapsed();
    p.join().unwrap();
    assert_eq!(sum, expected_sum(n));
    d
}

fn rtrb_pingpong(n: u64) -> Duration {
    let (mut ping_tx, mut ping_rx) = rtrb::RingBuffer::<u64>::new(CAP);
    let (mut pong_tx, mut pong_rx) = rtrb::RingBuffer::<u64>::new(CAP);
    let half = n / 2;
    let e = thread::spawn(move || {
        let mut k = 0;
        while k < half {
            if let Ok(v) = ping_rx.pop() {
                while pong_tx.push(v).is_err() {}
                k += 1;
            } else {
                spin_loop();
            }
        }
    });
    let start = Instant::now();
    for i in 0..half {
        while ping_tx.push(i).is_err() {}
        loop {
            if let Ok(v) = pong_rx.pop() {
                assert_eq!(v, i);
                break;
            }
            spin_loop();
        }
    }
    let d = start.elapsed();
    e.join().unwrap();
    d
}

// ---------------------------------------------------------------- disruptor

struct Event {
    v: u64,
}

fn disruptor_batch(n: u64, producers: u64) -> Duration {
    use disruptor::Producer as _;
    let total = Arc::new(AtomicU64::new(0));
    let t = total.clone();
    let mut local = 0u64;
    let handler = move |e: &Event, _seq: i64, end_of_batch: bool| {
        local = local.wrapping_add(e.v);
        if end_of_batch {
            t.store(local, Ordering::Release);
        }
    };
    let start = Instant::now();
    if producers == 1 {
        let mut p = disruptor::build_single_producer(CAP, || Event { v: 0 }, disruptor::BusySpin)
            .handle_events_with(handler)
            .build();
        let mut i = 0u64;
        while i < n {
            let len = BATCH.min((n - i) as usize);
            p.batch_publish(len, |it| {
                for e in it {
                    e.v = i;
                    i += 1;
                }
            });
        }
        drop(p); // waits for the processor to finish
    } else {
        let p = disruptor::build_multi_producer(CAP, || Event { v: 0 }, disruptor::BusySpin)
            .handle_events_with(handler)
            .build();
        let hs: Vec<_> = (0..producers)
            .map(|k| {
                let mut p = p.clone();
                thread::spawn(move || {
                    let mut i = k;
                    while i < n {
                        let len = BATCH.min((n - i).div_ceil(2) as usize);
                        p.batch_publish(len, |it| {
                            for e in it {
                                e.v = i;
                                i += 2;
                            }
                        });
                    }
                })
            })
            .collect();
        hs.into_iter().for_each(|h| h.join().unwrap());
        drop(p);
    }
    let d = start.elapsed();
    assert_eq!(total.load(Ordering::Acquire), expected_sum(n));
    d
}

// ---------------------------------------------------------------- crossbeam

fn crossbeam_channel(n: u64, producers: u64) -> Duration {
    let (tx, rx) = crossbeam_channel::bounded::<u64>(CAP);
    let start = Instant::now();
    let hs: Vec<_> = (0..producers)
        .map(|k| {
            let tx = tx.clone();
            thread::spawn(move || {
                let mut i = k;
                while i < n {
                    tx.send(i).unwrap();
                    i += producers;
                }
            })
        })
        .collect();
    drop(tx);
    let mut sum = 0u64;
    for v in rx.iter() {
        sum = sum.wrapping_add(v);
    }
    let d = start.elapsed();
    hs.into_iter().for_each(|h| h.join().unwrap());
    assert_eq!(sum, expected_sum(n));
    d
}

fn crossbeam_channel_pingpong(n: u64) -> Duration {
    let (ping_tx, ping_rx) = crossbeam_channel::bounded::<u64>(CAP);
    let (pong_tx, pong_rx) = crossbeam_channel::bounded::<u64>(CAP);
    let e = thread::spawn(move || {
        for v in ping_rx.iter() {
            pong_tx.send(v).unwrap();
        }
    });
    let start = Instant::now();
    for i in 0..n / 2 {
        ping_tx.send(i).unwrap();
        assert_eq!(pong_rx.recv(), Ok(i));
    }
    let d = start.elapsed();
    drop(ping_tx);
    e.join().unwrap();
    d
}

fn array_queue(n: u64, producers: u64) -> Duration {
    let q = Arc::new(crossbeam_queue::ArrayQueue::<u64>::new(CAP));
    let start = Instant::now();
    let hs: Vec<_> = (0..producers)
        .map(|k| {
            let q = q.clone();
            thread::spawn(move || {
                let mut i = k;
                while i < n {
                    let mut v = i;
                    while let Err(back) = q.push(v) {
                        v = back;
                        spin_loop();
                    }
                    i += producers;
                }
            })
        })
        .collect();
    let mut sum = 0u64;
    let mut got = 0;
    while got < n {
        match q.pop() {
            Some(v) => {
                sum = sum.wrapping_add(v);
                got += 1;
            }
            None => spin_loop(),
        }
    }
    let d = start.elapsed();
    hs.into_iter().for_each(|h| h.join().unwrap());
    assert_eq!(sum, expected_sum(n));
    d
}

fn array_queue_pingpong(n: u64) -> Duration {
    let ping = Arc::new(crossbeam_queue::ArrayQueue::<u64>::new(CAP));
    let pong = Arc::new(crossbeam_queue::ArrayQueue::<u64>::new(CAP));
    let (pi, po) = (ping.clone(), pong.clone());
    let half = n / 2;
    let e = thread::spawn(move || {
        let mut k = 0;
        while k < half {
            if let Some(v) = pi.pop() {
                while po.push(v).is_err() {}
                k += 1;
            } else {
                spin_loop();
            }
        }
    });
    let start = Instant::now();
    for i in 0..half {
        while ping.push(i).is_err() {}
        loop {
            if let Some(v) = pong.pop() {
                assert_eq!(v, i);
                break;
            }
            spin_loop();
        }
    }
    let d = start.elapsed();
    e.join().unwrap();
    d
}

// ---------------------------------------------------------------- main

struct Row {
    group: &'static str,
    name: &'static str,
    mps: f64,
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    // `cargo bench` passes `--bench`; ignore other harness flags.
    let scale = if quick { 1 } else { 5 };
    let reps = if quick { 2 } else { 5 };
    let n_batch = 4_000_000 * scale;
    let n_item = 1_000_000 * scale;
    let n_pp = 100_000 * scale / 5 * 2;

    let mut rows = Vec::new();
    let mut add = |group, name, n: u64, d: Duration| {
        let r = Row {
            group,
            name,
            mps: rate(n, d),
        };
        println!("{:<23} {:<34} {:>10.1} M/s", r.group, r.name, r.mps);
        rows.push(r);
    };

    let batch = best_interleaved(
        reps,
        &mut [
            &mut || ringmq_spsc_batch(n_batch, BATCH),
            &mut || rtrb_chunks(n_batch, BATCH),
            &mut || disruptor_batch(n_batch, 1),
            &mut || ringmq_spsc_batch(n_batch, CAP),
            &mut || rtrb_chunks(n_batch, CAP),
        ],
    );
    let batch_names = [
        ("spsc batch-64", "ringmq claim/try_pop_batch(64)"),
        ("spsc batch-64", "rtrb chunks 64/read_chunk(64)"),
        ("spsc batch-64", "disruptor batch_publish"),
        (
            "spsc batch-64, take all",
            "ringmq claim/try_pop_batch(1024)",
        ),
        ("spsc batch-64, take all", "rtrb chunks 64/read_chunk(1024)"),
    ];
    for ((group, name), d) in batch_names.into_iter().zip(batch) {
        add(group, name, n_batch, d);
    }

    let item = best_interleaved(
        reps,
        &mut [
            &mut || ringmq_spsc_item(n_item),
            &mut || ringmq_spsc_item_release(n_item, 64),
            &mut || rtrb_item(n_item),
            &mut || crossbeam_channel(n_item, 1),
            &mut || array_queue(n_item, 1),
        ],
    );
    let item_names = [
        "ringmq push/pop",
        "ringmq push/pop, release every 64",
        "rtrb push/pop",
        "crossbeam-channel bounded",
        "crossbeam ArrayQueue",
    ];
    for (name, d) in item_names.into_iter().zip(item) {
        add("spsc per-item", name, n_item, d);
    }

    add(
        "mpsc 2P batch-64",
        "ringmq try_push_batch",
        n_batch,
        best(reps, || ringmq_mpsc_batch(n_batch)),
    );
    add(
        "mpsc 2P batch-64",
        "disruptor batch_publish",
        n_batch,
        best(reps, || disruptor_batch(n_batch, 2)),
    );
    add(
        "mpsc 2P per-item",
        "ringmq push/pop",
        n_item,
        best(reps, || ringmq_mpsc_item(n_item)),
    );
    add(
        "mpsc 2P per-item",
        "crossbeam-channel bounded",
        n_item,
        best(reps, || crossbeam_channel(n_item, 2)),
    );
    add(
        "mpsc 2P per-item",
        "crossbeam ArrayQueue",
        n_item,
        best(reps, || array_queue(n_item, 2)),
    );

    let hop = |d: Duration| d.as_nanos() as f64 / n_pp as f64;
    println!();
    println!("ping-pong one-way hop latency (ns, lower is better):");
    let pp = [
        ("ringmq", best(reps, || ringmq_pingpong(n_pp))),
        ("rtrb", best(reps, || rtrb_pingpong(n_pp))),
        (
            "crossbeam-channel",
            best(reps, || crossbeam_channel_pingpong(n_pp)),
        ),
        (
            "crossbeam ArrayQueue",
            best(reps, || array_queue_pingpong(n_pp)),
        ),
    ];
    for (name, d) in pp {
        println!(
            "  {:<22} {:>8.1} ns  (ringmq speed-up {:.2}x)",
            name,
            hop(d),
            hop(d) / hop(pp[0].1)
        );
    }

    println!();
    println!("ratios (ringmq / peer, same run):");
    for g in [
        "spsc batch-64",
        "spsc batch-64, take all",
        "spsc per-item",
        "mpsc 2P batch-64",
        "mpsc 2P per-item",
    ] {
        let ours = rows
            .iter()
            .find(|r| r.group == g && r.name.starts_with("ringmq"))
            .unwrap();
        for r in rows
            .iter()
            .filter(|r| r.group == g && !r.name.starts_with("ringmq"))
        {
            println!("  {:<23} vs {:<31} {:>6.2}x", g, r.name, ours.mps / r.mps);
        }
    }
}
