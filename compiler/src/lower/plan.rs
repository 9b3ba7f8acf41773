//! Which network policies a program needs, whatever the target: the decisions `netpol` and
//! `cilium` share, so that both say the same thing and differ only in how they write it.
//!
//! Per namespace that isolates: `default-deny` (every pod, the isolated directions, no rules);
//! with `allow dns` and egress isolated, `allow-dns`; with flows of its own, `namespace-flows`.
//! Per service isolated by its namespace or by itself: one policy holding the ingress rules of
//! the flows it serves and the egress rules of the flows it opens, each only in a direction where
//! the service is isolated (plus the DNS rule where only the service isolates egress).

use super::Lowering;
use crate::ir::{Flow, Peer, PortRange, PortSpec, Ports, Program, Selector, Service, ServiceRef};
use crate::span::Span;
use ahash::HashMap;
use std::borrow::Cow;

/// One policy to write.
pub(super) struct Policy<'a> {
    pub namespace: &'a str,
    pub name: &'a str,
    /// The pods it selects; `None` is every pod of the namespace.
    pub pods: Option<&'a Selector>,
    /// The rules of each direction; `None` where this policy does not isolate that direction.
    pub ingress: Option<Vec<Rule<'a>>>,
    pub egress: Option<Vec<Rule<'a>>>,
    /// The declaration it comes from, and the flows its rules come from (sorted, each once).
    pub source: Span,
    pub flows: Vec<Span>,
    /// The declaration's `accept` lines, for the `warden.dev/accepted` annotation.
    pub accepted: &'a str,
}

/// Where a policy comes from, as its documents say it: the same for `netpol` and `cilium`.
pub(super) struct Described {
    /// `file:line` of the declaration.
    pub source: String,
    /// `file:line` of each flow, in source order, each once.
    pub flows: String,
    /// The source files, the declaration's and the flows', sorted, each once.
    pub files: Vec<String>,
}

/// One rule of a policy.
pub(super) enum Rule<'a> {
    /// These peers, on these ports. Rules are canonical: each peer's ports are the union of what
    /// every flow allows it, and peers with the same ports share one rule, so declarations that
    /// mean the same thing give the same rules however they are split or ordered.
    Allow {
        peers: Vec<&'a Peer>,
        ports: Cow<'a, Ports>,
    },
    /// A flow with HTTP rules (`peer` is its other end), kept whole: its requests belong to it.
    Http { flow: &'a Flow, peer: &'a Peer },
    /// The way to the cluster DNS.
    Dns,
}

/// The canonical rules of the flows seen from one side (each with its other end), plus the DNS
/// rule if `dns`.
fn rules<'a>(sides: &[(&'a Flow, &'a Peer)], dns: bool) -> Vec<Rule<'a>> {
    let mut out = Vec::new();
    // Sorted vectors rather than ordered maps: a policy has a handful of peers, and two maps of
    // them per direction were most of the planning.
    let mut plain: Vec<(&'a Peer, &'a Ports)> = Vec::with_capacity(sides.len());
    for &(flow, peer) in sides {
        if flow.http.is_empty() {
            plain.push((peer, &flow.ports));
        } else {
            out.push(Rule::Http { flow, peer });
        }
    }
    // Each peer once, with the union of its ports; in the peers' order, as is each rule's list.
    plain.sort_by(|a, b| a.0.cmp(b.0));
    let mut merged: Vec<(Cow<'a, Ports>, &'a Peer)> = Vec::with_capacity(plain.len());
    for run in plain.chunk_by(|a, b| a.0 == b.0) {
        let Some(&(peer, first)) = run.first() else {
            continue;
        };
        let ports = match first {
            // One flow to the peer on every port, or on one: canonical as it is, and the
            // common case, kept without a copy.
            Ports::All => Cow::Borrowed(first),
            Ports::Only(list) if run.len() == 1 && list.len() == 1 => Cow::Borrowed(first),
            _ if run.iter().any(|(_, p)| matches!(p, Ports::All)) => Cow::Owned(Ports::All),
            _ => Cow::Owned(union(Ports::Only(
                run.iter()
                    .flat_map(|(_, p)| match p {
                        Ports::Only(list) => list.as_slice(),
                        Ports::All => &[],
                    })
                    .cloned()
                    .collect(),
            ))),
        };
        merged.push((ports, peer));
    }
    // Peers with the same ports share a rule; rules in the order of their ports. Stable: the
    // peers of a rule stay in order.
    merged.sort_by(|a, b| a.0.cmp(&b.0));
    let mut merged = merged.into_iter().peekable();
    while let Some((ports, peer)) = merged.next() {
        let mut peers = vec![peer];
        while let Some((_, next)) = merged.next_if(|(p, _)| *p == ports) {
            peers.push(next);
        }
        out.push(Rule::Allow { peers, ports });
    }
    if dns {
        out.push(Rule::Dns);
    }
    out
}

/// Ports as one canonical list: ranges of a protocol that overlap or touch become one range,
/// named ports stay as they are, sorted.
fn union(ports: Ports) -> Ports {
    let Ports::Only(list) = ports else {
        return Ports::All;
    };
    let mut ranges: Vec<PortRange> = Vec::new();
    let mut named: Vec<PortSpec> = Vec::new();
    for spec in list {
        match spec {
            PortSpec::Range(r) => ranges.push(r),
            named_port @ PortSpec::Named(_) => named.push(named_port),
        }
    }
    ranges.sort_by_key(|r| (r.protocol, r.start, r.end));
    let mut merged: Vec<PortRange> = Vec::new();
    for r in ranges {
        match merged.last_mut() {
            Some(last)
                if last.protocol == r.protocol && u32::from(r.start) <= u32::from(last.end) + 1 =>
            {
                last.end = last.end.max(r.end);
            }
            _ => merged.push(r),
        }
    }
    let mut out: Vec<PortSpec> = merged.into_iter().map(PortSpec::Range).collect();
    out.extend(named);
    out.sort();
    out.dedup();
    Ports::Only(out)
}

impl Policy<'_> {
    /// Where the policy comes from: a line lookup per flow, made once for both `netpol` and
    /// `cilium` when both are built (see `lower::network_policies`).
    pub fn described(&self, cx: &Lowering<'_>) -> Described {
        let mut files: Vec<String> = std::iter::once(self.source)
            .chain(self.flows.iter().copied())
            .map(|s| cx.file(s))
            .collect();
        files.sort();
        files.dedup();
        Described {
            source: cx.location(self.source),
            flows: locations(cx, &self.flows),
            files,
        }
    }
}

/// The flows of each service and of each namespace's own pods, found once rather than by a scan
/// per policy. Each list keeps the flows' order.
struct FlowIndex<'a> {
    /// By service (`ServiceRef::index`): the flows whose server is the service.
    serving: Vec<Vec<&'a Flow>>,
    /// By service: the flows whose client is the service.
    opening: Vec<Vec<&'a Flow>>,
    /// Flows whose server, or client, is every pod of the namespace. Hashed, not ordered: the
    /// index is only looked up.
    namespace_serving: HashMap<&'a str, Vec<&'a Flow>>,
    namespace_opening: HashMap<&'a str, Vec<&'a Flow>>,
}

impl<'a> FlowIndex<'a> {
    fn new(flows: &'a [Flow], services: usize) -> Self {
        // Servers and clients are indexed on two cores.
        let mut sides = crate::parallel::map_apart(&[false, true], |&client| {
            let mut by_service: Vec<Vec<&'a Flow>> = vec![Vec::new(); services];
            let mut by_namespace: HashMap<&'a str, Vec<&'a Flow>> = HashMap::default();
            for flow in flows {
                match if client { &flow.client } else { &flow.server } {
                    Peer::Service(r) => {
                        if let Some(list) = by_service.get_mut(r.index()) {
                            list.push(flow);
                        }
                    }
                    Peer::Namespace(n) => by_namespace.entry(n).or_default().push(flow),
                    _ => {}
                }
            }
            (by_service, by_namespace)
        })
        .into_iter();
        let (serving, namespace_serving) = sides.next().unwrap_or_default();
        let (opening, namespace_opening) = sides.next().unwrap_or_default();
        FlowIndex {
            serving,
            opening,
            namespace_serving,
            namespace_opening,
        }
    }

    /// The flows the service `r` serves (`client` false) or opens.
    fn of_service(&self, r: ServiceRef, client: bool) -> &[&'a Flow] {
        let side = if client { &self.opening } else { &self.serving };
        side.get(r.index()).map_or(&[], Vec::as_slice)
    }
}

/// What `write` makes of each policy the program needs, in order: the namespaces' and then each
/// service's. A service's policy is planned by the thread that writes it, just before, and dropped
/// after: what planning read of the program (the flows' peers, scattered over the heap) is then
/// still in the cache for writing, and the policies are never all held at once. Planned for every
/// service first and written after, at 100,000 services the writing read it all from memory again.
pub(super) fn each<'a, R: Send>(
    cx: &Lowering<'a>,
    write: impl Fn(&Policy<'a>) -> R + Sync,
) -> Vec<R> {
    let program = cx.program;
    let index = FlowIndex::new(&program.flows, program.services.len());
    let mut out: Vec<R> = namespace_policies(program, &index)
        .iter()
        .map(&write)
        .collect();
    // Each service's policy depends on nothing but the index: planned on every core.
    let services: Vec<(ServiceRef, &Service)> = program.services.iter().collect();
    let written = crate::parallel::map(&services, |&(r, svc)| {
        service_policy(cx, &index, r, svc).map(|policy| write(&policy))
    });
    // Reserved first: a flattened `Option` tells no length.
    out.reserve(written.iter().flatten().count());
    out.extend(written.into_iter().flatten());
    out
}

/// The policies of the namespaces that isolate: `default-deny`, `allow-dns`, `namespace-flows`.
fn namespace_policies<'a>(program: &'a Program, index: &FlowIndex<'a>) -> Vec<Policy<'a>> {
    let mut out = Vec::new();
    for ns in program.namespaces.values().filter(|n| n.isolated()) {
        out.push(Policy {
            namespace: &ns.name,
            name: "default-deny",
            pods: None,
            ingress: ns.isolate_ingress.then(Vec::new),
            egress: ns.isolate_egress.then(Vec::new),
            source: ns.span,
            accepted: &ns.accepted,
            flows: Vec::new(),
        });
        if ns.allow_dns && ns.isolate_egress {
            out.push(Policy {
                namespace: &ns.name,
                name: "allow-dns",
                pods: None,
                ingress: None,
                egress: Some(vec![Rule::Dns]),
                source: ns.span,
                accepted: &ns.accepted,
                flows: Vec::new(),
            });
        }
        // The namespace's own flows: every pod of it is their client or server.
        let mut ingress = Vec::new();
        let mut egress = Vec::new();
        let mut flows = Vec::new();
        if ns.isolate_ingress {
            for flow in index
                .namespace_serving
                .get(ns.name.as_str())
                .into_iter()
                .flatten()
            {
                ingress.push((*flow, &flow.client));
                flows.push(flow.span);
            }
        }
        if ns.isolate_egress {
            for flow in index
                .namespace_opening
                .get(ns.name.as_str())
                .into_iter()
                .flatten()
            {
                egress.push((*flow, &flow.server));
                flows.push(flow.span);
            }
        }
        flows.sort();
        flows.dedup();
        if !flows.is_empty() {
            out.push(Policy {
                namespace: &ns.name,
                name: "namespace-flows",
                pods: None,
                ingress: ns.isolate_ingress.then(|| rules(&ingress, false)),
                egress: ns.isolate_egress.then(|| rules(&egress, false)),
                source: ns.span,
                accepted: &ns.accepted,
                flows,
            });
        }
    }
    out
}

/// The policy of one service, if it or its namespace isolates it.
fn service_policy<'a>(
    cx: &Lowering<'a>,
    index: &FlowIndex<'a>,
    r: ServiceRef,
    svc: &'a Service,
) -> Option<Policy<'a>> {
    let program = cx.program;
    let ns = program.namespaces.get(&svc.id.namespace);
    let isolate_ingress = svc.isolates_itself(false) || ns.is_some_and(|n| n.isolates(false));
    let isolate_egress = svc.isolates_itself(true) || ns.is_some_and(|n| n.isolates(true));
    if !isolate_ingress && !isolate_egress {
        return None;
    }
    let mut flows = Vec::new();
    let mut ingress = Vec::new();
    let mut egress = Vec::new();
    if isolate_ingress {
        for flow in index.of_service(r, false) {
            ingress.push((*flow, &flow.client));
            flows.push(flow.span);
        }
    }
    if isolate_egress {
        for flow in index.of_service(r, true) {
            egress.push((*flow, &flow.server));
            flows.push(flow.span);
        }
    }
    flows.sort();
    flows.dedup();
    // `allow dns` where the namespace does not isolate egress but the service does: the
    // namespace-wide `allow-dns` does not exist, so the service's policy holds the DNS rule.
    let dns = isolate_egress && ns.is_some_and(|n| n.allow_dns && !n.isolate_egress);
    Some(Policy {
        namespace: &svc.id.namespace,
        name: &svc.id.name,
        pods: Some(&svc.selector),
        ingress: isolate_ingress.then(|| rules(&ingress, false)),
        egress: isolate_egress.then(|| rules(&egress, dns)),
        source: svc.span,
        accepted: &svc.accepted,
        flows,
    })
}

/// `file:line` of each span, in source order, each once.
fn locations(cx: &Lowering<'_>, spans: &[Span]) -> String {
    let mut out = String::new();
    let mut last = None;
    for &span in spans {
        // Spans come sorted: the same place twice is two neighbours.
        let here = (cx.sources.name(span.file), cx.sources.line(span));
        if last == Some(here) {
            continue;
        }
        if last.is_some() {
            out.push_str(", ");
        }
        last = Some(here);
        out.push_str(here.0);
        out.push(':');
        out.push_str(itoa::Buffer::new().format(here.1));
    }
    out
}
