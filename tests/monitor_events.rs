//! Monitor events: their order over connect, disconnect and reconnect, on
//! both the connecting and the binding side, and a failed handshake.

mod common;

use common::{null_greeting, ready_command, WAIT};

use std::io::Write;
use std::net::TcpStream;
use std::time::Duration;

use ringmq::{Context, Monitor, MonitorEventKind as K, SocketType};

fn next_kind(mon: &mut Monitor, skip: &[K]) -> (K, String) {
    loop {
        let ev = mon.recv_timeout(WAIT).expect("monitor event");
        if !skip.contains(&ev.kind) {
            return (ev.kind, ev.endpoint);
        }
    }
}

#[test]
fn connect_disconnect_reconnect_order() {
    let ctx = Context::new();
    let router = ctx.socket(SocketType::Router).unwrap();
    let mut bmon = router.monitor().unwrap();
    let ep = router.bind("tcp://127.0.0.1:*").unwrap();
    assert_eq!(next_kind(&mut bmon, &[]), (K::Listening, ep.clone()));

    let dealer = ctx.socket(SocketType::Dealer).unwrap();
    dealer
        .set_reconnect_ivl(Some(Duration::from_millis(20)))
        .unwrap();
    let mut cmon = dealer.monitor().unwrap();
    dealer.connect(&ep).unwrap();
    // Connecting side: (delayed) connected, handshake.
    let retry = [K::ConnectDelayed, K::ConnectRetried];
    assert_eq!(next_kind(&mut cmon, &retry), (K::Connected, ep.clone()));
    assert_eq!(next_kind(&mut cmon, &retry).0, K::HandshakeSucceeded);
    // Binding side: accepted, handshake.
    assert_eq!(next_kind(&mut bmon, &[]), (K::Accepted, ep.clone()));
    assert_eq!(next_kind(&mut bmon, &[]).0, K::HandshakeSucceeded);

    // The binder goes away: the connecter sees the disconnect, then retries.
    drop(router);
    assert_eq!(next_kind(&mut bmon, &[K::Disconnected]).0, K::Closed);
    assert_eq!(next_kind(&mut cmon, &[]), (K::Disconnected, ep.clone()));
    assert_eq!(
        next_kind(&mut cmon, &[K::ConnectDelayed]).0,
        K::ConnectRetried
    );

    // A new binder on the same port: the connecter reconnects.
    let router = ctx.socket(SocketType::Router).unwrap();
    let mut rebound = false;
    for _ in 0..200 {
        if router.bind(&ep).is_ok() {
            rebound = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(rebound);
    assert_eq!(next_kind(&mut cmon, &retry), (K::Connected, ep.clone()));
    assert_eq!(next_kind(&mut cmon, &retry).0, K::HandshakeSucceeded);
    dealer.send("after reconnect").unwrap();
    router.set_rcvtimeo(Some(WAIT)).unwrap();
    let m = router.recv_multipart().unwrap();
    assert_eq!(&m[1][..], b"after reconnect");
}

#[test]
fn handshake_failure_is_reported_with_a_reason() {
    let ctx = Context::new();
    let pull = ctx.socket(SocketType::Pull).unwrap();
    let mut mon = pull.monitor().unwrap();
    let ep = pull.bind("tcp://127.0.0.1:*").unwrap();
    let mut s = TcpStream::connect(ep.trim_start_matches("tcp://")).unwrap();
    // Not a ZMTP greeting.
    s.write_all(&[0x01; 64]).unwrap();
    let (k, _) = next_kind(&mut mon, &[K::Listening, K::Accepted]);
    assert_eq!(k, K::HandshakeFailed);
    assert_eq!(next_kind(&mut mon, &[]).0, K::Disconnected);
}

#[test]
fn bind_failure_is_reported() {
    let ctx = Context::new();
    let a = ctx.socket(SocketType::Pull).unwrap();
    let ep = a.bind("tcp://127.0.0.1:*").unwrap();
    let b = ctx.socket(SocketType::Pull).unwrap();
    let mut mon = b.monitor().unwrap();
    assert!(b.bind(&ep).is_err());
    let ev = mon.recv_timeout(WAIT).unwrap();
    assert_eq!(ev.kind, K::BindFailed);
    assert!(ev.detail.is_some());
}

/// A raw server that accepts connections, completes the ZMTP handshake as a
/// ROUTER, then never writes again. Returns its endpoint and a thread that
/// counts the connections it accepted (ending after `n`).
fn silent_router(n: usize) -> (String, std::thread::JoinHandle<usize>) {
    use std::io::Read;
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let ep = format!("tcp://{}", l.local_addr().unwrap());
    let t = std::thread::spawn(move || {
        let mut conns = Vec::new();
        for _ in 0..n {
            let (mut s, _) = l.accept().unwrap();
            s.set_read_timeout(Some(WAIT)).unwrap();
            s.write_all(&null_greeting()).unwrap();
            s.write_all(&ready_command("ROUTER")).unwrap();
            let mut buf = [0u8; 64];
            s.read_exact(&mut buf).unwrap();
            // Keep the stream open (and silent) until the end.
            conns.push(s);
        }
        conns.len()
    });
    (ep, t)
}

#[test]
fn silent_peer_dropped_by_heartbeat_and_reconnected() {
    let (ep, server) = silent_router(2);
    let ctx = Context::new();
    let dealer = ctx.socket(SocketType::Dealer).unwrap();
    dealer
        .set_heartbeat_ivl(Some(Duration::from_millis(30)))
        .unwrap();
    dealer
        .set_heartbeat_timeout(Some(Duration::from_millis(90)))
        .unwrap();
    dealer
        .set_reconnect_ivl(Some(Duration::from_millis(20)))
        .unwrap();
    let mut mon = dealer.monitor().unwrap();
    dealer.connect(&ep).unwrap();
    let skip = [K::ConnectDelayed, K::ConnectRetried];
    assert_eq!(next_kind(&mut mon, &skip).0, K::Connected);
    assert_eq!(next_kind(&mut mon, &skip).0, K::HandshakeSucceeded);
    // No PONG ever comes back: the connection is dropped...
    assert_eq!(next_kind(&mut mon, &skip).0, K::Disconnected);
    // ...and made again.
    assert_eq!(next_kind(&mut mon, &skip).0, K::Connected);
    assert_eq!(next_kind(&mut mon, &skip).0, K::HandshakeSucceeded);
    assert_eq!(server.join().unwrap(), 2);
}

#[test]
fn connect_timeout_gives_up_on_a_peer_that_does_not_answer_and_retries() {
    use socket2::{Domain, Socket, Type};
    // A listener with a backlog of 0 whose accept queue holds one
    // connection it has not accepted: Linux drops further SYNs, so a
    // connect to it stays in progress (for minutes, left to the system).
    let l = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
    let any: std::net::SocketAddr = "127.0.0.1:0".parse().unwrap();
    l.bind(&any.into()).unwrap();
    l.listen(0).unwrap();
    let addr = l.local_addr().unwrap().as_socket().unwrap();
    let _queued = TcpStream::connect(addr).unwrap();

    let ctx = Context::new();
    let dealer = ctx.socket(SocketType::Dealer).unwrap();
    dealer
        .set_reconnect_ivl(Some(Duration::from_millis(20)))
        .unwrap();
    assert!(dealer.set_connect_timeout(Some(Duration::ZERO)).is_err());
    dealer
        .set_connect_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    assert_eq!(dealer.connect_timeout(), Some(Duration::from_millis(100)));
    let mut mon = dealer.monitor().unwrap();
    let ep = format!("tcp://{addr}");
    dealer.connect(&ep).unwrap();
    // Each attempt is given up at the timeout and retried.
    let mut retried = 0;
    while retried < 3 {
        match next_kind(&mut mon, &[K::ConnectDelayed]) {
            (K::ConnectRetried, e) => {
                assert_eq!(e, ep);
                retried += 1;
            }
            other => panic!("unexpected event {other:?}"),
        }
    }
    // Once the queue has room, the next attempt connects.
    let (_accepted, _) = l.accept().unwrap();
    assert_eq!(
        next_kind(&mut mon, &[K::ConnectDelayed, K::ConnectRetried]),
        (K::Connected, ep)
    );
}
