//! Path scopes: whether a tree path lies within a set of path prefixes, by whole
//! components, as jobs' `paths` are checked.

/// Whether `path` is one of `prefixes` or under one (whole components: `src` covers
/// `src/lib.rs`, not `srcs`); `.` covers everything, and no prefixes means anywhere.
pub fn within_prefixes(path: &str, prefixes: &[String]) -> bool {
    prefixes.is_empty()
        || prefixes.iter().any(|prefix| {
            prefix == "."
                || path == prefix
                || path
                    .strip_prefix(prefix.as_str())
                    .is_some_and(|rest| rest.starts_with('/'))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_match_whole_components() {
        let prefixes = vec!["src".to_owned()];
        assert!(within_prefixes("src", &prefixes));
        assert!(within_prefixes("src/lib.rs", &prefixes));
        assert!(!within_prefixes("srcs/lib.rs", &prefixes));
        assert!(!within_prefixes(".", &prefixes));
        assert!(within_prefixes("anything", &[]));
        assert!(within_prefixes("a/b", &[".".to_owned()]));
    }
}
