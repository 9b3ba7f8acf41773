//! The clusters the network oracles probe: the pods of a program, the ports and addresses worth
//! asking about, and programs generated at random from a seed.

use super::Rng;
use ipnet::IpNet;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::net::IpAddr;
use warden::ir::regions::regions;
use warden::ir::{NamespaceScope, Peer, Pod, Port, PortSpec, Ports, Program, Selector};

/// The pods: one per service, carrying exactly its selector's labels (and its named container
/// ports, numbered by `named_port_number`); two for every region of each service's selector that
/// the other selectors a question may read tell apart (`region_pods`); in every namespace, pods
/// that some selectors match and others do not; the cluster DNS.
pub fn pods(program: &Program) -> Vec<Pod> {
    let mut pods = service_pods(program);
    pods.extend(region_pods(program));
    pods.extend(extra_pods(program));
    pods
}

/// Every selector that may tell pods of `namespace` apart: its services', the `pods(…)` peers'
/// whose namespaces include it, the cluster DNS's there.
pub fn selectors_in<'p>(program: &'p Program, namespace: &str) -> Vec<&'p Selector> {
    let mut out: Vec<&Selector> = program
        .services
        .in_namespace(namespace)
        .iter()
        .map(|s| &s.selector)
        .collect();
    for f in &program.flows {
        for peer in [&f.client, &f.server] {
            if let Peer::Pods(p) = peer {
                let inside = match &p.namespaces {
                    NamespaceScope::Name(n) => n == namespace,
                    NamespaceScope::Labels(sel) => {
                        sel.matches(&program.namespace_labels(namespace))
                    }
                };
                if inside {
                    out.push(&p.pods);
                }
            }
        }
    }
    if program.dns.namespace == namespace {
        out.push(&program.dns.pods);
    }
    out
}

/// Two pods (`…-a`, `…-b`: a pair of them is a pair of pods of the region) for every region of
/// each service's selector that any selector of its namespace tells apart, numbering named ports
/// as the service's own pod does.
pub fn region_pods(program: &Program) -> Vec<Pod> {
    let representatives = service_pods(program);
    let mut out = Vec::new();
    for (s, rep) in program.services.values().zip(&representatives) {
        let others: Vec<&Selector> = selectors_in(program, &s.id.namespace)
            .into_iter()
            .filter(|o| **o != s.selector)
            .collect();
        let found = regions(&s.selector, &others, 4096).expect("few regions");
        for (k, region) in found.iter().enumerate() {
            for twin in ["a", "b"] {
                out.push(Pod {
                    namespace: s.id.namespace.clone(),
                    labels: region.labels.clone(),
                    name: format!("{}-k{k}-{twin}", s.id.name),
                    named_ports: rep.named_ports.clone(),
                });
            }
        }
    }
    out
}

/// Whether `pod` is the second of a region's two pods, whose labels and ports are the first's.
pub fn is_twin(pod: &Pod) -> bool {
    pod.name.ends_with("-b")
}

/// One pod per service, carrying exactly its selector's labels.
fn service_pods(program: &Program) -> Vec<Pod> {
    program
        .services
        .values()
        .enumerate()
        .map(|(i, s)| Pod {
            namespace: s.id.namespace.clone(),
            labels: s.selector.example(),
            name: s.id.name.clone(),
            named_ports: named_ports(s, i),
        })
        .collect()
}

/// A service's named ports as its pods number them: by `named_port_number`, skipping numbers the
/// service declares as other ports of that protocol (the program says they are different ports,
/// and a pod must not contradict it) and numbers another named port of the pod has.
fn named_ports(s: &warden::ir::Service, i: usize) -> BTreeMap<String, Port> {
    let mut out: BTreeMap<String, Port> = BTreeMap::new();
    let named = s.ports.iter().filter_map(|(name, spec)| match spec {
        PortSpec::Named(n) => Some((name.clone(), n.protocol)),
        PortSpec::Range(_) => None,
    });
    for (k, (name, protocol)) in named.enumerate() {
        let taken = |n: u16| {
            out.values()
                .any(|p| p.number == n && p.protocol == protocol)
                || s.ports.iter().any(|(_, spec)| match spec {
                    PortSpec::Range(r) => r.protocol == protocol && r.start <= n && n <= r.end,
                    PortSpec::Named(_) => false,
                })
        };
        let number = (0..4)
            .map(|d| named_port_number(i, k + d))
            .find(|n| !taken(*n))
            .unwrap_or(20002);
        out.insert(name, Port { number, protocol });
    }
    out
}

/// Pods that some selectors match and others do not, for every kind of requirement, in every
/// namespace; and the cluster DNS.
fn extra_pods(program: &Program) -> Vec<Pod> {
    let mut pods = Vec::new();
    let extras: [&[(&str, &str)]; 6] = [
        &[("stray", "yes")],
        &[("app", "svc0"), ("tier", "t0"), ("track", "canary")],
        &[("tier", "t1"), ("gpu", "true"), ("legacy", "true")],
        &[("app", "svc1"), ("track", "stable")],
        &[("app", "svc0"), ("version", "v2")],
        &[("app", "svc1"), ("tier", "t1"), ("version", "v3")],
    ];
    for ns in program.namespaces.keys() {
        for (i, labels) in extras.iter().enumerate() {
            pods.push(Pod {
                namespace: ns.clone(),
                labels: labels
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
                name: format!("extra{i}"),
                named_ports: BTreeMap::new(),
            });
        }
    }
    pods.push(Pod {
        namespace: program.dns.namespace.clone(),
        labels: program.dns.pods.example(),
        name: "coredns".to_string(),
        named_ports: BTreeMap::new(),
    });
    pods
}

/// The ports worth probing: every port and range end the program names (and their neighbours),
/// the pods' named ports' numbers, DNS and the extremes.
pub fn probe_ports(program: &Program, pods: &[Pod]) -> BTreeSet<u16> {
    let mut ports: BTreeSet<u16> = [1, 53, 65535].into();
    for s in program.services.values() {
        ports.extend(s.ports.iter().flat_map(|(_, p)| range_probes(p)));
    }
    for p in pods {
        ports.extend(p.named_ports.values().map(|p| p.number));
    }
    for f in &program.flows {
        if let Ports::Only(list) = &f.ports {
            ports.extend(list.iter().flat_map(range_probes));
        }
    }
    ports
}

/// The addresses worth probing: one of each family, and both sides of every CIDR boundary.
pub fn probe_ips(program: &Program) -> Vec<IpAddr> {
    let mut ips: Vec<IpAddr> = vec![
        "8.8.8.8".parse().expect("ip"),
        "2001:db8::1".parse().expect("ip"),
    ];
    for f in &program.flows {
        for peer in [&f.client, &f.server] {
            for block in peer.blocks() {
                for net in std::iter::once(block.cidr).chain(block.except.iter().copied()) {
                    ips.extend(boundaries(net));
                }
            }
        }
    }
    if let Some(nodelocal) = program.dns.nodelocal {
        ips.extend(boundaries(nodelocal));
    }
    ips.sort();
    ips.dedup();
    ips
}

/// The ports that tell whether a range is read right: its ends, its middle and its neighbours.
fn range_probes(spec: &PortSpec) -> Vec<u16> {
    let PortSpec::Range(r) = spec else {
        return Vec::new();
    };
    let mut out = vec![r.start, r.end, r.start + (r.end - r.start) / 2];
    out.extend(r.start.checked_sub(1).filter(|p| *p > 0));
    out.extend(r.end.checked_add(1));
    out
}

/// The first and last address of a network and the addresses just outside it.
fn boundaries(net: IpNet) -> Vec<IpAddr> {
    let (lo, hi, v6) = match net {
        IpNet::V4(n) => (
            u128::from(u32::from(n.network())),
            u128::from(u32::from(n.broadcast())),
            false,
        ),
        IpNet::V6(n) => (u128::from(n.network()), u128::from(n.broadcast()), true),
    };
    let max = if v6 { u128::MAX } else { u128::from(u32::MAX) };
    let mut out = vec![lo, hi];
    if lo > 0 {
        out.push(lo - 1);
    }
    if hi < max {
        out.push(hi + 1);
    }
    out.into_iter()
        .map(|a| {
            if v6 {
                IpAddr::V6(a.into())
            } else {
                IpAddr::V4(u32::try_from(a).unwrap().into())
            }
        })
        .collect()
}

// ---------------------------------------------------------------- random programs

struct GenService {
    ns: String,
    name: String,
    /// Name, number (or range) and protocol; a named container port has no number in the
    /// program (the pods' containers give it one, see `named_port_number`).
    ports: Vec<(String, Option<String>, &'static str)>,
}

impl GenService {
    /// How a flow refers to one of its ports: by name, or (numbered ports only) by number.
    fn port_ref(&self, rng: &mut Rng, by_number: bool) -> String {
        let (name, number, proto) = rng.pick(&self.ports);
        match number {
            Some(number) if by_number => format!("{number}/{proto}"),
            _ => name.clone(),
        }
    }
}

/// The number a service's pod gives its `k`-th named container port: numbers other flows name
/// too, so that a named port and a number meet on the same pod.
fn named_port_number(service: usize, k: usize) -> u16 {
    [8080, 9090, 80, 20001][(service + k) % 4]
}

const CIDRS: [(&str, &[&str]); 6] = [
    ("10.0.0.0/8", &["10.1.0.0/16", "10.2.3.0/24"]),
    ("10.1.0.0/16", &["10.1.128.0/17"]),
    ("192.168.0.0/16", &[]),
    ("0.0.0.0/0", &["10.0.0.0/8", "172.16.0.0/12"]),
    ("fd00::/8", &["fd00:1::/32"]),
    ("2001:db8::/32", &[]),
];

/// A random program in namespaces prefixed `p{index}-`.
pub fn random_program(index: usize, rng: &mut Rng) -> String {
    let mut s = String::new();
    let ns_count = 1 + rng.below(3);
    let namespaces: Vec<String> = (0..ns_count).map(|i| format!("p{index}-ns{i}")).collect();
    for ns in &namespaces {
        let isolate = *rng.pick(&["", "isolate", "isolate ingress", "isolate egress"]);
        let dns = if isolate.is_empty() || isolate.ends_with("ingress") || !rng.chance(70) {
            ""
        } else {
            "allow dns"
        };
        let labels = if rng.chance(60) {
            format!(
                "labels team = \"{}\", env = \"{}\"",
                rng.pick(&["a", "b"]),
                rng.pick(&["prod", "dev"])
            )
        } else {
            String::new()
        };
        // Flows of the whole namespace: every pod of it is the client or the server.
        let mut flows = String::new();
        for _ in 0..rng.below(3) {
            let other = rng.pick(&namespaces).clone();
            let flow = match rng.below(5) {
                0 => "from pods()".to_string(),
                1 => format!("to namespace {other} on 80/tcp"),
                2 => format!("from pods(tier = \"t1\") in namespace {other}"),
                3 => "from world on 8080/tcp".to_string(),
                _ => format!(
                    "to pods(app = \"svc{}\") in namespace {other}",
                    rng.below(3)
                ),
            };
            flows.push_str(&format!("\n  {flow}"));
        }
        writeln!(s, "namespace {ns} {{ {isolate} {dns} {labels}{flows}\n}}").unwrap();
    }
    match rng.below(4) {
        0 => writeln!(s, "dns {{ nodelocal 169.254.20.10 }}").unwrap(),
        1 => writeln!(
            s,
            "dns {{ namespace dns-system  pods app = \"coredns\", tier in (dns, cache) }}"
        )
        .unwrap(),
        _ => {}
    }
    let svc_count = 2 + rng.below(5);
    let mut services: Vec<GenService> = Vec::new();
    for i in 0..svc_count {
        let ns = rng.pick(&namespaces).clone();
        let mut ports = Vec::new();
        let mut used = BTreeSet::new();
        for k in 0..rng.below(3) {
            let number = *rng.pick(&[80u16, 443, 5432, 8080, 53, 9090, 30000]);
            let proto = *rng.pick(&["tcp", "tcp", "udp", "sctp"]);
            if used.insert((number, proto)) {
                // Port 30000 is a range, as passive FTP or game servers declare them.
                let text = if number == 30000 {
                    Some("30000-30100".to_string())
                } else if rng.chance(30) {
                    None
                } else {
                    Some(number.to_string())
                };
                ports.push((format!("p{k}"), text, proto));
            }
        }
        services.push(GenService {
            ns,
            name: format!("svc{i}"),
            ports,
        });
    }
    for i in 0..svc_count {
        let me = &services[i];
        // Selectors that meet others': a shared tier label only (partly overlapping the per-app
        // services of the tier), a version of another service of the namespace (nested in it),
        // two apps at once; and version requirements of every kind, which split or leave out
        // the nested ones.
        let tier = rng.below(2);
        let neighbours: Vec<usize> = (0..svc_count)
            .filter(|&j| j != i && services[j].ns == me.ns)
            .collect();
        let mut labels = match rng.below(10) {
            0 | 1 => format!("tier = \"t{tier}\""),
            2 | 3 if !neighbours.is_empty() => {
                let j = *rng.pick(&neighbours);
                let version = *rng.pick(&["version = \"v2\"", "version in (v1, v2)"]);
                format!("app = \"svc{j}\", {version}")
            }
            4 => format!("app in (svc{i}, svc{})", rng.below(svc_count)),
            5 | 6 => format!("app = \"{}\", tier = \"t{tier}\"", me.name),
            _ => format!("app = \"{}\"", me.name),
        };
        if !labels.contains("version") && rng.chance(25) {
            let extra: &&str = rng.pick(&[", version notin (v2)", ", version notin (v1, v3)"]);
            labels.push_str(extra);
        }
        // Set-based requirements, each on a key of its own.
        if rng.chance(25) {
            let extra: &&str = rng.pick(&[
                ", track in (stable, canary)",
                ", track in (stable)",
                ", track notin (canary)",
            ]);
            labels.push_str(extra);
        }
        // nca 2.1.0 evaluates `Exists` and `DoesNotExist` of a peer's podSelector in the policy's
        // own namespace only (see `nca_misreads_exists_across_namespaces`), so they are drawn only
        // where every peer is in the same namespace.
        if ns_count == 1 && rng.chance(20) {
            let extra: &&str = rng.pick(&[", gpu", ", !gpu"]);
            labels.push_str(extra);
        }
        if ns_count == 1 && rng.chance(15) {
            labels.push_str(", !legacy");
        }
        if ns_count == 1 && !labels.contains("version") && rng.chance(15) {
            let extra: &&str = rng.pick(&[", version", ", !version"]);
            labels.push_str(extra);
        }
        writeln!(s, "service {} in {} {{\n  pods {labels}", me.name, me.ns).unwrap();
        for (name, number, proto) in &me.ports {
            match number {
                Some(number) => writeln!(s, "  port {name} {number}/{proto}").unwrap(),
                None => writeln!(s, "  port {name}/{proto}").unwrap(),
            }
        }
        if rng.chance(20) {
            let isolate: &&str = rng.pick(&["isolate", "isolate ingress", "isolate egress"]);
            writeln!(s, "  {isolate}").unwrap();
        }
        for _ in 0..rng.below(4) {
            let dir = if rng.chance(50) { "to" } else { "from" };
            match rng.below(13) {
                10..=12 => {
                    // Pods that are not a declared service, by every scope NetworkPolicy has.
                    let pods: &&str = rng.pick(&[
                        "",
                        "app = \"svc0\"",
                        "tier = \"t0\"",
                        "tier in (t0, t1)",
                        "track notin (canary)",
                    ]);
                    let other_ns = rng.pick(&namespaces).clone();
                    let peer = match rng.below(8) {
                        0 => format!("pods({pods})"),
                        1 => format!("pods({pods}) in namespace {other_ns}"),
                        2 => format!("pods({pods}) in namespaces(team = \"a\")"),
                        3 => format!(
                            "pods({pods}) in namespaces(env in (prod, dev), team notin (b))"
                        ),
                        4 => format!("pods({pods}) in all namespaces"),
                        5 => format!("namespace {other_ns}"),
                        6 => "namespaces(env = \"prod\")".to_string(),
                        _ => "all pods".to_string(),
                    };
                    let port = if rng.chance(30) {
                        String::new()
                    } else if dir == "from" && !me.ports.is_empty() {
                        format!(" on {}", rng.pick(&me.ports).0)
                    } else if rng.chance(25) {
                        // The pods' own container port of that name, over TCP: the services'
                        // pods carry `p0` and `p1` over TCP, UDP or SCTP, or not at all.
                        format!(" on {}", rng.pick(&["p0", "p1"]))
                    } else {
                        format!(
                            " on {}/{}",
                            rng.pick(&[443u16, 80, 53, 5432, 8080]),
                            rng.pick(&["tcp", "udp"])
                        )
                    };
                    writeln!(s, "  {dir} {peer}{port}").unwrap();
                }
                0..=5 => {
                    let other = &services[rng.below(svc_count)];
                    let server = if dir == "to" { other } else { me };
                    let port = if server.ports.is_empty() || rng.chance(25) {
                        String::new()
                    } else {
                        let by_number = rng.chance(50);
                        format!(" on {}", server.port_ref(rng, by_number))
                    };
                    writeln!(s, "  {dir} {}/{}{port}", other.ns, other.name).unwrap();
                }
                6 => {
                    let port = if dir == "from" && !me.ports.is_empty() {
                        format!(" on {}", rng.pick(&me.ports).0)
                    } else {
                        format!(
                            " on {}/{}",
                            rng.pick(&[443u16, 80, 53]),
                            rng.pick(&["tcp", "udp"])
                        )
                    };
                    writeln!(s, "  {dir} world{port}").unwrap();
                }
                _ => {
                    let (cidr, excepts) = rng.pick(&CIDRS);
                    let except = if excepts.is_empty() || rng.chance(40) {
                        String::new()
                    } else {
                        format!(" except {}", excepts.join(", "))
                    };
                    let port = if rng.chance(30) {
                        String::new()
                    } else if dir == "from" && !me.ports.is_empty() {
                        format!(" on {}", me.port_ref(rng, true))
                    } else {
                        format!(
                            " on {}/{}",
                            rng.pick(&[443u16, 80, 53, 5432]),
                            rng.pick(&["tcp", "udp", "sctp"])
                        )
                    };
                    writeln!(s, "  {dir} cidr {cidr}{except}{port}").unwrap();
                }
            }
        }
        writeln!(s, "}}").unwrap();
    }
    s
}
