//! The app layer is reproducible: the same tree gives the same bytes whatever
//! the files' mtimes, permissions beyond the executable bit, or location.

use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, SystemTime};

use slipway_image::{build_layer, LayerSource};

use crate::pull::{gunzip, tar_entries};
use slipway_testkit::base_image::sha;

fn tree(group_writable: bool, age: Duration) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("lib/deep")).unwrap();
    for (path, data) in [("b.txt", "b"), ("a.txt", "a"), ("lib/deep/x.js", "x"), ("run", "#!/bin/sh\n")] {
        let file = dir.path().join(path);
        std::fs::write(&file, data).unwrap();
        let mode = if path == "run" {
            0o755
        } else if group_writable {
            0o664
        } else {
            0o600
        };
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(mode)).unwrap();
        let handle = std::fs::File::options().write(true).open(&file).unwrap();
        handle.set_modified(SystemTime::now() - age).unwrap();
    }
    dir
}

#[test]
fn the_same_tree_gives_the_same_layer() {
    let out = tempfile::tempdir().unwrap();
    let one = tree(false, Duration::from_secs(10));
    let two = tree(true, Duration::from_secs(100_000));
    let sources = |dir: &tempfile::TempDir| {
        vec![
            LayerSource { host_dir: dir.path().to_path_buf(), image_path: "/app".to_owned() },
            LayerSource { host_dir: dir.path().join("lib"), image_path: "/opt/venv/lib".to_owned() },
        ]
    };
    let first = build_layer(&sources(&one), &out.path().join("1.tar.gz"), 1000, 1000).unwrap();
    let second = build_layer(&sources(&two), &out.path().join("2.tar.gz"), 1000, 1000).unwrap();
    assert_eq!(first.digest, second.digest);
    assert_eq!(first.diff_id, second.diff_id);

    let bytes = std::fs::read(&first.path).unwrap();
    assert_eq!(sha(&bytes), first.digest.as_str());
    assert_eq!(bytes.len() as u64, first.size);
    let tar = gunzip(&bytes);
    assert_eq!(sha(&tar), first.diff_id.as_str());
    let entries = tar_entries(&tar);
    let listing: Vec<(&str, u32, u64)> = entries.iter().map(|e| (e.path.as_str(), e.mode, e.uid)).collect();
    assert_eq!(
        listing,
        [
            ("app", 0o755, 1000),
            ("app/a.txt", 0o644, 1000),
            ("app/b.txt", 0o644, 1000),
            ("app/lib", 0o755, 1000),
            ("app/lib/deep", 0o755, 1000),
            ("app/lib/deep/x.js", 0o644, 1000),
            ("app/run", 0o755, 1000),
            ("opt", 0o755, 0),
            ("opt/venv", 0o755, 0),
            ("opt/venv/lib", 0o755, 1000),
            ("opt/venv/lib/deep", 0o755, 1000),
            ("opt/venv/lib/deep/x.js", 0o644, 1000),
        ]
    );
}

#[test]
fn image_paths_must_be_absolute_and_stay_below_root() {
    let out = tempfile::tempdir().unwrap();
    let dir = tree(false, Duration::ZERO);
    for bad in ["app", "/", "/app/../etc", ""] {
        let sources = [LayerSource { host_dir: dir.path().to_path_buf(), image_path: bad.to_owned() }];
        assert!(build_layer(&sources, &out.path().join("l.tar.gz"), 1000, 1000).is_err(), "{bad:?}");
    }
}
