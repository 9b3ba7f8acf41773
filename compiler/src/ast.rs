//! The abstract syntax tree: what the user wrote, with spans, before any name is resolved.
//!
//! Produced by `parse`, consumed by `check`. Nothing here is validated beyond the grammar: a name
//! may be unknown, a port number out of range, a CIDR malformed.

use crate::span::Span;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Ident {
    pub text: String,
    pub span: Span,
}

/// A reference to a service: `cart` or `payments/cart`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceRef {
    pub namespace: Option<Ident>,
    pub name: Ident,
    pub span: Span,
}

#[derive(Clone, Debug, Default)]
pub struct File {
    pub namespaces: Vec<Namespace>,
    pub services: Vec<Service>,
    pub admissions: Vec<Admission>,
    pub expects: Vec<Expect>,
    pub dns: Vec<Dns>,
    pub compliance: Vec<Compliance>,
}

/// A `compliance` block: frameworks claimed for a scope of namespaces, and controls waived there.
#[derive(Clone, Debug, Default)]
pub struct Compliance {
    pub name: Ident,
    pub span: Span,
    /// The frameworks of each `framework` line.
    pub frameworks: Vec<Ident>,
    /// `applies to …` lines, with their spans.
    pub applies: Vec<(AdmissionScope, Span)>,
    /// `except …` lines, with their spans.
    pub except: Vec<(AdmissionScope, Span)>,
    pub waivers: Vec<Waiver>,
}

/// `waive FRAMEWORK CONTROL owner "…" until DATE because "…"`.
#[derive(Clone, Debug)]
pub struct Waiver {
    pub framework: Ident,
    pub control: Ident,
    pub owner: Ident,
    pub until: Ident,
    pub reason: Ident,
    pub span: Span,
}

/// Who answers for an exemption and the day it ends, where the line says so.
#[derive(Clone, Debug, Default)]
pub struct Terms {
    pub owner: Option<Ident>,
    pub until: Option<Ident>,
}

/// A `dns { … }` block: where the cluster DNS runs.
#[derive(Clone, Debug)]
pub struct Dns {
    pub span: Span,
    pub namespace: Option<Ident>,
    pub pods: Option<Selector>,
    pub nodelocal: Option<Ident>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    Ingress,
    Egress,
}

#[derive(Clone, Debug)]
pub struct Namespace {
    pub name: Ident,
    pub span: Span,
    /// Each `isolate` line; `None` direction means both.
    pub isolate: Vec<(Option<Direction>, Span)>,
    pub allow_dns: Vec<Span>,
    pub labels: Vec<Label>,
    /// Flows of every pod of the namespace.
    pub flows: Vec<Flow>,
    pub accepts: Vec<Accept>,
}

/// `accept CODE "reason"`: warnings of that code about the block it is in are acknowledged.
#[derive(Clone, Debug)]
pub struct Accept {
    pub code: Ident,
    pub reason: Ident,
    pub span: Span,
}

#[derive(Clone, Debug)]
pub struct Service {
    pub name: Ident,
    pub namespace: Ident,
    pub span: Span,
    pub pods: Vec<Selector>,
    pub ports: Vec<PortDecl>,
    pub flows: Vec<Flow>,
    pub syscalls: Vec<Syscalls>,
    /// Each `isolate` line of the service; `None` direction means both.
    pub isolate: Vec<(Option<Direction>, Span)>,
    /// The services named by `overlaps` lines.
    pub overlaps: Vec<Ident>,
    pub accepts: Vec<Accept>,
}

#[derive(Clone, Debug)]
pub struct Selector {
    pub requirements: Vec<Requirement>,
    pub span: Span,
}

/// One requirement of a label selector.
#[derive(Clone, Debug)]
pub enum Requirement {
    Equals(Label),
    In { key: Ident, values: Vec<Ident> },
    NotIn { key: Ident, values: Vec<Ident> },
    Exists(Ident),
    DoesNotExist(Ident),
}

impl Requirement {
    pub fn key(&self) -> &Ident {
        match self {
            Requirement::Equals(l) => &l.key,
            Requirement::In { key, .. } | Requirement::NotIn { key, .. } => key,
            Requirement::Exists(k) | Requirement::DoesNotExist(k) => k,
        }
    }
}

#[derive(Clone, Debug)]
pub struct Label {
    pub key: Ident,
    pub value: Ident,
}

#[derive(Clone, Debug)]
pub struct PortDecl {
    pub name: Ident,
    /// `None`: the pods' container port of this name.
    pub number: Option<Ident>,
    /// The last port of a range `8000-8100`.
    pub end: Option<Ident>,
    pub protocol: Option<Ident>,
    pub span: Span,
}

#[derive(Clone, Debug)]
pub struct Flow {
    pub direction: Direction,
    pub peers: Vec<Peer>,
    pub ports: Vec<PortRef>,
    /// `on all ports`, said on purpose.
    pub all_ports: Option<Span>,
    /// `only …`: the HTTP requests allowed.
    pub http: Vec<HttpRule>,
    pub span: Span,
}

/// One `METHOD "PATH"` of `only`; either may be missing, not both.
#[derive(Clone, Debug)]
pub struct HttpRule {
    pub method: Option<Ident>,
    pub path: Option<Ident>,
    pub span: Span,
}

#[derive(Clone, Debug)]
pub enum Peer {
    World(Span),
    Cidr {
        cidr: Ident,
        except: Vec<Ident>,
        span: Span,
    },
    Service(ServiceRef),
    /// `host "NAME"`: a DNS name outside the cluster.
    Host {
        name: Ident,
        span: Span,
    },
    /// Pods by labels (`None`: every pod) in a scope of namespaces (`None`: the service's own).
    Pods {
        pods: Option<Selector>,
        scope: Option<Scope>,
        span: Span,
    },
}

/// Namespaces an admission block applies to or leaves out.
#[derive(Clone, Debug)]
pub enum AdmissionScope {
    Names(Vec<Ident>),
    /// `namespaces(SELECTOR)`; `None` is `namespaces()`, every namespace.
    Labels(Option<Selector>),
    All,
}

/// The namespaces a `pods(…)` peer looks in.
#[derive(Clone, Debug)]
pub enum Scope {
    Namespace(Ident),
    /// `namespaces(SELECTOR)`; `None` is `namespaces()`, every namespace.
    Namespaces(Option<Selector>),
    All,
}

impl Peer {
    pub fn span(&self) -> Span {
        match self {
            Peer::World(span)
            | Peer::Cidr { span, .. }
            | Peer::Pods { span, .. }
            | Peer::Host { span, .. } => *span,
            Peer::Service(r) => r.span,
        }
    }
}

#[derive(Clone, Debug)]
pub enum PortRef {
    Named(Ident),
    Number {
        number: Ident,
        end: Option<Ident>,
        protocol: Option<Ident>,
        span: Span,
    },
}

impl PortRef {
    pub fn span(&self) -> Span {
        match self {
            PortRef::Named(i) => i.span,
            PortRef::Number { span, .. } => *span,
        }
    }
}

#[derive(Clone, Debug)]
pub struct Syscalls {
    /// `base NAME` lines.
    pub base: Vec<Ident>,
    /// `default ACTION` lines, with their spans.
    pub default: Vec<(SyscallAction, Span)>,
    pub rules: Vec<SyscallRule>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SyscallAction {
    Allow,
    /// The profile's denial: EPERM.
    Deny,
    Errno(Ident),
    KillProcess,
    KillThread,
    Log,
    Trace,
    Notify,
}

#[derive(Clone, Debug)]
pub struct SyscallRule {
    pub action: SyscallAction,
    pub action_span: Span,
    pub groups: bool,
    pub names: Vec<Ident>,
    /// `if …` conditions on the arguments, all of which must hold.
    pub conditions: Vec<ArgCondition>,
}

/// `argN OP VALUE[, …]`: the argument, the operator as written, and its values (numbers or
/// constant names, as written).
#[derive(Clone, Debug)]
pub struct ArgCondition {
    pub arg: Ident,
    pub op: Ident,
    pub values: Vec<Ident>,
    pub span: Span,
}

#[derive(Clone, Debug, Default)]
pub struct Admission {
    pub name: Ident,
    pub span: Span,
    /// `applies to workloads in …` lines, with their spans.
    pub applies: Vec<(AdmissionScope, Span)>,
    /// `except …` lines, with their spans.
    pub except: Vec<(AdmissionScope, Span)>,
    pub forbid: Vec<Ident>,
    pub require: Vec<Ident>,
    pub require_labels: Vec<Ident>,
    pub require_annotations: Vec<Ident>,
    pub images: Vec<Ident>,
    pub modes: Vec<Ident>,
    /// `pod-security LEVEL [version V]` lines: the level, the version, the line.
    pub pod_security: Vec<(Ident, Option<Ident>, Span)>,
    /// `exempt CHECK "reason" [owner "…"] [until DATE]` lines.
    pub exempt: Vec<(Ident, Ident, Terms)>,
    /// `exempt images "PATTERN", … because "reason" [owner "…"] [until DATE]` lines.
    pub exempt_images: Vec<(Vec<Ident>, Ident, Terms)>,
    pub forbid_host_paths: Vec<Ident>,
    pub allow_capabilities: Vec<Ident>,
    pub allow_volumes: Vec<Ident>,
    /// `run-as-user …`, `run-as-group …`, `fs-group …`, `supplemental-groups …` lines: the field,
    /// `None` for `non-root` or the ranges as written, and the line.
    pub ids: Vec<(Ident, Option<Vec<Ident>>, Span)>,
    /// `require cel "EXPRESSION" message "MESSAGE"` lines.
    pub cel: Vec<(Ident, Ident)>,
    pub accepts: Vec<Accept>,
}

#[derive(Clone, Debug)]
pub enum Endpoint {
    World(Span),
    Cidr(Ident),
    Service(ServiceRef),
}

impl Endpoint {
    pub fn span(&self) -> Span {
        match self {
            Endpoint::World(s) => *s,
            Endpoint::Cidr(i) => i.span,
            Endpoint::Service(r) => r.span,
        }
    }
}

#[derive(Clone, Debug)]
pub struct Expect {
    pub from: Endpoint,
    pub to: Endpoint,
    pub port: Option<PortRef>,
    pub allowed: bool,
    pub span: Span,
}
