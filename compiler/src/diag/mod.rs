//! Diagnostics as data.
//!
//! Every pass returns `Diagnostic`s; nothing is printed until `render` turns them into text for a
//! terminal or into JSON lines. A diagnostic names its problem in the headline, points at the code
//! with labels and carries notes and a `help:` for the way out.

pub mod codes;
pub mod render;
pub mod sarif;

use crate::span::Span;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Error,
    Warning,
    /// An answer rather than a problem (`warden explain`).
    Note,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Label {
    pub span: Span,
    pub message: String,
    pub primary: bool,
}

/// A file outside the program that a diagnostic is about, a file of the output directory, and the
/// line it is about there when one is (the first that differs from what warden generates).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutputFile {
    pub path: String,
    pub line: Option<usize>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    pub severity: Severity,
    pub code: &'static str,
    pub message: String,
    pub labels: Vec<Label>,
    pub notes: Vec<String>,
    pub help: Option<String>,
    /// For a diagnostic about an output file rather than the program (stale, missing, foreign).
    pub file: Option<OutputFile>,
    /// For a warning acknowledged by an `accept` line of the program: the reason given there.
    pub accepted: Option<String>,
}

impl Diagnostic {
    pub fn error(code: &'static str, message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Error,
            code,
            message: message.into(),
            labels: Vec::new(),
            notes: Vec::new(),
            help: None,
            file: None,
            accepted: None,
        }
    }

    pub fn note_of(code: &'static str, message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Note,
            ..Self::error(code, message)
        }
    }

    pub fn warning(code: &'static str, message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Warning,
            ..Self::error(code, message)
        }
    }

    pub fn primary(mut self, span: Span, message: impl Into<String>) -> Self {
        self.labels.push(Label {
            span,
            message: message.into(),
            primary: true,
        });
        self
    }

    pub fn secondary(mut self, span: Span, message: impl Into<String>) -> Self {
        self.labels.push(Label {
            span,
            message: message.into(),
            primary: false,
        });
        self
    }

    pub fn note(mut self, note: impl Into<String>) -> Self {
        self.notes.push(note.into());
        self
    }

    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// The output file the diagnostic is about, and the line there.
    pub fn about_file(mut self, path: impl Into<String>, line: Option<usize>) -> Self {
        self.file = Some(OutputFile {
            path: path.into(),
            line,
        });
        self
    }

    /// Where the diagnostic points: its first primary label.
    pub fn span(&self) -> Option<Span> {
        self.labels
            .iter()
            .find(|l| l.primary)
            .or(self.labels.first())
            .map(|l| l.span)
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    /// A warning no `accept` line acknowledges: what `--deny-warnings` refuses.
    pub fn is_open_warning(&self) -> bool {
        self.severity == Severity::Warning && self.accepted.is_none()
    }
}

/// Orders diagnostics by position so that output does not depend on the order passes found them.
pub fn sort(diags: &mut [Diagnostic]) {
    diags.sort_by(|a, b| {
        let key = |d: &Diagnostic| d.span().map(|s| (s.file, s.start, s.end));
        key(a)
            .cmp(&key(b))
            .then(a.code.cmp(b.code))
            .then(a.message.cmp(&b.message))
    });
}

/// "did you mean `x`?" for the candidate nearest to `name`, if any is near enough.
pub fn did_you_mean<'a>(
    name: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<String> {
    let mut best: Option<(f64, &str)> = None;
    for c in candidates {
        let score = strsim::jaro_winkler(name, c);
        // Ties go to the alphabetically first candidate so the suggestion is deterministic.
        let better = match best {
            None => true,
            Some((s, b)) => score > s || (score == s && c < b),
        };
        if better {
            best = Some((score, c));
        }
    }
    match best {
        Some((score, c))
            if score >= 0.85 || strsim::levenshtein(name, c) <= (name.len() / 3).max(1) =>
        {
            Some(format!("did you mean `{c}`?"))
        }
        _ => None,
    }
}
