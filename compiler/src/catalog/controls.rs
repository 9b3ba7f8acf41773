//! The control catalogs (`compiler/catalog/controls/`): the controls of each compliance framework
//! that warden's rules serve, and what implements each (see that folder's README).

use serde::Deserialize;
use std::sync::OnceLock;

/// One framework's catalog.
#[derive(Debug, Deserialize)]
pub struct Framework {
    /// How a program names it: `framework nist-800-53`.
    pub framework: String,
    pub title: String,
    pub version: String,
    pub source: String,
    pub controls: Vec<Control>,
}

#[derive(Debug, Deserialize)]
pub struct Control {
    pub id: String,
    pub title: String,
    /// The control's id in NIST's OSCAL catalog, for NIST SP 800-53.
    #[serde(default)]
    pub oscal: Option<String>,
    /// Ways to implement it, each evidence that must all hold in a namespace.
    #[serde(default)]
    pub any_of: Vec<Vec<String>>,
    /// Declarations shown as evidence where it is implemented, not needed for it.
    #[serde(default)]
    pub evidence: Vec<String>,
    /// Why warden cannot implement it, where it cannot.
    #[serde(default)]
    pub outside: Option<String>,
}

impl Control {
    /// Whether a program can implement it (and so whether a claim requires it).
    pub fn in_reach(&self) -> bool {
        self.outside.is_none() && !self.any_of.is_empty()
    }
}

impl Framework {
    pub fn control(&self, id: &str) -> Option<&Control> {
        self.controls.iter().find(|c| c.id == id)
    }
}

const FILES: [&str; 5] = [
    include_str!("../../catalog/controls/cis-kubernetes.yaml"),
    include_str!("../../catalog/controls/nist-800-53.yaml"),
    include_str!("../../catalog/controls/nsa-cisa.yaml"),
    include_str!("../../catalog/controls/pci-dss.yaml"),
    include_str!("../../catalog/controls/pod-security.yaml"),
];

/// Every framework, in the order of their names; parsed on first use. The files are part of the
/// binary, so one that does not parse is a build defect the catalog test catches; at run time it
/// is left out.
pub fn all() -> &'static [Framework] {
    static CATALOG: OnceLock<Vec<Framework>> = OnceLock::new();
    CATALOG.get_or_init(|| {
        let mut out: Vec<Framework> = FILES
            .iter()
            .filter_map(|text| serde_yaml::from_str(text).ok())
            .collect();
        out.sort_by(|a, b| a.framework.cmp(&b.framework));
        out
    })
}

pub fn framework(name: &str) -> Option<&'static Framework> {
    all().iter().find(|f| f.framework == name)
}

/// The evidence names a catalog may use that are not `admission:RULE` or `pss:CHECK`.
pub const EVIDENCE: [&str; 9] = [
    "isolate-ingress",
    "isolate-egress",
    "allow-dns",
    "flows",
    "seccomp",
    "seccomp-default-deny",
    "admission-enforced",
    "pod-security-baseline",
    "pod-security-restricted",
];

/// The `admission:RULE` names: each admission rule as the language writes it.
pub const ADMISSION_RULES: [&str; 22] = [
    "forbid-privileged",
    "forbid-host-namespaces",
    "forbid-host-network",
    "forbid-host-pid",
    "forbid-host-ipc",
    "forbid-privilege-escalation",
    "require-run-as-non-root",
    "require-drop-all-capabilities",
    "require-seccomp-profile",
    "images-from",
    "require-labels",
    "require-annotations",
    "forbid-latest-tag",
    "require-image-digest",
    "require-resource-limits",
    "require-resource-requests",
    "require-read-only-root-filesystem",
    "allow-capabilities",
    "allow-volumes",
    "forbid-host-paths",
    "run-as-user-non-root",
    "ids",
];

/// Whether `name` is evidence the compliance evaluation knows.
pub fn known_evidence(name: &str) -> bool {
    if let Some(rule) = name.strip_prefix("admission:") {
        return ADMISSION_RULES.contains(&rule);
    }
    if let Some(check) = name.strip_prefix("pss:") {
        return super::pod_security::CheckId::parse(check).is_some();
    }
    EVIDENCE.contains(&name)
}
