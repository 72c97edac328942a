//! Tests of the durable payloads: every version-1 reader against bytes the old in-memory
//! types wrote (pinned as hex), round trips of every kind, and hostile bytes refused.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;

use jitos_sched::{Answer, Event, Outcome, WaitReason};
use jitos_sws::{Conflict, ConflictReport, Key, KeyValue, Over, Target};
use jitos_tasks::{
    Ask, Dag, DecomposedStep, Decomposition, Intent, JobKind, JobNode, Lane, Node, OnFailure, Run,
    Slap,
};
use jitos_tree::{Entry, TreeChange, TreePath};
use jitos_warp::{BlobRef, Edge, Expect, NodeId, Op, Rewrite, Value};
use jitos_worker::{
    Access, EffectClass, InputKind, InputSchema, LimitsRequest, Manifest, Need, SandboxProfile,
};

use super::{decode, v2, v3, PayloadError};
use crate::{
    job_record::{
        Dispatch, Effect, FailureCause, JobRecord, Owner, Results, WorkerInstall,
        KIND_WORKER_INSTALL, KIND_WORKER_INSTALL_V1,
    },
    payload::{decode_rewrite, encode_rewrite, KIND_REWRITE},
    process_record::{AskContext, ProcessRecord},
    run_environment::{
        BuiltinWorker, Confinement, HostEnvironment, InstalledWorker, PolicyInForce, RunEnvironment,
    },
    sws_record::{RefusedOp, SwsRecord},
    KernelError,
};

fn id(text: &str) -> NodeId {
    NodeId::new(text).unwrap()
}

fn map<V>(entries: &[(&str, V)]) -> BTreeMap<String, V>
where
    V: Clone,
{
    entries
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.clone()))
        .collect()
}

/// A value of every variant, nested.
pub(crate) fn value() -> Value {
    Value::Map(map(&[
        ("b", Value::Bool(true)),
        ("blob", Value::Blob(BlobRef([7; 32]))),
        ("bytes", Value::Bytes(vec![0, 1, 255])),
        ("i", Value::Int(-42)),
        (
            "list",
            Value::List(vec![Value::Str("x".into()), Value::Int(300)]),
        ),
    ]))
}

/// A rewrite with every op and every expect.
pub(crate) fn rewrite() -> Rewrite {
    Rewrite {
        ops: vec![
            Op::AddNode {
                id: id("n:1"),
                kind: "Note".into(),
                attrs: map(&[("v", value()), ("w", Value::Str("é".into()))]),
            },
            Op::RemoveNode {
                id: id("n:2"),
                cascade: true,
            },
            Op::SetAttr {
                node: id("n:1"),
                key: "k".into(),
                value: Value::Int(1),
            },
            Op::RemoveAttr {
                node: id("n:1"),
                key: "old".into(),
            },
            Op::AddEdge {
                from: id("n:1"),
                to: id("n:3"),
                label: "to".into(),
            },
            Op::RemoveEdge {
                from: id("n:3"),
                to: id("n:1"),
                label: "back".into(),
            },
        ],
        expect: vec![
            Expect::NodeExists { node: id("n:3") },
            Expect::NodeAbsent { node: id("n:1") },
            Expect::AttrEquals {
                node: id("n:3"),
                key: "k".into(),
                value: value(),
            },
            Expect::AttrAbsent {
                node: id("n:3"),
                key: "gone".into(),
            },
            Expect::NodeVersion {
                node: id("n:3"),
                version: 9,
            },
            Expect::EdgeExists {
                from: id("n:3"),
                to: id("n:4"),
                label: "e".into(),
            },
            Expect::EdgeAbsent {
                from: id("n:4"),
                to: id("n:3"),
                label: "e".into(),
            },
        ],
    }
}

fn report() -> ConflictReport {
    ConflictReport {
        workspace: 12,
        target: Target::Workspace(4),
        base_seq: 10,
        conflicts: vec![
            Conflict {
                key: Key::Node(id("n:1")),
                read: true,
                read_node: false,
                wrote: Some(KeyValue::Node(Some("Note".into()))),
                base: KeyValue::Node(None),
                changed_at: 11,
            },
            Conflict {
                key: Key::Attr(id("n:1"), "k".into()),
                read: false,
                read_node: true,
                wrote: Some(KeyValue::Attr(Some(Value::Int(3)))),
                base: KeyValue::Attr(None),
                changed_at: 13,
            },
            Conflict {
                key: Key::Edge(Edge {
                    from: id("n:1"),
                    label: "to".into(),
                    to: id("n:2"),
                }),
                read: true,
                read_node: true,
                wrote: None,
                base: KeyValue::Edge(false),
                changed_at: 14,
            },
        ],
    }
}

/// One payload of every `sws.*` variant.
fn sws_records() -> Vec<SwsRecord> {
    vec![
        SwsRecord::Create {
            over: Over::System { at_seq: 3 },
        },
        SwsRecord::Create {
            over: Over::Workspace { id: 5 },
        },
        SwsRecord::Apply {
            sws: 5,
            rewrite: rewrite(),
        },
        SwsRecord::Collapse {
            sws: 5,
            rewrites: vec![rewrite(), Rewrite::default()],
        },
        SwsRecord::Conflict {
            sws: 12,
            op: RefusedOp::Rebase,
            report: report(),
        },
        SwsRecord::Conflict {
            sws: 12,
            op: RefusedOp::Collapse,
            report: ConflictReport {
                target: Target::System,
                ..report()
            },
        },
        SwsRecord::Rebase { sws: 5 },
        SwsRecord::Discard {
            sws: 5,
            reason: "no longer needed".into(),
        },
    ]
}

fn manifest() -> Manifest {
    Manifest {
        name: "custom".into(),
        version: "0.1.0".into(),
        binary: "jitos-worker-custom".into(),
        sandbox_profile: SandboxProfile::Shell,
        effect_class: EffectClass::Workspace,
        input_schema: InputSchema {
            kind: InputKind::Json,
        },
        needs: vec![
            Need {
                path: "/usr/share/dict".into(),
                access: Access::Read,
            },
            Need {
                path: "/var/tmp/out".into(),
                access: Access::Write,
            },
        ],
        limits: LimitsRequest {
            cpu_seconds: Some(30),
            address_space_mib: None,
            open_files: Some(64),
            processes: None,
            file_size_mib: Some(1),
        },
        reusable: false,
        fetch: false,
    }
}

pub(crate) fn install() -> WorkerInstall {
    WorkerInstall {
        manifest: manifest(),
        binary: "/opt/workers/jitos-worker-custom".into(),
        binary_digest: [9; 32],
    }
}

/// One payload of every `job.*` variant (the install apart: its kind has two versions).
pub(crate) fn job_records() -> Vec<JobRecord> {
    vec![
        JobRecord::Dispatch(Dispatch {
            worker: "shell".into(),
            worker_version: "0.1.0".into(),
            sws: 7,
            args: vec!["sh".into(), "-c".into(), "true".into()],
            input: vec![1, 2, 3],
            deadline_ms: 30_000,
            effect: Effect::Files,
            paths: vec!["src".into()],
            owner: Some(Owner { process: 4, job: 2 }),
        }),
        JobRecord::Dispatch(Dispatch {
            worker: "noop".into(),
            worker_version: "0.1.0".into(),
            sws: 8,
            args: Vec::new(),
            input: Vec::new(),
            deadline_ms: 1,
            effect: Effect::GraphOnly,
            paths: Vec::new(),
            owner: None,
        }),
        JobRecord::Done {
            attempt: 9,
            rewrites: vec![rewrite()],
            results: Results {
                artifacts: vec![("stdout".into(), BlobRef([3; 32]))],
                exit_status: -1,
                cpu_ms: 12,
                max_rss_kib: 4096,
            },
        },
        JobRecord::Failed {
            attempt: 9,
            cause: FailureCause::Deadline,
            detail: "killed at its deadline".into(),
        },
        JobRecord::Failed {
            attempt: 10,
            cause: FailureCause::Interrupted,
            detail: String::new(),
        },
        JobRecord::Refused {
            attempt: 11,
            reason: "it wrote outside its paths".into(),
        },
    ]
}

/// A plan three tasks deep, with a run, a question and a race.
pub(crate) fn slap() -> Slap {
    let leaf = |task: &str, node: Node| Decomposition {
        task: task.into(),
        params: map(&[("p", "v".to_owned())]),
        node,
    };
    let run = Run {
        worker: "shell".into(),
        args: vec!["make".into()],
        effect: jitos_tasks::Effect::Workspace,
        idempotent: true,
        timeout_secs: 60,
        retries: 2,
        backoff_ms: 100,
        gate: true,
        paths: vec!["src".into()],
    };
    let inner = Decomposition {
        task: "inner".into(),
        params: BTreeMap::new(),
        node: Node::Method {
            method: "race".into(),
            race: true,
            on_failure: OnFailure::Interrupt,
            steps: vec![DecomposedStep {
                id: "build".into(),
                after: Vec::new(),
                sub: leaf("build", Node::Run(run)),
                verify: None,
                compensate: None,
                feedback: None,
            }],
            skipped: vec![("slow".into(), "its condition failed".into())],
        },
    };
    Slap {
        index: 1,
        tree: Decomposition {
            task: "goal".into(),
            params: map(&[("a", "1".to_owned()), ("b", "2".to_owned())]),
            node: Node::Method {
                method: "main".into(),
                race: false,
                on_failure: OnFailure::Discard,
                steps: vec![
                    DecomposedStep {
                        id: "ask".into(),
                        after: Vec::new(),
                        sub: leaf(
                            "ask",
                            Node::Ask(Ask {
                                question: "ok?".into(),
                                yes_no: true,
                            }),
                        ),
                        verify: None,
                        compensate: None,
                        feedback: None,
                    },
                    DecomposedStep {
                        id: "inner".into(),
                        after: vec!["ask".into()],
                        sub: inner,
                        verify: None,
                        compensate: None,
                        feedback: None,
                    },
                ],
                skipped: Vec::new(),
            },
        },
        dag: Dag {
            jobs: vec![
                JobNode {
                    id: "goal/main/ask".into(),
                    lane: 0,
                    after: Vec::new(),
                    kind: JobKind::Ask {
                        question: "ok?".into(),
                        yes_no: true,
                    },
                    on_failure: OnFailure::Next,
                    purpose: jitos_tasks::Purpose::Step,
                    feedback: None,
                },
                JobNode {
                    id: "goal/main/inner/race/build".into(),
                    lane: 1,
                    after: vec![0],
                    kind: JobKind::Run {
                        worker: "shell".into(),
                        args: vec!["make".into()],
                        effect: jitos_tasks::Effect::None,
                        idempotent: false,
                        timeout_ms: 60_000,
                        retries: 2,
                        backoff_ms: 100,
                        gate: true,
                        paths: Vec::new(),
                    },
                    on_failure: OnFailure::Interrupt,
                    purpose: jitos_tasks::Purpose::Step,
                    feedback: None,
                },
                JobNode {
                    id: "goal/main/inner".into(),
                    lane: 0,
                    after: vec![1],
                    kind: JobKind::Race { lanes: vec![1] },
                    on_failure: OnFailure::Discard,
                    purpose: jitos_tasks::Purpose::Step,
                    feedback: None,
                },
            ],
            lanes: vec![
                Lane {
                    parent: None,
                    path: "goal".into(),
                },
                Lane {
                    parent: Some(0),
                    path: "goal/main/inner/race/build".into(),
                },
            ],
        },
    }
}

pub(crate) fn intent() -> Intent {
    Intent {
        goal: "goal".into(),
        params: map(&[("a", "1".to_owned()), ("b", "2".to_owned())]),
        workers: vec!["shell".into(), "noop".into()],
        paths: vec!["src".into()],
        max_jobs: 64,
        wall_secs: 3600,
        parallel: 8,
    }
}

fn path(text: &str) -> TreePath {
    TreePath::new(text).unwrap()
}

/// One payload of every `process.*` kind, and every variant inside them.
fn process_records() -> Vec<ProcessRecord> {
    let record = |event| ProcessRecord {
        decided_ms: 1_700_000_000_000,
        event,
        sws: Vec::new(),
        rewrite: None,
        context: None,
        environment: None,
    };
    let file = Entry::File {
        blob: BlobRef([5; 32]),
        size: 10,
        executable: true,
    };
    vec![
        ProcessRecord {
            sws: vec![SwsRecord::Create {
                over: Over::System { at_seq: 20 },
            }],
            rewrite: Some(rewrite()),
            ..record(Event::Submitted {
                intent: intent(),
                slaps: vec![slap()],
            })
        },
        record(Event::LaneOpened {
            process: 21,
            lane: 1,
            sws: 22,
        }),
        record(Event::RetryScheduled {
            process: 21,
            job: 1,
            until_ms: 99,
        }),
        ProcessRecord {
            context: Some(AskContext {
                sws: 22,
                files: vec![
                    TreeChange::Added {
                        path: path("a/new.txt"),
                        entry: file.clone(),
                    },
                    TreeChange::Removed {
                        path: path("a"),
                        entry: Entry::Dir,
                    },
                    TreeChange::Modified {
                        path: path("link"),
                        old: Entry::Symlink {
                            target: "a/new.txt".into(),
                        },
                        new: file,
                    },
                ],
            }),
            ..record(Event::Asked {
                process: 21,
                job: 0,
                question: "ok?".into(),
                reason: WaitReason::Approval,
            })
        },
        record(Event::Asked {
            process: 21,
            job: 1,
            question: "which?".into(),
            reason: WaitReason::Crash,
        }),
        record(Event::Answered {
            process: 21,
            answer: Answer::Value("word".into()),
        }),
        record(Event::Answered {
            process: 21,
            answer: Answer::Skip,
        }),
        ProcessRecord {
            sws: vec![SwsRecord::Collapse {
                sws: 22,
                rewrites: vec![rewrite()],
            }],
            ..record(Event::LaneCollapsed {
                process: 21,
                lane: 1,
            })
        },
        ProcessRecord {
            sws: vec![SwsRecord::Conflict {
                sws: 22,
                op: RefusedOp::Collapse,
                report: report(),
            }],
            ..record(Event::LaneConflict {
                process: 21,
                lane: 1,
                why: "a conflict".into(),
            })
        },
        ProcessRecord {
            sws: vec![SwsRecord::Discard {
                sws: 22,
                reason: "lost the race".into(),
            }],
            ..record(Event::LaneDiscarded {
                process: 21,
                lane: 1,
            })
        },
        record(Event::Advanced {
            process: 21,
            to: 1,
            why: "its method failed".into(),
        }),
        record(Event::Finished {
            process: 21,
            outcome: Outcome::Failed {
                why: "no candidate left".into(),
            },
        }),
        record(Event::Finished {
            process: 21,
            outcome: Outcome::Cancelled,
        }),
    ]
}

/// Every sample payload with its kind, in a fixed order: what the golden bytes pin.
fn samples() -> Vec<(String, Sample)> {
    let mut all = vec![(KIND_REWRITE.to_owned(), Sample::Rewrite(rewrite()))];
    all.extend(
        sws_records()
            .into_iter()
            .map(|r| (r.kind().to_owned(), Sample::Sws(r))),
    );
    all.extend(
        job_records()
            .into_iter()
            .map(|r| (r.kind().to_owned(), Sample::Job(r))),
    );
    all.extend(
        process_records()
            .into_iter()
            .map(|r| (r.kind().to_owned(), Sample::Process(r))),
    );
    all
}

#[derive(Debug, Clone, PartialEq)]
enum Sample {
    Rewrite(Rewrite),
    Sws(SwsRecord),
    Job(JobRecord),
    Process(ProcessRecord),
}

impl Sample {
    /// The payload the current code writes.
    fn encode(&self) -> Vec<u8> {
        match self {
            Sample::Rewrite(r) => encode_rewrite(r),
            Sample::Sws(r) => r.encode(),
            Sample::Job(r) => r.encode(),
            Sample::Process(r) => r.encode(),
        }
        .unwrap()
    }

    /// The payload read back as a record of `kind`.
    fn decode(&self, kind: &str, bytes: &[u8]) -> Result<Sample, KernelError> {
        Ok(match self {
            Sample::Rewrite(_) => Sample::Rewrite(decode_rewrite(bytes)?),
            Sample::Sws(_) => Sample::Sws(SwsRecord::decode(kind, bytes)?),
            Sample::Job(_) => Sample::Job(JobRecord::decode(kind, bytes)?),
            Sample::Process(_) => Sample::Process(ProcessRecord::decode(kind, bytes)?),
        })
    }
}

/// The pinned version-1 payloads: (kind, bytes), in the order of `samples()`, then the
/// version-1 install of `install()`.
fn golden() -> Vec<(String, Vec<u8>)> {
    include_str!("golden-v1.txt")
        .lines()
        .filter(|line| !line.starts_with('#'))
        .map(|line| {
            let (kind, hex) = line.split_once(' ').unwrap();
            (kind.to_owned(), hex::decode(hex).unwrap())
        })
        .collect()
}

// Goal: every version-1 reader reads the bytes the old in-memory types wrote, to the same
// values, and every kind still written at version 1 writes those bytes exactly. Method:
// golden payloads made from `samples()` by bincode of the old types, pinned in
// golden-v1.txt, decoded and re-encoded.
#[test]
fn version_1_readers_read_what_the_old_types_wrote() {
    let golden = golden();
    let samples = samples();
    assert_eq!(
        golden.len(),
        samples.len() + 1,
        "one golden line per sample and the install"
    );
    for ((kind, bytes), (sample_kind, sample)) in golden.iter().zip(&samples) {
        // A submit is written as `process.submit@2` or `@3` now; version 1 is only read.
        let written_as = match sample_kind.as_str() {
            crate::process_record::KIND_PROCESS_SUBMIT_V2 => {
                crate::process_record::KIND_PROCESS_SUBMIT_V1
            }
            other => other,
        };
        assert_eq!(kind, written_as);
        let read = sample
            .decode(kind, bytes)
            .unwrap_or_else(|e| panic!("{kind}: {e}"));
        assert_eq!(&read, sample, "{kind}");
        if kind != crate::process_record::KIND_PROCESS_SUBMIT_V1 {
            assert_eq!(
                &sample.encode(),
                bytes,
                "{kind} is no longer written as it was"
            );
        }
    }
}

// Goal: a `worker.install` record of version 1 (the SDK's manifest fields) still reads.
#[test]
fn a_version_1_install_reads_its_manifest_fields() {
    let (kind, bytes) = golden().pop().unwrap();
    assert_eq!(kind, KIND_WORKER_INSTALL_V1);
    let read = JobRecord::decode(&kind, &bytes).unwrap();
    assert_eq!(read, JobRecord::Install(install()));
    // Read as the other version, or as another kind, the bytes are refused.
    assert!(JobRecord::decode(KIND_WORKER_INSTALL, &bytes).is_err());
    let dispatch = JobRecord::decode("job.dispatch", &bytes).unwrap_err();
    assert!(
        dispatch
            .to_string()
            .contains("carries a worker.install@2 payload"),
        "{dispatch}"
    );
}

// Goal: an install is written as version 2, whose payload is the manifest's text and its
// digest, and reads back as the same install; a dispatch's payload under its kind is not
// mistaken for an install.
#[test]
fn an_install_is_written_as_version_2_with_its_manifest_text() {
    let record = JobRecord::Install(install());
    assert_eq!(record.kind(), KIND_WORKER_INSTALL);
    assert_eq!(KIND_WORKER_INSTALL, "worker.install@2");
    let bytes = record.encode().unwrap();
    assert_eq!(
        JobRecord::decode(KIND_WORKER_INSTALL, &bytes).unwrap(),
        record
    );
    let text = manifest().to_text().unwrap();
    let text_at = bytes
        .windows(text.len())
        .position(|w| w == text.as_bytes())
        .expect("the payload holds the manifest's text");
    let digest = blake3::hash(text.as_bytes());
    assert_eq!(&bytes[text_at + text.len()..][..32], digest.as_bytes());
    assert!(JobRecord::decode(KIND_WORKER_INSTALL_V1, &bytes).is_err());
}

// Goal: a reusable worker's install keeps `reusable` through version 2 (version 1 had no
// place for it). Method: a pure reusable manifest encoded and decoded; the plain one is
// the control.
#[test]
fn a_reusable_install_reads_back_reusable() {
    let mut reusable = install();
    reusable.manifest.sandbox_profile = SandboxProfile::Pure;
    reusable.manifest.reusable = true;
    let bytes = JobRecord::Install(reusable.clone()).encode().unwrap();
    let JobRecord::Install(read) = JobRecord::decode(KIND_WORKER_INSTALL, &bytes).unwrap() else {
        panic!("an install decoded as another record");
    };
    assert!(read.manifest.reusable);
    assert_eq!(read, reusable);
    let plain = JobRecord::Install(install()).encode().unwrap();
    let JobRecord::Install(read) = JobRecord::decode(KIND_WORKER_INSTALL, &plain).unwrap() else {
        panic!("an install decoded as another record");
    };
    assert!(!read.manifest.reusable, "control");
}

// Goal: a manifest text changed after it was recorded is refused by its digest, not read
// as a different manifest. Method: one letter of the recorded text changed in place.
#[test]
fn a_changed_manifest_text_is_refused_by_its_digest() {
    let mut bytes = JobRecord::Install(install()).encode().unwrap();
    let at = bytes.windows(6).position(|w| w == b"custom").unwrap();
    bytes[at] = b'k';
    let error = JobRecord::decode(KIND_WORKER_INSTALL, &bytes).unwrap_err();
    assert!(
        error.to_string().contains("does not hash to the digest"),
        "{error}"
    );
}

// Goal: a payload of one kind under another kind's name is refused, naming both.
#[test]
fn a_payload_under_another_kind_is_refused() {
    let apply = SwsRecord::Apply {
        sws: 1,
        rewrite: rewrite(),
    }
    .encode()
    .unwrap();
    let error = SwsRecord::decode("sws.create", &apply).unwrap_err();
    assert!(
        error
            .to_string()
            .contains("a sws.create record carries a sws.apply payload"),
        "{error}"
    );
}

/// Encodes a version-1 rewrite built directly, so tests can write what no valid rewrite
/// would hold.
fn raw_rewrite(ops: Vec<super::v1::warp::Op>) -> Vec<u8> {
    super::encode(&super::v1::warp::Rewrite {
        ops,
        expect: Vec::new(),
    })
    .unwrap()
}

// Goal: a map whose keys are repeated or out of order (which bincode would decode into a
// map, keeping one value) is refused, so each payload has one reading.
#[test]
fn repeated_or_unordered_map_keys_are_refused() {
    use super::v1::warp::{Op as V1Op, Value as V1Value};
    for keys in [["b", "a"], ["a", "a"]] {
        let bytes = raw_rewrite(vec![V1Op::AddNode {
            id: "n:1".into(),
            kind: "Note".into(),
            attrs: keys
                .iter()
                .map(|k| ((*k).to_owned(), V1Value::Int(1)))
                .collect(),
        }]);
        let error = decode_rewrite(&bytes).unwrap_err();
        assert!(
            error
                .to_string()
                .contains("keys must be unique and ascending"),
            "{error}"
        );
    }
}

// Goal: an invalid node id in a payload is refused as the in-memory type's decoder refused
// it.
#[test]
fn an_invalid_node_id_is_refused() {
    let bytes = raw_rewrite(vec![super::v1::warp::Op::RemoveNode {
        id: String::new(),
        cascade: false,
    }]);
    let error = decode_rewrite(&bytes).unwrap_err();
    assert!(error.to_string().contains("node id"), "{error}");
}

/// A value nested `levels` deep (a scalar is one level).
fn nested_value(levels: usize) -> super::v1::warp::Value {
    let mut value = super::v1::warp::Value::Int(1);
    for _ in 1..levels {
        value = super::v1::warp::Value::List(vec![value]);
    }
    value
}

fn set_attr(value: super::v1::warp::Value) -> Vec<u8> {
    raw_rewrite(vec![super::v1::warp::Op::SetAttr {
        node: "n:1".into(),
        key: "k".into(),
        value,
    }])
}

// Goal: values nest as deep as the graph allows and no deeper, as before: the limit is
// the graph's, not only the codec's.
#[test]
fn values_nest_as_deep_as_the_graph_allows() {
    let deepest = jitos_warp::VALUE_DEPTH_MAX;
    assert!(decode_rewrite(&set_attr(nested_value(deepest))).is_ok());
    let error = decode_rewrite(&set_attr(nested_value(deepest + 1))).unwrap_err();
    assert!(error.to_string().contains("nests deeper than"), "{error}");
}

/// Runs `f` on a thread with a 256 KiB stack: a decoder that recursed per level of hostile
/// input would overflow it and abort the test process.
fn on_small_stack<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    std::thread::Builder::new()
        .stack_size(256 * 1024)
        .spawn(f)
        .unwrap()
        .join()
        .unwrap()
}

// Goal: a value nested far past every limit, written by hand, is refused without
// overflowing the stack. Method: 100 000 levels of list tags (variant 5, one item).
#[test]
fn a_hostile_deep_value_is_refused_on_a_small_stack() {
    let mut value = [5u8, 1].repeat(100_000);
    value.extend_from_slice(&[1, 2]);
    // The SetAttr op of a rewrite of one op and no expects, its value replaced.
    let mut bytes = set_attr(super::v1::warp::Value::Int(1));
    let head = bytes.len() - 3;
    bytes.truncate(head);
    bytes.extend_from_slice(&value);
    bytes.push(0);
    let error = on_small_stack(move || decode_rewrite(&bytes).map(drop)).unwrap_err();
    assert!(error.to_string().contains("nests deeper than"), "{error}");
}

/// The bytes of a `process.submit` payload whose plan nests `levels` methods deep, written
/// by hand: each level is a task `t` whose method `m` has one step `s`.
fn deep_submit(levels: usize) -> Vec<u8> {
    let mut bytes = vec![0]; // decided_ms
    bytes.push(0); // Event::Submitted
    bytes.extend_from_slice(&[1, b'g', 0, 0, 0, 1, 1, 1]); // the intent
    bytes.extend_from_slice(&[1, 0]); // one plan, index 0
    let level = [1, b't', 0, 2, 1, b'm', 0, 0, 1, 1, b's', 0];
    bytes.extend_from_slice(&level.repeat(levels));
    bytes.extend_from_slice(&[1, b't', 0, 1, 1, b'q', 0]); // the innermost: a question
    bytes.extend_from_slice(&vec![0; levels]); // each method's skipped list
    bytes.extend_from_slice(&[0, 0]); // the dag
    bytes.extend_from_slice(&[0, 0, 0]); // no sws ops, rewrite or context
    bytes
}

// Goal: a plan nested far past every limit in a `process.submit` payload, the recursive
// type the issue names, is refused without overflowing the stack; a shallow one written
// the same way reads, so the hand-written layout is the real one.
#[test]
fn a_hostile_deep_plan_is_refused_on_a_small_stack() {
    let shallow = ProcessRecord::decode("process.submit", &deep_submit(2)).unwrap();
    let jitos_sched::Event::Submitted { slaps, .. } = &shallow.event else {
        panic!("{shallow:?}");
    };
    assert_eq!(slaps[0].tree.choices(), ["t=m", "t=m"]);
    let error =
        on_small_stack(|| ProcessRecord::decode("process.submit", &deep_submit(100_000)).map(drop))
            .unwrap_err();
    assert!(error.to_string().contains("nests deeper than"), "{error}");
}

/// A plan nested `levels` compound tasks deep, each level's value as deep as allowed.
fn deep_plan(levels: usize) -> Decomposition {
    let mut tree = Decomposition {
        task: "leaf".into(),
        params: BTreeMap::new(),
        node: Node::Ask(Ask {
            question: "?".into(),
            yes_no: false,
        }),
    };
    for _ in 0..levels {
        tree = Decomposition {
            task: "t".into(),
            params: BTreeMap::new(),
            node: Node::Method {
                method: "m".into(),
                race: false,
                on_failure: OnFailure::Next,
                steps: vec![DecomposedStep {
                    id: "s".into(),
                    after: Vec::new(),
                    sub: tree,
                    verify: None,
                    compensate: None,
                    feedback: None,
                }],
                skipped: Vec::new(),
            },
        };
    }
    tree
}

// Goal: the deepest plan the planner makes (DEPTH_MAX compound levels) reads back, on a
// small stack: the codec's nesting limit leaves room for every valid payload.
#[test]
fn the_deepest_valid_plan_reads_back() {
    let mut record = process_records().remove(0);
    let jitos_sched::Event::Submitted { slaps, .. } = &mut record.event else {
        panic!("the first sample is a submit");
    };
    slaps[0].tree = deep_plan(jitos_tasks::limits::DEPTH_MAX);
    // A submit performs no workspace operation and asks nothing.
    record.sws.clear();
    record.context = None;
    let bytes = record.encode().unwrap();
    let read = on_small_stack(move || {
        ProcessRecord::decode(crate::process_record::KIND_PROCESS_SUBMIT_V2, &bytes).unwrap()
    });
    assert_eq!(read, record);
}

/// The first sample submit with a verify and a compensate job on its first step.
fn submit_with_effects() -> ProcessRecord {
    let mut record = process_records().remove(0);
    record.sws.clear();
    record.context = None;
    let jitos_sched::Event::Submitted { slaps, .. } = &mut record.event else {
        panic!("the first sample is a submit");
    };
    let run = Run {
        worker: "shell".into(),
        args: vec!["check".into()],
        effect: jitos_tasks::Effect::Local,
        idempotent: true,
        timeout_secs: 5,
        retries: 0,
        backoff_ms: 0,
        gate: false,
        paths: Vec::new(),
    };
    if let Node::Method { steps, .. } = &mut slaps[0].tree.node {
        steps[0].verify = Some(run.clone());
        steps[0].compensate = Some(run);
    }
    let first = slaps[0].dag.jobs[0].clone();
    slaps[0].dag.jobs.push(jitos_tasks::JobNode {
        id: format!("{}#verify", first.id),
        after: Vec::new(),
        purpose: jitos_tasks::Purpose::Verify { of: 0 },
        feedback: None,
        ..first
    });
    record
}

// Goal: `process.submit@2` reads back a plan with what version 1 cannot hold (verify and
// compensate jobs, a job's purpose, an effect class beyond the workspace), and its bytes
// are pinned: a change to the plans' serde shape is a new version, not an edit. (A field
// added with a default, such as a job's `feedback`, is left out while it holds it, so these
// bytes, and `store-v5`'s, do not change.)
#[test]
fn version_2_submit_reads_back_and_its_bytes_are_pinned() {
    let record = submit_with_effects();
    let bytes = record.encode().unwrap();
    let read =
        ProcessRecord::decode(crate::process_record::KIND_PROCESS_SUBMIT_V2, &bytes).unwrap();
    assert_eq!(read, record);
    assert_eq!(
        blake3::hash(&bytes).to_hex().as_str(),
        "c0d4a281489d230b1a86ee443d3496ee6ccc4d8b28c1ac55f639bd9bc79e1f05"
    );
}

/// A sample environment with every field set.
fn environment() -> RunEnvironment {
    RunEnvironment {
        host: HostEnvironment {
            daemon_version: "0.1.0".into(),
            config_digest: "c0".repeat(32),
            library_digest: "11".repeat(32),
            builtin_workers: vec![
                BuiltinWorker {
                    name: "noop".into(),
                    version: "0.1.0".into(),
                    binary_digest: Some("22".repeat(32)),
                },
                BuiltinWorker {
                    name: "shell".into(),
                    version: "0.1.0".into(),
                    binary_digest: None,
                },
            ],
            confinement: Confinement {
                landlock_abi: 7,
                seccomp: true,
                mount_namespace: true,
                workers_confined: true,
            },
        },
        installed_workers: vec![InstalledWorker {
            name: "echo".into(),
            version: "1.2.0".into(),
            install_seq: 4,
            binary_digest: "33".repeat(32),
        }],
        policy: Some(PolicyInForce {
            seq: 3,
            hash: "44".repeat(32),
        }),
    }
}

// Goal: a submit with its environment is written as `process.submit@3`, reads back with
// it, and its bytes are pinned: a change to the shape of the environment's fields is a new
// version, not an edit (an added field, at its default, is what the next test reads).
#[test]
fn version_3_submit_reads_back_with_its_environment_and_its_bytes_are_pinned() {
    let record = ProcessRecord {
        environment: Some(Box::new(environment())),
        ..submit_with_effects()
    };
    assert_eq!(record.kind(), crate::process_record::KIND_PROCESS_SUBMIT);
    let bytes = record.encode().unwrap();
    let read = ProcessRecord::decode(crate::process_record::KIND_PROCESS_SUBMIT, &bytes).unwrap();
    assert_eq!(read, record);
    assert_eq!(
        blake3::hash(&bytes).to_hex().as_str(),
        "9fe0f49e1153934a0e0f405936f426458541b5e9d9bfac32f81d77b53c766de4"
    );
    // Only a submit has an environment.
    let mut lane = process_records().remove(1);
    lane.environment = Some(Box::new(environment()));
    assert!(lane.encode().is_err());
}

// Goal: a `process.submit@3` whose environment was edited does not read; one whose
// environment lacks a field it gained since reads back with that field's default.
#[test]
fn version_3_submit_refuses_an_edited_environment_and_reads_older_ones() {
    let record = ProcessRecord {
        environment: Some(Box::new(environment())),
        ..submit_with_effects()
    };
    let bytes = record.encode().unwrap();
    let payload: v3::ProcessSubmit = decode(&bytes).unwrap();
    let mut fields: serde_json::Value = serde_json::from_str(&payload.environment_json).unwrap();

    let edited = payload.environment_json.replacen("noop", "n00p", 1);
    let error = v3_with_json(payload.clone(), edited, false)
        .thaw()
        .unwrap_err()
        .to_string();
    assert!(error.contains("digest"), "{error}");

    fields["host"]
        .as_object_mut()
        .unwrap()
        .remove("confinement")
        .unwrap();
    let older = v3_with_json(payload, fields.to_string(), true)
        .thaw()
        .unwrap();
    let mut expected = environment();
    expected.host.confinement = Confinement::default();
    assert_eq!(older.environment.as_deref(), Some(&expected));
}

/// `payload` with `text` as its environment, rehashed or not.
fn v3_with_json(mut payload: v3::ProcessSubmit, text: String, rehash: bool) -> v3::ProcessSubmit {
    if rehash {
        payload.environment_digest = *blake3::hash(text.as_bytes()).as_bytes();
    }
    payload.environment_json = text;
    payload
}

// Goal: a `process.submit@2` whose plans' text was edited (so it no longer hashes to its
// digest), or that repeats a field, does not read; one lacking a field the plans gained
// since (here a job's `purpose`) reads back as that field's default.
#[test]
fn version_2_submit_refuses_edited_plans_and_reads_older_ones() {
    let bytes = submit_with_effects().encode().unwrap();
    let mut payload: v2::ProcessSubmit = decode(&bytes).unwrap();
    let good = payload.clone();
    payload.plans_json = payload.plans_json.replacen("shell", "shelL", 1);
    let error = payload.thaw().unwrap_err().to_string();
    assert!(error.contains("digest"), "{error}");

    let rehash = |mut payload: v2::ProcessSubmit, text: String| {
        payload.plans_digest = *blake3::hash(text.as_bytes()).as_bytes();
        payload.plans_json = text;
        payload
    };
    let repeated = good
        .plans_json
        .replacen("{\"index\"", "{\"index\":0,\"index\"", 1);
    let error = rehash(good.clone(), repeated)
        .thaw()
        .unwrap_err()
        .to_string();
    assert!(error.contains("duplicate"), "{error}");

    let older = good.plans_json.replace(",\"purpose\":\"Step\"", "");
    assert_ne!(older, good.plans_json, "the sample has steps");
    let read = rehash(good.clone(), older).thaw().unwrap();
    assert_eq!(read, good.thaw().unwrap());
}

// Goal: a length claiming far more bytes than the payload holds fails at once, without
// allocating it. Method: a discard reason claiming 2^40 bytes.
#[test]
fn a_huge_claimed_length_is_refused() {
    let mut bytes = vec![5, 1, 0xfd];
    bytes.extend_from_slice(&(1u64 << 40).to_le_bytes());
    let error = SwsRecord::decode("sws.discard", &bytes).unwrap_err();
    assert!(
        matches!(error, KernelError::Durable(PayloadError::Codec(_))),
        "{error}"
    );
}

// Goal: an unknown variant (a payload of a version this build does not know, under an old
// kind) and trailing bytes are refused.
#[test]
fn unknown_variants_and_trailing_bytes_are_refused() {
    assert!(SwsRecord::decode("sws.rebase", &[9, 1]).is_err());
    assert!(SwsRecord::decode("sws.rebase", &[4, 1, 0]).is_err());
    assert!(SwsRecord::decode("sws.rebase", &[4, 1]).is_ok());
}

// Goal: a plan whose job takes feedback keeps it through `process.submit@2`, while one
// without is written as before the field existed (the pinned bytes above). Method: set a
// job's feedback, encode, decode; and find no `feedback` key in a plan without one.
#[test]
fn a_jobs_feedback_reads_back_and_its_absence_is_not_written() {
    let plain = submit_with_effects();
    let bytes = plain.encode().unwrap();
    assert!(!String::from_utf8_lossy(&bytes).contains("\"feedback\""));
    let mut fed = submit_with_effects();
    if let jitos_sched::Event::Submitted { slaps, .. } = &mut fed.event {
        slaps[0].dag.jobs[0].feedback = Some(jitos_tasks::Feedback { from: 1, rounds: 2 });
    }
    let bytes = fed.encode().unwrap();
    let read = ProcessRecord::decode(fed.kind(), &bytes).unwrap();
    assert_eq!(read, fed);
}
