//! libzmq's `local_thr`, through the `zmq` crate: the receiving half of the
//! throughput test, for side-by-side runs against ringmq's own tools.
//!
//! ```text
//! cargo run --release --example zmq_local_thr -- tcp://127.0.0.1:5555 64 1000000
//! ```
//!
//! Binds a PULL socket, receives `message-count` messages of `message-size`
//! bytes and times from the first message to the last, as libzmq's
//! `perf/local_thr.cpp` does. The `[Mb/s]` line is megabits, as in libzmq;
//! the last line is machine-readable, with `mb_per_s` in 10^6 payload bytes
//! per second:
//!
//! ```text
//! msgs_per_s=<float> mb_per_s=<float> elapsed_s=<float>
//! ```

use std::process::ExitCode;
use std::time::Instant;

fn usage() -> ExitCode {
    eprintln!("usage: zmq_local_thr <bind-to> <message-size> <message-count>");
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
    if count == 0 {
        eprintln!("message-count must be at least 1");
        return ExitCode::from(1);
    }
    match run(&args[1], size, count) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("zmq_local_thr: {e}");
            ExitCode::from(1)
        }
    }
}

fn run(bind_to: &str, size: usize, count: u64) -> Result<(), Box<dyn std::error::Error>> {
    let ctx = zmq::Context::new();
    let pull = ctx.socket(zmq::PULL)?;
    pull.bind(bind_to)?;
    let mut msg = zmq::Message::new();

    pull.recv(&mut msg, 0)?;
    check_size(&msg, size)?;
    let start = Instant::now();
    for _ in 1..count {
        pull.recv(&mut msg, 0)?;
        check_size(&msg, size)?;
    }
    let elapsed = start.elapsed().as_secs_f64();

    // libzmq divides the full count by the first-to-last time; so do we.
    let msgs_per_s = if elapsed > 0.0 {
        count as f64 / elapsed
    } else {
        f64::INFINITY
    };
    let megabits = msgs_per_s * size as f64 * 8.0 / 1e6;
    let mb_per_s = msgs_per_s * size as f64 / 1e6;
    println!("message size: {size} [B]");
    println!("message count: {count}");
    println!("mean throughput: {} [msg/s]", msgs_per_s as u64);
    println!("mean throughput: {megabits:.3} [Mb/s]");
    println!("msgs_per_s={msgs_per_s:.1} mb_per_s={mb_per_s:.3} elapsed_s={elapsed:.6}");
    Ok(())
}

fn check_size(msg: &zmq::Message, size: usize) -> Result<(), String> {
    if msg.len() == size {
        Ok(())
    } else {
        Err(format!(
            "message of incorrect size received: {} instead of {size}",
            msg.len()
        ))
    }
}
