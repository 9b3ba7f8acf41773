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
