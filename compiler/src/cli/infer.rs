//! `warden infer MANIFESTS… [--out DIR]`: the draft program, printed or written a file per
//! namespace. A manifest that cannot be read stops it with nothing written; the draft is
//! compiled before it is written, so what `infer` writes builds.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use warden::diag;
use warden::infer::HEADER;

use crate::report::{Color, Format, Reporter};
use clap::Subcommand;

pub fn run(
    paths: &[PathBuf],
    options: &warden::infer::Options,
    out: Option<&Path>,
    reporter: &Reporter,
) -> ExitCode {
    let manifests = warden::manifests::read(paths);
    if manifests.diagnostics.iter().any(diag::Diagnostic::is_error) {
        eprint!(
            "{}",
            diag::render::human(&manifests.sources, &manifests.diagnostics)
        );
        return ExitCode::from(1);
    }
    let draft = warden::infer::infer(&manifests, options);
    let mut diagnostics = manifests.diagnostics.clone();
    diagnostics.extend(draft.diagnostics);
    // A warning a workload: a human report folds each code after the first few.
    reporter.report(&manifests.sources, &diagnostics);
    let mut skipped: std::collections::BTreeMap<&str, usize> = Default::default();
    for (kind, _) in &manifests.skipped {
        *skipped.entry(kind.as_str()).or_default() += 1;
    }
    if !skipped.is_empty() {
        let kinds: Vec<String> = skipped.iter().map(|(k, n)| format!("{k} ({n})")).collect();
        eprintln!("note: not read, of no use to a draft: {}", kinds.join(", "));
    }
    let target = if options.cilium {
        warden::document::Target::Cilium
    } else {
        warden::document::Target::Netpol
    };
    if builds(&draft.files, target, "the draft", "warden infer").is_none() {
        return ExitCode::from(1);
    }
    let Some(dir) = out else {
        let texts: Vec<&str> = draft.files.iter().map(|(_, t)| t.as_str()).collect();
        print!("{}", texts.join("\n"));
        return ExitCode::SUCCESS;
    };
    match write(dir, &draft.files, HEADER, "warden infer") {
        Ok(()) => {
            eprintln!(
                "drafted {} file(s), {} flow(s) into {}",
                draft.files.len(),
                draft.flows,
                dir.display()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(1)
        }
    }
}

/// `--diff PROGRAM`: what the manifests say that the program does not, printed; exit 1 if
/// anything, 2 if the manifests or the program cannot be read.
pub fn diff(paths: &[PathBuf], options: &warden::infer::Options, program: &Path) -> ExitCode {
    let (manifests, compiled) = match manifests_and_program(paths, program, "compared") {
        Ok(both) => both,
        Err(code) => return code,
    };
    let Some(ir) = compiled.program.as_ref() else {
        return ExitCode::from(2);
    };
    let additions = warden::infer::additions(&manifests, options, ir, &compiled.sources);
    eprint!(
        "{}",
        diag::render::human(&manifests.sources, &additions.diagnostics)
    );
    if additions.count == 0 {
        eprintln!(
            "nothing to add: {} says all the manifests do",
            program.display()
        );
        return ExitCode::SUCCESS;
    }
    print!("{}", additions.text);
    eprintln!("{} line(s) or block(s) to add", additions.count);
    ExitCode::from(1)
}

/// The manifests at `paths` and the program at `program`, compiled without targets: exit 2 (why
/// printed) if the manifests or the program cannot be read or the program does not compile, in
/// which case nothing is `done`. The compilation returned has a program.
pub fn manifests_and_program(
    paths: &[PathBuf],
    program: &Path,
    done: &str,
) -> Result<(warden::manifests::Manifests, warden::Compilation), ExitCode> {
    let manifests = warden::manifests::read(paths);
    if manifests.diagnostics.iter().any(diag::Diagnostic::is_error) {
        eprint!(
            "{}",
            diag::render::human(&manifests.sources, &manifests.diagnostics)
        );
        return Err(ExitCode::from(2));
    }
    let sources = match warden::load::load(&[program.to_path_buf()]) {
        Ok(s) => s,
        Err(diags) => {
            eprint!(
                "{}",
                diag::render::human(&warden::span::SourceMap::new(), &diags)
            );
            return Err(ExitCode::from(2));
        }
    };
    let compiled = warden::compile(sources, &[]);
    if compiled.program.is_none() || compiled.diagnostics.iter().any(diag::Diagnostic::is_error) {
        eprint!(
            "{}",
            diag::render::human(&compiled.sources, &compiled.diagnostics)
        );
        eprintln!(
            "error: {} does not compile; nothing {done}",
            program.display()
        );
        return Err(ExitCode::from(2));
    }
    Ok((manifests, compiled))
}

/// Compiles a program warden made (`what`, by `command`) for `target`. It must build: an error
/// is a defect of the command, shown rather than written, and gives `None`.
pub fn builds(
    files: &[(String, String)],
    target: warden::document::Target,
    what: &str,
    command: &str,
) -> Option<warden::Compilation> {
    let mut program = warden::span::SourceMap::new();
    for (name, text) in files {
        program.add(name.clone(), text.clone());
    }
    let compiled = warden::compile(program, &[target]);
    if compiled.diagnostics.iter().any(diag::Diagnostic::is_error) {
        eprint!(
            "{}",
            diag::render::human(&compiled.sources, &compiled.diagnostics)
        );
        eprintln!("error: {what} does not compile (a defect of `{command}`); nothing written");
        return None;
    }
    Some(compiled)
}

/// Whether the file begins with `header`: only its first bytes are read, a draft being large.
fn drafted(path: &Path, header: &str) -> bool {
    use std::io::Read;
    let mut start = Vec::with_capacity(header.len());
    std::fs::File::open(path)
        .and_then(|f| f.take(header.len() as u64).read_to_end(&mut start))
        .is_ok_and(|_| start == header.as_bytes())
}

/// Writes each file through a temporary one and a rename; refuses, before writing anything, to
/// write over a file that does not begin with `header` (one `command` did not write); removes
/// the files it wrote before that it no longer writes.
pub fn write(
    dir: &Path,
    files: &[(String, String)],
    header: &str,
    command: &str,
) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let foreign: Vec<String> = files
        .iter()
        .map(|(name, _)| dir.join(name))
        .filter(|p| p.exists() && !drafted(p, header))
        .map(|p| p.display().to_string())
        .collect();
    if !foreign.is_empty() {
        return Err(format!(
            "`{command}` writes only over files it wrote, and these are not: {}",
            foreign.join(", ")
        ));
    }
    // Each file is its own write and rename, so they go on every core.
    let written = warden::parallel::map_each(files, |(name, text)| {
        let path = dir.join(name);
        let tmp = dir.join(format!(".{name}.tmp"));
        std::fs::write(&tmp, text).map_err(|e| format!("cannot write {}: {e}", tmp.display()))?;
        std::fs::rename(&tmp, &path).map_err(|e| format!("cannot write {}: {e}", path.display()))
    });
    written.into_iter().collect::<Result<Vec<()>, String>>()?;
    let current: std::collections::BTreeSet<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            let name = e.file_name().to_string_lossy().into_owned();
            if p.is_file() && !current.contains(name.as_str()) && drafted(&p, header) {
                std::fs::remove_file(&p)
                    .map_err(|e| format!("cannot remove {}: {e}", p.display()))?;
            }
        }
    }
    Ok(())
}

/// `warden infer node DIR`: the `syscalls` block on standard output, warnings on standard error;
/// exit 1 on an error (and under `--strict`, on what it would have widened for).
pub fn node(dir: &Path, options: &warden::infer::node::Options, reporter: &Reporter) -> ExitCode {
    let inferred = warden::infer::node::infer(dir, options);
    reporter.report(&inferred.sources, &inferred.diagnostics);
    if inferred.block.is_empty() {
        return ExitCode::from(1);
    }
    print!("{}", inferred.block);
    eprintln!(
        "inferred from {} file(s): {} system call(s) allowed by name",
        inferred.files, inferred.calls
    );
    ExitCode::SUCCESS
}

/// `warden infer dockerfile FILE`: the drafted namespace and service on standard output.
pub fn dockerfile(
    file: &Path,
    context: Option<&Path>,
    service: Option<&str>,
    namespace: &str,
    strict: bool,
    reporter: &Reporter,
) -> ExitCode {
    let context_dir = context
        .map(Path::to_path_buf)
        .or_else(|| file.parent().map(Path::to_path_buf))
        .unwrap_or_default();
    let named = std::fs::canonicalize(&context_dir)
        .ok()
        .and_then(|d| d.file_name().map(|n| n.to_string_lossy().to_string()))
        .unwrap_or_else(|| "app".to_string());
    // Names given or found become names the language accepts: they are written into the program.
    let service = warden::infer::program_name(service.unwrap_or(&named));
    let namespace = &warden::infer::program_name(namespace);
    let options = warden::infer::node::Options {
        strict,
        ..Default::default()
    };
    let draft =
        warden::infer::node::dockerfile::draft(file, context, &service, namespace, &options);
    reporter.report(&draft.sources, &draft.diagnostics);
    if draft.text.is_empty() || draft.diagnostics.iter().any(diag::Diagnostic::is_error) {
        return ExitCode::from(1);
    }
    print!("{}", draft.text);
    ExitCode::SUCCESS
}

/// What `infer` reads besides manifests.
#[derive(Subcommand)]
pub enum From {
    /// A `syscalls` block from a Node.js package (the directory of its package.json): every file
    /// Node would load, the built-in APIs they use, the system calls those make; anything else
    /// kills the process
    Node {
        /// The package's directory
        dir: PathBuf,
        /// The service the block is for (named in its comment)
        #[arg(long)]
        service: Option<String>,
        /// The file `node` runs, relative to DIR, instead of what package.json names (main,
        /// exports, bin); repeatable
        #[arg(long)]
        entry: Vec<PathBuf>,
        /// Refuse what cannot be read statically (a computed `require`, `eval`, a native addon)
        /// instead of widening the block
        #[arg(long)]
        strict: bool,
        /// How warnings are printed
        #[arg(long, value_enum, default_value_t = Format::Human)]
        format: Format,
        /// Colour in human warnings
        #[arg(long, value_enum, default_value_t = Color::Auto)]
        color: Color,
    },
    /// A service from a Dockerfile's final stage: EXPOSE as ports, USER, VOLUME and HEALTHCHECK
    /// as notes, and the `syscalls` block of the Node.js script its ENTRYPOINT/CMD runs
    Dockerfile {
        /// The Dockerfile
        file: PathBuf,
        /// The build context (default: the Dockerfile's directory)
        #[arg(long)]
        context: Option<PathBuf>,
        /// The service's name (default: the context directory's)
        #[arg(long)]
        service: Option<String>,
        /// The service's namespace
        #[arg(long, default_value = "default")]
        namespace: String,
        /// Refuse what cannot be read statically instead of widening the block
        #[arg(long)]
        strict: bool,
        /// How warnings are printed
        #[arg(long, value_enum, default_value_t = Format::Human)]
        format: Format,
        /// Colour in human warnings
        #[arg(long, value_enum, default_value_t = Color::Auto)]
        color: Color,
    },
}
