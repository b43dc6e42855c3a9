//! Helpers shared by the socket integration tests: sockets whose every wait
//! is bounded, libzmq peers configured the same way, free ports.

#![allow(dead_code)]

use std::time::Duration;

use ringmq::{Context, Msg, SocketType};

/// The longest any send or receive in a test may wait.
pub const WAIT: Duration = Duration::from_secs(10);

/// A ringmq socket whose sends and receives give up after [`WAIT`].
pub fn sock(ctx: &Context, kind: SocketType) -> ringmq::Socket {
    let s = ctx.socket(kind).unwrap();
    s.set_rcvtimeo(Some(WAIT)).unwrap();
    s.set_sndtimeo(Some(WAIT)).unwrap();
    s
}

/// A libzmq socket whose sends and receives give up after [`WAIT`].
pub fn zsock(ctx: &zmq::Context, kind: zmq::SocketType) -> zmq::Socket {
    let s = ctx.socket(kind).unwrap();
    s.set_rcvtimeo(WAIT.as_millis() as i32).unwrap();
    s.set_sndtimeo(WAIT.as_millis() as i32).unwrap();
    s.set_linger(2000).unwrap();
    s
}

/// A loopback TCP endpoint on a port that was free a moment ago (for tests
/// that connect before anything binds).
pub fn unused_tcp_endpoint() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    format!("tcp://127.0.0.1:{}", l.local_addr().unwrap().port())
}

/// The frames of a message as strings.
pub fn strs(parts: &[Msg]) -> Vec<String> {
    parts
        .iter()
        .map(|m| String::from_utf8_lossy(m).into_owned())
        .collect()
}
