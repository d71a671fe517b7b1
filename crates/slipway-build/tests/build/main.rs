//! Real builds with real tools and registries (npm, PyPI, cargo, go; Ruby with Debian's gems): each app is
//! built, then its `web` command is started with PORT set and asked for `/`.

mod entry_files;
mod failures;
mod go_app;
mod network;
mod node;
mod python;
mod refusals;
mod ruby;
mod runtimes;
mod rust_app;
mod static_site;
mod support;
