//! Each admission rule evaluated by warden itself on a pod as a manifest writes it: the same
//! condition the generated policies state in CEL (`lower::admission::cel_rules`) and Rego, held
//! to their verdicts by the oracle tests, but naming every container at fault and the line of
//! the value that fails.
//!
//! ```text
//! require drop-all-capabilities   // each container whose capabilities.drop lacks ALL, at that line
//! images from "registry.example.com/*"   // each container whose image matches no pattern
//! ```

use super::pod_security::{self, Pod};
use crate::catalog::pod_security::CheckId;
use crate::ir::{AdmissionRule, IdField};
use crate::manifests::yaml::{Node, Value};
use std::collections::BTreeMap;

/// A pod as admission sees it: its metadata's labels and annotations, and its spec.
#[derive(Clone, Copy)]
pub struct PodView<'a> {
    pub kind: &'a str,
    pub name: &'a str,
    pub namespace: &'a str,
    pub labels: &'a BTreeMap<String, String>,
    pub annotations: &'a BTreeMap<String, String>,
    pub spec: &'a Node,
}

/// Where a rule fails: the container at fault (none for the pod as a whole), the line of the
/// value at fault (the container's or the spec's where a value is missing), and for Pod Security
/// the check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fault {
    pub container: Option<String>,
    pub line: u32,
    pub check: Option<CheckId>,
    /// Why, where the rule alone does not say it (a CEL expression that cannot be evaluated).
    pub detail: Option<String>,
}

impl Fault {
    fn pod(line: u32) -> Fault {
        Fault {
            container: None,
            line,
            check: None,
            detail: None,
        }
    }

    fn container(c: &Node, line: u32) -> Fault {
        Fault {
            container: Some(name(c)),
            line,
            check: None,
            detail: None,
        }
    }
}

fn name(c: &Node) -> String {
    c.get("name")
        .and_then(Node::str)
        .unwrap_or_default()
        .to_string()
}

/// Present and not null (the API server drops a null field).
fn set(node: Option<&Node>) -> Option<&Node> {
    node.filter(|n| n.str().is_some() || !matches!(n.value, Value::Scalar(_, true)))
}

fn is_false(n: &Node) -> bool {
    matches!(&n.value, Value::Scalar(s, true) if s == "false" || s == "False" || s == "FALSE")
}

/// `securityContext.PATH` of a pod spec or a container, when set.
fn sc<'a>(base: &'a Node, path: &[&str]) -> Option<&'a Node> {
    set(base.get("securityContext").and_then(|s| set(s.at(path))))
}

/// The line of a container's `securityContext.PATH`, else (the value missing) the container's.
fn line_of(c: &Node, path: &[&str]) -> u32 {
    sc(c, path).map_or(c.line, |n| n.line)
}

/// The containers the rules read, in the order the policies list them: `containers`, then
/// `initContainers`, then (unless `workload_only`) `ephemeralContainers`; those whose image an
/// exemption names are left out.
fn containers<'a>(
    spec: &'a Node,
    exempt: &'a [(String, String)],
    workload_only: bool,
) -> impl Iterator<Item = &'a Node> {
    let kinds: &[&str] = if workload_only {
        &["containers", "initContainers"]
    } else {
        &["containers", "initContainers", "ephemeralContainers"]
    };
    kinds
        .iter()
        .flat_map(|k| spec.get(k).map(Node::seq).unwrap_or_default())
        .filter(|c| {
            let image = c.get("image").and_then(Node::str).unwrap_or_default();
            !exempt.iter().any(|(p, _)| image_matches(p, image))
        })
}

/// Whether `image` matches `pattern`, where `*` stands for any characters.
pub fn image_matches(pattern: &str, image: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    let [first, middle @ .., last] = parts.as_slice() else {
        return pattern == image;
    };
    if parts.len() == 1 {
        return pattern == image;
    }
    let Some(mut rest) = image.strip_prefix(first) else {
        return false;
    };
    for part in middle {
        match rest.find(part) {
            Some(i) => rest = rest.get(i + part.len()..).unwrap_or_default(),
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
}

/// Each container (of `containers`) whose `ok` is false, at the line `line` gives.
fn each<'a>(
    list: impl Iterator<Item = &'a Node>,
    ok: impl Fn(&'a Node) -> bool,
    line: impl Fn(&'a Node) -> u32,
) -> Vec<Fault> {
    list.filter(|c| !ok(c))
        .map(|c| Fault::container(c, line(c)))
        .collect()
}

fn in_ranges(v: Option<i64>, ranges: &[(u64, u64)]) -> bool {
    v.and_then(|v| u64::try_from(v).ok())
        .is_some_and(|v| ranges.iter().any(|(a, b)| (*a..=*b).contains(&v)))
}

/// Where `pod` fails `rule`, with the containers whose images `exempt` names left out.
pub fn faults(rule: &AdmissionRule, pod: PodView<'_>, exempt: &[(String, String)]) -> Vec<Fault> {
    let spec = pod.spec;
    let all = || containers(spec, exempt, false);
    let sc_line = |path: &'static [&'static str]| move |c: &Node| line_of(c, path);
    let pod_true = |field: &str| sc(spec, &[field]).is_some_and(Node::is_true);
    match rule {
        AdmissionRule::PodSecurity {
            level,
            version,
            exempt: checks,
        } => {
            let filtered;
            let spec = if exempt.is_empty() {
                spec
            } else {
                filtered = without_exempt(spec, exempt);
                &filtered
            };
            let p = Pod {
                annotations: pod.annotations,
                spec,
            };
            pod_security::failures(p, *level, *version)
                .into_iter()
                .filter(|f| !checks.iter().any(|(id, _)| *id == f.check))
                .map(|f| Fault {
                    container: f.container,
                    line: f.line,
                    check: Some(f.check),
                    detail: None,
                })
                .collect()
        }
        AdmissionRule::ForbidPrivileged => each(
            all(),
            |c| !sc(c, &["privileged"]).is_some_and(Node::is_true),
            sc_line(&["privileged"]),
        ),
        AdmissionRule::ForbidHostNamespaces => ["hostNetwork", "hostPID", "hostIPC"]
            .iter()
            .filter_map(|f| spec.get(f).filter(|n| n.is_true()))
            .map(|n| Fault::pod(n.line))
            .take(1)
            .collect(),
        AdmissionRule::ForbidHostField(field) => spec
            .get(field)
            .filter(|n| n.is_true())
            .map(|n| Fault::pod(n.line))
            .into_iter()
            .collect(),
        AdmissionRule::ForbidPrivilegeEscalation => each(
            all(),
            |c| sc(c, &["allowPrivilegeEscalation"]).is_some_and(is_false),
            sc_line(&["allowPrivilegeEscalation"]),
        ),
        AdmissionRule::RequireRunAsNonRoot => {
            let mut out: Vec<Fault> = sc(spec, &["runAsUser"])
                .filter(|n| n.int() == Some(0))
                .map(|n| Fault::pod(n.line))
                .into_iter()
                .collect();
            out.extend(each(
                all(),
                |c| {
                    let non_root = match sc(c, &["runAsNonRoot"]) {
                        Some(n) => n.is_true(),
                        None => pod_true("runAsNonRoot"),
                    };
                    non_root && sc(c, &["runAsUser"]).and_then(Node::int) != Some(0)
                },
                sc_line(&["runAsNonRoot"]),
            ));
            out
        }
        AdmissionRule::RunAsUserNonRoot => each(
            all(),
            |c| match (sc(c, &["runAsUser"]), sc(spec, &["runAsUser"])) {
                (Some(u), _) | (None, Some(u)) => u.int() != Some(0),
                (None, None) => match sc(c, &["runAsNonRoot"]) {
                    Some(n) => n.is_true(),
                    None => pod_true("runAsNonRoot"),
                },
            },
            sc_line(&["runAsUser"]),
        ),
        AdmissionRule::Ids { field, ranges } => {
            let f = field.k8s();
            let pod_value = sc(spec, &[f]);
            match field {
                IdField::RunAsUser | IdField::RunAsGroup => each(
                    all(),
                    |c| match sc(c, &[f]) {
                        Some(v) => in_ranges(v.int(), ranges),
                        None => in_ranges(pod_value.and_then(Node::int), ranges),
                    },
                    |c| line_of(c, &[f]),
                ),
                IdField::SupplementalGroups => {
                    let ok = pod_value.is_some_and(|v| {
                        !v.seq().is_empty() && v.seq().iter().all(|g| in_ranges(g.int(), ranges))
                    });
                    pod_fault(ok, pod_value, spec)
                }
                IdField::FsGroup => {
                    let ok = in_ranges(pod_value.and_then(Node::int), ranges);
                    pod_fault(ok, pod_value, spec)
                }
            }
        }
        AdmissionRule::RequireDropAllCapabilities => each(
            all(),
            |c| {
                sc(c, &["capabilities", "drop"])
                    .is_some_and(|d| d.seq().iter().any(|i| i.str() == Some("ALL")))
            },
            sc_line(&["capabilities"]),
        ),
        AdmissionRule::AllowCapabilities(caps) => each(
            all(),
            |c| {
                sc(c, &["capabilities", "add"]).is_none_or(|a| {
                    a.seq()
                        .iter()
                        .all(|i| i.str().is_some_and(|s| caps.iter().any(|k| k == s)))
                })
            },
            sc_line(&["capabilities", "add"]),
        ),
        AdmissionRule::RequireReadOnlyRootFilesystem => each(
            all(),
            |c| sc(c, &["readOnlyRootFilesystem"]).is_some_and(Node::is_true),
            sc_line(&["readOnlyRootFilesystem"]),
        ),
        AdmissionRule::AllowVolumes(kinds) => volumes(spec)
            .filter(|v| {
                crate::catalog::pod_spec::VOLUME_KINDS
                    .iter()
                    .any(|k| !kinds.iter().any(|a| a == k) && set(v.get(k)).is_some())
            })
            .map(|v| Fault::pod(v.line))
            .collect(),
        AdmissionRule::ForbidHostPaths(paths) => volumes(spec)
            .filter(|v| {
                let Some(host) = set(v.get("hostPath")) else {
                    return false;
                };
                let path = host.get("path").and_then(Node::str);
                paths.iter().any(|p| {
                    p.is_empty()
                        || path.is_some_and(|path| path == p || path.starts_with(&format!("{p}/")))
                })
            })
            .map(|v| Fault::pod(v.line))
            .collect(),
        AdmissionRule::RequireSeccompProfile => {
            let good = |n: Option<&Node>| {
                n.and_then(|p| p.get("type"))
                    .and_then(Node::str)
                    .is_some_and(|t| t == "RuntimeDefault" || t == "Localhost")
            };
            each(
                all(),
                |c| match sc(c, &["seccompProfile"]) {
                    Some(p) => good(Some(p)),
                    None => good(sc(spec, &["seccompProfile"])),
                },
                sc_line(&["seccompProfile"]),
            )
        }
        AdmissionRule::ImagesFrom(patterns) => each(
            all(),
            |c| {
                let image = c.get("image").and_then(Node::str).unwrap_or_default();
                patterns.iter().any(|p| image_matches(p, image))
            },
            image_line,
        ),
        AdmissionRule::ForbidLatestTag => each(
            all(),
            |c| {
                let image = c.get("image").and_then(Node::str).unwrap_or_default();
                image.contains('@') || tagged(image) && !image.ends_with(":latest")
            },
            image_line,
        ),
        AdmissionRule::RequireImageDigest => each(
            all(),
            |c| pinned(c.get("image").and_then(Node::str).unwrap_or_default()),
            image_line,
        ),
        AdmissionRule::RequireResourceLimits | AdmissionRule::RequireResourceRequests => {
            let which = if matches!(rule, AdmissionRule::RequireResourceLimits) {
                "limits"
            } else {
                "requests"
            };
            each(
                containers(spec, exempt, true),
                |c| {
                    c.at(&["resources", which]).is_some_and(|r| {
                        set(r.get("cpu")).is_some() && set(r.get("memory")).is_some()
                    })
                },
                |c| c.get("resources").map_or(c.line, |n| n.line),
            )
        }
        AdmissionRule::RequireLabels(keys) => {
            let ok = keys.iter().all(|k| pod.labels.contains_key(k));
            pod_fault(ok, None, spec)
        }
        AdmissionRule::RequireAnnotations(keys) => {
            let ok = keys.iter().all(|k| pod.annotations.contains_key(k));
            pod_fault(ok, None, spec)
        }
        AdmissionRule::Cel { expression, .. } => match super::cel::holds(expression, pod, exempt) {
            Ok(true) => Vec::new(),
            Ok(false) => vec![Fault::pod(spec.line)],
            Err(why) => vec![Fault {
                detail: Some(why),
                ..Fault::pod(spec.line)
            }],
        },
    }
}

/// A pod-level fault at `at`'s line (else the spec's), unless `ok`.
fn pod_fault(ok: bool, at: Option<&Node>, spec: &Node) -> Vec<Fault> {
    if ok {
        Vec::new()
    } else {
        vec![Fault::pod(at.map_or(spec.line, |n| n.line))]
    }
}

fn image_line(c: &Node) -> u32 {
    c.get("image").map_or(c.line, |n| n.line)
}

fn volumes(spec: &Node) -> impl Iterator<Item = &Node> {
    spec.get("volumes")
        .map(Node::seq)
        .unwrap_or_default()
        .iter()
}

/// A tag after the last `/`: `:[^/:]+$`.
fn tagged(image: &str) -> bool {
    image
        .rsplit_once(':')
        .is_some_and(|(_, tag)| !tag.is_empty() && !tag.contains('/'))
}

/// `@sha256:` and 64 lowercase hexadecimal digits at the end.
fn pinned(image: &str) -> bool {
    image.rsplit_once("@sha256:").is_some_and(|(_, d)| {
        d.len() == 64
            && d.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

/// The spec without the containers `exempt` names, for the checks that read them.
fn without_exempt(spec: &Node, exempt: &[(String, String)]) -> Node {
    let Value::Map(entries) = &spec.value else {
        return spec.clone();
    };
    let keep = |c: &Node| {
        let image = c.get("image").and_then(Node::str).unwrap_or_default();
        !exempt.iter().any(|(p, _)| image_matches(p, image))
    };
    let entries = entries
        .iter()
        .map(|(k, v)| {
            let lists = ["containers", "initContainers", "ephemeralContainers"];
            match &v.value {
                Value::Seq(items) if lists.contains(&k.as_str()) => (
                    k.clone(),
                    Node {
                        value: Value::Seq(items.iter().filter(|c| keep(c)).cloned().collect()),
                        line: v.line,
                    },
                ),
                _ => (k.clone(), v.clone()),
            }
        })
        .collect();
    Node {
        value: Value::Map(entries),
        line: spec.line,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_patterns_match_as_the_policies_match_them() {
        assert!(image_matches("busybox", "busybox"));
        assert!(!image_matches("busybox", "busybox:1"));
        assert!(image_matches(
            "registry.example.com/*",
            "registry.example.com/a/b:1"
        ));
        assert!(!image_matches(
            "registry.example.com/*",
            "registry.example.co/a"
        ));
        assert!(image_matches(
            "docker.io/library/redis:7.*-alpine",
            "docker.io/library/redis:7.2-alpine"
        ));
        assert!(!image_matches(
            "docker.io/library/redis:7.*-alpine",
            "docker.io/library/redis:7.2"
        ));
        assert!(image_matches("a*b*c", "abc"));
        assert!(!image_matches("a*bc*c", "abc"));
        assert!(tagged("nginx:1.25") && !tagged("nginx") && !tagged("localhost:5000/nginx"));
        assert!(pinned(&format!("nginx@sha256:{}", "a".repeat(64))));
        assert!(!pinned(&format!("nginx@sha256:{}", "A".repeat(64))));
    }
}
