//! Services: their ids and references, the program's list of them, and the pods they select.

use super::{Port, PortSpec, Selector, SyscallPolicy};
use crate::span::Span;
use std::collections::BTreeMap;
use std::fmt;

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ServiceId {
    pub namespace: String,
    pub name: String,
}

impl ServiceId {
    /// The kubelet `localhost/` path of the service's seccomp profile: below the kubelet's
    /// seccomp root, where the output's `seccomp/` directory is copied (`targets/seccomp/README.md`).
    pub fn localhost_profile(&self) -> String {
        format!("{}/{}.json", self.namespace, self.name)
    }
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
/// scattered over the heap for each is a cache miss, and grows with the program more than linearly.
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
/// flow naming it: a search of the ordered services compares ids level by level, each comparison
/// a cache miss. A pair of strings rather than an id, so that a name is looked up as written,
/// without copying it into an id first. aHash, keyed at random for each run as the standard
/// library's SipHash is (the names are the program's, which may be hostile), and cheaper. Only
/// ever looked up: nothing iterates it, so its random order never reaches an output.
pub type ServiceIndex<'a> = ahash::HashMap<(&'a str, &'a str), ServiceRef>;

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
    /// The block's `accept` lines, as the `warden.dev/accepted` annotation says them.
    pub accepted: String,
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
