//! The kinds of pod an endpoint stands for in one question: a concrete pod for each region of a
//! service's selector that the other selectors the question reads tell apart (`ir::regions`), and,
//! where the answer depends on it, for each number a pod may give the named port asked about.
//!
//! Which selectors a question reads about a client pod of namespace A talking to a server pod of
//! namespace B: the services of A (which isolate it or whose egress rules hold for it) and the
//! `pods(…)` clients of B's ingress flows whose namespaces include A; about the server, the
//! services of B, the `pods(…)` servers of A's egress flows whose namespaces include B, and the
//! cluster DNS's selector where B is its namespace. A pod is read through nothing else.

use super::pods::in_scope;
use super::{Evaluator, KINDS};
use crate::ir::regions::{TooMany, compatible, regions};
use crate::ir::{Endpoint, Flow, Peer, Pod, Port, PortRange, PortSpec, Ports, Probe, Program};
use crate::ir::{Selector, ServiceRef};
use std::collections::BTreeSet;

/// One kind of pod an endpoint stands for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Member {
    /// A pod of that kind: the witness.
    pub pod: Pod,
    /// The services that select some of the endpoint's pods but not all, each with whether it
    /// selects this kind.
    pub splits: Vec<(ServiceRef, bool)>,
    /// Where the answer depends on the number a pod gives the named port asked about (or a named
    /// port that may be the number asked about): that port's name and this kind's number.
    pub numbered: Option<(String, Port)>,
    /// How many kinds of pod the endpoint stands for in the question (1: its pods are alike).
    pub kinds: usize,
}

impl Member {
    fn of(pod: Pod) -> Member {
        Member {
            pod,
            splits: Vec::new(),
            numbered: None,
            kinds: 1,
        }
    }
}

/// The namespace of an endpoint's pods.
pub(super) fn namespace_of(e: &Endpoint) -> Option<&str> {
    match e {
        Endpoint::Service(id) => Some(&id.namespace),
        Endpoint::Pod(p) => Some(&p.namespace),
        Endpoint::External(_) => None,
    }
}

/// The other side of a question: the services that may select its pods, and their namespace
/// (`None`: addresses outside the cluster).
pub(super) type Other<'q> = (&'q [ServiceRef], Option<&'q str>);

impl Evaluator<'_> {
    /// The kinds of client `e` stands for (`mine`: the services that may select its pods),
    /// talking to the server side `other`.
    pub(super) fn clients(
        &self,
        e: &Endpoint,
        mine: &[ServiceRef],
        (theirs, namespace): Other<'_>,
    ) -> Result<Vec<Member>, TooMany> {
        let Endpoint::Service(id) = e else {
            return Ok(pod_of(e));
        };
        // The `pods(…)` clients of the server side's ingress rules that may be these pods.
        let extra: Vec<&Selector> = match namespace {
            Some(b) => self
                .flows_of(false, theirs, Some(b))
                .filter_map(|f| pods_in(self.program, &f.client, &id.namespace))
                .collect(),
            None => Vec::new(),
        };
        self.kinds_of(e, mine, &extra, &[None])
    }

    /// The kinds of server `e` stands for (`mine`: the services that may select its pods),
    /// reached from the client side `other` on `port`.
    pub(super) fn servers(
        &self,
        e: &Endpoint,
        mine: &[ServiceRef],
        (theirs, namespace): Other<'_>,
        port: Option<&Probe>,
    ) -> Result<Vec<Member>, TooMany> {
        let Endpoint::Service(id) = e else {
            return Ok(pod_of(e));
        };
        let program = self.program;
        let own: Vec<&Flow> = self.flows_of(false, mine, Some(&id.namespace)).collect();
        let opening: Vec<&Flow> = match namespace {
            Some(a) => self.flows_of(true, theirs, Some(a)).collect(),
            None => Vec::new(),
        };
        // The `pods(…)` servers of the client side's egress rules that may be these pods.
        let mut extra: Vec<&Selector> = opening
            .iter()
            .filter_map(|f| pods_in(program, &f.server, &id.namespace))
            .collect();
        if id.namespace == program.dns.namespace {
            extra.push(&program.dns.pods);
        }
        let declared = program
            .services
            .get(id)
            .map_or(&[][..], |s| s.ports.as_slice());
        let numbered = numberings(port, own.iter().chain(&opening), declared);
        self.kinds_of(e, mine, &extra, &numbered)
    }

    /// The regions of service `e`'s selector that the other services of `mine` and `extra` tell
    /// apart, each with every numbering of `numbered`.
    fn kinds_of(
        &self,
        e: &Endpoint,
        mine: &[ServiceRef],
        extra: &[&Selector],
        numbered: &[Option<(String, Port)>],
    ) -> Result<Vec<Member>, TooMany> {
        let program = self.program;
        let Endpoint::Service(id) = e else {
            return Ok(pod_of(e));
        };
        let Some(me) = program.services.find(&id.namespace, &id.name) else {
            return Ok(Vec::new());
        };
        let Some(svc) = program.services.at(me) else {
            return Ok(Vec::new());
        };
        let neighbours: Vec<(ServiceRef, &Selector)> = mine
            .iter()
            .filter(|r| **r != me)
            .filter_map(|r| program.services.at(*r).map(|s| (*r, &s.selector)))
            .collect();
        let others: Vec<&Selector> = neighbours
            .iter()
            .map(|(_, s)| *s)
            .chain(extra.iter().copied())
            .collect();
        let found = regions(&svc.selector, &others, KINDS)?;
        let kinds = found.len().saturating_mul(numbered.len());
        if kinds > KINDS {
            return Err(TooMany { limit: KINDS });
        }
        // The neighbours that select some kinds and not others.
        let splitting: Vec<(usize, ServiceRef)> = neighbours
            .iter()
            .enumerate()
            .filter(|(i, _)| {
                let mut seen = found.iter().map(|r| r.selected.get(*i).copied());
                let first = seen.next().flatten();
                seen.any(|s| s != first)
            })
            .map(|(i, (r, _))| (i, *r))
            .collect();
        let mut out = Vec::with_capacity(kinds);
        for region in &found {
            for numbering in numbered {
                out.push(Member {
                    pod: Pod {
                        namespace: id.namespace.clone(),
                        labels: region.labels.clone(),
                        name: id.to_string(),
                        named_ports: numbering.iter().cloned().collect(),
                    },
                    splits: splitting
                        .iter()
                        .map(|&(i, r)| (r, region.selected.get(i).copied().unwrap_or(false)))
                        .collect(),
                    numbered: numbering.clone(),
                    kinds,
                });
            }
        }
        Ok(out)
    }
}

/// The one pod a `Pod` endpoint is.
fn pod_of(e: &Endpoint) -> Vec<Member> {
    match e {
        Endpoint::Pod(p) => vec![Member::of(p.clone())],
        Endpoint::Service(_) | Endpoint::External(_) => Vec::new(),
    }
}

/// The pod selector of a `pods(…)` peer whose namespaces include `namespace`.
fn pods_in<'p>(program: &Program, peer: &'p Peer, namespace: &str) -> Option<&'p Selector> {
    match peer {
        Peer::Pods(p) if in_scope(program, &p.namespaces, namespace) => Some(&p.pods),
        _ => None,
    }
}

/// The numbers a server pod may give a named port that tell `flows` apart, where the question
/// depends on them. A pod's named ports are its containers': warden does not know their numbers,
/// only that different ports of a service are different ports: a pod gives a named port of the
/// service none of the numbers the service `declared` for its other ports, and other names other
/// numbers than it.
///
/// Asked about a named port, a flow on that name covers every pod, and a flow on numbers the pods
/// that number it within them: one number for each way the flows' ranges of its protocol cover
/// numbers. Asked about a number, a flow on a named port of that protocol (another service's,
/// whose pods these may also be) covers the pods that give that name the number.
fn numberings<'f>(
    port: Option<&Probe>,
    flows: impl Iterator<Item = &'f &'f Flow>,
    declared: &[(String, PortSpec)],
) -> Vec<Option<(String, Port)>> {
    let specs: Vec<&PortSpec> = flows
        .flat_map(|f| match &f.ports {
            Ports::Only(list) => list.as_slice(),
            Ports::All => &[],
        })
        .collect();
    let ranges = |protocol| {
        specs.iter().filter_map(move |spec| match spec {
            PortSpec::Range(r) if r.protocol == protocol => Some(*r),
            _ => None,
        })
    };
    match port {
        None => vec![None],
        Some(Probe::Named(m)) => {
            let own: Vec<PortRange> = declared
                .iter()
                .filter_map(|(name, spec)| match spec {
                    PortSpec::Range(r) if *name != m.name && r.protocol == m.protocol => Some(*r),
                    _ => None,
                })
                .collect();
            let mut starts: BTreeSet<u32> = [1].into();
            for r in ranges(m.protocol).chain(own.iter().copied()) {
                starts.insert(u32::from(r.start));
                starts.insert(u32::from(r.end) + 1);
            }
            // One number for each set of flow ranges that cover it.
            let mut seen: BTreeSet<Vec<bool>> = BTreeSet::new();
            let mut out = Vec::new();
            for number in starts.into_iter().filter_map(|n| u16::try_from(n).ok()) {
                let port = Port {
                    number,
                    protocol: m.protocol,
                };
                if own.iter().any(|r| r.contains(port)) {
                    continue;
                }
                if seen.insert(ranges(m.protocol).map(|r| r.contains(port)).collect()) {
                    out.push(Some((m.name.clone(), port)));
                }
            }
            if out.len() > 1 { out } else { vec![None] }
        }
        Some(Probe::Number(p)) => {
            // A number the service declares for a port is none of its named container ports'.
            let own = declared.iter().any(|(_, spec)| match spec {
                PortSpec::Range(r) => r.contains(*p),
                PortSpec::Named(_) => false,
            });
            let declares_named = |name: &str| {
                declared.iter().any(|(_, spec)| match spec {
                    PortSpec::Named(mine) => mine.name == name,
                    PortSpec::Range(_) => false,
                })
            };
            let names: BTreeSet<&str> = specs
                .iter()
                .filter_map(|spec| match spec {
                    PortSpec::Named(n)
                        if n.protocol == p.protocol && !(own && declares_named(&n.name)) =>
                    {
                        Some(n.name.as_str())
                    }
                    _ => None,
                })
                .collect();
            std::iter::once(None)
                .chain(names.into_iter().map(|n| Some((n.to_string(), *p))))
                .collect()
        }
    }
}

impl Member {
    /// This kind among the endpoint's pods, for messages: "the pods of `reviews` that `reviews-v2`
    /// also selects, e.g. one in namespace `bookinfo` labelled `app=reviews,version=v2`".
    pub fn describe(&self, program: &Program) -> String {
        let name = |r: &ServiceRef| {
            program
                .services
                .at(*r)
                .map_or_else(String::new, |s| format!("`{}`", s.id.name))
        };
        let selector = |r: &ServiceRef| program.services.at(*r).map(|s| &s.selector);
        let also: Vec<ServiceRef> = self.splits.iter().filter(|s| s.1).map(|s| s.0).collect();
        // A service that could not select these pods anyway, given those that do, goes unsaid:
        // "`reviews-v2` also selects", not "… and `reviews-v1` does not".
        let not: Vec<String> = self
            .splits
            .iter()
            .filter(|(r, selects)| {
                !selects
                    && also.iter().all(|a| match (selector(a), selector(r)) {
                        (Some(a), Some(r)) => compatible(a, r),
                        _ => true,
                    })
            })
            .map(|s| name(&s.0))
            .collect();
        let also: Vec<String> = also.iter().map(name).collect();
        let mut which = Vec::new();
        if !also.is_empty() {
            which.push(format!(
                "{} also select{}",
                list(&also),
                if also.len() == 1 { "s" } else { "" }
            ));
        }
        if !not.is_empty() {
            which.push(format!(
                "{} do{} not select",
                list(&not),
                if not.len() == 1 { "es" } else { "" }
            ));
        }
        let service = self.pod.name.rsplit('/').next().unwrap_or_default();
        let mut out = if which.is_empty() {
            format!("some pods of `{service}`")
        } else {
            format!("the pods of `{service}` that {}", which.join(" and "))
        };
        if let Some((port, number)) = &self.numbered {
            out.push_str(&format!(" whose container port `{port}` is {number}"));
        }
        let labels: Vec<String> = self
            .pod
            .labels
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        let namespace = &self.pod.namespace;
        if labels.is_empty() {
            out.push_str(&format!(
                ", e.g. one in namespace `{namespace}` with no labels"
            ));
        } else {
            out.push_str(&format!(
                ", e.g. one in namespace `{namespace}` labelled `{}`",
                labels.join(",")
            ));
        }
        out
    }
}

/// `a`, `a and b`, `a, b and c`.
fn list(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}
