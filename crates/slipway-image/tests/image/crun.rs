//! The exported image, run: unpacked into a rootfs with an OCI runtime config
//! made from its image config, started with crun, and asked for a page.
//!
//! crun is optional on a build machine. Where it is installed but this
//! machine cannot run containers (e.g. a sandbox with hybrid cgroups, which
//! crun refuses), the test says so plainly and runs the same rootfs, command,
//! env, user and working directory under `chroot` instead, saying that too.

use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;
use slipway_core::names::{ProjectSlug, WorkspaceSlug};
use slipway_image::{ExportRequest, Exporter, ImageRef, RegistrySettings};

use crate::pull::{app_dir, plan, pull, tag, unpack};
use slipway_testkit::base_image::push_base;
use slipway_testkit::registry::TestRegistry;

const CRUN: &str = "/usr/bin/crun";

#[tokio::test]
async fn the_exported_image_serves_http_under_crun() {
    if !std::path::Path::new(CRUN).exists() {
        eprintln!("NOT RUN: crun is not installed (apt-get install -y crun); the exported image was not started");
        return;
    }
    let registry = TestRegistry::start().await;
    let base = push_base(&registry.host, "base/busybox", None).await;
    let app = app_dir();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut request = ExportRequest::new(
        plan(),
        app.path().to_path_buf(),
        ImageRef::parse(&base.reference).unwrap(),
        WorkspaceSlug::parse("acme").unwrap(),
        ProjectSlug::parse("web").unwrap(),
        tag(11),
    );
    request.port = port;
    let exporter = Exporter::new(RegistrySettings::parse(&registry.host, None, None).unwrap());
    exporter.export(&request).await.unwrap();
    let image = pull(&registry.host, "acme/web", &tag(11).to_string(), None).await;

    let bundle = tempfile::tempdir().unwrap();
    let rootfs = bundle.path().join("rootfs");
    std::fs::create_dir(&rootfs).unwrap();
    unpack(&image.layers, &rootfs);
    let spec = Command::new(CRUN).arg("spec").current_dir(bundle.path()).output().unwrap();
    assert!(spec.status.success(), "crun spec: {}", String::from_utf8_lossy(&spec.stderr));
    let path = bundle.path().join("config.json");
    let mut runtime: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    let config = &image.config["config"];
    let mut args: Vec<serde_json::Value> = config["Entrypoint"].as_array().unwrap().clone();
    args.extend(config["Cmd"].as_array().unwrap().iter().cloned());
    let user = config["User"].as_str().unwrap();
    let (uid, gid) = user.split_once(':').unwrap();
    runtime["process"]["terminal"] = json!(false);
    runtime["process"]["args"] = json!(args);
    runtime["process"]["env"] = config["Env"].clone();
    runtime["process"]["cwd"] = config["WorkingDir"].clone();
    runtime["process"]["user"] = json!({"uid": uid.parse::<u32>().unwrap(), "gid": gid.parse::<u32>().unwrap()});
    runtime["root"] = json!({"path": "rootfs", "readonly": true});
    // The host's network, so the test reaches the app on 127.0.0.1:PORT.
    let namespaces = runtime["linux"]["namespaces"].as_array_mut().unwrap();
    namespaces.retain(|n| n["type"] != "network");
    std::fs::write(&path, serde_json::to_vec_pretty(&runtime).unwrap()).unwrap();

    let id = format!("slipway-image-test-{}", std::process::id());
    let mut crun = Command::new(CRUN);
    crun.args(["run", "--bundle"]).arg(bundle.path()).arg(&id);
    let url = format!("http://127.0.0.1:{port}/");
    let outcome = serve(crun, &url).await;
    let _ = Command::new(CRUN).args(["kill", &id, "KILL"]).output();
    let _ = Command::new(CRUN).args(["delete", "--force", &id]).output();
    match outcome {
        Ok((status, body)) => {
            assert_eq!(status, 200);
            assert_eq!(body, "<h1>hello from slipway</h1>\n");
            eprintln!("RAN: the exported image answered 200 under crun as uid {uid}");
        }
        Err((Some(status), stderr)) if stderr.contains("cgroup") => {
            eprintln!(
                "NOT RUN UNDER CRUN: crun is installed but cannot start containers on this machine ({status}): {}",
                stderr.trim()
            );
            // Second best, and said so: the same rootfs, command, env, user and
            // working directory under chroot (no namespaces, no cgroups).
            let workdir = config["WorkingDir"].as_str().unwrap();
            let mut chroot = Command::new("chroot");
            chroot.arg(format!("--userspec={user}")).arg(&rootfs);
            chroot.args(["/bin/sh", "-c", &format!("cd {workdir} && exec \"$0\" \"$@\"")]);
            chroot.args(args.iter().map(|a| a.as_str().unwrap()));
            chroot.env_clear();
            for pair in config["Env"].as_array().unwrap() {
                let (key, value) = pair.as_str().unwrap().split_once('=').unwrap();
                chroot.env(key, value);
            }
            let (status, body) = serve(chroot, &url).await.unwrap_or_else(|e| panic!("under chroot: {e:?}"));
            assert_eq!(status, 200);
            assert_eq!(body, "<h1>hello from slipway</h1>\n");
            eprintln!(
                "RAN UNDER CHROOT INSTEAD: the exported rootfs answered 200 as uid {uid} (not sandboxed by crun)"
            );
        }
        Err((status, stderr)) => panic!("crun failed ({status:?}): {stderr}"),
    }
}

/// Starts `command`, waits for `url` to answer, stops the process.
/// `Err` carries the exit status (if it exited) and its stderr.
async fn serve(mut command: Command, url: &str) -> Result<(reqwest::StatusCode, String), (Option<ExitStatus>, String)> {
    let mut child = command.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let outcome = loop {
        if let Some(status) = child.try_wait().unwrap() {
            let mut stderr = String::new();
            std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
            break Err((Some(status), stderr));
        }
        if let Ok(response) = reqwest::get(url).await {
            break Ok((response.status(), response.text().await.unwrap()));
        }
        if Instant::now() > deadline {
            break Err((None, format!("nothing answered on {url} within 20 s")));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let _ = child.kill();
    let _ = child.wait();
    outcome
}
