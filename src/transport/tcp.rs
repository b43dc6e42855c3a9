//! TCP: listeners and streams for `tcp://` endpoints, with libzmq's socket
//! options.
//!
//! This file owns creating, binding, connecting and configuring TCP sockets
//! (through `socket2`) and handing them out as non-blocking `mio` types. It
//! must not register anything with a `Poll`, read or write payload bytes, or
//! know about ZMTP: the reactor and the engine do that.
//!
//! Host names are resolved with the standard library's `ToSocketAddrs`, which
//! calls the system resolver and **can block** (for as long as DNS takes).
//! Endpoints given as IP literals never block.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, ToSocketAddrs};
use std::time::Duration;

use socket2::{Domain, Protocol, SockRef, Socket, TcpKeepalive, Type};

use super::endpoint::{TcpEndpoint, TcpHost};

/// Socket options for TCP listeners and streams.
///
/// Defaults follow libzmq: keepalive and buffer sizes are left to the OS,
/// the listen backlog is 100, and IPv6 is off (so `*` binds `0.0.0.0` and
/// host names resolve to IPv4 addresses only; IPv6 literals always work).
///
/// # Examples
///
/// ```
/// use ringmq::transport::TcpOptions;
/// use std::time::Duration;
///
/// let opts = TcpOptions {
///     keepalive: Some(true),
///     keepalive_idle: Some(Duration::from_secs(30)),
///     ..TcpOptions::default()
/// };
/// assert_eq!(opts.backlog, 100);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TcpOptions {
    /// `ZMQ_TCP_KEEPALIVE`: `None` leaves the OS default (libzmq's `-1`),
    /// `Some(false)` turns keepalive off, `Some(true)` turns it on and applies
    /// the three settings below.
    pub keepalive: Option<bool>,
    /// `ZMQ_TCP_KEEPALIVE_IDLE`: idle time before the first probe (whole
    /// seconds; used only when `keepalive` is `Some(true)`).
    pub keepalive_idle: Option<Duration>,
    /// `ZMQ_TCP_KEEPALIVE_CNT`: unanswered probes before the connection is
    /// dropped (used only when `keepalive` is `Some(true)`).
    pub keepalive_cnt: Option<u32>,
    /// `ZMQ_TCP_KEEPALIVE_INTVL`: time between probes (whole seconds; used
    /// only when `keepalive` is `Some(true)`).
    pub keepalive_intvl: Option<Duration>,
    /// `ZMQ_SNDBUF`: `SO_SNDBUF` in bytes; `None` leaves the OS default.
    pub sndbuf: Option<usize>,
    /// `ZMQ_RCVBUF`: `SO_RCVBUF` in bytes; `None` leaves the OS default.
    pub rcvbuf: Option<usize>,
    /// `ZMQ_BACKLOG`: the `listen` backlog (default 100).
    pub backlog: i32,
    /// `ZMQ_IPV6`: when on, `*` binds `[::]` in dual-stack mode and host
    /// names may resolve to IPv6 addresses. Off by default, as in libzmq.
    pub ipv6: bool,
    /// `ZMQ_TOS`: the IP header's type-of-service byte (DS field and ECN)
    /// for the socket's packets (`IP_TOS`, and `IPV6_TCLASS` on IPv6
    /// sockets). `None` leaves the OS default.
    pub tos: Option<u8>,
    /// `ZMQ_TCP_MAXRT`: how long sent data may stay unacknowledged before
    /// the system drops the connection (`TCP_USER_TIMEOUT`, whole
    /// milliseconds; Linux and Android only, ignored elsewhere). `None`
    /// leaves the OS default.
    pub max_rt: Option<Duration>,
    /// `ZMQ_BINDTODEVICE`: the network interface (`SO_BINDTODEVICE`) the
    /// socket's packets go through and are accepted from, set before the
    /// bind or connect (Linux and Android; elsewhere a bind or connect with
    /// it fails with `Unsupported`). `None` leaves the socket unbound to a
    /// device.
    pub bind_device: Option<String>,
}

impl Default for TcpOptions {
    fn default() -> Self {
        TcpOptions {
            keepalive: None,
            keepalive_idle: None,
            keepalive_cnt: None,
            keepalive_intvl: None,
            sndbuf: None,
            rcvbuf: None,
            backlog: 100,
            ipv6: false,
            tos: None,
            max_rt: None,
            bind_device: None,
        }
    }
}

fn invalid_input(msg: &'static str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, msg)
}

/// Resolves a host (and port) to one socket address, the way libzmq does:
/// IP literals as they are; for a bind, the name of a network interface to
/// its first IPv4 address (IPv6 when `ipv6` is on); other names through the
/// system resolver, keeping the first IPv4 address (or the first address of
/// any family when `ipv6` is on).
fn resolve(host: &TcpHost, port: u16, ipv6: bool, for_bind: bool) -> io::Result<SocketAddr> {
    match host {
        TcpHost::Any => {
            if !for_bind {
                return Err(invalid_input(
                    "cannot connect to `*`: name the host to connect to",
                ));
            }
            let ip = if ipv6 {
                IpAddr::V6(Ipv6Addr::UNSPECIFIED)
            } else {
                IpAddr::V4(Ipv4Addr::UNSPECIFIED)
            };
            Ok(SocketAddr::new(ip, port))
        }
        TcpHost::Ip(ip) => Ok(SocketAddr::new(*ip, port)),
        TcpHost::Name(name) if for_bind => match super::iface::interface_addr(name, ipv6)? {
            // A network interface, as libzmq binds it: its first address.
            Some(ip) => Ok(SocketAddr::new(ip, port)),
            None => resolve_name(name, port, ipv6, for_bind),
        },
        TcpHost::Name(name) => resolve_name(name, port, ipv6, for_bind),
    }
}

/// Resolves a host name through the system resolver (may block on DNS).
fn resolve_name(name: &str, port: u16, ipv6: bool, for_bind: bool) -> io::Result<SocketAddr> {
    let mut addrs = (name, port).to_socket_addrs().map_err(|e| {
        let hint = if for_bind {
            " (bind takes an IP address, `*`, a network interface or a host name)"
        } else {
            ""
        };
        io::Error::new(e.kind(), format!("cannot resolve {name:?}: {e}{hint}"))
    })?;
    let found = if ipv6 {
        addrs.next()
    } else {
        addrs.find(SocketAddr::is_ipv4)
    };
    found.ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::NotFound,
            format!(
                "host name {name:?} did not resolve to an {} address",
                if ipv6 { "IP" } else { "IPv4" }
            ),
        )
    })
}

fn new_socket(addr: &SocketAddr) -> io::Result<Socket> {
    let socket = Socket::new(
        Domain::for_address(*addr),
        Type::STREAM,
        Some(Protocol::TCP),
    )?;
    socket.set_nonblocking(true)?;
    Ok(socket)
}

fn set_tos(socket: &SockRef<'_>, opts: &TcpOptions) -> io::Result<()> {
    let Some(tos) = opts.tos else {
        return Ok(());
    };
    let v6 = socket
        .local_addr()?
        .as_socket()
        .is_some_and(|a| a.is_ipv6());
    if v6 {
        socket.set_tclass_v6(tos.into())?;
        // For IPv4 peers of a dual-stack socket; some systems refuse it on
        // IPv6 sockets, which is no error here.
        let _ = socket.set_tos_v4(tos.into());
        Ok(())
    } else {
        socket.set_tos_v4(tos.into())
    }
}

/// Binds the socket to `opts.bind_device`, if set.
fn set_device(socket: &SockRef<'_>, opts: &TcpOptions) -> io::Result<()> {
    let Some(name) = &opts.bind_device else {
        return Ok(());
    };
    #[cfg(any(target_os = "linux", target_os = "android"))]
    return socket.bind_device(Some(name.as_bytes())).map_err(|e| {
        io::Error::new(
            e.kind(),
            format!("cannot bind the socket to device {name:?} (ZMQ_BINDTODEVICE): {e}"),
        )
    });
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    {
        let _ = (socket, name);
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "ZMQ_BINDTODEVICE is available on Linux and Android only",
        ))
    }
}

fn set_buffers(socket: &SockRef<'_>, opts: &TcpOptions) -> io::Result<()> {
    if let Some(size) = opts.sndbuf {
        socket.set_send_buffer_size(size)?;
    }
    if let Some(size) = opts.rcvbuf {
        socket.set_recv_buffer_size(size)?;
    }
    Ok(())
}

fn set_keepalive(socket: &SockRef<'_>, opts: &TcpOptions) -> io::Result<()> {
    match opts.keepalive {
        None => Ok(()),
        Some(false) => socket.set_keepalive(false),
        Some(true) => {
            let mut params = TcpKeepalive::new();
            if let Some(idle) = opts.keepalive_idle {
                params = params.with_time(idle);
            }
            #[cfg(any(
                target_os = "linux",
                target_os = "android",
                target_vendor = "apple",
                target_os = "freebsd",
                target_os = "netbsd",
                target_os = "windows"
            ))]
            if let Some(intvl) = opts.keepalive_intvl {
                params = params.with_interval(intvl);
            }
            #[cfg(any(
                target_os = "linux",
                target_os = "android",
                target_vendor = "apple",
                target_os = "freebsd",
                target_os = "netbsd"
            ))]
            if let Some(cnt) = opts.keepalive_cnt {
                params = params.with_retries(cnt);
            }
            // `set_tcp_keepalive` also turns SO_KEEPALIVE on.
            socket.set_tcp_keepalive(&params)
        }
    }
}

/// Binds a non-blocking TCP listener for `ep`.
///
/// `SO_REUSEADDR` is on (a restarted server can rebind while old
/// connections sit in `TIME_WAIT`; on Linux it still refuses a second
/// listener on the same port). For the IPv6 wildcard `[::]` (and for `*`
/// with `opts.ipv6`) `IPV6_V6ONLY` is turned off so the listener serves IPv4
/// too where the OS allows. Buffer sizes from `opts` are set on the listener
/// so accepted streams inherit them; the backlog is `opts.backlog`.
///
/// Returns the listener and the address it is bound to (with the real port
/// when `ep` asked for `*`); [`resolve_endpoint_string`] turns that into the
/// `last_endpoint` string.
///
/// # Errors
///
/// `AddrInUse` when the port is taken, `AddrNotAvailable` for a host that is
/// not local, `NotFound` for a name that does not resolve, other OS errors as
/// they come. Host names are resolved here, which can block.
///
/// # Examples
///
/// ```
/// use ringmq::transport::{bind_tcp, resolve_endpoint_string, Endpoint, LocalAddr, TcpOptions};
///
/// let ep = Endpoint::parse("tcp://127.0.0.1:*")?;
/// let Endpoint::Tcp(tcp) = &ep else { unreachable!() };
/// let (_listener, addr) = bind_tcp(tcp, &TcpOptions::default())?;
/// assert_ne!(addr.port(), 0);
/// let last = resolve_endpoint_string(&ep, &LocalAddr::Tcp(addr));
/// assert_eq!(last, format!("tcp://127.0.0.1:{}", addr.port()));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// [`resolve_endpoint_string`]: super::resolve_endpoint_string
pub fn bind_tcp(
    ep: &TcpEndpoint,
    opts: &TcpOptions,
) -> io::Result<(mio::net::TcpListener, SocketAddr)> {
    if ep.source.is_some() {
        return Err(invalid_input(
            "a source address (`tcp://source;host:port`) applies to connect only",
        ));
    }
    let addr = resolve(&ep.host, ep.port, opts.ipv6, true)?;
    let socket = new_socket(&addr)?;
    socket.set_reuse_address(true)?;
    if let IpAddr::V6(ip) = addr.ip() {
        if ip.is_unspecified() {
            // Dual stack where possible; some systems refuse, which is fine.
            if let Err(e) = socket.set_only_v6(false) {
                tracing::debug!("could not clear IPV6_V6ONLY on {addr}: {e}");
            }
        }
    }
    set_buffers(&SockRef::from(&socket), opts)?;
    set_device(&SockRef::from(&socket), opts)?;
    socket.bind(&addr.into())?;
    set_tos(&SockRef::from(&socket), opts)?;
    socket.listen(opts.backlog)?;
    let std_listener: std::net::TcpListener = socket.into();
    let local = std_listener.local_addr()?;
    Ok((mio::net::TcpListener::from_std(std_listener), local))
}

/// Starts a non-blocking connect to `ep` and returns the stream at once.
///
/// The connection completes later: register the stream for writable
/// readiness, then check [`mio::net::TcpStream::take_error`] (and
/// `peer_addr`) to learn whether it succeeded; a refused connection shows up
/// there as `ConnectionRefused`. `EINPROGRESS` is not an error here.
/// Buffer sizes are set before connecting (so window scaling matches), and
/// the other options of [`configure_stream`] are applied too.
///
/// # Errors
///
/// `InvalidInput` for the host `*` or the port `*`/`0`; resolver errors for
/// names that do not resolve (resolution can block); immediate OS errors.
pub fn connect_tcp(ep: &TcpEndpoint, opts: &TcpOptions) -> io::Result<mio::net::TcpStream> {
    if ep.is_ephemeral_port() {
        return Err(invalid_input(
            "cannot connect to port `*`/0: name the port to connect to",
        ));
    }
    let addr = resolve(&ep.host, ep.port, opts.ipv6, false)?;
    let socket = new_socket(&addr)?;
    set_buffers(&SockRef::from(&socket), opts)?;
    set_device(&SockRef::from(&socket), opts)?;
    if let Some(src) = &ep.source {
        let ip = match (src.ip, addr) {
            (Some(ip), _) => ip,
            (None, SocketAddr::V4(_)) => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            (None, SocketAddr::V6(_)) => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
        };
        if ip.is_ipv4() != addr.is_ipv4() {
            return Err(invalid_input(
                "the source address and the resolved destination are of different IP versions",
            ));
        }
        // As libzmq: the same source port may serve connections to
        // several servers.
        socket.set_reuse_address(true)?;
        socket.bind(&SocketAddr::new(ip, src.port).into())?;
    }
    match socket.connect(&addr.into()) {
        Ok(()) => {}
        Err(e) if connect_in_progress(&e) => {}
        Err(e) => return Err(e),
    }
    let stream = mio::net::TcpStream::from_std(socket.into());
    configure_stream(&stream, opts)?;
    Ok(stream)
}

/// `EINPROGRESS` on this platform, the answer of a non-blocking `connect`
/// that has started.
#[cfg(all(
    any(target_os = "linux", target_os = "android"),
    not(any(target_arch = "mips", target_arch = "mips64"))
))]
const EINPROGRESS: i32 = 115;
#[cfg(all(
    any(target_os = "linux", target_os = "android"),
    any(target_arch = "mips", target_arch = "mips64")
))]
const EINPROGRESS: i32 = 150;
#[cfg(not(any(target_os = "linux", target_os = "android")))]
const EINPROGRESS: i32 = 36; // macOS and the BSDs

fn connect_in_progress(e: &io::Error) -> bool {
    e.raw_os_error() == Some(EINPROGRESS) || e.kind() == io::ErrorKind::WouldBlock
}

/// Applies per-connection options to an accepted or connected stream:
/// `TCP_NODELAY` on, keepalive as in `opts`, and `SO_SNDBUF`/`SO_RCVBUF`
/// when set.
///
/// # Errors
///
/// The first OS error from `setsockopt`.
pub fn configure_stream(stream: &mio::net::TcpStream, opts: &TcpOptions) -> io::Result<()> {
    let socket = SockRef::from(stream);
    socket.set_tcp_nodelay(true)?;
    set_keepalive(&socket, opts)?;
    set_buffers(&socket, opts)?;
    set_tos(&socket, opts)?;
    #[cfg(any(target_os = "linux", target_os = "android"))]
    if let Some(t) = opts.max_rt {
        socket.set_tcp_user_timeout(Some(t))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolve_literals_and_wildcards() {
        let v4 = TcpHost::Ip(IpAddr::V4(Ipv4Addr::LOCALHOST));
        assert_eq!(
            resolve(&v4, 7, false, false).unwrap(),
            "127.0.0.1:7".parse::<SocketAddr>().unwrap()
        );
        assert_eq!(
            resolve(&TcpHost::Any, 9, false, true).unwrap(),
            "0.0.0.0:9".parse::<SocketAddr>().unwrap()
        );
        assert_eq!(
            resolve(&TcpHost::Any, 9, true, true).unwrap(),
            "[::]:9".parse::<SocketAddr>().unwrap()
        );
        let err = resolve(&TcpHost::Any, 9, false, false).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
    }

    #[test]
    fn resolve_localhost_name_to_ipv4() {
        let addr = resolve(&TcpHost::Name("localhost".into()), 5, false, false).unwrap();
        assert!(addr.ip().is_loopback() && addr.is_ipv4(), "{addr}");
        assert_eq!(addr.port(), 5);
    }

    #[test]
    fn connect_rejects_wildcards() {
        let opts = TcpOptions::default();
        let ep = TcpEndpoint {
            host: TcpHost::Ip(IpAddr::V4(Ipv4Addr::LOCALHOST)),
            port: 0,
            source: None,
        };
        assert_eq!(
            connect_tcp(&ep, &opts).unwrap_err().kind(),
            io::ErrorKind::InvalidInput
        );
        let ep = TcpEndpoint {
            host: TcpHost::Any,
            port: 5555,
            source: None,
        };
        assert_eq!(
            connect_tcp(&ep, &opts).unwrap_err().kind(),
            io::ErrorKind::InvalidInput
        );
    }

    #[test]
    fn defaults_match_libzmq() {
        let o = TcpOptions::default();
        assert_eq!(o.backlog, 100);
        assert_eq!(o.keepalive, None);
        assert_eq!(o.sndbuf, None);
        assert_eq!(o.rcvbuf, None);
        assert!(!o.ipv6);
    }
}
