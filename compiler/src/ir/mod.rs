//! The IR: one typed model of the security intent, with every name resolved.
//!
//! `check` builds it from the AST only when the program has no errors; `lower` reads it for each
//! target and the connectivity evaluator answers `expect` from it. Every collection is ordered
//! (`BTreeMap`, sorted `Vec`), so anything derived from the IR is deterministic.

pub mod connectivity;
pub mod regions;

mod admission;
mod compliance;
mod flows;
mod ports;
mod seccomp;
mod selectors;
mod services;

pub use admission::*;
pub use compliance::*;
pub use flows::*;
pub use ports::*;
pub use seccomp::*;
pub use selectors::*;
pub use services::*;

use crate::span::Span;
use ipnet::IpNet;
use std::collections::BTreeMap;

#[derive(Debug, Default)]
pub struct Program {
    pub namespaces: BTreeMap<String, Namespace>,
    pub services: Services,
    /// INVARIANT: sorted and free of exact duplicates (see `Program::normalize`).
    pub flows: Vec<Flow>,
    pub admissions: BTreeMap<String, Admission>,
    pub expects: Vec<Expect>,
    pub dns: Dns,
    /// The `compliance` blocks, by name.
    pub compliance: BTreeMap<String, Compliance>,
}

#[derive(Debug, Clone)]
pub struct Namespace {
    pub name: String,
    /// Labels the namespace carries besides `kubernetes.io/metadata.name`.
    pub labels: BTreeMap<String, String>,
    pub isolate_ingress: bool,
    pub isolate_egress: bool,
    pub allow_dns: bool,
    /// The block's `accept` lines, as the `warden.dev/accepted` annotation says them.
    pub accepted: String,
    pub span: Span,
}

impl Namespace {
    pub fn isolated(&self) -> bool {
        self.isolate_ingress || self.isolate_egress
    }

    /// Whether the namespace isolates egress (`true`) or ingress (`false`).
    pub fn isolates(&self, egress: bool) -> bool {
        if egress {
            self.isolate_egress
        } else {
            self.isolate_ingress
        }
    }
}

/// The label Kubernetes sets on every namespace to its name.
pub const NAME_LABEL: &str = "kubernetes.io/metadata.name";

/// Where `allow dns` sends DNS queries by default: the pods of the cluster DNS.
pub const DNS_NAMESPACE: &str = "kube-system";
pub const DNS_LABELS: [(&str, &str); 1] = [("k8s-app", "kube-dns")];

/// The cluster DNS, as the program's `dns` block (or the default) says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dns {
    pub namespace: String,
    pub pods: Selector,
    /// NodeLocal DNSCache's link-local address, reached as an address outside the cluster.
    pub nodelocal: Option<IpNet>,
}

impl Default for Dns {
    fn default() -> Self {
        Dns {
            namespace: DNS_NAMESPACE.to_string(),
            pods: Selector {
                match_labels: DNS_LABELS
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
                expressions: Vec::new(),
            },
            nodelocal: None,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Endpoint {
    Service(ServiceId),
    /// A pod that need not belong to a declared service (the cluster DNS, a pod no service selects).
    Pod(Pod),
    /// Addresses outside the cluster (`world` is both address families).
    External(Vec<IpNet>),
}

#[derive(Clone, Debug)]
pub struct Expect {
    pub from: Endpoint,
    pub to: Endpoint,
    /// The ports asked about; empty means "any port".
    pub ports: Vec<PortSpec>,
    pub allowed: bool,
    pub span: Span,
    /// The expectation as the user wrote it, for messages.
    pub text: String,
}

impl Expect {
    /// The questions the expectation asks the evaluator: each port of it (`None`: any port).
    pub fn probes(&self) -> Vec<Option<Probe>> {
        if self.ports.is_empty() {
            return vec![None];
        }
        self.ports
            .iter()
            .flat_map(|spec| match spec {
                PortSpec::Range(r) => r.ports().map(Probe::Number).collect::<Vec<_>>(),
                PortSpec::Named(n) => vec![Probe::Named(n.clone())],
            })
            .map(Some)
            .collect()
    }
}

impl Program {
    /// Whether some flow says what only a proxy enforces: a host name or HTTP requests.
    pub fn needs_a_proxy(&self) -> bool {
        self.flows
            .iter()
            .any(|f| matches!(f.server, Peer::Host(_)) || !f.http.is_empty())
    }

    /// The labels a namespace carries, as namespace selectors see them. A namespace the program
    /// does not declare carries only its name.
    pub fn namespace_labels(&self, name: &str) -> BTreeMap<String, String> {
        let mut labels = self
            .namespaces
            .get(name)
            .map(|n| n.labels.clone())
            .unwrap_or_default();
        labels.insert(NAME_LABEL.to_string(), name.to_string());
        labels
    }

    /// Whether `selector` selects the namespace `name`: `namespace_labels` read in place.
    pub fn namespace_selected(&self, selector: &Selector, name: &str) -> bool {
        let labels = self.namespaces.get(name).map(|n| &n.labels);
        selector.matches_by(|k| {
            if k == NAME_LABEL {
                Some(name)
            } else {
                labels.and_then(|l| l.get(k)).map(String::as_str)
            }
        })
    }

    /// Whether the service's pods are isolated in a direction by its namespace or by itself, and so
    /// whether its flows in that direction become rules. A flow's rule exists on the side whose
    /// service isolates; the other side, open, needs none.
    pub fn isolates(&self, id: &ServiceId, egress: bool) -> bool {
        self.services
            .get(id)
            .is_some_and(|s| s.isolates_itself(egress))
            || self.namespace_isolates(&id.namespace, egress)
    }

    /// Whether a namespace of the program isolates a direction; an undeclared one does not.
    pub fn namespace_isolates(&self, name: &str, egress: bool) -> bool {
        self.namespaces
            .get(name)
            .is_some_and(|n| n.isolates(egress))
    }

    /// Brings the flows into their canonical order so that declaration order never matters.
    pub fn normalize(&mut self) {
        // Equal flows are equal in every field, so an unstable sort orders them as a stable one
        // would, without a stable sort's buffer of half the flows.
        self.flows.sort_unstable();
        self.flows.dedup();
    }
}

#[cfg(test)]
mod tests {
    use super::{Expression, NAME_LABEL, Namespace, Operator, Program, Selector};

    /// Every selector of one requirement on the keys a namespace selector reads (its own, the
    /// name label, one it lacks) against declared and undeclared namespaces: reading the labels
    /// in place answers as the map of them does, the name label overriding a declared one.
    #[test]
    fn a_namespace_is_selected_in_place_as_by_its_labels() {
        let mut program = Program::default();
        let labels = [
            vec![("team", "a")],
            vec![("team", "b"), ("tier", "web")],
            vec![(NAME_LABEL, "other")],
            vec![],
        ];
        for (i, labels) in labels.iter().enumerate() {
            let name = format!("ns-{i}");
            program.namespaces.insert(
                name.clone(),
                Namespace {
                    name,
                    labels: labels
                        .iter()
                        .map(|(k, v)| (k.to_string(), v.to_string()))
                        .collect(),
                    isolate_ingress: false,
                    isolate_egress: false,
                    allow_dns: false,
                    accepted: String::new(),
                    span: crate::span::Span::default(),
                },
            );
        }
        let values = ["a", "b", "ns-2", "other", "missing"];
        let mut selectors = vec![Selector::default()];
        for key in ["team", "tier", NAME_LABEL, "absent"] {
            for value in values {
                selectors.push(Selector {
                    match_labels: vec![(key.to_string(), value.to_string())],
                    expressions: Vec::new(),
                });
            }
            for operator in [
                Operator::In,
                Operator::NotIn,
                Operator::Exists,
                Operator::DoesNotExist,
            ] {
                let values = match operator {
                    Operator::In | Operator::NotIn => vec!["a".to_string(), "ns-2".to_string()],
                    Operator::Exists | Operator::DoesNotExist => Vec::new(),
                };
                selectors.push(Selector {
                    match_labels: Vec::new(),
                    expressions: vec![Expression {
                        key: key.to_string(),
                        operator,
                        values,
                    }],
                });
            }
        }
        let mut selected = 0;
        for sel in &selectors {
            for name in ["ns-0", "ns-1", "ns-2", "ns-3", "undeclared"] {
                let expected = sel.matches(&program.namespace_labels(name));
                assert_eq!(
                    program.namespace_selected(sel, name),
                    expected,
                    "{sel:?} on {name}"
                );
                selected += usize::from(expected);
            }
        }
        // Both answers occur, so the comparison is not of two constants.
        assert!(selected > 0 && selected < selectors.len() * 5, "{selected}");
    }
}
