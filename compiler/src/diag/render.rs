//! The one place diagnostics become text: codespan-reporting for people, JSON lines for tools.

use super::{Diagnostic, Severity};
use crate::span::SourceMap;
use codespan_reporting::diagnostic as cs;
use codespan_reporting::term;

fn to_codespan(d: &Diagnostic) -> cs::Diagnostic<usize> {
    let severity = match d.severity {
        Severity::Error => cs::Severity::Error,
        Severity::Warning => cs::Severity::Warning,
        Severity::Note => cs::Severity::Note,
    };
    let labels = d
        .labels
        .iter()
        .map(|l| {
            let label = if l.primary {
                cs::Label::primary(l.span.file, l.span.range())
            } else {
                cs::Label::secondary(l.span.file, l.span.range())
            };
            label.with_message(l.message.clone())
        })
        .collect();
    let mut notes: Vec<String> = d.notes.iter().map(|n| format!("note: {n}")).collect();
    if let Some(h) = &d.help {
        notes.push(format!("help: {h}"));
    }
    if let Some(reason) = &d.accepted {
        notes.push(format!("accepted: {reason}"));
    }
    cs::Diagnostic::new(severity)
        .with_code(d.code)
        .with_message(d.message.clone())
        .with_labels(labels)
        .with_notes(notes)
}

/// Renders for a terminal, without colour (for snapshots, pipes and files).
pub fn human(sources: &SourceMap, diags: &[Diagnostic]) -> String {
    let config = term::Config::default();
    // Each on its own, on every core: a large program has warnings by the thousand.
    crate::parallel::map(diags, |d| {
        term::emit_into_string(&config, sources.files(), &to_codespan(d)).unwrap_or_else(|_| {
            // A span outside its file would be a compiler bug; still say what went wrong.
            format!(
                "{}[{}]: {}\n\n",
                severity_word(d.severity),
                d.code,
                d.message
            )
        })
    })
    .concat()
}

/// Renders to standard error in colour, each diagnostic as it is rendered. (Without colour,
/// `human` renders the text, to be printed as the caller sees fit.)
pub fn to_stderr_in_color(sources: &SourceMap, diags: &[Diagnostic]) {
    use term::termcolor::{ColorChoice, StandardStream};
    let stream = StandardStream::stderr(ColorChoice::Always);
    let mut lock = stream.lock();
    let config = term::Config::default();
    for d in diags {
        if term::emit_to_write_style(&mut lock, &config, sources.files(), &to_codespan(d)).is_err()
        {
            eprintln!("{}[{}]: {}", severity_word(d.severity), d.code, d.message);
        }
    }
}

fn severity_word(s: Severity) -> &'static str {
    match s {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Note => "note",
    }
}

#[derive(serde::Serialize)]
struct JsonLabel<'a> {
    file: &'a str,
    line: usize,
    column: usize,
    end_line: usize,
    end_column: usize,
    message: &'a str,
    primary: bool,
}

#[derive(serde::Serialize)]
struct JsonDiagnostic<'a> {
    severity: &'static str,
    code: &'static str,
    message: &'a str,
    file: Option<&'a str>,
    line: Option<usize>,
    column: Option<usize>,
    labels: Vec<JsonLabel<'a>>,
    notes: &'a [String],
    help: Option<&'a str>,
    /// The reason of the `accept` line acknowledging a warning.
    #[serde(skip_serializing_if = "Option::is_none")]
    accepted: Option<&'a str>,
}

/// One JSON object per line, the same data as `human`.
pub fn json_lines(sources: &SourceMap, diags: &[Diagnostic]) -> String {
    let mut out = String::new();
    for d in diags {
        let labels: Vec<JsonLabel<'_>> = d
            .labels
            .iter()
            .map(|l| {
                let (line, column) = sources.line_col(l.span.file, l.span.start);
                let (end_line, end_column) = sources.line_col(l.span.file, l.span.end);
                JsonLabel {
                    file: sources.name(l.span.file),
                    line,
                    column,
                    end_line,
                    end_column,
                    message: &l.message,
                    primary: l.primary,
                }
            })
            .collect();
        // A diagnostic about an output file points at it, and at the line where it differs.
        let at = match (d.span(), &d.file) {
            (Some(s), _) => {
                let (line, column) = sources.line_col(s.file, s.start);
                Some((sources.name(s.file), Some(line), Some(column)))
            }
            (None, Some(f)) => Some((f.path.as_str(), f.line, None)),
            (None, None) => None,
        };
        let json = JsonDiagnostic {
            severity: severity_word(d.severity),
            code: d.code,
            message: &d.message,
            file: at.map(|a| a.0),
            line: at.and_then(|a| a.1),
            column: at.and_then(|a| a.2),
            labels,
            notes: &d.notes,
            help: d.help.as_deref(),
            accepted: d.accepted.as_deref(),
        };
        if let Ok(line) = serde_json::to_string(&json) {
            out.push_str(&line);
            out.push('\n');
        }
    }
    out
}
