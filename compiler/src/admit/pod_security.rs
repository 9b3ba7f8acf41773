//! The Pod Security Standards evaluated by warden itself, on pods as manifests write them: each
//! check of the catalog (`catalog::pod_security`) in the implementation a policy version uses,
//! with its relaxations. The generated policies say the same in CEL and Rego; the oracle tests
//! hold the two to the same verdicts on Pod Security Admission's conformance fixtures and on
//! seeded pods.

use crate::catalog::pod_security::{self, CheckId, Implementation, Level, Version};
use crate::manifests::yaml::{Node, Value};
use std::collections::BTreeMap;

/// A pod: its annotations (AppArmor's older form is one) and its spec.
#[derive(Clone, Copy)]
pub struct Pod<'a> {
    pub annotations: &'a BTreeMap<String, String>,
    pub spec: &'a Node,
}

/// A check a pod fails: the container at fault where it is one container's field, and the line
/// of the value that fails it (the pod spec's where the fault is a value left out).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Failure {
    pub check: CheckId,
    pub container: Option<String>,
    pub line: u32,
}

const SECCOMP: &[&str] = &["RuntimeDefault", "Localhost"];

/// The checks `pod` fails at `level` and `version`, in the catalog's order, one per check (the
/// first container or value at fault).
pub fn failures(pod: Pod<'_>, level: Level, version: Version) -> Vec<Failure> {
    let spec = pod.spec;
    let windows = spec.at(&["os", "name"]).and_then(Node::str) == Some("windows");
    let user_namespaces = spec.get("hostUsers").is_some_and(is_false);
    pod_security::get()
        .checks(level, version)
        .into_iter()
        .filter(|(_, imp)| !(imp.windows && windows || imp.user_namespaces && user_namespaces))
        .filter_map(|(c, imp)| {
            check(c.id, imp, pod).map(|(container, line)| Failure {
                check: c.id,
                container,
                line,
            })
        })
        .collect()
}

/// The strictest level `pod` meets at `version`, if any.
pub fn strictest(pod: Pod<'_>, version: Version) -> Option<Level> {
    [Level::Restricted, Level::Baseline]
        .into_iter()
        .find(|l| failures(pod, *l, version).is_empty())
}

/// Set: present and not null (the API server drops a null field).
fn set(node: Option<&Node>) -> Option<&Node> {
    node.filter(|n| !matches!(&n.value, Value::Scalar(s, true) if is_null(s)))
}

fn is_null(s: &str) -> bool {
    matches!(s, "" | "~" | "null" | "Null" | "NULL")
}

fn is_false(node: &Node) -> bool {
    matches!(&node.value, Value::Scalar(s, true) if s == "false" || s == "False" || s == "FALSE")
}

fn is_true(node: &Node) -> bool {
    node.is_true()
}

/// A string that is one of `values`; a value of another type is none of them.
fn one_of<S: AsRef<str>>(node: &Node, values: &[S]) -> bool {
    node.str()
        .is_some_and(|s| values.iter().any(|v| v.as_ref() == s))
}

fn containers(spec: &Node) -> impl Iterator<Item = &Node> {
    ["initContainers", "containers", "ephemeralContainers"]
        .into_iter()
        .flat_map(|k| spec.get(k).map(Node::seq).unwrap_or_default())
}

fn name(container: &Node) -> Option<String> {
    Some(
        container
            .get("name")
            .and_then(Node::str)
            .unwrap_or_default()
            .to_string(),
    )
}

/// The first container for which `fault` finds a failing node.
fn each<'a>(
    spec: &'a Node,
    fault: impl Fn(&'a Node) -> Option<&'a Node>,
) -> Option<(Option<String>, u32)> {
    containers(spec).find_map(|c| fault(c).map(|n| (name(c), n.line)))
}

/// The pod-level fault `fault` finds, else the first container's.
fn both<'a>(
    spec: &'a Node,
    fault: impl Fn(&'a Node) -> Option<&'a Node>,
) -> Option<(Option<String>, u32)> {
    fault(spec)
        .map(|n| (None, n.line))
        .or_else(|| each(spec, fault))
}

/// `securityContext.PATH` of a pod spec or a container.
fn sc<'a>(base: &'a Node, path: &[&str]) -> Option<&'a Node> {
    set(base.get("securityContext").and_then(|s| s.at(path)))
}

/// The node at `path` of `base` if it is set and not one of `allowed`.
fn unset_or_in<'a>(base: &'a Node, path: &[&str], allowed: &[&str]) -> Option<&'a Node> {
    sc(base, path).filter(|n| !one_of(n, allowed))
}

/// The first item of a list at `path` that is not among `allowed`.
fn items_in<'a, S: AsRef<str>>(list: Option<&'a Node>, allowed: &[S]) -> Option<&'a Node> {
    list.map(Node::seq)
        .unwrap_or_default()
        .iter()
        .find(|a| !one_of(a, allowed))
}

/// Where `pod` fails check `id` in implementation `imp`, if it does.
fn check(id: CheckId, imp: &Implementation, pod: Pod<'_>) -> Option<(Option<String>, u32)> {
    let spec = pod.spec;
    let allowed = &imp.allowed;
    match id {
        CheckId::HostNamespaces => ["hostNetwork", "hostPID", "hostIPC"]
            .iter()
            .find_map(|f| spec.get(f).filter(|n| is_true(n)))
            .map(|n| (None, n.line)),
        CheckId::Privileged => each(spec, |c| sc(c, &["privileged"]).filter(|n| is_true(n))),
        CheckId::CapabilitiesBaseline => {
            each(spec, |c| items_in(sc(c, &["capabilities", "add"]), allowed))
        }
        CheckId::HostPathVolumes => volumes(spec)
            .find(|v| set(v.get("hostPath")).is_some())
            .map(|v| (None, v.line)),
        CheckId::HostPorts => each(spec, |c| {
            c.get("ports")
                .map(Node::seq)
                .unwrap_or_default()
                .iter()
                .find_map(|p| set(p.get("hostPort")).filter(|h| h.int() != Some(0)))
        }),
        CheckId::AppArmorProfile => {
            let prefix = "container.apparmor.security.beta.kubernetes.io/";
            let annotation = pod.annotations.iter().any(|(k, v)| {
                k.starts_with(prefix)
                    && !(v.is_empty() || v == "runtime/default" || v.starts_with("localhost/"))
            });
            if annotation {
                return Some((None, spec.line));
            }
            both(spec, |b| {
                unset_or_in(b, &["appArmorProfile", "type"], SECCOMP)
            })
        }
        CheckId::SeLinuxOptions => both(spec, |b| {
            let options = sc(b, &["seLinuxOptions"])?;
            let bad_type =
                set(options.get("type")).filter(|t| t.str() != Some("") && !one_of(t, allowed));
            let bad = |k: &str| set(options.get(k)).filter(|n| n.str() != Some(""));
            bad_type.or_else(|| bad("user")).or_else(|| bad("role"))
        }),
        CheckId::ProcMount | CheckId::ProcMountRestricted => {
            each(spec, |c| unset_or_in(c, &["procMount"], &["Default"]))
        }
        CheckId::SeccompProfileBaseline => both(spec, |b| {
            unset_or_in(b, &["seccompProfile", "type"], SECCOMP)
        }),
        CheckId::Sysctls => spec
            .at(&["securityContext", "sysctls"])
            .map(Node::seq)
            .unwrap_or_default()
            .iter()
            .find(|s| !s.get("name").is_some_and(|n| one_of(n, allowed)))
            .map(|s| (None, s.line)),
        CheckId::WindowsHostProcess => both(spec, |b| {
            sc(b, &["windowsOptions", "hostProcess"]).filter(|n| is_true(n))
        }),
        CheckId::HostProbesAndHostLifecycle => each(spec, |c| {
            let handlers = ["livenessProbe", "readinessProbe", "startupProbe"]
                .iter()
                .filter_map(|p| c.get(p))
                .chain(
                    ["postStart", "preStop"]
                        .iter()
                        .filter_map(|h| c.at(&["lifecycle", h])),
                );
            handlers
                .flat_map(|h| [h.at(&["httpGet", "host"]), h.at(&["tcpSocket", "host"])])
                .find_map(|host| set(host).filter(|n| n.str() != Some("")))
        }),
        CheckId::RestrictedVolumes => volumes(spec)
            .find(|v| imp.denied.iter().any(|k| set(v.get(k)).is_some()))
            .map(|v| (None, v.line)),
        CheckId::AllowPrivilegeEscalation => containers(spec)
            .find(|c| !sc(c, &["allowPrivilegeEscalation"]).is_some_and(is_false))
            .map(|c| (name(c), line_of(c, &["allowPrivilegeEscalation"]))),
        CheckId::RunAsNonRoot => {
            let pod_level = sc(spec, &["runAsNonRoot"]);
            if let Some(n) = pod_level.filter(|n| is_false(n)) {
                return Some((None, n.line));
            }
            let pod_true = pod_level.is_some_and(is_true);
            containers(spec)
                .find(|c| match sc(c, &["runAsNonRoot"]) {
                    Some(n) => !is_true(n),
                    None => !pod_true,
                })
                .map(|c| (name(c), line_of(c, &["runAsNonRoot"])))
        }
        CheckId::RunAsUser => both(spec, |b| {
            sc(b, &["runAsUser"]).filter(|n| n.int() == Some(0))
        }),
        CheckId::SeccompProfileRestricted => {
            let pod_profile = sc(spec, &["seccompProfile"]);
            let good = |p: &Node| p.get("type").is_some_and(|t| one_of(t, SECCOMP));
            if let Some(p) = pod_profile.filter(|p| !good(p)) {
                return Some((None, p.line));
            }
            let pod_good = pod_profile.is_some_and(good);
            containers(spec)
                .find(|c| match sc(c, &["seccompProfile"]) {
                    Some(p) => !good(p),
                    None => !pod_good,
                })
                .map(|c| (name(c), line_of(c, &["seccompProfile"])))
        }
        CheckId::CapabilitiesRestricted => containers(spec)
            .find(|c| {
                let drops_all = sc(c, &["capabilities", "drop"])
                    .is_some_and(|d| d.seq().iter().any(|i| i.str() == Some("ALL")));
                !drops_all || items_in(sc(c, &["capabilities", "add"]), allowed).is_some()
            })
            .map(|c| (name(c), line_of(c, &["capabilities"]))),
    }
}

fn volumes(spec: &Node) -> impl Iterator<Item = &Node> {
    spec.get("volumes")
        .map(Node::seq)
        .unwrap_or_default()
        .iter()
}

/// The line of a container's `securityContext.PATH`, else of its security context, else of the
/// container.
fn line_of(container: &Node, path: &[&str]) -> u32 {
    sc(container, path)
        .or_else(|| container.get("securityContext"))
        .map_or(container.line, |n| n.line)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing, reason = "tests")]
    use super::*;

    fn pod(yaml: &str) -> Vec<CheckId> {
        let docs = crate::manifests::yaml::read(yaml.as_bytes()).unwrap();
        let spec = docs[0].get("spec").unwrap();
        let none = BTreeMap::new();
        let pod = Pod {
            annotations: &none,
            spec,
        };
        failures(pod, Level::Restricted, pod_security::get().newest())
            .into_iter()
            .map(|f| f.check)
            .collect()
    }

    #[test]
    fn a_hardened_pod_meets_restricted_and_each_fault_fails_its_check() {
        let good = "spec:\n  securityContext: {runAsNonRoot: true, seccompProfile: {type: RuntimeDefault}}\n  containers:\n  - name: a\n    securityContext: {allowPrivilegeEscalation: false, capabilities: {drop: [ALL]}}\n";
        assert_eq!(pod(good), Vec::<CheckId>::new());
        let cases = [
            (
                "runAsNonRoot: true",
                "runAsNonRoot: false",
                CheckId::RunAsNonRoot,
            ),
            (
                "type: RuntimeDefault",
                "type: Unconfined",
                CheckId::SeccompProfileRestricted,
            ),
            (
                "drop: [ALL]",
                "drop: [NET_RAW]",
                CheckId::CapabilitiesRestricted,
            ),
            (
                "allowPrivilegeEscalation: false",
                "allowPrivilegeEscalation: true",
                CheckId::AllowPrivilegeEscalation,
            ),
            (
                "containers:",
                "hostNetwork: true\n  containers:",
                CheckId::HostNamespaces,
            ),
        ];
        for (from, to, check) in cases {
            let failed = pod(&good.replace(from, to));
            assert!(failed.contains(&check), "{to}: {failed:?}");
        }
        // Windows pods are relaxed from the checks that do not apply to them.
        let windows = "spec:\n  os: {name: windows}\n  securityContext: {runAsNonRoot: true}\n  containers:\n  - name: a\n";
        assert_eq!(pod(windows), Vec::<CheckId>::new());
    }
}
