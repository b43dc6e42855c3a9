//! Fuzz target bodies, shared by the cargo-fuzz binaries in `fuzz/` and by
//! `tests/fuzz_corpus.rs`, which replays the committed corpus and past
//! crashes in a plain `cargo test`.
//!
//! Each body takes arbitrary bytes and asserts invariants (chunking
//! invariance, size limits, round trips, state-machine rules), panicking on
//! a violation. Not a public API.

#![forbid(unsafe_code)]
#![allow(missing_docs)]

use std::time::{Duration, Instant};

use bytes::{BufMut, Bytes, BytesMut};

use crate::msg::Msg;
use crate::zmtp::{
    encode_frame, AuthStatus, Config, Connection, Error, Event, Frame, FrameDecoder, Greeting,
    Mechanism, SocketType, GREETING_LEN,
};

/// A tiny deterministic PRNG (xorshift64*) for split points.
struct Rng(u64);

impl Rng {
    fn new(seed: &[u8]) -> Rng {
        let mut s = 0x9E37_79B9_7F4A_7C15u64;
        for &b in seed.iter().take(16) {
            s = (s ^ u64::from(b)).wrapping_mul(0x100_0000_01B3);
        }
        Rng(s | 1)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A chunk length in 1..=max.
    fn chunk(&mut self, max: usize) -> usize {
        1 + (self.next() % max.max(1) as u64) as usize
    }
}

/// Splits `data` into chunks: whole, one byte at a time, or random sizes.
fn chunks(data: &[u8], mode: u8, rng: &mut Rng) -> Vec<std::ops::Range<usize>> {
    let mut out = Vec::new();
    let mut at = 0;
    while at < data.len() {
        let n = match mode % 3 {
            0 => data.len() - at,
            1 => 1,
            _ => rng.chunk(97),
        };
        let end = (at + n).min(data.len());
        out.push(at..end);
        at = end;
    }
    out
}

/// Decodes every frame of `data`, fed in the given chunks. With `direct`,
/// every body left incomplete in the read buffer is taken out of it and
/// completed in a buffer of its own ([`FrameDecoder::finish_body`]), the
/// way the engine reads large bodies.
fn decode_all(
    data: &[u8],
    max: Option<u64>,
    parts: &[std::ops::Range<usize>],
    bulk: bool,
    direct: bool,
) -> (Vec<Frame>, Option<Error>) {
    let mut dec = FrameDecoder::new(max);
    let mut buf = BytesMut::new();
    let mut frames = Vec::new();
    let mut own: Option<Vec<u8>> = None;
    for r in parts {
        let mut chunk = &data[r.clone()];
        if let Some(body) = &mut own {
            let size = dec.body_in_progress().expect("a body is in progress");
            let n = (size - body.len()).min(chunk.len());
            body.extend_from_slice(&chunk[..n]);
            chunk = &chunk[n..];
            if body.len() == size {
                let body = own.take().expect("just used");
                match dec.finish_body(Bytes::from(body)) {
                    Ok(f) => frames.push(f),
                    Err(e) => panic!("a body of the announced size was refused: {e}"),
                }
            }
        }
        buf.extend_from_slice(chunk);
        loop {
            if bulk {
                if let Err(e) =
                    dec.decode_short_messages(&mut buf, |m| frames.push(Frame::Message(m)))
                {
                    return (frames, Some(e));
                }
            }
            match dec.decode(&mut buf) {
                Ok(Some(f)) => frames.push(f),
                Ok(None) => break,
                Err(e) => return (frames, Some(e)),
            }
        }
        if direct && own.is_none() && dec.body_in_progress().is_some() {
            own = Some(buf.split().to_vec());
        }
    }
    (frames, None)
}

/// Frame decoder: byte 0 picks the size limit, the rest is a frame stream.
/// Whole, byte-by-byte and random chunking must agree; every frame respects
/// the limit; re-encoding the frames and decoding again gives them back.
pub fn frame_decoder(data: &[u8]) {
    let Some((&sel, stream)) = data.split_first() else {
        return;
    };
    let max = match sel & 3 {
        0 => None,
        1 => Some(0),
        2 => Some(u64::from(sel)),
        _ => Some(u64::from(sel) * 1024),
    };
    let mut rng = Rng::new(data);
    let whole = decode_all(stream, max, &chunks(stream, 0, &mut rng), false, false);
    for mode in [1, 2] {
        let other = decode_all(stream, max, &chunks(stream, mode, &mut rng), false, false);
        assert_eq!(whole, other, "chunking changed the decoded frames");
        // The bulk path for short message frames decodes the same frames.
        let bulk = decode_all(stream, max, &chunks(stream, mode, &mut rng), true, false);
        assert_eq!(whole, bulk, "bulk decoding changed the decoded frames");
        // So do bodies completed outside the read buffer.
        let direct = decode_all(stream, max, &chunks(stream, mode, &mut rng), true, true);
        assert_eq!(
            whole, direct,
            "bodies read apart changed the decoded frames"
        );
    }
    let mut re = BytesMut::new();
    for f in &whole.0 {
        let len = match f {
            Frame::Message(m) => {
                encode_frame(&mut re, m.more(), false, m);
                m.len()
            }
            Frame::Command(b) => {
                encode_frame(&mut re, false, true, b);
                b.len()
            }
        };
        if let Some(max) = max {
            assert!(
                len as u64 <= max,
                "frame of {len} bytes above the limit {max}"
            );
        }
    }
    let whole_range = std::iter::once(0..re.len()).collect::<Vec<_>>();
    let again = decode_all(&re, max, &whole_range, true, false);
    assert_eq!(again.0, whole.0, "re-encoded frames decode differently");
    assert!(again.1.is_none());
}

fn config_from(sel: u8, server: bool) -> Config {
    let st = SocketType::ALL[((sel as usize >> 2) & 0x0F) % SocketType::ALL.len()];
    let mut cfg = Config::new(st);
    cfg.zmtp_minor = (sel >> 6) & 1;
    cfg.max_msg_size = if sel & 0x80 != 0 { Some(4096) } else { None };
    cfg.heartbeat_ivl = Some(Duration::from_secs(1));
    if sel & 1 == 1 {
        cfg.mechanism = if server {
            Mechanism::plain_server(|c| {
                if c.username == b"admin" && c.password == b"secret" {
                    Ok("admin".to_string())
                } else if c.username == b"later" {
                    Err(AuthStatus::TEMPORARY)
                } else {
                    Err(AuthStatus::DENIED)
                }
            })
        } else {
            Mechanism::plain_client("admin", "secret")
        };
    }
    cfg
}

#[derive(Debug, PartialEq)]
struct Outcome {
    events: Vec<Event>,
    error: Option<Error>,
    sent: Vec<u8>,
}

/// Feeds `stream` into a fresh connection in the given chunks and records
/// everything it does.
fn run_connection(cfg: &Config, stream: &[u8], parts: &[std::ops::Range<usize>]) -> Outcome {
    let t0 = Instant::now();
    let mut conn = Connection::new(cfg.clone(), t0).expect("fuzz configs are valid");
    let mut rx = BytesMut::new();
    let mut out = Outcome {
        events: Vec::new(),
        error: None,
        sent: Vec::new(),
    };
    let mut ready = false;
    let mut in_msg = false;
    for r in parts {
        rx.extend_from_slice(&stream[r.clone()]);
        let res = conn.handle_input(&mut rx, t0);
        while let Some(ev) = conn.poll_event() {
            match &ev {
                Event::Ready(p) => {
                    assert!(!ready, "two Ready events");
                    assert!(cfg.socket_type.is_compatible(p.socket_type));
                    ready = true;
                }
                Event::Message(m) => {
                    assert!(ready, "message before Ready");
                    if let Some(max) = cfg.max_msg_size {
                        assert!(m.len() as u64 <= max);
                    }
                    in_msg = m.more();
                }
                Event::Subscribe(_) | Event::Cancel(_) => {
                    assert!(ready, "subscription before Ready")
                }
            }
            out.events.push(ev);
        }
        assert!(conn.recv_reserve_hint(&rx) >= 1);
        if let Err(e) = res {
            assert!(conn.is_closed());
            assert_eq!(conn.handle_input(&mut rx, t0), Err(Error::Closed));
            assert_eq!(conn.send_msg(&Msg::from("x")), Err(Error::Closed));
            out.error = Some(e);
            break;
        }
    }
    if conn.is_ready() {
        assert!(ready, "ready without a Ready event");
    }
    if conn.is_ready() {
        // Exercise the send side and the timers.
        if !in_msg {
            conn.send_multipart(&[Msg::from("a"), Msg::from(vec![0u8; 300])])
                .expect("ready");
            conn.send_subscribe(b"topic").expect("ready");
            conn.send_cancel(b"").expect("ready");
        }
        conn.send_ping(10, &[7; 40]).expect("ready");
        // The first timer is our PING (1 s) or the TTL of a PING the peer
        // sent last; nothing else can fail.
        let next = conn.poll_timeout().expect("heartbeats are on");
        let r = conn.handle_timeout(next);
        assert!(r.is_ok() || r == Err(Error::HeartbeatTimeout), "{r:?}");
        if let Some(deadline) = conn.poll_timeout() {
            let r = conn.handle_timeout(deadline + Duration::from_secs(3600));
            assert_eq!(r, Err(Error::HeartbeatTimeout), "no PONG ever arrives");
        }
    } else if !conn.is_closed() {
        assert_eq!(conn.send_msg(&Msg::from("x")), Err(Error::NotReady));
        let deadline = conn.poll_timeout().expect("handshake deadline");
        assert_eq!(conn.handle_timeout(deadline), Err(Error::HandshakeTimeout));
    }
    out.sent = conn.transmit().take_all().to_vec();
    out
}

fn handshake(data: &[u8], server: bool) {
    let Some((&sel, stream)) = data.split_first() else {
        return;
    };
    check_chunking(data, stream, &config_from(sel, server), true);
}

/// Runs a connection of `cfg` on `stream` whole, byte by byte and in random
/// chunks (seeded by `data`): the greeting it sends is its own, and the
/// three runs give the same events and error, and the same output when
/// `same_output` (not for a mechanism that draws random keys).
fn check_chunking(data: &[u8], stream: &[u8], cfg: &Config, same_output: bool) {
    let mut rng = Rng::new(data);
    let whole = run_connection(cfg, stream, &chunks(stream, 0, &mut rng));
    assert_eq!(
        &whole.sent[..GREETING_LEN - 32],
        &Greeting {
            major: 3,
            minor: cfg.zmtp_minor,
            mechanism: cfg.mechanism.name(),
            as_server: cfg.mechanism.is_server(),
        }
        .encode()[..GREETING_LEN - 32]
    );
    for mode in [1, 2] {
        let other = run_connection(cfg, stream, &chunks(stream, mode, &mut rng));
        assert_eq!(
            (&whole.events, &whole.error),
            (&other.events, &other.error),
            "chunking changed the connection's behaviour"
        );
        if same_output {
            assert_eq!(whole.sent, other.sent, "chunking changed what was sent");
        }
    }
}

/// A server connection (byte 0 picks NULL or PLAIN, socket type, version,
/// size limit) fed the peer's bytes; whole, byte-by-byte and random
/// chunking must give the same events, error and output.
pub fn handshake_server(data: &[u8]) {
    handshake(data, true);
}

/// The client side of [`handshake_server`].
pub fn handshake_client(data: &[u8]) {
    handshake(data, false);
}

/// The fixed CURVE keys of [`handshake_curve`]: a server's pair, and a
/// client's pair that knows the server's public key. Seeds made with them
/// (a HELLO the server can open) let the fuzzer reach past the first box.
#[cfg(feature = "curve")]
pub fn curve_fuzz_config(sel: u8, server: bool) -> Config {
    use crate::zmtp::CurveKeyPair;
    let server_keys = CurveKeyPair::from_secret([0x5E; 32]);
    let client_keys = CurveKeyPair::from_secret([0xC1; 32]);
    let mut cfg = config_from(sel & 0xFE, server);
    cfg.mechanism = if server {
        Mechanism::curve_server_with(server_keys, |c| {
            if c.client_key[0] & 1 == 0 {
                Ok("even".to_string())
            } else {
                Err(AuthStatus::DENIED)
            }
        })
    } else {
        Mechanism::curve_client(client_keys, *server_keys.public())
    };
    cfg
}

/// A CURVE connection (byte 0: bit 0 server or client, the rest as for
/// [`handshake_server`]) fed the peer's bytes: whole, byte-by-byte and
/// random chunking must give the same events and error. (What it sends
/// holds fresh random keys and nonces, so only its greeting is compared.)
#[cfg(feature = "curve")]
pub fn handshake_curve(data: &[u8]) {
    let Some((&sel, stream)) = data.split_first() else {
        return;
    };
    check_chunking(data, stream, &curve_fuzz_config(sel, sel & 1 == 1), false);
}

/// Greeting parser: prefix checks agree with the full parse, valid
/// greetings round-trip, and a connection accepts exactly the greetings the
/// parser accepts with its mechanism.
pub fn greeting(data: &[u8]) {
    let parsed = Greeting::parse(data);
    if let Err(e) = Greeting::check_prefix(&data[..data.len().min(GREETING_LEN)]) {
        assert_eq!(parsed.as_ref().err(), Some(&e));
    }
    for k in 0..data.len().min(GREETING_LEN) {
        if let Err(e) = Greeting::check_prefix(&data[..k]) {
            assert_eq!(
                parsed.as_ref().err(),
                Some(&e),
                "prefix check not monotonic"
            );
        }
    }
    if let Ok(g) = parsed {
        assert!(g.major >= 3);
        let again = Greeting::parse(&g.encode()).expect("own encoding parses");
        assert_eq!(again, g);
        let mut cfg = Config::new(SocketType::Pair);
        cfg.mechanism = match g.mechanism {
            crate::zmtp::MechanismName::Plain => Mechanism::plain_client("u", "p"),
            _ => Mechanism::Null,
        };
        let t0 = Instant::now();
        let mut conn = Connection::new(cfg, t0).expect("valid config");
        let mut rx = BytesMut::new();
        rx.put_slice(&data[..GREETING_LEN]);
        let r = conn.handle_input(&mut rx, t0);
        match g.mechanism {
            crate::zmtp::MechanismName::Curve => {
                assert!(matches!(r, Err(Error::MechanismMismatch { .. })));
            }
            _ => {
                assert_eq!(r, Ok(()));
                assert_eq!(conn.peer_minor_version(), Some(g.effective_minor()));
            }
        }
    }
}

/// Worker tuple batches: decoding arbitrary bytes never panics or
/// over-allocates; what decodes re-encodes to a frame that decodes to the
/// same items (canonical form), and a failed decode leaves the output
/// untouched. The first byte picks the task/stream limits.
pub fn tuple_batch(data: &[u8]) {
    use crate::worker::codec::{decode, BatchEncoder, Limits, WireItem, KIND_BACKPRESSURE};

    let Some((&sel, frame)) = data.split_first() else {
        return;
    };
    let limits = Limits {
        tasks: 1 + u32::from(sel & 0x0f) * 17,
        streams: 1 + u16::from(sel >> 4),
    };
    let frame = bytes::Bytes::copy_from_slice(frame);
    let mut items = vec![WireItem::Eos { from: 0, to: 0 }];
    match decode(&frame, limits, &mut items) {
        Err(e) => {
            assert_eq!(items.len(), 1, "failed decode must not append");
            assert!(e.offset <= frame.len(), "error offset beyond the frame");
            assert!(!e.to_string().is_empty());
        }
        Ok(kind) => {
            let items = &items[1..];
            // Every item takes at least two bytes.
            assert!(items.len() * 2 <= frame.len());
            let mut enc = BatchEncoder::new();
            for it in items {
                match it {
                    WireItem::Tuple { dest, tuple } => enc.push_tuple(*dest, tuple),
                    WireItem::Eos { from, to } => enc.push_eos(*from, *to),
                    WireItem::Backpressure { task, on } => enc.push_backpressure(*task, *on),
                }
            }
            match enc.finish() {
                None => assert!(items.is_empty()),
                Some(again) => {
                    let mut back = Vec::new();
                    let k = decode(&again, limits, &mut back).expect("re-encoded frame decodes");
                    assert_eq!(k, kind);
                    assert_eq!(back, items, "round trip changed the items");
                    if kind == KIND_BACKPRESSURE || !items.is_empty() {
                        assert!(again.len() <= frame.len(), "canonical form is never longer");
                    }
                }
            }
        }
    }
}

/// Endpoint strings: parsing never panics; what parses displays as a string
/// that parses to the same endpoint; a refusal names the input in at most
/// a bounded length.
pub fn endpoint(data: &[u8]) {
    use crate::transport::Endpoint;
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    match Endpoint::parse(s) {
        Ok(ep) => {
            let shown = ep.to_string();
            let again = Endpoint::parse(&shown)
                .unwrap_or_else(|e| panic!("{s:?} shows as {shown:?}, which fails: {e}"));
            assert_eq!(again, ep, "{s:?} -> {shown:?}");
        }
        Err(e) => {
            // The endpoint quoted in the error is cut to 128 bytes (plus
            // an ellipsis), each quoted in at most 10 characters (escaped),
            // and the reasons are short fixed texts: the message does not
            // grow with the input.
            assert!(e.to_string().len() < 128 * 10 + 400, "{e}");
        }
    }
}
