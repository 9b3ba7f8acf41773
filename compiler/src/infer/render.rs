//! The draft as program text: a file per namespace, each line after the comments that are its
//! evidence, laid out by `warden fmt`'s formatter.

use super::{HEADER, Inference, Peer, PortDecl, label_ok};
use std::collections::{BTreeMap, BTreeSet};

/// A value as one comment line: no control characters, and a long one cut.
pub(crate) fn sanitize(text: &str) -> String {
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

/// A flow's key: client, peer, protocol, port (none: every port).
pub(super) type FlowKey = (usize, Peer, String, Option<u16>);

/// What a line of a service block says, for `--diff` to ask whether a program says it already.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Line {
    Port(String, u16),
    Exposed(String, u16),
    Flow(FlowKey),
    Syscalls,
}

/// The flows of each service, by client.
pub(super) fn by_client<'a>(
    inf: &'a Inference<'_>,
) -> Vec<Vec<(&'a FlowKey, &'a super::FlowEvidence)>> {
    let mut out: Vec<Vec<(&FlowKey, &super::FlowEvidence)>> = vec![Vec::new(); inf.services.len()];
    for (key, e) in &inf.flows {
        if let Some(list) = out.get_mut(key.0) {
            list.push((key, e));
        }
    }
    out
}

/// How a line of a service in a namespace names service `server`, and whether that service's
/// block is the draft's own (so its ports have the drafted names).
pub(super) type Target<'a> = dyn Fn(usize, &str) -> Option<(String, bool)> + Sync + 'a;

/// The lines of service `i`'s block after its `pods`, each with its evidence before it, and
/// what it says. `own`: the block is the draft's, whose ports have the drafted names.
pub(super) fn lines(
    inf: &Inference<'_>,
    i: usize,
    own: bool,
    flows: &[(&FlowKey, &super::FlowEvidence)],
    target: &Target<'_>,
) -> Vec<(Line, String)> {
    let mut out = Vec::new();
    let Some(s) = inf.services.get(i) else {
        return out;
    };
    for ((proto, number), p) in &s.ports {
        let mut text = String::new();
        comments(&mut text, "  ", &p.evidence);
        text.push_str(&format!("  port {} {number}/{proto}\n", p.name));
        out.push((Line::Port(proto.clone(), *number), text));
    }
    for ((proto, number), why) in &s.exposed {
        let mut text = String::new();
        comments(&mut text, "  ", why);
        let name = s
            .ports
            .get(&(proto.clone(), *number))
            .filter(|_| own)
            .map_or_else(|| format!("{number}/{proto}"), |p| p.name.clone());
        text.push_str(&format!("  from world on {name}\n"));
        out.push((Line::Exposed(proto.clone(), *number), text));
    }
    for (key, e) in flows {
        let (_, peer, proto, port) = key;
        let on = |ports: Option<&BTreeMap<(String, u16), PortDecl>>| match port {
            Some(n) => ports
                .and_then(|p| p.get(&(proto.clone(), *n)))
                .map_or_else(|| format!(" on {n}/{proto}"), |d| format!(" on {}", d.name)),
            None => String::new(),
        };
        let mut text = String::new();
        comments(&mut text, "  ", &e.said);
        match peer {
            Peer::Service(server) => {
                let (Some(t), Some((name, drafted))) =
                    (inf.services.get(*server), target(*server, &s.namespace))
                else {
                    continue;
                };
                text.push_str(&format!("  to {name}{}\n", on(drafted.then_some(&t.ports))));
            }
            Peer::Host(host) if inf.opts.cilium => {
                text.push_str(&format!(
                    "  to host {}{}\n",
                    crate::format::quote(host),
                    on(None)
                ));
            }
            Peer::Host(host) => {
                text.push_str(&format!(
                    "  // host {host}: target `netpol` cannot name a host, so any address (target `cilium` can: `to host`)\n  to world{}\n",
                    on(None)
                ));
            }
            Peer::Ip(ip) => {
                let bits = if ip.contains(':') { 128 } else { 32 };
                text.push_str(&format!("  to cidr {ip}/{bits}{}\n", on(None)));
            }
        }
        out.push((Line::Flow((*key).clone()), text));
    }
    if let Some(why) = &s.runtime_default {
        out.push((
            Line::Syscalls,
            format!(
                "  // {}\n  syscalls {{\n    base docker-default\n  }}\n",
                sanitize(why)
            ),
        ));
    }
    out
}

/// The head of service `i`'s block, `named` in the program: its evidence, name and `pods`.
pub(super) fn head(inf: &Inference<'_>, i: usize, named: &str) -> String {
    let Some(s) = inf.services.get(i) else {
        return String::new();
    };
    let w = s.workload;
    let mut out = format!(
        "// {}\nservice {named} in {} {{\n",
        sanitize(&format!(
            "{} {} {}",
            inf.loc(&w.meta.at),
            w.meta.kind,
            w.meta.name
        )),
        s.namespace
    );
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
        out.push_str("  // the workload's selector also has matchExpressions, not said here\n");
    }
    out.push_str(&format!("  pods {}\n", selector.join(", ")));
    out
}

/// How the draft names service `server` from a service of `namespace`.
pub(super) fn drafted_name(
    inf: &Inference<'_>,
    server: usize,
    namespace: &str,
) -> Option<(String, bool)> {
    let t = inf.services.get(server)?;
    let name = if t.namespace == namespace {
        t.name.clone()
    } else {
        format!("{}/{}", t.namespace, t.name)
    };
    Some((name, true))
}

/// Program text laid out by `warden fmt`'s formatter (as written, should it not parse), for a
/// draft that is compiled before it is written.
pub(crate) fn layout(text: String) -> String {
    crate::format::source::lay_out(0, &text).unwrap_or(text)
}

/// A draft in the layout `warden fmt` gives it: written in it, but for a list longer than a line,
/// which the formatter wraps after a comma (a line within its width it leaves as it is).
fn wrapped(text: String) -> String {
    let long = text.lines().any(|l| {
        !l.trim_start().starts_with("//") && l.chars().count() > crate::format::source::WIDTH
    });
    if long { layout(text) } else { text }
}

/// The program text of each namespace, written in the layout `warden fmt` gives it (the fuzz
/// target and `cli_infer`'s tests hold it to that), so that a draft of thousands of services is
/// not parsed once more to be laid out.
pub(super) fn render(inf: &Inference<'_>) -> Vec<(String, String)> {
    let mut by_ns: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, s) in inf.services.iter().enumerate() {
        by_ns.entry(s.namespace.as_str()).or_default().push(i);
    }
    let read: Vec<&str> = (0..inf.m.sources.len())
        .map(|f| inf.m.sources.name(f))
        .collect();
    let by_client = by_client(inf);
    let workloads = super::admission::by_namespace(inf);
    let header = format!(
        "{HEADER} from {}: review it, keep what the workloads need, then enforce it.\n",
        sanitize(&read.join(", "))
    );
    let namespaces: Vec<(&str, Vec<usize>)> = by_ns.into_iter().collect();
    let target = |server: usize, namespace: &str| drafted_name(inf, server, namespace);
    // Namespaces are drafted apart, on every core, and returned in their order.
    crate::parallel::map(&namespaces, |(ns, members)| {
        let ns = *ns;
        let mut out = header.clone();
        out.push_str(&format!("namespace {ns} {{\n  isolate\n  allow dns\n}}\n"));
        for &i in members {
            let Some(s) = inf.services.get(i) else {
                continue;
            };
            out.push('\n');
            out.push_str(&head(inf, i, &s.name));
            let flows = by_client.get(i).map(Vec::as_slice).unwrap_or_default();
            for (_, text) in lines(inf, i, true, flows, &target) {
                out.push_str(&text);
            }
            out.push_str("}\n");
        }
        let ws = workloads.get(ns).map(Vec::as_slice).unwrap_or_default();
        out.push_str(&super::admission::block(inf, ns, ws));
        (format!("{ns}.warden"), wrapped(out))
    })
}
