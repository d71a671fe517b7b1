//! Slipway's builder. It owns two things:
//!
//! * **Detection** ([`detect()`], in `src/detect/`): a source tree becomes a
//!   [`BuildPlan`] — stack, framework, install/build/start commands and process
//!   types. `slipway.toml` overrides everything, a `Procfile` defines the
//!   processes, otherwise one detector per stack decides (one file each). A
//!   stack Slipway does not build (Scala, .NET, Elixir, …) is refused there, with
//!   what to do ([`UnsupportedStack`]).
//! * **Building** ([`Builder`], in `src/build/`): runs a plan's install and
//!   build commands in the app directory, in their own process groups, with a
//!   timeout, a capped live log, a concurrency limit and per-project dependency
//!   caches (node_modules, virtualenvs, vendor/bundle, PHP's vendor/, cargo and
//!   Go caches, Maven's local repository). Of the platform's environment only a
//!   short allowlist and its proxy, CA and registry-mirror settings
//!   ([`BuildNetwork`]) reach a build.
//!
//! * **Runtimes** ([`Runtimes`], in `src/runtime/`): the Node.js, Python or Go
//!   version an app asks for, from the build machine, the runtimes store, or
//!   the upstream's distribution through a mirror (checksums verified).
//!
//! Start reading at `detect/mod.rs` (how a tree is looked at, precedence) and
//! `build/mod.rs` (the order of a build); `build/command.rs` runs one command.

mod build;
mod detect;
mod root_dir;
mod runtime;

pub use build::{BuildError, BuildNetwork, BuildRequest, BuildSandbox, Builder, BuiltApp, Step};
pub use detect::{detect, DetectError, UnsupportedStack};
pub use root_dir::{app_root, narrow_to, AppRoot, NamedBy, RootDir};
pub use runtime::{RuntimeError, RuntimeMirrors, Runtimes, DEFAULT_PYTHON_RELEASE, KEEP_UNUSED};
pub use slipway_core::build_plan::BuildPlan;
