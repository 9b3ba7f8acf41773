//! What the server answers: hover, completion, quick fixes and formatting, from the workspace's
//! last analysis and the text as the editor has it.

use super::symbols::{self, Symbol};
use super::workspace::{Doc, Workspace};
use crate::diag::{Diagnostic, Severity};
use lsp_types::{
    CodeAction, CodeActionKind, CompletionItem, CompletionItemKind, Hover, HoverContents,
    MarkupContent, MarkupKind, Position, Range, TextEdit, Uri, WorkspaceEdit,
};
use std::collections::{BTreeSet, HashMap};

/// The word at `offset`: a name as the language spells one (`ns/name`, `kill-process`, `W0306`).
fn word_at(text: &str, offset: usize) -> Option<(usize, &str)> {
    let is_word = |c: char| c.is_ascii_alphanumeric() || "_-/.".contains(c);
    let start = text
        .get(..offset)?
        .rfind(|c| !is_word(c))
        .map_or(0, |i| i + 1);
    let end = offset
        + text
            .get(offset..)?
            .find(|c| !is_word(c))
            .unwrap_or(text.len() - offset);
    let word = text.get(start..end)?;
    (!word.is_empty()).then_some((start, word))
}

/// The blocks open at `offset`, outermost first, each by the first word of its header
/// (`service`, `syscalls`, …), read from the text so that a file being typed is understood too.
fn blocks_at(text: &str, offset: usize) -> Vec<String> {
    let bytes = text.as_bytes();
    let mut stack: Vec<String> = Vec::new();
    let mut header_start = 0;
    let mut i = 0;
    while i < offset.min(bytes.len()) {
        match bytes.get(i) {
            Some(b'"') => {
                i += 1;
                while let Some(&b) = bytes.get(i) {
                    i += if b == b'\\' { 2 } else { 1 };
                    if b == b'"' || b == b'\n' {
                        break;
                    }
                }
                continue;
            }
            Some(b'/') if bytes.get(i + 1) == Some(&b'/') => {
                i += text
                    .get(i..)
                    .and_then(|r| r.find('\n'))
                    .unwrap_or(bytes.len() - i);
                continue;
            }
            Some(b'{') => {
                let header = text.get(header_start..i).unwrap_or_default();
                let last = header
                    .rsplit(['\n', '}'])
                    .next()
                    .unwrap_or_default()
                    .split_whitespace()
                    .next()
                    .unwrap_or_default();
                stack.push(last.to_string());
                header_start = i + 1;
            }
            Some(b'}') => {
                stack.pop();
                header_start = i + 1;
            }
            Some(b'\n') => header_start = i + 1,
            _ => {}
        }
        i += 1;
    }
    stack
}

fn markdown(text: String) -> Hover {
    Hover {
        contents: HoverContents::Markup(MarkupContent {
            kind: MarkupKind::Markdown,
            value: text,
        }),
        range: None,
    }
}

fn line_of(ws: &Workspace, span: crate::span::Span) -> String {
    let Some(doc) = ws.docs.get(span.file) else {
        return String::new();
    };
    let p = doc.position(span.start);
    format!("{}:{}", doc.name, p.line + 1)
}

fn source_text(ws: &Workspace, span: crate::span::Span) -> String {
    ws.docs
        .get(span.file)
        .and_then(|d| d.text.get(span.range()))
        .map(|t| t.split_whitespace().collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

pub fn hover(ws: &Workspace, uri: &Uri, position: Position) -> Option<Hover> {
    let id = ws.find(uri)?;
    let doc = ws.docs.get(id)?;
    let offset = doc.offset(position);
    let index = symbols::index(&ws.asts);
    if let Some(o) = symbols::at(&index, id, offset) {
        return Some(markdown(match &o.symbol {
            Symbol::Service(ns, name) => service_hover(ws, &index, ns, name),
            Symbol::Namespace(ns) => namespace_hover(ws, ns),
            Symbol::Port(ns, svc, port) => {
                let decl = index
                    .iter()
                    .find(|d| d.declaration && d.symbol == o.symbol)
                    .map(|d| d.span);
                let line = ws
                    .asts
                    .iter()
                    .flat_map(|f| &f.services)
                    .filter(|s| s.namespace.text == *ns && s.name.text == *svc)
                    .flat_map(|s| &s.ports)
                    .find(|p| p.name.text == *port)
                    .map(|p| source_text(ws, p.span));
                format!(
                    "**port `{port}`** of service `{ns}/{svc}`\n\n`{}`{}",
                    line.unwrap_or_default(),
                    decl.map(|d| format!(" ({})", line_of(ws, d)))
                        .unwrap_or_default()
                )
            }
        }));
    }
    let (_, word) = word_at(&doc.text, offset)?;
    if let Some(text) = crate::diag::codes::explain(word) {
        return Some(markdown(text.to_string()));
    }
    let blocks = blocks_at(&doc.text, offset);
    let catalog = crate::catalog::get();
    if blocks.last().is_some_and(|b| b == "syscalls") {
        if let Some((group, calls)) = catalog.group(word) {
            let calls: Vec<&str> = calls.iter().map(String::as_str).collect();
            return Some(markdown(format!(
                "**group `{group}`**: {} system calls\n\n{}",
                calls.len(),
                calls.join(", ")
            )));
        }
        if let Some(name) = catalog.syscall(word) {
            return Some(markdown(syscall_hover(ws, id, offset, name)));
        }
    }
    if blocks.last().is_some_and(|b| b == "admission") {
        let pss = crate::catalog::pod_security::get();
        if let Some(check) =
            crate::catalog::pod_security::CheckId::parse(word).and_then(|c| pss.check(c))
        {
            let level = check.level().map_or("", |l| l.name());
            return Some(markdown(format!(
                "**Pod Security check `{word}`** ({level})\n\nLooks at: {}",
                check.fields
            )));
        }
    }
    None
}

fn service_hover(ws: &Workspace, index: &[symbols::Occurrence], ns: &str, name: &str) -> String {
    let Some(svc) = ws
        .asts
        .iter()
        .flat_map(|f| &f.services)
        .find(|s| s.namespace.text == ns && s.name.text == name)
    else {
        return format!("`{ns}/{name}`: no such service");
    };
    let mut out = format!(
        "**service `{ns}/{name}`** ({})\n\n",
        line_of(ws, svc.name.span)
    );
    for sel in &svc.pods {
        out.push_str(&format!("- `{}`\n", source_text(ws, sel.span)));
    }
    for port in &svc.ports {
        out.push_str(&format!("- `{}`\n", source_text(ws, port.span)));
    }
    // Flows in both directions: its own, and the others' that name it.
    let me = Symbol::Service(ns.to_string(), name.to_string());
    let mut own: Vec<String> = svc
        .flows
        .iter()
        .map(|f| format!("- `{}` ({})", source_text(ws, f.span), line_of(ws, f.span)))
        .collect();
    let named: BTreeSet<(usize, usize)> = index
        .iter()
        .filter(|o| !o.declaration && o.symbol == me)
        .map(|o| (o.span.file, o.span.start))
        .collect();
    let mut theirs = Vec::new();
    for f in &ws.asts {
        for other in &f.services {
            for flow in &other.flows {
                let names_me = named.iter().any(|&(file, at)| {
                    flow.span.file == file && flow.span.start <= at && at < flow.span.end
                });
                if names_me {
                    theirs.push(format!(
                        "- `{}/{}`: `{}` ({})",
                        other.namespace.text,
                        other.name.text,
                        source_text(ws, flow.span),
                        line_of(ws, flow.span)
                    ));
                }
            }
        }
    }
    if own.is_empty() && theirs.is_empty() {
        own.push("- none".to_string());
    }
    out.push_str("\n**flows it declares**\n");
    out.push_str(&own.join("\n"));
    if !theirs.is_empty() {
        out.push_str("\n\n**flows others declare with it**\n");
        out.push_str(&theirs.join("\n"));
    }
    let program = ws.analysis.as_ref().and_then(|a| a.program.as_ref());
    let id = crate::ir::ServiceId {
        namespace: ns.to_string(),
        name: name.to_string(),
    };
    if let Some(program) = program
        && let Some(s) = program.services.get(&id)
    {
        let namespace = program.namespaces.get(ns);
        let isolated = s.isolate_ingress
            || s.isolate_egress
            || namespace.is_some_and(crate::ir::Namespace::isolated);
        let mut files = Vec::new();
        if isolated {
            files.push(format!(
                "`netpol/{ns}/{name}.yaml` or `cilium/{ns}/{name}.yaml`"
            ));
        }
        if s.syscalls.is_some() {
            files.push(format!(
                "`seccomp/{ns}/{name}.json` (`spo/{ns}/{name}.yaml` with `--target spo`)"
            ));
        }
        out.push_str("\n\n**generated**: ");
        out.push_str(&if files.is_empty() {
            "no policy of its own (neither it nor its namespace isolates)".to_string()
        } else {
            files.join(", ")
        });
    }
    out
}

fn namespace_hover(ws: &Workspace, ns: &str) -> String {
    let decl = ws
        .asts
        .iter()
        .flat_map(|f| &f.namespaces)
        .find(|n| n.name.text == ns);
    let services = ws
        .asts
        .iter()
        .flat_map(|f| &f.services)
        .filter(|s| s.namespace.text == ns)
        .count();
    let mut out = format!("**namespace `{ns}`**, {services} services");
    if let Some(decl) = decl {
        out.push_str(&format!(" ({})\n", line_of(ws, decl.name.span)));
        for (_, span) in &decl.isolate {
            out.push_str(&format!("\n- `{}`", source_text(ws, *span)));
        }
        if !decl.allow_dns.is_empty() {
            out.push_str("\n- `allow dns`");
        }
    }
    out
}

/// What the service's profile does with a call: `warden explain 'SERVICE syscall NAME'`.
fn syscall_hover(ws: &Workspace, file: usize, offset: usize, name: &str) -> String {
    let catalog = crate::catalog::get();
    let groups: Vec<&str> = catalog
        .group_names()
        .filter(|g| {
            catalog
                .group(g)
                .is_some_and(|(_, calls)| calls.contains(name))
        })
        .collect();
    let mut out = format!("**system call `{name}`**");
    if !groups.is_empty() {
        out.push_str(&format!(", in groups {}", groups.join(", ")));
    }
    let service = ws.asts.get(file).and_then(|f| {
        f.services
            .iter()
            .find(|s| s.span.start <= offset && offset <= s.span.end)
    });
    if let Some(svc) = service {
        let query = format!("{}/{} syscall {name}", svc.namespace.text, svc.name.text);
        let mut sources = crate::span::SourceMap::new();
        for doc in &ws.docs {
            sources.add(doc.name.clone(), doc.text.clone());
        }
        let (_, diags, _) = crate::explain::explain(sources, &query);
        if let Some(answer) = diags.iter().find(|d| d.severity == Severity::Note) {
            out.push_str(&format!("\n\n{}", answer.message));
            for note in &answer.notes {
                out.push_str(&format!("\n\n{note}"));
            }
        }
    }
    out
}

fn item(label: &str, kind: CompletionItemKind) -> CompletionItem {
    CompletionItem {
        label: label.to_string(),
        kind: Some(kind),
        ..CompletionItem::default()
    }
}

fn keywords(words: &[&str]) -> Vec<CompletionItem> {
    words
        .iter()
        .map(|w| item(w, CompletionItemKind::KEYWORD))
        .collect()
}

pub fn completion(ws: &Workspace, uri: &Uri, position: Position) -> Vec<CompletionItem> {
    let Some(doc) = ws.doc(uri) else {
        return Vec::new();
    };
    let offset = doc.offset(position);
    let line_start = doc
        .text
        .get(..offset)
        .and_then(|t| t.rfind('\n'))
        .map_or(0, |i| i + 1);
    let before = doc.text.get(line_start..offset).unwrap_or_default();
    // The words before the one being typed.
    let typed_over = !before.ends_with(|c: char| c.is_whitespace() || c == ',' || c == '(');
    let mut words: Vec<&str> = before
        .split(|c: char| c.is_whitespace() || c == ',' || c == '(')
        .filter(|w| !w.is_empty())
        .collect();
    if typed_over {
        words.pop();
    }
    let blocks = blocks_at(&doc.text, offset);
    let block = blocks.last().map(String::as_str).unwrap_or("");
    let first = words.first().copied().unwrap_or("");
    let last = words.last().copied().unwrap_or("");
    let enclosing = enclosing_service(ws, uri, offset);
    let namespace = enclosing.as_ref().map(|(ns, _)| ns.clone()).or_else(|| {
        (block == "namespace")
            .then(|| header_name(&doc.text, offset, "namespace"))
            .flatten()
    });
    let catalog = crate::catalog::get();
    if last == "accept" {
        return crate::diag::codes::CODES
            .iter()
            .filter(|(c, _)| c.starts_with('W') && *c != "W0116")
            .map(|(c, text)| CompletionItem {
                detail: text
                    .lines()
                    .next()
                    .map(|l| l.trim_start_matches("# ").to_string()),
                ..item(c, CompletionItemKind::CONSTANT)
            })
            .collect();
    }
    if (first == "to" || first == "from") && words.contains(&"on") {
        // Ports of the server: the one peer of `to`, or the service itself for `from`.
        let server = if first == "from" {
            enclosing.clone()
        } else {
            words.get(1).map(|peer| match peer.split_once('/') {
                Some((ns, name)) => (ns.to_string(), name.to_string()),
                None => (namespace.clone().unwrap_or_default(), peer.to_string()),
            })
        };
        let mut out = keywords(&["all ports", "only"]);
        if let Some((ns, name)) = server {
            out.extend(
                ws.asts
                    .iter()
                    .flat_map(|f| &f.services)
                    .filter(|s| s.namespace.text == ns && s.name.text == name)
                    .flat_map(|s| &s.ports)
                    .map(|p| CompletionItem {
                        detail: Some(source_text(ws, p.span)),
                        ..item(&p.name.text, CompletionItemKind::FIELD)
                    }),
            );
        }
        return out;
    }
    if first == "to" || first == "from" || (first == "expect" && block.is_empty()) {
        let mut out = keywords(&[
            "world",
            "cidr",
            "host",
            "pods(",
            "namespace",
            "namespaces(",
            "all pods",
        ]);
        out.extend(services_in_scope(ws, namespace.as_deref()));
        return out;
    }
    if first == "service" && words.len() == 3 && last == "in" {
        return namespaces(ws);
    }
    match block {
        "syscalls" => {
            if last == "group" || (words.contains(&"group") && before.trim_end().ends_with(',')) {
                return catalog
                    .group_names()
                    .map(|g| item(g, CompletionItemKind::MODULE))
                    .collect();
            }
            if words.is_empty() {
                return keywords(&[
                    "allow",
                    "deny",
                    "errno",
                    "log",
                    "trace",
                    "notify",
                    "kill-process",
                    "kill-thread",
                    "base",
                    "default",
                ]);
            }
            if matches!(first, "base") {
                return keywords(&["docker-default", "runtime-default"]);
            }
            let mut out = keywords(&["group"]);
            out.extend(
                catalog
                    .all_names()
                    .into_iter()
                    .map(|n| item(n, CompletionItemKind::FUNCTION)),
            );
            out
        }
        "admission" => {
            let pss = || {
                crate::catalog::pod_security::CheckId::ALL
                    .iter()
                    .map(|c| item(c.name(), CompletionItemKind::ENUM_MEMBER))
                    .collect::<Vec<_>>()
            };
            match (words.as_slice(), last) {
                ([], _) => keywords(&[
                    "applies to workloads in",
                    "except",
                    "forbid",
                    "require",
                    "images from",
                    "mode",
                    "pod-security",
                    "exempt",
                    "allow capabilities",
                    "allow volumes",
                    "run-as-user",
                    "run-as-group",
                    "fs-group",
                    "supplemental-groups",
                    "accept",
                ]),
                (_, "forbid") => {
                    let mut out = keywords(&["host-paths"]);
                    out.extend(
                        crate::check::FORBID_RULES
                            .iter()
                            .map(|r| item(r, CompletionItemKind::ENUM_MEMBER)),
                    );
                    out
                }
                (_, "require") => {
                    let mut out = keywords(&["labels", "annotations", "cel"]);
                    out.extend(
                        crate::check::REQUIRE_RULES
                            .iter()
                            .map(|r| item(r, CompletionItemKind::ENUM_MEMBER)),
                    );
                    out
                }
                (_, "exempt") => {
                    let mut out = keywords(&["images"]);
                    out.extend(pss());
                    out
                }
                (_, "pod-security") => keywords(&["baseline", "restricted"]),
                (_, "mode") => keywords(&["deny", "warn", "audit"]),
                (_, "namespace" | "namespaces" | "in") => namespaces(ws),
                _ => Vec::new(),
            }
        }
        "service" if words.is_empty() => keywords(&[
            "pods", "port", "to", "from", "syscalls", "isolate", "overlaps", "accept",
        ]),
        "service" if first == "overlaps" => services_in_scope(ws, namespace.as_deref())
            .into_iter()
            .filter(|i| !i.label.contains('/'))
            .collect(),
        "namespace" if words.is_empty() => {
            keywords(&["isolate", "allow dns", "labels", "to", "from", "accept"])
        }
        "dns" if words.is_empty() => keywords(&["namespace", "pods", "nodelocal"]),
        "compliance" => {
            let frameworks = || {
                crate::catalog::controls::all()
                    .iter()
                    .map(|f| item(&f.framework, CompletionItemKind::ENUM_MEMBER))
                    .collect::<Vec<_>>()
            };
            match (words.as_slice(), last) {
                ([], _) => keywords(&["framework", "applies to", "except", "waive"]),
                (_, "framework" | ",") if first == "framework" => frameworks(),
                ([_], "waive") => frameworks(),
                ([_, framework], _) if first == "waive" => {
                    crate::catalog::controls::framework(framework)
                        .map(|f| {
                            f.controls
                                .iter()
                                .filter(|c| c.in_reach())
                                .map(|c| item(&c.id, CompletionItemKind::ENUM_MEMBER))
                                .collect()
                        })
                        .unwrap_or_default()
                }
                (_, "namespace" | "namespaces" | "to") => namespaces(ws),
                _ => Vec::new(),
            }
        }
        "" if words.is_empty() => keywords(&[
            "namespace",
            "service",
            "admission",
            "expect",
            "dns",
            "compliance",
        ]),
        _ => Vec::new(),
    }
}

/// The words of the last line before `offset` that starts with `keyword` (a block's header).
fn header<'a>(text: &'a str, offset: usize, keyword: &str) -> Option<Vec<&'a str>> {
    let line = text
        .get(..offset)?
        .lines()
        .rev()
        .find(|l| l.trim_start().starts_with(&format!("{keyword} ")))?;
    Some(
        line.split(|c: char| c.is_whitespace() || c == '{')
            .filter(|w| !w.is_empty())
            .collect(),
    )
}

fn header_name(text: &str, offset: usize, keyword: &str) -> Option<String> {
    header(text, offset, keyword)?.get(1).map(|w| w.to_string())
}

fn enclosing_service(ws: &Workspace, uri: &Uri, offset: usize) -> Option<(String, String)> {
    let doc = ws.doc(uri)?;
    let blocks = blocks_at(&doc.text, offset);
    if !blocks.iter().any(|b| b == "service") {
        return None;
    }
    match header(&doc.text, offset, "service")?.as_slice() {
        [_, name, "in", ns, ..] => Some((ns.to_string(), name.to_string())),
        _ => None,
    }
}

fn services_in_scope(ws: &Workspace, namespace: Option<&str>) -> Vec<CompletionItem> {
    let mut seen = BTreeSet::new();
    ws.asts
        .iter()
        .flat_map(|f| &f.services)
        .filter_map(|s| {
            let label = if Some(s.namespace.text.as_str()) == namespace {
                s.name.text.clone()
            } else {
                format!("{}/{}", s.namespace.text, s.name.text)
            };
            seen.insert(label.clone())
                .then(|| item(&label, CompletionItemKind::CLASS))
        })
        .collect()
}

fn namespaces(ws: &Workspace) -> Vec<CompletionItem> {
    let names: BTreeSet<&str> = ws
        .asts
        .iter()
        .flat_map(|f| {
            f.namespaces
                .iter()
                .map(|n| n.name.text.as_str())
                .chain(f.services.iter().map(|s| s.namespace.text.as_str()))
        })
        .collect();
    names
        .into_iter()
        .map(|n| item(n, CompletionItemKind::MODULE))
        .collect()
}

/// Quick fixes for the diagnostics of `uri` that touch `range`: a "did you mean" applied, an
/// `accept` that acknowledges nothing removed.
pub fn code_actions(ws: &Workspace, uri: &Uri, range: Range) -> Vec<CodeAction> {
    let (Some(id), Some(analysis)) = (ws.find(uri), &ws.analysis) else {
        return Vec::new();
    };
    let Some(doc) = ws.docs.get(id) else {
        return Vec::new();
    };
    let (from, to) = (doc.offset(range.start), doc.offset(range.end));
    let mut out = Vec::new();
    for d in &analysis.diagnostics {
        let Some(span) = d
            .span()
            .filter(|s| s.file == id && s.start <= to && from <= s.end)
        else {
            continue;
        };
        let edit = if let Some(name) = suggestion(d) {
            Some((format!("Replace with `{name}`"), doc.range(span), name))
        } else if d.code == "W0116" {
            // The whole line, with its end.
            let start = doc
                .text
                .get(..span.start)
                .and_then(|t| t.rfind('\n'))
                .map_or(0, |i| i + 1);
            let end = doc
                .text
                .get(span.end..)
                .and_then(|t| t.find('\n'))
                .map_or(doc.text.len(), |i| span.end + i + 1);
            let whole = crate::span::Span::new(id, start, end);
            Some((
                "Remove the `accept` line".to_string(),
                doc.range(whole),
                String::new(),
            ))
        } else {
            None
        };
        if let Some((title, range, new_text)) = edit {
            // lsp-types' own map type for edits; its Uri's interior cache never changes its hash.
            #[allow(clippy::mutable_key_type)]
            let mut changes = HashMap::new();
            changes.insert(uri.clone(), vec![TextEdit { range, new_text }]);
            out.push(CodeAction {
                title,
                kind: Some(CodeActionKind::QUICKFIX),
                diagnostics: Some(vec![super::lsp_diagnostic(doc, d)]),
                edit: Some(WorkspaceEdit {
                    changes: Some(changes),
                    ..WorkspaceEdit::default()
                }),
                is_preferred: Some(true),
                ..CodeAction::default()
            });
        }
    }
    out
}

/// The name a "did you mean `x`?" help suggests.
fn suggestion(d: &Diagnostic) -> Option<String> {
    let help = d.help.as_deref()?;
    let rest = help.split("did you mean `").nth(1)?;
    let name = rest.split('`').next()?;
    (!name.is_empty()).then(|| name.to_string())
}

/// The whole document in the canonical layout, or why it cannot be formatted.
pub fn formatting(doc: &Doc) -> Result<Vec<TextEdit>, String> {
    match crate::format::source::format(0, &doc.text) {
        Ok(text) if text == doc.text => Ok(Vec::new()),
        Ok(text) => Ok(vec![TextEdit {
            range: Range::new(Position::new(0, 0), doc.position(doc.text.len())),
            new_text: text,
        }]),
        Err(diags) => Err(diags
            .first()
            .map_or_else(|| "cannot format".to_string(), |d| d.message.clone())),
    }
}
