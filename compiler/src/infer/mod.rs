//! `warden infer`: a draft program from what the manifests already declare. Each workload
//! becomes a service (its selector, its container ports); each place a workload names another —
//! an environment variable (literal, from a ConfigMap key, or every key of an `envFrom`
//! ConfigMap), a command or argument, a mounted ConfigMap's data — becomes a flow to the pod port
//! behind the Service named; what a LoadBalancer or NodePort Service, an Ingress or a Gateway API
//! route exposes becomes `from world`; hosts outside the cluster become `to host` (target
//! `cilium`) or `to world` with the host in a comment. Every line carries its evidence as a
//! comment: the manifest file and line, and the value read there.

mod additions;
mod admission;
mod exposure;
pub(crate) mod names;
pub mod node;
pub use additions::Additions;
pub mod refs;
mod render;
mod resolve;

pub(crate) use render::{layout, sanitize};

use crate::diag::Diagnostic;
use crate::manifests::Manifests;
use crate::manifests::objects::{At, ConfigMap, EnvSource, Object, Service, Workload};
pub use names::program_name;
use names::{label_ok, protocol};
use refs::Reference;
use std::collections::{BTreeMap, BTreeSet};

/// What `infer` is asked.
#[derive(Clone, Debug)]
pub struct Options {
    /// The namespace of objects that say none.
    pub namespace: String,
    /// Whether the program is for target `cilium`, which can name hosts outside the cluster.
    pub cilium: bool,
}

/// The first line of every file `infer` writes: what marks a file it may write over.
pub const HEADER: &str = "// Drafted by `warden infer`";

/// The draft: a file per namespace (name, text), and what a reviewer should know.
pub struct Draft {
    pub files: Vec<(String, String)>,
    pub diagnostics: Vec<Diagnostic>,
    pub flows: usize,
}

/// A value a workload is given, where, and how.
struct Said {
    text: String,
    what: String,
    at: At,
    /// Through a ConfigMap that other workloads use too: its name and how many use it.
    shared: Option<(String, usize)>,
}

/// A port a service declares, and why.
struct PortDecl {
    name: String,
    evidence: BTreeSet<String>,
}

struct Svc<'m> {
    namespace: String,
    name: String,
    workload: &'m Workload,
    ports: BTreeMap<(String, u16), PortDecl>,
    /// Pod ports reached from outside, with why.
    exposed: BTreeMap<(String, u16), BTreeSet<String>>,
    /// `RuntimeDefault`, where the pod asks for it.
    runtime_default: Option<String>,
}

/// A flow's server and evidence.
#[derive(Default)]
struct FlowEvidence {
    said: BTreeSet<String>,
    /// Whether every piece of evidence came through a shared ConfigMap.
    weak: bool,
}

/// Where a flow goes.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Peer {
    Service(usize),
    Host(String),
    Ip(String),
}

struct Inference<'m> {
    m: &'m Manifests,
    opts: &'m Options,
    services: Vec<Svc<'m>>,
    /// The services of each namespace, by index.
    by_namespace: BTreeMap<String, Vec<usize>>,
    /// Kubernetes Services by namespace and name.
    k8s: BTreeMap<(String, String), &'m Service>,
    config_maps: BTreeMap<(String, String), &'m ConfigMap>,
    namespaces: BTreeSet<String>,
    flows: BTreeMap<(usize, Peer, String, Option<u16>), FlowEvidence>,
    diagnostics: Vec<Diagnostic>,
    /// Warned once each.
    warned: BTreeSet<String>,
}

impl<'m> Inference<'m> {
    fn ns(&self, namespace: &Option<String>) -> String {
        // A namespace as the program can name it, whatever the manifest says.
        program_name(namespace.as_deref().unwrap_or(&self.opts.namespace))
    }

    fn loc(&self, at: &At) -> String {
        self.m.location(at)
    }

    fn warn(&mut self, key: String, d: Diagnostic) {
        if self.warned.insert(key) {
            self.diagnostics.push(d);
        }
    }

    /// The services whose pods a Kubernetes Service selects.
    fn selected(&self, s: &Service) -> Vec<usize> {
        if s.selector.is_empty() {
            return Vec::new();
        }
        let ns = self.ns(&s.meta.namespace);
        self.by_namespace
            .get(&ns)
            .into_iter()
            .flatten()
            .copied()
            .filter(|&i| {
                self.services.get(i).is_some_and(|w| {
                    s.selector
                        .iter()
                        .all(|(k, v)| w.workload.pod_labels.get(k) == Some(v))
                })
            })
            .collect()
    }

    /// The values workload `i` is given: its environment, commands and arguments, and the data
    /// of the ConfigMaps it reads.
    fn said(&self, i: usize, users: &BTreeMap<(String, String), BTreeSet<usize>>) -> Vec<Said> {
        let Some(svc) = self.services.get(i) else {
            return Vec::new();
        };
        let ns = &svc.namespace;
        let shared = |cm: &str| {
            let n = users
                .get(&(ns.clone(), cm.to_string()))
                .map_or(0, BTreeSet::len);
            (n > 1).then(|| (cm.to_string(), n))
        };
        let mut out = Vec::new();
        for c in &svc.workload.containers {
            let mut literal: BTreeMap<&str, &str> = BTreeMap::new();
            for e in &c.env {
                match &e.source {
                    EnvSource::Value(v) => {
                        literal.insert(&e.name, v);
                        out.push(Said {
                            text: v.clone(),
                            what: format!("env {}={}", e.name, v),
                            at: e.at.clone(),
                            shared: None,
                        });
                    }
                    EnvSource::ConfigMapKey { name, key } => {
                        if let Some((value, line)) = self
                            .config_maps
                            .get(&(ns.clone(), name.clone()))
                            .and_then(|cm| cm.data.iter().find(|(k, _, _)| k == key))
                            .map(|(_, v, l)| (v.clone(), *l))
                        {
                            let cm_at =
                                self.config_maps
                                    .get(&(ns.clone(), name.clone()))
                                    .map(|cm| At {
                                        file: cm.meta.at.file,
                                        line,
                                    });
                            out.push(Said {
                                what: format!(
                                    "env {} from ConfigMap {name} key {key}{} = {value}",
                                    e.name,
                                    cm_at
                                        .map(|a| format!(" ({})", self.loc(&a)))
                                        .unwrap_or_default()
                                ),
                                text: value,
                                at: e.at.clone(),
                                shared: shared(name),
                            });
                        }
                    }
                    EnvSource::SecretKey { .. } | EnvSource::Other => {}
                }
            }
            for from in &c.env_from {
                let Some(name) = &from.config_map else {
                    continue;
                };
                if let Some(cm) = self.config_maps.get(&(ns.clone(), name.clone())) {
                    for (key, value, line) in &cm.data {
                        let at = At {
                            file: cm.meta.at.file,
                            line: *line,
                        };
                        out.push(Said {
                            text: value.clone(),
                            what: format!(
                                "env {}{key}={value} from envFrom ConfigMap {name} ({})",
                                from.prefix,
                                self.loc(&at)
                            ),
                            at: from.at.clone(),
                            shared: shared(name),
                        });
                    }
                }
            }
            for (word, at) in &c.words {
                // Kubernetes expands `$(NAME)` in commands and arguments from the environment.
                let mut text = word.clone();
                for (name, value) in &literal {
                    text = text.replace(&format!("$({name})"), value);
                }
                out.push(Said {
                    what: format!(
                        "{} `{}`",
                        if c.init { "init argument" } else { "argument" },
                        text
                    ),
                    text,
                    at: at.clone(),
                    shared: None,
                });
            }
        }
        for (name, at) in &svc.workload.config_map_volumes {
            if let Some(cm) = self.config_maps.get(&(ns.clone(), name.clone())) {
                for (key, value, line) in &cm.data {
                    let data_at = At {
                        file: cm.meta.at.file,
                        line: *line,
                    };
                    out.push(Said {
                        text: value.clone(),
                        what: format!(
                            "ConfigMap {name} key {key} ({}), mounted at {}",
                            self.loc(&data_at),
                            self.loc(at)
                        ),
                        at: data_at,
                        shared: shared(name),
                    });
                }
            }
        }
        out
    }

    /// The flows a value names.
    /// What service `i` is given, each value with the references in it and its evidence: read
    /// only, so worked out for every service at once.
    fn found(
        &self,
        i: usize,
        users: &BTreeMap<(String, String), BTreeSet<usize>>,
    ) -> Vec<(Said, Vec<Reference>, String)> {
        self.said(i, users)
            .into_iter()
            .map(|said| {
                let refs = refs::references(&said.text);
                let evidence = format!("{} {}", self.loc(&said.at), sanitize(&said.what));
                (said, refs, evidence)
            })
            .collect()
    }
}

/// The draft program for the manifests read.
pub fn infer(m: &Manifests, opts: &Options) -> Draft {
    let inf = build(m, opts);
    let flows = inf.flows.len();
    let files = render::render(&inf);
    let mut diagnostics = inf.diagnostics;
    crate::diag::sort(&mut diagnostics);
    Draft {
        files,
        diagnostics,
        flows,
    }
}

/// What the manifests say that `program` does not (`infer --diff`).
pub fn additions(
    m: &Manifests,
    opts: &Options,
    program: &crate::ir::Program,
    sources: &crate::span::SourceMap,
) -> Additions {
    let inf = build(m, opts);
    let mut out = additions::additions(&inf, program, sources);
    out.diagnostics = inf.diagnostics;
    crate::diag::sort(&mut out.diagnostics);
    out
}

/// The services, flows and exposure the manifests say, with the warnings found on the way.
fn build<'m>(m: &'m Manifests, opts: &'m Options) -> Inference<'m> {
    let mut inf = Inference {
        m,
        opts,
        services: Vec::new(),
        by_namespace: BTreeMap::new(),
        k8s: BTreeMap::new(),
        config_maps: BTreeMap::new(),
        namespaces: BTreeSet::new(),
        flows: BTreeMap::new(),
        diagnostics: Vec::new(),
        warned: BTreeSet::new(),
    };
    // Workloads in a fixed order whatever the order of files and documents.
    let mut workloads: Vec<&Workload> = Vec::new();
    for o in &m.objects {
        match o {
            Object::Workload(w) => workloads.push(w),
            Object::Service(s) => {
                inf.k8s
                    .insert((inf.ns(&s.meta.namespace), s.meta.name.clone()), s);
            }
            Object::ConfigMap(c) => {
                inf.config_maps
                    .insert((inf.ns(&c.meta.namespace), c.meta.name.clone()), c);
            }
            Object::Secret(_)
            | Object::Route(_)
            | Object::NetworkPolicy(..)
            | Object::Namespace(_) => {}
        }
    }
    for o in &m.objects {
        let meta = match o {
            Object::Workload(w) => &w.meta,
            Object::Service(s) => &s.meta,
            Object::ConfigMap(c) => &c.meta,
            Object::Secret(s) => &s.meta,
            Object::Route(r) => &r.meta,
            Object::NetworkPolicy(meta, _) => meta,
            // A namespace with nothing in it needs no block of the draft.
            Object::Namespace(_) => continue,
        };
        inf.namespaces.insert(inf.ns(&meta.namespace));
    }
    workloads.sort_by(|a, b| {
        (
            inf.ns(&a.meta.namespace),
            &a.meta.name,
            &a.meta.kind,
            &a.meta.at,
        )
            .cmp(&(
                inf.ns(&b.meta.namespace),
                &b.meta.name,
                &b.meta.kind,
                &b.meta.at,
            ))
    });
    let mut names: BTreeMap<(String, String), usize> = BTreeMap::new();
    for w in &workloads {
        *names
            .entry((inf.ns(&w.meta.namespace), program_name(&w.meta.name)))
            .or_default() += 1;
    }
    let mut seen: BTreeSet<(String, String, String)> = BTreeSet::new();
    let mut taken_names: BTreeSet<(String, String)> = BTreeSet::new();
    for w in workloads {
        let namespace = inf.ns(&w.meta.namespace);
        // A policy selects pods by their labels: pods with none (or none a program can say)
        // cannot be a service.
        let sayable = |labels: &BTreeMap<String, String>| labels.iter().any(label_ok);
        if !sayable(&w.selector) && !sayable(&w.pod_labels) {
            inf.diagnostics.push(
                Diagnostic::warning(
                    "W1102",
                    format!(
                        "{} `{}` has no pod labels a policy could select: left out",
                        w.meta.kind, w.meta.name
                    ),
                )
                .primary(m.span(&w.meta.at), "this workload"),
            );
            continue;
        }
        // The same object twice (two files, or a copy in one): the first is read.
        if !seen.insert((namespace.clone(), w.meta.kind.clone(), w.meta.name.clone())) {
            inf.diagnostics.push(
                Diagnostic::warning(
                    "W1102",
                    format!(
                        "{} `{}` is given twice in namespace `{namespace}`: this one is left out",
                        w.meta.kind, w.meta.name
                    ),
                )
                .primary(m.span(&w.meta.at), "this workload"),
            );
            continue;
        }
        let base = program_name(&w.meta.name);
        // Two kinds of workload with one name: each named by its kind too; names that only
        // became equal as program names are numbered.
        let mut name = if names.get(&(namespace.clone(), base.clone())).copied() > Some(1) {
            program_name(&format!("{base}-{}", w.meta.kind))
        } else {
            base
        };
        let mut n = 1;
        while taken_names.contains(&(namespace.clone(), name.clone())) {
            n += 1;
            let mut stem = program_name(&w.meta.name);
            stem.truncate(56);
            name = program_name(&format!("{stem}-{n}"));
        }
        taken_names.insert((namespace.clone(), name.clone()));
        let mut ports = BTreeMap::new();
        for c in w.containers.iter().filter(|c| !c.init) {
            for p in &c.ports {
                let proto = protocol(&p.protocol);
                let key = (proto.clone(), p.number);
                let taken = |n: &str, ports: &BTreeMap<(String, u16), PortDecl>| {
                    ports.values().any(|d| d.name == n)
                };
                let name = p
                    .name
                    .clone()
                    .filter(|n| crate::check::ports::container_port_name(n).is_ok())
                    .filter(|n| !taken(n, &ports))
                    .unwrap_or_else(|| format!("{proto}-{}", p.number));
                ports
                    .entry(key)
                    .or_insert_with(|| PortDecl {
                        name,
                        evidence: BTreeSet::new(),
                    })
                    .evidence
                    .insert(format!(
                        "{} container {} port {}{}",
                        m.location(&p.at),
                        c.name,
                        p.number,
                        p.name
                            .as_ref()
                            .map(|n| format!(" ({n})"))
                            .unwrap_or_default()
                    ));
            }
        }
        let runtime_default = ["securityContext", "seccompProfile", "type"];
        let runtime_default = w
            .spec
            .at(&runtime_default)
            .filter(|t| t.str() == Some("RuntimeDefault"))
            .map(|t| {
                format!(
                    "{} seccompProfile RuntimeDefault",
                    m.location(&At {
                        file: w.meta.at.file,
                        line: t.line
                    })
                )
            });
        inf.by_namespace
            .entry(namespace.clone())
            .or_default()
            .push(inf.services.len());
        inf.services.push(Svc {
            namespace,
            name,
            workload: w,
            ports,
            exposed: BTreeMap::new(),
            runtime_default,
        });
    }
    exposure::name_ports(&mut inf);
    // Who reads each ConfigMap: an address many workloads are given is weaker evidence.
    let mut users: BTreeMap<(String, String), BTreeSet<usize>> = BTreeMap::new();
    for (i, s) in inf.services.iter().enumerate() {
        let ns = &s.namespace;
        for c in &s.workload.containers {
            for e in &c.env {
                if let EnvSource::ConfigMapKey { name, .. } = &e.source {
                    users
                        .entry((ns.clone(), name.clone()))
                        .or_default()
                        .insert(i);
                }
            }
            for f in &c.env_from {
                if let Some(name) = &f.config_map {
                    users
                        .entry((ns.clone(), name.clone()))
                        .or_default()
                        .insert(i);
                }
            }
        }
        for (name, _) in &s.workload.config_map_volumes {
            users
                .entry((ns.clone(), name.clone()))
                .or_default()
                .insert(i);
        }
    }
    let all: Vec<usize> = (0..inf.services.len()).collect();
    let steps = crate::parallel::map(&all, |&client| {
        let Some(namespace) = inf.services.get(client).map(|s| s.namespace.as_str()) else {
            return Vec::new();
        };
        let mut steps = Vec::new();
        for (said, refs, evidence) in inf.found(client, &users) {
            for r in &refs {
                steps.extend(inf.steps(client, namespace, &said, r, &evidence));
            }
        }
        steps
    });
    for (client, steps) in steps.into_iter().enumerate() {
        for step in steps {
            inf.merge(client, step);
        }
    }
    exposure::expose(&mut inf);
    // One warning per workload, naming every service it reaches only that way.
    let mut weak: BTreeMap<usize, BTreeSet<&str>> = BTreeMap::new();
    for ((client, peer, _, _), e) in &inf.flows {
        if e.weak {
            let name = match peer {
                Peer::Service(s) => inf.services.get(*s).map_or("", |s| s.name.as_str()),
                Peer::Host(h) | Peer::Ip(h) => h.as_str(),
            };
            weak.entry(*client).or_default().insert(name);
        }
    }
    for (client, servers) in weak {
        let Some(s) = inf.services.get(client) else {
            continue;
        };
        let servers: Vec<String> = servers.into_iter().map(|n| format!("`{n}`")).collect();
        let d = Diagnostic::warning(
            "W1201",
            format!(
                "`{}` is given the address of {} only through a ConfigMap other workloads read: the flow is inferred, but the code may never call it",
                s.name,
                servers.join(", ")
            ),
        )
        .primary(inf.m.span(&s.workload.meta.at), "this workload")
        .help("drop each flow whose service the workload never calls");
        inf.diagnostics.push(d);
    }
    // What nothing calls and nothing exposes, though it serves ports.
    let called: BTreeSet<usize> = inf
        .flows
        .keys()
        .filter_map(|(_, p, _, _)| match p {
            Peer::Service(s) => Some(*s),
            _ => None,
        })
        .collect();
    for (i, s) in inf.services.iter().enumerate() {
        if !s.ports.is_empty() && s.exposed.is_empty() && !called.contains(&i) {
            let d = Diagnostic::warning(
                "W1206",
                format!(
                    "nothing in the manifests calls `{}`, which serves {}",
                    s.name,
                    s.ports
                        .keys()
                        .map(|(p, n)| format!("{n}/{p}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )
            .primary(inf.m.span(&s.workload.meta.at), "this workload")
            .note(
                "its ingress stays closed; callers from outside these manifests need a `from` line",
            );
            inf.diagnostics.push(d);
        }
    }
    inf
}
