//! What `build` and `check` print: the diagnostics in the format asked for, on the stream that
//! format goes to, and for people a summary line and repeated warnings folded after the first few.
//!
//! ```text
//! warning[W0306]: … (three of them)
//! note: 212 more warnings W0306 like these (`--format json` or `sarif` lists every one)
//! warden: 2 errors, 215 warnings
//! ```

use std::collections::BTreeMap;
use std::io::IsTerminal;
use warden::diag::{self, Diagnostic, Severity};
use warden::span::SourceMap;

/// How diagnostics are printed.
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Human,
    Json,
    Sarif,
}

#[derive(Clone, Copy, clap::ValueEnum)]
pub enum Color {
    Auto,
    Always,
    Never,
}

/// Warnings of one code a human report shows before it folds the rest into a count.
const SHOWN: usize = 3;

/// Where and how a run reports.
pub struct Reporter {
    pub format: Format,
    pub color: Color,
    /// Whether standard output carries something else (a YAML stream): then every format goes to
    /// standard error.
    pub stdout_taken: bool,
}

impl Reporter {
    fn colored(&self) -> bool {
        match self.color {
            Color::Always => true,
            Color::Never => false,
            Color::Auto => {
                std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none()
            }
        }
    }

    fn print(&self, text: &str) {
        match self.format {
            Format::Human => eprint!("{text}"),
            _ if self.stdout_taken => eprint!("{text}"),
            _ => print!("{text}"),
        }
    }

    /// Prints every diagnostic of a run at once: the program's and the output's, in that order.
    pub fn report(&self, sources: &SourceMap, diags: &[Diagnostic]) {
        match self.format {
            Format::Json => self.print(&diag::render::json_lines(sources, diags)),
            Format::Sarif => {
                let cwd = std::env::current_dir().ok();
                self.print(&diag::sarif::log(sources, diags, cwd.as_deref()));
            }
            Format::Human => {
                let (shown, folded) = fold(diags);
                if self.colored() {
                    diag::render::to_stderr_in_color(sources, &shown);
                } else {
                    eprint!("{}", diag::render::human(sources, &shown));
                }
                for (code, count) in folded {
                    eprintln!(
                        "note: {count} more warnings {code} like these (`--format json` or `--format sarif` lists every one)\n"
                    );
                }
            }
        }
    }

    /// The summary line of a human report: `warden: 2 errors, 14 warnings`; nothing for a run
    /// without diagnostics, or in the other formats (whose readers count for themselves).
    pub fn summary(&self, diags: &[Diagnostic], deny_warnings: bool) {
        if self.format != Format::Human {
            return;
        }
        let errors = diags.iter().filter(|d| d.is_error()).count();
        let warnings = diags.iter().filter(|d| d.is_open_warning()).count();
        let accepted = diags
            .iter()
            .filter(|d| d.severity == Severity::Warning && d.accepted.is_some())
            .count();
        if errors + warnings + accepted == 0 {
            return;
        }
        let plural = |n: usize, word: &str| {
            if n == 1 {
                format!("1 {word}")
            } else {
                format!("{n} {word}s")
            }
        };
        let denied = if deny_warnings && warnings > 0 {
            " (warnings are errors: --deny-warnings)"
        } else {
            ""
        };
        let accepted = if accepted > 0 {
            format!(" ({accepted} accepted in the program, not shown)")
        } else {
            String::new()
        };
        eprintln!(
            "warden: {}, {}{accepted}{denied}",
            plural(errors, "error"),
            plural(warnings, "warning")
        );
    }
}

/// The diagnostics a human report shows, and per warning code folded, how many more there are:
/// every error, and the first `SHOWN` warnings of each code that no `accept` line acknowledges.
fn fold(diags: &[Diagnostic]) -> (Vec<Diagnostic>, BTreeMap<&'static str, usize>) {
    let mut seen: BTreeMap<&'static str, usize> = BTreeMap::new();
    let mut shown = Vec::new();
    for d in diags.iter().filter(|d| d.accepted.is_none()) {
        if d.severity == Severity::Warning {
            let n = seen.entry(d.code).or_default();
            *n += 1;
            if *n > SHOWN {
                continue;
            }
        }
        shown.push(d.clone());
    }
    let folded = seen
        .into_iter()
        .filter(|(_, n)| *n > SHOWN)
        .map(|(code, n)| (code, n - SHOWN))
        .collect();
    (shown, folded)
}
