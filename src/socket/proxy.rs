//! `proxy`: the built-in device that shuttles whole messages between a
//! frontend and a backend socket, like `zmq_proxy` / `zmq_proxy_steerable`.
//!
//! With ROUTER/DEALER it is a request broker, with XSUB/XPUB a forwarder
//! (subscriptions flow back up through it), with PULL/PUSH a streamer. A
//! capture socket, if given, gets a copy of every message (never waiting:
//! copies the capture socket cannot take are dropped). The proxy waits on a
//! [`Poller`], so an idle proxy sleeps.

use super::poller::{PollFlags, Poller};
use super::Socket;
use crate::error::{Error, Result};

/// Messages moved in one direction before the other gets its turn.
const BURST: usize = 1024;

/// Runs a proxy until an error (such as [`Error::ContextTerminated`] after
/// [`Context::shutdown`](super::Context::shutdown)) stops it.
///
/// ```no_run
/// use ringmq::{Context, SocketType};
/// let ctx = Context::new();
/// let front = ctx.socket(SocketType::Router)?;
/// front.bind("tcp://*:5559")?;
/// let back = ctx.socket(SocketType::Dealer)?;
/// back.bind("tcp://*:5560")?;
/// ringmq::proxy(&front, &back, None)?;
/// # Ok::<(), ringmq::Error>(())
/// ```
pub fn proxy(frontend: &Socket, backend: &Socket, capture: Option<&Socket>) -> Result<()> {
    run(frontend, backend, capture, None)
}

/// Runs a proxy steered by commands received on `control`: `PAUSE` stops
/// moving messages, `RESUME` starts again, `TERMINATE` makes the proxy
/// return `Ok(())`. Other commands are ignored.
///
/// ```
/// use ringmq::{Context, SocketType};
/// let ctx = Context::new();
/// let front = ctx.socket(SocketType::Pull)?;
/// front.bind("inproc://doc-proxy-in")?;
/// let back = ctx.socket(SocketType::Push)?;
/// back.bind("inproc://doc-proxy-out")?;
/// let control = ctx.socket(SocketType::Pair)?;
/// control.bind("inproc://doc-proxy-ctl")?;
/// let stop = ctx.socket(SocketType::Pair)?;
/// stop.connect("inproc://doc-proxy-ctl")?;
/// let t = std::thread::spawn(move || ringmq::proxy_steerable(&front, &back, None, &control));
/// let input = ctx.socket(SocketType::Push)?;
/// input.connect("inproc://doc-proxy-in")?;
/// let output = ctx.socket(SocketType::Pull)?;
/// output.connect("inproc://doc-proxy-out")?;
/// input.send("through the proxy")?;
/// assert_eq!(&output.recv()?[..], b"through the proxy");
/// stop.send("TERMINATE")?;
/// t.join().unwrap()?;
/// # Ok::<(), ringmq::Error>(())
/// ```
pub fn proxy_steerable(
    frontend: &Socket,
    backend: &Socket,
    capture: Option<&Socket>,
    control: &Socket,
) -> Result<()> {
    run(frontend, backend, capture, Some(control))
}

fn run(
    frontend: &Socket,
    backend: &Socket,
    capture: Option<&Socket>,
    control: Option<&Socket>,
) -> Result<()> {
    let mut paused = false;
    loop {
        let mut poller = Poller::new();
        let (mut i_front, mut i_back, mut i_ctl) = (None, None, None);
        if !paused {
            i_front = Some(poller.add_socket(frontend, PollFlags::IN));
            if !std::ptr::eq(frontend, backend) {
                i_back = Some(poller.add_socket(backend, PollFlags::IN));
            }
        }
        if let Some(c) = control {
            i_ctl = Some(poller.add_socket(c, PollFlags::IN));
        }
        let ready: Vec<usize> = poller.poll(None)?.iter().map(|e| e.index).collect();
        drop(poller);
        // Commands first: a command sent before a message is obeyed before
        // that message moves (control is checked after the others, so it
        // is seen ready whenever a later message is).
        if let (Some(i), Some(c)) = (i_ctl, control) {
            if ready.contains(&i) {
                let cmd = c.try_recv_multipart()?;
                match cmd.first().map(|m| &m[..]) {
                    Some(b"TERMINATE") => return Ok(()),
                    Some(b"PAUSE") => paused = true,
                    Some(b"RESUME") => paused = false,
                    _ => tracing::debug!("proxy: unknown control command ignored"),
                }
                continue;
            }
        }
        for index in ready {
            if Some(index) == i_front {
                forward(frontend, backend, capture)?;
            } else if Some(index) == i_back {
                forward(backend, frontend, capture)?;
            }
        }
    }
}

/// Moves up to a burst of whole messages from `from` to `to`.
fn forward(from: &Socket, to: &Socket, capture: Option<&Socket>) -> Result<()> {
    for _ in 0..BURST {
        let parts = match from.try_recv_multipart() {
            Ok(p) => p,
            Err(Error::WouldBlock) => return Ok(()),
            Err(e) => return Err(e),
        };
        if let Some(c) = capture {
            // A capture socket that cannot take a copy now misses it.
            let _ = c.try_send_multipart(parts.iter().cloned());
        }
        to.send_multipart(parts).map_err(Error::from)?;
    }
    Ok(())
}
