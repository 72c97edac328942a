//! The built-in roles and sets of them.

use serde::{Deserialize, Serialize};

/// What a principal may do, coarsely; `authorize` says exactly what each act needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Everything.
    Admin,
    /// Submit processes, run jobs, use workspaces, cancel and answer what is their own.
    Operator,
    /// Approve or reject waiting processes.
    Approver,
    /// Read only.
    Viewer,
}

impl Role {
    /// Every role, strongest first.
    pub const ALL: [Role; 4] = [Role::Admin, Role::Operator, Role::Approver, Role::Viewer];

    /// Its name in the access file and in messages.
    pub fn name(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Operator => "operator",
            Role::Approver => "approver",
            Role::Viewer => "viewer",
        }
    }

    /// The role named `name`, if any.
    pub fn from_name(name: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|role| role.name() == name)
    }

    fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A set of roles.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Roles(u8);

impl Roles {
    /// No role: the principal may not use the daemon at all.
    pub const NONE: Roles = Roles(0);

    /// The set holding just `role`.
    pub fn of(role: Role) -> Roles {
        Roles(role.bit())
    }

    /// This set with `other`'s roles added.
    #[must_use]
    pub fn with(self, other: Roles) -> Roles {
        Roles(self.0 | other.0)
    }

    /// Whether `role` is in the set.
    pub fn has(self, role: Role) -> bool {
        self.0 & role.bit() != 0
    }

    /// Whether the set is empty.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The roles in the set, strongest first.
    pub fn iter(self) -> impl Iterator<Item = Role> {
        Role::ALL.into_iter().filter(move |role| self.has(*role))
    }
}

impl FromIterator<Role> for Roles {
    fn from_iter<I: IntoIterator<Item = Role>>(iter: I) -> Roles {
        iter.into_iter()
            .fold(Roles::NONE, |set, role| set.with(Roles::of(role)))
    }
}

impl std::fmt::Display for Roles {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.is_empty() {
            return f.write_str("no role");
        }
        let names: Vec<&str> = self.iter().map(Role::name).collect();
        f.write_str(&names.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_sets_hold_what_was_put_in() {
        for role in Role::ALL {
            assert_eq!(Role::from_name(role.name()), Some(role));
        }
        assert_eq!(Role::from_name("root"), None);
        let set: Roles = [Role::Viewer, Role::Approver].into_iter().collect();
        assert!(set.has(Role::Viewer) && set.has(Role::Approver));
        assert!(!set.has(Role::Admin) && !set.has(Role::Operator));
        assert_eq!(set.to_string(), "approver, viewer");
        assert_eq!(Roles::NONE.to_string(), "no role");
    }
}
