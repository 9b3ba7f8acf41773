//! The connectivity evaluator: may this endpoint open a connection to that one, on this port?
//!
//! It reads the IR only, with the semantics every target must express: a connection is allowed
//! when the client's side allows it (its namespace does not isolate egress, or a flow from a service
//! selecting the client allows it, or `allow dns` and the server is the cluster DNS) and the server's
//! side allows it (likewise for ingress). It answers for any pod, not only the services' own: a
//! service selects every pod of its namespace that carries all its labels.
//! External addresses are sets of IP ranges, so an answer can be partial: "from 10.0.0.0/8 only".

use super::{
    Endpoint, Flow, IpBlock, NamespaceScope, Peer, Pod, Probe, Program, Protocol, Service,
};
use crate::span::Span;
use ipnet::IpNet;
// aHash, keyed at random for each run as SipHash is, at a third of its cost.
use ahash::HashMap;

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

/// The program with its flows grouped by the namespace of the side that holds their rules: a
/// question reads the flows of the two namespaces it involves. Reading every flow for every
/// question made a program with an `expect` per service quadratic.
pub struct Evaluator<'a> {
    program: &'a Program,
    /// By namespace: the flows whose client (`egress`) or server (`ingress`) is a service of the
    /// namespace or the namespace itself, in program order. Only such a side can have rules for a
    /// pod of the namespace (`rules_for`).
    /// Hashed, not ordered: nothing walks them, and an ordered map's lookups compare strings
    /// (indexing took 6 ms at 10,000 services and 114 ms at 100,000; hashed, 2 and 55 ms).
    egress: HashMap<&'a str, Vec<&'a Flow>>,
    ingress: HashMap<&'a str, Vec<&'a Flow>>,
}

impl<'a> Evaluator<'a> {
    pub fn new(program: &'a Program) -> Self {
        let mut ev = Evaluator {
            program,
            egress: HashMap::default(),
            ingress: HashMap::default(),
        };
        for flow in &program.flows {
            for (side, peer) in [
                (&mut ev.egress, &flow.client),
                (&mut ev.ingress, &flow.server),
            ] {
                let namespace = match peer {
                    Peer::Service(r) => match program.services.at(*r) {
                        Some(s) => s.id.namespace.as_str(),
                        None => continue,
                    },
                    Peer::Namespace(n) => n.as_str(),
                    _ => continue,
                };
                side.entry(namespace).or_default().push(flow);
            }
        }
        ev
    }

    fn flows(&self, egress: bool, namespace: &str) -> &[&'a Flow] {
        let side = if egress { &self.egress } else { &self.ingress };
        side.get(namespace).map_or(&[], Vec::as_slice)
    }

    /// `port` `None` asks about every port. A service stands for a pod its selector selects, whose
    /// named ports' numbers are not known: a named port is then answered by name.
    pub fn evaluate(&self, from: &Endpoint, to: &Endpoint, port: Option<&Probe>) -> Verdict {
        let program = self.program;
        let pod = |e: &Endpoint| -> Option<Pod> {
            match e {
                Endpoint::Service(id) => program.services.get(id).map(|s| Pod {
                    namespace: id.namespace.clone(),
                    labels: s.selector.example(),
                    name: id.to_string(),
                    named_ports: Default::default(),
                }),
                Endpoint::Pod(p) => Some(p.clone()),
                Endpoint::External(_) => None,
            }
        };
        match (from, to) {
            (Endpoint::External(_), Endpoint::External(_)) => Verdict::Denied {
                reason: "warden only governs traffic that starts or ends at a service".to_string(),
            },
            (Endpoint::External(nets), dst) => match pod(dst) {
                Some(dst) => external(self, nets, &dst, port, false),
                None => unknown(),
            },
            (src, Endpoint::External(nets)) => match pod(src) {
                Some(src) => external(self, nets, &src, port, true),
                None => unknown(),
            },
            (src, dst) => match (pod(src), pod(dst)) {
                (Some(a), Some(b)) => pod_to_pod(self, &a, &b, port),
                _ => unknown(),
            },
        }
    }
}

/// One question; `Evaluator` answers many.
pub fn evaluate(
    program: &Program,
    from: &Endpoint,
    to: &Endpoint,
    port: Option<&Probe>,
) -> Verdict {
    Evaluator::new(program).evaluate(from, to, port)
}

fn unknown() -> Verdict {
    Verdict::Denied {
        reason: "unknown service".to_string(),
    }
}

/// Whether `flow` covers a connection to `server` on `port`.
fn covers(flow: &Flow, port: Option<&Probe>, server: &Pod) -> bool {
    match port {
        Some(p) => flow.ports.covers(p, server),
        None => flow.ports == super::Ports::All,
    }
}

/// An address outside the cluster has no named ports.
fn no_pod() -> Pod {
    Pod {
        namespace: String::new(),
        labels: Default::default(),
        name: String::new(),
        named_ports: Default::default(),
    }
}

fn matches(ev: &Evaluator<'_>, peer: &Peer, pod: &Pod) -> bool {
    let program = ev.program;
    match peer {
        Peer::Service(r) => program
            .services
            .at(*r)
            .is_some_and(|s| s.selects_pod(&pod.namespace, &pod.labels)),
        Peer::Namespace(n) => *n == pod.namespace,
        Peer::Pods(p) => {
            let super::Pods { namespaces, pods } = &**p;
            let in_scope = match namespaces {
                NamespaceScope::Name(n) => *n == pod.namespace,
                NamespaceScope::Labels(sel) => {
                    sel.matches(&program.namespace_labels(&pod.namespace))
                }
            };
            in_scope && pods.matches(&pod.labels)
        }
        Peer::World | Peer::Ip(_) | Peer::Host(_) => false,
    }
}

/// Whether `peer` is a service (or a namespace's own flows) that selects `pod` and has rules in
/// that direction.
fn rules_for(ev: &Evaluator<'_>, peer: &Peer, pod: &Pod, egress: bool) -> bool {
    let program = ev.program;
    match peer {
        // The service read once for both questions, and the cheaper one first: most flows of a
        // namespace are another service's (`Program::isolates` and `matches` looked it up twice,
        // a tenth of checking the realistic program).
        Peer::Service(r) => program.services.at(*r).is_some_and(|s| {
            s.selects_pod(&pod.namespace, &pod.labels)
                && (s.isolates_itself(egress)
                    || program.namespace_isolates(&s.id.namespace, egress))
        }),
        Peer::Namespace(n) => *n == pod.namespace && program.namespace_isolates(n, egress),
        _ => false,
    }
}

/// What isolates `pod` in a direction: its namespace, or a service selecting it (every service
/// that selects it then has rules in that direction, as a NetworkPolicy would). `None`: nothing.
fn isolator(program: &Program, pod: &Pod, egress: bool) -> Option<String> {
    if program.namespace_isolates(&pod.namespace, egress) {
        return Some(format!("namespace `{}`", pod.namespace));
    }
    isolating_service(program, pod, egress).map(|s| format!("service `{}`", s.id))
}

fn isolating_service<'p>(program: &'p Program, pod: &Pod, egress: bool) -> Option<&'p Service> {
    program
        .services
        .in_namespace(&pod.namespace)
        .iter()
        .find(|s| s.isolates_itself(egress) && s.selects_pod(&pod.namespace, &pod.labels))
}

fn isolates(program: &Program, pod: &Pod, egress: bool) -> bool {
    // `isolator` without its message: asked for every expectation, and the message only for one
    // that fails.
    program.namespace_isolates(&pod.namespace, egress)
        || isolating_service(program, pod, egress).is_some()
}

/// What isolates `pod`, for messages.
fn why(program: &Program, pod: &Pod, egress: bool) -> String {
    isolator(program, pod, egress).unwrap_or_else(|| format!("namespace `{}`", pod.namespace))
}

/// `allow dns`: egress from every pod of the namespace to the cluster DNS on 53/tcp and 53/udp.
fn dns_allows(program: &Program, src: &Pod, dst: &Pod, port: Option<&Probe>) -> bool {
    dns_port(port)
        && program
            .namespaces
            .get(&src.namespace)
            .is_some_and(|n| n.allow_dns)
        && dst.namespace == program.dns.namespace
        && program.dns.pods.matches(&dst.labels)
}

fn dns_port(port: Option<&Probe>) -> bool {
    matches!(port, Some(Probe::Number(p)) if p.number == 53 && matches!(p.protocol, Protocol::Tcp | Protocol::Udp))
}

fn pod_to_pod(ev: &Evaluator<'_>, src: &Pod, dst: &Pod, port: Option<&Probe>) -> Verdict {
    let program = ev.program;
    let egress_grants: Vec<Span> = ev
        .flows(true, &src.namespace)
        .iter()
        .filter(|f| {
            rules_for(ev, &f.client, src, true)
                && matches(ev, &f.server, dst)
                && covers(f, port, dst)
        })
        .map(|f| f.span)
        .collect();
    let ingress_grants: Vec<Span> = ev
        .flows(false, &dst.namespace)
        .iter()
        .filter(|f| {
            rules_for(ev, &f.server, dst, false)
                && matches(ev, &f.client, src)
                && covers(f, port, dst)
        })
        .map(|f| f.span)
        .collect();
    let egress_isolated = isolates(program, src, true);
    let ingress_isolated = isolates(program, dst, false);
    let egress_ok =
        !egress_isolated || !egress_grants.is_empty() || dns_allows(program, src, dst, port);
    let ingress_ok = !ingress_isolated || !ingress_grants.is_empty();
    if egress_ok && ingress_ok {
        let mut by = egress_grants;
        by.extend(ingress_grants);
        by.sort();
        by.dedup();
        return Verdict::Allowed { by };
    }
    let (a, b) = (&src.name, &dst.name);
    let reason = match (egress_ok, ingress_ok) {
        (false, false)
            if src.namespace == dst.namespace
                && why(program, src, true) == why(program, dst, false) =>
        {
            format!(
                "{} isolates both directions and no flow from `{a}` to `{b}` covers it",
                why(program, src, true)
            )
        }
        (false, false) => format!(
            "{} isolates egress and {} isolates ingress, and no flow from `{a}` to `{b}` covers it",
            why(program, src, true),
            why(program, dst, false)
        ),
        (false, true) => format!(
            "{} isolates egress and no flow from `{a}` to `{b}` covers it",
            why(program, src, true)
        ),
        _ => format!(
            "{} isolates ingress and no flow from `{a}` to `{b}` covers it",
            why(program, dst, false)
        ),
    };
    Verdict::Denied { reason }
}

/// A pod and external addresses: only the pod's side can be isolated.
fn external(
    ev: &Evaluator<'_>,
    nets: &[IpNet],
    pod: &Pod,
    port: Option<&Probe>,
    egress: bool,
) -> Verdict {
    let program = ev.program;
    let svc = &pod.name;
    let isolated = isolates(program, pod, egress);
    if !isolated {
        return Verdict::Allowed { by: Vec::new() };
    }
    let wanted: Vec<Range> = nets.iter().map(net_range).collect();
    // The server resolves named ports: the pod on ingress, an address (none) on egress.
    let outside = no_pod();
    let server = if egress { &outside } else { pod };
    let mut by = Vec::new();
    let mut granted: Vec<Range> = Vec::new();
    for flow in ev.flows(egress, &pod.namespace) {
        let (own, other) = if egress {
            (&flow.client, &flow.server)
        } else {
            (&flow.server, &flow.client)
        };
        if !rules_for(ev, own, pod, egress) || !covers(flow, port, server) {
            continue;
        }
        let ranges: Vec<Range> = other.blocks().iter().flat_map(block_ranges).collect();
        if overlaps(&wanted, &ranges) {
            by.push(flow.span);
        }
        granted.extend(ranges);
    }
    // `allow dns` with NodeLocal DNSCache: its address, on the DNS ports.
    if egress
        && dns_port(port)
        && program
            .namespaces
            .get(&pod.namespace)
            .is_some_and(|n| n.allow_dns)
        && let Some(nodelocal) = program.dns.nodelocal
    {
        granted.push(net_range(&nodelocal));
    }
    let merged = merge(granted);
    let direction = if egress { "egress" } else { "ingress" };
    let reason = format!(
        "{} isolates {direction} and no flow of `{svc}` covers {}",
        why(program, pod, egress),
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
