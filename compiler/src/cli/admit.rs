//! `warden admit -p PROGRAM MANIFESTS…`: what the program's admission would say of each
//! workload, before a cluster does. Each rule a workload fails is a diagnostic at the manifest's
//! line, pointing at the rule in the program, with the fix; a denial is an error (E1401, E1403),
//! a `warn` or `audit` block's finding a warning (W1402). Exit 1 if anything is denied, 2 if the
//! program or the manifests cannot be read. `--patch DIR` writes the mechanical fixes as
//! kustomize patches (`admit::patches`).
//!
//! ```text
//! error[E1401]: admission `restricted` denies Deployment `web` in `shop`: container `app` fails `require drop-all-capabilities`
//! ```

use crate::report::Reporter;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use warden::admit::{Finding, Source, Verdict};
use warden::diag::Diagnostic;
use warden::span::{SourceMap, Span};

pub fn run(
    program: &Path,
    paths: &[PathBuf],
    namespace: &str,
    patch: Option<&Path>,
    reporter: &Reporter,
) -> ExitCode {
    let (manifests, compiled) =
        match super::infer::manifests_and_program(paths, program, "admitted") {
            Ok(both) => both,
            Err(code) => return code,
        };
    let Some(ir) = compiled.program.as_ref() else {
        return ExitCode::from(2);
    };
    let verdicts = warden::admit::admit(ir, &manifests, namespace);
    // One map holds the program and the manifests, so that a finding points at both.
    let mut all = SourceMap::new();
    for f in 0..compiled.sources.len() {
        all.add(
            compiled.sources.name(f).to_string(),
            compiled.sources.text(f).to_string(),
        );
    }
    let offset = all.len();
    for f in 0..manifests.sources.len() {
        all.add(
            manifests.sources.name(f).to_string(),
            manifests.sources.text(f).to_string(),
        );
    }
    let mut diagnostics = manifests.diagnostics.clone();
    for d in &mut diagnostics {
        for label in &mut d.labels {
            label.span.file += offset;
        }
    }
    for v in &verdicts {
        for f in &v.findings {
            diagnostics.push(diagnostic(&all, offset, v, f));
        }
    }
    reporter.report(&all, &diagnostics);
    let denied = verdicts.iter().filter(|v| v.denied()).count();
    let warned = verdicts
        .iter()
        .filter(|v| !v.denied() && !v.findings.is_empty())
        .count();
    let unscoped = verdicts.iter().filter(|v| v.blocks.is_empty()).count();
    eprintln!(
        "admit: {} workload(s): {} admitted, {warned} admitted with warnings, {denied} denied{}",
        verdicts.len(),
        verdicts.len() - denied - warned,
        if unscoped > 0 {
            format!(" ({unscoped} in no admission block's scope)")
        } else {
            String::new()
        }
    );
    if let Some(dir) = patch {
        let patches = warden::admit::patches::patches(&verdicts);
        if let Err(e) = super::infer::write(
            dir,
            &patches.files,
            warden::admit::patches::HEADER,
            "warden admit --patch",
        ) {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
        eprintln!(
            "patched {} workload(s) in {} (include it: `components: [{}]`)",
            patches.files.len() - 1,
            dir.display(),
            dir.display()
        );
        if !patches.manual.is_empty() {
            eprintln!("not mechanical, left to you ({}):", patches.manual.len());
            for m in &patches.manual {
                eprintln!("  {m}");
            }
        }
    }
    if denied > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

/// A finding as a diagnostic: at the manifest's line, the rule's place in the program beside it.
fn diagnostic(all: &SourceMap, offset: usize, v: &Verdict<'_, '_>, f: &Finding<'_>) -> Diagnostic {
    let w = v.workload;
    let line = warden::manifests::line_span(all, w.meta.at.file + offset, f.fault.line);
    // The line's text, without its indentation or a list's dash.
    let indent = all
        .text(line.file)
        .get(line.start..line.end)
        .map_or(0, |t| t.len() - t.trim_start_matches([' ', '-']).len());
    let at = Span::new(line.file, line.start + indent, line.end);
    let what = match &f.fault.container {
        Some(c) => format!("container `{c}`"),
        None => "the pod".to_string(),
    };
    let (code, head, rule_span, rule_label) = match f.source {
        Source::Rule { block, rule, span } => {
            let verb = match block.mode {
                warden::ir::Mode::Deny => "denies",
                warden::ir::Mode::Warn => "warns of",
                warden::ir::Mode::Audit => "records",
            };
            let rule = match f.fault.check {
                Some(check) => format!("check {} of `{}`", check.name(), rule.said()),
                None => format!("`{}`", rule.said()),
            };
            (
                if f.denies() { "E1401" } else { "W1402" },
                format!(
                    "admission `{}` {verb} {} `{}` in `{}`: {what} fails {rule}",
                    block.name, w.meta.kind, w.meta.name, v.namespace
                ),
                span,
                "the rule",
            )
        }
        Source::Seccomp(svc) => {
            let span = svc.syscalls.as_ref().map_or(svc.span, |p| p.span);
            (
                "E1403",
                format!(
                    "{} `{}` in `{}` is a pod of service `{}`, but {what} does not run with its seccomp profile `{}`",
                    w.meta.kind,
                    w.meta.name,
                    v.namespace,
                    svc.id.name,
                    svc.id.localhost_profile()
                ),
                span,
                "the service's profile",
            )
        }
    };
    let mut d = if code == "W1402" {
        Diagnostic::warning(code, head)
    } else {
        Diagnostic::error(code, head)
    }
    .primary(at, what)
    .secondary(rule_span, rule_label)
    .note(f.requirement());
    if let Some(detail) = &f.fault.detail {
        d = d.note(format!("the expression cannot be evaluated here: {detail}"));
    }
    d.help(f.fix())
}
