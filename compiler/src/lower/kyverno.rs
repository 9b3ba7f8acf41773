//! Target `kyverno`: a Kyverno ClusterPolicy per `admission` block (see
//! `targets/kyverno/README.md`), in Kyverno's CEL form, with the very variables and expressions
//! the `vap` target writes, so one CEL engine checks both.

use super::admission::{MatchCondition, Validation, Variable, cel, exemptions, match_conditions};
use super::{Document, Lowering, Schema, VERSION};
use crate::ir::Mode;
use serde::Serialize;

#[derive(Serialize)]
struct PolicyView<'a> {
    name: &'a str,
    source: String,
    exemptions: String,
    /// The warnings the block accepts, and why.
    accepted: &'a str,
    version: &'static str,
    emit_warning: bool,
    failure_action: &'static str,
    scope: super::views::ScopeView<'a>,
    match_conditions: Vec<MatchCondition>,
    variables: Vec<Variable>,
    validations: Vec<Validation>,
}

pub(super) fn lower(cx: &Lowering<'_>) -> Result<Vec<Document>, String> {
    let admissions: Vec<&crate::ir::Admission> = cx.program.admissions.values().collect();
    super::each(&admissions, |adm| {
        let (variables, validations) = cel(cx, adm);
        // A block without rules admits everything (W0507 says so); Kyverno requires at least one
        // expression, so it gets no policy rather than an invalid one.
        if validations.is_empty() {
            return Ok(Vec::new());
        }
        // deny blocks; warn admits with a warning to the client; audit admits and reports.
        let (failure_action, emit_warning) = match adm.mode {
            Mode::Deny => ("Enforce", false),
            Mode::Warn => ("Audit", true),
            Mode::Audit => ("Audit", false),
        };
        let view = PolicyView {
            name: &adm.name,
            source: cx.location(adm.span),
            exemptions: exemptions(adm),
            accepted: &adm.accepted,
            version: VERSION,
            emit_warning,
            failure_action,
            scope: super::views::scope_view(&adm.scope),
            match_conditions: match_conditions(),
            variables,
            validations,
        };
        Ok(vec![Document {
            path: format!("kyverno/{}.yaml", adm.name),
            text: super::render::render("kyverno/clusterpolicy.yaml", &view)?,
            schema: Schema::KyvernoClusterPolicy,
            sources: vec![cx.file(adm.span)],
            origin: Some(adm.span),
        }])
    })
}
