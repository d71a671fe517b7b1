//! Bounded log files: a file grows to a size cap, then moves to `<file>.1` (the previous `.1`
//! to `.2`, …, up to a retention count; the oldest is removed), and a new file starts. Every log
//! the platform keeps for a long time goes through this rule: runtime logs, access logs, the
//! agent's and the control plane's own logs.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// How big a log may grow and how many rotated files of it are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rotation {
    /// Rotate before a write would take the file past this many bytes.
    pub max_bytes: u64,
    /// Rotated files kept (`<file>.1` is the newest); at least 1.
    pub keep: u32,
}

impl Rotation {
    /// The platform's default: 10 MiB per file, 5 rotated files.
    pub const DEFAULT: Rotation = Rotation { max_bytes: 10 * 1024 * 1024, keep: 5 };

    /// The most disk one log takes: the live file and every rotated one.
    pub fn max_total_bytes(&self) -> u64 {
        self.max_bytes.saturating_mul(u64::from(self.keep.max(1)) + 1)
    }
}

impl Default for Rotation {
    fn default() -> Self {
        Rotation::DEFAULT
    }
}

/// The `n`th rotated file of `path` (1 is the newest): `app.log` → `app.log.1`.
pub fn rotated_nth(path: &Path, n: u32) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(format!(".{n}"));
    PathBuf::from(name)
}

/// Shifts `path`'s rotated files one up (dropping those past `keep`) and moves `path` to `.1`.
/// Missing files are skipped: a log may have been deleted, or never rotated before.
///
/// # Errors
///
/// When `path` exists but cannot be moved: writing on would take it past its cap.
pub fn rotate_files(path: &Path, keep: u32) -> io::Result<()> {
    let keep = keep.max(1);
    let _ = std::fs::remove_file(rotated_nth(path, keep));
    for n in (1..keep).rev() {
        let _ = std::fs::rename(rotated_nth(path, n), rotated_nth(path, n + 1));
    }
    match std::fs::rename(path, rotated_nth(path, 1)) {
        Err(error) if error.kind() != io::ErrorKind::NotFound => Err(error),
        _ => Ok(()),
    }
}

/// The rotated files of `path` that exist: `.1`, `.2`, … up to the first missing one.
pub fn rotated_files(path: &Path) -> Vec<PathBuf> {
    (1..).map(|n| rotated_nth(path, n)).take_while(|file| file.exists()).collect()
}

/// How long a file that could not be opened is left alone before the next try.
const REOPEN_AFTER: Duration = Duration::from_secs(1);

/// A log file appended to by one writer, rotated by [`Rotation`]. Blocking: for a thread of
/// its own, or for writes rare enough not to matter (diagnostic logs).
///
/// Writes fail (and the caller counts what was lost) while the file cannot be opened or written
/// — an unwritable directory, a full disk; the file is reopened at the next write after a short
/// pause, so writing resumes by itself. A file deleted while open is replaced at its rotation.
pub struct RotatingFile {
    path: PathBuf,
    rotation: Rotation,
    file: Option<File>,
    /// The file's size as far as this writer knows.
    written: u64,
    /// When opening last failed.
    failed_at: Option<Instant>,
}

impl RotatingFile {
    /// A writer for `path`; the file (and its directory) is created at the first write.
    pub fn new(path: impl Into<PathBuf>, rotation: Rotation) -> Self {
        RotatingFile { path: path.into(), rotation, file: None, written: 0, failed_at: None }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The open file, if it is open: e.g. to point a process's stdout and stderr at it.
    pub fn file(&self) -> Option<&File> {
        self.file.as_ref()
    }

    /// Appends `bytes`, whole lines, rotating between two lines wherever the next one would
    /// take the file past the cap (a single line larger than the cap gets a file of its own).
    /// Returns whether a new file was opened on the way (the first write, after a rotation or a
    /// failure).
    ///
    /// # Errors
    ///
    /// When the file cannot be opened or written; the lines not yet written are then lost.
    pub fn write(&mut self, mut bytes: &[u8]) -> io::Result<bool> {
        let mut opened = false;
        while !bytes.is_empty() {
            if self.file.is_none() {
                self.open()?;
                opened = true;
            }
            let room = usize::try_from(self.rotation.max_bytes.saturating_sub(self.written)).unwrap_or(usize::MAX);
            let head = &bytes[..room.min(bytes.len())];
            // The lines that fit.
            let mut take = if head.len() == bytes.len() {
                bytes.len()
            } else {
                head.iter().rposition(|&b| b == b'\n').map_or(0, |end| end + 1)
            };
            if take == 0 && self.written > 0 {
                self.file = None;
                if let Err(error) = rotate_files(&self.path, self.rotation.keep) {
                    // Not reopened before the pause: the same full file would come back.
                    self.failed_at = Some(Instant::now());
                    return Err(error);
                }
                continue;
            }
            if take == 0 {
                // A line larger than the cap, into an empty file.
                take = bytes.iter().position(|&b| b == b'\n').map_or(bytes.len(), |end| end + 1);
            }
            self.append(&bytes[..take])?;
            bytes = &bytes[take..];
        }
        Ok(opened)
    }

    fn append(&mut self, bytes: &[u8]) -> io::Result<()> {
        let file = self.file.as_mut().ok_or_else(|| io::Error::other("the log file is not open"))?;
        match file.write_all(bytes) {
            Ok(()) => {
                self.written += bytes.len() as u64;
                Ok(())
            }
            Err(error) => {
                // Reopened at the next write: a disk that filled up may have room again.
                self.file = None;
                self.failed_at = Some(Instant::now());
                Err(error)
            }
        }
    }

    /// Takes the file's size from the file system: for a file other writers append to too (a
    /// process's own stdout and stderr pointed at its log).
    pub fn reread_size(&mut self) {
        if let Some(len) = self.file.as_ref().and_then(|file| file.metadata().ok()).map(|meta| meta.len()) {
            self.written = len;
        }
    }

    /// Opens the file now rather than at the first write (no-op when it is open).
    ///
    /// # Errors
    ///
    /// When it cannot be opened.
    pub fn open_now(&mut self) -> io::Result<()> {
        match self.file {
            Some(_) => Ok(()),
            None => self.open(),
        }
    }

    fn open(&mut self) -> io::Result<()> {
        if self.failed_at.is_some_and(|at| at.elapsed() < REOPEN_AFTER) {
            return Err(io::Error::other("the log file could not be opened a moment ago"));
        }
        // 0600 whatever the umask: logs hold tenants' requests and output, and what the process
        // prints (the first admin password).
        let opened = self
            .path
            .parent()
            .map_or(Ok(()), std::fs::create_dir_all)
            .and_then(|()| OpenOptions::new().create(true).append(true).mode(0o600).open(&self.path));
        match opened {
            Ok(file) => {
                self.written = file.metadata().map(|meta| meta.len()).unwrap_or(0);
                self.file = Some(file);
                self.failed_at = None;
                Ok(())
            }
            Err(error) => {
                self.failed_at = Some(Instant::now());
                Err(error)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(path: &Path) -> String {
        std::fs::read_to_string(path).unwrap_or_default()
    }

    #[test]
    fn rotates_at_the_cap_and_keeps_the_count() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("logs").join("access.log");
        let mut log = RotatingFile::new(&path, Rotation { max_bytes: 10, keep: 2 });
        for line in ["aaaa\n", "bbbb\n", "cccc\n", "dddd\n", "eeee\n", "ffff\n", "gggg\n"] {
            log.write(line.as_bytes()).expect("write");
        }
        assert_eq!(read(&path), "gggg\n");
        assert_eq!(read(&rotated_nth(&path, 1)), "eeee\nffff\n");
        assert_eq!(read(&rotated_nth(&path, 2)), "cccc\ndddd\n");
        assert!(!rotated_nth(&path, 3).exists(), "only two rotated files are kept");
        assert_eq!(rotated_nth(&path, 1), dir.path().join("logs").join("access.log.1"));
    }

    #[test]
    fn files_are_private_to_their_owner() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("agent.log");
        let mut log = RotatingFile::new(&path, Rotation { max_bytes: 4, keep: 1 });
        log.write(b"one\ntwo\n").expect("write");
        for file in [path.clone(), rotated_nth(&path, 1)] {
            let mode = std::fs::metadata(&file).expect("metadata").permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{}", file.display());
        }
    }

    #[test]
    fn a_write_of_many_lines_is_split_where_the_cap_falls() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("access.log");
        let mut log = RotatingFile::new(&path, Rotation { max_bytes: 10, keep: 3 });
        log.write(b"aaaa\nbbbb\ncccc\ndddd\neeee\n").expect("write");
        assert_eq!(read(&rotated_nth(&path, 2)), "aaaa\nbbbb\n");
        assert_eq!(read(&rotated_nth(&path, 1)), "cccc\ndddd\n");
        assert_eq!(read(&path), "eeee\n");
    }

    #[test]
    fn a_line_larger_than_the_cap_still_gets_a_file_of_its_own() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("big.log");
        let mut log = RotatingFile::new(&path, Rotation { max_bytes: 4, keep: 1 });
        log.write(b"0123456789\n").expect("write");
        log.write(b"x\n").expect("write");
        assert_eq!(read(&rotated_nth(&path, 1)), "0123456789\n");
        assert_eq!(read(&path), "x\n");
    }

    #[test]
    fn a_deleted_file_is_replaced_at_rotation() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("app.log");
        let mut log = RotatingFile::new(&path, Rotation { max_bytes: 8, keep: 1 });
        log.write(b"one\n").expect("write");
        std::fs::remove_file(&path).expect("delete");
        log.write(b"two\n").expect("write"); // into the deleted file, as with any open file
        assert!(log.write(b"three\n").expect("write"), "the rotation opens a new file");
        assert_eq!(read(&path), "three\n");
    }

    #[test]
    fn a_rotation_that_cannot_move_the_file_fails_the_write_and_never_overfills_it() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("app.log");
        std::fs::create_dir(rotated_nth(&path, 1)).expect("a directory where .1 goes");
        std::fs::write(rotated_nth(&path, 1).join("x"), "keeps the directory from being replaced").expect("write");
        let mut log = RotatingFile::new(&path, Rotation { max_bytes: 8, keep: 1 });
        log.write(b"one\n").expect("write");
        assert!(log.write(b"second\n").is_err(), "the rotation fails");
        assert!(log.write(b"third\n").is_err(), "and is not retried before the pause");
        assert_eq!(read(&path), "one\n");
    }

    #[test]
    fn an_unwritable_directory_fails_the_write_and_writing_resumes_later() {
        let dir = tempfile::tempdir().expect("temp dir");
        let blocker = dir.path().join("logs");
        std::fs::write(&blocker, "a file where the directory should be").expect("write");
        let path = blocker.join("app.log");
        let mut log = RotatingFile::new(&path, Rotation::DEFAULT);
        assert!(log.write(b"lost\n").is_err());
        std::fs::remove_file(&blocker).expect("remove");
        assert!(log.write(b"too soon\n").is_err(), "a failed open is retried after a pause");
        std::thread::sleep(REOPEN_AFTER);
        assert!(log.write(b"back\n").expect("write resumes"));
        assert_eq!(read(&path), "back\n");
    }
}
