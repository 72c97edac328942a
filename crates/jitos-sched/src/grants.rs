//! What authority a process runs under, as the scheduler needs to know it: whether the
//! process may go on at all, and whether a job may be dispatched now. The kernel answers
//! from the writs it folded; the scheduler only asks, so it stays pure.

use jitos_tasks::JobNode;

/// The authority each process runs under.
pub trait Grants {
    /// Why `process` must stop at `now_ms` (its writ was revoked or expired), if it must.
    fn stops(&self, process: u64, now_ms: u64) -> Option<String>;

    /// Why `process` may not dispatch `job` at `now_ms` (its writ does not admit the
    /// worker, the effect or the paths, or its budget is spent), if it may not.
    fn refuses(&self, process: u64, job: &JobNode, now_ms: u64) -> Option<Refusal>;

    /// When `process`'s authority ends by itself (its writ's expiry), if ever.
    fn ends_at_ms(&self, process: u64) -> Option<u64>;

    /// Whether a policy is in force: then every worker's job and every yes/no step is
    /// ruled on (`Decision::Rule`) before it runs or is asked.
    fn policy_in_force(&self) -> bool;
}

/// Why a job may not be dispatched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Never, under this authority: the process ends.
    Ends(String),
    /// Not until a person raises a budget that is spent: the process waits.
    Waits(String),
}

/// No authority is checked: every process may do what its intent allows. For the
/// scheduler's own tests and for replays of histories recorded before writs.
pub struct Unbounded;

impl Grants for Unbounded {
    fn stops(&self, _: u64, _: u64) -> Option<String> {
        None
    }

    fn refuses(&self, _: u64, _: &JobNode, _: u64) -> Option<Refusal> {
        None
    }

    fn ends_at_ms(&self, _: u64) -> Option<u64> {
        None
    }

    fn policy_in_force(&self) -> bool {
        false
    }
}
