//! The effect classes: how far a job's work may reach, from nothing past its workspace's
//! graph to what cannot be taken back.

use serde::{Deserialize, Serialize};

/// How far a job's work may reach; the order is the ladder, so a writ's ceiling admits
/// every class at or below it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Effect {
    /// The graph of its workspace only.
    None,
    /// Its workspace's files too.
    Workspace,
    /// Files on this host outside any workspace (`materialize` into a granted directory).
    Local,
    /// Other hosts, through the network.
    Network,
    /// What cannot be undone.
    Irreversible,
}

impl Effect {
    /// Every class, lowest first.
    pub const ALL: [Effect; 5] = [
        Effect::None,
        Effect::Workspace,
        Effect::Local,
        Effect::Network,
        Effect::Irreversible,
    ];

    /// Its name in files, flags and messages.
    pub fn name(self) -> &'static str {
        match self {
            Effect::None => "none",
            Effect::Workspace => "workspace",
            Effect::Local => "local",
            Effect::Network => "network",
            Effect::Irreversible => "irreversible",
        }
    }

    /// The class named `name`, if any.
    pub fn from_name(name: &str) -> Option<Effect> {
        Effect::ALL.into_iter().find(|effect| effect.name() == name)
    }
}

impl std::fmt::Display for Effect {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // `pad`, so a table's width applies.
        f.pad(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ladder_is_ordered_and_names_round_trip() {
        for pair in Effect::ALL.windows(2) {
            assert!(pair[0] < pair[1], "{} < {}", pair[0], pair[1]);
        }
        for effect in Effect::ALL {
            assert_eq!(Effect::from_name(effect.name()), Some(effect));
        }
        assert_eq!(Effect::from_name("global"), None);
    }
}
