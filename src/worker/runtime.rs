//! [`Worker`]: one worker's rings and threads, started from a topology, an
//! assignment and a bound receive socket, and stopped by draining.

use super::assignment::Assignment;
use super::config::Config;
use super::executor::{run_bolt, run_spout, Collector, SendThread as ExecSend};
use super::metrics::{since, ExecCounters, ExecutorMetrics, RingProbe, WorkerMetrics};
use super::receive::ReceiveThread;
use super::shared::{Emitted, Incoming, Shared, Transfer};
use super::topology::{TaskContext, Topology};
use super::transfer::SendThread as WorkerSend;
use super::tuple::TaskId;
use super::WorkerError;
use crate::ring::{Builder, MpProducer};
use crate::socket::{Context, Socket};
use crate::sync::{AtomicUsize, Duration, Instant, Ordering, StdArc as Arc};
// Worker threads are plain OS threads (like the reactor's), never run under loom.
use crate::SocketType;
use std::thread;

/// Everything a metrics snapshot reads.
pub(crate) struct MetricsSource {
    shared: Arc<Shared>,
    probes: Vec<RingProbe>,
    execs: Vec<(TaskId, String, Arc<ExecCounters>)>,
    epoch: Instant,
}

impl MetricsSource {
    pub(crate) fn snapshot(&self) -> WorkerMetrics {
        let now = since(self.epoch);
        let c = &self.shared.counters;
        let ld = |a: &crate::sync::AtomicU64| a.load(Ordering::Relaxed);
        WorkerMetrics {
            worker: self.shared.index,
            queues: self.probes.iter().map(|p| p.sample(now)).collect(),
            executors: self
                .execs
                .iter()
                .map(|(task, comp, k)| {
                    let executed = ld(&k.executed);
                    let ns = ld(&k.exec_ns);
                    ExecutorMetrics {
                        task: *task,
                        component: comp.clone(),
                        executed,
                        emitted: ld(&k.emitted),
                        execute_latency_us: if executed > 0 && ns > 0 {
                            ns as f64 / executed as f64 / 1000.0
                        } else {
                            0.0
                        },
                    }
                })
                .collect(),
            tuples_local: ld(&c.tuples_local),
            tuples_sent_remote: ld(&c.tuples_remote),
            messages_sent: ld(&c.messages_sent),
            bytes_sent: ld(&c.bytes_sent),
            tuples_received: ld(&c.tuples_received),
            messages_received: ld(&c.messages_received),
            decode_errors: ld(&c.decode_errors),
            misrouted: ld(&c.misrouted),
            overflow_episodes: ld(&c.overflow_episodes),
            emit_errors: ld(&c.emit_errors),
        }
    }

    /// Emits the periodic `tracing` event: one per ring, one per worker.
    pub(crate) fn log(&self) {
        let m = self.snapshot();
        for q in &m.queues {
            tracing::info!(
                target: "ringmq::worker::metrics",
                worker = m.worker,
                queue = %q.name,
                capacity = q.capacity,
                population = q.population,
                tuple_population = q.tuple_population,
                total_in = q.total_in,
                total_out = q.total_out,
                arrival_rate_secs = q.arrival_rate_secs,
                sojourn_time_ms = q.sojourn_time_ms,
                "queue"
            );
        }
        tracing::info!(
            target: "ringmq::worker::metrics",
            worker = m.worker,
            tuples_local = m.tuples_local,
            tuples_sent_remote = m.tuples_sent_remote,
            tuples_received = m.tuples_received,
            messages_sent = m.messages_sent,
            decode_errors = m.decode_errors,
            "worker"
        );
    }
}

/// Counts a thread as done when it ends, even by a panic.
struct DoneGuard {
    done: Arc<AtomicUsize>,
    bolt: Option<Arc<Shared>>,
}

impl Drop for DoneGuard {
    fn drop(&mut self) {
        if thread::panicking() {
            if let Some(s) = &self.bolt {
                s.bolt_finished();
            }
        }
        self.done.fetch_add(1, Ordering::AcqRel);
    }
}

/// One running worker: its receive thread, its executors (two threads
/// each), its send thread, the rings between them and its sockets.
///
/// Start it with [`Worker::start`] (binds the worker's port) or
/// [`Worker::start_with_socket`] (a PULL socket already bound, e.g. to an
/// ephemeral port); stop it with [`Worker::stop_spouts`] then
/// [`Worker::join`], which waits until every in-flight tuple is delivered.
pub struct Worker {
    shared: Arc<Shared>,
    metrics: Arc<MetricsSource>,
    threads: Vec<(String, thread::JoinHandle<()>)>,
    nthreads: usize,
    done: Arc<AtomicUsize>,
    endpoint: String,
}

impl Drop for Worker {
    /// A worker dropped without [`join`](Worker::join) is aborted, so its
    /// threads end.
    fn drop(&mut self) {
        if !self.threads.is_empty() {
            self.shared.abort();
        }
    }
}

impl std::fmt::Debug for Worker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Worker")
            .field("index", &self.shared.index)
            .field("endpoint", &self.endpoint)
            .field("threads", &self.threads.len())
            .finish()
    }
}

/// The address to bind for `tcp://host:port` (the host as given).
fn bind_endpoint(ep: &str) -> String {
    ep.to_owned()
}

impl Worker {
    /// Binds a PULL socket for a worker on `endpoint` (`tcp://host:port`;
    /// port `*` for an ephemeral one). Returns it and the resolved endpoint.
    pub fn bind(
        ctx: &Context,
        endpoint: &str,
        config: &Config,
    ) -> Result<(Socket, String), WorkerError> {
        let pull = ctx.socket(SocketType::Pull)?;
        pull.set_rcvhwm(config.socket_hwm)?;
        let ep = pull.bind(endpoint)?;
        Ok((pull, ep))
    }

    /// Starts worker `index` of `assignment`, binding its endpoint.
    pub fn start(
        ctx: &Context,
        topology: Arc<Topology>,
        assignment: Assignment,
        index: usize,
        config: Config,
    ) -> Result<Worker, WorkerError> {
        if index >= assignment.workers() {
            return Err(WorkerError::Config("worker index out of range"));
        }
        let (pull, _) = Worker::bind(ctx, &bind_endpoint(assignment.endpoint(index)), &config)?;
        Worker::start_with_socket(ctx, topology, assignment, index, config, pull)
    }

    /// Starts worker `index` of `assignment` on an already bound PULL
    /// socket.
    pub fn start_with_socket(
        ctx: &Context,
        topology: Arc<Topology>,
        assignment: Assignment,
        index: usize,
        config: Config,
        pull: Socket,
    ) -> Result<Worker, WorkerError> {
        config.validate()?;
        if index >= assignment.workers() {
            return Err(WorkerError::Config("worker index out of range"));
        }
        if assignment.task_count() != topology.task_count() {
            return Err(WorkerError::Config(
                "the assignment was made for another topology",
            ));
        }
        let endpoint = assignment.endpoint(index).to_owned();
        let assignment = Arc::new(assignment);
        let (shared, spares) =
            Shared::new(topology.clone(), assignment.clone(), index, config.clone());
        let shared = Arc::new(shared);
        let mut spares = spares.into_iter();
        let mut next_spares = || spares.next().expect("one per filling thread");
        let cap_err = |e: crate::ring::CapacityError| WorkerError::Config(e.reason());
        let (transfer_tx, transfer_rx) = Builder::new(config.transfer_buffer_size)
            .mpsc::<Transfer>()
            .map_err(cap_err)?;
        let mut in_tx = Vec::new();
        let mut in_rx = Vec::new();
        let mut out_rings = Vec::new();
        let mut probes = Vec::new();
        for (li, &t) in shared.local_tasks.iter().enumerate() {
            let (tx, rx) = Builder::new(config.executor_receive_buffer_size)
                .mpsc::<Incoming>()
                .map_err(cap_err)?;
            let (otx, orx) = Builder::new(config.executor_send_buffer_size)
                .spsc::<Emitted>()
                .map_err(cap_err)?;
            let comp = topology.task_component(t).unwrap_or("?");
            if !topology.is_spout(topology.task_component[t as usize]) {
                probes.push(RingProbe::new(
                    format!("w{index}/{comp}[{t}].receive"),
                    rx.stats(),
                    Some((shared.tuples_in[li].clone(), shared.tuples_out[li].clone())),
                ));
            }
            probes.push(RingProbe::new(
                format!("w{index}/{comp}[{t}].send"),
                orx.stats(),
                None,
            ));
            in_tx.push(tx);
            in_rx.push(Some(rx));
            out_rings.push(Some((otx, orx)));
        }
        probes.push(RingProbe::new(
            format!("w{index}/transfer"),
            transfer_rx.stats(),
            None,
        ));
        // PUSH sockets to every other worker (connect-before-bind is fine:
        // they reconnect until the peer listens).
        let mut sockets = Vec::with_capacity(assignment.workers());
        let mut control = Vec::with_capacity(assignment.workers());
        for w in 0..assignment.workers() {
            if w == index {
                sockets.push(None);
                control.push(None);
                continue;
            }
            let c = ctx.socket(SocketType::Push)?;
            c.set_sndhwm(16)?;
            c.set_linger(Some(Duration::ZERO))?;
            c.connect(assignment.endpoint(w))?;
            control.push(Some(c));
            let s = ctx.socket(SocketType::Push)?;
            s.set_sndhwm(config.socket_hwm)?;
            s.set_linger(Some(config.shutdown_timeout))?;
            s.connect(assignment.endpoint(w))?;
            sockets.push(Some(s));
        }
        let mut execs = Vec::new();
        let done = Arc::new(AtomicUsize::new(0));
        let mut threads = Vec::new();
        let spawn = |name: String,
                     bolt: bool,
                     threads: &mut Vec<(String, thread::JoinHandle<()>)>,
                     f: Box<dyn FnOnce() + Send>|
         -> Result<(), WorkerError> {
            let guard = DoneGuard {
                done: done.clone(),
                bolt: bolt.then(|| shared.clone()),
            };
            let h = thread::Builder::new()
                .name(name.clone())
                .spawn(move || {
                    let _g = guard;
                    f()
                })
                .map_err(|e| WorkerError::Net(e.into()))?;
            threads.push((name, h));
            Ok(())
        };
        for (li, &t) in shared.local_tasks.iter().enumerate() {
            let ci = topology.task_component[t as usize];
            let comp = topology.components[ci].name.clone();
            let ctxt = TaskContext {
                task: t,
                component: ci,
                worker: index,
                topology: topology.clone(),
            };
            let (otx, orx) = out_rings[li].take().expect("one per task");
            let counters = Arc::new(ExecCounters::default());
            execs.push((t, comp.clone(), counters.clone()));
            let collector = Collector::new(t, shared.clone(), otx);
            let sender = ExecSend::new(
                t,
                shared.clone(),
                in_tx.clone(),
                transfer_tx.clone(),
                next_spares(),
            );
            if let Some(f) = topology.spout_factory(ci) {
                let spout = f(&ctxt);
                spawn(
                    format!("{comp}[{t}]"),
                    false,
                    &mut threads,
                    Box::new(move || run_spout(spout, ctxt, collector, counters)),
                )?;
                // A spout's incoming ring is never used.
                in_rx[li] = None;
            } else if let Some(f) = topology.bolt_factory(ci) {
                let bolt = f(&ctxt);
                let rx = in_rx[li].take().expect("one per task");
                let out = shared.tuples_out[li].clone();
                spawn(
                    format!("{comp}[{t}]"),
                    true,
                    &mut threads,
                    Box::new(move || run_bolt(bolt, ctxt, rx, collector, counters, out)),
                )?;
            }
            spawn(
                format!("{comp}[{t}]-send"),
                false,
                &mut threads,
                Box::new(move || sender.run(orx)),
            )?;
        }
        let metrics = Arc::new(MetricsSource {
            shared: shared.clone(),
            probes,
            execs,
            epoch: Instant::now(),
        });
        let recv = ReceiveThread::new(shared.clone(), pull, in_tx.clone(), next_spares());
        spawn(
            format!("worker{index}-receive"),
            false,
            &mut threads,
            Box::new(move || recv.run()),
        )?;
        let send = WorkerSend {
            shared: shared.clone(),
            sockets,
            control,
            metrics: Some(metrics.clone()),
        };
        spawn(
            format!("worker{index}-send"),
            false,
            &mut threads,
            Box::new(move || send.run(transfer_rx)),
        )?;
        drop(in_tx);
        drop::<MpProducer<Transfer>>(transfer_tx);
        Ok(Worker {
            shared,
            metrics,
            nthreads: threads.len(),
            threads,
            done,
            endpoint,
        })
    }

    /// This worker's index.
    pub fn index(&self) -> usize {
        self.shared.index
    }

    /// The endpoint this worker listens on.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Stops calling the spouts' `next_tuple`; everything already emitted
    /// is still delivered.
    pub fn stop_spouts(&self) {
        self.shared.stop_spouts();
    }

    /// Stops everything without draining: blocked threads give up within
    /// about 50 ms and in-flight tuples are discarded.
    pub fn abort(&self) {
        self.shared.abort();
    }

    /// Whether every thread of the worker has ended.
    pub fn is_finished(&self) -> bool {
        self.done.load(Ordering::Acquire) == self.nthreads
    }

    /// A metrics snapshot (arrival rates are over the time since the
    /// previous snapshot or periodic event).
    pub fn metrics(&self) -> WorkerMetrics {
        self.metrics.snapshot()
    }

    /// Waits, at most `timeout`, until every thread has ended (call
    /// [`stop_spouts`](Self::stop_spouts) first, on every worker of the
    /// topology), joins them and returns the final metrics. On timeout the
    /// worker is aborted and [`WorkerError::Timeout`] returned.
    pub fn join(mut self, timeout: Duration) -> Result<WorkerMetrics, WorkerError> {
        let deadline = Instant::now() + timeout;
        while !self.is_finished() && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(2));
        }
        let timed_out = !self.is_finished();
        if timed_out {
            self.shared.abort();
            let grace = Instant::now() + Duration::from_secs(2);
            while !self.is_finished() && Instant::now() < grace {
                thread::sleep(Duration::from_millis(2));
            }
        }
        let metrics = self.metrics.snapshot();
        let mut panicked = None;
        if self.is_finished() {
            for (name, h) in std::mem::take(&mut self.threads) {
                if h.join().is_err() {
                    panicked = Some(name);
                }
            }
        }
        if timed_out {
            return Err(WorkerError::Timeout(
                "worker threads did not finish draining",
            ));
        }
        match panicked {
            Some(name) => Err(WorkerError::Panicked(name)),
            None => Ok(metrics),
        }
    }
}
