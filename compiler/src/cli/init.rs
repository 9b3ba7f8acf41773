//! `warden init [DIR]`: a starter program, its generated output, a pre-commit configuration that
//! keeps the output current and a CI workflow, so that a new repository starts from something
//! that builds and checks cleanly. Nothing already in DIR is overwritten.

use std::path::Path;
use std::process::ExitCode;

/// The starter program: one isolated namespace, a web service and its database, and the
/// expectations that say what the policies must allow and deny.
const PROGRAM: &str = include_str!("starter/shop.warden");

/// pre-commit: `warden check` on every commit (it takes milliseconds), so that an edit of the
/// program without a build, or a hand edit of the output, stops the commit.
const PRE_COMMIT: &str = include_str!("starter/pre-commit-config.yaml");

/// A GitHub Actions workflow: the same check in CI, with its findings as code-scanning results.
const WORKFLOW: &str = include_str!("starter/warden.yml");

pub fn run(dir: &Path) -> ExitCode {
    let files = [
        ("policy/shop.warden", PROGRAM),
        (".pre-commit-config.yaml", PRE_COMMIT),
        (".github/workflows/warden.yml", WORKFLOW),
    ];
    let taken: Vec<String> = files
        .iter()
        .map(|(rel, _)| dir.join(rel))
        .chain(std::iter::once(dir.join("generated")))
        .filter(|p| p.exists())
        .map(|p| p.display().to_string())
        .collect();
    if !taken.is_empty() {
        eprintln!(
            "error: `warden init` writes nothing over what is there: {}",
            taken.join(", ")
        );
        return ExitCode::from(2);
    }
    for (rel, text) in files {
        let path = dir.join(rel);
        let written = path
            .parent()
            .map_or(Ok(()), std::fs::create_dir_all)
            .and_then(|()| std::fs::write(&path, text));
        if let Err(e) = written {
            eprintln!("error: cannot write `{}`: {e}", path.display());
            return ExitCode::from(2);
        }
    }
    // The output, so that the first `warden check` (and commit) passes.
    let program = dir.join("policy");
    let sources = match warden::load::load(std::slice::from_ref(&program)) {
        Ok(s) => s,
        Err(_) => return ExitCode::from(2),
    };
    let compiled = warden::compile(sources, &warden::document::Target::DEFAULT);
    let Some(docs) = compiled.documents else {
        eprint!(
            "{}",
            warden::diag::render::human(&compiled.sources, &compiled.diagnostics)
        );
        return ExitCode::from(1);
    };
    let files = warden::emit::plan(docs, warden::document::Layout::Tree);
    if let Err(diags) = warden::emit::build(&dir.join("generated"), &files, &|_| Ok(())) {
        eprint!("{}", warden::diag::render::human(&compiled.sources, &diags));
        return ExitCode::from(1);
    }
    eprintln!(
        "wrote policy/shop.warden, generated/ ({} files), .pre-commit-config.yaml and \
         .github/workflows/warden.yml in {}",
        files.len(),
        dir.display()
    );
    ExitCode::SUCCESS
}
