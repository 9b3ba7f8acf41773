//! Target `netpol`: Kubernetes NetworkPolicies (see `targets/netpol/README.md`).
//!
//! Which policies exist and which rules they hold is `plan`'s decision, shared with `cilium`;
//! this module writes each as a NetworkPolicy. Host names and HTTP rules have no NetworkPolicy
//! form: `limits` refuses them before lowering.

use super::plan::{self, Described, Policy, Rule};
use super::render::{push_object_head, push_quoted};
use super::views::{IpBlockView, Key, SelectorView, selector_view};
use super::{Document, Lowering, Schema};
use crate::ir::{IpBlock, NAME_LABEL, NamespaceScope, Peer, PortSpec, Ports};

/// A NetworkPolicy as it is written; `write` turns it into YAML.
struct PolicyView<'a> {
    name: &'a str,
    namespace: &'a str,
    source: &'a str,
    flows: &'a str,
    accepted: &'a str,
    pod_selector: SelectorView<'a>,
    policy_types: Vec<&'static str>,
    ingress: Option<Vec<RuleView<'a>>>,
    egress: Option<Vec<RuleView<'a>>>,
}

#[derive(PartialEq, Eq, PartialOrd, Ord, Clone)]
struct RuleView<'a> {
    peers: Vec<PeerView<'a>>,
    ports: Vec<PortView<'a>>,
}

#[derive(PartialEq, Eq, PartialOrd, Ord, Clone)]
struct PeerView<'a> {
    ip_block: Option<IpBlockView<'a>>,
    pod_selector: Option<SelectorView<'a>>,
    /// `None`: the policy's own namespace (a bare podSelector means exactly that).
    namespace_selector: Option<SelectorView<'a>>,
}

fn namespace_named(name: &str) -> SelectorView<'_> {
    SelectorView {
        match_labels: vec![(Key::plain(NAME_LABEL), name)],
        expressions: Vec::new(),
    }
}

#[derive(PartialEq, Eq, PartialOrd, Ord, Clone)]
struct PortView<'a> {
    protocol: &'static str,
    port: PortValue<'a>,
    end_port: Option<u16>,
}

/// A port number, or a container port's name (written as a string).
#[derive(PartialEq, Eq, PartialOrd, Ord, Clone)]
enum PortValue<'a> {
    Number(u16),
    Name(&'a str),
}

/// Why a program cannot be said as NetworkPolicies: a diagnostic per flow naming a host or
/// HTTP requests.
pub(super) fn limits(program: &crate::ir::Program) -> Vec<crate::diag::Diagnostic> {
    let mut out = Vec::new();
    for flow in &program.flows {
        if let Peer::Host(name) = &flow.server {
            out.push(
                crate::diag::Diagnostic::error(
                    "E0901",
                    format!("target `netpol` cannot allow a host name (`{name}`)"),
                )
                .primary(flow.span, "this flow names a host")
                .note("a NetworkPolicy knows addresses, not DNS names, and addresses behind a name change")
                .help("build it for `cilium` (`--target cilium`: CiliumNetworkPolicy `toFQDNs`), or give the addresses as `cidr` for `netpol`"),
            );
        }
        if !flow.http.is_empty() {
            out.push(
                crate::diag::Diagnostic::error(
                    "E0901",
                    "target `netpol` cannot allow HTTP requests by method or path",
                )
                .primary(flow.span, "this flow says `only …`")
                .note("a NetworkPolicy allows ports, not requests")
                .help("build it for `cilium` (`--target cilium`: CiliumNetworkPolicy HTTP rules), or drop `only …` to allow the whole port for `netpol`"),
            );
        }
    }
    out
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
    plan::each(cx, |policy| document(cx, policy, &policy.described(cx)))
        .into_iter()
        .collect()
}

/// The NetworkPolicy of one planned policy.
pub(super) fn document(
    cx: &Lowering<'_>,
    policy: &Policy<'_>,
    described: &Described,
) -> Result<Document, String> {
    let rules = |rules| rule_views(cx, rules, policy.namespace);
    let view = PolicyView {
        name: policy.name,
        namespace: policy.namespace,
        source: &described.source,
        flows: &described.flows,
        accepted: policy.accepted,
        pod_selector: policy
            .pods
            .map(|p| selector_view(p, ""))
            .unwrap_or_default(),
        policy_types: types(policy.ingress.is_some(), policy.egress.is_some()),
        ingress: rules(&policy.ingress)?,
        egress: rules(&policy.egress)?,
    };
    let text = write(&view)?;
    Ok(Document {
        path: format!("netpol/{}/{}.yaml", policy.namespace, policy.name),
        text,
        schema: Schema::NetworkPolicy,
        sources: described.files.clone(),
        origin: Some(policy.source),
    })
}

/// The rules of one direction of a policy of `namespace`, sorted, each once; `None` where the
/// policy does not isolate that direction.
fn rule_views<'c>(
    cx: &'c Lowering<'_>,
    rules: &'c Option<Vec<Rule<'_>>>,
    namespace: &str,
) -> Result<Option<Vec<RuleView<'c>>>, String> {
    let Some(rules) = rules else {
        return Ok(None);
    };
    let mut views = Vec::new();
    for r in rules {
        views.push(match r {
            Rule::Allow { peers, ports } => rule(cx, peers, ports, namespace)?,
            Rule::Http { flow, .. } => {
                return Err(format!(
                    "netpol: HTTP rules reached lowering ({})",
                    cx.location(flow.span)
                ));
            }
            Rule::Dns => dns_rule(cx),
        });
    }
    views.sort();
    views.dedup();
    Ok(Some(views))
}

/// Egress to the cluster DNS on 53/tcp and 53/udp: its pods, and NodeLocal DNSCache's address.
fn dns_rule<'c>(cx: &'c Lowering<'_>) -> RuleView<'c> {
    let dns = &cx.program.dns;
    let mut peers = vec![PeerView {
        ip_block: None,
        pod_selector: Some(selector_view(&dns.pods, "")),
        namespace_selector: Some(namespace_named(&dns.namespace)),
    }];
    if let Some(addr) = dns.nodelocal {
        peers.push(ip_block(cx.ip_block(&IpBlock {
            cidr: addr,
            except: Vec::new(),
        })));
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

/// A rule allowing `peers` on `ports`, on a policy of `own_namespace`.
fn rule<'c>(
    cx: &'c Lowering<'_>,
    peers: &[&'c Peer],
    ports: &'c Ports,
    own_namespace: &str,
) -> Result<RuleView<'c>, String> {
    let mut views = Vec::new();
    for peer in peers {
        views.extend(peer_views(cx, peer, own_namespace)?);
    }
    // `world` and `cidr 0.0.0.0/0` on the same ports are the same blocks, once.
    views.sort();
    views.dedup();
    let ports = match ports {
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
                    port: PortValue::Name(&n.name),
                    end_port: None,
                },
            })
            .collect(),
    };
    Ok(RuleView {
        peers: views,
        ports,
    })
}

/// A peer as NetworkPolicy peers. A host name has no NetworkPolicy form: `limits` refuses it
/// first, so meeting one here is a bug, reported rather than written as a rule that would mean
/// something else.
fn peer_views<'c>(
    cx: &'c Lowering<'_>,
    peer: &'c Peer,
    own_namespace: &str,
) -> Result<Vec<PeerView<'c>>, String> {
    Ok(match peer {
        Peer::Service(r) => {
            let Some(s) = cx.service(*r) else {
                return Err("netpol: a flow names a service the program does not have".to_string());
            };
            vec![PeerView {
                ip_block: None,
                pod_selector: Some(selector_view(&s.selector, "")),
                // Same namespace: a bare podSelector already means "in this policy's namespace".
                namespace_selector: (s.id.namespace != own_namespace)
                    .then(|| namespace_named(&s.id.namespace)),
            }]
        }
        Peer::Namespace(n) => vec![PeerView {
            ip_block: None,
            pod_selector: Some(SelectorView::default()),
            namespace_selector: (n != own_namespace).then(|| namespace_named(n)),
        }],
        Peer::Pods(p) => vec![PeerView {
            ip_block: None,
            pod_selector: Some(selector_view(&p.pods, "")),
            namespace_selector: match &p.namespaces {
                NamespaceScope::Name(n) if n == own_namespace => None,
                NamespaceScope::Name(n) => Some(namespace_named(n)),
                NamespaceScope::Labels(sel) => Some(selector_view(sel, "")),
            },
        }],
        Peer::World | Peer::Ip(_) => cx.ip_blocks(peer).into_iter().map(ip_block).collect(),
        Peer::Host(name) => return Err(format!("netpol: host `{name}` reached lowering")),
    })
}

fn ip_block(block: IpBlockView<'_>) -> PeerView<'_> {
    PeerView {
        ip_block: Some(block),
        pod_selector: None,
        namespace_selector: None,
    }
}

// NetworkPolicies are most of what warden writes (one per service, and a program may have tens of
// thousands), so they are written here rather than by a template, which interprets its text for
// every document. The text is what `targets/netpol/README.md` shows, every value goes through the
// templates' own quoting (`push_quoted`), and `validate` reads each document back against the
// NetworkPolicy schema like any template's, so a defect here stops the build as one there does
// (`tests/compiler/template_defects.rs` breaks this writer on purpose).

/// The policy as YAML, ending with one newline.
fn write(v: &PolicyView<'_>) -> Result<String, String> {
    let mut out = String::with_capacity(1024);
    let o = &mut out;
    push_object_head(
        o,
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy",
        v.name,
        v.namespace,
        v.source,
        v.flows,
        v.accepted,
    );
    o.push_str("\nspec:\n  podSelector:");
    selector(o, &v.pod_selector, 4);
    o.push_str("\n  policyTypes:");
    for t in &v.policy_types {
        o.push_str("\n  - ");
        q(o, t);
    }
    rules(o, "ingress", "from", v.ingress.as_deref())?;
    rules(o, "egress", "to", v.egress.as_deref())?;
    o.push('\n');
    // Every document stays in memory until the output is written, so without the slack of the
    // buffer.
    out.shrink_to_fit();
    Ok(out)
}

fn q(out: &mut String, s: &str) {
    push_quoted(out, s, true);
}

/// A new line indented by `indent` spaces.
fn line(out: &mut String, indent: usize) {
    // At once, not a space at a time: every line of every policy starts here.
    const SPACES: &str = "\n                ";
    match SPACES.get(..=indent) {
        Some(start) => out.push_str(start),
        None => {
            out.push('\n');
            out.extend(std::iter::repeat_n(' ', indent));
        }
    }
}

/// The selector's body after its key: ` {}` when it selects everything, else its `matchLabels`
/// and `matchExpressions` at `indent`.
fn selector(out: &mut String, sel: &SelectorView<'_>, indent: usize) {
    if sel.match_labels.is_empty() && sel.expressions.is_empty() {
        out.push_str(" {}");
        return;
    }
    if !sel.match_labels.is_empty() {
        line(out, indent);
        out.push_str("matchLabels:");
        for (key, value) in &sel.match_labels {
            line(out, indent + 2);
            key.push_quoted(out);
            out.push_str(": ");
            q(out, value);
        }
    }
    if !sel.expressions.is_empty() {
        line(out, indent);
        out.push_str("matchExpressions:");
        for e in &sel.expressions {
            line(out, indent);
            out.push_str("- key: ");
            e.key.push_quoted(out);
            line(out, indent + 2);
            out.push_str("operator: ");
            q(out, e.operator);
            if !e.values.is_empty() {
                line(out, indent + 2);
                out.push_str("values:");
                for value in e.values.iter() {
                    line(out, indent + 2);
                    out.push_str("- ");
                    q(out, value);
                }
            }
        }
    }
}

/// `ingress:` or `egress:` and its rules; nothing when the policy has no such type.
fn rules(
    out: &mut String,
    key: &str,
    peers_key: &str,
    rules: Option<&[RuleView<'_>]>,
) -> Result<(), String> {
    let Some(rules) = rules else {
        return Ok(());
    };
    line(out, 2);
    out.push_str(key);
    out.push(':');
    if rules.is_empty() {
        out.push_str(" []");
    }
    for rule in rules {
        line(out, 2);
        out.push_str("- ");
        out.push_str(peers_key);
        out.push(':');
        for peer in &rule.peers {
            match (&peer.ip_block, &peer.pod_selector) {
                (Some(block), _) => {
                    line(out, 4);
                    out.push_str("- ipBlock:");
                    line(out, 8);
                    out.push_str("cidr: ");
                    q(out, &block.cidr);
                    if !block.except.is_empty() {
                        line(out, 8);
                        out.push_str("except:");
                        for e in &block.except {
                            line(out, 8);
                            out.push_str("- ");
                            q(out, e);
                        }
                    }
                }
                (None, Some(pods)) => {
                    line(out, 4);
                    out.push_str("- podSelector:");
                    selector(out, pods, 8);
                    if let Some(namespaces) = &peer.namespace_selector {
                        line(out, 6);
                        out.push_str("namespaceSelector:");
                        selector(out, namespaces, 8);
                    }
                }
                (None, None) => return Err("netpol: a peer with neither pods nor addresses".into()),
            }
        }
        if !rule.ports.is_empty() {
            line(out, 4);
            out.push_str("ports:");
            for p in &rule.ports {
                line(out, 4);
                out.push_str("- protocol: ");
                q(out, p.protocol);
                line(out, 6);
                out.push_str("port: ");
                match &p.port {
                    PortValue::Number(n) => out.push_str(itoa::Buffer::new().format(*n)),
                    PortValue::Name(name) => q(out, name),
                }
                if let Some(end) = p.end_port {
                    line(out, 6);
                    out.push_str("endPort: ");
                    out.push_str(itoa::Buffer::new().format(end));
                }
            }
        }
    }
    Ok(())
}
