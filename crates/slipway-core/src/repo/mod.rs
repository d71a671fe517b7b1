//! Repository URLs a tenant hands the platform, and whether the platform may
//! fetch from them. [`RepoUrl`] reads a URL the way git and curl will (so the
//! host checked is the host reached); [`RepoPolicy`] refuses local paths and
//! non-public addresses unless the platform admin allows them. Start with
//! `url.rs`, then `policy.rs`; `address.rs` knows the address ranges.

mod address;
mod policy;
mod url;

pub use address::{classify, parse_ipv4_loose, AddressClass};
pub use policy::{AllowedHosts, AllowedPaths, InvalidAllowList, RepoPolicy, RepoRefused};
pub use url::{RemoteRepo, RemoteScheme, RepoHost, RepoTarget, RepoUrl};
