//! An admission block's rules in Rego, as Gatekeeper evaluates them: `violation[{"msg": msg}]`
//! rules over `input.review.object`, one or more per warden rule or Pod Security check, with the
//! same meaning as the CEL of `vap` (the suite runs both on the same pods).
//!
//! Rego v0 syntax (Gatekeeper's), without `future.keywords`: set membership is written as set
//! lookups. A missing field makes a rule body undefined, so a violation rule only states what is
//! wrong when it is there.

use crate::catalog::pod_security::{self, CheckId, Implementation};
use crate::ir::AdmissionRule;

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

non_root(c) {
  sc(c).runAsNonRoot == true
}

non_root(c) {
  object.get(sc(c), "runAsNonRoot", null) == null
  pod_sc.runAsNonRoot == true
}

id_of(c, f) = v {
  v := sc(c)[f]
}

id_of(c, f) = v {
  object.get(sc(c), f, null) == null
  v := pod_sc[f]
}

spec_images(spec) = images {
  regular := [c.image | c := object.get(spec, "containers", [])[_]]
  init := [c.image | c := object.get(spec, "initContainers", [])[_]]
  ephemeral := [c.image | c := object.get(spec, "ephemeralContainers", [])[_]]
  images := array.concat(array.concat(regular, init), ephemeral)
}

# As the CEL's match condition: a Pod update that keeps every image is not checked again.
unchanged_pod_update {
  object.get(input.review, "operation", "") == "UPDATE"
  obj.kind == "Pod"
  not images_changed
}

images_changed {
  spec_images(input.review.oldObject.spec) != spec_images(obj.spec)
}
"#;

/// The container sets, each element `[kind, container]`; `exempt` is the Rego condition on `c`
/// that leaves a container out (empty: none).
fn container_sets(exempt: &str) -> String {
    let mut out = String::new();
    for (set, lists) in [
        (
            "containers",
            &[
                ("containers", "container"),
                ("initContainers", "initContainer"),
                ("ephemeralContainers", "ephemeralContainer"),
            ][..],
        ),
        (
            "workload_containers",
            &[
                ("containers", "container"),
                ("initContainers", "initContainer"),
            ][..],
        ),
    ] {
        for (field, kind) in lists {
            out.push_str(&format!(
                "\n{set}[[kind, c]] {{\n  c := pod_spec.{field}[_]\n  kind := \"{kind}\"\n"
            ));
            if !exempt.is_empty() {
                out.push_str(&format!("  not {exempt}\n"));
            }
            out.push_str("}\n");
        }
    }
    out
}

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

/// One violation: the conditions of its body (one per line) and its message. A body line
/// `c := containers[_]` (or `workload_containers`) binds a container: `module` writes it as the
/// set's `[kind, c]` entry, and the message then follows the container's kind and name
/// (`initContainer setup is privileged …`).
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
fn check(id: CheckId, imp: &Implementation) -> Vec<Violation> {
    let allowed = set(&imp.allowed);
    match id {
        CheckId::HostNamespaces => ["hostNetwork", "hostPID", "hostIPC"]
            .iter()
            .map(|f| Violation {
                body: vec![format!("pod_spec.{f} == true")],
                msg: format!("spec.{f} is true"),
            })
            .collect(),
        CheckId::Privileged => vec![v(
            "is privileged (securityContext.privileged)",
            &["c := containers[_]", "sc(c).privileged == true"],
        )],
        CheckId::CapabilitiesBaseline | CheckId::CapabilitiesRestricted => {
            let mut out = vec![Violation {
                body: vec![
                    "c := containers[_]".into(),
                    "a := sc(c).capabilities.add[_]".into(),
                    format!("not {allowed}[a]"),
                ],
                msg: "adds a capability that is not allowed (securityContext.capabilities.add)"
                    .into(),
            }];
            if id == CheckId::CapabilitiesRestricted {
                out.push(v(
                    "does not drop ALL capabilities (securityContext.capabilities.drop)",
                    &["c := containers[_]", DROPS_NOT_ALL],
                ));
            }
            out
        }
        CheckId::HostPathVolumes => vec![v(
            "a volume is a hostPath",
            &["pod_spec.volumes[_].hostPath"],
        )],
        CheckId::HostPorts => vec![v(
            "uses a host port (ports[].hostPort)",
            &["c := containers[_]", "p := c.ports[_]", "p.hostPort != 0"],
        )],
        CheckId::AppArmorProfile => vec![
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
                "has an AppArmor profile other than RuntimeDefault or Localhost (securityContext.appArmorProfile.type)",
                &[
                    "c := containers[_]",
                    "t := sc(c).appArmorProfile.type",
                    &format!("not {SECCOMP_OK}[t]"),
                ],
            ),
        ],
        CheckId::SeLinuxOptions => {
            let mut out = Vec::new();
            for (whose, options) in [
                (
                    "the pod sets",
                    vec!["o := pod_sc.seLinuxOptions".to_string()],
                ),
                (
                    "sets",
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
                let msg = format!(
                    "{whose} an SELinux type that is not allowed (securityContext.seLinuxOptions.type)"
                );
                out.push(Violation { body, msg });
                for field in ["user", "role"] {
                    let mut body = options.clone();
                    body.push(format!(r#"o.{field} != """#));
                    out.push(Violation {
                        body,
                        msg: format!(
                            "{whose} an SELinux {field} (securityContext.seLinuxOptions.{field})"
                        ),
                    });
                }
            }
            out
        }
        CheckId::ProcMount | CheckId::ProcMountRestricted => vec![v(
            "has a procMount other than Default (securityContext.procMount)",
            &["c := containers[_]", r#"sc(c).procMount != "Default""#],
        )],
        CheckId::SeccompProfileBaseline => vec![
            v(
                "the pod's seccomp profile is not RuntimeDefault or Localhost",
                &[
                    "t := pod_sc.seccompProfile.type",
                    &format!("not {SECCOMP_OK}[t]"),
                ],
            ),
            v(
                "has a seccomp profile other than RuntimeDefault or Localhost (securityContext.seccompProfile.type)",
                &[
                    "c := containers[_]",
                    "t := sc(c).seccompProfile.type",
                    &format!("not {SECCOMP_OK}[t]"),
                ],
            ),
        ],
        CheckId::SeccompProfileRestricted => {
            let mut out = check(CheckId::SeccompProfileBaseline, imp);
            out.push(v(
                "has no seccomp profile of its own or from the pod (securityContext.seccompProfile)",
                &[
                    "c := containers[_]",
                    "not sc(c).seccompProfile",
                    "not pod_sc.seccompProfile",
                ],
            ));
            out
        }
        CheckId::Sysctls => vec![Violation {
            body: vec![
                "s := pod_sc.sysctls[_]".into(),
                format!("not {allowed}[s.name]"),
            ],
            msg: "a sysctl is not allowed".into(),
        }],
        CheckId::WindowsHostProcess => vec![
            v(
                "the pod is a Windows host process",
                &["pod_sc.windowsOptions.hostProcess == true"],
            ),
            v(
                "is a Windows host process (securityContext.windowsOptions.hostProcess)",
                &[
                    "c := containers[_]",
                    "sc(c).windowsOptions.hostProcess == true",
                ],
            ),
        ],
        CheckId::HostProbesAndHostLifecycle => {
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
                        msg: format!("sets a host in {}.{kind}", handler.trim_start_matches("c.")),
                    });
                }
            }
            out
        }
        CheckId::RestrictedVolumes => vec![Violation {
            body: vec![
                "vol := pod_spec.volumes[_]".into(),
                "vol[kind]".into(),
                format!("{}[kind]", set(&imp.denied)),
            ],
            msg: "a volume is of a kind that is not allowed".into(),
        }],
        CheckId::AllowPrivilegeEscalation => vec![v(
            "does not set securityContext.allowPrivilegeEscalation to false",
            &[
                "c := containers[_]",
                "not sc(c).allowPrivilegeEscalation == false",
            ],
        )],
        CheckId::RunAsNonRoot => vec![
            v(
                "the pod sets runAsNonRoot to false",
                &["pod_sc.runAsNonRoot == false"],
            ),
            v(
                "sets securityContext.runAsNonRoot to false",
                &["c := containers[_]", "sc(c).runAsNonRoot == false"],
            ),
            v(
                "may run as root: no securityContext.runAsNonRoot of its own or from the pod",
                &[
                    "c := containers[_]",
                    r#"object.get(sc(c), "runAsNonRoot", null) == null"#,
                    "not pod_sc.runAsNonRoot == true",
                ],
            ),
        ],
        CheckId::RunAsUser => vec![
            v("the pod runs as user 0", &["pod_sc.runAsUser == 0"]),
            v(
                "runs as user 0 (securityContext.runAsUser)",
                &["c := containers[_]", "sc(c).runAsUser == 0"],
            ),
        ],
    }
}

/// The violations of one warden rule, each message prefixed with `label`.
fn rule(rule: &AdmissionRule) -> Vec<(String, Violation)> {
    let label = |l: &str, vs: Vec<Violation>| -> Vec<(String, Violation)> {
        vs.into_iter().map(|v| (l.to_string(), v)).collect()
    };
    let none = Implementation::default();
    match rule {
        AdmissionRule::ForbidPrivileged => {
            label("forbid privileged", check(CheckId::Privileged, &none))
        }
        AdmissionRule::ForbidHostNamespaces => label(
            "forbid host-namespaces",
            check(CheckId::HostNamespaces, &none),
        ),
        AdmissionRule::ForbidHostField(field) => label(
            "forbid host namespace",
            vec![Violation {
                body: vec![format!("pod_spec.{field} == true")],
                msg: format!("spec.{field} is true"),
            }],
        ),
        AdmissionRule::ForbidPrivilegeEscalation => label(
            "forbid privilege-escalation",
            check(CheckId::AllowPrivilegeEscalation, &none),
        ),
        AdmissionRule::RequireRunAsNonRoot => {
            let mut vs = check(CheckId::RunAsNonRoot, &none);
            vs.extend(check(CheckId::RunAsUser, &none));
            label("require run-as-non-root", vs)
        }
        AdmissionRule::RequireDropAllCapabilities => label(
            "require drop-all-capabilities",
            vec![v(
                "does not drop ALL capabilities (securityContext.capabilities.drop)",
                &["c := containers[_]", DROPS_NOT_ALL],
            )],
        ),
        AdmissionRule::RequireSeccompProfile => label(
            "require seccomp-profile",
            check(CheckId::SeccompProfileRestricted, &none),
        ),
        AdmissionRule::RequireReadOnlyRootFilesystem => label(
            "require read-only-root-filesystem",
            vec![v(
                "does not set securityContext.readOnlyRootFilesystem to true",
                &[
                    "c := containers[_]",
                    "not sc(c).readOnlyRootFilesystem == true",
                ],
            )],
        ),
        AdmissionRule::AllowCapabilities(caps) => label(
            "allow capabilities",
            vec![Violation {
                body: vec![
                    "c := containers[_]".into(),
                    "a := sc(c).capabilities.add[_]".into(),
                    format!("not {}[a]", set(caps)),
                ],
                msg: format!(
                    "adds a capability beyond {} (securityContext.capabilities.add)",
                    caps.join(", ")
                ),
            }],
        ),
        AdmissionRule::AllowVolumes(kinds) => {
            // The same list as the CEL's: kinds the schema knows, less the allowed ones.
            let denied: Vec<String> = crate::catalog::pod_spec::VOLUME_KINDS
                .iter()
                .filter(|k| !kinds.iter().any(|a| a == *k))
                .map(|k| k.to_string())
                .collect();
            label(
                "allow volumes",
                vec![Violation {
                    body: vec![
                        "vol := pod_spec.volumes[_]".into(),
                        "vol[kind]".into(),
                        format!("{}[kind]", set(&denied)),
                    ],
                    msg: format!("a volume is of a kind other than: {}", kinds.join(", ")),
                }],
            )
        }
        AdmissionRule::ForbidHostPaths(paths) => label(
            "forbid host-paths",
            paths
                .iter()
                .flat_map(|p| {
                    let shown = if p.is_empty() { "/" } else { p.as_str() };
                    let msg = format!("a hostPath volume is at or below {shown}");
                    let path = "path := pod_spec.volumes[_].hostPath.path".to_string();
                    if p.is_empty() {
                        vec![Violation {
                            body: vec![path],
                            msg,
                        }]
                    } else {
                        vec![
                            Violation {
                                body: vec![path.clone(), format!("path == {}", rego_string(p))],
                                msg: msg.clone(),
                            },
                            Violation {
                                body: vec![
                                    path,
                                    format!("startswith(path, {})", rego_string(&format!("{p}/"))),
                                ],
                                msg,
                            },
                        ]
                    }
                })
                .collect(),
        ),
        AdmissionRule::RunAsUserNonRoot => label(
            "run-as-user non-root",
            vec![
                v(
                    "runs as user 0 (securityContext.runAsUser, its own or the pod's)",
                    &["c := containers[_]", r#"id_of(c, "runAsUser") == 0"#],
                ),
                v(
                    "may run as root: no securityContext.runAsUser and no runAsNonRoot true, of its own or from the pod",
                    &[
                        "c := containers[_]",
                        r#"object.get(sc(c), "runAsUser", null) == null"#,
                        r#"object.get(pod_sc, "runAsUser", null) == null"#,
                        "not non_root(c)",
                    ],
                ),
            ],
        ),
        AdmissionRule::Ids { field, ranges } => {
            let f = field.k8s();
            let text = super::cel::ranges_text(ranges);
            let name = format!("{} ranges", field_word(*field));
            let vs = if field.per_container() {
                vec![
                    Violation {
                        body: vec![
                            "c := containers[_]".into(),
                            format!("id := id_of(c, {})", rego_string(f)),
                            allowed_line(ranges, "id"),
                        ],
                        msg: format!("has securityContext.{f} outside {text}"),
                    },
                    Violation {
                        body: vec![
                            "c := containers[_]".into(),
                            format!("object.get(sc(c), {}, null) == null", rego_string(f)),
                            format!("object.get(pod_sc, {}, null) == null", rego_string(f)),
                        ],
                        msg: format!("sets no securityContext.{f}, nor does the pod"),
                    },
                ]
            } else if *field == crate::ir::IdField::SupplementalGroups {
                vec![
                    Violation {
                        body: vec![format!("id := pod_sc.{f}[_]"), allowed_line(ranges, "id")],
                        msg: format!("spec.securityContext.{f} holds an id outside {text}"),
                    },
                    Violation {
                        body: vec![format!(
                            "count(object.get(pod_sc, {}, [])) == 0",
                            rego_string(f)
                        )],
                        msg: format!("spec.securityContext.{f} is not set"),
                    },
                ]
            } else {
                vec![
                    Violation {
                        body: vec![format!("id := pod_sc.{f}"), allowed_line(ranges, "id")],
                        msg: format!("spec.securityContext.{f} is outside {text}"),
                    },
                    Violation {
                        body: vec![format!(
                            "object.get(pod_sc, {}, null) == null",
                            rego_string(f)
                        )],
                        msg: format!("spec.securityContext.{f} is not set"),
                    },
                ]
            };
            label(&name, vs)
        }
        // lower::limits refuses a raw CEL rule for this target (E0904).
        AdmissionRule::Cel { .. } => Vec::new(),
        AdmissionRule::ImagesFrom(patterns) => {
            let regexes: Vec<String> = patterns.iter().map(|p| super::cel::glob_regex(p)).collect();
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
                    msg: format!("has an image matching none of: {}", patterns.join(", ")),
                }],
            )
        }
        AdmissionRule::ForbidLatestTag => label(
            "forbid latest-tag",
            vec![
                v(
                    "has an image with no tag and no digest",
                    &[
                        "c := containers[_]",
                        r#"not contains(c.image, "@")"#,
                        r#"not regex.match(":[^/:]+$", c.image)"#,
                    ],
                ),
                v(
                    "has an image tagged :latest without a digest",
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
                "has an image not pinned by digest",
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
                        msg: format!("sets no resources.{which}.{r}"),
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
        AdmissionRule::RequireAnnotations(keys) => label(
            "require annotations",
            vec![Violation {
                body: vec![
                    format!("k := {}[_]", array(keys)),
                    "held := object.get(pod_meta, \"annotations\", {})".into(),
                    "not held[k]".into(),
                ],
                msg: format!("the pod must carry the annotations: {}", keys.join(", ")),
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
                check(c.id, imp).into_iter().map(move |mut v| {
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

/// The `run-as-user` … words of an id field, for messages.
fn field_word(field: crate::ir::IdField) -> &'static str {
    match field {
        crate::ir::IdField::RunAsUser => "run-as-user",
        crate::ir::IdField::RunAsGroup => "run-as-group",
        crate::ir::IdField::FsGroup => "fs-group",
        crate::ir::IdField::SupplementalGroups => "supplemental-groups",
    }
}

/// The body line that holds when `var` is in none of `ranges`.
fn allowed_line(ranges: &[(u64, u64)], var: &str) -> String {
    let parts: Vec<String> = ranges
        .iter()
        .map(|(a, b)| format!("{var} >= {a}; {var} <= {b}"))
        .collect();
    let sets: Vec<String> = parts
        .iter()
        .map(|p| format!("count({{1 | {p}}})"))
        .collect();
    format!("{} == 0", sets.join(" + "))
}

/// The Rego module of `rules`, in package `package`, leaving out the containers of
/// `exempt_images`.
pub(in crate::lower) fn module<'r>(
    package: &str,
    exempt_images: &[(String, String)],
    rules: impl Iterator<Item = &'r AdmissionRule>,
) -> String {
    let mut out = format!("package {package}\n\n{PRELUDE}");
    if exempt_images.is_empty() {
        out.push_str(&container_sets(""));
    } else {
        let regexes: Vec<String> = exempt_images
            .iter()
            .map(|(p, _)| super::cel::glob_regex(p))
            .collect();
        out.push_str(&container_sets("exempt_image(c.image)"));
        out.push_str(&format!(
            "\nexempt_image(image) {{\n  r := {}[_]\n  regex.match(r, image)\n}}\n",
            array(&regexes)
        ));
    }
    for (label, violation) in rules.flat_map(rule) {
        out.push_str("\nviolation[{\"msg\": msg}] {\n  not unchanged_pod_update\n");
        // A rule about containers names the container and its kind (`initContainer x`).
        let mut per_container = false;
        for line in &violation.body {
            let entry = match line.as_str() {
                "c := containers[_]" => Some("containers"),
                "c := workload_containers[_]" => Some("workload_containers"),
                _ => None,
            };
            match entry {
                Some(set) => {
                    per_container = true;
                    out.push_str(&format!(
                        "  entry := {set}[_]\n  kind := entry[0]\n  c := entry[1]\n"
                    ));
                }
                None => {
                    out.push_str("  ");
                    out.push_str(line);
                    out.push('\n');
                }
            }
        }
        if per_container {
            out.push_str(&format!(
                "  msg := sprintf(\"%v%v %v %v\", [{}, kind, c.name, {}])\n}}\n",
                rego_string(&format!("{label}: ")),
                rego_string(&violation.msg)
            ));
        } else {
            out.push_str(&format!(
                "  msg := {}\n}}\n",
                rego_string(&format!("{label}: {}", violation.msg))
            ));
        }
    }
    out
}
