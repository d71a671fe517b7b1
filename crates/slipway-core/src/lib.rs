//! Slipway's domain, free of I/O: identifiers, naming rules, roles, the
//! deployment status machine, stacks, process types, image references and tags,
//! and the JSON types of the REST API; and [`php`], the configuration PHP apps
//! are served with (whose `find_servers` is the one look at the filesystem here).
//!
//! The CLI and the server share this crate, so everything a user can type or
//! read is parsed and printed here exactly once. Start with [`names`] (what a
//! valid slug or hostname is), [`address`] (an environment's `ws/project/env`) and
//! [`deployment`] (the status machine).

pub mod address;
pub mod api;
pub mod build_plan;
pub mod build_timeout;
pub mod causes;
pub mod deployment;
pub mod error_code;
pub mod hostname;
pub mod ids;
pub mod image_ref;
pub mod image_tag;
pub mod layout;
mod macros;
pub mod names;
pub mod percent;
pub mod php;
pub mod process_type;
pub mod quota;
pub mod redact;
pub mod repo;
pub mod resources;
pub mod retention;
pub mod role;
pub mod root_dir;
pub mod runtime;
pub mod sse;
pub mod stack;
pub mod timestamp;

pub use error_code::ErrorCode;
