//! A ringmq socket driven by an external event loop (mio here), through
//! [`Socket::fd`](ringmq::Socket::fd) and
//! [`Socket::events`](ringmq::Socket::events), libzmq's `ZMQ_FD` and
//! `ZMQ_EVENTS`: the way to put a socket into epoll, mio or an async
//! runtime's readiness API next to other descriptors.
//!
//! ```text
//! cargo run --release --example event_loop -- [message-count]
//! ```
//!
//! A PUSH on another thread sends `message-count` numbered messages over
//! TCP; the main thread's loop waits on the PULL's descriptor (and could
//! wait on any others), takes everything the socket has each time it
//! wakes, and checks the order. The last line is
//!
//! ```text
//! received=<count> wakeups=<count> msgs_per_wakeup=<float>
//! ```

use std::process::ExitCode;
use std::time::Duration;

use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Token};
use ringmq::{Context, SocketType};

fn main() -> ExitCode {
    let count = match std::env::args().nth(1).map(|s| s.parse::<u64>()) {
        None => 100_000,
        Some(Ok(n)) if n > 0 => n,
        Some(_) => {
            eprintln!("usage: event_loop [message-count (at least 1)]");
            return ExitCode::from(2);
        }
    };
    match run(count) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("event_loop: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(count: u64) -> Result<(), Box<dyn std::error::Error>> {
    let ctx = Context::new();
    let pull = ctx.socket(SocketType::Pull)?;
    let endpoint = pull.bind("tcp://127.0.0.1:*")?;

    // The loop watches the socket's descriptor for readability, like any
    // other descriptor it serves.
    const SOCKET: Token = Token(0);
    let fd = pull.fd()?;
    let mut poll = Poll::new()?;
    poll.registry()
        .register(&mut SourceFd(&fd), SOCKET, Interest::READABLE)?;

    let push = ctx.socket(SocketType::Push)?;
    let sender = std::thread::spawn(move || -> ringmq::Result<()> {
        push.connect(&endpoint)?;
        for i in 0..count {
            push.send(i.to_le_bytes().to_vec())?;
        }
        Ok(())
    });

    let mut events = Events::with_capacity(16);
    let (mut received, mut wakeups) = (0u64, 0u64);
    loop {
        // Take everything there is; `events` re-arms the descriptor once
        // the socket has nothing left to receive.
        while pull.events()?.readable {
            while let Ok(m) = pull.try_recv() {
                let n = u64::from_le_bytes(m[..].try_into()?);
                if n != received {
                    return Err(format!("message {n} arrived as number {received}").into());
                }
                received += 1;
            }
        }
        if received == count {
            break;
        }
        poll.poll(&mut events, Some(Duration::from_secs(10)))?;
        if events.is_empty() {
            return Err("no wake-up within 10 s".into());
        }
        wakeups += events.iter().filter(|e| e.token() == SOCKET).count() as u64;
    }
    sender.join().map_err(|_| "sender thread panicked")??;
    println!(
        "received={received} wakeups={wakeups} msgs_per_wakeup={:.1}",
        received as f64 / wakeups.max(1) as f64
    );
    Ok(())
}
