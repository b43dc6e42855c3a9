//! One end of a CURVE connection, for trying ringmq's CURVE against other
//! ZeroMQ implementations (`tests/curve_pyzmq.py` drives it against
//! pyzmq's libzmq). Needs the `curve` feature:
//!
//! ```text
//! cargo run --features curve --example curve_peer -- keypair
//! cargo run --features curve --example curve_peer -- rep <bind> <server-secret> <count> [heartbeat-ms]
//! cargo run --features curve --example curve_peer -- req <connect> <client-secret> <server-public> <count> [heartbeat-ms]
//! cargo run --features curve --example curve_peer -- pub <bind> <server-secret> <seconds>
//! cargo run --features curve --example curve_peer -- sub <connect> <client-secret> <server-public> <count>
//! ```
//!
//! Keys are 40 Z85 characters. `rep` answers each request with its frames
//! in reverse order and a last frame naming the client's key as the REP
//! saw it (`User-Id`); `req` sends `count` requests of three frames (its
//! number, an empty frame, 100 000 bytes), checks each reply, and sleeps
//! between requests when heartbeats are on so that PINGs cross the link.
//! `pub` publishes `a <n>` and `b <n>` for the given time; `sub`
//! subscribes to `a`, receives `count` messages and checks that each is an
//! `a` message, in increasing order.

use std::process::ExitCode;
use std::time::Duration;

use ringmq::zmtp::{curve_key, CurveKeyPair, Mechanism};
use ringmq::{Context, SocketType};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let r = match args.first().map(String::as_str) {
        Some("keypair") => {
            let k = CurveKeyPair::generate().expect("random keys");
            println!("{} {}", k.public_z85(), k.secret_z85());
            Ok(())
        }
        Some("rep") if args.len() >= 4 => rep(&args),
        Some("req") if args.len() >= 5 => req(&args),
        Some("pub") if args.len() >= 4 => publish(&args),
        Some("sub") if args.len() >= 5 => subscribe(&args),
        _ => Err("usage: curve_peer keypair | rep <bind> <server-secret> <count> [hb-ms] | req <connect> <client-secret> <server-public> <count> [hb-ms] | pub <bind> <server-secret> <seconds> | sub <connect> <client-secret> <server-public> <count>".into()),
    };
    match r {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("curve_peer: {e}");
            ExitCode::FAILURE
        }
    }
}

type Res = Result<(), Box<dyn std::error::Error>>;

fn heartbeat(
    s: &ringmq::Socket,
    arg: Option<&String>,
) -> Result<Option<Duration>, Box<dyn std::error::Error>> {
    let Some(ms) = arg else { return Ok(None) };
    let d = Duration::from_millis(ms.parse()?);
    s.set_heartbeat_ivl(Some(d))?;
    s.set_heartbeat_timeout(Some(d * 20))?;
    Ok(Some(d))
}

fn rep(args: &[String]) -> Res {
    let ctx = Context::new();
    let s = ctx.socket(SocketType::Rep)?;
    s.set_mechanism(Mechanism::curve_server_with(
        CurveKeyPair::from_secret_z85(&args[2])?,
        |c| Ok(ringmq::zmtp::z85_encode(c.client_key).expect("32 bytes")),
    ))?;
    heartbeat(&s, args.get(4))?;
    s.set_rcvtimeo(Some(Duration::from_secs(20)))?;
    let ep = s.bind(&args[1])?;
    println!("bound {ep}");
    let count: usize = args[3].parse()?;
    for _ in 0..count {
        let mut frames = s.recv_multipart()?;
        let user = s.last_message_property("User-Id").unwrap_or_default();
        frames.reverse();
        frames.push(user.into());
        s.send_multipart(frames)?;
    }
    println!("rep done: {count} requests");
    Ok(())
}

fn req(args: &[String]) -> Res {
    let ctx = Context::new();
    let s = ctx.socket(SocketType::Req)?;
    let keys = CurveKeyPair::from_secret_z85(&args[2])?;
    s.set_mechanism(Mechanism::curve_client(
        keys.clone(),
        curve_key(args[3].as_bytes())?,
    ))?;
    let hb = heartbeat(&s, args.get(5))?;
    s.set_rcvtimeo(Some(Duration::from_secs(20)))?;
    s.connect(&args[1])?;
    let count: u32 = args[4].parse()?;
    let big = vec![7u8; 100_000];
    for i in 0..count {
        s.send_multipart([i.to_be_bytes().to_vec(), Vec::new(), big.clone()])?;
        let got = s.recv_multipart()?;
        if got.len() != 4
            || got[0][..] != big[..]
            || !got[1].is_empty()
            || got[2][..] != i.to_be_bytes()
        {
            return Err(format!(
                "reply {i} is not the request reversed ({} frames)",
                got.len()
            )
            .into());
        }
        let user = String::from_utf8_lossy(&got[3]).into_owned();
        if !user.is_empty() && user != keys.public_z85() {
            return Err(format!("the server saw user {user:?}, not our key").into());
        }
        if let Some(d) = hb {
            std::thread::sleep(d * 3);
        }
    }
    println!("req done: {count} round trips");
    Ok(())
}

fn publish(args: &[String]) -> Res {
    let ctx = Context::new();
    let s = ctx.socket(SocketType::Pub)?;
    s.set_mechanism(Mechanism::curve_server(CurveKeyPair::from_secret_z85(
        &args[2],
    )?))?;
    let ep = s.bind(&args[1])?;
    println!("bound {ep}");
    let until = std::time::Instant::now() + Duration::from_secs(args[3].parse()?);
    let mut n = 0u64;
    while std::time::Instant::now() < until {
        s.send(format!("b {n}"))?;
        s.send(format!("a {n}"))?;
        n += 1;
        std::thread::sleep(Duration::from_millis(1));
    }
    println!("pub done: {n} of each");
    Ok(())
}

fn subscribe(args: &[String]) -> Res {
    let ctx = Context::new();
    let s = ctx.socket(SocketType::Sub)?;
    s.set_mechanism(Mechanism::curve_client(
        CurveKeyPair::from_secret_z85(&args[2])?,
        curve_key(args[3].as_bytes())?,
    ))?;
    s.set_rcvtimeo(Some(Duration::from_secs(20)))?;
    s.subscribe(b"a")?;
    s.connect(&args[1])?;
    let count: usize = args[4].parse()?;
    let mut last = None;
    for _ in 0..count {
        let m = s.recv()?;
        let text = String::from_utf8_lossy(&m).into_owned();
        let n: u64 = match text.strip_prefix("a ") {
            Some(n) => n.parse()?,
            None => return Err(format!("received {text:?}, not an `a` message").into()),
        };
        if last.is_some_and(|l| n <= l) {
            return Err(format!("{text:?} after a {last:?}").into());
        }
        last = Some(n);
    }
    println!("sub done: {count} messages, all `a`");
    Ok(())
}
