//! Deciding writ commands: a writ issued (after the key that signed it, when that key is
//! new) and a writ revoked. The fold (`Writs`) checks each against the writs before it.

use jitos_ledger::{Actor, NewRecord};

use super::{Answer, Decided, Working};
use crate::{
    writ_record::{SignedIssue, WritRaise, WritRecord, WritRevoke, REVOKE_REASON_BYTES_MAX},
    KernelError, WritRefusal,
};

/// A writ issued by `actor`, answered with its record.
pub(crate) fn issue(
    working: &Working<'_>,
    actor: Actor,
    signed: SignedIssue,
) -> Result<Decided, KernelError> {
    if let Some(process) = signed.issue.for_process {
        return Err(KernelError::WritRefused(WritRefusal::Binding {
            process,
            why: "a writ is bound to a process only by the process's submit".to_owned(),
        }));
    }
    Ok(Decided {
        records: issue_records(working, actor, signed)?,
        blobs: Vec::new(),
        answer: Answer::Record,
    })
}

/// The records of `signed`: the key that signed it, when it is not the key in force, then
/// the issue.
pub(crate) fn issue_records(
    working: &Working<'_>,
    actor: Actor,
    signed: SignedIssue,
) -> Result<Vec<NewRecord>, KernelError> {
    let mut records = Vec::new();
    if working.state.writs.key() != Some(&signed.signer) {
        records.push(record(Actor::System, &WritRecord::Key(signed.signer))?);
    }
    records.push(record(actor, &WritRecord::Issue(Box::new(signed.issue)))?);
    Ok(records)
}

/// A writ revoked by `actor`.
pub(crate) fn revoke(actor: Actor, revoke: WritRevoke) -> Result<Decided, KernelError> {
    if revoke.reason.len() > REVOKE_REASON_BYTES_MAX {
        return Err(KernelError::Payload(format!(
            "a revocation's reason is at most {REVOKE_REASON_BYTES_MAX} bytes"
        )));
    }
    let revoke = WritRecord::Revoke(revoke);
    Ok(Decided::one(
        actor,
        revoke.kind(),
        revoke.encode()?,
        Answer::Record,
    ))
}

/// A writ's budgets raised by `actor` (an admin: the daemon checks who may).
pub(crate) fn raise(actor: Actor, raise: WritRaise) -> Result<Decided, KernelError> {
    if raise.reason.len() > REVOKE_REASON_BYTES_MAX {
        return Err(KernelError::Payload(format!(
            "a raise's reason is at most {REVOKE_REASON_BYTES_MAX} bytes"
        )));
    }
    let raise = WritRecord::Raise(raise);
    Ok(Decided::one(
        actor,
        raise.kind(),
        raise.encode()?,
        Answer::Record,
    ))
}

fn record(actor: Actor, record: &WritRecord) -> Result<NewRecord, KernelError> {
    Ok(NewRecord {
        kind: record.kind().to_owned(),
        actor,
        payload: record.encode()?,
    })
}
