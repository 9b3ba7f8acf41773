//! `warden admit --patch DIR`: the findings whose fix is mechanical, as kustomize patches, one
//! strategic merge patch per workload, and a kustomize `Component` listing them, which a
//! kustomization includes beside the manifests (`components: [DIR]`). What is not mechanical (an
//! image, a volume, resource sizes, ids) is listed, never guessed.
//!
//! ```yaml
//! # deployment-shop-web.yaml
//! apiVersion: apps/v1
//! kind: Deployment
//! metadata: {name: web, namespace: shop}
//! spec:
//!   template:
//!     spec:
//!       securityContext: {seccompProfile: {type: RuntimeDefault}}
//!       containers:
//!       - name: app
//!         securityContext: {allowPrivilegeEscalation: false, capabilities: {drop: [ALL]}}
//! ```

use super::verdicts::{Finding, Source, Verdict};
use crate::catalog::pod_security::CheckId;
use crate::ir::AdmissionRule;
use crate::manifests::yaml::Node;
use serde_yaml::{Mapping, Value};
use std::collections::BTreeMap;

/// The first line of every file `--patch` writes: what marks a file it may write over.
pub const HEADER: &str = "# Written by `warden admit --patch`";

/// The patches, and the findings a person must settle.
pub struct Patches {
    /// File name and text; `kustomization.yaml` last.
    pub files: Vec<(String, String)>,
    /// `Kind name` (namespace): container: what to do.
    pub manual: Vec<String>,
}

/// A security context field to set: on the pod (`None`) or a container, at a path, to a value.
type Setting = (Option<String>, Vec<&'static str>, Value);

/// The container named `name` of `spec`, and the list that holds it.
fn find_container<'a>(spec: &'a Node, name: &str) -> Option<(&'static str, &'a Node)> {
    ["containers", "initContainers", "ephemeralContainers"]
        .into_iter()
        .flat_map(|k| {
            spec.get(k)
                .map(Node::seq)
                .unwrap_or_default()
                .iter()
                .map(move |c| (k, c))
        })
        .find(|(_, c)| c.get("name").and_then(Node::str) == Some(name))
}

/// Whether the container `name` of `spec` sets `runAsUser: 0`, which no setting overrides.
fn runs_as_root(spec: &Node, name: &str) -> bool {
    find_container(spec, name).is_some_and(|(_, c)| {
        c.at(&["securityContext", "runAsUser"]).and_then(Node::int) == Some(0)
    })
}

/// Whether the container `name` of `spec` adds a capability beyond `NET_BIND_SERVICE`, which
/// dropping `ALL` does not undo.
fn adds_capabilities(spec: &Node, name: &str) -> bool {
    find_container(spec, name).is_some_and(|(_, c)| {
        c.at(&["securityContext", "capabilities", "add"])
            .map(Node::seq)
            .unwrap_or_default()
            .iter()
            .any(|a| a.str() != Some("NET_BIND_SERVICE"))
    })
}

/// The settings that meet `f` on a pod of `spec`, or `None` where its fix is not mechanical.
fn settings(f: &Finding<'_>, spec: &Node) -> Option<Vec<Setting>> {
    let c = f.fault.container.clone();
    let one = |path: Vec<&'static str>, v: Value| Some(vec![(c.clone(), path, v)]);
    let runtime_default = || {
        let mut m = Mapping::new();
        m.insert("type".into(), "RuntimeDefault".into());
        Value::Mapping(m)
    };
    let drop_all = || Value::Sequence(vec!["ALL".into()]);
    let seccomp = |c: &Option<String>| {
        // The pod's profile, and the container's where it is the one at fault (its own wins).
        let mut out = vec![(None, vec!["seccompProfile"], runtime_default())];
        if c.is_some() {
            out.push((c.clone(), vec!["seccompProfile"], runtime_default()));
        }
        Some(out)
    };
    let non_root = |c: &Option<String>| {
        let mut out = vec![(None, vec!["runAsNonRoot"], Value::Bool(true))];
        if c.is_some() {
            out.push((c.clone(), vec!["runAsNonRoot"], Value::Bool(true)));
        }
        Some(out)
    };
    let rule = match f.source {
        Source::Seccomp(svc) => {
            let mut m = Mapping::new();
            m.insert("type".into(), "Localhost".into());
            m.insert("localhostProfile".into(), svc.id.localhost_profile().into());
            // The pod's too: every container of the service's pods runs with it, and a
            // `RuntimeDefault` another rule asks for must not replace it for the others.
            let profile = Value::Mapping(m);
            return Some(vec![
                (None, vec!["seccompProfile"], profile.clone()),
                (c.clone(), vec!["seccompProfile"], profile),
            ]);
        }
        Source::Rule { rule, .. } => rule,
    };
    if let Some(check) = f.fault.check {
        return match check {
            CheckId::Privileged => one(vec!["privileged"], Value::Bool(false)),
            CheckId::AllowPrivilegeEscalation => {
                one(vec!["allowPrivilegeEscalation"], Value::Bool(false))
            }
            CheckId::SeccompProfileBaseline | CheckId::SeccompProfileRestricted => seccomp(&c),
            CheckId::RunAsNonRoot => non_root(&c),
            CheckId::CapabilitiesRestricted => match &c {
                Some(name) if !adds_capabilities(spec, name) => {
                    one(vec!["capabilities", "drop"], drop_all())
                }
                _ => None,
            },
            CheckId::ProcMount | CheckId::ProcMountRestricted => {
                one(vec!["procMount"], "Default".into())
            }
            _ => None,
        };
    }
    match rule {
        AdmissionRule::ForbidPrivileged => one(vec!["privileged"], Value::Bool(false)),
        AdmissionRule::ForbidPrivilegeEscalation => {
            one(vec!["allowPrivilegeEscalation"], Value::Bool(false))
        }
        AdmissionRule::RequireDropAllCapabilities => one(vec!["capabilities", "drop"], drop_all()),
        AdmissionRule::RequireSeccompProfile => seccomp(&c),
        // The pod's own fault is `runAsUser: 0`, as is a container's that sets it.
        AdmissionRule::RequireRunAsNonRoot => match &c {
            Some(name) if !runs_as_root(spec, name) => non_root(&c),
            _ => None,
        },
        AdmissionRule::RequireReadOnlyRootFilesystem => {
            one(vec!["readOnlyRootFilesystem"], Value::Bool(true))
        }
        _ => None,
    }
}

/// Where a kind keeps its pod spec.
fn placement(kind: &str) -> &'static [&'static str] {
    match kind {
        "Pod" => &["spec"],
        "CronJob" => &["spec", "jobTemplate", "spec", "template", "spec"],
        _ => &["spec", "template", "spec"],
    }
}

/// `value` set at `path` below `m`, creating mappings on the way; a value already there stays
/// (the first setting of a field wins: a service's profile over `RuntimeDefault`).
fn set(m: &mut Mapping, path: &[&str], value: Value) {
    let Some((last, rest)) = path.split_last() else {
        return;
    };
    let mut at = m;
    for key in rest {
        let entry = at
            .entry((*key).into())
            .or_insert_with(|| Value::Mapping(Mapping::new()));
        if !entry.is_mapping() {
            *entry = Value::Mapping(Mapping::new());
        }
        let Value::Mapping(next) = entry else {
            return;
        };
        at = next;
    }
    at.entry((*last).into()).or_insert(value);
}

/// A name as a file name: what a manifest calls an object never leaves the directory.
fn file_safe(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '_' {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect::<String>()
        .trim_start_matches('.')
        .to_string()
}

/// How a finding left to people is listed: `Kind name (namespace): container c: the fix`.
pub fn left_to_people(v: &Verdict<'_, '_>, f: &Finding<'_>) -> String {
    format!(
        "{} {} ({}): {}{}",
        v.workload.meta.kind,
        v.workload.meta.name,
        v.namespace,
        f.fault
            .container
            .as_ref()
            .map(|c| format!("container {c}: "))
            .unwrap_or_default(),
        f.fix()
    )
}

/// The patches for `verdicts`' mechanical fixes, and the rest listed.
pub fn patches(verdicts: &[Verdict<'_, '_>]) -> Patches {
    let mut files = Vec::new();
    let mut manual = Vec::new();
    for v in verdicts {
        let w = v.workload;
        let mut pod = Mapping::new();
        // By list and container name, in the order first met.
        let mut containers: BTreeMap<&'static str, Vec<(String, Mapping)>> = BTreeMap::new();
        // A service's profile first: it also meets the rules asking for any profile.
        let (profiles, rules): (Vec<&Finding<'_>>, Vec<&Finding<'_>>) = v
            .findings
            .iter()
            .partition(|f| matches!(f.source, Source::Seccomp(_)));
        for f in profiles.into_iter().chain(rules) {
            let Some(settings) = settings(f, &w.spec) else {
                manual.push(left_to_people(v, f));
                continue;
            };
            for (container, path, value) in settings {
                let mut full = vec!["securityContext"];
                full.extend(path);
                match container {
                    None => set(&mut pod, &full, value),
                    Some(name) => {
                        let list = containers
                            .entry(
                                find_container(&w.spec, &name)
                                    .map_or("containers", |(list, _)| list),
                            )
                            .or_default();
                        let i = match list.iter().position(|(n, _)| *n == name) {
                            Some(i) => i,
                            None => {
                                list.push((name.clone(), Mapping::new()));
                                list.len() - 1
                            }
                        };
                        if let Some((_, m)) = list.get_mut(i) {
                            set(m, &full, value);
                        }
                    }
                }
            }
        }
        if pod.is_empty() && containers.is_empty() {
            continue;
        }
        for (list, items) in containers {
            let items = items
                .into_iter()
                .map(|(name, fields)| {
                    let mut m = Mapping::new();
                    m.insert("name".into(), name.into());
                    m.extend(fields);
                    Value::Mapping(m)
                })
                .collect();
            pod.insert(list.into(), Value::Sequence(items));
        }
        let path = placement(&w.meta.kind);
        let mut body = Value::Mapping(pod);
        for key in path.iter().rev() {
            let mut m = Mapping::new();
            m.insert((*key).into(), body);
            body = Value::Mapping(m);
        }
        let mut doc = Mapping::new();
        // The manifest's own: kustomize finds a patch's object by group, version, kind and name.
        doc.insert("apiVersion".into(), w.meta.api_version.clone().into());
        doc.insert("kind".into(), w.meta.kind.clone().into());
        let mut meta = Mapping::new();
        meta.insert("name".into(), w.meta.name.clone().into());
        // As the manifest says it: a patch names a namespace only where its object does.
        if let Some(ns) = &w.meta.namespace {
            meta.insert("namespace".into(), ns.clone().into());
        }
        doc.insert("metadata".into(), Value::Mapping(meta));
        if let Value::Mapping(spec) = body {
            doc.extend(spec);
        }
        let text = serde_yaml::to_string(&Value::Mapping(doc)).unwrap_or_default();
        let name = format!(
            "{}-{}-{}.yaml",
            w.meta.kind.to_ascii_lowercase(),
            file_safe(w.meta.namespace.as_deref().unwrap_or(&v.namespace)),
            file_safe(&w.meta.name)
        );
        files.push((
            name,
            format!("{HEADER}: {} in {}\n{text}", w.meta.name, v.namespace),
        ));
    }
    files.sort();
    files.dedup_by(|a, b| a.0 == b.0);
    let mut kustomization = format!(
        "{HEADER}: include it beside the manifests, `components: [THIS DIRECTORY]`\napiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\n"
    );
    if !files.is_empty() {
        kustomization.push_str("patches:\n");
        for (name, _) in &files {
            kustomization.push_str(&format!("  - path: {name}\n"));
        }
    }
    files.push(("kustomization.yaml".to_string(), kustomization));
    Patches { files, manual }
}
