//! Which IP addresses are not the public internet, and the loose IPv4
//! spellings (`2130706433`, `0x7f.1`, `0177.0.0.1`) that `inet_aton` and curl
//! accept, so a URL cannot hide `127.0.0.1` behind one of them.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Why an address is not on the public internet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AddressClass {
    /// `0.0.0.0/8`, `::`: "this host" to most stacks.
    Unspecified,
    /// `127.0.0.0/8`, `::1`.
    Loopback,
    /// `169.254.0.0/16` (cloud metadata lives here), `fe80::/10`.
    LinkLocal,
    /// RFC 1918: `10/8`, `172.16/12`, `192.168/16`; IPv6 site-local `fec0::/10`.
    Private,
    /// RFC 6598 carrier-grade NAT: `100.64.0.0/10`.
    SharedNat,
    /// IPv6 unique-local `fc00::/7`.
    UniqueLocal,
    /// `224.0.0.0/4`, `ff00::/8`.
    Multicast,
    /// `255.255.255.255`.
    Broadcast,
    /// Documentation, benchmarking, protocol-assignment and future-use
    /// ranges, and tunnelling prefixes whose endpoint cannot be checked.
    Reserved,
}

impl fmt::Display for AddressClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Unspecified => "unspecified (this host)",
            Self::Loopback => "loopback",
            Self::LinkLocal => "link-local",
            Self::Private => "private",
            Self::SharedNat => "shared (carrier-grade NAT)",
            Self::UniqueLocal => "unique-local",
            Self::Multicast => "multicast",
            Self::Broadcast => "broadcast",
            Self::Reserved => "reserved",
        })
    }
}

/// The class of a non-public address, or `None` for a public one. IPv6
/// forms that embed an IPv4 address (mapped, compatible, NAT64, 6to4) are
/// judged by the address they embed.
pub fn classify(addr: IpAddr) -> Option<AddressClass> {
    match addr {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => classify_v6(v6),
    }
}

fn classify_v4(addr: Ipv4Addr) -> Option<AddressClass> {
    let [a, b, c, _] = addr.octets();
    let class = match (a, b, c) {
        (0, _, _) => AddressClass::Unspecified,
        (127, _, _) => AddressClass::Loopback,
        (10, _, _) | (172, 16..=31, _) | (192, 168, _) => AddressClass::Private,
        (169, 254, _) => AddressClass::LinkLocal,
        (100, 64..=127, _) => AddressClass::SharedNat,
        (224..=239, _, _) => AddressClass::Multicast,
        (255, 255, 255) if addr == Ipv4Addr::BROADCAST => AddressClass::Broadcast,
        // 192.0.0/24 protocol assignments, 192.0.2/24, 198.51.100/24 and
        // 203.0.113/24 documentation, 198.18/15 benchmarking, 240/4 future use.
        (192, 0, 0) | (192, 0, 2) | (198, 51, 100) | (203, 0, 113) | (198, 18..=19, _) | (240..=255, _, _) => {
            AddressClass::Reserved
        }
        _ => return None,
    };
    Some(class)
}

fn classify_v6(addr: Ipv6Addr) -> Option<AddressClass> {
    if addr.is_unspecified() {
        return Some(AddressClass::Unspecified);
    }
    if addr.is_loopback() {
        return Some(AddressClass::Loopback);
    }
    if let Some(v4) = embedded_v4(addr) {
        return classify_v4(v4);
    }
    let segments = addr.segments();
    let class = match segments[0] {
        0xfe80..=0xfebf => AddressClass::LinkLocal,
        0xfec0..=0xfeff => AddressClass::Private,
        0xfc00..=0xfdff => AddressClass::UniqueLocal,
        0xff00..=0xffff => AddressClass::Multicast,
        // 64:ff9b:1::/48 local NAT64, 100::/64 discard, 2001::/32 Teredo,
        // 2001:db8::/32 documentation, and the rest of ::/8.
        0x0064 if segments[1] == 0xff9b => AddressClass::Reserved,
        0x0100 if segments[1..4] == [0, 0, 0] => AddressClass::Reserved,
        0x2001 if segments[1] == 0 || segments[1] == 0x0db8 => AddressClass::Reserved,
        0x0000..=0x00ff => AddressClass::Reserved,
        _ => return None,
    };
    Some(class)
}

/// The IPv4 address inside an IPv4-mapped (`::ffff:a.b.c.d`), IPv4-compatible
/// (`::a.b.c.d`), NAT64 (`64:ff9b::a.b.c.d`) or 6to4 (`2002:AABB:CCDD::`) address.
fn embedded_v4(addr: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = addr.segments();
    let low = |hi: u16, lo: u16| Ipv4Addr::new((hi >> 8) as u8, hi as u8, (lo >> 8) as u8, lo as u8);
    match s {
        [0, 0, 0, 0, 0, 0xffff, hi, lo] | [0, 0, 0, 0, 0, 0, hi, lo] => Some(low(hi, lo)),
        [0x64, 0xff9b, 0, 0, 0, 0, hi, lo] => Some(low(hi, lo)),
        [0x2002, hi, lo, ..] => Some(low(hi, lo)),
        _ => None,
    }
}

/// Whether a host name "ends in a number" (its last label is decimal digits
/// or `0x` hex), which makes resolvers and curl read it as an IPv4 address.
pub fn looks_numeric(host: &str) -> bool {
    let last = host.rsplit('.').next().unwrap_or_default();
    let hex = last.strip_prefix("0x").or_else(|| last.strip_prefix("0X"));
    match hex {
        Some(digits) => digits.bytes().all(|b| b.is_ascii_hexdigit()),
        None => !last.is_empty() && last.bytes().all(|b| b.is_ascii_digit()),
    }
}

/// An IPv4 address as `inet_aton` reads it: one to four parts, each decimal,
/// octal (leading `0`) or hex (`0x`), the last part filling the remaining
/// bytes (`127.1` is `127.0.0.1`, `2130706433` is too).
pub fn parse_ipv4_loose(text: &str) -> Option<Ipv4Addr> {
    let parts: Vec<&str> = text.split('.').collect();
    if parts.is_empty() || parts.len() > 4 {
        return None;
    }
    let mut numbers = Vec::with_capacity(parts.len());
    for part in &parts {
        numbers.push(parse_part(part)?);
    }
    let (last, leading) = numbers.split_last()?;
    let mut value: u64 = 0;
    for &number in leading {
        if number > 255 {
            return None;
        }
        value = (value << 8) | number;
    }
    let last_bits = 8 * (5 - parts.len() as u32);
    if *last >= 1u64 << last_bits {
        return None;
    }
    value = (value << last_bits) | last;
    u32::try_from(value).ok().map(Ipv4Addr::from)
}

fn parse_part(part: &str) -> Option<u64> {
    let (digits, radix) = if let Some(hex) = part.strip_prefix("0x").or_else(|| part.strip_prefix("0X")) {
        (hex, 16)
    } else if part.len() > 1 && part.starts_with('0') {
        (&part[1..], 8)
    } else {
        (part, 10)
    };
    if digits.is_empty() {
        // `0x` alone is 0 to inet_aton; an empty part is no number at all.
        return (radix == 16).then_some(0);
    }
    if digits.len() > 12 || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    u64::from_str_radix(digits, radix).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn class(text: &str) -> Option<AddressClass> {
        classify(text.parse().expect(text))
    }

    #[test]
    fn non_public_ipv4_ranges() {
        for (text, expected) in [
            ("0.0.0.0", AddressClass::Unspecified),
            ("0.1.2.3", AddressClass::Unspecified),
            ("127.0.0.1", AddressClass::Loopback),
            ("127.255.255.254", AddressClass::Loopback),
            ("10.0.0.1", AddressClass::Private),
            ("172.16.0.1", AddressClass::Private),
            ("172.31.255.255", AddressClass::Private),
            ("192.168.1.1", AddressClass::Private),
            ("169.254.169.254", AddressClass::LinkLocal),
            ("100.64.0.1", AddressClass::SharedNat),
            ("100.127.255.255", AddressClass::SharedNat),
            ("224.0.0.1", AddressClass::Multicast),
            ("255.255.255.255", AddressClass::Broadcast),
            ("240.0.0.1", AddressClass::Reserved),
            ("192.0.2.1", AddressClass::Reserved),
            ("198.18.0.1", AddressClass::Reserved),
        ] {
            assert_eq!(class(text), Some(expected), "{text}");
        }
        for public in ["1.1.1.1", "140.82.112.3", "172.15.255.255", "172.32.0.1", "100.63.255.255", "100.128.0.1"] {
            assert_eq!(class(public), None, "{public}");
        }
    }

    #[test]
    fn non_public_ipv6_ranges_and_embedded_ipv4() {
        for (text, expected) in [
            ("::", AddressClass::Unspecified),
            ("::1", AddressClass::Loopback),
            ("0:0:0:0:0:0:0:1", AddressClass::Loopback),
            ("fe80::1", AddressClass::LinkLocal),
            ("fd00::1", AddressClass::UniqueLocal),
            ("fc00::1", AddressClass::UniqueLocal),
            ("fec0::1", AddressClass::Private),
            ("ff02::1", AddressClass::Multicast),
            ("::ffff:127.0.0.1", AddressClass::Loopback),
            ("::ffff:7f00:1", AddressClass::Loopback),
            ("::ffff:10.1.2.3", AddressClass::Private),
            ("::ffff:169.254.169.254", AddressClass::LinkLocal),
            ("::127.0.0.1", AddressClass::Loopback),
            ("64:ff9b::a9fe:a9fe", AddressClass::LinkLocal),
            ("2002:7f00:1::", AddressClass::Loopback),
            ("2002:c0a8:101::1", AddressClass::Private),
            ("2001:db8::1", AddressClass::Reserved),
            ("2001::1", AddressClass::Reserved),
        ] {
            assert_eq!(class(text), Some(expected), "{text}");
        }
        for public in ["2606:4700:4700::1111", "2a01:4f8::1", "::ffff:140.82.112.3", "2002:8c52:7003::"] {
            assert_eq!(class(public), None, "{public}");
        }
    }

    #[test]
    fn loose_ipv4_spellings_read_as_inet_aton_does() {
        let loopback = Some(Ipv4Addr::LOCALHOST);
        for text in [
            "127.0.0.1",
            "2130706433",
            "0x7f000001",
            "0X7F000001",
            "017700000001",
            "0x7f.1",
            "127.1",
            "0177.0.0.1",
            "0177.0.0.01",
            "127.000.000.001",
            "0x7f.0x0.0x0.0x1",
            "127.0.1",
        ] {
            assert_eq!(parse_ipv4_loose(text), loopback, "{text}");
        }
        assert_eq!(parse_ipv4_loose("0"), Some(Ipv4Addr::UNSPECIFIED));
        assert_eq!(parse_ipv4_loose("0x"), Some(Ipv4Addr::UNSPECIFIED));
        for bad in ["", "1.2.3.4.5", "256.0.0.1", "1.2.3.256", "08", "0x1g", "4294967296", "1..2", "a.b.c.d"] {
            assert_eq!(parse_ipv4_loose(bad), None, "{bad}");
        }
    }

    #[test]
    fn names_that_end_in_a_number() {
        for numeric in ["2130706433", "127.1", "0x7f.1", "foo.0x10", "a.123"] {
            assert!(looks_numeric(numeric), "{numeric}");
        }
        for name in ["github.com", "git.example", "1password.com", "123.example", "0xdead.beef"] {
            assert!(!looks_numeric(name), "{name}");
        }
    }
}
