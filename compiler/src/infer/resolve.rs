//! What a workload is given, resolved: the Service a host names, the pod port behind a Service
//! port, and the flows and warnings each reference adds to the draft.

use super::names::protocol;
use super::render::sanitize;
use super::{FlowEvidence, Inference, Peer, PortDecl, Said, refs};
use crate::diag::Diagnostic;
use crate::manifests::objects::{Service, ServicePort, TargetPort};
use refs::Reference;
use std::collections::BTreeSet;

impl<'m> Inference<'m> {
    /// The pod port a Service port leads to on a service's pods, declaring it there if the
    /// containers do not.
    pub(super) fn pod_port(&mut self, server: usize, s: &Service, sp: &ServicePort) -> Option<u16> {
        let proto = protocol(&sp.protocol);
        let svc = self.services.get(server)?;
        let number = match &sp.target {
            TargetPort::Number(n) => *n,
            TargetPort::Name(name) => {
                let found = svc
                    .workload
                    .containers
                    .iter()
                    .filter(|c| !c.init)
                    .flat_map(|c| &c.ports)
                    .find(|p| p.name.as_deref() == Some(name.as_str()))
                    .map(|p| p.number);
                let key = || {
                    format!(
                        "target {} {} {name} {}",
                        svc.namespace, s.meta.name, svc.name
                    )
                };
                if found.is_none() && !self.warned.contains(&key()) {
                    let d = Diagnostic::warning(
                        "W1202",
                        format!(
                            "Service `{}` targets the port named `{name}`, which no container of `{}` has",
                            s.meta.name, svc.name
                        ),
                    )
                    .primary(self.m.span(&sp.at), "this port");
                    self.warn(key(), d);
                }
                found?
            }
        };
        // Built once: a Service is named by every client of it.
        let key = || {
            format!(
                "port {} {} {}",
                self.ns(&s.meta.namespace),
                s.meta.name,
                sp.port
            )
        };
        if sp.port != number && !self.warned.contains(&key()) {
            let d = Diagnostic::warning(
                "W1203",
                format!(
                    "Service `{}` port {} leads to pod port {number}: flows are to {number}",
                    s.meta.name, sp.port
                ),
            )
            .primary(self.m.span(&sp.at), "the Service port and its targetPort")
            .note("NetworkPolicies match the pod's port, not the Service's: a policy on the Service port would let nothing through");
            self.warn(key(), d);
        }
        let key = (proto.clone(), number);
        if self.services.get(server)?.ports.contains_key(&key) {
            return Some(number);
        }
        let evidence = format!(
            "{} Service {} port {} targets {number}",
            self.loc(&sp.at),
            s.meta.name,
            sp.port
        );
        let svc = self.services.get_mut(server)?;
        let name = sp
            .name
            .clone()
            .filter(|n| crate::check::ports::container_port_name(n).is_ok())
            .filter(|n| !svc.ports.values().any(|p| &p.name == n))
            .unwrap_or_else(|| format!("{proto}-{number}"));
        svc.ports.insert(
            key,
            PortDecl {
                name,
                evidence: [evidence].into(),
            },
        );
        Some(number)
    }

    /// Which Service a host names from `namespace`, or why none.
    fn resolve(&self, host: &str, namespace: &str) -> Resolved<'m> {
        let labels: Vec<&str> = host.split('.').collect();
        let (svc, ns, internal) = match labels.as_slice() {
            [svc] => (*svc, namespace.to_string(), true),
            [svc, ns] => (*svc, (*ns).to_string(), self.namespaces.contains(*ns)),
            [svc, ns, "svc", ..] => (*svc, (*ns).to_string(), true),
            _ => ("", String::new(), false),
        };
        if let Some(s) = self.k8s.get(&(ns.clone(), svc.to_string())) {
            return Resolved::Service(s);
        }
        if internal {
            return Resolved::Unknown;
        }
        if host.parse::<std::net::IpAddr>().is_ok() {
            return Resolved::Ip;
        }
        let tld_alpha = labels
            .last()
            .is_some_and(|l| l.chars().all(|c| c.is_ascii_alphabetic()));
        if labels.len() >= 2 && tld_alpha && refs::dns_name(host) {
            Resolved::External
        } else {
            Resolved::Unknown
        }
    }

    /// What reference `r`, in a value `client` is given, adds: read only, so worked out for
    /// every client at once; `merge` applies it in the clients' order.
    pub(super) fn steps(
        &self,
        client: usize,
        namespace: &str,
        said: &Said,
        r: &Reference,
        evidence: &str,
    ) -> Vec<Step<'m>> {
        match self.resolve(&r.host, namespace) {
            Resolved::Service(s) => {
                let servers = self.selected(s);
                if servers.is_empty() {
                    let d = Diagnostic::warning(
                        "W1204",
                        format!(
                            "Service `{}` selects no workload of the manifests: no flow for `{}`",
                            s.meta.name, r.host
                        ),
                    )
                    .primary(self.m.span(&said.at), "named here")
                    .secondary(self.m.span(&s.meta.at), "the Service");
                    let key = format!("empty {} {}", self.ns(&s.meta.namespace), s.meta.name);
                    return vec![Step::Warn(key, d)];
                }
                let mut steps = Vec::new();
                let ports: Vec<&'m ServicePort> = match r.port {
                    Some(p) => s.ports.iter().filter(|sp| sp.port == p).collect(),
                    None => {
                        let by_scheme: Vec<&ServicePort> = r
                            .scheme
                            .as_deref()
                            .and_then(refs::default_port)
                            .map(|d| s.ports.iter().filter(|sp| sp.port == d).collect())
                            .unwrap_or_default();
                        if !by_scheme.is_empty() {
                            by_scheme
                        } else {
                            if s.ports.len() > 1 {
                                let d = Diagnostic::warning(
                                    "W1205",
                                    format!(
                                        "`{}` names Service `{}` without a port: a flow to each of its {} ports",
                                        r.host,
                                        s.meta.name,
                                        s.ports.len()
                                    ),
                                )
                                .primary(self.m.span(&said.at), "named here")
                                .help("keep the ports the client calls");
                                steps.push(Step::Warn(
                                    format!("ports {:?} {}", said.at, s.meta.name),
                                    d,
                                ));
                            }
                            s.ports.iter().collect()
                        }
                    }
                };
                if ports.is_empty() {
                    let d = Diagnostic::warning(
                        "W1202",
                        format!(
                            "`{}:{}` names a port Service `{}` does not have: no flow",
                            r.host,
                            r.port.unwrap_or_default(),
                            s.meta.name
                        ),
                    )
                    .primary(self.m.span(&said.at), "named here")
                    .secondary(self.m.span(&s.meta.at), "the Service");
                    steps.push(Step::Warn(format!("noport {:?} {}", said.at, r.host), d));
                    return steps;
                }
                let said_text = format!(
                    "{evidence}{}",
                    said.shared
                        .as_ref()
                        .map(|(cm, n)| format!(" (ConfigMap {cm} is shared by {n} workloads)"))
                        .unwrap_or_default()
                );
                steps.push(Step::Served {
                    servers: servers
                        .into_iter()
                        .filter(|&server| server != client)
                        .collect(),
                    service: s,
                    ports,
                    weak: said.shared.is_some(),
                    said: said_text,
                });
                steps
            }
            Resolved::External | Resolved::Ip => {
                let port = r
                    .port
                    .or_else(|| r.scheme.as_deref().and_then(refs::default_port));
                let peer = if r.host.parse::<std::net::IpAddr>().is_ok() {
                    Peer::Ip(r.host.clone())
                } else {
                    Peer::Host(r.host.clone())
                };
                vec![Step::Flow {
                    peer,
                    port,
                    weak: said.shared.is_some(),
                    said: evidence.to_string(),
                }]
            }
            Resolved::Unknown => {
                // A word that may be a name by chance is not worth a warning; a host with a port,
                // a URL or an address-like variable is.
                if r.bare && !r.host.contains('.') && !address_like(&said.what) {
                    return Vec::new();
                }
                if !refs::dns_name(&r.host) {
                    return Vec::new();
                }
                let d = Diagnostic::warning(
                    "W1202",
                    format!(
                        "`{}` names no Service of the manifests: no flow",
                        r.host
                    ),
                )
                .primary(self.m.span(&said.at), sanitize(&said.what))
                .help("if the service runs elsewhere, add its manifests; if it is optional, leave it out");
                vec![Step::Warn(format!("unknown {:?} {}", said.at, r.host), d)]
            }
        }
    }

    /// Adds what one of `client`'s references found: its flows, and its warnings not given yet.
    pub(super) fn merge(&mut self, client: usize, step: Step<'m>) {
        match step {
            Step::Warn(key, d) => self.warn(key, d),
            Step::Served {
                servers,
                service,
                ports,
                weak,
                said,
            } => {
                for server in servers {
                    for sp in &ports {
                        let Some(number) = self.pod_port(server, service, sp) else {
                            continue;
                        };
                        let key = (
                            client,
                            Peer::Service(server),
                            protocol(&sp.protocol),
                            Some(number),
                        );
                        self.flow(key, weak, &said);
                    }
                }
            }
            Step::Flow {
                peer,
                port,
                weak,
                said,
            } => self.flow((client, peer, "tcp".to_string(), port), weak, &said),
        }
    }

    fn flow(&mut self, key: (usize, Peer, String, Option<u16>), weak: bool, said: &str) {
        let e = self.flows.entry(key).or_insert_with(|| FlowEvidence {
            said: BTreeSet::new(),
            weak: true,
        });
        e.weak &= weak;
        if !e.said.contains(said) {
            e.said.insert(said.to_string());
        }
    }
}

/// What a reference adds to the draft (`Inference::steps`).
pub(super) enum Step<'m> {
    /// A warning, given once for its key.
    Warn(String, Diagnostic),
    /// Flows to the pod ports behind `ports` of `service` on each of `servers`.
    Served {
        servers: Vec<usize>,
        service: &'m Service,
        ports: Vec<&'m ServicePort>,
        /// Whether the value came through a ConfigMap other workloads read.
        weak: bool,
        said: String,
    },
    /// A flow outside the cluster.
    Flow {
        peer: Peer,
        port: Option<u16>,
        weak: bool,
        said: String,
    },
}

enum Resolved<'m> {
    Service(&'m Service),
    External,
    Ip,
    Unknown,
}

/// Whether an environment variable's name says it holds an address.
fn address_like(what: &str) -> bool {
    let name = what
        .strip_prefix("env ")
        .and_then(|w| w.split(['=', ' ']).next())
        .unwrap_or_default();
    [
        "ADDR", "HOST", "URL", "URI", "ENDPOINT", "SERVICE", "SERVER", "DSN",
    ]
    .iter()
    .any(|s| name.contains(s))
}
