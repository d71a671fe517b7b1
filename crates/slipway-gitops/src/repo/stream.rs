//! Builds the `git fast-import` stream of one deployment's commit: the new
//! commit is made straight from the parent's tree plus the changed paths, so
//! its cost does not grow with the number of apps in the repository (no
//! checkout, no index of every file).

use std::fmt::Write as _;

use crate::manifests::Manifests;

/// Ref the stream writes to; it is pushed from there and never checked out.
pub(crate) const PENDING_REF: &str = "refs/slipway/pending";
pub(crate) const COMMITTER: &str = "Slipway <gitops@slipway.invalid>";

/// One folder's new content: the folder is deleted first, so it ends up holding exactly `files`.
pub(crate) struct FolderChange<'a> {
    pub(crate) folder: String,
    pub(crate) replace_whole_folder: bool,
    pub(crate) files: &'a Manifests,
}

pub(crate) fn commit_stream(parent: Option<&str>, message: &str, changes: &[FolderChange<'_>]) -> Vec<u8> {
    let mut out = String::new();
    // Writing to a String cannot fail.
    let _ = writeln!(out, "commit {PENDING_REF}");
    let _ = writeln!(out, "committer {COMMITTER} now");
    data(&mut out, message);
    if let Some(parent) = parent {
        let _ = writeln!(out, "from {parent}");
    }
    for change in changes {
        if change.replace_whole_folder {
            let _ = writeln!(out, "D {}", change.folder);
        }
        for (name, text) in change.files.files() {
            let _ = writeln!(out, "M 100644 inline {}/{name}", change.folder);
            data(&mut out, text);
        }
    }
    out.push_str("done\n");
    out.into_bytes()
}

fn data(out: &mut String, text: &str) {
    let _ = writeln!(out, "data {}", text.len());
    out.push_str(text);
    out.push('\n');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stream_replaces_the_folder_and_counts_bytes_not_chars() {
        let mut files = Manifests::new();
        files.extend_raw("a.yaml", "é: 1\n");
        let change = FolderChange { folder: "apps/w/p/e".into(), replace_whole_folder: true, files: &files };
        let stream = String::from_utf8(commit_stream(Some("abc"), "msg", &[change])).unwrap();
        assert_eq!(
            stream,
            "commit refs/slipway/pending\ncommitter Slipway <gitops@slipway.invalid> now\ndata 3\nmsg\nfrom abc\n\
             D apps/w/p/e\nM 100644 inline apps/w/p/e/a.yaml\ndata 6\né: 1\n\ndone\n"
        );
    }
}
