//! `warden audit`'s reports, read by the tools their readers use.
//!
//! - JSON: every report validates against `compiler/schemas/audit.schema.json` with Python's
//!   `jsonschema` (Draft 2020-12), and a report missing a field does not.
//! - OSCAL: the component definition validates with `compliance-trestle` (pinned in
//!   `.ci/requirements-trestle.txt`), every NIST control id in it exists in NIST's catalog in the
//!   corpora, and a broken one is refused; its evidence links name resources of its back matter
//!   whose SHA-256 are the source files' and the built files' (by `sha256sum`).
//! - HTML: the Nu HTML Checker (`vnu-jar`, npm, on Debian's Java) finds no error in the reports,
//!   and finds the one planted in a broken copy; headless Chromium (Debian's) renders the page:
//!   the DOM it builds has every section, a row per control, a dot per node of the picture, and a
//!   program's hostile text as text, not markup; a screenshot and a PDF are written to
//!   `target/audit-review/` for a person to look at.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "in tests a panic is a failed test"
)]

use crate::common::{self, repo};
use std::path::{Path, PathBuf};
use std::process::Command;
use warden::document::Layout;

fn tool(env: &str, default: &str, name: &str, how: &str) -> PathBuf {
    let dir = std::env::var_os(env)
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join(default));
    let path = dir.join(name);
    assert!(
        path.exists(),
        "`{}` is missing: {how}, or set {env}",
        path.display()
    );
    path
}

/// A program whose reasons and owners hold what would be markup in HTML and Markdown, and two
/// of whose expectations fail, each its own way (a flow allows it; isolation denies it).
pub(super) const HOSTILE: &str = r#"
namespace shop {
  isolate
  allow dns
}
service web in shop {
  pods app = "web"
  port http 8080/tcp
  from world on http
  syscalls { base docker-default }
}
admission base {
  applies to workloads in namespace shop
  pod-security restricted
  exempt runAsUser "<script>alert(1)</script> | <b>bold</b> [x](http://e)" owner "</td><td>evil" until 2027-06-30
}
compliance shop {
  framework nist-800-53, pci-dss
  applies to namespace shop
  waive nist-800-53 CM-7(5) owner "<img src=x onerror=alert(2)>" until 2027-06-30 because "a | b\n| c | d |"
  waive nist-800-53 SI-7 owner "release" until 2027-06-30 because "digests next"
  waive pci-dss 2.2.4 owner "ops" until 2027-01-15 because "SEC-9"
}
expect world -> web on http allowed
expect world -> web on http denied
expect web -> world on 80/tcp allowed
"#;

struct Reports {
    name: String,
    json: String,
    html: String,
    oscal: String,
    controls: usize,
    nodes: usize,
}

fn reports() -> Vec<Reports> {
    let mut out = Vec::new();
    let mut programs: Vec<(
        String,
        warden::span::SourceMap,
        Vec<warden::document::Target>,
    )> = Vec::new();
    let boutique = common::example("online-boutique");
    programs.push((
        "online-boutique".to_string(),
        warden::load::load(std::slice::from_ref(&boutique)).unwrap(),
        common::targets_for(&boutique),
    ));
    let mut hostile = warden::span::SourceMap::new();
    hostile.add("hostile.warden".to_string(), HOSTILE.to_string());
    programs.push((
        "hostile".to_string(),
        hostile,
        warden::document::Target::DEFAULT.to_vec(),
    ));
    for (name, sources, targets) in programs {
        let c = warden::compile_for_audit(sources, &targets, Layout::Tree, common::today());
        let docs = c.documents.as_ref().unwrap_or_else(|| {
            panic!(
                "{name}: {}",
                warden::diag::render::human(&c.sources, &c.diagnostics)
            )
        });
        let program = c.program.as_ref().unwrap();
        let report = warden::audit::report(
            program,
            &c.sources,
            docs.clone(),
            Layout::Tree,
            common::today(),
            None,
        );
        let controls = report
            .compliance
            .iter()
            .flat_map(|b| &b.frameworks)
            .map(|f| f.controls.len())
            .sum();
        let nodes = report.network.picture.as_ref().map_or(0, |p| p.nodes.len());
        out.push(Reports {
            json: warden::audit::json(&report),
            html: warden::audit::html(&report).unwrap(),
            oscal: warden::audit::oscal(&report, &name).unwrap(),
            name,
            controls,
            nodes,
        });
    }
    out
}

/// Each JSON document of `docs` checked against `compiler/schemas/SCHEMA` by Python's
/// `jsonschema` (the schema itself checked first): `valid`, or `invalid: ` and the first error.
pub(super) fn schema_verdicts(schema: &str, docs: &[String]) -> Vec<String> {
    let python = tool(
        "WARDEN_PYTHON_BIN",
        "target/ci-venv/bin",
        "python",
        "run `.ci/test` (it installs .ci/requirements.txt into target/ci-venv)",
    );
    let dir = tempfile::tempdir().unwrap();
    let files: Vec<PathBuf> = docs
        .iter()
        .enumerate()
        .map(|(i, doc)| {
            let path = dir.path().join(format!("{i}.json"));
            std::fs::write(&path, doc).unwrap();
            path
        })
        .collect();
    let script = r#"
import json, sys, jsonschema
schema = json.load(open(sys.argv[1]))
jsonschema.Draft202012Validator.check_schema(schema)
validator = jsonschema.Draft202012Validator(schema)
for path in sys.argv[2:]:
    errors = list(validator.iter_errors(json.load(open(path))))
    print("valid" if not errors else "invalid: " + errors[0].message.replace("\n", " "))
"#;
    let out = Command::new(&python)
        .arg("-c")
        .arg(script)
        .arg(repo().join("compiler/schemas").join(schema))
        .args(&files)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let verdicts: Vec<String> = stdout.lines().map(str::to_string).collect();
    assert_eq!(verdicts.len(), docs.len(), "{stdout}");
    verdicts
}

#[test]
fn json_reports_validate_against_their_schema() {
    let mut docs = Vec::new();
    for r in reports() {
        // The same report without a field it must have: the schema must refuse it.
        let mut broken: serde_json::Value = serde_json::from_str(&r.json).unwrap();
        broken["compliance"][0]["frameworks"][0]
            .as_object_mut()
            .unwrap()
            .remove("missing");
        docs.push(r.json);
        docs.push(broken.to_string());
    }
    // The hostile program's expectations: one holds; the others fail, each with its reason.
    let hostile: serde_json::Value = serde_json::from_str(&docs[2]).unwrap();
    let standing: Vec<(&str, usize)> = hostile["expects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["status"].as_str().unwrap(),
                e["why"].as_array().unwrap().len(),
            )
        })
        .collect();
    assert_eq!(standing, [("holds", 0), ("fails", 1), ("fails", 1)]);
    assert!(
        hostile["expects"][1]["why"][0]
            .as_str()
            .unwrap()
            .starts_with("this flow allows it on 8080/tcp (hostile.warden:"),
        "{}",
        hostile["expects"][1]
    );
    // An expectation that fails for no reason is refused.
    let mut reasonless = hostile.clone();
    reasonless["expects"][1]["why"] = serde_json::json!([]);
    docs.push(reasonless.to_string());
    let verdicts = schema_verdicts("audit.schema.json", &docs);
    let (pairs, last) = verdicts.split_at(verdicts.len() - 1);
    for pair in pairs.chunks(2) {
        assert_eq!(pair[0], "valid");
        assert_eq!(pair[1], "invalid: 'missing' is a required property");
    }
    assert_eq!(last, ["invalid: [] should be non-empty"]);
}

/// Every control id of NIST's catalog in the corpora.
fn nist_ids() -> std::collections::BTreeSet<String> {
    let path = common::corpora()
        .join("oscal/NIST_SP-800-53_rev5_HIGH-baseline-resolved-profile_catalog-min.json");
    let catalog: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    fn walk(v: &serde_json::Value, out: &mut std::collections::BTreeSet<String>) {
        for c in v["controls"].as_array().into_iter().flatten() {
            out.insert(c["id"].as_str().unwrap().to_string());
            walk(c, out);
        }
        for g in v["groups"].as_array().into_iter().flatten() {
            walk(g, out);
        }
    }
    let mut out = std::collections::BTreeSet::new();
    walk(&catalog["catalog"], &mut out);
    out
}

#[test]
fn every_nist_id_of_the_catalog_exists_in_nists_own() {
    let ids = nist_ids();
    assert!(ids.len() > 300, "{} ids read", ids.len());
    let nist = warden::catalog::controls::framework("nist-800-53").unwrap();
    for c in &nist.controls {
        let oscal = c
            .oscal
            .as_deref()
            .unwrap_or_else(|| panic!("{} has no oscal id", c.id));
        assert!(
            ids.contains(oscal),
            "{} ({oscal}) is not in NIST's catalog",
            c.id
        );
    }
}

fn trestle_validate(workspace: &Path, name: &str, text: &str) -> (bool, String) {
    let trestle = tool(
        "WARDEN_TRESTLE_BIN",
        "target/trestle-venv/bin",
        "trestle",
        "run `.ci/test` (it installs .ci/requirements-trestle.txt into target/trestle-venv)",
    );
    let dir = workspace.join("component-definitions").join(name);
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("component-definition.json");
    std::fs::write(&file, text).unwrap();
    let out = Command::new(&trestle)
        .args(["validate", "-f"])
        .arg(&file)
        .current_dir(workspace)
        .output()
        .unwrap();
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success() && all.contains("VALID"), all)
}

#[test]
fn oscal_component_definitions_validate_with_compliance_trestle() {
    let trestle = tool(
        "WARDEN_TRESTLE_BIN",
        "target/trestle-venv/bin",
        "trestle",
        "run `.ci/test` (it installs .ci/requirements-trestle.txt into target/trestle-venv)",
    );
    let workspace = tempfile::tempdir().unwrap();
    let init = Command::new(&trestle)
        .arg("init")
        .current_dir(workspace.path())
        .output()
        .unwrap();
    assert!(
        init.status.success(),
        "{}",
        String::from_utf8_lossy(&init.stderr)
    );
    let ids = nist_ids();
    let mut requirements = 0;
    for r in reports() {
        let (ok, out) = trestle_validate(workspace.path(), &r.name, &r.oscal);
        assert!(
            ok,
            "{}: trestle refuses the component definition:\n{out}\n{}",
            r.name, r.oscal
        );
        let doc: serde_json::Value = serde_json::from_str(&r.oscal).unwrap();
        for c in doc["component-definition"]["components"][0]["control-implementations"][0]
            ["implemented-requirements"]
            .as_array()
            .unwrap()
        {
            let id = c["control-id"].as_str().unwrap();
            assert!(ids.contains(id), "{}: `{id}` is not a NIST control", r.name);
            requirements += 1;
        }
        // Determinism: the same program gives the same document, UUIDs included.
        assert_eq!(
            r.oscal,
            reports()
                .into_iter()
                .find(|o| o.name == r.name)
                .unwrap()
                .oscal
        );
        // A broken document is refused: trestle does read what it is given.
        let broken = r
            .oscal
            .replacen("\"uuid\": \"", "\"uuid\": \"not-a-uuid-", 1);
        let (ok, _) = trestle_validate(workspace.path(), &format!("{}-broken", r.name), &broken);
        assert!(
            !ok,
            "trestle accepts a component definition with a malformed uuid"
        );
    }
    assert!(
        requirements >= 15,
        "only {requirements} implemented requirements"
    );
}

/// SHA-256 of each file, as coreutils' `sha256sum` computes it: not warden's hashing.
fn sha256sums(dir: &Path, files: &[&str]) -> std::collections::BTreeMap<String, String> {
    let out = Command::new("sha256sum")
        .arg("--")
        .args(files)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| {
            let (hash, file) = l.split_once("  ").unwrap();
            (file.to_string(), hash.to_string())
        })
        .collect()
}

/// What an auditor follows in the OSCAL document leads somewhere true: every `#uuid` link names a
/// resource of the back matter and every resource is linked (trestle warns of neither: its check
/// reads version-4 UUIDs only, and warden's are version 5, derived from names so that the same
/// program gives the same document); each resource's SHA-256 is that of the source file or of the
/// file `warden build` wrote, as `sha256sum` computes it.
#[test]
fn oscal_evidence_links_resolve_to_files_with_their_hashes() {
    let example = common::example("online-boutique");
    let out = tempfile::tempdir().unwrap();
    let built = out.path().join("out");
    let (example_arg, built_arg) = (example.to_string_lossy(), built.to_string_lossy());
    let run = |args: &[&str]| {
        let mut all = args.to_vec();
        all.extend(["--date", common::TODAY]);
        let (code, stdout, err) = common::run(&all, out.path());
        assert_eq!(code, 0, "warden {}: {err}", args.join(" "));
        stdout
    };
    run(&["build", &example_arg, "--out", &built_arg]);
    let oscal = run(&[
        "audit",
        &example_arg,
        "--format",
        "oscal",
        "--out",
        &built_arg,
    ]);
    let doc: serde_json::Value = serde_json::from_str(&oscal).unwrap();
    let resources = doc["component-definition"]["back-matter"]["resources"]
        .as_array()
        .unwrap();
    fn hrefs(v: &serde_json::Value, out: &mut Vec<String>) {
        match v {
            serde_json::Value::Object(m) => {
                for (k, v) in m {
                    if k == "href"
                        && let Some(h) = v.as_str().and_then(|h| h.strip_prefix('#'))
                    {
                        out.push(h.to_string());
                    }
                    hrefs(v, out);
                }
            }
            serde_json::Value::Array(a) => a.iter().for_each(|v| hrefs(v, out)),
            _ => {}
        }
    }
    let mut linked = Vec::new();
    hrefs(&doc["component-definition"]["components"], &mut linked);
    let linked: std::collections::BTreeSet<String> = linked.into_iter().collect();
    let uuids: std::collections::BTreeSet<String> = resources
        .iter()
        .map(|r| r["uuid"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(uuids.len(), resources.len(), "two resources with one uuid");
    let dangling: Vec<&String> = linked.difference(&uuids).collect();
    assert!(dangling.is_empty(), "links to no resource: {dangling:?}");
    let unlinked: Vec<&String> = uuids.difference(&linked).collect();
    assert!(
        unlinked.is_empty(),
        "resources nothing links to: {unlinked:?}"
    );
    let (mut sources, mut generated) = (Vec::new(), Vec::new());
    for r in resources {
        let title = r["title"].as_str().unwrap();
        let link = &r["rlinks"][0];
        let href = link["href"].as_str().unwrap().to_string();
        assert_eq!(link["hashes"][0]["algorithm"], "SHA-256");
        let hash = link["hashes"][0]["value"].as_str().unwrap().to_string();
        if title.starts_with("source ") {
            sources.push((href, hash));
        } else {
            assert!(title.starts_with("generated "), "{title}");
            generated.push((href, hash));
        }
    }
    for (dir, files) in [(&example, &sources), (&built, &generated)] {
        assert!(!files.is_empty(), "no resource for {}", dir.display());
        let names: Vec<&str> = files.iter().map(|(f, _)| f.as_str()).collect();
        let sums = sha256sums(dir, &names);
        for (file, hash) in files {
            assert_eq!(
                sums.get(file),
                Some(hash),
                "{file}: the document's hash is not the file's"
            );
        }
    }
    assert!(
        generated.len() >= 15,
        "only {} generated files linked",
        generated.len()
    );
}

fn vnu_errors(file: &Path) -> (bool, String) {
    let jar = tool(
        "WARDEN_NODE_BIN",
        "target/ci-node/node_modules/.bin",
        "../vnu-jar/build/dist/vnu.jar",
        "run `.ci/test` (it installs .ci/node/package-lock.json into target/ci-node)",
    );
    let out = Command::new("java")
        .arg("-jar")
        .arg(&jar)
        .args(["--errors-only", "--format", "text"])
        .arg(file)
        .output()
        .expect("java runs (Debian's default-jre-headless)");
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

fn chromium(args: &[&str], page: &Path) -> std::process::Output {
    let chromium = std::env::var_os("WARDEN_CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"));
    assert!(
        chromium.exists(),
        "`{}` is missing: run `.ci/test` (it installs Debian's chromium), or set WARDEN_CHROMIUM",
        chromium.display()
    );
    let profile = tempfile::tempdir().unwrap();
    Command::new(&chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(args)
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("chromium runs")
}

#[test]
fn html_reports_are_valid_and_render_in_chromium() {
    let review = repo().join("target/audit-review");
    std::fs::create_dir_all(&review).unwrap();
    for r in reports() {
        let page = review.join(format!("{}.html", r.name));
        std::fs::write(&page, &r.html).unwrap();
        let (ok, out) = vnu_errors(&page);
        assert!(ok, "{}: the Nu HTML Checker finds errors:\n{out}", r.name);
        // The checker does find errors: an element closed twice.
        let broken = review.join(format!("{}.broken.html", r.name));
        std::fs::write(
            &broken,
            r.html.replacen("</main>", "</main></main></div>", 1),
        )
        .unwrap();
        let (ok, _) = vnu_errors(&broken);
        assert!(
            !ok,
            "the Nu HTML Checker accepts a page with stray end tags"
        );
        std::fs::remove_file(&broken).unwrap();

        let dom = chromium(&["--dump-dom"], &page);
        let dom = String::from_utf8_lossy(&dom.stdout);
        for id in [
            "compliance",
            "expiries",
            "network",
            "seccomp",
            "admission",
            "expects",
            "files",
        ] {
            assert!(
                dom.contains(&format!("<section id=\"{id}\"")),
                "{}: no section {id}",
                r.name
            );
        }
        assert_eq!(
            dom.matches("<tr class=\"control\"").count(),
            r.controls,
            "{}: a row per control",
            r.name
        );
        assert_eq!(
            dom.matches("<circle ").count(),
            r.nodes,
            "{}: a dot per node",
            r.name
        );
        assert!(!dom.contains("<script"), "{}: a script in the page", r.name);
        assert!(
            !dom.contains("<img"),
            "{}: a program's text became an element",
            r.name
        );
        assert_eq!(
            dom.contains("id=\"expects-status\""),
            r.name == "hostile",
            "{}: the banner of expectations that do not hold",
            r.name
        );
        if r.name == "hostile" {
            assert!(dom.contains("2 of 3 expectations do not hold"), "{dom}");
            assert!(
                dom.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
                "{dom}"
            );
            assert!(dom.contains("&lt;/td&gt;&lt;td&gt;evil"), "{dom}");
        }
        let png = review.join(format!("{}.png", r.name));
        let pdf = review.join(format!("{}.pdf", r.name));
        let shot = chromium(
            &[
                &format!("--screenshot={}", png.display()),
                "--window-size=1280,2400",
            ],
            &page,
        );
        assert!(
            shot.status.success(),
            "{}",
            String::from_utf8_lossy(&shot.stderr)
        );
        let print = chromium(
            &[
                &format!("--print-to-pdf={}", pdf.display()),
                "--no-pdf-header-footer",
            ],
            &page,
        );
        assert!(
            print.status.success(),
            "{}",
            String::from_utf8_lossy(&print.stderr)
        );
        let png_bytes = std::fs::read(&png).unwrap();
        let pdf_bytes = std::fs::read(&pdf).unwrap();
        assert!(
            png_bytes.starts_with(b"\x89PNG") && png_bytes.len() > 50_000,
            "{} PNG",
            r.name
        );
        assert!(
            pdf_bytes.starts_with(b"%PDF") && pdf_bytes.len() > 20_000,
            "{} PDF",
            r.name
        );
        eprintln!("{}: review {} and {}", r.name, png.display(), pdf.display());
    }
}
