//! Helpers shared by the socket integration tests: sockets whose every wait
//! is bounded, libzmq peers configured the same way, free ports.

#![allow(dead_code)]

use std::time::Duration;

use ringmq::{Context, Msg, SocketType};

/// Waits for the monitor to report `kind`, passing over other events (each
/// wait bounded by [`WAIT`]), and returns that event.
pub fn wait_for_event(
    mon: &mut ringmq::Monitor,
    kind: ringmq::MonitorEventKind,
) -> ringmq::MonitorEvent {
    loop {
        let ev = mon
            .recv_timeout(WAIT)
            .unwrap_or_else(|e| panic!("no {kind:?} event: {e}"));
        if ev.kind == kind {
            return ev;
        }
    }
}

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

/// A 64-byte ZMTP 3.1 greeting for the NULL mechanism, as a raw peer sends it.
pub fn null_greeting() -> Vec<u8> {
    let mut g = vec![0u8; 64];
    g[0] = 0xFF;
    g[8] = 1;
    g[9] = 0x7F;
    g[10] = 3;
    g[11] = 1;
    g[12..16].copy_from_slice(b"NULL");
    g
}

/// A READY command frame announcing `socket_type` (no other properties).
pub fn ready_command(socket_type: &str) -> Vec<u8> {
    let mut body = vec![5u8];
    body.extend_from_slice(b"READY");
    body.push(11);
    body.extend_from_slice(b"Socket-Type");
    body.extend_from_slice(&(socket_type.len() as u32).to_be_bytes());
    body.extend_from_slice(socket_type.as_bytes());
    let mut f = vec![0x04, body.len() as u8];
    f.extend_from_slice(&body);
    f
}

/// A raw ZMTP peer of type `socket_type` on `endpoint` (`tcp://host:port`)
/// that has finished the NULL handshake: it sent `greeting` and its READY,
/// and read the other side's greeting and READY, so what it writes next is
/// taken as messages. Its reads give up after [`WAIT`].
pub fn raw_peer(endpoint: &str, greeting: &[u8], socket_type: &str) -> std::net::TcpStream {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(endpoint.trim_start_matches("tcp://")).unwrap();
    s.set_read_timeout(Some(WAIT)).unwrap();
    s.write_all(greeting).unwrap();
    s.write_all(&ready_command(socket_type)).unwrap();
    let mut head = [0u8; 66];
    s.read_exact(&mut head).unwrap();
    assert_eq!(
        head[64], 0x04,
        "a short command (READY) follows the greeting"
    );
    let mut ready = vec![0u8; head[65] as usize];
    s.read_exact(&mut ready).unwrap();
    s
}

/// A short final message frame (body under 256 bytes) as a raw peer writes it.
pub fn short_frame(body: &[u8]) -> Vec<u8> {
    let mut f = vec![0, body.len() as u8];
    f.extend_from_slice(body);
    f
}
