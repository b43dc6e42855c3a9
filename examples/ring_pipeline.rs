//! Placeholder replaced by the ring pipeline demo.
fn main() {}
