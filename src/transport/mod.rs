//! Endpoints and transports: `tcp://`, `ipc://`, `inproc://`.
#![forbid(unsafe_code)]
