//! Recursive descent over `grammar/warden.pest`, building the AST as it goes.
//!
//! One function per grammar rule, in the grammar's order of alternatives, with the grammar's
//! implicit whitespace and comments (`skip`) exactly where pest puts them: between the elements of
//! a sequence, and between the repetitions of `x*`, but not inside `@{…}` and `${…}` rules. The
//! spans and the syntax errors are therefore pest's: a failed rule is recorded the way pest's
//! `ParserState::track` records it, so the error names what pest would name at the same place. The
//! unit tests of `parse/oracle/` hold this to the grammar itself, run by pest.

use crate::ast::*;
use crate::diag::Diagnostic;
use crate::span::{FileId, Span};

/// A grammar rule that a syntax error can name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
#[allow(non_camel_case_types, clippy::upper_case_acronyms)] // the names are the grammar's
pub(super) enum Rule {
    /// `kw_WORD`: the keyword itself.
    Kw(&'static str),
    program,
    EOI,
    ident,
    service_ref,
    number,
    string,
    cidr_lit,
    label_key,
    open,
    close,
    arrow,
    equals,
    namespace_decl,
    namespace_labels,
    isolate,
    overlaps,
    direction,
    allow_dns,
    dns_decl,
    dns_namespace,
    dns_pods,
    dns_nodelocal,
    ip_lit,
    service_decl,
    pods,
    selector,
    label,
    set_requirement,
    set_op,
    absent,
    present,
    port_decl,
    end_number,
    protocol,
    flow,
    all_ports,
    flow_dir,
    peer,
    host,
    http_rules,
    http_rule,
    http_method,
    pods_peer,
    scope,
    all_namespaces,
    namespaces_sel,
    namespace_name,
    namespace_peer,
    all_pods,
    world,
    cidr,
    port_ref,
    port_number,
    syscalls,
    syscall_base,
    syscall_default,
    syscall_rule,
    syscall_action,
    errno_action,
    errno_name,
    syscall_condition,
    arg_condition,
    arg_ref,
    arg_op,
    arg_operand,
    arg_value,
    syscall_groups,
    syscall_names,
    syscall_name,
    admission_decl,
    applies,
    except_scope,
    namespace_names,
    forbid,
    require_labels,
    require_annotations,
    require,
    images,
    mode,
    pod_security,
    version_lit,
    exempt,
    exempt_images,
    forbid_host_paths,
    allow_capabilities,
    allow_volumes,
    id_rule,
    id_field,
    id_range,
    require_cel,
    expect_decl,
    endpoint,
    expect_cidr,
    verdict,
}

/// Where parsing stopped, and the rules that could have matched there.
pub(super) struct Failure {
    pub pos: usize,
    pub expected: Vec<Rule>,
}

/// The AST of one file and its string-escape diagnostics, or where the file stops matching.
pub(super) fn file(file: FileId, text: &str) -> Result<(File, Vec<Diagnostic>), Failure> {
    let mut p = Parser {
        text,
        bytes: text.as_bytes(),
        pos: 0,
        file,
        attempt_pos: 0,
        attempts: Vec::new(),
        diags: Vec::new(),
    };
    match p.program() {
        Some(out) => Ok((out, p.diags)),
        None => {
            let mut expected = p.attempts;
            expected.sort_unstable();
            expected.dedup();
            Err(Failure {
                pos: p.attempt_pos,
                expected,
            })
        }
    }
}

struct Parser<'a> {
    text: &'a str,
    bytes: &'a [u8],
    pos: usize,
    file: FileId,
    /// pest's error state: the furthest position a rule failed at, and the rules that did.
    attempt_pos: usize,
    attempts: Vec<Rule>,
    diags: Vec<Diagnostic>,
}

fn is_ident_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'-'
}

fn is_hex_or_sep(b: u8) -> bool {
    b.is_ascii_hexdigit() || b == b':' || b == b'.'
}

fn is_upper(b: u8) -> bool {
    b.is_ascii_uppercase()
}

/// How many leading bytes satisfy `f`.
fn run(bytes: &[u8], f: impl Fn(u8) -> bool) -> usize {
    bytes.iter().take_while(|&&b| f(b)).count()
}

impl<'a> Parser<'a> {
    // ------------------------------------------------------------ machinery

    fn rest(&self) -> &'a [u8] {
        self.bytes.get(self.pos..).unwrap_or(&[])
    }

    fn byte(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    /// A literal: not a rule, so not recorded when it fails.
    fn lit(&mut self, s: &str) -> bool {
        let hit = self.rest().starts_with(s.as_bytes());
        if hit {
            self.pos += s.len();
        }
        hit
    }

    /// `WHITESPACE* ~ (COMMENT ~ WHITESPACE*)*`.
    fn skip(&mut self) {
        loop {
            self.pos += run(self.rest(), |b| matches!(b, b' ' | b'\t' | b'\r' | b'\n'));
            let rest = self.text.get(self.pos..).unwrap_or("");
            if rest.starts_with("//") {
                self.pos += rest.find('\n').unwrap_or(rest.len());
            } else if let Some(body) = rest.strip_prefix("/*") {
                match body.find("*/") {
                    Some(end) => self.pos += 2 + end + 2,
                    // An unterminated block comment is not a comment: parsing stops at it.
                    None => return,
                }
            } else {
                return;
            }
        }
    }

    fn attempts_at(&self, pos: usize) -> usize {
        if pos == self.attempt_pos {
            self.attempts.len()
        } else {
            0
        }
    }

    /// pest's `ParserState::track`: a failed rule is recorded if it failed at the furthest
    /// position yet, in place of what its children recorded there, unless they recorded exactly
    /// one rule, which then stands for it.
    fn track(&mut self, rule: Rule, pos: usize, index: usize, prev: usize) {
        let curr = self.attempts_at(pos);
        if curr > prev && curr - prev == 1 {
            return;
        }
        if pos == self.attempt_pos {
            self.attempts.truncate(index);
        }
        if pos > self.attempt_pos {
            self.attempts.clear();
            self.attempt_pos = pos;
        }
        if pos == self.attempt_pos {
            self.attempts.push(rule);
        }
    }

    /// A rule: on failure it is recorded, and the position and diagnostics are put back.
    fn rule<T>(&mut self, rule: Rule, f: impl FnOnce(&mut Self) -> Option<T>) -> Option<T> {
        let start = self.pos;
        let index = if start == self.attempt_pos {
            self.attempts.len()
        } else {
            0
        };
        let prev = self.attempts_at(start);
        let diags = self.diags.len();
        let out = f(self);
        if out.is_none() {
            self.pos = start;
            self.diags.truncate(diags);
            self.track(rule, start, index, prev);
        }
        out
    }

    /// `(…)?`: on failure nothing is consumed.
    fn opt<T>(&mut self, f: impl FnOnce(&mut Self) -> Option<T>) -> Option<T> {
        let (pos, diags) = (self.pos, self.diags.len());
        let out = f(self);
        if out.is_none() {
            self.pos = pos;
            self.diags.truncate(diags);
        }
        out
    }

    /// `x*` in a rule that is not atomic: `(x ~ (skip ~ x)*)?`, each match pushed to `out`.
    fn many<T>(&mut self, out: &mut Vec<T>, mut f: impl FnMut(&mut Self) -> Option<T>) {
        let Some(first) = self.opt(&mut f) else {
            return;
        };
        out.push(first);
        loop {
            let next = self.opt(|p| {
                p.skip();
                f(p)
            });
            match next {
                Some(x) => out.push(x),
                None => return,
            }
        }
    }

    /// `item ~ ("," ~ item)*`: the items.
    fn list<T>(&mut self, mut item: impl FnMut(&mut Self) -> Option<T>) -> Option<Vec<T>> {
        let mut out = vec![item(self)?];
        self.skip();
        self.many(&mut out, |p| {
            if !p.lit(",") {
                return None;
            }
            p.skip();
            item(p)
        });
        Some(out)
    }

    /// The span from `start` to here, less the whitespace and comments pest leaves at the end of
    /// a rule whose optional tail did not match.
    fn span(&self, start: usize) -> Span {
        let text = self.text.get(start..self.pos).unwrap_or("");
        let len = if text.ends_with(char::is_whitespace) {
            trim_trailing(text).len()
        } else {
            text.len()
        };
        Span::new(self.file, start, start + len)
    }

    fn ident_from(&self, start: usize) -> Ident {
        Ident {
            text: self.text.get(start..self.pos).unwrap_or("").to_string(),
            span: self.span(start),
        }
    }

    /// An atomic rule matching the first `len(rest)` bytes; it fails if that is none.
    fn atom(&mut self, rule: Rule, len: impl FnOnce(&[u8]) -> usize) -> Option<Ident> {
        let start = self.pos;
        let n = len(self.rest());
        if n == 0 {
            self.fail_at(rule, start);
            return None;
        }
        self.pos += n;
        Some(self.ident_from(start))
    }

    /// An atomic rule failed: it has no children that were recorded.
    fn fail_at(&mut self, rule: Rule, pos: usize) {
        if pos > self.attempt_pos {
            self.attempts.clear();
            self.attempt_pos = pos;
        }
        if pos == self.attempt_pos {
            self.attempts.push(rule);
        }
    }

    /// `kw_WORD = @{ "WORD" ~ !ident_char }`.
    fn kw(&mut self, word: &'static str) -> Option<()> {
        let rest = self.rest();
        if rest.starts_with(word.as_bytes())
            && !rest.get(word.len()).copied().is_some_and(is_ident_char)
        {
            self.pos += word.len();
            Some(())
        } else {
            self.fail_at(Rule::Kw(word), self.pos);
            None
        }
    }

    /// A rule that is only a literal: `open = { "{" }`.
    fn punct(&mut self, rule: Rule, s: &str) -> Option<()> {
        if self.lit(s) {
            Some(())
        } else {
            self.fail_at(rule, self.pos);
            None
        }
    }

    /// A rule that is a keyword: `world = { kw_world }`; its span.
    fn kw_rule(&mut self, rule: Rule, word: &'static str) -> Option<Span> {
        self.rule(rule, |p| {
            let start = p.pos;
            p.kw(word)?;
            Some(p.span(start))
        })
    }

    /// A rule that is two keywords: `all_pods = { kw_all ~ kw_pods }`; its span.
    fn kw2(&mut self, rule: Rule, first: &'static str, second: &'static str) -> Option<Span> {
        self.rule(rule, |p| {
            let start = p.pos;
            p.kw(first)?;
            p.skip();
            p.kw(second)?;
            Some(p.span(start))
        })
    }

    // ------------------------------------------------------------ lexical

    fn ident(&mut self) -> Option<Ident> {
        self.atom(Rule::ident, |r| match r.first() {
            Some(b) if b.is_ascii_alphabetic() => 1 + run(r.get(1..).unwrap_or(&[]), is_ident_char),
            _ => 0,
        })
    }

    fn number(&mut self) -> Option<Ident> {
        self.atom(Rule::number, |r| run(r, |b| b.is_ascii_digit()))
    }

    fn end_number(&mut self) -> Option<Ident> {
        self.atom(Rule::end_number, |r| run(r, |b| b.is_ascii_digit()))
    }

    fn protocol(&mut self) -> Option<Ident> {
        self.atom(Rule::protocol, |r| run(r, |b| b.is_ascii_alphabetic()))
    }

    fn label_key(&mut self) -> Option<Ident> {
        self.atom(Rule::label_key, |r| {
            run(r, |b| {
                b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b'/')
            })
        })
    }

    fn cidr_lit(&mut self) -> Option<Ident> {
        self.atom(Rule::cidr_lit, |r| {
            let addr = run(r, is_hex_or_sep);
            if addr == 0 || r.get(addr) != Some(&b'/') {
                return 0;
            }
            let bits = run(r.get(addr + 1..).unwrap_or(&[]), |b| b.is_ascii_digit());
            if bits == 0 { 0 } else { addr + 1 + bits }
        })
    }

    /// `string = ${ "\"" ~ string_inner ~ "\"" }`, unescaped; the span keeps the quotes.
    fn string(&mut self) -> Option<Ident> {
        self.rule(Rule::string, |p| {
            let start = p.pos;
            if !p.lit("\"") {
                return None;
            }
            // string_inner = @{ (!("\"" | "\\" | "\n") ~ ANY | "\\" ~ ANY)* }: never fails.
            loop {
                match p.byte() {
                    None | Some(b'"') | Some(b'\n') => break,
                    Some(b'\\') => match p.text.get(p.pos + 1..).and_then(|r| r.chars().next()) {
                        Some(c) => p.pos += 1 + c.len_utf8(),
                        None => break,
                    },
                    // A byte of a longer character is never one of the three above.
                    Some(_) => p.pos += 1,
                }
            }
            if !p.lit("\"") {
                return None;
            }
            Some(p.unescape(start))
        })
    }

    fn unescape(&mut self, start: usize) -> Ident {
        let span = self.span(start);
        let raw = self.text.get(start..self.pos).unwrap_or("");
        unescape(span, raw, &mut self.diags)
    }

    /// `label_value = _{ string | ident | number }`.
    fn label_value(&mut self) -> Option<Ident> {
        self.string()
            .or_else(|| self.ident())
            .or_else(|| self.number())
    }

    /// `service_ref = ${ (ident ~ "/")? ~ ident }`.
    fn service_ref(&mut self) -> Option<ServiceRef> {
        self.rule(Rule::service_ref, |p| {
            let start = p.pos;
            let namespace = p.opt(|p| {
                let ns = p.ident()?;
                p.lit("/").then_some(ns)
            });
            let name = p.ident()?;
            Some(ServiceRef {
                namespace,
                name,
                span: p.span(start),
            })
        })
    }

    // ------------------------------------------------------------ declarations

    /// `program = { SOI ~ decl* ~ EOI }`.
    fn program(&mut self) -> Option<File> {
        self.rule(Rule::program, |p| {
            let mut out = File::default();
            p.skip();
            let mut decls = Vec::new();
            p.many(&mut decls, |p| p.decl(&mut out));
            p.skip();
            p.rule(Rule::EOI, |p| (p.pos == p.bytes.len()).then_some(()))?;
            Some(out)
        })
    }

    /// `decl = _{ namespace_decl | service_decl | admission_decl | expect_decl | dns_decl }`.
    fn decl(&mut self, out: &mut File) -> Option<()> {
        if let Some(ns) = self.namespace_decl() {
            out.namespaces.push(ns);
        } else if let Some(svc) = self.service_decl() {
            out.services.push(svc);
        } else if let Some(adm) = self.admission_decl() {
            out.admissions.push(adm);
        } else if let Some(exp) = self.expect_decl() {
            out.expects.push(exp);
        } else {
            out.dns.push(self.dns_decl()?);
        }
        Some(())
    }

    /// `open ~ item* ~ close`, the body of every block.
    fn block(&mut self, mut item: impl FnMut(&mut Self) -> Option<()>) -> Option<()> {
        self.punct(Rule::open, "{")?;
        self.skip();
        let mut done = Vec::new();
        self.many(&mut done, &mut item);
        self.skip();
        self.punct(Rule::close, "}")
    }

    fn namespace_decl(&mut self) -> Option<Namespace> {
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
            p.block(|p| {
                if let Some(i) = p.isolate() {
                    isolate.push(i);
                } else if let Some(s) = p.kw2(Rule::allow_dns, "allow", "dns") {
                    allow_dns.push(s);
                } else if let Some(l) = p.namespace_labels() {
                    labels.extend(l);
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
            })
        })
    }

    /// `namespace_labels = { kw_labels ~ label ~ ("," ~ label)* }`.
    fn namespace_labels(&mut self) -> Option<Vec<Label>> {
        self.rule(Rule::namespace_labels, |p| {
            p.kw("labels")?;
            p.skip();
            p.list(Self::label)
        })
    }

    /// `isolate = { kw_isolate ~ direction? }`.
    fn isolate(&mut self) -> Option<(Option<Direction>, Span)> {
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

    fn dns_decl(&mut self) -> Option<Dns> {
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

    // ------------------------------------------------------------ services

    fn service_decl(&mut self) -> Option<Service> {
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
                } else {
                    overlaps.extend(p.overlaps()?);
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
            })
        })
    }

    /// `overlaps = { kw_overlaps ~ ident ~ ("," ~ ident)* }`: the services named.
    fn overlaps(&mut self) -> Option<Vec<Ident>> {
        self.rule(Rule::overlaps, |p| {
            p.kw("overlaps")?;
            p.skip();
            p.list(Self::ident)
        })
    }

    /// `pods = { kw_pods ~ selector }`: the selector, spanning the whole line so that
    /// diagnostics about it point at all of it.
    fn pods(&mut self) -> Option<Selector> {
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
    fn selector(&mut self) -> Option<Selector> {
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
    fn requirement(&mut self) -> Option<Requirement> {
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
    fn label(&mut self) -> Option<Label> {
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
    fn set_requirement(&mut self) -> Option<Requirement> {
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
    fn port_decl(&mut self) -> Option<PortDecl> {
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
    fn flow(&mut self) -> Option<Flow> {
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
    fn peer(&mut self) -> Option<Peer> {
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
    fn cidr(&mut self) -> Option<Peer> {
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
    fn pods_peer(&mut self) -> Option<Peer> {
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
    fn namespaces_sel(&mut self) -> Option<Scope> {
        self.namespaces_selector().map(Scope::Namespaces)
    }

    fn namespaces_selector(&mut self) -> Option<Option<Selector>> {
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
    fn namespace_name(&mut self) -> Option<Scope> {
        self.rule(Rule::namespace_name, |p| {
            p.kw("namespace")?;
            p.skip();
            p.ident().map(Scope::Namespace)
        })
    }

    /// `http_rules = { kw_only ~ http_rule ~ ("," ~ http_rule)* }`, with
    /// `http_rule = { http_method ~ string? | string }`.
    fn http_rules(&mut self) -> Option<Vec<HttpRule>> {
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
    fn http_method(&mut self) -> Option<Ident> {
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
    fn port_ref(&mut self) -> Option<PortRef> {
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

    // ------------------------------------------------------------ syscalls

    /// `syscalls = { kw_syscalls ~ open ~ syscall_item* ~ close }`.
    fn syscalls(&mut self) -> Option<Syscalls> {
        self.rule(Rule::syscalls, |p| {
            let start = p.pos;
            p.kw("syscalls")?;
            p.skip();
            let mut base = Vec::new();
            let mut default = Vec::new();
            let mut rules = Vec::new();
            p.block(|p| {
                if let Some(b) = p.rule(Rule::syscall_base, |p| {
                    p.kw("base")?;
                    p.skip();
                    p.ident()
                }) {
                    base.push(b);
                } else if let Some(d) = p.rule(Rule::syscall_default, |p| {
                    p.kw("default")?;
                    p.skip();
                    p.syscall_action()
                }) {
                    default.push(d);
                } else {
                    rules.push(p.syscall_rule()?);
                }
                Some(())
            })?;
            Some(Syscalls {
                base,
                default,
                rules,
                span: p.span(start),
            })
        })
    }

    /// `syscall_action = { kw_allow | kw_deny | kw_log | kw_trace | kw_notify | kw_kill_process |
    /// kw_kill_thread | errno_action }`: the action and its span.
    fn syscall_action(&mut self) -> Option<(SyscallAction, Span)> {
        self.rule(Rule::syscall_action, |p| {
            let start = p.pos;
            let words = [
                ("allow", SyscallAction::Allow),
                ("deny", SyscallAction::Deny),
                ("log", SyscallAction::Log),
                ("trace", SyscallAction::Trace),
                ("notify", SyscallAction::Notify),
                ("kill-process", SyscallAction::KillProcess),
                ("kill-thread", SyscallAction::KillThread),
            ];
            let mut action = None;
            for (word, a) in words {
                if p.kw(word).is_some() {
                    action = Some(a);
                    break;
                }
            }
            let action = match action {
                Some(a) => a,
                None => p.rule(Rule::errno_action, |p| {
                    p.kw("errno")?;
                    p.skip();
                    let name = p.atom(Rule::errno_name, |r| match r.first() {
                        Some(&b) if is_upper(b) => {
                            1 + run(r.get(1..).unwrap_or(&[]), |b| {
                                is_upper(b) || b.is_ascii_digit()
                            })
                        }
                        _ => 0,
                    })?;
                    Some(SyscallAction::Errno(name))
                })?,
            };
            Some((action, p.span(start)))
        })
    }

    /// `syscall_rule = { syscall_action ~ (syscall_groups | syscall_names) ~ syscall_condition? }`.
    fn syscall_rule(&mut self) -> Option<SyscallRule> {
        self.rule(Rule::syscall_rule, |p| {
            let (action, action_span) = p.syscall_action()?;
            p.skip();
            let (groups, names) = match p.rule(Rule::syscall_groups, |p| {
                p.kw("group")?;
                p.skip();
                p.list(Self::ident)
            }) {
                Some(names) => (true, names),
                None => (
                    false,
                    p.rule(Rule::syscall_names, |p| {
                        p.list(|p| {
                            p.atom(Rule::syscall_name, |r| match r.first() {
                                Some(&b) if b.is_ascii_alphabetic() || b == b'_' => {
                                    1 + run(r.get(1..).unwrap_or(&[]), |b| {
                                        b.is_ascii_alphanumeric() || b == b'_'
                                    })
                                }
                                _ => 0,
                            })
                        })
                    })?,
                ),
            };
            p.skip();
            let conditions = p
                .opt(|p| {
                    p.rule(Rule::syscall_condition, |p| {
                        p.kw("if")?;
                        p.skip();
                        let mut out = vec![p.arg_condition()?];
                        p.skip();
                        p.many(&mut out, |p| {
                            p.kw("and")?;
                            p.skip();
                            p.arg_condition()
                        });
                        Some(out)
                    })
                })
                .unwrap_or_default();
            Some(SyscallRule {
                action,
                action_span,
                groups,
                names,
                conditions,
            })
        })
    }

    /// `arg_condition = { arg_ref ~ arg_op ~ arg_operand }`.
    fn arg_condition(&mut self) -> Option<ArgCondition> {
        self.rule(Rule::arg_condition, |p| {
            let start = p.pos;
            let arg = p.atom(Rule::arg_ref, |r| {
                if !r.starts_with(b"arg") {
                    return 0;
                }
                let digits = run(r.get(3..).unwrap_or(&[]), |b| b.is_ascii_digit());
                if digits == 0 { 0 } else { 3 + digits }
            })?;
            p.skip();
            let op = p.rule(Rule::arg_op, |p| {
                let start = p.pos;
                let hit = ["==", "!=", "<=", ">=", "<", ">"].iter().any(|s| p.lit(s))
                    || p.kw("has").is_some()
                    || p.kw("lacks").is_some()
                    || p.kw("in").is_some();
                hit.then(|| p.ident_from(start))
            })?;
            p.skip();
            let values = p.rule(Rule::arg_operand, |p| {
                let listed = p.opt(|p| {
                    if !p.lit("(") {
                        return None;
                    }
                    p.skip();
                    let values = p.list(Self::arg_value)?;
                    p.skip();
                    p.lit(")").then_some(values)
                });
                if listed.is_some() {
                    return listed;
                }
                let mut values = vec![p.arg_value()?];
                p.skip();
                p.many(&mut values, |p| {
                    if !p.lit("|") {
                        return None;
                    }
                    p.skip();
                    p.arg_value()
                });
                Some(values)
            })?;
            Some(ArgCondition {
                arg,
                op,
                values,
                span: p.span(start),
            })
        })
    }

    /// `arg_value = @{ "0x" ~ ASCII_HEX_DIGIT+ | ASCII_DIGIT+ | (ASCII_ALPHA_UPPER | "_") ~
    /// (ASCII_ALPHA_UPPER | ASCII_DIGIT | "_")* }`.
    fn arg_value(&mut self) -> Option<Ident> {
        self.atom(Rule::arg_value, |r| {
            if r.starts_with(b"0x") {
                let hex = run(r.get(2..).unwrap_or(&[]), |b| b.is_ascii_hexdigit());
                if hex > 0 {
                    return 2 + hex;
                }
            }
            let digits = run(r, |b| b.is_ascii_digit());
            if digits > 0 {
                return digits;
            }
            match r.first() {
                Some(&b) if is_upper(b) || b == b'_' => {
                    1 + run(r.get(1..).unwrap_or(&[]), |b| {
                        is_upper(b) || b.is_ascii_digit() || b == b'_'
                    })
                }
                _ => 0,
            }
        })
    }

    // ------------------------------------------------------------ admission

    fn admission_decl(&mut self) -> Option<Admission> {
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
    fn admission_item(&mut self, adm: &mut Admission) -> Option<()> {
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
            Some((patterns, p.string()?))
        }) {
            adm.exempt_images.push(line);
        } else if let Some(line) = self.rule(Rule::exempt, |p| {
            p.kw("exempt")?;
            p.skip();
            let check = p.ident()?;
            p.skip();
            Some((check, p.string()?))
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
        } else {
            adm.ids.push(self.id_rule()?);
        }
        Some(())
    }

    /// `RULE = { kw_WORD ~ item ~ ("," ~ item)* }`.
    fn keyword_list(
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
    fn keywords_list(
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
    fn scope_line(&mut self, rule: Rule) -> Option<(AdmissionScope, Span)> {
        self.rule(rule, |p| {
            let start = p.pos;
            let applies = rule == Rule::applies;
            if applies {
                for word in ["applies", "to", "workloads", "in"] {
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
    fn pod_security(&mut self) -> Option<(Ident, Option<Ident>, Span)> {
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
    fn id_rule(&mut self) -> Option<(Ident, Option<Vec<Ident>>, Span)> {
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

    // ------------------------------------------------------------ expectations

    /// `expect_decl = { kw_expect ~ endpoint ~ arrow ~ endpoint ~ (kw_on ~ port_ref)? ~ verdict }`.
    fn expect_decl(&mut self) -> Option<Expect> {
        self.rule(Rule::expect_decl, |p| {
            let start = p.pos;
            p.kw("expect")?;
            p.skip();
            let from = p.endpoint()?;
            p.skip();
            p.punct(Rule::arrow, "->")?;
            p.skip();
            let to = p.endpoint()?;
            p.skip();
            let port = p.opt(|p| {
                p.kw("on")?;
                p.skip();
                p.port_ref()
            });
            p.skip();
            let allowed = p.rule(Rule::verdict, |p| {
                if p.kw("allowed").is_some() {
                    Some(true)
                } else {
                    p.kw("denied").map(|()| false)
                }
            })?;
            Some(Expect {
                from,
                to,
                port,
                allowed,
                span: p.span(start),
            })
        })
    }

    /// `endpoint = { world | expect_cidr | service_ref }`.
    fn endpoint(&mut self) -> Option<Endpoint> {
        self.rule(Rule::endpoint, |p| {
            if let Some(s) = p.kw_rule(Rule::world, "world") {
                return Some(Endpoint::World(s));
            }
            if let Some(lit) = p.rule(Rule::expect_cidr, |p| {
                p.kw("cidr")?;
                p.skip();
                p.cidr_lit()
            }) {
                return Some(Endpoint::Cidr(lit));
            }
            p.service_ref().map(Endpoint::Service)
        })
    }
}

/// The string literal `raw` (quotes included) at `span`, unescaped; an unknown escape is an E0002
/// in `diags`.
pub(super) fn unescape(span: Span, raw: &str, diags: &mut Vec<Diagnostic>) -> Ident {
    let inner = raw.get(1..raw.len().saturating_sub(1)).unwrap_or("");
    let mut text = String::with_capacity(inner.len());
    let mut chars = inner.char_indices();
    while let Some((i, c)) = chars.next() {
        if c != '\\' {
            text.push(c);
            continue;
        }
        match chars.next() {
            Some((_, '"')) => text.push('"'),
            Some((_, '\\')) => text.push('\\'),
            Some((_, 'n')) => text.push('\n'),
            Some((_, 't')) => text.push('\t'),
            other => {
                let len = 1 + other.map(|(_, c)| c.len_utf8()).unwrap_or(0);
                let at = span.start + 1 + i;
                diags.push(
                    Diagnostic::error("E0002", "unknown escape in string")
                        .primary(
                            Span::new(span.file, at, at + len),
                            "not an escape warden knows",
                        )
                        .help("the escapes are `\\\"`, `\\\\`, `\\n` and `\\t`"),
                );
            }
        }
    }
    Ident { text, span }
}

/// `text` without the whitespace and `//` comments at its end.
pub(super) fn trim_trailing(mut text: &str) -> &str {
    loop {
        let t = text.trim_end();
        // A trailing `// comment` ends at a line break that was just trimmed, so it is on the
        // last line: an earlier line's comment is followed by more of the span (and searching the
        // whole span for one made each span cost its length).
        let broke = text
            .get(t.len()..)
            .is_some_and(|gap| gap.bytes().any(|b| b == b'\n'));
        let line = t.rfind('\n').map_or(0, |i| i + 1);
        match broke.then(|| comment_start(t.get(line..).unwrap_or(""))) {
            // What is left may end with another comment on the line before.
            Some(Some(i)) => text = t.get(..line + i).unwrap_or(""),
            _ => return t,
        }
    }
}

/// Where the `//` comment of `line` starts, if it has one outside a string (a string never spans
/// lines, so the line starts outside one).
fn comment_start(line: &str) -> Option<usize> {
    let b = line.as_bytes();
    let mut in_string = false;
    let mut i = 0;
    while let Some(&c) = b.get(i) {
        match c {
            b'\\' if in_string => i += 1,
            b'"' => in_string = !in_string,
            b'/' if !in_string && b.get(i + 1) == Some(&b'/') => return Some(i),
            _ => {}
        }
        i += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::trim_trailing;

    #[test]
    fn only_comments_that_end_the_span_are_trimmed() {
        let cases = [
            ("deny ptrace // c\n  ", "deny ptrace"),
            (
                "deny ptrace, // c\n  mount, bpf\n  ",
                "deny ptrace, // c\n  mount, bpf",
            ),
            ("x // one\n  // two\n", "x"),
            ("images from \"a//b\"\n", "images from \"a//b\""),
            ("x \"a\\\"//\" // c \"\n", "x \"a\\\"//\""),
            ("x // say \"hi\"\n", "x"),
            ("x  \t", "x"),
        ];
        for (text, trimmed) in cases {
            assert_eq!(trim_trailing(text), trimmed, "{text:?}");
        }
    }
}
