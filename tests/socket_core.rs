//! Socket behaviour among ringmq sockets: inproc, ipc, high-water marks,
//! linger, option errors, misuse errors, and hostile raw TCP clients.

mod common;

use common::{
    null_greeting, raw_peer, ready_command, short_frame, sock, strs, unused_tcp_endpoint,
    wait_for_event, WAIT,
};

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use ringmq::{Context, Error, Msg, SocketType};

#[test]
fn inproc_push_pull_in_order_and_multipart() {
    let ctx = Context::new();
    let pull = sock(&ctx, SocketType::Pull);
    pull.bind("inproc://core-a").unwrap();
    let push = sock(&ctx, SocketType::Push);
    push.connect("inproc://core-a").unwrap();
    let sender = std::thread::spawn(move || {
        for i in 0..20_000u32 {
            push.send(i.to_le_bytes().to_vec()).unwrap();
        }
        push.send_multipart(["x", "", "yz"]).unwrap();
        push
    });
    for i in 0..20_000u32 {
        let m = pull.recv().unwrap();
        assert_eq!(u32::from_le_bytes(m[..].try_into().unwrap()), i);
    }
    let parts = pull.recv_multipart().unwrap();
    let parts: Vec<&[u8]> = parts.iter().map(|m| &m[..]).collect();
    assert_eq!(parts, vec![&b"x"[..], b"", b"yz"]);
    drop(sender.join().unwrap());
}

#[test]
fn inproc_connect_before_bind() {
    let ctx = Context::new();
    let a = sock(&ctx, SocketType::Pair);
    a.connect("inproc://core-late").unwrap();
    let b = sock(&ctx, SocketType::Pair);
    b.bind("inproc://core-late").unwrap();
    a.send("hi").unwrap();
    assert_eq!(&b.recv().unwrap()[..], b"hi");
    b.send("back").unwrap();
    assert_eq!(&a.recv().unwrap()[..], b"back");
}

/// As with libzmq, a connect made before the bind has its pipe at once:
/// what is sent before the bind is queued (up to the marks) and delivered
/// by it, from one thread, in order; replies flow back.
#[test]
fn inproc_sends_before_the_bind_are_queued() {
    let ctx = Context::new();
    let a = sock(&ctx, SocketType::Pair);
    a.connect("inproc://core-queued").unwrap();
    a.send("foobar").unwrap();
    a.send_multipart(["x", "yz"]).unwrap();
    let b = sock(&ctx, SocketType::Pair);
    b.bind("inproc://core-queued").unwrap();
    assert_eq!(&b.recv().unwrap()[..], b"foobar");
    assert_eq!(strs(&b.recv_multipart().unwrap()), ["x", "yz"]);
    a.send("baz").unwrap();
    assert_eq!(&b.recv().unwrap()[..], b"baz");
    b.send("back").unwrap();
    assert_eq!(&a.recv().unwrap()[..], b"back");

    // Several early pushers, each with its own queue; a full one says so.
    let pushers: Vec<_> = (0..3u8)
        .map(|k| {
            let p = sock(&ctx, SocketType::Push);
            p.set_sndhwm(2).unwrap();
            p.set_rcvhwm(2).unwrap();
            p.connect("inproc://core-queued-many").unwrap();
            for i in 0..4u8 {
                p.send(vec![k, i]).unwrap();
            }
            assert!(matches!(
                p.try_send(vec![k, 9]).map_err(|e| e.error),
                Err(Error::WouldBlock)
            ));
            p
        })
        .collect();
    let pull = sock(&ctx, SocketType::Pull);
    pull.bind("inproc://core-queued-many").unwrap();
    let mut got: Vec<Vec<u8>> = (0..12).map(|_| pull.recv().unwrap().to_vec()).collect();
    got.sort();
    let want: Vec<Vec<u8>> = (0..3u8)
        .flat_map(|k| (0..4u8).map(move |i| vec![k, i]))
        .collect();
    assert_eq!(got, want);
    assert!(matches!(pull.try_recv(), Err(Error::WouldBlock)));
    drop(pushers);
}

/// A SUB that subscribes before the PUB binds gets what the PUB publishes
/// from its first send; a connecter of an incompatible type learns at the
/// bind that its pipe is dead; one closed before the bind leaves nothing.
#[test]
fn inproc_connect_before_bind_subscriptions_and_mismatches() {
    let ctx = Context::new();
    let sub = sock(&ctx, SocketType::Sub);
    sub.connect("inproc://core-early-sub").unwrap();
    sub.subscribe("a").unwrap();
    let gone = sock(&ctx, SocketType::Sub);
    gone.connect("inproc://core-early-sub").unwrap();
    drop(gone);
    let publ = sock(&ctx, SocketType::Pub);
    publ.bind("inproc://core-early-sub").unwrap();
    publ.send("b-no").unwrap();
    publ.send("a-yes").unwrap();
    assert_eq!(&sub.recv().unwrap()[..], b"a-yes");

    let push = sock(&ctx, SocketType::Push);
    push.connect("inproc://core-early-mismatch").unwrap();
    push.send("lost").unwrap();
    let other = sock(&ctx, SocketType::Push);
    other.bind("inproc://core-early-mismatch").unwrap();
    // The pipe's reader went with the refused connection: the send path
    // drops the pipe and finds no other.
    assert!(matches!(
        push.try_send("x").map_err(|e| e.error),
        Err(Error::WouldBlock)
    ));
}

/// An inproc pipe holds exactly SNDHWM plus RCVHWM messages, as libzmq's
/// does (its `test_hwm` counts 2000 at the defaults), whether the connect
/// came before or after the bind.
#[test]
fn inproc_pipe_holds_exactly_its_marks() {
    let ctx = Context::new();
    for (sndhwm, rcvhwm, early) in [
        (1000, 1000, false),
        (3, 4, false),
        (3, 4, true),
        (1, 1, true),
    ] {
        let ep = format!("inproc://core-exact-{sndhwm}-{rcvhwm}-{early}");
        let pull = sock(&ctx, SocketType::Pull);
        pull.set_rcvhwm(rcvhwm).unwrap();
        let push = sock(&ctx, SocketType::Push);
        push.set_sndhwm(sndhwm).unwrap();
        if early {
            // Made before the bind, the pipe is sized from the connecting
            // socket's own two marks.
            push.set_rcvhwm(rcvhwm).unwrap();
            push.connect(&ep).unwrap();
            pull.bind(&ep).unwrap();
        } else {
            pull.bind(&ep).unwrap();
            push.connect(&ep).unwrap();
        }
        let mut sent = 0;
        while push.try_send("x").is_ok() {
            sent += 1;
        }
        assert_eq!(
            sent,
            sndhwm + rcvhwm,
            "marks {sndhwm} + {rcvhwm}, early {early}"
        );
        // One taken makes room for one more.
        pull.recv().unwrap();
        push.try_send("y").unwrap();
        assert!(push.try_send("z").is_err());
    }
}

/// `disconnect` ends an inproc pipe both ways, as libzmq's does: the peer
/// stops sending into it at once and what it sent but was not read is
/// dropped; a new `connect` makes a fresh pipe.
#[test]
fn inproc_disconnect_ends_the_pipe_both_ways() {
    let ctx = Context::new();
    let push = sock(&ctx, SocketType::Push);
    push.bind("inproc://core-disconnect").unwrap();
    let pull = sock(&ctx, SocketType::Pull);
    pull.connect("inproc://core-disconnect").unwrap();
    push.send("ABC").unwrap();
    push.send("unread").unwrap();
    assert_eq!(&pull.recv().unwrap()[..], b"ABC");
    pull.disconnect("inproc://core-disconnect").unwrap();
    assert!(matches!(
        push.try_send("DEF").map_err(|e| e.error),
        Err(Error::WouldBlock)
    ));
    assert!(matches!(pull.try_recv(), Err(Error::WouldBlock)));
    pull.connect("inproc://core-disconnect").unwrap();
    push.send("GHI").unwrap();
    assert_eq!(&pull.recv().unwrap()[..], b"GHI");
}

#[test]
fn inproc_name_in_use_and_incompatible_peer() {
    let ctx = Context::new();
    let a = sock(&ctx, SocketType::Pull);
    a.bind("inproc://core-dup").unwrap();
    let b = sock(&ctx, SocketType::Pull);
    assert!(matches!(
        b.bind("inproc://core-dup"),
        Err(Error::AddrInUse(_))
    ));
    let c = sock(&ctx, SocketType::Pull);
    assert!(matches!(
        c.connect("inproc://core-dup"),
        Err(Error::IncompatiblePeer(_))
    ));
}

#[test]
fn inproc_pipe_holds_both_marks_and_wakes_both_sides() {
    let ctx = Context::new();
    let pull = sock(&ctx, SocketType::Pull);
    pull.set_rcvhwm(4).unwrap();
    pull.bind("inproc://core-hwm").unwrap();
    let push = sock(&ctx, SocketType::Push);
    push.set_sndhwm(4).unwrap();
    push.connect("inproc://core-hwm").unwrap();
    // As in libzmq, an inproc pipe holds SNDHWM + RCVHWM messages.
    for i in 0..8u32 {
        push.try_send(i.to_le_bytes().to_vec()).unwrap();
    }
    let e = push.try_send("over").unwrap_err();
    assert!(matches!(e.error, Error::WouldBlock));
    assert_eq!(&pull.recv().unwrap()[..], 0u32.to_le_bytes());
    push.try_send(8u32.to_le_bytes().to_vec()).unwrap();
    // A sender that keeps waiting for room and a receiver that keeps
    // waiting for messages: a lost wake-up either way would end a wait in
    // a timeout error.
    let n = 3000u32;
    let sender = std::thread::spawn(move || {
        for i in 9..n {
            push.send(i.to_le_bytes().to_vec()).unwrap();
            if i % 500 == 0 {
                std::thread::sleep(Duration::from_millis(2));
            }
        }
        push
    });
    for i in 1..n {
        if i % 700 == 0 {
            std::thread::sleep(Duration::from_millis(2));
        }
        let m = pull.recv().unwrap();
        assert_eq!(u32::from_le_bytes(m[..].try_into().unwrap()), i);
    }
    drop(sender.join().unwrap());
}

#[test]
fn inproc_messages_sent_before_close_are_delivered() {
    let ctx = Context::new();
    let pull = sock(&ctx, SocketType::Pull);
    pull.bind("inproc://core-close").unwrap();
    let push = sock(&ctx, SocketType::Push);
    push.connect("inproc://core-close").unwrap();
    for i in 0..500u32 {
        push.send(i.to_le_bytes().to_vec()).unwrap();
    }
    drop(push);
    for i in 0..500u32 {
        assert_eq!(&pull.recv().unwrap()[..], i.to_le_bytes());
    }
    assert!(matches!(
        pull.recv_timeout(Duration::from_millis(50)),
        Err(Error::Timeout)
    ));
    // The pipe is gone: a new peer on the same name is served alone.
    let again = sock(&ctx, SocketType::Push);
    again.connect("inproc://core-close").unwrap();
    again.send("again").unwrap();
    assert_eq!(&pull.recv().unwrap()[..], b"again");
}

#[test]
fn inproc_peer_leaving_is_seen_even_when_its_notice_finds_the_ring_full() {
    let ctx = Context::new();
    let xpub = sock(&ctx, SocketType::XPub);
    // An in-ring of two slots: pipe events fill it quickly.
    xpub.set_rcvhwm(2).unwrap();
    xpub.bind("inproc://core-gone").unwrap();
    let sub = sock(&ctx, SocketType::Sub);
    sub.subscribe("a").unwrap();
    sub.connect("inproc://core-gone").unwrap();
    // The subscriber sends its subscription once it has seen its new pipe.
    assert!(matches!(
        sub.recv_timeout(Duration::from_millis(1)),
        Err(Error::Timeout)
    ));
    assert_eq!(&xpub.recv().unwrap()[..], b"\x01a");
    // Two more peers attach; nobody reads, so their notices fill the ring.
    let others: Vec<_> = (0..2)
        .map(|_| {
            let s = sock(&ctx, SocketType::Sub);
            s.connect("inproc://core-gone").unwrap();
            s
        })
        .collect();
    // The subscriber leaves: its detach notice finds no room.
    drop(sub);
    // XPUB still learns it is gone, from its drained pipe, and reports
    // the topic nobody subscribes to any more.
    assert_eq!(&xpub.recv().unwrap()[..], b"\x00a");
    drop(others);
}

#[test]
fn inproc_connect_does_not_wait_on_its_own_full_ring() {
    let ctx = Context::new();
    let pull = sock(&ctx, SocketType::Pull);
    pull.set_rcvhwm(2).unwrap();
    pull.bind("inproc://core-own-a").unwrap();
    // Two peers attach while the PULL reads nothing: their notices fill its
    // two-slot in-ring.
    let peers: Vec<_> = (0..2)
        .map(|_| {
            let p = sock(&ctx, SocketType::Push);
            p.connect("inproc://core-own-a").unwrap();
            p
        })
        .collect();
    let push = sock(&ctx, SocketType::Push);
    push.bind("inproc://core-own-b").unwrap();
    // The PULL's own connect must not wait for room in its own ring (only
    // its own thread could make it). Done on another thread so that a
    // regression fails here instead of hanging the test.
    let (tx, rx) = std::sync::mpsc::channel();
    let t = std::thread::spawn(move || {
        let r = pull.connect("inproc://core-own-b");
        tx.send(r.is_ok()).unwrap();
        pull
    });
    let done = rx.recv_timeout(Duration::from_secs(5));
    if done != Ok(true) {
        // That thread would be stuck holding the context's inproc
        // registry: leak the rest rather than block on closing it.
        std::mem::forget((push, peers, ctx));
        panic!("connect waited on its own in-ring: {done:?}");
    }
    let pull = t.join().unwrap();
    push.send("b").unwrap();
    peers[0].send("a").unwrap();
    let mut got: Vec<Vec<u8>> = (0..2).map(|_| pull.recv().unwrap().to_vec()).collect();
    got.sort();
    assert_eq!(got, vec![b"a".to_vec(), b"b".to_vec()]);
}

#[test]
fn inproc_pull_fair_queues_its_peers() {
    let ctx = Context::new();
    let pull = sock(&ctx, SocketType::Pull);
    pull.bind("inproc://core-fair").unwrap();
    let pushes: Vec<_> = (0..3u8)
        .map(|_| {
            let p = sock(&ctx, SocketType::Push);
            p.connect("inproc://core-fair").unwrap();
            p
        })
        .collect();
    // Each peer queues its whole stream before anything is read.
    for (k, p) in pushes.iter().enumerate() {
        for i in 0..300u16 {
            let mut m = vec![k as u8];
            m.extend_from_slice(&i.to_le_bytes());
            p.send(m).unwrap();
        }
    }
    let mut next = [0u16; 3];
    let mut seen_early = [false; 3];
    for n in 0..900 {
        let m = pull.recv().unwrap();
        let k = m[0] as usize;
        assert_eq!(
            u16::from_le_bytes([m[1], m[2]]),
            next[k],
            "peer {k} in order"
        );
        next[k] += 1;
        if n < 200 {
            seen_early[k] = true;
        }
    }
    // Fair queueing: no peer waits for another's whole stream.
    assert_eq!(seen_early, [true; 3]);
    assert_eq!(next, [300; 3]);
}

#[test]
fn tcp_messages_before_a_lost_connection_arrive_and_the_pipe_reconnects() {
    // Each connection of a connect pipe delivers through a receive ring of
    // its own: what arrived before the peer went away is still received, in
    // order, and the next connection brings a new ring.
    let ctx = Context::new();
    let ep = unused_tcp_endpoint();
    let pull = sock(&ctx, SocketType::Pull);
    pull.connect(&ep).unwrap();
    const N_MSGS: u16 = 3000;
    for round in 0..3u8 {
        let push = sock(&ctx, SocketType::Push);
        push.bind(&ep).unwrap();
        for i in 0..N_MSGS {
            let [lo, hi] = i.to_le_bytes();
            push.send(vec![round, lo, hi]).unwrap();
        }
        // Closed with everything still queued: the default linger writes it
        // all out before the connection goes.
        drop(push);
        for i in 0..N_MSGS {
            let [lo, hi] = i.to_le_bytes();
            let m = pull.recv().unwrap();
            assert_eq!(&m[..], &[round, lo, hi], "round {round}, message {i}");
        }
    }
    assert!(matches!(pull.try_recv(), Err(Error::WouldBlock)));
}

#[test]
fn a_receiver_asleep_on_many_pipes_wakes_for_each() {
    // The receiver announces its sleep on every pipe's ring with one
    // barrier (inproc rings asymmetric, the TCP connection's fenced); a
    // message on any of them must wake it, many times over.
    let ctx = Context::new();
    let pull = sock(&ctx, SocketType::Pull);
    pull.bind("inproc://core-many").unwrap();
    let ep = pull.bind("tcp://127.0.0.1:*").unwrap();
    let mut pushes = Vec::new();
    for k in 0..4u8 {
        let p = sock(&ctx, SocketType::Push);
        if k == 3 {
            p.connect(&ep).unwrap();
        } else {
            p.connect("inproc://core-many").unwrap();
        }
        pushes.push(p);
    }
    // The TCP peer is attached once its first message arrives.
    pushes[3].send("hello").unwrap();
    assert_eq!(&pull.recv().unwrap()[..], b"hello");
    let senders = std::thread::spawn(move || {
        for round in 0..50u8 {
            for (k, p) in pushes.iter().enumerate() {
                // Give the receiver time to fall asleep before each send.
                std::thread::sleep(Duration::from_micros(300));
                p.send(vec![k as u8, round]).unwrap();
            }
        }
        pushes
    });
    let mut got = Vec::new();
    for _ in 0..200 {
        got.push(pull.recv().unwrap().to_vec());
    }
    senders.join().unwrap();
    got.sort();
    let want: Vec<Vec<u8>> = (0..50u8)
        .flat_map(|r| (0..4u8).map(move |k| vec![k, r]))
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    assert_eq!(got, want);
}

#[test]
fn a_sender_waiting_for_room_on_many_pipes_wakes_for_each() {
    // Every pipe of the PUSH is full; the sender records its wait on all of
    // them with one barrier, and a slot freed on any of them must wake it.
    let ctx = Context::new();
    let pulls: Vec<_> = (0..3)
        .map(|k| {
            let p = sock(&ctx, SocketType::Pull);
            p.set_rcvhwm(1).unwrap();
            p.bind(&format!("inproc://core-room-{k}")).unwrap();
            p
        })
        .collect();
    let push = sock(&ctx, SocketType::Push);
    push.set_sndhwm(1).unwrap();
    for k in 0..3 {
        push.connect(&format!("inproc://core-room-{k}")).unwrap();
    }
    let sender = std::thread::spawn(move || {
        for i in 0..300u16 {
            push.send(i.to_le_bytes().to_vec()).unwrap();
        }
        push
    });
    let mut got = Vec::new();
    for _ in 0..100 {
        for p in &pulls {
            // Let the sender fill every pipe and fall asleep first.
            std::thread::sleep(Duration::from_micros(200));
            let m = p.recv().unwrap();
            got.push(u16::from_le_bytes([m[0], m[1]]));
        }
    }
    sender.join().unwrap();
    got.sort();
    assert_eq!(got, (0..300).collect::<Vec<u16>>());
}

#[test]
fn a_tcp_receiver_that_stops_reading_pushes_back_soon() {
    // RCVHWM bounds the peer's queue: once it is full the engine stops
    // reading (after at most what one read held) and TCP flow control
    // stops the sender. Small kernel buffers keep the rest of the path
    // short, so the sender must block after a few dozen 1 KiB messages,
    // not after thousands decoded ahead of the queue.
    let ctx = Context::new();
    let pull = sock(&ctx, SocketType::Pull);
    pull.set_rcvhwm(4).unwrap();
    pull.set_rcvbuf(Some(4096)).unwrap();
    let ep = pull.bind("tcp://127.0.0.1:*").unwrap();
    let push = sock(&ctx, SocketType::Push);
    push.set_sndhwm(4).unwrap();
    push.set_sndbuf(Some(4096)).unwrap();
    push.connect(&ep).unwrap();
    let body = vec![7u8; 1024];
    let mut sent = 0usize;
    while push
        .send_timeout(body.clone(), Duration::from_millis(300))
        .is_ok()
    {
        sent += 1;
        assert!(sent < 1000, "the sender never felt the receiver's mark");
    }
    assert!(sent >= 4, "sent {sent}");
    // Everything sent arrives once the receiver reads.
    for _ in 0..sent {
        assert_eq!(pull.recv().unwrap().len(), 1024);
    }
}

#[test]
fn frame_by_frame_send_is_delivered_whole() {
    let ctx = Context::new();
    let pull = sock(&ctx, SocketType::Pull);
    let ep = pull.bind("tcp://127.0.0.1:*").unwrap();
    let push = sock(&ctx, SocketType::Push);
    push.connect(&ep).unwrap();
    push.send(ringmq::Msg::from("a").with_more(true)).unwrap();
    push.send(ringmq::Msg::from("b").with_more(true)).unwrap();
    // Nothing is on the wire until the last frame.
    assert!(matches!(
        pull.recv_timeout(Duration::from_millis(100)),
        Err(Error::Timeout)
    ));
    push.send("c").unwrap();
    let first = pull.recv().unwrap();
    assert!(first.more());
    let second = pull.recv().unwrap();
    assert!(second.more());
    let third = pull.recv().unwrap();
    assert!(!third.more());
    assert_eq!(
        (&first[..], &second[..], &third[..]),
        (&b"a"[..], &b"b"[..], &b"c"[..])
    );
}

#[test]
fn misuse_gets_clear_errors() {
    let ctx = Context::new();
    let push = sock(&ctx, SocketType::Push);
    let pull = sock(&ctx, SocketType::Pull);
    assert!(matches!(push.try_recv(), Err(Error::NotSupported(_))));
    assert!(matches!(
        pull.try_send("x").map_err(|e| e.error),
        Err(Error::NotSupported(_))
    ));
    for bad in [
        "",
        "tcp://",
        "tcp://127.0.0.1",
        "udp://1.2.3.4:5",
        "inproc://",
        "nonsense",
    ] {
        assert!(
            matches!(push.connect(bad), Err(Error::InvalidEndpoint { .. })),
            "{bad:?} accepted"
        );
    }
    assert!(matches!(
        push.set_sndhwm(-1),
        Err(Error::InvalidOption { .. })
    ));
    assert!(matches!(
        push.set_routing_id(vec![0u8, 1]),
        Err(Error::InvalidOption { .. })
    ));
    for bad in [
        Duration::ZERO,
        Duration::from_micros(999),
        Duration::from_millis(u64::from(u32::MAX) + 1),
    ] {
        assert!(matches!(
            push.set_tcp_maxrt(Some(bad)),
            Err(Error::InvalidOption { .. })
        ));
    }
    push.set_tcp_maxrt(Some(Duration::from_secs(2))).unwrap();
    assert_eq!(push.tcp_maxrt(), Some(Duration::from_secs(2)));
    assert!(matches!(
        push.unbind("tcp://127.0.0.1:1"),
        Err(Error::InvalidEndpoint { .. })
    ));
}

#[test]
fn tcp_port_in_use_is_reported() {
    let ctx = Context::new();
    let a = sock(&ctx, SocketType::Pull);
    let ep = a.bind("tcp://127.0.0.1:*").unwrap();
    let b = sock(&ctx, SocketType::Pull);
    assert!(matches!(b.bind(&ep), Err(Error::AddrInUse(_))));
    assert_eq!(a.last_endpoint().as_deref(), Some(ep.as_str()));
}

/// `unbind` ends the connections its listener accepted, as libzmq's
/// does: the peer sees its connection drop, and what it sends afterwards
/// (queued for its reconnects, which now fail) never arrives.
#[test]
fn tcp_unbind_ends_the_connections_it_accepted() {
    let ctx = Context::new();
    let pull = sock(&ctx, SocketType::Pull);
    let ep = pull.bind("tcp://127.0.0.1:*").unwrap();
    let push = sock(&ctx, SocketType::Push);
    let mut mon = push.monitor().unwrap();
    push.connect(&ep).unwrap();
    push.send("before").unwrap();
    assert_eq!(&pull.recv().unwrap()[..], b"before");
    pull.unbind(&ep).unwrap();
    wait_for_event(&mut mon, ringmq::MonitorEventKind::Disconnected);
    push.send("after").unwrap();
    assert!(matches!(
        pull.recv_timeout(Duration::from_millis(300)),
        Err(Error::Timeout)
    ));
    push.set_linger(Some(Duration::ZERO)).unwrap();
}

#[test]
fn ipc_file_removed_on_unbind_and_close() {
    let path = std::env::temp_dir().join(format!("ringmq-core-{}.sock", std::process::id()));
    let ep = format!("ipc://{}", path.display());
    let ctx = Context::new();
    let pull = sock(&ctx, SocketType::Pull);
    pull.bind(&ep).unwrap();
    assert!(path.exists());
    let push = sock(&ctx, SocketType::Push);
    push.connect(&ep).unwrap();
    push.send("over ipc").unwrap();
    assert_eq!(&pull.recv().unwrap()[..], b"over ipc");
    pull.unbind(&ep).unwrap();
    wait_until(|| !path.exists());
    pull.bind(&ep).unwrap();
    assert!(path.exists());
    drop(pull);
    wait_until(|| !path.exists());
}

fn wait_until(mut f: impl FnMut() -> bool) {
    for _ in 0..500 {
        if f() {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    panic!("condition not reached within 5 s");
}

#[test]
fn send_blocks_at_hwm_and_resumes_when_drained() {
    let ep = unused_tcp_endpoint();
    let ctx = Context::new();
    let push = sock(&ctx, SocketType::Push);
    push.set_sndhwm(16).unwrap();
    push.set_reconnect_ivl(Some(Duration::from_millis(20)))
        .unwrap();
    push.connect(&ep).unwrap();
    // Nobody listens yet: messages queue in the pipe up to the mark.
    for i in 0..16u32 {
        push.try_send(i.to_le_bytes().to_vec()).unwrap();
    }
    let e = push.try_send("over").unwrap_err();
    assert!(matches!(e.error, Error::WouldBlock));
    assert_eq!(&e.msg[..], b"over", "the message is handed back");
    let e = push
        .send_timeout("over", Duration::from_millis(50))
        .unwrap_err();
    assert!(matches!(e.error, Error::Timeout));
    // A reader appears: the queue drains and sends go through again.
    let pull = sock(&ctx, SocketType::Pull);
    pull.bind(&ep).unwrap();
    push.send("after").unwrap();
    for i in 0..16u32 {
        assert_eq!(&pull.recv().unwrap()[..], i.to_le_bytes());
    }
    assert_eq!(&pull.recv().unwrap()[..], b"after");
}

#[test]
fn linger_delivers_queued_messages_after_close() {
    let ep = unused_tcp_endpoint();
    let ctx = Context::new();
    let push = sock(&ctx, SocketType::Push);
    push.set_reconnect_ivl(Some(Duration::from_millis(20)))
        .unwrap();
    push.connect(&ep).unwrap();
    for i in 0..5u8 {
        push.send(vec![i]).unwrap();
    }
    drop(push); // default linger: deliver everything
    let pull = sock(&ctx, SocketType::Pull);
    pull.bind(&ep).unwrap();
    for i in 0..5u8 {
        assert_eq!(&pull.recv().unwrap()[..], [i]);
    }
}

#[test]
fn linger_zero_drops_queued_messages() {
    let ep = unused_tcp_endpoint();
    let ctx = Context::new();
    let push = sock(&ctx, SocketType::Push);
    push.set_linger(Some(Duration::ZERO)).unwrap();
    push.connect(&ep).unwrap();
    push.send("dropped").unwrap();
    drop(push);
    let pull = sock(&ctx, SocketType::Pull);
    pull.bind(&ep).unwrap();
    assert!(matches!(
        pull.recv_timeout(Duration::from_millis(300)),
        Err(Error::Timeout)
    ));
}

#[test]
fn shutdown_wakes_blocked_receiver() {
    let ctx = Context::new();
    let pull = ctx.socket(SocketType::Pull).unwrap();
    pull.bind("inproc://core-shutdown").unwrap();
    let ctx2 = ctx.clone();
    let h = std::thread::spawn(move || pull.recv());
    std::thread::sleep(Duration::from_millis(50));
    ctx2.shutdown();
    assert!(matches!(h.join().unwrap(), Err(Error::ContextTerminated)));
    assert!(matches!(
        ctx.socket(SocketType::Push),
        Err(Error::ContextTerminated)
    ));
}

/// Reads until the peer closes the connection (or 5 s pass: failure).
fn expect_closed(s: &mut TcpStream) {
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return,
            Ok(_) => continue,
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return,
            Err(e) => panic!("connection not closed by the server: {e}"),
        }
    }
}

#[test]
fn hostile_raw_clients_are_dropped_while_a_good_peer_is_served() {
    let ctx = Context::new();
    let pull = sock(&ctx, SocketType::Pull);
    pull.set_handshake_ivl(Some(Duration::from_millis(300)))
        .unwrap();
    let ep = pull.bind("tcp://127.0.0.1:*").unwrap();
    let addr = ep.trim_start_matches("tcp://").to_owned();
    let push = sock(&ctx, SocketType::Push);
    push.connect(&ep).unwrap();
    push.send("good-0").unwrap();
    assert_eq!(&pull.recv().unwrap()[..], b"good-0");

    // Random bytes.
    let mut x = 0x1234_5678_9abc_def0u64;
    let mut random = TcpStream::connect(&addr).unwrap();
    let junk: Vec<u8> = (0..4096)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    let _ = random.write_all(&junk);
    expect_closed(&mut random);

    // A wrong greeting (bad signature byte 9).
    let mut wrong = TcpStream::connect(&addr).unwrap();
    let mut g = null_greeting();
    g[9] = 0x7E;
    let _ = wrong.write_all(&g);
    expect_closed(&mut wrong);

    // An endless greeting: a valid start, then nothing (handshake timeout).
    let mut stall = TcpStream::connect(&addr).unwrap();
    stall.write_all(&null_greeting()[..5]).unwrap();
    expect_closed(&mut stall);

    // A frame announcing 2^63 bytes (over the protocol's limit) after a
    // proper handshake.
    let mut huge = TcpStream::connect(&addr).unwrap();
    huge.write_all(&null_greeting()).unwrap();
    huge.write_all(&ready_command("PUSH")).unwrap();
    huge.write_all(&[0x02, 0x80, 0, 0, 0, 0, 0, 0, 0]).unwrap();
    huge.write_all(&[0u8; 1024]).unwrap();
    expect_closed(&mut huge);

    // The good peer was served throughout.
    for i in 1..100u32 {
        push.send(format!("good-{i}")).unwrap();
    }
    for i in 1..100u32 {
        assert_eq!(pull.recv().unwrap()[..], *format!("good-{i}").as_bytes());
    }
}

/// A payload of `len` bytes that differs with `seed` and along its length.
fn pattern(seed: u32, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u32).wrapping_mul(31).wrapping_add(seed) as u8)
        .collect()
}

#[test]
fn tcp_large_frames_of_every_size_arrive_intact() {
    let ctx = Context::new();
    let pull = sock(&ctx, SocketType::Pull);
    let ep = pull.bind("tcp://127.0.0.1:*").unwrap();
    let push = sock(&ctx, SocketType::Push);
    push.set_sndhwm(4).unwrap();
    push.connect(&ep).unwrap();
    // Around the size where bodies get buffers of their own, around the
    // pool's size classes, and above the largest class.
    let sizes = [
        32 * 1024 - 1,
        32 * 1024,
        32 * 1024 + 1,
        65536,
        65545,
        100_000,
        1 << 20,
        4 << 20,
        (4 << 20) + 1,
        5_000_000,
        65536,
    ];
    let sender = std::thread::spawn(move || {
        for round in 0..3u32 {
            for (i, &len) in sizes.iter().enumerate() {
                let seed = round * 100 + i as u32;
                // A multipart message mixing small and large frames, then
                // the large frame alone.
                push.send_multipart(vec![
                    Msg::from("head"),
                    Msg::from(pattern(seed, len)),
                    Msg::from(pattern(seed + 1, 100)),
                ])
                .unwrap();
                push.send(pattern(seed + 2, len)).unwrap();
            }
        }
        push
    });
    let mut kept = Vec::new();
    for round in 0..3u32 {
        for (i, &len) in sizes.iter().enumerate() {
            let seed = round * 100 + i as u32;
            let parts = pull.recv_multipart().unwrap();
            assert_eq!(parts.len(), 3);
            assert_eq!(&parts[0][..], b"head");
            assert!(parts[1][..] == pattern(seed, len)[..], "size {len}");
            assert_eq!(&parts[2][..], &pattern(seed + 1, 100)[..]);
            let single = pull.recv().unwrap();
            assert!(!single.more());
            assert!(single[..] == pattern(seed + 2, len)[..], "size {len}");
            if round == 0 {
                kept.push((seed + 2, single));
            }
        }
    }
    // Messages outlive the context, its I/O thread and the buffer pool.
    drop(sender.join().unwrap());
    drop(pull);
    drop(ctx);
    for (i, (seed, m)) in kept.into_iter().enumerate() {
        assert!(m[..] == pattern(seed, sizes[i])[..]);
    }
}

#[test]
fn large_frames_dribbled_by_a_raw_peer_arrive_intact() {
    let ctx = Context::new();
    let pull = sock(&ctx, SocketType::Pull);
    let ep = pull.bind("tcp://127.0.0.1:*").unwrap();
    let mut raw = TcpStream::connect(ep.trim_start_matches("tcp://")).unwrap();
    raw.set_nodelay(true).unwrap();
    let mut stream = null_greeting();
    stream.extend(ready_command("PUSH"));
    let sizes = [70_000usize, 10, 40_000, 300, 65536, 33_000];
    for (i, &len) in sizes.iter().enumerate() {
        let flags = if len > 255 { 0x02 } else { 0x00 };
        stream.push(flags);
        if len > 255 {
            stream.extend((len as u64).to_be_bytes());
        } else {
            stream.push(len as u8);
        }
        stream.extend(pattern(i as u32, len));
    }
    // Uneven pieces with pauses, so headers and bodies are split across
    // reads at many points.
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    let mut at = 0;
    while at < stream.len() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let n = 1 + (x % 20_000) as usize;
        let end = (at + n).min(stream.len());
        raw.write_all(&stream[at..end]).unwrap();
        at = end;
        if x % 3 == 0 {
            std::thread::sleep(Duration::from_millis(2));
        }
    }
    for (i, &len) in sizes.iter().enumerate() {
        let m = pull.recv().unwrap();
        assert!(m[..] == pattern(i as u32, len)[..], "frame {i}");
    }
}

#[test]
fn closing_with_nothing_queued_ends_a_connection_still_in_its_handshake() {
    // A peer that accepts and never sends its greeting keeps the handshake
    // open until HANDSHAKE_IVL; a socket closed meanwhile with nothing to
    // deliver (default linger) closes the connection at once.
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let ep = format!("tcp://{}", l.local_addr().unwrap());
    let ctx = Context::new();
    let dealer = sock(&ctx, SocketType::Dealer);
    dealer
        .set_handshake_ivl(Some(Duration::from_secs(600)))
        .unwrap();
    let mut mon = dealer.monitor().unwrap();
    dealer.connect(&ep).unwrap();
    let (mut peer, _) = l.accept().unwrap();
    peer.set_read_timeout(Some(WAIT)).unwrap();
    // Its greeting arrives (at least the signature); then it waits for ours.
    let mut sig = [0u8; 10];
    peer.read_exact(&mut sig).unwrap();
    assert_eq!(sig[0], 0xFF);
    wait_for_event(&mut mon, ringmq::MonitorEventKind::Connected);
    drop(mon);
    drop(dealer);
    // The connection ends (EOF) without waiting for the handshake deadline.
    let mut rest = Vec::new();
    peer.read_to_end(&mut rest)
        .expect("the connection is closed, not left open");
}

#[test]
fn conflate_keeps_only_the_newest_message_of_a_connection() {
    let ctx = Context::new();
    let pull = sock(&ctx, SocketType::Pull);
    pull.set_conflate(true).unwrap();
    assert!(pull.conflate());
    let mut mon = pull.monitor().unwrap();
    let ep = pull.bind("tcp://127.0.0.1:*").unwrap();
    // A raw ZMTP peer: handshake, then many messages in one write, then it
    // closes. Once the connection is reported gone, the I/O thread has read
    // every byte of it.
    let mut s = raw_peer(&ep, &null_greeting(), "PUSH");
    let mut burst = Vec::new();
    for i in 1..=5000u32 {
        burst.extend(short_frame(format!("m{i}").as_bytes()));
    }
    s.write_all(&burst).unwrap();
    drop(s);
    wait_for_event(&mut mon, ringmq::MonitorEventKind::Disconnected);
    // Only the newest is left.
    assert_eq!(&pull.recv().unwrap()[..], b"m5000");
    assert!(matches!(
        pull.recv_timeout(Duration::from_millis(50)),
        Err(Error::Timeout)
    ));
}

#[test]
fn conflate_is_refused_where_it_cannot_apply() {
    let ctx = Context::new();
    for kind in [
        SocketType::Router,
        SocketType::Req,
        SocketType::Rep,
        SocketType::Pair,
        SocketType::XPub,
        SocketType::XSub,
    ] {
        let s = ctx.socket(kind).unwrap();
        assert!(
            matches!(s.set_conflate(true), Err(Error::NotSupported(_))),
            "{kind:?}"
        );
    }
}

/// Sends `n` numbered messages without waiting (each must find room).
fn send_numbered(s: &ringmq::Socket, n: u32) {
    for i in 1..=n {
        s.try_send(format!("m{i}"))
            .unwrap_or_else(|e| panic!("message {i} found no room: {e}"));
    }
}

/// Receives everything that is waiting, as strings.
fn drain(s: &ringmq::Socket) -> Vec<String> {
    let mut got = Vec::new();
    while let Ok(m) = s.try_recv() {
        got.push(String::from_utf8(m.to_vec()).unwrap());
    }
    got
}

#[test]
fn conflate_over_inproc_keeps_only_the_newest_message_each_way() {
    let ctx = Context::new();
    // The writer conflates (bind first).
    let pull = sock(&ctx, SocketType::Pull);
    pull.bind("inproc://conflate-a").unwrap();
    let push = sock(&ctx, SocketType::Push);
    push.set_conflate(true).unwrap();
    push.set_sndhwm(5).unwrap();
    push.connect("inproc://conflate-a").unwrap();
    send_numbered(&push, 3000);
    assert_eq!(drain(&pull), ["m3000"]);
    push.send("next").unwrap();
    assert_eq!(drain(&pull), ["next"]);

    // The reader conflates, the writer does not.
    let pull = sock(&ctx, SocketType::Pull);
    pull.set_conflate(true).unwrap();
    pull.bind("inproc://conflate-b").unwrap();
    let push = sock(&ctx, SocketType::Push);
    push.set_sndhwm(5).unwrap();
    push.connect("inproc://conflate-b").unwrap();
    send_numbered(&push, 3000);
    assert_eq!(drain(&pull), ["m3000"]);

    // A connect before the bind, conflating both ways (DEALER to DEALER),
    // multipart messages kept whole; the last message outlives its writer.
    let a = sock(&ctx, SocketType::Dealer);
    a.set_conflate(true).unwrap();
    a.connect("inproc://conflate-c").unwrap();
    send_numbered(&a, 100);
    a.send_multipart(["last", "of a"]).unwrap();
    let b = sock(&ctx, SocketType::Dealer);
    b.bind("inproc://conflate-c").unwrap();
    assert_eq!(strs(&b.recv_multipart().unwrap()), ["last", "of a"]);
    assert_eq!(drain(&b), Vec::<String>::new());
    send_numbered(&b, 100);
    assert_eq!(drain(&a), ["m100"]);
    a.send("bye").unwrap();
    drop(a);
    assert_eq!(&b.recv_timeout(WAIT).unwrap()[..], b"bye");

    // Without the option the same sends fill the pipe: the tests above
    // would fail.
    let pull = sock(&ctx, SocketType::Pull);
    pull.bind("inproc://conflate-d").unwrap();
    let push = sock(&ctx, SocketType::Push);
    push.set_sndhwm(5).unwrap();
    push.connect("inproc://conflate-d").unwrap();
    let mut sent = 0u32;
    while sent < 3000 && push.try_send("x").is_ok() {
        sent += 1;
    }
    assert!(sent < 3000, "a pipe that does not conflate has a mark");
}

#[test]
fn connect_from_a_source_address() {
    let ctx = Context::new();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    // Any port on 127.0.0.2.
    let push = sock(&ctx, SocketType::Push);
    push.connect(&format!("tcp://127.0.0.2:*;127.0.0.1:{port}"))
        .unwrap();
    let (_peer, from) = listener.accept().unwrap();
    assert_eq!(from.ip().to_string(), "127.0.0.2");
    // A given port: one that was free a moment ago.
    let free = std::net::TcpListener::bind("127.0.0.3:0").unwrap();
    let sport = free.local_addr().unwrap().port();
    drop(free);
    let push2 = sock(&ctx, SocketType::Push);
    push2
        .connect(&format!("tcp://127.0.0.3:{sport};127.0.0.1:{port}"))
        .unwrap();
    let (_peer2, from2) = listener.accept().unwrap();
    assert_eq!(from2.to_string(), format!("127.0.0.3:{sport}"));
    // A bind takes no source.
    let pull = sock(&ctx, SocketType::Pull);
    let err = pull.bind("tcp://127.0.0.2:*;127.0.0.1:*").unwrap_err();
    assert!(err.to_string().contains("connect only"), "{err}");
    assert!(matches!(
        pull.connect("tcp://eth0;127.0.0.1:5555"),
        Err(Error::InvalidEndpoint { .. })
    ));
}

#[test]
fn last_message_property_follows_the_peer_of_each_message() {
    let ctx = Context::new();
    let pull = sock(&ctx, SocketType::Pull);
    let ep = pull.bind("tcp://127.0.0.1:*").unwrap();
    let port = ep.rsplit(':').next().unwrap();
    // Two peers told apart by their source addresses.
    let mut pushes = Vec::new();
    for src in ["127.0.0.2", "127.0.0.3"] {
        let push = sock(&ctx, SocketType::Push);
        push.connect(&format!("tcp://{src};127.0.0.1:{port}"))
            .unwrap();
        pushes.push((src, push));
    }
    for round in 0..50 {
        for (src, push) in &pushes {
            push.send(format!("{src} {round}")).unwrap();
        }
    }
    for _ in 0..100 {
        let m = pull.recv().unwrap();
        let text = String::from_utf8(m.to_vec()).unwrap();
        let src = text.split(' ').next().unwrap();
        assert_eq!(
            pull.last_message_property("Peer-Address").as_deref(),
            Some(src),
            "{text}"
        );
        assert_eq!(
            pull.last_message_property("Socket-Type").as_deref(),
            Some("PUSH")
        );
    }

    // Inproc: the peer's type and routing id, no address; a multipart
    // message keeps its peer through its frames.
    let pair = sock(&ctx, SocketType::Pair);
    pair.bind("inproc://last-peer").unwrap();
    let other = sock(&ctx, SocketType::Pair);
    other.set_routing_id(&b"other"[..]).unwrap();
    other.connect("inproc://last-peer").unwrap();
    other.send_multipart(["one", "two"]).unwrap();
    assert!(pair.recv().unwrap().more());
    assert_eq!(
        pair.last_message_property("Socket-Type").as_deref(),
        Some("PAIR")
    );
    assert_eq!(&pair.recv().unwrap()[..], b"two");
    assert_eq!(
        pair.last_message_property("Identity").as_deref(),
        Some("other")
    );
    assert_eq!(pair.last_message_property("Peer-Address"), None);
    // The peer is still known after it is gone.
    other.send("last").unwrap();
    drop(other);
    assert_eq!(&pair.recv_timeout(WAIT).unwrap()[..], b"last");
    assert_eq!(
        pair.last_message_property("Identity").as_deref(),
        Some("other")
    );
}
