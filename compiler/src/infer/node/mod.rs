//! `warden infer node DIR`: a `syscalls` block from a Node.js package's code. The module graph
//! (`graph`) gives every file Node would load; each file's uses of built-in APIs (`uses`) are
//! looked up in `compiler/catalog/node-apis.yaml`; the block allows the runtime's own calls and
//! each API's, with the API and the first file:line that uses it as the evidence, and kills
//! the process on anything else. What cannot be read statically widens the block, with a
//! warning at the line (W1501–W1503), or is refused under `strict`.

pub mod dockerfile;
pub mod graph;
pub mod resolve;
pub mod uses;

use crate::catalog::node_apis::{NodeApis, node_apis};
use crate::diag::Diagnostic;
use crate::span::{SourceMap, Span};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use uses::Dynamic;

#[derive(Clone, Debug, Default)]
pub struct Options {
    /// Refuse what cannot be read statically instead of widening the block.
    pub strict: bool,
    /// The service the block is for, named in its comment.
    pub service: Option<String>,
    /// Entry files, relative to the package's directory, instead of what package.json names.
    pub entries: Vec<std::path::PathBuf>,
}

/// The block and what was said on the way.
pub struct Inferred {
    /// The `syscalls` block, laid out as in a service (two spaces in), or nothing on an error.
    pub block: String,
    /// The files the diagnostics point into.
    pub sources: SourceMap,
    pub diagnostics: Vec<Diagnostic>,
    /// Files read, and calls the block allows by name.
    pub files: usize,
    pub calls: usize,
}

/// An API, as the catalog names it: `fs.promises.readFileSync` is `fs` `readFile`.
fn api(module: &str, path: &[String]) -> (String, Option<String>) {
    let mut members = path.iter().map(String::as_str);
    let mut member = members.next();
    if member == Some("promises") {
        member = members.next();
    }
    let member = member.map(|m| m.strip_suffix("Sync").unwrap_or(m).to_string());
    (module.to_string(), member)
}

/// Where a use is, for the evidence: `lib/app.js:12`.
fn place(dir: &Path, file: &graph::File, at: u32) -> String {
    let rel = file.path.strip_prefix(dir).unwrap_or(&file.path);
    let line = file
        .text
        .get(..at as usize)
        .map_or(1, |t| t.bytes().filter(|b| *b == b'\n').count() + 1);
    format!("{}:{line}", rel.display())
}

/// A diagnostic at `at` in `file`, the file added to `sources` for it.
/// `file`'s path as the user named its package: `root` (resolved) is `dir` (as given).
fn shown(path: &Path, (root, dir): (&Path, &Path)) -> String {
    path.strip_prefix(root)
        .map_or_else(|_| path.to_path_buf(), |rel| dir.join(rel))
        .display()
        .to_string()
}

fn at_file(
    sources: &mut SourceMap,
    names: (&Path, &Path),
    file: &graph::File,
    at: u32,
    d: Diagnostic,
) -> Diagnostic {
    let id = sources.add(shown(&file.path, names), file.text.clone());
    let start = (at as usize).min(file.text.len());
    let end = file
        .text
        .get(start..)
        .and_then(|t| t.find('\n'))
        .map_or(file.text.len(), |n| start + n);
    d.primary(Span::new(id, start, end), "here")
}

pub fn infer(dir: &Path, options: &Options) -> Inferred {
    let mut out = Inferred {
        block: String::new(),
        sources: SourceMap::new(),
        diagnostics: Vec::new(),
        files: 0,
        calls: 0,
    };
    let catalog = match node_apis() {
        Ok(c) => c,
        Err(e) => {
            out.diagnostics.push(Diagnostic::error("E0805", e));
            return out;
        }
    };
    let entries = match graph::entries(dir, &options.entries) {
        Ok(e) => e,
        Err(e) => {
            out.diagnostics
                .push(Diagnostic::error("E1504", e).about_file(dir.display().to_string(), None));
            return out;
        }
    };
    let g = graph::walk(entries);
    // Files are found by their resolved paths; they are named as the user named the package.
    let root = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
    let names = (root.as_path(), dir);
    out.files = g.files.len();
    // Each API with its first use, in the order of the files and the uses.
    let mut used: BTreeMap<(String, Option<String>), String> = BTreeMap::new();
    let mut order: Vec<(String, Option<String>)> = Vec::new();
    let mut widen_dynamic = false;
    let mut widen_native = false;
    for file in &g.files {
        if let Some((at, problem)) = &file.problem {
            let d = Diagnostic::error(
                "E1505",
                format!("cannot read {}: {problem}", file.path.display()),
            );
            out.diagnostics
                .push(at_file(&mut out.sources, names, file, *at, d));
            continue;
        }
        for (module, path, at) in &file.uses.apis {
            let key = api(module, path);
            if catalog.modules.contains_key(&key.0) {
                if let std::collections::btree_map::Entry::Vacant(e) = used.entry(key.clone()) {
                    e.insert(place(&root, file, *at));
                    order.push(key);
                }
            } else {
                let d = Diagnostic::warning(
                    "W1501",
                    format!("built-in module `{module}` is not in warden's catalog of Node.js APIs"),
                )
                .note("what it calls is not known: the block allows what any module but child_process may call");
                out.diagnostics
                    .push(at_file(&mut out.sources, names, file, *at, d));
                widen_dynamic = true;
            }
        }
        for (kind, at) in &file.uses.dynamic {
            let (code, what) = match kind {
                Dynamic::Load => ("W1501", "a module is loaded by a name computed at run time"),
                Dynamic::Eval => ("W1502", "code is made at run time (`eval`, `new Function`)"),
                Dynamic::Native => ("W1503", "the runtime's native bindings are used directly"),
            };
            let note = if *kind == Dynamic::Native {
                widen_native = true;
                "native code may make any call: the block is Docker's default profile"
            } else {
                widen_dynamic = true;
                "the block allows what any built-in module but child_process may call; starting a process stays killed"
            };
            let d = Diagnostic::warning(code, what.to_string()).note(note);
            out.diagnostics
                .push(at_file(&mut out.sources, names, file, *at, d));
        }
    }
    for (index, at, path) in &g.addons {
        if let Some(file) = g.files.get(*index) {
            let d = Diagnostic::warning(
                "W1503",
                format!("native addon `{}` is loaded", path.display()),
            )
            .note("native code may make any call: the block is Docker's default profile");
            out.diagnostics
                .push(at_file(&mut out.sources, names, file, *at, d));
            widen_native = true;
        }
    }
    for (index, at, spec) in &g.unresolved {
        if let Some(file) = g.files.get(*index) {
            let what = format!("`{spec}` does not resolve from here; not followed");
            let d = Diagnostic::warning("W1506", what)
                .note("Node would throw where it is loaded; a dependency not installed, or an optional one");
            out.diagnostics
                .push(at_file(&mut out.sources, names, file, *at, d));
        }
    }
    if let Some(why) = &g.truncated {
        out.diagnostics.push(
            Diagnostic::error("E1505", why.clone()).about_file(dir.display().to_string(), None),
        );
    }
    // What would widen the block is refused; a module that does not resolve widens nothing.
    if options.strict {
        for d in &mut out.diagnostics {
            if matches!(d.code, "W1501" | "W1502" | "W1503") {
                d.severity = crate::diag::Severity::Error;
            }
        }
    }
    if out.diagnostics.iter().any(Diagnostic::is_error) {
        return out;
    }
    let block = render(
        catalog,
        &root,
        &g,
        &order,
        &used,
        widen_dynamic,
        widen_native,
        options,
        &mut out.calls,
    );
    match laid_out(&block) {
        Ok(block) => out.block = block,
        Err(e) => out.diagnostics.push(Diagnostic::error("E0805", e)),
    }
    out
}

/// The service's lines as `warden fmt` lays them out, checked to parse as a service's body.
fn laid_out(body: &str) -> Result<String, String> {
    const HEAD: &str = "namespace n { }\n\nservice s in n {\n  pods app = \"s\"\n";
    let text = format!("{HEAD}{body}}}\n");
    let formatted = crate::format::source::format(0, &text).map_err(|_| {
        format!("the inferred block does not parse; this is a bug in warden:\n{body}")
    })?;
    formatted
        .strip_prefix(HEAD)
        .and_then(|t| t.strip_suffix("}\n"))
        .map(str::to_string)
        .ok_or_else(|| {
            format!("the formatter moved the inferred block; this is a bug in warden:\n{formatted}")
        })
}

/// The block for native code, which may make any call.
const NATIVE: &str =
    "    base docker-default // native code: any call (W1503)\n    default errno EPERM\n  }\n";

#[allow(clippy::too_many_arguments)]
fn render(
    catalog: &NodeApis,
    dir: &Path,
    g: &graph::Graph,
    order: &[(String, Option<String>)],
    used: &BTreeMap<(String, Option<String>), String>,
    widen_dynamic: bool,
    widen_native: bool,
    options: &Options,
    count: &mut usize,
) -> String {
    let groups = crate::catalog::get();
    let entries: Vec<String> = g
        .entries
        .iter()
        .map(|p| p.strip_prefix(dir).unwrap_or(p).display().to_string())
        .collect();
    let mut o = String::from("  syscalls {\n");
    let service = options.service.as_ref().map_or(String::new(), |s| {
        format!(" for service {}", super::render::sanitize(s))
    });
    let files = match g.files.len() {
        1 => "1 file".to_string(),
        n => format!("{n} files"),
    };
    o.push_str(&format!(
        "    // Inferred by `warden infer node`{service} from {files} (entry {}):\n    // Node.js {} on {}, compiler/catalog/node-apis.yaml; each line names an API and its first use.\n",
        super::render::sanitize(&entries.join(", ")),
        catalog.node,
        catalog.libc
    ));
    if widen_native {
        o.push_str(NATIVE);
        return o;
    }
    let mut allowed: BTreeSet<String> = BTreeSet::new();
    for group in &catalog.runtime.groups {
        if let Some((_, calls)) = groups.group(group) {
            allowed.extend(calls.iter().cloned());
        }
    }
    o.push_str(&format!(
        "    allow group {} // the runtime, and runc starting it\n",
        catalog.runtime.groups.join(", ")
    ));
    let mut processes = false;
    let mut lines: Vec<(Vec<String>, String)> = Vec::new();
    for key in order {
        let (module, member) = key;
        processes |= NodeApis::starts_processes(module);
        let calls = catalog.calls(module, member.as_deref()).unwrap_or(&[]);
        let new: Vec<String> = calls
            .iter()
            .filter(|c| !allowed.contains(*c))
            .cloned()
            .collect();
        allowed.extend(new.iter().cloned());
        let name = match member {
            Some(m) => format!("{module}.{m}"),
            None => module.clone(),
        };
        let at = used.get(key).cloned().unwrap_or_default();
        if !new.is_empty() {
            // Member names and paths come from the code: one comment line each, whatever they hold.
            lines.push((new, super::render::sanitize(&format!("{name} ({at})"))));
        }
    }
    if widen_dynamic {
        let mut all: BTreeSet<String> = BTreeSet::new();
        for (name, m) in &catalog.modules {
            if !NodeApis::starts_processes(name) {
                all.extend(m.calls.iter().cloned());
            }
        }
        let new: Vec<String> = all.into_iter().filter(|c| !allowed.contains(c)).collect();
        allowed.extend(new.iter().cloned());
        if !new.is_empty() {
            lines.push((
                new,
                "any module but child_process, for what cannot be read (W1501, W1502)".into(),
            ));
        }
    }
    for (calls, why) in &lines {
        o.push_str(&format!("    allow {} // {why}\n", calls.join(", ")));
    }
    let enosys: Vec<&String> = catalog
        .runtime
        .errno_enosys
        .iter()
        .filter(|c| !allowed.contains(*c))
        .collect();
    // A probe the code turns out to need (os.cpus) is allowed above, not refused.
    let eperm: Vec<&str> = catalog
        .runtime
        .errno_eperm
        .iter()
        .filter(|c| !lines.iter().any(|(calls, _)| calls.contains(c)))
        .map(String::as_str)
        .collect();
    if !enosys.is_empty() {
        let names: Vec<&str> = enosys.iter().map(|c| c.as_str()).collect();
        o.push_str(&format!(
            "    errno ENOSYS {} // glibc then starts threads with clone\n",
            names.join(", ")
        ));
    }
    if !eperm.is_empty() {
        o.push_str(&format!(
            "    errno EPERM {} // start-up probes node does without\n",
            eperm.join(", ")
        ));
    }
    if !processes && catalog.runtime.threads_only_clone && !allowed.contains("clone") {
        o.push_str(
            "    allow clone if arg0 has CLONE_THREAD // threads; nothing here starts a process\n",
        );
        allowed.insert("clone".into());
    }
    o.push_str("    default kill-process\n  }\n");
    *count = allowed.len();
    // Names one architecture lacks are needed on the other (aarch64 makes `ppoll` for `poll`,
    // `dup3` for `dup2`, which the lists name too): said once, for the service.
    let named: BTreeSet<&str> = lines
        .iter()
        .flat_map(|(c, _)| c.iter().map(String::as_str))
        .collect();
    let one_arch: Vec<&str> = named
        .into_iter()
        .filter(|n| groups.arches_of(n).len() == 1)
        .collect();
    if !one_arch.is_empty() {
        o.insert_str(
            0,
            &format!(
                "  accept W0402 \"{} are x86_64 calls; aarch64 makes others, allowed beside them\"\n",
                one_arch.join(", ")
            ),
        );
    }
    o
}
