//! The `warden` command line.
#![forbid(unsafe_code)]

use clap::{Parser, Subcommand, ValueEnum};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use warden::diag::{self, Diagnostic};
use warden::document::{Layout, Target};
use warden::span::SourceMap;

// A compilation allocates many small strings, vectors and map nodes and frees most of them
// together, which mimalloc's thread-local free lists do cheaply. Built without transparent huge
// pages (`no_thp`), whose fresh pages the kernel clears whole, and as version 2 (feature `v2`),
// whose peak memory is lower than version 3's for the same work (compiler/benches/HISTORY.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(name = "warden", version, about = "A compiler for security as code")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Args)]
struct CompileArgs {
    /// `.warden` files, or directories of them; together they are one program
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    /// The output directory
    #[arg(long)]
    out: PathBuf,
    /// Targets to generate (default: netpol, seccomp, vap; `cilium` instead of `netpol` on Cilium, `kyverno` or `gatekeeper` beside or instead of `vap`)
    #[arg(long, value_enum, value_delimiter = ',')]
    target: Vec<TargetArg>,
    /// How the output directory is laid out: a file per document, or a file per target
    #[arg(long, value_enum, default_value_t = LayoutArg::Tree)]
    layout: LayoutArg,
    /// How diagnostics are printed
    #[arg(long, value_enum, default_value_t = Format::Human)]
    format: Format,
    /// Colour in human diagnostics
    #[arg(long, value_enum, default_value_t = Color::Auto)]
    color: Color,
}

#[derive(Subcommand)]
enum Command {
    /// Compile the program and write the output directory atomically
    Build(CompileArgs),
    /// Compile without writing; fail if the output directory is not what `build` would write
    Check(CompileArgs),
    /// Say whether a connection is allowed and why: `warden explain -p DIR 'frontend -> cart on grpc'`;
    /// or what a service's seccomp profile does with a call: `warden explain -p DIR 'web syscall clone'`
    Explain {
        /// The program (`.warden` files or directories)
        #[arg(long = "program", short = 'p', default_value = ".")]
        program: Vec<PathBuf>,
        /// How the answer is printed
        #[arg(long, value_enum, default_value_t = Format::Human)]
        format: Format,
        /// The connection as an `expect` line writes it, `FROM -> TO [on PORT]` (quote the `->`
        /// for the shell), or `SERVICE syscall NAME`; options may come before or after it
        #[arg(required = true, num_args = 1..)]
        query: Vec<String>,
    },
    /// Draw who may talk to whom, as Graphviz DOT or Mermaid
    Graph {
        /// The program (`.warden` files or directories)
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        #[arg(long, value_enum, default_value_t = GraphFormat::Dot)]
        format: GraphFormat,
    },
    /// Explain a diagnostic code, e.g. `warden explain-code E0102`
    ExplainCode { code: String },
}

/// `--target`: the library's `Target`, as the command line spells it.
#[derive(Clone, Copy, ValueEnum)]
enum TargetArg {
    Netpol,
    Cilium,
    Seccomp,
    Vap,
    Kyverno,
    Gatekeeper,
    Spo,
}

impl From<TargetArg> for Target {
    fn from(t: TargetArg) -> Target {
        match t {
            TargetArg::Netpol => Target::Netpol,
            TargetArg::Cilium => Target::Cilium,
            TargetArg::Seccomp => Target::Seccomp,
            TargetArg::Vap => Target::Vap,
            TargetArg::Kyverno => Target::Kyverno,
            TargetArg::Gatekeeper => Target::Gatekeeper,
            TargetArg::Spo => Target::Spo,
        }
    }
}

/// `--layout`: the library's `Layout`, as the command line spells it.
#[derive(Clone, Copy, ValueEnum)]
enum LayoutArg {
    /// One file per document: `netpol/NAMESPACE/NAME.yaml`, `seccomp/NAMESPACE/SERVICE.json`, …
    Tree,
    /// One multi-document YAML file per target (`netpol.yaml`, `vap.yaml`, …); seccomp profiles
    /// stay one file per service, which is how the container runtime reads them.
    Bundle,
}

impl From<LayoutArg> for Layout {
    fn from(l: LayoutArg) -> Layout {
        match l {
            LayoutArg::Tree => Layout::Tree,
            LayoutArg::Bundle => Layout::Bundle,
        }
    }
}

/// `graph --format`: the library's `graph::Format`, as the command line spells it.
#[derive(Clone, Copy, ValueEnum)]
enum GraphFormat {
    Dot,
    Mermaid,
}

impl From<GraphFormat> for warden::graph::Format {
    fn from(f: GraphFormat) -> Self {
        match f {
            GraphFormat::Dot => warden::graph::Format::Dot,
            GraphFormat::Mermaid => warden::graph::Format::Mermaid,
        }
    }
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    Human,
    Json,
}

#[derive(Clone, Copy, ValueEnum)]
enum Color {
    Auto,
    Always,
    Never,
}

/// Marks a word of `explain`'s question that starts with `->`, which clap would read as an
/// option: a question's words never start with `-` otherwise, and options may come after it.
const ARROW: &str = "\u{0}->";

/// The command line, with each word of `explain`'s question that starts with `->` marked.
fn arguments() -> Vec<std::ffi::OsString> {
    let mut args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let explaining = args
        .iter()
        .skip(1)
        .find(|a| !a.to_string_lossy().starts_with('-'))
        .is_some_and(|a| a == "explain");
    if explaining {
        for arg in args.iter_mut().skip(2) {
            if let Some(rest) = arg.to_str().and_then(|a| a.strip_prefix("->")) {
                *arg = format!("{ARROW}{rest}").into();
            }
        }
    }
    args
}

fn main() -> ExitCode {
    let cli = Cli::parse_from(arguments());
    match cli.command {
        Command::Build(args) => run(&args, true),
        Command::Check(args) => run(&args, false),
        Command::Explain {
            query,
            program,
            format,
        } => explain(&query.join(" ").replace(ARROW, "->"), &program, format),
        Command::Graph { paths, format } => graph(&paths, format.into()),
        Command::ExplainCode { code } => match diag::codes::explain(&code) {
            Some(text) => {
                print!("{text}");
                ExitCode::SUCCESS
            }
            None => {
                eprintln!("error: no diagnostic has the code `{code}`");
                ExitCode::from(2)
            }
        },
    }
}

fn graph(paths: &[PathBuf], format: warden::graph::Format) -> ExitCode {
    let sources = match warden::load::load(paths) {
        Ok(s) => s,
        Err(diags) => {
            eprint!("{}", diag::render::human(&SourceMap::new(), &diags));
            return ExitCode::from(2);
        }
    };
    // No target: the graph is the program's, whatever it is built for.
    let compiled = warden::compile(sources, &[]);
    match &compiled.program {
        Some(program) if compiled.documents.is_some() => {
            print!("{}", warden::graph::render(program, format));
            ExitCode::SUCCESS
        }
        _ => {
            eprint!(
                "{}",
                diag::render::human(&compiled.sources, &compiled.diagnostics)
            );
            ExitCode::from(1)
        }
    }
}

fn explain(query: &str, program: &[PathBuf], format: Format) -> ExitCode {
    let sources = match warden::load::load(program) {
        Ok(s) => s,
        Err(diags) => {
            eprint!("{}", diag::render::human(&SourceMap::new(), &diags));
            return ExitCode::from(2);
        }
    };
    let (sources, answer, found) = warden::explain::explain(sources, query);
    match format {
        Format::Json => print!("{}", diag::render::json_lines(&sources, &answer)),
        Format::Human => print!("{}", diag::render::human(&sources, &answer)),
    }
    // For scripts: 0 allowed, 1 denied, 3 allowed in part (or up to the runtime), 2 no answer.
    ExitCode::from(match found {
        warden::explain::Found::Allowed => 0,
        warden::explain::Found::Denied => 1,
        warden::explain::Found::Problem => 2,
        warden::explain::Found::Partly => 3,
    })
}

fn color(args: &CompileArgs) -> bool {
    match args.color {
        Color::Always => true,
        Color::Never => false,
        Color::Auto => std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none(),
    }
}

fn report(sources: &SourceMap, diags: &[Diagnostic], args: &CompileArgs) {
    match rendered(sources, diags, args) {
        Some(text) => print_rendered(&text, args),
        None => diag::render::to_stderr_in_color(sources, diags),
    }
}

/// What `report` prints for `diags`, as text; `None` in colour, which is written as it is
/// rendered.
fn rendered(sources: &SourceMap, diags: &[Diagnostic], args: &CompileArgs) -> Option<String> {
    match args.format {
        Format::Json => Some(diag::render::json_lines(sources, diags)),
        Format::Human if !color(args) => Some(diag::render::human(sources, diags)),
        Format::Human => None,
    }
}

/// Prints what `rendered` made: JSON lines on standard output, text on standard error.
fn print_rendered(text: &str, args: &CompileArgs) {
    match args.format {
        Format::Json => print!("{text}"),
        Format::Human => eprint!("{text}"),
    }
}

fn run(args: &CompileArgs, write: bool) -> ExitCode {
    let sources = match warden::load::load(&args.paths) {
        Ok(s) => s,
        Err(diags) => {
            report(&SourceMap::new(), &diags, args);
            return ExitCode::from(2);
        }
    };
    let targets: Vec<Target> = if args.target.is_empty() {
        Target::DEFAULT.to_vec()
    } else {
        let mut t: Vec<Target> = args.target.iter().map(|&t| t.into()).collect();
        t.sort();
        t.dedup();
        t
    };
    let mut compiled = warden::compile_for(sources, &targets, Layout::from(args.layout));
    let Some(docs) = compiled.documents.take() else {
        report(&compiled.sources, &compiled.diagnostics, args);
        return ExitCode::from(1);
    };
    // The program's own diagnostics (thousands of warnings, in a large program) are rendered while
    // the output is hashed and written, on what that leaves of the cores; the writing's own are
    // rendered after it, and printed after them, as one report.
    let (files, outcome, early) = std::thread::scope(|scope| {
        // No thread for nothing to render: a clean program, the pre-commit case.
        let early = if compiled.diagnostics.is_empty() {
            None
        } else {
            std::thread::Builder::new()
                .spawn_scoped(scope, || {
                    rendered(&compiled.sources, &compiled.diagnostics, args)
                })
                .ok()
        };
        let files = warden::emit::plan(docs, Layout::from(args.layout));
        let outcome = if write {
            warden::emit::build(&args.out, &files, &|_| Ok(()))
        } else {
            let stale = warden::emit::check(&args.out, &files);
            if stale.is_empty() { Ok(()) } else { Err(stale) }
        };
        let early = early.and_then(|thread| thread.join().ok()).flatten();
        (files, outcome, early)
    });
    let failed = outcome.is_err();
    // Each diagnostic is rendered on its own, so two reports in a row read as one.
    match early {
        Some(text) => print_rendered(&text, args),
        None => report(&compiled.sources, &compiled.diagnostics, args),
    }
    report(&compiled.sources, &outcome.err().unwrap_or_default(), args);
    if failed {
        return ExitCode::from(1);
    }
    if write && matches!(args.format, Format::Human) {
        eprintln!("wrote {} files to {}", files.len(), args.out.display());
    }
    // The process ends here and the system takes its memory back at once; freeing the program
    // and the output object by object first would only delay the exit.
    std::mem::forget(compiled);
    std::mem::forget(files);
    ExitCode::SUCCESS
}
