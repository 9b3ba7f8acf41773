//! `warden fmt [--check] PATH…`: every `.warden` file of the paths in the canonical layout
//! (`warden::format::source`), comments kept; `warden fmt -` formats standard input to standard
//! output, for editors that pipe a buffer through a formatter.
//!
//! A file is rewritten only if its layout changes, through a temporary file beside it renamed over
//! it, so a file is always either the old text or the new one, with its permissions kept. A file
//! that does not parse is reported and left alone; the others are still formatted.

use crate::report::Reporter;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use warden::diag::Diagnostic;
use warden::span::SourceMap;

pub fn run(paths: &[PathBuf], check: bool, reporter: &Reporter) -> ExitCode {
    if paths.len() == 1 && paths.first().is_some_and(|p| p == Path::new("-")) {
        return stdin(reporter);
    }
    let sources = match warden::load::load(paths) {
        Ok(s) => s,
        Err(diags) => {
            reporter.report(&SourceMap::new(), &diags);
            return ExitCode::from(2);
        }
    };
    let root = sources.root().map(Path::to_path_buf).unwrap_or_default();
    let ids: Vec<usize> = (0..sources.len()).collect();
    let formatted = warden::format::source::format_all(&sources);
    let mut diags: Vec<Diagnostic> = Vec::new();
    let mut changed = Vec::new();
    for (id, result) in ids.iter().zip(formatted) {
        match result {
            Err(d) => diags.extend(d),
            Ok(text) if text != sources.text(*id) => changed.push((*id, text)),
            Ok(_) => {}
        }
    }
    reporter.report(&sources, &diags);
    let mut failed = !diags.is_empty();
    for (id, text) in &changed {
        let name = sources.name(*id);
        if check {
            eprintln!("warden fmt: `{name}` is not formatted");
            failed = true;
        } else if let Err(e) = replace(&root.join(name), text) {
            eprintln!("error: cannot write `{name}`: {e}");
            failed = true;
        }
    }
    if check && !changed.is_empty() {
        eprintln!(
            "warden fmt: {} of {} files would be reformatted (run `warden fmt` without `--check`)",
            changed.len(),
            sources.len()
        );
    }
    if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

/// Formats standard input to standard output; on an error, prints nothing to standard output.
fn stdin(reporter: &Reporter) -> ExitCode {
    let mut bytes = Vec::new();
    let limit = warden::load::MAX_FILE;
    if let Err(e) = std::io::stdin().take(limit + 1).read_to_end(&mut bytes) {
        eprintln!("error: cannot read standard input: {e}");
        return ExitCode::from(2);
    }
    if u64::try_from(bytes.len()).unwrap_or(u64::MAX) > limit {
        eprintln!(
            "error: standard input is larger than {} MiB",
            warden::load::MAX_FILE >> 20
        );
        return ExitCode::from(2);
    }
    let Ok(text) = String::from_utf8(bytes) else {
        eprintln!("error: standard input is not UTF-8 text");
        return ExitCode::from(2);
    };
    let mut sources = SourceMap::new();
    let id = sources.add("<stdin>".to_string(), text);
    match warden::format::source::format(id, sources.text(id)) {
        Ok(out) => {
            let mut stdout = std::io::stdout().lock();
            match stdout
                .write_all(out.as_bytes())
                .and_then(|()| stdout.flush())
            {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("error: cannot write to standard output: {e}");
                    ExitCode::from(1)
                }
            }
        }
        Err(diags) => {
            reporter.report(&sources, &diags);
            ExitCode::from(1)
        }
    }
}

/// Replaces `path`'s content with `text` atomically, keeping its permissions.
fn replace(path: &Path, text: &str) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let temp = dir.join(format!(".{name}.warden-fmt-{}", std::process::id()));
    let write = || -> std::io::Result<()> {
        // Created, never opened: a file or link already at that name is not written through.
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&temp)?;
        file.write_all(text.as_bytes())?;
        file.set_permissions(std::fs::metadata(path)?.permissions())?;
        file.sync_all()?;
        std::fs::rename(&temp, path)
    };
    let result = write();
    // Only a temporary this run created is removed (not one `create_new` refused).
    if let Err(e) = &result
        && e.kind() != std::io::ErrorKind::AlreadyExists
    {
        let _ = std::fs::remove_file(&temp);
    }
    result
}
