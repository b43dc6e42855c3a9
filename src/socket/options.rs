//! Socket options, with libzmq's names and defaults.
//!
//! Every option keeps libzmq's meaning and default unless a line here says
//! otherwise. Where ringmq counts differently, the setter's doc says how.

use std::time::Duration;

use bytes::Bytes;

use crate::error::{Error, Result};
use crate::zmtp::{Mechanism, Metadata};

/// The options of one socket. Read by the socket and, as a snapshot taken at
/// `bind`/`connect` time, by the I/O thread serving its connections.
#[derive(Clone, Debug)]
pub struct Options {
    /// `ZMQ_SNDHWM`: messages queued towards one peer before the socket is
    /// "mute" for it (PUSH blocks, PUB drops). Default 1000. ringmq rounds
    /// the mark up to a power of two (the pipe is a ring of that size) and
    /// caps it, and "no limit" (0), at 2^17 messages.
    pub sndhwm: i32,
    /// `ZMQ_RCVHWM`: messages queued for the application from one peer.
    /// Default 1000; rounded up to a power of two and capped, like 0 (no
    /// limit), at 2^17. A TCP or IPC peer's full queue stops its connection
    /// from reading (TCP flow control then pushes back on that sender); an
    /// inproc pipe's mark is the writer's SNDHWM plus the reader's RCVHWM,
    /// as in libzmq.
    pub rcvhwm: i32,
    /// `ZMQ_LINGER`: how long `close` (drop) keeps delivering queued messages.
    /// `None` = forever (libzmq's -1, the default); `Some(0)` = drop at once.
    pub linger: Option<Duration>,
    /// `ZMQ_RECONNECT_IVL`: the first wait before reconnecting. Default
    /// 100 ms; `None` (libzmq's -1) disables reconnection.
    pub reconnect_ivl: Option<Duration>,
    /// `ZMQ_RECONNECT_IVL_MAX`: with a non-zero value the wait doubles after
    /// each failed attempt up to this; zero (the default) keeps a constant wait
    /// plus random jitter, as libzmq does.
    pub reconnect_ivl_max: Duration,
    /// `ZMQ_CONNECT_TIMEOUT`: how long a TCP connect may stay in progress
    /// before it is abandoned and retried after the reconnect interval.
    /// `None` (the default, libzmq's 0) leaves it to the system, which gives
    /// up on a host that does not answer only after minutes.
    pub connect_timeout: Option<Duration>,
    /// `ZMQ_MAXMSGSIZE`: the largest inbound message accepted; a peer sending a
    /// larger frame is disconnected. `None` = no limit (default).
    pub maxmsgsize: Option<u64>,
    /// `ZMQ_SNDTIMEO`: how long a blocking send waits. `None` = forever.
    pub sndtimeo: Option<Duration>,
    /// `ZMQ_RCVTIMEO`: how long a blocking receive waits. `None` = forever.
    pub rcvtimeo: Option<Duration>,
    /// `ZMQ_ROUTING_ID`: the identity sent to peers (1–255 bytes, not starting
    /// with a zero byte).
    pub routing_id: Option<Bytes>,
    /// `ZMQ_IMMEDIATE`: when true, messages are queued only to peers whose
    /// connection is complete.
    pub immediate: bool,
    /// `ZMQ_TCP_KEEPALIVE`: `None` = OS default (libzmq's -1).
    pub tcp_keepalive: Option<bool>,
    /// `ZMQ_TCP_KEEPALIVE_IDLE` in seconds; `None` = OS default.
    pub tcp_keepalive_idle: Option<u32>,
    /// `ZMQ_TCP_KEEPALIVE_CNT`; `None` = OS default.
    pub tcp_keepalive_cnt: Option<u32>,
    /// `ZMQ_TCP_KEEPALIVE_INTVL` in seconds; `None` = OS default.
    pub tcp_keepalive_intvl: Option<u32>,
    /// `ZMQ_TOS`: the type-of-service byte of the IP header of the socket's
    /// TCP packets; `None` = OS default.
    pub tos: Option<u8>,
    /// `ZMQ_BINDTODEVICE`: the network interface this socket's TCP binds
    /// and connections are tied to (`SO_BINDTODEVICE`, Linux); `None` =
    /// none.
    pub bind_to_device: Option<String>,
    /// `ZMQ_TCP_MAXRT`: how long sent data may stay unacknowledged before
    /// the connection is dropped (`TCP_USER_TIMEOUT`, Linux); `None` = OS
    /// default.
    pub tcp_maxrt: Option<Duration>,
    /// `ZMQ_SNDBUF` in bytes; `None` = OS default.
    pub sndbuf: Option<u32>,
    /// `ZMQ_RCVBUF` in bytes; `None` = OS default.
    pub rcvbuf: Option<u32>,
    /// `ZMQ_BACKLOG`: pending connections on a listener. Default 100.
    pub backlog: i32,
    /// `ZMQ_IPV6`: `*` binds dual-stack `[::]` and host names may resolve to
    /// IPv6 addresses. Default off, as in libzmq (IPv6 literals always work).
    pub ipv6: bool,
    /// `ZMQ_HANDSHAKE_IVL`: a peer that has not finished its handshake in this
    /// time is dropped. Default 30 s; `None` disables the limit.
    pub handshake_ivl: Option<Duration>,
    /// `ZMQ_ROUTER_MANDATORY` (ROUTER): a message for an unknown peer fails
    /// with `HostUnreachable` instead of being dropped, and a full peer makes
    /// the send wait instead of dropping. Default off.
    pub router_mandatory: bool,
    /// `ZMQ_ROUTER_HANDOVER` (ROUTER): a peer that connects with a routing
    /// id already in use takes it over; the connection that had it is
    /// closed (what it delivered is still received, under a generated id;
    /// a connection this socket made with `connect` stays open under that
    /// id, since a connect keeps its pipe across reconnections).
    /// Off (the default), the newer peer gets a generated id instead
    /// (libzmq ignores such a peer until the id is free).
    pub router_handover: bool,
    /// `ZMQ_CONNECT_ROUTING_ID` (ROUTER): the routing id to give the peer of
    /// the next `connect`, in place of the one it announces; the connect
    /// uses it up. Default `None`.
    pub connect_routing_id: Option<Bytes>,
    /// `ZMQ_REQ_RELAXED` (REQ): a new request may be sent before the reply
    /// to the previous one arrived. Default off.
    pub req_relaxed: bool,
    /// `ZMQ_REQ_CORRELATE` (REQ): requests carry an id and replies with
    /// another id are dropped. Default off.
    pub req_correlate: bool,
    /// `ZMQ_CONFLATE` (SUB, PULL, DEALER, PUSH, PUB): keep only the newest
    /// message of each TCP or IPC connection. On SUB, PULL and DEALER a
    /// message not yet received is dropped when the next one arrives, and
    /// RCVHWM does not apply; on PUSH, PUB and DEALER a message not yet
    /// sent is dropped when the next one is queued, and SNDHWM does not
    /// apply. Subscriptions are never conflated. Multipart messages are kept
    /// whole. Default off.
    pub conflate: bool,
    /// `ZMQ_XPUB_VERBOSE` (XPUB): pass every subscribe to the application,
    /// not only the first for a topic. Default off.
    pub xpub_verbose: bool,
    /// The second half of `ZMQ_XPUB_VERBOSER` (XPUB): pass every cancel to
    /// the application, not only the one that leaves a topic without
    /// subscribers, and when a peer goes away one cancel per topic it held.
    /// `set_xpub_verboser` sets it with [`xpub_verbose`](Self::xpub_verbose);
    /// `set_xpub_verbose` clears it, as in libzmq. Default off.
    pub xpub_verbose_unsubs: bool,
    /// `ZMQ_INVERT_MATCHING` (PUB, XPUB, SUB): subscriptions become a
    /// blacklist. A publisher sends each message to the peers whose
    /// subscriptions do not match it, and a SUB keeps the messages that
    /// match none of its subscriptions. Set it on both ends, as with
    /// libzmq. Default off.
    pub invert_matching: bool,
    /// `ZMQ_XPUB_NODROP` (PUB, XPUB): a message goes to every matching
    /// subscriber or to none. While one of them is at its high-water mark
    /// a send waits for it (within SNDTIMEO), and a non-blocking send fails
    /// with `WouldBlock`, instead of dropping the message for that
    /// subscriber. Default off.
    pub xpub_nodrop: bool,
    /// `ZMQ_XPUB_MANUAL` (XPUB): subscriptions from peers are handed to the
    /// application (every one) but not applied; the application applies
    /// what it grants with `subscribe`/`unsubscribe` on the XPUB, which act
    /// for the peer of the last message it received. Default off.
    pub xpub_manual: bool,
    /// `ZMQ_XPUB_WELCOME_MSG` (PUB, XPUB): a message sent to each
    /// subscriber as its connection is made or accepted (it reaches a SUB
    /// that subscribes to it). Default `None`.
    pub xpub_welcome_msg: Option<Bytes>,
    /// `ZMQ_PROBE_ROUTER` (ROUTER, DEALER, REQ): send an empty message to
    /// every peer as its connection is made or accepted, so that a ROUTER
    /// on the other side learns this socket's routing id before it has
    /// anything else to say. Default off.
    pub probe_router: bool,
    /// `ZMQ_HEARTBEAT_IVL`: send a ZMTP PING this often on every connection.
    /// `None` (the default, libzmq's 0) sends none.
    pub heartbeat_ivl: Option<Duration>,
    /// `ZMQ_HEARTBEAT_TIMEOUT`: drop a connection when nothing arrives this
    /// long after a PING. `None` = the heartbeat interval (libzmq's default).
    pub heartbeat_timeout: Option<Duration>,
    /// `ZMQ_HEARTBEAT_TTL`: the time-to-live put in our PINGs, asking the
    /// peer to drop the connection when it hears nothing from us for that
    /// long (whole deciseconds; under 100 ms has no effect). Default `None`.
    pub heartbeat_ttl: Option<Duration>,
    /// The security mechanism of this socket's TCP and IPC connections:
    /// NULL (the default), a PLAIN client (libzmq's `ZMQ_PLAIN_USERNAME` and
    /// `ZMQ_PLAIN_PASSWORD`) or a PLAIN server (`ZMQ_PLAIN_SERVER`), which
    /// checks credentials with a function instead of a ZAP handler; with the
    /// `curve` feature, a CURVE client (`ZMQ_CURVE_PUBLICKEY`,
    /// `ZMQ_CURVE_SECRETKEY`, `ZMQ_CURVE_SERVERKEY`) or server
    /// (`ZMQ_CURVE_SERVER` with its secret key). Both ends of a connection
    /// must use the same mechanism; inproc pipes have no handshake and
    /// ignore it, as in libzmq.
    pub mechanism: Mechanism,
    /// `ZMQ_METADATA`: application properties (names starting `X-`) sent
    /// to each TCP or IPC peer in the handshake, where the peer reads them
    /// as message properties (libzmq's `zmq_msg_gets`, ringmq's
    /// `Socket::last_message_property`). Default none.
    pub metadata: Metadata,
}

/// How long a thread that ran out of work keeps polling before it sleeps:
/// a socket's blocking call (yielding the CPU between checks) and an I/O
/// thread (polling epoll without blocking). Sleeping costs the waker a
/// futex or eventfd call and the sleeper a scheduler wake-up, which on
/// virtual machines that halt idle cores dominates a request/reply round
/// trip; a short bounded poll catches the reply on its way. The budget
/// must outlast a round trip, or the side waiting for the next request
/// sleeps before every one: a loopback round trip takes 30–50 µs on small
/// virtual machines, so the default is 100 µs (at most that much CPU per
/// thread after its last message). The `RINGMQ_SPIN_US` environment
/// variable (read once) sets another value, 0 turning the polling off.
pub(crate) fn spin_budget() -> Duration {
    static BUDGET: std::sync::OnceLock<Duration> = std::sync::OnceLock::new();
    *BUDGET.get_or_init(|| {
        std::env::var("RINGMQ_SPIN_US")
            .ok()
            .and_then(|v| v.parse::<u64>().ok())
            .map_or(DEFAULT_SPIN, Duration::from_micros)
    })
}

/// The I/O threads' polling budget (`RINGMQ_IO_SPIN_US`, default as
/// [`spin_budget`]).
pub(crate) fn io_spin_budget() -> Duration {
    static BUDGET: std::sync::OnceLock<Duration> = std::sync::OnceLock::new();
    *BUDGET.get_or_init(|| {
        std::env::var("RINGMQ_IO_SPIN_US")
            .ok()
            .and_then(|v| v.parse::<u64>().ok())
            .map_or_else(spin_budget, Duration::from_micros)
    })
}

/// The default of [`spin_budget`].
const DEFAULT_SPIN: Duration = Duration::from_micros(100);

/// The most messages an "unlimited" (HWM 0) pipe holds.
pub(crate) const UNLIMITED_PIPE: usize = 1 << 17;

impl Default for Options {
    fn default() -> Self {
        Options {
            sndhwm: 1000,
            rcvhwm: 1000,
            linger: None,
            reconnect_ivl: Some(Duration::from_millis(100)),
            reconnect_ivl_max: Duration::ZERO,
            connect_timeout: None,
            maxmsgsize: None,
            sndtimeo: None,
            rcvtimeo: None,
            routing_id: None,
            immediate: false,
            tcp_keepalive: None,
            tcp_keepalive_idle: None,
            tcp_keepalive_cnt: None,
            tcp_keepalive_intvl: None,
            tcp_maxrt: None,
            tos: None,
            bind_to_device: None,
            sndbuf: None,
            rcvbuf: None,
            backlog: 100,
            ipv6: false,
            handshake_ivl: Some(Duration::from_secs(30)),
            router_mandatory: false,
            router_handover: false,
            connect_routing_id: None,
            req_relaxed: false,
            req_correlate: false,
            xpub_verbose: false,
            conflate: false,
            xpub_verbose_unsubs: false,
            invert_matching: false,
            xpub_nodrop: false,
            xpub_manual: false,
            xpub_welcome_msg: None,
            probe_router: false,
            heartbeat_ivl: None,
            heartbeat_timeout: None,
            heartbeat_ttl: None,
            mechanism: Mechanism::Null,
            metadata: Metadata::new(),
        }
    }
}

impl Options {
    /// The send pipe's ring capacity.
    pub(crate) fn send_ring_capacity(&self) -> usize {
        crate::pipe::ring_capacity_for_hwm(self.sndhwm, UNLIMITED_PIPE)
    }

    /// The receive ring's capacity.
    pub(crate) fn recv_ring_capacity(&self) -> usize {
        crate::pipe::ring_capacity_for_hwm(self.rcvhwm, UNLIMITED_PIPE)
    }

    /// The TCP settings for the transport layer.
    pub(crate) fn tcp(&self) -> crate::transport::TcpOptions {
        crate::transport::TcpOptions {
            keepalive: self.tcp_keepalive,
            keepalive_idle: self
                .tcp_keepalive_idle
                .map(|s| Duration::from_secs(s.into())),
            keepalive_cnt: self.tcp_keepalive_cnt,
            keepalive_intvl: self
                .tcp_keepalive_intvl
                .map(|s| Duration::from_secs(s.into())),
            sndbuf: self.sndbuf.map(|b| b as usize),
            rcvbuf: self.rcvbuf.map(|b| b as usize),
            backlog: self.backlog,
            ipv6: self.ipv6,
            tos: self.tos,
            max_rt: self.tcp_maxrt,
            bind_device: self.bind_to_device.clone(),
        }
    }
}

/// Checks a high-water mark value.
pub(crate) fn check_hwm(option: &'static str, v: i32) -> Result<i32> {
    if v < 0 {
        return Err(Error::InvalidOption {
            option,
            reason: "must be 0 (no limit) or positive",
        });
    }
    Ok(v)
}

/// Checks a duration option that `None` turns off (or leaves to the
/// system): a set value must lie in `range`, else `reason` says why not.
pub(crate) fn check_period(
    option: &'static str,
    v: Option<Duration>,
    range: std::ops::RangeInclusive<Duration>,
    reason: &'static str,
) -> Result<Option<Duration>> {
    match v {
        Some(d) if !range.contains(&d) => Err(Error::InvalidOption { option, reason }),
        _ => Ok(v),
    }
}

/// Checks a routing id value (libzmq: 1–255 bytes, first byte not zero).
pub(crate) fn check_routing_id(id: &[u8]) -> Result<()> {
    if id.is_empty() || id.len() > 255 {
        return Err(Error::InvalidOption {
            option: "ZMQ_ROUTING_ID",
            reason: "must be 1 to 255 bytes long",
        });
    }
    if id[0] == 0 {
        return Err(Error::InvalidOption {
            option: "ZMQ_ROUTING_ID",
            reason: "must not start with a zero byte (reserved for generated ids)",
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_follow_libzmq() {
        let o = Options::default();
        assert_eq!(o.sndhwm, 1000);
        assert_eq!(o.rcvhwm, 1000);
        assert_eq!(o.linger, None);
        assert_eq!(o.reconnect_ivl, Some(Duration::from_millis(100)));
        assert_eq!(o.reconnect_ivl_max, Duration::ZERO);
        assert_eq!(o.backlog, 100);
        assert_eq!(o.handshake_ivl, Some(Duration::from_secs(30)));
        assert_eq!(o.send_ring_capacity(), 1024);
        assert_eq!((o.connect_timeout, o.tcp_maxrt), (None, None));
    }

    #[test]
    fn tcp_options_carry_the_socket_options() {
        let o = Options {
            tcp_keepalive: Some(true),
            tcp_keepalive_idle: Some(30),
            tcp_maxrt: Some(Duration::from_millis(1500)),
            tos: Some(0x28),
            sndbuf: Some(4096),
            ..Options::default()
        };
        let t = o.tcp();
        assert_eq!(t.keepalive, Some(true));
        assert_eq!(t.keepalive_idle, Some(Duration::from_secs(30)));
        assert_eq!(t.max_rt, Some(Duration::from_millis(1500)));
        assert_eq!(t.tos, Some(0x28));
        assert_eq!(t.sndbuf, Some(4096));
    }

    #[test]
    fn routing_id_checks() {
        assert!(check_routing_id(b"abc").is_ok());
        assert!(check_routing_id(b"").is_err());
        assert!(check_routing_id(&[0, 1]).is_err());
        assert!(check_routing_id(&[7; 256]).is_err());
        assert!(check_hwm("ZMQ_SNDHWM", -1).is_err());
        assert_eq!(check_hwm("ZMQ_SNDHWM", 0).unwrap(), 0);
    }
}
