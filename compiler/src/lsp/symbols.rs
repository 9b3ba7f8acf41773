//! Names in the program and where each is declared and used: namespaces, services and the ports
//! services declare. Go to definition and find references read it.

use crate::ast::{self, Endpoint, Peer, PortRef, Scope};
use crate::span::Span;

#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Symbol {
    Namespace(String),
    Service(String, String),
    /// A port a service declares: its namespace, its name, the port's name.
    Port(String, String, String),
}

pub struct Occurrence {
    pub span: Span,
    pub symbol: Symbol,
    pub declaration: bool,
}

/// Every occurrence of a name in `files`.
pub fn index(files: &[ast::File]) -> Vec<Occurrence> {
    let mut out = Vec::new();
    // A bare service name in an `expect` is looked up in every namespace.
    let mut services: Vec<(String, String)> = Vec::new();
    for f in files {
        for s in &f.services {
            services.push((s.namespace.text.clone(), s.name.text.clone()));
        }
    }
    let mut add = |span: Span, symbol: Symbol, declaration: bool| {
        out.push(Occurrence {
            span,
            symbol,
            declaration,
        });
    };
    for f in files {
        for ns in &f.namespaces {
            add(ns.name.span, Symbol::Namespace(ns.name.text.clone()), true);
            for flow in &ns.flows {
                flow_names(&mut add, flow, &ns.name.text, None);
            }
        }
        for svc in &f.services {
            let ns = &svc.namespace.text;
            add(
                svc.name.span,
                Symbol::Service(ns.clone(), svc.name.text.clone()),
                true,
            );
            add(svc.namespace.span, Symbol::Namespace(ns.clone()), false);
            for port in &svc.ports {
                let symbol =
                    Symbol::Port(ns.clone(), svc.name.text.clone(), port.name.text.clone());
                add(port.name.span, symbol, true);
            }
            for other in &svc.overlaps {
                add(
                    other.span,
                    Symbol::Service(ns.clone(), other.text.clone()),
                    false,
                );
            }
            for flow in &svc.flows {
                flow_names(&mut add, flow, ns, Some(&svc.name.text));
            }
        }
        for adm in &f.admissions {
            for (scope, _) in adm.applies.iter().chain(&adm.except) {
                if let ast::AdmissionScope::Names(names) = scope {
                    for n in names {
                        add(n.span, Symbol::Namespace(n.text.clone()), false);
                    }
                }
            }
        }
        for e in &f.expects {
            let resolve = |r: &ast::ServiceRef| -> Option<(String, String)> {
                match &r.namespace {
                    Some(ns) => Some((ns.text.clone(), r.name.text.clone())),
                    None => services.iter().find(|(_, n)| *n == r.name.text).cloned(),
                }
            };
            let mut server = None;
            for end in [&e.from, &e.to] {
                if let Endpoint::Service(r) = end {
                    if let Some(ns) = &r.namespace {
                        add(ns.span, Symbol::Namespace(ns.text.clone()), false);
                    }
                    if let Some((ns, name)) = resolve(r) {
                        add(
                            r.name.span,
                            Symbol::Service(ns.clone(), name.clone()),
                            false,
                        );
                        server = Some((ns, name));
                    }
                }
            }
            if let (Some(PortRef::Named(port)), Some((ns, name))) = (&e.port, server)
                && matches!(e.to, Endpoint::Service(_))
            {
                add(port.span, Symbol::Port(ns, name, port.text.clone()), false);
            }
        }
    }
    out
}

/// The names a flow of `owner` (a service of `namespace`, or the namespace's own pods) uses.
fn flow_names(
    add: &mut impl FnMut(Span, Symbol, bool),
    flow: &ast::Flow,
    namespace: &str,
    owner: Option<&str>,
) {
    let mut servers: Vec<(String, String)> = Vec::new();
    for peer in &flow.peers {
        match peer {
            Peer::Service(r) => {
                let ns = r.namespace.as_ref().map_or(namespace, |n| n.text.as_str());
                if let Some(n) = &r.namespace {
                    add(n.span, Symbol::Namespace(n.text.clone()), false);
                }
                add(
                    r.name.span,
                    Symbol::Service(ns.to_string(), r.name.text.clone()),
                    false,
                );
                servers.push((ns.to_string(), r.name.text.clone()));
            }
            Peer::Pods {
                scope: Some(Scope::Namespace(n)),
                ..
            } => add(n.span, Symbol::Namespace(n.text.clone()), false),
            _ => {}
        }
    }
    // `to X on p`: a port of X; `from X on p`: a port of the service itself.
    let server: Option<(String, String)> = match flow.direction {
        ast::Direction::Egress if servers.len() == 1 => servers.pop(),
        ast::Direction::Ingress => owner.map(|o| (namespace.to_string(), o.to_string())),
        ast::Direction::Egress => None,
    };
    if let Some((ns, name)) = server {
        for port in &flow.ports {
            if let PortRef::Named(p) = port {
                add(
                    p.span,
                    Symbol::Port(ns.clone(), name.clone(), p.text.clone()),
                    false,
                );
            }
        }
    }
}

/// The occurrence at byte `offset` of file `file`.
pub fn at(index: &[Occurrence], file: usize, offset: usize) -> Option<&Occurrence> {
    index
        .iter()
        .find(|o| o.span.file == file && o.span.start <= offset && offset <= o.span.end)
}
