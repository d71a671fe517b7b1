//! Real builds with real tools and registries (npm, PyPI, cargo): each app is
//! built, then its `web` command is started with PORT set and asked for `/`.

mod failures;
mod node;
mod python;
mod rust_app;
mod static_site;
mod support;
