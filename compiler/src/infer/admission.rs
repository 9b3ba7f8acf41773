//! The `admission` block of a namespace: the strictest Pod Security level every workload of it
//! already meets, by warden's own evaluation (`admit::pod_security`), in warn mode where one
//! meets none, and the images its workloads use.

use super::Inference;
use super::render::sanitize;
use crate::admit::pod_security::{self, Failure, Pod};
use crate::catalog::pod_security::{Level, Version};
use crate::manifests::objects::{Object, Workload};
use std::collections::{BTreeMap, BTreeSet};

/// How many workloads a comment names before it counts the rest.
const NAMED: usize = 8;

/// The workloads of each namespace, each once (the first of two with one kind and name).
pub(super) fn by_namespace<'m>(inf: &Inference<'m>) -> BTreeMap<String, Vec<&'m Workload>> {
    let mut out: BTreeMap<String, Vec<&Workload>> = BTreeMap::new();
    for o in &inf.m.objects {
        if let Object::Workload(w) = o {
            out.entry(inf.ns(&w.meta.namespace)).or_default().push(w);
        }
    }
    for ws in out.values_mut() {
        ws.sort_by(|a, b| {
            (&a.meta.kind, &a.meta.name, &a.meta.at).cmp(&(&b.meta.kind, &b.meta.name, &b.meta.at))
        });
        let mut seen = BTreeSet::new();
        ws.retain(|w| seen.insert((w.meta.kind.clone(), w.meta.name.clone())));
    }
    out
}

fn pod(w: &Workload) -> Pod<'_> {
    Pod {
        annotations: &w.pod_annotations,
        spec: &w.spec,
    }
}

/// `Deployment web (f.yaml:3): the pod fails hostPathVolumes; container web fails runAsNonRoot,
/// …`.
fn faults(inf: &Inference<'_>, w: &Workload, failures: &[Failure]) -> String {
    let mut by_container: BTreeMap<Option<&str>, Vec<String>> = BTreeMap::new();
    for f in failures {
        by_container
            .entry(f.container.as_deref())
            .or_default()
            .push(f.check.to_string());
    }
    let each: Vec<String> = by_container
        .iter()
        .map(|(c, checks)| match c {
            Some(c) => format!("container {c} fails {}", checks.join(", ")),
            None => format!("the pod fails {}", checks.join(", ")),
        })
        .collect();
    format!(
        "{} {} ({}): {}",
        w.meta.kind,
        w.meta.name,
        inf.loc(&w.meta.at),
        each.join("; ")
    )
}

/// One comment line per workload that fails `level`, the first `NAMED` of them.
fn failing(inf: &Inference<'_>, ws: &[&Workload], level: Level, version: Version) -> Vec<String> {
    let all: Vec<String> = ws
        .iter()
        .filter_map(|w| {
            let f = pod_security::failures(pod(w), level, version);
            (!f.is_empty()).then(|| faults(inf, w, &f))
        })
        .collect();
    let mut out: Vec<String> = all.iter().take(NAMED).cloned().collect();
    if all.len() > NAMED {
        out.push(format!("and {} more workloads", all.len() - NAMED));
    }
    out
}

/// The patterns that admit the images in use: an image that names its registry, that registry;
/// one from Docker Hub (which names none), its repository with the tag or digest form in use.
/// Images a pattern cannot say (an unrendered template) are returned apart.
fn image_patterns(ws: &[&Workload]) -> (BTreeSet<String>, BTreeSet<String>) {
    let (mut patterns, mut unsayable) = (BTreeSet::new(), BTreeSet::new());
    for image in ws
        .iter()
        .flat_map(|w| &w.containers)
        .filter_map(|c| c.image.as_deref())
    {
        let sayable = !image.is_empty()
            && image.chars().all(|c| {
                c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '/' | ':' | '@')
            });
        if !sayable {
            unsayable.insert(image.to_string());
            continue;
        }
        let first = image.split('/').next().unwrap_or_default();
        if image.contains('/')
            && (first.contains('.') || first.contains(':') || first == "localhost")
        {
            patterns.insert(format!("{first}/*"));
            continue;
        }
        let (name, digest) = match image.split_once('@') {
            Some((n, _)) => (n, true),
            None => (image, false),
        };
        let last = name.rsplit('/').next().unwrap_or_default();
        let (repository, tagged) = match last.split_once(':') {
            Some((_, tag)) => (name.get(..name.len() - tag.len() - 1).unwrap_or(name), true),
            None => (name, false),
        };
        // `*` stands for any characters, so `repo:*` admits `repo:tag@digest` too.
        patterns.insert(match (tagged, digest) {
            (true, _) => format!("{repository}:*"),
            (false, true) => format!("{repository}@*"),
            (false, false) => repository.to_string(),
        });
    }
    (patterns, unsayable)
}

/// The block for `namespace`, whose workloads are `ws`, or nothing where it has none.
pub(super) fn block(inf: &Inference<'_>, namespace: &str, ws: &[&Workload]) -> String {
    if ws.is_empty() {
        return String::new();
    }
    let version = crate::catalog::pod_security::get().newest();
    let meets = |level| {
        ws.iter()
            .all(|w| pod_security::failures(pod(w), level, version).is_empty())
    };
    let mut out = String::from("\n");
    let level = if meets(Level::Restricted) {
        out.push_str(&format!(
            "// Pod Security: all {} workloads meet restricted (warden's evaluation at {version})\n",
            ws.len()
        ));
        Level::Restricted
    } else {
        out.push_str("// Pod Security: restricted would refuse\n");
        for line in failing(inf, ws, Level::Restricted, version) {
            out.push_str(&format!("//   {}\n", sanitize(&line)));
        }
        Level::Baseline
    };
    let warn = !meets(level);
    if warn {
        out.push_str("// and baseline too, so this block only warns until they are fixed:\n");
        for line in failing(inf, ws, level, version) {
            out.push_str(&format!("//   {}\n", sanitize(&line)));
        }
    }
    out.push_str(&format!(
        "admission {namespace} {{\n  applies to workloads in namespace {namespace}\n  pod-security {} version {version}\n",
        level.name()
    ));
    let (patterns, unsayable) = image_patterns(ws);
    if let Some(image) = unsayable.first() {
        // A rule without it would refuse that workload.
        out.push_str(&format!(
            "  // no `images from`: image {} cannot be said as a pattern\n",
            sanitize(&format!("{image:?}"))
        ));
    } else if !patterns.is_empty() {
        out.push_str(if patterns.iter().all(|p| p.ends_with("/*")) {
            "  // the registries of the images in use\n"
        } else {
            "  // the registries of the images in use; Docker Hub's, which name none, by repository\n"
        });
        let quoted: Vec<String> = patterns.iter().map(|p| crate::format::quote(p)).collect();
        out.push_str(&format!("  images from {}\n", quoted.join(", ")));
    }
    if warn {
        out.push_str("  mode warn\n");
    }
    out.push_str("}\n");
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use crate::manifests::Manifests;
    use crate::manifests::objects::{Object, Workload};

    fn patterns(images: &[&str]) -> (Vec<String>, Vec<String>) {
        let containers: Vec<String> = images
            .iter()
            .enumerate()
            .map(|(i, image)| format!("  - {{name: c{i}, image: {image:?}}}\n"))
            .collect();
        let yaml = format!(
            "apiVersion: v1\nkind: Pod\nmetadata: {{name: p, labels: {{app: p}}}}\nspec:\n  containers:\n{}",
            containers.concat()
        );
        let mut m = Manifests::new();
        m.add("p.yaml".to_string(), yaml.as_bytes());
        let ws: Vec<&Workload> = m
            .objects
            .iter()
            .filter_map(|o| match o {
                Object::Workload(w) => Some(w),
                _ => None,
            })
            .collect();
        let (p, u) = super::image_patterns(&ws);
        (p.into_iter().collect(), u.into_iter().collect())
    }

    #[test]
    fn each_image_is_admitted_by_its_registry_or_its_repository_in_the_form_used() {
        let (p, u) = patterns(&[
            "ghcr.io/acme/api:1.2",
            "ghcr.io/acme/worker@sha256:abc",
            "localhost:5000/agent",
            "redis:7",
            "busybox:1.38.0@sha256:fd8d",
            "bitnami/postgresql@sha256:0a",
            "nginx",
        ]);
        assert_eq!(
            p,
            [
                "bitnami/postgresql@*",
                "busybox:*",
                "ghcr.io/*",
                "localhost:5000/*",
                "nginx",
                "redis:*"
            ]
        );
        assert!(u.is_empty());
        // An unrendered template is no image a pattern could say.
        let (_, u) = patterns(&["{{ .Values.image }}", "redis:7"]);
        assert_eq!(u, ["{{ .Values.image }}"]);
    }
}
