//! A real Node.js 20 web service (`examples/seccomp/node-web/server.js`: HTTP server, file reads,
//! DNS through glibc to a stub resolver, outbound TCP, graceful SIGTERM) runs under the profile
//! warden generates for it (`web.warden`: the measured Node.js baselines, clone for threads only,
//! every other call killing the process), in a runc container on the host's root file system, as
//! containerd would run it. Ten runs of 1,000 requests each must see no false denial and a
//! graceful stop; the same program spawning a child process is killed.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "in tests a panic is a failed test"
)]

use crate::common;

use crate::common::seccomp::{CAPS, native, runtime_spec, tool};
use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn profile() -> Value {
    profile_of(&common::example("seccomp/node-web"))
}

fn profile_of(program: &std::path::Path) -> Value {
    let docs = common::compile_ok(&[program.to_path_buf()]);
    let doc = docs
        .iter()
        .find(|d| d.path == "seccomp/apps/node-web.json")
        .expect("the node-web profile");
    serde_json::from_str(&doc.text).unwrap()
}

pub(crate) fn node() -> String {
    let out = Command::new("node")
        .arg("--version")
        .output()
        .expect("`node` is missing: this kind of machine has Node.js 20 (/usr/bin/node)");
    let version = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert!(
        version.starts_with("v20."),
        "Node.js 20 is needed, found {version}"
    );
    version
}

/// The tests of this file take turns, and share the DNS stub (started once: its thread serves
/// until the process ends).
pub(crate) static DNS: std::sync::OnceLock<()> = std::sync::OnceLock::new();
pub(crate) static TURN: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// A DNS stub on 127.0.0.1:53 answering every A query with 10.1.2.3 (127.0.0.1 for a name under
/// `loopback.test`, where a test's own server listens) and every other with no record, as a
/// cluster's resolver would answer a service name.
pub(crate) fn dns_stub() -> std::thread::JoinHandle<()> {
    let socket = UdpSocket::bind("127.0.0.1:53")
        .expect("UDP 127.0.0.1:53 for the DNS stub (the suite runs as root)");
    std::thread::spawn(move || {
        let mut buf = [0u8; 512];
        while let Ok((n, from)) = socket.recv_from(&mut buf) {
            let q = &buf[..n];
            if n < 12 {
                continue;
            }
            // The question: labels up to the zero byte, then type and class.
            let mut end = 12;
            while end < n && q[end] != 0 {
                end += 1 + q[end] as usize;
            }
            let qend = end + 5;
            if qend > n {
                continue;
            }
            let qtype = u16::from_be_bytes([q[end + 1], q[end + 2]]);
            let mut r = Vec::with_capacity(n + 16);
            r.extend_from_slice(&q[..2]);
            r.extend_from_slice(&[0x81, 0x80, 0, 1]);
            r.extend_from_slice(&[0, u8::from(qtype == 1), 0, 0, 0, 0]);
            r.extend_from_slice(&q[12..qend]);
            if qtype == 1 {
                let here = q[12..=end].ends_with(b"\x08loopback\x04test\x00");
                let address = if here { [127, 0, 0, 1] } else { [10, 1, 2, 3] };
                r.extend_from_slice(&[0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 30, 0, 4]);
                r.extend_from_slice(&address);
            }
            let _ = socket.send_to(&r, from);
        }
    })
}

/// The upstream service server.js calls: answers every connection with `pong`.
fn upstream() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for s in l.incoming().flatten() {
            let mut s = s;
            let mut buf = [0u8; 64];
            let _ = s.read(&mut buf);
            let _ = s.write_all(b"pong\n");
        }
    });
    port
}

pub(crate) struct Container {
    id: String,
    child: Child,
    _bundle: tempfile::TempDir,
}

/// Starts server.js under `seccomp` in a runc container whose root holds the host's /usr and /etc
/// (read-only) and the example at /app, in the host's network namespace (so sysfs is the host's,
/// bound read-only), with /etc/resolv.conf pointing at the stub.
fn start(seccomp: &Value, port: u16, upstream: u16) -> Container {
    let app = common::example("seccomp/node-web");
    let env = [
        "PATH=/usr/bin:/bin".to_string(),
        format!("PORT={port}"),
        format!("UPSTREAM_PORT={upstream}"),
        "LOOKUP=svc.example.test".to_string(),
    ];
    start_app(
        seccomp,
        &App {
            dir: &app,
            args: &["/usr/bin/node", "/app/server.js"],
            cwd: "/",
            user: None,
            env: &env,
            mounts: &[],
        },
        port,
    )
}

/// A Node.js program to run in a container: its directory (at /app), command, working
/// directory, user (`None`: root), environment, and more read-only mounts (host path, path in
/// the container).
pub(crate) struct App<'a> {
    pub dir: &'a std::path::Path,
    pub args: &'a [&'a str],
    pub cwd: &'a str,
    pub user: Option<u32>,
    pub env: &'a [String],
    pub mounts: &'a [(std::path::PathBuf, &'a str)],
}

/// Starts `app` under `seccomp` as `start` does, and waits for its `listening` line on `port`.
pub(crate) fn start_app(seccomp: &Value, app: &App<'_>, port: u16) -> Container {
    let bundle = tempfile::tempdir().unwrap();
    let status = Command::new(tool("runc"))
        .args(["spec", "--bundle"])
        .arg(bundle.path())
        .status()
        .unwrap();
    assert!(status.success());
    let resolv = bundle.path().join("resolv.conf");
    std::fs::write(
        &resolv,
        "nameserver 127.0.0.1\noptions timeout:2 attempts:1\n",
    )
    .unwrap();
    let path = bundle.path().join("config.json");
    let mut config: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let root = bundle.path().join("rootfs");
    for dir in ["usr", "etc", "app", "tmp", "proc", "dev", "sys"] {
        std::fs::create_dir_all(root.join(dir)).unwrap();
    }
    for (_, to) in app.mounts {
        std::fs::create_dir_all(root.join(to.trim_start_matches('/'))).unwrap();
    }
    for (link, to) in [
        ("bin", "usr/bin"),
        ("lib", "usr/lib"),
        ("lib64", "usr/lib64"),
        ("sbin", "usr/sbin"),
    ] {
        std::os::unix::fs::symlink(to, root.join(link)).unwrap();
    }
    config["root"] = json!({"path": "rootfs", "readonly": true});
    config["process"]["terminal"] = json!(false);
    config["process"]["cwd"] = json!(app.cwd);
    config["process"]["args"] = json!(app.args);
    config["process"]["env"] = json!(app.env);
    if let Some(uid) = app.user {
        config["process"]["user"] = json!({"uid": uid, "gid": uid});
    }
    config["linux"]["seccomp"] = seccomp.clone();
    let namespaces: Vec<Value> = config["linux"]["namespaces"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["type"] != "network")
        .cloned()
        .collect();
    config["linux"]["namespaces"] = Value::Array(namespaces);
    let mut mounts: Vec<Value> = config["mounts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["destination"] != "/sys/fs/cgroup" && m["destination"] != "/sys")
        .cloned()
        .collect();
    let ro = |from: &std::path::Path, to: &str| json!({"destination": to, "type": "bind", "source": from, "options": ["rbind", "ro", "nosuid", "nodev"]});
    mounts.push(ro(std::path::Path::new("/sys"), "/sys"));
    mounts.push(ro(std::path::Path::new("/usr"), "/usr"));
    mounts.push(ro(std::path::Path::new("/etc"), "/etc"));
    mounts.push(ro(app.dir, "/app"));
    mounts.push(ro(&resolv, "/etc/resolv.conf"));
    for (from, to) in app.mounts {
        mounts.push(ro(from, to));
    }
    config["mounts"] = Value::Array(mounts);
    std::fs::write(&path, config.to_string()).unwrap();
    let id = format!("warden-node-{}-{port}", std::process::id());
    let mut child = Command::new(tool("runc"))
        .args(["run", "--bundle"])
        .arg(bundle.path())
        .arg(&id)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("runc runs");
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let first = lines.next().and_then(Result::ok).unwrap_or_default();
    if !first.starts_with("listening") {
        let status = child.wait().unwrap();
        let mut err = String::new();
        if let Some(mut e) = child.stderr.take() {
            let _ = e.read_to_string(&mut err);
        }
        let _ = Command::new(tool("runc"))
            .args(["delete", "-f", &id])
            .output();
        panic!(
            "{} did not start under its profile ({status}): {first:?}\n{err}",
            app.dir.display()
        );
    }
    // The rest of stdout (`graceful`) is read when the container ends.
    std::thread::spawn(move || {
        for l in lines.map_while(Result::ok) {
            if l == "graceful" {
                let _ = std::fs::write(format!("/tmp/warden-node-graceful-{port}"), "1");
            }
        }
    });
    Container {
        id,
        child,
        _bundle: bundle,
    }
}

/// A container the test started is removed when the test is done with it, passing or failing.
impl Drop for Container {
    fn drop(&mut self) {
        let _ = Command::new(tool("runc"))
            .args(["delete", "-f", &self.id])
            .output();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A loopback port nothing listens on.
pub(crate) fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// One HTTP/1.0 request on its own connection; the status and body.
pub(crate) fn get(port: u16, path: &str) -> Result<(u16, String), String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(s, "GET {path} HTTP/1.0\r\nHost: x\r\n\r\n").map_err(|e| e.to_string())?;
    let mut out = String::new();
    s.read_to_string(&mut out).map_err(|e| e.to_string())?;
    let status = out
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| format!("no response: {out:?}"))?;
    let body = out.split("\r\n\r\n").nth(1).unwrap_or("").to_string();
    Ok((status, body))
}

/// The container's exit code, waiting at most 20 s (`why` says what the wait was for); the
/// container is removed when `c` drops.
pub(crate) fn exit_code(mut c: Container, why: &str) -> i32 {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(s) = c.child.try_wait().unwrap() {
            return s.code().unwrap_or(-1);
        }
        assert!(Instant::now() < deadline, "{why}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

pub(crate) fn stop(c: Container) -> i32 {
    let _ = Command::new(tool("runc"))
        .args(["kill", &c.id, "TERM"])
        .status();
    exit_code(c, "the server did not stop on SIGTERM")
}

#[test]
fn the_web_service_runs_under_its_profile_and_cannot_spawn() {
    let _turn = TURN
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let version = node();
    let profile = profile();
    // How many system calls the profile lets run on x86_64.
    let table = warden::catalog::get()
        .table(warden::catalog::Arch::X86_64)
        .unwrap();
    let allowed: std::collections::BTreeSet<&str> = profile["syscalls"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["action"] == "SCMP_ACT_ALLOW")
        .flat_map(|r| {
            r["names"]
                .as_array()
                .unwrap()
                .iter()
                .map(|n| n.as_str().unwrap())
        })
        .filter(|n| table.contains_key(*n))
        .collect();
    assert_eq!(profile["defaultAction"], "SCMP_ACT_KILL_PROCESS");
    let seccomp = runtime_spec(&profile, native(), &CAPS, (6, 1));
    DNS.get_or_init(|| drop(dns_stub()));
    let up = upstream();
    let requests = serve(&seccomp, up);
    // The same program, asked to spawn a child process: clone without CLONE_THREAD kills it.
    let port = free_port();
    let c = start(&seccomp, port, up);
    let spawned = get(port, "/spawn");
    let code = exit_code(c, &format!("spawning was not stopped: {spawned:?}"));
    assert!(
        spawned.is_err() || spawned.as_ref().is_ok_and(|(s, _)| *s != 200),
        "{spawned:?}"
    );
    assert_eq!(code, 159, "the spawning server must die of SIGSYS");
    assert!(
        allowed.len() <= 65,
        "{} calls allowed: {allowed:?}",
        allowed.len()
    );
    println!(
        "node {version}: {} system calls allowed on x86_64; 10 runs, {requests} requests, no false denial, graceful SIGTERM each time; spawning killed (exit {code})",
        allowed.len()
    );
}

/// Ten runs of 1,000 requests to the four routes under `seccomp`, each ending with a graceful
/// SIGTERM; the requests served.
fn serve(seccomp: &Value, up: u16) -> usize {
    let paths = ["/", "/file", "/dns", "/upstream"];
    let mut requests = 0;
    for run in 0..10 {
        let port = free_port();
        let _ = std::fs::remove_file(format!("/tmp/warden-node-graceful-{port}"));
        let c = start(seccomp, port, up);
        for i in 0..1000 {
            let path = paths[i % paths.len()];
            let (status, body) =
                get(port, path).unwrap_or_else(|e| panic!("run {run}, request {i} {path}: {e}"));
            assert_eq!(status, 200, "run {run}, request {i} {path}: {body}");
            match path {
                "/file" => assert!(body.contains("hello from node-web")),
                "/dns" => assert_eq!(body, "10.1.2.3"),
                "/upstream" => assert_eq!(body, "pong"),
                _ => assert_eq!(body, "ok"),
            }
            requests += 1;
        }
        let code = stop(c);
        std::thread::sleep(Duration::from_millis(100));
        assert_eq!(
            code, 0,
            "run {run}: the server did not exit cleanly on SIGTERM"
        );
        // Removed as it is checked: a test leaves nothing behind in /tmp.
        assert!(
            std::fs::remove_file(format!("/tmp/warden-node-graceful-{port}")).is_ok(),
            "run {run}: no graceful stop"
        );
    }
    requests
}

/// How many system calls a profile lets run on x86_64.
pub(crate) fn allowed_on_x86_64(profile: &Value) -> std::collections::BTreeSet<String> {
    let table = warden::catalog::get()
        .table(warden::catalog::Arch::X86_64)
        .unwrap();
    profile["syscalls"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["action"] == "SCMP_ACT_ALLOW")
        .flat_map(|r| r["names"].as_array().unwrap().iter())
        .map(|n| n.as_str().unwrap().to_string())
        .filter(|n| table.contains_key(n.as_str()))
        .collect()
}

#[test]
fn the_web_service_runs_under_the_profile_warden_infers_from_its_code() {
    let _turn = TURN
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let version = node();
    let (code, block, err) = common::run(
        &[
            "infer",
            "node",
            "examples/seccomp/node-web",
            "--service",
            "node-web",
        ],
        &common::repo(),
    );
    assert_eq!(code, 0, "{err}");
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(
        tmp.path().join("web.warden"),
        format!("namespace apps {{ }}\nservice node-web in apps {{\n  pods app = \"node-web\"\n{block}}}\n"),
    )
    .unwrap();
    let inferred = profile_of(tmp.path());
    assert_eq!(inferred["defaultAction"], "SCMP_ACT_KILL_PROCESS");
    let (ours, theirs) = (allowed_on_x86_64(&inferred), allowed_on_x86_64(&profile()));
    let docker = 309.0;
    assert!(
        (ours.len() as f64) <= docker * 0.25,
        "{} calls: {ours:?}",
        ours.len()
    );
    let off = (ours.len() as f64 - theirs.len() as f64).abs() / theirs.len() as f64;
    assert!(
        off <= 0.10,
        "inferred {} vs written {}: more: {:?}, fewer: {:?}",
        ours.len(),
        theirs.len(),
        ours.difference(&theirs).collect::<Vec<_>>(),
        theirs.difference(&ours).collect::<Vec<_>>()
    );
    let seccomp = runtime_spec(&inferred, native(), &CAPS, (6, 1));
    DNS.get_or_init(|| drop(dns_stub()));
    let up = upstream();
    let requests = serve(&seccomp, up);
    // The code starts a process on /spawn: what it infers lets it.
    let port = free_port();
    let c = start(&seccomp, port, up);
    let spawned = get(port, "/spawn");
    assert_eq!(spawned.as_ref().map(|(s, _)| *s), Ok(200), "{spawned:?}");
    assert_eq!(
        stop(c),
        0,
        "the server did not stop gracefully after spawning"
    );
    let _ = std::fs::remove_file(format!("/tmp/warden-node-graceful-{port}"));
    println!(
        "node {version}, inferred: {} system calls on x86_64 (written by hand: {}); 10 runs, {requests} requests, no false denial; spawning allowed as the code asks",
        ours.len(),
        theirs.len()
    );
}
