//! Whether the program's own admission would refuse the `seccomp-installer` target's DaemonSet:
//! it needs a hostPath volume for kubelet's seccomp root and copies as root, which a block over
//! every namespace forbids. Refused, it would install nothing, and every pod with a `localhost/`
//! profile would fail to start; so the build says so, at the rule.

use super::verdicts::{Source, admit};
use crate::diag::Diagnostic;
use crate::document::{Document, Schema};
use crate::ir::{Admission, Program};
use crate::span::Span;
use std::collections::BTreeMap;

/// A rule failed: where it is, what it says (with the check), what it requires.
type Failed = (Span, String, String);

const WHY: &str = "the installer mounts kubelet's seccomp root from the node and copies as root; refused, it installs no profile, and pods that need one do not start";

/// One error per `deny` block whose rules the installer's documents fail, in `namespace`.
pub fn refusals(program: &Program, docs: &[Document], namespace: &str) -> Vec<Diagnostic> {
    let texts: Vec<(&str, &str)> = docs
        .iter()
        // The DaemonSet, and the Namespace whose labels the blocks' scopes read; not the
        // ConfigMaps, which admission does not judge.
        .filter(|d| matches!(d.schema, Schema::DaemonSet | Schema::Namespace))
        .map(|d| (d.path.as_str(), d.text.as_str()))
        .collect();
    let manifests = crate::manifests::read_texts(&texts);
    // Per block, in the program's order: each rule failed (with its check), once.
    let mut failed: BTreeMap<&str, (&Admission, Vec<Failed>)> = BTreeMap::new();
    let mut at = namespace.to_string();
    for verdict in admit(program, &manifests, namespace) {
        at.clone_from(&verdict.namespace);
        for finding in verdict.findings.iter().filter(|f| f.denies()) {
            let Source::Rule { block, rule, span } = finding.source else {
                continue;
            };
            let said = match finding.fault.check {
                Some(check) => format!("check {} of `{}`", check.name(), rule.said()),
                None => format!("`{}`", rule.said()),
            };
            let rules = &mut failed.entry(&block.name).or_insert((block, Vec::new())).1;
            if !rules.iter().any(|(_, s, _)| *s == said) {
                rules.push((span, said, finding.requirement()));
            }
        }
    }
    let mut out = Vec::new();
    for (block, mut rules) in failed.into_values() {
        rules.sort_by(|a, b| (a.0.file, a.0.start, &a.1).cmp(&(b.0.file, b.0.start, &b.1)));
        let Some(first) = rules.first() else {
            continue;
        };
        let mut d = Diagnostic::error(
            "E0907",
            format!(
                "admission `{}` would deny the seccomp installer in `{at}`",
                block.name
            ),
        )
        .primary(first.0, "the installer fails this rule");
        let mut spans: Vec<Span> = rules.iter().map(|r| r.0).collect();
        spans.dedup();
        for span in spans.into_iter().skip(1) {
            d = d.secondary(span, "and this one");
        }
        for (_, _, requirement) in &rules {
            d = d.note(format!("it fails {requirement}"));
        }
        out.push(d.note(WHY).help(format!(
            "leave the installer's namespace out of the block: `except namespace {at}`"
        )));
    }
    out
}
