//! `warden graph`: who may talk to whom, as Graphviz DOT or Mermaid, from the IR.
//!
//! One node per service (grouped by namespace, isolated namespaces marked), per external peer and
//! per pod peer; one edge per flow, from client to server, labelled with its ports. Node ids are
//! generated (`n0`, `n1`, …) and every label is escaped, so no name can change the picture's syntax.

use crate::ir::{NamespaceScope, Peer, Ports, Program, Selector};
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// The picture's language.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Dot,
    Mermaid,
}

struct Node {
    id: String,
    label: String,
    namespace: Option<String>,
}

pub fn render(program: &Program, format: Format) -> String {
    let mut nodes: BTreeMap<Peer, Node> = BTreeMap::new();
    let mut add = |peer: &Peer| -> String {
        let next = nodes.len();
        nodes
            .entry(peer.clone())
            .or_insert_with(|| {
                let (label, namespace) = describe(program, peer);
                Node {
                    id: format!("n{next}"),
                    label,
                    namespace,
                }
            })
            .id
            .clone()
    };
    for (r, _) in program.services.iter() {
        add(&Peer::Service(r));
    }
    let mut edges: Vec<(String, String, String)> = Vec::new();
    for flow in &program.flows {
        let from = add(&flow.client);
        let to = add(&flow.server);
        let mut label = ports(&flow.ports);
        if !flow.http.is_empty() {
            let http: Vec<String> = flow.http.iter().map(ToString::to_string).collect();
            label = format!("{label} only {}", http.join(", "));
        }
        edges.push((from, to, label));
    }
    edges.sort();
    edges.dedup();
    let mut by_ns: BTreeMap<Option<String>, Vec<&Node>> = BTreeMap::new();
    for node in nodes.values() {
        by_ns.entry(node.namespace.clone()).or_default().push(node);
    }
    let ns_title = |ns: &str| {
        let isolation =
            program
                .namespaces
                .get(ns)
                .map(|n| match (n.isolate_ingress, n.isolate_egress) {
                    (true, true) => " (isolated)",
                    (true, false) => " (ingress isolated)",
                    (false, true) => " (egress isolated)",
                    (false, false) => "",
                });
        format!("namespace {ns}{}", isolation.unwrap_or(""))
    };
    let mut out = String::new();
    match format {
        Format::Dot => {
            out.push_str("digraph warden {\n  rankdir=LR;\n  node [shape=box];\n");
            for (i, (ns, members)) in by_ns.iter().enumerate() {
                let indent = if ns.is_some() { "    " } else { "  " };
                if let Some(ns) = ns {
                    let _ = writeln!(
                        out,
                        "  subgraph cluster_{i} {{\n    label={};",
                        dot_string(&ns_title(ns))
                    );
                }
                for n in members {
                    let _ = writeln!(out, "{indent}{} [label={}];", n.id, dot_string(&n.label));
                }
                if ns.is_some() {
                    out.push_str("  }\n");
                }
            }
            for (from, to, label) in &edges {
                let _ = writeln!(out, "  {from} -> {to} [label={}];", dot_string(label));
            }
            out.push_str("}\n");
        }
        Format::Mermaid => {
            out.push_str("flowchart LR\n");
            for (i, (ns, members)) in by_ns.iter().enumerate() {
                let indent = if ns.is_some() { "    " } else { "  " };
                if let Some(ns) = ns {
                    let _ = writeln!(out, "  subgraph ns{i}[{}]", mermaid_string(&ns_title(ns)));
                }
                for n in members {
                    let _ = writeln!(out, "{indent}{}[{}]", n.id, mermaid_string(&n.label));
                }
                if ns.is_some() {
                    out.push_str("  end\n");
                }
            }
            for (from, to, label) in &edges {
                let _ = writeln!(out, "  {from} -->|{}| {to}", mermaid_string(label));
            }
        }
    }
    out
}

pub fn describe(program: &Program, peer: &Peer) -> (String, Option<String>) {
    match peer {
        Peer::Service(r) => match program.services.at(*r) {
            Some(s) => (s.id.name.clone(), Some(s.id.namespace.clone())),
            None => (String::new(), None),
        },
        Peer::Namespace(n) => ("all pods".to_string(), Some(n.clone())),
        Peer::World => ("world (0.0.0.0/0, ::/0)".to_string(), None),
        Peer::Host(name) => (format!("host {name}"), None),
        Peer::Ip(b) => {
            let mut label = format!("cidr {}", b.cidr);
            if !b.except.is_empty() {
                let except: Vec<String> = b.except.iter().map(ToString::to_string).collect();
                let _ = write!(label, " except {}", except.join(", "));
            }
            (label, None)
        }
        Peer::Pods(p) => {
            let crate::ir::Pods { namespaces, pods } = &**p;
            let pods = if pods.is_empty() {
                "all pods".to_string()
            } else {
                format!("pods({})", selector(pods))
            };
            match namespaces {
                NamespaceScope::Name(n) => (pods, Some(n.clone())),
                NamespaceScope::Labels(sel) if sel.is_empty() => {
                    (format!("{pods} in all namespaces"), None)
                }
                NamespaceScope::Labels(sel) => {
                    (format!("{pods} in namespaces({})", selector(sel)), None)
                }
            }
        }
    }
}

pub fn selector(sel: &Selector) -> String {
    let mut parts: Vec<String> = sel
        .match_labels
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    for e in &sel.expressions {
        parts.push(match e.operator {
            crate::ir::Operator::In => format!("{} in ({})", e.key, e.values.join(", ")),
            crate::ir::Operator::NotIn => format!("{} notin ({})", e.key, e.values.join(", ")),
            crate::ir::Operator::Exists => e.key.clone(),
            crate::ir::Operator::DoesNotExist => format!("!{}", e.key),
        });
    }
    parts.join(", ")
}

pub fn ports(ports: &Ports) -> String {
    match ports {
        Ports::All => "all ports".to_string(),
        Ports::Only(list) => list
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", "),
    }
}

/// A DOT quoted string.
fn dot_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            '\n' => out.push_str("\\n"),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A Mermaid quoted label: quotes become `#quot;`, and nothing else can end the label.
fn mermaid_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("#quot;"),
            '#' => out.push_str("#35;"),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out.push('"');
    out
}
