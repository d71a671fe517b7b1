//! What the sandbox adds per start of tenant code, side by side with the
//! sandbox off in the same run (bench/sandbox.sh runs it; needs root):
//! the median and p90 time from spawn to exit of `/bin/true`, and the memory
//! (PSS) of the helper processes that stay beside a running instance.
//!
//! `start_cost <runs>`; the binary is its own helper (`__sandbox-exec`), as `slipway` is.

use std::ffi::OsString;
use std::time::{Duration, Instant};

use slipway_core::resources::{Resources, SandboxUid};
use slipway_sandbox::{Files, Sandbox, SandboxSettings, TenantProcess};

fn main() {
    let mut args = std::env::args().skip(1);
    if args.next().as_deref() == Some(slipway_sandbox::HELPER_ARG) {
        slipway_sandbox::run_helper(&args.next().unwrap_or_default());
    }
    let runs: usize = std::env::args().nth(1).and_then(|n| n.parse().ok()).unwrap_or(50);
    tokio::runtime::Runtime::new().expect("a runtime").block_on(run(runs));
}

async fn run(runs: usize) {
    let scratch = tempfile::tempdir().expect("a scratch dir");
    let release = tempfile::tempdir().expect("a release dir");
    let helper = std::env::current_exe().expect("own path");
    let on = Sandbox::enforce(SandboxSettings { helper, scratch: scratch.path().join("root"), read_only: vec![] })
        .unwrap_or_else(|err| panic!("{err}"));
    let off = Sandbox::off();
    let resources = Resources::default();
    let mut times = [Vec::new(), Vec::new()];
    for round in 0..runs {
        // Interleaved, so a noisy neighbour hits both alike.
        for (index, sandbox) in [&off, &on].into_iter().enumerate() {
            let name = format!("bench-{round}");
            let argv = [OsString::from("/bin/true")];
            let process = tenant(&name, &argv, &resources, release.path());
            let started = Instant::now();
            let prepared = sandbox.command(&process).expect("a command");
            let mut command = prepared.command;
            let status = command.status().await.expect("spawn");
            assert!(status.success(), "the sandboxed /bin/true failed: {status}");
            if let Some(cgroup) = prepared.cgroup {
                cgroup.remove().await;
            }
            times[index].push(started.elapsed());
        }
    }
    let [off_times, on_times] = times.map(|mut t| {
        t.sort();
        t
    });
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let pick = |t: &[Duration], q: f64| t[((t.len() as f64 * q) as usize).min(t.len() - 1)];
    println!("start_to_exit_ms_off_p50={:.2}", ms(pick(&off_times, 0.5)));
    println!("start_to_exit_ms_off_p90={:.2}", ms(pick(&off_times, 0.9)));
    println!("start_to_exit_ms_on_p50={:.2}", ms(pick(&on_times, 0.5)));
    println!("start_to_exit_ms_on_p90={:.2}", ms(pick(&on_times, 0.9)));
    println!("sandbox_cost_ms_p50={:.2}", ms(pick(&on_times, 0.5)) - ms(pick(&off_times, 0.5)));

    // Memory of the helpers beside a running instance.
    let argv = [OsString::from("/bin/sleep"), OsString::from("30")];
    let process = tenant("bench-memory", &argv, &resources, release.path());
    let prepared = on.command(&process).expect("a command");
    let mut command = prepared.command;
    let mut child = command.spawn().expect("spawn");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let outer = child.id().expect("a pid");
    let helpers = [outer].into_iter().chain(children(outer)).collect::<Vec<_>>();
    let pss: u64 = helpers.iter().filter(|pid| comm(**pid) != "sleep").map(|pid| pss_kib(*pid)).sum();
    println!("helper_processes={}", helpers.iter().filter(|pid| comm(**pid) != "sleep").count());
    println!("helper_pss_kib={pss}");
    let _ = child.kill().await;
    if let Some(cgroup) = prepared.cgroup {
        cgroup.remove().await;
    }
}

fn tenant<'a>(
    name: &'a str,
    argv: &'a [OsString],
    resources: &'a Resources,
    release: &'a std::path::Path,
) -> TenantProcess<'a> {
    TenantProcess {
        name,
        uid: SandboxUid::nth(99_999).expect("uid"),
        resources,
        argv,
        cwd: release,
        env: &[],
        files: Files { layered: Some((release, 64 << 20)), ..Files::default() },
        bind_port: None,
        max_file_size: None,
    }
}

fn children(pid: u32) -> Vec<u32> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).unwrap_or_default();
    let direct: Vec<u32> = text.split_whitespace().filter_map(|p| p.parse().ok()).collect();
    direct.iter().flat_map(|&child| std::iter::once(child).chain(children(child))).collect()
}

fn comm(pid: u32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default().trim().to_owned()
}

fn pss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup"))
        .unwrap_or_default()
        .lines()
        .find_map(|line| line.strip_prefix("Pss:").and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok()))
        .unwrap_or(0)
}
