//! The six gatekeeper-library templates of `shared/corpora/gatekeeper-library/` (users,
//! read-only-root-filesystem, capabilities, privileged-containers, host-namespaces, allowedrepos),
//! their intents written in warden (`examples/gatekeeper-library/`), against every case of their
//! `suite.yaml` — the table `gator verify` reads. Each case runs on all three targets: the
//! ValidatingAdmissionPolicy and the Kyverno ClusterPolicy by the `cel` crate, the Gatekeeper
//! template by regorus; each must give the suite's verdict, and where the suite counts violations
//! (per message), the Gatekeeper template must report that many.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "in tests a panic is a failed test"
)]

use crate::common;

use crate::common::admission::{
    Labels, Request, applies_in, cel_policy, cel_violations, gatekeeper_rego, rego_violations,
    vap_policy,
};
use serde_json::Value;
use std::path::{Path, PathBuf};
use warden::document::Target;

fn library() -> PathBuf {
    common::corpora().join("gatekeeper-library/library")
}

fn yaml(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (the corpus lives in shared/ beside the project)",
            path.display()
        )
    });
    serde_yaml::from_str(&text).unwrap()
}

/// The warden block that states each sample constraint's intent (by the constraint's folder).
fn block_for(constraint: &str) -> &'static str {
    match constraint {
        "samples/psp-pods-allowed-user-ranges/constraint.yaml" => "psp-pods-allowed-user-ranges",
        "samples/psp-readonlyrootfilesystem/constraint.yaml" => "psp-readonlyrootfilesystem",
        "samples/full_wildcard/constraint.yaml" => "psp-readonlyrootfilesystem-full-wildcard",
        "samples/wildcard-prefix/constraint.yaml" => "psp-readonlyrootfilesystem-wildcard-prefix",
        "samples/psp-capabilities-baseline/constraint.yaml" => "psp-capabilities-baseline",
        "samples/psp-capabilities-restricted/constraint.yaml" => "psp-capabilities-restricted",
        "samples/psp-privileged-container/constraint.yaml" => "psp-privileged-container",
        "samples/psp-host-namespace/constraint.yaml" => "psp-host-namespace",
        "samples/repo-must-be-openpolicyagent/constraint.yaml" => "repo-is-openpolicyagent",
        other => panic!("no warden block for {other}"),
    }
}

/// A case's object: a plain object is created; an AdmissionReview is its request.
fn request(object: Value) -> Request {
    if object["kind"] == "AdmissionReview" {
        let r = &object["request"];
        let operation = match r["operation"].as_str().unwrap() {
            "UPDATE" => "UPDATE",
            "CREATE" => "CREATE",
            "DELETE" => "DELETE",
            other => panic!("operation {other}"),
        };
        Request {
            operation,
            object: r["object"].clone(),
            old_object: (!r["oldObject"].is_null()).then(|| r["oldObject"].clone()),
        }
    } else {
        Request::create(object)
    }
}

#[test]
fn every_suite_case_agrees_on_every_engine() {
    let mut sources = warden::span::SourceMap::new();
    let dir = common::example("gatekeeper-library");
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        sources.add(name, std::fs::read_to_string(&path).unwrap());
    }
    let docs =
        common::parsed_documents(sources, &[Target::Vap, Target::Kyverno, Target::Gatekeeper]);
    // The suites' objects carry no namespace: kubectl would create them in `default`.
    let labels: Labels = [(
        "kubernetes.io/metadata.name".to_string(),
        "default".to_string(),
    )]
    .into();

    let suites = [
        "pod-security-policy/users",
        "pod-security-policy/read-only-root-filesystem",
        "pod-security-policy/capabilities",
        "pod-security-policy/privileged-containers",
        "pod-security-policy/host-namespaces",
        "general/allowedrepos",
    ];
    let mut report = Vec::new();
    let mut total = 0;
    for suite in suites {
        let base = library().join(suite);
        let spec = yaml(&base.join("suite.yaml"));
        let mut cases = 0;
        for test in spec["tests"].as_array().unwrap() {
            let block = block_for(test["constraint"].as_str().unwrap());
            assert_eq!(
                applies_in(&docs, block, "default", &labels),
                [true; 3],
                "{block} must apply in default"
            );
            let vap = vap_policy(&docs, block);
            let kyverno = cel_policy(&docs[&format!("kyverno/{block}.yaml")]);
            let mut gatekeeper = gatekeeper_rego(&docs, block);
            for case in test["cases"].as_array().unwrap() {
                let name = case["name"].as_str().unwrap();
                let req = request(yaml(&base.join(case["object"].as_str().unwrap())));
                let by_vap = cel_violations(&vap, &req);
                let by_kyverno = cel_violations(&kyverno, &req);
                let by_rego = rego_violations(&mut gatekeeper, &req);
                let here = format!(
                    "{suite} / {} / {name}: vap {by_vap:?}, kyverno {by_kyverno:?}, gatekeeper {by_rego:?}",
                    test["name"].as_str().unwrap()
                );
                for a in case["assertions"].as_array().unwrap() {
                    let pattern = a["message"].as_str();
                    // Upstream's messages are its own prose; warden's name the container's kind
                    // (`container`, `initContainer`, `ephemeralContainer`), which is what the
                    // suites' counting patterns look for. Other patterns are checked by verdict.
                    let counted = pattern.is_none_or(|p| {
                        ["container", "initContainer", "ephemeralContainer"].contains(&p)
                    });
                    let matching = |msgs: &[String]| -> usize {
                        match pattern {
                            Some(p) if counted => {
                                let re = regex::Regex::new(p).unwrap();
                                msgs.iter().filter(|m| re.is_match(m)).count()
                            }
                            _ => msgs.len(),
                        }
                    };
                    let want: Option<usize> = match &a["violations"] {
                        Value::Bool(true) => None,
                        Value::Bool(false) => Some(0),
                        Value::Number(n) => Some(n.as_u64().unwrap() as usize),
                        Value::String(s) if s == "yes" => None,
                        Value::String(s) if s == "no" => Some(0),
                        other => panic!("{here}: assertion {other}"),
                    };
                    for (engine, msgs) in [
                        ("vap", &by_vap),
                        ("kyverno", &by_kyverno),
                        ("gatekeeper", &by_rego),
                    ] {
                        let got = matching(msgs);
                        // CEL engines report one message per failed validation, naming the
                        // first failing container but not its kind: counting messages by kind
                        // is Gatekeeper's notion, and the CEL engines' verdict is held to
                        // Gatekeeper's below.
                        if engine != "gatekeeper" && pattern.is_some() {
                            continue;
                        }
                        let ok = match want {
                            None => got > 0,
                            Some(0) => got == 0,
                            Some(n) if engine == "gatekeeper" => got == n,
                            Some(_) => got > 0,
                        };
                        assert!(ok, "{here}\n{engine} gives {got} for assertion {a}");
                    }
                }
                // Messages name the failing container: CEL's the first one, Rego's each one with
                // its kind (host-namespaces is about the pod, not its containers).
                let spec = &req.object["spec"];
                let names: Vec<&str> = ["containers", "initContainers", "ephemeralContainers"]
                    .iter()
                    .flat_map(|l| spec[*l].as_array().into_iter().flatten())
                    .map(|c| c["name"].as_str().unwrap())
                    .collect();
                if !suite.ends_with("host-namespaces") {
                    for m in by_vap.iter().chain(&by_kyverno) {
                        assert!(
                            names
                                .iter()
                                .any(|n| m.ends_with(&format!("(container {n})"))),
                            "{here}: {m} names no container of {names:?}"
                        );
                    }
                    for m in &by_rego {
                        assert!(
                            names.iter().any(|n| [
                                "container",
                                "initContainer",
                                "ephemeralContainer"
                            ]
                            .iter()
                            .any(|k| m.contains(&format!(": {k} {n} ")))),
                            "{here}: {m} names no container of {names:?}"
                        );
                    }
                }
                // The verdict is the same on every engine.
                assert_eq!(
                    [!by_vap.is_empty(), !by_kyverno.is_empty()],
                    [!by_rego.is_empty(); 2],
                    "{here}"
                );
                cases += 1;
            }
        }
        report.push(format!("{suite}: {cases} cases"));
        total += cases;
    }
    println!(
        "{}\n{total} gatekeeper-library suite cases agree on vap, kyverno and gatekeeper",
        report.join("\n")
    );
    assert_eq!(total, 33, "the corpus's SOURCE.md counts 33 suite cases");
}
