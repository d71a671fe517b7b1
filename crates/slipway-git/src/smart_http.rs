//! git's smart-HTTP services, run as `git upload-pack|receive-pack
//! --stateless-rpc`: the ref advertisement for `GET …/info/refs?service=…`
//! and the RPC for `POST …/git-upload-pack|git-receive-pack`. Request bodies
//! stream into git and its answer streams back, so a push's `remote:` lines
//! (the post-receive hook's build log) reach the pusher as they happen.

use std::path::Path;
use std::process::Stdio;

use bytes::Bytes;
use futures::{Stream, TryStreamExt};
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio_util::io::StreamReader;

use crate::command::{shown_stderr, tokio_git};
use crate::GitError;

/// The two services a smart-HTTP client asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    /// fetch and clone
    UploadPack,
    /// push
    ReceivePack,
}

impl Service {
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "git-upload-pack" => Some(Self::UploadPack),
            "git-receive-pack" => Some(Self::ReceivePack),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::UploadPack => "git-upload-pack",
            Self::ReceivePack => "git-receive-pack",
        }
    }

    fn subcommand(self) -> &'static str {
        match self {
            Self::UploadPack => "upload-pack",
            Self::ReceivePack => "receive-pack",
        }
    }

    pub fn advertisement_type(self) -> String {
        format!("application/x-{}-advertisement", self.name())
    }

    pub fn result_type(self) -> String {
        format!("application/x-{}-result", self.name())
    }
}

fn pkt_line(text: &str) -> Vec<u8> {
    let mut line = format!("{:04x}", text.len() + 4).into_bytes();
    line.extend_from_slice(text.as_bytes());
    line
}

/// The body of `GET info/refs?service=…`.
pub async fn advertise(service: Service, repo: &Path) -> Result<Vec<u8>, GitError> {
    let output = tokio_git()
        .args([service.subcommand(), "--stateless-rpc", "--advertise-refs"])
        .arg(repo)
        .output()
        .await
        .map_err(GitError::Spawn)?;
    if !output.status.success() {
        return Err(GitError::Failed {
            command: format!("{} --advertise-refs", service.subcommand()),
            stderr: shown_stderr(&output.stderr),
        });
    }
    let mut body = pkt_line(&format!("# service={}\n", service.name()));
    body.extend_from_slice(b"0000");
    body.extend_from_slice(&output.stdout);
    Ok(body)
}

/// Runs `service` on `repo` with the request body as its input (gunzipped
/// when `gzip`), and `env` added to git's environment (hooks inherit it).
/// Returns git's output to stream back as the response body; git is reaped
/// in the background when it exits.
pub fn rpc<S, E>(
    service: Service,
    repo: &Path,
    body: S,
    gzip: bool,
    env: &[(String, String)],
) -> Result<impl AsyncRead + Send + Unpin + 'static, GitError>
where
    S: Stream<Item = Result<Bytes, E>> + Send + Unpin + 'static,
    E: std::error::Error + Send + Sync + 'static,
{
    let mut command = tokio_git();
    if service == Service::ReceivePack {
        // Also for repositories created before `Repos::ensure` configured these.
        let max_input = format!("receive.maxInputSize={}", crate::repos::MAX_PUSH_BYTES);
        command.args(["-c", &max_input, "-c", "receive.fsckObjects=true"]);
    }
    let mut child = command
        .args([service.subcommand(), "--stateless-rpc"])
        .arg(repo)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(GitError::Spawn)?;
    let (Some(mut stdin), Some(stdout), Some(mut stderr)) =
        (child.stdin.take(), child.stdout.take(), child.stderr.take())
    else {
        return Err(GitError::Invalid("git's pipes were not created".into()));
    };
    let reader = StreamReader::new(body.map_err(std::io::Error::other));
    let name = service.name();
    tokio::spawn(async move {
        let copied = if gzip {
            let mut decoder = async_compression::tokio::bufread::GzipDecoder::new(reader);
            tokio::io::copy(&mut decoder, &mut stdin).await
        } else {
            let mut reader = reader;
            tokio::io::copy(&mut reader, &mut stdin).await
        };
        drop(stdin);
        if let Err(err) = copied {
            tracing::warn!(service = name, %err, "the request body ended early");
        }
        let mut errors = String::new();
        let _ = stderr.read_to_string(&mut errors).await;
        match child.wait().await {
            Ok(status) if status.success() => {}
            Ok(status) => tracing::warn!(service = name, %status, stderr = %errors.trim(), "git exited with an error"),
            Err(err) => tracing::warn!(service = name, %err, "waiting for git failed"),
        }
    });
    Ok(stdout)
}
