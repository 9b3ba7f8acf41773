//! The fuzz targets' bodies, shared by `fuzz_targets/` (libFuzzer drives them) and by
//! `tests/replay.rs` (the test suite runs every stored input through them).
//!
//! Each body panics when warden breaks a promise: a panic anywhere in warden, an error without a
//! span in the file it is about, a span outside its file or inside a character, a generated
//! document that fails warden's own check (E0805), output that differs between two compilations of
//! the same program, or a printed program that does not parse back to what was printed.
#![forbid(unsafe_code)]
#![allow(
    clippy::panic,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    reason = "a fuzz target reports a broken promise by panicking"
)]

mod generate;
mod node;
mod review;

pub use node::node;
pub use review::{Reached, reached, review};

use warden::diag::{Diagnostic, render};
use warden::document::{Layout, Target};
use warden::span::SourceMap;

/// Splits the input into source files at 0xFF bytes (never part of UTF-8 text), so that one input
/// can be a program of several files; `None` if a file is not UTF-8 (the loader refuses those
/// before parsing, with their path).
fn sources(data: &[u8]) -> Option<SourceMap> {
    let mut sources = SourceMap::new();
    for (i, part) in data.split(|&b| b == 0xFF).enumerate().take(8) {
        let text = std::str::from_utf8(part).ok()?;
        sources.add(format!("f{i}.warden"), text.to_string());
    }
    Some(sources)
}

/// Every diagnostic about a source file points into it, on character boundaries, and renders.
fn assert_spans(sources: &SourceMap, diags: &[Diagnostic], every_error_has_a_span: bool) {
    for d in diags {
        if every_error_has_a_span && d.is_error() {
            assert!(
                d.span().is_some(),
                "{} `{}` has no span to point at",
                d.code,
                d.message
            );
        }
        for label in &d.labels {
            let span = label.span;
            assert!(span.file < sources.len(), "{}: span in no file", d.code);
            let text = sources.text(span.file);
            assert!(
                span.start <= span.end && span.end <= text.len(),
                "{}: span {span:?} outside its file of {} bytes",
                d.code,
                text.len()
            );
            assert!(
                text.is_char_boundary(span.start) && text.is_char_boundary(span.end),
                "{}: span {span:?} inside a character",
                d.code
            );
        }
    }
    let human = render::human(sources, diags);
    let json = render::json_lines(sources, diags);
    assert_eq!(diags.is_empty(), human.is_empty());
    assert_eq!(json.lines().count(), diags.len());
}

/// The parser alone: any text gives a syntax tree or an E0001 with a span.
pub fn parse(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut sources = SourceMap::new();
    let id = sources.add("f.warden".to_string(), text.to_string());
    let (_, diags) = warden::parse::parse_file(id, text);
    assert_spans(&sources, &diags, true);
    if diags.is_empty() {
        formats(text);
    }
}

/// `warden fmt` of a file that parses: it never refuses (E0806 is a bug: the layout would have
/// changed the program or lost a comment), and formatting twice is formatting once.
fn formats(text: &str) {
    let once = match warden::format::source::format(0, text) {
        Ok(out) => out,
        Err(diags) => panic!("fmt refused a file that parses:\n{text}\n{diags:?}"),
    };
    match warden::format::source::format(0, &once) {
        Ok(twice) => assert_eq!(twice, once, "fmt is not idempotent on\n{text}"),
        Err(diags) => panic!("fmt refused its own output:\n{once}\n{diags:?}"),
    }
}

/// Parsing and checking: every error points at the source it is about.
pub fn check(data: &[u8]) {
    let Some(sources) = sources(data) else {
        return;
    };
    let (files, mut diags) = warden::parse::all(&sources);
    if !diags.iter().any(Diagnostic::is_error) {
        diags.extend(warden::check::check(&sources, &files).1);
    }
    assert_spans(&sources, &diags, true);
}

/// The whole compilation to every target, twice: no document fails warden's own check, and the
/// second compilation gives the same bytes.
pub fn compile(data: &[u8]) {
    let Some(sources) = sources(data) else {
        return;
    };
    compile_sources(sources);
}

fn compile_sources(sources: SourceMap) {
    let texts: Vec<(String, String)> = (0..sources.len())
        .map(|i| (sources.name(i).to_string(), sources.text(i).to_string()))
        .collect();
    let first = warden::compile_for(sources, &Target::ALL, Layout::Tree);
    assert_spans(&first.sources, &first.diagnostics, false);
    if let Some(bug) = first.diagnostics.iter().find(|d| d.code == "E0805") {
        panic!("{}: {}", bug.message, bug.notes.join("\n"));
    }
    let Some(docs) = first.documents else {
        assert!(
            first.diagnostics.iter().any(Diagnostic::is_error),
            "no documents and no error"
        );
        return;
    };
    let mut again = SourceMap::new();
    for (name, text) in texts {
        again.add(name, text);
    }
    let second = warden::compile_for(again, &Target::ALL, Layout::Tree);
    let Some(second_docs) = second.documents else {
        panic!("the second compilation of the same program failed");
    };
    let bytes = |docs: &[warden::document::Document]| -> Vec<(String, String)> {
        docs.iter()
            .map(|d| (d.path.clone(), d.text.clone()))
            .collect()
    };
    assert!(
        bytes(&docs) == bytes(&second_docs),
        "two compilations differ"
    );
}

/// A syntax tree's structure without its spans: generated trees have none, parsed ones do.
fn shape(file: &warden::ast::File) -> String {
    static SPAN: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    let span = SPAN
        .get_or_init(|| regex::Regex::new(r"Span \{ file: \d+, start: \d+, end: \d+ \}").unwrap());
    span.replace_all(&format!("{file:?}"), "Span").into_owned()
}

/// The program `round_trip` builds from `data`, printed; `None` if the bytes run out first.
pub fn generated(data: &[u8]) -> Option<String> {
    generate(data).map(|file| warden::format::file(&file))
}

/// Half the inputs build any program the grammar can express, half one the checker accepts.
fn generate(data: &[u8]) -> Option<warden::ast::File> {
    let (&mode, rest) = data.split_first()?;
    let mut u = arbitrary::Unstructured::new(rest);
    if mode % 2 == 0 {
        generate::file(&mut u).ok()
    } else {
        generate::valid_file(&mut u).ok()
    }
}

/// Structure-aware: builds a program from the bytes, prints it, parses the text back (the same
/// tree but for spans), prints that again (the same text), then compiles it.
pub fn round_trip(data: &[u8]) {
    let Some(file) = generate(data) else {
        return;
    };
    let text = warden::format::file(&file);
    let mut sources = SourceMap::new();
    let id = sources.add("p.warden".to_string(), text.clone());
    let (parsed, diags) = warden::parse::parse_file(id, &text);
    if !diags.is_empty() {
        panic!(
            "printed program does not parse:\n{text}\n{}",
            render::human(&sources, &diags)
        );
    }
    assert_eq!(shape(&file), shape(&parsed), "round trip changed\n{text}");
    assert_eq!(
        warden::format::file(&parsed),
        text,
        "printing is not stable"
    );
    formats(&text);
    compile_sources(sources);
}

/// The language server fed an editor's session drawn from the input: files opened with generated
/// programs or arbitrary text, edits spliced in at arbitrary places, every request at arbitrary
/// positions (past the end of lines and files too), and raw frames, malformed or not. It never
/// panics, and every request gets exactly one answer.
pub fn lsp(data: &[u8]) {
    use arbitrary::Unstructured;
    use serde_json::{Value, json};
    use warden::lsp::transport::{self, Incoming};
    let mut u = Unstructured::new(data);
    let mut out: Vec<u8> = Vec::new();
    let mut requests = 0;
    {
        let mut server = warden::lsp::Server::new(&mut out);
        let init = json!({"jsonrpc": "2.0", "id": 0, "method": "initialize",
                          "params": {"capabilities": {}}});
        server.handle(Incoming::Message(init));
        requests += 1;
        let uris = ["file:///w/a.warden", "file:///w/b.warden"];
        let mut texts = [String::new(), String::new()];
        let Ok(steps) = u.int_in_range(1..=24u8) else {
            return;
        };
        for step in 0..steps {
            let Ok(op) = u.int_in_range(0..=11u8) else {
                break;
            };
            let which = usize::from(u.arbitrary::<bool>().unwrap_or(false));
            let uri = uris[which];
            let position = json!({
                "line": u.int_in_range(0..=40u32).unwrap_or(0),
                "character": u.int_in_range(0..=120u32).unwrap_or(0),
            });
            let doc = json!({"uri": uri});
            let id = i64::from(step) + 1;
            let request = |method: &str, params: Value| json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
            let message = match op {
                0 => {
                    let bytes: &[u8] = u.arbitrary().unwrap_or_default();
                    let mut reader = std::io::BufReader::new(bytes);
                    while let Some(incoming) = transport::read(&mut reader) {
                        if let Incoming::Message(m) = &incoming
                            && m.get("id").is_some()
                            && m.get("method").is_some()
                        {
                            requests += 1;
                        }
                        if server.handle(incoming).is_some() {
                            return;
                        }
                    }
                    continue;
                }
                1 => {
                    let generated = if u.arbitrary::<bool>().unwrap_or(false) {
                        generate::valid_file(&mut u)
                    } else {
                        generate::file(&mut u)
                    };
                    texts[which] = match generated {
                        Ok(file) => warden::format::file(&file),
                        Err(_) => u.arbitrary::<String>().unwrap_or_default(),
                    };
                    json!({"jsonrpc": "2.0", "method": "textDocument/didOpen", "params":
                        {"textDocument": {"uri": uri, "languageId": "warden", "version": 1,
                                          "text": texts[which]}}})
                }
                2 => {
                    let text = &mut texts[which];
                    let at = u.int_in_range(0..=text.len()).unwrap_or(0);
                    let at = (0..=at)
                        .rev()
                        .find(|&i| text.is_char_boundary(i))
                        .unwrap_or(0);
                    let cut = u.int_in_range(0..=8usize).unwrap_or(0);
                    let end = (at..=text.len().min(at + cut))
                        .rev()
                        .find(|&i| text.is_char_boundary(i))
                        .unwrap_or(at);
                    let insert: String = u.arbitrary().unwrap_or_default();
                    text.replace_range(at..end, &insert);
                    json!({"jsonrpc": "2.0", "method": "textDocument/didChange", "params":
                        {"textDocument": {"uri": uri, "version": step}, "contentChanges":
                            [{"text": text}]}})
                }
                3 => json!({"jsonrpc": "2.0", "method": "textDocument/didClose",
                            "params": {"textDocument": doc}}),
                4 => request(
                    "textDocument/hover",
                    json!({"textDocument": doc, "position": position}),
                ),
                5 => request(
                    "textDocument/definition",
                    json!({"textDocument": doc, "position": position}),
                ),
                6 => request(
                    "textDocument/references",
                    json!({"textDocument": doc,
                    "position": position, "context": {"includeDeclaration": true}}),
                ),
                7 => request(
                    "textDocument/completion",
                    json!({"textDocument": doc, "position": position}),
                ),
                8 => request(
                    "textDocument/codeAction",
                    json!({"textDocument": doc,
                    "range": {"start": position, "end": position}, "context": {"diagnostics": []}}),
                ),
                9 => request(
                    "textDocument/formatting",
                    json!({"textDocument": doc,
                    "options": {"tabSize": 2, "insertSpaces": true}}),
                ),
                10 => request("workspace/symbol", json!({"query": ""})),
                _ => {
                    server.settle();
                    continue;
                }
            };
            if message.get("id").is_some() {
                requests += 1;
            }
            if server.handle(Incoming::Message(message)).is_some() {
                return;
            }
        }
        server.settle();
    }
    // One answer per request: count the responses in what the server wrote.
    let mut reader = std::io::BufReader::new(out.as_slice());
    let mut answers = 0;
    while let Some(incoming) = transport::read(&mut reader) {
        match incoming {
            Incoming::Message(m) if m.get("id").is_some() && m.get("method").is_none() => {
                answers += 1;
            }
            Incoming::Message(_) => {}
            Incoming::Malformed(e) => panic!("the server wrote a malformed frame: {e}"),
        }
    }
    // A malformed frame is answered too (with id null), so there are at least as many answers.
    assert!(
        answers >= requests,
        "{requests} requests, {answers} answers"
    );
}

/// The manifest reader, `infer` and `import` on any bytes as a manifest file, and the same bytes
/// as a seccomp profile: never a panic, every label inside the file, and a draft, program or
/// block that compiles (one that does not is a defect of `infer` or `import`).
pub fn manifests(data: &[u8]) {
    drafts_and_imports(data);
    seccomp_profile(data);
}

/// Compiles `files` for `target` and fails, naming `what` and showing the text, on any error: what
/// warden itself made must build.
fn assert_compiles(files: &[(String, String)], target: Target, what: &str) {
    let mut program = SourceMap::new();
    for (name, text) in files {
        program.add(name.clone(), text.clone());
    }
    let compiled = warden::compile(program, &[target]);
    let errors: Vec<&str> = compiled
        .diagnostics
        .iter()
        .filter(|d| d.is_error())
        .map(|d| d.message.as_str())
        .collect();
    assert!(
        errors.is_empty(),
        "{what} does not compile: {errors:?}\n{}",
        files.iter().map(|(_, t)| t.as_str()).collect::<String>()
    );
}

/// Each file as `warden fmt` would lay it out.
fn assert_laid_out(files: &[(String, String)]) {
    for (name, text) in files {
        match warden::format::source::format(0, text) {
            Ok(formatted) => assert!(
                &formatted == text,
                "{name} is not laid out as `warden fmt` lays it out:\n{text}\n-- formatted --\n{formatted}"
            ),
            Err(d) => panic!("{name} does not format: {d:?}\n{text}"),
        }
    }
}

fn drafts_and_imports(data: &[u8]) {
    let mut m = warden::manifests::Manifests::new();
    m.add("f.yaml".to_string(), data);
    assert_spans(&m.sources, &m.diagnostics, false);
    if m.diagnostics.iter().any(Diagnostic::is_error) {
        return;
    }
    for cilium in [false, true] {
        let options = warden::infer::Options {
            namespace: "default".to_string(),
            cilium,
        };
        let draft = warden::infer::infer(&m, &options);
        assert_spans(&m.sources, &draft.diagnostics, false);
        let target = if cilium {
            Target::Cilium
        } else {
            Target::Netpol
        };
        assert_compiles(&draft.files, target, "the draft");
        assert_laid_out(&draft.files);
    }
    // The same bytes as NetworkPolicies to import: a program, when there is no error, compiles.
    let imported = warden::import::netpol::import(&m, "default");
    assert_spans(&m.sources, &imported.diagnostics, false);
    if !imported.diagnostics.iter().any(Diagnostic::is_error) {
        assert_compiles(&imported.files, Target::Netpol, "the imported program");
    }
}

/// Any bytes as a seccomp profile to import: every diagnostic's span within the profile, and a
/// block, when there is one, that a service's declaration compiles.
pub fn seccomp_profile(data: &[u8]) {
    let options = warden::import::seccomp::Options {
        capabilities: warden::lower::spo::DEFAULT_CAPS
            .iter()
            .map(|c| c.to_string())
            .collect(),
        profile: None,
    };
    let imported = warden::import::seccomp::import("p.json", data, &options);
    assert_spans(&imported.sources, &imported.diagnostics, false);
    if let Some(block) = imported.block {
        let program = format!("{}{block}}}\n", warden::import::seccomp::wrapper("probe"));
        assert_compiles(
            &[("p.warden".to_string(), program)],
            Target::Seccomp,
            "the block",
        );
    }
}
