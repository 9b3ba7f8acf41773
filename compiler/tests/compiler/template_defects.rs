//! A defect in a template, or in the code that writes the documents there is one of per service
//! (NetworkPolicies, seccomp profiles and the rest), must stop the build: warden is rebuilt from a
//! copy of this source tree with both broken on purpose — YAML structure, a field the schema does
//! not know, a word YAML 1.1 reads as a boolean, a JSON syntax error, a wrong kind — and must
//! refuse each target with E0805, naming the documents, and leave the previous output as it was.
//!
//! The rebuild takes a minute or two the first time (its own target directory, kept under
//! CARGO_TARGET_TMPDIR for the next run).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "a test: a panic is a failed test"
)]

use crate::common;

use std::path::{Path, PathBuf};
use std::process::Command;

/// (file of the repository, text, broken text, target it breaks, what the diagnostic says)
const BREAKS: &[(&str, &str, &str, &str, &str)] = &[
    (
        "compiler/src/lower/netpol.rs",
        "\"\\n  policyTypes:\"",
        "\"\\n   policyTypes:\"",
        "netpol",
        "does not parse",
    ),
    (
        "targets/vap/binding.yaml",
        "  validationActions:",
        "  validationAction:",
        "vap",
        "validationAction",
    ),
    (
        "targets/kyverno/clusterpolicy.yaml",
        "  background: true",
        "  background: yes",
        "kyverno",
        "`yes` is not a scalar warden writes",
    ),
    (
        "compiler/src/lower/seccomp.rs",
        r#""\n  ],\n  \"syscalls\": [""#,
        r#""\n  ],,\n  \"syscalls\": [""#,
        "seccomp",
        "does not parse",
    ),
    (
        "compiler/src/lower/installer.rs",
        "automountServiceAccountToken: false",
        "automountServiceAccountTokens: false",
        "seccomp-installer",
        "automountServiceAccountTokens",
    ),
    (
        "targets/gatekeeper/template.yaml",
        "kind: ConstraintTemplate",
        "kind: ConstraintTemplates",
        "gatekeeper",
        "expected apiVersion `templates.gatekeeper.sh/v1` and kind `ConstraintTemplate`",
    ),
];

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// warden built from a copy of the source tree with every break of `BREAKS` applied.
fn broken_warden(work: &Path) -> PathBuf {
    let repo = common::repo();
    let copy = work.join("src");
    for dir in [
        "compiler/src",
        "compiler/benches",
        "compiler/tests",
        "compiler/catalog",
        "compiler/codes",
        "compiler/templates",
        "grammar",
        "targets",
        // The fuzz crate is a workspace member: the workspace does not load without it.
        "fuzz/src",
        "fuzz/fuzz_targets",
        "fuzz/tests",
    ] {
        copy_dir(&repo.join(dir), &copy.join(dir));
    }
    for file in ["Cargo.toml", "Cargo.lock", "fuzz/Cargo.toml"] {
        std::fs::copy(repo.join(file), copy.join(file)).unwrap();
    }
    for (template, good, bad, _, _) in BREAKS {
        let path = copy.join(template);
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.matches(good).count(), 1, "{template}: `{good}` once");
        std::fs::write(&path, text.replace(good, bad)).unwrap();
    }
    let target_dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("template-defects");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    let out = Command::new(cargo)
        .args(["build", "--offline", "--quiet", "--bin", "warden"])
        // Unoptimised, as it built before the test profile was optimised: three times faster to
        // build, and the broken templates fail the same.
        .args(["--config", "profile.dev.opt-level=0"])
        .args(["--config", "profile.dev.package.\"*\".opt-level=0"])
        .current_dir(&copy)
        .env("CARGO_TARGET_DIR", &target_dir)
        .output()
        .expect("cargo runs");
    assert!(
        out.status.success(),
        "the copy does not build: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    target_dir.join("debug/warden")
}

#[test]
fn a_broken_template_stops_the_build_and_leaves_the_output_alone() {
    let work = tempfile::tempdir().unwrap();
    let broken = broken_warden(work.path());
    let program = common::example("online-boutique");
    let out = work.path().join("out");
    let every = "netpol,seccomp,vap,kyverno,gatekeeper,spo";
    let good = Command::new(env!("CARGO_BIN_EXE_warden"))
        .arg("build")
        .arg(&program)
        .arg("--out")
        .arg(&out)
        .args(["--target", every])
        .output()
        .unwrap();
    assert!(
        good.status.success(),
        "{}",
        String::from_utf8_lossy(&good.stderr)
    );
    let before = common::tree(&out);
    let run = |target: &str| {
        Command::new(&broken)
            .arg("build")
            .arg(&program)
            .arg("--out")
            .arg(&out)
            .args(["--target", target, "--color", "never"])
            .output()
            .unwrap()
    };
    for (template, _, _, target, says) in BREAKS {
        let result = run(target);
        let stderr = String::from_utf8_lossy(&result.stderr);
        assert_eq!(result.status.code(), Some(1), "{template}: {stderr}");
        assert!(stderr.contains("error[E0805]"), "{template}: {stderr}");
        assert!(
            stderr.contains(&format!("{target}/")),
            "{template}: {stderr}"
        );
        assert!(
            stderr.contains(says),
            "{template}: expected `{says}` in {stderr}"
        );
        assert!(
            common::tree(&out) == before,
            "{template}: the output changed"
        );
    }
    // The copy is otherwise sound: a target whose template is intact builds.
    let spo = run("spo");
    assert!(
        spo.status.success(),
        "{}",
        String::from_utf8_lossy(&spo.stderr)
    );
}
