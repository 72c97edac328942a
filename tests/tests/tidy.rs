//! Tidiness of the whole repository: every Rust file opens with a `//!` line saying what
//! it is for.

use std::path::{Path, PathBuf};

/// Directories never walked: build output and version control.
const SKIPPED_DIRS: [&str; 2] = ["target", ".git"];

fn workspace_root() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest
        .parent()
        .unwrap_or_else(|| panic!("{} has no parent", manifest.display()))
        .to_path_buf()
}

fn rust_files(dir: &Path, found: &mut Vec<PathBuf>) {
    let entries =
        std::fs::read_dir(dir).unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()));
    for entry in entries {
        let entry = entry.unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()));
        let path = entry.path();
        let file_type = entry
            .file_type()
            .unwrap_or_else(|e| panic!("cannot stat {}: {e}", path.display()));
        if file_type.is_dir() {
            if !SKIPPED_DIRS.iter().any(|skip| entry.file_name() == *skip) {
                rust_files(&path, found);
            }
        } else if file_type.is_file() && path.extension().is_some_and(|ext| ext == "rs") {
            found.push(path);
        }
    }
}

// Goal: no Rust file in the repository lacks its opening `//!` line. Method: walk the
// workspace (skipping build output and .git) and list every .rs file whose first line
// does not start with `//!`.
#[test]
fn every_rust_file_opens_with_a_module_doc_line() {
    let root = workspace_root();
    let mut files = Vec::new();
    rust_files(&root, &mut files);
    files.sort();
    assert!(
        files
            .iter()
            .any(|file| file.ends_with("tests/tests/tidy.rs")),
        "the walk from {} did not find this file; it is looking in the wrong place",
        root.display()
    );
    let offenders: Vec<String> = files
        .iter()
        .filter(|file| {
            let text = std::fs::read_to_string(file)
                .unwrap_or_else(|e| panic!("cannot read {}: {e}", file.display()));
            !text
                .lines()
                .next()
                .is_some_and(|line| line.starts_with("//!"))
        })
        .map(|file| {
            file.strip_prefix(&root)
                .unwrap_or(file)
                .display()
                .to_string()
        })
        .collect();
    assert!(
        offenders.is_empty(),
        "{} .rs file(s) do not start with a `//!` line saying what they are for:\n  {}",
        offenders.len(),
        offenders.join("\n  ")
    );
}
