//! Snapshots of what every example generates and of the diagnostics for every broken input.
//!
//! Adding a case is dropping a file: a directory under `examples/` (a program) or a `.warden` file
//! under `compiler/tests/broken/`. Then `cargo test`, `cargo insta review`, and commit the input
//! with its `.snap` in `snapshots/`.
//!
//! A broken input starts with `//! CODE `text`` lines: each says that a diagnostic with that code
//! underlines exactly `text` with its primary label. The test fails if one is missing or if the
//! input produces a diagnostic no header line names, so every span is checked, not just its
//! presence. An input whose header names only warnings (`W…`) must compile.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "in tests a panic is a failed test"
)]

use crate::common;

use std::path::Path;
use warden::document::{Layout, Target};

pub(crate) fn settings() -> insta::Settings {
    let mut s = insta::Settings::clone_current();
    s.set_snapshot_path(common::repo().join("snapshots"));
    s.set_prepend_module_to_snapshot(false);
    s.set_omit_expression(true);
    s
}

#[test]
fn examples_generate() {
    for dir in common::examples() {
        let name = common::example_name(&dir);
        let docs = common::compile_ok(std::slice::from_ref(&dir));
        let mut text = String::new();
        for (path, bytes) in warden::emit::plan(docs, warden::document::Layout::Tree) {
            text.push_str(&format!(
                "=== {path}\n{}",
                String::from_utf8_lossy(&bytes.to_bytes())
            ));
        }
        settings().bind(|| insta::assert_snapshot!(format!("example-{name}"), text));
    }
}

#[test]
fn examples_draw() {
    for dir in common::examples() {
        let name = common::example_name(&dir);
        let sources = warden::load::load(std::slice::from_ref(&dir)).expect("loads");
        let c = warden::compile(sources, &[Target::Netpol]);
        let program = c.program.expect("compiles");
        for (format, ext) in [
            (warden::graph::Format::Dot, "dot"),
            (warden::graph::Format::Mermaid, "mermaid"),
        ] {
            let text = warden::graph::render(&program, format);
            settings().bind(|| insta::assert_snapshot!(format!("graph-{name}.{ext}"), text));
        }
    }
}

/// The audit report of examples that show each part of it as Markdown, and Online Boutique's as
/// HTML (which a person reviews as a screenshot too: `compiler/tests/README.md`).
#[test]
fn examples_audit() {
    let shown = [
        "online-boutique",
        "minimal",
        "bookinfo",
        "seccomp",
        "pod-security-restricted",
    ];
    for dir in common::examples() {
        let name = common::example_name(&dir);
        if !shown.contains(&name.as_str()) {
            continue;
        }
        let sources = warden::load::load(std::slice::from_ref(&dir)).expect("loads");
        let targets = common::targets_for(&dir);
        let c = warden::compile_on(sources, &targets, Layout::Tree, common::today());
        let docs = c.documents.as_ref().expect("compiles");
        let program = c.program.as_ref().expect("compiles");
        let report = warden::audit::report(
            program,
            &c.sources,
            docs.clone(),
            Layout::Tree,
            common::today(),
            None,
        );
        let md = warden::audit::markdown(&report).expect("renders");
        settings().bind(|| insta::assert_snapshot!(format!("audit-{name}.md"), md));
        if name == "online-boutique" {
            let html = warden::audit::html(&report).expect("renders");
            settings().bind(|| insta::assert_snapshot!(format!("audit-{name}.html"), html));
        }
    }
}

#[test]
fn broken_inputs_report() {
    let s = settings();
    s.bind(|| {
        insta::glob!("../broken", "*.warden", |path| {
            let (rendered, failures) = diagnose(path);
            assert!(
                failures.is_empty(),
                "{}:\n{}\n\n{rendered}",
                path.display(),
                failures.join("\n")
            );
            insta::assert_snapshot!(rendered);
        });
    });
}

/// Compiles one broken file; returns the rendered diagnostics and the header lines they violate.
fn diagnose(path: &Path) -> (String, Vec<String>) {
    let sources = warden::load::load(&[path.to_path_buf()]).expect("loads");
    let text = sources.text(0).to_string();
    // Expiry is counted on a fixed day, so that the snapshots do not change with the clock.
    let c = warden::compile_on(sources, &Target::ALL, Layout::Tree, common::today());
    let rendered = warden::diag::render::human(&c.sources, &c.diagnostics);
    let mut expected: Vec<(String, String)> = Vec::new();
    for line in text.lines().take_while(|l| l.starts_with("//!")) {
        let rest = line.trim_start_matches("//!").trim();
        let (code, span) = rest.split_once(' ').expect("header is `//! CODE `text``");
        expected.push((code.to_string(), span.trim().trim_matches('`').to_string()));
    }
    assert!(
        !expected.is_empty(),
        "{} has no `//! CODE `text`` header",
        path.display()
    );
    let expects_error = expected.iter().any(|(code, _)| code.starts_with('E'));
    assert_eq!(
        c.documents.is_none(),
        expects_error,
        "{}: errors expected: {expects_error}\n{rendered}",
        path.display()
    );
    let mut failures = Vec::new();
    let found: Vec<(String, String)> = c
        .diagnostics
        .iter()
        .map(|d| {
            let under = d
                .span()
                .and_then(|s| text.get(s.range()))
                .unwrap_or("")
                .to_string();
            (d.code.to_string(), under)
        })
        .collect();
    for e in &expected {
        if !found.contains(e) {
            failures.push(format!(
                "expected {} underlining `{}`; found {:?}",
                e.0, e.1, found
            ));
        }
    }
    for (d, f) in c.diagnostics.iter().zip(&found) {
        if !expected.contains(f) {
            failures.push(format!(
                "unexpected {} underlining `{}`: {}",
                f.0, f.1, d.message
            ));
        }
    }
    (rendered, failures)
}
