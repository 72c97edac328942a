//! The decider property: random command sequences (graph rewrites, workspaces, jobs,
//! workers, processes; many of them refused), executed in random groups through the
//! kernel and through its writer thread, leave after every acknowledged group a live
//! state equal to `State::fold` of the ledger from genesis, and a refused command leaves
//! no record.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::{path::Path, sync::Arc, thread};

use jitos_kernel::{
    AttemptStatus, Command, Dispatch, Effect, FailureCause, Kernel, KernelError, KernelOptions,
    KernelService, Outcome, Owner, Proposed, Request, Requester, State, View, WorkerInstall,
};
use jitos_ledger::{Actor, FixedClock, Record};
use jitos_sched::{Capacity, Decision, Status};
use jitos_sws::Over;
use jitos_tasks::{plan, Intent, JobKind, Library};
use jitos_warp::{NodeId, Op, Rewrite, Value};
use jitos_worker::Manifest;
use proptest::{collection::vec, prelude::*};

/// Node ids are drawn from this few, so adds, sets, removes and edges meet often.
const NODES: u8 = 5;

/// An id no command ever creates: picking it makes a command that must be refused.
const UNKNOWN_ID: u64 = 999_999;

/// Indices from this one on pick [`UNKNOWN_ID`].
const UNKNOWN_FROM: u8 = 240;

const NOW_MS: u64 = 1_700_000_000_000;

/// Two steps, so a process makes several decisions and dispatches before it ends.
const LIBRARY: &str = r#"
[task.goal]
[[task.goal.method]]
name = "two_steps"
steps = [{ task = "first" }, { task = "second" }]

[task.first]
run = { worker = "fake", args = ["first"], effect = "none", timeout_secs = 5 }

[task.second]
run = { worker = "fake", args = ["second"], effect = "none", timeout_secs = 5 }
"#;

const INTENT: &str = "goal = \"goal\"\n[allow]\nworkers = [\"fake\"]\n";

/// One step of a sequence, resolved into a command against the state its group starts
/// from: an index picks among the workspaces, attempts or processes that state knows of,
/// or an id that does not exist.
#[derive(Debug, Clone)]
enum Action {
    AddNode(u8),
    SetAttr(u8, i64),
    RemoveNode {
        node: u8,
        cascade: bool,
    },
    AddEdge(u8, u8),
    RemoveEdge(u8, u8),
    SwsCreate {
        nested: Option<u8>,
    },
    /// In a workspace: add a node of its own, or set an attribute on a system node.
    SwsApply {
        sws: u8,
        node: u8,
        add: bool,
    },
    SwsCollapse(u8),
    SwsRebase(u8),
    SwsDiscard(u8),
    JobDispatch(u8),
    /// A proposal in scope (a graph node) or out of it (a file, for a graph-only job).
    JobPropose {
        attempt: u8,
        node: u8,
        in_scope: bool,
        exit_status: i32,
    },
    JobFail(u8),
    WorkerInstall(u8),
    ProcessSubmit,
    /// The decision the scheduler calls for now: a dispatch or a recorded decision.
    ProcessStep,
    ProcessCancel(u8),
}

fn action() -> impl Strategy<Value = Action> {
    let node = 0..NODES;
    prop_oneof![
        3 => node.clone().prop_map(Action::AddNode),
        2 => (node.clone(), -3i64..3).prop_map(|(n, v)| Action::SetAttr(n, v)),
        1 => (node.clone(), any::<bool>())
            .prop_map(|(node, cascade)| Action::RemoveNode { node, cascade }),
        2 => (node.clone(), node.clone()).prop_map(|(a, b)| Action::AddEdge(a, b)),
        1 => (node.clone(), node.clone()).prop_map(|(a, b)| Action::RemoveEdge(a, b)),
        2 => proptest::option::of(any::<u8>()).prop_map(|nested| Action::SwsCreate { nested }),
        2 => (any::<u8>(), node.clone(), any::<bool>())
            .prop_map(|(sws, node, add)| Action::SwsApply { sws, node, add }),
        1 => any::<u8>().prop_map(Action::SwsCollapse),
        1 => any::<u8>().prop_map(Action::SwsRebase),
        1 => any::<u8>().prop_map(Action::SwsDiscard),
        2 => any::<u8>().prop_map(Action::JobDispatch),
        2 => (any::<u8>(), node, any::<bool>(), 0..2)
            .prop_map(|(attempt, node, in_scope, exit_status)| Action::JobPropose {
                attempt, node, in_scope, exit_status,
            }),
        1 => any::<u8>().prop_map(Action::JobFail),
        1 => (0u8..3).prop_map(Action::WorkerInstall),
        1 => Just(Action::ProcessSubmit),
        2 => Just(Action::ProcessStep),
        1 => any::<u8>().prop_map(Action::ProcessCancel),
    ]
}

/// Groups of one to six commands, after a few that give the rest nodes, workspaces,
/// attempts and a process to name (most commands name what the state before their group
/// holds).
fn groups(max_groups: usize) -> impl Strategy<Value = Vec<Vec<Action>>> {
    vec(vec(action(), 1..7), 1..max_groups).prop_map(|groups| {
        let seed = vec![
            vec![
                Action::AddNode(0),
                Action::AddNode(1),
                Action::AddEdge(0, 1),
            ],
            vec![
                Action::SwsCreate { nested: None },
                Action::SwsCreate { nested: None },
                Action::ProcessSubmit,
            ],
            vec![
                Action::JobDispatch(0),
                Action::JobDispatch(2),
                Action::SwsCreate { nested: Some(0) },
            ],
        ];
        seed.into_iter().chain(groups).collect()
    })
}

fn options() -> KernelOptions {
    KernelOptions {
        clock: Arc::new(FixedClock(NOW_MS)),
        // Small, so the reopen at the end of a case recovers from a snapshot and a tail.
        snapshot_every: 7,
        read_only: false,
        create_with_id: Some([11; 16]),
        verify_on_open: true,
    }
}

fn node_id(n: u8) -> NodeId {
    NodeId::new(format!("n{n}")).unwrap()
}

fn one_op(op: Op) -> Rewrite {
    Rewrite {
        ops: vec![op],
        expect: Vec::new(),
    }
}

fn add_node(id: NodeId) -> Rewrite {
    one_op(Op::AddNode {
        id,
        kind: "T".to_owned(),
        attrs: Default::default(),
    })
}

/// Ids a command may name: those still live (open workspaces, running attempts and
/// processes), and all there ever were.
struct Known {
    live: Vec<u64>,
    all: Vec<u64>,
}

impl Known {
    fn new<'a>(ids: impl Iterator<Item = (u64, bool)> + 'a) -> Known {
        let mut known = Known {
            live: Vec::new(),
            all: Vec::new(),
        };
        for (id, live) in ids {
            known.all.push(id);
            if live {
                known.live.push(id);
            }
        }
        known
    }

    /// A live id for an even `index`, any id for an odd one; [`UNKNOWN_ID`] for the top
    /// sixteenth of indices, or when there is none to pick.
    fn pick(&self, index: u8) -> u64 {
        let ids = if index.is_multiple_of(2) {
            &self.live
        } else {
            &self.all
        };
        if index >= UNKNOWN_FROM || ids.is_empty() {
            return UNKNOWN_ID;
        }
        ids[usize::from(index / 2) % ids.len()]
    }
}

fn dispatch(sws: u64, owner: Option<Owner>) -> Dispatch {
    Dispatch {
        worker: "fake".to_owned(),
        worker_version: "1".to_owned(),
        sws,
        args: Vec::new(),
        input: Vec::new(),
        deadline_ms: 5_000,
        effect: Effect::GraphOnly,
        paths: Vec::new(),
        owner,
    }
}

fn install(version: u8) -> WorkerInstall {
    let text = format!(
        "name = \"fake\"\nversion = \"0.{version}.0\"\nbinary = \"jitos-worker-fake\"\n\
         sandbox_profile = \"pure\"\neffect_class = \"none\"\ninput_schema = {{ type = \"bytes\" }}\n\
         needs = []\n"
    );
    WorkerInstall {
        manifest: Manifest::parse(&text, Path::new("worker.toml")).unwrap(),
        binary: "/opt/workers/jitos-worker-fake".to_owned(),
        binary_digest: [version; 32],
    }
}

/// The command `action` stands for, against the state of `view`.
fn resolve(view: &View, action: &Action) -> Command {
    let workspaces = Known::new(view.pool().workspaces().map(|w| (w.id, w.is_open())));
    let attempts = Known::new(
        view.jobs()
            .running()
            .map(|a| (a.id, a.status == AttemptStatus::Running)),
    );
    let processes = Known::new(
        view.processes()
            .all()
            .map(|p| (p.id, p.status == Status::Running)),
    );
    match *action {
        Action::AddNode(n) => Command::Rewrite(add_node(node_id(n))),
        Action::SetAttr(n, v) => Command::Rewrite(one_op(Op::SetAttr {
            node: node_id(n),
            key: "v".to_owned(),
            value: Value::Int(v),
        })),
        Action::RemoveNode { node, cascade } => Command::Rewrite(one_op(Op::RemoveNode {
            id: node_id(node),
            cascade,
        })),
        Action::AddEdge(a, b) => Command::Rewrite(one_op(Op::AddEdge {
            from: node_id(a),
            to: node_id(b),
            label: "dep".to_owned(),
        })),
        Action::RemoveEdge(a, b) => Command::Rewrite(one_op(Op::RemoveEdge {
            from: node_id(a),
            to: node_id(b),
            label: "dep".to_owned(),
        })),
        Action::SwsCreate { nested: None } => Command::SwsCreate(Over::System {
            at_seq: view.head().seq,
        }),
        Action::SwsCreate {
            nested: Some(parent),
        } => Command::SwsCreate(Over::Workspace {
            id: workspaces.pick(parent),
        }),
        Action::SwsApply { sws, node, add } => {
            let sws = workspaces.pick(sws);
            let rewrite = if add {
                add_node(NodeId::new(format!("w{sws}:{node}")).unwrap())
            } else {
                one_op(Op::SetAttr {
                    node: node_id(node),
                    key: "w".to_owned(),
                    value: Value::Int(i64::try_from(sws).unwrap()),
                })
            };
            Command::SwsApply { sws, rewrite }
        }
        Action::SwsCollapse(sws) => Command::SwsCollapse {
            sws: workspaces.pick(sws),
            by: Requester {
                uid: 0,
                user: "root".to_owned(),
                roles: Vec::new(),
            },
            writ: None,
        },
        Action::SwsRebase(sws) => Command::SwsRebase(workspaces.pick(sws)),
        Action::SwsDiscard(sws) => Command::SwsDiscard {
            sws: workspaces.pick(sws),
            reason: "dropped".to_owned(),
        },
        Action::JobDispatch(sws) => Command::JobDispatch(dispatch(workspaces.pick(sws), None)),
        Action::JobPropose {
            attempt,
            node,
            in_scope,
            exit_status,
        } => {
            let attempt = attempts.pick(attempt);
            let id = if in_scope {
                format!("job{attempt}:{node}")
            } else {
                format!("file:f{node}")
            };
            let rewrite = one_op(Op::AddNode {
                id: NodeId::new(&id).unwrap(),
                kind: if in_scope { "T" } else { "File" }.to_owned(),
                attrs: Default::default(),
            });
            Command::JobPropose {
                attempt,
                proposed: Proposed {
                    rewrites: vec![rewrite],
                    artifacts: vec![("stdout".to_owned(), vec![node; 3])],
                    exit_status,
                    cpu_ms: 1,
                    max_rss_kib: 1,
                },
            }
        }
        Action::JobFail(attempt) => Command::JobFail {
            attempt: attempts.pick(attempt),
            cause: FailureCause::Crashed,
            detail: "it died".to_owned(),
        },
        Action::WorkerInstall(version) => Command::WorkerInstall(install(version)),
        Action::ProcessSubmit => {
            let library = Library::parse(LIBRARY, Path::new("lib.toml")).unwrap();
            let intent = Intent::parse(INTENT, Path::new("intent.toml")).unwrap();
            let slaps = plan(&library, &intent, view.graph()).unwrap();
            Command::ProcessSubmit {
                intent,
                slaps,
                writ: None,
                host: Box::default(),
            }
        }
        Action::ProcessStep => process_step(view),
        Action::ProcessCancel(process) => Command::ProcessCancel(processes.pick(process)),
    }
}

/// What the scheduler calls for in `view`, as the daemon would run it; with nothing due,
/// a decision that must be refused.
fn process_step(view: &View) -> Command {
    let capacity = Capacity {
        slots_free: 4,
        per_process: 4,
    };
    match view
        .processes()
        .decide(NOW_MS, capacity, &jitos_sched::Unbounded)
    {
        Some(Decision::Dispatch { process, job, sws }) => {
            let p = view.processes().get(process).unwrap();
            let JobKind::Run { args, .. } = &p.slaps[p.run.candidate].dag.jobs[job].kind else {
                panic!("job {job} of process {process} runs no worker");
            };
            let mut dispatch = dispatch(sws, Some(Owner { process, job }));
            dispatch.args = args.clone();
            Command::JobDispatch(dispatch)
        }
        Some(decision) => Command::ProcessExecute {
            now_ms: NOW_MS,
            decision,
        },
        None => Command::ProcessExecute {
            now_ms: NOW_MS,
            decision: Decision::OpenLane {
                process: UNKNOWN_ID,
                lane: 0,
                base: jitos_sched::Base::System,
            },
        },
    }
}

/// The record an accepted command's answer carries (each command here records one).
fn record_of(outcome: &Outcome) -> &Record {
    match outcome {
        Outcome::Recorded(record)
        | Outcome::SwsDone(record)
        | Outcome::ProposalDone(record)
        | Outcome::SwsConflicts { record, .. }
        | Outcome::ProposalRefused { record, .. }
        | Outcome::Executed { record, .. }
        | Outcome::Submitted { record, .. } => record,
        Outcome::Committed(commit) => &commit.record,
        Outcome::Blobs(_) => panic!("no command here stores blobs alone"),
    }
}

/// A fresh state folded from every record `view` holds, genesis first.
fn fold_from_genesis(view: &View) -> State {
    let mut state = State::default();
    for record in view.records(0, view.head().seq + 1).unwrap() {
        state.fold(&record).unwrap();
    }
    state
}

/// `live` is what folding its ledger from genesis gives.
fn check_folds_to(view: &View, live: &State) -> Result<(), TestCaseError> {
    let fresh = fold_from_genesis(view);
    prop_assert_eq!(fresh.graph.digest(), live.graph.digest(), "graph digest");
    prop_assert!(fresh.pool == live.pool, "the workspaces differ");
    prop_assert!(fresh.jobs == live.jobs, "the attempts or workers differ");
    prop_assert!(fresh.processes == live.processes, "the processes differ");
    Ok(())
}

/// The accepted answers' records are exactly the records appended after `head_before`,
/// in order: each accepted command made one record and a refused one made none.
fn check_records(
    view: &View,
    head_before: u64,
    answers: &[Result<Outcome, KernelError>],
) -> Result<(), TestCaseError> {
    let mut answered: Vec<Record> = answers
        .iter()
        .filter_map(|answer| answer.as_ref().ok())
        .map(|outcome| record_of(outcome).clone())
        .collect();
    answered.sort_by_key(|record| record.seq);
    let appended = view.records(head_before + 1, u64::MAX).unwrap();
    prop_assert_eq!(answered, appended);
    Ok(())
}

fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        // Each case opens a store; shrinking a failure reruns many.
        max_shrink_iters: 256,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config(64))]

    #[test]
    fn each_group_commit_equals_the_fold_of_the_ledger(groups in groups(10)) {
        // Goal: after each acknowledged group, the live view's state (graph digest,
        // workspaces, attempts and workers, processes) equals `State::fold` of the ledger
        // from genesis; refused commands leave no record; a reopened store recovers the
        // same state. Method: resolve each group's actions against the view it starts
        // from, execute the group as one `Kernel::execute`, compare the appended records
        // with the answers and the view with a fresh fold; reopen at the end.
        let dir = tempfile::tempdir().unwrap();
        let mut kernel = Kernel::open(dir.path(), options()).unwrap();
        for group in &groups {
            let view = kernel.view();
            let requests: Vec<Request> = group
                .iter()
                .map(|action| Request { actor: Actor::System, command: resolve(&view, action) })
                .collect();
            let answers = kernel.execute(requests);
            prop_assert_eq!(answers.len(), group.len());
            let after = kernel.view();
            check_records(&after, view.head().seq, &answers)?;
            check_folds_to(&after, after.state())?;
        }
        let head = kernel.head();
        // Every view shares the store's handle; the last one closes it.
        drop(kernel);
        let reopened = Kernel::open(dir.path(), options()).unwrap();
        prop_assert_eq!(reopened.head(), head);
        check_folds_to(&reopened.view(), reopened.state())?;
    }

    #[test]
    fn concurrent_commands_through_the_writer_equal_the_fold(groups in groups(6)) {
        // Goal: the same holds through the writer thread, whose groups are cut by what
        // arrives together: after each burst of concurrent commands is answered, the
        // published view equals the fold of its ledger, and the records appended are
        // those of the accepted answers. Method: send each burst's commands from threads
        // of their own with `execute_blocking`, wait for every answer, then compare.
        let dir = tempfile::tempdir().unwrap();
        let service = KernelService::start(Kernel::open(dir.path(), options()).unwrap()).unwrap();
        let handle = service.handle();
        for group in &groups {
            let view = handle.view();
            let answers: Vec<Result<Outcome, KernelError>> = thread::scope(|scope| {
                let sent: Vec<_> = group
                    .iter()
                    .map(|action| {
                        let command = resolve(&view, action);
                        let handle = handle.clone();
                        scope.spawn(move || handle.execute_blocking(Actor::System, command))
                    })
                    .collect();
                sent.into_iter().map(|s| s.join().unwrap()).collect()
            });
            let after = handle.view();
            check_records(&after, view.head().seq, &answers)?;
            check_folds_to(&after, after.state())?;
        }
        service.stop();
    }
}

// Goal: the random sequences above are not all refusals (or all acceptances): a fixed
// sequence of the same actions exercises both, so the property's comparisons carry
// weight. Method: run a sequence where known commands must be accepted and others refused,
// and check each answer and the fold.
#[test]
fn a_fixed_sequence_accepts_and_refuses_as_expected() {
    let dir = tempfile::tempdir().unwrap();
    let mut kernel = Kernel::open(dir.path(), options()).unwrap();
    let steps = [
        (Action::AddNode(0), true),
        (Action::AddNode(0), false),
        (Action::AddNode(1), true),
        (Action::AddEdge(0, 1), true),
        (
            Action::RemoveNode {
                node: 0,
                cascade: false,
            },
            false,
        ),
        (Action::SwsCreate { nested: None }, true),
        (
            Action::SwsApply {
                sws: 0,
                node: 1,
                add: false,
            },
            true,
        ),
        (
            Action::SwsApply {
                sws: UNKNOWN_FROM,
                node: 1,
                add: true,
            },
            false,
        ),
        (Action::JobDispatch(0), true),
        (
            Action::JobPropose {
                attempt: 0,
                node: 2,
                in_scope: true,
                exit_status: 0,
            },
            true,
        ),
        (Action::JobFail(0), false),
        (Action::SwsCollapse(0), true),
        (Action::SwsDiscard(0), false),
        (Action::ProcessSubmit, true),
        (Action::ProcessStep, true),
        (Action::ProcessCancel(0), true),
        (Action::ProcessCancel(0), false),
        (
            Action::RemoveNode {
                node: 0,
                cascade: true,
            },
            true,
        ),
    ];
    for (action, accepted) in steps {
        let view = kernel.view();
        let command = resolve(&view, &action);
        let answer = kernel.execute_one(Actor::System, command);
        assert_eq!(answer.is_ok(), accepted, "{action:?} answered {answer:?}");
        check_folds_to(&kernel.view(), kernel.state()).unwrap();
    }
    assert!(kernel.graph().node("n1").is_some());
    assert!(kernel.graph().node("job6:2").is_some());
}
