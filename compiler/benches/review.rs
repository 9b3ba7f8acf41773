//! Benchmark: the commands reviewers run, on the realistic program of `bench-gen` at N services
//! (10,000 unless asked) with a compliance block claiming NIST SP 800-53, CIS and PCI DSS for
//! every namespace, in one run so that they compare: `warden check` (reference), `warden audit`
//! in each format, and `warden diff` of the program against a copy with one flow added and
//! against a copy where one namespace no longer isolates.
//!
//! ```text
//! cargo bench --bench review              # N = 10,000
//! cargo bench --bench review -- 1000      # another N
//! ```
//!
//! Each command is a process timed from spawn to exit, median of 5.
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

const WARDEN: &str = env!("CARGO_BIN_EXE_warden");

fn timed(args: &[&str], runs: usize) -> (Duration, usize) {
    let mut times = Vec::new();
    let mut size = 0;
    for _ in 0..runs {
        let start = Instant::now();
        let out = Command::new(WARDEN)
            .args(args)
            .output()
            .expect("warden runs");
        times.push(start.elapsed());
        assert!(
            out.status.code().is_some_and(|c| c <= 1),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        size = out.stdout.len();
    }
    times.sort();
    (times[times.len() / 2], size)
}

fn copy(from: &Path, to: &Path) {
    std::fs::create_dir(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
    }
}

fn main() {
    let n: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(10_000);
    let work = tempfile::tempdir().unwrap();
    let dir = work.path().join("program");
    let status = Command::new(env!("CARGO_BIN_EXE_bench-gen"))
        .args(["realistic", &n.to_string()])
        .arg(&dir)
        .output()
        .expect("bench-gen runs");
    assert!(status.status.success());
    // Claimed before the copies are made, so that each diff compares claims the same on both
    // sides and shows only what its change does to them.
    std::fs::write(
        dir.join("compliance.warden"),
        "compliance estate {\n  framework nist-800-53, cis-kubernetes, pci-dss\n}\n",
    )
    .unwrap();
    // One flow added to the first service.
    let added = work.path().join("flow-added");
    copy(&dir, &added);
    let first = added.join("ns-0.warden");
    let text = std::fs::read_to_string(&first).unwrap();
    std::fs::write(
        &first,
        text.replacen(
            "service svc-0 in ns-0 {\n",
            "service svc-0 in ns-0 {\n  to ns-1/svc-10 on http\n",
            1,
        ),
    )
    .unwrap();
    // A namespace that no longer isolates: every connection of its pods changes.
    let open = work.path().join("isolation-dropped");
    copy(&dir, &open);
    let first = open.join("ns-0.warden");
    let text = std::fs::read_to_string(&first).unwrap();
    // Its expectations that the world cannot reach a service stay, and break.
    std::fs::write(&first, text.replacen("  isolate\n", "", 1)).unwrap();
    // One namespace of 10,000 services, each with its own port, and the same with each reaching
    // the next: every pod's rules and every port class change together.
    let (chain, linked) = (work.path().join("chain"), work.path().join("linked"));
    for (dir, link) in [(&chain, false), (&linked, true)] {
        std::fs::create_dir_all(dir).unwrap();
        let mut text = String::from("namespace chain {\n  isolate\n  allow dns\n}\n");
        for i in 0..n {
            text.push_str(&format!(
                "service s{i} in chain {{\n  pods app = \"s{i}\"\n  port p {}/tcp\n",
                8000 + i
            ));
            if link && i + 1 < n {
                text.push_str(&format!("  to s{} on p\n", i + 1));
            }
            text.push_str("}\n");
        }
        std::fs::write(dir.join("chain.warden"), text).unwrap();
    }
    let (d, a, o) = (
        dir.to_str().unwrap(),
        added.to_str().unwrap(),
        open.to_str().unwrap(),
    );
    let date = ["--date", "2026-12-06"];
    println!(
        "realistic program, {n} services ({} files)",
        std::fs::read_dir(&dir).unwrap().count()
    );
    println!(
        "{:<52} {:>9} {:>12}",
        "command", "median ms", "output bytes"
    );
    let row = |label: &str, args: &[&str]| {
        let (t, size) = timed(args, 5);
        println!("{label:<52} {:>9.1} {size:>12}", t.as_secs_f64() * 1000.0);
    };
    row(
        "warden check PROGRAM (reference)",
        &["check", d, date[0], date[1]],
    );
    for format in ["md", "html", "json", "oscal"] {
        row(
            &format!("warden audit PROGRAM --format {format}"),
            &["audit", d, "--format", format, date[0], date[1]],
        );
    }
    row(
        "warden diff PROGRAM ONE-FLOW-ADDED",
        &["diff", d, a, date[0], date[1]],
    );
    row(
        "warden diff PROGRAM ISOLATION-DROPPED",
        &["diff", d, o, date[0], date[1]],
    );
    row(
        "warden diff CHAIN LINKED (one namespace)",
        &[
            "diff",
            chain.to_str().unwrap(),
            linked.to_str().unwrap(),
            date[0],
            date[1],
        ],
    );
}
