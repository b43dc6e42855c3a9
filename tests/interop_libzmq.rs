//! PUSH/PULL and PAIR against real libzmq (built from source by the `zmq`
//! crate), over TCP and IPC, in both directions.

mod common;

use common::{sock, unused_tcp_endpoint, zsock, WAIT};

use std::time::Duration;

use ringmq::{Context, Error, SocketType};

fn zctx() -> zmq::Context {
    zmq::Context::new()
}

fn zbind(s: &zmq::Socket, ep: &str) -> String {
    s.bind(ep).unwrap();
    s.get_last_endpoint().unwrap().unwrap()
}

fn ipc_path(tag: &str) -> String {
    let dir = std::env::temp_dir();
    format!(
        "ipc://{}/ringmq-interop-{}-{}.sock",
        dir.display(),
        tag,
        std::process::id()
    )
}

fn ringmq_push_to_libzmq_pull(ep: &str) {
    let z = zctx();
    let pull = zsock(&z, zmq::PULL);
    let ep = zbind(&pull, ep);
    let ctx = Context::new();
    let push = sock(&ctx, SocketType::Push);
    push.connect(&ep).unwrap();
    for i in 0..1000u32 {
        push.send(i.to_be_bytes().to_vec()).unwrap();
    }
    for i in 0..1000u32 {
        let m = pull.recv_bytes(0).unwrap();
        assert_eq!(m, i.to_be_bytes());
    }
}

fn libzmq_push_to_ringmq_pull(ep: &str) {
    let ctx = Context::new();
    let pull = sock(&ctx, SocketType::Pull);
    let ep = pull.bind(ep).unwrap();
    let z = zctx();
    let push = zsock(&z, zmq::PUSH);
    push.connect(&ep).unwrap();
    for i in 0..1000u32 {
        push.send(&i.to_be_bytes()[..], 0).unwrap();
    }
    for i in 0..1000u32 {
        let m = pull.recv().unwrap();
        assert_eq!(&m[..], i.to_be_bytes());
        assert!(!m.more());
    }
}

#[test]
fn push_to_libzmq_pull_tcp() {
    ringmq_push_to_libzmq_pull("tcp://127.0.0.1:*");
}

#[test]
fn push_to_libzmq_pull_ipc() {
    ringmq_push_to_libzmq_pull(&ipc_path("push-pull"));
}

#[test]
fn libzmq_push_to_pull_tcp() {
    libzmq_push_to_ringmq_pull("tcp://127.0.0.1:*");
}

#[test]
fn libzmq_push_to_pull_ipc() {
    libzmq_push_to_ringmq_pull(&ipc_path("pull-push"));
}

#[test]
fn pair_both_ways_with_either_side_binding() {
    // ringmq binds, libzmq connects.
    let ctx = Context::new();
    let z = zctx();
    let a = sock(&ctx, SocketType::Pair);
    let ep = a.bind("tcp://127.0.0.1:*").unwrap();
    let b = zsock(&z, zmq::PAIR);
    b.connect(&ep).unwrap();
    a.send("ping").unwrap();
    assert_eq!(b.recv_bytes(0).unwrap(), b"ping");
    b.send("pong", 0).unwrap();
    assert_eq!(&a.recv().unwrap()[..], b"pong");

    // libzmq binds, ringmq connects.
    let c = zsock(&z, zmq::PAIR);
    let ep = zbind(&c, "tcp://127.0.0.1:*");
    let d = sock(&ctx, SocketType::Pair);
    d.connect(&ep).unwrap();
    d.send("hello").unwrap();
    assert_eq!(c.recv_bytes(0).unwrap(), b"hello");
    c.send("world", 0).unwrap();
    assert_eq!(&d.recv().unwrap()[..], b"world");
}

#[test]
fn multipart_with_empty_frames_both_ways() {
    let ctx = Context::new();
    let z = zctx();
    let pull = sock(&ctx, SocketType::Pull);
    let ep = pull.bind("tcp://127.0.0.1:*").unwrap();
    let zpush = zsock(&z, zmq::PUSH);
    zpush.connect(&ep).unwrap();
    let parts: Vec<&[u8]> = vec![b"", b"a", b"", b"bcd", b""];
    zpush.send_multipart(parts.iter(), 0).unwrap();
    let got = pull.recv_multipart().unwrap();
    let got: Vec<Vec<u8>> = got.iter().map(|m| m.to_vec()).collect();
    assert_eq!(got, parts.iter().map(|p| p.to_vec()).collect::<Vec<_>>());

    let zpull = zsock(&z, zmq::PULL);
    let ep2 = zbind(&zpull, "tcp://127.0.0.1:*");
    let push = sock(&ctx, SocketType::Push);
    push.connect(&ep2).unwrap();
    push.send_multipart(parts.iter().copied()).unwrap();
    let got = zpull.recv_multipart(0).unwrap();
    assert_eq!(got, parts.iter().map(|p| p.to_vec()).collect::<Vec<_>>());
}

fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

#[test]
fn large_messages_both_ways() {
    let ctx = Context::new();
    let z = zctx();
    let pull = sock(&ctx, SocketType::Pull);
    let ep = pull.bind("tcp://127.0.0.1:*").unwrap();
    let zpush = zsock(&z, zmq::PUSH);
    zpush.connect(&ep).unwrap();
    let zpull = zsock(&z, zmq::PULL);
    let ep2 = zbind(&zpull, "tcp://127.0.0.1:*");
    let push = sock(&ctx, SocketType::Push);
    push.connect(&ep2).unwrap();
    for (i, size) in [1 << 20, 16 << 20].into_iter().enumerate() {
        let body = pattern(size, i as u8);
        zpush.send(&body[..], 0).unwrap();
        let got = pull.recv().unwrap();
        assert_eq!(got.len(), size);
        assert!(got[..] == body[..], "libzmq -> ringmq {size} bytes differ");

        push.send(body.clone()).unwrap();
        let got = zpull.recv_bytes(0).unwrap();
        assert!(got == body, "ringmq -> libzmq {size} bytes differ");
    }
}

#[test]
fn hundred_thousand_in_order_none_lost() {
    let ctx = Context::new();
    let z = zctx();
    let pull = sock(&ctx, SocketType::Pull);
    let ep = pull.bind("tcp://127.0.0.1:*").unwrap();
    let zpush = zsock(&z, zmq::PUSH);
    zpush.connect(&ep).unwrap();
    let n = 100_000u32;
    let sender = std::thread::spawn(move || {
        for i in 0..n {
            zpush.send(&i.to_le_bytes()[..], 0).unwrap();
        }
        zpush
    });
    for i in 0..n {
        let m = pull.recv().unwrap();
        assert_eq!(u32::from_le_bytes(m[..].try_into().unwrap()), i);
    }
    drop(sender.join().unwrap());
    assert!(matches!(pull.try_recv(), Err(Error::WouldBlock)));

    // And the other way.
    let zpull = zsock(&z, zmq::PULL);
    let ep2 = zbind(&zpull, "tcp://127.0.0.1:*");
    let push = sock(&ctx, SocketType::Push);
    push.connect(&ep2).unwrap();
    let receiver = std::thread::spawn(move || {
        for i in 0..n {
            let m = zpull.recv_bytes(0).unwrap();
            assert_eq!(u32::from_le_bytes(m[..].try_into().unwrap()), i);
        }
    });
    for i in 0..n {
        push.send(i.to_le_bytes().to_vec()).unwrap();
    }
    receiver.join().unwrap();
}

#[test]
fn libzmq_connects_before_ringmq_binds() {
    // Reserve a port, free it, have libzmq connect to it, then bind it.
    let ep = unused_tcp_endpoint();
    let z = zctx();
    let zpush = zsock(&z, zmq::PUSH);
    zpush.connect(&ep).unwrap();
    std::thread::sleep(Duration::from_millis(150));
    let ctx = Context::new();
    let pull = sock(&ctx, SocketType::Pull);
    pull.bind(&ep).unwrap();
    zpush.send("late", 0).unwrap();
    assert_eq!(&pull.recv().unwrap()[..], b"late");
}

#[test]
fn ringmq_side_restarted_mid_stream_resumes() {
    let ep = unused_tcp_endpoint();
    let z = zctx();
    let zpush = zsock(&z, zmq::PUSH);
    zpush.set_reconnect_ivl(20).unwrap();
    zpush.connect(&ep).unwrap();
    {
        let ctx = Context::new();
        let pull = sock(&ctx, SocketType::Pull);
        pull.set_linger(Some(Duration::ZERO)).unwrap();
        pull.bind(&ep).unwrap();
        zpush.send("before", 0).unwrap();
        assert_eq!(&pull.recv().unwrap()[..], b"before");
        // The ringmq side goes away (context and socket dropped).
    }
    let ctx = Context::new();
    let pull = sock(&ctx, SocketType::Pull);
    pull.bind(&ep).unwrap();
    // libzmq reconnects by itself; messages sent now arrive on the new side.
    for i in 0..100u32 {
        zpush.send(&i.to_be_bytes()[..], 0).unwrap();
    }
    for i in 0..100u32 {
        assert_eq!(&pull.recv().unwrap()[..], i.to_be_bytes());
    }
}

#[test]
fn ringmq_connecter_survives_libzmq_restart() {
    let ep = unused_tcp_endpoint();
    let ctx = Context::new();
    let push = sock(&ctx, SocketType::Push);
    push.set_reconnect_ivl(Some(Duration::from_millis(20)))
        .unwrap();
    let mut mon = push.monitor().unwrap();
    push.connect(&ep).unwrap();
    {
        let z = zctx();
        let pull = zsock(&z, zmq::PULL);
        pull.set_linger(0).unwrap();
        pull.bind(&ep).unwrap();
        push.send("one").unwrap();
        assert_eq!(pull.recv_bytes(0).unwrap(), b"one");
    }
    // Once the loss of the connection is noticed (a message written before
    // that goes into the dying connection, for ringmq as for libzmq),
    // messages sent while reconnecting queue in the pipe and arrive.
    loop {
        let ev = mon.recv_timeout(WAIT).unwrap();
        if ev.kind == ringmq::MonitorEventKind::Disconnected {
            break;
        }
    }
    let z = zctx();
    let pull = zsock(&z, zmq::PULL);
    pull.bind(&ep).unwrap();
    push.send("two").unwrap();
    assert_eq!(pull.recv_bytes(0).unwrap(), b"two");
}

#[test]
fn maxmsgsize_violation_disconnects_only_that_peer() {
    let ctx = Context::new();
    let pull = sock(&ctx, SocketType::Pull);
    pull.set_maxmsgsize(Some(1024)).unwrap();
    let ep = pull.bind("tcp://127.0.0.1:*").unwrap();
    let z = zctx();
    let good = zsock(&z, zmq::PUSH);
    good.connect(&ep).unwrap();
    let bad = zsock(&z, zmq::PUSH);
    bad.set_reconnect_ivl(-1).unwrap();
    bad.connect(&ep).unwrap();
    good.send("first", 0).unwrap();
    assert_eq!(&pull.recv().unwrap()[..], b"first");
    bad.send(&vec![7u8; 4096][..], 0).unwrap();
    // The good peer keeps being served.
    for i in 0..50u32 {
        good.send(&i.to_be_bytes()[..], 0).unwrap();
    }
    for i in 0..50u32 {
        let m = pull.recv().unwrap();
        assert_eq!(&m[..], i.to_be_bytes(), "oversized message must not arrive");
    }
    assert!(matches!(
        pull.recv_timeout(Duration::from_millis(200)),
        Err(Error::Timeout)
    ));
}
