//! The IR: one typed model of the security intent, with every name resolved.
//!
//! `check` builds it from the AST only when the program has no errors; `lower` reads it for each
//! target and the connectivity evaluator answers `expect` from it. Every collection is ordered
//! (`BTreeMap`, sorted `Vec`), so anything derived from the IR is deterministic.

pub mod connectivity;
pub mod regions;

use crate::span::Span;
use ipnet::IpNet;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::Arc;

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ServiceId {
    pub namespace: String,
    pub name: String,
}

impl fmt::Display for ServiceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.namespace, self.name)
    }
}

/// A declared service, by its place among the program's services (`Services`). They are in the
/// order of their ids, so references order as ids do: flows sorted by them are in the order they
/// had when peers were ids. A number, not the id: a program has flows by the hundred thousand,
/// each naming one or two services, and comparing, hashing and looking up a pair of strings
/// scattered over the heap for each grew faster than the program (at 100,000 services, lowering
/// `netpol` and `cilium` took 17 and 16 times as long as at 10,000, the flows' sort 16 times).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ServiceRef(u32);

impl ServiceRef {
    /// Its place among the services: where a table with an entry per service keeps its entry.
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// The program's services. INVARIANT: sorted by id, each id once, fewer than 2^32.
#[derive(Clone, Debug, Default)]
pub struct Services(Vec<Service>);

impl Services {
    /// The services of `list`, in the order of their ids; of two with one id (which `check`
    /// never makes), the first; beyond 2^32 services (a program of more than a hundred
    /// gigabytes, whose IR no machine would hold), none.
    pub fn new(mut list: Vec<Service>) -> Services {
        list.sort_by(|a, b| a.id.cmp(&b.id));
        list.dedup_by(|later, first| later.id == first.id);
        list.truncate(u32::MAX as usize);
        Services(list)
    }

    /// The service `r` refers to: one of these, when `r` was made by them.
    pub fn at(&self, r: ServiceRef) -> Option<&Service> {
        self.0.get(r.0 as usize)
    }

    /// The reference to the service `name` of `namespace`.
    pub fn find(&self, namespace: &str, name: &str) -> Option<ServiceRef> {
        let at = self
            .0
            .binary_search_by(|s| {
                (s.id.namespace.as_str(), s.id.name.as_str()).cmp(&(namespace, name))
            })
            .ok()?;
        u32::try_from(at).ok().map(ServiceRef)
    }

    pub fn get(&self, id: &ServiceId) -> Option<&Service> {
        self.find(&id.namespace, &id.name).and_then(|r| self.at(r))
    }

    /// Within the crate only: a caller that changed a service's id would break the order.
    pub(crate) fn get_mut(&mut self, r: ServiceRef) -> Option<&mut Service> {
        self.0.get_mut(r.0 as usize)
    }

    /// Every service, in the order of their ids.
    pub fn values(&self) -> std::slice::Iter<'_, Service> {
        self.0.iter()
    }

    /// Every service with its reference, in the order of their ids.
    pub fn iter(&self) -> impl Iterator<Item = (ServiceRef, &Service)> {
        (0..).map(ServiceRef).zip(&self.0)
    }

    pub fn keys(&self) -> impl Iterator<Item = &ServiceId> {
        self.0.iter().map(|s| &s.id)
    }

    /// The services of `namespace`: neighbours, as ids are ordered by namespace first.
    pub fn in_namespace<'s>(&'s self, namespace: &str) -> &'s [Service] {
        let start = self
            .0
            .partition_point(|s| s.id.namespace.as_str() < namespace);
        let end = self
            .0
            .partition_point(|s| s.id.namespace.as_str() <= namespace);
        self.0.get(start..end).unwrap_or_default()
    }

    /// The services of `namespace` with their references.
    pub fn of_namespace<'s>(
        &'s self,
        namespace: &str,
    ) -> impl Iterator<Item = (ServiceRef, &'s Service)> + 's {
        let start = self
            .0
            .partition_point(|s| s.id.namespace.as_str() < namespace);
        // INVARIANT (Services): fewer than 2^32, so every place is a reference.
        (start..)
            .map_while(|i| u32::try_from(i).ok().map(ServiceRef))
            .zip(self.in_namespace(namespace))
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// References to services by namespace and name, hashed, for a pass that resolves a name for every
/// flow naming it: a search of the ordered services compares ids level by level (17 times at
/// 100,000 services, each a cache miss). A pair of strings rather than an id, so that a name is
/// looked up as written, without copying it into an id first. aHash, keyed at random for each run
/// as the standard library's SipHash is (the names are the program's, which may be hostile), at a
/// third of SipHash's cost. Only ever looked up: nothing iterates it, so its random order never
/// reaches an output.
pub type ServiceIndex<'a> = ahash::HashMap<(&'a str, &'a str), ServiceRef>;

#[derive(Debug, Default)]
pub struct Program {
    pub namespaces: BTreeMap<String, Namespace>,
    pub services: Services,
    /// INVARIANT: sorted and free of exact duplicates (see `Program::normalize`).
    pub flows: Vec<Flow>,
    pub admissions: BTreeMap<String, Admission>,
    pub expects: Vec<Expect>,
    pub dns: Dns,
}

#[derive(Debug, Clone)]
pub struct Namespace {
    pub name: String,
    /// Labels the namespace carries besides `kubernetes.io/metadata.name`.
    pub labels: BTreeMap<String, String>,
    pub isolate_ingress: bool,
    pub isolate_egress: bool,
    pub allow_dns: bool,
    pub span: Span,
}

impl Namespace {
    pub fn isolated(&self) -> bool {
        self.isolate_ingress || self.isolate_egress
    }

    /// Whether the namespace isolates egress (`true`) or ingress (`false`).
    pub fn isolates(&self, egress: bool) -> bool {
        if egress {
            self.isolate_egress
        } else {
            self.isolate_ingress
        }
    }
}

/// A label selector: every pod whose labels satisfy all of it.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Selector {
    /// INVARIANT: sorted by key, one per key. A vector rather than a map: almost every selector
    /// has one or two labels, and a map's smallest node is eleven entries wide (at 10,000
    /// services, 5 MiB of the peak). Sorted, it compares and orders as the map did.
    pub match_labels: Vec<(String, String)>,
    /// INVARIANT: sorted by key, one per key, no key also in `match_labels`; `key in (v)` with one
    /// value is kept in `match_labels`, so that selectors meaning the same compare equal.
    pub expressions: Vec<Expression>,
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Expression {
    pub key: String,
    pub operator: Operator,
    /// INVARIANT: sorted and deduplicated; empty for `Exists` and `DoesNotExist`.
    pub values: Vec<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Operator {
    In,
    NotIn,
    Exists,
    DoesNotExist,
}

impl Operator {
    pub fn k8s(self) -> &'static str {
        match self {
            Operator::In => "In",
            Operator::NotIn => "NotIn",
            Operator::Exists => "Exists",
            Operator::DoesNotExist => "DoesNotExist",
        }
    }
}

impl Selector {
    /// Whether a pod with `labels` satisfies every requirement, as Kubernetes evaluates them.
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.match_labels
            .iter()
            .all(|(k, v)| labels.get(k) == Some(v))
            && self.expressions.iter().all(|e| {
                let value = labels.get(&e.key);
                match e.operator {
                    Operator::In => value.is_some_and(|v| e.values.contains(v)),
                    Operator::NotIn => value.is_none_or(|v| !e.values.contains(v)),
                    Operator::Exists => value.is_some(),
                    Operator::DoesNotExist => value.is_none(),
                }
            })
    }

    pub fn is_empty(&self) -> bool {
        self.match_labels.is_empty() && self.expressions.is_empty()
    }

    /// The labels of a pod this selector matches, with as few labels as it takes: the pod that
    /// stands for a service's pods when a question names the service.
    pub fn example(&self) -> BTreeMap<String, String> {
        let mut labels: BTreeMap<String, String> = self.match_labels.iter().cloned().collect();
        for e in &self.expressions {
            match e.operator {
                Operator::In => {
                    if let Some(v) = e.values.first() {
                        labels.insert(e.key.clone(), v.clone());
                    }
                }
                Operator::Exists => {
                    labels.insert(e.key.clone(), "true".to_string());
                }
                Operator::NotIn | Operator::DoesNotExist => {}
            }
        }
        labels
    }
}

#[derive(Debug, Clone)]
pub struct Service {
    pub id: ServiceId,
    /// The pods of the service: every pod of its namespace its selector matches.
    /// INVARIANT: never empty (check rejects a service without `pods`).
    pub selector: Selector,
    /// The declared ports by name. INVARIANT: sorted by name, one per name (a vector for the
    /// reason `Selector::match_labels` is one).
    pub ports: Vec<(String, PortSpec)>,
    /// The service's own `isolate`, besides its namespace's.
    pub isolate_ingress: bool,
    pub isolate_egress: bool,
    pub syscalls: Option<SyscallPolicy>,
    pub span: Span,
}

impl Service {
    /// Whether the service's own `isolate` covers egress (`true`) or ingress (`false`).
    pub fn isolates_itself(&self, egress: bool) -> bool {
        if egress {
            self.isolate_egress
        } else {
            self.isolate_ingress
        }
    }

    /// Whether this service's selector selects a pod of `namespace` with `labels` (same namespace,
    /// its labels a subset of the pod's), as a NetworkPolicy podSelector would.
    pub fn selects_pod(&self, namespace: &str, labels: &BTreeMap<String, String>) -> bool {
        self.id.namespace == namespace && self.selector.matches(labels)
    }
}

/// The label Kubernetes sets on every namespace to its name.
pub const NAME_LABEL: &str = "kubernetes.io/metadata.name";

/// Where `allow dns` sends DNS queries by default: the pods of the cluster DNS.
pub const DNS_NAMESPACE: &str = "kube-system";
pub const DNS_LABELS: [(&str, &str); 1] = [("k8s-app", "kube-dns")];

/// The cluster DNS, as the program's `dns` block (or the default) says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dns {
    pub namespace: String,
    pub pods: Selector,
    /// NodeLocal DNSCache's link-local address, reached as an address outside the cluster.
    pub nodelocal: Option<IpNet>,
}

impl Default for Dns {
    fn default() -> Self {
        Dns {
            namespace: DNS_NAMESPACE.to_string(),
            pods: Selector {
                match_labels: DNS_LABELS
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
                expressions: Vec::new(),
            },
            nodelocal: None,
        }
    }
}

/// Any pod of the cluster, as the connectivity evaluator and its oracle see it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pod {
    pub namespace: String,
    pub labels: BTreeMap<String, String>,
    /// How messages name it.
    pub name: String,
    /// Its containers' named ports, where they are known: what a named port in a policy means
    /// for this pod.
    pub named_ports: BTreeMap<String, Port>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Protocol {
    Tcp,
    Udp,
    Sctp,
}

impl Protocol {
    pub fn parse(text: &str) -> Option<Protocol> {
        match text {
            "tcp" => Some(Protocol::Tcp),
            "udp" => Some(Protocol::Udp),
            "sctp" => Some(Protocol::Sctp),
            _ => None,
        }
    }

    /// The spelling of the language.
    pub fn word(self) -> &'static str {
        match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
            Protocol::Sctp => "sctp",
        }
    }

    /// The spelling Kubernetes uses.
    pub fn k8s(self) -> &'static str {
        match self {
            Protocol::Tcp => "TCP",
            Protocol::Udp => "UDP",
            Protocol::Sctp => "SCTP",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Port {
    pub number: u16,
    pub protocol: Protocol,
}

impl fmt::Display for Port {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.number, self.protocol.word())
    }
}

/// Ports `start` to `end` of one protocol; a single port has `start == end`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PortRange {
    pub start: u16,
    pub end: u16,
    pub protocol: Protocol,
}

impl PortRange {
    pub fn contains(&self, port: Port) -> bool {
        self.protocol == port.protocol && self.start <= port.number && port.number <= self.end
    }

    /// Whether every port of `other` is one of these.
    pub fn includes(&self, other: &PortRange) -> bool {
        self.protocol == other.protocol && self.start <= other.start && other.end <= self.end
    }

    pub fn single(port: Port) -> PortRange {
        PortRange {
            start: port.number,
            end: port.number,
            protocol: port.protocol,
        }
    }

    /// Every port of the range, for questions asked port by port.
    pub fn ports(&self) -> impl Iterator<Item = Port> + '_ {
        (self.start..=self.end).map(|number| Port {
            number,
            protocol: self.protocol,
        })
    }
}

impl fmt::Display for PortRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let first = Port {
            number: self.start,
            protocol: self.protocol,
        };
        if self.end == self.start {
            write!(f, "{first}")
        } else {
            let text = first.to_string();
            let (number, proto) = text.split_once('/').unwrap_or((&text, ""));
            write!(f, "{number}-{}/{proto}", self.end)
        }
    }
}

/// A container port by its name: its number is whatever the server pod's container says, so
/// a policy names it and the cluster resolves it pod by pod.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NamedPort {
    pub name: String,
    pub protocol: Protocol,
}

impl fmt::Display for NamedPort {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{} (named)", self.name, self.protocol.word())
    }
}

/// A port of a service or a flow: numbers, or a container port's name.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PortSpec {
    Range(PortRange),
    Named(NamedPort),
}

impl fmt::Display for PortSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PortSpec::Range(r) => r.fmt(f),
            PortSpec::Named(n) => n.fmt(f),
        }
    }
}

/// A port asked about: a number, or a server's named port whose number is not known.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Probe {
    Number(Port),
    Named(NamedPort),
}

impl fmt::Display for Probe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Probe::Number(p) => p.fmt(f),
            Probe::Named(n) => n.fmt(f),
        }
    }
}

impl PortSpec {
    /// Whether a connection to `server` on `probe` uses this port. A named port means, for a
    /// number, the server's container port of that name.
    pub fn covers(&self, probe: &Probe, server: &Pod) -> bool {
        let resolved = |n: &NamedPort| {
            server
                .named_ports
                .get(&n.name)
                .filter(|p| p.protocol == n.protocol)
                .copied()
        };
        match (self, probe) {
            (PortSpec::Range(r), Probe::Number(p)) => r.contains(*p),
            (PortSpec::Range(r), Probe::Named(n)) => resolved(n).is_some_and(|p| r.contains(p)),
            (PortSpec::Named(n), Probe::Number(p)) => resolved(n) == Some(*p),
            (PortSpec::Named(n), Probe::Named(m)) => {
                n == m || resolved(n).is_some_and(|p| resolved(m) == Some(p))
            }
        }
    }
}

/// The ports a flow allows.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Ports {
    All,
    /// INVARIANT: sorted, deduplicated, not empty.
    Only(Vec<PortSpec>),
}

impl Ports {
    /// Whether a connection to `server` on `probe` is one of these ports.
    pub fn covers(&self, probe: &Probe, server: &Pod) -> bool {
        match self {
            Ports::All => true,
            Ports::Only(list) => list.iter().any(|s| s.covers(probe, server)),
        }
    }
}

/// Addresses outside the cluster: a CIDR less its exceptions.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct IpBlock {
    pub cidr: IpNet,
    /// INVARIANT: sorted, each strictly inside `cidr`, none overlapping another.
    pub except: Vec<IpNet>,
}

/// The pods of `Peer::Pods`: those `pods` selects in the namespaces `namespaces` takes.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Pods {
    pub namespaces: NamespaceScope,
    pub pods: Selector,
}

/// The namespaces whose pods a `Peer::Pods` takes.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum NamespaceScope {
    Name(String),
    /// Namespaces whose labels (with `kubernetes.io/metadata.name`) match; empty: every namespace.
    Labels(Selector),
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Peer {
    Service(ServiceRef),
    /// Every pod of a namespace, as the holder of the namespace's own flows: it has rules where
    /// the namespace isolates, as a service has.
    Namespace(String),
    /// Pods that need not be a declared service: a one-sided peer, like `world`. Boxed, as is
    /// `Ip`: a flow holds two peers, and these two are two to four times the size of the others
    /// (a flow of 264 bytes rather than 136, in a vector of hundreds of thousands that is sorted).
    Pods(Box<Pods>),
    /// `world`: every address outside the cluster, IPv4 and IPv6.
    World,
    Ip(Box<IpBlock>),
    /// A DNS name outside the cluster (lowercase, no trailing dot; `*` is a wildcard): the
    /// addresses it resolves to, as the cluster's DNS answers. Only targets that watch DNS say it.
    Host(String),
}

impl Peer {
    /// The address blocks an external peer stands for.
    pub fn blocks(&self) -> Vec<IpBlock> {
        match self {
            Peer::Service(_) | Peer::Namespace(_) | Peer::Pods(_) | Peer::Host(_) => Vec::new(),
            Peer::World => world_blocks(),
            Peer::Ip(b) => vec![(**b).clone()],
        }
    }
}

/// `world`'s address blocks, as `IpNet` writes them.
pub const WORLD: [&str; 2] = ["0.0.0.0/0", "::/0"];

pub fn world_blocks() -> Vec<IpBlock> {
    WORLD
        .iter()
        .filter_map(|s| s.parse().ok())
        .map(|cidr| IpBlock {
            cidr,
            except: Vec::new(),
        })
        .collect()
}

/// One declared flow: the client may open connections to the server on `ports`.
/// INVARIANT: at least one of `client` and `server` is a service.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Flow {
    pub client: Peer,
    pub server: Peer,
    pub ports: Ports,
    /// Layer 7: the HTTP requests allowed on those ports; empty is every request (and every
    /// protocol). INVARIANT: not empty only with `Ports::Only` of TCP ports.
    pub http: Vec<HttpRule>,
    pub span: Span,
}

/// An HTTP request a flow allows: a method, a path (a regular expression, as the proxies match
/// it), or both.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct HttpRule {
    pub method: Option<String>,
    pub path: Option<String>,
}

impl fmt::Display for HttpRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.method, &self.path) {
            (Some(m), Some(p)) => write!(f, "{m} {p}"),
            (Some(m), None) => write!(f, "{m}"),
            (None, Some(p)) => write!(f, "{p}"),
            (None, None) => write!(f, "any request"),
        }
    }
}

/// What seccomp does with a system call.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum SeccompAction {
    Allow,
    /// Fail with this errno.
    Errno(u16),
    KillProcess,
    KillThread,
    Log,
    Trace,
    Notify,
}

impl SeccompAction {
    /// The libseccomp name a profile writes.
    pub fn scmp(self) -> &'static str {
        match self {
            SeccompAction::Allow => "SCMP_ACT_ALLOW",
            SeccompAction::Errno(_) => "SCMP_ACT_ERRNO",
            SeccompAction::KillProcess => "SCMP_ACT_KILL_PROCESS",
            SeccompAction::KillThread => "SCMP_ACT_KILL_THREAD",
            SeccompAction::Log => "SCMP_ACT_LOG",
            SeccompAction::Trace => "SCMP_ACT_TRACE",
            SeccompAction::Notify => "SCMP_ACT_NOTIFY",
        }
    }

    /// Whether the call runs (`log` runs it and records it).
    pub fn runs(self) -> bool {
        matches!(self, SeccompAction::Allow | SeccompAction::Log)
    }
}

/// A comparison of one system call argument, as seccomp makes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct ArgCmp {
    pub index: u8,
    pub op: CmpOp,
    pub value: u64,
    /// The second operand of `MaskedEq`: `(arg & value) == value_two`.
    pub value_two: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum CmpOp {
    Ne,
    Lt,
    Le,
    Eq,
    Ge,
    Gt,
    MaskedEq,
}

impl CmpOp {
    pub fn scmp(self) -> &'static str {
        match self {
            CmpOp::Ne => "SCMP_CMP_NE",
            CmpOp::Lt => "SCMP_CMP_LT",
            CmpOp::Le => "SCMP_CMP_LE",
            CmpOp::Eq => "SCMP_CMP_EQ",
            CmpOp::Ge => "SCMP_CMP_GE",
            CmpOp::Gt => "SCMP_CMP_GT",
            CmpOp::MaskedEq => "SCMP_CMP_MASKED_EQ",
        }
    }

    pub fn holds(self, arg: u64, value: u64, value_two: u64) -> bool {
        match self {
            CmpOp::Ne => arg != value,
            CmpOp::Lt => arg < value,
            CmpOp::Le => arg <= value,
            CmpOp::Eq => arg == value,
            CmpOp::Ge => arg >= value,
            CmpOp::Gt => arg > value,
            CmpOp::MaskedEq => arg & value == value_two,
        }
    }
}

/// One system call's treatment: its action, under any of `when`'s condition sets (each a
/// conjunction); empty `when` is unconditional. Where no condition set holds, the default applies.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyscallEntry {
    pub action: SeccompAction,
    pub when: Vec<Vec<ArgCmp>>,
    /// The rule that decided it, as bytes from the start of its block (`SyscallPolicy::rule_span`
    /// makes it a span): relative, so that blocks of the same text share one set of entries.
    pub rule: BlockOffset,
    /// The group that brought it in, if not named.
    pub group: Option<&'static str>,
}

/// A byte range inside a `syscalls` block, from the block's first byte.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BlockOffset {
    pub start: usize,
    pub end: usize,
}

/// warden's own reading of a profile: what it does with one call, the way the kernel decides.
impl SyscallPolicy {
    /// The span of the rule that decided `entry`, one of this policy's.
    pub fn rule_span(&self, entry: &SyscallEntry) -> Span {
        Span::new(
            self.span.file,
            self.span.start + entry.rule.start,
            self.span.start + entry.rule.end,
        )
    }

    /// The action for `name` with `args`; `None` where Docker's base decides (its rules depend on
    /// the container's capabilities and the kernel, which only a runtime knows).
    pub fn action(&self, name: &str, args: &[u64; 6]) -> Option<SeccompAction> {
        match self.entries.get(name) {
            Some(e) if e.when.is_empty() => Some(e.action),
            Some(e) => {
                let holds = |c: &ArgCmp| {
                    args.get(usize::from(c.index))
                        .is_some_and(|a| c.op.holds(*a, c.value, c.value_two))
                };
                Some(if e.when.iter().any(|alt| alt.iter().all(holds)) {
                    e.action
                } else {
                    self.default
                })
            }
            None if self.docker_base => None,
            None => Some(self.default),
        }
    }
}

#[derive(Clone, Debug)]
pub struct SyscallPolicy {
    /// `base docker-default`: Docker's profile, less the calls the block decides itself.
    pub docker_base: bool,
    pub default: SeccompAction,
    /// What the block itself decides, by system call name (the catalog's: a profile lists a
    /// hundred calls or more, and a program may have thousands of profiles). Shared by the
    /// policies of blocks of the same text: thousands of services with one block hold one map,
    /// not a hundred entries each.
    pub entries: Arc<BTreeMap<&'static str, SyscallEntry>>,
    pub span: Span,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Mode {
    Deny,
    Warn,
    Audit,
}

/// The user and group id fields an `Ids` rule constrains.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum IdField {
    RunAsUser,
    RunAsGroup,
    FsGroup,
    SupplementalGroups,
}

impl IdField {
    pub fn parse(word: &str) -> Option<IdField> {
        Some(match word {
            "run-as-user" => IdField::RunAsUser,
            "run-as-group" => IdField::RunAsGroup,
            "fs-group" => IdField::FsGroup,
            "supplemental-groups" => IdField::SupplementalGroups,
            _ => return None,
        })
    }

    /// The field in a `securityContext`.
    pub fn k8s(self) -> &'static str {
        match self {
            IdField::RunAsUser => "runAsUser",
            IdField::RunAsGroup => "runAsGroup",
            IdField::FsGroup => "fsGroup",
            IdField::SupplementalGroups => "supplementalGroups",
        }
    }

    /// Whether containers have the field too (and theirs wins), or only the pod.
    pub fn per_container(self) -> bool {
        matches!(self, IdField::RunAsUser | IdField::RunAsGroup)
    }
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum AdmissionRule {
    ForbidPrivileged,
    ForbidHostNamespaces,
    /// One of the host namespaces: `hostNetwork`, `hostPID` or `hostIPC`.
    ForbidHostField(&'static str),
    ForbidPrivilegeEscalation,
    RequireRunAsNonRoot,
    RequireDropAllCapabilities,
    RequireSeccompProfile,
    ImagesFrom(Vec<String>),
    RequireLabels(Vec<String>),
    RequireAnnotations(Vec<String>),
    /// No image without a tag or with the tag `latest`, unless pinned by digest.
    ForbidLatestTag,
    /// Every image pinned by a sha256 digest.
    RequireImageDigest,
    /// CPU and memory limits (requests) on every container and init container.
    RequireResourceLimits,
    RequireResourceRequests,
    /// `securityContext.readOnlyRootFilesystem: true` on every container.
    RequireReadOnlyRootFilesystem,
    /// No container adds a capability beyond these.
    AllowCapabilities(Vec<String>),
    /// No volume of another kind than these.
    AllowVolumes(Vec<String>),
    /// No hostPath volume at or below these paths (without a trailing `/`; empty: `/`).
    ForbidHostPaths(Vec<String>),
    /// Every container runs as a user other than 0: a non-zero `runAsUser`, or `runAsNonRoot`.
    RunAsUserNonRoot,
    /// Every container's (or the pod's) id field set and within the ranges.
    Ids {
        field: IdField,
        ranges: Vec<(u64, u64)>,
    },
    /// A raw CEL expression (type-checked) and the message when it is false.
    Cel {
        expression: String,
        message: String,
    },
    /// The Pod Security Standards at a level and version, less the exempted checks (with the
    /// reasons given).
    PodSecurity {
        level: crate::catalog::pod_security::Level,
        version: crate::catalog::pod_security::Version,
        exempt: Vec<(String, String)>,
    },
}

/// The namespaces an admission block applies to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AdmissionScope {
    /// `Some`: these namespaces by name; `None`: the namespaces `labels` selects (empty: all).
    pub names: Option<BTreeSet<String>>,
    pub labels: Selector,
    /// Left out by name.
    pub except_names: BTreeSet<String>,
    /// Left out by label. INVARIANT: each selector has exactly one requirement, so that every
    /// engine can state the exclusion as the requirement's negation.
    pub except_labels: Vec<Selector>,
}

impl AdmissionScope {
    /// Whether the block applies in the namespace `name` with `labels` (which hold
    /// `kubernetes.io/metadata.name`, as the API server sets it).
    pub fn matches(&self, name: &str, labels: &BTreeMap<String, String>) -> bool {
        let included = match &self.names {
            Some(names) => names.contains(name),
            None => self.labels.matches(labels),
        };
        included
            && !self.except_names.contains(name)
            && !self.except_labels.iter().any(|s| s.matches(labels))
    }
}

#[derive(Clone, Debug)]
pub struct Admission {
    pub name: String,
    pub scope: AdmissionScope,
    /// Image patterns whose containers the container rules leave out, with the reasons.
    pub exempt_images: Vec<(String, String)>,
    /// INVARIANT: sorted, one of each kind.
    pub rules: Vec<(AdmissionRule, Span)>,
    pub mode: Mode,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Endpoint {
    Service(ServiceId),
    /// A pod that need not belong to a declared service (the cluster DNS, a pod no service selects).
    Pod(Pod),
    /// Addresses outside the cluster (`world` is both address families).
    External(Vec<IpNet>),
}

#[derive(Clone, Debug)]
pub struct Expect {
    pub from: Endpoint,
    pub to: Endpoint,
    /// The ports asked about; empty means "any port".
    pub ports: Vec<PortSpec>,
    pub allowed: bool,
    pub span: Span,
    /// The expectation as the user wrote it, for messages.
    pub text: String,
}

impl Expect {
    /// The questions the expectation asks the evaluator: each port of it (`None`: any port).
    pub fn probes(&self) -> Vec<Option<Probe>> {
        if self.ports.is_empty() {
            return vec![None];
        }
        self.ports
            .iter()
            .flat_map(|spec| match spec {
                PortSpec::Range(r) => r.ports().map(Probe::Number).collect::<Vec<_>>(),
                PortSpec::Named(n) => vec![Probe::Named(n.clone())],
            })
            .map(Some)
            .collect()
    }
}

impl Program {
    /// Whether some flow says what only a proxy enforces: a host name or HTTP requests.
    pub fn needs_a_proxy(&self) -> bool {
        self.flows
            .iter()
            .any(|f| matches!(f.server, Peer::Host(_)) || !f.http.is_empty())
    }

    /// The labels a namespace carries, as namespace selectors see them. A namespace the program
    /// does not declare carries only its name.
    pub fn namespace_labels(&self, name: &str) -> BTreeMap<String, String> {
        let mut labels = self
            .namespaces
            .get(name)
            .map(|n| n.labels.clone())
            .unwrap_or_default();
        labels.insert(NAME_LABEL.to_string(), name.to_string());
        labels
    }

    /// Whether the service's pods are isolated in a direction by its namespace or by itself, and so
    /// whether its flows in that direction become rules. A flow's rule exists on the side whose
    /// service isolates; the other side, open, needs none.
    pub fn isolates(&self, id: &ServiceId, egress: bool) -> bool {
        self.services
            .get(id)
            .is_some_and(|s| s.isolates_itself(egress))
            || self.namespace_isolates(&id.namespace, egress)
    }

    /// Whether a namespace of the program isolates a direction; an undeclared one does not.
    pub fn namespace_isolates(&self, name: &str, egress: bool) -> bool {
        self.namespaces
            .get(name)
            .is_some_and(|n| n.isolates(egress))
    }

    /// Brings the flows into their canonical order so that declaration order never matters.
    pub fn normalize(&mut self) {
        // Equal flows are equal in every field, so an unstable sort orders them as a stable one
        // would, without a stable sort's buffer of half the flows.
        self.flows.sort_unstable();
        self.flows.dedup();
    }
}
