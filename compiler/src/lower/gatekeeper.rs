//! Target `gatekeeper`: a ConstraintTemplate (Rego, from `rego`) and its Constraint per
//! `admission` block, and one template per Pod Security level, version and exemptions that the
//! blocks asking for it constrain (see `targets/gatekeeper/README.md`).

use super::vap::{SharedKey, exemptions_of, shared_pod_security, shared_source};
use super::{Document, Lowering, Schema, VERSION};
use crate::ir::{AdmissionRule, Mode};
use serde::Serialize;

#[derive(Serialize)]
struct TemplateView<'a> {
    template: String,
    kind: &'a str,
    source: String,
    exemptions: String,
    version: &'static str,
    rego: String,
}

#[derive(Serialize)]
struct ConstraintView<'a> {
    kind: &'a str,
    name: &'a str,
    source: String,
    /// Why the block exempts what the shared Pod Security template leaves out.
    exemptions: String,
    version: &'static str,
    action: &'static str,
    scope: super::views::ScopeView,
}

/// The Constraint kind of a block: `Warden` and the name in CamelCase, each `-`-separated word
/// capitalised (`online-boutique` is `WardenOnlineBoutique`).
pub fn kind(name: &str) -> String {
    let mut out = String::from("Warden");
    for word in name.split('-') {
        let mut chars = word.chars();
        if let Some(first) = chars.next() {
            out.extend(first.to_uppercase());
            out.push_str(chars.as_str());
        }
    }
    out
}

/// Whether the block has rules besides `pod-security`, which make a template of its own.
fn has_own_rules(adm: &crate::ir::Admission) -> bool {
    adm.rules
        .iter()
        .any(|(r, _)| !matches!(r, AdmissionRule::PodSecurity { .. }))
}

/// Why a program cannot be said as Gatekeeper constraints: a raw CEL rule; two admission blocks
/// whose names give the same template name (`a-b` is `WardenAB` and `ab` is `WardenAb`: both
/// `wardenab`), or a block's template the name of a shared Pod Security template.
pub(super) fn limits(program: &crate::ir::Program) -> Vec<crate::diag::Diagnostic> {
    let mut seen: std::collections::BTreeMap<String, &crate::ir::Admission> =
        std::collections::BTreeMap::new();
    let mut out = Vec::new();
    for adm in program.admissions.values() {
        for (rule, span) in &adm.rules {
            if matches!(rule, crate::ir::AdmissionRule::Cel { .. }) {
                out.push(
                    crate::diag::Diagnostic::error(
                        "E0904",
                        format!("target `gatekeeper` cannot run the CEL rule of admission `{}`", adm.name),
                    )
                    .primary(*span, "raw CEL")
                    .note("warden writes Gatekeeper's templates in Rego and does not translate CEL into it")
                    .help("build this block for `vap` or `kyverno`, or state the rule with warden's own rules"),
                );
            }
        }
        // A block with only `pod-security` has no template of its own, only a constraint.
        if !has_own_rules(adm) {
            continue;
        }
        let template = kind(&adm.name).to_lowercase();
        if let Some(first) = seen.get(&template) {
            out.push(
                crate::diag::Diagnostic::error(
                    "E0903",
                    format!(
                        "target `gatekeeper` would name admission `{}` and `{}` alike",
                        first.name, adm.name
                    ),
                )
                .primary(adm.span, format!("its ConstraintTemplate would be `{template}`"))
                .secondary(first.span, "and so would this one's")
                .note("Gatekeeper names a template after its Constraint kind in lowercase, and warden's kinds drop the `-` of the names")
                .help("rename one of the blocks"),
            );
        } else {
            seen.insert(template, adm);
        }
    }
    // A shared Pod Security template's name is a `warden…` name too: a block could be named so.
    let mut shared = std::collections::BTreeSet::new();
    for adm in program.admissions.values() {
        let Some((key, _)) = SharedKey::of(adm) else {
            continue;
        };
        let template = shared_kind(&key).to_lowercase();
        if let Some(block) = seen.get(&template)
            && shared.insert(template.clone())
        {
            out.push(
                crate::diag::Diagnostic::error(
                    "E0903",
                    format!(
                        "target `gatekeeper` would name admission `{}` like the Pod Security template of `{}`",
                        block.name, adm.name
                    ),
                )
                .primary(block.span, format!("its ConstraintTemplate would be `{template}`"))
                .secondary(adm.span, "and so would the Pod Security template this block shares")
                .note("Gatekeeper names a template after its Constraint kind in lowercase; the Pod Security template of a level and version is `WardenPodSecurity`, the level and the version")
                .help("rename the block"),
            );
        }
    }
    out
}

/// The Constraint kind of a shared Pod Security template (`vap::SharedKey`):
/// `WardenPodSecurity`, the level, the version (`V1Dot37`) and, when anything is exempted,
/// `X` and the digest of what is.
fn shared_kind(key: &SharedKey<'_>) -> String {
    let mut out = kind(&format!("pod-security-{}", key.level.name()));
    out.push_str(
        &key.version
            .to_string()
            .replace('v', "V")
            .replace('.', "Dot"),
    );
    if let Some(digest) = key.digest() {
        out.push('X');
        out.push_str(&digest);
    }
    out
}

fn action(mode: Mode) -> &'static str {
    match mode {
        Mode::Deny => "deny",
        Mode::Warn => "warn",
        Mode::Audit => "dryrun",
    }
}

pub(super) fn lower(cx: &Lowering<'_>) -> Result<Vec<Document>, String> {
    let admissions: Vec<&crate::ir::Admission> = cx.program.admissions.values().collect();
    let shared = shared_pod_security(&admissions);
    let mut docs = super::each(&shared, |(key, rule, users)| {
        let kind = shared_kind(key);
        let template = kind.to_lowercase();
        let images = users.first().map_or(&[][..], |adm| &adm.exempt_images);
        let origin = users
            .first()
            .and_then(|adm| adm.rules.iter().find(|(r, _)| r == *rule))
            .map(|(_, span)| *span);
        let sources: std::collections::BTreeSet<String> =
            users.iter().map(|adm| cx.file(adm.span)).collect();
        let view = TemplateView {
            template: template.clone(),
            kind: &kind,
            source: shared_source(cx, users),
            exemptions: key.exemptions(),
            version: VERSION,
            rego: super::rego::module(
                &format!("warden.{template}"),
                images,
                std::iter::once(*rule),
            ),
        };
        Ok(vec![Document {
            path: format!("gatekeeper/pod-security/{}.template.yaml", key.name().1),
            text: crate::render::render("gatekeeper/template.yaml", &view)?,
            schema: Schema::GatekeeperConstraintTemplate,
            sources: sources.into_iter().collect(),
            origin,
        }])
    })?;
    docs.extend(super::each(&admissions, |adm| {
        let mut docs = Vec::new();
        let kind = kind(&adm.name);
        // Gatekeeper requires the template's name to be its kind in lowercase.
        let template = kind.to_lowercase();
        let sources = vec![cx.file(adm.span)];
        // A block with nothing but `pod-security` has only the shared template's constraint.
        if has_own_rules(adm) {
            let own = adm
                .rules
                .iter()
                .map(|(r, _)| r)
                .filter(|r| !matches!(r, AdmissionRule::PodSecurity { .. }));
            let view = TemplateView {
                template: template.clone(),
                kind: &kind,
                source: cx.location(adm.span),
                exemptions: exemptions_of(std::iter::empty(), &adm.exempt_images),
                version: VERSION,
                rego: super::rego::module(&format!("warden.{template}"), &adm.exempt_images, own),
            };
            docs.push(Document {
                path: format!("gatekeeper/{}.template.yaml", adm.name),
                text: crate::render::render("gatekeeper/template.yaml", &view)?,
                schema: Schema::GatekeeperConstraintTemplate,
                sources: sources.clone(),
                origin: Some(adm.span),
            });
            let constraint = ConstraintView {
                kind: &kind,
                name: &adm.name,
                source: cx.location(adm.span),
                exemptions: String::new(),
                version: VERSION,
                action: action(adm.mode),
                scope: super::views::scope_view(&adm.scope),
            };
            docs.push(Document {
                path: format!("gatekeeper/{}.constraint.yaml", adm.name),
                text: crate::render::render("gatekeeper/constraint.yaml", &constraint)?,
                schema: Schema::GatekeeperConstraint,
                sources: sources.clone(),
                origin: Some(adm.span),
            });
        }
        if let Some((key, rule)) = SharedKey::of(adm) {
            // Constraints are named within their kind: the block's name is unique there.
            let kind = shared_kind(&key);
            let constraint = ConstraintView {
                kind: &kind,
                name: &adm.name,
                source: cx.location(adm.span),
                exemptions: exemptions_of(std::iter::once(rule), &adm.exempt_images),
                version: VERSION,
                action: action(adm.mode),
                scope: super::views::scope_view(&adm.scope),
            };
            docs.push(Document {
                path: format!("gatekeeper/{}.pod-security.constraint.yaml", adm.name),
                text: crate::render::render("gatekeeper/constraint.yaml", &constraint)?,
                schema: Schema::GatekeeperConstraint,
                sources,
                origin: Some(adm.span),
            });
        }
        Ok(docs)
    })?);
    Ok(docs)
}
