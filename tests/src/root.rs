//! Tests that need root, or a program CI installs: CI has both, so there they must run;
//! elsewhere they say they were skipped.

/// Whether this process is root.
pub fn running_as_root() -> bool {
    nix::unistd::Uid::effective().is_root()
}

/// Whether a test that needs root can run here: true as root; otherwise it prints that
/// it skipped (`why`) and returns false, unless `CI` is set, where it fails.
pub fn root_or_skip(why: &str) -> bool {
    present_or_skip(
        running_as_root(),
        &format!("CI runs as root, and this test needs it: {why}"),
    )
}

/// Whether what a test needs (`present`) is here: true if so; otherwise it prints that it
/// skipped (`why`) and returns false, unless `CI` is set, where it fails.
pub fn present_or_skip(present: bool, why: &str) -> bool {
    if present {
        return true;
    }
    assert!(std::env::var_os("CI").is_none(), "{why}");
    eprintln!("skipped: {why}");
    false
}
