//! `warden explain` end to end: connections and system calls, with the places and the exit codes
//! of their answers, and `syscalls` blocks of one text that explain must still tell apart.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "in tests a panic is a failed test"
)]

use crate::common::{example, repo, run};
use std::fs;
use std::path::Path;

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

#[test]
fn explain_says_allowed_or_denied_and_why() {
    let prog = example("online-boutique");
    let (code, out, err) = run(
        &["explain", "-p", s(&prog), "frontend -> cartservice on grpc"],
        &repo(),
    );
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("note[N0001]: allowed: `frontend -> cartservice on grpc`"),
        "{out}"
    );
    assert!(
        out.contains("frontend.warden:8:3"),
        "points at the flow: {out}"
    );
    assert!(
        out.contains("`netpol/online-boutique/frontend.yaml` (egress)"),
        "{out}"
    );
    assert!(
        out.contains("`netpol/online-boutique/cartservice.yaml` (ingress)"),
        "{out}"
    );

    // Denied exits 1, so that a script can ask; the words of the question may be apart, and
    // options may follow it.
    let (code, out, _) = run(
        &["explain", "world", "->", "redis-cart", "-p", s(&prog)],
        &repo(),
    );
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("denied: `world -> redis-cart`"), "{out}");
    assert!(out.contains("isolates ingress"), "{out}");
    assert!(
        out.contains("isolated by `netpol/online-boutique/default-deny.yaml` (ingress)"),
        "{out}"
    );

    // A question warden cannot answer (an unknown name) exits 2, with the error.
    let (code, out, _) = run(
        &[
            "explain",
            "frontend -> crtservice",
            "--format",
            "json",
            "-p",
            s(&prog),
        ],
        &repo(),
    );
    assert_eq!(code, 2);
    let line: serde_json::Value =
        serde_json::from_str(out.lines().next().expect("a line")).expect("json");
    assert_eq!(line["code"], "E0102");
    assert_eq!(line["help"], "did you mean `cartservice`?");
}

#[test]
fn a_host_name_is_refused_for_netpol_and_built_for_cilium() {
    let prog = example("cilium/payments");
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    // Default targets include netpol: refused, naming the target, the flow and the way out.
    let (code, _, err) = run(&["build", s(&prog), "--out", s(&out)], &repo());
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("error[E0901]: target `netpol` cannot allow a host name (`api.stripe.com`)"),
        "{err}"
    );
    assert!(
        err.contains("payments.warden:12:3"),
        "points at the flow: {err}"
    );
    assert!(err.contains("--target cilium"), "says the way out: {err}");
    assert!(!out.exists(), "nothing written");
    // For cilium: built, with toFQDNs and the DNS proxy rule.
    let (code, _, err) = run(
        &[
            "build",
            s(&prog),
            "--out",
            s(&out),
            "--target",
            "cilium,seccomp,vap",
        ],
        &repo(),
    );
    assert_eq!(code, 0, "{err}");
    let checkout = fs::read_to_string(out.join("cilium/payments/checkout.yaml")).unwrap();
    assert!(
        checkout.contains("matchName: \"api.stripe.com\""),
        "{checkout}"
    );
    let dns = fs::read_to_string(out.join("cilium/payments/allow-dns.yaml")).unwrap();
    assert!(dns.contains("matchPattern: \"*\""), "{dns}");
    assert!(!out.join("netpol").exists());
    // explain names the Cilium policies and the HTTP requests the flow allows.
    let (code, answer, err) = run(
        &["explain", "-p", s(&prog), "checkout -> ledger on http"],
        &repo(),
    );
    assert_eq!(code, 0, "{err}");
    assert!(
        answer.contains("allowed: `checkout -> ledger on http`"),
        "{answer}"
    );
    assert!(
        answer.contains("GET /v1/accounts/[0-9]+, POST /v1/entries"),
        "{answer}"
    );
    assert!(
        answer.contains("`cilium/payments/ledger.yaml` (ingress)"),
        "{answer}"
    );
}

#[test]
fn explain_says_what_a_profile_does_with_a_system_call_and_why() {
    let prog = example("seccomp/node-web");
    let ask = |q: &str| run(&["explain", "-p", s(&prog), q], &repo());
    // Allowed only when an argument says so: exit 3, "it depends".
    let (code, out, err) = ask("node-web syscall clone");
    assert_eq!(code, 3, "{err}");
    assert!(
        out.contains("apps/node-web syscall clone: allowed"),
        "{out}"
    );
    assert!(
        out.contains("web.warden:16:11"),
        "points at the rule: {out}"
    );
    assert!(
        out.contains("only when arg0 has 0x10000; otherwise denied: the process is killed"),
        "{out}"
    );
    let (code, out, _) = ask("node-web syscall clone3");
    assert!(out.contains("denied with ENOSYS"), "{out}");
    assert_eq!(code, 1);
    let (code, out, _) = ask("node-web syscall read");
    assert!(
        out.contains("decided by group `node20-glibc-runtime`"),
        "{out}"
    );
    assert_eq!(code, 0);
    let (code, out, _) = ask("node-web syscall ptrace");
    assert!(
        out.contains("denied: the process is killed (the default)"),
        "{out}"
    );
    assert_eq!(code, 1);
    let (code, out, err) = ask("node-web syscall raed");
    assert_eq!(code, 2);
    assert!(
        format!("{out}{err}").contains("did you mean `read`?"),
        "{out}{err}"
    );
}

/// Blocks of one text are resolved once and share their entries; each service's policy still
/// points at its own block, and a block with a finding is resolved again and reports it at its
/// own place.
#[test]
fn syscall_blocks_of_one_text_share_their_entries_but_not_their_places() {
    let quiet = "syscalls { allow read, write, exit, exit_group, rt_sigreturn }";
    let risky = "syscalls { allow read, write, exit, exit_group, rt_sigreturn, ptrace }";
    let service = |name: &str, block: &str| {
        format!("service {name} in shop {{\n  pods app = \"{name}\"\n  {block}\n}}\n\n")
    };
    let text = format!(
        "namespace shop {{\n  isolate\n}}\n\n{}{}{}{}",
        service("a", quiet),
        service("b", quiet),
        service("c", risky),
        service("d", risky)
    );
    let mut sources = warden::span::SourceMap::new();
    sources.add("p.warden".to_string(), text.clone());
    let compiled = warden::compile(
        sources,
        &[
            warden::document::Target::Seccomp,
            warden::document::Target::Spo,
        ],
    );
    // Profiles of one resolution are built once, and each names its own service and block.
    let documents = compiled.documents.expect("lowers");
    let text_of = |path: &str| {
        documents
            .iter()
            .find(|d| d.path == path)
            .map(|d| d.text.clone())
            .unwrap_or_else(|| panic!("no {path}"))
    };
    let (pa, pb) = (
        text_of("seccomp/shop/a.json"),
        text_of("seccomp/shop/b.json"),
    );
    assert!(
        pa.contains("system calls of service shop/a from p.warden:7\""),
        "{pa}"
    );
    assert!(
        pb.contains("system calls of service shop/b from p.warden:12\""),
        "{pb}"
    );
    assert_eq!(
        pa.replace("shop/a from p.warden:7", "shop/b from p.warden:12"),
        pb
    );
    let (sa, sb) = (text_of("spo/shop/a.yaml"), text_of("spo/shop/b.yaml"));
    assert!(sa.contains("name: \"a\""), "{sa}");
    assert!(sb.contains("name: \"b\""), "{sb}");
    let program = compiled.program.expect("compiles");
    let policy = |name: &str| {
        program
            .services
            .values()
            .find(|s| s.id.name == name)
            .and_then(|s| s.syscalls.clone())
            .expect("a policy")
    };
    let (a, b, c, d) = (policy("a"), policy("b"), policy("c"), policy("d"));
    assert!(
        std::sync::Arc::ptr_eq(&a.entries, &b.entries),
        "one resolution for one text"
    );
    assert!(
        !std::sync::Arc::ptr_eq(&c.entries, &d.entries),
        "findings: resolved again"
    );
    let read = |p: &warden::ir::SyscallPolicy| {
        let span = p.rule_span(p.entries.get("read").expect("read is allowed"));
        &text[span.range()]
    };
    assert_eq!((read(&a), read(&b)), ("read", "read"));
    assert_ne!(
        a.rule_span(&a.entries["read"]),
        b.rule_span(&b.entries["read"]),
        "each policy points at its own block"
    );
    // The same, end to end: `explain` points at b's block (line 12), and the warning about
    // `ptrace` is given for c's block (line 17) and d's (line 22).
    let tmp = tempfile::tempdir().expect("tmp");
    fs::write(tmp.path().join("p.warden"), &text).expect("writes");
    let (code, out, err) = run(
        &["explain", "-p", s(tmp.path()), "b syscall read"],
        tmp.path(),
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("p.warden:12:20"), "{out}");
    let (_, _, err) = run(
        &["check", s(tmp.path()), "--out", s(&tmp.path().join("out"))],
        tmp.path(),
    );
    let ptrace: Vec<&str> = err
        .lines()
        .filter(|l| l.contains("p.warden:"))
        .filter(|l| l.contains(":65"))
        .collect();
    assert_eq!(
        ptrace,
        ["   ┌─ p.warden:17:65", "   ┌─ p.warden:22:65"],
        "{err}"
    );
}
