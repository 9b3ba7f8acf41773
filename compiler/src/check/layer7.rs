//! What only some targets say: DNS names as peers and HTTP requests as rules.
//!
//! ```text
//! to host "api.stripe.com" on 443/tcp                     // accepted (target `cilium`)
//! to host "*.s3.amazonaws.com" on 443/tcp                 // accepted: `*` is a wildcard
//! from host "example.com"                                 // E0306: a name is only a destination
//! to catalog on http only GET "/products/.*", POST "/cart" // accepted (target `cilium`)
//! to catalog only FETCH "/("                               // E0307: ports, method, path
//! ```
//! A name is resolved by the cluster's DNS, so a client isolated for egress must be allowed to
//! reach it (E0308). Whether a target can say these at all is `lower::limits`' question.

use super::Checker;
use crate::ast;
use crate::diag::{Diagnostic, did_you_mean};
use crate::ir::{HttpRule, Peer, PortSpec, Ports, Protocol};

/// The methods of HTTP/1.1 (RFC 9110) and PATCH (RFC 5789).
const METHODS: [&str; 9] = [
    "GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH",
];

impl Checker<'_> {
    /// `host "NAME"`: lowercase, without the trailing dot, so that one name compiles one way.
    pub(super) fn host(&mut self, name: &ast::Ident, direction: ast::Direction) -> Option<Peer> {
        if direction == ast::Direction::Ingress {
            self.diags.push(
                Diagnostic::error("E0306", "a host name is only a destination")
                    .primary(name.span, "`from` a DNS name")
                    .note("a name says where connections go; a connection's source is an address, which no DNS answer vouches for")
                    .help("give the sources as `cidr` blocks"),
            );
            return None;
        }
        let text = name.text.trim_end_matches('.').to_ascii_lowercase();
        if let Err(why) = host_problem(&text) {
            self.diags.push(
                Diagnostic::error("E0305", format!("`{}` is not a host name", name.text))
                    .primary(name.span, why)
                    .help("write a DNS name such as `api.example.com`, with `*` for any characters of a label: `*.example.com`"),
            );
            return None;
        }
        Some(Peer::Host(text))
    }

    /// A client that resolves names: where its egress is isolated, DNS must be allowed, or every
    /// lookup of the name times out and the flow never works.
    pub(super) fn host_needs_dns(
        &mut self,
        client: &Peer,
        namespace: &str,
        span: crate::span::Span,
    ) {
        let Some(ns) = self.namespaces.get(namespace) else {
            return;
        };
        // What isolates the client's egress: its namespace, or the service itself.
        let isolated_by = if ns.isolate_egress {
            Some(ns.span)
        } else {
            match client {
                Peer::Service(r) => self
                    .services
                    .at(*r)
                    .filter(|s| s.isolate_egress)
                    .map(|s| s.span),
                _ => None,
            }
        };
        if let Some(isolation) = isolated_by
            && !ns.allow_dns
        {
            self.diags.push(
                Diagnostic::error("E0308", "a host name the client cannot resolve")
                    .primary(span, "this flow names a host")
                    .secondary(isolation, "egress is isolated here")
                    .note("the name is resolved by the cluster DNS, and the addresses it answers are what the flow allows")
                    .help(format!("add `allow dns` to namespace `{namespace}`")),
            );
        }
    }

    /// `only …`: the HTTP requests of a flow, on TCP ports it names.
    pub(super) fn http_rules(&mut self, flow: &ast::Flow, ports: &Ports) -> Option<Vec<HttpRule>> {
        if flow.http.is_empty() {
            return Some(Vec::new());
        }
        let first = flow.http.first().map_or(flow.span, |r| r.span);
        let tcp_only = match ports {
            Ports::All => false,
            Ports::Only(list) => list.iter().all(|p| match p {
                PortSpec::Range(r) => r.protocol == Protocol::Tcp,
                PortSpec::Named(n) => n.protocol == Protocol::Tcp,
            }),
        };
        if !tcp_only {
            self.diags.push(
                Diagnostic::error("E0307", "HTTP rules need the TCP ports they apply to")
                    .primary(first, "`only` without TCP ports")
                    .note("a proxy reads HTTP on the ports the flow names; every port, UDP or SCTP cannot carry its rules")
                    .help("name the port the server speaks HTTP on: `on http only GET \"/\"`"),
            );
            return None;
        }
        // Port 443 (and 8443) carry HTTPS: the proxy sees TLS, not requests, unless it is set up
        // to terminate TLS, and then every other request on the port is refused.
        if let Ports::Only(list) = ports
            && list.iter().any(|p| match p {
                PortSpec::Range(r) => [443, 8443].iter().any(|n| r.start <= *n && *n <= r.end),
                PortSpec::Named(_) => false,
            })
        {
            self.diags.push(
                Diagnostic::warning("W0307", "HTTP rules on an HTTPS port")
                    .primary(first, "the proxy reads these requests only if it terminates TLS")
                    .note("on an encrypted port Cilium's proxy sees TLS, so without TLS interception no request matches and every connection is refused")
                    .help("apply HTTP rules where the server speaks plain HTTP, or configure TLS interception for this flow"),
            );
        }
        let mut rules = Vec::new();
        let mut ok = true;
        for r in &flow.http {
            if let Some(m) = &r.method
                && !METHODS.contains(&m.text.as_str())
            {
                let mut d = Diagnostic::error("E0307", format!("unknown HTTP method `{}`", m.text))
                    .primary(m.span, "not an HTTP method")
                    .note(format!("the methods are {}", METHODS.join(", ")));
                if let Some(hint) = did_you_mean(&m.text, METHODS) {
                    d = d.help(hint);
                }
                self.diags.push(d);
                ok = false;
            }
            if let Some(p) = &r.path {
                if let Err(e) = regex::Regex::new(&p.text) {
                    self.diags.push(
                        Diagnostic::error("E0307", "the path is not a regular expression")
                            .primary(p.span, "does not compile")
                            .note(e.to_string().lines().last().unwrap_or("").trim().to_string())
                            .help("paths are regular expressions matched against the whole path: `/v1/items/.*`"),
                    );
                    ok = false;
                } else if !p.text.starts_with('/') {
                    self.diags.push(
                        Diagnostic::error("E0307", "the path does not start with `/`")
                            .primary(p.span, "no request path matches this")
                            .help(format!("write `/{}`", p.text)),
                    );
                    ok = false;
                }
            }
            rules.push(HttpRule {
                method: r.method.as_ref().map(|m| m.text.clone()),
                path: r.path.as_ref().map(|p| p.text.clone()),
            });
        }
        rules.sort();
        rules.dedup();
        ok.then_some(rules)
    }
}

/// Why `name` (lowercased) is not a DNS name or a wildcard pattern of one, as Cilium takes them.
fn host_problem(name: &str) -> Result<(), &'static str> {
    if name.is_empty() {
        return Err("empty");
    }
    if name.len() > 253 {
        return Err("longer than 253 characters");
    }
    for label in name.split('.') {
        if label.is_empty() {
            return Err("an empty label (`..`, or a dot at the start)");
        }
        if label.len() > 63 {
            return Err("a label longer than 63 characters");
        }
        if !label
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'*')
        {
            return Err("only letters, digits, `-`, `_`, `*` and dots");
        }
    }
    if name == "*" || name.split('.').all(|l| l.chars().all(|c| c == '*')) {
        return Err("matches every name: that is `world`");
    }
    Ok(())
}
