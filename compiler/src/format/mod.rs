//! Formatting: an AST back to source text, in the canonical layout (one item per line, two spaces
//! of indentation, items of a block in a fixed order, strings quoted with the four escapes).
//!
//! Parsing the text gives the same AST but for spans: the structure-aware fuzz target checks that
//! for generated programs. Comments are not in the AST, so this is no formatter for files people
//! keep (that is `source`, `warden fmt`); it prints what the parser understood.
//! ```text
//! namespace shop{isolate labels team=ops}   // parsed
//! namespace shop {                          // printed
//! ```

pub mod source;

use crate::ast::*;
use std::fmt::Write as _;

/// The canonical text of `file`.
pub fn file(file: &File) -> String {
    let mut p = Printer::default();
    for ns in &file.namespaces {
        p.namespace(ns);
    }
    for dns in &file.dns {
        p.dns(dns);
    }
    for svc in &file.services {
        p.service(svc);
    }
    for c in &file.compliance {
        p.compliance(c);
    }
    for adm in &file.admissions {
        p.admission(adm);
    }
    for exp in &file.expects {
        p.expect(exp);
    }
    p.out
}

/// A string literal: the text in double quotes with `"`, `\`, line feeds and tabs escaped, the
/// only escapes the grammar knows.
pub fn quote(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[derive(Default)]
struct Printer {
    out: String,
}

fn join<T>(items: &[T], show: impl Fn(&T) -> String) -> String {
    items.iter().map(show).collect::<Vec<_>>().join(", ")
}

fn text(ident: &Ident) -> String {
    ident.text.clone()
}

fn quoted(ident: &Ident) -> String {
    quote(&ident.text)
}

fn isolate(dir: Option<Direction>) -> &'static str {
    match dir {
        None => "isolate",
        Some(Direction::Ingress) => "isolate ingress",
        Some(Direction::Egress) => "isolate egress",
    }
}

fn label(l: &Label) -> String {
    format!("{} = {}", l.key.text, quote(&l.value.text))
}

fn selector(sel: &Selector) -> String {
    join(&sel.requirements, |r| match r {
        Requirement::Equals(l) => label(l),
        Requirement::In { key, values } => format!("{} in ({})", key.text, join(values, quoted)),
        Requirement::NotIn { key, values } => {
            format!("{} notin ({})", key.text, join(values, quoted))
        }
        Requirement::Exists(key) => key.text.clone(),
        Requirement::DoesNotExist(key) => format!("!{}", key.text),
    })
}

fn optional_selector(sel: Option<&Selector>) -> String {
    sel.map(selector).unwrap_or_default()
}

fn service_ref(r: &ServiceRef) -> String {
    match &r.namespace {
        Some(ns) => format!("{}/{}", ns.text, r.name.text),
        None => r.name.text.clone(),
    }
}

fn numbers(number: &Ident, end: Option<&Ident>, protocol: Option<&Ident>) -> String {
    let mut out = number.text.clone();
    if let Some(end) = end {
        let _ = write!(out, "-{}", end.text);
    }
    if let Some(protocol) = protocol {
        let _ = write!(out, "/{}", protocol.text);
    }
    out
}

fn port_ref(port: &PortRef) -> String {
    match port {
        PortRef::Named(name) => name.text.clone(),
        PortRef::Number {
            number,
            end,
            protocol,
            ..
        } => numbers(number, end.as_ref(), protocol.as_ref()),
    }
}

fn peer(peer: &Peer) -> String {
    match peer {
        Peer::World(_) => "world".to_string(),
        Peer::Cidr { cidr, except, .. } if except.is_empty() => format!("cidr {}", cidr.text),
        Peer::Cidr { cidr, except, .. } => {
            format!("cidr {} except {}", cidr.text, join(except, text))
        }
        Peer::Service(r) => service_ref(r),
        Peer::Host { name, .. } => format!("host {}", quote(&name.text)),
        Peer::Pods { pods, scope, .. } => {
            let pods = format!("pods({})", optional_selector(pods.as_ref()));
            match scope {
                None => pods,
                Some(Scope::All) => format!("{pods} in all namespaces"),
                Some(Scope::Namespace(ns)) => format!("{pods} in namespace {}", ns.text),
                Some(Scope::Namespaces(sel)) => {
                    format!("{pods} in namespaces({})", optional_selector(sel.as_ref()))
                }
            }
        }
    }
}

fn flow(flow: &Flow) -> String {
    let mut out = match flow.direction {
        Direction::Egress => "to ",
        Direction::Ingress => "from ",
    }
    .to_string();
    out.push_str(&join(&flow.peers, peer));
    if flow.all_ports.is_some() {
        out.push_str(" on all ports");
    } else if !flow.ports.is_empty() {
        let _ = write!(out, " on {}", join(&flow.ports, port_ref));
    }
    if !flow.http.is_empty() {
        let rules = join(&flow.http, |r| match (&r.method, &r.path) {
            (Some(m), Some(p)) => format!("{} {}", m.text, quote(&p.text)),
            (Some(m), None) => m.text.clone(),
            (None, Some(p)) => quote(&p.text),
            (None, None) => String::new(),
        });
        let _ = write!(out, " only {rules}");
    }
    out
}

fn action(action: &SyscallAction) -> String {
    match action {
        SyscallAction::Allow => "allow".to_string(),
        SyscallAction::Deny => "deny".to_string(),
        SyscallAction::Errno(name) => format!("errno {}", name.text),
        SyscallAction::KillProcess => "kill-process".to_string(),
        SyscallAction::KillThread => "kill-thread".to_string(),
        SyscallAction::Log => "log".to_string(),
        SyscallAction::Trace => "trace".to_string(),
        SyscallAction::Notify => "notify".to_string(),
    }
}

fn condition(c: &ArgCondition) -> String {
    let values = if c.op.text == "in" {
        format!("({})", join(&c.values, text))
    } else {
        c.values
            .iter()
            .map(|v| v.text.as_str())
            .collect::<Vec<_>>()
            .join(" | ")
    };
    format!("{} {} {}", c.arg.text, c.op.text, values)
}

fn admission_scope(scope: &AdmissionScope) -> String {
    match scope {
        AdmissionScope::All => "all namespaces".to_string(),
        AdmissionScope::Labels(sel) => format!("namespaces({})", optional_selector(sel.as_ref())),
        AdmissionScope::Names(names) => format!("namespace {}", join(names, text)),
    }
}

fn endpoint(e: &Endpoint) -> String {
    match e {
        Endpoint::World(_) => "world".to_string(),
        Endpoint::Cidr(c) => format!("cidr {}", c.text),
        Endpoint::Service(r) => service_ref(r),
    }
}

impl Printer {
    fn line(&mut self, indent: usize, text: &str) {
        for _ in 0..indent {
            self.out.push_str("  ");
        }
        self.out.push_str(text);
        self.out.push('\n');
    }

    /// A line of `keyword a, b, c`, if there is anything to list.
    fn list(&mut self, keyword: &str, items: &[Ident], show: fn(&Ident) -> String) {
        if !items.is_empty() {
            self.line(1, &format!("{keyword} {}", join(items, show)));
        }
    }

    fn namespace(&mut self, ns: &Namespace) {
        self.line(0, &format!("namespace {} {{", ns.name.text));
        for (dir, _) in &ns.isolate {
            self.line(1, isolate(*dir));
        }
        for _ in &ns.allow_dns {
            self.line(1, "allow dns");
        }
        if !ns.labels.is_empty() {
            self.line(1, &format!("labels {}", join(&ns.labels, label)));
        }
        for f in &ns.flows {
            self.line(1, &flow(f));
        }
        self.accepts(&ns.accepts);
        self.line(0, "}");
    }

    fn dns(&mut self, dns: &Dns) {
        self.line(0, "dns {");
        if let Some(ns) = &dns.namespace {
            self.line(1, &format!("namespace {}", ns.text));
        }
        if let Some(pods) = &dns.pods {
            self.line(1, &format!("pods {}", selector(pods)));
        }
        if let Some(ip) = &dns.nodelocal {
            self.line(1, &format!("nodelocal {}", ip.text));
        }
        self.line(0, "}");
    }

    fn service(&mut self, svc: &Service) {
        self.line(
            0,
            &format!("service {} in {} {{", svc.name.text, svc.namespace.text),
        );
        for sel in &svc.pods {
            self.line(1, &format!("pods {}", selector(sel)));
        }
        for port in &svc.ports {
            let mut line = format!("port {}", port.name.text);
            match &port.number {
                Some(n) => {
                    let _ = write!(
                        line,
                        " {}",
                        numbers(n, port.end.as_ref(), port.protocol.as_ref())
                    );
                }
                None => {
                    if let Some(p) = &port.protocol {
                        let _ = write!(line, "/{}", p.text);
                    }
                }
            }
            self.line(1, &line);
        }
        for (dir, _) in &svc.isolate {
            self.line(1, isolate(*dir));
        }
        if !svc.overlaps.is_empty() {
            self.line(1, &format!("overlaps {}", join(&svc.overlaps, text)));
        }
        for f in &svc.flows {
            self.line(1, &flow(f));
        }
        for block in &svc.syscalls {
            self.line(1, "syscalls {");
            for base in &block.base {
                self.line(2, &format!("base {}", base.text));
            }
            for (a, _) in &block.default {
                self.line(2, &format!("default {}", action(a)));
            }
            for rule in &block.rules {
                let mut line = action(&rule.action);
                if rule.groups {
                    line.push_str(" group");
                }
                let _ = write!(line, " {}", join(&rule.names, text));
                if !rule.conditions.is_empty() {
                    let conditions: Vec<String> = rule.conditions.iter().map(condition).collect();
                    let _ = write!(line, " if {}", conditions.join(" and "));
                }
                self.line(2, &line);
            }
            self.line(1, "}");
        }
        self.accepts(&svc.accepts);
        self.line(0, "}");
    }

    fn admission(&mut self, adm: &Admission) {
        self.line(0, &format!("admission {} {{", adm.name.text));
        for (scope, _) in &adm.applies {
            self.line(
                1,
                &format!("applies to workloads in {}", admission_scope(scope)),
            );
        }
        for (scope, _) in &adm.except {
            self.line(1, &format!("except {}", admission_scope(scope)));
        }
        self.list("forbid", &adm.forbid, text);
        self.list("require", &adm.require, text);
        self.list("require labels", &adm.require_labels, text);
        self.list("require annotations", &adm.require_annotations, text);
        self.list("images from", &adm.images, quoted);
        for mode in &adm.modes {
            self.line(1, &format!("mode {}", mode.text));
        }
        for (level, version, _) in &adm.pod_security {
            match version {
                Some(v) => self.line(
                    1,
                    &format!("pod-security {} version {}", level.text, v.text),
                ),
                None => self.line(1, &format!("pod-security {}", level.text)),
            }
        }
        for (check, reason, terms) in &adm.exempt {
            self.line(
                1,
                &format!(
                    "exempt {} {}{}",
                    check.text,
                    quote(&reason.text),
                    terms_text(terms)
                ),
            );
        }
        for (patterns, reason, terms) in &adm.exempt_images {
            self.line(
                1,
                &format!(
                    "exempt images {} because {}{}",
                    join(patterns, quoted),
                    quote(&reason.text),
                    terms_text(terms)
                ),
            );
        }
        self.list("forbid host-paths", &adm.forbid_host_paths, quoted);
        self.list("allow capabilities", &adm.allow_capabilities, text);
        self.list("allow volumes", &adm.allow_volumes, text);
        for (field, ranges, _) in &adm.ids {
            let values = match ranges {
                None => "non-root".to_string(),
                Some(ranges) => join(ranges, text),
            };
            self.line(1, &format!("{} {values}", field.text));
        }
        for (expression, message) in &adm.cel {
            self.line(
                1,
                &format!(
                    "require cel {} message {}",
                    quote(&expression.text),
                    quote(&message.text)
                ),
            );
        }
        self.accepts(&adm.accepts);
        self.line(0, "}");
    }

    fn compliance(&mut self, c: &Compliance) {
        self.line(0, &format!("compliance {} {{", c.name.text));
        self.list("framework", &c.frameworks, text);
        for (scope, _) in &c.applies {
            self.line(1, &format!("applies to {}", admission_scope(scope)));
        }
        for (scope, _) in &c.except {
            self.line(1, &format!("except {}", admission_scope(scope)));
        }
        for w in &c.waivers {
            self.line(
                1,
                &format!(
                    "waive {} {} owner {} until {} because {}",
                    w.framework.text,
                    w.control.text,
                    quote(&w.owner.text),
                    w.until.text,
                    quote(&w.reason.text)
                ),
            );
        }
        self.line(0, "}");
    }

    fn accepts(&mut self, accepts: &[Accept]) {
        for a in accepts {
            self.line(
                1,
                &format!("accept {} {}", a.code.text, quote(&a.reason.text)),
            );
        }
    }

    fn expect(&mut self, exp: &Expect) {
        let mut line = format!("expect {} -> {}", endpoint(&exp.from), endpoint(&exp.to));
        if let Some(port) = &exp.port {
            let _ = write!(line, " on {}", port_ref(port));
        }
        line.push_str(if exp.allowed { " allowed" } else { " denied" });
        self.line(0, &line);
    }
}

/// ` owner "…" until DATE`, as much of it as the line has.
fn terms_text(terms: &Terms) -> String {
    let mut out = String::new();
    if let Some(owner) = &terms.owner {
        let _ = write!(out, " owner {}", quote(&owner.text));
    }
    if let Some(until) = &terms.until {
        let _ = write!(out, " until {}", until.text);
    }
    out
}
