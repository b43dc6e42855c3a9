//! The 64-byte ZMTP greeting (RFC 23/37 §Greeting).

use super::Error;

/// The greeting's length in bytes.
pub const GREETING_LEN: usize = 64;

/// The security mechanisms a greeting can name that this crate knows about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MechanismName {
    /// No security (RFC 23 §NULL).
    Null,
    /// Clear-text user name and password (RFC 24).
    Plain,
    /// CurveZMQ (RFC 25/26); recognised in greetings, not implemented.
    Curve,
}

impl MechanismName {
    /// The name as written in the greeting.
    pub const fn as_str(self) -> &'static str {
        match self {
            MechanismName::Null => "NULL",
            MechanismName::Plain => "PLAIN",
            MechanismName::Curve => "CURVE",
        }
    }

    /// The 20-byte, NUL-padded greeting field.
    pub fn field(self) -> [u8; 20] {
        let mut f = [0u8; 20];
        let n = self.as_str().as_bytes();
        f[..n.len()].copy_from_slice(n);
        f
    }

    fn from_field(field: &[u8]) -> Result<MechanismName, Error> {
        let end = field.iter().position(|&b| b == 0).unwrap_or(field.len());
        let (name, pad) = field.split_at(end);
        let valid = !name.is_empty()
            && pad.iter().all(|&b| b == 0)
            && name
                .iter()
                .all(|&b| b.is_ascii_uppercase() || b.is_ascii_digit() || b"-_.+".contains(&b));
        let shown = String::from_utf8_lossy(name).into_owned();
        if !valid {
            return Err(Error::UnknownMechanism(shown));
        }
        match name {
            b"NULL" => Ok(MechanismName::Null),
            b"PLAIN" => Ok(MechanismName::Plain),
            b"CURVE" => Ok(MechanismName::Curve),
            _ => Err(Error::UnknownMechanism(shown)),
        }
    }
}

/// A parsed or to-be-sent greeting.
///
/// ```
/// use ringmq::zmtp::{Greeting, MechanismName};
///
/// let g = Greeting::new(MechanismName::Null, false);
/// let bytes = g.encode();
/// assert_eq!(&bytes[..12], b"\xff\0\0\0\0\0\0\0\x01\x7f\x03\x01");
/// assert_eq!(Greeting::parse(&bytes), Ok(g));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Greeting {
    /// The major version (3).
    pub major: u8,
    /// The minor version (0 for ZMTP 3.0, 1 for 3.1).
    pub minor: u8,
    /// The security mechanism.
    pub mechanism: MechanismName,
    /// The as-server flag (1 for the server of PLAIN/CURVE, per the spec;
    /// libzmq always sends 0 and ignores it, and so does the parser).
    pub as_server: bool,
}

impl Greeting {
    /// A ZMTP 3.1 greeting.
    pub const fn new(mechanism: MechanismName, as_server: bool) -> Greeting {
        Greeting {
            major: 3,
            minor: 1,
            mechanism,
            as_server,
        }
    }

    /// Encodes the full 64 bytes. The signature padding is written the way
    /// libzmq writes it for an anonymous socket (`00 .. 00 01`).
    pub fn encode(&self) -> [u8; GREETING_LEN] {
        let mut g = [0u8; GREETING_LEN];
        g[0] = 0xFF;
        g[8] = 0x01;
        g[9] = 0x7F;
        g[10] = self.major;
        g[11] = self.minor;
        g[12..32].copy_from_slice(&self.mechanism.field());
        g[32] = self.as_server as u8;
        g
    }

    /// Checks a prefix of a peer's greeting, so that a peer that is not
    /// ZMTP 3.x is refused as soon as enough bytes arrived (a ZMTP 2.0 peer
    /// never sends a full 64-byte greeting). Any prefix of a valid greeting
    /// passes.
    pub fn check_prefix(bytes: &[u8]) -> Result<(), Error> {
        if let Some(&b0) = bytes.first() {
            if b0 != 0xFF {
                return Err(Error::BadSignature);
            }
        }
        if let Some(&b9) = bytes.get(9) {
            if b9 & 1 == 0 {
                return Err(Error::BadSignature);
            }
        }
        if let Some(&major) = bytes.get(10) {
            if major < 3 {
                return Err(Error::UnsupportedVersion { major, minor: 0 });
            }
        }
        Ok(())
    }

    /// Parses a full greeting. Padding bytes 1–8 and the filler are not
    /// validated; the as-server byte is read but never enforced.
    pub fn parse(bytes: &[u8]) -> Result<Greeting, Error> {
        Greeting::check_prefix(bytes)?;
        if bytes.len() < GREETING_LEN {
            return Err(Error::MalformedCommand("greeting shorter than 64 bytes"));
        }
        let mechanism = MechanismName::from_field(&bytes[12..32])?;
        Ok(Greeting {
            major: bytes[10],
            minor: bytes[11],
            mechanism,
            as_server: bytes[32] & 1 == 1,
        })
    }

    /// The minor version to behave as: a 3.0 peer gets 3.0 behaviour, any
    /// later version (3.1+, or a major above 3) gets 3.1 behaviour.
    pub fn effective_minor(&self) -> u8 {
        if self.major == 3 && self.minor == 0 {
            0
        } else {
            1
        }
    }
}
