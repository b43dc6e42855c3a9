//! Endpoint strings: parsing, validation and display.
//!
//! This file owns the grammar of `tcp://`, `ipc://` and `inproc://` endpoint
//! strings as libzmq accepts them, and turns bad strings into
//! [`Error::InvalidEndpoint`] with a precise reason. It must not resolve host
//! names, open sockets or touch the file system: parsing is pure.
//!
//! Accepted forms:
//!
//! | form | meaning |
//! |---|---|
//! | `tcp://127.0.0.1:5555`, `tcp://[::1]:5555`, `tcp://::1:5555` | IP literal and port |
//! | `tcp://*:5555` | all interfaces (bind only) |
//! | `tcp://127.0.0.1:*`, `tcp://*:*`, `tcp://*:0` | ephemeral port (bind only) |
//! | `tcp://localhost:5555` | host name, resolved when binding or connecting |
//! | `tcp://eth0:5555` | for a bind on Linux, a network interface: its first IPv4 address (IPv6 with the IPv6 option), as libzmq binds it; other names are host names |
//! | `ipc:///tmp/sock`, `ipc://relative/sock` | Unix domain socket path |
//! | `ipc://*` | a fresh unique path under the temp directory (bind only) |
//! | `ipc://@name` | Linux abstract socket namespace |
//! | `inproc://name` | in-process endpoint, 1..=256 bytes |
//! | `tcp://127.0.0.2:*;10.0.0.1:5555` | connect from a local address (libzmq's source form); the source is an IP or `*`, its port optional |
//!
//! Deliberately rejected, each with its own reason: other transports (`udp`,
//! `pgm`, `epgm`, `norm`, `ws`, `wss`, `tipc`, `vmci`), IPv6 zone ids
//! (`[fe80::1%eth0]`), network interfaces by name as a connect's source, a
//! source address on a bind, strings over 4096 bytes and strings
//! containing NUL bytes.

use std::fmt;
use std::net::{IpAddr, Ipv6Addr};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use crate::error::Error;

/// Longest endpoint string accepted, in bytes.
pub const MAX_ENDPOINT_LEN: usize = 4096;

/// Longest `inproc://` name accepted, in bytes.
pub const MAX_INPROC_NAME_LEN: usize = 256;

/// Longest host name accepted (DNS limit), in bytes.
const MAX_HOSTNAME_LEN: usize = 253;

/// Capacity of `sockaddr_un.sun_path` on this platform, in bytes. A file
/// system path needs one byte of it for the terminating NUL; an abstract name
/// needs one for the leading NUL.
#[cfg(any(target_os = "linux", target_os = "android"))]
pub const SUN_PATH_LEN: usize = 108;
/// Capacity of `sockaddr_un.sun_path` on this platform, in bytes. A file
/// system path needs one byte of it for the terminating NUL.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
pub const SUN_PATH_LEN: usize = 104;

/// A parsed endpoint: which transport, and where.
///
/// # Examples
///
/// ```
/// use ringmq::transport::{Endpoint, TcpHost};
///
/// let ep: Endpoint = "tcp://127.0.0.1:*".parse()?;
/// match &ep {
///     Endpoint::Tcp(tcp) => {
///         assert_eq!(tcp.host, TcpHost::Ip("127.0.0.1".parse().unwrap()));
///         assert!(tcp.is_ephemeral_port());
///     }
///     _ => unreachable!(),
/// }
/// // Display round-trips.
/// assert_eq!(ep.to_string(), "tcp://127.0.0.1:*");
/// assert_eq!(Endpoint::parse(&ep.to_string())?, ep);
///
/// assert!(Endpoint::parse("udp://127.0.0.1:5555").is_err());
/// # Ok::<(), ringmq::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Endpoint {
    /// `tcp://host:port`.
    Tcp(TcpEndpoint),
    /// `ipc://path`. The path `*` asks for a unique temporary path when
    /// binding; a path starting with `@` names a Linux abstract socket.
    Ipc(PathBuf),
    /// `inproc://name`.
    Inproc(String),
}

/// The host and port of a `tcp://` endpoint, and for a connect the local
/// address to connect from.
///
/// ```
/// use ringmq::transport::Endpoint;
///
/// // libzmq's source-address form: connect from 127.0.0.2, any port.
/// let Endpoint::Tcp(ep) = Endpoint::parse("tcp://127.0.0.2:*;127.0.0.1:5555")? else {
///     unreachable!()
/// };
/// let src = ep.source.unwrap();
/// assert_eq!(src.ip, Some("127.0.0.2".parse().unwrap()));
/// assert_eq!((src.port, ep.port), (0, 5555));
/// assert_eq!(ep.to_string(), "tcp://127.0.0.2:*;127.0.0.1:5555");
/// # Ok::<(), ringmq::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TcpEndpoint {
    /// Where to bind or connect.
    pub host: TcpHost,
    /// The port; `0` means "any free port" (written `*` or `0`), which only
    /// makes sense for bind.
    pub port: u16,
    /// The local address a connect starts from (`tcp://source;host:port`),
    /// if given. Only a connect takes one.
    pub source: Option<TcpSource>,
}

/// The local address of a connect (`tcp://source;host:port`): an IP
/// address or `*` (any local address), and a port, `*`/`0` or left out
/// for any free one. As in libzmq, the socket is bound there with
/// `SO_REUSEADDR` before it connects, so one source port can serve
/// connections to several servers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TcpSource {
    /// The local address; `None` for `*` (any).
    pub ip: Option<IpAddr>,
    /// The local port, `0` for any.
    pub port: u16,
}

impl fmt::Display for TcpSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.ip {
            None => f.write_str("*")?,
            Some(IpAddr::V4(ip)) => write!(f, "{ip}")?,
            Some(IpAddr::V6(ip)) => write!(f, "[{ip}]")?,
        }
        if self.port == 0 {
            f.write_str(":*")
        } else {
            write!(f, ":{}", self.port)
        }
    }
}

impl TcpEndpoint {
    /// True when the port is `*`/`0`: the OS picks a free port at bind time.
    pub fn is_ephemeral_port(&self) -> bool {
        self.port == 0
    }
}

/// The host part of a `tcp://` endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum TcpHost {
    /// `*`: every interface (bind only). Binds `0.0.0.0`, or `[::]` in dual
    /// stack mode when the IPv6 option is on.
    Any,
    /// An IPv4 or IPv6 literal.
    Ip(IpAddr),
    /// A host name, resolved when binding or connecting; for a bind (on
    /// Linux), first looked up as a network interface.
    Name(String),
}

impl fmt::Display for TcpHost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TcpHost::Any => f.write_str("*"),
            TcpHost::Ip(IpAddr::V4(ip)) => write!(f, "{ip}"),
            TcpHost::Ip(IpAddr::V6(ip)) => write!(f, "[{ip}]"),
            TcpHost::Name(name) => f.write_str(name),
        }
    }
}

impl fmt::Display for TcpEndpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(src) = &self.source {
            write!(f, "tcp://{src};")?;
            return if self.port == 0 {
                write!(f, "{}:*", self.host)
            } else {
                write!(f, "{}:{}", self.host, self.port)
            };
        }
        if self.port == 0 {
            write!(f, "tcp://{}:*", self.host)
        } else {
            write!(f, "tcp://{}:{}", self.host, self.port)
        }
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Endpoint::Tcp(tcp) => tcp.fmt(f),
            Endpoint::Ipc(path) => write!(f, "ipc://{}", path.display()),
            Endpoint::Inproc(name) => write!(f, "inproc://{name}"),
        }
    }
}

impl FromStr for Endpoint {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Endpoint::parse(s)
    }
}

impl Endpoint {
    /// Parses an endpoint string.
    ///
    /// Pure: host names are kept as names (resolved later, when binding or
    /// connecting) and nothing touches the file system.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidEndpoint`] naming the first problem found.
    ///
    /// # Examples
    ///
    /// ```
    /// use ringmq::transport::Endpoint;
    /// use std::path::PathBuf;
    ///
    /// assert_eq!(
    ///     Endpoint::parse("ipc:///tmp/feed.sock")?,
    ///     Endpoint::Ipc(PathBuf::from("/tmp/feed.sock"))
    /// );
    /// assert_eq!(Endpoint::parse("inproc://jobs")?, Endpoint::Inproc("jobs".into()));
    ///
    /// let err = Endpoint::parse("tcp://127.0.0.1:70000").unwrap_err();
    /// assert!(err.to_string().contains("port out of range"));
    /// # Ok::<(), ringmq::Error>(())
    /// ```
    pub fn parse(s: &str) -> Result<Endpoint, Error> {
        let bad = |reason: &'static str| Error::InvalidEndpoint {
            // Never echo back an unbounded string inside the error.
            endpoint: truncate_for_error(s),
            reason,
        };
        if s.len() > MAX_ENDPOINT_LEN {
            return Err(bad("endpoint longer than 4096 bytes"));
        }
        if s.contains('\0') {
            return Err(bad("endpoint contains a NUL byte"));
        }
        let Some((scheme, rest)) = s.split_once("://") else {
            return Err(bad("missing `://` after the transport name"));
        };
        match scheme {
            "tcp" => parse_tcp(rest).map(Endpoint::Tcp).map_err(bad),
            "ipc" => parse_ipc(rest).map(Endpoint::Ipc).map_err(bad),
            "inproc" => parse_inproc(rest).map(Endpoint::Inproc).map_err(bad),
            "" => Err(bad("missing transport name before `://`")),
            "udp" | "pgm" | "epgm" | "norm" | "ws" | "wss" | "tipc" | "vmci" => Err(bad(
                "transport not supported (ringmq speaks tcp, ipc and inproc)",
            )),
            _ => Err(bad(
                "transport not supported: unknown transport name (expected tcp, ipc or inproc)",
            )),
        }
    }

    /// The transport name as written before `://`.
    pub fn scheme(&self) -> &'static str {
        match self {
            Endpoint::Tcp(_) => "tcp",
            Endpoint::Ipc(_) => "ipc",
            Endpoint::Inproc(_) => "inproc",
        }
    }
}

fn truncate_for_error(s: &str) -> String {
    const KEEP: usize = 128;
    if s.len() <= KEEP {
        return s.to_owned();
    }
    let mut end = KEEP;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &s[..end])
}

fn parse_tcp(rest: &str) -> Result<TcpEndpoint, &'static str> {
    if let Some((src, dest)) = rest.split_once(';') {
        let source = parse_source(src)?;
        let mut ep = parse_tcp_dest(dest)?;
        if let (Some(a), TcpHost::Ip(b)) = (&source.ip, &ep.host) {
            if a.is_ipv4() != b.is_ipv4() {
                return Err("source and destination are of different IP versions");
            }
        }
        ep.source = Some(source);
        return Ok(ep);
    }
    parse_tcp_dest(rest)
}

/// The source of `tcp://source;host:port`: `ip`, `ip:port`, `[v6]`,
/// `[v6]:port` or `*`, with `*` or `0` for any port.
fn parse_source(src: &str) -> Result<TcpSource, &'static str> {
    if src.is_empty() {
        return Err("empty source address before `;`");
    }
    let (host, port) = if let Some(bracketed) = bracketed_v6(src) {
        let (ip, after) = bracketed?;
        let port = match after {
            "" => None,
            _ => Some(
                after
                    .strip_prefix(':')
                    .ok_or("expected `:port` after `]` in the source address")?,
            ),
        };
        (Some(IpAddr::V6(ip)), port)
    } else {
        // `ip` or `*` alone, else split at the last colon.
        let (host, port) = match src.rsplit_once(':') {
            Some((h, p)) if !h.contains(':') => (h, Some(p)),
            _ => (src, None),
        };
        let host = match host {
            "*" => None,
            h => Some(h.parse().map_err(|_| {
                "source address is not an IP address or `*` (interface names are not supported)"
            })?),
        };
        (host, port)
    };
    let port = match port {
        None => 0,
        Some(p) => parse_port(p)?,
    };
    Ok(TcpSource { ip: host, port })
}

/// For `[addr]rest`, the IPv6 address in the brackets and the rest; `None`
/// if `s` does not start with `[`.
fn bracketed_v6(s: &str) -> Option<Result<(Ipv6Addr, &str), &'static str>> {
    let after_bracket = s.strip_prefix('[')?;
    let Some((inside, after)) = after_bracket.split_once(']') else {
        return Some(Err("unterminated `[` in IPv6 host"));
    };
    if inside.contains('%') {
        return Some(Err("IPv6 zone ids (`%iface`) are not supported"));
    }
    if inside.is_empty() {
        return Some(Err("empty host"));
    }
    Some(
        inside
            .parse()
            .map(|ip| (ip, after))
            .map_err(|_| "text inside `[...]` is not an IPv6 address"),
    )
}

fn parse_tcp_dest(rest: &str) -> Result<TcpEndpoint, &'static str> {
    if rest.is_empty() {
        return Err("missing host and port");
    }
    let (host, port) = if let Some(bracketed) = bracketed_v6(rest) {
        let (ip, after) = bracketed?;
        let Some(port) = after.strip_prefix(':') else {
            return Err(if after.is_empty() {
                "missing port"
            } else {
                "expected `:port` after `]`"
            });
        };
        (TcpHost::Ip(IpAddr::V6(ip)), port)
    } else {
        // libzmq splits at the last colon, so an unbracketed IPv6 literal
        // such as `::1:5555` works too.
        let Some((host, port)) = rest.rsplit_once(':') else {
            return Err("missing `:port`");
        };
        (parse_host(host)?, port)
    };
    let port = parse_port(port)?;
    Ok(TcpEndpoint {
        host,
        port,
        source: None,
    })
}

fn parse_host(host: &str) -> Result<TcpHost, &'static str> {
    if host.is_empty() {
        return Err("empty host");
    }
    if host == "*" {
        return Ok(TcpHost::Any);
    }
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(TcpHost::Ip(ip));
    }
    if host.contains('%') {
        return Err("IPv6 zone ids (`%iface`) are not supported");
    }
    if host.contains(':') {
        return Err("host is not a valid IPv6 address (write IPv6 hosts as `[addr]`)");
    }
    if host.len() > MAX_HOSTNAME_LEN {
        return Err("host name longer than 253 bytes");
    }
    // A trailing dot (fully qualified name) is allowed.
    let labels = host.strip_suffix('.').unwrap_or(host);
    let valid = labels.split('.').all(|label| {
        !label.is_empty()
            && label.len() <= 63
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    });
    if !valid {
        return Err("host is neither an IP address nor a valid host name");
    }
    Ok(TcpHost::Name(host.to_owned()))
}

fn parse_port(port: &str) -> Result<u16, &'static str> {
    if port.is_empty() {
        return Err("missing port");
    }
    if port == "*" {
        return Ok(0);
    }
    if !port.bytes().all(|b| b.is_ascii_digit()) {
        return Err("port is not a number (use digits, or `*` for any free port)");
    }
    // All digits: the only way to fail is overflow. Bound the work even for
    // long digit strings by checking the length first.
    if port.len() > 5 {
        return Err("port out of range (0..=65535)");
    }
    let value: u32 = port.parse().map_err(|_| "port out of range (0..=65535)")?;
    u16::try_from(value).map_err(|_| "port out of range (0..=65535)")
}

fn parse_ipc(rest: &str) -> Result<PathBuf, &'static str> {
    if rest.is_empty() {
        return Err("empty IPC path");
    }
    if rest == "*" {
        return Ok(PathBuf::from("*"));
    }
    if let Some(name) = rest.strip_prefix('@') {
        if !cfg!(any(target_os = "linux", target_os = "android")) {
            return Err("abstract IPC names (`ipc://@name`) are only available on Linux");
        }
        if name.is_empty() {
            return Err("empty abstract IPC name");
        }
        // One byte of sun_path holds the leading NUL of the abstract name.
        if name.len() > SUN_PATH_LEN - 1 {
            return Err("abstract IPC name longer than the socket address allows");
        }
        return Ok(PathBuf::from(rest));
    }
    // One byte of sun_path holds the terminating NUL.
    if rest.len() > SUN_PATH_LEN - 1 {
        return Err("IPC path longer than the socket address allows (sun_path)");
    }
    Ok(PathBuf::from(rest))
}

fn parse_inproc(rest: &str) -> Result<String, &'static str> {
    if rest.is_empty() {
        return Err("empty inproc name");
    }
    if rest.len() > MAX_INPROC_NAME_LEN {
        return Err("inproc name longer than 256 bytes");
    }
    Ok(rest.to_owned())
}

/// If `path` (as held by [`Endpoint::Ipc`]) names a Linux abstract socket
/// (`@name`), returns the name without the `@`.
#[cfg(unix)]
pub fn ipc_abstract_name(path: &Path) -> Option<&[u8]> {
    use std::os::unix::ffi::OsStrExt;
    path.as_os_str().as_bytes().strip_prefix(b"@")
}

/// True if `path` (as held by [`Endpoint::Ipc`]) is the wildcard `*`, which
/// asks bind for a unique temporary path.
pub fn ipc_is_wildcard(path: &Path) -> bool {
    path.as_os_str() == "*"
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn ok(s: &str) -> Endpoint {
        match Endpoint::parse(s) {
            Ok(ep) => ep,
            Err(e) => panic!("{s:?} should parse, got {e}"),
        }
    }

    fn reason(s: &str) -> &'static str {
        match Endpoint::parse(s) {
            Err(Error::InvalidEndpoint { reason, .. }) => reason,
            Err(e) => panic!("{s:?}: wrong error kind {e:?}"),
            Ok(ep) => panic!("{s:?} should be rejected, parsed as {ep:?}"),
        }
    }

    fn tcp(host: TcpHost, port: u16) -> Endpoint {
        Endpoint::Tcp(TcpEndpoint {
            host,
            port,
            source: None,
        })
    }

    fn v4(a: u8, b: u8, c: u8, d: u8) -> TcpHost {
        TcpHost::Ip(IpAddr::V4(Ipv4Addr::new(a, b, c, d)))
    }

    fn roundtrip(s: &str) {
        let ep = ok(s);
        let shown = ep.to_string();
        assert_eq!(Endpoint::parse(&shown).unwrap(), ep, "{s:?} -> {shown:?}");
    }

    #[test]
    fn tcp_ipv4_literal() {
        assert_eq!(ok("tcp://127.0.0.1:5555"), tcp(v4(127, 0, 0, 1), 5555));
        assert_eq!(ok("tcp://0.0.0.0:1"), tcp(v4(0, 0, 0, 0), 1));
        assert_eq!(ok("tcp://10.1.2.3:65535"), tcp(v4(10, 1, 2, 3), 65535));
    }

    #[test]
    fn tcp_wildcards() {
        assert_eq!(ok("tcp://*:5555"), tcp(TcpHost::Any, 5555));
        assert_eq!(ok("tcp://127.0.0.1:*"), tcp(v4(127, 0, 0, 1), 0));
        assert_eq!(ok("tcp://*:*"), tcp(TcpHost::Any, 0));
        assert_eq!(ok("tcp://*:0"), tcp(TcpHost::Any, 0));
        let Endpoint::Tcp(t) = ok("tcp://*:*") else {
            unreachable!()
        };
        assert!(t.is_ephemeral_port());
        let Endpoint::Tcp(t) = ok("tcp://*:1") else {
            unreachable!()
        };
        assert!(!t.is_ephemeral_port());
    }

    #[test]
    fn tcp_source_address() {
        let ip = |h: TcpHost| match h {
            TcpHost::Ip(ip) => Some(ip),
            _ => None,
        };
        let with = |src: TcpHost, sport: u16, host: TcpHost, port: u16| {
            Endpoint::Tcp(TcpEndpoint {
                host,
                port,
                source: Some(TcpSource {
                    ip: ip(src),
                    port: sport,
                }),
            })
        };
        let lo = v4(127, 0, 0, 1);
        assert_eq!(
            ok("tcp://127.0.0.2:6000;127.0.0.1:5555"),
            with(v4(127, 0, 0, 2), 6000, lo.clone(), 5555)
        );
        assert_eq!(
            ok("tcp://127.0.0.2;127.0.0.1:5555"),
            with(v4(127, 0, 0, 2), 0, lo.clone(), 5555)
        );
        assert_eq!(
            ok("tcp://*:*;localhost:5555"),
            with(TcpHost::Any, 0, TcpHost::Name("localhost".into()), 5555)
        );
        assert_eq!(ok("tcp://*;127.0.0.1:1"), with(TcpHost::Any, 0, lo, 1));
        let v6lo = TcpHost::Ip(IpAddr::V6(Ipv6Addr::LOCALHOST));
        assert_eq!(
            ok("tcp://[::1]:7;[::1]:8"),
            with(v6lo.clone(), 7, v6lo.clone(), 8)
        );
        assert_eq!(ok("tcp://[::1];[::1]:8"), with(v6lo.clone(), 0, v6lo, 8));
        for s in [
            "tcp://127.0.0.2:6000;127.0.0.1:5555",
            "tcp://*:*;[::1]:8",
            "tcp://[::1]:7;[::1]:8",
        ] {
            let ep = ok(s);
            assert_eq!(ok(&ep.to_string()), ep, "{s}");
        }
    }

    #[test]
    fn tcp_ipv6() {
        let lo = TcpHost::Ip(IpAddr::V6(Ipv6Addr::LOCALHOST));
        let any = TcpHost::Ip(IpAddr::V6(Ipv6Addr::UNSPECIFIED));
        assert_eq!(ok("tcp://[::1]:5555"), tcp(lo.clone(), 5555));
        assert_eq!(ok("tcp://[::]:*"), tcp(any, 0));
        // Unbracketed, split at the last colon as libzmq does.
        assert_eq!(ok("tcp://::1:5555"), tcp(lo, 5555));
        assert_eq!(
            ok("tcp://[fe80::1:2]:7"),
            tcp(TcpHost::Ip("fe80::1:2".parse().unwrap()), 7)
        );
        assert_eq!(
            ok("tcp://[::ffff:127.0.0.1]:9"),
            tcp(TcpHost::Ip("::ffff:127.0.0.1".parse().unwrap()), 9)
        );
    }

    #[test]
    fn tcp_hostnames() {
        assert_eq!(
            ok("tcp://localhost:5555"),
            tcp(TcpHost::Name("localhost".into()), 5555)
        );
        assert_eq!(
            ok("tcp://my-host_1.example.com:80"),
            tcp(TcpHost::Name("my-host_1.example.com".into()), 80)
        );
        assert_eq!(
            ok("tcp://example.com.:80"),
            tcp(TcpHost::Name("example.com.".into()), 80)
        );
    }

    #[test]
    fn tcp_rejections() {
        assert!(reason("tcp://:5555").contains("empty host"));
        assert!(reason("tcp://[]:5555").contains("empty host"));
        assert!(reason("tcp://").contains("missing host"));
        assert!(reason("tcp://127.0.0.1").contains("missing `:port`"));
        assert!(reason("tcp://127.0.0.1:").contains("missing port"));
        assert!(reason("tcp://[::1]").contains("missing port"));
        assert!(reason("tcp://[::1]5555").contains("expected `:port`"));
        assert!(reason("tcp://[::1:5555").contains("unterminated"));
        assert!(reason("tcp://[zz]:5555").contains("not an IPv6 address"));
        assert!(reason("tcp://[fe80::1%eth0]:5555").contains("zone ids"));
        assert!(reason("tcp://fe80::1%eth0:5555").contains("zone ids"));
        assert!(reason("tcp://1:2:3:4").contains("IPv6"));
        assert!(reason("tcp://127.0.0.1:65536").contains("port out of range"));
        assert!(reason("tcp://127.0.0.1:99999999999999999999").contains("port out of range"));
        assert!(reason("tcp://127.0.0.1:abc").contains("port is not a number"));
        assert!(reason("tcp://127.0.0.1:-1").contains("port is not a number"));
        assert!(reason("tcp://127.0.0.1:+1").contains("port is not a number"));
        assert!(reason("tcp://127.0.0.1: 5").contains("port is not a number"));
        assert!(reason("tcp://127.0.0.1:5x").contains("port is not a number"));
        assert!(reason("tcp://eth0;127.0.0.1:5555").contains("interface names"));
        assert!(reason("tcp://;127.0.0.1:5555").contains("empty source"));
        assert!(reason("tcp://127.0.0.1:x;127.0.0.1:5555").contains("port is not a number"));
        assert!(reason("tcp://[::1];127.0.0.1:5555").contains("different IP versions"));
        assert!(reason("tcp://[::1;[::1]:5").contains("unterminated"));
        assert!(reason("tcp://127.0.0.1;127.0.0.1").contains("missing `:port`"));
        assert!(reason("tcp://ho st:1").contains("neither an IP"));
        assert!(reason("tcp://a..b:1").contains("neither an IP"));
        assert!(reason("tcp://.:1").contains("neither an IP"));
        assert!(reason("tcp://héllo:1").contains("neither an IP"));
        assert!(reason("tcp://a/b:1").contains("neither an IP"));
        let long_label = format!("tcp://{}.com:1", "a".repeat(64));
        assert!(reason(&long_label).contains("neither an IP"));
        let long_host = format!("tcp://{}:1", ["abc"; 70].join("."));
        assert!(reason(&long_host).contains("253"));
    }

    #[test]
    fn ipc_forms() {
        assert_eq!(
            ok("ipc:///tmp/a.sock"),
            Endpoint::Ipc(PathBuf::from("/tmp/a.sock"))
        );
        assert_eq!(
            ok("ipc://relative/a.sock"),
            Endpoint::Ipc(PathBuf::from("relative/a.sock"))
        );
        let star = ok("ipc://*");
        assert_eq!(star, Endpoint::Ipc(PathBuf::from("*")));
        let Endpoint::Ipc(p) = &star else {
            unreachable!()
        };
        assert!(ipc_is_wildcard(p));
        assert!(!ipc_is_wildcard(Path::new("/tmp/*")));
        assert_eq!(ipc_abstract_name(Path::new("/tmp/x")), None);
    }

    #[cfg(any(target_os = "linux", target_os = "android"))]
    #[test]
    fn ipc_abstract() {
        let ep = ok("ipc://@ringmq-test");
        let Endpoint::Ipc(p) = &ep else {
            unreachable!()
        };
        assert_eq!(ipc_abstract_name(p), Some(&b"ringmq-test"[..]));
        assert!(reason("ipc://@").contains("empty abstract"));
        let max = format!("ipc://@{}", "n".repeat(SUN_PATH_LEN - 1));
        ok(&max);
        let over = format!("ipc://@{}", "n".repeat(SUN_PATH_LEN));
        assert!(reason(&over).contains("abstract IPC name longer"));
    }

    #[test]
    fn ipc_rejections() {
        assert!(reason("ipc://").contains("empty IPC path"));
        let max = format!("ipc:///{}", "p".repeat(SUN_PATH_LEN - 2));
        ok(&max);
        let over = format!("ipc:///{}", "p".repeat(SUN_PATH_LEN - 1));
        assert!(reason(&over).contains("sun_path"));
    }

    #[test]
    fn inproc_forms() {
        assert_eq!(ok("inproc://a"), Endpoint::Inproc("a".into()));
        assert_eq!(
            ok("inproc://with spaces/and:colons*"),
            Endpoint::Inproc("with spaces/and:colons*".into())
        );
        let max = format!("inproc://{}", "x".repeat(MAX_INPROC_NAME_LEN));
        ok(&max);
        let over = format!("inproc://{}", "x".repeat(MAX_INPROC_NAME_LEN + 1));
        assert!(reason(&over).contains("256"));
        assert!(reason("inproc://").contains("empty inproc"));
    }

    #[test]
    fn general_rejections() {
        for s in [
            "udp://127.0.0.1:5555",
            "pgm://eth0;239.192.1.1:5555",
            "epgm://eth0;239.192.1.1:5555",
            "norm://1.2.3.4:5",
            "ws://127.0.0.1:5555",
            "wss://127.0.0.1:5555",
            "tipc://{5560,0,0}",
            "vmci://1:2",
        ] {
            assert!(
                reason(s).starts_with("transport not supported"),
                "{s}: {}",
                reason(s)
            );
        }
        assert!(reason("http://x:1").starts_with("transport not supported"));
        assert!(reason("TCP://127.0.0.1:1").starts_with("transport not supported"));
        assert!(reason("127.0.0.1:5555").contains("missing `://`"));
        assert!(reason("tcp:/127.0.0.1:5555").contains("missing `://`"));
        assert!(reason("").contains("missing `://`"));
        assert!(reason("garbage").contains("missing `://`"));
        assert!(reason("://x").contains("missing transport"));
        assert!(reason("tcp://127.0.0.1:55\x0055").contains("NUL"));
        assert!(reason("inproc://a\0b").contains("NUL"));
        let huge = format!("inproc://{}", "x".repeat(MAX_ENDPOINT_LEN));
        assert!(reason(&huge).contains("4096"));
    }

    #[test]
    fn error_message_is_bounded() {
        let huge = format!("inproc://{}", "é".repeat(MAX_ENDPOINT_LEN));
        let err = Endpoint::parse(&huge).unwrap_err();
        let Error::InvalidEndpoint { endpoint, .. } = &err else {
            unreachable!()
        };
        assert!(endpoint.len() < 200);
        assert!(err.to_string().contains("longer than 4096"));
    }

    #[test]
    fn display_roundtrips() {
        for s in [
            "tcp://127.0.0.1:5555",
            "tcp://*:5555",
            "tcp://127.0.0.1:*",
            "tcp://*:*",
            "tcp://*:0",
            "tcp://[::1]:5555",
            "tcp://::1:5555",
            "tcp://[::]:*",
            "tcp://localhost:5555",
            "ipc:///tmp/x.sock",
            "ipc://rel/x",
            "ipc://*",
            "inproc://name",
        ] {
            roundtrip(s);
        }
        assert_eq!(ok("tcp://*:0").to_string(), "tcp://*:*");
        assert_eq!(ok("tcp://::1:5555").to_string(), "tcp://[::1]:5555");
        assert_eq!(ok("tcp://[::1]:5555").to_string(), "tcp://[::1]:5555");
        assert_eq!(ok("ipc:///tmp/x.sock").to_string(), "ipc:///tmp/x.sock");
        assert_eq!(ok("inproc://name").to_string(), "inproc://name");
        assert_eq!(ok("tcp://localhost:1").scheme(), "tcp");
        assert_eq!(ok("ipc://x").scheme(), "ipc");
        assert_eq!(ok("inproc://x").scheme(), "inproc");
    }

    #[test]
    fn from_str_matches_parse() {
        let a: Endpoint = "tcp://127.0.0.1:1".parse().unwrap();
        assert_eq!(a, Endpoint::parse("tcp://127.0.0.1:1").unwrap());
        assert!("nope".parse::<Endpoint>().is_err());
    }
}
