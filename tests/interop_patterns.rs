//! Every socket pattern against real libzmq (the `zmq` crate), in both
//! directions: PUB/SUB filtering, XPUB subscriptions, ROUTER/DEALER ids,
//! ROUTER_MANDATORY, REQ/REP with multipart bodies, heartbeats. Every wait
//! is bounded (RCVTIMEO/SNDTIMEO); nothing depends on timing to pass.

mod common;

use common::{
    null_greeting, raw_peer, ready_command, short_frame, sock, strs, unused_tcp_endpoint,
    wait_for_event, zsock, WAIT,
};

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use ringmq::{Context, Error, Msg, SocketType};

fn zbind(s: &zmq::Socket) -> String {
    s.bind("tcp://127.0.0.1:*").unwrap();
    s.get_last_endpoint().unwrap().unwrap()
}

fn zstrs(parts: &[Vec<u8>]) -> Vec<String> {
    parts
        .iter()
        .map(|m| String::from_utf8_lossy(m).into_owned())
        .collect()
}

const TOPICS: [&str; 7] = ["a.1", "c.1", "b.y", "b.x1", "a", "a.2", "end"];
const WANTED: [&str; 4] = ["a.1", "b.x1", "a.2", "end"];

#[test]
fn ringmq_pub_to_libzmq_sub_filters() {
    let ctx = Context::new();
    let publ = sock(&ctx, SocketType::Pub);
    let ep = publ.bind("tcp://127.0.0.1:*").unwrap();
    let z = zmq::Context::new();
    let sub = zsock(&z, zmq::SUB);
    for t in ["sync", "a.", "b.x", "end"] {
        sub.set_subscribe(t.as_bytes()).unwrap();
    }
    sub.connect(&ep).unwrap();
    sub.set_rcvtimeo(10).unwrap();
    let mut synced = false;
    for _ in 0..1000 {
        publ.send("sync").unwrap();
        if sub.recv_bytes(0).is_ok() {
            synced = true;
            break;
        }
    }
    assert!(synced, "libzmq SUB's subscriptions never arrived");
    while sub.recv_bytes(0).is_ok() {}
    sub.set_rcvtimeo(WAIT.as_millis() as i32).unwrap();
    for t in TOPICS {
        publ.send(t).unwrap();
    }
    let got: Vec<String> = (0..WANTED.len())
        .map(|_| String::from_utf8(sub.recv_bytes(0).unwrap()).unwrap())
        .collect();
    assert_eq!(got, WANTED);
}

#[test]
fn libzmq_pub_to_ringmq_sub_filters() {
    let z = zmq::Context::new();
    let publ = zsock(&z, zmq::PUB);
    let ep = zbind(&publ);
    let ctx = Context::new();
    let sub = sock(&ctx, SocketType::Sub);
    for t in ["sync", "a.", "b.x", "end"] {
        sub.subscribe(t).unwrap();
    }
    sub.connect(&ep).unwrap();
    let mut synced = false;
    for _ in 0..1000 {
        publ.send("sync", 0).unwrap();
        if sub.recv_timeout(Duration::from_millis(10)).is_ok() {
            synced = true;
            break;
        }
    }
    assert!(synced, "ringmq SUB's subscriptions never reached libzmq");
    while sub.recv_timeout(Duration::from_millis(20)).is_ok() {}
    for t in TOPICS {
        publ.send(t, 0).unwrap();
    }
    let got: Vec<String> = (0..WANTED.len())
        .map(|_| String::from_utf8(sub.recv().unwrap().to_vec()).unwrap())
        .collect();
    assert_eq!(got, WANTED);
}

#[test]
fn ringmq_xpub_receives_libzmq_sub_subscribe_and_unsubscribe() {
    let ctx = Context::new();
    let xpub = sock(&ctx, SocketType::XPub);
    let ep = xpub.bind("tcp://127.0.0.1:*").unwrap();
    let z = zmq::Context::new();
    let sub = zsock(&z, zmq::SUB);
    sub.connect(&ep).unwrap();
    sub.set_subscribe(b"weather").unwrap();
    assert_eq!(&xpub.recv().unwrap()[..], b"\x01weather");
    xpub.send("weather: sun").unwrap();
    assert_eq!(sub.recv_bytes(0).unwrap(), b"weather: sun");
    sub.set_unsubscribe(b"weather").unwrap();
    assert_eq!(&xpub.recv().unwrap()[..], b"\x00weather");
}

#[test]
fn libzmq_xpub_receives_ringmq_xsub_and_sub() {
    let z = zmq::Context::new();
    let xpub = zsock(&z, zmq::XPUB);
    let ep = zbind(&xpub);
    let ctx = Context::new();
    let sub = sock(&ctx, SocketType::Sub);
    sub.connect(&ep).unwrap();
    sub.subscribe("t1").unwrap();
    assert_eq!(xpub.recv_bytes(0).unwrap(), b"\x01t1");
    let xsub = sock(&ctx, SocketType::XSub);
    xsub.connect(&ep).unwrap();
    xsub.send(&b"\x01t2"[..]).unwrap();
    assert_eq!(xpub.recv_bytes(0).unwrap(), b"\x01t2");
    xpub.send("t2 data", 0).unwrap();
    assert_eq!(&xsub.recv().unwrap()[..], b"t2 data");
    sub.unsubscribe("t1").unwrap();
    assert_eq!(xpub.recv_bytes(0).unwrap(), b"\x00t1");
}

#[test]
fn xpub_verboser_with_libzmq_subs() {
    for verboser in [false, true] {
        let ctx = Context::new();
        let xpub = sock(&ctx, SocketType::XPub);
        if verboser {
            xpub.set_xpub_verboser(true).unwrap();
        } else {
            xpub.set_xpub_verbose(true).unwrap();
        }
        let ep = xpub.bind("tcp://127.0.0.1:*").unwrap();
        let z = zmq::Context::new();
        let (a, b) = (zsock(&z, zmq::SUB), zsock(&z, zmq::SUB));
        for s in [&a, &b] {
            s.connect(&ep).unwrap();
            s.set_subscribe(b"t").unwrap();
            // Both modes pass on the second subscribe of "t".
            assert_eq!(&xpub.recv().unwrap()[..], b"\x01t");
        }
        a.set_subscribe(b"only-a").unwrap();
        assert_eq!(&xpub.recv().unwrap()[..], b"\x01only-a");
        // `b` still holds "t": only VERBOSER passes `a`'s cancel on.
        a.set_unsubscribe(b"t").unwrap();
        a.set_subscribe(b"mark").unwrap();
        let mut got = vec![xpub.recv().unwrap().to_vec()];
        if verboser {
            got.push(xpub.recv().unwrap().to_vec());
        }
        let want: Vec<&[u8]> = if verboser {
            vec![b"\x00t", b"\x01mark"]
        } else {
            vec![b"\x01mark"]
        };
        assert_eq!(got, want, "verboser: {verboser}");
        // `a` leaves holding "only-a" and "mark", which nobody else holds:
        // both cancels come in either mode.
        drop(a);
        let mut got = vec![xpub.recv().unwrap().to_vec(), xpub.recv().unwrap().to_vec()];
        got.sort();
        assert_eq!(got, vec![b"\x00mark".to_vec(), b"\x00only-a".to_vec()]);
        // `b` leaves as the last holder of "t".
        drop(b);
        assert_eq!(&xpub.recv().unwrap()[..], b"\x00t");
        assert!(matches!(
            xpub.recv_timeout(Duration::from_millis(50)),
            Err(Error::Timeout)
        ));
    }
}

#[test]
fn a_cancel_of_nothing_reaches_the_application_as_in_libzmq() {
    // libzmq's XPUB passes on a cancel for a topic the peer never
    // subscribed to (XSUBs do not send those; a raw peer here does).
    let z = zmq::Context::new();
    let zxpub = zsock(&z, zmq::XPUB);
    let zep = zbind(&zxpub);
    let ctx = Context::new();
    let xpub = sock(&ctx, SocketType::XPub);
    let ep = xpub.bind("tcp://127.0.0.1:*").unwrap();
    let mut peers = Vec::new();
    // A ZMTP 3.0 peer: subscriptions travel as messages.
    let mut greeting = null_greeting();
    greeting[11] = 0;
    for e in [&zep, &ep] {
        // The handshake is over before the subscriptions arrive.
        let mut s = raw_peer(e, &greeting, "SUB");
        for m in [&b"\x00never"[..], b"\x01mark"] {
            s.write_all(&short_frame(m)).unwrap();
        }
        peers.push(s);
    }
    assert_eq!(zxpub.recv_bytes(0).unwrap(), b"\x00never");
    assert_eq!(zxpub.recv_bytes(0).unwrap(), b"\x01mark");
    assert_eq!(&xpub.recv().unwrap()[..], b"\x00never");
    assert_eq!(&xpub.recv().unwrap()[..], b"\x01mark");
}

#[test]
fn conflating_pull_and_sub_keep_the_newest_from_libzmq_peers() {
    // PUSH: a libzmq peer sends a burst and closes; once ringmq reports
    // the connection gone, only the newest message is left.
    let ctx = Context::new();
    let pull = sock(&ctx, SocketType::Pull);
    pull.set_conflate(true).unwrap();
    let mut mon = pull.monitor().unwrap();
    let ep = pull.bind("tcp://127.0.0.1:*").unwrap();
    let z = zmq::Context::new();
    let push = zsock(&z, zmq::PUSH);
    push.connect(&ep).unwrap();
    for i in 1..=3000 {
        push.send(format!("n{i}").as_bytes(), 0).unwrap();
    }
    drop(push);
    wait_for_event(&mut mon, ringmq::MonitorEventKind::Disconnected);
    assert_eq!(&pull.recv().unwrap()[..], b"n3000");
    assert!(matches!(
        pull.recv_timeout(Duration::from_millis(50)),
        Err(Error::Timeout)
    ));

    // PUB: whatever the subscriber reads along the way goes forward only,
    // and ends with the last value.
    let publ = zsock(&z, zmq::PUB);
    // No mark on the publisher, so that it drops nothing (the last value
    // included): conflation is the subscriber's.
    publ.set_sndhwm(0).unwrap();
    let pep = zbind(&publ);
    let sub = sock(&ctx, SocketType::Sub);
    sub.set_conflate(true).unwrap();
    sub.subscribe("v").unwrap();
    sub.connect(&pep).unwrap();
    // Wait for the subscription to reach the publisher.
    loop {
        publ.send("v0", 0).unwrap();
        if sub.recv_timeout(Duration::from_millis(20)).is_ok() {
            break;
        }
    }
    let n = 20_000u32;
    for i in 1..=n {
        publ.send(format!("v{i}").as_bytes(), 0).unwrap();
    }
    let mut last = 0u32;
    while last < n {
        let m = sub.recv().unwrap();
        let v: u32 = std::str::from_utf8(&m[1..]).unwrap().parse().unwrap();
        if v == 0 {
            // A warm-up message still on its way.
            assert_eq!(last, 0);
            continue;
        }
        assert!(v > last, "{v} after {last}");
        last = v;
    }
    assert!(matches!(
        sub.recv_timeout(Duration::from_millis(50)),
        Err(Error::Timeout)
    ));
}

/// Sends `n` numbered messages on a conflating socket whose connection is
/// not up yet (its peer binds later): none of the sends waits, whatever
/// SNDHWM says, and only the newest is kept for the peer.
fn queue_while_unconnected(s: &ringmq::Socket, n: u32) {
    // Without conflation a failed send must end the test, not leave the
    // context waiting to deliver what is queued.
    s.set_linger(Some(Duration::ZERO)).unwrap();
    for i in 1..=n {
        s.send_timeout(format!("m{i}"), Duration::from_secs(5))
            .expect("a conflating pipe never fills");
    }
}

#[test]
fn conflating_push_and_dealer_send_only_the_newest_to_libzmq_peers() {
    let ctx = Context::new();
    let z = zmq::Context::new();

    // PUSH: the libzmq PULL binds after the sends, so everything queued
    // waits in the pipe; only the newest message is left in it.
    let ep = unused_tcp_endpoint();
    let push = sock(&ctx, SocketType::Push);
    push.set_conflate(true).unwrap();
    assert!(push.conflate());
    // Far below the number of messages queued: conflation is why nothing
    // waits.
    push.set_sndhwm(10).unwrap();
    push.connect(&ep).unwrap();
    queue_while_unconnected(&push, 5000);
    let pull = zsock(&z, zmq::PULL);
    pull.set_rcvtimeo(10_000).unwrap();
    pull.bind(&ep).unwrap();
    assert_eq!(pull.recv_bytes(0).unwrap(), b"m5000");
    // Nothing older follows: the next message is the next one sent.
    push.send("after").unwrap();
    assert_eq!(pull.recv_bytes(0).unwrap(), b"after");

    // DEALER, to a libzmq ROUTER binding late: the same, under the routing
    // id the ROUTER gives the connection.
    let ep = unused_tcp_endpoint();
    let dealer = sock(&ctx, SocketType::Dealer);
    dealer.set_conflate(true).unwrap();
    dealer.set_routing_id(&b"d1"[..]).unwrap();
    dealer.set_sndhwm(10).unwrap();
    dealer.connect(&ep).unwrap();
    queue_while_unconnected(&dealer, 300);
    let router = zsock(&z, zmq::ROUTER);
    router.set_rcvtimeo(10_000).unwrap();
    router.bind(&ep).unwrap();
    assert_eq!(
        router.recv_multipart(0).unwrap(),
        vec![b"d1".to_vec(), b"m300".to_vec()]
    );
    // The reply comes back through the DEALER's (conflating) inbound side.
    router.send_multipart([&b"d1"[..], b"reply"], 0).unwrap();
    assert_eq!(
        &dealer.recv_timeout(Duration::from_secs(10)).unwrap()[..],
        b"reply"
    );
}

#[test]
fn conflating_pub_sends_forward_only_and_its_last_value() {
    // The libzmq SUB reads as fast as it can; whatever the PUB had to
    // replace on the way, the values arrive in increasing order and end
    // with the last one, and no send waits.
    let ctx = Context::new();
    let z = zmq::Context::new();
    let sub = zsock(&z, zmq::SUB);
    sub.set_subscribe(b"v").unwrap();
    sub.set_rcvtimeo(10_000).unwrap();
    let ep = zbind(&sub);
    let publ = sock(&ctx, SocketType::Pub);
    publ.set_conflate(true).unwrap();
    publ.connect(&ep).unwrap();
    // Wait for the subscription to reach the publisher.
    loop {
        publ.send("v0").unwrap();
        if sub.recv_bytes(zmq::DONTWAIT).is_ok() {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let n = 50_000u32;
    for i in 1..=n {
        publ.send(format!("v{i}")).unwrap();
        // Unsubscribed topics stay filtered out.
        publ.send("x").unwrap();
    }
    let mut last = 0u32;
    while last < n {
        let m = sub.recv_bytes(0).unwrap();
        let v: u32 = std::str::from_utf8(&m[1..]).unwrap().parse().unwrap();
        if v == 0 {
            assert_eq!(last, 0, "a warm-up message after a value");
            continue;
        }
        assert!(v > last, "{v} after {last}");
        last = v;
    }
    assert!(sub.recv_bytes(zmq::DONTWAIT).is_err());
}

#[test]
fn ringmq_router_with_libzmq_dealers() {
    let ctx = Context::new();
    let router = sock(&ctx, SocketType::Router);
    let ep = router.bind("tcp://127.0.0.1:*").unwrap();
    let z = zmq::Context::new();
    let named = zsock(&z, zmq::DEALER);
    named.set_identity(b"named").unwrap();
    named.connect(&ep).unwrap();
    let anon = zsock(&z, zmq::DEALER);
    anon.connect(&ep).unwrap();
    named.send("hi from named", 0).unwrap();
    anon.send_multipart(["hi", "from anon"], 0).unwrap();
    let mut anon_id = None;
    for _ in 0..2 {
        let parts = router.recv_multipart().unwrap();
        if &parts[0][..] == b"named" {
            assert_eq!(strs(&parts[1..]), vec!["hi from named"]);
        } else {
            assert_eq!(parts[0].len(), 5, "generated ids are 5 bytes");
            assert_eq!(parts[0][0], 0, "generated ids start with a zero byte");
            assert_eq!(strs(&parts[1..]), vec!["hi", "from anon"]);
            anon_id = Some(parts[0].clone());
        }
    }
    let anon_id = anon_id.unwrap();
    router
        .send_multipart([anon_id.clone(), Msg::from("to anon")])
        .unwrap();
    router.send_multipart(["named", "to named", "2"]).unwrap();
    assert_eq!(anon.recv_bytes(0).unwrap(), b"to anon");
    assert_eq!(
        zstrs(&named.recv_multipart(0).unwrap()),
        vec!["to named", "2"]
    );
    // ROUTER_MANDATORY.
    router.send_multipart(["ghost", "dropped"]).unwrap();
    router.set_router_mandatory(true).unwrap();
    let e = router.send_multipart(["ghost", "x"]).unwrap_err();
    assert!(matches!(e.error, Error::HostUnreachable));
}

#[test]
fn libzmq_router_with_ringmq_dealers() {
    let z = zmq::Context::new();
    let router = zsock(&z, zmq::ROUTER);
    router.set_router_mandatory(true).unwrap();
    let ep = zbind(&router);
    let ctx = Context::new();
    let named = sock(&ctx, SocketType::Dealer);
    named.set_routing_id("rdealer").unwrap();
    named.connect(&ep).unwrap();
    let anon = sock(&ctx, SocketType::Dealer);
    anon.connect(&ep).unwrap();
    named.send("n").unwrap();
    anon.send("a").unwrap();
    for _ in 0..2 {
        let parts = router.recv_multipart(0).unwrap();
        if parts[1] == b"n" {
            assert_eq!(parts[0], b"rdealer");
        } else {
            assert_eq!(parts[0].len(), 5);
            assert_eq!(parts[0][0], 0);
            router
                .send_multipart([&parts[0][..], b"back to anon"], 0)
                .unwrap();
        }
    }
    router
        .send_multipart([&b"rdealer"[..], b"back", b"to named"], 0)
        .unwrap();
    assert_eq!(&anon.recv().unwrap()[..], b"back to anon");
    assert_eq!(
        strs(&named.recv_multipart().unwrap()),
        vec!["back", "to named"]
    );
}

#[test]
fn ringmq_req_to_libzmq_rep_multipart() {
    let z = zmq::Context::new();
    let rep = zsock(&z, zmq::REP);
    let ep = zbind(&rep);
    let ctx = Context::new();
    let req = sock(&ctx, SocketType::Req);
    req.connect(&ep).unwrap();
    for i in 0..20 {
        req.send_multipart([format!("q{i}"), String::new(), "tail".into()])
            .unwrap();
        let q = rep.recv_multipart(0).unwrap();
        assert_eq!(
            zstrs(&q),
            vec![format!("q{i}"), String::new(), "tail".into()]
        );
        rep.send_multipart([format!("r{i}").as_bytes(), b"more"], 0)
            .unwrap();
        assert_eq!(
            strs(&req.recv_multipart().unwrap()),
            vec![format!("r{i}"), "more".into()]
        );
    }
}

#[test]
fn libzmq_req_to_ringmq_rep_multipart() {
    let ctx = Context::new();
    let rep = sock(&ctx, SocketType::Rep);
    let ep = rep.bind("tcp://127.0.0.1:*").unwrap();
    let z = zmq::Context::new();
    let req = zsock(&z, zmq::REQ);
    req.connect(&ep).unwrap();
    for i in 0..20 {
        req.send_multipart([format!("q{i}").as_bytes(), b"x", b""], 0)
            .unwrap();
        let q = rep.recv_multipart().unwrap();
        assert_eq!(strs(&q), vec![format!("q{i}"), "x".into(), String::new()]);
        rep.send_multipart([format!("r{i}"), "y".into()]).unwrap();
        assert_eq!(
            zstrs(&req.recv_multipart(0).unwrap()),
            vec![format!("r{i}"), "y".into()]
        );
    }
}

#[test]
fn libzmq_req_through_ringmq_router_dealer_chain_to_libzmq_rep() {
    // REQ -> ringmq ROUTER | ringmq DEALER -> REP: envelopes pass through.
    let ctx = Context::new();
    let front = sock(&ctx, SocketType::Router);
    let fep = front.bind("tcp://127.0.0.1:*").unwrap();
    let back = sock(&ctx, SocketType::Dealer);
    let bep = back.bind("tcp://127.0.0.1:*").unwrap();
    let z = zmq::Context::new();
    let rep = zsock(&z, zmq::REP);
    rep.connect(&bep).unwrap();
    let req = zsock(&z, zmq::REQ);
    req.connect(&fep).unwrap();
    req.send("ping", 0).unwrap();
    let m = front.recv_multipart().unwrap();
    back.send_multipart(m).unwrap();
    assert_eq!(rep.recv_bytes(0).unwrap(), b"ping");
    rep.send("pong", 0).unwrap();
    let m = back.recv_multipart().unwrap();
    front.send_multipart(m).unwrap();
    assert_eq!(req.recv_bytes(0).unwrap(), b"pong");
}

/// Counts libzmq monitor events of one kind seen so far on `mon`.
fn drain_events(mon: &zmq::Socket) -> Vec<u16> {
    let mut kinds = Vec::new();
    while let Ok(parts) = mon.recv_multipart(zmq::DONTWAIT) {
        if parts[0].len() >= 2 {
            kinds.push(u16::from_le_bytes([parts[0][0], parts[0][1]]));
        }
    }
    kinds
}

#[test]
fn heartbeats_with_libzmq_peer_keep_the_link() {
    // libzmq pings every 50 ms and drops a peer silent for 150 ms after a
    // ping; ringmq pings too. Over a second of idleness nobody disconnects,
    // so PING/PONG flow both ways.
    let z = zmq::Context::new();
    let router = zsock(&z, zmq::ROUTER);
    router.set_heartbeat_ivl(50).unwrap();
    router.set_heartbeat_timeout(150).unwrap();
    router
        .monitor("inproc://hb-mon", zmq::SocketEvent::ALL as i32)
        .unwrap();
    let mon = z.socket(zmq::PAIR).unwrap();
    mon.connect("inproc://hb-mon").unwrap();
    let ep = zbind(&router);
    let ctx = Context::new();
    let dealer = sock(&ctx, SocketType::Dealer);
    dealer
        .set_heartbeat_ivl(Some(Duration::from_millis(50)))
        .unwrap();
    dealer
        .set_heartbeat_timeout(Some(Duration::from_millis(150)))
        .unwrap();
    dealer.set_routing_id("hb").unwrap();
    dealer.connect(&ep).unwrap();
    dealer.send("one").unwrap();
    assert_eq!(router.recv_multipart(0).unwrap()[1], b"one");
    std::thread::sleep(Duration::from_millis(1000));
    dealer.send("two").unwrap();
    assert_eq!(router.recv_multipart(0).unwrap()[1], b"two");
    router.send_multipart([&b"hb"[..], b"three"], 0).unwrap();
    assert_eq!(&dealer.recv().unwrap()[..], b"three");
    let kinds = drain_events(&mon);
    let disconnects = kinds
        .iter()
        .filter(|&&k| k == zmq::SocketEvent::DISCONNECTED as u16)
        .count();
    let accepts = kinds
        .iter()
        .filter(|&&k| k == zmq::SocketEvent::ACCEPTED as u16)
        .count();
    assert_eq!((accepts, disconnects), (1, 0), "events: {kinds:?}");
}

#[test]
fn silent_peer_is_dropped_by_heartbeat() {
    let ctx = Context::new();
    let router = sock(&ctx, SocketType::Router);
    router
        .set_heartbeat_ivl(Some(Duration::from_millis(50)))
        .unwrap();
    router
        .set_heartbeat_timeout(Some(Duration::from_millis(150)))
        .unwrap();
    let ep = router.bind("tcp://127.0.0.1:*").unwrap();
    // A raw peer that completes the ZMTP handshake as a DEALER, then reads
    // but never writes again (so it never answers a PING).
    let addr = ep.trim_start_matches("tcp://");
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(WAIT)).unwrap();
    s.write_all(&null_greeting()).unwrap();
    s.write_all(&ready_command("DEALER")).unwrap();
    // One message so the ROUTER has seen the peer.
    s.write_all(&[0, 5]).unwrap();
    s.write_all(b"hello").unwrap();
    let m = router.recv_multipart().unwrap();
    assert_eq!(&m[1][..], b"hello");
    // Read until the ROUTER closes the connection (PINGs arrive meanwhile).
    let mut buf = [0u8; 4096];
    let mut total = 0;
    loop {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => total += n,
            Err(e) => panic!("connection not closed: {e} after {total} bytes"),
        }
    }
    // Greeting (64) + READY + at least one PING.
    assert!(total > 64 + 30, "got {total} bytes");
}

#[test]
fn ringmq_xsub_xpub_proxy_between_libzmq_pub_and_sub() {
    let ctx = Context::new();
    let xsub = sock(&ctx, SocketType::XSub);
    let up = xsub.bind("tcp://127.0.0.1:*").unwrap();
    let xpub = sock(&ctx, SocketType::XPub);
    let down = xpub.bind("tcp://127.0.0.1:*").unwrap();
    let control = sock(&ctx, SocketType::Pair);
    control.bind("inproc://interop-proxy-ctl").unwrap();
    let steer = sock(&ctx, SocketType::Pair);
    steer.connect("inproc://interop-proxy-ctl").unwrap();
    let proxy = std::thread::spawn(move || ringmq::proxy_steerable(&xsub, &xpub, None, &control));

    let z = zmq::Context::new();
    let publ = zsock(&z, zmq::PUB);
    publ.connect(&up).unwrap();
    let sub = zsock(&z, zmq::SUB);
    sub.set_subscribe(b"news").unwrap();
    sub.connect(&down).unwrap();
    // The subscription travels SUB -> XPUB -> proxy -> XSUB -> PUB; until it
    // has arrived, the PUB drops.
    sub.set_rcvtimeo(10).unwrap();
    let mut synced = false;
    for _ in 0..1000 {
        publ.send("news: sync", 0).unwrap();
        if sub.recv_bytes(0).is_ok() {
            synced = true;
            break;
        }
    }
    assert!(synced, "subscription never crossed the proxy");
    while sub.recv_bytes(0).is_ok() {}
    sub.set_rcvtimeo(WAIT.as_millis() as i32).unwrap();
    publ.send("sports: no", 0).unwrap();
    publ.send("news: yes", 0).unwrap();
    assert_eq!(sub.recv_bytes(0).unwrap(), b"news: yes");
    steer.send("TERMINATE").unwrap();
    proxy.join().unwrap().unwrap();
}

#[test]
fn ringmq_req_to_libzmq_router_envelope() {
    let z = zmq::Context::new();
    let router = zsock(&z, zmq::ROUTER);
    let ep = zbind(&router);
    let ctx = Context::new();
    let req = sock(&ctx, SocketType::Req);
    req.set_routing_id("rq").unwrap();
    req.connect(&ep).unwrap();
    req.send_multipart(["a", "b"]).unwrap();
    let m = router.recv_multipart(0).unwrap();
    assert_eq!(zstrs(&m), vec!["rq", "", "a", "b"]);
    router
        .send_multipart([&b"rq"[..], b"", b"reply"], 0)
        .unwrap();
    assert_eq!(&req.recv().unwrap()[..], b"reply");
}

#[test]
fn libzmq_dealer_to_ringmq_rep_and_ringmq_dealer_to_libzmq_rep() {
    let ctx = Context::new();
    let rep = sock(&ctx, SocketType::Rep);
    let ep = rep.bind("tcp://127.0.0.1:*").unwrap();
    let z = zmq::Context::new();
    let dealer = zsock(&z, zmq::DEALER);
    dealer.connect(&ep).unwrap();
    dealer.send_multipart([&b""[..], b"q1", b"q2"], 0).unwrap();
    assert_eq!(strs(&rep.recv_multipart().unwrap()), vec!["q1", "q2"]);
    rep.send("r").unwrap();
    assert_eq!(zstrs(&dealer.recv_multipart(0).unwrap()), vec!["", "r"]);

    let zrep = zsock(&z, zmq::REP);
    let zep = zbind(&zrep);
    let rdealer = sock(&ctx, SocketType::Dealer);
    rdealer.connect(&zep).unwrap();
    rdealer.send_multipart(["", "hello"]).unwrap();
    assert_eq!(zrep.recv_bytes(0).unwrap(), b"hello");
    zrep.send("world", 0).unwrap();
    assert_eq!(strs(&rdealer.recv_multipart().unwrap()), vec!["", "world"]);
}

#[test]
fn libzmq_xsub_to_ringmq_xpub() {
    let ctx = Context::new();
    let xpub = sock(&ctx, SocketType::XPub);
    let ep = xpub.bind("tcp://127.0.0.1:*").unwrap();
    let z = zmq::Context::new();
    let xsub = zsock(&z, zmq::XSUB);
    xsub.connect(&ep).unwrap();
    xsub.send(&b"\x01prices"[..], 0).unwrap();
    assert_eq!(&xpub.recv().unwrap()[..], b"\x01prices");
    xpub.send("prices: up").unwrap();
    xpub.send("news: none").unwrap();
    xpub.send("prices: down").unwrap();
    assert_eq!(xsub.recv_bytes(0).unwrap(), b"prices: up");
    assert_eq!(xsub.recv_bytes(0).unwrap(), b"prices: down");
    xsub.send(&b"\x00prices"[..], 0).unwrap();
    assert_eq!(&xpub.recv().unwrap()[..], b"\x00prices");
}

#[test]
fn probe_router_both_ways_with_libzmq() {
    // A ringmq DEALER's probe reaches a libzmq ROUTER before any message.
    let zctx = zmq::Context::new();
    let zrouter = zsock(&zctx, zmq::ROUTER);
    let ep = zbind(&zrouter);
    let ctx = Context::new();
    let dealer = sock(&ctx, SocketType::Dealer);
    dealer.set_routing_id("ringmq-dealer").unwrap();
    dealer.set_probe_router(true).unwrap();
    dealer.connect(&ep).unwrap();
    let probe = zrouter.recv_multipart(0).unwrap();
    assert_eq!(zstrs(&probe), ["ringmq-dealer", ""]);
    zrouter
        .send_multipart(["ringmq-dealer", "hello"], 0)
        .unwrap();
    assert_eq!(&dealer.recv().unwrap()[..], b"hello");

    // A libzmq ROUTER's probe reaches a ringmq ROUTER, which can answer it.
    let router = sock(&ctx, SocketType::Router);
    let ep = router.bind("tcp://127.0.0.1:*").unwrap();
    let zclient = zsock(&zctx, zmq::ROUTER);
    zclient.set_identity(b"zmq-router").unwrap();
    zclient.set_probe_router(true).unwrap();
    zclient.connect(&ep).unwrap();
    let probe = router.recv_multipart().unwrap();
    assert_eq!(strs(&probe), ["zmq-router", ""]);
    router
        .send_multipart([&b"zmq-router"[..], b"welcome"])
        .unwrap();
    let reply = zclient.recv_multipart(0).unwrap();
    assert_eq!(reply[1], b"welcome");
    zrouter.set_linger(0).unwrap();
    zclient.set_linger(0).unwrap();
}

#[test]
fn router_handover_gives_the_id_to_the_newer_libzmq_peer() {
    let zctx = zmq::Context::new();
    for handover in [true, false] {
        let ctx = Context::new();
        let router = sock(&ctx, SocketType::Router);
        router.set_router_handover(handover).unwrap();
        router.set_router_mandatory(true).unwrap();
        let ep = router.bind("tcp://127.0.0.1:*").unwrap();
        let first = zsock(&zctx, zmq::DEALER);
        first.set_identity(b"worker").unwrap();
        first.set_reconnect_ivl(-1).unwrap();
        first.connect(&ep).unwrap();
        first.send("first", 0).unwrap();
        assert_eq!(strs(&router.recv_multipart().unwrap()), ["worker", "first"]);

        let second = zsock(&zctx, zmq::DEALER);
        second.set_identity(b"worker").unwrap();
        second.connect(&ep).unwrap();
        second.send("second", 0).unwrap();
        let got = router.recv_multipart().unwrap();
        assert_eq!(&got[1][..], b"second");
        if handover {
            assert_eq!(&got[0][..], b"worker");
        } else {
            assert_ne!(&got[0][..], b"worker", "the id stays with the first peer");
        }
        router
            .send_multipart([&b"worker"[..], b"for the worker"])
            .unwrap();
        let (gets, not) = if handover {
            (&second, &first)
        } else {
            (&first, &second)
        };
        assert_eq!(gets.recv_bytes(0).unwrap(), b"for the worker");
        not.set_rcvtimeo(200).unwrap();
        assert!(not.recv_bytes(0).is_err(), "handover {handover}");
        if handover {
            // The first peer's connection was closed: what it sends now
            // goes nowhere, and the router does not hear it.
            let _ = first.send("after the handover", zmq::DONTWAIT);
            assert!(matches!(
                router.recv_timeout(Duration::from_millis(200)),
                Err(Error::Timeout | Error::WouldBlock)
            ));
        }
        first.set_linger(0).unwrap();
        second.set_linger(0).unwrap();
    }
}

#[test]
fn xpub_nodrop_holds_messages_for_a_slow_libzmq_sub() {
    let ctx = Context::new();
    let publ = sock(&ctx, SocketType::Pub);
    publ.set_sndhwm(4).unwrap();
    publ.set_sndbuf(Some(16 * 1024)).unwrap();
    publ.set_xpub_nodrop(true).unwrap();
    let ep = publ.bind("tcp://127.0.0.1:*").unwrap();
    let zctx = zmq::Context::new();
    let sub = zsock(&zctx, zmq::SUB);
    sub.set_rcvhwm(4).unwrap();
    sub.set_rcvbuf(16 * 1024).unwrap();
    sub.set_subscribe(b"").unwrap();
    sub.connect(&ep).unwrap();
    // Publish markers until the subscription is in.
    loop {
        publ.send(&[0xFF][..]).unwrap();
        if sub.recv_bytes(zmq::DONTWAIT).is_ok() {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    // Then numbered messages until the subscriber, which reads nothing, is
    // full: the send then fails rather than drop.
    let body = vec![7u8; 16 * 1024];
    let mut sent = 0u32;
    loop {
        let mut m = sent.to_be_bytes().to_vec();
        m.extend_from_slice(&body);
        match publ.try_send(m) {
            Ok(()) => sent += 1,
            Err(e) => {
                assert!(matches!(e.error, Error::WouldBlock), "{:?}", e.error);
                break;
            }
        }
        assert!(sent < 1_000_000, "never full");
    }
    // A blocking send waits for room instead of dropping.
    let sender = std::thread::spawn(move || {
        publ.send(sent.to_be_bytes().to_vec()).unwrap();
        publ
    });
    // Every numbered message arrives, in order, none missing.
    let mut expect = 0;
    while expect <= sent {
        let m = sub.recv_bytes(0).unwrap();
        if m == [0xFF] {
            continue;
        }
        assert_eq!(u32::from_be_bytes(m[..4].try_into().unwrap()), expect);
        expect += 1;
    }
    let _publ = sender.join().unwrap();
}

#[test]
fn xpub_welcome_message_both_ways_with_libzmq() {
    let ctx = Context::new();
    let zctx = zmq::Context::new();
    // A ringmq XPUB greets a libzmq SUB.
    let xpub = sock(&ctx, SocketType::XPub);
    xpub.set_xpub_welcome_msg(Some("WELCOME".into())).unwrap();
    let ep = xpub.bind("tcp://127.0.0.1:*").unwrap();
    let zsub = zsock(&zctx, zmq::SUB);
    zsub.set_subscribe(b"WELCOME").unwrap();
    zsub.connect(&ep).unwrap();
    assert_eq!(&xpub.recv().unwrap()[..], b"\x01WELCOME");
    assert_eq!(zsub.recv_bytes(0).unwrap(), b"WELCOME");
    // A libzmq XPUB greets a ringmq SUB.
    let zxpub = zsock(&zctx, zmq::XPUB);
    zxpub.set_xpub_welcome_msg(Some("HELLO")).unwrap();
    let ep = zbind(&zxpub);
    let sub = sock(&ctx, SocketType::Sub);
    sub.subscribe("HELLO").unwrap();
    sub.connect(&ep).unwrap();
    assert_eq!(zxpub.recv_bytes(0).unwrap(), b"\x01HELLO");
    assert_eq!(&sub.recv().unwrap()[..], b"HELLO");
    let s = ctx.socket(SocketType::Sub).unwrap();
    assert!(matches!(
        s.set_xpub_welcome_msg(Some("x".into())),
        Err(Error::NotSupported(_))
    ));
    zsub.set_linger(0).unwrap();
    zxpub.set_linger(0).unwrap();
}

#[test]
fn connect_routing_id_names_a_libzmq_router_peer() {
    let zctx = zmq::Context::new();
    let zserver = zsock(&zctx, zmq::ROUTER);
    zserver.set_identity(b"announced").unwrap();
    let ep = zbind(&zserver);
    let ctx = Context::new();
    let client = sock(&ctx, SocketType::Router);
    client.set_routing_id("client").unwrap();
    client.set_router_mandatory(true).unwrap();
    client.set_connect_routing_id("server-1").unwrap();
    client.connect(&ep).unwrap();
    // Routable at once under the id given, before the connection is up.
    client.send_multipart([&b"server-1"[..], b"hello"]).unwrap();
    assert_eq!(
        zstrs(&zserver.recv_multipart(0).unwrap()),
        ["client", "hello"]
    );
    zserver.send_multipart(["client", "back"], 0).unwrap();
    assert_eq!(
        strs(&client.recv_multipart().unwrap()),
        ["server-1", "back"]
    );
    // The id is used up by that connect; while the peer has it, it cannot
    // be given again.
    assert!(client.options().connect_routing_id.is_none());
    client.set_connect_routing_id("server-1").unwrap();
    assert!(matches!(
        client.connect(&ep),
        Err(Error::InvalidOption { .. })
    ));
    let dealer = ctx.socket(SocketType::Dealer).unwrap();
    assert!(matches!(
        dealer.set_connect_routing_id("x"),
        Err(Error::NotSupported(_))
    ));
    assert!(matches!(
        client.set_connect_routing_id(&b"\0x"[..]),
        Err(Error::InvalidOption { .. })
    ));
    zserver.set_linger(0).unwrap();
}

#[test]
fn xpub_manual_grants_subscriptions_per_libzmq_peer() {
    let ctx = Context::new();
    let xpub = sock(&ctx, SocketType::XPub);
    xpub.set_xpub_manual(true).unwrap();
    // Nothing received yet: nobody to subscribe for.
    assert!(matches!(xpub.subscribe("x"), Err(Error::WrongState(_))));
    let ep = xpub.bind("tcp://127.0.0.1:*").unwrap();
    let zctx = zmq::Context::new();
    let alice = zsock(&zctx, zmq::SUB);
    alice.set_subscribe(b"news").unwrap();
    alice.connect(&ep).unwrap();
    // Every subscription reaches the application, duplicates included.
    assert_eq!(&xpub.recv().unwrap()[..], b"\x01news");
    xpub.subscribe("news.public").unwrap();
    let bob = zsock(&zctx, zmq::SUB);
    bob.set_subscribe(b"news").unwrap();
    bob.connect(&ep).unwrap();
    assert_eq!(&xpub.recv().unwrap()[..], b"\x01news");
    xpub.subscribe("news").unwrap();
    for m in ["news.secret", "news.public", "other"] {
        xpub.send(m).unwrap();
    }
    // Alice was granted the public news only, Bob all news.
    assert_eq!(alice.recv_bytes(0).unwrap(), b"news.public");
    assert_eq!(bob.recv_bytes(0).unwrap(), b"news.secret");
    assert_eq!(bob.recv_bytes(0).unwrap(), b"news.public");
    alice.set_rcvtimeo(100).unwrap();
    bob.set_rcvtimeo(100).unwrap();
    assert!(alice.recv_bytes(0).is_err());
    assert!(bob.recv_bytes(0).is_err());
    // Bob's cancel reaches the application, which revokes his grant.
    bob.set_unsubscribe(b"news").unwrap();
    assert_eq!(&xpub.recv().unwrap()[..], b"\x00news");
    xpub.unsubscribe("news").unwrap();
    xpub.send("news.public").unwrap();
    assert_eq!(alice.recv_bytes(0).unwrap(), b"news.public");
    assert!(bob.recv_bytes(0).is_err());
    let plain = ctx.socket(SocketType::XPub).unwrap();
    assert!(matches!(plain.subscribe("x"), Err(Error::NotSupported(_))));
    let publ = ctx.socket(SocketType::Pub).unwrap();
    assert!(matches!(
        publ.set_xpub_manual(true),
        Err(Error::NotSupported(_))
    ));
    alice.set_linger(0).unwrap();
    bob.set_linger(0).unwrap();
}

#[test]
fn connects_from_a_source_address_both_ways() {
    let ctx = Context::new();
    let z = zmq::Context::new();
    // ringmq connects from 127.0.0.2 to a libzmq PULL.
    let zpull = zsock(&z, zmq::PULL);
    zpull.set_rcvtimeo(10_000).unwrap();
    let zep = zbind(&zpull);
    let port = zep.rsplit(':').next().unwrap();
    let push = sock(&ctx, SocketType::Push);
    push.connect(&format!("tcp://127.0.0.2;127.0.0.1:{port}"))
        .unwrap();
    push.send("from 127.0.0.2").unwrap();
    assert_eq!(zpull.recv_bytes(0).unwrap(), b"from 127.0.0.2");
    // libzmq connects from 127.0.0.2 to a ringmq PULL.
    let pull = sock(&ctx, SocketType::Pull);
    let ep = pull.bind("tcp://127.0.0.1:*").unwrap();
    let port = ep.rsplit(':').next().unwrap();
    let zpush = zsock(&z, zmq::PUSH);
    zpush
        .connect(&format!("tcp://127.0.0.2:0;127.0.0.1:{port}"))
        .unwrap();
    zpush.send("to ringmq", 0).unwrap();
    assert_eq!(&pull.recv_timeout(WAIT).unwrap()[..], b"to ringmq");
}

#[test]
fn metadata_reaches_libzmq_and_ringmq_peers() {
    let ctx = Context::new();
    let z = zmq::Context::new();
    let push = sock(&ctx, SocketType::Push);
    push.set_metadata("X-Service", "billing").unwrap();
    push.set_metadata("X-Region", "eu-1").unwrap();
    // Replaced, not added twice.
    push.set_metadata("X-Region", "eu-2").unwrap();
    for (name, value) in [("Service", "x"), ("X-Bad Name", "x"), ("X-Empty", "")] {
        assert!(
            matches!(
                push.set_metadata(name, value),
                Err(Error::InvalidOption { .. })
            ),
            "{name:?}={value:?}"
        );
    }

    // libzmq reads them as message properties.
    let zpull = zsock(&z, zmq::PULL);
    zpull.set_rcvtimeo(10_000).unwrap();
    let zep = zbind(&zpull);
    push.connect(&zep).unwrap();
    push.send("to libzmq").unwrap();
    let mut m = zpull.recv_msg(0).unwrap();
    assert_eq!(&m[..], b"to libzmq");
    assert_eq!(m.gets("X-Service"), Some("billing"));
    assert_eq!(m.gets("X-Region"), Some("eu-2"));
    assert_eq!(m.gets("Socket-Type"), Some("PUSH"));

    // And so does ringmq.
    let pull = sock(&ctx, SocketType::Pull);
    let ep = pull.bind("tcp://127.0.0.1:*").unwrap();
    let push2 = sock(&ctx, SocketType::Push);
    push2.set_metadata("X-Service", "search").unwrap();
    push2.connect(&ep).unwrap();
    push2.send("to ringmq").unwrap();
    assert_eq!(&pull.recv_timeout(WAIT).unwrap()[..], b"to ringmq");
    assert_eq!(
        pull.last_message_property("x-service").as_deref(),
        Some("search")
    );
    assert_eq!(pull.last_message_property("X-Region"), None);
}

#[test]
fn binds_to_a_network_interface_by_name() {
    // libzmq resolves interface names where it was built with getifaddrs
    // (not the build the `zmq` crate makes here, which refuses `lo`).
    let ctx = Context::new();
    let z = zmq::Context::new();
    let pull = sock(&ctx, SocketType::Pull);
    let ep = pull.bind("tcp://lo:*").unwrap();
    assert!(ep.starts_with("tcp://127.0.0.1:"), "{ep}");
    let push = zsock(&z, zmq::PUSH);
    push.connect(&ep).unwrap();
    push.send("over lo", 0).unwrap();
    assert_eq!(&pull.recv_timeout(WAIT).unwrap()[..], b"over lo");
    // A name that is no interface is still looked up as a host name.
    let pull2 = sock(&ctx, SocketType::Pull);
    assert!(pull2
        .bind("tcp://localhost:*")
        .unwrap()
        .starts_with("tcp://127.0.0.1:"));
}
