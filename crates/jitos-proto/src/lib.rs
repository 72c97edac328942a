//! Wire types and framing shared by `jitosd` and its clients.
//!
//! **API Boundary:** everything that crosses the daemon's unix socket is defined here and
//! nowhere else. Framing works on any `std::io::Read`/`Write`, so the daemon can drive it from async
//! code; [`Client`] is the one blocking socket client, shared by the CLI and the tests.

mod client;
mod frame;
mod graph_stream;
mod handshake;
mod job_message;
mod message;
mod page;
mod process_message;
mod token_message;
mod writ_message;

pub use client::{Client, ClientError};
pub use frame::{
    check_frame_len, decode_message, encode_message, read_frame, small_frame, write_frame,
    FrameError, FRAME_BYTES_MAX,
};
pub use graph_stream::{graph_parts, GraphAssembler, GraphEnd, GraphPart};
pub use handshake::{Hello, PrincipalView, Welcome, PROTOCOL_MAGIC, PROTOCOL_VERSION};
pub use job_message::{
    AttemptState, AttemptView, FailureCause, JobSpec, LimitsHeld, PathAccess, SandboxView,
    WorkerLimitsView, WorkerOrigin, WorkerProfile, WorkerView,
};
pub use message::{
    ActorView, BlobGcReport, ConflictEntry, ConflictView, ErrorCode, ErrorInfo, GraphView,
    HistoryEntry, HoldStanding, HoldVoteView, KeyChangeView, RecordView, ReplayReport, Request,
    Response, SecretValue, SnapshotView, StatusInfo, SwsDetail, SwsHold, SwsState, SwsSummary,
    VerifyView,
};
pub use page::{PageRequest, PageView, PAGE_ITEMS_DEFAULT, PAGE_ITEMS_MAX};
pub use process_message::{
    AnswerView, Compared, JobComparison, JobRun, PlanJobKind, PlanJobState, PlanLaneState,
    ProcessDetail, ProcessJobView, ProcessLaneView, ProcessStatus, ProcessSummary, RunComparison,
    RunSide,
};
pub use token_message::{TokenCreated, TokenView};
pub use writ_message::{
    ChangeView, GrantView, KeyView, PolicyView, SimulationView, WritSpec, WritState, WritView,
};
