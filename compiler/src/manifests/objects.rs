//! The Kubernetes objects `infer` reads, from the YAML trees: what each says about who serves
//! what, who calls whom and what is exposed, each value with the line it was read from. A
//! Secret's values are never read: only its key names.

use super::yaml::Node;
use std::collections::BTreeMap;

/// Where a value was read: the manifest file (as given) and the line.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct At {
    pub file: usize,
    pub line: u32,
}

/// What every object has.
#[derive(Clone, Debug)]
pub struct Meta {
    /// As written (empty if not).
    pub api_version: String,
    pub kind: String,
    pub name: String,
    /// `None`: the object does not say, and takes the namespace `infer` is given.
    pub namespace: Option<String>,
    pub labels: BTreeMap<String, String>,
    pub at: At,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContainerPort {
    pub name: Option<String>,
    pub number: u16,
    /// `TCP`, `UDP` or `SCTP`, as written (TCP if not).
    pub protocol: String,
    pub at: At,
}

/// Where an environment variable's value comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EnvSource {
    Value(String),
    ConfigMapKey {
        name: String,
        key: String,
    },
    /// A Secret's key: named, never read.
    SecretKey {
        name: String,
        key: String,
    },
    /// `fieldRef`, `resourceFieldRef`: nothing another workload can be named by.
    Other,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Env {
    pub name: String,
    pub source: EnvSource,
    pub at: At,
}

/// `envFrom`: every key of a ConfigMap (or a Secret, whose keys are not read) as a variable.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EnvFrom {
    pub config_map: Option<String>,
    pub secret: Option<String>,
    pub prefix: String,
    pub at: At,
}

#[derive(Clone, Debug)]
pub struct Container {
    pub name: String,
    pub image: Option<String>,
    /// An init container (or an ephemeral one).
    pub init: bool,
    pub ports: Vec<ContainerPort>,
    pub env: Vec<Env>,
    pub env_from: Vec<EnvFrom>,
    /// `command` then `args`, each with its line.
    pub words: Vec<(String, At)>,
}

/// A Pod, or a workload's pod template.
#[derive(Clone, Debug)]
pub struct Workload {
    pub meta: Meta,
    /// The workload's `matchLabels` (a Pod: its labels).
    pub selector: BTreeMap<String, String>,
    /// Whether the selector has `matchExpressions`, which a program's `pods` line can say too
    /// but `infer` does not derive.
    pub selector_expressions: bool,
    /// The labels of its pods.
    pub pod_labels: BTreeMap<String, String>,
    /// The annotations of its pods (Pod Security reads AppArmor's older form there).
    pub pod_annotations: BTreeMap<String, String>,
    pub containers: Vec<Container>,
    /// The pod spec as written, for the checks of admission rules.
    pub spec: Node,
    /// The ConfigMaps its volumes mount (a workload reads them as files).
    pub config_map_volumes: Vec<(String, At)>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TargetPort {
    Number(u16),
    Name(String),
}

#[derive(Clone, Debug)]
pub struct ServicePort {
    pub name: Option<String>,
    pub port: u16,
    pub target: TargetPort,
    pub protocol: String,
    pub at: At,
}

#[derive(Clone, Debug)]
pub struct Service {
    pub meta: Meta,
    /// `ClusterIP` if not said.
    pub kind: String,
    pub selector: BTreeMap<String, String>,
    pub ports: Vec<ServicePort>,
    pub external_name: Option<String>,
}

#[derive(Clone, Debug)]
pub struct ConfigMap {
    pub meta: Meta,
    /// Key, value, the value's line.
    pub data: Vec<(String, String, u32)>,
}

/// A Secret: its key names only.
#[derive(Clone, Debug)]
pub struct Secret {
    pub meta: Meta,
    pub keys: Vec<String>,
}

/// A way in from outside the cluster: an Ingress's or a Gateway API route's backend.
#[derive(Clone, Debug)]
pub struct Backend {
    pub service: String,
    /// The route's namespace unless the reference names another.
    pub namespace: Option<String>,
    pub port: Option<TargetPort>,
    pub at: At,
}

#[derive(Clone, Debug)]
pub struct Route {
    pub meta: Meta,
    pub backends: Vec<Backend>,
}

#[derive(Clone, Debug)]
pub enum Object {
    Workload(Workload),
    Service(Service),
    ConfigMap(ConfigMap),
    Secret(Secret),
    /// Ingress, HTTPRoute, GRPCRoute.
    Route(Route),
    /// Read whole, for `import netpol`.
    NetworkPolicy(Meta, Node),
    /// A Namespace: its labels decide which admission blocks apply in it (`admit`).
    Namespace(Meta),
}

/// The kinds with a pod template at `spec.template`, and where the template is for a CronJob.
const TEMPLATED: &[&str] = &[
    "Deployment",
    "StatefulSet",
    "DaemonSet",
    "ReplicaSet",
    "Job",
];

fn string_map(node: Option<&Node>) -> BTreeMap<String, String> {
    node.map(|n| n.string_map().into_iter().map(|(k, v, _)| (k, v)).collect())
        .unwrap_or_default()
}

fn port_number(n: &Node) -> Option<u16> {
    n.int()
        .and_then(|i| u16::try_from(i).ok())
        .filter(|p| *p > 0)
}

fn target_port(n: &Node) -> Option<TargetPort> {
    match port_number(n) {
        Some(p) => Some(TargetPort::Number(p)),
        None => n.str().map(|s| TargetPort::Name(s.to_string())),
    }
}

fn meta(doc: &Node, kind: &str, file: usize) -> Option<Meta> {
    let m = doc.get("metadata")?;
    Some(Meta {
        api_version: doc
            .get("apiVersion")
            .and_then(Node::str)
            .unwrap_or_default()
            .to_string(),
        kind: kind.to_string(),
        name: m.get("name").and_then(Node::str)?.to_string(),
        namespace: m.get("namespace").and_then(Node::str).map(str::to_string),
        labels: string_map(m.get("labels")),
        at: At {
            file,
            line: doc.line,
        },
    })
}

fn container(c: &Node, init: bool, file: usize) -> Container {
    let at = |n: &Node| At { file, line: n.line };
    let ports = c
        .get("ports")
        .map(Node::seq)
        .unwrap_or_default()
        .iter()
        .filter_map(|p| {
            Some(ContainerPort {
                name: p.get("name").and_then(Node::str).map(str::to_string),
                number: p.get("containerPort").and_then(port_number)?,
                protocol: p
                    .get("protocol")
                    .and_then(Node::str)
                    .unwrap_or("TCP")
                    .to_string(),
                at: at(p),
            })
        })
        .collect();
    let env = c
        .get("env")
        .map(Node::seq)
        .unwrap_or_default()
        .iter()
        .filter_map(|e| {
            let name = e.get("name").and_then(Node::str)?.to_string();
            let source = if let Some(v) = e.get("value") {
                EnvSource::Value(v.str().unwrap_or_default().to_string())
            } else if let Some(r) = e.at(&["valueFrom", "configMapKeyRef"]) {
                EnvSource::ConfigMapKey {
                    name: r.get("name").and_then(Node::str)?.to_string(),
                    key: r.get("key").and_then(Node::str)?.to_string(),
                }
            } else if let Some(r) = e.at(&["valueFrom", "secretKeyRef"]) {
                EnvSource::SecretKey {
                    name: r.get("name").and_then(Node::str)?.to_string(),
                    key: r.get("key").and_then(Node::str)?.to_string(),
                }
            } else {
                EnvSource::Other
            };
            let line = e.get("value").map_or(e.line, |v| v.line);
            Some(Env {
                name,
                source,
                at: At { file, line },
            })
        })
        .collect();
    let env_from = c
        .get("envFrom")
        .map(Node::seq)
        .unwrap_or_default()
        .iter()
        .map(|e| EnvFrom {
            config_map: e
                .at(&["configMapRef", "name"])
                .and_then(Node::str)
                .map(str::to_string),
            secret: e
                .at(&["secretRef", "name"])
                .and_then(Node::str)
                .map(str::to_string),
            prefix: e
                .get("prefix")
                .and_then(Node::str)
                .unwrap_or_default()
                .to_string(),
            at: at(e),
        })
        .collect();
    let words = ["command", "args"]
        .iter()
        .flat_map(|k| c.get(k).map(Node::seq).unwrap_or_default())
        .filter_map(|w| w.str().map(|s| (s.to_string(), at(w))))
        .collect();
    Container {
        name: c
            .get("name")
            .and_then(Node::str)
            .unwrap_or_default()
            .to_string(),
        image: c.get("image").and_then(Node::str).map(str::to_string),
        init,
        ports,
        env,
        env_from,
        words,
    }
}

fn workload(meta: Meta, selector: Option<&Node>, template: &Node, file: usize) -> Workload {
    let spec = template.get("spec").cloned().unwrap_or(Node {
        value: super::yaml::Value::Map(Vec::new()),
        line: template.line,
    });
    let pod_labels = string_map(template.at(&["metadata", "labels"]));
    let pod_annotations = string_map(template.at(&["metadata", "annotations"]));
    let (selector, selector_expressions) = match selector {
        Some(s) => (
            string_map(s.get("matchLabels")),
            s.get("matchExpressions")
                .is_some_and(|e| !e.seq().is_empty()),
        ),
        None => (pod_labels.clone(), false),
    };
    let mut containers = Vec::new();
    for (key, init) in [
        ("initContainers", true),
        ("containers", false),
        ("ephemeralContainers", true),
    ] {
        for c in spec.get(key).map(Node::seq).unwrap_or_default() {
            containers.push(container(c, init, file));
        }
    }
    let config_map_volumes = spec
        .get("volumes")
        .map(Node::seq)
        .unwrap_or_default()
        .iter()
        .filter_map(|v| {
            let name = v.at(&["configMap", "name"]).and_then(Node::str)?;
            Some((name.to_string(), At { file, line: v.line }))
        })
        .collect();
    Workload {
        meta,
        selector,
        selector_expressions,
        pod_labels,
        pod_annotations,
        containers,
        spec,
        config_map_volumes,
    }
}

/// A document not read: of a kind `infer` has no use for, or missing what its kind must have.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Skipped {
    Kind(String),
    Malformed(String),
}

/// The objects of one document (a `List` gives its items).
pub fn objects(doc: &Node, file: usize, out: &mut Vec<Object>) -> Result<(), (Skipped, u32)> {
    let kind = doc.get("kind").and_then(Node::str).unwrap_or_default();
    if kind == "List" || kind.ends_with("List") && doc.get("items").is_some() {
        for item in doc.get("items").map(Node::seq).unwrap_or_default() {
            objects(item, file, out)?;
        }
        return Ok(());
    }
    let Some(m) = meta(doc, kind, file) else {
        return Err((
            Skipped::Malformed(if kind.is_empty() {
                "a document without a kind".to_string()
            } else {
                format!("a document of kind {kind} without a name")
            }),
            doc.line,
        ));
    };
    let spec = doc.get("spec");
    let object = match kind {
        k if TEMPLATED.contains(&k) => {
            let Some(template) = spec.and_then(|s| s.get("template")) else {
                return Err((
                    Skipped::Malformed(format!("{k} `{}` without a pod template", m.name)),
                    doc.line,
                ));
            };
            Object::Workload(workload(
                m,
                spec.and_then(|s| s.get("selector")),
                template,
                file,
            ))
        }
        "CronJob" => {
            let Some(template) = spec.and_then(|s| s.at(&["jobTemplate", "spec", "template"]))
            else {
                return Err((
                    Skipped::Malformed(format!("CronJob `{}` without a pod template", m.name)),
                    doc.line,
                ));
            };
            Object::Workload(workload(m, None, template, file))
        }
        "Pod" => {
            // A Pod is its own template.
            Object::Workload(workload(m, None, doc, file))
        }
        "Service" => {
            let spec = spec.cloned().unwrap_or(Node {
                value: super::yaml::Value::Map(Vec::new()),
                line: doc.line,
            });
            let ports = spec
                .get("ports")
                .map(Node::seq)
                .unwrap_or_default()
                .iter()
                .filter_map(|p| {
                    let port = p.get("port").and_then(port_number)?;
                    Some(ServicePort {
                        name: p.get("name").and_then(Node::str).map(str::to_string),
                        port,
                        target: p
                            .get("targetPort")
                            .and_then(target_port)
                            .unwrap_or(TargetPort::Number(port)),
                        protocol: p
                            .get("protocol")
                            .and_then(Node::str)
                            .unwrap_or("TCP")
                            .to_string(),
                        at: At { file, line: p.line },
                    })
                })
                .collect();
            Object::Service(Service {
                kind: spec
                    .get("type")
                    .and_then(Node::str)
                    .unwrap_or("ClusterIP")
                    .to_string(),
                selector: string_map(spec.get("selector")),
                external_name: spec
                    .get("externalName")
                    .and_then(Node::str)
                    .map(str::to_string),
                ports,
                meta: m,
            })
        }
        "Namespace" => Object::Namespace(m),
        "ConfigMap" => Object::ConfigMap(ConfigMap {
            data: doc.get("data").map(Node::string_map).unwrap_or_default(),
            meta: m,
        }),
        "Secret" => {
            let mut keys: Vec<String> = ["data", "stringData"]
                .iter()
                .flat_map(|k| doc.get(k).map(Node::entries).unwrap_or_default())
                .map(|(k, _)| k.clone())
                .collect();
            keys.sort();
            keys.dedup();
            Object::Secret(Secret { meta: m, keys })
        }
        "Ingress" => {
            let mut backends = Vec::new();
            let mut backend = |b: &Node| {
                if let Some(name) = b.at(&["service", "name"]).and_then(Node::str) {
                    let port = b.at(&["service", "port"]);
                    backends.push(Backend {
                        service: name.to_string(),
                        namespace: None,
                        port: port.and_then(|p| {
                            p.get("number")
                                .and_then(port_number)
                                .map(TargetPort::Number)
                                .or_else(|| {
                                    p.get("name")
                                        .and_then(Node::str)
                                        .map(|s| TargetPort::Name(s.to_string()))
                                })
                        }),
                        at: At { file, line: b.line },
                    });
                }
            };
            if let Some(b) = spec.and_then(|s| s.get("defaultBackend")) {
                backend(b);
            }
            for rule in spec
                .and_then(|s| s.get("rules"))
                .map(Node::seq)
                .unwrap_or_default()
            {
                for path in rule
                    .at(&["http", "paths"])
                    .map(Node::seq)
                    .unwrap_or_default()
                {
                    if let Some(b) = path.get("backend") {
                        backend(b);
                    }
                }
            }
            Object::Route(Route { meta: m, backends })
        }
        "HTTPRoute" | "GRPCRoute" => {
            let mut backends = Vec::new();
            for rule in spec
                .and_then(|s| s.get("rules"))
                .map(Node::seq)
                .unwrap_or_default()
            {
                for b in rule.get("backendRefs").map(Node::seq).unwrap_or_default() {
                    let kind = b.get("kind").and_then(Node::str).unwrap_or("Service");
                    let Some(name) = b.get("name").and_then(Node::str) else {
                        continue;
                    };
                    if kind != "Service" {
                        continue;
                    }
                    backends.push(Backend {
                        service: name.to_string(),
                        namespace: b.get("namespace").and_then(Node::str).map(str::to_string),
                        port: b.get("port").and_then(port_number).map(TargetPort::Number),
                        at: At { file, line: b.line },
                    });
                }
            }
            Object::Route(Route { meta: m, backends })
        }
        "NetworkPolicy" => Object::NetworkPolicy(m, doc.clone()),
        other => return Err((Skipped::Kind(other.to_string()), doc.line)),
    };
    out.push(object);
    Ok(())
}
