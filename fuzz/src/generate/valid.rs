//! Programs the checker accepts, built from the fuzzer's bytes with the pools and pieces of
//! `generate`: what `review` audits and compares, and half of what `round_trip` and `lsp` open.

use super::*;

/// A service of a valid program: its namespace, its name and its ports' names and numbers.
type Declared = (String, String, Vec<(String, u16)>);

/// A program the checker accepts: namespaces declared before use, each service with pods and
/// numbered ports, flows between declared services on ports they serve, system calls and
/// admission rules every target can enforce (no CEL: Gatekeeper cannot run it). Values a user controls (labels, image patterns, reasons,
/// messages) still carry any text the checker lets through.
pub fn valid_file(u: &mut Unstructured<'_>) -> Result<File> {
    let namespaces: Vec<&str> = NAMESPACES
        .iter()
        .copied()
        .filter(|ns| *ns != "kube-system")
        .take(u.int_in_range(1..=3)?)
        .collect();
    let mut services: Vec<Declared> = Vec::new();
    for ns in &namespaces {
        for svc in SERVICES.iter().take(u.int_in_range(1..=4)?) {
            let ports = PORTS
                .iter()
                .take(u.int_in_range(1..=3)?)
                .map(|p| Ok((p.to_string(), u.int_in_range(1u16..=65535)?)))
                .collect::<Result<Vec<_>>>()?;
            services.push((ns.to_string(), svc.to_string(), ports));
        }
    }
    let safe_value = |u: &mut Unstructured<'_>| -> Result<Ident> {
        Ok(spanned(
            word(u, b"abcxyz019", b"abcdefghijklmnopqrstuvwxyz0123456789-_.")? + "z",
        ))
    };
    let mut file = File::default();
    for ns in &namespaces {
        file.namespaces.push(Namespace {
            name: spanned(*ns),
            span: Span::default(),
            isolate: some(u, 0, 1, isolate)?,
            allow_dns: some(u, 0, 1, |_| Ok(Span::default()))?,
            labels: some(u, 0, 1, |u| {
                Ok(Label {
                    key: pick(u, &["team", "env"])?,
                    value: safe_value(u)?,
                })
            })?,
            flows: Vec::new(),
            accepts: some(u, 0, 1, |u| {
                Ok(Accept {
                    code: pick(u, &["W0701", "W0702"])?,
                    reason: spanned("reviewed"),
                    span: Span::default(),
                })
            })?,
        });
    }
    for (ns, name, ports) in &services {
        let mut flows = Vec::new();
        for _ in 0..u.int_in_range(0..=3)? {
            let (peer_ns, peer_name, peer_ports) = u.choose(&services)?;
            let egress: bool = u.arbitrary()?;
            // A flow's ports are the server's: the peer's going out, the service's own coming in.
            let server_ports = if egress { peer_ports } else { ports };
            let (port, _) = u.choose(server_ports)?;
            let peer = match u.int_in_range(0..=3)? {
                0 => Peer::Cidr {
                    cidr: pick(u, &["10.0.0.0/8", "192.168.0.0/16"])?,
                    except: some(u, 0, 1, |u| pick(u, &["10.1.0.0/16", "10.2.0.0/16"]))?,
                    span: Span::default(),
                },
                1 => Peer::World(Span::default()),
                _ => Peer::Service(ServiceRef {
                    namespace: Some(spanned(peer_ns.clone())),
                    name: spanned(peer_name.clone()),
                    span: Span::default(),
                }),
            };
            // Addresses outside the cluster have no ports of their own: only their numbers.
            let port = match (&peer, egress) {
                (Peer::Cidr { .. } | Peer::World(_), true) => PortRef::Number {
                    number: spanned(u.int_in_range(1u16..=65535)?.to_string()),
                    end: None,
                    protocol: Some(spanned("tcp")),
                    span: Span::default(),
                },
                _ => PortRef::Named(spanned(port.clone())),
            };
            let peer = match peer {
                Peer::Cidr { cidr, except, span } if cidr.text == "192.168.0.0/16" => Peer::Cidr {
                    cidr,
                    except: except
                        .into_iter()
                        .map(|_| spanned("192.168.1.0/24"))
                        .collect(),
                    span,
                },
                other => other,
            };
            flows.push(Flow {
                direction: if egress {
                    Direction::Egress
                } else {
                    Direction::Ingress
                },
                peers: vec![peer],
                ports: vec![port],
                all_ports: None,
                http: Vec::new(),
                span: Span::default(),
            });
        }
        let syscalls = some(u, 0, 1, |u| {
            Ok(Syscalls {
                base: some(u, 0, 1, |u| pick(u, &["docker-default"]))?,
                default: some(u, 0, 1, |u| {
                    Ok((
                        if u.arbitrary()? {
                            // The Security Profiles Operator gives only EPERM as a default.
                            SyscallAction::Errno(spanned("EPERM"))
                        } else {
                            SyscallAction::KillProcess
                        },
                        Span::default(),
                    ))
                })?,
                rules: vec![SyscallRule {
                    action: SyscallAction::Allow,
                    action_span: Span::default(),
                    groups: false,
                    names: vec![spanned("read"), spanned("write"), spanned("openat")],
                    conditions: Vec::new(),
                }],
                span: Span::default(),
            })
        })?;
        file.services.push(Service {
            name: spanned(name.clone()),
            namespace: spanned(ns.clone()),
            span: Span::default(),
            pods: vec![Selector {
                requirements: vec![Requirement::Equals(Label {
                    key: spanned("app"),
                    value: spanned(name.clone()),
                })],
                span: Span::default(),
            }],
            ports: ports
                .iter()
                .map(|(port, number)| PortDecl {
                    name: spanned(port.clone()),
                    number: Some(spanned(number.to_string())),
                    end: None,
                    protocol: Some(spanned("tcp")),
                    span: Span::default(),
                })
                .collect(),
            flows,
            syscalls,
            isolate: Vec::new(),
            overlaps: Vec::new(),
            accepts: some(u, 0, 1, |u| {
                Ok(Accept {
                    code: pick(u, &["W0306", "W0305", "W0411"])?,
                    reason: spanned("reviewed"),
                    span: Span::default(),
                })
            })?,
        });
    }
    for (i, ns) in namespaces.iter().enumerate() {
        if !u.arbitrary::<bool>()? {
            continue;
        }
        let mut adm = Admission {
            name: spanned(format!("rules-{i}")),
            ..Admission::default()
        };
        adm.applies
            .push((AdmissionScope::Names(vec![spanned(*ns)]), Span::default()));
        adm.forbid = some(u, 0, 2, |u| {
            pick(u, &["privileged", "host-pid", "host-ipc"])
        })?;
        adm.require = some(u, 0, 1, |u| {
            pick(u, &["run-as-non-root", "drop-all-capabilities"])
        })?;
        adm.require_labels = some(u, 0, 1, |u| pick(u, &["app", "team"]))?;
        adm.images = some(u, 0, 1, |u| string(u, IMAGES))?;
        file.admissions.push(adm);
    }
    // Drawn after everything above, so that a stored input keeps building the program it did
    // and may go on to these: how the blocks enforce, and what a program claims of its namespaces.
    for adm in &mut file.admissions {
        adm.modes = some(u, 0, 1, |u| pick(u, &["deny", "warn", "audit"]))?;
        adm.pod_security = some(u, 0, 1, |u| {
            Ok((
                pick(u, &["baseline", "restricted"])?,
                optional(u, |u| pick(u, &["v1.30", "v1.36"]))?,
                Span::default(),
            ))
        })?;
        if !adm.pod_security.is_empty() {
            adm.exempt = some(u, 0, 1, |u| {
                Ok((
                    pick(u, &["runAsUser", "privileged", "seccompProfile_restricted"])?,
                    reason(u)?,
                    Terms {
                        owner: optional(u, reason)?,
                        until: optional(u, |u| pick(u, VALID_DATES))?,
                    },
                ))
            })?;
        }
    }
    file.compliance = some(u, 0, 1, |u| valid_compliance(u, &namespaces))?;
    Ok(file)
}

/// Expectations about `file`'s services, the world and addresses, on ports they name: ones
/// that hold and ones that fail, as a change may make them. Drawn apart from `valid_file`, so
/// that the other targets' stored inputs keep building the programs they did.
pub fn valid_expects(u: &mut Unstructured<'_>, file: &File) -> Result<Vec<Expect>> {
    let services: Vec<&Service> = file.services.iter().collect();
    if services.is_empty() {
        return Ok(Vec::new());
    }
    some(u, 0, 3, |u| {
        let end = |u: &mut Unstructured<'_>| -> Result<(Endpoint, Option<&Service>)> {
            Ok(match u.int_in_range(0..=4)? {
                0 => (Endpoint::World(Span::default()), None),
                1 => (Endpoint::Cidr(pick(u, CIDRS)?), None),
                _ => {
                    let s = *u.choose(&services)?;
                    let r = ServiceRef {
                        namespace: Some(s.namespace.clone()),
                        name: s.name.clone(),
                        span: Span::default(),
                    };
                    (Endpoint::Service(r), Some(s))
                }
            })
        };
        let (from, client) = end(u)?;
        let (mut to, mut server) = end(u)?;
        if client.is_none() && server.is_none() {
            let s = *u.choose(&services)?;
            to = Endpoint::Service(ServiceRef {
                namespace: Some(s.namespace.clone()),
                name: s.name.clone(),
                span: Span::default(),
            });
            server = Some(s);
        }
        let port = match server {
            Some(s) if u.arbitrary()? => Some(PortRef::Named(u.choose(&s.ports)?.name.clone())),
            None if u.arbitrary()? => Some(PortRef::Number {
                number: spanned(u.int_in_range(1u16..=65535)?.to_string()),
                end: None,
                protocol: Some(spanned("tcp")),
                span: Span::default(),
            }),
            _ => None,
        };
        Ok(Expect {
            from,
            to,
            port,
            allowed: u.arbitrary()?,
            span: Span::default(),
        })
    })
}

/// Days that exist: with `review`'s day (2026-06-01), one ended, one within 30 days, one later.
const VALID_DATES: &[&str] = &["2026-05-31", "2026-06-20", "2027-03-31"];

/// Text for an owner or a reason: anything but empty (E1002).
fn reason(u: &mut Unstructured<'_>) -> Result<Ident> {
    let mut text = string(u, &["SEC-1", "a | b", "<b>x</b>", "*y* [z](http://e)"])?;
    if text.text.trim().is_empty() {
        text.text.push('r');
    }
    Ok(text)
}

/// A compliance block over the declared namespaces, waiving real controls of what it claims.
fn valid_compliance(u: &mut Unstructured<'_>, namespaces: &[&str]) -> Result<Compliance> {
    const CONTROLS: &[(&str, &[&str])] = &[
        ("nist-800-53", &["AC-4", "SC-7(5)", "CM-7", "AC-6"]),
        ("pci-dss", &["1.3.2", "2.2.4", "1.2.5"]),
        ("cis-kubernetes", &["5.2.2", "5.3.2", "5.7.2"]),
        ("nsa-cisa", &["net-default-deny", "pod-non-root"]),
        ("pod-security", &["privileged", "runAsNonRoot"]),
    ];
    let mut frameworks: Vec<&(&str, &[&str])> = Vec::new();
    for _ in 0..u.int_in_range(1..=2)? {
        let f = u.choose(CONTROLS)?;
        if !frameworks.iter().any(|g| g.0 == f.0) {
            frameworks.push(f);
        }
    }
    let applies = if u.arbitrary()? {
        vec![(AdmissionScope::All, Span::default())]
    } else {
        let names = namespaces
            .iter()
            .take(u.int_in_range(1..=namespaces.len())?)
            .map(|ns| spanned(*ns))
            .collect();
        vec![(AdmissionScope::Names(names), Span::default())]
    };
    let mut waivers = Vec::new();
    for _ in 0..u.int_in_range(0..=3)? {
        let (framework, controls) = **u.choose(&frameworks)?;
        let control = *u.choose(controls)?;
        if waivers
            .iter()
            .any(|w: &Waiver| w.framework.text == framework && w.control.text == control)
        {
            continue;
        }
        waivers.push(Waiver {
            framework: spanned(framework),
            control: spanned(control),
            owner: reason(u)?,
            until: pick(u, VALID_DATES)?,
            reason: reason(u)?,
            span: Span::default(),
        });
    }
    Ok(Compliance {
        name: spanned("estate"),
        span: Span::default(),
        frameworks: frameworks.iter().map(|f| spanned(f.0)).collect(),
        applies,
        except: Vec::new(),
        waivers,
    })
}
