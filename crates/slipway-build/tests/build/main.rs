//! Real builds with real tools and registries (npm, PyPI, cargo, go; Ruby with Debian's gems, Java with
//! Debian's Maven repository standing in for Maven Central, PHP with a local Composer repository of
//! Debian's PHP libraries): each app is
//! built, then its `web` command is started with PORT set and asked for `/`.

mod entry_files;
mod failures;
mod go_app;
mod java;
mod network;
mod node;
mod php;
mod python;
mod refusals;
mod ruby;
mod runtimes;
mod rust_app;
mod static_site;
mod support;
