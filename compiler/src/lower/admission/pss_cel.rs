//! The Pod Security Standards in CEL: one validation per check a level runs at a version, each
//! the catalog's implementation (`catalog::pod_security`) written over the policy's variables
//! `podSpec`, `podMeta` and `containers` (init, regular and ephemeral).
//!
//! Only standard CEL and its macros (`has`, `all`, `exists`, `in`), so that independent engines
//! evaluate exactly what the API server does.

use crate::catalog::pod_security::{self, CheckId, Implementation, Level, Version};

const P: &str = "variables.podSpec";
const C: &str = "variables.containers";
const M: &str = "variables.podMeta";
/// The containers that may carry resources: ephemeral ones cannot.
const W: &str = "variables.workloadContainers";

/// `has(base.a) && has(base.a.b) && …` for the path `fields` below `base`.
fn has(base: &str, fields: &[&str]) -> String {
    let mut path = base.to_string();
    let mut out = Vec::new();
    for f in fields {
        path = format!("{path}.{f}");
        out.push(format!("has({path})"));
    }
    out.join(" && ")
}

/// `base.a.b…`.
fn at(base: &str, fields: &[&str]) -> String {
    std::iter::once(base)
        .chain(fields.iter().copied())
        .collect::<Vec<_>>()
        .join(".")
}

/// A CEL list of string literals (catalog values: letters, digits, `_`, `.` and `-` only).
fn list(items: &[String]) -> String {
    let quoted: Vec<String> = items.iter().map(|i| format!("'{i}'")).collect();
    format!("[{}]", quoted.join(", "))
}

fn strs(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

/// `field` below `base`, if set, is one of `values`.
fn unset_or_in(base: &str, fields: &[&str], values: &str) -> String {
    format!(
        "!({}) || {} in {values}",
        has(base, fields),
        at(base, fields)
    )
}

/// `field` below `base` is not set to `value`.
fn not_set_to(base: &str, fields: &[&str], value: &str) -> String {
    format!(
        "!({} && {} == {value})",
        has(base, fields),
        at(base, fields)
    )
}

/// A rule as CEL: conditions on the pod, and one that every container (`c`) must meet, kept apart
/// so that a message can name the first container that does not.
#[derive(Clone, Default)]
pub(super) struct Cel {
    pub pod: Vec<String>,
    pub each: Option<String>,
    /// `each` holds for regular and init containers only (ephemeral ones have no resources).
    pub workload_only: bool,
}

impl Cel {
    fn pod(pod: String) -> Cel {
        Cel {
            pod: vec![pod],
            ..Cel::default()
        }
    }

    fn each(each: String) -> Cel {
        Cel {
            each: Some(each),
            ..Cel::default()
        }
    }

    fn both(pod: String, each: String) -> Cel {
        Cel {
            pod: vec![pod],
            each: Some(each),
            workload_only: false,
        }
    }

    fn list(&self) -> &'static str {
        if self.workload_only { W } else { C }
    }

    /// The containers that fail `each`, as a list: a policy keeps it in a variable, so that the
    /// expression and the message each read it rather than repeat the condition (which for some
    /// checks is over a kilobyte, and a policy has dozens).
    pub fn failing(&self) -> Option<String> {
        let each = self.each.as_ref()?;
        Some(format!("{}.filter(c, !({each}))", self.list()))
    }

    /// The rule, with `failing` (the variable holding `failing()`, if there is one) for `each`.
    pub fn expression(&self, failing: &str) -> String {
        if let ([only], None) = (self.pod.as_slice(), &self.each) {
            return only.clone();
        }
        let mut parts: Vec<String> = self.pod.iter().map(|p| format!("({p})")).collect();
        if self.each.is_some() {
            parts.push(format!("size({failing}) == 0"));
        }
        if parts.is_empty() {
            return "true".to_string();
        }
        parts.join(" && ")
    }

    /// The message, naming the first container that fails `each` when one does (a
    /// messageExpression: the API server evaluates it only for a failed validation).
    pub fn message_expression(&self, message: &str, failing: &str) -> Option<String> {
        self.each.as_ref()?;
        Some(name_first(message, failing, "name"))
    }
}

/// `message`, then the field `field` of the first item of the list `failing` in brackets if it
/// has one, as a CEL string.
pub(super) fn name_first(message: &str, failing: &str, field: &str) -> String {
    format!(
        "{} + (size({failing}) > 0 ? ' (container ' + {failing}[0].{field} + ')' : '')",
        super::cel::cel_string(message)
    )
}

/// One check as CEL, for its implementation `imp`. `vap` writes `forbid privileged`,
/// `forbid host-namespaces` and `forbid privilege-escalation` with the checks of those names.
pub(super) fn check(id: CheckId, imp: &Implementation) -> Cel {
    let allowed = list(&imp.allowed);
    let seccomp = list(&strs(&["RuntimeDefault", "Localhost"]));
    match id {
        CheckId::HostNamespaces => Cel::pod(
            ["hostNetwork", "hostPID", "hostIPC"]
                .iter()
                .map(|f| not_set_to(P, &[f], "true"))
                .collect::<Vec<_>>()
                .join(" && "),
        ),
        CheckId::Privileged => {
            Cel::each(not_set_to("c", &["securityContext", "privileged"], "true"))
        }
        CheckId::CapabilitiesBaseline => Cel::each(format!(
            "!({}) || c.securityContext.capabilities.add.all(a, a in {allowed})",
            has("c", &["securityContext", "capabilities", "add"])
        )),
        CheckId::HostPathVolumes => Cel::pod(format!(
            "!has({P}.volumes) || {P}.volumes.all(v, !has(v.hostPath))"
        )),
        CheckId::HostPorts => Cel::each(
            "!has(c.ports) || c.ports.all(p, !has(p.hostPort) || p.hostPort == 0)".to_string(),
        ),
        CheckId::AppArmorProfile => {
            let prefix = "container.apparmor.security.beta.kubernetes.io/";
            let types = list(&strs(&["RuntimeDefault", "Localhost"]));
            Cel {
                pod: vec![
                    format!(
                        "!has({M}.annotations) || {M}.annotations.all(k, !k.startsWith('{prefix}') || {M}.annotations[k] in ['', 'runtime/default'] || {M}.annotations[k].startsWith('localhost/'))"
                    ),
                    unset_or_in(P, &["securityContext", "appArmorProfile", "type"], &types),
                ],
                each: Some(unset_or_in(
                    "c",
                    &["securityContext", "appArmorProfile", "type"],
                    &types,
                )),
                workload_only: false,
            }
        }
        CheckId::SeLinuxOptions => {
            let options = |base: &str| {
                let o = at(base, &["securityContext", "seLinuxOptions"]);
                format!(
                    "!({}) || ((!has({o}.type) || {o}.type == '' || {o}.type in {allowed}) && (!has({o}.user) || {o}.user == '') && (!has({o}.role) || {o}.role == ''))",
                    has(base, &["securityContext", "seLinuxOptions"])
                )
            };
            Cel::both(options(P), options("c"))
        }
        CheckId::ProcMount | CheckId::ProcMountRestricted => Cel::each(unset_or_in(
            "c",
            &["securityContext", "procMount"],
            "['Default']",
        )),
        CheckId::SeccompProfileBaseline => Cel::both(
            unset_or_in(P, &["securityContext", "seccompProfile", "type"], &seccomp),
            unset_or_in(
                "c",
                &["securityContext", "seccompProfile", "type"],
                &seccomp,
            ),
        ),
        CheckId::Sysctls => Cel::pod(format!(
            "!({}) || {P}.securityContext.sysctls.all(s, s.name in {allowed})",
            has(P, &["securityContext", "sysctls"])
        )),
        CheckId::WindowsHostProcess => Cel::both(
            not_set_to(
                P,
                &["securityContext", "windowsOptions", "hostProcess"],
                "true",
            ),
            not_set_to(
                "c",
                &["securityContext", "windowsOptions", "hostProcess"],
                "true",
            ),
        ),
        CheckId::HostProbesAndHostLifecycle => {
            let handler = |h: &str| {
                format!(
                    "!has({h}) || ((!({}) || {h}.httpGet.host == '') && (!({}) || {h}.tcpSocket.host == ''))",
                    has(h, &["httpGet", "host"]),
                    has(h, &["tcpSocket", "host"])
                )
            };
            let probes: Vec<String> = ["livenessProbe", "readinessProbe", "startupProbe"]
                .iter()
                .map(|p| format!("({})", handler(&format!("c.{p}"))))
                .collect();
            let hooks: Vec<String> = ["postStart", "preStop"]
                .iter()
                .map(|h| format!("({})", handler(&format!("c.lifecycle.{h}"))))
                .collect();
            Cel::each(format!(
                "{} && (!has(c.lifecycle) || ({}))",
                probes.join(" && "),
                hooks.join(" && ")
            ))
        }
        CheckId::RestrictedVolumes => {
            let kinds: Vec<String> = imp.denied.iter().map(|k| format!("!has(v.{k})")).collect();
            Cel::pod(format!(
                "!has({P}.volumes) || {P}.volumes.all(v, {})",
                kinds.join(" && ")
            ))
        }
        CheckId::AllowPrivilegeEscalation => Cel::each(format!(
            "{} && c.securityContext.allowPrivilegeEscalation == false",
            has("c", &["securityContext", "allowPrivilegeEscalation"])
        )),
        CheckId::RunAsNonRoot => {
            let pod = has(P, &["securityContext", "runAsNonRoot"]);
            Cel::both(
                format!("!({pod} && {P}.securityContext.runAsNonRoot == false)"),
                format!(
                    "({}) ? c.securityContext.runAsNonRoot == true : ({pod} && {P}.securityContext.runAsNonRoot == true)",
                    has("c", &["securityContext", "runAsNonRoot"])
                ),
            )
        }
        CheckId::RunAsUser => Cel::both(
            not_set_to(P, &["securityContext", "runAsUser"], "0"),
            not_set_to("c", &["securityContext", "runAsUser"], "0"),
        ),
        CheckId::SeccompProfileRestricted => {
            let pod = has(P, &["securityContext", "seccompProfile"]);
            Cel::both(
                format!("!({pod}) || {P}.securityContext.seccompProfile.type in {seccomp}"),
                format!(
                    "({}) ? c.securityContext.seccompProfile.type in {seccomp} : ({pod} && {P}.securityContext.seccompProfile.type in {seccomp})",
                    has("c", &["securityContext", "seccompProfile"])
                ),
            )
        }
        CheckId::CapabilitiesRestricted => Cel::each(format!(
            "{} && c.securityContext.capabilities.drop.exists(d, d == 'ALL') && (!({}) || c.securityContext.capabilities.add.all(a, a in {allowed}))",
            has("c", &["securityContext", "capabilities", "drop"]),
            has("c", &["securityContext", "capabilities", "add"])
        )),
        // A check the catalog gained without an implementation here: refuse everything rather
        // than admit what it was meant to stop. The catalog test catches it first.
    }
}

/// The validations of `level` at `version`, less the exempted checks: the check's id, its CEL
/// with the catalog's relaxations (an expression that holds where the check does not apply), and
/// what it looks at.
pub(super) fn validations(
    level: Level,
    version: Version,
    exempt: &[(CheckId, String)],
) -> Vec<(CheckId, Cel, Option<String>, String)> {
    pod_security::get()
        .checks(level, version)
        .into_iter()
        .filter(|(c, _)| !exempt.iter().any(|(e, _)| *e == c.id))
        .map(|(c, imp)| {
            let mut relaxed = Vec::new();
            if imp.windows {
                relaxed.push(format!(
                    "(has({P}.os) && has({P}.os.name) && {P}.os.name == 'windows')"
                ));
            }
            if imp.user_namespaces {
                relaxed.push(format!("(has({P}.hostUsers) && {P}.hostUsers == false)"));
            }
            let relaxed = (!relaxed.is_empty()).then(|| relaxed.join(" || "));
            (c.id, check(c.id, imp), relaxed, c.fields.clone())
        })
        .collect()
}
