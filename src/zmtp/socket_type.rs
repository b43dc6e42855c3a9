//! Socket types and the compatibility matrix of ZMTP 3.0/3.1.

use std::fmt;
use std::str::FromStr;

/// A ZeroMQ socket type, as named in the `Socket-Type` metadata property.
///
/// ```
/// use ringmq::zmtp::SocketType;
///
/// assert_eq!(SocketType::Dealer.as_str(), "DEALER");
/// assert_eq!("ROUTER".parse::<SocketType>(), Ok(SocketType::Router));
/// assert!(SocketType::Dealer.is_compatible(SocketType::Router));
/// assert!(!SocketType::Push.is_compatible(SocketType::Push));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SocketType {
    /// Exclusive pair.
    Pair,
    /// Publisher.
    Pub,
    /// Subscriber.
    Sub,
    /// Requester (strict send/receive alternation).
    Req,
    /// Replier (strict receive/send alternation).
    Rep,
    /// Asynchronous requester.
    Dealer,
    /// Asynchronous replier, routing by peer identity.
    Router,
    /// Pipeline sink.
    Pull,
    /// Pipeline source.
    Push,
    /// Publisher that sees subscriptions.
    XPub,
    /// Subscriber that sends subscriptions as messages.
    XSub,
}

/// The string form did not name a socket type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnknownSocketType;

impl fmt::Display for UnknownSocketType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("unknown socket type")
    }
}

impl std::error::Error for UnknownSocketType {}

impl SocketType {
    /// Every socket type.
    pub const ALL: [SocketType; 11] = [
        SocketType::Pair,
        SocketType::Pub,
        SocketType::Sub,
        SocketType::Req,
        SocketType::Rep,
        SocketType::Dealer,
        SocketType::Router,
        SocketType::Pull,
        SocketType::Push,
        SocketType::XPub,
        SocketType::XSub,
    ];

    /// The name used on the wire (`"DEALER"`, `"XPUB"`, ...).
    pub const fn as_str(self) -> &'static str {
        match self {
            SocketType::Pair => "PAIR",
            SocketType::Pub => "PUB",
            SocketType::Sub => "SUB",
            SocketType::Req => "REQ",
            SocketType::Rep => "REP",
            SocketType::Dealer => "DEALER",
            SocketType::Router => "ROUTER",
            SocketType::Pull => "PULL",
            SocketType::Push => "PUSH",
            SocketType::XPub => "XPUB",
            SocketType::XSub => "XSUB",
        }
    }

    /// Parses a wire name (ASCII case-insensitive).
    pub fn parse(name: &[u8]) -> Option<SocketType> {
        SocketType::ALL
            .into_iter()
            .find(|t| t.as_str().as_bytes().eq_ignore_ascii_case(name))
    }

    /// Whether a socket of this type may talk to a peer of type `peer`
    /// (RFC 23/37 §Socket-Type).
    pub const fn is_compatible(self, peer: SocketType) -> bool {
        use SocketType::*;
        matches!(
            (self, peer),
            (Req, Rep | Router)
                | (Rep, Req | Dealer)
                | (Dealer, Rep | Dealer | Router)
                | (Router, Req | Dealer | Router)
                | (Pub | XPub, Sub | XSub)
                | (Sub | XSub, Pub | XPub)
                | (Push, Pull)
                | (Pull, Push)
                | (Pair, Pair)
        )
    }

    /// Whether a connection of this type sends an `Identity` property in its
    /// handshake (libzmq does so for REQ, DEALER and ROUTER).
    pub const fn sends_identity(self) -> bool {
        matches!(
            self,
            SocketType::Req | SocketType::Dealer | SocketType::Router
        )
    }
}

impl fmt::Display for SocketType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for SocketType {
    type Err = UnknownSocketType;
    fn from_str(s: &str) -> Result<SocketType, UnknownSocketType> {
        SocketType::parse(s.as_bytes()).ok_or(UnknownSocketType)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_names() {
        for t in SocketType::ALL {
            assert_eq!(SocketType::parse(t.as_str().as_bytes()), Some(t));
            assert_eq!(t.to_string().parse::<SocketType>(), Ok(t));
        }
        assert_eq!(SocketType::parse(b"dealer"), Some(SocketType::Dealer));
        assert_eq!(SocketType::parse(b"CLIENT"), None);
        assert_eq!(SocketType::parse(b""), None);
    }

    #[test]
    fn matrix_is_symmetric_and_matches_spec() {
        let mut pairs = 0;
        for a in SocketType::ALL {
            for b in SocketType::ALL {
                assert_eq!(a.is_compatible(b), b.is_compatible(a), "{a} {b}");
                pairs += a.is_compatible(b) as u32;
            }
        }
        // Nine pairs of distinct types (REQ-REP, REQ-ROUTER, REP-DEALER,
        // DEALER-ROUTER, four pub/sub pairs, PUSH-PULL) counted both ways,
        // plus DEALER, ROUTER and PAIR with themselves.
        assert_eq!(pairs, 9 * 2 + 3);
        assert!(!SocketType::Req.is_compatible(SocketType::Req));
        assert!(!SocketType::Pub.is_compatible(SocketType::Pub));
        assert!(SocketType::XSub.is_compatible(SocketType::Pub));
    }
}
