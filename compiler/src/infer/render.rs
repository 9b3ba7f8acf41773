//! The draft as program text: a file per namespace, each line after the comments that are its
//! evidence, laid out by `warden fmt`'s formatter.

use super::{HEADER, Inference, Peer, PortDecl, label_ok};
use std::collections::{BTreeMap, BTreeSet};

/// A value as one comment line: no control characters, and a long one cut.
pub(super) fn sanitize(text: &str) -> String {
    let one_line: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    // A value may be a whole file's worth of ConfigMap data: a comment keeps its start.
    if one_line.chars().count() > 400 {
        let cut: String = one_line.chars().take(399).collect();
        format!("{cut}…")
    } else {
        one_line
    }
}

fn comments(out: &mut String, indent: &str, lines: &BTreeSet<String>) {
    for l in lines {
        out.push_str(&format!("{indent}// {}\n", sanitize(l)));
    }
}

/// The program text of each namespace.
pub(super) fn render(inf: &Inference<'_>) -> Vec<(String, String)> {
    let mut by_ns: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, s) in inf.services.iter().enumerate() {
        by_ns.entry(s.namespace.as_str()).or_default().push(i);
    }
    let read: Vec<&str> = (0..inf.m.sources.len())
        .map(|f| inf.m.sources.name(f))
        .collect();
    type Key = (usize, Peer, String, Option<u16>);
    let mut by_client: Vec<Vec<(&Key, &super::FlowEvidence)>> =
        vec![Vec::new(); inf.services.len()];
    for (key, e) in &inf.flows {
        if let Some(list) = by_client.get_mut(key.0) {
            list.push((key, e));
        }
    }
    let workloads = super::admission::by_namespace(inf);
    let header = format!(
        "{HEADER} from {}: review it, keep what the workloads need, then enforce it.\n",
        sanitize(&read.join(", "))
    );
    let namespaces: Vec<(&str, Vec<usize>)> = by_ns.into_iter().collect();
    // Namespaces are drafted apart, on every core, and returned in their order.
    crate::parallel::map(&namespaces, |(ns, members)| {
        let ns = *ns;
        let mut out = header.clone();
        out.push_str(&format!("namespace {ns} {{\n  isolate\n  allow dns\n}}\n"));
        for &i in members {
            let Some(s) = inf.services.get(i) else {
                continue;
            };
            let w = s.workload;
            out.push_str(&format!(
                "\n// {}\nservice {} in {ns} {{\n",
                sanitize(&format!(
                    "{} {} {}",
                    inf.loc(&w.meta.at),
                    w.meta.kind,
                    w.meta.name
                )),
                s.name
            ));
            let labels = if w.selector.iter().any(label_ok) {
                &w.selector
            } else {
                &w.pod_labels
            };
            let selector: Vec<String> = labels
                .iter()
                .filter(|(k, v)| label_ok((k, v)))
                .map(|(k, v)| format!("{k} = {}", crate::format::quote(v)))
                .collect();
            if w.selector_expressions {
                out.push_str(
                    "  // the workload's selector also has matchExpressions, not said here\n",
                );
            }
            out.push_str(&format!("  pods {}\n", selector.join(", ")));
            for ((proto, number), p) in &s.ports {
                comments(&mut out, "  ", &p.evidence);
                out.push_str(&format!("  port {} {number}/{proto}\n", p.name));
            }
            for ((proto, number), why) in &s.exposed {
                comments(&mut out, "  ", why);
                let name = s
                    .ports
                    .get(&(proto.clone(), *number))
                    .map_or_else(|| format!("{number}/{proto}"), |p| p.name.clone());
                out.push_str(&format!("  from world on {name}\n"));
            }
            for ((_, peer, proto, port), e) in by_client.get(i).into_iter().flatten() {
                let on = |ports: Option<&BTreeMap<(String, u16), PortDecl>>| match port {
                    Some(n) => ports
                        .and_then(|p| p.get(&(proto.clone(), *n)))
                        .map_or_else(|| format!(" on {n}/{proto}"), |d| format!(" on {}", d.name)),
                    None => String::new(),
                };
                match peer {
                    Peer::Service(server) => {
                        let Some(t) = inf.services.get(*server) else {
                            continue;
                        };
                        comments(&mut out, "  ", &e.said);
                        let target = if t.namespace == s.namespace {
                            t.name.clone()
                        } else {
                            format!("{}/{}", t.namespace, t.name)
                        };
                        out.push_str(&format!("  to {target}{}\n", on(Some(&t.ports))));
                    }
                    Peer::Host(host) => {
                        comments(&mut out, "  ", &e.said);
                        if inf.opts.cilium {
                            out.push_str(&format!(
                                "  to host {}{}\n",
                                crate::format::quote(host),
                                on(None)
                            ));
                        } else {
                            out.push_str(&format!(
                                "  // host {host}: target `netpol` cannot name a host, so any address (target `cilium` can: `to host`)\n  to world{}\n",
                                on(None)
                            ));
                        }
                    }
                    Peer::Ip(ip) => {
                        comments(&mut out, "  ", &e.said);
                        let bits = if ip.contains(':') { 128 } else { 32 };
                        out.push_str(&format!("  to cidr {ip}/{bits}{}\n", on(None)));
                    }
                }
            }
            if let Some(why) = &s.runtime_default {
                out.push_str(&format!(
                    "  // {}\n  syscalls {{\n    base docker-default\n  }}\n",
                    sanitize(why)
                ));
            }
            out.push_str("}\n");
        }
        let ws = workloads.get(ns).map(Vec::as_slice).unwrap_or_default();
        out.push_str(&super::admission::block(inf, ns, ws));
        let text = match crate::format::source::format(0, &out) {
            Ok(formatted) => formatted,
            Err(_) => out,
        };
        (format!("{ns}.warden"), text)
    })
}
