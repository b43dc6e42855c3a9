//! The CURVE mechanism: CurveZMQ (RFC 26) carried by ZMTP (RFC 37
//! §CURVE), as libzmq speaks it. Built only with the `curve` feature.
//!
//! The handshake (client → server):
//!
//! - `HELLO`: the client's transient public key C' and a box of 64 zero
//!   bytes from C' to the server's permanent key S, which proves the client
//!   knows S.
//! - `WELCOME`: a box from S to C' holding the server's transient key S'
//!   and a cookie: C' and s' sealed under a key only this connection's
//!   server knows, so the server keeps no state it could be flooded with.
//! - `INITIATE`: the cookie back, and a box from C' to S' holding the
//!   client's permanent key C, a vouch (a box from C to S' holding C' and
//!   S, which ties the transient key to the permanent one) and the client's
//!   metadata. The server checks the cookie and the vouch, then asks its
//!   authenticator about C.
//! - `READY`: a box from S' to C' holding the server's metadata.
//!
//! After that every frame, commands included, travels as a `MESSAGE`: a
//! short nonce and a box from one transient key to the other holding a
//! flags byte (MORE 1, COMMAND 2) and the frame's body. Short nonces count
//! up from 1 on each side across the handshake and the messages, big-endian
//! on the wire; a `MESSAGE` whose nonce does not grow is refused, so a
//! replayed or reordered frame ends the connection.
//!
//! The boxes are NaCl's `crypto_box` (X25519, XSalsa20, Poly1305) and the
//! cookie NaCl's `crypto_secretbox`, from the RustCrypto crates, with the
//! 16-byte tag in front of the ciphertext as NaCl lays it out.

use std::fmt;

use bytes::{BufMut, Bytes, BytesMut};
use crypto_box::aead::rand_core::RngCore;
use crypto_box::aead::{Aead, AeadInPlace, KeyInit, OsRng};
use crypto_box::{PublicKey, SalsaBox, SecretKey};
use crypto_secretbox::XSalsa20Poly1305;
use zeroize::Zeroize;

use super::command::{encode_command, Command, CommandName};
use super::frame::encode_header;
use super::mechanism::{
    ask, check_peer_metadata, unexpected, AuthStatus, Cipher, HandshakeCtx, Handshaker, PeerReady,
};
use super::z85::{z85_decode, z85_encode};
use super::Error;
use crate::sync::StdArc;

/// The length of a CURVE key, public or secret.
pub const CURVE_KEY_LEN: usize = 32;

/// The Poly1305 tag in front of every box.
const TAG: usize = 16;

/// A permanent CURVE key pair: libzmq's `zmq_curve_keypair`.
///
/// The secret half is never printed by `Debug`, and is overwritten with
/// zeros when the pair is dropped (as are the transient keys and cookie
/// keys of connections; the boxes built from them wipe their own keys).
///
/// ```
/// use ringmq::zmtp::CurveKeyPair;
///
/// let server = CurveKeyPair::generate().unwrap();
/// // The text forms are what libzmq's ZMQ_CURVE_* options take.
/// let again = CurveKeyPair::from_secret_z85(&server.secret_z85()).unwrap();
/// assert_eq!(again.public(), server.public());
/// assert_eq!(server.public_z85().len(), 40);
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct CurveKeyPair {
    public: [u8; CURVE_KEY_LEN],
    secret: [u8; CURVE_KEY_LEN],
}

impl Drop for CurveKeyPair {
    fn drop(&mut self) {
        self.secret.zeroize();
    }
}

impl fmt::Debug for CurveKeyPair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CurveKeyPair")
            .field("public", &self.public_z85())
            .finish_non_exhaustive()
    }
}

impl CurveKeyPair {
    /// A fresh key pair from the operating system's random generator.
    pub fn generate() -> Result<CurveKeyPair, Error> {
        Ok(CurveKeyPair::from_secret(random_bytes()?))
    }

    /// The key pair of a secret key, its public key derived as libzmq's
    /// `zmq_curve_public` does.
    pub fn from_secret(secret: [u8; CURVE_KEY_LEN]) -> CurveKeyPair {
        let public = *SecretKey::from(secret).public_key().as_bytes();
        CurveKeyPair { public, secret }
    }

    /// The key pair of a secret key given as 40 Z85 characters or 32 bytes.
    pub fn from_secret_z85(secret: &str) -> Result<CurveKeyPair, Error> {
        Ok(CurveKeyPair::from_secret(curve_key(secret.as_bytes())?))
    }

    /// The public key.
    pub fn public(&self) -> &[u8; CURVE_KEY_LEN] {
        &self.public
    }

    /// The secret key.
    pub fn secret(&self) -> &[u8; CURVE_KEY_LEN] {
        &self.secret
    }

    /// The public key as 40 Z85 characters.
    pub fn public_z85(&self) -> String {
        z85_encode(&self.public).expect("32 is a multiple of 4")
    }

    /// The secret key as 40 Z85 characters.
    pub fn secret_z85(&self) -> String {
        z85_encode(&self.secret).expect("32 is a multiple of 4")
    }
}

/// A CURVE key in either of the forms libzmq's options take: 32 bytes, or
/// 40 Z85 characters (41 with a trailing NUL, as C strings come).
///
/// ```
/// use ringmq::zmtp::curve_key;
///
/// let k = curve_key(b"rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7").unwrap();
/// assert_eq!(curve_key(&k).unwrap(), k);
/// assert!(curve_key(b"too short").is_err());
/// ```
pub fn curve_key(key: &[u8]) -> Result<[u8; CURVE_KEY_LEN], Error> {
    let text = match key.len() {
        CURVE_KEY_LEN => return Ok(key.try_into().expect("length checked")),
        40 => key,
        41 if key[40] == 0 => &key[..40],
        _ => {
            return Err(Error::InvalidConfig(
                "a CURVE key is 32 bytes or 40 Z85 characters",
            ))
        }
    };
    let text = std::str::from_utf8(text)
        .map_err(|_| Error::InvalidConfig("a CURVE key in Z85 must be ASCII text"))?;
    let bytes = z85_decode(text)?;
    Ok(bytes.try_into().expect("40 Z85 characters are 32 bytes"))
}

/// What a CURVE server hands its [`CurveAuthenticator`].
#[derive(Debug, Clone, Copy)]
pub struct CurveCredentials<'a> {
    /// The client's permanent public key, proven by its vouch.
    pub client_key: &'a [u8; CURVE_KEY_LEN],
    /// The peer's address, as given in [`Config::peer_address`].
    ///
    /// [`Config::peer_address`]: super::Config::peer_address
    pub peer_address: Option<&'a str>,
}

/// The hook a CURVE server uses to admit clients by public key. It returns
/// the user id to attach to the peer's messages, or a refusal.
pub type CurveAuthenticator =
    StdArc<dyn Fn(&CurveCredentials<'_>) -> Result<String, AuthStatus> + Send + Sync>;

fn random_bytes<const N: usize>() -> Result<[u8; N], Error> {
    let mut b = [0u8; N];
    OsRng
        .try_fill_bytes(&mut b)
        .map_err(|_| Error::Crypto("the operating system's random generator failed"))?;
    Ok(b)
}

/// A 24-byte nonce: a 16-byte prefix and a short nonce (big-endian).
fn short_nonce(prefix: &[u8; 16], n: u64) -> [u8; 24] {
    let mut nonce = [0u8; 24];
    nonce[..16].copy_from_slice(prefix);
    nonce[16..].copy_from_slice(&n.to_be_bytes());
    nonce
}

/// A 24-byte nonce: an 8-byte prefix and 16 bytes (random, or from the
/// peer).
fn long_nonce(prefix: &[u8; 8], tail: &[u8]) -> [u8; 24] {
    let mut nonce = [0u8; 24];
    nonce[..8].copy_from_slice(prefix);
    nonce[8..].copy_from_slice(tail);
    nonce
}

fn salsa_box(public: &[u8; CURVE_KEY_LEN], secret: &[u8; CURVE_KEY_LEN]) -> SalsaBox {
    SalsaBox::new(&PublicKey::from(*public), &SecretKey::from(*secret))
}

fn seal(b: &SalsaBox, nonce: &[u8; 24], plain: &[u8]) -> Vec<u8> {
    b.encrypt(nonce.into(), plain)
        .expect("XSalsa20-Poly1305 takes any length that fits in memory")
}

fn open(
    b: &SalsaBox,
    nonce: &[u8; 24],
    sealed: &[u8],
    what: &'static str,
) -> Result<Vec<u8>, Error> {
    b.decrypt(nonce.into(), sealed)
        .map_err(|_| Error::Crypto(what))
}

/// Reads a big-endian short nonce.
fn read_nonce(b: &[u8]) -> u64 {
    u64::from_be_bytes(b[..8].try_into().expect("8 bytes"))
}

/// The data-phase half of a CURVE connection: seals outgoing frames and
/// opens incoming ones, checking that nonces grow.
struct CurveCipher {
    boxed: SalsaBox,
    send_prefix: &'static [u8; 16],
    recv_prefix: &'static [u8; 16],
    next_nonce: u64,
    peer_nonce: u64,
}

impl CurveCipher {
    /// The data phase of a client (`client`) or server: its box between
    /// the transient keys, the next nonce it sends and the last it got.
    fn new(boxed: SalsaBox, client: bool, next_nonce: u64, peer_nonce: u64) -> CurveCipher {
        let (ours, theirs) = if client {
            (b"CurveZMQMESSAGEC", b"CurveZMQMESSAGES")
        } else {
            (b"CurveZMQMESSAGES", b"CurveZMQMESSAGEC")
        };
        CurveCipher {
            boxed,
            send_prefix: ours,
            recv_prefix: theirs,
            next_nonce,
            peer_nonce,
        }
    }
}

/// Takes the next short nonce of a handshake.
fn take_nonce(next: &mut u64) -> u64 {
    let n = *next;
    *next += 1;
    n
}

impl Cipher for CurveCipher {
    fn seal_frame(&mut self, out: &mut BytesMut, body: &[u8], more: bool, command: bool) {
        let n = self.next_nonce;
        self.next_nonce = n.wrapping_add(1);
        let nonce = short_nonce(self.send_prefix, n);
        let len = 8 + 8 + TAG + 1 + body.len();
        out.reserve(9 + len);
        encode_header(out, false, false, len);
        out.extend_from_slice(b"\x07MESSAGE");
        out.put_u64(n);
        let tag_at = out.len();
        out.extend_from_slice(&[0; TAG]);
        let text_at = out.len();
        out.put_u8(u8::from(more) | (u8::from(command) << 1));
        out.extend_from_slice(body);
        let tag = self
            .boxed
            .encrypt_in_place_detached((&nonce).into(), b"", &mut out[text_at..])
            .expect("XSalsa20-Poly1305 takes any length that fits in memory");
        out[tag_at..text_at].copy_from_slice(&tag);
    }

    fn open_frame(&mut self, wire: &[u8]) -> Result<(u8, Bytes), Error> {
        if wire.len() < 8 + 8 + TAG + 1 || !wire.starts_with(b"\x07MESSAGE") {
            return Err(Error::Crypto("a CURVE frame that is not a MESSAGE"));
        }
        let n = read_nonce(&wire[8..16]);
        if n <= self.peer_nonce {
            return Err(Error::Crypto("a MESSAGE whose nonce does not grow"));
        }
        let nonce = short_nonce(self.recv_prefix, n);
        let mut text = BytesMut::from(&wire[16 + TAG..]);
        self.boxed
            .decrypt_in_place_detached((&nonce).into(), b"", &mut text, wire[16..16 + TAG].into())
            .map_err(|_| Error::Crypto("a MESSAGE that does not open"))?;
        self.peer_nonce = n;
        let flags = text[0];
        Ok((flags, text.freeze().slice(1..)))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ClientState {
    SentHello,
    SentInitiate,
    Done,
}

/// The client side: knows the server's permanent key.
pub(crate) struct CurveClientHandshake {
    keys: CurveKeyPair,
    server_key: [u8; CURVE_KEY_LEN],
    transient: CurveKeyPair,
    /// C' to S: seals the HELLO, opens the WELCOME.
    to_server: SalsaBox,
    /// C' to S', once the WELCOME told S'.
    session: Option<SalsaBox>,
    next_nonce: u64,
    state: ClientState,
    cipher: Option<CurveCipher>,
}

impl CurveClientHandshake {
    pub(crate) fn new(
        keys: &CurveKeyPair,
        server_key: &[u8; CURVE_KEY_LEN],
    ) -> Result<CurveClientHandshake, Error> {
        let transient = CurveKeyPair::generate()?;
        Ok(CurveClientHandshake {
            keys: keys.clone(),
            server_key: *server_key,
            to_server: salsa_box(server_key, transient.secret()),
            transient,
            session: None,
            next_nonce: 1,
            state: ClientState::SentHello,
            cipher: None,
        })
    }

    fn on_welcome(
        &mut self,
        data: &[u8],
        ctx: &HandshakeCtx<'_>,
        out: &mut BytesMut,
    ) -> Result<(), Error> {
        // A 16-byte nonce and Box[S' + cookie](S -> C'): 32 + 96 + 16.
        if data.len() != 16 + 144 {
            return Err(Error::MalformedCommand("CURVE WELCOME is not 168 bytes"));
        }
        let plain = open(
            &self.to_server,
            &long_nonce(b"WELCOME-", &data[..16]),
            &data[16..],
            "the WELCOME does not open (is the server key right?)",
        )?;
        let server_transient: [u8; 32] = plain[..32].try_into().expect("128 bytes");
        let cookie = &plain[32..128];
        let session = salsa_box(&server_transient, self.transient.secret());

        // The vouch: Box[C' + S](C -> S').
        let vouch_tail: [u8; 16] = random_bytes()?;
        let mut vouched = [0u8; 64];
        vouched[..32].copy_from_slice(self.transient.public());
        vouched[32..].copy_from_slice(&self.server_key);
        let vouch = seal(
            &salsa_box(&server_transient, self.keys.secret()),
            &long_nonce(b"VOUCH---", &vouch_tail),
            &vouched,
        );

        // Box[C + vouch + metadata](C' -> S').
        let mut plain = Vec::with_capacity(128 + ctx.metadata.len());
        plain.extend_from_slice(self.keys.public());
        plain.extend_from_slice(&vouch_tail);
        plain.extend_from_slice(&vouch);
        plain.extend_from_slice(ctx.metadata);
        let n = take_nonce(&mut self.next_nonce);
        let sealed = seal(&session, &short_nonce(b"CurveZMQINITIATE", n), &plain);
        encode_command(
            out,
            CommandName::Initiate.as_bytes(),
            &[cookie, &n.to_be_bytes(), &sealed],
        );
        self.session = Some(session);
        Ok(())
    }

    fn on_ready(&mut self, data: &[u8], ctx: &HandshakeCtx<'_>) -> Result<PeerReady, Error> {
        if data.len() < 8 + TAG {
            return Err(Error::MalformedCommand("CURVE READY too short"));
        }
        let session = self.session.take().expect("set with the INITIATE");
        let n = read_nonce(data);
        let plain = open(
            &session,
            &short_nonce(b"CurveZMQREADY---", n),
            &data[8..],
            "the READY does not open",
        )?;
        let peer = check_peer_metadata(ctx.socket_type, &Bytes::from(plain), None)?;
        self.cipher = Some(CurveCipher::new(session, true, self.next_nonce, n));
        Ok(peer)
    }
}

impl Handshaker for CurveClientHandshake {
    fn start(&mut self, _ctx: &HandshakeCtx<'_>, out: &mut BytesMut) {
        // Box[64 zero bytes](C' -> S): the server can open it only with s.
        let n = take_nonce(&mut self.next_nonce);
        let sealed = seal(
            &self.to_server,
            &short_nonce(b"CurveZMQHELLO---", n),
            &[0u8; 64],
        );
        encode_command(
            out,
            CommandName::Hello.as_bytes(),
            // Version 1.0, then 72 bytes of padding so that the HELLO is as
            // long as the WELCOME it asks for (no amplification).
            &[
                &[1, 0],
                &[0u8; 72],
                self.transient.public(),
                &n.to_be_bytes(),
                &sealed,
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
            (ClientState::SentHello, Some(CommandName::Welcome)) => {
                self.on_welcome(&cmd.data, ctx, out)?;
                self.state = ClientState::SentInitiate;
                Ok(None)
            }
            (ClientState::SentInitiate, Some(CommandName::Ready)) => {
                let peer = self.on_ready(&cmd.data, ctx)?;
                self.state = ClientState::Done;
                Ok(Some(peer))
            }
            _ => Err(unexpected(cmd)),
        }
    }

    fn take_cipher(&mut self) -> Option<Box<dyn Cipher>> {
        self.cipher.take().map(|c| Box::new(c) as Box<dyn Cipher>)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ServerState {
    AwaitHello,
    AwaitInitiate,
    Done,
}

/// The server side: admits clients through its authenticator (all of them
/// without one, as libzmq does without a ZAP handler).
pub(crate) struct CurveServerHandshake {
    keys: CurveKeyPair,
    authenticator: Option<CurveAuthenticator>,
    transient: CurveKeyPair,
    /// The key the cookie is sealed with; this connection's only.
    cookie_key: [u8; 32],
    /// C', from the HELLO.
    client_transient: [u8; CURVE_KEY_LEN],
    peer_nonce: u64,
    next_nonce: u64,
    state: ServerState,
    cipher: Option<CurveCipher>,
}

impl CurveServerHandshake {
    pub(crate) fn new(
        keys: &CurveKeyPair,
        authenticator: Option<CurveAuthenticator>,
    ) -> Result<CurveServerHandshake, Error> {
        Ok(CurveServerHandshake {
            keys: keys.clone(),
            authenticator,
            transient: CurveKeyPair::generate()?,
            cookie_key: random_bytes()?,
            client_transient: [0; CURVE_KEY_LEN],
            peer_nonce: 0,
            next_nonce: 1,
            state: ServerState::AwaitHello,
            cipher: None,
        })
    }

    fn on_hello(&mut self, data: &[u8], out: &mut BytesMut) -> Result<(), Error> {
        // Version, padding, C', short nonce, Box[64 zero bytes](C' -> S).
        if data.len() != 2 + 72 + 32 + 8 + 80 {
            return Err(Error::MalformedCommand("CURVE HELLO is not 200 bytes"));
        }
        if data[..2] != [1, 0] {
            return Err(Error::MalformedCommand(
                "CURVE HELLO of a version other than 1.0",
            ));
        }
        self.client_transient = data[74..106].try_into().expect("32 bytes");
        let with_client = salsa_box(&self.client_transient, self.keys.secret());
        let n = read_nonce(&data[106..114]);
        let plain = open(
            &with_client,
            &short_nonce(b"CurveZMQHELLO---", n),
            &data[114..],
            "the HELLO does not open (does the client have our public key?)",
        )?;
        if plain.iter().any(|&b| b != 0) {
            return Err(Error::Crypto("the HELLO's box does not hold zeros"));
        }
        self.peer_nonce = n;

        // The cookie: Box[C' + s'](cookie key), which the client hands back.
        let cookie_tail: [u8; 16] = random_bytes()?;
        let mut kept = [0u8; 64];
        kept[..32].copy_from_slice(&self.client_transient);
        kept[32..].copy_from_slice(self.transient.secret());
        let cookie_box = XSalsa20Poly1305::new((&self.cookie_key).into())
            .encrypt((&long_nonce(b"COOKIE--", &cookie_tail)).into(), &kept[..])
            .expect("64 bytes always seal");
        kept.zeroize();

        // Box[S' + cookie](S -> C').
        let mut plain = Vec::with_capacity(128);
        plain.extend_from_slice(self.transient.public());
        plain.extend_from_slice(&cookie_tail);
        plain.extend_from_slice(&cookie_box);
        let welcome_tail: [u8; 16] = random_bytes()?;
        let sealed = seal(
            &with_client,
            &long_nonce(b"WELCOME-", &welcome_tail),
            &plain,
        );
        encode_command(
            out,
            CommandName::Welcome.as_bytes(),
            &[&welcome_tail, &sealed],
        );
        Ok(())
    }

    fn on_initiate(
        &mut self,
        data: &[u8],
        ctx: &HandshakeCtx<'_>,
        out: &mut BytesMut,
    ) -> Result<PeerReady, Error> {
        // Cookie (96), short nonce, Box[C + vouch + metadata](C' -> S').
        if data.len() < 96 + 8 + 128 + TAG {
            return Err(Error::MalformedCommand("CURVE INITIATE too short"));
        }
        let mut kept = XSalsa20Poly1305::new((&self.cookie_key).into())
            .decrypt(
                (&long_nonce(b"COOKIE--", &data[..16])).into(),
                &data[16..96],
            )
            .map_err(|_| Error::Crypto("the INITIATE's cookie does not open"))?;
        let ours = kept[..32] == self.client_transient && kept[32..] == self.transient.secret()[..];
        kept.zeroize();
        if !ours {
            return Err(Error::Crypto(
                "the INITIATE's cookie is not this connection's",
            ));
        }
        let n = read_nonce(&data[96..104]);
        if n <= self.peer_nonce {
            return Err(Error::Crypto("an INITIATE whose nonce does not grow"));
        }
        let session = salsa_box(&self.client_transient, self.transient.secret());
        let plain = open(
            &session,
            &short_nonce(b"CurveZMQINITIATE", n),
            &data[104..],
            "the INITIATE does not open",
        )?;
        let client_key: [u8; 32] = plain[..32].try_into().expect("at least 128 bytes");
        let vouched = open(
            &salsa_box(&client_key, self.transient.secret()),
            &long_nonce(b"VOUCH---", &plain[32..48]),
            &plain[48..128],
            "the INITIATE's vouch does not open",
        )?;
        if vouched[..32] != self.client_transient || vouched[32..] != self.keys.public()[..] {
            return Err(Error::Crypto(
                "the vouch names other keys than this connection's",
            ));
        }
        self.peer_nonce = n;

        let user_id = match &self.authenticator {
            None => None,
            Some(auth) => {
                let creds = CurveCredentials {
                    client_key: &client_key,
                    peer_address: ctx.peer_address,
                };
                Some(ask(&**auth, &creds)?)
            }
        };
        let peer = check_peer_metadata(
            ctx.socket_type,
            &Bytes::copy_from_slice(&plain[128..]),
            user_id,
        )?;

        // READY: Box[metadata](S' -> C').
        let r = take_nonce(&mut self.next_nonce);
        let sealed = seal(&session, &short_nonce(b"CurveZMQREADY---", r), ctx.metadata);
        encode_command(
            out,
            CommandName::Ready.as_bytes(),
            &[&r.to_be_bytes(), &sealed],
        );
        self.cipher = Some(CurveCipher::new(
            session,
            false,
            self.next_nonce,
            self.peer_nonce,
        ));
        Ok(peer)
    }
}

impl Drop for CurveServerHandshake {
    fn drop(&mut self) {
        self.cookie_key.zeroize();
    }
}

impl Handshaker for CurveServerHandshake {
    fn start(&mut self, _ctx: &HandshakeCtx<'_>, _out: &mut BytesMut) {}

    fn on_command(
        &mut self,
        cmd: &Command,
        ctx: &HandshakeCtx<'_>,
        out: &mut BytesMut,
    ) -> Result<Option<PeerReady>, Error> {
        match (self.state, cmd.known) {
            (ServerState::AwaitHello, Some(CommandName::Hello)) => {
                self.on_hello(&cmd.data, out)?;
                self.state = ServerState::AwaitInitiate;
                Ok(None)
            }
            (ServerState::AwaitInitiate, Some(CommandName::Initiate)) => {
                let peer = self.on_initiate(&cmd.data, ctx, out)?;
                self.state = ServerState::Done;
                Ok(Some(peer))
            }
            _ => Err(unexpected(cmd)),
        }
    }

    fn take_cipher(&mut self) -> Option<Box<dyn Cipher>> {
        self.cipher.take().map(|c| Box::new(c) as Box<dyn Cipher>)
    }
}
