//! Node.js services built on real npm packages (`examples/node/*`: Express, Fastify with zlib,
//! gRPC on @grpc/grpc-js, outbound HTTPS with axios; `node_modules` installed by `.ci/test` from
//! each one's lock file) run under the seccomp profile `warden infer dockerfile` reads from their
//! code, with `kill-process` for every other call, in runc containers as containerd would run
//! them: ten runs of each service's own workload (`load.js`, 1,000 requests) with a graceful
//! SIGTERM each, no call denied; Express's route that starts a process through a module named at
//! run time is killed by SIGSYS. Each profile allows at most a quarter of Docker's 309 calls.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "in tests a panic is a failed test"
)]

use crate::common;
use crate::common::seccomp::{CAPS, native, runtime_spec};
use crate::seccomp_node::{
    App, Container, DNS, TURN, allowed_on_x86_64, dns_stub, exit_code, free_port, get, node,
    start_app, stop,
};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// Docker's default profile allows 309 calls on x86_64; an inferred one at most a quarter.
const MOST: usize = 309 / 4;
const RUNS: usize = 10;
const REQUESTS: usize = 1000;

/// What a service needs beyond its directory: environment in the container and for its
/// workload, and files to mount.
#[derive(Default)]
struct Needs {
    env: Vec<String>,
    load_env: Vec<(String, String)>,
    mounts: Vec<(PathBuf, &'static str)>,
}

/// The service's program as `warden infer dockerfile` drafts it now, which must be the one the
/// example holds; its profile and how many calls it allows on x86_64.
fn inferred(name: &str) -> (Value, usize) {
    let dir = format!("examples/node/{name}");
    assert!(
        common::repo().join(&dir).join("node_modules").is_dir(),
        "{dir}/node_modules is missing: .ci/test installs it (npm ci in {dir})"
    );
    let (code, program, err) = common::run(
        &[
            "infer",
            "dockerfile",
            &format!("{dir}/Dockerfile"),
            "--context",
            &dir,
        ],
        &common::repo(),
    );
    assert_eq!(code, 0, "{err}");
    let committed =
        std::fs::read_to_string(common::repo().join(&dir).join(format!("{name}.warden"))).unwrap();
    assert_eq!(
        program, committed,
        "{dir}/{name}.warden is not what warden infers from the code now; remake it with \
         `warden infer dockerfile {dir}/Dockerfile --context {dir} > {dir}/{name}.warden`"
    );
    let docs = common::compile_ok(&[common::repo().join(&dir)]);
    let doc = docs
        .iter()
        .find(|d| d.path == format!("seccomp/default/{name}.json"))
        .expect("the service's profile");
    let profile: Value = serde_json::from_str(&doc.text).unwrap();
    assert_eq!(profile["defaultAction"], "SCMP_ACT_KILL_PROCESS");
    let allowed = allowed_on_x86_64(&profile);
    assert!(
        allowed.len() <= MOST,
        "{name}: {} calls allowed on x86_64, more than {MOST}: {allowed:?}",
        allowed.len()
    );
    (profile, allowed.len())
}

/// Starts the service as its Dockerfile does (`node server.js` in /app, as `node`, uid 1000).
fn start(name: &str, seccomp: &Value, port: u16, needs: &Needs) -> Container {
    let dir = common::repo().join("examples/node").join(name);
    let mut env = vec!["PATH=/usr/bin:/bin".to_string(), format!("PORT={port}")];
    env.extend(needs.env.iter().cloned());
    start_app(
        seccomp,
        &App {
            dir: &dir,
            args: &["/usr/bin/node", "server.js"],
            cwd: "/app",
            user: Some(1000),
            env: &env,
            mounts: &needs.mounts,
        },
        port,
    )
}

/// Ten runs of the service's workload, each ending with a graceful SIGTERM; the requests served.
fn serve(name: &str, seccomp: &Value, needs: &Needs) -> usize {
    let load = common::repo()
        .join("examples/node")
        .join(name)
        .join("load.js");
    let mut served = 0;
    for run in 0..RUNS {
        let port = free_port();
        let graceful = format!("/tmp/warden-node-graceful-{port}");
        let _ = std::fs::remove_file(&graceful);
        let c = start(name, seccomp, port, needs);
        let out = Command::new("node")
            .arg(&load)
            .arg(port.to_string())
            .arg(REQUESTS.to_string())
            .envs(needs.load_env.iter().cloned())
            .output()
            .expect("node runs the workload");
        let said = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && said.trim() == format!("ok {REQUESTS}"),
            "{name}, run {run}: the workload failed under the profile: {said}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        served += REQUESTS;
        let code = stop(c);
        std::thread::sleep(Duration::from_millis(100));
        assert_eq!(code, 0, "{name}, run {run}: no clean exit on SIGTERM");
        // Removed as it is checked: a test leaves nothing behind in /tmp.
        assert!(
            std::fs::remove_file(&graceful).is_ok(),
            "{name}, run {run}: no graceful stop"
        );
    }
    served
}

fn prove(name: &str, needs: &Needs) -> (Value, usize) {
    let _turn = TURN
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let version = node();
    let (profile, calls) = inferred(name);
    let seccomp = runtime_spec(&profile, native(), &CAPS, (6, 1));
    DNS.get_or_init(|| drop(dns_stub()));
    let served = serve(name, &seccomp, needs);
    println!(
        "{name} (node {version}): {calls} system calls allowed on x86_64 of Docker's 309; {RUNS} runs, {served} requests, no call denied, graceful SIGTERM each time"
    );
    (seccomp, calls)
}

#[test]
fn express_runs_under_the_profile_inferred_from_its_code_and_cannot_start_a_process() {
    let needs = Needs::default();
    let (seccomp, _) = prove("express-api", &needs);
    let _turn = TURN
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    // The route left in on purpose starts a process through a module config.json names: not
    // counted (W1501), so the kernel kills the service when it tries.
    let port = free_port();
    let c = start("express-api", &seccomp, port, &needs);
    let exported = get(port, "/export");
    let code = exit_code(
        c,
        &format!("starting a process was not stopped: {exported:?}"),
    );
    assert!(
        exported.is_err() || exported.as_ref().is_ok_and(|(s, _)| *s != 200),
        "{exported:?}"
    );
    assert_eq!(code, 159, "the service must die of SIGSYS");
    let _ = std::fs::remove_file(format!("/tmp/warden-node-graceful-{port}"));
}

#[test]
fn fastify_serving_compressed_files_runs_under_the_profile_inferred_from_its_code() {
    prove("fastify-files", &Needs::default());
}

#[test]
fn a_grpc_service_runs_under_the_profile_inferred_from_its_code() {
    prove("grpc-kv", &Needs::default());
}

#[test]
fn outbound_https_and_dns_run_under_the_profile_inferred_from_its_code() {
    // The quotes server's certificate, for a name the DNS stub answers with 127.0.0.1.
    let certs = tempfile::tempdir().unwrap();
    let (key, cert) = (certs.path().join("key.pem"), certs.path().join("cert.pem"));
    let out = Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
        ])
        .args(["-subj", "/CN=quotes.loopback.test"])
        .args(["-addext", "subjectAltName=DNS:quotes.loopback.test"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("`openssl` makes the test's certificate");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Readable by the service's user.
    for f in [&key, &cert] {
        std::fs::set_permissions(f, std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
    }
    std::fs::set_permissions(
        certs.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let quotes = free_port();
    let needs = Needs {
        env: vec![
            "CA_FILE=/certs/cert.pem".into(),
            "QUOTES_HOST=quotes.loopback.test".into(),
            format!("QUOTES_PORT={quotes}"),
        ],
        load_env: vec![
            ("QUOTES_PORT".into(), quotes.to_string()),
            ("KEY_FILE".into(), path(&key)),
            ("CERT_FILE".into(), path(&cert)),
        ],
        mounts: vec![(certs.path().to_path_buf(), "/certs")],
    };
    prove("outbound-https", &needs);
}

fn path(p: &Path) -> String {
    p.display().to_string()
}
