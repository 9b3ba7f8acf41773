//! `infer node`'s parser on real code: every JavaScript file of the npm registry's `npm` package
//! (pinned in .ci/node/package.json; its dependencies bundled, over a thousand files of
//! CommonJS and ES modules) is read by the module graph's reader without a syntax error.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "in tests a panic is a failed test"
)]

use crate::common;
use std::path::{Path, PathBuf};

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap().map(|e| e.unwrap()) {
        let p = e.path();
        let kind = e.file_type().unwrap();
        if kind.is_dir() {
            files(&p, out);
        } else if kind.is_file()
            && p.extension()
                .is_some_and(|x| x == "js" || x == "cjs" || x == "mjs")
        {
            out.push(p);
        }
    }
}

#[test]
fn every_javascript_file_of_the_npm_package_parses() {
    let modules = std::env::var_os("WARDEN_NODE_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| common::repo().join("target/ci-node/node_modules/.bin"));
    let npm = modules.parent().unwrap().join("npm");
    assert!(
        npm.join("package.json").is_file(),
        "{} is missing: run `.ci/test` (it installs .ci/node/package-lock.json into target/ci-node)",
        npm.display()
    );
    let mut all = Vec::new();
    files(&npm, &mut all);
    all.sort();
    assert!(all.len() > 1000, "{} files", all.len());
    let started = std::time::Instant::now();
    let graph = warden::infer::node::graph::walk(all.clone());
    let took = started.elapsed();
    let failed: Vec<String> = graph
        .files
        .iter()
        .filter_map(|f| {
            f.problem
                .as_ref()
                .map(|(at, why)| format!("{}@{at}: {why}", f.path.display()))
        })
        .collect();
    assert!(
        failed.is_empty(),
        "{} files do not parse: {failed:#?}",
        failed.len()
    );
    assert!(graph.files.len() >= all.len());
    println!(
        "npm package: {} JavaScript files read and parsed, with what they load {} files, in {:.0} ms",
        all.len(),
        graph.files.len(),
        took.as_secs_f64() * 1000.0
    );
}
