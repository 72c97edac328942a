//! Scopes: the workers, or the path prefixes of the tree, a writ grants.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

/// What a writ grants of one kind: everything, or only the named entries (workers by name,
/// or path prefixes of the tree). `Only` of an empty set grants nothing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// Everything of its kind.
    All,
    /// Only these.
    Only(BTreeSet<String>),
}

impl Scope {
    /// The scope granting nothing.
    pub fn nothing() -> Scope {
        Scope::Only(BTreeSet::new())
    }

    /// Whether it grants the worker `name`: exact names, no patterns.
    pub fn has_name(&self, name: &str) -> bool {
        match self {
            Scope::All => true,
            Scope::Only(names) => names.contains(name),
        }
    }

    /// Whether it grants the path `path`, read as path prefixes: `path` lies under one of
    /// them (see [`path_under`]).
    pub fn covers_path(&self, path: &str) -> bool {
        match self {
            Scope::All => true,
            Scope::Only(prefixes) => prefixes.iter().any(|prefix| path_under(path, prefix)),
        }
    }

    /// Whether, as names, it grants no more than `other` does.
    pub fn names_within(&self, other: &Scope) -> bool {
        match (self, other) {
            (_, Scope::All) => true,
            (Scope::All, Scope::Only(_)) => false,
            (Scope::Only(mine), Scope::Only(theirs)) => mine.is_subset(theirs),
        }
    }

    /// Whether, as path prefixes, it grants no more than `other` does: every prefix of it
    /// lies under one of `other`'s.
    pub fn paths_within(&self, other: &Scope) -> bool {
        match (self, other) {
            (_, Scope::All) => true,
            (Scope::All, Scope::Only(_)) => false,
            (Scope::Only(mine), Scope::Only(_)) => {
                mine.iter().all(|prefix| other.covers_path(prefix))
            }
        }
    }

    /// Its entries for a message: "all", or the names.
    pub(crate) fn describe(&self) -> String {
        match self {
            Scope::All => "all".to_owned(),
            Scope::Only(entries) => format!("({})", super::limits::listed(entries.iter())),
        }
    }
}

/// Whether `path` lies under `prefix`, component by component: `src` covers `src` and
/// `src/a.rs` but not `srcx`. Both are taken as written (relative, no empty, `.` or `..`
/// components); the writ checks them, so no normalization is done here.
pub fn path_under(path: &str, prefix: &str) -> bool {
    match path.strip_prefix(prefix) {
        Some(rest) => rest.is_empty() || rest.starts_with('/'),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn only(entries: &[&str]) -> Scope {
        Scope::Only(entries.iter().map(|entry| (*entry).to_owned()).collect())
    }

    #[test]
    fn a_prefix_covers_itself_and_below_but_not_a_longer_sibling() {
        assert!(path_under("src", "src"));
        assert!(path_under("src/a.rs", "src"));
        assert!(path_under("a/b", "a"));
        assert!(path_under("a/b/c", "a/b"));
        assert!(!path_under("srcx", "src"));
        assert!(!path_under("srcx/a", "src"));
        assert!(!path_under("a", "a/b"));
        assert!(!path_under("b/a", "a"));
        assert!(!path_under("a.b", "a"));
    }

    #[test]
    fn names_are_exact() {
        let scope = only(&["build", "test"]);
        assert!(scope.has_name("build"));
        assert!(!scope.has_name("buil"));
        assert!(!scope.has_name("builder"));
        assert!(Scope::All.has_name("anything"));
        assert!(!Scope::nothing().has_name("build"));
    }

    #[test]
    fn name_scopes_nest_as_sets() {
        let small = only(&["a"]);
        let big = only(&["a", "b"]);
        assert!(small.names_within(&big));
        assert!(!big.names_within(&small));
        assert!(big.names_within(&Scope::All));
        assert!(Scope::All.names_within(&Scope::All));
        assert!(!Scope::All.names_within(&big));
        assert!(Scope::nothing().names_within(&Scope::nothing()));
        assert!(Scope::nothing().names_within(&small));
        assert!(!small.names_within(&Scope::nothing()));
    }

    #[test]
    fn path_scopes_nest_by_prefix() {
        let parent = only(&["src", "docs/api"]);
        assert!(only(&["src/a.rs", "docs/api/x"]).paths_within(&parent));
        assert!(only(&["src"]).paths_within(&parent));
        assert!(Scope::nothing().paths_within(&parent));
        assert!(!only(&["srcx"]).paths_within(&parent));
        assert!(!only(&["docs"]).paths_within(&parent));
        assert!(!only(&["src", "tests"]).paths_within(&parent));
        assert!(!Scope::All.paths_within(&parent));
        assert!(Scope::All.paths_within(&Scope::All));
        assert!(parent.paths_within(&Scope::All));
        assert!(!only(&["a"]).paths_within(&Scope::nothing()));
        assert!(parent.covers_path("docs/api/v1/index.md"));
        assert!(!parent.covers_path("docs/guide.md"));
    }

    #[test]
    fn describes_its_entries() {
        assert_eq!(Scope::All.describe(), "all");
        assert_eq!(only(&["b", "a"]).describe(), "(\"a\", \"b\")");
        assert_eq!(Scope::nothing().describe(), "(none)");
    }
}
