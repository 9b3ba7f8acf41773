//! Benchmark: the programs of `bench-gen` (chain and realistic) at N = 100, 1,000 and 10,000
//! services (100,000 when asked), each phase timed on its own and the `warden` process end to end.
//!
//! ```text
//! cargo bench --bench compile                        # both programs, N = 100, 1,000, 10,000
//! cargo bench --bench compile -- 100000              # one N
//! cargo bench --bench compile -- realistic 10000     # one program, one N
//! ```
//!
//! The chain is compiled to `netpol`, the realistic program to every target. Each (program, N)
//! runs its phases in a fresh child process (this binary with `--phases`), so that the peak
//! resident set size it reports (VmHWM) is that size's alone: load, parse, check, lower (which
//! renders), validate, plan (bundling and the manifest's hashes) and write, each the median of 3
//! runs. End to end is `warden build --layout bundle` and `--layout tree` as a user runs them,
//! timed by GNU time (wall and peak RSS, median of 3), the output written and synced each time
//! (the tree layout up to 10,000 services only): fresh, into an empty directory, and as a rebuild
//! over the unchanged output of the same build.
#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "a benchmark harness: a failure is a failed benchmark"
)]

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};
use warden::document::{Layout, Target};

// The allocator of the `warden` binary, so that the phases cost what they cost there.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const PHASES: [&str; 7] = [
    "load", "parse", "check", "lower", "validate", "plan", "write",
];

fn targets(program: &str) -> Vec<Target> {
    match program {
        "chain" => vec![Target::Netpol],
        _ => Target::ALL.to_vec(),
    }
}

fn target_arg(program: &str) -> &'static str {
    match program {
        "chain" => "netpol",
        _ => "netpol,cilium,seccomp,vap,kyverno,gatekeeper,spo,seccomp-installer",
    }
}

/// One compile, phase by phase, as `warden::compile_for` and `warden build` do it.
fn phases(dir: &Path, out: &Path, targets: &[Target], layout: Layout) -> (Laps, usize) {
    let mut t = [(Duration::ZERO, Duration::ZERO); 7];
    let mut clock = (Instant::now(), cpu_time());
    let mut lap = |i: usize| {
        let now = (Instant::now(), cpu_time());
        t[i] = (now.0 - clock.0, now.1.saturating_sub(clock.1));
        clock = now;
    };
    let sources = warden::load::load(&[dir.to_path_buf()]).expect("loads");
    lap(0);
    let (files, diags) = warden::parse::all(&sources);
    assert!(!diags.iter().any(warden::diag::Diagnostic::is_error));
    lap(1);
    let (program, diags) = warden::check::check(&sources, &files);
    assert!(!diags.iter().any(warden::diag::Diagnostic::is_error));
    let program = program.expect("checks");
    assert!(warden::lower::limits(&program, targets).is_empty());
    lap(2);
    let docs = warden::lower::lower(&program, &sources, targets, layout).expect("lowers");
    lap(3);
    warden::validate_all(&docs).expect("valid");
    lap(4);
    let planned = warden::emit::plan(docs, layout);
    lap(5);
    warden::emit::build(out, &planned, &|_| Ok(())).expect("writes");
    lap(6);
    (t, planned.len())
}

/// Each phase's wall time and the CPU time the process (every thread) spent in it.
type Laps = [(Duration, Duration); 7];

/// The CPU time (user and system) of this process so far, threads that have ended included:
/// `/proc/self/stat`'s `utime` and `stime`, in the kernel's 100 ticks a second.
fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // The fields after the command name, which is in parentheses and may hold spaces.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let ticks: u64 = rest
        .split_whitespace()
        .skip(11)
        .take(2)
        .filter_map(|f| f.parse::<u64>().ok())
        .sum();
    Duration::from_millis(ticks * 10)
}

fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kib: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0.0);
    kib / 1024.0
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn median<T: Copy + PartialOrd>(mut v: Vec<T>) -> T {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

/// The child: phases of one (program, N), median of 3, in bundle layout.
fn child(program: &str, dir: &Path) {
    let tmp = tempfile::tempdir_in(dir.parent().unwrap()).expect("tmp");
    let out = tmp.path().join("out");
    let runs: Vec<(Laps, usize)> = (0..3)
        .map(|_| {
            // Each run writes a fresh tree, as the first build of a repository does.
            if out.exists() {
                std::fs::remove_dir_all(&out).expect("empties the output");
            }
            phases(dir, &out, &targets(program), Layout::Bundle)
        })
        .collect();
    let mut line = String::new();
    let mut cpu = String::new();
    for (i, name) in PHASES.iter().enumerate() {
        let m = median(runs.iter().map(|r| r.0[i].0).collect());
        line.push_str(&format!(" {name} {:.1}", ms(m)));
        let c = median(runs.iter().map(|r| r.0[i].1).collect());
        cpu.push_str(&format!(" {name} {:.0}", ms(c)));
    }
    let total = median(
        runs.iter()
            .map(|r| r.0.iter().map(|l| l.0).sum::<Duration>())
            .collect(),
    );
    let total_cpu = median(
        runs.iter()
            .map(|r| r.0.iter().map(|l| l.1).sum::<Duration>())
            .collect(),
    );
    println!(
        "    in process (ms):{line}; total {:.1}; {} files; peak RSS {:.1} MiB",
        ms(total),
        runs[0].1,
        peak_rss_mib()
    );
    println!(
        "    CPU, every thread (ms, 10 ms ticks):{cpu}; total {:.0}",
        ms(total_cpu)
    );
}

/// `warden build` as a process: median wall time and peak RSS of 3 runs. The wall time is read
/// around the process here (GNU time's `%e` has a resolution of 10 ms, a tenth of the chain's
/// target), the peak from GNU time's `%M`. `fresh`:
/// into an empty output directory each time; otherwise over the output of the same build, as a
/// rebuild that changes nothing (`emit` then links every file instead of writing it).
fn end_to_end(program: &str, dir: &Path, layout: &str, fresh: bool) -> Option<(f64, f64)> {
    let warden = env!("CARGO_BIN_EXE_warden");
    let tmp = tempfile::tempdir_in(dir.parent().unwrap()).expect("tmp");
    let out = tmp.path().join("out");
    let build = || {
        let start = Instant::now();
        let run = Command::new("/usr/bin/time")
            .args(["-f", "%M", warden, "build"])
            .arg(dir)
            .arg("--out")
            .arg(&out)
            .args(["--target", target_arg(program), "--layout", layout])
            .output()
            .ok()?;
        let wall = start.elapsed().as_secs_f64();
        assert!(
            run.status.success(),
            "{}",
            String::from_utf8_lossy(&run.stderr)
        );
        let stderr = String::from_utf8_lossy(&run.stderr);
        let peak = stderr.lines().last()?.trim().parse::<f64>().ok()? / 1024.0;
        Some((wall, peak))
    };
    if !fresh {
        build()?;
    }
    let mut walls = Vec::new();
    let mut peaks = Vec::new();
    for _ in 0..3 {
        if fresh && out.exists() {
            std::fs::remove_dir_all(&out).expect("empties the output");
        }
        let (wall, peak) = build()?;
        walls.push(wall);
        peaks.push(peak);
    }
    Some((median(walls), median(peaks)))
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    if let [flag, program, dir] = args.as_slice()
        && flag == "--phases"
    {
        child(program, Path::new(dir));
        return;
    }
    let programs: Vec<&str> = match args.iter().find(|a| *a == "chain" || *a == "realistic") {
        Some(p) => vec![p.as_str()],
        None => vec!["chain", "realistic"],
    };
    let sizes: Vec<usize> = match args.iter().find_map(|a| a.parse().ok()) {
        Some(n) => vec![n],
        None => vec![100, 1_000, 10_000],
    };
    let exe = std::env::current_exe().expect("self");
    for program in &programs {
        for &n in &sizes {
            let tmp = tempfile::tempdir().expect("tmp");
            let dir = tmp.path().join("program");
            let status = Command::new(env!("CARGO_BIN_EXE_bench-gen"))
                .args([program.to_string(), n.to_string()])
                .arg(&dir)
                .output()
                .expect("bench-gen runs");
            assert!(status.status.success(), "bench-gen {program} {n}");
            println!("{program} N = {n} ({})", target_arg(program));
            let status = Command::new(&exe)
                .arg("--phases")
                .arg(program)
                .arg(&dir)
                .status()
                .expect("child runs");
            assert!(status.success(), "{program} {n} failed");
            for layout in ["bundle", "tree"] {
                if layout == "tree" && n > 10_000 {
                    // Hundreds of thousands of files, three times over: minutes of file creation
                    // that say nothing about warden.
                    println!("    warden build --layout tree: not run above 10,000 services");
                    continue;
                }
                for (fresh, what) in [(true, "fresh"), (false, "rebuild")] {
                    match end_to_end(program, &dir, layout, fresh) {
                        Some((wall, peak)) => println!(
                            "    warden build --layout {layout} ({what}): {wall:.3} s wall, \
                             {peak:.1} MiB peak"
                        ),
                        None => println!(
                            "    warden build --layout {layout}: /usr/bin/time (GNU time) is needed"
                        ),
                    }
                }
            }
        }
    }
}
