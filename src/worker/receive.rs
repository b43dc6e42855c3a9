//! The worker receive thread: takes up to `topology.receiver.buffer.size`
//! messages off the worker's PULL socket, decodes them, groups the tuples by
//! destination task and appends each group to that executor's incoming ring
//! as one element.
//!
//! It never blocks on a full incoming ring: the group is held back (in
//! order) and the task is flagged congested, which the worker send thread
//! reports to the other workers so they stop sending to that task, and
//! which makes this worker's own executors wait before adding to that ring.
//! That keeps the socket drained, so one slow executor cannot stall the
//! tuples other executors are waiting for (no cycle of blocked threads
//! across workers), while what is held back stays bounded by what was in
//! flight when the flag went up.

use std::collections::VecDeque;

use bytes::Bytes;

use super::batches::Spares;
use super::codec::{decode_each, frame_count, Limits, WireItem};
use super::shared::{Incoming, Shared};
use super::tuple::Tuple;
use crate::error::Error;
use crate::ring::{MpProducer, PushError};
use crate::socket::Socket;
use crate::sync::{Duration, Ordering, StdArc as Arc};

/// The most tuples the receive thread puts in one incoming element (1024
/// tuples of 112 bytes stay below the allocator's mmap threshold).
const MAX_ELEMENT: usize = 1024;

pub(crate) struct ReceiveThread {
    shared: Arc<Shared>,
    socket: Socket,
    incoming: Vec<MpProducer<Incoming>>,
    groups: Vec<Vec<Tuple>>,
    /// Vectors for the next groups, handed back by the bolts.
    spares: Spares,
    held: Vec<VecDeque<Incoming>>,
    /// Per group touched by the frame being decoded: its length before.
    marks: Vec<(usize, usize)>,
    /// End-of-stream markers and reports of the frame being decoded.
    deferred: Vec<WireItem>,
    limits: Limits,
}

impl ReceiveThread {
    pub(crate) fn new(
        shared: Arc<Shared>,
        socket: Socket,
        incoming: Vec<MpProducer<Incoming>>,
        spares: Spares,
    ) -> ReceiveThread {
        let n = incoming.len();
        let limits = Limits {
            tasks: shared.topology.task_count() as u32,
            streams: shared.topology.stream_count() as u16,
        };
        ReceiveThread {
            socket,
            incoming,
            groups: (0..n).map(|_| Vec::new()).collect(),
            spares,
            held: (0..n).map(|_| VecDeque::new()).collect(),
            marks: Vec::new(),
            deferred: Vec::new(),
            limits,
            shared,
        }
    }

    fn enqueue(&mut self, li: usize, item: Incoming) {
        if let Incoming::Tuples(t, _) = &item {
            self.shared.tuples_in[li].fetch_add(t.len() as u64, Ordering::Relaxed);
        }
        if !self.held[li].is_empty() {
            self.held[li].push_back(item);
            return;
        }
        match self.incoming[li].try_push(item) {
            Ok(()) => {}
            Err(PushError::Full(item)) => {
                self.held[li].push_back(item);
                self.shared
                    .counters
                    .overflow_episodes
                    .fetch_add(1, Ordering::Relaxed);
                self.shared
                    .set_local_overflow(self.shared.local_tasks[li], true);
            }
            // The executor is gone (aborting): nothing to deliver to.
            Err(PushError::Disconnected(_)) => {}
        }
    }

    fn flush_group(&mut self, li: usize) {
        if !self.groups[li].is_empty() {
            let g = self.spares.swap_out(&mut self.groups[li]);
            self.enqueue(li, Incoming::Tuples(g, self.spares.home()));
        }
    }

    /// Retries held-back elements; returns whether any remain.
    fn retry_held(&mut self) -> bool {
        let mut any = false;
        for li in 0..self.held.len() {
            if self.held[li].is_empty() {
                continue;
            }
            while let Some(item) = self.held[li].pop_front() {
                match self.incoming[li].try_push(item) {
                    Ok(()) => {}
                    Err(PushError::Full(item)) => {
                        self.held[li].push_front(item);
                        break;
                    }
                    Err(PushError::Disconnected(_)) => {}
                }
            }
            if self.held[li].is_empty() {
                self.shared
                    .set_local_overflow(self.shared.local_tasks[li], false);
            } else {
                any = true;
            }
        }
        any
    }

    fn handle(&mut self, frame: Bytes) {
        let shared = self.shared.clone();
        let c = &shared.counters;
        c.messages_received.fetch_add(1, Ordering::Relaxed);
        // Keep every element at most MAX_ELEMENT tuples: hand over groups
        // this frame could push past it before decoding into them.
        let count = frame_count(&frame).unwrap_or(0).min(MAX_ELEMENT);
        for li in 0..self.groups.len() {
            if !self.groups[li].is_empty() && self.groups[li].len() + count > MAX_ELEMENT {
                self.flush_group(li);
            }
        }
        // Tuples go straight into their groups; markers and reports wait
        // for the whole frame to decode. On a decode error the groups are
        // cut back to where they were, so a bad frame has no effect.
        self.marks.clear();
        self.deferred.clear();
        let (groups, marks, deferred) = (&mut self.groups, &mut self.marks, &mut self.deferred);
        let mut received = 0u64;
        let mut misrouted = 0u64;
        let r = decode_each(&frame, self.limits, |item| match item {
            WireItem::Tuple { dest, tuple } => match shared.local_index(dest) {
                Some(li) => {
                    let g = &mut groups[li];
                    if !marks.iter().any(|&(l, _)| l == li) {
                        marks.push((li, g.len()));
                    }
                    g.push(tuple);
                    received += 1;
                }
                None => misrouted += 1,
            },
            other => deferred.push(other),
        });
        if let Err(e) = r {
            for &(li, len) in self.marks.iter() {
                self.groups[li].truncate(len);
            }
            self.deferred.clear();
            c.decode_errors.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(worker = shared.index, error = %e, "dropping malformed frame");
            return;
        }
        c.tuples_received.fetch_add(received, Ordering::Relaxed);
        c.misrouted.fetch_add(misrouted, Ordering::Relaxed);
        let mut deferred = std::mem::take(&mut self.deferred);
        for item in deferred.drain(..) {
            match item {
                WireItem::Eos { from, to } => {
                    if let Some(li) = shared.local_index(to) {
                        self.flush_group(li);
                        self.enqueue(li, Incoming::Eos(from));
                    } else {
                        c.misrouted.fetch_add(1, Ordering::Relaxed);
                    }
                }
                WireItem::Backpressure { task, on } => shared.set_remote_congested(task, on),
                WireItem::Tuple { .. } => {}
            }
        }
        self.deferred = deferred;
    }

    pub(crate) fn run(mut self) {
        let batch = self.shared.config.receiver_buffer_size;
        let mut holding = false;
        loop {
            if self.shared.aborted() || self.shared.receiver_done() {
                break;
            }
            let wait = if holding {
                Duration::from_micros(200)
            } else {
                Duration::from_millis(20)
            };
            match self.socket.recv_timeout(wait) {
                Ok(m) => {
                    self.handle(m.into_bytes());
                    for _ in 1..batch {
                        match self.socket.try_recv() {
                            Ok(m) => self.handle(m.into_bytes()),
                            Err(_) => break,
                        }
                    }
                    for li in 0..self.groups.len() {
                        self.flush_group(li);
                    }
                }
                Err(Error::Timeout) | Err(Error::WouldBlock) => {}
                Err(e) => {
                    tracing::error!(worker = self.shared.index, error = %e, "receive socket failed");
                    break;
                }
            }
            holding = self.retry_held();
        }
    }
}
