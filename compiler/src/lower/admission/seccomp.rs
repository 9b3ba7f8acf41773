//! The CEL that requires each service's pods to run every container with the service's seccomp
//! profile: a profile nobody references protects nothing. `vap` writes it, one validation per
//! service with a `syscalls` block.

use super::cel::{CONTAINERS, POD_META, POD_SPEC, Validation, Variable, cel_string};
use super::pss_cel::name_first;
use crate::ir::Service;
use std::borrow::Cow;

/// Each container's name and the `localhost/` profile it runs with: its own seccomp profile's, else
/// the pod's; `''` where that profile is not `Localhost` with a path (no service's path is empty).
const SECCOMP_PROFILES: &str = "variables.containers.map(c, {'name': c.name, 'profile': has(c.securityContext) && has(c.securityContext.seccompProfile) ? (c.securityContext.seccompProfile.type == 'Localhost' && has(c.securityContext.seccompProfile.localhostProfile) ? c.securityContext.seccompProfile.localhostProfile : '') : (has(variables.podSpec.securityContext) && has(variables.podSpec.securityContext.seccompProfile) && variables.podSpec.securityContext.seccompProfile.type == 'Localhost' && has(variables.podSpec.securityContext.seccompProfile.localhostProfile) ? variables.podSpec.securityContext.seccompProfile.localhostProfile : '')})";

/// A label selector as a CEL condition on the pod's labels (`variables.podMeta`).
pub(in crate::lower) fn selector_cel(sel: &crate::ir::Selector) -> String {
    use crate::ir::Operator;
    let labels = "variables.podMeta.labels";
    let mut parts = vec![format!("has({labels})")];
    for (k, v) in &sel.match_labels {
        let k = cel_string(k);
        parts.push(format!(
            "{k} in {labels} && {labels}[{k}] == {}",
            cel_string(v)
        ));
    }
    for e in &sel.expressions {
        let k = cel_string(&e.key);
        let values = e
            .values
            .iter()
            .map(|v| cel_string(v))
            .collect::<Vec<_>>()
            .join(", ");
        parts.push(match e.operator {
            Operator::In => format!("{k} in {labels} && {labels}[{k}] in [{values}]"),
            Operator::NotIn => format!("!({k} in {labels}) || !({labels}[{k}] in [{values}])"),
            Operator::Exists => format!("{k} in {labels}"),
            Operator::DoesNotExist => format!("!({k} in {labels})"),
        });
    }
    parts
        .into_iter()
        .map(|p| format!("({p})"))
        .collect::<Vec<_>>()
        .join(" && ")
}

/// The variables a seccomp wiring policy reads: the pod spec, its containers and metadata, and
/// each container's profile, worked out once for the namespace's services.
pub(in crate::lower) fn variables() -> Vec<Variable> {
    vec![
        Variable {
            name: Cow::Borrowed("podSpec"),
            expression: POD_SPEC.to_string(),
        },
        Variable {
            name: Cow::Borrowed("containers"),
            expression: CONTAINERS.to_string(),
        },
        Variable {
            name: Cow::Borrowed("podMeta"),
            expression: POD_META.to_string(),
        },
        Variable {
            name: Cow::Borrowed("seccompProfiles"),
            expression: SECCOMP_PROFILES.to_string(),
        },
    ]
}

/// The validation that `svc`'s pods run every container with its profile: only the service's own
/// pods, as others are not its to constrain.
pub(in crate::lower) fn validation(svc: &Service) -> Validation {
    let profile = cel_string(&svc.id.localhost_profile());
    let sel = selector_cel(&svc.selector);
    let message = format!(
        "pods of service {} must run every container with its seccomp profile: securityContext.seccompProfile {{type: Localhost, localhostProfile: {}}}",
        svc.id,
        svc.id.localhost_profile()
    );
    Validation {
        expression: format!("!({sel}) || variables.seccompProfiles.all(p, p.profile == {profile})"),
        message_expression: Some(name_first(
            &message,
            &format!("variables.seccompProfiles.filter(p, p.profile != {profile})"),
            "name",
        )),
        message,
    }
}
