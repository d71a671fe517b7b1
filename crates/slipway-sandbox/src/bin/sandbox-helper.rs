//! The helper stages alone, for the sandbox crate's own tests (the `slipway`
//! binary is the helper in production).
fn main() {
    let mut args = std::env::args().skip(1);
    if args.next().as_deref() == Some(slipway_sandbox::HELPER_ARG) {
        slipway_sandbox::run_helper(&args.next().unwrap_or_default());
    }
    eprintln!("usage: sandbox-helper {} <stage>", slipway_sandbox::HELPER_ARG);
    std::process::exit(2);
}
