//! [`Config`]: the worker's knobs, with Storm's names and defaults.

use std::time::Duration;

use super::WorkerError;

/// Worker settings. Defaults are Storm's (0.9/1.x) where Storm has the key.
///
/// ```
/// let c = ringmq::worker::Config::default();
/// assert_eq!(c.receiver_buffer_size, 8);
/// assert_eq!(c.executor_receive_buffer_size, 1024);
/// assert_eq!(c.base_port, 6700);
/// c.validate().unwrap();
/// ```
#[derive(Clone, Debug)]
pub struct Config {
    /// `topology.receiver.buffer.size`: network messages the receive thread
    /// takes per batch before handing tuples to the executors (default 8).
    pub receiver_buffer_size: usize,
    /// `topology.transfer.buffer.size`: slots of the worker transfer ring,
    /// one tuple each (default 1024, a power of two).
    pub transfer_buffer_size: usize,
    /// `topology.executor.receive.buffer.size`: slots of each executor's
    /// incoming ring, one batch of tuples each (default 1024).
    pub executor_receive_buffer_size: usize,
    /// `topology.executor.send.buffer.size`: slots of each executor's
    /// outgoing ring, one tuple each (default 1024).
    pub executor_send_buffer_size: usize,
    /// Tuples the worker send thread puts in one network message per
    /// destination worker at most (default 1024).
    pub transfer_batch_size: usize,
    /// How long the worker send thread may hold a partial batch
    /// (`topology.batch.flush.interval.millis`, default 1 ms).
    pub flush_interval: Duration,
    /// Tuples an executor writes into its outgoing ring before it publishes
    /// them in one batch (it also publishes after every spout round and
    /// every incoming batch; default 64).
    pub emit_batch_size: usize,
    /// Spout `next_tuple` calls per round between flushes (default 64).
    pub spout_round: usize,
    /// First worker port (`supervisor.slots.ports`, default 6700).
    pub base_port: u16,
    /// Send high-water mark of the PUSH sockets between workers, in
    /// messages (each a batch; default 64).
    pub socket_hwm: i32,
    /// Period of the `tracing` metrics event (`None`: off; default 10 s,
    /// Storm's `topology.builtin.metrics.bucket.size.secs` is 60).
    pub metrics_interval: Option<Duration>,
    /// Upper bound for shutdown: draining and joining every thread
    /// (default 30 s).
    pub shutdown_timeout: Duration,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            receiver_buffer_size: 8,
            transfer_buffer_size: 1024,
            executor_receive_buffer_size: 1024,
            executor_send_buffer_size: 1024,
            transfer_batch_size: 1024,
            flush_interval: Duration::from_millis(1),
            emit_batch_size: 64,
            spout_round: 64,
            base_port: 6700,
            socket_hwm: 64,
            metrics_interval: Some(Duration::from_secs(10)),
            shutdown_timeout: Duration::from_secs(30),
        }
    }
}

impl Config {
    /// Checks the values: ring sizes powers of two, batches non-zero and
    /// no larger than the rings they go through.
    pub fn validate(&self) -> Result<(), WorkerError> {
        let pow2 = |v: usize, what: &'static str| {
            if v == 0 || !v.is_power_of_two() || v > crate::ring::MAX_CAPACITY {
                Err(WorkerError::Config(what))
            } else {
                Ok(())
            }
        };
        pow2(
            self.transfer_buffer_size,
            "topology.transfer.buffer.size must be a power of two",
        )?;
        pow2(
            self.executor_receive_buffer_size,
            "topology.executor.receive.buffer.size must be a power of two",
        )?;
        pow2(
            self.executor_send_buffer_size,
            "topology.executor.send.buffer.size must be a power of two",
        )?;
        if self.receiver_buffer_size == 0 {
            return Err(WorkerError::Config(
                "topology.receiver.buffer.size must be at least 1",
            ));
        }
        if self.transfer_batch_size == 0 {
            return Err(WorkerError::Config(
                "transfer batch size must be at least 1",
            ));
        }
        if self.emit_batch_size == 0 || self.emit_batch_size > self.executor_send_buffer_size {
            return Err(WorkerError::Config(
                "emit batch size must be in 1..=topology.executor.send.buffer.size",
            ));
        }
        if self.spout_round == 0 {
            return Err(WorkerError::Config("spout round must be at least 1"));
        }
        if self.socket_hwm < 1 {
            return Err(WorkerError::Config("socket HWM must be at least 1"));
        }
        Ok(())
    }
}
