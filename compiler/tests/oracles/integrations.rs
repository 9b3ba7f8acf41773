//! warden in the loop people already have, run by the real clients: the pre-commit hook installed
//! and run by `pre-commit` (PyPI, pinned) the way a user's repository runs it, from the README's
//! snippet; the SARIF log read by Microsoft's SARIF multitool (npm, pinned) and the SARIF 2.1.0
//! JSON schema; the YAML stream of `--out -`, and the Argo CD plugin's command, read by
//! `kubernetes-validate`. None of them skips: a missing client fails and says how to install it.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "in tests a panic is a failed test"
)]

use crate::common::{self, example, repo, run, warden_bin};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn python_tool(name: &str) -> PathBuf {
    let dir = std::env::var_os("WARDEN_PYTHON_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join("target/ci-venv/bin"));
    let path = dir.join(name);
    assert!(
        path.exists(),
        "`{}` is missing: run `.ci/test` (it installs .ci/requirements.txt into target/ci-venv), \
         or set WARDEN_PYTHON_BIN",
        path.display()
    );
    path
}

fn node_tool(name: &str) -> PathBuf {
    let dir = std::env::var_os("WARDEN_NODE_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join("target/ci-node/node_modules/.bin"));
    let path = dir.join(name);
    assert!(
        path.exists(),
        "`{}` is missing: run `.ci/test` (it installs .ci/node/package-lock.json into \
         target/ci-node), or set WARDEN_NODE_BIN",
        path.display()
    );
    path
}

/// The language server driven by a real LSP client: pytest-lsp (from PyPI, pinned in
/// .ci/requirements.txt) runs `compiler/tests/lsp/test_server.py` against `warden lsp` over
/// stdio: diagnostics as edits arrive (with the CLI's codes, spans and help), the quick fix from a
/// "did you mean", definition and references across files, hover, completion by context,
/// formatting, and malformed and out-of-order JSON-RPC answered with errors, not a crash.
#[test]
fn the_language_server_answers_a_real_client() {
    let python = python_tool("python");
    let out = Command::new(&python)
        .args(["-m", "pytest", "-q", "-p", "no:cacheprovider"])
        .arg(repo().join("compiler/tests/lsp/test_server.py"))
        .env("WARDEN_BIN", warden_bin())
        .output()
        .expect("pytest runs");
    let report = text(&out);
    assert!(out.status.success(), "{report}");
    // Every test ran: none was skipped or deselected.
    assert!(report.contains("6 passed"), "{report}");
    assert!(!report.contains("skipped"), "{report}");
}

/// The editor grammar, by `vscode-tmgrammar-test` (npm, pinned in .ci/node): every annotated
/// test file of `editors/vscode/tests/` scopes as it says; every keyword of `grammar/warden.pest`
/// is in the grammar's keyword rules and in a test file; and the test can fail (a grammar without
/// its keyword rule is caught).
#[test]
fn the_editor_grammar_highlights_every_construct() {
    let tool = node_tool("vscode-tmgrammar-test");
    let vscode = repo().join("editors/vscode");
    let grammar_path = vscode.join("syntaxes/warden.tmLanguage.json");
    // Run from a directory of its own: in `editors/vscode`, the tool would also load the grammar
    // `package.json` contributes, whatever `-g` names.
    let tmp = tempfile::tempdir().unwrap();
    fs::create_dir(tmp.path().join("tests")).unwrap();
    for e in fs::read_dir(vscode.join("tests")).unwrap() {
        let e = e.unwrap();
        fs::copy(e.path(), tmp.path().join("tests").join(e.file_name())).unwrap();
    }
    let run = |grammar: &Path| {
        Command::new(&tool)
            .arg("-g")
            .arg(grammar)
            .arg("tests/*.warden")
            .current_dir(tmp.path())
            .output()
            .expect("vscode-tmgrammar-test runs")
    };
    let out = run(&grammar_path);
    assert!(out.status.success(), "{}", text(&out));
    let tests: Vec<String> = fs::read_dir(vscode.join("tests"))
        .unwrap()
        .map(|e| fs::read_to_string(e.unwrap().path()).unwrap())
        .collect();
    assert!(!tests.is_empty());
    assert_eq!(
        text(&out).matches("run successfuly").count(),
        tests.len(),
        "{}",
        text(&out)
    );
    // Every keyword of the language is highlighted and tested.
    let pest = fs::read_to_string(repo().join("grammar/warden.pest")).unwrap();
    let grammar = fs::read_to_string(&grammar_path).unwrap();
    let keyword = regex::Regex::new(r#"(?m)^kw_\w+\s*=\s*@\{\s*"([^"]+)""#).unwrap();
    let words: Vec<&str> = keyword
        .captures_iter(&pest)
        .map(|c| c.get(1).unwrap().as_str())
        .collect();
    assert!(words.len() > 50, "{words:?}");
    for word in words {
        assert!(
            grammar.contains(&format!("|{word}|"))
                || grammar.contains(&format!("({word}|"))
                || grammar.contains(&format!("|{word})")),
            "keyword `{word}` is not in the editor grammar"
        );
        let used = regex::Regex::new(&format!(
            r"(?m)^[^/].*(^|[^A-Za-z0-9_-]){}([^A-Za-z0-9_-]|$)",
            regex::escape(word)
        ))
        .unwrap();
        assert!(
            tests.iter().any(|t| used.is_match(t)),
            "keyword `{word}` appears in no test of editors/vscode/tests"
        );
    }
    // The test fails on a grammar that lost its keyword rule.
    let broken = tmp.path().join("warden.tmLanguage.json");
    fs::write(
        &broken,
        grammar.replace(
            "\"name\": \"keyword.other.warden\",\n      \"match\"",
            "\"name\": \"keyword.other.warden\",\n      \"nomatch\"",
        ),
    )
    .unwrap();
    assert_ne!(fs::read_to_string(&broken).unwrap(), grammar);
    assert!(
        !run(&broken).status.success(),
        "a grammar without keywords passed"
    );
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// `PATH` with the directory of the warden under test first.
fn path_with_warden() -> std::ffi::OsString {
    let dir = Path::new(warden_bin()).parent().unwrap().to_path_buf();
    let rest = std::env::var_os("PATH").unwrap_or_default();
    std::env::join_paths(std::iter::once(dir).chain(std::env::split_paths(&rest))).unwrap()
}

fn git(dir: &Path, args: &[&str]) -> Output {
    Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "warden test")
        .env("GIT_AUTHOR_EMAIL", "test@localhost")
        .env("GIT_COMMITTER_NAME", "warden test")
        .env("GIT_COMMITTER_EMAIL", "test@localhost")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("HOME", dir)
        .output()
        .expect("git runs")
}

fn git_ok(dir: &Path, args: &[&str]) {
    let out = git(dir, args);
    assert!(out.status.success(), "git {args:?}: {}", text(&out));
}

/// A copy of this repository as pre-commit would clone it, committed and tagged with the version
/// the README's snippet names: every file git tracks (and any not yet committed), from the working
/// tree.
fn hook_repository(into: &Path, tag: &str) {
    let listed = Command::new("git")
        .args([
            "ls-files",
            "-z",
            "--cached",
            "--others",
            "--exclude-standard",
        ])
        .current_dir(repo())
        .output()
        .expect("git runs");
    assert!(listed.status.success(), "{}", text(&listed));
    for rel in listed.stdout.split(|b| *b == 0).filter(|r| !r.is_empty()) {
        let rel = Path::new(std::str::from_utf8(rel).unwrap());
        let from = repo().join(rel);
        if !from.is_file() {
            continue; // deleted in the working tree
        }
        let to = into.join(rel);
        fs::create_dir_all(to.parent().unwrap()).unwrap();
        fs::copy(&from, &to).unwrap();
    }
    git_ok(into, &["init", "-q"]);
    git_ok(into, &["add", "-A"]);
    git_ok(into, &["commit", "-qm", "warden"]);
    git_ok(into, &["tag", tag]);
}

/// The README's pre-commit snippet, as the README shows it.
fn readme_snippet() -> String {
    let readme = fs::read_to_string(repo().join("README.md")).unwrap();
    let section = readme
        .split("\n## In a repository")
        .nth(1)
        .expect("the README has an \"In a repository\" section");
    let block = section
        .split("```yaml\n")
        .nth(1)
        .and_then(|b| b.split("```").next())
        .expect("the section shows the pre-commit configuration");
    assert!(block.contains("id: warden-check"), "{block}");
    block.to_string()
}

/// `git commit` in `dir`, with pre-commit's hook installed: (passed, everything printed).
fn commit(dir: &Path, pre_commit_home: &Path, message: &str) -> (bool, String) {
    let out = Command::new("git")
        .args(["commit", "-qam", message])
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "warden test")
        .env("GIT_AUTHOR_EMAIL", "test@localhost")
        .env("GIT_COMMITTER_NAME", "warden test")
        .env("GIT_COMMITTER_EMAIL", "test@localhost")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("HOME", dir)
        .env("PRE_COMMIT_HOME", pre_commit_home)
        .env("PRE_COMMIT_COLOR", "never")
        .env("NO_COLOR", "1")
        // pre-commit builds warden with `cargo install`: into a target directory of its own that
        // outlives the test, so that a second run builds only what changed.
        .env("CARGO_TARGET_DIR", repo().join("target/pre-commit-cargo"))
        .env("PATH", path_with_warden())
        .output()
        .expect("git runs");
    (out.status.success(), text(&out))
}

/// The hook as a user adopts it: the README's snippet in a repository `warden init` started, run
/// by pre-commit on `git commit`. pre-commit builds warden from a clone of this repository; the
/// hook passes on current output and stops a commit after an edit of the program without a build,
/// and after a hand edit of a generated file, saying which file and what to do.
#[test]
fn the_pre_commit_hook_from_the_readme_installs_and_guards_commits() {
    let pre_commit = python_tool("pre-commit");
    let tmp = tempfile::tempdir().unwrap();
    let version = env!("CARGO_PKG_VERSION");
    let snippet = readme_snippet();
    assert!(
        snippet.contains(&format!("rev: v{version}")),
        "the README's snippet names this version, v{version}: {snippet}"
    );
    let hooks = tmp.path().join("warden");
    hook_repository(&hooks, &format!("v{version}"));

    let user = tmp.path().join("platform");
    let (code, _, err) = run(&["init", s(&user)], tmp.path());
    assert_eq!(code, 0, "{err}");
    let config = snippet.replace("https://github.com/YOUR-ORG/warden", s(&hooks));
    assert_ne!(config, snippet, "the snippet names a repository to replace");
    fs::write(user.join(".pre-commit-config.yaml"), config).unwrap();
    git_ok(&user, &["init", "-q"]);
    let home = tmp.path().join("pre-commit-home");
    let installed = Command::new(&pre_commit)
        .arg("install")
        .current_dir(&user)
        .env("PRE_COMMIT_HOME", &home)
        .output()
        .unwrap();
    assert!(installed.status.success(), "{}", text(&installed));
    git_ok(&user, &["add", "-A"]);

    // Fresh output: the commit goes through (pre-commit builds the hook first).
    let (passed, said) = commit(&user, &home, "start");
    assert!(passed, "the first commit: {said}");
    assert!(
        home.read_dir().unwrap().next().is_some(),
        "pre-commit installed the hook"
    );

    // The program changed, not its output: stopped, naming the stale file and `warden build`.
    let program = user.join("policy/shop.warden");
    let original = fs::read_to_string(&program).unwrap();
    fs::write(&program, original.replace("8080/tcp", "8081/tcp")).unwrap();
    let (passed, said) = commit(&user, &home, "a new port");
    assert!(!passed, "a commit with stale output passed: {said}");
    assert!(
        said.contains("`generated/netpol/shop/web.yaml` is stale"),
        "{said}"
    );
    assert!(said.contains("run `warden build`"), "{said}");
    // Built, it goes through.
    let (code, _, err) = run(&["build", "policy/", "--out", "generated/"], &user);
    assert_eq!(code, 0, "{err}");
    git_ok(&user, &["add", "-A"]);
    let (passed, said) = commit(&user, &home, "a new port, built");
    assert!(passed, "{said}");

    // A generated file edited by hand: stopped, naming the file and the way to change it.
    let web = user.join("generated/netpol/shop/web.yaml");
    let generated = fs::read_to_string(&web).unwrap();
    fs::write(&web, generated.replace("port: 8081", "port: 9999")).unwrap();
    let (passed, said) = commit(&user, &home, "by hand");
    assert!(!passed, "a commit with a hand edit passed: {said}");
    assert!(
        said.contains("`generated/netpol/shop/web.yaml` was edited by hand"),
        "{said}"
    );
    assert!(said.contains("edit the program instead"), "{said}");

    // `init`'s own configuration (warden from PATH) guards the same way.
    fs::write(&web, &generated).unwrap();
    fs::copy(
        repo().join("compiler/src/cli/starter/pre-commit-config.yaml"),
        user.join(".pre-commit-config.yaml"),
    )
    .unwrap();
    let (passed, said) = commit(&user, &home, "warden from PATH");
    assert!(passed, "{said}");
    fs::write(&program, original.replace("8080/tcp", "8082/tcp")).unwrap();
    let (passed, said) = commit(&user, &home, "stale again");
    assert!(!passed, "{said}");
    assert!(said.contains("is stale"), "{said}");
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// The SARIF 2.1.0 JSON schema, as the multitool ships it.
fn sarif_schema() -> PathBuf {
    let schema = node_tool("sarif-multitool")
        .parent()
        .unwrap()
        .join("../@microsoft/sarif-multitool-linux/sarif-2.1.0.json");
    assert!(schema.is_file(), "{}", schema.display());
    schema
}

/// What the multitool finds in the logs: each result as (rule, level, file).
fn multitool_findings(logs: &[PathBuf]) -> Vec<(String, String, String)> {
    let report = logs[0].with_extension("validation.json");
    let out = Command::new(node_tool("sarif-multitool"))
        .arg("validate")
        .args(logs)
        .arg("--output")
        .arg(&report)
        .args(["--log", "ForceOverwrite"])
        .output()
        .expect("sarif-multitool runs");
    let report: serde_json::Value = serde_json::from_str(
        &fs::read_to_string(&report)
            .unwrap_or_else(|e| panic!("no validation report ({e}): {}", text(&out))),
    )
    .unwrap();
    let runs = report["runs"].as_array().unwrap();
    assert!(!runs.is_empty(), "{report}");
    runs[0]["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let at = &r["locations"][0]["physicalLocation"]["artifactLocation"];
            (
                r["ruleId"].as_str().unwrap_or("").to_string(),
                r["level"].as_str().unwrap_or("warning").to_string(),
                at["uri"]
                    .as_str()
                    .map_or_else(|| at.to_string(), str::to_string),
            )
        })
        .collect()
}

fn schema_errors(schema: &Path, log: &Path) -> Output {
    let script = "import json, sys, jsonschema\n\
        schema = json.load(open(sys.argv[1]))\n\
        cls = jsonschema.validators.validator_for(schema)\n\
        errors = list(cls(schema).iter_errors(json.load(open(sys.argv[2]))))\n\
        [print(list(e.absolute_path), e.message) for e in errors]\n\
        sys.exit(1 if errors else 0)\n";
    Command::new(python_tool("python3"))
        .arg("-c")
        .arg(script)
        .arg(schema)
        .arg(log)
        .output()
        .expect("python runs")
}

/// Every kind of result warden reports, as SARIF: a clean program, a program with errors, notes
/// and help, every broken input of the suite at once, and stale, missing and hand-edited output.
/// The multitool finds nothing wrong but the tool's missing home page (SARIF2005, a warning: the
/// tool has no public URL), and the schema accepts each; the oracles can fail (a log broken on
/// purpose).
#[test]
fn sarif_passes_the_multitool_and_the_schema() {
    let tmp = tempfile::tempdir().unwrap();
    let schema = sarif_schema();
    let broken = repo().join("compiler/tests/broken");
    let minimal = example("minimal");
    let out = tmp.path().join("out");
    run(&["build", s(&minimal), "--out", s(&out)], tmp.path());
    fs::write(out.join("netpol/shop/db.yaml"), "edited\n").unwrap();
    fs::remove_file(out.join("netpol/shop/web.yaml")).unwrap();
    let mut cases: Vec<(String, Vec<String>)> = vec![
        ("clean".into(), vec![s(&minimal).into()]),
        (
            "stale".into(),
            vec![s(&minimal).into(), "--out".into(), s(&out).into()],
        ),
    ];
    let mut programs: Vec<PathBuf> = fs::read_dir(&broken)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "warden"))
        .collect();
    programs.sort();
    assert!(programs.len() > 20, "{}", programs.len());
    for p in &programs {
        cases.push((
            p.file_stem().unwrap().to_string_lossy().into_owned(),
            vec![s(p).into()],
        ));
    }
    let mut results = 0;
    let mut logs = Vec::new();
    for (name, args) in &cases {
        let mut argv: Vec<&str> = vec!["check"];
        argv.extend(args.iter().map(String::as_str));
        argv.extend(["--format", "sarif"]);
        let (code, sarif, err) = run(&argv, tmp.path());
        assert!(code == 0 || code == 1, "{name}: exit {code}: {err}");
        let log = tmp.path().join(format!("{name}.sarif"));
        fs::write(&log, &sarif).unwrap();
        let checked = schema_errors(&schema, &log);
        assert!(checked.status.success(), "{name}: {}", text(&checked));
        let value: serde_json::Value = serde_json::from_str(&sarif).unwrap();
        let these = value["runs"][0]["results"].as_array().unwrap();
        // GitHub's code scanning rejects a whole log for one result without a location.
        for r in these {
            let region = &r["locations"][0]["physicalLocation"]["region"];
            assert!(region["startLine"].as_u64() >= Some(1), "{name}: {r}");
        }
        results += these.len();
        logs.push(log);
    }
    assert!(results > cases.len(), "{results} results");
    let findings = multitool_findings(&logs);
    // Each log was read: each has the one warning about the tool's home page.
    let read: std::collections::BTreeSet<&str> = findings
        .iter()
        .filter(|(rule, _, _)| rule == "SARIF2005")
        .map(|(_, _, file)| file.as_str())
        .collect();
    assert_eq!(read.len(), logs.len(), "{read:?}");
    assert!(
        findings.iter().all(|(rule, _, _)| rule == "SARIF2005"),
        "the multitool finds {:?}",
        findings
            .iter()
            .filter(|(rule, _, _)| rule != "SARIF2005")
            .collect::<Vec<_>>()
    );

    // Both oracles reject a log that breaks the format.
    let bad = tmp.path().join("bad.sarif");
    let (_, sarif, _) = run(&["check", s(&programs[0]), "--format", "sarif"], tmp.path());
    let mut value: serde_json::Value = serde_json::from_str(&sarif).unwrap();
    value["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["region"]["startLine"] =
        serde_json::json!(0);
    fs::write(&bad, value.to_string()).unwrap();
    assert!(
        multitool_findings(std::slice::from_ref(&bad))
            .iter()
            .any(|(_, level, _)| level == "error"),
        "the multitool passes a region starting at line 0"
    );
    assert!(!schema_errors(&schema, &bad).status.success());
}

/// `warden admit --format sarif` on the admit fixture (denials, warnings, a missing seccomp
/// profile, findings in two manifests and the program): the schema accepts the log, the
/// multitool finds nothing but the missing home page, and each result is at a manifest's line.
#[test]
fn admit_sarif_passes_the_multitool_and_the_schema() {
    let tmp = tempfile::tempdir().unwrap();
    let fixture = repo().join("compiler/tests/manifests/admit");
    let (code, sarif, err) = run(
        &["admit", "-p", "program", "workloads", "--format", "sarif"],
        &fixture,
    );
    assert_eq!(code, 1, "{err}");
    let log = tmp.path().join("admit.sarif");
    fs::write(&log, &sarif).unwrap();
    let checked = schema_errors(&sarif_schema(), &log);
    assert!(checked.status.success(), "{}", text(&checked));
    let value: serde_json::Value = serde_json::from_str(&sarif).unwrap();
    let results = value["runs"][0]["results"].as_array().unwrap();
    assert_eq!(results.len(), 13, "{sarif}");
    for r in results {
        let at = &r["locations"][0]["physicalLocation"];
        assert!(at["region"]["startLine"].as_u64() >= Some(1), "{r}");
        assert!(
            at["artifactLocation"]["uri"]
                .as_str()
                .unwrap()
                .ends_with(".yaml"),
            "{r}"
        );
    }
    let findings = multitool_findings(std::slice::from_ref(&log));
    assert!(
        findings.iter().all(|(rule, _, _)| rule == "SARIF2005"),
        "the multitool finds {findings:?}"
    );
}

fn kubernetes_validate(file: &Path) -> Output {
    Command::new(python_tool("kubernetes-validate"))
        .args(["--strict", "--kubernetes-version", "1.36.0", "--no-warn"])
        .arg(file)
        .output()
        .expect("kubernetes-validate runs")
}

/// The targets of `dir` whose documents Kubernetes itself defines (custom resources have their
/// CRDs' schemas, checked in engines.rs).
fn built_in_targets(dir: &Path) -> String {
    use warden::document::Target;
    common::targets_for(dir)
        .iter()
        .filter_map(|t| match t {
            Target::Netpol => Some("netpol"),
            Target::Seccomp => Some("seccomp"),
            Target::Vap => Some("vap"),
            _ => None,
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// `--out -` of every example is one stream of valid Kubernetes documents, each one
/// kubernetes-validate passes.
#[test]
fn the_stream_of_every_example_is_valid_kubernetes() {
    let tmp = tempfile::tempdir().unwrap();
    let mut documents = 0;
    for dir in common::examples() {
        let targets = built_in_targets(&dir);
        if !targets.contains("netpol") && !targets.contains("vap") {
            continue; // its documents are custom resources: engines.rs
        }
        let (code, stream, err) = run(
            &["build", s(&dir), "--out", "-", "--target", &targets],
            tmp.path(),
        );
        assert_eq!(code, 0, "{}: {err}", dir.display());
        let count = stream.split("---\n").filter(|d| !d.is_empty()).count();
        if count == 0 {
            continue; // only seccomp profiles, which are not in the stream
        }
        let file = tmp.path().join("stream.yaml");
        fs::write(&file, &stream).unwrap();
        let checked = kubernetes_validate(&file);
        let said = text(&checked);
        assert!(checked.status.success(), "{}: {said}", dir.display());
        assert_eq!(said.matches(" passed ").count(), count, "{said}");
        documents += count;
    }
    assert!(documents >= 30, "{documents} documents");
}

/// The Argo CD plugin as Argo CD runs it: its discovery finds the program, and its generate
/// command, run by `sh` in the source directory with the Application's environment, writes a
/// stream kubernetes-validate passes; a program with an error fails it, saying why on stderr.
#[test]
fn the_argo_cd_plugin_generates_valid_kubernetes() {
    let plugin: serde_yaml::Value = serde_yaml::from_str(
        &fs::read_to_string(repo().join("integrations/argocd/plugin.yaml")).unwrap(),
    )
    .unwrap();
    assert_eq!(plugin["kind"], "ConfigManagementPlugin");
    let strings = |v: &serde_yaml::Value| -> Vec<String> {
        v.as_sequence()
            .map(|s| s.iter().map(|x| x.as_str().unwrap().to_string()).collect())
            .unwrap_or_default()
    };
    let discover = strings(&plugin["spec"]["discover"]["find"]["command"]);
    let mut generate = strings(&plugin["spec"]["generate"]["command"]);
    generate.extend(strings(&plugin["spec"]["generate"]["args"]));
    let tmp = tempfile::tempdir().unwrap();
    let source = tmp.path().join("source");
    fs::create_dir_all(&source).unwrap();
    for e in fs::read_dir(example("online-boutique")).unwrap() {
        let p = e.unwrap().path();
        fs::copy(&p, source.join(p.file_name().unwrap())).unwrap();
    }
    let sh = |argv: &[String], dir: &Path, targets: Option<&str>| -> Output {
        let mut c = Command::new(&argv[0]);
        c.args(&argv[1..])
            .current_dir(dir)
            .env("PATH", path_with_warden())
            .env("ARGOCD_APP_NAME", "policy")
            .env_remove("ARGOCD_ENV_WARDEN_TARGETS");
        if let Some(t) = targets {
            c.env("ARGOCD_ENV_WARDEN_TARGETS", t);
        }
        c.output().unwrap()
    };
    let found = sh(&discover, &source, None);
    assert!(
        found.status.success() && !found.stdout.is_empty(),
        "{}",
        text(&found)
    );
    for targets in [None, Some("netpol,vap")] {
        let out = sh(&generate, &source, targets);
        assert!(out.status.success(), "{targets:?}: {}", text(&out));
        let file = tmp.path().join("stream.yaml");
        fs::write(&file, &out.stdout).unwrap();
        let checked = kubernetes_validate(&file);
        assert!(checked.status.success(), "{}", text(&checked));
        assert!(
            text(&checked).contains("passed for resource networkpolicy/"),
            "{}",
            text(&checked)
        );
    }
    // With Cilium's target instead, the stream holds CiliumNetworkPolicies, not NetworkPolicies.
    let out = sh(&generate, &source, Some("cilium"));
    assert!(out.status.success(), "{}", text(&out));
    let stream = String::from_utf8_lossy(&out.stdout);
    assert!(stream.contains("kind: CiliumNetworkPolicy"), "{stream}");
    assert!(!stream.contains("kind: NetworkPolicy\n"), "{stream}");
    // An error fails the sync with the diagnostic on stderr and nothing on stdout.
    fs::write(
        source.join("broken.warden"),
        "service x in nowhere { pods a = \"b\" }\n",
    )
    .unwrap();
    let out = sh(&generate, &source, None);
    assert!(!out.status.success());
    assert!(out.stdout.is_empty());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("error["),
        "{}",
        text(&out)
    );
}
