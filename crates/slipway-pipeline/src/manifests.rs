//! The Kubernetes manifests of an environment at a release, rendered one way: for the
//! pipeline's GitOps commits ([`render_input`]) and for review before any commit
//! ([`preview_manifests`], the API's `…/manifests` and `slipway gitops render`). Secret config
//! vars appear by name only (as ExternalSecret keys); their values are never in a manifest.

use slipway_core::address::EnvironmentPath;
use slipway_core::api::RuntimeTarget;
use slipway_core::image_tag::ImageTag;
use slipway_gitops::{
    app_environment, render_environment, AppEnvironment, ClusterSettings, GitopsError, ReleaseSource,
};
use slipway_image::{RegistrySettings, DEFAULT_PORT};
use slipway_store::RenderSource;

/// Stands in for the registry in a preview when `SLIPWAY_REGISTRY` is not set (`.invalid` is
/// reserved, so it can never name a real host).
const PLACEHOLDER_REGISTRY: &str = "registry.invalid/slipway";

/// What the renderer needs for the environment at `path` at the release `source` was read
/// for, running `image`.
pub(crate) fn render_input(
    path: &EnvironmentPath,
    source: &RenderSource,
    image: &str,
) -> Result<AppEnvironment, GitopsError> {
    let plan = slipway_image::container_plan(&source.plan);
    app_environment(&ReleaseSource {
        workspace: path.workspace.as_str(),
        project: path.project.as_str(),
        environment: path.environment.as_str(),
        deployment: source.number.get(),
        image,
        plan: &plan,
        scale: &source.scale,
        hostnames: &source.hostnames,
        config: source.config.iter().map(|var| (var.name.as_str(), var.value.as_str(), var.secret)).collect(),
        port: DEFAULT_PORT,
        resources: source.resources,
        quota: source.quota,
    })
}

/// The manifests a deployment of the environment at `path` at the release `source`
/// was read for commits to the GitOps repository, as one multi-document YAML text: comments
/// saying what it is first, then each document after a comment naming its file. A release not
/// exported yet runs the image a deployment would push (on a placeholder registry without
/// `registry`). `Err` says why it cannot be rendered.
pub fn preview_manifests(
    path: &EnvironmentPath,
    source: &RenderSource,
    registry: Option<&RegistrySettings>,
    cluster: &ClusterSettings,
) -> Result<String, String> {
    let EnvironmentPath { workspace, project, environment } = path;
    let mut notes = vec![format!(
        "# Manifests of {workspace}/{project}/{environment} at release #{} (target: {}), as a deployment commits \
         them to\n# apps/{workspace}/{project}/{environment}/ of the GitOps repository.",
        source.number,
        source.target.as_str(),
    )];
    if source.target == RuntimeTarget::Local {
        notes.push("# The environment runs on the local target: nothing is committed until it is switched.".into());
    }
    let image = match &source.image {
        Some(image) => image.clone(),
        None => {
            let (Some(user), Some(commit)) = (source.created_by.clone(), source.commit_sha.clone()) else {
                return Err(format!(
                    "release #{} has no user or commit to name its image tag after; deploy again",
                    source.number
                ));
            };
            let tag = ImageTag::new(user, source.number, commit);
            let repository = match registry {
                Some(registry) => format!("{}/{}", registry.host(), registry.repository(workspace, project)),
                None => {
                    notes.push(format!("# SLIPWAY_REGISTRY is not set: {PLACEHOLDER_REGISTRY} stands in for it."));
                    format!("{PLACEHOLDER_REGISTRY}/{workspace}/{project}")
                }
            };
            notes.push("# This release was not exported: the image is the tag a deployment would push.".into());
            format!("{repository}:{tag}")
        }
    };
    let manifests = render_input(path, source, &image)
        .and_then(|app| render_environment(&app, cluster))
        .map_err(|err| err.to_string())?;
    let mut text = notes.join("\n");
    text.push('\n');
    text.push_str(&manifests.to_multi_document());
    Ok(text)
}
