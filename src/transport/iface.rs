//! Network interfaces by name (`tcp://eth0:5555`, as libzmq binds them):
//! the first address of the interface in the wanted family.
//!
//! On Linux the interface's index comes from `/sys/class/net/<name>/ifindex`
//! and its addresses from the kernel's routing socket (an `RTM_GETADDR`
//! dump over `NETLINK_ROUTE`), read through safe socket calls and parsed
//! here as bytes; elsewhere no name is an interface. Nothing here keeps a
//! descriptor open past the call.

use std::io;
use std::net::IpAddr;

/// The longest interface name Linux accepts (`IFNAMSIZ` less the NUL).
const MAX_IFNAME: usize = 15;

/// The first address of interface `name`: IPv6 if `ipv6`, else IPv4 (as
/// libzmq picks). `Ok(None)` if there is no such interface;
/// `NotFound` if it has no address of that family.
pub(crate) fn interface_addr(name: &str, ipv6: bool) -> io::Result<Option<IpAddr>> {
    if name.is_empty()
        || name.len() > MAX_IFNAME
        || !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'@'))
        || name == "."
        || name == ".."
    {
        return Ok(None);
    }
    imp::interface_addr(name, ipv6)
}

#[cfg(target_os = "linux")]
mod imp {
    use std::fs::File;
    use std::io::{self, Read, Write};
    use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
    use std::os::fd::OwnedFd;
    use std::time::Duration;

    use socket2::{Domain, Protocol, Socket, Type};

    const AF_INET: u8 = 2;
    const AF_INET6: u8 = 10;
    const AF_NETLINK: i32 = 16;
    const NETLINK_ROUTE: i32 = 0;
    const RTM_NEWADDR: u16 = 20;
    const RTM_GETADDR: u16 = 22;
    const NLMSG_ERROR: u16 = 2;
    const NLMSG_DONE: u16 = 3;
    const NLM_F_REQUEST: u16 = 1;
    const NLM_F_DUMP: u16 = 0x300;
    const IFA_ADDRESS: u16 = 1;
    const IFA_LOCAL: u16 = 2;
    /// `struct nlmsghdr`.
    const NLMSG_HDR: usize = 16;
    /// `struct ifaddrmsg`.
    const IFADDRMSG: usize = 8;
    /// The most reply bytes read before giving up (a dump of a host's
    /// addresses is far smaller).
    const MAX_REPLY: usize = 16 << 20;

    pub(super) fn interface_addr(name: &str, ipv6: bool) -> io::Result<Option<IpAddr>> {
        // Where sysfs cannot tell (no such entry, not mounted, not
        // readable), the name is not taken for an interface.
        let Some(index) = std::fs::read_to_string(format!("/sys/class/net/{name}/ifindex"))
            .ok()
            .and_then(|s| s.trim().parse::<u32>().ok())
        else {
            return Ok(None);
        };
        let family = if ipv6 { AF_INET6 } else { AF_INET };
        let socket = Socket::new(
            Domain::from(AF_NETLINK),
            Type::RAW,
            Some(Protocol::from(NETLINK_ROUTE)),
        )?;
        socket.set_read_timeout(Some(Duration::from_secs(5)))?;
        // A datagram socket read and written as a file: one read, one
        // datagram; a write without an address goes to the kernel.
        let mut nl = File::from(OwnedFd::from(socket));
        let mut req = Vec::with_capacity(NLMSG_HDR + IFADDRMSG);
        req.extend_from_slice(&((NLMSG_HDR + IFADDRMSG) as u32).to_ne_bytes());
        req.extend_from_slice(&RTM_GETADDR.to_ne_bytes());
        req.extend_from_slice(&(NLM_F_REQUEST | NLM_F_DUMP).to_ne_bytes());
        req.extend_from_slice(&1u32.to_ne_bytes()); // sequence
        req.extend_from_slice(&0u32.to_ne_bytes()); // port id: the kernel's
        req.extend_from_slice(&[family, 0, 0, 0]);
        req.extend_from_slice(&0u32.to_ne_bytes()); // every interface
        nl.write_all(&req)?;
        let mut buf = vec![0u8; 64 * 1024];
        let mut found = None;
        let mut total = 0;
        loop {
            let n = nl.read(&mut buf)?;
            total += n;
            if n == 0 || total > MAX_REPLY {
                return Err(io::Error::other("netlink address dump ended early"));
            }
            match parse_dump(&buf[..n], index, family, &mut found)? {
                true => return Ok(Some(found.ok_or_else(|| no_address(name, ipv6))?)),
                false => continue,
            }
        }
    }

    fn no_address(name: &str, ipv6: bool) -> io::Error {
        io::Error::new(
            io::ErrorKind::NotFound,
            format!(
                "interface {name:?} has no {} address",
                if ipv6 { "IPv6" } else { "IPv4" }
            ),
        )
    }

    fn u16_at(b: &[u8], at: usize) -> Option<u16> {
        Some(u16::from_ne_bytes(b.get(at..at + 2)?.try_into().ok()?))
    }

    fn u32_at(b: &[u8], at: usize) -> Option<u32> {
        Some(u32::from_ne_bytes(b.get(at..at + 4)?.try_into().ok()?))
    }

    fn malformed() -> io::Error {
        io::Error::other("malformed netlink reply")
    }

    /// Reads the messages of one datagram of the dump; keeps in `found`
    /// the first address of interface `index` in `family`. True once the
    /// dump is done.
    pub(super) fn parse_dump(
        mut b: &[u8],
        index: u32,
        family: u8,
        found: &mut Option<IpAddr>,
    ) -> io::Result<bool> {
        while b.len() >= NLMSG_HDR {
            let len = u32_at(b, 0).ok_or_else(malformed)? as usize;
            let kind = u16_at(b, 4).ok_or_else(malformed)?;
            if len < NLMSG_HDR || len > b.len() {
                return Err(malformed());
            }
            let msg = &b[NLMSG_HDR..len];
            match kind {
                NLMSG_DONE => return Ok(true),
                NLMSG_ERROR => {
                    let code = u32_at(msg, 0).ok_or_else(malformed)? as i32;
                    return Err(io::Error::from_raw_os_error(-code));
                }
                RTM_NEWADDR if found.is_none() && msg.len() >= IFADDRMSG => {
                    let (fam, ifindex) = (msg[0], u32_at(msg, 4).ok_or_else(malformed)?);
                    if fam == family && ifindex == index {
                        *found = address(&msg[IFADDRMSG..], family)?;
                    }
                }
                _ => {}
            }
            // Messages are aligned to 4 bytes.
            let next = len.div_ceil(4) * 4;
            b = b.get(next..).unwrap_or(&[]);
        }
        Ok(false)
    }

    /// The address among an `ifaddrmsg`'s attributes: `IFA_LOCAL` if there
    /// is one (the local end of a point-to-point link), else `IFA_ADDRESS`.
    fn address(mut attrs: &[u8], family: u8) -> io::Result<Option<IpAddr>> {
        let (mut local, mut addr) = (None, None);
        while attrs.len() >= 4 {
            let len = u16_at(attrs, 0).ok_or_else(malformed)? as usize;
            let kind = u16_at(attrs, 2).ok_or_else(malformed)?;
            if len < 4 || len > attrs.len() {
                return Err(malformed());
            }
            let data = &attrs[4..len];
            let ip = match (family, data.len()) {
                (AF_INET, 4) => Some(IpAddr::V4(Ipv4Addr::new(
                    data[0], data[1], data[2], data[3],
                ))),
                (AF_INET6, 16) => {
                    let octets: [u8; 16] = data.try_into().map_err(|_| malformed())?;
                    Some(IpAddr::V6(Ipv6Addr::from(octets)))
                }
                _ => None,
            };
            match kind {
                IFA_LOCAL => local = local.or(ip),
                IFA_ADDRESS => addr = addr.or(ip),
                _ => {}
            }
            let next = len.div_ceil(4) * 4;
            attrs = attrs.get(next..).unwrap_or(&[]);
        }
        Ok(local.or(addr))
    }
}

#[cfg(not(target_os = "linux"))]
mod imp {
    use std::io;
    use std::net::IpAddr;

    pub(super) fn interface_addr(_name: &str, _ipv6: bool) -> io::Result<Option<IpAddr>> {
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[cfg(target_os = "linux")]
    fn loopback_interface_has_its_addresses() {
        assert_eq!(
            interface_addr("lo", false).unwrap(),
            Some(IpAddr::from([127, 0, 0, 1]))
        );
        // IPv6 where the host has it on loopback.
        match interface_addr("lo", true) {
            Ok(ip) => assert_eq!(ip, Some(IpAddr::from(std::net::Ipv6Addr::LOCALHOST))),
            Err(e) => assert_eq!(e.kind(), io::ErrorKind::NotFound, "{e}"),
        }
        assert_eq!(interface_addr("no-such-if0", false).unwrap(), None);
        assert_eq!(interface_addr("../lo", false).unwrap(), None);
        assert_eq!(interface_addr("", false).unwrap(), None);
    }

    #[test]
    #[cfg(target_os = "linux")]
    fn malformed_replies_are_errors_not_panics() {
        let mut found = None;
        // Length shorter than a header, longer than the datagram, junk.
        for b in [
            &[8u8, 0, 0, 0, 20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0][..],
            &[200u8, 0, 0, 0, 20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0][..],
        ] {
            assert!(imp::parse_dump(b, 1, 2, &mut found).is_err());
        }
        // An address message whose attribute overruns it.
        let mut m = vec![0u8; 16 + 8 + 4];
        m[0] = 28; // length
        m[4] = 20; // RTM_NEWADDR
        m[16] = 2; // AF_INET
        m[20] = 1; // index 1
        m[24] = 40; // attribute length past the end
        m[26] = 1;
        assert!(imp::parse_dump(&m, 1, 2, &mut found).is_err());
        // Truncated input is simply not a message.
        assert!(!imp::parse_dump(&[1, 2, 3], 1, 2, &mut found).unwrap());
    }
}
