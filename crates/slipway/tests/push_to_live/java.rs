//! Java, pushed with git: `examples/java` (the JDK's HTTP server and Gson, shaded into one jar)
//! built by Maven in the build sandbox and run by the machine's JDK in the app sandbox, behind the
//! router.
//!
//! Maven Central cannot be reached from the machines these tests run on: **Debian's Maven
//! repository stands in for it** (`/usr/share/maven-repo`, filled by Debian's packages of the
//! Maven plugins and of Gson; .ci/run installs them), given to the platform as its Maven mirror,
//! `SLIPWAY_MAVEN_MIRROR=file:///usr/share/maven-repo` — the sandboxes see it, as they see all of
//! `/usr`. Spring Boot is not among Debian's packages, so no Spring Boot app is pushed here: its
//! detection is covered by the detector's unit tests and the detection table.

use serde_json::Value;
use slipway_testkit::platform::Platform;

use crate::{assert_contains, platform_with};

const DEBIAN_MAVEN_REPO: &str = "file:///usr/share/maven-repo";

/// This machine's JDK version, as `java -version` quotes it (`17.0.15`).
fn host_java_version() -> String {
    let output = std::process::Command::new("java").arg("-version").output().expect("java (default-jdk-headless)");
    let text = String::from_utf8_lossy(&output.stderr).into_owned();
    text.split('"').nth(1).expect("a quoted version").to_owned()
}

async fn served_json(platform: &Platform, app: &slipway_testkit::platform::App) -> Value {
    let (status, body) = platform.get(app, "/").await.expect("an answer through the router");
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).unwrap_or_else(|err| panic!("{err}: {body}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_plain_java_app_builds_with_maven_and_runs_in_the_sandbox_sized_to_its_memory() {
    let (platform, app, source, token) =
        platform_with("java", &[("SLIPWAY_MAVEN_MIRROR", DEBIAN_MAVEN_REPO)], "java").await;

    // It ran: Gson wrote the body, on this machine's JDK.
    let body = served_json(&platform, &app).await;
    assert_eq!(body["greeting"], "hello from java", "{body}");
    assert_eq!(body["java"], host_java_version().as_str(), "{body}");
    // The instance's 512 MiB and one core reached the sandboxed JVM, which sees no cgroup itself:
    // the heap is three quarters of the limit (a little less, as the JVM counts it), not a quarter
    // of the machine's memory.
    let heap = body["max_heap_mib"].as_u64().expect("max_heap_mib");
    assert!((300..=384).contains(&heap), "max heap {heap} MiB for a 512 MiB instance: {body}");
    assert_eq!(body["processors"], 1, "{body}");

    let deployment = platform.deployment(&app, 1).await;
    assert_eq!(deployment["plan"]["stack"], "java", "{deployment}");
    assert_eq!(deployment["plan"]["processes"]["web"], "java $JAVA_OPTS -jar target/hello-java-1.0.0.jar");
    let log = platform.deployment_log(&app, 1).await;
    for line in [
        "Detected java with maven (from pom.xml)",
        "Maven's repositories are read through the platform's mirror file:///usr/share/maven-repo",
        "Maven's local repository in the build cache is empty",
        "$ mvn -B -DskipTests package",
        "BUILD SUCCESS",
    ] {
        assert_contains(&log, line);
    }

    // A redeploy builds from the Maven repository the first build left in the project's cache.
    platform.cli_ok(&app, &["config:set", "GREETING=ahoy"]).await;
    source.commit("redeploy").await;
    let push = source.push(&platform.remote(&app, &token), "main").await;
    assert_eq!(push.deployed(), 2, "{}", push.output);
    assert_contains(&push.output, "Maven's local repository in the build cache holds ");
    let body = served_json(&platform, &app).await;
    assert_eq!(body["greeting"], "hello from java ahoy", "{body}");
}
