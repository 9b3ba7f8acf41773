//! What to change in a manifest so that a rule it fails holds: the field and value where the fix
//! is mechanical, and what must be decided by a person where it is not (an image from another
//! registry, a volume of another kind).

use super::verdicts::{Finding, Source};
use crate::catalog::pod_security::CheckId;
use crate::ir::{AdmissionRule, IdField};

/// Where in the pod a container's field goes: `containers[name].securityContext…`, or the pod's.
fn in_container(finding: &Finding<'_>, field: &str) -> String {
    match &finding.fault.container {
        Some(c) => format!("set `securityContext.{field}` in container `{c}`"),
        None => format!("set `spec.securityContext.{field}`"),
    }
}

impl Finding<'_> {
    /// The change that makes the workload meet the rule.
    pub fn fix(&self) -> String {
        let rule = match self.source {
            Source::Seccomp(svc) => {
                return format!(
                    "{}, and install the profile on every node first (a pod whose profile is missing does not start)",
                    in_container(
                        self,
                        &format!(
                            "seccompProfile: {{type: Localhost, localhostProfile: {}}}",
                            svc.id.localhost_profile()
                        )
                    )
                );
            }
            Source::Rule { rule, .. } => rule,
        };
        if let Some(check) = self.fault.check {
            return check_fix(self, check);
        }
        match rule {
            AdmissionRule::ForbidPrivileged => in_container(self, "privileged: false"),
            AdmissionRule::ForbidHostNamespaces => {
                "remove `hostNetwork`, `hostPID` and `hostIPC` from the pod spec (or set them false)"
                    .to_string()
            }
            AdmissionRule::ForbidHostField(field) => {
                format!("remove `{field}` from the pod spec (or set it false)")
            }
            AdmissionRule::ForbidPrivilegeEscalation => {
                in_container(self, "allowPrivilegeEscalation: false")
            }
            AdmissionRule::RequireRunAsNonRoot => match &self.fault.container {
                Some(_) => format!(
                    "{}, and run the image as a user other than 0",
                    in_container(self, "runAsNonRoot: true")
                ),
                None => "remove `runAsUser: 0` from the pod's securityContext".to_string(),
            },
            AdmissionRule::RunAsUserNonRoot => {
                in_container(self, "runAsUser: <a user id other than 0>")
            }
            AdmissionRule::Ids { field, ranges } => {
                let at = if field.per_container() {
                    in_container(self, field.k8s())
                } else {
                    format!("set `spec.securityContext.{}`", field.k8s())
                };
                let first = ranges.first().map_or(0, |r| r.0);
                match field {
                    IdField::SupplementalGroups => format!("{at} to ids such as [{first}]"),
                    _ => format!("{at} to an id such as {first}"),
                }
            }
            AdmissionRule::RequireDropAllCapabilities => {
                in_container(self, "capabilities.drop: [ALL]")
            }
            AdmissionRule::AllowCapabilities(caps) => format!(
                "remove from container `{}`'s `securityContext.capabilities.add` every capability but {}",
                self.fault.container.as_deref().unwrap_or_default(),
                caps.join(", ")
            ),
            AdmissionRule::RequireReadOnlyRootFilesystem => format!(
                "{}, with an `emptyDir` volume wherever the program writes",
                in_container(self, "readOnlyRootFilesystem: true")
            ),
            AdmissionRule::AllowVolumes(kinds) => format!(
                "not mechanical: replace the volume with one of the kinds {}",
                kinds.join(", ")
            ),
            AdmissionRule::ForbidHostPaths(_) => {
                "not mechanical: replace the hostPath volume (an emptyDir, a ConfigMap or a persistent volume)"
                    .to_string()
            }
            AdmissionRule::RequireSeccompProfile => {
                "set `spec.securityContext.seccompProfile: {type: RuntimeDefault}`".to_string()
            }
            AdmissionRule::ImagesFrom(patterns) => format!(
                "not mechanical: use an image that matches {}",
                patterns.join(", ")
            ),
            AdmissionRule::ForbidLatestTag => {
                "not mechanical: name the image's version, `IMAGE:TAG` or `IMAGE@sha256:…`"
                    .to_string()
            }
            AdmissionRule::RequireImageDigest => {
                "not mechanical: pin the image as `IMAGE@sha256:…` (`crane digest IMAGE` says it)"
                    .to_string()
            }
            AdmissionRule::RequireResourceLimits | AdmissionRule::RequireResourceRequests => {
                let which = if matches!(rule, AdmissionRule::RequireResourceLimits) {
                    "limits"
                } else {
                    "requests"
                };
                format!(
                    "set `resources.{which}.cpu` and `resources.{which}.memory` in container `{}`",
                    self.fault.container.as_deref().unwrap_or_default()
                )
            }
            AdmissionRule::RequireLabels(keys) => {
                format!("label the pod template with {}", keys.join(", "))
            }
            AdmissionRule::RequireAnnotations(keys) => {
                format!("annotate the pod template with {}", keys.join(", "))
            }
            AdmissionRule::Cel { .. } => match &self.fault.detail {
                Some(_) => "make the expression evaluate for this pod, or change the pod".into(),
                None => "change the pod so that the expression holds".to_string(),
            },
            AdmissionRule::PodSecurity { .. } => String::new(),
        }
    }
}

const SE_LINUX: &str = "seLinuxOptions: {} (no user or role, an allowed type)";

/// The fix of a Pod Security check.
fn check_fix(f: &Finding<'_>, check: CheckId) -> String {
    match check {
        CheckId::HostNamespaces => {
            "remove `hostNetwork`, `hostPID` and `hostIPC` from the pod spec (or set them false)"
                .to_string()
        }
        CheckId::Privileged => in_container(f, "privileged: false"),
        CheckId::CapabilitiesBaseline => format!(
            "remove from container `{}`'s `securityContext.capabilities.add` what the baseline level does not allow",
            f.fault.container.as_deref().unwrap_or_default()
        ),
        CheckId::HostPathVolumes => {
            "not mechanical: replace the hostPath volume (an emptyDir, a ConfigMap or a persistent volume)"
                .to_string()
        }
        CheckId::HostPorts => format!(
            "remove `hostPort` from container `{}`'s ports",
            f.fault.container.as_deref().unwrap_or_default()
        ),
        CheckId::AppArmorProfile => in_container(f, "appArmorProfile: {type: RuntimeDefault}"),
        CheckId::SeLinuxOptions => in_container(f, SE_LINUX),
        CheckId::ProcMount | CheckId::ProcMountRestricted => in_container(f, "procMount: Default"),
        CheckId::SeccompProfileBaseline | CheckId::SeccompProfileRestricted => {
            "set `spec.securityContext.seccompProfile: {type: RuntimeDefault}` (and remove any container's other type)"
                .to_string()
        }
        CheckId::Sysctls => "remove the sysctls the level does not allow".to_string(),
        CheckId::WindowsHostProcess => in_container(f, "windowsOptions.hostProcess: false"),
        CheckId::HostProbesAndHostLifecycle => format!(
            "remove `host` from container `{}`'s probes and lifecycle handlers",
            f.fault.container.as_deref().unwrap_or_default()
        ),
        CheckId::RestrictedVolumes => {
            "not mechanical: use only the volume kinds the restricted level allows (configMap, csi, downwardAPI, emptyDir, ephemeral, persistentVolumeClaim, projected, secret)"
                .to_string()
        }
        CheckId::AllowPrivilegeEscalation => in_container(f, "allowPrivilegeEscalation: false"),
        CheckId::RunAsNonRoot => in_container(f, "runAsNonRoot: true"),
        CheckId::RunAsUser => "remove `runAsUser: 0`".to_string(),
        CheckId::CapabilitiesRestricted => format!(
            "{} (adding back only NET_BIND_SERVICE)",
            in_container(f, "capabilities.drop: [ALL]")
        ),
    }
}
