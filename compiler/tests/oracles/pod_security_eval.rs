//! warden's own evaluation of the Pod Security Standards (`warden::admit::pod_security`, what
//! `infer` and `admit` decide with) against the generated ValidatingAdmissionPolicy run by an
//! independent CEL engine: the same failing checks on every conformance fixture of Pod Security
//! Admission and on seeded pods in every workload kind, at several policy versions.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "in tests a panic is a failed test"
)]

use crate::common::admission::{CelPolicy, Request, cel_violations, checks_named, vap_policy};
use crate::common::{self, Rng};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use warden::catalog::pod_security::{Level, Version};
use warden::document::Target;
use warden::manifests::objects::Object;

fn pss_policy(level: &str, version: &str) -> CelPolicy {
    let program = format!(
        "namespace x {{ }}\nadmission pss {{\n  applies to workloads in namespace x\n  pod-security {level} version {version}\n}}\n"
    );
    let docs = common::parsed_program(&program, &[Target::Vap]);
    vap_policy(&docs, "pss")
}

/// The Pod Security checks the CEL engine finds failed, by name, sorted.
fn cel_checks(p: &CelPolicy, object: &Value) -> Vec<String> {
    checks_named(&cel_violations(p, &Request::create(object.clone())))
}

/// The checks warden's evaluator finds failed for the one workload of `yaml`, by name, sorted.
fn own_checks(yaml: &str, level: Level, version: Version) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("pod.yaml");
    std::fs::write(&path, yaml).unwrap();
    let m = warden::manifests::read(&[path]);
    assert!(m.diagnostics.is_empty(), "{yaml}");
    let [Object::Workload(w)] = m.objects.as_slice() else {
        panic!("one workload: {yaml}");
    };
    let pod = warden::admit::pod_security::Pod {
        annotations: &w.pod_annotations,
        spec: &w.spec,
    };
    let mut out: Vec<String> = warden::admit::pod_security::failures(pod, level, version)
        .iter()
        .map(|f| f.check.name().to_string())
        .collect();
    out.sort();
    out
}

const VERSIONS: [&str; 4] = ["v1.24", "v1.31", "v1.35", "v1.37"];

/// Every fixture of both levels at v1.36 and v1.37: warden's verdict is upstream's, and it names
/// the checks the generated policy names.
#[test]
fn own_evaluation_agrees_on_every_conformance_fixture() {
    let root = common::corpora().join("pss-conformance/testdata");
    assert!(root.is_dir(), "{} is missing", root.display());
    let mut seen = 0;
    for level in ["baseline", "restricted"] {
        for version in ["v1.36", "v1.37"] {
            let policy = pss_policy(level, version);
            let (l, v) = (
                Level::parse(level).unwrap(),
                Version::parse(version).unwrap(),
            );
            for outcome in ["pass", "fail"] {
                let dir = root.join(level).join(version).join(outcome);
                let mut files: Vec<_> = std::fs::read_dir(&dir)
                    .unwrap()
                    .map(|e| e.unwrap().path())
                    .collect();
                files.sort();
                for file in files {
                    let text = std::fs::read_to_string(&file).unwrap();
                    let own = own_checks(&text, l, v);
                    assert_eq!(
                        own.is_empty(),
                        outcome == "pass",
                        "{level} {version} {}: warden says {own:?}",
                        file.display()
                    );
                    let pod: Value = serde_yaml::from_str(&text).unwrap();
                    assert_eq!(
                        own,
                        cel_checks(&policy, &pod),
                        "{level} {version} {}",
                        file.display()
                    );
                    seen += 1;
                }
            }
        }
    }
    assert_eq!(seen, 296, "the corpus holds 296 fixtures");
}

/// A field of the pod spec (`spec.…`), of its metadata, or of a container (`c.…`), and a value
/// for it: some pass every check, some fail one; `null` removes the field.
pub(crate) fn mutations() -> Vec<(&'static str, Value)> {
    vec![
        ("spec.hostNetwork", json!(true)),
        ("spec.hostPID", json!(false)),
        ("spec.hostIPC", json!(true)),
        ("spec.hostUsers", json!(false)),
        ("spec.os", json!({"name": "windows"})),
        ("spec.os", json!({"name": "linux"})),
        ("spec.securityContext.runAsNonRoot", json!(false)),
        ("spec.securityContext.runAsNonRoot", Value::Null),
        ("spec.securityContext.runAsUser", json!(0)),
        ("spec.securityContext.runAsUser", json!(1000)),
        (
            "spec.securityContext.seccompProfile",
            json!({"type": "Unconfined"}),
        ),
        (
            "spec.securityContext.seccompProfile",
            json!({"type": "Localhost", "localhostProfile": "p.json"}),
        ),
        ("spec.securityContext.seccompProfile", Value::Null),
        (
            "spec.securityContext.seLinuxOptions",
            json!({"type": "container_t"}),
        ),
        (
            "spec.securityContext.seLinuxOptions",
            json!({"type": "spc_t"}),
        ),
        (
            "spec.securityContext.seLinuxOptions",
            json!({"type": "container_engine_t"}),
        ),
        (
            "spec.securityContext.seLinuxOptions",
            json!({"user": "root"}),
        ),
        ("spec.securityContext.seLinuxOptions", json!({"role": ""})),
        (
            "spec.securityContext.sysctls",
            json!([{"name": "kernel.shm_rmid_forced", "value": "1"}]),
        ),
        (
            "spec.securityContext.sysctls",
            json!([{"name": "net.ipv4.tcp_rmem", "value": "1"}]),
        ),
        (
            "spec.securityContext.sysctls",
            json!([{"name": "kernel.msgmax", "value": "1"}]),
        ),
        (
            "spec.securityContext.windowsOptions",
            json!({"hostProcess": true}),
        ),
        (
            "spec.securityContext.appArmorProfile",
            json!({"type": "Unconfined"}),
        ),
        (
            "spec.securityContext.appArmorProfile",
            json!({"type": "RuntimeDefault"}),
        ),
        (
            "spec.volumes",
            json!([{"name": "v", "hostPath": {"path": "/"}}]),
        ),
        (
            "spec.volumes",
            json!([{"name": "v", "nfs": {"server": "s", "path": "/"}}]),
        ),
        (
            "spec.volumes",
            json!([{"name": "v", "emptyDir": {}}, {"name": "w", "configMap": {"name": "c"}}]),
        ),
        (
            "metadata.annotations",
            json!({"container.apparmor.security.beta.kubernetes.io/web": "unconfined"}),
        ),
        (
            "metadata.annotations",
            json!({"container.apparmor.security.beta.kubernetes.io/web": "localhost/p"}),
        ),
        ("c.securityContext.privileged", json!(true)),
        ("c.securityContext.privileged", json!(false)),
        (
            "c.securityContext.capabilities",
            json!({"drop": ["ALL"], "add": ["NET_ADMIN"]}),
        ),
        (
            "c.securityContext.capabilities",
            json!({"drop": ["ALL"], "add": ["CHOWN"]}),
        ),
        (
            "c.securityContext.capabilities",
            json!({"drop": ["ALL"], "add": ["NET_BIND_SERVICE"]}),
        ),
        (
            "c.securityContext.capabilities",
            json!({"drop": ["NET_RAW"]}),
        ),
        ("c.securityContext.capabilities", Value::Null),
        ("c.ports", json!([{"containerPort": 80, "hostPort": 80}])),
        ("c.ports", json!([{"containerPort": 80, "hostPort": 0}])),
        (
            "c.securityContext.appArmorProfile",
            json!({"type": "Unconfined"}),
        ),
        (
            "c.securityContext.appArmorProfile",
            json!({"type": "Localhost", "localhostProfile": "p"}),
        ),
        (
            "c.securityContext.seLinuxOptions",
            json!({"type": "container_init_t", "level": "s0"}),
        ),
        (
            "c.securityContext.seLinuxOptions",
            json!({"role": "sysadm_r"}),
        ),
        ("c.securityContext.procMount", json!("Unmasked")),
        ("c.securityContext.procMount", json!("Default")),
        (
            "c.securityContext.seccompProfile",
            json!({"type": "Unconfined"}),
        ),
        (
            "c.securityContext.seccompProfile",
            json!({"type": "RuntimeDefault"}),
        ),
        (
            "c.securityContext.windowsOptions",
            json!({"hostProcess": true}),
        ),
        (
            "c.livenessProbe",
            json!({"httpGet": {"host": "10.0.0.1", "port": 80}}),
        ),
        (
            "c.readinessProbe",
            json!({"tcpSocket": {"host": "", "port": 80}}),
        ),
        (
            "c.lifecycle",
            json!({"preStop": {"httpGet": {"host": "example.com", "port": 80}}}),
        ),
        ("c.securityContext.allowPrivilegeEscalation", json!(true)),
        ("c.securityContext.allowPrivilegeEscalation", Value::Null),
        ("c.securityContext.runAsNonRoot", json!(true)),
        ("c.securityContext.runAsNonRoot", json!(false)),
        ("c.securityContext.runAsUser", json!(0)),
        ("c.securityContext", Value::Null),
    ]
}

pub(crate) fn apply(pod: &mut Value, path: &str, value: &Value, rng: &mut Rng) {
    let mut keys: Vec<&str> = path.split('.').collect();
    let mut at = if keys[0] == "c" {
        let list = *rng.pick(&[
            "initContainers",
            "containers",
            "containers",
            "ephemeralContainers",
        ]);
        let items = pod["spec"][list].as_array_mut().unwrap();
        let i = rng.below(items.len());
        keys.remove(0);
        &mut items[i]
    } else {
        &mut *pod
    };
    let last = keys.pop().unwrap();
    for k in keys {
        if !at[k].is_object() {
            at[k] = json!({});
        }
        at = &mut at[k];
    }
    if value.is_null() {
        at.as_object_mut().unwrap().remove(last);
    } else {
        at[last] = value.clone();
    }
}

pub(crate) fn hardened(name: &str) -> Value {
    json!({"name": name, "image": "registry.example.com/shop/web:1", "securityContext": {
        "allowPrivilegeEscalation": false, "capabilities": {"drop": ["ALL"]}}})
}

/// The pod as itself or as the template of another workload kind.
pub(crate) fn wrapped(pod: &Value, kind: &str) -> Value {
    let template = json!({"metadata": pod["metadata"], "spec": pod["spec"]});
    match kind {
        "Pod" => pod.clone(),
        "CronJob" => json!({"apiVersion": "batch/v1", "kind": kind, "metadata": {"name": "w"},
            "spec": {"schedule": "* * * * *", "jobTemplate": {"spec": {"template": template}}}}),
        _ => json!({"apiVersion": if kind == "Job" { "batch/v1" } else { "apps/v1" },
            "kind": kind, "metadata": {"name": "w"},
            "spec": {"selector": {"matchLabels": {"app": "web"}}, "template": template}}),
    }
}

/// 1,200 seeded pods, each with up to five mutations, in a seeded workload kind, judged at a
/// seeded level and version by both.
#[test]
fn own_evaluation_agrees_with_the_generated_policy_on_seeded_pods() {
    let pool = mutations();
    let mut policies: BTreeMap<(&str, &str), CelPolicy> = BTreeMap::new();
    let mut rng = Rng(0x005e_ed0f_9055);
    let (mut denied, mut admitted) = (0, 0);
    for seed in 0..1200 {
        let mut pod = json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "web", "labels": {"app": "web"}},
            "spec": {
                "securityContext": {"runAsNonRoot": true, "seccompProfile": {"type": "RuntimeDefault"}},
                "initContainers": [hardened("init")],
                "containers": [hardened("web"), hardened("cache")],
                "ephemeralContainers": [hardened("debug")]}});
        for _ in 0..rng.below(6) {
            let (path, value) = rng.pick(&pool);
            apply(&mut pod, path, value, &mut rng);
        }
        let kind = *rng.pick(&[
            "Pod",
            "Deployment",
            "StatefulSet",
            "DaemonSet",
            "ReplicaSet",
            "Job",
            "CronJob",
        ]);
        let object = wrapped(&pod, kind);
        let level = *rng.pick(&["baseline", "restricted"]);
        let version = *rng.pick(&VERSIONS);
        let policy = policies
            .entry((level, version))
            .or_insert_with(|| pss_policy(level, version));
        let expected = cel_checks(policy, &object);
        let own = own_checks(
            &serde_yaml::to_string(&object).unwrap(),
            Level::parse(level).unwrap(),
            Version::parse(version).unwrap(),
        );
        assert_eq!(own, expected, "seed {seed}, {level} {version}: {object}");
        if own.is_empty() {
            admitted += 1;
        } else {
            denied += 1;
        }
    }
    // The pool must reach both verdicts often, or the comparison says little.
    assert!(
        denied > 300 && admitted > 150,
        "{denied} denied, {admitted} admitted"
    );
    println!(
        "1200 seeded pods: {denied} denied, {admitted} admitted, warden and CEL agreeing on every failing check"
    );
}
