//! Admission: the rules a block applies, and where.

use super::Selector;
use crate::span::Span;
use std::collections::{BTreeMap, BTreeSet};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Mode {
    Deny,
    Warn,
    Audit,
}

/// The user and group id fields an `Ids` rule constrains.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum IdField {
    RunAsUser,
    RunAsGroup,
    FsGroup,
    SupplementalGroups,
}

impl IdField {
    pub fn parse(word: &str) -> Option<IdField> {
        Some(match word {
            "run-as-user" => IdField::RunAsUser,
            "run-as-group" => IdField::RunAsGroup,
            "fs-group" => IdField::FsGroup,
            "supplemental-groups" => IdField::SupplementalGroups,
            _ => return None,
        })
    }

    /// The field in a `securityContext`.
    pub fn k8s(self) -> &'static str {
        match self {
            IdField::RunAsUser => "runAsUser",
            IdField::RunAsGroup => "runAsGroup",
            IdField::FsGroup => "fsGroup",
            IdField::SupplementalGroups => "supplementalGroups",
        }
    }

    /// Whether containers have the field too (and theirs wins), or only the pod.
    pub fn per_container(self) -> bool {
        matches!(self, IdField::RunAsUser | IdField::RunAsGroup)
    }
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum AdmissionRule {
    ForbidPrivileged,
    ForbidHostNamespaces,
    /// One of the host namespaces: `hostNetwork`, `hostPID` or `hostIPC`.
    ForbidHostField(&'static str),
    ForbidPrivilegeEscalation,
    RequireRunAsNonRoot,
    RequireDropAllCapabilities,
    RequireSeccompProfile,
    ImagesFrom(Vec<String>),
    RequireLabels(Vec<String>),
    RequireAnnotations(Vec<String>),
    /// No image without a tag or with the tag `latest`, unless pinned by digest.
    ForbidLatestTag,
    /// Every image pinned by a sha256 digest.
    RequireImageDigest,
    /// CPU and memory limits (requests) on every container and init container.
    RequireResourceLimits,
    RequireResourceRequests,
    /// `securityContext.readOnlyRootFilesystem: true` on every container.
    RequireReadOnlyRootFilesystem,
    /// No container adds a capability beyond these.
    AllowCapabilities(Vec<String>),
    /// No volume of another kind than these.
    AllowVolumes(Vec<String>),
    /// No hostPath volume at or below these paths (without a trailing `/`; empty: `/`).
    ForbidHostPaths(Vec<String>),
    /// Every container runs as a user other than 0: a non-zero `runAsUser`, or `runAsNonRoot`.
    RunAsUserNonRoot,
    /// Every container's (or the pod's) id field set and within the ranges.
    Ids {
        field: IdField,
        ranges: Vec<(u64, u64)>,
    },
    /// A raw CEL expression (type-checked) and the message when it is false.
    Cel {
        expression: String,
        message: String,
    },
    /// The Pod Security Standards at a level and version, less the exempted checks (with the
    /// reasons given).
    PodSecurity {
        level: crate::catalog::pod_security::Level,
        version: crate::catalog::pod_security::Version,
        exempt: Vec<(crate::catalog::pod_security::CheckId, String)>,
    },
}

impl AdmissionRule {
    /// The rule as a program says it (its words, without its lists of values).
    pub fn said(&self) -> String {
        match self {
            AdmissionRule::ForbidPrivileged => "forbid privileged".into(),
            AdmissionRule::ForbidHostNamespaces => "forbid host-namespaces".into(),
            AdmissionRule::ForbidHostField(field) => format!(
                "forbid host-{}",
                field.trim_start_matches("host").to_ascii_lowercase()
            ),
            AdmissionRule::ForbidPrivilegeEscalation => "forbid privilege-escalation".into(),
            AdmissionRule::RequireRunAsNonRoot => "require run-as-non-root".into(),
            AdmissionRule::RequireDropAllCapabilities => "require drop-all-capabilities".into(),
            AdmissionRule::RequireSeccompProfile => "require seccomp-profile".into(),
            AdmissionRule::ImagesFrom(_) => "images from".into(),
            AdmissionRule::RequireLabels(_) => "require labels".into(),
            AdmissionRule::RequireAnnotations(_) => "require annotations".into(),
            AdmissionRule::ForbidLatestTag => "forbid latest-tag".into(),
            AdmissionRule::RequireImageDigest => "require image-digest".into(),
            AdmissionRule::RequireResourceLimits => "require resource-limits".into(),
            AdmissionRule::RequireResourceRequests => "require resource-requests".into(),
            AdmissionRule::RequireReadOnlyRootFilesystem => {
                "require read-only-root-filesystem".into()
            }
            AdmissionRule::AllowCapabilities(_) => "allow capabilities".into(),
            AdmissionRule::AllowVolumes(_) => "allow volumes".into(),
            AdmissionRule::ForbidHostPaths(_) => "forbid host-paths".into(),
            AdmissionRule::RunAsUserNonRoot => "run-as-user non-root".into(),
            AdmissionRule::Ids { field, .. } => match field {
                IdField::RunAsUser => "run-as-user".into(),
                IdField::RunAsGroup => "run-as-group".into(),
                IdField::FsGroup => "fs-group".into(),
                IdField::SupplementalGroups => "supplemental-groups".into(),
            },
            AdmissionRule::Cel { .. } => "require cel".into(),
            AdmissionRule::PodSecurity { level, .. } => format!("pod-security {}", level.name()),
        }
    }

    /// What the rule requires, in the words every policy's message and `warden admit` use; for
    /// `pod-security`, its level and version (each check's message is its own).
    pub fn requirement(&self) -> String {
        let joined = |items: &[String]| items.join(", ");
        match self {
            AdmissionRule::ForbidPrivileged => "privileged containers are forbidden: every container must leave securityContext.privileged unset or false".into(),
            AdmissionRule::ForbidHostNamespaces => "sharing the host's namespaces is forbidden: spec.hostNetwork, spec.hostPID and spec.hostIPC must be unset or false".into(),
            AdmissionRule::ForbidHostField(field) => format!(
                "sharing the host's namespace is forbidden: spec.{field} must be unset or false"
            ),
            AdmissionRule::ForbidPrivilegeEscalation => "privilege escalation is forbidden: every container must set securityContext.allowPrivilegeEscalation to false".into(),
            AdmissionRule::RequireRunAsNonRoot => "containers must run as non-root: set securityContext.runAsNonRoot to true on the pod or on every container, and no runAsUser 0".into(),
            AdmissionRule::RunAsUserNonRoot => "containers must run as a user other than root: securityContext.runAsUser must be set and not 0, or runAsNonRoot true (the container's setting wins over the pod's)".into(),
            AdmissionRule::Ids { field, ranges } => {
                let f = field.k8s();
                let text = ranges
                    .iter()
                    .map(|(a, b)| if a == b { a.to_string() } else { format!("{a}-{b}") })
                    .collect::<Vec<_>>()
                    .join(", ");
                match field {
                    IdField::RunAsUser | IdField::RunAsGroup => format!(
                        "securityContext.{f} must be set, on the container or the pod, to an id in {text}"
                    ),
                    IdField::SupplementalGroups => {
                        format!("spec.securityContext.{f} must be set, each id in {text}")
                    }
                    IdField::FsGroup => {
                        format!("spec.securityContext.{f} must be set to an id in {text}")
                    }
                }
            }
            AdmissionRule::RequireDropAllCapabilities => "every container must drop all capabilities: securityContext.capabilities.drop must contain ALL".into(),
            AdmissionRule::AllowCapabilities(caps) => format!(
                "securityContext.capabilities.add may only hold: {}",
                joined(caps)
            ),
            AdmissionRule::RequireReadOnlyRootFilesystem => {
                "every container must set securityContext.readOnlyRootFilesystem to true".into()
            }
            AdmissionRule::AllowVolumes(kinds) => {
                format!("spec.volumes may only be of the kinds: {}", joined(kinds))
            }
            AdmissionRule::ForbidHostPaths(paths) => {
                let shown: Vec<&str> = paths
                    .iter()
                    .map(|p| if p.is_empty() { "/" } else { p.as_str() })
                    .collect();
                format!("no hostPath volume may be at or below: {}", shown.join(", "))
            }
            AdmissionRule::RequireSeccompProfile => "a seccomp profile is required: set securityContext.seccompProfile.type to RuntimeDefault or Localhost on the pod or on every container".into(),
            AdmissionRule::ImagesFrom(patterns) => format!(
                "every container image must match one of: {}",
                joined(patterns)
            ),
            AdmissionRule::ForbidLatestTag => "images must carry a tag other than latest, or a digest: no container image may be untagged or :latest".into(),
            AdmissionRule::RequireImageDigest => {
                "every container image must be pinned by digest: IMAGE@sha256:…".into()
            }
            AdmissionRule::RequireResourceLimits | AdmissionRule::RequireResourceRequests => {
                let which = if matches!(self, AdmissionRule::RequireResourceLimits) {
                    "limits"
                } else {
                    "requests"
                };
                format!(
                    "every container and init container must set resources.{which}.cpu and resources.{which}.memory"
                )
            }
            AdmissionRule::RequireLabels(keys) => {
                format!("pods must carry the labels: {}", joined(keys))
            }
            AdmissionRule::RequireAnnotations(keys) => {
                format!("pods must carry the annotations: {}", joined(keys))
            }
            AdmissionRule::Cel { message, .. } => message.clone(),
            AdmissionRule::PodSecurity { level, version, .. } => {
                format!("Pod Security {} {version}", level.name())
            }
        }
    }
}

/// The namespaces an admission block applies to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AdmissionScope {
    /// `Some`: these namespaces by name; `None`: the namespaces `labels` selects (empty: all).
    pub names: Option<BTreeSet<String>>,
    pub labels: Selector,
    /// Left out by name.
    pub except_names: BTreeSet<String>,
    /// Left out by label. INVARIANT: each selector has exactly one requirement, so that every
    /// engine can state the exclusion as the requirement's negation.
    pub except_labels: Vec<Selector>,
}

impl AdmissionScope {
    /// Whether the block applies in the namespace `name` with `labels` (which hold
    /// `kubernetes.io/metadata.name`, as the API server sets it).
    pub fn matches(&self, name: &str, labels: &BTreeMap<String, String>) -> bool {
        let included = match &self.names {
            Some(names) => names.contains(name),
            None => self.labels.matches(labels),
        };
        included
            && !self.except_names.contains(name)
            && !self.except_labels.iter().any(|s| s.matches(labels))
    }
}

#[derive(Clone, Debug)]
pub struct Admission {
    pub name: String,
    pub scope: AdmissionScope,
    /// Image patterns whose containers the container rules leave out, with the reasons.
    pub exempt_images: Vec<(String, String)>,
    /// Every `exempt` line, with its owner and end, for audits and expiry.
    pub exemptions: Vec<super::Exemption>,
    /// INVARIANT: sorted, one of each kind.
    pub rules: Vec<(AdmissionRule, Span)>,
    pub mode: Mode,
    /// The block's `accept` lines, as the `warden.dev/accepted` annotation says them.
    pub accepted: String,
    pub span: Span,
}
