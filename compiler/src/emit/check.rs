//! `warden check`: the output directory compared with what the program generates now.

use super::existing::{foreign_error, scan};
use super::{Content, error};
use crate::diag::Diagnostic;
use std::collections::BTreeSet;
use std::fs;
use std::path::Path;

/// Compares the output directory with what the program generates now. Returns one diagnostic per
/// missing, stale or foreign file; none means the output is up to date.
pub fn check(out: &Path, files: &[(String, Content)]) -> Vec<Diagnostic> {
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
        match fs::File::open(&path).and_then(|f| content.same_as(f)) {
            Ok(true) => {}
            Ok(false) => diags.push(
                error("E0803", format!("`{}` is stale", path.display()))
                    .note("it differs from what the program generates now"),
            ),
            Err(_) => diags.push(error("E0803", format!("`{}` is missing", path.display()))),
        }
    }
    for rel in &existing.files {
        if expected.contains(rel.as_str()) {
            continue;
        }
        if existing.generated.contains(rel) {
            diags.push(
                error("E0803", format!("`{}` is stale", out.join(rel).display()))
                    .note("the program no longer generates it"),
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
