//! Slipway's log files, written and read in one place. Two kinds, both plain text, one line
//! per line (their format is what `slipway logs` and the portal have always read):
//!
//! * a **deployment log** per deployment (`DataLayout::deployment_log`): the pipeline's and
//!   then the agent's lines, steps marked `-----> `;
//! * a **runtime log** per environment (`DataLayout::app_log`), across its releases: every
//!   line `<RFC 3339 time> <instance>: <text>`, rotated to `<file>.1` at a size cap.
//!
//! Every log kept for long is bounded by [`Rotation`] (`rotate.rs`: runtime logs, the router's
//! access logs, the agent's and control plane's own logs); a deployment log is bounded by the
//! build's cap on its output.
//!
//! [`LogWriter`] appends (every line redacted of the environment's secrets first), [`follow`]
//! reads a file as other processes append to it, and [`LineReader`] cuts a process's output
//! into the lines these logs keep. Start at `writer.rs`.

mod follow;
mod lines;
mod rotate;
mod writer;

pub use follow::{follow, Done, Followed, LogReader};
pub use lines::{LineReader, LineSplitter};
pub use rotate::{rotate_files, rotated_files, rotated_nth, RotatingFile, Rotation};
pub use writer::{LogWriter, RUNTIME_LOG_ROTATION, STEP_MARK};
