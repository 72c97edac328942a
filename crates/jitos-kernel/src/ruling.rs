//! The policy's rulings as the kernel makes them: the facts a ruling on a job decides on,
//! all read from the folded state (the process's writ for who and how much is left, the
//! plan for the worker, effect and paths), so a ruling made live and one checked on
//! replay see the same facts.

use jitos_gov::policy::{Facts, Point};
use jitos_sched::Need;
use jitos_tasks::JobKind;

use crate::{collapse_hold::Requester, policy_record::PolicyDecision, KernelError, State};

/// Why the policy cannot rule on a job, or a vote does not fit.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GovernanceRefusal {
    /// No policy is in force.
    #[error("no policy is in force")]
    NoPolicy,
    /// The job is not one the policy rules on.
    #[error(
        "process {process} has no job {job} the policy rules on (a worker's job or a yes/no step)"
    )]
    NotRuled {
        /// The process.
        process: u64,
        /// The job.
        job: usize,
    },
    /// A recorded ruling is not what the policy in force gives on the state's facts.
    #[error("the recorded ruling is not the one the policy in force ({policy}) gives on the facts the state held")]
    Mismatch {
        /// The policy in force, short hash.
        policy: String,
    },
    /// The job does not wait for approvals.
    #[error("process {process} does not wait for approvals")]
    NotWaiting {
        /// The process.
        process: u64,
    },
    /// The voter lacks the role the gate asks for.
    #[error("{user} does not hold the {needed} role this approval needs")]
    NotEligible {
        /// Who.
        user: String,
        /// The role needed.
        needed: jitos_gov::Role,
    },
    /// A workspace's collapse waits for approvals.
    #[error("the collapse of workspace {sws} waits for approvals: {approvals} of {count} from {from}; `jitos sws approve {sws}` gives one (as another user holding {from})")]
    CollapseHeld {
        /// The workspace.
        sws: u64,
        /// How many approvals it needs.
        count: u32,
        /// The role each approver must hold.
        from: jitos_gov::Role,
        /// How many it has.
        approvals: u32,
    },
    /// The policy denies the workspace's collapse.
    #[error("the policy denies the collapse of workspace {sws}: {why}")]
    CollapseDenied {
        /// The workspace.
        sws: u64,
        /// The ruling in words.
        why: String,
    },
    /// A voter rejected the workspace's collapse.
    #[error("{user} rejected the collapse of workspace {sws}: {note}; change the workspace and ask again, or discard it")]
    CollapseVetoed {
        /// The workspace.
        sws: u64,
        /// Who rejected it.
        user: String,
        /// Their reason.
        note: String,
    },
    /// No collapse of the workspace waits for approvals.
    #[error("no collapse of workspace {sws} waits for approvals (`jitos sws show {sws}` says where it stands)")]
    NotHeld {
        /// The workspace.
        sws: u64,
    },
    /// A collapse into the system under a policy, in a ledger that records rulings, with
    /// no ruling of its own.
    #[error("workspace {sws} collapsed into the system with no ruling of the policy in force")]
    CollapseUnruled {
        /// The workspace.
        sws: u64,
    },
    /// A job outside a process dispatched under a policy, in a ledger that records
    /// rulings, without a ruling that allowed it.
    #[error("a {worker} job in workspace {sws} was dispatched outside a process with no ruling of the policy in force that allowed it")]
    JobUnruled {
        /// The workspace.
        sws: u64,
        /// The worker.
        worker: String,
    },
    /// The workspace or the policy changed since its collapse was ruled on.
    #[error("workspace {sws} changed since its collapse was ruled on (or the policy did, or the writ it was asked under ended); the approvals were for what stood then, so its collapse must be asked for again")]
    HoldStale {
        /// The workspace.
        sws: u64,
    },
    /// The requester may not approve their own collapse.
    #[error("{user} asked for the collapse of workspace {sws} and may not approve or reject it")]
    OwnCollapse {
        /// Who.
        user: String,
        /// The workspace.
        sws: u64,
    },
    /// One principal counts once.
    #[error("{user} voted on the collapse of workspace {sws} already")]
    AlreadyVoted {
        /// Who.
        user: String,
        /// The workspace.
        sws: u64,
    },
    /// A ruling or vote names someone other than the user whose request made it.
    #[error("the record names uid {named}, but uid {actor} made it")]
    NotTheAsker {
        /// The uid it names.
        named: u32,
        /// The uid of its actor.
        actor: u32,
    },
    /// The writ named was granted to someone else.
    #[error("writ {writ} was not granted to {user}; name a writ of yours (`jitos writ list`)")]
    NotYourWrit {
        /// The writ.
        writ: u64,
        /// Who named it.
        user: String,
    },
    /// The requester may not approve their own process.
    #[error("{user} submitted process {process} and may not approve or reject it")]
    OwnProcess {
        /// Who.
        user: String,
        /// The process.
        process: u64,
    },
}

/// The ruling of the policy in force on `job` of `process`, on the facts the state holds.
pub(crate) fn rule(
    state: &State,
    process: u64,
    job: usize,
    decided_ms: u64,
) -> Result<PolicyDecision, GovernanceRefusal> {
    let in_force = state.policy.as_ref().ok_or(GovernanceRefusal::NoPolicy)?;
    let not_ruled = GovernanceRefusal::NotRuled { process, job };
    let p = state.processes.get(process).ok_or(not_ruled.clone())?;
    let node = p
        .slaps
        .get(p.run.candidate)
        .and_then(|slap| slap.dag.jobs.get(job))
        .ok_or(not_ruled.clone())?;
    let writ = state.writs.of_process(process);
    let mut facts = Facts {
        point: Point::Dispatch,
        user: writ
            .map(|w| w.writ.subject.user.clone())
            .unwrap_or_default(),
        roles: writ.map(|w| w.roles.clone()).unwrap_or_default(),
        worker: None,
        effect: None,
        paths: Vec::new(),
        budget_left: state.writs.budget_left(process),
        approvals: 0,
    };
    match &node.kind {
        JobKind::Run { worker, paths, .. } => {
            facts.worker = Some(worker.clone());
            facts.effect = Some(state.job_effect(node));
            facts.paths = paths.clone();
        }
        JobKind::Ask { yes_no: true, .. } => facts.point = Point::Gate,
        _ => return Err(not_ruled),
    }
    let ruling = in_force.policy.evaluate(&facts);
    Ok(PolicyDecision {
        decided_ms,
        process,
        job,
        policy: in_force.policy.hash(),
        facts,
        ruling,
    })
}

/// Sets the user and budgets of `facts` from `writ`, a writ `by` holds in force at
/// `decided_ms`, for a ruling outside a process; returns its id and grant, or `None`
/// without one.
/// The roles stay `by`'s own: a writ granted by an admin records none.
pub(crate) fn writ_facts<'s>(
    state: &'s State,
    writ: Option<u64>,
    by: &Requester,
    decided_ms: u64,
    facts: &mut Facts,
) -> Result<Option<(u64, &'s jitos_gov::writ::Writ)>, KernelError> {
    let Some(id) = writ else {
        return Ok(None);
    };
    let held = state
        .writs
        .in_force(id, decided_ms)
        .map_err(KernelError::WritRefused)?;
    if held.writ.subject.uid != by.uid {
        return Err(KernelError::GovernanceRefused(
            GovernanceRefusal::NotYourWrit {
                writ: id,
                user: by.user.clone(),
            },
        ));
    }
    facts.user = held.writ.subject.user.clone();
    facts.budget_left = state.writs.budget_left_of_writ(id);
    Ok(Some((id, &held.writ)))
}

/// The approvals job `job` of `process` waits for, if it waits for any.
pub(crate) fn waiting_need(state: &State, process: u64, job: usize) -> Option<Need> {
    let p = state.processes.get(process)?;
    let jitos_sched::Status::Waiting {
        job: waiting,
        reason: jitos_sched::WaitReason::Approval,
        ..
    } = &p.status
    else {
        return None;
    };
    match (p.run.jobs.get(job)?, *waiting == job) {
        (jitos_sched::JobState::Gated { need, .. }, true) => Some(*need),
        // A yes/no step asked while no policy was in force: one approver.
        (jitos_sched::JobState::Asked, true) => Some(Need {
            count: 1,
            from: jitos_gov::Role::Approver,
        }),
        _ => None,
    }
}
