//! Ports: the named ports a service declares and the port references of flows and expectations.
//!
//! ```text
//! port grpc 7070/tcp          to cart on grpc        // accepted: `cart` declares `grpc`
//! port grpc 70700/tcp         to cart on http        // E0203 out of range; E0201 unknown port
//! port metrics                to api on metrics      // the pods' container port `metrics`
//! ```
//! A port may be a range, `port passive 30000-30100/tcp`; a flow names it, or a range inside it.
//! A port without a number is the pods' container port of that name: policies name it and the
//! cluster resolves it pod by pod, so its name must be one Kubernetes accepts (E0208).

use super::Checker;
use crate::ast;
use crate::diag::{Diagnostic, did_you_mean};
use crate::ir::{NamedPort, PortRange, PortSpec, Protocol, ServiceRef};
use std::collections::BTreeMap;

impl Checker<'_> {
    pub(super) fn port_decls(&mut self, svc: &ast::Service) -> Vec<(String, PortSpec)> {
        let mut ports: Vec<(String, PortSpec)> = Vec::with_capacity(svc.ports.len());
        let mut spans: BTreeMap<String, crate::span::Span> = BTreeMap::new();
        let mut declared: Vec<(PortRange, crate::span::Span)> = Vec::new();
        for decl in &svc.ports {
            let port = match &decl.number {
                Some(number) => {
                    match self.port_number(number, decl.end.as_ref(), decl.protocol.as_ref()) {
                        Some(range) => PortSpec::Range(range),
                        None => continue,
                    }
                }
                None => {
                    let Some(protocol) = self.protocol(decl.protocol.as_ref()) else {
                        continue;
                    };
                    if let Err(why) = container_port_name(&decl.name.text) {
                        self.diags.push(
                            Diagnostic::error(
                                "E0208",
                                format!(
                                    "`{}` cannot name a container port",
                                    decl.name.text
                                ),
                            )
                            .primary(decl.name.span, why)
                            .note("a port without a number is the pods' container port of that name, and Kubernetes names those like IANA services: at most 15 lowercase letters, digits and single inner hyphens, with a letter")
                            .help(format!(
                                "give its number, `port {} NUMBER`, or the name the container spec uses",
                                decl.name.text
                            )),
                        );
                        continue;
                    }
                    PortSpec::Named(NamedPort {
                        name: decl.name.text.clone(),
                        protocol,
                    })
                }
            };
            if let Some(first) = spans.get(&decl.name.text) {
                self.diags.push(
                    Diagnostic::error(
                        "E0205",
                        format!(
                            "port `{}` is declared twice in service `{}`",
                            decl.name.text, svc.name.text
                        ),
                    )
                    .primary(decl.name.span, "declared again here")
                    .secondary(*first, "first declared here"),
                );
                continue;
            }
            if let PortSpec::Range(range) = &port {
                let overlap = declared.iter().find(|(p, _)| {
                    p.protocol == range.protocol && p.start <= range.end && range.start <= p.end
                });
                if let Some((_, first)) = overlap {
                    self.diags.push(
                        Diagnostic::error(
                            "E0205",
                            format!(
                                "port {range} is declared twice in service `{}`",
                                svc.name.text
                            ),
                        )
                        .primary(decl.span, "declared again here")
                        .secondary(*first, "first declared here")
                        .help("one name per port: refer to it by that name"),
                    );
                    continue;
                }
                declared.push((*range, decl.span));
            }
            spans.insert(decl.name.text.clone(), decl.name.span);
            ports.push((decl.name.text.clone(), port));
        }
        // Names are unique: a second declaration of one is E0205 above.
        ports.sort();
        ports
    }

    /// A port or a range of ports with an optional protocol (TCP when omitted).
    pub(super) fn port_number(
        &mut self,
        number: &ast::Ident,
        end: Option<&ast::Ident>,
        protocol: Option<&ast::Ident>,
    ) -> Option<PortRange> {
        let start = self.one_port(number);
        let last = match end {
            Some(e) => self.one_port(e),
            None => start,
        };
        if let (Some(a), Some(b), Some(e)) = (start, last, end)
            && b <= a
        {
            self.diags.push(
                Diagnostic::error(
                    "E0207",
                    format!(
                        "port range `{}-{}` is empty or backwards",
                        number.text, e.text
                    ),
                )
                .primary(e.span, "the last port must be greater than the first")
                .help(if a == b {
                    format!("write `{a}` for one port")
                } else {
                    format!("write `{b}-{a}`")
                }),
            );
            return None;
        }
        let proto = self.protocol(protocol);
        Some(PortRange {
            start: start?,
            end: last?,
            protocol: proto?,
        })
    }

    /// A protocol, TCP when omitted.
    fn protocol(&mut self, protocol: Option<&ast::Ident>) -> Option<Protocol> {
        match protocol {
            None => Some(Protocol::Tcp),
            Some(p) => {
                let parsed = Protocol::parse(&p.text)
                    .or_else(|| Protocol::parse(&p.text.to_ascii_lowercase()));
                if parsed.is_none() {
                    let mut d =
                        Diagnostic::error("E0204", format!("unknown protocol `{}`", p.text))
                            .primary(p.span, "not a protocol NetworkPolicy knows")
                            .note("the protocols are `tcp`, `udp` and `sctp`");
                    if let Some(hint) = did_you_mean(&p.text, ["tcp", "udp", "sctp"]) {
                        d = d.help(hint);
                    }
                    self.diags.push(d);
                }
                parsed
            }
        }
    }

    fn one_port(&mut self, number: &ast::Ident) -> Option<u16> {
        let n = match number.text.parse::<u32>() {
            Ok(n) if (1..=65535).contains(&n) => u16::try_from(n).ok(),
            _ => None,
        };
        if n.is_none() {
            self.diags.push(
                Diagnostic::error(
                    "E0203",
                    format!("port number `{}` is out of range", number.text),
                )
                .primary(number.span, "not between 1 and 65535"),
            );
        }
        n
    }

    /// How messages name the service `server`.
    fn server_name(&self, server: Option<ServiceRef>) -> String {
        server
            .and_then(|r| self.services.at(r))
            .map(|s| s.id.to_string())
            .unwrap_or_default()
    }

    /// Resolves a port reference against the server of a flow: a service must declare the port
    /// (or a range holding it); pods that are no service (`pods(…)`, a namespace) name their
    /// container ports themselves, so a name is theirs, over TCP; an external server (`world`,
    /// `cidr`) has no names, only numbers.
    pub(super) fn port_ref(
        &mut self,
        r: &ast::PortRef,
        server: Option<ServiceRef>,
        pods: bool,
    ) -> Option<PortSpec> {
        match r {
            ast::PortRef::Named(name) => {
                let Some(ports) = declared_ports(&self.services, server) else {
                    if pods {
                        if let Err(why) = container_port_name(&name.text) {
                            self.diags.push(
                                Diagnostic::error(
                                    "E0208",
                                    format!("`{}` cannot name a container port", name.text),
                                )
                                .primary(name.span, why)
                                .note("the server is pods that are no service: the name is their container port's, and Kubernetes names those like IANA services: at most 15 lowercase letters, digits and single inner hyphens, with a letter"),
                            );
                            return None;
                        }
                        return Some(PortSpec::Named(NamedPort {
                            name: name.text.clone(),
                            protocol: Protocol::Tcp,
                        }));
                    }
                    self.diags.push(
                        Diagnostic::error(
                            "E0206",
                            format!("port `{}` has no meaning here", name.text),
                        )
                        .primary(
                            name.span,
                            "the server is outside the cluster, so it has no named ports",
                        )
                        .help("give the port by number, e.g. `on 443/tcp`"),
                    );
                    return None;
                };
                if let Some((_, port)) = ports.iter().find(|(n, _)| *n == name.text) {
                    return Some(port.clone());
                }
                let server = self.server_name(server);
                let mut d = Diagnostic::error(
                    "E0201",
                    format!("service `{server}` has no port `{}`", name.text),
                )
                .primary(name.span, "unknown port");
                if let Some(hint) = did_you_mean(&name.text, ports.iter().map(|(n, _)| n.as_str()))
                {
                    d = d.help(hint);
                } else if ports.is_empty() {
                    d = d.note(format!("`{server}` declares no ports"));
                } else {
                    let names: Vec<String> = ports.iter().map(|(k, _)| format!("`{k}`")).collect();
                    d = d.note(format!("`{server}` declares {}", names.join(", ")));
                }
                self.diags.push(d);
                None
            }
            ast::PortRef::Number {
                number,
                end,
                protocol,
                span,
            } => {
                let port = self.port_number(number, end.as_ref(), protocol.as_ref())?;
                if let Some(ports) = declared_ports(&self.services, server)
                    && !served(ports, &port)
                {
                    let server = self.server_name(server);
                    let mut d = Diagnostic::error(
                        "E0202",
                        format!("service `{server}` does not serve port {port}"),
                    )
                    .primary(*span, "the server declares no such port");
                    let named: Vec<String> = ports
                        .iter()
                        .filter(
                            |(_, p)| matches!(p, PortSpec::Named(n) if n.protocol == port.protocol),
                        )
                        .map(|(n, _)| format!("`on {n}`"))
                        .collect();
                    if !named.is_empty() {
                        d = d.note(format!(
                            "if it is a named container port of `{server}`, name it: {}",
                            named.join(", ")
                        ));
                    }
                    self.diags
                        .push(d.help(format!("declare it in `{server}`: `port NAME {port}`")));
                    return None;
                }
                Some(PortSpec::Range(port))
            }
        }
    }
}

/// Whether every port of `port` is one the server declares with a number (a range may span
/// several declared ports). A named container port's number is the pod's to say, so a number
/// never refers to it: the flow names it.
fn served(ports: &[(String, PortSpec)], port: &PortRange) -> bool {
    let mut ranges: Vec<&PortRange> = ports
        .iter()
        .filter_map(|(_, p)| match p {
            PortSpec::Range(r) if r.protocol == port.protocol => Some(r),
            _ => None,
        })
        .collect();
    ranges.sort_by_key(|r| r.start);
    let mut next = u32::from(port.start);
    for r in ranges {
        if u32::from(r.start) <= next && next <= u32::from(r.end) {
            next = u32::from(r.end) + 1;
        }
    }
    next > u32::from(port.end)
}

/// Kubernetes' rule for a container port's name (IANA_SVC_NAME), or why it breaks it. The
/// grammar already starts every name with a letter.
pub fn container_port_name(name: &str) -> Result<(), &'static str> {
    if name.len() > 15 {
        return Err("longer than 15 characters");
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        return Err("only lowercase letters, digits and `-`");
    }
    if name.starts_with('-') || name.ends_with('-') || name.contains("--") {
        return Err("no `-` at either end and no `--`");
    }
    Ok(())
}

/// The ports `server` declares, borrowed from the services rather than copied for every
/// reference to them (the checker pushes diagnostics beside the borrow).
fn declared_ports(
    services: &crate::ir::Services,
    server: Option<ServiceRef>,
) -> Option<&[(String, PortSpec)]> {
    server
        .and_then(|r| services.at(r))
        .map(|s| s.ports.as_slice())
}
