//! Diagnostics as a SARIF 2.1.0 log, for code-scanning services: one rule per code that occurs,
//! with its explanation from `compiler/codes/`; one result per diagnostic, its region from the
//! primary label's span (lines and columns in code points), its secondary labels as related
//! locations, its notes and help in the message, and a fingerprint that does not move with the
//! lines around it.
//!
//! ```text
//! warden check policy/ --out generated/ --format sarif > warden.sarif
//! ```
//!
//! URIs are relative to `%SRCROOT%`, the directory warden ran in (a repository's root, in CI), so
//! the log is the same on every machine; a file outside it is named by its absolute `file:` URI.

use super::{Diagnostic, Severity};
use crate::span::SourceMap;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The SARIF schema the log follows.
const SCHEMA: &str = "https://json.schemastore.org/sarif-2.1.0.json";

fn level(s: Severity) -> &'static str {
    match s {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Note => "note",
    }
}

/// A path as a URI relative to `base` where it is below it, else as an absolute `file:` URI;
/// percent-encoded where URIs require it.
fn uri(path: &Path, base: Option<&Path>) -> (String, bool) {
    let (text, relative) = match base.and_then(|b| path.strip_prefix(b).ok()) {
        Some(rel) => (components(rel), true),
        None => (format!("file://{}", components(path)), false),
    };
    (text, relative)
}

fn components(path: &Path) -> String {
    let mut out = String::new();
    for (i, c) in path.components().enumerate() {
        use std::path::Component;
        match c {
            Component::RootDir => out.push('/'),
            Component::Normal(part) => {
                if i > 0 && !out.ends_with('/') {
                    out.push('/');
                }
                for b in part.to_string_lossy().bytes() {
                    if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                        out.push(char::from(b));
                    } else {
                        out.push_str(&format!("%{b:02X}"));
                    }
                }
            }
            _ => {}
        }
    }
    out
}

/// An artifact location: `uri` with `%SRCROOT%` as its base where it is relative.
fn location(path: &Path, base: Option<&Path>) -> Value {
    let (text, relative) = uri(path, base);
    if relative {
        json!({ "uri": text, "uriBaseId": "%SRCROOT%" })
    } else {
        json!({ "uri": text })
    }
}

/// The explanation of `code`: its first line (without `# CODE: `) and the rest.
fn explanation(code: &str) -> (String, String) {
    let text = super::codes::explain(code).unwrap_or("");
    let mut lines = text.lines();
    let title = lines
        .next()
        .unwrap_or("")
        .trim_start_matches('#')
        .trim()
        .trim_start_matches(code)
        .trim_start_matches(':')
        .trim()
        .to_string();
    (
        title,
        lines.collect::<Vec<_>>().join("\n").trim().to_string(),
    )
}

/// A fingerprint of what a diagnostic is about, not of where: its code, its file and the text it
/// points at, and its message. Lines added above it do not change it.
fn fingerprint(sources: &SourceMap, d: &Diagnostic) -> String {
    let (file, under) = match d.span() {
        Some(s) => (
            sources.name(s.file),
            sources.text(s.file).get(s.range()).unwrap_or(""),
        ),
        None => ("", ""),
    };
    use sha2::Digest;
    let key = serde_json::to_string(&(d.code, file, under, &d.message)).unwrap_or_default();
    sha2::Sha256::digest(key.as_bytes())
        .iter()
        .take(16)
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The SARIF log of `diags`. `cwd` is `%SRCROOT%`; `output`, where results are about files of the
/// output directory (stale or foreign files), is that directory.
pub fn log(sources: &SourceMap, diags: &[Diagnostic], cwd: Option<&Path>) -> String {
    let program_root: Option<PathBuf> = sources.root().map(Path::to_path_buf);
    // One rule per code, in the order codes first occur, so that `ruleIndex` points into it.
    let mut rules: Vec<Value> = Vec::new();
    let mut index: BTreeMap<&str, usize> = BTreeMap::new();
    for d in diags {
        if index.contains_key(d.code) {
            continue;
        }
        index.insert(d.code, rules.len());
        let (title, full) = explanation(d.code);
        rules.push(json!({
            "id": d.code,
            "shortDescription": { "text": if title.is_empty() { d.code.to_string() } else { title } },
            "fullDescription": { "text": if full.is_empty() { d.code.to_string() } else { full.clone() } },
            "help": {
                "text": format!("warden explain-code {}", d.code),
                "markdown": full,
            },
            "defaultConfiguration": { "level": level(d.severity) },
        }));
    }
    // A path a diagnostic names, as the file on disk: relative ones are below the working
    // directory.
    let on_disk = |path: &str| -> PathBuf {
        match cwd {
            Some(c) if Path::new(path).is_relative() => c.join(path),
            _ => PathBuf::from(path),
        }
    };
    let file_of = |name: &str| -> PathBuf {
        match &program_root {
            Some(root) => root.join(name),
            None => PathBuf::from(name),
        }
    };
    let results: Vec<Value> = diags
        .iter()
        .map(|d| {
            let mut text = d.message.clone();
            for note in &d.notes {
                text.push_str(&format!("\nnote: {note}"));
            }
            if let Some(help) = &d.help {
                text.push_str(&format!("\nhelp: {help}"));
            }
            let region = |s: crate::span::Span| {
                let (start_line, start_column) = sources.line_col(s.file, s.start);
                let (end_line, end_column) = sources.line_col(s.file, s.end);
                json!({
                    "startLine": start_line,
                    "startColumn": start_column,
                    "endLine": end_line,
                    "endColumn": end_column,
                })
            };
            let primary = d.labels.iter().find(|l| l.primary);
            let mut locations = Vec::new();
            if let Some(l) = primary {
                locations.push(json!({
                    "physicalLocation": {
                        "artifactLocation": location(&file_of(sources.name(l.span.file)), cwd),
                        "region": region(l.span),
                    },
                    "message": { "text": l.message },
                }));
            } else if let Some(file) = &d.file {
                // About a file of the output (stale, edited, missing, foreign): that file, at
                // the first line that differs (a missing file's region is its first line too).
                locations.push(json!({
                    "physicalLocation": {
                        "artifactLocation": location(&on_disk(&file.path), cwd),
                        "region": { "startLine": file.line.unwrap_or(1) },
                    },
                }));
            } else if let Some(path) = file_named_in(&d.message).or_else(|| {
                // Nothing else to point at (an output directory locked or unwritable): the
                // program, whose build it is. Code scanning takes no result without a location.
                (!sources.is_empty()).then(|| file_of(sources.name(0)).display().to_string())
            }) {
                locations.push(json!({
                    "physicalLocation": {
                        "artifactLocation": location(&on_disk(&path), cwd),
                        "region": { "startLine": 1 },
                    },
                }));
            }
            let related: Vec<Value> = d
                .labels
                .iter()
                .filter(|l| !l.primary)
                .enumerate()
                .map(|(i, l)| {
                    json!({
                        "id": i,
                        "physicalLocation": {
                            "artifactLocation": location(&file_of(sources.name(l.span.file)), cwd),
                            "region": region(l.span),
                        },
                        "message": { "text": l.message },
                    })
                })
                .collect();
            let mut result = json!({
                "ruleId": d.code,
                "ruleIndex": index.get(d.code).copied().unwrap_or(0),
                "level": level(d.severity),
                "message": { "text": text },
                "locations": locations,
                "partialFingerprints": { "wardenDiagnostic/v1": fingerprint(sources, d) },
            });
            if let Some(obj) = result.as_object_mut() {
                if !related.is_empty() {
                    obj.insert("relatedLocations".to_string(), Value::Array(related));
                }
                // Acknowledged by an `accept` line: code scanning shows it as dismissed in the
                // source, with the reason.
                if let Some(reason) = &d.accepted {
                    obj.insert(
                        "suppressions".to_string(),
                        json!([{ "kind": "inSource", "justification": reason }]),
                    );
                }
            }
            result
        })
        .collect();
    let log = json!({
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {
                "driver": {
                    "name": "warden",
                    "version": env!("CARGO_PKG_VERSION"),
                    "rules": rules,
                }
            },
            "originalUriBaseIds": {
                "%SRCROOT%": { "description": { "text": "The directory warden ran in." } }
            },
            "columnKind": "unicodeCodePoints",
            "results": results,
        }]
    });
    let mut text = serde_json::to_string_pretty(&log).unwrap_or_default();
    text.push('\n');
    text
}

/// The path a diagnostic without a span names between backticks first (`` `out/x.yaml` is stale``).
fn file_named_in(message: &str) -> Option<String> {
    let start = message.find('`')? + 1;
    let len = message.get(start..)?.find('`')?;
    message.get(start..start + len).map(str::to_string)
}
