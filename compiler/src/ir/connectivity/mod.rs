//! The connectivity evaluator: may this endpoint open a connection to that one, on this port?
//!
//! It reads the IR only, with the semantics every target must express: a connection is allowed
//! when the client's side allows it (its namespace does not isolate egress, or a flow from a service
//! selecting the client allows it, or `allow dns` and the server is the cluster DNS) and the server's
//! side allows it (likewise for ingress).
//!
//! A service stands for every pod its selector can select, whatever other labels the pod carries,
//! so an answer about a service is an answer about each kind of pod it stands for (`members`): the
//! regions of its selector that the other selectors involved tell apart, and, where the answer
//! depends on it, the number a pod gives a named port. External addresses are sets of IP ranges,
//! so an answer can also be partial: "from 10.0.0.0/8 only".
//! ```text
//! expect reviews -> ratings denied   // fails if any pod `reviews` selects reaches `ratings`
//! expect reviews -> ratings allowed  // holds only if every one does, on every port asked
//! ```

mod addresses;
mod members;
mod pods;

pub use members::Member;

use super::regions::{Candidates, Requirements, TooMany};
use super::{Endpoint, Flow, Peer, Probe, Program, Service, ServiceRef};
use crate::span::Span;
// aHash, keyed at random for each run as SipHash is, and cheaper.
use ahash::HashMap;

/// A generated network policy: where a rule of a flow lives, or what isolates a pod.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PolicyRef {
    /// The policy of a service.
    Service(ServiceRef),
    /// A namespace-wide policy: `default-deny`, `allow-dns` or `namespace-flows`.
    Namespace {
        namespace: String,
        name: &'static str,
    },
}

impl PolicyRef {
    /// The file a target writes the policy to, e.g. `netpol/shop/cart.yaml`.
    pub fn path(&self, program: &Program, target_dir: &str) -> String {
        match self {
            PolicyRef::Service(r) => match program.services.at(*r) {
                Some(s) => format!("{target_dir}/{}/{}.yaml", s.id.namespace, s.id.name),
                None => String::new(),
            },
            PolicyRef::Namespace { namespace, name } => {
                format!("{target_dir}/{namespace}/{name}.yaml")
            }
        }
    }
}

/// What lets a connection through one side.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Grant {
    /// The flow; for the way to the cluster DNS, the namespace that says `allow dns`.
    pub source: Span,
    pub dns: bool,
    /// The client's side (`true`) or the server's.
    pub egress: bool,
    /// The policies that hold its rule.
    pub policies: Vec<PolicyRef>,
}

/// Why a connection is denied: what isolates each side that no rule opens.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Denial {
    /// The policies isolating the client's egress, where that side denies; else empty.
    pub egress: Vec<PolicyRef>,
    /// The policies isolating the server's ingress, where that side denies; else empty.
    pub ingress: Vec<PolicyRef>,
    pub reason: String,
}

/// The answer for one kind of client and one kind of server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// By these grants; none where nothing isolates either side.
    Allowed(Vec<Grant>),
    Denied(Denial),
    /// Some of the external addresses asked about only.
    Partly(Vec<Grant>, Denial),
}

impl Outcome {
    pub fn grants(&self) -> &[Grant] {
        match self {
            Outcome::Allowed(g) | Outcome::Partly(g, _) => g,
            Outcome::Denied(_) => &[],
        }
    }

    pub fn denial(&self) -> Option<&Denial> {
        match self {
            Outcome::Allowed(_) => None,
            Outcome::Denied(d) | Outcome::Partly(_, d) => Some(d),
        }
    }
}

/// One kind of client against one kind of server; `None` is the external addresses asked about.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Case {
    pub client: Option<Member>,
    pub server: Option<Member>,
    pub outcome: Outcome,
}

impl Case {
    /// Which pods the case is about, where an endpoint stands for pods that differ: " for the
    /// pods of `reviews` that `reviews-v2` also selects (e.g. …)"; empty where each side's pods are
    /// alike.
    pub fn whom(&self, program: &Program) -> String {
        let differs = |m: &Option<Member>| {
            m.as_ref()
                .filter(|m| m.kinds > 1)
                .map(|m| m.describe(program))
        };
        match (differs(&self.client), differs(&self.server)) {
            (Some(c), Some(s)) => format!(" from {c} to {s}"),
            (Some(c), None) => format!(" for {c}"),
            (None, Some(s)) => format!(" to {s}"),
            (None, None) => String::new(),
        }
    }
}

/// The answer to a question: a case for every kind of client and server it covers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Answer {
    /// INVARIANT: not empty.
    pub cases: Vec<Case>,
}

impl Answer {
    /// Whether every case is allowed.
    pub fn allowed(&self) -> bool {
        self.cases
            .iter()
            .all(|c| matches!(c.outcome, Outcome::Allowed(_)))
    }

    /// Whether every case is denied.
    pub fn denied(&self) -> bool {
        self.cases
            .iter()
            .all(|c| matches!(c.outcome, Outcome::Denied(_)))
    }

    /// The answer in short.
    pub fn verdict(&self) -> Verdict {
        let mut by: Vec<Span> = self
            .cases
            .iter()
            .flat_map(|c| c.outcome.grants())
            .filter(|g| !g.dns)
            .map(|g| g.source)
            .collect();
        by.sort();
        by.dedup();
        let reason = self
            .cases
            .iter()
            .find_map(|c| c.outcome.denial())
            .map(|d| d.reason.clone());
        match reason {
            None => Verdict::Allowed { by },
            Some(reason) if self.denied() => Verdict::Denied { reason },
            Some(reason) => Verdict::Partial { by, reason },
        }
    }
}

/// Whether connections are allowed, and which declarations say so: an `Answer` in short.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Every pod, address and port asked about is allowed; `by` are the flows that allow it
    /// (empty when nothing is isolated).
    Allowed { by: Vec<Span> },
    /// Nothing asked about is allowed; `reason` says which side isolates.
    Denied { reason: String },
    /// Some of it is allowed, by these flows.
    Partial { by: Vec<Span>, reason: String },
    /// The endpoints stand for more kinds of pod than the evaluator decides for.
    Undecided { reason: String },
}

/// Kinds of pod one endpoint may stand for, and pairs of them one question may cover, before the
/// evaluator gives up rather than answer for a sample.
pub const KINDS: usize = 1024;
pub const PAIRS: usize = 65_536;

/// The program with its flows indexed by the side that holds their rules, and each service with
/// the services of its namespace whose selectors meet its own: a question reads the flows of the
/// services that may select its pods, not every flow of their namespaces.
pub struct Evaluator<'a> {
    program: &'a Program,
    /// By service (`ServiceRef::index`): the flows it opens (its egress rules) and serves (its
    /// ingress rules), in program order.
    opening: Vec<Vec<&'a Flow>>,
    serving: Vec<Vec<&'a Flow>>,
    /// By namespace: the flows of every pod of it (`Peer::Namespace`). Hashed, not ordered:
    /// nothing walks them.
    namespace_opening: HashMap<&'a str, Vec<&'a Flow>>,
    namespace_serving: HashMap<&'a str, Vec<&'a Flow>>,
    /// By service: the other services of its namespace that select some of its pods.
    neighbours: Vec<Vec<ServiceRef>>,
    /// By namespace and label: the services of the namespace whose selectors require that label,
    /// each under the rarest it requires; and by namespace, those that require none. A pod's
    /// candidates are found through its own labels, not among every service of its namespace.
    by_label: HashMap<(&'a str, &'a str, &'a str), Vec<ServiceRef>>,
    unlabelled: HashMap<&'a str, Vec<ServiceRef>>,
}

impl<'a> Evaluator<'a> {
    pub fn new(program: &'a Program) -> Self {
        let services = program.services.len();
        let mut ev = Evaluator {
            program,
            opening: vec![Vec::new(); services],
            serving: vec![Vec::new(); services],
            namespace_opening: HashMap::default(),
            namespace_serving: HashMap::default(),
            neighbours: vec![Vec::new(); services],
            by_label: HashMap::default(),
            unlabelled: HashMap::default(),
        };
        for flow in &program.flows {
            for (by_service, by_namespace, peer) in [
                (&mut ev.opening, &mut ev.namespace_opening, &flow.client),
                (&mut ev.serving, &mut ev.namespace_serving, &flow.server),
            ] {
                match peer {
                    Peer::Service(r) => {
                        if let Some(list) = by_service.get_mut(r.index()) {
                            list.push(flow);
                        }
                    }
                    Peer::Namespace(n) => by_namespace.entry(n.as_str()).or_default().push(flow),
                    _ => {}
                }
            }
        }
        let mut requiring: HashMap<(&str, &str, &str), usize> = HashMap::default();
        for s in program.services.values() {
            for (k, v) in &s.selector.match_labels {
                *requiring.entry((&s.id.namespace, k, v)).or_default() += 1;
            }
        }
        for (r, s) in program.services.iter() {
            let ns = s.id.namespace.as_str();
            let rarest = s
                .selector
                .match_labels
                .iter()
                .map(|(k, v)| (ns, k.as_str(), v.as_str()))
                .min_by_key(|key| (requiring.get(key).copied().unwrap_or(0), *key));
            match rarest {
                Some(key) => ev.by_label.entry(key).or_default().push(r),
                None => ev.unlabelled.entry(ns).or_default().push(r),
            }
        }
        for namespace in program.namespaces.keys() {
            let members: Vec<(ServiceRef, &Service)> =
                program.services.of_namespace(namespace).collect();
            let candidates = Candidates::new(members.iter().map(|(_, s)| &s.selector).collect());
            let requirements: Vec<Requirements<'_>> = members
                .iter()
                .map(|(_, s)| Requirements::of(&s.selector))
                .collect();
            for (i, ((r, _), mine)) in members.iter().zip(&requirements).enumerate() {
                let met: Vec<ServiceRef> = candidates
                    .of(i)
                    .filter(|&j| requirements.get(j).is_some_and(|theirs| mine.meets(theirs)))
                    .filter_map(|j| members.get(j).map(|(other, _)| *other))
                    .collect();
                if let Some(slot) = ev.neighbours.get_mut(r.index()) {
                    let mut met = met;
                    met.sort_unstable();
                    *slot = met;
                }
            }
        }
        ev
    }

    /// The services that may select the pods `e` stands for: a service and those whose selectors
    /// meet its own; for a pod, `pod_candidates`.
    fn candidates(&self, e: &Endpoint) -> Vec<ServiceRef> {
        match e {
            Endpoint::Service(id) => match self.program.services.find(&id.namespace, &id.name) {
                Some(r) => {
                    let mut out = vec![r];
                    out.extend(self.neighbours.get(r.index()).into_iter().flatten());
                    out.sort_unstable();
                    out
                }
                None => Vec::new(),
            },
            Endpoint::Pod(p) => self.pod_candidates(p),
            Endpoint::External(_) => Vec::new(),
        }
    }

    /// The services that may select `pod`: those of its namespace requiring none of its labels
    /// or one it has; every one that selects it is among them.
    fn pod_candidates(&self, pod: &crate::ir::Pod) -> Vec<ServiceRef> {
        let ns = pod.namespace.as_str();
        let mut out: Vec<ServiceRef> = self.unlabelled.get(ns).cloned().unwrap_or_default();
        for (k, v) in &pod.labels {
            if let Some(list) = self.by_label.get(&(ns, k.as_str(), v.as_str())) {
                out.extend(list);
            }
        }
        out.sort_unstable();
        out
    }

    /// The flows whose client (`egress`) or server is one of `services`, or every pod of
    /// `namespace`: the only ones with rules for a pod of it those services may select.
    fn flows_of<'s>(
        &'s self,
        egress: bool,
        services: &'s [ServiceRef],
        namespace: Option<&'s str>,
    ) -> impl Iterator<Item = &'a Flow> + 's {
        let (by_service, by_namespace) = if egress {
            (&self.opening, &self.namespace_opening)
        } else {
            (&self.serving, &self.namespace_serving)
        };
        services
            .iter()
            .filter_map(|r| by_service.get(r.index()))
            .chain(namespace.and_then(|n| by_namespace.get(n)))
            .flatten()
            .copied()
    }

    /// The answer for every kind of pod `from` and `to` stand for. `port` `None` asks about every
    /// port.
    pub fn answer(
        &self,
        from: &Endpoint,
        to: &Endpoint,
        port: Option<&Probe>,
    ) -> Result<Answer, TooMany> {
        let mut cases = Vec::new();
        match (from, to) {
            (Endpoint::External(_), Endpoint::External(_)) => cases.push(Case {
                client: None,
                server: None,
                outcome: Outcome::Denied(Denial {
                    egress: Vec::new(),
                    ingress: Vec::new(),
                    reason: "warden only governs traffic that starts or ends at a service"
                        .to_string(),
                }),
            }),
            (Endpoint::External(nets), dst) => {
                let mine = self.candidates(dst);
                for server in self.servers(dst, &mine, (&[], None), port)? {
                    let outcome = self.external(nets, &server.pod, &mine, port, false);
                    cases.push(Case {
                        client: None,
                        server: Some(server),
                        outcome,
                    });
                }
            }
            (src, Endpoint::External(nets)) => {
                let mine = self.candidates(src);
                for client in self.clients(src, &mine, (&[], None))? {
                    let outcome = self.external(nets, &client.pod, &mine, port, true);
                    cases.push(Case {
                        client: Some(client),
                        server: None,
                        outcome,
                    });
                }
            }
            (src, dst) => {
                let (theirs, mine) = (self.candidates(src), self.candidates(dst));
                let clients = self.clients(src, &theirs, (&mine, members::namespace_of(dst)))?;
                let servers =
                    self.servers(dst, &mine, (&theirs, members::namespace_of(src)), port)?;
                if clients.len().saturating_mul(servers.len()) > PAIRS {
                    return Err(TooMany { limit: PAIRS });
                }
                for client in &clients {
                    for server in &servers {
                        cases.push(Case {
                            client: Some(client.clone()),
                            server: Some(server.clone()),
                            outcome: self.pod_to_pod(
                                (&client.pod, &theirs),
                                (&server.pod, &mine),
                                port,
                            ),
                        });
                    }
                }
            }
        }
        if cases.is_empty() {
            cases.push(Case {
                client: None,
                server: None,
                outcome: Outcome::Denied(Denial {
                    egress: Vec::new(),
                    ingress: Vec::new(),
                    reason: "unknown service".to_string(),
                }),
            });
        }
        Ok(Answer { cases })
    }

    /// What decides `pod`'s side of a connection in one direction (`egress`: as the client):
    /// whether it is isolated that way, and the flows with rules for it there. Two programs that
    /// agree on this for a pod, and on the labels of every namespace, agree on every connection
    /// on that side of it: `warden diff` compares only the pods where they do not.
    pub fn side(&self, pod: &crate::ir::Pod, egress: bool) -> (bool, Vec<&'a Flow>) {
        let candidates = self.pod_candidates(pod);
        let isolated = self.isolated((pod, &candidates), egress);
        let mut flows: Vec<&'a Flow> = self
            .rules((pod, &candidates), egress)
            .into_iter()
            .map(|(f, _)| f)
            .collect();
        flows.sort_unstable();
        flows.dedup();
        (isolated, flows)
    }

    /// Whether a flow's peer takes `pod` (a service selecting it, its namespace, a `pods(…)` peer
    /// whose scope and selector take it); addresses outside the cluster take no pod.
    pub fn takes(&self, peer: &Peer, pod: &crate::ir::Pod) -> bool {
        pods::matches(self.program, peer, pod)
    }

    /// For a pod and a pod or an address outside the cluster, whether each of `ports` is allowed
    /// (as `evaluate` would say `Allowed`), with the services that may select the pods found
    /// once for all the ports. `None` where an endpoint is a service, which stands for pods that
    /// may differ: ask `evaluate`.
    pub fn allowed_on(&self, from: &Endpoint, to: &Endpoint, ports: &[Probe]) -> Option<Vec<bool>> {
        match (from, to) {
            (Endpoint::Pod(client), Endpoint::Pod(server)) => {
                let (theirs, mine) = (self.candidates(from), self.candidates(to));
                let pair = self.pod_pair((client, &theirs), (server, &mine));
                Some(
                    ports
                        .iter()
                        .map(|p| pair.open(Some(p), server) == (true, true))
                        .collect(),
                )
            }
            (Endpoint::Pod(pod), Endpoint::External(nets))
            | (Endpoint::External(nets), Endpoint::Pod(pod)) => {
                let egress = matches!(from, Endpoint::Pod(_));
                let mine = self.candidates(if egress { from } else { to });
                Some(self.external_on(nets, pod, &mine, ports, egress))
            }
            _ => None,
        }
    }

    /// The answer in short.
    pub fn evaluate(&self, from: &Endpoint, to: &Endpoint, port: Option<&Probe>) -> Verdict {
        match self.answer(from, to, port) {
            Ok(answer) => answer.verdict(),
            Err(TooMany { limit }) => Verdict::Undecided {
                reason: format!("the endpoints stand for more than {limit} kinds of pod"),
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
