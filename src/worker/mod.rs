//! The Storm worker path: a stream-processing topology (spouts and bolts
//! with groupings) run by one or more workers, built only from ringmq's
//! rings and sockets.
//!
//! ```text
//! network ─▶ receive thread (PULL on the worker port, from 6700)
//!              │ decodes a batch of messages, groups tuples per task,
//!              ▼ appends each group as ONE element
//!            executor incoming ring (element = batch of tuples), 1024
//!              ▼
//!            executor logic thread (Spout::next_tuple / Bolt::execute)
//!              ▼
//!            executor outgoing ring (element = one tuple), 1024
//!              ▼
//!            executor send thread: groupings → destination tasks
//!              ├─ task in this worker ─▶ its incoming ring (no socket, no codec)
//!              └─ task elsewhere ─────▶ worker transfer ring (one tuple each), 1024
//!                                          ▼
//!                                        worker send thread: one message per
//!                                        destination worker and batch, PUSH/TCP
//! ```
//!
//! This module owns: [`Config`] (Storm's keys and defaults), [`Tuple`] and
//! [`Value`] with the wire [`codec`], the [`TopologyBuilder`] and its
//! groupings, the [`Assignment`] of tasks to workers, the threads above
//! ([`Worker`]), Storm-style [metrics](WorkerMetrics) and [`LocalCluster`].
//!
//! Backpressure: every ring is bounded and a full ring blocks its producer,
//! back to the spouts; the PUSH sockets block at their HWM. The receive
//! thread alone never blocks on an executor: it holds that executor's
//! tuples back and reports the task congested to the other workers, which
//! then hold their tuples for it (Storm 2's scheme), so one slow bolt cannot
//! stall a socket other bolts depend on. Nothing is dropped.
//!
//! Shutdown: spouts stop; each executor's send thread, once its logic
//! thread is done and its outgoing ring drained, sends an end-of-stream
//! marker to every downstream task behind its last tuple; a bolt ends when
//! it has one from every upstream task. So every emitted tuple is executed
//! before the threads exit, with bounded waits throughout.
//!
//! It must not do unsafe things, reach around the ring or socket APIs, or
//! drop tuples silently. Topologies must be acyclic.
//!
//! ```
//! use std::sync::{Arc, Mutex};
//! use ringmq::worker::{Bolt, Collector, Config, LocalCluster, Spout, TopologyBuilder, Tuple};
//!
//! struct Words(Vec<&'static str>);
//! impl Spout for Words {
//!     fn next_tuple(&mut self, out: &mut Collector) {
//!         if let Some(w) = self.0.pop() { out.emit([w.into()]); }
//!     }
//! }
//! struct Collect(Arc<Mutex<Vec<String>>>);
//! impl Bolt for Collect {
//!     fn execute(&mut self, t: &Tuple, _: &mut Collector) {
//!         self.0.lock().unwrap().push(t.get(0).and_then(|v| v.as_str()).unwrap().to_owned());
//!     }
//! }
//! let seen = Arc::new(Mutex::new(Vec::new()));
//! let s2 = seen.clone();
//! let mut b = TopologyBuilder::new();
//! b.set_spout("words", 1, |_| Words(vec!["a", "b", "c"])).output_fields(&["word"]);
//! b.set_bolt("collect", 2, move |_| Collect(s2.clone())).fields_grouping("words", ["word"]);
//! let cluster = LocalCluster::start(b.build()?, 2, Config { base_port: 0, ..Config::default() })?;
//! while seen.lock().unwrap().len() < 3 { std::thread::yield_now(); }
//! cluster.shutdown()?;
//! let mut got = seen.lock().unwrap().clone();
//! got.sort();
//! assert_eq!(got, ["a", "b", "c"]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![forbid(unsafe_code)]

mod assignment;
mod batches;
mod cluster;
pub mod codec;
mod config;
mod executor;
mod metrics;
mod receive;
mod runtime;
mod shared;
mod topology;
mod transfer;
mod tuple;

use std::fmt;

pub use assignment::Assignment;
pub use cluster::LocalCluster;
pub use config::Config;
pub use executor::{Collector, EmitError};
pub use metrics::{ExecutorMetrics, LatencyHistogram, QueueMetrics, WorkerMetrics};
pub use runtime::Worker;
pub use topology::{
    Bolt, BoltFactory, ComponentDeclarer, FieldSel, Grouping, Spout, SpoutFactory, TaskContext,
    Topology, TopologyBuilder, TopologyError, DEFAULT_STREAM,
};
pub use tuple::{Blob, Str, StreamId, TaskId, Tuple, Value, Values};

/// Why a worker could not start or stop cleanly.
#[derive(Debug)]
#[non_exhaustive]
pub enum WorkerError {
    /// The topology is invalid.
    Topology(TopologyError),
    /// A configuration value or argument is invalid (caller's fault).
    Config(&'static str),
    /// A socket or thread could not be set up.
    Net(crate::Error),
    /// Shutdown did not finish in time; the worker was aborted.
    Timeout(&'static str),
    /// A thread (user code) panicked.
    Panicked(String),
}

impl fmt::Display for WorkerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WorkerError::Topology(e) => write!(f, "invalid topology: {e}"),
            WorkerError::Config(e) => write!(f, "invalid worker configuration: {e}"),
            WorkerError::Net(e) => write!(f, "worker socket error: {e}"),
            WorkerError::Timeout(e) => write!(f, "worker shutdown timed out: {e}"),
            WorkerError::Panicked(t) => write!(f, "worker thread {t} panicked"),
        }
    }
}

impl std::error::Error for WorkerError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            WorkerError::Topology(e) => Some(e),
            WorkerError::Net(e) => Some(e),
            _ => None,
        }
    }
}

impl From<TopologyError> for WorkerError {
    fn from(e: TopologyError) -> Self {
        WorkerError::Topology(e)
    }
}

impl From<crate::Error> for WorkerError {
    fn from(e: crate::Error) -> Self {
        WorkerError::Net(e)
    }
}
