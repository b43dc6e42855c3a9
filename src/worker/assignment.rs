//! [`Assignment`]: which worker runs which task, and where workers listen.

use super::topology::Topology;
use super::tuple::TaskId;
use super::WorkerError;

/// A static task assignment over N workers, each named by `host:port`.
///
/// Tasks are dealt round robin in task-id order (task `t` runs on worker
/// `t % N`), so every component is spread over the workers as evenly as
/// its parallelism allows, like Storm's even scheduler.
///
/// ```
/// use ringmq::worker::Assignment;
/// # use ringmq::worker::{Bolt, Collector, Spout, TopologyBuilder, Tuple};
/// # struct S; impl Spout for S { fn next_tuple(&mut self, _: &mut Collector) {} }
/// # struct B; impl Bolt for B { fn execute(&mut self, _: &Tuple, _: &mut Collector) {} }
/// # let mut b = TopologyBuilder::new();
/// # b.set_spout("s", 1, |_| S).output_fields(&["x"]);
/// # b.set_bolt("b", 3, |_| B).shuffle_grouping("s");
/// # let topology = b.build().unwrap();
/// let a = Assignment::round_robin(&topology, &["127.0.0.1:6700", "127.0.0.1:6701"]).unwrap();
/// assert_eq!(a.worker_of(0), 0);
/// assert_eq!(a.worker_of(3), 1);
/// assert_eq!(a.endpoint(1), "tcp://127.0.0.1:6701");
/// assert_eq!(a.tasks_of(1), vec![1, 3]);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Assignment {
    workers: Vec<String>,
    task_worker: Vec<usize>,
}

impl Assignment {
    /// Deals the topology's tasks round robin over `workers` (`host:port`
    /// each; a `tcp://` prefix is accepted).
    pub fn round_robin<S: AsRef<str>>(
        topology: &Topology,
        workers: &[S],
    ) -> Result<Assignment, WorkerError> {
        if workers.is_empty() {
            return Err(WorkerError::Config("at least one worker is needed"));
        }
        let mut eps = Vec::with_capacity(workers.len());
        for w in workers {
            let w = w.as_ref().trim();
            let hp = w.strip_prefix("tcp://").unwrap_or(w);
            let Some((host, port)) = hp.rsplit_once(':') else {
                return Err(WorkerError::Config("a worker address must be host:port"));
            };
            if host.is_empty() || port.parse::<u16>().is_err() {
                return Err(WorkerError::Config(
                    "a worker address must be host:port with a numeric port",
                ));
            }
            eps.push(format!("tcp://{hp}"));
        }
        let n = eps.len();
        Ok(Assignment {
            workers: eps,
            task_worker: (0..topology.task_count()).map(|t| t % n).collect(),
        })
    }

    /// Number of workers.
    pub fn workers(&self) -> usize {
        self.workers.len()
    }

    /// The worker running `task` (tasks outside the topology map to 0).
    #[inline]
    pub fn worker_of(&self, task: TaskId) -> usize {
        self.task_worker.get(task as usize).copied().unwrap_or(0)
    }

    /// The tasks of worker `w`, ascending.
    pub fn tasks_of(&self, w: usize) -> Vec<TaskId> {
        (0..self.task_worker.len() as TaskId)
            .filter(|&t| self.task_worker[t as usize] == w)
            .collect()
    }

    /// Worker `w`'s endpoint, `tcp://host:port`.
    pub fn endpoint(&self, w: usize) -> &str {
        &self.workers[w]
    }

    /// Number of tasks assigned.
    pub fn task_count(&self) -> usize {
        self.task_worker.len()
    }
}
