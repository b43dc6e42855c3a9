//! Dropping the context (and its sockets) stops every thread it started.
//! One test alone in this binary, so no other test's threads are counted.

use std::time::Duration;

use ringmq::{Context, SocketType};

fn io_threads() -> usize {
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
        .filter(|name| name.starts_with("ringmq-io"))
        .count()
}

#[test]
fn dropping_context_and_sockets_joins_all_io_threads() {
    assert_eq!(io_threads(), 0);
    let ctx = Context::builder().io_threads(3).build().unwrap();
    // A new thread sets its name itself, just after it starts.
    for _ in 0..500 {
        if io_threads() == 3 {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(io_threads(), 3);
    let pull = ctx.socket(SocketType::Pull).unwrap();
    let ep = pull.bind("tcp://127.0.0.1:*").unwrap();
    let push = ctx.socket(SocketType::Push).unwrap();
    push.connect(&ep).unwrap();
    push.send("x").unwrap();
    assert_eq!(
        &pull.recv_timeout(Duration::from_secs(10)).unwrap()[..],
        b"x"
    );
    drop(ctx);
    // The sockets still hold the context: the threads serve them.
    assert_eq!(io_threads(), 3);
    drop(push);
    drop(pull);
    // The last handle is gone: the threads were joined before drop returned.
    assert_eq!(io_threads(), 0);
}
