//! The connectivity evaluator on small programs whose answers are known by hand.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "in tests a panic is a failed test"
)]

use warden::ir::connectivity::{Verdict, evaluate};
use warden::ir::{Endpoint, Port, Probe, Program, Protocol, ServiceId};
use warden::lower::Target;
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
