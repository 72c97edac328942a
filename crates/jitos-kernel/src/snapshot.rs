//! Kernel snapshots: the whole folded state in the bytes the ledger stores as a snapshot,
//! bound by a digest of every part of it.
//!
//! A snapshot is a cache of the fold, never history: one that this build cannot read is
//! skipped and the records are folded instead. So its sections are the in-memory types
//! as serde writes them, not frozen durable types, and `STATE_LAYOUT` names that layout:
//! a snapshot of another layout is *unread* (skipped, not corrupt). The golden test in
//! this file fails when the layout changes without the number changing.
//!
//! Two formats are read; `docs/LEDGER_FORMAT.md` gives both byte for byte.
//! - `JITOSST4` (written now): magic, `STATE_LAYOUT` (u32), the snapshot digest (32), the
//!   graph's canonical snapshot (u64 length, then the bytes), then the pool, the jobs and
//!   the processes (one codec value). The snapshot digest is BLAKE3 derive-key
//!   `jitos.kernel.snapshot.v2` over the graph's state digest, the layout and the sections
//!   as they re-encode; loading recomputes it from what decoded.
//! - `JITOSST3` (written before): magic, the graph's snapshot (u64 length, bytes), the
//!   sections; layout 1, and only its graph is proven.
//!
//! In both, the digest the ledger keeps beside the snapshot is the graph's state digest,
//! the one `status` and `replay` print, and the decoded graph must hash to it.

use jitos_ledger::codec;
use jitos_sched::Processes;
use jitos_sws::Pool;
use jitos_warp::{Graph, StateDigest};

use crate::{jobs::Jobs, Holds, KernelError, RecordedPolicy, State, Writs};

/// Magic of the snapshots written now.
const MAGIC: &[u8; 8] = b"JITOSST4";

/// Magic of the snapshots written before the snapshot digest (layout 1, graph proven only).
const MAGIC_GRAPH_PROVEN: &[u8; 8] = b"JITOSST3";

/// The layout of the sections: `Pool`, `Jobs`, `Processes` and `Writs` as serde writes
/// them. Bump it whenever one of those types (or anything inside them) changes shape, or
/// the fold changes what it keeps in them; the golden test `the_state_layout_is_pinned`
/// says when. Layout 3 held live things only (layout 2 kept every workspace, attempt and
/// process); layout 4 adds the writs, the policy in force and what a process's jobs were
/// ruled and approved; layout 5 a plan's verify and compensate jobs, a process's effects and
/// whether it unwinds; layout 6 a writ's egress, a worker manifest's `fetch`, a job's
/// feedback and a run's feedback rounds; layout 7 the rulings and votes on collapses of
/// workspaces outside processes.
pub const STATE_LAYOUT: u32 = 7;

/// The layout of the sections of a `JITOSST3` snapshot.
const GRAPH_PROVEN_LAYOUT: u32 = 1;

/// Domain separation of the snapshot digest.
const DIGEST_CONTEXT: &str = "jitos.kernel.snapshot.v2";

/// The most the sections may claim while decoding: the ledger's bound on a whole state.
const SECTIONS_BYTES_MAX: usize = jitos_ledger::SNAPSHOT_STATE_BYTES_MAX;

/// Why a snapshot was not used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// Written in a layout this build does not read: not damage; the records are folded
    /// instead.
    Unread(String),
    /// Damaged or forged: it does not decode, or does not match its digests.
    Bad(String),
}

impl Refusal {
    /// The same refusal, its sentence naming the snapshot's seq.
    pub(crate) fn of_seq(self, seq: u64) -> Refusal {
        match self {
            Refusal::Unread(why) => Refusal::Unread(format!("snapshot at seq {seq} {why}")),
            Refusal::Bad(why) => Refusal::Bad(format!("snapshot at seq {seq} {why}")),
        }
    }

    /// The sentence, whichever kind it is.
    pub(crate) fn reason(&self) -> &str {
        match self {
            Refusal::Unread(reason) | Refusal::Bad(reason) => reason,
        }
    }
}

/// The sections, borrowed for encoding.
type SectionsRef<'a> = (
    &'a Pool,
    &'a Jobs,
    &'a Processes,
    &'a Writs,
    &'a Option<RecordedPolicy>,
    &'a Holds,
);

/// The sections, decoded.
type Sections = (Pool, Jobs, Processes, Writs, Option<RecordedPolicy>, Holds);

impl State {
    /// The snapshot bytes of this state, in the current format (`JITOSST4`).
    pub fn encode_snapshot(&self) -> Result<Vec<u8>, KernelError> {
        let sections: SectionsRef<'_> = (
            &self.pool,
            &self.jobs,
            &self.processes,
            &self.writs,
            &self.policy,
            &self.holds,
        );
        let sections = codec::encode::<SECTIONS_BYTES_MAX>(&sections, "the snapshot's sections")
            .map_err(crate::PayloadError::from)?;
        let graph = self.graph.encode_snapshot();
        let digest = snapshot_digest(&self.graph.digest(), STATE_LAYOUT, &sections);
        let mut bytes = Vec::with_capacity(MAGIC.len() + 4 + 32 + 8 + graph.len() + sections.len());
        bytes.extend_from_slice(MAGIC);
        bytes.extend_from_slice(&STATE_LAYOUT.to_le_bytes());
        bytes.extend_from_slice(&digest);
        bytes.extend_from_slice(&(graph.len() as u64).to_le_bytes());
        bytes.extend_from_slice(&graph);
        bytes.extend_from_slice(&sections);
        Ok(bytes)
    }
}

/// The state in snapshot `bytes`, proven: it decodes strictly, its graph hashes to
/// `recorded` (the digest the ledger keeps beside it), and, in the current format, the
/// whole state recomputes to the snapshot digest it carries.
pub(crate) fn prove(bytes: &[u8], recorded: &[u8; 32]) -> Result<State, Refusal> {
    let bad = |why: String| Refusal::Bad(why);
    let (state, carried) = if let Some(rest) = bytes.strip_prefix(MAGIC.as_slice()) {
        let (layout, rest) = take::<4>(rest).map_err(bad)?;
        check_layout(u32::from_le_bytes(layout))?;
        let (carried, rest) = take::<32>(rest).map_err(bad)?;
        (decode_parts(rest).map_err(bad)?, Some(carried))
    } else if let Some(rest) = bytes.strip_prefix(MAGIC_GRAPH_PROVEN.as_slice()) {
        check_layout(GRAPH_PROVEN_LAYOUT)?;
        (decode_parts(rest).map_err(bad)?, None)
    } else {
        return Err(bad(
            "does not start with a kernel snapshot magic (JITOSST3 or JITOSST4)".to_owned(),
        ));
    };
    let graph_digest = state.graph.digest();
    if &graph_digest.0 != recorded {
        return Err(bad(format!(
            "does not match its digest: its graph hashes to {graph_digest}, recorded {}",
            StateDigest(*recorded)
        )));
    }
    if let Some(carried) = carried {
        let sections: SectionsRef<'_> = (
            &state.pool,
            &state.jobs,
            &state.processes,
            &state.writs,
            &state.policy,
            &state.holds,
        );
        let sections = codec::encode::<SECTIONS_BYTES_MAX>(&sections, "the snapshot's sections")
            .map_err(|e| bad(e.to_string()))?;
        if snapshot_digest(&graph_digest, STATE_LAYOUT, &sections) != carried {
            return Err(bad(
                "does not match its snapshot digest: its workspaces, jobs, processes or \
                 writs differ from what was written"
                    .to_owned(),
            ));
        }
    }
    Ok(state)
}

/// Refuses a layout other than this build's, as unread rather than bad.
fn check_layout(layout: u32) -> Result<(), Refusal> {
    if layout == STATE_LAYOUT {
        return Ok(());
    }
    Err(Refusal::Unread(format!(
        "is of state layout {layout}, and this build reads layout {STATE_LAYOUT}; the records \
         after the previous usable snapshot are folded instead"
    )))
}

/// The graph section (u64 length, bytes) and the sections after it.
fn decode_parts(bytes: &[u8]) -> Result<State, String> {
    let (len, rest) = take::<8>(bytes)?;
    let len = usize::try_from(u64::from_le_bytes(len))
        .map_err(|_| "names an impossible graph length".to_owned())?;
    let (graph, sections) = rest
        .split_at_checked(len)
        .ok_or("ends inside its graph section")?;
    let graph = Graph::decode_snapshot(graph).map_err(|e| format!("its graph: {e}"))?;
    let (pool, jobs, processes, writs, policy, holds): Sections =
        codec::decode::<Sections, SECTIONS_BYTES_MAX>(sections, "the snapshot's sections")
            .map_err(|e| e.to_string())?;
    Ok(State {
        graph,
        pool,
        jobs,
        processes,
        writs,
        policy,
        holds,
    })
}

/// The first `N` bytes and the rest, or why there are not `N`.
fn take<const N: usize>(bytes: &[u8]) -> Result<([u8; N], &[u8]), String> {
    let (head, rest) = bytes
        .split_first_chunk::<N>()
        .ok_or("ends inside its header")?;
    Ok((*head, rest))
}

/// The digest that binds a whole snapshot: the graph's state digest, the layout, and the
/// sections' canonical bytes.
fn snapshot_digest(graph: &StateDigest, layout: u32, sections: &[u8]) -> [u8; 32] {
    let mut hasher = blake3::Hasher::new_derive_key(DIGEST_CONTEXT);
    hasher.update(&graph.0);
    hasher.update(&layout.to_le_bytes());
    hasher.update(sections);
    *hasher.finalize().as_bytes()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use jitos_ledger::{Actor, Hash, Record};
    use jitos_warp::{Op, Rewrite};

    use super::*;
    use crate::{
        durable::tests::{install, intent, job_records, rewrite, slap, value},
        job_record::JobRecord,
        process_record::ProcessRecord,
        sws_record::SwsRecord,
    };

    /// A kind and payload, for the records below.
    trait Payload {
        fn kind_and_bytes(&self) -> (String, Vec<u8>);
    }

    macro_rules! payload {
        ($($t:ty)*) => {$(
            impl Payload for $t {
                fn kind_and_bytes(&self) -> (String, Vec<u8>) {
                    (self.kind().to_owned(), self.encode().unwrap())
                }
            }
        )*};
    }
    payload!(SwsRecord JobRecord ProcessRecord);

    fn record_of(record: &impl Payload) -> (String, Vec<u8>) {
        record.kind_and_bytes()
    }

    /// A state with something in every section: a workspace with a change, a running
    /// attempt, an installed worker, a submitted process, a system node.
    fn state() -> State {
        let mut apply = rewrite();
        apply.expect.clear();
        apply.ops.truncate(1);
        let mut dispatch = job_records().remove(1);
        if let JobRecord::Dispatch(d) = &mut dispatch {
            d.sws = 1;
        }
        let payloads: Vec<(String, Vec<u8>)> = vec![
            record_of(&SwsRecord::Create {
                over: jitos_sws::Over::System { at_seq: 0 },
            }),
            record_of(&SwsRecord::Apply {
                sws: 1,
                rewrite: apply,
            }),
            record_of(&dispatch),
            record_of(&JobRecord::Install(install())),
            record_of(&ProcessRecord {
                decided_ms: 6,
                event: jitos_sched::Event::Submitted {
                    intent: intent(),
                    slaps: vec![slap()],
                },
                sws: Vec::new(),
                rewrite: None,
                context: None,
                environment: None,
            }),
            (
                crate::KIND_REWRITE.to_owned(),
                crate::encode_rewrite(&Rewrite {
                    ops: vec![Op::AddNode {
                        id: jitos_warp::NodeId::new("sys:1").unwrap(),
                        kind: "Note".into(),
                        attrs: [("v".to_owned(), value())].into(),
                    }],
                    expect: Vec::new(),
                })
                .unwrap(),
            ),
        ];
        let mut state = State::default();
        for (index, (kind, payload)) in payloads.into_iter().enumerate() {
            let record = Record {
                seq: index as u64 + 1,
                parent: Hash::ZERO,
                kind,
                actor: Actor::System,
                time_ms: 0,
                payload,
                hash: Hash::ZERO,
            };
            state.fold(&record).unwrap();
        }
        state
    }

    fn assert_same(left: &State, right: &State) {
        assert_eq!(left.graph.digest(), right.graph.digest());
        assert!(left.pool == right.pool, "the pools differ");
        assert_eq!(left.jobs, right.jobs);
        assert_eq!(left.processes, right.processes);
        assert_eq!(left.writs, right.writs);
        assert_eq!(left.policy, right.policy);
        assert_eq!(left.holds, right.holds);
    }

    // Goal: a snapshot proves itself and reads back as the state it was taken of.
    #[test]
    fn a_snapshot_reads_back_as_its_state() {
        let state = state();
        assert_eq!(state.jobs.running().count(), 1);
        assert_eq!(state.processes.all().count(), 1);
        let bytes = state.encode_snapshot().unwrap();
        assert_eq!(&bytes[..8], MAGIC);
        let read = prove(&bytes, &state.graph.digest().0).unwrap();
        assert_same(&read, &state);
    }

    // Goal: the sections' layout is pinned: a change to `Pool`, `Jobs` or `Processes` (or
    // to what the fold keeps in them) changes this digest, and must come with a new
    // `STATE_LAYOUT`, so no build misreads an older snapshot as its own. Method: the
    // snapshot digest of a fixed state, against the value it has for layout 3.
    #[test]
    fn the_state_layout_is_pinned() {
        let bytes = state().encode_snapshot().unwrap();
        let digest = hex::encode(&bytes[12..44]);
        assert_eq!(
            (STATE_LAYOUT, digest.as_str()),
            (
                7,
                "d87748385916e6e7314125346208ad38f64bd5445a4dc2f9922b22e619714f26"
            ),
            "the snapshot's sections changed: bump STATE_LAYOUT, then pin the new digest"
        );
    }

    // Goal: a snapshot whose recorded digest is not its graph's, or whose sections changed
    // after it was taken, is bad; one of another layout is unread, not bad.
    #[test]
    fn wrong_digests_are_bad_and_other_layouts_unread() {
        let state = state();
        let digest = state.graph.digest().0;
        let bytes = state.encode_snapshot().unwrap();

        let error = prove(&bytes, &[0; 32]).err().unwrap();
        assert!(
            matches!(&error, Refusal::Bad(why) if why.contains("does not match its digest")),
            "{error:?}"
        );

        // A forger who edits a section must also recompute the digest it carries: the
        // last byte of the sections (the writs' last field) changed.
        let mut edited = bytes.clone();
        let last = edited.len() - 1;
        edited[last] ^= 1;
        assert!(matches!(prove(&edited, &digest), Err(Refusal::Bad(_))));

        let mut other_layout = bytes.clone();
        other_layout[8..12].copy_from_slice(&(STATE_LAYOUT + 1).to_le_bytes());
        let error = prove(&other_layout, &digest).err().unwrap();
        assert!(
            matches!(&error, Refusal::Unread(why) if why.contains("layout")),
            "{error:?}"
        );

        for cut in [0, 7, 11, 40, bytes.len() - 1] {
            assert!(
                matches!(prove(&bytes[..cut], &digest), Err(Refusal::Bad(_))),
                "cut at {cut}"
            );
        }
    }

    // Goal: a snapshot in the format written before the snapshot digest (JITOSST3: the graph
    // and the sections of layout 1, only the graph proven) is unread, not bad, so recovery
    // folds the records instead. Method: bytes laid out as the old `State::encode_snapshot`
    // wrote them; the same sections under the current header are the control.
    #[test]
    fn a_graph_proven_snapshot_is_unread() {
        let state = state();
        let graph = state.graph.encode_snapshot();
        let sections = (&state.pool, &state.jobs, &state.processes);
        let mut bytes = MAGIC_GRAPH_PROVEN.to_vec();
        bytes.extend_from_slice(&(graph.len() as u64).to_le_bytes());
        bytes.extend_from_slice(&graph);
        bytes.extend_from_slice(&codec::encode::<SECTIONS_BYTES_MAX>(&sections, "s").unwrap());
        let refusal = prove(&bytes, &state.graph.digest().0).err().unwrap();
        assert!(
            matches!(&refusal, Refusal::Unread(why) if why.contains("state layout 1")),
            "{refusal:?}"
        );
        let current = state.encode_snapshot().unwrap();
        assert_same(&prove(&current, &state.graph.digest().0).unwrap(), &state);
    }

    // Goal: a snapshot whose plan nests far past every limit, in the processes section that
    // holds the planner's recursive `Decomposition`, is refused as bad without overflowing
    // the stack. Method: a state whose plan has one marked leaf, its encoding spliced with a
    // million levels of methods in place of the leaf, proven on a 256 KiB stack.
    #[test]
    fn a_hostile_deep_plan_in_a_snapshot_is_refused_on_a_small_stack() {
        let mut plan = slap();
        plan.tree = jitos_tasks::Decomposition {
            task: "LEAFMARK".into(),
            params: Default::default(),
            node: jitos_tasks::Node::Ask(jitos_tasks::Ask {
                question: "Q".into(),
                yes_no: false,
            }),
        };
        let mut state = State::default();
        let submit = ProcessRecord {
            decided_ms: 1,
            event: jitos_sched::Event::Submitted {
                intent: intent(),
                slaps: vec![plan],
            },
            sws: Vec::new(),
            rewrite: None,
            context: None,
            environment: None,
        };
        let (kind, payload) = record_of(&submit);
        let record = Record {
            seq: 1,
            parent: Hash::ZERO,
            kind,
            actor: Actor::System,
            time_ms: 0,
            payload,
            hash: Hash::ZERO,
        };
        state.fold(&record).unwrap();
        let bytes = state.encode_snapshot().unwrap();
        let leaf = b"\x08LEAFMARK\x00\x01\x01Q\x00";
        let at = bytes.windows(leaf.len()).position(|w| w == leaf).unwrap();
        let levels = 1_000_000;
        let mut deep = bytes[..at].to_vec();
        deep.extend_from_slice(&[1, b't', 0, 2, 1, b'm', 0, 0, 1, 1, b's', 0].repeat(levels));
        deep.extend_from_slice(leaf);
        deep.extend_from_slice(&vec![0; levels]);
        deep.extend_from_slice(&bytes[at + leaf.len()..]);
        let digest = state.graph.digest().0;
        let refusal = std::thread::Builder::new()
            .stack_size(256 * 1024)
            .spawn(move || prove(&deep, &digest).map(drop))
            .unwrap()
            .join()
            .unwrap()
            .unwrap_err();
        assert!(
            matches!(&refusal, Refusal::Bad(why) if why.contains("nests deeper than")),
            "{refusal:?}"
        );
    }
}
