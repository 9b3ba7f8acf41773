//! `warden admit` against the generated policies run by the independent engines: for each
//! object, the rules `admit` finds failed in each admission block equal the validations the
//! ValidatingAdmissionPolicy fails under the `cel` crate (and Kyverno's, the same CEL), the
//! blocks it denies equal the ones Gatekeeper's Rego denies under regorus, and its seccomp
//! findings equal the seccomp wiring policy's. Objects: every Pod Security conformance fixture,
//! every workload of Online Boutique's release, and seeded pods in every workload kind, for a
//! program with a block per rule kind and for every example program.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "in tests a panic is a failed test"
)]

use super::pod_security_eval::{apply, hardened, mutations, wrapped};
use crate::common::admission::{
    CelPolicy, Rego, Request, cel_violations, checks_named, gatekeeper_rego, rego_violations,
    vap_policy,
};
use crate::common::{self, Rng};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use warden::document::Target;

/// A block per rule kind, so that each validation of the generated policies is one rule, and a
/// service with a seccomp profile.
const EVERY_RULE: &str = r#"
namespace shop { }
service web in shop {
  pods app = "web"
  syscalls {
    base docker-default
  }
}
admission privileged { applies to workloads in namespace shop  forbid privileged }
admission host-namespaces { applies to workloads in namespace shop  forbid host-namespaces }
admission host-network { applies to workloads in namespace shop  forbid host-network }
admission escalation { applies to workloads in namespace shop  forbid privilege-escalation }
admission non-root { applies to workloads in namespace shop  require run-as-non-root }
admission user-non-root { applies to workloads in namespace shop  run-as-user non-root }
admission user-ids { applies to workloads in namespace shop  run-as-user 1000-1999 }
admission group-ids { applies to workloads in namespace shop  run-as-group 1000-1999, 3000 }
admission fs-group { applies to workloads in namespace shop  fs-group 2000-2999 }
admission groups { applies to workloads in namespace shop  supplemental-groups 1-65535 }
admission drop-all { applies to workloads in namespace shop  require drop-all-capabilities }
admission caps { applies to workloads in namespace shop  allow capabilities NET_BIND_SERVICE, CHOWN }
admission read-only { applies to workloads in namespace shop  require read-only-root-filesystem }
admission volumes { applies to workloads in namespace shop  allow volumes configMap, secret, emptyDir, projected }
admission host-paths { applies to workloads in namespace shop  forbid host-paths "/var/run", "/etc" }
admission seccomp { applies to workloads in namespace shop  require seccomp-profile }
admission images { applies to workloads in namespace shop  images from "registry.example.com/shop/*", "busybox:1.*", "redis" }
admission latest { applies to workloads in namespace shop  forbid latest-tag }
admission digest { applies to workloads in namespace shop  require image-digest }
admission limits { applies to workloads in namespace shop  require resource-limits }
admission requests { applies to workloads in namespace shop  require resource-requests }
admission labels { applies to workloads in namespace shop  require labels app, team }
admission annotations { applies to workloads in namespace shop  require annotations example.com/owner }
admission exempt {
  applies to workloads in namespace shop
  require drop-all-capabilities
  exempt images "registry.example.com/legacy/*" because "a test"
}
admission restricted { applies to workloads in namespace shop  pod-security restricted  mode warn }
admission baseline { applies to workloads in namespace shop  pod-security baseline version v1.31 }
"#;

/// A raw CEL rule: Gatekeeper cannot run it, so it is built for `vap` alone.
const CEL_RULE: &str = r#"
admission cel {
  applies to workloads in namespace shop
  require cel "size(variables.containers) <= 4 && variables.containers.all(c, !c.image.endsWith(':2'))" message "at most four containers, none of version 2"
}
"#;

/// The engines' view of a program: per block, its CEL policy and (where Gatekeeper can run it)
/// its Rego; the seccomp wiring policies by namespace.
struct Engines {
    blocks: BTreeMap<String, (CelPolicy, Option<Rego>)>,
    seccomp: BTreeMap<String, CelPolicy>,
    program: warden::ir::Program,
}

impl Engines {
    fn of(sources: warden::span::SourceMap) -> Engines {
        let compiled = warden::compile(sources, &[Target::Vap, Target::Gatekeeper]);
        let docs = compiled.documents.as_ref().unwrap_or_else(|| {
            panic!(
                "{}",
                warden::diag::render::human(&compiled.sources, &compiled.diagnostics)
            )
        });
        let parsed: BTreeMap<String, Value> = docs
            .iter()
            .filter(|d| d.path.ends_with(".yaml"))
            .map(|d| (d.path.clone(), serde_yaml::from_str(&d.text).unwrap()))
            .collect();
        Engines::from(parsed, compiled.program.unwrap())
    }

    fn from(parsed: BTreeMap<String, Value>, program: warden::ir::Program) -> Engines {
        let blocks = program
            .admissions
            .keys()
            .map(|name| {
                let rego = parsed
                    .contains_key(&format!("gatekeeper/{name}.constraint.yaml"))
                    .then(|| gatekeeper_rego(&parsed, name))
                    .or_else(|| {
                        parsed
                            .contains_key(&format!(
                                "gatekeeper/{name}.pod-security.constraint.yaml"
                            ))
                            .then(|| gatekeeper_rego(&parsed, name))
                    });
                (name.clone(), (vap_policy(&parsed, name), rego))
            })
            .collect();
        let seccomp = parsed
            .iter()
            .filter_map(|(path, doc)| {
                let ns = path
                    .strip_prefix("vap/seccomp/")?
                    .strip_suffix(".policy.yaml")?;
                Some((ns.to_string(), crate::common::admission::cel_policy(doc)))
            })
            .collect();
        Engines {
            blocks,
            seccomp,
            program,
        }
    }
}

/// The failed rules of each block in scope, and the seccomp findings, as `admit` says them: a
/// rule by its requirement, a Pod Security check by its name.
type Said = (BTreeMap<String, BTreeSet<String>>, bool);

fn admit_says(program: &warden::ir::Program, object: &Value, namespace: &str) -> Said {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("object.yaml");
    std::fs::write(&path, serde_yaml::to_string(object).unwrap()).unwrap();
    let m = warden::manifests::read(&[path]);
    assert!(m.diagnostics.is_empty(), "{object}");
    let verdicts = warden::admit::admit(program, &m, namespace);
    assert_eq!(verdicts.len(), 1, "{object}");
    let mut blocks: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut seccomp = false;
    for f in &verdicts[0].findings {
        match f.source {
            warden::admit::Source::Rule { block, rule, .. } => {
                let said = match f.fault.check {
                    Some(check) => check.name().to_string(),
                    None => rule.requirement(),
                };
                blocks.entry(block.name.clone()).or_default().insert(said);
            }
            warden::admit::Source::Seccomp(_) => seccomp = true,
        }
    }
    (blocks, seccomp)
}

/// What the engines say of `object` in `namespace`, in the same terms.
fn engines_say(e: &mut Engines, object: &Value, namespace: &str) -> (Said, BTreeSet<String>) {
    let request = Request::create(object.clone());
    let mut labels = e
        .program
        .namespaces
        .get(namespace)
        .map(|n| n.labels.clone())
        .unwrap_or_default();
    labels.insert(
        "kubernetes.io/metadata.name".to_string(),
        namespace.to_string(),
    );
    let mut blocks = BTreeMap::new();
    let mut rego_denies = BTreeSet::new();
    for (name, (cel, rego)) in &mut e.blocks {
        if !e.program.admissions[name].scope.matches(namespace, &labels) {
            continue;
        }
        let failed = cel_violations(cel, &request);
        let pod_security = matches!(
            e.program.admissions[name].rules.first(),
            Some((warden::ir::AdmissionRule::PodSecurity { .. }, _))
        );
        let said: BTreeSet<String> = if pod_security {
            checks_named(&failed).into_iter().collect()
        } else {
            failed
                .iter()
                .map(|m| m.split(" (container ").next().unwrap().to_string())
                .collect()
        };
        if !said.is_empty() {
            blocks.insert(name.clone(), said);
        }
        if let Some(rego) = rego
            && !rego_violations(rego, &request).is_empty()
        {
            rego_denies.insert(name.clone());
        }
    }
    let seccomp = e
        .seccomp
        .get(namespace)
        .is_some_and(|p| !cel_violations(p, &request).is_empty());
    ((blocks, seccomp), rego_denies)
}

/// `admit` and the engines agree on `object`: the same failed rules per block (CEL), the same
/// blocks denying (Rego, where the block has a Gatekeeper form), the same seccomp verdict.
fn agree(e: &mut Engines, object: &Value, namespace: &str, what: &str) -> bool {
    let own = admit_says(&e.program, object, namespace);
    let (theirs, rego_denies) = engines_say(e, object, namespace);
    assert_eq!(
        own, theirs,
        "{what}: admit (left) and CEL (right) on {object}"
    );
    let own_rego: BTreeSet<String> = own
        .0
        .keys()
        .filter(|b| e.blocks[*b].1.is_some())
        .cloned()
        .collect();
    assert_eq!(
        own_rego, rego_denies,
        "{what}: admit (left) and Rego (right) on {object}"
    );
    !own.0.is_empty() || own.1
}

fn every_rule() -> Engines {
    let program = format!("{EVERY_RULE}{CEL_RULE}");
    let mut sources = warden::span::SourceMap::new();
    sources.add("p.warden".to_string(), program.clone());
    let compiled = warden::compile(sources, &[Target::Vap]);
    let mut parsed = common::parsed_program(&program, &[Target::Vap]);
    parsed.extend(common::parsed_program(EVERY_RULE, &[Target::Gatekeeper]));
    Engines::from(parsed, compiled.program.unwrap())
}

/// More mutations than Pod Security's: images, resources, labels and annotations, ids, volumes,
/// a container's seccomp profile (the service's own among them).
fn more_mutations() -> Vec<(&'static str, Value)> {
    let digest = format!("registry.example.com/shop/web@sha256:{}", "a".repeat(64));
    vec![
        ("c.image", json!("busybox:1.36")),
        ("c.image", json!("busybox")),
        ("c.image", json!("redis")),
        ("c.image", json!("nginx:latest")),
        ("c.image", json!("registry.example.com/legacy/app:2")),
        ("c.image", json!(digest)),
        ("c.image", json!("localhost:5000/shop/web")),
        (
            "c.resources",
            json!({"limits": {"cpu": "1", "memory": "1Gi"}}),
        ),
        ("c.resources", json!({"requests": {"cpu": "1"}})),
        (
            "c.resources",
            json!({"limits": {"cpu": "1", "memory": "1Gi"}, "requests": {"cpu": "1", "memory": "1Gi"}}),
        ),
        ("metadata.labels", json!({"app": "web", "team": "a"})),
        ("metadata.labels", json!({"app": "other"})),
        ("metadata.annotations", json!({"example.com/owner": "me"})),
        ("spec.securityContext.runAsUser", json!(1500)),
        ("spec.securityContext.runAsGroup", json!(3000)),
        ("spec.securityContext.runAsGroup", json!(5)),
        ("spec.securityContext.fsGroup", json!(2500)),
        ("spec.securityContext.fsGroup", json!(0)),
        ("spec.securityContext.fsGroup", Value::Null),
        ("spec.securityContext.supplementalGroups", json!([10, 20])),
        ("spec.securityContext.supplementalGroups", json!([0])),
        ("c.securityContext.runAsUser", json!(1999)),
        ("c.securityContext.runAsGroup", json!(1000)),
        ("c.securityContext.readOnlyRootFilesystem", json!(true)),
        ("c.securityContext.readOnlyRootFilesystem", json!(false)),
        (
            "c.securityContext.seccompProfile",
            json!({"type": "Localhost", "localhostProfile": "shop/web.json"}),
        ),
        (
            "spec.securityContext.seccompProfile",
            json!({"type": "Localhost", "localhostProfile": "shop/web.json"}),
        ),
        (
            "spec.volumes",
            json!([{"name": "s", "hostPath": {"path": "/var/run/docker.sock"}}]),
        ),
        (
            "spec.volumes",
            json!([{"name": "s", "hostPath": {"path": "/etcd"}}]),
        ),
        (
            "spec.volumes",
            json!([{"name": "s", "secret": {"secretName": "x"}}, {"name": "p", "projected": {"sources": []}}]),
        ),
        ("spec.hostNetwork", json!(false)),
    ]
}

/// A container that meets every rule of `EVERY_RULE`.
fn compliant(name: &str) -> Value {
    let mut c = hardened(name);
    c["image"] = json!(format!(
        "registry.example.com/shop/web@sha256:{}",
        "a".repeat(64)
    ));
    c["securityContext"]["readOnlyRootFilesystem"] = json!(true);
    let cpu = json!({"cpu": "1", "memory": "1Gi"});
    c["resources"] = json!({"limits": cpu, "requests": cpu});
    c
}

/// A seeded pod: one that meets every rule, then up to six mutations from both pools.
fn seeded(rng: &mut Rng, pool: &[(&'static str, Value)]) -> Value {
    let mut pod = json!({"apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "web", "labels": {"app": "web", "team": "a"},
            "annotations": {"example.com/owner": "me"}},
        "spec": {
            "securityContext": {"runAsNonRoot": true, "runAsUser": 1500, "runAsGroup": 1000,
                "fsGroup": 2500, "supplementalGroups": [10],
                "seccompProfile": {"type": "Localhost", "localhostProfile": "shop/web.json"}},
            "initContainers": [compliant("init")],
            "containers": [compliant("web"), compliant("cache")],
            "ephemeralContainers": [compliant("debug")]}});
    for _ in 0..rng.below(7) {
        let (path, value) = rng.pick(pool);
        apply(&mut pod, path, value, rng);
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
    wrapped(&pod, kind)
}

/// 1,000 seeded pods in every workload kind against a block per rule kind: `admit` and the
/// engines agree on every one, and the pool reaches both verdicts often.
#[test]
fn admit_agrees_with_the_engines_on_seeded_workloads_for_every_rule() {
    let mut e = every_rule();
    let mut pool = mutations();
    pool.extend(more_mutations());
    let mut rng = Rng(0x00ad_0317);
    let (mut found, mut clean) = (0, 0);
    let mut rules_seen = BTreeSet::new();
    for seed in 0..1000 {
        let object = seeded(&mut rng, &pool);
        if agree(&mut e, &object, "shop", &format!("seed {seed}")) {
            found += 1;
        } else {
            clean += 1;
        }
        rules_seen.extend(admit_says(&e.program, &object, "shop").0.into_keys());
    }
    assert!(
        found > 500 && clean > 20,
        "{found} with findings, {clean} clean"
    );
    // Every block failed some pod: no rule is compared only while it holds.
    let blocks: BTreeSet<String> = e.program.admissions.keys().cloned().collect();
    assert_eq!(rules_seen, blocks, "blocks no seeded pod failed");
    println!(
        "1000 seeded workloads: {found} with findings, {clean} clean, admit and the engines agreeing"
    );
}

/// Every Pod Security conformance fixture (296), in namespace `shop` of the program with a block
/// per rule kind.
#[test]
fn admit_agrees_with_the_engines_on_every_conformance_fixture() {
    let mut e = every_rule();
    let root = common::corpora().join("pss-conformance/testdata");
    let mut files = Vec::new();
    let mut stack = vec![root.clone()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let p = entry.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "yaml") {
                files.push(p);
            }
        }
    }
    files.sort();
    assert!(
        files.len() >= 296,
        "{} fixtures in {}",
        files.len(),
        root.display()
    );
    let mut seen = 0;
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        let object: Value = serde_yaml::from_str(&text).unwrap();
        if object["kind"] != "Pod" {
            continue;
        }
        agree(&mut e, &object, "shop", &file.display().to_string());
        seen += 1;
    }
    assert!(seen >= 296, "{seen} fixtures");
}

/// Every workload of Online Boutique's release, against the project's own Online Boutique
/// program (in its namespace) and against the block per rule kind.
#[test]
fn admit_agrees_with_the_engines_on_online_boutique() {
    let release = common::corpora().join("microservices-demo/release/kubernetes-manifests.yaml");
    let text = std::fs::read_to_string(&release).unwrap();
    let workloads: Vec<Value> = serde_yaml::Deserializer::from_str(&text)
        .map(|d| serde::Deserialize::deserialize(d).unwrap())
        .filter(|v: &Value| v["spec"]["template"].is_object())
        .collect();
    assert_eq!(workloads.len(), 12);
    let mut ob = Engines::of(warden::load::load(&[common::example("online-boutique")]).unwrap());
    let mut denied = 0;
    for w in &workloads {
        let name = w["metadata"]["name"].as_str().unwrap();
        if agree(&mut ob, w, "online-boutique", name) {
            denied += 1;
        }
    }
    // The upstream release sets no seccomp profile: the example's blocks refuse every workload.
    assert_eq!(denied, 12);
    let mut e = every_rule();
    for w in &workloads {
        agree(&mut e, w, "shop", w["metadata"]["name"].as_str().unwrap());
    }
}

/// Every example program with admission blocks or seccomp profiles: 150 seeded workloads in each
/// namespace a block names.
#[test]
fn admit_agrees_with_the_engines_for_every_example_program() {
    let mut pool = mutations();
    pool.extend(more_mutations());
    let mut rng = Rng(0x0e8a_3917);
    let mut programs = 0;
    let examples = common::repo().join("examples");
    let mut dirs: Vec<_> = walk_programs(&examples);
    dirs.sort();
    for dir in dirs {
        let sources = warden::load::load(std::slice::from_ref(&dir)).unwrap();
        let check = warden::compile(sources, &[]);
        let Some(program) = check.program.as_ref() else {
            continue;
        };
        let namespaces: BTreeSet<String> = program
            .admissions
            .values()
            .flat_map(|a| a.scope.names.clone().unwrap_or_default())
            .chain(
                program
                    .services
                    .values()
                    .filter(|s| s.syscalls.is_some())
                    .map(|s| s.id.namespace.clone()),
            )
            .collect();
        if namespaces.is_empty() {
            continue;
        }
        let gatekeeper = !program.admissions.values().any(|a| {
            a.rules
                .iter()
                .any(|(r, _)| matches!(r, warden::ir::AdmissionRule::Cel { .. }))
        });
        let targets: &[Target] = if gatekeeper {
            &[Target::Vap, Target::Gatekeeper]
        } else {
            &[Target::Vap]
        };
        let sources = warden::load::load(std::slice::from_ref(&dir)).unwrap();
        let compiled = warden::compile(sources, targets);
        let parsed: BTreeMap<String, Value> = compiled
            .documents
            .unwrap_or_else(|| panic!("{}", dir.display()))
            .iter()
            .filter(|d| d.path.ends_with(".yaml"))
            .map(|d| (d.path.clone(), serde_yaml::from_str(&d.text).unwrap()))
            .collect();
        let mut e = Engines::from(parsed, compiled.program.unwrap());
        for ns in &namespaces {
            for seed in 0..150 {
                let mut object = seeded(&mut rng, &pool);
                // The pods of one of the namespace's services, where it has some.
                if let Some(svc) = e.program.services.values().find(|s| &s.id.namespace == ns) {
                    let labels = svc
                        .selector
                        .match_labels
                        .iter()
                        .cloned()
                        .collect::<BTreeMap<_, _>>();
                    let template = if object["kind"] == "Pod" {
                        &mut object["metadata"]
                    } else if object["kind"] == "CronJob" {
                        &mut object["spec"]["jobTemplate"]["spec"]["template"]["metadata"]
                    } else {
                        &mut object["spec"]["template"]["metadata"]
                    };
                    template["labels"] = json!(labels);
                }
                agree(
                    &mut e,
                    &object,
                    ns,
                    &format!("{} {ns} seed {seed}", dir.display()),
                );
            }
        }
        programs += 1;
    }
    assert!(programs >= 4, "{programs} example programs with admission");
}

/// The directories of `.warden` files under `root`, each a program.
fn walk_programs(root: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let mut has_program = false;
        for entry in std::fs::read_dir(&dir).unwrap() {
            let p = entry.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "warden") {
                has_program = true;
            }
        }
        if has_program {
            out.push(dir);
        }
    }
    out
}

/// `admit --patch`'s Component, included beside the manifests and rendered by `kubectl
/// kustomize`: the manifests it gives are what `warden admit` judges.
fn patched(program: &std::path::Path, manifests: &str, namespace: &str) -> (String, String) {
    let work = tempfile::tempdir().unwrap();
    std::fs::write(work.path().join("manifests.yaml"), manifests).unwrap();
    let (_, _, err) = common::run(
        &[
            "admit",
            "-p",
            program.to_str().unwrap(),
            "manifests.yaml",
            "--namespace",
            namespace,
            "--patch",
            "patches",
        ],
        work.path(),
    );
    assert!(err.contains("patched "), "{err}");
    std::fs::write(
        work.path().join("kustomization.yaml"),
        "resources:\n  - manifests.yaml\ncomponents:\n  - patches\n",
    )
    .unwrap();
    let out = std::process::Command::new(super::engines::tool("kubectl"))
        .arg("kustomize")
        .arg(work.path())
        .output()
        .expect("kubectl runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (String::from_utf8(out.stdout).unwrap(), err)
}

/// Online Boutique's release, every workload denied by the example program, patched by `admit
/// --patch` and rendered by `kubectl kustomize`: `admit` admits every workload, and so do the
/// generated policies under the CEL engine and regorus.
#[test]
fn online_boutique_patched_by_admit_is_admitted() {
    let release = common::corpora().join("microservices-demo/release/kubernetes-manifests.yaml");
    let program = common::example("online-boutique");
    let (rendered, err) = patched(
        &program,
        &std::fs::read_to_string(&release).unwrap(),
        "online-boutique",
    );
    assert!(!err.contains("not mechanical"), "{err}");
    let work = tempfile::tempdir().unwrap();
    std::fs::write(work.path().join("patched.yaml"), &rendered).unwrap();
    let (code, _, err) = common::run(
        &[
            "admit",
            "-p",
            program.to_str().unwrap(),
            "patched.yaml",
            "--namespace",
            "online-boutique",
        ],
        work.path(),
    );
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("12 workload(s): 12 admitted"), "{err}");
    let mut e = Engines::of(warden::load::load(&[program]).unwrap());
    let workloads: Vec<Value> = serde_yaml::Deserializer::from_str(&rendered)
        .map(|d| serde::Deserialize::deserialize(d).unwrap())
        .filter(|v: &Value| v["spec"]["template"].is_object())
        .collect();
    assert_eq!(workloads.len(), 12);
    for w in &workloads {
        assert!(
            !agree(&mut e, w, "online-boutique", "patched"),
            "{w}: still refused"
        );
    }
}

/// 300 seeded workloads of every kind patched: whatever is left after the patches is only what
/// `--patch` listed as not mechanical, never a finding it claimed to fix.
#[test]
fn patches_fix_every_mechanical_finding_of_seeded_workloads() {
    let program = format!("{EVERY_RULE}{CEL_RULE}");
    let work = tempfile::tempdir().unwrap();
    std::fs::write(work.path().join("p.warden"), &program).unwrap();
    let mut pool = mutations();
    pool.extend(more_mutations());
    let mut rng = Rng(0x0fa7_c4e5);
    let mut docs = Vec::new();
    for seed in 0..300 {
        let mut object = seeded(&mut rng, &pool);
        object["metadata"]["name"] = json!(format!("w{seed}"));
        object["metadata"]["namespace"] = json!("shop");
        docs.push(serde_yaml::to_string(&object).unwrap());
    }
    let manifests = docs.join("---\n");
    let (rendered, err) = patched(&work.path().join("p.warden"), &manifests, "shop");
    let manual: BTreeSet<&str> = err.lines().filter_map(|l| l.strip_prefix("  ")).collect();
    let mut sources = warden::span::SourceMap::new();
    sources.add("p.warden".to_string(), program.clone());
    let prog = warden::compile(sources, &[]).program.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("patched.yaml");
    std::fs::write(&path, &rendered).unwrap();
    let m = warden::manifests::read(&[path]);
    let verdicts = warden::admit::admit(&prog, &m, "shop");
    assert_eq!(verdicts.len(), 300);
    let mut left = 0;
    for v in &verdicts {
        for f in &v.findings {
            let line = warden::admit::patches::left_to_people(v, f);
            assert!(
                manual.contains(line.as_str()),
                "patched, yet: {line}\n{err}"
            );
            left += 1;
        }
    }
    // The patches fixed something: the same manifests unpatched fail far more.
    let original = dir.path().join("original.yaml");
    std::fs::write(&original, &manifests).unwrap();
    let before: usize = warden::admit::admit(&prog, &warden::manifests::read(&[original]), "shop")
        .iter()
        .map(|v| v.findings.len())
        .sum();
    assert!(left > 0 && !manual.is_empty());
    assert!(
        before > left + 300,
        "{before} findings before the patches, {left} after"
    );
    println!("300 seeded workloads: {before} findings, {left} left after the patches, each listed");
}
