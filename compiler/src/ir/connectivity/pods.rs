//! The answer for one pod (or external addresses) against another: which flows let it through
//! each side, or what isolates the side that denies it. Any pod, not only a service's own: a
//! service selects every pod of its namespace that carries all its labels.

use super::addresses::{Range, block_ranges, covered, merge, net_range, overlaps};
use super::{Denial, Evaluator, Grant, Outcome, PolicyRef};
use crate::ir::{Flow, NamespaceScope, Peer, Pod, Probe, Program, Protocol, Service, ServiceRef};
use ipnet::IpNet;

/// Whether `flow` covers a connection to `server` on `port`.
fn covers(flow: &Flow, port: Option<&Probe>, server: &Pod) -> bool {
    match port {
        Some(p) => flow.ports.covers(p, server),
        None => flow.ports == crate::ir::Ports::All,
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

/// Whether the pods of `scope` include those of `namespace`.
pub(super) fn in_scope(program: &Program, scope: &NamespaceScope, namespace: &str) -> bool {
    match scope {
        NamespaceScope::Name(n) => n == namespace,
        NamespaceScope::Labels(sel) => program.namespace_selected(sel, namespace),
    }
}

pub(super) fn matches(program: &Program, peer: &Peer, pod: &Pod) -> bool {
    match peer {
        Peer::Service(r) => program
            .services
            .at(*r)
            .is_some_and(|s| s.selects_pod(&pod.namespace, &pod.labels)),
        Peer::Namespace(n) => *n == pod.namespace,
        Peer::Pods(p) => {
            in_scope(program, &p.namespaces, &pod.namespace) && p.pods.matches(&pod.labels)
        }
        Peer::World | Peer::Ip(_) | Peer::Host(_) => false,
    }
}

/// The services of `candidates` that select `pod`.
fn selecting<'p>(
    program: &'p Program,
    pod: &'p Pod,
    candidates: &'p [ServiceRef],
) -> impl Iterator<Item = (ServiceRef, &'p Service)> + 'p {
    candidates.iter().filter_map(move |r| {
        program
            .services
            .at(*r)
            .filter(|s| s.selects_pod(&pod.namespace, &pod.labels))
            .map(|s| (*r, s))
    })
}

/// The services of `candidates` that select `pod` and isolate it themselves in a direction.
fn isolating_services<'p>(
    program: &'p Program,
    pod: &'p Pod,
    candidates: &'p [ServiceRef],
    egress: bool,
) -> impl Iterator<Item = ServiceRef> + 'p {
    selecting(program, pod, candidates)
        .filter(move |(_, s)| s.isolates_itself(egress))
        .map(|(r, _)| r)
}

/// Everything that isolates `pod` in a direction: its namespace's `default-deny`, and the policy of
/// each service selecting it that isolates itself (a NetworkPolicy of every such service selects
/// it). Empty: nothing isolates it.
fn isolators(
    program: &Program,
    pod: &Pod,
    candidates: &[ServiceRef],
    egress: bool,
) -> Vec<PolicyRef> {
    let mut out = Vec::new();
    if program.namespace_isolates(&pod.namespace, egress) {
        out.push(PolicyRef::Namespace {
            namespace: pod.namespace.clone(),
            name: "default-deny",
        });
    }
    out.extend(isolating_services(program, pod, candidates, egress).map(PolicyRef::Service));
    out
}

/// What isolates `pod`, for messages.
fn why(program: &Program, pod: &Pod, candidates: &[ServiceRef], egress: bool) -> String {
    if program.namespace_isolates(&pod.namespace, egress) {
        return format!("namespace `{}`", pod.namespace);
    }
    match isolating_services(program, pod, candidates, egress)
        .next()
        .and_then(|r| program.services.at(r))
    {
        Some(s) => format!("service `{}`", s.id),
        None => format!("namespace `{}`", pod.namespace),
    }
}

/// `allow dns`: egress from every pod of the namespace to the cluster DNS on 53/tcp and 53/udp,
/// with the policies holding that rule: the namespace's `allow-dns` where the namespace isolates
/// egress, else the policy of each service isolating the pod's egress itself.
fn dns_rule(
    program: &Program,
    ns: &crate::ir::Namespace,
    src: &Pod,
    candidates: &[ServiceRef],
) -> Grant {
    let policies = if ns.isolate_egress {
        vec![PolicyRef::Namespace {
            namespace: ns.name.clone(),
            name: "allow-dns",
        }]
    } else {
        isolating_services(program, src, candidates, true)
            .map(PolicyRef::Service)
            .collect()
    };
    Grant {
        source: ns.span,
        dns: true,
        egress: true,
        policies,
    }
}

fn dns_port(port: Option<&Probe>) -> bool {
    match port {
        Some(Probe::Number(p)) => {
            p.number == 53 && matches!(p.protocol, Protocol::Tcp | Protocol::Udp)
        }
        _ => false,
    }
}

/// What decides a connection from one pod to another apart from its port: the rules on each side
/// that take the other pod, whether each side is isolated, and the DNS rule where the client's
/// namespace allows DNS and the server is the cluster DNS.
pub(super) struct PodPair<'a> {
    egress: Vec<(&'a Flow, PolicyRef)>,
    ingress: Vec<(&'a Flow, PolicyRef)>,
    egress_isolated: bool,
    ingress_isolated: bool,
    dns: Option<Grant>,
}

impl PodPair<'_> {
    /// Whether the client's side and the server's let a connection on `port` through.
    pub(super) fn open(&self, port: Option<&Probe>, server: &Pod) -> (bool, bool) {
        let egress_ok = !self.egress_isolated
            || self.egress.iter().any(|(f, _)| covers(f, port, server))
            || (self.dns.is_some() && dns_port(port));
        let ingress_ok =
            !self.ingress_isolated || self.ingress.iter().any(|(f, _)| covers(f, port, server));
        (egress_ok, ingress_ok)
    }
}

/// A pod and the services that may select it (every one that does is among them).
pub(super) type Side<'p> = (&'p Pod, &'p [ServiceRef]);

impl<'a> Evaluator<'a> {
    /// The flows with rules for `pod` on its side (`egress`: its client side): those of each
    /// service selecting it that is isolated that way (by itself or its namespace), each with the
    /// policy holding its rules, and its namespace's own where the namespace isolates that way.
    pub(super) fn rules<'s>(
        &'s self,
        (pod, candidates): Side<'s>,
        egress: bool,
    ) -> Vec<(&'a Flow, PolicyRef)> {
        let program = self.program;
        let namespace_isolates = program.namespace_isolates(&pod.namespace, egress);
        let mut out = Vec::new();
        for (r, s) in selecting(program, pod, candidates) {
            if s.isolates_itself(egress) || namespace_isolates {
                out.extend(
                    self.flows_of(egress, std::slice::from_ref(&r), None)
                        .map(|f| (f, PolicyRef::Service(r))),
                );
            }
        }
        if namespace_isolates {
            out.extend(self.flows_of(egress, &[], Some(&pod.namespace)).map(|f| {
                (
                    f,
                    PolicyRef::Namespace {
                        namespace: pod.namespace.clone(),
                        name: "namespace-flows",
                    },
                )
            }));
        }
        out
    }

    pub(super) fn isolated(&self, (pod, candidates): Side<'_>, egress: bool) -> bool {
        self.program.namespace_isolates(&pod.namespace, egress)
            || isolating_services(self.program, pod, candidates, egress)
                .next()
                .is_some()
    }

    /// What decides a connection from `src` to `dst` on any port.
    pub(super) fn pod_pair(&self, src: Side<'_>, dst: Side<'_>) -> PodPair<'a> {
        let program = self.program;
        let reaches_dns_pods =
            dst.0.namespace == program.dns.namespace && program.dns.pods.matches(&dst.0.labels);
        let dns = program
            .namespaces
            .get(&src.0.namespace)
            .filter(|ns| reaches_dns_pods && ns.allow_dns)
            .map(|ns| dns_rule(program, ns, src.0, src.1));
        PodPair {
            egress: self
                .rules(src, true)
                .into_iter()
                .filter(|(f, _)| matches(program, &f.server, dst.0))
                .collect(),
            ingress: self
                .rules(dst, false)
                .into_iter()
                .filter(|(f, _)| matches(program, &f.client, src.0))
                .collect(),
            egress_isolated: self.isolated(src, true),
            ingress_isolated: self.isolated(dst, false),
            dns,
        }
    }

    pub(super) fn pod_to_pod(&self, src: Side<'_>, dst: Side<'_>, port: Option<&Probe>) -> Outcome {
        let program = self.program;
        let pair = self.pod_pair(src, dst);
        let grant = |(f, policy): &(&Flow, PolicyRef), egress: bool| Grant {
            source: f.span,
            dns: false,
            egress,
            policies: vec![policy.clone()],
        };
        let mut egress_grants: Vec<Grant> = pair
            .egress
            .iter()
            .filter(|(f, _)| covers(f, port, dst.0))
            .map(|rule| grant(rule, true))
            .collect();
        let mut ingress_grants: Vec<Grant> = pair
            .ingress
            .iter()
            .filter(|(f, _)| covers(f, port, dst.0))
            .map(|rule| grant(rule, false))
            .collect();
        egress_grants.sort_by_key(|g| g.source);
        ingress_grants.sort_by_key(|g| g.source);
        let (egress_ok, ingress_ok) = pair.open(port, dst.0);
        if egress_ok && ingress_ok {
            let mut grants = egress_grants;
            // The DNS rule decides only where no flow opens the client's side.
            if pair.egress_isolated && grants.is_empty() && dns_port(port) {
                grants.extend(pair.dns);
            }
            grants.extend(ingress_grants);
            return Outcome::Allowed(grants);
        }
        let ((a, a_candidates), (b, b_candidates)) = (src, dst);
        let why_egress = || why(program, a, a_candidates, true);
        let why_ingress = || why(program, b, b_candidates, false);
        let (an, bn) = (&a.name, &b.name);
        let reason = match (egress_ok, ingress_ok) {
            (false, false) if a.namespace == b.namespace && why_egress() == why_ingress() => {
                format!(
                    "{} isolates both directions and no flow from `{an}` to `{bn}` covers it",
                    why_egress()
                )
            }
            (false, false) => format!(
                "{} isolates egress and {} isolates ingress, and no flow from `{an}` to `{bn}` covers it",
                why_egress(),
                why_ingress()
            ),
            (false, true) => format!(
                "{} isolates egress and no flow from `{an}` to `{bn}` covers it",
                why_egress()
            ),
            _ => format!(
                "{} isolates ingress and no flow from `{an}` to `{bn}` covers it",
                why_ingress()
            ),
        };
        Outcome::Denied(Denial {
            egress: if egress_ok {
                Vec::new()
            } else {
                isolators(program, a, a_candidates, true)
            },
            ingress: if ingress_ok {
                Vec::new()
            } else {
                isolators(program, b, b_candidates, false)
            },
            reason,
        })
    }

    /// A pod and external addresses: only the pod's side can be isolated.
    pub(super) fn external(
        &self,
        nets: &[IpNet],
        pod: &Pod,
        candidates: &[ServiceRef],
        port: Option<&Probe>,
        egress: bool,
    ) -> Outcome {
        let program = self.program;
        if !self.isolated((pod, candidates), egress) {
            return Outcome::Allowed(Vec::new());
        }
        let wanted: Vec<Range> = nets.iter().map(net_range).collect();
        let rules = self.rules((pod, candidates), egress);
        let (grants, merged) = self.granted(&wanted, (pod, candidates), &rules, port, egress);
        let direction = if egress { "egress" } else { "ingress" };
        let denial = || Denial {
            egress: if egress {
                isolators(program, pod, candidates, true)
            } else {
                Vec::new()
            },
            ingress: if egress {
                Vec::new()
            } else {
                isolators(program, pod, candidates, false)
            },
            reason: format!(
                "{} isolates {direction} and no flow of `{}` covers {}",
                why(program, pod, candidates, egress),
                pod.name,
                if wanted.len() > 1 {
                    "all of these addresses"
                } else {
                    "these addresses"
                }
            ),
        };
        if wanted.iter().all(|w| covered(*w, &merged)) {
            Outcome::Allowed(grants)
        } else if overlaps(&wanted, &merged) {
            Outcome::Partly(grants, denial())
        } else {
            Outcome::Denied(denial())
        }
    }

    /// Whether a pod may reach (`egress`) or be reached from the addresses on each port: its
    /// isolation and rules found once for all the ports.
    pub(super) fn external_on(
        &self,
        nets: &[IpNet],
        pod: &Pod,
        candidates: &[ServiceRef],
        ports: &[Probe],
        egress: bool,
    ) -> Vec<bool> {
        if !self.isolated((pod, candidates), egress) {
            return vec![true; ports.len()];
        }
        let wanted: Vec<Range> = nets.iter().map(net_range).collect();
        let rules = self.rules((pod, candidates), egress);
        ports
            .iter()
            .map(|p| {
                let (_, merged) = self.granted(&wanted, (pod, candidates), &rules, Some(p), egress);
                wanted.iter().all(|w| covered(*w, &merged))
            })
            .collect()
    }

    /// On an isolated side, the grants of `rules` for the addresses `wanted` on `port`, with the
    /// ranges all its rules open on that port, merged.
    fn granted(
        &self,
        wanted: &[Range],
        (pod, candidates): Side<'_>,
        rules: &[(&'a Flow, PolicyRef)],
        port: Option<&Probe>,
        egress: bool,
    ) -> (Vec<Grant>, Vec<Range>) {
        let program = self.program;
        // The server resolves named ports: the pod on ingress, an address (none) on egress.
        let outside = no_pod();
        let server = if egress { &outside } else { pod };
        let mut grants = Vec::new();
        let mut granted: Vec<Range> = Vec::new();
        for (flow, policy) in rules {
            if !covers(flow, port, server) {
                continue;
            }
            let other = if egress { &flow.server } else { &flow.client };
            let ranges: Vec<Range> = other.blocks().iter().flat_map(block_ranges).collect();
            if overlaps(wanted, &ranges) {
                grants.push(Grant {
                    source: flow.span,
                    dns: false,
                    egress,
                    policies: vec![policy.clone()],
                });
            }
            granted.extend(ranges);
        }
        grants.sort_by_key(|g| g.source);
        // `allow dns` with NodeLocal DNSCache: its address, on the DNS ports.
        if egress
            && dns_port(port)
            && let Some(ns) = program.namespaces.get(&pod.namespace)
            && ns.allow_dns
            && let Some(nodelocal) = program.dns.nodelocal
        {
            let range = net_range(&nodelocal);
            if overlaps(wanted, &[range]) {
                grants.push(dns_rule(program, ns, pod, candidates));
            }
            granted.push(range);
        }
        (grants, merge(granted))
    }
}
