//! libzmq's `remote_thr`, through the `zmq` crate: the sending half of the
//! throughput test, for side-by-side runs against ringmq's own tools.
//!
//! ```text
//! cargo run --release --example zmq_remote_thr -- tcp://127.0.0.1:5555 64 1000000
//! ```
//!
//! Connects a PUSH socket, sends `message-count` zero-filled messages of
//! `message-size` bytes, then closes with an infinite linger so every
//! message is delivered before the process exits (as libzmq's
//! `perf/remote_thr.cpp` does).

use std::process::ExitCode;

fn usage() -> ExitCode {
    eprintln!("usage: zmq_remote_thr <connect-to> <message-size> <message-count>");
    ExitCode::from(1)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 4 {
        return usage();
    }
    let (Ok(size), Ok(count)) = (args[2].parse::<usize>(), args[3].parse::<u64>()) else {
        return usage();
    };
    match run(&args[1], size, count) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("zmq_remote_thr: {e}");
            ExitCode::from(1)
        }
    }
}

fn run(connect_to: &str, size: usize, count: u64) -> Result<(), zmq::Error> {
    let ctx = zmq::Context::new();
    let push = ctx.socket(zmq::PUSH)?;
    push.set_linger(-1)?;
    push.connect(connect_to)?;
    let payload = vec![0u8; size];
    for _ in 0..count {
        // Like libzmq's tool: a fresh message per send, zero-filled.
        push.send(&payload[..], 0)?;
    }
    // Closing the socket and terminating the context waits for delivery.
    drop(push);
    drop(ctx);
    Ok(())
}
