//! The poller (wake-ups, timeouts, writability, raw descriptors) and the
//! proxy (streamer, broker, steering, capture).

mod common;

use common::{sock, WAIT};

use std::io::Write;
use std::os::fd::AsRawFd;
use std::time::Duration;

use ringmq::{Context, Error, PollFlags, Poller, SocketType};

#[test]
fn poller_times_out_then_wakes_on_the_right_socket() {
    let ctx = Context::new();
    let a = sock(&ctx, SocketType::Pull);
    let ep = a.bind("tcp://127.0.0.1:*").unwrap();
    let b = sock(&ctx, SocketType::Pull);
    b.bind("inproc://poll-b").unwrap();
    let mut poller = Poller::new();
    let ia = poller.add_socket(&a, PollFlags::IN);
    let ib = poller.add_socket(&b, PollFlags::IN);
    assert!(poller
        .poll(Some(Duration::from_millis(20)))
        .unwrap()
        .is_empty());
    assert!(poller.poll(Some(Duration::ZERO)).unwrap().is_empty());
    // A sender on another thread, over TCP: the poller sleeps until then.
    let ctx2 = ctx.clone();
    let t = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(30));
        let push = sock(&ctx2, SocketType::Push);
        push.connect(&ep).unwrap();
        push.send("tcp").unwrap();
        push
    });
    let ready = poller.poll(Some(WAIT)).unwrap().to_vec();
    assert_eq!(ready.len(), 1);
    assert_eq!(ready[0].index, ia);
    assert!(ready[0].readable && !ready[0].writable);
    drop(poller);
    assert_eq!(&a.try_recv().unwrap()[..], b"tcp");
    let _push = t.join().unwrap();
    // Now the inproc one, from another thread.
    let mut poller = Poller::new();
    poller.add_socket(&a, PollFlags::IN);
    poller.add_socket(&b, PollFlags::IN);
    let ctx3 = ctx.clone();
    let t = std::thread::spawn(move || {
        let push = sock(&ctx3, SocketType::Push);
        push.connect("inproc://poll-b").unwrap();
        std::thread::sleep(Duration::from_millis(20));
        push.send("inproc").unwrap();
        push
    });
    let ready = poller.poll(None).unwrap().to_vec();
    assert_eq!(ready.iter().map(|e| e.index).collect::<Vec<_>>(), vec![ib]);
    drop(poller);
    assert_eq!(&b.try_recv().unwrap()[..], b"inproc");
    let _ = t.join().unwrap();
}

#[test]
fn poller_writable_follows_the_high_water_mark() {
    let ctx = Context::new();
    let pull = sock(&ctx, SocketType::Pull);
    pull.set_rcvhwm(4).unwrap();
    pull.bind("inproc://poll-hwm").unwrap();
    let push = sock(&ctx, SocketType::Push);
    push.set_sndhwm(4).unwrap();
    push.connect("inproc://poll-hwm").unwrap();
    while push.try_send("fill").is_ok() {}
    let mut poller = Poller::new();
    poller.add_socket(&push, PollFlags::OUT);
    assert!(poller
        .poll(Some(Duration::from_millis(20)))
        .unwrap()
        .is_empty());
    let t = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(20));
        pull.recv().unwrap();
        pull
    });
    let ready = poller.poll(Some(WAIT)).unwrap().to_vec();
    assert!(ready[0].writable);
    drop(poller);
    push.try_send("one more").unwrap();
    drop(t.join().unwrap());
}

#[test]
fn poller_mixes_sockets_and_raw_fds() {
    let ctx = Context::new();
    let s = sock(&ctx, SocketType::Pull);
    s.bind("inproc://poll-fd").unwrap();
    let (mut tx, rx) = std::os::unix::net::UnixStream::pair().unwrap();
    let mut poller = Poller::new();
    poller.add_socket(&s, PollFlags::IN);
    let ifd = poller.add_fd(rx.as_raw_fd(), PollFlags::IN).unwrap();
    assert!(poller
        .poll(Some(Duration::from_millis(10)))
        .unwrap()
        .is_empty());
    tx.write_all(b"x").unwrap();
    let ready = poller.poll(Some(WAIT)).unwrap().to_vec();
    assert_eq!(ready.len(), 1);
    assert_eq!(ready[0].index, ifd);
    // Level-triggered: unread data is reported again.
    let ready = poller.poll(Some(WAIT)).unwrap().to_vec();
    assert_eq!(ready[0].index, ifd);
    // A socket wakes a poller sleeping in epoll too.
    let ctx2 = ctx.clone();
    let t = std::thread::spawn(move || {
        let push = sock(&ctx2, SocketType::Push);
        push.connect("inproc://poll-fd").unwrap();
        std::thread::sleep(Duration::from_millis(20));
        push.send("m").unwrap();
        push
    });
    let mut poller = Poller::new();
    let is = poller.add_socket(&s, PollFlags::IN);
    let (_tx2, rx2) = std::os::unix::net::UnixStream::pair().unwrap();
    poller.add_fd(rx2.as_raw_fd(), PollFlags::IN).unwrap();
    let ready = poller.poll(Some(WAIT)).unwrap().to_vec();
    assert_eq!(ready[0].index, is);
    drop(t.join().unwrap());
}

#[test]
fn poller_returns_on_context_shutdown() {
    let ctx = Context::new();
    let s = sock(&ctx, SocketType::Pull);
    s.bind("inproc://poll-term").unwrap();
    let ctx2 = ctx.clone();
    let t = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(20));
        ctx2.shutdown();
    });
    let mut poller = Poller::new();
    poller.add_socket(&s, PollFlags::IN);
    assert!(matches!(
        poller.poll(Some(WAIT)),
        Err(Error::ContextTerminated)
    ));
    t.join().unwrap();
}

/// A shutdown that lands at any point of a poll ends it: the poll must not
/// go to sleep on a wake-up it missed while it was announcing its sleep.
/// Many rounds, with the shutdown at varying moments.
#[test]
fn poller_never_misses_a_shutdown() {
    for round in 0..300u64 {
        let ctx = Context::new();
        let s = sock(&ctx, SocketType::Pull);
        s.bind("inproc://poll-race").unwrap();
        let (done_tx, done_rx) = std::sync::mpsc::channel();
        let t = std::thread::spawn(move || {
            let mut poller = Poller::new();
            poller.add_socket(&s, PollFlags::IN);
            let r = poller.poll(None).map(|e| e.len());
            let _ = done_tx.send(());
            r
        });
        // Spin for a varying while, so the shutdown falls before, during
        // and after the poll's announcement of its sleep.
        let spin = std::time::Instant::now();
        while spin.elapsed() < Duration::from_micros(round % 50) {
            std::hint::spin_loop();
        }
        ctx.shutdown();
        assert!(
            done_rx.recv_timeout(WAIT).is_ok(),
            "round {round}: the poll slept through the shutdown"
        );
        assert!(matches!(t.join().unwrap(), Err(Error::ContextTerminated)));
    }
}

#[test]
fn proxy_broker_with_capture_and_steering() {
    let ctx = Context::new();
    let front = sock(&ctx, SocketType::Router);
    front.bind("inproc://px-front").unwrap();
    let back = sock(&ctx, SocketType::Dealer);
    back.bind("inproc://px-back").unwrap();
    let capture = sock(&ctx, SocketType::Push);
    capture.bind("inproc://px-capture").unwrap();
    let control = sock(&ctx, SocketType::Pair);
    control.bind("inproc://px-control").unwrap();
    let steer = sock(&ctx, SocketType::Pair);
    steer.connect("inproc://px-control").unwrap();
    let tap = sock(&ctx, SocketType::Pull);
    tap.connect("inproc://px-capture").unwrap();
    let proxy = std::thread::spawn(move || {
        ringmq::proxy_steerable(&front, &back, Some(&capture), &control)
    });
    let rep = sock(&ctx, SocketType::Rep);
    rep.connect("inproc://px-back").unwrap();
    let req = sock(&ctx, SocketType::Req);
    req.connect("inproc://px-front").unwrap();
    req.send("hello").unwrap();
    assert_eq!(&rep.recv().unwrap()[..], b"hello");
    rep.send("world").unwrap();
    assert_eq!(&req.recv().unwrap()[..], b"world");
    // Both directions were captured, whole (ROUTER envelope included).
    let c1 = tap.recv_multipart().unwrap();
    assert_eq!(&c1.last().unwrap()[..], b"hello");
    let c2 = tap.recv_multipart().unwrap();
    assert_eq!(&c2.last().unwrap()[..], b"world");
    // Paused: requests wait in the proxy's sockets; resumed: they flow.
    // A command sent before a request is obeyed before the request moves.
    steer.send("PAUSE").unwrap();
    req.send("queued").unwrap();
    assert!(matches!(
        rep.recv_timeout(Duration::from_millis(50)),
        Err(Error::Timeout)
    ));
    steer.send("RESUME").unwrap();
    assert_eq!(&rep.recv().unwrap()[..], b"queued");
    steer.send("TERMINATE").unwrap();
    proxy.join().unwrap().unwrap();
}

#[test]
fn proxy_streamer_and_stop_by_shutdown() {
    let ctx = Context::new();
    let front = sock(&ctx, SocketType::Pull);
    front.bind("inproc://ps-in").unwrap();
    let back = sock(&ctx, SocketType::Push);
    back.bind("inproc://ps-out").unwrap();
    let proxy = std::thread::spawn(move || ringmq::proxy(&front, &back, None));
    let input = sock(&ctx, SocketType::Push);
    input.connect("inproc://ps-in").unwrap();
    let out = sock(&ctx, SocketType::Pull);
    out.connect("inproc://ps-out").unwrap();
    for i in 0..2000u32 {
        input.send(i.to_le_bytes().to_vec()).unwrap();
    }
    for i in 0..2000u32 {
        assert_eq!(&out.recv().unwrap()[..], i.to_le_bytes());
    }
    ctx.shutdown();
    assert!(matches!(
        proxy.join().unwrap(),
        Err(Error::ContextTerminated)
    ));
}

/// An external loop (mio, edge-triggered) watching `fd` for readability.
fn watch_readable(fd: std::os::fd::RawFd) -> (mio::Poll, mio::Events) {
    use mio::unix::SourceFd;
    let poll = mio::Poll::new().unwrap();
    poll.registry()
        .register(&mut SourceFd(&fd), mio::Token(0), mio::Interest::READABLE)
        .unwrap();
    (poll, mio::Events::with_capacity(4))
}

/// Waits (an external loop: mio, edge-triggered) until `fd` turns readable.
fn wait_fd_readable(poll: &mut mio::Poll, events: &mut mio::Events) {
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let left = deadline
            .checked_duration_since(std::time::Instant::now())
            .expect("the event descriptor did not turn readable");
        poll.poll(events, Some(left)).unwrap();
        if events.iter().any(|e| e.is_readable()) {
            return;
        }
    }
}

#[test]
fn event_fd_tells_an_external_loop_when_to_receive() {
    let ctx = Context::new();
    let pull = sock(&ctx, SocketType::Pull);
    let ep = pull.bind("tcp://127.0.0.1:*").unwrap();
    let fd = pull.fd().unwrap();
    assert_eq!(pull.fd().unwrap(), fd, "one descriptor per socket");
    let (mut poll, mut events) = watch_readable(fd);
    let push = sock(&ctx, SocketType::Push);
    push.connect(&ep).unwrap();
    for round in 0..20 {
        // Nothing to receive: events() arms the descriptor, which stays
        // quiet until something happens (past the first round, where the
        // connection may still be arriving).
        assert!(!pull.events().unwrap().readable, "round {round}");
        if round > 0 {
            poll.poll(&mut events, Some(Duration::ZERO)).unwrap();
            assert!(events.is_empty(), "round {round}: raised with nothing new");
        }
        push.send(format!("m{round}")).unwrap();
        wait_fd_readable(&mut poll, &mut events);
        // The loop was woken: events() says what is there.
        let mut got = None;
        let mut wakeups = 1;
        while got.is_none() {
            if pull.events().unwrap().readable {
                got = Some(pull.try_recv().unwrap());
            } else {
                // Woken by a pipe notice (the connection arriving): wait
                // for the next change.
                wait_fd_readable(&mut poll, &mut events);
                wakeups += 1;
            }
        }
        // One wake-up for the message, and in the first round perhaps one
        // for the connection: the descriptor does not spin.
        assert!(wakeups <= 3, "round {round}: {wakeups} wake-ups");
        assert_eq!(got.unwrap().to_vec(), format!("m{round}").into_bytes());
        assert!(matches!(pull.try_recv(), Err(Error::WouldBlock)));
    }
}

#[test]
fn event_fd_tells_an_external_loop_when_to_send() {
    let ctx = Context::new();
    let pull = sock(&ctx, SocketType::Pull);
    pull.set_rcvhwm(2).unwrap();
    pull.bind("inproc://event-fd-send").unwrap();
    let push = sock(&ctx, SocketType::Push);
    push.set_sndhwm(2).unwrap();
    push.connect("inproc://event-fd-send").unwrap();
    let fd = push.fd().unwrap();
    let (mut poll, mut events) = watch_readable(fd);
    let mut sent = 0;
    while push.events().unwrap().writable {
        push.try_send("x").unwrap();
        sent += 1;
        assert!(sent <= 4, "the pipe holds SNDHWM + RCVHWM");
    }
    assert_eq!(sent, 4);
    // Full: events() armed the descriptor for room; it stays quiet until
    // room appears.
    assert!(!push.events().unwrap().writable);
    poll.poll(&mut events, Some(Duration::ZERO)).unwrap();
    assert!(events.is_empty(), "raised while the pipe is still full");
    assert_eq!(&pull.recv().unwrap()[..], b"x");
    wait_fd_readable(&mut poll, &mut events);
    assert!(push.events().unwrap().writable);
    push.try_send("y").unwrap();
}
