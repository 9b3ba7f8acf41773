//! `warden import netpol FILES… [--out DIR]`: NetworkPolicies as a program, printed or written a
//! file per namespace. A policy the program cannot say stops it with nothing written; the
//! program is compiled before it is written, so what `import` writes builds.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use warden::diag;
use warden::import::netpol::HEADER;

pub fn netpol(paths: &[PathBuf], namespace: &str, out: Option<&Path>) -> ExitCode {
    let manifests = warden::manifests::read(paths);
    let imported = warden::import::netpol::import(&manifests, namespace);
    let mut diagnostics = manifests.diagnostics.clone();
    diagnostics.extend(imported.diagnostics);
    eprint!("{}", diag::render::human(&manifests.sources, &diagnostics));
    if diagnostics.iter().any(diag::Diagnostic::is_error) {
        eprintln!("error: nothing imported");
        return ExitCode::from(1);
    }
    if imported.policies == 0 {
        eprintln!(
            "error: no NetworkPolicy in {} file(s)",
            manifests.sources.len()
        );
        return ExitCode::from(1);
    }
    let mut program = warden::span::SourceMap::new();
    for (name, text) in &imported.files {
        program.add(name.clone(), text.clone());
    }
    let compiled = warden::compile(program, &[warden::document::Target::Netpol]);
    if compiled.diagnostics.iter().any(diag::Diagnostic::is_error) {
        eprint!(
            "{}",
            diag::render::human(&compiled.sources, &compiled.diagnostics)
        );
        eprintln!(
            "error: the program does not compile (a defect of `warden import`); nothing written"
        );
        return ExitCode::from(1);
    }
    // The program's own warnings are the first review of what the cluster enforced.
    eprint!(
        "{}",
        diag::render::human(&compiled.sources, &compiled.diagnostics)
    );
    let Some(dir) = out else {
        let texts: Vec<&str> = imported.files.iter().map(|(_, t)| t.as_str()).collect();
        print!("{}", texts.join("\n"));
        return ExitCode::SUCCESS;
    };
    match super::infer::write(dir, &imported.files, HEADER, "warden import") {
        Ok(()) => {
            eprintln!(
                "imported {} NetworkPolicies into {} file(s) in {}",
                imported.policies,
                imported.files.len(),
                dir.display()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(1)
        }
    }
}
