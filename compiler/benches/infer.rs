//! Benchmark: `warden infer` on N generated workloads (10,000 unless asked) of `bench-gen
//! manifests`: a Deployment and a Service each, in namespaces of ten, each workload given its
//! neighbours' addresses literally and through a shared ConfigMap. The draft is written to a
//! new directory each run (and compiled first, as `infer` always does).
//!
//! ```text
//! cargo bench --bench infer              # N = 10,000
//! cargo bench --bench infer -- 1000      # another N
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
    let input = work.path().join("manifests");
    let status = Command::new(env!("CARGO_BIN_EXE_bench-gen"))
        .args(["manifests", &n.to_string()])
        .arg(&input)
        .output()
        .expect("bench-gen runs");
    assert!(status.status.success());
    // Each run drafts into a directory of its own, as a first draft is written.
    let args = |run: usize| -> Vec<String> {
        let out = work.path().join(format!("policy-{run}"));
        vec![
            "infer".to_string(),
            input.display().to_string(),
            "--out".to_string(),
            out.display().to_string(),
        ]
    };
    let median = timing::median(args, 5, &[0]);
    let peak = timing::peak(&args(5));
    println!(
        "warden infer, {n} workloads: median {:.1} ms, peak memory {peak}",
        median.as_secs_f64() * 1000.0
    );
}
