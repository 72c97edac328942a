//! Who is on the other end of a connection and what they may do: principals from peer
//! credentials and the access file, each request's act, and the bounded audit of
//! refusals.

mod acts;
mod audit;

use std::{ffi::CString, path::Path};

use jitos_gov::{AccessFile, Names, Principal, Role, Roles, ACCESS_FILE_DEFAULT};
use jitos_tasks::SourceError;
use nix::unistd::{getgrouplist, Gid, Group, Uid, User};

pub(crate) use acts::act_of;
pub use audit::Audit;

/// The access file in force and the daemon's own uid, which is always `admin`.
#[derive(Debug, Clone)]
pub struct Access {
    file: AccessFile,
    daemon_uid: u32,
}

impl Access {
    /// Only the daemon's own user, as `admin`: what a daemon without an access file
    /// allows (and what an embedded daemon uses).
    pub fn daemon_only() -> Access {
        Access {
            file: AccessFile::none(),
            daemon_uid: Uid::current().as_raw(),
        }
    }

    /// The access file at `path`, or at [`ACCESS_FILE_DEFAULT`] if that exists, or none.
    pub fn load(path: Option<&Path>) -> Result<Access, SourceError> {
        let default = Path::new(ACCESS_FILE_DEFAULT);
        let path = match path {
            Some(path) => path,
            None if default.exists() => default,
            None => return Ok(Access::daemon_only()),
        };
        Ok(Access {
            file: AccessFile::load(path, &SystemNames)?,
            daemon_uid: Uid::current().as_raw(),
        })
    }

    /// The group the socket is opened to, if the file names one.
    pub fn socket_group(&self) -> Option<(&str, u32)> {
        self.file.socket_group()
    }

    /// The uids the file names, for the start-up check that each can reach the socket.
    pub fn named_users(&self) -> impl Iterator<Item = u32> + '_ {
        self.file.users()
    }

    /// The principal with peer credentials `uid` and `gid`: their name and groups from
    /// the user database, their roles from the file (and `admin` for the daemon's uid).
    pub fn principal(&self, uid: u32, gid: u32) -> Principal {
        let user = User::from_uid(Uid::from_raw(uid)).ok().flatten();
        let mut gids = vec![gid];
        if let Some(user) = &user {
            gids.extend(groups_of(user).into_iter().map(Gid::as_raw));
        }
        let mut roles = self.file.roles_of(uid, &gids);
        if uid == self.daemon_uid {
            roles = roles.with(Roles::of(Role::Admin));
        }
        Principal {
            uid,
            user: user.map_or_else(|| format!("uid {uid}"), |user| user.name),
            roles,
        }
    }

    /// The daemon's own user, as a writ names its issuer.
    pub fn daemon_subject(&self) -> jitos_gov::writ::Subject {
        let user = User::from_uid(Uid::from_raw(self.daemon_uid))
            .ok()
            .flatten();
        jitos_gov::writ::Subject {
            uid: self.daemon_uid,
            user: user.map_or_else(|| format!("uid {}", self.daemon_uid), |user| user.name),
        }
    }

    /// Why a principal with no role may not connect, and what would let them.
    pub fn no_role_message(&self, principal: &Principal) -> String {
        let who = format!("user {} (uid {})", principal.user, principal.uid);
        match self.file.path() {
            Some(path) => format!(
                "{who} may not use this jitosd: {} grants them no role; an admin adds them under [users] (or one of their groups under [groups]) and reloads jitosd (systemctl reload jitosd, or SIGHUP)",
                path.display()
            ),
            None => format!(
                "{who} may not use this jitosd: without an access file only its own user (uid {}) may; an admin writes {ACCESS_FILE_DEFAULT} (or gives --access FILE) naming them",
                self.daemon_uid
            ),
        }
    }
}

/// Every group `user` is in, by the user database; just the primary one if it cannot say.
pub(crate) fn groups_of(user: &User) -> Vec<Gid> {
    CString::new(user.name.as_bytes())
        .ok()
        .and_then(|name| getgrouplist(&name, user.gid).ok())
        .unwrap_or_else(|| vec![user.gid])
}

/// Names resolved through the system's user database.
struct SystemNames;

impl Names for SystemNames {
    fn uid_of(&self, name: &str) -> Option<u32> {
        User::from_name(name).ok().flatten().map(|u| u.uid.as_raw())
    }

    fn gid_of(&self, name: &str) -> Option<u32> {
        Group::from_name(name)
            .ok()
            .flatten()
            .map(|g| g.gid.as_raw())
    }
}
