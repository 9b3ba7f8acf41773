//! Target `gatekeeper`: a ConstraintTemplate (Rego, from `rego`) and its Constraint per
//! `admission` block (see `targets/gatekeeper/README.md`).

use super::vap::exemptions;
use super::{Document, Lowering, Schema, VERSION};
use crate::ir::Mode;
use serde::Serialize;
use std::collections::BTreeSet;

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
    namespaces: Vec<&'a str>,
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

pub(super) fn lower(cx: &Lowering<'_>) -> Result<Vec<Document>, String> {
    let mut docs = Vec::new();
    for adm in cx.program.admissions.values() {
        let kind = kind(&adm.name);
        // Gatekeeper requires the template's name to be its kind in lowercase.
        let template = kind.to_lowercase();
        let sources = BTreeSet::from([cx.file(adm.span)]);
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
            namespaces: adm.namespaces.iter().map(String::as_str).collect(),
        };
        docs.push(Document {
            path: format!("gatekeeper/{}.constraint.yaml", adm.name),
            text: crate::render::render("gatekeeper/constraint.yaml", &constraint)?,
            schema: Schema::GatekeeperConstraint,
            sources,
        });
    }
    Ok(docs)
}
