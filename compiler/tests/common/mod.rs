//! Helpers shared by the integration tests.
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test helpers: each test binary uses part of them, and a panic is a failed test"
)]

pub mod admission;
pub mod cluster;
pub mod seccomp;

use std::path::{Path, PathBuf};
use warden::document::{Document, Target};

pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf()
}

/// The shared corpora the oracle suite reads: `$WARDEN_CORPORA`, or `../shared/corpora` beside
/// the repository. A missing corpus is a failure with this message, never a skip.
pub fn corpora() -> PathBuf {
    let dir = std::env::var_os("WARDEN_CORPORA")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join("../shared/corpora"));
    assert!(
        dir.is_dir(),
        "the corpora are missing at {}: set WARDEN_CORPORA to the shared corpora's directory",
        dir.display()
    );
    dir
}

pub fn example(name: &str) -> PathBuf {
    repo().join("examples").join(name)
}

/// The example programs: every directory under `examples/` that holds `.warden` files, and the
/// programs inside directories that only group others (`examples/recipes/*`).
pub fn examples() -> Vec<PathBuf> {
    fn programs(dir: &Path, out: &mut Vec<PathBuf>) {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
            .expect("readable")
            .map(|e| e.expect("entry").path())
            .collect();
        entries.sort();
        if entries
            .iter()
            .any(|p| p.extension().is_some_and(|e| e == "warden"))
        {
            out.push(dir.to_path_buf());
            return;
        }
        for sub in entries.iter().filter(|p| p.is_dir()) {
            programs(sub, out);
        }
    }
    let mut out = Vec::new();
    programs(&repo().join("examples"), &mut out);
    out
}

/// An example's name for snapshots: its path below `examples/`, `-` for `/`.
pub fn example_name(dir: &Path) -> String {
    dir.strip_prefix(repo().join("examples"))
        .unwrap_or(dir)
        .to_string_lossy()
        .replace('/', "-")
}

/// The targets an example is built for: programs under `examples/cilium/` say what only Cilium
/// can (host names, HTTP rules), so they are built for `cilium` instead of `netpol`; every other
/// example for every target.
pub fn targets_for(dir: &Path) -> Vec<Target> {
    if dir.starts_with(repo().join("examples/cilium")) {
        vec![Target::Cilium, Target::Seccomp, Target::Vap]
    } else {
        Target::ALL.to_vec()
    }
}

/// Compiles `sources` to `targets` and parses every document back, by output path; panics with
/// the rendered diagnostics on error.
pub fn parsed_documents(
    sources: warden::span::SourceMap,
    targets: &[Target],
) -> std::collections::BTreeMap<String, serde_json::Value> {
    let c = warden::compile(sources, targets);
    let Some(docs) = c.documents else {
        panic!(
            "{}",
            warden::diag::render::human(&c.sources, &c.diagnostics)
        );
    };
    docs.iter().map(|d| (d.path.clone(), parse(d))).collect()
}

/// A document parsed the way its consumers parse it, independently of warden's own reader:
/// serde_json for seccomp profiles, serde_yaml (libyaml) for the rest; exactly one document.
pub fn parse(doc: &Document) -> serde_json::Value {
    if doc.schema == warden::document::Schema::SeccompProfile {
        return serde_json::from_str(&doc.text).expect("JSON");
    }
    let mut docs = Vec::new();
    for d in serde_yaml::Deserializer::from_str(&doc.text) {
        // Through serde_yaml's own value, which refuses a duplicate key as Kubernetes does.
        let v: serde_yaml::Value =
            serde::Deserialize::deserialize(d).unwrap_or_else(|e| panic!("{}: {e}", doc.path));
        docs.push(serde_json::to_value(v).expect("a JSON value"));
    }
    assert_eq!(docs.len(), 1, "{}: one document", doc.path);
    docs.pop().expect("one")
}

/// `parsed_documents` of a program of one file, `p.warden`.
pub fn parsed_program(
    text: &str,
    targets: &[Target],
) -> std::collections::BTreeMap<String, serde_json::Value> {
    let mut sources = warden::span::SourceMap::new();
    sources.add("p.warden".to_string(), text.to_string());
    parsed_documents(sources, targets)
}

/// Compiles the program at `paths` to its targets (`targets_for` the first path); panics with
/// the rendered diagnostics on error.
pub fn compile_ok(paths: &[PathBuf]) -> Vec<Document> {
    let sources = warden::load::load(paths).expect("program loads");
    let targets = paths.first().map(|p| targets_for(p)).unwrap_or_default();
    let c = warden::compile_on(sources, &targets, warden::document::Layout::Tree, today());
    match c.documents {
        Some(d) => d,
        None => panic!(
            "{}",
            warden::diag::render::human(&c.sources, &c.diagnostics)
        ),
    }
}

/// The day the suite counts waivers and exemptions on (the examples' end on later days), so
/// that no test changes with the clock.
pub const TODAY: &str = "2026-12-06";

pub fn today() -> warden::ir::Date {
    warden::ir::Date::parse(TODAY).expect("a date")
}

/// xorshift64: deterministic, so a failure names the seed that reproduces it.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    pub fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

pub fn warden_bin() -> &'static str {
    env!("CARGO_BIN_EXE_warden")
}

/// Runs the warden binary; returns (exit code, stdout, stderr).
pub fn run(args: &[&str], cwd: &Path) -> (i32, String, String) {
    let out = std::process::Command::new(warden_bin())
        .args(args)
        .current_dir(cwd)
        .env("NO_COLOR", "1")
        .output()
        .expect("warden runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Every file below `dir`, as relative path and bytes, sorted.
pub fn tree(dir: &Path) -> Vec<(String, Vec<u8>)> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<(String, Vec<u8>)>) {
        for e in std::fs::read_dir(dir)
            .expect("readable")
            .map(|e| e.expect("entry"))
        {
            let p = e.path();
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                let rel = p
                    .strip_prefix(root)
                    .expect("inside")
                    .to_string_lossy()
                    .into_owned();
                out.push((rel, std::fs::read(&p).expect("read")));
            }
        }
    }
    let mut out = Vec::new();
    if dir.exists() {
        walk(dir, dir, &mut out);
    }
    out.sort();
    out
}

/// A program of `n` services in one isolated namespace, `chain/s0` … , each with its own port;
/// `linked`, each reaches the next on that one's port, so that a diff of the two has `n - 1`
/// connections no two of which change alike.
pub fn chain(n: usize, linked: bool) -> String {
    let mut text = String::from("namespace chain {\n  isolate\n  allow dns\n}\n");
    for i in 0..n {
        text.push_str(&format!(
            "service s{i} in chain {{\n  pods app = \"s{i}\"\n  port p {}/tcp\n",
            8000 + i
        ));
        if linked && i + 1 < n {
            text.push_str(&format!("  to s{} on p\n", i + 1));
        }
        text.push_str("}\n");
    }
    text
}
