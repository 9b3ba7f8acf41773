//! A build killed at any moment leaves the output directory as the complete old tree or the
//! complete new one, its manifest matching, never a mix; files beside it that warden did not write
//! are never touched. Argo CD or Flux may apply the directory at any moment, so a half-written
//! tree would be an outage.
//!
//! Two programs (bench-gen's realistic and chain: different files, different contents) are built
//! in turn into one directory, and each build is killed with SIGKILL after a random delay drawn
//! over twice the length of an uninterrupted build.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "in tests a panic is a failed test"
)]

use crate::common::{Rng, tree, warden_bin};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const TRIALS: usize = 200;
const TARGETS: &str = "netpol,seccomp,vap,kyverno";

fn generate(kind: &str, n: &str, dir: &Path) {
    let made = Command::new(env!("CARGO_BIN_EXE_bench-gen"))
        .args([kind, n])
        .arg(dir)
        .output()
        .expect("bench-gen runs");
    assert!(made.status.success(), "bench-gen {kind} {n}");
}

fn build(program: &Path, out: &Path) -> std::process::Child {
    Command::new(warden_bin())
        .arg("build")
        .arg(program)
        .arg("--out")
        .arg(out)
        .args(["--target", TARGETS])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("warden runs")
}

fn build_fully(program: &Path, out: &Path) -> Duration {
    let start = Instant::now();
    let status = build(program, out).wait().unwrap();
    assert!(status.success(), "building {}", program.display());
    start.elapsed()
}

/// Staging directories beside the output; with `pid`, only the one that build made.
fn staging_dirs(parent: &Path, pid: Option<u32>) -> usize {
    let suffix = pid.map(|p| format!(".warden-staging-{p}"));
    std::fs::read_dir(parent)
        .unwrap()
        .filter(|e| {
            let name = e
                .as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .into_owned();
            match &suffix {
                Some(s) => name.ends_with(s.as_str()),
                None => name.contains(".warden-staging-"),
            }
        })
        .count()
}

#[test]
fn a_build_killed_at_any_moment_leaves_the_old_tree_or_the_new_one() {
    let tmp = tempfile::tempdir().unwrap();
    let programs = [tmp.path().join("realistic"), tmp.path().join("chain")];
    generate("realistic", "100", &programs[0]);
    generate("chain", "300", &programs[1]);

    // The complete tree of each program, built undisturbed.
    let mut expected = Vec::new();
    let mut durations = Vec::new();
    for (i, program) in programs.iter().enumerate() {
        let reference = tmp.path().join(format!("reference-{i}"));
        durations.push(build_fully(program, &reference));
        expected.push(tree(&reference));
    }
    assert_ne!(expected[0], expected[1]);

    // The output directory lives in a parent of its own, beside files warden did not write.
    let parent = tmp.path().join("repo");
    std::fs::create_dir_all(parent.join("kept")).unwrap();
    std::fs::write(parent.join("README.md"), "not warden's\n").unwrap();
    std::fs::write(parent.join("kept/values.yaml"), "replicas: 3\n").unwrap();
    let bystanders = tree(&parent);
    let out = parent.join("policies");
    build_fully(&programs[0], &out);
    for _ in 0..3 {
        durations.push(build_fully(&programs[1], &out));
        durations.push(build_fully(&programs[0], &out));
    }
    durations.sort();
    // Kills spread over twice a typical build: writing takes a varying share of it (the flush
    // to disk), and about half the kills should come after the exchange.
    let typical = durations[durations.len() / 2];
    let window = typical.as_micros() as u64 * 2;

    let seed = 0x5EED_C0DE_u64;
    let mut rng = Rng(seed);
    let mut current = 0;
    let (mut old, mut new, mut mid_write) = (0, 0, 0);
    for trial in 0..TRIALS {
        let next = 1 - current;
        let delay = Duration::from_micros(rng.next() % window.max(1));
        let mut child = build(&programs[next], &out);
        let pid = child.id();
        std::thread::sleep(delay);
        child.kill().unwrap();
        child.wait().unwrap();
        // The killed build left its own staging directory: it was writing the new tree.
        if staging_dirs(&parent, Some(pid)) > 0 {
            mid_write += 1;
        }
        let now = tree(&out);
        if now == expected[current] {
            old += 1;
        } else if now == expected[next] {
            new += 1;
            current = next;
        } else {
            let files: Vec<&str> = now.iter().map(|(p, _)| p.as_str()).collect();
            panic!(
                "trial {trial} (seed {seed:#x}, killed after {delay:?}): the output is neither \
                 tree; it holds {} files: {:?}",
                files.len(),
                &files[..files.len().min(20)]
            );
        }
        let mut others = tree(&parent);
        others.retain(|(p, _)| {
            !p.starts_with("policies/")
                && !p.contains(".warden-staging-")
                && !p.ends_with(".warden-lock")
        });
        assert_eq!(
            others, bystanders,
            "trial {trial}: a file warden did not write changed"
        );
    }
    eprintln!(
        "{TRIALS} builds killed within {window} µs (a whole build takes {typical:?}): {old} left \
         the old tree, {new} the new one, {mid_write} were killed while writing"
    );
    assert!(
        old >= 10 && new >= 10 && mid_write >= 10,
        "the kills did not spread over the build: {old} old, {new} new, {mid_write} mid-write"
    );

    // The next build removes what killed builds left beside the output, and succeeds.
    build_fully(&programs[0], &out);
    assert_eq!(tree(&out), expected[0]);
    assert_eq!(
        staging_dirs(&parent, None),
        0,
        "staging directories left behind"
    );
    let mut others = tree(&parent);
    others.retain(|(p, _)| !p.starts_with("policies/") && !p.ends_with(".warden-lock"));
    assert_eq!(others, bystanders);
}
