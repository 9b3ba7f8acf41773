//! Independent engines on what warden generates: `kubernetes-validate` (Kubernetes 1.36 schemas,
//! strict) on every Kubernetes document of every example, Python's `jsonschema` with the
//! CiliumNetworkPolicy CRD's schema on every Cilium document, and `kubectl kustomize` (kubectl
//! 1.37.1) on every output directory. These never skip: without their engine they fail and say how to install it
//! (`.ci/test` does).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "in tests a panic is a failed test"
)]

use crate::common;

use std::path::PathBuf;
use std::process::Command;

pub(crate) fn tool(name: &str) -> PathBuf {
    let dir = std::env::var_os("WARDEN_PYTHON_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| common::repo().join("target/ci-venv/bin"));
    let path = dir.join(name);
    assert!(
        path.exists(),
        "`{}` is missing: run `.ci/test` (it installs the pinned Python tools from .ci/requirements.txt into target/ci-venv), or set WARDEN_PYTHON_BIN",
        path.display()
    );
    path
}

fn built(example: &std::path::Path) -> tempfile::TempDir {
    let tmp = tempfile::tempdir().expect("tmp");
    let docs = common::compile_ok(&[example.to_path_buf()]);
    warden::emit::build(
        &tmp.path().join("out"),
        &warden::emit::plan(docs, warden::document::Layout::Tree),
        &|_| Ok(()),
    )
    .expect("build");
    tmp
}

#[test]
fn every_kubernetes_document_passes_kubernetes_validate_strict_for_1_36() {
    let validator = tool("kubernetes-validate");
    let mut checked = 0;
    for example in common::examples() {
        let tmp = built(&example);
        let out = tmp.path().join("out");
        let files: Vec<String> = common::tree(&out)
            .into_iter()
            .map(|(p, _)| p)
            .filter(|p| {
                // Custom resources have their CRDs' schemas: see the next tests.
                p.ends_with(".yaml")
                    && p != "kustomization.yaml"
                    && !p.starts_with("cilium/")
                    && !p.starts_with("kyverno/")
                    && !p.starts_with("gatekeeper/")
                    && !p.starts_with("spo/")
            })
            .collect();
        if files.is_empty() {
            continue; // a Cilium-only example: see the next test
        }
        let result = Command::new(&validator)
            .args(["--strict", "--kubernetes-version", "1.36.0", "--no-warn"])
            .args(&files)
            .current_dir(&out)
            .output()
            .expect("kubernetes-validate runs");
        let stdout = String::from_utf8_lossy(&result.stdout);
        assert!(
            result.status.success(),
            "{}: {stdout}{}",
            example.display(),
            String::from_utf8_lossy(&result.stderr)
        );
        assert_eq!(stdout.matches(" passed ").count(), files.len(), "{stdout}");
        checked += files.len();
    }
    assert!(checked >= 16, "checked {checked} documents");
}

#[test]
fn kubernetes_validate_rejects_a_misspelled_field() {
    // The oracle itself must be able to fail.
    let tmp = tempfile::tempdir().expect("tmp");
    let bad = tmp.path().join("bad.yaml");
    std::fs::write(
        &bad,
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: x}\nspec: {podSelector: {}, ingres: []}\n",
    )
    .expect("write");
    let status = Command::new(tool("kubernetes-validate"))
        .args(["--strict", "--kubernetes-version", "1.36.0"])
        .arg(&bad)
        .output()
        .expect("runs");
    assert!(!status.status.success());
}

/// A custom resource's schema: the CRD in shared/corpora, its version, and the strict schema
/// warden embeds.
struct Crd {
    crd: &'static str,
    version: &'static str,
    /// Which CRD of the file, when it holds several.
    kind: Option<&'static str>,
    committed: &'static str,
}

const CILIUM: Crd = Crd {
    crd: "schemas/crds/cilium/ciliumnetworkpolicies.yaml",
    version: "v2",
    kind: None,
    committed: "targets/cilium/schema/ciliumnetworkpolicy-v2.json",
};

const KYVERNO: Crd = Crd {
    crd: "schemas/crds/kyverno.io_clusterpolicies.yaml",
    version: "v1",
    kind: None,
    committed: "targets/kyverno/schema/clusterpolicy-v1.json",
};

const GATEKEEPER: Crd = Crd {
    crd: "schemas/crds/constrainttemplate-customresourcedefinition.yaml",
    version: "v1",
    kind: Some("ConstraintTemplate"),
    committed: "targets/gatekeeper/schema/constrainttemplate-v1.json",
};

const SPO: Crd = Crd {
    crd: "seccomp/security-profiles-operator/crds/seccompprofile.yaml",
    version: "v1",
    kind: None,
    committed: "targets/spo/schema/seccompprofile-v1.json",
};

/// Derives the strict schema from the CRD in shared/corpora with the project's own script (so
/// the committed schema cannot drift from it), and validates documents with Python's
/// `jsonschema` (an engine other than the one warden embeds). Returns the checker's output per
/// document: `ok` or the error.
fn crd_schema_check(kind: &Crd, docs: &[(String, String)]) -> Vec<(String, String)> {
    let python = tool("python");
    let crd = common::corpora().join(kind.crd);
    assert!(
        crd.is_file(),
        "{} is missing: it comes from shared/corpora",
        crd.display()
    );
    let derive = common::repo().join("targets/derive-crd-schema.py");
    let derived = Command::new(&python)
        .arg(&derive)
        .arg(&crd)
        .arg(kind.version)
        .args(kind.kind)
        .output()
        .expect("python runs");
    assert!(
        derived.status.success(),
        "derive-crd-schema.py: {}",
        String::from_utf8_lossy(&derived.stderr)
    );
    let committed = std::fs::read(common::repo().join(kind.committed)).expect("committed schema");
    assert!(
        derived.stdout == committed,
        "{} is not what derive-crd-schema.py makes of the CRD: regenerate it",
        kind.committed
    );
    let tmp = tempfile::tempdir().expect("tmp");
    let schema = tmp.path().join("schema.json");
    std::fs::write(&schema, &derived.stdout).expect("write");
    let mut paths = Vec::new();
    for (i, (_, text)) in docs.iter().enumerate() {
        let path = tmp.path().join(format!("{i}.yaml"));
        std::fs::write(&path, text).expect("write");
        paths.push(path);
    }
    let script = r#"
import json, sys, yaml, jsonschema
schema = json.load(open(sys.argv[1]))
validator = jsonschema.Draft4Validator(schema)
for path in sys.argv[2:]:
    docs = [d for d in yaml.safe_load_all(open(path)) if d is not None]
    errors = [e.message for d in docs for e in validator.iter_errors(d)]
    if len(docs) != 1:
        errors.append(f"{len(docs)} documents")
    print(json.dumps("ok" if not errors else "; ".join(errors)))
"#;
    let out = Command::new(&python)
        .arg("-c")
        .arg(script)
        .arg(&schema)
        .args(&paths)
        .output()
        .expect("python runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let verdicts: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect();
    assert_eq!(verdicts.len(), docs.len());
    docs.iter().map(|(p, _)| p.clone()).zip(verdicts).collect()
}

/// Every generated document of every example whose path `select` picks, named by example.
fn generated(select: fn(&str) -> bool) -> Vec<(String, String)> {
    let mut docs = Vec::new();
    for example in common::examples() {
        for d in common::compile_ok(std::slice::from_ref(&example)) {
            if select(&d.path) {
                docs.push((format!("{}: {}", example.display(), d.path), d.text));
            }
        }
    }
    docs
}

fn assert_schema_passes(kind: &Crd, docs: &[(String, String)]) {
    let failures: Vec<String> = crd_schema_check(kind, docs)
        .into_iter()
        .filter(|(_, v)| v != "ok")
        .map(|(p, v)| format!("{p}: {v}"))
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The check must be able to fail: every one of `bad` is rejected.
fn assert_schema_rejects(kind: &Crd, bad: &[String]) {
    let docs: Vec<(String, String)> = bad
        .iter()
        .enumerate()
        .map(|(i, t)| (i.to_string(), t.clone()))
        .collect();
    for (p, v) in crd_schema_check(kind, &docs) {
        assert_ne!(v, "ok", "case {p} was accepted");
    }
}

#[test]
fn every_cilium_document_passes_the_crd_schema() {
    let docs = generated(|p| p.starts_with("cilium/"));
    assert!(docs.len() >= 30, "{} Cilium documents", docs.len());
    assert_schema_passes(&CILIUM, &docs);
}

#[test]
fn every_kyverno_document_passes_the_crd_schema() {
    let docs = generated(|p| p.starts_with("kyverno/"));
    assert!(docs.len() >= 4, "{} Kyverno documents", docs.len());
    assert_schema_passes(&KYVERNO, &docs);
    // A misspelled field and an action Kyverno does not know.
    let head = "apiVersion: kyverno.io/v1\nkind: ClusterPolicy\nmetadata: {name: x}\nspec:\n  rules:\n  - name: r\n    match: {any: [{resources: {kinds: [Pod]}}]}\n";
    assert_schema_rejects(
        &KYVERNO,
        &[
            format!(
                "{head}    validate: {{failureActon: Enforce, cel: {{expressions: [{{expression: 'true'}}]}}}}\n"
            ),
            format!(
                "{head}    validate: {{failureAction: Block, cel: {{expressions: [{{expression: 'true'}}]}}}}\n"
            ),
        ],
    );
}

#[test]
fn every_gatekeeper_template_passes_the_crd_schema() {
    let docs = generated(|p| p.starts_with("gatekeeper/") && p.ends_with(".template.yaml"));
    assert!(docs.len() >= 4, "{} ConstraintTemplates", docs.len());
    assert_schema_passes(&GATEKEEPER, &docs);
    assert_schema_rejects(
        &GATEKEEPER,
        &["apiVersion: templates.gatekeeper.sh/v1\nkind: ConstraintTemplate\nmetadata: {name: x}\nspec:\n  crd: {spec: {names: {kind: X}}}\n  targets: [{target: admission.k8s.gatekeeper.sh, regoo: 'package x'}]\n".to_string()],
    );
}

#[test]
fn every_spo_seccompprofile_passes_the_crd_schema() {
    let docs = generated(|p| p.starts_with("spo/"));
    assert!(docs.len() >= 5, "{} SeccompProfiles", docs.len());
    assert_schema_passes(&SPO, &docs);
    assert_schema_rejects(
        &SPO,
        &["apiVersion: security-profiles-operator.x-k8s.io/v1\nkind: SeccompProfile\nmetadata: {name: x}\nspec:\n  defaultAction: SCMP_ACT_ERRNO\n  defaultErrnoRet: 13\n".to_string()],
    );
}

#[test]
fn the_cilium_schema_check_rejects_what_cilium_would_drop() {
    // A misspelled field (the API server would prune it and the rule would allow more), a
    // protocol Cilium does not know, and a misspelled direction. (The CRD's port pattern is not
    // anchored at its end and takes "70000": warden's own port check is what keeps ports in
    // range.)
    let head = "apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: x, namespace: y}\nspec:\n  endpointSelector: {}\n";
    assert_schema_rejects(
        &CILIUM,
        &[
            format!("{head}  egress:\n  - toFQDN: [{{matchName: a.example}}]\n"),
            format!(
                "{head}  egress:\n  - toPorts: [{{ports: [{{port: \"80\", protocol: HTTP}}]}}]\n"
            ),
            format!("{head}  egres: []\n"),
        ],
    );
}

#[test]
fn kubectl_kustomize_renders_every_output_directory() {
    let kubectl = tool("kubectl");
    for example in common::examples() {
        let tmp = built(&example);
        let out = tmp.path().join("out");
        let result = Command::new(&kubectl)
            .arg("kustomize")
            .arg(&out)
            .output()
            .expect("kubectl runs");
        assert!(
            result.status.success(),
            "{}",
            String::from_utf8_lossy(&result.stderr)
        );
        let rendered = String::from_utf8_lossy(&result.stdout);
        let kustomization = std::fs::read_to_string(out.join("kustomization.yaml")).expect("read");
        let listed = kustomization
            .lines()
            .filter(|l| l.starts_with("- "))
            .count();
        assert_eq!(
            rendered.matches("\nkind: ").count() + usize::from(rendered.starts_with("kind: ")),
            listed
        );
    }
}

#[test]
fn graphviz_reads_every_graph() {
    let dot = std::env::var_os("PATH")
        .and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|p| p.join("dot"))
                .find(|p| p.is_file())
        })
        .expect("Graphviz's `dot` is not installed: `.ci/test` installs Debian's graphviz");
    for example in common::examples() {
        let sources = warden::load::load(std::slice::from_ref(&example)).unwrap();
        let c = warden::compile(sources, &[warden::document::Target::Netpol]);
        let program = c.program.unwrap();
        let text = warden::graph::render(&program, warden::graph::Format::Dot);
        let mut child = Command::new(&dot)
            .arg("-Tsvg")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write as _;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success() && out.stderr.is_empty(),
            "{}: {}",
            example.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        let svg = String::from_utf8_lossy(&out.stdout);
        for id in program.services.keys() {
            // Graphviz writes `-` as `&#45;` in SVG text.
            let drawn = format!(">{}<", id.name.replace('-', "&#45;"));
            assert!(svg.contains(&drawn), "{} is not drawn", id);
        }
        // One drawn edge per distinct (client, server, ports) flow.
        let edges = svg.matches("class=\"edge\"").count();
        let mut flows: Vec<_> = program
            .flows
            .iter()
            .map(|f| (&f.client, &f.server, &f.ports, &f.http))
            .collect();
        flows.dedup();
        assert_eq!(edges, flows.len(), "{}", example.display());
    }
}

/// The pod spec schema the CEL type check reads is what `compiler/catalog/derive-pod-schema.py`
/// makes of Kubernetes 1.36's definitions, and the volume kinds warden lists are exactly the
/// sources of that schema's `Volume`.
#[test]
fn the_pod_schema_and_volume_kinds_follow_kubernetes_1_36() {
    let defs =
        common::corpora().join("schemas/k8s-json-schema/v1.36.0-local-strict/_definitions.json");
    assert!(
        defs.is_file(),
        "{} is missing: it comes from shared/corpora",
        defs.display()
    );
    let derived = Command::new(tool("python"))
        .arg(common::repo().join("compiler/catalog/derive-pod-schema.py"))
        .arg(&defs)
        .output()
        .expect("python runs");
    assert!(
        derived.status.success(),
        "{}",
        String::from_utf8_lossy(&derived.stderr)
    );
    let committed = std::fs::read(common::repo().join("compiler/catalog/pod-schema.json")).unwrap();
    assert!(
        derived.stdout == committed,
        "compiler/catalog/pod-schema.json is not what derive-pod-schema.py makes of the definitions: regenerate it"
    );
    let schema: serde_json::Value = serde_json::from_slice(&committed).unwrap();
    let mut kinds: Vec<&str> = schema["Volume"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .filter(|k| *k != "name")
        .collect();
    kinds.sort_unstable();
    assert_eq!(kinds, warden::catalog::pod_spec::VOLUME_KINDS.to_vec());
}
