//! Who is asking, what an act needs of them, and the refusal that says what was missing.

use crate::{Role, Roles};

/// The local user on the other end of a connection, with the roles the access file (and
/// being the daemon's own user) gives them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// Their uid.
    pub uid: u32,
    /// Their user name, or `uid N` when the user database has none.
    pub user: String,
    /// Their roles.
    pub roles: Roles,
}

/// What a request asks to do, as far as authority goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Act {
    /// Read anything: the graph, the records, processes, jobs, workspaces, workers.
    Read,
    /// Work in workspaces, store blobs, run jobs, submit processes: `operator`.
    Operate,
    /// Cancel, or answer a question of, a process or job owned by `owner` (the uid that
    /// submitted or ran it; `None` when no local user did): its owner as `operator`, or an
    /// `admin`.
    Steer {
        /// Who owns what is steered.
        owner: Option<u32>,
    },
    /// Approve or reject a waiting process whose approvals must come from role `from`
    /// (`approver`, unless the policy asks another).
    Approve {
        /// The role the approvals must come from.
        from: Role,
    },
    /// Change the system directly (rewrite or import into the system graph), install a
    /// worker, take a snapshot, collect blobs: `admin`.
    Administer,
}

/// Why an act was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Refusal {
    /// The role that would have allowed it.
    pub needed: Role,
    /// What the principal may not do, and what was missing.
    pub message: String,
}

/// Whether `principal` may do `act`; `what` says it in words for a refusal ("approve
/// process 12"). `admin` may do everything.
pub fn authorize(principal: &Principal, act: Act, what: &str) -> Result<(), Refusal> {
    let roles = principal.roles;
    if roles.has(Role::Admin) {
        return Ok(());
    }
    let refuse = |needed: Role, why: String| {
        Err(Refusal {
            needed,
            message: format!("user {} ({roles}) may not {what}: {why}", principal.user),
        })
    };
    let role_needed = |needed: Role| format!("{needed} role needed");
    match act {
        Act::Read => {
            if Role::ALL.into_iter().any(|role| roles.has(role)) {
                Ok(())
            } else {
                refuse(Role::Viewer, role_needed(Role::Viewer))
            }
        }
        Act::Operate => match roles.has(Role::Operator) {
            true => Ok(()),
            false => refuse(Role::Operator, role_needed(Role::Operator)),
        },
        Act::Steer { owner } => {
            if !roles.has(Role::Operator) {
                return refuse(Role::Operator, role_needed(Role::Operator));
            }
            match owner {
                Some(owner) if owner == principal.uid => Ok(()),
                Some(owner) => refuse(
                    Role::Admin,
                    format!("it belongs to uid {owner}; only its owner or an admin may"),
                ),
                None => refuse(
                    Role::Admin,
                    "no local user owns it; only an admin may".to_owned(),
                ),
            }
        }
        Act::Approve { from } => match roles.has(from) {
            true => Ok(()),
            false => refuse(from, role_needed(from)),
        },
        Act::Administer => refuse(Role::Admin, role_needed(Role::Admin)),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn principal(uid: u32, roles: &[Role]) -> Principal {
        Principal {
            uid,
            user: format!("u{uid}"),
            roles: roles.iter().copied().collect(),
        }
    }

    const ACTS: [Act; 6] = [
        Act::Read,
        Act::Operate,
        Act::Steer { owner: Some(7) },
        Act::Steer { owner: None },
        Act::Approve {
            from: Role::Approver,
        },
        Act::Administer,
    ];

    /// Which of `ACTS` each role alone allows uid 7 (the owner in `Steer`).
    #[test]
    fn each_role_allows_exactly_its_acts() {
        let table: [(&[Role], [bool; 6]); 6] = [
            (&[Role::Admin], [true; 6]),
            (&[Role::Operator], [true, true, true, false, false, false]),
            (&[Role::Approver], [true, false, false, false, true, false]),
            (&[Role::Viewer], [true, false, false, false, false, false]),
            (&[], [false; 6]),
            (
                &[Role::Operator, Role::Approver],
                [true, true, true, false, true, false],
            ),
        ];
        for (roles, allowed) in table {
            let who = principal(7, roles);
            for (act, allowed) in ACTS.into_iter().zip(allowed) {
                assert_eq!(
                    authorize(&who, act, "act").is_ok(),
                    allowed,
                    "{roles:?} {act:?}"
                );
            }
        }
    }

    #[test]
    fn a_refusal_says_who_what_and_what_was_missing() {
        let alice = Principal {
            uid: 1001,
            user: "alice".into(),
            roles: Roles::of(Role::Operator),
        };
        let approve = Act::Approve {
            from: Role::Approver,
        };
        let refused = authorize(&alice, approve, "approve process 12").unwrap_err();
        assert_eq!(refused.needed, Role::Approver);
        assert_eq!(
            refused.message,
            "user alice (operator) may not approve process 12: approver role needed"
        );
        let other =
            authorize(&alice, Act::Steer { owner: Some(1002) }, "cancel process 3").unwrap_err();
        assert_eq!(other.needed, Role::Admin);
        assert!(other.message.contains("belongs to uid 1002"), "{other}");
    }
}
