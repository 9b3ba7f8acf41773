//! Target `gatekeeper`: a ConstraintTemplate (Rego, from `rego`) and its Constraint per
//! `admission` block, and one template per Pod Security level, version and exemptions that the
//! blocks asking for it constrain (see `targets/gatekeeper/README.md`).

use super::admission::{SharedKey, exemptions_of, own_rules, shared_pod_security};
use super::{Document, Lowering, Schema, VERSION};
use crate::ir::Mode;
use serde::Serialize;

#[derive(Serialize)]
struct TemplateView<'a> {
    template: String,
    kind: &'a str,
    source: String,
    exemptions: String,
    /// The warnings the block accepts, and why (empty for a template blocks share).
    accepted: &'a str,
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
    /// The warnings the block accepts, and why.
    accepted: &'a str,
    version: &'static str,
    action: &'static str,
    scope: super::views::ScopeView<'a>,
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
                let headline = format!(
                    "target `gatekeeper` cannot run the CEL rule of admission `{}`",
                    adm.name
                );
                out.push(
                    crate::diag::Diagnostic::error("E0904", headline)
                    .primary(*span, "raw CEL")
                    .note("warden writes Gatekeeper's templates in Rego and does not translate CEL into it")
                    .help("build this block for `vap` or `kyverno`, or state the rule with warden's own rules"),
                );
            }
        }
        // A block with only `pod-security` has no template of its own, only a constraint.
        if own_rules(adm).next().is_none() {
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
        let Some((key, _, _)) = SharedKey::of(adm) else {
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

/// The Constraint of block `adm` of kind `kind`, at `path`, with the block's scope and mode.
/// Constraints are named within their kind: the block's name is unique there.
fn constraint(
    cx: &Lowering<'_>,
    adm: &crate::ir::Admission,
    kind: &str,
    path: String,
    exemptions: String,
) -> Result<Document, String> {
    let view = ConstraintView {
        kind,
        name: &adm.name,
        source: cx.location(adm.span),
        exemptions,
        accepted: &adm.accepted,
        version: VERSION,
        action: action(adm.mode),
        scope: super::views::scope_view(&adm.scope),
    };
    Ok(Document {
        path,
        text: super::render::render("gatekeeper/constraint.yaml", &view)?,
        schema: Schema::GatekeeperConstraint,
        sources: vec![cx.file(adm.span)],
        origin: Some(adm.span),
    })
}

pub(super) fn lower(cx: &Lowering<'_>) -> Result<Vec<Document>, String> {
    let admissions: Vec<&crate::ir::Admission> = cx.program.admissions.values().collect();
    let shared = shared_pod_security(&admissions);
    let mut docs = super::each(&shared, |shared| {
        let kind = shared_kind(&shared.key);
        let template = kind.to_lowercase();
        let view = TemplateView {
            template: template.clone(),
            kind: &kind,
            source: shared.source(cx),
            exemptions: shared.key.exemptions(),
            accepted: "",
            version: VERSION,
            rego: super::admission::rego::module(
                &format!("warden.{template}"),
                shared.exempt_images(),
                std::iter::once(shared.rule),
            ),
        };
        Ok(vec![Document {
            path: format!(
                "gatekeeper/pod-security/{}.template.yaml",
                shared.key.name().1
            ),
            text: super::render::render("gatekeeper/template.yaml", &view)?,
            schema: Schema::GatekeeperConstraintTemplate,
            sources: shared.sources(cx),
            origin: shared.origin(),
        }])
    })?;
    docs.extend(super::each(&admissions, |adm| {
        let mut docs = Vec::new();
        let own = own_rules(adm);
        // A block with nothing but `pod-security` has only the shared template's constraint.
        if own.clone().next().is_some() {
            let kind = kind(&adm.name);
            // Gatekeeper requires the template's name to be its kind in lowercase.
            let template = kind.to_lowercase();
            let view = TemplateView {
                template: template.clone(),
                kind: &kind,
                source: cx.location(adm.span),
                exemptions: exemptions_of(std::iter::empty(), &adm.exempt_images),
                accepted: &adm.accepted,
                version: VERSION,
                rego: super::admission::rego::module(
                    &format!("warden.{template}"),
                    &adm.exempt_images,
                    own,
                ),
            };
            docs.push(Document {
                path: format!("gatekeeper/{}.template.yaml", adm.name),
                text: super::render::render("gatekeeper/template.yaml", &view)?,
                schema: Schema::GatekeeperConstraintTemplate,
                sources: vec![cx.file(adm.span)],
                origin: Some(adm.span),
            });
            let path = format!("gatekeeper/{}.constraint.yaml", adm.name);
            docs.push(constraint(cx, adm, &kind, path, String::new())?);
        }
        if let Some((key, rule, _)) = SharedKey::of(adm) {
            let path = format!("gatekeeper/{}.pod-security.constraint.yaml", adm.name);
            let exemptions = exemptions_of(std::iter::once(rule), &adm.exempt_images);
            docs.push(constraint(cx, adm, &shared_kind(&key), path, exemptions)?);
        }
        Ok(docs)
    })?);
    Ok(docs)
}
