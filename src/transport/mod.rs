//! Endpoints and transports: `tcp://`, `ipc://`, `inproc://`.
//!
//! This module owns turning endpoint strings into [`Endpoint`] values
//! ([`endpoint`]), and endpoints into non-blocking `mio` listeners and
//! streams: TCP through `socket2` with libzmq's options ([`tcp`]), Unix
//! domain sockets with the lifetime of their socket file ([`ipc`]). It also
//! computes the resolved endpoint string a bind reports as `last_endpoint`
//! ([`resolve_endpoint_string`]).
//!
//! It must not know about sockets, pipes or ZMTP, must not register anything
//! with a `Poll`, and must not read or write payload bytes: the reactor
//! drives what this module creates. `inproc://` endpoints are parsed here;
//! connecting them is the socket layer's business (no I/O is involved).
//!
//! The one call here that may block is host name resolution (`tcp://name:port`
//! in [`bind_tcp`] and [`connect_tcp`]), which goes through the system
//! resolver. IP literals never block.
//!
//! # Examples
//!
//! ```
//! use ringmq::transport::{bind_tcp, connect_tcp, Endpoint, TcpOptions};
//!
//! let opts = TcpOptions::default();
//! let Endpoint::Tcp(ep) = Endpoint::parse("tcp://127.0.0.1:*")? else { unreachable!() };
//! let (listener, addr) = bind_tcp(&ep, &opts)?;
//! let Endpoint::Tcp(peer) = Endpoint::parse(&format!("tcp://{addr}"))? else { unreachable!() };
//! let stream = connect_tcp(&peer, &opts)?; // completes once writable
//! # drop((listener, stream));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]

pub mod endpoint;
mod iface;
#[cfg(unix)]
pub mod ipc;
pub mod tcp;

use std::net::SocketAddr;
use std::path::PathBuf;

#[cfg(unix)]
pub use endpoint::ipc_abstract_name;
pub use endpoint::{ipc_is_wildcard, Endpoint, TcpEndpoint, TcpHost, TcpSource};
#[cfg(unix)]
pub use ipc::{bind_ipc, connect_ipc, IpcGuard};
pub use tcp::{bind_tcp, configure_stream, connect_tcp, TcpOptions};

/// Where a bind actually ended up, for [`resolve_endpoint_string`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LocalAddr {
    /// The address a TCP listener is bound to (from [`bind_tcp`]).
    Tcp(SocketAddr),
    /// The path an IPC listener is bound to (from `IpcGuard::path`).
    Ipc(PathBuf),
    /// An inproc endpoint: nothing to resolve.
    Inproc,
}

impl From<SocketAddr> for LocalAddr {
    fn from(addr: SocketAddr) -> Self {
        LocalAddr::Tcp(addr)
    }
}

/// The endpoint string a bind reports (libzmq's `ZMQ_LAST_ENDPOINT`).
///
/// For TCP this is built from the bound address, so `tcp://127.0.0.1:*`
/// becomes `tcp://127.0.0.1:43567`, `tcp://*:5555` becomes
/// `tcp://0.0.0.0:5555` (as libzmq reports it), `tcp://[::]:*` becomes
/// `tcp://[::]:43567` and a host name becomes the address it resolved to.
/// For IPC it is the path bound (the generated one for `ipc://*`). When the
/// local address does not match the endpoint's transport, the endpoint's own
/// text is returned.
///
/// # Examples
///
/// ```
/// use ringmq::transport::{resolve_endpoint_string, Endpoint, LocalAddr};
///
/// let ep = Endpoint::parse("tcp://*:*")?;
/// let bound = LocalAddr::Tcp("0.0.0.0:40001".parse().unwrap());
/// assert_eq!(resolve_endpoint_string(&ep, &bound), "tcp://0.0.0.0:40001");
///
/// let ep = Endpoint::parse("ipc://*")?;
/// let bound = LocalAddr::Ipc("/tmp/ringmq-1/socket".into());
/// assert_eq!(resolve_endpoint_string(&ep, &bound), "ipc:///tmp/ringmq-1/socket");
/// # Ok::<(), ringmq::Error>(())
/// ```
pub fn resolve_endpoint_string(ep: &Endpoint, local: &LocalAddr) -> String {
    match (ep, local) {
        // SocketAddr's Display brackets IPv6 hosts already.
        (Endpoint::Tcp(_), LocalAddr::Tcp(addr)) => format!("tcp://{addr}"),
        (Endpoint::Ipc(_), LocalAddr::Ipc(path)) => Endpoint::Ipc(path.clone()).to_string(),
        _ => ep.to_string(),
    }
}

/// Turns an I/O error from binding or connecting `ep` into the crate's
/// [`Error`](crate::Error): `AddrInUse` becomes
/// [`Error::AddrInUse`](crate::Error::AddrInUse) naming the endpoint,
/// everything else goes through the usual `From<io::Error>` conversion.
///
/// # Examples
///
/// ```
/// use ringmq::transport::{transport_error, Endpoint};
/// use std::io;
///
/// let ep = Endpoint::parse("tcp://127.0.0.1:5555")?;
/// let err = transport_error(&ep, io::ErrorKind::AddrInUse.into());
/// assert!(matches!(err, ringmq::Error::AddrInUse(ref s) if s == "tcp://127.0.0.1:5555"));
/// # Ok::<(), ringmq::Error>(())
/// ```
pub fn transport_error(ep: &Endpoint, err: std::io::Error) -> crate::Error {
    if err.kind() == std::io::ErrorKind::AddrInUse {
        crate::Error::AddrInUse(ep.to_string())
    } else {
        err.into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transport_error_mapping() {
        use std::io;
        let ep = Endpoint::parse("ipc:///tmp/x").unwrap();
        assert!(matches!(
            transport_error(&ep, io::ErrorKind::AddrInUse.into()),
            crate::Error::AddrInUse(ref s) if s == "ipc:///tmp/x"
        ));
        assert!(matches!(
            transport_error(&ep, io::ErrorKind::ConnectionRefused.into()),
            crate::Error::Io(ref e) if e.kind() == io::ErrorKind::ConnectionRefused
        ));
        assert!(matches!(
            transport_error(&ep, io::ErrorKind::WouldBlock.into()),
            crate::Error::WouldBlock
        ));
    }

    #[test]
    fn resolved_strings() {
        let ep = Endpoint::parse("tcp://127.0.0.1:*").unwrap();
        let s = resolve_endpoint_string(
            &ep,
            &"127.0.0.1:43567".parse::<SocketAddr>().unwrap().into(),
        );
        assert_eq!(s, "tcp://127.0.0.1:43567");
        let ep = Endpoint::parse("tcp://[::]:*").unwrap();
        let s = resolve_endpoint_string(&ep, &LocalAddr::Tcp("[::]:9".parse().unwrap()));
        assert_eq!(s, "tcp://[::]:9");
        assert_eq!(Endpoint::parse(&s).unwrap().to_string(), "tcp://[::]:9");
        let ep = Endpoint::parse("tcp://localhost:7").unwrap();
        let s = resolve_endpoint_string(&ep, &LocalAddr::Tcp("127.0.0.1:7".parse().unwrap()));
        assert_eq!(s, "tcp://127.0.0.1:7");
        // Mismatched kinds fall back to the endpoint's own text.
        let ep = Endpoint::parse("inproc://x").unwrap();
        assert_eq!(
            resolve_endpoint_string(&ep, &LocalAddr::Inproc),
            "inproc://x"
        );
        let ep = Endpoint::parse("ipc:///a").unwrap();
        assert_eq!(
            resolve_endpoint_string(&ep, &LocalAddr::Tcp("1.2.3.4:5".parse().unwrap())),
            "ipc:///a"
        );
    }
}
