//! `warden audit` and `warden diff`: the commands of those who review a program, an auditor
//! reading what it implements and a reviewer reading what a change to it does.

use crate::{AuditFormat, DiffFormat, FailOn};
use std::path::PathBuf;
use std::process::ExitCode;
use warden::diag::{self, Diagnostic};
use warden::document::{Layout, Target};
use warden::span::SourceMap;

/// A program of `diff`, compiled: a path, or `REV:PATH` in git.
fn diff_side(arg: &str, today: warden::ir::Date) -> Result<warden::ir::Program, ExitCode> {
    let sources = match warden::load::git_spec(arg) {
        Some((rev, path)) => warden::load::load_git(rev, path),
        None => warden::load::load(&[PathBuf::from(arg)]),
    };
    let sources = sources.map_err(|diags| {
        eprint!("{}", diag::render::human(&SourceMap::new(), &diags));
        ExitCode::from(2)
    })?;
    // No target is made: the diff reads the IR, which every target expresses. Expectations are
    // kept, not evaluated: the diff tells how each stands in both programs.
    let compiled = warden::compile_keeping_expects(sources, today);
    // Unmet claims and ended waivers (E10xx) are the program's state, not a reason to refuse.
    let refused = |d: &Diagnostic| d.is_error() && !d.code.starts_with("E10");
    match compiled.program {
        Some(program) if !compiled.diagnostics.iter().any(refused) => Ok(program),
        _ => {
            eprint!(
                "{}",
                diag::render::human(&compiled.sources, &compiled.diagnostics)
            );
            eprintln!("error: `{arg}` does not compile");
            Err(ExitCode::from(2))
        }
    }
}

/// `warden diff`: 0, or 1 when the change does what `--fail-on` names; 2 when a program
/// cannot be read or compiled or the diff cannot be told.
pub fn diff(
    old: &str,
    new: &str,
    format: DiffFormat,
    fail_on: &[FailOn],
    today: warden::ir::Date,
    max_bytes: Option<usize>,
) -> ExitCode {
    // The two programs compile side by side.
    let (a, b) = std::thread::scope(|scope| {
        let a = scope.spawn(|| diff_side(old, today));
        let b = diff_side(new, today);
        (a.join().unwrap_or(Err(ExitCode::from(2))), b)
    });
    let (a, b) = match (a, b) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(code), _) | (_, Err(code)) => return code,
    };
    let d = match warden::diff::diff(&a, &b, today) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let text = match format {
        DiffFormat::Md => warden::diff::markdown(&d, max_bytes),
        DiffFormat::Json => warden::diff::json(&d),
    };
    print!("{text}");
    let asked = |what: FailOn| fail_on.contains(&what);
    let mut failed = false;
    if d.widening && asked(FailOn::Widening) {
        eprintln!("error: the change widens what is allowed");
        failed = true;
    }
    if d.weakening && asked(FailOn::Weakening) {
        eprintln!("error: the change weakens a claimed control");
        failed = true;
    }
    if d.broken && asked(FailOn::Broken) {
        eprintln!("error: the change breaks an expectation that held");
        failed = true;
    }
    if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

pub struct AuditArgs {
    pub paths: Vec<PathBuf>,
    pub out: Option<PathBuf>,
    pub format: AuditFormat,
    pub targets: Vec<Target>,
    pub layout: Layout,
    pub today: warden::ir::Date,
    pub name: Option<String>,
}

/// `warden audit`: the report on standard output; exit 1 if the program has errors (nothing
/// is reported on a program that does not compile), 2 if it cannot be read.
pub fn audit(args: &AuditArgs) -> ExitCode {
    let sources = match warden::load::load(&args.paths) {
        Ok(s) => s,
        Err(diags) => {
            eprint!("{}", diag::render::human(&SourceMap::new(), &diags));
            return ExitCode::from(2);
        }
    };
    let mut compiled = warden::compile_for_audit(sources, &args.targets, args.layout, args.today);
    // Unmet claims, ended waivers and expectations that do not hold are what the report shows;
    // other errors leave nothing to report on.
    if !compiled.diagnostics.is_empty() {
        eprint!(
            "{}",
            diag::render::human(&compiled.sources, &compiled.diagnostics)
        );
    }
    let Some(docs) = compiled.documents.take().or(compiled.audited.take()) else {
        eprintln!("error: no report on a program with errors");
        return ExitCode::from(1);
    };
    let committed = args.out.as_ref().map(|out| {
        let files = warden::emit::plan(docs.clone(), args.layout);
        let stale = warden::emit::check(out, &files);
        let lines: Vec<String> = stale
            .iter()
            .map(|d| match &d.file {
                Some(f) => format!("{}: {}", f.path, d.message),
                None => d.message.clone(),
            })
            .collect();
        (out.display().to_string(), lines)
    });
    let Some(program) = compiled.program.as_ref() else {
        eprintln!("error: no report on a program with errors");
        return ExitCode::from(1);
    };
    let report = warden::audit::report(
        program,
        &compiled.sources,
        docs,
        args.layout,
        args.today,
        committed,
    );
    if !report.unmet.is_empty() {
        eprint!("{}", diag::render::human(&compiled.sources, &report.unmet));
    }
    let name = args.name.clone().unwrap_or_else(|| {
        args.paths
            .first()
            .and_then(|p| std::fs::canonicalize(p).ok())
            .and_then(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
            .unwrap_or_else(|| "program".to_string())
    });
    let text = match args.format {
        AuditFormat::Md => warden::audit::markdown(&report),
        AuditFormat::Html => warden::audit::html(&report),
        AuditFormat::Json => Ok(warden::audit::json(&report)),
        AuditFormat::Oscal => warden::audit::oscal(&report, &name),
    };
    match text {
        Ok(text) => {
            use std::io::Write;
            match std::io::stdout().lock().write_all(text.as_bytes()) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("error: cannot write to standard output: {e}");
                    ExitCode::from(1)
                }
            }
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(1)
        }
    }
}
