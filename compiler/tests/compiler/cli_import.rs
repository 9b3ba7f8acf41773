//! `warden import netpol` end to end through the binary: the program of a shop's policies in
//! every form the importer reads (a snapshot, reviewed; that it means what the policies mean is
//! `tests/oracles/import_netpol.rs`), what it refuses with the file and line, determinism whatever
//! the order of files and documents, and what it never writes over.
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

fn manifests() -> PathBuf {
    common::repo().join("compiler/tests/manifests")
}

#[test]
fn the_shop_policies_import_to_a_program_that_builds() {
    let (code, out, err) = run(&["import", "netpol", "policies"], &manifests());
    assert_eq!(code, 0, "{err}");
    settings().bind(|| insta::assert_snapshot!("import-netpol-shop.warden", out));
    for line in [
        // Two policies selecting the same pods are one service.
        "// policies/shop.yaml:51: NetworkPolicy frontend-metrics\nservice frontend in shop",
        // Each line after the rule it says, by the rule's own line.
        "// policies/shop.yaml:41: NetworkPolicy frontend, egress rule 1\n  to pods(",
        // The pods' named port, from everyone: the world and all pods.
        "from world, all pods on http",
        // The egress peers' named port, over TCP.
        "to pods(app in (\"cart\", \"catalog\")) on grpc",
        // Host bits cleared as the API server does; overlapping blocks on lines of their own.
        "to cidr 203.0.113.0/24 on 443/tcp",
        "from cidr 10.20.0.0/16 on all ports",
        // Requirements on one key folded; ranges declared merged.
        "pods app = \"cart\", track notin (\"canary\", \"shadow\")",
        "port tcp-7000-7071 7000-7071/tcp",
        // The namespace's own policies, and DNS as a program says it.
        "namespace shop {\n  isolate\n",
        "allow dns",
        // Pods that two services may share are said to be shared.
        "overlaps cart, frontend",
        "from namespace shop on 3868/sctp, 8443/tcp",
    ] {
        assert!(out.contains(line), "missing `{line}` in:\n{out}");
    }
    // The contradictory policy and the ignored rules are warned about and left out.
    assert!(
        err.contains("W1303") && err.contains("`nothing` selects no pod"),
        "{err}"
    );
    assert!(
        err.contains("egress rules of NetworkPolicy `cart` are ignored"),
        "{err}"
    );
    assert!(
        !out.contains("service nothing") && !out.contains("service cart-"),
        "{out}"
    );
    // What is printed builds, and says nothing the importer's compile did not.
    let work = tempfile::tempdir().unwrap();
    std::fs::write(work.path().join("shop.warden"), &out).unwrap();
    let (code, _, err) = run(&["check", "shop.warden"], work.path());
    assert_eq!(code, 0, "{err}");
}

#[test]
fn what_a_cluster_would_refuse_or_a_program_cannot_say_is_named_and_nothing_is_written() {
    let work = tempfile::tempdir().unwrap();
    let dir = manifests().join("policies-broken");
    for (file, expected) in [
        (
            "invalid.yaml",
            &[
                "invalid.yaml:7:1",
                "`Gt` is not an operator",
                "invalid.yaml:16:1",
                "`192.168.0.0/16` is not within `10.0.0.0/8`",
                "invalid.yaml:18:1",
                "`ICMP` is not a protocol",
                "invalid.yaml:19:1",
                "`endPort` needs `port`",
                "invalid.yaml:21:1",
                "`Shop` is not a namespace name",
            ][..],
        ),
        (
            "unsayable.yaml",
            &[
                "unsayable.yaml:20:1",
                "error[E1302]: label `track` must exist and not be `canary`",
                "unsayable.yaml:8:1",
                "error[E1302]: port `dns` over udp is named",
            ][..],
        ),
    ] {
        let out_dir = work.path().join(file);
        let (code, out, err) = run(
            &[
                "import",
                "netpol",
                dir.join(file).to_str().unwrap(),
                "--out",
                out_dir.to_str().unwrap(),
            ],
            work.path(),
        );
        assert_eq!(code, 1, "{file}: {err}");
        assert!(out.is_empty(), "{out}");
        for e in expected {
            assert!(err.contains(e), "{file}: missing `{e}` in:\n{err}");
        }
        assert!(err.contains("nothing imported"), "{err}");
        assert!(!out_dir.exists(), "{file}: something was written");
    }
    // A file with no NetworkPolicy is not an empty program.
    std::fs::write(
        work.path().join("cm.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n",
    )
    .unwrap();
    let (code, _, err) = run(&["import", "netpol", "cm.yaml"], work.path());
    assert_eq!(code, 1);
    assert!(err.contains("no NetworkPolicy"), "{err}");
}

#[test]
fn the_program_is_the_same_whatever_the_order_of_files_and_documents() {
    let text = std::fs::read_to_string(manifests().join("policies/shop.yaml")).unwrap();
    let docs: Vec<&str> = text.split("\n---\n").collect();
    assert!(docs.len() > 5);
    let mut outputs = Vec::new();
    for order in [
        (0..docs.len()).collect::<Vec<_>>(),
        (0..docs.len()).rev().collect(),
        (0..docs.len()).map(|i| (i * 5) % docs.len()).collect(),
    ] {
        let work = tempfile::tempdir().unwrap();
        // The documents over three files, named so that their order differs too.
        for (k, i) in order.iter().enumerate() {
            let name = format!("{}-{k}.yaml", ["c", "a", "b"][k % 3]);
            std::fs::write(work.path().join(name), docs[*i]).unwrap();
        }
        let (code, out, err) = run(&["import", "netpol", "."], work.path());
        assert_eq!(code, 0, "{err}");
        // Evidence names files; the program itself must not depend on them.
        let program: Vec<&str> = out
            .lines()
            .filter(|l| !l.trim_start().starts_with("//"))
            .collect();
        outputs.push(program.join("\n"));
    }
    assert_eq!(outputs[0], outputs[1]);
    assert_eq!(outputs[0], outputs[2]);
}

#[test]
fn out_writes_a_file_per_namespace_and_only_over_files_it_wrote() {
    let work = tempfile::tempdir().unwrap();
    let policies = manifests().join("policies");
    let args = |out: &str| {
        vec![
            "import".to_string(),
            "netpol".to_string(),
            policies.to_str().unwrap().to_string(),
            "--out".to_string(),
            out.to_string(),
        ]
    };
    let call = |out: &str| {
        let a = args(out);
        let refs: Vec<&str> = a.iter().map(String::as_str).collect();
        run(&refs, work.path())
    };
    let (code, _, err) = call("program");
    assert_eq!(code, 0, "{err}");
    let files: Vec<String> = common::tree(&work.path().join("program"))
        .into_iter()
        .map(|(p, _)| p)
        .collect();
    assert_eq!(files, ["payments.warden", "shop.warden"]);
    // Again: its own files are written over, byte for byte the same.
    let before = common::tree(&work.path().join("program"));
    let (code, _, err) = call("program");
    assert_eq!(code, 0, "{err}");
    assert_eq!(common::tree(&work.path().join("program")), before);
    // A hand-written file of the same name is not.
    let mine = "namespace shop { }\n";
    std::fs::write(work.path().join("program/shop.warden"), mine).unwrap();
    let (code, _, err) = call("program");
    assert_eq!(code, 1);
    assert!(err.contains("writes only over files it wrote"), "{err}");
    assert_eq!(
        std::fs::read_to_string(work.path().join("program/shop.warden")).unwrap(),
        mine
    );
    // The written program builds.
    let (code, _, err) = run(&["check", "program"], work.path());
    assert_eq!(code, 0, "{err}");
}

fn seccomp_corpus(file: &str) -> String {
    common::corpora()
        .join("seccomp")
        .join(file)
        .to_str()
        .unwrap()
        .to_string()
}

#[test]
fn a_seccomp_profile_imports_to_a_block_its_lints_review() {
    let work = tempfile::tempdir().unwrap();
    let moby = seccomp_corpus("moby/default.json");
    let (code, out, err) = run(
        &["import", "seccomp", &moby, "--service", "web"],
        work.path(),
    );
    assert_eq!(code, 0, "{err}");
    // The header's comment lines read as one.
    let header = out.replace("\n// ", " ");
    assert!(
        header.contains("for a container with capabilities AUDIT_WRITE, CHOWN,"),
        "{out}"
    );
    assert!(
        header.contains("Calls of x86_64 only (W0402 elsewhere): access, alarm, arch_prctl,"),
        "{out}"
    );
    for line in [
        "  allow clone if arg0 lacks 0x7e020000\n",
        "  allow personality if arg0 in (0, 8, 131072, 131080, 4294967295)\n",
        "  errno ENOSYS clone3\n",
        "  default deny\n}\n",
    ] {
        assert!(out.contains(line), "missing `{line}` in:\n{out}");
    }
    // Docker's default allows ptrace on current kernels: the lint says so, at the block's line.
    assert!(err.contains("W0411") && err.contains("`ptrace`"), "{err}");
    assert!(err.contains("web (imported):"), "{err}");
    assert!(
        err.contains("calls of one architecture only are named in the header"),
        "{err}"
    );
    // With CAP_SYS_ADMIN, moby's includes give clone and clone3 without conditions.
    let (code, out, err) = run(
        &[
            "import",
            "seccomp",
            &moby,
            "--service",
            "web",
            "--capabilities",
            "SYS_ADMIN",
        ],
        work.path(),
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains(" clone, clone3,"), "{out}");
    assert!(!out.contains("errno ENOSYS clone3"), "{out}");
    // Alternatives of one argument are `in` lists of at most 64 values, which a program takes.
    let rules: Vec<String> = (0..70)
        .map(|v| format!("{{\"names\": [\"socket\"], \"action\": \"SCMP_ACT_ALLOW\", \"args\": [{{\"index\": 0, \"value\": {v}, \"op\": \"SCMP_CMP_EQ\"}}]}}"))
        .collect();
    std::fs::write(
        work.path().join("many.json"),
        format!(
            "{{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"syscalls\": [{}]}}",
            rules.join(", ")
        ),
    )
    .unwrap();
    let (code, many, err) = run(
        &["import", "seccomp", "many.json", "--service", "web"],
        work.path(),
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        many.matches("allow socket if arg0 in (").count(),
        2,
        "{many}"
    );
    // The printed block is a block a service can hold.
    let program =
        format!("namespace shop {{ }}\nservice web in shop {{\n  pods app = \"web\"\n{out}}}\n");
    std::fs::write(work.path().join("p.warden"), program).unwrap();
    let (code, _, err) = run(&["check", "p.warden"], work.path());
    assert_eq!(code, 0, "{err}");
}

#[test]
fn what_a_block_cannot_say_or_warden_cannot_read_is_named() {
    let work = tempfile::tempdir().unwrap();
    let (code, out, err) = run(
        &[
            "import",
            "seccomp",
            &seccomp_corpus("moby/fixtures/example.json"),
            "--service",
            "web",
        ],
        work.path(),
    );
    assert_eq!((code, out.as_str()), (1, ""), "{err}");
    assert!(
        err.contains("error[E1312]: errno 12345 has no name"),
        "{err}"
    );
    assert!(err.contains("example.json:27:1"), "{err}");
    let spo = seccomp_corpus("security-profiles-operator/examples/seccompprofile.yaml");
    let (code, _, err) = run(
        &["import", "seccomp", &spo, "--service", "web"],
        work.path(),
    );
    assert_eq!(code, 1);
    assert!(
        err.contains("E1311") && err.contains("--profile-name"),
        "{err}"
    );
    let (code, out, err) = run(
        &[
            "import",
            "seccomp",
            &spo,
            "--service",
            "web",
            "--profile-name",
            "profile-block-all",
        ],
        work.path(),
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.ends_with("syscalls {\n  default deny\n}\n"), "{out}");
    assert!(err.contains("W0410"), "{err}");
    for (service, caps, message) in [
        ("web", "SYS_WIZARD", "not a Linux capability"),
        ("Web", "none", "not a service name"),
    ] {
        let (code, _, err) = run(
            &[
                "import",
                "seccomp",
                &spo,
                "--service",
                service,
                "--capabilities",
                caps,
            ],
            work.path(),
        );
        assert_eq!(code, 2, "{err}");
        assert!(err.contains(message), "{err}");
    }
    std::fs::write(work.path().join("not.json"), "{\"syscalls\": []}").unwrap();
    let (code, _, err) = run(
        &["import", "seccomp", "not.json", "--service", "web"],
        work.path(),
    );
    assert_eq!(code, 1);
    assert!(err.contains("no `defaultAction`"), "{err}");
}
