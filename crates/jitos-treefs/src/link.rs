//! The one rule for symlinks in a tree: a link must resolve inside the tree's root.

use std::path::{Component, Path};

/// Checks lexically that a link at `link` (relative to the root) pointing at `target`
/// resolves inside the root; `Err` says where it points instead.
pub(crate) fn check_stays_inside(link: &Path, target: &Path) -> Result<(), String> {
    let absolute = || format!("it points at the absolute path {}", target.display());
    if target.is_absolute() {
        return Err(absolute());
    }
    let mut depth: usize = link.components().count().saturating_sub(1);
    for component in target.components() {
        match component {
            Component::ParentDir => {
                depth = depth
                    .checked_sub(1)
                    .ok_or_else(|| format!("it points outside, at {}", target.display()))?;
            }
            Component::Normal(_) => depth += 1,
            Component::CurDir => {}
            Component::RootDir | Component::Prefix(_) => return Err(absolute()),
        }
    }
    Ok(())
}
