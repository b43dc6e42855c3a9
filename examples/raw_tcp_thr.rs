//! Raw TCP throughput over loopback: the ceiling for `local_thr` /
//! `remote_thr`, with no messaging library in the way.
//!
//! ```text
//! cargo run --release --example raw_tcp_thr -- <message-size> <message-count> [read-size]
//! ```
//!
//! One thread writes `message-count` records of `message-size` bytes, each
//! behind a 9-byte ZMTP long-frame header (as ringmq and libzmq put them on
//! the wire), with blocking `std::net` writes of about 1 MiB; the main
//! thread reads them into one reused buffer of `read-size` bytes (default:
//! one record, the fastest choice on a small loopback machine, where larger
//! reads fall out of cache) and only counts bytes. Prints, as the last line,
//! `msgs_per_s=<float> mb_per_s=<float> elapsed_s=<float>`, the format
//! `local_thr` uses and timed the same way: from the read that completes
//! the first record to the last read (mb = 10^6 payload bytes).

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::ExitCode;
use std::time::Instant;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 3 && args.len() != 4 {
        eprintln!("usage: raw_tcp_thr <message-size> <message-count> [read-size]");
        return ExitCode::from(2);
    }
    let size = args[1].parse::<usize>();
    let count = args[2].parse::<u64>();
    let read_size = args.get(3).map(|s| s.parse::<usize>()).transpose();
    let (Ok(size), Ok(count), Ok(read_size)) = (size, count, read_size) else {
        eprintln!("raw_tcp_thr: the arguments must be numbers");
        return ExitCode::from(2);
    };
    let read_size = read_size.unwrap_or(9 + size);
    if count == 0 || read_size == 0 {
        eprintln!("raw_tcp_thr: message-count and read-size must be at least 1");
        return ExitCode::from(2);
    }
    match run(size, count, read_size) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("raw_tcp_thr: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(size: usize, count: u64, read_size: usize) -> Result<(), Box<dyn std::error::Error>> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    let record = 9 + size;
    let sender = std::thread::spawn(move || -> std::io::Result<()> {
        let mut s = TcpStream::connect(addr)?;
        // As many whole records as fit in about 1 MiB (at least one).
        let per_write = ((1 << 20) / record).max(1);
        let mut one = vec![0u8; record];
        one[0] = 0x02;
        one[1..9].copy_from_slice(&(size as u64).to_be_bytes());
        let chunk = one.repeat(per_write);
        let mut left = count;
        while left > 0 {
            let n = left.min(per_write as u64);
            s.write_all(&chunk[..n as usize * record])?;
            left -= n;
        }
        Ok(())
    });
    let (mut s, _) = listener.accept()?;
    let total = count * record as u64;
    let mut buf = vec![0u8; read_size];
    let mut got = 0u64;
    let mut start = None;
    while got < total {
        let n = s.read(&mut buf)?;
        if n == 0 {
            return Err("the sender closed early".into());
        }
        got += n as u64;
        if got >= record as u64 {
            start.get_or_insert_with(Instant::now);
        }
    }
    let elapsed = start.map_or(0.0, |t| t.elapsed().as_secs_f64()).max(1e-9);
    sender.join().map_err(|_| "the sender panicked")??;
    let timed = (count - 1).max(1) as f64;
    let msgs_per_s = timed / elapsed;
    let mb_per_s = msgs_per_s * size as f64 / 1e6;
    println!("message size: {size} [B]");
    println!("message count: {count}");
    println!("mean throughput: {msgs_per_s:.0} [msg/s]");
    println!("mean throughput: {:.3} [Mb/s]", mb_per_s * 8.0);
    println!("msgs_per_s={msgs_per_s:.1} mb_per_s={mb_per_s:.3} elapsed_s={elapsed:.6}");
    Ok(())
}
