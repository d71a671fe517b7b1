//! Where a tree asks for its runtime's version, most authoritative first: the
//! stack's manifest (`engines.node`, `requires-python`, go.mod, the Gemfile's
//! `ruby`, composer.json's `require.php`), then the version managers' files
//! (`.nvmrc`, `.python-version`, `.ruby-version`, `.php-version`, `.tool-versions`).
//! All of them are kept: the build resolves a version that satisfies every one
//! and refuses, naming both, when two contradict each other.

use slipway_core::runtime::VersionAsk;

use super::{DetectError, Tree};

/// A value this long is not a version; it is not taken (and so not echoed into the log).
const MAX_VERSION_LEN: usize = 100;

/// The asks of a Node app beyond `engines.node` (which the caller read from package.json).
pub(crate) fn node(tree: &Tree, engines: Option<&str>) -> Result<Vec<VersionAsk>, DetectError> {
    let mut asks: Vec<VersionAsk> = engines.and_then(|v| ask("engines.node in package.json", v)).into_iter().collect();
    for file in [".nvmrc", ".node-version"] {
        asks.extend(first_line(tree, file)?);
    }
    asks.extend(tool_versions(tree, &["nodejs", "node"])?);
    Ok(asks)
}

/// The asks of a Python app: `requires-python`, `.python-version`, `runtime.txt`, `.tool-versions`.
pub(crate) fn python(tree: &Tree) -> Result<Vec<VersionAsk>, DetectError> {
    let mut asks = Vec::new();
    if let Some(text) = tree.read("pyproject.toml")? {
        let table: Option<toml::Table> = text.parse().ok();
        let requires = table.as_ref().and_then(|t| t.get("project")).and_then(|p| p.get("requires-python"));
        asks.extend(requires.and_then(toml::Value::as_str).and_then(|v| ask("requires-python in pyproject.toml", v)));
    }
    asks.extend(first_line(tree, ".python-version")?);
    if let Some(text) = tree.read("runtime.txt")? {
        asks.extend(ask("runtime.txt", text.trim().trim_start_matches("python-")));
    }
    asks.extend(tool_versions(tree, &["python"])?);
    Ok(asks)
}

/// The asks of a Go module: go.mod's `toolchain` line (exact), its `go` line (the least
/// version, whose newest patch release is taken), `.tool-versions`.
pub(crate) fn go(go_mod: &str, tree: &Tree) -> Result<Vec<VersionAsk>, DetectError> {
    let mut asks = Vec::new();
    for (keyword, source) in [("toolchain", "toolchain in go.mod"), ("go", "go.mod")] {
        let line = go_mod.lines().map(|l| l.split("//").next().unwrap_or_default().trim()).find_map(|line| {
            let mut words = line.split_whitespace();
            (words.next() == Some(keyword)).then(|| words.next()).flatten()
        });
        // `toolchain default` says nothing about a version.
        let line = line.filter(|v| *v != "default").map(|v| v.strip_prefix("go").unwrap_or(v));
        asks.extend(line.and_then(|v| ask(source, v)));
    }
    asks.extend(tool_versions(tree, &["golang", "go"])?);
    Ok(asks)
}

/// The asks of a Ruby app: the Gemfile's `ruby "x.y"` line, `.ruby-version`, `.tool-versions`.
/// Recorded for the release and the image; the build machine's Ruby builds the app.
pub(crate) fn ruby(tree: &Tree, gemfile: Option<&str>) -> Result<Vec<VersionAsk>, DetectError> {
    let mut asks: Vec<VersionAsk> =
        gemfile.and_then(gemfile_ruby).and_then(|v| ask("Gemfile", &v)).into_iter().collect();
    if let Some(found) = first_line(tree, ".ruby-version")? {
        // rbenv and rvm accept `ruby-3.3.0`.
        let version = found.version.strip_prefix("ruby-").unwrap_or(&found.version).to_owned();
        asks.extend(ask(".ruby-version", &version));
    }
    asks.extend(tool_versions(tree, &["ruby"])?);
    Ok(asks)
}

/// The asks of a PHP app: composer.json's `require.php`, `.php-version`, `.tool-versions`.
/// Recorded for the release and the image; the build machine's PHP builds and serves the app.
pub(crate) fn php(tree: &Tree, require_php: Option<&str>) -> Result<Vec<VersionAsk>, DetectError> {
    let mut asks: Vec<VersionAsk> =
        require_php.and_then(|v| ask("require.php in composer.json", v)).into_iter().collect();
    asks.extend(first_line(tree, ".php-version")?);
    asks.extend(tool_versions(tree, &["php"])?);
    Ok(asks)
}

/// The version of a Gemfile's `ruby "3.3.0"` / `ruby '~> 3.2', engine: …` line; `None` for
/// `ruby file: ".ruby-version"` (that file is read on its own).
fn gemfile_ruby(gemfile: &str) -> Option<String> {
    gemfile.lines().find_map(|line| {
        let line = line.split('#').next().unwrap_or_default().trim();
        let rest = line.strip_prefix("ruby")?;
        let rest = rest.strip_prefix('(').unwrap_or(rest).trim_start();
        let quote = rest.chars().next().filter(|c| *c == '"' || *c == '\'')?;
        let value = rest[1..].split(quote).next()?;
        Some(value.trim().to_owned())
    })
}

/// The asks of a Java app: Heroku's `system.properties` (`java.runtime.version`), `.java-version`
/// (jenv), `.tool-versions`, `.sdkmanrc` (SDKMAN!'s `java=17.0.9-tem`), then what the build file
/// compiles for (`build`, read by the caller). Recorded and logged; the build machine's JDK builds.
pub(crate) fn java(tree: &Tree, build: Vec<VersionAsk>) -> Result<Vec<VersionAsk>, DetectError> {
    let mut asks: Vec<VersionAsk> = property(tree, "system.properties", "java.runtime.version")?.into_iter().collect();
    asks.extend(first_line(tree, ".java-version")?);
    asks.extend(tool_versions(tree, &["java"])?);
    asks.extend(property(tree, ".sdkmanrc", "java")?);
    asks.extend(build);
    Ok(asks)
}

/// The value of `key=value` in a properties-style `file`.
fn property(tree: &Tree, file: &str, key: &str) -> Result<Option<VersionAsk>, DetectError> {
    let Some(text) = tree.read(file)? else { return Ok(None) };
    Ok(text.lines().find_map(|line| {
        let (name, value) = line.split_once('=')?;
        (name.trim() == key).then(|| ask(file, value)).flatten()
    }))
}

/// The first line of `file` that is not blank or a comment.
pub(crate) fn first_line(tree: &Tree, file: &str) -> Result<Option<VersionAsk>, DetectError> {
    let Some(text) = tree.read(file)? else { return Ok(None) };
    Ok(text.lines().map(str::trim).find(|l| !l.is_empty() && !l.starts_with('#')).and_then(|v| ask(file, v)))
}

/// asdf/mise's `.tool-versions`: `<tool> <version> [fallback…]`, the first version taken.
fn tool_versions(tree: &Tree, tools: &[&str]) -> Result<Option<VersionAsk>, DetectError> {
    let Some(text) = tree.read(".tool-versions")? else { return Ok(None) };
    Ok(text.lines().find_map(|line| {
        let mut words = line.split('#').next().unwrap_or_default().split_whitespace();
        let tool = words.next()?;
        tools.contains(&tool).then(|| words.next()).flatten().and_then(|v| ask(".tool-versions", v))
    }))
}

fn ask(source: &str, version: &str) -> Option<VersionAsk> {
    let version = version.trim();
    (!version.is_empty() && version.len() <= MAX_VERSION_LEN && !version.contains(char::is_control))
        .then(|| VersionAsk::new(source, version))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::testing::tree;

    fn asks(list: &[VersionAsk]) -> Vec<(&str, &str)> {
        list.iter().map(|a| (a.source.as_str(), a.version.as_str())).collect()
    }

    #[test]
    fn node_reads_engines_then_the_version_files() {
        let dir = tree(&[
            (".nvmrc", "# pinned\nv22.12.0\n"),
            (".node-version", "22\n"),
            (".tool-versions", "nodejs 22.1.0\n"),
        ]);
        let tree = Tree::open(dir.path()).expect("tree");
        let found = node(&tree, Some(">=20")).expect("asks");
        assert_eq!(
            asks(&found),
            [
                ("engines.node in package.json", ">=20"),
                (".nvmrc", "v22.12.0"),
                (".node-version", "22"),
                (".tool-versions", "22.1.0")
            ]
        );
    }

    #[test]
    fn python_reads_requires_python_and_the_version_files() {
        let dir = tree(&[
            ("pyproject.toml", "[project]\nname = \"x\"\nrequires-python = \">=3.10\"\n"),
            ("runtime.txt", "python-3.12.1\n"),
            (".tool-versions", "ruby 3.3.0\npython 3.12.1 3.11.0 # fallback\n"),
        ]);
        let found = python(&Tree::open(dir.path()).expect("tree")).expect("asks");
        assert_eq!(
            asks(&found),
            [("requires-python in pyproject.toml", ">=3.10"), ("runtime.txt", "3.12.1"), (".tool-versions", "3.12.1")]
        );
    }

    #[test]
    fn go_reads_the_toolchain_before_the_go_line() {
        let dir = tree(&[]);
        let tree = Tree::open(dir.path()).expect("tree");
        let found = go("module x\n\ngo 1.24 // least\ntoolchain go1.25.5\n", &tree).expect("asks");
        assert_eq!(asks(&found), [("toolchain in go.mod", "1.25.5"), ("go.mod", "1.24")]);
        let found = go("module x\ngo 1.22\ntoolchain default\n", &tree).expect("asks");
        assert_eq!(asks(&found), [("go.mod", "1.22")]);
    }

    #[test]
    fn ruby_reads_the_gemfile_then_the_version_files() {
        let dir = tree(&[(".ruby-version", "ruby-3.3.0\n"), (".tool-versions", "nodejs 22\nruby 3.3.0\n")]);
        let tree = Tree::open(dir.path()).expect("tree");
        let gemfile = "source 'https://rubygems.org'\n# ruby '2.0'\nruby '~> 3.3', engine: 'ruby'\ngem 'rails'\n";
        assert_eq!(
            asks(&ruby(&tree, Some(gemfile)).expect("asks")),
            [("Gemfile", "~> 3.3"), (".ruby-version", "3.3.0"), (".tool-versions", "3.3.0")]
        );
        // `ruby file: ".ruby-version"` names no version itself; a gem called ruby-something is not the line.
        let gemfile = "ruby file: \".ruby-version\"\ngem \"ruby-vips\"\nruby(\"3.2.4\")\n";
        assert_eq!(gemfile_ruby(gemfile).as_deref(), Some("3.2.4"));
        assert_eq!(gemfile_ruby("ruby file: '.ruby-version'\n"), None);
        assert_eq!(gemfile_ruby("rubygems_version = 1\n"), None);
    }

    #[test]
    fn java_reads_the_version_files_then_the_build() {
        let dir = tree(&[
            ("system.properties", "# heroku\njava.runtime.version=17\nmaven.version=3.9.6\n"),
            (".java-version", "temurin64-17.0.2\n"),
            (".tool-versions", "nodejs 22\njava openjdk-17.0.2\n"),
            (".sdkmanrc", "# sdk env\njava=17.0.9-tem\n"),
        ]);
        let tree = Tree::open(dir.path()).expect("tree");
        let build = vec![VersionAsk::new("maven.compiler.release in pom.xml", "17")];
        assert_eq!(
            asks(&java(&tree, build).expect("asks")),
            [
                ("system.properties", "17"),
                (".java-version", "temurin64-17.0.2"),
                (".tool-versions", "openjdk-17.0.2"),
                (".sdkmanrc", "17.0.9-tem"),
                ("maven.compiler.release in pom.xml", "17")
            ]
        );
    }

    #[test]
    fn php_reads_composer_json_then_the_version_files() {
        let dir = tree(&[(".php-version", "# phpenv\n8.3\n"), (".tool-versions", "php 8.3.4\nnodejs 22\n")]);
        let tree = Tree::open(dir.path()).expect("tree");
        assert_eq!(
            asks(&php(&tree, Some(">=8.1 <8.4")).expect("asks")),
            [("require.php in composer.json", ">=8.1 <8.4"), (".php-version", "8.3"), (".tool-versions", "8.3.4")]
        );
    }

    #[test]
    fn oversized_or_control_character_values_are_not_asks() {
        let long = format!("{}\n", "9".repeat(200));
        let dir = tree(&[(".nvmrc", &long), (".node-version", "2\u{1b}[31m2\n")]);
        assert!(node(&Tree::open(dir.path()).expect("tree"), None).expect("asks").is_empty());
    }
}
