//! Benchmark: `warden import netpol` on the NetworkPolicies of N services (10,000 unless asked):
//! `bench-gen realistic N` built with target `netpol`, every policy read back into a program,
//! which `import` compiles before it writes it.
//!
//! ```text
//! cargo bench --bench import              # N = 10,000
//! cargo bench --bench import -- 1000      # another N
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

const WARDEN: &str = env!("CARGO_BIN_EXE_warden");

fn main() {
    let n: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(10_000);
    let work = tempfile::tempdir().unwrap();
    let program = work.path().join("program");
    let built = work.path().join("built");
    let generated = Command::new(env!("CARGO_BIN_EXE_bench-gen"))
        .args(["realistic", &n.to_string()])
        .arg(&program)
        .output()
        .expect("bench-gen runs");
    assert!(generated.status.success());
    let build = Command::new(WARDEN)
        .arg("build")
        .arg(&program)
        .args(["--target", "netpol", "--out"])
        .arg(&built)
        .output()
        .expect("warden runs");
    assert!(
        build.status.success(),
        "{}",
        String::from_utf8_lossy(&build.stderr)
    );
    let policies = built.join("netpol");
    // Each run writes into a directory of its own, as a first import is written.
    let args = |run: usize| -> Vec<String> {
        let out = work.path().join(format!("imported-{run}"));
        vec![
            "import".to_string(),
            "netpol".to_string(),
            policies.display().to_string(),
            "--out".to_string(),
            out.display().to_string(),
        ]
    };
    let median = timing::median(args, 5, &[0]);
    let peak = timing::peak(&args(5));
    let files = std::fs::read_dir(&policies)
        .map(|d| d.flatten().count())
        .unwrap_or(0);
    println!(
        "warden import netpol, the policies of {n} services ({files} namespaces): median {:.1} ms, peak memory {peak}",
        median.as_secs_f64() * 1000.0
    );
}
