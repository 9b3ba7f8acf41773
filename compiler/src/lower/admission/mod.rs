//! What the three admission targets share: every rule as CEL (`vap` and `kyverno` write the same
//! expressions) and as Rego (`gatekeeper`), the Pod Security Standards in both, which blocks share
//! one Pod Security policy and what they exempt, and the CEL that requires each service's pods to
//! run with its seccomp profile. The targets themselves (`lower/vap.rs`, `kyverno.rs`,
//! `gatekeeper.rs`) only place these in their documents.

mod cel;
mod cel_rules;
mod pod_security;
mod pss_cel;
pub(super) mod rego;
pub(super) mod seccomp;

pub(super) use cel::{
    MatchCondition, PodSecurityCel, Validation, Variable, cel, cel_of, match_conditions,
};
pub(super) use pod_security::{
    SharedKey, exemptions, exemptions_of, own_rules, shared_pod_security,
};
