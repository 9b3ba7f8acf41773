//! The admission rules over pod spec fields (read-only root filesystems, capabilities, volume
//! kinds, host paths, host namespaces one by one, user and group ids, annotations, raw CEL), image exemptions
//! and the update condition, run on all three engines: the ValidatingAdmissionPolicy and the
//! Kyverno ClusterPolicy by the `cel` crate, the Gatekeeper template by regorus. A compliant pod is
//! admitted in every workload kind; each edit is caught by its rule alone, on every engine, and
//! the CEL message names the container.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "in tests a panic is a failed test"
)]

use crate::common;

use crate::common::admission::{
    CelPolicy, Request, cel_policy, cel_violations, gatekeeper_rego, rego_violations, vap_policy,
};
use serde_json::{Value, json};
use warden::document::Target;

const RULES: &str = r#"
  require read-only-root-filesystem
  allow capabilities NET_BIND_SERVICE, CHOWN
  allow volumes configMap, secret, emptyDir, hostPath, projected
  forbid host-paths "/var/run/docker.sock", "/etc/"
  forbid host-network
  run-as-user 1000-2000, 5000
  run-as-group 3000-3999
  fs-group 4000
  supplemental-groups 4000-4010
  require annotations example.com/owner
  exempt images "registry.example.com/legacy/*" because "legacy images keep their root filesystem (ticket 7)"
"#;

const CEL: &str = r#"  require cel "variables.containers.all(c, !has(c.ports) || size(c.ports) <= 2)" message "at most two ports per container"
"#;

struct Engines {
    vap: CelPolicy,
    kyverno: CelPolicy,
    gatekeeper: common::admission::Rego,
}

fn engines() -> Engines {
    let with_cel = format!(
        "namespace shop {{ }}\nadmission podspec {{\n  applies to workloads in namespace shop\n{RULES}{CEL}}}\n"
    );
    let without = format!(
        "namespace shop {{ }}\nadmission podspec {{\n  applies to workloads in namespace shop\n{RULES}}}\n"
    );
    let cel_docs = common::parsed_program(&with_cel, &[Target::Vap, Target::Kyverno]);
    let rego_docs = common::parsed_program(&without, &[Target::Gatekeeper]);
    Engines {
        vap: vap_policy(&cel_docs, "podspec"),
        kyverno: cel_policy(&cel_docs["kyverno/podspec.yaml"]),
        gatekeeper: gatekeeper_rego(&rego_docs, "podspec"),
    }
}

fn container(name: &str, image: &str) -> Value {
    json!({
        "name": name,
        "image": image,
        "securityContext": {
            "readOnlyRootFilesystem": true,
            "capabilities": {"add": ["NET_BIND_SERVICE"], "drop": ["ALL"]},
            "runAsUser": 1500,
        },
        "ports": [{"containerPort": 8080}],
    })
}

fn good_pod() -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "web", "annotations": {"example.com/owner": ""}},
        "spec": {
            "securityContext": {"runAsGroup": 3500, "fsGroup": 4000, "supplementalGroups": [4000, 4010]},
            "initContainers": [container("init", "busybox")],
            "containers": [container("web", "registry.example.com/shop/web:1"), container("sidecar", "envoy")],
            "volumes": [
                {"name": "config", "configMap": {"name": "web"}},
                {"name": "logs", "hostPath": {"path": "/var/log/web"}},
                {"name": "etc-ish", "hostPath": {"path": "/etcetera"}},
            ],
        }
    })
}

/// The pod as the template of every workload kind.
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

fn all_engines(e: &mut Engines, req: &Request) -> [Vec<String>; 3] {
    [
        cel_violations(&e.vap, req),
        cel_violations(&e.kyverno, req),
        rego_violations(&mut e.gatekeeper, req),
    ]
}

#[test]
fn a_compliant_pod_is_admitted_in_every_kind() {
    let mut e = engines();
    assert_eq!(e.vap.validations.len(), 11);
    for object in kinds(&good_pod()) {
        let got = all_engines(&mut e, &Request::create(object.clone()));
        assert_eq!(
            got,
            [Vec::<String>::new(), Vec::new(), Vec::new()],
            "{object}"
        );
    }
}

type Edit = (&'static str, Option<&'static str>, fn(&mut Value));

#[test]
fn each_violation_is_caught_by_its_rule_alone_on_every_engine() {
    let mut e = engines();
    // (what the CEL message says, the container it must name, the edit)
    let cases: Vec<Edit> = vec![
        ("readOnlyRootFilesystem", Some("web"), |p| {
            p["spec"]["containers"][0]["securityContext"]["readOnlyRootFilesystem"] = json!(false)
        }),
        ("readOnlyRootFilesystem", Some("init"), |p| {
            p["spec"]["initContainers"][0]["securityContext"]
                .as_object_mut()
                .unwrap()
                .remove("readOnlyRootFilesystem");
        }),
        ("capabilities.add may only hold", Some("sidecar"), |p| {
            p["spec"]["containers"][1]["securityContext"]["capabilities"]["add"] =
                json!(["NET_BIND_SERVICE", "SYS_ADMIN"])
        }),
        ("spec.volumes may only be", None, |p| {
            p["spec"]["volumes"][0] = json!({"name": "data", "nfs": {"server": "nfs", "path": "/"}})
        }),
        ("hostPath volume", None, |p| {
            p["spec"]["volumes"][1]["hostPath"]["path"] = json!("/var/run/docker.sock")
        }),
        ("hostPath volume", None, |p| {
            p["spec"]["volumes"][1]["hostPath"]["path"] = json!("/etc/kubernetes")
        }),
        ("hostPath volume", None, |p| {
            p["spec"]["volumes"][1]["hostPath"]["path"] = json!("/etc")
        }),
        ("spec.hostNetwork", None, |p| {
            p["spec"]["hostNetwork"] = json!(true)
        }),
        ("runAsUser must be set", Some("web"), |p| {
            p["spec"]["containers"][0]["securityContext"]["runAsUser"] = json!(0)
        }),
        ("runAsUser must be set", Some("sidecar"), |p| {
            p["spec"]["containers"][1]["securityContext"]["runAsUser"] = json!(2001)
        }),
        ("runAsUser must be set", Some("init"), |p| {
            p["spec"]["initContainers"][0]["securityContext"]
                .as_object_mut()
                .unwrap()
                .remove("runAsUser");
        }),
        ("runAsGroup must be set", Some("web"), |p| {
            p["spec"]["containers"][0]["securityContext"]["runAsGroup"] = json!(4000)
        }),
        ("runAsGroup must be set", Some("web"), |p| {
            p["spec"]["securityContext"]
                .as_object_mut()
                .unwrap()
                .remove("runAsGroup");
        }),
        ("pods must carry the annotations", None, |p| {
            p["metadata"].as_object_mut().unwrap().remove("annotations");
        }),
        ("pods must carry the annotations", None, |p| {
            p["metadata"]["annotations"] = json!({"example.com/other": "x"})
        }),
        ("fsGroup must be set", None, |p| {
            p["spec"]["securityContext"]["fsGroup"] = json!(4001)
        }),
        ("supplementalGroups must be set", None, |p| {
            p["spec"]["securityContext"]["supplementalGroups"] = json!([4000, 4011])
        }),
        ("supplementalGroups must be set", None, |p| {
            p["spec"]["securityContext"]["supplementalGroups"] = json!([])
        }),
    ];
    for (said, named, edit) in cases {
        let mut pod = good_pod();
        edit(&mut pod);
        for object in kinds(&pod) {
            let [vap, kyverno, gatekeeper] = all_engines(&mut e, &Request::create(object.clone()));
            assert_eq!(vap, kyverno, "{said}\n{object}");
            assert_eq!(vap.len(), 1, "{said}: {vap:?}\n{object}");
            assert!(vap[0].contains(said), "{said}: {vap:?}");
            if let Some(name) = named {
                assert!(
                    vap[0].ends_with(&format!("(container {name})")),
                    "{said}: {vap:?}"
                );
            }
            let mut rules: Vec<&str> = gatekeeper
                .iter()
                .filter_map(|m| m.split(':').next())
                .collect();
            rules.dedup();
            assert_eq!(
                rules.len(),
                1,
                "{said}: Gatekeeper says {gatekeeper:?}\n{object}"
            );
        }
    }
}

#[test]
fn raw_cel_is_evaluated_where_it_can_be() {
    let mut e = engines();
    let mut pod = good_pod();
    pod["spec"]["containers"][0]["ports"] =
        json!([{"containerPort": 1}, {"containerPort": 2}, {"containerPort": 3}]);
    for object in kinds(&pod) {
        let [vap, kyverno, gatekeeper] = all_engines(&mut e, &Request::create(object.clone()));
        assert_eq!(vap, vec!["at most two ports per container".to_string()]);
        assert_eq!(kyverno, vap);
        assert!(
            gatekeeper.is_empty(),
            "the Gatekeeper program has no CEL rule"
        );
    }
}

#[test]
fn exempt_images_leave_their_containers_out() {
    let mut e = engines();
    let mut pod = good_pod();
    let c = &mut pod["spec"]["containers"][1];
    c["image"] = json!("registry.example.com/legacy/app:3");
    c["securityContext"] = json!({"runAsUser": 0, "capabilities": {"add": ["SYS_ADMIN"]}});
    for object in kinds(&pod) {
        let got = all_engines(&mut e, &Request::create(object.clone()));
        assert_eq!(
            got,
            [Vec::<String>::new(), Vec::new(), Vec::new()],
            "{object}"
        );
    }
    // The pod's own fields are not the container's to exempt.
    pod["spec"]["hostNetwork"] = json!(true);
    let got = all_engines(&mut e, &Request::create(pod));
    assert!(got.iter().all(|v| v.len() == 1), "{got:?}");
}

#[test]
fn a_pod_update_is_checked_when_its_images_change() {
    let mut e = engines();
    let mut bad = good_pod();
    bad["spec"]["hostNetwork"] = json!(true);
    let update = |object: &Value, old: &Value| Request {
        operation: "UPDATE",
        object: object.clone(),
        old_object: Some(old.clone()),
    };
    // Same images: a metadata update of a pod admitted before the policy is not refused.
    let mut relabelled = bad.clone();
    relabelled["metadata"]["labels"] = json!({"x": "y"});
    assert_eq!(
        all_engines(&mut e, &update(&relabelled, &bad)),
        [Vec::<String>::new(), Vec::new(), Vec::new()]
    );
    // A new image, or a new ephemeral container, is checked.
    let mut new_image = bad.clone();
    new_image["spec"]["containers"][0]["image"] = json!("registry.example.com/shop/web:2");
    let mut debug = bad.clone();
    debug["spec"]["ephemeralContainers"] = json!([container("debug", "busybox")]);
    for changed in [new_image, debug] {
        let got = all_engines(&mut e, &update(&changed, &bad));
        assert!(got.iter().all(|v| v.len() == 1), "{got:?}");
    }
    // A workload's update is always checked: its template is what new pods will be.
    for object in kinds(&bad).into_iter().skip(1) {
        let got = all_engines(&mut e, &update(&object, &object));
        assert!(got.iter().all(|v| v.len() == 1), "{got:?}");
    }
}

/// Every CEL expression warden writes, in every example, is standard CEL: it parses with the
/// optional syntax (`?.`, `[?…]`) turned off and calls no `optional`/`orValue`, which the API
/// server accepts but other engines do not parse.
#[test]
fn every_generated_expression_is_standard_cel() {
    let mut expressions = 0;
    for dir in common::examples() {
        for doc in common::compile_ok(std::slice::from_ref(&dir)) {
            let v = common::parse(&doc);
            let policy = match v["kind"].as_str() {
                Some("ValidatingAdmissionPolicy" | "ClusterPolicy") => cel_policy(&v),
                _ => continue,
            };
            let all = policy
                .match_conditions
                .iter()
                .chain(policy.variables.iter().map(|(_, e)| e))
                .chain(policy.validations.iter().flat_map(|v| {
                    std::iter::once(&v.expression).chain(v.message_expression.as_ref())
                }));
            for e in all {
                cel::parser::Parser::new()
                    .enable_optional_syntax(false)
                    .parse(e)
                    .unwrap_or_else(|err| panic!("{}: {e}: {err}", doc.path));
                assert!(
                    !e.contains("orValue") && !e.contains("optional."),
                    "{}: {e}",
                    doc.path
                );
                expressions += 1;
            }
        }
    }
    println!("{expressions} generated CEL expressions parse as standard CEL");
    assert!(expressions > 200, "only {expressions} expressions");
}

/// A service with a `syscalls` block gets a policy requiring its pods, and only them, to run
/// every container with its profile: `localhost/NAMESPACE/SERVICE.json`.
#[test]
fn a_service_s_pods_must_use_its_seccomp_profile() {
    let docs = common::compile_ok(&[common::example("seccomp/node-web")]);
    let doc = docs
        .iter()
        .find(|d| d.path == "vap/seccomp/apps.policy.yaml")
        .expect("the wiring policy");
    let policy = cel_policy(&common::parse(doc));
    let pod = |labels: Value, pod_profile: Value, web_profile: Option<Value>| {
        let mut web = json!({"name": "web", "image": "node:20"});
        if let Some(p) = web_profile {
            web["securityContext"] = json!({"seccompProfile": p});
        }
        json!({
            "kind": "Pod",
            "metadata": {"name": "p", "labels": labels},
            "spec": {"securityContext": {"seccompProfile": pod_profile}, "containers": [web, {"name": "sidecar", "image": "envoy"}]},
        })
    };
    let ours = json!({"type": "Localhost", "localhostProfile": "apps/node-web.json"});
    let app = json!({"app": "node-web"});
    for object in kinds(&pod(app.clone(), ours.clone(), None)) {
        assert_eq!(
            cel_violations(&policy, &Request::create(object)),
            Vec::<String>::new()
        );
    }
    // A container that overrides the pod's profile, another profile, the runtime's default.
    for (pod_profile, web) in [
        (ours.clone(), Some(json!({"type": "RuntimeDefault"}))),
        (
            json!({"type": "Localhost", "localhostProfile": "apps/other.json"}),
            None,
        ),
        (json!({"type": "RuntimeDefault"}), None),
        // Localhost without a path, on the pod or overriding it.
        (json!({"type": "Localhost"}), None),
        (ours.clone(), Some(json!({"type": "Localhost"}))),
        (
            ours.clone(),
            Some(json!({"type": "Localhost", "localhostProfile": "apps/other.json"})),
        ),
    ] {
        for object in kinds(&pod(app.clone(), pod_profile.clone(), web.clone())) {
            let got = cel_violations(&policy, &Request::create(object.clone()));
            assert_eq!(got.len(), 1, "{object}");
            assert!(
                got[0].contains("localhostProfile: apps/node-web.json")
                    && got[0].contains("(container web)"),
                "{got:?}"
            );
        }
    }
    // The container's own profile where the pod has none; no profile anywhere.
    let mut own = pod(app.clone(), json!(null), Some(ours.clone()));
    own["spec"]["containers"][1]["securityContext"] = json!({"seccompProfile": ours});
    own["spec"]
        .as_object_mut()
        .unwrap()
        .remove("securityContext");
    assert!(cel_violations(&policy, &Request::create(own.clone())).is_empty());
    own["spec"]["containers"][1]
        .as_object_mut()
        .unwrap()
        .remove("securityContext");
    let got = cel_violations(&policy, &Request::create(own));
    assert_eq!(got.len(), 1);
    assert!(got[0].ends_with("(container sidecar)"), "{got:?}");
    // Another service's pods are not this profile's business.
    let other = pod(
        json!({"app": "other"}),
        json!({"type": "RuntimeDefault"}),
        None,
    );
    assert!(cel_violations(&policy, &Request::create(other)).is_empty());
}
