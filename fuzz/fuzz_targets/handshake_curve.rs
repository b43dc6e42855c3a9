#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| ringmq::fuzzing::handshake_curve(data));
