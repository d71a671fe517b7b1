//! Writing one commit's tree into a build directory: `git archive | tar -x`
//! (no shared index or worktree), bounded by the **unpacked** size — a 3 GiB
//! file of zeros is a few MB in git, so the pack size says nothing.
//!
//! Three layers: the tree is measured first (`tree.rs`) and refused before
//! anything is written; the repository's `info/attributes` switches off the
//! attributes that make `git archive` write other bytes than the committed
//! ones (`export-subst` expands `$Format:%B$` into the commit message, over
//! and over); and the archive stream itself is cut off past what the
//! measured tree can take, in case git grows another way to rewrite files.

use std::path::Path;
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};

use slipway_core::image_tag::CommitSha;
use tokio::io::{AsyncReadExt, BufReader};

use super::{spawn_git, tree};
use crate::GitError;

/// Bounds on a checkout, measured on the unpacked tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CheckoutLimits {
    /// Bytes of all files together (`SLIPWAY_MAX_CHECKOUT_SIZE`).
    pub max_bytes: u64,
    /// Files (`SLIPWAY_MAX_CHECKOUT_FILES`).
    pub max_files: u64,
}

impl CheckoutLimits {
    pub const DEFAULT_MAX_BYTES: u64 = 1 << 30;
    pub const DEFAULT_MAX_FILES: u64 = 200_000;
}

impl Default for CheckoutLimits {
    /// 1 GiB in at most 200 000 files.
    fn default() -> Self {
        Self { max_bytes: Self::DEFAULT_MAX_BYTES, max_files: Self::DEFAULT_MAX_FILES }
    }
}

/// Attributes that change what `git archive` writes: keyword expansion
/// (`export-subst`, `ident`), filters (a platform-wide git-lfs smudge filter
/// would fetch from a URL the tenant names) and line-ending or encoding
/// conversion. `$GIT_DIR/info/attributes` overrides the tree's own
/// `.gitattributes`; `export-ignore` keeps working.
const ATTRIBUTES: &str = "# Written by Slipway: a checkout holds the bytes as committed, no more.\n\
                          * -export-subst -ident -filter -text -eol -working-tree-encoding\n";

/// Writes the tree of `commit` into `dir` (which must exist and be empty),
/// or refuses it — before writing anything — when it is over `limits`.
pub async fn export(repo: &Path, commit: &CommitSha, dir: &Path, limits: &CheckoutLimits) -> Result<(), GitError> {
    let size = tree::measure(repo, commit, limits).await?;
    pin_attributes(repo).await?;
    let budget = size.archive_budget();
    let extracted = extract(repo, commit, dir, budget).await;
    if matches!(extracted, Err(GitError::ArchiveOverBudget { .. })) {
        // Leave no half-written tree behind.
        tokio::fs::remove_dir_all(dir).await?;
        tokio::fs::create_dir(dir).await?;
    }
    extracted
}

/// Makes sure `repo`'s `info/attributes` is [`ATTRIBUTES`] (written once,
/// atomically: concurrent builds of a project read it).
async fn pin_attributes(repo: &Path) -> Result<(), GitError> {
    static TEMP: AtomicU64 = AtomicU64::new(0);
    let info = repo.join("info");
    let path = info.join("attributes");
    if tokio::fs::read_to_string(&path).await.ok().as_deref() == Some(ATTRIBUTES) {
        return Ok(());
    }
    tokio::fs::create_dir_all(&info).await?;
    let temp = info.join(format!("attributes.{}.{}.tmp", std::process::id(), TEMP.fetch_add(1, Ordering::Relaxed)));
    tokio::fs::write(&temp, ATTRIBUTES).await?;
    tokio::fs::rename(&temp, &path).await?;
    Ok(())
}

/// `git archive | tar -x`, with the stream passed through here and cut off
/// past `budget` bytes.
async fn extract(repo: &Path, commit: &CommitSha, dir: &Path, budget: u64) -> Result<(), GitError> {
    let mut archive = spawn_git(repo, &["archive", "--format=tar", commit.as_str()])?;
    let mut tar = tokio::process::Command::new("tar")
        .args(["-x", "-f", "-", "-C"])
        .arg(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()?;
    let (Some(from), Some(mut to)) = (archive.stdout.take(), tar.stdin.take()) else {
        return Err(GitError::Invalid("git archive or tar has no pipe".into()));
    };
    let relay = async move {
        let mut from = BufReader::with_capacity(256 * 1024, from.take(budget.saturating_add(1)));
        let copied = tokio::io::copy_buf(&mut from, &mut to).await;
        // Closing both ends ends tar's input and stops git archive (EPIPE) if it had more.
        drop(to);
        drop(from);
        copied
    };
    let (copied, archived, extracted) = tokio::join!(relay, archive.wait_with_output(), tar.wait_with_output());
    if copied.as_ref().is_ok_and(|copied| *copied > budget) {
        return Err(GitError::ArchiveOverBudget { budget });
    }
    let (archived, extracted) = (archived?, extracted?);
    let archive_failed = || GitError::Failed {
        command: format!("archive {commit}"),
        stderr: String::from_utf8_lossy(&archived.stderr).trim().to_owned(),
    };
    // A git archive killed by SIGPIPE only tells that tar stopped reading: tar's own error says why.
    if !archived.status.success() && !killed_by_sigpipe(&archived.status) {
        return Err(archive_failed());
    }
    if !extracted.status.success() {
        return Err(GitError::Failed {
            command: "tar -x".into(),
            stderr: String::from_utf8_lossy(&extracted.stderr).trim().to_owned(),
        });
    }
    if !archived.status.success() {
        return Err(archive_failed());
    }
    copied?;
    Ok(())
}

fn killed_by_sigpipe(status: &std::process::ExitStatus) -> bool {
    use std::os::unix::process::ExitStatusExt;
    const SIGPIPE: i32 = 13;
    status.signal() == Some(SIGPIPE) || status.code() == Some(128 + SIGPIPE)
}
