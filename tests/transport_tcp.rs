//! TCP transport through real loopback sockets and a mio `Poll`.
//!
//! Waits are bounded (a generous deadline only turns a hang into a failure);
//! no test measures time.

use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token};
use ringmq::transport::{
    bind_tcp, configure_stream, connect_tcp, resolve_endpoint_string, transport_error, Endpoint,
    LocalAddr, TcpEndpoint, TcpOptions,
};

const LISTENER: Token = Token(0);
const CLIENT: Token = Token(1);
const SERVER: Token = Token(2);
const DEADLINE: Duration = Duration::from_secs(20);

fn tcp_ep(s: &str) -> TcpEndpoint {
    match Endpoint::parse(s).unwrap() {
        Endpoint::Tcp(t) => t,
        other => panic!("not tcp: {other:?}"),
    }
}

/// Polls until `token` reports readiness accepted by `want`, or panics at
/// the deadline.
fn wait_for(poll: &mut Poll, token: Token, want: impl Fn(&mio::event::Event) -> bool) {
    let start = Instant::now();
    let mut events = Events::with_capacity(16);
    loop {
        let left = DEADLINE
            .checked_sub(start.elapsed())
            .unwrap_or_else(|| panic!("no readiness for {token:?} within {DEADLINE:?}"));
        match poll.poll(&mut events, Some(left)) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => panic!("poll: {e}"),
        }
        if events.iter().any(|e| e.token() == token && want(e)) {
            return;
        }
    }
}

fn accept(poll: &mut Poll, listener: &TcpListener) -> (TcpStream, SocketAddr) {
    loop {
        match listener.accept() {
            Ok(pair) => return pair,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                wait_for(poll, LISTENER, |e| e.is_readable());
            }
            Err(e) => panic!("accept: {e}"),
        }
    }
}

fn write_all(poll: &mut Poll, token: Token, stream: &mut TcpStream, mut buf: &[u8]) {
    while !buf.is_empty() {
        match stream.write(buf) {
            Ok(0) => panic!("write returned 0"),
            Ok(n) => buf = &buf[n..],
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                wait_for(poll, token, |e| e.is_writable());
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => panic!("write: {e}"),
        }
    }
}

fn read_exact(poll: &mut Poll, token: Token, stream: &mut TcpStream, len: usize) -> Vec<u8> {
    let mut out = vec![0u8; len];
    let mut got = 0;
    while got < len {
        match stream.read(&mut out[got..]) {
            Ok(0) => panic!("peer closed after {got} of {len} bytes"),
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                wait_for(poll, token, |e| e.is_readable());
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => panic!("read: {e}"),
        }
    }
    out
}

/// Connects to `listener`'s address, accepts, and sends bytes both ways
/// (more than one socket buffer's worth client→server).
fn exchange(listener: TcpListener, connect_to: &str, opts: &TcpOptions) {
    let mut poll = Poll::new().unwrap();
    let mut listener = listener;
    poll.registry()
        .register(&mut listener, LISTENER, Interest::READABLE)
        .unwrap();
    let mut client = connect_tcp(&tcp_ep(connect_to), opts).unwrap();
    poll.registry()
        .register(&mut client, CLIENT, Interest::READABLE | Interest::WRITABLE)
        .unwrap();
    let (mut server, peer) = accept(&mut poll, &listener);
    configure_stream(&server, opts).unwrap();
    assert!(server.nodelay().unwrap(), "accepted stream has TCP_NODELAY");
    poll.registry()
        .register(&mut server, SERVER, Interest::READABLE | Interest::WRITABLE)
        .unwrap();

    wait_for(&mut poll, CLIENT, |e| e.is_writable());
    assert!(client.take_error().unwrap().is_none());
    // A dual-stack listener sees an IPv4 client as `::ffff:a.b.c.d`.
    let canonical = |a: SocketAddr| SocketAddr::new(a.ip().to_canonical(), a.port());
    assert_eq!(canonical(client.local_addr().unwrap()), canonical(peer));
    assert!(
        client.nodelay().unwrap(),
        "connected stream has TCP_NODELAY"
    );

    let payload: Vec<u8> = (0..1_000_000u32).map(|i| (i % 251) as u8).collect();
    // Write and read in slices so neither side's buffers can deadlock us.
    let mut received = Vec::with_capacity(payload.len());
    for chunk in payload.chunks(64 * 1024) {
        write_all(&mut poll, CLIENT, &mut client, chunk);
        received.extend(read_exact(&mut poll, SERVER, &mut server, chunk.len()));
    }
    assert!(received == payload, "bytes arrive intact and in order");

    write_all(&mut poll, SERVER, &mut server, b"pong");
    assert_eq!(read_exact(&mut poll, CLIENT, &mut client, 4), b"pong");
}

#[test]
fn ephemeral_ipv4_bind_connect_exchange() {
    let opts = TcpOptions::default();
    let ep = Endpoint::parse("tcp://127.0.0.1:*").unwrap();
    let Endpoint::Tcp(tcp) = &ep else {
        unreachable!()
    };
    let (listener, addr) = bind_tcp(tcp, &opts).unwrap();
    assert!(addr.ip().is_loopback());
    assert_ne!(addr.port(), 0, "the OS picked a port");
    let last = resolve_endpoint_string(&ep, &LocalAddr::Tcp(addr));
    assert_eq!(last, format!("tcp://127.0.0.1:{}", addr.port()));
    exchange(listener, &last, &opts);
}

#[test]
fn wildcard_host_reports_0_0_0_0_and_serves_loopback() {
    let opts = TcpOptions::default();
    let ep = Endpoint::parse("tcp://*:*").unwrap();
    let Endpoint::Tcp(tcp) = &ep else {
        unreachable!()
    };
    let (listener, addr) = bind_tcp(tcp, &opts).unwrap();
    let last = resolve_endpoint_string(&ep, &addr.into());
    assert_eq!(last, format!("tcp://0.0.0.0:{}", addr.port()));
    exchange(listener, &format!("tcp://127.0.0.1:{}", addr.port()), &opts);
}

#[test]
fn hostname_bind_and_connect() {
    let opts = TcpOptions::default();
    let (listener, addr) = bind_tcp(&tcp_ep("tcp://localhost:*"), &opts).unwrap();
    assert!(addr.is_ipv4() && addr.ip().is_loopback(), "{addr}");
    exchange(listener, &format!("tcp://localhost:{}", addr.port()), &opts);
}

/// Binds `[::1]`, or returns `None` (after saying so) when this machine has
/// no IPv6 loopback.
fn bind_v6(ep: &str, opts: &TcpOptions) -> Option<(TcpListener, SocketAddr)> {
    match bind_tcp(&tcp_ep(ep), opts) {
        Ok(pair) => Some(pair),
        Err(e)
            if e.kind() == io::ErrorKind::AddrNotAvailable
                || e.raw_os_error() == Some(97) // EAFNOSUPPORT on Linux
                || e.kind() == io::ErrorKind::Unsupported =>
        {
            println!("note: skipping IPv6 part, {ep} is not available here: {e}");
            None
        }
        Err(e) => panic!("bind {ep}: {e}"),
    }
}

#[test]
fn ipv6_loopback_when_available() {
    let opts = TcpOptions::default();
    let Some((listener, addr)) = bind_v6("tcp://[::1]:*", &opts) else {
        return;
    };
    assert!(addr.is_ipv6());
    let ep = Endpoint::parse("tcp://[::1]:*").unwrap();
    let last = resolve_endpoint_string(&ep, &addr.into());
    assert_eq!(last, format!("tcp://[::1]:{}", addr.port()));
    exchange(listener, &last, &opts);
}

#[test]
fn ipv6_wildcard_is_dual_stack_when_available() {
    let opts = TcpOptions::default();
    let Some((listener, addr)) = bind_v6("tcp://[::]:*", &opts) else {
        return;
    };
    let ep = Endpoint::parse("tcp://[::]:*").unwrap();
    assert_eq!(
        resolve_endpoint_string(&ep, &addr.into()),
        format!("tcp://[::]:{}", addr.port())
    );
    // IPV6_V6ONLY is off, so an IPv4 client reaches the IPv6 listener.
    exchange(listener, &format!("tcp://127.0.0.1:{}", addr.port()), &opts);
}

#[test]
fn binding_a_port_twice_is_addr_in_use() {
    let opts = TcpOptions::default();
    let (_first, addr) = bind_tcp(&tcp_ep("tcp://127.0.0.1:*"), &opts).unwrap();
    // SO_REUSEADDR is on for both, and Linux still refuses a second listener.
    let again = format!("tcp://127.0.0.1:{}", addr.port());
    let err = bind_tcp(&tcp_ep(&again), &opts).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::AddrInUse, "{err}");
    // The wildcard address overlaps with it too.
    let wild = format!("tcp://*:{}", addr.port());
    let err = bind_tcp(&tcp_ep(&wild), &opts).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::AddrInUse, "{err}");
    // The crate error names the endpoint that was in use.
    let ep = Endpoint::parse(&wild).unwrap();
    match transport_error(&ep, err) {
        ringmq::Error::AddrInUse(s) => assert_eq!(s, wild),
        other => panic!("expected AddrInUse, got {other:?}"),
    }
}

#[test]
fn rebinding_after_close_works() {
    let opts = TcpOptions::default();
    let (first, addr) = bind_tcp(&tcp_ep("tcp://127.0.0.1:*"), &opts).unwrap();
    drop(first);
    let again = format!("tcp://127.0.0.1:{}", addr.port());
    let (_second, addr2) = bind_tcp(&tcp_ep(&again), &opts).unwrap();
    assert_eq!(addr, addr2);
}

#[test]
fn connect_to_closed_port_is_refused() {
    let opts = TcpOptions::default();
    // Take a free port, then close it so nobody listens there.
    let (listener, addr) = bind_tcp(&tcp_ep("tcp://127.0.0.1:*"), &opts).unwrap();
    drop(listener);
    let ep = tcp_ep(&format!("tcp://127.0.0.1:{}", addr.port()));
    let mut stream = match connect_tcp(&ep, &opts) {
        Err(e) => {
            // Some systems refuse on the spot; that is the same answer.
            assert_eq!(e.kind(), io::ErrorKind::ConnectionRefused, "{e}");
            return;
        }
        Ok(s) => s,
    };
    let mut poll = Poll::new().unwrap();
    poll.registry()
        .register(&mut stream, CLIENT, Interest::WRITABLE)
        .unwrap();
    wait_for(&mut poll, CLIENT, |e| e.is_writable() || e.is_error());
    let err = stream
        .take_error()
        .unwrap()
        .expect("a refused connect leaves a pending error");
    assert_eq!(err.kind(), io::ErrorKind::ConnectionRefused, "{err}");
}

#[test]
fn connect_to_unresolvable_name_fails() {
    let opts = TcpOptions::default();
    // `.invalid` is reserved (RFC 6761) and never resolves.
    let err = connect_tcp(&tcp_ep("tcp://no-such-host.invalid:5555"), &opts).unwrap_err();
    assert_ne!(err.kind(), io::ErrorKind::WouldBlock, "{err}");
}

#[test]
fn options_reach_the_socket() {
    let opts = TcpOptions {
        keepalive: Some(true),
        keepalive_idle: Some(Duration::from_secs(30)),
        keepalive_cnt: Some(4),
        keepalive_intvl: Some(Duration::from_secs(7)),
        sndbuf: Some(64 * 1024),
        rcvbuf: Some(96 * 1024),
        backlog: 5,
        ipv6: false,
        tos: Some(0x28),
        max_rt: Some(Duration::from_millis(1500)),
        bind_device: Some("lo".to_string()),
    };
    let (listener, addr) = bind_tcp(&tcp_ep("tcp://127.0.0.1:*"), &opts).unwrap();
    let stream = connect_tcp(&tcp_ep(&format!("tcp://{addr}")), &opts).unwrap();
    let sock = socket2::SockRef::from(&stream);
    assert!(sock.tcp_nodelay().unwrap());
    assert!(sock.keepalive().unwrap());
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        assert_eq!(sock.tcp_keepalive_time().unwrap(), Duration::from_secs(30));
        assert_eq!(
            sock.tcp_keepalive_interval().unwrap(),
            Duration::from_secs(7)
        );
        assert_eq!(sock.tcp_keepalive_retries().unwrap(), 4);
        assert_eq!(
            sock.tcp_user_timeout().unwrap(),
            Some(Duration::from_millis(1500))
        );
        assert_eq!(sock.device().unwrap().as_deref(), Some(&b"lo"[..]));
        let lsock = socket2::SockRef::from(&listener);
        assert_eq!(lsock.device().unwrap().as_deref(), Some(&b"lo"[..]));
    }
    // The kernel may round up (Linux doubles), never down.
    assert!(sock.send_buffer_size().unwrap() >= 64 * 1024);
    assert!(sock.recv_buffer_size().unwrap() >= 96 * 1024);
    assert_eq!(sock.tos_v4().unwrap(), 0x28);
    let lsock = socket2::SockRef::from(&listener);
    assert_eq!(lsock.tos_v4().unwrap(), 0x28);
    assert!(lsock.reuse_address().unwrap());
    assert!(lsock.recv_buffer_size().unwrap() >= 96 * 1024);

    // keepalive Some(false) switches it off; None leaves the OS default.
    let off = TcpOptions {
        keepalive: Some(false),
        ..TcpOptions::default()
    };
    configure_stream(&stream, &off).unwrap();
    assert!(!sock.keepalive().unwrap());
    configure_stream(&stream, &TcpOptions::default()).unwrap();
    assert!(
        !sock.keepalive().unwrap(),
        "None leaves the setting as it was"
    );
}

#[test]
fn tos_reaches_ipv6_sockets_as_their_traffic_class() {
    let opts = TcpOptions {
        ipv6: true,
        tos: Some(0x48),
        ..TcpOptions::default()
    };
    let (listener, addr) = bind_tcp(&tcp_ep("tcp://*:*"), &opts).unwrap();
    assert!(addr.is_ipv6(), "{addr}");
    assert_eq!(socket2::SockRef::from(&listener).tclass_v6().unwrap(), 0x48);
}

#[test]
fn ipv6_option_makes_the_wildcard_dual_stack() {
    let ctx = ringmq::Context::new();
    let pull = ctx.socket(ringmq::SocketType::Pull).unwrap();
    pull.set_rcvtimeo(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    assert!(!pull.ipv6());
    pull.set_ipv6(true).unwrap();
    assert!(pull.ipv6());
    if std::net::TcpListener::bind("[::1]:0").is_err() {
        return; // no IPv6 on this machine
    }
    let ep = pull.bind("tcp://*:*").unwrap();
    assert!(ep.starts_with("tcp://[::]:"), "{ep}");
    let port = ep.rsplit(':').next().unwrap();
    for host in ["127.0.0.1", "[::1]"] {
        let push = ctx.socket(ringmq::SocketType::Push).unwrap();
        push.set_ipv6(true).unwrap();
        push.connect(&format!("tcp://{host}:{port}")).unwrap();
        push.send(host).unwrap();
        assert_eq!(&pull.recv().unwrap()[..], host.as_bytes());
    }
}

/// `ZMQ_BINDTODEVICE` on sockets: tied to `lo`, a PUSH and a PULL talk over
/// 127.0.0.1; a device the system does not have fails the bind and the
/// connect with an error that names it.
#[cfg(any(target_os = "linux", target_os = "android"))]
#[test]
fn bind_to_device_on_sockets() {
    use ringmq::{Context, SocketType};
    let ctx = Context::new();
    let pull = ctx.socket(SocketType::Pull).unwrap();
    pull.set_bindtodevice(Some("lo")).unwrap();
    pull.set_rcvtimeo(Some(Duration::from_secs(10))).unwrap();
    let ep = pull.bind("tcp://127.0.0.1:*").unwrap();
    let push = ctx.socket(SocketType::Push).unwrap();
    push.set_bindtodevice(Some("lo")).unwrap();
    push.connect(&ep).unwrap();
    push.send("through lo").unwrap();
    assert_eq!(&pull.recv().unwrap()[..], b"through lo");

    let nowhere = ctx.socket(SocketType::Pull).unwrap();
    nowhere.set_bindtodevice(Some("nosuchdev0")).unwrap();
    let e = nowhere.bind("tcp://127.0.0.1:*").unwrap_err();
    assert!(e.to_string().contains("nosuchdev0"), "{e}");
    for bad in ["", "sixteen-chars-xx", "a b", "a/b", "a\0b"] {
        assert!(push.set_bindtodevice(Some(bad)).is_err(), "{bad:?}");
    }
    push.set_bindtodevice(None).unwrap();
    assert_eq!(push.bindtodevice(), None);
}
