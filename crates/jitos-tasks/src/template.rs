//! Parameter templates: `{name}` in an argument, a question or a value is replaced by the
//! parameter's value; `{{` and `}}` stand for literal braces.

use std::collections::BTreeMap;

/// One piece of a parsed template.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece<'a> {
    Text(&'a str),
    Brace(char),
    Param(&'a str),
}

/// The parameter names `template` uses, or why it is malformed (an unclosed `{`, a lone
/// `}`, an empty `{}`).
pub fn params_of(template: &str) -> Result<Vec<&str>, String> {
    Ok(pieces(template)?
        .into_iter()
        .filter_map(|piece| match piece {
            Piece::Param(name) => Some(name),
            _ => None,
        })
        .collect())
}

/// `template` with every `{name}` replaced from `values`; a name without a value is an
/// error (the library check makes that impossible for loaded libraries).
pub fn render(template: &str, values: &BTreeMap<String, String>) -> Result<String, String> {
    let mut out = String::with_capacity(template.len());
    for piece in pieces(template)? {
        match piece {
            Piece::Text(text) => out.push_str(text),
            Piece::Brace(brace) => out.push(brace),
            Piece::Param(name) => out.push_str(
                values
                    .get(name)
                    .ok_or_else(|| format!("no value for parameter {{{name}}}"))?,
            ),
        }
    }
    Ok(out)
}

fn pieces(template: &str) -> Result<Vec<Piece<'_>>, String> {
    let mut pieces = Vec::new();
    let mut rest = template;
    while let Some(at) = rest.find(['{', '}']) {
        if at > 0 {
            pieces.push(Piece::Text(&rest[..at]));
        }
        let tail = &rest[at..];
        if let Some(after) = tail.strip_prefix("{{") {
            pieces.push(Piece::Brace('{'));
            rest = after;
        } else if let Some(after) = tail.strip_prefix("}}") {
            pieces.push(Piece::Brace('}'));
            rest = after;
        } else if tail.starts_with('}') {
            return Err(format!(
                "`}}` without `{{` in {template:?}; write `}}}}` for a brace"
            ));
        } else {
            let close = tail.find('}').ok_or_else(|| {
                format!("`{{` is not closed in {template:?}; write `{{{{` for a brace")
            })?;
            let name = &tail[1..close];
            if name.is_empty() {
                return Err(format!("`{{}}` names no parameter in {template:?}"));
            }
            pieces.push(Piece::Param(name));
            rest = &tail[close + 1..];
        }
    }
    if !rest.is_empty() {
        pieces.push(Piece::Text(rest));
    }
    Ok(pieces)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_params_and_escaped_braces() {
        let values = BTreeMap::from([("a".to_owned(), "1".to_owned())]);
        assert_eq!(render("x{a}y{{z}}", &values).as_deref(), Ok("x1y{z}"));
        assert_eq!(params_of("{a} and {b}"), Ok(vec!["a", "b"]));
        assert!(render("{missing}", &values).is_err());
        for bad in ["{a", "a}", "{}"] {
            assert!(params_of(bad).is_err(), "{bad} was accepted");
        }
    }
}
