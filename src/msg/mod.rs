//! `Msg`, one ZeroMQ frame, and multipart helpers.
