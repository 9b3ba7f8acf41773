//! Parsing: source text to AST, by recursive descent over `grammar/warden.pest` (`descent/`).
//!
//! Accepts any text that matches the grammar; rejects the rest with one `E0001` diagnostic per file
//! pointing at where the parse stopped and naming what could come there.
//!
//! ```text
//! service cart in shop { port grpc 7070/tcp }   // accepted
//! service cart shop { }                          // E0001: expected `in`
//! ```

mod descent;
#[cfg(test)]
mod oracle;

use crate::ast;
use crate::diag::Diagnostic;
use crate::span::{FileId, Span};
use descent::Rule;

/// Parses one file. On a syntax error the file contributes nothing to the program and one
/// diagnostic explains the error; other files are still parsed and checked.
pub fn parse_file(file: FileId, text: &str) -> (ast::File, Vec<Diagnostic>) {
    match descent::file(file, text) {
        Ok(parsed) => parsed,
        Err(failure) => (
            ast::File::default(),
            vec![syntax_error(file, text, failure.pos, &failure.expected)],
        ),
    }
}

/// A file as `fmt` reads it: its syntax tree, its diagnostics, where each declaration and each
/// item of a block starts, and the spans of its comments (both sorted, each once).
pub struct Laid {
    pub file: ast::File,
    pub diags: Vec<Diagnostic>,
    pub starts: Vec<usize>,
    pub comments: Vec<(usize, usize)>,
}

/// `parse_file`, and what `fmt` lays the file out by (`Laid`). `Err` holds the diagnostics of a
/// file that does not parse.
pub fn parse_for_layout(file: FileId, text: &str) -> Result<Laid, Vec<Diagnostic>> {
    match descent::file_and_starts(file, text) {
        Ok((ast, diags, mut starts, mut comments)) => {
            starts.sort_unstable();
            starts.dedup();
            comments.sort_unstable();
            comments.dedup();
            Ok(Laid {
                file: ast,
                diags,
                starts,
                comments,
            })
        }
        Err(failure) => Err(vec![syntax_error(
            file,
            text,
            failure.pos,
            &failure.expected,
        )]),
    }
}

fn syntax_error(file: FileId, text: &str, start: usize, expected: &[Rule]) -> Diagnostic {
    // Underline the token where parsing stopped, not an empty point.
    let rest = text.get(start..).unwrap_or("");
    let len = rest
        .char_indices()
        .find(|&(i, c)| c.is_whitespace() || (i > 0 && !is_word(c)))
        .map(|(i, _)| i)
        .unwrap_or(rest.len());
    let end = start + len.max(rest.chars().next().map(char::len_utf8).unwrap_or(0));
    let span = Span::new(file, start, end);
    let found = text
        .get(start..end)
        .filter(|s| !s.is_empty())
        .map(|s| format!("`{}`", s.escape_debug()))
        .unwrap_or_else(|| "end of file".to_string());
    let expected = describe(expected);
    Diagnostic::error("E0001", format!("expected {expected}, found {found}"))
        .primary(span, format!("expected {expected}"))
}

fn is_word(c: char) -> bool {
    c.is_alphanumeric() || c == '_' || c == '-'
}

/// Names grammar rules the way the README's language reference does.
fn describe(rules: &[Rule]) -> String {
    let mut names: Vec<String> = rules.iter().map(|r| rule_name(*r)).collect();
    names.sort_unstable();
    names.dedup();
    match names.as_slice() {
        [] => "something else".to_string(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} or {}", init.join(", "), last),
    }
}

fn rule_name(rule: Rule) -> String {
    let fixed = match rule {
        Rule::Kw(word) => return format!("`{word}`"),
        Rule::EOI | Rule::program => {
            "a declaration (`namespace`, `service`, `admission`, `expect`, `compliance`)"
        }
        Rule::namespace_decl => "`namespace`",
        Rule::service_decl => "`service`",
        Rule::admission_decl => "`admission`",
        Rule::expect_decl => "`expect`",
        Rule::open => "`{`",
        Rule::close => "`}`",
        Rule::arrow => "`->`",
        Rule::equals => "`=`",
        Rule::ident | Rule::service_ref => "a name",
        Rule::number | Rule::port_number | Rule::end_number => "a port number",
        Rule::string => "a quoted string",
        Rule::cidr_lit => "a CIDR such as `10.0.0.0/8`",
        Rule::label_key | Rule::label | Rule::selector | Rule::present => {
            "a label `key = \"value\"`"
        }
        Rule::set_requirement | Rule::absent => "a label requirement",
        Rule::set_op => "`in` or `notin`",
        Rule::namespace_labels => "`labels`",
        Rule::protocol => "a protocol (`tcp`, `udp`, `sctp`)",
        Rule::isolate => "`isolate`",
        Rule::overlaps => "`overlaps`",
        Rule::accept => "`accept`",
        Rule::direction => "`ingress` or `egress`",
        Rule::allow_dns => "`allow dns`",
        Rule::pods => "`pods`",
        Rule::port_decl => "`port`",
        Rule::flow | Rule::flow_dir => "`to` or `from`",
        Rule::syscalls => "`syscalls`",
        Rule::peer
        | Rule::world
        | Rule::cidr
        | Rule::pods_peer
        | Rule::namespace_peer
        | Rule::all_pods => {
            "a peer (a service, `pods(…)`, `namespace`, `namespaces(…)`, `all pods`, `world`, `cidr`)"
        }
        Rule::scope | Rule::all_namespaces | Rule::namespaces_sel | Rule::namespace_name => {
            "`namespace NAME`, `namespaces(…)` or `all namespaces`"
        }
        Rule::endpoint | Rule::expect_cidr => "a service, `world` or `cidr`",
        Rule::port_ref => "a port name or number",
        Rule::syscall_rule | Rule::syscall_action => {
            "an action (`allow`, `deny`, `errno E…`, `kill-process`, `kill-thread`, `log`, `trace`, `notify`)"
        }
        Rule::syscall_base => "`base`",
        Rule::syscall_default => "`default`",
        Rule::errno_action | Rule::errno_name => "an errno name such as `EPERM`",
        Rule::syscall_condition | Rule::arg_condition => "`if argN OP VALUE`",
        Rule::arg_ref => "an argument `arg0` … `arg5`",
        Rule::arg_op => "`==`, `!=`, `<`, `<=`, `>`, `>=`, `has`, `lacks` or `in`",
        Rule::arg_operand | Rule::arg_value => "a number or a constant such as `CLONE_THREAD`",
        Rule::syscall_groups => "`group`",
        Rule::syscall_names | Rule::syscall_name => "a system call name",
        Rule::applies => "`applies to`",
        Rule::except_scope => "`except`",
        Rule::namespace_names => "`namespace NAME`",
        Rule::forbid | Rule::forbid_host_paths => "`forbid`",
        Rule::require | Rule::require_labels | Rule::require_annotations | Rule::require_cel => {
            "`require`"
        }
        Rule::exempt | Rule::exempt_images => "`exempt`",
        Rule::allow_capabilities | Rule::allow_volumes => "`allow`",
        Rule::id_rule | Rule::id_field => {
            "`run-as-user`, `run-as-group`, `fs-group` or `supplemental-groups`"
        }
        Rule::id_range => "an id or a range `FROM-TO`",
        Rule::images => "`images from`",
        Rule::mode => "`mode`",
        Rule::verdict => "`allowed` or `denied`",
        Rule::dns_decl => "`dns`",
        Rule::dns_namespace => "`namespace`",
        Rule::dns_pods => "`pods`",
        Rule::dns_nodelocal => "`nodelocal`",
        Rule::ip_lit => "an IP address",
        Rule::host => "`host`",
        Rule::http_rules => "`only`",
        Rule::http_rule => "an HTTP method or a quoted path",
        Rule::http_method => "an HTTP method such as `GET`",
        Rule::all_ports => "`all ports`",
        Rule::pod_security => "`pod-security`",
        Rule::version_lit => "a version such as `v1.36`",
        Rule::owner => "`owner`",
        Rule::until => "`until`",
        Rule::date_lit => "a date such as `2027-03-31`",
        Rule::compliance_decl => "`compliance`",
        Rule::framework => "`framework`",
        Rule::claim_scope => "`applies to`",
        Rule::waive => "`waive`",
        Rule::control_id => "a control such as `AC-6(10)` or `5.2.2`",
    };
    fixed.to_string()
}

/// Parses every file of `sources`, on every core.
pub fn all(sources: &crate::span::SourceMap) -> (Vec<crate::ast::File>, Vec<Diagnostic>) {
    let ids: Vec<usize> = (0..sources.len()).collect();
    let mut files = Vec::with_capacity(sources.len());
    let mut diagnostics = Vec::new();
    for (file, diags) in crate::parallel::map(&ids, |&id| parse_file(id, sources.text(id))) {
        files.push(file);
        diagnostics.extend(diags);
    }
    (files, diagnostics)
}
