//! Reading a policy file: TOML, strict, every problem at its file, line and column.
//!
//! The text is first read into spanned shapes that mirror the file, then checked into
//! typed rules; a check that fails points at the value it is about.

use std::{collections::BTreeMap, fmt, ops::Range, path::Path};

use jitos_tasks::{line_column, SourceError};
use serde::{
    de::{self, value::MapAccessDeserializer, MapAccess, SeqAccess, Visitor},
    Deserialize, Deserializer,
};
use toml::Spanned;

use super::rule::{Condition, Point, Rule, Verdict};
use super::{NAME_BYTES_MAX, POLICY_BYTES_MAX, REQUIRE_MAX, RULES_MAX};
use crate::{Effect, Role};

/// Longest user, worker or path a condition may name: longer cannot be a real one, and a
/// bound keeps each rendered rule a line.
const TEXT_BYTES_MAX: usize = 1024;

/// Longest budget name.
const BUDGET_NAME_BYTES_MAX: usize = 64;

#[derive(Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "a policy: `default` and `[[rule]]` tables"
)]
struct FileText {
    default: Spanned<String>,
    #[serde(default)]
    rule: Vec<Spanned<Table<RuleText>>>,
}

#[derive(Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "a rule: a table with `name`, `decide` and optionally `at` and `when`"
)]
struct RuleText {
    name: Spanned<String>,
    at: Option<Spanned<String>>,
    when: Option<Table<WhenText>>,
    decide: Spanned<DecideText>,
}

#[derive(Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "a table of conditions, such as `{ role = \"operator\" }`"
)]
struct WhenText {
    role: Option<Spanned<OneOrMany>>,
    user: Option<Spanned<OneOrMany>>,
    worker: Option<Spanned<OneOrMany>>,
    effect: Option<Spanned<OneOrMany>>,
    effect_at_least: Option<Spanned<String>>,
    effect_at_most: Option<Spanned<String>>,
    path: Option<Spanned<OneOrMany>>,
    budget_below: Option<Spanned<BTreeMap<Spanned<String>, Spanned<i64>>>>,
    approvals_below: Option<Spanned<i64>>,
    approvals_at_least: Option<Spanned<i64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, expecting = "`{ require = N, from = ROLE }`")]
struct RequireText {
    require: Spanned<i64>,
    from: Spanned<String>,
}

/// A table and nothing else: serde's derived structs also take an array of their fields
/// in order, which would let `when = ["admin"]` mean `role = "admin"`.
struct Table<T>(T);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Table<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct TableVisitor<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for TableVisitor<T> {
            type Value = Table<T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a table")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Table<T>, A::Error> {
                T::deserialize(MapAccessDeserializer::new(map)).map(Table)
            }
        }
        deserializer.deserialize_any(TableVisitor(std::marker::PhantomData))
    }
}

/// `decide`: a word, or a table asking for approvals.
enum DecideText {
    Word(String),
    Require(RequireText),
}

impl<'de> Deserialize<'de> for DecideText {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct DecideVisitor;
        impl<'de> Visitor<'de> for DecideVisitor {
            type Value = DecideText;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("\"allow\", \"deny\" or `{ require = N, from = ROLE }`")
            }
            fn visit_str<E: de::Error>(self, word: &str) -> Result<DecideText, E> {
                Ok(DecideText::Word(word.to_owned()))
            }
            // The table's own fields go back through the TOML deserializer, so their
            // spans and unknown-field errors come out as for any other table.
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<DecideText, A::Error> {
                RequireText::deserialize(MapAccessDeserializer::new(map)).map(DecideText::Require)
            }
        }
        deserializer.deserialize_any(DecideVisitor)
    }
}

/// A condition's value: one string, or a list meaning any of them.
enum OneOrMany {
    One(String),
    Many(Vec<Spanned<String>>),
}

impl<'de> Deserialize<'de> for OneOrMany {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct OneOrManyVisitor;
        impl<'de> Visitor<'de> for OneOrManyVisitor {
            type Value = OneOrMany;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string or a list of strings")
            }
            fn visit_str<E: de::Error>(self, text: &str) -> Result<OneOrMany, E> {
                Ok(OneOrMany::One(text.to_owned()))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<OneOrMany, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element::<Spanned<String>>()? {
                    items.push(item);
                }
                Ok(OneOrMany::Many(items))
            }
        }
        deserializer.deserialize_any(OneOrManyVisitor)
    }
}

/// What the checks need to point at a place in the text.
struct Source<'a> {
    text: &'a str,
    path: &'a Path,
}

impl Source<'_> {
    fn error(&self, span: Range<usize>, message: String) -> SourceError {
        SourceError {
            path: self.path.to_owned(),
            at: Some(line_column(self.text, span.start)),
            message,
        }
    }
}

/// The checked contents of a policy file: its default and its rules.
pub(super) fn parse(text: &str, path: &Path) -> Result<(Verdict, Vec<Rule>), SourceError> {
    // Checked here as well as when reading a file, because a policy can also arrive as
    // text (from a client, for `simulate`).
    if text.len() > POLICY_BYTES_MAX {
        return Err(SourceError {
            path: path.to_owned(),
            at: None,
            message: format!("it is {} bytes; at most {POLICY_BYTES_MAX}", text.len()),
        });
    }
    let file: FileText = toml::from_str(text).map_err(|e| SourceError {
        path: path.to_owned(),
        // A field missing from the top level has no span; the top of the file is where
        // it belongs.
        at: Some(line_column(text, e.span().map_or(0, |span| span.start))),
        message: e.message().to_owned(),
    })?;
    let source = Source { text, path };
    let default = match file.default.get_ref().as_str() {
        "allow" => Verdict::Allow,
        "deny" => Verdict::Deny,
        other => {
            return Err(source.error(
                file.default.span(),
                format!("default must be \"allow\" or \"deny\", not {other:?}"),
            ))
        }
    };
    if let Some(extra) = file.rule.get(RULES_MAX) {
        return Err(source.error(
            extra.span(),
            format!(
                "{} rules; a policy holds at most {RULES_MAX}",
                file.rule.len()
            ),
        ));
    }
    let mut seen: BTreeMap<String, u32> = BTreeMap::new();
    let mut rules = Vec::with_capacity(file.rule.len());
    for (index, text) in (0u32..).zip(file.rule) {
        let name_span = text.get_ref().0.name.span();
        let rule = check_rule(&source, index, text.into_inner().0)?;
        if let Some(first) = seen.insert(rule.name.clone(), index) {
            return Err(source.error(
                name_span,
                format!(
                    "rule {} is named {:?} like rule {}; names must be unique",
                    u64::from(index) + 1,
                    rule.name,
                    u64::from(first) + 1
                ),
            ));
        }
        rules.push(rule);
    }
    Ok((default, rules))
}

fn check_rule(source: &Source<'_>, index: u32, text: RuleText) -> Result<Rule, SourceError> {
    let name = text.name.get_ref();
    if name.trim().is_empty() {
        return Err(source.error(
            text.name.span(),
            "the rule's name is empty; name it for what it is for".to_owned(),
        ));
    }
    if name.len() > NAME_BYTES_MAX {
        return Err(source.error(
            text.name.span(),
            format!(
                "the rule's name is {} bytes; at most {NAME_BYTES_MAX}",
                name.len()
            ),
        ));
    }
    // Names go into one-line explanations in the log.
    if name.chars().any(char::is_control) {
        return Err(source.error(
            text.name.span(),
            "the rule's name holds a control character (a newline, a tab)".to_owned(),
        ));
    }
    let at = match &text.at {
        Some(at) => Some(Point::from_name(at.get_ref()).ok_or_else(|| {
            source.error(
                at.span(),
                format!(
                    "unknown point {:?}; the points are submit, dispatch, gate and collapse (leave `at` out for all)",
                    at.get_ref()
                ),
            )
        })?),
        None => None,
    };
    let when = match text.when {
        Some(Table(when)) => check_when(source, when)?,
        None => Vec::new(),
    };
    let decide = check_decide(source, &text.decide)?;
    Ok(Rule {
        index,
        name: name.clone(),
        at,
        when,
        decide,
    })
}

fn check_decide(source: &Source<'_>, decide: &Spanned<DecideText>) -> Result<Verdict, SourceError> {
    match decide.get_ref() {
        DecideText::Word(word) => match word.as_str() {
            "allow" => Ok(Verdict::Allow),
            "deny" => Ok(Verdict::Deny),
            other => Err(source.error(
                decide.span(),
                format!("decide must be \"allow\", \"deny\" or {{ require = N, from = ROLE }}, not {other:?}"),
            )),
        },
        DecideText::Require(require) => {
            let count = *require.require.get_ref();
            let count = u32::try_from(count)
                .ok()
                .filter(|count| (1..=REQUIRE_MAX).contains(count))
                .ok_or_else(|| {
                    source.error(
                        require.require.span(),
                        format!("require must be 1 to {REQUIRE_MAX} approvals, not {count}"),
                    )
                })?;
            let from = role(source, &require.from)?;
            Ok(Verdict::Require { count, from })
        }
    }
}

fn role(source: &Source<'_>, name: &Spanned<String>) -> Result<Role, SourceError> {
    Role::from_name(name.get_ref()).ok_or_else(|| {
        source.error(
            name.span(),
            format!(
                "unknown role {:?}; the roles are admin, operator, approver and viewer",
                name.get_ref()
            ),
        )
    })
}

fn effect(source: &Source<'_>, name: &Spanned<String>) -> Result<Effect, SourceError> {
    Effect::from_name(name.get_ref()).ok_or_else(|| {
        source.error(
            name.span(),
            format!(
                "unknown effect class {:?}; the classes are none, workspace, local, network and irreversible",
                name.get_ref()
            ),
        )
    })
}

/// The items of a one-or-many value, each with its span, refusing an empty list: a
/// condition on none of anything never holds, which is a mistake, not a policy.
fn items(
    source: &Source<'_>,
    field: &str,
    value: Spanned<OneOrMany>,
) -> Result<Vec<Spanned<String>>, SourceError> {
    let span = value.span();
    match value.into_inner() {
        OneOrMany::One(text) => Ok(vec![Spanned::new(span, text)]),
        OneOrMany::Many(items) if items.is_empty() => Err(source.error(
            span,
            format!("`{field}` lists nothing, so it would never hold; name at least one, or leave it out"),
        )),
        OneOrMany::Many(items) => Ok(items),
    }
}

/// User and worker names: free text, but not empty, not huge, and one line.
fn names(
    source: &Source<'_>,
    field: &str,
    value: Spanned<OneOrMany>,
) -> Result<Vec<String>, SourceError> {
    items(source, field, value)?
        .into_iter()
        .map(|item| {
            let text = item.get_ref();
            if text.is_empty() || text.len() > TEXT_BYTES_MAX || text.chars().any(char::is_control)
            {
                return Err(source.error(
                    item.span(),
                    format!("`{field}` {text:?}: use 1 to {TEXT_BYTES_MAX} bytes with no control characters"),
                ));
            }
            Ok(item.into_inner())
        })
        .collect()
}

/// Tree paths as the scheduler names them: relative, `/`-separated, no empty, `.` or
/// `..` component. The whole tree is no prefix to write: leave `path` out instead.
fn paths(source: &Source<'_>, value: Spanned<OneOrMany>) -> Result<Vec<String>, SourceError> {
    items(source, "path", value)?
        .into_iter()
        .map(|item| {
            let text = item.get_ref();
            let why = if text.is_empty() {
                Some("it is empty (leave `path` out to mean the whole tree)")
            } else if text.len() > TEXT_BYTES_MAX {
                Some("it is too long")
            } else if text.starts_with('/') {
                Some("it is absolute; tree paths are relative to the tree's root")
            } else if text
                .split('/')
                .any(|component| matches!(component, "" | "." | ".."))
            {
                Some("it has an empty, `.` or `..` component")
            } else if text.chars().any(char::is_control) {
                Some("it contains a control character")
            } else {
                None
            };
            match why {
                Some(why) => Err(source.error(item.span(), format!("path {text:?}: {why}"))),
                None => Ok(item.into_inner()),
            }
        })
        .collect()
}

fn count(source: &Source<'_>, field: &str, value: &Spanned<i64>) -> Result<u32, SourceError> {
    u32::try_from(*value.get_ref()).map_err(|_| {
        source.error(
            value.span(),
            format!(
                "`{field}` must be 0 to {}, not {}",
                u32::MAX,
                value.get_ref()
            ),
        )
    })
}

fn check_when(source: &Source<'_>, when: WhenText) -> Result<Vec<Condition>, SourceError> {
    let mut conditions = Vec::new();
    if let Some(value) = when.role {
        let roles = items(source, "role", value)?
            .iter()
            .map(|name| role(source, name))
            .collect::<Result<_, _>>()?;
        conditions.push(Condition::Role(roles));
    }
    if let Some(value) = when.user {
        conditions.push(Condition::User(names(source, "user", value)?));
    }
    if let Some(value) = when.worker {
        conditions.push(Condition::Worker(names(source, "worker", value)?));
    }
    if let Some(value) = when.effect {
        let effects = items(source, "effect", value)?
            .iter()
            .map(|name| effect(source, name))
            .collect::<Result<_, _>>()?;
        conditions.push(Condition::Effect(effects));
    }
    let least = when
        .effect_at_least
        .as_ref()
        .map(|name| effect(source, name))
        .transpose()?;
    let most = when
        .effect_at_most
        .as_ref()
        .map(|name| effect(source, name))
        .transpose()?;
    if let (Some(least), Some(most), Some(at)) = (least, most, &when.effect_at_least) {
        if least > most {
            return Err(source.error(
                at.span(),
                format!("effect_at_least {least} is above effect_at_most {most}, so the rule would never apply"),
            ));
        }
    }
    conditions.extend(least.map(Condition::EffectAtLeast));
    conditions.extend(most.map(Condition::EffectAtMost));
    if let Some(value) = when.path {
        conditions.push(Condition::Path(paths(source, value)?));
    }
    if let Some(budgets) = when.budget_below {
        conditions.push(Condition::BudgetBelow(budget_below(source, budgets)?));
    }
    let below = when
        .approvals_below
        .as_ref()
        .map(|value| count(source, "approvals_below", value))
        .transpose()?;
    let at_least = when
        .approvals_at_least
        .as_ref()
        .map(|value| count(source, "approvals_at_least", value))
        .transpose()?;
    if let (Some(0), Some(value)) = (below, &when.approvals_below) {
        return Err(source.error(
            value.span(),
            "approvals_below = 0 never holds (no count is below 0); leave the rule out".to_owned(),
        ));
    }
    if let (Some(below), Some(at_least), Some(value)) = (below, at_least, &when.approvals_at_least)
    {
        if at_least >= below {
            return Err(source.error(
                value.span(),
                format!(
                    "approvals_at_least {at_least} and approvals_below {below} never hold together"
                ),
            ));
        }
    }
    conditions.extend(below.map(Condition::ApprovalsBelow));
    conditions.extend(at_least.map(Condition::ApprovalsAtLeast));
    Ok(conditions)
}

fn budget_below(
    source: &Source<'_>,
    budgets: Spanned<BTreeMap<Spanned<String>, Spanned<i64>>>,
) -> Result<BTreeMap<String, u64>, SourceError> {
    if budgets.get_ref().is_empty() {
        return Err(source.error(
            budgets.span(),
            "`budget_below` names no budget, so it would never hold; name one, as `{ jobs = 3 }`"
                .to_owned(),
        ));
    }
    let mut below = BTreeMap::new();
    for (name, amount) in budgets.into_inner() {
        let text = name.get_ref();
        let well_named = !text.is_empty()
            && text.len() <= BUDGET_NAME_BYTES_MAX
            && text
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
        if !well_named {
            return Err(source.error(
                name.span(),
                format!("budget name {text:?}: use 1 to {BUDGET_NAME_BYTES_MAX} letters, digits, `_`, `-` or `.`"),
            ));
        }
        let value = *amount.get_ref();
        let value = u64::try_from(value)
            .ok()
            .filter(|value| *value > 0)
            .ok_or_else(|| {
                source.error(
                    amount.span(),
                    format!("budget_below {text} must be above 0 (nothing is left below 0), not {value}"),
                )
            })?;
        below.insert(name.into_inner(), value);
    }
    Ok(below)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn parse_error(text: &str) -> String {
        match parse(text, Path::new("policy.toml")) {
            Ok(_) => format!("parsed: {text:?}"),
            Err(error) => error.to_string(),
        }
    }

    /// A policy of one rule whose body (after its name) is `body`, so each case below
    /// has its problem on line 4.
    fn one_rule(body: &str) -> String {
        format!("default = \"deny\"\n[[rule]]\nname = \"r\"\n{body}\n")
    }

    #[test]
    fn problems_name_their_line_and_column() {
        let cases: Vec<(String, &str)> = vec![
            (
                one_rule("decide = \"allow\"\ncolour = \"red\""),
                "policy.toml:5:1: unknown field `colour`",
            ),
            (
                one_rule("when = { colour = \"red\" }\ndecide = \"allow\""),
                "policy.toml:4:10: unknown field `colour`",
            ),
            (
                one_rule("decide = { require = 2, from = \"approver\", of = 3 }"),
                "policy.toml:4:44: unknown field `of`",
            ),
            (
                "[[rule]]\nname = \"r\"\ndecide = \"allow\"\n".to_owned(),
                "policy.toml:1:1: missing field `default`",
            ),
            (
                "default = \"perhaps\"\n".to_owned(),
                "policy.toml:1:11: default must be \"allow\" or \"deny\", not \"perhaps\"",
            ),
            (
                one_rule("at = \"submit\""),
                "policy.toml:2:1: missing field `decide`",
            ),
            (
                one_rule("decide = { require = 2 }"),
                "policy.toml:4:10: missing field `from`",
            ),
            (
                one_rule("when = { role = \"root\" }\ndecide = \"deny\""),
                "policy.toml:4:17: unknown role \"root\"",
            ),
            (
                one_rule("when = { role = [\"admin\", \"oprator\"] }\ndecide = \"deny\""),
                "policy.toml:4:27: unknown role \"oprator\"",
            ),
            (
                one_rule("decide = { require = 1, from = \"boss\" }"),
                "policy.toml:4:32: unknown role \"boss\"",
            ),
            (
                one_rule("when = { effect = [\"local\", \"global\"] }\ndecide = \"deny\""),
                "policy.toml:4:29: unknown effect class \"global\"",
            ),
            (
                one_rule("when = { effect_at_least = \"huge\" }\ndecide = \"deny\""),
                "policy.toml:4:28: unknown effect class \"huge\"",
            ),
            (
                one_rule("when = { effect_at_most = \"tiny\" }\ndecide = \"deny\""),
                "policy.toml:4:27: unknown effect class \"tiny\"",
            ),
            (
                one_rule("decide = { require = 0, from = \"approver\" }"),
                "policy.toml:4:22: require must be 1 to 16 approvals, not 0",
            ),
            (
                one_rule("decide = { require = 17, from = \"approver\" }"),
                "policy.toml:4:22: require must be 1 to 16 approvals, not 17",
            ),
            (
                one_rule("decide = { require = -1, from = \"approver\" }"),
                "policy.toml:4:22: require must be 1 to 16 approvals, not -1",
            ),
            (
                one_rule("decide = \"maybe\""),
                "policy.toml:4:10: decide must be \"allow\", \"deny\"",
            ),
            (
                one_rule("decide = 3"),
                "policy.toml:4:10: invalid type: integer `3`",
            ),
            (
                one_rule("at = \"merge\"\ndecide = \"deny\""),
                "policy.toml:4:6: unknown point \"merge\"",
            ),
            (
                "default = \"deny\"\n[[rule]]\nname = \"same\"\ndecide = \"allow\"\n[[rule]]\nname = \"same\"\ndecide = \"deny\"\n".to_owned(),
                "policy.toml:6:8: rule 2 is named \"same\" like rule 1; names must be unique",
            ),
            (
                "default = \"deny\"\n[[rule]]\nname = \"\"\ndecide = \"allow\"\n".to_owned(),
                "policy.toml:3:8: the rule's name is empty",
            ),
            (
                format!("default = \"deny\"\n[[rule]]\nname = \"{}\"\ndecide = \"allow\"\n", "n".repeat(NAME_BYTES_MAX + 1)),
                "policy.toml:3:8: the rule's name is 129 bytes; at most 128",
            ),
            (
                "default = \"deny\"\n[[rule]]\nname = \"two\\nlines\"\ndecide = \"allow\"\n".to_owned(),
                "policy.toml:3:8: the rule's name holds a control character",
            ),
            // Serde would take an array for a struct, field by field; a policy may not.
            (
                one_rule("when = [\"admin\"]\ndecide = \"deny\""),
                "policy.toml:4:8: invalid type: sequence, expected a table",
            ),
            (
                one_rule("when = { user = [] }\ndecide = \"deny\""),
                "policy.toml:4:17: `user` lists nothing",
            ),
            (
                one_rule("when = { worker = 7 }\ndecide = \"deny\""),
                "policy.toml:4:19: invalid type: integer `7`, expected a string or a list of strings",
            ),
            (
                one_rule("when = { path = \"/etc\" }\ndecide = \"deny\""),
                "policy.toml:4:17: path \"/etc\": it is absolute",
            ),
            (
                one_rule("when = { path = [\"src\", \"src/../etc\"] }\ndecide = \"deny\""),
                "policy.toml:4:25: path \"src/../etc\": it has an empty, `.` or `..` component",
            ),
            (
                one_rule("when = { path = \"\" }\ndecide = \"deny\""),
                "policy.toml:4:17: path \"\": it is empty",
            ),
            (
                one_rule("when = { budget_below = { jobs = 0 } }\ndecide = \"deny\""),
                "policy.toml:4:34: budget_below jobs must be above 0",
            ),
            (
                one_rule("when = { budget_below = { \"Big Tokens\" = 5 } }\ndecide = \"deny\""),
                "policy.toml:4:27: budget name \"Big Tokens\"",
            ),
            (
                one_rule("when = { budget_below = {} }\ndecide = \"deny\""),
                "policy.toml:4:25: `budget_below` names no budget",
            ),
            (
                one_rule("when = { approvals_below = 0 }\ndecide = \"deny\""),
                "policy.toml:4:28: approvals_below = 0 never holds",
            ),
            (
                one_rule("when = { approvals_at_least = -2 }\ndecide = \"deny\""),
                "policy.toml:4:31: `approvals_at_least` must be 0 to 4294967295, not -2",
            ),
            (
                one_rule("when = { approvals_below = 2, approvals_at_least = 2 }\ndecide = \"deny\""),
                "policy.toml:4:52: approvals_at_least 2 and approvals_below 2 never hold together",
            ),
            (
                one_rule("when = { effect_at_least = \"network\", effect_at_most = \"local\" }\ndecide = \"deny\""),
                "policy.toml:4:28: effect_at_least network is above effect_at_most local",
            ),
        ];
        let wrong: Vec<String> = cases
            .iter()
            .filter_map(|(text, wanted)| {
                let error = parse_error(text);
                (!error.contains(wanted))
                    .then(|| format!("{text:?}\n gave {error:?}\n want {wanted:?}"))
            })
            .collect();
        assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    }

    #[test]
    fn a_full_rule_parses_into_its_typed_parts_and_shows_as_one_line() {
        let text = r#"
default = "deny"

[[rule]]
name = "irreversible effects need two approvers"
at = "dispatch"
when = { effect_at_least = "irreversible" }
decide = { require = 2, from = "approver" }

[[rule]]
name = "everything at once"
at = "gate"
decide = "allow"
[rule.when]
role = ["operator", "admin"]
user = "alice"
worker = ["shell", "noop"]
effect = ["local", "network"]
effect_at_least = "workspace"
effect_at_most = "network"
path = ["src", "docs/api"]
budget_below = { tokens = 1000, jobs = 3 }
approvals_below = 3
approvals_at_least = 1

[[rule]]
name = "viewers run nothing"
when = { role = "viewer" }
decide = "deny"
"#;
        let (default, rules) = parse(text, Path::new("p.toml")).unwrap();
        assert_eq!(default, Verdict::Deny);
        assert_eq!(rules.len(), 3);
        assert_eq!(
            rules[1],
            Rule {
                index: 1,
                name: "everything at once".into(),
                at: Some(Point::Gate),
                when: vec![
                    Condition::Role(vec![Role::Operator, Role::Admin]),
                    Condition::User(vec!["alice".into()]),
                    Condition::Worker(vec!["shell".into(), "noop".into()]),
                    Condition::Effect(vec![Effect::Local, Effect::Network]),
                    Condition::EffectAtLeast(Effect::Workspace),
                    Condition::EffectAtMost(Effect::Network),
                    Condition::Path(vec!["src".into(), "docs/api".into()]),
                    Condition::BudgetBelow(
                        [("jobs".to_owned(), 3), ("tokens".to_owned(), 1000)].into()
                    ),
                    Condition::ApprovalsBelow(3),
                    Condition::ApprovalsAtLeast(1),
                ],
                decide: Verdict::Allow,
            }
        );
        let shown: Vec<String> = rules.iter().map(ToString::to_string).collect();
        assert_eq!(
            shown,
            [
                "rule 1 \"irreversible effects need two approvers\": at dispatch, when effect at least irreversible: require 2 approvals from approver",
                "rule 2 \"everything at once\": at gate, when role is operator or admin and user is \"alice\" and worker is \"shell\" or \"noop\" and effect is local or network and effect at least workspace and effect at most network and path under \"src\" or \"docs/api\" and budget jobs below 3 or tokens below 1000 and approvals below 3 and approvals at least 1: allow",
                "rule 3 \"viewers run nothing\": at every point, when role is viewer: deny",
            ]
        );
    }

    #[test]
    fn a_rule_with_no_when_always_applies_and_says_so() {
        let (_, rules) = parse(
            "default = \"allow\"\n[[rule]]\nname = \"stop\"\ndecide = { require = 1, from = \"admin\" }\n",
            Path::new("p.toml"),
        )
        .unwrap();
        assert!(rules[0].when.is_empty());
        assert_eq!(
            rules[0].to_string(),
            "rule 1 \"stop\": at every point, always: require 1 approval from admin"
        );
    }

    #[test]
    fn size_and_rule_count_are_bounded() {
        let big = format!("default = \"deny\"\n#{}\n", "x".repeat(POLICY_BYTES_MAX));
        let error = parse(&big, Path::new("p.toml")).unwrap_err();
        assert_eq!(error.at, None);
        assert!(error.message.contains("at most 65536"), "{error}");

        let rule = |i: usize| format!("[[rule]]\nname = \"r{i}\"\ndecide = \"allow\"\n");
        let most: String = (0..RULES_MAX).map(rule).collect();
        let (_, rules) =
            parse(&format!("default = \"deny\"\n{most}"), Path::new("p.toml")).unwrap();
        assert_eq!(rules.len(), RULES_MAX);
        let too_many: String = (0..=RULES_MAX).map(rule).collect();
        let error = parse_error(&format!("default = \"deny\"\n{too_many}"));
        // Rule 257 starts on line 2 + 256 * 3.
        assert!(
            error.contains("policy.toml:770:1: 257 rules; a policy holds at most 256"),
            "{error}"
        );
    }
}
