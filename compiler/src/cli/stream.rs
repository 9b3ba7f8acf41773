//! `warden build --out -`: the documents as one YAML stream on standard output.

use crate::report::Reporter;
use std::process::ExitCode;
use warden::diag::Diagnostic;

/// `build --out -`: every Kubernetes document, in the output's order, as one YAML stream on
/// standard output, for `kubectl apply -f -` and GitOps plugins. Seccomp profiles are files the
/// kubelet reads from each node, not objects of the API, so they are not in it: a note says where
/// they go.
pub fn write(
    docs: &[warden::document::Document],
    compiled: &warden::Compilation,
    reporter: &Reporter,
    deny_warnings: bool,
) -> ExitCode {
    use std::io::Write;
    let mut diags = compiled.diagnostics.clone();
    let profiles = docs
        .iter()
        .filter(|d| d.schema == warden::document::Schema::SeccompProfile)
        .count();
    // With the installer, the stream carries them in its ConfigMaps.
    let installed = docs
        .iter()
        .any(|d| d.schema == warden::document::Schema::DaemonSet);
    if profiles > 0 && !installed {
        diags.push(
            Diagnostic::note_of(
                "N0002",
                format!("{profiles} seccomp profiles are not in the stream"),
            )
            .note("a profile is a file the kubelet reads on each node, not an object of the API")
            .help("build them into a directory (`--out DIR`, its `seccomp/`), with a DaemonSet that installs them on every node (`--target …,seccomp-installer`), or as Security Profiles Operator objects (`--target spo`)"),
        );
    }
    let mut stdout = std::io::stdout().lock();
    let mut wrote = Ok(());
    for doc in docs
        .iter()
        .filter(|d| d.is_kubernetes() && d.schema != warden::document::Schema::Kustomization)
    {
        wrote = wrote
            .and_then(|()| stdout.write_all(b"---\n"))
            .and_then(|()| stdout.write_all(doc.text.as_bytes()));
    }
    let wrote = wrote.and_then(|()| stdout.flush());
    reporter.report(&compiled.sources, &diags);
    reporter.summary(&diags, deny_warnings);
    match wrote {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: cannot write to standard output: {e}");
            ExitCode::from(1)
        }
    }
}
