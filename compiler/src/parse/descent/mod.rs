//! Recursive descent over `grammar/warden.pest`, building the AST as it goes.
//!
//! One function per grammar rule, in the grammar's order of alternatives, with the grammar's
//! implicit whitespace and comments (`skip`) exactly where pest puts them: between the elements of
//! a sequence, and between the repetitions of `x*`, but not inside `@{…}` and `${…}` rules. The
//! spans and the syntax errors are therefore pest's: a failed rule is recorded the way pest's
//! `ParserState::track` records it, so the error names what pest would name at the same place. The
//! unit tests of `parse/oracle/` hold this to the grammar itself, run by pest.

mod admission;
mod declarations;
mod expects;
mod services;
mod syscalls;

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
    accept,
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
    owner,
    until,
    date_lit,
    compliance_decl,
    framework,
    claim_scope,
    waive,
    control_id,
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
    parse(file, text, None).map(|(out, diags, _, _)| (out, diags))
}

/// `file`, and where each declaration and each item of a block starts (`fmt` puts each on a line
/// of its own), in no particular order.
pub(super) fn file_and_starts(file: FileId, text: &str) -> Result<Parsed, Failure> {
    parse(file, text, Some(Vec::new()))
}

/// A file parsed for `fmt`: the tree, its diagnostics, where declarations and items start, and
/// the spans of its comments.
pub(super) type Parsed = (File, Vec<Diagnostic>, Vec<usize>, Vec<(usize, usize)>);

fn parse(file: FileId, text: &str, starts: Option<Vec<usize>>) -> Result<Parsed, Failure> {
    let mut p = Parser {
        text,
        bytes: text.as_bytes(),
        pos: 0,
        file,
        attempt_pos: 0,
        attempts: Vec::new(),
        diags: Vec::new(),
        starts,
        comments: Vec::new(),
    };
    match p.program() {
        Some(out) => Ok((out, p.diags, p.starts.unwrap_or_default(), p.comments)),
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
    /// Where declarations and block items start, and the spans of comments, when asked
    /// (`file_and_starts`); a failed alternative takes back what it recorded, as it takes back
    /// its diagnostics. Which text is a comment depends on the rule (`a//b` is one label key), so
    /// only the parser can say.
    starts: Option<Vec<usize>>,
    comments: Vec<(usize, usize)>,
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
            let start = self.pos;
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
            if self.starts.is_some() {
                self.comments.push((start, self.pos));
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
        let starts = self.starts.as_ref().map_or(0, Vec::len);
        let comments = self.comments.len();
        let out = f(self);
        if out.is_none() {
            self.pos = start;
            self.diags.truncate(diags);
            if let Some(s) = &mut self.starts {
                s.truncate(starts);
            }
            self.comments.truncate(comments);
            self.track(rule, start, index, prev);
        }
        out
    }

    /// `(…)?`: on failure nothing is consumed.
    fn opt<T>(&mut self, f: impl FnOnce(&mut Self) -> Option<T>) -> Option<T> {
        let (pos, diags) = (self.pos, self.diags.len());
        let starts = self.starts.as_ref().map_or(0, Vec::len);
        let comments = self.comments.len();
        let out = f(self);
        if out.is_none() {
            self.pos = pos;
            self.diags.truncate(diags);
            if let Some(s) = &mut self.starts {
                s.truncate(starts);
            }
            self.comments.truncate(comments);
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
