//! `warden explain FROM -> TO [on PORT]`: whether a connection is allowed, and why; and
//! `warden explain SERVICE syscall NAME`: what the service's seccomp profile does with a call,
//! and which declaration decides it.
//!
//! The question is written as an expectation would be and checked with the program, so it
//! resolves names, ports and CIDRs with the same rules and diagnostics:
//! ```text
//! warden explain frontend -> cart on grpc      // allowed, by the flows that say so
//! warden explain world -> redis                // denied, by the isolation that denies it
//! ```

use crate::diag::{Diagnostic, Label};
use crate::ir::connectivity::{Answer, Evaluator, Outcome, PolicyRef};
use crate::ir::regions::TooMany;
use crate::ir::{Probe, Program, ServiceId};
use crate::span::{SourceMap, Span};

/// The name of the source that holds the question.
pub const QUERY_FILE: &str = "<question>";

/// What `explain` found, for its exit code: the connection (or call) allowed, denied, allowed in
/// part or depending on what only the runtime knows, or no answer (the program or the question
/// has errors).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Found {
    Allowed,
    Denied,
    Partly,
    Problem,
}

/// Answers `query` about the program in `sources`. The answer is a note; problems with the program
/// or the question are errors, as `build` would report them.
pub fn explain(mut sources: SourceMap, query: &str) -> (SourceMap, Vec<Diagnostic>, Found) {
    let words: Vec<&str> = query.split_whitespace().collect();
    if let [service, "syscall", name] = words.as_slice() {
        return explain_syscall(sources, service, name);
    }
    // The question is checked as an expectation, so it resolves names, ports and CIDRs with the
    // same rules and diagnostics; its own verdict is the answer, not an error.
    let query_file = sources.add(QUERY_FILE.to_string(), format!("expect {query} allowed"));
    let (files, mut diags) = crate::parse::all(&sources);
    let program = if diags.iter().any(Diagnostic::is_error) {
        None
    } else {
        let (program, found) =
            crate::check::check_with(&sources, &files, crate::check::Expects::Keep);
        diags.extend(found);
        program
    };
    diags.retain(Diagnostic::is_error);
    crate::diag::sort(&mut diags);
    let Some(program) = program.filter(|_| diags.is_empty()) else {
        return (sources, diags, Found::Problem);
    };
    let Some(x) = program.expects.iter().find(|x| x.span.file == query_file) else {
        return (sources, diags, Found::Problem);
    };
    let evaluator = Evaluator::new(&program);
    let mut answers = Vec::new();
    for port in x.probes() {
        match evaluator.answer(&x.from, &x.to, port.as_ref()) {
            Ok(answer) => answers.push((port, answer)),
            Err(TooMany { limit }) => {
                let d = Diagnostic::error("E0603", "this question cannot be decided")
                    .primary(x.span, "its endpoints stand for too many kinds of pod")
                    .note(format!(
                        "the selectors involved split these pods into more than {limit} kinds"
                    ));
                return (sources, vec![d], Found::Problem);
            }
        }
    }
    let question = query.split_whitespace().collect::<Vec<_>>().join(" ");
    let (answer, found) = connection(&program, &sources, x.span, &question, &answers);
    (sources, vec![answer], found)
}

/// Where a target writes network policies: `cilium` for a program only it can say, else `netpol`.
fn policy_dir(program: &Program) -> &'static str {
    if program.needs_a_proxy() {
        "cilium"
    } else {
        "netpol"
    }
}

/// `` `netpol/shop/cart.yaml` (egress), … ``: each policy once, with the directions it decides.
fn policy_list(program: &Program, policies: &[(PolicyRef, bool)]) -> String {
    let dir = policy_dir(program);
    let mut files: Vec<(String, Vec<&str>)> = Vec::new();
    for (policy, egress) in policies {
        let path = policy.path(program, dir);
        let direction = if *egress { "egress" } else { "ingress" };
        match files.iter_mut().find(|(p, _)| *p == path) {
            Some((_, dirs)) if dirs.contains(&direction) => {}
            Some((_, dirs)) => dirs.push(direction),
            None => files.push((path, vec![direction])),
        }
    }
    files
        .iter()
        .map(|(path, dirs)| format!("`{path}` ({})", dirs.join(" and ")))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The answer about a connection, from the answer for each port asked.
fn connection(
    program: &Program,
    sources: &SourceMap,
    span: Span,
    question: &str,
    answers: &[(Option<Probe>, Answer)],
) -> (Diagnostic, Found) {
    let found = if answers.iter().all(|(_, a)| a.allowed()) {
        Found::Allowed
    } else if answers.iter().all(|(_, a)| a.denied()) {
        Found::Denied
    } else {
        Found::Partly
    };
    let (headline, label) = match found {
        Found::Allowed => ("allowed", "this connection is allowed"),
        Found::Denied => ("denied", "this connection is denied"),
        _ => (
            "allowed in part",
            "this connection is allowed for some of the pods or addresses it asks about only",
        ),
    };
    let mut answer =
        Diagnostic::note_of("N0001", format!("{headline}: `{question}`")).primary(span, label);
    let several_ports = answers.len() > 1;
    let mut by: Vec<Span> = Vec::new();
    let mut enforced: Vec<(PolicyRef, bool)> = Vec::new();
    let mut isolated: Vec<(PolicyRef, bool)> = Vec::new();
    let mut lines: Vec<String> = Vec::new();
    for (port, a) in answers {
        let on = match port {
            Some(p) if several_ports => format!(" on {p}"),
            _ => String::new(),
        };
        for case in &a.cases {
            let grants = case.outcome.grants();
            for g in grants {
                if !g.dns {
                    by.push(g.source);
                }
                enforced.extend(g.policies.iter().map(|p| (p.clone(), g.egress)));
            }
            if let Some(d) = case.outcome.denial() {
                isolated.extend(d.egress.iter().map(|p| (p.clone(), true)));
                isolated.extend(d.ingress.iter().map(|p| (p.clone(), false)));
            }
            // Which pods, where what they are answered differs with them.
            let whom = if found == Found::Partly {
                kind_of(program, case)
            } else {
                String::new()
            };
            let line = match &case.outcome {
                Outcome::Allowed(g) if g.is_empty() => {
                    format!("nothing isolates either side{on}")
                }
                Outcome::Allowed(g) if found == Found::Partly => {
                    format!("allowed{on} by {}", sources_of(sources, g))
                }
                Outcome::Allowed(_) => continue,
                Outcome::Denied(d) => match found {
                    Found::Denied => format!("{}{}", on.trim_start(), with_colon(&on, &d.reason)),
                    _ => format!("denied{on}: {}", d.reason),
                },
                Outcome::Partly(_, d) => format!("allowed only in part{on}: {}", d.reason),
            };
            let line = if whom.is_empty() {
                line
            } else {
                format!("{}: {line}", capitalised(&whom))
            };
            if !lines.contains(&line) {
                lines.push(line);
            }
        }
    }
    answer.notes.extend(lines);
    by.sort();
    by.dedup();
    for span in &by {
        answer.labels.push(Label {
            span: *span,
            message: "this flow allows it".to_string(),
            primary: false,
        });
    }
    // A flow with HTTP rules lets the connection open, and its proxy then answers only them.
    for flow in program
        .flows
        .iter()
        .filter(|f| !f.http.is_empty() && by.contains(&f.span))
    {
        let http: Vec<String> = flow.http.iter().map(ToString::to_string).collect();
        answer.notes.push(format!(
            "only these HTTP requests, by {}: {} (the proxy answers others with 403)",
            sources.location(flow.span),
            http.join(", ")
        ));
    }
    if !enforced.is_empty() {
        answer
            .notes
            .push(format!("enforced by {}", policy_list(program, &enforced)));
    }
    if !isolated.is_empty() {
        answer
            .notes
            .push(format!("isolated by {}", policy_list(program, &isolated)));
    }
    if found != Found::Allowed {
        answer = answer.help("add a flow between them, e.g. `to SERVICE on PORT` in the client");
    }
    (answer, found)
}

/// The kinds of pod a case is about, where an endpoint's pods are of several kinds: "the pods of
/// `reviews` that … to the pods of `ratings` that …".
fn kind_of(program: &Program, case: &crate::ir::connectivity::Case) -> String {
    let differs = |m: &Option<crate::ir::connectivity::Member>| {
        m.as_ref()
            .filter(|m| m.kinds > 1)
            .map(|m| m.describe(program))
    };
    match (differs(&case.client), differs(&case.server)) {
        (Some(c), Some(s)) => format!("{c}, to {s}"),
        (Some(c), None) => c,
        (None, Some(s)) => format!("to {s}"),
        (None, None) => String::new(),
    }
}

/// `: reason` after a port, or the reason alone.
fn with_colon(on: &str, reason: &str) -> String {
    if on.is_empty() {
        reason.to_string()
    } else {
        format!(": {reason}")
    }
}

/// `file:line` of each grant's flow (or `allow dns`).
fn sources_of(sources: &SourceMap, grants: &[crate::ir::connectivity::Grant]) -> String {
    let mut places: Vec<String> = Vec::new();
    for g in grants {
        let place = if g.dns {
            format!("`allow dns` of {}", sources.location(g.source))
        } else {
            sources.location(g.source)
        };
        if !places.contains(&place) {
            places.push(place);
        }
    }
    places.join(", ")
}

fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(c) => c.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// What `service`'s profile does with the system call `name`.
fn explain_syscall(
    sources: SourceMap,
    service: &str,
    name: &str,
) -> (SourceMap, Vec<Diagnostic>, Found) {
    use crate::ir::SeccompAction;
    let (files, mut errors) = crate::parse::all(&sources);
    let program = if errors.iter().any(Diagnostic::is_error) {
        None
    } else {
        let (program, found) = crate::check::check(&sources, &files);
        errors.extend(found);
        program
    };
    errors.retain(Diagnostic::is_error);
    crate::diag::sort(&mut errors);
    let Some(program) = program.filter(|_| errors.is_empty()) else {
        return (sources, errors, Found::Problem);
    };
    let found: Vec<(&ServiceId, &crate::ir::Service)> = program
        .services
        .values()
        .filter(|s| s.id.to_string() == service || s.id.name == service)
        .map(|s| (&s.id, s))
        .collect();
    let (id, svc) = match found.as_slice() {
        [one] => *one,
        [] => {
            let names: Vec<String> = program.services.keys().map(ToString::to_string).collect();
            let mut d = Diagnostic::error("E0102", format!("unknown service `{service}`"));
            if let Some(hint) = crate::diag::did_you_mean(service, names.iter().map(String::as_str))
            {
                d = d.help(hint);
            }
            return (sources, vec![d], Found::Problem);
        }
        _ => {
            return (
                sources,
                vec![
                    Diagnostic::error(
                        "E0104",
                        format!("`{service}` names services of several namespaces"),
                    )
                    .help("write NAMESPACE/SERVICE"),
                ],
                Found::Problem,
            );
        }
    };
    let Some(policy) = &svc.syscalls else {
        return (
            sources,
            vec![
                Diagnostic::note_of("N0001", format!("{id} has no `syscalls` block"))
                    .note("warden writes no profile for it: the runtime's default profile applies"),
            ],
            // What the runtime's default does, only the runtime knows.
            Found::Partly,
        );
    };
    let catalog = crate::catalog::get();
    if catalog.arches_of(name).is_empty() {
        let mut d = Diagnostic::error("E0401", format!("unknown system call `{name}`"));
        if let Some(hint) = crate::diag::did_you_mean(name, catalog.all_names()) {
            d = d.help(hint);
        }
        return (sources, vec![d], Found::Problem);
    }
    let describe = |a: SeccompAction| -> String {
        match a {
            SeccompAction::Allow => "allowed".to_string(),
            SeccompAction::Log => "allowed and logged".to_string(),
            SeccompAction::Errno(n) => {
                let errno = crate::catalog::seccomp::errnos()
                    .iter()
                    .find(|(_, v)| **v == u64::from(n))
                    .map_or_else(|| n.to_string(), |(k, _)| k.clone());
                format!("denied with {errno}")
            }
            SeccompAction::KillProcess => "denied: the process is killed".to_string(),
            SeccompAction::KillThread => "denied: the thread is killed".to_string(),
            SeccompAction::Trace => "handed to a tracer (ENOSYS without one)".to_string(),
            SeccompAction::Notify => "handed to the user-space notifier".to_string(),
        }
    };
    let found_for = |a: SeccompAction| match a {
        SeccompAction::Allow | SeccompAction::Log => Found::Allowed,
        SeccompAction::Errno(_) | SeccompAction::KillProcess | SeccompAction::KillThread => {
            Found::Denied
        }
        // What a tracer or a notifier answers is not the profile's to say.
        SeccompAction::Trace | SeccompAction::Notify => Found::Partly,
    };
    let mut found = Found::Partly;
    let answer = match policy.entries.get(name) {
        Some(e) => {
            let by = match &e.group {
                Some(g) => format!("decided by group `{g}`"),
                None => "decided here".to_string(),
            };
            let mut d = Diagnostic::note_of(
                "N0001",
                format!("{id} syscall {name}: {}", describe(e.action)),
            )
            .primary(policy.rule_span(e), by);
            if !e.when.is_empty() {
                let alts: Vec<String> = e
                    .when
                    .iter()
                    .map(|alt| alt.iter().map(condition).collect::<Vec<_>>().join(" and "))
                    .collect();
                d = d.note(format!(
                    "only when {}; otherwise {}",
                    alts.join(", or "),
                    describe(policy.default)
                ));
                if found_for(e.action) == found_for(policy.default) {
                    found = found_for(e.action);
                }
            } else {
                found = found_for(e.action);
            }
            d
        }
        None if policy.docker_base && crate::catalog::seccomp::docker_names().contains(&name) => {
            let note = "see compiler/catalog/seccomp/docker-default.json: some of its rules depend on capabilities, architecture or kernel version";
            let headline = format!("{id} syscall {name}: as in Docker's default profile");
            Diagnostic::note_of("N0001", headline)
                .primary(policy.span, "`base docker-default` decides it")
                .note(note)
        }
        None => {
            // The block's `syscalls` keyword.
            let keyword = Span::new(
                policy.span.file,
                policy.span.start,
                policy.span.start + "syscalls".len(),
            );
            found = found_for(policy.default);
            Diagnostic::note_of(
                "N0001",
                format!(
                    "{id} syscall {name}: {} (the default)",
                    describe(policy.default)
                ),
            )
            .primary(
                keyword,
                "no rule of this block names it: its default applies",
            )
        }
    };
    (sources, vec![answer], found)
}

/// A condition as the language writes it.
fn condition(c: &crate::ir::ArgCmp) -> String {
    use crate::ir::CmpOp;
    let op = match c.op {
        CmpOp::MaskedEq if c.value == c.value_two => "has",
        CmpOp::MaskedEq if c.value_two == 0 => "lacks",
        CmpOp::MaskedEq => return format!("arg{} & {:#x} == {:#x}", c.index, c.value, c.value_two),
        CmpOp::Eq => "==",
        CmpOp::Ne => "!=",
        CmpOp::Lt => "<",
        CmpOp::Le => "<=",
        CmpOp::Gt => ">",
        CmpOp::Ge => ">=",
    };
    format!("arg{} {op} {:#x}", c.index, c.value)
}
