use std::path::PathBuf;

use anyhow::Result;
use clap::Args;

use crate::output;

#[derive(Debug, Args)]
pub struct DetectArgs {
    /// The source tree (default: the current directory).
    pub dir: Option<PathBuf>,
    /// Print the plan as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Prints the build plan Slipway would use, without deploying.
pub fn detect(args: DetectArgs) -> Result<()> {
    let dir = args.dir.unwrap_or_else(|| PathBuf::from("."));
    let plan = slipway_build::detect(&dir)?;
    if args.json {
        return output::json(&plan);
    }
    for line in plan.describe() {
        println!("{line}");
    }
    Ok(())
}
