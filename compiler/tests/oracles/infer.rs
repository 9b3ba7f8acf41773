//! `warden infer` on Online Boutique's release manifests (`shared/corpora/microservices-demo`):
//! the draft's flows are exactly the 16 of the corpus's FLOWS.md (the optional shopping assistant
//! warned, not invented), and the NetworkPolicies it compiles to are equivalent, by
//! network-config-analyzer's `--equiv`, to least-privilege policies written here from FLOWS.md
//! alone: each workload's ingress from its clients on its pod port, egress to its servers and the
//! cluster DNS, the frontend open to the world on 8080.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "in tests a panic is a failed test"
)]

use crate::common;
use crate::netpol::nca;
use crate::netpol_upstream::boutique_cluster;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;
use warden::document::Target;
use warden::ir::{Peer, Ports};
use warden::span::SourceMap;

const NS: &str = "online-boutique";

/// FLOWS.md's table: (client, server, pod port), rows with a server in the manifests.
fn flows_md() -> BTreeSet<(String, String, u16)> {
    let text =
        std::fs::read_to_string(common::corpora().join("microservices-demo/FLOWS.md")).unwrap();
    let mut out = BTreeSet::new();
    for line in text
        .lines()
        .filter(|l| l.starts_with("| ") && !l.contains("---"))
    {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        let (Some(client), Some(server), Some(port)) = (cells.get(2), cells.get(4), cells.get(6))
        else {
            continue;
        };
        let Ok(port) = port.trim_matches('*').parse::<u16>() else {
            continue;
        };
        // "loadgenerator (init container … and main container)" is the loadgenerator.
        let client = client.split_whitespace().next().unwrap().to_string();
        out.insert((client, server.to_string(), port));
    }
    out
}

fn policy(name: &str, app: Option<&str>, ingress: Vec<Value>, egress: Vec<Value>) -> Value {
    let selector = app.map_or(json!({}), |a| json!({"matchLabels": {"app": a}}));
    json!({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
           "metadata": {"name": name, "namespace": NS},
           "spec": {"podSelector": selector, "policyTypes": ["Ingress", "Egress"],
                    "ingress": ingress, "egress": egress}})
}

/// Least-privilege policies from the flows, written without warden.
fn reference(flows: &BTreeSet<(String, String, u16)>, apps: &BTreeSet<String>) -> Vec<Value> {
    let mut out = vec![policy("deny-all", None, vec![], vec![])];
    let dns = json!({"to": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
                             "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}}}],
                     "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]});
    for app in apps {
        let mut ingress: Vec<Value> = flows
            .iter()
            .filter(|(_, s, _)| s == app)
            .map(|(c, _, p)| {
                json!({"from": [{"podSelector": {"matchLabels": {"app": c}}}],
                                     "ports": [{"protocol": "TCP", "port": p}]})
            })
            .collect();
        if app == "frontend" {
            ingress.push(
                json!({"from": [{"ipBlock": {"cidr": "0.0.0.0/0"}}, {"ipBlock": {"cidr": "::/0"}}],
                                "ports": [{"protocol": "TCP", "port": 8080}]}),
            );
        }
        let mut egress: Vec<Value> = flows
            .iter()
            .filter(|(c, _, _)| c == app)
            .map(|(_, s, p)| {
                json!({"to": [{"podSelector": {"matchLabels": {"app": s}}}],
                                     "ports": [{"protocol": "TCP", "port": p}]})
            })
            .collect();
        egress.push(dns.clone());
        out.push(policy(app, Some(app), ingress, egress));
    }
    out
}

fn write_list(dir: &Path, policies: &[Value]) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(
        dir.join("policies.json"),
        json!({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicyList", "items": policies})
            .to_string(),
    )
    .unwrap();
}

/// nca's `--equiv` of two policy directories over the cluster's pods: (equivalent, its output).
fn equivalent(a: &Path, b: &Path, pods: &Path, ns: &Path) -> (bool, String) {
    let out = Command::new(nca())
        .arg("--equiv")
        .arg(a)
        .arg("--base_np_list")
        .arg(b)
        .arg("--pod_list")
        .arg(pods)
        .arg("--ns_list")
        .arg(ns)
        .output()
        .expect("nca runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let said_equivalent =
        text.contains("are semantically equivalent") && !text.contains("not semantically");
    // Otherwise nca says how they differ: "not semantically equivalent", or that one is a
    // proper subset of the other.
    let said_not = text.contains("not semantically equivalent")
        || text.contains("proper subset")
        || text.contains("not contained");
    assert!(said_equivalent || said_not, "nca said neither:\n{text}");
    (said_equivalent, text)
}

#[test]
fn online_boutique_draft_has_exactly_the_flows_of_flows_md_and_their_meaning() {
    let release = common::corpora().join("microservices-demo/release/kubernetes-manifests.yaml");
    let manifests = warden::manifests::read(std::slice::from_ref(&release));
    assert!(
        manifests.diagnostics.is_empty(),
        "{:?}",
        manifests.diagnostics
    );
    let options = warden::infer::Options {
        namespace: NS.to_string(),
        cilium: false,
    };
    let draft = warden::infer::infer(&manifests, &options);
    // The orphan reference is warned, not made a flow.
    assert!(
        draft
            .diagnostics
            .iter()
            .any(|d| d.code == "W1202" && d.message.contains("shoppingassistantservice")),
        "{:?}",
        draft.diagnostics
    );
    let mut sources = SourceMap::new();
    for (name, text) in &draft.files {
        sources.add(name.clone(), text.clone());
    }
    let compiled = warden::compile(sources, &[Target::Netpol]);
    assert!(
        !compiled.diagnostics.iter().any(|d| d.is_error()),
        "{:?}",
        compiled.diagnostics
    );
    let program = compiled.program.unwrap();
    // Each flow between services, with the pod port its `on NAME` stands for.
    let mut found = BTreeSet::new();
    for f in &program.flows {
        let (Peer::Service(c), Peer::Service(s)) = (&f.client, &f.server) else {
            continue;
        };
        let (c, s) = (
            program.services.at(*c).unwrap(),
            program.services.at(*s).unwrap(),
        );
        let Ports::Only(specs) = &f.ports else {
            panic!("a flow to every port: {f:?}");
        };
        for spec in specs {
            let text = spec.to_string();
            let number = s
                .ports
                .iter()
                .find(|(name, _)| text.starts_with(name.as_str()))
                .map_or(text.clone(), |(_, p)| p.to_string());
            let number: u16 = number.split('/').next().unwrap().parse().unwrap();
            found.insert((c.id.name.clone(), s.id.name.clone(), number));
        }
    }
    let expected = flows_md();
    assert_eq!(
        expected.len(),
        16,
        "FLOWS.md has 16 flows to workloads of the manifests"
    );
    assert_eq!(found, expected);

    // The compiled policies against least-privilege ones written from FLOWS.md.
    let ours: Vec<Value> = compiled
        .documents
        .unwrap()
        .iter()
        .filter(|d| d.path.starts_with("netpol/"))
        .flat_map(|d| {
            serde_yaml::Deserializer::from_str(&d.text)
                .map(|doc| serde::Deserialize::deserialize(doc).unwrap())
                .collect::<Vec<Value>>()
        })
        .filter(|d: &Value| !d.is_null())
        .collect();
    let apps: BTreeSet<String> = program
        .services
        .values()
        .map(|s| s.id.name.clone())
        .collect();
    assert_eq!(apps.len(), 12);
    let tmp = tempfile::tempdir().unwrap();
    let (pods, ns, _, _) = boutique_cluster(tmp.path());
    write_list(&tmp.path().join("ours"), &ours);
    write_list(&tmp.path().join("reference"), &reference(&expected, &apps));
    let (same, text) = equivalent(
        &tmp.path().join("ours"),
        &tmp.path().join("reference"),
        &pods,
        &ns,
    );
    assert!(
        same,
        "the draft's policies differ from the reference:\n{text}"
    );
    // The comparison can fail: the reference without one flow is not equivalent.
    let mut fewer: BTreeSet<(String, String, u16)> = expected.clone();
    let first = fewer.iter().next().cloned().unwrap();
    fewer.remove(&first);
    write_list(&tmp.path().join("fewer"), &reference(&fewer, &apps));
    let (same, _) = equivalent(
        &tmp.path().join("ours"),
        &tmp.path().join("fewer"),
        &pods,
        &ns,
    );
    assert!(!same, "nca found no difference without the flow {first:?}");
    let by_kind: BTreeMap<&str, usize> = ours.iter().fold(BTreeMap::new(), |mut m, d| {
        *m.entry(d["kind"].as_str().unwrap_or("")).or_default() += 1;
        m
    });
    println!("draft: {} flows, policies {by_kind:?}", found.len());
}

/// Three namespaces: one whose workloads meet restricted, one baseline only, one not even that.
const LEVELS: &str = r#"
apiVersion: apps/v1
kind: Deployment
metadata: {name: api, namespace: tight}
spec:
  selector: {matchLabels: {app: api}}
  template:
    metadata: {labels: {app: api}}
    spec:
      securityContext: {runAsNonRoot: true, seccompProfile: {type: RuntimeDefault}}
      containers:
      - name: api
        image: ghcr.io/acme/api@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
        securityContext: {allowPrivilegeEscalation: false, capabilities: {drop: [ALL]}}
---
apiVersion: batch/v1
kind: CronJob
metadata: {name: sweep, namespace: tight}
spec:
  schedule: "0 * * * *"
  jobTemplate:
    spec:
      template:
        metadata: {labels: {app: sweep}}
        spec:
          securityContext: {runAsNonRoot: true, seccompProfile: {type: Localhost, localhostProfile: sweep.json}}
          containers:
          - name: sweep
            image: busybox:1.36
            securityContext: {allowPrivilegeEscalation: false, capabilities: {drop: [ALL], add: [NET_BIND_SERVICE]}}
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db, namespace: loose}
spec:
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec:
      containers:
      - name: db
        image: postgres
        securityContext: {capabilities: {add: [CHOWN]}}
      volumes: [{name: data, nfs: {server: nfs.example.com, path: /db}}]
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent, namespace: wild}
spec:
  selector: {matchLabels: {app: agent}}
  template:
    metadata: {labels: {app: agent}}
    spec:
      hostNetwork: true
      containers:
      - name: agent
        image: localhost:5000/agent:2
        securityContext: {privileged: true}
      volumes: [{name: proc, hostPath: {path: /proc}}]
"#;

/// The namespace's admission block of `program`, as a ValidatingAdmissionPolicy the CEL engine
/// runs, and the messages it gives each workload of `objects` in that namespace.
fn denials(program: &str, ns: &str, objects: &[Value]) -> Vec<(String, Vec<String>)> {
    use crate::common::admission::{Request, cel_violations, vap_policy};
    let docs = common::parsed_program(program, &[Target::Vap]);
    let policy = vap_policy(&docs, ns);
    objects
        .iter()
        .filter(|o| o["metadata"]["namespace"].as_str().unwrap_or(NS) == ns)
        .map(|o| {
            let name = o["metadata"]["name"].as_str().unwrap().to_string();
            (name, cel_violations(&policy, &Request::create(o.clone())))
        })
        .collect()
}

/// The admission block `infer` drafts for each namespace admits every workload of it (its
/// images too), by the generated policy run by an independent CEL engine, unless it only warns;
/// and its level is the strictest: restricted in its place refuses one of them.
#[test]
fn drafted_admission_admits_every_workload_at_the_strictest_level() {
    let release = common::corpora().join("microservices-demo/release/kubernetes-manifests.yaml");
    let dir = tempfile::tempdir().unwrap();
    let levels = dir.path().join("levels.yaml");
    std::fs::write(&levels, LEVELS).unwrap();
    let mut seen = BTreeMap::new();
    for input in [release, levels] {
        let text = std::fs::read_to_string(&input).unwrap();
        let objects: Vec<Value> = serde_yaml::Deserializer::from_str(&text)
            .map(|d| serde::Deserialize::deserialize(d).unwrap())
            .filter(|v: &Value| v["spec"].is_object() && v["kind"] != "Service")
            .collect();
        let manifests = warden::manifests::read(std::slice::from_ref(&input));
        let options = warden::infer::Options {
            namespace: NS.to_string(),
            cilium: false,
        };
        let draft = warden::infer::infer(&manifests, &options);
        let program: String = draft.files.iter().map(|(_, t)| t.as_str()).collect();
        for ns in draft
            .files
            .iter()
            .map(|(n, _)| n.trim_end_matches(".warden"))
        {
            let block = program
                .split("\nadmission ")
                .find(|b| b.starts_with(&format!("{ns} {{")))
                .unwrap_or_else(|| panic!("no admission block for {ns}:\n{program}"));
            let warns = block.contains("mode warn");
            let level = if block.contains("pod-security restricted") {
                "restricted"
            } else {
                assert!(block.contains("pod-security baseline"), "{block}");
                "baseline"
            };
            let verdicts = denials(&program, ns, &objects);
            assert!(!verdicts.is_empty(), "{ns}: no workloads");
            let denied: Vec<_> = verdicts.iter().filter(|(_, v)| !v.is_empty()).collect();
            if warns {
                assert!(!denied.is_empty(), "{ns} warns, but CEL admits all");
            } else {
                assert!(denied.is_empty(), "{ns}: {denied:?}\n{block}");
            }
            if level == "baseline" {
                let stricter = program.replace(
                    &format!("admission {ns} {{\n  applies to workloads in namespace {ns}\n  pod-security baseline"),
                    &format!("admission {ns} {{\n  applies to workloads in namespace {ns}\n  pod-security restricted"),
                );
                assert_ne!(stricter, program);
                assert!(
                    denials(&stricter, ns, &objects)
                        .iter()
                        .any(|(_, v)| !v.is_empty()),
                    "{ns}: restricted would admit every workload, yet the draft says baseline"
                );
            }
            seen.insert(ns.to_string(), (level, warns));
        }
    }
    let expect = |l, w| (l, w);
    assert_eq!(seen["tight"], expect("restricted", false));
    assert_eq!(seen["loose"], expect("baseline", false));
    assert_eq!(seen["wild"], expect("baseline", true));
    assert_eq!(seen[NS], expect("baseline", false));
}
