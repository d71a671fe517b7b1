//! Node: node_modules cached per project under `<cache>/node_modules/<key>`,
//! key = sha256(lockfile or package.json dependencies, install command,
//! package manager, node version). A hit is a hard-linked copy and no install.

use std::path::Path;

use super::cache::{self, Key};
use super::env::BuildEnv;
use super::{capture, require, AfterInstall, BuildError, Context, Prepared};

const LOCKFILES: [&str; 4] = ["package-lock.json", "npm-shrinkwrap.json", "yarn.lock", "pnpm-lock.yaml"];
/// Cached node_modules trees kept per project (the newest by use).
const KEEP: usize = 3;
/// Lockfiles beyond this size only count by their first bytes in the key.
const MAX_KEY_FILE_BYTES: u64 = 64 << 20;

pub(crate) async fn prepare(cx: &Context<'_>, env: &mut BuildEnv) -> Result<Prepared, BuildError> {
    let manager = cx.plan.package_manager.as_deref().unwrap_or("npm");
    require(env, "node", cx.plan)?;
    for tool in ["npm", "corepack"] {
        if cx.commands().any(|c| c.split_whitespace().any(|w| w == tool)) {
            require(env, tool, cx.plan)?;
        }
    }
    let cache = cx.request.cache_dir.as_path();
    env.set("npm_config_cache", cache.join("npm"));
    env.set("YARN_CACHE_FOLDER", cache.join("yarn"));
    env.set("npm_config_store_dir", cache.join("pnpm-store"));
    // The Yarn or pnpm version `packageManager` names, fetched by corepack once per environment.
    env.set("COREPACK_HOME", cache.join("corepack"));
    // Yarn 2+ keeps its packages in a global folder (a home the sandbox does not show), reports
    // telemetry over the network, and by default installs Plug'n'Play instead of node_modules:
    // the cache and `node <main>` need node_modules, so that is the default unless the app's
    // .yarnrc.yml chooses its linker itself.
    env.set("YARN_GLOBAL_FOLDER", cache.join("yarn-berry"));
    env.set("YARN_ENABLE_TELEMETRY", "0");
    if !chooses_its_linker(&cx.request.app_dir).await {
        env.set("YARN_NODE_LINKER", "node-modules");
    }
    // devDependencies are needed to build even when NODE_ENV=production is a config var
    // (unless the app's own install command says otherwise); audit and fund are
    // network round trips nobody reads in a build log.
    if !cx.plan.install.as_deref().is_some_and(|i| i.contains("--omit") || i.contains("--production")) {
        env.set("npm_config_include", "dev");
    }
    env.set("npm_config_audit", "false");
    env.set("npm_config_fund", "false");
    env.set("npm_config_update_notifier", "false");
    let app = cx.request.app_dir.as_path();
    env.prepend_path(app.join("node_modules").join(".bin"));

    let Some(install) = cx.plan.install.as_deref() else { return Ok(Prepared::run_install()) };
    let node_version = capture(cx, env, "node", &["--version"]).await.unwrap_or_default();
    let key = Key::default()
        .part("format", "node_modules-v1")
        .part("manager", manager)
        .part("install", install)
        .part("node", node_version.trim())
        .part("dependencies", dependencies(app).await)
        .finish();
    let entry = cache.join("node_modules").join(&key);
    let short = &key[..12];
    if entry.is_dir() {
        let target = app.join("node_modules");
        if cache::reuse(&entry, &target, cache::link_copy(&entry, &target, cx)).await? {
            cx.log.line(format!("Reusing cached dependencies (key {short})")).await;
            return Ok(Prepared { skip_install: true, after: AfterInstall::Nothing });
        }
        cx.log.line(format!("Could not reuse cached dependencies (key {short}); installing")).await;
    } else {
        cx.log.line(format!("No cached dependencies for key {short}; installing")).await;
    }
    Ok(Prepared { skip_install: false, after: AfterInstall::StoreNodeModules { entry } })
}

/// After a successful install: node_modules into the cache ([`cache::store`]).
pub(crate) async fn store(cx: &Context<'_>, entry: &Path) {
    cache::store(cx, &cx.request.app_dir.join("node_modules"), entry, KEEP).await;
}

/// Whether the app's .yarnrc.yml sets `nodeLinker` (Plug'n'Play, pnpm-style or node_modules).
async fn chooses_its_linker(app: &Path) -> bool {
    let rc = cache::read_key_file(&app.join(".yarnrc.yml"), 1 << 20).await.unwrap_or_default();
    String::from_utf8_lossy(&rc).lines().any(|line| line.trim_start().starts_with("nodeLinker:"))
}

/// What decides node_modules: the lockfile, or the dependency fields of package.json.
async fn dependencies(app: &Path) -> Vec<u8> {
    for lockfile in LOCKFILES {
        if let Some(mut bytes) = cache::read_key_file(&app.join(lockfile), MAX_KEY_FILE_BYTES).await {
            bytes.extend(lockfile.as_bytes());
            return bytes;
        }
    }
    let package = cache::read_key_file(&app.join("package.json"), MAX_KEY_FILE_BYTES).await.unwrap_or_default();
    let Ok(serde_json::Value::Object(package)) = serde_json::from_slice(&package) else { return package };
    let fields = ["dependencies", "devDependencies", "optionalDependencies", "overrides", "resolutions"];
    // serde_json's map is ordered by key, so this is canonical.
    let picked: serde_json::Map<_, _> =
        fields.iter().filter_map(|f| package.get(*f).map(|v| ((*f).to_owned(), v.clone()))).collect();
    serde_json::to_vec(&picked).unwrap_or_default()
}
