//! Compliance: the `compliance` blocks' claims and waivers resolved against the control catalogs,
//! what implements each claimed control in each namespace of its scope, and what is missing.
//!
//! ```text
//! compliance payments {
//!   framework pci-dss, nist-800-53
//!   applies to namespaces payments, checkout
//!   waive pci-dss 2.2.4 owner "payments-team" until 2027-03-31 because "SEC-88: profiles next"
//! }
//! ```
//! A claimed control that nothing implements and nothing waives is an error (E1003) naming what
//! would implement it; a waiver or an exemption past its end is an error (E1004), one ending
//! within 30 days a warning (W1005). Whether something is implemented reads the IR only, so it is
//! the same on every day; only the expiry checks read `today`.

use super::Checker;
use crate::ast;
use crate::catalog::controls::{self, Control, Framework};
use crate::catalog::pod_security::{self, CheckId};
use crate::diag::{Diagnostic, did_you_mean};
use crate::ir::{self, AdmissionRule, Date, Mode, Program};
use crate::span::Span;
use std::collections::{BTreeMap, BTreeSet};

/// Days before its end from which a waiver or an exemption is reported.
pub const EXPIRY_WARNING_DAYS: i64 = 30;

impl Checker<'_> {
    /// The owner and end of an exemption line, the end checked as a date.
    pub(super) fn terms(&mut self, terms: &ast::Terms) -> (Option<String>, Option<(Date, Span)>) {
        let owner = terms.owner.as_ref().map(|o| {
            if o.text.trim().is_empty() {
                self.diags.push(
                    Diagnostic::error("E1002", "an owner cannot be empty")
                        .primary(o.span, "empty")
                        .help("name who answers for it: a team, a person or a ticket queue"),
                );
            }
            o.text.clone()
        });
        let until = terms
            .until
            .as_ref()
            .and_then(|u| self.date(u).map(|d| (d, u.span)));
        (owner, until)
    }

    fn date(&mut self, text: &ast::Ident) -> Option<Date> {
        let date = Date::parse(&text.text);
        if date.is_none() {
            self.diags.push(
                Diagnostic::error("E1002", format!("`{}` is not a date", text.text))
                    .primary(text.span, "no such day")
                    .help("write the day as YYYY-MM-DD, e.g. `2027-03-31`"),
            );
        }
        date
    }

    pub(super) fn check_compliance(&mut self, c: &ast::Compliance) {
        if self.program.compliance.contains_key(&c.name.text) {
            self.diags.push(
                Diagnostic::error(
                    "E1002",
                    format!("compliance block `{}` is declared twice", c.name.text),
                )
                .primary(c.name.span, "second declaration")
                .help("give each block its own name"),
            );
            return;
        }
        let mut frameworks: Vec<(String, Span)> = Vec::new();
        for f in &c.frameworks {
            if controls::framework(&f.text).is_some() {
                if !frameworks.iter().any(|(n, _)| *n == f.text) {
                    frameworks.push((f.text.clone(), f.span));
                }
                continue;
            }
            let names: Vec<&str> = controls::all()
                .iter()
                .map(|f| f.framework.as_str())
                .collect();
            let mut d = Diagnostic::error("E1001", format!("unknown framework `{}`", f.text))
                .primary(f.span, "not a framework of warden's catalogs");
            d = match did_you_mean(&f.text, names.iter().copied()) {
                Some(hint) => d.help(hint),
                None => d.note(format!("the frameworks are {}", names.join(", "))),
            };
            self.diags.push(d);
        }
        if c.frameworks.is_empty() {
            self.diags.push(
                Diagnostic::error(
                    "E1002",
                    format!("compliance block `{}` claims no framework", c.name.text),
                )
                .primary(c.name.span, "no `framework` line")
                .help("add `framework NAME`, e.g. `framework nist-800-53`"),
            );
        }
        let scope = self.scope_of(&c.name, &c.applies, &c.except, false);
        let mut waivers: Vec<ir::Waiver> = Vec::new();
        for w in &c.waivers {
            if let Some(waiver) = self.waiver(w, &c.frameworks) {
                if let Some(first) = waivers
                    .iter()
                    .find(|o| o.framework == waiver.framework && o.control == waiver.control)
                {
                    self.diags.push(
                        Diagnostic::error(
                            "E1002",
                            format!("`{} {}` is waived twice", waiver.framework, waiver.control),
                        )
                        .primary(w.control.span, "second waiver")
                        .secondary(first.span, "first waiver"),
                    );
                    continue;
                }
                waivers.push(waiver);
            }
        }
        self.program.compliance.insert(
            c.name.text.clone(),
            ir::Compliance {
                name: c.name.text.clone(),
                frameworks,
                scope,
                waivers,
                span: c.name.span,
            },
        );
    }

    fn waiver(&mut self, w: &ast::Waiver, claimed: &[ast::Ident]) -> Option<ir::Waiver> {
        let Some(framework) = controls::framework(&w.framework.text) else {
            let names: Vec<&str> = controls::all()
                .iter()
                .map(|f| f.framework.as_str())
                .collect();
            let mut d =
                Diagnostic::error("E1001", format!("unknown framework `{}`", w.framework.text))
                    .primary(w.framework.span, "not a framework of warden's catalogs");
            d = match did_you_mean(&w.framework.text, names.iter().copied()) {
                Some(hint) => d.help(hint),
                None => d.note(format!("the frameworks are {}", names.join(", "))),
            };
            self.diags.push(d);
            return None;
        };
        if !claimed.iter().any(|c| c.text == w.framework.text) {
            self.diags.push(
                Diagnostic::error(
                    "E1002",
                    format!(
                        "a waiver of `{}`, which this block does not claim",
                        w.framework.text
                    ),
                )
                .primary(w.framework.span, "not claimed here")
                .help(format!(
                    "add `framework {}` to the block, or drop the waiver",
                    w.framework.text
                )),
            );
        }
        let Some(control) = framework.control(&w.control.text) else {
            let mut d = Diagnostic::error(
                "E1002",
                format!(
                    "`{}` is not a control of {}",
                    w.control.text, framework.framework
                ),
            )
            .primary(w.control.span, "not in the catalog");
            let ids = framework.controls.iter().map(|c| c.id.as_str());
            d = match did_you_mean(&w.control.text, ids.clone()) {
                Some(hint) => d.help(hint),
                None => d.note(format!(
                    "the controls of {} are {}",
                    framework.framework,
                    ids.collect::<Vec<_>>().join(", ")
                )),
            };
            self.diags.push(d);
            return None;
        };
        if !control.in_reach() {
            self.diags.push(
                Diagnostic::warning(
                    "W1006",
                    format!(
                        "the waiver of `{} {}` waives nothing",
                        framework.framework, control.id
                    ),
                )
                .primary(w.control.span, "warden does not assess this control")
                .note(format!(
                    "it is about {}, which a program does not declare; the audit reports it as outside warden",
                    control.outside.as_deref().unwrap_or("what warden does not generate")
                ))
                .help("drop the waiver"),
            );
        }
        for (text, what) in [(&w.owner, "an owner"), (&w.reason, "a reason")] {
            if text.text.trim().is_empty() {
                self.diags.push(
                    Diagnostic::error("E1002", format!("a waiver needs {what}"))
                        .primary(text.span, "empty")
                        .help("say who answers for it and why, for whoever audits it"),
                );
            }
        }
        let until = self.date(&w.until)?;
        Some(ir::Waiver {
            framework: framework.framework.clone(),
            control: control.id.clone(),
            owner: w.owner.text.clone(),
            until,
            reason: w.reason.text.clone(),
            span: w.span,
            until_span: w.until.span,
        })
    }
}

// ---------------------------------------------------------------- coverage

/// Where a control stands in one namespace.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum State {
    /// By this way of the control's `any_of`, with the declarations that are its evidence.
    Implemented,
    /// By the waiver of this index in the block.
    Waived(usize),
    Missing,
}

impl State {
    pub fn status(&self) -> Status {
        match self {
            State::Implemented => Status::Implemented,
            State::Waived(_) => Status::Waived,
            State::Missing => Status::Missing,
        }
    }
}

#[derive(Clone, Debug)]
pub struct NamespaceCoverage {
    pub namespace: String,
    pub state: State,
    /// The evidence that implements it (and the evidence shown with it), with the declarations.
    /// The kinds of evidence that implement it (and those shown with it), as `Evidence` holds
    /// them for the namespace.
    pub evidence: Vec<String>,
}

#[derive(Clone, Debug)]
pub struct ControlCoverage {
    pub control: &'static Control,
    /// Empty for a control outside warden.
    pub namespaces: Vec<NamespaceCoverage>,
}

/// A control's state over its scope: the worst of its namespaces'.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Status {
    Implemented,
    Waived,
    Missing,
    Outside,
}

impl Status {
    pub fn name(self) -> &'static str {
        match self {
            Status::Implemented => "implemented",
            Status::Waived => "waived",
            Status::Missing => "missing",
            Status::Outside => "outside warden",
        }
    }
}

impl ControlCoverage {
    pub fn status(&self) -> Status {
        if !self.control.in_reach() {
            return Status::Outside;
        }
        let states = self.namespaces.iter().map(|n| &n.state);
        if states.clone().any(|s| *s == State::Missing) || self.namespaces.is_empty() {
            Status::Missing
        } else if states.clone().any(|s| matches!(s, State::Waived(_))) {
            Status::Waived
        } else {
            Status::Implemented
        }
    }
}

#[derive(Clone, Debug)]
pub struct FrameworkCoverage {
    pub framework: &'static Framework,
    pub span: Span,
    pub controls: Vec<ControlCoverage>,
}

/// One `compliance` block's claims over its namespaces.
#[derive(Clone, Debug)]
pub struct BlockCoverage {
    pub name: String,
    pub namespaces: Vec<String>,
    pub frameworks: Vec<FrameworkCoverage>,
}

/// The evidence of every namespace, by name: each evidence that holds there, with the
/// declarations that make it hold.
pub type Evidence = BTreeMap<String, BTreeMap<String, Vec<Span>>>;

/// What holds in each namespace of the program.
pub fn evidence(program: &Program) -> Evidence {
    let mut out: Evidence = BTreeMap::new();
    let mut flows: BTreeMap<&str, Vec<Span>> = BTreeMap::new();
    for f in &program.flows {
        for peer in [&f.client, &f.server] {
            let ns = match peer {
                ir::Peer::Service(r) => program.services.at(*r).map(|s| s.id.namespace.as_str()),
                ir::Peer::Namespace(n) => Some(n.as_str()),
                _ => None,
            };
            if let Some(ns) = ns {
                flows.entry(ns).or_default().push(f.span);
            }
        }
    }
    for (name, ns) in &program.namespaces {
        let mut held: BTreeMap<String, Vec<Span>> = BTreeMap::new();
        let mut add =
            |key: &str, spans: Vec<Span>| held.entry(key.to_string()).or_default().extend(spans);
        if ns.isolate_ingress {
            add("isolate-ingress", vec![ns.span]);
        }
        if ns.isolate_egress {
            add("isolate-egress", vec![ns.span]);
            if ns.allow_dns {
                add("allow-dns", vec![ns.span]);
            }
        }
        if let Some(spans) = flows.get(name.as_str()) {
            let mut spans = spans.clone();
            spans.sort();
            spans.dedup();
            add("flows", spans);
        }
        let services = program.services.in_namespace(name);
        let policies: Vec<&ir::SyscallPolicy> = services
            .iter()
            .filter_map(|s| s.syscalls.as_ref())
            .collect();
        if !services.is_empty() && policies.len() == services.len() {
            let spans: Vec<Span> = policies.iter().map(|p| p.span).collect();
            if policies.iter().all(|p| !p.default.runs()) {
                add("seccomp-default-deny", spans.clone());
            }
            add("seccomp", spans);
        }
        let labels = program.namespace_labels(name);
        for adm in program.admissions.values() {
            if adm.mode != Mode::Deny || !adm.scope.matches(name, &labels) {
                continue;
            }
            add("admission-enforced", vec![adm.span]);
            for (rule, span) in &adm.rules {
                for key in rule_evidence(rule) {
                    add(&key, vec![*span]);
                }
            }
        }
        out.insert(name.clone(), held);
    }
    out
}

/// The evidence an admission rule gives where it applies in mode `deny`.
fn rule_evidence(rule: &AdmissionRule) -> Vec<String> {
    let admission = |name: &str| vec![format!("admission:{name}")];
    match rule {
        AdmissionRule::ForbidPrivileged => admission("forbid-privileged"),
        AdmissionRule::ForbidHostNamespaces => admission("forbid-host-namespaces"),
        AdmissionRule::ForbidHostField(field) => admission(match *field {
            "hostNetwork" => "forbid-host-network",
            "hostPID" => "forbid-host-pid",
            _ => "forbid-host-ipc",
        }),
        AdmissionRule::ForbidPrivilegeEscalation => admission("forbid-privilege-escalation"),
        AdmissionRule::RequireRunAsNonRoot => admission("require-run-as-non-root"),
        AdmissionRule::RequireDropAllCapabilities => admission("require-drop-all-capabilities"),
        AdmissionRule::RequireSeccompProfile => admission("require-seccomp-profile"),
        AdmissionRule::ImagesFrom(_) => admission("images-from"),
        AdmissionRule::RequireLabels(_) => admission("require-labels"),
        AdmissionRule::RequireAnnotations(_) => admission("require-annotations"),
        AdmissionRule::ForbidLatestTag => admission("forbid-latest-tag"),
        AdmissionRule::RequireImageDigest => admission("require-image-digest"),
        AdmissionRule::RequireResourceLimits => admission("require-resource-limits"),
        AdmissionRule::RequireResourceRequests => admission("require-resource-requests"),
        AdmissionRule::RequireReadOnlyRootFilesystem => {
            admission("require-read-only-root-filesystem")
        }
        AdmissionRule::AllowCapabilities(_) => admission("allow-capabilities"),
        AdmissionRule::AllowVolumes(_) => admission("allow-volumes"),
        AdmissionRule::ForbidHostPaths(_) => admission("forbid-host-paths"),
        AdmissionRule::RunAsUserNonRoot => admission("run-as-user-non-root"),
        AdmissionRule::Ids { .. } => admission("ids"),
        AdmissionRule::Cel { .. } => Vec::new(),
        AdmissionRule::PodSecurity {
            level,
            version,
            exempt,
        } => {
            let mut out = vec!["pod-security-baseline".to_string()];
            if *level == pod_security::Level::Restricted {
                out.push("pod-security-restricted".to_string());
            }
            let exempted: BTreeSet<CheckId> = exempt.iter().map(|(c, _)| *c).collect();
            let catalog = pod_security::get();
            for (check, _) in catalog.checks(*level, *version) {
                if exempted.contains(&check.id) {
                    continue;
                }
                out.push(format!("pss:{}", check.id.name()));
                // A restricted check in force stands for the baseline check it replaces.
                if let Some(replaced) = check.overrides() {
                    out.push(format!("pss:{}", replaced.name()));
                }
            }
            out
        }
    }
}

/// Every namespace of the program with the labels selectors see, made once for the many
/// scopes a large program has.
pub struct Labelled(Vec<(String, BTreeMap<String, String>)>);

impl Labelled {
    pub fn of(program: &Program) -> Labelled {
        Labelled(
            program
                .namespaces
                .keys()
                .map(|n| (n.clone(), program.namespace_labels(n)))
                .collect(),
        )
    }

    /// Every namespace of the program a scope covers.
    pub fn covered(&self, scope: &ir::AdmissionScope) -> Vec<String> {
        self.0
            .iter()
            .filter(|(n, labels)| scope.matches(n, labels))
            .map(|(n, _)| n.clone())
            .collect()
    }
}

/// Every namespace of the program a scope covers.
pub fn scope_namespaces(program: &Program, scope: &ir::AdmissionScope) -> Vec<String> {
    Labelled::of(program).covered(scope)
}

/// Every `compliance` block's claims, control by control and namespace by namespace.
pub fn coverage(program: &Program, evidence: &Evidence) -> Vec<BlockCoverage> {
    let empty = BTreeMap::new();
    let labelled = Labelled::of(program);
    program
        .compliance
        .values()
        .map(|block| {
            let namespaces = labelled.covered(&block.scope);
            let frameworks = block
                .frameworks
                .iter()
                .filter_map(|(name, span)| Some((controls::framework(name)?, *span)))
                .map(|(framework, span)| FrameworkCoverage {
                    framework,
                    span,
                    controls: framework
                        .controls
                        .iter()
                        .map(|control| ControlCoverage {
                            control,
                            namespaces: if control.in_reach() {
                                namespaces
                                    .iter()
                                    .map(|ns| {
                                        let held = evidence.get(ns).unwrap_or(&empty);
                                        namespace_state(block, framework, control, ns, held)
                                    })
                                    .collect()
                            } else {
                                Vec::new()
                            },
                        })
                        .collect(),
                })
                .collect();
            BlockCoverage {
                name: block.name.clone(),
                namespaces,
                frameworks,
            }
        })
        .collect()
}

fn namespace_state(
    block: &ir::Compliance,
    framework: &Framework,
    control: &Control,
    namespace: &str,
    held: &BTreeMap<String, Vec<Span>>,
) -> NamespaceCoverage {
    let way = control
        .any_of
        .iter()
        .find(|way| way.iter().all(|e| held.contains_key(e)));
    let (state, evidence) = match way {
        Some(way) => {
            let shown = way.iter().chain(control.evidence.iter());
            let evidence = shown.filter(|e| held.contains_key(*e)).cloned().collect();
            (State::Implemented, evidence)
        }
        None => {
            let waiver = block
                .waivers
                .iter()
                .position(|w| w.framework == framework.framework && w.control == control.id);
            match waiver {
                Some(i) => (State::Waived(i), Vec::new()),
                None => (State::Missing, Vec::new()),
            }
        }
    };
    NamespaceCoverage {
        namespace: namespace.to_string(),
        state,
        evidence,
    }
}

/// What a piece of evidence is, as the language says it.
pub fn describe_evidence(key: &str) -> String {
    if let Some(rule) = key.strip_prefix("admission:") {
        let words = match rule {
            "images-from" => "images from".to_string(),
            "allow-capabilities" => "allow capabilities".to_string(),
            "allow-volumes" => "allow volumes".to_string(),
            "forbid-host-paths" => "forbid host-paths".to_string(),
            "run-as-user-non-root" => "run-as-user non-root".to_string(),
            "ids" => "run-as-user, run-as-group, fs-group or supplemental-groups".to_string(),
            _ => rule.replacen('-', " ", 1),
        };
        return format!("`{words}` in an admission block in mode deny that applies there");
    }
    if let Some(check) = key.strip_prefix("pss:") {
        return format!(
            "`pod-security` at a level that runs `{check}`, not exempted, in mode deny"
        );
    }
    match key {
        "isolate-ingress" => "`isolate` (or `isolate ingress`) in the namespace".to_string(),
        "isolate-egress" => "`isolate` (or `isolate egress`) in the namespace".to_string(),
        "allow-dns" => "`allow dns` in a namespace isolating egress".to_string(),
        "flows" => "the flows of its services".to_string(),
        "seccomp" => "a `syscalls` block in every service of the namespace".to_string(),
        "seccomp-default-deny" => {
            "a `syscalls` block refusing by default (`default errno EPERM`, `default kill-process`) in every service".to_string()
        }
        "admission-enforced" => "an admission block in mode deny that applies there".to_string(),
        "pod-security-baseline" => "`pod-security baseline` (or restricted) in mode deny".to_string(),
        "pod-security-restricted" => "`pod-security restricted` in mode deny".to_string(),
        other => format!("`{other}`"),
    }
}

/// What would implement a control, in words: its ways, one per line.
pub fn ways(control: &Control) -> Vec<String> {
    control
        .any_of
        .iter()
        .map(|way| {
            let both = way.iter().any(|e| e == "isolate-ingress")
                && way.iter().any(|e| e == "isolate-egress");
            let mut words: Vec<String> = Vec::new();
            if both {
                words.push("`isolate` (both directions) in the namespace".to_string());
            }
            words.extend(
                way.iter()
                    .filter(|e| !both || !e.starts_with("isolate-"))
                    .map(|e| describe_evidence(e)),
            );
            words.join(", and ")
        })
        .collect()
}

/// The diagnostics of the claims and of every dated waiver and exemption, on `today`.
pub fn diagnostics(program: &Program, coverage: &[BlockCoverage], today: Date) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for (block, cov) in program.compliance.values().zip(coverage) {
        if cov.namespaces.is_empty() {
            out.push(
                Diagnostic::error(
                    "E1002",
                    format!("compliance block `{}` applies to no namespace", block.name),
                )
                .primary(block.span, "its scope matches no namespace of the program")
                .help("name declared namespaces in `applies to`, or leave the line out for every namespace"),
            );
            continue;
        }
        let mut waived_somewhere = vec![false; block.waivers.len()];
        for fw in &cov.frameworks {
            for c in &fw.controls {
                let missing: Vec<&str> = c
                    .namespaces
                    .iter()
                    .filter(|n| n.state == State::Missing)
                    .map(|n| n.namespace.as_str())
                    .collect();
                for n in &c.namespaces {
                    if let State::Waived(i) = n.state
                        && let Some(slot) = waived_somewhere.get_mut(i)
                    {
                        *slot = true;
                    }
                }
                if missing.is_empty() {
                    continue;
                }
                let ns: Vec<String> = missing.iter().map(|n| format!("`{n}`")).collect();
                let mut d = Diagnostic::error(
                    "E1003",
                    format!(
                        "{} {} ({}) is claimed but not implemented in namespace{} {}",
                        fw.framework.framework,
                        c.control.id,
                        c.control.title,
                        if missing.len() == 1 { "" } else { "s" },
                        ns.join(", ")
                    ),
                )
                .primary(fw.span, format!("claimed here by `{}`", block.name));
                for way in ways(c.control) {
                    d = d.note(format!("implemented by {way}"));
                }
                d = d.help(format!(
                    "implement it there, or waive it: `waive {} {} owner \"…\" until YYYY-MM-DD because \"…\"`",
                    fw.framework.framework, c.control.id
                ));
                out.push(d);
            }
        }
        for (w, used) in block.waivers.iter().zip(waived_somewhere) {
            let in_reach = controls::framework(&w.framework)
                .and_then(|f| f.control(&w.control))
                .is_some_and(Control::in_reach);
            if !used && in_reach {
                out.push(
                    Diagnostic::warning(
                        "W1006",
                        format!(
                            "the waiver of `{} {}` waives nothing",
                            w.framework, w.control
                        ),
                    )
                    .primary(
                        w.span,
                        "the control is implemented in every namespace of the scope",
                    )
                    .help("drop the waiver"),
                );
            }
            out.extend(expiry(
                "waiver",
                &format!("{} {}", w.framework, w.control),
                w.until,
                w.until_span,
                &w.owner,
                today,
            ));
        }
    }
    for adm in program.admissions.values() {
        for e in &adm.exemptions {
            if let Some((until, span)) = e.until {
                out.extend(expiry(
                    "exemption",
                    &e.what,
                    until,
                    span,
                    e.owner.as_deref().unwrap_or("its owner"),
                    today,
                ));
            }
        }
    }
    out
}

fn expiry(
    kind: &str,
    what: &str,
    until: Date,
    span: Span,
    owner: &str,
    today: Date,
) -> Option<Diagnostic> {
    let left = today.days_until(until);
    if left < 0 {
        Some(
            Diagnostic::error("E1004", format!("the {kind} of `{what}` ended on {until}"))
                .primary(span, format!("{} days ago", -left))
                .note(format!(
                    "today is {today} (from --date, SOURCE_DATE_EPOCH or the clock)"
                ))
                .help(format!(
                    "implement what it stands in for, or have {owner} renew it with a new date"
                )),
        )
    } else if left <= EXPIRY_WARNING_DAYS {
        Some(
            Diagnostic::warning("W1005", format!("the {kind} of `{what}` ends on {until}"))
                .primary(
                    span,
                    match left {
                        0 => "today is its last day".to_string(),
                        1 => "in 1 day".to_string(),
                        n => format!("in {n} days"),
                    },
                )
                .note(format!(
                    "today is {today} (from --date, SOURCE_DATE_EPOCH or the clock)"
                ))
                .help(format!("{owner} should implement it or renew the {kind}")),
        )
    } else {
        None
    }
}
