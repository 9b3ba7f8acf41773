//! Target `vap`: a ValidatingAdmissionPolicy and its binding per `admission` block, one policy per
//! Pod Security level, version and exemptions that the blocks asking for it bind, and per
//! namespace the policy requiring its services' seccomp profiles (see `targets/vap/README.md`).
//!
//! The policy matches Pods and the workload kinds that carry a pod template; its variables find
//! the pod spec wherever the kind keeps it, so every validation is written once over
//! `variables.podSpec` and `variables.containers` (`admission::cel`).

use super::admission::{
    self, MatchCondition, SharedKey, Validation, Variable, cel_of, exemptions_of, match_conditions,
    own_rules, shared_pod_security,
};
use super::{Document, Lowering, Schema, VERSION};
use crate::ir::{Admission, Mode};
use serde::Serialize;
use std::collections::BTreeSet;

#[derive(Serialize)]
struct PolicyView<'a> {
    name: &'a str,
    source: String,
    /// The exempted Pod Security checks and why, for whoever audits the policy.
    exemptions: String,
    /// The warnings the block accepts, and why (empty for a policy blocks share).
    accepted: &'a str,
    version: &'static str,
    match_conditions: Vec<MatchCondition>,
    variables: Vec<Variable>,
    validations: Vec<Validation>,
}

#[derive(Serialize)]
struct BindingView<'a> {
    name: &'a str,
    /// The policy bound: the block's own, or the Pod Security policy it shares.
    policy: &'a str,
    /// Why the block exempts what the shared policy leaves out.
    exemptions: String,
    /// The warnings the block accepts, and why.
    accepted: &'a str,
    source: String,
    version: &'static str,
    actions: Vec<&'static str>,
    scope: super::views::ScopeView<'a>,
}

/// For each namespace with services that have a `syscalls` block, a policy and binding that
/// require each such service's pods (and the pod templates of its workloads) to run every
/// container with its profile: a profile nobody references protects nothing. One validation per
/// service; one document pair per namespace keeps a cluster's policy count down.
fn seccomp_wiring(cx: &Lowering<'_>) -> Result<Vec<Document>, String> {
    let mut by_namespace: std::collections::BTreeMap<&str, Vec<&crate::ir::Service>> =
        std::collections::BTreeMap::new();
    for svc in cx.program.services.values() {
        if svc.syscalls.is_some() {
            by_namespace.entry(&svc.id.namespace).or_default().push(svc);
        }
    }
    let by_namespace: Vec<(&str, Vec<&crate::ir::Service>)> = by_namespace.into_iter().collect();
    super::each(&by_namespace, |(namespace, services)| {
        let mut docs = Vec::new();
        // Dots keep these names apart from every admission block's (DNS labels, no dots).
        let name = format!("warden-seccomp.{namespace}");
        let mut validations = Vec::new();
        let mut sources = BTreeSet::new();
        let mut spans = Vec::new();
        // The namespace's documents point at its first service with a `syscalls` block.
        let origin = services
            .iter()
            .find_map(|s| s.syscalls.as_ref())
            .map(|p| p.span);
        for svc in services {
            let Some(policy) = &svc.syscalls else {
                continue;
            };
            sources.insert(cx.file(policy.span));
            spans.push(cx.location(policy.span));
            validations.push(admission::seccomp::validation(svc));
        }
        let source = spans.join(", ");
        let sources: Vec<String> = sources.into_iter().collect();
        let view = PolicyView {
            name: &name,
            source: source.clone(),
            exemptions: String::new(),
            accepted: "",
            version: VERSION,
            match_conditions: match_conditions(),
            variables: admission::seccomp::variables(),
            validations,
        };
        docs.push(Document {
            path: format!("vap/seccomp/{namespace}.policy.yaml"),
            text: super::render::render("vap/policy.yaml", &view)?,
            schema: Schema::ValidatingAdmissionPolicy,
            sources: sources.clone(),
            origin,
        });
        let scope = crate::ir::AdmissionScope {
            names: Some(BTreeSet::from([namespace.to_string()])),
            labels: crate::ir::Selector::default(),
            except_names: BTreeSet::new(),
            except_labels: Vec::new(),
        };
        let binding = BindingView {
            name: &name,
            policy: &name,
            exemptions: String::new(),
            accepted: "",
            source,
            version: VERSION,
            actions: vec!["Deny"],
            scope: super::views::scope_view(&scope),
        };
        docs.push(Document {
            path: format!("vap/seccomp/{namespace}.binding.yaml"),
            text: super::render::render("vap/binding.yaml", &binding)?,
            schema: Schema::ValidatingAdmissionPolicyBinding,
            sources,
            origin,
        });
        Ok(docs)
    })
}

/// The binding of block `adm` named `name` to `policy`, with the block's scope and mode.
fn binding(
    cx: &Lowering<'_>,
    adm: &Admission,
    name: &str,
    policy: &str,
    exemptions: String,
) -> Result<Document, String> {
    let view = BindingView {
        name,
        policy,
        exemptions,
        accepted: &adm.accepted,
        source: cx.location(adm.span),
        version: VERSION,
        actions: actions(adm),
        scope: super::views::scope_view(&adm.scope),
    };
    Ok(Document {
        path: format!("vap/{name}.binding.yaml"),
        text: super::render::render("vap/binding.yaml", &view)?,
        schema: Schema::ValidatingAdmissionPolicyBinding,
        sources: vec![cx.file(adm.span)],
        origin: Some(adm.span),
    })
}

pub(super) fn lower(cx: &Lowering<'_>) -> Result<Vec<Document>, String> {
    let mut docs = seccomp_wiring(cx)?;
    let admissions: Vec<&Admission> = cx.program.admissions.values().collect();
    let shared = shared_pod_security(&admissions);
    docs.extend(super::each(&shared, |shared| {
        let (name, file) = shared.key.name();
        let (variables, validations) =
            cel_of(cx, shared.exempt_images(), std::iter::once(shared.rule));
        let policy = PolicyView {
            name: &name,
            source: shared.source(cx),
            exemptions: shared.key.exemptions(),
            accepted: "",
            version: VERSION,
            match_conditions: match_conditions(),
            variables,
            validations,
        };
        Ok(vec![Document {
            path: format!("vap/pod-security/{file}.policy.yaml"),
            text: super::render::render("vap/policy.yaml", &policy)?,
            schema: Schema::ValidatingAdmissionPolicy,
            sources: shared.sources(cx),
            origin: shared.origin(),
        }])
    })?);
    docs.extend(super::each(&admissions, |adm| {
        let mut docs = Vec::new();
        let own = own_rules(adm);
        // A block with nothing but `pod-security` has only the shared policy's binding.
        if own.clone().next().is_some() {
            let (variables, validations) = cel_of(cx, &adm.exempt_images, own);
            let policy = PolicyView {
                name: &adm.name,
                source: cx.location(adm.span),
                exemptions: exemptions_of(std::iter::empty(), &adm.exempt_images),
                accepted: &adm.accepted,
                version: VERSION,
                match_conditions: match_conditions(),
                variables,
                validations,
            };
            docs.push(Document {
                // Names are DNS labels, without dots, so these paths cannot collide with another
                // block's.
                path: format!("vap/{}.policy.yaml", adm.name),
                text: super::render::render("vap/policy.yaml", &policy)?,
                schema: Schema::ValidatingAdmissionPolicy,
                sources: vec![cx.file(adm.span)],
                origin: Some(adm.span),
            });
            docs.push(binding(cx, adm, &adm.name, &adm.name, String::new())?);
        }
        if let Some((key, rule, _)) = SharedKey::of(adm) {
            let name = format!("{}.pod-security", adm.name);
            let exemptions = exemptions_of(std::iter::once(rule), &adm.exempt_images);
            docs.push(binding(cx, adm, &name, &key.name().0, exemptions)?);
        }
        Ok(docs)
    })?);
    Ok(docs)
}

fn actions(adm: &Admission) -> Vec<&'static str> {
    match adm.mode {
        Mode::Deny => vec!["Deny"],
        Mode::Warn => vec!["Warn"],
        Mode::Audit => vec!["Audit"],
    }
}
