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
use crate::ir::connectivity::{Evaluator, Verdict};
use crate::ir::{Endpoint, Program, ServiceId};
use crate::span::{SourceMap, Span};

/// The name of the source that holds the question.
pub const QUERY_FILE: &str = "<question>";

/// Answers `query` about the program in `sources`. The answer is a note; problems with the program
/// or the question are errors, as `build` would report them.
pub fn explain(mut sources: SourceMap, query: &str) -> (SourceMap, Vec<Diagnostic>) {
    let words: Vec<&str> = query.split_whitespace().collect();
    if let [service, "syscall", name] = words.as_slice() {
        return explain_syscall(sources, service, name);
    }
    let text = format!("expect {query} allowed");
    let query_file = sources.add(QUERY_FILE.to_string(), text);
    // No target: the answer comes from the IR, whatever the program is built for.
    let compiled = crate::compile(sources, &[]);
    let sources = compiled.sources;
    let mut diags: Vec<Diagnostic> = compiled
        .diagnostics
        .into_iter()
        .filter(|d| d.is_error())
        .collect();
    // The question failing as an expectation is the answer "denied", not an error.
    let denied: Vec<Diagnostic> = diags
        .iter()
        .filter(|d| d.code == "E0601" && d.span().is_some_and(|s| s.file == query_file))
        .cloned()
        .collect();
    diags.retain(|d| !(d.code == "E0601" && d.span().is_some_and(|s| s.file == query_file)));
    if !diags.is_empty() {
        return (sources, diags);
    }
    let question = query.split_whitespace().collect::<Vec<_>>().join(" ");
    if let Some(d) = denied.into_iter().next() {
        let span = d.span().unwrap_or_default();
        let mut answer = Diagnostic::note_of("N0001", format!("denied: `{question}`"))
            .primary(span, "this connection is denied");
        answer.notes = d
            .notes
            .into_iter()
            .map(|n| n.replacen("denied", "", 1).trim_start().to_string())
            .collect();
        answer
            .labels
            .extend(d.labels.into_iter().filter(|l| !l.primary));
        return (
            sources,
            vec![answer.help("add a flow between them, e.g. `to SERVICE on PORT` in the client")],
        );
    }
    // Allowed: the compile succeeded and kept the question among the expectations.
    let Some(program) = compiled.program else {
        return (sources, Vec::new());
    };
    let Some(x) = program.expects.iter().find(|x| x.span.file == query_file) else {
        return (sources, Vec::new());
    };
    let mut answer = Diagnostic::note_of("N0001", format!("allowed: `{question}`"))
        .primary(x.span, "this connection is allowed");
    let mut by: Vec<Span> = Vec::new();
    // One index of the program's flows and services for every port asked about.
    let evaluator = Evaluator::new(&program);
    for port in x.probes() {
        if let Verdict::Allowed { by: spans } = evaluator.evaluate(&x.from, &x.to, port.as_ref()) {
            by.extend(spans);
        }
    }
    by.sort();
    by.dedup();
    for span in &by {
        answer.labels.push(Label {
            span: *span,
            message: "this flow allows it".to_string(),
            primary: false,
        });
    }
    if by.is_empty() {
        answer
            .notes
            .push("nothing isolates either side".to_string());
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
    let rules = policies(&program, &x.from, &x.to);
    if !rules.is_empty() {
        answer
            .notes
            .push(format!("enforced by {}", rules.join(", ")));
    }
    (sources, vec![answer])
}

/// The generated policies that hold the rules of a connection: the client's egress and the
/// server's ingress, where they are isolated; CiliumNetworkPolicies for a program only `cilium`
/// can say, NetworkPolicies otherwise.
fn policies(program: &Program, from: &Endpoint, to: &Endpoint) -> Vec<String> {
    let mut out = Vec::new();
    let dir = if program.needs_a_proxy() {
        "cilium"
    } else {
        "netpol"
    };
    let file = |id: &ServiceId| format!("{dir}/{}/{}.yaml", id.namespace, id.name);
    if let Endpoint::Service(id) = from
        && program.isolates(id, true)
    {
        out.push(format!("`{}` (egress)", file(id)));
    }
    if let Endpoint::Service(id) = to
        && program.isolates(id, false)
    {
        out.push(format!("`{}` (ingress)", file(id)));
    }
    out
}

/// What `service`'s profile does with the system call `name`.
fn explain_syscall(sources: SourceMap, service: &str, name: &str) -> (SourceMap, Vec<Diagnostic>) {
    use crate::ir::SeccompAction;
    let compiled = crate::compile(sources, &[]);
    let sources = compiled.sources;
    let errors: Vec<Diagnostic> = compiled
        .diagnostics
        .into_iter()
        .filter(|d| d.is_error())
        .collect();
    let Some(program) = compiled.program else {
        return (sources, errors);
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
            return (sources, vec![d]);
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
        );
    };
    let catalog = crate::catalog::get();
    if catalog.arches_of(name).is_empty() {
        let mut d = Diagnostic::error("E0401", format!("unknown system call `{name}`"));
        if let Some(hint) = crate::diag::did_you_mean(name, catalog.all_names()) {
            d = d.help(hint);
        }
        return (sources, vec![d]);
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
    let answer = match policy.entries.get(name) {
        Some(e) => {
            let by = match &e.group {
                Some(g) => format!("decided by group `{g}`"),
                None => "decided here".to_string(),
            };
            let mut d = Diagnostic::note_of("N0001", format!("{id} syscall {name}: {}", describe(e.action)))
                .primary(policy.rule_span(e), by);
            if !e.when.is_empty() {
                let alts: Vec<String> = e
                    .when
                    .iter()
                    .map(|alt| {
                        alt.iter().map(condition).collect::<Vec<_>>().join(" and ")
                    })
                    .collect();
                d = d.note(format!("only when {}; otherwise {}", alts.join(", or "), describe(policy.default)));
            }
            d
        }
        None if policy.docker_base && crate::catalog::seccomp::docker_names().contains(&name) => {
            Diagnostic::note_of("N0001", format!("{id} syscall {name}: as in Docker's default profile"))
                .primary(policy.span, "`base docker-default` decides it")
                .note("see compiler/catalog/seccomp/docker-default.json: some of its rules depend on capabilities, architecture or kernel version")
        }
        None => {
            // The block's `syscalls` keyword.
            let keyword = Span::new(policy.span.file, policy.span.start, policy.span.start + "syscalls".len());
            Diagnostic::note_of("N0001", format!("{id} syscall {name}: {} (the default)", describe(policy.default)))
                .primary(keyword, "no rule of this block names it: its default applies")
        }
    };
    (sources, vec![answer])
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
