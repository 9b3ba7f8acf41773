//! Emitting: the output directory, written atomically, and the comparison behind `warden check`.
//!
//! The output directory belongs to warden: `warden-manifest.json` lists every file warden wrote
//! there, with its sha256 and the sources it came from. A build writes the whole new tree into a
//! staging directory beside the output, then swaps the two with one `renameat2(RENAME_EXCHANGE)`,
//! so the output is at every moment either the complete old tree or the complete new one. Files
//! that warden did not write make the build fail before anything is touched.

mod check;
mod existing;
mod lock;
mod write;

pub use check::check;
pub use write::{BeforeWrite, build};

use crate::diag::Diagnostic;
use crate::document::{Document, Layout, VERSION};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::fs;
use std::io::{self, Write};

pub const MANIFEST: &str = "warden-manifest.json";

#[derive(serde::Serialize, serde::Deserialize, PartialEq, Eq, Debug)]
pub struct Manifest {
    pub generator: String,
    pub files: BTreeMap<String, ManifestEntry>,
}

#[derive(serde::Serialize, serde::Deserialize, PartialEq, Eq, Debug)]
pub struct ManifestEntry {
    pub sha256: String,
    pub sources: Vec<String>,
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

fn hex(digest: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(digest.len() * 2);
    for b in digest {
        for nibble in [b >> 4, b & 0xf] {
            out.push(char::from(
                DIGITS.get(usize::from(nibble)).copied().unwrap_or(b'0'),
            ));
        }
    }
    out
}

/// A file of the output: one document's text, or in a bundle each document's after a `---` line.
///
/// Kept in pieces rather than joined: the bundles of a large program are tens of MiB each, and
/// joining them made a second copy of the whole output, most of its cost the kernel zeroing the
/// fresh pages.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Content {
    parts: Vec<String>,
    bundle: bool,
}

impl Content {
    fn one(text: String) -> Content {
        Content {
            parts: vec![text],
            bundle: false,
        }
    }

    fn pieces(&self) -> impl Iterator<Item = &[u8]> {
        self.parts.iter().flat_map(move |p| {
            let separator: &[u8] = if self.bundle { b"---\n" } else { b"" };
            [separator, p.as_bytes()]
        })
    }

    /// The file's bytes, joined.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.pieces().flatten().copied().collect()
    }

    fn sha256_hex(&self) -> String {
        let mut hash = Sha256::new();
        for piece in self.pieces() {
            hash.update(piece);
        }
        hex(&hash.finalize())
    }

    fn write_to(&self, file: &fs::File) -> io::Result<()> {
        let mut out = io::BufWriter::with_capacity(1 << 16, file);
        for piece in self.pieces() {
            out.write_all(piece)?;
        }
        out.flush()
    }

    /// The file's length in bytes.
    fn len(&self) -> u64 {
        self.pieces().map(|p| p.len() as u64).sum()
    }

    /// Whether `reader` yields exactly this content. Read in blocks, not whole: a bundle is tens
    /// of MiB, and a rebuild or `warden check` compares every file, on both cores for a rebuild.
    /// A block is no larger than the content and one byte more, which shows a longer file.
    fn same_as(&self, mut reader: impl io::Read) -> io::Result<bool> {
        let size = self.len().saturating_add(1).min(1 << 16);
        let mut block = vec![0u8; usize::try_from(size).unwrap_or(1 << 16)];
        let mut pieces = self.pieces();
        let mut expected: &[u8] = &[];
        loop {
            let n = match reader.read(&mut block) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            let mut got = block.get(..n).unwrap_or_default();
            while !got.is_empty() {
                while expected.is_empty() {
                    match pieces.next() {
                        Some(piece) => expected = piece,
                        None => return Ok(false),
                    }
                }
                let k = got.len().min(expected.len());
                let (a, rest) = got.split_at(k);
                let (b, more) = expected.split_at(k);
                if a != b {
                    return Ok(false);
                }
                (got, expected) = (rest, more);
            }
        }
        Ok(expected.is_empty() && pieces.all(<[u8]>::is_empty))
    }
}

/// Every file of the output directory, the manifest last, as relative path and content.
///
/// In the bundle layout the documents of a file follow each other in path order, each after a
/// `---` line; every document was checked on its own and starts at column 0 with its
/// `apiVersion`, so joining them cannot merge two into one.
///
/// It takes the documents by value: each text moves into its file rather than being copied, which
/// keeps a large program's output in memory once, not twice.
pub fn plan(docs: Vec<Document>, layout: Layout) -> Vec<(String, Content)> {
    plan_and_manifest(docs, layout).0
}

/// [`plan`], and its manifest as data (for the audit report, which would otherwise read back the
/// JSON just written).
pub fn plan_and_manifest(
    docs: Vec<Document>,
    layout: Layout,
) -> (Vec<(String, Content)>, Manifest) {
    // Each file's texts, moved in as they come, and its sources; and whether its first document
    // is at the file's own path. Sources are only gathered here and put in order per file on
    // every core below, rather than kept in order as they come on one thread.
    let mut by_file: BTreeMap<String, (Vec<String>, Vec<String>, bool)> = BTreeMap::new();
    for d in docs {
        let file = layout.file_of(&d.path, d.schema).into_owned();
        let own_path = d.path == file;
        let (parts, sources, first_at_own_path) = by_file.entry(file).or_default();
        if parts.is_empty() {
            *first_at_own_path = own_path;
        }
        parts.push(d.text);
        // Neighbouring documents mostly come from one source file: kept once, not once each.
        for source in d.sources {
            if sources.last() != Some(&source) {
                sources.push(source);
            }
        }
    }
    let grouped: Vec<(String, Content, Vec<String>)> = by_file
        .into_iter()
        .map(|(file, (parts, sources, first_at_own_path))| {
            // A document alone at its own path (the tree layout, or a seccomp profile) is the
            // file; anything else is a bundle of documents.
            let bundle = !(first_at_own_path && parts.len() == 1);
            (file, Content { parts, bundle }, sources)
        })
        .collect();
    let entries = crate::parallel::map_each(&grouped, |(_, content, sources)| {
        let mut names: Vec<&str> = sources.iter().map(String::as_str).collect();
        names.sort_unstable();
        names.dedup();
        ManifestEntry {
            sha256: content.sha256_hex(),
            sources: names.into_iter().map(str::to_string).collect(),
        }
    });
    let manifest = Manifest {
        generator: format!("warden {VERSION}"),
        files: grouped
            .iter()
            .zip(entries)
            .map(|((path, _, _), entry)| (path.clone(), entry))
            .collect(),
    };
    let mut files: Vec<(String, Content)> = grouped
        .into_iter()
        .map(|(path, content, _)| (path, content))
        .collect();
    let mut text = serde_json::to_string_pretty(&manifest).unwrap_or_default();
    text.push('\n');
    files.push((MANIFEST.to_string(), Content::one(text)));
    (files, manifest)
}

fn error(code: &'static str, message: String) -> Diagnostic {
    Diagnostic::error(code, message)
}
