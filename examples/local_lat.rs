//! Latency echo side, following libzmq's `perf/local_lat` conventions.
//!
//! ```text
//! cargo run --release --example local_lat -- <bind-to> <message-size> <roundtrip-count>
//! ```
//!
//! Binds a REP socket and echoes `roundtrip-count` messages of
//! `message-size` bytes (checking each size). Works with libzmq's
//! `remote_lat` as well as ringmq's.

use std::process::ExitCode;

use ringmq::{Context, SocketType};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 4 {
        eprintln!("usage: local_lat <bind-to> <message-size> <roundtrip-count>");
        return ExitCode::from(2);
    }
    let (Ok(size), Ok(count)) = (args[2].parse::<usize>(), args[3].parse::<u64>()) else {
        eprintln!("local_lat: message-size and roundtrip-count must be numbers");
        return ExitCode::from(2);
    };
    match run(&args[1], size, count) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("local_lat: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(bind_to: &str, size: usize, count: u64) -> Result<(), Box<dyn std::error::Error>> {
    let ctx = Context::new();
    let rep = ctx.socket(SocketType::Rep)?;
    rep.bind(bind_to)?;
    for _ in 0..count {
        let m = rep.recv()?;
        if m.len() != size {
            return Err(format!("message of incorrect size: {} (expected {size})", m.len()).into());
        }
        rep.send(m)?;
    }
    Ok(())
}
