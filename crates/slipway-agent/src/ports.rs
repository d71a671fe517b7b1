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
/// Railpack: `ASPNETCORE_URLS` for .NET apps; Spring Boot's `SERVER_PORT` they pass as
/// `-Dserver.port`), though with 0.0.0.0: their apps run in a container, ours on this host's
/// loopback.
pub(crate) fn conventions(port: u16) -> [(&'static str, String); 5] {
    [
        // Rocket: its own port (8000 by default) and address.
        ("ROCKET_PORT", port.to_string()),
        ("ROCKET_ADDRESS", INSTANCE_ADDRESS.to_string()),
        // ASP.NET Core (Kestrel) listens on what this says, 5000/8080 otherwise.
        ("ASPNETCORE_URLS", format!("http://{INSTANCE_ADDRESS}:{port}")),
        // Spring Boot (8080 on every interface otherwise), for a jar started without
        // `-Dserver.port` (a Procfile's `java -jar`); Slipway's own start command passes both.
        ("SERVER_PORT", port.to_string()),
        ("SERVER_ADDRESS", INSTANCE_ADDRESS.to_string()),
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

/// The addresses sockets of user `owner` listen on with TCP port `port` on this host (its network
/// namespace), from `/proc/net/tcp` and `/proc/net/tcp6`: only the instance's own sockets, so a
/// message never names another tenant's or the host's. Empty when there are none, or when the
/// tables cannot be read. Blocking, and the tables are host-wide: read line by line.
pub(crate) fn listeners_on(port: u16, owner: u32) -> Vec<SocketAddr> {
    use std::io::BufRead;
    let mut found = Vec::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let Ok(file) = std::fs::File::open(table) else { continue };
        let lines = std::io::BufReader::new(file).lines().skip(1).map_while(Result::ok);
        found.extend(
            lines
                .filter_map(|line| listening(&line))
                .filter_map(|(address, uid)| (uid == owner && address.port() == port).then_some(address)),
        );
    }
    found
}

/// Whether a connection to [`INSTANCE_ADDRESS`] reaches a socket listening on `address`.
fn reachable(address: &SocketAddr) -> bool {
    match address.ip() {
        IpAddr::V4(ip) => ip == INSTANCE_ADDRESS || ip.is_unspecified(),
        // `::` takes IPv4 too unless the socket is IPv6-only, which the table does not say.
        IpAddr::V6(ip) => ip.is_unspecified() || ip.to_ipv4_mapped() == Some(INSTANCE_ADDRESS),
    }
}

/// What a health check that got no connection adds: where the instance (running as `owner`)
/// listens instead, when its sockets on its port are only at addresses the router does not dial
/// (`[::1]`, a LAN address). `None` when it listens there on none.
pub(crate) async fn listening_elsewhere(port: u16, owner: u32) -> Option<String> {
    tokio::task::spawn_blocking(move || describe_elsewhere(port, &listeners_on(port, owner))).await.ok().flatten()
}

fn describe_elsewhere(port: u16, listeners: &[SocketAddr]) -> Option<String> {
    if listeners.is_empty() || listeners.iter().any(reachable) {
        return None;
    }
    let mut addresses: Vec<String> = listeners.iter().map(SocketAddr::to_string).collect();
    addresses.sort();
    addresses.dedup();
    Some(format!(
        "it listens on {} instead, which the router does not reach: bind {INSTANCE_ADDRESS}:{port}",
        addresses.join(" and ")
    ))
}

/// A line of a `/proc/net/tcp{,6}` table: its local address and owner's uid, if it listens.
fn listening(line: &str) -> Option<(SocketAddr, u32)> {
    // TCP_LISTEN in the kernel's numbering.
    const LISTEN: &str = "0A";
    // sl, local_address, rem_address, st, tx_queue:rx_queue, tr:tm->when, retrnsmt, uid, …
    let mut fields = line.split_whitespace();
    let local = fields.nth(1)?;
    if fields.nth(1)? != LISTEN {
        return None;
    }
    let uid = fields.nth(3)?.parse().ok()?;
    Some((parse_address(local)?, uid))
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
                ("SERVER_PORT".to_owned(), "10123".to_owned()),
                ("SERVER_ADDRESS".to_owned(), "127.0.0.1".to_owned()),
            ]
        );
    }

    #[test]
    fn tables_are_read_as_the_kernel_writes_them() {
        let v4 = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n\
                  0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1\n\
                  1: 0200007F:1F91 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 2 1\n\
                  2: 0100007F:1F90 0100007F:D431 01 00000000:00000000 00:00000000 00000000     0        0 3 1\n";
        let found: Vec<(SocketAddr, u32)> = v4.lines().skip(1).filter_map(listening).collect();
        if cfg!(target_endian = "little") {
            assert_eq!(found, [("127.0.0.1:8080".parse().unwrap(), 0), ("127.0.0.2:8081".parse().unwrap(), 0)]);
        }
        let v6 = "  sl  local_address                         remote_address                        st\n\
                  0: 00000000000000000000000001000000:1F90 00000000000000000000000000000000:0000 0A 0:0 0:0 0 2000000007\n\
                  1: 00000000000000000000000000000000:0050 00000000000000000000000000000000:0000 0A 0:0 0:0 0 0\n";
        let found: Vec<(SocketAddr, u32)> = v6.lines().skip(1).filter_map(listening).collect();
        if cfg!(target_endian = "little") {
            assert_eq!(found, [("[::1]:8080".parse().unwrap(), 2_000_000_007), ("[::]:80".parse().unwrap(), 0)]);
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
             127.0.0.1:8080"
        );
    }

    #[tokio::test]
    async fn a_socket_on_another_loopback_address_is_found_only_for_its_owner() {
        // All of 127/8 is loopback on Linux: 127.0.0.2 binds without any setup, and 127.0.0.1 does not reach it.
        let listener = std::net::TcpListener::bind("127.0.0.2:0").expect("bind 127.0.0.2");
        let port = listener.local_addr().expect("addr").port();
        let me = nix::unistd::getuid().as_raw();
        assert!(listeners_on(port, me).contains(&listener.local_addr().expect("addr")), "{:?}", listeners_on(port, me));
        let said = listening_elsewhere(port, me).await.expect("named");
        assert!(said.contains(&format!("127.0.0.2:{port}")) && said.contains(&format!("bind 127.0.0.1:{port}")));
        // Another user's socket is never named (it may be the host's or another tenant's).
        assert_eq!(listening_elsewhere(port, me.wrapping_add(1)).await, None);
        drop(listener);
        assert_eq!(listening_elsewhere(port, me).await, None);
    }
}
