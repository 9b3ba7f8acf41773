//! `warden audit` and `warden diff` on programs built from the fuzzer's bytes (the generator's
//! valid programs, with compliance claims, waivers and dated exemptions), on a fixed day. Whatever
//! the program: every format is written; the same report twice gives the same bytes; the JSON's
//! counts add up; no text of the program adds a tag to the HTML or a cell to a Markdown table; a
//! program compared with itself changes nothing; and comparing two programs one way gives the
//! mirror of comparing them the other way. A program whose expectations do not hold is not
//! audited, but it is compared, as `warden diff` compares it.

use crate::generate;
use std::collections::BTreeSet;
use warden::diag::Diagnostic;
use warden::document::{Layout, Target};
use warden::ir::{Date, Program};
use warden::span::SourceMap;

/// The day every program is counted on: the generator's dates fall before it, within 30 days of
/// it and after it.
const TODAY: &str = "2026-06-01";

pub fn review(data: &[u8]) {
    reached(data);
}

/// What a run of `review` reached, for the test that the stored inputs reach every part.
#[derive(Default, Debug, Clone, Copy)]
pub struct Reached {
    pub audited: bool,
    /// A report with an expectation that does not hold.
    pub failing: bool,
    pub waived: bool,
    pub missing: bool,
    pub network: bool,
    pub seccomp: bool,
    pub admission: bool,
    pub waivers: bool,
    pub controls: bool,
    pub expectations: bool,
    pub broken: bool,
}

/// `review`'s body: panics where a promise breaks, says what it reached where none does.
pub fn reached(data: &[u8]) -> Reached {
    let mut reached = Reached::default();
    let mut u = arbitrary::Unstructured::new(data);
    let Ok(mut first) = generate::valid_file(&mut u) else {
        return reached;
    };
    let mut second = generate::valid_file(&mut u).ok();
    // Drawn after both programs, so that a stored input builds the programs it did.
    first.expects = generate::valid_expects(&mut u, &first).unwrap_or_default();
    if let Some(second) = &mut second {
        second.expects = generate::valid_expects(&mut u, second).unwrap_or_default();
    }
    let Some(today) = Date::parse(TODAY) else {
        panic!("{TODAY} is not a day");
    };
    let Some(old) = audited(&warden::format::file(&first), today, &mut reached) else {
        return reached;
    };
    diffs_nothing(&old, today);
    let Some(new) =
        second.and_then(|f| audited(&warden::format::file(&f), today, &mut Reached::default()))
    else {
        return reached;
    };
    if let Some(d) = mirrored(&old, &new, today) {
        reached.network = !d.network.is_empty();
        reached.seccomp = !d.seccomp.is_empty();
        reached.admission = !d.admission.is_empty();
        reached.waivers = !d.waivers.is_empty();
        reached.controls = !d.controls.is_empty();
        reached.expectations = !d.expectations.is_empty();
        reached.broken = d.broken;
    }
    reached
}

/// Compiles `text` on `today` and audits it as `warden audit` does; the program, unless it has
/// errors beyond its claims and its expectations.
fn audited(text: &str, today: Date, reached: &mut Reached) -> Option<Program> {
    let sources = || {
        let mut sources = SourceMap::new();
        sources.add("p.warden".to_string(), text.to_string());
        sources
    };
    // As `check` reads it, expectations evaluated; as `audit` does, kept for the report.
    let checked = warden::compile_on(sources(), &Target::DEFAULT, Layout::Tree, today);
    let mut compiled = warden::compile_for_audit(sources(), &Target::DEFAULT, Layout::Tree, today);
    let unmet = |d: &&Diagnostic| d.code == "E0601" || d.code == "E0603";
    let beyond = |c: &warden::Compilation| {
        c.diagnostics
            .iter()
            .any(|d| d.is_error() && !d.code.starts_with("E10") && !unmet(&d))
    };
    // Kept, the expectations are all that changes: refused alike, or read alike.
    assert_eq!(
        beyond(&checked),
        beyond(&compiled),
        "kept expectations change more than them:\n{text}"
    );
    let Some(docs) = compiled.documents.take().or(compiled.audited.take()) else {
        assert!(beyond(&compiled), "no documents and no error:\n{text}");
        return None;
    };
    // The documents never depend on an expectation.
    if let Some(theirs) = checked.documents.as_ref().or(checked.audited.as_ref()) {
        let texts = |d: &[warden::document::Document]| -> Vec<(String, String)> {
            d.iter().map(|d| (d.path.clone(), d.text.clone())).collect()
        };
        assert_eq!(
            texts(&docs),
            texts(theirs),
            "expectations changed the documents:\n{text}"
        );
    }
    let program = compiled.program?;
    let report =
        |docs| warden::audit::report(&program, &compiled.sources, docs, Layout::Tree, today, None);
    let first = report(docs.clone());
    let json = warden::audit::json(&first);
    assert_eq!(
        json,
        warden::audit::json(&report(docs)),
        "two reports on one program differ:\n{text}"
    );
    report_agrees_with_itself(&json, text);
    reached.audited = true;
    let statuses = || {
        first
            .compliance
            .iter()
            .flat_map(|b| &b.frameworks)
            .flat_map(|f| &f.controls)
            .map(|c| c.status.as_str())
    };
    // The report says of each expectation what `check` says: as many fail or are undecided
    // as it has errors for.
    let failing = first.expects.iter().filter(|e| e.status != "holds").count();
    assert_eq!(
        failing,
        checked.diagnostics.iter().filter(unmet).count(),
        "the report and check disagree on the expectations:\n{text}"
    );
    assert!(
        first
            .expects
            .iter()
            .all(|e| (e.status == "holds") == e.why.is_empty()),
        "an expectation fails with no reason, or holds with one:\n{text}"
    );
    reached.failing = failing > 0;
    reached.waived = statuses().any(|s| s == "waived");
    reached.missing = statuses().any(|s| s == "missing");
    let markdown = warden::audit::markdown(&first)
        .unwrap_or_else(|e| panic!("no Markdown report: {e}\n{text}"));
    tables_keep_their_columns(&markdown, text);
    let html =
        warden::audit::html(&first).unwrap_or_else(|e| panic!("no HTML report: {e}\n{text}"));
    only_the_templates_tags(&html, text);
    let claims_nist = first
        .compliance
        .iter()
        .any(|b| b.frameworks.iter().any(|f| f.id == "nist-800-53"));
    match warden::audit::oscal(&first, "p") {
        Ok(oscal) => {
            assert!(claims_nist, "an OSCAL document without a NIST claim");
            let v: serde_json::Value = serde_json::from_str(&oscal)
                .unwrap_or_else(|e| panic!("the OSCAL document is not JSON: {e}"));
            assert!(v["component-definition"]["uuid"].is_string());
        }
        Err(e) => assert!(!claims_nist, "no OSCAL document for a NIST claim: {e}"),
    }
    Some(program)
}

/// Per framework, the controls implemented, waived, missing and outside warden are the controls; a
/// control's status is its namespaces' (one missing: missing; else one waived: waived); and the
/// network evidence a control counts is what the network part of the report, which the
/// connectivity evaluator writes, says of the namespace.
fn report_agrees_with_itself(json: &str, text: &str) {
    let v: serde_json::Value =
        serde_json::from_str(json).unwrap_or_else(|e| panic!("the report is not JSON: {e}"));
    assert_eq!(v["format"], warden::audit::FORMAT);
    let network = |ns: &str, field: &str| {
        v["network"]["namespaces"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|n| n["name"] == ns)
            .map(|n| n[field] == true)
    };
    for block in v["compliance"].as_array().into_iter().flatten() {
        for f in block["frameworks"].as_array().into_iter().flatten() {
            let controls: &[serde_json::Value] =
                f["controls"].as_array().map_or(&[], Vec::as_slice);
            for (count, status) in [
                ("implemented", "implemented"),
                ("waived", "waived"),
                ("missing", "missing"),
                ("outside", "outside warden"),
            ] {
                let n = controls.iter().filter(|c| c["status"] == status).count();
                assert_eq!(
                    f[count].as_u64(),
                    Some(n as u64),
                    "{}: {status}\n{text}",
                    f["id"]
                );
            }
            for c in controls.iter().filter(|c| c["status"] != "outside warden") {
                let groups: &[serde_json::Value] =
                    c["groups"].as_array().map_or(&[], Vec::as_slice);
                let any = |s: &str| groups.iter().any(|g| g["status"] == s);
                let status = if any("missing") || groups.is_empty() {
                    "missing"
                } else if any("waived") {
                    "waived"
                } else {
                    "implemented"
                };
                assert_eq!(c["status"], status, "{} {}\n{text}", f["id"], c["id"]);
                for g in groups.iter().filter(|g| g["status"] == "implemented") {
                    for kind in g["evidence"].as_array().into_iter().flatten() {
                        let field = match kind.as_str() {
                            Some("isolate-ingress") => "isolate_ingress",
                            Some("isolate-egress") => "isolate_egress",
                            Some("allow-dns") => "allow_dns",
                            _ => continue,
                        };
                        for ns in g["namespaces"].as_array().into_iter().flatten() {
                            let ns = ns.as_str().unwrap_or_default();
                            assert_eq!(
                                network(ns, field),
                                Some(true),
                                "{} {} counts {kind} in {ns}, which the network part denies\n{text}",
                                f["id"],
                                c["id"]
                            );
                        }
                    }
                }
            }
        }
    }
}

/// The `|` of a Markdown line that no backslash escapes: GitHub splits a table's cells at them,
/// inside code spans too.
fn cells(line: &str) -> usize {
    let mut n = 0;
    let mut escaped = false;
    for c in line.chars() {
        match c {
            '\\' => escaped = !escaped,
            '|' if !escaped => n += 1,
            _ => escaped = false,
        }
        if c != '\\' {
            escaped = false;
        }
    }
    n
}

/// Every row of a Markdown table has its header's columns, and no other line starts a table.
fn tables_keep_their_columns(markdown: &str, text: &str) {
    let mut header: Option<usize> = None;
    for line in markdown.lines() {
        if line.starts_with('|') {
            let n = cells(line);
            match header {
                None => header = Some(n),
                Some(h) => assert_eq!(
                    n, h,
                    "a row of {n} bars under a header of {h}: {line}\n{text}"
                ),
            }
        } else {
            header = None;
        }
    }
}

/// The element names of the tags in `html`, opening and closing.
fn tags(html: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for (i, _) in html.match_indices('<') {
        let rest = html.get(i + 1..).unwrap_or("").trim_start_matches('/');
        let name: String = rest
            .chars()
            .take_while(char::is_ascii_alphanumeric)
            .collect();
        if !name.is_empty() {
            out.insert(name.to_ascii_lowercase());
        }
    }
    out
}

/// Every tag of the page is one the template (or the picture it draws) writes: text from the
/// program is escaped wherever it lands.
fn only_the_templates_tags(html: &str, text: &str) {
    static TEMPLATE: std::sync::OnceLock<BTreeSet<String>> = std::sync::OnceLock::new();
    let allowed =
        TEMPLATE.get_or_init(|| tags(include_str!("../../compiler/templates/audit/report.html")));
    let extra: Vec<String> = tags(html).difference(allowed).cloned().collect();
    assert!(
        extra.is_empty(),
        "tags the template does not write: {extra:?}\n{text}"
    );
}

/// A program compared with itself: nothing changes, nothing widens; waivers may only be ending.
fn diffs_nothing(program: &Program, today: Date) {
    let d = warden::diff::diff(program, program, today)
        .unwrap_or_else(|e| panic!("no diff of a program with itself: {e}"));
    assert!(d.network.is_empty(), "{:?}", d.network);
    assert!(d.seccomp.is_empty(), "{:?}", d.seccomp);
    assert!(
        d.admission.is_empty(),
        "{} admission changes",
        d.admission.len()
    );
    assert!(
        d.waivers.iter().all(|w| w.change == "ending"),
        "a waiver changed against itself"
    );
    assert!(d.expectations.is_empty(), "{:?}", d.expectations);
    assert!(
        !d.widening && !d.weakening && !d.broken,
        "a program changes itself"
    );
    tables_keep_their_columns(&warden::diff::markdown(&d, None), "");
}

/// The Markdown's rows, grouped, are the diff's connections, each once; cut to a size, it keeps
/// to it unless the lines before its tables are longer, and its tables keep their columns.
fn comment_keeps_everything(d: &warden::diff::Diff) {
    let mut pairs = Vec::new();
    for g in warden::diff::markdown::groups(&d.network) {
        for from in &g.from {
            for to in &g.to {
                pairs.push((*from, *to, g.added, g.removed));
            }
        }
    }
    let listed: BTreeSet<_> = d
        .network
        .iter()
        .map(|c| (c.from.as_str(), c.to.as_str(), &c.added[..], &c.removed[..]))
        .collect();
    assert_eq!(
        pairs.len(),
        listed.len(),
        "grouped connections differ in number"
    );
    assert_eq!(pairs.into_iter().collect::<BTreeSet<_>>(), listed);
    tables_keep_their_columns(&warden::diff::markdown(d, None), "");
    let floor = warden::diff::markdown(d, Some(0)).len();
    for limit in [600, 2_000] {
        let cut = warden::diff::markdown(d, Some(limit));
        assert!(
            cut.len() <= limit.max(floor),
            "{} bytes over {limit}",
            cut.len()
        );
        tables_keep_their_columns(&cut, "");
    }
}

/// Old to new is new to old mirrored: each connection added one way is removed the other, each
/// call's action swaps, each admission rule added is one removed. The forward diff, if there is one.
fn mirrored(old: &Program, new: &Program, today: Date) -> Option<warden::diff::Diff> {
    let (forward, backward) = match (
        warden::diff::diff(old, new, today),
        warden::diff::diff(new, old, today),
    ) {
        (Ok(f), Ok(b)) => (f, b),
        (Err(_), Err(_)) => return None,
        (f, b) => panic!("a diff one way only: {:?} / {:?}", f.err(), b.err()),
    };
    comment_keeps_everything(&forward);
    type Connection = (String, String, Vec<String>, Vec<String>);
    let connections = |d: &warden::diff::Diff, swap: bool| -> BTreeSet<Connection> {
        d.network
            .iter()
            .map(|c| {
                let (a, r) = ordered(swap, &c.added, &c.removed);
                (c.from.clone(), c.to.clone(), a, r)
            })
            .collect()
    };
    assert_eq!(
        connections(&forward, false),
        connections(&backward, true),
        "the network changes are not mirrored"
    );
    type Call = (String, String, String, String);
    let calls = |d: &warden::diff::Diff, swap: bool| -> BTreeSet<Call> {
        d.seccomp
            .iter()
            .flat_map(|s| {
                s.calls.iter().map(move |c| {
                    let (o, n) = ordered(swap, &c.old, &c.new);
                    (s.service.clone(), c.call.clone(), o, n)
                })
            })
            .collect()
    };
    assert_eq!(
        calls(&forward, false),
        calls(&backward, true),
        "the system call changes are not mirrored"
    );
    // Per namespace; a claim made that holds is left out one way, so its mirror is too.
    type Standing = (String, String, String, String, String, String);
    let standings = |d: &warden::diff::Diff, swap: bool| -> BTreeSet<Standing> {
        d.controls
            .iter()
            .filter(|c| {
                let pair = [c.old.as_str(), c.new.as_str()];
                pair != ["implemented", "not claimed"] && pair != ["not claimed", "implemented"]
            })
            .flat_map(|c| {
                let (o, n) = ordered(swap, &c.old, &c.new);
                c.namespaces.iter().map(move |ns| {
                    let at = (c.block.clone(), c.framework.clone(), c.control.clone());
                    (at.0, at.1, at.2, ns.clone(), o.clone(), n.clone())
                })
            })
            .collect()
    };
    assert_eq!(
        standings(&forward, false),
        standings(&backward, true),
        "the control changes are not mirrored"
    );
    let weakened = forward.controls.iter().filter(|c| c.weakening);
    for c in weakened {
        assert!(
            backward.controls.iter().all(|b| !(b.weakening
                && (&b.block, &b.framework, &b.control) == (&c.block, &c.framework, &c.control)
                && b.namespaces.iter().any(|ns| c.namespaces.contains(ns)))),
            "{} weakens both ways",
            c.control
        );
    }
    // An expectation added that holds is left out one way, so its mirror is too.
    type Expectation = (String, String, String);
    let expectations = |d: &warden::diff::Diff, swap: bool| -> BTreeSet<Expectation> {
        d.expectations
            .iter()
            .filter(|x| {
                let pair = [x.old.as_str(), x.new.as_str()];
                pair != ["holds", "absent"] && pair != ["absent", "holds"]
            })
            .map(|x| {
                let (o, n) = ordered(swap, &x.old, &x.new);
                (x.expectation.clone(), o, n)
            })
            .collect()
    };
    assert_eq!(
        expectations(&forward, false),
        expectations(&backward, true),
        "the expectation changes are not mirrored"
    );
    for d in [&forward, &backward] {
        assert_eq!(d.broken, d.expectations.iter().any(|x| x.broken));
        for x in &d.expectations {
            assert_ne!(x.old, x.new, "{} stands as it stood", x.expectation);
            assert_eq!(x.broken, x.old == "holds", "{}", x.expectation);
        }
    }
    let count = |d: &warden::diff::Diff, change: &str| {
        d.admission.iter().filter(|a| a.change == change).count()
    };
    assert_eq!(count(&forward, "added"), count(&backward, "removed"));
    assert_eq!(count(&forward, "removed"), count(&backward, "added"));
    Some(forward)
}

/// `(a, b)`, or `(b, a)` to read a diff the other way round.
fn ordered<T: Clone>(swap: bool, a: &T, b: &T) -> (T, T) {
    if swap {
        (b.clone(), a.clone())
    } else {
        (a.clone(), b.clone())
    }
}
