//! Ports: the named ports a service declares and the port references of flows and expectations.
//!
//! ```text
//! port grpc 7070/tcp          to cart on grpc        // accepted: `cart` declares `grpc`
//! port grpc 70700/tcp         to cart on http        // E0203 out of range; E0201 unknown port
//! ```
//! A port may be a range, `port passive 30000-30100/tcp`; a flow names it, or a range inside it.

use super::Checker;
use crate::ast;
use crate::diag::{Diagnostic, did_you_mean};
use crate::ir::{PortRange, Protocol, ServiceId};
use std::collections::BTreeMap;

impl Checker<'_> {
    pub(super) fn port_decls(&mut self, svc: &ast::Service) -> BTreeMap<String, PortRange> {
        let mut ports: BTreeMap<String, PortRange> = BTreeMap::new();
        let mut spans: BTreeMap<String, crate::span::Span> = BTreeMap::new();
        let mut declared: Vec<(PortRange, crate::span::Span)> = Vec::new();
        for decl in &svc.ports {
            let Some(port) =
                self.port_number(&decl.number, decl.end.as_ref(), decl.protocol.as_ref())
            else {
                continue;
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
            let overlap = declared.iter().find(|(p, _)| {
                p.protocol == port.protocol && p.start <= port.end && port.start <= p.end
            });
            if let Some((_, first)) = overlap {
                self.diags.push(
                    Diagnostic::error(
                        "E0205",
                        format!(
                            "port {port} is declared twice in service `{}`",
                            svc.name.text
                        ),
                    )
                    .primary(decl.span, "declared again here")
                    .secondary(*first, "first declared here")
                    .help("one name per port: refer to it by that name"),
                );
                continue;
            }
            spans.insert(decl.name.text.clone(), decl.name.span);
            declared.push((port, decl.span));
            ports.insert(decl.name.text.clone(), port);
        }
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
        let proto = match protocol {
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
        };
        Some(PortRange {
            start: start?,
            end: last?,
            protocol: proto?,
        })
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

    /// Resolves a port reference against the server of a flow: a service must declare the port
    /// (or a range holding it); an external server (`world`, `cidr`) has no names, only numbers.
    pub(super) fn port_ref(
        &mut self,
        r: &ast::PortRef,
        server: Option<&ServiceId>,
    ) -> Option<PortRange> {
        let declared = server
            .and_then(|id| self.services.get(id))
            .map(|s| s.ports.clone());
        match r {
            ast::PortRef::Named(name) => {
                let Some(ports) = declared else {
                    self.diags.push(
                        Diagnostic::error(
                            "E0206",
                            format!("port `{}` has no meaning here", name.text),
                        )
                        .primary(
                            name.span,
                            "the server is not a service of this program, so it has no named ports",
                        )
                        .help("give the port by number, e.g. `on 443/tcp`"),
                    );
                    return None;
                };
                if let Some(port) = ports.get(&name.text) {
                    return Some(*port);
                }
                let server = server.map(|s| s.to_string()).unwrap_or_default();
                let mut d = Diagnostic::error(
                    "E0201",
                    format!("service `{server}` has no port `{}`", name.text),
                )
                .primary(name.span, "unknown port");
                if let Some(hint) = did_you_mean(&name.text, ports.keys().map(String::as_str)) {
                    d = d.help(hint);
                } else if ports.is_empty() {
                    d = d.note(format!("`{server}` declares no ports"));
                } else {
                    let names: Vec<String> = ports.keys().map(|k| format!("`{k}`")).collect();
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
                if let Some(ports) = declared
                    && !ports.values().any(|p| p.includes(&port))
                {
                    let server = server.map(|s| s.to_string()).unwrap_or_default();
                    self.diags.push(
                        Diagnostic::error(
                            "E0202",
                            format!("service `{server}` does not serve port {port}"),
                        )
                        .primary(*span, "the server declares no such port")
                        .help(format!("declare it in `{server}`: `port NAME {port}`")),
                    );
                    return None;
                }
                Some(port)
            }
        }
    }
}
