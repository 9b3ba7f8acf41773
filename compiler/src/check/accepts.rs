//! `accept CODE "reason"`: a warning acknowledged where it is declared.
//!
//! ```text
//! service checkout in shop {
//!   to world on https
//!   accept W0306 "card payments go to the acquirer's API, whose addresses change"
//! }
//! ```
//!
//! An `accept` line in a namespace, service or admission block acknowledges the warnings of its
//! code whose primary span lies in that block: they are still reported (JSON says `accepted`,
//! SARIF records an in-source suppression), but a person reading the human report is not shown
//! them again, and `--deny-warnings` lets them pass. The reason goes into the
//! `warden.dev/accepted` annotation of what the block generates, where an auditor reads it. Only
//! warnings can be accepted (E0116), and an `accept` that acknowledges nothing says so (W0116),
//! so that none outlives the warning it was written for.

use super::Checker;
use crate::ast;
use crate::diag::{self, Diagnostic, Severity};
use crate::span::Span;
use std::collections::BTreeMap;

/// The code of the warning an `accept` line that acknowledges nothing gets; it cannot itself be
/// accepted (the line would acknowledge its own warning).
const UNUSED: &str = "W0116";

/// One `accept` line and the block it is in.
pub struct Accepted {
    block: Span,
    code: String,
    reason: String,
    line: Span,
}

/// Every `accept` line of the program, with the span of its block.
pub fn collect(files: &[ast::File]) -> Vec<Accepted> {
    let mut out = Vec::new();
    let mut add = |block: Span, accepts: &[ast::Accept]| {
        out.extend(accepts.iter().map(|a| Accepted {
            block,
            code: a.code.text.clone(),
            reason: a.reason.text.clone(),
            line: a.span,
        }));
    };
    for file in files {
        for ns in &file.namespaces {
            add(ns.span, &ns.accepts);
        }
        for svc in &file.services {
            add(svc.span, &svc.accepts);
        }
        for adm in &file.admissions {
            add(adm.span, &adm.accepts);
        }
    }
    out
}

/// Marks each warning an `accept` line acknowledges with its reason. An `accept` that
/// acknowledges nothing is W0116, unless the program has errors: the checks that would have
/// warned may not have run.
pub fn apply(accepts: &[Accepted], diags: &mut Vec<Diagnostic>) {
    if accepts.is_empty() {
        return;
    }
    // Blocks do not nest (namespaces, services and admission blocks are declarations), so the
    // block holding a span is the last one of its code starting at or before it.
    let mut by_code: BTreeMap<&str, Vec<(Span, usize)>> = BTreeMap::new();
    for (i, a) in accepts.iter().enumerate() {
        by_code.entry(&a.code).or_default().push((a.block, i));
    }
    for blocks in by_code.values_mut() {
        blocks.sort_by_key(|(b, i)| (b.file, b.start, *i));
    }
    let mut used = vec![false; accepts.len()];
    for d in diags.iter_mut() {
        if d.severity != Severity::Warning || d.code == UNUSED {
            continue;
        }
        let (Some(at), Some(blocks)) = (d.span(), by_code.get(d.code)) else {
            continue;
        };
        let after = blocks.partition_point(|(b, _)| (b.file, b.start) <= (at.file, at.start));
        let Some(&(block, _)) = after.checked_sub(1).and_then(|last| blocks.get(last)) else {
            continue;
        };
        if block.file != at.file || at.end > block.end {
            continue;
        }
        // Two lines accepting one code in one block: the first gives the reason, both are used.
        let mut reason = None;
        let same_block = blocks.get(..after).unwrap_or_default();
        for &(_, i) in same_block.iter().rev().take_while(|(b, _)| *b == block) {
            if let (Some(used), Some(a)) = (used.get_mut(i), accepts.get(i)) {
                *used = true;
                reason = Some(&a.reason);
            }
        }
        if let Some(reason) = reason {
            d.accepted = Some(reason.clone());
        }
    }
    if diags.iter().any(Diagnostic::is_error) {
        return;
    }
    for (a, used) in accepts.iter().zip(used) {
        if !used {
            diags.push(
                Diagnostic::warning(
                    UNUSED,
                    format!("`accept {}` acknowledges no warning", a.code),
                )
                .primary(a.line, format!("no {} is reported in this block", a.code))
                .note("a warning is accepted in the block its primary span lies in")
                .help("remove the line: what it was written for is gone"),
            );
        }
    }
    diag::sort(diags);
}

/// The value of the `warden.dev/accepted` annotation of what a block generates: each accepted
/// code with its reason, in the order written, `; ` between them; empty for none.
pub(super) fn annotation(accepts: &[ast::Accept]) -> String {
    accepts
        .iter()
        .map(|a| format!("{}: {}", a.code.text, a.reason.text))
        .collect::<Vec<_>>()
        .join("; ")
}

impl Checker<'_> {
    /// E0116 for an `accept` of a code that is not a warning's.
    pub(super) fn check_accepts(&mut self, accepts: &[ast::Accept]) {
        for a in accepts {
            let code = a.code.text.as_str();
            let known = diag::codes::CODES.iter().any(|(c, _)| *c == code);
            if known && code.starts_with('W') && code != UNUSED {
                continue;
            }
            let mut d = Diagnostic::error("E0116", format!("`{code}` cannot be accepted"));
            d = if code == UNUSED {
                d.primary(
                    a.code.span,
                    "the warning of an `accept` that acknowledges nothing",
                )
                .help("remove the `accept` line that acknowledges nothing instead")
            } else if known {
                d.primary(a.code.span, "an error, not a warning")
                    .note("an error stops the build; only warnings can be acknowledged")
                    .help(format!(
                        "fix what {code} reports (`warden explain-code {code}`)"
                    ))
            } else {
                let warnings = diag::codes::CODES
                    .iter()
                    .map(|(c, _)| *c)
                    .filter(|c| c.starts_with('W') && *c != UNUSED);
                let help = diag::did_you_mean(code, warnings).unwrap_or_else(|| {
                    "name a warning code, such as `W0306` (`warden explain-code` lists them)"
                        .to_string()
                });
                d.primary(a.code.span, "no warning has this code")
                    .help(help)
            };
            self.diags.push(d);
        }
    }
}
