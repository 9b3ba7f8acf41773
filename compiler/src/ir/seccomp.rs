//! Seccomp: what a service's profile does with each system call.

use crate::span::Span;
use std::collections::BTreeMap;
use std::sync::Arc;

/// What seccomp does with a system call.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum SeccompAction {
    Allow,
    /// Fail with this errno.
    Errno(u16),
    KillProcess,
    KillThread,
    Log,
    Trace,
    Notify,
}

impl SeccompAction {
    /// The libseccomp name a profile writes.
    pub fn scmp(self) -> &'static str {
        match self {
            SeccompAction::Allow => "SCMP_ACT_ALLOW",
            SeccompAction::Errno(_) => "SCMP_ACT_ERRNO",
            SeccompAction::KillProcess => "SCMP_ACT_KILL_PROCESS",
            SeccompAction::KillThread => "SCMP_ACT_KILL_THREAD",
            SeccompAction::Log => "SCMP_ACT_LOG",
            SeccompAction::Trace => "SCMP_ACT_TRACE",
            SeccompAction::Notify => "SCMP_ACT_NOTIFY",
        }
    }

    /// Whether the call runs (`log` runs it and records it).
    pub fn runs(self) -> bool {
        matches!(self, SeccompAction::Allow | SeccompAction::Log)
    }
}

/// A comparison of one system call argument, as seccomp makes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct ArgCmp {
    pub index: u8,
    pub op: CmpOp,
    pub value: u64,
    /// The second operand of `MaskedEq`: `(arg & value) == value_two`.
    pub value_two: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum CmpOp {
    Ne,
    Lt,
    Le,
    Eq,
    Ge,
    Gt,
    MaskedEq,
}

impl CmpOp {
    pub fn scmp(self) -> &'static str {
        match self {
            CmpOp::Ne => "SCMP_CMP_NE",
            CmpOp::Lt => "SCMP_CMP_LT",
            CmpOp::Le => "SCMP_CMP_LE",
            CmpOp::Eq => "SCMP_CMP_EQ",
            CmpOp::Ge => "SCMP_CMP_GE",
            CmpOp::Gt => "SCMP_CMP_GT",
            CmpOp::MaskedEq => "SCMP_CMP_MASKED_EQ",
        }
    }

    pub fn holds(self, arg: u64, value: u64, value_two: u64) -> bool {
        match self {
            CmpOp::Ne => arg != value,
            CmpOp::Lt => arg < value,
            CmpOp::Le => arg <= value,
            CmpOp::Eq => arg == value,
            CmpOp::Ge => arg >= value,
            CmpOp::Gt => arg > value,
            CmpOp::MaskedEq => arg & value == value_two,
        }
    }
}

/// One system call's treatment: its action, under any of `when`'s condition sets (each a
/// conjunction); empty `when` is unconditional. Where no condition set holds, the default applies.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyscallEntry {
    pub action: SeccompAction,
    pub when: Vec<Vec<ArgCmp>>,
    /// The rule that decided it, as bytes from the start of its block (`SyscallPolicy::rule_span`
    /// makes it a span): relative, so that blocks of the same text share one set of entries.
    pub rule: BlockOffset,
    /// The group that brought it in, if not named.
    pub group: Option<&'static str>,
}

/// A byte range inside a `syscalls` block, from the block's first byte.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BlockOffset {
    pub start: usize,
    pub end: usize,
}

/// warden's own reading of a profile: what it does with one call, the way the kernel decides.
impl SyscallPolicy {
    /// The span of the rule that decided `entry`, one of this policy's.
    pub fn rule_span(&self, entry: &SyscallEntry) -> Span {
        Span::new(
            self.span.file,
            self.span.start + entry.rule.start,
            self.span.start + entry.rule.end,
        )
    }

    /// The action for `name` with `args`; `None` where Docker's base decides (its rules depend on
    /// the container's capabilities and the kernel, which only a runtime knows).
    pub fn action(&self, name: &str, args: &[u64; 6]) -> Option<SeccompAction> {
        match self.entries.get(name) {
            Some(e) if e.when.is_empty() => Some(e.action),
            Some(e) => {
                let holds = |c: &ArgCmp| {
                    args.get(usize::from(c.index))
                        .is_some_and(|a| c.op.holds(*a, c.value, c.value_two))
                };
                Some(if e.when.iter().any(|alt| alt.iter().all(holds)) {
                    e.action
                } else {
                    self.default
                })
            }
            None if self.docker_base => None,
            None => Some(self.default),
        }
    }
}

#[derive(Clone, Debug)]
pub struct SyscallPolicy {
    /// `base docker-default`: Docker's profile, less the calls the block decides itself.
    pub docker_base: bool,
    pub default: SeccompAction,
    /// What the block itself decides, by system call name (the catalog's: a profile lists a
    /// hundred calls or more, and a program may have thousands of profiles). Shared by the
    /// policies of blocks of the same text: thousands of services with one block hold one map,
    /// not a hundred entries each.
    pub entries: Arc<BTreeMap<&'static str, SyscallEntry>>,
    pub span: Span,
}
