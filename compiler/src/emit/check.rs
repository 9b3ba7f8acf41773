//! `warden check`: the output directory compared with what the program generates now.

use super::existing::{foreign_error, scan};
use super::{Content, MANIFEST, error, sha256_hex};
use crate::diag::Diagnostic;
use std::collections::BTreeSet;
use std::fs;
use std::path::Path;

/// Compares the output directory with what the program generates now. Returns one diagnostic per
/// missing, stale or foreign file; none means the output is up to date.
pub fn check(out: &Path, files: &[(String, Content)]) -> Vec<Diagnostic> {
    let _lock = match super::lock::take(out, false, super::lock::wait()) {
        Ok(lock) => lock,
        Err(d) => return d,
    };
    let existing = match scan(out) {
        Ok(Some(e)) => e,
        Ok(None) => {
            return vec![
                error("E0803", format!("`{}` does not exist", out.display()))
                    .help("run `warden build` and commit its output"),
            ];
        }
        Err(d) => return d,
    };
    let mut diags = Vec::new();
    let expected: BTreeSet<&str> = files.iter().map(|(p, _)| p.as_str()).collect();
    for (rel, content) in files {
        let path = out.join(rel);
        let shown = path.display().to_string();
        match fs::File::open(&path).and_then(|f| content.same_as(f)) {
            Ok(true) => {}
            Ok(false) => {
                let line = first_difference(&path, content);
                let diag = if edited(&path, existing.generated.get(rel.as_str())) {
                    error("E0803", format!("`{shown}` was edited by hand"))
                        .note(format!(
                            "it differs from what warden wrote there ({MANIFEST} holds its \
                             sha256), first on line {line}"
                        ))
                        .help("edit the program instead, then run `warden build`: it writes the file again")
                } else {
                    error("E0803", format!("`{shown}` is stale")).note(format!(
                        "it differs from what the program generates now, first on line {line}"
                    ))
                };
                diags.push(diag.about_file(shown, Some(line)));
            }
            Err(_) => {
                diags.push(error("E0803", format!("`{shown}` is missing")).about_file(shown, None))
            }
        }
    }
    for rel in &existing.files {
        if expected.contains(rel.as_str()) {
            continue;
        }
        if existing.generated.contains_key(rel) {
            let shown = out.join(rel).display().to_string();
            diags.push(
                error("E0803", format!("`{shown}` is stale"))
                    .note("the program no longer generates it")
                    .about_file(shown, Some(1)),
            );
        } else {
            diags.extend(foreign_error(out, std::slice::from_ref(rel)));
        }
    }
    if let Some(d) = diags.first_mut() {
        d.help = Some(
            d.help
                .take()
                .unwrap_or_else(|| "run `warden build` and commit its output".to_string()),
        );
    }
    diags
}

/// Whether the file at `path` differs from what warden wrote there, whose sha256 the manifest
/// recorded: a hand edit rather than a program that changed since.
fn edited(path: &Path, recorded: Option<&String>) -> bool {
    match (recorded, fs::read(path)) {
        (Some(sha), Ok(bytes)) => !sha.is_empty() && sha256_hex(&bytes) != *sha,
        _ => false,
    }
}

/// The first line (from 1) of the file at `path` that is not the line warden generates there.
fn first_difference(path: &Path, content: &Content) -> usize {
    let actual = fs::read(path).unwrap_or_default();
    let expected = content.to_bytes();
    let same = actual
        .iter()
        .zip(&expected)
        .take_while(|(a, b)| a == b)
        .count();
    1 + expected.iter().take(same).filter(|b| **b == b'\n').count()
}
