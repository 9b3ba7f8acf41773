//! Benchmark: `warden infer` on N generated workloads (10,000 unless asked) of `bench-gen
//! manifests`: a Deployment and a Service each, in namespaces of ten, each workload given its
//! neighbours' addresses literally and through a shared ConfigMap. The draft is written to a
//! directory (and compiled first, as `infer` always does).
//!
//! ```text
//! cargo bench --bench infer              # N = 10,000
//! cargo bench --bench infer -- 1000      # another N
//! ```
//!
//! A process timed from spawn to exit, median of 5; its peak memory where `/usr/bin/time` is
//! there to say it.
#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "a benchmark harness: a failure is a failed benchmark"
)]

use std::process::Command;
use std::time::Instant;

const WARDEN: &str = env!("CARGO_BIN_EXE_warden");

fn main() {
    let n: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(10_000);
    let work = tempfile::tempdir().unwrap();
    let input = work.path().join("manifests");
    let out = work.path().join("policy");
    let status = Command::new(env!("CARGO_BIN_EXE_bench-gen"))
        .args(["manifests", &n.to_string()])
        .arg(&input)
        .output()
        .expect("bench-gen runs");
    assert!(status.status.success());
    let args = [
        "infer",
        input.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ];
    let mut times = Vec::new();
    for _ in 0..5 {
        let start = Instant::now();
        let run = Command::new(WARDEN)
            .args(args)
            .output()
            .expect("warden runs");
        times.push(start.elapsed());
        assert!(
            run.status.success(),
            "{}",
            String::from_utf8_lossy(&run.stderr)
        );
    }
    times.sort();
    let peak = Command::new("/usr/bin/time")
        .args(["-f", "%M"])
        .arg(WARDEN)
        .args(args)
        .output()
        .ok()
        .and_then(|o| {
            String::from_utf8_lossy(&o.stderr)
                .lines()
                .last()
                .and_then(|l| l.trim().parse::<u64>().ok())
        })
        .map_or("n/a".to_string(), |kb| format!("{} MiB", kb / 1024));
    println!(
        "warden infer, {n} workloads: median {:.1} ms, peak memory {peak}",
        times[times.len() / 2].as_secs_f64() * 1000.0
    );
}
