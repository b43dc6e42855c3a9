//! Byte-exact wire vectors (RFC 23/24/37 and libzmq behaviour), decoder
//! chunking invariance, and one test per malformed-input class.

use std::time::Instant;

use bytes::{Bytes, BytesMut};
use ringmq::msg::Msg;
use ringmq::zmtp::{
    AuthStatus, Config, Connection, Error, Event, Frame, FrameDecoder, Greeting, Mechanism,
    MechanismName, SocketType, MAX_FRAME_BODY, MAX_MESSAGE_FRAMES, MAX_READ_RESERVE,
};

// ---------------------------------------------------------------- helpers

fn greeting_bytes(mech: &[u8], major: u8, minor: u8, as_server: u8) -> Vec<u8> {
    let mut g = vec![0xFF, 0, 0, 0, 0, 0, 0, 0, 1, 0x7F, major, minor];
    let mut m = mech.to_vec();
    m.resize(20, 0);
    g.extend_from_slice(&m);
    g.push(as_server);
    g.extend_from_slice(&[0; 31]);
    assert_eq!(g.len(), 64);
    g
}

fn cmd(name: &[u8], data: &[u8]) -> Vec<u8> {
    let len = 1 + name.len() + data.len();
    let mut v = if len > 255 {
        let mut v = vec![0x06];
        v.extend_from_slice(&(len as u64).to_be_bytes());
        v
    } else {
        vec![0x04, len as u8]
    };
    v.push(name.len() as u8);
    v.extend_from_slice(name);
    v.extend_from_slice(data);
    v
}

fn prop(name: &[u8], value: &[u8]) -> Vec<u8> {
    let mut v = vec![name.len() as u8];
    v.extend_from_slice(name);
    v.extend_from_slice(&(value.len() as u32).to_be_bytes());
    v.extend_from_slice(value);
    v
}

fn ready(socket_type: &[u8]) -> Vec<u8> {
    cmd(b"READY", &prop(b"Socket-Type", socket_type))
}

fn conn(st: SocketType) -> Connection {
    Connection::new(Config::new(st), Instant::now()).unwrap()
}

fn take_out(c: &mut Connection) -> Vec<u8> {
    c.transmit().take_all().to_vec()
}

fn feed(c: &mut Connection, bytes: &[u8]) -> Result<(), Error> {
    let mut rx = BytesMut::from(bytes);
    c.handle_input(&mut rx, Instant::now())
}

fn events(c: &mut Connection) -> Vec<Event> {
    std::iter::from_fn(|| c.poll_event()).collect()
}

/// A connection of type `ours` that finished a NULL handshake with a peer
/// of type `peer` speaking minor version `minor`; its output so far is
/// drained.
fn ready_conn(ours: SocketType, peer: &[u8], minor: u8) -> Connection {
    let mut c = conn(ours);
    let mut input = greeting_bytes(b"NULL", 3, minor, 0);
    input.extend(ready(peer));
    feed(&mut c, &input).unwrap();
    assert!(matches!(events(&mut c)[..], [Event::Ready(_)]));
    take_out(&mut c);
    c
}

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

fn decode_chunked(stream: &[u8], max: Option<u64>, mut split: impl FnMut() -> usize) -> Vec<Frame> {
    let mut dec = FrameDecoder::new(max);
    let mut rx = BytesMut::new();
    let mut frames = Vec::new();
    let mut at = 0;
    while at < stream.len() {
        let end = (at + split()).min(stream.len());
        rx.extend_from_slice(&stream[at..end]);
        at = end;
        while let Some(f) = dec.decode(&mut rx).unwrap() {
            frames.push(f);
        }
    }
    assert!(rx.is_empty());
    frames
}

// ---------------------------------------------------------------- vectors

#[test]
fn greeting_null_31_is_byte_exact() {
    let mut c = conn(SocketType::Pull);
    let out = take_out(&mut c);
    let expected: Vec<u8> = [
        &[0xFF, 0, 0, 0, 0, 0, 0, 0, 0x01, 0x7F, 0x03, 0x01][..],
        b"NULL",
        &[0; 16],
        &[0x00],
        &[0; 31],
    ]
    .concat();
    assert_eq!(out, expected);
    assert_eq!(out, greeting_bytes(b"NULL", 3, 1, 0));
}

#[test]
fn greeting_plain_as_server_is_byte_exact() {
    let mut cfg = Config::new(SocketType::Rep);
    cfg.mechanism = Mechanism::plain_server(|_| Ok(String::new()));
    let mut c = Connection::new(cfg, Instant::now()).unwrap();
    let out = take_out(&mut c);
    assert_eq!(out, greeting_bytes(b"PLAIN", 3, 1, 1));
    assert_eq!(out[32], 1);
    let g = Greeting::parse(&out).unwrap();
    assert_eq!(g.mechanism, MechanismName::Plain);
    assert!(g.as_server);

    let mut client = Config::new(SocketType::Req);
    client.mechanism = Mechanism::plain_client("u", "p");
    let mut c = Connection::new(client, Instant::now()).unwrap();
    assert_eq!(take_out(&mut c), greeting_bytes(b"PLAIN", 3, 1, 0));
}

#[test]
fn dealer_ready_matches_worked_example() {
    let mut c = conn(SocketType::Dealer);
    take_out(&mut c);
    feed(&mut c, &greeting_bytes(b"NULL", 3, 1, 0)).unwrap();
    let expected: Vec<u8> = [
        &[0x04, 0x29, 0x05][..],
        b"READY",
        &[0x0B],
        b"Socket-Type",
        &[0, 0, 0, 6],
        b"DEALER",
        &[0x08],
        b"Identity",
        &[0, 0, 0, 0],
    ]
    .concat();
    assert_eq!(expected.len(), 2 + 0x29);
    assert_eq!(take_out(&mut c), expected);
}

#[test]
fn push_ready_has_no_identity_and_router_ready_is_accepted() {
    let mut c = conn(SocketType::Push);
    take_out(&mut c);
    feed(&mut c, &greeting_bytes(b"NULL", 3, 1, 0)).unwrap();
    assert_eq!(take_out(&mut c), ready(b"PUSH"));

    // The ROUTER reply of the worked example: a 28-byte body, Socket-Type
    // only.
    let mut d = conn(SocketType::Dealer);
    let mut input = greeting_bytes(b"NULL", 3, 1, 0);
    let router_ready = ready(b"ROUTER");
    assert_eq!(router_ready[1], 28);
    input.extend(router_ready);
    feed(&mut d, &input).unwrap();
    let Event::Ready(p) = d.poll_event().unwrap() else {
        panic!("expected Ready")
    };
    assert_eq!(p.socket_type, SocketType::Router);
    assert_eq!(p.identity, None);
    assert_eq!(p.minor_version, 1);
}

#[test]
fn libzmq_434_plain_error_is_read_as_error() {
    // libzmq 4.3.4's PLAIN server writes the ERROR name as `^RROR` (its C
    // string "\x05ERROR" swallows the `E` into the length's hex escape).
    let mut cfg = Config::new(SocketType::Push);
    cfg.mechanism = Mechanism::plain_client("admin", "guess");
    let mut client = Connection::new(cfg, Instant::now()).unwrap();
    take_out(&mut client);
    feed(&mut client, &greeting_bytes(b"PLAIN", 3, 1, 1)).unwrap();
    take_out(&mut client);
    let error: Vec<u8> = [&[0x04, 0x09][..], b"^RROR", &[3], b"400"].concat();
    assert_eq!(
        feed(&mut client, &error),
        Err(Error::PeerError("400".into()))
    );
    // A long-named command that really is cut short is still refused.
    let mut client = Connection::new(Config::new(SocketType::Push), Instant::now()).unwrap();
    take_out(&mut client);
    feed(&mut client, &greeting_bytes(b"NULL", 3, 1, 0)).unwrap();
    let cut: Vec<u8> = [&[0x04, 0x05][..], b"^RRXR"].concat();
    assert!(matches!(
        feed(&mut client, &cut),
        Err(Error::MalformedCommand(_))
    ));
}

#[test]
fn plain_hello_welcome_initiate_ready_are_byte_exact() {
    let mut cfg = Config::new(SocketType::Push);
    cfg.mechanism = Mechanism::plain_client("admin", "secret");
    let mut client = Connection::new(cfg, Instant::now()).unwrap();
    take_out(&mut client);
    feed(&mut client, &greeting_bytes(b"PLAIN", 3, 1, 1)).unwrap();
    let hello: Vec<u8> = [
        &[0x04, 0x13, 0x05][..],
        b"HELLO",
        &[5],
        b"admin",
        &[6],
        b"secret",
    ]
    .concat();
    assert_eq!(take_out(&mut client), hello);

    let welcome: Vec<u8> = [&[0x04, 0x08, 0x07][..], b"WELCOME"].concat();
    feed(&mut client, &welcome).unwrap();
    let initiate: Vec<u8> = [
        &[0x04, 0x1D, 0x08][..],
        b"INITIATE",
        &[0x0B],
        b"Socket-Type",
        &[0, 0, 0, 4],
        b"PUSH",
    ]
    .concat();
    assert_eq!(take_out(&mut client), initiate);
    assert!(client.poll_event().is_none());
    feed(&mut client, &ready(b"PULL")).unwrap();
    assert!(matches!(client.poll_event(), Some(Event::Ready(_))));

    // The server side answers the same HELLO with exactly WELCOME, and the
    // INITIATE with READY.
    let mut scfg = Config::new(SocketType::Pull);
    scfg.mechanism = Mechanism::plain_server(|c| {
        assert_eq!(c.username, b"admin");
        assert_eq!(c.password, b"secret");
        Ok("admin".into())
    });
    let mut server = Connection::new(scfg, Instant::now()).unwrap();
    take_out(&mut server);
    let mut input = greeting_bytes(b"PLAIN", 3, 1, 0);
    input.extend(&hello);
    feed(&mut server, &input).unwrap();
    assert_eq!(take_out(&mut server), welcome);
    feed(&mut server, &initiate).unwrap();
    assert_eq!(take_out(&mut server), ready(b"PULL"));
    let Some(Event::Ready(p)) = server.poll_event() else {
        panic!("expected Ready")
    };
    assert_eq!(p.user_id.as_deref(), Some("admin"));
}

#[test]
fn frames_at_the_short_long_boundary() {
    let mut c = ready_conn(SocketType::Push, b"PULL", 1);
    c.send_msg(&Msg::from(vec![0xAA; 255])).unwrap();
    c.send_msg(&Msg::from(vec![0xBB; 256])).unwrap();
    c.send_msg(&Msg::new()).unwrap();
    let out = take_out(&mut c);
    let mut expected = vec![0x00, 0xFF];
    expected.extend([0xAA; 255]);
    expected.extend([0x02, 0, 0, 0, 0, 0, 0, 0x01, 0x00]);
    expected.extend([0xBB; 256]);
    expected.extend([0x00, 0x00]);
    assert_eq!(out, expected);

    let frames = decode_chunked(&out, None, || out.len());
    assert_eq!(
        frames,
        vec![
            Frame::Message(Msg::from(vec![0xAA; 255])),
            Frame::Message(Msg::from(vec![0xBB; 256])),
            Frame::Message(Msg::new()),
        ]
    );
}

#[test]
fn multipart_message_is_byte_exact() {
    let mut c = ready_conn(SocketType::Dealer, b"ROUTER", 1);
    c.send_multipart(&[Msg::from("abc"), Msg::new(), Msg::from("de")])
        .unwrap();
    assert_eq!(
        take_out(&mut c),
        [
            &[0x01, 0x03][..],
            b"abc",
            &[0x01, 0x00],
            &[0x00, 0x02],
            b"de"
        ]
        .concat()
    );
    // send_msg keeps each frame's own flag.
    c.send_msg(&Msg::from("x").with_more(true)).unwrap();
    c.send_msg(&Msg::from("y")).unwrap();
    assert_eq!(take_out(&mut c), b"\x01\x01x\x00\x01y");
}

#[test]
fn subscribe_is_a_command_for_31_and_a_message_for_30() {
    let mut c31 = ready_conn(SocketType::Sub, b"PUB", 1);
    c31.send_subscribe(b"A").unwrap();
    c31.send_cancel(b"A").unwrap();
    assert_eq!(
        take_out(&mut c31),
        [
            &[0x04, 0x0B, 0x09][..],
            b"SUBSCRIBE",
            b"A",
            &[0x04, 0x08, 0x06],
            b"CANCEL",
            b"A"
        ]
        .concat()
    );

    let mut c30 = ready_conn(SocketType::Sub, b"PUB", 0);
    assert_eq!(c30.peer_minor_version(), Some(0));
    c30.send_subscribe(b"A").unwrap();
    c30.send_cancel(b"A").unwrap();
    assert_eq!(take_out(&mut c30), b"\x00\x02\x01A\x00\x02\x00A");
}

#[test]
fn publisher_accepts_both_subscription_forms() {
    for minor in [0, 1] {
        let mut p = ready_conn(SocketType::XPub, b"SUB", minor);
        let input = [
            &cmd(b"SUBSCRIBE", b"news")[..],
            b"\x00\x05\x01news",
            &cmd(b"CANCEL", b"news"),
            b"\x00\x05\x00news",
            // Part of a multipart message: data, not a subscription.
            b"\x01\x02\x01x\x00\x01y",
        ]
        .concat();
        feed(&mut p, &input).unwrap();
        assert_eq!(
            events(&mut p),
            vec![
                Event::Subscribe(Bytes::from_static(b"news")),
                Event::Subscribe(Bytes::from_static(b"news")),
                Event::Cancel(Bytes::from_static(b"news")),
                Event::Cancel(Bytes::from_static(b"news")),
                Event::Message(Msg::from(b"\x01x").with_more(true)),
                Event::Message(Msg::from("y")),
            ]
        );
    }
    // A non-publisher sees the message form as plain data.
    let mut pull = ready_conn(SocketType::Pull, b"PUSH", 0);
    feed(&mut pull, b"\x00\x02\x01A").unwrap();
    assert_eq!(events(&mut pull), vec![Event::Message(Msg::from(b"\x01A"))]);
}

#[test]
fn ping_gets_pong_with_truncated_context() {
    let mut c = ready_conn(SocketType::Pair, b"PAIR", 1);
    c.send_ping(10, b"ab").unwrap();
    assert_eq!(
        take_out(&mut c),
        [&[0x04, 0x09, 0x04][..], b"PING", &[0x00, 0x0A], b"ab"].concat()
    );

    feed(&mut c, &cmd(b"PING", b"\x00\x0Aab")).unwrap();
    assert_eq!(
        take_out(&mut c),
        [&[0x04, 0x07, 0x04][..], b"PONG", b"ab"].concat()
    );
    let long_ctx = [b'c'; 40];
    feed(&mut c, &cmd(b"PING", &[&[0, 0][..], &long_ctx].concat())).unwrap();
    assert_eq!(
        take_out(&mut c),
        [&[0x04, 0x15, 0x04][..], b"PONG", &[b'c'; 16]].concat()
    );
    // PONG and unknown commands are consumed silently.
    feed(
        &mut c,
        &[
            cmd(b"PONG", b"ab"),
            cmd(b"JOIN", b"grp"),
            cmd(b"MESSAGE", b""),
        ]
        .concat(),
    )
    .unwrap();
    assert!(events(&mut c).is_empty());
    assert!(take_out(&mut c).is_empty());
}

#[test]
fn decoder_accepts_reserved_bits_and_long_small_sizes() {
    let stream = [
        &[0xF1, 0x01][..],
        b"a",
        &[0x02, 0, 0, 0, 0, 0, 0, 0, 2],
        b"bc",
    ]
    .concat();
    assert_eq!(
        decode_chunked(&stream, None, || 1),
        vec![
            Frame::Message(Msg::from("a").with_more(true)),
            Frame::Message(Msg::from("bc"))
        ]
    );
}

#[test]
fn large_frames_are_sliced_without_copy() {
    let mut stream = vec![0x02, 0, 0, 0, 0, 0, 0, 0x10, 0x00];
    stream.extend(vec![7u8; 4096]);
    let mut rx = BytesMut::with_capacity(stream.len());
    rx.extend_from_slice(&stream);
    let range = rx.as_ptr() as usize..rx.as_ptr() as usize + rx.len();
    let Some(Frame::Message(m)) = FrameDecoder::new(None).decode(&mut rx).unwrap() else {
        panic!("expected a message")
    };
    assert!(!m.is_inline());
    assert!(range.contains(&(m.as_ptr() as usize)), "payload was copied");
}

#[test]
fn large_payloads_are_separate_transmit_segments() {
    use bytes::Buf;
    use std::io::IoSlice;
    let mut c = ready_conn(SocketType::Push, b"PULL", 1);
    let big = Msg::from(vec![5u8; 20_000]);
    c.send_msg(&Msg::from("small")).unwrap();
    c.send_msg(&big).unwrap();
    c.send_msg(&Msg::from("tail")).unwrap();
    let out = c.transmit();
    let mut iov = [IoSlice::new(&[]); 8];
    let n = out.chunks_vectored(&mut iov);
    assert_eq!(n, 3);
    assert_eq!(iov[1].as_ptr(), big.as_ptr(), "large payload copied");
    assert_eq!(
        &iov[0][..],
        [&[0, 5][..], b"small", &[2, 0, 0, 0, 0, 0, 0, 0x4E, 0x20]].concat()
    );
    assert_eq!(&iov[2][..], b"\x00\x04tail");
    assert_eq!(out.remaining(), 7 + 9 + 20_000 + 6);
    out.advance(10);
    assert_eq!(out.remaining(), 7 + 9 + 20_000 + 6 - 10);
    // 10 bytes written: the 7-byte small frame and 3 bytes of the header.
    let mut expected = vec![2, 0, 0, 0, 0, 0, 0, 0x4E, 0x20];
    expected.extend(vec![5u8; 20_000]);
    expected.extend(b"\x00\x04tail");
    assert_eq!(&c.transmit().take_all()[..], &expected[3..]);
    assert!(c.transmit().is_empty());
}

// ---------------------------------------------------------------- chunking

fn random_stream(rng: &mut Rng) -> Vec<u8> {
    let mut s = Vec::new();
    for _ in 0..40 {
        let size = match rng.next() % 4 {
            0 => 0,
            1 => (rng.next() % 64) as usize,
            2 => 250 + (rng.next() % 10) as usize,
            _ => (rng.next() % 10_000) as usize,
        };
        let more = rng.next() % 2 == 0;
        let body: Vec<u8> = (0..size).map(|i| i as u8).collect();
        if rng.next() % 5 == 0 {
            s.extend(cmd(b"PING", &[0, 1]));
        }
        if size > 255 || rng.next() % 7 == 0 {
            s.push(if more { 3 } else { 2 });
            s.extend((size as u64).to_be_bytes());
        } else {
            s.push(more as u8);
            s.push(size as u8);
        }
        s.extend(body);
    }
    s
}

#[test]
fn decoding_is_independent_of_chunking() {
    let mut rng = Rng(0x1234_5678_9ABC_DEF1);
    let rounds = if cfg!(miri) { 1 } else { 8 };
    for _ in 0..rounds {
        let stream = random_stream(&mut rng);
        let whole = decode_chunked(&stream, None, || stream.len());
        assert!(whole.len() >= 40);
        assert_eq!(decode_chunked(&stream, None, || 1), whole);
        let mut r2 = Rng(rng.next() | 1);
        assert_eq!(
            decode_chunked(&stream, None, || 1 + (r2.next() % 300) as usize),
            whole
        );
        let mut r3 = Rng(rng.next() | 1);
        assert_eq!(
            decode_chunked(&stream, None, || 1 + (r3.next() % 20_000) as usize),
            whole
        );
    }
}

#[test]
fn connection_is_independent_of_chunking() {
    let mut input = greeting_bytes(b"NULL", 3, 1, 0);
    input.extend(ready(b"DEALER"));
    let mut rng = Rng(99);
    input.extend(random_stream(&mut rng));
    let run = |split: &mut dyn FnMut() -> usize| {
        let mut c = conn(SocketType::Router);
        let mut rx = BytesMut::new();
        let mut at = 0;
        let mut evs = Vec::new();
        while at < input.len() {
            let end = (at + split()).min(input.len());
            rx.extend_from_slice(&input[at..end]);
            at = end;
            c.handle_input(&mut rx, Instant::now()).unwrap();
            evs.extend(std::iter::from_fn(|| c.poll_event()));
        }
        (evs, take_out(&mut c))
    };
    let whole = run(&mut || usize::MAX);
    assert!(whole.0.len() > 40);
    assert_eq!(run(&mut || 1), whole);
    let mut r = Rng(7);
    assert_eq!(run(&mut || 1 + (r.next() % 500) as usize), whole);
}

#[test]
fn bodies_read_into_buffers_of_their_own_give_the_same_events() {
    let mut input = greeting_bytes(b"NULL", 3, 1, 0);
    input.extend(ready(b"DEALER"));
    let mut rng = Rng(4242);
    input.extend(random_stream(&mut rng));
    // Every body of at least `min` bytes left incomplete in the read buffer
    // is moved into its own buffer and completed with `handle_body`.
    let run = |min: usize, split: &mut dyn FnMut() -> usize| {
        let mut c = conn(SocketType::Router);
        let mut rx = BytesMut::new();
        let mut own: Option<Vec<u8>> = None;
        let mut at = 0;
        let mut evs = Vec::new();
        while at < input.len() {
            let mut end = (at + split()).min(input.len());
            if let Some(body) = &mut own {
                let size = c.body_in_progress().unwrap();
                let n = (size - body.len()).min(end - at);
                body.extend_from_slice(&input[at..at + n]);
                at += n;
                if body.len() == size {
                    let body = Bytes::from(own.take().unwrap());
                    c.handle_body(body, Instant::now()).unwrap();
                }
                end = end.max(at);
            }
            rx.extend_from_slice(&input[at..end]);
            at = end;
            c.handle_input(&mut rx, Instant::now()).unwrap();
            evs.extend(std::iter::from_fn(|| c.poll_event()));
            if own.is_none() && c.body_in_progress().is_some_and(|n| n >= min) {
                own = Some(rx.split().to_vec());
            }
        }
        assert!(own.is_none() && rx.is_empty());
        (evs, take_out(&mut c))
    };
    let whole = run(usize::MAX, &mut || usize::MAX);
    assert!(whole.0.len() > 40);
    let mut r = Rng(11);
    assert_eq!(run(256, &mut || 1 + (r.next() % 3000) as usize), whole);
    let mut r = Rng(12);
    assert_eq!(run(0, &mut || 1 + (r.next() % 40) as usize), whole);
}

#[test]
fn a_body_of_the_wrong_size_is_refused() {
    let mut dec = FrameDecoder::new(None);
    assert_eq!(
        dec.finish_body(Bytes::from_static(b"hi")),
        Err(Error::BodyMismatch {
            expected: None,
            got: 2
        })
    );
    let mut rx = BytesMut::from(&b"\x00\x05he"[..]);
    assert_eq!(dec.decode(&mut rx), Ok(None));
    assert_eq!(
        dec.finish_body(Bytes::from_static(b"hell")),
        Err(Error::BodyMismatch {
            expected: Some(5),
            got: 4
        })
    );
    // Nothing was consumed: the right body still completes the frame.
    let Ok(Frame::Message(m)) = dec.finish_body(Bytes::from_static(b"hello")) else {
        panic!("the frame did not complete")
    };
    assert_eq!(&m[..], b"hello");
    assert!(Error::BodyMismatch {
        expected: None,
        got: 0
    }
    .is_caller_fault());
}

// ---------------------------------------------------------------- malformed input

#[test]
fn bad_signature_is_refused_at_the_first_byte() {
    let mut c = conn(SocketType::Pair);
    assert_eq!(feed(&mut c, b"\x00"), Err(Error::BadSignature));
    assert!(c.is_closed());
    assert_eq!(feed(&mut c, b"\xFF"), Err(Error::Closed));

    let mut g = greeting_bytes(b"NULL", 3, 1, 0);
    g[9] = 0x7E;
    let mut c = conn(SocketType::Pair);
    assert_eq!(feed(&mut c, &g[..10]), Err(Error::BadSignature));
}

#[test]
fn padding_is_not_validated_and_newer_versions_are_accepted() {
    let mut g = greeting_bytes(b"NULL", 4, 9, 1);
    g[1..9].copy_from_slice(b"anything");
    g[40] = 0xEE; // filler
    let mut c = conn(SocketType::Pair);
    feed(&mut c, &g).unwrap();
    assert_eq!(c.peer_minor_version(), Some(1));
    let mut c = conn(SocketType::Pair);
    feed(&mut c, &greeting_bytes(b"NULL", 3, 7, 0)).unwrap();
    assert_eq!(c.peer_minor_version(), Some(1));
}

#[test]
fn pre_30_and_bad_versions_are_refused() {
    // ZMTP 1.0: an identity frame, no signature.
    let mut c = conn(SocketType::Pair);
    assert_eq!(feed(&mut c, b"\x01\x00"), Err(Error::BadSignature));
    // ZMTP 2.0: signature, revision 1, socket type, then it waits.
    let mut c = conn(SocketType::Pair);
    assert_eq!(
        feed(&mut c, b"\xFF\0\0\0\0\0\0\0\x01\x7F\x01\x05"),
        Err(Error::UnsupportedVersion { major: 1, minor: 0 })
    );
    let mut c = conn(SocketType::Pair);
    assert_eq!(
        feed(&mut c, &greeting_bytes(b"NULL", 2, 0, 0)),
        Err(Error::UnsupportedVersion { major: 2, minor: 0 })
    );
    // Nothing but our greeting was sent.
    assert_eq!(take_out(&mut c).len(), 64);
}

#[test]
fn unknown_and_mismatched_mechanisms_are_refused() {
    let mut c = conn(SocketType::Pair);
    assert_eq!(
        feed(&mut c, &greeting_bytes(b"FOO", 3, 1, 0)),
        Err(Error::UnknownMechanism("FOO".into()))
    );
    let mut c = conn(SocketType::Pair);
    let mut g = greeting_bytes(b"NULL", 3, 1, 0);
    g[20] = b'X'; // garbage after the NUL padding
    assert!(matches!(feed(&mut c, &g), Err(Error::UnknownMechanism(_))));
    let mut c = conn(SocketType::Pair);
    assert_eq!(
        feed(&mut c, &greeting_bytes(b"PLAIN", 3, 1, 1)),
        Err(Error::MechanismMismatch {
            ours: "NULL",
            theirs: "PLAIN"
        })
    );
    let mut c = conn(SocketType::Pair);
    assert_eq!(
        feed(&mut c, &greeting_bytes(b"CURVE", 3, 1, 0)),
        Err(Error::MechanismMismatch {
            ours: "NULL",
            theirs: "CURVE"
        })
    );
}

#[test]
fn truncated_and_malformed_commands_are_refused() {
    for bad in [
        &b"\x04\x00"[..],         // empty command frame
        b"\x04\x01\x00",          // empty name
        b"\x04\x03\x05RE",        // name longer than the frame
        b"\x04\x06\x05ERROR",     // ERROR without a reason length
        b"\x04\x07\x05ERROR\x05", // ERROR reason truncated
    ] {
        let mut c = conn(SocketType::Pair);
        let mut input = greeting_bytes(b"NULL", 3, 1, 0);
        input.extend(bad);
        let r = feed(&mut c, &input);
        assert!(
            matches!(r, Err(Error::MalformedCommand(_))),
            "{bad:?}: {r:?}"
        );
    }
    let mut c = ready_conn(SocketType::Pair, b"PAIR", 1);
    assert!(matches!(
        feed(&mut c, &cmd(b"PING", b"\x01")),
        Err(Error::MalformedCommand(_))
    ));
    let mut cfg = Config::new(SocketType::Pull);
    cfg.mechanism = Mechanism::plain_server(|_| Ok(String::new()));
    let mut s = Connection::new(cfg, Instant::now()).unwrap();
    let mut input = greeting_bytes(b"PLAIN", 3, 1, 0);
    input.extend(cmd(b"HELLO", b"\x05adm\x01p"));
    assert!(matches!(
        feed(&mut s, &input),
        Err(Error::MalformedCommand(_))
    ));
}

#[test]
fn oversized_frames_are_refused_before_allocation() {
    let mut cfg = Config::new(SocketType::Pull);
    cfg.max_msg_size = Some(100);
    let mut c = Connection::new(cfg, Instant::now()).unwrap();
    let mut input = greeting_bytes(b"NULL", 3, 1, 0);
    input.extend(ready(b"PUSH"));
    input.extend([0x00, 100]);
    input.extend([1u8; 100]);
    input.extend([0x00, 101]); // only the header of a 101-byte frame
    let mut rx = BytesMut::from(&input[..]);
    let cap = rx.capacity();
    assert_eq!(
        c.handle_input(&mut rx, Instant::now()),
        Err(Error::FrameTooLarge {
            size: 101,
            max: 100
        })
    );
    assert!(rx.capacity() <= cap, "the read buffer grew");
    let evs = events(&mut c);
    assert_eq!(evs.len(), 2, "Ready and the 100-byte frame");

    // The limit applies to the header alone.
    let mut dec = FrameDecoder::new(Some(1000));
    let mut rx = BytesMut::from(&b"\x02\x00\x00\x00\x00\x00\x00\x03\xE9"[..]);
    assert_eq!(
        dec.decode(&mut rx),
        Err(Error::FrameTooLarge {
            size: 1001,
            max: 1000
        })
    );
}

#[test]
fn a_message_of_too_many_frames_is_refused() {
    // Exactly the limit is one message, split across calls anywhere.
    let mut c = ready_conn(SocketType::Pull, b"PUSH", 1);
    let mut input = Vec::new();
    for _ in 0..MAX_MESSAGE_FRAMES - 1 {
        input.extend([0x01, 0x00]);
    }
    input.extend([0x00, 0x00]);
    let (a, b) = input.split_at(input.len() / 3 + 1);
    let mut rx = BytesMut::from(a);
    c.handle_input(&mut rx, Instant::now()).unwrap();
    rx.extend_from_slice(b);
    c.handle_input(&mut rx, Instant::now()).unwrap();
    assert!(rx.is_empty());
    let evs = events(&mut c);
    assert_eq!(evs.len(), MAX_MESSAGE_FRAMES);
    assert!(matches!(&evs[MAX_MESSAGE_FRAMES - 1], Event::Message(m) if !m.more()));

    // One frame more is refused, on the bulk path for short frames and on
    // the frame-by-frame path for long ones, and the rest is not delivered.
    for more_frame in [&[0x01u8, 0x00][..], &[0x03, 0, 0, 0, 0, 0, 0, 0, 0][..]] {
        let mut c = ready_conn(SocketType::Pull, b"PUSH", 1);
        let mut input = Vec::new();
        for _ in 0..MAX_MESSAGE_FRAMES - 1 {
            input.extend([0x01, 0x00]);
        }
        feed(&mut c, &input).unwrap();
        let mut tail = more_frame.to_vec();
        tail.extend([0x00, 0x00]);
        assert_eq!(
            feed(&mut c, &tail),
            Err(Error::TooManyFrames {
                max: MAX_MESSAGE_FRAMES
            })
        );
        assert_eq!(events(&mut c).len(), MAX_MESSAGE_FRAMES - 1);
    }
}

#[test]
fn a_2_pow_63_length_is_refused_and_huge_lengths_never_reserve() {
    let mut dec = FrameDecoder::new(None);
    let mut rx = BytesMut::from(&b"\x02\x80\x00\x00\x00\x00\x00\x00\x00"[..]);
    assert_eq!(
        dec.decode(&mut rx),
        Err(Error::FrameTooLarge {
            size: 1 << 63,
            max: MAX_FRAME_BODY
        })
    );
    let mut rx = BytesMut::from(&b"\x06\xFF\xFF\xFF\xFF\xFF\xFF\xFF\xFF"[..]);
    assert!(matches!(
        dec.decode(&mut rx),
        Err(Error::FrameTooLarge { .. })
    ));

    // With no limit, a huge (but legal) declared size only waits for bytes;
    // the suggested reservation stays bounded.
    let mut c = ready_conn(SocketType::Pull, b"PUSH", 1);
    let mut rx = BytesMut::from(&b"\x02\x40\x00\x00\x00\x00\x00\x00\x00abc"[..]);
    let cap = rx.capacity();
    c.handle_input(&mut rx, Instant::now()).unwrap();
    assert!(rx.capacity() <= cap, "the read buffer grew");
    assert!(c.recv_reserve_hint(&rx) <= MAX_READ_RESERVE);
    assert!(events(&mut c).is_empty());

    // During the handshake, command frames are capped.
    let mut c = conn(SocketType::Pair);
    let mut input = greeting_bytes(b"NULL", 3, 1, 0);
    input.extend(b"\x06\x00\x00\x00\x00\x10\x00\x00\x00");
    assert!(matches!(
        feed(&mut c, &input),
        Err(Error::FrameTooLarge { .. })
    ));
}

#[test]
fn handshake_commands_after_the_handshake_are_refused() {
    for name in [&b"READY"[..], b"HELLO", b"WELCOME", b"INITIATE"] {
        let mut c = ready_conn(SocketType::Pair, b"PAIR", 1);
        assert_eq!(
            feed(&mut c, &cmd(name, b"")),
            Err(Error::UnexpectedCommand(
                String::from_utf8(name.to_vec()).unwrap()
            ))
        );
    }
    let mut c = ready_conn(SocketType::Pair, b"PAIR", 1);
    assert_eq!(
        feed(&mut c, &cmd(b"ERROR", b"\x03bye")),
        Err(Error::PeerError("bye".into()))
    );
}

#[test]
fn wrong_commands_and_messages_during_the_handshake_are_refused() {
    let mut c = conn(SocketType::Pair);
    let mut input = greeting_bytes(b"NULL", 3, 1, 0);
    input.extend(cmd(b"HELLO", b"\x00\x00"));
    assert_eq!(
        feed(&mut c, &input),
        Err(Error::UnexpectedCommand("HELLO".into()))
    );

    let mut c = conn(SocketType::Pair);
    let mut input = greeting_bytes(b"NULL", 3, 1, 0);
    input.extend(b"\x00\x02hi");
    assert_eq!(feed(&mut c, &input), Err(Error::UnexpectedMessage));
    assert_eq!(c.send_msg(&Msg::from("x")), Err(Error::Closed));

    let mut c = conn(SocketType::Pair);
    assert_eq!(c.send_msg(&Msg::from("x")), Err(Error::NotReady));
    assert_eq!(c.send_subscribe(b""), Err(Error::NotReady));
}

#[test]
fn bad_metadata_is_refused() {
    let cases: Vec<Vec<u8>> = vec![
        // value longer than the command
        cmd(b"READY", b"\x0bSocket-Type\x00\x00\x00\x09PAIR"),
        // name with a bad character
        cmd(
            b"READY",
            &[prop(b"Socket-Type", b"PAIR"), prop(b"X Bad", b"")].concat(),
        ),
        // empty name
        cmd(
            b"READY",
            &[prop(b"Socket-Type", b"PAIR"), vec![0, 0, 0, 0, 0]].concat(),
        ),
        // truncated length
        cmd(b"READY", b"\x0bSocket-Type\x00\x00"),
        // no Socket-Type
        cmd(b"READY", &prop(b"X-Foo", b"bar")),
        // Identity too long
        cmd(
            b"READY",
            &[prop(b"Socket-Type", b"PAIR"), prop(b"Identity", &[1; 256])].concat(),
        ),
    ];
    for bad in cases {
        let mut c = conn(SocketType::Pair);
        let mut input = greeting_bytes(b"NULL", 3, 1, 0);
        input.extend(&bad);
        let r = feed(&mut c, &input);
        assert!(matches!(r, Err(Error::BadMetadata(_))), "{r:?}");
    }
    // Names are case-insensitive.
    let mut c = conn(SocketType::Pair);
    let mut input = greeting_bytes(b"NULL", 3, 1, 0);
    input.extend(cmd(
        b"READY",
        &[prop(b"socket-TYPE", b"PAIR"), prop(b"X-App", b"v")].concat(),
    ));
    feed(&mut c, &input).unwrap();
    let Some(Event::Ready(p)) = c.poll_event() else {
        panic!("expected Ready")
    };
    assert_eq!(p.properties.get("x-app").map(|v| &v[..]), Some(&b"v"[..]));
}

#[test]
fn more_on_a_command_is_refused() {
    let mut c = ready_conn(SocketType::Pair, b"PAIR", 1);
    let mut frame = cmd(b"PING", b"\x00\x00");
    frame[0] |= 0x01;
    assert_eq!(feed(&mut c, &frame), Err(Error::CommandWithMore));
    let mut c = conn(SocketType::Pair);
    let mut input = greeting_bytes(b"NULL", 3, 1, 0);
    input.extend(b"\x05\x06\x05READY");
    assert_eq!(feed(&mut c, &input), Err(Error::CommandWithMore));
}

#[test]
fn incompatible_socket_type_gets_an_error_command() {
    let mut c = conn(SocketType::Push);
    take_out(&mut c);
    let mut input = greeting_bytes(b"NULL", 3, 1, 0);
    input.extend(ready(b"PUB"));
    assert_eq!(
        feed(&mut c, &input),
        Err(Error::IncompatibleSocketType {
            ours: "PUSH",
            theirs: "PUB".into()
        })
    );
    let out = take_out(&mut c);
    let err = [
        &[0x04, 0x1A, 0x05][..],
        b"ERROR",
        &[19],
        b"Invalid socket type",
    ]
    .concat();
    assert!(out.ends_with(&err), "{out:?}");
    assert!(c.is_closed());
}

#[test]
fn refused_credentials_get_an_error_command_unless_temporary() {
    for (status, expect_error) in [(AuthStatus::DENIED, true), (AuthStatus::TEMPORARY, false)] {
        let mut cfg = Config::new(SocketType::Rep);
        cfg.mechanism = Mechanism::plain_server(move |_| Err(status));
        let mut s = Connection::new(cfg, Instant::now()).unwrap();
        take_out(&mut s);
        let mut input = greeting_bytes(b"PLAIN", 3, 1, 0);
        input.extend(cmd(b"HELLO", b"\x01u\x01p"));
        assert_eq!(
            feed(&mut s, &input),
            Err(Error::AuthFailed { status: status.0 })
        );
        let out = take_out(&mut s);
        if expect_error {
            assert_eq!(
                out,
                [&[0x04, 0x0A, 0x05][..], b"ERROR", &[3], b"400"].concat()
            );
        } else {
            assert!(out.is_empty());
        }
    }
}

#[test]
fn invalid_configs_are_refused() {
    let mut cfg = Config::new(SocketType::Dealer);
    cfg.identity = Some(Bytes::from(vec![1; 256]));
    assert!(matches!(
        Connection::new(cfg, Instant::now()),
        Err(Error::InvalidConfig(_))
    ));
    let mut cfg = Config::new(SocketType::Dealer);
    cfg.mechanism = Mechanism::plain_client(vec![b'u'; 256], "p");
    assert!(matches!(
        Connection::new(cfg, Instant::now()),
        Err(Error::InvalidConfig(_))
    ));
    let mut cfg = Config::new(SocketType::Dealer);
    cfg.properties.insert("Socket-Type", "PUB");
    assert!(matches!(
        Connection::new(cfg, Instant::now()),
        Err(Error::InvalidConfig(_))
    ));
    let mut cfg = Config::new(SocketType::Dealer);
    cfg.properties.insert("X Space", "v");
    assert!(matches!(
        Connection::new(cfg, Instant::now()),
        Err(Error::InvalidConfig(_))
    ));
    let e: ringmq::Error = Error::FrameTooLarge { size: 5, max: 4 }.into();
    assert!(matches!(
        e,
        ringmq::Error::MessageTooLarge { size: 5, max: 4 }
    ));
    let e: ringmq::Error = Error::AuthFailed { status: 400 }.into();
    assert!(matches!(e, ringmq::Error::IncompatiblePeer(_)));
    let e: ringmq::Error = Error::CommandWithMore.into();
    assert!(matches!(e, ringmq::Error::Protocol(_)));
}

#[test]
fn connections_and_messages_can_move_between_threads() {
    fn assert_send<T: Send + 'static>() {}
    fn assert_send_sync<T: Send + Sync + 'static>() {}
    assert_send::<Connection>();
    assert_send_sync::<Config>();
    assert_send_sync::<Msg>();
    assert_send_sync::<ringmq::Multipart>();
    assert_send_sync::<Error>();
}

#[test]
fn runs_of_short_frames_decode_exactly_near_the_inline_size_and_buffer_end() {
    // Frames of every size around the inline limit, each filled with its
    // own byte; the bulk decoder copies fixed-size windows where the buffer
    // holds one, and each frame must show exactly its own payload.
    let sizes: Vec<usize> = (0..=70)
        .chain([100, 200, 255])
        .chain((0..=66).rev())
        .collect();
    let mut wire = Vec::new();
    for (i, &n) in sizes.iter().enumerate() {
        wire.push(if i % 3 == 0 { 0x01 } else { 0x00 });
        wire.push(n as u8);
        wire.extend(std::iter::repeat_n(i as u8, n));
    }
    let mut rx = BytesMut::from(&wire[..]);
    let mut got = Vec::new();
    let mut dec = FrameDecoder::new(None);
    let n = dec.decode_short_messages(&mut rx, |m| got.push(m)).unwrap();
    assert_eq!(n, sizes.len());
    assert!(rx.is_empty());
    for (i, (m, &len)) in got.iter().zip(&sizes).enumerate() {
        assert_eq!(m.len(), len, "frame {i}");
        assert!(m.iter().all(|&b| b == i as u8), "frame {i}");
        assert_eq!(m.more(), i % 3 == 0, "frame {i}");
        assert_eq!(m.is_inline(), len <= Msg::INLINE_CAP, "frame {i}");
        assert_eq!(m, &Msg::from(vec![i as u8; len]).with_more(i % 3 == 0));
        // Re-encoded, the frame is exactly its wire form.
        let mut out = ringmq::zmtp::OutBuf::new();
        out.push_msg(m, m.more());
        let start = wire_offset(&sizes, i);
        assert_eq!(
            &out.take_all()[..],
            &wire[start..start + 2 + len],
            "frame {i}"
        );
    }
}

fn wire_offset(sizes: &[usize], i: usize) -> usize {
    sizes[..i].iter().map(|n| 2 + n).sum()
}
