//! `admission` blocks: scopes, rules and modes.

use super::{Parser, Rule, is_ident_char, run};
use crate::ast::*;
use crate::span::Span;

impl Parser<'_> {
    // ------------------------------------------------------------ admission

    pub(super) fn admission_decl(&mut self) -> Option<Admission> {
        self.rule(Rule::admission_decl, |p| {
            let start = p.pos;
            p.kw("admission")?;
            p.skip();
            let name = p.ident()?;
            p.skip();
            let mut adm = Admission::default();
            p.block(|p| p.admission_item(&mut adm))?;
            adm.name = name;
            adm.span = p.span(start);
            Some(adm)
        })
    }

    /// One of `admission_item`'s alternatives, in the grammar's order, added to `adm`.
    pub(super) fn admission_item(&mut self, adm: &mut Admission) -> Option<()> {
        if let Some(line) = self.scope_line(Rule::applies) {
            adm.applies.push(line);
        } else if let Some(line) = self.scope_line(Rule::except_scope) {
            adm.except.push(line);
        } else if let Some(paths) = self.rule(Rule::forbid_host_paths, |p| {
            p.kw("forbid")?;
            p.skip();
            p.kw("host-paths")?;
            p.skip();
            p.list(Self::string)
        }) {
            adm.forbid_host_paths.extend(paths);
        } else if let Some(names) = self.keyword_list(Rule::forbid, "forbid", Self::ident) {
            adm.forbid.extend(names);
        } else if let Some(cel) = self.rule(Rule::require_cel, |p| {
            p.kw("require")?;
            p.skip();
            p.kw("cel")?;
            p.skip();
            let expression = p.string()?;
            p.skip();
            p.kw("message")?;
            p.skip();
            Some((expression, p.string()?))
        }) {
            adm.cel.push(cel);
        } else if let Some(keys) =
            self.keywords_list(Rule::require_labels, ["require", "labels"], Self::label_key)
        {
            adm.require_labels.extend(keys);
        } else if let Some(keys) = self.keywords_list(
            Rule::require_annotations,
            ["require", "annotations"],
            Self::label_key,
        ) {
            adm.require_annotations.extend(keys);
        } else if let Some(names) = self.keyword_list(Rule::require, "require", Self::ident) {
            adm.require.extend(names);
        } else if let Some(images) =
            self.keywords_list(Rule::images, ["images", "from"], Self::string)
        {
            adm.images.extend(images);
        } else if let Some(mode) = self.rule(Rule::mode, |p| {
            p.kw("mode")?;
            p.skip();
            p.ident()
        }) {
            adm.modes.push(mode);
        } else if let Some(line) = self.pod_security() {
            adm.pod_security.push(line);
        } else if let Some(line) = self.rule(Rule::exempt_images, |p| {
            p.kw("exempt")?;
            p.skip();
            p.kw("images")?;
            p.skip();
            let patterns = p.list(Self::string)?;
            p.skip();
            p.kw("because")?;
            p.skip();
            let reason = p.string()?;
            Some((patterns, reason, p.terms()))
        }) {
            adm.exempt_images.push(line);
        } else if let Some(line) = self.rule(Rule::exempt, |p| {
            p.kw("exempt")?;
            p.skip();
            let check = p.ident()?;
            p.skip();
            let reason = p.string()?;
            Some((check, reason, p.terms()))
        }) {
            adm.exempt.push(line);
        } else if let Some(caps) = self.keywords_list(
            Rule::allow_capabilities,
            ["allow", "capabilities"],
            Self::ident,
        ) {
            adm.allow_capabilities.extend(caps);
        } else if let Some(kinds) =
            self.keywords_list(Rule::allow_volumes, ["allow", "volumes"], Self::ident)
        {
            adm.allow_volumes.extend(kinds);
        } else if let Some(line) = self.id_rule() {
            adm.ids.push(line);
        } else {
            adm.accepts.push(self.accept()?);
        }
        Some(())
    }

    /// `owner? ~ until?` after an exemption.
    pub(super) fn terms(&mut self) -> Terms {
        let owner = self.opt(|p| {
            p.skip();
            p.owner()
        });
        let until = self.opt(|p| {
            p.skip();
            p.until()
        });
        Terms { owner, until }
    }

    /// `owner = { kw_owner ~ string }`.
    pub(super) fn owner(&mut self) -> Option<Ident> {
        self.rule(Rule::owner, |p| {
            p.kw("owner")?;
            p.skip();
            p.string()
        })
    }

    /// `until = { kw_until ~ date_lit }`, `date_lit = @{ ASCII_DIGIT{4} ~ "-" ~ …{2} ~ "-" ~ …{2} }`.
    pub(super) fn until(&mut self) -> Option<Ident> {
        self.rule(Rule::until, |p| {
            p.kw("until")?;
            p.skip();
            p.atom(Rule::date_lit, |r| {
                let digits = |at: usize, n: usize| {
                    r.get(at..at + n)
                        .is_some_and(|d| d.iter().all(u8::is_ascii_digit))
                };
                let ok = digits(0, 4)
                    && r.get(4) == Some(&b'-')
                    && digits(5, 2)
                    && r.get(7) == Some(&b'-')
                    && digits(8, 2);
                if ok { 10 } else { 0 }
            })
        })
    }

    // ------------------------------------------------------------ compliance

    pub(super) fn compliance_decl(&mut self) -> Option<Compliance> {
        self.rule(Rule::compliance_decl, |p| {
            let start = p.pos;
            p.kw("compliance")?;
            p.skip();
            let name = p.ident()?;
            p.skip();
            let mut c = Compliance::default();
            p.block(|p| p.compliance_item(&mut c))?;
            c.name = name;
            c.span = p.span(start);
            Some(c)
        })
    }

    /// One of `compliance_item`'s alternatives, in the grammar's order, added to `c`.
    fn compliance_item(&mut self, c: &mut Compliance) -> Option<()> {
        if let Some(names) = self.keyword_list(Rule::framework, "framework", Self::ident) {
            c.frameworks.extend(names);
        } else if let Some(line) = self.scope_line(Rule::claim_scope) {
            c.applies.push(line);
        } else if let Some(line) = self.scope_line(Rule::except_scope) {
            c.except.push(line);
        } else {
            c.waivers.push(self.rule(Rule::waive, |p| {
                let start = p.pos;
                p.kw("waive")?;
                p.skip();
                let framework = p.ident()?;
                p.skip();
                let control = p.atom(Rule::control_id, |r| {
                    run(r, |b| {
                        b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b'(' | b')')
                    })
                })?;
                p.skip();
                let owner = p.owner()?;
                p.skip();
                let until = p.until()?;
                p.skip();
                p.kw("because")?;
                p.skip();
                let reason = p.string()?;
                Some(Waiver {
                    framework,
                    control,
                    owner,
                    until,
                    reason,
                    span: p.span(start),
                })
            })?);
        }
        Some(())
    }

    /// `RULE = { kw_WORD ~ item ~ ("," ~ item)* }`.
    pub(super) fn keyword_list(
        &mut self,
        rule: Rule,
        word: &'static str,
        item: impl FnMut(&mut Self) -> Option<Ident>,
    ) -> Option<Vec<Ident>> {
        self.rule(rule, |p| {
            p.kw(word)?;
            p.skip();
            p.list(item)
        })
    }

    /// `RULE = { kw_A ~ kw_B ~ item ~ ("," ~ item)* }`.
    pub(super) fn keywords_list(
        &mut self,
        rule: Rule,
        [first, second]: [&'static str; 2],
        item: impl FnMut(&mut Self) -> Option<Ident>,
    ) -> Option<Vec<Ident>> {
        self.rule(rule, |p| {
            p.kw(first)?;
            p.skip();
            p.kw(second)?;
            p.skip();
            p.list(item)
        })
    }

    /// `applies = { kw_applies ~ kw_to ~ kw_workloads ~ kw_in ~ (all_namespaces | namespaces_sel
    /// | namespace_names) }` or `except_scope = { kw_except ~ (namespaces_sel | namespace_names) }`.
    pub(super) fn scope_line(&mut self, rule: Rule) -> Option<(AdmissionScope, Span)> {
        self.rule(rule, |p| {
            let start = p.pos;
            let applies = matches!(rule, Rule::applies | Rule::claim_scope);
            if rule == Rule::applies {
                for word in ["applies", "to", "workloads", "in"] {
                    p.kw(word)?;
                    p.skip();
                }
            } else if applies {
                for word in ["applies", "to"] {
                    p.kw(word)?;
                    p.skip();
                }
            } else {
                p.kw("except")?;
                p.skip();
            }
            let all = if applies {
                p.kw2(Rule::all_namespaces, "all", "namespaces")
            } else {
                None
            };
            let scope = match all {
                Some(_) => AdmissionScope::All,
                None => match p.namespaces_selector() {
                    Some(sel) => AdmissionScope::Labels(sel),
                    None => AdmissionScope::Names(p.rule(Rule::namespace_names, |p| {
                        if p.kw("namespaces").is_none() {
                            p.kw("namespace")?;
                        }
                        p.skip();
                        p.list(Self::ident)
                    })?),
                },
            };
            Some((scope, p.span(start)))
        })
    }

    /// `pod_security = { kw_pod_security ~ ident ~ (kw_version ~ version_lit)? }`.
    pub(super) fn pod_security(&mut self) -> Option<(Ident, Option<Ident>, Span)> {
        self.rule(Rule::pod_security, |p| {
            let start = p.pos;
            p.kw("pod-security")?;
            p.skip();
            let level = p.ident()?;
            p.skip();
            let version = p.opt(|p| {
                p.kw("version")?;
                p.skip();
                // version_lit = @{ "v"? ~ ASCII_DIGIT+ ~ ("." ~ ASCII_DIGIT+)* }
                p.atom(Rule::version_lit, |r| {
                    let v = usize::from(r.first() == Some(&b'v'));
                    let digits =
                        |at: usize| run(r.get(at..).unwrap_or(&[]), |b| b.is_ascii_digit());
                    let first = digits(v);
                    if first == 0 {
                        return 0;
                    }
                    let mut end = v + first;
                    while r.get(end) == Some(&b'.') && digits(end + 1) > 0 {
                        end += 1 + digits(end + 1);
                    }
                    end
                })
            });
            Some((level, version, p.span(start)))
        })
    }

    /// `id_rule = { id_field ~ (kw_non_root | id_range ~ ("," ~ id_range)*) }`.
    pub(super) fn id_rule(&mut self) -> Option<(Ident, Option<Vec<Ident>>, Span)> {
        self.rule(Rule::id_rule, |p| {
            let start = p.pos;
            let field = p.atom(Rule::id_field, |r| {
                [
                    "run-as-user",
                    "run-as-group",
                    "fs-group",
                    "supplemental-groups",
                ]
                .iter()
                .find(|w| r.starts_with(w.as_bytes()))
                .filter(|w| !r.get(w.len()).copied().is_some_and(is_ident_char))
                .map_or(0, |w| w.len())
            })?;
            p.skip();
            let ranges = if p.kw("non-root").is_some() {
                None
            } else {
                Some(p.list(|p| {
                    // id_range = ${ number ~ ("-" ~ end_number)? }
                    p.rule(Rule::id_range, |p| {
                        let start = p.pos;
                        p.number()?;
                        p.opt(|p| {
                            if !p.lit("-") {
                                return None;
                            }
                            p.end_number()
                        });
                        Some(p.ident_from(start))
                    })
                })?)
            };
            Some((field, ranges, p.span(start)))
        })
    }
}
