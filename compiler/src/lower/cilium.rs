//! Target `cilium`: CiliumNetworkPolicies (`cilium.io/v2`, see `targets/cilium/README.md`).
//!
//! The same policies as `netpol` (`plan` decides them), plus what only Cilium says: host names
//! (`toFQDNs`, with the DNS rule that lets Cilium's DNS proxy see the lookups) and HTTP rules.
//! Every policy sets `enableDefaultDeny` for the directions it isolates, because a Cilium policy
//! with an empty rule list does not isolate anything, where a NetworkPolicy with a policy type
//! and no rules does.

use super::plan::{self, Described, Policy, Rule};
use super::render::{push_object_head, push_quoted};
use super::views::{ExpressionView, IpBlockView, Key, SelectorView, selector_view};
use super::{Document, Lowering, Schema};
use crate::ir::{HttpRule, NamespaceScope, Peer, PortSpec, Ports, Program, Selector};
use std::borrow::Cow;
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
    accepted: &'a str,
    endpoint_selector: SelectorView<'a>,
    default_deny_ingress: bool,
    default_deny_egress: bool,
    ingress: Option<Vec<RuleView<'a>>>,
    egress: Option<Vec<RuleView<'a>>>,
}

/// One rule; exactly one of `endpoints`, `cidrs` and `fqdns` is not empty (Cilium refuses
/// `toFQDNs` beside other peers in one rule), or none for "every peer".
#[derive(PartialEq, Eq, PartialOrd, Ord, Clone, Default)]
struct RuleView<'a> {
    endpoints: Vec<SelectorView<'a>>,
    cidrs: Vec<IpBlockView<'a>>,
    fqdns: Vec<FqdnView<'a>>,
    ports: Vec<PortView<'a>>,
    http: Vec<HttpView<'a>>,
    dns: bool,
}

#[derive(PartialEq, Eq, PartialOrd, Ord, Clone)]
struct FqdnView<'a> {
    match_name: Option<&'a str>,
    match_pattern: Option<&'a str>,
}

#[derive(PartialEq, Eq, PartialOrd, Ord, Clone)]
struct PortView<'a> {
    /// A number or a container port's name: Cilium takes both as a string (and rules are
    /// ordered by it as a string).
    port: Cow<'a, str>,
    end_port: Option<u16>,
    protocol: &'static str,
}

#[derive(PartialEq, Eq, PartialOrd, Ord, Clone)]
struct HttpView<'a> {
    method: Option<&'a str>,
    path: Option<&'a str>,
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
            if let Peer::Pods(p) = peer {
                let crate::ir::Pods { namespaces, pods } = &**p;
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
    plan::each(cx, |policy| {
        document(cx, policy, &policy.described(cx), &resolving)
    })
    .into_iter()
    .collect()
}

/// The CiliumNetworkPolicy of one planned policy; `resolving` are the namespaces that
/// `namespaces_resolving_hosts` finds.
pub(super) fn document(
    cx: &Lowering<'_>,
    policy: &Policy<'_>,
    described: &Described,
    resolving: &BTreeSet<&str>,
) -> Result<Document, String> {
    // Whether a pod of this namespace looks names up for a `host` flow: then its DNS goes
    // through Cilium's DNS proxy, which is how `toFQDNs` learns the addresses.
    let resolves_hosts = resolving.contains(policy.namespace);
    let rules = |rules| rule_views(cx, rules, resolves_hosts);
    let view = PolicyView {
        name: policy.name,
        namespace: policy.namespace,
        source: &described.source,
        flows: &described.flows,
        accepted: policy.accepted,
        endpoint_selector: policy
            .pods
            .map(|p| selector_view(p, POD_LABELS))
            .unwrap_or_default(),
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
        sources: described.files.clone(),
        origin: Some(policy.source),
    })
}

/// The rules of one direction of a policy, sorted, each once; `None` where the policy does not
/// isolate that direction. `resolves_hosts`: the DNS rule sends lookups through Cilium's proxy.
fn rule_views<'c>(
    cx: &'c Lowering<'_>,
    rules: &'c Option<Vec<Rule<'_>>>,
    resolves_hosts: bool,
) -> Option<Vec<RuleView<'c>>> {
    let rules = rules.as_ref()?;
    let mut views: Vec<RuleView<'c>> = rules
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
}

/// The namespaces some pod of which has a flow to a host, so that their `allow-dns` (or a
/// service's DNS rule) must send DNS through the proxy.
pub(super) fn namespaces_resolving_hosts(program: &Program) -> BTreeSet<&str> {
    program
        .flows
        .iter()
        .filter(|f| matches!(f.server, Peer::Host(_)))
        .filter_map(|f| match &f.client {
            Peer::Service(r) => program.services.at(*r).map(|s| s.id.namespace.as_str()),
            Peer::Namespace(n) => Some(n.as_str()),
            _ => None,
        })
        .collect()
}

/// The rules allowing `peers` on `ports` (with `http` requests only, if any): one per kind of
/// peer, as Cilium keeps `toFQDNs` apart from other peers. Selectors always name the namespace,
/// so none relies on Cilium adding the policy's own.
fn rule<'c>(
    cx: &'c Lowering<'_>,
    peers: &[&'c Peer],
    ports: &'c Ports,
    http: &'c [HttpRule],
) -> Vec<RuleView<'c>> {
    let base = RuleView {
        ports: port_views(ports),
        http: http
            .iter()
            .map(|h| HttpView {
                method: h.method.as_deref(),
                path: h.path.as_deref(),
            })
            .collect(),
        ..RuleView::default()
    };
    let mut endpoints = Vec::new();
    let mut cidrs = Vec::new();
    let mut fqdns = Vec::new();
    for peer in peers {
        match peer {
            Peer::Service(r) => endpoints.extend(cx.service(*r).map(|s| {
                selector_view(&s.selector, POD_LABELS).and(in_namespace(&s.id.namespace))
            })),
            Peer::Namespace(n) => endpoints.push(in_namespace(n)),
            Peer::Pods(p) => {
                let crate::ir::Pods { namespaces, pods } = &**p;
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
                                key: Key::plain(NAMESPACE),
                                operator: "Exists",
                                values: Cow::Borrowed(&[]),
                            }],
                        }),
                });
            }
            Peer::World | Peer::Ip(_) => cidrs.extend(cx.ip_blocks(peer)),
            Peer::Host(name) if name.contains('*') => fqdns.push(FqdnView {
                match_name: None,
                match_pattern: Some(name),
            }),
            Peer::Host(name) => fqdns.push(FqdnView {
                match_name: Some(name),
                match_pattern: None,
            }),
        }
    }
    let mut out = Vec::new();
    if !endpoints.is_empty() {
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
fn in_namespace(n: &str) -> SelectorView<'_> {
    SelectorView {
        match_labels: vec![(Key::plain(NAMESPACE), n)],
        expressions: Vec::new(),
    }
}

fn port_views(ports: &Ports) -> Vec<PortView<'_>> {
    match ports {
        Ports::All => Vec::new(),
        Ports::Only(list) => list
            .iter()
            .map(|p| match p {
                PortSpec::Range(r) => PortView {
                    port: Cow::Owned(itoa::Buffer::new().format(r.start).to_owned()),
                    end_port: (r.end > r.start).then_some(r.end),
                    protocol: r.protocol.k8s(),
                },
                PortSpec::Named(n) => PortView {
                    port: Cow::Borrowed(&n.name),
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
fn dns_rules<'c>(cx: &'c Lowering<'_>, proxy: bool) -> Vec<RuleView<'c>> {
    let dns = &cx.program.dns;
    let ports: Vec<PortView<'_>> = ["TCP", "UDP"]
        .into_iter()
        .map(|protocol| PortView {
            port: Cow::Borrowed("53"),
            end_port: None,
            protocol,
        })
        .collect();
    let mut out = vec![RuleView {
        endpoints: vec![selector_view(&dns.pods, POD_LABELS).and(in_namespace(&dns.namespace))],
        ports: ports.clone(),
        dns: proxy,
        ..RuleView::default()
    }];
    if let Some(addr) = dns.nodelocal {
        out.push(RuleView {
            cidrs: vec![IpBlockView {
                cidr: Cow::Owned(addr.to_string()),
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
        v.accepted,
    );
    o.push_str("\nspec:\n  endpointSelector: ");
    json_selector(o, &v.endpoint_selector);
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

/// A selector as one line of JSON in Kubernetes' own shape, as a template writes a value that is
/// a map: its keys in order (`matchExpressions` before `matchLabels`; `values` left out when
/// empty), each part only when it has something, every string quoted as the templates quote it.
fn json_selector(o: &mut String, sel: &SelectorView<'_>) {
    o.push('{');
    if !sel.expressions.is_empty() {
        o.push_str("\"matchExpressions\":[");
        for (i, e) in sel.expressions.iter().enumerate() {
            if i > 0 {
                o.push(',');
            }
            o.push_str("{\"key\":");
            e.key.push_quoted(o);
            o.push_str(",\"operator\":");
            q(o, e.operator);
            if !e.values.is_empty() {
                o.push_str(",\"values\":[");
                for (j, value) in e.values.iter().enumerate() {
                    if j > 0 {
                        o.push(',');
                    }
                    q(o, value);
                }
                o.push(']');
            }
            o.push('}');
        }
        o.push(']');
    }
    if !sel.match_labels.is_empty() {
        if !sel.expressions.is_empty() {
            o.push(',');
        }
        o.push_str("\"matchLabels\":{");
        for (i, (key, value)) in sel.match_labels.iter().enumerate() {
            if i > 0 {
                o.push(',');
            }
            key.push_quoted(o);
            o.push(':');
            q(o, value);
        }
        o.push('}');
    }
    o.push('}');
}

/// `ingress:` or `egress:` and its rules (`- {}` for none: allow nothing, isolate); nothing when
/// the policy has no such direction.
fn rules(
    o: &mut String,
    key: &str,
    dir: &str,
    rules: Option<&[RuleView<'_>]>,
) -> Result<(), String> {
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
                json_selector(o, e);
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
fn ports(o: &mut String, rule: &RuleView<'_>) -> Result<(), String> {
    if rule.ports.is_empty() {
        return Ok(());
    }
    o.push_str("\n    toPorts:\n    - ports:");
    for p in &rule.ports {
        o.push_str("\n      - port: ");
        q(o, &p.port);
        if let Some(end) = p.end_port {
            o.push_str("\n        endPort: ");
            o.push_str(itoa::Buffer::new().format(end));
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
