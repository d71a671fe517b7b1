//! The platform's proxy and CA settings reach build commands explicitly, and
//! a Dockerfile in the repository is named in the build log.

use std::collections::HashMap;
use std::ffi::OsString;

use slipway_build::{BuildNetwork, Builder};

use crate::support::{build, plan_running, Workspace};

#[tokio::test]
async fn proxy_and_ca_settings_reach_the_build_and_nothing_else_does() {
    let workspace = Workspace::new();
    let ca = workspace.root.path().join("corp-ca.pem");
    std::fs::write(&ca, "-----BEGIN CERTIFICATE-----\n").expect("write the CA");
    let platform: HashMap<&str, OsString> = HashMap::from([
        ("HTTPS_PROXY", "http://user:secret@proxy.internal:3128".into()),
        ("no_proxy", "localhost,.internal".into()),
        ("NODE_EXTRA_CA_CERTS", ca.clone().into_os_string()),
        ("PIP_CERT", "/nonexistent/ca.pem".into()),
        ("DATABASE_URL", "postgres://platform-secret@db/slipway".into()),
    ]);
    // Only the allowlisted names are ever asked for, so DATABASE_URL cannot get through.
    let network = BuildNetwork::from_lookup(|name| platform.get(name).cloned());
    assert_eq!(network.names(), ["HTTPS_PROXY", "no_proxy", "NODE_EXTRA_CA_CERTS"]);
    let builder = Builder::new(1).with_network(network);

    let app = workspace.app_from_files("app", &[]);
    let command = "echo \"proxy=$HTTPS_PROXY no_proxy=$no_proxy ca=$NODE_EXTRA_CA_CERTS \
                   pip=${PIP_CERT:-unset} db=${DATABASE_URL:-unset}\"; cat \"$NODE_EXTRA_CA_CERTS\"";
    let (result, log) = build(&builder, &plan_running(command), workspace.request(&app)).await;
    result.expect("build");
    let expected = format!(
        "proxy=http://user:secret@proxy.internal:3128 no_proxy=localhost,.internal ca={} pip=unset db=unset",
        ca.display()
    );
    assert!(log.contains(&expected), "{log:#?}");
    assert!(log.iter().any(|l| l == "-----BEGIN CERTIFICATE-----"), "the CA file is readable: {log:#?}");
    assert!(log.iter().any(|l| l == "Network settings from the platform: HTTPS_PROXY, no_proxy, NODE_EXTRA_CA_CERTS"));
    assert!(log.iter().any(|l| l.starts_with("PIP_CERT is not passed to the build: /nonexistent/ca.pem")), "{log:#?}");
    // The credentials in the proxy URL show only where the build's own command printed them.
    assert_eq!(log.iter().filter(|l| l.contains("secret")).count(), 1, "{log:#?}");
}

#[tokio::test]
async fn a_dockerfile_is_named_once_early_in_the_build_log() {
    let workspace = Workspace::new();
    for file in ["Dockerfile", "Containerfile"] {
        let app = workspace.app_from_files(file, &[(file, "FROM scratch\n")]);
        let (result, log) = build(&Builder::new(1), &plan_running("true"), workspace.request(&app)).await;
        result.expect("build");
        let notes: Vec<usize> = (0..log.len()).filter(|i| log[*i].contains(file)).collect();
        assert_eq!(notes.len(), 1, "{log:#?}");
        let line = &log[notes[0]];
        assert_eq!(
            line,
            &format!("{file} found: Slipway builds this app from source as a procfile app, as detected above, and does not use the {file}")
        );
        let first_command = log.iter().position(|l| l.starts_with("$ ")).expect("a command ran");
        assert!(notes[0] < first_command, "said before the build starts: {log:#?}");
    }
    // A directory named Dockerfile is not one.
    let app = workspace.app_from_files("dir", &[("Dockerfile/README", "")]);
    let (result, log) = build(&Builder::new(1), &plan_running("true"), workspace.request(&app)).await;
    result.expect("build");
    assert!(!log.iter().any(|l| l.contains("does not use")), "{log:#?}");
}
