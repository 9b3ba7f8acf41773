//! Target `cilium` means what target `netpol` means. No Cilium agent runs here, so this test reads
//! the generated CiliumNetworkPolicies with a model of Cilium's own rules, written from its
//! documentation and its policy parser (`pkg/k8s/apis/cilium.io/utils/utils.go`), not from
//! warden's lowering:
//! - a policy selects pods of its own namespace; a peer selector without a namespace key (or a
//!   namespace-labels key) gets the policy's namespace added;
//! - a pod carries `k8s:` labels, `k8s:io.kubernetes.pod.namespace` and
//!   `k8s:io.cilium.k8s.namespace.labels.*` of its namespace;
//! - a direction is isolated by `enableDefaultDeny`, or, where that is not given, by a policy with
//!   rules in that direction; rules are allowed peers, `{}` allows nothing, a rule with ports only
//!   allows every peer on them; CIDR rules match addresses outside the cluster, never pods;
//! - `toPorts`: a number, a range (`endPort`) or a named port of the server pod; protocol `ANY`
//!   or none is every protocol.
//!
//! For every example and 300 programs from a seed, the model's answer on every pair of pods, and
//! between pods and addresses at every CIDR boundary, on every probed port over TCP, UDP and
//! SCTP, must equal warden's evaluator — which `oracles/netpol.rs` proves equal to
//! network-config-analyzer on the NetworkPolicies of the same programs.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "in tests a panic is a failed test"
)]

use crate::common;

use crate::common::{Rng, cluster};
use ipnet::IpNet;
use serde::Deserialize as _;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use warden::document::Target;
use warden::ir::connectivity::{Evaluator, Verdict};
use warden::ir::{Endpoint, Pod, Port, Probe, Program, Protocol};
use warden::span::SourceMap;

const SEED: u64 = 0x00c1_1100_2026_1126;
const PROGRAMS: usize = 300;
const NAMESPACE: &str = "k8s:io.kubernetes.pod.namespace";
const NAMESPACE_LABELS: &str = "k8s:io.cilium.k8s.namespace.labels.";

/// One end of a connection: a pod, or an address outside the cluster.
enum End<'a> {
    Pod(&'a Pod),
    Ip(IpAddr),
}

struct Policy {
    namespace: String,
    selects: Value,
    deny_ingress: bool,
    deny_egress: bool,
    ingress: Vec<Value>,
    egress: Vec<Value>,
}

fn policies(docs: &[warden::document::Document]) -> Vec<Policy> {
    docs.iter()
        .filter(|d| d.path.starts_with("cilium/"))
        .map(|d| {
            let v = Value::deserialize(serde_yaml::Deserializer::from_str(&d.text)).unwrap();
            assert_eq!(v["kind"], "CiliumNetworkPolicy");
            let spec = &v["spec"];
            for key in spec.as_object().unwrap().keys() {
                assert!(
                    ["endpointSelector", "enableDefaultDeny", "ingress", "egress"]
                        .contains(&key.as_str()),
                    "the model does not know `spec.{key}`"
                );
            }
            let rules = |k: &str| spec[k].as_array().cloned().unwrap_or_default();
            let deny = |k: &str| match spec["enableDefaultDeny"][k].as_bool() {
                Some(b) => b,
                None => !rules(k).is_empty(),
            };
            Policy {
                namespace: v["metadata"]["namespace"].as_str().unwrap().to_string(),
                selects: spec["endpointSelector"].clone(),
                deny_ingress: deny("ingress"),
                deny_egress: deny("egress"),
                ingress: rules("ingress"),
                egress: rules("egress"),
            }
        })
        .collect()
}

/// The labels Cilium gives a pod: its own (source `k8s`), its namespace, its namespace's labels.
fn cilium_labels(program: &Program, pod: &Pod) -> BTreeMap<String, String> {
    let mut out: BTreeMap<String, String> = pod
        .labels
        .iter()
        .map(|(k, v)| (format!("k8s:{k}"), v.clone()))
        .collect();
    out.insert(NAMESPACE.to_string(), pod.namespace.clone());
    for (k, v) in program.namespace_labels(&pod.namespace) {
        out.insert(format!("{NAMESPACE_LABELS}{k}"), v);
    }
    out
}

/// A selector key as Cilium reads it: `source:key`, where no source (or `any`) means `k8s` here.
fn key(k: &str) -> String {
    match k.split_once(':') {
        Some(("k8s" | "any", rest)) => format!("k8s:{rest}"),
        _ => format!("k8s:{k}"),
    }
}

fn selector_matches(sel: &Value, labels: &BTreeMap<String, String>) -> bool {
    for (k, v) in sel["matchLabels"].as_object().into_iter().flatten() {
        if labels.get(&key(k)).map(String::as_str) != v.as_str() {
            return false;
        }
    }
    for e in sel["matchExpressions"].as_array().into_iter().flatten() {
        let k = key(e["key"].as_str().unwrap());
        let values: Vec<&str> = e["values"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|v| v.as_str().unwrap())
            .collect();
        let have = labels.get(&k).map(String::as_str);
        let ok = match e["operator"].as_str().unwrap() {
            "In" => have.is_some_and(|h| values.contains(&h)),
            "NotIn" => have.is_none_or(|h| !values.contains(&h)),
            "Exists" => have.is_some(),
            "DoesNotExist" => have.is_none(),
            op => panic!("operator {op}"),
        };
        if !ok {
            return false;
        }
    }
    true
}

/// Whether a peer selector of a policy in `namespace` matches a pod: Cilium adds the policy's
/// namespace unless the selector names a namespace or namespace labels.
fn peer_matches(sel: &Value, namespace: &str, labels: &BTreeMap<String, String>) -> bool {
    let keys: Vec<String> = sel["matchLabels"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, _)| key(k))
        .chain(
            sel["matchExpressions"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|e| key(e["key"].as_str().unwrap())),
        )
        .collect();
    let scoped = keys
        .iter()
        .any(|k| k == NAMESPACE || k.starts_with(NAMESPACE_LABELS));
    (scoped || labels.get(NAMESPACE).map(String::as_str) == Some(namespace))
        && selector_matches(sel, labels)
}

fn ip_in(ip: IpAddr, block: &Value) -> bool {
    let net: IpNet = block["cidr"].as_str().unwrap().parse().unwrap();
    net.contains(&ip)
        && !block["except"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|e| e.as_str().unwrap().parse::<IpNet>().unwrap().contains(&ip))
}

fn ports_match(rule: &Value, port: Port, server: Option<&Pod>) -> bool {
    let Some(list) = rule["toPorts"].as_array() else {
        return true;
    };
    let proto = port.protocol.k8s();
    list.iter()
        .flat_map(|p| p["ports"].as_array().cloned().unwrap_or_default())
        .any(|p| {
            let proto_ok = p["protocol"]
                .as_str()
                .is_none_or(|x| x == "ANY" || x == proto);
            let text = p["port"].as_str().unwrap_or("0");
            let number_ok = match text.parse::<u16>() {
                Ok(0) => true,
                Ok(start) => {
                    let end = p["endPort"]
                        .as_u64()
                        .map_or(start, |e| u16::try_from(e).unwrap());
                    start <= port.number && port.number <= end
                }
                Err(_) => server
                    .and_then(|s| s.named_ports.get(text))
                    .is_some_and(|named| *named == port),
            };
            proto_ok && number_ok
        })
}

/// Whether `rule` of a policy in `namespace` allows the peer `other` (the source on ingress, the
/// destination on egress); `server` is the destination pod, which names ports.
fn rule_allows(
    program: &Program,
    rule: &Value,
    egress: bool,
    namespace: &str,
    other: &End<'_>,
    server: Option<&Pod>,
    port: Port,
) -> bool {
    let dir = if egress { "to" } else { "from" };
    for k in rule.as_object().unwrap().keys() {
        assert!(
            [
                format!("{dir}Endpoints"),
                format!("{dir}CIDRSet"),
                format!("{dir}Entities"),
                "toFQDNs".to_string(),
                "toPorts".to_string(),
            ]
            .contains(k),
            "the model does not know rule field `{k}`"
        );
    }
    let endpoints = rule[format!("{dir}Endpoints")].as_array();
    let cidrs = rule[format!("{dir}CIDRSet")].as_array();
    let entities = rule[format!("{dir}Entities")].as_array();
    let fqdns = rule["toFQDNs"].as_array();
    let peer_ok = match (endpoints, cidrs, entities, fqdns) {
        (None, None, None, None) => rule.get("toPorts").is_some(),
        _ => {
            let by_endpoint = match other {
                End::Pod(p) => {
                    let labels = cilium_labels(program, p);
                    endpoints
                        .into_iter()
                        .flatten()
                        .any(|s| peer_matches(s, namespace, &labels))
                }
                End::Ip(_) => false,
            };
            let by_cidr = match other {
                End::Ip(ip) => cidrs.into_iter().flatten().any(|b| ip_in(*ip, b)),
                End::Pod(_) => false,
            };
            let by_entity = entities
                .into_iter()
                .flatten()
                .any(|e| e.as_str() == Some("all"));
            // No DNS answers in this cluster: a name allows no probed address.
            by_endpoint || by_cidr || by_entity
        }
    };
    peer_ok && ports_match(rule, port, server)
}

/// The model's answer: each pod side, where isolated, needs a rule of a policy selecting it.
fn allows(
    program: &Program,
    policies: &[Policy],
    src: &End<'_>,
    dst: &End<'_>,
    port: Port,
) -> bool {
    let server = match dst {
        End::Pod(p) => Some(*p),
        End::Ip(_) => None,
    };
    let side = |pod: &Pod, egress: bool, other: &End<'_>| {
        let labels = cilium_labels(program, pod);
        let mine: Vec<&Policy> = policies
            .iter()
            .filter(|p| p.namespace == pod.namespace && selector_matches(&p.selects, &labels))
            .collect();
        let isolated = mine.iter().any(|p| {
            if egress {
                p.deny_egress
            } else {
                p.deny_ingress
            }
        });
        !isolated
            || mine.iter().any(|p| {
                let rules = if egress { &p.egress } else { &p.ingress };
                rules
                    .iter()
                    .any(|r| rule_allows(program, r, egress, &p.namespace, other, server, port))
            })
    };
    let egress_ok = match src {
        End::Pod(p) => side(p, true, dst),
        End::Ip(_) => true,
    };
    let ingress_ok = match dst {
        End::Pod(p) => side(p, false, src),
        End::Ip(_) => true,
    };
    egress_ok && ingress_ok
}

/// The service-level questions: every service against every service and probed address, on
/// every port, warden's answer about the services (every pod each selects: all, none or some of
/// the pairs allowed) against the model's answers about every pair of the cluster's pods they
/// select, the region pods among them. Questions whose answer depends on how pods number a named
/// port, which the cluster's pods fix one way, are left to `tests/compiler/evaluator.rs`.
fn services(
    name: &str,
    program: &Program,
    model_allows: &mut impl FnMut(&End<'_>, &End<'_>, Port) -> bool,
    evaluator: &Evaluator<'_>,
    pods: &[Pod],
    ports: &std::collections::BTreeSet<u16>,
    ips: &[IpAddr],
) -> Vec<String> {
    let mut sides: Vec<(Endpoint, String, Vec<End<'_>>)> = program
        .services
        .values()
        .map(|s| {
            let mine = pods
                .iter()
                .filter(|p| s.selects_pod(&p.namespace, &p.labels))
                .map(End::Pod)
                .collect();
            (Endpoint::Service(s.id.clone()), s.id.to_string(), mine)
        })
        .collect();
    sides.extend(ips.iter().map(|ip| {
        (
            Endpoint::External(vec![IpNet::from(*ip)]),
            ip.to_string(),
            vec![End::Ip(*ip)],
        )
    }));
    let same = |a: &End<'_>, b: &End<'_>| match (a, b) {
        (End::Pod(x), End::Pod(y)) => std::ptr::eq(*x, *y),
        _ => false,
    };
    let mut diffs = Vec::new();
    for (from, from_label, clients) in &sides {
        for (to, to_label, servers) in &sides {
            if matches!((from, to), (Endpoint::External(_), Endpoint::External(_))) {
                continue;
            }
            for protocol in [Protocol::Tcp, Protocol::Udp, Protocol::Sctp] {
                for &number in ports {
                    let port = Port { number, protocol };
                    let answer = evaluator
                        .answer(from, to, Some(&Probe::Number(port)))
                        .expect("decidable");
                    if answer
                        .cases
                        .iter()
                        .any(|c| c.server.as_ref().is_some_and(|m| m.numbered.is_some()))
                    {
                        continue;
                    }
                    let (mut yes, mut asked) = (0, 0);
                    for a in clients {
                        for b in servers {
                            if !same(a, b) {
                                asked += 1;
                                yes += usize::from(model_allows(a, b, port));
                            }
                        }
                    }
                    let model = match yes {
                        _ if asked == 0 => continue,
                        0 => "none",
                        n if n == asked => "all",
                        _ => "some",
                    };
                    let ours = if answer.allowed() {
                        "all"
                    } else if answer.denied() {
                        "none"
                    } else {
                        "some"
                    };
                    if model != ours {
                        diffs.push(format!(
                            "{name}: {from_label} -> {to_label} on {port}: Cilium model allows {model} ({yes} of {asked} pairs of pods), warden {ours}"
                        ));
                    }
                }
            }
        }
    }
    diffs
}

/// Every probe on which the model and warden's evaluator disagree, and how many were allowed
/// and denied.
fn compare(
    name: &str,
    program: &Program,
    docs: &[warden::document::Document],
) -> (Vec<String>, usize, usize) {
    let policies = policies(docs);
    let all_pods = cluster::pods(program);
    let ports = cluster::probe_ports(program, &all_pods);
    let ips = cluster::probe_ips(program);
    let evaluator = Evaluator::new(program);
    // A pair of pods is among the pairs of many pairs of services, and a region's twin is its
    // first pod again: the model is asked once for each.
    let key = |e: &End<'_>| match e {
        End::Pod(p) => Ok((p.namespace.clone(), p.name.replace("-b", "-a"))),
        End::Ip(ip) => Err(*ip),
    };
    let mut asked: HashMap<_, bool> = HashMap::new();
    let mut model_allows = |a: &End<'_>, b: &End<'_>, port: Port| {
        *asked
            .entry((key(a), key(b), port))
            .or_insert_with(|| allows(program, &policies, a, b, port))
    };
    let mut diffs = services(
        name,
        program,
        &mut model_allows,
        &evaluator,
        &all_pods,
        &ports,
        &ips,
    );
    // A region's second pod is its first's twin, for `services`' pairs of pods: its own pairs
    // would repeat the first's.
    let pods: Vec<&Pod> = all_pods.iter().filter(|p| !cluster::is_twin(p)).collect();
    let (mut allowed, mut denied) = (0, 0);
    let mut probe = |a: End<'_>, b: End<'_>, from: Endpoint, to: Endpoint, label: String| {
        for protocol in [Protocol::Tcp, Protocol::Udp, Protocol::Sctp] {
            for &number in &ports {
                let port = Port { number, protocol };
                let model = model_allows(&a, &b, port);
                let ours = matches!(
                    evaluator.evaluate(&from, &to, Some(&Probe::Number(port))),
                    Verdict::Allowed { .. }
                );
                if model {
                    allowed += 1;
                } else {
                    denied += 1;
                }
                if model != ours {
                    diffs.push(format!(
                        "{name}: {label} on {port}: Cilium model {}, warden {}",
                        if model { "allows" } else { "denies" },
                        if ours { "allows" } else { "denies" }
                    ));
                }
            }
        }
    };
    for &a in &pods {
        for &b in &pods {
            if a == b {
                continue;
            }
            probe(
                End::Pod(a),
                End::Pod(b),
                Endpoint::Pod(a.clone()),
                Endpoint::Pod(b.clone()),
                format!("{}/{} -> {}/{}", a.namespace, a.name, b.namespace, b.name),
            );
        }
        for ip in &ips {
            let ext = Endpoint::External(vec![IpNet::from(*ip)]);
            probe(
                End::Ip(*ip),
                End::Pod(a),
                ext.clone(),
                Endpoint::Pod(a.clone()),
                format!("{ip} -> {}/{}", a.namespace, a.name),
            );
            probe(
                End::Pod(a),
                End::Ip(*ip),
                Endpoint::Pod(a.clone()),
                ext,
                format!("{}/{} -> {ip}", a.namespace, a.name),
            );
        }
    }
    (diffs, allowed, denied)
}

fn compile(name: &str, sources: SourceMap) -> Option<(Program, Vec<warden::document::Document>)> {
    let c = warden::compile(sources, &[Target::Cilium]);
    match (c.program, c.documents) {
        (Some(p), Some(d)) => Some((p, d)),
        _ => {
            assert!(
                !name.starts_with("example"),
                "{name}: {}",
                warden::diag::render::human(&c.sources, &c.diagnostics)
            );
            None
        }
    }
}

#[test]
fn every_example_means_the_same_for_cilium() {
    let mut failures = Vec::new();
    let (mut allowed, mut denied) = (0, 0);
    for dir in common::examples() {
        let name = format!("example {}", common::example_name(&dir));
        let sources = warden::load::load(std::slice::from_ref(&dir)).unwrap();
        let (program, docs) = compile(&name, sources).unwrap();
        let (d, a, n) = compare(&name, &program, &docs);
        failures.extend(d);
        allowed += a;
        denied += n;
    }
    assert!(
        allowed > 10_000 && denied > 10_000,
        "{allowed} allowed, {denied} denied"
    );
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
fn random_programs_mean_the_same_for_cilium() {
    let mut rng = Rng(SEED);
    let mut compiled = Vec::new();
    let mut index = 0;
    while compiled.len() < PROGRAMS {
        let text = cluster::random_program(index, &mut rng);
        let name = format!("program {index} of seed {SEED:#x}");
        let mut sources = SourceMap::new();
        sources.add(format!("p{index}.warden"), text.clone());
        index += 1;
        if let Some((program, docs)) = compile(&name, sources) {
            compiled.push((name, text, program, docs));
        }
        assert!(
            index < PROGRAMS * 3,
            "the generator makes too many invalid programs"
        );
    }
    let programs = compiled.len();
    // Programs are independent: compared on two cores, reported in order.
    let compared: Vec<(Vec<String>, usize, usize)> = std::thread::scope(|scope| {
        let halves: Vec<_> = compiled
            .chunks(programs.div_ceil(2))
            .map(|half| {
                scope.spawn(move || {
                    half.iter()
                        .map(|(name, _, program, docs)| compare(name, program, docs))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        halves.into_iter().flat_map(|h| h.join().unwrap()).collect()
    });
    let mut failures = Vec::new();
    let (mut allowed, mut denied) = (0, 0);
    for ((name, text, _, _), (d, a, n)) in compiled.iter().zip(compared) {
        if !d.is_empty() {
            failures.push(format!(
                "{name}: {} differences\n--- program\n{text}\n--- differences\n{}",
                d.len(),
                d.iter().take(20).cloned().collect::<Vec<_>>().join("\n")
            ));
        }
        allowed += a;
        denied += n;
    }
    println!(
        "{programs} programs, {} probes: {allowed} allowed, {denied} denied",
        allowed + denied
    );
    assert!(
        allowed > 20_000 && denied > 20_000,
        "{allowed} allowed, {denied} denied"
    );
    assert!(
        failures.is_empty(),
        "{} of {programs} programs disagree:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}
