//! `warden audit`: what a program implements, for the people who review it. One report model,
//! built from the compiled program, its documents and manifest and (with `--out`) the committed
//! output, then written as Markdown, HTML, JSON (`compiler/schemas/audit.schema.json`) or an OSCAL
//! component definition.
//!
//! Everything in the report comes from the program and the day it is counted on: the same inputs
//! and `--date` give the same bytes.

mod network;
mod oscal;
mod render;
mod seccomp;

pub use network::Network;
pub use render::{html, markdown, markdown_text};
pub use seccomp::{action_text as seccomp_action, docker_allowed};

use crate::check::compliance::{self, State};
use crate::document::Document;
use crate::ir::{Date, Program};
use crate::span::{SourceMap, Span};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// The report's format version: a consumer of the JSON checks it.
pub const FORMAT: u32 = 1;

#[derive(Serialize)]
pub struct Report {
    pub format: u32,
    pub generator: String,
    pub date: String,
    pub program: ProgramFacts,
    pub output: Output,
    pub compliance: Vec<Block>,
    pub network: Network,
    pub seccomp: Vec<seccomp::Profile>,
    pub admission: Vec<AdmissionBlock>,
    /// Every waiver and dated exemption, the soonest end first.
    pub expiries: Vec<Expiry>,
    pub expects: Vec<ExpectFact>,
    /// Why each expectation that does not hold fails (E0601) or cannot be decided (E0603), for
    /// the command line to say as `check` would.
    #[serde(skip)]
    pub unmet: Vec<crate::diag::Diagnostic>,
}

#[derive(Serialize)]
pub struct ProgramFacts {
    pub files: Vec<SourceFile>,
    pub namespaces: usize,
    pub services: usize,
    pub flows: usize,
    pub admission_blocks: usize,
}

#[derive(Serialize)]
pub struct SourceFile {
    pub path: String,
    pub sha256: String,
}

/// The generated files, as the manifest lists them, and whether the committed ones match.
#[derive(Serialize)]
pub struct Output {
    /// The directory compared (`--out`), if one was.
    pub directory: Option<String>,
    /// `true`: the committed output is what the program generates; `false`: it is not (`stale`
    /// says how); `null`: not compared.
    pub matches: Option<bool>,
    pub stale: Vec<String>,
    pub files: Vec<GeneratedFile>,
}

#[derive(Serialize, Clone)]
pub struct GeneratedFile {
    pub path: String,
    pub sha256: String,
    pub sources: Vec<String>,
}

#[derive(Serialize)]
pub struct Block {
    pub name: String,
    pub declared: String,
    pub namespaces: Vec<String>,
    pub frameworks: Vec<FrameworkReport>,
    /// By namespace and kind, the evidence the controls name: listed once, however many
    /// controls it serves.
    pub evidence: BTreeMap<String, BTreeMap<String, EvidenceReport>>,
    /// By namespace, the expectations about its services that hold, evidence of its network
    /// controls.
    pub expects: BTreeMap<String, Vec<String>>,
}

#[derive(Serialize)]
pub struct FrameworkReport {
    pub id: String,
    pub title: String,
    pub version: String,
    pub source: String,
    pub claimed: String,
    pub implemented: usize,
    pub waived: usize,
    pub missing: usize,
    pub outside: usize,
    pub controls: Vec<ControlReport>,
}

#[derive(Serialize)]
pub struct ControlReport {
    pub id: String,
    pub title: String,
    pub status: String,
    /// Why warden does not assess it, for a control outside warden.
    pub outside: Option<String>,
    /// What implements it, in the language's words.
    pub implemented_by: Vec<String>,
    /// The namespaces of the scope, grouped by where the control stands in them and by what.
    pub groups: Vec<Group>,
}

/// Namespaces where a control stands alike: implemented by the same evidence, waived by the
/// same waiver, or missing.
#[derive(Serialize)]
pub struct Group {
    pub status: String,
    /// The kinds of evidence (in `Block::evidence`) that implement it.
    pub evidence: Vec<String>,
    pub waiver: Option<Expiry>,
    pub namespaces: Vec<String>,
}

#[derive(Serialize)]
pub struct EvidenceReport {
    pub description: String,
    /// The declarations, `file:line`.
    pub declarations: Vec<String>,
    /// The generated files that carry them.
    pub generated: Vec<GeneratedRef>,
}

#[derive(Serialize, Clone)]
pub struct GeneratedRef {
    pub path: String,
    pub sha256: String,
}

#[derive(Serialize, Clone)]
pub struct Expiry {
    /// `waiver` or `exemption`.
    pub kind: String,
    /// The compliance or admission block.
    pub block: String,
    pub what: String,
    pub owner: Option<String>,
    pub until: Option<String>,
    /// Days from the report's date to the end (negative: ended).
    pub days_left: Option<i64>,
    pub reason: String,
    pub declared: String,
}

#[derive(Serialize)]
pub struct AdmissionBlock {
    pub name: String,
    pub declared: String,
    pub mode: String,
    pub scope: String,
    pub namespaces: Vec<String>,
    pub rules: Vec<RuleReport>,
    pub exemptions: Vec<Expiry>,
}

#[derive(Serialize)]
pub struct RuleReport {
    pub rule: String,
    pub declared: String,
}

#[derive(Serialize)]
pub struct ExpectFact {
    pub expectation: String,
    pub declared: String,
    /// `holds`, `fails` or `undecided`.
    pub status: &'static str,
    /// Where it does not hold, why: the ports denied or allowed and what decides them (the
    /// isolation, or each flow that allows what was to be denied, with its place).
    pub why: Vec<String>,
}

/// Sources and generated files, for `file:line` and the files that carry a declaration.
struct Places<'a> {
    sources: &'a SourceMap,
    /// By the declaration a document was generated from: the files holding such documents.
    by_origin: BTreeMap<Span, BTreeSet<usize>>,
    /// The declarations that generate what a smaller one says: an admission rule's block, a
    /// flow's services.
    owners: BTreeMap<Span, Vec<Span>>,
    files: Vec<GeneratedFile>,
}

impl Places<'_> {
    fn at(&self, span: Span) -> String {
        self.sources.location(span)
    }

    fn generated(&self, spans: &[Span]) -> Vec<GeneratedRef> {
        let mut found: BTreeSet<usize> = BTreeSet::new();
        for span in spans {
            let owners = self.owners.get(span).map_or(&[][..], Vec::as_slice);
            for origin in std::iter::once(span).chain(owners) {
                if let Some(files) = self.by_origin.get(origin) {
                    found.extend(files);
                }
            }
        }
        found
            .into_iter()
            .filter_map(|i| self.files.get(i))
            .map(|f| GeneratedRef {
                path: f.path.clone(),
                sha256: f.sha256.clone(),
            })
            .collect()
    }
}

/// Which declarations generate what a smaller one says.
fn owners(program: &Program) -> BTreeMap<Span, Vec<Span>> {
    let mut out: BTreeMap<Span, Vec<Span>> = BTreeMap::new();
    for a in program.admissions.values() {
        for (_, span) in &a.rules {
            out.entry(*span).or_default().push(a.span);
        }
    }
    for f in &program.flows {
        for peer in [&f.client, &f.server] {
            if let crate::ir::Peer::Service(r) = peer
                && let Some(s) = program.services.at(*r)
            {
                out.entry(f.span).or_default().push(s.span);
            }
        }
    }
    out
}

/// The report on `program`, compiled from `sources` into `documents` laid out as `layout`, on
/// `today`, with `committed` the directory compared and how it differs, if one was compared.
pub fn report(
    program: &Program,
    sources: &SourceMap,
    documents: Vec<Document>,
    layout: crate::document::Layout,
    today: Date,
    committed: Option<(String, Vec<String>)>,
) -> Report {
    // Where each document goes and what it came from, before the documents move into the plan.
    let origins: Vec<(Span, String)> = documents
        .iter()
        .filter_map(|d| Some((d.origin?, layout.file_of(&d.path, d.schema).into_owned())))
        .collect();
    // The files' texts are not needed, only their hashes.
    let (_, manifest) = crate::emit::plan_and_manifest(documents, layout);
    let files: Vec<GeneratedFile> = manifest
        .files
        .into_iter()
        .map(|(path, e)| GeneratedFile {
            path,
            sha256: e.sha256,
            sources: e.sources,
        })
        .collect();
    let index: BTreeMap<&str, usize> = files
        .iter()
        .enumerate()
        .map(|(i, f)| (f.path.as_str(), i))
        .collect();
    let mut by_origin: BTreeMap<Span, BTreeSet<usize>> = BTreeMap::new();
    for (origin, file) in &origins {
        if let Some(i) = index.get(file.as_str()) {
            by_origin.entry(*origin).or_default().insert(*i);
        }
    }
    drop(index);
    let places = Places {
        sources,
        by_origin,
        owners: owners(program),
        files,
    };
    // The network part is the evaluator's, on every core; the rest reads the IR beside it.
    std::thread::scope(|scope| {
        let network = scope.spawn(|| network::network(program, sources));
        let mut report = report_rest(program, sources, &places, today, committed);
        if let Ok(network) = network.join() {
            report.network = network;
        }
        report
    })
}

fn report_rest(
    program: &Program,
    sources: &SourceMap,
    places: &Places<'_>,
    today: Date,
    committed: Option<(String, Vec<String>)>,
) -> Report {
    let evidence = compliance::evidence(program);
    let coverage = compliance::coverage(program, &evidence);
    let unmet = crate::check::expects::evaluate(program, &program.expects);
    let standing =
        |i: usize| crate::check::expects::Standing::of(unmet.get(i).and_then(Option::as_ref));
    let expects_by_ns = expects_by_namespace(program, sources, |i| {
        standing(i) == crate::check::expects::Standing::Holds
    });
    let labelled = compliance::Labelled::of(program);
    let blocks = program
        .compliance
        .values()
        .zip(&coverage)
        .map(|(block, cov)| {
            let frameworks: Vec<FrameworkReport> = cov
                .frameworks
                .iter()
                .map(|fw| framework_report(fw, block, places, today))
                .collect();
            let mut used: BTreeMap<String, BTreeMap<String, EvidenceReport>> = BTreeMap::new();
            for fw in &cov.frameworks {
                for c in &fw.controls {
                    for n in &c.namespaces {
                        for kind in &n.evidence {
                            let slot = used.entry(n.namespace.clone()).or_default();
                            if !slot.contains_key(kind)
                                && let Some(spans) =
                                    evidence.get(&n.namespace).and_then(|m| m.get(kind))
                            {
                                slot.insert(kind.clone(), evidence_report(kind, spans, places));
                            }
                        }
                    }
                }
            }
            Block {
                name: block.name.clone(),
                declared: places.at(block.span),
                namespaces: cov.namespaces.clone(),
                frameworks,
                evidence: used,
                expects: cov
                    .namespaces
                    .iter()
                    .filter_map(|n| expects_by_ns.get(n).map(|e| (n.clone(), e.clone())))
                    .collect(),
            }
        })
        .collect();
    let (output_dir, stale) = match committed {
        Some((dir, stale)) => (Some(dir), Some(stale)),
        None => (None, None),
    };
    let mut expiries: Vec<Expiry> = Vec::new();
    for block in program.compliance.values() {
        for w in &block.waivers {
            expiries.push(waiver_expiry(block, w, places, today));
        }
    }
    let admission: Vec<AdmissionBlock> = program
        .admissions
        .values()
        .map(|a| admission_block(&labelled, a, places, today))
        .collect();
    for a in &admission {
        expiries.extend(a.exemptions.iter().cloned());
    }
    expiries.sort_by(|a, b| {
        (a.days_left.is_none(), a.days_left, &a.block, &a.what).cmp(&(
            b.days_left.is_none(),
            b.days_left,
            &b.block,
            &b.what,
        ))
    });
    let files = (0..sources.len())
        .map(|id| SourceFile {
            path: sources.name(id).to_string(),
            sha256: crate::emit::sha256_hex(sources.text(id).as_bytes()),
        })
        .collect();
    Report {
        format: FORMAT,
        generator: format!("warden {}", env!("CARGO_PKG_VERSION")),
        date: today.to_string(),
        program: ProgramFacts {
            files,
            namespaces: program.namespaces.len(),
            services: program.services.len(),
            flows: program.flows.len(),
            admission_blocks: program.admissions.len(),
        },
        output: Output {
            directory: output_dir,
            matches: stale.as_ref().map(Vec::is_empty),
            stale: stale.unwrap_or_default(),
            files: places.files.clone(),
        },
        compliance: blocks,
        network: Network::default(),
        seccomp: seccomp::profiles(program, places),
        admission,
        expiries,
        expects: program
            .expects
            .iter()
            .enumerate()
            .map(|(i, e)| ExpectFact {
                expectation: e.text.clone(),
                declared: sources.location(e.span),
                status: standing(i).name(),
                why: unmet
                    .get(i)
                    .and_then(Option::as_ref)
                    .map(|d| why(d, sources))
                    .unwrap_or_default(),
            })
            .collect(),
        unmet: unmet.into_iter().flatten().collect(),
    }
}

/// Why an expectation does not hold, as `check` says it: its notes, then each declaration that
/// decides it (a flow that allows what was to be denied) with its place.
fn why(unmet: &crate::diag::Diagnostic, sources: &SourceMap) -> Vec<String> {
    let mut out = unmet.notes.clone();
    out.extend(
        unmet
            .labels
            .iter()
            .filter(|l| !l.primary)
            .map(|l| format!("{} ({})", l.message, sources.location(l.span))),
    );
    out
}

/// The expectations that hold (`holds` of their place) about each namespace's services.
fn expects_by_namespace(
    program: &Program,
    sources: &SourceMap,
    holds: impl Fn(usize) -> bool,
) -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (i, e) in program.expects.iter().enumerate() {
        if !holds(i) {
            continue;
        }
        let mut namespaces = BTreeSet::new();
        for end in [&e.from, &e.to] {
            match end {
                crate::ir::Endpoint::Service(id) => {
                    namespaces.insert(id.namespace.clone());
                }
                crate::ir::Endpoint::Pod(p) => {
                    namespaces.insert(p.namespace.clone());
                }
                crate::ir::Endpoint::External(_) => {}
            }
        }
        for ns in namespaces {
            out.entry(ns)
                .or_default()
                .push(format!("{} ({})", e.text, sources.location(e.span)));
        }
    }
    out
}

fn evidence_report(kind: &str, spans: &[Span], places: &Places<'_>) -> EvidenceReport {
    let mut declarations: Vec<String> = spans.iter().map(|s| places.at(*s)).collect();
    declarations.dedup();
    EvidenceReport {
        description: compliance::describe_evidence(kind),
        declarations,
        generated: places.generated(spans),
    }
}

fn framework_report(
    fw: &compliance::FrameworkCoverage,
    block: &crate::ir::Compliance,
    places: &Places<'_>,
    today: Date,
) -> FrameworkReport {
    let mut counts = [0usize; 4];
    let controls: Vec<ControlReport> = fw
        .controls
        .iter()
        .map(|c| {
            let status = c.status();
            if let Some(n) = counts.get_mut(status as usize) {
                *n += 1;
            }
            // Namespaces grouped by state and evidence, in the order of their first namespace.
            let mut groups: Vec<Group> = Vec::new();
            let mut index: BTreeMap<(String, Vec<String>, Option<usize>), usize> = BTreeMap::new();
            for n in &c.namespaces {
                let state = n.state.status();
                let waiver = match n.state {
                    State::Waived(i) => Some(i),
                    _ => None,
                };
                let kinds: Vec<String> = n.evidence.clone();
                let key = (state.name().to_string(), kinds.clone(), waiver);
                let at = *index.entry(key).or_insert_with(|| {
                    groups.push(Group {
                        status: state.name().to_string(),
                        evidence: kinds,
                        waiver: waiver
                            .and_then(|i| block.waivers.get(i))
                            .map(|w| waiver_expiry(block, w, places, today)),
                        namespaces: Vec::new(),
                    });
                    groups.len() - 1
                });
                if let Some(g) = groups.get_mut(at) {
                    g.namespaces.push(n.namespace.clone());
                }
            }
            ControlReport {
                id: c.control.id.clone(),
                title: c.control.title.clone(),
                status: status.name().to_string(),
                outside: c.control.outside.clone(),
                implemented_by: compliance::ways(c.control),
                groups,
            }
        })
        .collect();
    let [implemented, waived, missing, outside] = counts;
    FrameworkReport {
        id: fw.framework.framework.clone(),
        title: fw.framework.title.clone(),
        version: fw.framework.version.clone(),
        source: fw.framework.source.clone(),
        claimed: places.at(fw.span),
        implemented,
        waived,
        missing,
        outside,
        controls,
    }
}

fn waiver_expiry(
    block: &crate::ir::Compliance,
    w: &crate::ir::Waiver,
    places: &Places<'_>,
    today: Date,
) -> Expiry {
    Expiry {
        kind: "waiver".to_string(),
        block: block.name.clone(),
        what: format!("{} {}", w.framework, w.control),
        owner: Some(w.owner.clone()),
        until: Some(w.until.to_string()),
        days_left: Some(today.days_until(w.until)),
        reason: w.reason.clone(),
        declared: places.at(w.span),
    }
}

fn admission_block(
    labelled: &compliance::Labelled,
    a: &crate::ir::Admission,
    places: &Places<'_>,
    today: Date,
) -> AdmissionBlock {
    use crate::ir::Mode;
    AdmissionBlock {
        name: a.name.clone(),
        declared: places.at(a.span),
        mode: match a.mode {
            Mode::Deny => "deny",
            Mode::Warn => "warn",
            Mode::Audit => "audit",
        }
        .to_string(),
        scope: scope_text(&a.scope),
        namespaces: labelled.covered(&a.scope),
        rules: a
            .rules
            .iter()
            .map(|(rule, span)| RuleReport {
                rule: rule_text(rule),
                declared: places.at(*span),
            })
            .collect(),
        exemptions: a
            .exemptions
            .iter()
            .map(|e| Expiry {
                kind: "exemption".to_string(),
                block: a.name.clone(),
                what: e.what.clone(),
                owner: e.owner.clone(),
                until: e.until.map(|(d, _)| d.to_string()),
                days_left: e.until.map(|(d, _)| today.days_until(d)),
                reason: e.reason.clone(),
                declared: places.at(e.span),
            })
            .collect(),
    }
}

pub fn scope_text(scope: &crate::ir::AdmissionScope) -> String {
    let mut out = match &scope.names {
        Some(names) => {
            let names: Vec<&str> = names.iter().map(String::as_str).collect();
            format!("namespaces {}", names.join(", "))
        }
        None if scope.labels.is_empty() => "all namespaces".to_string(),
        None => format!("namespaces({})", crate::graph::selector(&scope.labels)),
    };
    if !scope.except_names.is_empty() {
        let names: Vec<&str> = scope.except_names.iter().map(String::as_str).collect();
        out.push_str(&format!(" except {}", names.join(", ")));
    }
    for sel in &scope.except_labels {
        out.push_str(&format!(
            " except namespaces({})",
            crate::graph::selector(sel)
        ));
    }
    out
}

/// An admission rule as the language writes it.
pub fn rule_text(rule: &crate::ir::AdmissionRule) -> String {
    use crate::ir::AdmissionRule as R;
    match rule {
        R::ForbidPrivileged => "forbid privileged".to_string(),
        R::ForbidHostNamespaces => "forbid host-namespaces".to_string(),
        R::ForbidHostField(f) => format!(
            "forbid {}",
            match *f {
                "hostNetwork" => "host-network",
                "hostPID" => "host-pid",
                _ => "host-ipc",
            }
        ),
        R::ForbidPrivilegeEscalation => "forbid privilege-escalation".to_string(),
        R::RequireRunAsNonRoot => "require run-as-non-root".to_string(),
        R::RequireDropAllCapabilities => "require drop-all-capabilities".to_string(),
        R::RequireSeccompProfile => "require seccomp-profile".to_string(),
        R::ImagesFrom(p) => format!("images from {}", quoted(p)),
        R::RequireLabels(k) => format!("require labels {}", k.join(", ")),
        R::RequireAnnotations(k) => format!("require annotations {}", k.join(", ")),
        R::ForbidLatestTag => "forbid latest-tag".to_string(),
        R::RequireImageDigest => "require image-digest".to_string(),
        R::RequireResourceLimits => "require resource-limits".to_string(),
        R::RequireResourceRequests => "require resource-requests".to_string(),
        R::RequireReadOnlyRootFilesystem => "require read-only-root-filesystem".to_string(),
        R::AllowCapabilities(c) => format!("allow capabilities {}", c.join(", ")),
        R::AllowVolumes(v) => format!("allow volumes {}", v.join(", ")),
        R::ForbidHostPaths(p) => format!("forbid host-paths {}", quoted(p)),
        R::RunAsUserNonRoot => "run-as-user non-root".to_string(),
        R::Ids { field, ranges } => {
            let word = match field {
                crate::ir::IdField::RunAsUser => "run-as-user",
                crate::ir::IdField::RunAsGroup => "run-as-group",
                crate::ir::IdField::FsGroup => "fs-group",
                crate::ir::IdField::SupplementalGroups => "supplemental-groups",
            };
            let ranges: Vec<String> = ranges
                .iter()
                .map(|(a, b)| {
                    if a == b {
                        a.to_string()
                    } else {
                        format!("{a}-{b}")
                    }
                })
                .collect();
            format!("{word} {}", ranges.join(", "))
        }
        R::Cel { message, .. } => format!("require cel (message \"{message}\")"),
        R::PodSecurity {
            level,
            version,
            exempt,
        } => {
            let mut out = format!("pod-security {} version {version}", level.name());
            if !exempt.is_empty() {
                let ids: Vec<&str> = exempt.iter().map(|(c, _)| c.name()).collect();
                out.push_str(&format!(" (exempt: {})", ids.join(", ")));
            }
            out
        }
    }
}

fn quoted(items: &[String]) -> String {
    items
        .iter()
        .map(|i| format!("\"{i}\""))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The report as JSON (pretty, with a final newline), as `compiler/schemas/audit.schema.json`
/// describes it.
pub fn json(report: &Report) -> String {
    let mut out = serde_json::to_string_pretty(report).unwrap_or_default();
    out.push('\n');
    out
}

/// The report as an OSCAL component definition; `Err` if nothing claims NIST SP 800-53.
pub fn oscal(report: &Report, program_name: &str) -> Result<String, String> {
    oscal::component_definition(report, program_name)
}
