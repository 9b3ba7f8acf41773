//! Benchmark: `warden admit` of N generated workloads (10,000 unless asked) of `bench-gen
//! manifests` against the program `bench-gen realistic N` writes for the same namespaces and
//! services: a Pod Security level, images, resource limits and labels per namespace, in `deny`,
//! `warn` and `audit`, and seccomp profiles. Most workloads fail something; each failure is
//! reported, folded for people after three per code as every command folds warnings.
//!
//! ```text
//! cargo bench --bench admit              # N = 10,000
//! cargo bench --bench admit -- 1000      # another N
//! ```
//!
//! Timed as `timing.rs` says: median of 5, and the peak memory of one more run.
#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "a benchmark harness: a failure is a failed benchmark"
)]

#[path = "timing.rs"]
mod timing;

use std::process::Command;

fn main() {
    let n: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(10_000);
    let work = tempfile::tempdir().unwrap();
    let manifests = work.path().join("manifests");
    let program = work.path().join("program");
    for (kind, dir) in [("manifests", &manifests), ("realistic", &program)] {
        let made = Command::new(env!("CARGO_BIN_EXE_bench-gen"))
            .args([kind, &n.to_string()])
            .arg(dir)
            .output()
            .expect("bench-gen runs");
        assert!(made.status.success());
    }
    let args = |_run: usize| -> Vec<String> {
        vec![
            "admit".to_string(),
            "-p".to_string(),
            program.display().to_string(),
            manifests.display().to_string(),
        ]
    };
    // `admit` exits 1 when it denies something, which these workloads are made to meet.
    let median = timing::median(args, 5, &[0, 1]);
    let peak = timing::peak(&args(5));
    println!(
        "warden admit, {n} workloads: median {:.1} ms, peak memory {peak}",
        median.as_secs_f64() * 1000.0
    );
}
