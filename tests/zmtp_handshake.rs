//! Two in-memory peers (no network) doing the whole ZMTP exchange: NULL and
//! PLAIN handshakes, good and bad credentials, 3.1↔3.1 and 3.1↔3.0, data
//! both ways, heartbeats and timeouts.

use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use ringmq::msg::Msg;
use ringmq::zmtp::{AuthStatus, Config, Connection, Error, Event, Mechanism, SocketType};

/// Two connected ends and their in-flight bytes.
struct Link {
    a: Connection,
    b: Connection,
    a_rx: BytesMut,
    b_rx: BytesMut,
    a_events: Vec<Event>,
    b_events: Vec<Event>,
    a_err: Option<Error>,
    b_err: Option<Error>,
    now: Instant,
}

impl Link {
    fn new(a: Config, b: Config) -> Link {
        let now = Instant::now();
        Link {
            a: Connection::new(a, now).unwrap(),
            b: Connection::new(b, now).unwrap(),
            a_rx: BytesMut::new(),
            b_rx: BytesMut::new(),
            a_events: Vec::new(),
            b_events: Vec::new(),
            a_err: None,
            b_err: None,
            now,
        }
    }

    /// Moves bytes both ways, in small pieces, until nothing moves.
    fn pump(&mut self) {
        loop {
            let mut moved = false;
            for _ in 0..2 {
                // a -> b
                let out = self.a.transmit().take_all();
                if !out.is_empty() && self.b_err.is_none() {
                    moved = true;
                    for piece in out.chunks(7) {
                        self.b_rx.extend_from_slice(piece);
                        if let Err(e) = self.b.handle_input(&mut self.b_rx, self.now) {
                            self.b_err.get_or_insert(e);
                            break;
                        }
                    }
                }
                self.b_events
                    .extend(std::iter::from_fn(|| self.b.poll_event()));
                std::mem::swap(&mut self.a, &mut self.b);
                std::mem::swap(&mut self.a_rx, &mut self.b_rx);
                std::mem::swap(&mut self.a_events, &mut self.b_events);
                std::mem::swap(&mut self.a_err, &mut self.b_err);
            }
            if !moved {
                return;
            }
        }
    }

    fn take_a(&mut self) -> Vec<Event> {
        std::mem::take(&mut self.a_events)
    }

    fn take_b(&mut self) -> Vec<Event> {
        std::mem::take(&mut self.b_events)
    }
}

fn ready_peer(events: &[Event]) -> &ringmq::zmtp::PeerInfo {
    match events.first() {
        Some(Event::Ready(p)) => p,
        other => panic!("expected Ready first, got {other:?}"),
    }
}

fn messages(events: &[Event]) -> Vec<Msg> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Message(m) => Some(m.clone()),
            _ => None,
        })
        .collect()
}

fn plain_server() -> Mechanism {
    Mechanism::plain_server(|c| {
        assert_eq!(c.peer_address, Some("10.0.0.7:5555"));
        match (c.username, c.password) {
            (b"admin", b"secret") => Ok("admin-id".to_string()),
            (b"busy", _) => Err(AuthStatus::TEMPORARY),
            _ => Err(AuthStatus::DENIED),
        }
    })
}

#[test]
fn null_dealer_router_with_identity_and_properties() {
    let mut dealer = Config::new(SocketType::Dealer);
    dealer.identity = Some(Bytes::from_static(b"worker-1"));
    dealer.properties.insert("X-Color", "blue");
    let router = Config::new(SocketType::Router);
    let mut link = Link::new(dealer, router);
    link.pump();
    assert!(link.a_err.is_none() && link.b_err.is_none());
    let a = link.take_a();
    let b = link.take_b();
    let seen_by_router = ready_peer(&b);
    assert_eq!(seen_by_router.socket_type, SocketType::Dealer);
    assert_eq!(seen_by_router.identity.as_deref(), Some(&b"worker-1"[..]));
    assert_eq!(
        seen_by_router.properties.get("x-color").map(|v| &v[..]),
        Some(&b"blue"[..])
    );
    assert_eq!(seen_by_router.minor_version, 1);
    let seen_by_dealer = ready_peer(&a);
    assert_eq!(seen_by_dealer.socket_type, SocketType::Router);
    assert_eq!(seen_by_dealer.identity.as_deref(), Some(&b""[..]));
    assert!(link.a.is_ready() && link.b.is_ready());

    // Data both ways, including a large zero-copy payload.
    let big = Msg::from(vec![42u8; 100_000]);
    link.a
        .send_multipart(&[Msg::from("req"), big.clone()])
        .unwrap();
    link.b
        .send_multipart(&[Msg::new(), Msg::from("rep")])
        .unwrap();
    link.pump();
    assert_eq!(
        messages(&link.take_b()),
        vec![Msg::from("req").with_more(true), big]
    );
    assert_eq!(
        messages(&link.take_a()),
        vec![Msg::new().with_more(true), Msg::from("rep")]
    );
}

#[test]
fn null_handshake_for_every_compatible_pair() {
    for a in SocketType::ALL {
        for b in SocketType::ALL {
            let mut link = Link::new(Config::new(a), Config::new(b));
            link.pump();
            if a.is_compatible(b) {
                assert!(link.a_err.is_none() && link.b_err.is_none(), "{a} {b}");
                assert_eq!(ready_peer(&link.take_a()).socket_type, b);
                assert_eq!(ready_peer(&link.take_b()).socket_type, a);
            } else {
                // Each side refuses the other; nobody becomes ready.
                let err = link.a_err.clone().or(link.b_err.clone());
                assert!(
                    matches!(
                        err,
                        Some(Error::IncompatibleSocketType { .. } | Error::PeerError(_))
                    ),
                    "{a} {b}: {err:?}"
                );
                assert!(!link.a.is_ready() && !link.b.is_ready());
                assert!(link.take_a().is_empty() && link.take_b().is_empty());
            }
        }
    }
}

#[test]
fn plain_handshake_with_good_credentials() {
    let mut client = Config::new(SocketType::Req);
    client.mechanism = Mechanism::plain_client("admin", "secret");
    let mut server = Config::new(SocketType::Rep);
    server.mechanism = plain_server();
    server.peer_address = Some("10.0.0.7:5555".into());
    let mut link = Link::new(client, server);
    link.pump();
    assert!(link.a_err.is_none() && link.b_err.is_none());
    let a = link.take_a();
    let b = link.take_b();
    assert_eq!(ready_peer(&a).socket_type, SocketType::Rep);
    assert_eq!(ready_peer(&a).user_id, None);
    assert_eq!(ready_peer(&b).socket_type, SocketType::Req);
    assert_eq!(ready_peer(&b).user_id.as_deref(), Some("admin-id"));

    link.a
        .send_multipart(&[Msg::new(), Msg::from("ping")])
        .unwrap();
    link.pump();
    assert_eq!(messages(&link.take_b())[1], Msg::from("ping"));
    link.b
        .send_multipart(&[Msg::new(), Msg::from("pong")])
        .unwrap();
    link.pump();
    assert_eq!(messages(&link.take_a())[1], Msg::from("pong"));
}

#[test]
fn plain_handshake_with_bad_credentials() {
    let mut client = Config::new(SocketType::Req);
    client.mechanism = Mechanism::plain_client("admin", "guess");
    let mut server = Config::new(SocketType::Rep);
    server.mechanism = plain_server();
    server.peer_address = Some("10.0.0.7:5555".into());
    let mut link = Link::new(client, server);
    link.pump();
    assert_eq!(link.b_err, Some(Error::AuthFailed { status: 400 }));
    assert_eq!(link.a_err, Some(Error::PeerError("400".into())));
    assert!(link.take_a().is_empty() && link.take_b().is_empty());
    assert!(link.a.is_closed() && link.b.is_closed());
}

#[test]
fn plain_temporary_failure_closes_silently() {
    let mut client = Config::new(SocketType::Req);
    client.mechanism = Mechanism::plain_client("busy", "x");
    let mut server = Config::new(SocketType::Rep);
    server.mechanism = plain_server();
    server.peer_address = Some("10.0.0.7:5555".into());
    let mut link = Link::new(client, server);
    link.pump();
    assert_eq!(link.b_err, Some(Error::AuthFailed { status: 300 }));
    // No ERROR reached the client: it is still waiting for WELCOME.
    assert_eq!(link.a_err, None);
    assert!(!link.a.is_ready());
}

#[test]
fn null_against_plain_is_a_mechanism_mismatch() {
    let mut client = Config::new(SocketType::Push);
    client.mechanism = Mechanism::plain_client("admin", "secret");
    let mut link = Link::new(client, Config::new(SocketType::Pull));
    link.pump();
    assert!(matches!(
        link.a_err,
        Some(Error::MechanismMismatch { ours: "PLAIN", .. })
    ));
    assert!(matches!(
        link.b_err,
        Some(Error::MechanismMismatch { ours: "NULL", .. })
    ));
}

fn pubsub(sub_minor: u8, pub_minor: u8, xpub: bool) -> Link {
    let mut sub = Config::new(SocketType::Sub);
    sub.zmtp_minor = sub_minor;
    let mut publ = Config::new(if xpub {
        SocketType::XPub
    } else {
        SocketType::Pub
    });
    publ.zmtp_minor = pub_minor;
    let mut link = Link::new(sub, publ);
    link.pump();
    assert!(link.a_err.is_none() && link.b_err.is_none());
    let expected = u8::from(sub_minor == 1 && pub_minor == 1);
    assert_eq!(ready_peer(&link.take_a()).minor_version, expected);
    assert_eq!(ready_peer(&link.take_b()).minor_version, expected);
    link
}

#[test]
fn subscriptions_across_versions() {
    for (sub_minor, pub_minor) in [(1, 1), (1, 0), (0, 1), (0, 0)] {
        for xpub in [false, true] {
            let mut link = pubsub(sub_minor, pub_minor, xpub);
            link.a.send_subscribe(b"weather").unwrap();
            // What the subscriber put on the wire depends on the version.
            let wire = link.a.transmit().take_all();
            if sub_minor == 1 && pub_minor == 1 {
                assert_eq!(&wire[..], b"\x04\x11\x09SUBSCRIBEweather");
            } else {
                assert_eq!(&wire[..], b"\x00\x08\x01weather");
            }
            let mut rx = BytesMut::from(&wire[..]);
            link.b.handle_input(&mut rx, link.now).unwrap();
            link.a.send_cancel(b"weather").unwrap();
            link.pump();
            // pump() drains B's events, the SUBSCRIBE's included.
            let got = link.take_b();
            assert_eq!(
                got,
                vec![
                    Event::Subscribe(Bytes::from_static(b"weather")),
                    Event::Cancel(Bytes::from_static(b"weather")),
                ],
                "sub 3.{sub_minor} pub 3.{pub_minor}"
            );

            link.b.send_msg(&Msg::from("weather: sunny")).unwrap();
            link.pump();
            assert_eq!(messages(&link.take_a()), vec![Msg::from("weather: sunny")]);
        }
    }
}

#[test]
fn heartbeats_ping_pong_and_timeouts() {
    let mut a = Config::new(SocketType::Pair);
    a.heartbeat_ivl = Some(Duration::from_secs(1));
    a.heartbeat_timeout = Some(Duration::from_secs(3));
    a.heartbeat_ttl = Some(Duration::from_secs(10));
    let mut link = Link::new(a, Config::new(SocketType::Pair));
    link.pump();
    link.take_a();
    link.take_b();
    let t0 = link.now;
    assert_eq!(link.a.poll_timeout(), Some(t0 + Duration::from_secs(1)));
    assert_eq!(link.b.poll_timeout(), None);

    // The PING goes out at the interval; B answers it and arms the TTL.
    link.a.handle_timeout(t0 + Duration::from_secs(1)).unwrap();
    let ping = link.a.transmit().take_all();
    assert_eq!(&ping[..], b"\x04\x07\x04PING\x00\x64");
    let now = t0 + Duration::from_secs(1);
    let mut rx = BytesMut::from(&ping[..]);
    link.b.handle_input(&mut rx, now).unwrap();
    assert_eq!(link.b.poll_timeout(), Some(now + Duration::from_secs(10)));
    let pong = link.b.transmit().take_all();
    assert_eq!(&pong[..], b"\x04\x05\x04PONG");
    // A waits for traffic until the heartbeat timeout.
    assert_eq!(link.a.poll_timeout(), Some(now + Duration::from_secs(1)));
    let mut rx = BytesMut::from(&pong[..]);
    link.a.handle_input(&mut rx, now).unwrap();

    // With no further traffic, A's next PING starts a timeout that fires.
    let t2 = t0 + Duration::from_secs(2);
    link.a.handle_timeout(t2).unwrap();
    assert!(link
        .a
        .transmit()
        .take_all()
        .starts_with(b"\x04\x07\x04PING"));
    link.a.handle_timeout(t0 + Duration::from_secs(3)).unwrap();
    link.a.transmit().take_all();
    assert_eq!(
        link.a.handle_timeout(t2 + Duration::from_secs(3)),
        Err(Error::HeartbeatTimeout)
    );
    assert!(link.a.is_closed());

    // B's TTL from the PING fires when nothing else arrives.
    assert_eq!(link.b.handle_timeout(now + Duration::from_secs(9)), Ok(()));
    assert_eq!(
        link.b.handle_timeout(now + Duration::from_secs(10)),
        Err(Error::HeartbeatTimeout)
    );
}

#[test]
fn traffic_cancels_the_heartbeat_timeout() {
    let mut a = Config::new(SocketType::Pair);
    a.heartbeat_ivl = Some(Duration::from_secs(1));
    let mut link = Link::new(a, Config::new(SocketType::Pair));
    link.pump();
    let t0 = link.now;
    link.a.handle_timeout(t0 + Duration::from_secs(1)).unwrap();
    link.a.transmit().take_all();
    // A message from B arrives before the timeout.
    link.b.send_msg(&Msg::from("alive")).unwrap();
    let bytes = link.b.transmit().take_all();
    let mut rx = BytesMut::from(&bytes[..]);
    link.a
        .handle_input(&mut rx, t0 + Duration::from_millis(1500))
        .unwrap();
    // Only the next PING is due, not a timeout.
    assert_eq!(link.a.poll_timeout(), Some(t0 + Duration::from_secs(2)));
    link.a.handle_timeout(t0 + Duration::from_secs(2)).unwrap();
    assert!(link.a.is_ready());
}

#[test]
fn handshake_times_out() {
    let now = Instant::now();
    let mut cfg = Config::new(SocketType::Pull);
    cfg.handshake_timeout = Some(Duration::from_secs(5));
    let mut c = Connection::new(cfg, now).unwrap();
    assert_eq!(c.poll_timeout(), Some(now + Duration::from_secs(5)));
    assert_eq!(c.handle_timeout(now + Duration::from_secs(4)), Ok(()));
    assert_eq!(
        c.handle_timeout(now + Duration::from_secs(5)),
        Err(Error::HandshakeTimeout)
    );
    assert!(c.is_closed());
    assert_eq!(c.poll_timeout(), None);

    // A finished handshake disarms it.
    let mut link = Link::new(Config::new(SocketType::Push), Config::new(SocketType::Pull));
    link.pump();
    assert_eq!(link.a.poll_timeout(), None);
}

#[cfg(feature = "curve")]
mod curve {
    use super::*;
    use ringmq::zmtp::CurveKeyPair;

    /// A CURVE link: `a` the client (SUB or DEALER), `b` the server.
    fn curve_link(a_type: SocketType, b_type: SocketType, minor: u8) -> (Link, CurveKeyPair) {
        let server = CurveKeyPair::generate().unwrap();
        let client = CurveKeyPair::generate().unwrap();
        let mut a = Config::new(a_type);
        a.zmtp_minor = minor;
        a.mechanism = Mechanism::curve_client(client.clone(), *server.public());
        a.heartbeat_ivl = Some(Duration::from_secs(1));
        a.heartbeat_timeout = Some(Duration::from_millis(500));
        let mut b = Config::new(b_type);
        b.mechanism = Mechanism::curve_server_with(server, |c| {
            Ok(ringmq::zmtp::z85_encode(c.client_key).unwrap())
        });
        let mut link = Link::new(a, b);
        link.pump();
        assert!(
            link.a_err.is_none() && link.b_err.is_none(),
            "{:?} {:?}",
            link.a_err,
            link.b_err
        );
        (link, client)
    }

    #[test]
    fn handshake_in_pieces_then_sealed_frames_both_ways() {
        let (mut link, client) = curve_link(SocketType::Dealer, SocketType::Router, 1);
        let a = link.take_a();
        assert_eq!(ready_peer(&a).socket_type, SocketType::Router);
        let b = link.take_b();
        let peer = ready_peer(&b);
        assert_eq!(peer.socket_type, SocketType::Dealer);
        assert_eq!(peer.user_id.as_deref(), Some(client.public_z85().as_str()));

        let long = vec![0x5Au8; 1000];
        link.a
            .send_multipart(&[Msg::from("head"), Msg::from(&long[..]), Msg::from("")])
            .unwrap();
        // Nothing of the body crosses in the clear.
        let wire = link.a.transmit().take_all();
        assert!(!wire.windows(4).any(|w| w == b"head"));
        assert!(!wire.windows(16).any(|w| w == [0x5A; 16]));
        let mut rx = BytesMut::from(&wire[..]);
        link.b.handle_input(&mut rx, link.now).unwrap();
        link.b_events
            .extend(std::iter::from_fn(|| link.b.poll_event()));
        let got = messages(&link.take_b());
        assert_eq!(got.len(), 3);
        assert_eq!((&got[0][..], got[0].more()), (&b"head"[..], true));
        assert_eq!((&got[1][..], got[1].more()), (&long[..], true));
        assert_eq!((&got[2][..], got[2].more()), (&b""[..], false));

        // A PING and its PONG are sealed commands too.
        link.now += Duration::from_secs(1);
        link.a.handle_timeout(link.now).unwrap();
        assert_eq!(
            link.a.poll_timeout(),
            Some(link.now + Duration::from_millis(500))
        );
        let ping = link.a.transmit().take_all();
        assert!(!ping.windows(4).any(|w| w == b"PING"));
        let mut rx = BytesMut::from(&ping[..]);
        link.b.handle_input(&mut rx, link.now).unwrap();
        link.pump();
        // The PONG arrived and opened: the deadline the PING set is gone.
        assert!(link.a_err.is_none());
        assert_eq!(
            link.a.poll_timeout(),
            Some(link.now + Duration::from_secs(1))
        );

        link.b.send_msg(&Msg::from("back")).unwrap();
        link.pump();
        assert_eq!(messages(&link.take_a()), vec![Msg::from("back")]);
    }

    #[test]
    fn subscriptions_through_curve_in_both_versions() {
        for minor in [1, 0] {
            let (mut link, _) = curve_link(SocketType::Sub, SocketType::Pub, minor);
            link.take_a();
            link.take_b();
            link.a.send_subscribe(b"weather").unwrap();
            link.a.send_cancel(b"news").unwrap();
            link.pump();
            assert_eq!(
                link.take_b(),
                vec![
                    Event::Subscribe(Bytes::from_static(b"weather")),
                    Event::Cancel(Bytes::from_static(b"news")),
                ],
                "ZMTP 3.{minor}"
            );
        }
    }

    #[test]
    fn replayed_or_altered_message_is_refused() {
        let (mut link, _) = curve_link(SocketType::Dealer, SocketType::Router, 1);
        link.a.send_msg(&Msg::from("once")).unwrap();
        let wire = link.a.transmit().take_all();
        let mut rx = BytesMut::from(&wire[..]);
        link.b.handle_input(&mut rx, link.now).unwrap();
        let mut again = BytesMut::from(&wire[..]);
        let e = link.b.handle_input(&mut again, link.now).unwrap_err();
        assert!(matches!(e, Error::Crypto(_)), "{e}");

        let (mut link, _) = curve_link(SocketType::Dealer, SocketType::Router, 1);
        link.a.send_msg(&Msg::from("once")).unwrap();
        let mut wire = link.a.transmit().take_all().to_vec();
        let last = wire.len() - 1;
        wire[last] ^= 0x80;
        let mut rx = BytesMut::from(&wire[..]);
        let e = link.b.handle_input(&mut rx, link.now).unwrap_err();
        assert!(matches!(e, Error::Crypto(_)), "{e}");
        assert!(link.b.poll_event().is_none());
    }

    #[test]
    fn wrong_server_key_and_plain_frames_are_refused() {
        let server = CurveKeyPair::generate().unwrap();
        let mut a = Config::new(SocketType::Push);
        a.mechanism = Mechanism::curve_client(
            CurveKeyPair::generate().unwrap(),
            *CurveKeyPair::generate().unwrap().public(),
        );
        let mut b = Config::new(SocketType::Pull);
        b.mechanism = Mechanism::curve_server(server);
        let mut link = Link::new(a, b);
        link.pump();
        assert!(
            matches!(link.b_err, Some(Error::Crypto(_))),
            "{:?}",
            link.b_err
        );

        // A frame in the clear after a CURVE handshake is refused.
        let (mut link, _) = curve_link(SocketType::Dealer, SocketType::Router, 1);
        let mut rx = BytesMut::from(&b"\x00\x05hello"[..]);
        let e = link.b.handle_input(&mut rx, link.now).unwrap_err();
        assert!(matches!(e, Error::Crypto(_)), "{e}");
    }
}
