//! Declarations: a program's top level, namespaces and the `dns` block.

use super::{Parser, Rule, is_hex_or_sep, run};
use crate::ast::*;
use crate::span::Span;

impl Parser<'_> {
    // ------------------------------------------------------------ declarations

    /// `program = { SOI ~ decl* ~ EOI }`.
    pub(super) fn program(&mut self) -> Option<File> {
        self.rule(Rule::program, |p| {
            let mut out = File::default();
            p.skip();
            let mut decls = Vec::new();
            p.many(&mut decls, |p| p.started(|p| p.decl(&mut out)));
            p.skip();
            p.rule(Rule::EOI, |p| (p.pos == p.bytes.len()).then_some(()))?;
            Some(out)
        })
    }

    /// `decl = _{ namespace_decl | service_decl | admission_decl | expect_decl | dns_decl |
    /// compliance_decl }`.
    pub(super) fn decl(&mut self, out: &mut File) -> Option<()> {
        if let Some(ns) = self.namespace_decl() {
            out.namespaces.push(ns);
        } else if let Some(svc) = self.service_decl() {
            out.services.push(svc);
        } else if let Some(adm) = self.admission_decl() {
            out.admissions.push(adm);
        } else if let Some(exp) = self.expect_decl() {
            out.expects.push(exp);
        } else if let Some(dns) = self.dns_decl() {
            out.dns.push(dns);
        } else {
            out.compliance.push(self.compliance_decl()?);
        }
        Some(())
    }

    /// `f`, and where it started if it matched and starts are recorded.
    fn started(&mut self, f: impl FnOnce(&mut Self) -> Option<()>) -> Option<()> {
        let start = self.pos;
        f(self)?;
        if let Some(s) = &mut self.starts {
            s.push(start);
        }
        Some(())
    }

    /// `open ~ item* ~ close`, the body of every block.
    pub(super) fn block(&mut self, mut item: impl FnMut(&mut Self) -> Option<()>) -> Option<()> {
        self.punct(Rule::open, "{")?;
        self.skip();
        let mut done = Vec::new();
        self.many(&mut done, |p| p.started(&mut item));
        self.skip();
        self.punct(Rule::close, "}")
    }

    pub(super) fn namespace_decl(&mut self) -> Option<Namespace> {
        self.rule(Rule::namespace_decl, |p| {
            let start = p.pos;
            p.kw("namespace")?;
            p.skip();
            let name = p.ident()?;
            p.skip();
            let mut isolate = Vec::new();
            let mut allow_dns = Vec::new();
            let mut labels = Vec::new();
            let mut flows = Vec::new();
            let mut accepts = Vec::new();
            p.block(|p| {
                if let Some(i) = p.isolate() {
                    isolate.push(i);
                } else if let Some(s) = p.kw2(Rule::allow_dns, "allow", "dns") {
                    allow_dns.push(s);
                } else if let Some(l) = p.namespace_labels() {
                    labels.extend(l);
                } else if let Some(a) = p.accept() {
                    accepts.push(a);
                } else {
                    flows.push(p.flow()?);
                }
                Some(())
            })?;
            Some(Namespace {
                name,
                span: p.span(start),
                isolate,
                allow_dns,
                labels,
                flows,
                accepts,
            })
        })
    }

    /// `accept = { kw_accept ~ ident ~ string }`, spanning the line.
    pub(super) fn accept(&mut self) -> Option<Accept> {
        self.rule(Rule::accept, |p| {
            let start = p.pos;
            p.kw("accept")?;
            p.skip();
            let code = p.ident()?;
            p.skip();
            let reason = p.string()?;
            Some(Accept {
                code,
                reason,
                span: p.span(start),
            })
        })
    }

    /// `namespace_labels = { kw_labels ~ label ~ ("," ~ label)* }`.
    pub(super) fn namespace_labels(&mut self) -> Option<Vec<Label>> {
        self.rule(Rule::namespace_labels, |p| {
            p.kw("labels")?;
            p.skip();
            p.list(Self::label)
        })
    }

    /// `isolate = { kw_isolate ~ direction? }`.
    pub(super) fn isolate(&mut self) -> Option<(Option<Direction>, Span)> {
        self.rule(Rule::isolate, |p| {
            let start = p.pos;
            p.kw("isolate")?;
            p.skip();
            let dir = p.opt(|p| {
                p.rule(Rule::direction, |p| {
                    if p.kw("ingress").is_some() {
                        Some(Direction::Ingress)
                    } else {
                        p.kw("egress").map(|()| Direction::Egress)
                    }
                })
            });
            Some((dir, p.span(start)))
        })
    }

    pub(super) fn dns_decl(&mut self) -> Option<Dns> {
        self.rule(Rule::dns_decl, |p| {
            let start = p.pos;
            p.kw("dns")?;
            p.skip();
            let (mut namespace, mut pods, mut nodelocal) = (None, None, None);
            p.block(|p| {
                if let Some(ns) = p.rule(Rule::dns_namespace, |p| {
                    p.kw("namespace")?;
                    p.skip();
                    p.ident()
                }) {
                    namespace = Some(ns);
                } else if let Some(sel) = p.rule(Rule::dns_pods, |p| {
                    p.kw("pods")?;
                    p.skip();
                    p.selector()
                }) {
                    pods = Some(sel);
                } else {
                    nodelocal = Some(p.rule(Rule::dns_nodelocal, |p| {
                        p.kw("nodelocal")?;
                        p.skip();
                        p.atom(Rule::ip_lit, |r| run(r, is_hex_or_sep))
                    })?);
                }
                Some(())
            })?;
            Some(Dns {
                span: p.span(start),
                namespace,
                pods,
                nodelocal,
            })
        })
    }
}
