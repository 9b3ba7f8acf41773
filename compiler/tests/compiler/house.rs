//! The house's rules, checked: phases import only the phases below them (and
//! `docs/architecture.md` draws exactly that), rustfmt reaches every line of the compiler, no file
//! grows past ~900 lines, comments carry no timings (those go to `compiler/benches/HISTORY.md`),
//! the README stays short and every relative link of the documentation leads somewhere.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "in tests a panic is a failed test"
)]

use crate::common;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The phases from the bottom up: each may import only those on floors below its own. The
/// driver (`lib.rs`, which compiles a program phase by phase) and `main.rs` stand on top.
const FLOORS: &[&[&str]] = &[
    &["span", "parallel"],
    &["diag"],
    &["catalog"],
    &["manifests"],
    &["ast"],
    &["parse"],
    &["ir"],
    &["check"],
    &["document"],
    &["lower"],
    &["validate"],
    &["emit"],
    &["load", "format", "graph", "explain"],
    &["audit"],
    &["diff"],
    &["admit"],
    &["infer"],
    &["import"],
    &["lsp"],
];

fn files_under(dir: &Path, ext: &str, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for path in entries {
        // Packages npm installed for the Node.js examples are not the project's.
        if path.is_dir() && !path.ends_with("node_modules") {
            files_under(&path, ext, out);
        } else if path.extension().is_some_and(|e| e == ext) {
            out.push(path);
        }
    }
}

fn sources(dirs: &[&str], ext: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for dir in dirs {
        files_under(&common::repo().join(dir), ext, &mut out);
    }
    out
}

/// The top module of `compiler/src` a file belongs to (`lib` for `lib.rs`).
fn module_of(path: &Path) -> String {
    let src = common::repo().join("compiler/src");
    let rel = path.strip_prefix(&src).unwrap();
    let first = rel
        .components()
        .next()
        .unwrap()
        .as_os_str()
        .to_string_lossy();
    first.trim_end_matches(".rs").to_string()
}

/// The top modules each module of the library imports (`crate::X`), from the code before its
/// tests: a module's unit tests may reach for anything.
fn imports() -> BTreeMap<String, BTreeSet<String>> {
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for path in sources(&["compiler/src"], "rs") {
        let module = module_of(&path);
        if module == "bin" || module == "cli" || path.file_name().is_some_and(|n| n == "tests.rs") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let code = text.split("#[cfg(test)]").next().unwrap_or("");
        let deps = graph.entry(module.clone()).or_default();
        for (i, _) in code.match_indices("crate::") {
            let name: String = code[i + "crate::".len()..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() && name != module {
                // `crate::compile` and the like are the driver's, in `lib.rs`.
                let known = FLOORS.iter().any(|f| f.contains(&name.as_str()));
                deps.insert(if known { name } else { "lib".to_string() });
            }
        }
    }
    graph
}

fn floor(module: &str) -> usize {
    FLOORS
        .iter()
        .position(|f| f.contains(&module))
        .unwrap_or(FLOORS.len())
}

/// The import graph as `docs/architecture.md` draws it, one edge a line, bottom to top.
fn picture(graph: &BTreeMap<String, BTreeSet<String>>) -> String {
    let mut out = String::from("```mermaid\nflowchart BT\n");
    let mut edges: Vec<(usize, &str, &str)> = graph
        .iter()
        .flat_map(|(from, to)| {
            to.iter()
                .map(move |t| (floor(from), from.as_str(), t.as_str()))
        })
        .collect();
    edges.sort();
    for (_, from, to) in edges {
        out.push_str(&format!("  {from} --> {to}\n"));
    }
    out.push_str("```\n");
    out
}

#[test]
fn each_phase_imports_only_the_phases_below_it() {
    let graph = imports();
    let mut wrong = Vec::new();
    for (from, to) in &graph {
        for t in to {
            if floor(t) >= floor(from) {
                wrong.push(format!("{from} imports {t}"));
            }
        }
    }
    let unknown: Vec<&String> = graph
        .keys()
        .filter(|m| *m != "lib" && *m != "main" && floor(m) == FLOORS.len())
        .collect();
    assert!(
        unknown.is_empty(),
        "modules on no floor of this test's FLOORS (say where they stand): {unknown:?}"
    );
    assert!(wrong.is_empty(), "imports that go up or across: {wrong:#?}");
    let doc = std::fs::read_to_string(common::repo().join("docs/architecture.md")).unwrap();
    let drawn = picture(&graph);
    assert!(
        doc.contains(&drawn),
        "docs/architecture.md must draw the imports as they are; put this picture in it:\n\n{drawn}"
    );
}

/// Lines over 100 columns that rustfmt would have broken had it reached them: anything but a
/// comment, a string literal alone on its line, or a constant or `let` holding one.
#[test]
fn rustfmt_reaches_every_line() {
    let literal = "(r#*)?\"([^\"\\\\]|\\\\.)*\"#*";
    let allowed: Vec<regex::Regex> = [
        format!(r"^{literal}[,);]*$"),
        format!(r"^(pub(\([^)]*\))? )?(const|static) \w+: &('static )?str = {literal};$"),
        format!(r"^let \w+ = {literal};$"),
        format!(r"^\.?[\w:!]+\({literal}(\.(into|to_string)\(\))?\)[,;)]*$"),
    ]
    .iter()
    .map(|p| regex::Regex::new(p).unwrap())
    .collect();
    let mut long = Vec::new();
    for path in sources(&["compiler/src", "fuzz/src", "fuzz/fuzz_targets"], "rs") {
        let text = std::fs::read_to_string(&path).unwrap();
        let mut in_raw = false;
        for (n, line) in text.lines().enumerate() {
            // A raw string spanning lines is text, not code.
            let opens = line.matches("r#\"").count() + line.matches("r\"").count();
            let closes = line.matches("\"#").count();
            let inside = in_raw;
            if opens > closes {
                in_raw = true;
            } else if in_raw && closes > opens {
                in_raw = false;
            }
            let t = line.trim();
            if line.chars().count() <= 100 || inside || t.starts_with("//") {
                continue;
            }
            if !allowed.iter().any(|r| r.is_match(t)) {
                long.push(format!("{}:{}: {t}", path.display(), n + 1));
            }
        }
    }
    assert!(
        long.is_empty(),
        "lines rustfmt could not reach (move the long literal into a constant or a `let`):\n{}",
        long.join("\n")
    );
}

#[test]
fn no_file_is_over_900_lines() {
    let too_long: Vec<String> = sources(
        &[
            "compiler/src",
            "compiler/tests",
            "compiler/benches",
            "fuzz/src",
            "fuzz/tests",
        ],
        "rs",
    )
    .into_iter()
    .filter_map(|p| {
        let lines = std::fs::read_to_string(&p).unwrap().lines().count();
        (lines > 900).then(|| format!("{}: {lines} lines", p.display()))
    })
    .collect();
    assert!(too_long.is_empty(), "split along its seams: {too_long:?}");
}

/// Timings rot in comments: the measurements behind a decision go to the benchmark history.
#[test]
fn comments_say_why_not_how_fast() {
    let timing = regex::Regex::new(
        r"(\b\d[\d,.]*\s?(ms|µs|ns|s|seconds?|minutes?)\b|\d[\d,.]*\s?%|times as (long|fast)|\b\d+ times\b|\b(a|one) (third|quarter|fifth|tenth|twelfth) of\b|\b(faster|slower) than\b)",
    )
    .unwrap();
    let mut found = Vec::new();
    for path in sources(&["compiler/src"], "rs") {
        let text = std::fs::read_to_string(&path).unwrap();
        for (n, line) in text.lines().enumerate() {
            let t = line.trim();
            if t.starts_with("//") && timing.is_match(t) {
                found.push(format!("{}:{}: {t}", path.display(), n + 1));
            }
        }
    }
    assert!(
        found.is_empty(),
        "figures belong in compiler/benches/HISTORY.md:\n{}",
        found.join("\n")
    );
}

#[test]
fn the_readme_is_for_users_and_short() {
    let readme = std::fs::read_to_string(common::repo().join("README.md")).unwrap();
    let lines = readme.lines().count();
    assert!(lines <= 250, "README.md has {lines} lines");
    // The two commands come first, and `.ci/run` runs exactly the second.
    let first_block = readme.split("```").nth(1).unwrap_or("");
    assert!(
        first_block.contains("warden -- build examples/") && first_block.contains("./.ci/test"),
        "the README's first block holds the two commands:\n{first_block}"
    );
    let run = std::fs::read_to_string(common::repo().join(".ci/run")).unwrap();
    assert!(run.contains("exec ./.ci/test"), "{run}");
}

/// Every relative link of every Markdown file leads to a file or directory that exists.
#[test]
fn every_relative_link_of_the_documentation_leads_somewhere() {
    let link = regex::Regex::new(r"\]\(([^)#\s]+)(#[^)]*)?\)").unwrap();
    let mut broken = Vec::new();
    let mut docs = Vec::new();
    for dir in ["docs", "compiler", "targets", "examples", "fuzz", ".ci"] {
        files_under(&common::repo().join(dir), "md", &mut docs);
    }
    docs.retain(|p| !p.components().any(|c| c.as_os_str() == "target"));
    for top in ["README.md", "CHANGELOG.md"] {
        docs.push(common::repo().join(top));
    }
    for doc in docs {
        let text = std::fs::read_to_string(&doc).unwrap();
        for cap in link.captures_iter(&text) {
            let target = &cap[1];
            if target.contains("://") || target.starts_with("mailto:") {
                continue;
            }
            let path = doc.parent().unwrap().join(target);
            if !path.exists() {
                broken.push(format!("{}: {target}", doc.display()));
            }
        }
    }
    assert!(broken.is_empty(), "links to nothing: {broken:#?}");
}

/// The mapping of the control catalogs, as `docs/compliance.md` states it: one row per control.
fn compliance_table() -> String {
    let mut out = String::from(
        "| framework | control | title | implemented in a namespace by (any one way) | shown with |\n|---|---|---|---|---|\n",
    );
    for f in warden::catalog::controls::all() {
        for c in &f.controls {
            let ways = if c.in_reach() {
                warden::check::compliance::ways(c).join("; or ")
            } else {
                format!("outside warden: {}", c.outside.as_deref().unwrap_or(""))
            };
            let shown: Vec<String> = c.evidence.iter().map(|e| format!("`{e}`")).collect();
            out.push_str(&format!(
                "| {} | {} | {} | {} | {} |\n",
                f.framework,
                c.id,
                c.title,
                ways.replace('|', "\\|"),
                shown.join(", ")
            ));
        }
    }
    out
}

#[test]
fn the_compliance_table_states_the_catalogs() {
    // Every piece of evidence a catalog names is one the evaluation knows.
    for f in warden::catalog::controls::all() {
        for c in &f.controls {
            for e in c.any_of.iter().flatten().chain(&c.evidence) {
                assert!(
                    warden::catalog::controls::known_evidence(e),
                    "{} {}: unknown evidence `{e}`",
                    f.framework,
                    c.id
                );
            }
            assert!(
                c.in_reach() != c.outside.is_some(),
                "{} {}: a control is either implementable or outside warden",
                f.framework,
                c.id
            );
        }
    }
    assert_eq!(
        warden::catalog::controls::all().len(),
        5,
        "a catalog does not parse"
    );
    let table = compliance_table();
    let doc =
        std::fs::read_to_string(common::repo().join("docs/compliance.md")).unwrap_or_default();
    assert!(
        doc.contains(&table),
        "docs/compliance.md must state the catalogs as they are; put this table in it:\n\n{table}"
    );
}
