//! The `warden` command line.
#![forbid(unsafe_code)]

#[path = "cli/admit.rs"]
mod admit;
#[path = "cli/fmt.rs"]
mod fmt;
#[path = "cli/import.rs"]
mod import;
#[path = "cli/infer.rs"]
mod infer;
#[path = "cli/init.rs"]
mod init;
#[path = "cli/report.rs"]
mod report;
#[path = "cli/review.rs"]
mod review;
#[path = "cli/stream.rs"]
mod stream;

use clap::{CommandFactory, Parser, Subcommand, ValueEnum};
use report::{Color, Format, Reporter};
use std::path::{Path, PathBuf};
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
    /// The output directory. `build` needs it (`-`: every Kubernetes document as one YAML stream
    /// on standard output); `check` without it checks the program alone
    #[arg(long)]
    out: Option<PathBuf>,
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
    /// Fail (exit 1, writing nothing) when there is a warning
    #[arg(long)]
    deny_warnings: bool,
    /// The day waivers and exemptions are counted on, YYYY-MM-DD (default: SOURCE_DATE_EPOCH,
    /// else today); the output never depends on it
    #[arg(long, value_parser = parse_date)]
    date: Option<warden::ir::Date>,
}

fn parse_date(text: &str) -> Result<warden::ir::Date, String> {
    warden::ir::Date::parse(text).ok_or_else(|| format!("`{text}` is not a day written YYYY-MM-DD"))
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
        #[arg(long, value_enum, default_value_t = AnswerFormat::Human)]
        format: AnswerFormat,
        /// The connection as an `expect` line writes it, `FROM -> TO [on PORT]` (quote the `->`
        /// for the shell), or `SERVICE syscall NAME`; options may come before or after it
        #[arg(required = true, num_args = 1..)]
        query: Vec<String>,
    },
    /// Report what the program implements, for auditors: each claimed framework's controls with
    /// their evidence, the network, seccomp and admission, waivers by expiry
    Audit {
        /// `.warden` files, or directories of them
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// The committed output directory, compared with what the program generates
        #[arg(long)]
        out: Option<PathBuf>,
        /// The report's format: Markdown, one HTML page, JSON (compiler/schemas/audit.schema.json)
        /// or an OSCAL component definition
        #[arg(long, value_enum, default_value_t = AuditFormat::Md)]
        format: AuditFormat,
        /// Targets the output was generated for (as for `build`)
        #[arg(long, value_enum, value_delimiter = ',')]
        target: Vec<TargetArg>,
        /// How the output directory is laid out (as for `build`)
        #[arg(long, value_enum, default_value_t = LayoutArg::Tree)]
        layout: LayoutArg,
        /// The day of the report, YYYY-MM-DD (default: SOURCE_DATE_EPOCH, else today)
        #[arg(long, value_parser = parse_date)]
        date: Option<warden::ir::Date>,
        /// The program's name in the OSCAL component (default: the first path's name)
        #[arg(long)]
        name: Option<String>,
    },
    /// What a change to a program does: connections, system calls, admission rules and waivers
    /// it adds, removes or relaxes, and claimed controls and expectations that stand
    /// differently. `OLD` and `NEW` are programs (directories or files), or `REV:PATH` for a
    /// program as a git revision holds it: `warden diff main:policy policy`
    Diff {
        old: String,
        new: String,
        /// Markdown (for a pull-request comment) or JSON (compiler/schemas/diff.schema.json)
        #[arg(long, value_enum, default_value_t = DiffFormat::Md)]
        format: DiffFormat,
        /// Exit 1 when the change widens what is allowed, weakens a claimed control or breaks an
        /// expectation that held (for CI; several: `widening,weakening,broken`)
        #[arg(long, value_enum, value_delimiter = ',')]
        fail_on: Vec<FailOn>,
        /// The day waivers are counted on, YYYY-MM-DD (default: SOURCE_DATE_EPOCH, else today)
        #[arg(long, value_parser = parse_date)]
        date: Option<warden::ir::Date>,
        /// The Markdown's size in bytes, to fit a pull-request comment: past it, each table shows
        /// the rows that fit, those marked ⚠ first, and counts the rest; 0 shows every row
        /// [default: 60000]
        #[arg(long, value_name = "BYTES")]
        max_bytes: Option<usize>,
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
    /// Lay out `.warden` files in the canonical layout, every comment kept (`-`: standard input
    /// to standard output)
    Fmt {
        /// `.warden` files or directories of them
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// Write nothing; fail naming each file that is not formatted
        #[arg(long)]
        check: bool,
        #[arg(long, value_enum, default_value_t = Format::Human)]
        format: Format,
    },
    /// Serve the Language Server Protocol on standard input and output, for editors
    Lsp,
    /// Draft a program from Kubernetes manifests: services from workloads, flows from the
    /// addresses they are given, `from world` from what is exposed, each line with its evidence;
    /// `infer node DIR`: a `syscalls` block from a Node.js package's code
    #[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
    Infer {
        #[command(subcommand)]
        from: Option<infer::From>,
        /// Manifest files or directories (YAML or JSON, as kubectl, kustomize or helm write them)
        #[arg(required = true)]
        manifests: Vec<PathBuf>,
        /// The namespace of objects that name none
        #[arg(long, default_value = "default")]
        namespace: String,
        /// The target the program is for: with `cilium`, hosts outside the cluster are named
        #[arg(long, value_enum, default_value_t = InferTarget::Netpol)]
        target: InferTarget,
        /// Write a file per namespace into DIR (default: print the program); only files
        /// `infer` drafted are written over
        #[arg(long, conflicts_with = "diff")]
        out: Option<PathBuf>,
        /// Print only what the manifests say that the program at PROGRAM does not (services,
        /// ports, exposure, flows), rewriting nothing; exit 1 if there is any
        #[arg(long, value_name = "PROGRAM")]
        diff: Option<PathBuf>,
        /// How the draft's warnings are printed (human folds each code after three)
        #[arg(long, value_enum, default_value_t = Format::Human)]
        format: Format,
        /// Colour in human warnings
        #[arg(long, value_enum, default_value_t = Color::Auto)]
        color: Color,
    },
    /// Say what the program's admission would do with each workload of the manifests, before a
    /// cluster does: every rule it fails, the container, the rule's line and the fix
    Admit {
        /// The program (its `.warden` files, or a directory of them)
        #[arg(short, long)]
        program: PathBuf,
        /// Manifest files or directories (YAML or JSON, as kubectl, kustomize or helm write them)
        #[arg(required = true)]
        manifests: Vec<PathBuf>,
        /// The namespace of objects that name none
        #[arg(long, default_value = "default")]
        namespace: String,
        /// Write kustomize patches that make the workloads comply where the fix is mechanical
        /// (a Component: `components: [DIR]`); only files `admit` wrote are written over
        #[arg(long, value_name = "DIR")]
        patch: Option<PathBuf>,
        /// How findings are printed (human folds each warning code after three)
        #[arg(long, value_enum, default_value_t = Format::Human)]
        format: Format,
        /// Colour in human findings
        #[arg(long, value_enum, default_value_t = Color::Auto)]
        color: Color,
    },
    /// Turn what a cluster enforces into a program: `warden import netpol POLICIES…`
    #[command(subcommand)]
    Import(Import),
    /// Write a starter program, a pre-commit configuration and a CI workflow into DIR
    Init {
        /// Where (created if need be; nothing already there is overwritten)
        #[arg(default_value = ".")]
        dir: PathBuf,
    },
    /// Print a shell's completion script: `source <(warden completions bash)`
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Write the manual pages: `warden.1` and one per command, into DIR
    Man {
        /// Where (created if need be)
        #[arg(long)]
        out: PathBuf,
    },
}

#[derive(Subcommand)]
enum Import {
    /// NetworkPolicies as a program with the same meaning: each policy's pods a service, each
    /// rule a `from` or `to` line
    Netpol {
        /// Manifest files or directories holding the NetworkPolicies (other kinds are left out)
        #[arg(required = true)]
        manifests: Vec<PathBuf>,
        /// The namespace of policies that name none
        #[arg(long, default_value = "default")]
        namespace: String,
        /// Write a file per namespace into DIR (default: print the program); only files
        /// `import` wrote are written over
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// A seccomp profile (Docker's or OCI's JSON, an SPO `SeccompProfile`) as a `syscalls` block
    /// with the same rules on x86_64 and aarch64, printed with the warnings a program gives it
    Seccomp {
        /// The profile file
        profile: PathBuf,
        /// The service the block is for (named in its header and its warnings)
        #[arg(long)]
        service: String,
        /// The container's capabilities, which decide a Docker profile's `includes` and
        /// `excludes` (default: Docker's default set; `none` for none)
        #[arg(long, value_delimiter = ',')]
        capabilities: Vec<String>,
        /// Which `SeccompProfile` of the file, where it holds several
        #[arg(long)]
        profile_name: Option<String>,
    },
}

/// `infer --target`: which network target the draft is for.
#[derive(Clone, Copy, ValueEnum)]
enum InferTarget {
    Netpol,
    Cilium,
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
    /// A DaemonSet and ConfigMaps that install the seccomp profiles on every node
    SeccompInstaller,
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
            TargetArg::SeccompInstaller => Target::Installer,
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

/// How `audit` writes its report.
#[derive(Clone, Copy, ValueEnum)]
enum AuditFormat {
    Md,
    Html,
    Json,
    Oscal,
}

/// How `diff` writes what a change does.
#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum DiffFormat {
    Md,
    Json,
}

/// What makes `diff` fail.
#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum FailOn {
    /// Anything newly allowed: a connection, a system call, an admission rule removed or
    /// relaxed, a waiver or exemption added or extended
    Widening,
    /// A claimed control that stands worse: implemented and now waived or missing, waived and
    /// now missing, or no longer claimed
    Weakening,
    /// An expectation that held and now fails, cannot be decided or is gone
    Broken,
}

/// How `explain` prints its answer.
#[derive(Clone, Copy, ValueEnum)]
enum AnswerFormat {
    Human,
    Json,
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
        Command::Diff {
            old,
            new,
            format,
            fail_on,
            date,
            max_bytes,
        } => {
            if max_bytes.is_some() && format == DiffFormat::Json {
                // Ignoring it would let a script believe its JSON was cut to that size.
                eprintln!("error: `--max-bytes` sizes the Markdown; JSON lists every change");
                return ExitCode::from(2);
            }
            let max_bytes = max_bytes.unwrap_or(warden::diff::MAX_BYTES);
            review::diff(
                &old,
                &new,
                format,
                &fail_on,
                date.unwrap_or_else(warden::today),
                (max_bytes > 0).then_some(max_bytes),
            )
        }
        Command::Audit {
            paths,
            out,
            format,
            target,
            layout,
            date,
            name,
        } => review::audit(&review::AuditArgs {
            paths,
            out,
            format,
            targets: targets_of(&target),
            layout: layout.into(),
            today: date.unwrap_or_else(warden::today),
            name,
        }),
        Command::Infer {
            from:
                Some(infer::From::Node {
                    dir,
                    service,
                    entry,
                    strict,
                    format,
                    color,
                }),
            ..
        } => infer::node(
            &dir,
            &warden::infer::node::Options {
                strict,
                service,
                entries: entry,
            },
            &Reporter {
                format,
                color,
                stdout_taken: true,
            },
        ),
        Command::Infer {
            from:
                Some(infer::From::Dockerfile {
                    file,
                    context,
                    service,
                    namespace,
                    strict,
                    format,
                    color,
                }),
            ..
        } => infer::dockerfile(
            &file,
            context.as_deref(),
            service.as_deref(),
            &namespace,
            strict,
            &Reporter {
                format,
                color,
                stdout_taken: true,
            },
        ),
        Command::Infer {
            from: None,
            manifests,
            namespace,
            target,
            out,
            diff,
            format,
            color,
        } => {
            let options = warden::infer::Options {
                namespace,
                cilium: matches!(target, InferTarget::Cilium),
            };
            match diff {
                Some(program) => infer::diff(&manifests, &options, &program),
                None => infer::run(
                    &manifests,
                    &options,
                    out.as_deref(),
                    &Reporter {
                        format,
                        color,
                        stdout_taken: out.is_none(),
                    },
                ),
            }
        }
        Command::Admit {
            program,
            manifests,
            namespace,
            patch,
            format,
            color,
        } => admit::run(
            &program,
            &manifests,
            &namespace,
            patch.as_deref(),
            &Reporter {
                format,
                color,
                stdout_taken: false,
            },
        ),
        Command::Import(Import::Netpol {
            manifests,
            namespace,
            out,
        }) => import::netpol(&manifests, &namespace, out.as_deref()),
        Command::Import(Import::Seccomp {
            profile,
            service,
            capabilities,
            profile_name,
        }) => import::seccomp(&profile, &service, &capabilities, profile_name),
        Command::Init { dir } => init::run(&dir),
        Command::Lsp => warden::lsp::run(),
        Command::Fmt {
            paths,
            check,
            format,
        } => fmt::run(
            &paths,
            check,
            &Reporter {
                format,
                color: Color::Auto,
                stdout_taken: paths.iter().any(|p| p == Path::new("-")),
            },
        ),
        Command::Completions { shell } => {
            clap_complete::generate(shell, &mut Cli::command(), "warden", &mut std::io::stdout());
            ExitCode::SUCCESS
        }
        Command::Man { out } => man(&out),
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

fn explain(query: &str, program: &[PathBuf], format: AnswerFormat) -> ExitCode {
    let sources = match warden::load::load(program) {
        Ok(s) => s,
        Err(diags) => {
            eprint!("{}", diag::render::human(&SourceMap::new(), &diags));
            return ExitCode::from(2);
        }
    };
    let (sources, answer, found) = warden::explain::explain(sources, query);
    match format {
        AnswerFormat::Json => print!("{}", diag::render::json_lines(&sources, &answer)),
        AnswerFormat::Human => print!("{}", diag::render::human(&sources, &answer)),
    }
    // For scripts: 0 allowed, 1 denied, 3 allowed in part (or up to the runtime), 2 no answer.
    ExitCode::from(match found {
        warden::explain::Found::Allowed => 0,
        warden::explain::Found::Denied => 1,
        warden::explain::Found::Problem => 2,
        warden::explain::Found::Partly => 3,
    })
}

/// The manual pages: `warden.1`, and `warden-COMMAND.1` for each command.
fn man(out: &Path) -> ExitCode {
    let cli = Cli::command();
    let mut pages = vec![("warden.1".to_string(), cli.clone())];
    for sub in cli.get_subcommands() {
        let name = format!("warden-{}", sub.get_name());
        pages.push((format!("{name}.1"), sub.clone().name(name)));
    }
    let written = std::fs::create_dir_all(out).and_then(|()| {
        for (file, command) in &pages {
            let mut page = Vec::new();
            clap_mangen::Man::new(command.clone()).render(&mut page)?;
            std::fs::write(out.join(file), page)?;
        }
        Ok(())
    });
    match written {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!(
                "error: cannot write the manual pages to `{}`: {e}",
                out.display()
            );
            ExitCode::from(2)
        }
    }
}

/// The targets asked for, in order, each once; the default ones where none is.
fn targets_of(asked: &[TargetArg]) -> Vec<Target> {
    if asked.is_empty() {
        return Target::DEFAULT.to_vec();
    }
    let mut t: Vec<Target> = asked.iter().map(|&t| t.into()).collect();
    t.sort();
    t.dedup();
    t
}

/// Whether a warning no `accept` line acknowledges is among `diags`: what `--deny-warnings`
/// refuses.
fn warnings(diags: &[Diagnostic]) -> bool {
    diags.iter().any(Diagnostic::is_open_warning)
}

fn run(args: &CompileArgs, write: bool) -> ExitCode {
    let stream = write && args.out.as_deref() == Some(Path::new("-"));
    let reporter = Reporter {
        format: args.format,
        color: args.color,
        stdout_taken: stream,
    };
    if write && args.out.is_none() {
        eprintln!(
            "error: `warden build` needs `--out DIR` (or `--out -` for one YAML stream on standard output)"
        );
        return ExitCode::from(2);
    }
    let sources = match warden::load::load(&args.paths) {
        Ok(s) => s,
        Err(diags) => {
            reporter.report(&SourceMap::new(), &diags);
            return ExitCode::from(2);
        }
    };
    let targets = targets_of(&args.target);
    let layout = Layout::from(args.layout);
    let today = args.date.unwrap_or_else(warden::today);
    let mut compiled = warden::compile_on(sources, &targets, layout, today);
    let denied = args.deny_warnings && warnings(&compiled.diagnostics);
    let docs = match compiled.documents.take() {
        Some(docs) if !denied => docs,
        _ => {
            reporter.report(&compiled.sources, &compiled.diagnostics);
            reporter.summary(&compiled.diagnostics, args.deny_warnings);
            return ExitCode::from(1);
        }
    };
    let Some(out) = &args.out else {
        // `check` of the program alone: every diagnostic, nothing compared or written.
        reporter.report(&compiled.sources, &compiled.diagnostics);
        reporter.summary(&compiled.diagnostics, args.deny_warnings);
        return ExitCode::SUCCESS;
    };
    if stream {
        return stream::write(&docs, &compiled, &reporter, args.deny_warnings);
    }
    let files = warden::emit::plan(docs, layout);
    let outcome = if write {
        warden::emit::build(out, &files, &|_| Ok(()))
    } else {
        let stale = warden::emit::check(out, &files);
        if stale.is_empty() { Ok(()) } else { Err(stale) }
    };
    let failed = outcome.is_err();
    let mut diags = std::mem::take(&mut compiled.diagnostics);
    diags.extend(outcome.err().unwrap_or_default());
    reporter.report(&compiled.sources, &diags);
    reporter.summary(&diags, args.deny_warnings);
    if failed {
        return ExitCode::from(1);
    }
    if write && matches!(args.format, Format::Human) {
        eprintln!("wrote {} files to {}", files.len(), out.display());
    }
    // The process ends here and the system takes its memory back at once; freeing the program
    // and the output object by object first would only delay the exit.
    std::mem::forget(compiled);
    std::mem::forget(files);
    ExitCode::SUCCESS
}
