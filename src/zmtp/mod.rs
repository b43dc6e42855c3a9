//! The ZeroMQ wire protocol (ZMTP 3.1, downgrading to 3.0 peers) as a
//! sans-I/O state machine.
//!
//! This module owns the greeting, version negotiation, the NULL and PLAIN
//! security mechanisms, READY/ERROR metadata and the socket-type
//! compatibility matrix, the frame codec, and the SUBSCRIBE/CANCEL/PING/PONG
//! commands. It must not do I/O, start threads, or read a clock: bytes come
//! in through [`Connection::handle_input`], bytes go out through
//! [`Connection::transmit`], and time is an argument.
//!
//! # Driving a connection
//!
//! A reactor keeps one [`Connection`] per stream:
//!
//! * **Reading**: reserve [`Connection::recv_reserve_hint`] bytes in a
//!   `BytesMut`, read into it, call [`Connection::handle_input`], then drain
//!   [`Connection::poll_event`]: [`Event::Ready`] once the handshake is done,
//!   then [`Event::Message`] per frame (its MORE flag set),
//!   [`Event::Subscribe`] / [`Event::Cancel`]. PINGs are answered
//!   internally. Frames above 64 bytes are slices of the read buffer (no
//!   copy).
//! * **Writing**: the greeting is queued by [`Connection::new`]; handshake
//!   commands, PONGs and ERRORs are queued as input is handled; messages are
//!   queued with [`Connection::send_msg`] / [`Connection::send_multipart`],
//!   subscriptions with [`Connection::send_subscribe`] (in the form the peer
//!   understands). Write [`Connection::transmit`] (an [`OutBuf`]: small
//!   frames share one buffer, payloads of [`ZERO_COPY_THRESHOLD`] bytes or
//!   more are their own `writev` segment) whenever
//!   [`Connection::wants_write`].
//! * **Timers**: arm a timer for [`Connection::poll_timeout`] and call
//!   [`Connection::handle_timeout`] when it fires (handshake timeout,
//!   heartbeat PINGs, heartbeat timeout and the peer's TTL).
//! * **Errors**: a [`Error`] closes the connection; flush what is left in the
//!   transmit buffer (an ERROR command when the spec calls for one) and drop
//!   the stream.
//!
//! ```
//! use std::time::Instant;
//! use bytes::{BufMut, BytesMut};
//! use ringmq::msg::Msg;
//! use ringmq::zmtp::{Config, Connection, Event, SocketType};
//!
//! let now = Instant::now(); // the driver's clock, not the module's
//! let mut push = Connection::new(Config::new(SocketType::Push), now)?;
//! let mut pull = Connection::new(Config::new(SocketType::Pull), now)?;
//!
//! // Shuttle bytes both ways until both ends are ready (a real driver
//! // reads from and writes to a socket instead).
//! let mut to_pull = BytesMut::new();
//! let mut to_push = BytesMut::new();
//! for _ in 0..3 {
//!     push.transmit().write_to(&mut (&mut to_pull).writer())?;
//!     pull.transmit().write_to(&mut (&mut to_push).writer())?;
//!     push.handle_input(&mut to_push, now)?;
//!     pull.handle_input(&mut to_pull, now)?;
//! }
//! assert!(matches!(pull.poll_event(), Some(Event::Ready(p)) if p.socket_type == SocketType::Push));
//! assert!(matches!(push.poll_event(), Some(Event::Ready(_))));
//!
//! push.send_multipart(&[Msg::from("key"), Msg::from("value")])?;
//! push.transmit().write_to(&mut (&mut to_pull).writer())?;
//! pull.handle_input(&mut to_pull, now)?;
//! assert_eq!(pull.poll_event(), Some(Event::Message(Msg::from("key").with_more(true))));
//! assert_eq!(pull.poll_event(), Some(Event::Message(Msg::from("value"))));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![forbid(unsafe_code)]

mod command;
mod connection;
#[cfg(feature = "curve")]
mod curve;
mod error;
mod frame;
mod greeting;
mod mechanism;
mod outbuf;
mod socket_type;
mod z85;

pub use command::{
    encode_command, valid_property_name, Command, CommandName, Metadata, MAX_PING_CONTEXT,
    MAX_PROPERTY_VALUE,
};
pub use connection::{
    Config, Connection, Event, PeerInfo, DEFAULT_HANDSHAKE_TIMEOUT, MAX_HANDSHAKE_COMMAND,
    MAX_MESSAGE_FRAMES, MAX_READ_RESERVE, READ_CHUNK,
};
#[cfg(feature = "curve")]
pub use curve::{curve_key, CurveAuthenticator, CurveCredentials, CurveKeyPair, CURVE_KEY_LEN};
pub use error::Error;
pub use frame::{
    encode_frame, encode_header, Frame, FrameDecoder, FLAG_COMMAND, FLAG_LONG, FLAG_MORE,
    MAX_FRAME_BODY,
};
pub use greeting::{Greeting, MechanismName, GREETING_LEN};
pub use mechanism::{AuthStatus, Authenticator, Mechanism, PlainCredentials};
pub use outbuf::{OutBuf, ZERO_COPY_THRESHOLD};
pub use socket_type::{SocketType, UnknownSocketType};
pub use z85::{z85_decode, z85_encode};
