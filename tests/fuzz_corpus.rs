//! Replays every committed fuzz input (the seed corpus under
//! `fuzz/corpus/<target>/` and past crashes under `fuzz/regressions/<target>/`)
//! through the same target bodies the fuzzer runs.

use std::fs;
use std::path::Path;

fn replay(target: &str, body: fn(&[u8])) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let mut n = 0;
    for dir in ["corpus", "regressions"] {
        let Ok(entries) = fs::read_dir(root.join(dir).join(target)) else {
            continue;
        };
        let mut paths: Vec<_> = entries.map(|e| e.expect("readable dir").path()).collect();
        paths.sort();
        for p in paths.into_iter().filter(|p| p.is_file()) {
            let data = fs::read(&p).expect("readable file");
            let r = std::panic::catch_unwind(|| body(&data));
            assert!(r.is_ok(), "{target}: input {} fails", p.display());
            n += 1;
        }
    }
    assert!(n > 0, "no committed inputs for {target}");
}

#[test]
fn frame_decoder_corpus() {
    replay("frame_decoder", ringmq::fuzzing::frame_decoder);
}

#[test]
fn handshake_server_corpus() {
    replay("handshake_server", ringmq::fuzzing::handshake_server);
}

#[test]
fn handshake_client_corpus() {
    replay("handshake_client", ringmq::fuzzing::handshake_client);
}

#[test]
fn greeting_corpus() {
    replay("greeting", ringmq::fuzzing::greeting);
}

#[test]
fn tuple_batch_corpus() {
    replay("tuple_batch", ringmq::fuzzing::tuple_batch);
}

#[test]
fn endpoint_corpus() {
    replay("endpoint", ringmq::fuzzing::endpoint);
}

#[cfg(feature = "curve")]
#[test]
fn handshake_curve_corpus() {
    replay("handshake_curve", ringmq::fuzzing::handshake_curve);
}

/// The fixed keys of `handshake_curve` fit together: a client made with
/// them sends a HELLO the fuzzed server opens and answers with a WELCOME,
/// so the seeds built from such a HELLO reach past the first box.
#[cfg(feature = "curve")]
#[test]
fn handshake_curve_keys_fit_together() {
    use ringmq::fuzzing::curve_fuzz_config;
    use ringmq::zmtp::{Connection, GREETING_LEN};
    let t0 = std::time::Instant::now();
    let mut client = Connection::new(curve_fuzz_config(0, false), t0).unwrap();
    let mut server = Connection::new(curve_fuzz_config(1, true), t0).unwrap();
    let mut to_client = bytes::BytesMut::from(&server.transmit().take_all()[..]);
    client.handle_input(&mut to_client, t0).unwrap();
    let hello = client.transmit().take_all().to_vec();
    assert_eq!(hello.len(), GREETING_LEN + 2 + 200);
    let mut to_server = bytes::BytesMut::from(&hello[..]);
    server.handle_input(&mut to_server, t0).unwrap();
    let welcome = server.transmit().take_all();
    assert_eq!(welcome.len(), 2 + 168);
}
