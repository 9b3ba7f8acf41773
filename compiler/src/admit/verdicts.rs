//! `warden admit`: what the program's admission would say of each workload of the manifests,
//! before a cluster sees them. A workload is in scope of a block where the block's namespaces
//! (by name, or by the labels a `Namespace` of the manifests or the program gives them) hold it;
//! each of its rules is evaluated (`rules`), and every service with a `syscalls` block requires
//! the pods it selects to run each container with its profile, as the generated policies do.

use super::rules::{Fault, PodView, faults};
use crate::ir::{Admission, AdmissionRule, Mode, Program, Service};
use crate::manifests::Manifests;
use crate::manifests::objects::{Object, Workload};
use crate::manifests::yaml::Node;
use std::collections::BTreeMap;

/// What of the program a workload fails.
#[derive(Clone, Copy, Debug)]
pub enum Source<'p> {
    /// A rule of an admission block.
    Rule {
        block: &'p Admission,
        rule: &'p AdmissionRule,
        span: crate::span::Span,
    },
    /// A service's seccomp profile, which its pods must run with.
    Seccomp(&'p Service),
}

/// One rule a workload fails, and where.
#[derive(Clone, Debug)]
pub struct Finding<'p> {
    pub source: Source<'p>,
    pub fault: Fault,
}

impl Finding<'_> {
    /// Whether the cluster would refuse the workload for it (a block in `mode deny`, or a
    /// seccomp profile), rather than warn or record it.
    pub fn denies(&self) -> bool {
        match self.source {
            Source::Rule { block, .. } => block.mode == Mode::Deny,
            Source::Seccomp(_) => true,
        }
    }

    /// What the rule requires, as the generated policy's message says it.
    pub fn requirement(&self) -> String {
        match (self.source, self.fault.check) {
            (Source::Rule { rule, .. }, Some(check)) => {
                format!("{}: check {}", rule.requirement(), check.name())
            }
            (Source::Rule { rule, .. }, None) => rule.requirement(),
            (Source::Seccomp(svc), _) => format!(
                "pods of service {} must run every container with its seccomp profile: securityContext.seccompProfile {{type: Localhost, localhostProfile: {}}}",
                svc.id,
                svc.id.localhost_profile()
            ),
        }
    }
}

/// The verdict on one workload (a Pod, or a workload kind's pod template).
#[derive(Debug)]
pub struct Verdict<'m, 'p> {
    pub workload: &'m Workload,
    pub namespace: String,
    /// The admission blocks whose scope holds it, by name.
    pub blocks: Vec<&'p str>,
    pub findings: Vec<Finding<'p>>,
}

impl Verdict<'_, '_> {
    pub fn denied(&self) -> bool {
        self.findings.iter().any(Finding::denies)
    }
}

/// The labels of each namespace: a `Namespace` of the manifests says them, else the program's
/// `namespace` block; the API server adds `kubernetes.io/metadata.name`.
fn namespace_labels(program: &Program, m: &Manifests, name: &str) -> BTreeMap<String, String> {
    let mut labels = m
        .objects
        .iter()
        .find_map(|o| match o {
            Object::Namespace(meta) if meta.name == name => Some(meta.labels.clone()),
            _ => None,
        })
        .or_else(|| program.namespaces.get(name).map(|n| n.labels.clone()))
        .unwrap_or_default();
    labels.insert("kubernetes.io/metadata.name".to_string(), name.to_string());
    labels
}

/// The verdict on every workload of `m`, in the order read; `namespace` for those that name none.
pub fn admit<'m, 'p>(
    program: &'p Program,
    m: &'m Manifests,
    namespace: &str,
) -> Vec<Verdict<'m, 'p>> {
    let workloads: Vec<&Workload> = m
        .objects
        .iter()
        .filter_map(|o| match o {
            Object::Workload(w) => Some(w),
            _ => None,
        })
        .collect();
    // What applies in a namespace is worked out once for it, not once per workload.
    let mut scopes: BTreeMap<&str, InScope<'p>> = BTreeMap::new();
    for w in &workloads {
        let ns = w.meta.namespace.as_deref().unwrap_or(namespace);
        scopes.entry(ns).or_insert_with(|| {
            let labels = namespace_labels(program, m, ns);
            InScope {
                blocks: program
                    .admissions
                    .values()
                    .filter(|b| b.scope.matches(ns, &labels))
                    .collect(),
                profiled: Vec::new(),
            }
        });
    }
    for svc in program.services.values() {
        if svc.syscalls.is_some()
            && let Some(scope) = scopes.get_mut(svc.id.namespace.as_str())
        {
            scope.profiled.push(svc);
        }
    }
    let none = InScope {
        blocks: Vec::new(),
        profiled: Vec::new(),
    };
    // Each workload is judged alone: on every core.
    crate::parallel::map(&workloads, |w| {
        let ns = w.meta.namespace.as_deref().unwrap_or(namespace);
        judge(w, ns, scopes.get(ns).unwrap_or(&none))
    })
}

/// What applies in one namespace: the admission blocks whose scope holds it, and its services
/// with a seccomp profile.
struct InScope<'p> {
    blocks: Vec<&'p Admission>,
    profiled: Vec<&'p Service>,
}

fn judge<'m, 'p>(w: &'m Workload, namespace: &str, scope: &InScope<'p>) -> Verdict<'m, 'p> {
    let pod = PodView {
        kind: &w.meta.kind,
        name: &w.meta.name,
        namespace,
        labels: &w.pod_labels,
        annotations: &w.pod_annotations,
        spec: &w.spec,
    };
    let mut blocks = Vec::new();
    let mut findings = Vec::new();
    for block in scope.blocks.iter().copied() {
        blocks.push(block.name.as_str());
        for (rule, span) in &block.rules {
            findings.extend(
                faults(rule, pod, &block.exempt_images)
                    .into_iter()
                    .map(|fault| Finding {
                        source: Source::Rule {
                            block,
                            rule,
                            span: *span,
                        },
                        fault,
                    }),
            );
        }
    }
    for svc in scope.profiled.iter().copied() {
        if svc.selector.matches(&w.pod_labels) {
            findings.extend(
                seccomp_faults(&w.spec, &svc.id.localhost_profile())
                    .into_iter()
                    .map(|fault| Finding {
                        source: Source::Seccomp(svc),
                        fault,
                    }),
            );
        }
    }
    Verdict {
        workload: w,
        namespace: namespace.to_string(),
        blocks,
        findings,
    }
}

/// Each container that does not run with the `localhost/` profile `path`: its own
/// `seccompProfile` decides, else the pod's.
fn seccomp_faults(spec: &Node, path: &str) -> Vec<Fault> {
    let profile = |base: &Node| -> Option<Option<String>> {
        let p = base.at(&["securityContext", "seccompProfile"])?;
        if p.str().is_none() && !matches!(p.value, crate::manifests::yaml::Value::Map(_)) {
            return None;
        }
        let localhost = p.get("type").and_then(Node::str) == Some("Localhost");
        Some(
            p.get("localhostProfile")
                .and_then(Node::str)
                .filter(|_| localhost)
                .map(str::to_string),
        )
    };
    let pod = profile(spec).flatten();
    ["containers", "initContainers", "ephemeralContainers"]
        .iter()
        .flat_map(|k| spec.get(k).map(Node::seq).unwrap_or_default())
        .filter(|c| {
            let runs = match profile(c) {
                Some(own) => own,
                None => pod.clone(),
            };
            runs.as_deref() != Some(path)
        })
        .map(|c| Fault {
            container: Some(
                c.get("name")
                    .and_then(Node::str)
                    .unwrap_or_default()
                    .to_string(),
            ),
            line: c
                .at(&["securityContext", "seccompProfile"])
                .map_or(c.line, |n| n.line),
            check: None,
            detail: None,
        })
        .collect()
}
