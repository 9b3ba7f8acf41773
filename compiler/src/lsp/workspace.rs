//! The program the server holds: every `.warden` file of the workspace folder as it is on disk,
//! or as the editor has it where it is open; each parsed once per change, and the whole checked
//! again as `warden check` does, so that a name another file declares is found.

use crate::ast;
use crate::diag::Diagnostic;
use crate::document::Target;
use crate::span::{FileId, SourceMap, Span};
use lsp_types::{Position, Range, Uri};
use std::path::{Path, PathBuf};
use std::str::FromStr;

pub struct Doc {
    /// The name diagnostics use: relative to the workspace root where the file is under it.
    pub name: String,
    pub uri: Uri,
    pub path: Option<PathBuf>,
    pub text: String,
    pub open: bool,
    /// The syntax diagnostics of the file parsed as file `id` (its place in `Workspace::docs`,
    /// its tree in `Workspace::asts`), when parsed since the text or the place last changed.
    parsed: Option<(FileId, Vec<Diagnostic>)>,
    /// Byte offsets where its lines start.
    lines: Vec<usize>,
}

impl Doc {
    fn new(name: String, uri: Uri, path: Option<PathBuf>, text: String) -> Doc {
        let lines = line_starts(&text);
        Doc {
            name,
            uri,
            path,
            text,
            open: false,
            parsed: None,
            lines,
        }
    }

    pub fn set_text(&mut self, text: String) {
        self.lines = line_starts(&text);
        self.text = text;
        self.parsed = None;
    }

    /// The LSP position (UTF-16 columns) of byte `offset`.
    pub fn position(&self, offset: usize) -> Position {
        let offset = offset.min(self.text.len());
        let line = self
            .lines
            .partition_point(|&s| s <= offset)
            .saturating_sub(1);
        let start = self.lines.get(line).copied().unwrap_or(0);
        let column: usize = self
            .text
            .get(start..offset)
            .unwrap_or_default()
            .chars()
            .map(char::len_utf16)
            .sum();
        Position::new(
            u32::try_from(line).unwrap_or(u32::MAX),
            u32::try_from(column).unwrap_or(u32::MAX),
        )
    }

    /// The byte offset of an LSP position, clamped to its line and to the text.
    pub fn offset(&self, position: Position) -> usize {
        let line = position.line as usize;
        let Some(&start) = self.lines.get(line) else {
            return self.text.len();
        };
        let end = self.lines.get(line + 1).copied().unwrap_or(self.text.len());
        let mut units = 0;
        for (i, c) in self.text.get(start..end).unwrap_or_default().char_indices() {
            if units >= position.character as usize || c == '\n' {
                return start + i;
            }
            units += c.len_utf16();
        }
        end
    }

    pub fn range(&self, span: Span) -> Range {
        Range::new(self.position(span.start), self.position(span.end))
    }
}

fn line_starts(text: &str) -> Vec<usize> {
    std::iter::once(0)
        .chain(text.match_indices('\n').map(|(i, _)| i + 1))
        .collect()
}

/// The last analysis: the program's diagnostics, and its IR where it had no error.
pub struct Analysis {
    pub diagnostics: Vec<Diagnostic>,
    pub program: Option<crate::ir::Program>,
}

#[derive(Default)]
pub struct Workspace {
    pub root: Option<PathBuf>,
    /// Sorted by name: a file's id is its place here.
    pub docs: Vec<Doc>,
    /// The syntax tree of each file, by id (empty for a file with a syntax error).
    pub asts: Vec<ast::File>,
    pub analysis: Option<Analysis>,
}

pub fn path_of(uri: &Uri) -> Option<PathBuf> {
    let rest = uri.as_str().strip_prefix("file://")?;
    // `file:///x` and `file://localhost/x` are local; another host is not a path here.
    let rest = rest.strip_prefix("localhost").unwrap_or(rest);
    if !rest.starts_with('/') {
        return None;
    }
    let bytes = rest.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        let hex = |j: usize| bytes.get(j).and_then(|&h| (h as char).to_digit(16));
        match (b, hex(i + 1), hex(i + 2)) {
            (b'%', Some(h), Some(l)) => {
                out.push(u8::try_from(h * 16 + l).unwrap_or(b'?'));
                i += 3;
            }
            _ => {
                out.push(b);
                i += 1;
            }
        }
    }
    Some(PathBuf::from(String::from_utf8(out).ok()?))
}

pub fn uri_of(path: &Path) -> Option<Uri> {
    let mut out = String::from("file://");
    for b in path.to_string_lossy().bytes() {
        if b.is_ascii_alphanumeric() || b"/-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    Uri::from_str(&out).ok()
}

impl Workspace {
    /// Every `.warden` file under `root`, as on disk.
    pub fn open_folder(&mut self, root: PathBuf) {
        let mut docs = Vec::new();
        if let Ok(sources) = crate::load::load(std::slice::from_ref(&root)) {
            let base = sources
                .root()
                .map(Path::to_path_buf)
                .unwrap_or(root.clone());
            for id in 0..sources.len() {
                let path = base.join(sources.name(id));
                if let Some(uri) = uri_of(&path) {
                    docs.push(Doc::new(
                        self.name_of(&path, &root),
                        uri,
                        Some(path),
                        sources.text(id).to_string(),
                    ));
                }
            }
        }
        self.root = Some(root);
        self.docs = docs;
        self.sort();
    }

    fn name_of(&self, path: &Path, root: &Path) -> String {
        path.strip_prefix(root)
            .map(|p| p.to_string_lossy().replace('\\', "/"))
            .unwrap_or_else(|_| path.to_string_lossy().into_owned())
    }

    fn sort(&mut self) {
        self.docs.sort_by(|a, b| a.name.cmp(&b.name));
        for d in &mut self.docs {
            d.parsed = None;
        }
    }

    pub fn find(&self, uri: &Uri) -> Option<usize> {
        self.docs.iter().position(|d| &d.uri == uri)
    }

    pub fn doc(&self, uri: &Uri) -> Option<&Doc> {
        self.find(uri).and_then(|i| self.docs.get(i))
    }

    /// The editor opened or changed a file: its text is the editor's from now on.
    pub fn set(&mut self, uri: Uri, text: String) {
        if let Some(doc) = self.find(&uri).and_then(|i| self.docs.get_mut(i)) {
            doc.set_text(text);
            doc.open = true;
            return;
        }
        let path = path_of(&uri);
        let name = match (&path, &self.root) {
            (Some(p), Some(root)) => self.name_of(p, root),
            (Some(p), None) => p.to_string_lossy().into_owned(),
            (None, _) => uri.as_str().to_string(),
        };
        let mut doc = Doc::new(name, uri, path, text);
        doc.open = true;
        self.docs.push(doc);
        self.sort();
    }

    /// The editor closed a file: the file on disk counts again, or nothing if there is none.
    pub fn close(&mut self, uri: &Uri) {
        let Some(i) = self.find(uri) else {
            return;
        };
        let on_disk = self
            .docs
            .get(i)
            .and_then(|d| d.path.as_ref())
            .filter(|p| self.root.as_ref().is_some_and(|r| p.starts_with(r)))
            .and_then(|p| std::fs::read_to_string(p).ok());
        match on_disk {
            Some(text) => {
                if let Some(doc) = self.docs.get_mut(i) {
                    doc.open = false;
                    doc.set_text(text);
                }
            }
            None => {
                self.docs.remove(i);
                self.sort();
            }
        }
    }

    /// A file changed on disk: read again unless the editor has it open.
    pub fn reload(&mut self, uri: &Uri) {
        if self.doc(uri).is_some_and(|d| d.open) {
            return;
        }
        let Some(path) = path_of(uri) else {
            return;
        };
        match std::fs::read_to_string(&path) {
            Ok(text) if path.extension().is_some_and(|e| e == "warden") => {
                match self.find(uri).and_then(|i| self.docs.get_mut(i)) {
                    Some(doc) => doc.set_text(text),
                    None => {
                        self.set(uri.clone(), text);
                        if let Some(doc) = self.find(uri).and_then(|i| self.docs.get_mut(i)) {
                            doc.open = false;
                        }
                    }
                }
            }
            _ => {
                if let Some(i) = self.find(uri) {
                    self.docs.remove(i);
                    self.sort();
                }
            }
        }
    }

    /// Parses what changed and checks the whole program again.
    pub fn analyze(&mut self) {
        self.asts.resize_with(self.docs.len(), ast::File::default);
        for ((id, doc), tree) in self.docs.iter_mut().enumerate().zip(&mut self.asts) {
            if doc.parsed.as_ref().is_none_or(|(at, _)| *at != id) {
                let (file, diags) = crate::parse::parse_file(id, &doc.text);
                *tree = file;
                doc.parsed = Some((id, diags));
            }
        }
        let mut sources = SourceMap::new();
        for doc in &self.docs {
            sources.add(doc.name.clone(), doc.text.clone());
        }
        let mut diagnostics: Vec<Diagnostic> = self
            .docs
            .iter()
            .filter_map(|d| d.parsed.as_ref())
            .flat_map(|(_, d)| d.iter().cloned())
            .collect();
        let mut program = None;
        // As `warden check`: names are checked once every file parses.
        if !diagnostics.iter().any(Diagnostic::is_error) {
            let (p, d) = diagnose(&sources, &self.asts, &Target::DEFAULT);
            diagnostics.extend(d);
            program = p;
        }
        let previous = self.analysis.take();
        // Hover and completion keep answering from the last program that checked while a file
        // is being edited into shape.
        let program = program.or(previous.and_then(|a| a.program));
        self.analysis = Some(Analysis {
            diagnostics,
            program,
        });
    }
}

/// What `warden check` without an output says of parsed files, short of lowering: the checks,
/// what the targets cannot say, and the `accept` lines applied; with the program when it has no
/// error.
fn diagnose(
    sources: &SourceMap,
    files: &[ast::File],
    targets: &[Target],
) -> (Option<crate::ir::Program>, Vec<Diagnostic>) {
    let (program, mut diagnostics) = crate::check::check(sources, files);
    if let Some(program) = &program {
        diagnostics.extend(crate::lower::limits(program, targets));
    }
    crate::diag::sort(&mut diagnostics);
    diagnostics.dedup();
    crate::check::accepts::apply(&crate::check::accepts::collect(files), &mut diagnostics);
    (program, diagnostics)
}
