//! End-to-end tests of the Storm worker path over real loopback TCP:
//! exactness, groupings, locality, backpressure, shutdown and late peers.
//! No test's verdict depends on timing; every wait is bounded and fails
//! with a message.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ringmq::worker::{
    Assignment, Bolt, Collector, Config, LocalCluster, Spout, TopologyBuilder, Tuple, Value, Worker,
};

const WORDS: [&str; 12] = [
    "storm",
    "ring",
    "queue",
    "tuple",
    "spout",
    "bolt",
    "worker",
    "batch",
    "socket",
    "field",
    "shuffle",
    "a-much-longer-word-that-is-not-stored-inline",
];

fn config() -> Config {
    Config {
        base_port: 0,
        metrics_interval: None,
        shutdown_timeout: Duration::from_secs(20),
        ..Config::default()
    }
}

fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Emits `limit` sentences (or forever with `None`) and counts them.
struct SentenceSpout {
    next: u64,
    limit: Option<u64>,
    emitted: Arc<AtomicU64>,
    finals: Arc<Mutex<Vec<u64>>>,
}

impl Spout for SentenceSpout {
    fn close(&mut self) {
        self.finals.lock().unwrap().push(self.next);
    }

    fn next_tuple(&mut self, out: &mut Collector) {
        if self.limit.is_some_and(|l| self.next >= l) {
            return;
        }
        let i = self.next as usize;
        let s = format!(
            "{} {} {}",
            WORDS[i % WORDS.len()],
            WORDS[(i / 3) % WORDS.len()],
            WORDS[(i / 7) % WORDS.len()]
        );
        out.emit([Value::from(s), Value::I64(out.task_id() as i64)]);
        self.next += 1;
        self.emitted.fetch_add(1, Ordering::Relaxed);
    }
}

struct Split;

impl Bolt for Split {
    fn execute(&mut self, t: &Tuple, out: &mut Collector) {
        let s = t.get(0).and_then(Value::as_str).unwrap_or_default();
        for w in s.split(' ') {
            out.emit([Value::from(w)]);
        }
    }
}

/// Records, per word, the count and the tasks that saw it; per task, the
/// source tasks it heard from.
#[derive(Default)]
struct Seen {
    counts: HashMap<String, u64>,
    tasks_of_word: HashMap<String, HashSet<u32>>,
    sources_of_task: HashMap<u32, HashSet<u32>>,
    total: u64,
}

struct CountBolt {
    task: u32,
    seen: Arc<Mutex<Seen>>,
    executed: Arc<AtomicU64>,
    delay: Option<Duration>,
    /// While set and false, the bolt takes no tuple (its queue fills).
    gate: Option<Arc<AtomicBool>>,
}

impl Bolt for CountBolt {
    fn execute(&mut self, t: &Tuple, _out: &mut Collector) {
        if let Some(g) = &self.gate {
            while !g.load(Ordering::Acquire) {
                std::thread::sleep(Duration::from_millis(1));
            }
        }
        let w = t
            .get(0)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let mut s = self.seen.lock().unwrap();
        *s.counts.entry(w.clone()).or_default() += 1;
        s.tasks_of_word.entry(w).or_default().insert(self.task);
        s.sources_of_task
            .entry(self.task)
            .or_default()
            .insert(t.source_task());
        s.total += 1;
        drop(s);
        self.executed.fetch_add(1, Ordering::Relaxed);
        if let Some(d) = self.delay {
            // Slow: a pause every 8 tuples.
            if self.executed.load(Ordering::Relaxed) % 8 == 0 {
                std::thread::sleep(d);
            }
        }
    }
}

fn expected_words(sentences_per_task: u64, spout_tasks: u64) -> HashMap<String, u64> {
    let mut m = HashMap::new();
    for i in 0..sentences_per_task as usize {
        for w in [
            WORDS[i % WORDS.len()],
            WORDS[(i / 3) % WORDS.len()],
            WORDS[(i / 7) % WORDS.len()],
        ] {
            *m.entry(w.to_owned()).or_default() += spout_tasks;
        }
    }
    m
}

struct Harness {
    seen: Arc<Mutex<Seen>>,
    emitted: Arc<AtomicU64>,
    executed: Arc<AtomicU64>,
    finals: Arc<Mutex<Vec<u64>>>,
}

fn wordcount(
    b: &mut TopologyBuilder,
    h: &Harness,
    spouts: usize,
    splits: usize,
    counts: usize,
    limit: Option<u64>,
) {
    let em = h.emitted.clone();
    let fin = h.finals.clone();
    b.set_spout("sentences", spouts, move |_| SentenceSpout {
        next: 0,
        limit,
        emitted: em.clone(),
        finals: fin.clone(),
    })
    .output_fields(&["sentence", "origin"]);
    b.set_bolt("split", splits, |_| Split)
        .shuffle_grouping("sentences")
        .output_fields(&["word"]);
    let seen = h.seen.clone();
    let ex = h.executed.clone();
    b.set_bolt("count", counts, move |c| CountBolt {
        task: c.task_id(),
        seen: seen.clone(),
        executed: ex.clone(),
        delay: None,
        gate: None,
    })
    .fields_grouping("split", ["word"]);
}

fn harness() -> Harness {
    Harness {
        seen: Arc::default(),
        emitted: Arc::default(),
        executed: Arc::default(),
        finals: Arc::default(),
    }
}

fn exact_wordcount(workers: usize) {
    let per_task = 3_000u64;
    let h = harness();
    let mut b = TopologyBuilder::new();
    wordcount(&mut b, &h, 2, 3, 3, Some(per_task));
    let cluster = LocalCluster::start(b.build().unwrap(), workers, config()).unwrap();
    wait_until("the spouts to emit everything", || {
        h.emitted.load(Ordering::Relaxed) == 2 * per_task
    });
    let metrics = cluster.shutdown().unwrap();
    let seen = h.seen.lock().unwrap();
    assert_eq!(seen.counts, expected_words(per_task, 2), "counts differ");
    assert_eq!(seen.total, 3 * 2 * per_task);
    // Every word was counted by exactly one count task.
    for (w, tasks) in &seen.tasks_of_word {
        assert_eq!(tasks.len(), 1, "word {w} went to tasks {tasks:?}");
    }
    let remote: u64 = metrics.iter().map(|m| m.tuples_sent_remote).sum();
    let received: u64 = metrics.iter().map(|m| m.tuples_received).sum();
    assert!(remote > 0, "a {workers}-worker run must use the network");
    assert_eq!(remote, received, "every tuple sent was received");
    assert!(metrics
        .iter()
        .all(|m| m.decode_errors == 0 && m.misrouted == 0));
}

#[test]
fn exact_counts_across_two_workers() {
    exact_wordcount(2);
}

#[test]
fn exact_counts_across_three_workers() {
    exact_wordcount(3);
}

#[test]
fn fields_grouping_sends_one_key_to_one_task() {
    let h = harness();
    let mut b = TopologyBuilder::new();
    let em = h.emitted.clone();
    // Words straight from the spout, many repeats, 4 count tasks on 2 workers.
    struct WordSpout(u64, Arc<AtomicU64>);
    impl Spout for WordSpout {
        fn next_tuple(&mut self, out: &mut Collector) {
            if self.0 < 2000 {
                out.emit([Value::from(WORDS[(self.0 % 12) as usize])]);
                self.0 += 1;
                self.1.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
    b.set_spout("words", 2, move |_| WordSpout(0, em.clone()))
        .output_fields(&["word"]);
    let seen = h.seen.clone();
    let ex = h.executed.clone();
    b.set_bolt("count", 4, move |c| CountBolt {
        task: c.task_id(),
        seen: seen.clone(),
        executed: ex.clone(),
        delay: None,
        gate: None,
    })
    .fields_grouping("words", [0usize]);
    let cluster = LocalCluster::start(b.build().unwrap(), 2, config()).unwrap();
    wait_until("the spouts", || h.emitted.load(Ordering::Relaxed) == 4000);
    cluster.shutdown().unwrap();
    let seen = h.seen.lock().unwrap();
    assert_eq!(seen.total, 4000);
    let mut used = HashSet::new();
    for (w, tasks) in &seen.tasks_of_word {
        assert_eq!(tasks.len(), 1, "word {w} reached {tasks:?}");
        used.extend(tasks.iter().copied());
        let k = WORDS.iter().position(|x| x == w).unwrap();
        assert_eq!(
            seen.counts[w],
            2 * (2000 / 12 + u64::from(k < 2000 % 12)),
            "count of {w}"
        );
    }
    assert!(
        used.len() > 1,
        "12 keys over 4 tasks should use more than one task"
    );
}

#[test]
fn local_or_shuffle_prefers_local_tasks_and_skips_the_socket() {
    let h = harness();
    let mut b = TopologyBuilder::new();
    let em = h.emitted.clone();
    let fin = h.finals.clone();
    b.set_spout("sentences", 2, move |_| SentenceSpout {
        next: 0,
        limit: Some(2000),
        emitted: em.clone(),
        finals: fin.clone(),
    })
    .output_fields(&["sentence", "origin"]);
    let seen = h.seen.clone();
    let ex = h.executed.clone();
    b.set_bolt("count", 4, move |c| CountBolt {
        task: c.task_id(),
        seen: seen.clone(),
        executed: ex.clone(),
        delay: None,
        gate: None,
    })
    .local_or_shuffle_grouping("sentences");
    let topo = b.build().unwrap();
    let cluster = LocalCluster::start(topo, 2, config()).unwrap();
    let a = cluster.assignment().clone();
    wait_until("the spouts", || h.emitted.load(Ordering::Relaxed) == 4000);
    let metrics = cluster.shutdown().unwrap();
    let seen = h.seen.lock().unwrap();
    assert_eq!(seen.total, 4000);
    for (task, sources) in &seen.sources_of_task {
        for s in sources {
            assert_eq!(
                a.worker_of(*s),
                a.worker_of(*task),
                "task {task} got a tuple from remote task {s}"
            );
        }
    }
    for m in &metrics {
        assert_eq!(
            m.tuples_sent_remote, 0,
            "worker {} used the socket",
            m.worker
        );
        assert_eq!(
            m.tuples_local, 2000,
            "worker {} kept its tuples local",
            m.worker
        );
    }
}

#[test]
fn same_worker_tuples_never_touch_the_socket() {
    let h = harness();
    let mut b = TopologyBuilder::new();
    wordcount(&mut b, &h, 2, 2, 2, Some(1000));
    let cluster = LocalCluster::start(b.build().unwrap(), 1, config()).unwrap();
    wait_until("the spouts", || h.emitted.load(Ordering::Relaxed) == 2000);
    let m = cluster.shutdown().unwrap();
    assert_eq!(h.seen.lock().unwrap().counts, expected_words(1000, 2));
    assert_eq!(m[0].messages_sent, 0);
    assert_eq!(m[0].bytes_sent, 0);
    assert_eq!(m[0].tuples_sent_remote, 0);
    // 2000 sentences + 6000 words, all handed over through rings.
    assert_eq!(m[0].tuples_local, 8000);
}

/// A slow bolt behind an unbounded spout: the spout is held back (what is
/// in flight never exceeds what the rings and sockets can hold) and nothing
/// is lost.
fn slow_bolt(workers: usize, bound: u64) {
    let h = harness();
    let mut b = TopologyBuilder::new();
    let em = h.emitted.clone();
    let fin = h.finals.clone();
    b.set_spout("sentences", 1, move |_| SentenceSpout {
        next: 0,
        limit: None,
        emitted: em.clone(),
        finals: fin.clone(),
    })
    .output_fields(&["sentence", "origin"]);
    let seen = h.seen.clone();
    let ex = h.executed.clone();
    b.set_bolt("count", 1, move |c| CountBolt {
        task: c.task_id(),
        seen: seen.clone(),
        executed: ex.clone(),
        delay: Some(Duration::from_micros(50)),
        gate: None,
    })
    .shuffle_grouping("sentences");
    let cfg = Config {
        executor_receive_buffer_size: 16,
        executor_send_buffer_size: 16,
        transfer_buffer_size: 16,
        transfer_batch_size: 16,
        emit_batch_size: 8,
        spout_round: 8,
        socket_hwm: 2,
        ..config()
    };
    let cluster = LocalCluster::start(b.build().unwrap(), workers, cfg).unwrap();
    let mut max_in_flight = 0;
    wait_until("the slow bolt to execute 3000 tuples", || {
        let ex = h.executed.load(Ordering::Relaxed);
        let em = h.emitted.load(Ordering::Relaxed);
        max_in_flight = max_in_flight.max(em.saturating_sub(ex));
        assert!(
            em - ex <= bound,
            "{} tuples in flight, bound {bound}: backpressure failed",
            em - ex
        );
        ex >= 3000
    });
    cluster.shutdown().unwrap();
    let em = h.emitted.load(Ordering::Relaxed);
    let ex = h.executed.load(Ordering::Relaxed);
    assert_eq!(em, ex, "tuples lost or duplicated");
    assert_eq!(h.seen.lock().unwrap().total, em);
    eprintln!("max in flight {max_in_flight} (bound {bound})");
}

#[test]
fn slow_bolt_slows_the_spout_in_one_worker() {
    // outgoing ring 16 + emit buffer 8 + send thread's batch 16 + incoming
    // ring 16 batches of at most 16 + the bolt's 16 batches in hand.
    slow_bolt(1, 16 + 8 + 16 + 16 * 16 + 16 * 16);
}

#[test]
fn slow_bolt_slows_the_spout_across_workers() {
    // Adds the transfer ring, the socket queues (HWM 2 batches of 16 on
    // each side), the receive thread's batch (8 messages) and what the
    // kernel's loopback buffers can hold (4 MiB of ~40-byte tuples).
    slow_bolt(2, 600 + 16 + 4 * 16 + 8 * 16 + (4 << 20) / 40);
}

#[test]
fn shutdown_delivers_tuples_in_flight() {
    let h = harness();
    let mut b = TopologyBuilder::new();
    wordcount(&mut b, &h, 2, 2, 2, None);
    let cluster = LocalCluster::start(b.build().unwrap(), 2, config()).unwrap();
    wait_until("some words to be counted", || {
        h.executed.load(Ordering::Relaxed) > 500
    });
    // The spouts run unbounded: rings and sockets are full of tuples now.
    cluster.shutdown().unwrap();
    let emitted = h.emitted.load(Ordering::Relaxed);
    let seen = h.seen.lock().unwrap();
    assert_eq!(
        seen.total,
        3 * emitted,
        "every emitted sentence's words counted"
    );
    let finals = h.finals.lock().unwrap().clone();
    assert_eq!(finals.len(), 2, "both spouts closed");
    assert_eq!(finals.iter().sum::<u64>(), emitted);
    let mut want: HashMap<String, u64> = HashMap::new();
    for n in finals {
        for (w, c) in expected_words(n, 1) {
            *want.entry(w).or_default() += c;
        }
    }
    assert_eq!(seen.counts, want);
}

#[test]
fn worker_started_before_its_peers_waits_and_connects() {
    let h = harness();
    let mut b = TopologyBuilder::new();
    wordcount(&mut b, &h, 2, 2, 2, Some(500));
    let topo = b.build().unwrap();
    // Reserve a port for worker 1 and free it again: nobody listens there
    // while worker 0 starts.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let ctx0 = ringmq::Context::new();
    let ctx1 = ringmq::Context::new();
    let cfg = config();
    let (pull0, ep0) = Worker::bind(&ctx0, "tcp://127.0.0.1:*", &cfg).unwrap();
    let ep1 = format!("tcp://127.0.0.1:{port}");
    let a = Assignment::round_robin(&topo, &[ep0.as_str(), ep1.as_str()]).unwrap();
    let w0 =
        Worker::start_with_socket(&ctx0, topo.clone(), a.clone(), 0, cfg.clone(), pull0).unwrap();
    // Worker 0's spout fills its rings; its tuples for worker 1 wait.
    wait_until("worker 0's spout to emit", || {
        h.emitted.load(Ordering::Relaxed) > 0
    });
    assert_eq!(w0.metrics().tuples_received, 0);
    let w1 = Worker::start(&ctx1, topo, a, 1, cfg).unwrap();
    wait_until("every sentence to be emitted", || {
        h.emitted.load(Ordering::Relaxed) == 1000
    });
    w0.stop_spouts();
    w1.stop_spouts();
    let m0 = w0.join(Duration::from_secs(20)).unwrap();
    let m1 = w1.join(Duration::from_secs(20)).unwrap();
    assert_eq!(h.seen.lock().unwrap().counts, expected_words(500, 2));
    assert!(m0.tuples_sent_remote > 0 && m1.tuples_received > 0);
}

/// Worker 0 runs a spout feeding a slow bolt on worker 1 (so it gets
/// backpressure reports) and a bolt that finishes early at shutdown; its
/// receive thread must keep delivering those reports until its spout's
/// sender is done, or shutdown hangs. The slow bolt takes nothing until
/// its queue has overflowed, so the congestion comes whatever the speed of
/// the machine.
#[test]
fn backpressure_reports_outlive_early_finishing_bolts() {
    let h = harness();
    let other = harness();
    let mut b = TopologyBuilder::new();
    let (em, fin) = (h.emitted.clone(), h.finals.clone());
    // Tasks: 0 fast-src (w0), 1 slow (w1), 2 quick (w0), 3 side-src (w1).
    b.set_spout("fast-src", 1, move |_| SentenceSpout {
        next: 0,
        limit: None,
        emitted: em.clone(),
        finals: fin.clone(),
    })
    .output_fields(&["sentence", "origin"]);
    let (seen, ex) = (h.seen.clone(), h.executed.clone());
    let gate = Arc::new(AtomicBool::new(false));
    let g = gate.clone();
    b.set_bolt("slow", 1, move |c| CountBolt {
        task: c.task_id(),
        seen: seen.clone(),
        executed: ex.clone(),
        delay: Some(Duration::from_micros(50)),
        gate: Some(g.clone()),
    })
    .shuffle_grouping("fast-src");
    let (seen, ex) = (other.seen.clone(), other.executed.clone());
    b.set_bolt("quick", 1, move |c| CountBolt {
        task: c.task_id(),
        seen: seen.clone(),
        executed: ex.clone(),
        delay: None,
        gate: None,
    })
    .shuffle_grouping("side-src");
    let (em, fin) = (other.emitted.clone(), other.finals.clone());
    b.set_spout("side-src", 1, move |_| SentenceSpout {
        next: 0,
        limit: Some(100),
        emitted: em.clone(),
        finals: fin.clone(),
    })
    .output_fields(&["sentence", "origin"]);
    let cfg = Config {
        executor_receive_buffer_size: 16,
        executor_send_buffer_size: 16,
        transfer_buffer_size: 16,
        transfer_batch_size: 16,
        emit_batch_size: 8,
        spout_round: 8,
        socket_hwm: 2,
        shutdown_timeout: Duration::from_secs(15),
        ..config()
    };
    let cluster = LocalCluster::start(b.build().unwrap(), 2, cfg).unwrap();
    assert_eq!(cluster.assignment().tasks_of(0), vec![0, 2]);
    wait_until("the slow bolt to be congested", || {
        other.emitted.load(Ordering::Relaxed) == 100 && cluster.metrics()[1].overflow_episodes > 0
    });
    gate.store(true, Ordering::Release);
    wait_until("the slow bolt to run", || {
        h.executed.load(Ordering::Relaxed) > 500
    });
    cluster.shutdown().expect("shutdown drains");
    assert_eq!(
        h.seen.lock().unwrap().total,
        h.emitted.load(Ordering::Relaxed)
    );
    assert_eq!(other.seen.lock().unwrap().total, 100);
}

/// Garbage and half-valid frames sent to a worker's port are rejected
/// whole (counted, logged), and the worker carries on.
#[test]
fn malformed_frames_from_the_network_are_rejected_whole() {
    use ringmq::worker::codec::BatchEncoder;
    use ringmq::worker::StreamId;
    let h = harness();
    let mut b = TopologyBuilder::new();
    wordcount(&mut b, &h, 1, 1, 1, Some(10));
    let cluster = LocalCluster::start(b.build().unwrap(), 1, config()).unwrap();
    let ctx = ringmq::Context::new();
    let push = ctx.socket(ringmq::SocketType::Push).unwrap();
    push.connect(cluster.assignment().endpoint(0)).unwrap();
    // Task 2 is the count bolt: a valid tuple for it, then a stray byte.
    let mut enc = BatchEncoder::new();
    enc.push_tuple(
        2,
        &Tuple::new(1, StreamId::DEFAULT, [Value::from("intruder")]),
    );
    let mut bad = enc.finish().unwrap().to_vec();
    bad.push(0);
    push.send(bad).unwrap();
    push.send(&b"\x01\xff\xff\xff\xff"[..]).unwrap();
    push.send(&b""[..]).unwrap();
    push.send(&b"\x09junk"[..]).unwrap();
    wait_until("the frames to be rejected", || {
        cluster.metrics()[0].decode_errors == 4
    });
    wait_until("the spout", || h.emitted.load(Ordering::Relaxed) == 10);
    let m = cluster.shutdown().unwrap();
    assert_eq!(m[0].decode_errors, 4);
    assert_eq!(m[0].tuples_received, 0);
    let seen = h.seen.lock().unwrap();
    assert!(!seen.counts.contains_key("intruder"));
    assert_eq!(seen.counts, expected_words(10, 1));
}
