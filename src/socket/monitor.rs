//! Socket monitoring: connection life-cycle events, as libzmq's
//! `zmq_socket_monitor` reports them, read from a [`Monitor`].
//!
//! Events are produced by the socket (listening, bind failed) and by the I/O
//! threads serving its connections (everything else) into a bounded
//! multi-producer ring. When the ring is full a new event is dropped (and
//! counted, see [`Monitor::dropped`]): a slow monitor never holds up the I/O
//! thread. Only the TCP and IPC transports produce events, as in libzmq.
//! Producers check one atomic flag first, so a socket without a monitor pays
//! nothing.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::ring::{self, Consumer, MpProducer, Notify, PushError};
use crate::sync::{AtomicBool, AtomicU64, Ordering};

use super::signal::Signal;

/// The kind of a [`MonitorEvent`], with libzmq's event number in
/// [`MonitorEventKind::libzmq_id`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MonitorEventKind {
    /// A connection to a connect endpoint was established (TCP level).
    Connected,
    /// A connect attempt is in progress (did not complete at once).
    ConnectDelayed,
    /// A connect attempt failed or a connection was lost; the next attempt
    /// is scheduled after [`MonitorEvent::interval`].
    ConnectRetried,
    /// A bound endpoint is listening.
    Listening,
    /// Binding failed; [`MonitorEvent::detail`] says why.
    BindFailed,
    /// A listener accepted a connection.
    Accepted,
    /// A listener failed to accept a connection; see the detail.
    AcceptFailed,
    /// A listener was closed (unbind or socket close).
    Closed,
    /// A connection ended (whatever the reason).
    Disconnected,
    /// The ZMTP handshake with a peer completed.
    HandshakeSucceeded,
    /// The ZMTP handshake failed; [`MonitorEvent::detail`] has the reason.
    HandshakeFailed,
    /// The handshake failed on authentication: this side's PLAIN check
    /// refused the peer, or the peer's refused us (an ERROR with a ZAP
    /// status). [`MonitorEvent::status`] has the status code (300, 400 or
    /// 500), the detail the reason.
    HandshakeFailedAuth,
}

impl MonitorEventKind {
    /// libzmq's `ZMQ_EVENT_*` number for this kind (the protocol-error
    /// flavour for a failed handshake).
    pub fn libzmq_id(self) -> u16 {
        match self {
            MonitorEventKind::Connected => 0x0001,
            MonitorEventKind::ConnectDelayed => 0x0002,
            MonitorEventKind::ConnectRetried => 0x0004,
            MonitorEventKind::Listening => 0x0008,
            MonitorEventKind::BindFailed => 0x0010,
            MonitorEventKind::Accepted => 0x0020,
            MonitorEventKind::AcceptFailed => 0x0040,
            MonitorEventKind::Closed => 0x0080,
            MonitorEventKind::Disconnected => 0x0200,
            MonitorEventKind::HandshakeSucceeded => 0x1000,
            MonitorEventKind::HandshakeFailed => 0x2000,
            MonitorEventKind::HandshakeFailedAuth => 0x4000,
        }
    }
}

/// One monitor event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MonitorEvent {
    /// What happened.
    pub kind: MonitorEventKind,
    /// The endpoint concerned: the bound or connected endpoint string.
    pub endpoint: String,
    /// For failures, the reason (an I/O error or the protocol error).
    pub detail: Option<String>,
    /// For [`MonitorEventKind::ConnectRetried`], the wait before the next
    /// attempt.
    pub interval: Option<Duration>,
    /// For [`MonitorEventKind::HandshakeFailedAuth`], the ZAP status code.
    pub status: Option<u16>,
}

impl MonitorEvent {
    pub(crate) fn new(kind: MonitorEventKind, endpoint: &str) -> MonitorEvent {
        MonitorEvent {
            kind,
            endpoint: endpoint.to_owned(),
            detail: None,
            interval: None,
            status: None,
        }
    }

    pub(crate) fn with_detail(mut self, detail: impl Into<String>) -> MonitorEvent {
        self.detail = Some(detail.into());
        self
    }

    pub(crate) fn with_status(mut self, status: Option<u16>) -> MonitorEvent {
        self.status = status;
        self
    }

    pub(crate) fn with_interval(mut self, d: Duration) -> MonitorEvent {
        self.interval = Some(d);
        self
    }
}

/// Where a socket's events go: shared by the socket and the I/O threads.
#[derive(Default)]
pub(crate) struct MonitorSink {
    active: AtomicBool,
    /// The producer of the current monitor's ring. Locked only to emit an
    /// event while a monitor is active, or to install one.
    slot: Mutex<Option<MpProducer<MonitorEvent>>>,
    dropped: Arc<AtomicU64>,
}

impl MonitorSink {
    /// Emits an event if a monitor is installed (built lazily, so callers
    /// pay nothing otherwise).
    pub(crate) fn emit(&self, ev: impl FnOnce() -> MonitorEvent) {
        if !self.active.load(Ordering::Acquire) {
            return;
        }
        let slot = self.slot.lock().unwrap_or_else(|e| e.into_inner());
        let Some(tx) = slot.as_ref() else { return };
        match tx.try_push(ev()) {
            Ok(()) => {}
            Err(PushError::Full(_)) => {
                self.dropped.fetch_add(1, Ordering::Relaxed);
            }
            Err(PushError::Disconnected(_)) => {}
        }
    }

    /// Installs a new monitor (replacing any previous one).
    pub(crate) fn install(&self, capacity: usize) -> Result<Monitor> {
        let (tx, mut rx) = ring::mpsc::<MonitorEvent>(capacity)
            .map_err(|e| Error::Io(std::io::Error::other(e.to_string())))?;
        let signal = Arc::new(Signal::default());
        rx.set_notifier(Some(signal.clone() as Arc<dyn Notify>));
        *self.slot.lock().unwrap_or_else(|e| e.into_inner()) = Some(tx);
        self.active.store(true, Ordering::Release);
        Ok(Monitor {
            rx,
            signal,
            dropped: self.dropped.clone(),
        })
    }
}

/// Receives a socket's [`MonitorEvent`]s. Made by
/// [`Socket::monitor`](super::Socket::monitor).
///
/// ```
/// use std::time::Duration;
/// use ringmq::{Context, SocketType, MonitorEventKind};
/// let ctx = Context::new();
/// let s = ctx.socket(SocketType::Pull)?;
/// let mut mon = s.monitor()?;
/// let ep = s.bind("tcp://127.0.0.1:*")?;
/// let ev = mon.recv_timeout(Duration::from_secs(5))?;
/// assert_eq!(ev.kind, MonitorEventKind::Listening);
/// assert_eq!(ev.endpoint, ep);
/// # Ok::<(), ringmq::Error>(())
/// ```
pub struct Monitor {
    rx: Consumer<MonitorEvent>,
    signal: Arc<Signal>,
    dropped: Arc<AtomicU64>,
}

impl std::fmt::Debug for Monitor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Monitor")
            .field("queued", &self.rx.len())
            .finish()
    }
}

impl Monitor {
    /// The next event, if one is queued ([`Error::WouldBlock`] otherwise).
    pub fn try_recv(&mut self) -> Result<MonitorEvent> {
        self.rx.try_pop().map_err(|_| Error::WouldBlock)
    }

    /// The next event, waiting at most `timeout` ([`Error::Timeout`]).
    pub fn recv_timeout(&mut self, timeout: Duration) -> Result<MonitorEvent> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(ev) = self.rx.try_pop() {
                return Ok(ev);
            }
            if Instant::now() >= deadline {
                return Err(Error::Timeout);
            }
            self.signal.arm();
            if !self.rx.prepare_sleep() {
                continue;
            }
            let _ = self.signal.wait(Some(deadline));
            self.rx.cancel_sleep();
        }
    }

    /// How many events were dropped because the monitor's ring was full.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}
