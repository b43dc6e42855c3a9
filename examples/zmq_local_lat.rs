//! libzmq's `local_lat`, through the `zmq` crate: the echo half of the
//! latency test, for side-by-side runs against ringmq's own tools.
//!
//! ```text
//! cargo run --release --example zmq_local_lat -- tcp://127.0.0.1:5556 64 100000
//! ```
//!
//! Binds a REP socket and echoes `roundtrip-count` messages of
//! `message-size` bytes back to the sender (libzmq's `perf/local_lat.cpp`).

use std::process::ExitCode;

fn usage() -> ExitCode {
    eprintln!("usage: zmq_local_lat <bind-to> <message-size> <roundtrip-count>");
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
            eprintln!("zmq_local_lat: {e}");
            ExitCode::from(1)
        }
    }
}

fn run(bind_to: &str, size: usize, count: u64) -> Result<(), Box<dyn std::error::Error>> {
    let ctx = zmq::Context::new();
    let rep = ctx.socket(zmq::REP)?;
    rep.set_linger(-1)?;
    rep.bind(bind_to)?;
    let mut msg = zmq::Message::new();
    for _ in 0..count {
        rep.recv(&mut msg, 0)?;
        if msg.len() != size {
            return Err(format!(
                "message of incorrect size received: {} instead of {size}",
                msg.len()
            )
            .into());
        }
        // Send the same buffer back; zmq_msg_send takes it over.
        rep.send(std::mem::replace(&mut msg, zmq::Message::new()), 0)?;
    }
    drop(rep);
    drop(ctx);
    Ok(())
}
