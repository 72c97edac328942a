//! Tests that need root: CI runs as root, so there they must run; elsewhere they say
//! they were skipped.

/// Whether this process is root.
pub fn running_as_root() -> bool {
    nix::unistd::Uid::effective().is_root()
}

/// Whether a test that needs root can run here: true as root; otherwise it prints that
/// it skipped (`why`) and returns false, unless `CI` is set, where it fails.
pub fn root_or_skip(why: &str) -> bool {
    if running_as_root() {
        return true;
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "CI runs as root, and this test needs it: {why}"
    );
    eprintln!("skipped: {why}");
    false
}
