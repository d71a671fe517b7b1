//! Java: `examples/java` (the JDK's HTTP server and Gson, shaded into one jar) built with the
//! machine's JDK and Maven, and its jar run.
//!
//! Maven Central cannot be reached from the machines these tests run on, so **Debian's Maven
//! repository stands in for it**: `/usr/share/maven-repo`, which Debian's packages fill
//! (maven-debian-helper, libmaven-{compiler,jar,resources,install,shade}-plugin-java,
//! libsurefire-java, and libgoogle-gson-java for the app's one dependency; .ci/run installs them),
//! given to the builder as the operator's mirror, `SLIPWAY_MAVEN_MIRROR=file:///usr/share/maven-repo`.
//! The example pins its plugins to the versions Debian carries (all of them on Central too).

use std::ffi::OsString;
use std::path::Path;

use slipway_build::{detect, BuildError, BuildNetwork, Builder, DetectError};
use slipway_core::stack::Stack;

use crate::support::{build, built, WebProcess, Workspace};

/// Debian's Maven repository, standing in for Maven Central.
const DEBIAN_MAVEN_REPO: &str = "file:///usr/share/maven-repo";

/// A builder whose platform sets `SLIPWAY_MAVEN_MIRROR=<mirror>`, and nothing else.
fn builder_with_mirror(mirror: &str) -> Builder {
    let mirror = OsString::from(mirror);
    Builder::new(1)
        .with_network(BuildNetwork::from_lookup(|name| (name == "SLIPWAY_MAVEN_MIRROR").then(|| mirror.clone())))
}

/// This machine's `java -version`, as `"17.0.15"` names it.
fn host_java_version() -> String {
    let output = std::process::Command::new("java")
        .arg("-version")
        .output()
        .expect("java (apt-get install default-jdk-headless)");
    let text = String::from_utf8_lossy(&output.stderr);
    text.split('"').nth(1).expect("a quoted version").to_owned()
}

#[tokio::test]
async fn a_plain_java_app_builds_with_maven_and_the_next_build_downloads_nothing() {
    let workspace = Workspace::new();
    let first = workspace.app_from_example("java", "release-1");
    // A version file asking for more than this machine has is said, and built anyway.
    std::fs::write(first.join("system.properties"), "java.runtime.version=99\n").expect("write");
    let plan = detect(&first).expect("plan");
    assert_eq!((plan.stack, plan.framework.as_deref()), (Stack::Java, None));
    assert_eq!(plan.package_manager.as_deref(), Some("maven"));
    assert_eq!(plan.build.as_deref(), Some("mvn -B -DskipTests package"));
    assert_eq!(plan.start.as_deref(), Some("java $JAVA_OPTS -jar target/hello-java-1.0.0.jar"));

    let (result, log) = build(&builder_with_mirror(DEBIAN_MAVEN_REPO), &plan, workspace.request(&first)).await;
    let app = built(result, &log);
    let host = host_java_version();
    for line in [
        format!("Building with this machine's JDK {host} (Slipway does not install JDKs)"),
        format!("system.properties asks for Java 99: this machine's JDK is {host}, which builds and runs the app"),
        "Maven's repositories are read through the platform's mirror file:///usr/share/maven-repo".to_owned(),
        "Maven's local repository in the build cache is empty".to_owned(),
        "$ mvn -B -DskipTests package".to_owned(),
        "[INFO] BUILD SUCCESS".to_owned(),
    ] {
        assert!(log.iter().any(|l| l.starts_with(&line)), "{line:?} not in {log:#?}");
    }
    // Quiet: no line per download, and Debian's repository (no checksums) raises no warnings.
    assert!(!log.iter().any(|l| l.contains("Downloaded from") || l.contains("Checksum")), "{log:#?}");
    // Its settings.xml and repository live in the cache, not in the release.
    let m2 = workspace.cache_dir().join("maven/.m2");
    let settings = std::fs::read_to_string(m2.join("settings.xml")).expect("settings.xml");
    assert!(settings.contains("<url>file:///usr/share/maven-repo</url>"), "{settings}");
    assert!(m2.join("repository/com/google/code/gson/gson/2.10/gson-2.10.jar").is_file());
    assert!(!first.join(".m2").exists() && !first.join("dependency-reduced-pom.xml").exists());
    assert!(
        app.env.contains(&("JAVA_TOOL_OPTIONS".to_owned(), "-XX:MaxRAMPercentage=75.0".to_owned())),
        "{:?}",
        app.env
    );

    let mut web = WebProcess::start(&app, plan.processes["web"].as_str());
    let body: serde_json::Value = serde_json::from_str(&web.get("/").await).expect("a JSON body");
    assert_eq!(body["greeting"], "hello from java hi", "{body}");
    assert_eq!(body["java"], host.as_str(), "{body}");
    drop(web);

    // The next build of the project finds the repository it left: with a mirror that holds
    // nothing at all, it still builds, so nothing was downloaded.
    let empty = workspace.root.path().join("empty-mirror");
    std::fs::create_dir_all(&empty).expect("mkdir");
    let second = workspace.app_from_example("java", "release-2");
    let mirror = format!("file://{}", empty.display());
    let (result, log) = build(&builder_with_mirror(&mirror), &plan, workspace.request(&second)).await;
    built(result, &log);
    let kept = log
        .iter()
        .find_map(|l| l.strip_prefix("Maven's local repository in the build cache holds "))
        .unwrap_or_else(|| panic!("no word of the cached repository in {log:#?}"));
    let jars: usize = kept.split(' ').next().and_then(|n| n.parse().ok()).expect("a count");
    assert!(jars > 10, "{kept}");
    assert!(second.join("target/hello-java-1.0.0.jar").is_file());

    // A build that left a symlink where Maven's settings go (the cache is the tenant's): the
    // platform refuses to write through it, and what it points at is untouched.
    let outside = workspace.root.path().join("outside-m2");
    std::fs::create_dir_all(&outside).expect("outside");
    std::fs::write(outside.join("settings.xml"), "mine").expect("a file");
    std::fs::remove_dir_all(&m2).expect("the .m2");
    std::os::unix::fs::symlink(&outside, &m2).expect("symlink");
    let third = workspace.app_from_example("java", "release-3");
    let (result, log) = build(&builder_with_mirror(&mirror), &plan, workspace.request(&third)).await;
    let err = match result {
        Ok(_) => panic!("built through a planted symlink: {log:#?}"),
        Err(err) => err.to_string(),
    };
    assert!(err.contains("symlink"), "{err}");
    assert_eq!(std::fs::read_to_string(outside.join("settings.xml")).expect("still there"), "mine");
}

/// A pom of `hello` 1.0 whose jar plugin is configured with `plugin` (inside `<plugins>`).
fn pom_with(version: &str, jar_plugin: &str) -> String {
    format!(
        "<project xmlns=\"http://maven.apache.org/POM/4.0.0\">\n  <modelVersion>4.0.0</modelVersion>\n  \
         <groupId>com.example</groupId>\n  <artifactId>hello</artifactId>\n  <version>{version}</version>\n  \
         <properties><maven.compiler.release>17</maven.compiler.release></properties>\n  <build><plugins>\n    \
         <plugin><artifactId>maven-resources-plugin</artifactId><version>3.3.0</version></plugin>\n    \
         <plugin><artifactId>maven-compiler-plugin</artifactId><version>3.10.1</version></plugin>\n    \
         <plugin><artifactId>maven-surefire-plugin</artifactId><version>2.22.3</version></plugin>\n    \
         <plugin><artifactId>maven-jar-plugin</artifactId><version>3.3.0</version>{jar_plugin}</plugin>\n  \
         </plugins></build>\n</project>\n"
    )
}

const MAIN: &str = "package example;\npublic class Main { public static void main(String[] a) {} }\n";

#[tokio::test]
async fn a_build_that_makes_no_jar_or_several_is_refused_naming_what_it_made() {
    let workspace = Workspace::new();
    let builder = builder_with_mirror(DEBIAN_MAVEN_REPO);
    // The jar plugin adds a classifier: target/hello-1.0.jar, which the start command names, is not made.
    let classified = pom_with("1.0", "<configuration><classifier>app</classifier></configuration>");
    let none = workspace.app_from_files("none", &[("pom.xml", &classified), ("src/main/java/example/Main.java", MAIN)]);
    let plan = detect(&none).expect("plan");
    assert_eq!(plan.start.as_deref(), Some("java $JAVA_OPTS -jar target/hello-1.0.jar"));
    let (result, log) = build(&builder, &plan, workspace.request(&none)).await;
    let err = result.expect_err("no such jar");
    assert!(log.iter().any(|l| l == "[INFO] BUILD SUCCESS"), "Maven itself succeeded: {log:#?}");
    let BuildError::Artifact(_) = &err else { panic!("{err:?}") };
    let message = err.to_string();
    for words in [
        "the build finished, but the web process runs target/hello-1.0.jar, which the build did not make",
        "(it made target/hello-1.0-app.jar)",
        "Procfile",
        "<finalName>",
    ] {
        assert!(message.contains(words), "{words:?} not in: {message}");
    }

    // A version only the command line sets (CI-friendly `${revision}` in .mvn/maven.config): the
    // start command runs the one jar in target/, and this build makes two.
    let two = "<executions><execution><id>api</id><goals><goal>jar</goal></goals>\
               <configuration><classifier>api</classifier></configuration></execution></executions>";
    let several = workspace.app_from_files(
        "several",
        &[
            ("pom.xml", &pom_with("${revision}", two)),
            (".mvn/maven.config", "-Drevision=2.0\n"),
            ("src/main/java/example/Main.java", MAIN),
        ],
    );
    let plan = detect(&several).expect("plan");
    assert_eq!(plan.start.as_deref(), Some("java $JAVA_OPTS -jar target/*.jar"));
    let (result, log) = build(&builder, &plan, workspace.request(&several)).await;
    let message = result.expect_err("two jars").to_string();
    assert!(log.iter().any(|l| l == "[INFO] BUILD SUCCESS"), "{log:#?}");
    assert!(
        message.contains("runs the one jar that matches target/*.jar, and the build made several (target/hello-2.0-api.jar, target/hello-2.0.jar)"),
        "{message}"
    );
}

#[tokio::test]
async fn a_machine_without_a_jdk_or_maven_is_refused_before_anything_runs() {
    let workspace = Workspace::new();
    let app = workspace.app_from_example("java", "app");
    let plan = detect(&app).expect("Java is detected whatever the machine has");
    // A PATH without java stands in for a machine without a JDK, whether or not this one has one.
    let mut request = workspace.request(&app);
    request.env.push(("PATH".to_owned(), "/nonexistent".to_owned()));
    let (result, log) = build(&Builder::new(1), &plan, request).await;
    let err = result.expect_err("no java");
    assert!(matches!(&err, BuildError::ToolMissing { tool, stack: Stack::Java } if tool == "java"), "{err:?}");
    let message = err.to_string();
    assert!(message.starts_with("java is not installed on this machine, and this java app needs it"), "{message}");
    assert!(message.contains("install a JDK") && message.contains("default-jdk-headless"), "{message}");
    assert!(!log.iter().any(|l| l.starts_with("$ ")), "nothing ran: {log:#?}");

    // A JDK but no Maven (and no wrapper): the same, naming Maven and the wrapper.
    let jdk_only = workspace.root.path().join("jdk-only");
    std::fs::create_dir_all(&jdk_only).expect("mkdir");
    for tool in ["java", "javac"] {
        let found = which(tool).unwrap_or_else(|| panic!("{tool} on this machine's PATH"));
        std::os::unix::fs::symlink(found, jdk_only.join(tool)).expect("symlink");
    }
    let mut request = workspace.request(&app);
    // Only java and javac: /bin is /usr/bin on this machine, where mvn is.
    request.env.push(("PATH".to_owned(), jdk_only.display().to_string()));
    let (result, _) = build(&Builder::new(1), &plan, request).await;
    let err = result.expect_err("no mvn");
    assert!(matches!(&err, BuildError::ToolMissing { tool, .. } if tool == "mvn"), "{err:?}");
    assert!(err.to_string().contains("install Maven") && err.to_string().contains("mvnw"), "{err}");
}

#[tokio::test]
async fn a_pom_compiling_for_a_newer_java_than_the_machines_is_refused_before_maven_runs() {
    let workspace = Workspace::new();
    let app = workspace.app_from_example("java", "app");
    let pom = std::fs::read_to_string(app.join("pom.xml")).expect("pom");
    let pom = pom.replace(
        "<maven.compiler.release>17</maven.compiler.release>",
        "<maven.compiler.release>99</maven.compiler.release>",
    );
    std::fs::write(app.join("pom.xml"), pom).expect("write");
    let plan = detect(&app).expect("plan");
    let (result, log) = build(&builder_with_mirror(DEBIAN_MAVEN_REPO), &plan, workspace.request(&app)).await;
    let err = result.expect_err("too new");
    assert!(matches!(&err, BuildError::JavaTooOld { asked: 99, .. }), "{err:?}");
    let message = err.to_string();
    assert!(
        message.starts_with("maven.compiler.release in pom.xml asks for Java 99, and this machine's JDK is"),
        "{message}"
    );
    assert!(!log.iter().any(|l| l.starts_with("$ mvn")), "Maven did not run: {log:#?}");
}

#[test]
fn gradle_without_its_wrapper_is_refused_at_detection() {
    let workspace = Workspace::new();
    let app = workspace.app_from_files(
        "gradle",
        &[
            ("build.gradle", "plugins {\n  id 'java'\n  id 'org.springframework.boot' version '3.3.0'\n}\n"),
            ("settings.gradle", "rootProject.name = 'demo'\n"),
            ("src/main/java/demo/App.java", ""),
        ],
    );
    let err = detect(&app).expect_err("no gradlew");
    let DetectError::CannotBuild { stack: Stack::Java, from, .. } = &err else { panic!("{err:?}") };
    assert_eq!(from, "build.gradle, settings.gradle");
    assert!(err.to_string().contains("Run `gradle wrapper` and commit gradlew and gradle/wrapper/"), "{err}");
}

fn which(tool: &str) -> Option<std::path::PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?).map(|dir| dir.join(tool)).find(|p| is_file(p))
}

fn is_file(path: &Path) -> bool {
    path.metadata().is_ok_and(|m| m.is_file())
}
