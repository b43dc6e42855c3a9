//! libzmq's `inproc_thr`, through the `zmq` crate: PUSH/PULL throughput over
//! `inproc://` inside one process, for side-by-side runs against ringmq.
//!
//! ```text
//! cargo run --release --example zmq_inproc_thr -- 64 1000000
//! ```
//!
//! A second thread connects a PUSH socket and sends `message-count`
//! zero-filled messages of `message-size` bytes; the main thread receives
//! them on a bound PULL socket and times from the first message to the
//! last. Output matches `zmq_local_thr`, ending with:
//!
//! ```text
//! msgs_per_s=<float> mb_per_s=<float> elapsed_s=<float>
//! ```

use std::process::ExitCode;
use std::time::Instant;

const ENDPOINT: &str = "inproc://thr_test";

fn usage() -> ExitCode {
    eprintln!("usage: zmq_inproc_thr <message-size> <message-count>");
    ExitCode::from(1)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 3 {
        return usage();
    }
    let (Ok(size), Ok(count)) = (args[1].parse::<usize>(), args[2].parse::<u64>()) else {
        return usage();
    };
    if count == 0 {
        eprintln!("message-count must be at least 1");
        return ExitCode::from(1);
    }
    match run(size, count) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("zmq_inproc_thr: {e}");
            ExitCode::from(1)
        }
    }
}

fn run(size: usize, count: u64) -> Result<(), Box<dyn std::error::Error>> {
    let ctx = zmq::Context::new();
    let pull = ctx.socket(zmq::PULL)?;
    pull.bind(ENDPOINT)?;

    let worker_ctx = ctx.clone();
    let worker = std::thread::spawn(move || -> Result<(), zmq::Error> {
        let push = worker_ctx.socket(zmq::PUSH)?;
        push.set_linger(-1)?;
        push.connect(ENDPOINT)?;
        let payload = vec![0u8; size];
        for _ in 0..count {
            push.send(&payload[..], 0)?;
        }
        Ok(())
    });

    let mut msg = zmq::Message::new();
    pull.recv(&mut msg, 0)?;
    let start = Instant::now();
    for _ in 1..count {
        pull.recv(&mut msg, 0)?;
        if msg.len() != size {
            return Err(format!(
                "message of incorrect size received: {} instead of {size}",
                msg.len()
            )
            .into());
        }
    }
    let elapsed = start.elapsed().as_secs_f64();
    worker.join().map_err(|_| "sender thread panicked")??;

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
