//! The generated ValidatingAdmissionPolicy evaluated by an independent CEL engine (the `cel` crate):
//! variables in order, then every validation, as the API server does, against pods written here
//! for each rule and wrapped in every workload kind the policy matches.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "in tests a panic is a failed test"
)]

use crate::common;

use crate::common::admission::{
    Rego, Request, checks_named, gatekeeper_rego, rego_violations as rego_review, vap_policy,
};

use serde_json::{Value, json};
use std::sync::Arc;
use warden::document::Target;
use warden::span::SourceMap;

const PROGRAM: &str = r#"
namespace shop { isolate  allow dns }
admission hardened {
  applies to workloads in namespace shop
  forbid privileged, host-namespaces, privilege-escalation
  require run-as-non-root, drop-all-capabilities, seccomp-profile
  images from "registry.example.com/shop/*", "docker.io/library/redis:7.*-alpine", "busybox"
  require labels app, team
  mode deny
}
"#;

struct Policy {
    variables: Vec<(String, String)>,
    validations: Vec<(String, String)>,
}

fn policy() -> Policy {
    policy_of(PROGRAM, "vap/hardened.policy.yaml")
}

/// The variables and validations of the policy at `path` generated from `program`: a
/// ValidatingAdmissionPolicy (`vap/BLOCK.policy.yaml`: with the Pod Security policy the block
/// shares, as `vap_policy` joins them) or a Kyverno ClusterPolicy (`kyverno/…`, its rule's CEL).
fn policy_of(program: &str, path: &str) -> Policy {
    let mut sources = SourceMap::new();
    sources.add("p.warden".to_string(), program.to_string());
    let c = warden::compile(sources, &[Target::Vap, Target::Kyverno, Target::Gatekeeper]);
    let docs = c.documents.unwrap_or_else(|| {
        panic!(
            "{}",
            warden::diag::render::human(&c.sources, &c.diagnostics)
        )
    });
    if let Some(block) = path
        .strip_prefix("vap/")
        .and_then(|p| p.strip_suffix(".policy.yaml"))
    {
        let docs = docs
            .iter()
            .map(|d| (d.path.clone(), common::parse(d)))
            .collect();
        let p = vap_policy(&docs, block);
        return Policy {
            variables: p.variables,
            validations: p
                .validations
                .into_iter()
                .map(|v| (v.expression, v.message))
                .collect(),
        };
    }
    let doc = docs.iter().find(|d| d.path == path).expect("policy");
    let v = common::parse(doc);
    let (spec, validations) = if path.starts_with("kyverno/") {
        assert_eq!(v["spec"]["rules"].as_array().unwrap().len(), 1);
        (&v["spec"]["rules"][0]["validate"]["cel"], "expressions")
    } else {
        (&v["spec"], "validations")
    };
    let pairs = |key: &str, a: &str, b: &str| -> Vec<(String, String)> {
        spec[key]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| {
                (
                    x[a].as_str().unwrap().to_string(),
                    x[b].as_str().unwrap().to_string(),
                )
            })
            .collect()
    };
    Policy {
        variables: pairs("variables", "name", "expression"),
        validations: pairs(validations, "expression", "message"),
    }
}

/// Evaluates one expression with `object` and the variables computed so far bound, as the API
/// server does.
fn eval(
    env: &Arc<cel::Env>,
    expr: &str,
    object: &Value,
    vars: &serde_json::Map<String, Value>,
) -> Result<cel::Value, String> {
    let program = env.compile(expr).map_err(|e| format!("{expr}: {e:?}"))?;
    let mut ctx = cel::Context::with_env(env.clone());
    ctx.add_variable("object", object.clone()).unwrap();
    ctx.add_variable("variables", Value::Object(vars.clone()))
        .unwrap();
    program
        .execute(&ctx)
        .map_err(|e| format!("{expr} on {object}: {e:?}"))
}

/// The Gatekeeper templates block `block` of `program` is constrained by (its own and the Pod
/// Security template it shares), loaded into regorus as Gatekeeper runs them
/// (`common::admission`).
fn rego_of(program: &str, block: &str) -> Rego {
    let docs = common::parsed_program(program, &[Target::Gatekeeper]);
    gatekeeper_rego(&docs, block)
}

/// The messages of the violations Gatekeeper would report for creating `object`, sorted.
fn rego_violations(r: &mut Rego, object: &Value) -> Vec<String> {
    rego_review(r, &Request::create(object.clone()))
}

/// The messages of the validations that fail for `object`.
fn violations(p: &Policy, object: &Value) -> Vec<String> {
    let env = Arc::new(cel::Env::stdlib());
    let mut vars = serde_json::Map::new();
    for (name, expr) in &p.variables {
        let value =
            eval(&env, expr, object, &vars).unwrap_or_else(|e| panic!("variable {name}: {e}"));
        vars.insert(name.clone(), value.json().unwrap());
    }
    let mut failed = Vec::new();
    for (expr, message) in &p.validations {
        match eval(&env, expr, object, &vars) {
            Ok(cel::Value::Bool(true)) => {}
            Ok(cel::Value::Bool(false)) => failed.push(message.clone()),
            other => panic!("{expr} on {object}: {other:?}"),
        }
    }
    failed
}

fn container(name: &str, image: &str) -> Value {
    json!({
        "name": name,
        "image": image,
        "securityContext": {
            "allowPrivilegeEscalation": false,
            "capabilities": {"drop": ["ALL"]},
        }
    })
}

/// A pod that satisfies every rule.
fn good_pod() -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "web", "labels": {"app": "web", "team": "shop"}},
        "spec": {
            "securityContext": {"runAsNonRoot": true, "seccompProfile": {"type": "RuntimeDefault"}},
            "initContainers": [container("init", "busybox")],
            "containers": [
                container("web", "registry.example.com/shop/web:1.2"),
                container("cache", "docker.io/library/redis:7.2-alpine"),
            ],
        }
    })
}

/// The same pod as the template of each workload kind the policy matches.
fn kinds(pod: &Value) -> Vec<Value> {
    let template = json!({"metadata": pod["metadata"], "spec": pod["spec"]});
    let mut out = vec![pod.clone()];
    for kind in [
        "Deployment",
        "StatefulSet",
        "DaemonSet",
        "ReplicaSet",
        "Job",
    ] {
        out.push(json!({"kind": kind, "metadata": {"name": "w"}, "spec": {"template": template}}));
    }
    out.push(json!({"kind": "CronJob", "metadata": {"name": "w"}, "spec": {"jobTemplate": {"spec": {"template": template}}}}));
    out
}

fn set(pod: &mut Value, path: &[&str], value: Value) {
    let mut at = pod;
    for key in &path[..path.len() - 1] {
        at = if let Ok(i) = key.parse::<usize>() {
            &mut at[i]
        } else {
            &mut at[*key]
        };
    }
    at[*path.last().unwrap()] = value;
}

#[test]
fn a_compliant_pod_is_admitted_in_every_kind() {
    let p = policy();
    let mut g = rego_of(PROGRAM, "hardened");
    assert_eq!(p.validations.len(), 8);
    for object in kinds(&good_pod()) {
        assert_eq!(violations(&p, &object), Vec::<String>::new(), "{object}");
        assert_eq!(
            rego_violations(&mut g, &object),
            Vec::<String>::new(),
            "{object}"
        );
    }
}

#[test]
fn each_violation_is_caught_by_its_rule_alone_in_every_kind() {
    let p = policy();
    let mut g = rego_of(PROGRAM, "hardened");
    type Edit = (&'static str, fn(&mut Value));
    let cases: Vec<Edit> = vec![
        ("privileged", |pod| {
            set(
                pod,
                &["spec", "containers", "0", "securityContext", "privileged"],
                json!(true),
            )
        }),
        ("privileged", |pod| {
            set(
                pod,
                &[
                    "spec",
                    "initContainers",
                    "0",
                    "securityContext",
                    "privileged",
                ],
                json!(true),
            )
        }),
        ("host's namespaces", |pod| {
            set(pod, &["spec", "hostNetwork"], json!(true))
        }),
        ("host's namespaces", |pod| {
            set(pod, &["spec", "hostPID"], json!(true))
        }),
        ("host's namespaces", |pod| {
            set(pod, &["spec", "hostIPC"], json!(true))
        }),
        ("privilege escalation", |pod| {
            set(
                pod,
                &[
                    "spec",
                    "containers",
                    "1",
                    "securityContext",
                    "allowPrivilegeEscalation",
                ],
                json!(true),
            )
        }),
        ("privilege escalation", |pod| {
            pod["spec"]["containers"][0]["securityContext"]
                .as_object_mut()
                .unwrap()
                .remove("allowPrivilegeEscalation");
        }),
        ("non-root", |pod| {
            set(
                pod,
                &["spec", "securityContext", "runAsNonRoot"],
                json!(false),
            )
        }),
        ("non-root", |pod| {
            set(
                pod,
                &["spec", "containers", "0", "securityContext", "runAsNonRoot"],
                json!(false),
            )
        }),
        ("non-root", |pod| {
            set(
                pod,
                &["spec", "containers", "1", "securityContext", "runAsUser"],
                json!(0),
            )
        }),
        ("non-root", |pod| {
            set(pod, &["spec", "securityContext", "runAsUser"], json!(0))
        }),
        ("drop all capabilities", |pod| {
            set(
                pod,
                &[
                    "spec",
                    "containers",
                    "0",
                    "securityContext",
                    "capabilities",
                    "drop",
                ],
                json!(["NET_RAW"]),
            )
        }),
        ("drop all capabilities", |pod| {
            pod["spec"]["initContainers"][0]["securityContext"]
                .as_object_mut()
                .unwrap()
                .remove("capabilities");
        }),
        ("seccomp profile", |pod| {
            pod["spec"]["securityContext"]
                .as_object_mut()
                .unwrap()
                .remove("seccompProfile");
        }),
        ("seccomp profile", |pod| {
            set(
                pod,
                &[
                    "spec",
                    "containers",
                    "1",
                    "securityContext",
                    "seccompProfile",
                ],
                json!({"type": "Unconfined"}),
            )
        }),
        ("image", |pod| {
            set(
                pod,
                &["spec", "containers", "0", "image"],
                json!("evil.example.com/shop/web:1.2"),
            )
        }),
        ("image", |pod| {
            set(
                pod,
                &["spec", "containers", "1", "image"],
                json!("docker.io/library/redis:6.2-alpine"),
            )
        }),
        ("image", |pod| {
            set(
                pod,
                &["spec", "initContainers", "0", "image"],
                json!("busybox:latest"),
            )
        }),
        ("labels", |pod| {
            pod["metadata"]["labels"]
                .as_object_mut()
                .unwrap()
                .remove("team");
        }),
        ("labels", |pod| {
            pod["metadata"].as_object_mut().unwrap().remove("labels");
        }),
    ];
    for (rule, edit) in cases {
        let mut pod = good_pod();
        edit(&mut pod);
        for object in kinds(&pod) {
            let failed = violations(&p, &object);
            assert_eq!(failed.len(), 1, "{rule}: {failed:?}\n{object}");
            assert!(failed[0].contains(rule), "{rule}: {failed:?}");
            // Gatekeeper's Rego catches it too, by one warden rule alone.
            let rego = rego_violations(&mut g, &object);
            let mut rules: Vec<&str> = rego.iter().filter_map(|m| m.split(':').next()).collect();
            rules.dedup();
            assert_eq!(rules.len(), 1, "{rule}: Gatekeeper says {rego:?}\n{object}");
        }
    }
}

#[test]
fn a_container_level_setting_overrides_the_pod_level_one() {
    let p = policy();
    let mut pod = good_pod();
    // The pod says nothing; every container says runAsNonRoot and RuntimeDefault itself.
    pod["spec"]
        .as_object_mut()
        .unwrap()
        .remove("securityContext");
    for list in ["initContainers", "containers"] {
        for c in pod["spec"][list].as_array_mut().unwrap() {
            c["securityContext"]["runAsNonRoot"] = json!(true);
            c["securityContext"]["seccompProfile"] =
                json!({"type": "Localhost", "localhostProfile": "shop/web.json"});
        }
    }
    assert_eq!(violations(&p, &pod), Vec::<String>::new());
}

/// The Pod Security Standards conformance fixtures of Pod Security Admission (shared/corpora):
/// for baseline and restricted at v1.36 and v1.37, every `pass/` pod is admitted by the generated
/// policy and every `fail/` pod rejected — by the check its file is named after, wherever that
/// check is in force at that level and version.
#[test]
fn pod_security_classifies_every_conformance_fixture() {
    let root = common::corpora().join("pss-conformance/testdata");
    assert!(
        root.is_dir(),
        "{} is missing: the fixtures come from shared/corpora",
        root.display()
    );
    let mut failures = Vec::new();
    let (mut classified, mut by_own_check) = (0, 0);
    for level in ["baseline", "restricted"] {
        for version in ["v1.36", "v1.37"] {
            let program = format!(
                "namespace x {{ }}\nadmission pss {{\n  applies to workloads in namespace x\n  pod-security {level} version {version}\n}}\n"
            );
            let vap = policy_of(&program, "vap/pss.policy.yaml");
            let kyverno = policy_of(&program, "kyverno/pss.yaml");
            let mut gatekeeper = rego_of(&program, "pss");
            let p = &vap;
            // Every check of the catalog has an implementation (an unknown one would be `false`).
            assert!(
                p.validations.len() >= 12,
                "{level} {version}: {} checks",
                p.validations.len()
            );
            assert!(
                p.validations.iter().all(|(e, _)| e != "false"),
                "a check without CEL"
            );
            let checks: Vec<String> = p
                .validations
                .iter()
                .filter_map(|(_, m)| m.split("check ").nth(1))
                .filter_map(|m| m.split(' ').next())
                .map(str::to_lowercase)
                .collect();
            for outcome in ["pass", "fail"] {
                let dir = root.join(level).join(version).join(outcome);
                let mut files: Vec<_> = std::fs::read_dir(&dir)
                    .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
                    .map(|e| e.unwrap().path())
                    .collect();
                files.sort();
                for file in files {
                    let text = std::fs::read_to_string(&file).unwrap();
                    let pod: Value = serde_yaml::from_str(&text).unwrap();
                    let failed = violations(p, &pod);
                    // The Kyverno policy, run by the same engine, gives the same verdict.
                    assert_eq!(
                        violations(&kyverno, &pod),
                        failed,
                        "{level} {version} {}: Kyverno and VAP disagree",
                        file.display()
                    );
                    // Gatekeeper's Rego, run by regorus, names the same failing checks.
                    let rego = rego_violations(&mut gatekeeper, &pod);
                    assert_eq!(
                        checks_named(&rego),
                        checks_named(&failed),
                        "{level} {version} {}: Gatekeeper says {rego:?}, CEL says {failed:?}",
                        file.display()
                    );
                    classified += 1;
                    let name = format!(
                        "{level}/{version}/{outcome}/{}",
                        file.file_name().unwrap().to_string_lossy()
                    );
                    match (outcome, failed.is_empty()) {
                        ("pass", false) => failures.push(format!("{name}: rejected by {failed:?}")),
                        ("fail", true) => failures.push(format!("{name}: admitted")),
                        ("fail", false) => {
                            let stem = file.file_stem().unwrap().to_string_lossy().to_string();
                            let check = stem.trim_end_matches(|c: char| c.is_ascii_digit());
                            if checks.iter().any(|c| c == check) {
                                if failed
                                    .iter()
                                    .any(|m| m.to_lowercase().contains(&format!("check {check} ")))
                                {
                                    by_own_check += 1;
                                } else {
                                    failures.push(format!(
                                        "{name}: rejected, but not by {check}: {failed:?}"
                                    ));
                                }
                            }
                        }
                        _ => {}
                    }
                }
            }
        }
    }
    assert_eq!(classified, 296, "the corpus holds 296 fixtures");
    assert!(
        failures.is_empty(),
        "{} of {classified} fixtures misclassified:\n{}",
        failures.len(),
        failures.join("\n")
    );
    println!(
        "{classified} fixtures classified as upstream expects by each of vap, kyverno and gatekeeper (same verdicts, the same failing checks); {by_own_check} fail fixtures rejected by their own check"
    );
}

const SUPPLY: &str = r#"
namespace shop { }
admission supply {
  applies to workloads in namespace shop
  forbid latest-tag
  require image-digest, resource-limits, resource-requests
}
"#;

/// A pod whose images are pinned and whose containers set requests and limits.
fn pinned_pod() -> Value {
    let digest = "sha256:".to_string() + &"ab".repeat(32);
    let resources = json!({"requests": {"cpu": "100m", "memory": "64Mi"}, "limits": {"cpu": "1", "memory": "128Mi"}});
    json!({
        "kind": "Pod",
        "metadata": {"name": "web"},
        "spec": {
            "initContainers": [{"name": "init", "image": format!("busybox:1.36@{digest}"), "resources": resources}],
            "containers": [{"name": "web", "image": format!("registry.example.com/shop/web@{digest}"), "resources": resources}],
            // Ephemeral containers cannot set resources: none is asked of them.
            "ephemeralContainers": [{"name": "debug", "image": format!("busybox@{digest}")}],
        }
    })
}

#[test]
fn image_and_resource_rules_agree_in_cel_and_rego() {
    let p = policy_of(SUPPLY, "vap/supply.policy.yaml");
    let mut g = rego_of(SUPPLY, "supply");
    for object in kinds(&pinned_pod()) {
        assert_eq!(violations(&p, &object), Vec::<String>::new(), "{object}");
        assert_eq!(
            rego_violations(&mut g, &object),
            Vec::<String>::new(),
            "{object}"
        );
    }
    // Each edit breaks the rules named, and only those, in CEL (by message) and in Rego (by rule).
    type Edit = (
        &'static [&'static str],
        &'static [&'static str],
        fn(&mut Value),
    );
    let cases: Vec<Edit> = vec![
        (
            &["tag other than latest", "pinned by digest"],
            &["forbid latest-tag", "require image-digest"],
            |pod| pod["spec"]["containers"][0]["image"] = json!("registry.example.com/shop/web"),
        ),
        (
            &["tag other than latest", "pinned by digest"],
            &["forbid latest-tag", "require image-digest"],
            |pod| pod["spec"]["initContainers"][0]["image"] = json!("busybox:latest"),
        ),
        (&["pinned by digest"], &["require image-digest"], |pod| {
            pod["spec"]["ephemeralContainers"][0]["image"] = json!("registry:5000/busybox:1.36")
        }),
        (&["resources.limits"], &["require resource-limits"], |pod| {
            pod["spec"]["containers"][0]["resources"]["limits"]
                .as_object_mut()
                .unwrap()
                .remove("memory");
        }),
        (
            &["resources.requests"],
            &["require resource-requests"],
            |pod| {
                pod["spec"]["initContainers"][0]["resources"]
                    .as_object_mut()
                    .unwrap()
                    .remove("requests");
            },
        ),
    ];
    for (cel_rules, rego_rules, edit) in cases {
        let mut pod = pinned_pod();
        edit(&mut pod);
        for object in kinds(&pod) {
            let failed = violations(&p, &object);
            assert_eq!(failed.len(), cel_rules.len(), "{cel_rules:?}: {failed:?}");
            for r in cel_rules {
                assert!(failed.iter().any(|m| m.contains(r)), "{r}: {failed:?}");
            }
            let rego = rego_violations(&mut g, &object);
            let mut named: Vec<&str> = rego.iter().filter_map(|m| m.split(':').next()).collect();
            named.sort();
            named.dedup();
            assert_eq!(named, rego_rules.to_vec(), "{rego:?}");
        }
    }
}
