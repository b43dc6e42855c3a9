//! IPC transport through real Unix sockets and a mio `Poll`.
//!
//! Waits are bounded (a generous deadline only turns a hang into a failure);
//! no test measures time.
#![cfg(unix)]

use std::io::{self, Read, Write};
use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use mio::net::{UnixListener, UnixStream};
use mio::{Events, Interest, Poll, Token};
use ringmq::transport::{bind_ipc, connect_ipc, resolve_endpoint_string, Endpoint, LocalAddr};

const LISTENER: Token = Token(0);
const CLIENT: Token = Token(1);
const SERVER: Token = Token(2);
const DEADLINE: Duration = Duration::from_secs(20);

/// A private directory for one test, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let dir =
            std::env::temp_dir().join(format!("rmq-ipc-{}-{tag}-{nanos:x}", std::process::id()));
        std::fs::create_dir(&dir).unwrap();
        TempDir(dir)
    }

    fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn wait_for(poll: &mut Poll, token: Token, want: impl Fn(&mio::event::Event) -> bool) {
    let start = Instant::now();
    let mut events = Events::with_capacity(16);
    loop {
        let left = DEADLINE
            .checked_sub(start.elapsed())
            .unwrap_or_else(|| panic!("no readiness for {token:?} within {DEADLINE:?}"));
        match poll.poll(&mut events, Some(left)) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => panic!("poll: {e}"),
        }
        if events.iter().any(|e| e.token() == token && want(e)) {
            return;
        }
    }
}

fn write_all(poll: &mut Poll, token: Token, stream: &mut UnixStream, mut buf: &[u8]) {
    while !buf.is_empty() {
        match stream.write(buf) {
            Ok(0) => panic!("write returned 0"),
            Ok(n) => buf = &buf[n..],
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                wait_for(poll, token, |e| e.is_writable());
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => panic!("write: {e}"),
        }
    }
}

fn read_exact(poll: &mut Poll, token: Token, stream: &mut UnixStream, len: usize) -> Vec<u8> {
    let mut out = vec![0u8; len];
    let mut got = 0;
    while got < len {
        match stream.read(&mut out[got..]) {
            Ok(0) => panic!("peer closed after {got} of {len} bytes"),
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                wait_for(poll, token, |e| e.is_readable());
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => panic!("read: {e}"),
        }
    }
    out
}

/// Connects to `path`, accepts on `listener`, sends bytes both ways.
fn exchange(listener: &mut UnixListener, path: &Path) {
    let mut poll = Poll::new().unwrap();
    poll.registry()
        .register(listener, LISTENER, Interest::READABLE)
        .unwrap();
    let mut client = connect_ipc(path).unwrap();
    poll.registry()
        .register(&mut client, CLIENT, Interest::READABLE | Interest::WRITABLE)
        .unwrap();
    let mut server = loop {
        match listener.accept() {
            Ok((s, _)) => break s,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                wait_for(&mut poll, LISTENER, |e| e.is_readable());
            }
            Err(e) => panic!("accept: {e}"),
        }
    };
    poll.registry()
        .register(&mut server, SERVER, Interest::READABLE | Interest::WRITABLE)
        .unwrap();
    let payload: Vec<u8> = (0..300_000u32).map(|i| (i % 253) as u8).collect();
    let mut received = Vec::with_capacity(payload.len());
    for chunk in payload.chunks(32 * 1024) {
        write_all(&mut poll, CLIENT, &mut client, chunk);
        received.extend(read_exact(&mut poll, SERVER, &mut server, chunk.len()));
    }
    assert!(received == payload, "bytes arrive intact and in order");
    write_all(&mut poll, SERVER, &mut server, b"pong");
    assert_eq!(read_exact(&mut poll, CLIENT, &mut client, 4), b"pong");
    poll.registry().deregister(listener).unwrap();
}

fn is_socket(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_socket())
}

#[test]
fn bind_connect_exchange_and_guard_removes_file() {
    let dir = TempDir::new("basic");
    let path = dir.join("s.sock");
    let ep = Endpoint::parse(&format!("ipc://{}", path.display())).unwrap();
    let Endpoint::Ipc(ep_path) = &ep else {
        unreachable!()
    };
    let (mut listener, guard) = bind_ipc(ep_path).unwrap();
    assert_eq!(guard.path(), path);
    assert!(is_socket(&path));
    assert_eq!(
        resolve_endpoint_string(&ep, &LocalAddr::Ipc(guard.path().to_owned())),
        format!("ipc://{}", path.display())
    );
    exchange(&mut listener, &path);
    drop(listener);
    assert!(is_socket(&path), "the file lives as long as the guard");
    drop(guard);
    assert!(!path.exists(), "guard drop removes the socket file");
}

#[test]
fn relative_path_binds_relative_to_cwd() {
    // Relative to the current directory, as libzmq does; use a name that
    // cannot clash with anything else in it.
    let name = format!("rmq-rel-{}.sock", std::process::id());
    let rel = PathBuf::from(&name);
    let (mut listener, guard) = bind_ipc(&rel).unwrap();
    let abs = std::env::current_dir().unwrap().join(&name);
    assert!(is_socket(&abs));
    exchange(&mut listener, &rel);
    drop(guard);
    assert!(!abs.exists());
}

#[test]
fn stale_socket_file_is_replaced() {
    let dir = TempDir::new("stale");
    let path = dir.join("s.sock");
    // A listener that goes away without unlinking leaves a stale file.
    drop(std::os::unix::net::UnixListener::bind(&path).unwrap());
    assert!(is_socket(&path));
    assert_eq!(
        std::os::unix::net::UnixStream::connect(&path)
            .unwrap_err()
            .kind(),
        io::ErrorKind::ConnectionRefused
    );
    let (mut listener, _guard) = bind_ipc(&path).unwrap();
    exchange(&mut listener, &path);
}

#[test]
fn live_socket_is_not_stolen() {
    let dir = TempDir::new("live");
    let path = dir.join("s.sock");
    let (mut first, _guard) = bind_ipc(&path).unwrap();
    let err = bind_ipc(&path).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::AddrInUse, "{err}");
    // The first listener still owns the path and still works. (The probe
    // connection of the failed bind sits in its backlog; accept it first.)
    let _ = first.accept();
    exchange(&mut first, &path);
}

#[test]
fn regular_file_is_not_clobbered() {
    let dir = TempDir::new("regular");
    let path = dir.join("data.txt");
    std::fs::write(&path, b"precious").unwrap();
    let err = bind_ipc(&path).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::AlreadyExists, "{err}");
    assert!(err.to_string().contains("not a socket"), "{err}");
    assert_eq!(std::fs::read(&path).unwrap(), b"precious");
    // Nor a directory.
    let sub = dir.join("subdir");
    std::fs::create_dir(&sub).unwrap();
    assert_eq!(
        bind_ipc(&sub).unwrap_err().kind(),
        io::ErrorKind::AlreadyExists
    );
    assert!(sub.is_dir());
}

#[test]
fn guard_leaves_a_rebound_socket_alone() {
    let dir = TempDir::new("rebound");
    let path = dir.join("s.sock");
    let (first, first_guard) = bind_ipc(&path).unwrap();
    drop(first);
    // Pin the old inode with a second link, so the file system cannot hand
    // the same inode number to the next socket file.
    std::fs::hard_link(&path, dir.join("pin")).unwrap();
    // Someone else takes over the path (the old file is stale now).
    let (mut second, second_guard) = bind_ipc(&path).unwrap();
    drop(first_guard);
    assert!(
        is_socket(&path),
        "the first guard must not remove the new socket"
    );
    exchange(&mut second, &path);
    drop(second_guard);
    assert!(!path.exists());
}

#[test]
fn wildcard_makes_a_unique_temp_path() {
    let ep = Endpoint::parse("ipc://*").unwrap();
    let Endpoint::Ipc(star) = &ep else {
        unreachable!()
    };
    let (mut l1, g1) = bind_ipc(star).unwrap();
    let (_l2, g2) = bind_ipc(star).unwrap();
    assert_ne!(g1.path(), g2.path());
    assert!(g1.path().is_absolute());
    assert!(is_socket(g1.path()));
    let last = resolve_endpoint_string(&ep, &LocalAddr::Ipc(g1.path().to_owned()));
    assert_eq!(
        Endpoint::parse(&last).unwrap(),
        Endpoint::Ipc(g1.path().into())
    );
    let p1 = g1.path().to_owned();
    exchange(&mut l1, &p1);
    drop(g1);
    assert!(!p1.exists());
    assert!(
        !p1.parent().unwrap().exists(),
        "its directory is removed too"
    );
    assert_eq!(
        connect_ipc(star).unwrap_err().kind(),
        io::ErrorKind::InvalidInput
    );
}

#[test]
fn connect_to_missing_path_fails() {
    let dir = TempDir::new("missing");
    let err = connect_ipc(&dir.join("nobody.sock")).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::NotFound, "{err}");
}

#[test]
fn overlong_path_is_an_error_not_a_panic() {
    let long = PathBuf::from(format!("/tmp/{}", "x".repeat(200)));
    assert!(bind_ipc(&long).is_err());
    assert!(connect_ipc(&long).is_err());
}

#[cfg(any(target_os = "linux", target_os = "android"))]
#[test]
fn abstract_socket_bind_connect_exchange() {
    let name = format!("ipc://@ringmq-test-{}", std::process::id());
    let Endpoint::Ipc(path) = Endpoint::parse(&name).unwrap() else {
        unreachable!()
    };
    let (mut listener, guard) = bind_ipc(&path).unwrap();
    assert_eq!(guard.path(), path);
    assert!(!path.exists(), "abstract sockets have no file");
    exchange(&mut listener, &path);
    // Same name twice: the kernel says in use.
    assert_eq!(
        bind_ipc(&path).unwrap_err().kind(),
        io::ErrorKind::AddrInUse
    );
    drop(listener);
    drop(guard);
    // Closed: the name is free again.
    let (_again, _g) = bind_ipc(&path).unwrap();
}
