//! `warden diff` against independent engines.
//!
//! Network: network-config-analyzer's `--semantic_diff` on the NetworkPolicies warden generates
//! for a program and a mutation of it (a flow added or removed, a port widened, an isolation
//! dropped, a selector changed), over two pods of every kind of pod the diff reads and every
//! address class, for 300 seeded pairs: every connection nca says was added or removed, by port
//! and protocol, warden's diff says too, and nothing else.
//!
//! Seccomp: the per-service part of the diff equals a comparison, system call by system call, of
//! the two generated profiles' effective rules (as the kernel would read them: the rules naming
//! the call, else the default action).
//!
//! JSON: every part of the diff against `compiler/schemas/diff.schema.json`, read by Python's
//! `jsonschema`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "in tests a panic is a failed test"
)]

use crate::common::{self, Rng, cluster};
use crate::netpol::{End, NcaMap, ip_value, nca, parse_conns, parse_end};
use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::path::Path;
use std::process::Command;
use warden::diff::network::{Change, Kind, address_classes, changes, kinds};
use warden::document::{Document, Target};
use warden::ir::Program;
use warden::span::SourceMap;

const PAIRS: usize = 300;
const BATCH: usize = 15;
const SEED: u64 = 0x00d1_ff00_2026_1206;

struct Pair {
    index: usize,
    mutation: &'static str,
    old_text: String,
    new_text: String,
    old: Program,
    new: Program,
    old_docs: Vec<Document>,
    new_docs: Vec<Document>,
    kinds: Vec<Kind>,
    changes: Vec<Change>,
}

fn compile(name: &str, text: &str) -> Option<(Program, Vec<Document>)> {
    let mut sources = SourceMap::new();
    sources.add(name.to_string(), text.to_string());
    let c = warden::compile_on(
        sources,
        &[Target::Netpol],
        warden::document::Layout::Tree,
        common::today(),
    );
    Some((c.program?, c.documents?))
}

/// Gives every named container port a number, so that connections are by number on both sides
/// (nca resolves a named port through the pods' container ports, which the diff does not read).
fn numbered(text: &str) -> String {
    let mut out = String::new();
    for (k, line) in text.lines().enumerate() {
        let trimmed = line.trim_start();
        // A flow to pods that are no service by their container port's name: numbered too.
        let to_pods = trimmed.starts_with("to ")
            && (trimmed.contains("pods(")
                || trimmed.contains("namespace")
                || trimmed.contains("all pods"));
        let named = [" on p0", " on p1"].iter().find(|n| trimmed.ends_with(*n));
        if let (true, Some(named)) = (to_pods, named) {
            let stem = line.strip_suffix(named).unwrap_or(line);
            out.push_str(&format!("{stem} on {}/tcp\n", 7000 + k));
        } else if let Some(rest) = trimmed.strip_prefix("port ")
            && let Some((name, proto)) = rest.split_once('/')
            && !name.contains(' ')
        {
            out.push_str(&format!("  port {name} {}/{proto}\n", 7000 + k));
        } else {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

/// One mutation of `text`, and its kind; `None` when the drawn kind has nothing to act on.
fn mutate(text: &str, rng: &mut Rng) -> Option<(String, &'static str)> {
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let services: Vec<(usize, String, String)> = lines
        .iter()
        .enumerate()
        .filter_map(|(i, l)| {
            let rest = l.strip_prefix("service ")?;
            let mut words = rest.split_whitespace();
            let name = words.next()?.to_string();
            let _ = words.next();
            let ns = words.next()?.to_string();
            Some((i, name, ns))
        })
        .collect();
    let kind = rng.below(5);
    match kind {
        0 => {
            let (at, _, _) = rng.pick(&services).clone();
            let (header, name, ns) = rng.pick(&services).clone();
            // All ports, or a port the server declares (a number it does not would not check).
            let declared: Vec<String> = lines
                .iter()
                .skip(header + 1)
                .take_while(|l| !l.starts_with('}'))
                .filter_map(|l| l.trim_start().strip_prefix("port "))
                .filter_map(|rest| rest.split_whitespace().next())
                .map(|port| format!(" on {port}"))
                .collect();
            let dir = *rng.pick(&["to", "from"]);
            let ports = if dir == "to" && !declared.is_empty() && rng.chance(60) {
                rng.pick(&declared).clone()
            } else {
                String::new()
            };
            // After the `pods` line, which follows the header.
            lines.insert(at + 2, format!("  {dir} {ns}/{name}{ports}"));
            Some((lines.join("\n") + "\n", "flow added"))
        }
        1 => {
            let flows: Vec<usize> = (0..lines.len())
                .filter(|&i| {
                    let l = lines[i].trim_start();
                    lines[i].starts_with("  ") && (l.starts_with("to ") || l.starts_with("from "))
                })
                .collect();
            if flows.is_empty() {
                return None;
            }
            lines.remove(*rng.pick(&flows));
            Some((lines.join("\n") + "\n", "flow removed"))
        }
        2 => {
            let ports: Vec<usize> = (0..lines.len())
                .filter(|&i| {
                    lines[i].contains(" on ") && lines[i].contains("/tcp")
                        || lines[i].trim_start().starts_with("port ")
                })
                .collect();
            if ports.is_empty() {
                return None;
            }
            let i = *rng.pick(&ports);
            let widened = widen(&lines[i])?;
            lines[i] = widened;
            Some((lines.join("\n") + "\n", "port widened"))
        }
        3 => {
            let isolating: Vec<usize> = (0..lines.len())
                .filter(|&i| lines[i].contains("isolate"))
                .collect();
            if isolating.is_empty() {
                return None;
            }
            let i = *rng.pick(&isolating);
            let line = &lines[i];
            lines[i] = ["isolate ingress", "isolate egress", "isolate"]
                .iter()
                .find(|w| line.contains(*w))
                .map(|w| line.replacen(w, "", 1))
                .unwrap_or_else(|| line.clone());
            Some((lines.join("\n") + "\n", "isolation dropped"))
        }
        _ => {
            let pods: Vec<usize> = (0..lines.len())
                .filter(|&i| lines[i].starts_with("  pods "))
                .collect();
            if pods.is_empty() {
                return None;
            }
            let i = *rng.pick(&pods);
            let other = rng.below(services.len().max(1));
            lines[i] = if rng.chance(50) && lines[i].contains("app = \"") {
                let start = lines[i].find("app = \"").unwrap() + 7;
                let end = start + lines[i][start..].find('"').unwrap();
                format!("{}svc{other}{}", &lines[i][..start], &lines[i][end..])
            } else {
                format!("{}, tier = \"t1\"", lines[i])
            };
            Some((lines.join("\n") + "\n", "selector changed"))
        }
    }
}

/// The first port number of a line made into a range ten ports wide.
fn widen(line: &str) -> Option<String> {
    let start = line.find(|c: char| c.is_ascii_digit())?;
    let len = line[start..].find(|c: char| !c.is_ascii_digit())?;
    if line[start + len..].starts_with('-') {
        return None;
    }
    let n: u32 = line[start..start + len].parse().ok()?;
    (n + 10 <= 65535).then(|| format!("{}{n}-{}{}", &line[..start], n + 10, &line[start + len..]))
}

fn pairs() -> Vec<Pair> {
    let mut rng = Rng(SEED);
    let mut out = Vec::new();
    let mut index = 0;
    while out.len() < PAIRS {
        index += 1;
        assert!(
            index < PAIRS * 10,
            "the generator makes too few valid pairs"
        );
        let old_text = numbered(&cluster::random_program(index, &mut rng));
        let name = format!("p{index}.warden");
        let Some((old, old_docs)) = compile(&name, &old_text) else {
            continue;
        };
        // A mutation that changes no connection is kept only when four in a row do not, so
        // that most pairs differ and some do not.
        let mut found = None;
        for _ in 0..4 {
            let Some((new_text, mutation)) = mutate(&old_text, &mut rng) else {
                continue;
            };
            let Some((new, new_docs)) = compile(&name, &new_text) else {
                continue;
            };
            let changes = changes(&old, &new).unwrap();
            let done = !changes.is_empty();
            found = Some((new_text, mutation, new, new_docs, changes));
            if done {
                break;
            }
        }
        let Some((new_text, mutation, new, new_docs, changes)) = found else {
            continue;
        };
        let kinds = kinds(&old, &new).unwrap();
        out.push(Pair {
            index,
            mutation,
            old_text,
            new_text,
            old,
            new,
            old_docs,
            new_docs,
            kinds,
            changes,
        });
    }
    out
}

fn pod_name(pair: &Pair, kind: usize, twin: &str) -> String {
    format!("d{}-k{kind}-{twin}", pair.index)
}

/// nca's semantic diff of a batch: the connections added and removed.
fn run_nca(batch: &[&Pair], dir: &Path) -> (NcaMap, NcaMap) {
    for (side, docs) in [("old", 0), ("new", 1)] {
        let root = dir.join(side);
        std::fs::create_dir_all(&root).unwrap();
        std::fs::write(
            root.join("empty.yaml"),
            "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicyList\nitems: []\n",
        )
        .unwrap();
        for p in batch {
            let list = if docs == 0 { &p.old_docs } else { &p.new_docs };
            for d in list.iter().filter(|d| d.path.starts_with("netpol/")) {
                let path = root.join(format!("p{}", p.index)).join(&d.path);
                std::fs::create_dir_all(path.parent().unwrap()).unwrap();
                std::fs::write(path, &d.text).unwrap();
            }
        }
    }
    let mut pods = Vec::new();
    let mut namespaces: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    for p in batch {
        for (i, k) in p.kinds.iter().enumerate() {
            namespaces
                .entry(k.pod.namespace.clone())
                .or_insert_with(|| p.new.namespace_labels(&k.pod.namespace));
            for twin in ["a", "b"] {
                pods.push(serde_json::json!({
                    "apiVersion": "v1", "kind": "Pod",
                    "metadata": {"name": pod_name(p, i, twin), "namespace": k.pod.namespace, "labels": k.pod.labels},
                    "spec": {"containers": [{"name": "c", "image": "x"}]},
                }));
            }
        }
    }
    let ns: Vec<serde_json::Value> = namespaces
        .iter()
        .map(|(n, labels)| serde_json::json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": n, "labels": labels}}))
        .collect();
    std::fs::write(
        dir.join("pods.json"),
        serde_json::json!({"apiVersion": "v1", "kind": "PodList", "items": pods}).to_string(),
    )
    .unwrap();
    std::fs::write(
        dir.join("ns.json"),
        serde_json::json!({"apiVersion": "v1", "kind": "NamespaceList", "items": ns}).to_string(),
    )
    .unwrap();
    let out = Command::new(nca())
        .arg("--semantic_diff")
        .arg(dir.join("new"))
        .arg("--base_np_list")
        .arg(dir.join("old"))
        .arg("--pod_list")
        .arg(dir.join("pods.json"))
        .arg("--ns_list")
        .arg(dir.join("ns.json"))
        .args(["--output_format", "txt_no_fw_rules", "--print_ipv6"])
        .output()
        .expect("nca runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let (mut added, mut removed) = (NcaMap::default(), NcaMap::default());
    let mut section: Option<bool> = None;
    for line in stdout.lines() {
        if line.starts_with("Added connections") || line.starts_with("New connections") {
            section = Some(true);
        } else if line.starts_with("Removed connections") || line.starts_with("Lost connections") {
            section = Some(false);
        } else if line.contains(" => ") {
            let (pair, conns) = line
                .split_once(" : ")
                .unwrap_or_else(|| panic!("nca line `{line}`"));
            let (src, dst) = pair.split_once(" => ").unwrap();
            let map = match section {
                Some(true) => &mut added,
                Some(false) => &mut removed,
                None => panic!("nca line outside a section: `{line}`\n{stdout}"),
            };
            map.add(parse_end(src), parse_end(dst), connections(conns));
        } else if !line.trim().is_empty()
            && !line.starts_with("Info")
            && !line.starts_with("global")
            && !line.contains("Warning")
            && !line.starts_with("Total run time")
            && !line.starts_with("No ")
            && !line.contains("are not semantically different")
        {
            panic!("unexpected nca output `{line}`\n{stdout}");
        }
    }
    (added, removed)
}

/// nca's connections, with its `All but {…}`: every protocol's ports less those listed.
fn connections(text: &str) -> Option<BTreeMap<String, Vec<(u16, u16)>>> {
    let Some(rest) = text.trim().strip_prefix("All but ") else {
        return parse_conns(text);
    };
    let less = parse_conns(rest).unwrap_or_default();
    let mut out = BTreeMap::new();
    for (_, proto) in crate::netpol::PROTOCOLS {
        let mut taken: Vec<(u16, u16)> = less.get(proto).cloned().unwrap_or_default();
        taken.sort_unstable();
        let mut free = Vec::new();
        let mut next: u32 = 1;
        for (a, b) in taken {
            if u32::from(a) > next {
                free.push((u16::try_from(next).unwrap(), a - 1));
            }
            next = next.max(u32::from(b) + 1);
        }
        if next <= 65535 {
            free.push((u16::try_from(next).unwrap(), 65535));
        }
        out.insert(proto.to_string(), free);
    }
    Some(out)
}

/// Whether a port text of the diff (`80/tcp`, `8000-8100/tcp`, `all udp ports`) covers a port.
fn covers(texts: &[String], proto: &str, port: u16) -> bool {
    let proto = proto.to_ascii_lowercase();
    texts.iter().any(|t| {
        if let Some(p) = t
            .strip_prefix("all ")
            .and_then(|r| r.strip_suffix(" ports"))
        {
            return p == proto;
        }
        let (range, p) = t
            .split_once('/')
            .unwrap_or_else(|| panic!("port text `{t}`"));
        let (a, b) = range.split_once('-').unwrap_or((range, range));
        let (a, b): (u16, u16) = (
            a.parse().unwrap_or_else(|_| panic!("port text `{t}`")),
            b.parse().unwrap_or_else(|_| panic!("port text `{t}`")),
        );
        p == proto && a <= port && port <= b
    })
}

/// The addresses an endpoint of the diff names, if it names addresses (a CIDR as `0.0.0.0/0` or
/// `10.0.8.0/21`, `10.0.0.1`, `10.0.0.0-10.0.8.255`): the family (true: IPv6) and the first and
/// last.
fn range(text: &str) -> Option<(bool, u128, u128)> {
    if let Some((a, len)) = text.split_once('/') {
        let (v6, a) = ip_value(a.parse().ok()?);
        let bits = if v6 { 128 } else { 32 };
        let len: u32 = len.parse().ok()?;
        assert!(len <= bits, "address range `{text}`");
        let host = if len == 0 {
            if v6 { u128::MAX } else { u128::from(u32::MAX) }
        } else {
            (1u128 << (bits - len)) - 1
        };
        assert_eq!(a & host, 0, "`{text}` is not a network's first address");
        return Some((v6, a, a | host));
    }
    let (a, b) = text.split_once('-').unwrap_or((text, text));
    let (a, b): (IpAddr, IpAddr) = (a.parse().ok()?, b.parse().ok()?);
    let ((fa, a), (fb, b)) = (ip_value(a), ip_value(b));
    assert!(fa == fb && a <= b, "address range `{text}`");
    Some((fa, a, b))
}

struct Tally {
    failures: Vec<String>,
    probes: usize,
    added: usize,
    removed: usize,
}

fn compare(p: &Pair, added: &NcaMap, removed: &NcaMap, tally: &mut Tally) {
    let mut ports: BTreeSet<u16> = cluster::probe_ports(&p.old, &[]);
    ports.extend(cluster::probe_ports(&p.new, &[]));
    let by_names: BTreeMap<(&str, &str), &Change> = p
        .changes
        .iter()
        .map(|c| ((c.from.as_str(), c.to.as_str()), c))
        .collect();
    // A change to or from outside names a range of neighbouring address classes: each class
    // is found in the one range of its kind and direction that holds it.
    let ranged = |pod: &str, egress: bool, ip: IpAddr| -> Option<&Change> {
        let (v6, value) = ip_value(ip);
        let holding: Vec<&Change> = p
            .changes
            .iter()
            .filter(|c| {
                let (me, there) = if egress {
                    (&c.from, &c.to)
                } else {
                    (&c.to, &c.from)
                };
                me == pod
                    && range(there).is_some_and(|(f, a, b)| f == v6 && a <= value && value <= b)
            })
            .collect();
        assert!(
            holding.len() <= 1,
            "{ip} is in more than one range: {holding:?}"
        );
        holding.first().copied()
    };
    let mut probe = |src: &End, dst: &End, from: &str, to: &str, label: &str| {
        let change = match (src, dst) {
            (End::Pod(_), End::Ips(..)) => ranged(from, true, to.parse().unwrap()),
            (End::Ips(..), End::Pod(_)) => ranged(to, false, from.parse().unwrap()),
            _ => by_names.get(&(from, to)).copied(),
        };
        for (_, proto) in crate::netpol::PROTOCOLS {
            for &port in &ports {
                tally.probes += 1;
                let ours = change.map_or((false, false), |c| {
                    (
                        covers(&c.added, proto, port),
                        covers(&c.removed, proto, port),
                    )
                });
                let theirs = (
                    added.allows(src, dst, proto, port),
                    removed.allows(src, dst, proto, port),
                );
                tally.added += usize::from(theirs.0);
                tally.removed += usize::from(theirs.1);
                if ours != theirs {
                    tally.failures.push(format!(
                        "pair {} ({}): {label} on {port}/{proto}: warden (added, removed) {ours:?}, nca {theirs:?}\n--- old\n{}--- new\n{}",
                        p.index, p.mutation, p.old_text, p.new_text
                    ));
                }
            }
        }
    };
    let end = |i: usize, twin: &str| {
        End::Pod(format!(
            "{}/{}",
            p.kinds[i].pod.namespace,
            pod_name(p, i, twin)
        ))
    };
    for (i, a) in p.kinds.iter().enumerate() {
        for (j, b) in p.kinds.iter().enumerate() {
            let label = format!("{} -> {}", a.name, b.name);
            probe(&end(i, "a"), &end(j, "b"), &a.name, &b.name, &label);
        }
        for class in address_classes([&p.old, &p.new]) {
            let ip = class.first();
            let (v6, value) = ip_value(ip);
            let outside = End::Ips(v6, value, value);
            let text = ip.to_string();
            probe(
                &end(i, "a"),
                &outside,
                &a.name,
                &text,
                &format!("{} -> {ip}", a.name),
            );
            probe(
                &outside,
                &end(i, "a"),
                &text,
                &a.name,
                &format!("{ip} -> {}", a.name),
            );
        }
    }
}

#[test]
fn network_diff_agrees_with_network_config_analyzer() {
    let pairs = pairs();
    let mut by_mutation: BTreeMap<&str, usize> = BTreeMap::new();
    for p in &pairs {
        *by_mutation.entry(p.mutation).or_default() += 1;
    }
    let batches: Vec<Vec<&Pair>> = pairs.chunks(BATCH).map(|b| b.iter().collect()).collect();
    let next = std::sync::atomic::AtomicUsize::new(0);
    let tallies: Vec<Tally> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..2)
            .map(|_| {
                scope.spawn(|| {
                    let mut done = Vec::new();
                    loop {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some(batch) = batches.get(i) else {
                            return done;
                        };
                        let dir = tempfile::tempdir().unwrap();
                        let (added, removed) = run_nca(batch, dir.path());
                        let mut tally = Tally {
                            failures: Vec::new(),
                            probes: 0,
                            added: 0,
                            removed: 0,
                        };
                        for p in batch {
                            compare(p, &added, &removed, &mut tally);
                        }
                        done.push(tally);
                    }
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().unwrap())
            .collect()
    });
    let failures: Vec<&String> = tallies.iter().flat_map(|t| &t.failures).collect();
    let probes: usize = tallies.iter().map(|t| t.probes).sum();
    let added: usize = tallies.iter().map(|t| t.added).sum();
    let removed: usize = tallies.iter().map(|t| t.removed).sum();
    let kinds: usize = pairs.iter().map(|p| p.kinds.len()).sum();
    let changed = pairs.iter().filter(|p| !p.changes.is_empty()).count();
    eprintln!(
        "diff oracle: {} pairs ({by_mutation:?}), {kinds} kinds of pod, {probes} probes, {added} added and {removed} removed by nca, {changed} pairs with a change",
        pairs.len()
    );
    assert!(
        failures.is_empty(),
        "{} disagreements, the first:\n{}",
        failures.len(),
        failures
            .iter()
            .take(3)
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    );
    // The comparison compared something: connections were added and removed.
    assert!(
        added > 1000 && removed > 1000,
        "added {added}, removed {removed}"
    );
    assert!(
        changed > PAIRS * 2 / 3,
        "only {changed} pairs changed anything"
    );
    assert!(
        changed < PAIRS,
        "no pair without a change: the diff is never asked to say nothing"
    );
}

/// Calls whose treatment the random blocks vary: plain ones, ones Docker's profile allows for
/// some arguments (`personality`), capabilities (`chroot`) or kernels (`clone3`), and ones it
/// refuses.
const CALLS: [&str; 14] = [
    "read",
    "write",
    "openat",
    "clone",
    "clone3",
    "personality",
    "chroot",
    "mount",
    "ptrace",
    "socket",
    "bpf",
    "unshare",
    "getpid",
    "kill",
];

fn random_syscalls(rng: &mut Rng) -> String {
    let mut lines = Vec::new();
    if rng.chance(40) {
        lines.push("base docker-default".to_string());
    }
    lines.push(
        rng.pick(&[
            "default errno EPERM",
            "default kill-process",
            "default errno ENOSYS",
            "default log",
            "default allow",
        ])
        .to_string(),
    );
    lines.push("allow group runtime-core".to_string());
    for call in CALLS {
        match rng.below(8) {
            0 => lines.push(format!("allow {call}")),
            1 => lines.push(format!("errno EPERM {call}")),
            2 => lines.push(format!("kill-process {call}")),
            3 => lines.push(format!("log {call}")),
            4 => lines.push(format!("allow {call} if arg0 == {}", rng.below(3))),
            5 => lines.push(format!("errno EACCES {call} if arg1 != 0")),
            _ => {}
        }
    }
    lines.join("\n    ")
}

/// The rules of a generated profile for each call, as the kernel reads them (see
/// `warden::diff::effective`), from the profile's JSON.
fn json_effective(profile: &serde_json::Value, name: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for r in profile["syscalls"].as_array().unwrap() {
        if !r["names"].as_array().unwrap().iter().any(|n| n == name) {
            continue;
        }
        let mut args: Vec<String> = r["args"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|a| {
                format!(
                    "{} {} {} {}",
                    a["index"],
                    a["op"],
                    a["value"],
                    a["valueTwo"].as_u64().unwrap_or(0)
                )
            })
            .collect();
        args.sort();
        let errno = if r["action"] == "SCMP_ACT_ERRNO" {
            r["errnoRet"].as_u64().unwrap_or(1)
        } else {
            0
        };
        let runtime = [&r["includes"], &r["excludes"]].map(|v| {
            v.as_object()
                .is_some_and(|o| !o.is_empty())
                .then(|| v.to_string())
        });
        out.push(format!("{} {errno} {args:?} {runtime:?}", r["action"]));
    }
    out.sort();
    out.dedup();
    if !out.iter().any(|r| r.ends_with("[] [None, None]")) {
        let errno = if profile["defaultAction"] == "SCMP_ACT_ERRNO" {
            profile["defaultErrnoRet"].as_u64().unwrap_or(1)
        } else {
            0
        };
        out.push(format!("default {} {errno}", profile["defaultAction"]));
    }
    out
}

fn profile_of(text: &str) -> (Program, serde_json::Value) {
    let mut sources = SourceMap::new();
    sources.add("s.warden".to_string(), text.to_string());
    let c = warden::compile_on(
        sources,
        &[Target::Seccomp],
        warden::document::Layout::Tree,
        common::today(),
    );
    let docs = c.documents.unwrap_or_else(|| {
        panic!(
            "{text}\n{}",
            warden::diag::render::human(&c.sources, &c.diagnostics)
        )
    });
    let doc = docs.iter().find(|d| d.path.ends_with("web.json")).unwrap();
    (c.program.unwrap(), serde_json::from_str(&doc.text).unwrap())
}

#[test]
fn seccomp_diff_agrees_with_the_profiles_rule_by_rule() {
    let mut rng = Rng(SEED ^ 0x5ecc);
    let names: Vec<&str> = warden::catalog::get().all_names().into_iter().collect();
    let (mut compared, mut changed) = (0, 0);
    for round in 0..120 {
        let program = |block: &str| {
            format!(
                "namespace t {{ }}\nservice web in t {{\n  pods app = \"web\"\n  syscalls {{\n    {block}\n  }}\n}}\n"
            )
        };
        let (a, b) = (random_syscalls(&mut rng), random_syscalls(&mut rng));
        let (old, old_profile) = profile_of(&program(&a));
        let (new, new_profile) = profile_of(&program(&b));
        let ours: BTreeSet<String> = warden::diff::seccomp(&old, &new)
            .into_iter()
            .flat_map(|s| s.calls.into_iter().map(|c| c.call))
            .collect();
        let theirs: BTreeSet<String> = names
            .iter()
            .filter(|n| json_effective(&old_profile, n) != json_effective(&new_profile, n))
            .map(|n| n.to_string())
            .collect();
        compared += names.len();
        changed += theirs.len();
        assert_eq!(
            ours,
            theirs,
            "round {round}: the diff and the profiles disagree on {:?}\n--- old\n    {a}\n--- new\n    {b}",
            ours.symmetric_difference(&theirs).collect::<Vec<_>>()
        );
    }
    eprintln!("seccomp diff oracle: {compared} call comparisons, {changed} changed");
    assert!(changed > 1000, "only {changed} calls changed");
}

/// Online Boutique and the same with one change of each kind: egress opened, a call allowed, the
/// admission block relaxed and a rule dropped, a waiver extended; controls and expectations
/// follow.
fn boutique_pair() -> (Program, Program) {
    let dir = common::example("online-boutique");
    let edits: [(&str, &str, &str); 5] = [
        ("namespace.warden", "  isolate\n", "  isolate ingress\n"),
        ("admission.warden", "mode deny", "mode warn"),
        ("admission.warden", "forbid privileged, ", "forbid "),
        (
            "backend.warden",
            "deny ptrace, mount, bpf, kexec_load",
            "deny mount, bpf, kexec_load",
        ),
        (
            "namespace.warden",
            "SI-7 owner \"release-engineering\" until 2027-12-31",
            "SI-7 owner \"release-engineering\" until 2028-06-30",
        ),
    ];
    let mut sides = [SourceMap::new(), SourceMap::new()];
    let mut names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    for name in names {
        let old = std::fs::read_to_string(dir.join(&name)).unwrap();
        let mut new = old.clone();
        for (file, from, to) in edits {
            if file == name {
                assert!(new.contains(from), "{name} no longer holds `{from}`");
                new = new.replacen(from, to, 1);
            }
        }
        sides[0].add(name.clone(), old);
        sides[1].add(name, new);
    }
    // As `warden diff` reads a side: expectations kept, not evaluated; unmet claims kept.
    let [old, new] = sides.map(|sources| {
        warden::compile_keeping_expects(sources, common::today())
            .program
            .expect("Online Boutique compiles")
    });
    (old, new)
}

#[test]
fn diff_json_validates_against_its_schema() {
    let today = common::today();
    let (old, new) = boutique_pair();
    let boutique = warden::diff::json(&warden::diff::diff(&old, &new, today).unwrap());
    let value: serde_json::Value = serde_json::from_str(&boutique).unwrap();
    for part in [
        "network",
        "seccomp",
        "admission",
        "waivers",
        "controls",
        "expectations",
    ] {
        assert!(
            !value[part].as_array().unwrap().is_empty(),
            "the change to Online Boutique no longer changes its {part}"
        );
    }
    // Seeded pairs, for endpoints and ports of every shape: pods, labels, addresses, ranges.
    let mut docs = vec![boutique];
    for p in pairs().iter().step_by(5) {
        docs.push(warden::diff::json(
            &warden::diff::diff(&p.old, &p.new, today).unwrap(),
        ));
    }
    // Broken on purpose: a port the schema does not know, a required field gone.
    let mut port = value.clone();
    port["network"][0]["added"][0] = "443/tcpx".into();
    let mut field = value.clone();
    field["controls"][0]
        .as_object_mut()
        .unwrap()
        .remove("weakening");
    docs.push(port.to_string());
    docs.push(field.to_string());
    let verdicts = crate::audit::schema_verdicts("diff.schema.json", &docs);
    let (valid, broken) = verdicts.split_at(docs.len() - 2);
    for (i, v) in valid.iter().enumerate() {
        assert_eq!(v, "valid", "document {i}:\n{}", docs[i]);
    }
    assert!(
        broken[0].starts_with("invalid: '443/tcpx' does not match "),
        "{}",
        broken[0]
    );
    assert_eq!(broken[1], "invalid: 'weakening' is a required property");
}
