//! Target `vap`: a ValidatingAdmissionPolicy and its binding per `admission` block (see
//! `targets/vap/README.md`).
//!
//! The policy matches Pods and the workload kinds that carry a pod template; variables find the pod
//! spec wherever the kind keeps it, so every validation is written once over `variables.podSpec`
//! and `variables.containers` (init, regular and ephemeral containers).

use super::{Document, Lowering, Schema, VERSION};
use crate::ir::{Admission, AdmissionRule, Mode};
use serde::Serialize;
use std::collections::BTreeSet;

#[derive(Serialize)]
pub(super) struct Variable {
    name: &'static str,
    expression: String,
}

#[derive(Serialize)]
pub(super) struct Validation {
    expression: String,
    message: String,
}

/// The CEL of an admission block: the variables, then one validation per rule (per check for
/// Pod Security). `kyverno` writes the same CEL into a ClusterPolicy.
pub(super) fn cel(adm: &Admission) -> (Vec<Variable>, Vec<Validation>) {
    let mut variables = vec![
        Variable {
            name: "podSpec",
            expression: POD_SPEC.to_string(),
        },
        Variable {
            name: "containers",
            expression: CONTAINERS.to_string(),
        },
    ];
    // Labels and the AppArmor annotations are in the pod's metadata.
    if adm.rules.iter().any(|(r, _)| {
        matches!(
            r,
            AdmissionRule::RequireLabels(_) | AdmissionRule::PodSecurity { .. }
        )
    }) {
        variables.push(Variable {
            name: "podMeta",
            expression: POD_META.to_string(),
        });
    }
    let validations = adm.rules.iter().flat_map(|(r, _)| validations(r)).collect();
    (variables, validations)
}

/// The exempted Pod Security checks and why, as one annotation value.
pub(super) fn exemptions(adm: &Admission) -> String {
    adm.rules
        .iter()
        .filter_map(|(r, _)| match r {
            AdmissionRule::PodSecurity { exempt, .. } => Some(exempt),
            _ => None,
        })
        .flatten()
        .map(|(check, reason)| format!("{check}: {reason}"))
        .collect::<Vec<_>>()
        .join("; ")
}

#[derive(Serialize)]
struct PolicyView<'a> {
    name: &'a str,
    source: String,
    /// The exempted Pod Security checks and why, for whoever audits the policy.
    exemptions: String,
    version: &'static str,
    variables: Vec<Variable>,
    validations: Vec<Validation>,
}

#[derive(Serialize)]
struct BindingView<'a> {
    name: &'a str,
    source: String,
    version: &'static str,
    actions: Vec<&'static str>,
    scope: super::views::ScopeView,
}

const POD_SPEC: &str = "object.kind == 'Pod' ? object.spec : (object.kind == 'CronJob' ? object.spec.jobTemplate.spec.template.spec : object.spec.template.spec)";
const POD_META: &str = "object.kind == 'Pod' ? object.metadata : (object.kind == 'CronJob' ? (has(object.spec.jobTemplate.spec.template.metadata) ? object.spec.jobTemplate.spec.template.metadata : {}) : (has(object.spec.template.metadata) ? object.spec.template.metadata : {}))";
/// The containers that may carry resources: ephemeral ones cannot.
const WORKLOAD_CONTAINERS: &str = "variables.podSpec.containers + (has(variables.podSpec.initContainers) ? variables.podSpec.initContainers : [])";
const CONTAINERS: &str = "variables.podSpec.containers + (has(variables.podSpec.initContainers) ? variables.podSpec.initContainers : []) + (has(variables.podSpec.ephemeralContainers) ? variables.podSpec.ephemeralContainers : [])";

pub(super) fn lower(cx: &Lowering<'_>) -> Result<Vec<Document>, String> {
    let mut docs = Vec::new();
    for adm in cx.program.admissions.values() {
        let source = cx.location(adm.span);
        let sources = BTreeSet::from([cx.file(adm.span)]);
        let (variables, validations) = cel(adm);
        let policy = PolicyView {
            name: &adm.name,
            source: source.clone(),
            exemptions: exemptions(adm),
            version: VERSION,
            variables,
            validations,
        };
        docs.push(Document {
            // Names are DNS labels, without dots, so these two paths cannot collide with another block's.
            path: format!("vap/{}.policy.yaml", adm.name),
            text: crate::render::render("vap/policy.yaml", &policy)?,
            schema: Schema::ValidatingAdmissionPolicy,
            sources: sources.clone(),
        });
        let binding = BindingView {
            name: &adm.name,
            source,
            version: VERSION,
            actions: actions(adm),
            scope: super::views::scope_view(&adm.scope),
        };
        docs.push(Document {
            path: format!("vap/{}.binding.yaml", adm.name),
            text: crate::render::render("vap/binding.yaml", &binding)?,
            schema: Schema::ValidatingAdmissionPolicyBinding,
            sources,
        });
    }
    Ok(docs)
}

fn actions(adm: &Admission) -> Vec<&'static str> {
    match adm.mode {
        Mode::Deny => vec!["Deny"],
        Mode::Warn => vec!["Warn"],
        Mode::Audit => vec!["Audit"],
    }
}

/// A CEL string literal. User values reach CEL only through here (and are restricted by `check`
/// to a safe alphabet before), so no pattern or label key can change an expression.
fn cel_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_ascii_graphic() || c == ' ' => out.push(c),
            c => out.push_str(&format!("\\u{:04x}", u32::from(c))),
        }
    }
    out.push('"');
    out
}

/// An RE2 pattern matching exactly `glob`, where `*` stands for any characters.
pub(super) fn glob_regex(glob: &str) -> String {
    let mut re = String::from("^");
    for c in glob.chars() {
        match c {
            '*' => re.push_str(".*"),
            c if c.is_ascii_alphanumeric() => re.push(c),
            c => {
                re.push('\\');
                re.push(c);
            }
        }
    }
    re.push('$');
    re
}

fn image_match(pattern: &str) -> String {
    match pattern.find('*') {
        None => format!("c.image == {}", cel_string(pattern)),
        Some(i) if i + 1 == pattern.len() => {
            format!(
                "c.image.startsWith({})",
                cel_string(pattern.get(..i).unwrap_or(""))
            )
        }
        Some(_) => format!("c.image.matches({})", cel_string(&glob_regex(pattern))),
    }
}

/// A Pod Security check as a rule of its own: its first implementation, without relaxations.
fn pss_check(id: &str) -> String {
    super::pss_cel::check(id, &Default::default())
}

fn sc(field: &str) -> String {
    format!("has(c.securityContext) && has(c.securityContext.{field})")
}

fn pod_sc(field: &str) -> String {
    format!(
        "has(variables.podSpec.securityContext) && has(variables.podSpec.securityContext.{field})"
    )
}

fn validations(rule: &AdmissionRule) -> Vec<Validation> {
    let (expression, message) = match rule {
        AdmissionRule::PodSecurity {
            level,
            version,
            exempt,
        } => {
            return super::pss_cel::validations(*level, *version, exempt)
                .into_iter()
                .map(|(id, expression, fields)| Validation {
                    expression,
                    message: format!(
                        "Pod Security {} {version}: check {id} fails ({fields})",
                        level.name()
                    ),
                })
                .collect();
        }
        AdmissionRule::ForbidPrivileged => (
            pss_check("privileged"),
            "privileged containers are forbidden: every container must leave securityContext.privileged unset or false".to_string(),
        ),
        AdmissionRule::ForbidHostNamespaces => (
            pss_check("hostNamespaces"),
            "sharing the host's namespaces is forbidden: spec.hostNetwork, spec.hostPID and spec.hostIPC must be unset or false".to_string(),
        ),
        AdmissionRule::ForbidPrivilegeEscalation => (
            pss_check("allowPrivilegeEscalation"),
            "privilege escalation is forbidden: every container must set securityContext.allowPrivilegeEscalation to false".to_string(),
        ),
        AdmissionRule::RequireRunAsNonRoot => (
            format!(
                "variables.containers.all(c, ({}) ? c.securityContext.runAsNonRoot == true : ({} && variables.podSpec.securityContext.runAsNonRoot == true)) && !({} && variables.podSpec.securityContext.runAsUser == 0) && variables.containers.all(c, !({} && c.securityContext.runAsUser == 0))",
                sc("runAsNonRoot"),
                pod_sc("runAsNonRoot"),
                pod_sc("runAsUser"),
                sc("runAsUser")
            ),
            "containers must run as non-root: set securityContext.runAsNonRoot to true on the pod or on every container, and no runAsUser 0".to_string(),
        ),
        AdmissionRule::RequireDropAllCapabilities => (
            format!(
                "variables.containers.all(c, {} && has(c.securityContext.capabilities.drop) && c.securityContext.capabilities.drop.exists(d, d == 'ALL'))",
                sc("capabilities")
            ),
            "every container must drop all capabilities: securityContext.capabilities.drop must contain ALL".to_string(),
        ),
        AdmissionRule::RequireSeccompProfile => (
            format!(
                "variables.containers.all(c, ({}) ? c.securityContext.seccompProfile.type in ['RuntimeDefault', 'Localhost'] : ({} && variables.podSpec.securityContext.seccompProfile.type in ['RuntimeDefault', 'Localhost']))",
                sc("seccompProfile"),
                pod_sc("seccompProfile")
            ),
            "a seccomp profile is required: set securityContext.seccompProfile.type to RuntimeDefault or Localhost on the pod or on every container".to_string(),
        ),
        AdmissionRule::ImagesFrom(patterns) => (
            format!(
                "variables.containers.all(c, {})",
                patterns.iter().map(|p| image_match(p)).collect::<Vec<_>>().join(" || ")
            ),
            format!("every container image must match one of: {}", patterns.join(", ")),
        ),
        AdmissionRule::ForbidLatestTag => (
            "variables.containers.all(c, c.image.contains('@') || (c.image.matches(':[^/:]+$') && !c.image.endsWith(':latest')))".to_string(),
            "images must carry a tag other than latest, or a digest: no container image may be untagged or :latest".to_string(),
        ),
        AdmissionRule::RequireImageDigest => (
            "variables.containers.all(c, c.image.matches('@sha256:[0-9a-f]{64}$'))".to_string(),
            "every container image must be pinned by digest: IMAGE@sha256:…".to_string(),
        ),
        AdmissionRule::RequireResourceLimits | AdmissionRule::RequireResourceRequests => {
            let which = if matches!(rule, AdmissionRule::RequireResourceLimits) { "limits" } else { "requests" };
            (
                format!("({WORKLOAD_CONTAINERS}).all(c, has(c.resources) && has(c.resources.{which}) && 'cpu' in c.resources.{which} && 'memory' in c.resources.{which})"),
                format!("every container and init container must set resources.{which}.cpu and resources.{which}.memory"),
            )
        }
        AdmissionRule::RequireLabels(keys) => (
            format!(
                "has(variables.podMeta.labels) && [{}].all(k, k in variables.podMeta.labels)",
                keys.iter().map(|k| cel_string(k)).collect::<Vec<_>>().join(", ")
            ),
            format!("pods must carry the labels: {}", keys.join(", ")),
        ),
    };
    vec![Validation {
        expression,
        message,
    }]
}
