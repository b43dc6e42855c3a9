//! Latency timing side, following libzmq's `perf/remote_lat` conventions.
//!
//! ```text
//! cargo run --release --example remote_lat -- <connect-to> <message-size> <roundtrip-count>
//! ```
//!
//! Connects a REQ socket and does `roundtrip-count` request/reply round
//! trips of `message-size` zero bytes against `local_lat` (ringmq's or
//! libzmq's). Prints libzmq's lines (`average latency` is half the mean
//! round trip, as in `perf/remote_lat.cpp`) and, as the last line:
//!
//! ```text
//! rtt_mean_us=<float> rtt_p50_us=<float> rtt_p99_us=<float>
//! ```

use std::process::ExitCode;
use std::time::Instant;

use ringmq::{Context, Msg, SocketType};

/// Per-round-trip samples are kept in memory; cap them to stay bounded.
const MAX_ROUNDTRIPS: u64 = 50_000_000;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 4 {
        eprintln!("usage: remote_lat <connect-to> <message-size> <roundtrip-count>");
        return ExitCode::from(2);
    }
    let (Ok(size), Ok(count)) = (args[2].parse::<usize>(), args[3].parse::<u64>()) else {
        eprintln!("remote_lat: message-size and roundtrip-count must be numbers");
        return ExitCode::from(2);
    };
    if count == 0 || count > MAX_ROUNDTRIPS {
        eprintln!("remote_lat: roundtrip-count must be in 1..={MAX_ROUNDTRIPS}");
        return ExitCode::from(2);
    }
    match run(&args[1], size, count) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("remote_lat: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(connect_to: &str, size: usize, count: u64) -> Result<(), Box<dyn std::error::Error>> {
    let ctx = Context::new();
    let req = ctx.socket(SocketType::Req)?;
    req.connect(connect_to)?;
    let payload = Msg::from(vec![0u8; size]);
    let mut rtts_ns: Vec<u64> = Vec::with_capacity(count as usize);
    let start = Instant::now();
    for _ in 0..count {
        let t0 = Instant::now();
        req.send(payload.clone())?;
        let reply = req.recv()?;
        rtts_ns.push(t0.elapsed().as_nanos() as u64);
        if reply.len() != size {
            return Err(format!(
                "message of incorrect size: {} (expected {size})",
                reply.len()
            )
            .into());
        }
    }
    let elapsed = start.elapsed();
    let one_way_us = elapsed.as_secs_f64() * 1e6 / (count as f64 * 2.0);
    rtts_ns.sort_unstable();
    let mean_us = rtts_ns.iter().map(|&n| n as f64).sum::<f64>() / rtts_ns.len() as f64 / 1e3;
    let pct = |p: f64| {
        // Nearest-rank percentile.
        let rank = ((p / 100.0) * rtts_ns.len() as f64).ceil() as usize;
        rtts_ns[rank.clamp(1, rtts_ns.len()) - 1] as f64 / 1e3
    };
    println!("message size: {size} [B]");
    println!("roundtrip count: {count}");
    println!("average latency: {one_way_us:.3} [us]");
    println!(
        "rtt_mean_us={mean_us:.3} rtt_p50_us={:.3} rtt_p99_us={:.3}",
        pct(50.0),
        pct(99.0)
    );
    Ok(())
}
