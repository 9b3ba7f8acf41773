//! warden: a compiler for security as code.
//!
//! sources ─▶ `parse` ─▶ AST ─▶ `check` ─▶ IR ─▶ `lower` (one view per target, rendered from
//! `targets/`) ─▶ `validate` ─▶ `emit`. See the README's architecture section.
#![forbid(unsafe_code)]

pub mod ast;
pub mod catalog;
pub mod check;
pub mod diag;
pub mod document;
pub mod emit;
pub mod explain;
pub mod format;
pub mod graph;
pub mod ir;
pub mod load;
pub mod lower;
pub mod lsp;
mod parallel;
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

/// `compile` for an output laid out as `layout` (which changes what the kustomization lists).
pub fn compile_for(sources: SourceMap, targets: &[Target], layout: Layout) -> Compilation {
    let (files, mut diagnostics) = parse::all(&sources);
    // A file that does not parse contributes nothing, so checking the rest would only report
    // names it would have defined.
    let program = if diagnostics.iter().any(Diagnostic::is_error) {
        None
    } else {
        let (program, diags) = check::check(&sources, &files);
        diagnostics.extend(diags);
        program
    };
    let accepts = check::accepts::collect(&files);
    // The IR holds all that lowering needs; the syntax tree would only add to the peak. Freeing
    // it is some hundred thousand small frees, done beside the start of lowering, which is one
    // thread's work until the policies are planned.
    let dropped = std::thread::Builder::new().spawn(move || drop(files));
    if let Some(program) = &program {
        diagnostics.extend(lower::limits(program, targets));
    }
    let mut documents = None;
    if let Some(program) = &program
        && !diagnostics.iter().any(Diagnostic::is_error)
    {
        match lower::lower(program, &sources, targets, layout)
            .and_then(|docs| validate_all(&docs).map(|()| docs))
        {
            Ok(docs) => {
                let too_large = validate::sizes::check(&docs);
                if too_large.is_empty() {
                    documents = Some(docs);
                }
                diagnostics.extend(too_large);
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
    }
}
