//! The compiler's own suite, which a clone runs with `cargo test` and nothing but Rust: the
//! snapshots of every example and broken input, the command line end to end, the evaluator, the
//! schema check's reader, hostile input, crash safety and the house's rules. The tests that run
//! independent engines are in `tests/oracles/` (`cargo test --features oracles`); the catalogue of
//! both is `compiler/tests/README.md`.

#[path = "../common/mod.rs"]
mod common;

mod admission_rules;
mod admission_scope;
mod canonical;
mod cli;
mod cli_admit;
mod cli_audit;
mod cli_explain;
mod cli_import;
mod cli_infer;
mod cli_infer_node;
mod cli_installer;
mod cli_loop;
mod crash_safety;
mod evaluator;
mod fmt;
mod house;
mod injection;
mod registry;
mod robustness;
mod snapshots;
mod template_defects;
mod yaml_reader;
