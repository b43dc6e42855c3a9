//! Command frames (RFC 23/37 §Commands, RFC 24) and connection metadata
//! (RFC 23/37 §Connection Metadata).

use bytes::{BufMut, Bytes, BytesMut};

use super::frame::encode_header;
use super::Error;

/// The longest PING/PONG context kept (longer ones are truncated, as libzmq
/// does).
pub const MAX_PING_CONTEXT: usize = 16;

/// The longest accepted metadata property value, in bytes.
pub const MAX_PROPERTY_VALUE: usize = 1 << 20;

/// The commands this crate knows by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommandName {
    /// `READY`: end of the handshake, with metadata.
    Ready,
    /// `ERROR`: fatal handshake failure, with a reason.
    Error,
    /// `HELLO`: PLAIN/CURVE client hello.
    Hello,
    /// `WELCOME`: PLAIN/CURVE server welcome.
    Welcome,
    /// `INITIATE`: PLAIN/CURVE client metadata.
    Initiate,
    /// `MESSAGE`: CURVE data.
    Message,
    /// `SUBSCRIBE` (3.1).
    Subscribe,
    /// `CANCEL` (3.1).
    Cancel,
    /// `PING` (3.1 heartbeat).
    Ping,
    /// `PONG` (3.1 heartbeat reply).
    Pong,
}

impl CommandName {
    /// The name as written on the wire.
    pub const fn as_bytes(self) -> &'static [u8] {
        match self {
            CommandName::Ready => b"READY",
            CommandName::Error => b"ERROR",
            CommandName::Hello => b"HELLO",
            CommandName::Welcome => b"WELCOME",
            CommandName::Initiate => b"INITIATE",
            CommandName::Message => b"MESSAGE",
            CommandName::Subscribe => b"SUBSCRIBE",
            CommandName::Cancel => b"CANCEL",
            CommandName::Ping => b"PING",
            CommandName::Pong => b"PONG",
        }
    }

    fn lookup(name: &[u8]) -> Option<CommandName> {
        use CommandName::*;
        [
            Ready, Error, Hello, Welcome, Initiate, Message, Subscribe, Cancel, Ping, Pong,
        ]
        .into_iter()
        .find(|c| c.as_bytes() == name)
    }

    /// Whether the command belongs to the handshake (never valid after it).
    pub const fn is_handshake(self) -> bool {
        matches!(
            self,
            CommandName::Ready | CommandName::Hello | CommandName::Welcome | CommandName::Initiate
        )
    }
}

/// How libzmq 4.3.4 and earlier PLAIN servers begin an ERROR command: their
/// C string `"\x05ERROR"` reads `\x05E` as one hex escape, so the name's
/// length byte and its `E` come out as one byte `0x5E` (`^`). The name
/// length then claims 94 bytes that are not there; such a frame is taken as
/// the ERROR it was meant to be, so the reason (a ZAP status) reaches the
/// application instead of a "malformed command".
const LIBZMQ_434_ERROR: &[u8] = b"^RROR";

/// A command split into name and data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    /// The known name, or `None` for a command this crate does not know.
    pub known: Option<CommandName>,
    /// The raw name.
    pub name: Bytes,
    /// Everything after the name.
    pub data: Bytes,
}

impl Command {
    /// Splits a command frame body into name and data.
    pub fn parse(body: Bytes) -> Result<Command, Error> {
        let Some(&n) = body.first() else {
            return Err(Error::MalformedCommand("empty command frame"));
        };
        let n = n as usize;
        if n == 0 {
            return Err(Error::MalformedCommand("empty command name"));
        }
        if body.len() < 1 + n {
            if body.starts_with(LIBZMQ_434_ERROR) {
                return Ok(Command {
                    known: Some(CommandName::Error),
                    name: Bytes::from_static(b"ERROR"),
                    data: body.slice(LIBZMQ_434_ERROR.len()..),
                });
            }
            return Err(Error::MalformedCommand("command name truncated"));
        }
        let name = body.slice(1..1 + n);
        let data = body.slice(1 + n..);
        Ok(Command {
            known: CommandName::lookup(&name),
            name,
            data,
        })
    }

    /// The name for error messages.
    pub fn name_lossy(&self) -> String {
        String::from_utf8_lossy(&self.name).into_owned()
    }

    /// Parses ERROR data: the reason.
    pub fn error_reason(&self) -> Result<String, Error> {
        let d = &self.data;
        let Some(&n) = d.first() else {
            return Err(Error::MalformedCommand("ERROR without reason length"));
        };
        if d.len() != 1 + n as usize {
            return Err(Error::MalformedCommand("ERROR reason length mismatch"));
        }
        Ok(String::from_utf8_lossy(&d[1..]).into_owned())
    }

    /// Parses PING data: TTL in deciseconds and the context, truncated to
    /// [`MAX_PING_CONTEXT`] bytes.
    pub fn ping(&self) -> Result<(u16, Bytes), Error> {
        if self.data.len() < 2 {
            return Err(Error::MalformedCommand("PING shorter than its TTL"));
        }
        let ttl = u16::from_be_bytes([self.data[0], self.data[1]]);
        let end = self.data.len().min(2 + MAX_PING_CONTEXT);
        Ok((ttl, self.data.slice(2..end)))
    }

    /// Parses PLAIN HELLO data: user name and password.
    pub fn plain_hello(&self) -> Result<(Bytes, Bytes), Error> {
        let d = &self.data;
        let bad = Error::MalformedCommand("PLAIN HELLO fields do not add up");
        let ulen = *d.first().ok_or_else(|| bad.clone())? as usize;
        let plen_at = 1 + ulen;
        let plen = *d.get(plen_at).ok_or_else(|| bad.clone())? as usize;
        if d.len() != plen_at + 1 + plen {
            return Err(bad);
        }
        Ok((d.slice(1..plen_at), d.slice(plen_at + 1..)))
    }
}

/// Writes a command frame whose data is the concatenation of `parts`.
pub fn encode_command(dst: &mut BytesMut, name: &[u8], parts: &[&[u8]]) {
    debug_assert!(!name.is_empty() && name.len() <= 255);
    let len = 1 + name.len() + parts.iter().map(|p| p.len()).sum::<usize>();
    dst.reserve(9 + len);
    encode_header(dst, false, true, len);
    dst.put_u8(name.len() as u8);
    dst.extend_from_slice(name);
    for p in parts {
        dst.extend_from_slice(p);
    }
}

/// Writes an ERROR command; the reason is cut to 255 bytes.
pub fn encode_error(dst: &mut BytesMut, reason: &str) {
    let r = &reason.as_bytes()[..reason.len().min(255)];
    encode_command(dst, CommandName::Error.as_bytes(), &[&[r.len() as u8], r]);
}

/// Writes a PING command; the context is cut to [`MAX_PING_CONTEXT`] bytes.
pub fn encode_ping(dst: &mut BytesMut, ttl: u16, context: &[u8]) {
    let c = &context[..context.len().min(MAX_PING_CONTEXT)];
    encode_command(dst, CommandName::Ping.as_bytes(), &[&ttl.to_be_bytes(), c]);
}

/// Writes a PONG command; the context is cut to [`MAX_PING_CONTEXT`] bytes.
pub fn encode_pong(dst: &mut BytesMut, context: &[u8]) {
    let c = &context[..context.len().min(MAX_PING_CONTEXT)];
    encode_command(dst, CommandName::Pong.as_bytes(), &[c]);
}

/// Whether `name` is a valid property name: 1–255 bytes of
/// `ALPHA DIGIT - _ . +`.
pub fn valid_property_name(name: &[u8]) -> bool {
    !name.is_empty()
        && name.len() <= 255
        && name
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || b"-_.+".contains(&b))
}

/// Connection metadata: the properties of a READY or INITIATE command.
///
/// Names are compared ASCII case-insensitively; they are kept as received.
///
/// ```
/// use bytes::Bytes;
/// use ringmq::zmtp::Metadata;
///
/// let mut md = Metadata::new();
/// md.insert("Socket-Type", "DEALER");
/// let wire = md.encode();
/// assert_eq!(&wire[..], b"\x0bSocket-Type\x00\x00\x00\x06DEALER");
/// let back = Metadata::parse(&Bytes::from(wire)).unwrap();
/// assert_eq!(back.get("socket-type").map(|v| &v[..]), Some(&b"DEALER"[..]));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Metadata {
    props: Vec<(String, Bytes)>,
}

impl Metadata {
    /// No properties.
    pub fn new() -> Metadata {
        Metadata::default()
    }

    /// Adds a property, replacing one of the same name (case-insensitive).
    /// The name must satisfy the property-name grammar; see
    /// [`Metadata::validate`].
    pub fn insert(&mut self, name: &str, value: impl Into<Bytes>) {
        let value = value.into();
        if let Some(slot) = self
            .props
            .iter_mut()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
        {
            *slot = (name.to_string(), value);
        } else {
            self.props.push((name.to_string(), value));
        }
    }

    /// The value of a property, by case-insensitive name.
    pub fn get(&self, name: &str) -> Option<&Bytes> {
        self.props
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }

    /// The properties in wire order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Bytes)> {
        self.props.iter().map(|(n, v)| (n.as_str(), v))
    }

    /// The number of properties.
    pub fn len(&self) -> usize {
        self.props.len()
    }

    /// Whether there are no properties.
    pub fn is_empty(&self) -> bool {
        self.props.is_empty()
    }

    /// Checks every name against the grammar and every value against
    /// [`MAX_PROPERTY_VALUE`].
    pub fn validate(&self) -> Result<(), Error> {
        for (n, v) in &self.props {
            if !valid_property_name(n.as_bytes()) {
                return Err(Error::InvalidConfig("invalid metadata property name"));
            }
            if v.len() > MAX_PROPERTY_VALUE {
                return Err(Error::InvalidConfig("metadata property value too long"));
            }
        }
        Ok(())
    }

    /// The encoded size in bytes.
    pub fn encoded_len(&self) -> usize {
        self.props
            .iter()
            .map(|(n, v)| 1 + n.len() + 4 + v.len())
            .sum()
    }

    /// Appends the wire encoding to `dst`.
    pub fn encode_into(&self, dst: &mut BytesMut) {
        dst.reserve(self.encoded_len());
        for (n, v) in &self.props {
            dst.put_u8(n.len() as u8);
            dst.extend_from_slice(n.as_bytes());
            dst.put_u32(v.len() as u32);
            dst.extend_from_slice(v);
        }
    }

    /// The wire encoding.
    pub fn encode(&self) -> BytesMut {
        let mut b = BytesMut::with_capacity(self.encoded_len());
        self.encode_into(&mut b);
        b
    }

    /// Parses the property list of a READY or INITIATE command. Values are
    /// slices of `data` (no copy).
    pub fn parse(data: &Bytes) -> Result<Metadata, Error> {
        let mut props = Vec::new();
        let mut at = 0usize;
        while at < data.len() {
            let nlen = data[at] as usize;
            let name_end = at + 1 + nlen;
            if nlen == 0 {
                return Err(Error::BadMetadata("empty property name"));
            }
            if data.len() < name_end + 4 {
                return Err(Error::BadMetadata("property truncated"));
            }
            let name = &data[at + 1..name_end];
            if !valid_property_name(name) {
                return Err(Error::BadMetadata("invalid property name"));
            }
            let vlen = u32::from_be_bytes([
                data[name_end],
                data[name_end + 1],
                data[name_end + 2],
                data[name_end + 3],
            ]) as usize;
            if vlen > MAX_PROPERTY_VALUE {
                return Err(Error::BadMetadata("property value too long"));
            }
            let vstart = name_end + 4;
            if data.len() - vstart < vlen {
                return Err(Error::BadMetadata("property value truncated"));
            }
            // The name grammar is ASCII, so this never fails.
            let name = String::from_utf8_lossy(name).into_owned();
            props.push((name, data.slice(vstart..vstart + vlen)));
            at = vstart + vlen;
        }
        Ok(Metadata { props })
    }
}
