//! Measuring a commit's tree before it is written anywhere: the unpacked
//! size of its files (`git ls-tree -r -l`, which reads object headers, not
//! contents), their number, the largest one, and paths `tar` must never see
//! (`..`, a path that is both a file and a directory — with a symlink, the
//! way a crafted tree writes outside the checkout).

use std::collections::HashSet;
use std::path::Path;

use slipway_core::image_tag::CommitSha;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};

use super::export::CheckoutLimits;
use super::spawn_git;
use crate::GitError;

/// What a tree holds, measured.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct TreeSize {
    pub bytes: u64,
    pub files: u64,
    /// Bytes of all paths together (tar headers grow with them).
    pub path_bytes: u64,
    pub largest: Option<(String, u64)>,
}

impl TreeSize {
    /// The most bytes `git archive` may write for this tree: the contents,
    /// plus a generous allowance per entry (header, padding, long-name
    /// records, the entry's directories) and for the archive's own records.
    pub fn archive_budget(&self) -> u64 {
        self.bytes.saturating_add(self.files.saturating_mul(4096)).saturating_add(self.path_bytes.saturating_mul(4))
            + (1 << 20)
    }
}

/// Measures `commit`'s tree, refusing it as soon as it has more files than
/// `limits` allow, or after the listing when its bytes are over the limit.
pub(super) async fn measure(repo: &Path, commit: &CommitSha, limits: &CheckoutLimits) -> Result<TreeSize, GitError> {
    let mut child = spawn_git(repo, &["ls-tree", "-r", "-l", "-z", "--end-of-options", commit.as_str()])?;
    let (Some(stdout), Some(mut stderr)) = (child.stdout.take(), child.stderr.take()) else {
        return Err(GitError::Invalid("git ls-tree's pipes were not created".into()));
    };
    let mut listing = Listing::default();
    let mut reader = BufReader::new(stdout);
    let mut record = Vec::new();
    loop {
        record.clear();
        if reader.read_until(0, &mut record).await? == 0 {
            break;
        }
        if record.last() == Some(&0) {
            record.pop();
        }
        listing.add(&record)?;
        if listing.size.files > limits.max_files {
            // Dropping the child kills it: the rest of the listing does not matter.
            return Err(GitError::TooManyFiles { limit: limits.max_files });
        }
    }
    let mut errors = String::new();
    let _ = stderr.read_to_string(&mut errors).await;
    let status = child.wait().await?;
    if !status.success() {
        return Err(GitError::Failed { command: format!("ls-tree {commit}"), stderr: errors.trim().to_owned() });
    }
    let size = listing.finish()?;
    if size.bytes > limits.max_bytes {
        let (largest, largest_bytes) = size.largest.clone().unwrap_or_default();
        return Err(GitError::CheckoutTooLarge { bytes: size.bytes, limit: limits.max_bytes, largest, largest_bytes });
    }
    Ok(size)
}

/// The entries seen so far.
#[derive(Default)]
struct Listing {
    size: TreeSize,
    paths: HashSet<Vec<u8>>,
    dirs: HashSet<Vec<u8>>,
}

impl Listing {
    /// One `<mode> SP <type> SP <object> SP+ <size> TAB <path>` record.
    fn add(&mut self, record: &[u8]) -> Result<(), GitError> {
        let malformed = || GitError::Invalid(format!("git ls-tree printed `{}`", String::from_utf8_lossy(record)));
        let tab = record.iter().position(|b| *b == b'\t').ok_or_else(malformed)?;
        let (head, path) = (&record[..tab], &record[tab + 1..]);
        let head = std::str::from_utf8(head).map_err(|_| malformed())?;
        let fields: Vec<&str> = head.split_whitespace().collect();
        let [_mode, kind, _object, size] = fields[..] else {
            return Err(malformed());
        };
        check_path(path)?;
        if !self.paths.insert(path.to_vec()) {
            return Err(unsafe_path(path, "appears twice in the tree"));
        }
        let mut end = 0;
        while let Some(slash) = path[end..].iter().position(|b| *b == b'/') {
            end += slash;
            self.dirs.insert(path[..end].to_vec());
            end += 1;
        }
        self.size.path_bytes += path.len() as u64;
        // Submodules (`commit` entries) are written as empty directories.
        if kind != "blob" {
            return Ok(());
        }
        let bytes: u64 = size.parse().map_err(|_| malformed())?;
        self.size.files += 1;
        self.size.bytes = self.size.bytes.saturating_add(bytes);
        if self.size.largest.as_ref().is_none_or(|(_, largest)| bytes > *largest) {
            self.size.largest = Some((String::from_utf8_lossy(path).into_owned(), bytes));
        }
        Ok(())
    }

    fn finish(self) -> Result<TreeSize, GitError> {
        let (small, large) =
            if self.paths.len() <= self.dirs.len() { (&self.paths, &self.dirs) } else { (&self.dirs, &self.paths) };
        if let Some(path) = small.iter().find(|path| large.contains(*path)) {
            return Err(unsafe_path(path, "is both a file and a directory"));
        }
        Ok(self.size)
    }
}

fn check_path(path: &[u8]) -> Result<(), GitError> {
    if path.is_empty() || path.starts_with(b"/") {
        return Err(unsafe_path(path, "is not a relative path"));
    }
    if path.split(|b| *b == b'/').any(|part| part.is_empty() || part == b"." || part == b"..") {
        return Err(unsafe_path(path, "has an empty, `.` or `..` component"));
    }
    Ok(())
}

fn unsafe_path(path: &[u8], reason: &'static str) -> GitError {
    let path: String = String::from_utf8_lossy(path).chars().take(200).collect();
    GitError::UnsafeTree { path, reason }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listing(records: &[&str]) -> Result<TreeSize, GitError> {
        let mut listing = Listing::default();
        for record in records {
            listing.add(record.as_bytes())?;
        }
        listing.finish()
    }

    const OBJECT: &str = "e69de29bb2d1d6434b8b29ae775ad8c2d48c5391";

    #[test]
    fn sizes_files_and_the_largest_are_counted() {
        let size = listing(&[
            &format!("100644 blob {OBJECT}      12\tREADME.md"),
            &format!("100755 blob {OBJECT} 3221225472\tdata/zeros.bin"),
            &format!("120000 blob {OBJECT}       9\tdata/link"),
            &format!("160000 commit {OBJECT}       -\tvendor/lib"),
        ])
        .expect("a safe tree");
        assert_eq!((size.bytes, size.files), (3_221_225_493, 3));
        assert_eq!(size.largest, Some(("data/zeros.bin".to_owned(), 3_221_225_472)));
        assert!(size.archive_budget() > size.bytes);
    }

    #[test]
    fn paths_tar_must_not_see_are_refused() {
        for records in [
            vec![format!("100644 blob {OBJECT} 1\t../escape")],
            vec![format!("100644 blob {OBJECT} 1\ta/./b")],
            vec![format!("100644 blob {OBJECT} 1\t/etc/passwd")],
            vec![format!("100644 blob {OBJECT} 1\ta//b")],
            vec![format!("100644 blob {OBJECT} 1\tx"), format!("100644 blob {OBJECT} 1\tx")],
            // A symlink `a` (to anywhere) and a file under `a/`: tar would follow the link.
            vec![format!("120000 blob {OBJECT} 4\ta"), format!("100644 blob {OBJECT} 1\ta/passwd")],
            vec![format!("100644 blob {OBJECT} 1\ta/b/c"), format!("120000 blob {OBJECT} 4\ta/b")],
        ] {
            let records: Vec<&str> = records.iter().map(String::as_str).collect();
            let err = listing(&records).expect_err("refused");
            assert!(matches!(err, GitError::UnsafeTree { .. }), "{records:?}: {err}");
        }
        assert!(listing(&["garbage"]).is_err());
    }
}
