//! The sandbox's helper stages (`slipway-sandbox-helper __sandbox-exec <stage>`):
//! two of them stay beside every running instance, so they live in this small
//! binary with the system allocator rather than in `slipway` itself, whose
//! size and allocator cost ~9 MiB of memory per process (bench/push.sh).
fn main() {
    let mut args = std::env::args().skip(1);
    if args.next().as_deref() == Some(slipway_sandbox::HELPER_ARG) {
        slipway_sandbox::run_helper(&args.next().unwrap_or_default());
    }
    eprintln!("slipway-sandbox-helper is started by Slipway, not by hand");
    std::process::exit(2);
}
