//! Admission blocks: where they apply, which rules, which mode.
//!
//! ```text
//! admission hardened { applies to workloads in namespace shop  forbid privileged  mode deny }  // accepted
//! admission hardened { forbid privilaged  mode block }   // E0503 no `applies`; E0501; E0502
//! ```

use super::Checker;
use crate::ast::{self, Ident};
use crate::catalog::pod_security::{self, CheckId, Level, Version};
use crate::catalog::pod_spec;
use crate::diag::{Diagnostic, did_you_mean};
use crate::ir::{self, AdmissionRule, IdField, Mode};
use crate::span::Span;
use std::collections::BTreeSet;

pub const FORBID: [&str; 7] = [
    "host-ipc",
    "host-namespaces",
    "host-network",
    "host-pid",
    "latest-tag",
    "privilege-escalation",
    "privileged",
];
pub const REQUIRE: [&str; 7] = [
    "drop-all-capabilities",
    "image-digest",
    "read-only-root-filesystem",
    "resource-limits",
    "resource-requests",
    "run-as-non-root",
    "seccomp-profile",
];

impl Checker<'_> {
    pub(super) fn check_admission(&mut self, adm: &ast::Admission) {
        if let Some(first) = self.program.admissions.get(&adm.name.text) {
            let first = first.span;
            self.duplicate(
                "E0105",
                "admission",
                &adm.name.text.clone(),
                adm.name.clone(),
                first,
            );
            return;
        }
        let name_ok = self.check_dns_label(&adm.name, "admission");
        let scope = self.admission_scope(adm);
        let mut rules: Vec<(AdmissionRule, crate::span::Span)> = Vec::new();
        for f in &adm.forbid {
            if let Some(rule) = self.rule_name(f, "forbid", &FORBID, &REQUIRE) {
                rules.push((rule, f.span));
            }
        }
        for r in &adm.require {
            if let Some(rule) = self.rule_name(r, "require", &REQUIRE, &FORBID) {
                rules.push((rule, r.span));
            }
        }
        if let Some(first) = adm.require_labels.first() {
            for key in &adm.require_labels {
                self.check_label_key(key);
            }
            let mut keys: Vec<String> = adm.require_labels.iter().map(|k| k.text.clone()).collect();
            keys.sort();
            keys.dedup();
            rules.push((AdmissionRule::RequireLabels(keys), first.span));
        }
        if let Some(first) = adm.require_annotations.first() {
            for key in &adm.require_annotations {
                self.check_label_key(key);
            }
            let mut keys: Vec<String> = adm
                .require_annotations
                .iter()
                .map(|k| k.text.clone())
                .collect();
            keys.sort();
            keys.dedup();
            rules.push((AdmissionRule::RequireAnnotations(keys), first.span));
        }
        if let Some(first) = adm.images.first() {
            for pattern in &adm.images {
                self.image_pattern(pattern);
            }
            let mut patterns: Vec<String> = adm.images.iter().map(|p| p.text.clone()).collect();
            patterns.sort();
            patterns.dedup();
            rules.push((AdmissionRule::ImagesFrom(patterns), first.span));
        }
        if let Some(rule) = self.pod_security(adm) {
            rules.push(rule);
        }
        rules.extend(self.pod_spec_rules(adm));
        let exempt_images = self.exempt_images(adm);
        rules.sort();
        rules.dedup_by(|a, b| a.0 == b.0);
        // A rule line that did not check has its own error; no second word about it.
        let lines = adm.forbid.len()
            + adm.require.len()
            + adm.require_labels.len()
            + adm.require_annotations.len()
            + adm.images.len()
            + adm.pod_security.len()
            + adm.forbid_host_paths.len()
            + adm.allow_capabilities.len()
            + adm.allow_volumes.len()
            + adm.ids.len()
            + adm.cel.len();
        if rules.is_empty() && lines == 0 {
            self.diags.push(
                Diagnostic::warning(
                    "W0507",
                    format!("admission `{}` has no rules", adm.name.text),
                )
                .primary(adm.name.span, "it admits everything")
                .help("add rules such as `forbid privileged` or `require run-as-non-root`"),
            );
        }
        let mode = self.mode(adm);
        let mut exemptions = Vec::new();
        for (check, reason, terms) in &adm.exempt {
            let (owner, until) = self.terms(terms);
            exemptions.push(ir::Exemption {
                what: check.text.clone(),
                reason: reason.text.clone(),
                owner,
                until,
                span: check.span,
            });
        }
        for (patterns, reason, terms) in &adm.exempt_images {
            let (owner, until) = self.terms(terms);
            let quoted: Vec<String> = patterns.iter().map(|p| format!("\"{}\"", p.text)).collect();
            exemptions.push(ir::Exemption {
                what: format!("images {}", quoted.join(", ")),
                reason: reason.text.clone(),
                owner,
                until,
                span: patterns.first().map_or(adm.name.span, |p| p.span),
            });
        }
        if name_ok {
            self.program.admissions.insert(
                adm.name.text.clone(),
                ir::Admission {
                    name: adm.name.text.clone(),
                    scope,
                    exempt_images,
                    exemptions,
                    rules,
                    mode,
                    accepted: super::accepts::annotation(&adm.accepts),
                    span: adm.name.span,
                },
            );
        }
    }

    /// The `applies to` line (exactly one) less the `except` lines.
    fn admission_scope(&mut self, adm: &ast::Admission) -> ir::AdmissionScope {
        self.scope_of(&adm.name, &adm.applies, &adm.except, true)
    }

    /// The namespaces of an `applies to` line less the `except` lines. Without an `applies to`
    /// line: an error where one is `required`, else every namespace.
    pub(super) fn scope_of(
        &mut self,
        name: &ast::Ident,
        applies: &[(ast::AdmissionScope, crate::span::Span)],
        excepts: &[(ast::AdmissionScope, crate::span::Span)],
        required: bool,
    ) -> ir::AdmissionScope {
        let mut scope = ir::AdmissionScope {
            names: Some(BTreeSet::new()),
            labels: ir::Selector::default(),
            except_names: BTreeSet::new(),
            except_labels: Vec::new(),
        };
        match applies {
            [] if !required => scope.names = None,
            [] => self.diags.push(
                Diagnostic::error(
                    "E0503",
                    format!(
                        "admission `{}` does not say where it applies",
                        name.text
                    ),
                )
                .primary(name.span, "no `applies to` line")
                .help("add `applies to workloads in namespace NAME`, `… in namespaces(LABELS)` or `… in all namespaces`"),
            ),
            [(first, _), rest @ ..] => {
                for (_, span) in rest {
                    self.diags.push(
                        Diagnostic::error("E0505", "`applies to` is given twice")
                            .primary(*span, "second `applies to`")
                            .help("list every namespace in one line, or select them by label"),
                    );
                }
                match first {
                    ast::AdmissionScope::Names(names) => {
                        let known = names
                            .iter()
                            .filter(|n| self.known_namespace(n))
                            .map(|n| n.text.clone())
                            .collect();
                        scope.names = Some(known);
                    }
                    ast::AdmissionScope::Labels(sel) => {
                        scope.names = None;
                        if let Some(sel) = sel {
                            scope.labels = self.label_selector(sel);
                        }
                    }
                    ast::AdmissionScope::All => scope.names = None,
                }
            }
        }
        for (except, span) in excepts {
            match except {
                // Namespaces warden does not declare (kube-system, the engines' own) are the
                // usual exclusions: a name need only be one Kubernetes accepts.
                ast::AdmissionScope::Names(names) => {
                    for n in names {
                        if self.check_dns_label(n, "namespace") {
                            scope.except_names.insert(n.text.clone());
                        }
                    }
                }
                ast::AdmissionScope::Labels(None) => self.diags.push(
                    Diagnostic::error("E0510", "`except namespaces()` leaves out every namespace")
                        .primary(*span, "the block would apply nowhere")
                        .help("name the label that marks the namespaces to leave out, e.g. `except namespaces(policy = exempt)`"),
                ),
                ast::AdmissionScope::Labels(Some(sel)) => {
                    if let [_, second, ..] = sel.requirements.as_slice() {
                        self.diags.push(
                            Diagnostic::error(
                                "E0510",
                                "an exclusion takes one label requirement",
                            )
                            .primary(second.key().span, "a second requirement")
                            .note("Gatekeeper and ValidatingAdmissionPolicy can leave out namespaces only by negating a requirement in their one namespace selector, and \"not (A and B)\" is not a selector")
                            .help("leave out namespaces with one label each, one `except namespaces(…)` line per label"),
                        );
                    } else {
                        scope.except_labels.push(self.label_selector(sel));
                    }
                }
                ast::AdmissionScope::All => {}
            }
        }
        scope.except_labels.sort();
        scope.except_labels.dedup();
        if let Some(names) = &scope.names {
            let both = excepts.iter().flat_map(|(e, _)| match e {
                ast::AdmissionScope::Names(n) => n.as_slice(),
                _ => &[],
            });
            for n in both.filter(|n| names.contains(&n.text)) {
                self.diags.push(
                    Diagnostic::warning(
                        "W0510",
                        format!("namespace `{}` is both named and left out", n.text),
                    )
                    .primary(n.span, "left out here")
                    .help("drop it from `applies to`"),
                );
            }
        }
        scope
    }

    /// `exempt images … because "…"`: patterns as for `images from`, and a reason.
    fn exempt_images(&mut self, adm: &ast::Admission) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for (patterns, reason, _) in &adm.exempt_images {
            if reason.text.trim().is_empty() {
                self.diags.push(
                    Diagnostic::error("E0509", "an exemption needs a reason")
                        .primary(reason.span, "empty")
                        .help("say why these images need not follow the block's container rules, for whoever audits it"),
                );
                continue;
            }
            for p in patterns {
                if self.image_pattern(p) {
                    out.push((p.text.clone(), reason.text.clone()));
                }
            }
        }
        out.sort();
        out.dedup_by(|a, b| a.0 == b.0);
        out
    }

    /// The rules over pod spec fields: host paths, capabilities, volume kinds, user and group ids,
    /// raw CEL.
    fn pod_spec_rules(&mut self, adm: &ast::Admission) -> Vec<(AdmissionRule, Span)> {
        let mut rules = Vec::new();
        if let Some(first) = adm.forbid_host_paths.first() {
            let mut paths: Vec<String> = adm
                .forbid_host_paths
                .iter()
                .filter_map(|p| self.host_path(p))
                .collect();
            paths.sort();
            paths.dedup();
            rules.push((AdmissionRule::ForbidHostPaths(paths), first.span));
        }
        if let Some(first) = adm.allow_capabilities.first() {
            let caps = self.known_names(
                &adm.allow_capabilities,
                &pod_spec::CAPABILITIES,
                "E0511",
                "Linux capability",
            );
            rules.push((AdmissionRule::AllowCapabilities(caps), first.span));
        }
        if let Some(first) = adm.allow_volumes.first() {
            let kinds = self.known_names(
                &adm.allow_volumes,
                &pod_spec::VOLUME_KINDS,
                "E0512",
                "volume kind",
            );
            rules.push((AdmissionRule::AllowVolumes(kinds), first.span));
        }
        let mut seen: Vec<(IdField, Span)> = Vec::new();
        for (field, ranges, span) in &adm.ids {
            let Some(id) = IdField::parse(&field.text) else {
                continue;
            };
            if let Some((_, first)) = seen.iter().find(|(f, _)| *f == id) {
                self.diags.push(
                    Diagnostic::error("E0505", format!("`{}` is given twice", field.text))
                        .primary(*span, "second line")
                        .secondary(*first, "first line")
                        .help("list every range in one line"),
                );
                continue;
            }
            seen.push((id, *span));
            match ranges {
                None if id == IdField::RunAsUser => {
                    rules.push((AdmissionRule::RunAsUserNonRoot, *span));
                }
                None => self.diags.push(
                    Diagnostic::error("E0513", format!("`{} non-root` is not a rule", field.text))
                        .primary(field.span, "only users are root or not")
                        .help(format!(
                            "give the allowed ids, e.g. `{} 1000-2000`",
                            field.text
                        )),
                ),
                Some(ranges) => {
                    if let Some(ranges) = self.id_ranges(ranges) {
                        rules.push((AdmissionRule::Ids { field: id, ranges }, *span));
                    }
                }
            }
        }
        for (expression, message) in &adm.cel {
            if let Some(rule) = self.cel_rule(expression, message) {
                rules.push((rule, expression.span));
            }
        }
        rules
    }

    /// Names that must be in `known`, sorted and deduplicated.
    fn known_names(
        &mut self,
        names: &[Ident],
        known: &[&str],
        code: &'static str,
        what: &str,
    ) -> Vec<String> {
        let mut out = Vec::new();
        for n in names {
            if known.contains(&n.text.as_str()) {
                out.push(n.text.clone());
                continue;
            }
            let mut d = Diagnostic::error(code, format!("unknown {what} `{}`", n.text))
                .primary(n.span, format!("not a {what}"));
            let bare = n
                .text
                .strip_prefix("CAP_")
                .unwrap_or(&n.text)
                .to_ascii_uppercase();
            if bare != n.text && known.contains(&bare.as_str()) {
                d = d.help(format!("write `{bare}`, as the pod spec names it"));
            } else if let Some(hint) = did_you_mean(&n.text, known.iter().copied()) {
                d = d.help(hint);
            } else {
                d = d.note(format!("the names are {}", known.join(", ")));
            }
            self.diags.push(d);
        }
        out.sort();
        out.dedup();
        out
    }

    /// `ID` or `FROM-TO` ranges of ids Kubernetes accepts (0 to 2147483647), sorted.
    fn id_ranges(&mut self, ranges: &[Ident]) -> Option<Vec<(u64, u64)>> {
        const MAX: u64 = 2_147_483_647;
        let mut out = Vec::new();
        let mut ok = true;
        for r in ranges {
            let (from, to) = r.text.split_once('-').unwrap_or((&r.text, &r.text));
            match (from.parse::<u64>(), to.parse::<u64>()) {
                (Ok(a), Ok(b)) if a <= b && b <= MAX => out.push((a, b)),
                (Ok(a), Ok(b)) if a > b => {
                    ok = false;
                    self.diags.push(
                        Diagnostic::error("E0513", format!("empty id range `{}`", r.text))
                            .primary(r.span, "it starts after it ends")
                            .help(format!("write `{b}-{a}`")),
                    );
                }
                _ => {
                    ok = false;
                    self.diags.push(
                        Diagnostic::error("E0513", format!("id `{}` out of range", r.text))
                            .primary(r.span, format!("user and group ids run from 0 to {MAX}")),
                    );
                }
            }
        }
        out.sort();
        ok.then_some(out)
    }

    /// A host path pattern: absolute, without `..` segments (Kubernetes refuses those), and
    /// without a trailing `/` once checked.
    fn host_path(&mut self, path: &Ident) -> Option<String> {
        let text = &path.text;
        let problem = if !text.starts_with('/') {
            Some("a host path is absolute: it starts with `/`")
        } else if text.split('/').any(|seg| seg == "..") {
            Some("`..` would step out of the path; Kubernetes refuses such host paths")
        } else if text.chars().any(char::is_control) || text.contains('*') {
            Some("a path, not a pattern: it forbids itself and everything below it")
        } else {
            None
        };
        if let Some(problem) = problem {
            self.diags.push(
                Diagnostic::error("E0514", format!("invalid host path `{}`", text.escape_debug()))
                    .primary(path.span, problem)
                    .note("`forbid host-paths \"/etc\"` refuses hostPath volumes at /etc and below it; \"/\" refuses every hostPath"),
            );
            return None;
        }
        Some(text.trim_end_matches('/').to_string())
    }

    fn rule_name(
        &mut self,
        name: &Ident,
        verb: &str,
        valid: &[&str],
        other: &[&str],
    ) -> Option<AdmissionRule> {
        let rule = match name.text.as_str() {
            "privileged" if verb == "forbid" => AdmissionRule::ForbidPrivileged,
            "host-namespaces" if verb == "forbid" => AdmissionRule::ForbidHostNamespaces,
            "host-network" if verb == "forbid" => AdmissionRule::ForbidHostField("hostNetwork"),
            "host-pid" if verb == "forbid" => AdmissionRule::ForbidHostField("hostPID"),
            "host-ipc" if verb == "forbid" => AdmissionRule::ForbidHostField("hostIPC"),
            "privilege-escalation" if verb == "forbid" => AdmissionRule::ForbidPrivilegeEscalation,
            "run-as-non-root" if verb == "require" => AdmissionRule::RequireRunAsNonRoot,
            "drop-all-capabilities" if verb == "require" => {
                AdmissionRule::RequireDropAllCapabilities
            }
            "seccomp-profile" if verb == "require" => AdmissionRule::RequireSeccompProfile,
            "latest-tag" if verb == "forbid" => AdmissionRule::ForbidLatestTag,
            "image-digest" if verb == "require" => AdmissionRule::RequireImageDigest,
            "resource-limits" if verb == "require" => AdmissionRule::RequireResourceLimits,
            "resource-requests" if verb == "require" => AdmissionRule::RequireResourceRequests,
            "read-only-root-filesystem" if verb == "require" => {
                AdmissionRule::RequireReadOnlyRootFilesystem
            }
            _ => {
                let mut d =
                    Diagnostic::error("E0501", format!("unknown rule `{verb} {}`", name.text))
                        .primary(name.span, format!("not something warden can {verb}"));
                if other.contains(&name.text.as_str()) {
                    let flip = if verb == "forbid" {
                        "require"
                    } else {
                        "forbid"
                    };
                    d = d.help(format!("write `{flip} {}`", name.text));
                } else if let Some(hint) = did_you_mean(&name.text, valid.iter().copied()) {
                    d = d.help(hint);
                } else {
                    let all: Vec<String> = valid.iter().map(|v| format!("`{v}`")).collect();
                    d = d.note(format!("`{verb}` takes {}", all.join(", ")));
                }
                self.diags.push(d);
                return None;
            }
        };
        Some(rule)
    }

    /// Image patterns use the characters of image references and `*`; anything else could not match
    /// an image and would have to be escaped into the generated expressions.
    fn image_pattern(&mut self, pattern: &Ident) -> bool {
        let bad = pattern.text.chars().find(|c| {
            !(c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '/' | ':' | '@' | '*'))
        });
        if pattern.text.is_empty() || bad.is_some() {
            let what = match bad {
                Some(c) => format!("`{}` cannot appear in an image reference", c.escape_debug()),
                None => "an empty pattern matches no image".to_string(),
            };
            let headline = format!("invalid image pattern `{}`", pattern.text.escape_debug());
            let note = "a pattern is an image reference in which `*` stands for any characters, e.g. `registry.example.com/shop/*`";
            self.diags.push(
                Diagnostic::error("E0504", headline)
                    .primary(pattern.span, what)
                    .note(note),
            );
            return false;
        }
        true
    }

    /// `pod-security LEVEL [version V]` (once) and its `exempt` lines.
    fn pod_security(&mut self, adm: &ast::Admission) -> Option<(AdmissionRule, Span)> {
        let catalog = pod_security::get();
        let Some((level, version, span)) = adm.pod_security.first() else {
            for (check, _, _) in &adm.exempt {
                self.diags.push(
                    Diagnostic::error("E0509", "`exempt` without `pod-security`")
                        .primary(check.span, "nothing to exempt this check from")
                        .help("add `pod-security baseline` or `pod-security restricted`"),
                );
            }
            return None;
        };
        for (_, _, again) in adm.pod_security.iter().skip(1) {
            self.diags.push(
                Diagnostic::error("E0505", "`pod-security` is given twice")
                    .primary(*again, "second `pod-security`")
                    .secondary(*span, "first `pod-security`"),
            );
        }
        let parsed_level = Level::parse(&level.text);
        if parsed_level.is_none() {
            let mut d = Diagnostic::error(
                "E0508",
                format!("unknown Pod Security level `{}`", level.text),
            )
            .primary(level.span, "not a level")
            .note("the levels are `baseline` and `restricted` (`privileged` allows everything: leave the block out)");
            if let Some(hint) = did_you_mean(&level.text, ["baseline", "restricted"]) {
                d = d.help(hint);
            }
            self.diags.push(d);
        }
        let (oldest, newest) = (catalog.oldest(), catalog.newest());
        let parsed_version = match version {
            None => Some(newest),
            Some(v) => match Version::parse(&v.text) {
                Some(parsed) if oldest <= parsed && parsed <= newest => Some(parsed),
                _ => {
                    let note = format!(
                        "warden's catalog holds the checks of {oldest} to {newest}; a newer cluster runs {newest}'s checks until the catalog follows"
                    );
                    let help = format!(
                        "write `version {newest}`, or leave the version out for the newest"
                    );
                    self.diags.push(
                        Diagnostic::error(
                            "E0508",
                            format!("Pod Security version `{}` is not one warden knows", v.text),
                        )
                        .primary(v.span, format!("not between {oldest} and {newest}"))
                        .note(note)
                        .help(help),
                    );
                    None
                }
            },
        };
        let mut exempt: Vec<(CheckId, String)> = Vec::new();
        for (check, reason, _) in &adm.exempt {
            let id = CheckId::parse(&check.text).filter(|id| catalog.check(*id).is_some());
            let Some(id) = id else {
                let ids: Vec<&str> = catalog.checks.iter().map(|c| c.id.name()).collect();
                let mut d = Diagnostic::error(
                    "E0509",
                    format!("unknown Pod Security check `{}`", check.text),
                )
                .primary(check.span, "not a check of the catalog");
                if let Some(hint) = did_you_mean(&check.text, ids.iter().copied()) {
                    d = d.help(hint);
                } else {
                    d = d.note(format!("the checks are {}", ids.join(", ")));
                }
                self.diags.push(d);
                continue;
            };
            if reason.text.trim().is_empty() {
                self.diags.push(
                    Diagnostic::error("E0509", "an exemption needs a reason")
                        .primary(reason.span, "empty")
                        .help("say why this check does not apply, for whoever audits it"),
                );
            } else if let (Some(l), Some(v)) = (parsed_level, parsed_version)
                && !catalog.checks(l, v).iter().any(|(c, _)| c.id == id)
            {
                self.diags.push(
                    Diagnostic::error(
                        "E0509",
                        format!("`{}` is not a check of {} at {v}", check.text, l.name()),
                    )
                    .primary(check.span, "nothing to exempt")
                    .note("a check exists from its first version on, and a restricted check replaces the baseline one it overrides"),
                );
            } else {
                exempt.push((id, reason.text.clone()));
            }
        }
        exempt.sort();
        exempt.dedup_by(|a, b| a.0 == b.0);
        Some((
            AdmissionRule::PodSecurity {
                level: parsed_level?,
                version: parsed_version?,
                exempt,
            },
            *span,
        ))
    }

    fn mode(&mut self, adm: &ast::Admission) -> Mode {
        let Some(first) = adm.modes.first() else {
            return Mode::Deny;
        };
        for again in adm.modes.iter().skip(1) {
            self.diags.push(
                Diagnostic::error("E0505", "`mode` is given twice")
                    .primary(again.span, "second `mode`")
                    .secondary(first.span, "first `mode`"),
            );
        }
        match first.text.as_str() {
            "deny" => Mode::Deny,
            "warn" => Mode::Warn,
            "audit" => {
                self.diags.push(
                    Diagnostic::warning(
                        "W0506",
                        format!("admission `{}` only audits", adm.name.text),
                    )
                    .primary(
                        first.span,
                        "violations are recorded in the audit log and admitted",
                    )
                    .help("use `mode deny` once the audit log is clean"),
                );
                Mode::Audit
            }
            other => {
                let mut d = Diagnostic::error("E0502", format!("unknown mode `{other}`"))
                    .primary(first.span, "not a mode")
                    .note("the modes are `deny`, `warn` and `audit`");
                if let Some(hint) = did_you_mean(other, ["deny", "warn", "audit"]) {
                    d = d.help(hint);
                }
                self.diags.push(d);
                Mode::Deny
            }
        }
    }
}
