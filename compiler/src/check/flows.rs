//! Flows: `to` and `from` lines, resolved into client, server and ports.
//!
//! ```text
//! to cart, catalog on grpc      // accepted when both declare a port `grpc`
//! to world on http              // E0206: `world` has no named ports
//! ```
//! A flow between two services is one `ir::Flow`; the targets derive both the client's egress and
//! the server's ingress from it.

use super::Checker;
use crate::ast;
use crate::diag::Diagnostic;
use crate::ir::{self, NamespaceScope, Peer, Ports, Selector, ServiceRef};

impl Checker<'_> {
    pub(super) fn check_flows(&mut self, svc: &ast::Service, r: ServiceRef) {
        let Some(namespace) = self.services.at(r).map(|s| s.id.namespace.clone()) else {
            return;
        };
        self.flows_of(&svc.flows, &Peer::Service(r), &namespace);
    }

    /// A namespace's own flows: every pod of it is the client or the server.
    pub(super) fn check_namespace_flows(&mut self, ns: &ast::Namespace) {
        if ns.flows.is_empty() || !self.namespaces.contains_key(&ns.name.text) {
            return;
        }
        self.flows_of(
            &ns.flows,
            &Peer::Namespace(ns.name.text.clone()),
            &ns.name.text,
        );
    }

    /// Resolves the flows declared by `this` (a service or a namespace) in `namespace`.
    fn flows_of(&mut self, flows: &[ast::Flow], this: &Peer, namespace: &str) {
        for flow in flows {
            let mut externals: super::cidrs::Disjoint<crate::span::Span> =
                super::cidrs::Disjoint::new();
            for peer in &flow.peers {
                let resolved = match peer {
                    ast::Peer::Host { name, .. } => self.host(name, flow.direction),
                    _ => self.peer(peer, namespace),
                };
                let Some(resolved) = resolved else {
                    continue;
                };
                for block in resolved.blocks() {
                    if let Some((_, first)) = externals.overlapping(&block.cidr) {
                        self.diags.push(
                            Diagnostic::error("E0304", "overlapping address blocks in one flow")
                                .primary(peer.span(), "overlaps another peer of this flow")
                                .secondary(first, "this one")
                                .help(
                                    "keep one block, and use `except` to cut addresses out of it",
                                ),
                        );
                    } else {
                        externals.insert(block.cidr, peer.span());
                    }
                }
                self.lint_world(flow, peer);
                let (client, server) = match flow.direction {
                    ast::Direction::Egress => (this.clone(), resolved),
                    ast::Direction::Ingress => (resolved, this.clone()),
                };
                let server_ref = match server {
                    Peer::Service(s) => Some(s),
                    _ => None,
                };
                let pods = matches!(server, Peer::Pods(_) | Peer::Namespace(_));
                let Some(ports) = self.flow_ports(flow, server_ref, pods) else {
                    continue;
                };
                let Some(http) = self.http_rules(flow, &ports) else {
                    continue;
                };
                if matches!(server, Peer::Host(_)) {
                    self.host_needs_dns(&client, namespace, peer.span());
                }
                self.program.flows.push(ir::Flow {
                    client,
                    server,
                    ports,
                    http,
                    span: flow.span,
                });
            }
        }
    }

    /// Legal but worth a second look: the whole internet as a peer, on every port or as a
    /// destination at all.
    fn lint_world(&mut self, flow: &ast::Flow, peer: &ast::Peer) {
        let ast::Peer::World(span) = peer else {
            return;
        };
        match flow.direction {
            ast::Direction::Ingress if flow.ports.is_empty() && flow.all_ports.is_none() => {
                self.diags.push(
                    Diagnostic::warning("W0305", "every port is open to the internet")
                        .primary(*span, "`from world` without `on`")
                        .help("name the ports the service serves to the outside: `from world on http`")
                        .note("if every port is meant, say so: `on all ports`"),
                )
            }
            ast::Direction::Egress => self.diags.push(
                Diagnostic::warning("W0306", "egress to every address outside the cluster")
                    .primary(*span, "`to world` allows 0.0.0.0/0 and ::/0")
                    .note("a compromised pod could send data anywhere")
                    .help("name the destinations with `cidr`, if they are known"),
            ),
            ast::Direction::Ingress => {}
        }
    }

    fn peer(&mut self, peer: &ast::Peer, own_namespace: &str) -> Option<Peer> {
        match peer {
            ast::Peer::World(_) => Some(Peer::World),
            // Resolved with the flow's direction, by `host`.
            ast::Peer::Host { .. } => None,
            ast::Peer::Cidr { cidr, except, .. } => {
                self.ip_block(cidr, except).map(|b| Peer::Ip(Box::new(b)))
            }
            ast::Peer::Service(r) => self
                .resolve_service(r, Some(own_namespace))
                .map(Peer::Service),
            ast::Peer::Pods { pods, scope, .. } => {
                let pods = pods
                    .as_ref()
                    .map(|s| self.label_selector(s))
                    .unwrap_or_default();
                let namespaces = match scope {
                    None => NamespaceScope::Name(own_namespace.to_string()),
                    Some(ast::Scope::Namespace(n)) => {
                        if !self.known_namespace(n) {
                            return None;
                        }
                        NamespaceScope::Name(n.text.clone())
                    }
                    Some(ast::Scope::Namespaces(sel)) => NamespaceScope::Labels(
                        sel.as_ref()
                            .map(|s| self.label_selector(s))
                            .unwrap_or_default(),
                    ),
                    Some(ast::Scope::All) => NamespaceScope::Labels(Selector::default()),
                };
                Some(Peer::Pods(Box::new(ir::Pods { namespaces, pods })))
            }
        }
    }

    fn flow_ports(
        &mut self,
        flow: &ast::Flow,
        server: Option<ServiceRef>,
        pods: bool,
    ) -> Option<Ports> {
        if flow.ports.is_empty() {
            return Some(Ports::All);
        }
        let mut ports = Vec::new();
        let mut ok = true;
        for r in &flow.ports {
            match self.port_ref(r, server, pods) {
                Some(p) => ports.push(p),
                None => ok = false,
            }
        }
        ports.sort();
        ports.dedup();
        (ok && !ports.is_empty()).then_some(Ports::Only(ports))
    }
}
