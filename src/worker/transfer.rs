//! The worker send thread: drains the worker transfer ring, batches tuples
//! per destination worker and sends each batch as one message on that
//! worker's PUSH socket. A batch goes out when it reaches
//! `transfer_batch_size` tuples or has waited `flush_interval`, so a trickle
//! is not held back. It also reports this worker's congested tasks to every
//! other worker, and emits the periodic metrics event.

use super::codec::BatchEncoder;
use super::shared::{Shared, Transfer};
use crate::error::Error;
use crate::msg::Msg;
use crate::ring::{Consumer, PopTimeoutError};
use crate::socket::Socket;
use crate::sync::{Duration, Instant, Ordering, StdArc as Arc};

pub(crate) struct SendThread {
    pub(crate) shared: Arc<Shared>,
    /// Per worker: its PUSH socket (None for this worker).
    pub(crate) sockets: Vec<Option<Socket>>,
    /// Per worker: a PUSH socket for backpressure reports (linger 0: a
    /// stale report is worth nothing once its sender is gone).
    pub(crate) control: Vec<Option<Socket>>,
    pub(crate) metrics: Option<Arc<super::runtime::MetricsSource>>,
}

impl SendThread {
    /// Sends a frame, waiting for room unless the worker aborts.
    fn send(&self, w: usize, frame: bytes::Bytes) -> bool {
        let Some(sock) = &self.sockets[w] else {
            return true;
        };
        let len = frame.len() as u64;
        let mut msg = Msg::from(frame);
        loop {
            match sock.send_timeout(msg, Duration::from_millis(50)) {
                Ok(()) => break,
                Err(e) if matches!(e.error, Error::Timeout | Error::WouldBlock) => {
                    if self.shared.aborted() {
                        return false;
                    }
                    msg = e.msg;
                }
                Err(e) => {
                    tracing::error!(worker = self.shared.index, to = w, error = %e.error, "send failed");
                    return false;
                }
            }
        }
        let c = &self.shared.counters;
        c.messages_sent.fetch_add(1, Ordering::Relaxed);
        c.bytes_sent.fetch_add(len, Ordering::Relaxed);
        true
    }

    /// Tells every other worker which of our tasks are congested, without
    /// waiting; returns false if some worker could not take it now.
    fn broadcast_backpressure(&self) -> bool {
        let mut enc = BatchEncoder::new();
        for &t in &self.shared.local_tasks {
            enc.push_backpressure(t, self.shared.local_overflow(t));
        }
        let Some(frame) = enc.finish() else {
            return true;
        };
        let mut all = true;
        for s in self.control.iter().flatten() {
            if s.try_send(Msg::from(frame.clone())).is_err() {
                all = false;
            } else {
                self.shared
                    .counters
                    .messages_sent
                    .fetch_add(1, Ordering::Relaxed);
            }
        }
        all
    }

    pub(crate) fn run(self, mut transfer: Consumer<Transfer>) {
        let n = self.sockets.len();
        let batch = self.shared.config.transfer_batch_size;
        let flush = self.shared.config.flush_interval;
        let mut enc: Vec<BatchEncoder> = (0..n).map(|_| BatchEncoder::new()).collect();
        let mut since: Vec<Option<Instant>> = vec![None; n];
        let mut seen_epoch = 0u64;
        let mut bp_pending = false;
        let mut bp_any = false;
        let mut last_metrics = Instant::now();
        let mut buf: Vec<Transfer> = Vec::with_capacity(transfer.capacity());
        let mut ok = true;
        'outer: while ok {
            let epoch = self.shared.bp_epoch.load(Ordering::Acquire);
            if epoch != seen_epoch || bp_pending {
                seen_epoch = epoch;
                bp_pending = !self.broadcast_backpressure();
                bp_any = self
                    .shared
                    .local_tasks
                    .iter()
                    .any(|&t| self.shared.local_overflow(t));
            }
            if let (Some(every), Some(f)) = (self.shared.config.metrics_interval, &self.metrics) {
                if last_metrics.elapsed() >= every {
                    last_metrics = Instant::now();
                    f.log();
                }
            }
            let now = Instant::now();
            let wait = since
                .iter()
                .flatten()
                .map(|t| (*t + flush).saturating_duration_since(now))
                .min()
                .unwrap_or(if bp_pending || bp_any {
                    // Congestion is being reported: notice its end at once.
                    Duration::from_micros(100)
                } else {
                    Duration::from_millis(20)
                });
            buf.clear();
            let disconnected = match transfer.pop_batch_timeout(batch.max(64), wait) {
                Ok(b) => {
                    buf.extend(b);
                    false
                }
                Err(PopTimeoutError::Timeout) => {
                    if self.shared.aborted() {
                        return;
                    }
                    false
                }
                Err(PopTimeoutError::Disconnected) => true,
            };
            let mut remote = 0u64;
            for item in buf.drain(..) {
                let w = self.shared.assignment.worker_of(item.dest());
                let e = &mut enc[w];
                match &item {
                    Transfer::Tuple { dest, tuple } => {
                        e.push_tuple(*dest, tuple);
                        remote += 1;
                    }
                    Transfer::Eos { from, to } => e.push_eos(*from, *to),
                }
                if since[w].is_none() {
                    since[w] = Some(Instant::now());
                }
                if e.count() as usize >= batch {
                    since[w] = None;
                    if let Some(f) = e.finish() {
                        if !self.send(w, f) {
                            ok = false;
                            continue 'outer;
                        }
                    }
                }
            }
            if remote > 0 {
                self.shared
                    .counters
                    .tuples_remote
                    .fetch_add(remote, Ordering::Relaxed);
            }
            let now = Instant::now();
            for w in 0..n {
                let due = disconnected || since[w].is_some_and(|t| now >= t + flush);
                if due {
                    since[w] = None;
                    if let Some(f) = enc[w].finish() {
                        if !self.send(w, f) {
                            ok = false;
                            continue 'outer;
                        }
                    }
                }
            }
            if disconnected {
                break;
            }
        }
    }
}
