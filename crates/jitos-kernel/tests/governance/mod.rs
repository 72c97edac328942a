//! Helpers for the tests of the policy's rulings through the kernel's commands
//! (`collapse_policy`, `public_job_ruling`): the fixed clock, people as the daemon
//! authenticated them, a kernel on a fresh store, a policy brought into force, a
//! workspace alice writes files in, a writ root issues, and the checks on replay and on
//! what the fold refuses.

use std::{collections::BTreeMap, path::Path, sync::Arc};

use crate::common::Commands as _;
use jitos_gov::{
    policy::Policy,
    writ::{Budget, Scope, Subject, Writ, WritKey},
    Effect, Role,
};
use jitos_kernel::{
    Command, Folded, GovernanceRefusal, Grant, Kernel, KernelError, KernelOptions, Outcome,
    ReplayOutcome, Requester, SignedIssue, State, WritIssue, KIND_POLICY_LOAD,
};
use jitos_ledger::{Actor, FixedClock, Record};
use jitos_sws::Over;
use jitos_tree::{Entry, TreePath};

/// The ledger's clock, fixed: every ruling is decided at this time.
pub const NOW_MS: u64 = 1_700_000_000_000;

/// A person as the daemon authenticated them.
pub struct Person {
    pub uid: u32,
    pub name: &'static str,
    pub roles: &'static [Role],
}

/// An operator, who opens the workspaces and asks for what is ruled on.
pub const ALICE: Person = Person {
    uid: 1001,
    name: "alice",
    roles: &[Role::Operator],
};

impl Person {
    pub fn actor(&self) -> Actor {
        Actor::Peer {
            uid: self.uid,
            pid: 4242,
        }
    }

    pub fn requester(&self) -> Requester {
        Requester {
            uid: self.uid,
            user: self.name.to_owned(),
            roles: self.roles.to_vec(),
        }
    }
}

pub fn options() -> KernelOptions {
    KernelOptions {
        clock: Arc::new(FixedClock(NOW_MS)),
        snapshot_every: 0,
        read_only: false,
        create_with_id: Some([7; 16]),
        verify_on_open: true,
    }
}

pub fn open(dir: &Path) -> Kernel {
    Kernel::open(dir, options()).unwrap()
}

pub fn policy(text: &str) -> Arc<Policy> {
    Arc::new(Policy::parse(text, Path::new("policy.toml")).unwrap())
}

/// Brings `text` into force, as the system.
pub fn load(kernel: &mut Kernel, text: &str) -> Arc<Policy> {
    let policy = policy(text);
    let outcome = kernel
        .execute_one(Actor::System, Command::PolicyLoad(policy.clone()))
        .unwrap();
    let Outcome::Recorded(record) = outcome else {
        panic!("a policy load answered {outcome:?}");
    };
    assert_eq!(record.kind, KIND_POLICY_LOAD);
    policy
}

/// Uploads the contents of `files` (path, content) as `actor`: the tree entries that
/// hold them, each at its path.
pub fn upload(kernel: &mut Kernel, actor: Actor, files: &[(&str, &str)]) -> Vec<(TreePath, Entry)> {
    let contents = files.iter().map(|(_, c)| c.as_bytes().to_vec()).collect();
    let Outcome::Blobs(refs) = kernel
        .execute_one(actor, Command::PutBlobs(contents))
        .unwrap()
    else {
        panic!("a blob upload answers its references");
    };
    files
        .iter()
        .zip(refs)
        .map(|((path, content), blob)| {
            let entry = Entry::File {
                blob,
                size: content.len() as u64,
                executable: false,
            };
            (TreePath::new(path).unwrap(), entry)
        })
        .collect()
}

/// Writes `files` (path, content) into `sws`'s tree, keeping what it holds, as alice.
pub fn write(kernel: &mut Kernel, sws: u64, files: &[(&str, &str)]) {
    let entries = upload(kernel, ALICE.actor(), files);
    let mut tree = kernel.view().sws_tree(sws).unwrap();
    for (path, entry) in entries {
        tree.insert(path, entry);
    }
    kernel
        .execute_one(ALICE.actor(), Command::SwsImportTree { sws, tree })
        .unwrap();
}

/// A workspace alice opens over the system as it is; with `files`, she writes them in (and
/// so its root directory), without, it has no tree at all.
pub fn workspace(kernel: &mut Kernel, files: &[(&str, &str)]) -> u64 {
    let at_seq = kernel.head().seq;
    let sws = kernel
        .sws_create(ALICE.actor(), Over::System { at_seq })
        .unwrap()
        .seq;
    if !files.is_empty() {
        write(kernel, sws, files);
    }
    sws
}

/// The records after `seq`.
pub fn since(kernel: &Kernel, seq: u64) -> Vec<Record> {
    kernel.view().records(seq + 1, 1000).unwrap()
}

pub fn kinds(records: &[Record]) -> Vec<&str> {
    records.iter().map(|r| r.kind.as_str()).collect()
}

/// The command by which root issues `to` a root writ granting `workers`, good for an hour
/// around the ledger's clock, with 10 jobs and 1000 s of wall time.
pub fn writ_issue(to: &Person, workers: Scope) -> Command {
    let key = WritKey::from_bytes(&[3; 32]);
    let subject = |uid: u32, user: &str| Subject {
        uid,
        user: user.to_owned(),
    };
    let writ = Writ {
        subject: subject(to.uid, to.name),
        issuer: subject(0, "root"),
        parent: None,
        workers,
        paths: Scope::All,
        effect: Effect::Workspace,
        egress: Scope::nothing(),
        budget: Budget {
            jobs: 10,
            wall_secs: 1000,
            counters: BTreeMap::new(),
        },
        secrets: Default::default(),
        issued_ms: NOW_MS - 1000,
        expires_ms: NOW_MS + 3_600_000,
        depth: 0,
    };
    Command::WritIssue(Box::new(SignedIssue {
        issue: WritIssue {
            signature: key.sign(&writ),
            writ,
            for_process: None,
            grant: Grant::Issued,
        },
        signer: key.public(),
    }))
}

/// Folds every record of the ledger from genesis into a fresh state.
pub fn fold_from_genesis(kernel: &Kernel) -> State {
    let mut state = State::default();
    for record in kernel.view().records(0, kernel.head().seq + 1).unwrap() {
        state.fold(&record).unwrap();
    }
    state
}

/// The kernel's own replay check, which must find the replayed ledger the live state in
/// every part, governance and decisions included.
#[track_caller]
pub fn replays(kernel: &Kernel) -> ReplayOutcome {
    let replay = kernel.view().replay_verify().unwrap();
    assert_eq!(replay.replayed, replay.live);
    assert!(replay.workspaces_match && replay.jobs_match && replay.processes_match);
    assert!(replay.governance_match);
    assert_eq!(replay.decision_mismatch, None);
    replay
}

/// A copy of `record` carrying `payload` at `seq`, as a doctored ledger would hold it.
pub fn doctored(record: &Record, seq: u64, payload: Vec<u8>) -> Record {
    Record {
        seq,
        payload,
        ..record.clone()
    }
}

/// The seq and the refusal of a record the fold did not admit on governance's grounds,
/// or a panic saying what it did instead.
pub fn governance_misfit(folded: Result<Folded, KernelError>) -> (u64, GovernanceRefusal) {
    match folded {
        Err(KernelError::Governance { seq, source }) => (seq, source),
        Err(other) => panic!("expected a governance misfit, got {other}"),
        Ok(_) => panic!("expected a governance misfit, but it folded"),
    }
}
