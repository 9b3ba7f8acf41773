//! The Markdown of `audit` and `diff`, read by GitHub's own engine: cmark-gfm (Debian's, pinned
//! in `.ci/test`) with its table extension, as GitHub renders a report or a pull-request comment.
//!
//! - Every row the Markdown writes is a row of a table with its header's cells, and every table
//!   the Markdown writes is one table: nothing ends one early or runs into a paragraph.
//! - A program's hostile text (reasons, owners: `<script>`, `|`, links, cell-closing tags) is in
//!   its cell as text, neither markup nor a link nor a cell of its own.
//! - `diff`'s connections, expanded from GitHub's cells (every endpoint of a row's *from* to every
//!   endpoint of its *to*), are exactly the connections its JSON lists, each once.
//! - At its default size, `diff`'s comment of 1,999 connections keeps under GitHub's limit of
//!   65,536 characters; its rows are the full comment's first, and those left out are counted.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "in tests a panic is a failed test"
)]

use crate::audit::HOSTILE;
use crate::common::{self, run};
use std::collections::BTreeSet;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

/// The HTML GitHub's engine makes of `markdown`.
fn cmark(markdown: &str) -> String {
    let mut child = Command::new("cmark-gfm")
        .args(["--extension", "table"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("cmark-gfm cannot run ({e}): install Debian's cmark-gfm, as .ci/test does")
        });
    child
        .stdin
        .take()
        .unwrap()
        .write_all(markdown.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap()
}

/// A table as GitHub shows it: its header's cells and each row's, as text.
#[derive(Debug)]
struct Table {
    head: Vec<String>,
    rows: Vec<Vec<String>>,
}

/// The text of an HTML fragment: its tags dropped, its entities read.
fn text(html: &str) -> String {
    let mut out = String::new();
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => in_tag = false,
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    out.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&amp;", "&")
}

/// The tables of cmark-gfm's HTML, which writes each cell on a line of its own.
fn tables(html: &str) -> Vec<Table> {
    let mut out = Vec::new();
    for part in html.split("<table>").skip(1) {
        let body = part.split("</table>").next().unwrap();
        let mut head = Vec::new();
        let mut rows = Vec::new();
        for row in body.split("<tr>").skip(1) {
            let cells: Vec<String> = row
                .lines()
                .filter(|l| l.starts_with("<td") || l.starts_with("<th"))
                .map(|l| {
                    let inner = &l[l.find('>').unwrap() + 1..l.rfind("</t").unwrap()];
                    text(inner)
                })
                .collect();
            if row.contains("<th") {
                head = cells;
            } else {
                rows.push(cells);
            }
        }
        out.push(Table { head, rows });
    }
    out
}

/// The rows of each table the Markdown writes: its runs of lines starting with `|`, less the
/// header and the delimiter row.
fn markdown_rows(markdown: &str) -> Vec<usize> {
    let mut out = Vec::new();
    let mut run = 0;
    for line in markdown.lines().chain([""]) {
        if line.starts_with('|') {
            run += 1;
        } else if run > 0 {
            out.push(run - 2);
            run = 0;
        }
    }
    out
}

/// GitHub reads `markdown` as the tables it writes, with nothing raw or linked; returns them.
fn read_as_written(name: &str, markdown: &str) -> Vec<Table> {
    let html = cmark(markdown);
    assert!(
        !html.contains("raw HTML omitted") && !html.contains("<a "),
        "{name}: markup or a link got through\n{html}"
    );
    let tables = tables(&html);
    let written = markdown_rows(markdown);
    assert_eq!(
        tables.iter().map(|t| t.rows.len()).collect::<Vec<_>>(),
        written,
        "{name}: the tables GitHub reads are not the ones written\n{markdown}"
    );
    for t in &tables {
        assert!(!t.head.is_empty(), "{name}: a table with no header");
        for row in &t.rows {
            assert_eq!(
                row.len(),
                t.head.len(),
                "{name}: {row:?} under {:?}",
                t.head
            );
        }
    }
    tables
}

/// Whether some cell of some table holds `wanted` as its text, or as a part of it.
fn in_a_cell(tables: &[Table], wanted: &str) -> bool {
    tables
        .iter()
        .flat_map(|t| &t.rows)
        .flatten()
        .any(|c| c.contains(wanted))
}

const HOSTILE_TEXTS: [&str; 4] = [
    "<script>alert(1)</script> | <b>bold</b> [x](http://e)",
    "</td><td>evil",
    "<img src=x onerror=alert(2)>",
    "a | b | c | d |",
];

#[test]
fn audit_markdown_reads_in_githubs_engine_as_written() {
    let work = tempfile::tempdir().unwrap();
    let hostile = work.path().join("hostile");
    std::fs::create_dir_all(&hostile).unwrap();
    std::fs::write(hostile.join("hostile.warden"), HOSTILE).unwrap();
    let boutique = common::example("online-boutique");
    for (name, dir) in [
        ("online-boutique", boutique.as_path()),
        ("hostile", &hostile),
    ] {
        let (code, md, err) = run(
            &[
                "audit",
                dir.to_str().unwrap(),
                "--format",
                "md",
                "--date",
                common::TODAY,
            ],
            work.path(),
        );
        assert_eq!(code, 0, "{name}: {err}");
        let tables = read_as_written(name, &md);
        assert!(tables.len() >= 5, "{name}: {} tables", tables.len());
        if name == "hostile" {
            for wanted in HOSTILE_TEXTS {
                assert!(
                    in_a_cell(&tables, wanted),
                    "`{wanted}` is not a cell's text"
                );
            }
        }
    }
}

/// `warden diff OLD NEW` with `extra`, its standard output.
fn diff(old: &Path, new: &Path, extra: &[&str], cwd: &Path) -> String {
    let mut args = vec![
        "diff",
        old.to_str().unwrap(),
        new.to_str().unwrap(),
        "--date",
        common::TODAY,
    ];
    args.extend(extra);
    let (code, out, err) = run(&args, cwd);
    assert_eq!(code, 0, "{err}");
    out
}

#[test]
fn diff_markdown_reads_in_githubs_engine_as_written() {
    let work = tempfile::tempdir().unwrap();
    let (old, new) = (work.path().join("old"), work.path().join("new"));
    for dir in [&old, &new] {
        std::fs::create_dir_all(dir).unwrap();
    }
    std::fs::write(old.join("p.warden"), HOSTILE).unwrap();
    let changed = HOSTILE
        .replace(
            "  from world on http\n",
            "  from world on http\n  to world on 443/tcp\n",
        )
        .replace(
            "syscalls { base docker-default }",
            "syscalls { base docker-default\n allow ptrace }",
        )
        .replace("until 2027-06-30", "until 2027-09-30");
    assert_ne!(changed, HOSTILE);
    std::fs::write(new.join("p.warden"), &changed).unwrap();
    let md = diff(&old, &new, &[], work.path());
    let tables = read_as_written("diff", &md);
    for wanted in HOSTILE_TEXTS[1..3].iter() {
        assert!(
            in_a_cell(&tables, wanted),
            "`{wanted}` is not a cell's text\n{md}"
        );
    }
    let heads: Vec<&str> = tables.iter().map(|t| t.head[0].as_str()).collect();
    assert_eq!(heads, ["from", "service", "block"], "{md}");

    connections_are_the_jsons(&old, &new, &tables[0], work.path());

    // Online Boutique's namespace open for egress: many connections that change alike, in rows
    // of many endpoints.
    let (old, new) = (work.path().join("boutique"), work.path().join("open"));
    for dir in [&old, &new] {
        copy_dir(&common::example("online-boutique"), dir);
    }
    let namespace = new.join("namespace.warden");
    let text = std::fs::read_to_string(&namespace).unwrap();
    assert!(text.contains("  isolate\n"));
    std::fs::write(
        &namespace,
        text.replace("  isolate\n", "  isolate ingress\n"),
    )
    .unwrap();
    let md = diff(&old, &new, &[], work.path());
    let tables = read_as_written("boutique", &md);
    assert!(
        tables[0].rows.iter().any(|r| r[0].split(", ").count() > 10),
        "no row of many endpoints\n{md}"
    );
    connections_are_the_jsons(&old, &new, &tables[0], work.path());
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            std::fs::copy(&path, to.join(path.file_name().unwrap())).unwrap();
        }
    }
}

/// The connections GitHub shows in `table`, expanded, are those the JSON lists, each once.
fn connections_are_the_jsons(old: &Path, new: &Path, table: &Table, cwd: &Path) {
    assert_eq!(table.head[0], "from");
    let json: serde_json::Value =
        serde_json::from_str(&diff(old, new, &["--format", "json"], cwd)).unwrap();
    let listed: BTreeSet<(String, String, String, String)> = json["network"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            let ports = |k: &str| {
                let texts: Vec<&str> = c[k]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|p| p.as_str().unwrap())
                    .collect();
                texts.join(", ")
            };
            let s = |k: &str| c[k].as_str().unwrap().to_string();
            (s("from"), s("to"), ports("added"), ports("removed"))
        })
        .collect();
    assert!(!listed.is_empty());
    let mut shown = Vec::new();
    for row in &table.rows {
        let added = row[2].strip_prefix("⚠ ").unwrap_or(&row[2]);
        for from in row[0].split(", ") {
            for to in row[1].split(", ") {
                shown.push((
                    from.to_string(),
                    to.to_string(),
                    added.to_string(),
                    row[3].clone(),
                ));
            }
        }
    }
    assert_eq!(
        shown.len(),
        listed.len(),
        "shown and listed connections differ in number"
    );
    assert_eq!(shown.into_iter().collect::<BTreeSet<_>>(), listed);
}

#[test]
fn diff_markdown_at_its_default_size_fits_a_github_comment() {
    let work = tempfile::tempdir().unwrap();
    let (old, new) = (work.path().join("old"), work.path().join("new"));
    for (dir, linked) in [(&old, false), (&new, true)] {
        std::fs::create_dir_all(dir).unwrap();
        std::fs::write(dir.join("p.warden"), common::chain(2000, linked)).unwrap();
    }
    let all = diff(&old, &new, &["--max-bytes", "0"], work.path());
    let full = read_as_written("every row", &all);
    assert_eq!(full[0].rows.len(), 1999);
    let md = diff(&old, &new, &[], work.path());
    assert!(
        md.chars().count() <= 65_536,
        "{} characters",
        md.chars().count()
    );
    let html = cmark(&md);
    let cut = read_as_written("default", &md);
    let shown = cut[0].rows.len();
    assert!(shown > 100, "{shown} rows");
    assert_eq!(cut[0].rows[..], full[0].rows[..shown]);
    let note = format!(
        "<p><em>… and {} more rows, all marked ⚠: <code>warden diff --format json</code> lists every change.</em></p>",
        1999 - shown
    );
    assert!(html.contains(&note), "{html}");
}
