//! Benchmark: `warden infer node` on a generated package whose module graph holds N files (5,000
//! unless asked): an entry requiring N/20 packages in `node_modules`, each with an `exports` map
//! and twenty files that require each other (CommonJS and ES modules) and use built-ins through
//! requires, imports, destructuring and aliases, about 2 KB of code each, as an application's
//! installed dependencies are. Every file is resolved, read and parsed. Measured twice in one
//! run: with the entry requiring every package by name, and with it requiring one and loading the
//! rest by a name computed at run time (W1501), so that the graph reaches them by reading every
//! installed package as `require(name)` would.
//!
//! ```text
//! cargo bench --bench infer_node              # N = 5,000
//! cargo bench --bench infer_node -- 20000     # another N
//! ```
//!
//! Timed as `timing.rs` says: median of 5, and the peak memory of one more run.
#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "a benchmark harness: a failure is a failed benchmark"
)]

#[path = "timing.rs"]
mod timing;

use std::fmt::Write;
use std::path::Path;

/// A file of about 2 KB: functions, strings and the uses of built-ins `i` picks.
fn body(i: usize, next: Option<&str>, esm: bool) -> String {
    let mut s = String::new();
    let uses = [
        ("fs", "readFile"),
        ("path", "join"),
        ("http", "request"),
        ("crypto", "createHash"),
        ("events", "EventEmitter"),
        ("util", "format"),
    ];
    let (module, member) = uses[i % uses.len()];
    if esm {
        let _ = writeln!(s, "import {{ {member} }} from 'node:{module}';");
        if let Some(next) = next {
            let _ = writeln!(s, "import * as next from '{next}';");
        }
    } else {
        let _ = writeln!(s, "const {{ {member} }} = require('{module}');");
        if let Some(next) = next {
            let _ = writeln!(s, "const next = require('{next}');");
        }
    }
    for f in 0..12 {
        let _ = writeln!(
            s,
            "function helper{f}(a, b) {{\n  const label = `helper {f} of file {i}: ${{a}}`;\n  if (typeof b === 'object' && b !== null) {{ return Object.keys(b).map((k) => label + k); }}\n  return [label, String(b), {member}.name];\n}}"
        );
    }
    if esm {
        s.push_str("export const value = helper0(1, { a: 2 });\n");
    } else {
        s.push_str("module.exports = { value: helper0(1, { a: 2 }) };\n");
    }
    s
}

fn generate(root: &Path, n: usize, computed: bool) {
    let packages = n.div_ceil(20);
    std::fs::create_dir_all(root).unwrap();
    std::fs::write(
        root.join("package.json"),
        r#"{"name": "bench", "main": "index.js"}"#,
    )
    .unwrap();
    let mut index = String::new();
    for p in 0..packages {
        if p == 0 || !computed {
            let _ = writeln!(index, "require('pkg-{p}');");
        }
        let dir = root.join("node_modules").join(format!("pkg-{p}"));
        std::fs::create_dir_all(dir.join("lib")).unwrap();
        std::fs::write(
            dir.join("package.json"),
            format!(
                r#"{{"name": "pkg-{p}", "exports": {{".": {{"node": "./lib/f0.js", "default": "./lib/browser.js"}}, "./esm": "./lib/e0.mjs"}}}}"#
            ),
        )
        .unwrap();
        for f in 0..20 {
            let esm = f >= 15;
            let name = if esm {
                format!("e{}.mjs", f - 15)
            } else {
                format!("f{f}.js")
            };
            let next = match f {
                14 => Some(format!("pkg-{p}/esm")),
                19 => None,
                _ if esm => Some(format!("./e{}.mjs", f - 14)),
                _ => Some(format!("./f{}.js", f + 1)),
            };
            std::fs::write(
                dir.join("lib").join(name),
                body(p * 20 + f, next.as_deref(), esm),
            )
            .unwrap();
        }
    }
    if computed {
        index.push_str("require(process.env.PLUGIN);\n");
    }
    std::fs::write(root.join("index.js"), index).unwrap();
}

fn main() {
    let n: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(5_000);
    let work = tempfile::tempdir().unwrap();
    for (computed, how) in [(false, "named"), (true, "computed")] {
        let package = work.path().join(how);
        generate(&package, n, computed);
        let args = |_run: usize| -> Vec<String> {
            vec![
                "infer".to_string(),
                "node".to_string(),
                package.display().to_string(),
            ]
        };
        let median = timing::median(args, 5, &[0]);
        let peak = timing::peak(&args(5));
        println!(
            "warden infer node, {n} files in the module graph, packages {how}: median {:.1} ms, peak memory {peak}",
            median.as_secs_f64() * 1000.0
        );
    }
}
