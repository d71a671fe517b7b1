//! The upstreams' own distributions, each in its own layout, read through a
//! mirror URL the operator may change (`SLIPWAY_NODE_MIRROR`, …):
//! - Node.js: `<mirror>/index.json`, `<mirror>/v<V>/SHASUMS256.txt`,
//!   `<mirror>/v<V>/node-v<V>-linux-<arch>.tar.gz` (top directory `node-v<V>-linux-<arch>`).
//! - Go: `<mirror>/?mode=json&include=all` (versions, files and their sha256),
//!   `<mirror>/go<V>.linux-<arch>.tar.gz` (top directory `go`).
//! - Python (python-build-standalone): `<mirror>/<release>/SHA256SUMS` names every
//!   file of the release, `<mirror>/<release>/cpython-<V>+<release>-<arch>-unknown-linux-gnu-install_only.tar.gz`
//!   (top directory `python`).

use std::time::Duration;

use reqwest::Url;
use serde::Deserialize;
use slipway_core::runtime::Language;

use super::version::{Candidate, Version};
use super::RuntimeError;

/// The mirrors runtimes are downloaded from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuntimeMirrors {
    pub node: Url,
    pub go: Url,
    pub python: Url,
    /// The python-build-standalone release whose builds are offered (its tag, a date).
    pub python_release: String,
}

impl Default for RuntimeMirrors {
    fn default() -> Self {
        let url = |text: &str| Url::parse(text).expect("a default mirror is a URL");
        Self {
            node: url("https://nodejs.org/dist/"),
            go: url("https://go.dev/dl/"),
            python: url("https://github.com/astral-sh/python-build-standalone/releases/download/"),
            python_release: DEFAULT_PYTHON_RELEASE.to_owned(),
        }
    }
}

/// The python-build-standalone release offered unless `SLIPWAY_PYTHON_RELEASE` names another.
pub const DEFAULT_PYTHON_RELEASE: &str = "20251014";

impl RuntimeMirrors {
    /// An `http(s)` URL, read as a directory (a trailing `/` added).
    pub fn parse_mirror(text: &str) -> Result<Url, String> {
        let mut url = Url::parse(text.trim()).map_err(|err| format!("`{text}` is not a URL: {err}"))?;
        if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
            return Err(format!("`{text}` is not an http or https URL"));
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(format!("`{text}` has a query or fragment; a mirror is a directory URL"));
        }
        if !url.path().ends_with('/') {
            url.set_path(&format!("{}/", url.path()));
        }
        Ok(url)
    }

    /// A release tag: digits, letters, `.`, `-`, `_` (it becomes a path segment).
    pub fn parse_release(text: &str) -> Result<String, String> {
        let ok = !text.is_empty()
            && text.len() <= 40
            && text.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
            && !text.starts_with('.');
        ok.then(|| text.to_owned()).ok_or_else(|| format!("`{text}` is not a release tag"))
    }

    pub(crate) fn base(&self, language: Language) -> &Url {
        match language {
            Language::Node => &self.node,
            Language::Go => &self.go,
            Language::Python => &self.python,
        }
    }
}

/// One downloadable build of a version, as the upstream's index names it.
#[derive(Debug, Clone)]
pub(crate) struct Offer {
    pub(crate) candidate: Candidate,
    pub(crate) url: Url,
    /// The published sha256, when the index carries it (Go, Python); Node publishes it per version.
    pub(crate) sha256: Option<String>,
    /// The directory the archive holds everything in.
    pub(crate) top_dir: String,
}

/// The largest index document read (Go's with every release is about 1.5 MB).
const MAX_INDEX_BYTES: usize = 16 << 20;
const INDEX_TIMEOUT: Duration = Duration::from_secs(60);

/// This machine's name for its architecture in each upstream's file names.
fn arch(language: Language) -> &'static str {
    match (language, std::env::consts::ARCH) {
        (Language::Node, "aarch64") | (Language::Go, "aarch64") => "arm64",
        (Language::Python, "aarch64") => "aarch64",
        (Language::Node, _) => "x64",
        (Language::Go, _) => "amd64",
        (Language::Python, _) => "x86_64",
    }
}

/// Every build the upstream offers for this machine.
pub(crate) async fn offers(
    client: &reqwest::Client,
    mirrors: &RuntimeMirrors,
    language: Language,
) -> Result<Vec<Offer>, RuntimeError> {
    let base = mirrors.base(language);
    match language {
        Language::Node => node_offers(client, base).await,
        Language::Go => go_offers(client, base).await,
        Language::Python => python_offers(client, base, &mirrors.python_release).await,
    }
}

/// The sha256 the upstream publishes for `offer`.
pub(crate) async fn published_sha256(
    client: &reqwest::Client,
    mirrors: &RuntimeMirrors,
    language: Language,
    offer: &Offer,
) -> Result<String, RuntimeError> {
    if let Some(sum) = &offer.sha256 {
        return Ok(sum.clone());
    }
    // Node: `v<V>/SHASUMS256.txt` beside the archive.
    let sums_url = join(&offer.url, "SHASUMS256.txt")?;
    let text = fetch_text(client, &sums_url).await?;
    let file = offer.url.path_segments().and_then(|mut s| s.next_back()).unwrap_or_default().to_owned();
    let sum = sums(&text).find(|(_, name)| *name == file).map(|(sum, _)| sum.to_owned());
    sum.ok_or_else(|| RuntimeError::Mirror {
        language,
        mirror: mirrors.base(language).to_string(),
        problem: format!("{sums_url} does not list {file}"),
    })
}

async fn node_offers(client: &reqwest::Client, base: &Url) -> Result<Vec<Offer>, RuntimeError> {
    #[derive(Deserialize)]
    struct Entry {
        version: String,
        #[serde(default)]
        files: Vec<String>,
        #[serde(default)]
        lts: serde_json::Value,
    }
    let url = join(base, "index.json")?;
    let entries: Vec<Entry> = fetch_json(client, &url).await?;
    let platform = format!("linux-{}", arch(Language::Node));
    let mut offers = Vec::new();
    for entry in entries.into_iter().filter(|e| e.files.contains(&platform)) {
        let Some(version) = Version::parse_release(&entry.version) else { continue };
        let top_dir = format!("node-v{version}-{platform}");
        let url = join(base, &format!("v{version}/{top_dir}.tar.gz"))?;
        let lts = entry.lts.as_str().map(str::to_owned);
        offers.push(Offer { candidate: Candidate { version, lts }, url, sha256: None, top_dir });
    }
    Ok(offers)
}

async fn go_offers(client: &reqwest::Client, base: &Url) -> Result<Vec<Offer>, RuntimeError> {
    #[derive(Deserialize)]
    struct Release {
        version: String,
        #[serde(default)]
        stable: bool,
        #[serde(default)]
        files: Vec<File>,
    }
    #[derive(Deserialize)]
    struct File {
        filename: String,
        os: String,
        arch: String,
        sha256: String,
        kind: String,
    }
    let mut url = base.clone();
    url.set_query(Some("mode=json&include=all"));
    let releases: Vec<Release> = fetch_json(client, &url).await?;
    let mut offers = Vec::new();
    for release in releases.into_iter().filter(|r| r.stable) {
        let Some(version) = Version::parse_release(&release.version) else { continue };
        let file =
            release.files.into_iter().find(|f| f.os == "linux" && f.arch == arch(Language::Go) && f.kind == "archive");
        let Some(file) = file.filter(|f| plain_file_name(&f.filename)) else { continue };
        offers.push(Offer {
            candidate: Candidate { version, lts: None },
            url: join(base, &file.filename)?,
            sha256: Some(file.sha256.to_ascii_lowercase()),
            top_dir: "go".to_owned(),
        });
    }
    Ok(offers)
}

async fn python_offers(client: &reqwest::Client, base: &Url, release: &str) -> Result<Vec<Offer>, RuntimeError> {
    let url = join(base, &format!("{release}/SHA256SUMS"))?;
    let text = fetch_text(client, &url).await?;
    let suffix = format!("+{release}-{}-unknown-linux-gnu-install_only.tar.gz", arch(Language::Python));
    let mut offers = Vec::new();
    for (sum, name) in sums(&text) {
        let Some(version) = name.strip_prefix("cpython-").and_then(|rest| rest.strip_suffix(suffix.as_str())) else {
            continue;
        };
        let Some(version) = Version::parse_release(version).filter(|_| version.matches('.').count() == 2) else {
            continue;
        };
        // `+` is a literal plus in the upstream's file names.
        let url = join(base, &format!("{release}/{}", name.replace('+', "%2B")))?;
        let candidate = Candidate { version, lts: None };
        offers.push(Offer { candidate, url, sha256: Some(sum.to_owned()), top_dir: "python".to_owned() });
    }
    Ok(offers)
}

/// `<sha256>  <file>` lines (`*<file>` for binary mode), well-formed ones only.
fn sums(text: &str) -> impl Iterator<Item = (&str, &str)> {
    text.lines().filter_map(|line| {
        let (sum, name) = line.trim().split_once(char::is_whitespace)?;
        let name = name.trim().trim_start_matches('*');
        let hex = sum.len() == 64 && sum.bytes().all(|b| b.is_ascii_hexdigit());
        (hex && plain_file_name(name)).then_some((sum, name))
    })
}

/// A file name that stays one path segment under the mirror.
fn plain_file_name(name: &str) -> bool {
    !name.is_empty() && !name.starts_with('.') && !name.contains(['/', '\\', '?', '#']) && name.len() <= 200
}

fn join(base: &Url, path: &str) -> Result<Url, RuntimeError> {
    base.join(path).map_err(|err| RuntimeError::Unreachable {
        url: base.to_string(),
        problem: format!("cannot name {path} under it: {err}"),
    })
}

async fn fetch_text(client: &reqwest::Client, url: &Url) -> Result<String, RuntimeError> {
    let bytes = fetch_capped(client, url).await?;
    String::from_utf8(bytes)
        .map_err(|_| RuntimeError::Unreachable { url: url.to_string(), problem: "not UTF-8 text".into() })
}

async fn fetch_json<T: serde::de::DeserializeOwned>(client: &reqwest::Client, url: &Url) -> Result<T, RuntimeError> {
    let bytes = fetch_capped(client, url).await?;
    serde_json::from_slice(&bytes).map_err(|err| RuntimeError::Unreachable {
        url: url.to_string(),
        problem: format!("not the index expected: {err}"),
    })
}

async fn fetch_capped(client: &reqwest::Client, url: &Url) -> Result<Vec<u8>, RuntimeError> {
    let unreachable = |problem: String| RuntimeError::Unreachable { url: url.to_string(), problem };
    let mut response =
        client.get(url.clone()).timeout(INDEX_TIMEOUT).send().await.map_err(|err| unreachable(describe(&err)))?;
    if !response.status().is_success() {
        return Err(unreachable(format!("it answered {}", response.status())));
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|err| unreachable(describe(&err)))? {
        if body.len() + chunk.len() > MAX_INDEX_BYTES {
            return Err(unreachable(format!("its answer is larger than {} MiB", MAX_INDEX_BYTES >> 20)));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// Why a request failed, with its causes (reqwest's own message names only the URL).
pub(crate) fn describe(err: &reqwest::Error) -> String {
    let what = if err.is_timeout() { "it timed out" } else { "it could not be reached" };
    format!("{what}: {}", slipway_core::causes::with_causes(err))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_lines_name_plain_files_only() {
        let sum = "a".repeat(64);
        let text = format!("{sum}  node.tar.gz\n{sum} *bin.tar.gz\n{sum}  ../up.tar.gz\nshort  x.tar.gz\n\n");
        let found: Vec<_> = sums(&text).map(|(_, name)| name).collect();
        assert_eq!(found, ["node.tar.gz", "bin.tar.gz"]);
    }

    #[test]
    fn mirrors_are_http_directories() {
        let url = RuntimeMirrors::parse_mirror("http://127.0.0.1:8080/node").expect("mirror");
        assert_eq!(url.as_str(), "http://127.0.0.1:8080/node/");
        for bad in ["file:///srv/node", "ftp://x/", "not a url", "http://x/?a=b"] {
            assert!(RuntimeMirrors::parse_mirror(bad).is_err(), "{bad}");
        }
        assert!(RuntimeMirrors::parse_release("20251014").is_ok());
        assert!(RuntimeMirrors::parse_release("../x").is_err());
    }
}
