//! Target `cilium`: CiliumNetworkPolicies (`cilium.io/v2`, see `targets/cilium/README.md`).
//!
//! The same policies as `netpol` (`plan` decides them), plus what only Cilium says: host names
//! (`toFQDNs`, with the DNS rule that lets Cilium's DNS proxy see the lookups) and HTTP rules.
//! Every policy sets `enableDefaultDeny` for the directions it isolates, because a Cilium policy
//! with an empty rule list does not isolate anything, where a NetworkPolicy with a policy type
//! and no rules does.

use super::plan::{Described, Rule};
use super::views::{
    ExpressionView, IpBlockView, K8sSelector, SelectorView, ip_block_view, selector_view,
};
use super::{Document, Lowering, Schema};
use crate::ir::{HttpRule, NamespaceScope, Peer, PortSpec, Ports, Program, Selector};
use crate::render::{push_json, push_object_head, push_quoted};
use std::collections::BTreeSet;

/// Cilium's labels for a pod's namespace and for the labels of that namespace.
const NAMESPACE: &str = "k8s:io.kubernetes.pod.namespace";
const NAMESPACE_LABELS: &str = "k8s:io.cilium.k8s.namespace.labels.";
/// Pod labels as Kubernetes gives them (Cilium also knows labels of other sources).
const POD_LABELS: &str = "k8s:";

/// A CiliumNetworkPolicy as it is written; `write` turns it into YAML.
struct PolicyView<'a> {
    name: &'a str,
    namespace: &'a str,
    source: &'a str,
    flows: &'a str,
    endpoint_selector: K8sSelector,
    default_deny_ingress: bool,
    default_deny_egress: bool,
    ingress: Option<Vec<RuleView>>,
    egress: Option<Vec<RuleView>>,
}

/// One rule; exactly one of `endpoints`, `cidrs` and `fqdns` is not empty (Cilium refuses
/// `toFQDNs` beside other peers in one rule), or none for "every peer".
#[derive(PartialEq, Eq, PartialOrd, Ord, Clone, Default)]
struct RuleView {
    endpoints: Vec<K8sSelector>,
    cidrs: Vec<IpBlockView>,
    fqdns: Vec<FqdnView>,
    ports: Vec<PortView>,
    http: Vec<HttpView>,
    dns: bool,
}

#[derive(PartialEq, Eq, PartialOrd, Ord, Clone)]
struct FqdnView {
    match_name: Option<String>,
    match_pattern: Option<String>,
}

#[derive(PartialEq, Eq, PartialOrd, Ord, Clone)]
struct PortView {
    /// A number or a container port's name: Cilium takes both as a string.
    port: String,
    end_port: Option<u16>,
    protocol: &'static str,
}

#[derive(PartialEq, Eq, PartialOrd, Ord, Clone)]
struct HttpView {
    method: Option<String>,
    path: Option<String>,
}

/// Why a program cannot be said as CiliumNetworkPolicies: label keys that Cilium reads as its
/// own (a pod label `io.kubernetes.pod.namespace` would move a selector to another namespace).
pub(super) fn limits(program: &Program) -> Vec<crate::diag::Diagnostic> {
    let reserved = |sel: &Selector| {
        sel.match_labels
            .iter()
            .map(|(k, _)| k)
            .chain(sel.expressions.iter().map(|e| &e.key))
            .find(|k| k.starts_with("io.cilium.") || k.starts_with("io.kubernetes.pod."))
            .cloned()
    };
    let mut out = Vec::new();
    let mut found = |key: Option<String>, span| {
        if let Some(key) = key {
            out.push(
                crate::diag::Diagnostic::error(
                    "E0902",
                    format!("target `cilium` reads the label `{key}` as its own"),
                )
                .primary(span, "a selector on this label")
                .note("Cilium keeps `io.kubernetes.pod.*` and `io.cilium.*` for what it knows of pods and namespaces, so such a selector would not mean what it says")
                .help("select on another label, or build this program for `netpol`"),
            );
        }
    };
    for svc in program.services.values() {
        found(reserved(&svc.selector), svc.span);
    }
    for flow in &program.flows {
        for peer in [&flow.client, &flow.server] {
            if let Peer::Pods { namespaces, pods } = peer {
                found(reserved(pods), flow.span);
                if let NamespaceScope::Labels(sel) = namespaces {
                    found(reserved(sel), flow.span);
                }
            }
        }
    }
    out
}

pub(super) fn lower(cx: &Lowering<'_>) -> Result<Vec<Document>, String> {
    let resolving = namespaces_resolving_hosts(cx.program);
    crate::parallel::map(cx.policies(), |policy| {
        // Whether a pod of this namespace looks names up for a `host` flow: then its DNS goes
        // through Cilium's DNS proxy, which is how `toFQDNs` learns the addresses.
        let resolves_hosts = resolving.contains(policy.namespace);
        let rules = |rules: &Option<Vec<Rule<'_>>>| -> Option<Vec<RuleView>> {
            let rules = rules.as_ref()?;
            let mut views: Vec<RuleView> = rules
                .iter()
                .flat_map(|r| match r {
                    Rule::Allow { peers, ports } => rule(cx, peers, ports, &[]),
                    Rule::Http { flow, peer } => rule(cx, &[*peer], &flow.ports, &flow.http),
                    Rule::Dns => dns_rules(cx, resolves_hosts),
                })
                .collect();
            views.sort();
            views.dedup();
            Some(views)
        };
        let described = policy.described(cx);
        let view = PolicyView {
            name: policy.name,
            namespace: policy.namespace,
            source: &described.source,
            flows: &described.flows,
            endpoint_selector: K8sSelector(
                policy
                    .pods
                    .map(|p| selector_view(p, POD_LABELS))
                    .unwrap_or_default(),
            ),
            default_deny_ingress: policy.ingress.is_some(),
            default_deny_egress: policy.egress.is_some(),
            ingress: rules(&policy.ingress),
            egress: rules(&policy.egress),
        };
        let text = write(&view)?;
        Ok(Document {
            path: format!("cilium/{}/{}.yaml", policy.namespace, policy.name),
            text,
            schema: Schema::CiliumNetworkPolicy,
            sources: Described::into_files(described),
            origin: Some(policy.source),
        })
    })
    .into_iter()
    .collect()
}

/// The namespaces some pod of which has a flow to a host, so that their `allow-dns` (or a
/// service's DNS rule) must send DNS through the proxy.
fn namespaces_resolving_hosts(program: &Program) -> BTreeSet<&str> {
    program
        .flows
        .iter()
        .filter(|f| matches!(f.server, Peer::Host(_)))
        .filter_map(|f| match &f.client {
            Peer::Service(id) => Some(id.namespace.as_str()),
            Peer::Namespace(n) => Some(n.as_str()),
            _ => None,
        })
        .collect()
}

/// The rules allowing `peers` on `ports` (with `http` requests only, if any): one per kind of
/// peer, as Cilium keeps `toFQDNs` apart from other peers. Selectors always name the namespace,
/// so none relies on Cilium adding the policy's own.
fn rule(cx: &Lowering<'_>, peers: &[&Peer], ports: &Ports, http: &[HttpRule]) -> Vec<RuleView> {
    let base = RuleView {
        ports: port_views(ports),
        http: http
            .iter()
            .map(|h| HttpView {
                method: h.method.clone(),
                path: h.path.clone(),
            })
            .collect(),
        ..RuleView::default()
    };
    let mut endpoints = Vec::new();
    let mut cidrs = Vec::new();
    let mut fqdns = Vec::new();
    for peer in peers {
        match peer {
            Peer::Service(id) => {
                endpoints.extend(cx.service(id).map(|s| {
                    selector_view(&s.selector, POD_LABELS).and(in_namespace(&id.namespace))
                }))
            }
            Peer::Namespace(n) => endpoints.push(in_namespace(n)),
            Peer::Pods { namespaces, pods } => {
                let pods = selector_view(pods, POD_LABELS);
                endpoints.push(match namespaces {
                    NamespaceScope::Name(n) => pods.and(in_namespace(n)),
                    // Any namespace whose labels match: the namespace label must exist, or
                    // Cilium would narrow the selector to the policy's own namespace.
                    NamespaceScope::Labels(sel) => pods
                        .and(selector_view(sel, NAMESPACE_LABELS))
                        .and(SelectorView {
                            match_labels: Vec::new(),
                            expressions: vec![ExpressionView {
                                key: NAMESPACE.to_string(),
                                operator: "Exists",
                                values: Vec::new(),
                            }],
                        }),
                });
            }
            Peer::World | Peer::Ip(_) => cidrs.extend(peer.blocks().iter().map(ip_block_view)),
            Peer::Host(name) if name.contains('*') => fqdns.push(FqdnView {
                match_name: None,
                match_pattern: Some(name.clone()),
            }),
            Peer::Host(name) => fqdns.push(FqdnView {
                match_name: Some(name.clone()),
                match_pattern: None,
            }),
        }
    }
    let mut out = Vec::new();
    if !endpoints.is_empty() {
        let mut endpoints: Vec<K8sSelector> = endpoints.into_iter().map(K8sSelector).collect();
        endpoints.sort();
        endpoints.dedup();
        out.push(RuleView {
            endpoints,
            ..base.clone()
        });
    }
    if !cidrs.is_empty() {
        cidrs.sort();
        cidrs.dedup();
        out.push(RuleView {
            cidrs,
            ..base.clone()
        });
    }
    if !fqdns.is_empty() {
        fqdns.sort();
        fqdns.dedup();
        out.push(RuleView { fqdns, ..base });
    }
    out
}

/// The pods of namespace `n`, by Cilium's label for a pod's namespace.
fn in_namespace(n: &str) -> SelectorView {
    SelectorView {
        match_labels: vec![(NAMESPACE.to_string(), n.to_string())],
        expressions: Vec::new(),
    }
}

fn port_views(ports: &Ports) -> Vec<PortView> {
    match ports {
        Ports::All => Vec::new(),
        Ports::Only(list) => list
            .iter()
            .map(|p| match p {
                PortSpec::Range(r) => PortView {
                    port: r.start.to_string(),
                    end_port: (r.end > r.start).then_some(r.end),
                    protocol: r.protocol.k8s(),
                },
                PortSpec::Named(n) => PortView {
                    port: n.name.clone(),
                    end_port: None,
                    protocol: n.protocol.k8s(),
                },
            })
            .collect(),
    }
}

/// Egress to the cluster DNS on 53/tcp and 53/udp (its pods, and NodeLocal DNSCache's address,
/// each a rule of its own). Where pods resolve hosts, the rules send DNS through Cilium's proxy
/// (`dns: matchPattern "*"`: every name may be looked up; the flows say which may be reached).
fn dns_rules(cx: &Lowering<'_>, proxy: bool) -> Vec<RuleView> {
    let dns = &cx.program.dns;
    let ports: Vec<PortView> = ["TCP", "UDP"]
        .into_iter()
        .map(|protocol| PortView {
            port: "53".to_string(),
            end_port: None,
            protocol,
        })
        .collect();
    let mut out = vec![RuleView {
        endpoints: vec![K8sSelector(
            selector_view(&dns.pods, POD_LABELS).and(in_namespace(&dns.namespace)),
        )],
        ports: ports.clone(),
        dns: proxy,
        ..RuleView::default()
    }];
    if let Some(addr) = dns.nodelocal {
        out.push(RuleView {
            cidrs: vec![IpBlockView {
                cidr: addr.to_string(),
                except: Vec::new(),
            }],
            ports,
            dns: proxy,
            ..RuleView::default()
        });
    }
    out
}

// One per service, like NetworkPolicies, and written here for the same reason (see
// `netpol::write`); `validate` checks each against Cilium's CRD schema made strict.

/// The policy as YAML, ending with one newline.
fn write(v: &PolicyView<'_>) -> Result<String, String> {
    let mut out = String::with_capacity(1024);
    let o = &mut out;
    push_object_head(
        o,
        "apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy",
        v.name,
        v.namespace,
        v.source,
        v.flows,
    );
    o.push_str("\nspec:\n  endpointSelector: ");
    push_json(o, &v.endpoint_selector, true)?;
    o.push_str("\n  enableDefaultDeny:\n    ingress: ");
    o.push_str(if v.default_deny_ingress {
        "true"
    } else {
        "false"
    });
    o.push_str("\n    egress: ");
    o.push_str(if v.default_deny_egress {
        "true"
    } else {
        "false"
    });
    rules(o, "ingress", "from", v.ingress.as_deref())?;
    rules(o, "egress", "to", v.egress.as_deref())?;
    o.push('\n');
    // As in `netpol::write`: the documents are held until written, without the buffer's slack.
    out.shrink_to_fit();
    Ok(out)
}

fn q(out: &mut String, s: &str) {
    push_quoted(out, s, true);
}

/// `ingress:` or `egress:` and its rules (`- {}` for none: allow nothing, isolate); nothing when
/// the policy has no such direction.
fn rules(o: &mut String, key: &str, dir: &str, rules: Option<&[RuleView]>) -> Result<(), String> {
    let Some(rules) = rules else {
        return Ok(());
    };
    o.push_str("\n  ");
    o.push_str(key);
    o.push(':');
    if rules.is_empty() {
        o.push_str("\n  - {}");
    }
    for rule in rules {
        o.push_str("\n  - ");
        o.push_str(dir);
        if !rule.endpoints.is_empty() {
            o.push_str("Endpoints:");
            for e in &rule.endpoints {
                o.push_str("\n    - ");
                push_json(o, e, true)?;
            }
        } else if !rule.cidrs.is_empty() {
            o.push_str("CIDRSet:");
            for c in &rule.cidrs {
                o.push_str("\n    - cidr: ");
                q(o, &c.cidr);
                if !c.except.is_empty() {
                    o.push_str("\n      except:");
                    for e in &c.except {
                        o.push_str("\n      - ");
                        q(o, e);
                    }
                }
            }
        } else if !rule.fqdns.is_empty() {
            if dir != "to" {
                return Err("cilium: host names in an ingress rule".to_string());
            }
            o.push_str("FQDNs:");
            for f in &rule.fqdns {
                match (&f.match_name, &f.match_pattern) {
                    (Some(name), _) => {
                        o.push_str("\n    - matchName: ");
                        q(o, name);
                    }
                    (None, Some(pattern)) => {
                        o.push_str("\n    - matchPattern: ");
                        q(o, pattern);
                    }
                    (None, None) => {
                        return Err("cilium: a host with neither name nor pattern".into());
                    }
                }
            }
        } else {
            o.push_str("Entities:\n    - all");
        }
        ports(o, rule)?;
    }
    Ok(())
}

/// The rule's `toPorts`, with its HTTP and DNS rules; nothing for every port.
fn ports(o: &mut String, rule: &RuleView) -> Result<(), String> {
    if rule.ports.is_empty() {
        return Ok(());
    }
    o.push_str("\n    toPorts:\n    - ports:");
    for p in &rule.ports {
        o.push_str("\n      - port: ");
        q(o, &p.port);
        if let Some(end) = p.end_port {
            o.push_str("\n        endPort: ");
            o.push_str(&end.to_string());
        }
        o.push_str("\n        protocol: ");
        q(o, p.protocol);
    }
    if rule.http.is_empty() && !rule.dns {
        return Ok(());
    }
    o.push_str("\n      rules:");
    if !rule.http.is_empty() {
        o.push_str("\n        http:");
        for h in &rule.http {
            match (&h.method, &h.path) {
                (Some(method), Some(path)) => {
                    o.push_str("\n        - method: ");
                    q(o, method);
                    o.push_str("\n          path: ");
                    q(o, path);
                }
                (Some(method), None) => {
                    o.push_str("\n        - method: ");
                    q(o, method);
                }
                (None, Some(path)) => {
                    o.push_str("\n        - path: ");
                    q(o, path);
                }
                (None, None) => return Err("cilium: an HTTP rule with neither".to_string()),
            }
        }
    }
    if rule.dns {
        o.push_str("\n        dns:\n        - matchPattern: \"*\"");
    }
    Ok(())
}
