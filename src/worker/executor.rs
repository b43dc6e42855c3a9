//! The executor: a user-logic thread (spout or bolt) and its send thread.
//!
//! The user-logic thread consumes the executor's incoming ring one batch of
//! tuples at a time and emits through a [`Collector`] into the outgoing
//! ring (one tuple per slot; the collector publishes a batch of them with
//! one release). The send thread applies the groupings: tuples for tasks in
//! this worker go straight to their incoming rings, grouped per task, one
//! batch per ring; the rest go to the worker transfer ring. When the logic
//! thread ends, the send thread drains the outgoing ring and then tells
//! every downstream task that this task is finished (an end-of-stream
//! marker behind its last tuple).

use smallvec::SmallVec;

use super::batches::Spares;
use super::metrics::ExecCounters;
use super::shared::{Emitted, Incoming, Shared, Transfer, NO_TASK};
use super::topology::{Bolt, Route, Spout, TaskContext};
use super::tuple::{StreamId, TaskId, Tuple, Value, Values};
use crate::ring::{
    Consumer, MpProducer, PopError, PopTimeoutError, Producer, PushError, PushTimeoutError,
};
use crate::sync::{AtomicU64, Duration, Instant, Ordering, StdArc as Arc};
// Worker threads are plain OS threads (like the reactor's): they are never
// run under loom, whose thread API has no `sleep`.
use std::thread;

/// The most tuples in one element of an incoming ring.
pub(crate) const MAX_GROUP: usize = 256;

/// How long a blocked thread waits before re-checking the abort flag.
const POLL: Duration = Duration::from_millis(50);

/// Why an emit was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EmitError {
    /// The component does not declare this stream.
    UndeclaredStream(StreamId),
    /// The task is not a direct-grouping subscriber of the stream.
    NotDirectTarget(TaskId),
    /// The worker is aborting; the tuple was discarded.
    Aborted,
}

impl std::fmt::Display for EmitError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EmitError::UndeclaredStream(s) => {
                write!(f, "emit on stream {} which the component does not declare", s.0)
            }
            EmitError::NotDirectTarget(t) => write!(
                f,
                "emit_direct to task {t}, which does not subscribe to the stream with a direct grouping"
            ),
            EmitError::Aborted => f.write_str("worker aborted"),
        }
    }
}

impl std::error::Error for EmitError {}

/// Emits tuples for a spout or bolt. Emitted tuples are written straight
/// into the executor's outgoing ring and published in batches (every
/// `emit_batch_size` tuples, after every spout round and after every
/// incoming batch); a full ring blocks the emitter, which is how
/// backpressure reaches the spouts.
pub struct Collector {
    task: TaskId,
    component: usize,
    shared: Arc<Shared>,
    out: Producer<Emitted>,
    batch: usize,
    emitted: u64,
    declared: Vec<bool>,
}

impl std::fmt::Debug for Collector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Collector")
            .field("task", &self.task)
            .field("buffered", &self.out.staged())
            .finish()
    }
}

impl Collector {
    pub(crate) fn new(task: TaskId, shared: Arc<Shared>, out: Producer<Emitted>) -> Collector {
        let topo = &shared.topology;
        let component = topo.task_component[task as usize];
        let declared = (0..topo.stream_count())
            .map(|s| topo.declares(component, StreamId(s as u16)))
            .collect();
        let batch = shared.config.emit_batch_size;
        Collector {
            task,
            component,
            out,
            batch,
            emitted: 0,
            declared,
            shared,
        }
    }

    /// The emitting task.
    pub fn task_id(&self) -> TaskId {
        self.task
    }

    /// Tuples emitted so far by this task.
    pub fn emitted(&self) -> u64 {
        self.emitted
    }

    /// Emits on the default stream. If the component does not declare it,
    /// the tuple is discarded and counted in
    /// [`WorkerMetrics::emit_errors`](super::WorkerMetrics::emit_errors).
    #[inline]
    pub fn emit<I: IntoIterator<Item = Value>>(&mut self, values: I) {
        if self.emit_to(StreamId::DEFAULT, values).is_err() {
            self.shared
                .counters
                .emit_errors
                .fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Emits already-collected values on the default stream (no re-collect:
    /// the cheapest way to emit). Undeclared stream: as for [`emit`](Self::emit).
    #[inline]
    pub fn emit_values(&mut self, values: Values) {
        if !self.declared.first().copied().unwrap_or(false) {
            self.shared
                .counters
                .emit_errors
                .fetch_add(1, Ordering::Relaxed);
            return;
        }
        let _ = self.push(
            Tuple {
                values,
                stream: StreamId::DEFAULT,
                source: self.task,
            },
            NO_TASK,
        );
    }

    /// Emits on `stream`.
    #[inline]
    pub fn emit_to<I: IntoIterator<Item = Value>>(
        &mut self,
        stream: StreamId,
        values: I,
    ) -> Result<(), EmitError> {
        if !self
            .declared
            .get(usize::from(stream.0))
            .copied()
            .unwrap_or(false)
        {
            return Err(EmitError::UndeclaredStream(stream));
        }
        self.push(Tuple::new(self.task, stream, values), NO_TASK)
    }

    /// Emits on `stream` to `task`, which must subscribe to the stream with
    /// a direct grouping.
    pub fn emit_direct<I: IntoIterator<Item = Value>>(
        &mut self,
        task: TaskId,
        stream: StreamId,
        values: I,
    ) -> Result<(), EmitError> {
        if !self
            .declared
            .get(usize::from(stream.0))
            .copied()
            .unwrap_or(false)
        {
            return Err(EmitError::UndeclaredStream(stream));
        }
        let topo = &self.shared.topology;
        let ok = topo
            .task_component
            .get(task as usize)
            .and_then(|&c| {
                topo.components[self.component]
                    .subscribers
                    .get(&stream)
                    .map(|subs| {
                        subs.iter()
                            .any(|s| s.component == c && s.route == Route::Direct)
                    })
            })
            .unwrap_or(false);
        if !ok {
            return Err(EmitError::NotDirectTarget(task));
        }
        self.push(Tuple::new(self.task, stream, values), task)
    }

    #[inline]
    fn push(&mut self, tuple: Tuple, direct: TaskId) -> Result<(), EmitError> {
        let mut e = match self.out.stage(Emitted { tuple, direct }) {
            Ok(()) => {
                self.emitted += 1;
                if self.out.staged() >= self.batch {
                    self.out.publish_staged();
                }
                return Ok(());
            }
            Err(PushError::Full(e)) => e,
            Err(PushError::Disconnected(_)) => return Err(EmitError::Aborted),
        };
        // Full: publish what is staged (a blocking push does so first) and
        // wait for room.
        loop {
            match self.out.push_timeout(e, POLL) {
                Ok(()) => {
                    self.emitted += 1;
                    return Ok(());
                }
                Err(PushTimeoutError::Timeout(back)) => {
                    if self.shared.aborted() {
                        return Err(EmitError::Aborted);
                    }
                    e = back;
                }
                Err(PushTimeoutError::Disconnected(_)) => return Err(EmitError::Aborted),
            }
        }
    }

    /// Publishes the staged tuples to the outgoing ring.
    pub(crate) fn flush(&mut self) -> Result<(), EmitError> {
        self.out.publish_staged();
        if self.out.is_disconnected() {
            return Err(EmitError::Aborted);
        }
        Ok(())
    }
}

/// Runs a spout until the worker stops its spouts (or aborts).
pub(crate) fn run_spout(
    mut spout: Box<dyn Spout>,
    ctx: TaskContext,
    mut out: Collector,
    counters: Arc<ExecCounters>,
) {
    spout.open(&ctx);
    let shared = out.shared.clone();
    let round = shared.config.spout_round;
    let mut idle: u32 = 0;
    while !shared.spouts_stopped() {
        let before = out.emitted;
        for _ in 0..round {
            spout.next_tuple(&mut out);
        }
        counters.executed.fetch_add(round as u64, Ordering::Relaxed);
        let n = out.emitted - before;
        counters.emitted.fetch_add(n, Ordering::Relaxed);
        if out.flush().is_err() {
            break;
        }
        if n == 0 {
            // Nothing to emit: back off (spin, yield, then sleep up to 1 ms,
            // like Storm's sleep spout wait strategy).
            idle = idle.saturating_add(1);
            if idle > 16 {
                thread::sleep(Duration::from_micros(u64::from(idle.min(1000))));
            } else {
                thread::yield_now();
            }
        } else {
            idle = 0;
        }
    }
    spout.close();
    let before = out.emitted;
    let _ = out.flush();
    counters
        .emitted
        .fetch_add(out.emitted - before, Ordering::Relaxed);
}

/// Runs a bolt until every upstream task has sent its end-of-stream marker
/// (or the worker aborts).
pub(crate) fn run_bolt(
    mut bolt: Box<dyn Bolt>,
    ctx: TaskContext,
    mut incoming: Consumer<Incoming>,
    mut out: Collector,
    counters: Arc<ExecCounters>,
    tuples_out: Arc<AtomicU64>,
) {
    bolt.prepare(&ctx);
    let shared = out.shared.clone();
    let upstream = shared.topology.upstream_task_count(ctx.task);
    let mut finished = 0usize;
    let mut seen = std::collections::HashSet::new();
    let mut batches: Vec<Incoming> = Vec::with_capacity(64);
    while finished < upstream {
        batches.clear();
        if incoming.drain_into(&mut batches, 64) > 0 {
        } else {
            match incoming.pop_batch_timeout(64, POLL) {
                Ok(b) => batches.extend(b),
                Err(PopTimeoutError::Timeout) => {
                    if shared.aborted() {
                        break;
                    }
                    continue;
                }
                Err(PopTimeoutError::Disconnected) => break,
            }
        }
        for item in batches.drain(..) {
            match item {
                Incoming::Tuples(tuples, home) => {
                    let before = out.emitted;
                    let t0 = Instant::now();
                    for t in &tuples {
                        bolt.execute(t, &mut out);
                    }
                    let ns = t0.elapsed().as_nanos() as u64;
                    let n = tuples.len() as u64;
                    counters.executed.fetch_add(n, Ordering::Relaxed);
                    counters.exec_ns.fetch_add(ns, Ordering::Relaxed);
                    counters
                        .emitted
                        .fetch_add(out.emitted - before, Ordering::Relaxed);
                    // Release: a sample that sees this count (acquire) also
                    // sees the `tuples_in` counts made before these tuples
                    // were pushed.
                    tuples_out.fetch_add(n, Ordering::Release);
                    shared.batch_homes.give_back(home, tuples);
                }
                Incoming::Eos(from) => {
                    if seen.insert(from) {
                        finished += 1;
                    }
                }
            }
        }
        if out.flush().is_err() {
            break;
        }
    }
    bolt.cleanup();
    let before = out.emitted;
    let _ = out.flush();
    counters
        .emitted
        .fetch_add(out.emitted - before, Ordering::Relaxed);
    shared.bolt_finished();
}

/// One subscription, resolved for one sending task.
struct Sub {
    route: Route,
    tasks: Vec<TaskId>,
    local: Vec<TaskId>,
    /// Round robin position in the pool the route draws from (`tasks`, or
    /// `local` for local-or-shuffle when there are local tasks); always
    /// below that pool's length.
    next: usize,
}

impl Sub {
    /// The pool a round-robin route draws from.
    fn pool(&self) -> &[TaskId] {
        match self.route {
            Route::LocalOrShuffle if !self.local.is_empty() => &self.local,
            _ => &self.tasks,
        }
    }

    /// The next task of the round robin (no division per tuple).
    #[inline]
    fn round_robin(&mut self) -> TaskId {
        let pool = self.pool();
        let (t, len) = (pool[self.next], pool.len());
        self.next += 1;
        if self.next == len {
            self.next = 0;
        }
        t
    }
}

/// Routes an executor's tuples: groupings → destination tasks → local
/// incoming rings or the transfer ring.
pub(crate) struct SendThread {
    task: TaskId,
    shared: Arc<Shared>,
    /// Per stream id: the subscriptions.
    subs: Vec<Vec<Sub>>,
    /// Producers of every local executor's incoming ring, by local index.
    incoming: Vec<MpProducer<Incoming>>,
    /// Tuples gathered per local executor (one batch each per round).
    groups: Vec<Vec<Tuple>>,
    /// Vectors for the next batches, handed back by the bolts.
    spares: Spares,
    transfer: MpProducer<Transfer>,
    remote: Vec<Transfer>,
    targets: SmallVec<[TaskId; 8]>,
}

impl SendThread {
    pub(crate) fn new(
        task: TaskId,
        shared: Arc<Shared>,
        incoming: Vec<MpProducer<Incoming>>,
        transfer: MpProducer<Transfer>,
        spares: Spares,
    ) -> SendThread {
        let topo = &shared.topology;
        let comp = &topo.components[topo.task_component[task as usize]];
        let me = shared.index;
        let mut subs: Vec<Vec<Sub>> = (0..topo.stream_count()).map(|_| Vec::new()).collect();
        for (stream, list) in &comp.subscribers {
            for s in list {
                let tasks: Vec<TaskId> = topo.components[s.component].tasks.clone().collect();
                let local = tasks
                    .iter()
                    .copied()
                    .filter(|&t| shared.assignment.worker_of(t) == me)
                    .collect();
                let mut sub = Sub {
                    route: s.route.clone(),
                    next: 0,
                    tasks,
                    local,
                };
                // Each sender starts its round robin at its own offset.
                sub.next = task as usize % sub.pool().len().max(1);
                subs[usize::from(stream.0)].push(sub);
            }
        }
        let groups = (0..incoming.len()).map(|_| Vec::new()).collect();
        SendThread {
            task,
            subs,
            incoming,
            groups,
            spares,
            transfer,
            remote: Vec::new(),
            targets: SmallVec::new(),
            shared,
        }
    }

    /// Picks the destination tasks of one tuple into `self.targets`.
    #[inline]
    fn route(&mut self, e: &Emitted) {
        self.targets.clear();
        let Some(subs) = self.subs.get_mut(usize::from(e.tuple.stream.0)) else {
            return;
        };
        if e.direct != NO_TASK {
            // A direct emit reaches only its task, through a direct
            // subscription of the stream.
            if subs
                .iter()
                .any(|s| s.route == Route::Direct && s.tasks.contains(&e.direct))
            {
                self.targets.push(e.direct);
            }
            return;
        }
        for s in subs.iter_mut() {
            match &s.route {
                Route::Shuffle | Route::LocalOrShuffle => self.targets.push(s.round_robin()),
                Route::Fields(ix) => {
                    let mut h = 0xcbf2_9ce4_8422_2325u64;
                    for &i in ix {
                        h = match e.tuple.values.get(i) {
                            Some(v) => v.fnv(h),
                            None => (h ^ 0xfe).wrapping_mul(0x0000_0100_0000_01B3),
                        };
                    }
                    self.targets
                        .push(s.tasks[(h % s.tasks.len() as u64) as usize]);
                }
                Route::All => self.targets.extend(s.tasks.iter().copied()),
                Route::Global => self.targets.push(s.tasks[0]),
                // Only direct emits go to direct subscribers.
                Route::Direct => {}
            }
        }
    }

    #[inline]
    fn deliver(&mut self, dest: TaskId, tuple: Tuple) {
        match self.shared.local_index(dest) {
            Some(li) => self.groups[li].push(tuple),
            None => self.remote.push(Transfer::Tuple { dest, tuple }),
        }
    }

    fn dispatch(&mut self, e: Emitted) {
        self.route(&e);
        let n = self.targets.len();
        if n == 0 {
            return;
        }
        for i in 0..n - 1 {
            let t = self.targets[i];
            self.deliver(t, e.tuple.clone());
        }
        let t = self.targets[n - 1];
        self.deliver(t, e.tuple);
    }

    /// Pushes an element into a local incoming ring, waiting for room (and
    /// for the receive thread's held-back tuples to go first).
    fn push_local(&mut self, li: usize, item: Incoming) -> bool {
        let task = self.shared.local_tasks[li];
        while self.shared.local_overflow(task) {
            if self.shared.aborted() {
                return false;
            }
            thread::sleep(Duration::from_micros(100));
        }
        let mut item = match self.incoming[li].try_push_batch(std::iter::once(item)) {
            Ok(()) => return true,
            Err(PushError::Full(it)) => it,
            Err(PushError::Disconnected(_)) => return false,
        };
        loop {
            match self.incoming[li].push_batch_timeout(item, POLL) {
                Ok(()) => return true,
                Err(PushTimeoutError::Timeout(it)) => {
                    if self.shared.aborted() {
                        return false;
                    }
                    item = it;
                }
                Err(PushTimeoutError::Disconnected(_)) => return false,
            }
        }
    }

    fn flush(&mut self) -> bool {
        let mut local = 0u64;
        for li in 0..self.groups.len() {
            if self.groups[li].is_empty() {
                continue;
            }
            let g = self.spares.swap_out(&mut self.groups[li]);
            let n = g.len();
            // Counted in before they can be counted out (the bolt counts
            // after it pops them), so a metrics sample never shows more
            // out than in.
            self.shared.tuples_in[li].fetch_add(n as u64, Ordering::Relaxed);
            if !self.push_local(li, Incoming::Tuples(g, self.spares.home())) {
                return false;
            }
            local += n as u64;
        }
        if local > 0 {
            self.shared
                .counters
                .tuples_local
                .fetch_add(local, Ordering::Relaxed);
        }
        if !self.remote.is_empty() {
            // Hold tuples for remote tasks under backpressure until their
            // worker says they have room again.
            for item in &self.remote {
                if let Transfer::Tuple { dest, .. } = item {
                    while self.shared.remote_congested(*dest) {
                        if self.shared.aborted() {
                            return false;
                        }
                        thread::sleep(Duration::from_micros(100));
                    }
                }
            }
            let chunk = (self.transfer.capacity() / 2).max(1);
            while !self.remote.is_empty() {
                let k = self.remote.len().min(chunk);
                let mut it = self.remote.drain(..k);
                loop {
                    match self.transfer.push_batch_timeout(it, POLL) {
                        Ok(()) => break,
                        Err(PushTimeoutError::Timeout(back)) => {
                            if self.shared.aborted() {
                                return false;
                            }
                            it = back;
                        }
                        Err(PushTimeoutError::Disconnected(_)) => return false,
                    }
                }
            }
        }
        true
    }

    /// Drains the outgoing ring until the logic thread is gone, then sends
    /// the end-of-stream markers.
    pub(crate) fn run(mut self, outgoing: Consumer<Emitted>) {
        let shared = self.shared.clone();
        self.run_inner(outgoing);
        shared.sender_finished();
    }

    fn run_inner(&mut self, mut outgoing: Consumer<Emitted>) {
        // Batches of at most MAX_GROUP tuples keep every incoming element
        // small (below the allocator's mmap threshold, and quick to drain).
        let max = outgoing.capacity().min(MAX_GROUP);
        loop {
            let tried = match outgoing.try_pop_batch(max) {
                Ok(batch) => {
                    for e in batch {
                        self.dispatch(e);
                    }
                    Ok(())
                }
                Err(e) => Err(e),
            };
            match tried {
                Ok(()) => {}
                Err(PopError::Disconnected) => break,
                Err(PopError::Empty) => match outgoing.pop_batch_timeout(max, POLL) {
                    Ok(batch) => {
                        for e in batch {
                            self.dispatch(e);
                        }
                    }
                    Err(PopTimeoutError::Timeout) => {
                        if self.shared.aborted() {
                            return;
                        }
                        continue;
                    }
                    Err(PopTimeoutError::Disconnected) => break,
                },
            }
            if !self.flush() {
                return;
            }
        }
        // End of stream, behind this task's last tuples on every path.
        let from = self.task;
        for to in self.shared.topology.downstream_tasks(from) {
            match self.shared.local_index(to) {
                Some(li) => {
                    if !self.push_local(li, Incoming::Eos(from)) {
                        return;
                    }
                }
                None => self.remote.push(Transfer::Eos { from, to }),
            }
        }
        let _ = self.flush();
    }
}
