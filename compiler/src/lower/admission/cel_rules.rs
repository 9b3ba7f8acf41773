//! The CEL of each rule besides `pod-security` (whose checks are `pss_cel`'s): the condition
//! and the message that says what to change.
//!
//! ```text
//! require read-only-root-filesystem   // has(c.securityContext) && … == true, for each container
//! images from "registry.example.com/*" // c.image.startsWith("registry.example.com/")
//! ```

use super::cel::{Check, cel_string, each, image_match, in_ranges, pod_sc, pss_check, sc};
use super::pss_cel::Cel;
use crate::catalog::pod_security::CheckId;
use crate::ir::{AdmissionRule, IdField};

/// A container's image is pinned by digest, or has a tag other than `latest`.
const TAGGED: &str =
    "c.image.contains('@') || (c.image.matches(':[^/:]+$') && !c.image.endsWith(':latest'))";
const PINNED: &str = "c.image.matches('@sha256:[0-9a-f]{64}$')";

/// The validations of `rule`: one, or one per check of a Pod Security level.
pub(super) fn checks(rule: &AdmissionRule) -> Vec<Check> {
    if let AdmissionRule::PodSecurity {
        level,
        version,
        exempt,
    } = rule
    {
        return super::pss_cel::validations(*level, *version, exempt)
            .into_iter()
            .map(|(id, cel, relaxed, fields)| Check {
                cel,
                relaxed,
                message: format!(
                    "Pod Security {} {version}: check {id} fails ({fields})",
                    level.name()
                ),
            })
            .collect();
    }
    let (cel, message) = cel_of(rule);
    vec![Check {
        cel,
        relaxed: None,
        message,
    }]
}

/// The condition and the message of a rule other than `pod-security`: the message is what the
/// rule requires (`AdmissionRule::requirement`), as `warden admit` says it too.
fn cel_of(rule: &AdmissionRule) -> (Cel, String) {
    (condition(rule), rule.requirement())
}

/// The CEL condition of a rule other than `pod-security`.
fn condition(rule: &AdmissionRule) -> Cel {
    match rule {
        // Made by `checks`, check by check.
        AdmissionRule::PodSecurity { .. } => Cel::default(),
        AdmissionRule::ForbidPrivileged => pss_check(CheckId::Privileged),
        AdmissionRule::ForbidHostNamespaces => pss_check(CheckId::HostNamespaces),
        AdmissionRule::ForbidHostField(field) => pod(format!(
            "!(has(variables.podSpec.{field}) && variables.podSpec.{field} == true)"
        )),
        AdmissionRule::ForbidPrivilegeEscalation => pss_check(CheckId::AllowPrivilegeEscalation),
        AdmissionRule::RequireRunAsNonRoot => run_as_non_root(),
        AdmissionRule::RunAsUserNonRoot => run_as_user_non_root(),
        AdmissionRule::Ids { field, ranges } => ids(*field, ranges),
        AdmissionRule::RequireDropAllCapabilities => each(format!(
            "{} && has(c.securityContext.capabilities.drop) && {}",
            sc("capabilities"),
            "c.securityContext.capabilities.drop.exists(d, d == 'ALL')"
        )),
        AdmissionRule::AllowCapabilities(caps) => each(format!(
            "!({} && has(c.securityContext.capabilities.add)) || {}.all(a, a in [{}])",
            sc("capabilities"),
            "c.securityContext.capabilities.add",
            list(caps)
        )),
        AdmissionRule::RequireReadOnlyRootFilesystem => each(format!(
            "{} && c.securityContext.readOnlyRootFilesystem == true",
            sc("readOnlyRootFilesystem")
        )),
        AdmissionRule::AllowVolumes(kinds) => allow_volumes(kinds),
        AdmissionRule::ForbidHostPaths(paths) => forbid_host_paths(paths),
        AdmissionRule::RequireSeccompProfile => seccomp_profile(),
        AdmissionRule::ImagesFrom(patterns) => each(
            patterns
                .iter()
                .map(|p| image_match(p))
                .collect::<Vec<_>>()
                .join(" || "),
        ),
        AdmissionRule::ForbidLatestTag => each(TAGGED.into()),
        AdmissionRule::RequireImageDigest => each(PINNED.into()),
        AdmissionRule::RequireResourceLimits => resources("limits"),
        AdmissionRule::RequireResourceRequests => resources("requests"),
        AdmissionRule::RequireLabels(keys) => pod(format!(
            "has(variables.podMeta.labels) && [{}].all(k, k in variables.podMeta.labels)",
            list(keys)
        )),
        AdmissionRule::RequireAnnotations(keys) => pod(format!(
            "has(variables.podMeta.annotations) && [{}].all(k, k in {})",
            list(keys),
            "variables.podMeta.annotations"
        )),
        AdmissionRule::Cel { expression, .. } => pod(expression.clone()),
    }
}

/// A condition on the pod alone.
fn pod(condition: String) -> Cel {
    Cel {
        pod: vec![condition],
        ..Cel::default()
    }
}

/// CEL string literals of `items`, separated by commas.
fn list(items: &[String]) -> String {
    items
        .iter()
        .map(|i| cel_string(i))
        .collect::<Vec<_>>()
        .join(", ")
}

fn run_as_non_root() -> Cel {
    Cel {
        pod: vec![format!(
            "!({} && variables.podSpec.securityContext.runAsUser == 0)",
            pod_sc("runAsUser")
        )],
        each: Some(format!(
            "(({}) ? c.securityContext.runAsNonRoot == true : ({} && {})) && !({} && {})",
            sc("runAsNonRoot"),
            pod_sc("runAsNonRoot"),
            "variables.podSpec.securityContext.runAsNonRoot == true",
            sc("runAsUser"),
            "c.securityContext.runAsUser == 0"
        )),
        workload_only: false,
    }
}

/// The container's `runAsUser` wins over the pod's, and either wins over `runAsNonRoot`.
fn run_as_user_non_root() -> Cel {
    each(format!(
        "({sc_user}) ? {c_user} != 0 : (({pod_user}) ? {p_user} != 0 : (({sc_nonroot}) ? {c_nonroot} == true : ({pod_nonroot} && {p_nonroot} == true)))",
        sc_user = sc("runAsUser"),
        c_user = "c.securityContext.runAsUser",
        pod_user = pod_sc("runAsUser"),
        p_user = "variables.podSpec.securityContext.runAsUser",
        sc_nonroot = sc("runAsNonRoot"),
        c_nonroot = "c.securityContext.runAsNonRoot",
        pod_nonroot = pod_sc("runAsNonRoot"),
        p_nonroot = "variables.podSpec.securityContext.runAsNonRoot",
    ))
}

/// `run-as-user`, `run-as-group` (the container's or the pod's), `fs-group` and
/// `supplemental-groups` (the pod's): set, and within the ranges.
fn ids(field: IdField, ranges: &[(u64, u64)]) -> Cel {
    let f = field.k8s();
    let pod_field = format!("variables.podSpec.securityContext.{f}");
    if field.per_container() {
        each(format!(
            "({}) ? ({}) : ({} && ({}))",
            sc(f),
            in_ranges(&format!("c.securityContext.{f}"), ranges),
            pod_sc(f),
            in_ranges(&pod_field, ranges)
        ))
    } else if field == IdField::SupplementalGroups {
        pod(format!(
            "{} && size({pod_field}) > 0 && {pod_field}.all(g, {})",
            pod_sc(f),
            in_ranges("g", ranges)
        ))
    } else {
        pod(format!(
            "{} && ({})",
            pod_sc(f),
            in_ranges(&pod_field, ranges)
        ))
    }
}

fn allow_volumes(kinds: &[String]) -> Cel {
    let denied: Vec<String> = crate::catalog::pod_spec::VOLUME_KINDS
        .iter()
        .filter(|k| !kinds.iter().any(|a| a == *k))
        .map(|k| format!("!has(v.{k})"))
        .collect();
    let allowed = if denied.is_empty() {
        "true".to_string()
    } else {
        denied.join(" && ")
    };
    pod(format!(
        "!has(variables.podSpec.volumes) || variables.podSpec.volumes.all(v, {allowed})"
    ))
}

/// Each path refuses itself and what lies below it; `""` is `/`.
fn forbid_host_paths(paths: &[String]) -> Cel {
    let under: Vec<String> = paths
        .iter()
        .map(|p| {
            if p.is_empty() {
                "true".to_string()
            } else {
                format!(
                    "v.hostPath.path == {} || v.hostPath.path.startsWith({})",
                    cel_string(p),
                    cel_string(&format!("{p}/"))
                )
            }
        })
        .collect();
    pod(format!(
        "!has(variables.podSpec.volumes) || variables.podSpec.volumes.all(v, !has(v.hostPath) || !({}))",
        under.join(" || ")
    ))
}

fn seccomp_profile() -> Cel {
    let kinds = "in ['RuntimeDefault', 'Localhost']";
    Cel {
        pod: Vec::new(),
        each: Some(format!(
            "({}) ? c.securityContext.seccompProfile.type {kinds} : ({} && {} {kinds})",
            sc("seccompProfile"),
            pod_sc("seccompProfile"),
            "variables.podSpec.securityContext.seccompProfile.type"
        )),
        workload_only: false,
    }
}

/// Every container and init container sets `resources.WHICH.cpu` and `.memory`.
fn resources(which: &str) -> Cel {
    Cel {
        pod: Vec::new(),
        each: Some(format!(
            "has(c.resources) && has(c.resources.{which}) && {}",
            format_args!("'cpu' in c.resources.{which} && 'memory' in c.resources.{which}")
        )),
        workload_only: true,
    }
}
