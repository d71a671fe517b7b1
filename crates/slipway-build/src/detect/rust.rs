//! Rust: `Cargo.toml` with a binary target — of the package, or of the one
//! member of a `[workspace]` that has one; built in the cache's target dir
//! and copied to `bin/<name>` so the release artifact is self-contained.

use slipway_core::build_plan::BuildPlan;
use slipway_core::runtime::VersionAsk;
use slipway_core::stack::Stack;

use super::{shell_quote, DetectError, Tree};

const FILE: &str = "Cargo.toml";

pub(crate) fn detect(tree: &Tree) -> Result<Option<BuildPlan>, DetectError> {
    let Some(text) = tree.read(FILE)? else { return Ok(None) };
    let manifest: toml::Table = text.parse().map_err(|e: toml::de::Error| DetectError::Malformed {
        file: FILE.to_owned(),
        problem: e.message().to_owned(),
    })?;
    let name = match binary_name(tree, &manifest, "") {
        Some(name) => name,
        None => match workspace_binary(tree, &manifest)? {
            Some(name) => name,
            None => return Ok(None),
        },
    };
    if !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
        return Err(DetectError::Malformed { file: FILE.to_owned(), problem: format!("odd binary name {name:?}") });
    }
    let bin = format!("bin/{name}");
    let mut plan = super::plan(Stack::Rust, Some(format!("./{bin}")), vec![FILE.to_owned()]);
    plan.package_manager = Some("cargo".to_owned());
    // CARGO_TARGET_DIR points into the project's cache when Slipway builds.
    plan.build = Some(format!(
        "cargo build --release --bin {name} && mkdir -p bin && cp \"${{CARGO_TARGET_DIR:-target}}/release/{name}\" {}",
        shell_quote(&bin)
    ));
    plan.runtime_asks = toolchain(tree)?;
    Ok(Some(plan))
}

/// The binary of the workspace's one member that has one (`members` entries and
/// `dir/*` globs); several are refused rather than guessed between.
fn workspace_binary(tree: &Tree, manifest: &toml::Table) -> Result<Option<String>, DetectError> {
    let members = manifest.get("workspace").and_then(|w| w.get("members")).and_then(toml::Value::as_array);
    let mut dirs = Vec::new();
    for member in members.into_iter().flatten().filter_map(toml::Value::as_str) {
        match member.strip_suffix("/*") {
            Some(parent) => dirs.extend(tree.list(parent).into_iter().map(|dir| format!("{parent}/{dir}"))),
            None => dirs.push(member.trim_end_matches('/').to_owned()),
        }
    }
    let mut binaries = Vec::new();
    for dir in dirs.iter().take(200) {
        let file = format!("{dir}/{FILE}");
        let Some(text) = tree.read(&file)? else { continue };
        let member: toml::Table = text
            .parse()
            .map_err(|e: toml::de::Error| DetectError::Malformed { file, problem: e.message().to_owned() })?;
        binaries.extend(binary_name(tree, &member, &format!("{dir}/")));
    }
    match <[String; 1]>::try_from(binaries) {
        Ok([only]) => Ok(Some(only)),
        Err(binaries) if binaries.is_empty() => Ok(None),
        Err(candidates) => Err(DetectError::AmbiguousEntry {
            stack: Stack::Rust,
            from: FILE.to_owned(),
            candidates,
            hint: "say which in slipway.toml (`build = \"cargo build --release --bin <name> && ...\"`, \
                   `start = \"...\"`), or set `default-members`"
                .to_owned(),
        }),
    }
}

/// The binary to run: `default-run`, the `[[bin]]` named like the package,
/// the first `[[bin]]`, or the package itself when `<dir>src/main.rs` exists.
fn binary_name(tree: &Tree, manifest: &toml::Table, dir: &str) -> Option<String> {
    let package = manifest.get("package").and_then(toml::Value::as_table);
    let package_name = package.and_then(|p| p.get("name")).and_then(toml::Value::as_str);
    if let Some(default) = package.and_then(|p| p.get("default-run")).and_then(toml::Value::as_str) {
        return Some(default.to_owned());
    }
    let bins: Vec<&str> = manifest
        .get("bin")
        .and_then(toml::Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|b| b.get("name").and_then(toml::Value::as_str))
        .collect();
    if let Some(name) = bins.iter().find(|b| Some(**b) == package_name).or(bins.first()) {
        return Some((*name).to_owned());
    }
    package_name.filter(|_| tree.is_file(&format!("{dir}src/main.rs"))).map(str::to_owned)
}

/// `rust-toolchain.toml`'s channel or the legacy `rust-toolchain` file's. The build machine's
/// toolchain builds the app whatever it says (rustup, where installed, honours the file itself).
fn toolchain(tree: &Tree) -> Result<Vec<VersionAsk>, DetectError> {
    if let Some(text) = tree.read("rust-toolchain.toml")? {
        let table: Option<toml::Table> = text.parse().ok();
        let channel = table.as_ref().and_then(|t| t.get("toolchain")).and_then(|t| t.get("channel"));
        let channel = channel.and_then(toml::Value::as_str).map(|c| VersionAsk::new("rust-toolchain.toml", c));
        return Ok(channel.into_iter().collect());
    }
    Ok(super::versions::first_line(tree, "rust-toolchain")?.into_iter().collect())
}

#[cfg(test)]
mod tests {
    use crate::detect::testing::tree;
    use crate::detect::{detect, DetectError};
    use slipway_core::stack::Stack;

    #[test]
    fn package_with_main_rs() {
        let dir = tree(&[
            ("Cargo.toml", "[package]\nname = \"hello-web\"\nversion = \"0.1.0\"\n"),
            ("src/main.rs", "fn main() {}"),
            ("rust-toolchain.toml", "[toolchain]\nchannel = \"1.85\"\n"),
        ]);
        let plan = detect(dir.path()).expect("plan");
        assert_eq!(plan.stack, Stack::Rust);
        assert_eq!(plan.package_manager.as_deref(), Some("cargo"));
        let build = plan.build.clone().expect("build");
        assert!(build.starts_with("cargo build --release --bin hello-web"), "{build}");
        assert!(build.ends_with("/release/hello-web\" bin/hello-web"), "{build}");
        assert_eq!(plan.start.as_deref(), Some("./bin/hello-web"));
        assert_eq!(plan.asked_version(), Some("1.85"));
    }

    #[test]
    fn bin_targets() {
        let dir = tree(&[(
            "Cargo.toml",
            "[package]\nname = \"x\"\n[[bin]]\nname = \"tool\"\npath = \"src/tool.rs\"\n[[bin]]\nname = \"x\"\n",
        )]);
        assert_eq!(detect(dir.path()).expect("plan").start.as_deref(), Some("./bin/x"));
        let dir = tree(&[("Cargo.toml", "[package]\nname = \"x\"\n[[bin]]\nname = \"server\"\npath = \"s.rs\"\n")]);
        assert_eq!(detect(dir.path()).expect("plan").start.as_deref(), Some("./bin/server"));
    }

    #[test]
    fn workspace_with_one_binary_member() {
        let lib = ("core/Cargo.toml", "[package]\nname = \"core\"\n");
        let api = ("api/Cargo.toml", "[package]\nname = \"api\"\n[dependencies]\naxum = \"0.7\"\n");
        let dir = tree(&[
            ("Cargo.toml", "[workspace]\nmembers = [\"api\", \"core/\"]\n"),
            api,
            ("api/src/main.rs", ""),
            lib,
            ("core/src/lib.rs", ""),
        ]);
        let plan = detect(dir.path()).expect("plan");
        assert_eq!(plan.stack, Stack::Rust);
        assert_eq!(plan.start.as_deref(), Some("./bin/api"));
        assert!(plan.build.expect("build").starts_with("cargo build --release --bin api &&"));
        // A `dir/*` glob, and a [[bin]] member.
        let dir = tree(&[
            ("Cargo.toml", "[workspace]\nmembers = [\"crates/*\"]\n"),
            ("crates/lib/Cargo.toml", "[package]\nname = \"lib\"\n"),
            ("crates/srv/Cargo.toml", "[package]\nname = \"srv\"\n[[bin]]\nname = \"server\"\npath = \"s.rs\"\n"),
        ]);
        assert_eq!(detect(dir.path()).expect("plan").start.as_deref(), Some("./bin/server"));
        // No binary member: not an app; several: refused, listing them.
        let dir = tree(&[("Cargo.toml", "[workspace]\nmembers = [\"core\"]\n"), lib, ("core/src/lib.rs", "")]);
        assert!(matches!(detect(dir.path()), Err(DetectError::Unrecognised)));
        let dir = tree(&[
            ("Cargo.toml", "[workspace]\nmembers = [\"api\", \"core\"]\n"),
            api,
            ("api/src/main.rs", ""),
            ("core/Cargo.toml", "[package]\nname = \"core\"\n"),
            ("core/src/main.rs", ""),
        ]);
        let err = detect(dir.path()).expect_err("ambiguous");
        let DetectError::AmbiguousEntry { candidates, .. } = &err else { panic!("{err:?}") };
        assert_eq!(candidates, &["api", "core"]);
    }

    #[test]
    fn library_only_crate_is_not_an_app() {
        let dir = tree(&[("Cargo.toml", "[package]\nname = \"x\"\n"), ("src/lib.rs", "")]);
        assert!(matches!(detect(dir.path()), Err(DetectError::Unrecognised)));
    }

    #[test]
    fn malformed_cargo_toml_names_the_file() {
        let dir = tree(&[("Cargo.toml", "[package\n")]);
        let err = detect(dir.path()).expect_err("malformed");
        assert!(err.to_string().starts_with("Cargo.toml is malformed"), "{err}");
    }
}
