//! The authority processes run under, as the scheduler asks about it: the writs (is the
//! writ in force, does it cover this job) and the policy (is one in force, so every job is
//! ruled on first), answered from the folded state.

use jitos_gov::Effect;
use jitos_sched::{Grants, Refusal};
use jitos_tasks::{JobKind, JobNode};
use jitos_worker::EffectClass;

use crate::{writs::plan_effect, State, WritRefusal};

impl State {
    /// The effect class of a process's job: its task's, raised to its worker's manifest's
    /// when that reaches beyond the workspace (`local` for the built-in `materialize`). (A manifest's `workspace` never raised a
    /// task's `none`, and rulings recorded so replay only as they were made.)
    pub fn job_effect(&self, node: &JobNode) -> Effect {
        let JobKind::Run { worker, effect, .. } = &node.kind else {
            return Effect::None;
        };
        let planned = plan_effect(*effect);
        if worker == jitos_tasks::MATERIALIZE {
            return planned.max(Effect::Local);
        }
        let manifest = self
            .jobs
            .worker(worker)
            .map_or(EffectClass::None, |(_, install)| {
                install.manifest.effect_class
            });
        let declared = match manifest {
            EffectClass::None | EffectClass::Workspace => Effect::None,
            EffectClass::Local => Effect::Local,
            EffectClass::Network => Effect::Network,
            EffectClass::Irreversible => Effect::Irreversible,
        };
        planned.max(declared)
    }
}

impl Grants for State {
    fn stops(&self, process: u64, now_ms: u64) -> Option<String> {
        let writ = self.writs.of_process(process)?;
        self.writs
            .in_force(writ.id, now_ms)
            .err()
            .map(|e| e.to_string())
    }

    fn refuses(&self, process: u64, job: &JobNode, now_ms: u64) -> Option<Refusal> {
        let JobKind::Run {
            worker,
            timeout_ms,
            paths,
            ..
        } = &job.kind
        else {
            return None;
        };
        let effect = self.job_effect(job);
        // A race's lanes are speculative: a lane that loses is discarded, which cannot
        // take back what reached beyond it.
        if effect >= Effect::Local && job.lane != 0 {
            return Some(Refusal::Ends(format!(
                "its effect ({}) reaches beyond its workspace, and it would run in a race's lane; only the process's own workspace may hold such a step",
                effect.name()
            )));
        }
        match self
            .writs
            .check_dispatch(process, worker, effect, paths, *timeout_ms, now_ms)
        {
            Ok(()) => None,
            Err(e @ WritRefusal::Overdrawn { .. }) => Some(Refusal::Waits(e.to_string())),
            Err(e) => Some(Refusal::Ends(e.to_string())),
        }
    }

    fn ends_at_ms(&self, process: u64) -> Option<u64> {
        self.writs.expires_ms(process)
    }

    fn policy_in_force(&self) -> bool {
        self.policy.is_some()
    }
}
