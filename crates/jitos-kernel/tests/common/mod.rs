//! One call per kernel command for the tests: each executes its command alone (one
//! synced write) and returns the part of the answer a test looks at.

#![allow(dead_code)] // Each test file uses some of these.

use jitos_kernel::{
    Command, Dispatch, FailureCause, Kernel, KernelError, Outcome, Proposed, WorkerInstall,
};
use jitos_ledger::{Actor, Record};
use jitos_sched::{Answer, Decision};
use jitos_sws::Over;
use jitos_tasks::{Intent, Slap};
use jitos_warp::Rewrite;

/// A collapse asked by root with no roles: what tests without a policy need.
pub fn collapse(sws: u64) -> Command {
    Command::SwsCollapse {
        sws,
        by: jitos_kernel::Requester {
            uid: 0,
            user: "root".to_owned(),
            roles: Vec::new(),
        },
        writ: None,
    }
}

/// The record an answer carries.
fn record(outcome: Outcome) -> Record {
    match outcome {
        Outcome::Recorded(record)
        | Outcome::SwsDone(record)
        | Outcome::ProposalDone(record)
        | Outcome::SwsConflicts { record, .. }
        | Outcome::ProposalRefused { record, .. }
        | Outcome::Executed { record, .. }
        | Outcome::Submitted { record, .. } => record,
        Outcome::Committed(commit) => commit.record,
        Outcome::Blobs(_) => panic!("a blob upload has no record"),
    }
}

/// The commands, as methods.
pub trait Commands {
    fn run(&mut self, actor: Actor, command: Command) -> Result<Outcome, KernelError>;

    fn sws_create(&mut self, actor: Actor, over: Over) -> Result<Record, KernelError> {
        self.run(actor, Command::SwsCreate(over)).map(record)
    }

    fn sws_apply(
        &mut self,
        actor: Actor,
        sws: u64,
        rewrite: Rewrite,
    ) -> Result<Record, KernelError> {
        self.run(actor, Command::SwsApply { sws, rewrite })
            .map(record)
    }

    fn sws_collapse(&mut self, actor: Actor, sws: u64) -> Result<Outcome, KernelError> {
        self.run(actor, collapse(sws))
    }

    fn sws_rebase(&mut self, actor: Actor, sws: u64) -> Result<Outcome, KernelError> {
        self.run(actor, Command::SwsRebase(sws))
    }

    fn sws_discard(
        &mut self,
        actor: Actor,
        sws: u64,
        reason: String,
    ) -> Result<Record, KernelError> {
        self.run(actor, Command::SwsDiscard { sws, reason })
            .map(record)
    }

    fn job_dispatch(&mut self, actor: Actor, dispatch: Dispatch) -> Result<Record, KernelError> {
        self.run(actor, Command::JobDispatch(dispatch)).map(record)
    }

    fn job_propose(
        &mut self,
        actor: Actor,
        attempt: u64,
        proposed: Proposed,
    ) -> Result<Outcome, KernelError> {
        self.run(actor, Command::JobPropose { attempt, proposed })
    }

    fn job_fail(
        &mut self,
        actor: Actor,
        attempt: u64,
        cause: FailureCause,
        detail: String,
    ) -> Result<Record, KernelError> {
        self.run(
            actor,
            Command::JobFail {
                attempt,
                cause,
                detail,
            },
        )
        .map(record)
    }

    fn worker_install(
        &mut self,
        actor: Actor,
        install: WorkerInstall,
    ) -> Result<Record, KernelError> {
        self.run(actor, Command::WorkerInstall(install)).map(record)
    }

    fn process_submit(
        &mut self,
        actor: Actor,
        intent: Intent,
        slaps: Vec<Slap>,
    ) -> Result<Record, KernelError> {
        self.run(
            actor,
            Command::ProcessSubmit {
                intent,
                slaps,
                writ: None,
                host: Box::default(),
            },
        )
        .map(record)
    }

    fn process_answer(
        &mut self,
        actor: Actor,
        process: u64,
        answer: Answer,
    ) -> Result<Record, KernelError> {
        self.run(actor, Command::ProcessAnswer { process, answer })
            .map(record)
    }

    fn process_cancel(&mut self, actor: Actor, process: u64) -> Result<Outcome, KernelError> {
        self.run(actor, Command::ProcessCancel(process))
    }

    fn process_execute(
        &mut self,
        actor: Actor,
        now_ms: u64,
        decision: Decision,
    ) -> Result<Outcome, KernelError> {
        self.run(actor, Command::ProcessExecute { now_ms, decision })
    }
}

impl Commands for Kernel {
    fn run(&mut self, actor: Actor, command: Command) -> Result<Outcome, KernelError> {
        self.execute_one(actor, command)
    }
}
