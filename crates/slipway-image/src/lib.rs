//! Slipway's image exporter: a finished build becomes an OCI image in a
//! registry, without a Docker daemon; and a Dockerfile per detected stack for
//! users who build images elsewhere.
//!
//! # Public API
//!
//! * [`RegistrySettings::parse`] / [`RegistrySettings::from_env`] read
//!   `SLIPWAY_REGISTRY` (`host[:port][/prefix]`, e.g. `127.0.0.1:5000/slipway`)
//!   and `SLIPWAY_REGISTRY_USERNAME` / `_PASSWORD`. A project's images go to
//!   `<prefix>/<workspace>/<project>`.
//! * [`Exporter::export`] takes an [`ExportRequest`] (build plan, built app dir,
//!   digest-pinned base image, workspace, project, [`ImageTag`]) and pushes
//!   base layers + one reproducible app layer + config + OCI manifest under the
//!   immutable tag `<userId>-<buildNumber>-<commitSHA>`, returning an
//!   [`ExportedImage`] (reference, manifest digest, layers).
//! * [`dockerfile()`] renders the Dockerfile of a [`BuildPlan`].
//! * Errors are one [`ImageError`] enum; the ones a user acts on are
//!   `BaseNotPinned`, `TagExists`, `Unauthorized`, `Unreachable`, `InvalidConfig`.
//!
//! ```no_run
//! # async fn example(plan: slipway_core::build_plan::BuildPlan, tag: slipway_core::image_tag::ImageTag)
//! # -> Result<(), Box<dyn std::error::Error>> {
//! use slipway_core::names::{ProjectSlug, WorkspaceSlug};
//! use slipway_image::{ExportRequest, Exporter, ImageRef, RegistrySettings};
//!
//! let Some(config) = RegistrySettings::from_env()? else { return Ok(()) }; // SLIPWAY_REGISTRY unset
//! let base = ImageRef::parse("registry.example.com/base/run:1@sha256:…")?;
//! let request = ExportRequest::new(plan, "/builds/dep_1/app".into(), base,
//!     WorkspaceSlug::parse("acme")?, ProjectSlug::parse("web")?, tag);
//! let image = Exporter::new(config).export(&request).await?;
//! println!("pushed {} ({})", image.reference, image.pinned());
//! println!("{}", slipway_image::dockerfile(&request.plan));
//! # Ok(()) }
//! ```
//!
//! # Rules
//!
//! * **Base images must be pinned by digest** (`name[:tag]@sha256:…`): a tag
//!   can move, and a release must be rebuildable onto the same bytes. An index
//!   digest is fine; the manifest of the requested platform (this machine's by
//!   default) is used, and its digest is recorded in the
//!   `org.opencontainers.image.base.*` labels.
//! * **Tags are never overwritten**: an existing tag is refused before any upload.
//! * **Nothing is pushed twice**: every blob is HEAD-checked first; base layers
//!   are mounted across repositories on the same registry, copied otherwise.
//! * The image runs as uid:gid 1000:1000 in `/app`, with entrypoint
//!   `/bin/sh -c` and the `web` command as its only argument (another process
//!   type is run by giving its command as the argument instead); `PORT` is set
//!   and loopback binds written by detection are rewritten to `0.0.0.0`
//!   ([`for_container`]). Config vars are never written into an image.
//! * Registries: plain HTTP for loopback hosts (or `http://` in the setting),
//!   HTTPS otherwise; anonymous, Basic, and Bearer-token auth (Docker Hub,
//!   GHCR, Harbor). Credentials are only sent to the configured registry.
//!
//! Start reading at `export.rs` (the order of an export); `client.rs` and
//! `auth.rs` speak to a registry, `ops.rs` has the API calls, `layer.rs`
//! packs the app, `dockerfile.rs` is independent of the rest.
//!
//! [`ImageTag`]: slipway_core::image_tag::ImageTag
//! [`BuildPlan`]: slipway_core::build_plan::BuildPlan

mod auth;
mod client;
mod command;
mod config;
mod digest;
mod dockerfile;
mod error;
mod export;
mod image_config;
mod layer;
pub mod oci;
mod ops;

pub use command::{container_command, container_plan, for_container, ENTRYPOINT};
pub use config::{Credentials, RegistrySettings};
pub use dockerfile::{dockerfile, DEFAULT_PORT};
pub use error::ImageError;
pub use export::{ExportRequest, ExportedImage, Exporter};
pub use layer::{build_layer, Layer, LayerSource};
pub use slipway_core::image_ref::{Digest, ImageRef};
