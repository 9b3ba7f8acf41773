//! The command line where it meets the loop people already have: `check` without an output,
//! warnings denied, summarised and folded, hand edits told from stale output, concurrent builds,
//! the YAML stream, SARIF's shape, completions, manual pages and `init`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "in tests a panic is a failed test"
)]

use crate::common::{example, repo, run, tree, warden_bin};
use std::fs;
use std::path::Path;

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// `check` without `--out` checks the program alone: its diagnostics, its expectations, what the
/// targets cannot say; and writes nothing.
#[test]
fn check_without_an_output_checks_the_program_alone() {
    let tmp = tempfile::tempdir().unwrap();
    let (code, out, err) = run(&["check", s(&example("minimal"))], tmp.path());
    assert_eq!((code, out.as_str(), err.as_str()), (0, "", ""));
    assert!(fs::read_dir(tmp.path()).unwrap().next().is_none());
    // An expectation that does not hold fails it.
    let broken = repo().join("compiler/tests/broken/expect-fails.warden");
    let (code, _, err) = run(&["check", s(&broken)], tmp.path());
    assert_eq!(code, 1);
    assert!(err.contains("error[E0601]"), "{err}");
    assert!(err.contains("warden: 2 errors, 0 warnings"), "{err}");
    // What a target cannot say is checked too.
    let (code, _, err) = run(&["check", s(&example("cilium/payments"))], tmp.path());
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("error[E0901]"), "{err}");
    // `build` needs an output.
    let (code, _, err) = run(&["build", s(&example("minimal"))], tmp.path());
    assert_eq!(code, 2);
    assert!(err.contains("needs `--out DIR`"), "{err}");
}

#[test]
fn warnings_are_summarised_folded_and_can_be_denied() {
    let tmp = tempfile::tempdir().unwrap();
    let program = tmp.path().join("p.warden");
    // Twelve services each with `to world`: twelve W0306.
    let mut text = String::from("namespace shop { isolate  allow dns }\n");
    for i in 0..12 {
        text.push_str(&format!(
            "service s{i} in shop {{ pods app = \"s{i}\"  to world on 443/tcp }}\n"
        ));
    }
    fs::write(&program, text).unwrap();
    let (code, _, err) = run(&["check", s(&program)], tmp.path());
    assert_eq!(code, 0, "{err}");
    assert_eq!(err.matches("warning[W0306]").count(), 3, "{err}");
    assert!(
        err.contains("note: 9 more warnings W0306 like these"),
        "{err}"
    );
    assert!(err.ends_with("warden: 0 errors, 12 warnings\n"), "{err}");
    // JSON lists every one, with no summary.
    let (_, out, _) = run(&["check", s(&program), "--format", "json"], tmp.path());
    assert_eq!(out.lines().count(), 12);
    // Denied, they fail the run and nothing is written.
    let gen_dir = tmp.path().join("gen");
    let (code, _, err) = run(
        &[
            "build",
            s(&program),
            "--out",
            s(&gen_dir),
            "--deny-warnings",
        ],
        tmp.path(),
    );
    assert_eq!(code, 1);
    assert!(
        err.contains("(warnings are errors: --deny-warnings)"),
        "{err}"
    );
    assert!(!gen_dir.exists());
}

/// A warning acknowledged by an `accept` line is left out of the human report (but counted),
/// listed with its reason in JSON and SARIF, let through by `--deny-warnings`, and its reason is
/// in the annotations of what the block generates; one not acknowledged still fails the run.
#[test]
fn accepted_warnings_are_acknowledged_not_lost() {
    let tmp = tempfile::tempdir().unwrap();
    let program = tmp.path().join("p.warden");
    // As written in the program, and as it is meant.
    let written = r#"card payments go to the acquirer: \"addresses change\""#;
    let reason = r#"card payments go to the acquirer: "addresses change""#;
    let accepting = |i: usize| {
        format!(
            "service s{i} in shop {{ pods app = \"s{i}\"  to world on 443/tcp  accept W0306 \"{written}\" }}\n"
        )
    };
    let mut text = String::from("namespace shop { isolate  allow dns }\n");
    for i in 0..5 {
        text.push_str(&accepting(i));
    }
    fs::write(&program, &text).unwrap();
    let gen_dir = tmp.path().join("gen");
    let build = |extra: &[&str]| {
        let mut args = vec![
            "build",
            s(&program),
            "--out",
            s(&gen_dir),
            "--target",
            "netpol",
        ];
        args.extend_from_slice(extra);
        run(&args, tmp.path())
    };
    let (code, _, err) = build(&["--deny-warnings"]);
    assert_eq!(code, 0, "{err}");
    assert!(!err.contains("warning["), "{err}");
    assert!(
        err.contains("warden: 0 errors, 0 warnings (5 accepted in the program, not shown)"),
        "{err}"
    );
    // The reason reaches the generated policy, quoted as YAML.
    let policy = fs::read_to_string(gen_dir.join("netpol/shop/s3.yaml")).unwrap();
    assert!(
        policy.contains(
            r#"warden.dev/accepted: "W0306: card payments go to the acquirer: \"addresses change\"""#
        ),
        "{policy}"
    );
    // JSON and SARIF list every one, with the reason.
    let (_, out, _) = run(&["check", s(&program), "--format", "json"], tmp.path());
    assert_eq!(out.lines().count(), 5, "{out}");
    for line in out.lines() {
        let d: serde_json::Value = serde_json::from_str(line).unwrap();
        assert_eq!(d["code"], "W0306");
        assert_eq!(d["accepted"], reason);
    }
    let (_, out, _) = run(&["check", s(&program), "--format", "sarif"], tmp.path());
    let log: serde_json::Value = serde_json::from_str(&out).unwrap();
    let results = log["runs"][0]["results"].as_array().unwrap();
    assert_eq!(results.len(), 5);
    for r in results {
        assert_eq!(r["suppressions"][0]["kind"], "inSource", "{r}");
        assert_eq!(r["suppressions"][0]["justification"], reason);
    }
    // One service more, whose `to world` no line accepts: shown, and denied.
    text.push_str("service open in shop { pods app = \"open\"  to world on 443/tcp }\n");
    fs::write(&program, &text).unwrap();
    let (code, _, err) = build(&["--deny-warnings"]);
    assert_eq!(code, 1, "{err}");
    assert_eq!(err.matches("warning[W0306]").count(), 1, "{err}");
    assert!(err.contains("5 accepted"), "{err}");
    // The annotation is gone when the line is.
    let (code, _, err) = build(&[]);
    assert_eq!(code, 0, "{err}");
    let open = fs::read_to_string(gen_dir.join("netpol/shop/open.yaml")).unwrap();
    assert!(!open.contains("warden.dev/accepted"), "{open}");
}

/// A generated file edited by hand is told from output the program no longer matches, and the
/// message says what to do instead.
#[test]
fn a_hand_edit_is_named_as_one() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let program = tmp.path().join("policy");
    fs::create_dir_all(&program).unwrap();
    let text = fs::read_to_string(example("minimal").join("minimal.warden")).unwrap();
    fs::write(program.join("shop.warden"), &text).unwrap();
    assert_eq!(run(&["build", "policy", "--out", "out"], tmp.path()).0, 0);
    let web = out.join("netpol/shop/web.yaml");
    let original = fs::read_to_string(&web).unwrap();
    fs::write(&web, original.replace("port: 8080", "port: 8081")).unwrap();
    let (code, _, err) = run(&["check", "policy", "--out", "out"], tmp.path());
    assert_eq!(code, 1);
    assert!(
        err.contains("`out/netpol/shop/web.yaml` was edited by hand"),
        "{err}"
    );
    assert!(err.contains("edit the program instead"), "{err}");
    // The program changed instead: stale, with the way out.
    fs::write(&web, &original).unwrap();
    fs::write(
        program.join("shop.warden"),
        text.replace("8080/tcp", "8081/tcp"),
    )
    .unwrap();
    let (code, _, err) = run(&["check", "policy", "--out", "out"], tmp.path());
    assert_eq!(code, 1);
    assert!(err.contains("`out/netpol/shop/web.yaml` is stale"), "{err}");
    assert!(err.contains("run `warden build`"), "{err}");
}

/// Twenty builds into one directory at once: each waits for the one before, and the directory
/// holds one complete tree at the end, the one a build of the program writes.
#[test]
fn concurrent_builds_take_turns() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let program = example("online-boutique");
    let children: Vec<std::process::Child> = (0..20)
        .map(|_| {
            std::process::Command::new(warden_bin())
                .args(["build", s(&program), "--out", s(&out)])
                .env("NO_COLOR", "1")
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for child in children {
        let done = child.wait_with_output().unwrap();
        assert!(
            done.status.success(),
            "a build failed: {}",
            String::from_utf8_lossy(&done.stderr)
        );
    }
    let reference = tmp.path().join("reference");
    assert_eq!(
        run(&["build", s(&program), "--out", s(&reference)], tmp.path()).0,
        0
    );
    assert_eq!(tree(&out), tree(&reference));
    // Nothing else is left beside it but the lock.
    let mut beside: Vec<String> = fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    beside.sort();
    assert_eq!(
        beside,
        [
            ".out.warden-lock",
            ".reference.warden-lock",
            "out",
            "reference"
        ]
    );
}

/// `--out -`: every Kubernetes document as one YAML stream, the same documents a tree holds,
/// and a note on the seccomp profiles it leaves out.
#[test]
fn the_stream_holds_every_kubernetes_document() {
    let tmp = tempfile::tempdir().unwrap();
    let program = example("seccomp/node-web");
    let (code, stream, err) = run(&["build", s(&program), "--out", "-"], tmp.path());
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("note[N0002]: 1 seccomp profiles are not in the stream"),
        "{err}"
    );
    let out = tmp.path().join("out");
    run(&["build", s(&program), "--out", s(&out)], tmp.path());
    let expected: Vec<String> = tree(&out)
        .into_iter()
        .filter(|(p, _)| p.ends_with(".yaml") && p != "kustomization.yaml")
        .map(|(_, bytes)| String::from_utf8(bytes).unwrap())
        .collect();
    let documents: Vec<&str> = stream.split("---\n").filter(|d| !d.is_empty()).collect();
    assert_eq!(documents, expected);
}

/// SARIF 2.1.0 in shape: one rule per code with its explanation, one result per diagnostic with
/// its region, related locations, a fingerprint that does not move with the lines above, and a
/// stale output file as a result on that file. (`oracles/integrations.rs` runs Microsoft's
/// validator and the schema on it.)
#[test]
fn sarif_says_what_the_human_report_says() {
    let tmp = tempfile::tempdir().unwrap();
    let broken = repo().join("compiler/tests/broken/expect-overlapping.warden");
    let copy = tmp.path().join("p.warden");
    fs::copy(&broken, &copy).unwrap();
    let (code, out, _) = run(&["check", "p.warden", "--format", "sarif"], tmp.path());
    assert_eq!(code, 1);
    let log: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(log["version"], "2.1.0");
    let run0 = &log["runs"][0];
    let rules = run0["tool"]["driver"]["rules"].as_array().unwrap();
    let results = run0["results"].as_array().unwrap();
    let (_, human, _) = run(&["check", "p.warden", "--format", "json"], tmp.path());
    assert_eq!(results.len(), human.lines().count());
    for (result, line) in results.iter().zip(human.lines()) {
        let line: serde_json::Value = serde_json::from_str(line).unwrap();
        assert_eq!(result["ruleId"], line["code"]);
        let rule = &rules[result["ruleIndex"].as_u64().unwrap() as usize];
        assert_eq!(rule["id"], line["code"]);
        assert!(!rule["fullDescription"]["text"].as_str().unwrap().is_empty());
        let location = &result["locations"][0]["physicalLocation"];
        assert_eq!(location["artifactLocation"]["uri"], "p.warden");
        assert_eq!(location["artifactLocation"]["uriBaseId"], "%SRCROOT%");
        assert_eq!(location["region"]["startLine"], line["line"]);
        assert_eq!(location["region"]["startColumn"], line["column"]);
    }
    let codes: Vec<&str> = rules.iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert_eq!(codes, ["W0114", "E0601"]);
    assert!(results.iter().any(|r| r["relatedLocations"].is_array()));
    // Lines above do not move a fingerprint.
    let fingerprints = |log: &serde_json::Value| -> Vec<String> {
        log["runs"][0]["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["partialFingerprints"]["wardenDiagnostic/v1"].to_string())
            .collect()
    };
    let text = fs::read_to_string(&copy).unwrap();
    fs::write(&copy, format!("// a new first line\n\n{text}")).unwrap();
    let (_, moved, _) = run(&["check", "p.warden", "--format", "sarif"], tmp.path());
    let moved: serde_json::Value = serde_json::from_str(&moved).unwrap();
    assert_eq!(fingerprints(&log), fingerprints(&moved));
    // A stale output file is a result on that file.
    let out = tmp.path().join("out");
    let minimal = example("minimal");
    run(&["build", s(&minimal), "--out", s(&out)], tmp.path());
    fs::write(out.join("netpol/shop/db.yaml"), "edited").unwrap();
    let (code, sarif, _) = run(
        &["check", s(&minimal), "--out", "out", "--format", "sarif"],
        tmp.path(),
    );
    assert_eq!(code, 1);
    let log: serde_json::Value = serde_json::from_str(&sarif).unwrap();
    let result = &log["runs"][0]["results"][0];
    assert_eq!(result["ruleId"], "E0803");
    assert_eq!(
        result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
        "out/netpol/shop/db.yaml"
    );
}

/// The bash completion script loads in bash and completes warden's commands.
#[test]
fn completions_load_in_bash() {
    let tmp = tempfile::tempdir().unwrap();
    let (code, script, _) = run(&["completions", "bash"], tmp.path());
    assert_eq!(code, 0);
    fs::write(tmp.path().join("warden.bash"), &script).unwrap();
    let probe = r#"source ./warden.bash
COMP_WORDS=(warden ex); COMP_CWORD=1; COMP_LINE="warden ex"; COMP_POINT=${#COMP_LINE}
_warden warden ex warden
printf '%s\n' "${COMPREPLY[@]}""#;
    let out = std::process::Command::new("bash")
        .args(["-c", probe])
        .current_dir(tmp.path())
        .output()
        .unwrap();
    let words = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        words.contains("explain") && words.contains("explain-code"),
        "{words}"
    );
    for shell in ["zsh", "fish"] {
        let (code, script, _) = run(&["completions", shell], tmp.path());
        assert_eq!(code, 0);
        assert!(script.contains("warden"));
    }
}

/// One manual page per command, in roff.
#[test]
fn manual_pages_are_written() {
    let tmp = tempfile::tempdir().unwrap();
    let (code, _, err) = run(&["man", "--out", "man"], tmp.path());
    assert_eq!(code, 0, "{err}");
    let mut pages: Vec<String> = fs::read_dir(tmp.path().join("man"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    pages.sort();
    assert!(pages.contains(&"warden.1".to_string()));
    assert!(pages.contains(&"warden-build.1".to_string()));
    let page = fs::read_to_string(tmp.path().join("man/warden-check.1")).unwrap();
    assert!(
        page.starts_with(".ie \\n(.g .ds Aq") || page.contains(".TH"),
        "{page}"
    );
    assert!(page.contains("deny\\-warnings"), "{page}");
}

/// `init` writes a program that builds and checks cleanly, its output, and configurations; run
/// again, it writes nothing over them.
#[test]
fn init_starts_a_repository_that_checks_cleanly() {
    let tmp = tempfile::tempdir().unwrap();
    let (code, _, err) = run(&["init", "repo"], tmp.path());
    assert_eq!(code, 0, "{err}");
    let repo_dir = tmp.path().join("repo");
    for file in [
        "policy/shop.warden",
        ".pre-commit-config.yaml",
        ".github/workflows/warden.yml",
        "generated/warden-manifest.json",
    ] {
        assert!(repo_dir.join(file).is_file(), "{file}");
    }
    let (code, out, err) = run(
        &["check", "policy/", "--out", "generated/", "--deny-warnings"],
        &repo_dir,
    );
    assert_eq!((code, out.as_str(), err.as_str()), (0, "", ""));
    for yaml in [".pre-commit-config.yaml", ".github/workflows/warden.yml"] {
        let text = fs::read_to_string(repo_dir.join(yaml)).unwrap();
        let value: serde_yaml::Value = serde_yaml::from_str(&text).unwrap();
        assert!(value.is_mapping(), "{yaml}");
    }
    let before = tree(&repo_dir);
    let (code, _, err) = run(&["init", "repo"], tmp.path());
    assert_eq!(code, 2);
    assert!(err.contains("writes nothing over what is there"), "{err}");
    assert_eq!(tree(&repo_dir), before);
}

/// A build that cannot get the directory within its wait says who holds it and writes nothing.
#[test]
fn a_build_that_gives_up_names_the_other() {
    use std::io::Write;
    let tmp = tempfile::tempdir().unwrap();
    let mut held = fs::File::create(tmp.path().join(".out.warden-lock")).unwrap();
    writeln!(held, "4242").unwrap();
    rustix::fs::flock(&held, rustix::fs::FlockOperation::LockExclusive).unwrap();
    let out = std::process::Command::new(warden_bin())
        .args(["build", s(&example("minimal")), "--out", "out"])
        .current_dir(tmp.path())
        .env("NO_COLOR", "1")
        .env("WARDEN_LOCK_WAIT", "1")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("error[E0804]: another warden (pid 4242) is writing `out`: waited 1 s for it"),
        "{err}"
    );
    assert!(!tmp.path().join("out").exists());
    // Released, the same build goes through.
    drop(held);
    assert_eq!(
        run(
            &["build", s(&example("minimal")), "--out", "out"],
            tmp.path()
        )
        .0,
        0
    );
}
