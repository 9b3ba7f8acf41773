//! The connectivity evaluator on small programs whose answers are known by hand.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "in tests a panic is a failed test"
)]

use warden::ir::connectivity::{Verdict, evaluate};
use warden::ir::{Endpoint, Port, Program, Protocol, ServiceId};
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

fn tcp(n: u16) -> Option<Port> {
    Some(Port {
        number: n,
        protocol: Protocol::Tcp,
    })
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
        tcp(9090)
    )));
    assert!(!allowed(&evaluate(
        &p,
        &svc("a", "web"),
        &svc("b", "api"),
        tcp(9100)
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
        tcp(1)
    )));
    assert!(!allowed(&evaluate(
        &p,
        &svc("open", "probe"),
        &svc("b", "api"),
        tcp(9090)
    )));
    // `a` isolates egress: web may not call probe, although probe's side is open.
    let v = evaluate(&p, &svc("a", "web"), &svc("open", "probe"), tcp(80));
    assert!(
        matches!(&v, Verdict::Denied { reason } if reason.contains("isolates egress")),
        "{v:?}"
    );
    // Nothing isolates `open`.
    assert!(allowed(&evaluate(
        &p,
        &ext("0.0.0.0/0"),
        &svc("open", "probe"),
        tcp(22)
    )));
}

#[test]
fn external_addresses_are_ranges() {
    let p = program(BASE);
    let world = Endpoint::External(vec![
        "0.0.0.0/0".parse().expect("v4"),
        "::/0".parse().expect("v6"),
    ]);
    assert!(allowed(&evaluate(&p, &world, &svc("a", "web"), tcp(8080))));
    assert!(!allowed(&evaluate(&p, &world, &svc("a", "web"), tcp(8081))));
    assert!(allowed(&evaluate(
        &p,
        &svc("a", "web"),
        &ext("10.2.0.0/16"),
        tcp(443)
    )));
    assert!(allowed(&evaluate(
        &p,
        &svc("a", "web"),
        &ext("10.0.0.0/16"),
        tcp(443)
    )));
    assert!(matches!(
        evaluate(&p, &svc("a", "web"), &ext("10.1.2.0/24"), tcp(443)),
        Verdict::Denied { .. }
    ));
    assert!(matches!(
        evaluate(&p, &svc("a", "web"), &ext("10.0.0.0/8"), tcp(443)),
        Verdict::Partial { .. }
    ));
    assert!(matches!(
        evaluate(&p, &svc("a", "web"), &ext("192.168.0.0/16"), tcp(443)),
        Verdict::Denied { .. }
    ));
    assert!(matches!(
        evaluate(&p, &svc("a", "web"), &world, tcp(443)),
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
        tcp(5432)
    )));
    assert!(!allowed(&evaluate(
        &p,
        &svc("a", "db"),
        &svc("a", "narrow"),
        tcp(5432)
    )));
}

#[test]
fn the_verdict_names_the_flows_that_allow() {
    let p = program(BASE);
    match evaluate(&p, &svc("a", "web"), &svc("b", "api"), tcp(9090)) {
        Verdict::Allowed { by } => assert_eq!(by.len(), 1),
        v => panic!("{v:?}"),
    }
}
