//! Searching a directory's files for bytes that must not be stored there.

use std::path::Path;

/// Every file under `dir` whose bytes hold `needle`, but for those under `except`: where
/// a value that must not be stored (a secret) ended up.
pub fn files_holding(dir: &Path, needle: &[u8], except: &Path) -> Vec<String> {
    let mut found = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(dir) = todo.pop() {
        let entries = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()));
        for entry in entries {
            let path = entry
                .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
                .path();
            if path.starts_with(except) {
                continue;
            }
            if path.is_dir() {
                todo.push(path);
            } else if path.is_file()
                && std::fs::read(&path)
                    .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
                    .windows(needle.len())
                    .any(|window| window == needle)
            {
                found.push(path.display().to_string());
            }
        }
    }
    found
}
