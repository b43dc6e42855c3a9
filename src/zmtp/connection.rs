//! One ZMTP connection as a sans-I/O state machine.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use bytes::{Buf, Bytes, BytesMut};

use super::command::{
    encode_command, encode_error, encode_ping, encode_pong, Command, CommandName, Metadata,
};
use super::frame::{Frame, FrameDecoder};
use super::greeting::{Greeting, MechanismName, GREETING_LEN};
use super::mechanism::{Cipher, HandshakeCtx, Handshaker, Mechanism, PeerReady};
use super::outbuf::OutBuf;
use super::{Error, SocketType};
use crate::msg::Msg;

/// Handshake command frames above this size are refused (they only carry
/// metadata or credentials).
pub const MAX_HANDSHAKE_COMMAND: u64 = 1 << 20;

/// The most frames one incoming message may have. ZMTP sets no limit, nor
/// does libzmq; without one a peer could keep a message open forever, and
/// every frame, even an empty one, costs the receiver memory until the
/// message ends. A message of more frames is a protocol violation
/// ([`Error::TooManyFrames`]).
pub const MAX_MESSAGE_FRAMES: usize = 1 << 16;

/// The smallest reservation [`Connection::recv_reserve_hint`] suggests.
pub const READ_CHUNK: usize = 64 * 1024;

/// The largest reservation [`Connection::recv_reserve_hint`] suggests, so a
/// declared frame size never turns into one huge allocation.
pub const MAX_READ_RESERVE: usize = 1 << 20;

/// The default handshake timeout (libzmq's `ZMQ_HANDSHAKE_IVL`).
pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(30);

/// The settings of one end of a connection.
#[derive(Debug, Clone)]
pub struct Config {
    /// Our socket type, sent as `Socket-Type` and checked against the peer's.
    pub socket_type: SocketType,
    /// Our routing id, sent as `Identity` by REQ, DEALER and ROUTER (empty
    /// when `None`), as libzmq does. At most 255 bytes.
    pub identity: Option<Bytes>,
    /// The security mechanism.
    pub mechanism: Mechanism,
    /// The largest frame accepted from the peer (`None`: no limit), libzmq's
    /// `ZMQ_MAXMSGSIZE`.
    pub max_msg_size: Option<u64>,
    /// Extra metadata sent in READY/INITIATE (application properties should
    /// be named `X-...`). `Socket-Type` and `Identity` are reserved.
    pub properties: Metadata,
    /// The handshake must finish within this time (`None`: no limit).
    pub handshake_timeout: Option<Duration>,
    /// Send a PING this often once ready (`None`: no heartbeats).
    pub heartbeat_ivl: Option<Duration>,
    /// Close when nothing arrives this long after a PING (default: the
    /// interval).
    pub heartbeat_timeout: Option<Duration>,
    /// The TTL put into our PINGs (whole deciseconds, at most 6553.5 s).
    pub heartbeat_ttl: Option<Duration>,
    /// The peer's address, handed to a PLAIN authenticator.
    pub peer_address: Option<String>,
    /// The minor version we advertise: 1 (ZMTP 3.1, the default) or 0 (act
    /// as a ZMTP 3.0 peer: subscriptions are sent as messages).
    pub zmtp_minor: u8,
}

impl Config {
    /// Defaults for a socket type: NULL mechanism, no identity, no size
    /// limit, 30 s handshake timeout, no heartbeats, ZMTP 3.1.
    pub fn new(socket_type: SocketType) -> Config {
        Config {
            socket_type,
            identity: None,
            mechanism: Mechanism::Null,
            max_msg_size: None,
            properties: Metadata::new(),
            handshake_timeout: Some(DEFAULT_HANDSHAKE_TIMEOUT),
            heartbeat_ivl: None,
            heartbeat_timeout: None,
            heartbeat_ttl: None,
            peer_address: None,
            zmtp_minor: 1,
        }
    }

    fn validate(&self) -> Result<(), Error> {
        self.mechanism.validate()?;
        self.properties.validate()?;
        if self.identity.as_ref().is_some_and(|i| i.len() > 255) {
            return Err(Error::InvalidConfig("identity longer than 255 bytes"));
        }
        if self.properties.iter().any(|(n, _)| {
            n.eq_ignore_ascii_case("Socket-Type") || n.eq_ignore_ascii_case("Identity")
        }) {
            return Err(Error::InvalidConfig(
                "Socket-Type and Identity are set by the connection",
            ));
        }
        if self.zmtp_minor > 1 {
            return Err(Error::InvalidConfig("zmtp_minor must be 0 or 1"));
        }
        if self.heartbeat_ivl.is_some_and(|d| d.is_zero()) {
            return Err(Error::InvalidConfig("heartbeat interval must be positive"));
        }
        Ok(())
    }

    fn encode_metadata(&self) -> Bytes {
        let mut md = Metadata::new();
        md.insert("Socket-Type", self.socket_type.as_str());
        if self.socket_type.sends_identity() {
            md.insert("Identity", self.identity.clone().unwrap_or_default());
        }
        let mut b = md.encode();
        self.properties.encode_into(&mut b);
        b.freeze()
    }
}

/// What the peer told us in its handshake.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerInfo {
    /// The peer's socket type.
    pub socket_type: SocketType,
    /// The peer's `Identity` property, if it sent one.
    pub identity: Option<Bytes>,
    /// All properties the peer sent (including `Socket-Type`, `Identity`).
    pub properties: Metadata,
    /// The minor version we speak with the peer: 0 (ZMTP 3.0) or 1 (3.1).
    pub minor_version: u8,
    /// The user id the PLAIN authenticator returned (server side only).
    pub user_id: Option<String>,
    /// The peer's IP address, when [`Config::peer_address`] gave a socket
    /// address (`ip:port`), as libzmq's `Peer-Address` message property.
    pub peer_address: Option<String>,
}

/// Something the connection reports to its driver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// The handshake finished; messages may flow both ways.
    Ready(PeerInfo),
    /// One message frame; [`Msg::more`] says whether more frames of the
    /// same message follow.
    Message(Msg),
    /// The peer subscribed to a topic: a SUBSCRIBE command, or (only on PUB
    /// and XPUB connections) a single-frame message starting with `0x01`.
    Subscribe(Bytes),
    /// The peer cancelled a subscription: a CANCEL command, or (only on PUB
    /// and XPUB connections) a single-frame message starting with `0x00`.
    Cancel(Bytes),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Greeting,
    Handshake,
    Ready,
    Failed,
}

/// One ZMTP connection: bytes in, events and bytes out.
///
/// See the [module documentation](super) for how a driver uses it.
pub struct Connection {
    state: State,
    socket_type: SocketType,
    our_minor: u8,
    mechanism_name: MechanismName,
    handshaker: Box<dyn Handshaker>,
    /// Seals and opens every frame once a mechanism that protects the data
    /// phase (CURVE) has finished its handshake.
    cipher: Option<Box<dyn Cipher>>,
    metadata: Bytes,
    peer_address: Option<String>,
    decoder: FrameDecoder,
    out: OutBuf,
    events: VecDeque<Event>,
    peer_minor: u8,
    /// Frames of the incoming message so far (all with MORE); 0 between
    /// messages.
    parts: usize,
    /// Short message frames may take the bulk decoding path (not on PUB and
    /// XPUB, where a single-frame message may be a ZMTP 3.0 subscription).
    fast_path: bool,
    handshake_deadline: Option<Instant>,
    heartbeat_ivl: Option<Duration>,
    heartbeat_timeout: Option<Duration>,
    heartbeat_ttl: u16,
    next_ping: Option<Instant>,
    ping_deadline: Option<Instant>,
    ttl_deadline: Option<Instant>,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("state", &self.state)
            .field("socket_type", &self.socket_type)
            .field("mechanism", &self.mechanism_name)
            .field("peer_minor", &self.peer_minor)
            .field("pending_out", &self.out.len())
            .field("pending_events", &self.events.len())
            .finish_non_exhaustive()
    }
}

/// Opens one wire frame of the data phase: a sealed frame's flags say
/// whether it is a message frame (with its MORE flag) or a command.
#[cold]
fn open_frame(c: &mut dyn Cipher, frame: Frame) -> Result<Frame, Error> {
    let (flags, body) = match &frame {
        Frame::Message(m) => c.open_frame(m)?,
        Frame::Command(b) => c.open_frame(b)?,
    };
    Ok(if flags & 2 != 0 {
        if flags & 1 != 0 {
            return Err(Error::CommandWithMore);
        }
        Frame::Command(body)
    } else {
        Frame::Message(Msg::from(body).with_more(flags & 1 != 0))
    })
}

/// The frame count of the incoming message after one more frame (0 once
/// it ends), or the error if it has too many.
#[inline(always)]
fn next_part(parts: usize, more: bool) -> Result<usize, Error> {
    if parts >= MAX_MESSAGE_FRAMES - 1 && more {
        return Err(Error::TooManyFrames {
            max: MAX_MESSAGE_FRAMES,
        });
    }
    Ok(if more { parts + 1 } else { 0 })
}

impl Connection {
    /// Starts a connection at time `now`: the full greeting is queued for
    /// transmit at once.
    pub fn new(config: Config, now: Instant) -> Result<Connection, Error> {
        config.validate()?;
        let mechanism_name = config.mechanism.name();
        let greeting = Greeting {
            major: 3,
            minor: config.zmtp_minor,
            mechanism: mechanism_name,
            as_server: config.mechanism.is_server(),
        };
        let mut out = OutBuf::new();
        out.bytes_mut().extend_from_slice(&greeting.encode());
        let mut decoder = FrameDecoder::new(config.max_msg_size);
        decoder.set_max_command_size(Some(MAX_HANDSHAKE_COMMAND));
        let ttl_ds = config
            .heartbeat_ttl
            .map_or(0, |d| (d.as_millis() / 100).min(u16::MAX as u128) as u16);
        Ok(Connection {
            state: State::Greeting,
            socket_type: config.socket_type,
            our_minor: config.zmtp_minor,
            mechanism_name,
            handshaker: config.mechanism.handshaker()?,
            cipher: None,
            metadata: config.encode_metadata(),
            peer_address: config.peer_address,
            decoder,
            out,
            events: VecDeque::new(),
            peer_minor: 1,
            parts: 0,
            fast_path: !matches!(config.socket_type, SocketType::Pub | SocketType::XPub),
            handshake_deadline: config.handshake_timeout.map(|t| now + t),
            heartbeat_ivl: config.heartbeat_ivl,
            heartbeat_timeout: config.heartbeat_timeout.or(config.heartbeat_ivl),
            heartbeat_ttl: ttl_ds,
            next_ping: None,
            ping_deadline: None,
            ttl_deadline: None,
        })
    }

    /// Whether the handshake finished and the connection has not failed.
    pub fn is_ready(&self) -> bool {
        self.state == State::Ready
    }

    /// Whether the connection failed; only flushing the transmit buffer is
    /// left to do.
    pub fn is_closed(&self) -> bool {
        self.state == State::Failed
    }

    /// The minor version spoken with the peer, once its greeting arrived.
    pub fn peer_minor_version(&self) -> Option<u8> {
        match self.state {
            State::Greeting => None,
            _ => Some(self.peer_minor),
        }
    }

    /// How many bytes the driver should reserve in its read buffer before
    /// the next read: at least [`READ_CHUNK`], more when a large frame is
    /// partly received, never more than [`MAX_READ_RESERVE`].
    pub fn recv_reserve_hint(&self, rx: &[u8]) -> usize {
        match self.state {
            State::Ready | State::Handshake => self
                .decoder
                .bytes_needed(rx)
                .clamp(READ_CHUNK, MAX_READ_RESERVE),
            _ => READ_CHUNK,
        }
    }

    /// The size of the frame whose body is being received, once its header
    /// has been consumed from the read buffer (`None` between frames and
    /// before the greeting is done). A driver may give a large body a buffer
    /// of its own, sized to end exactly where the frame ends, so the body
    /// becomes the message without a copy and without sharing a read buffer.
    pub fn body_in_progress(&self) -> Option<usize> {
        match self.state {
            State::Ready | State::Handshake => self.decoder.body_in_progress(),
            _ => None,
        }
    }

    /// Consumes whatever complete greeting, commands and frames `rx` holds,
    /// leaving a partial frame in it for the next call. The result is the
    /// same however the byte stream is split across calls.
    ///
    /// On error the connection is closed; if the protocol calls for it an
    /// ERROR command has been queued, so flush [`Connection::transmit`]
    /// before dropping the stream.
    pub fn handle_input(&mut self, rx: &mut BytesMut, now: Instant) -> Result<(), Error> {
        let mut events = std::mem::take(&mut self.events);
        let r = self.handle_input_with(rx, now, |e| events.push_back(e));
        self.events = events;
        r
    }

    /// Like [`Connection::handle_input`], but hands each event to `sink` as it
    /// is decoded instead of queueing it for [`Connection::poll_event`]: the
    /// driver's fast path, with no intermediate queue.
    pub fn handle_input_with<F: FnMut(Event)>(
        &mut self,
        rx: &mut BytesMut,
        now: Instant,
        mut sink: F,
    ) -> Result<(), Error> {
        if self.state == State::Failed {
            return Err(Error::Closed);
        }
        let r = self.process_input(rx, now, &mut sink);
        if let Err(e) = &r {
            self.fail(e);
        }
        r
    }

    /// Completes the frame whose body is in progress (see
    /// [`Connection::body_in_progress`]) with `body`, read by the driver
    /// into a buffer of its own, and queues what it yields for
    /// [`Connection::poll_event`]. Whatever part of the body was already in
    /// the read buffer belongs at the front of `body` (and no longer in the
    /// read buffer). The result is the same as if `body` had been appended
    /// to the read buffer and passed to [`Connection::handle_input`].
    ///
    /// If no body is in progress or `body` is not exactly its size, the
    /// result is [`Error::BodyMismatch`] and nothing changes.
    pub fn handle_body(&mut self, body: Bytes, now: Instant) -> Result<(), Error> {
        let mut events = std::mem::take(&mut self.events);
        let r = self.handle_body_with(body, now, |e| events.push_back(e));
        self.events = events;
        r
    }

    /// Like [`Connection::handle_body`], but hands each event to `sink`.
    pub fn handle_body_with<F: FnMut(Event)>(
        &mut self,
        body: Bytes,
        now: Instant,
        mut sink: F,
    ) -> Result<(), Error> {
        if self.state == State::Failed {
            return Err(Error::Closed);
        }
        // A mismatch is the caller's mistake: nothing is consumed and the
        // connection carries on.
        let frame = self.decoder.finish_body(body)?;
        let r = match self.state {
            State::Handshake => self.on_handshake_frame(frame, now, &mut sink),
            _ => self.on_frame(frame, now, &mut sink),
        };
        if let Err(e) = &r {
            self.fail(e);
        }
        r
    }

    fn fail(&mut self, e: &Error) {
        if self.state == State::Handshake {
            if let Some(reason) = e.error_command_reason() {
                encode_error(self.out.bytes_mut(), &reason);
            }
        }
        self.state = State::Failed;
        self.handshake_deadline = None;
        self.next_ping = None;
        self.ping_deadline = None;
        self.ttl_deadline = None;
    }

    fn process_input<F: FnMut(Event)>(
        &mut self,
        rx: &mut BytesMut,
        now: Instant,
        sink: &mut F,
    ) -> Result<(), Error> {
        if self.state == State::Greeting {
            let n = rx.len().min(GREETING_LEN);
            Greeting::check_prefix(&rx[..n])?;
            if rx.len() < GREETING_LEN {
                return Ok(());
            }
            let g = Greeting::parse(&rx[..GREETING_LEN])?;
            rx.advance(GREETING_LEN);
            if g.mechanism != self.mechanism_name {
                return Err(Error::MechanismMismatch {
                    ours: self.mechanism_name.as_str(),
                    theirs: g.mechanism.as_str(),
                });
            }
            self.peer_minor = g.effective_minor().min(self.our_minor);
            self.state = State::Handshake;
            let ctx = HandshakeCtx {
                socket_type: self.socket_type,
                metadata: &self.metadata,
                peer_address: self.peer_address.as_deref(),
            };
            self.handshaker.start(&ctx, self.out.bytes_mut());
        }
        loop {
            if self.state == State::Ready && self.fast_path {
                // Runs of short message frames: decoded straight out of the
                // read buffer, consumed with one advance.
                let mut parts = self.parts;
                let mut over = None;
                let n = self.decoder.decode_short_messages(rx, |m| {
                    if over.is_some() {
                        return;
                    }
                    match next_part(parts, m.more()) {
                        Ok(p) => parts = p,
                        Err(e) => {
                            over = Some(e);
                            return;
                        }
                    }
                    sink(Event::Message(m));
                })?;
                if let Some(e) = over {
                    return Err(e);
                }
                self.parts = parts;
                if n > 0 {
                    self.ping_deadline = None;
                    self.ttl_deadline = None;
                }
            }
            let Some(frame) = self.decoder.decode(rx)? else {
                break;
            };
            match self.state {
                State::Handshake => self.on_handshake_frame(frame, now, sink)?,
                _ => self.on_frame(frame, now, sink)?,
            }
        }
        Ok(())
    }

    fn on_handshake_frame<F: FnMut(Event)>(
        &mut self,
        frame: Frame,
        now: Instant,
        sink: &mut F,
    ) -> Result<(), Error> {
        let Frame::Command(body) = frame else {
            return Err(Error::UnexpectedMessage);
        };
        let cmd = Command::parse(body)?;
        if cmd.known == Some(CommandName::Error) {
            return Err(Error::PeerError(cmd.error_reason()?));
        }
        let ctx = HandshakeCtx {
            socket_type: self.socket_type,
            metadata: &self.metadata,
            peer_address: self.peer_address.as_deref(),
        };
        if let Some(peer) = self
            .handshaker
            .on_command(&cmd, &ctx, self.out.bytes_mut())?
        {
            self.cipher = self.handshaker.take_cipher();
            if self.cipher.is_some() {
                // Every frame must be opened: none takes the bulk path.
                self.fast_path = false;
            }
            sink(self.become_ready(peer, now));
        }
        Ok(())
    }

    fn become_ready(&mut self, peer: PeerReady, now: Instant) -> Event {
        self.state = State::Ready;
        self.decoder.set_max_command_size(None);
        self.handshake_deadline = None;
        self.next_ping = self.heartbeat_ivl.map(|ivl| now + ivl);
        Event::Ready(PeerInfo {
            socket_type: peer.socket_type,
            identity: peer.identity,
            properties: peer.metadata,
            minor_version: self.peer_minor,
            user_id: peer.user_id,
            peer_address: self
                .peer_address
                .as_deref()
                .and_then(|a| a.parse::<std::net::SocketAddr>().ok())
                .map(|a| a.ip().to_string()),
        })
    }

    fn on_frame<F: FnMut(Event)>(
        &mut self,
        frame: Frame,
        now: Instant,
        sink: &mut F,
    ) -> Result<(), Error> {
        let frame = match &mut self.cipher {
            None => frame,
            Some(c) => open_frame(c.as_mut(), frame)?,
        };
        // Any traffic proves the peer alive (libzmq cancels both timers on
        // every decoded frame).
        self.ping_deadline = None;
        self.ttl_deadline = None;
        match frame {
            Frame::Message(m) => {
                let first = self.parts == 0;
                self.parts = next_part(self.parts, m.more())?;
                let sub_form = first
                    && !m.more()
                    && matches!(self.socket_type, SocketType::Pub | SocketType::XPub)
                    && matches!(m.first(), Some(0 | 1));
                if sub_form {
                    let subscribe = m[0] == 1;
                    let topic = m.into_bytes().slice(1..);
                    sink(if subscribe {
                        Event::Subscribe(topic)
                    } else {
                        Event::Cancel(topic)
                    });
                } else {
                    sink(Event::Message(m));
                }
            }
            Frame::Command(body) => {
                let cmd = Command::parse(body)?;
                match cmd.known {
                    Some(CommandName::Subscribe) => {
                        sink(Event::Subscribe(cmd.data));
                    }
                    Some(CommandName::Cancel) => sink(Event::Cancel(cmd.data)),
                    Some(CommandName::Ping) => {
                        let (ttl, context) = cmd.ping()?;
                        self.emit(|b| encode_pong(b, &context));
                        if ttl > 0 {
                            self.ttl_deadline =
                                Some(now + Duration::from_millis(u64::from(ttl) * 100));
                        }
                    }
                    Some(CommandName::Pong) => {}
                    Some(CommandName::Error) => {
                        return Err(Error::PeerError(cmd.error_reason()?));
                    }
                    Some(k) if k.is_handshake() => {
                        return Err(Error::UnexpectedCommand(cmd.name_lossy()));
                    }
                    // Unknown commands are ignored, as libzmq does.
                    _ => {}
                }
            }
        }
        Ok(())
    }

    /// The next event, if any.
    #[inline]
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// The bytes waiting to be written (greeting, handshake, frames).
    /// Write them with [`OutBuf::write_to`] or `writev` over
    /// [`bytes::Buf::chunks_vectored`], then [`bytes::Buf::advance`].
    #[inline]
    pub fn transmit(&mut self) -> &mut OutBuf {
        &mut self.out
    }

    /// Whether bytes are waiting to be written.
    #[inline]
    pub fn wants_write(&self) -> bool {
        !self.out.is_empty()
    }

    /// Writes the frames `f` encodes: straight into the transmit buffer, or
    /// sealed one by one when a cipher protects the data phase.
    fn emit(&mut self, f: impl FnOnce(&mut BytesMut)) {
        match &mut self.cipher {
            None => f(self.out.bytes_mut()),
            Some(c) => {
                let mut plain = BytesMut::new();
                f(&mut plain);
                let mut rest = &plain[..];
                while let Some((more, command, body, tail)) = super::frame::split_encoded(rest) {
                    c.seal_frame(self.out.bytes_mut(), body, more, command);
                    rest = tail;
                }
            }
        }
    }

    fn check_ready(&self) -> Result<(), Error> {
        match self.state {
            State::Ready => Ok(()),
            State::Failed => Err(Error::Closed),
            _ => Err(Error::NotReady),
        }
    }

    /// Encodes one message frame with its own MORE flag.
    #[inline]
    pub fn send_msg(&mut self, msg: &Msg) -> Result<(), Error> {
        self.check_ready()?;
        match &mut self.cipher {
            None => self.out.push_msg(msg, msg.more()),
            Some(c) => c.seal_frame(self.out.bytes_mut(), msg, msg.more(), false),
        }
        Ok(())
    }

    /// Encodes a whole message: MORE on every frame but the last, whatever
    /// the frames' own flags say.
    pub fn send_multipart(&mut self, frames: &[Msg]) -> Result<(), Error> {
        self.check_ready()?;
        for (i, m) in frames.iter().enumerate() {
            let more = i + 1 < frames.len();
            match &mut self.cipher {
                None => self.out.push_msg(m, more),
                Some(c) => c.seal_frame(self.out.bytes_mut(), m, more, false),
            }
        }
        Ok(())
    }

    fn send_subscription(&mut self, subscribe: bool, topic: &[u8]) -> Result<(), Error> {
        self.check_ready()?;
        let command = self.peer_minor >= 1;
        self.emit(|b| {
            if command {
                let name = if subscribe {
                    CommandName::Subscribe
                } else {
                    CommandName::Cancel
                };
                encode_command(b, name.as_bytes(), &[topic]);
            } else {
                super::frame::encode_header(b, false, false, 1 + topic.len());
                b.extend_from_slice(&[subscribe as u8]);
                b.extend_from_slice(topic);
            }
        });
        Ok(())
    }

    /// Subscribes to `topic` in the form the peer understands: a SUBSCRIBE
    /// command for ZMTP 3.1, a message `0x01 + topic` for 3.0. Call it
    /// between messages, not in the middle of a multipart one.
    pub fn send_subscribe(&mut self, topic: &[u8]) -> Result<(), Error> {
        self.send_subscription(true, topic)
    }

    /// Cancels a subscription: a CANCEL command for ZMTP 3.1, a message
    /// `0x00 + topic` for 3.0.
    pub fn send_cancel(&mut self, topic: &[u8]) -> Result<(), Error> {
        self.send_subscription(false, topic)
    }

    /// Sends a PING with a TTL in deciseconds and a context (cut to 16
    /// bytes). The PONG is consumed silently.
    pub fn send_ping(&mut self, ttl_deciseconds: u16, context: &[u8]) -> Result<(), Error> {
        self.check_ready()?;
        self.emit(|b| encode_ping(b, ttl_deciseconds, context));
        Ok(())
    }

    /// The earliest time [`Connection::handle_timeout`] has work to do: the
    /// handshake deadline, the next heartbeat, or a liveness deadline.
    pub fn poll_timeout(&self) -> Option<Instant> {
        [
            self.handshake_deadline,
            self.next_ping,
            self.ping_deadline,
            self.ttl_deadline,
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Runs the timers due at `now`: fails a handshake past its deadline or
    /// a peer silent past its heartbeat timeout or TTL, and queues a PING
    /// when one is due.
    pub fn handle_timeout(&mut self, now: Instant) -> Result<(), Error> {
        if self.state == State::Failed {
            return Err(Error::Closed);
        }
        let expired = |d: Option<Instant>| d.is_some_and(|d| d <= now);
        let err = if expired(self.handshake_deadline) {
            Some(Error::HandshakeTimeout)
        } else if expired(self.ping_deadline) || expired(self.ttl_deadline) {
            Some(Error::HeartbeatTimeout)
        } else {
            None
        };
        if let Some(e) = err {
            self.fail(&e);
            return Err(e);
        }
        if let (Some(at), Some(ivl)) = (self.next_ping, self.heartbeat_ivl) {
            if at <= now {
                let ttl = self.heartbeat_ttl;
                self.emit(|b| encode_ping(b, ttl, &[]));
                self.next_ping = Some(now + ivl);
                if self.ping_deadline.is_none() {
                    self.ping_deadline = self.heartbeat_timeout.map(|t| now + t);
                }
            }
        }
        Ok(())
    }
}
