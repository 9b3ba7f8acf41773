//! The module graph of a Node.js package, as Node loads it: from the entry points `package.json`
//! names (`main`, every path of `exports`, `bin`; `index.js` without them), each file's `require`
//! and `import` specifiers resolved as Node resolves them (relative paths,
//! extensions, `exports` maps under the `node` and `require` or `import` conditions,
//! `node_modules` lookup up the tree; `resolve`), every reachable file parsed (oxc_parser), on
//! every core.

use super::resolve::{Kind, resolve};
use super::uses::{self, Uses};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// A file of the graph larger than this is refused: a service's bundle is a few MB at most, and
/// parsing reserves stack in proportion (`STACK_PER_BYTE`).
pub const MAX_FILE: u64 = 4 << 20;
/// At most this many files: `node_modules` of the largest applications hold tens of thousands.
pub const MAX_FILES: usize = 200_000;

/// One reachable file, what it uses, and why it could not be read if it could not.
pub struct File {
    pub path: PathBuf,
    pub text: String,
    pub uses: Uses,
    pub problem: Option<(u32, String)>,
}

/// What a package's graph holds.
pub struct Graph {
    pub entries: Vec<PathBuf>,
    pub files: Vec<File>,
    /// How many of `files` the entries reach; those after were read by `widen`.
    pub reached: usize,
    /// Native addons loaded (`.node`), by the file and offset that loads them.
    pub addons: Vec<(usize, u32, PathBuf)>,
    /// Specifiers that do not resolve, by file and offset.
    pub unresolved: Vec<(usize, u32, String)>,
    /// Why the walk stopped early, if it did.
    pub truncated: Option<String>,
}

/// The entry points `package.json` at `dir` names, or `given` (as `node FILE` runs them). The
/// error says why there are none.
pub fn entries(dir: &Path, given: &[PathBuf]) -> Result<Vec<PathBuf>, String> {
    if given.is_empty() {
        return package_entries(dir, true);
    }
    let mut paths = Vec::new();
    for p in given {
        let path = if p.is_absolute() {
            p.clone()
        } else {
            dir.join(p)
        };
        if !path.is_file() {
            return Err(format!("entry {} is not a file", path.display()));
        }
        paths.push(std::fs::canonicalize(&path).unwrap_or(path));
    }
    Ok(paths)
}

/// The files the package at `dir` starts from: `main`, `exports`, and with `bin` its scripts.
fn package_entries(dir: &Path, bin: bool) -> Result<Vec<PathBuf>, String> {
    let manifest = dir.join("package.json");
    let text = std::fs::read_to_string(&manifest)
        .map_err(|e| format!("cannot read {}: {e}", manifest.display()))?;
    let json: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| format!("{} is not JSON: {e}", manifest.display()))?;
    let mut paths = Vec::new();
    fn strings(v: &serde_json::Value, out: &mut Vec<String>) {
        match v {
            serde_json::Value::String(s) => out.push(s.clone()),
            serde_json::Value::Object(m) => m.values().for_each(|v| strings(v, out)),
            serde_json::Value::Array(a) => a.iter().for_each(|v| strings(v, out)),
            _ => {}
        }
    }
    let mut named = Vec::new();
    for key in if bin { &["main", "bin"][..] } else { &["main"] } {
        if let Some(v) = json.get(key) {
            strings(v, &mut named);
        }
    }
    paths.extend(super::resolve::exported_files(dir));
    if named.is_empty() && paths.is_empty() {
        named.push("./index.js".to_string());
    }
    for name in named {
        let spec = if name.starts_with("./") || name.starts_with("../") {
            name
        } else {
            format!("./{name}")
        };
        if let Some(found) = resolve(dir, &spec, Kind::Require) {
            paths.push(found);
        }
    }
    paths.sort();
    paths.dedup();
    if paths.is_empty() {
        return Err(format!(
            "{} names no entry point that exists (main, exports, bin or index.js)",
            manifest.display()
        ));
    }
    Ok(paths)
}

/// Reads and parses one file.
fn read(path: &Path) -> File {
    let mut file = File {
        path: path.to_path_buf(),
        text: String::new(),
        uses: Uses::default(),
        problem: None,
    };
    match std::fs::metadata(path) {
        Ok(m) if m.len() > MAX_FILE => {
            file.problem = Some((
                0,
                format!(
                    "{} bytes, more than the {MAX_FILE} a file may have",
                    m.len()
                ),
            ));
            return file;
        }
        Err(e) => {
            file.problem = Some((0, e.to_string()));
            return file;
        }
        Ok(_) => {}
    }
    match std::fs::read_to_string(path) {
        Ok(t) => file.text = t,
        Err(e) => {
            file.problem = Some((0, e.to_string()));
            return file;
        }
    }
    if path.extension().is_some_and(|e| e == "json") {
        return file;
    }
    let kind = if path.extension().is_some_and(|e| e == "mjs") {
        oxc_span::SourceType::mjs()
    } else {
        // `.js` and `.cjs`: either form, as the package's `type` or the syntax says.
        oxc_span::SourceType::unambiguous()
    };
    // The parser and the visitor recurse as deep as the code nests (`f(f(f(…)))`, `a=>a=>…`,
    // `!!!…x`), about a kilobyte of stack a level and at most a level a byte: on a thread whose
    // stack is sized for the file, so that no nesting a file can hold overflows it. The stack is
    // reserved, not used: a flat file touches a few pages of it.
    let stack = file
        .text
        .len()
        .saturating_mul(STACK_PER_BYTE)
        .clamp(16 << 20, MAX_STACK);
    let text = file.text.as_str();
    let parsed = std::thread::scope(|s| {
        std::thread::Builder::new()
            .stack_size(stack)
            .spawn_scoped(s, || parse(text, kind))
            .ok()
            .and_then(|t| t.join().ok())
    });
    match parsed {
        Some((uses, problem)) => {
            file.uses = uses;
            file.problem = problem;
        }
        None => file.problem = Some((0, "cannot be parsed within warden's memory bounds".into())),
    }
    file
}

/// Stack reserved for each byte of a file, and at most.
const STACK_PER_BYTE: usize = 1536;
const MAX_STACK: usize = 8 << 30;

/// What a file uses, and the first syntax error, if any.
fn parse(text: &str, kind: oxc_span::SourceType) -> (Uses, Option<(u32, String)>) {
    let allocator = oxc_allocator::Allocator::default();
    // CommonJS runs a file as a function's body: `return` at its top level ends the module.
    let options = oxc_parser::ParseOptions {
        allow_return_outside_function: !kind.is_module(),
        ..oxc_parser::ParseOptions::default()
    };
    let parsed = oxc_parser::Parser::new(&allocator, text, kind)
        .with_options(options)
        .parse();
    let mut problem = None;
    if parsed.panicked || !parsed.diagnostics.is_empty() {
        let first = parsed.diagnostics.iter().next();
        let at = first
            .and_then(|d| d.labels.first())
            .map_or(0, |l| l.offset());
        let message = first.map_or("does not parse".to_string(), |d| d.message.to_string());
        problem = Some((at, message));
        if parsed.panicked {
            return (Uses::default(), problem);
        }
    }
    (uses::find(&parsed.program), problem)
}

/// The graph from `entries`, breadth first, each round of files parsed on every core.
pub fn walk(entries: Vec<PathBuf>) -> Graph {
    let mut graph = Graph {
        entries: entries.clone(),
        files: Vec::new(),
        reached: 0,
        addons: Vec::new(),
        unresolved: Vec::new(),
        truncated: None,
    };
    let mut seen: BTreeSet<PathBuf> = entries.iter().cloned().collect();
    grow(&mut graph, &mut seen, entries);
    graph.reached = graph.files.len();
    graph
}

/// Adds what a module named at run time may be, and what that loads: every package installed
/// under `root` as `require(name)` would load it (its `main` and `exports`), and every file of
/// each package in `computing` (the packages whose code computes a name: a relative name loads
/// one of its own files). Links are not followed: npm's `.bin` links lead to scripts no name
/// loads, and a link out of `root` to what the container may not hold.
pub fn widen(graph: &mut Graph, root: &Path, computing: &BTreeSet<PathBuf>) {
    let mut seen: BTreeSet<PathBuf> = graph.files.iter().map(|f| f.path.clone()).collect();
    let mut found = BTreeSet::new();
    for package in packages(root) {
        if computing.contains(&package) {
            own_files(&package, &mut found);
        } else if let Ok(entries) = package_entries(&package, false) {
            found.extend(entries);
        }
        if seen.len() + found.len() > MAX_FILES {
            graph.truncated = Some(format!(
                "more than {MAX_FILES} files are installed; the rest were not read"
            ));
            return;
        }
    }
    let found: Vec<PathBuf> = found.into_iter().filter(|p| !seen.contains(p)).collect();
    seen.extend(found.iter().cloned());
    grow(graph, &mut seen, found);
}

/// The package a file is part of: the nearest directory up to `root` holding a package.json.
pub fn package_of(file: &Path, root: &Path) -> PathBuf {
    let mut dir = file.parent();
    while let Some(d) = dir {
        if d.join("package.json").is_file() || d == root || !d.starts_with(root) {
            return d.to_path_buf();
        }
        dir = d.parent();
    }
    root.to_path_buf()
}

/// `root` and every package installed under it (`node_modules/name`, `node_modules/@scope/name`,
/// at any depth), in order.
fn packages(root: &Path) -> Vec<PathBuf> {
    let mut out = vec![root.to_path_buf()];
    let mut todo = vec![root.join("node_modules")];
    while let Some(modules) = todo.pop() {
        for dir in subdirs(&modules) {
            let scoped = dir
                .file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with('@'));
            let found = if scoped { subdirs(&dir) } else { vec![dir] };
            for package in found {
                todo.push(package.join("node_modules"));
                out.push(package);
            }
        }
    }
    out.sort();
    out
}

/// The directories in `dir` (not links), sorted.
fn subdirs(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|k| k.is_dir()))
        .map(|e| e.path())
        .collect();
    out.sort();
    out
}

/// Every JavaScript file of the package at `dir`, not of the packages installed in it.
fn own_files(dir: &Path, out: &mut BTreeSet<PathBuf>) {
    let mut dirs = vec![dir.to_path_buf()];
    while let Some(d) = dirs.pop() {
        for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let path = entry.path();
            match entry.file_type() {
                Ok(k) if k.is_dir() && entry.file_name() != "node_modules" => dirs.push(path),
                Ok(k)
                    if k.is_file()
                        && path
                            .extension()
                            .is_some_and(|e| e == "js" || e == "cjs" || e == "mjs") =>
                {
                    out.insert(path);
                }
                _ => {}
            }
        }
    }
}

/// Reads `round` and what it loads, breadth first, into `graph`.
fn grow(graph: &mut Graph, seen: &mut BTreeSet<PathBuf>, mut round: Vec<PathBuf>) {
    while !round.is_empty() {
        let parsed = crate::parallel::map(&round, |p| read(p));
        let mut next = BTreeMap::new();
        for file in parsed {
            let index = graph.files.len();
            let dir = file
                .path
                .parent()
                .map(Path::to_path_buf)
                .unwrap_or_default();
            for (spec, kind, at) in &file.uses.loads {
                match resolve(&dir, spec, *kind) {
                    Some(path) => {
                        if path.extension().is_some_and(|e| e == "node") {
                            graph.addons.push((index, *at, path));
                        } else if seen.insert(path.clone()) {
                            next.insert(path, ());
                        }
                    }
                    None => graph.unresolved.push((index, *at, spec.clone())),
                }
            }
            graph.files.push(file);
        }
        if seen.len() > MAX_FILES {
            graph.truncated = Some(format!(
                "more than {MAX_FILES} files are reachable; the rest were not read"
            ));
            break;
        }
        round = next.into_keys().collect();
    }
}
