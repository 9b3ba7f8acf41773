//! Programs built from the fuzzer's bytes: every syntax tree this module returns is one the grammar
//! can express (names are words that are no keyword, lists that must hold something do), so that
//! printing it and parsing the text must give it back. Names come mostly from small pools, so that
//! references resolve and the checker and the targets see programs that get past name resolution.

use arbitrary::{Result, Unstructured};
use warden::ast::*;
use warden::span::Span;

mod valid;
pub use valid::{valid_expects, valid_file};

const KEYWORDS: &[&str] = &[
    "namespace",
    "service",
    "in",
    "admission",
    "expect",
    "to",
    "from",
    "on",
    "world",
    "cidr",
    "except",
    "allow",
    "deny",
    "group",
    "allowed",
    "applies",
    "denied",
    "dns",
    "egress",
    "forbid",
    "images",
    "ingress",
    "isolate",
    "overlaps",
    "accept",
    "labels",
    "mode",
    "notin",
    "all",
    "nodelocal",
    "namespaces",
    "pods",
    "port",
    "pod-security",
    "version",
    "exempt",
    "host",
    "only",
    "ports",
    "require",
    "syscalls",
    "workloads",
    "because",
    "base",
    "default",
    "log",
    "trace",
    "notify",
    "kill-process",
    "kill-thread",
    "errno",
    "if",
    "and",
    "has",
    "lacks",
    "annotations",
    "host-paths",
    "capabilities",
    "volumes",
    "non-root",
    "cel",
    "message",
    "compliance",
    "framework",
    "waive",
    "owner",
    "until",
    "run-as-user",
    "run-as-group",
    "fs-group",
    "supplemental-groups",
];

const NAMESPACES: &[&str] = &["shop", "web", "kube-system", "default"];
const SERVICES: &[&str] = &["cart", "db", "api", "frontend"];
const PORTS: &[&str] = &["http", "grpc", "metrics"];
const LABEL_KEYS: &[&str] = &["app", "tier", "team", "app.kubernetes.io/name", "k8s-app"];
const SYSCALLS: &[&str] = &[
    "read", "write", "openat", "clone", "socket", "ptrace", "mount",
];
const GROUPS: &[&str] = &["file-io", "network", "process", "time", "signals"];
const ERRNOS: &[&str] = &["EPERM", "EACCES", "ENOSYS", "E2BIG"];
const CONSTANTS: &[&str] = &["CLONE_THREAD", "AF_INET", "AF_INET6", "O_RDONLY"];
const IMAGES: &[&str] = &["registry.example.com/*", "docker.io/library/nginx:*", "*"];
const CHECKS: &[&str] = &["privileged", "host-network", "capabilities", "seccomp"];
const CAPABILITIES: &[&str] = &["NET_BIND_SERVICE", "CHOWN", "SYS_ADMIN"];
const VOLUMES: &[&str] = &["configMap", "secret", "emptyDir", "hostPath"];
const FIELDS: &[&str] = &[
    "run-as-user",
    "run-as-group",
    "fs-group",
    "supplemental-groups",
];
const OPS: &[&str] = &["==", "!=", "<=", ">=", "<", ">", "has", "lacks", "in"];
const METHODS: &[&str] = &["GET", "POST", "PUT", "DELETE"];
const CIDRS: &[&str] = &[
    "10.0.0.0/8",
    "10.1.0.0/16",
    "0.0.0.0/0",
    "fd00::/8",
    "192.168.1.7/32",
];

fn spanned(text: impl Into<String>) -> Ident {
    Ident {
        text: text.into(),
        span: Span::default(),
    }
}

fn pick(u: &mut Unstructured<'_>, pool: &[&str]) -> Result<Ident> {
    Ok(spanned(*u.choose(pool)?))
}

/// Up to `max` items, at least `min`.
fn some<T>(
    u: &mut Unstructured<'_>,
    min: usize,
    max: usize,
    mut item: impl FnMut(&mut Unstructured<'_>) -> Result<T>,
) -> Result<Vec<T>> {
    let n = u.int_in_range(min..=max)?;
    (0..n).map(|_| item(u)).collect()
}

/// A word of `first` then `rest` characters, no keyword.
fn word(u: &mut Unstructured<'_>, first: &[u8], rest: &[u8]) -> Result<String> {
    let mut s = String::new();
    s.push(char::from(*u.choose(first)?));
    for _ in 0..u.int_in_range(0..=8)? {
        s.push(char::from(*u.choose(rest)?));
    }
    if KEYWORDS.contains(&s.as_str()) {
        s.push('x');
    }
    Ok(s)
}

const ALPHA: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
const IDENT: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-";
const KEY: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-/";
const DIGITS: &[u8] = b"0123456789";
const HEX: &[u8] = b"0123456789abcdefABCDEF:.";

/// A name from `pool`, or now and then any identifier.
fn name(u: &mut Unstructured<'_>, pool: &[&str]) -> Result<Ident> {
    if u.ratio(1, 8)? {
        Ok(spanned(word(u, ALPHA, IDENT)?))
    } else {
        pick(u, pool)
    }
}

fn number(u: &mut Unstructured<'_>) -> Result<Ident> {
    if u.ratio(1, 6)? {
        Ok(spanned(word(u, DIGITS, DIGITS)?))
    } else {
        Ok(spanned(u.int_in_range(0u32..=70000)?.to_string()))
    }
}

/// Any text: strings carry every character, escapes included.
fn string(u: &mut Unstructured<'_>, pool: &[&str]) -> Result<Ident> {
    if u.ratio(1, 3)? {
        let s: String = u.arbitrary()?;
        Ok(spanned(s.chars().take(40).collect::<String>()))
    } else {
        pick(u, pool)
    }
}

fn label_key(u: &mut Unstructured<'_>) -> Result<Ident> {
    if u.ratio(1, 6)? {
        let mut key = word(u, KEY, KEY)?;
        // `//` where a token starts opens a comment: no key the grammar reads starts with it.
        if key.starts_with("//") {
            key.insert(0, 'k');
        }
        Ok(spanned(key))
    } else {
        pick(u, LABEL_KEYS)
    }
}

fn label(u: &mut Unstructured<'_>) -> Result<Label> {
    Ok(Label {
        key: label_key(u)?,
        value: string(u, &["web", "db", "a", "1", ""])?,
    })
}

fn selector(u: &mut Unstructured<'_>) -> Result<Selector> {
    let requirements = some(u, 1, 3, |u| {
        Ok(match u.int_in_range(0..=4)? {
            0 => Requirement::Exists(label_key(u)?),
            1 => Requirement::DoesNotExist(label_key(u)?),
            2 => Requirement::In {
                key: label_key(u)?,
                values: some(u, 1, 3, |u| string(u, &["web", "db"]))?,
            },
            3 => Requirement::NotIn {
                key: label_key(u)?,
                values: some(u, 1, 3, |u| string(u, &["web", "db"]))?,
            },
            _ => Requirement::Equals(label(u)?),
        })
    })?;
    Ok(Selector {
        requirements,
        span: Span::default(),
    })
}

fn optional<T>(
    u: &mut Unstructured<'_>,
    item: impl FnOnce(&mut Unstructured<'_>) -> Result<T>,
) -> Result<Option<T>> {
    if u.arbitrary()? {
        Ok(Some(item(u)?))
    } else {
        Ok(None)
    }
}

fn direction(u: &mut Unstructured<'_>) -> Result<Direction> {
    Ok(if u.arbitrary()? {
        Direction::Ingress
    } else {
        Direction::Egress
    })
}

fn isolate(u: &mut Unstructured<'_>) -> Result<(Option<Direction>, Span)> {
    Ok((optional(u, direction)?, Span::default()))
}

fn cidr(u: &mut Unstructured<'_>) -> Result<Ident> {
    if u.ratio(1, 6)? {
        let addr = word(u, HEX, HEX)?;
        let bits = word(u, DIGITS, DIGITS)?;
        Ok(spanned(format!("{addr}/{bits}")))
    } else {
        pick(u, CIDRS)
    }
}

fn service_ref(u: &mut Unstructured<'_>) -> Result<ServiceRef> {
    Ok(ServiceRef {
        namespace: optional(u, |u| name(u, NAMESPACES))?,
        name: name(u, SERVICES)?,
        span: Span::default(),
    })
}

fn peer(u: &mut Unstructured<'_>) -> Result<Peer> {
    let span = Span::default();
    Ok(match u.int_in_range(0..=5)? {
        0 => Peer::World(span),
        1 => Peer::Cidr {
            cidr: cidr(u)?,
            except: some(u, 0, 2, cidr)?,
            span,
        },
        2 => Peer::Host {
            name: string(u, &["api.stripe.com", "*.s3.amazonaws.com"])?,
            span,
        },
        3 => Peer::Pods {
            pods: optional(u, selector)?,
            scope: optional(u, |u| {
                Ok(match u.int_in_range(0..=2)? {
                    0 => Scope::All,
                    1 => Scope::Namespace(name(u, NAMESPACES)?),
                    _ => Scope::Namespaces(optional(u, selector)?),
                })
            })?,
            span,
        },
        _ => Peer::Service(service_ref(u)?),
    })
}

fn port_ref(u: &mut Unstructured<'_>) -> Result<PortRef> {
    Ok(if u.arbitrary()? {
        PortRef::Named(name(u, PORTS)?)
    } else {
        PortRef::Number {
            number: number(u)?,
            end: optional(u, number)?,
            protocol: optional(u, |u| pick(u, &["tcp", "udp", "sctp", "icmp"]))?,
            span: Span::default(),
        }
    })
}

fn flow(u: &mut Unstructured<'_>) -> Result<Flow> {
    let all_ports = u.ratio(1, 8)?;
    Ok(Flow {
        direction: direction(u)?,
        peers: some(u, 1, 3, peer)?,
        ports: if all_ports {
            Vec::new()
        } else {
            some(u, 0, 2, port_ref)?
        },
        all_ports: all_ports.then(Span::default),
        http: some(u, 0, 2, |u| {
            let method = optional(u, |u| pick(u, METHODS))?;
            let path = match method {
                Some(_) => optional(u, |u| string(u, &["/v1/.*", "/"]))?,
                None => Some(string(u, &["/v1/.*", "/"])?),
            };
            Ok(HttpRule {
                method,
                path,
                span: Span::default(),
            })
        })?,
        span: Span::default(),
    })
}

fn action(u: &mut Unstructured<'_>) -> Result<SyscallAction> {
    Ok(match u.int_in_range(0..=7)? {
        0 => SyscallAction::Allow,
        1 => SyscallAction::Deny,
        2 => SyscallAction::Errno(pick(u, ERRNOS)?),
        3 => SyscallAction::KillProcess,
        4 => SyscallAction::KillThread,
        5 => SyscallAction::Log,
        6 => SyscallAction::Trace,
        _ => SyscallAction::Notify,
    })
}

fn syscalls(u: &mut Unstructured<'_>) -> Result<Syscalls> {
    Ok(Syscalls {
        base: some(u, 0, 1, |u| pick(u, &["docker-default", "runtime-default"]))?,
        default: some(u, 0, 1, |u| Ok((action(u)?, Span::default())))?,
        rules: some(u, 0, 3, |u| {
            let groups = u.ratio(1, 4)?;
            Ok(SyscallRule {
                action: action(u)?,
                action_span: Span::default(),
                groups,
                names: some(u, 1, 3, |u| {
                    if groups {
                        name(u, GROUPS)
                    } else if u.ratio(1, 8)? {
                        Ok(spanned(word(
                            u,
                            b"abcdefghijklmnopqrstuvwxyz_",
                            IDENT_SYSCALL,
                        )?))
                    } else {
                        pick(u, SYSCALLS)
                    }
                })?,
                conditions: some(u, 0, 2, |u| {
                    Ok(ArgCondition {
                        arg: spanned(format!("arg{}", u.int_in_range(0..=6)?)),
                        op: pick(u, OPS)?,
                        values: some(u, 1, 3, |u| {
                            Ok(match u.int_in_range(0..=2)? {
                                0 => number(u)?,
                                1 => spanned(format!("0x{:x}", u.arbitrary::<u64>()?)),
                                _ => pick(u, CONSTANTS)?,
                            })
                        })?,
                        span: Span::default(),
                    })
                })?,
            })
        })?,
        span: Span::default(),
    })
}

const IDENT_SYSCALL: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789_";

fn namespace(u: &mut Unstructured<'_>) -> Result<Namespace> {
    Ok(Namespace {
        name: name(u, NAMESPACES)?,
        span: Span::default(),
        isolate: some(u, 0, 2, isolate)?,
        allow_dns: some(u, 0, 1, |_| Ok(Span::default()))?,
        labels: some(u, 0, 2, label)?,
        flows: some(u, 0, 2, flow)?,
        accepts: some(u, 0, 1, accept)?,
    })
}

/// `accept CODE "reason"`, a warning's code or another (E0116).
fn accept(u: &mut Unstructured<'_>) -> Result<Accept> {
    Ok(Accept {
        code: name(u, &["W0306", "W0114", "W0507", "E0102", "W0116", "W9999"])?,
        reason: string(u, &["reviewed", "the \"why\""])?,
        span: Span::default(),
    })
}

fn service(u: &mut Unstructured<'_>) -> Result<Service> {
    Ok(Service {
        name: name(u, SERVICES)?,
        namespace: name(u, NAMESPACES)?,
        span: Span::default(),
        pods: some(u, 0, 1, selector)?,
        ports: some(u, 0, 2, |u| {
            let first = optional(u, number)?;
            let end = match first {
                Some(_) => optional(u, number)?,
                None => None,
            };
            Ok(PortDecl {
                name: name(u, PORTS)?,
                number: first,
                end,
                protocol: optional(u, |u| pick(u, &["tcp", "udp", "sctp"]))?,
                span: Span::default(),
            })
        })?,
        flows: some(u, 0, 3, flow)?,
        syscalls: some(u, 0, 1, syscalls)?,
        isolate: some(u, 0, 1, isolate)?,
        overlaps: some(u, 0, 2, |u| name(u, SERVICES))?,
        accepts: some(u, 0, 1, accept)?,
    })
}

fn admission_scope(u: &mut Unstructured<'_>, all: bool) -> Result<(AdmissionScope, Span)> {
    let scope = match u.int_in_range(0..=2)? {
        0 if all => AdmissionScope::All,
        1 => AdmissionScope::Labels(optional(u, selector)?),
        _ => AdmissionScope::Names(some(u, 1, 2, |u| name(u, NAMESPACES))?),
    };
    Ok((scope, Span::default()))
}

fn admission(u: &mut Unstructured<'_>) -> Result<Admission> {
    Ok(Admission {
        name: name(u, &["baseline", "shop-rules", "images"])?,
        span: Span::default(),
        applies: some(u, 0, 2, |u| admission_scope(u, true))?,
        except: some(u, 0, 1, |u| admission_scope(u, false))?,
        forbid: some(u, 0, 2, |u| {
            name(u, &["privileged", "host-network", "latest-tag"])
        })?,
        require: some(u, 0, 2, |u| {
            name(u, &["non-root", "read-only-root", "limits"])
        })?,
        require_labels: some(u, 0, 2, label_key)?,
        require_annotations: some(u, 0, 1, label_key)?,
        images: some(u, 0, 2, |u| string(u, IMAGES))?,
        modes: some(u, 0, 1, |u| name(u, &["enforce", "audit", "warn"]))?,
        pod_security: some(u, 0, 1, |u| {
            Ok((
                name(u, &["baseline", "restricted"])?,
                optional(u, |u| pick(u, &["v1.36", "v1.30", "1.2.3"]))?,
                Span::default(),
            ))
        })?,
        exempt: some(u, 0, 1, |u| {
            Ok((
                name(u, CHECKS)?,
                string(u, &["legacy", "vendor"])?,
                terms(u)?,
            ))
        })?,
        exempt_images: some(u, 0, 1, |u| {
            Ok((
                some(u, 1, 2, |u| string(u, IMAGES))?,
                string(u, &["vendor"])?,
                terms(u)?,
            ))
        })?,
        forbid_host_paths: some(u, 0, 2, |u| string(u, &["/", "/var/run", "/etc"]))?,
        allow_capabilities: some(u, 0, 2, |u| name(u, CAPABILITIES))?,
        allow_volumes: some(u, 0, 2, |u| name(u, VOLUMES))?,
        ids: some(u, 0, 2, |u| {
            let ranges = optional(u, |u| {
                some(u, 1, 2, |u| {
                    let from = u.int_in_range(0u32..=70000)?;
                    Ok(spanned(if u.arbitrary()? {
                        format!("{from}-{}", u.int_in_range(0u32..=70000)?)
                    } else {
                        from.to_string()
                    }))
                })
            })?;
            Ok((pick(u, FIELDS)?, ranges, Span::default()))
        })?,
        cel: some(u, 0, 1, |u| {
            Ok((
                string(u, &["object.metadata.name != ''", "has(object.spec)"])?,
                string(u, &["named", "must have a spec"])?,
            ))
        })?,
        accepts: some(u, 0, 1, accept)?,
    })
}

/// Days as the grammar takes them: some that exist, some that do not.
const DATES: &[&str] = &[
    "2027-03-31",
    "2026-11-30",
    "2026-12-20",
    "2027-02-30",
    "9999-99-99",
];

/// An exemption's owner and end, either, both or neither.
fn terms(u: &mut Unstructured<'_>) -> Result<Terms> {
    Ok(Terms {
        owner: optional(u, |u| string(u, &["platform", "", "team \"a\""]))?,
        until: optional(u, |u| pick(u, DATES))?,
    })
}

fn compliance(u: &mut Unstructured<'_>) -> Result<Compliance> {
    const FRAMEWORKS: &[&str] = &[
        "nist-800-53",
        "pci-dss",
        "cis-kubernetes",
        "nsa-cisa",
        "pod-security",
        "iso",
    ];
    const CONTROLS: &[&str] = &[
        "AC-4",
        "SC-7(5)",
        "1.3.2",
        "5.2.2",
        "net-default-deny",
        "privileged",
        "9.9",
    ];
    Ok(Compliance {
        name: name(u, &["estate", "payments"])?,
        span: Span::default(),
        frameworks: some(u, 0, 2, |u| pick(u, FRAMEWORKS))?,
        applies: some(u, 0, 1, |u| admission_scope(u, true))?,
        except: some(u, 0, 1, |u| admission_scope(u, false))?,
        waivers: some(u, 0, 2, |u| {
            Ok(Waiver {
                framework: pick(u, FRAMEWORKS)?,
                control: pick(u, CONTROLS)?,
                owner: string(u, &["ops", ""])?,
                until: pick(u, DATES)?,
                reason: string(u, &["SEC-1", "a | b"])?,
                span: Span::default(),
            })
        })?,
    })
}

fn endpoint(u: &mut Unstructured<'_>) -> Result<Endpoint> {
    Ok(match u.int_in_range(0..=2)? {
        0 => Endpoint::World(Span::default()),
        1 => Endpoint::Cidr(cidr(u)?),
        _ => Endpoint::Service(service_ref(u)?),
    })
}

/// A whole file: a few declarations of each kind.
pub fn file(u: &mut Unstructured<'_>) -> Result<File> {
    Ok(File {
        namespaces: some(u, 0, 3, namespace)?,
        services: some(u, 0, 4, service)?,
        admissions: some(u, 0, 2, admission)?,
        compliance: some(u, 0, 1, compliance)?,
        expects: some(u, 0, 3, |u| {
            Ok(Expect {
                from: endpoint(u)?,
                to: endpoint(u)?,
                port: optional(u, port_ref)?,
                allowed: u.arbitrary()?,
                span: Span::default(),
            })
        })?,
        dns: some(u, 0, 1, |u| {
            Ok(Dns {
                span: Span::default(),
                namespace: optional(u, |u| name(u, NAMESPACES))?,
                pods: optional(u, selector)?,
                nodelocal: optional(u, |u| {
                    if u.arbitrary()? {
                        Ok(spanned("169.254.20.10"))
                    } else {
                        Ok(spanned(word(u, HEX, HEX)?))
                    }
                })?,
            })
        })?,
    })
}
