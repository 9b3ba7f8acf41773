//! An admission block's rules in Rego, as Gatekeeper evaluates them: `violation[{"msg": msg}]`
//! rules over `input.review.object`, one or more per warden rule or Pod Security check, with the
//! same meaning as the CEL of `vap` (the suite runs both on the same pods).
//!
//! Rego v0 syntax (Gatekeeper's), without `future.keywords`: set membership is written as set
//! lookups. A missing field makes a rule body undefined, so a violation rule only states what is
//! wrong when it is there.

use crate::catalog::pod_security::{self, Implementation};
use crate::ir::{Admission, AdmissionRule};

/// The helper rules every template starts with: the pod spec and metadata wherever the kind
/// keeps them, every container, and the relaxations.
const PRELUDE: &str = r#"obj := input.review.object

pod_spec := obj.spec {
  obj.kind == "Pod"
}

pod_spec := obj.spec.jobTemplate.spec.template.spec {
  obj.kind == "CronJob"
}

pod_spec := obj.spec.template.spec {
  obj.kind != "Pod"
  obj.kind != "CronJob"
}

pod_meta := obj.metadata {
  obj.kind == "Pod"
}

pod_meta := object.get(obj.spec.jobTemplate.spec.template, "metadata", {}) {
  obj.kind == "CronJob"
}

pod_meta := object.get(obj.spec.template, "metadata", {}) {
  obj.kind != "Pod"
  obj.kind != "CronJob"
}

containers[c] {
  c := pod_spec.containers[_]
}

containers[c] {
  c := pod_spec.initContainers[_]
}

containers[c] {
  c := pod_spec.ephemeralContainers[_]
}

workload_containers[c] {
  c := pod_spec.containers[_]
}

workload_containers[c] {
  c := pod_spec.initContainers[_]
}

windows {
  pod_spec.os.name == "windows"
}

user_namespaced {
  pod_spec.hostUsers == false
}

pod_sc := object.get(pod_spec, "securityContext", {})

sc(c) = s {
  s := object.get(c, "securityContext", {})
}
"#;

/// A Rego set of string literals.
fn set(items: &[String]) -> String {
    format!("{{{}}}", literals(items))
}

/// A Rego array of string literals.
fn array(items: &[String]) -> String {
    format!("[{}]", literals(items))
}

fn literals(items: &[String]) -> String {
    let quoted: Vec<String> = items.iter().map(|i| rego_string(i)).collect();
    quoted.join(", ")
}

/// The body line that fails when container `c` does not drop ALL capabilities.
const DROPS_NOT_ALL: &str = r#"not count({d | d := sc(c).capabilities.drop[_]; d == "ALL"}) > 0"#;

/// A Rego string literal: JSON's escaping is Rego's.
fn rego_string(s: &str) -> String {
    serde_json::Value::String(s.to_string()).to_string()
}

/// One violation: the conditions of its body (one per line) and its message.
struct Violation {
    body: Vec<String>,
    msg: String,
}

fn v(msg: &str, body: &[&str]) -> Violation {
    Violation {
        body: body.iter().map(|s| s.to_string()).collect(),
        msg: msg.to_string(),
    }
}

const SECCOMP_OK: &str = r#"{"RuntimeDefault", "Localhost"}"#;

/// A Pod Security check's violations, for its implementation `imp`.
fn check(id: &str, imp: &Implementation) -> Vec<Violation> {
    let allowed = set(&imp.allowed);
    match id {
        "hostNamespaces" => ["hostNetwork", "hostPID", "hostIPC"]
            .iter()
            .map(|f| Violation {
                body: vec![format!("pod_spec.{f} == true")],
                msg: format!("spec.{f} is true"),
            })
            .collect(),
        "privileged" => vec![v(
            "a container is privileged",
            &["c := containers[_]", "sc(c).privileged == true"],
        )],
        "capabilities_baseline" | "capabilities_restricted" => {
            let mut out = vec![Violation {
                body: vec![
                    "c := containers[_]".into(),
                    "a := sc(c).capabilities.add[_]".into(),
                    format!("not {allowed}[a]"),
                ],
                msg: "a container adds a capability that is not allowed".into(),
            }];
            if id == "capabilities_restricted" {
                out.push(v(
                    "a container does not drop ALL capabilities",
                    &["c := containers[_]", DROPS_NOT_ALL],
                ));
            }
            out
        }
        "hostPathVolumes" => vec![v(
            "a volume is a hostPath",
            &["pod_spec.volumes[_].hostPath"],
        )],
        "hostPorts" => vec![v(
            "a container uses a host port",
            &["c := containers[_]", "p := c.ports[_]", "p.hostPort != 0"],
        )],
        "appArmorProfile" => vec![
            v(
                "an AppArmor annotation is neither runtime/default nor localhost/*",
                &[
                    "value := pod_meta.annotations[key]",
                    r#"startswith(key, "container.apparmor.security.beta.kubernetes.io/")"#,
                    r#"value != """#,
                    r#"value != "runtime/default""#,
                    r#"not startswith(value, "localhost/")"#,
                ],
            ),
            v(
                "the pod's AppArmor profile is not RuntimeDefault or Localhost",
                &[
                    "t := pod_sc.appArmorProfile.type",
                    &format!("not {SECCOMP_OK}[t]"),
                ],
            ),
            v(
                "a container's AppArmor profile is not RuntimeDefault or Localhost",
                &[
                    "c := containers[_]",
                    "t := sc(c).appArmorProfile.type",
                    &format!("not {SECCOMP_OK}[t]"),
                ],
            ),
        ],
        "seLinuxOptions" => {
            let mut out = Vec::new();
            for (whose, options) in [
                ("the pod's", vec!["o := pod_sc.seLinuxOptions".to_string()]),
                (
                    "a container's",
                    vec![
                        "c := containers[_]".to_string(),
                        "o := sc(c).seLinuxOptions".to_string(),
                    ],
                ),
            ] {
                let mut body = options.clone();
                body.extend([
                    "t := o.type".to_string(),
                    r#"t != """#.to_string(),
                    format!("not {allowed}[t]"),
                ]);
                out.push(Violation {
                    body,
                    msg: format!("{whose} SELinux type is not allowed"),
                });
                for field in ["user", "role"] {
                    let mut body = options.clone();
                    body.push(format!(r#"o.{field} != """#));
                    out.push(Violation {
                        body,
                        msg: format!("{whose} SELinux {field} is set"),
                    });
                }
            }
            out
        }
        "procMount" | "procMount_restricted" => vec![v(
            "a container's procMount is not Default",
            &["c := containers[_]", r#"sc(c).procMount != "Default""#],
        )],
        "seccompProfile_baseline" => vec![
            v(
                "the pod's seccomp profile is not RuntimeDefault or Localhost",
                &[
                    "t := pod_sc.seccompProfile.type",
                    &format!("not {SECCOMP_OK}[t]"),
                ],
            ),
            v(
                "a container's seccomp profile is not RuntimeDefault or Localhost",
                &[
                    "c := containers[_]",
                    "t := sc(c).seccompProfile.type",
                    &format!("not {SECCOMP_OK}[t]"),
                ],
            ),
        ],
        "seccompProfile_restricted" => {
            let mut out = check("seccompProfile_baseline", imp);
            out.push(v(
                "a container has no seccomp profile of its own or from the pod",
                &[
                    "c := containers[_]",
                    "not sc(c).seccompProfile",
                    "not pod_sc.seccompProfile",
                ],
            ));
            out
        }
        "sysctls" => vec![Violation {
            body: vec![
                "s := pod_sc.sysctls[_]".into(),
                format!("not {allowed}[s.name]"),
            ],
            msg: "a sysctl is not allowed".into(),
        }],
        "windowsHostProcess" => vec![
            v(
                "the pod is a Windows host process",
                &["pod_sc.windowsOptions.hostProcess == true"],
            ),
            v(
                "a container is a Windows host process",
                &[
                    "c := containers[_]",
                    "sc(c).windowsOptions.hostProcess == true",
                ],
            ),
        ],
        "hostProbesAndHostLifecycle" => {
            let mut out = Vec::new();
            for handler in [
                "c.livenessProbe",
                "c.readinessProbe",
                "c.startupProbe",
                "c.lifecycle.postStart",
                "c.lifecycle.preStop",
            ] {
                for kind in ["httpGet", "tcpSocket"] {
                    out.push(Violation {
                        body: vec![
                            "c := containers[_]".into(),
                            format!(r#"{handler}.{kind}.host != """#),
                        ],
                        msg: format!(
                            "a container's {} {kind} sets a host",
                            handler.trim_start_matches("c.")
                        ),
                    });
                }
            }
            out
        }
        "restrictedVolumes" => vec![Violation {
            body: vec![
                "vol := pod_spec.volumes[_]".into(),
                "vol[kind]".into(),
                format!("{}[kind]", set(&imp.denied)),
            ],
            msg: "a volume is of a kind that is not allowed".into(),
        }],
        "allowPrivilegeEscalation" => vec![v(
            "a container does not set allowPrivilegeEscalation to false",
            &[
                "c := containers[_]",
                "not sc(c).allowPrivilegeEscalation == false",
            ],
        )],
        "runAsNonRoot" => vec![
            v(
                "the pod sets runAsNonRoot to false",
                &["pod_sc.runAsNonRoot == false"],
            ),
            v(
                "a container sets runAsNonRoot to false",
                &["c := containers[_]", "sc(c).runAsNonRoot == false"],
            ),
            v(
                "a container runs as root: no runAsNonRoot of its own or from the pod",
                &[
                    "c := containers[_]",
                    r#"object.get(sc(c), "runAsNonRoot", null) == null"#,
                    "not pod_sc.runAsNonRoot == true",
                ],
            ),
        ],
        "runAsUser" => vec![
            v("the pod runs as user 0", &["pod_sc.runAsUser == 0"]),
            v(
                "a container runs as user 0",
                &["c := containers[_]", "sc(c).runAsUser == 0"],
            ),
        ],
        // A check the catalog gained without an implementation here: refuse everything rather
        // than admit what it was meant to stop. The suite catches it first.
        _ => vec![v("check without an implementation", &["true"])],
    }
}

/// The violations of one warden rule, each message prefixed with `label`.
fn rule(rule: &AdmissionRule) -> Vec<(String, Violation)> {
    let label = |l: &str, vs: Vec<Violation>| -> Vec<(String, Violation)> {
        vs.into_iter().map(|v| (l.to_string(), v)).collect()
    };
    let none = Implementation::default();
    match rule {
        AdmissionRule::ForbidPrivileged => label("forbid privileged", check("privileged", &none)),
        AdmissionRule::ForbidHostNamespaces => {
            label("forbid host-namespaces", check("hostNamespaces", &none))
        }
        AdmissionRule::ForbidPrivilegeEscalation => label(
            "forbid privilege-escalation",
            check("allowPrivilegeEscalation", &none),
        ),
        AdmissionRule::RequireRunAsNonRoot => {
            let mut vs = check("runAsNonRoot", &none);
            vs.extend(check("runAsUser", &none));
            label("require run-as-non-root", vs)
        }
        AdmissionRule::RequireDropAllCapabilities => label(
            "require drop-all-capabilities",
            vec![v(
                "a container does not drop ALL capabilities",
                &["c := containers[_]", DROPS_NOT_ALL],
            )],
        ),
        AdmissionRule::RequireSeccompProfile => label(
            "require seccomp-profile",
            check("seccompProfile_restricted", &none),
        ),
        AdmissionRule::ImagesFrom(patterns) => {
            let regexes: Vec<String> = patterns.iter().map(|p| super::vap::glob_regex(p)).collect();
            label(
                "images from",
                vec![Violation {
                    body: vec![
                        "c := containers[_]".into(),
                        format!(
                            "count({{r | r := {}[_]; regex.match(r, c.image)}}) == 0",
                            array(&regexes)
                        ),
                    ],
                    msg: format!("a container image matches none of: {}", patterns.join(", ")),
                }],
            )
        }
        AdmissionRule::ForbidLatestTag => label(
            "forbid latest-tag",
            vec![
                v(
                    "a container image has no tag and no digest",
                    &[
                        "c := containers[_]",
                        r#"not contains(c.image, "@")"#,
                        r#"not regex.match(":[^/:]+$", c.image)"#,
                    ],
                ),
                v(
                    "a container image is :latest without a digest",
                    &[
                        "c := containers[_]",
                        r#"not contains(c.image, "@")"#,
                        r#"endswith(c.image, ":latest")"#,
                    ],
                ),
            ],
        ),
        AdmissionRule::RequireImageDigest => label(
            "require image-digest",
            vec![v(
                "a container image is not pinned by digest",
                &[
                    "c := containers[_]",
                    r#"not regex.match("@sha256:[0-9a-f]{64}$", c.image)"#,
                ],
            )],
        ),
        AdmissionRule::RequireResourceLimits | AdmissionRule::RequireResourceRequests => {
            let (name, which) = if matches!(rule, AdmissionRule::RequireResourceLimits) {
                ("require resource-limits", "limits")
            } else {
                ("require resource-requests", "requests")
            };
            label(
                name,
                ["cpu", "memory"]
                    .iter()
                    .map(|r| Violation {
                        body: vec![
                            "c := workload_containers[_]".into(),
                            format!("not c.resources.{which}.{r}"),
                        ],
                        msg: format!("a container sets no resources.{which}.{r}"),
                    })
                    .collect(),
            )
        }
        AdmissionRule::RequireLabels(keys) => label(
            "require labels",
            vec![Violation {
                body: vec![
                    format!("k := {}[_]", array(keys)),
                    "labels := object.get(pod_meta, \"labels\", {})".into(),
                    "not labels[k]".into(),
                ],
                msg: format!("the pod must carry the labels: {}", keys.join(", ")),
            }],
        ),
        AdmissionRule::PodSecurity {
            level,
            version,
            exempt,
        } => pod_security::get()
            .checks(*level, *version)
            .into_iter()
            .filter(|(c, _)| !exempt.iter().any(|(e, _)| *e == c.id))
            .flat_map(|(c, imp)| {
                let prefix = format!(
                    "Pod Security {} {version}: check {} fails",
                    level.name(),
                    c.id
                );
                check(&c.id, imp).into_iter().map(move |mut v| {
                    if imp.windows {
                        v.body.push("not windows".into());
                    }
                    if imp.user_namespaces {
                        v.body.push("not user_namespaced".into());
                    }
                    (prefix.clone(), v)
                })
            })
            .collect(),
    }
}

/// The Rego module of an admission block, in package `package`.
pub(super) fn module(package: &str, adm: &Admission) -> String {
    let mut out = format!("package {package}\n\n{PRELUDE}");
    for (label, violation) in adm.rules.iter().flat_map(|(r, _)| rule(r)) {
        out.push_str("\nviolation[{\"msg\": msg}] {\n");
        for line in &violation.body {
            out.push_str("  ");
            out.push_str(line);
            out.push('\n');
        }
        out.push_str(&format!(
            "  msg := {}\n}}\n",
            rego_string(&format!("{label}: {}", violation.msg))
        ));
    }
    out
}
