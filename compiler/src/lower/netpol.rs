//! Target `netpol`: Kubernetes NetworkPolicies (see `targets/netpol/README.md`).
//!
//! Per namespace that isolates: `default-deny` (every pod, the isolated directions, no rules) and,
//! with `allow dns`, `allow-dns`. Per service isolated by its namespace or by itself: one policy
//! holding the ingress rules of the flows it serves and the egress rules of the flows it opens,
//! each only in a direction where the service is isolated.

use super::{Document, Lowering, Schema, VERSION};
use crate::ir::{
    Flow, IpBlock, NAME_LABEL, NamespaceScope, Peer, PortSpec, Ports, Selector, ServiceId,
};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

#[derive(Serialize)]
struct PolicyView<'a> {
    name: &'a str,
    namespace: &'a str,
    source: String,
    flows: String,
    version: &'static str,
    pod_selector: SelectorView,
    policy_types: Vec<&'static str>,
    ingress: Option<Vec<RuleView>>,
    egress: Option<Vec<RuleView>>,
}

#[derive(Serialize, PartialEq, Eq, PartialOrd, Ord, Clone)]
struct RuleView {
    peers: Vec<PeerView>,
    ports: Vec<PortView>,
}

#[derive(Serialize, PartialEq, Eq, PartialOrd, Ord, Clone)]
struct PeerView {
    ip_block: Option<IpBlockView>,
    pod_selector: Option<SelectorView>,
    /// `None`: the policy's own namespace (a bare podSelector means exactly that).
    namespace_selector: Option<SelectorView>,
}

fn namespace_named(name: &str) -> SelectorView {
    SelectorView {
        match_labels: vec![(NAME_LABEL.to_string(), name.to_string())],
        expressions: Vec::new(),
    }
}

/// A label selector as the template writes it: `matchLabels`, then `matchExpressions`.
#[derive(Serialize, PartialEq, Eq, PartialOrd, Ord, Clone, Default)]
struct SelectorView {
    match_labels: Vec<(String, String)>,
    expressions: Vec<ExpressionView>,
}

#[derive(Serialize, PartialEq, Eq, PartialOrd, Ord, Clone)]
struct ExpressionView {
    key: String,
    operator: &'static str,
    values: Vec<String>,
}

fn selector_view(sel: &Selector) -> SelectorView {
    SelectorView {
        match_labels: sel
            .match_labels
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        expressions: sel
            .expressions
            .iter()
            .map(|e| ExpressionView {
                key: e.key.clone(),
                operator: e.operator.k8s(),
                values: e.values.clone(),
            })
            .collect(),
    }
}

#[derive(Serialize, PartialEq, Eq, PartialOrd, Ord, Clone)]
struct IpBlockView {
    cidr: String,
    except: Vec<String>,
}

#[derive(Serialize, PartialEq, Eq, PartialOrd, Ord, Clone)]
struct PortView {
    protocol: &'static str,
    port: PortValue,
    end_port: Option<u16>,
}

/// A port number, or a container port's name (which the template quotes as a string).
#[derive(Serialize, PartialEq, Eq, PartialOrd, Ord, Clone)]
#[serde(untagged)]
enum PortValue {
    Number(u16),
    Name(String),
}

/// The flows of each service, found once rather than by a scan per service.
struct FlowIndex<'a> {
    /// Flows whose server is the service.
    serving: BTreeMap<&'a ServiceId, Vec<&'a Flow>>,
    /// Flows whose client is the service.
    opening: BTreeMap<&'a ServiceId, Vec<&'a Flow>>,
}

impl<'a> FlowIndex<'a> {
    fn new(cx: &Lowering<'a>) -> Self {
        let mut index = FlowIndex {
            serving: BTreeMap::new(),
            opening: BTreeMap::new(),
        };
        for flow in &cx.program.flows {
            if let Peer::Service(id) = &flow.server {
                index.serving.entry(id).or_default().push(flow);
            }
            if let Peer::Service(id) = &flow.client {
                index.opening.entry(id).or_default().push(flow);
            }
        }
        index
    }
}

fn types(ingress: bool, egress: bool) -> Vec<&'static str> {
    let mut t = Vec::new();
    if ingress {
        t.push("Ingress");
    }
    if egress {
        t.push("Egress");
    }
    t
}

pub(super) fn lower(cx: &Lowering<'_>) -> Result<Vec<Document>, String> {
    let mut docs = Vec::new();
    for ns in cx.program.namespaces.values().filter(|n| n.isolated()) {
        let source = cx.location(ns.span);
        let file: BTreeSet<String> = [cx.file(ns.span)].into();
        let view = PolicyView {
            name: "default-deny",
            namespace: &ns.name,
            source: source.clone(),
            flows: String::new(),
            version: VERSION,
            pod_selector: SelectorView::default(),
            policy_types: types(ns.isolate_ingress, ns.isolate_egress),
            ingress: ns.isolate_ingress.then(Vec::new),
            egress: ns.isolate_egress.then(Vec::new),
        };
        docs.push(document(&ns.name, "default-deny", &view, file.clone())?);
        if ns.allow_dns && ns.isolate_egress {
            let dns = dns_rule(cx);
            let view = PolicyView {
                name: "allow-dns",
                policy_types: types(false, true),
                ingress: None,
                egress: Some(vec![dns]),
                ..view
            };
            docs.push(document(&ns.name, "allow-dns", &view, file.clone())?);
        }
        // The namespace's own flows: every pod of it is their client or server.
        let me = Peer::Namespace(ns.name.clone());
        let mut ingress = Vec::new();
        let mut egress = Vec::new();
        let mut spans = BTreeSet::new();
        for flow in &cx.program.flows {
            if ns.isolate_ingress && flow.server == me {
                ingress.push(rule(cx, flow, &flow.client, &ns.name));
                spans.insert(flow.span);
            }
            if ns.isolate_egress && flow.client == me {
                egress.push(rule(cx, flow, &flow.server, &ns.name));
                spans.insert(flow.span);
            }
        }
        if !spans.is_empty() {
            for rules in [&mut ingress, &mut egress] {
                rules.sort();
                rules.dedup();
            }
            let view = PolicyView {
                name: "namespace-flows",
                namespace: &ns.name,
                source: source.clone(),
                flows: locations(cx, &spans),
                version: VERSION,
                pod_selector: SelectorView::default(),
                policy_types: types(ns.isolate_ingress, ns.isolate_egress),
                ingress: ns.isolate_ingress.then_some(ingress),
                egress: ns.isolate_egress.then_some(egress),
            };
            let files: BTreeSet<String> = spans.iter().map(|s| cx.file(*s)).chain(file).collect();
            docs.push(document(&ns.name, "namespace-flows", &view, files)?);
        }
    }
    let index = FlowIndex::new(cx);
    for svc in cx.program.services.values() {
        let isolate_ingress = cx.program.isolates(&svc.id, false);
        let isolate_egress = cx.program.isolates(&svc.id, true);
        if !isolate_ingress && !isolate_egress {
            continue;
        }
        let mut files: BTreeSet<String> = [cx.file(svc.span)].into();
        let mut flow_spans = BTreeSet::new();
        let mut ingress = Vec::new();
        let mut egress = Vec::new();
        if isolate_ingress {
            for flow in index.serving.get(&svc.id).into_iter().flatten() {
                ingress.push(rule(cx, flow, &flow.client, &svc.id.namespace));
                files.insert(cx.file(flow.span));
                flow_spans.insert(flow.span);
            }
        }
        if isolate_egress {
            for flow in index.opening.get(&svc.id).into_iter().flatten() {
                egress.push(rule(cx, flow, &flow.server, &svc.id.namespace));
                files.insert(cx.file(flow.span));
                flow_spans.insert(flow.span);
            }
        }
        // `allow dns` where the namespace does not isolate egress but the service does: the
        // namespace-wide `allow-dns` does not exist, so the service's policy holds the DNS rule.
        let ns = cx.program.namespaces.get(&svc.id.namespace);
        if isolate_egress && ns.is_some_and(|n| n.allow_dns && !n.isolate_egress) {
            egress.push(dns_rule(cx));
        }
        for rules in [&mut ingress, &mut egress] {
            rules.sort();
            rules.dedup();
        }
        let view = PolicyView {
            name: &svc.id.name,
            namespace: &svc.id.namespace,
            source: cx.location(svc.span),
            flows: locations(cx, &flow_spans),
            version: VERSION,
            pod_selector: selector_view(&svc.selector),
            policy_types: types(isolate_ingress, isolate_egress),
            ingress: isolate_ingress.then_some(ingress),
            egress: isolate_egress.then_some(egress),
        };
        docs.push(document(&svc.id.namespace, &svc.id.name, &view, files)?);
    }
    Ok(docs)
}

/// `file:line` of each span, in source order, each once.
fn locations(cx: &Lowering<'_>, spans: &BTreeSet<crate::span::Span>) -> String {
    let mut out: Vec<String> = spans.iter().map(|s| cx.location(*s)).collect();
    out.dedup();
    out.join(", ")
}

/// Egress to the cluster DNS on 53/tcp and 53/udp: its pods, and NodeLocal DNSCache's address.
fn dns_rule(cx: &Lowering<'_>) -> RuleView {
    let dns = &cx.program.dns;
    let mut peers = vec![PeerView {
        ip_block: None,
        pod_selector: Some(selector_view(&dns.pods)),
        namespace_selector: Some(namespace_named(&dns.namespace)),
    }];
    if let Some(addr) = dns.nodelocal {
        peers.push(ip_block(&IpBlock {
            cidr: addr,
            except: Vec::new(),
        }));
    }
    RuleView {
        peers,
        ports: ["TCP", "UDP"]
            .into_iter()
            .map(|protocol| PortView {
                protocol,
                port: PortValue::Number(53),
                end_port: None,
            })
            .collect(),
    }
}

/// The rule of `flow` on the policy of `own`, whose other end is `peer`.
fn rule(cx: &Lowering<'_>, flow: &Flow, peer: &Peer, own_namespace: &str) -> RuleView {
    let peers = match peer {
        Peer::Service(id) => {
            let selector = cx
                .program
                .services
                .get(id)
                .map(|s| selector_view(&s.selector))
                .unwrap_or_default();
            vec![PeerView {
                ip_block: None,
                pod_selector: Some(selector),
                // Same namespace: a bare podSelector already means "in this policy's namespace".
                namespace_selector: (id.namespace != own_namespace)
                    .then(|| namespace_named(&id.namespace)),
            }]
        }
        Peer::Namespace(n) => vec![PeerView {
            ip_block: None,
            pod_selector: Some(SelectorView::default()),
            namespace_selector: (n != own_namespace).then(|| namespace_named(n)),
        }],
        Peer::Pods { namespaces, pods } => vec![PeerView {
            ip_block: None,
            pod_selector: Some(selector_view(pods)),
            namespace_selector: match namespaces {
                NamespaceScope::Name(n) if *n == own_namespace => None,
                NamespaceScope::Name(n) => Some(namespace_named(n)),
                NamespaceScope::Labels(sel) => Some(selector_view(sel)),
            },
        }],
        Peer::World | Peer::Ip(_) => peer.blocks().iter().map(ip_block).collect(),
    };
    let ports = match &flow.ports {
        Ports::All => Vec::new(),
        Ports::Only(list) => list
            .iter()
            .map(|p| match p {
                PortSpec::Range(r) => PortView {
                    protocol: r.protocol.k8s(),
                    port: PortValue::Number(r.start),
                    end_port: (r.end > r.start).then_some(r.end),
                },
                PortSpec::Named(n) => PortView {
                    protocol: n.protocol.k8s(),
                    port: PortValue::Name(n.name.clone()),
                    end_port: None,
                },
            })
            .collect(),
    };
    RuleView { peers, ports }
}

fn ip_block(b: &IpBlock) -> PeerView {
    PeerView {
        ip_block: Some(IpBlockView {
            cidr: b.cidr.to_string(),
            except: b.except.iter().map(ToString::to_string).collect(),
        }),
        pod_selector: None,
        namespace_selector: None,
    }
}

fn document(
    namespace: &str,
    name: &str,
    view: &PolicyView<'_>,
    sources: BTreeSet<String>,
) -> Result<Document, String> {
    Ok(Document {
        path: format!("netpol/{namespace}/{name}.yaml"),
        text: crate::render::render("netpol/networkpolicy.yaml", view)?,
        schema: Schema::NetworkPolicy,
        sources,
    })
}
