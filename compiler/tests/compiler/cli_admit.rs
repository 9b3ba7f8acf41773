//! `warden admit` end to end through the binary, on a program and workloads that meet each case:
//! a `deny` block's rules failed by one container and not by another whose image is exempt, a
//! `warn` block, a service's seccomp profile missing from a CronJob its pods select, a block scoped
//! by a label a `Namespace` of the manifests carries, a workload no block applies to. The report
//! is a snapshot, reviewed; exit codes and the JSON lines are asserted.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "in tests a panic is a failed test"
)]

use crate::common::{self, run};
use crate::snapshots::settings;
use std::path::PathBuf;

fn dir() -> PathBuf {
    common::repo().join("compiler/tests/manifests/admit")
}

#[test]
fn admit_names_each_rule_each_workload_fails_with_its_fix() {
    let (code, out, err) = run(
        &["admit", "-p", "program", "workloads", "--color", "never"],
        &dir(),
    );
    assert_eq!(code, 1, "{err}");
    assert!(out.is_empty(), "{out}");
    settings().bind(|| insta::assert_snapshot!("admit-shop.stderr", err));
    // The exempt image's container is out of `hardened`, not out of `limits`.
    assert!(!err.contains("container `legacy` fails `forbid"), "{err}");
    assert!(
        err.contains("container `legacy` fails `require resource-limits`"),
        "{err}"
    );
    assert!(err.contains("error[E1403]: CronJob `report`"), "{err}");
    assert!(
        err.contains("admission `prod` denies Pod `debug` in `tools`"),
        "{err}"
    );
    assert!(
        err.ends_with("admit: 5 workload(s): 2 admitted, 0 admitted with warnings, 3 denied (1 in no admission block's scope)\n"),
        "{err}"
    );
}

#[test]
fn admit_lists_every_finding_as_a_json_line() {
    let (code, out, err) = run(
        &["admit", "-p", "program", "workloads", "--format", "json"],
        &dir(),
    );
    assert_eq!(code, 1, "{err}");
    let lines: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let count = |code: &str| lines.iter().filter(|d| d["code"] == code).count();
    assert_eq!(
        (count("E1401"), count("W1402"), count("E1403")),
        (10, 2, 1),
        "{out}"
    );
}

#[test]
fn admit_exits_0_when_nothing_is_denied_and_2_when_it_cannot_read() {
    let work = tempfile::tempdir().unwrap();
    let only_warned = work.path().join("web.yaml");
    let text = std::fs::read_to_string(dir().join("workloads/shop.yaml")).unwrap();
    // The first Deployment, without its limits: `limits` warns, nothing denies.
    let first = text.split("\n---\n").next().unwrap();
    std::fs::write(
        &only_warned,
        first.replace(
            "\n          resources:\n            limits: {cpu: \"1\", memory: 256Mi}",
            "",
        ),
    )
    .unwrap();
    let program = dir().join("program");
    let (code, _, err) = run(
        &["admit", "-p", program.to_str().unwrap(), "web.yaml"],
        work.path(),
    );
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("warning[W1402]"), "{err}");
    assert!(
        err.contains("0 admitted, 1 admitted with warnings, 0 denied"),
        "{err}"
    );
    std::fs::write(work.path().join("bad.yaml"), "a: [\n").unwrap();
    let (code, _, err) = run(
        &["admit", "-p", program.to_str().unwrap(), "bad.yaml"],
        work.path(),
    );
    assert_eq!(code, 2, "{err}");
    std::fs::write(work.path().join("broken.warden"), "service {").unwrap();
    let (code, _, err) = run(&["admit", "-p", "broken.warden", "web.yaml"], work.path());
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("does not compile"), "{err}");
}
