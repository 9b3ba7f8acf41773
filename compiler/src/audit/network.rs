//! The network part of an audit: each namespace's isolation, the declared flows, who can reach
//! whom (a matrix and a picture for programs small enough to read one), what is reachable from
//! outside the cluster and which services may reach the internet. Reachability is the
//! connectivity evaluator's answer, the one `expect` and `explain` use.

use crate::graph;
use crate::ir::connectivity::{Evaluator, Verdict};
use crate::ir::{Endpoint, Peer, PortSpec, Ports, Probe, Program, ServiceId, world_blocks};
use crate::span::SourceMap;
use serde::Serialize;

/// Past this many services the matrix and the picture would not be read; the flows are listed.
pub const MATRIX_LIMIT: usize = 40;

#[derive(Serialize, Default)]
pub struct Network {
    pub namespaces: Vec<NamespaceNet>,
    pub flows: Vec<Edge>,
    /// Who can reach whom, service by service, where there are at most `MATRIX_LIMIT` services.
    pub matrix: Option<Matrix>,
    pub picture: Option<Picture>,
    pub from_outside: Vec<Exposure>,
    pub to_internet: Vec<Exposure>,
}

#[derive(Serialize)]
pub struct NamespaceNet {
    pub name: String,
    pub isolate_ingress: bool,
    pub isolate_egress: bool,
    pub allow_dns: bool,
}

#[derive(Serialize)]
pub struct Edge {
    pub from: String,
    pub to: String,
    pub ports: String,
    pub only: Vec<String>,
    pub declared: String,
}

#[derive(Serialize)]
pub struct Matrix {
    /// `namespace/name`, in the rows' and columns' order.
    pub services: Vec<String>,
    /// `cells[i][j]`: the ports service i may open to service j: `all`, a list, or empty; a port
    /// allowed for only some of the pods or addresses is marked `(some)`.
    pub cells: Vec<Vec<String>>,
}

#[derive(Serialize)]
pub struct Exposure {
    pub service: String,
    /// `all ports`, or the ports.
    pub ports: String,
    /// Whether only some addresses (or some of the pods) are allowed.
    pub partly: bool,
    /// The flows that allow it (`file:line`); none where nothing isolates that side.
    pub by: Vec<String>,
}

/// Who can reach whom, drawn: services on a circle, flows as arrows.
#[derive(Serialize)]
pub struct Picture {
    pub width: u32,
    pub height: u32,
    pub nodes: Vec<Node>,
    pub arrows: Vec<Arrow>,
}

#[derive(Serialize)]
pub struct Node {
    pub x: i32,
    pub y: i32,
    pub label: String,
    /// Whether it stands for something outside the cluster.
    pub external: bool,
    /// On the left half of the circle: its label goes to the left of it.
    pub left: bool,
}

#[derive(Serialize)]
pub struct Arrow {
    pub x1: i32,
    pub y1: i32,
    pub x2: i32,
    pub y2: i32,
    pub label: String,
}

fn label(program: &Program, peer: &Peer) -> String {
    match graph::describe(program, peer) {
        (name, Some(ns)) => format!("{ns}/{name}"),
        (name, None) => name,
    }
}

/// The probes that tell which of a service's ports are allowed: every port (`None`), then each
/// declared one.
fn probes(ports: &[(String, PortSpec)]) -> Vec<(String, Option<Probe>)> {
    let mut out = vec![("all ports".to_string(), None)];
    for (name, spec) in ports {
        let probe = match spec {
            PortSpec::Range(r) => Probe::Number(crate::ir::Port {
                number: r.start,
                protocol: r.protocol,
            }),
            PortSpec::Named(n) => Probe::Named(n.clone()),
        };
        out.push((format!("{name} ({spec})"), Some(probe)));
    }
    out
}

/// Which probes are allowed, as text, whether some only in part, and the flows allowing them.
fn allowed(
    ev: &Evaluator<'_>,
    from: &Endpoint,
    to: &Endpoint,
    probes: &[(String, Option<Probe>)],
    sources: &SourceMap,
) -> Option<(String, bool, Vec<String>)> {
    let mut names = Vec::new();
    let mut partly = false;
    let mut by = Vec::new();
    for (name, probe) in probes {
        match ev.evaluate(from, to, probe.as_ref()) {
            Verdict::Allowed { by: spans } => {
                by.extend(spans.iter().map(|s| sources.location(*s)));
                if probe.is_none() {
                    by.sort();
                    by.dedup();
                    return Some(("all ports".to_string(), false, by));
                }
                names.push(name.clone());
            }
            Verdict::Partial { by: spans, .. } => {
                by.extend(spans.iter().map(|s| sources.location(*s)));
                partly = true;
                if probe.is_none() {
                    continue;
                }
                names.push(format!("{name} (some)"));
            }
            Verdict::Denied { .. } | Verdict::Undecided { .. } => {}
        }
    }
    by.sort();
    by.dedup();
    if names.is_empty() && !partly {
        return None;
    }
    if names.is_empty() {
        names.push("some ports".to_string());
    }
    Some((names.join(", "), partly, by))
}

pub fn network(program: &Program, sources: &SourceMap) -> Network {
    let ev = Evaluator::new(program);
    let namespaces = program
        .namespaces
        .values()
        .map(|n| NamespaceNet {
            name: n.name.clone(),
            isolate_ingress: n.isolate_ingress,
            isolate_egress: n.isolate_egress,
            allow_dns: n.allow_dns,
        })
        .collect();
    let flows = program
        .flows
        .iter()
        .map(|f| Edge {
            from: label(program, &f.client),
            to: label(program, &f.server),
            ports: graph::ports(&f.ports),
            only: f.http.iter().map(ToString::to_string).collect(),
            declared: sources.location(f.span),
        })
        .collect();
    let world = Endpoint::External(world_blocks().iter().map(|b| b.cidr).collect());
    let ids: Vec<ServiceId> = program.services.keys().cloned().collect();
    // By service: the ports of its flows to addresses outside the cluster.
    let mut outward: Vec<Vec<(String, PortSpec)>> = vec![Vec::new(); program.services.len()];
    for f in &program.flows {
        if let (Peer::Service(r), Peer::World | Peer::Ip(_), Ports::Only(list)) =
            (&f.client, &f.server, &f.ports)
            && let Some(slot) = outward.get_mut(r.index())
        {
            slot.extend(list.iter().map(|p| (p.to_string(), p.clone())));
        }
    }
    // Each service asked about on its own: on every core.
    let services: Vec<(crate::ir::ServiceRef, &crate::ir::Service)> =
        program.services.iter().collect();
    let answers = crate::parallel::map(&services, |(r, s)| {
        let me = Endpoint::Service(s.id.clone());
        let inward =
            allowed(&ev, &world, &me, &probes(&s.ports), sources).map(|(ports, partly, by)| {
                Exposure {
                    service: s.id.to_string(),
                    ports,
                    partly,
                    by,
                }
            });
        // The ports the service's own flows name towards the outside, besides every port.
        let mut outbound: Vec<(String, PortSpec)> =
            outward.get(r.index()).cloned().unwrap_or_default();
        outbound.sort();
        outbound.dedup();
        let outbound_probes: Vec<(String, Option<Probe>)> = probes(&outbound)
            .into_iter()
            .map(|(name, p)| (name.split(" (").next().unwrap_or(&name).to_string(), p))
            .collect();
        let outward =
            allowed(&ev, &me, &world, &outbound_probes, sources).map(|(ports, partly, by)| {
                Exposure {
                    service: s.id.to_string(),
                    ports,
                    partly,
                    by,
                }
            });
        (inward, outward)
    });
    let mut from_outside = Vec::new();
    let mut to_internet = Vec::new();
    for (inward, outward) in answers {
        from_outside.extend(inward);
        to_internet.extend(outward);
    }
    let (matrix, picture) = if ids.len() <= MATRIX_LIMIT {
        let cells = ids
            .iter()
            .map(|a| {
                ids.iter()
                    .map(|b| {
                        let server = program.services.get(b).map_or(&[][..], |s| &s.ports[..]);
                        allowed(
                            &ev,
                            &Endpoint::Service(a.clone()),
                            &Endpoint::Service(b.clone()),
                            &probes(server),
                            sources,
                        )
                        .map(|(ports, _, _)| ports)
                        .unwrap_or_default()
                    })
                    .collect()
            })
            .collect();
        (
            Some(Matrix {
                services: ids.iter().map(ToString::to_string).collect(),
                cells,
            }),
            Some(picture(program)),
        )
    } else {
        (None, None)
    };
    Network {
        namespaces,
        flows,
        matrix,
        picture,
        from_outside,
        to_internet,
    }
}

/// Services and the peers of their flows on a circle, each flow an arrow from client to server.
fn picture(program: &Program) -> Picture {
    let mut peers: Vec<Peer> = program
        .services
        .iter()
        .map(|(r, _)| Peer::Service(r))
        .collect();
    for f in &program.flows {
        for p in [&f.client, &f.server] {
            if !peers.contains(p) {
                peers.push(p.clone());
            }
        }
    }
    let n = peers.len().max(1);
    let radius = 120.0 + 14.0 * n as f64;
    let (cx, cy) = (radius + 170.0, radius + 40.0);
    let at = |i: usize| {
        let angle = std::f64::consts::TAU * i as f64 / n as f64 - std::f64::consts::FRAC_PI_2;
        (
            (cx + radius * angle.cos()).round() as i32,
            (cy + radius * angle.sin()).round() as i32,
        )
    };
    let nodes = peers
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let (x, y) = at(i);
            Node {
                x,
                y,
                label: label(program, p),
                external: matches!(p, Peer::World | Peer::Ip(_) | Peer::Host(_)),
                left: f64::from(x) < cx - 1.0,
            }
        })
        .collect();
    let index = |p: &Peer| peers.iter().position(|q| q == p).unwrap_or(0);
    let mut arrows: Vec<Arrow> = program
        .flows
        .iter()
        .map(|f| {
            let ((x1, y1), (x2, y2)) = (at(index(&f.client)), at(index(&f.server)));
            // Stop short of the server's dot so the arrowhead shows.
            let (dx, dy) = (f64::from(x2 - x1), f64::from(y2 - y1));
            let len = (dx * dx + dy * dy).sqrt().max(1.0);
            let shorten = 9.0 / len;
            Arrow {
                x1,
                y1,
                x2: (f64::from(x2) - dx * shorten).round() as i32,
                y2: (f64::from(y2) - dy * shorten).round() as i32,
                label: graph::ports(&f.ports),
            }
        })
        .collect();
    arrows.dedup_by(|a, b| (a.x1, a.y1, a.x2, a.y2) == (b.x1, b.y1, b.x2, b.y2));
    let size = (2.0 * cx).round() as u32;
    Picture {
        width: size,
        height: (2.0 * cy).round() as u32,
        nodes,
        arrows,
    }
}
