//! `warden import`: what a cluster already enforces, as a program — NetworkPolicies as services
//! and flows, a seccomp profile as a `syscalls` block — so that warden's checks and lints review
//! it and `build` generates it from then on.

pub mod netpol;
mod policies;
pub mod seccomp;
mod selectors;
