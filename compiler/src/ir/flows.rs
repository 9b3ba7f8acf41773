//! Flows and their peers: who may open connections to whom.

use super::{Ports, Selector, ServiceRef};
use crate::span::Span;
use ipnet::IpNet;
use std::fmt;

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
