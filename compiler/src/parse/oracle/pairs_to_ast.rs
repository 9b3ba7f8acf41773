//! pest pairs to AST: how warden built its syntax tree while pest was its parser, kept so that the
//! oracle can hold the hand-written parser to the grammar.

use super::Rule;
use crate::ast::*;
use crate::diag::Diagnostic;
use crate::parse::descent::{trim_trailing, unescape};
use crate::span::{FileId, Span};
use pest::iterators::{Pair, Pairs};

struct Ctx {
    file: FileId,
    diags: Vec<Diagnostic>,
}

pub(super) fn file(file: FileId, pairs: Pairs<'_, Rule>) -> (File, Vec<Diagnostic>) {
    let mut cx = Ctx {
        file,
        diags: Vec::new(),
    };
    let mut out = File::default();
    for program in pairs {
        for decl in program.into_inner() {
            match decl.as_rule() {
                Rule::namespace_decl => out.namespaces.push(cx.namespace(decl)),
                Rule::service_decl => out.services.push(cx.service(decl)),
                Rule::admission_decl => out.admissions.push(cx.admission(decl)),
                Rule::expect_decl => out.expects.push(cx.expect(decl)),
                Rule::dns_decl => out.dns.push(cx.dns(decl)),
                Rule::compliance_decl => out.compliance.push(cx.compliance(decl)),
                _ => {}
            }
        }
    }
    (out, cx.diags)
}

impl Ctx {
    /// The span of a pair without the whitespace or comments pest leaves at its end when an
    /// optional tail did not match.
    fn span(&self, pair: &Pair<'_, Rule>) -> Span {
        let s = pair.as_span();
        let text = pair.as_str();
        let trimmed = trim_trailing(text);
        Span::new(self.file, s.start(), s.start() + trimmed.len())
    }

    fn accept(&mut self, pair: Pair<'_, Rule>) -> Accept {
        let span = self.span(&pair);
        let mut code = None;
        let mut reason = None;
        for p in pair.into_inner() {
            match p.as_rule() {
                Rule::ident => code = Some(self.ident(&p)),
                Rule::string => reason = Some(self.value(&p)),
                _ => {}
            }
        }
        let missing = Ident {
            text: String::new(),
            span,
        };
        Accept {
            code: code.unwrap_or_else(|| missing.clone()),
            reason: reason.unwrap_or(missing),
            span,
        }
    }

    fn ident(&self, pair: &Pair<'_, Rule>) -> Ident {
        Ident {
            text: pair.as_str().to_string(),
            span: self.span(pair),
        }
    }

    /// A label value or other scalar: strings are unescaped, bare words taken as written.
    fn value(&mut self, pair: &Pair<'_, Rule>) -> Ident {
        if pair.as_rule() != Rule::string {
            return self.ident(pair);
        }
        unescape(self.span(pair), pair.as_str(), &mut self.diags)
    }

    /// `isolate [ingress|egress]`: the direction, `None` for both.
    fn isolate(&mut self, pair: Pair<'_, Rule>) -> (Option<Direction>, Span) {
        let span = self.span(&pair);
        let dir = pair
            .into_inner()
            .find(|d| d.as_rule() == Rule::direction)
            .map(|d| direction(d.as_str()));
        (dir, span)
    }

    /// The `owner` and `until` of an exemption line.
    fn terms(&mut self, pair: &Pair<'_, Rule>) -> Terms {
        let mut terms = Terms::default();
        for p in pair.clone().into_inner() {
            match p.as_rule() {
                Rule::owner => terms.owner = self.inner_value(p),
                Rule::until => terms.until = self.inner_value(p),
                _ => {}
            }
        }
        terms
    }

    /// The string or literal inside `owner` or `until`.
    fn inner_value(&mut self, pair: Pair<'_, Rule>) -> Option<Ident> {
        pair.into_inner()
            .find(|n| matches!(n.as_rule(), Rule::string | Rule::date_lit))
            .map(|n| self.value(&n))
    }

    /// The namespaces of an `applies`, `claim_scope` or `except_scope` line.
    fn claim_scope(&mut self, pair: Pair<'_, Rule>) -> Option<AdmissionScope> {
        pair.into_inner().find_map(|n| match n.as_rule() {
            Rule::all_namespaces => Some(AdmissionScope::All),
            Rule::namespaces_sel => Some(AdmissionScope::Labels(
                n.into_inner()
                    .find(|p| p.as_rule() == Rule::selector)
                    .map(|p| self.selector(p)),
            )),
            Rule::namespace_names => Some(AdmissionScope::Names(
                n.into_inner()
                    .filter(|p| p.as_rule() == Rule::ident)
                    .map(|p| self.ident(&p))
                    .collect(),
            )),
            _ => None,
        })
    }

    fn compliance(&mut self, pair: Pair<'_, Rule>) -> Compliance {
        let span = self.span(&pair);
        let mut c = Compliance {
            span,
            ..Compliance::default()
        };
        for p in pair.into_inner() {
            let s = self.span(&p);
            match p.as_rule() {
                Rule::ident => c.name = self.ident(&p),
                Rule::framework => c.frameworks.extend(
                    p.into_inner()
                        .filter(|n| n.as_rule() == Rule::ident)
                        .map(|n| self.ident(&n)),
                ),
                Rule::claim_scope => {
                    if let Some(scope) = self.claim_scope(p) {
                        c.applies.push((scope, s));
                    }
                }
                Rule::except_scope => {
                    if let Some(scope) = self.claim_scope(p) {
                        c.except.push((scope, s));
                    }
                }
                Rule::waive => {
                    let mut framework = None;
                    let mut control = None;
                    let mut owner = None;
                    let mut until = None;
                    let mut reason = None;
                    for n in p.into_inner() {
                        match n.as_rule() {
                            Rule::ident => framework = Some(self.ident(&n)),
                            Rule::control_id => control = Some(self.ident(&n)),
                            Rule::owner => owner = self.inner_value(n),
                            Rule::until => until = self.inner_value(n),
                            Rule::string => reason = Some(self.value(&n)),
                            _ => {}
                        }
                    }
                    let parts = (framework, control, owner, until, reason);
                    if let (
                        Some(framework),
                        Some(control),
                        Some(owner),
                        Some(until),
                        Some(reason),
                    ) = parts
                    {
                        c.waivers.push(Waiver {
                            framework,
                            control,
                            owner,
                            until,
                            reason,
                            span: s,
                        });
                    }
                }
                _ => {}
            }
        }
        c
    }

    fn dns(&mut self, pair: Pair<'_, Rule>) -> Dns {
        let mut dns = Dns {
            span: self.span(&pair),
            namespace: None,
            pods: None,
            nodelocal: None,
        };
        for p in pair.into_inner() {
            match p.as_rule() {
                Rule::dns_namespace => {
                    dns.namespace = p
                        .into_inner()
                        .find(|i| i.as_rule() == Rule::ident)
                        .map(|i| self.ident(&i))
                }
                Rule::dns_pods => {
                    dns.pods = p
                        .into_inner()
                        .find(|i| i.as_rule() == Rule::selector)
                        .map(|i| self.selector(i))
                }
                Rule::dns_nodelocal => {
                    dns.nodelocal = p
                        .into_inner()
                        .find(|i| i.as_rule() == Rule::ip_lit)
                        .map(|i| self.ident(&i))
                }
                _ => {}
            }
        }
        dns
    }

    fn namespace(&mut self, pair: Pair<'_, Rule>) -> Namespace {
        let span = self.span(&pair);
        let mut ns = Namespace {
            name: Ident {
                text: String::new(),
                span,
            },
            span,
            isolate: Vec::new(),
            allow_dns: Vec::new(),
            labels: Vec::new(),
            flows: Vec::new(),
            accepts: Vec::new(),
        };
        for p in pair.into_inner() {
            match p.as_rule() {
                Rule::ident => ns.name = self.ident(&p),
                Rule::isolate => ns.isolate.push(self.isolate(p)),
                Rule::allow_dns => ns.allow_dns.push(self.span(&p)),
                Rule::flow => ns.flows.push(self.flow(p)),
                Rule::accept => ns.accepts.push(self.accept(p)),
                Rule::namespace_labels => {
                    let labels: Vec<Label> = p.into_inner().filter_map(|l| self.label(l)).collect();
                    ns.labels.extend(labels);
                }
                _ => {}
            }
        }
        ns
    }

    fn service(&mut self, pair: Pair<'_, Rule>) -> Service {
        let span = self.span(&pair);
        let empty = Ident {
            text: String::new(),
            span,
        };
        let mut svc = Service {
            name: empty.clone(),
            namespace: empty,
            span,
            pods: Vec::new(),
            ports: Vec::new(),
            flows: Vec::new(),
            syscalls: Vec::new(),
            isolate: Vec::new(),
            overlaps: Vec::new(),
            accepts: Vec::new(),
        };
        let mut idents = 0;
        for p in pair.into_inner() {
            match p.as_rule() {
                Rule::ident => {
                    if idents == 0 {
                        svc.name = self.ident(&p);
                    } else {
                        svc.namespace = self.ident(&p);
                    }
                    idents += 1;
                }
                Rule::pods => {
                    let line = self.span(&p);
                    if let Some(sel) = p.into_inner().find(|p| p.as_rule() == Rule::selector) {
                        // The whole `pods …` line, so that diagnostics about it point at all of it.
                        let mut sel = self.selector(sel);
                        sel.span = line;
                        svc.pods.push(sel);
                    }
                }
                Rule::port_decl => svc.ports.push(self.port_decl(p)),
                Rule::flow => svc.flows.push(self.flow(p)),
                Rule::syscalls => svc.syscalls.push(self.syscalls(p)),
                Rule::isolate => svc.isolate.push(self.isolate(p)),
                Rule::overlaps => svc.overlaps.extend(
                    p.into_inner()
                        .filter(|p| p.as_rule() == Rule::ident)
                        .map(|p| self.ident(&p)),
                ),
                Rule::accept => svc.accepts.push(self.accept(p)),
                _ => {}
            }
        }
        // A vector grows to four on its first push, and a service usually declares one `pods`
        // line and one port: the syntax tree of 10,000 services would hold megabytes of slack.
        svc.pods.shrink_to_fit();
        svc.ports.shrink_to_fit();
        svc.flows.shrink_to_fit();
        svc
    }

    fn selector(&mut self, pair: Pair<'_, Rule>) -> Selector {
        let span = self.span(&pair);
        let mut requirements = Vec::new();
        for p in pair.into_inner() {
            let req = match p.as_rule() {
                Rule::label => self.label(p).map(Requirement::Equals),
                Rule::present | Rule::absent => {
                    let absent = p.as_rule() == Rule::absent;
                    p.into_inner()
                        .find(|k| k.as_rule() == Rule::label_key)
                        .map(|k| {
                            let key = self.ident(&k);
                            if absent {
                                Requirement::DoesNotExist(key)
                            } else {
                                Requirement::Exists(key)
                            }
                        })
                }
                Rule::set_requirement => {
                    let mut key = None;
                    let mut not = false;
                    let mut values = Vec::new();
                    for part in p.into_inner() {
                        match part.as_rule() {
                            Rule::label_key => key = Some(self.ident(&part)),
                            Rule::set_op => not = part.as_str().starts_with("notin"),
                            Rule::string | Rule::ident | Rule::number => {
                                values.push(self.value(&part))
                            }
                            _ => {}
                        }
                    }
                    key.map(|key| {
                        if not {
                            Requirement::NotIn { key, values }
                        } else {
                            Requirement::In { key, values }
                        }
                    })
                }
                _ => None,
            };
            requirements.extend(req);
        }
        // As for services: most selectors are one label.
        requirements.shrink_to_fit();
        Selector { requirements, span }
    }

    fn label(&mut self, pair: Pair<'_, Rule>) -> Option<Label> {
        let mut key = None;
        let mut value = None;
        for p in pair.into_inner() {
            match p.as_rule() {
                Rule::label_key => key = Some(self.ident(&p)),
                Rule::string | Rule::ident | Rule::number => value = Some(self.value(&p)),
                _ => {}
            }
        }
        Some(Label {
            key: key?,
            value: value?,
        })
    }

    fn port_decl(&mut self, pair: Pair<'_, Rule>) -> PortDecl {
        let span = self.span(&pair);
        let mut name = None;
        let mut number = None;
        let mut end = None;
        let mut protocol = None;
        for p in pair.into_inner() {
            match p.as_rule() {
                Rule::ident => name = Some(self.ident(&p)),
                Rule::number => number = Some(self.ident(&p)),
                Rule::end_number => end = Some(self.ident(&p)),
                Rule::protocol => protocol = Some(self.ident(&p)),
                _ => {}
            }
        }
        PortDecl {
            name: name.unwrap_or(Ident {
                text: String::new(),
                span,
            }),
            number,
            end,
            protocol,
            span,
        }
    }

    fn flow(&mut self, pair: Pair<'_, Rule>) -> Flow {
        let span = self.span(&pair);
        let mut flow = Flow {
            direction: Direction::Egress,
            peers: Vec::new(),
            ports: Vec::new(),
            all_ports: None,
            http: Vec::new(),
            span,
        };
        for p in pair.into_inner() {
            match p.as_rule() {
                Rule::flow_dir => {
                    flow.direction = if p.as_str().starts_with("from") {
                        Direction::Ingress
                    } else {
                        Direction::Egress
                    }
                }
                Rule::peer => {
                    if let Some(peer) = self.peer(p) {
                        flow.peers.push(peer);
                    }
                }
                Rule::port_ref => {
                    if let Some(port) = self.port_ref(p) {
                        flow.ports.push(port);
                    }
                }
                Rule::all_ports => flow.all_ports = Some(self.span(&p)),
                Rule::http_rules => {
                    for r in p.into_inner().filter(|r| r.as_rule() == Rule::http_rule) {
                        let span = self.span(&r);
                        let mut rule = HttpRule {
                            method: None,
                            path: None,
                            span,
                        };
                        for part in r.into_inner() {
                            match part.as_rule() {
                                Rule::http_method => rule.method = Some(self.ident(&part)),
                                Rule::string => rule.path = Some(self.value(&part)),
                                _ => {}
                            }
                        }
                        flow.http.push(rule);
                    }
                }
                _ => {}
            }
        }
        // As for services: most flows name one peer and one port.
        flow.peers.shrink_to_fit();
        flow.ports.shrink_to_fit();
        flow
    }

    fn peer(&mut self, pair: Pair<'_, Rule>) -> Option<Peer> {
        let inner = pair.into_inner().next()?;
        let span = self.span(&inner);
        Some(match inner.as_rule() {
            Rule::world => Peer::World(span),
            Rule::host => Peer::Host {
                name: inner
                    .into_inner()
                    .find(|p| p.as_rule() == Rule::string)
                    .map(|p| self.value(&p))?,
                span,
            },
            Rule::cidr => {
                let mut lits = inner
                    .into_inner()
                    .filter(|p| p.as_rule() == Rule::cidr_lit)
                    .map(|p| self.ident(&p));
                let cidr = lits.next()?;
                Peer::Cidr {
                    cidr,
                    except: lits.collect(),
                    span,
                }
            }
            Rule::pods_peer => {
                let mut pods = None;
                let mut scope = None;
                for p in inner.into_inner() {
                    match p.as_rule() {
                        Rule::selector => pods = Some(self.selector(p)),
                        Rule::scope => scope = p.into_inner().next().and_then(|s| self.scope(s)),
                        _ => {}
                    }
                }
                // `pods()` is every pod: the same as no selector.
                Peer::Pods { pods, scope, span }
            }
            Rule::namespace_peer => Peer::Pods {
                pods: None,
                scope: inner.into_inner().next().and_then(|s| self.scope(s)),
                span,
            },
            Rule::all_pods => Peer::Pods {
                pods: None,
                scope: Some(Scope::All),
                span,
            },
            _ => Peer::Service(self.service_ref(inner)),
        })
    }

    fn scope(&mut self, pair: Pair<'_, Rule>) -> Option<Scope> {
        match pair.as_rule() {
            Rule::all_namespaces => Some(Scope::All),
            Rule::namespaces_sel => Some(Scope::Namespaces(
                pair.into_inner()
                    .find(|p| p.as_rule() == Rule::selector)
                    .map(|p| self.selector(p)),
            )),
            Rule::namespace_name => pair
                .into_inner()
                .find(|p| p.as_rule() == Rule::ident)
                .map(|p| Scope::Namespace(self.ident(&p))),
            _ => None,
        }
    }

    fn service_ref(&mut self, pair: Pair<'_, Rule>) -> ServiceRef {
        let span = self.span(&pair);
        let mut parts: Vec<Ident> = pair.into_inner().map(|p| self.ident(&p)).collect();
        let name = parts.pop().unwrap_or(Ident {
            text: String::new(),
            span,
        });
        ServiceRef {
            namespace: parts.pop(),
            name,
            span,
        }
    }

    fn port_ref(&mut self, pair: Pair<'_, Rule>) -> Option<PortRef> {
        let inner = pair.into_inner().next()?;
        Some(match inner.as_rule() {
            Rule::port_number => {
                let span = self.span(&inner);
                let mut number = None;
                let mut end = None;
                let mut protocol = None;
                for p in inner.into_inner() {
                    match p.as_rule() {
                        Rule::number => number = Some(self.ident(&p)),
                        Rule::end_number => end = Some(self.ident(&p)),
                        Rule::protocol => protocol = Some(self.ident(&p)),
                        _ => {}
                    }
                }
                PortRef::Number {
                    number: number?,
                    end,
                    protocol,
                    span,
                }
            }
            _ => PortRef::Named(self.ident(&inner)),
        })
    }

    fn syscalls(&mut self, pair: Pair<'_, Rule>) -> Syscalls {
        let span = self.span(&pair);
        let mut out = Syscalls {
            base: Vec::new(),
            default: Vec::new(),
            rules: Vec::new(),
            span,
        };
        for item in pair.into_inner() {
            match item.as_rule() {
                Rule::syscall_base => {
                    if let Some(n) = item.into_inner().find(|n| n.as_rule() == Rule::ident) {
                        out.base.push(self.ident(&n));
                    }
                }
                Rule::syscall_default => {
                    if let Some(a) = item
                        .into_inner()
                        .find(|n| n.as_rule() == Rule::syscall_action)
                    {
                        let s = self.span(&a);
                        out.default.push((self.syscall_action(a), s));
                    }
                }
                Rule::syscall_rule => {
                    let rule_span = self.span(&item);
                    let mut rule = SyscallRule {
                        action: SyscallAction::Allow,
                        action_span: rule_span,
                        groups: false,
                        names: Vec::new(),
                        conditions: Vec::new(),
                    };
                    for p in item.into_inner() {
                        match p.as_rule() {
                            Rule::syscall_action => {
                                rule.action_span = self.span(&p);
                                rule.action = self.syscall_action(p);
                            }
                            Rule::syscall_groups | Rule::syscall_names => {
                                rule.groups = p.as_rule() == Rule::syscall_groups;
                                rule.names = p
                                    .into_inner()
                                    .filter(|n| {
                                        matches!(n.as_rule(), Rule::ident | Rule::syscall_name)
                                    })
                                    .map(|n| self.ident(&n))
                                    .collect();
                            }
                            Rule::syscall_condition => {
                                for c in p
                                    .into_inner()
                                    .filter(|c| c.as_rule() == Rule::arg_condition)
                                {
                                    let cspan = self.span(&c);
                                    let mut arg = None;
                                    let mut op = None;
                                    let mut values = Vec::new();
                                    for part in c.into_inner() {
                                        match part.as_rule() {
                                            Rule::arg_ref => arg = Some(self.ident(&part)),
                                            Rule::arg_op => op = Some(self.ident(&part)),
                                            Rule::arg_operand => values
                                                .extend(part.into_inner().map(|v| self.ident(&v))),
                                            _ => {}
                                        }
                                    }
                                    if let (Some(arg), Some(op)) = (arg, op) {
                                        rule.conditions.push(ArgCondition {
                                            arg,
                                            op,
                                            values,
                                            span: cspan,
                                        });
                                    }
                                }
                            }
                            _ => {}
                        }
                    }
                    out.rules.push(rule);
                }
                _ => {}
            }
        }
        out
    }

    fn syscall_action(&mut self, pair: Pair<'_, Rule>) -> SyscallAction {
        let Some(inner) = pair.into_inner().next() else {
            return SyscallAction::Allow;
        };
        match inner.as_rule() {
            Rule::kw_deny => SyscallAction::Deny,
            Rule::kw_log => SyscallAction::Log,
            Rule::kw_trace => SyscallAction::Trace,
            Rule::kw_notify => SyscallAction::Notify,
            Rule::kw_kill_process => SyscallAction::KillProcess,
            Rule::kw_kill_thread => SyscallAction::KillThread,
            Rule::errno_action => {
                match inner.into_inner().find(|n| n.as_rule() == Rule::errno_name) {
                    Some(n) => SyscallAction::Errno(self.ident(&n)),
                    None => SyscallAction::Deny,
                }
            }
            _ => SyscallAction::Allow,
        }
    }

    fn admission(&mut self, pair: Pair<'_, Rule>) -> Admission {
        let span = self.span(&pair);
        let mut adm = Admission {
            name: Ident {
                text: String::new(),
                span,
            },
            span,
            ..Admission::default()
        };
        for p in pair.into_inner() {
            let rule = p.as_rule();
            let s = self.span(&p);
            let idents = |cx: &mut Ctx, p: Pair<'_, Rule>| -> Vec<Ident> {
                p.into_inner()
                    .filter(|n| matches!(n.as_rule(), Rule::ident | Rule::label_key | Rule::string))
                    .map(|n| cx.value(&n))
                    .collect()
            };
            match rule {
                Rule::ident => adm.name = self.ident(&p),
                Rule::applies | Rule::except_scope => {
                    if let Some(scope) = self.claim_scope(p) {
                        if rule == Rule::applies {
                            adm.applies.push((scope, s));
                        } else {
                            adm.except.push((scope, s));
                        }
                    }
                }
                Rule::forbid => adm.forbid.extend(idents(self, p)),
                Rule::require => adm.require.extend(idents(self, p)),
                Rule::require_labels => adm.require_labels.extend(idents(self, p)),
                Rule::require_annotations => adm.require_annotations.extend(idents(self, p)),
                Rule::images => adm.images.extend(idents(self, p)),
                Rule::mode => adm.modes.extend(idents(self, p)),
                Rule::pod_security => {
                    let mut level = None;
                    let mut version = None;
                    for n in p.into_inner() {
                        match n.as_rule() {
                            Rule::ident => level = Some(self.ident(&n)),
                            Rule::version_lit => version = Some(self.ident(&n)),
                            _ => {}
                        }
                    }
                    if let Some(level) = level {
                        adm.pod_security.push((level, version, s));
                    }
                }
                Rule::exempt_images => {
                    let terms = self.terms(&p);
                    let mut parts = idents(self, p);
                    if let Some(reason) = parts.pop() {
                        adm.exempt_images.push((parts, reason, terms));
                    }
                }
                Rule::forbid_host_paths => adm.forbid_host_paths.extend(idents(self, p)),
                Rule::allow_capabilities => adm.allow_capabilities.extend(idents(self, p)),
                Rule::allow_volumes => adm.allow_volumes.extend(idents(self, p)),
                Rule::id_rule => {
                    let mut field = None;
                    let mut ranges = None;
                    for n in p.into_inner() {
                        match n.as_rule() {
                            Rule::id_field => field = Some(self.ident(&n)),
                            Rule::id_range => {
                                ranges.get_or_insert_with(Vec::new).push(self.ident(&n))
                            }
                            _ => {}
                        }
                    }
                    if let Some(field) = field {
                        adm.ids.push((field, ranges, s));
                    }
                }
                Rule::require_cel => {
                    if let [expression, message] = idents(self, p).as_slice() {
                        adm.cel.push((expression.clone(), message.clone()));
                    }
                }
                Rule::accept => adm.accepts.push(self.accept(p)),
                Rule::exempt => {
                    let terms = self.terms(&p);
                    let parts = idents(self, p);
                    if let [check, reason] = parts.as_slice() {
                        adm.exempt.push((check.clone(), reason.clone(), terms));
                    }
                }
                _ => {}
            }
        }
        adm
    }

    fn expect(&mut self, pair: Pair<'_, Rule>) -> Expect {
        let span = self.span(&pair);
        let mut endpoints = Vec::new();
        let mut port = None;
        let mut allowed = true;
        for p in pair.into_inner() {
            match p.as_rule() {
                Rule::endpoint => {
                    if let Some(e) = self.endpoint(p) {
                        endpoints.push(e);
                    }
                }
                Rule::port_ref => port = self.port_ref(p),
                Rule::verdict => allowed = p.as_str().starts_with("allowed"),
                _ => {}
            }
        }
        let mut it = endpoints.into_iter();
        let from = it.next().unwrap_or(Endpoint::World(span));
        let to = it.next().unwrap_or(Endpoint::World(span));
        Expect {
            from,
            to,
            port,
            allowed,
            span,
        }
    }

    fn endpoint(&mut self, pair: Pair<'_, Rule>) -> Option<Endpoint> {
        let inner = pair.into_inner().next()?;
        Some(match inner.as_rule() {
            Rule::world => Endpoint::World(self.span(&inner)),
            Rule::expect_cidr => {
                let lit = inner.into_inner().find(|p| p.as_rule() == Rule::cidr_lit)?;
                Endpoint::Cidr(self.ident(&lit))
            }
            _ => Endpoint::Service(self.service_ref(inner)),
        })
    }
}

fn direction(text: &str) -> Direction {
    if text.starts_with("ingress") {
        Direction::Ingress
    } else {
        Direction::Egress
    }
}
