//! Throughput receiver, following libzmq's `perf/local_thr` conventions.
//!
//! ```text
//! cargo run --release --example local_thr -- <bind-to> <message-size> <message-count>
//! ```
//!
//! Binds a PULL socket, receives `message-count` messages of `message-size`
//! bytes (checking each size), and prints libzmq's report lines followed by,
//! as the last line, `msgs_per_s=<float> mb_per_s=<float> elapsed_s=<float>`
//! timed from the first to the last message (mb = 10^6 payload bytes).

use std::process::ExitCode;
use std::time::Instant;

use ringmq::{Context, SocketType};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 4 {
        eprintln!("usage: local_thr <bind-to> <message-size> <message-count>");
        return ExitCode::from(2);
    }
    let (Ok(size), Ok(count)) = (args[2].parse::<usize>(), args[3].parse::<u64>()) else {
        eprintln!("local_thr: message-size and message-count must be numbers");
        return ExitCode::from(2);
    };
    if count == 0 {
        eprintln!("local_thr: message-count must be at least 1");
        return ExitCode::from(2);
    }
    match run(&args[1], size, count) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("local_thr: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(bind_to: &str, size: usize, count: u64) -> Result<(), Box<dyn std::error::Error>> {
    let ctx = Context::new();
    let pull = ctx.socket(SocketType::Pull)?;
    pull.bind(bind_to)?;
    let first = pull.recv()?;
    if first.len() != size {
        return Err(format!(
            "message of incorrect size: {} (expected {size})",
            first.len()
        )
        .into());
    }
    let start = Instant::now();
    for _ in 1..count {
        let m = pull.recv()?;
        if m.len() != size {
            return Err(format!("message of incorrect size: {} (expected {size})", m.len()).into());
        }
    }
    let elapsed = start.elapsed().as_secs_f64().max(1e-9);
    // libzmq divides the whole count by the time of count-1 receives; the
    // last line reports the rate of what was timed.
    let timed = (count - 1).max(1) as f64;
    let msgs_per_s = timed / elapsed;
    let mb_per_s = msgs_per_s * size as f64 / 1e6;
    println!("message size: {size} [B]");
    println!("message count: {count}");
    println!("mean throughput: {:.0} [msg/s]", msgs_per_s);
    println!("mean throughput: {:.3} [Mb/s]", mb_per_s * 8.0);
    println!("msgs_per_s={msgs_per_s:.1} mb_per_s={mb_per_s:.3} elapsed_s={elapsed:.6}");
    Ok(())
}
