//! Source files and byte spans into them.
//!
//! Every AST node and every diagnostic carries a `Span`; the `SourceMap` owns the text so that a
//! span can be turned into `file:line:column` for annotations and JSON diagnostics.

use codespan_reporting::files::SimpleFiles;

/// Index of a file in the `SourceMap`.
pub type FileId = usize;

/// A byte range in one source file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Span {
    pub file: FileId,
    pub start: usize,
    pub end: usize,
}

impl Span {
    pub fn new(file: FileId, start: usize, end: usize) -> Self {
        Span { file, start, end }
    }

    pub fn range(&self) -> std::ops::Range<usize> {
        self.start..self.end
    }
}

/// The program's source files, named relative to the program root so that output never depends on
/// the working directory or on absolute paths.
#[derive(Default)]
pub struct SourceMap {
    files: SimpleFiles<String, String>,
    count: usize,
    /// The program root the names are relative to, where the program was read from disk: only
    /// reports that must point at files on disk (SARIF) read it, never a generated document.
    root: Option<std::path::PathBuf>,
}

impl SourceMap {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn add(&mut self, name: String, text: String) -> FileId {
        self.count += 1;
        self.files.add(name, text)
    }

    pub fn len(&self) -> usize {
        self.count
    }

    pub fn set_root(&mut self, root: std::path::PathBuf) {
        self.root = Some(root);
    }

    /// The directory the files were read from, if they were (see `root`).
    pub fn root(&self) -> Option<&std::path::Path> {
        self.root.as_deref()
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    pub fn files(&self) -> &SimpleFiles<String, String> {
        &self.files
    }

    pub fn name(&self, id: FileId) -> &str {
        self.files
            .get(id)
            .map(|f| f.name().as_str())
            .unwrap_or("<unknown>")
    }

    pub fn text(&self, id: FileId) -> &str {
        self.files
            .get(id)
            .map(|f| f.source().as_str())
            .unwrap_or("")
    }

    /// One-based line and column (in characters) of a byte offset.
    pub fn line_col(&self, id: FileId, offset: usize) -> (usize, usize) {
        use codespan_reporting::files::Files;
        let Ok(line) = self.files.line_index(id, offset) else {
            return (1, 1);
        };
        let col = self.files.column_number(id, line, offset).unwrap_or(1);
        (line + 1, col)
    }

    /// `file:line` of a span, as written into the annotations of generated objects: the column is
    /// not written, so its characters are not counted (every generated object has annotations).
    pub fn location(&self, span: Span) -> String {
        let mut out = String::new();
        self.push_location(&mut out, span);
        out
    }

    /// One-based line of a span's start.
    pub fn line(&self, span: Span) -> usize {
        use codespan_reporting::files::Files;
        self.files
            .line_index(span.file, span.start)
            .map_or(1, |l| l + 1)
    }

    /// Appends `location(span)`: every policy writes one per flow it holds, and formatting each
    /// into a string of its own was most of the time spent describing where policies come from.
    pub fn push_location(&self, out: &mut String, span: Span) {
        out.push_str(self.name(span.file));
        out.push(':');
        out.push_str(itoa::Buffer::new().format(self.line(span)));
    }
}
