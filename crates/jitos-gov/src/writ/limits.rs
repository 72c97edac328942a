//! The named limits on every variable-sized part of a writ, and the rules its names and
//! paths follow.
//!
//! A writ travels in the ledger and is signed, so every part is bounded: a writ that
//! passes `Writ::check` always encodes within [`WRIT_BYTES_MAX`], and `from_signing_bytes`
//! refuses anything larger before decoding.

/// Most bytes in a user name (a writ's subject or issuer).
pub const USER_BYTES_MAX: usize = 256;
/// Most bytes in a worker, counter or secret name.
pub const NAME_BYTES_MAX: usize = 64;
/// Most workers a writ may name.
pub const WORKERS_MAX: usize = 64;
/// Most path prefixes a writ may name.
pub const PATHS_MAX: usize = 256;
/// Most bytes in one path prefix.
pub const PATH_BYTES_MAX: usize = 4096;
/// Most counters a budget may bound.
pub const COUNTERS_MAX: usize = 32;
/// Most secrets a writ may name.
pub const SECRETS_MAX: usize = 32;
/// Most egress entries a writ may name.
pub const EGRESS_MAX: usize = 64;
/// Most further delegations a writ may allow below it.
pub const DEPTH_MAX: u32 = 8;
/// Most bytes in a writ's signing bytes. The other limits allow far larger writs in
/// principle (256 paths of 4096 bytes), so `Writ::check` enforces this one as well.
pub const WRIT_BYTES_MAX: usize = 64 * 1024;

/// What is wrong with `name` as a worker, counter or secret name, if anything.
///
/// `.` and `..` are refused although their bytes are allowed: a name may end up as a file
/// name (a worker's directory, a secret's file), where they would mean another directory.
pub(crate) fn name_problem(name: &str) -> Option<String> {
    if name.is_empty() {
        return Some("it is empty".to_owned());
    }
    if name.len() > NAME_BYTES_MAX {
        return Some(format!(
            "it is {} bytes, over the {NAME_BYTES_MAX} allowed",
            name.len()
        ));
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')))
    {
        return Some(format!(
            "it holds {c:?}; only ASCII letters, digits, '_', '.' and '-' are allowed"
        ));
    }
    if name == "." || name == ".." {
        return Some("'.' and '..' name directories, not things; choose another name".to_owned());
    }
    None
}

/// What is wrong with `path` as a path prefix of the tree, if anything.
pub(crate) fn path_problem(path: &str) -> Option<String> {
    if path.is_empty() {
        return Some(
            "it is empty; a scope of the whole tree is `all`, not an empty path".to_owned(),
        );
    }
    if path.len() > PATH_BYTES_MAX {
        return Some(format!(
            "it is {} bytes, over the {PATH_BYTES_MAX} allowed",
            path.len()
        ));
    }
    if path.contains('\0') {
        return Some("it holds a NUL byte, which no file name may".to_owned());
    }
    if path.starts_with('/') {
        return Some("it begins with '/'; paths are relative to the tree's root".to_owned());
    }
    if path.ends_with('/') {
        return Some("it ends with '/'; write it without the trailing '/'".to_owned());
    }
    for component in path.split('/') {
        match component {
            "" => return Some("it has an empty component (two '/' in a row)".to_owned()),
            "." => return Some("it has a '.' component; write it without".to_owned()),
            ".." => {
                return Some(
                    "it has a '..' component, which would reach outside the prefix".to_owned(),
                )
            }
            _ => {}
        }
    }
    None
}

/// `text` cut to a length fit for a message, on a character boundary.
pub(crate) fn shown(text: &str) -> String {
    const SHOWN_BYTES_MAX: usize = 96;
    if text.len() <= SHOWN_BYTES_MAX {
        return format!("{text:?}");
    }
    let mut end = SHOWN_BYTES_MAX;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{:?}… ({} bytes)", &text[..end], text.len())
}

/// Up to a few of `items` for a message, and how many more there are.
pub(crate) fn listed<'a>(items: impl ExactSizeIterator<Item = &'a String>) -> String {
    const LISTED_MAX: usize = 8;
    let total = items.len();
    if total == 0 {
        return "none".to_owned();
    }
    let mut text: Vec<String> = items.take(LISTED_MAX).map(|item| shown(item)).collect();
    if total > LISTED_MAX {
        text.push(format!("and {} more", total - LISTED_MAX));
    }
    text.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_rules() {
        for good in ["a", "tokens", "cost_millicents", "x.y-z_0", &"n".repeat(64)] {
            assert_eq!(name_problem(good), None, "{good}");
        }
        for bad in ["", "a b", "é", "a/b", ".", "..", "a\0", &"n".repeat(65)] {
            assert!(name_problem(bad).is_some(), "{bad:?}");
        }
    }

    #[test]
    fn paths_follow_the_rules() {
        for good in [
            "a",
            "src/a.rs",
            "a/b/c",
            ".hidden",
            "a/..b",
            &"p".repeat(4096),
        ] {
            assert_eq!(path_problem(good), None, "{good}");
        }
        for bad in [
            "",
            "/",
            "/a",
            "a/",
            "a//b",
            ".",
            "./a",
            "a/.",
            "..",
            "a/../b",
            "a\0b",
            &"p".repeat(4097),
        ] {
            assert!(path_problem(bad).is_some(), "{bad:?}");
        }
    }

    #[test]
    fn long_text_is_cut_on_a_character_boundary() {
        let long = "é".repeat(100);
        let text = shown(&long);
        assert!(text.ends_with("… (200 bytes)"), "{text}");
        assert_eq!(shown("ab"), "\"ab\"");
        let many: Vec<String> = (0..10).map(|i| i.to_string()).collect();
        assert_eq!(
            listed(many.iter()),
            "\"0\", \"1\", \"2\", \"3\", \"4\", \"5\", \"6\", \"7\", and 2 more"
        );
        assert_eq!(listed([].iter()), "none");
    }
}
