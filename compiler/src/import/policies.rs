//! NetworkPolicies as Kubernetes reads them, for `import netpol`: each policy's pods, its
//! directions (as the API server defaults `policyTypes`), and its rules' peers and ports; what the
//! API server would refuse, what a program cannot say and what the cluster ignores, each with
//! its line.

use super::selectors::{self, Picks, Problem, Requirement, Requirements};
use crate::manifests::objects::Meta;
use crate::manifests::yaml::Node;
use std::collections::BTreeSet;

/// Which namespaces a rule's peer is in.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Scope {
    /// The policy's own.
    Own,
    Named(String),
    Labels(Requirements),
    All,
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Peer {
    Pods(Requirements, Scope),
    Cidr(ipnet::IpNet, Vec<ipnet::IpNet>),
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Ports {
    Range(String, u16, u16),
    Named(String, String),
}

/// One rule: its peers (`None`: every source or destination, in and outside the cluster) and
/// ports (`None`: every port).
pub(super) struct Rule {
    pub(super) peers: Option<Vec<Peer>>,
    pub(super) ports: Option<Vec<Ports>>,
    pub(super) line: u32,
}

pub(super) struct Policy {
    pub(super) meta: Meta,
    pub(super) pods: Requirements,
    pub(super) ingress: Option<Vec<Rule>>,
    pub(super) egress: Option<Vec<Rule>>,
}

/// What is wrong with a line of a policy.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    /// The API server would refuse it.
    Invalid,
    /// A program cannot say it.
    Unsayable,
    /// The cluster ignores it.
    Ignored,
}

pub(super) type Problems = Vec<(u32, String, Kind)>;

pub(super) fn problem(problems: &mut Problems, p: Problem) {
    let kind = if p.invalid {
        Kind::Invalid
    } else {
        Kind::Unsayable
    };
    problems.push((p.line, p.message, kind));
}

pub(super) fn cidr(
    node: Option<&Node>,
    line: u32,
    problems: &mut Problems,
) -> Option<ipnet::IpNet> {
    let text = node.and_then(Node::str).unwrap_or_default();
    match text.parse::<ipnet::IpNet>() {
        // The API server reads `10.0.0.1/8` as `10.0.0.0/8`, and so does a program.
        Ok(net) => Some(net.trunc()),
        Err(_) => {
            problems.push((
                node.map_or(line, |n| n.line),
                format!("`{text}` is not a CIDR"),
                Kind::Invalid,
            ));
            None
        }
    }
}

pub(super) fn peer(node: &Node, problems: &mut Problems) -> Option<Option<Peer>> {
    let (pods, namespaces, block) = (
        node.get("podSelector"),
        node.get("namespaceSelector"),
        node.get("ipBlock"),
    );
    if let Some(block) = block {
        if pods.is_some() || namespaces.is_some() {
            problems.push((
                node.line,
                "a peer with `ipBlock` has no selector beside it".to_string(),
                Kind::Invalid,
            ));
            return None;
        }
        let net = cidr(block.get("cidr"), block.line, problems)?;
        let mut except = Vec::new();
        for e in block.get("except").map(Node::seq).unwrap_or_default() {
            let x = cidr(Some(e), e.line, problems)?;
            if !net.contains(&x) {
                problems.push((
                    e.line,
                    format!("`{x}` is not within `{net}`"),
                    Kind::Invalid,
                ));
                return None;
            }
            except.push(x);
        }
        except.sort();
        except.dedup();
        return Some(Some(Peer::Cidr(net, except)));
    }
    if pods.is_none() && namespaces.is_none() {
        problems.push((
            node.line,
            "a peer needs `podSelector`, `namespaceSelector` or `ipBlock`".to_string(),
            Kind::Invalid,
        ));
        return None;
    }
    let read = |n: Option<&Node>, problems: &mut Problems| match selectors::read(n) {
        Ok(p) => Some(p),
        Err(p) => {
            problem(problems, p);
            None
        }
    };
    let Picks::Some(pod_reqs) = read(pods, problems)? else {
        return Some(None);
    };
    let scope = match namespaces {
        None => Scope::Own,
        Some(n) => match read(Some(n), problems)? {
            Picks::Nothing => return Some(None),
            Picks::Some(r) if r.is_empty() => Scope::All,
            Picks::Some(r) => match r.iter().next() {
                Some((key, Requirement::Equals(name)))
                    if r.len() == 1
                        && key == "kubernetes.io/metadata.name"
                        && crate::check::is_dns_label(name)
                        && name.starts_with(|c: char| c.is_ascii_lowercase()) =>
                {
                    Scope::Named(name.clone())
                }
                _ => Scope::Labels(r),
            },
        },
    };
    Some(Some(Peer::Pods(pod_reqs, scope)))
}

pub(super) fn protocol(node: Option<&Node>, problems: &mut Problems) -> Option<String> {
    let text = node.and_then(Node::str).unwrap_or("TCP");
    match text {
        "TCP" | "UDP" | "SCTP" => Some(text.to_ascii_lowercase()),
        other => {
            problems.push((
                node.map_or(0, |n| n.line),
                format!("`{other}` is not a protocol (TCP, UDP, SCTP)"),
                Kind::Invalid,
            ));
            None
        }
    }
}

pub(super) fn port(node: &Node, problems: &mut Problems) -> Option<Ports> {
    let proto = protocol(node.get("protocol"), problems)?;
    let end = node.get("endPort");
    let number = |n: &Node| {
        n.int()
            .and_then(|i| u16::try_from(i).ok())
            .filter(|p| *p > 0)
    };
    let Some(p) = node.get("port").filter(|p| p.str().is_some()) else {
        if end.is_some_and(|e| e.str().is_some()) {
            problems.push((
                node.line,
                "`endPort` needs `port`".to_string(),
                Kind::Invalid,
            ));
            return None;
        }
        return Some(Ports::Range(proto, 1, u16::MAX));
    };
    if let Some(first) = number(p) {
        let last = match end.filter(|e| e.str().is_some()) {
            None => first,
            Some(e) => match number(e) {
                Some(last) if last >= first => last,
                _ => {
                    problems.push((
                        e.line,
                        format!("`endPort` must be a port at least {first}"),
                        Kind::Invalid,
                    ));
                    return None;
                }
            },
        };
        return Some(Ports::Range(proto, first, last));
    }
    let name = p.str().unwrap_or_default();
    if p.int().is_some() || crate::check::ports::container_port_name(name).is_err() {
        problems.push((p.line, format!("`{name}` is not a port"), Kind::Invalid));
        return None;
    }
    if end.is_some_and(|e| e.str().is_some()) {
        problems.push((
            p.line,
            "`endPort` goes with a numbered port".to_string(),
            Kind::Invalid,
        ));
        return None;
    }
    if !name.starts_with(|c: char| c.is_ascii_lowercase()) {
        problems.push((
            p.line,
            format!(
                "port `{name}` begins with a digit: a program's port names begin with a letter"
            ),
            Kind::Unsayable,
        ));
        return None;
    }
    Some(Ports::Named(proto, name.to_string()))
}

pub(super) fn rules(node: Option<&Node>, peers_key: &str, problems: &mut Problems) -> Vec<Rule> {
    let mut out = Vec::new();
    for r in node.map(Node::seq).unwrap_or_default() {
        let peers = match r.get(peers_key).map(Node::seq) {
            None | Some([]) => None,
            Some(items) => {
                let mut peers = Vec::new();
                for item in items {
                    if let Some(Some(p)) = peer(item, problems) {
                        peers.push(p);
                    }
                }
                Some(peers)
            }
        };
        let ports = match r.get("ports").map(Node::seq) {
            None | Some([]) => None,
            Some(items) => Some(items.iter().filter_map(|p| port(p, problems)).collect()),
        };
        out.push(Rule {
            peers,
            ports,
            line: r.line,
        });
    }
    out
}

pub(super) fn policy(meta: &Meta, doc: &Node, problems: &mut Problems) -> Option<Policy> {
    let spec = doc.get("spec");
    let pods = match selectors::read(spec.and_then(|s| s.get("podSelector"))) {
        Ok(Picks::Some(r)) => r,
        Ok(Picks::Nothing) => {
            problems.push((
                meta.at.line,
                format!(
                    "NetworkPolicy `{}` selects no pod (its podSelector contradicts itself): it is left out",
                    meta.name
                ),
                Kind::Ignored,
            ));
            return None;
        }
        Err(p) => {
            problem(problems, p);
            return None;
        }
    };
    let field = |k: &str| spec.and_then(|s| s.get(k));
    let mut types = BTreeSet::new();
    for t in field("policyTypes").map(Node::seq).unwrap_or_default() {
        match t.str() {
            Some(v @ ("Ingress" | "Egress")) => {
                types.insert(v);
            }
            other => problems.push((
                t.line,
                format!(
                    "`{}` is not a policy type (Ingress, Egress)",
                    other.unwrap_or_default()
                ),
                Kind::Invalid,
            )),
        }
    }
    if !types.is_empty() {
        for (key, kind) in [("ingress", "Ingress"), ("egress", "Egress")] {
            if let Some(rules) = field(key).filter(|r| !r.seq().is_empty() && !types.contains(kind))
            {
                problems.push((
                    rules.line,
                    format!(
                        "the {key} rules of NetworkPolicy `{}` are ignored: its policyTypes do not name {kind}",
                        meta.name
                    ),
                    Kind::Ignored,
                ));
            }
        }
    } else {
        // As the API server defaults it.
        types.insert("Ingress");
        if !field("egress")
            .map(Node::seq)
            .unwrap_or_default()
            .is_empty()
        {
            types.insert("Egress");
        }
    }
    Some(Policy {
        meta: meta.clone(),
        pods,
        ingress: types
            .contains("Ingress")
            .then(|| rules(field("ingress"), "from", problems)),
        egress: types
            .contains("Egress")
            .then(|| rules(field("egress"), "to", problems)),
    })
}
