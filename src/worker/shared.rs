//! State shared by one worker's threads, and the ring element types.

use super::assignment::Assignment;
use super::batches::{BatchHomes, Home, Spares};
use super::config::Config;
use super::metrics::WorkerCounters;
use super::topology::Topology;
use super::tuple::{TaskId, Tuple};
use crate::sync::{AtomicBool, AtomicU64, AtomicUsize, Ordering, StdArc as Arc};

/// "No task" in [`Emitted::direct`].
pub(crate) const NO_TASK: TaskId = TaskId::MAX;

/// An element of an executor's outgoing ring: one tuple, and the task it is
/// addressed to for a direct emit.
#[derive(Debug)]
pub(crate) struct Emitted {
    pub(crate) tuple: Tuple,
    pub(crate) direct: TaskId,
}

/// An element of an executor's incoming ring.
#[derive(Debug)]
pub(crate) enum Incoming {
    /// A batch of tuples for this executor, and the thread that filled it
    /// (its vector goes back there).
    Tuples(Vec<Tuple>, Home),
    /// The upstream task will send nothing more.
    Eos(TaskId),
}

/// An element of the worker transfer ring: one tuple for a remote task, or
/// an end-of-stream marker for one.
#[derive(Debug)]
pub(crate) enum Transfer {
    Tuple { dest: TaskId, tuple: Tuple },
    Eos { from: TaskId, to: TaskId },
}

impl Transfer {
    pub(crate) fn dest(&self) -> TaskId {
        match self {
            Transfer::Tuple { dest, .. } => *dest,
            Transfer::Eos { to, .. } => *to,
        }
    }
}

pub(crate) struct Shared {
    pub(crate) topology: Arc<Topology>,
    pub(crate) assignment: Arc<Assignment>,
    pub(crate) index: usize,
    pub(crate) config: Config,
    /// The tasks of this worker, ascending; their position is the local
    /// index.
    pub(crate) local_tasks: Vec<TaskId>,
    /// Per task of the topology: its local index, or `u32::MAX`.
    local_of: Vec<u32>,
    /// Per local index: tuples put into / taken out of its incoming ring.
    pub(crate) tuples_in: Vec<Arc<AtomicU64>>,
    pub(crate) tuples_out: Vec<Arc<AtomicU64>>,
    /// Per task: its (remote) worker reported it congested.
    remote_bp: Vec<AtomicBool>,
    /// Per task: the receive thread holds tuples back for it (its incoming
    /// ring was full).
    local_bp: Vec<AtomicBool>,
    /// Bumped whenever a `local_bp` flag changes.
    pub(crate) bp_epoch: AtomicU64,
    stop: AtomicBool,
    abort: AtomicBool,
    bolts_left: AtomicUsize,
    /// Local executor send threads still running (they may still wait on
    /// backpressure reports, which the receive thread delivers).
    senders_left: AtomicUsize,
    pub(crate) counters: WorkerCounters,
    /// Where bolts hand emptied batch vectors back to.
    pub(crate) batch_homes: BatchHomes,
}

impl Shared {
    pub(crate) fn new(
        topology: Arc<Topology>,
        assignment: Arc<Assignment>,
        index: usize,
        config: Config,
    ) -> (Shared, Vec<Spares>) {
        let n = topology.task_count();
        let local_tasks = assignment.tasks_of(index);
        let mut local_of = vec![u32::MAX; n];
        for (i, &t) in local_tasks.iter().enumerate() {
            local_of[t as usize] = i as u32;
        }
        let bolts = local_tasks
            .iter()
            .filter(|&&t| !topology.is_spout(topology.task_component[t as usize]))
            .count();
        let counters = |k: usize| (0..k).map(|_| Arc::new(AtomicU64::new(0))).collect();
        // One filling thread per local executor (its send thread), plus the
        // receive thread, last.
        let (batch_homes, spares) = BatchHomes::new(local_tasks.len() + 1);
        let shared = Shared {
            batch_homes,
            tuples_in: counters(local_tasks.len()),
            tuples_out: counters(local_tasks.len()),
            remote_bp: (0..n).map(|_| AtomicBool::new(false)).collect(),
            local_bp: (0..n).map(|_| AtomicBool::new(false)).collect(),
            bp_epoch: AtomicU64::new(0),
            stop: AtomicBool::new(false),
            abort: AtomicBool::new(false),
            bolts_left: AtomicUsize::new(bolts),
            senders_left: AtomicUsize::new(local_tasks.len()),
            counters: WorkerCounters::default(),
            topology,
            assignment,
            index,
            config,
            local_tasks,
            local_of,
        };
        (shared, spares)
    }

    /// The local index of `task`, if this worker runs it.
    #[inline]
    pub(crate) fn local_index(&self, task: TaskId) -> Option<usize> {
        match self.local_of.get(task as usize) {
            Some(&i) if i != u32::MAX => Some(i as usize),
            _ => None,
        }
    }

    #[inline]
    pub(crate) fn remote_congested(&self, task: TaskId) -> bool {
        self.remote_bp
            .get(task as usize)
            .is_some_and(|f| f.load(Ordering::Acquire))
    }

    pub(crate) fn set_remote_congested(&self, task: TaskId, on: bool) {
        if let Some(f) = self.remote_bp.get(task as usize) {
            f.store(on, Ordering::Release);
        }
    }

    #[inline]
    pub(crate) fn local_overflow(&self, task: TaskId) -> bool {
        self.local_bp
            .get(task as usize)
            .is_some_and(|f| f.load(Ordering::Acquire))
    }

    pub(crate) fn set_local_overflow(&self, task: TaskId, on: bool) {
        if let Some(f) = self.local_bp.get(task as usize) {
            f.store(on, Ordering::Release);
            self.bp_epoch.fetch_add(1, Ordering::AcqRel);
        }
    }

    pub(crate) fn stop_spouts(&self) {
        self.stop.store(true, Ordering::Release);
    }

    pub(crate) fn spouts_stopped(&self) -> bool {
        self.stop.load(Ordering::Acquire)
    }

    pub(crate) fn abort(&self) {
        self.stop.store(true, Ordering::Release);
        self.abort.store(true, Ordering::Release);
    }

    pub(crate) fn aborted(&self) -> bool {
        self.abort.load(Ordering::Acquire)
    }

    pub(crate) fn bolt_finished(&self) {
        self.bolts_left.fetch_sub(1, Ordering::AcqRel);
    }

    pub(crate) fn bolts_left(&self) -> usize {
        self.bolts_left.load(Ordering::Acquire)
    }

    pub(crate) fn sender_finished(&self) {
        self.senders_left.fetch_sub(1, Ordering::AcqRel);
    }

    /// Whether the receive thread may stop: no local bolt waits for
    /// tuples and no local sender waits for backpressure reports.
    pub(crate) fn receiver_done(&self) -> bool {
        self.bolts_left() == 0 && self.senders_left.load(Ordering::Acquire) == 0
    }
}
