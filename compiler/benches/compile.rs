//! Benchmark: compiles generated programs of 100, 1,000 and 10,000 services (about three flows
//! each, a syscalls block on every fourth, an admission block per namespace) to every target and
//! writes the output, reporting wall time per phase and peak memory.
//!
//! `cargo bench --bench compile` runs every size; `cargo bench --bench compile -- 1000` one size.
//! `WARDEN_BENCH_TARGETS=netpol,seccomp,vap` compiles to those targets instead of all of them.
//! Each size runs in a fresh child process (this same binary with `--one N`), so that the peak
//! resident set size it reports (VmHWM) belongs to that size alone. Times are the median of 3 runs.
#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "a benchmark harness: a failure is a failed benchmark"
)]

use std::fmt::Write as _;
use std::path::Path;
use std::time::{Duration, Instant};
use warden::lower::Target;

/// A program of `n` services in namespaces of ten, every service calling the next three.
fn program(n: usize) -> String {
    let mut s = String::new();
    for ns in 0..n.div_ceil(10) {
        writeln!(s, "namespace ns-{ns} {{\n  isolate\n  allow dns\n}}").unwrap();
        writeln!(
            s,
            "admission adm-{ns} {{\n  applies to workloads in namespace ns-{ns}\n  forbid privileged, host-namespaces\n  require run-as-non-root\n  images from \"registry.example.com/*\"\n  mode deny\n}}"
        )
        .unwrap();
    }
    for i in 0..n {
        writeln!(s, "service svc-{i} in ns-{} {{\n  pods app = \"svc-{i}\", tier = \"t{}\"\n  port http 8080/tcp", i / 10, i % 3).unwrap();
        for k in 1..=3 {
            let j = (i + k * 7) % n;
            if j != i {
                writeln!(s, "  to ns-{}/svc-{j} on http", j / 10).unwrap();
            }
        }
        if i % 5 == 0 {
            writeln!(s, "  from world on http").unwrap();
        }
        if i % 4 == 0 {
            writeln!(s, "  syscalls {{\n    allow group runtime-core, basic-io, net-server\n    deny ptrace\n  }}").unwrap();
        }
        writeln!(s, "}}").unwrap();
    }
    s
}

struct Run {
    load_check: Duration,
    lower_validate: Duration,
    emit: Duration,
    files: usize,
}

/// The targets to compile to: `WARDEN_BENCH_TARGETS` (comma-separated), or every target.
fn targets() -> Vec<Target> {
    use clap::ValueEnum as _;
    match std::env::var("WARDEN_BENCH_TARGETS") {
        Ok(list) => list
            .split(',')
            .map(|t| Target::from_str(t.trim(), true).expect("a target"))
            .collect(),
        Err(_) => Target::ALL.to_vec(),
    }
}

fn once(dir: &Path, out: &Path) -> Run {
    let t0 = Instant::now();
    let sources = warden::load::load(&[dir.to_path_buf()]).expect("loads");
    let compiled = warden::compile(sources, &targets());
    let docs = compiled.documents.expect("compiles");
    // `compile` does check, lower and validate in one call; time lowering separately to split.
    let t1 = Instant::now();
    let files = warden::emit::plan(&docs);
    let t2 = Instant::now();
    warden::emit::build(out, &files, &mut |_| Ok(())).expect("writes");
    let t3 = Instant::now();
    Run {
        load_check: t1 - t0,
        lower_validate: t2 - t1,
        emit: t3 - t2,
        files: files.len(),
    }
}

fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .map(str::to_string)
        })
        .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        .unwrap_or(0)
}

fn child(n: usize) {
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path().join("prog");
    std::fs::create_dir(&dir).expect("mkdir");
    std::fs::write(dir.join("bench.warden"), program(n)).expect("write");
    let mut runs: Vec<Run> = (0..3)
        .map(|_| once(&dir, &tmp.path().join("out")))
        .collect();
    runs.sort_by_key(|r| r.load_check + r.lower_validate + r.emit);
    let m = &runs[1];
    let total = m.load_check + m.lower_validate + m.emit;
    println!(
        "{n:>7} services {:>7} files  total {:>9.1} ms  (parse+check+lower+render+validate {:>8.1} ms, plan {:>6.1} ms, write {:>7.1} ms)  peak RSS {:>7.1} MiB",
        m.files,
        total.as_secs_f64() * 1e3,
        m.load_check.as_secs_f64() * 1e3,
        m.lower_validate.as_secs_f64() * 1e3,
        m.emit.as_secs_f64() * 1e3,
        peak_rss_kib() as f64 / 1024.0
    );
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    if let [flag, n] = args.as_slice()
        && flag == "--one"
    {
        child(n.parse().expect("N"));
        return;
    }
    let sizes: Vec<usize> = match args.iter().find_map(|a| a.parse().ok()) {
        Some(n) => vec![n],
        None => vec![100, 1_000, 10_000],
    };
    let exe = std::env::current_exe().expect("self");
    for n in sizes {
        let status = std::process::Command::new(&exe)
            .args(["--one", &n.to_string()])
            .status()
            .expect("child runs");
        assert!(status.success(), "size {n} failed");
    }
}
