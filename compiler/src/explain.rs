//! `warden explain FROM -> TO [on PORT]`: whether a connection is allowed, and why.
//!
//! The question is written as an expectation would be and checked with the program, so it
//! resolves names, ports and CIDRs with the same rules and diagnostics:
//! ```text
//! warden explain frontend -> cart on grpc      // allowed, by the flows that say so
//! warden explain world -> redis                // denied, by the isolation that denies it
//! ```

use crate::diag::{Diagnostic, Label};
use crate::ir::connectivity::{Verdict, evaluate};
use crate::ir::{Endpoint, Program, ServiceId};
use crate::span::{SourceMap, Span};

/// The name of the source that holds the question.
pub const QUERY_FILE: &str = "<question>";

/// Answers `query` about the program in `sources`. The answer is a note; problems with the program
/// or the question are errors, as `build` would report them.
pub fn explain(mut sources: SourceMap, query: &str) -> (SourceMap, Vec<Diagnostic>) {
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
    for port in x.probes() {
        if let Verdict::Allowed { by: spans } = evaluate(&program, &x.from, &x.to, port.as_ref()) {
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
