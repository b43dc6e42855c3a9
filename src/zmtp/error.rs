//! The protocol error type.

use std::fmt;

/// Everything the ZMTP state machine can fail with.
///
/// Each variant says who is at fault; [`Error::is_peer_fault`] and
/// [`Error::is_caller_fault`] make that explicit. Once a [`Connection`]
/// returns an error it is closed: the caller flushes what is left in its
/// transmit buffer (possibly an ERROR command, see
/// [`Error::error_command_reason`]) and drops the stream.
///
/// [`Connection`]: super::Connection
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// The greeting does not start with `0xFF`, or byte 9 lacks its low bit
    /// (an unversioned ZMTP 1.0 peer or not ZMTP at all). Peer's fault.
    BadSignature,
    /// The peer speaks a version before 3.0. Incompatible peer.
    UnsupportedVersion {
        /// The peer's major version byte.
        major: u8,
        /// The peer's minor version byte (0 when the peer is pre-3.0 and did
        /// not send one).
        minor: u8,
    },
    /// The peer's greeting names a mechanism we do not implement, or the
    /// mechanism field is malformed. Incompatible peer.
    UnknownMechanism(String),
    /// The peer uses a different security mechanism than we do.
    /// Incompatible peer.
    MechanismMismatch {
        /// Our mechanism.
        ours: &'static str,
        /// The peer's mechanism.
        theirs: &'static str,
    },
    /// A command frame is truncated or its fields do not add up. Peer's
    /// fault.
    MalformedCommand(&'static str),
    /// A frame declares a size above the limit. Detected from the header,
    /// before anything is allocated. Peer's fault.
    FrameTooLarge {
        /// The declared size.
        size: u64,
        /// The limit.
        max: u64,
    },
    /// A command that is not allowed at this point (for example READY after
    /// the handshake, or HELLO under NULL). Peer's fault.
    UnexpectedCommand(String),
    /// A message frame arrived before the handshake finished. Peer's fault.
    UnexpectedMessage,
    /// A command frame has the MORE flag set. Peer's fault.
    CommandWithMore,
    /// A multipart message has more frames than
    /// [`MAX_MESSAGE_FRAMES`](super::MAX_MESSAGE_FRAMES). Peer's fault.
    TooManyFrames {
        /// The limit.
        max: usize,
    },
    /// A metadata property is malformed, or a required one is missing.
    /// Peer's fault.
    BadMetadata(&'static str),
    /// The peer's socket type cannot talk to ours (or is unknown).
    /// Incompatible peer; an ERROR command is sent.
    IncompatibleSocketType {
        /// Our socket type.
        ours: &'static str,
        /// The peer's `Socket-Type` value, lossily decoded.
        theirs: String,
    },
    /// The PLAIN authenticator refused the peer's credentials, with a ZAP
    /// status code (300 temporary, 400 denied, 500 internal error). An ERROR
    /// command carrying the status is sent unless the status is 300.
    AuthFailed {
        /// The ZAP status code.
        status: u16,
    },
    /// The peer sent an ERROR command with this reason. The peer refused us;
    /// do not retry with the same settings.
    PeerError(String),
    /// The handshake did not finish before its deadline.
    HandshakeTimeout,
    /// Nothing arrived from the peer within the heartbeat timeout or the
    /// peer's PING TTL.
    HeartbeatTimeout,
    /// A send was attempted before the handshake finished. Caller's fault.
    NotReady,
    /// The connection already failed or was closed. Caller's fault.
    Closed,
    /// A body handed to [`FrameDecoder::finish_body`](super::FrameDecoder::finish_body)
    /// (or `Connection::handle_body`) while no frame body was in progress
    /// (`expected: None`), or of another size than the frame's. Caller's
    /// fault; nothing was consumed.
    BodyMismatch {
        /// The size of the body in progress, if any.
        expected: Option<usize>,
        /// The size of the body handed in.
        got: usize,
    },
    /// The configuration is invalid (for example a PLAIN user name longer
    /// than 255 bytes, or a malformed property name). Caller's fault.
    InvalidConfig(&'static str),
    /// A CURVE box did not open, a nonce did not grow, or a key check
    /// failed: the peer is not who it claims, or the bytes were altered.
    /// Peer's fault (or a wrong server key on our side).
    Crypto(&'static str),
}

impl Error {
    /// Whether the error is caused by what the peer sent (or did not send).
    pub fn is_peer_fault(&self) -> bool {
        !self.is_caller_fault()
    }

    /// Whether the error is a misuse of the API by the caller.
    pub fn is_caller_fault(&self) -> bool {
        matches!(
            self,
            Error::NotReady | Error::Closed | Error::InvalidConfig(_) | Error::BodyMismatch { .. }
        )
    }

    /// The reason sent in an ERROR command before closing, if the protocol
    /// calls for one for this error (an incompatible socket type, or refused
    /// credentials other than ZAP status 300).
    pub fn error_command_reason(&self) -> Option<String> {
        match self {
            Error::IncompatibleSocketType { .. } => Some("Invalid socket type".to_string()),
            Error::AuthFailed { status } if *status != 300 => Some(status.to_string()),
            _ => None,
        }
    }

    /// The ZAP status (300, 400 or 500) when authentication failed: ours
    /// refused the peer, or the peer's ERROR reason is such a status, as
    /// libzmq reads it.
    pub fn auth_status(&self) -> Option<u16> {
        match self {
            Error::AuthFailed { status } => Some(*status),
            Error::PeerError(reason) => match reason.as_bytes() {
                [d @ b'3'..=b'5', b'0', b'0'] => Some(u16::from(d - b'0') * 100),
                _ => None,
            },
            _ => None,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::BadSignature => f.write_str("bad ZMTP greeting signature"),
            Error::UnsupportedVersion { major, minor } => {
                write!(
                    f,
                    "unsupported ZMTP version {major}.{minor} (need 3.0 or later)"
                )
            }
            Error::UnknownMechanism(m) => write!(f, "unknown security mechanism {m:?}"),
            Error::MechanismMismatch { ours, theirs } => {
                write!(
                    f,
                    "security mechanism mismatch: we use {ours}, peer uses {theirs}"
                )
            }
            Error::MalformedCommand(what) => write!(f, "malformed command: {what}"),
            Error::FrameTooLarge { size, max } => {
                write!(f, "frame of {size} bytes exceeds the limit of {max} bytes")
            }
            Error::UnexpectedCommand(name) => write!(f, "unexpected command {name}"),
            Error::UnexpectedMessage => f.write_str("message frame before the handshake finished"),
            Error::CommandWithMore => f.write_str("command frame with the MORE flag"),
            Error::TooManyFrames { max } => {
                write!(f, "multipart message of more than {max} frames")
            }
            Error::BadMetadata(what) => write!(f, "bad metadata: {what}"),
            Error::IncompatibleSocketType { ours, theirs } => {
                write!(
                    f,
                    "a {ours} socket cannot talk to peer socket type {theirs:?}"
                )
            }
            Error::AuthFailed { status } => write!(f, "authentication failed (status {status})"),
            Error::PeerError(reason) => write!(f, "peer sent ERROR: {reason}"),
            Error::HandshakeTimeout => f.write_str("handshake timed out"),
            Error::HeartbeatTimeout => f.write_str("peer heartbeat timed out"),
            Error::NotReady => f.write_str("connection handshake not finished"),
            Error::Closed => f.write_str("connection closed"),
            Error::BodyMismatch {
                expected: None,
                got,
            } => write!(f, "a frame body of {got} bytes handed in, none in progress"),
            Error::BodyMismatch {
                expected: Some(size),
                got,
            } => write!(
                f,
                "a frame body of {got} bytes handed in for a frame of {size} bytes"
            ),
            Error::InvalidConfig(what) => write!(f, "invalid ZMTP configuration: {what}"),
            Error::Crypto(what) => write!(f, "CURVE check failed: {what}"),
        }
    }
}

impl std::error::Error for Error {}

impl From<Error> for crate::Error {
    fn from(e: Error) -> crate::Error {
        match e {
            Error::FrameTooLarge { size, max } => crate::Error::MessageTooLarge { size, max },
            Error::UnsupportedVersion { .. }
            | Error::UnknownMechanism(_)
            | Error::MechanismMismatch { .. }
            | Error::IncompatibleSocketType { .. }
            | Error::AuthFailed { .. }
            | Error::PeerError(_) => crate::Error::IncompatiblePeer(e.to_string()),
            Error::HandshakeTimeout | Error::HeartbeatTimeout => crate::Error::Timeout,
            Error::NotReady => crate::Error::WrongState("ZMTP handshake not finished"),
            Error::Closed => crate::Error::WrongState("ZMTP connection closed"),
            Error::BodyMismatch { .. } => {
                crate::Error::WrongState("frame body does not match the frame in progress")
            }
            Error::InvalidConfig(reason) => crate::Error::InvalidOption {
                option: "zmtp",
                reason,
            },
            other => crate::Error::Protocol(other.to_string()),
        }
    }
}
