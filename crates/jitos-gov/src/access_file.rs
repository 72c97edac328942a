//! The access file (`/etc/jitos/access.toml`): which local users and groups hold which
//! roles, and which group the socket is opened to. Read strictly: a problem names the
//! file, line and column, as the method library's do.

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
};

use jitos_tasks::{line_column, read_source, SourceError};
use serde::Deserialize;
use toml::Spanned;

use crate::{Role, Roles};

/// Where the daemon looks for the access file when `--access` is not given.
pub const ACCESS_FILE_DEFAULT: &str = "/etc/jitos/access.toml";

/// How names in the file become ids: the daemon asks the system's user database; tests
/// bring a table.
pub trait Names {
    /// The uid of the user `name`.
    fn uid_of(&self, name: &str) -> Option<u32>;
    /// The gid of the group `name`.
    fn gid_of(&self, name: &str) -> Option<u32>;
}

/// The roles the access file grants, by uid and by gid, and the socket's group.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccessFile {
    /// Where it was read from; `None` when there is no file.
    path: Option<PathBuf>,
    users: BTreeMap<u32, Roles>,
    groups: BTreeMap<u32, Roles>,
    socket_group: Option<(String, u32)>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileText {
    socket: Option<SocketText>,
    #[serde(default)]
    users: BTreeMap<Spanned<String>, Spanned<Vec<Spanned<String>>>>,
    #[serde(default)]
    groups: BTreeMap<Spanned<String>, Spanned<Vec<Spanned<String>>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SocketText {
    group: Spanned<String>,
}

impl AccessFile {
    /// No file: only the daemon's own user may connect (as `admin`).
    pub fn none() -> AccessFile {
        AccessFile::default()
    }

    /// Reads and checks the access file at `path`, resolving names with `names`.
    pub fn load(path: &Path, names: &dyn Names) -> Result<AccessFile, SourceError> {
        AccessFile::parse(&read_source(path)?, path, names)
    }

    /// Parses and checks access-file text; `path` names it in errors.
    pub fn parse(text: &str, path: &Path, names: &dyn Names) -> Result<AccessFile, SourceError> {
        let error = |offset: usize, message: String| SourceError {
            path: path.to_owned(),
            at: Some(line_column(text, offset)),
            message,
        };
        let file: FileText = toml::from_str(text).map_err(|e| SourceError {
            path: path.to_owned(),
            at: e.span().map(|span| line_column(text, span.start)),
            message: e.message().to_owned(),
        })?;
        let socket_group = match file.socket {
            Some(socket) => {
                let name = socket.group.get_ref();
                let gid = names.gid_of(name).ok_or_else(|| {
                    error(
                        socket.group.span().start,
                        format!("no group named {name:?} on this host; create it (groupadd) or name another"),
                    )
                })?;
                Some((name.clone(), gid))
            }
            None => None,
        };
        let users = grants(file.users, "user", |name| names.uid_of(name), &error)?;
        let groups = grants(file.groups, "group", |name| names.gid_of(name), &error)?;
        if socket_group.is_none() && !(users.is_empty() && groups.is_empty()) {
            return Err(error(
                0,
                "it grants roles but names no [socket] group, so no one it names could reach the socket; add `[socket]` with `group = \"NAME\"`, a group every user it names is in".to_owned(),
            ));
        }
        Ok(AccessFile {
            path: Some(path.to_owned()),
            users,
            groups,
            socket_group,
        })
    }

    /// Where it was read from; `None` when there is no file.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// The group the socket is opened to, with its gid.
    pub fn socket_group(&self) -> Option<(&str, u32)> {
        self.socket_group
            .as_ref()
            .map(|(name, gid)| (name.as_str(), *gid))
    }

    /// The roles the file grants a user `uid` who is in the groups `gids`.
    pub fn roles_of(&self, uid: u32, gids: &[u32]) -> Roles {
        let by_group = gids
            .iter()
            .filter_map(|gid| self.groups.get(gid))
            .fold(Roles::NONE, |set, roles| set.with(*roles));
        self.users
            .get(&uid)
            .copied()
            .unwrap_or_default()
            .with(by_group)
    }

    /// The uids it names.
    pub fn users(&self) -> impl Iterator<Item = u32> + '_ {
        self.users.keys().copied()
    }
}

/// A section of grants (`[users]` or `[groups]`) by id, each name resolved by `id_of`.
fn grants(
    section: BTreeMap<Spanned<String>, Spanned<Vec<Spanned<String>>>>,
    what: &str,
    id_of: impl Fn(&str) -> Option<u32>,
    error: &impl Fn(usize, String) -> SourceError,
) -> Result<BTreeMap<u32, Roles>, SourceError> {
    let mut by_id = BTreeMap::new();
    for (name, roles) in section {
        let id = id_of(name.get_ref()).ok_or_else(|| {
            error(
                name.span().start,
                format!("no {what} named {:?} on this host", name.get_ref()),
            )
        })?;
        // Two names of one id (aliases) grant what both say.
        let granted = roles_of(&roles, error)?;
        let held: &mut Roles = by_id.entry(id).or_default();
        *held = held.with(granted);
    }
    Ok(by_id)
}

fn roles_of(
    roles: &Spanned<Vec<Spanned<String>>>,
    error: &impl Fn(usize, String) -> SourceError,
) -> Result<Roles, SourceError> {
    if roles.get_ref().is_empty() {
        return Err(error(
            roles.span().start,
            "grants no role; name at least one, or remove the line".to_owned(),
        ));
    }
    roles.get_ref().iter().try_fold(Roles::NONE, |set, name| {
        let role = Role::from_name(name.get_ref()).ok_or_else(|| {
            error(
                name.span().start,
                format!(
                    "unknown role {:?}; the roles are admin, operator, approver and viewer",
                    name.get_ref()
                ),
            )
        })?;
        Ok(set.with(Roles::of(role)))
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    struct Table;

    impl Names for Table {
        fn uid_of(&self, name: &str) -> Option<u32> {
            match name {
                "alice" => Some(1001),
                "bob" => Some(1002),
                _ => None,
            }
        }
        fn gid_of(&self, name: &str) -> Option<u32> {
            match name {
                "jitos" => Some(900),
                "reviewers" => Some(901),
                _ => None,
            }
        }
    }

    fn parse(text: &str) -> Result<AccessFile, String> {
        AccessFile::parse(text, Path::new("access.toml"), &Table).map_err(|e| e.to_string())
    }

    #[test]
    fn users_and_groups_grant_the_union_of_their_roles() {
        let file = parse(
            "[socket]\ngroup = \"jitos\"\n[users]\nalice = [\"operator\"]\n[groups]\nreviewers = [\"approver\", \"viewer\"]\n",
        )
        .unwrap();
        assert_eq!(file.socket_group(), Some(("jitos", 900)));
        let alice = file.roles_of(1001, &[900, 901]);
        assert!(alice.has(Role::Operator) && alice.has(Role::Approver));
        assert!(!alice.has(Role::Admin));
        assert_eq!(file.roles_of(1002, &[900]), Roles::NONE);
        assert_eq!(file.roles_of(1002, &[901]).to_string(), "approver, viewer");
    }

    #[test]
    fn problems_name_their_line_and_column() {
        let cases = [
            (
                "[socket]\ngroup = \"jitos\"\n[users]\nalice = [\"oprator\"]\n",
                "access.toml:4:10: unknown role \"oprator\"",
            ),
            (
                "[socket]\ngroup = \"jitos\"\n[users]\ncarol = [\"viewer\"]\n",
                "access.toml:4:1: no user named \"carol\"",
            ),
            (
                "[socket]\ngroup = \"nobody-here\"\n",
                "access.toml:2:9: no group named \"nobody-here\"",
            ),
            (
                "[socket]\ngroup = \"jitos\"\n[users]\nalice = []\n",
                "access.toml:4:9: grants no role",
            ),
            ("[users]\nalice = [\"viewer\"]\n", "names no [socket] group"),
            ("[sockets]\n", "access.toml:1:2: unknown field `sockets`"),
        ];
        for (text, wanted) in cases {
            let error = parse(text).unwrap_err();
            assert!(error.contains(wanted), "{text:?} gave {error:?}");
        }
    }

    #[test]
    fn no_file_grants_nothing() {
        let none = AccessFile::none();
        assert_eq!(none.roles_of(0, &[0]), Roles::NONE);
        assert_eq!(none.path(), None);
        assert_eq!(parse("").unwrap().roles_of(1001, &[]), Roles::NONE);
    }
}
