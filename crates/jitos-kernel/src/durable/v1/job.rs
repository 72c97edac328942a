//! Version 1 of the job and registry records' payloads (`job.*`, `worker.install`), laid
//! out exactly as bincode wrote `JobRecord`, and of the SDK's `Manifest` as it was when
//! `worker.install` records held it whole.

use jitos_ledger::codec::ByteString;
use jitos_warp::BlobRef;
use serde::{Deserialize, Serialize};

use super::warp::Rewrite;
use crate::durable::{freeze_usize, thaw_usize, Frozen, PayloadError};
use crate::job_record::{self as live, JobRecord as LiveRecord};

/// The payload of every `job.*` kind and of `worker.install`; its variant is the kind.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum JobRecord {
    Dispatch(Dispatch),
    Done {
        attempt: u64,
        rewrites: Vec<Rewrite>,
        results: Results,
    },
    Failed {
        attempt: u64,
        cause: FailureCause,
        detail: String,
    },
    Refused {
        attempt: u64,
        reason: String,
    },
    Install(WorkerInstall),
}

/// `Dispatch`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Dispatch {
    worker: String,
    worker_version: String,
    sws: u64,
    args: Vec<String>,
    input: ByteString,
    deadline_ms: u64,
    effect: Effect,
    paths: Vec<String>,
    owner: Option<Owner>,
}

/// `Effect`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum Effect {
    GraphOnly,
    Files,
}

/// `Owner`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Owner {
    process: u64,
    job: u64,
}

/// `FailureCause`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum FailureCause {
    Spawn,
    Worker,
    Protocol,
    Crashed,
    Deadline,
    Cancelled,
    Interrupted,
}

/// `Results`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Results {
    artifacts: Vec<(String, [u8; 32])>,
    exit_status: i32,
    cpu_ms: u64,
    max_rss_kib: u64,
}

/// `WorkerInstall` as version 1 held it: the manifest's fields themselves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct WorkerInstall {
    manifest: Manifest,
    binary: String,
    binary_digest: [u8; 32],
}

/// `jitos_worker::Manifest` as it was when version 1 recorded it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Manifest {
    name: String,
    version: String,
    binary: String,
    sandbox_profile: SandboxProfile,
    effect_class: EffectClass,
    input_schema: InputKind,
    needs: Vec<Need>,
    limits: LimitsRequest,
}

/// `jitos_worker::SandboxProfile`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum SandboxProfile {
    Pure,
    Shell,
}

/// `jitos_worker::EffectClass`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum EffectClass {
    None,
    Workspace,
}

/// `jitos_worker::InputKind` (an `InputSchema` is a struct of one field, which bincode
/// writes as that field alone).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum InputKind {
    Bytes,
    Json,
}

/// `jitos_worker::Need`, its path as text (serde writes a `PathBuf` so).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Need {
    path: String,
    access: Access,
}

/// `jitos_worker::Access`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum Access {
    Read,
    Write,
}

/// `jitos_worker::LimitsRequest`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct LimitsRequest {
    cpu_seconds: Option<u64>,
    address_space_mib: Option<u64>,
    open_files: Option<u64>,
    processes: Option<u64>,
    file_size_mib: Option<u64>,
}

impl Frozen for JobRecord {
    type Live = LiveRecord;

    fn freeze(live: &LiveRecord) -> JobRecord {
        match live {
            LiveRecord::Dispatch(dispatch) => JobRecord::Dispatch(Dispatch::freeze(dispatch)),
            LiveRecord::Done {
                attempt,
                rewrites,
                results,
            } => JobRecord::Done {
                attempt: *attempt,
                rewrites: Frozen::freeze(rewrites),
                results: Results::freeze(results),
            },
            LiveRecord::Failed {
                attempt,
                cause,
                detail,
            } => JobRecord::Failed {
                attempt: *attempt,
                cause: FailureCause::freeze(cause),
                detail: detail.clone(),
            },
            LiveRecord::Refused { attempt, reason } => JobRecord::Refused {
                attempt: *attempt,
                reason: reason.clone(),
            },
            LiveRecord::Install(install) => JobRecord::Install(WorkerInstall::freeze(install)),
        }
    }

    fn thaw(self) -> Result<LiveRecord, PayloadError> {
        Ok(match self {
            JobRecord::Dispatch(dispatch) => LiveRecord::Dispatch(dispatch.thaw()?),
            JobRecord::Done {
                attempt,
                rewrites,
                results,
            } => LiveRecord::Done {
                attempt,
                rewrites: rewrites.thaw()?,
                results: results.thaw()?,
            },
            JobRecord::Failed {
                attempt,
                cause,
                detail,
            } => LiveRecord::Failed {
                attempt,
                cause: cause.thaw()?,
                detail,
            },
            JobRecord::Refused { attempt, reason } => LiveRecord::Refused { attempt, reason },
            JobRecord::Install(install) => LiveRecord::Install(install.thaw()?),
        })
    }
}

impl Frozen for Dispatch {
    type Live = live::Dispatch;

    fn freeze(live: &live::Dispatch) -> Dispatch {
        Dispatch {
            worker: live.worker.clone(),
            worker_version: live.worker_version.clone(),
            sws: live.sws,
            args: live.args.clone(),
            input: ByteString(live.input.clone()),
            deadline_ms: live.deadline_ms,
            effect: Effect::freeze(&live.effect),
            paths: live.paths.clone(),
            owner: Frozen::freeze(&live.owner),
        }
    }

    fn thaw(self) -> Result<live::Dispatch, PayloadError> {
        Ok(live::Dispatch {
            worker: self.worker,
            worker_version: self.worker_version,
            sws: self.sws,
            args: self.args,
            input: self.input.0,
            deadline_ms: self.deadline_ms,
            effect: self.effect.thaw()?,
            paths: self.paths,
            owner: self.owner.thaw()?,
        })
    }
}

impl Frozen for Effect {
    type Live = live::Effect;

    fn freeze(live: &live::Effect) -> Effect {
        match live {
            live::Effect::GraphOnly => Effect::GraphOnly,
            live::Effect::Files => Effect::Files,
        }
    }

    fn thaw(self) -> Result<live::Effect, PayloadError> {
        Ok(match self {
            Effect::GraphOnly => live::Effect::GraphOnly,
            Effect::Files => live::Effect::Files,
        })
    }
}

impl Frozen for Owner {
    type Live = live::Owner;

    fn freeze(live: &live::Owner) -> Owner {
        Owner {
            process: live.process,
            job: freeze_usize(live.job),
        }
    }

    fn thaw(self) -> Result<live::Owner, PayloadError> {
        Ok(live::Owner {
            process: self.process,
            job: thaw_usize(self.job, "owner's job")?,
        })
    }
}

impl Frozen for FailureCause {
    type Live = live::FailureCause;

    fn freeze(live: &live::FailureCause) -> FailureCause {
        use live::FailureCause as L;
        match live {
            L::Spawn => FailureCause::Spawn,
            L::Worker => FailureCause::Worker,
            L::Protocol => FailureCause::Protocol,
            L::Crashed => FailureCause::Crashed,
            L::Deadline => FailureCause::Deadline,
            L::Cancelled => FailureCause::Cancelled,
            L::Interrupted => FailureCause::Interrupted,
            // Version 1 has no name for it: `JobRecord::encode` writes such a failure as
            // `job.failed@2`, so no version 1 payload is made of it.
            L::Budget => FailureCause::Worker,
        }
    }

    fn thaw(self) -> Result<live::FailureCause, PayloadError> {
        use live::FailureCause as L;
        Ok(match self {
            FailureCause::Spawn => L::Spawn,
            FailureCause::Worker => L::Worker,
            FailureCause::Protocol => L::Protocol,
            FailureCause::Crashed => L::Crashed,
            FailureCause::Deadline => L::Deadline,
            FailureCause::Cancelled => L::Cancelled,
            FailureCause::Interrupted => L::Interrupted,
        })
    }
}

impl Frozen for Results {
    type Live = live::Results;

    fn freeze(live: &live::Results) -> Results {
        Results {
            artifacts: live
                .artifacts
                .iter()
                .map(|(name, blob)| (name.clone(), blob.0))
                .collect(),
            exit_status: live.exit_status,
            cpu_ms: live.cpu_ms,
            max_rss_kib: live.max_rss_kib,
        }
    }

    fn thaw(self) -> Result<live::Results, PayloadError> {
        Ok(live::Results {
            artifacts: self
                .artifacts
                .into_iter()
                .map(|(name, blob)| (name, BlobRef(blob)))
                .collect(),
            exit_status: self.exit_status,
            cpu_ms: self.cpu_ms,
            max_rss_kib: self.max_rss_kib,
        })
    }
}

impl Frozen for WorkerInstall {
    type Live = live::WorkerInstall;

    fn freeze(live: &live::WorkerInstall) -> WorkerInstall {
        WorkerInstall {
            manifest: Manifest::freeze(&live.manifest),
            binary: live.binary.clone(),
            binary_digest: live.binary_digest,
        }
    }

    fn thaw(self) -> Result<live::WorkerInstall, PayloadError> {
        Ok(live::WorkerInstall {
            manifest: self.manifest.thaw()?,
            binary: self.binary,
            binary_digest: self.binary_digest,
        })
    }
}

impl Frozen for Manifest {
    type Live = jitos_worker::Manifest;

    fn freeze(live: &jitos_worker::Manifest) -> Manifest {
        use jitos_worker::{Access as A, EffectClass as E, InputKind as I, SandboxProfile as S};
        Manifest {
            name: live.name.clone(),
            version: live.version.clone(),
            binary: live.binary.clone(),
            sandbox_profile: match live.sandbox_profile {
                S::Pure => SandboxProfile::Pure,
                S::Shell => SandboxProfile::Shell,
            },
            effect_class: match live.effect_class {
                E::None => EffectClass::None,
                // Version 1 knew no class beyond the workspace; such a manifest is
                // written as `worker.install@2`, never here.
                E::Workspace | E::Local | E::Network | E::Irreversible => EffectClass::Workspace,
            },
            input_schema: match live.input_schema.kind {
                I::Bytes => InputKind::Bytes,
                I::Json => InputKind::Json,
            },
            needs: live
                .needs
                .iter()
                .map(|need| Need {
                    path: need.path.to_string_lossy().into_owned(),
                    access: match need.access {
                        A::Read => Access::Read,
                        A::Write => Access::Write,
                    },
                })
                .collect(),
            limits: LimitsRequest {
                cpu_seconds: live.limits.cpu_seconds,
                address_space_mib: live.limits.address_space_mib,
                open_files: live.limits.open_files,
                processes: live.limits.processes,
                file_size_mib: live.limits.file_size_mib,
            },
        }
    }

    fn thaw(self) -> Result<jitos_worker::Manifest, PayloadError> {
        use jitos_worker::{Access as A, EffectClass as E, InputKind as I, SandboxProfile as S};
        Ok(jitos_worker::Manifest {
            name: self.name,
            version: self.version,
            binary: self.binary,
            sandbox_profile: match self.sandbox_profile {
                SandboxProfile::Pure => S::Pure,
                SandboxProfile::Shell => S::Shell,
            },
            effect_class: match self.effect_class {
                EffectClass::None => E::None,
                EffectClass::Workspace => E::Workspace,
            },
            input_schema: jitos_worker::InputSchema {
                kind: match self.input_schema {
                    InputKind::Bytes => I::Bytes,
                    InputKind::Json => I::Json,
                },
            },
            needs: self
                .needs
                .into_iter()
                .map(|need| jitos_worker::Need {
                    path: need.path.into(),
                    access: match need.access {
                        Access::Read => A::Read,
                        Access::Write => A::Write,
                    },
                })
                .collect(),
            limits: jitos_worker::LimitsRequest {
                cpu_seconds: self.limits.cpu_seconds,
                address_space_mib: self.limits.address_space_mib,
                open_files: self.limits.open_files,
                processes: self.limits.processes,
                file_size_mib: self.limits.file_size_mib,
            },
            // Version 1 was written before a manifest could say so.
            reusable: false,
            fetch: false,
        })
    }
}
