//! Seccomp profiles loaded by a real runtime and enforced by the kernel: warden writes the profile
//! format kubelet's runtimes read (`archMap`, `includes`/`excludes`); this test turns it into the
//! OCI runtime spec's `linux.seccomp` the way containerd and CRI-O do (the host's architecture
//! and its companions, rules whose conditions on capabilities, architecture and kernel hold), and
//! runs busybox under it with runc. Every action kind and argument conditions are covered; `base
//! docker-default` with nothing changed is compared with moby's `default.json` for every system
//! call name of x86_64 and aarch64.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "in tests a panic is a failed test"
)]

use crate::common;

/// The native architectures whose every call Docker's profile is compared on.
const COMPARED_ARCHES: [(&str, warden::catalog::Arch); 2] = [
    ("SCMP_ARCH_X86_64", warden::catalog::Arch::X86_64),
    ("SCMP_ARCH_AARCH64", warden::catalog::Arch::Aarch64),
];

use crate::common::seccomp::{CAPS, native, runtime_spec, tool};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;
use warden::document::Target;

/// For each system call name, what a spec does with it: its default, or the set of its rules
/// (action, errno, conditions).
fn verdicts(spec: &Value, names: &BTreeSet<String>) -> BTreeMap<String, BTreeSet<String>> {
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for r in spec["syscalls"].as_array().unwrap() {
        let what = format!("{} {} {}", r["action"], r["errnoRet"], r["args"]);
        for n in r["names"].as_array().unwrap() {
            let n = n.as_str().unwrap();
            if names.contains(n) {
                out.entry(n.to_string()).or_default().insert(what.clone());
            }
        }
    }
    for n in names {
        out.entry(n.clone()).or_insert_with(|| {
            BTreeSet::from([format!(
                "default {} {}",
                spec["defaultAction"], spec["defaultErrnoRet"]
            )])
        });
    }
    out
}

fn compile(program: &str) -> BTreeMap<String, Value> {
    common::parsed_program(program, &[Target::Seccomp])
}

fn program(rules: &str) -> String {
    format!(
        "namespace t {{ }}\nservice probe in t {{\n  pods app = \"probe\"\n  syscalls {{\n{rules}\n  }}\n}}\n"
    )
}

#[test]
fn docker_default_unchanged_is_moby_default_json() {
    let ours = &compile(&program("    base docker-default"))["seccomp/t/probe.json"];
    let moby: Value = serde_json::from_str(
        &std::fs::read_to_string(common::corpora().join("seccomp/moby/default.json")).expect(
            "shared/corpora/seccomp/moby/default.json (the corpus lives beside the project)",
        ),
    )
    .unwrap();
    // warden's copy of the profile is the corpus's.
    let copy: Value = serde_json::from_str(
        &std::fs::read_to_string(
            common::repo().join("compiler/catalog/seccomp/docker-default.json"),
        )
        .unwrap(),
    )
    .unwrap();
    assert_eq!(
        copy, moby,
        "compiler/catalog/seccomp/docker-default.json differs from the corpus"
    );
    let catalog = warden::catalog::get();
    let mut compared = 0;
    for (native, arch) in COMPARED_ARCHES {
        let names: BTreeSet<String> = catalog.table(arch).unwrap().keys().cloned().collect();
        let all_caps: Vec<String> = warden::catalog::pod_spec::CAPABILITIES
            .iter()
            .map(|c| format!("CAP_{c}"))
            .collect();
        let all_caps: Vec<&str> = all_caps.iter().map(String::as_str).collect();
        for caps in [&CAPS[..], &all_caps[..]] {
            for kernel in [(4, 4), (6, 1)] {
                let a = runtime_spec(ours, native, caps, kernel);
                let b = runtime_spec(&moby, native, caps, kernel);
                assert_eq!(a["architectures"], b["architectures"]);
                assert_eq!(
                    (&a["defaultAction"], &a["defaultErrnoRet"]),
                    (&b["defaultAction"], &b["defaultErrnoRet"])
                );
                let (va, vb) = (verdicts(&a, &names), verdicts(&b, &names));
                for n in &names {
                    assert_eq!(
                        va[n],
                        vb[n],
                        "{native} {n} caps {} kernel {kernel:?}",
                        caps.len()
                    );
                    compared += 1;
                }
            }
        }
    }
    println!(
        "base docker-default: {compared} (architecture, capabilities, kernel, name) verdicts equal to moby's default.json"
    );
}

/// A bundle for runc: a rootfs with a static busybox and its applets, and a config running
/// `sh -c SCRIPT` under `seccomp`.
struct Bundle {
    dir: tempfile::TempDir,
}

impl Bundle {
    fn new() -> Bundle {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("rootfs");
        std::fs::create_dir_all(root.join("bin")).unwrap();
        std::fs::create_dir_all(root.join("tmp")).unwrap();
        let busybox = tool("busybox");
        let out = Command::new("file").arg("-L").arg(&busybox).output();
        if let Ok(out) = out {
            let text = String::from_utf8_lossy(&out.stdout);
            assert!(
                !text.contains("dynamically linked"),
                "{} is not static: install busybox-static",
                busybox.display()
            );
        }
        std::fs::copy(&busybox, root.join("bin/busybox")).unwrap();
        for applet in [
            "sh", "echo", "mkdir", "rmdir", "uname", "sync", "renice", "nice", "true", "cat",
        ] {
            std::os::unix::fs::symlink("busybox", root.join("bin").join(applet)).unwrap();
        }
        let status = Command::new(tool("runc"))
            .args(["spec", "--bundle"])
            .arg(dir.path())
            .status()
            .expect("runc spec");
        assert!(status.success());
        Bundle { dir }
    }

    /// Runs `script` under `seccomp` (an OCI `linux.seccomp`); its stdout and stderr.
    fn run(&self, seccomp: &Value, script: &str) -> (i32, String) {
        let path = self.dir.path().join("config.json");
        let mut config: Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        config["process"]["terminal"] = json!(false);
        config["process"]["args"] = json!(["/bin/sh", "-c", script]);
        config["root"]["readonly"] = json!(false);
        config["linux"]["seccomp"] = seccomp.clone();
        std::fs::write(&path, config.to_string()).unwrap();
        let id = format!(
            "warden-{}-{}",
            std::process::id(),
            self.dir.path().file_name().unwrap().to_string_lossy()
        );
        let out = Command::new("timeout")
            .arg("60")
            .arg(tool("runc"))
            .args(["run", "--bundle"])
            .arg(self.dir.path())
            .arg(&id)
            .output()
            .expect("runc runs");
        let _ = Command::new(tool("runc"))
            .args(["delete", "-f", &id])
            .output();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.code().unwrap_or(-1), text)
    }
}

#[test]
fn runc_enforces_every_action_and_condition() {
    let rules = "    base docker-default
    errno EACCES mkdir, mkdirat
    kill-process clock_nanosleep, nanosleep
    kill-thread syncfs
    log sync
    trace rmdir, unlinkat
    allow setpriority if arg0 == 0";
    let profile = &compile(&program(rules))["seccomp/t/probe.json"];
    let spec = runtime_spec(profile, native(), &CAPS, (6, 1));
    let bundle = Bundle::new();
    // (script, what its output must contain)
    // Each probe runs as a process of its own (`exec` in a subshell): busybox's shell runs some
    // applets in-process, and a killed shell would say nothing.
    let cases: &[(&str, &str)] = &[
        ("echo hello", "hello"),
        // errno with its name: EACCES.
        (
            "(exec busybox mkdir /tmp/x); echo rc=$?",
            "Permission denied",
        ),
        // kill-process: the process dies of SIGSYS (128 + 31).
        ("(exec busybox sleep 0.01); echo rc=$?", "rc=159"),
        // kill-thread: a one-thread process dies of it the same way.
        ("(exec busybox sync -f /tmp); echo rc=$?", "rc=159"),
        // log: allowed (and recorded by the kernel's audit log).
        ("(exec busybox sync); echo rc=$?", "rc=0"),
        // trace with no tracer attached: the call fails with ENOSYS.
        (
            "(exec busybox rmdir /tmp); echo rc=$?",
            "Function not implemented",
        ),
        // a condition that holds: setpriority(PRIO_PROCESS, …) is allowed …
        (
            "(exec busybox renice -n 1 -p $$) >/dev/null; echo rc=$?",
            "rc=0",
        ),
        // … one that does not: setpriority(PRIO_PGRP, …) gets the default, EPERM.
        (
            "(exec busybox renice -n 1 -g $$); echo rc=$?",
            "Operation not permitted",
        ),
    ];

    let mut failures = Vec::new();
    for (script, want) in cases {
        let (code, out) = bundle.run(&spec, script);
        if !out.contains(want) {
            failures.push(format!(
                "`{script}`: want `{want}`, got exit {code}:\n{out}"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    println!(
        "runc {} : {} cases under one profile, each action enforced by the kernel",
        native(),
        cases.len()
    );
}

/// The operator's form of `base docker-default` (target `spo`) resolves Docker's conditional
/// rules for containerd's default capabilities: for those capabilities, on a current kernel, it
/// gives moby's verdict for every call of both architectures.
#[test]
fn spo_docker_default_is_moby_default_json_for_default_capabilities() {
    let mut sources = warden::span::SourceMap::new();
    sources.add("p.warden".to_string(), program("    base docker-default"));
    let c = warden::compile(sources, &[Target::Spo]);
    let docs = c.documents.expect("compiles");
    let doc = docs.iter().find(|d| d.path == "spo/t/probe.yaml").unwrap();
    let spo: Value = serde_yaml::from_str(&doc.text).unwrap();
    let spec = &spo["spec"];
    // The operator hands the runtime its rules as they are.
    let ours = json!({
        "defaultAction": spec["defaultAction"],
        "defaultErrnoRet": Value::Null,
        "syscalls": spec["syscalls"].as_array().unwrap().iter().map(|r| {
            let mut r = r.clone();
            if r["errnoRet"].is_null() { r.as_object_mut().unwrap().remove("errnoRet"); }
            r
        }).collect::<Vec<_>>(),
    });
    let moby: Value = serde_json::from_str(
        &std::fs::read_to_string(common::corpora().join("seccomp/moby/default.json")).unwrap(),
    )
    .unwrap();
    let default_caps = [
        "CAP_AUDIT_WRITE",
        "CAP_CHOWN",
        "CAP_DAC_OVERRIDE",
        "CAP_FOWNER",
        "CAP_FSETID",
        "CAP_KILL",
        "CAP_MKNOD",
        "CAP_NET_BIND_SERVICE",
        "CAP_NET_RAW",
        "CAP_SETFCAP",
        "CAP_SETGID",
        "CAP_SETPCAP",
        "CAP_SETUID",
        "CAP_SYS_CHROOT",
    ];
    let catalog = warden::catalog::get();
    let mut compared = 0;
    for (native, arch) in COMPARED_ARCHES {
        let names: BTreeSet<String> = catalog.table(arch).unwrap().keys().cloned().collect();
        let theirs = runtime_spec(&moby, native, &default_caps, (6, 1));
        let (va, vb) = (verdicts(&ours, &names), verdicts(&theirs, &names));
        for n in &names {
            // The operator writes no defaultErrnoRet: its default EPERM is moby's errnoRet 1.
            let a: BTreeSet<String> = va[n]
                .iter()
                .map(|v| {
                    v.replace(
                        "default \"SCMP_ACT_ERRNO\" null",
                        "default \"SCMP_ACT_ERRNO\" 1",
                    )
                })
                .collect();
            assert_eq!(a, vb[n], "{native} {n}");
            compared += 1;
        }
    }
    println!(
        "spo base docker-default: {compared} verdicts equal to moby's for containerd's default capabilities"
    );
}

/// A seccomp agent: takes the listener descriptor runc hands over on `SOCKET`, then answers every
/// notified call with errno 77 (EBADFD) until the descriptor closes.
const AGENT: &str = r#"
import array, fcntl, os, socket, struct, sys
RECV, SEND = 0xC0502100, 0xC0182101  # SECCOMP_IOCTL_NOTIF_RECV / _SEND
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(sys.argv[1]); s.listen(1)
print("ready", flush=True)
conn, _ = s.accept()
msg, fds, _, _ = socket.recv_fds(conn, 65536, 4)
fd = fds[0]
answered = 0
while True:
    buf = bytearray(80)
    try:
        fcntl.ioctl(fd, RECV, buf, True)
    except OSError:
        break
    (nid,) = struct.unpack_from("Q", buf, 0)
    nr = struct.unpack_from("i", buf, 16)[0]
    resp = bytearray(struct.pack("QqiI", nid, 0, -77, 0))
    try:
        fcntl.ioctl(fd, SEND, resp, True)
        answered += 1
        print(f"answered {nr}", flush=True)
    except OSError:
        pass
"#;

/// `notify`: the kernel hands the call to a user-space agent, whose answer the process gets.
#[test]
fn runc_hands_notified_calls_to_the_agent() {
    let profile = &compile(&program(
        "    base docker-default\n    notify mkdir, mkdirat",
    ))["seccomp/t/probe.json"];
    let mut spec = runtime_spec(profile, native(), &CAPS, (6, 1));
    let bundle = Bundle::new();
    let socket = bundle.dir.path().join("agent.sock");
    spec["listenerPath"] = json!(socket);
    let mut agent = Command::new("python3")
        .arg("-c")
        .arg(AGENT)
        .arg(&socket)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("python3 runs the agent");
    let mut out = std::io::BufReader::new(agent.stdout.take().unwrap());
    let mut line = String::new();
    std::io::BufRead::read_line(&mut out, &mut line).unwrap();
    assert_eq!(line.trim(), "ready");
    let (_, text) = bundle.run(&spec, "(exec busybox mkdir /tmp/n); echo rc=$?");
    let _ = agent.kill();
    let mut rest = String::new();
    let _ = std::io::Read::read_to_string(&mut out, &mut rest);
    let _ = agent.wait();
    // EBADFD, which only the agent says.
    assert!(
        text.contains("File descriptor in bad state"),
        "{text}\nagent: {rest}"
    );
    assert!(rest.contains("answered"), "the agent saw no call: {rest}");
}
