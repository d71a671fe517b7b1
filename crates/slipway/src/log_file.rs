//! Where `slipway up` and `slipway agent` write their own log: the terminal, or a file rotated
//! like every log the platform keeps (`--log-file`), which the process's stdout and stderr
//! follow across rotations, so nothing it prints (a panic included) escapes the bound.

use std::io::{self, Write};
use std::os::fd::AsFd;
use std::path::PathBuf;
use std::sync::Mutex;

use slipway_logs::{RotatingFile, Rotation};

/// Sets up `tracing` (filter from `SLIPWAY_LOG`, default `info,sqlx=warn`): into `file`,
/// rotated by `rotation`, or to stderr.
pub(crate) fn init_tracing(file: Option<PathBuf>, rotation: Rotation) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("SLIPWAY_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_target(false);
    let _ = match file {
        Some(path) => {
            let mut log = StdioFollowing(RotatingFile::new(path, rotation));
            // Now, so stdout and stderr move to it before anything is printed.
            if log.0.open_now().is_ok() {
                log.point_stdio();
            }
            builder.with_ansi(false).with_writer(Mutex::new(log)).try_init()
        }
        None => builder.try_init(),
    };
}

/// A rotating log file that stdout and stderr are pointed at whenever a new file is opened.
struct StdioFollowing(RotatingFile);

impl StdioFollowing {
    fn point_stdio(&self) {
        if let Some(file) = self.0.file() {
            let _ = io::stdout().flush();
            let _ = nix::unistd::dup2_stdout(file.as_fd());
            let _ = nix::unistd::dup2_stderr(file.as_fd());
        }
    }
}

impl Write for StdioFollowing {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        // What the process printed went into the same file.
        self.0.reread_size();
        if self.0.write(bytes)? {
            self.point_stdio();
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
