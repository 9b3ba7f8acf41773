//! `warden import netpol FILES… [--out DIR]`: NetworkPolicies as a program, printed or written a
//! file per namespace. A policy the program cannot say stops it with nothing written; the
//! program is compiled before it is written, so what `import` writes builds. `warden import
//! seccomp PROFILE --service NAME`: the profile as a `syscalls` block, printed with the warnings a
//! service holding it gets.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use warden::diag;
use warden::import::netpol::HEADER;

pub fn netpol(paths: &[PathBuf], namespace: &str, out: Option<&Path>) -> ExitCode {
    let manifests = warden::manifests::read(paths);
    let imported = warden::import::netpol::import(&manifests, namespace);
    let mut diagnostics = manifests.diagnostics.clone();
    diagnostics.extend(imported.diagnostics);
    eprint!("{}", diag::render::human(&manifests.sources, &diagnostics));
    if diagnostics.iter().any(diag::Diagnostic::is_error) {
        eprintln!("error: nothing imported");
        return ExitCode::from(1);
    }
    if imported.policies == 0 {
        eprintln!(
            "error: no NetworkPolicy in {} file(s)",
            manifests.sources.len()
        );
        return ExitCode::from(1);
    }
    let Some(compiled) = super::infer::builds(
        &imported.files,
        warden::document::Target::Netpol,
        "the program",
        "warden import",
    ) else {
        return ExitCode::from(1);
    };
    // The program's own warnings are the first review of what the cluster enforced.
    eprint!(
        "{}",
        diag::render::human(&compiled.sources, &compiled.diagnostics)
    );
    let Some(dir) = out else {
        let texts: Vec<&str> = imported.files.iter().map(|(_, t)| t.as_str()).collect();
        print!("{}", texts.join("\n"));
        return ExitCode::SUCCESS;
    };
    match super::infer::write(dir, &imported.files, HEADER, "warden import") {
        Ok(()) => {
            eprintln!(
                "imported {} NetworkPolicies into {} file(s) in {}",
                imported.policies,
                imported.files.len(),
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

/// `warden import seccomp PROFILE --service NAME`: the block printed, its warnings and the
/// profile's errors on standard error; exit 1 if there is no block.
pub fn seccomp(
    profile: &Path,
    service: &str,
    capabilities: &[String],
    profile_name: Option<String>,
) -> ExitCode {
    // A program's names begin with a letter besides.
    if !warden::check::is_dns_label(service)
        || !service.starts_with(|c: char| c.is_ascii_lowercase())
    {
        eprintln!(
            "error: `{service}` is not a service name (a DNS label: lowercase letters, digits and `-`)"
        );
        return ExitCode::from(2);
    }
    let mut caps = std::collections::BTreeSet::new();
    if capabilities.is_empty() {
        caps.extend(
            warden::lower::spo::DEFAULT_CAPS
                .iter()
                .map(|c| c.to_string()),
        );
    }
    for c in capabilities.iter().filter(|c| c.as_str() != "none") {
        let bare = c.trim().to_ascii_uppercase();
        let bare = bare.trim_start_matches("CAP_");
        if !warden::catalog::pod_spec::CAPABILITIES.contains(&bare) {
            eprintln!("error: `{c}` is not a Linux capability");
            return ExitCode::from(2);
        }
        caps.insert(format!("CAP_{bare}"));
    }
    let name = profile.display().to_string();
    let bytes = match std::fs::metadata(profile) {
        Ok(m) if m.len() > warden::manifests::yaml::MAX_BYTES => {
            eprintln!(
                "error: cannot read {name}: {} bytes, more than the {} a profile may have",
                m.len(),
                warden::manifests::yaml::MAX_BYTES
            );
            return ExitCode::from(1);
        }
        _ => match std::fs::read(profile) {
            Ok(b) => b,
            Err(e) => {
                eprintln!("error: cannot read {name}: {e}");
                return ExitCode::from(1);
            }
        },
    };
    let options = warden::import::seccomp::Options {
        capabilities: caps,
        profile: profile_name,
    };
    let imported = warden::import::seccomp::import(&name, &bytes, &options);
    eprint!(
        "{}",
        diag::render::human(&imported.sources, &imported.diagnostics)
    );
    let Some(block) = imported.block else {
        eprintln!("error: nothing imported");
        return ExitCode::from(1);
    };
    let (sources, review) = review(&block, service);
    if review.iter().any(diag::Diagnostic::is_error) {
        eprint!("{}", diag::render::human(&sources, &review));
        eprintln!("error: the block does not compile (a defect of `warden import`)");
        return ExitCode::from(1);
    }
    // A call of one architecture is said in the block's header, once, not a warning a call.
    let (one_arch, review): (Vec<_>, Vec<_>) = review.into_iter().partition(|d| d.code == "W0402");
    eprint!("{}", diag::render::human(&sources, &review));
    if !one_arch.is_empty() {
        eprintln!(
            "note: {} calls of one architecture only are named in the header (W0402 when built; a service may `accept W0402 \"REASON\"`)",
            one_arch.len()
        );
    }
    print!("{block}");
    ExitCode::SUCCESS
}

/// The warnings a program would give the block (W0410, W0411, …), about the block's own text:
/// it is checked as the `syscalls` of a service `service`, and the spans moved onto the block.
fn review(block: &str, service: &str) -> (warden::span::SourceMap, Vec<diag::Diagnostic>) {
    let prefix = warden::import::seccomp::wrapper(service);
    let mut program = warden::span::SourceMap::new();
    program.add(format!("{service}.warden"), format!("{prefix}{block}}}\n"));
    let compiled = warden::compile(program, &[warden::document::Target::Seccomp]);
    let mut sources = warden::span::SourceMap::new();
    let file = sources.add(format!("{service} (imported)"), block.to_string());
    let mut out = compiled.diagnostics;
    for d in &mut out {
        for l in &mut d.labels {
            let start = l.span.start.saturating_sub(prefix.len()).min(block.len());
            let end = l
                .span
                .end
                .saturating_sub(prefix.len())
                .clamp(start, block.len());
            l.span = warden::span::Span::new(file, start, end);
        }
    }
    (sources, out)
}
