//! `warden audit`, `warden diff` and the day waivers are counted on, end to end through the
//! binary: exit codes, the committed output compared, determinism, git revisions.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "in tests a panic is a failed test"
)]

use crate::common::{self, run, tree};
use std::path::Path;
use std::process::Command;

const PROGRAM: &str = r#"namespace shop {
  isolate
  allow dns
}

service web in shop {
  pods app = "web"
  port http 8080/tcp
  from world on http
  to db on postgres
}

service db in shop {
  pods app = "db"
  port postgres 5432/tcp
}

admission base {
  applies to workloads in namespace shop
  pod-security restricted
  images from "registry.example.com/*"
}

compliance shop {
  framework nist-800-53
  applies to namespace shop
  waive nist-800-53 CM-7 owner "apps" until 2027-01-31 because "SEC-1: profiles next"
  waive nist-800-53 SI-7 owner "release" until 2027-06-30 because "SEC-2: digests"
}
"#;

fn program(dir: &Path, text: &str) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("shop.warden"), text).unwrap();
}

#[test]
fn waivers_end_on_the_day_given_and_never_change_the_output() {
    let work = tempfile::tempdir().unwrap();
    let src = work.path().join("policy");
    program(&src, PROGRAM);
    let s = src.to_str().unwrap();
    // Well before the end: nothing to say.
    let (code, _, err) = run(&["check", s, "--date", "2026-12-06"], work.path());
    assert_eq!(code, 0, "{err}");
    assert!(!err.contains("W1005"), "{err}");
    // Within 30 days of the first end: a warning, and --deny-warnings refuses it.
    let (code, _, err) = run(&["check", s, "--date", "2027-01-10"], work.path());
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("warning[W1005]") && err.contains("in 21 days"),
        "{err}"
    );
    let (code, _, _) = run(
        &["check", s, "--date", "2027-01-10", "--deny-warnings"],
        work.path(),
    );
    assert_eq!(code, 1);
    // The day after: an error, and nothing is built.
    let (code, _, err) = run(
        &["build", s, "--out", "out", "--date", "2027-02-01"],
        work.path(),
    );
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("error[E1004]") && err.contains("ended on 2027-01-31"),
        "{err}"
    );
    assert!(!work.path().join("out").exists());
    // SOURCE_DATE_EPOCH is the day when --date is not given (2027-02-01 00:00:00 UTC).
    let out = Command::new(common::warden_bin())
        .args(["check", s])
        .env("SOURCE_DATE_EPOCH", "1801440000")
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("E1004"));
    // Two days, the same output byte for byte.
    for (date, out) in [("2026-12-06", "a"), ("2027-01-20", "b")] {
        let (code, _, err) = run(&["build", s, "--out", out, "--date", date], work.path());
        assert_eq!(code, 0, "{err}");
    }
    assert_eq!(tree(&work.path().join("a")), tree(&work.path().join("b")));
    // A date that is no day is refused by the command line.
    let (code, _, err) = run(&["check", s, "--date", "2027-02-30"], work.path());
    assert_eq!(code, 2, "{err}");
}

#[test]
fn audit_compares_the_committed_output_and_is_deterministic() {
    let work = tempfile::tempdir().unwrap();
    let src = work.path().join("policy");
    program(&src, PROGRAM);
    let s = src.to_str().unwrap();
    let (code, _, err) = run(
        &["build", s, "--out", "out", "--date", "2026-12-06"],
        work.path(),
    );
    assert_eq!(code, 0, "{err}");
    let audit = |format: &str| {
        run(
            &[
                "audit",
                s,
                "--out",
                "out",
                "--date",
                "2026-12-06",
                "--format",
                format,
            ],
            work.path(),
        )
    };
    let (code, md, err) = audit("md");
    assert_eq!(code, 0, "{err}");
    assert!(md.contains("matches the program"), "{md}");
    assert!(
        md.contains("| CM-7 | Least Functionality | waived |"),
        "{md}"
    );
    assert!(
        md.contains("| 2027-01-31 | 56 | waiver | shop | nist-800-53 CM-7 | apps |"),
        "{md}"
    );
    for format in ["md", "html", "json", "oscal"] {
        let (code, first, err) = audit(format);
        assert_eq!(code, 0, "{format}: {err}");
        assert_eq!(first, audit(format).1, "{format} differs between two runs");
    }
    // A hand edit of a generated file: the report says the output does not match, and where.
    let policy = work.path().join("out/netpol/shop/web.yaml");
    let text = std::fs::read_to_string(&policy).unwrap();
    std::fs::write(&policy, text.replace("8080", "8081")).unwrap();
    let (code, json, err) = audit("json");
    assert_eq!(code, 0, "{err}");
    let report: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(report["output"]["matches"], false);
    let stale = report["output"]["stale"].to_string();
    assert!(stale.contains("netpol/shop/web.yaml"), "{stale}");
    // The report's day is the one given; the evidence names generated files with their sha256.
    assert_eq!(report["date"], "2026-12-06");
    let block = &report["compliance"][0];
    let group = &block["frameworks"][0]["controls"][1]["groups"][0];
    assert_eq!(group["evidence"][0], "isolate-ingress", "{group}");
    assert_eq!(group["namespaces"][0], "shop", "{group}");
    let evidence = &block["evidence"]["shop"]["isolate-ingress"];
    assert!(evidence["generated"][0]["sha256"].as_str().unwrap().len() == 64);
}

#[test]
fn audit_reports_unmet_claims_and_oscal_needs_nist() {
    let work = tempfile::tempdir().unwrap();
    let src = work.path().join("policy");
    // The waivers gone: two controls are claimed and missing.
    let unmet = PROGRAM
        .lines()
        .filter(|l| !l.contains("waive"))
        .collect::<Vec<_>>()
        .join("\n");
    program(&src, &unmet);
    let s = src.to_str().unwrap();
    let (code, md, err) = run(&["audit", s, "--date", "2026-12-06"], work.path());
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("E1003"), "{err}");
    assert!(
        md.contains("| SI-7 | Software, Firmware, and Information Integrity | missing |"),
        "{md}"
    );
    let (code, _, _) = run(&["check", s, "--date", "2026-12-06"], work.path());
    assert_eq!(code, 1, "an unmet claim fails check");
    // An expectation that fails is reported, as `check` says it, and the rest of the report is
    // all there; the controls' evidence counts only those that hold.
    program(
        &src,
        &format!("{PROGRAM}expect world -> db denied\nexpect web -> db on postgres denied\n"),
    );
    let (code, md, err) = run(&["audit", s, "--date", "2026-12-06"], work.path());
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("error[E0601]"), "{err}");
    assert!(md.contains("**⚠ 1 of 2 expectations do not hold**"), "{md}");
    assert!(
        md.contains(
            "- fails: `expect web -> db on postgres denied` (shop.warden:31); \
             this flow allows it on 5432/tcp (shop.warden:10)"
        ),
        "{md}"
    );
    assert!(
        md.contains("These hold for every pod they are about:\n\n- `expect world -> db denied`"),
        "{md}"
    );
    assert!(md.contains("## Seccomp"), "{md}");
    let (code, json, _) = run(
        &["audit", s, "--format", "json", "--date", "2026-12-06"],
        work.path(),
    );
    assert_eq!(code, 0);
    let report: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(
        report["compliance"][0]["expects"]["shop"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let (code, _, _) = run(&["check", s, "--date", "2026-12-06"], work.path());
    assert_eq!(code, 1, "a failing expectation fails check");
    // Without a NIST claim there is no component definition to write.
    let other = PROGRAM
        .replace("nist-800-53", "nsa-cisa")
        .replace("CM-7", "net-resource-policies")
        .replace("SI-7", "pod-trusted-images");
    program(&src, &other);
    let (code, out, err) = run(
        &["audit", s, "--format", "oscal", "--date", "2026-12-06"],
        work.path(),
    );
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        err.contains("no compliance block claims `nist-800-53`"),
        "{err}"
    );
    // A program that does not compile gets no report.
    program(&src, "namespace {");
    let (code, out, _) = run(&["audit", s], work.path());
    assert_eq!((code, out.as_str()), (1, ""));
}

#[test]
fn diff_tells_what_a_change_widens_between_directories_and_git_revisions() {
    let work = tempfile::tempdir().unwrap();
    let old = work.path().join("old");
    let new = work.path().join("new");
    program(&old, PROGRAM);
    let widened = PROGRAM
        .replace(
            "  to db on postgres\n",
            "  to db on postgres\n  to world on 443/tcp\n",
        )
        .replace("  pod-security restricted\n", "  pod-security baseline\n")
        .replace("until 2027-06-30", "until 2027-09-30");
    program(&new, &widened);
    let (o, n) = (old.to_str().unwrap(), new.to_str().unwrap());
    let (code, md, err) = run(
        &[
            "diff",
            o,
            n,
            "--date",
            "2026-12-06",
            "--fail-on",
            "widening",
        ],
        work.path(),
    );
    assert_eq!(code, 1, "{md}{err}");
    assert!(md.contains("It widens what is allowed"), "{md}");
    assert!(
        md.contains("| shop/web | 0.0.0.0/0, ::/0 | ⚠ 443/tcp |  |"),
        "{md}"
    );
    assert!(
        md.contains("pod-security restricted version v1.37 → pod-security baseline version v1.37"),
        "{md}"
    );
    assert!(
        md.contains("| shop | waive nist-800-53 SI-7 | ⚠ extended | release | 2027-09-30 |"),
        "{md}"
    );
    // The other way round narrows: no failure, and the same connection is removed.
    let (code, json, err) = run(
        &[
            "diff",
            n,
            o,
            "--format",
            "json",
            "--date",
            "2026-12-06",
            "--fail-on",
            "widening",
        ],
        work.path(),
    );
    assert_eq!(code, 0, "{err}");
    let d: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(d["widening"], false);
    let removed = d["network"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["to"] == "0.0.0.0/0")
        .unwrap();
    assert_eq!(removed["removed"][0], "443/tcp");
    // A program and itself: nothing.
    let (code, md, _) = run(&["diff", o, o], work.path());
    assert_eq!(code, 0);
    assert!(
        md.contains("Nothing: both programs allow exactly the same."),
        "{md}"
    );

    // At git revisions: the committed program against the working tree.
    let repo = work.path().join("repo");
    program(&repo.join("policy"), PROGRAM);
    let git = |args: &[&str]| {
        let out = Command::new("git")
            .args(["-c", "user.name=t", "-c", "user.email=t@example.com"])
            .args(args)
            .current_dir(&repo)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    git(&["init", "-q"]);
    git(&["add", "."]);
    git(&["commit", "-qm", "policy"]);
    program(&repo.join("policy"), &widened);
    let (code, md, err) = run(
        &["diff", "HEAD:policy", "policy", "--date", "2026-12-06"],
        &repo,
    );
    assert_eq!(code, 0, "{err}");
    assert!(md.contains("⚠ 443/tcp"), "{md}");
    // From a subdirectory, paths are the working directory's, as git's are.
    let (code, md, err) = run(
        &["diff", "HEAD:.", ".", "--date", "2026-12-06"],
        &repo.join("policy"),
    );
    assert_eq!(code, 0, "{err}");
    assert!(md.contains("⚠ 443/tcp"), "{md}");
    // The repository's path, where it differs from the one given, is named.
    let (code, _, err) = run(&["diff", "HEAD:policy", "."], &repo.join("policy"));
    assert_eq!(code, 2);
    assert!(
        err.contains(
            "`policy` (`policy/policy` in the repository) at `HEAD` holds no `.warden` file"
        ),
        "{err}"
    );
    let (code, _, err) = run(&["diff", "nosuchrev:policy", "policy"], &repo);
    assert_eq!(code, 2);
    assert!(err.contains("cannot list `policy` at `nosuchrev`"), "{err}");
}

/// `warden diff OLD NEW --format FORMAT --fail-on FAIL_ON` on the day the tests count on.
fn diff_failing_on(
    fail_on: &str,
    [old, new]: [&str; 2],
    format: &str,
    cwd: &Path,
) -> (i32, String, String) {
    let args = ["diff", old, new, "--format", format, "--date", "2026-12-06"];
    run(&[&args[..], &["--fail-on", fail_on]].concat(), cwd)
}

#[test]
fn diff_tells_which_claimed_controls_stand_worse() {
    let work = tempfile::tempdir().unwrap();
    let (old, new) = (work.path().join("old"), work.path().join("new"));
    program(&old, PROGRAM);
    // Egress opened and a waiver dropped: flow controls and CM-7 are missing now.
    let weaker = PROGRAM
        .replace("  isolate\n", "  isolate ingress\n")
        .lines()
        .filter(|l| !l.contains("waive nist-800-53 CM-7"))
        .collect::<Vec<_>>()
        .join("\n");
    program(&new, &weaker);
    let (o, n) = (old.to_str().unwrap(), new.to_str().unwrap());
    let diff =
        |a: &str, b: &str, format: &str| diff_failing_on("weakening", [a, b], format, work.path());
    let (code, md, err) = diff(o, n, "md");
    assert_eq!(code, 1, "{md}{err}");
    assert!(
        err.contains("the change weakens a claimed control"),
        "{err}"
    );
    assert!(
        md.contains("A claimed control stands worse than before"),
        "{md}"
    );
    for row in [
        "| shop | nist-800-53 | ⚠ AC-4 Information Flow Enforcement | shop | implemented | missing |",
        "| shop | nist-800-53 | ⚠ SC-7(5) Deny by Default — Allow by Exception | shop | implemented | missing |",
        "| shop | nist-800-53 | ⚠ CM-7 Least Functionality | shop | waived | missing |",
    ] {
        assert!(md.contains(row), "no `{row}` in\n{md}");
    }
    // What stands as it stood has no row: SI-7 stays waived.
    assert!(!md.contains("| SI-7 "), "{md}");
    // Back again: the same controls mend, which fails nothing.
    let (code, json, err) = diff(n, o, "json");
    assert_eq!(code, 0, "{err}");
    let d: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(d["weakening"], false);
    let ac4 = d["controls"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["control"] == "AC-4")
        .unwrap();
    assert_eq!(
        (&ac4["old"], &ac4["new"]),
        (&"missing".into(), &"implemented".into())
    );
    // A claim dropped weakens every control it held; a claim made that holds says nothing, and
    // one that holds by a waiver says so.
    let unclaimed: String = PROGRAM[..PROGRAM.find("compliance shop").unwrap()].to_string();
    program(&new, &unclaimed);
    let (code, json, _) = diff(o, n, "json");
    assert_eq!(code, 1);
    let d: serde_json::Value = serde_json::from_str(&json).unwrap();
    let rows = d["controls"].as_array().unwrap();
    assert!(!rows.is_empty());
    assert!(
        rows.iter()
            .all(|c| c["new"] == "not claimed" && c["weakening"] == true),
        "{json}"
    );
    let (code, json, _) = diff(n, o, "json");
    assert_eq!(code, 0);
    let d: serde_json::Value = serde_json::from_str(&json).unwrap();
    let rows: Vec<(&str, &str, &str)> = d["controls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["control"].as_str().unwrap(),
                c["old"].as_str().unwrap(),
                c["new"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            ("CM-7", "not claimed", "waived"),
            ("SI-7", "not claimed", "waived")
        ]
    );
}

#[test]
fn diff_tells_which_expectations_a_change_breaks() {
    let work = tempfile::tempdir().unwrap();
    let (old, new) = (work.path().join("old"), work.path().join("new"));
    let expects = "expect world -> web on http allowed\nexpect world -> db denied\n\
                   expect db -> world on 443/tcp denied\n";
    program(&old, &format!("{PROGRAM}{expects}"));
    // The database may call out now, one expectation is dropped, one added that holds and one
    // added that fails: a program `check` refuses, which the diff still reads.
    let changed = format!("{PROGRAM}{expects}")
        .replace(
            "  port postgres 5432/tcp\n",
            "  port postgres 5432/tcp\n  to world on 443/tcp\n",
        )
        .replace("expect world -> web on http allowed\n", "")
        + "expect web -> db on postgres allowed\nexpect world -> db on postgres allowed\n";
    program(&new, &changed);
    let (o, n) = (old.to_str().unwrap(), new.to_str().unwrap());
    let (code, _, err) = run(&["check", n, "--date", "2026-12-06"], work.path());
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("E0601"), "{err}");
    let diff =
        |a: &str, b: &str, format: &str| diff_failing_on("broken", [a, b], format, work.path());
    let rows = |json: &str| -> Vec<(String, String, String, bool)> {
        let d: serde_json::Value = serde_json::from_str(json).unwrap();
        d["expectations"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| {
                (
                    x["expectation"].as_str().unwrap().to_string(),
                    x["old"].as_str().unwrap().to_string(),
                    x["new"].as_str().unwrap().to_string(),
                    x["broken"].as_bool().unwrap(),
                )
            })
            .collect()
    };
    let row = |x: &str, o: &str, n: &str, broken: bool| {
        (x.to_string(), o.to_string(), n.to_string(), broken)
    };
    let (code, json, err) = diff(o, n, "json");
    assert_eq!(code, 1, "{json}{err}");
    assert!(
        err.contains("the change breaks an expectation that held"),
        "{err}"
    );
    assert_eq!(
        rows(&json),
        [
            row(
                "expect db -> world on 443/tcp denied",
                "holds",
                "fails",
                true
            ),
            row(
                "expect world -> db on postgres allowed",
                "absent",
                "fails",
                false
            ),
            row(
                "expect world -> web on http allowed",
                "holds",
                "absent",
                true
            ),
        ]
    );
    let (_, md, _) = diff(o, n, "md");
    assert!(
        md.contains("An expectation that held no longer does"),
        "{md}"
    );
    assert!(
        md.contains("| ⚠ expect db -\\> world on 443/tcp denied | holds | fails |"),
        "{md}"
    );
    // Back again: what failed holds, the expectation added is gone, which breaks it, and the one
    // dropped comes back holding, which asks nothing of a reviewer.
    let (code, json, err) = diff(n, o, "json");
    assert_eq!(code, 1, "{json}{err}");
    assert_eq!(
        rows(&json),
        [
            row(
                "expect db -> world on 443/tcp denied",
                "fails",
                "holds",
                false
            ),
            row(
                "expect web -> db on postgres allowed",
                "holds",
                "absent",
                true
            ),
            row(
                "expect world -> db on postgres allowed",
                "fails",
                "absent",
                false
            ),
        ]
    );
    // Without the expectation the change added that holds, going back breaks nothing.
    let kept = changed.replace("expect web -> db on postgres allowed\n", "");
    program(&new, &kept);
    let (code, json, err) = diff(n, o, "json");
    assert_eq!(code, 0, "{json}{err}");
}

#[test]
fn diff_markdown_fits_a_pull_request_comment() {
    let work = tempfile::tempdir().unwrap();
    let (old, new) = (work.path().join("old"), work.path().join("new"));
    program(&old, &common::chain(2000, false));
    program(&new, &common::chain(2000, true));
    let (o, n) = (old.to_str().unwrap(), new.to_str().unwrap());
    let date = ["--date", "2026-12-06"];
    let diff = |extra: &[&str]| {
        let mut args = vec!["diff", o, n, date[0], date[1]];
        args.extend(extra);
        let (code, out, err) = run(&args, work.path());
        assert_eq!(code, 0, "{err}");
        out
    };
    let rows = |md: &str| md.lines().filter(|l| l.starts_with("| chain/")).count();
    let left = |md: &str| -> usize {
        let note = md
            .lines()
            .find(|l| l.starts_with("*… and "))
            .unwrap_or_else(|| panic!("no count of the rows left out\n{md}"));
        note["*… and ".len()..]
            .split(' ')
            .next()
            .unwrap()
            .parse()
            .unwrap()
    };
    // Every row, asked for: 1,999 connections that change unalike, one row each.
    let all = diff(&["--max-bytes", "0"]);
    assert_eq!(rows(&all), 1999);
    assert!(all.len() > 65_536, "{}", all.len());
    assert!(!all.contains("more rows"), "{all}");
    assert!(
        all.contains("- Connections: ⚠ 1999 pairs of endpoints allowed more, 0 allowed less"),
        "{all}"
    );
    let (_, json, _) = run(&["diff", o, n, "--format", "json"], work.path());
    let d: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(d["network"].as_array().unwrap().len(), 1999);
    // JSON is never cut, so a size for it is refused rather than ignored.
    let (code, out, err) = run(
        &["diff", o, n, "--format", "json", "--max-bytes", "5000"],
        work.path(),
    );
    assert_eq!((code, out.as_str()), (2, ""), "{err}");
    assert!(err.contains("`--max-bytes` sizes the Markdown"), "{err}");
    let (_, help, _) = run(&["diff", "--help"], work.path());
    let default = format!("[default: {}]", warden::diff::MAX_BYTES);
    assert!(
        help.contains(&default),
        "the help must say {default}\n{help}"
    );
    // By default, a comment GitHub takes (65,536 characters): the first rows, and the count of
    // the others, which JSON lists.
    for (md, limit) in [(diff(&[]), 60_000), (diff(&["--max-bytes", "5000"]), 5000)] {
        assert!(md.len() <= limit, "{} bytes over {limit}", md.len());
        let shown = rows(&md);
        assert!(shown > 0, "{md}");
        assert_eq!(shown + left(&md), 1999, "{md}");
        assert!(
            md.contains(
                " more rows, all marked ⚠: `warden diff --format json` lists every change.*"
            ),
            "{md}"
        );
        let first: Vec<&str> = md.lines().filter(|l| l.starts_with("| chain/")).collect();
        let head: Vec<&str> = all
            .lines()
            .filter(|l| l.starts_with("| chain/"))
            .take(shown)
            .collect();
        assert_eq!(first, head, "the rows shown are not the first");
        // The summary is whole.
        assert!(md.contains("1999 pairs of endpoints"), "{md}");
    }
}

#[test]
fn diff_refuses_a_change_too_wide_to_list_rather_than_run_out_of_memory() {
    let work = tempfile::tempdir().unwrap();
    // A namespace of n services that stops isolating: every kind of pod may reach every other in
    // both directions, about 2·n² questions.
    let flat = |n: usize, isolate: bool| {
        let mut text = format!(
            "namespace flat {{\n{}}}\n",
            if isolate { "  isolate\n" } else { "" }
        );
        for i in 0..n {
            text.push_str(&format!(
                "service s{i} in flat {{\n  pods app = \"s{i}\"\n  port p 8080/tcp\n}}\n"
            ));
        }
        text
    };
    let questions = warden::diff::network::QUESTIONS;
    let wide = (questions / 2).isqrt() + 2;
    for (n, refused) in [(40, false), (wide, true)] {
        let (old, new) = (
            work.path().join(format!("old{n}")),
            work.path().join(format!("new{n}")),
        );
        program(&old, &flat(n, true));
        program(&new, &flat(n, false));
        let (code, out, err) = run(
            &[
                "diff",
                old.to_str().unwrap(),
                new.to_str().unwrap(),
                "--format",
                "json",
            ],
            work.path(),
        );
        if refused {
            assert_eq!((code, out.as_str()), (2, ""), "{err}");
            let said = format!("more than {questions} pairs of kinds of pod");
            assert!(
                err.contains(&said) && err.contains("too many to list"),
                "{err}"
            );
        } else {
            assert_eq!(code, 0, "{err}");
            let d: serde_json::Value = serde_json::from_str(&out).unwrap();
            // Every pair of the n services and the pods none selects is open now, in both
            // directions (and each of them to and from outside the namespace).
            let inside = d["network"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|c| {
                    [&c["from"], &c["to"]]
                        .iter()
                        .all(|e| e.as_str().unwrap().starts_with("flat/"))
                })
                .count();
            assert_eq!(inside, (n + 1) * (n + 1));
        }
    }
}
