//! An instance's port: the variables some frameworks read instead of `$PORT`,
//! and, when an instance does not answer, where it listens instead.
//!
//! Instances listen on loopback: the edge router and the health check dial
//! `127.0.0.1:$PORT`, and an app bound to all addresses would also be reachable
//! from the network around the router. So every variable here says 127.0.0.1.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// The address instances bind and the router dials.
pub(crate) const INSTANCE_ADDRESS: Ipv4Addr = Ipv4Addr::LOCALHOST;

/// Variables that frameworks read instead of `PORT`, for `port` on [`INSTANCE_ADDRESS`]. The
/// peers set the same ones (Nixpacks and Railpack: `ROCKET_ADDRESS` for every Rust app,
/// Railpack: `ASPNETCORE_URLS` for .NET apps), though with 0.0.0.0: their apps run in a
/// container, ours on this host's loopback.
pub(crate) fn conventions(port: u16) -> [(&'static str, String); 3] {
    [
        // Rocket: its own port (8000 by default) and address.
        ("ROCKET_PORT", port.to_string()),
        ("ROCKET_ADDRESS", INSTANCE_ADDRESS.to_string()),
        // ASP.NET Core (Kestrel) listens on what this says, 5000/8080 otherwise.
        ("ASPNETCORE_URLS", format!("http://{INSTANCE_ADDRESS}:{port}")),
    ]
}

/// Adds the [`conventions`] for `port` that `env` (the build's variables and the app's config
/// vars) does not set itself: an app's own setting wins.
pub(crate) fn add_conventions(env: &mut Vec<(String, String)>, port: u16) {
    for (name, value) in conventions(port) {
        if !env.iter().any(|(set, _)| set == name) {
            env.push((name.to_owned(), value));
        }
    }
}

/// The addresses something listens on with TCP port `port` on this host (its network namespace),
/// from `/proc/net/tcp` and `/proc/net/tcp6`. Empty when nothing does, or when they cannot be read.
pub(crate) fn listeners_on(port: u16) -> Vec<SocketAddr> {
    ["/proc/net/tcp", "/proc/net/tcp6"]
        .into_iter()
        .filter_map(|table| std::fs::read_to_string(table).ok())
        .flat_map(|text| listening(&text).collect::<Vec<_>>())
        .filter(|address| address.port() == port)
        .collect()
}

/// Whether a connection to [`INSTANCE_ADDRESS`] reaches a socket listening on `address`.
fn reachable(address: &SocketAddr) -> bool {
    match address.ip() {
        IpAddr::V4(ip) => ip == INSTANCE_ADDRESS || ip.is_unspecified(),
        // `::` takes IPv4 too unless the socket is IPv6-only, which the table does not say.
        IpAddr::V6(ip) => ip.is_unspecified() || ip.to_ipv4_mapped() == Some(INSTANCE_ADDRESS),
    }
}

/// What a health check that got no connection adds: where the instance listens instead, when
/// something listens on its port only at addresses the router does not dial (`[::1]`, a LAN
/// address). `None` when nothing listens there at all.
pub(crate) fn listening_elsewhere(port: u16) -> Option<String> {
    describe_elsewhere(port, &listeners_on(port))
}

fn describe_elsewhere(port: u16, listeners: &[SocketAddr]) -> Option<String> {
    if listeners.is_empty() || listeners.iter().any(reachable) {
        return None;
    }
    let mut addresses: Vec<String> = listeners.iter().map(SocketAddr::to_string).collect();
    addresses.sort();
    addresses.dedup();
    Some(format!(
        "it listens on {} instead, which the router does not reach: bind {INSTANCE_ADDRESS}:{port} (or 0.0.0.0:{port})",
        addresses.join(" and ")
    ))
}

/// The listening sockets of one `/proc/net/tcp{,6}` table.
fn listening(table: &str) -> impl Iterator<Item = SocketAddr> + '_ {
    // TCP_LISTEN in the kernel's numbering.
    const LISTEN: &str = "0A";
    table.lines().skip(1).filter_map(|line| {
        let mut fields = line.split_whitespace();
        let local = fields.nth(1)?;
        if fields.nth(1)? != LISTEN {
            return None;
        }
        parse_address(local)
    })
}

/// `0100007F:1F90` or a 32-digit IPv6 form: the address as the kernel prints it, in 32-bit
/// words of the host's byte order, and the port in hex.
fn parse_address(text: &str) -> Option<SocketAddr> {
    let (address, port) = text.split_once(':')?;
    let port = u16::from_str_radix(port, 16).ok()?;
    let words = |hex: &str| -> Option<Vec<u8>> {
        (0..hex.len())
            .step_by(8)
            .map(|at| hex.get(at..at + 8).and_then(|word| u32::from_str_radix(word, 16).ok()))
            .map(|word| word.map(u32::to_ne_bytes))
            .collect::<Option<Vec<[u8; 4]>>>()
            .map(|words| words.concat())
    };
    let ip = match address.len() {
        8 => IpAddr::V4(Ipv4Addr::from(<[u8; 4]>::try_from(words(address)?).ok()?)),
        32 => IpAddr::V6(Ipv6Addr::from(<[u8; 16]>::try_from(words(address)?).ok()?)),
        _ => return None,
    };
    Some(SocketAddr::new(ip, port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conventions_fill_in_what_the_app_leaves_unset() {
        let mut env = vec![("ROCKET_ADDRESS".to_owned(), "0.0.0.0".to_owned())];
        add_conventions(&mut env, 10_123);
        assert_eq!(
            env,
            [
                ("ROCKET_ADDRESS".to_owned(), "0.0.0.0".to_owned()),
                ("ROCKET_PORT".to_owned(), "10123".to_owned()),
                ("ASPNETCORE_URLS".to_owned(), "http://127.0.0.1:10123".to_owned()),
            ]
        );
    }

    #[test]
    fn tables_are_read_as_the_kernel_writes_them() {
        let v4 = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n\
                  0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1\n\
                  1: 0200007F:1F91 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 2 1\n\
                  2: 0100007F:1F90 0100007F:D431 01 00000000:00000000 00:00000000 00000000     0        0 3 1\n";
        let found: Vec<SocketAddr> = listening(v4).collect();
        if cfg!(target_endian = "little") {
            assert_eq!(found, ["127.0.0.1:8080".parse().unwrap(), "127.0.0.2:8081".parse().unwrap()]);
        }
        let v6 = "  sl  local_address                         remote_address                        st\n\
                  0: 00000000000000000000000001000000:1F90 00000000000000000000000000000000:0000 0A 0 0\n\
                  1: 00000000000000000000000000000000:0050 00000000000000000000000000000000:0000 0A 0 0\n";
        let found: Vec<SocketAddr> = listening(v6).collect();
        if cfg!(target_endian = "little") {
            assert_eq!(found, ["[::1]:8080".parse().unwrap(), "[::]:80".parse().unwrap()]);
        }
        assert_eq!(parse_address("zz:1F90"), None);
        assert_eq!(parse_address("0100007F"), None);
    }

    #[test]
    fn only_addresses_the_router_cannot_reach_are_named() {
        let at = |text: &str| -> SocketAddr { text.parse().unwrap() };
        assert_eq!(describe_elsewhere(8080, &[]), None);
        for reached in ["127.0.0.1:8080", "0.0.0.0:8080", "[::]:8080", "[::ffff:127.0.0.1]:8080"] {
            assert_eq!(describe_elsewhere(8080, &[at(reached), at("[::1]:8080")]), None, "{reached}");
        }
        let said = describe_elsewhere(8080, &[at("[::1]:8080"), at("192.168.1.5:8080")]).unwrap();
        assert_eq!(
            said,
            "it listens on 192.168.1.5:8080 and [::1]:8080 instead, which the router does not reach: bind \
             127.0.0.1:8080 (or 0.0.0.0:8080)"
        );
    }

    #[test]
    fn a_socket_on_another_loopback_address_is_found() {
        // All of 127/8 is loopback on Linux: 127.0.0.2 binds without any setup, and 127.0.0.1 does not reach it.
        let listener = std::net::TcpListener::bind("127.0.0.2:0").expect("bind 127.0.0.2");
        let port = listener.local_addr().expect("addr").port();
        assert!(listeners_on(port).contains(&listener.local_addr().expect("addr")), "{:?}", listeners_on(port));
        let said = listening_elsewhere(port).expect("named");
        assert!(said.contains(&format!("127.0.0.2:{port}")) && said.contains(&format!("bind 127.0.0.1:{port}")));
        drop(listener);
        assert_eq!(listening_elsewhere(port), None);
    }
}
