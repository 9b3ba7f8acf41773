//! warden: a compiler for security as code.
//!
//! sources ─▶ `parse` ─▶ AST ─▶ `check` ─▶ IR ─▶ `lower` (one view per target, rendered from
//! `targets/`) ─▶ `validate` ─▶ `emit`. See the README's architecture section.
#![forbid(unsafe_code)]

pub mod admit;
pub mod ast;
pub mod audit;
pub mod catalog;
pub mod check;
pub mod diag;
pub mod diff;
pub mod document;
pub mod emit;
pub mod explain;
pub mod format;
pub mod graph;
pub mod import;
pub mod infer;
pub mod ir;
pub mod load;
pub mod lower;
pub mod lsp;
pub mod manifests;
pub mod parallel;
pub mod parse;
pub mod span;
pub mod validate;

use diag::Diagnostic;
use document::{Document, Layout, Target};
use span::SourceMap;

/// The result of compiling a program: its diagnostics and, when there is no error, its documents.
pub struct Compilation {
    pub sources: SourceMap,
    pub diagnostics: Vec<Diagnostic>,
    pub documents: Option<Vec<Document>>,
    pub program: Option<ir::Program>,
    /// The documents of a program whose only errors are about its compliance claims (a control
    /// nothing implements, a waiver that ended): not to be written, but what `audit` reports on.
    pub audited: Option<Vec<Document>>,
}

/// Parses, checks, lowers, renders and validates `sources` for `targets`, for the tree layout.
pub fn compile(sources: SourceMap, targets: &[Target]) -> Compilation {
    compile_for(sources, targets, Layout::Tree)
}

/// Checks every document (`validate::validate`), on every core; the error names each invalid one.
pub fn validate_all(docs: &[Document]) -> Result<(), String> {
    let problems: Vec<String> = parallel::map(docs, validate::validate)
        .into_iter()
        .filter_map(Result::err)
        .collect();
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("\n"))
    }
}

/// The day waivers and exemptions are counted on: `SOURCE_DATE_EPOCH` (seconds since 1970, UTC)
/// where it is set, else the clock. The command line's `--date` takes precedence over both.
pub fn today() -> ir::Date {
    if let Some(seconds) = std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|s| s.trim().parse::<i64>().ok())
    {
        return ir::Date::from_unix(seconds);
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    ir::Date::from_unix(now)
}

/// `compile` for an output laid out as `layout` (which changes what the kustomization lists),
/// on the day `today()` says.
pub fn compile_for(sources: SourceMap, targets: &[Target], layout: Layout) -> Compilation {
    compile_on(sources, targets, layout, today())
}

/// `compile_for` on `today`: the day only decides whether a waiver or an exemption has ended
/// (an error) or soon will (a warning); the documents never depend on it.
pub fn compile_on(
    sources: SourceMap,
    targets: &[Target],
    layout: Layout,
    today: ir::Date,
) -> Compilation {
    compile_with(sources, targets, layout, today, check::Expects::Evaluate)
}

/// The program of `sources` on `today` for `warden diff`, which tells how each expectation
/// stands in both programs rather than refuse one where some do not hold: they are kept, not
/// evaluated, and no target is made.
pub fn compile_keeping_expects(sources: SourceMap, today: ir::Date) -> Compilation {
    compile_with(sources, &[], Layout::Tree, today, check::Expects::Keep)
}

/// `compile_on` for `warden audit`, which reports how each expectation stands rather than refuse
/// a program where some do not hold: they are kept, not evaluated (`audit::report` evaluates
/// them), and the documents are made all the same, for they never depend on an expectation.
pub fn compile_for_audit(
    sources: SourceMap,
    targets: &[Target],
    layout: Layout,
    today: ir::Date,
) -> Compilation {
    compile_with(sources, targets, layout, today, check::Expects::Keep)
}

fn compile_with(
    sources: SourceMap,
    targets: &[Target],
    layout: Layout,
    today: ir::Date,
    expects: check::Expects,
) -> Compilation {
    let (files, mut diagnostics) = parse::all(&sources);
    // A file that does not parse contributes nothing, so checking the rest would only report
    // names it would have defined.
    let program = if diagnostics.iter().any(Diagnostic::is_error) {
        None
    } else {
        let (program, diags) = check::check_with(&sources, &files, expects);
        diagnostics.extend(diags);
        program
    };
    let accepts = check::accepts::collect(&files);
    // The IR holds all that lowering needs; the syntax tree would only add to the peak. Freeing
    // it is some hundred thousand small frees, done beside the start of lowering, which is one
    // thread's work until the policies are planned.
    let dropped = std::thread::Builder::new().spawn(move || drop(files));
    // Kept apart until the documents are made: a claim the program does not meet blocks the
    // output, not the audit that says so.
    let mut claims = Vec::new();
    if let Some(program) = &program {
        diagnostics.extend(lower::limits(program, targets));
        let coverage = if program.compliance.is_empty() {
            Vec::new()
        } else {
            check::compliance::coverage(program, &check::compliance::evidence(program))
        };
        claims = check::compliance::diagnostics(program, &coverage, today);
    }
    let mut documents = None;
    if let Some(program) = &program
        && !diagnostics.iter().any(Diagnostic::is_error)
    {
        match lower::lower(program, &sources, targets, layout)
            .and_then(|docs| validate_all(&docs).map(|()| docs))
        {
            Ok(docs) => {
                let mut refused = validate::sizes::check(&docs);
                if targets.contains(&Target::Installer) {
                    refused.extend(admit::installer::refusals(
                        program,
                        &docs,
                        lower::installer::NAMESPACE,
                    ));
                }
                if refused.is_empty() {
                    documents = Some(docs);
                }
                diagnostics.extend(refused);
            }
            Err(e) => diagnostics.push(
                Diagnostic::error(
                    "E0805",
                    "a generated document is invalid; this is a bug in warden",
                )
                .note(e)
                .help("nothing was written; please report this with the program"),
            ),
        }
    }
    let mut audited = None;
    if claims.iter().any(Diagnostic::is_error) {
        audited = documents.take();
    }
    diagnostics.extend(claims);
    diag::sort(&mut diagnostics);
    diagnostics.dedup();
    check::accepts::apply(&accepts, &mut diagnostics);
    // A thread that could not be started dropped the tree in `spawn`; a started one is waited
    // for, so that the tree is freed when this returns.
    if let Ok(handle) = dropped {
        let _ = handle.join();
    }
    Compilation {
        sources,
        diagnostics,
        documents,
        program,
        audited,
    }
}
