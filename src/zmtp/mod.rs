//! The ZeroMQ wire protocol (ZMTP 3.0/3.1) as a sans-I/O state machine.
#![forbid(unsafe_code)]
