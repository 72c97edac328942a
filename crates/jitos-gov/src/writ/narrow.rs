//! Narrowing: a writ delegated from another may grant no more than it, on every field.

use super::{limits::listed, Writ};

/// A field of a writ that a delegated writ may not widen, in the order they are checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum WritField {
    /// The workers its jobs may run.
    Workers,
    /// The path prefixes its jobs may change.
    Paths,
    /// Its effect ceiling.
    Effect,
    /// Its budget of jobs.
    Jobs,
    /// Its budget of wall-clock seconds.
    WallSecs,
    /// One of its budget's named counters.
    Counter,
    /// The secrets its jobs may receive.
    Secrets,
    /// The origins and methods its jobs may reach.
    Egress,
    /// When it expires.
    Expiry,
    /// How many further delegations it allows.
    Depth,
}

impl WritField {
    /// Every field, in the order `check_within` checks them.
    pub const ALL: [WritField; 10] = [
        WritField::Workers,
        WritField::Paths,
        WritField::Effect,
        WritField::Jobs,
        WritField::WallSecs,
        WritField::Counter,
        WritField::Secrets,
        WritField::Egress,
        WritField::Expiry,
        WritField::Depth,
    ];

    /// Its name in messages.
    pub fn name(self) -> &'static str {
        match self {
            WritField::Workers => "workers",
            WritField::Paths => "paths",
            WritField::Effect => "effect",
            WritField::Jobs => "jobs",
            WritField::WallSecs => "wall seconds",
            WritField::Counter => "counter",
            WritField::Secrets => "secrets",
            WritField::Egress => "egress",
            WritField::Expiry => "expiry",
            WritField::Depth => "depth",
        }
    }
}

impl std::fmt::Display for WritField {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Why a writ does not lie within another: the first field, in [`WritField::ALL`]'s order,
/// that grants more, with both values in words.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Widening {
    /// The field that grants more.
    pub field: WritField,
    /// What it grants and what the other allows.
    pub message: String,
}

impl Widening {
    pub(crate) fn new(field: WritField, message: String) -> Widening {
        Widening { field, message }
    }
}

impl Writ {
    /// Whether this writ may be delegated from `parent`: it grants no more on any field
    /// (workers, paths, effect, budget, secrets, egress, expiry) and allows fewer delegations below
    /// it than `parent` does, so a parent of depth 0 has no children. The first field that
    /// grants more is reported, in [`WritField::ALL`]'s order.
    ///
    /// Who issued it and which writ it names as its parent are the kernel's to check: it
    /// knows the ids and who is asking.
    pub fn check_within(&self, parent: &Writ) -> Result<(), Widening> {
        if !self.workers.names_within(&parent.workers) {
            let message = match (&self.workers, &parent.workers) {
                (super::Scope::Only(mine), super::Scope::Only(theirs)) => {
                    let extra: Vec<String> = mine.difference(theirs).cloned().collect();
                    format!(
                        "workers {} are not among the parent's workers {}",
                        listed(extra.iter()),
                        parent.workers.describe()
                    )
                }
                _ => format!(
                    "workers {} exceed the parent's workers {}",
                    self.workers.describe(),
                    parent.workers.describe()
                ),
            };
            return Err(Widening::new(WritField::Workers, message));
        }
        if !self.paths.paths_within(&parent.paths) {
            let message = match &self.paths {
                super::Scope::Only(mine) => {
                    let outside: Vec<String> = mine
                        .iter()
                        .filter(|path| !parent.paths.covers_path(path))
                        .cloned()
                        .collect();
                    format!(
                        "paths {} lie under none of the parent's paths {}",
                        listed(outside.iter()),
                        parent.paths.describe()
                    )
                }
                super::Scope::All => format!(
                    "paths all (the whole tree) exceed the parent's paths {}",
                    parent.paths.describe()
                ),
            };
            return Err(Widening::new(WritField::Paths, message));
        }
        if self.effect > parent.effect {
            return Err(Widening::new(
                WritField::Effect,
                format!(
                    "effect {} exceeds the parent's ceiling {}",
                    self.effect, parent.effect
                ),
            ));
        }
        self.budget.check_within(&parent.budget)?;
        if !self.secrets.is_subset(&parent.secrets) {
            let extra: Vec<String> = self.secrets.difference(&parent.secrets).cloned().collect();
            return Err(Widening::new(
                WritField::Secrets,
                format!(
                    "secrets {} are not among the parent's secrets ({})",
                    listed(extra.iter()),
                    listed(parent.secrets.iter())
                ),
            ));
        }
        super::egress::check_within(&self.egress, &parent.egress)?;
        if self.expires_ms > parent.expires_ms {
            return Err(Widening::new(
                WritField::Expiry,
                format!(
                    "expiry at {} ms is after the parent's expiry at {} ms",
                    self.expires_ms, parent.expires_ms
                ),
            ));
        }
        if self.depth >= parent.depth {
            let message = match parent.depth {
                0 => "the parent has depth 0 and allows no delegation at all".to_owned(),
                depth => format!(
                    "depth {} is not below the parent's depth {depth}; at most {} is allowed",
                    self.depth,
                    depth - 1
                ),
            };
            return Err(Widening::new(WritField::Depth, message));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::super::{tests::sample, Scope};
    use super::*;
    use crate::Effect;

    fn only(entries: &[&str]) -> Scope {
        Scope::Only(entries.iter().map(|entry| (*entry).to_owned()).collect())
    }

    #[test]
    fn a_copy_with_less_depth_is_within_and_an_equal_copy_is_not() {
        let parent = sample();
        let mut child = parent.clone();
        child.depth = parent.depth - 1;
        assert_eq!(child.check_within(&parent), Ok(()));
        let refused = parent.check_within(&parent).unwrap_err();
        assert_eq!(refused.field, WritField::Depth);
        assert_eq!(
            refused.message,
            "depth 2 is not below the parent's depth 2; at most 1 is allowed"
        );
    }

    #[test]
    fn a_parent_of_depth_zero_has_no_children() {
        let mut parent = sample();
        parent.depth = 0;
        let child = parent.clone();
        let refused = child.check_within(&parent).unwrap_err();
        assert_eq!(refused.field, WritField::Depth);
        assert!(
            refused.message.contains("allows no delegation"),
            "{refused}"
        );
    }

    #[test]
    fn messages_name_the_field_and_both_values() {
        let parent = sample();
        let mut child = parent.clone();
        child.depth = 0;

        let mut wide = child.clone();
        wide.effect = Effect::Irreversible;
        assert_eq!(
            wide.check_within(&parent).unwrap_err().message,
            "effect irreversible exceeds the parent's ceiling network"
        );

        let mut wide = child.clone();
        wide.workers = only(&["build", "deploy"]);
        assert_eq!(
            wide.check_within(&parent).unwrap_err().message,
            "workers \"deploy\" are not among the parent's workers (\"build\", \"test\")"
        );
        wide.workers = Scope::All;
        assert_eq!(
            wide.check_within(&parent).unwrap_err().message,
            "workers all exceed the parent's workers (\"build\", \"test\")"
        );

        let mut wide = child.clone();
        wide.paths = only(&["srcx"]);
        assert_eq!(
            wide.check_within(&parent).unwrap_err().message,
            "paths \"srcx\" lie under none of the parent's paths (\"docs/api\", \"src\")"
        );

        let mut wide = child.clone();
        wide.secrets.insert("root-password".to_owned());
        assert_eq!(
            wide.check_within(&parent).unwrap_err().message,
            "secrets \"root-password\" are not among the parent's secrets (\"github-token\")"
        );

        let mut wide = child;
        wide.expires_ms = parent.expires_ms + 1;
        let refused = wide.check_within(&parent).unwrap_err();
        assert_eq!(refused.field, WritField::Expiry);
        assert_eq!(
            refused.message,
            "expiry at 1700003600001 ms is after the parent's expiry at 1700003600000 ms"
        );
    }

    #[test]
    fn the_first_wider_field_in_order_is_reported() {
        let parent = sample();
        let mut child = parent.clone();
        child.secrets.insert("more".to_owned());
        child.effect = Effect::Irreversible;
        child.depth = parent.depth;
        assert_eq!(
            child.check_within(&parent).unwrap_err().field,
            WritField::Effect
        );
    }

    #[test]
    fn field_names_are_distinct() {
        let names: std::collections::BTreeSet<&str> =
            WritField::ALL.iter().map(|field| field.name()).collect();
        assert_eq!(names.len(), WritField::ALL.len());
    }
}
