//! Target `gatekeeper`: a ConstraintTemplate (Rego, from `rego`) and its Constraint per
//! `admission` block (see `targets/gatekeeper/README.md`).

use super::vap::exemptions;
use super::{Document, Lowering, Schema, VERSION};
use crate::ir::Mode;
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

/// Why a program cannot be said as Gatekeeper constraints: two admission blocks whose names give
/// the same template name (`a-b` is `WardenAB` and `ab` is `WardenAb`: both `wardenab`).
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
    out
}

pub(super) fn lower(cx: &Lowering<'_>) -> Result<Vec<Document>, String> {
    let admissions: Vec<&crate::ir::Admission> = cx.program.admissions.values().collect();
    super::each(&admissions, |adm| {
        let mut docs = Vec::new();
        let kind = kind(&adm.name);
        // Gatekeeper requires the template's name to be its kind in lowercase.
        let template = kind.to_lowercase();
        let sources = vec![cx.file(adm.span)];
        let view = TemplateView {
            template: template.clone(),
            kind: &kind,
            source: cx.location(adm.span),
            exemptions: exemptions(adm),
            version: VERSION,
            rego: super::rego::module(&format!("warden.{template}"), adm),
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
            version: VERSION,
            action: match adm.mode {
                Mode::Deny => "deny",
                Mode::Warn => "warn",
                Mode::Audit => "dryrun",
            },
            scope: super::views::scope_view(&adm.scope),
        };
        docs.push(Document {
            path: format!("gatekeeper/{}.constraint.yaml", adm.name),
            text: crate::render::render("gatekeeper/constraint.yaml", &constraint)?,
            schema: Schema::GatekeeperConstraint,
            sources,
            origin: Some(adm.span),
        });
        Ok(docs)
    })
}
