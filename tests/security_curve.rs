//! The CURVE mechanism on sockets (CurveZMQ, RFC 26), ringmq on both ends.
//! Built with the `curve` feature: `cargo test --features curve --test
//! security_curve`. (The libzmq the `zmq` crate builds has no CURVE, so
//! wire compatibility is checked against pyzmq by `tests/curve_pyzmq.py`.)
#![cfg(feature = "curve")]

mod common;

use std::io::{Read, Write};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{sock, wait_for_event, WAIT};
use ringmq::zmtp::{AuthStatus, CurveKeyPair, Mechanism};
use ringmq::{Context, MonitorEventKind, SocketType};

#[test]
fn curve_req_rep_multipart_and_user_id() {
    let ctx = Context::new();
    let server_keys = CurveKeyPair::generate().unwrap();
    let client_keys = CurveKeyPair::generate().unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let seen2 = seen.clone();
    let server = sock(&ctx, SocketType::Rep);
    server
        .set_mechanism(Mechanism::curve_server_with(
            server_keys.clone(),
            move |c| {
                seen2.lock().unwrap().push(*c.client_key);
                Ok(ringmq::zmtp::z85_encode(c.client_key).unwrap())
            },
        ))
        .unwrap();
    let ep = server.bind("tcp://127.0.0.1:*").unwrap();
    let client = sock(&ctx, SocketType::Req);
    client.set_routing_id(&b"curvy"[..]).unwrap();
    client
        .set_mechanism(Mechanism::curve_client(
            client_keys.clone(),
            *server_keys.public(),
        ))
        .unwrap();
    client.connect(&ep).unwrap();

    // Small, empty and large frames, several round trips: nonces advance
    // on both sides and every frame is sealed and opened.
    let big = vec![0xA5u8; 300_000];
    for round in 0..5u8 {
        client
            .send_multipart([vec![round], Vec::new(), big.clone()])
            .unwrap();
        let got = server.recv_multipart().unwrap();
        assert_eq!(got.len(), 3);
        assert_eq!(&got[0][..], &[round]);
        assert!(got[1].is_empty());
        assert_eq!(&got[2][..], &big[..]);
        assert_eq!(
            server.last_message_property("User-Id").as_deref(),
            Some(client_keys.public_z85().as_str())
        );
        assert_eq!(
            server.last_message_property("Identity").as_deref(),
            Some("curvy")
        );
        server.send(format!("reply {round}")).unwrap();
        assert_eq!(
            &client.recv().unwrap()[..],
            format!("reply {round}").as_bytes()
        );
    }
    assert_eq!(*seen.lock().unwrap(), vec![*client_keys.public()]);
}

#[test]
fn curve_pub_sub_subscriptions_travel_sealed() {
    let ctx = Context::new();
    let server_keys = CurveKeyPair::generate().unwrap();
    let publisher = sock(&ctx, SocketType::Pub);
    publisher
        .set_mechanism(Mechanism::curve_server(server_keys.clone()))
        .unwrap();
    let ep = publisher.bind("tcp://127.0.0.1:*").unwrap();
    let sub = sock(&ctx, SocketType::Sub);
    sub.set_mechanism(Mechanism::curve_client(
        CurveKeyPair::generate().unwrap(),
        *server_keys.public(),
    ))
    .unwrap();
    sub.subscribe(b"a").unwrap();
    sub.connect(&ep).unwrap();
    // The SUBSCRIBE command reaches the publisher only once it has been
    // opened: until then nothing matches and sends are dropped.
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        publisher.send("b-not-this").unwrap();
        publisher.send("a-this").unwrap();
        if let Ok(m) = sub.recv_timeout(Duration::from_millis(20)) {
            assert_eq!(&m[..], b"a-this");
            break;
        }
        assert!(std::time::Instant::now() < deadline, "no message passed");
    }
}

#[test]
fn curve_refusals_wrong_server_key_and_denied_client() {
    let ctx = Context::new();
    let server_keys = CurveKeyPair::generate().unwrap();
    let server = ctx.socket(SocketType::Pull).unwrap();
    server
        .set_mechanism(Mechanism::curve_server_with(server_keys.clone(), |_| {
            Err(AuthStatus::DENIED)
        }))
        .unwrap();
    let mut mon = server.monitor().unwrap();
    let ep = server.bind("tcp://127.0.0.1:*").unwrap();

    // A client that has the right server key but is denied: ERROR 400.
    let denied = sock(&ctx, SocketType::Push);
    denied
        .set_mechanism(Mechanism::curve_client(
            CurveKeyPair::generate().unwrap(),
            *server_keys.public(),
        ))
        .unwrap();
    let mut denied_mon = denied.monitor().unwrap();
    denied.connect(&ep).unwrap();
    let ev = wait_for_event(&mut mon, MonitorEventKind::HandshakeFailedAuth);
    assert_eq!(ev.status, Some(400));
    let ev = wait_for_event(&mut denied_mon, MonitorEventKind::HandshakeFailedAuth);
    assert_eq!(ev.status, Some(400));

    // A client with a wrong server key: the HELLO does not open.
    let lost = sock(&ctx, SocketType::Push);
    lost.set_mechanism(Mechanism::curve_client(
        CurveKeyPair::generate().unwrap(),
        *CurveKeyPair::generate().unwrap().public(),
    ))
    .unwrap();
    lost.connect(&ep).unwrap();
    let ev = wait_for_event(&mut mon, MonitorEventKind::HandshakeFailed);
    let detail = ev.detail.unwrap_or_default();
    assert!(detail.contains("HELLO"), "{detail}");
    drop(denied);
    drop(lost);
    assert!(server.recv_timeout(Duration::from_millis(50)).is_err());
}

/// A man in the middle that flips one bit of the first sealed MESSAGE
/// after the handshake: the receiver must refuse it, not deliver it.
#[test]
fn curve_altered_message_is_refused() {
    let ctx = Context::new();
    let server_keys = CurveKeyPair::generate().unwrap();
    let server = ctx.socket(SocketType::Pull).unwrap();
    server
        .set_mechanism(Mechanism::curve_server(server_keys.clone()))
        .unwrap();
    let mut mon = server.monitor().unwrap();
    let ep = server.bind("tcp://127.0.0.1:*").unwrap();
    let server_addr = ep.trim_start_matches("tcp://").to_string();

    let relay = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let relay_addr = relay.local_addr().unwrap();
    let t = std::thread::spawn(move || {
        let (mut from_client, _) = relay.accept().unwrap();
        let mut to_server = std::net::TcpStream::connect(&server_addr).unwrap();
        let mut back = to_server.try_clone().unwrap();
        let mut client_back = from_client.try_clone().unwrap();
        std::thread::spawn(move || {
            let mut b = [0u8; 4096];
            while let Ok(n) = back.read(&mut b) {
                if n == 0 || client_back.write_all(&b[..n]).is_err() {
                    break;
                }
            }
        });
        // Client to server: greeting 64, HELLO 202, INITIATE; then the
        // first MESSAGE, whose last byte (inside the box) is flipped.
        let mut all = Vec::new();
        let mut b = [0u8; 4096];
        let mut flipped = false;
        while let Ok(n) = from_client.read(&mut b) {
            if n == 0 {
                break;
            }
            all.extend_from_slice(&b[..n]);
            let mut out = b[..n].to_vec();
            if !flipped {
                if let Some(at) = find(&all, b"\x07MESSAGE") {
                    // Frame: 2-byte header, 8 name, 8 nonce, 16 tag, text.
                    let end = at + 8 + 8 + 16 + 1 + b"sealed".len();
                    if all.len() >= end {
                        let in_chunk = end - 1 - (all.len() - n);
                        out[in_chunk] ^= 1;
                        flipped = true;
                    }
                }
            }
            if to_server.write_all(&out).is_err() {
                break;
            }
        }
    });

    let client = sock(&ctx, SocketType::Push);
    client
        .set_mechanism(Mechanism::curve_client(
            CurveKeyPair::generate().unwrap(),
            *server_keys.public(),
        ))
        .unwrap();
    client
        .set_reconnect_ivl(Some(Duration::from_secs(60)))
        .unwrap();
    client.connect(&format!("tcp://{relay_addr}")).unwrap();
    client.send("sealed").unwrap();
    let ev = wait_for_event(&mut mon, MonitorEventKind::Disconnected);
    assert!(ev.endpoint.starts_with("tcp://"));
    assert!(server.recv_timeout(Duration::from_millis(50)).is_err());
    drop(client);
    drop(ctx);
    t.join().unwrap();
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

#[test]
fn curve_keys_round_trip_through_z85() {
    let k = CurveKeyPair::generate().unwrap();
    let again = CurveKeyPair::from_secret_z85(&k.secret_z85()).unwrap();
    assert_eq!(again, k);
    // libzmq's test keys (tests/testutil_security.hpp): the public key of
    // this secret key.
    let server = CurveKeyPair::from_secret_z85("JTKVSB%%)wK0E.X)V>+}o?pNmC{O&4W4b!Ni{Lh6").unwrap();
    assert_eq!(
        server.public_z85(),
        "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7"
    );
    assert!(CurveKeyPair::from_secret_z85("short").is_err());
    assert!(format!("{k:?}").contains(&k.public_z85()));
    assert!(!format!("{k:?}").contains(&k.secret_z85()));
}
