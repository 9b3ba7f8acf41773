//! The netpol oracle against what others wrote: each program of `examples/recipes/` (the
//! NetworkPolicy recipes of `netpol-recipes` in the corpora) gives network-config-analyzer the
//! connectivity of the recipe's own manifest, and Online Boutique's the ingress connectivity of its
//! upstream policies, with egress no looser.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "in tests a panic is a failed test"
)]

use super::netpol::{End, PROTOCOLS, ip_value, nca_map, verdict};
use crate::common;
use serde::Deserialize as _;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

// ---------------------------------------------------------------- the recipes

/// The cluster the recipes talk about: the pods and namespaces their "try it out" sections use.
/// A namespace, a pod name and its labels.
type RecipePod = (
    &'static str,
    &'static str,
    &'static [(&'static str, &'static str)],
);

pub(super) fn recipe_cluster(dir: &Path) -> (PathBuf, PathBuf, Vec<End>) {
    let pods: &[RecipePod] = &[
        ("default", "web", &[("app", "web")]),
        ("default", "api", &[("app", "bookstore"), ("role", "api")]),
        (
            "default",
            "frontend",
            &[("app", "bookstore"), ("role", "frontend")],
        ),
        (
            "default",
            "search",
            &[("app", "bookstore"), ("role", "search")],
        ),
        ("default", "db", &[("app", "bookstore"), ("role", "db")]),
        (
            "default",
            "inventory",
            &[("app", "inventory"), ("role", "web")],
        ),
        ("default", "apiserver", &[("app", "apiserver")]),
        ("default", "monitor", &[("role", "monitoring")]),
        ("default", "typemon", &[("type", "monitoring")]),
        ("default", "foo", &[("app", "foo")]),
        ("default", "plain", &[("run", "plain")]),
        ("foo", "plain", &[("run", "plain")]),
        ("secondary", "plain", &[("run", "plain")]),
        ("prod", "plain", &[("run", "plain")]),
        ("dev", "plain", &[("run", "plain")]),
        ("other", "plain", &[("run", "plain")]),
        ("other", "typemon", &[("type", "monitoring")]),
        ("kube-system", "coredns", &[("k8s-app", "kube-dns")]),
    ];
    let namespaces: &[(&str, &[(&str, &str)])] = &[
        ("default", &[]),
        ("foo", &[]),
        ("secondary", &[]),
        ("prod", &[("purpose", "production")]),
        ("dev", &[("purpose", "testing")]),
        ("other", &[("team", "operations")]),
        ("kube-system", &[]),
    ];
    let pod_items: Vec<serde_json::Value> = pods
        .iter()
        .map(|(ns, name, labels)| {
            let labels: BTreeMap<&str, &str> = labels.iter().copied().collect();
            serde_json::json!({"apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": name, "namespace": ns, "labels": labels},
                "spec": {"containers": [{"name": "c", "image": "x"}]}})
        })
        .collect();
    let ns_items: Vec<serde_json::Value> = namespaces
        .iter()
        .map(|(name, labels)| {
            let mut labels: BTreeMap<&str, &str> = labels.iter().copied().collect();
            labels.insert("kubernetes.io/metadata.name", name);
            serde_json::json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels}})
        })
        .collect();
    let pods_file = dir.join("pods.json");
    let ns_file = dir.join("ns.json");
    std::fs::write(
        &pods_file,
        serde_json::json!({"apiVersion": "v1", "kind": "PodList", "items": pod_items}).to_string(),
    )
    .unwrap();
    std::fs::write(
        &ns_file,
        serde_json::json!({"apiVersion": "v1", "kind": "NamespaceList", "items": ns_items})
            .to_string(),
    )
    .unwrap();
    let mut ends: Vec<End> = pods
        .iter()
        .map(|(ns, name, _)| End::Pod(format!("{ns}/{name}")))
        .collect();
    for ip in ["8.8.8.8", "10.0.0.1", "2001:db8::1"] {
        let (v6, value) = ip_value(ip.parse().unwrap());
        ends.push(End::Ips(v6, value, value));
    }
    (pods_file, ns_file, ends)
}

fn recipe_policies(dir: &Path, example: &Path) -> PathBuf {
    let docs = common::compile_ok(&[example.to_path_buf()]);
    let out = dir.join("warden");
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(
        out.join("empty.yaml"),
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicyList\nitems: []\n",
    )
    .unwrap();
    for d in docs.iter().filter(|d| d.path.starts_with("netpol/")) {
        std::fs::write(out.join(d.path.replace('/', "_")), &d.text).unwrap();
    }
    out
}

#[test]
fn every_recipe_means_what_its_manifest_means() {
    let corpus = common::corpora().join("netpol-recipes/manifests");
    assert!(
        corpus.is_dir(),
        "{} is missing: the recipes' manifests come from shared/corpora",
        corpus.display()
    );
    let recipes: Vec<PathBuf> = common::examples()
        .into_iter()
        .filter(|d| d.starts_with(common::repo().join("examples/recipes")))
        .collect();
    assert_eq!(recipes.len(), 15, "every recipe is written in warden");
    let mut failures = Vec::new();
    let mut compared = 0;
    for example in &recipes {
        let name = example.file_name().unwrap().to_string_lossy().into_owned();
        if name.starts_with("14-") {
            continue; // stated intent, not the manifest: see the next test
        }
        let tmp = tempfile::tempdir().unwrap();
        let (pods, ns, ends) = recipe_cluster(tmp.path());
        let manifest_dir = tmp.path().join("manifest");
        std::fs::create_dir_all(&manifest_dir).unwrap();
        std::fs::copy(
            corpus.join(format!("{name}.yaml")),
            manifest_dir.join("policy.yaml"),
        )
        .unwrap();
        let theirs = nca_map(&manifest_dir, &pods, &ns);
        let ours = nca_map(&recipe_policies(tmp.path(), example), &pods, &ns);
        for a in &ends {
            for b in &ends {
                if a == b || (matches!(a, End::Ips(..)) && matches!(b, End::Ips(..))) {
                    continue;
                }
                for (_, proto) in PROTOCOLS {
                    for port in [1u16, 53, 80, 5000, 5001, 6379, 8000] {
                        compared += 1;
                        let (t, o) = (
                            theirs.allows(a, b, proto, port),
                            ours.allows(a, b, proto, port),
                        );
                        if t != o {
                            failures.push(format!(
                                "{name}: {a:?} -> {b:?} on {port}/{proto}: manifest {}, warden {}",
                                verdict(t),
                                verdict(o)
                            ));
                        }
                    }
                }
            }
        }
    }
    assert!(compared > 50_000, "{compared}");
    assert!(
        failures.is_empty(),
        "{} differences:\n{}",
        failures.len(),
        failures
            .iter()
            .take(40)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}

#[test]
fn recipe_14_keeps_foo_inside_the_cluster() {
    let example = common::repo().join("examples/recipes/14-foo-deny-external-egress");
    let tmp = tempfile::tempdir().unwrap();
    let (pods, ns, _) = recipe_cluster(tmp.path());
    let map = nca_map(&recipe_policies(tmp.path(), &example), &pods, &ns);
    let foo = End::Pod("default/foo".to_string());
    let pod = |p: &str| End::Pod(p.to_string());
    assert!(
        map.allows(&foo, &pod("default/web"), "TCP", 80),
        "foo -> web, in the cluster"
    );
    assert!(
        map.allows(&foo, &pod("secondary/plain"), "TCP", 8000),
        "foo -> a pod of another namespace"
    );
    assert!(
        map.allows(&foo, &pod("kube-system/coredns"), "UDP", 53),
        "foo resolves names"
    );
    for ip in ["8.8.8.8", "2001:db8::1"] {
        let (v6, value) = ip_value(ip.parse().unwrap());
        assert!(
            !map.allows(&foo, &End::Ips(v6, value, value), "TCP", 443),
            "foo -> {ip} must be denied"
        );
    }
}

// ---------------------------------------------------------------- Online Boutique upstream

const BOUTIQUE: &str = "online-boutique";

/// The cluster Online Boutique runs in: a pod per Deployment of the upstream release manifest
/// (its template's labels and container ports), a pod in another namespace, the cluster DNS and
/// addresses outside the cluster. Returns the pod and namespace lists, the ends and the ports to
/// probe.
pub(super) fn boutique_cluster(dir: &Path) -> (PathBuf, PathBuf, Vec<End>, BTreeSet<u16>) {
    let release = common::corpora().join("microservices-demo/release/kubernetes-manifests.yaml");
    let text = std::fs::read_to_string(&release)
        .unwrap_or_else(|e| panic!("{}: {e} (it comes from shared/corpora)", release.display()));
    let mut pods = Vec::new();
    let mut ports: BTreeSet<u16> = [1, 53, 80, 443, 65535].into();
    for doc in serde_yaml::Deserializer::from_str(&text) {
        let doc = serde_json::Value::deserialize(doc).unwrap();
        if doc["kind"] != "Deployment" {
            continue;
        }
        let template = &doc["spec"]["template"];
        for c in template["spec"]["containers"].as_array().unwrap() {
            for p in c["ports"].as_array().into_iter().flatten() {
                ports.insert(u16::try_from(p["containerPort"].as_u64().unwrap()).unwrap());
            }
        }
        pods.push(serde_json::json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": doc["metadata"]["name"], "namespace": BOUTIQUE,
                         "labels": template["metadata"]["labels"]},
            "spec": {"containers": [{"name": "c", "image": "x"}]}}));
    }
    assert_eq!(pods.len(), 12, "the release has twelve workloads");
    for (ns, name, labels) in [
        ("other", "plain", serde_json::json!({"run": "plain"})),
        (
            "kube-system",
            "coredns",
            serde_json::json!({"k8s-app": "kube-dns"}),
        ),
    ] {
        pods.push(serde_json::json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": ns, "labels": labels},
            "spec": {"containers": [{"name": "c", "image": "x"}]}}));
    }
    let mut ends: Vec<End> = pods
        .iter()
        .map(|p| {
            let m = &p["metadata"];
            End::Pod(format!(
                "{}/{}",
                m["namespace"].as_str().unwrap(),
                m["name"].as_str().unwrap()
            ))
        })
        .collect();
    for ip in ["8.8.8.8", "10.0.0.1", "2001:db8::1"] {
        let (v6, value) = ip_value(ip.parse().unwrap());
        ends.push(End::Ips(v6, value, value));
    }
    let ns: Vec<serde_json::Value> = [BOUTIQUE, "other", "kube-system"]
        .iter()
        .map(|n| {
            serde_json::json!({"apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": n, "labels": {"kubernetes.io/metadata.name": n}}})
        })
        .collect();
    let pods_file = dir.join("pods.json");
    let ns_file = dir.join("ns.json");
    std::fs::write(
        &pods_file,
        serde_json::json!({"apiVersion": "v1", "kind": "PodList", "items": pods}).to_string(),
    )
    .unwrap();
    std::fs::write(
        &ns_file,
        serde_json::json!({"apiVersion": "v1", "kind": "NamespaceList", "items": ns}).to_string(),
    )
    .unwrap();
    (pods_file, ns_file, ends, ports)
}

/// One direction of a set of NetworkPolicies: the same policies with the other direction taken
/// out (a policy that isolated only the other direction goes), written to `dir` for nca.
fn one_direction(policies: &[serde_json::Value], keep: &str, dir: &Path) -> PathBuf {
    let (drop_type, drop_key) = match keep {
        "Ingress" => ("Egress", "egress"),
        _ => ("Ingress", "ingress"),
    };
    std::fs::create_dir_all(dir).unwrap();
    let mut items = Vec::new();
    for p in policies {
        let mut p = p.clone();
        let spec = p["spec"].as_object_mut().unwrap();
        // Without policyTypes, Ingress always applies and Egress when egress rules are given.
        let types: Vec<String> = match spec.get("policyTypes") {
            Some(t) => serde_json::from_value(t.clone()).unwrap(),
            None => std::iter::once("Ingress".to_string())
                .chain(spec.contains_key("egress").then(|| "Egress".to_string()))
                .collect(),
        };
        spec.remove(drop_key);
        let types: Vec<String> = types.into_iter().filter(|t| t != drop_type).collect();
        if types.is_empty() {
            continue;
        }
        spec.insert("policyTypes".to_string(), serde_json::json!(types));
        items.push(p);
    }
    std::fs::write(
        dir.join("policies.json"),
        serde_json::json!({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicyList", "items": items})
            .to_string(),
    )
    .unwrap();
    dir.to_path_buf()
}

/// An end as a person reads it: `namespace/pod` or the address.
fn show(e: &End) -> String {
    match e {
        End::Pod(p) => p.clone(),
        End::Ips(false, v, _) => std::net::Ipv4Addr::from(u32::try_from(*v).unwrap()).to_string(),
        End::Ips(true, v, _) => std::net::Ipv6Addr::from(*v).to_string(),
    }
}

fn yaml_documents(text: &str) -> Vec<serde_json::Value> {
    serde_yaml::Deserializer::from_str(text)
        .map(|d| serde_json::Value::deserialize(d).unwrap())
        .filter(|d| !d.is_null())
        .collect()
}

#[test]
fn online_boutique_matches_upstream_on_ingress_and_is_stricter_on_egress() {
    let upstream_dir = common::corpora().join("microservices-demo/network-policies");
    let mut upstream = Vec::new();
    let mut files: Vec<PathBuf> = std::fs::read_dir(&upstream_dir)
        .unwrap_or_else(|e| {
            panic!(
                "{}: {e} (it comes from shared/corpora)",
                upstream_dir.display()
            )
        })
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    for entry in files {
        if entry.extension().is_some_and(|e| e == "yaml") {
            for mut doc in yaml_documents(&std::fs::read_to_string(&entry).unwrap()) {
                // Upstream leaves the namespace to kustomize; ours names it.
                doc["metadata"]["namespace"] = serde_json::json!(BOUTIQUE);
                upstream.push(doc);
            }
        }
    }
    assert_eq!(upstream.len(), 13, "upstream ships 13 policies");
    let docs = common::compile_ok(&[common::repo().join("examples/online-boutique")]);
    let ours: Vec<serde_json::Value> = docs
        .iter()
        .filter(|d| d.path.starts_with("netpol/"))
        .flat_map(|d| yaml_documents(&d.text))
        .collect();
    assert!(ours.len() > 10);

    let tmp = tempfile::tempdir().unwrap();
    let (pods, ns, ends, ports) = boutique_cluster(tmp.path());
    let map = |policies: &[serde_json::Value], keep: &str, name: &str| {
        nca_map(
            &one_direction(policies, keep, &tmp.path().join(name)),
            &pods,
            &ns,
        )
    };
    let mut ingress_differences = Vec::new();
    let mut egress_looser = Vec::new();
    let mut egress_only_upstream: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
    let mut compared = 0;
    for (keep, theirs, mine) in [
        (
            "Ingress",
            map(&upstream, "Ingress", "up-in"),
            map(&ours, "Ingress", "our-in"),
        ),
        (
            "Egress",
            map(&upstream, "Egress", "up-eg"),
            map(&ours, "Egress", "our-eg"),
        ),
    ] {
        for a in &ends {
            for b in &ends {
                if a == b || (matches!(a, End::Ips(..)) && matches!(b, End::Ips(..))) {
                    continue;
                }
                for (_, proto) in PROTOCOLS {
                    for &port in &ports {
                        compared += 1;
                        let (t, o) = (
                            theirs.allows(a, b, proto, port),
                            mine.allows(a, b, proto, port),
                        );
                        let line = format!("{} -> {} on {port}/{proto}", show(a), show(b));
                        match (keep, t, o) {
                            ("Ingress", t, o) if t != o => ingress_differences.push(format!(
                                "{line}: upstream {}, warden {}",
                                verdict(t),
                                verdict(o)
                            )),
                            ("Egress", false, true) => egress_looser.push(line),
                            ("Egress", true, false) => egress_only_upstream
                                .entry((show(a), show(b)))
                                .or_default()
                                .push(format!("{port}/{proto}")),
                            _ => {}
                        }
                    }
                }
            }
        }
    }
    assert!(compared > 20_000, "{compared}");
    println!("compared {compared} probes (ingress and egress halves)");
    assert!(
        ingress_differences.is_empty(),
        "on ingress, warden's Online Boutique differs from upstream's policies in {} connections:\n{}",
        ingress_differences.len(),
        ingress_differences
            .iter()
            .take(40)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert!(
        egress_looser.is_empty(),
        "warden's egress allows what upstream's does not:\n{}",
        egress_looser.join("\n")
    );
    // Upstream allows all egress on purpose (its README); warden's example is least privilege.
    let probes: usize = egress_only_upstream.values().map(Vec::len).sum();
    eprintln!(
        "egress upstream allows and warden does not ({} pairs, {probes} probes):",
        egress_only_upstream.len()
    );
    for ((a, b), on) in &egress_only_upstream {
        let rest: Vec<String> = PROTOCOLS
            .iter()
            .flat_map(|(_, proto)| ports.iter().map(move |port| format!("{port}/{proto}")))
            .filter(|probe| !on.contains(probe))
            .collect();
        let which = match (rest.is_empty(), on.len() > rest.len()) {
            (true, _) => "every probed port".to_string(),
            (false, true) => format!("every probed port but {}", rest.join(" ")),
            (false, false) => on.join(" "),
        };
        eprintln!("  {a} -> {b}: {which}");
    }
    assert!(
        !egress_only_upstream.is_empty(),
        "warden's egress should be stricter than upstream's allow-all"
    );
}
