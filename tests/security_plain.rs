//! The PLAIN mechanism on sockets (RFC 24): ringmq on both ends, and libzmq
//! as the client or as the server (with a ZAP handler in its context).

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::{sock, wait_for_event, zsock, WAIT};
use ringmq::zmtp::{AuthStatus, Mechanism};
use ringmq::{Context, Error, MonitorEventKind, SocketType};

/// A PLAIN server that admits `admin`/`secret` and counts the checks.
fn admin_only(checks: Arc<AtomicUsize>) -> Mechanism {
    Mechanism::plain_server(move |c| {
        checks.fetch_add(1, Ordering::SeqCst);
        if c.username == b"admin" && c.password == b"secret" {
            Ok("admin".to_string())
        } else {
            Err(AuthStatus::DENIED)
        }
    })
}

#[test]
fn plain_client_and_server_exchange_messages() {
    let ctx = Context::new();
    let checks = Arc::new(AtomicUsize::new(0));
    let server = sock(&ctx, SocketType::Rep);
    server.set_mechanism(admin_only(checks.clone())).unwrap();
    let ep = server.bind("tcp://127.0.0.1:*").unwrap();
    let client = sock(&ctx, SocketType::Req);
    client
        .set_mechanism(Mechanism::plain_client("admin", "secret"))
        .unwrap();
    client.connect(&ep).unwrap();
    client.send("ping").unwrap();
    assert_eq!(&server.recv().unwrap()[..], b"ping");
    server.send("pong").unwrap();
    assert_eq!(&client.recv().unwrap()[..], b"pong");
    assert_eq!(checks.load(Ordering::SeqCst), 1);
}

#[test]
fn plain_server_refuses_bad_credentials_and_null_clients() {
    let ctx = Context::new();
    let checks = Arc::new(AtomicUsize::new(0));
    let server = ctx.socket(SocketType::Pull).unwrap();
    server.set_mechanism(admin_only(checks.clone())).unwrap();
    let mut mon = server.monitor().unwrap();
    let ep = server.bind("tcp://127.0.0.1:*").unwrap();

    let wrong = sock(&ctx, SocketType::Push);
    wrong
        .set_mechanism(Mechanism::plain_client("admin", "guess"))
        .unwrap();
    let mut wrong_mon = wrong.monitor().unwrap();
    wrong.connect(&ep).unwrap();
    wrong.send("from the wrong password").unwrap();
    let ev = wait_for_event(&mut mon, MonitorEventKind::HandshakeFailedAuth);
    let detail = ev.detail.unwrap();
    assert!(detail.contains("400"), "server side: {detail}");
    assert_eq!(ev.status, Some(400));
    let ev = wait_for_event(&mut wrong_mon, MonitorEventKind::HandshakeFailedAuth);
    let detail = ev.detail.unwrap();
    assert!(detail.contains("400"), "client side: {detail}");
    assert_eq!(ev.status, Some(400));

    let null = sock(&ctx, SocketType::Push);
    null.connect(&ep).unwrap();
    null.send("from a NULL client").unwrap();
    let detail = wait_for_event(&mut mon, MonitorEventKind::HandshakeFailed)
        .detail
        .unwrap();
    assert!(detail.to_lowercase().contains("mechanism"), "{detail}");

    // Neither message got through; a good client's does.
    assert!(matches!(
        server.recv_timeout(Duration::from_millis(300)),
        Err(Error::WouldBlock | Error::Timeout)
    ));
    let good = sock(&ctx, SocketType::Push);
    good.set_mechanism(Mechanism::plain_client("admin", "secret"))
        .unwrap();
    good.connect(&ep).unwrap();
    good.send("from admin").unwrap();
    assert_eq!(&server.recv_timeout(WAIT).unwrap()[..], b"from admin");
    // The refused clients keep retrying (as libzmq's do); their queued
    // messages are dropped with them.
    wrong.set_linger(Some(Duration::ZERO)).unwrap();
    null.set_linger(Some(Duration::ZERO)).unwrap();
    assert!(checks.load(Ordering::SeqCst) >= 2);
}

#[test]
fn plain_credentials_longer_than_255_bytes_are_refused() {
    let ctx = Context::new();
    let s = ctx.socket(SocketType::Dealer).unwrap();
    let long = "u".repeat(256);
    assert!(matches!(
        s.set_mechanism(Mechanism::plain_client(long.clone(), "p")),
        Err(Error::InvalidOption { .. })
    ));
    assert!(matches!(
        s.set_mechanism(Mechanism::plain_client("u", long)),
        Err(Error::InvalidOption { .. })
    ));
    assert!(matches!(s.mechanism(), Mechanism::Null));
    s.set_mechanism(Mechanism::plain_client("u".repeat(255), ""))
        .unwrap();
    assert!(matches!(s.mechanism(), Mechanism::PlainClient { .. }));
}

#[test]
fn libzmq_plain_client_against_a_ringmq_plain_server() {
    let ctx = Context::new();
    let checks = Arc::new(AtomicUsize::new(0));
    let server = sock(&ctx, SocketType::Router);
    server.set_mechanism(admin_only(checks.clone())).unwrap();
    let mut mon = server.monitor().unwrap();
    let ep = server.bind("tcp://127.0.0.1:*").unwrap();

    let zctx = zmq::Context::new();
    let bad = zsock(&zctx, zmq::DEALER);
    bad.set_plain_username(Some("admin")).unwrap();
    bad.set_plain_password(Some("nope")).unwrap();
    bad.connect(&ep).unwrap();
    bad.send("refused", 0).unwrap();
    let ev = wait_for_event(&mut mon, MonitorEventKind::HandshakeFailedAuth);
    let detail = ev.detail.unwrap();
    assert!(detail.contains("400"), "{detail}");
    assert_eq!(ev.status, Some(400));

    let good = zsock(&zctx, zmq::DEALER);
    good.set_identity(b"zmq-admin").unwrap();
    good.set_plain_username(Some("admin")).unwrap();
    good.set_plain_password(Some("secret")).unwrap();
    good.connect(&ep).unwrap();
    good.send_multipart(["hello", "world"], 0).unwrap();
    let parts = server.recv_multipart().unwrap();
    assert_eq!(common::strs(&parts), ["zmq-admin", "hello", "world"]);
    server
        .send_multipart([&b"zmq-admin"[..], b"welcome"])
        .unwrap();
    assert_eq!(good.recv_bytes(0).unwrap(), b"welcome");
    bad.set_linger(0).unwrap();
    good.set_linger(0).unwrap();
}

#[test]
fn ringmq_plain_client_against_a_libzmq_plain_server_with_zap() {
    let zctx = zmq::Context::new();
    // libzmq's PLAIN server asks the ZAP handler bound in its context.
    let zap = zsock(&zctx, zmq::REP);
    zap.bind("inproc://zeromq.zap.01").unwrap();
    let handler = std::thread::spawn(move || {
        let mut seen = Vec::new();
        // Two requests: the refused client's, then the admitted one's.
        for _ in 0..2 {
            let req = zap.recv_multipart(0).unwrap();
            let text: Vec<String> = req
                .iter()
                .map(|f| String::from_utf8_lossy(f).into_owned())
                .collect();
            let ok = text[5] == "PLAIN" && text[6] == "admin" && text[7] == "secret";
            let (code, status) = if ok { ("200", "OK") } else { ("400", "no") };
            zap.send_multipart(
                [
                    req[0].as_slice(),
                    req[1].as_slice(),
                    code.as_bytes(),
                    status.as_bytes(),
                    b"admin",
                    b"",
                ],
                0,
            )
            .unwrap();
            seen.push((text[6].clone(), text[7].clone()));
        }
        seen
    });
    let server = zsock(&zctx, zmq::PULL);
    server.set_plain_server(true).unwrap();
    server.bind("tcp://127.0.0.1:*").unwrap();
    let ep = server.get_last_endpoint().unwrap().unwrap();

    let ctx = Context::new();
    let wrong = sock(&ctx, SocketType::Push);
    wrong
        .set_mechanism(Mechanism::plain_client("admin", "guess"))
        .unwrap();
    wrong.set_reconnect_ivl(None).unwrap();
    let mut wrong_mon = wrong.monitor().unwrap();
    wrong.connect(&ep).unwrap();
    wrong.send("refused").unwrap();
    let ev = wait_for_event(&mut wrong_mon, MonitorEventKind::HandshakeFailedAuth);
    let detail = ev.detail.unwrap();
    assert!(detail.contains("400"), "{detail}");
    assert_eq!(ev.status, Some(400));

    let client = sock(&ctx, SocketType::Push);
    client
        .set_mechanism(Mechanism::plain_client("admin", "secret"))
        .unwrap();
    client.connect(&ep).unwrap();
    client.send("admitted").unwrap();
    assert_eq!(server.recv_bytes(0).unwrap(), b"admitted");
    let seen = handler.join().unwrap();
    assert_eq!(
        seen,
        [
            ("admin".to_string(), "guess".to_string()),
            ("admin".to_string(), "secret".to_string())
        ]
    );
    wrong.set_linger(Some(Duration::ZERO)).unwrap();
    server.set_linger(0).unwrap();
}

#[test]
fn a_panicking_authenticator_refuses_the_peer_and_the_socket_carries_on() {
    let ctx = Context::new();
    let server = sock(&ctx, SocketType::Pull);
    server
        .set_mechanism(Mechanism::plain_server(|c| {
            if c.username == b"boom" {
                panic!("authenticator bug");
            }
            Ok(String::from_utf8_lossy(c.username).into_owned())
        }))
        .unwrap();
    let mut mon = server.monitor().unwrap();
    let ep = server.bind("tcp://127.0.0.1:*").unwrap();
    let bad = sock(&ctx, SocketType::Push);
    bad.set_mechanism(Mechanism::plain_client("boom", ""))
        .unwrap();
    bad.set_reconnect_ivl(None).unwrap();
    bad.connect(&ep).unwrap();
    let ev = wait_for_event(&mut mon, MonitorEventKind::HandshakeFailedAuth);
    let detail = ev.detail.unwrap();
    assert!(detail.contains("500"), "{detail}");
    assert_eq!(ev.status, Some(500));
    let good = sock(&ctx, SocketType::Push);
    good.set_mechanism(Mechanism::plain_client("alice", ""))
        .unwrap();
    good.connect(&ep).unwrap();
    good.send("still served").unwrap();
    assert_eq!(&server.recv().unwrap()[..], b"still served");
}

#[test]
fn each_message_tells_its_peers_user_id_and_identity() {
    let ctx = Context::new();
    let server = sock(&ctx, SocketType::Router);
    server
        .set_mechanism(Mechanism::plain_server(|c| {
            match (c.username, c.password) {
                (b"alice", b"a-pass") => Ok("user-alice".to_string()),
                (b"bob", b"b-pass") => Ok("user-bob".to_string()),
                _ => Err(AuthStatus::DENIED),
            }
        }))
        .unwrap();
    let ep = server.bind("tcp://127.0.0.1:*").unwrap();
    assert!(server.last_message_peer().is_none(), "nothing received yet");

    // alice on ringmq, bob on libzmq.
    let alice = sock(&ctx, SocketType::Dealer);
    alice
        .set_mechanism(Mechanism::plain_client("alice", "a-pass"))
        .unwrap();
    alice.set_routing_id(&b"A"[..]).unwrap();
    alice.connect(&ep).unwrap();
    let zctx = zmq::Context::new();
    let bob = zsock(&zctx, zmq::DEALER);
    bob.set_identity(b"B").unwrap();
    bob.set_plain_username(Some("bob")).unwrap();
    bob.set_plain_password(Some("b-pass")).unwrap();
    bob.connect(&ep).unwrap();

    for round in 0..3 {
        alice.send(format!("from A {round}")).unwrap();
        bob.send(format!("from B {round}").as_bytes(), 0).unwrap();
        for _ in 0..2 {
            let parts = server.recv_multipart().unwrap();
            let id = String::from_utf8(parts[0].to_vec()).unwrap();
            let user = match id.as_str() {
                "A" => "user-alice",
                "B" => "user-bob",
                other => panic!("unexpected routing id {other:?}"),
            };
            assert!(parts[1].starts_with(format!("from {id}").as_bytes()));
            let prop = |name| server.last_message_property(name);
            assert_eq!(prop("User-Id").as_deref(), Some(user));
            assert_eq!(prop("identity").as_deref(), Some(id.as_str()));
            assert_eq!(prop("Routing-Id").as_deref(), Some(id.as_str()));
            assert_eq!(prop("Socket-Type").as_deref(), Some("DEALER"));
            assert_eq!(prop("Peer-Address").as_deref(), Some("127.0.0.1"));
            assert_eq!(prop("X-Unknown"), None);
            let peer = server.last_message_peer().unwrap();
            assert_eq!(peer.user_id.as_deref(), Some(user));
        }
    }
    bob.set_linger(0).unwrap();
}
