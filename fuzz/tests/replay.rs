//! Replays every stored fuzz input through its target's body: the corpus the fuzzers grew (a
//! minimised copy is committed under `corpus/`) and every input that once broke a promise
//! (`regressions/`, one file per bug, named for it). A short libFuzzer run of each target is in
//! `.ci/test`; this test needs no fuzzer and runs in `cargo test`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "in tests a panic is a failed test"
)]

use std::fs;
use std::path::{Path, PathBuf};

type Body = fn(&[u8]);

const TARGETS: [(&str, Body); 8] = [
    ("parse", warden_fuzz::parse),
    ("check", warden_fuzz::check),
    ("compile", warden_fuzz::compile),
    ("round_trip", warden_fuzz::round_trip),
    ("lsp", warden_fuzz::lsp),
    ("manifests", warden_fuzz::manifests),
    ("node", warden_fuzz::node),
    ("review", warden_fuzz::review),
];

fn inputs(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = match fs::read_dir(dir) {
        Ok(entries) => entries.map(|e| e.unwrap().path()).collect(),
        Err(_) => Vec::new(),
    };
    files.sort();
    files
}

fn replay(kind: &str, at_least: usize) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join(kind);
    for (target, body) in TARGETS {
        let files = inputs(&root.join(target));
        assert!(
            files.len() >= at_least,
            "{}/{target} holds {} inputs; the replay would prove nothing",
            root.display(),
            files.len()
        );
        for file in files {
            let data = match fs::read(&file) {
                Ok(data) => data,
                // A fuzzer running beside the test replaces inputs as it shrinks them.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => panic!("{}: {e}", file.display()),
            };
            if std::panic::catch_unwind(|| body(&data)).is_err() {
                panic!("{target} broke on {}", file.display());
            }
        }
    }
}

#[test]
fn the_corpus_of_every_target_replays_cleanly() {
    replay("corpus", 50);
}

#[test]
fn every_input_that_once_broke_warden_replays_cleanly() {
    replay("regressions", 0);
}

/// The round trip is only as good as the programs it builds: over the stored inputs they use
/// every kind of declaration and line, and some of them compile to documents.
#[test]
fn the_structure_aware_corpus_builds_programs_of_every_kind() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus/round_trip");
    let texts: Vec<String> = inputs(&root)
        .iter()
        .filter_map(|f| warden_fuzz::generated(&fs::read(f).unwrap()))
        .collect();
    let all = texts.join("\n");
    for needle in [
        "namespace ",
        "service ",
        "admission ",
        "expect ",
        "dns {",
        "syscalls {",
        " only ",
        " except ",
        "pods(",
        " in all namespaces",
        "isolate",
        "labels ",
        "port ",
        "errno ",
        " if arg",
        "applies to workloads",
        "exempt images",
        "require cel",
        "run-as-user",
        "pod-security",
        "on all ports",
        "nodelocal",
        "\\\"",
        "\\n",
    ] {
        assert!(all.contains(needle), "no generated program has `{needle}`");
    }
    let compiled = texts
        .iter()
        .filter(|text| {
            let mut sources = warden::span::SourceMap::new();
            sources.add("p.warden".to_string(), (*text).clone());
            warden::compile(sources, &warden::document::Target::ALL)
                .documents
                .is_some()
        })
        .count();
    assert!(compiled >= 5, "only {compiled} generated programs compile");
}

/// `review` is only as good as the pairs it compares: over the stored inputs, reports count
/// expectations that fail and controls waived and missing, and diffs change connections, system
/// calls, admission rules, waivers, the standing of claimed controls and of expectations, and
/// break some that held.
#[test]
fn the_review_corpus_reaches_every_part_of_audit_and_diff() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus/review");
    let mut counts: std::collections::BTreeMap<&str, usize> = std::collections::BTreeMap::new();
    for file in inputs(&root) {
        let r = warden_fuzz::reached(&fs::read(&file).unwrap());
        for (name, hit) in [
            ("audited", r.audited),
            ("failing", r.failing),
            ("waived", r.waived),
            ("missing", r.missing),
            ("network", r.network),
            ("seccomp", r.seccomp),
            ("admission", r.admission),
            ("waivers", r.waivers),
            ("controls", r.controls),
            ("expectations", r.expectations),
            ("broken", r.broken),
        ] {
            *counts.entry(name).or_default() += usize::from(hit);
        }
    }
    for (name, n) in &counts {
        assert!(*n >= 5, "only {n} stored inputs reach {name}: {counts:?}");
    }
}
