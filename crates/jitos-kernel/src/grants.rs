//! The authority processes run under, as the scheduler asks about it: the writs (is the
//! writ in force, does it cover this job) and the policy (is one in force, so every job is
//! ruled on first), answered from the folded state.

use jitos_sched::Grants;
use jitos_tasks::{JobKind, JobNode};

use crate::{writs::plan_effect, State};

impl Grants for State {
    fn stops(&self, process: u64, now_ms: u64) -> Option<String> {
        let writ = self.writs.of_process(process)?;
        self.writs
            .in_force(writ.id, now_ms)
            .err()
            .map(|e| e.to_string())
    }

    fn refuses(&self, process: u64, job: &JobNode, now_ms: u64) -> Option<String> {
        let JobKind::Run {
            worker,
            effect,
            timeout_ms,
            paths,
            ..
        } = &job.kind
        else {
            return None;
        };
        self.writs
            .check_dispatch(
                process,
                worker,
                plan_effect(*effect),
                paths,
                *timeout_ms,
                now_ms,
            )
            .err()
            .map(|e| e.to_string())
    }

    fn ends_at_ms(&self, process: u64) -> Option<u64> {
        self.writs.expires_ms(process)
    }

    fn policy_in_force(&self) -> bool {
        self.policy.is_some()
    }
}
