//! `warden infer dockerfile Dockerfile [--context DIR]`: a service drafted from an image's
//! build: the final stage's `EXPOSE` as ports, `USER`, `VOLUME` and `HEALTHCHECK` as notes for its
//! admission, and, when `ENTRYPOINT`/`CMD` runs `node`, the `syscalls` block `infer node` makes
//! of the script, found in the build context through the stage's `WORKDIR` and `COPY` lines.

use crate::diag::Diagnostic;
use std::path::{Path, PathBuf};

/// One instruction: its keyword (upper case), its arguments, its first line.
struct Instruction {
    keyword: String,
    args: String,
    line: usize,
}

/// The instructions of a Dockerfile: continuation lines joined, comments and blank lines left out.
fn instructions(text: &str) -> Vec<Instruction> {
    let mut out = Vec::new();
    let mut current: Option<(String, usize)> = None;
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if current.is_none() && (line.is_empty() || line.starts_with('#')) {
            continue;
        }
        let (mut text, start) = current.take().unwrap_or((String::new(), i + 1));
        if line.starts_with('#') {
            current = Some((text, start));
            continue;
        }
        match line.strip_suffix('\\') {
            Some(part) => {
                text.push_str(part);
                text.push(' ');
                current = Some((text, start));
            }
            None => {
                text.push_str(line);
                let (keyword, args) = text.split_once(char::is_whitespace).unwrap_or((&text, ""));
                out.push(Instruction {
                    keyword: keyword.to_ascii_uppercase(),
                    args: args.trim().to_string(),
                    line: start,
                });
            }
        }
    }
    out
}

/// The words of an exec form (`["node", "server.js"]`) or a shell form (`node server.js`); the
/// second says whether a shell runs it.
fn command(args: &str) -> (Vec<String>, bool) {
    if args.starts_with('[')
        && let Ok(words) = serde_json::from_str::<Vec<String>>(args)
    {
        return (words, false);
    }
    (args.split_whitespace().map(str::to_string).collect(), true)
}

/// Options of an instruction (`--from=build`, `--chown=node`) and the rest.
fn options(args: &str) -> (Vec<(String, String)>, Vec<String>) {
    let mut opts = Vec::new();
    let mut rest = Vec::new();
    let words: Vec<String> = match serde_json::from_str::<Vec<String>>(args) {
        Ok(w) => w,
        Err(_) => args.split_whitespace().map(str::to_string).collect(),
    };
    for w in words {
        match w.strip_prefix("--").and_then(|o| o.split_once('=')) {
            Some((k, v)) => opts.push((k.to_string(), v.to_string())),
            None => rest.push(w),
        }
    }
    (opts, rest)
}

const ROOT: &str = "runs as root; `run-as-user non-root` and Pod Security `restricted` refuse it";
const NON_ROOT: &str = "runs as a user other than root; `run-as-user non-root` admits it";
const NAMED: &str =
    "a name; `runAsNonRoot` needs a numeric user to check, so set `runAsUser` in the pod";

/// What `USER` means for admission.
fn user_note(args: &str, at: &str) -> String {
    let user = args.split(':').next().unwrap_or("").trim();
    let what = if user == "root" || user == "0" {
        ROOT
    } else if user.parse::<u32>().is_ok() {
        NON_ROOT
    } else {
        NAMED
    };
    format!("USER {args} ({at}): {what}")
}

const SHELL: &str = " (a shell form: `sh -c` starts node, so the shell's calls are in it too)";
const NOT_COPIED: &str = "no `syscalls` block is drafted: give the context with `--context DIR`, or run `warden infer node` on the code";

/// The script a command runs with node (`node --flag server.js`), if it runs node.
fn node_script(words: &[String]) -> Option<&String> {
    let program = words.first()?;
    let program = program.rsplit('/').next().unwrap_or(program);
    if program != "node" && program != "nodejs" {
        return None;
    }
    words.iter().skip(1).find(|w| !w.starts_with('-'))
}

/// What `infer node` makes of the package of `file` (the nearest directory with a package.json,
/// as Node finds it), with `file` as its entry.
fn script_block(
    file: &Path,
    also: Option<&Path>,
    service: &str,
    options: &super::Options,
) -> super::Inferred {
    let dir = file.parent().map(Path::to_path_buf).unwrap_or_default();
    let package = file
        .ancestors()
        .skip(1)
        .find(|d| d.join("package.json").is_file())
        .map_or(dir, Path::to_path_buf);
    let entry = file
        .strip_prefix(&package)
        .map_or_else(|_| file.to_path_buf(), Path::to_path_buf);
    let mut options = options.clone();
    options.entries = vec![entry];
    // The health check's script, when it is of the same package: a second entry.
    if let Some(rel) = also.and_then(|a| a.strip_prefix(&package).ok()) {
        options.entries.push(rel.to_path_buf());
    }
    options.service = Some(service.to_string());
    super::infer(&package, &options)
}

/// What the draft says, and where its `syscalls` block comes from.
pub struct Draft {
    pub text: String,
    /// The files the diagnostics point into.
    pub sources: crate::span::SourceMap,
    pub diagnostics: Vec<Diagnostic>,
}

/// `path` in the image, from `base` (the `WORKDIR`), with `.` and `..` taken out.
fn join(base: &str, path: &str) -> String {
    let full = if path.starts_with('/') {
        path.to_string()
    } else {
        format!("{base}/{path}")
    };
    let mut parts: Vec<&str> = Vec::new();
    for part in full.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    format!("/{}", parts.join("/"))
}

/// The context file that an image path came from, by the stage's `COPY` lines (the last one
/// that covers it wins, as the last layer does).
fn source_of(image_path: &str, copies: &[(String, String)], context: &Path) -> Option<PathBuf> {
    copies.iter().rev().find_map(|(src, dst)| {
        let dst = dst.trim_end_matches('/');
        let src = src.trim_start_matches("./").trim_end_matches('/');
        let base = if src == "." || src.is_empty() {
            context.to_path_buf()
        } else {
            context.join(src)
        };
        if base.is_file() {
            // A file lands at DST, or in DST under its own name.
            let name = base.file_name()?.to_string_lossy().to_string();
            return (image_path == dst || image_path == join(dst, &name)).then_some(base);
        }
        let rel = image_path.strip_prefix(&format!("{dst}/"))?;
        let found = base.join(rel);
        found.is_file().then_some(found)
    })
}

pub fn draft(
    dockerfile: &Path,
    context: Option<&Path>,
    service: &str,
    namespace: &str,
    node_options: &super::Options,
) -> Draft {
    let mut draft = Draft {
        text: String::new(),
        sources: crate::span::SourceMap::new(),
        diagnostics: Vec::new(),
    };
    let name = dockerfile.display().to_string();
    let text = match std::fs::read_to_string(dockerfile) {
        Ok(t) => t,
        Err(e) => {
            draft.diagnostics.push(
                Diagnostic::error("E1504", format!("cannot read {name}: {e}"))
                    .about_file(name, None),
            );
            return draft;
        }
    };
    let all = instructions(&text);
    // The final stage: everything after the last FROM.
    let start = all
        .iter()
        .rposition(|i| i.keyword == "FROM")
        .map_or(0, |p| p + 1);
    let from_line = start
        .checked_sub(1)
        .and_then(|p| all.get(p))
        .map_or(0, |i| i.line);
    let stage = all.get(start..).unwrap_or_default();
    let context = context.map(Path::to_path_buf).unwrap_or_else(|| {
        dockerfile
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default()
    });
    let mut workdir = "/".to_string();
    let mut copies: Vec<(String, String)> = Vec::new();
    let mut ports: Vec<(String, u16, String, usize)> = Vec::new();
    let mut notes: Vec<String> = Vec::new();
    let mut run: Option<(Vec<String>, bool, usize, String)> = None;
    let mut entrypoint: Option<(Vec<String>, bool, usize)> = None;
    let mut health: Option<(Vec<String>, usize)> = None;
    for i in stage {
        let at = format!("{name}:{}", i.line);
        match i.keyword.as_str() {
            "WORKDIR" => workdir = join(&workdir, &i.args),
            "COPY" | "ADD" => {
                let (opts, mut paths) = options(&i.args);
                // A copy from another stage carries what that stage built: not the context's files.
                if opts.iter().any(|(k, _)| k == "from") || paths.len() < 2 {
                    continue;
                }
                let dst = join(&workdir, &paths.pop().unwrap_or_default());
                for src in paths {
                    copies.push((src, dst.clone()));
                }
            }
            "EXPOSE" => {
                for word in i.args.split_whitespace() {
                    let (number, proto) = word.split_once('/').unwrap_or((word, "tcp"));
                    match number.parse::<u16>() {
                        Ok(n) if n > 0 => {
                            let proto = proto.to_ascii_lowercase();
                            ports.push((proto, n, word.to_string(), i.line));
                        }
                        _ => notes.push(format!("EXPOSE {word} ({at}): not a port; left out")),
                    }
                }
            }
            "USER" => notes.push(user_note(&i.args, &at)),
            "VOLUME" => notes.push(format!(
                "VOLUME {} ({at}): written at run time; with `require read-only-root-filesystem`, mount a volume there",
                i.args
            )),
            "HEALTHCHECK" => {
                notes.push(format!(
                    "HEALTHCHECK ({at}): Kubernetes does not run it; an exec probe that does runs under this block too"
                ));
                // `HEALTHCHECK [--interval=…] CMD command`, or `NONE`.
                let rest = i.args.trim_start();
                let mut rest = rest;
                while let Some(after) = rest.strip_prefix("--") {
                    rest = after
                        .split_once(char::is_whitespace)
                        .map_or("", |(_, r)| r)
                        .trim_start();
                }
                health = rest
                    .strip_prefix("CMD")
                    .filter(|r| r.starts_with(char::is_whitespace))
                    .map(|r| (command(r.trim()).0, i.line));
            }
            "ENTRYPOINT" => {
                let (words, shell) = command(&i.args);
                entrypoint = Some((words, shell, i.line));
            }
            "CMD" => {
                let (words, shell) = command(&i.args);
                run = Some((words, shell, i.line, "CMD".into()));
            }
            _ => {}
        }
    }
    // What the container runs: ENTRYPOINT followed by CMD, as the runtime joins them.
    let (words, shell, line) = match (&entrypoint, &run) {
        (Some((e, es, l)), Some((c, _, _, _))) => {
            let mut w = e.clone();
            w.extend(c.iter().cloned());
            (w, *es, *l)
        }
        (Some((e, es, l)), None) => (e.clone(), *es, *l),
        (None, Some((c, cs, l, _))) => (c.clone(), *cs, *l),
        (None, None) => (Vec::new(), false, 0),
    };
    let mut o = String::new();
    let from = super::super::render::sanitize(&name);
    o.push_str(&format!(
        "// Drafted by `warden infer dockerfile` from {from} (the stage from line {from_line}).\nservice {service} in {namespace} {{\n  pods app = \"{service}\"\n"
    ));
    ports.sort();
    ports.dedup_by(|a, b| a.0 == b.0 && a.1 == b.1);
    for (proto, n, word, l) in &ports {
        let why = super::super::render::sanitize(&format!("EXPOSE {word} ({name}:{l})"));
        o.push_str(&format!("  port {proto}-{n} {n}/{proto} // {why}\n"));
    }
    for note in &notes {
        o.push_str(&format!("  // {}\n", super::super::render::sanitize(note)));
    }
    // The health check runs in the container, under the same block: a node script of the
    // context is read with the service's; another program's calls are not known.
    let health_script = match &health {
        Some((health, l)) => match node_script(health) {
            Some(script) => source_of(&join(&workdir, script), &copies, &context),
            // Said where there is a block to say it of.
            None if node_script(&words).is_none() => None,
            None => {
                // The command and the Dockerfile's path are the user's: one comment line whatever
                // they hold.
                let said = super::super::render::sanitize(&format!(
                    "HEALTHCHECK runs `{}` ({name}:{l}): not node, so its calls are not in the block; under Docker it would be killed",
                    health.join(" ")
                ));
                o.push_str(&format!("  // {said}\n"));
                None
            }
        },
        None => None,
    };
    let program = words
        .first()
        .map(|w| w.rsplit('/').next().unwrap_or(w).to_string());
    match (node_script(&words), program.as_deref()) {
        (Some(script), _) => {
            let in_image = join(&workdir, script);
            match source_of(&in_image, &copies, &context) {
                Some(file) => {
                    let inferred =
                        script_block(&file, health_script.as_deref(), service, node_options);
                    let how = if shell { SHELL } else { "" };
                    let said = super::super::render::sanitize(&format!(
                        "{} ({name}:{line}) runs node{how}",
                        words.join(" ")
                    ));
                    o.push_str(&format!("  // {said}\n"));
                    o.push_str(&inferred.block);
                    draft.diagnostics.extend(inferred.diagnostics);
                    draft.sources = inferred.sources;
                    if inferred.block.is_empty() {
                        draft.text.clear();
                        return draft;
                    }
                }
                None => draft.diagnostics.push(
                    Diagnostic::warning(
                        "W1507",
                        format!("{in_image}, which {name}:{line} runs, is not copied from the build context"),
                    )
                    .about_file(name.clone(), Some(line))
                    .note(NOT_COPIED),
                ),
            }
        }
        (None, Some(other)) => draft.diagnostics.push(
            Diagnostic::warning(
                "W1507",
                format!("{name}:{line} runs `{other}`, which warden cannot read the calls of"),
            )
            .about_file(name.clone(), Some(line))
            .note("no `syscalls` block is drafted: `infer` reads Node.js code only"),
        ),
        (None, None) => {}
    }
    o.push_str("}\n");
    let program = format!("namespace {namespace} {{ }}\n\n{o}");
    // `namespace` and `service` are names the caller checked (`program_name`).
    match crate::format::source::format(0, &program) {
        Ok(text) => draft.text = text,
        Err(_) => draft.diagnostics.push(Diagnostic::error(
            "E0805",
            format!("the drafted service does not parse; this is a bug in warden:\n{program}"),
        )),
    }
    draft
}
