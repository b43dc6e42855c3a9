//! Throughput sender, following libzmq's `perf/remote_thr` conventions.
//!
//! ```text
//! cargo run --release --example remote_thr -- <connect-to> <message-size> <message-count>
//! ```
//!
//! Connects a PUSH socket and sends `message-count` zero-filled messages of
//! `message-size` bytes; exits once they are delivered (infinite linger).

use std::process::ExitCode;

use ringmq::{Context, Msg, SocketType};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 4 {
        eprintln!("usage: remote_thr <connect-to> <message-size> <message-count>");
        return ExitCode::from(2);
    }
    let (Ok(size), Ok(count)) = (args[2].parse::<usize>(), args[3].parse::<u64>()) else {
        eprintln!("remote_thr: message-size and message-count must be numbers");
        return ExitCode::from(2);
    };
    match run(&args[1], size, count) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("remote_thr: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(connect_to: &str, size: usize, count: u64) -> Result<(), Box<dyn std::error::Error>> {
    let ctx = Context::new();
    let push = ctx.socket(SocketType::Push)?;
    push.connect(connect_to)?;
    let body = bytes::Bytes::from(vec![0u8; size]);
    for _ in 0..count {
        // Small bodies are copied inline; large ones share one buffer.
        push.send(Msg::from_shared(&body))?;
    }
    drop(push);
    drop(ctx);
    Ok(())
}
