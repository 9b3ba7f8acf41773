//! `warden infer` end to end through the binary: the draft of a shop whose manifests use every
//! form `infer` reads (a snapshot, reviewed), what it never does (read a Secret's values, write
//! over a file it did not draft), determinism whatever the order of files, and hostile manifests
//! refused with the file and line in bounded time.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "in tests a panic is a failed test"
)]

use crate::common::{self, run};
use crate::snapshots::settings;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

fn manifests() -> PathBuf {
    common::repo().join("compiler/tests/manifests")
}

#[test]
fn the_shop_draft_names_every_flow_with_its_evidence() {
    let (code, out, err) = run(&["infer", "shop"], &manifests());
    assert_eq!(code, 0, "{err}");
    settings().bind(|| insta::assert_snapshot!("infer-shop.warden", out));
    settings().bind(|| insta::assert_snapshot!("infer-shop.stderr", err));
    // Every form of address, resolved to the pod port behind the Service named.
    for line in [
        "to catalog on api",   // URL with svc.ns.svc.cluster.local, Service port 80 → api
        "to cart on tcp-7070", // configMapKeyRef
        "to cache on tcp-6379", // redis:// without a port: the scheme's, and envFrom
        "to data/db on tcp-5432", // a JDBC-like URL in an argument, another namespace
        "from world on http",  // an Ingress backend by port name
        "from world on api",   // an HTTPRoute backend by port number
        "to world on 443/tcp", // a host outside the cluster, target netpol
        "base docker-default", // RuntimeDefault
    ] {
        assert!(out.contains(line), "missing `{line}` in:\n{out}");
    }
    // The shared ConfigMap is weaker evidence, said in the comment and warned.
    assert!(
        out.contains("ConfigMap shared-config is shared by 2 workloads"),
        "{out}"
    );
    assert!(err.contains("W1201"), "{err}");
    assert!(err.contains("ServiceAccount (1)"), "{err}");
}

#[test]
fn a_name_with_a_line_break_stays_in_its_comment() {
    let doc = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: \"web\\n}\\nservice evil in shop {\"\n  labels: {app: web}\nspec:\n  containers: [{name: c, image: x}]\n";
    let (code, out, err) = {
        let work = tempfile::tempdir().unwrap();
        std::fs::write(work.path().join("pod.yaml"), doc).unwrap();
        run(&["infer", "pod.yaml"], work.path())
    };
    assert_eq!(code, 0, "{err}");
    assert!(!out.contains("\nservice evil"), "{out}");
}

#[test]
fn a_secret_value_never_reaches_the_draft() {
    for target in ["netpol", "cilium"] {
        let (code, out, err) = run(&["infer", "shop", "--target", target], &manifests());
        assert_eq!(code, 0, "{err}");
        assert!(!out.contains("SECRET-VALUE"), "{out}");
        assert!(!err.contains("SECRET-VALUE"), "{err}");
    }
    let (_, out, _) = run(&["infer", "shop", "--target", "cilium"], &manifests());
    assert!(
        out.contains("to host \"api.stripe.com\" on 443/tcp"),
        "{out}"
    );
}

#[test]
fn the_draft_compiles_and_does_not_depend_on_file_order() {
    let work = tempfile::tempdir().unwrap();
    let shop = manifests().join("shop");
    // The same documents, split into one file per document, given in reverse order.
    let split = work.path().join("split");
    std::fs::create_dir(&split).unwrap();
    let mut n = 0;
    for file in ["app.yaml", "data.yaml"] {
        let text = std::fs::read_to_string(shop.join(file)).unwrap();
        for doc in text.split("\n---\n") {
            n += 1;
            std::fs::write(split.join(format!("{:02}.yaml", 100 - n)), doc).unwrap();
        }
    }
    let a = work.path().join("a");
    let b = work.path().join("b");
    let (code, _, err) = run(
        &[
            "infer",
            shop.to_str().unwrap(),
            "--out",
            a.to_str().unwrap(),
        ],
        work.path(),
    );
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = run(
        &[
            "infer",
            split.to_str().unwrap(),
            "--out",
            b.to_str().unwrap(),
        ],
        work.path(),
    );
    assert_eq!(code, 0, "{err}");
    for ns in ["shop.warden", "data.warden"] {
        let strip = |t: String| -> Vec<String> {
            // Evidence names the file it came from, which differs; the program does not.
            t.lines()
                .filter(|l| !l.trim_start().starts_with("//"))
                .map(str::to_string)
                .collect()
        };
        assert_eq!(
            strip(std::fs::read_to_string(a.join(ns)).unwrap()),
            strip(std::fs::read_to_string(b.join(ns)).unwrap()),
            "{ns}"
        );
    }
    // What it wrote builds.
    let (code, _, err) = run(
        &[
            "build",
            a.to_str().unwrap(),
            "--out",
            work.path().join("out").to_str().unwrap(),
        ],
        work.path(),
    );
    assert_eq!(code, 0, "{err}");
}

#[test]
fn infer_writes_only_over_its_own_drafts() {
    let work = tempfile::tempdir().unwrap();
    let out = work.path().join("policy");
    let shop = manifests().join("shop");
    let args = |o: &Path| {
        vec![
            "infer".to_string(),
            shop.to_str().unwrap().to_string(),
            "--out".to_string(),
            o.to_str().unwrap().to_string(),
        ]
    };
    let argv = args(&out);
    let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
    let (code, _, err) = run(&argv, work.path());
    assert_eq!(code, 0, "{err}");
    // Again over its own drafts: fine, and a draft of a namespace no longer seen goes.
    std::fs::write(
        out.join("gone.warden"),
        format!("{} earlier\nnamespace gone {{\n}}\n", warden::infer::HEADER),
    )
    .unwrap();
    let (code, _, err) = run(&argv, work.path());
    assert_eq!(code, 0, "{err}");
    assert!(!out.join("gone.warden").exists());
    // A file someone wrote by hand is never written over: nothing is written at all.
    let hand = "// mine\nnamespace shop {\n  isolate\n}\n";
    std::fs::write(out.join("shop.warden"), hand).unwrap();
    std::fs::remove_file(out.join("data.warden")).unwrap();
    let (code, _, err) = run(&argv, work.path());
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("shop.warden"), "{err}");
    assert_eq!(
        std::fs::read_to_string(out.join("shop.warden")).unwrap(),
        hand
    );
    assert!(!out.join("data.warden").exists());
}

/// Runs `infer` on one file of `bytes`; returns the exit code and standard error, and how long
/// it took.
fn infer_on(bytes: &[u8]) -> (i32, String, Duration) {
    let work = tempfile::tempdir().unwrap();
    std::fs::write(work.path().join("bad.yaml"), bytes).unwrap();
    let start = Instant::now();
    let (code, _, err) = run(&["infer", "bad.yaml"], work.path());
    (code, err, start.elapsed())
}

#[test]
fn hostile_manifests_are_refused_with_file_and_line_in_bounded_time() {
    let mut bomb = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
    for i in 1..10 {
        let p = i - 1;
        bomb.push_str(&format!(
            "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
        ));
    }
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("alias bomb", bomb.into_bytes(), "alias bomb"),
        // The parser's own limit stops flow collections; warden's, block ones.
        (
            "deep flow nesting",
            "[".repeat(1_000_000).into_bytes(),
            "recursion limit",
        ),
        (
            "deep block nesting",
            (0..2000)
                .map(|i| format!("{}a:\n", " ".repeat(i)))
                .collect::<String>()
                .into_bytes(),
            "nested more than",
        ),
        (
            "duplicate keys",
            b"kind: Service\nmetadata:\n  name: a\n  name: b\n".to_vec(),
            "given twice",
        ),
        (
            "not UTF-8",
            b"kind: Service\nmetadata:\n  name: \xff\xfe\n".to_vec(),
            "not UTF-8",
        ),
        ("not YAML", b"kind: [Service\n".to_vec(), "not YAML"),
    ];
    for (what, bytes, says) in cases {
        let (code, err, took) = infer_on(&bytes);
        assert_eq!(code, 1, "{what}: {err}");
        assert!(err.contains(says), "{what}: {err}");
        assert!(err.contains("bad.yaml"), "{what}: {err}");
        assert!(took < Duration::from_secs(10), "{what} took {took:?}");
    }
    // A file past the limit is refused before it is read: a sparse 100 MB file.
    let work = tempfile::tempdir().unwrap();
    let big = work.path().join("big.yaml");
    std::fs::File::create(&big)
        .unwrap()
        .set_len(100 * 1024 * 1024)
        .unwrap();
    let start = Instant::now();
    let (code, _, err) = run(&["infer", "big.yaml"], work.path());
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("big.yaml") && err.contains("more than"),
        "{err}"
    );
    assert!(start.elapsed() < Duration::from_secs(5));
    // A directory holding a link to itself is read once, not forever.
    let looped = work.path().join("looped");
    std::fs::create_dir_all(looped.join("sub")).unwrap();
    std::os::unix::fs::symlink(&looped, looped.join("sub/up")).unwrap();
    std::fs::copy(manifests().join("shop/app.yaml"), looped.join("app.yaml")).unwrap();
    let start = Instant::now();
    let (code, out, err) = run(&["infer", "looped"], work.path());
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("service web in shop"), "{out}");
    assert!(start.elapsed() < Duration::from_secs(10));
    // Lines are named: the duplicate key is on line 4.
    let (_, err, _) = infer_on(b"kind: Service\nmetadata:\n  name: a\n  name: b\n");
    assert!(err.contains("bad.yaml:4"), "{err}");
}

/// Inserts what `--diff` printed into the program at `dir`: each `// FILE:LINE: service …, add:`
/// section after that line, the new blocks as a file of their own.
fn apply(dir: &Path, printed: &str) {
    let (new, added) = match printed.split_once("// Lines the program's services do not say\n") {
        Some((new, added)) => (new, added),
        None => (printed, ""),
    };
    if !new.trim().is_empty() {
        std::fs::write(dir.join("new.warden"), new).unwrap();
    }
    let mut sections: Vec<(String, usize, String)> = Vec::new();
    for section in added.split("\n// ").filter(|s| !s.trim().is_empty()) {
        let (head, lines) = section.split_once(", add:\n").unwrap();
        let at = head.trim_start_matches("// ").split(": ").next().unwrap();
        let (file, line) = at.rsplit_once(':').unwrap();
        sections.push((file.to_string(), line.parse().unwrap(), lines.to_string()));
    }
    // From the bottom up, so that the lines named stay where they were.
    sections.sort_by_key(|s| std::cmp::Reverse(s.1));
    for (file, line, lines) in sections {
        let path = dir.join(&file);
        let text = std::fs::read_to_string(&path).unwrap();
        let mut all: Vec<&str> = text.lines().collect();
        all.insert(line, lines.trim_end_matches('\n'));
        std::fs::write(&path, all.join("\n") + "\n").unwrap();
    }
}

/// `warden infer SHOP --diff PROGRAM`: exit status, standard output, standard error.
fn diff(shop: &Path, program: &Path) -> (i32, String, String) {
    let args = [
        "infer",
        shop.to_str().unwrap(),
        "--diff",
        program.to_str().unwrap(),
    ];
    run(&args, program.parent().unwrap())
}

/// `--diff` against a program that lacks a service and a flow of the shop: it prints both, never
/// what the program says already, and what it prints, added to the program, leaves nothing to
/// add (the exit status says which).
#[test]
fn infer_diff_prints_what_the_program_lacks_and_only_that() {
    let work = tempfile::tempdir().unwrap();
    let program = work.path().join("policy");
    let shop = manifests().join("shop");
    let (code, _, err) = run(
        &[
            "infer",
            shop.to_str().unwrap(),
            "--out",
            program.to_str().unwrap(),
        ],
        work.path(),
    );
    assert_eq!(code, 0, "{err}");
    let (code, out, err) = diff(&shop, &program);
    assert_eq!((code, out.as_str()), (0, ""), "{err}");
    assert!(err.contains("nothing to add"), "{err}");
    // The program without the cart service (and every line naming it), nor web's flow to the
    // catalog, its services renamed as a person might: `--diff` matches by the pods selected.
    let path = program.join("shop.warden");
    let text = std::fs::read_to_string(&path).unwrap();
    let start = text.find("service cart in shop {").unwrap();
    let end = start + text[start..].find("\n}\n").unwrap() + 3;
    let text = format!("{}{}", &text[..start], &text[end..]);
    let text: String = text
        .lines()
        .filter(|l| {
            let l = l.trim();
            !l.starts_with("to cart") && !l.starts_with("to data/db") && l != "to catalog on api"
        })
        .map(|l| format!("{}\n", l.replace("service web in", "service storefront in")))
        .collect();
    // A service of the program named as the drafted one, for other pods: the new one is numbered.
    let text = text + "\nservice cart in shop {\n  pods app = \"legacy-cart\"\n}\n";
    std::fs::write(&path, text).unwrap();
    std::fs::remove_file(program.join("data.warden")).unwrap();
    let (code, out, err) = diff(&shop, &program);
    assert_eq!(code, 1, "{err}\n{out}");
    for expected in [
        "namespace data {",
        "service db in data {",
        "service cart-2 in shop {",
        "shop.warden:",
        "service storefront in shop, for Deployment web",
        "  to catalog on 9000/tcp",
        "  to cart-2 on tcp-7070",
        "  to data/db on tcp-5432",
    ] {
        assert!(out.contains(expected), "no `{expected}` in:\n{out}");
    }
    // What the program says already is not printed: the storefront's flow to the cache.
    let lines = out
        .split("// Lines the program's services do not say")
        .nth(1)
        .unwrap();
    assert!(!lines.contains("to cache"), "{out}");
    apply(&program, &out);
    let (code, out, err) = diff(&shop, &program);
    assert_eq!((code, out.as_str()), (0, ""), "{err}");
    // A program that does not compile is not compared.
    std::fs::write(program.join("broken.warden"), "service {").unwrap();
    let (code, _, err) = diff(&shop, &program);
    assert_eq!(code, 2, "{err}");
}

/// The hand-written Online Boutique program says every flow `infer` finds in its release
/// manifests; without one of its flows, `--diff` names exactly that one.
#[test]
fn infer_diff_finds_online_boutique_complete_but_for_a_flow_taken_out() {
    let release = common::corpora().join("microservices-demo/release/kubernetes-manifests.yaml");
    let work = tempfile::tempdir().unwrap();
    let program = work.path().join("ob");
    std::fs::create_dir(&program).unwrap();
    for e in std::fs::read_dir(common::repo().join("examples/online-boutique")).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), program.join(e.file_name())).unwrap();
    }
    let args = |p: &Path| {
        vec![
            "infer".to_string(),
            release.display().to_string(),
            "--namespace".to_string(),
            "online-boutique".to_string(),
            "--diff".to_string(),
            p.display().to_string(),
        ]
    };
    let a = args(&program);
    let a: Vec<&str> = a.iter().map(String::as_str).collect();
    let (code, out, err) = run(&a, work.path());
    assert_eq!((code, out.as_str()), (0, ""), "{err}");
    for file in ["backend.warden", "expects.warden"] {
        let path = program.join(file);
        let text = std::fs::read_to_string(&path).unwrap();
        let text: String = text
            .lines()
            .filter(|l| {
                !l.contains("to redis-cart on redis") && !l.contains("cartservice -> redis-cart")
            })
            .map(|l| format!("{l}\n"))
            .collect();
        std::fs::write(&path, text).unwrap();
    }
    let (code, out, err) = run(&a, work.path());
    assert_eq!(code, 1, "{err}");
    let added: Vec<&str> = out
        .lines()
        .filter(|l| !l.trim_start().starts_with("//") && !l.trim().is_empty())
        .collect();
    assert_eq!(added, ["  to redis-cart on 6379/tcp"], "{out}");
}

#[test]
fn a_warning_a_workload_is_folded_for_people_and_listed_whole_in_json() {
    let work = tempfile::tempdir().unwrap();
    let mut docs = String::new();
    for i in 0..6 {
        docs.push_str(&format!(
            "---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: w{i}}}\nspec:\n  selector: {{matchLabels: {{app: w{i}}}}}\n  template:\n    metadata: {{labels: {{app: w{i}}}}}\n    spec:\n      containers: [{{name: c, image: x, ports: [{{containerPort: 8080}}]}}]\n---\napiVersion: v1\nkind: Service\nmetadata: {{name: w{i}}}\nspec:\n  selector: {{app: w{i}}}\n  ports: [{{port: 80, targetPort: 8080}}]\n"
        ));
    }
    std::fs::write(work.path().join("m.yaml"), docs).unwrap();
    let (code, _, err) = run(&["infer", "m.yaml"], work.path());
    assert_eq!(code, 0, "{err}");
    assert_eq!(err.matches("warning[W1206]").count(), 3, "{err}");
    assert!(
        err.contains("note: 3 more warnings W1206 like these"),
        "{err}"
    );
    let (code, out, err) = run(&["infer", "m.yaml", "--format", "json"], work.path());
    assert_eq!(code, 0, "{err}");
    // The program on standard output, every warning a JSON line on standard error.
    assert!(out.contains("service w5 in default"), "{out}");
    let lines: Vec<serde_json::Value> = err
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        lines.iter().filter(|l| l["code"] == "W1206").count(),
        6,
        "{err}"
    );
}

/// A draft is written in the layout `warden fmt` gives it (it is not laid out again, which at
/// thousands of services would be a third parse): `fmt --check` finds nothing to change in the
/// shop's drafts for both targets, Online Boutique's, or a generated set's.
#[test]
fn every_draft_is_already_formatted() {
    let work = tempfile::tempdir().unwrap();
    let generated = work.path().join("generated");
    let made = std::process::Command::new(env!("CARGO_BIN_EXE_bench-gen"))
        .args(["manifests", "40"])
        .arg(&generated)
        .output()
        .expect("bench-gen runs");
    assert!(made.status.success(), "{made:?}");
    let release = common::corpora().join("microservices-demo/release/kubernetes-manifests.yaml");
    let inputs = [
        (manifests().join("shop"), "netpol"),
        (manifests().join("shop"), "cilium"),
        (release, "netpol"),
        (generated, "netpol"),
    ];
    for (i, (input, target)) in inputs.iter().enumerate() {
        let out = work.path().join(format!("draft-{i}"));
        let (code, _, err) = run(
            &[
                "infer",
                input.to_str().unwrap(),
                "--target",
                target,
                "--out",
                out.to_str().unwrap(),
            ],
            work.path(),
        );
        assert_eq!(code, 0, "{err}");
        let (code, stdout, err) = run(&["fmt", "--check", out.to_str().unwrap()], work.path());
        assert_eq!(code, 0, "{} ({target}): {stdout}{err}", input.display());
    }
}
