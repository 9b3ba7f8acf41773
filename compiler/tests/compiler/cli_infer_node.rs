//! `warden infer node` through the binary on packages of `tests/node/`: `app` (an `exports` map
//! with `import` and `require` entries, a dependency whose `node` condition is loaded and whose
//! browser file and an unused package are not, aliases, two-level destructuring, `fs/promises`)
//! gives a reviewed block that compiles without a warning and is laid out as `warden fmt` lays it
//! out; `dynamic` widens with W1501 and W1502 at their lines, and `--strict` refuses it; `addon`
//! falls back to Docker's default profile (W1503); broken packages are errors with a place.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "in tests a panic is a failed test"
)]

use crate::common::{self, run};
use crate::snapshots::settings;
use std::path::Path;

fn infer(dir: &str, extra: &[&str]) -> (i32, String, String) {
    let mut args = vec!["infer", "node", dir, "--color", "never"];
    args.extend_from_slice(extra);
    run(&args, &common::repo().join("compiler/tests/node"))
}

/// `block` in a service of a program in `dir`: `warden check` and `warden fmt --check` on it.
fn compiles_cleanly(dir: &Path, block: &str) {
    std::fs::write(
        dir.join("svc.warden"),
        format!("namespace n {{ }}\n\nservice s in n {{\n  pods app = \"s\"\n{block}}}\n"),
    )
    .unwrap();
    let p = dir.to_string_lossy();
    let (code, _, err) = run(&["check", &p, "--deny-warnings", "--color", "never"], dir);
    assert_eq!(code, 0, "{err}\n{block}");
    let (code, _, err) = run(&["fmt", "--check", &p], dir);
    assert_eq!(code, 0, "{err}\n{block}");
}

#[test]
fn a_package_gives_the_block_of_every_file_node_would_load() {
    let (code, block, err) = infer("app", &["--service", "app"]);
    assert_eq!(code, 0, "{err}");
    settings().bind(|| insta::assert_snapshot!("infer-node-app.block", block));
    // The `node` condition's file, not the browser one; the unused package not at all.
    assert!(
        block.contains("dns.resolve4 (node_modules/dep/lib/node.js:3)"),
        "{block}"
    );
    assert!(!block.contains("child_process"), "{block}");
    assert!(
        block.contains("allow clone if arg0 has CLONE_THREAD"),
        "{block}"
    );
    // Two levels of destructuring, an alias of an alias, `fs/promises`.
    assert!(block.contains("fs.unlink (src/index.cjs:7)"), "{block}");
    assert!(block.contains("fs.mkdir (src/index.cjs:6)"), "{block}");
    assert!(block.contains("fs.rename (src/store.js:4)"), "{block}");
    assert!(err.contains("inferred from 4 file(s)"), "{err}");
    let tmp = tempfile::tempdir().unwrap();
    compiles_cleanly(tmp.path(), &block);
    // The same package read again: the same bytes.
    assert_eq!(infer("app", &["--service", "app"]).1, block);
}

#[test]
fn what_cannot_be_read_widens_the_block_or_is_refused() {
    let (code, block, err) = infer("dynamic", &[]);
    assert_eq!(code, 0, "{err}");
    // A name computed at run time: every installed package is read as `require(name)` would
    // load it (plugin-a's main, not its test), and a computed path reads the package's own
    // files (reporters/udp.js); a built-in named at run time (createRequire's
    // `child_process`) is not counted, so starting a process stays killed.
    assert!(err.contains("warning[W1501]"), "{err}");
    assert!(err.contains("main.js:3:16"), "{err}");
    assert!(err.contains("main.js:7:14"), "{err}");
    assert!(
        err.contains("main.js:10:1") && err.contains("a file is loaded by a path computed"),
        "{err}"
    );
    assert!(
        block.contains("dgram.createSocket (reporters/udp.js:2)"),
        "{block}"
    );
    assert!(block.contains("inotify_add_watch"), "{block}");
    assert!(!block.contains("wait4"), "{block}");
    assert!(
        block.contains("allow clone if arg0 has CLONE_THREAD"),
        "{block}"
    );
    assert!(err.contains("inferred from 5 file(s)"), "{err}");
    // Code made by `new Function` runs in the global scope: `process` and `fetch`.
    assert!(err.contains("warning[W1502]"), "{err}");
    assert!(err.contains("main.js:4:13"), "{err}");
    assert!(block.contains("process as a whole (main.js:4)"), "{block}");
    assert!(
        block.contains("recvfrom, sendmmsg // http.request (main.js:4)"),
        "{block}"
    );
    // A module leaving its file counts the names the code reads: `rename`, not `unlink`.
    assert!(
        block.contains("renameat2 // fs passed on, used by the names read (store.js:2)"),
        "{block}"
    );
    assert!(!block.contains("unlink"), "{block}");
    // A binding named literally is its module, not native code.
    assert!(
        block.contains("net as a whole (node_modules/plugin-b/index.js:2)"),
        "{block}"
    );
    assert!(!err.contains("W1503"), "{err}");
    let tmp = tempfile::tempdir().unwrap();
    compiles_cleanly(tmp.path(), &block);

    let (code, out, err) = infer("dynamic", &["--strict"]);
    assert_eq!(code, 1, "{err}");
    assert!(out.is_empty(), "{out}");
    assert!(err.contains("error[W1501]"), "{err}");

    let (code, block, err) = infer("addon", &[]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("warning[W1503]: native addon"), "{err}");
    assert!(block.contains("base docker-default"), "{block}");
    compiles_cleanly(tmp.path(), &block);
}

/// What only a computed name loads is read with care: a file that does not parse is said and
/// left out (Node would throw loading it), a binding named at run time is native code, and
/// `process.getBuiltinModule('x')` is `require('x')`.
#[test]
fn what_a_computed_name_may_load_is_read_as_loaded() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let p = dir.to_string_lossy().to_string();
    std::fs::write(dir.join("package.json"), r#"{"main": "a.js"}"#).unwrap();
    std::fs::write(
        dir.join("a.js"),
        "require(__dirname + '/' + process.argv[2]);\nprocess.getBuiltinModule('node:fs').unlink('/x', () => {});\n",
    )
    .unwrap();
    std::fs::write(dir.join("broken.js"), "const x = ;\n").unwrap();
    let (code, block, err) = run(&["infer", "node", &p, "--color", "never"], dir);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("warning[W1508]"), "{err}");
    assert!(err.contains("broken.js:1:11"), "{err}");
    assert!(block.contains("fs.unlink (a.js:2)"), "{block}");
    // A package read because a name is computed, which computes a path of its own: its files
    // are read in turn.
    let q = dir.join("node_modules/q");
    std::fs::create_dir_all(q.join("parts")).unwrap();
    std::fs::write(q.join("package.json"), r#"{"main": "main.js"}"#).unwrap();
    std::fs::write(
        q.join("main.js"),
        "require('./parts/' + process.env.PART);\n",
    )
    .unwrap();
    std::fs::write(
        q.join("parts/udp.js"),
        "require('dgram').createSocket('udp4');\n",
    )
    .unwrap();
    let (code, block, err) = run(&["infer", "node", &p, "--color", "never"], dir);
    assert_eq!(code, 0, "{err}");
    assert!(
        block.contains("dgram.createSocket (node_modules/q/parts/udp.js:1)"),
        "{block}"
    );
    std::fs::write(
        dir.join("broken.js"),
        "module.exports = process.binding(name);\n",
    )
    .unwrap();
    let (code, block, err) = run(&["infer", "node", &p, "--color", "never"], dir);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("warning[W1503]"), "{err}");
    assert!(block.contains("base docker-default"), "{block}");
}

#[test]
fn a_broken_package_is_an_error_with_its_place() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let p = dir.to_string_lossy().to_string();
    let (code, out, err) = run(&["infer", "node", &p, "--color", "never"], dir);
    assert_eq!((code, out.as_str()), (1, ""), "{err}");
    assert!(err.contains("error[E1504]"), "{err}");
    std::fs::write(dir.join("package.json"), "{ not json").unwrap();
    let (code, _, err) = run(&["infer", "node", &p, "--color", "never"], dir);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("is not JSON"), "{err}");
    std::fs::write(dir.join("package.json"), r#"{"main": "a.js"}"#).unwrap();
    std::fs::write(dir.join("a.js"), "require('./b');\n").unwrap();
    std::fs::write(dir.join("b.js"), "const fs = require('fs');\nconst x = ;\n").unwrap();
    let (code, _, err) = run(&["infer", "node", &p, "--color", "never"], dir);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("error[E1505]"), "{err}");
    assert!(err.contains("b.js:2:11"), "{err}");
    // An entry given on the command line instead of package.json's.
    std::fs::write(dir.join("b.js"), "require('missing-dep');\n").unwrap();
    let (code, block, err) = run(
        &["infer", "node", &p, "--entry", "b.js", "--color", "never"],
        dir,
    );
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("warning[W1506]: `missing-dep` does not resolve"),
        "{err}"
    );
    assert!(block.contains("entry b.js"), "{block}");
}

#[test]
fn deeply_nested_code_is_read_without_overflowing_the_stack() {
    // Each of the parser's and the visitor's recursions, 100,000 levels deep: read (or refused
    // as a syntax error), never a crash.
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    std::fs::write(dir.join("package.json"), r#"{"main": "a.js"}"#).unwrap();
    let n = 100_000;
    let shapes = [
        format!("{}1{}", "(".repeat(n), ")".repeat(n)),
        format!("{}{}", "[".repeat(n), "]".repeat(n)),
        format!("{}x{}", "f(".repeat(n), ")".repeat(n)),
        format!("{}1", "1+".repeat(n)),
        format!("{}1", "a=>".repeat(n)),
        format!("{}x", "!".repeat(n)),
        format!("{}z", "x?y:".repeat(n)),
        format!("{}b", "fs.".repeat(n)),
    ];
    let p = dir.to_string_lossy().to_string();
    for shape in shapes {
        std::fs::write(
            dir.join("a.js"),
            format!("const fs = require('fs');\nconst x = {shape};\n"),
        )
        .unwrap();
        let (code, _, err) = run(&["infer", "node", &p, "--color", "never"], dir);
        assert!(
            code == 0 || err.contains("error[E1505]"),
            "{}: {err}",
            &shape[..8]
        );
        assert!(!err.contains("overflow"), "{err}");
    }
}

#[test]
fn a_dockerfile_gives_a_service_with_the_block_of_the_script_it_runs() {
    let (code, program, err) = run(
        &[
            "infer",
            "dockerfile",
            "docker/Dockerfile",
            "--color",
            "never",
        ],
        &common::repo().join("compiler/tests/node"),
    );
    assert_eq!(code, 0, "{err}");
    // The final stage only; its continuation lines, ENTRYPOINT and CMD joined, the script found
    // through WORKDIR and `COPY src/ ./lib/`.
    assert!(program.contains("service docker in default {"), "{program}");
    assert!(program.contains("port tcp-3000 3000/tcp"), "{program}");
    assert!(program.contains("port tcp-9229 9229/tcp"), "{program}");
    assert!(
        program.contains("USER node (docker/Dockerfile:15)"),
        "{program}"
    );
    assert!(
        program.contains("node lib/main.js (docker/Dockerfile:16) runs node"),
        "{program}"
    );
    assert!(
        program.contains("http.createServer (src/main.js:4)"),
        "{program}"
    );
    assert!(!program.contains("npm"), "{program}");
    // The health check runs node in the container: its script is read with the service's.
    assert!(
        program.contains("(entry src/main.js, src/health.js)"),
        "{program}"
    );
    assert!(
        program.contains("net.connect (src/health.js:2)"),
        "{program}"
    );
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("svc.warden"), &program).unwrap();
    let p = tmp.path().to_string_lossy();
    let (code, _, err) = run(&["check", &p, "--deny-warnings"], tmp.path());
    assert_eq!(code, 0, "{err}\n{program}");
    let (code, _, err) = run(&["fmt", "--check", &p], tmp.path());
    assert_eq!(code, 0, "{err}\n{program}");

    // Another runtime: the service without a block, and why.
    let (code, program, err) = run(
        &[
            "infer",
            "dockerfile",
            "docker/Dockerfile.python",
            "--service",
            "web",
            "--color",
            "never",
        ],
        &common::repo().join("compiler/tests/node"),
    );
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("warning[W1507]"), "{err}");
    assert!(program.contains("port tcp-8000 8000/tcp"), "{program}");
    assert!(program.contains("runs as root"), "{program}");
    assert!(!program.contains("syscalls"), "{program}");
    assert!(!program.contains("HEALTHCHECK runs"), "{program}");

    // A health check by another program: said, since the block has no calls for it.
    let (code, program, err) = run(
        &[
            "infer",
            "dockerfile",
            "docker/Dockerfile.wget",
            "--color",
            "never",
        ],
        &common::repo().join("compiler/tests/node"),
    );
    assert_eq!(code, 0, "{err}");
    assert!(
        program.contains("HEALTHCHECK runs `wget -q -O- http://localhost:3000/` (docker/Dockerfile.wget:7): not node"),
        "{program}"
    );
    assert!(program.contains("syscalls {"), "{program}");
}

#[test]
fn names_from_the_code_stay_inside_their_comments() {
    // A member name with a line break, in the evidence of a comment: still one comment line.
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    std::fs::write(dir.join("package.json"), r#"{"main": "a.js"}"#).unwrap();
    std::fs::write(
        dir.join("a.js"),
        "const net = require('net');\nnet['connect\\n    allow ptrace //'](1);\n",
    )
    .unwrap();
    let p = dir.to_string_lossy().to_string();
    let (code, block, err) = run(&["infer", "node", &p, "--color", "never"], dir);
    assert_eq!(code, 0, "{err}");
    assert!(
        !block
            .lines()
            .any(|l| l.trim_start().starts_with("allow ptrace")),
        "{block}"
    );
    compiles_cleanly(dir, &block);

    // A Dockerfile whose path holds a line break, running node and a health check by another
    // program: the path, in both comments, stays in them.
    let odd = dir.join("ctx\n  allow ptrace //");
    std::fs::create_dir_all(&odd).unwrap();
    std::fs::copy(dir.join("a.js"), odd.join("a.js")).unwrap();
    std::fs::write(odd.join("package.json"), r#"{"main": "a.js"}"#).unwrap();
    std::fs::write(
        odd.join("Dockerfile"),
        "FROM node:20\nCOPY . .\nHEALTHCHECK CMD curl -f http://localhost/\nCMD [\"node\", \"a.js\"]\n",
    )
    .unwrap();
    let file = odd.join("Dockerfile").to_string_lossy().to_string();
    let (code, program, err) = run(&["infer", "dockerfile", &file, "--color", "never"], dir);
    assert_eq!(code, 0, "{err}");
    assert!(program.contains("HEALTHCHECK runs `curl"), "{program}");
    assert!(
        !program
            .lines()
            .any(|l| l.trim_start().starts_with("allow ptrace")),
        "{program}"
    );
    let check = tempfile::tempdir().unwrap();
    std::fs::write(check.path().join("svc.warden"), &program).unwrap();
    let c = check.path().to_string_lossy().to_string();
    let (code, _, err) = run(&["check", &c, "--deny-warnings"], check.path());
    assert_eq!(code, 0, "{err}\n{program}");
}

/// A client given a literal IP address resolves no name; given a name (or nothing, which is
/// `localhost`) it asks glibc and the resolver, whose calls the block then allows.
#[test]
fn connecting_to_an_address_resolves_no_name() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let p = dir.to_string_lossy().to_string();
    std::fs::write(dir.join("package.json"), r#"{"main": "a.js"}"#).unwrap();
    let block_of = |code: &str| {
        std::fs::write(dir.join("a.js"), code).unwrap();
        let (status, block, err) = run(&["infer", "node", &p, "--color", "never"], dir);
        assert_eq!(status, 0, "{err}");
        block
    };
    for by_address in [
        "require('net').connect(5432, '10.0.0.7');",
        "require('net').connect({ port: 5432, host: '::1' });",
        "require('http').get(`http://127.0.0.1:${process.env.PORT}/x`);",
        "require('https').request('https://[fd00::1]:8443/');",
    ] {
        let block = block_of(by_address);
        assert!(
            block.contains("to an address (a.js:1)"),
            "{by_address}\n{block}"
        );
        assert!(!block.contains("recvmsg"), "{by_address}\n{block}");
    }
    for by_name in [
        "require('net').connect(5432, 'db.example');",
        "require('net').connect(5432);",
        "require('http').get(`http://${host}:8080/`);",
        "require('http').get('http://10.0.0.7.example/');",
    ] {
        let block = block_of(by_name);
        assert!(!block.contains("to an address"), "{by_name}\n{block}");
        assert!(block.contains("recvmsg"), "{by_name}\n{block}");
    }
    // An address given to what is no client changes nothing.
    let block = block_of("require('fs').unlink('10.0.0.7', () => {});");
    assert!(block.contains("fs.unlink (a.js:1)"), "{block}");
}

/// A name computed from written alternatives loads each one written; only what is not written is
/// computed (W1501).
#[test]
fn the_names_written_in_a_computed_name_are_loaded() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let p = dir.to_string_lossy().to_string();
    std::fs::write(dir.join("package.json"), r#"{"main": "a.js"}"#).unwrap();
    std::fs::write(
        dir.join("a.js"),
        "require(process.env.RUNNER || 'child_process').spawn('/bin/true');\n",
    )
    .unwrap();
    let (code, block, err) = run(&["infer", "node", &p, "--color", "never"], dir);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("warning[W1501]"), "{err}");
    assert!(block.contains("child_process passed on"), "{block}");
    assert!(block.contains("wait4"), "{block}");
    std::fs::write(
        dir.join("a.js"),
        "require(process.env.UDP ? 'dgram' : ('os')).createSocket('udp4');\n",
    )
    .unwrap();
    let (code, block, err) = run(&["infer", "node", &p, "--color", "never"], dir);
    assert_eq!(code, 0, "{err}");
    assert!(!err.contains("W1501"), "{err}");
    assert!(block.contains("recvmmsg"), "{block}");
}
