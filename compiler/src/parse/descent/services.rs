//! Services: their pods, ports and flows, and the peers and ports flows name.

use super::{Parser, Rule, is_ident_char, is_upper, run};
use crate::ast::*;

impl Parser<'_> {
    // ------------------------------------------------------------ services

    pub(super) fn service_decl(&mut self) -> Option<Service> {
        self.rule(Rule::service_decl, |p| {
            let start = p.pos;
            p.kw("service")?;
            p.skip();
            let name = p.ident()?;
            p.skip();
            p.kw("in")?;
            p.skip();
            let namespace = p.ident()?;
            p.skip();
            let mut pods = Vec::new();
            let mut ports = Vec::new();
            let mut flows = Vec::new();
            let mut syscalls = Vec::new();
            let mut isolate = Vec::new();
            let mut overlaps = Vec::new();
            let mut accepts = Vec::new();
            p.block(|p| {
                if let Some(sel) = p.pods() {
                    pods.push(sel);
                } else if let Some(port) = p.port_decl() {
                    ports.push(port);
                } else if let Some(flow) = p.flow() {
                    flows.push(flow);
                } else if let Some(s) = p.syscalls() {
                    syscalls.push(s);
                } else if let Some(i) = p.isolate() {
                    isolate.push(i);
                } else if let Some(o) = p.overlaps() {
                    overlaps.extend(o);
                } else {
                    accepts.push(p.accept()?);
                }
                Some(())
            })?;
            // A vector grows to four on its first push, and a service usually declares one
            // `pods` line and one port: the syntax tree of 10,000 services would hold megabytes
            // of slack.
            pods.shrink_to_fit();
            ports.shrink_to_fit();
            flows.shrink_to_fit();
            Some(Service {
                name,
                namespace,
                span: p.span(start),
                pods,
                ports,
                flows,
                syscalls,
                isolate,
                overlaps,
                accepts,
            })
        })
    }

    /// `overlaps = { kw_overlaps ~ ident ~ ("," ~ ident)* }`: the services named.
    pub(super) fn overlaps(&mut self) -> Option<Vec<Ident>> {
        self.rule(Rule::overlaps, |p| {
            p.kw("overlaps")?;
            p.skip();
            p.list(Self::ident)
        })
    }

    /// `pods = { kw_pods ~ selector }`: the selector, spanning the whole line so that
    /// diagnostics about it point at all of it.
    pub(super) fn pods(&mut self) -> Option<Selector> {
        self.rule(Rule::pods, |p| {
            let start = p.pos;
            p.kw("pods")?;
            p.skip();
            let mut sel = p.selector()?;
            sel.span = p.span(start);
            Some(sel)
        })
    }

    /// `selector = { requirement ~ ("," ~ requirement)* }`.
    pub(super) fn selector(&mut self) -> Option<Selector> {
        self.rule(Rule::selector, |p| {
            let start = p.pos;
            let mut requirements = p.list(Self::requirement)?;
            // As for services: most selectors are one label.
            requirements.shrink_to_fit();
            Some(Selector {
                requirements,
                span: p.span(start),
            })
        })
    }

    /// `requirement = _{ label | set_requirement | absent | present }`.
    pub(super) fn requirement(&mut self) -> Option<Requirement> {
        if let Some(l) = self.label() {
            return Some(Requirement::Equals(l));
        }
        if let Some(r) = self.set_requirement() {
            return Some(r);
        }
        if let Some(k) = self.rule(Rule::absent, |p| {
            if !p.lit("!") {
                return None;
            }
            p.skip();
            p.label_key()
        }) {
            return Some(Requirement::DoesNotExist(k));
        }
        self.rule(Rule::present, Self::label_key)
            .map(Requirement::Exists)
    }

    /// `label = { label_key ~ equals ~ label_value }`.
    pub(super) fn label(&mut self) -> Option<Label> {
        self.rule(Rule::label, |p| {
            let key = p.label_key()?;
            p.skip();
            p.punct(Rule::equals, "=")?;
            p.skip();
            let value = p.label_value()?;
            Some(Label { key, value })
        })
    }

    /// `set_requirement = { label_key ~ set_op ~ "(" ~ label_value ~ ("," ~ label_value)* ~ ")" }`.
    pub(super) fn set_requirement(&mut self) -> Option<Requirement> {
        self.rule(Rule::set_requirement, |p| {
            let key = p.label_key()?;
            p.skip();
            let not = p.rule(Rule::set_op, |p| {
                if p.kw("notin").is_some() {
                    Some(true)
                } else {
                    p.kw("in").map(|()| false)
                }
            })?;
            p.skip();
            if !p.lit("(") {
                return None;
            }
            p.skip();
            let values = p.list(Self::label_value)?;
            p.skip();
            if !p.lit(")") {
                return None;
            }
            Some(if not {
                Requirement::NotIn { key, values }
            } else {
                Requirement::In { key, values }
            })
        })
    }

    /// `port_decl = { kw_port ~ ident ~ (number ~ ("-" ~ end_number)?)? ~ ("/" ~ protocol)? }`.
    pub(super) fn port_decl(&mut self) -> Option<PortDecl> {
        self.rule(Rule::port_decl, |p| {
            let start = p.pos;
            p.kw("port")?;
            p.skip();
            let name = p.ident()?;
            p.skip();
            let (number, end) = p
                .opt(|p| {
                    let number = p.number()?;
                    p.skip();
                    let end = p.opt(|p| {
                        if !p.lit("-") {
                            return None;
                        }
                        p.skip();
                        p.end_number()
                    });
                    Some((Some(number), end))
                })
                .unwrap_or((None, None));
            p.skip();
            let protocol = p.opt(|p| {
                if !p.lit("/") {
                    return None;
                }
                p.skip();
                p.protocol()
            });
            Some(PortDecl {
                name,
                number,
                end,
                protocol,
                span: p.span(start),
            })
        })
    }

    /// `flow = { flow_dir ~ peer ~ ("," ~ peer)* ~ (kw_on ~ (all_ports | port_ref ~ ("," ~
    /// port_ref)*))? ~ http_rules? }`.
    pub(super) fn flow(&mut self) -> Option<Flow> {
        self.rule(Rule::flow, |p| {
            let start = p.pos;
            let direction = p.rule(Rule::flow_dir, |p| {
                if p.kw("to").is_some() {
                    Some(Direction::Egress)
                } else {
                    p.kw("from").map(|()| Direction::Ingress)
                }
            })?;
            p.skip();
            let mut peers = p.list(Self::peer)?;
            p.skip();
            let (mut ports, all_ports) = p
                .opt(|p| {
                    p.kw("on")?;
                    p.skip();
                    if let Some(all) = p.kw2(Rule::all_ports, "all", "ports") {
                        return Some((Vec::new(), Some(all)));
                    }
                    Some((p.list(Self::port_ref)?, None))
                })
                .unwrap_or_default();
            p.skip();
            let http = p.opt(Self::http_rules).unwrap_or_default();
            // As for services: most flows name one peer and one port.
            peers.shrink_to_fit();
            ports.shrink_to_fit();
            Some(Flow {
                direction,
                peers,
                ports,
                all_ports,
                http,
                span: p.span(start),
            })
        })
    }

    /// `peer = { world | cidr | host | pods_peer | namespace_peer | all_pods | service_ref }`.
    pub(super) fn peer(&mut self) -> Option<Peer> {
        self.rule(Rule::peer, |p| {
            if let Some(s) = p.kw_rule(Rule::world, "world") {
                return Some(Peer::World(s));
            }
            if let Some(c) = p.cidr() {
                return Some(c);
            }
            if let Some(h) = p.rule(Rule::host, |p| {
                let start = p.pos;
                p.kw("host")?;
                p.skip();
                let name = p.string()?;
                Some(Peer::Host {
                    name,
                    span: p.span(start),
                })
            }) {
                return Some(h);
            }
            if let Some(pods) = p.pods_peer() {
                return Some(pods);
            }
            if let Some(ns) = p.rule(Rule::namespace_peer, |p| {
                let start = p.pos;
                let scope = p.namespaces_sel().or_else(|| p.namespace_name())?;
                Some(Peer::Pods {
                    pods: None,
                    scope: Some(scope),
                    span: p.span(start),
                })
            }) {
                return Some(ns);
            }
            if let Some(s) = p.kw2(Rule::all_pods, "all", "pods") {
                return Some(Peer::Pods {
                    pods: None,
                    scope: Some(Scope::All),
                    span: s,
                });
            }
            p.service_ref().map(Peer::Service)
        })
    }

    /// `cidr = { kw_cidr ~ cidr_lit ~ (kw_except ~ cidr_lit ~ ("," ~ cidr_lit)*)? }`.
    pub(super) fn cidr(&mut self) -> Option<Peer> {
        self.rule(Rule::cidr, |p| {
            let start = p.pos;
            p.kw("cidr")?;
            p.skip();
            let cidr = p.cidr_lit()?;
            p.skip();
            let except = p
                .opt(|p| {
                    p.kw("except")?;
                    p.skip();
                    p.list(Self::cidr_lit)
                })
                .unwrap_or_default();
            Some(Peer::Cidr {
                cidr,
                except,
                span: p.span(start),
            })
        })
    }

    /// `pods_peer = { kw_pods ~ "(" ~ selector? ~ ")" ~ (kw_in ~ scope)? }`.
    pub(super) fn pods_peer(&mut self) -> Option<Peer> {
        self.rule(Rule::pods_peer, |p| {
            let start = p.pos;
            p.kw("pods")?;
            p.skip();
            if !p.lit("(") {
                return None;
            }
            p.skip();
            let pods = p.opt(Self::selector);
            p.skip();
            if !p.lit(")") {
                return None;
            }
            p.skip();
            let scope = p.opt(|p| {
                p.kw("in")?;
                p.skip();
                p.rule(Rule::scope, |p| {
                    if p.kw2(Rule::all_namespaces, "all", "namespaces").is_some() {
                        return Some(Scope::All);
                    }
                    p.namespaces_sel().or_else(|| p.namespace_name())
                })
            });
            // `pods()` is every pod: the same as no selector.
            Some(Peer::Pods {
                pods,
                scope,
                span: p.span(start),
            })
        })
    }

    /// `namespaces_sel = { kw_namespaces ~ "(" ~ selector? ~ ")" }`.
    pub(super) fn namespaces_sel(&mut self) -> Option<Scope> {
        self.namespaces_selector().map(Scope::Namespaces)
    }

    pub(super) fn namespaces_selector(&mut self) -> Option<Option<Selector>> {
        self.rule(Rule::namespaces_sel, |p| {
            p.kw("namespaces")?;
            p.skip();
            if !p.lit("(") {
                return None;
            }
            p.skip();
            let sel = p.opt(Self::selector);
            p.skip();
            p.lit(")").then_some(sel)
        })
    }

    /// `namespace_name = { kw_namespace ~ ident }`.
    pub(super) fn namespace_name(&mut self) -> Option<Scope> {
        self.rule(Rule::namespace_name, |p| {
            p.kw("namespace")?;
            p.skip();
            p.ident().map(Scope::Namespace)
        })
    }

    /// `http_rules = { kw_only ~ http_rule ~ ("," ~ http_rule)* }`, with
    /// `http_rule = { http_method ~ string? | string }`.
    pub(super) fn http_rules(&mut self) -> Option<Vec<HttpRule>> {
        self.rule(Rule::http_rules, |p| {
            p.kw("only")?;
            p.skip();
            p.list(|p| {
                p.rule(Rule::http_rule, |p| {
                    let start = p.pos;
                    let (method, path) = match p.http_method() {
                        Some(m) => {
                            p.skip();
                            (Some(m), p.opt(Self::string))
                        }
                        None => (None, Some(p.string()?)),
                    };
                    Some(HttpRule {
                        method,
                        path,
                        span: p.span(start),
                    })
                })
            })
        })
    }

    /// `http_method = @{ ASCII_ALPHA_UPPER+ ~ !ident_char }`.
    pub(super) fn http_method(&mut self) -> Option<Ident> {
        self.atom(Rule::http_method, |r| {
            let n = run(r, is_upper);
            if r.get(n).copied().is_some_and(is_ident_char) {
                0
            } else {
                n
            }
        })
    }

    /// `port_ref = { port_number | ident }`, with
    /// `port_number = ${ number ~ ("-" ~ end_number)? ~ ("/" ~ protocol)? }`.
    pub(super) fn port_ref(&mut self) -> Option<PortRef> {
        self.rule(Rule::port_ref, |p| {
            if let Some(port) = p.rule(Rule::port_number, |p| {
                let start = p.pos;
                let number = p.number()?;
                let end = p.opt(|p| {
                    if !p.lit("-") {
                        return None;
                    }
                    p.end_number()
                });
                let protocol = p.opt(|p| {
                    if !p.lit("/") {
                        return None;
                    }
                    p.protocol()
                });
                Some(PortRef::Number {
                    number,
                    end,
                    protocol,
                    span: p.span(start),
                })
            }) {
                return Some(port);
            }
            p.ident().map(PortRef::Named)
        })
    }
}
