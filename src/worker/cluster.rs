//! [`LocalCluster`]: N workers in one process, each with its own context
//! (I/O thread), port and threads, talking over real loopback TCP.

use super::assignment::Assignment;
use super::config::Config;
use super::metrics::WorkerMetrics;
use super::runtime::Worker;
use super::topology::Topology;
use super::WorkerError;
use crate::error::Error;
use crate::socket::Context;
use crate::sync::{Instant, StdArc as Arc};

/// Runs a topology on `n` workers on 127.0.0.1.
///
/// Ports: worker `i` tries `config.base_port + i` (Storm's 6700, 6701, …)
/// and falls back to an ephemeral port if that one is taken;
/// `config.base_port == 0` asks for ephemeral ports directly (what tests
/// should use).
///
/// ```
/// use std::sync::atomic::{AtomicU64, Ordering};
/// use std::sync::Arc;
/// use ringmq::worker::{Bolt, Collector, Config, LocalCluster, Spout, TopologyBuilder, Tuple};
///
/// struct Count(u64);
/// impl Spout for Count {
///     fn next_tuple(&mut self, out: &mut Collector) {
///         if self.0 < 1000 { self.0 += 1; out.emit([1i64.into()]); }
///     }
/// }
/// struct Sum(Arc<AtomicU64>);
/// impl Bolt for Sum {
///     fn execute(&mut self, t: &Tuple, _: &mut Collector) {
///         self.0.fetch_add(t.get(0).and_then(|v| v.as_i64()).unwrap_or(0) as u64, Ordering::Relaxed);
///     }
/// }
/// let total = Arc::new(AtomicU64::new(0));
/// let t2 = total.clone();
/// let mut b = TopologyBuilder::new();
/// b.set_spout("numbers", 2, |_| Count(0)).output_fields(&["n"]);
/// b.set_bolt("sum", 2, move |_| Sum(t2.clone())).shuffle_grouping("numbers");
/// let config = Config { base_port: 0, ..Config::default() };
/// let cluster = LocalCluster::start(b.build().unwrap(), 2, config).unwrap();
/// while total.load(Ordering::Relaxed) < 2000 { std::thread::yield_now(); }
/// cluster.shutdown().unwrap();
/// assert_eq!(total.load(Ordering::Relaxed), 2000);
/// ```
#[derive(Debug)]
pub struct LocalCluster {
    workers: Vec<Worker>,
    assignment: Assignment,
    config: Config,
    // Kept after the workers so their sockets close first.
    _contexts: Vec<Context>,
}

impl LocalCluster {
    /// Binds `n` worker ports, assigns the tasks round robin and starts
    /// every worker.
    pub fn start(
        topology: Arc<Topology>,
        n: usize,
        config: Config,
    ) -> Result<LocalCluster, WorkerError> {
        config.validate()?;
        if n == 0 {
            return Err(WorkerError::Config("at least one worker is needed"));
        }
        let mut contexts = Vec::with_capacity(n);
        let mut bound = Vec::with_capacity(n);
        for i in 0..n {
            let ctx = Context::builder().build()?;
            let want = if config.base_port == 0 {
                None
            } else {
                u16::try_from(u32::from(config.base_port) + i as u32).ok()
            };
            let r = match want {
                Some(p) => match Worker::bind(&ctx, &format!("tcp://127.0.0.1:{p}"), &config) {
                    Err(WorkerError::Net(Error::AddrInUse(_))) => {
                        Worker::bind(&ctx, "tcp://127.0.0.1:*", &config)
                    }
                    r => r,
                },
                None => Worker::bind(&ctx, "tcp://127.0.0.1:*", &config),
            };
            bound.push(r?);
            contexts.push(ctx);
        }
        let eps: Vec<&str> = bound.iter().map(|(_, ep)| ep.as_str()).collect();
        let assignment = Assignment::round_robin(&topology, &eps)?;
        let mut workers = Vec::with_capacity(n);
        for (i, (pull, _)) in bound.into_iter().enumerate() {
            workers.push(Worker::start_with_socket(
                &contexts[i],
                topology.clone(),
                assignment.clone(),
                i,
                config.clone(),
                pull,
            )?);
        }
        Ok(LocalCluster {
            workers,
            assignment,
            config,
            _contexts: contexts,
        })
    }

    /// The task assignment (with the resolved endpoints).
    pub fn assignment(&self) -> &Assignment {
        &self.assignment
    }

    /// The workers.
    pub fn workers(&self) -> &[Worker] {
        &self.workers
    }

    /// A metrics snapshot of every worker.
    pub fn metrics(&self) -> Vec<WorkerMetrics> {
        self.workers.iter().map(Worker::metrics).collect()
    }

    /// Stops the spouts of every worker (tuples already emitted keep
    /// flowing).
    pub fn stop_spouts(&self) {
        for w in &self.workers {
            w.stop_spouts();
        }
    }

    /// Stops the spouts, lets every ring drain and every in-flight tuple
    /// reach its bolt, and joins every thread, all within
    /// `config.shutdown_timeout`. Returns each worker's final metrics.
    pub fn shutdown(self) -> Result<Vec<WorkerMetrics>, WorkerError> {
        self.stop_spouts();
        let deadline = Instant::now() + self.config.shutdown_timeout;
        let mut out = Vec::new();
        let mut err = None;
        for w in self.workers {
            let left = deadline.saturating_duration_since(Instant::now());
            match w.join(left) {
                Ok(m) => out.push(m),
                Err(e) => {
                    err.get_or_insert(e);
                }
            }
        }
        match err {
            Some(e) => Err(e),
            None => Ok(out),
        }
    }
}
