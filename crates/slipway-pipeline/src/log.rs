//! The deployment log: a file per deployment that the pipeline (and later the agent, another
//! process) appends lines to, every secret config value redacted first. Written by
//! `slipway_logs`, which owns the format of Slipway's logs; this is the pipeline's name for it.

pub(crate) use slipway_logs::LogWriter as DeployLog;
