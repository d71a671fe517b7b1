//! The `slipway` binary. `slipway up` runs the platform; every other verb is
//! a client of the REST API. This file only parses the command line and
//! maps failures to exit codes; the verbs live in `commands/`.

mod client;
mod commands;
mod credentials;
mod log_file;
mod output;
mod sandbox;
mod settings;
mod up;

use std::process::ExitCode;

use clap::Parser;

use crate::commands::Command;

/// The edge router (inside `slipway agent`) allocates per request; mimalloc measured faster
/// than the system allocator for it (see BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Debug, Parser)]
#[command(name = "slipway", version, about = "Push code, get a live URL. `slipway up` runs the platform.")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

fn main() -> ExitCode {
    // The sandbox helper stages run before anything else exists (no runtime, no threads).
    let mut args = std::env::args_os().skip(1);
    if args.next().is_some_and(|arg| arg == slipway_sandbox::HELPER_ARG) {
        slipway_sandbox::run_helper(&args.next().unwrap_or_default().to_string_lossy());
    }
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("error: cannot start the async runtime: {err}");
            return ExitCode::from(client::EXIT_FAILURE);
        }
    };
    match runtime.block_on(commands::run(cli.command)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::from(client::exit_code(&err))
        }
    }
}
