//! Java: the build machine's JDK compiles and runs the app; Maven (the
//! machine's `mvn` or the repository's `mvnw`) or the repository's `gradlew`
//! builds the jar the release carries in its `target/` (`build/libs/`), and
//! the instances run it with the same JDK — the host's `/usr`, which every
//! sandbox shows read-only.
//!
//! Maven is given a home in the project cache (`-Duser.home=<cache>/maven`
//! in `MAVEN_OPTS`): its local repository (`<cache>/maven/.m2/repository`)
//! survives the build, so a redeploy downloads nothing it already has, and
//! the wrapper's Maven distributions land beside it; Gradle's home is
//! `<cache>/gradle`. Slipway writes Maven's `settings.xml` there before every
//! build: the operator's mirror (`SLIPWAY_MAVEN_MIRROR`, for every repository
//! but the app's local ones) and the proxies of the build's environment, which
//! Maven does not read from variables. Transfers are not logged line by line
//! (hundreds of them); the plugins' own lines show the build's progress.
//!
//! A JVM sizes itself from the cgroup it finds, and a sandboxed one finds
//! none: every JVM of the build gets the build's limits in
//! `JAVA_TOOL_OPTIONS` ([`Resources::jvm_flags`]), the instances theirs from
//! the agent, and the release `-XX:MaxRAMPercentage=75` (the heap's share).
//!
//! The Java versions a tree asks for are weighed against the machine's JDK,
//! never installed: a pom that compiles for a newer Java than the JDK's is
//! refused before Maven runs (javac cannot); a version file asking for more
//! (system.properties, .java-version, …) is said in the log and built anyway.
//!
//! [`Resources::jvm_flags`]: slipway_core::resources::Resources::jvm_flags

use std::path::{Path, PathBuf};

use slipway_core::runtime::java_major;

use super::cache;
use super::env::BuildEnv;
use super::{capture, require, BuildError, BuiltApp, Context, Prepared};
use crate::detect::java::is_compiler_ask;

/// What the release's JVMs run with: the heap may take three quarters of the instance's memory
/// (the JVM's default is a quarter, for machines that run more than one program).
pub(crate) const RUN_JAVA_TOOL_OPTIONS: &str = "-XX:MaxRAMPercentage=75.0";
/// Maven's output without a line per download, and without jansi's stray colour resets.
const QUIET_MAVEN: &str =
    "-Djansi.noreset=true -Dorg.slf4j.simpleLogger.log.org.apache.maven.cli.transfer.Slf4jMavenTransferListener=warn";
/// How many files of the local repository are counted for the log, at most.
const MAX_COUNTED: usize = 1_000_000;

pub(crate) async fn prepare(
    cx: &Context<'_>,
    env: &mut BuildEnv,
    built: &mut BuiltApp,
) -> Result<Prepared, BuildError> {
    // The processes run `java`; a build of Maven or Gradle compiles with javac.
    require(env, "java", cx.plan)?;
    let words = || cx.commands().flat_map(str::split_whitespace);
    if words().any(|w| matches!(w, "mvn" | "./mvnw" | "./gradlew")) {
        require(env, "javac", cx.plan)?;
    }
    if words().any(|w| w == "mvn") {
        require(env, "mvn", cx.plan)?;
    }
    check_versions(cx, env).await?;

    let cache = cx.request.cache_dir.as_path();
    let maven_home = cache.join("maven");
    let m2 = maven_home.join(".m2");
    let mut maven_opts = format!("-Duser.home={} {QUIET_MAVEN}", maven_home.display());
    if let Some(own) = env.get("MAVEN_OPTS").and_then(|v| v.to_str()).filter(|v| !v.trim().is_empty()) {
        maven_opts.push(' ');
        maven_opts.push_str(own);
    }
    env.set("MAVEN_OPTS", maven_opts);
    // The wrapper's downloads of Maven itself (mvnw 3.x reads MAVEN_USER_HOME, older ones user.home).
    env.set("MAVEN_USER_HOME", &m2);
    env.set("GRADLE_USER_HOME", cache.join("gradle"));
    let mirror = cx.network.maven_mirror();
    if let Some(mirror) = mirror {
        // mvnw takes Maven's own distribution from the mirror too.
        env.set("MVNW_REPOURL", mirror.trim_end_matches('/'));
    }
    let mut tool_options = cx.request.sandbox.resources.jvm_flags();
    if let Some(own) = env.get("JAVA_TOOL_OPTIONS").and_then(|v| v.to_str()).filter(|v| !v.trim().is_empty()) {
        tool_options.push(' ');
        tool_options.push_str(own);
    }
    env.set("JAVA_TOOL_OPTIONS", tool_options);
    built.env.push(("JAVA_TOOL_OPTIONS".to_owned(), RUN_JAVA_TOOL_OPTIONS.to_owned()));

    let repository = m2.join("repository");
    let settings = settings_xml(&repository, mirror, env);
    write_settings(cx, &m2, &settings).await?;
    if !words().any(|w| matches!(w, "mvn" | "./mvnw")) {
        if mirror.is_some() && words().any(|w| w == "./gradlew") {
            cx.log
                .line("SLIPWAY_MAVEN_MIRROR is not given to Gradle, which reads the repositories its build file names")
                .await;
        }
        return Ok(Prepared::run_install());
    }
    if let Some(mirror) = mirror {
        cx.log
            .line(format!(
                "Maven's repositories are read through the platform's mirror {} (SLIPWAY_MAVEN_MIRROR)",
                slipway_core::redact::redact_url(mirror)
            ))
            .await;
    }
    let kept = count_jars(&repository).await;
    cx.log
        .line(match kept {
            0 => "Maven's local repository in the build cache is empty: what the build downloads is kept for the \
                  next one"
                .to_owned(),
            n => format!("Maven's local repository in the build cache holds {n} jars from earlier builds"),
        })
        .await;
    Ok(Prepared::run_install())
}

/// The machine's JDK against what the tree asks for (see the module's doc).
async fn check_versions(cx: &Context<'_>, env: &BuildEnv) -> Result<(), BuildError> {
    let described = capture(cx, env, "java", &["-version"]).await.unwrap_or_default();
    // `openjdk version "17.0.15" 2025-04-15`: the quoted part (after any `Picked up …` line).
    let host =
        described.lines().find(|l| l.contains(" version \"")).and_then(|l| l.split('"').nth(1)).map(str::to_owned);
    let host_major = host.as_deref().and_then(java_major);
    let host = host.unwrap_or_else(|| "of unknown version".to_owned());
    cx.log.line(format!("Building with this machine's JDK {host} (Slipway does not install JDKs)")).await;
    let Some(host_major) = host_major else { return Ok(()) };
    for ask in &cx.plan.runtime_asks {
        let Some(asked) = java_major(&ask.version) else { continue };
        if asked <= host_major {
            continue;
        }
        if is_compiler_ask(ask) {
            return Err(BuildError::JavaTooOld { asked_by: ask.source.clone(), asked, host });
        }
        cx.log
            .line(format!(
                "{} asks for Java {}: this machine's JDK is {host}, which builds and runs the app (install a JDK \
                 {asked} on the build machine if the app needs it)",
                ask.source, ask.version
            ))
            .await;
    }
    Ok(())
}

/// Maven's user settings: the local repository in the cache, the operator's mirror, the proxies.
fn settings_xml(repository: &Path, mirror: Option<&str>, env: &BuildEnv) -> String {
    let mut xml = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!-- Written by Slipway before every build; changes here are \
         lost. -->\n<settings xmlns=\"http://maven.apache.org/SETTINGS/1.0.0\">\n",
    );
    xml.push_str(&format!("  <localRepository>{}</localRepository>\n", escape(&repository.to_string_lossy())));
    xml.push_str("  <interactiveMode>false</interactiveMode>\n");
    let proxies = proxies(env);
    if !proxies.is_empty() {
        xml.push_str("  <proxies>\n");
        for proxy in proxies {
            xml.push_str(&proxy);
        }
        xml.push_str("  </proxies>\n");
    }
    if let Some(mirror) = mirror {
        // Every repository but the app's own on this machine (`file:` and localhost ones).
        xml.push_str(&format!(
            "  <mirrors>\n    <mirror>\n      <id>slipway-mirror</id>\n      <name>The platform's Maven mirror</name>\n      \
             <url>{}</url>\n      <mirrorOf>external:*</mirrorOf>\n    </mirror>\n  </mirrors>\n",
            escape(mirror)
        ));
        if mirror.starts_with("file:") {
            // A repository on this machine's disk carries no checksums (Debian's does not): Maven
            // would warn, with a stack trace, about every file.
            xml.push_str(LOCAL_MIRROR_PROFILE);
        }
    }
    xml.push_str("</settings>\n");
    xml
}

/// Central (which the mirror stands for) without checksum checks, for a mirror on this machine.
const LOCAL_MIRROR_PROFILE: &str = "  <profiles>\n    <profile>\n      <id>slipway-local-mirror</id>\n      \
<repositories>\n        <repository>\n          <id>central</id>\n          <url>https://repo.maven.apache.org/maven2</url>\n          \
<releases><checksumPolicy>ignore</checksumPolicy></releases>\n          <snapshots><enabled>false</enabled></snapshots>\n        \
</repository>\n      </repositories>\n      <pluginRepositories>\n        <pluginRepository>\n          <id>central</id>\n          \
<url>https://repo.maven.apache.org/maven2</url>\n          <releases><checksumPolicy>ignore</checksumPolicy></releases>\n          \
<snapshots><enabled>false</enabled></snapshots>\n        </pluginRepository>\n      </pluginRepositories>\n    </profile>\n  \
</profiles>\n  <activeProfiles>\n    <activeProfile>slipway-local-mirror</activeProfile>\n  </activeProfiles>\n";

/// `<proxy>` entries for the build environment's `HTTP_PROXY` and `HTTPS_PROXY` (either spelling),
/// with `NO_PROXY` as Maven's `nonProxyHosts`.
fn proxies(env: &BuildEnv) -> Vec<String> {
    let get = |names: [&str; 2]| {
        names
            .iter()
            .find_map(|name| env.get(name).and_then(|v| v.to_str()).filter(|v| !v.is_empty()).map(str::to_owned))
    };
    let non_proxy: Vec<String> = get(["NO_PROXY", "no_proxy"])
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|host| !host.is_empty())
        .map(|host| if host.starts_with('.') { format!("*{host}") } else { host.to_owned() })
        .collect();
    let mut entries = Vec::new();
    for (protocol, names) in [("http", ["HTTP_PROXY", "http_proxy"]), ("https", ["HTTPS_PROXY", "https_proxy"])] {
        let Some(value) = get(names) else { continue };
        let Ok(url) = reqwest::Url::parse(&value) else { continue };
        let Some(host) = url.host_str() else { continue };
        let port = url.port_or_known_default().unwrap_or(80);
        let mut entry = format!(
            "    <proxy>\n      <id>slipway-{protocol}</id>\n      <active>true</active>\n      \
             <protocol>{protocol}</protocol>\n      <host>{}</host>\n      <port>{port}</port>\n",
            escape(host)
        );
        if !url.username().is_empty() {
            let decode = |text: &str| {
                slipway_core::percent::decode(text)
                    .and_then(|bytes| String::from_utf8(bytes).ok())
                    .unwrap_or_else(|| text.to_owned())
            };
            entry.push_str(&format!("      <username>{}</username>\n", escape(&decode(url.username()))));
            entry.push_str(&format!(
                "      <password>{}</password>\n",
                escape(&decode(url.password().unwrap_or_default()))
            ));
        }
        if !non_proxy.is_empty() {
            entry.push_str(&format!("      <nonProxyHosts>{}</nonProxyHosts>\n", escape(&non_proxy.join("|"))));
        }
        entry.push_str("    </proxy>\n");
        entries.push(entry);
    }
    entries
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&apos;")
}

/// Writes `<m2>/settings.xml` as the platform into the tenant's cache: never through a symlink
/// the tenant planted (the path is checked, the file written under a fresh name and renamed
/// over), readable by the build's uid, and handed to it with the directories made for it.
async fn write_settings(cx: &Context<'_>, m2: &Path, settings: &str) -> Result<(), BuildError> {
    let cache = cx.request.cache_dir.clone();
    let m2 = m2.to_owned();
    let settings = settings.to_owned();
    let owner = cx.request.sandbox.sandbox.is_enforced().then_some(cx.request.sandbox.uid.get());
    let io = |context: String| move |source: std::io::Error| BuildError::Io { context, source };
    tokio::task::spawn_blocking(move || write_settings_blocking(&cache, &m2, &settings, owner))
        .await
        .map_err(|err| BuildError::Io {
            context: "writing Maven's settings".to_owned(),
            source: std::io::Error::other(err),
        })?
        .map_err(io("cannot write Maven's settings.xml into the build cache".to_owned()))
}

fn write_settings_blocking(cache: &Path, m2: &Path, settings: &str, owner: Option<u32>) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let target = m2.join("settings.xml");
    if !cache::no_links_below(cache, &target) {
        return Err(std::io::Error::other("the build replaced part of its path with a symlink"));
    }
    let home = m2.parent().unwrap_or(m2);
    for dir in [home, m2] {
        match std::fs::create_dir(dir) {
            Ok(()) => {
                if let Some(uid) = owner {
                    std::os::unix::fs::lchown(dir, Some(uid), Some(uid))?;
                }
            }
            Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(err) => return Err(err),
        }
    }
    let temp = cache::temp_beside(&target);
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o644)
        .custom_flags(nix::fcntl::OFlag::O_NOFOLLOW.bits())
        .open(&temp)?;
    file.write_all(settings.as_bytes())?;
    if let Some(uid) = owner {
        std::os::unix::fs::fchown(&file, Some(uid), Some(uid))?;
    }
    drop(file);
    std::fs::rename(&temp, &target).inspect_err(|_| {
        let _ = std::fs::remove_file(&temp);
    })
}

/// The jars in Maven's local repository (as the platform, never following a link).
async fn count_jars(repository: &Path) -> usize {
    let repository = repository.to_owned();
    tokio::task::spawn_blocking(move || {
        let (mut jars, mut seen) = (0, 0);
        let mut dirs = vec![repository];
        while let Some(dir) = dirs.pop() {
            let Ok(entries) = std::fs::read_dir(&dir) else { continue };
            for entry in entries.flatten() {
                seen += 1;
                if seen > MAX_COUNTED {
                    return jars;
                }
                let Ok(kind) = entry.file_type() else { continue };
                if kind.is_dir() {
                    dirs.push(entry.path());
                } else if kind.is_file() && entry.file_name().to_string_lossy().ends_with(".jar") {
                    jars += 1;
                }
            }
        }
        jars
    })
    .await
    .unwrap_or(0)
}

/// After the build: the jar each process runs (`java … -jar <path>`) is there, and a pattern
/// (`target/*.jar`, when the build file computes the name) matches exactly one file. Otherwise
/// the build fails now, naming what the build made, rather than the release at start.
pub(crate) async fn check_jars(cx: &Context<'_>) -> Result<(), BuildError> {
    let app = cx.request.app_dir.as_path();
    for (process, command) in &cx.plan.processes {
        let Some(jar) = jar_argument(command) else { continue };
        let (dir, pattern) = match jar.rsplit_once('/') {
            Some((dir, name)) => (dir, name),
            None => (".", jar),
        };
        if dir.contains('*') {
            continue;
        }
        let made =
            files_in(&app.join(dir), ".jar").into_iter().chain(files_in(&app.join(dir), ".war")).collect::<Vec<_>>();
        let shown = |names: &[String]| {
            if names.is_empty() {
                format!("no jar in {dir}/")
            } else {
                names.iter().map(|n| format!("{dir}/{n}")).collect::<Vec<_>>().join(", ")
            }
        };
        let what_to_do = "name the jar that runs in a Procfile (`web: java -jar target/<name>.jar`), or make the \
                          build name it (<finalName> in pom.xml; rootProject.name and version for Gradle)";
        match pattern.split_once('*') {
            None => {
                if !app.join(dir).join(pattern).is_file() {
                    return Err(BuildError::Artifact(format!(
                        "the {process} process runs {jar}, which the build did not make (it made {}): {what_to_do}",
                        shown(&made)
                    )));
                }
            }
            Some((prefix, suffix)) => {
                let matching: Vec<String> = made
                    .into_iter()
                    .filter(|n| n.len() >= prefix.len() + suffix.len() && n.starts_with(prefix) && n.ends_with(suffix))
                    .collect();
                match matching.as_slice() {
                    [one] => cx.log.line(format!("The {process} process runs {dir}/{one}")).await,
                    _ => {
                        let count = if matching.is_empty() { "none" } else { "several" };
                        return Err(BuildError::Artifact(format!(
                            "the {process} process runs the one jar that matches {jar}, and the build made {count} \
                             ({}): {what_to_do}",
                            shown(&matching)
                        )));
                    }
                }
            }
        }
    }
    Ok(())
}

/// The word after `-jar` in a command, when it is a path in the app (not a variable, not absolute).
fn jar_argument(command: &str) -> Option<&str> {
    let mut words = command.split_whitespace();
    words.find(|w| *w == "-jar")?;
    let jar = words.next()?.trim_matches(['"', '\'']);
    (!jar.is_empty() && !jar.starts_with('/') && !jar.contains('$') && !jar.split('/').any(|p| p == ".."))
        .then_some(jar)
}

/// The names of the regular files in `dir` ending with `extension`, sorted.
fn files_in(dir: &PathBuf, extension: &str) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    let mut names: Vec<String> = entries
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|name| name.ends_with(extension))
        .collect();
    names.sort();
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_jar_a_command_runs() {
        assert_eq!(jar_argument("java $JAVA_OPTS -jar target/app-1.0.jar"), Some("target/app-1.0.jar"));
        assert_eq!(jar_argument("java -Dserver.port=$PORT -jar build/libs/*.jar --debug"), Some("build/libs/*.jar"));
        assert_eq!(jar_argument("java -jar 'app.jar'"), Some("app.jar"));
        for other in ["java -cp target/classes App", "java -jar $JAR", "java -jar /opt/app.jar", "java -jar ../x.jar"] {
            assert_eq!(jar_argument(other), None, "{other}");
        }
    }

    #[test]
    fn settings_carry_the_cache_the_mirror_and_the_proxies() {
        let network = [
            ("HTTPS_PROXY", std::ffi::OsString::from("http://us%40er:p%26ss@proxy.internal:3128")),
            ("NO_PROXY", "localhost,.internal".into()),
        ];
        let env = BuildEnv::new(&[], &network);
        let xml =
            settings_xml(Path::new("/cache/maven/.m2/repository"), Some("https://nexus.internal/maven?a=1&b=2"), &env);
        let document = roxmltree::Document::parse(&xml).expect("well-formed");
        let text = |name: &str| {
            document.descendants().find(|n| n.tag_name().name() == name).and_then(|n| n.text()).map(str::to_owned)
        };
        assert_eq!(text("localRepository").as_deref(), Some("/cache/maven/.m2/repository"));
        assert_eq!(text("url").as_deref(), Some("https://nexus.internal/maven?a=1&b=2"));
        assert_eq!(text("mirrorOf").as_deref(), Some("external:*"));
        assert_eq!(text("protocol").as_deref(), Some("https"));
        assert_eq!(text("host").as_deref(), Some("proxy.internal"));
        assert_eq!(text("port").as_deref(), Some("3128"));
        assert_eq!(text("username").as_deref(), Some("us@er"));
        assert_eq!(text("password").as_deref(), Some("p&ss"));
        assert_eq!(text("nonProxyHosts").as_deref(), Some("localhost|*.internal"));
        // An https mirror keeps Maven's checksum checks; a directory on this machine has none to check.
        assert!(!xml.contains("checksumPolicy"));
        let xml = settings_xml(Path::new("/r"), Some("file:///usr/share/maven-repo"), &BuildEnv::new(&[], &[]));
        roxmltree::Document::parse(&xml).expect("well-formed");
        assert!(xml.contains("<checksumPolicy>ignore</checksumPolicy>") && !xml.contains("<proxies>"), "{xml}");
        // Without a mirror, Maven's own repositories.
        let xml = settings_xml(Path::new("/r"), None, &BuildEnv::new(&[], &[]));
        assert!(!xml.contains("<mirrors>"), "{xml}");
    }
}
