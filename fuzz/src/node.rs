//! `warden infer node` on a package made of the fuzzer's bytes: the entry, a second file it may
//! load, and an installed package (its code and its package.json), split at 0xFF bytes. Whatever
//! the bytes, the diagnostics point into the files, and a block, when there is one, is laid out
//! as `warden fmt` lays it out and compiles in a service.

use std::sync::atomic::{AtomicUsize, Ordering};

const FILES: [&str; 4] = [
    "a.js",
    "lib/b.js",
    "node_modules/p/index.js",
    "node_modules/p/package.json",
];

pub fn node(data: &[u8]) {
    static RUN: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "warden-fuzz-node-{}-{}",
        std::process::id(),
        RUN.fetch_add(1, Ordering::Relaxed)
    ));
    for (name, part) in FILES.iter().zip(data.split(|b| *b == 0xFF)) {
        let path = dir.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, part).unwrap();
    }
    std::fs::write(dir.join("package.json"), r#"{"main": "a.js"}"#).unwrap();
    let inferred = warden::infer::node::infer(&dir, &warden::infer::node::Options::default());
    let _ = std::fs::remove_dir_all(&dir);
    super::assert_spans(&inferred.sources, &inferred.diagnostics, false);
    let errors = inferred.diagnostics.iter().any(|d| d.is_error());
    assert_eq!(
        errors,
        inferred.block.is_empty(),
        "a block with errors, or none without: {:?}",
        inferred.diagnostics
    );
    if !inferred.block.is_empty() {
        let program = format!(
            "namespace n {{ }}\n\nservice s in n {{\n  pods app = \"s\"\n{}}}\n",
            inferred.block
        );
        super::assert_laid_out(&[("s.warden".to_string(), program.clone())]);
        super::assert_compiles(
            &[("s.warden".to_string(), program)],
            warden::document::Target::Seccomp,
            "the inferred block",
        );
    }
}
