//! `warden import seccomp`: a seccomp profile (Docker's format with `includes` and `excludes`,
//! an OCI runtime spec's `linux.seccomp` or a whole `config.json`, a Security Profiles Operator
//! `SeccompProfile`) as a `syscalls` block with the same effective rules on x86_64 and aarch64.
//! A runtime resolves a Docker profile's conditions for the container's capabilities, the host's
//! architecture and its kernel; a block has no such conditions, so the profile is resolved here
//! for the capabilities given (Docker's default set unless told) and a current kernel, on each
//! architecture, and a call the two architectures treat differently is an error.

use crate::catalog::{self, Arch};
use crate::diag::Diagnostic;
use crate::ir::{ArgCmp, CmpOp, SeccompAction};
use crate::manifests::line_span;
use crate::manifests::yaml::{self, Node};
use crate::span::SourceMap;
use std::collections::{BTreeMap, BTreeSet};

/// The first line of every block `import seccomp` prints.
pub const HEADER: &str = "// Imported by `warden import seccomp`";

pub struct Options {
    /// The capabilities of the container, with `CAP_`.
    pub capabilities: BTreeSet<String>,
    /// Which `SeccompProfile` of the file, where it has several.
    pub profile: Option<String>,
}

/// The block, or why there is none; diagnostics are about `sources` (the profile).
pub struct Imported {
    pub block: Option<String>,
    pub diagnostics: Vec<Diagnostic>,
    pub sources: SourceMap,
}

/// One rule of the profile, as read.
struct Rule {
    names: Vec<String>,
    action: SeccompAction,
    args: Vec<ArgCmp>,
    includes: Option<Node>,
    excludes: Option<Node>,
    line: u32,
}

/// Go's name of an architecture, as `includes.arches` writes it.
fn go_arch(arch: Arch) -> &'static str {
    match arch {
        Arch::X86_64 => "amd64",
        Arch::Aarch64 => "arm64",
    }
}

fn strings(node: Option<&Node>) -> Vec<String> {
    node.map(Node::seq)
        .unwrap_or_default()
        .iter()
        .filter_map(|n| n.str().map(str::to_string))
        .collect()
}

/// Whether a rule's `includes` (every condition given holds) or `excludes` (any does) holds for
/// a container with `caps` on `arch`, on a kernel newer than any `minKernel`.
fn holds(cond: &Node, all: bool, caps: &BTreeSet<String>, arch: Arch) -> bool {
    let mut parts = Vec::new();
    if let Some(c) = cond.get("caps").filter(|c| !c.seq().is_empty()) {
        let names = strings(Some(c));
        parts.push(if all {
            names.iter().all(|n| caps.contains(n))
        } else {
            names.iter().any(|n| caps.contains(n))
        });
    }
    if let Some(a) = cond.get("arches").filter(|a| !a.seq().is_empty()) {
        parts.push(strings(Some(a)).iter().any(|x| x == go_arch(arch)));
    }
    if cond.get("minKernel").and_then(Node::str).is_some() {
        parts.push(true);
    }
    if all {
        parts.iter().all(|p| *p)
    } else {
        parts.iter().any(|p| *p)
    }
}

fn action(name: &str, errno: Option<u64>) -> Result<SeccompAction, String> {
    Ok(match name {
        "SCMP_ACT_ALLOW" => SeccompAction::Allow,
        // Without `errnoRet`, runc answers EPERM.
        "SCMP_ACT_ERRNO" => SeccompAction::Errno(
            u16::try_from(errno.unwrap_or(1))
                .map_err(|_| format!("errno {errno:?} is too large"))?,
        ),
        "SCMP_ACT_KILL" | "SCMP_ACT_KILL_THREAD" => SeccompAction::KillThread,
        "SCMP_ACT_KILL_PROCESS" => SeccompAction::KillProcess,
        "SCMP_ACT_LOG" => SeccompAction::Log,
        "SCMP_ACT_TRACE" => SeccompAction::Trace,
        "SCMP_ACT_NOTIFY" => SeccompAction::Notify,
        "SCMP_ACT_TRAP" => {
            return Err(
                "`SCMP_ACT_TRAP` (a SIGSYS the process may catch) has no action in a program"
                    .to_string(),
            );
        }
        other => return Err(format!("`{other}` is not a seccomp action")),
    })
}

fn arg(node: &Node) -> Result<ArgCmp, String> {
    let number = |key: &str| -> Result<u64, String> {
        match node.get(key).and_then(Node::str) {
            None => Ok(0),
            Some(s) => s
                .trim()
                .parse::<u64>()
                .map_err(|_| format!("`{key}: {s}` is not a number from 0 to 2^64-1")),
        }
    };
    let index = number("index")?;
    let op = match node.get("op").and_then(Node::str).unwrap_or_default() {
        "SCMP_CMP_NE" => CmpOp::Ne,
        "SCMP_CMP_LT" => CmpOp::Lt,
        "SCMP_CMP_LE" => CmpOp::Le,
        "SCMP_CMP_EQ" => CmpOp::Eq,
        "SCMP_CMP_GE" => CmpOp::Ge,
        "SCMP_CMP_GT" => CmpOp::Gt,
        "SCMP_CMP_MASKED_EQ" => CmpOp::MaskedEq,
        other => return Err(format!("`{other}` is not a seccomp comparison")),
    };
    Ok(ArgCmp {
        index: u8::try_from(index)
            .ok()
            .filter(|i| *i <= 5)
            .ok_or("`index` is an argument from 0 to 5")?,
        op,
        value: number("value")?,
        value_two: number("valueTwo")?,
    })
}

/// The profile in a document: Docker's or OCI's at the top, an OCI `config.json`'s
/// `linux.seccomp`, or an SPO `SeccompProfile`'s `spec` (with the `SeccompProfile`s of the file,
/// for its `baseProfileName`).
fn profile<'a>(docs: &'a [Node], options: &Options) -> Result<Vec<&'a Node>, (u32, String)> {
    let spo: Vec<&Node> = docs
        .iter()
        .filter(|d| d.get("kind").and_then(Node::str) == Some("SeccompProfile"))
        .collect();
    if spo.is_empty() {
        let Some(doc) = docs.first() else {
            return Err((0, "the file holds no profile".to_string()));
        };
        let p = doc.at(&["linux", "seccomp"]).unwrap_or(doc);
        if p.get("defaultAction").is_none() {
            return Err((
                doc.line,
                "no `defaultAction`: not a seccomp profile".to_string(),
            ));
        }
        return Ok(vec![p]);
    }
    let name_of = |d: &Node| {
        d.at(&["metadata", "name"])
            .and_then(Node::str)
            .unwrap_or_default()
            .to_string()
    };
    let chosen = match (&options.profile, spo.as_slice()) {
        (None, [one]) => *one,
        (None, many) => {
            let names: Vec<String> = many.iter().map(|d| format!("`{}`", name_of(d))).collect();
            return Err((
                0,
                format!(
                    "the file has {} SeccompProfiles ({}): say which with --profile-name",
                    many.len(),
                    names.join(", ")
                ),
            ));
        }
        (Some(want), many) => *many
            .iter()
            .find(|d| name_of(d) == *want)
            .ok_or((0, format!("no SeccompProfile `{want}` in the file")))?,
    };
    // A base profile's rules come first, as the operator merges them.
    let mut chain = vec![chosen];
    let mut at = chosen;
    while let Some(base) = at.at(&["spec", "baseProfileName"]).and_then(Node::str) {
        let Some(found) = spo.iter().find(|d| name_of(d) == base) else {
            return Err((
                at.line,
                format!(
                    "base profile `{base}` is not in the file: give its SeccompProfile in the same file"
                ),
            ));
        };
        if chain.len() > 16 || chain.iter().any(|c| std::ptr::eq(*c, *found)) {
            return Err((
                at.line,
                format!("base profile `{base}` leads back to itself"),
            ));
        }
        chain.push(found);
        at = found;
    }
    chain.reverse();
    Ok(chain.into_iter().filter_map(|d| d.get("spec")).collect())
}

fn rules(profile: &Node, problems: &mut Vec<(u32, String)>) -> Vec<Rule> {
    let mut out = Vec::new();
    for r in profile.get("syscalls").map(Node::seq).unwrap_or_default() {
        let mut names = strings(r.get("names"));
        names.extend(r.get("name").and_then(Node::str).map(str::to_string));
        let errno = r
            .get("errnoRet")
            .and_then(Node::int)
            .and_then(|n| u64::try_from(n).ok());
        let act = match action(
            r.get("action").and_then(Node::str).unwrap_or_default(),
            errno,
        ) {
            Ok(a) => a,
            Err(e) => {
                problems.push((r.line, e));
                continue;
            }
        };
        let mut args = Vec::new();
        for a in r.get("args").map(Node::seq).unwrap_or_default() {
            match arg(a) {
                Ok(c) => args.push(c),
                Err(e) => problems.push((a.line, e)),
            }
        }
        args.sort();
        args.dedup();
        out.push(Rule {
            names,
            action: act,
            args,
            includes: r.get("includes").cloned(),
            excludes: r.get("excludes").cloned(),
            line: r.line,
        });
    }
    out
}

/// What one architecture's profile does with each of its calls: the actions of the rules that
/// apply, each with its conditions (empty: unconditional), and a rule line for evidence.
type Resolved = BTreeMap<String, Actions>;

/// A call's rules by action: the conditions of each (an empty one: unconditional) and the line
/// of the first.
type Actions = BTreeMap<SeccompAction, (BTreeSet<Vec<ArgCmp>>, u32)>;

fn resolve(rules: &[Rule], caps: &BTreeSet<String>, arch: Arch) -> Resolved {
    let table = catalog::get().table(arch);
    let mut out: Resolved = BTreeMap::new();
    for r in rules {
        if r.includes
            .as_ref()
            .is_some_and(|c| !holds(c, true, caps, arch))
            || r.excludes
                .as_ref()
                .is_some_and(|c| holds(c, false, caps, arch))
        {
            continue;
        }
        for name in &r.names {
            if table.is_some_and(|t| t.contains_key(name)) {
                let entry = out
                    .entry(name.clone())
                    .or_default()
                    .entry(r.action)
                    .or_insert_with(|| (BTreeSet::new(), r.line));
                entry.0.insert(r.args.clone());
            }
        }
    }
    out
}

fn condition(c: &ArgCmp) -> Result<String, String> {
    let arg = format!("arg{}", c.index);
    Ok(match c.op {
        CmpOp::Eq => format!("{arg} == {}", c.value),
        CmpOp::Ne => format!("{arg} != {}", c.value),
        CmpOp::Lt => format!("{arg} < {}", c.value),
        CmpOp::Le => format!("{arg} <= {}", c.value),
        CmpOp::Gt => format!("{arg} > {}", c.value),
        CmpOp::Ge => format!("{arg} >= {}", c.value),
        CmpOp::MaskedEq if c.value_two == c.value => format!("{arg} has {:#x}", c.value),
        CmpOp::MaskedEq if c.value_two == 0 => format!("{arg} lacks {:#x}", c.value),
        CmpOp::MaskedEq => {
            return Err(format!(
                "`{arg} & {:#x} == {:#x}` asks for some flags set and others not: a program says `has` or `lacks`",
                c.value, c.value_two
            ));
        }
    })
}

fn action_word(a: SeccompAction) -> Result<String, String> {
    Ok(match a {
        SeccompAction::Allow => "allow".to_string(),
        SeccompAction::Errno(1) => "deny".to_string(),
        SeccompAction::Errno(n) => {
            let name = catalog::seccomp::errnos()
                .iter()
                .find(|(_, v)| **v == u64::from(n))
                .map(|(k, _)| k.clone())
                .ok_or(format!(
                    "errno {n} has no name in compiler/catalog/errno.tbl"
                ))?;
            format!("errno {name}")
        }
        SeccompAction::KillProcess => "kill-process".to_string(),
        SeccompAction::KillThread => "kill-thread".to_string(),
        SeccompAction::Log => "log".to_string(),
        SeccompAction::Trace => "trace".to_string(),
        SeccompAction::Notify => "notify".to_string(),
    })
}

/// Imports the profile `bytes`, read from the file `name`.
pub fn import(name: &str, bytes: &[u8], options: &Options) -> Imported {
    let mut sources = SourceMap::new();
    let file = sources.add(
        name.to_string(),
        String::from_utf8_lossy(bytes).into_owned(),
    );
    let mut diagnostics = Vec::new();
    let mut problem = |sources: &SourceMap, line: u32, message: String, code: &'static str| {
        let d = Diagnostic::error(code, message);
        diagnostics.push(if line == 0 {
            d.about_file(name.to_string(), None)
        } else {
            d.primary(line_span(sources, file, line), "here")
        });
    };
    let docs = match yaml::read(bytes) {
        Ok(d) => d,
        Err(e) => {
            problem(
                &sources,
                e.line,
                format!("cannot read {name}: {}", e.message),
                "E1101",
            );
            return Imported {
                block: None,
                diagnostics,
                sources,
            };
        }
    };
    let chain = match profile(&docs, options) {
        Ok(c) => c,
        Err((line, message)) => {
            problem(&sources, line, message, "E1311");
            return Imported {
                block: None,
                diagnostics,
                sources,
            };
        }
    };
    let Some(last) = chain.last() else {
        return Imported {
            block: None,
            diagnostics,
            sources,
        };
    };
    let mut problems = Vec::new();
    let mut all = Vec::new();
    for p in &chain {
        all.extend(rules(p, &mut problems));
    }
    let errno = last
        .get("defaultErrnoRet")
        .and_then(Node::int)
        .and_then(|n| u64::try_from(n).ok());
    let default = last
        .get("defaultAction")
        .and_then(Node::str)
        .ok_or("no `defaultAction`".to_string())
        .and_then(|a| action(a, errno))
        .and_then(action_word);
    let default = match default {
        Ok(d) => d,
        Err(e) => {
            problems.push((last.line, e));
            String::new()
        }
    };
    for (line, message) in problems {
        problem(&sources, line, message, "E1311");
    }
    let caps = &options.capabilities;
    let by_arch: Vec<(Arch, Resolved)> = Arch::ALL
        .iter()
        .map(|a| (*a, resolve(&all, caps, *a)))
        .collect();
    let mut merged: Resolved = BTreeMap::new();
    let cat = catalog::get();
    let calls: BTreeSet<&String> = by_arch.iter().flat_map(|(_, r)| r.keys()).collect();
    for call in calls {
        // On each architecture that has the call, what its rules do there (none: the default).
        let arches = cat.arches_of(call);
        let seen: Vec<(Arch, Option<&Actions>)> = by_arch
            .iter()
            .filter(|(arch, _)| arches.contains(arch))
            .map(|(arch, r)| (*arch, r.get(call)))
            .collect();
        let Some(actions) = seen.iter().find_map(|(_, r)| *r) else {
            continue;
        };
        if let Some((arch, _)) = seen.iter().find(|(_, r)| *r != Some(actions)) {
            let line = actions.values().map(|(_, l)| *l).min().unwrap_or(0);
            problem(
                &sources,
                line,
                format!(
                    "`{call}` is treated differently on {} than on the other architecture: a block's rules are the same on x86_64 and aarch64",
                    arch.name()
                ),
                "E1312",
            );
            continue;
        }
        merged.insert(call.clone(), actions.clone());
    }
    // The calls the profile names that neither architecture has.
    let elsewhere: BTreeSet<&str> = all
        .iter()
        .flat_map(|r| r.names.iter())
        .map(String::as_str)
        .filter(|n| cat.arches_of(n).is_empty())
        .collect();
    let mut lines: Vec<(String, String)> = Vec::new();
    let mut unconditional: BTreeMap<SeccompAction, Vec<&str>> = BTreeMap::new();
    for (call, actions) in &merged {
        if actions.len() > 1 {
            let line = actions.values().map(|(_, l)| *l).min().unwrap_or(0);
            let words: Vec<String> = actions
                .keys()
                .filter_map(|a| action_word(*a).ok())
                .collect();
            problem(
                &sources,
                line,
                format!(
                    "`{call}` has rules of different actions ({}): a block gives a call one action, under conditions or not",
                    words.join(", ")
                ),
                "E1312",
            );
            continue;
        }
        let Some((act, (alternatives, line))) = actions.iter().next() else {
            continue;
        };
        let word = match action_word(*act) {
            Ok(w) => w,
            Err(e) => {
                problem(&sources, *line, e, "E1312");
                continue;
            }
        };
        if alternatives.iter().any(Vec::is_empty) {
            unconditional.entry(*act).or_default().push(call);
            continue;
        }
        // Alternatives that are each one value of one argument are one `in` line.
        let one_arg: BTreeSet<u8> = alternatives.iter().flatten().map(|c| c.index).collect();
        let values: Option<Vec<u64>> = alternatives
            .iter()
            .map(|alt| match alt.as_slice() {
                [c] if c.op == CmpOp::Eq => Some(c.value),
                _ => None,
            })
            .collect();
        if let (Some(values), [index]) = (values, one_arg.iter().collect::<Vec<_>>().as_slice())
            && values.len() > 1
        {
            // A program takes 64 values a rule.
            for chunk in values.chunks(64) {
                let list: Vec<String> = chunk.iter().map(u64::to_string).collect();
                lines.push((
                    word.clone(),
                    format!("{word} {call} if arg{index} in ({})", list.join(", ")),
                ));
            }
            continue;
        }
        for alt in alternatives {
            match alt.iter().map(condition).collect::<Result<Vec<_>, _>>() {
                Ok(conds) => lines.push((
                    word.clone(),
                    format!("{word} {call} if {}", conds.join(" and ")),
                )),
                Err(e) => problem(&sources, *line, format!("`{call}`: {e}"), "E1312"),
            }
        }
    }
    if diagnostics.iter().any(Diagnostic::is_error) {
        return Imported {
            block: None,
            diagnostics,
            sources,
        };
    }
    for (act, calls) in unconditional {
        if let Ok(word) = action_word(act) {
            lines.push((word.clone(), format!("{word} {}", calls.join(", "))));
        }
    }
    lines.sort();
    let mut caps_named: Vec<&str> = caps.iter().map(|c| c.trim_start_matches("CAP_")).collect();
    caps_named.sort_unstable();
    let caps_text = if caps_named.is_empty() {
        "none".to_string()
    } else {
        caps_named.join(", ")
    };
    let mut text = String::new();
    comment(
        &mut text,
        &format!(
            "{} from {}, for a container with capabilities {caps_text} on a current kernel.",
            HEADER.trim_start_matches("// "),
            crate::infer::sanitize(name)
        ),
    );
    let mut only: BTreeMap<Arch, Vec<&str>> = BTreeMap::new();
    for call in merged.keys() {
        if let [arch] = cat.arches_of(call).as_slice() {
            only.entry(*arch).or_default().push(call);
        }
    }
    for (arch, calls) in &only {
        comment(
            &mut text,
            &format!(
                "Calls of {} only (W0402 elsewhere): {}",
                arch.name(),
                calls.join(", ")
            ),
        );
    }
    if !elsewhere.is_empty() {
        let list: Vec<String> = elsewhere
            .iter()
            .map(|n| crate::infer::sanitize(n))
            .collect();
        comment(
            &mut text,
            &format!(
                "Not calls of x86_64 or aarch64 (their 32-bit companions', other architectures'), left out: {}",
                list.join(", ")
            ),
        );
    }
    let mut block = String::from("syscalls {\n");
    for (_, line) in &lines {
        block.push_str(&format!("  {line}\n"));
    }
    block.push_str(&format!("  default {default}\n}}\n"));
    text.push_str(&layout(&block));
    Imported {
        block: Some(text),
        diagnostics,
        sources,
    }
}

/// Comment lines of at most 100 characters holding `text`, broken between words.
fn comment(out: &mut String, text: &str) {
    let mut line = String::from("//");
    for word in text.split(' ') {
        if line.len() + 1 + word.len() > 100 && line.len() > 2 {
            out.push_str(&line);
            out.push('\n');
            line = String::from("//");
        }
        line.push(' ');
        line.push_str(word);
    }
    out.push_str(&line);
    out.push('\n');
}

/// The wrapper a block is checked and laid out in: a service of its own.
pub fn wrapper(service: &str) -> String {
    format!(
        "namespace imported {{ }}\nservice {service} in imported {{\n  pods app = \"imported\"\n"
    )
}

/// The block laid out as `warden fmt` lays it out inside a service, taken out again.
fn layout(block: &str) -> String {
    let program = format!("{}{block}}}\n", wrapper("imported"));
    let formatted = crate::infer::layout(program);
    let mut out = String::new();
    let mut inside = false;
    for line in formatted.lines() {
        if line.trim_start().starts_with("syscalls {") {
            inside = true;
        }
        if inside {
            out.push_str(line.strip_prefix("  ").unwrap_or(line));
            out.push('\n');
            if line == "  }" {
                break;
            }
        }
    }
    if out.is_empty() {
        block.to_string()
    } else {
        out
    }
}
