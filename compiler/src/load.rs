//! Loading: the paths on the command line to the program's source files.
//!
//! A directory contributes every `.warden` file below it; a file contributes itself. Files are
//! named relative to the deepest directory holding all of them (the program root), with `/`
//! separators, and sorted by that name, so neither the working directory, nor absolute or relative
//! paths, nor the order in which the file system lists them can change the output.

use crate::diag::Diagnostic;
use crate::span::SourceMap;
use std::fs;
use std::path::{Path, PathBuf};

pub fn load(paths: &[PathBuf]) -> Result<SourceMap, Vec<Diagnostic>> {
    let mut files: Vec<PathBuf> = Vec::new();
    let mut roots: Vec<PathBuf> = Vec::new();
    let mut diags = Vec::new();
    for path in paths {
        let abs = match fs::canonicalize(path) {
            Ok(p) => p,
            Err(e) => {
                diags.push(Diagnostic::error(
                    "E0801",
                    format!("cannot read `{}`: {e}", path.display()),
                ));
                continue;
            }
        };
        if abs.is_dir() {
            let before = files.len();
            collect(&abs, &mut files, &mut diags);
            if files.len() == before {
                diags.push(
                    Diagnostic::error(
                        "E0801",
                        format!("`{}` holds no `.warden` file", path.display()),
                    )
                    .help("a program is a directory of `.warden` files"),
                );
            }
            roots.push(abs);
        } else {
            roots.push(abs.parent().map(Path::to_path_buf).unwrap_or_default());
            files.push(abs);
        }
    }
    if !diags.is_empty() {
        return Err(diags);
    }
    let root = common_ancestor(&roots);
    let mut named: Vec<(String, PathBuf)> = files
        .into_iter()
        .map(|f| {
            let rel = f.strip_prefix(&root).unwrap_or(&f);
            let name = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect::<Vec<_>>()
                .join("/");
            (name, f)
        })
        .collect();
    named.sort();
    named.dedup_by(|a, b| a.0 == b.0);
    // Read on every core (a program of a thousand files spends milliseconds in system calls);
    // the results keep the names' order.
    let texts = crate::parallel::map(&named, |(_, path)| {
        read(path).map(|bytes| {
            String::from_utf8(bytes).map(|text| {
                // A byte-order mark is not part of the program.
                text.strip_prefix('\u{feff}')
                    .map(str::to_string)
                    .unwrap_or(text)
            })
        })
    });
    let mut sources = SourceMap::new();
    sources.set_root(root.clone());
    for ((name, _), text) in named.into_iter().zip(texts) {
        match text {
            Ok(Ok(text)) => {
                sources.add(name, text);
            }
            Ok(Err(_)) => diags.push(Diagnostic::error(
                "E0801",
                format!("`{name}` is not UTF-8 text"),
            )),
            Err(Unreadable::Io(e)) => diags.push(Diagnostic::error(
                "E0801",
                format!("cannot read `{name}`: {e}"),
            )),
            Err(Unreadable::NotAFile) => diags.push(
                Diagnostic::error("E0801", format!("`{name}` is not a regular file"))
                    .note("a device, a pipe or a socket could be read forever"),
            ),
            Err(Unreadable::TooLarge) => diags.push(
                Diagnostic::error(
                    "E0801",
                    format!("`{name}` is larger than {} MiB", MAX_FILE >> 20),
                )
                .help("split the program into several files"),
            ),
        }
    }
    if diags.is_empty() {
        Ok(sources)
    } else {
        Err(diags)
    }
}

/// The largest source file warden reads: ten times the largest program seen in practice, and a
/// bound on what a hostile file can make warden read and hold.
pub const MAX_FILE: u64 = 32 << 20;

enum Unreadable {
    Io(std::io::Error),
    NotAFile,
    TooLarge,
}

fn read(path: &Path) -> Result<Vec<u8>, Unreadable> {
    use std::io::Read as _;
    // A `.warden` symlink may point at /dev/zero or a pipe: only regular files are read.
    let meta = fs::metadata(path).map_err(Unreadable::Io)?;
    if !meta.is_file() {
        return Err(Unreadable::NotAFile);
    }
    if meta.len() > MAX_FILE {
        return Err(Unreadable::TooLarge);
    }
    let mut bytes = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
    fs::File::open(path)
        .and_then(|f| f.take(MAX_FILE + 1).read_to_end(&mut bytes))
        .map_err(Unreadable::Io)?;
    if bytes.len() as u64 > MAX_FILE {
        return Err(Unreadable::TooLarge);
    }
    Ok(bytes)
}

fn collect(dir: &Path, files: &mut Vec<PathBuf>, diags: &mut Vec<Diagnostic>) {
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) => {
            diags.push(Diagnostic::error(
                "E0801",
                format!("cannot read `{}`: {e}", dir.display()),
            ));
            return;
        }
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let Ok(ft) = entry.file_type() else { continue };
        let hidden = entry.file_name().to_string_lossy().starts_with('.');
        // Symlinked directories are not followed: they could loop or leave the program root.
        if ft.is_dir() && !hidden {
            collect(&path, files, diags);
        } else if (ft.is_file() || ft.is_symlink())
            && path.extension().is_some_and(|e| e == "warden")
            && !hidden
        {
            files.push(path);
        }
    }
}

fn common_ancestor(paths: &[PathBuf]) -> PathBuf {
    let Some(first) = paths.first() else {
        return PathBuf::new();
    };
    let mut root = first.clone();
    for p in paths.iter().skip(1) {
        while !p.starts_with(&root) {
            if !root.pop() {
                return PathBuf::new();
            }
        }
    }
    root
}
