//! The worker module's API: topology validation, configuration, assignment,
//! the tuple codec's strictness, and the groupings that need no network
//! (all, global, direct, named streams) in a one-worker cluster.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use ringmq::worker::codec::{decode, BatchEncoder, Limits, WireItem, KIND_DATA};
use ringmq::worker::{
    Assignment, Bolt, Collector, Config, EmitError, LocalCluster, Spout, Str, StreamId,
    TaskContext, TopologyBuilder, TopologyError, Tuple, Value, WorkerError,
};

struct Nothing;
impl Spout for Nothing {
    fn next_tuple(&mut self, _: &mut Collector) {}
}
struct Sink;
impl Bolt for Sink {
    fn execute(&mut self, _: &Tuple, _: &mut Collector) {}
}

fn base() -> TopologyBuilder {
    let mut b = TopologyBuilder::new();
    b.set_spout("s", 2, |_| Nothing)
        .output_fields(&["word", "n"])
        .output_stream("side", &["x"]);
    b
}

#[test]
fn validation_reports_clear_errors() {
    let mut b = base();
    b.set_bolt("b", 1, |_| Sink).shuffle_grouping("nope");
    let e = b.build().unwrap_err();
    assert_eq!(
        e,
        TopologyError::UnknownComponent {
            component: "b".into(),
            source: "nope".into()
        }
    );
    assert!(e.to_string().contains("unknown component \"nope\""));

    let mut b = base();
    b.set_bolt("b", 1, |_| Sink).fields_grouping("s", ["count"]);
    let e = b.build().unwrap_err();
    assert!(matches!(&e, TopologyError::BadField { field, declared, .. }
        if field == "\"count\"" && declared == &["word", "n"]));
    assert!(e.to_string().contains("no field \"count\""));

    let mut b = base();
    b.set_bolt("b", 1, |_| Sink).fields_grouping("s", [2usize]);
    assert!(matches!(b.build(), Err(TopologyError::BadField { field, .. }) if field == "#2"));

    let mut b = base();
    b.set_bolt("b", 1, |_| Sink)
        .fields_grouping("s", Vec::<usize>::new());
    assert_eq!(b.build().unwrap_err(), TopologyError::NoFields("s".into()));

    let mut b = base();
    b.set_bolt("b", 0, |_| Sink).shuffle_grouping("s");
    assert_eq!(
        b.build().unwrap_err(),
        TopologyError::ZeroParallelism("b".into())
    );

    let mut b = base();
    b.set_bolt("s", 1, |_| Sink);
    assert_eq!(
        b.build().unwrap_err(),
        TopologyError::DuplicateComponent("s".into())
    );

    let mut b = base();
    b.set_bolt("b", 1, |_| Sink)
        .grouping("s", "missing", ringmq::worker::Grouping::Shuffle);
    assert!(
        matches!(b.build(), Err(TopologyError::UnknownStream { stream, .. }) if stream == "missing")
    );

    let mut b = TopologyBuilder::new();
    b.set_bolt("b", 1, |_| Sink);
    assert_eq!(b.build().unwrap_err(), TopologyError::NoSpout);

    let mut b = base();
    b.set_bolt("x", 1, |_| Sink)
        .shuffle_grouping("s")
        .shuffle_grouping("y")
        .output_fields(&["a"]);
    b.set_bolt("y", 1, |_| Sink)
        .shuffle_grouping("x")
        .output_fields(&["a"]);
    assert!(matches!(b.build(), Err(TopologyError::Cycle(_))));

    let mut b = base();
    b.set_bolt("", 1, |_| Sink);
    assert_eq!(b.build().unwrap_err(), TopologyError::EmptyName);
}

#[test]
fn topology_tables() {
    let mut b = base();
    b.set_bolt("b", 3, |_| Sink)
        .fields_grouping("s", ["n", "word"]);
    let t = b.build().unwrap();
    assert_eq!(t.task_count(), 5);
    assert_eq!(t.component_tasks("b"), Some(2..5));
    assert_eq!(t.task_component(4), Some("b"));
    assert_eq!(t.stream_id("default"), Some(StreamId::DEFAULT));
    let side = t.stream_id("side").unwrap();
    assert_eq!(t.stream_name(side), Some("side"));
    assert_eq!(t.stream_count(), 2);
    assert_eq!(t.component_names().collect::<Vec<_>>(), ["s", "b"]);
}

#[test]
fn config_and_assignment_checks() {
    let bad = Config {
        executor_receive_buffer_size: 1000,
        ..Config::default()
    };
    assert!(matches!(bad.validate(), Err(WorkerError::Config(m)) if m.contains("power of two")));
    let bad = Config {
        emit_batch_size: 4096,
        ..Config::default()
    };
    assert!(bad.validate().is_err());
    let mut b = base();
    b.set_bolt("b", 3, |_| Sink).shuffle_grouping("s");
    let t = b.build().unwrap();
    assert!(Assignment::round_robin(&t, &["localhost"]).is_err());
    assert!(Assignment::round_robin(&t, &["h:port"]).is_err());
    assert!(Assignment::round_robin::<&str>(&t, &[]).is_err());
    let a = Assignment::round_robin(&t, &["tcp://a:1", "b:2", "c:3"]).unwrap();
    assert_eq!(a.tasks_of(0), vec![0, 3]);
    assert_eq!(a.tasks_of(2), vec![2]);
    assert_eq!(a.endpoint(0), "tcp://a:1");
    let e = LocalCluster::start(t, 0, Config::default()).unwrap_err();
    assert!(e.to_string().contains("at least one worker"));
}

fn limits() -> Limits {
    Limits {
        tasks: 8,
        streams: 2,
    }
}

#[test]
fn codec_round_trips_every_value_type() {
    let long = "x".repeat(100);
    let t = Tuple::new(
        3,
        StreamId::DEFAULT,
        [
            Value::I64(i64::MIN),
            Value::F64(-0.25),
            Value::Bool(true),
            Value::Bool(false),
            Value::from("short"),
            Value::from(long.as_str()),
            Value::from(&b"\x00\x01"[..]),
            Value::from(Bytes::from(vec![9u8; 300])),
        ],
    );
    let mut enc = BatchEncoder::new();
    enc.push_tuple(7, &t);
    enc.push_eos(3, 7);
    let frame = enc.finish().unwrap();
    assert!(enc.finish().is_none());
    let mut out = Vec::new();
    assert_eq!(decode(&frame, limits(), &mut out), Ok(KIND_DATA));
    assert_eq!(
        out,
        [
            WireItem::Tuple { dest: 7, tuple: t },
            WireItem::Eos { from: 3, to: 7 }
        ]
    );
    let mut enc = BatchEncoder::new();
    enc.push_backpressure(2, true);
    let mut out = Vec::new();
    decode(&enc.finish().unwrap(), limits(), &mut out).unwrap();
    assert_eq!(out, [WireItem::Backpressure { task: 2, on: true }]);
}

#[test]
fn codec_rejects_bad_bytes_with_a_reason() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/tuple_batch");
    // Seeds are `limits selector byte` + frame; selector 0x11 = 18 tasks,
    // 2 streams.
    let l = Limits {
        tasks: 18,
        streams: 2,
    };
    let cases = [
        ("data_valid", None),
        ("bp_valid", None),
        ("empty_batch", None),
        ("noncanonical", None),
        ("truncated", Some("truncated")),
        ("huge_count", Some("item count exceeds the frame")),
        ("huge_len", Some("length exceeds the frame")),
        ("bad_utf8", Some("not UTF-8")),
        ("overlong_varint", Some("varint")),
        ("task_range", Some("task id out of range")),
        ("stream_range", Some("stream id out of range")),
        ("bad_tag", Some("unknown value tag")),
        ("trailing", Some("trailing bytes")),
        ("many_values", Some("value count exceeds")),
        ("bad_kind", Some("unknown frame kind")),
    ];
    for (name, want) in cases {
        let data = std::fs::read(dir.join(name)).unwrap();
        let frame = Bytes::copy_from_slice(&data[1..]);
        let mut out = Vec::new();
        match (decode(&frame, l, &mut out), want) {
            (Ok(_), None) => {}
            (Err(e), Some(w)) => {
                assert!(e.reason.contains(w), "{name}: got {e}, wanted {w}");
                assert!(out.is_empty(), "{name}: partial output kept");
                assert!(e.to_string().contains("malformed tuple batch from peer"));
            }
            (r, w) => panic!("{name}: got {r:?}, wanted {w:?}"),
        }
    }
}

#[test]
fn values_and_strings() {
    let s = Str::from("héllo");
    assert_eq!(s.as_str(), "héllo");
    assert!(s.is_inline());
    let big = Str::from("y".repeat(64));
    assert!(!big.is_inline());
    assert_eq!(big.len(), 64);
    assert!(Str::from_shared(Bytes::from_static(b"\xff")).is_none());
    assert_eq!(Value::from(2.5).as_f64(), Some(2.5));
    assert_eq!(Value::from(true).as_bool(), Some(true));
    assert_eq!(Value::from(&b"ab"[..]).as_bytes(), Some(&b"ab"[..]));
    assert_eq!(Value::F64(f64::NAN), Value::F64(f64::NAN));
    assert_ne!(Value::I64(1), Value::F64(1.0));
}

/// Emits `n` tuples 0..n on the default stream (to an all- and a
/// global-grouped bolt) and on "odd"/"even" streams, plus direct emits.
struct Mixed {
    n: i64,
    i: i64,
    odd: StreamId,
    even: StreamId,
    errors: Arc<Mutex<Vec<EmitError>>>,
    direct_to: u32,
}

impl Spout for Mixed {
    fn open(&mut self, ctx: &TaskContext) {
        self.odd = ctx.stream("odd").unwrap();
        self.even = ctx.stream("even").unwrap();
        self.direct_to = ctx.topology().component_tasks("direct").unwrap().end - 1;
    }
    fn next_tuple(&mut self, out: &mut Collector) {
        if self.i >= self.n {
            return;
        }
        let i = self.i;
        self.i += 1;
        out.emit([Value::I64(i)]);
        let s = if i % 2 == 1 { self.odd } else { self.even };
        out.emit_to(s, [Value::I64(i)]).unwrap();
        out.emit_direct(self.direct_to, StreamId::DEFAULT, [Value::I64(i)])
            .unwrap();
        let mut e = self.errors.lock().unwrap();
        if i == 0 {
            // A task of the all-grouped bolt is no direct target, and the
            // spout declares no stream "undeclared".
            e.push(
                out.emit_direct(0, StreamId::DEFAULT, [Value::I64(i)])
                    .unwrap_err(),
            );
            e.push(
                out.emit_to(StreamId::from_index(99), [Value::I64(i)])
                    .unwrap_err(),
            );
        }
    }
}

type Log = Arc<Mutex<HashMap<(String, u32), Vec<i64>>>>;

struct Record(Log, String, u32);
impl Bolt for Record {
    fn execute(&mut self, t: &Tuple, _: &mut Collector) {
        let v = t.get(0).and_then(Value::as_i64).unwrap();
        self.0
            .lock()
            .unwrap()
            .entry((self.1.clone(), self.2))
            .or_default()
            .push(v);
    }
}

#[test]
fn all_global_direct_and_named_streams() {
    let log: Log = Arc::default();
    let errors = Arc::new(Mutex::new(Vec::new()));
    let n = 500i64;
    let mut b = TopologyBuilder::new();
    let errs = errors.clone();
    b.set_spout("src", 1, move |_| Mixed {
        n,
        i: 0,
        odd: StreamId::DEFAULT,
        even: StreamId::DEFAULT,
        errors: errs.clone(),
        direct_to: 0,
    })
    .output_fields(&["i"])
    .output_stream("odd", &["i"])
    .output_stream("even", &["i"]);
    for (name, par) in [
        ("all", 3),
        ("global", 3),
        ("odd", 2),
        ("even", 1),
        ("direct", 2),
    ] {
        let l = log.clone();
        let d = b.set_bolt(name, par, move |c| {
            Record(l.clone(), name.into(), c.task_id())
        });
        match name {
            "all" => d.all_grouping("src"),
            "global" => d.global_grouping("src"),
            "direct" => d.direct_grouping("src"),
            s => d.grouping("src", s, ringmq::worker::Grouping::Shuffle),
        };
    }
    let topo = b.build().unwrap();
    let cluster = LocalCluster::start(
        topo.clone(),
        1,
        Config {
            base_port: 0,
            metrics_interval: None,
            ..Config::default()
        },
    )
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let total = |l: &Log| l.lock().unwrap().values().map(Vec::len).sum::<usize>();
    // all: 3 copies; global: 1; odd/even: 1; direct: 1.
    while total(&log) < 6 * n as usize {
        assert!(Instant::now() < deadline, "timed out");
        std::thread::sleep(Duration::from_millis(1));
    }
    let m = cluster.shutdown().unwrap();
    assert_eq!(m[0].emit_errors, 0);
    let log = log.lock().unwrap();
    let sorted = |k: (&str, u32)| {
        let mut v = log.get(&(k.0.to_owned(), k.1)).cloned().unwrap_or_default();
        v.sort();
        v
    };
    let all: Vec<i64> = (0..n).collect();
    for t in topo.component_tasks("all").unwrap() {
        assert_eq!(sorted(("all", t)), all, "all-grouped task {t}");
    }
    let g = topo.component_tasks("global").unwrap();
    assert_eq!(sorted(("global", g.start)), all);
    for t in g.start + 1..g.end {
        assert!(sorted(("global", t)).is_empty());
    }
    let odd: Vec<i64> = topo
        .component_tasks("odd")
        .unwrap()
        .flat_map(|t| sorted(("odd", t)))
        .collect();
    assert!(odd.iter().all(|i| i % 2 == 1) && odd.len() == n as usize / 2);
    let even = sorted(("even", topo.component_tasks("even").unwrap().start));
    assert_eq!(even, (0..n).filter(|i| i % 2 == 0).collect::<Vec<_>>());
    let d = topo.component_tasks("direct").unwrap();
    assert!(sorted(("direct", d.start)).is_empty());
    assert_eq!(sorted(("direct", d.end - 1)), all);
    let errors = errors.lock().unwrap();
    assert_eq!(
        *errors,
        [
            EmitError::NotDirectTarget(0),
            EmitError::UndeclaredStream(StreamId::from_index(99))
        ]
    );
}

/// Counts `tracing` events of the worker metrics target.
struct CountEvents(Arc<std::sync::atomic::AtomicU64>);

impl tracing::Subscriber for CountEvents {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, e: &tracing::Event<'_>) {
        if e.metadata().target() == "ringmq::worker::metrics" {
            self.0.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

struct Forever(i64);
impl Spout for Forever {
    fn next_tuple(&mut self, out: &mut Collector) {
        self.0 += 1;
        out.emit([Value::I64(self.0)]);
    }
}

#[test]
fn metrics_snapshot_and_periodic_event() {
    let events = Arc::new(std::sync::atomic::AtomicU64::new(0));
    tracing::subscriber::set_global_default(CountEvents(events.clone())).unwrap();
    let mut b = TopologyBuilder::new();
    b.set_spout("numbers", 1, |_| Forever(0))
        .output_fields(&["n"]);
    b.set_bolt("sink", 1, |_| Sink).shuffle_grouping("numbers");
    let cfg = Config {
        base_port: 0,
        metrics_interval: Some(Duration::from_millis(10)),
        executor_receive_buffer_size: 64,
        ..Config::default()
    };
    let cluster = LocalCluster::start(b.build().unwrap(), 1, cfg).unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while events.load(std::sync::atomic::Ordering::Relaxed) < 2
        || cluster.metrics()[0].executors[1].executed < 1000
    {
        assert!(Instant::now() < deadline, "no periodic metrics event");
        std::thread::sleep(Duration::from_millis(5));
    }
    let m = &cluster.metrics()[0];
    let names: Vec<&str> = m.queues.iter().map(|q| q.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "w0/numbers[0].send",
            "w0/sink[1].receive",
            "w0/sink[1].send",
            "w0/transfer"
        ]
    );
    let recv = &m.queues[1];
    assert_eq!(recv.capacity, 64);
    assert!(recv.population <= 64);
    assert!(recv.total_in >= recv.total_out && recv.total_out > 0);
    assert!(recv.arrival_rate_secs >= 0.0 && recv.sojourn_time_ms >= 0.0);
    assert_eq!(m.queues[0].capacity, 1024);
    let sink = &m.executors[1];
    assert_eq!((sink.task, sink.component.as_str()), (1, "sink"));
    assert!(sink.execute_latency_us > 0.0);
    let out = m.to_string();
    assert!(out.contains("w0/sink[1].receive") && out.contains("sojourn_ms"));
    let fin = cluster.shutdown().unwrap();
    assert_eq!(fin[0].executors[0].emitted, fin[0].executors[1].executed);
}
