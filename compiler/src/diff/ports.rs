//! The ports `warden diff` asks about: classes that both programs treat alike within, the ranges
//! between every boundary either program names, per protocol, and each named port by its name.

use crate::ir::{NamedPort, Pod, Port, PortSpec, Ports, Probe, Program, Protocol};
use std::collections::BTreeSet;

/// A class of ports: a range of one protocol, or a named port.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum PortClass {
    Range(Protocol, u16, u16),
    Named(String, Protocol),
}

impl PortClass {
    pub(super) fn probe(&self) -> Probe {
        match self {
            PortClass::Range(protocol, start, _) => Probe::Number(Port {
                number: *start,
                protocol: *protocol,
            }),
            PortClass::Named(name, protocol) => Probe::Named(NamedPort {
                name: name.clone(),
                protocol: *protocol,
            }),
        }
    }
}

fn protocol_name(p: Protocol) -> &'static str {
    match p {
        Protocol::Tcp => "tcp",
        Protocol::Udp => "udp",
        Protocol::Sctp => "sctp",
    }
}

/// The classes as text, adjacent ranges of a protocol joined: `53/udp, 8000-8100/tcp, http/tcp`.
pub(super) fn describe(classes: &[&PortClass]) -> Vec<String> {
    let mut out = Vec::new();
    let mut run: Option<(Protocol, u16, u16)> = None;
    let flush = |run: &mut Option<(Protocol, u16, u16)>, out: &mut Vec<String>| {
        if let Some((p, a, b)) = run.take() {
            out.push(if a == b {
                format!("{a}/{}", protocol_name(p))
            } else if a == 1 && b == 65535 {
                format!("all {} ports", protocol_name(p))
            } else {
                format!("{a}-{b}/{}", protocol_name(p))
            });
        }
    };
    for class in classes {
        match class {
            PortClass::Range(p, a, b) => match &mut run {
                Some((rp, _, rb)) if rp == p && u32::from(*rb) + 1 == u32::from(*a) => *rb = *b,
                _ => {
                    flush(&mut run, &mut out);
                    run = Some((*p, *a, *b));
                }
            },
            PortClass::Named(name, p) => {
                flush(&mut run, &mut out);
                out.push(format!("{name}/{}", protocol_name(*p)));
            }
        }
    }
    flush(&mut run, &mut out);
    out
}

fn ranges_of(spec: &PortSpec, out: &mut Vec<(Protocol, u16, u16)>, named: &mut Vec<PortClass>) {
    match spec {
        PortSpec::Range(r) => out.push((r.protocol, r.start, r.end)),
        PortSpec::Named(n) => named.push(PortClass::Named(n.name.clone(), n.protocol)),
    }
}

/// The port classes of both programs: the ranges by protocol and port, then the named ports.
pub(super) struct PortClasses {
    classes: Vec<PortClass>,
    /// How many of `classes` are ranges; the named ports follow them.
    ranges: usize,
}

impl PortClasses {
    /// The classes that `ranges` (by protocol, first and last port) and the named ports cut.
    fn new(ranges: &[(Protocol, u16, u16)], mut named: Vec<PortClass>) -> Self {
        let mut out = Vec::new();
        for protocol in [Protocol::Tcp, Protocol::Udp, Protocol::Sctp] {
            let mut cuts: BTreeSet<u32> = [1, 65_536].into();
            for (_, a, b) in ranges.iter().filter(|(p, _, _)| *p == protocol) {
                cuts.insert(u32::from(*a));
                cuts.insert(u32::from(*b) + 1);
            }
            let cuts: Vec<u32> = cuts.into_iter().collect();
            for w in cuts.windows(2) {
                if let [a, b] = w
                    && let (Ok(a), Ok(end)) = (u16::try_from(*a), u16::try_from(*b - 1))
                {
                    out.push(PortClass::Range(protocol, a, end));
                }
            }
        }
        named.sort();
        named.dedup();
        let ranges = out.len();
        out.extend(named);
        PortClasses {
            classes: out,
            ranges,
        }
    }

    /// The range class holding port `number` of `protocol`.
    fn holding(&self, protocol: Protocol, number: u32) -> Option<usize> {
        let number = u16::try_from(number).ok()?;
        let after = self.classes.partition_point(|c| match c {
            PortClass::Range(p, start, _) => (*p, *start) <= (protocol, number),
            PortClass::Named(..) => false,
        });
        after.checked_sub(1)
    }

    /// The classes to ask about for a connection that `rules` decide, to `server` (`None`: an
    /// address): a range class where the answer may change, with the run of classes up to the
    /// next such one that answer alike; and each named port on its own. Along a protocol's ports
    /// only a rule's bounds, the DNS port and a named port of the server change what covers a
    /// port, so the first class of a run answers for all of it.
    pub(super) fn segments(
        &self,
        rules: &[&Ports],
        server: Option<&Pod>,
    ) -> Vec<(&PortClass, PortClass)> {
        let mut cuts: Vec<(Protocol, u32)> = vec![
            (Protocol::Tcp, 1),
            (Protocol::Udp, 1),
            (Protocol::Sctp, 1),
            (Protocol::Tcp, 53),
            (Protocol::Tcp, 54),
            (Protocol::Udp, 53),
            (Protocol::Udp, 54),
        ];
        for ports in rules {
            if let Ports::Only(list) = ports {
                for spec in list {
                    if let PortSpec::Range(r) = spec {
                        cuts.push((r.protocol, u32::from(r.start)));
                        cuts.push((r.protocol, u32::from(r.end) + 1));
                    }
                }
            }
        }
        for port in server.into_iter().flat_map(|s| s.named_ports.values()) {
            cuts.push((port.protocol, u32::from(port.number)));
            cuts.push((port.protocol, u32::from(port.number) + 1));
        }
        let mut starts: Vec<usize> = cuts
            .into_iter()
            .filter_map(|(p, n)| self.holding(p, n))
            .collect();
        starts.sort_unstable();
        starts.dedup();
        let ranges = self.ranges;
        let mut out = Vec::new();
        for (i, &start) in starts.iter().enumerate() {
            let end = starts.get(i + 1).map_or(ranges, |next| *next);
            if let (Some(first), Some(PortClass::Range(_, _, last))) = (
                self.classes.get(start),
                end.checked_sub(1).and_then(|e| self.classes.get(e)),
            ) && let PortClass::Range(protocol, from, _) = first
            {
                out.push((first, PortClass::Range(*protocol, *from, *last)));
            }
        }
        out.extend(
            self.classes
                .iter()
                .skip(ranges)
                .map(|class| (class, class.clone())),
        );
        out
    }
}

/// The port classes of both programs.
pub(super) fn port_classes(programs: [&Program; 2]) -> PortClasses {
    let mut ranges: Vec<(Protocol, u16, u16)> =
        vec![(Protocol::Tcp, 53, 53), (Protocol::Udp, 53, 53)];
    let mut named = Vec::new();
    for p in programs {
        for s in p.services.values() {
            for (_, spec) in &s.ports {
                ranges_of(spec, &mut ranges, &mut named);
            }
        }
        for f in &p.flows {
            if let Ports::Only(list) = &f.ports {
                for spec in list {
                    ranges_of(spec, &mut ranges, &mut named);
                }
            }
        }
    }
    PortClasses::new(&ranges, named)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::PortRange;
    use std::collections::BTreeMap;

    fn only(ranges: &[(Protocol, u16, u16)]) -> Ports {
        Ports::Only(
            ranges
                .iter()
                .map(|&(protocol, start, end)| {
                    PortSpec::Range(PortRange {
                        start,
                        end,
                        protocol,
                    })
                })
                .collect(),
        )
    }

    fn texts(classes: &PortClasses, rules: &[&Ports], server: Option<&Pod>) -> Vec<String> {
        classes
            .segments(rules, server)
            .iter()
            .map(|(probe, run)| {
                // The probe is the first class of its run.
                match (probe, run) {
                    (PortClass::Range(p, a, _), PortClass::Range(q, b, _)) => {
                        assert_eq!((p, a), (q, b))
                    }
                    _ => assert_eq!(*probe, run),
                }
                describe(&[run]).join(", ")
            })
            .collect()
    }

    #[test]
    fn a_question_asks_once_for_each_run_of_ports_its_rules_cannot_tell_apart() {
        use Protocol::{Sctp, Tcp, Udp};
        let named = vec![PortClass::Named("metrics".to_string(), Tcp)];
        let classes = PortClasses::new(
            &[
                (Tcp, 53, 53),
                (Udp, 53, 53),
                (Tcp, 80, 80),
                (Tcp, 443, 444),
                (Tcp, 8000, 9000),
            ],
            named,
        );
        assert_eq!(classes.classes.len(), 14);
        let web = only(&[(Tcp, 443, 444)]);
        assert_eq!(
            texts(&classes, &[&web], None),
            [
                "1-52/tcp",
                "53/tcp",
                "54-442/tcp",
                "443-444/tcp",
                "445-65535/tcp",
                "1-52/udp",
                "53/udp",
                "54-65535/udp",
                "all sctp ports",
                "metrics/tcp",
            ]
        );
        // No rule: the DNS port alone tells ports apart; every port of a rule for all is alike.
        assert_eq!(
            texts(&classes, &[], None),
            texts(&classes, &[&Ports::All], None)
        );
        assert_eq!(texts(&classes, &[], None).len(), 8);
        // A rule reaching the last port cuts nothing past it; a server's named port cuts at its
        // number.
        let top = only(&[(Sctp, 9000, 65535)]);
        let server = Pod {
            namespace: "shop".to_string(),
            labels: BTreeMap::new(),
            name: "shop/web".to_string(),
            named_ports: [(
                "http".to_string(),
                crate::ir::Port {
                    number: 80,
                    protocol: Tcp,
                },
            )]
            .into(),
        };
        let got = texts(&classes, &[&top], Some(&server));
        assert!(got.contains(&"80/tcp".to_string()), "{got:?}");
        assert!(got.contains(&"81-65535/tcp".to_string()), "{got:?}");
        assert!(got.contains(&"all sctp ports".to_string()), "{got:?}");
    }
}
