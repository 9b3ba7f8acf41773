//! Ports: numbers, ranges and named container ports, of services, flows and questions.

use super::Pod;
use std::fmt;

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
