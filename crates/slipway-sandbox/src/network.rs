//! Network rules for tenant code, enforced by the kernel on the host's own
//! network namespace: nftables matches every packet a tenant uid's socket
//! sends (`meta skuid`). Tenant code may reach the internet (unless the
//! operator turns egress off), the host's DNS resolvers, the edge router's
//! ports (the one way to reach another tenant's app) and the grants the
//! operator configured; it may not reach any other address of this host
//! (the store, the agent, other tenants' instances, Redis, …) nor private,
//! link-local or multicast networks. Binding is limited separately: Landlock
//! lets an instance bind only its own `$PORT`.
//!
//! Why not a network namespace per instance: it costs ~7 ms and an address
//! plan per start, and the router would dial a veth address instead of
//! loopback; the uid rules cost nothing per start. DESIGN notes the trade.

use std::fmt::Write as _;
use std::net::IpAddr;
use std::process::Stdio;

use slipway_core::resources::SandboxUid;

const TABLE: &str = "slipway_sandbox";
/// The set of per-environment grants: (uid, IPv4 address, TCP port).
const GRANTS: &str = "grants";

/// What tenant code may connect to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkPolicy {
    /// The edge router's ports on this host.
    pub router_ports: Vec<u16>,
    /// Addresses of DNS resolvers (port 53) tenant code may ask.
    pub nameservers: Vec<IpAddr>,
    /// Whether tenant code may reach public addresses.
    pub egress: bool,
    /// Host-side services granted to every tenant (`address:port`), for operators who need them.
    pub grants: Vec<(IpAddr, u16)>,
}

impl NetworkPolicy {
    /// The nameservers of `/etc/resolv.conf`.
    pub fn host_nameservers() -> Vec<IpAddr> {
        std::fs::read_to_string("/etc/resolv.conf")
            .unwrap_or_default()
            .lines()
            .filter_map(|line| line.trim().strip_prefix("nameserver"))
            .filter_map(|address| address.trim().parse().ok())
            .collect()
    }

    /// The whole nftables table, loaded atomically: its chains are replaced,
    /// while the set of per-environment grants survives a restart of the
    /// control plane or the agent (the instances they cover keep running).
    pub fn ruleset(&self) -> String {
        let (first, last) = (SandboxUid::FIRST, SandboxUid::FIRST + SandboxUid::COUNT - 1);
        let mut rules = String::new();
        let _ = writeln!(rules, "add table inet {TABLE}");
        let _ = writeln!(rules, "add set inet {TABLE} {GRANTS} {{ typeof meta skuid . ip daddr . tcp dport ; }}");
        let _ = writeln!(
            rules,
            "add chain inet {TABLE} output {{ type filter hook output priority filter ; policy accept ; }}"
        );
        let _ = writeln!(rules, "add chain inet {TABLE} tenant");
        let _ = writeln!(rules, "flush chain inet {TABLE} output");
        let _ = writeln!(rules, "flush chain inet {TABLE} tenant");
        let _ = writeln!(rules, "add rule inet {TABLE} output meta skuid {first}-{last} jump tenant");
        let mut tenant = |rule: &str| {
            let _ = writeln!(rules, "add rule inet {TABLE} tenant {rule}");
        };
        tenant("ct state established,related accept");
        if !self.router_ports.is_empty() {
            let ports: Vec<String> = self.router_ports.iter().map(u16::to_string).collect();
            tenant(&format!("fib daddr type local tcp dport {{ {} }} accept", ports.join(", ")));
        }
        for server in &self.nameservers {
            let family = if server.is_ipv4() { "ip" } else { "ip6" };
            tenant(&format!("{family} daddr {server} meta l4proto {{ tcp, udp }} th dport 53 accept"));
        }
        for (address, port) in &self.grants {
            let family = if address.is_ipv4() { "ip" } else { "ip6" };
            tenant(&format!("{family} daddr {address} tcp dport {port} accept"));
        }
        tenant(&format!("meta skuid . ip daddr . tcp dport @{GRANTS} accept"));
        tenant("fib daddr type local meta l4proto tcp reject with tcp reset");
        tenant("fib daddr type local reject");
        tenant(
            "ip daddr { 0.0.0.0/8, 10.0.0.0/8, 100.64.0.0/10, 127.0.0.0/8, 169.254.0.0/16, 172.16.0.0/12, \
             192.168.0.0/16, 224.0.0.0/4, 240.0.0.0/4 } reject",
        );
        tenant("ip6 daddr { ::1, ::ffff:0:0/96, fc00::/7, fe80::/10, ff00::/8 } reject");
        if !self.egress {
            tenant("reject");
        }
        rules
    }

    /// Loads the rules into the kernel.
    pub fn install(&self) -> Result<(), NetworkError> {
        nft(&self.ruleset())
    }
}

/// Lets tenant code running as `uid` connect to `address:port` on this host
/// or a private network (its own add-on database, say): the one exception to
/// the rules above, per environment, until [`revoke`]. Idempotent.
pub fn grant(uid: SandboxUid, address: std::net::Ipv4Addr, port: u16) -> Result<(), NetworkError> {
    nft(&format!("add element inet {TABLE} {GRANTS} {{ {uid} . {address} . {port} }}\n"))
}

/// Takes a [`grant`] back; open connections end with their next packet.
pub fn revoke(uid: SandboxUid, address: std::net::Ipv4Addr, port: u16) -> Result<(), NetworkError> {
    // `destroy` would ignore a missing element but needs nftables 1.0.8; add-then-delete is idempotent too.
    let element = format!("{{ {uid} . {address} . {port} }}");
    nft(&format!("add element inet {TABLE} {GRANTS} {element}\ndelete element inet {TABLE} {GRANTS} {element}\n"))
}

/// Runs `nft -f -` with `script` (one transaction).
fn nft(script: &str) -> Result<(), NetworkError> {
    use std::io::Write;
    let mut nft = std::process::Command::new("nft")
        .args(["-f", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|err| NetworkError(format!("cannot run nft (install the nftables package): {err}")))?;
    if let Some(mut stdin) = nft.stdin.take() {
        stdin.write_all(script.as_bytes()).map_err(|err| NetworkError(err.to_string()))?;
    }
    let output = nft.wait_with_output().map_err(|err| NetworkError(err.to_string()))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(NetworkError(format!("nft refused the rules: {}", String::from_utf8_lossy(&output.stderr).trim())))
    }
}

#[derive(Debug, thiserror::Error)]
#[error("the sandbox's network rules could not be installed: {0}")]
pub struct NetworkError(String);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ruleset_lets_tenants_reach_the_router_and_dns_only_on_this_host() {
        let policy = NetworkPolicy {
            router_ports: vec![8000, 8443],
            nameservers: vec!["10.0.0.53".parse().expect("ip")],
            egress: false,
            grants: vec![("127.0.0.1".parse().expect("ip"), 5432)],
        };
        let rules = policy.ruleset();
        assert!(rules.contains("output meta skuid 2000000000-2099999999 jump tenant"), "{rules}");
        assert!(rules.contains("tenant meta skuid . ip daddr . tcp dport @grants accept"), "{rules}");
        assert!(!rules.contains("delete table"), "grants survive a reinstall: {rules}");
        assert!(rules.contains("tcp dport { 8000, 8443 } accept"), "{rules}");
        assert!(rules.contains("ip daddr 10.0.0.53 meta l4proto { tcp, udp } th dport 53 accept"), "{rules}");
        assert!(rules.contains("ip daddr 127.0.0.1 tcp dport 5432 accept"), "{rules}");
        let accept_router = rules.find("8443 } accept").expect("router rule");
        let reject_local = rules.find("fib daddr type local reject").expect("local rule");
        assert!(accept_router < reject_local, "grants come before the refusals");
        assert!(rules.trim_end().ends_with("tenant reject"), "egress off ends in a reject: {rules}");
    }
}
