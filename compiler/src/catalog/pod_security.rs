//! The Pod Security Standards catalog (`compiler/catalog/pod-security.yaml`): which checks a
//! level runs at a policy version, and with which implementation.

use serde::Deserialize;
use std::sync::OnceLock;

/// A policy version `major.minor`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Version(pub u32, pub u32);

impl Version {
    /// `1.36`, `v1.36`.
    pub fn parse(text: &str) -> Option<Version> {
        let (major, minor) = text.strip_prefix('v').unwrap_or(text).split_once('.')?;
        Some(Version(major.parse().ok()?, minor.parse().ok()?))
    }
}

impl std::fmt::Display for Version {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "v{}.{}", self.0, self.1)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    Baseline,
    Restricted,
}

impl Level {
    pub fn parse(text: &str) -> Option<Level> {
        match text {
            "baseline" => Some(Level::Baseline),
            "restricted" => Some(Level::Restricted),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Level::Baseline => "baseline",
            Level::Restricted => "restricted",
        }
    }
}

/// A check of the Pod Security Standards, as Pod Security Admission names it. Each backend
/// (`lower::admission`'s CEL and Rego) matches every one, so that a check added here is a compile
/// error there until both implement it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
pub enum CheckId {
    #[serde(rename = "allowPrivilegeEscalation")]
    AllowPrivilegeEscalation,
    #[serde(rename = "appArmorProfile")]
    AppArmorProfile,
    #[serde(rename = "capabilities_baseline")]
    CapabilitiesBaseline,
    #[serde(rename = "capabilities_restricted")]
    CapabilitiesRestricted,
    #[serde(rename = "hostNamespaces")]
    HostNamespaces,
    #[serde(rename = "hostPathVolumes")]
    HostPathVolumes,
    #[serde(rename = "hostPorts")]
    HostPorts,
    #[serde(rename = "hostProbesAndHostLifecycle")]
    HostProbesAndHostLifecycle,
    #[serde(rename = "privileged")]
    Privileged,
    #[serde(rename = "procMount")]
    ProcMount,
    #[serde(rename = "procMount_restricted")]
    ProcMountRestricted,
    #[serde(rename = "restrictedVolumes")]
    RestrictedVolumes,
    #[serde(rename = "runAsNonRoot")]
    RunAsNonRoot,
    #[serde(rename = "runAsUser")]
    RunAsUser,
    #[serde(rename = "seLinuxOptions")]
    SeLinuxOptions,
    #[serde(rename = "seccompProfile_baseline")]
    SeccompProfileBaseline,
    #[serde(rename = "seccompProfile_restricted")]
    SeccompProfileRestricted,
    #[serde(rename = "sysctls")]
    Sysctls,
    #[serde(rename = "windowsHostProcess")]
    WindowsHostProcess,
}

impl CheckId {
    pub const ALL: [CheckId; 19] = [
        CheckId::AllowPrivilegeEscalation,
        CheckId::AppArmorProfile,
        CheckId::CapabilitiesBaseline,
        CheckId::CapabilitiesRestricted,
        CheckId::HostNamespaces,
        CheckId::HostPathVolumes,
        CheckId::HostPorts,
        CheckId::HostProbesAndHostLifecycle,
        CheckId::Privileged,
        CheckId::ProcMount,
        CheckId::ProcMountRestricted,
        CheckId::RestrictedVolumes,
        CheckId::RunAsNonRoot,
        CheckId::RunAsUser,
        CheckId::SeLinuxOptions,
        CheckId::SeccompProfileBaseline,
        CheckId::SeccompProfileRestricted,
        CheckId::Sysctls,
        CheckId::WindowsHostProcess,
    ];

    /// The name Pod Security Admission and the catalog give it.
    pub fn name(self) -> &'static str {
        match self {
            CheckId::AllowPrivilegeEscalation => "allowPrivilegeEscalation",
            CheckId::AppArmorProfile => "appArmorProfile",
            CheckId::CapabilitiesBaseline => "capabilities_baseline",
            CheckId::CapabilitiesRestricted => "capabilities_restricted",
            CheckId::HostNamespaces => "hostNamespaces",
            CheckId::HostPathVolumes => "hostPathVolumes",
            CheckId::HostPorts => "hostPorts",
            CheckId::HostProbesAndHostLifecycle => "hostProbesAndHostLifecycle",
            CheckId::Privileged => "privileged",
            CheckId::ProcMount => "procMount",
            CheckId::ProcMountRestricted => "procMount_restricted",
            CheckId::RestrictedVolumes => "restrictedVolumes",
            CheckId::RunAsNonRoot => "runAsNonRoot",
            CheckId::RunAsUser => "runAsUser",
            CheckId::SeLinuxOptions => "seLinuxOptions",
            CheckId::SeccompProfileBaseline => "seccompProfile_baseline",
            CheckId::SeccompProfileRestricted => "seccompProfile_restricted",
            CheckId::Sysctls => "sysctls",
            CheckId::WindowsHostProcess => "windowsHostProcess",
        }
    }

    pub fn parse(text: &str) -> Option<CheckId> {
        CheckId::ALL.into_iter().find(|c| c.name() == text)
    }
}

impl std::fmt::Display for CheckId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// One implementation of a check, from the policy version `since`.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct Implementation {
    pub since: String,
    #[serde(default)]
    pub allowed: Vec<String>,
    #[serde(default)]
    pub denied: Vec<String>,
    #[serde(default)]
    pub windows: bool,
    #[serde(default)]
    pub user_namespaces: bool,
}

#[derive(Clone, Debug, Deserialize)]
pub struct Check {
    pub id: CheckId,
    level: String,
    #[serde(default)]
    overrides: Option<CheckId>,
    /// What the check looks at, for messages.
    pub fields: String,
    versions: Vec<Implementation>,
}

impl Check {
    /// The baseline check this restricted one replaces, if any.
    pub fn overrides(&self) -> Option<CheckId> {
        self.overrides
    }

    pub fn level(&self) -> Option<Level> {
        Level::parse(&self.level)
    }

    /// The implementation a policy of `version` uses, if the check exists then.
    pub fn at(&self, version: Version) -> Option<&Implementation> {
        self.versions
            .iter()
            .rfind(|i| Version::parse(&i.since).is_some_and(|s| s <= version))
    }
}

#[derive(Debug, Deserialize)]
pub struct PodSecurity {
    newest: String,
    oldest: String,
    pub checks: Vec<Check>,
}

impl PodSecurity {
    pub fn newest(&self) -> Version {
        Version::parse(&self.newest).unwrap_or(Version(0, 0))
    }

    pub fn oldest(&self) -> Version {
        Version::parse(&self.oldest).unwrap_or(Version(0, 0))
    }

    /// The checks `level` runs at `version`, with their implementations: every check of the
    /// level and below that exists then, less those a restricted check in force overrides.
    pub fn checks(&self, level: Level, version: Version) -> Vec<(&Check, &Implementation)> {
        let active: Vec<(&Check, &Implementation)> = self
            .checks
            .iter()
            .filter(|c| c.level().is_some_and(|l| l <= level))
            .filter_map(|c| c.at(version).map(|i| (c, i)))
            .collect();
        let overridden: Vec<CheckId> = active.iter().filter_map(|(c, _)| c.overrides).collect();
        active
            .into_iter()
            .filter(|(c, _)| !overridden.contains(&c.id))
            .collect()
    }

    pub fn check(&self, id: CheckId) -> Option<&Check> {
        self.checks.iter().find(|c| c.id == id)
    }
}

/// The catalog, parsed on first use. It is part of the binary, so a failure to parse it is a
/// build defect that the catalog test catches; at run time it degrades to an empty catalog.
pub fn get() -> &'static PodSecurity {
    static CATALOG: OnceLock<PodSecurity> = OnceLock::new();
    CATALOG.get_or_init(|| {
        serde_yaml::from_str(include_str!("../../catalog/pod-security.yaml")).unwrap_or(
            PodSecurity {
                newest: String::new(),
                oldest: String::new(),
                checks: Vec::new(),
            },
        )
    })
}
