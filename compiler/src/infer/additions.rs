//! `warden infer … --diff PROGRAM`: what the manifests say that a program does not — namespaces,
//! services, ports, exposure and flows — as lines to add, each after its evidence. A drafted
//! service is the program's service whose selector picks the workload's pods, whatever its name,
//! and a drafted line is said already where one of the program's flows covers it (by its
//! services, its namespace, `world`, an address block or a host; a named port by the number the
//! workload gives it). Nothing is rewritten: a reviewer copies what the workloads need.

use super::render::{self, FlowKey, Line};
use super::{Inference, Peer};
use crate::diag::Diagnostic;
use crate::ir::{self, PortSpec, Ports, Program, ServiceRef};
use crate::span::SourceMap;

/// What `--diff` prints, and how many lines it would add.
pub struct Additions {
    pub text: String,
    pub count: usize,
    pub diagnostics: Vec<Diagnostic>,
}

/// The program's services that select the pods of drafted service `i`.
fn matches(inf: &Inference<'_>, program: &Program, i: usize) -> Vec<ServiceRef> {
    let Some(s) = inf.services.get(i) else {
        return Vec::new();
    };
    program
        .services
        .iter()
        .filter(|(_, p)| {
            p.id.namespace == s.namespace && p.selector.matches(&s.workload.pod_labels)
        })
        .map(|(r, _)| r)
        .collect()
}

/// Whether `ports` take `number`/`proto` on the pods of drafted service `server`.
fn covers(
    inf: &Inference<'_>,
    ports: &Ports,
    proto: &str,
    number: Option<u16>,
    server: Option<usize>,
) -> bool {
    let Ports::Only(specs) = ports else {
        return true;
    };
    let Some(number) = number else {
        return false;
    };
    specs.iter().any(|spec| match spec {
        PortSpec::Range(r) => r.protocol.word() == proto && r.start <= number && number <= r.end,
        // A named port is the number the server's containers give that name.
        PortSpec::Named(n) => {
            n.protocol.word() == proto
                && server.and_then(|i| inf.services.get(i)).is_some_and(|s| {
                    s.workload
                        .containers
                        .iter()
                        .flat_map(|c| &c.ports)
                        .any(|p| p.name.as_deref() == Some(n.name.as_str()) && p.number == number)
                })
        }
    })
}

/// The program's peers that stand for a drafted client or server: its services, and its
/// namespace as a whole.
fn stands_for(peer: &ir::Peer, refs: &[ServiceRef], namespace: &str) -> bool {
    match peer {
        ir::Peer::Service(r) => refs.contains(r),
        ir::Peer::Namespace(ns) => ns == namespace,
        _ => false,
    }
}

/// Whether the program's `server` peer takes the drafted external `peer`.
fn external(server: &ir::Peer, peer: &Peer) -> bool {
    match (server, peer) {
        (ir::Peer::World, Peer::Host(_) | Peer::Ip(_)) => true,
        (ir::Peer::Host(pattern), Peer::Host(h)) => {
            pattern == h
                || pattern
                    .strip_prefix("*.")
                    .is_some_and(|suffix| h.ends_with(&format!(".{suffix}")))
        }
        (ir::Peer::Ip(block), Peer::Ip(ip)) => ip
            .parse::<std::net::IpAddr>()
            .is_ok_and(|a| block.cidr.contains(&a) && !block.except.iter().any(|e| e.contains(&a))),
        _ => false,
    }
}

/// Whether a line of drafted service `i` is said by the program already.
fn said(
    inf: &Inference<'_>,
    program: &Program,
    refs: &[Vec<ServiceRef>],
    i: usize,
    line: &Line,
) -> bool {
    let (Some(mine), Some(s)) = (refs.get(i), inf.services.get(i)) else {
        return false;
    };
    match line {
        Line::Port(proto, number) => mine.iter().any(|r| {
            program.services.at(*r).is_some_and(|p| {
                p.ports.iter().any(|(_, spec)| {
                    covers(
                        inf,
                        &Ports::Only(vec![spec.clone()]),
                        proto,
                        Some(*number),
                        Some(i),
                    )
                })
            })
        }),
        Line::Exposed(proto, number) => program.flows.iter().any(|f| {
            f.client == ir::Peer::World
                && stands_for(&f.server, mine, &s.namespace)
                && covers(inf, &f.ports, proto, Some(*number), Some(i))
        }),
        Line::Flow((_, peer, proto, port)) => program.flows.iter().any(|f| {
            if !stands_for(&f.client, mine, &s.namespace) {
                return false;
            }
            match peer {
                Peer::Service(j) => {
                    let (Some(theirs), Some(t)) = (refs.get(*j), inf.services.get(*j)) else {
                        return false;
                    };
                    stands_for(&f.server, theirs, &t.namespace)
                        && covers(inf, &f.ports, proto, *port, Some(*j))
                }
                _ => external(&f.server, peer) && covers(inf, &f.ports, proto, *port, None),
            }
        }),
        Line::Syscalls => mine.iter().any(|r| {
            program
                .services
                .at(*r)
                .is_some_and(|p| p.syscalls.is_some())
        }),
    }
}

pub(super) fn additions(inf: &Inference<'_>, program: &Program, sources: &SourceMap) -> Additions {
    let refs: Vec<Vec<ServiceRef>> = (0..inf.services.len())
        .map(|i| matches(inf, program, i))
        .collect();
    // A new service is named as drafted, numbered where the program has that name already.
    let mut taken: std::collections::BTreeSet<(String, String)> = program
        .services
        .keys()
        .map(|k| (k.namespace.clone(), k.name.clone()))
        .collect();
    let names: Vec<String> = inf
        .services
        .iter()
        .zip(&refs)
        .map(|(s, r)| {
            if !r.is_empty() {
                return s.name.clone();
            }
            let mut name = s.name.clone();
            let mut n = 1;
            while !taken.insert((s.namespace.clone(), name.clone())) {
                n += 1;
                let mut stem = s.name.clone();
                stem.truncate(56);
                name = format!("{stem}-{n}");
            }
            name
        })
        .collect();
    // A service the program declares is named as the program names it.
    let target = |server: usize, namespace: &str| -> Option<(String, bool)> {
        let Some(r) = refs.get(server).and_then(|r| r.first()) else {
            let t = inf.services.get(server)?;
            let name = names.get(server)?;
            return Some(if t.namespace == namespace {
                (name.clone(), true)
            } else {
                (format!("{}/{name}", t.namespace), true)
            });
        };
        let p = program.services.at(*r)?;
        let name = if p.id.namespace == namespace {
            p.id.name.clone()
        } else {
            format!("{}/{}", p.id.namespace, p.id.name)
        };
        Some((name, false))
    };
    let by_client = render::by_client(inf);
    let (mut new, mut added) = (String::new(), String::new());
    let mut count = 0;
    let mut namespaces = std::collections::BTreeSet::new();
    for (i, s) in inf.services.iter().enumerate() {
        let flows: &[(&FlowKey, &super::FlowEvidence)] =
            by_client.get(i).map(Vec::as_slice).unwrap_or_default();
        let known = refs.get(i).and_then(|r| r.first());
        let lines = render::lines(inf, i, known.is_none(), flows, &target);
        match known {
            None => {
                if !program.namespaces.contains_key(&s.namespace)
                    && namespaces.insert(s.namespace.clone())
                {
                    new.push_str(&format!(
                        "\n// namespace {} is not in the program\nnamespace {} {{\n  isolate\n  allow dns\n}}\n",
                        s.namespace, s.namespace
                    ));
                    count += 1;
                }
                new.push('\n');
                new.push_str(&render::head(inf, i, names.get(i).unwrap_or(&s.name)));
                for (_, text) in &lines {
                    new.push_str(text);
                }
                new.push_str("}\n");
                count += 1;
            }
            Some(r) => {
                let missing: Vec<&String> = lines
                    .iter()
                    .filter(|(line, _)| !said(inf, program, &refs, i, line))
                    .map(|(_, text)| text)
                    .collect();
                let Some(p) = program.services.at(*r) else {
                    continue;
                };
                if missing.is_empty() {
                    continue;
                }
                // The workload's name and file are the manifests' words: one comment line.
                let head = format!(
                    "{}: service {} in {}, for {} {} ({}), add:",
                    sources.location(p.span),
                    p.id.name,
                    p.id.namespace,
                    s.workload.meta.kind,
                    s.workload.meta.name,
                    inf.loc(&s.workload.meta.at)
                );
                added.push_str(&format!("\n// {}\n", render::sanitize(&head)));
                for text in &missing {
                    added.push_str(text);
                }
                count += missing.len();
            }
        }
    }
    let mut text = String::new();
    if !new.is_empty() {
        text.push_str("// New: what no service of the program selects\n");
        // Printed, not compiled: laid out by the formatter that reads its result back.
        text.push_str(&crate::format::source::format(0, &new).unwrap_or(new));
    }
    if !added.is_empty() {
        if !text.is_empty() {
            text.push('\n');
        }
        text.push_str("// Lines the program's services do not say\n");
        text.push_str(&added);
    }
    Additions {
        text,
        count,
        diagnostics: Vec::new(),
    }
}
