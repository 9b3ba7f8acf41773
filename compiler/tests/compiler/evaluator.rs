//! The connectivity evaluator on small programs whose answers are known by hand.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "in tests a panic is a failed test"
)]

use crate::common::{Rng, cluster};
use std::collections::{BTreeMap, BTreeSet};
use warden::document::Target;
use warden::ir::connectivity::{Evaluator, Verdict, evaluate};
use warden::ir::{
    Endpoint, NamedPort, Pod, Port, PortSpec, Ports, Probe, Program, Protocol, Service, ServiceId,
};
use warden::span::SourceMap;

fn program(text: &str) -> Program {
    let mut sources = SourceMap::new();
    sources.add("p.warden".to_string(), text.to_string());
    let c = warden::compile(sources, &[Target::Netpol]);
    match c.program {
        Some(p) if c.documents.is_some() => p,
        _ => panic!(
            "{}",
            warden::diag::render::human(&c.sources, &c.diagnostics)
        ),
    }
}

fn svc(ns: &str, name: &str) -> Endpoint {
    Endpoint::Service(ServiceId {
        namespace: ns.to_string(),
        name: name.to_string(),
    })
}

fn ext(cidr: &str) -> Endpoint {
    Endpoint::External(vec![cidr.parse().expect("cidr")])
}

fn tcp(n: u16) -> Option<Probe> {
    Some(Probe::Number(Port {
        number: n,
        protocol: Protocol::Tcp,
    }))
}

fn allowed(v: &Verdict) -> bool {
    matches!(v, Verdict::Allowed { .. })
}

const BASE: &str = r#"
namespace a { isolate }
namespace b { isolate ingress }
namespace open { }
service web in a {
  pods app = "web"
  port http 8080/tcp
  from world on http
  to b/api on grpc
  to cidr 10.0.0.0/8 except 10.1.0.0/16 on 443
}
service api in b {
  pods app = "api"
  port grpc 9090/tcp
  port metrics 9100/tcp
}
service probe in open { pods app = "probe" }
service any in a { pods tier = "x" }
"#;

#[test]
fn declared_flows_are_allowed_on_their_ports_only() {
    let p = program(BASE);
    assert!(allowed(&evaluate(
        &p,
        &svc("a", "web"),
        &svc("b", "api"),
        tcp(9090).as_ref()
    )));
    assert!(!allowed(&evaluate(
        &p,
        &svc("a", "web"),
        &svc("b", "api"),
        tcp(9100).as_ref()
    )));
    assert!(!allowed(&evaluate(
        &p,
        &svc("a", "web"),
        &svc("b", "api"),
        None
    )));
}

#[test]
fn isolation_is_per_direction() {
    let p = program(BASE);
    // `b` isolates ingress only: its pods may call anything, nothing undeclared may call them.
    assert!(allowed(&evaluate(
        &p,
        &svc("b", "api"),
        &svc("open", "probe"),
        tcp(1).as_ref()
    )));
    assert!(!allowed(&evaluate(
        &p,
        &svc("open", "probe"),
        &svc("b", "api"),
        tcp(9090).as_ref()
    )));
    // `a` isolates egress: web may not call probe, although probe's side is open.
    let v = evaluate(
        &p,
        &svc("a", "web"),
        &svc("open", "probe"),
        tcp(80).as_ref(),
    );
    assert!(
        matches!(&v, Verdict::Denied { reason } if reason.contains("isolates egress")),
        "{v:?}"
    );
    // Nothing isolates `open`.
    assert!(allowed(&evaluate(
        &p,
        &ext("0.0.0.0/0"),
        &svc("open", "probe"),
        tcp(22).as_ref()
    )));
}

#[test]
fn external_addresses_are_ranges() {
    let p = program(BASE);
    let world = Endpoint::External(vec![
        "0.0.0.0/0".parse().expect("v4"),
        "::/0".parse().expect("v6"),
    ]);
    assert!(allowed(&evaluate(
        &p,
        &world,
        &svc("a", "web"),
        tcp(8080).as_ref()
    )));
    assert!(!allowed(&evaluate(
        &p,
        &world,
        &svc("a", "web"),
        tcp(8081).as_ref()
    )));
    assert!(allowed(&evaluate(
        &p,
        &svc("a", "web"),
        &ext("10.2.0.0/16"),
        tcp(443).as_ref()
    )));
    assert!(allowed(&evaluate(
        &p,
        &svc("a", "web"),
        &ext("10.0.0.0/16"),
        tcp(443).as_ref()
    )));
    assert!(matches!(
        evaluate(&p, &svc("a", "web"), &ext("10.1.2.0/24"), tcp(443).as_ref()),
        Verdict::Denied { .. }
    ));
    assert!(matches!(
        evaluate(&p, &svc("a", "web"), &ext("10.0.0.0/8"), tcp(443).as_ref()),
        Verdict::Partial { .. }
    ));
    assert!(matches!(
        evaluate(
            &p,
            &svc("a", "web"),
            &ext("192.168.0.0/16"),
            tcp(443).as_ref()
        ),
        Verdict::Denied { .. }
    ));
    assert!(matches!(
        evaluate(&p, &svc("a", "web"), &world, tcp(443).as_ref()),
        Verdict::Partial { .. }
    ));
}

#[test]
fn a_selector_applies_to_every_pod_carrying_its_labels() {
    // `wide` selects pods with app=web, which includes the pods of `narrow`.
    let p = program(
        r#"
namespace a { isolate }
service wide in a { pods app = "web"  to db on pg }
service narrow in a { pods app = "web", tier = "canary" }
service db in a { pods app = "db"  port pg 5432/tcp }
"#,
    );
    assert!(allowed(&evaluate(
        &p,
        &svc("a", "narrow"),
        &svc("a", "db"),
        tcp(5432).as_ref()
    )));
    assert!(!allowed(&evaluate(
        &p,
        &svc("a", "db"),
        &svc("a", "narrow"),
        tcp(5432).as_ref()
    )));
}

#[test]
fn the_verdict_names_the_flows_that_allow() {
    let p = program(BASE);
    match evaluate(&p, &svc("a", "web"), &svc("b", "api"), tcp(9090).as_ref()) {
        Verdict::Allowed { by } => assert_eq!(by.len(), 1),
        v => panic!("{v:?}"),
    }
}

#[test]
fn a_named_port_is_whatever_the_server_pod_numbers_it() {
    let p = program(
        r#"
namespace a { isolate }
service api in a { pods app = "api"  port metrics  port dns/udp  from world on metrics }
service prom in a { pods app = "prom"  to api on metrics, dns }
"#,
    );
    let pod = |ports: &[(&str, u16, Protocol)]| {
        Endpoint::Pod(warden::ir::Pod {
            namespace: "a".to_string(),
            labels: [("app".to_string(), "api".to_string())].into(),
            name: "api-0".to_string(),
            named_ports: ports
                .iter()
                .map(|(n, number, protocol)| {
                    (
                        n.to_string(),
                        Port {
                            number: *number,
                            protocol: *protocol,
                        },
                    )
                })
                .collect(),
        })
    };
    let exporter = pod(&[("metrics", 9100, Protocol::Tcp), ("dns", 53, Protocol::Udp)]);
    let udp53 = Probe::Number(Port {
        number: 53,
        protocol: Protocol::Udp,
    });
    let prom = svc("a", "prom");
    assert!(allowed(&evaluate(&p, &prom, &exporter, tcp(9100).as_ref())));
    assert!(!allowed(&evaluate(
        &p,
        &prom,
        &exporter,
        tcp(9090).as_ref()
    )));
    assert!(allowed(&evaluate(&p, &prom, &exporter, Some(&udp53))));
    // From outside: the named port is resolved on the pod being reached.
    assert!(allowed(&evaluate(
        &p,
        &ext("8.8.8.8/32"),
        &exporter,
        tcp(9100).as_ref()
    )));
    // A pod whose container names no `metrics` port: the rule matches nothing on it.
    let bare = pod(&[("web", 9100, Protocol::Tcp)]);
    assert!(!allowed(&evaluate(&p, &prom, &bare, tcp(9100).as_ref())));
    // A protocol the container does not give the name: no match either.
    let wrong = pod(&[("metrics", 9100, Protocol::Udp)]);
    let udp9100 = Probe::Number(Port {
        number: 9100,
        protocol: Protocol::Udp,
    });
    assert!(!allowed(&evaluate(&p, &prom, &wrong, Some(&udp9100))));
    // Asked by name about the service, whose pods' numbers warden does not know.
    let by_name = Probe::Named(warden::ir::NamedPort {
        name: "metrics".to_string(),
        protocol: Protocol::Tcp,
    });
    assert!(allowed(&evaluate(
        &p,
        &prom,
        &svc("a", "api"),
        Some(&by_name)
    )));
}

// ---------------------------------------------------------------- every pod of a service

/// Pods of `namespace` drawn from every combination of the values its selectors name (each
/// label absent, one of those values, or a value none names): a sample of the pods a service
/// may have, drawn without asking warden which pods differ.
fn sample_pods(program: &Program, namespace: &str, rng: &mut Rng, count: usize) -> Vec<Pod> {
    let mut values: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for sel in cluster::selectors_in(program, namespace) {
        for (k, v) in &sel.match_labels {
            values.entry(k.clone()).or_default().insert(v.clone());
        }
        for e in &sel.expressions {
            values
                .entry(e.key.clone())
                .or_default()
                .extend(e.values.iter().cloned());
        }
    }
    (0..count)
        .map(|i| {
            let mut labels = BTreeMap::new();
            for (key, named) in &values {
                let named: Vec<&String> = named.iter().collect();
                match rng.below(named.len() + 2) {
                    0 => {}
                    1 => {
                        labels.insert(key.clone(), "unnamed".to_string());
                    }
                    n => {
                        labels.insert(key.clone(), named[n - 2].clone());
                    }
                }
            }
            Pod {
                namespace: namespace.to_string(),
                labels,
                name: format!("sample{i}"),
                named_ports: BTreeMap::new(),
            }
        })
        .collect()
}

/// The ways a pod of `server` may number its named ports, for a question on `probe`: asked about
/// a named port, any number the program names or their neighbours, less those `server` declares
/// for its other ports; asked about a number, no named port that number, or any one named port
/// some flow names (other than `server`'s own, where `server` declares the number).
fn numberings(program: &Program, server: &Service, probe: &Probe) -> Vec<BTreeMap<String, Port>> {
    let mut numbers: BTreeSet<u16> = [1, 2, 65535].into();
    for f in &program.flows {
        if let Ports::Only(list) = &f.ports {
            for spec in list {
                if let PortSpec::Range(r) = spec {
                    numbers.extend([
                        r.start,
                        r.end,
                        r.start.saturating_sub(1),
                        r.end.saturating_add(1),
                    ]);
                }
            }
        }
    }
    let declares = |port: Port, except: &str| {
        server.ports.iter().any(|(name, spec)| {
            name != except && matches!(spec, PortSpec::Range(r) if r.contains(port))
        })
    };
    match probe {
        Probe::Named(m) => numbers
            .into_iter()
            .filter(|&n| n > 0)
            .map(|number| Port {
                number,
                protocol: m.protocol,
            })
            .filter(|port| !declares(*port, &m.name))
            .map(|port| [(m.name.clone(), port)].into())
            .collect(),
        Probe::Number(p) => {
            let own_number = declares(*p, "");
            let mut names: BTreeSet<String> = BTreeSet::new();
            for f in &program.flows {
                if let Ports::Only(list) = &f.ports {
                    for spec in list {
                        if let PortSpec::Named(n) = spec
                            && n.protocol == p.protocol
                            && !(own_number
                                && server.ports.iter().any(|(_, s)| {
                                    matches!(s, PortSpec::Named(mine) if mine.name == n.name)
                                }))
                        {
                            names.insert(n.name.clone());
                        }
                    }
                }
            }
            std::iter::once(BTreeMap::new())
                .chain(names.into_iter().map(|n| [(n, *p)].into()))
                .collect()
        }
    }
}

/// warden's answer about two services holds for every pod each may have: where it says allowed
/// (denied), every sampled pair of their pods, numbering named ports every way a pod may, is
/// allowed (denied) pod by pod — the pod-by-pod answer network-config-analyzer and the Cilium
/// model agree with; and every case it gives is about pods of the services, answered as those
/// pods are. Independent of `ir::regions`: the sample is drawn from the selectors' values alone.
#[test]
fn a_service_answers_for_every_pod_it_selects() {
    let mut rng = Rng(0x0027_2026_1206);
    let (mut programs, mut index) = (0, 0);
    let (mut checked, mut pairs, mut split) = (0usize, 0usize, 0usize);
    while programs < 150 {
        let text = cluster::random_program(index, &mut rng);
        index += 1;
        let mut sources = SourceMap::new();
        sources.add(format!("p{index}.warden"), text.clone());
        let c = warden::compile(sources, &[Target::Netpol]);
        let Some(p) = c.program.filter(|_| c.documents.is_some()) else {
            continue;
        };
        programs += 1;
        let evaluator = Evaluator::new(&p);
        let services: Vec<&Service> = p.services.values().collect();
        let samples: BTreeMap<&str, Vec<Pod>> = p
            .namespaces
            .keys()
            .map(|ns| (ns.as_str(), sample_pods(&p, ns, &mut rng, 40)))
            .collect();
        let pods_of = |s: &Service| -> Vec<Pod> {
            let mut mine: Vec<Pod> = samples
                .get(s.id.namespace.as_str())
                .into_iter()
                .flatten()
                .filter(|pod| s.selector.matches(&pod.labels))
                .cloned()
                .collect();
            let mut own = Pod {
                namespace: s.id.namespace.clone(),
                labels: s.selector.example(),
                name: "own".to_string(),
                named_ports: BTreeMap::new(),
            };
            own.labels
                .insert("unnamed-label".to_string(), "x".to_string());
            mine.push(own);
            mine
        };
        for a in &services {
            for b in &services {
                let mut probes: Vec<Probe> = [53u16, 80, 443, 8080, 9090, 20001, 30050]
                    .iter()
                    .map(|&number| {
                        Probe::Number(Port {
                            number,
                            protocol: *rng.pick(&[Protocol::Tcp, Protocol::Udp, Protocol::Sctp]),
                        })
                    })
                    .collect();
                probes.extend(b.ports.iter().filter_map(|(_, spec)| match spec {
                    PortSpec::Named(n) => Some(Probe::Named(NamedPort {
                        name: n.name.clone(),
                        protocol: n.protocol,
                    })),
                    PortSpec::Range(_) => None,
                }));
                let (from, to) = (
                    Endpoint::Service(a.id.clone()),
                    Endpoint::Service(b.id.clone()),
                );
                let (clients, servers) = (pods_of(a), pods_of(b));
                for probe in &probes {
                    let answer = evaluator.answer(&from, &to, Some(probe)).unwrap();
                    pairs += 1;
                    if !answer.allowed() && !answer.denied() {
                        split += 1;
                    }
                    // Each case: pods of the services, answered as those pods are.
                    for case in &answer.cases {
                        let (Some(client), Some(server)) = (&case.client, &case.server) else {
                            panic!("a case without its pods: {case:?}");
                        };
                        assert!(a.selects_pod(&client.pod.namespace, &client.pod.labels));
                        assert!(b.selects_pod(&server.pod.namespace, &server.pod.labels));
                        let alone = evaluator.evaluate(
                            &Endpoint::Pod(client.pod.clone()),
                            &Endpoint::Pod(server.pod.clone()),
                            Some(probe),
                        );
                        assert_eq!(
                            matches!(alone, Verdict::Allowed { .. }),
                            matches!(case.outcome, warden::ir::connectivity::Outcome::Allowed(_)),
                            "{text}\n{} -> {} on {probe}: case {case:?}",
                            a.id,
                            b.id
                        );
                    }
                    if !answer.allowed() && !answer.denied() {
                        continue;
                    }
                    for client in &clients {
                        for server in &servers {
                            for ports in numberings(&p, b, probe) {
                                let mut server = server.clone();
                                server.named_ports = ports;
                                let alone = evaluator.evaluate(
                                    &Endpoint::Pod(client.clone()),
                                    &Endpoint::Pod(server.clone()),
                                    Some(probe),
                                );
                                checked += 1;
                                assert_eq!(
                                    matches!(alone, Verdict::Allowed { .. }),
                                    answer.allowed(),
                                    "{text}\n{} -> {} on {probe}: warden answers {:?} for the services, but pod {:?} -> pod {:?} is {alone:?}",
                                    a.id,
                                    b.id,
                                    answer.verdict(),
                                    client.labels,
                                    (&server.labels, &server.named_ports),
                                );
                            }
                        }
                    }
                }
            }
        }
    }
    println!(
        "{programs} programs, {pairs} questions about services ({split} answered for some pods only), {checked} pairs of pods checked"
    );
    assert!(split > 200, "{split}");
    assert!(checked > 100_000, "{checked}");
}

/// The reviews case from the issue: the pods of `reviews` that `reviews-v2` also selects are
/// allowed to `ratings`, the others are not, and the answer says so.
#[test]
fn the_pods_of_a_service_that_another_selects_get_its_flows() {
    let p = program(
        r#"
namespace bookinfo { isolate  allow dns }
service reviews in bookinfo {
  pods app = "reviews"
  port http 9080/tcp
}
service reviews-v2 in bookinfo {
  pods app = "reviews", version = "v2"
  port http 9080/tcp
  overlaps reviews
  to ratings on http
}
service ratings in bookinfo {
  pods app = "ratings"
  port http 9080/tcp
}
"#,
    );
    let ev = Evaluator::new(&p);
    let answer = ev
        .answer(
            &svc("bookinfo", "reviews"),
            &svc("bookinfo", "ratings"),
            tcp(9080).as_ref(),
        )
        .unwrap();
    assert!(!answer.allowed() && !answer.denied(), "{answer:?}");
    let allowed: Vec<&BTreeMap<String, String>> = answer
        .cases
        .iter()
        .filter(|c| matches!(c.outcome, warden::ir::connectivity::Outcome::Allowed(_)))
        .map(|c| &c.client.as_ref().unwrap().pod.labels)
        .collect();
    assert_eq!(allowed.len(), 1);
    assert_eq!(allowed[0].get("version").map(String::as_str), Some("v2"));
    assert!(matches!(
        ev.evaluate(
            &svc("bookinfo", "reviews-v2"),
            &svc("bookinfo", "ratings"),
            tcp(9080).as_ref()
        ),
        Verdict::Allowed { .. }
    ));
}
