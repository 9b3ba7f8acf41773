//! warden: a compiler for security as code.
//!
//! sources ─▶ `parse` ─▶ AST ─▶ `check` ─▶ IR ─▶ `lower` (one view per target, rendered from
//! `targets/`) ─▶ `validate` ─▶ `emit`. See the README's architecture section.
#![forbid(unsafe_code)]

pub mod ast;
pub mod catalog;
pub mod check;
pub mod diag;
pub mod emit;
pub mod explain;
pub mod graph;
pub mod ir;
pub mod load;
pub mod lower;
pub mod parse;
pub mod render;
pub mod span;
pub mod validate;

use diag::Diagnostic;
use lower::{Document, Target};
use span::SourceMap;

/// The result of compiling a program: its diagnostics and, when there is no error, its documents.
pub struct Compilation {
    pub sources: SourceMap,
    pub diagnostics: Vec<Diagnostic>,
    pub documents: Option<Vec<Document>>,
    pub program: Option<ir::Program>,
}

/// Parses, checks, lowers, renders and validates `sources` for `targets`.
pub fn compile(sources: SourceMap, targets: &[Target]) -> Compilation {
    let mut diagnostics = Vec::new();
    let mut files = Vec::with_capacity(sources.len());
    for id in 0..sources.len() {
        let (file, diags) = parse::parse_file(id, sources.text(id));
        files.push(file);
        diagnostics.extend(diags);
    }
    // A file that does not parse contributes nothing, so checking the rest would only report
    // names it would have defined.
    let program = if diagnostics.iter().any(Diagnostic::is_error) {
        None
    } else {
        let (program, diags) = check::check(&sources, &files);
        diagnostics.extend(diags);
        program
    };
    if let Some(program) = &program {
        diagnostics.extend(lower::limits(program, targets));
    }
    let mut documents = None;
    if let Some(program) = &program
        && !diagnostics.iter().any(Diagnostic::is_error)
    {
        match lower::lower(program, &sources, targets).and_then(|docs| {
            let problems: Vec<String> = docs
                .iter()
                .filter_map(|d| validate::validate(d).err())
                .collect();
            if problems.is_empty() {
                Ok(docs)
            } else {
                Err(problems.join("\n"))
            }
        }) {
            Ok(docs) => documents = Some(docs),
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
    Compilation {
        sources,
        diagnostics,
        documents,
        program,
    }
}
