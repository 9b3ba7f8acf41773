//! The clusters the network oracles probe: the pods of a program, the ports and addresses worth
//! asking about, and programs generated at random from a seed.

use super::Rng;
use ipnet::IpNet;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::net::IpAddr;
use warden::ir::{Pod, Port, PortSpec, Ports, Program};

/// The pods: one per service, carrying exactly its selector's labels (and its named container
/// ports, numbered by `named_port_number`); in every namespace, pods that some selectors match
/// and others do not; the cluster DNS.
pub fn pods(program: &Program) -> Vec<Pod> {
    let mut pods: Vec<Pod> = program
        .services
        .values()
        .enumerate()
        .map(|(i, s)| Pod {
            namespace: s.id.namespace.clone(),
            labels: s.selector.example(),
            name: s.id.name.clone(),
            named_ports: s
                .ports
                .iter()
                .filter_map(|(name, spec)| match spec {
                    PortSpec::Named(n) => Some((name.clone(), n.protocol)),
                    PortSpec::Range(_) => None,
                })
                .enumerate()
                .map(|(k, (name, protocol))| {
                    let number = named_port_number(i, k);
                    (name, Port { number, protocol })
                })
                .collect(),
        })
        .collect();
    // Pods that some selectors match and others do not, for every kind of requirement.
    let extras: [&[(&str, &str)]; 4] = [
        &[("stray", "yes")],
        &[("app", "svc0"), ("tier", "t0"), ("track", "canary")],
        &[("tier", "t1"), ("gpu", "true"), ("legacy", "true")],
        &[("app", "svc1"), ("track", "stable")],
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
        // Some services select by a shared tier label only, so their selectors overlap others' pods.
        let tier = rng.below(2);
        let mut labels = if rng.chance(20) {
            format!("tier = \"t{tier}\"")
        } else if rng.chance(50) {
            format!("app = \"{}\", tier = \"t{tier}\"", me.name)
        } else {
            format!("app = \"{}\"", me.name)
        };
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
