//! `warden diff` as Markdown, for a pull-request comment: a line per part saying how much it
//! changes, then a table per part, the rows marked ⚠ (widening, weakening, breaking) first.
//! Connections that change alike share a row: every endpoint of its `from` to every endpoint of
//! its `to`. A comment has a size limit (GitHub's is 65,536 characters), so past `max_bytes` the
//! tables keep as many rows each as fit, the shortest whole, and each says how many it leaves to
//! `--format json`, which lists every change.

use super::Diff;
use super::network::Change;
use crate::audit::markdown_text as md;
use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::fmt::Write as _;

/// The size the Markdown keeps to unless told otherwise: under GitHub's 65,536 characters, with
/// room for what a workflow wraps around it.
pub const MAX_BYTES: usize = 60_000;

/// Endpoints past which a cell names only the first and counts the rest.
const NAMES: usize = 20;

/// A grouped row stands for the cross product of its cells, which the reader must be told.
const CONNECTIONS: &str = "### Connections\n\n\
    Each row: from every endpoint of *from* to every endpoint of *to*.\n\n\
    | from | to | now allowed | no longer allowed |\n|---|---|---|---|\n";

/// Connections that change alike: every endpoint of `from` to every endpoint of `to` gains the
/// ports `added` and loses `removed`.
#[derive(Debug, PartialEq, Eq)]
pub struct Group<'a> {
    pub from: Vec<&'a str>,
    pub to: Vec<&'a str>,
    pub added: &'a [String],
    pub removed: &'a [String],
}

/// The changes as groups: first each source's destinations that change alike, then the sources
/// whose destinations and ports are the same. Every change is in exactly one group, as one pair
/// of its cross product; groups come in the order of their first change.
pub fn groups(changes: &[Change]) -> Vec<Group<'_>> {
    type Ports<'a> = (&'a [String], &'a [String]);
    let mut by_source: Vec<(&str, Ports, Vec<&str>)> = Vec::new();
    let mut at: HashMap<(&str, Ports), usize> = HashMap::new();
    for c in changes {
        let key = (c.from.as_str(), (c.added.as_slice(), c.removed.as_slice()));
        match at.entry(key) {
            Entry::Occupied(place) => {
                if let Some(row) = by_source.get_mut(*place.get()) {
                    row.2.push(c.to.as_str());
                }
            }
            Entry::Vacant(place) => {
                place.insert(by_source.len());
                by_source.push((key.0, key.1, vec![c.to.as_str()]));
            }
        }
    }
    let mut out: Vec<Group> = Vec::new();
    let mut at: HashMap<(Vec<&str>, Ports), usize> = HashMap::new();
    for (from, ports, to) in by_source {
        match at.entry((to.clone(), ports)) {
            Entry::Occupied(place) => {
                if let Some(group) = out.get_mut(*place.get()) {
                    group.from.push(from);
                }
            }
            Entry::Vacant(place) => {
                place.insert(out.len());
                out.push(Group {
                    from: vec![from],
                    to,
                    added: ports.0,
                    removed: ports.1,
                });
            }
        }
    }
    out
}

/// A table: its line in the summary, its heading and header, and its rows as lines, the marked
/// ones first.
struct Table {
    line: String,
    head: String,
    rows: Vec<String>,
    marked: usize,
    /// The bytes of the first `i` rows, at `i`.
    sizes: Vec<usize>,
}

impl Table {
    fn new(head: &str, rows: Vec<(bool, String)>) -> Table {
        let marked = rows.iter().filter(|r| r.0).count();
        let (mut first, rest): (Vec<_>, Vec<_>) = rows.into_iter().partition(|r| r.0);
        first.extend(rest);
        let rows: Vec<String> = first.into_iter().map(|r| r.1).collect();
        let sizes = std::iter::once(0)
            .chain(rows.iter().scan(0, |sum, r| {
                *sum += r.len();
                Some(*sum)
            }))
            .collect();
        Table {
            line: String::new(),
            head: head.to_string(),
            rows,
            marked,
            sizes,
        }
    }

    /// Its summary line given: how much of the part changes.
    fn line(mut self, line: String) -> Table {
        self.line = line;
        self
    }

    /// Its summary line as its rows count: `what` for the marked ones, other changes for the rest.
    fn counted(self, part: &str, what: &str) -> Table {
        let (marked, rest) = (self.marked, self.rows.len() - self.marked);
        let line = format!(
            "- {part}: {}{marked} {what}, {rest} other {}\n",
            warn(marked),
            if rest == 1 { "change" } else { "changes" }
        );
        self.line(line)
    }

    /// What stands under the table when it shows only `shown` of its rows.
    fn cut(&self, shown: usize) -> String {
        let left = self.rows.len().saturating_sub(shown);
        if left == 0 {
            return String::new();
        }
        let marked = self.marked.saturating_sub(shown);
        let rows = if left == 1 { "row" } else { "rows" };
        let marked = match marked {
            0 => String::new(),
            1 if left == 1 => ", marked ⚠".to_string(),
            m if m == left => ", all marked ⚠".to_string(),
            m => format!(", {m} of them marked ⚠"),
        };
        format!(
            "*… and {left} more {rows}{marked}: `warden diff --format json` lists every change.*\n\n"
        )
    }

    /// The table's bytes when it shows `shown` rows.
    fn size(&self, shown: usize) -> usize {
        let rows = self.sizes.get(shown).or(self.sizes.last()).copied();
        self.head.len() + 1 + rows.unwrap_or(0) + self.cut(shown).len()
    }
}

/// A cell naming endpoints, the first `NAMES` of them and how many more.
fn names(list: &[&str]) -> String {
    let mut cell = list
        .iter()
        .take(NAMES)
        .map(|n| md(n))
        .collect::<Vec<_>>()
        .join(", ");
    if list.len() > NAMES {
        let _ = write!(cell, " and {} more", list.len() - NAMES);
    }
    cell
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// The diff as Markdown, for a pull-request comment, in about `max_bytes` (`None`: every row).
/// The lines before the tables are always whole, so a limit smaller than them is exceeded.
pub fn markdown(diff: &Diff, max_bytes: Option<usize>) -> String {
    let mut s = String::from("## What this change does\n\n");
    let tables = tables(diff);
    if tables.is_empty() {
        s.push_str("Nothing: both programs allow exactly the same.\n");
        return s;
    }
    s.push_str(if diff.widening {
        "**It widens what is allowed** (marked ⚠ below).\n\n"
    } else {
        "It allows nothing that was refused before.\n\n"
    });
    if diff.weakening {
        s.push_str(
            "**A claimed control stands worse than before** (marked ⚠ under Compliance).\n\n",
        );
    }
    if diff.broken {
        s.push_str(
            "**An expectation that held no longer does** (marked ⚠ under Expectations).\n\n",
        );
    }
    for t in &tables {
        s.push_str(&t.line);
    }
    s.push('\n');
    // Each table shows as many rows as every other, up to its own count: the most that fits.
    let most = tables.iter().map(|t| t.rows.len()).max().unwrap_or(0);
    let size = |shown: usize| -> usize {
        s.len()
            + tables
                .iter()
                .map(|t| t.size(shown.min(t.rows.len())))
                .sum::<usize>()
    };
    let shown = match max_bytes {
        None => most,
        Some(limit) => (0..=most).rev().find(|&k| size(k) <= limit).unwrap_or(0),
    };
    for t in &tables {
        let k = shown.min(t.rows.len());
        s.push_str(&t.head);
        for row in t.rows.iter().take(k) {
            s.push_str(row);
        }
        s.push('\n');
        s.push_str(&t.cut(k));
    }
    s
}

/// `⚠ ` before a count of marked rows that is not 0.
fn warn(n: usize) -> &'static str {
    if n > 0 { "⚠ " } else { "" }
}

/// The tables of the parts that change, each with its summary line.
fn tables(diff: &Diff) -> Vec<Table> {
    let mut out = Vec::new();
    if !diff.network.is_empty() {
        let more = diff.network.iter().filter(|c| !c.added.is_empty()).count();
        let less = diff
            .network
            .iter()
            .filter(|c| !c.removed.is_empty())
            .count();
        let rows = groups(&diff.network)
            .iter()
            .map(|g| {
                let marked = !g.added.is_empty();
                let row = format!(
                    "| {} | {} | {}{} | {} |\n",
                    names(&g.from),
                    names(&g.to),
                    if marked { "⚠ " } else { "" },
                    md(&g.added.join(", ")),
                    md(&g.removed.join(", "))
                );
                (marked, row)
            })
            .collect();
        out.push(Table::new(CONNECTIONS, rows).line(format!(
            "- Connections: {}{} of endpoints allowed more, {less} allowed less\n",
            warn(more),
            plural(more, "pair", "pairs"),
        )));
    }
    if !diff.seccomp.is_empty() {
        let rows = diff
            .seccomp
            .iter()
            .flat_map(|svc| {
                svc.calls.iter().map(|c| {
                    let row = format!(
                        "| {} | {}{} | {} | {} |\n",
                        md(&svc.service),
                        if c.widening { "⚠ " } else { "" },
                        md(&c.call),
                        md(&c.old),
                        md(&c.new)
                    );
                    (c.widening, row)
                })
            })
            .collect();
        let table = Table::new(
            "### System calls\n\n| service | call | before | after |\n|---|---|---|---|\n",
            rows,
        );
        let line = format!(
            "- System calls: {}{} allowed more, {} otherwise changed, in {}\n",
            warn(table.marked),
            plural(table.marked, "call", "calls"),
            table.rows.len() - table.marked,
            plural(diff.seccomp.len(), "service", "services")
        );
        out.push(table.line(line));
    }
    if !diff.admission.is_empty() {
        let rows = diff
            .admission
            .iter()
            .map(|a| {
                let row = format!(
                    "| {} | {}{} | {} |\n",
                    md(&a.block),
                    if a.widening { "⚠ " } else { "" },
                    md(&a.change),
                    md(&a.what)
                );
                (a.widening, row)
            })
            .collect();
        out.push(
            Table::new(
                "### Admission\n\n| block | change | rule |\n|---|---|---|\n",
                rows,
            )
            .counted("Admission", "removed or relaxed"),
        );
    }
    if !diff.waivers.is_empty() {
        let rows = diff
            .waivers
            .iter()
            .map(|w| {
                let row = format!(
                    "| {} | {} | {}{} | {} | {} |\n",
                    md(&w.block),
                    md(&w.what),
                    if w.widening { "⚠ " } else { "" },
                    md(&w.change),
                    md(w.owner.as_deref().unwrap_or("")),
                    md(w.until.as_deref().unwrap_or("never"))
                );
                (w.widening, row)
            })
            .collect();
        out.push(Table::new(
            "### Waivers and exemptions\n\n| block | what | change | owner | until |\n|---|---|---|---|---|\n",
            rows,
        )
        .counted("Waivers and exemptions", "added or extended"));
    }
    if !diff.controls.is_empty() {
        let rows = diff
            .controls
            .iter()
            .map(|c| {
                let row = format!(
                    "| {} | {} | {}{} {} | {} | {} | {} |\n",
                    md(&c.block),
                    md(&c.framework),
                    if c.weakening { "⚠ " } else { "" },
                    md(&c.control),
                    md(&c.title),
                    md(&c.namespaces.join(", ")),
                    md(&c.old),
                    md(&c.new)
                );
                (c.weakening, row)
            })
            .collect();
        out.push(Table::new(
            "### Compliance\n\n| block | framework | control | namespaces | before | after |\n|---|---|---|---|---|---|\n",
            rows,
        )
        .counted("Compliance", "standing worse"));
    }
    if !diff.expectations.is_empty() {
        let rows = diff
            .expectations
            .iter()
            .map(|x| {
                let row = format!(
                    "| {}{} | {} | {} |\n",
                    if x.broken { "⚠ " } else { "" },
                    md(&x.expectation),
                    md(&x.old),
                    md(&x.new)
                );
                (x.broken, row)
            })
            .collect();
        out.push(
            Table::new(
                "### Expectations\n\n| expectation | before | after |\n|---|---|---|\n",
                rows,
            )
            .counted("Expectations", "broken"),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    fn change(from: &str, to: &str, added: &[&str], removed: &[&str]) -> Change {
        let texts = |l: &[&str]| l.iter().map(|s| s.to_string()).collect();
        Change {
            from: from.to_string(),
            to: to.to_string(),
            added: texts(added),
            removed: texts(removed),
        }
    }

    #[test]
    fn every_connection_is_in_one_group_with_its_ports() {
        let changes = vec![
            change("a", "x", &["80/tcp"], &[]),
            change("a", "y", &["80/tcp"], &[]),
            change("a", "z", &["443/tcp"], &[]),
            change("b", "x", &["80/tcp"], &[]),
            change("b", "y", &["80/tcp"], &[]),
            change("c", "x", &["80/tcp"], &[]),
            change("c", "y", &[], &["80/tcp"]),
            change("d", "z", &["443/tcp"], &[]),
        ];
        let groups = groups(&changes);
        let mut pairs = Vec::new();
        for g in &groups {
            for f in &g.from {
                for t in &g.to {
                    pairs.push((f.to_string(), t.to_string(), g.added, g.removed));
                }
            }
        }
        let expected: BTreeSet<_> = changes
            .iter()
            .map(|c| (c.from.clone(), c.to.clone(), &c.added[..], &c.removed[..]))
            .collect();
        assert_eq!(
            pairs.len(),
            expected.len(),
            "a connection twice: {groups:?}"
        );
        assert_eq!(pairs.into_iter().collect::<BTreeSet<_>>(), expected);
        // a and b change alike towards x and y; a and d alike towards z; c alone twice.
        let shapes: Vec<(Vec<&str>, Vec<&str>)> = groups
            .iter()
            .map(|g| (g.from.clone(), g.to.clone()))
            .collect();
        assert_eq!(
            shapes,
            [
                (vec!["a", "b"], vec!["x", "y"]),
                (vec!["a", "d"], vec!["z"]),
                (vec!["c"], vec!["x"]),
                (vec!["c"], vec!["y"]),
            ]
        );
    }

    #[test]
    fn a_long_table_is_cut_to_the_size_its_rows_marked_first() {
        let mut changes: Vec<Change> = (0..400)
            .map(|i| change(&format!("ns/s{i}"), "ns/t", &[], &[&format!("{i}/tcp")]))
            .collect();
        changes.push(change("ns/wide", "ns/t", &["1-65535/tcp"], &[]));
        let diff = Diff {
            format: 1,
            date: "2026-12-06".to_string(),
            widening: true,
            weakening: false,
            broken: false,
            network: changes,
            seccomp: Vec::new(),
            admission: Vec::new(),
            waivers: Vec::new(),
            controls: Vec::new(),
            expectations: Vec::new(),
        };
        let all = markdown(&diff, None);
        assert_eq!(all.lines().filter(|l| l.starts_with("| ns/")).count(), 401);
        let cut = markdown(&diff, Some(3000));
        assert!(cut.len() <= 3000, "{}", cut.len());
        let rows: Vec<&str> = cut.lines().filter(|l| l.starts_with("| ns/")).collect();
        assert_eq!(rows.first(), Some(&"| ns/wide | ns/t | ⚠ 1-65535/tcp |  |"));
        let note = format!("*… and {} more rows: `warden diff", 401 - rows.len());
        assert!(cut.contains(&note), "{cut}");
        // Tighter than the lines before the tables: those stay whole, and no row is shown.
        let bare = markdown(&diff, Some(10));
        assert!(
            bare.contains("- Connections: ⚠ 1 pair of endpoints allowed more, 400 allowed less")
        );
        assert!(
            bare.contains("*… and 401 more rows, 1 of them marked ⚠"),
            "{bare}"
        );
    }
}
