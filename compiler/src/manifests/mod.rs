//! Kubernetes manifests as `kubectl`, `kustomize build` and `helm template` write them: YAML (or
//! JSON) streams of several documents and `List`s, in files or directories, read into the
//! objects `infer` derives a program from.

pub mod objects;
pub mod yaml;

use crate::diag::Diagnostic;
use crate::span::{SourceMap, Span};
use objects::{At, Object, Skipped};
use std::path::{Path, PathBuf};

/// What was read.
pub struct Manifests {
    /// Every file read, with its text (for diagnostics and evidence); file ids are `At::file`.
    pub sources: SourceMap,
    pub objects: Vec<Object>,
    /// Documents of kinds not read, by kind, with where each is.
    pub skipped: Vec<(String, At)>,
    pub diagnostics: Vec<Diagnostic>,
}

impl Manifests {
    /// `file:line`.
    pub fn location(&self, at: &At) -> String {
        format!("{}:{}", self.sources.name(at.file), at.line)
    }

    /// The span of line `at` (for a diagnostic's label).
    pub fn span(&self, at: &At) -> Span {
        line_span(&self.sources, at.file, at.line)
    }
}

/// The span of line `line` of file `file`, for a diagnostic's label.
pub fn line_span(sources: &SourceMap, file: usize, line: u32) -> Span {
    use codespan_reporting::files::Files;
    let text = sources.text(file);
    // The file's line starts are indexed once, when it is added.
    let index = usize::try_from(line.max(1) - 1).unwrap_or(usize::MAX);
    let range = sources
        .files()
        .line_range(file, index)
        .unwrap_or(text.len()..text.len());
    let line_text = text.get(range.clone()).unwrap_or_default();
    let end = range.start + line_text.trim_end_matches(['\n', '\r']).len();
    Span::new(file, range.start, end)
}

fn is_manifest(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e == "yaml" || e == "yml" || e == "json")
}

/// The files under `paths`: each file as given, each directory's manifest files (`.yaml`,
/// `.yml`, `.json`) at any depth, in path order whatever the order given.
fn files(paths: &[PathBuf], diagnostics: &mut Vec<Diagnostic>) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut todo: Vec<PathBuf> = paths.to_vec();
    while let Some(path) = todo.pop() {
        if path.is_dir() {
            match std::fs::read_dir(&path) {
                Ok(entries) => {
                    for e in entries.flatten() {
                        let p = e.path();
                        // Links inside a directory are not followed: a link to a parent would
                        // never end.
                        let Ok(kind) = e.file_type() else {
                            continue;
                        };
                        if kind.is_dir() || (kind.is_file() && is_manifest(&p)) {
                            todo.push(p);
                        }
                    }
                }
                Err(e) => diagnostics.push(
                    Diagnostic::error("E1101", format!("cannot read {}: {e}", path.display()))
                        .about_file(path.display().to_string(), None),
                ),
            }
        } else {
            out.push(path);
        }
    }
    out.sort();
    out.dedup();
    out
}

/// Reads every manifest under `paths`. A file that cannot be read is an error naming it and the
/// line; the rest are still read.
pub fn read(paths: &[PathBuf]) -> Manifests {
    let mut m = Manifests::new();
    let mut read = Vec::new();
    for path in files(paths, &mut m.diagnostics) {
        let name = path.display().to_string();
        let refuse = |message: String| {
            Diagnostic::error("E1101", format!("cannot read {name}: {message}"))
                .about_file(name.clone(), None)
        };
        // The size first: a file past the limit is refused without reading it.
        match std::fs::metadata(&path) {
            Ok(meta) if meta.len() > yaml::MAX_BYTES => {
                m.diagnostics.push(refuse(format!(
                    "{} bytes, more than the {} a manifest file may have",
                    meta.len(),
                    yaml::MAX_BYTES
                )));
                continue;
            }
            Ok(_) => {}
            Err(e) => {
                m.diagnostics.push(refuse(e.to_string()));
                continue;
            }
        }
        match std::fs::read(&path) {
            Ok(bytes) => read.push((name, bytes)),
            Err(e) => m.diagnostics.push(refuse(e.to_string())),
        }
    }
    // Files parse apart, on every core; they are added in path order, so ids and outputs are
    // the same whatever the number of cores.
    let base = m.sources.len();
    let indexed: Vec<(usize, &[u8])> = read
        .iter()
        .enumerate()
        .map(|(i, (_, bytes))| (base + i, bytes.as_slice()))
        .collect();
    let parsed = crate::parallel::map(&indexed, |(file, bytes)| parse(bytes, *file));
    for ((name, bytes), parsed) in read.into_iter().zip(parsed) {
        m.merge(name, &bytes, parsed);
    }
    m
}

/// Reads manifests held in memory, each `(name, text)`, as `read` reads files.
pub fn read_texts(texts: &[(&str, &str)]) -> Manifests {
    let mut m = Manifests::new();
    for (name, text) in texts {
        let parsed = parse(text.as_bytes(), m.sources.len());
        m.merge((*name).to_string(), text.as_bytes(), parsed);
    }
    m
}

/// What one file holds, before it is added: its objects, or why it cannot be read.
type Parsed = Result<FileObjects, yaml::Error>;

#[derive(Default)]
struct FileObjects {
    objects: Vec<Object>,
    skipped: Vec<(String, At)>,
    malformed: Vec<(String, u32)>,
}

/// Parses `bytes` as file `file`.
fn parse(bytes: &[u8], file: usize) -> Parsed {
    yaml::read(bytes).map(|docs| {
        let mut out = FileObjects::default();
        for doc in &docs {
            match objects::objects(doc, file, &mut out.objects) {
                Ok(()) => {}
                Err((Skipped::Kind(kind), line)) => out.skipped.push((kind, At { file, line })),
                Err((Skipped::Malformed(why), line)) => out.malformed.push((why, line)),
            }
        }
        out
    })
}

impl Default for Manifests {
    fn default() -> Self {
        Self::new()
    }
}

impl Manifests {
    pub fn new() -> Manifests {
        Manifests {
            sources: SourceMap::new(),
            objects: Vec::new(),
            skipped: Vec::new(),
            diagnostics: Vec::new(),
        }
    }

    /// Reads one file's bytes, named `name`.
    pub fn add(&mut self, name: String, bytes: &[u8]) {
        let parsed = parse(bytes, self.sources.len());
        self.merge(name, bytes, parsed);
    }

    /// Adds a file parsed as the next file id.
    fn merge(&mut self, name: String, bytes: &[u8], parsed: Parsed) {
        let file = self
            .sources
            .add(name.clone(), String::from_utf8_lossy(bytes).into_owned());
        match parsed {
            Err(e) => {
                let d = Diagnostic::error("E1101", format!("cannot read {name}: {}", e.message));
                self.diagnostics.push(if e.line == 0 {
                    d.about_file(name, None)
                } else {
                    d.primary(line_span(&self.sources, file, e.line), e.message)
                });
            }
            Ok(mut found) => {
                self.objects.append(&mut found.objects);
                self.skipped.append(&mut found.skipped);
                for (why, line) in found.malformed {
                    self.diagnostics.push(
                        Diagnostic::warning("W1102", format!("{why}: left out"))
                            .primary(line_span(&self.sources, file, line), "this document"),
                    );
                }
            }
        }
    }
}
