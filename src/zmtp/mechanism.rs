//! Security mechanisms: NULL (RFC 23 §NULL), PLAIN (RFC 24) and, with the
//! `curve` feature, CURVE (RFC 26, in `curve`).
//!
//! Each mechanism is a [`Handshaker`]: it queues its first commands when the
//! greeting exchange is done, then consumes the peer's handshake commands
//! until it can report the peer's metadata. A mechanism that protects the
//! data phase (CURVE) then hands the connection a [`Cipher`], which seals
//! and opens every frame from there on.

use std::fmt;

use bytes::{Bytes, BytesMut};

use super::command::{encode_command, Command, CommandName, Metadata};
use super::greeting::MechanismName;
use super::{Error, SocketType};
use crate::sync::StdArc;

/// What a PLAIN server hands its [`Authenticator`].
#[derive(Debug, Clone, Copy)]
pub struct PlainCredentials<'a> {
    /// The user name from the client's HELLO.
    pub username: &'a [u8],
    /// The password from the client's HELLO.
    pub password: &'a [u8],
    /// The peer's address, as given in [`Config::peer_address`].
    ///
    /// [`Config::peer_address`]: super::Config::peer_address
    pub peer_address: Option<&'a str>,
}

/// A refusal from an [`Authenticator`], with a ZAP status code (RFC 27).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuthStatus(pub u16);

impl AuthStatus {
    /// Temporary failure: the connection is closed without an ERROR command.
    pub const TEMPORARY: AuthStatus = AuthStatus(300);
    /// Credentials refused: ERROR `400` is sent.
    pub const DENIED: AuthStatus = AuthStatus(400);
    /// Internal error of the authenticator: ERROR `500` is sent.
    pub const INTERNAL: AuthStatus = AuthStatus(500);
}

/// The hook a PLAIN server uses to check credentials. It returns the user id
/// to attach to the peer's messages, or a refusal.
pub type Authenticator =
    StdArc<dyn Fn(&PlainCredentials<'_>) -> Result<String, AuthStatus> + Send + Sync>;

/// The security mechanism of one end of a connection.
///
/// ```
/// use ringmq::zmtp::{AuthStatus, Mechanism};
///
/// let client = Mechanism::plain_client("admin", "secret");
/// let server = Mechanism::plain_server(|c| {
///     if c.username == b"admin" && c.password == b"secret" {
///         Ok("admin".to_string())
///     } else {
///         Err(AuthStatus::DENIED)
///     }
/// });
/// assert!(!client.is_server() && server.is_server());
/// ```
#[derive(Clone, Default)]
#[non_exhaustive]
pub enum Mechanism {
    /// No security.
    #[default]
    Null,
    /// PLAIN client: sends these credentials.
    PlainClient {
        /// User name, at most 255 bytes.
        username: Bytes,
        /// Password, at most 255 bytes.
        password: Bytes,
    },
    /// PLAIN server: checks credentials with the authenticator.
    PlainServer {
        /// The credential check.
        authenticator: Authenticator,
    },
    /// CURVE client (feature `curve`): its permanent key pair, and the
    /// server's public key it must know in advance.
    #[cfg(feature = "curve")]
    CurveClient {
        /// This client's permanent key pair.
        keys: super::curve::CurveKeyPair,
        /// The server's permanent public key.
        server_key: [u8; super::curve::CURVE_KEY_LEN],
    },
    /// CURVE server (feature `curve`): its permanent key pair, and an
    /// optional check of each client's public key (without one every
    /// client is admitted, as libzmq does without a ZAP handler).
    #[cfg(feature = "curve")]
    CurveServer {
        /// This server's permanent key pair.
        keys: super::curve::CurveKeyPair,
        /// The client key check, if any.
        authenticator: Option<super::curve::CurveAuthenticator>,
    },
}

impl fmt::Debug for Mechanism {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Mechanism::Null => f.write_str("Null"),
            Mechanism::PlainClient { username, .. } => f
                .debug_struct("PlainClient")
                .field("username", username)
                .finish_non_exhaustive(),
            Mechanism::PlainServer { .. } => f.write_str("PlainServer"),
            #[cfg(feature = "curve")]
            Mechanism::CurveClient { keys, .. } => f
                .debug_struct("CurveClient")
                .field("public", &keys.public_z85())
                .finish_non_exhaustive(),
            #[cfg(feature = "curve")]
            Mechanism::CurveServer { keys, .. } => f
                .debug_struct("CurveServer")
                .field("public", &keys.public_z85())
                .finish_non_exhaustive(),
        }
    }
}

impl Mechanism {
    /// A PLAIN client with these credentials.
    pub fn plain_client(username: impl Into<Bytes>, password: impl Into<Bytes>) -> Mechanism {
        Mechanism::PlainClient {
            username: username.into(),
            password: password.into(),
        }
    }

    /// A PLAIN server checking credentials with `f`.
    pub fn plain_server<F>(f: F) -> Mechanism
    where
        F: Fn(&PlainCredentials<'_>) -> Result<String, AuthStatus> + Send + Sync + 'static,
    {
        Mechanism::PlainServer {
            authenticator: StdArc::new(f),
        }
    }

    /// A CURVE client (feature `curve`) with this permanent key pair,
    /// talking to the server whose public key is `server_key`.
    ///
    /// ```
    /// use ringmq::zmtp::{CurveKeyPair, Mechanism};
    ///
    /// let server_keys = CurveKeyPair::generate().unwrap();
    /// let server = Mechanism::curve_server(server_keys.clone());
    /// let client = Mechanism::curve_client(CurveKeyPair::generate().unwrap(), *server_keys.public());
    /// assert!(server.is_server() && !client.is_server());
    /// ```
    #[cfg(feature = "curve")]
    pub fn curve_client(
        keys: super::curve::CurveKeyPair,
        server_key: [u8; super::curve::CURVE_KEY_LEN],
    ) -> Mechanism {
        Mechanism::CurveClient { keys, server_key }
    }

    /// A CURVE server (feature `curve`) with this permanent key pair,
    /// admitting every client that completes the handshake.
    #[cfg(feature = "curve")]
    pub fn curve_server(keys: super::curve::CurveKeyPair) -> Mechanism {
        Mechanism::CurveServer {
            keys,
            authenticator: None,
        }
    }

    /// A CURVE server (feature `curve`) that admits a client only if `f`
    /// accepts its public key; `f` returns the user id of the client's
    /// messages (their `User-Id` property). Like a PLAIN server's check, it
    /// runs on the I/O thread during the handshake; a panic in it refuses
    /// the client with status 500.
    ///
    /// ```
    /// use ringmq::zmtp::{AuthStatus, CurveKeyPair, Mechanism};
    /// use ringmq::{Context, SocketType};
    ///
    /// // Keys are usually made once and kept: `public_z85()` and
    /// // `secret_z85()` give the 40-character forms libzmq tools use.
    /// let server_keys = CurveKeyPair::generate()?;
    /// let client_keys = CurveKeyPair::generate()?;
    /// let allowed = *client_keys.public();
    ///
    /// let ctx = Context::new();
    /// let server = ctx.socket(SocketType::Rep)?;
    /// server.set_mechanism(Mechanism::curve_server_with(server_keys.clone(), move |c| {
    ///     if *c.client_key == allowed {
    ///         Ok("alice".to_string())
    ///     } else {
    ///         Err(AuthStatus::DENIED)
    ///     }
    /// }))?;
    /// let ep = server.bind("tcp://127.0.0.1:*")?;
    ///
    /// let client = ctx.socket(SocketType::Req)?;
    /// client.set_mechanism(Mechanism::curve_client(client_keys, *server_keys.public()))?;
    /// client.connect(&ep)?;
    /// client.send("hello")?;
    /// assert_eq!(&server.recv()?[..], b"hello");
    /// assert_eq!(server.last_message_property("User-Id").as_deref(), Some("alice"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[cfg(feature = "curve")]
    pub fn curve_server_with<F>(keys: super::curve::CurveKeyPair, f: F) -> Mechanism
    where
        F: Fn(&super::curve::CurveCredentials<'_>) -> Result<String, AuthStatus>
            + Send
            + Sync
            + 'static,
    {
        Mechanism::CurveServer {
            keys,
            authenticator: Some(StdArc::new(f)),
        }
    }

    /// The name in the greeting.
    pub fn name(&self) -> MechanismName {
        match self {
            Mechanism::Null => MechanismName::Null,
            Mechanism::PlainClient { .. } | Mechanism::PlainServer { .. } => MechanismName::Plain,
            #[cfg(feature = "curve")]
            Mechanism::CurveClient { .. } | Mechanism::CurveServer { .. } => MechanismName::Curve,
        }
    }

    /// Whether this end is the mechanism's server (as-server in the
    /// greeting).
    pub fn is_server(&self) -> bool {
        match self {
            Mechanism::PlainServer { .. } => true,
            #[cfg(feature = "curve")]
            Mechanism::CurveServer { .. } => true,
            _ => false,
        }
    }

    pub(crate) fn validate(&self) -> Result<(), Error> {
        if let Mechanism::PlainClient { username, password } = self {
            if username.len() > 255 || password.len() > 255 {
                return Err(Error::InvalidConfig(
                    "PLAIN user name and password must be at most 255 bytes",
                ));
            }
        }
        Ok(())
    }

    /// A fresh handshake. Only CURVE can fail here: its transient keys come
    /// from the operating system's random generator.
    pub(crate) fn handshaker(&self) -> Result<Box<dyn Handshaker>, Error> {
        Ok(match self {
            Mechanism::Null => Box::new(NullHandshake { done: false }),
            Mechanism::PlainClient { username, password } => Box::new(PlainClientHandshake {
                username: username.clone(),
                password: password.clone(),
                state: PlainClientState::SentHello,
            }),
            Mechanism::PlainServer { authenticator } => Box::new(PlainServerHandshake {
                authenticator: authenticator.clone(),
                state: PlainServerState::AwaitHello,
                user_id: None,
            }),
            #[cfg(feature = "curve")]
            Mechanism::CurveClient { keys, server_key } => {
                Box::new(super::curve::CurveClientHandshake::new(keys, server_key)?)
            }
            #[cfg(feature = "curve")]
            Mechanism::CurveServer {
                keys,
                authenticator,
            } => Box::new(super::curve::CurveServerHandshake::new(
                keys,
                authenticator.clone(),
            )?),
        })
    }
}

/// What the connection gives a mechanism.
pub(crate) struct HandshakeCtx<'a> {
    /// Our socket type.
    pub socket_type: SocketType,
    /// Our encoded metadata (READY/INITIATE body after the name).
    pub metadata: &'a [u8],
    /// The peer's address, for the authenticator.
    pub peer_address: Option<&'a str>,
}

/// The result of a finished handshake.
#[derive(Debug)]
pub(crate) struct PeerReady {
    pub socket_type: SocketType,
    pub identity: Option<Bytes>,
    pub metadata: Metadata,
    pub user_id: Option<String>,
}

/// One side of a mechanism's handshake.
pub(crate) trait Handshaker: Send {
    /// Queues the commands this side sends first.
    fn start(&mut self, ctx: &HandshakeCtx<'_>, out: &mut BytesMut);
    /// Consumes one handshake command from the peer (never ERROR, which the
    /// connection handles). `Ok(Some(_))` ends the handshake.
    fn on_command(
        &mut self,
        cmd: &Command,
        ctx: &HandshakeCtx<'_>,
        out: &mut BytesMut,
    ) -> Result<Option<PeerReady>, Error>;
    /// Once the handshake has ended: what seals and opens the frames of the
    /// data phase, for a mechanism that protects them (CURVE).
    fn take_cipher(&mut self) -> Option<Box<dyn Cipher>> {
        None
    }
}

/// The data phase of a mechanism that protects it: every frame, message or
/// command, goes out sealed inside a frame of its own, and comes in the
/// same way.
pub(crate) trait Cipher: Send {
    /// Appends the sealed wire frame carrying one frame's `body` and flags.
    fn seal_frame(&mut self, out: &mut BytesMut, body: &[u8], more: bool, command: bool);
    /// Opens the body of one wire frame: the flags (MORE 1, COMMAND 2) and
    /// the frame's body.
    fn open_frame(&mut self, wire: &[u8]) -> Result<(u8, Bytes), Error>;
}

/// Validates the peer's metadata: a known, compatible `Socket-Type` is
/// required; `Identity`, if present, must be at most 255 bytes.
pub(crate) fn check_peer_metadata(
    ours: SocketType,
    data: &Bytes,
    user_id: Option<String>,
) -> Result<PeerReady, Error> {
    let metadata = Metadata::parse(data)?;
    let Some(st) = metadata.get("Socket-Type") else {
        return Err(Error::BadMetadata("missing Socket-Type"));
    };
    let incompatible = || Error::IncompatibleSocketType {
        ours: ours.as_str(),
        theirs: String::from_utf8_lossy(st).into_owned(),
    };
    let socket_type = SocketType::parse(st).ok_or_else(incompatible)?;
    if !ours.is_compatible(socket_type) {
        return Err(incompatible());
    }
    let identity = metadata.get("Identity").cloned();
    if identity.as_ref().is_some_and(|i| i.len() > 255) {
        return Err(Error::BadMetadata("Identity longer than 255 bytes"));
    }
    Ok(PeerReady {
        socket_type,
        identity,
        metadata,
        user_id,
    })
}

/// Runs a server's check of a client: the user id, or the refusal as
/// [`Error::AuthFailed`]. The check is the application's code: a panic in
/// it refuses this peer (500) instead of ending the thread that runs the
/// handshake.
pub(crate) fn ask<C>(
    check: &(dyn Fn(&C) -> Result<String, AuthStatus> + Send + Sync),
    creds: &C,
) -> Result<String, Error> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| check(creds)))
        .unwrap_or(Err(AuthStatus::INTERNAL))
        .map_err(|AuthStatus(status)| Error::AuthFailed { status })
}

pub(crate) fn unexpected(cmd: &Command) -> Error {
    Error::UnexpectedCommand(cmd.name_lossy())
}

struct NullHandshake {
    done: bool,
}

impl Handshaker for NullHandshake {
    fn start(&mut self, ctx: &HandshakeCtx<'_>, out: &mut BytesMut) {
        encode_command(out, CommandName::Ready.as_bytes(), &[ctx.metadata]);
    }

    fn on_command(
        &mut self,
        cmd: &Command,
        ctx: &HandshakeCtx<'_>,
        _out: &mut BytesMut,
    ) -> Result<Option<PeerReady>, Error> {
        if self.done || cmd.known != Some(CommandName::Ready) {
            return Err(unexpected(cmd));
        }
        let peer = check_peer_metadata(ctx.socket_type, &cmd.data, None)?;
        self.done = true;
        Ok(Some(peer))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PlainClientState {
    SentHello,
    SentInitiate,
    Done,
}

struct PlainClientHandshake {
    username: Bytes,
    password: Bytes,
    state: PlainClientState,
}

impl Handshaker for PlainClientHandshake {
    fn start(&mut self, _ctx: &HandshakeCtx<'_>, out: &mut BytesMut) {
        encode_command(
            out,
            CommandName::Hello.as_bytes(),
            &[
                &[self.username.len() as u8],
                &self.username,
                &[self.password.len() as u8],
                &self.password,
            ],
        );
    }

    fn on_command(
        &mut self,
        cmd: &Command,
        ctx: &HandshakeCtx<'_>,
        out: &mut BytesMut,
    ) -> Result<Option<PeerReady>, Error> {
        match (self.state, cmd.known) {
            (PlainClientState::SentHello, Some(CommandName::Welcome)) => {
                if !cmd.data.is_empty() {
                    return Err(Error::MalformedCommand("PLAIN WELCOME with data"));
                }
                encode_command(out, CommandName::Initiate.as_bytes(), &[ctx.metadata]);
                self.state = PlainClientState::SentInitiate;
                Ok(None)
            }
            (PlainClientState::SentInitiate, Some(CommandName::Ready)) => {
                let peer = check_peer_metadata(ctx.socket_type, &cmd.data, None)?;
                self.state = PlainClientState::Done;
                Ok(Some(peer))
            }
            _ => Err(unexpected(cmd)),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PlainServerState {
    AwaitHello,
    AwaitInitiate,
    Done,
}

struct PlainServerHandshake {
    authenticator: Authenticator,
    state: PlainServerState,
    user_id: Option<String>,
}

impl Handshaker for PlainServerHandshake {
    fn start(&mut self, _ctx: &HandshakeCtx<'_>, _out: &mut BytesMut) {}

    fn on_command(
        &mut self,
        cmd: &Command,
        ctx: &HandshakeCtx<'_>,
        out: &mut BytesMut,
    ) -> Result<Option<PeerReady>, Error> {
        match (self.state, cmd.known) {
            (PlainServerState::AwaitHello, Some(CommandName::Hello)) => {
                let (username, password) = cmd.plain_hello()?;
                let creds = PlainCredentials {
                    username: &username,
                    password: &password,
                    peer_address: ctx.peer_address,
                };
                let user_id = ask(&*self.authenticator, &creds)?;
                self.user_id = Some(user_id);
                encode_command(out, CommandName::Welcome.as_bytes(), &[]);
                self.state = PlainServerState::AwaitInitiate;
                Ok(None)
            }
            (PlainServerState::AwaitInitiate, Some(CommandName::Initiate)) => {
                let peer = check_peer_metadata(ctx.socket_type, &cmd.data, self.user_id.take())?;
                encode_command(out, CommandName::Ready.as_bytes(), &[ctx.metadata]);
                self.state = PlainServerState::Done;
                Ok(Some(peer))
            }
            _ => Err(unexpected(cmd)),
        }
    }
}
