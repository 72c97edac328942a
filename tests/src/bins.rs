//! Where the workspace's binaries are: beside the test executable's `deps` directory.

use std::path::PathBuf;

/// The path of the built binary `name` (`jitosd`, `jitos`) in the same target profile
/// directory as the running test.
///
/// `cargo test` does not build other packages' binaries, so a missing one is reported with
/// the command that builds them.
pub fn bin_path(name: &str) -> PathBuf {
    let exe = std::env::current_exe()
        .unwrap_or_else(|e| panic!("cannot find the running test executable: {e}"));
    // Test executables live in target/<profile>/deps; binaries in target/<profile>.
    let profile_dir = exe
        .parent()
        .filter(|dir| dir.ends_with("deps"))
        .and_then(|deps| deps.parent())
        .or_else(|| exe.parent())
        .unwrap_or_else(|| panic!("{} has no parent directory", exe.display()));
    let path = profile_dir.join(name);
    assert!(
        path.is_file(),
        "{} is missing: run `cargo build --workspace --bins` (with the same profile and \
         CARGO_TARGET_DIR) before `cargo test -p jitos-system-tests`",
        path.display()
    );
    path
}
