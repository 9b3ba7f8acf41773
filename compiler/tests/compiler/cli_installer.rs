//! Target `seccomp-installer` through the binary: a program whose own admission would refuse the
//! installer is an error at the rule (E0907, a reviewed snapshot) and writes nothing; leaving the
//! installer's namespace out builds; the stream carries the profiles in the installer's
//! ConfigMaps; the pod template's digest moves with a profile and with nothing else; a program
//! without a `syscalls` block gets no installer. (Its documents under kubernetes-validate and its
//! copy step under runc: `tests/oracles/installer.rs`.)
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "in tests a panic is a failed test"
)]

use crate::common::run;
use crate::snapshots::settings;
use std::path::Path;

const SERVICE: &str = "namespace shop { }\nservice web in shop {\n  pods app = \"web\"\n  syscalls {\n    base docker-default\n    default deny\n  }\n}\n";

const RESTRICTED: &str = "admission restricted {\n  applies to workloads in all namespaces\n  pod-security restricted\n  forbid host-paths \"/var/lib/kubelet\"\n  mode deny\n}\nadmission labels {\n  applies to workloads in all namespaces\n  require labels team\n  mode warn\n}\n";

fn program(dir: &Path, files: &[(&str, &str)]) {
    std::fs::create_dir_all(dir).unwrap();
    for (name, text) in files {
        std::fs::write(dir.join(name), text).unwrap();
    }
}

fn build(dir: &Path, out: &str) -> (i32, String, String) {
    run(
        &[
            "build",
            "p",
            "--out",
            out,
            "--target",
            "seccomp,seccomp-installer",
            "--color",
            "never",
        ],
        dir,
    )
}

#[test]
fn an_admission_that_refuses_the_installer_is_an_error_at_its_rules() {
    let tmp = tempfile::tempdir().unwrap();
    program(
        &tmp.path().join("p"),
        &[("svc.warden", SERVICE), ("admission.warden", RESTRICTED)],
    );
    let (code, _, err) = build(tmp.path(), "out");
    assert_eq!(code, 1, "{err}");
    settings().bind(|| insta::assert_snapshot!("installer-refused.stderr", err));
    assert!(!tmp.path().join("out").exists(), "a refused build wrote");
    // One error for the `deny` block, none for the `warn` one.
    assert_eq!(err.matches("error[E0907]").count(), 1, "{err}");
    assert!(!err.contains("admission `labels`"), "{err}");

    let except = RESTRICTED.replace(
        "in all namespaces\n  pod-security",
        "in all namespaces\n  except namespace warden-system\n  pod-security",
    );
    program(&tmp.path().join("p"), &[("admission.warden", &except)]);
    let (code, _, err) = build(tmp.path(), "out");
    assert_eq!(code, 0, "{err}");
    assert!(
        tmp.path()
            .join("out/seccomp-installer/daemonset.yaml")
            .exists()
    );
}

#[test]
fn the_stream_carries_the_profiles_and_the_digest_moves_with_them_alone() {
    let tmp = tempfile::tempdir().unwrap();
    program(&tmp.path().join("p"), &[("svc.warden", SERVICE)]);
    let (code, stream, err) = build(tmp.path(), "-");
    assert_eq!(code, 0, "{err}");
    assert!(!err.contains("N0002"), "{err}");
    let docs: Vec<serde_json::Value> = stream
        .split("---\n")
        .filter(|d| !d.trim().is_empty())
        .map(|d| serde_yaml::from_str(d).unwrap())
        .collect();
    let kinds: Vec<&str> = docs.iter().map(|d| d["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["DaemonSet", "Namespace", "ConfigMap", "ConfigMap"]);
    let profile = docs[2]["data"]["shop.web.json"].as_str().unwrap();
    let (code, _, err) = build(tmp.path(), "out");
    assert_eq!(code, 0, "{err}");
    let written = std::fs::read_to_string(tmp.path().join("out/seccomp/shop/web.json")).unwrap();
    assert_eq!(profile, written);
    assert_eq!(docs[3]["data"]["profiles.list"], "shop/web.json\n");

    let digest = |dir: &Path| -> String {
        let ds: serde_json::Value = serde_yaml::from_str(
            &std::fs::read_to_string(dir.join("out/seccomp-installer/daemonset.yaml")).unwrap(),
        )
        .unwrap();
        ds["spec"]["template"]["metadata"]["annotations"]["warden.dev/profiles-sha256"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let first = digest(tmp.path());
    assert_eq!(first.len(), 64);
    // A flow changes no profile: the digest stays.
    program(
        &tmp.path().join("p"),
        &[(
            "svc.warden",
            &format!("{SERVICE}service api in shop {{\n  pods app = \"api\"\n}}\n"),
        )],
    );
    assert_eq!(build(tmp.path(), "out").0, 0);
    assert_eq!(digest(tmp.path()), first);
    program(
        &tmp.path().join("p"),
        &[(
            "svc.warden",
            &SERVICE.replace("default deny", "deny ptrace\n    default deny"),
        )],
    );
    assert_eq!(build(tmp.path(), "out").0, 0);
    assert_ne!(digest(tmp.path()), first);
}

#[test]
fn a_program_without_profiles_gets_no_installer() {
    let tmp = tempfile::tempdir().unwrap();
    program(
        &tmp.path().join("p"),
        &[
            (
                "svc.warden",
                "namespace shop { }\nservice web in shop {\n  pods app = \"web\"\n}\n",
            ),
            ("admission.warden", RESTRICTED),
        ],
    );
    let (code, _, err) = build(tmp.path(), "out");
    assert_eq!(code, 0, "{err}");
    assert!(!tmp.path().join("out/seccomp-installer").exists());
}
