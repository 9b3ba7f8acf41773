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

/// `REV:PATH` on the command line: the program at `PATH` (a directory or a `.warden` file, as
/// for `load`) as git revision `REV` of the repository of the working directory holds it, named
/// as `load` would name the files of a checkout of it. Only when `REV:PATH` does not name a file
/// or directory that exists.
pub fn git_spec(arg: &str) -> Option<(&str, &str)> {
    if Path::new(arg).exists() {
        return None;
    }
    let (rev, path) = arg.split_once(':')?;
    // A revision is never an option of git's.
    (!rev.is_empty() && !rev.starts_with('-'))
        .then_some((rev, if path.is_empty() { "." } else { path }))
}

fn git(args: &[&str]) -> Result<Vec<u8>, String> {
    let out = std::process::Command::new("git")
        .args(args)
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| format!("cannot run git: {e}"))?;
    if out.status.success() {
        Ok(out.stdout)
    } else {
        Err(String::from_utf8_lossy(&out.stderr).trim().to_string())
    }
}

/// The program at `path` in git revision `rev` (see `git_spec`).
pub fn load_git(rev: &str, path: &str) -> Result<SourceMap, Vec<Diagnostic>> {
    let fail = |message: String| {
        vec![Diagnostic::error("E0801", message).help("name a revision git knows (`main`, `HEAD~1`, a commit) and a path inside the repository")]
    };
    let prefix = git(&["rev-parse", "--show-prefix"])
        .map_err(|e| fail(format!("not in a git repository: {e}")))?;
    let prefix = String::from_utf8_lossy(&prefix).trim().to_string();
    // The path as the repository names it, `.` and `..` resolved.
    let mut parts: Vec<&str> = prefix.split('/').filter(|p| !p.is_empty()).collect();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    let full = parts.join("/");
    let listing = git(&[
        "ls-tree",
        "-r",
        "-z",
        "--full-tree",
        rev,
        "--",
        if full.is_empty() { "." } else { &full },
    ])
    .map_err(|e| fail(format!("cannot list `{path}` at `{rev}`: {e}")))?;
    let mut files: Vec<(String, String)> = Vec::new();
    for entry in listing.split(|b| *b == 0).filter(|e| !e.is_empty()) {
        let entry = String::from_utf8_lossy(entry);
        let Some((meta, name)) = entry.split_once('\t') else {
            continue;
        };
        let mut meta = meta.split(' ');
        let (_, kind, object) = (meta.next(), meta.next(), meta.next());
        if kind != Some("blob") || !name.ends_with(".warden") {
            continue;
        }
        let relative = if name == full {
            name.rsplit('/').next().unwrap_or(name).to_string()
        } else if full.is_empty() {
            name.to_string()
        } else {
            match name.strip_prefix(&format!("{full}/")) {
                Some(rest) => rest.to_string(),
                None => continue,
            }
        };
        files.push((relative, object.unwrap_or_default().to_string()));
    }
    if files.is_empty() {
        // From a subdirectory the path is the working directory's, which a user may not expect
        // of a path after `REV:`: the repository's own name for it says where it looked.
        let rooted = if full == path.trim_matches('/') {
            String::new()
        } else {
            format!(
                " (`{}` in the repository)",
                if full.is_empty() { "." } else { &full }
            )
        };
        return Err(fail(format!(
            "`{path}`{rooted} at `{rev}` holds no `.warden` file"
        )));
    }
    files.sort();
    let mut sources = SourceMap::new();
    let mut diags = Vec::new();
    for (name, object) in files {
        let size = git(&["cat-file", "-s", &object])
            .ok()
            .and_then(|s| String::from_utf8_lossy(&s).trim().parse::<u64>().ok())
            .unwrap_or(u64::MAX);
        if size > MAX_FILE {
            diags.push(Diagnostic::error(
                "E0801",
                format!("`{name}` at `{rev}` is larger than {} MiB", MAX_FILE >> 20),
            ));
            continue;
        }
        match git(&["cat-file", "blob", &object]).map(String::from_utf8) {
            Ok(Ok(text)) => {
                let text = text
                    .strip_prefix('\u{feff}')
                    .map(str::to_string)
                    .unwrap_or(text);
                sources.add(name, text);
            }
            Ok(Err(_)) => diags.push(Diagnostic::error(
                "E0801",
                format!("`{name}` at `{rev}` is not UTF-8 text"),
            )),
            Err(e) => diags.push(Diagnostic::error(
                "E0801",
                format!("cannot read `{name}` at `{rev}`: {e}"),
            )),
        }
    }
    if diags.is_empty() {
        Ok(sources)
    } else {
        Err(diags)
    }
}
