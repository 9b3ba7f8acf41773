//! The connectivity evaluator: may this endpoint open a connection to that one, on this port?
//!
//! It reads the IR only, with the semantics every target must express: a connection is allowed
//! when the client's side allows it (its namespace does not isolate egress, or a flow from a service
//! selecting the client allows it) and the server's side allows it (likewise for ingress). Pods are
//! the services' pods; a service selects the pods of another when its labels are a subset of theirs.
//! External addresses are sets of IP ranges, so an answer can be partial: "from 10.0.0.0/8 only".

use super::{Endpoint, Flow, IpBlock, Peer, Port, Program, Service, ServiceId};
use crate::span::Span;
use ipnet::IpNet;

/// Whether connections are allowed, and which declarations say so.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Every address and port asked about is allowed; `by` are the flows that allow it
    /// (empty when nothing is isolated).
    Allowed { by: Vec<Span> },
    /// Nothing asked about is allowed; `reason` says which side isolates.
    Denied { reason: String },
    /// Some of it is allowed, by these flows.
    Partial { by: Vec<Span>, reason: String },
}

/// A closed range of addresses of one family (v4 mapped into the low 2^32 values, kept apart
/// from v6 by the flag).
type Range = (bool, u128, u128);

pub fn evaluate(program: &Program, from: &Endpoint, to: &Endpoint, port: Option<Port>) -> Verdict {
    match (from, to) {
        (Endpoint::Service(a), Endpoint::Service(b)) => pod_to_pod(program, a, b, port),
        (Endpoint::External(nets), Endpoint::Service(b)) => external(program, nets, b, port, false),
        (Endpoint::Service(a), Endpoint::External(nets)) => external(program, nets, a, port, true),
        (Endpoint::External(_), Endpoint::External(_)) => Verdict::Denied {
            reason: "warden only governs traffic that starts or ends at a service".to_string(),
        },
    }
}

fn covers(flow: &Flow, port: Option<Port>) -> bool {
    match port {
        Some(p) => flow.ports.covers(p),
        None => flow.ports == super::Ports::All,
    }
}

fn matches(program: &Program, peer: &Peer, pod: &Service) -> bool {
    match peer {
        Peer::Service(id) => program.services.get(id).is_some_and(|s| s.selects(pod)),
        _ => false,
    }
}

fn pod_to_pod(program: &Program, a: &ServiceId, b: &ServiceId, port: Option<Port>) -> Verdict {
    let (Some(src), Some(dst)) = (program.services.get(a), program.services.get(b)) else {
        return Verdict::Denied {
            reason: "unknown service".to_string(),
        };
    };
    let mut by = Vec::new();
    let granting = |flow: &&Flow| {
        matches(program, &flow.client, src)
            && matches(program, &flow.server, dst)
            && covers(flow, port)
    };
    let egress_isolated = program
        .namespaces
        .get(&a.namespace)
        .is_some_and(|n| n.isolate_egress);
    let ingress_isolated = program
        .namespaces
        .get(&b.namespace)
        .is_some_and(|n| n.isolate_ingress);
    let grants: Vec<Span> = program
        .flows
        .iter()
        .filter(granting)
        .map(|f| f.span)
        .collect();
    if (egress_isolated || ingress_isolated) && grants.is_empty() {
        let side = if egress_isolated && ingress_isolated && a.namespace == b.namespace {
            format!(
                "namespace `{}` isolates both directions and no flow from `{a}` to `{b}` covers it",
                a.namespace
            )
        } else if egress_isolated && ingress_isolated {
            format!(
                "namespace `{}` isolates egress and namespace `{}` isolates ingress, and no flow from `{a}` to `{b}` covers it",
                a.namespace, b.namespace
            )
        } else if egress_isolated {
            format!(
                "namespace `{}` isolates egress and no flow from `{a}` to `{b}` covers it",
                a.namespace
            )
        } else {
            format!(
                "namespace `{}` isolates ingress and no flow from `{a}` to `{b}` covers it",
                b.namespace
            )
        };
        return Verdict::Denied { reason: side };
    }
    by.extend(grants);
    Verdict::Allowed { by }
}

/// A service and external addresses: only the service's side can be isolated.
fn external(
    program: &Program,
    nets: &[IpNet],
    svc: &ServiceId,
    port: Option<Port>,
    egress: bool,
) -> Verdict {
    let Some(pod) = program.services.get(svc) else {
        return Verdict::Denied {
            reason: "unknown service".to_string(),
        };
    };
    let isolated = program.namespaces.get(&svc.namespace).is_some_and(|n| {
        if egress {
            n.isolate_egress
        } else {
            n.isolate_ingress
        }
    });
    if !isolated {
        return Verdict::Allowed { by: Vec::new() };
    }
    let wanted: Vec<Range> = nets.iter().map(net_range).collect();
    let mut by = Vec::new();
    let mut granted: Vec<Range> = Vec::new();
    for flow in &program.flows {
        let (own, other) = if egress {
            (&flow.client, &flow.server)
        } else {
            (&flow.server, &flow.client)
        };
        if !matches(program, own, pod) || !covers(flow, port) {
            continue;
        }
        let ranges: Vec<Range> = other.blocks().iter().flat_map(block_ranges).collect();
        if overlaps(&wanted, &ranges) {
            by.push(flow.span);
        }
        granted.extend(ranges);
    }
    let merged = merge(granted);
    let direction = if egress { "egress" } else { "ingress" };
    let reason = format!(
        "namespace `{}` isolates {direction} and no flow of `{svc}` covers {}",
        svc.namespace,
        if wanted.len() > 1 {
            "all of these addresses"
        } else {
            "these addresses"
        }
    );
    if wanted.iter().all(|w| covered(*w, &merged)) {
        Verdict::Allowed { by }
    } else if overlaps(&wanted, &merged) {
        Verdict::Partial { by, reason }
    } else {
        Verdict::Denied { reason }
    }
}

fn net_range(net: &IpNet) -> Range {
    match net {
        IpNet::V4(n) => (
            false,
            u128::from(u32::from(n.network())),
            u128::from(u32::from(n.broadcast())),
        ),
        IpNet::V6(n) => (true, u128::from(n.network()), u128::from(n.broadcast())),
    }
}

/// The ranges of a block: its CIDR with the exceptions cut out.
fn block_ranges(block: &IpBlock) -> Vec<Range> {
    let mut out = vec![net_range(&block.cidr)];
    for ex in &block.except {
        let (v6, lo, hi) = net_range(ex);
        out = out
            .into_iter()
            .flat_map(|(f, a, b)| {
                if f != v6 || hi < a || lo > b {
                    return vec![(f, a, b)];
                }
                let mut parts = Vec::new();
                if lo > a {
                    parts.push((f, a, lo - 1));
                }
                if hi < b {
                    parts.push((f, hi + 1, b));
                }
                parts
            })
            .collect();
    }
    out
}

fn merge(mut ranges: Vec<Range>) -> Vec<Range> {
    ranges.sort_unstable();
    let mut out: Vec<Range> = Vec::new();
    for r in ranges {
        match out.last_mut() {
            Some(last) if last.0 == r.0 && r.1 <= last.2.saturating_add(1) => {
                last.2 = last.2.max(r.2);
            }
            _ => out.push(r),
        }
    }
    out
}

fn covered(want: Range, merged: &[Range]) -> bool {
    merged
        .iter()
        .any(|r| r.0 == want.0 && r.1 <= want.1 && want.2 <= r.2)
}

fn overlaps(want: &[Range], have: &[Range]) -> bool {
    want.iter()
        .any(|w| have.iter().any(|h| h.0 == w.0 && h.1 <= w.2 && w.1 <= h.2))
}
