//! PUSH/PULL throughput over `inproc://` inside one process, following
//! libzmq's `perf/inproc_thr` conventions.
//!
//! ```text
//! cargo run --release --example inproc_thr -- <message-size> <message-count>
//! ```
//!
//! A second thread connects a PUSH socket and sends `message-count`
//! zero-filled messages of `message-size` bytes; the main thread receives
//! them on a bound PULL socket, checking each size, and times from the first
//! message to the last. The last line is, as for `local_thr`:
//!
//! ```text
//! msgs_per_s=<float> mb_per_s=<float> elapsed_s=<float>
//! ```

use std::process::ExitCode;
use std::time::Instant;

use ringmq::{Context, Msg, SocketType};

const ENDPOINT: &str = "inproc://thr_test";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 3 {
        eprintln!("usage: inproc_thr <message-size> <message-count>");
        return ExitCode::from(2);
    }
    let (Ok(size), Ok(count)) = (args[1].parse::<usize>(), args[2].parse::<u64>()) else {
        eprintln!("inproc_thr: message-size and message-count must be numbers");
        return ExitCode::from(2);
    };
    if count == 0 {
        eprintln!("inproc_thr: message-count must be at least 1");
        return ExitCode::from(2);
    }
    match run(size, count) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("inproc_thr: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(size: usize, count: u64) -> Result<(), Box<dyn std::error::Error>> {
    let ctx = Context::new();
    let pull = ctx.socket(SocketType::Pull)?;
    pull.bind(ENDPOINT)?;
    let push = ctx.socket(SocketType::Push)?;
    push.connect(ENDPOINT)?;
    let sender = std::thread::spawn(move || -> Result<(), ringmq::Error> {
        let payload = Msg::from(vec![0u8; size]);
        for _ in 0..count {
            push.send(payload.clone())?;
        }
        Ok(())
    });
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
    sender.join().map_err(|_| "sender thread panicked")??;
    let msgs_per_s = count as f64 / elapsed;
    let mb_per_s = msgs_per_s * size as f64 / 1e6;
    println!("message size: {size} [B]");
    println!("message count: {count}");
    println!("mean throughput: {:.0} [msg/s]", msgs_per_s);
    println!("mean throughput: {:.3} [Mb/s]", mb_per_s * 8.0);
    println!("msgs_per_s={msgs_per_s:.1} mb_per_s={mb_per_s:.3} elapsed_s={elapsed:.6}");
    Ok(())
}
