//! `warden import netpol`: NetworkPolicies as a program with the same meaning. Each policy's pods
//! become a service (policies selecting the same pods one service; a policy selecting every pod
//! of its namespace the namespace's own isolation and flows), each rule one `from` or `to` line
//! whose peers are one-sided (`pods(…)`, `namespaces(…)`, `cidr`), so that the program adds no
//! rule a policy did not have. What a program cannot say is an error naming the line; what the
//! cluster ignores is a warning.

use super::policies::{Kind, Peer, Policy, Ports, Problems, Rule, Scope, policy};
use super::selectors::{self, Requirement, Requirements};
use crate::check::is_dns_label;
use crate::diag::Diagnostic;
use crate::infer::names::program_name;
use crate::manifests::Manifests;
use crate::manifests::objects::{At, Object};
use std::collections::{BTreeMap, BTreeSet};

/// The first line of every file `import` writes; it writes over no file without it.
pub const HEADER: &str = "// Imported by `warden import`";

/// The program: a file per namespace (name, text), and what a reviewer should know.
pub struct Imported {
    pub files: Vec<(String, String)>,
    pub diagnostics: Vec<Diagnostic>,
    /// Policies read.
    pub policies: usize,
}

/// What a program says of a set of pods: a service, or the namespace itself.
#[derive(Default)]
struct Block {
    /// The policies' names.
    names: Vec<String>,
    /// Each policy as its evidence says it: `file:line: NetworkPolicy name`.
    policies: Vec<String>,
    ingress: bool,
    egress: bool,
    /// Flow lines, each after its evidence.
    lines: Vec<(String, String)>,
    /// Ports the service must declare: numbered ranges by protocol, named ports with theirs.
    numbered: BTreeMap<String, Vec<(u16, u16)>>,
    named: BTreeMap<String, String>,
}

fn peer_text(p: &Peer, referenced: &mut BTreeSet<String>) -> String {
    match p {
        Peer::Cidr(net, except) if except.is_empty() => format!("cidr {net}"),
        Peer::Cidr(net, except) => format!(
            "cidr {net} except {}",
            except
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Peer::Pods(pods, scope) => {
            let pods_text = format!("pods({})", selectors::text(pods));
            match (pods.is_empty(), scope) {
                (_, Scope::Own) => pods_text,
                (true, Scope::Named(n)) => {
                    referenced.insert(n.clone());
                    format!("namespace {n}")
                }
                (false, Scope::Named(n)) => {
                    referenced.insert(n.clone());
                    format!("{pods_text} in namespace {n}")
                }
                (true, Scope::Labels(r)) => format!("namespaces({})", selectors::text(r)),
                (false, Scope::Labels(r)) => {
                    format!("{pods_text} in namespaces({})", selectors::text(r))
                }
                (true, Scope::All) => "all pods".to_string(),
                (false, Scope::All) => format!("{pods_text} in all namespaces"),
            }
        }
    }
}

fn range_text(proto: &str, first: u16, last: u16) -> String {
    if first == last {
        format!("{first}/{proto}")
    } else {
        format!("{first}-{last}/{proto}")
    }
}

/// Adds a policy's rules of one direction to the block, or says why it cannot.
fn add_rules(
    block: &mut Block,
    rules: &[Rule],
    ingress: bool,
    service: bool,
    (file, policy): (&str, &str),
    referenced: &mut BTreeSet<String>,
    problems: &mut Problems,
) {
    let word = if ingress { "from" } else { "to" };
    for (i, rule) in rules.iter().enumerate() {
        let why = format!(
            "{file}:{}: NetworkPolicy {policy}, {} rule {}",
            rule.line,
            if ingress { "ingress" } else { "egress" },
            i + 1
        );
        if !ingress && !service && is_cluster_dns(rule) {
            block.lines.push((why, "allow dns".to_string()));
            continue;
        }
        let mut groups = match &rule.peers {
            None => vec![("all pods".to_string(), true), ("world".to_string(), false)],
            Some(peers) if peers.is_empty() => {
                block.lines.push((
                    format!("{why}: its peers select nothing, so it allows nothing"),
                    String::new(),
                ));
                continue;
            }
            Some(peers) => peer_groups(peers, referenced),
        };
        // Pods and addresses share a line unless a named port applies to the pods alone.
        let named = rule
            .ports
            .iter()
            .flatten()
            .any(|p| matches!(p, Ports::Named(..)));
        if let [(pods, true), (addresses, false), ..] = groups.as_mut_slice()
            && (ingress || !named)
        {
            *pods = format!("{addresses}, {pods}");
            groups.remove(1);
        }
        let mut said = false;
        for (peers, pods) in groups {
            // On the ingress side the server is the policy's pods; on the egress side, the peers.
            let server_pods = ingress || pods;
            let Some(ports) = ports_text(block, rule, ingress, service, server_pods, problems)
            else {
                continue;
            };
            block
                .lines
                .push((why.clone(), format!("{word} {peers} on {ports}")));
            said = true;
        }
        if !said {
            block.lines.push((
                format!(
                    "{why}: its ports are named and its peers are addresses, so it allows nothing"
                ),
                String::new(),
            ));
        }
    }
}

/// Whether an egress rule is exactly what `allow dns` says of a namespace: the cluster DNS's pods
/// (`k8s-app=kube-dns` in `kube-system`, a program's default) on 53 over TCP and UDP.
fn is_cluster_dns(rule: &Rule) -> bool {
    let dns: Requirements = [(
        "k8s-app".to_string(),
        Requirement::Equals("kube-dns".to_string()),
    )]
    .into();
    let peers_ok = rule.peers.as_deref().is_some_and(|peers| {
        !peers.is_empty()
            && peers
                .iter()
                .all(|p| *p == Peer::Pods(dns.clone(), Scope::Named("kube-system".to_string())))
    });
    let mut ports: Vec<&Ports> = rule.ports.iter().flatten().collect();
    ports.sort();
    ports.dedup();
    let expected = [
        Ports::Range("tcp".to_string(), 53, 53),
        Ports::Range("udp".to_string(), 53, 53),
    ];
    peers_ok && ports == expected.iter().collect::<Vec<_>>()
}

/// A rule's ports as a flow line says them; `None` where none applies to these peers (a named
/// port to addresses outside the cluster, which have no names).
fn ports_text(
    block: &mut Block,
    rule: &Rule,
    ingress: bool,
    service: bool,
    server_pods: bool,
    problems: &mut Problems,
) -> Option<String> {
    let Some(ports) = &rule.ports else {
        return Some("all ports".to_string());
    };
    let mut texts = Vec::new();
    for p in ports {
        match p {
            Ports::Range(proto, first, last) => {
                if ingress && service {
                    block
                        .numbered
                        .entry(proto.clone())
                        .or_default()
                        .push((*first, *last));
                }
                texts.push(range_text(proto, *first, *last));
            }
            Ports::Named(proto, name) if ingress && service => {
                match block.named.get(name) {
                    Some(other) if other != proto => problems.push((
                        rule.line,
                        format!(
                            "port `{name}` is named for {other} and for {proto}: a program names a pod's port once, with one protocol"
                        ),
                        Kind::Unsayable,
                    )),
                    _ => {
                        block.named.insert(name.clone(), proto.clone());
                    }
                }
                texts.push(name.clone());
            }
            Ports::Named(_, _) if !server_pods => {}
            Ports::Named(proto, name) if proto == "tcp" => texts.push(name.clone()),
            Ports::Named(proto, name) => problems.push((
                rule.line,
                format!(
                    "port `{name}` over {proto} is named where the pods are no service: a program names their ports over TCP only, so give the number"
                ),
                Kind::Unsayable,
            )),
        }
    }
    if texts.is_empty() {
        return None;
    }
    texts.sort();
    texts.dedup();
    Some(texts.join(", "))
}

/// A rule's peers as the peers of flow lines, each with whether its peers are pods: the pods
/// first, then address blocks, those that overlap (which one line may not have) each on a line
/// of its own; `0.0.0.0/0` and `::/0` together are `world`.
fn peer_groups(peers: &[Peer], referenced: &mut BTreeSet<String>) -> Vec<(String, bool)> {
    let mut pods: Vec<String> = Vec::new();
    let mut blocks: Vec<(String, Vec<ipnet::IpNet>)> = Vec::new();
    let everything: [ipnet::IpNet; 2] = [
        ipnet::IpNet::V4(ipnet::Ipv4Net::default()),
        ipnet::IpNet::V6(ipnet::Ipv6Net::default()),
    ];
    let whole = |p: &Peer| matches!(p, Peer::Cidr(net, except) if except.is_empty() && everything.contains(net));
    let world = peers.iter().filter(|p| whole(p)).count() == 2;
    if world {
        blocks.push(("world".to_string(), everything.to_vec()));
    }
    for p in peers {
        match p {
            Peer::Cidr(net, _) if !(world && whole(p)) => {
                blocks.push((peer_text(p, referenced), vec![*net]));
            }
            Peer::Cidr(..) => {}
            Peer::Pods(..) => pods.push(peer_text(p, referenced)),
        }
    }
    pods.sort();
    pods.dedup();
    blocks.sort();
    blocks.dedup();
    let overlap = |a: &[ipnet::IpNet], b: &[ipnet::IpNet]| {
        a.iter()
            .any(|x| b.iter().any(|y| x.contains(y) || y.contains(x)))
    };
    let mut out = Vec::new();
    if !pods.is_empty() {
        out.push((pods.join(", "), true));
    }
    let mut first = Vec::new();
    let mut taken: Vec<ipnet::IpNet> = Vec::new();
    let mut apart = Vec::new();
    for (text, nets) in blocks {
        if overlap(&taken, &nets) {
            apart.push((text, false));
        } else {
            taken.extend(nets);
            first.push(text);
        }
    }
    if !first.is_empty() {
        out.push((first.join(", "), false));
    }
    out.extend(apart);
    out
}

/// The ports a service declares: each protocol's ranges merged where they meet, so that every
/// rule's ports lie within one, named by protocol and number; and its named ports.
fn port_lines(block: &Block) -> Vec<String> {
    let mut out = Vec::new();
    for (proto, ranges) in &block.numbered {
        let mut ranges = ranges.clone();
        ranges.sort();
        let mut merged: Vec<(u16, u16)> = Vec::new();
        for (first, last) in ranges {
            match merged.last_mut() {
                Some((_, end)) if u32::from(first) <= u32::from(*end) + 1 => {
                    *end = (*end).max(last)
                }
                _ => merged.push((first, last)),
            }
        }
        for (first, last) in merged {
            let mut name = if first == last {
                format!("{proto}-{first}")
            } else {
                format!("{proto}-{first}-{last}")
            };
            if name.len() > 15 {
                name = format!("{proto}-{first}");
            }
            while block.named.contains_key(&name) {
                name = format!("n{name}");
                name.truncate(15);
            }
            let number = if first == last {
                first.to_string()
            } else {
                format!("{first}-{last}")
            };
            out.push(format!("port {name} {number}/{proto}"));
        }
    }
    for (name, proto) in &block.named {
        if proto == "tcp" {
            out.push(format!("port {name}"));
        } else {
            out.push(format!("port {name}/{proto}"));
        }
    }
    out
}

fn isolate_line(block: &Block) -> Option<&'static str> {
    match (block.ingress, block.egress) {
        (true, true) => Some("isolate"),
        (true, false) => Some("isolate ingress"),
        (false, true) => Some("isolate egress"),
        (false, false) => None,
    }
}

fn push_lines(out: &mut String, block: &Block) {
    for (why, line) in &block.lines {
        out.push_str(&format!("  // {}\n", crate::infer::sanitize(why)));
        if !line.is_empty() {
            out.push_str(&format!("  {line}\n"));
        }
    }
}

/// A service name for the pods of these policies: the first policy's name as a DNS label, not
/// one warden's own policies use, and not one the namespace has already.
fn service_name(policy: &str, taken: &mut BTreeSet<String>) -> String {
    let mut base = program_name(policy);
    if crate::check::RESERVED.contains(&base.as_str()) {
        base.push_str("-policy");
    }
    let mut name = base.clone();
    let mut n = 2;
    while taken.contains(&name) {
        let suffix = format!("-{n}");
        let mut stem = base.clone();
        stem.truncate(63 - suffix.len());
        name = format!("{}{suffix}", stem.trim_end_matches('-'));
        n += 1;
    }
    taken.insert(name.clone());
    name
}

/// Imports every NetworkPolicy of `manifests`; `namespace` is the namespace of those that name
/// none.
pub fn import(manifests: &Manifests, namespace: &str) -> Imported {
    let mut diagnostics = Vec::new();
    let mut policies: Vec<Policy> = Vec::new();
    let mut seen: BTreeMap<(String, String), At> = BTreeMap::new();
    let mut read = 0;
    for object in &manifests.objects {
        let Object::NetworkPolicy(meta, doc) = object else {
            continue;
        };
        read += 1;
        let mut meta = meta.clone();
        let ns = meta
            .namespace
            .get_or_insert_with(|| namespace.to_string())
            .clone();
        let mut problems = Problems::new();
        if is_dns_label(&ns) && !ns.starts_with(|c: char| c.is_ascii_lowercase()) {
            diagnostics.push(
                Diagnostic::error("E1302", format!("namespace `{ns}` begins with a digit"))
                    .primary(manifests.span(&meta.at), "a program cannot say this")
                    .note("a program's names begin with a letter")
                    .help("keep this policy beside the program"),
            );
            continue;
        }
        if !is_dns_label(&ns) {
            diagnostics.push(
                Diagnostic::error(
                    "E1301",
                    format!("`{}` is not a namespace name", crate::infer::sanitize(&ns)),
                )
                .primary(manifests.span(&meta.at), "the API server would refuse this")
                .note(format!("in NetworkPolicy `{}`", crate::infer::sanitize(&meta.name)))
                .note("a namespace is named by a DNS label: at most 63 lowercase letters, digits and `-`, beginning and ending with a letter or digit"),
            );
            continue;
        }
        if let Some(first) = seen.insert((ns.clone(), meta.name.clone()), meta.at.clone()) {
            diagnostics.push(
                Diagnostic::error(
                    "E1301",
                    format!("NetworkPolicy `{ns}/{}` is given twice", meta.name),
                )
                .primary(manifests.span(&meta.at), "given again here")
                .secondary(manifests.span(&first), "first given here"),
            );
            continue;
        }
        let p = policy(&meta, doc, &mut problems);
        for (line, message, kind) in problems {
            let at = At {
                file: meta.at.file,
                line: if line == 0 { meta.at.line } else { line },
            };
            diagnostics.push(diagnostic(manifests, &at, &ns, &meta.name, message, kind));
        }
        if let Some(p) = p {
            policies.push(p);
        }
    }
    // Whatever the order of files and documents.
    policies
        .sort_by(|a, b| (&a.meta.namespace, &a.meta.name).cmp(&(&b.meta.namespace, &b.meta.name)));
    let files = render(manifests, &policies, &mut diagnostics);
    Imported {
        files,
        diagnostics,
        policies: read,
    }
}

fn diagnostic(
    manifests: &Manifests,
    at: &At,
    namespace: &str,
    policy: &str,
    message: String,
    kind: Kind,
) -> Diagnostic {
    let span = manifests.span(at);
    let of = format!("in NetworkPolicy `{namespace}/{policy}`");
    match kind {
        Kind::Invalid => Diagnostic::error("E1301", message)
            .primary(span, "the API server would refuse this")
            .note(of),
        Kind::Unsayable => Diagnostic::error("E1302", message)
            .primary(span, "a program cannot say this")
            .note(of)
            .help("keep this policy beside the program, or change it to what a program can say"),
        Kind::Ignored => Diagnostic::warning("W1303", message)
            .primary(span, "the cluster ignores this")
            .note(of),
    }
}

fn render(
    manifests: &Manifests,
    policies: &[Policy],
    diagnostics: &mut Vec<Diagnostic>,
) -> Vec<(String, String)> {
    // Namespace → (the namespace's own block, services by their pods).
    type Blocks = (Block, BTreeMap<Requirements, Block>);
    let mut by_namespace: BTreeMap<String, Blocks> = BTreeMap::new();
    let mut referenced = BTreeSet::new();
    for p in policies {
        let ns = p.meta.namespace.clone().unwrap_or_default();
        let (own, services) = by_namespace.entry(ns).or_default();
        let service = !p.pods.is_empty();
        let block = if service {
            services.entry(p.pods.clone()).or_default()
        } else {
            own
        };
        let file = manifests.sources.name(p.meta.at.file);
        let evidence = format!(
            "{}: NetworkPolicy {}",
            manifests.location(&p.meta.at),
            p.meta.name
        );
        block.names.push(p.meta.name.clone());
        block.policies.push(evidence.clone());
        let mut problems = Problems::new();
        if let Some(rules) = &p.ingress {
            block.ingress = true;
            add_rules(
                block,
                rules,
                true,
                service,
                (file, &p.meta.name),
                &mut referenced,
                &mut problems,
            );
        }
        if let Some(rules) = &p.egress {
            block.egress = true;
            add_rules(
                block,
                rules,
                false,
                service,
                (file, &p.meta.name),
                &mut referenced,
                &mut problems,
            );
        }
        for (line, message, kind) in problems {
            let at = At {
                file: p.meta.at.file,
                line,
            };
            let ns = p.meta.namespace.as_deref().unwrap_or_default();
            diagnostics.push(diagnostic(manifests, &at, ns, &p.meta.name, message, kind));
        }
    }
    for n in referenced {
        by_namespace.entry(n).or_default();
    }
    let mut files = Vec::new();
    for (ns, (own, services)) in &by_namespace {
        let mut out = format!(
            "{HEADER} from NetworkPolicies: each policy's pods are a service, each rule a line.\n\n"
        );
        for why in &own.policies {
            out.push_str(&format!("// {}\n", crate::infer::sanitize(why)));
        }
        out.push_str(&format!("namespace {ns} {{\n"));
        if let Some(line) = isolate_line(own) {
            out.push_str(&format!("  {line}\n"));
        }
        push_lines(&mut out, own);
        out.push_str("}\n");
        let mut taken = BTreeSet::new();
        // Each service's name and its selector as the compiler holds one, made once.
        let mut named: Vec<(String, crate::ir::Selector)> = Vec::new();
        for (pods, block) in services {
            let policy = block.names.first().map_or("pods", String::as_str);
            named.push((service_name(policy, &mut taken), selectors::ir(pods)));
        }
        for (((name, mine), pods), block) in
            named.iter().zip(services.keys()).zip(services.values())
        {
            out.push('\n');
            for why in &block.policies {
                out.push_str(&format!("// {}\n", crate::infer::sanitize(why)));
            }
            out.push_str(&format!("service {name} in {ns} {{\n"));
            out.push_str(&format!("  pods {}\n", selectors::text(pods)));
            // Network policies add up: where two services' pods can meet, the program says so.
            let overlaps: Vec<&str> = named
                .iter()
                .filter(|(other, theirs)| {
                    other < name && crate::ir::regions::compatible(mine, theirs)
                })
                .map(|(other, _)| other.as_str())
                .collect();
            if !overlaps.is_empty() {
                out.push_str(&format!("  overlaps {}\n", overlaps.join(", ")));
            }
            for line in port_lines(block) {
                out.push_str(&format!("  {line}\n"));
            }
            if let Some(line) = isolate_line(block) {
                out.push_str(&format!("  {line}\n"));
            }
            push_lines(&mut out, block);
            out.push_str("}\n");
        }
        files.push((format!("{ns}.warden"), crate::infer::layout(out)));
    }
    files
}
