//! The socket types among ringmq sockets: PUB/SUB filtering and drops,
//! XPUB/XSUB subscription traffic, ROUTER/DEALER routing, the REQ/REP state
//! machines, over inproc and TCP.

mod common;

use common::{sock, strs, WAIT};

use std::time::Duration;

use ringmq::{Context, Error, Msg, SocketType};

/// Publishes `probe` until the subscriber gets a message (subscriptions
/// travel asynchronously), then returns the first one received.
fn sync_pubsub(publ: &ringmq::Socket, sub: &ringmq::Socket, probe: &str) {
    for _ in 0..1000 {
        publ.send(probe).unwrap();
        if let Ok(m) = sub.recv_timeout(Duration::from_millis(10)) {
            assert_eq!(&m[..], probe.as_bytes());
            // Drain the other probes.
            while sub.recv_timeout(Duration::from_millis(20)).is_ok() {}
            return;
        }
    }
    panic!("subscription never reached the publisher");
}

fn pubsub_filters(ep: &str) {
    let ctx = Context::new();
    let publ = sock(&ctx, SocketType::Pub);
    let ep = publ.bind(ep).unwrap();
    let sub = sock(&ctx, SocketType::Sub);
    sub.subscribe("sync").unwrap();
    sub.subscribe("a.").unwrap();
    sub.subscribe("b.x").unwrap();
    sub.connect(&ep).unwrap();
    sync_pubsub(&publ, &sub, "sync");
    for t in ["a.1", "c.1", "b.y", "b.x1", "a", "a.2"] {
        publ.send(t).unwrap();
    }
    publ.send_multipart(["a.multi", "body"]).unwrap();
    publ.send("sync-end").unwrap();
    let mut got = Vec::new();
    loop {
        let parts = sub.recv_multipart().unwrap();
        let s = strs(&parts);
        if s[0] == "sync-end" {
            break;
        }
        got.push(s.join("+"));
    }
    assert_eq!(got, vec!["a.1", "b.x1", "a.2", "a.multi+body"]);
    // Unsubscribing stops the flow; the publisher filters it out.
    sub.unsubscribe("a.").unwrap();
    sub.subscribe("z").unwrap();
    sync_pubsub(&publ, &sub, "z-sync");
    publ.send("a.3").unwrap();
    publ.send("z-end").unwrap();
    assert_eq!(&sub.recv().unwrap()[..], b"z-end");
}

#[test]
fn pub_sub_prefix_filters_inproc() {
    pubsub_filters("inproc://pat-pubsub");
}

#[test]
fn pub_sub_prefix_filters_tcp() {
    pubsub_filters("tcp://127.0.0.1:*");
}

#[test]
fn sub_send_and_pub_recv_are_not_supported() {
    let ctx = Context::new();
    let publ = sock(&ctx, SocketType::Pub);
    let sub = sock(&ctx, SocketType::Sub);
    assert!(matches!(publ.try_recv(), Err(Error::NotSupported(_))));
    assert!(matches!(
        sub.send("x").map_err(|e| e.error),
        Err(Error::NotSupported(_))
    ));
    assert!(matches!(publ.subscribe("x"), Err(Error::NotSupported(_))));
}

#[test]
fn pub_not_blocked_by_a_slow_subscriber() {
    let ctx = Context::new();
    let publ = sock(&ctx, SocketType::Pub);
    publ.set_sndhwm(16).unwrap();
    publ.bind("inproc://pat-slow").unwrap();
    let slow = sock(&ctx, SocketType::Sub);
    slow.set_rcvhwm(16).unwrap();
    slow.subscribe("").unwrap();
    slow.connect("inproc://pat-slow").unwrap();
    let fast = sock(&ctx, SocketType::Sub);
    fast.set_rcvhwm(100_000).unwrap();
    fast.subscribe("").unwrap();
    fast.connect("inproc://pat-slow").unwrap();
    // Both subscribed before anything counts.
    for _ in 0..1000 {
        publ.send("sync").unwrap();
        if fast.recv_timeout(Duration::from_millis(5)).is_ok()
            && slow.recv_timeout(Duration::from_millis(5)).is_ok()
        {
            break;
        }
    }
    while fast.try_recv().is_ok() {}
    while slow.try_recv().is_ok() {}
    // The slow subscriber never reads; every send must still return at once
    // (try_send never waits) and the fast one gets everything.
    let n = 5000u32;
    for i in 0..n {
        publ.try_send(i.to_le_bytes().to_vec()).unwrap();
        if i % 64 == 0 {
            while let Ok(m) = fast.try_recv() {
                assert_eq!(m.len(), 4);
            }
        }
    }
    publ.send("end").unwrap();
    let mut last = None;
    loop {
        let m = fast.recv().unwrap();
        if &m[..] == b"end" {
            break;
        }
        last = Some(u32::from_le_bytes(m[..].try_into().unwrap()));
    }
    assert_eq!(last, Some(n - 1));
    let mut slow_got = 0;
    while slow.try_recv().is_ok() {
        slow_got += 1;
    }
    // An inproc pipe holds the publisher's SNDHWM plus the subscriber's
    // RCVHWM (as in libzmq), plus the final "end".
    assert!(slow_got <= 16 + 16 + 1, "slow subscriber got {slow_got}");
}

/// A publisher routes by every subscription that reached it before the
/// send, however many subscribers and topics there are. Over inproc a
/// subscription is in the publisher's pipe when `subscribe` returns, so
/// the first message to each subscriber's last topic must arrive.
#[test]
fn pub_routes_by_every_subscription_already_received() {
    let ctx = Context::new();
    let publ = sock(&ctx, SocketType::Pub);
    publ.bind("inproc://many-topics").unwrap();
    let subs: Vec<_> = (0..20)
        .map(|k| {
            let s = sock(&ctx, SocketType::Sub);
            s.connect("inproc://many-topics").unwrap();
            for t in 0..100 {
                s.subscribe(format!("{k}-{t}/")).unwrap();
            }
            s
        })
        .collect();
    for k in 0..20 {
        publ.send(format!("{k}-99/last")).unwrap();
        publ.send(format!("{k}-0/first")).unwrap();
        publ.send(format!("{k}-100/none")).unwrap();
    }
    for (k, s) in subs.iter().enumerate() {
        assert_eq!(strs(&[s.try_recv().unwrap()]), [format!("{k}-99/last")]);
        assert_eq!(strs(&[s.try_recv().unwrap()]), [format!("{k}-0/first")]);
        assert!(matches!(s.try_recv(), Err(Error::WouldBlock)));
    }
}

/// A ROUTER reaches every peer whose connection it was told about before
/// the send, however many arrived together: over inproc the notice is in
/// the ROUTER's in-ring when `connect` returns.
#[test]
fn router_reaches_every_peer_announced_before_the_send() {
    let ctx = Context::new();
    let router = sock(&ctx, SocketType::Router);
    router.set_router_mandatory(true).unwrap();
    router.bind("inproc://many-peers").unwrap();
    let dealers: Vec<_> = (0..300)
        .map(|k| {
            let d = sock(&ctx, SocketType::Dealer);
            d.set_routing_id(format!("peer{k}")).unwrap();
            d.connect("inproc://many-peers").unwrap();
            d
        })
        .collect();
    for k in (0..300).rev() {
        router
            .send_multipart([format!("peer{k}"), format!("to {k}")])
            .unwrap();
    }
    for (k, d) in dealers.iter().enumerate() {
        assert_eq!(strs(&[d.try_recv().unwrap()]), [format!("to {k}")]);
    }
}

/// Fair queueing as libzmq does it: with messages waiting from several
/// peers, a receive takes one message from each in turn (RFC 30 for PULL,
/// 28 for DEALER and ROUTER, 29 for SUB). Over inproc every message is
/// queued when `send` returns.
#[test]
fn fair_queueing_takes_one_message_from_each_peer_in_turn() {
    let ctx = Context::new();
    for (recv_type, send_type) in [
        (SocketType::Pull, SocketType::Push),
        (SocketType::Dealer, SocketType::Dealer),
        (SocketType::Router, SocketType::Dealer),
        (SocketType::Sub, SocketType::Pub),
    ] {
        let ep = format!("inproc://fair-{}", recv_type.as_str());
        let rx = sock(&ctx, recv_type);
        rx.bind(&ep).unwrap();
        let peers: Vec<_> = (0..5)
            .map(|_| {
                let p = sock(&ctx, send_type);
                p.connect(&ep).unwrap();
                p
            })
            .collect();
        if recv_type == SocketType::Sub {
            // Taking the attach notices writes the subscription into each
            // publisher's pipe, where its next send reads it.
            rx.subscribe("").unwrap();
            assert!(matches!(rx.try_recv(), Err(Error::WouldBlock)));
        }
        let body = |m: &[Msg]| m.last().map(|f| f.to_vec()).unwrap_or_default();
        for (k, p) in peers.iter().enumerate() {
            for round in 0..3u8 {
                p.send(vec![k as u8, round]).unwrap();
            }
        }
        for round in 0..3u8 {
            let mut from: Vec<u8> = (0..5)
                .map(|_| {
                    let m = body(&rx.recv_multipart_timeout(WAIT).unwrap());
                    assert_eq!(
                        m[1], round,
                        "{recv_type:?}: a second message before the others' first"
                    );
                    m[0]
                })
                .collect();
            from.sort_unstable();
            assert_eq!(from, [0, 1, 2, 3, 4], "{recv_type:?}");
        }
    }
}

#[test]
fn xpub_sees_subscriptions_and_verbose_passes_duplicates() {
    for verbose in [false, true] {
        let ctx = Context::new();
        let xpub = sock(&ctx, SocketType::XPub);
        xpub.set_xpub_verbose(verbose).unwrap();
        let ep = xpub.bind("tcp://127.0.0.1:*").unwrap();
        let s1 = sock(&ctx, SocketType::Sub);
        s1.connect(&ep).unwrap();
        s1.subscribe("topic").unwrap();
        let m = xpub.recv().unwrap();
        assert_eq!(&m[..], b"\x01topic");
        let s2 = sock(&ctx, SocketType::Sub);
        s2.connect(&ep).unwrap();
        s2.subscribe("topic").unwrap();
        s2.subscribe("other").unwrap();
        let m = xpub.recv().unwrap();
        if verbose {
            assert_eq!(&m[..], b"\x01topic");
            assert_eq!(&xpub.recv().unwrap()[..], b"\x01other");
        } else {
            assert_eq!(&m[..], b"\x01other");
        }
        // The last subscriber of "topic" leaving reports the cancel.
        s1.unsubscribe("topic").unwrap();
        drop(s2);
        let mut got = vec![xpub.recv().unwrap().to_vec(), xpub.recv().unwrap().to_vec()];
        got.sort();
        assert_eq!(got, vec![b"\x00other".to_vec(), b"\x00topic".to_vec()]);
        assert!(matches!(
            xpub.recv_timeout(Duration::from_millis(50)),
            Err(Error::Timeout)
        ));
    }
}

#[test]
fn xsub_sends_subscriptions_as_messages() {
    let ctx = Context::new();
    let publ = sock(&ctx, SocketType::XPub);
    let ep = publ.bind("tcp://127.0.0.1:*").unwrap();
    let xsub = sock(&ctx, SocketType::XSub);
    xsub.connect(&ep).unwrap();
    xsub.send(&b"\x01news"[..]).unwrap();
    assert_eq!(&publ.recv().unwrap()[..], b"\x01news");
    publ.send("news.1").unwrap();
    publ.send("sports.1").unwrap();
    publ.send("news.2").unwrap();
    assert_eq!(&xsub.recv().unwrap()[..], b"news.1");
    assert_eq!(&xsub.recv().unwrap()[..], b"news.2");
    xsub.send(&b"\x00news"[..]).unwrap();
    assert_eq!(&publ.recv().unwrap()[..], b"\x00news");
}

#[test]
fn subscriptions_resent_after_reconnect() {
    let ctx = Context::new();
    let publ = sock(&ctx, SocketType::Pub);
    let ep = publ.bind("tcp://127.0.0.1:*").unwrap();
    let sub = sock(&ctx, SocketType::Sub);
    sub.set_reconnect_ivl(Some(Duration::from_millis(20)))
        .unwrap();
    sub.subscribe("k").unwrap();
    sub.connect(&ep).unwrap();
    sync_pubsub(&publ, &sub, "k0");
    // The publisher goes away and a new one binds the same port.
    drop(publ);
    let publ = sock(&ctx, SocketType::Pub);
    let mut bound = false;
    for _ in 0..200 {
        if publ.bind(&ep).is_ok() {
            bound = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(bound, "could not rebind {ep}");
    sync_pubsub(&publ, &sub, "k1");
    publ.send("x-not-subscribed").unwrap();
    publ.send("k-end").unwrap();
    assert_eq!(&sub.recv().unwrap()[..], b"k-end");
}

fn router_dealer(ep: &str) {
    let ctx = Context::new();
    let router = sock(&ctx, SocketType::Router);
    let ep = router.bind(ep).unwrap();
    let named = sock(&ctx, SocketType::Dealer);
    named.set_routing_id("alice").unwrap();
    named.connect(&ep).unwrap();
    let anon = sock(&ctx, SocketType::Dealer);
    anon.connect(&ep).unwrap();
    named.send("from-alice").unwrap();
    anon.send_multipart(["from", "anon"]).unwrap();
    let mut ids = Vec::new();
    for _ in 0..2 {
        let parts = router.recv_multipart().unwrap();
        if &parts[1][..] == b"from-alice" {
            assert_eq!(&parts[0][..], b"alice");
        } else {
            assert_eq!(strs(&parts[1..]), vec!["from", "anon"]);
            assert_eq!(parts[0].len(), 5);
            assert_eq!(parts[0][0], 0);
        }
        ids.push(parts[0].clone());
    }
    for id in &ids {
        router
            .send_multipart([id.clone(), Msg::from("reply"), Msg::from(id.to_vec())])
            .unwrap();
    }
    let a = named.recv_multipart().unwrap();
    assert_eq!(strs(&a), vec!["reply", "alice"]);
    let b = anon.recv_multipart().unwrap();
    assert_eq!(&b[1][..], &ids.iter().find(|i| i[0] == 0).unwrap()[..]);
    // Unknown ids are dropped, or refused with ROUTER_MANDATORY.
    router.send_multipart(["nobody", "x"]).unwrap();
    router.set_router_mandatory(true).unwrap();
    let e = router.send_multipart(["nobody", "x"]).unwrap_err();
    assert!(matches!(e.error, Error::HostUnreachable));
    let e = router
        .send(Msg::from("nobody").with_more(true))
        .unwrap_err();
    assert!(matches!(e.error, Error::HostUnreachable));
    router.send_multipart(["alice", "still"]).unwrap();
    assert_eq!(&named.recv().unwrap()[..], b"still");
}

#[test]
fn router_dealer_inproc() {
    router_dealer("inproc://pat-router");
}

#[test]
fn router_dealer_tcp() {
    router_dealer("tcp://127.0.0.1:*");
}

#[test]
fn router_reaches_many_idle_tcp_dealers_round_after_round() {
    // Each connection's out-ring is watched by its I/O thread while that
    // spins and carries a standing sleep announcement once it blocks: after
    // every pause (the I/O thread asleep, all twenty connections idle) the
    // ROUTER's replies must still wake it for each connection.
    let ctx = Context::new();
    let router = sock(&ctx, SocketType::Router);
    let ep = router.bind("tcp://127.0.0.1:*").unwrap();
    let dealers: Vec<_> = (0..20)
        .map(|k| {
            let d = sock(&ctx, SocketType::Dealer);
            d.set_routing_id(format!("d{k}")).unwrap();
            d.connect(&ep).unwrap();
            d.send("hi").unwrap();
            d
        })
        .collect();
    for _ in 0..20 {
        router.recv_multipart().unwrap();
    }
    for round in 0..3u8 {
        // Long enough for the I/O threads to stop polling and block.
        std::thread::sleep(Duration::from_millis(20));
        for k in 0..20 {
            router
                .send_multipart([format!("d{k}").into_bytes(), vec![round]])
                .unwrap();
        }
        for d in &dealers {
            assert_eq!(&d.recv().unwrap()[..], &[round]);
        }
    }
}

#[test]
fn dealer_round_robin_and_fair_queue() {
    let ctx = Context::new();
    let dealer = sock(&ctx, SocketType::Dealer);
    let ep = dealer.bind("tcp://127.0.0.1:*").unwrap();
    let peers: Vec<_> = (0..3)
        .map(|_| {
            let p = sock(&ctx, SocketType::Dealer);
            p.connect(&ep).unwrap();
            p
        })
        .collect();
    // Each peer says hello so the dealer knows all three.
    for (i, p) in peers.iter().enumerate() {
        p.send(format!("hello{i}")).unwrap();
    }
    let mut hellos: Vec<String> = (0..3)
        .map(|_| String::from_utf8(dealer.recv().unwrap().to_vec()).unwrap())
        .collect();
    hellos.sort();
    assert_eq!(hellos, vec!["hello0", "hello1", "hello2"]);
    for i in 0..9 {
        dealer.send(format!("m{i}")).unwrap();
    }
    for p in &peers {
        for _ in 0..3 {
            p.recv().unwrap();
        }
        assert!(p.recv_timeout(Duration::from_millis(20)).is_err());
    }
}

fn req_rep(ep: &str) {
    let ctx = Context::new();
    let rep = sock(&ctx, SocketType::Rep);
    let ep = rep.bind(ep).unwrap();
    let req = sock(&ctx, SocketType::Req);
    req.connect(&ep).unwrap();
    for i in 0..50 {
        req.send_multipart([format!("q{i}"), "part".to_string()])
            .unwrap();
        let q = rep.recv_multipart().unwrap();
        assert_eq!(strs(&q), vec![format!("q{i}"), "part".to_string()]);
        rep.send_multipart([format!("r{i}"), "x".to_string()])
            .unwrap();
        let r = req.recv_multipart().unwrap();
        assert_eq!(strs(&r), vec![format!("r{i}"), "x".to_string()]);
    }
}

#[test]
fn req_rep_inproc() {
    req_rep("inproc://pat-reqrep");
}

#[test]
fn req_rep_tcp() {
    req_rep("tcp://127.0.0.1:*");
}

#[test]
fn req_state_machine() {
    let ctx = Context::new();
    let rep = sock(&ctx, SocketType::Rep);
    rep.bind("inproc://pat-reqfsm").unwrap();
    let req = sock(&ctx, SocketType::Req);
    req.connect("inproc://pat-reqfsm").unwrap();
    assert!(matches!(req.try_recv(), Err(Error::WrongState(_))));
    assert!(matches!(
        rep.send("x").map_err(|e| e.error),
        Err(Error::WrongState(_))
    ));
    req.send("one").unwrap();
    assert!(matches!(
        req.send("two").map_err(|e| e.error),
        Err(Error::WrongState(_))
    ));
    assert_eq!(&rep.recv().unwrap()[..], b"one");
    assert!(matches!(rep.try_recv(), Err(Error::WrongState(_))));
    rep.send("r1").unwrap();
    assert_eq!(&req.recv().unwrap()[..], b"r1");
    assert!(matches!(req.try_recv(), Err(Error::WrongState(_))));
}

#[test]
fn req_relaxed_and_correlate_drop_stale_replies() {
    let ctx = Context::new();
    let router = sock(&ctx, SocketType::Router);
    router.bind("inproc://pat-relaxed").unwrap();
    let req = sock(&ctx, SocketType::Req);
    req.set_req_relaxed(true).unwrap();
    req.set_req_correlate(true).unwrap();
    req.connect("inproc://pat-relaxed").unwrap();
    req.send("first").unwrap();
    let q1 = router.recv_multipart().unwrap();
    assert_eq!(q1.len(), 4, "id, request id, delimiter, body");
    assert_eq!(q1[1].len(), 4);
    assert!(q1[2].is_empty());
    req.send("second").unwrap();
    let q2 = router.recv_multipart().unwrap();
    assert_ne!(q1[1], q2[1]);
    // The stale reply to the first request is dropped; the second arrives.
    router
        .send_multipart([q1[0].clone(), q1[1].clone(), Msg::new(), Msg::from("stale")])
        .unwrap();
    router
        .send_multipart([q2[0].clone(), q2[1].clone(), Msg::new(), Msg::from("fresh")])
        .unwrap();
    assert_eq!(&req.recv().unwrap()[..], b"fresh");
}

#[test]
fn dealer_to_rep_envelope() {
    let ctx = Context::new();
    let rep = sock(&ctx, SocketType::Rep);
    rep.bind("inproc://pat-dealer-rep").unwrap();
    let dealer = sock(&ctx, SocketType::Dealer);
    dealer.connect("inproc://pat-dealer-rep").unwrap();
    dealer.send_multipart(["", "req"]).unwrap();
    assert_eq!(&rep.recv().unwrap()[..], b"req");
    rep.send("rep").unwrap();
    let r = dealer.recv_multipart().unwrap();
    assert_eq!(strs(&r), vec!["", "rep"]);
}

#[test]
fn pub_drops_for_a_stalled_tcp_subscriber_only() {
    let ctx = Context::new();
    let publ = sock(&ctx, SocketType::Pub);
    publ.set_sndhwm(128).unwrap();
    let ep = publ.bind("tcp://127.0.0.1:*").unwrap();
    let slow = sock(&ctx, SocketType::Sub);
    slow.set_rcvhwm(16).unwrap();
    slow.set_rcvbuf(Some(4096)).unwrap();
    slow.subscribe("").unwrap();
    slow.connect(&ep).unwrap();
    let fast = sock(&ctx, SocketType::Sub);
    fast.subscribe("").unwrap();
    fast.connect(&ep).unwrap();
    // Both subscribed before anything counts.
    let (mut f_ok, mut s_ok) = (false, false);
    for _ in 0..1000 {
        publ.send("sync").unwrap();
        f_ok |= fast.recv_timeout(Duration::from_millis(5)).is_ok();
        s_ok |= slow.recv_timeout(Duration::from_millis(5)).is_ok();
        if f_ok && s_ok {
            break;
        }
    }
    assert!(f_ok && s_ok);
    while fast.recv_timeout(Duration::from_millis(20)).is_ok() {}
    while slow.try_recv().is_ok() {}
    // The slow subscriber stops reading. The fast one reads everything,
    // kept under the high-water mark; no send ever waits or fails.
    let n = 20_000u32;
    let mut body = vec![7u8; 1024];
    let mut got = 0u32;
    for i in 0..n {
        body[..4].copy_from_slice(&i.to_le_bytes());
        publ.try_send(body.clone()).unwrap();
        if i % 64 == 63 {
            while got <= i {
                let m = fast.recv().unwrap();
                assert_eq!(u32::from_le_bytes(m[..4].try_into().unwrap()), got);
                got += 1;
            }
        }
    }
    while got < n {
        let m = fast.recv().unwrap();
        assert_eq!(u32::from_le_bytes(m[..4].try_into().unwrap()), got);
        got += 1;
    }
    let mut slow_got = 0u32;
    while slow.recv_timeout(Duration::from_millis(100)).is_ok() {
        slow_got += 1;
    }
    assert!(
        slow_got < n,
        "the stalled subscriber lost nothing ({slow_got})"
    );
}

#[test]
fn probe_router_sends_one_empty_message_per_new_connection() {
    let ctx = Context::new();
    for transport in ["inproc://probe-patterns", "tcp://127.0.0.1:*"] {
        let server = sock(&ctx, SocketType::Router);
        let ep = server.bind(transport).unwrap();
        let dealer = sock(&ctx, SocketType::Dealer);
        dealer.set_probe_router(true).unwrap();
        dealer.set_routing_id("d").unwrap();
        dealer.connect(&ep).unwrap();
        dealer.send("after the probe").unwrap();
        let probe = server.recv_multipart().unwrap();
        assert_eq!(probe.len(), 2, "{transport}");
        assert_eq!((&probe[0][..], probe[1].is_empty()), (&b"d"[..], true));
        let next = server.recv_multipart().unwrap();
        assert_eq!(&next[1][..], b"after the probe", "{transport}");
        // A ROUTER probes the peers it accepts as well.
        let probing = sock(&ctx, SocketType::Router);
        probing.set_probe_router(true).unwrap();
        let ep2 = probing
            .bind(&transport.replace("patterns", "patterns-2"))
            .unwrap();
        let peer = sock(&ctx, SocketType::Dealer);
        peer.connect(&ep2).unwrap();
        // The ROUTER takes in new peers (and probes them) when it is used,
        // as libzmq's does.
        let deadline = std::time::Instant::now() + WAIT;
        let probe = loop {
            assert!(matches!(probing.try_recv(), Err(Error::WouldBlock)));
            if let Ok(m) = peer.recv_timeout(Duration::from_millis(10)) {
                break m;
            }
            assert!(std::time::Instant::now() < deadline, "{transport}");
        };
        assert!(probe.is_empty(), "{transport}");
    }
    let ctx2 = Context::new();
    for kind in [
        SocketType::Pub,
        SocketType::Push,
        SocketType::Rep,
        SocketType::Pair,
    ] {
        let s = ctx2.socket(kind).unwrap();
        assert!(
            matches!(s.set_probe_router(true), Err(Error::NotSupported(_))),
            "{kind:?}"
        );
    }
}

#[test]
fn router_handover_over_inproc_and_tcp() {
    let ctx = Context::new();
    for transport in ["inproc://handover", "tcp://127.0.0.1:*"] {
        let router = sock(&ctx, SocketType::Router);
        router.set_router_handover(true).unwrap();
        let ep = router.bind(transport).unwrap();
        let first = sock(&ctx, SocketType::Dealer);
        first.set_routing_id("w").unwrap();
        first.set_reconnect_ivl(None).unwrap();
        first.connect(&ep).unwrap();
        first.send("one").unwrap();
        first.send("two").unwrap();
        assert_eq!(strs(&router.recv_multipart().unwrap()), ["w", "one"]);

        let second = sock(&ctx, SocketType::Dealer);
        second.set_routing_id("w").unwrap();
        second.connect(&ep).unwrap();
        second.send("three").unwrap();
        // The first peer's second message still arrives (under "w" if it
        // was taken in before the handover, under another id if not), and
        // the second peer's under the id it took over.
        let mut rest = [
            router.recv_multipart().unwrap(),
            router.recv_multipart().unwrap(),
        ];
        rest.sort_by(|a, b| a[1].cmp(&b[1]));
        assert_eq!(&rest[0][1][..], b"three");
        assert_eq!(&rest[0][0][..], b"w", "{transport}");
        assert_eq!(&rest[1][1][..], b"two");
        router.send_multipart([&b"w"[..], b"reply"]).unwrap();
        assert_eq!(&second.recv().unwrap()[..], b"reply", "{transport}");
        // The first peer's pipe was ended: nothing it sends now arrives.
        let _ = first.try_send("late");
        assert!(
            router.recv_timeout(Duration::from_millis(200)).is_err(),
            "{transport}"
        );
    }
    let s = ctx.socket(SocketType::Dealer).unwrap();
    assert!(matches!(
        s.set_router_handover(true),
        Err(Error::NotSupported(_))
    ));
}

#[test]
fn xpub_nodrop_refuses_rather_than_drops_and_is_pub_only() {
    let ctx = Context::new();
    let xpub = sock(&ctx, SocketType::XPub);
    xpub.set_sndhwm(2).unwrap();
    xpub.set_xpub_nodrop(true).unwrap();
    xpub.bind("inproc://nodrop").unwrap();
    let slow = sock(&ctx, SocketType::Sub);
    slow.set_rcvhwm(2).unwrap();
    slow.subscribe("a").unwrap();
    slow.connect("inproc://nodrop").unwrap();
    let other = sock(&ctx, SocketType::Sub);
    other.subscribe("b").unwrap();
    other.connect("inproc://nodrop").unwrap();
    assert_eq!(&xpub.recv().unwrap()[..], b"\x01a");
    assert_eq!(&xpub.recv().unwrap()[..], b"\x01b");
    // The slow subscriber's pipe holds SNDHWM + RCVHWM = 4.
    for i in 0..4 {
        xpub.try_send(format!("a{i}")).unwrap();
    }
    let refused = xpub.try_send("a4").unwrap_err();
    assert!(matches!(refused.error, Error::WouldBlock));
    assert_eq!(&refused.msg[..], b"a4");
    // Others are not held up by it.
    xpub.try_send("b0").unwrap();
    assert_eq!(&other.recv().unwrap()[..], b"b0");
    assert!(matches!(
        xpub.send_timeout("a4", Duration::from_millis(50))
            .unwrap_err()
            .error,
        Error::Timeout
    ));
    assert_eq!(&slow.recv().unwrap()[..], b"a0");
    xpub.try_send("a4").unwrap();
    for i in 1..5 {
        assert_eq!(slow.recv().unwrap(), Msg::from(format!("a{i}")));
    }
    for kind in [SocketType::Sub, SocketType::Push, SocketType::Router] {
        let s = ctx.socket(kind).unwrap();
        assert!(matches!(
            s.set_xpub_nodrop(true),
            Err(Error::NotSupported(_))
        ));
    }
}

#[test]
fn invert_matching_sends_and_keeps_what_matches_no_subscription() {
    let ctx = Context::new();
    for transport in ["inproc://invert", "tcp://127.0.0.1:*"] {
        let publ = sock(&ctx, SocketType::Pub);
        publ.set_invert_matching(true).unwrap();
        let ep = publ.bind(transport).unwrap();
        let quiet = sock(&ctx, SocketType::Sub);
        quiet.set_invert_matching(true).unwrap();
        quiet.subscribe("debug.").unwrap();
        quiet.subscribe("trace.").unwrap();
        quiet.connect(&ep).unwrap();
        let all = sock(&ctx, SocketType::Sub);
        all.set_invert_matching(true).unwrap();
        all.connect(&ep).unwrap();
        // Publish until both have joined (the marker matches no blacklist).
        let (mut quiet_in, mut all_in) = (false, false);
        while !(quiet_in && all_in) {
            publ.send("sync").unwrap();
            quiet_in |= quiet.recv_timeout(Duration::from_millis(10)).is_ok();
            all_in |= all.recv_timeout(Duration::from_millis(10)).is_ok();
        }
        for m in ["debug.1", "info.2", "trace.3", "warn.4", "end"] {
            publ.send(m).unwrap();
        }
        let mut got = Vec::new();
        loop {
            let m = quiet.recv().unwrap();
            if &m[..] == b"sync" {
                continue;
            }
            got.push(String::from_utf8_lossy(&m).into_owned());
            if &m[..] == b"end" {
                break;
            }
        }
        assert_eq!(got, ["info.2", "warn.4", "end"], "{transport}");
        let mut got = Vec::new();
        loop {
            let m = all.recv().unwrap();
            got.push(String::from_utf8_lossy(&m).into_owned());
            if &m[..] == b"end" {
                break;
            }
        }
        let got: Vec<_> = got.into_iter().filter(|m| m != "sync").collect();
        assert_eq!(
            got,
            ["debug.1", "info.2", "trace.3", "warn.4", "end"],
            "{transport}"
        );
    }
    for kind in [SocketType::XSub, SocketType::Push, SocketType::Dealer] {
        let s = ctx.socket(kind).unwrap();
        assert!(matches!(
            s.set_invert_matching(true),
            Err(Error::NotSupported(_))
        ));
    }
}

#[test]
fn connect_routing_id_before_an_inproc_bind() {
    let ctx = Context::new();
    let client = sock(&ctx, SocketType::Router);
    client.set_routing_id("c").unwrap();
    client.set_router_mandatory(true).unwrap();
    client.set_connect_routing_id("s").unwrap();
    client.connect("inproc://connect-id-early").unwrap();
    client.send_multipart([&b"s"[..], b"queued"]).unwrap();
    let server = sock(&ctx, SocketType::Router);
    server.bind("inproc://connect-id-early").unwrap();
    assert_eq!(strs(&server.recv_multipart().unwrap()), ["c", "queued"]);
    server.send_multipart([&b"c"[..], b"answer"]).unwrap();
    assert_eq!(strs(&client.recv_multipart().unwrap()), ["s", "answer"]);
}

#[test]
fn socket_specific_options_refuse_other_socket_types() {
    let ctx = Context::new();
    let push = ctx.socket(SocketType::Push).unwrap();
    for r in [
        push.set_router_mandatory(true),
        push.set_req_relaxed(true),
        push.set_req_correlate(true),
        push.set_xpub_verbose(true),
        push.set_xpub_verboser(true),
    ] {
        assert!(matches!(r, Err(Error::NotSupported(_))), "{r:?}");
    }
    ctx.socket(SocketType::Router)
        .unwrap()
        .set_router_mandatory(true)
        .unwrap();
    let req = ctx.socket(SocketType::Req).unwrap();
    req.set_req_relaxed(true).unwrap();
    req.set_req_correlate(true).unwrap();
    let xpub = ctx.socket(SocketType::XPub).unwrap();
    xpub.set_xpub_verbose(true).unwrap();
    // VERBOSER sets both halves; VERBOSE after it clears the second, as in
    // libzmq.
    xpub.set_xpub_verboser(true).unwrap();
    let o = xpub.options();
    assert!(o.xpub_verbose && o.xpub_verbose_unsubs);
    xpub.set_xpub_verbose(true).unwrap();
    let o = xpub.options();
    assert!(o.xpub_verbose && !o.xpub_verbose_unsubs);
}
