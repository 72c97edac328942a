//! Writs on the daemon's side: its signing key (whose public half the kernel records
//! with the first writ it signs), the writs a person asks for (issued or
//! delegated), the writ each process gets at submit, and how writs read to clients. The
//! kernel checks and records them (`jitos_kernel::Writs`); this module only builds and
//! signs them.

mod key;

use std::{collections::BTreeSet, path::PathBuf, sync::Arc};

use jitos_gov::{
    writ::{canonical_entry, Budget, Scope, Subject, Writ, WritKey},
    Effect, Principal, Role,
};
use jitos_kernel::{
    Command, Grant, KernelHandle, LiveWrit, Outcome, SignedIssue, View, WritIssue, WritRaise,
    WritRecord, WritRevoke, KIND_WRIT_ISSUE,
};
use jitos_ledger::{Actor, Clock};
use jitos_proto::{
    ErrorCode, ErrorInfo, GrantView, KeyView, PageRequest, PageView, Response, WritSpec, WritState,
    WritView,
};
use jitos_tasks::Intent;

pub use key::{load_or_create, KeyError, KEY_FILE};

use crate::{
    answer::kernel_error_info,
    reading,
    reply::{error, info},
};

/// Jobs a writ issued without `--jobs` may dispatch.
pub const ISSUE_JOBS_DEFAULT: u64 = 1024;
/// Seconds of job deadlines a writ issued without `--wall-secs` may spend: one day.
pub const ISSUE_WALL_SECS_DEFAULT: u64 = 24 * 3600;
/// Seconds a writ issued without `--expires` lasts: seven days.
pub const ISSUE_EXPIRES_SECS_DEFAULT: u64 = 7 * 24 * 3600;
/// Delegations a writ issued without `--depth` allows: one, which a process takes.
pub const ISSUE_DEPTH_DEFAULT: u32 = 1;
/// How long a process's writ outlasts the process's wall time, so that a process that
/// runs over ends for its wall time, not for its writ.
pub const PROCESS_WRIT_GRACE_MS: u64 = 60_000;

/// Builds, signs and reads writs.
pub struct WritService {
    kernel: KernelHandle,
    /// None for a read-only daemon with no key: it signs nothing.
    key: Option<Arc<WritKey>>,
    key_path: PathBuf,
    /// The daemon's own user, the issuer of derived writs.
    daemon: Subject,
    clock: Arc<dyn Clock>,
}

impl WritService {
    /// A service signing with `key` (kept in `key_path`).
    pub fn new(
        kernel: KernelHandle,
        key: Option<WritKey>,
        key_path: PathBuf,
        daemon: Subject,
        clock: Arc<dyn Clock>,
    ) -> WritService {
        WritService {
            kernel,
            key: key.map(Arc::new),
            key_path,
            daemon,
            clock,
        }
    }

    /// `jitos key show`.
    pub fn key_view(&self) -> Response {
        match &self.key {
            Some(key) => Response::Key(KeyView {
                public: key.public().to_hex(),
                path: self.key_path.display().to_string(),
            }),
            None => error(
                ErrorCode::NotFound,
                format!(
                    "this jitosd has no writ key: {} does not exist and it runs read-only",
                    self.key_path.display()
                ),
            ),
        }
    }

    /// `jitos writ issue`: a root writ (the access check made it admin-only) or one
    /// delegated from `spec.from`, signed and recorded.
    pub async fn issue(&self, actor: Actor, principal: &Principal, spec: WritSpec) -> Response {
        let subject = match resolve_user(spec.to.clone()).await {
            Ok(subject) => subject,
            Err(message) => return error(ErrorCode::BadRequest, message),
        };
        let now_ms = self.clock.now_ms();
        let issuer = subject_of(principal);
        let parent = match spec.from {
            Some(from) => {
                match reading::on_view(&self.kernel, move |view| held_in_force(view, from, now_ms))
                    .await
                {
                    Ok(Ok(parent)) => Some(parent),
                    Ok(Err(refused)) => return Response::Error(refused),
                    Err(stopped) => return stopped,
                }
            }
            None => None,
        };
        let writ = writ_of_spec(&spec, subject, issuer, parent.as_deref(), now_ms);
        if let Err(problem) = check(&writ, parent.as_deref()) {
            return error(ErrorCode::BadRequest, problem);
        }
        let issue = match self.sign(writ, Grant::Issued) {
            Ok(issue) => issue,
            Err(refused) => return Response::Error(refused),
        };
        let recorded = self
            .kernel
            .execute(actor, Command::WritIssue(Box::new(issue.clone())))
            .await;
        match recorded {
            Ok(Outcome::Recorded(record)) => Response::Writ(Box::new(WritView {
                id: record.seq,
                budget: issue.issue.writ.budget.clone(),
                writ: issue.issue.writ,
                spent: Some(Default::default()),
                state: WritState::InForce,
                for_process: None,
                grant: GrantView::Issued,
                signature: hex::encode(issue.issue.signature.0),
            })),
            Ok(other) => crate::processes::unexpected(&other),
            Err(e) => Response::Error(kernel_error_info(&e)),
        }
    }

    /// `jitos writ revoke`.
    pub async fn revoke(&self, actor: Actor, writ: u64, reason: String) -> Response {
        let recorded = self
            .kernel
            .execute(actor, Command::WritRevoke(WritRevoke { writ, reason }))
            .await;
        match recorded {
            Ok(Outcome::Recorded(record)) => Response::WritRevoked { seq: record.seq },
            Ok(other) => crate::processes::unexpected(&other),
            Err(e) => Response::Error(kernel_error_info(&e)),
        }
    }

    /// `jitos writ raise`.
    pub async fn raise(
        &self,
        actor: Actor,
        writ: u64,
        more: jitos_gov::writ::Spent,
        reason: String,
    ) -> Response {
        let raise = WritRaise { writ, more, reason };
        match self.kernel.execute(actor, Command::WritRaise(raise)).await {
            Ok(Outcome::Recorded(record)) => Response::WritRaised { seq: record.seq },
            Ok(other) => crate::processes::unexpected(&other),
            Err(e) => Response::Error(kernel_error_info(&e)),
        }
    }

    /// The writ a process submitted by `principal` runs under: delegated from `from`, or
    /// derived from the principal's roles. Either is cut to what the intent asks.
    pub fn for_process(
        &self,
        view: &View,
        principal: &Principal,
        intent: &Intent,
        from: Option<u64>,
    ) -> Result<SignedIssue, ErrorInfo> {
        let now_ms = self.clock.now_ms();
        let wall_ms = intent
            .wall_secs
            .saturating_mul(1000)
            .saturating_add(PROCESS_WRIT_GRACE_MS);
        let wall_secs = intent.wall_secs.saturating_mul(intent.parallel as u64);
        let workers = Scope::Only(intent.workers.iter().cloned().collect());
        let paths = match intent.paths.is_empty() {
            true => Scope::All,
            false => Scope::Only(intent.paths.iter().cloned().collect()),
        };
        let subject = subject_of(principal);
        let (writ, grant) = match from {
            Some(from) => {
                let parent = held_in_force(view, from, now_ms)?;
                let within = &parent.writ;
                let writ = Writ {
                    subject: subject.clone(),
                    issuer: subject,
                    parent: Some(from),
                    workers,
                    // An intent that names no paths takes the writ's.
                    paths: match intent.paths.is_empty() {
                        true => within.paths.clone(),
                        false => paths,
                    },
                    effect: within.effect,
                    egress: within.egress.clone(),
                    budget: Budget {
                        jobs: within.budget.jobs.min(intent.max_jobs as u64),
                        wall_secs: within.budget.wall_secs.min(wall_secs),
                        counters: within.budget.counters.clone(),
                    },
                    secrets: within.secrets.clone(),
                    issued_ms: now_ms,
                    expires_ms: within.expires_ms.min(now_ms.saturating_add(wall_ms)),
                    depth: within.depth.saturating_sub(1),
                };
                check(&writ, Some(&parent)).map_err(|problem| {
                    info(
                        ErrorCode::BadRequest,
                        format!("the intent does not fit writ {from}: {problem}"),
                    )
                })?;
                let roles = principal.roles.iter().collect();
                (writ, Grant::Delegated { roles })
            }
            None => {
                let roles: Vec<Role> = principal.roles.iter().collect();
                let writ = Writ {
                    subject,
                    issuer: self.daemon.clone(),
                    parent: None,
                    workers,
                    paths,
                    effect: ceiling_of(principal),
                    // The network is reached only by a writ a person issued with egress.
                    egress: Scope::nothing(),
                    budget: Budget {
                        jobs: intent.max_jobs as u64,
                        wall_secs,
                        counters: Default::default(),
                    },
                    secrets: BTreeSet::new(),
                    issued_ms: now_ms,
                    expires_ms: now_ms.saturating_add(wall_ms),
                    depth: 0,
                };
                check(&writ, None).map_err(|problem| info(ErrorCode::BadRequest, problem))?;
                (writ, Grant::Derived { roles })
            }
        };
        self.sign(writ, grant)
    }

    fn sign(&self, writ: Writ, grant: Grant) -> Result<SignedIssue, ErrorInfo> {
        let key = self.key.as_ref().ok_or_else(|| {
            info(
                ErrorCode::ReadOnly,
                "this jitosd runs read-only and signs no writ",
            )
        })?;
        Ok(SignedIssue {
            issue: WritIssue {
                signature: key.sign(&writ),
                writ,
                for_process: None,
                grant,
            },
            signer: key.public(),
        })
    }
}

/// The highest effect class a writ derived for `principal` grants: an admin's reaches
/// anything, anyone else's stays in their workspaces until a person grants more.
fn ceiling_of(principal: &Principal) -> Effect {
    match principal.roles.has(Role::Admin) {
        true => Effect::Irreversible,
        false => Effect::Workspace,
    }
}

/// The writ `spec` asks for, the parent's values (or the defaults) where it says nothing.
fn writ_of_spec(
    spec: &WritSpec,
    subject: Subject,
    issuer: Subject,
    parent: Option<&LiveWrit>,
    now_ms: u64,
) -> Writ {
    let within = parent.map(|p| &p.writ);
    let scope = |names: &Option<Vec<String>>, inherited: Option<&Scope>| match names {
        Some(names) => Scope::Only(names.iter().cloned().collect()),
        None => inherited.cloned().unwrap_or(Scope::All),
    };
    let expires_ms = match (spec.expires_secs, within) {
        (Some(secs), _) => now_ms.saturating_add(secs.saturating_mul(1000)),
        (None, Some(parent)) => parent.expires_ms,
        (None, None) => now_ms.saturating_add(ISSUE_EXPIRES_SECS_DEFAULT * 1000),
    };
    let mut counters = within
        .map(|w| w.budget.counters.clone())
        .unwrap_or_default();
    counters.extend(spec.counters.iter().cloned());
    Writ {
        subject,
        issuer,
        parent: spec.from,
        workers: scope(&spec.workers, within.map(|w| &w.workers)),
        paths: scope(&spec.paths, within.map(|w| &w.paths)),
        effect: spec
            .effect
            .or(within.map(|w| w.effect))
            .unwrap_or(Effect::Workspace),
        // Each entry in its canonical spelling; one that does not read is kept as given,
        // for `Writ::check` to refuse by name.
        egress: match (&spec.egress, within) {
            (Some(entries), _) => Scope::Only(
                entries
                    .iter()
                    .map(|entry| canonical_entry(entry).unwrap_or_else(|_| entry.clone()))
                    .collect(),
            ),
            (None, Some(parent)) => parent.egress.clone(),
            (None, None) => Scope::nothing(),
        },
        budget: Budget {
            jobs: spec
                .jobs
                .or(within.map(|w| w.budget.jobs))
                .unwrap_or(ISSUE_JOBS_DEFAULT),
            wall_secs: spec
                .wall_secs
                .or(within.map(|w| w.budget.wall_secs))
                .unwrap_or(ISSUE_WALL_SECS_DEFAULT),
            counters,
        },
        secrets: match (&spec.secrets, within) {
            (Some(names), _) => names.iter().cloned().collect(),
            (None, Some(parent)) => parent.secrets.clone(),
            (None, None) => BTreeSet::new(),
        },
        issued_ms: now_ms,
        expires_ms,
        depth: spec.depth.unwrap_or(match within {
            Some(parent) => parent.depth.saturating_sub(1),
            None => ISSUE_DEPTH_DEFAULT,
        }),
    }
}

/// Whether `writ` is well-formed and, when delegated, within its parent: the checks the
/// kernel makes, said before anything is sent to it.
fn check(writ: &Writ, parent: Option<&LiveWrit>) -> Result<(), String> {
    writ.check().map_err(|e| e.to_string())?;
    if let Some(parent) = parent {
        writ.check_within(&parent.writ)
            .map_err(|widening| format!("it would be wider than writ {}: {widening}", parent.id))?;
    }
    Ok(())
}

/// The writ `id` if the daemon holds it and it is in force.
fn held_in_force(view: &View, id: u64, now_ms: u64) -> Result<Arc<LiveWrit>, ErrorInfo> {
    view.state()
        .writs
        .in_force(id, now_ms)
        .cloned()
        .map_err(|refusal| kernel_error_info(&jitos_kernel::KernelError::WritRefused(refusal)))
}

fn subject_of(principal: &Principal) -> Subject {
    Subject {
        uid: principal.uid,
        user: principal.user.clone(),
    }
}

/// The local user `to` names (a user name, or a uid in decimal), from the user database.
async fn resolve_user(to: String) -> Result<Subject, String> {
    let looked = tokio::task::spawn_blocking(move || {
        let by_uid = to.parse::<u32>().ok();
        let user = match by_uid {
            Some(uid) => nix::unistd::User::from_uid(uid.into()),
            None => nix::unistd::User::from_name(&to),
        }
        .map_err(|e| format!("cannot look up user {to}: {e}"))?;
        match (user, by_uid) {
            (Some(user), _) => Ok(Subject {
                uid: user.uid.as_raw(),
                user: user.name,
            }),
            (None, Some(uid)) => Ok(Subject {
                uid,
                user: format!("uid {uid}"),
            }),
            (None, None) => Err(format!("no user {to} on this host")),
        }
    })
    .await;
    looked.map_err(|e| format!("the user lookup stopped: {e}"))?
}

/// One writ as a client reads it: from the state while the daemon holds it, else from
/// the record that issued it.
pub fn writ_view(view: &View, id: u64, now_ms: u64) -> Result<WritView, ErrorInfo> {
    if let Some(live) = view.state().writs.get(id) {
        let state = match &live.revoked {
            Some(revoked) => WritState::Revoked {
                seq: revoked.seq,
                writ: revoked.writ,
                reason: revoked.reason.clone(),
            },
            None if now_ms >= live.writ.expires_ms => WritState::Expired,
            None => WritState::InForce,
        };
        let issue = issued(view, id)?;
        return Ok(WritView {
            id,
            writ: live.writ.clone(),
            budget: live.budget(),
            spent: Some(live.spent.clone()),
            state,
            for_process: live.for_process,
            grant: grant_view(&issue.grant),
            signature: hex::encode(issue.signature.0),
        });
    }
    let issue = issued(view, id)?;
    Ok(WritView {
        id,
        budget: issue.writ.budget.clone(),
        writ: issue.writ,
        spent: None,
        state: WritState::Ended,
        for_process: issue.for_process,
        grant: grant_view(&issue.grant),
        signature: hex::encode(issue.signature.0),
    })
}

/// A page of the writs the daemon holds, newest first: those older than the cursor.
pub fn writ_page(
    view: &View,
    page: &PageRequest,
    now_ms: u64,
) -> Result<PageView<WritView>, ErrorInfo> {
    let limit = page
        .checked_limit()
        .map_err(|message| info(ErrorCode::BadRequest, message))?;
    let mut items = Vec::new();
    let mut next = None;
    for live in view
        .state()
        .writs
        .all()
        .rev()
        .filter(|w| page.after.is_none_or(|after| w.id < after))
    {
        if items.len() == limit {
            next = items.last().map(|w: &WritView| w.id);
            break;
        }
        items.push(writ_view(view, live.id, now_ms)?);
    }
    Ok(PageView { items, next })
}

/// The `writ.issue` record at `id`.
fn issued(view: &View, id: u64) -> Result<WritIssue, ErrorInfo> {
    let not_found = || {
        info(
            ErrorCode::NotFound,
            format!("no writ {id}: record {id} does not issue one; `jitos writ list` lists those in force"),
        )
    };
    let records = view.records(id, 1).map_err(|e| kernel_error_info(&e))?;
    let record = records
        .into_iter()
        .find(|r| r.seq == id && r.kind == KIND_WRIT_ISSUE)
        .ok_or_else(not_found)?;
    match WritRecord::decode(&record.kind, &record.payload) {
        Ok(WritRecord::Issue(issue)) => Ok(*issue),
        Ok(_) => Err(not_found()),
        Err(e) => Err(info(ErrorCode::Storage, format!("record {id}: {e}"))),
    }
}

fn grant_view(grant: &Grant) -> GrantView {
    match grant {
        Grant::Issued => GrantView::Issued,
        Grant::Derived { roles } => GrantView::Derived {
            roles: roles.clone(),
        },
        Grant::Delegated { roles } => GrantView::Delegated {
            roles: roles.clone(),
        },
    }
}
