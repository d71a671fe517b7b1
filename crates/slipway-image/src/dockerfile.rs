//! A Dockerfile per detected stack, for users who build images elsewhere.
//!
//! Every file has the same shape: a build stage that runs the plan's install
//! and build commands on the stack's official image, and a run stage that
//! copies the built `/app` and starts the `web` process as uid 1000 with
//! `PORT` set. Base images are pinned by version tag (from the plan's runtime
//! version when it has one) and passed as `ARG`s, so pinning by digest is a
//! `--build-arg BUILD_IMAGE=name:tag@sha256:…` away without editing. No config
//! var appears in the file: they are secrets or per-environment, and belong
//! to the run (`docker run -e`, Kubernetes env), never to an image layer.

use slipway_core::build_plan::{BuildPlan, WEB_PROCESS};
use slipway_core::stack::Stack;

use crate::command::{container_command, for_container, serve_php_root, serve_php_script, ENTRYPOINT};

/// The port the generated image listens on unless `PORT` is overridden at run time.
pub const DEFAULT_PORT: u16 = 8080;

const DEBIAN: &str = "debian:12-slim";
/// Composer itself, copied into a PHP app's build stage from its official image.
const COMPOSER: &str = "composer:2.8";
/// Where a PHP app's image keeps the script that serves it.
const SERVE_PHP: &str = "/usr/local/bin/slipway-serve-php";
const BUSYBOX: &str = "busybox:1.37";
const CREATE_USER: &str =
    "RUN groupadd --gid 1000 app && useradd --uid 1000 --gid 1000 --no-create-home --shell /usr/sbin/nologin app";

/// What a Ruby app's processes run with, in Slipway's builds and in the image alike.
const RUBY_RUN_ENV: [(&str, &str); 4] = [
    ("RACK_ENV", "production"),
    ("RAILS_ENV", "production"),
    ("RAILS_LOG_TO_STDOUT", "1"),
    ("RAILS_SERVE_STATIC_FILES", "1"),
];

/// A run image's user 1000 where it has none yet (Ubuntu-based images already have `ubuntu`).
const ENSURE_USER: &str = "RUN getent passwd 1000 >/dev/null || (groupadd --gid 1000 app && useradd --uid 1000 --gid \
                           1000 --no-create-home --shell /usr/sbin/nologin app)";
/// The JDK of images whose tree asks for no Java version: the current long-term release.
const DEFAULT_JAVA: u32 = 21;

/// What differs between stacks.
struct StackImages {
    build_image: String,
    run_image: String,
    /// Lines of the build stage before the install (environment, tools).
    build_setup: Vec<String>,
    /// Lines of the run stage before the copy of `/app` (user, extra copies).
    run_setup: Vec<String>,
    run_env: Vec<(&'static str, String)>,
    note: Option<&'static str>,
    /// More images the build copies from: (ARG name, image, stage name).
    extra_images: Vec<(&'static str, &'static str, &'static str)>,
}

/// The Dockerfile for `plan`.
pub fn dockerfile(plan: &BuildPlan) -> String {
    let version = plan.asked_version();
    let mut stack = match plan.stack {
        Stack::Node => {
            let image = format!("node:{}-bookworm-slim", major(version).unwrap_or("22"));
            StackImages {
                build_image: image.clone(),
                run_image: image,
                build_setup: Vec::new(),
                // The official node images already have the user `node` with uid 1000.
                run_setup: Vec::new(),
                run_env: vec![
                    ("NODE_ENV", "production".to_owned()),
                    ("PATH", "/app/node_modules/.bin:$PATH".to_owned()),
                ],
                note: None,
                extra_images: Vec::new(),
            }
        }
        Stack::Python => {
            let image = format!("python:{}-slim-bookworm", major_minor(version).unwrap_or("3.12"));
            let venv = "VIRTUAL_ENV=/opt/venv PATH=/opt/venv/bin:$PATH PYTHONUNBUFFERED=1";
            StackImages {
                build_image: image.clone(),
                run_image: image,
                build_setup: vec![format!("ENV {venv}"), "RUN python -m venv /opt/venv".to_owned()],
                run_setup: vec![CREATE_USER.to_owned(), "COPY --from=build /opt/venv /opt/venv".to_owned()],
                run_env: vec![("VIRTUAL_ENV", "/opt/venv".to_owned()), ("PATH", "/opt/venv/bin:$PATH".to_owned())],
                note: None,
                extra_images: Vec::new(),
            }
        }
        Stack::Go => StackImages {
            build_image: format!("golang:{}-bookworm", major_minor(version).unwrap_or("1.23")),
            run_image: DEBIAN.to_owned(),
            // A static binary runs on the slim image without the toolchain.
            build_setup: vec!["ENV CGO_ENABLED=0".to_owned()],
            run_setup: vec![CREATE_USER.to_owned()],
            run_env: Vec::new(),
            note: None,
            extra_images: Vec::new(),
        },
        Stack::Rust => StackImages {
            build_image: format!("rust:{}-bookworm", major_minor(version).unwrap_or("1.85")),
            run_image: DEBIAN.to_owned(),
            // Outside /app, so the multi-gigabyte target dir is not copied into the image.
            build_setup: vec!["ENV CARGO_TARGET_DIR=/tmp/target".to_owned()],
            run_setup: vec![CREATE_USER.to_owned()],
            run_env: Vec::new(),
            note: None,
            extra_images: Vec::new(),
        },
        Stack::Ruby => {
            let image = format!("ruby:{}-slim-bookworm", major_minor(version).unwrap_or("3.3"));
            // Gems inside /app, as Slipway's own builds keep them, so the copy of /app carries them.
            let bundle = [("BUNDLE_PATH", "/app/vendor/bundle"), ("BUNDLE_WITHOUT", "development:test")];
            let mut run_env: Vec<(&'static str, String)> = bundle.iter().map(|(k, v)| (*k, (*v).to_owned())).collect();
            run_env.extend(RUBY_RUN_ENV.iter().map(|(k, v)| (*k, (*v).to_owned())));
            StackImages {
                build_image: image.clone(),
                run_image: image,
                build_setup: vec![
                    // The slim image has no compiler; gems with native extensions need one to install.
                    "RUN apt-get update -qq && apt-get install -y --no-install-recommends build-essential git \
                     pkg-config && rm -rf /var/lib/apt/lists/*"
                        .to_owned(),
                    format!("ENV {}", bundle.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(" ")),
                ],
                run_setup: vec![CREATE_USER.to_owned()],
                run_env,
                note: None,
                extra_images: Vec::new(),
            }
        }
        Stack::Php => {
            // The official image's php-fpm, with Debian's nginx beside it: the same pair, in the same
            // configuration, as `slipway serve-php` runs on Slipway's own machines (one server per
            // container process would need a second container and a shared socket; Apache's mod_php
            // image would route and hide files differently from Slipway's nginx).
            let image = format!("php:{}-fpm-bookworm", major_minor(version).unwrap_or("8.3"));
            let node = [&plan.install, &plan.build]
                .into_iter()
                .flatten()
                .any(|c| c.split_whitespace().any(|w| ["npm", "corepack", "npx"].contains(&w)));
            // Composer unpacks archives with unzip and fetches sources with git; assets build with Node.
            let tools = if node { "git unzip nodejs npm" } else { "git unzip" };
            let root = plan
                .processes
                .get(WEB_PROCESS)
                .or(plan.start.as_ref())
                .and_then(|c| serve_php_root(c))
                .unwrap_or_else(|| "/app".to_owned());
            StackImages {
                build_image: image.clone(),
                run_image: image,
                build_setup: vec![
                    format!(
                        "RUN apt-get update -qq && apt-get install -y --no-install-recommends {tools} && rm -rf \
                         /var/lib/apt/lists/*"
                    ),
                    "COPY --from=composer /usr/bin/composer /usr/local/bin/composer".to_owned(),
                    "ENV COMPOSER_ALLOW_SUPERUSER=1 COMPOSER_NO_AUDIT=1".to_owned(),
                ],
                run_setup: vec![
                    "RUN apt-get update -qq && apt-get install -y --no-install-recommends nginx && rm -rf \
                     /var/lib/apt/lists/*"
                        .to_owned(),
                    CREATE_USER.to_owned(),
                    format!(
                        "COPY --chmod=755 <<'SLIPWAY_SERVE_PHP' {SERVE_PHP}\n#!/bin/sh\n{}SLIPWAY_SERVE_PHP",
                        serve_php_script(&root)
                    ),
                ],
                run_env: Vec::new(),
                note: None,
                extra_images: vec![("COMPOSER_IMAGE", COMPOSER, "composer")],
            }
        }
        Stack::Java => {
            let java = version.and_then(slipway_core::runtime::java_major).unwrap_or(DEFAULT_JAVA);
            // The machine's Maven builds in Slipway; in an image, Maven's own image has one. A wrapper
            // (mvnw, gradlew) brings its own build tool, and needs only the JDK.
            let builds_with_mvn = plan.build.as_deref().is_some_and(|b| b.split_whitespace().next() == Some("mvn"));
            StackImages {
                build_image: if builds_with_mvn {
                    format!("maven:3.9-eclipse-temurin-{java}")
                } else {
                    format!("eclipse-temurin:{java}-jdk")
                },
                run_image: format!("eclipse-temurin:{java}-jre"),
                build_setup: Vec::new(),
                run_setup: vec![ENSURE_USER.to_owned()],
                // A container sees its cgroup: the heap takes three quarters of the pod's memory limit.
                run_env: vec![("JAVA_TOOL_OPTIONS", "-XX:MaxRAMPercentage=75.0".to_owned())],
                note: None,
                extra_images: Vec::new(),
            }
        }
        Stack::Static => StackImages {
            build_image: BUSYBOX.to_owned(),
            run_image: BUSYBOX.to_owned(),
            build_setup: Vec::new(),
            run_setup: Vec::new(),
            run_env: Vec::new(),
            note: None,
            extra_images: Vec::new(),
        },
        Stack::Procfile => StackImages {
            build_image: DEBIAN.to_owned(),
            run_image: DEBIAN.to_owned(),
            build_setup: Vec::new(),
            run_setup: vec![CREATE_USER.to_owned()],
            run_env: Vec::new(),
            note: Some(
                "This app names no language runtime (its Procfile alone decides how it runs):\n\
                 # set BUILD_IMAGE and RUN_IMAGE to images that have the tools its commands need.",
            ),
            extra_images: Vec::new(),
        },
    };

    let start = plan.processes.get(WEB_PROCESS).or(plan.start.as_ref()).map(|c| for_container(c));
    // `slipway serve-static DIR` needs Slipway itself; busybox httpd serves the same files.
    let start = start.map(|command| match command.strip_prefix("slipway serve-static ") {
        Some(dir) => {
            stack.run_image = BUSYBOX.to_owned();
            stack.run_setup.clear();
            let dir = dir.trim().trim_start_matches("./");
            let root = if dir == "." || dir.is_empty() { "/app".to_owned() } else { format!("/app/{dir}") };
            format!("exec httpd -f -v -p 0.0.0.0:$PORT -h {root}")
        }
        // The image has the script that serves it (above).
        None if plan.stack == Stack::Php && serve_php_root(&command).is_some() => format!("exec {SERVE_PHP}"),
        None => container_command(&command),
    });
    render(plan, &stack, start.as_deref())
}

fn render(plan: &BuildPlan, stack: &StackImages, start: Option<&str>) -> String {
    let mut out = String::new();
    let mut line = |text: &str| {
        out.push_str(text);
        out.push('\n');
    };
    line("# syntax=docker/dockerfile:1");
    let mut detected = plan.stack.to_string();
    for extra in [&plan.framework, &plan.package_manager].into_iter().flatten() {
        detected.push_str(&format!(" / {extra}"));
    }
    line(&format!("# Generated by Slipway for a {detected} app."));
    line("# Config vars are not part of the image: pass them when the container runs (docker run -e, Kubernetes env).");
    line("# Base images are pinned by version tag; pin them by digest with --build-arg, e.g.");
    line(&format!("#   --build-arg RUN_IMAGE={}@sha256:<digest>", stack.run_image));
    line("# Keep .git, node_modules and local secrets out of the build context with a .dockerignore.");
    if let Some(note) = stack.note {
        line(&format!("# {note}"));
    }
    line("");
    line(&format!("ARG BUILD_IMAGE={}", stack.build_image));
    line(&format!("ARG RUN_IMAGE={}", stack.run_image));
    for (arg, image, _) in &stack.extra_images {
        line(&format!("ARG {arg}={image}"));
    }
    line("");
    for (arg, _, name) in &stack.extra_images {
        line(&format!("FROM ${{{arg}}} AS {name}"));
        line("");
    }
    line("FROM ${BUILD_IMAGE} AS build");
    line("WORKDIR /app");
    for setup in &stack.build_setup {
        line(setup);
    }
    line("COPY . .");
    for command in [&plan.install, &plan.build].into_iter().flatten() {
        line(&run(command));
    }
    line("");
    line("FROM ${RUN_IMAGE}");
    for setup in &stack.run_setup {
        line(setup);
    }
    line("WORKDIR /app");
    line("COPY --from=build --chown=1000:1000 /app /app");
    let mut env = vec![format!("PORT={DEFAULT_PORT}")];
    env.extend(stack.run_env.iter().map(|(k, v)| format!("{k}={v}")));
    line(&format!("ENV {}", env.join(" ")));
    line("USER 1000:1000");
    line(&format!("EXPOSE {DEFAULT_PORT}"));
    match start {
        Some(start) => {
            let exec = [ENTRYPOINT[0], ENTRYPOINT[1], start];
            // A JSON array is the exec form; serialising plain strings cannot fail.
            line(&format!("CMD {}", serde_json::to_string(&exec).unwrap_or_default()));
        }
        None => line("# The build plan has no web process: add a CMD for the process this image should run."),
    }
    out
}

/// A `RUN` line; a command of several lines becomes a heredoc so each line stays shell.
fn run(command: &str) -> String {
    if command.contains('\n') {
        format!("RUN <<'SLIPWAY_RUN'\n{command}\nSLIPWAY_RUN")
    } else {
        format!("RUN {command}")
    }
}

/// `>=20.1` → `20`: the first run of digits of a version constraint.
fn major(version: Option<&str>) -> Option<&str> {
    let version = version?;
    let start = version.find(|c: char| c.is_ascii_digit())?;
    let rest = &version[start..];
    let end = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
    Some(&rest[..end])
}

/// `3.12.1` → `3.12`, `~=1.22` → `1.22`; a bare major is returned as is.
fn major_minor(version: Option<&str>) -> Option<&str> {
    let version = version?;
    let start = version.find(|c: char| c.is_ascii_digit())?;
    let rest = &version[start..];
    let mut dots = 0;
    let end = rest
        .find(|c: char| {
            dots += usize::from(c == '.');
            !(c.is_ascii_digit() || c == '.') || dots > 1
        })
        .unwrap_or(rest.len());
    Some(rest[..end].trim_end_matches('.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_become_image_tags() {
        assert_eq!(major(Some(">=20.1")), Some("20"));
        assert_eq!(major(Some("lts")), None);
        assert_eq!(major_minor(Some("3.12.1")), Some("3.12"));
        assert_eq!(major_minor(Some("~=1.22")), Some("1.22"));
        assert_eq!(major_minor(Some("1.85")), Some("1.85"));
        assert_eq!(major_minor(Some("3")), Some("3"));
    }
}
