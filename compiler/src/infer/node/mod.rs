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

/// An API as the catalog names it: a module and a member (`None`: the module leaving its file).
type Api = (String, Option<String>);

/// The APIs the code uses, in the order of their first uses, where each first is, and the
/// property names the code reads.
struct Used {
    order: Vec<Api>,
    first: BTreeMap<Api, String>,
    read: BTreeSet<String>,
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
fn api(module: &str, path: &[String]) -> Api {
    let mut members = path.iter().map(String::as_str);
    let mut member = members.next();
    if member == Some("promises") {
        member = members.next();
    }
    let by_address = path.last().is_some_and(|m| m == uses::BY_ADDRESS) && path.len() > 1;
    let member = member.map(|m| {
        let m = m.strip_suffix("Sync").unwrap_or(m);
        if by_address {
            format!("{m}{}", uses::BY_ADDRESS)
        } else {
            m.to_string()
        }
    });
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
    let mut g = graph::walk(entries);
    // Files are found by their resolved paths; they are named as the user named the package.
    let root = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
    let names = (root.as_path(), dir);
    // A module named at run time is an installed package or a file of the package naming it;
    // what that reads may name more, until nothing new is named.
    let named_at_run_time = g.files.iter().any(|f| {
        f.uses
            .dynamic
            .iter()
            .any(|(kind, _)| *kind != Dynamic::Native)
    });
    if named_at_run_time {
        // Files are only added, so each round's packages hold the last round's.
        let mut computing = computing_packages(&g, &root);
        loop {
            graph::widen(&mut g, &root, &computing);
            let now = computing_packages(&g, &root);
            if now.len() == computing.len() {
                break;
            }
            computing = now;
        }
    }
    out.files = g.files.len();
    // Each API with its first use, in the order of the files and the uses.
    let mut used: BTreeMap<Api, String> = BTreeMap::new();
    let mut order: Vec<Api> = Vec::new();
    let mut read: BTreeSet<String> = BTreeSet::new();
    let mut widen_unknown = false;
    let mut widen_native = false;
    for (index, file) in g.files.iter().enumerate() {
        let reached = index < g.reached;
        if let Some((at, problem)) = &file.problem {
            // Node would throw loading a file that does not parse: one only a name computed at
            // run time could load is left out, said, rather than refused.
            let d = if reached {
                Diagnostic::error(
                    "E1505",
                    format!("cannot read {}: {problem}", file.path.display()),
                )
            } else {
                Diagnostic::warning(
                    "W1508",
                    format!("cannot read {}: {problem}", file.path.display()),
                )
                .note("an installed file only a name computed at run time could load; left out")
            };
            out.diagnostics
                .push(at_file(&mut out.sources, names, file, *at, d));
            continue;
        }
        read.extend(file.uses.names.iter().cloned());
        let mut uses: Vec<(Api, u32)> = file
            .uses
            .apis
            .iter()
            .map(|(module, path, at)| (api(module, path), *at))
            .collect();
        for (binding, at) in &file.uses.bindings {
            match catalog.bindings.get(binding).map(String::as_str) {
                Some("none") => {}
                Some(module) if module != "native" => {
                    uses.push(((module.to_string(), Some(uses::ANY.to_string())), *at));
                }
                _ => {
                    let d = Diagnostic::warning(
                        "W1503",
                        format!("the runtime's native binding `{binding}` is used directly"),
                    )
                    .note("native code may make any call: the block is Docker's default profile");
                    out.diagnostics
                        .push(at_file(&mut out.sources, names, file, *at, d));
                    widen_native = true;
                }
            }
        }
        for (key, at) in uses {
            let module = &key.0;
            if catalog.modules.contains_key(module) {
                if let std::collections::btree_map::Entry::Vacant(e) = used.entry(key.clone()) {
                    e.insert(place(&root, file, at));
                    order.push(key);
                }
            } else {
                let d = Diagnostic::warning(
                    "W1501",
                    format!("built-in module `{module}` is not in warden's catalog of Node.js APIs"),
                )
                .note("what it calls is not known: the block allows what any module but child_process may call");
                out.diagnostics
                    .push(at_file(&mut out.sources, names, file, at, d));
                widen_unknown = true;
            }
        }
        for (kind, at) in &file.uses.dynamic {
            let (code, what, note) = match kind {
                Dynamic::Load => (
                    "W1501",
                    "a module is loaded by a name computed at run time",
                    LOADED,
                ),
                Dynamic::Relative => (
                    "W1501",
                    "a file is loaded by a path computed at run time",
                    RELATIVE,
                ),
                Dynamic::Eval => ("W1502", "code is made at run time (`eval`)", EVAL),
                Dynamic::Made => (
                    "W1502",
                    "code is made at run time (`new Function`, `vm`)",
                    MADE,
                ),
                Dynamic::Native => (
                    "W1503",
                    "the runtime's native bindings are used directly",
                    NATIVE_NOTE,
                ),
            };
            if *kind == Dynamic::Native {
                widen_native = true;
            } else if !reached {
                // Every installed file is read already: one more such place changes nothing.
                continue;
            }
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
    // A file only a computed name loads may name what is not installed (its package's tests,
    // optional peers): said only for the files Node surely loads.
    for (index, at, spec) in g.unresolved.iter().filter(|(i, _, _)| *i < g.reached) {
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
        &Used {
            order,
            first: used,
            read,
        },
        widen_unknown,
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

/// The packages whose code computes a path to load or runs `eval` in its scope: their own files
/// may be loaded.
fn computing_packages(g: &graph::Graph, root: &Path) -> BTreeSet<std::path::PathBuf> {
    g.files
        .iter()
        .filter(|f| {
            f.uses
                .dynamic
                .iter()
                .any(|(k, _)| matches!(k, Dynamic::Relative | Dynamic::Eval))
        })
        .map(|f| graph::package_of(&f.path, root))
        .collect()
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

// What each place that cannot be read statically is taken to do, said with its warning.
const LOADED: &str = "it is taken to name an installed package: every one is read as if loaded; a built-in named at run time is not counted (name it literally)";
const RELATIVE: &str =
    "every file of this package, and every installed package, is read as if loaded";
const EVAL: &str = "what it may call is counted as every module this file binds, `process` and `fetch`; every file of this package, and every installed package, is read as if loaded";
const MADE: &str = "it runs in the global scope: what it may call is counted as `process` and `fetch`; every installed package is read as if loaded";
const NATIVE_NOTE: &str = "native code may make any call: the block is Docker's default profile";

/// The block for native code, which may make any call.
const NATIVE: &str =
    "    base docker-default // native code: any call (W1503)\n    default errno EPERM\n  }\n";

#[allow(clippy::too_many_arguments)]
fn render(
    catalog: &NodeApis,
    dir: &Path,
    g: &graph::Graph,
    Used {
        order,
        first: used,
        read,
    }: &Used,
    widen_unknown: bool,
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
        // A module leaving its file is used through the names the code reads.
        let calls = match member
            .as_deref()
            .map(|m| m.strip_suffix(uses::BY_ADDRESS).ok_or(m))
        {
            None => catalog.escaped(module, read).unwrap_or_default(),
            Some(Ok(m)) => catalog.calls(module, Some(m), true).unwrap_or_default(),
            Some(Err(m)) => catalog.calls(module, Some(m), false).unwrap_or_default(),
        };
        let new: Vec<String> = calls
            .iter()
            .filter(|c| !allowed.contains(*c))
            .cloned()
            .collect();
        allowed.extend(new.iter().cloned());
        let name = match member.as_deref() {
            Some(uses::ANY) => format!("{module} as a whole"),
            Some(m) if m.ends_with(uses::BY_ADDRESS) => {
                let m = m.trim_end_matches(uses::BY_ADDRESS);
                // Said only of a client, for which it matters.
                if catalog.resolves.contains(&format!("{module}.{m}")) {
                    format!("{module}.{m} to an address")
                } else {
                    format!("{module}.{m}")
                }
            }
            Some(m) => format!("{module}.{m}"),
            None => format!("{module} passed on, used by the names read"),
        };
        let at = used.get(key).cloned().unwrap_or_default();
        if !new.is_empty() {
            // Member names and paths come from the code: one comment line each, whatever they hold.
            lines.push((new, super::render::sanitize(&format!("{name} ({at})"))));
        }
    }
    if widen_unknown {
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
                "any module but child_process, for a module warden does not know (W1501)".into(),
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
