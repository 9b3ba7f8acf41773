//! The network part of `warden diff`: every connection one program allows and the other does
//! not, between kinds of pod and to and from addresses outside the cluster, by port.
//!
//! The kinds of pod are the label regions of every service's selector that any selector of
//! either program tells apart (as `expect` reads a service), one pod each, with one kind of pod
//! no service selects per namespace and the cluster DNS. Ports are classes (`ports`): the ranges
//! between every boundary either program names, per protocol, and each named port by its name;
//! a pair is asked about one port of each run of classes that the rules deciding it cannot tell
//! apart. External addresses likewise: the ranges between every CIDR boundary. A pair is asked
//! about only where one side's rules differ between the programs (`Evaluator::side`) or a
//! namespace's labels do; elsewhere both programs give the same answer by construction.
//! Neighbouring address classes that change alike for a kind of pod are told as one range.

use super::ports::{describe, port_classes};
use crate::ir::connectivity::{Evaluator, Verdict};
use crate::ir::regions::{Candidates, regions};
use crate::ir::{Endpoint, NamespaceScope, Peer, Pod, Ports, Probe, Program, Selector};
use ipnet::IpNet;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

/// Kinds of pod per service past which the diff stops and says so, as `expect` does.
pub const KINDS: usize = 1024;

/// Questions past which the diff stops and says so rather than run out of memory: a pair of kinds
/// of pod, or a kind and a range of addresses, whose connections may differ is one, and the JSON
/// lists each that does. A namespace of 2,000 services that stops isolating is 8 million.
pub const QUESTIONS: usize = 1 << 23;

/// One kind of pod, with how the report names it.
#[derive(Clone, Debug)]
pub struct Kind {
    pub pod: Pod,
    pub name: String,
}

/// A connection one program allows and the other does not, for a pair of endpoints: the ports
/// added and removed.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct Change {
    pub from: String,
    pub to: String,
    /// Ports the new program allows that the old did not, e.g. `8080/tcp, 9000-9100/tcp`.
    pub added: Vec<String>,
    pub removed: Vec<String>,
}

/// By namespace, every selector of `program` that tells pods of it apart: its services', the
/// `pods(…)` peers' whose namespaces include it, the cluster DNS's there. Made in one pass over
/// the flows.
fn selectors_by_namespace(program: &Program) -> BTreeMap<&str, Vec<&Selector>> {
    let mut out: BTreeMap<&str, Vec<&Selector>> = BTreeMap::new();
    for s in program.services.values() {
        out.entry(s.id.namespace.as_str())
            .or_default()
            .push(&s.selector);
    }
    let labelled: Vec<(&str, BTreeMap<String, String>)> = program
        .namespaces
        .keys()
        .map(|n| (n.as_str(), program.namespace_labels(n)))
        .collect();
    let mut matched: BTreeMap<&Selector, Vec<&str>> = BTreeMap::new();
    // Thousands of flows share a few peers: each distinct one once.
    let peers: BTreeSet<&crate::ir::Pods> = program
        .flows
        .iter()
        .flat_map(|f| [&f.client, &f.server])
        .filter_map(|peer| match peer {
            Peer::Pods(p) => Some(&**p),
            _ => None,
        })
        .collect();
    for p in peers {
        match &p.namespaces {
            NamespaceScope::Name(n) => out.entry(n.as_str()).or_default().push(&p.pods),
            NamespaceScope::Labels(sel) => {
                // Many peers share a few namespace selectors.
                let within = matched.entry(sel).or_insert_with(|| {
                    labelled
                        .iter()
                        .filter(|(_, labels)| sel.matches(labels))
                        .map(|(n, _)| *n)
                        .collect()
                });
                for n in within.iter() {
                    out.entry(n).or_default().push(&p.pods);
                }
            }
        }
    }
    out.entry(program.dns.namespace.as_str())
        .or_default()
        .push(&program.dns.pods);
    for list in out.values_mut() {
        list.sort();
        list.dedup();
    }
    out
}

fn labels_text(labels: &BTreeMap<String, String>) -> String {
    labels
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// The kinds of pod of both programs; `Err` names a service with too many.
pub fn kinds(old: &Program, new: &Program) -> Result<Vec<Kind>, String> {
    let mut namespaces: BTreeSet<&str> = BTreeSet::new();
    for p in [old, new] {
        namespaces.extend(p.namespaces.keys().map(String::as_str));
        namespaces.extend(p.services.values().map(|s| s.id.namespace.as_str()));
        namespaces.insert(p.dns.namespace.as_str());
    }
    let mut out: Vec<Kind> = Vec::new();
    let mut seen: BTreeSet<(String, BTreeMap<String, String>)> = BTreeSet::new();
    let (old_selectors, new_selectors) = (selectors_by_namespace(old), selectors_by_namespace(new));
    for ns in namespaces {
        let mut selectors: Vec<&Selector> = Vec::new();
        selectors.extend(old_selectors.get(ns).into_iter().flatten());
        selectors.extend(new_selectors.get(ns).into_iter().flatten());
        selectors.sort();
        selectors.dedup();
        let mut bases: Vec<(String, &Selector)> = Vec::new();
        for p in [old, new] {
            for s in p.services.in_namespace(ns) {
                bases.push((format!("{ns}/{}", s.id.name), &s.selector));
            }
            if p.dns.namespace == ns {
                bases.push((format!("{ns}/cluster DNS"), &p.dns.pods));
            }
        }
        bases.sort();
        bases.dedup();
        // Each base is split only by the selectors that may meet it: no other tells its pods apart.
        let candidates = Candidates::new(selectors.clone());
        for (name, base) in &bases {
            let others: Vec<&Selector> = match selectors.binary_search(base) {
                Ok(i) => {
                    let mut meeting: Vec<usize> = candidates.of(i).collect();
                    meeting.sort_unstable();
                    meeting
                        .into_iter()
                        .filter_map(|j| selectors.get(j).copied())
                        .collect()
                }
                Err(_) => selectors.iter().copied().filter(|o| o != base).collect(),
            };
            let found = regions(base, &others, KINDS)
                .map_err(|e| format!("the pods of {name} are of more than {} kinds", e.limit))?;
            let several = found.len() > 1;
            for region in found {
                if seen.insert((ns.to_string(), region.labels.clone())) {
                    let label = if several {
                        format!("{name} {{{}}}", labels_text(&region.labels))
                    } else {
                        name.clone()
                    };
                    out.push(Kind {
                        pod: Pod {
                            namespace: ns.to_string(),
                            labels: region.labels,
                            name: label.clone(),
                            named_ports: BTreeMap::new(),
                        },
                        name: label,
                    });
                }
            }
        }
        // A pod that no selector of the namespace picks: what a namespace-wide rule decides.
        let other: BTreeMap<String, String> =
            [("warden.dev/diff-other".to_string(), "1".to_string())].into();
        if !selectors.iter().any(|s| s.matches(&other))
            && seen.insert((ns.to_string(), other.clone()))
        {
            let name = format!("{ns}/other pods");
            out.push(Kind {
                pod: Pod {
                    namespace: ns.to_string(),
                    labels: other,
                    name: name.clone(),
                    named_ports: BTreeMap::new(),
                },
                name,
            });
        }
    }
    // A service whose selector changed stands for other pods in each program: each kind is named
    // by its labels too, wherever a name would stand for two.
    let mut count: BTreeMap<String, usize> = BTreeMap::new();
    for k in &out {
        *count.entry(k.name.clone()).or_default() += 1;
    }
    for k in &mut out {
        if count.get(&k.name).is_some_and(|n| *n > 1) && !k.name.ends_with('}') {
            k.name = format!("{} {{{}}}", k.name, labels_text(&k.pod.labels));
            k.pod.name = k.name.clone();
        }
    }
    Ok(out)
}

/// A range of addresses outside the cluster, of one family.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Addresses {
    pub v6: bool,
    pub start: u128,
    pub end: u128,
}

impl Addresses {
    pub fn first(&self) -> IpAddr {
        addr(self.v6, self.start)
    }

    /// A CIDR when the range is one (`0.0.0.0/0`, `10.0.0.0/24`), as programs write addresses;
    /// `a` for one address; `a-b` for any other range.
    pub fn text(&self) -> String {
        let bits = if self.v6 { 128 } else { 32 };
        let span = self.end.wrapping_sub(self.start);
        if self.start == self.end {
            self.first().to_string()
        } else if span & span.wrapping_add(1) == 0 && self.start & span == 0 {
            format!("{}/{}", self.first(), bits - span.count_ones())
        } else {
            format!("{}-{}", self.first(), addr(self.v6, self.end))
        }
    }
}

/// Address classes outside the cluster: the ranges between every CIDR boundary either program
/// names, in order of address, IPv4 first.
pub fn address_classes(programs: [&Program; 2]) -> Vec<Addresses> {
    let mut cuts: BTreeSet<(bool, u128)> = [(false, 0), (true, 0)].into();
    for p in programs {
        let mut nets: Vec<IpNet> = p.dns.nodelocal.into_iter().collect();
        for f in &p.flows {
            for peer in [&f.client, &f.server] {
                for block in peer.blocks() {
                    nets.push(block.cidr);
                    nets.extend(block.except.iter().copied());
                }
            }
        }
        for net in nets {
            let (v6, lo, hi) = bounds(net);
            cuts.insert((v6, lo));
            if let Some(next) = hi.checked_add(1) {
                let max = if v6 { u128::MAX } else { u128::from(u32::MAX) };
                if next <= max {
                    cuts.insert((v6, next));
                }
            }
        }
    }
    let cuts: Vec<(bool, u128)> = cuts.into_iter().collect();
    let mut out = Vec::new();
    for (i, &(v6, start)) in cuts.iter().enumerate() {
        let end = match cuts.get(i + 1) {
            Some(&(nv6, next)) if nv6 == v6 => next - 1,
            _ if v6 => u128::MAX,
            _ => u128::from(u32::MAX),
        };
        out.push(Addresses { v6, start, end });
    }
    out
}

fn bounds(net: IpNet) -> (bool, u128, u128) {
    match net {
        IpNet::V4(n) => (
            false,
            u128::from(u32::from(n.network())),
            u128::from(u32::from(n.broadcast())),
        ),
        IpNet::V6(n) => (true, u128::from(n.network()), u128::from(n.broadcast())),
    }
}

fn addr(v6: bool, value: u128) -> IpAddr {
    if v6 {
        IpAddr::V6(value.into())
    } else {
        IpAddr::V4(u32::try_from(value).unwrap_or(u32::MAX).into())
    }
}

/// A side of a pod, comparable across programs: whether it is isolated, the namespace's DNS
/// settings (for the client side), and each rule by what it says, with the flow it comes from.
struct Side<'p> {
    isolated: bool,
    dns: Option<&'p crate::ir::Dns>,
    rules: BTreeMap<Rule<'p>, &'p crate::ir::Flow>,
}

/// What a rule says, the same in both programs where it allows the same: the other side's peer
/// (a service by its namespace and selector, as its place among the services differs), the
/// ports and the requests.
#[derive(PartialEq, Eq, PartialOrd, Ord)]
struct Rule<'p> {
    peer: RulePeer<'p>,
    ports: &'p Ports,
    http: &'p [crate::ir::HttpRule],
}

#[derive(PartialEq, Eq, PartialOrd, Ord)]
enum RulePeer<'p> {
    Service(&'p str, &'p Selector),
    Other(&'p Peer),
}

fn side<'p>(program: &'p Program, ev: &Evaluator<'p>, pod: &Pod, egress: bool) -> Side<'p> {
    let (isolated, flows) = ev.side(pod, egress);
    let rules = flows
        .into_iter()
        .map(|f| {
            let other = if egress { &f.server } else { &f.client };
            let peer = match other {
                Peer::Service(r) => program.services.at(*r).map_or(RulePeer::Other(other), |s| {
                    RulePeer::Service(&s.id.namespace, &s.selector)
                }),
                p => RulePeer::Other(p),
            };
            let rule = Rule {
                peer,
                ports: &f.ports,
                http: &f.http,
            };
            (rule, f)
        })
        .collect();
    let dns = if egress {
        program
            .namespaces
            .get(&pod.namespace)
            .filter(|n| n.allow_dns)
            .map(|_| &program.dns)
    } else {
        None
    };
    Side {
        isolated,
        dns,
        rules,
    }
}

/// The kinds of pod by namespace, and by namespace and label: where the pods a peer takes are.
struct KindIndex<'k> {
    all: Vec<usize>,
    by_namespace: BTreeMap<&'k str, Vec<usize>>,
    /// By namespace, label key and value.
    by_label: BTreeMap<&'k str, Labelled<'k>>,
}

type Labelled<'k> = BTreeMap<&'k str, BTreeMap<&'k str, Vec<usize>>>;

impl<'k> KindIndex<'k> {
    fn new(kinds: &'k [Kind]) -> Self {
        let mut index = KindIndex {
            all: (0..kinds.len()).collect(),
            by_namespace: BTreeMap::new(),
            by_label: BTreeMap::new(),
        };
        for (i, kind) in kinds.iter().enumerate() {
            let ns = kind.pod.namespace.as_str();
            index.by_namespace.entry(ns).or_default().push(i);
            for (k, v) in &kind.pod.labels {
                let values = index.by_label.entry(ns).or_default().entry(k).or_default();
                values.entry(v).or_default().push(i);
            }
        }
        index
    }

    /// The kinds of namespace `ns` that `selector` may take.
    fn within(&self, ns: &str, selector: &Selector) -> &[usize] {
        match selector.match_labels.first() {
            Some((k, v)) => self
                .by_label
                .get(ns)
                .and_then(|keys| keys.get(k.as_str()))
                .and_then(|values| values.get(v.as_str())),
            None => self.by_namespace.get(ns),
        }
        .map_or(&[][..], Vec::as_slice)
    }

    /// The kinds `peer` of `program` may take (every one it takes is among them), in order.
    fn among(&self, program: &Program, peer: &Peer) -> &[usize] {
        match peer {
            Peer::Service(r) => program
                .services
                .at(*r)
                .map_or(&[][..], |s| self.within(&s.id.namespace, &s.selector)),
            Peer::Namespace(n) => self
                .by_namespace
                .get(n.as_str())
                .map_or(&[][..], Vec::as_slice),
            Peer::Pods(p) => match &p.namespaces {
                NamespaceScope::Name(n) => self.within(n, &p.pods),
                NamespaceScope::Labels(_) => &self.all,
            },
            Peer::World | Peer::Ip(_) | Peer::Host(_) => &[],
        }
    }
}

/// A program with its evaluator and, for a kind of pod, its side in one direction.
type Judged<'a, 'p> = (&'a Program, &'a Evaluator<'p>, &'a Side<'p>);

/// The kinds of pod on the other side whose connections with this one may differ between the
/// programs: those a rule of one program and not the other takes, or every one where the
/// isolation or the DNS settings differ. `None`: every one.
fn reach(
    (kinds, index): (&[Kind], &KindIndex<'_>),
    (old_program, old_ev, old): Judged<'_, '_>,
    (new_program, new_ev, new): Judged<'_, '_>,
    egress: bool,
) -> Option<BTreeSet<usize>> {
    if old.isolated != new.isolated || old.dns != new.dns {
        return None;
    }
    let mut out = BTreeSet::new();
    for (program, ev, mine, theirs) in [
        (old_program, old_ev, old, new),
        (new_program, new_ev, new, old),
    ] {
        for (key, flow) in &mine.rules {
            if theirs.rules.contains_key(key) {
                continue;
            }
            let peer = if egress { &flow.server } else { &flow.client };
            out.extend(
                index
                    .among(program, peer)
                    .iter()
                    .copied()
                    .filter(|&k| kinds.get(k).is_some_and(|kind| ev.takes(peer, &kind.pod))),
            );
        }
    }
    Some(out)
}

fn allowed(verdict: &Verdict) -> bool {
    matches!(verdict, Verdict::Allowed { .. })
}

/// Every change of connection between `old` and `new`; `Err` if a service's pods are of too many
/// kinds to tell.
pub fn changes(old: &Program, new: &Program) -> Result<Vec<Change>, String> {
    let kinds = kinds(old, new)?;
    let index = KindIndex::new(&kinds);
    let ports = port_classes([old, new]);
    let addresses = address_classes([old, new]);
    let (old_ev, new_ev) = (Evaluator::new(old), Evaluator::new(new));
    let relabelled: BTreeSet<&str> = old
        .namespaces
        .keys()
        .chain(new.namespaces.keys())
        .filter(|n| old.namespace_labels(n) != new.namespace_labels(n))
        .map(String::as_str)
        .collect();
    // Every kind's sides, in both programs: (egress, ingress) of (old, new).
    type Sides<'p> = [(Side<'p>, Side<'p>); 2];
    let sides: Vec<Sides<'_>> = crate::parallel::map(&kinds, |k| {
        [true, false].map(|egress| {
            (
                side(old, &old_ev, &k.pod, egress),
                side(new, &new_ev, &k.pod, egress),
            )
        })
    });
    let differs = |a: &Side<'_>, b: &Side<'_>| {
        a.isolated != b.isolated || a.dns != b.dns || !a.rules.keys().eq(b.rules.keys())
    };
    // Where a side's isolation (or DNS) changes, the kinds on the other side whose connections
    // with it may change: those open that way in either program, and those with a rule taking it.
    let open_or_taking = |k: usize, egress: bool| -> BTreeSet<usize> {
        let other = usize::from(egress);
        let Some(pod) = kinds.get(k).map(|x| &x.pod) else {
            return BTreeSet::new();
        };
        (0..kinds.len())
            .filter(|&j| {
                let Some(theirs) = sides.get(j).and_then(|s| s.get(other)) else {
                    return true;
                };
                let (a, b) = theirs;
                !a.isolated
                    || !b.isolated
                    || [(&old_ev, a), (&new_ev, b)].iter().any(|(ev, side)| {
                        side.rules.values().any(|f| {
                            let peer = if egress { &f.client } else { &f.server };
                            ev.takes(peer, pod)
                        })
                    })
            })
            .collect()
    };
    // Per kind and direction, whether anything differs and with which kinds on the other side.
    let indices: Vec<usize> = (0..kinds.len()).collect();
    let reached = |egress: bool| -> Vec<Option<Option<BTreeSet<usize>>>> {
        let d = usize::from(!egress);
        crate::parallel::map(&indices, |&k| {
            let namespace = kinds.get(k).map_or("", |x| x.pod.namespace.as_str());
            if relabelled.contains(namespace) {
                return Some(None);
            }
            let (a, b) = sides.get(k).and_then(|s| s.get(d))?;
            if !differs(a, b) {
                return None;
            }
            Some(Some(
                match reach(
                    (&kinds, &index),
                    (old, &old_ev, a),
                    (new, &new_ev, b),
                    egress,
                ) {
                    Some(set) => set,
                    None => {
                        let mut set = open_or_taking(k, egress);
                        // The DNS rule reaches the cluster DNS's pods.
                        if a.dns != b.dns {
                            set.extend((0..kinds.len()).filter(|&j| {
                                kinds.get(j).is_some_and(|x| {
                                    x.pod.namespace == old.dns.namespace
                                        || x.pod.namespace == new.dns.namespace
                                })
                            }));
                        }
                        set
                    }
                },
            ))
        })
    };
    let (as_client, as_server) = (reached(true), reached(false));
    // Counted before any is asked: a pair may be counted from both its sides.
    let asked = as_client
        .iter()
        .chain(&as_server)
        .map(|r| match r {
            None => 0,
            Some(None) => kinds.len().saturating_add(addresses.len()),
            Some(Some(set)) => set.len().saturating_add(addresses.len()),
        })
        .fold(0, usize::saturating_add);
    if asked > QUESTIONS {
        return Err(format!(
            "the change may alter the connections of more than {QUESTIONS} pairs of kinds of pod \
             (or of a kind of pod and a range of addresses), too many to list one by one"
        ));
    }
    // The pairs to ask about: each pair of kinds one of whose sides may differ for the other.
    let mut pairs: BTreeSet<(usize, usize)> = BTreeSet::new();
    for (i, r) in as_client.iter().enumerate() {
        match r {
            None => {}
            Some(None) => pairs.extend((0..kinds.len()).map(|j| (i, j))),
            Some(Some(set)) => pairs.extend(set.iter().map(|&j| (i, j))),
        }
    }
    for (j, r) in as_server.iter().enumerate() {
        match r {
            None => {}
            Some(None) => pairs.extend((0..kinds.len()).map(|i| (i, j))),
            Some(Some(set)) => pairs.extend(set.iter().map(|&i| (i, j))),
        }
    }
    let client_changed: Vec<bool> = as_client.iter().map(Option::is_some).collect();
    let server_changed: Vec<bool> = as_server.iter().map(Option::is_some).collect();
    // The rules of both programs that decide a connection from kind `from` (`None`: an address)
    // to kind `to`: the client's egress side and the server's ingress side.
    let deciding = |from: Option<usize>, to: Option<usize>| -> Vec<&Ports> {
        let mut out = Vec::new();
        for (kind, direction) in [(from, 0), (to, 1)] {
            if let Some((a, b)) = kind
                .and_then(|k| sides.get(k))
                .and_then(|s| s.get(direction))
            {
                out.extend(a.rules.keys().chain(b.rules.keys()).map(|r| r.ports));
            }
        }
        out
    };
    let compare = |(from, to): (&Endpoint, &Endpoint), names: (&str, &str), rules: Vec<&Ports>| {
        let server = match to {
            Endpoint::Pod(p) => Some(p),
            _ => None,
        };
        let asked = ports.segments(&rules, server);
        let probes: Vec<Probe> = asked.iter().map(|(class, _)| class.probe()).collect();
        let [old_on, new_on] = [&old_ev, &new_ev].map(|ev| {
            ev.allowed_on(from, to, &probes).unwrap_or_else(|| {
                probes
                    .iter()
                    .map(|p| allowed(&ev.evaluate(from, to, Some(p))))
                    .collect()
            })
        });
        let mut added = Vec::new();
        let mut removed = Vec::new();
        for (((_, segment), a), b) in asked.iter().zip(old_on).zip(new_on) {
            if a && !b {
                removed.push(segment);
            } else if b && !a {
                added.push(segment);
            }
        }
        (!added.is_empty() || !removed.is_empty()).then(|| Change {
            from: names.0.to_string(),
            to: names.1.to_string(),
            added: describe(&added),
            removed: describe(&removed),
        })
    };
    // Every question, in a fixed order, asked on every core; one with an address says where.
    let pods: Vec<Endpoint> = kinds.iter().map(|k| Endpoint::Pod(k.pod.clone())).collect();
    let outside: Vec<Endpoint> = addresses
        .iter()
        .map(|a| Endpoint::External(vec![IpNet::from(a.first())]))
        .collect();
    let texts: Vec<String> = addresses.iter().map(Addresses::text).collect();
    // The endpoints, their names, and the kinds they are (`None`: an address).
    type Question<'q> = (
        &'q Endpoint,
        &'q Endpoint,
        &'q str,
        &'q str,
        Option<usize>,
        Option<usize>,
    );
    let mut questions: Vec<(Question, Option<Outside>)> = Vec::new();
    for &(i, j) in &pairs {
        if let (Some(c), Some(s), Some(from), Some(to)) =
            (kinds.get(i), kinds.get(j), pods.get(i), pods.get(j))
        {
            questions.push(((from, to, &c.name, &s.name, Some(i), Some(j)), None));
        }
    }
    for ((i, k), me) in kinds.iter().enumerate().zip(&pods) {
        for (a, (text, there)) in texts.iter().zip(&outside).enumerate() {
            if client_changed.get(i).copied().unwrap_or(true) {
                questions.push((
                    (me, there, &k.name, text, Some(i), None),
                    Some(Outside {
                        kind: i,
                        egress: true,
                        class: a,
                    }),
                ));
            }
            if server_changed.get(i).copied().unwrap_or(true) {
                questions.push((
                    (there, me, text, &k.name, None, Some(i)),
                    Some(Outside {
                        kind: i,
                        egress: false,
                        class: a,
                    }),
                ));
            }
        }
    }
    let answers = crate::parallel::map(&questions, |((from, to, a, b, i, j), _)| {
        compare((from, to), (a, b), deciding(*i, *j))
    });
    Ok(merge_addresses(&addresses, &questions, answers))
}

/// A question about addresses outside the cluster: its kind of pod, its direction (true: to the
/// addresses) and the address class.
#[derive(Clone, Copy)]
struct Outside {
    kind: usize,
    egress: bool,
    class: usize,
}

/// The answers, in order, with each run of neighbouring address classes that change alike for
/// one kind and direction told as one change to or from the whole range.
fn merge_addresses<Q>(
    addresses: &[Addresses],
    questions: &[(Q, Option<Outside>)],
    answers: Vec<Option<Change>>,
) -> Vec<Change> {
    let mut out: Vec<Change> = Vec::new();
    // Per kind and direction, the open run: its change's place in `out`, its first and last class.
    let mut runs: BTreeMap<(usize, bool), (usize, usize, usize)> = BTreeMap::new();
    for ((_, at), answer) in questions.iter().zip(answers) {
        let Some(change) = answer else { continue };
        let Some(Outside {
            kind,
            egress,
            class,
        }) = *at
        else {
            out.push(change);
            continue;
        };
        let family = |c: usize| addresses.get(c).map(|a| a.v6);
        if let Some((place, first, last)) = runs.get_mut(&(kind, egress))
            && *last + 1 == class
            && family(*first) == family(class)
            && let Some(open) = out.get_mut(*place)
            && open.added == change.added
            && open.removed == change.removed
            && let (Some(a), Some(b)) = (addresses.get(*first), addresses.get(class))
        {
            let text = Addresses { end: b.end, ..*a }.text();
            *if egress { &mut open.to } else { &mut open.from } = text;
            *last = class;
            continue;
        }
        runs.insert((kind, egress), (out.len(), class, class));
        out.push(change);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(from: &str, to: &str) -> String {
        let value = |t: &str| match t.parse::<IpAddr>() {
            Ok(IpAddr::V4(a)) => (false, u128::from(u32::from(a))),
            Ok(IpAddr::V6(a)) => (true, u128::from(a)),
            Err(e) => panic!("{t}: {e}"),
        };
        let ((v6, start), (_, end)) = (value(from), value(to));
        Addresses { v6, start, end }.text()
    }

    #[test]
    fn a_range_that_is_one_cidr_is_written_as_one() {
        assert_eq!(text("0.0.0.0", "255.255.255.255"), "0.0.0.0/0");
        assert_eq!(
            text("::", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"),
            "::/0"
        );
        assert_eq!(text("10.0.0.0", "10.0.0.255"), "10.0.0.0/24");
        assert_eq!(text("10.0.0.0", "10.0.0.1"), "10.0.0.0/31");
        assert_eq!(text("128.0.0.0", "255.255.255.255"), "128.0.0.0/1");
        assert_eq!(text("fd00::", "fd00::ffff"), "fd00::/112");
        assert_eq!(text("10.0.0.7", "10.0.0.7"), "10.0.0.7");
        // Aligned size but not aligned start, and aligned start but no power of two.
        assert_eq!(text("10.0.0.1", "10.0.0.2"), "10.0.0.1-10.0.0.2");
        assert_eq!(text("10.0.0.0", "10.0.0.2"), "10.0.0.0-10.0.0.2");
        assert_eq!(text("0.0.0.0", "9.255.255.255"), "0.0.0.0-9.255.255.255");
    }
}
